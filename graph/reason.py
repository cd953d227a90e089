"""Reasoning: a fast materialisation of the inferences queries rely on, and a full OWL 2 DL
consistency check with HermiT.

The materialisation reads its rules from the ontology (class and property hierarchy,
equivalences, inverses, symmetric and transitive properties, property chains) and writes
what follows into one named graph, so inferred triples are never mistaken for curated
ones. It runs semi-naively (each round only from what the round before found), and an
incremental build updates it with DRed (delete what may have lost its support, rederive
what still follows, add what the new triples entail). HermiT is run separately
(rivalry.graph.consistency) to prove the whole is consistent.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from rivalry.graph import INFERRED_GRAPH, ONTOLOGY_GRAPH, Term, construct, term_value
from rivalry.graph.consistency import (  # noqa: F401 - re-exported
    HERMIT_DATATYPE_REWRITES,
    ConsistencyReport,
    hermit_input,
    transitive_closure,
)
from rivalry.graph.errors import InvalidOntology, ReasonerUnavailable

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDF_FIRST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#first"
RDF_REST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest"
RDF_NIL = "http://www.w3.org/1999/02/22-rdf-syntax-ns#nil"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"

# ---------------------------------------------------------------------------------------
# Materialisation
# ---------------------------------------------------------------------------------------


@dataclass
class Rules:
    """The entailment rules an ontology gives, in closed form where that is cheap."""

    superclasses: dict[str, set[str]] = field(default_factory=dict)
    superproperties: dict[str, set[str]] = field(default_factory=dict)
    inverses: set[tuple[str, str]] = field(default_factory=set)
    transitive: set[str] = field(default_factory=set)
    chains: list[tuple[str, list[str]]] = field(default_factory=list)

    def __len__(self) -> int:
        return (sum(len(v) for v in self.superclasses.values())
                + sum(len(v) for v in self.superproperties.values())
                + len(self.inverses) + len(self.transitive) + len(self.chains))


def _closure(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The hierarchy in closed form, without the nodes that reach nothing."""
    return {node: above for node, above in transitive_closure(edges).items() if above}


def _rdf_list(store: ox.Store, head: Term, graph: ox.NamedNode) -> list[str]:
    items = []
    while not (isinstance(head, ox.NamedNode) and head.value == RDF_NIL):
        if isinstance(head, ox.Literal):
            raise InvalidOntology(f"an RDF list of the ontology goes on with a literal, {head}")
        first = next(store.quads_for_pattern(head, ox.NamedNode(RDF_FIRST), None, graph), None)
        rest = next(store.quads_for_pattern(head, ox.NamedNode(RDF_REST), None, graph), None)
        if first is None or rest is None:
            break
        items.append(term_value(first.object))
        head = rest.object
    return items


def rules_from_ontology(store: ox.Store, graph: str = ONTOLOGY_GRAPH) -> Rules:
    """Read the entailment rules from the ontology graph of `store`."""
    g = ox.NamedNode(graph)

    def pairs(predicate: str) -> list[tuple[Term, Term]]:
        return [(q.subject, q.object)
                for q in store.quads_for_pattern(None, ox.NamedNode(predicate), None, g)]

    def named(pairs_: Iterable[tuple[Term, Term]]) -> list[tuple[str, str]]:
        return [(a.value, b.value) for a, b in pairs_
                if isinstance(a, ox.NamedNode) and isinstance(b, ox.NamedNode)]

    sub_class: dict[str, set[str]] = defaultdict(set)
    for a, b in named(pairs(RDFS + "subClassOf")):
        sub_class[a].add(b)
    for a, b in named(pairs(OWL + "equivalentClass")):
        sub_class[a].add(b)
        sub_class[b].add(a)
    sub_prop: dict[str, set[str]] = defaultdict(set)
    for a, b in named(pairs(RDFS + "subPropertyOf")):
        sub_prop[a].add(b)
    for a, b in named(pairs(OWL + "equivalentProperty")):
        sub_prop[a].add(b)
        sub_prop[b].add(a)
    inverses = set()
    for a, b in named(pairs(OWL + "inverseOf")):
        inverses.add((a, b))
        inverses.add((b, a))
    typed = pairs(RDF_TYPE)
    for prop, kind in typed:
        if isinstance(kind, ox.NamedNode) and kind.value == OWL + "SymmetricProperty":
            inverses.add((term_value(prop), term_value(prop)))
    transitive = {term_value(p) for p, k in typed
                  if isinstance(k, ox.NamedNode) and k.value == OWL + "TransitiveProperty"}
    chains = [(prop.value, _rdf_list(store, head, g))
              for prop, head in pairs(OWL + "propertyChainAxiom")
              if isinstance(prop, ox.NamedNode)]
    return Rules(
        superclasses=_closure(sub_class),
        superproperties=_closure(sub_prop),
        inverses=inverses,
        transitive=transitive,
        chains=[(p, chain) for p, chain in chains if chain],
    )


