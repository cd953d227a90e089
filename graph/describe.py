"""Describing one entity: the triples a linked-data client gets when it dereferences an
IRI, and what an entity's page shows. Labels of classes and properties come from the
ontology graph, so nothing here is written per class."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import pyoxigraph as ox

from rivalry.graph import DERIVED_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH, Term, term_value
from rivalry.graph.consistency import transitive_closure
from rivalry.graph.store import GraphReader, Store
from rivalry.ontology import NAMESPACE

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)
LABEL_PROPERTIES = (RDFS + "label", SKOS + "prefLabel", "http://purl.org/dc/terms/title")


def description_query(iri: str) -> str:
    """The SPARQL query whose answer is an entity's description: every triple about it,
    every triple pointing to it, a label for every node and property it mentions, and the
    source documents behind it with their publishers' labels."""
    e = f"<{iri}>"
    return f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dct:  <http://purl.org/dc/terms/>
CONSTRUCT {{
  {e} ?p ?o . ?s ?q {e} .
  ?node rdfs:label ?label . ?node skos:prefLabel ?prefLabel .
  ?source ?sp ?so . ?publisher rdfs:label ?publisherLabel .
}}
WHERE {{
  {{ {e} ?p ?o }}
  UNION {{ ?s ?q {e} }}
  UNION {{
    {{ {e} ?node ?x }} UNION {{ {e} ?x ?node }} UNION {{ ?node ?x {e} }} UNION {{ ?x ?node {e} }}
    {{ ?node rdfs:label ?label }} UNION {{ ?node skos:prefLabel ?prefLabel }}
  }}
  UNION {{
    {e} prov:wasDerivedFrom ?source .
    ?source ?sp ?so .
    OPTIONAL {{ ?source dct:publisher ?publisher . ?publisher rdfs:label ?publisherLabel }}
  }}
}}"""


def describe(store: Store, iri: str) -> list[ox.Triple]:
    """The entity's description, or [] when the graph knows nothing of it."""
    triples = set(store.query(description_query(iri)).triples())
    return sorted(triples, key=str)


def exists(store: Store, iri: str) -> bool:
    node = ox.NamedNode(iri)
    return (next(store.quads_for_pattern(node, None, None, None), None) is not None
            or next(store.quads_for_pattern(None, None, node, None), None) is not None)


# ---------------------------------------------------------------------------------------
# Labels from the graph (ontology terms included), in a preferred language
# ---------------------------------------------------------------------------------------


class Labels:
    """Labels of IRIs, read from the store, English preferred. A page that will show many
    labels reads them first with `prefetch` (one query per BATCH of IRIs), which matters
    over an external store, where each read is a round trip."""

    def __init__(self, store: GraphReader, language: str = "en") -> None:
        self.store = store
        self.language = language
        self._cache: dict[str, str | None] = {}

    def get(self, iri: str) -> str | None:
        """The node's label, or None; `iri` may also be a blank node's label (no label)."""
        if iri not in self._cache:
            node = _named(iri)
            if node is None:  # a blank node, as a SELECT gives it: it has no label here
                self._cache[iri] = None
                return None
            found: list[tuple[str, Term]] = []
            for prop in LABEL_PROPERTIES:  # the next property only if this one gave none
                found += [(prop, q.object) for q in self.store.quads_for_pattern(
                    node, ox.NamedNode(prop), None, None)]
                if any(isinstance(value, ox.Literal) for _, value in found):
                    break
            self._cache[iri] = self._chosen(found)
        return self._cache[iri]

    def prefetch(self, iris: Iterable[str]) -> None:
        """Read the labels of `iris` (those not read yet) together, when each read is a
        round trip (`round_trips`); otherwise `get` reads each when it is asked for."""
        if not round_trips(self.store):
            return
        todo = set(iris) - self._cache.keys()
        found = values_of(self.store, todo, LABEL_PROPERTIES)
        for iri in todo:
            self._cache[iri] = self._chosen(found.get(iri, []))

    def _chosen(self, found: list[tuple[str, Term]]) -> str | None:
        """The label among the node's (label property, value) pairs: of the first label
        property that gives one, in the preferred language, else without a language, else
        any; the least in code-point order when there are several (the same whatever
        order the store gives them in)."""
        for prop in LABEL_PROPERTIES:
            by_language: dict[str, str] = {}
            for p, value in found:
                if p == prop and isinstance(value, ox.Literal):
                    known = by_language.get(value.language or "")
                    if known is None or value.value < known:
                        by_language[value.language or ""] = value.value
            if by_language:
                return (by_language.get(self.language) or by_language.get("")
                        or by_language[min(by_language)])
        return None

    def __call__(self, iri: str, fallback: str | None = None) -> str:
        return self.get(iri) or fallback or iri


