"""The store contract (rivalry.graph.store.Store), checked the same way on the embedded
store and on every external SPARQL server CI proves, against the embedded store's
answers: code that reads the graph never needs to know which store it has."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from rivalry.graph import META_GRAPH, ONTOLOGY_GRAPH
from rivalry.graph.errors import QueryError, QuerySyntaxError
from rivalry.graph.remote import RemoteStore
from rivalry.graph.search import INDEX_FILE
from rivalry.graph.store import BuildInfo, EmbeddedStore, QueryLimits, Store

RDFS = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
RV = "PREFIX rv: <https://w3id.org/rivalry/ontology#>\n"
CN = ox.NamedNode("https://w3id.org/rivalry/id/state/cn")
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")


def quad_set(quads) -> set[str]:  # noqa: ANN001
    return {str(q) for q in quads}


def check_contract(store: Store, reference: EmbeddedStore) -> None:
    assert isinstance(store, Store)
    store.confirm_build_id()  # answers since the last confirmation: none before this test
    info = store.info
    assert isinstance(info, BuildInfo) and info.content_hash == reference.info.content_hash
    assert store.known_build_id == info.build_id
    assert store.pending_load() is None
    assert store.named_graphs() == reference.named_graphs()
    assert store.graph_sizes() == reference.graph_sizes()
    assert (store.files_dir / INDEX_FILE).is_file()
    assert store.cache_dir.parent == store.files_dir

    # trusted queries: bindings, the three forms, a dataset of the caller's
    select = RDFS + "SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?label"
    rows = [r[1] for r in store.query(select, bindings={"s": CN}).rows()]
    assert rows == [r[1] for r in reference.query(select, bindings={"s": CN}).rows()] and rows
    assert store.query(RV + "ASK { ?m a rv:Sanction }").boolean is True
    assert store.query(RV + "ASK { ?m a rv:NoSuchClass }").boolean is False
    construct = RV + "CONSTRUCT { ?m rv:announcedOn ?d } WHERE { ?m a rv:Sanction ; " \
                     "rv:announcedOn ?d }"
    assert set(store.query(construct).triples()) == set(reference.query(construct).triples())
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert [r[0] for r in store.query(count, default_graph_uris=[META_GRAPH]).rows()] == \
        [r[0] for r in reference.query(count, default_graph_uris=[META_GRAPH]).rows()]
    assert store.confirm_build_id() == info.build_id

    # public queries: checked, capped, answered natively in the asked format
    limits = QueryLimits(row_limit=3, time_limit=30)
    capped = store.execute("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", limits)
    assert len(capped.rows) == 3 and capped.truncated and capped.limit == 3
    with pytest.raises(QueryError):
        store.execute("DROP ALL", limits)
    with pytest.raises(QueryError):
        store.execute("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", limits)
    with pytest.raises(QueryError, match="max_query_depth"):
        store.execute("ASK " + "{" * 500 + "}" * 500, limits)
    with pytest.raises(QueryError, match="max_query_tokens"):  # a chain: flat, but nested
        store.execute("ASK { FILTER(" + "+".join(["1"] * 20_000) + " > 0) }", limits)
    broken = "SELECT ?x WHERE { ?x ?y "
    with pytest.raises(QuerySyntaxError) as ours:
        store.execute(broken, limits)
    with pytest.raises(QuerySyntaxError) as theirs:
        reference.execute(broken, limits)
    assert ours.value.message == theirs.value.message
    ask = RV + "ASK { ?m a rv:Sanction }"
    json_format = ox.QueryResultsFormat.JSON

    def fmt(kind: str) -> ox.QueryResultsFormat:
        return json_format

    assert store.execute(ask, limits, result_format=fmt).body == \
        reference.execute(ask, limits, result_format=fmt).body

    # quads: by pattern, in a graph, of a graph, of a graph the build lacks
    assert quad_set(store.quads_for_pattern(CN, None, None)) == \
        quad_set(reference.quads_for_pattern(CN, None, None))
    assert quad_set(store.quads_for_pattern(None, LABEL, None, ox.NamedNode(META_GRAPH))) == \
        quad_set(reference.quads_for_pattern(None, LABEL, None, ox.NamedNode(META_GRAPH)))
    assert quad_set(store.quads(ONTOLOGY_GRAPH)) == quad_set(reference.quads(ONTOLOGY_GRAPH))
    missing = ox.NamedNode("https://w3id.org/rivalry/graph/no-such-graph")
    assert list(store.quads_for_pattern(None, None, None, missing)) == []
    store.refresh()
    assert store.info.build_id == info.build_id


def test_the_embedded_store_keeps_the_contract(store_dir: Path) -> None:
    check_contract(EmbeddedStore(store_dir), EmbeddedStore(store_dir))


def test_external_stores_keep_the_contract(remote: RemoteStore, store_dir: Path) -> None:
    check_contract(remote, EmbeddedStore(store_dir))
