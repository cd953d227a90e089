"""The derived graph (rivalry.graph.derive): most specific types, day numbers, and the
build's derive phase, which writes them in batches as they are computed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox
import pytest

from rivalry.graph import DERIVED_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH
from rivalry.graph import build as build_module
from rivalry.graph.build import Phases, derive_phase
from rivalry.graph.derive import (
    day_numbers,
    derived_change,
    derived_quads,
    most_specific_types,
)
from rivalry.ontology import NAMESPACE

TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SUBCLASS = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
DATE = ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")
ONTOLOGY = ox.NamedNode(ONTOLOGY_GRAPH)
INFERRED = ox.NamedNode(INFERRED_GRAPH)
FACTS = ox.NamedNode("https://w3id.org/rivalry/graph/facts/test")
OTHER = ox.NamedNode("https://w3id.org/rivalry/graph/facts/other")


def rv(name: str) -> ox.NamedNode:
    return ox.NamedNode(NAMESPACE + name)


def node(name: str) -> ox.NamedNode:
    return ox.NamedNode(f"https://w3id.org/rivalry/id/test/{name}")


@pytest.fixture()
def store() -> ox.Store:
    """Action > Measure > Sanction, Action > Statement; types asserted in the facts and
    inferred, some of them twice; an rv class the ontology does not declare; dates."""
    s = ox.Store()
    s.extend([
        ox.Quad(rv("Measure"), SUBCLASS, rv("Action"), ONTOLOGY),
        ox.Quad(rv("Sanction"), SUBCLASS, rv("Measure"), ONTOLOGY),
        ox.Quad(rv("Statement"), SUBCLASS, rv("Action"), ONTOLOGY),
        # a sanction: asserted, its superclasses inferred (and one asserted again)
        ox.Quad(node("s"), TYPE, rv("Sanction"), FACTS),
        ox.Quad(node("s"), TYPE, rv("Measure"), INFERRED),
        ox.Quad(node("s"), TYPE, rv("Action"), INFERRED),
        ox.Quad(node("s"), TYPE, rv("Action"), FACTS),
        # a measure that is also a statement: two most specific types
        ox.Quad(node("m"), TYPE, rv("Measure"), FACTS),
        ox.Quad(node("m"), TYPE, rv("Statement"), OTHER),
        ox.Quad(node("m"), TYPE, rv("Action"), INFERRED),
        # a class of no other namespace counts for nothing; an undeclared rv class is
        # most specific (nothing in the ontology is below it)
        ox.Quad(node("x"), TYPE, ox.NamedNode("http://www.w3.org/ns/prov#Entity"), FACTS),
        ox.Quad(node("x"), TYPE, rv("Undeclared"), FACTS),
        ox.Quad(ox.BlankNode("b"), TYPE, rv("Action"), FACTS),
        # dates: the same day twice (two graphs, and a time zone), a month only, a date
        # that is not in the calendar
        ox.Quad(node("s"), rv("announcedOn"), ox.Literal("2025-01-02", datatype=DATE), FACTS),
        ox.Quad(node("s"), rv("announcedOn"), ox.Literal("2025-01-02", datatype=DATE), OTHER),
        ox.Quad(node("s"), rv("announcedOn"), ox.Literal("2025-01-02Z", datatype=DATE), OTHER),
        ox.Quad(node("s"), rv("effectiveOn"), ox.Literal("2025-01-03", datatype=DATE), FACTS),
        ox.Quad(node("m"), rv("announcedOn"), ox.Literal("2025-01"), FACTS),
        ox.Quad(node("m"), rv("effectiveOn"), ox.Literal("2025-02-30", datatype=DATE), FACTS),
    ])
    return s


def triples(quads: Iterable[ox.Quad]) -> set[tuple[str, str, str]]:
    return {(str(q.subject), q.predicate.value, str(q.object)) for q in quads}


def test_most_specific_types_of_every_node(store: ox.Store) -> None:
    found = {(str(q.subject), q.object.value) for q in most_specific_types(store)}
    assert found == {
        (str(node("s")), NAMESPACE + "Sanction"),
        (str(node("m")), NAMESPACE + "Measure"),
        (str(node("m")), NAMESPACE + "Statement"),
        (str(node("x")), NAMESPACE + "Undeclared"),
        (str(ox.BlankNode("b")), NAMESPACE + "Action"),
    }


def test_node_by_node_gives_what_the_whole_graph_gives(store: ox.Store) -> None:
    nodes = [node("s"), node("m"), node("x"), ox.BlankNode("b")]
    assert triples(most_specific_types(store, nodes)) == triples(most_specific_types(store))
    assert triples(day_numbers(store, nodes)) == triples(day_numbers(store))


def test_day_numbers_once_per_day(store: ox.Store) -> None:
    days = [(q.subject, q.predicate.value, q.object.value) for q in day_numbers(store)]
    # 2025-01-02 is day 20090 since 1970-01-01, stated three times; the month and the
    # 30th of February give none
    assert sorted(days, key=str) == [
        (node("s"), NAMESPACE + "announcedOnDay", "20090"),
        (node("s"), NAMESPACE + "effectiveOnDay", "20091"),
    ]


@pytest.mark.parametrize("on_disk", [False, True])
def test_derive_phase_writes_in_batches_what_one_batch_would(
        store: ox.Store, on_disk: bool, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if on_disk:  # bulk loaded, batch by batch, into a database on disk
        memory, store = store, ox.Store(str(tmp_path / "db"))
        store.extend(memory.quads_for_pattern(None, None, None, None))
    whole = triples(derived_quads(store))
    assert len(whole) == 7
    monkeypatch.setattr(build_module, "DERIVE_BATCH", 2)
    store.add(ox.Quad(node("stale"), rv("mostSpecificType"), rv("Action"),
                      ox.NamedNode(DERIVED_GRAPH)))
    lines: list[str] = []
    written = derive_phase(store, Phases(lines.append, None), on_disk=on_disk)
    assert written == 7
    graph = store.quads_for_pattern(None, None, None, ox.NamedNode(DERIVED_GRAPH))
    assert triples(graph) == whole  # the stale triple is gone, every batch is in
    assert "derive: 7 triples into" in lines[-1]


def test_a_change_applied_gives_the_graph_computed_again(store: ox.Store) -> None:
    derive_phase(store, Phases(lambda _: None, None))
    change = [ox.Triple(node("m"), TYPE, rv("Sanction")),
              ox.Triple(node("s"), rv("effectiveOn"), ox.Literal("2025-01-04", datatype=DATE))]
    store.add(ox.Quad(node("m"), TYPE, rv("Sanction"), FACTS))
    store.remove(ox.Quad(node("s"), rv("effectiveOn"),
                         ox.Literal("2025-01-03", datatype=DATE), FACTS))
    store.add(ox.Quad(node("s"), rv("effectiveOn"),
                      ox.Literal("2025-01-04", datatype=DATE), FACTS))
    applied = derived_change(store, change)
    graph = ox.NamedNode(DERIVED_GRAPH)
    for q in applied.removed:
        store.remove(q)
    store.extend(applied.added)
    assert triples(store.quads_for_pattern(None, None, None, graph)) \
        == triples(derived_quads(store))
    assert (applied.typed, applied.dated) == (1, 1)