#: IRIs read in one query by the batched readers (labels, actions' kinds and states):
#: a page of a hundred actions is one query, and a query stays a few kilobytes.
BATCH = 100


def _named(iri: str) -> ox.NamedNode | None:
    try:
        return ox.NamedNode(iri)
    except ValueError:
        return None


def _batches(nodes: list[ox.NamedNode]) -> Iterator[list[ox.NamedNode]]:
    for start in range(0, len(nodes), BATCH):
        yield nodes[start:start + BATCH]


def _iris(nodes: Iterable[ox.NamedNode]) -> str:
    return " ".join(f"<{n.value}>" for n in nodes)


def round_trips(store: GraphReader) -> bool:
    """Whether each read of the store is a round trip to a server (an external store),
    so that pages read many nodes' values in one query; the embedded store answers a quad
    lookup in microseconds, faster than it parses a query."""
    return getattr(store, "kind", None) == "remote"


def values_of(store: GraphReader, nodes: Iterable[str], properties: Iterable[str],
              only: dict[str, str] | None = None) -> dict[str, list[tuple[str, Term]]]:
    """Each node's (property, value) pairs for `properties` (nodes are IRIs; others have
    none). Over an external store, one query per BATCH nodes: `VALUES` for the nodes and a
    UNION of one pattern per property (a `VALUES ?p` beside `?s ?p ?o` makes Oxigraph scan
    the graph); `only` may filter a property's values there (a SPARQL condition on ?o), a
    saving, not a promise: callers filter what they keep. Otherwise, quad lookups. A
    value may come more than once."""
    properties = list(properties)
    named = [n for n in (_named(x) for x in sorted(set(nodes))) if n is not None]
    found: dict[str, list[tuple[str, Term]]] = defaultdict(list)
    if not round_trips(store):
        for node in named:
            for prop in properties:
                found[node.value] += [(prop, q.object) for q in store.quads_for_pattern(
                    node, ox.NamedNode(prop), None, None)]
        return found
    only = only or {}
    union = " UNION ".join(
        f"{{ ?s <{p}> ?o {'FILTER(' + only[p] + ') ' if p in only else ''}BIND(<{p}> AS ?p) }}"
        for p in properties)
    for chunk in _batches(named):
        query = f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {_iris(chunk)} }} {union} }}"
        for anchor, predicate, term in store.query(query).rows():
            if isinstance(anchor, ox.NamedNode) and isinstance(predicate, ox.NamedNode) \
                    and term is not None:
                found[anchor.value].append((predicate.value, term))
    return found


def subjects_of(store: GraphReader, nodes: Iterable[str], prop: str) -> dict[str, list[Term]]:
    """For each node (an IRI), the subjects pointing at it with `prop`, read as
    `values_of` reads values."""
    named = [n for n in (_named(x) for x in sorted(set(nodes))) if n is not None]
    found: dict[str, list[Term]] = defaultdict(list)
    if not round_trips(store):
        for node in named:
            found[node.value] += [q.subject for q in store.quads_for_pattern(
                None, ox.NamedNode(prop), node, None)]
        return found
    for chunk in _batches(named):
        query = f"SELECT ?o ?s WHERE {{ VALUES ?o {{ {_iris(chunk)} }} ?s <{prop}> ?o }}"
        for obj, subject in store.query(query).rows():
            if isinstance(obj, ox.NamedNode) and subject is not None:
                found[obj.value].append(subject)
    return found


# ---------------------------------------------------------------------------------------
# What an entity's page shows
# ---------------------------------------------------------------------------------------


