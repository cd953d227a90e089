"""Reasoning: a fast materialisation of the inferences queries rely on, and a full OWL 2 DL
consistency check with HermiT.

The materialisation reads its rules from the ontology (class and property hierarchy,
equivalences, inverses, symmetric and transitive properties, property chains) and writes
what follows into one named graph, so inferred triples are never mistaken for curated
ones. HermiT is run separately, on the asserted facts, to prove the whole is consistent.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from rivalry.graph import INFERRED_GRAPH, ONTOLOGY_GRAPH, Term
from rivalry.graph.errors import ReasonerUnavailable

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
    closed: dict[str, set[str]] = {}
    for start in edges:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            node = todo.pop()
            if node not in seen and node != start:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        if seen:
            closed[start] = seen
    return closed


def _rdf_list(store: ox.Store, head: Term, graph: ox.NamedNode) -> list[str]:
    items = []
    while not (isinstance(head, ox.NamedNode) and head.value == RDF_NIL):
        first = next(store.quads_for_pattern(head, ox.NamedNode(RDF_FIRST), None, graph), None)
        rest = next(store.quads_for_pattern(head, ox.NamedNode(RDF_REST), None, graph), None)
        if first is None or rest is None:
            break
        items.append(first.object.value)
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
            inverses.add((prop.value, prop.value))
    transitive = {p.value for p, k in typed
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


def _rule_queries(rules: Rules) -> list[str]:
    """One CONSTRUCT per rule kind; each yields only triples not already in the store."""
    queries = []
    class_pairs = [(c, s) for c, sups in rules.superclasses.items() for s in sups]
    if class_pairs:
        queries.append(
            "CONSTRUCT { ?x a ?sup } WHERE { VALUES (?sub ?sup) { " + _values(class_pairs)
            + " } ?x a ?sub . FILTER NOT EXISTS { ?x a ?sup } }")
    prop_pairs = [(p, s) for p, sups in rules.superproperties.items() for s in sups]
    if prop_pairs:
        queries.append(
            "CONSTRUCT { ?x ?sup ?y } WHERE { VALUES (?sub ?sup) { " + _values(prop_pairs)
            + " } ?x ?sub ?y . FILTER NOT EXISTS { ?x ?sup ?y } }")
    if rules.inverses:
        queries.append(
            "CONSTRUCT { ?y ?q ?x } WHERE { VALUES (?p ?q) { " + _values(rules.inverses)
            + " } ?x ?p ?y . FILTER(!isLiteral(?y)) FILTER NOT EXISTS { ?y ?q ?x } }")
    for prop in sorted(rules.transitive):
        queries.append(
            f"CONSTRUCT {{ ?x <{prop}> ?z }} WHERE {{ ?x <{prop}> ?y . ?y <{prop}> ?z . "
            f"FILTER(?x != ?z) FILTER NOT EXISTS {{ ?x <{prop}> ?z }} }}")
    for prop, chain in rules.chains:
        steps = " . ".join(f"?v{i} <{p}> ?v{i + 1}" for i, p in enumerate(chain))
        queries.append(
            f"CONSTRUCT {{ ?v0 <{prop}> ?v{len(chain)} }} WHERE {{ {steps} . "
            f"FILTER NOT EXISTS {{ ?v0 <{prop}> ?v{len(chain)} }} }}")
    return queries


def materialise(store: ox.Store, rules: Rules | None = None, *, max_rounds: int = 50) -> int:
    """Add what the ontology's rules entail to the inferred graph of `store`, to a fixpoint.

    Returns how many triples were added.
    """
    rules = rules or rules_from_ontology(store)
    queries = _rule_queries(rules)
    graph = ox.NamedNode(INFERRED_GRAPH)
    added = 0
    for _ in range(max_rounds):
        new: set[ox.Triple] = set()
        for query in queries:
            new.update(store.query(query, use_default_graph_as_union=True))
        if not new:
            return added
        store.extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in new)
        added += len(new)
    raise RuntimeError(f"materialisation did not reach a fixpoint in {max_rounds} rounds")


# ---------------------------------------------------------------------------------------
# Consistency with HermiT
# ---------------------------------------------------------------------------------------

#: Datatypes outside the OWL 2 datatype map that HermiT rejects, and what the reasoner's
#: input uses instead. Their lexical forms are checked before they are rewritten, so
#: nothing ill-typed slips through as a string. Ordering of dates is SHACL's business.
HERMIT_DATATYPE_REWRITES = {
    XSD + "date": XSD + "string",
    XSD + "gYearMonth": XSD + "string",
    XSD + "gYear": XSD + "string",
}


@dataclass
class ConsistencyReport:
    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    culprits: list[str] = field(default_factory=list)
    rewritten_literals: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.consistent and not self.unsatisfiable


def java_available() -> bool:
    return shutil.which("java") is not None


def _ill_typed(literal: ox.Literal) -> bool:
    """Whether a date-like literal's lexical form is invalid for its datatype."""
    from rivalry.graph.load import ill_typed

    return ill_typed(literal.value, literal.datatype.value)