def _values(pairs: Iterable[tuple[str, str]]) -> str:
    return " ".join(f"(<{a}> <{b}>)" for a, b in sorted(pairs))


@dataclass(frozen=True)
class Rule:
    """One entailment rule as a Datalog clause over triple patterns: `head` follows from
    `body`, for the bindings `values` allows and `filters` keeps."""

    head: tuple[str, str, str]
    body: tuple[tuple[str, str, str], ...]
    values: str = ""
    filters: str = ""
    #: The predicates its premises match and its conclusions have (None: any).
    reads: frozenset[str] | None = None
    writes: frozenset[str] | None = None
    #: Whether applying it to its own conclusions can give nothing new (a closed
    #: hierarchy, or inverses: the inverse of an inverse is the premise itself).
    closed: bool = False

    def pattern(self, triple: tuple[str, str, str]) -> str:
        return " ".join(triple)


def datalog(rules: Rules) -> list[Rule]:
    """The rules as clauses, one per rule kind (the hierarchies in closed form)."""
    out = []
    class_pairs = [(c, s) for c, sups in rules.superclasses.items() for s in sups]
    if class_pairs:
        out.append(Rule(("?x", "a", "?sup"), (("?x", "a", "?sub"),),
                        "VALUES (?sub ?sup) { " + _values(class_pairs) + " }",
                        reads=frozenset({RDF_TYPE}), writes=frozenset({RDF_TYPE}),
                        closed=True))
    prop_pairs = [(p, s) for p, sups in rules.superproperties.items() for s in sups]
    if prop_pairs:
        out.append(Rule(("?x", "?sup", "?y"), (("?x", "?sub", "?y"),),
                        "VALUES (?sub ?sup) { " + _values(prop_pairs) + " }",
                        reads=frozenset(a for a, _ in prop_pairs),
                        writes=frozenset(b for _, b in prop_pairs), closed=True))
    if rules.inverses:
        out.append(Rule(("?y", "?q", "?x"), (("?x", "?p", "?y"),),
                        "VALUES (?p ?q) { " + _values(rules.inverses) + " }",
                        "FILTER(!isLiteral(?y))",
                        reads=frozenset(a for a, _ in rules.inverses),
                        writes=frozenset(b for _, b in rules.inverses), closed=True))
    for prop in sorted(rules.transitive):
        out.append(Rule(("?x", f"<{prop}>", "?z"), (("?x", f"<{prop}>", "?y"),
                                                    ("?y", f"<{prop}>", "?z")),
                        filters="FILTER(?x != ?z)", reads=frozenset({prop}),
                        writes=frozenset({prop})))
    for prop, chain in rules.chains:
        body = tuple((f"?v{i}", f"<{p}>", f"?v{i + 1}") for i, p in enumerate(chain))
        out.append(Rule(("?v0", f"<{prop}>", f"?v{len(chain)}"), body,
                        reads=frozenset(chain), writes=frozenset({prop})))
    return out