@dataclass
class Value:
    term: Term
    label: str | None = None


@dataclass
class TimelineEntry:
    action: str
    label: str
    date: str
    role: str
    kind: str | None = None
    state: str | None = None
    omitted: int = 0  # on the first entry: earlier actions left out (-1: many)


@dataclass
class Source:
    iri: str
    title: str | None
    publisher: str | None
    issued: str | None
    url: str | None


@dataclass
class Relation:
    """One row of an entity page: a property, read from the entity outwards, with its
    values (at most VALUES_SHOWN of them) and how many there are in all."""

    iri: str
    label: str
    values: list[Value]
    total: int
    #: The SPARQL query listing every value, when not all are shown.
    more_query: str | None = None


@dataclass
class EntityView:
    iri: str
    label: str
    types: list[tuple[str, str]]
    comments: list[str]
    outgoing: list[Relation]
    incoming: list[Relation]
    timeline: list[TimelineEntry] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    chain: list[ChainLink] = field(default_factory=list)
    chain_nodes: dict[str, TimelineEntry] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainLink:
    source: str  # the responding action
    target: str  # the action responded to
    basis: str | None = None  # how the link is known (a concept of rv:ResponseBasisScheme)
    basis_label: str | None = None


COMMENT_PROPERTIES = (RDFS + "comment", RV + "summary", SKOS + "definition")
OWL = "http://www.w3.org/2002/07/owl#"

#: The most values a page shows for one property; the rest are counted and linked.
VALUES_SHOWN = 50

#: How an actor or a technology takes part in an action, for its timeline: a pattern
#: binding ?action, with {entity} for the entity. The roles' names are the ontology's
#: property labels. Paths are written so the engine starts from the entity (a
#: `broader*` from a fixed node, then the measures), which keeps each query's cost to
#: the entity's neighbourhood.
ROLE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("rv:issuedBy", f"?action <{RV}issuedBy> {{entity}}"),
    ("rv:issuingPolity", f"?action <{RV}issuingPolity> {{entity}}"),
    ("rv:targets", f"?action <{RV}targets> {{entity}}"),
    ("rv:spokenBy", f"?action <{RV}spokenBy> {{entity}}"),
    ("rv:onBehalfOf", f"?action <{RV}onBehalfOf> {{entity}}"),
    ("rv:controlsTechnology",
     f"?tech <{SKOS}broader>* {{entity}} . ?action <{RV}controlsTechnology> ?tech"),
    ("rv:tierState", f"?action <{RV}hasTierAssignment>/<{RV}tierState> {{entity}}"),
    ("rv:about", f"?action <{RV}about> {{entity}}"),
    ("rv:legalBasis", f"?action <{RV}legalBasis>|<{RV}implementedBy> {{entity}}"),
    ("rv:underProgram", f"?action <{RV}underProgram> {{entity}}"),
    ("rv:sector", f"?action <{RV}sector> {{entity}}"),
)


@dataclass
class PropertyIndex:
    """What the ontology says of properties that pages need: inverses and
    super-properties (read from the ontology graph, a few dozen triples)."""

    inverse: dict[str, str]
    supers: dict[str, set[str]]  # property -> all its super-properties

    @classmethod
    def read(cls, store: Store) -> PropertyIndex:
        onto = ox.NamedNode(ONTOLOGY_GRAPH)
        inverse: dict[str, str] = {}
        for q in store.quads_for_pattern(None, ox.NamedNode(OWL + "inverseOf"), None, onto):
            if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.NamedNode):
                inverse.setdefault(q.subject.value, q.object.value)
                inverse.setdefault(q.object.value, q.subject.value)
        return cls(inverse, _hierarchy(store, RDFS + "subPropertyOf"))

    def subs_of(self, prop: str, among: set[str]) -> set[str]:
        return {p for p in among if prop in self.supers.get(p, ())}


def property_label(labels: Labels, iri: str) -> str:
    """A property's label from the ontology, or its prefixed name."""
    from rivalry.graph.ontology_doc import curie

    return labels(iri, curie(iri))