def hermit_input(quads: Iterable[ox.Quad]) -> tuple[list[ox.Triple], int, list[str]]:
    """The triples handed to HermiT: every graph merged, datatypes outside the OWL 2 map
    rewritten (see HERMIT_DATATYPE_REWRITES). Returns triples, rewrite count, and the
    ill-typed literals found."""
    triples: set[ox.Triple] = set()
    rewritten = 0
    problems: list[str] = []
    for q in quads:
        obj = q.object
        if isinstance(obj, ox.Literal) and obj.datatype.value in HERMIT_DATATYPE_REWRITES:
            if _ill_typed(obj):
                problems.append(f"{q.subject} {q.predicate} {obj}: not a valid "
                                f"{obj.datatype.value.removeprefix(XSD)}")
            obj = ox.Literal(obj.value,
                             datatype=ox.NamedNode(HERMIT_DATATYPE_REWRITES[obj.datatype.value]))
            rewritten += 1
        elif isinstance(obj, ox.NamedNode) and obj.value in HERMIT_DATATYPE_REWRITES:
            obj = ox.NamedNode(HERMIT_DATATYPE_REWRITES[obj.value])
        triples.add(ox.Triple(q.subject, q.predicate, obj))
    return sorted(triples, key=str), rewritten, problems


def _run_hermit(triples: list[ox.Triple]) -> tuple[bool, list[str]]:
    """Run HermiT over the triples: (consistent, unsatisfiable class IRIs)."""
    import owlready2

    with tempfile.TemporaryDirectory(prefix="rivalry-hermit-") as tmp:
        path = Path(tmp) / "input.nt"
        path.write_bytes(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES))
        world = owlready2.World()
        world.get_ontology(path.as_uri()).load(format="ntriples")
        try:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return False, []
        except (subprocess.CalledProcessError, OSError) as e:
            output = getattr(e, "stderr", b"") or b""
            detail = output.decode("utf-8", "replace").strip().splitlines()
            raise ReasonerUnavailable(
                "HermiT failed: " + (detail[0] if detail else str(e))) from None
        unsat = sorted(c.iri for c in world.inconsistent_classes()
                       if c.iri != "http://www.w3.org/2002/07/owl#Nothing")
        world.close()
        return True, unsat


def check_consistency(quads: list[ox.Quad]) -> ConsistencyReport:
    """Check the ontology and facts (asserted quads, any graphs) with HermiT.

    When they are inconsistent, the report names the individuals responsible where a
    cheap explanation finds them (disjoint types, directly or through domains and ranges).
    """
    if not java_available():
        raise ReasonerUnavailable(
            "HermiT needs Java, and no `java` is on the PATH; install a Java runtime "
            "(Debian: apt-get install default-jre-headless) or skip the check with "
            "--no-consistency-check")
    triples, rewritten, problems = hermit_input(quads)
    if problems:
        return ConsistencyReport(False, culprits=problems, rewritten_literals=rewritten,
                                 message="ill-typed date literals")
    consistent, unsat = _run_hermit(triples)
    report = ConsistencyReport(consistent, unsatisfiable=unsat, rewritten_literals=rewritten)
    if not consistent:
        report.culprits = explain_inconsistency(triples)
        report.message = "the ontology and facts are inconsistent"
    elif unsat:
        report.message = "unsatisfiable classes: " + ", ".join(unsat)
    else:
        report.message = "consistent; no unsatisfiable class"
    return report


def explain_inconsistency(triples: list[ox.Triple]) -> list[str]:
    """Name individuals whose types are declared disjoint, counting the types that follow
    from the class hierarchy and from property domains and ranges."""
    store = ox.Store()
    graph = ox.NamedNode(ONTOLOGY_GRAPH)
    store.extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
    rules = rules_from_ontology(store)
    types: dict[str, set[str]] = defaultdict(set)
    for q in store.quads_for_pattern(None, ox.NamedNode(RDF_TYPE), None, graph):
        types[str(q.subject)].add(q.object.value)
    for prefix, position in ((RDFS + "domain", "subject"), (RDFS + "range", "object")):
        for axiom in store.quads_for_pattern(None, ox.NamedNode(prefix), None, graph):
            if not isinstance(axiom.object, ox.NamedNode):
                continue
            for q in store.quads_for_pattern(None, axiom.subject, None, graph):
                node = getattr(q, position)
                if not isinstance(node, ox.Literal):
                    types[str(node)].add(axiom.object.value)
    disjoint: list[tuple[str, str]] = []
    for q in store.quads_for_pattern(None, ox.NamedNode(OWL + "disjointWith"), None, graph):
        disjoint.append((q.subject.value, q.object.value))
    for q in store.quads_for_pattern(None, ox.NamedNode(OWL + "members"), None, graph):
        members = _rdf_list(store, q.object, graph)
        disjoint.extend((a, b) for i, a in enumerate(members) for b in members[i + 1:])
    culprits = []
    for node, asserted in sorted(types.items()):
        closed = set(asserted)
        for t in asserted:
            closed |= rules.superclasses.get(t, set())
        for a, b in disjoint:
            if a in closed and b in closed:
                culprits.append(f"{node} is both a {_short(a)} and a {_short(b)}, "
                                "which the ontology declares disjoint")
    return culprits


def _short(iri: str) -> str:
    for prefix, ns in (("rv:", "https://w3id.org/rivalry/ontology#"), ("skos:", "http://www.w3.org/2004/02/skos/core#")):
        if iri.startswith(ns):
            return prefix + iri[len(ns):]
    return f"<{iri}>"
