"""Describing one entity: the triples a linked-data client gets when it dereferences an
IRI, and what an entity's page shows. Labels of classes and properties come from the
ontology graph, so nothing here is written per class."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import pyoxigraph as ox

from rivalry.graph import DERIVED_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH, Term, term_value
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
    """Labels of IRIs, read from the store, English preferred."""

    def __init__(self, store: GraphReader, language: str = "en") -> None:
        self.store = store
        self.language = language
        self._cache: dict[str, str | None] = {}

    def get(self, iri: str) -> str | None:
        """The node's label, or None; `iri` may also be a blank node's label (no label)."""
        if iri not in self._cache:
            try:
                node = ox.NamedNode(iri)
            except ValueError:  # a blank node, as a SELECT gives it: it has no label here
                self._cache[iri] = None
                return None
            found: dict[str, str] = {}
            for prop in LABEL_PROPERTIES:
                for q in self.store.quads_for_pattern(node, ox.NamedNode(prop), None, None):
                    if isinstance(q.object, ox.Literal):
                        found.setdefault(q.object.language or "", q.object.value)
                if found:
                    break
            self._cache[iri] = (found.get(self.language) or found.get("")
                                or next(iter(found.values()), None))
        return self._cache[iri]

    def __call__(self, iri: str, fallback: str | None = None) -> str:
        return self.get(iri) or fallback or iri


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
        direct: dict[str, set[str]] = defaultdict(set)
        for q in store.quads_for_pattern(None, ox.NamedNode(RDFS + "subPropertyOf"), None,
                                         onto):
            if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.NamedNode):
                direct[q.subject.value].add(q.object.value)
        supers: dict[str, set[str]] = {}
        for prop in direct:
            found: set[str] = set()
            todo = list(direct[prop])
            while todo:
                current = todo.pop()
                if current not in found:
                    found.add(current)
                    todo += direct.get(current, ())
            supers[prop] = found
        return cls(inverse, supers)

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
                    out[p][key] = _value(q.object, labels)
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
                    shown[str(s)] = _value(s, labels)
            totals[inverse] = max(totals.get(inverse, 0), total, len(shown))
            continue
        incoming.append((p, total))
    # a value shown under a property is not repeated under its super-properties
    # (rv:issuingState, not also rv:issuingPolity; rv:targets, not also sem:hasActor)
    present = set(out)
    outgoing = []
    for p, values in out.items():
        subs = props.subs_of(p, present)
        covered = {k for sub in subs for k in out[sub]}
        kept = [v for k, v in values.items() if k not in covered]
        if kept:
            total = totals[p] - (len(values) - len(kept))
            more = _objects_query(iri, p) if total > len(kept) else None
            outgoing.append(Relation(p, property_label(labels, p), _sorted(kept), total, more))
    referred = []
    present_in = {p for p, _ in incoming}
    for p, total in incoming:
        subs = props.subs_of(p, present_in)
        if subs:
            total = _count_residual(store, iri, p, subs)
            if not total:
                continue
        shown_values = [_value(s, labels)
                        for s in _subjects(store, iri, p, VALUES_SHOWN, subs)]
        more = None if total <= len(shown_values) else _subjects_query(iri, p, subs)
        referred.append(Relation(p, property_label(labels, p), _sorted(shown_values), total,
                                 more))
    view = EntityView(
        iri=iri,
        label=labels(iri, iri.rsplit("/", 1)[-1]),
        types=_most_specific(store, types, labels),
        comments=comments,
        outgoing=sorted(outgoing, key=lambda r: r.label.lower()),
        incoming=sorted(referred, key=lambda r: r.label.lower()),
    )
    view.timeline = timeline(store, iri, labels)
    view.sources = sources(store, iri)
    view.chain, view.chain_nodes = response_chain(store, iri, view.timeline, labels)
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


def _value(term: Term, labels: Labels) -> Value:
    return Value(term, labels.get(term.value) if isinstance(term, ox.NamedNode) else None)


def _sorted(values: list[Value]) -> list[Value]:
    return sorted(values, key=lambda x: (x.label or str(x.term)).lower())


def _most_specific(store: Store, types: list[str],
                   labels: Labels) -> list[tuple[str, str]]:
    """The entity's classes minus those implied by another of them."""
    sub = ox.NamedNode(RDFS + "subClassOf")
    implied: set[str] = set()
    for t in types:
        todo = [t]
        while todo:
            current = todo.pop()
            for q in store.quads_for_pattern(ox.NamedNode(current), sub, None,
                                                ox.NamedNode(ONTOLOGY_GRAPH)):
                if isinstance(q.object, ox.NamedNode) and q.object.value not in implied:
                    implied.add(q.object.value)
                    todo.append(q.object.value)
    chosen = [t for t in types if t not in implied] or types
    return sorted(((t, labels(t, t.rsplit("#", 1)[-1])) for t in set(chosen)),
                  key=lambda x: x[1])