def entity_view(store: Store, iri: str, labels: Labels | None = None) -> EntityView:
    labels = labels or Labels(store)
    node = ox.NamedNode(iri)
    props = PropertyIndex.read(store)
    classes = ClassIndex.read(store)  # read once for the page
    types: list[str] = []
    comments: list[str] = []
    out: dict[str, dict[str, Value]] = defaultdict(dict)
    seen: dict[str, set[str]] = defaultdict(set)
    # in a fixed order (by property, value, graph), so that which values are shown of a
    # property with many does not depend on the store's order
    for q in sorted(store.quads_for_pattern(node, None, None, None),
                    key=lambda q: (q.predicate.value, str(q.object), str(q.graph_name))):
        p = q.predicate.value
        if q.graph_name == ox.NamedNode(ONTOLOGY_GRAPH) or _noise(q):
            continue
        if p == RDF_TYPE:
            if term_value(q.object) not in types:
                types.append(term_value(q.object))
        elif p in COMMENT_PROPERTIES and isinstance(q.object, ox.Literal):
            if q.object.value not in comments:
                comments.append(q.object.value)
        else:
            key = str(q.object)
            if key not in seen[p]:
                seen[p].add(key)
                if len(out[p]) < VALUES_SHOWN:
                    out[p][key] = Value(q.object)
    totals = {p: len(keys) for p, keys in seen.items()}
    incoming = []
    for p, total in _incoming_counts(store, iri):
        inverse = props.inverse.get(p)
        if inverse is not None:
            # the page reads from the entity outwards: "targeted by", never "targets (of)";
            # the build materialises inverses, so these are usually there already
            shown = out[inverse]
            for s in _subjects(store, iri, p, VALUES_SHOWN):
                if str(s) not in shown and len(shown) < VALUES_SHOWN:
                    shown[str(s)] = Value(s)
            totals[inverse] = max(totals.get(inverse, 0), total, len(shown))
            continue
        incoming.append((p, total))
    # a value shown under a property is not repeated under its super-properties
    # (rv:issuingState, not also rv:issuingPolity; rv:targets, not also sem:hasActor)
    present = set(out)
    _label_all([v for values in out.values() for v in values.values()], labels,
               also=present)
    outgoing = []
    for p, values in out.items():
        subs = props.subs_of(p, present)
        covered = {k for sub in subs for k in out[sub]}
        kept = [v for k, v in values.items() if k not in covered]
        if kept:
            total = totals[p] - (len(values) - len(kept))
            more = _objects_query(iri, p) if total > len(kept) else None
            outgoing.append(Relation(p, property_label(labels, p), _sorted(kept), total, more))
    present_in = {p for p, _ in incoming}
    referring: list[tuple[str, int, set[str], list[Value]]] = []
    for p, total in incoming:
        subs = props.subs_of(p, present_in)
        if subs:
            total = _count_residual(store, iri, p, subs)
            if not total:
                continue
        referring.append((p, total, subs, [Value(s) for s in _subjects(
            store, iri, p, VALUES_SHOWN, subs)]))
    _label_all([v for *_, values in referring for v in values], labels,
               also={p for p, *_ in referring})
    referred = []
    for p, total, subs, shown_values in referring:
        more = None if total <= len(shown_values) else _subjects_query(iri, p, subs)
        referred.append(Relation(p, property_label(labels, p), _sorted(shown_values), total,
                                 more))
    view = EntityView(
        iri=iri,
        label=labels(iri, iri.rsplit("/", 1)[-1]),
        types=_most_specific(classes, types, labels),
        comments=comments,
        outgoing=sorted(outgoing, key=lambda r: r.label.lower()),
        incoming=sorted(referred, key=lambda r: r.label.lower()),
    )
    view.timeline = timeline(store, iri, labels, classes)
    view.sources = sources(store, iri)
    view.chain, view.chain_nodes = response_chain(store, iri, view.timeline, labels,
                                                  classes)
    return view


