"""What the build derives so that every SPARQL engine answers the project's queries alike.

Some things SPARQL 1.1 leaves to the engine, and engines do differ on them: what the
difference of two `xsd:date` values is (a duration `P3D` in Oxigraph, seconds in
Virtuoso), and how a property path inside `FILTER NOT EXISTS` is evaluated (the usual
way to find an entity's most specific classes). Rather than write each query in a form
one engine happens to accept, the build computes these once, in Python, into the graph
<https://w3id.org/rivalry/graph/derived>, with terms the ontology declares:

- `rv:mostSpecificType`: each of an entity's classes of the rivalry ontology that no
  other of its classes is a subclass of (a sanction is a rv:Sanction, not also a
  rv:Measure and a rv:Action);
- `rv:respondsToTransitively`: rv:respondsTo+, each action with every action it
  responds to directly or through others (engines differ on paths with neither end
  bound, and on zero-length paths joined with others);
- `rv:announcedOnDay`, `rv:effectiveOnDay`, `rv:complianceDateDay`: the day number
  (days since 1970-01-01, an xsd:integer) of rv:announcedOn, rv:effectiveOn and
  rv:complianceDate, for dates known to the day (not to the month or year only), so
  that "days between" is a subtraction of integers, which every engine does alike.

The derivation reads the built graph (asserted and inferred triples) and adds to it; it
never changes what was asserted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import pyoxigraph as ox

from rivalry.graph import DERIVED_GRAPH, ONTOLOGY_GRAPH, Subject
from rivalry.ontology import NAMESPACE, RV

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SUBCLASS_OF = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
XSD_DATE = ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")
XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
# terms of the closed namespace: a misspelt one fails at import (and in the type check)
MOST_SPECIFIC_TYPE = ox.NamedNode(RV.mostSpecificType)
RESPONDS_TO = ox.NamedNode(RV.respondsTo)
RESPONDS_TO_TRANSITIVELY = ox.NamedNode(RV.respondsToTransitively)

#: The date properties given a day number, and the property that holds it.
DAY_NUMBERS = {
    str(RV.announcedOn): str(RV.announcedOnDay),
    str(RV.effectiveOn): str(RV.effectiveOnDay),
    str(RV.complianceDate): str(RV.complianceDateDay),
}

EPOCH = date(1970, 1, 1).toordinal()
_DATE = re.compile(r"^(-?\d{4,})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?$")


def day_number(lexical: str) -> int | None:
    """Days from 1970-01-01 to an xsd:date (its time zone, if any, left aside: a date's
    day is the one written); None for a value that is not a date of the calendar."""
    match = _DATE.match(lexical)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).toordinal() - EPOCH
    except ValueError:
        return None


def superclasses(store: ox.Store) -> dict[str, set[str]]:
    """Each class of the ontology graph with all its superclasses (the transitive closure
    of rdfs:subClassOf, the class itself left out)."""
    direct: dict[str, set[str]] = defaultdict(set)
    for q in store.quads_for_pattern(None, SUBCLASS_OF, None, ox.NamedNode(ONTOLOGY_GRAPH)):
        if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.NamedNode):
            direct[q.subject.value].add(q.object.value)
    closure: dict[str, set[str]] = {}

    def up(cls: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if cls not in closure:
            found: set[str] = set()
            for parent in direct.get(cls, ()):
                if parent not in seen and parent != cls:
                    found.add(parent)
                    found |= up(parent, seen | {cls})
            closure[cls] = found
        return closure[cls]

    for cls in list(direct):
        up(cls)
    return closure


def most_specific_types(store: ox.Store, nodes: Iterable[Subject] | None = None
                        ) -> Iterator[ox.Quad]:
    """rv:mostSpecificType of every typed node, or of `nodes` only."""
    closure = superclasses(store)
    if nodes is not None:
        yield from _most_specific_of(store, nodes, closure)
        return
    # Every typed node: one class at a time, so that memory holds one class's members
    # (not every node's types: millions of nodes at a million measures). A node's class
    # is most specific unless the node also has one of the class's subclasses.
    graph = ox.NamedNode(DERIVED_GRAPH)
    used = sorted(row["c"].value for row in store.query(  # type: ignore[union-attr]
        "SELECT DISTINCT ?c WHERE { ?s a ?c FILTER(isIRI(?c)) }",
        use_default_graph_as_union=True) if row["c"].value.startswith(NAMESPACE))
    for cls in used:
        members = {q.subject for q in
                   store.quads_for_pattern(None, RDF_TYPE, ox.NamedNode(cls), None)}
        for sub in used:
            if cls in closure.get(sub, ()):
                for q in store.quads_for_pattern(None, RDF_TYPE, ox.NamedNode(sub), None):
                    members.discard(q.subject)
        node_class = ox.NamedNode(cls)
        for node in members:
            yield ox.Quad(node, MOST_SPECIFIC_TYPE, node_class, graph)


def _most_specific_of(store: ox.Store, nodes: Iterable[Subject],
                      closure: dict[str, set[str]]) -> Iterator[ox.Quad]:
    """rv:mostSpecificType of some nodes, node by node."""
    graph = ox.NamedNode(DERIVED_GRAPH)
    for node in nodes:
        classes = {q.object.value for q in store.quads_for_pattern(node, RDF_TYPE, None, None)
                   if isinstance(q.object, ox.NamedNode)
                   and q.object.value.startswith(NAMESPACE)}
        implied = set().union(*(closure.get(c, set()) for c in classes))
        for cls in sorted(classes - implied):
            yield ox.Quad(node, MOST_SPECIFIC_TYPE, ox.NamedNode(cls), graph)


def response_closure(store: ox.Store) -> list[ox.Quad]:
    """rv:respondsTo+ as pairs (cycles, if any, are walked once)."""
    graph = ox.NamedNode(DERIVED_GRAPH)
    direct: dict[Subject, set[Subject]] = defaultdict(set)
    for q in store.quads_for_pattern(None, RESPONDS_TO, None, None):
        if not isinstance(q.object, ox.Literal):
            direct[q.subject].add(q.object)
    out = []
    for action in direct:
        seen: set = set()
        todo = list(direct[action])
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(direct.get(node, ()))
        out += [ox.Quad(action, RESPONDS_TO_TRANSITIVELY, node, graph)
                for node in sorted(seen, key=str)]
    return out


def day_numbers(store: ox.Store, nodes: Iterable[Subject] | None = None
                ) -> Iterator[ox.Quad]:
    """The day numbers of every node's dates, or of `nodes`' only (each once, however
    many graphs state the date, or dates of the same day)."""
    graph = ox.NamedNode(DERIVED_GRAPH)
    subjects = [None] if nodes is None else list(nodes)
    for prop, day_prop in DAY_NUMBERS.items():
        target = ox.NamedNode(day_prop)
        seen: set[tuple[Subject, int]] = set()  # one property's at a time
        for subject in subjects:
            for q in store.quads_for_pattern(subject, ox.NamedNode(prop), None, None):
                value = q.object
                if isinstance(value, ox.Literal) and value.datatype == XSD_DATE:
                    n = day_number(value.value)
                    if n is not None and (q.subject, n) not in seen:
                        seen.add((q.subject, n))
                        yield ox.Quad(q.subject, target,
                                      ox.Literal(str(n), datatype=XSD_INTEGER), graph)


def derived_quads(store: ox.Store) -> Iterator[ox.Quad]:
    """The derived graph of a build: its quads, to be added to it, each once. They come
    as they are computed (a million measures derive millions), so that the caller can
    write them in batches rather than hold them all."""
    yield from most_specific_types(store)
    yield from response_closure(store)
    yield from day_numbers(store)


@dataclass
class DerivedChange:
    """What a change to the union does to the derived graph (the quads to remove from it
    and to add to it), and how much of it was computed again."""

    removed: list[ox.Quad]
    added: list[ox.Quad]
    typed: int  # nodes whose most specific types were computed again
    dated: int  # nodes whose day numbers were computed again
    responses: bool  # whether rv:respondsTo+ was computed again


def derived_change(store: ox.Store, changed: Iterable[ox.Triple]) -> DerivedChange:
    """How the derived graph in `store` (derived from the union before the change) must
    change for the union as it is now, which differs by the triples `changed` (added or
    removed): applied to it, the result is the graph `derived_quads` gives, computing again
    only what those triples can change. Each derived value depends on one node's own
    triples (its rdf:type, its dates) or, for rv:respondsTo+, on the rv:respondsTo triples
    alone; the ontology, which the most specific types also depend on, is the same (a
    build that changes it is full). The derived graph's own triples change nothing here:
    its properties are none of those these values are computed from."""
    typed: set[Subject] = set()
    dated: set[Subject] = set()
    responses = False
    for t in changed:
        predicate = t.predicate.value
        if predicate == RDF_TYPE.value:
            typed.add(t.subject)
        elif predicate in DAY_NUMBERS:
            dated.add(t.subject)
        elif predicate == RESPONDS_TO.value:
            responses = True
    graph = ox.NamedNode(DERIVED_GRAPH)
    old: list[ox.Quad] = []
    for node in typed:
        old += store.quads_for_pattern(node, MOST_SPECIFIC_TYPE, None, graph)
    for node in dated:
        for day_property in DAY_NUMBERS.values():
            old += store.quads_for_pattern(node, ox.NamedNode(day_property), None, graph)
    if responses:
        old += store.quads_for_pattern(None, RESPONDS_TO_TRANSITIVELY, None, graph)
    fresh = list(most_specific_types(store, typed)) if typed else []
    fresh += day_numbers(store, dated) if dated else []
    fresh += response_closure(store) if responses else []
    before, after = set(old), set(fresh)
    return DerivedChange([q for q in old if q not in after],
                         [q for q in fresh if q not in before],
                         len(typed), len(dated), responses)
