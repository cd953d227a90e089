"""Updates of the search index (rivalry.graph.search.update_search_index) when an entity
becomes searchable: it gets an id between its neighbours', the rows that name it are
written again, and the result is a full build's index but for the numbers of new ids;
the cases an update cannot stand for are written whole, saying why."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyoxigraph as ox
import pytest

from rivalry.graph import GRAPH_BASE, ID_BASE, ONTOLOGY_GRAPH, search
from rivalry.graph.search import INDEX_FILE, build_search_index, update_search_index
from rivalry.ontology import NAMESPACE, ontology_file

from .conftest import search_index_rows

A = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
SUB_ORGANIZATION_OF = ox.NamedNode("http://www.w3.org/ns/org#subOrganizationOf")
FACTS = ox.NamedNode(GRAPH_BASE + "test")


def rv(local: str) -> ox.NamedNode:
    return ox.NamedNode(NAMESPACE + local)


def entity(path: str) -> ox.NamedNode:
    return ox.NamedNode(ID_BASE + path)


def company(path: str, name: str) -> list[ox.Triple]:
    """A company as a build leaves it: its class and the searchable one above it."""
    node = entity(path)
    return [ox.Triple(node, A, rv("Company")), ox.Triple(node, A, rv("Actor")),
            ox.Triple(node, LABEL, ox.Literal(name, language="en"))]


MEASURE = entity("action/test-listing")
#: A measure that targets company/c, which is not typed: not searchable, yet named.
BEFORE = [*company("company/a", "Alpha Test"), *company("company/z", "Zulu Test"),
          ox.Triple(MEASURE, A, rv("Measure")), ox.Triple(MEASURE, A, rv("Action")),
          ox.Triple(MEASURE, LABEL, ox.Literal("A test listing", language="en")),
          ox.Triple(MEASURE, rv("targets"), entity("company/c")),
          ox.Triple(entity("company/c"), LABEL, ox.Literal("Charlie Test", language="en"))]
TYPED = [ox.Triple(entity("company/c"), A, rv("Company")),
         ox.Triple(entity("company/c"), A, rv("Actor"))]


def store_of(triples: list[ox.Triple]) -> ox.Store:
    db = ox.Store()
    db.load(ontology_file().read_bytes(), format=ox.RdfFormat.TURTLE,
            to_graph=ox.NamedNode(ONTOLOGY_GRAPH))
    db.extend([ox.Quad(t.subject, t.predicate, t.object, FACTS) for t in triples])
    return db


def update(tmp_path: Path, before: list[ox.Triple], after: list[ox.Triple]
           ) -> tuple[str | None, Path, Path]:
    """The index of `before`, updated for `after`, and `after`'s written whole."""
    build_search_index(store_of(before), tmp_path / "before")
    changed = set(before) ^ set(after)
    db = store_of(after)
    _, reason = update_search_index(db, tmp_path / "before" / INDEX_FILE,
                                    tmp_path / "updated", changed)
    build_search_index(db, tmp_path / "whole")
    return reason, tmp_path / "updated" / INDEX_FILE, tmp_path / "whole" / INDEX_FILE


def test_an_entity_becoming_searchable_gets_an_id_and_the_rows_naming_it(
        tmp_path: Path) -> None:
    reason, updated, whole = update(tmp_path, BEFORE, BEFORE + TYPED)
    assert reason is None
    rows = search_index_rows(updated)  # the ids keep the IRIs' order (checked there)
    assert rows == search_index_rows(whole)
    # the measure names it as its target: that row was written again with its id
    assert repr([ID_BASE + "company/c", MEASURE.value]) in rows["target"]
    assert any("Charlie Test" in row for row in rows["name"])


def test_a_new_entity_in_the_organization_hierarchy_is_written_whole(
        tmp_path: Path) -> None:
    parent = [ox.Triple(entity("company/a"), SUB_ORGANIZATION_OF, entity("company/c"))]
    reason, updated, whole = update(tmp_path, BEFORE + parent, BEFORE + parent + TYPED)
    assert reason is not None and "org:subOrganizationOf hierarchy" in reason
    assert search_index_rows(updated) == search_index_rows(whole)


def test_an_entity_no_longer_searchable_is_written_whole(tmp_path: Path) -> None:
    reason, updated, whole = update(tmp_path, BEFORE + TYPED, BEFORE)
    assert reason == "the change makes an entity no longer searchable"
    assert search_index_rows(updated) == search_index_rows(whole)


def test_new_ids_keep_the_order_and_need_room() -> None:
    gap = 1 << search.ID_GAP_BITS
    ids = {"b": gap, "d": 2 * gap}
    found = search._new_ids(ids, ["e", "a", "c2", "c1", "f"])
    order = sorted({**ids, **found}.items(), key=lambda kv: kv[1])
    assert [iri for iri, _ in order] == ["a", "b", "c1", "c2", "d", "e", "f"]
    assert found["e"] == 3 * gap and found["f"] == 4 * gap
    assert 0 < found["a"] < gap
    assert search._new_ids(ids, []) == {}
    with pytest.raises(search._WriteWhole, match="no room for a new id between b and d"):
        search._new_ids({"b": 7, "d": 9}, ["c1", "c2"])


def test_an_index_written_whole_has_the_schema_an_update_keeps(tmp_path: Path) -> None:
    """A full build creates the secondary indexes once the rows are in (rather than
    inserting into indexed tables): the file ends with the same schema, every index
    included, as an update (a copy of the previous index) keeps, and lookups by a name's
    key use its index."""
    _, updated, whole = update(tmp_path, BEFORE, BEFORE + TYPED)

    def schema(path: Path) -> list[tuple[str, ...]]:
        with sqlite3.connect(path) as db:
            return sorted(db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                     "WHERE name NOT LIKE 'sqlite_stat%'"))

    assert schema(updated) == schema(whole)
    indexes = {name for kind, name, _, _ in schema(whole) if kind == "index"}
    assert {"entity_country", "entity_wikidata", "name_key", "name_compact", "name_entity",
            "in_force_measure", "source_measure"} <= indexes
    with sqlite3.connect(whole) as db:
        plan = db.execute("EXPLAIN QUERY PLAN SELECT id FROM name WHERE key = ?",
                          ("alpha test",)).fetchall()
    assert "name_key" in str(plan)