def _incoming_counts(store: Store, iri: str) -> list[tuple[str, int]]:
    """The properties pointing at the entity, with how many subjects each; types, and
    other vocabularies' super-properties the build inferred, left out."""
    query = f"""SELECT ?p (COUNT(DISTINCT ?s) AS ?n) WHERE {{
      GRAPH ?g {{ ?s ?p <{iri}> }}
      FILTER(?p != <{RDF_TYPE}> && ?g != <{ONTOLOGY_GRAPH}> && ?g != <{DERIVED_GRAPH}>
             && (?g != <{INFERRED_GRAPH}> || STRSTARTS(STR(?p), "{RV}")))
    }} GROUP BY ?p"""
    return [(term_value(p), int(term_value(n))) for p, n in store.query(query).rows()]


def _subjects(store: Store, iri: str, prop: str, limit: int,
              excluded: AbstractSet[str] = frozenset()) -> list[Term]:
    """Up to `limit` subjects pointing at the entity with `prop`; with `excluded`, those
    not also pointing at it with one of those properties."""
    if not excluded:
        found: dict[str, Term] = {}
        for q in store.quads_for_pattern(None, ox.NamedNode(prop), ox.NamedNode(iri), None):
            found.setdefault(str(q.subject), q.subject)
        # the first in a fixed order, whatever the store's
        return [found[k] for k in sorted(found)[:limit]]
    query = _subjects_query(iri, prop, excluded) + f" LIMIT {limit}"
    return [row[0] for row in store.query(query).rows() if row[0] is not None]


def _subjects_query(iri: str, prop: str, excluded: AbstractSet[str]) -> str:
    """The SPARQL query listing every subject pointing at the entity with `prop`."""
    minus = ""
    if excluded:
        others = " ".join(f"<{p}>" for p in sorted(excluded))
        minus = f"\n  FILTER NOT EXISTS {{ VALUES ?other {{ {others} }} ?s ?other <{iri}> }}"
    return (f"PREFIX rdfs: <{RDFS}>\nSELECT DISTINCT ?s ?label WHERE {{\n"
            f"  ?s <{prop}> <{iri}> .{minus}\n"
            f"  OPTIONAL {{ ?s rdfs:label ?label FILTER(langMatches(lang(?label), \"en\")) }}\n"
            f"}} ORDER BY ?label ?s")


def _objects_query(iri: str, prop: str) -> str:
    """The SPARQL query listing every value of the entity's property."""
    return (f"PREFIX rdfs: <{RDFS}>\nSELECT DISTINCT ?value ?label WHERE {{\n"
            f"  <{iri}> <{prop}> ?value .\n"
            f"  OPTIONAL {{ ?value rdfs:label ?label FILTER(langMatches(lang(?label), \"en\")) }}\n"
            f"}} ORDER BY ?label ?value")


def _count_residual(store: Store, iri: str, prop: str, excluded: set[str]) -> int:
    others = " ".join(f"<{p}>" for p in sorted(excluded))
    query = (f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s <{prop}> <{iri}> . "
             f"FILTER NOT EXISTS {{ VALUES ?other {{ {others} }} ?s ?other <{iri}> }} }}")
    return int(term_value(next(store.query(query).rows())[0]))


def _noise(quad: ox.Quad) -> bool:
    """Inferred triples with a super-property from another vocabulary (prov:, sem:, ...)
    repeat what the page already shows under our own property, and the derived graph's
    values (most specific types, day numbers, response chains) restate others for
    queries; pages leave them out. Linked-data descriptions keep them."""
    return quad.graph_name == ox.NamedNode(DERIVED_GRAPH) or (
        quad.graph_name == ox.NamedNode(INFERRED_GRAPH)
        and not quad.predicate.value.startswith(RV) and quad.predicate.value != RDF_TYPE)


def _label_all(values: list[Value], labels: Labels, also: AbstractSet[str] = frozenset()
               ) -> None:
    """Give each value its label, read with those of `also` in a few queries."""
    named = [v for v in values if isinstance(v.term, ox.NamedNode)]
    labels.prefetch({term_value(v.term) for v in named} | set(also))
    for v in named:
        v.label = labels.get(term_value(v.term))


def _sorted(values: list[Value]) -> list[Value]:
    return sorted(values, key=lambda x: (x.label or str(x.term)).lower())