def needed_after_first_round(clauses: list[Rule]) -> list[Rule]:
    """The clauses that can conclude something new from what the clauses concluded:
    one is left out when only itself can feed it and it is closed (the class hierarchy,
    applied to types it gave, gives nothing new)."""
    def meets(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
        return a is None or b is None or bool(a & b)

    return [c for c in clauses
            if any(meets(d.writes, c.reads) for d in clauses if d is not c)
            or (not c.closed and meets(c.writes, c.reads))]


#: Temporary graphs of a materialisation: the triples found in the last round.
DELTA_GRAPHS = (ox.NamedNode("urn:rivalry:inference:delta-1"),
                ox.NamedNode("urn:rivalry:inference:delta-2"))


def rule_query(rule: Rule, delta: ox.NamedNode | None = None, at: int = 0,
               absent_from: tuple[ox.NamedNode, ...] = ()) -> str:
    """A CONSTRUCT of the rule's new conclusions: those not in any graph. With `delta`,
    the body's atom `at` must match a triple of that graph (semi-naive evaluation).
    `absent_from` names graphs whose triples do not count as present."""
    atoms: list[str] = []
    for i, atom in enumerate(rule.body):
        if delta is not None and i == at:
            atoms.insert(0, f"GRAPH <{delta.value}> {{ {rule.pattern(atom)} }}")
        else:
            atoms.append(rule.pattern(atom) + " .")
    head = rule.pattern(rule.head)
    if absent_from:
        skip = ", ".join(f"<{g.value}>" for g in absent_from)
        absent = (f"FILTER NOT EXISTS {{ GRAPH ?present {{ {head} }} "
                  f"FILTER(?present NOT IN ({skip})) }}")
    else:
        absent = f"FILTER NOT EXISTS {{ {head} }}"
    first = atoms[:1] if delta is not None else []
    rest = atoms[1:] if delta is not None else atoms
    return (f"CONSTRUCT {{ {head} }} WHERE {{ {' '.join(first)} {rule.values} "
            f"{' '.join(rest)} {rule.filters} {absent} }}")


def derive(store: ox.Store, clauses: list[Rule], delta: ox.NamedNode | None = None
           ) -> set[ox.Triple]:
    """The conclusions of every clause not yet in the store (from the delta graph only,
    when given: each clause once per body atom)."""
    found: set[ox.Triple] = set()
    for rule in clauses:
        positions = range(len(rule.body)) if delta is not None else [0]
        for at in positions:
            found.update(construct(store, rule_query(rule, delta, at),
                                   use_default_graph_as_union=True))
    return found


def derive_into(store: ox.Store, clauses: list[Rule], graphs: list[ox.NamedNode],
                on_disk: bool) -> int:
    """Every clause's conclusions not yet in the store, added to `graphs` as soon as each
    clause has found them (no more than one clause's are held at once; later clauses
    see them, which only brings conclusions forward). Returns how many."""
    added = 0
    for rule in clauses:
        if not on_disk:  # all in the store's engine: no Python object per conclusion
            before = len(store)
            store.update(rule_update(rule, graphs))
            added += (len(store) - before) // len(graphs)
            continue
        new = set(construct(store, rule_query(rule), use_default_graph_as_union=True))
        for graph in graphs:
            add_quads(store, (ox.Quad(t.subject, t.predicate, t.object, graph) for t in new),
                      on_disk)
        added += len(new)
    return added


def rule_update(rule: Rule, graphs: list[ox.NamedNode]) -> str:
    """An INSERT of the rule's new conclusions into `graphs` (an update reads the store's
    named graphs explicitly: its default graph is not their union)."""
    head = rule.pattern(rule.head)
    atoms = " ".join(f"GRAPH ?g{i} {{ {rule.pattern(a)} }}" for i, a in enumerate(rule.body))
    into = " ".join(f"GRAPH <{g.value}> {{ {head} }}" for g in graphs)
    return (f"INSERT {{ {into} }} WHERE {{ {rule.values} {atoms} {rule.filters} "
            f"FILTER NOT EXISTS {{ GRAPH ?present {{ {head} }} }} }}")


#: A list of fewer quads than this is written into a database on disk in one transaction:
#: each bulk load writes and ingests files of its own whatever its size, which costs more
#: than a small transaction.
SMALL_QUADS = 1_000


def add_quads(store: ox.Store, quads: Iterable[ox.Quad], on_disk: bool) -> None:
    """Add quads: in one transaction to a store in memory, by bulk loading on disk (a
    transaction of millions of quads would hold them all in memory), except a short list
    (SMALL_QUADS), which is one transaction there too."""
    if on_disk and not (isinstance(quads, list) and len(quads) < SMALL_QUADS):
        store.bulk_extend(quads)
    else:
        store.extend(quads)


def _replace_graph(store: ox.Store, graph: ox.NamedNode, triples: Iterable[ox.Triple],
                   on_disk: bool) -> None:
    if store.contains_named_graph(graph):
        store.remove_graph(graph)
    add_quads(store, (ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples),
              on_disk)


def materialise(store: ox.Store, rules: Rules | None = None, *, max_rounds: int = 50,
                on_disk: bool = False) -> int:
    """Add what the ontology's rules entail to the inferred graph of `store`, to a fixpoint,
    by semi-naive evaluation: each round applies the rules only where one of their
    premises is a triple found in the round before.

    Returns how many triples were added.
    """
    rules = rules or rules_from_ontology(store)
    clauses = datalog(rules)
    graph = ox.NamedNode(INFERRED_GRAPH)
    empty = next(store.quads_for_pattern(None, None, None, graph), None) is None
    # The first round's conclusions are the whole inferred graph when it started empty:
    # the next round reads them there instead of from a copy.
    delta: ox.NamedNode = graph if empty else DELTA_GRAPHS[1]
    if not empty and store.contains_named_graph(delta):
        store.remove_graph(delta)
    added = derive_into(store, clauses, [graph] if empty else [graph, delta], on_disk)
    clauses = needed_after_first_round(clauses)
    for round_ in range(max_rounds):
        new = derive(store, clauses, delta)
        if not new:
            for g in DELTA_GRAPHS:
                if store.contains_named_graph(g):
                    store.remove_graph(g)
            return added
        delta = DELTA_GRAPHS[round_ % 2]
        add_quads(store, (ox.Quad(t.subject, t.predicate, t.object, graph) for t in new),
                  on_disk)
        _replace_graph(store, delta, new, on_disk)
        added += len(new)
    raise RuntimeError(f"materialisation did not reach a fixpoint in {max_rounds} rounds")


# ---------------------------------------------------------------------------------------
# Incremental maintenance (DRed: delete and rederive)
# ---------------------------------------------------------------------------------------

#: Temporary graphs of an incremental update.
FRONTIER = ox.NamedNode("urn:rivalry:inference:frontier")
CANDIDATES = ox.NamedNode("urn:rivalry:inference:candidates")
TEMPORARY = (*DELTA_GRAPHS, FRONTIER, CANDIDATES)


def _quads(triples: Iterable[ox.Triple], graph: ox.NamedNode) -> Iterator[ox.Quad]:
    for t in triples:
        yield ox.Quad(t.subject, t.predicate, t.object, graph)


def _consequences(store: ox.Store, clauses: list[Rule], source: ox.NamedNode,
                  where: str) -> set[ox.Triple]:
    """Conclusions of the clauses with one premise in `source` and the others anywhere,
    kept when `where` (a filter on the conclusion's pattern) holds."""
    found: set[ox.Triple] = set()
    for rule in clauses:
        head = rule.pattern(rule.head)
        for at in range(len(rule.body)):
            atoms = [f"GRAPH <{source.value}> {{ {rule.pattern(a)} }}" if i == at
                     else rule.pattern(a) + " ." for i, a in enumerate(rule.body)]
            atoms.insert(0, atoms.pop(at))
            query = (f"CONSTRUCT {{ {head} }} WHERE {{ {atoms[0]} {rule.values} "
                     f"{' '.join(atoms[1:])} {rule.filters} {where.replace('HEAD', head)} }}")
            found.update(construct(store, query, use_default_graph_as_union=True))
    return found


@dataclass
class InferenceChange:
    """What an incremental update did to the inferred graph."""

    removed: set[ox.Triple] = field(default_factory=set)
    added: set[ox.Triple] = field(default_factory=set)


def update_inferences(store: ox.Store, removed: set[ox.Triple], added: set[ox.Triple],
                      apply: Callable[[], None], rules: Rules | None = None, *,
                      max_rounds: int = 50) -> InferenceChange:
    """Keep the inferred graph equal to what a full materialisation would give, after the
    asserted triples `removed` leave the union of the asserted graphs and `added` join
    it. `apply()` makes that change to the asserted graphs; it is called once the
    inferences that depended on `removed` have been found (DRed: Gupta, Mumick and
    Subrahmanian, 1993).
    """
    rules = rules or rules_from_ontology(store)
    clauses = datalog(rules)
    inferred = ox.NamedNode(INFERRED_GRAPH)
    change = InferenceChange()
    # 1. Over-delete: every inferred triple with a derivation that uses a removed triple.
    doomed: set[ox.Triple] = set()
    frontier = set(removed)
    while frontier:
        _replace_graph(store, FRONTIER, frontier, False)
        found = _consequences(store, clauses, FRONTIER,
                              f"FILTER EXISTS {{ GRAPH <{INFERRED_GRAPH}> {{ HEAD }} }}")
        frontier = found - doomed
        doomed |= frontier
    store.remove_graph(FRONTIER)
    # 2. The asserted change, and the inferred triples that are gone or now asserted.
    apply()
    now_asserted = {t for t in added
                    if any(True for _ in store.quads_for_pattern(t.subject, t.predicate,
                                                                 t.object, inferred))}
    for t in doomed | now_asserted:
        store.remove(ox.Quad(t.subject, t.predicate, t.object, inferred))
    change.removed = doomed | now_asserted
    # 3. Rederive what still follows in one step from what remains.
    candidates = doomed | removed
    rederived: set[ox.Triple] = set()
    if candidates:
        _replace_graph(store, CANDIDATES, candidates, False)
        skip = ", ".join(f"<{g.value}>" for g in TEMPORARY)
        for rule in clauses:
            head = rule.pattern(rule.head)
            atoms = []
            for i, atom in enumerate(rule.body):
                atoms.append(f"GRAPH ?g{i} {{ {rule.pattern(atom)} }} "
                             f"FILTER(?g{i} NOT IN ({skip}))")
            query = (f"CONSTRUCT {{ {head} }} WHERE {{ GRAPH <{CANDIDATES.value}> {{ {head} }} "
                     f"{rule.values} {' '.join(atoms)} {rule.filters} "
                     f"FILTER NOT EXISTS {{ GRAPH ?h {{ {head} }} FILTER(?h NOT IN ({skip})) }} }}")
            rederived.update(construct(store, query, use_default_graph_as_union=True))
        store.remove_graph(CANDIDATES)
    store.extend(_quads(rederived, inferred))
    # 4. Insert: what follows from the added and rederived triples, to a fixpoint.
    new = set(rederived) | {t for t in added if t not in now_asserted}
    inserted: set[ox.Triple] = set()
    for round_ in range(max_rounds):
        if not new:
            break
        delta = DELTA_GRAPHS[round_ % 2]
        _replace_graph(store, delta, new, False)
        new = derive(store, clauses, delta) - inserted
        store.extend(_quads(new, inferred))
        inserted |= new
    else:
        raise RuntimeError(f"inference did not reach a fixpoint in {max_rounds} rounds")
    for g in DELTA_GRAPHS:
        if store.contains_named_graph(g):
            store.remove_graph(g)
    change.added = rederived | inserted
    return change


# ---------------------------------------------------------------------------------------
# Consistency with HermiT (rivalry.graph.consistency)
# ---------------------------------------------------------------------------------------


def java_available() -> bool:
    return shutil.which("java") is not None


def check_consistency(quads: list[ox.Quad], *, summary: bool = True,
                      java_heap_mb: int = 2000, time_limit: float = 600.0
                      ) -> ConsistencyReport:
    """Check the ontology and facts (quads: the ontology in its graph, facts in others)
    with HermiT: on a summary of the facts, or with `summary=False` on every individual.

    When they are inconsistent, the report names the facts responsible where the checks
    over every fact find them (disjoint types, directly or through domains and ranges;
    invalid literals; functional properties with two values).
    """
    from rivalry.graph.consistency import HermitSettings, check_quads

    if not java_available():
        raise ReasonerUnavailable(
            "HermiT needs Java, and no `java` is on the PATH; install a Java runtime "
            "(Debian: apt-get install default-jre-headless) or skip the check with "
            "--no-consistency-check")
    return check_quads(quads, HermitSettings(java_heap_mb, time_limit), summary=summary)