def timeline(store: Store, iri: str, labels: Labels) -> list[TimelineEntry]:
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
    entries = [_entry(store, action, date, found, labels) for (date, action), found in latest]
    if entries and (more or len(roles) > TIMELINE_MAX):
        entries[0].omitted = len(roles) - len(entries) if not more else -1
    return entries


#: The most actions an entity's timeline lists (the latest ones); the page links to the
#: filtered list of all of them.
TIMELINE_MAX = 200


def _entry(store: Store, action: str, date: str, roles: list[str],
           labels: Labels) -> TimelineEntry:
    names = [labels(RV + role.split(":", 1)[1], role) for role in roles]
    return TimelineEntry(action=action, label=labels(action), date=date,
                         role=", ".join(names), kind=_kind(store, action, labels),
                         state=_state(store, action, labels))


def _kind(store: Store, action: str, labels: Labels) -> str | None:
    types = [term_value(q.object) for q in store.quads_for_pattern(
        ox.NamedNode(action), ox.NamedNode(RDF_TYPE), None, None)]
    chosen = _most_specific(store, [t for t in types if t.startswith(RV)], labels)
    return chosen[0][1] if chosen else None


def _state(store: Store, action: str, labels: Labels) -> str | None:
    """The issuing state or union; for a company's or organization's action, the issuer's
    country."""
    node = ox.NamedNode(action)
    q = next(store.quads_for_pattern(node, ox.NamedNode(RV + "issuingPolity"), None, None),
             None)
    if q is None:
        issuer = next(store.quads_for_pattern(node, ox.NamedNode(RV + "issuedBy"), None,
                                                 None), None)
        if issuer is not None and not isinstance(issuer.object, ox.Literal):
            q = next(store.quads_for_pattern(issuer.object, ox.NamedNode(RV + "country"),
                                                None, None), None)
    return labels(term_value(q.object)) if q is not None else None


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


def response_chain(store: Store, iri: str, entries: list[TimelineEntry],
                   labels: Labels) -> tuple[list[ChainLink], dict[str, TimelineEntry]]:
    """The chain of responses around the entity: actions linked to it (or to the actions
    of its timeline) by rv:respondsTo in either direction, up to CHAIN_HOPS steps and
    CHAIN_MAX_NODES actions, nearest first."""
    responds = ox.NamedNode(RV + "respondsTo")
    frontier = [iri] + [e.action for e in entries if e.action != iri]
    seen = set(frontier[:CHAIN_MAX_NODES])
    frontier = frontier[:CHAIN_MAX_NODES]
    links: set[ChainLink] = set()
    for _ in range(CHAIN_HOPS):
        following = []
        for node in frontier:
            n = ox.NamedNode(node)
            neighbours = [(node, q.object.value) for q in
                          store.quads_for_pattern(n, responds, None, None)
                          if isinstance(q.object, ox.NamedNode)]
            neighbours += [(q.subject.value, node) for q in
                           store.quads_for_pattern(None, responds, n, None)
                           if isinstance(q.subject, ox.NamedNode)]
            for source, target in sorted(set(neighbours)):
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
    links = {_with_basis(store, link, labels) for link in links
             if link.source in seen and link.target in seen}
    nodes: dict[str, TimelineEntry] = {}
    for link in sorted(links, key=lambda x: (x.source, x.target)):
        for action in (link.source, link.target):
            if action not in nodes:
                date = next(store.quads_for_pattern(
                    ox.NamedNode(action), ox.NamedNode(RV + "announcedOn"), None, None), None)
                nodes[action] = TimelineEntry(
                    action=action, label=labels(action),
                    date=term_value(date.object) if date else "",
                    role="", kind=_kind(store, action, labels),
                    state=_state(store, action, labels))
    return sorted(links, key=lambda x: (x.source, x.target)), nodes


def _with_basis(store: Store, link: ChainLink, labels: Labels) -> ChainLink:
    """The link with the basis its qualified response (rv:Response) gives, if any."""
    for q in store.quads_for_pattern(ox.NamedNode(link.source),
                                     ox.NamedNode(RV + "qualifiedResponse"), None, None):
        response = q.object
        if isinstance(response, ox.Literal):
            continue
        if next(store.quads_for_pattern(response, ox.NamedNode(RV + "responseTo"),
                                        ox.NamedNode(link.target), None), None) is None:
            continue
        basis = next(store.quads_for_pattern(response, ox.NamedNode(RV + "responseBasis"),
                                             None, None), None)
        if basis is not None and isinstance(basis.object, ox.NamedNode):
            return ChainLink(link.source, link.target, basis.object.value,
                             labels(basis.object.value))
    return link