def _hierarchy(store: GraphReader, predicate: str) -> dict[str, set[str]]:
    """Each term of the ontology graph with all the terms above it along `predicate`
    (rdfs:subClassOf, rdfs:subPropertyOf), from one read of that graph."""
    direct: dict[str, set[str]] = defaultdict(set)
    for q in store.quads_for_pattern(None, ox.NamedNode(predicate), None,
                                     ox.NamedNode(ONTOLOGY_GRAPH)):
        if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.NamedNode):
            direct[q.subject.value].add(q.object.value)
    return transitive_closure(direct)


class ClassIndex:
    """The ontology's classes with all their superclasses (read from the ontology graph
    in one query), to tell a node's most specific classes from those they imply."""

    def __init__(self, supers: dict[str, set[str]]) -> None:
        self.supers = supers

    @classmethod
    def read(cls, store: GraphReader) -> ClassIndex:
        return cls(_hierarchy(store, RDFS + "subClassOf"))

    def most_specific(self, types: Iterable[str]) -> list[str]:
        """`types` minus those implied by another of them (all of them if each is)."""
        types = list(dict.fromkeys(types))
        implied = {s for t in types for s in self.supers.get(t, ())}
        return [t for t in types if t not in implied] or types


def _most_specific(classes: ClassIndex, types: list[str],
                   labels: Labels) -> list[tuple[str, str]]:
    """The entity's classes minus those implied by another of them, with their labels."""
    chosen = set(classes.most_specific(types))
    labels.prefetch(chosen)
    return sorted(((t, labels(t, t.rsplit("#", 1)[-1])) for t in chosen), key=lambda x: x[1])


def action_kinds_and_states(store: GraphReader, actions: Iterable[str], labels: Labels,
                            classes: ClassIndex | None = None
                            ) -> dict[str, tuple[str | None, str | None]]:
    """Each action's kind (the label of its most specific rivalry class) and state (the
    issuing state or union; for a company's or an organization's action, its issuer's
    country), as lists and timelines show them; read for BATCH actions per query, and
    their labels with them. Of several values, the least IRI is taken."""
    classes = classes or ClassIndex.read(store)
    nodes = [n for n in (_named(a) for a in sorted(set(actions))) if n is not None]
    types: dict[str, list[str]] = defaultdict(list)
    polity: dict[str, str] = {}
    issuer: dict[str, str] = {}

    def keep_least(kept: dict[str, str], key: str, value: str) -> None:
        if key not in kept or value < kept[key]:
            kept[key] = value

    own_classes = f'STRSTARTS(STR(?o), "{RV}")'  # not the other vocabularies' it implies
    found = values_of(store, (n.value for n in nodes),
                      (RDF_TYPE, RV + "issuingPolity", RV + "issuedBy"),
                      only={RDF_TYPE: own_classes})
    for action, pairs in found.items():
        for prop, value in pairs:
            if not isinstance(value, ox.NamedNode):
                continue
            if prop == RDF_TYPE:
                if value.value.startswith(RV):
                    types[action].append(value.value)
            else:
                keep_least(polity if prop == RV + "issuingPolity" else issuer, action,
                           value.value)
    country: dict[str, str] = {}
    issuers = {i for a, i in issuer.items() if a not in polity}
    for who, pairs in values_of(store, issuers, (RV + "country",)).items():
        for _, value in pairs:
            if isinstance(value, ox.NamedNode):
                keep_least(country, who, value.value)
    states = {n.value: polity.get(n.value) or country.get(issuer.get(n.value, ""))
              for n in nodes}
    kinds = {n.value: classes.most_specific(sorted(types.get(n.value, ()))) for n in nodes}
    labels.prefetch({n.value for n in nodes} | {t for ts in kinds.values() for t in ts}
                    | {s for s in states.values() if s})
    out: dict[str, tuple[str | None, str | None]] = {}
    for n in nodes:
        named = sorted(labels(t, t.rsplit("#", 1)[-1]) for t in kinds[n.value])
        state = states[n.value]
        out[n.value] = (named[0] if named else None, labels(state) if state else None)
    return out


def timeline(store: Store, iri: str, labels: Labels,
             classes: ClassIndex | None = None) -> list[TimelineEntry]:
    """Actions the entity issued, suffered, spoke about or is otherwise part of, by date;
    for an action, the actions it responds to and that respond to it. One small query
    per role, each anchored on the entity, so the cost follows the entity's neighbourhood,
    not the size of the graph."""
    patterns = [(role, pattern.format(entity=f"<{iri}>")) for role, pattern in ROLE_PATTERNS]
    patterns += [("rv:respondsTo", f"<{iri}> <{RV}respondsTo> ?action"),
                 ("rv:provoked", f"?action <{RV}respondsTo> <{iri}>")]
    roles: dict[tuple[str, str], list[str]] = {}
    more = False
    for role, pattern in patterns:
        query = (f"SELECT DISTINCT ?action ?date WHERE {{ {pattern} . "
                 f"?action <{RV}announcedOn> ?date }} ORDER BY DESC(?date) DESC(?action) "
                 f"LIMIT {TIMELINE_MAX + 1}")
        rows = list(store.query(query).rows())
        more = more or len(rows) > TIMELINE_MAX
        for action, date in rows:
            found = roles.setdefault((term_value(date), term_value(action)), [])
            if role not in found:
                found.append(role)
    latest = sorted(roles.items())[-TIMELINE_MAX:]
    facts = action_kinds_and_states(store, [action for (_, action), _ in latest], labels,
                                    classes)
    labels.prefetch(RV + role.split(":", 1)[1] for _, found in latest for role in found)
    entries = [_entry(action, date, found, labels, facts.get(action, (None, None)))
               for (date, action), found in latest]
    if entries and (more or len(roles) > TIMELINE_MAX):
        entries[0].omitted = len(roles) - len(entries) if not more else -1
    return entries


#: The most actions an entity's timeline lists (the latest ones); the page links to the
#: filtered list of all of them.
TIMELINE_MAX = 200


def _entry(action: str, date: str, roles: list[str], labels: Labels,
           kind_and_state: tuple[str | None, str | None]) -> TimelineEntry:
    names = [labels(RV + role.split(":", 1)[1], role) for role in roles]
    kind, state = kind_and_state
    return TimelineEntry(action=action, label=labels(action), date=date,
                         role=", ".join(names), kind=kind, state=state)


def sources(store: Store, iri: str) -> list[Source]:
    query = f"""PREFIX prov: <http://www.w3.org/ns/prov#>
    PREFIX dct: <http://purl.org/dc/terms/>
    PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    PREFIX schema: <https://schema.org/>
    SELECT ?doc (MIN(STR(?t)) AS ?title) (MIN(STR(?pl)) AS ?publisher)
           (MIN(STR(?d)) AS ?issued) (MIN(STR(?u)) AS ?url)
    WHERE {{
      <{iri}> prov:wasDerivedFrom ?doc .
      OPTIONAL {{ ?doc dct:title ?t }}
      OPTIONAL {{ ?doc dct:publisher/rdfs:label ?pl FILTER(lang(?pl) = "en" || lang(?pl) = "") }}
      OPTIONAL {{ ?doc dct:issued ?d }}
      OPTIONAL {{ ?doc schema:url ?u }}
    }} GROUP BY ?doc ORDER BY ?issued ?doc"""
    out = []
    for doc, title, publisher, issued, url in store.query(query).rows():
        out.append(Source(term_value(doc), *(term_value(t) if t is not None else None
                                       for t in (title, publisher, issued, url))))
    return out


#: How far and how wide an entity page's chain of responses reaches: enough for the
#: exchanges in the curated record, bounded so that a page stays small and fast however
#: connected the graph is.
CHAIN_HOPS = 4
CHAIN_MAX_NODES = 40


def response_chain(store: Store, iri: str, entries: list[TimelineEntry], labels: Labels,
                   classes: ClassIndex | None = None
                   ) -> tuple[list[ChainLink], dict[str, TimelineEntry]]:
    """The chain of responses around the entity: actions linked to it (or to the actions
    of its timeline) by rv:respondsTo in either direction, up to CHAIN_HOPS steps and
    CHAIN_MAX_NODES actions, nearest first."""
    frontier = [iri] + [e.action for e in entries if e.action != iri]
    seen = set(frontier[:CHAIN_MAX_NODES])
    frontier = frontier[:CHAIN_MAX_NODES]
    links: set[ChainLink] = set()
    for _ in range(CHAIN_HOPS):
        around = _responses_around(store, frontier)
        following = []
        for node in frontier:
            for source, target in sorted(around.get(node, ())):
                other = target if source == node else source
                if other not in seen:
                    if len(seen) >= CHAIN_MAX_NODES:
                        continue
                    seen.add(other)
                    following.append(other)
                links.add(ChainLink(source, target))
        frontier = following
        if not frontier:
            break
    links = _with_basis(store, {link for link in links
                                if link.source in seen and link.target in seen}, labels)
    nodes: dict[str, TimelineEntry] = {}
    in_chain = sorted({a for link in links for a in (link.source, link.target)})
    facts = action_kinds_and_states(store, in_chain, labels, classes)
    dates: dict[str, str] = {}
    for action, pairs in values_of(store, in_chain, (RV + "announcedOn",)).items():
        for _, value in pairs:
            if isinstance(value, ox.Literal):
                dates[action] = min(dates.get(action, value.value), value.value)
    for action in in_chain:
        kind, state = facts.get(action, (None, None))
        nodes[action] = TimelineEntry(action=action, label=labels(action),
                                      date=dates.get(action, ""), role="", kind=kind,
                                      state=state)
    return sorted(links, key=lambda x: (x.source, x.target)), nodes


def _responses_around(store: GraphReader, actions: list[str]
                      ) -> dict[str, set[tuple[str, str]]]:
    """For each action, the rv:respondsTo links (source, target) it is part of."""
    around: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for node, pairs in values_of(store, actions, (RV + "respondsTo",)).items():
        around[node] |= {(node, v.value) for _, v in pairs if isinstance(v, ox.NamedNode)}
    for node, subjects in subjects_of(store, actions, RV + "respondsTo").items():
        around[node] |= {(s.value, node) for s in subjects if isinstance(s, ox.NamedNode)}
    return around


def _response_bases(store: GraphReader, sources: list[str]
                    ) -> Iterator[tuple[str, Term | None, Term | None]]:
    """(source, target, basis) of each qualified response of the sources that has both;
    its node is mostly a blank node, which no query can name again, so over an external
    store this is one query along the path per BATCH sources."""
    if not round_trips(store):
        for source, pairs in values_of(store, sources, (RV + "qualifiedResponse",)).items():
            for _, response in pairs:
                if isinstance(response, ox.Literal | ox.Triple):
                    continue
                targets = [q.object for q in store.quads_for_pattern(
                    response, ox.NamedNode(RV + "responseTo"), None, None)]
                bases = [q.object for q in store.quads_for_pattern(
                    response, ox.NamedNode(RV + "responseBasis"), None, None)]
                yield from ((source, t, b) for t in targets for b in bases)
        return
    for chunk in _batches([n for n in (_named(a) for a in sources) if n is not None]):
        query = (f"SELECT ?s ?t ?b WHERE {{ VALUES ?s {{ {_iris(chunk)} }} "
                 f"?s <{RV}qualifiedResponse> ?r . ?r <{RV}responseTo> ?t . "
                 f"?r <{RV}responseBasis> ?b }}")
        for subject, target, value in store.query(query).rows():
            if isinstance(subject, ox.NamedNode):
                yield subject.value, target, value


def _with_basis(store: GraphReader, links: set[ChainLink], labels: Labels) -> set[ChainLink]:
    """The links, each with the basis its qualified response (rv:Response) gives, if any
    (of several, the least IRI)."""
    basis: dict[tuple[str, str], str] = {}
    sources = sorted({link.source for link in links})
    for source, target, value in _response_bases(store, sources):
        if isinstance(target, ox.NamedNode) and isinstance(value, ox.NamedNode):
            key = (source, target.value)
            if key not in basis or value.value < basis[key]:
                basis[key] = value.value
    labels.prefetch(basis.values())
    return {ChainLink(link.source, link.target, basis[key], labels(basis[key]))
            if (key := (link.source, link.target)) in basis else link for link in links}
