"""End to end over each external SPARQL server CI proves (Oxigraph server, Virtuoso), against
the embedded store: the build loads, and the canned queries, pages, counts, stats, dumps,
VoID and the endpoint's answers agree, whatever the server holds besides rivalry's graphs
(tests/external.py says how the servers are given or started)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient

from rivalry.graph import GRAPH_BASE, ID_BASE, ONTOLOGY_GRAPH
from rivalry.graph.build import build
from rivalry.graph.canned import canned_queries, run_canned
from rivalry.graph.errors import ExternalStoreError
from rivalry.graph.export import DUMPS
from rivalry.graph.remote import BUILD_GRAPH, UNION_GRAPH_BASE, RemoteStore
from rivalry.graph.store import EmbeddedStore, QueryLimits
from rivalry.server import create_app

from .conftest import CURATED_FACTS, DATA
from .test_linked_data import check_description

RV = "PREFIX rv: <https://w3id.org/rivalry/ontology#>\n"
OWL = "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n"

#: Pages of every kind, compared whole with the embedded store's.
PAGES = [
    "/", "/browse", "/browse/actions", "/browse/actions?page=2",
    "/browse/actions?state=https%3A%2F%2Fw3id.org%2Frivalry%2Fid%2Fstate%2Fcn",
    "/browse/actions?type=https%3A%2F%2Fw3id.org%2Frivalry%2Fontology%23Sanction&year=2025",
    "/browse/actions.csv", "/browse/actions.json?page=2",
    "/browse/type?class=https%3A//w3id.org/rivalry/ontology%23Company",
    "/browse/type?class=https%3A//w3id.org/rivalry/ontology%23SourceDocument&page=3",
    "/timeline", "/timeline?year=2025", "/stats",
    "/id/state/cn.html", "/id/state/us.html", "/id/company/huawei.html",
    "/id/action/us-bis-2022-10-07-advcomp.html", "/id/action/us-ofac-2025-01-03-integrity.html",
    "/id/agency/us-bis.html", "/id/source/treasury-jy2769.html",
    "/id/technology/advanced-computing-ics.html",
    "/id/state/cn.ttl", "/id/company/huawei.jsonld", "/id/action/us-bis-2022-10-07-advcomp.nt",
    "/graph/inferred.html", "/graph/derived.html", "/graph/meta.html", "/graph/ontology.html",
    "/graph/facts/events/2018-04-zte-denial-order.html",
    "/graph/facts/events/2018-04-zte-denial-order.ttl",
    "/.well-known/void.ttl", "/.well-known/void.html", "/data",
    "/search?q=huawei&format=json", "/search?q=%E5%8D%8E%E4%B8%BA",
    "/reconcile?queries=" + urllib.parse.quote(json.dumps({"q0": {"query": "ZTE"}})),
    "/id/state/atlantis.ttl",
]


def normalized(body: bytes) -> str:
    """A response without what differs by nature between two builds of the same facts
    (their ids and times)."""
    text = body.decode("utf-8", "replace")
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{12}", "BUILD", text)
    return re.sub(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "TIME", text)


@pytest.fixture
def remote_app(external, remote: RemoteStore) -> Flask:  # noqa: ANN001
    app = create_app({**external.settings, "cache_dir": str(remote.cache_root)})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def remote_client(remote_app: Flask) -> FlaskClient:
    return remote_app.test_client()


def server_query(external, query: str) -> list[dict]:  # noqa: ANN001
    """A query sent to the server as it is (no dataset): what the server itself holds."""
    url = external.sparql + "?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["results"]["bindings"]


# --- the build ------------------------------------------------------------------------------


def test_build_loads_every_graph_and_their_union(external, remote: RemoteStore,  # noqa: ANN001
                                                 store_dir: Path) -> None:
    embedded = EmbeddedStore(store_dir)
    assert remote.named_graphs() == embedded.named_graphs()
    assert remote.graph_sizes() == embedded.graph_sizes()
    assert remote.info.content_hash == embedded.info.content_hash
    assert remote.pending_load() is None
    on_server = {b["g"]["value"] for b in server_query(
        external, "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}
    assert set(embedded.named_graphs()) | {BUILD_GRAPH} <= on_server
    unions = [g for g in on_server if g.startswith(UNION_GRAPH_BASE)]
    assert unions == [UNION_GRAPH_BASE + remote.info.build_id]
    if external.name == "virtuoso":  # writes took Digest, as Virtuoso asks
        assert remote._auth.scheme == "digest"


def test_the_servers_own_graphs_never_show(external, remote: RemoteStore,  # noqa: ANN001
                                           remote_client: FlaskClient,
                                           client: FlaskClient) -> None:
    others = {b["g"]["value"] for b in server_query(
        external, "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        if not b["g"]["value"].startswith(GRAPH_BASE)}
    if external.name == "virtuoso":
        assert "http://www.openlinksw.com/schemas/virtrdf#" in others  # they are there
    for query in ("SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }",
                  "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?s a ?c }",
                  "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g",
                  "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"):
        answers = [c.get("/sparql", query_string={"query": query},
                         headers={"Accept": "text/csv"}).data for c in (remote_client, client)]
        assert answers[0] == answers[1], query


@pytest.mark.parametrize("query", canned_queries(), ids=lambda q: q.name)
def test_canned_queries_agree(query, remote: RemoteStore, store_dir: Path) -> None:  # noqa: ANN001
    def rows(store) -> list[tuple]:  # noqa: ANN001
        return [tuple(str(t) for t in row) for row in run_canned(store, query).rows]

    assert rows(remote) == rows(EmbeddedStore(store_dir))


@pytest.mark.parametrize("path", PAGES)
def test_pages_agree(path: str, remote_client: FlaskClient, client: FlaskClient) -> None:
    over_remote, embedded = remote_client.get(path), client.get(path)
    assert over_remote.status_code == embedded.status_code
    assert normalized(over_remote.data) == normalized(embedded.data)


@pytest.mark.parametrize("graph", ["facts/events/2018-04-zte-denial-order", "inferred",
                                   "derived", "meta", "facts/none"])
def test_graph_store_agrees(graph: str, remote_client: FlaskClient,
                            client: FlaskClient) -> None:
    """/rdf-graph-store reads a named graph from the external store through its quads:
    the same triples as the embedded store writes natively (or the same 404)."""
    path = "/rdf-graph-store?graph=" + urllib.parse.quote(
        f"https://w3id.org/rivalry/graph/{graph}", safe="")
    answers = [c.get(path, headers={"Accept": "application/n-triples"})
               for c in (remote_client, client)]
    assert answers[0].status_code == answers[1].status_code == (
        404 if graph == "facts/none" else 200)
    if graph != "facts/none":
        lines = [sorted(a.get_data(as_text=True).splitlines()) for a in answers]
        assert lines[0] == lines[1] and len(lines[0]) > 10


def test_dumps_and_void(remote_client: FlaskClient, client: FlaskClient) -> None:
    with remote_client.get("/data/rivalry.nq.gz") as response:
        quads = gzip.decompress(response.data).decode().strip().splitlines()
    with client.get("/data/rivalry.nq") as response:
        embedded = response.data.decode().strip().splitlines()
    # both written by the build from the same graph (rivalry.graph.products): the same quads
    assert sorted(quads) == sorted(embedded)
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    counts = []
    for c in (remote_client, client):
        g = rdflib.Graph().parse(data=c.get("/.well-known/void.ttl").data, format="turtle")
        counts.append(int(g.value(rdflib.URIRef("https://w3id.org/rivalry/dataset"),
                                  void.entities)))
    assert counts[0] == counts[1]


def test_dumps_read_from_the_server_agree(remote_client: FlaskClient, client: FlaskClient,
                                          remote: RemoteStore) -> None:
    # the build writes the dumps beside the search index; without them, a dump is read
    # from the server, graph by graph and page by page, when first asked for, and holds
    # the same quads (blank nodes aside, which each server labels its own way)
    shutil.rmtree(remote.cache_dir, ignore_errors=True)
    for name, fmt in DUMPS.items():
        with remote_client.get(f"/data/{name}.gz") as over_remote, \
                client.get(f"/data/{name}.gz") as embedded:
            assert over_remote.status_code == 200, over_remote.data[:300]
            ours, theirs = (list(ox.parse(gzip.decompress(r.data), format=fmt))
                            for r in (over_remote, embedded))
            assert len(ours) == len(theirs), name
            assert ({str(q) for q in ours if not _has_blank(q)}
                    == {str(q) for q in theirs if not _has_blank(q)}), name
    assert (remote.cache_dir / "rivalry.nq.gz").is_file()


def _has_blank(statement: ox.Quad | ox.Triple) -> bool:
    return isinstance(statement.subject, ox.BlankNode) or isinstance(statement.object,
                                                                     ox.BlankNode)


def test_row_caps_are_found_and_read_past(external, remote: RemoteStore,  # noqa: ANN001
                                          store_dir: Path) -> None:
    embedded = EmbeddedStore(store_dir)
    everything = "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert len(list(remote.query(everything).rows())) == embedded.info.quads
    inferred = [q for q in remote.quads("https://w3id.org/rivalry/graph/inferred")]
    assert len(inferred) == embedded.graph_sizes()["https://w3id.org/rivalry/graph/inferred"]
    if external.name == "virtuoso":  # its stock ResultSetMaxRows, found
        assert remote._cap == 10_000


def test_blank_nodes_of_any_labelling(remote: RemoteStore, store_dir: Path) -> None:
    query = (OWL + f"SELECT ?p ?list WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ "
             "?p owl:propertyChainAxiom ?list } } ORDER BY ?p")
    rows = list(remote.query(query).rows())
    expected = list(EmbeddedStore(store_dir).query(query).rows())
    assert [r[0] for r in rows] == [r[0] for r in expected] and rows
    assert all(r[1].__class__.__name__ == "BlankNode" for r in rows)
    construct = (OWL + f"CONSTRUCT {{ ?p owl:propertyChainAxiom ?l }} WHERE {{ GRAPH "
                 f"<{ONTOLOGY_GRAPH}> {{ ?p owl:propertyChainAxiom ?l }} }}")
    assert len(list(remote.query(construct).triples())) == len(expected)


# --- the endpoint ---------------------------------------------------------------------------


@pytest.mark.parametrize("query,accept", [
    (RV + "SELECT ?m ?d WHERE { ?m a rv:Measure ; rv:announcedOn ?d } ORDER BY ?m ?d",
     "text/csv"),
    (RV + "ASK { ?m a rv:Sanction }", "application/sparql-results+json"),
    (RV + "ASK { ?m a rv:Nothing }", "application/sparql-results+xml"),
    (RV + "CONSTRUCT { ?m rv:announcedOn ?d } WHERE { ?m a rv:Sanction ; rv:announcedOn ?d }",
     "application/n-triples"),
    (RV + "SELECT ?m FROM <https://w3id.org/rivalry/graph/facts/events/2018-04-zte-denial-order>"
          " WHERE { ?m a rv:Action } ORDER BY ?m", "text/csv"),
    (RV + "SELECT ?m FROM <http://www.openlinksw.com/schemas/virtrdf#> WHERE { ?m ?p ?o }",
     "text/csv"),
    (RV + "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s a rv:Sanction } } GROUP BY ?g "
          "ORDER BY ?g", "application/sparql-results+json"),
    (RV + "SELECT ?x WHERE { ?x rv:nothing ?y", "application/json"),  # a syntax error
])
def test_endpoint_answers_as_the_embedded_store(query: str, accept: str,
                                                remote_client: FlaskClient,
                                                client: FlaskClient) -> None:
    answers = [c.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
               for c in (remote_client, client)]
    assert answers[0].status_code == answers[1].status_code
    if accept == "application/n-triples":
        graphs = [rdflib.Graph().parse(data=a.data, format="nt") for a in answers]
        assert set(graphs[0]) == set(graphs[1])
    else:
        assert answers[0].data == answers[1].data


def test_request_datasets_are_kept_to_rivalrys_graphs(remote_client: FlaskClient,
                                                      client: FlaskClient) -> None:
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    for graphs in (["https://w3id.org/rivalry/graph/meta"],
                   ["http://www.openlinksw.com/schemas/virtrdf#"]):
        answers = [c.get("/sparql", query_string={"query": query, "default-graph-uri": graphs},
                         headers={"Accept": "text/csv"}).data for c in (remote_client, client)]
        assert answers[0] == answers[1]


def test_limits_hold_over_the_external_store(external, remote: RemoteStore) -> None:  # noqa: ANN001
    # (time limits: tests/test_external_failures.py, with a server that does not answer)
    app = create_app({**external.settings, "cache_dir": str(remote.cache_root),
                      "result_row_limit": 5})
    client = app.test_client()
    capped = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert capped.headers["X-Result-Truncated"] == "true"
    assert len(capped.get_json()["results"]["bindings"]) == 5
    service = client.get("/sparql", query_string={
        "query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"})
    assert service.status_code == 400
    if external.name == "virtuoso":
        # a query Virtuoso estimates beyond its MaxQueryCostEstimationTime: refused at
        # once, and said as a query over its time
        heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
        response = client.get("/sparql", query_string={"query": heavy})
        assert response.status_code == 503
        assert "query_time_limit" in response.get_json()["message"]


def test_public_answers_past_the_servers_cap(external, remote: RemoteStore) -> None:  # noqa: ANN001
    # Virtuoso gives 10,000 rows at most (ResultSetMaxRows): whether there is a row past
    # a row limit of 10,000 is asked apart
    unordered = remote.execute("SELECT ?s ?p ?o WHERE { ?s ?p ?o }",
                               QueryLimits(row_limit=10_000, time_limit=60))
    assert len(unordered.rows) == 10_000 and unordered.truncated
    # more rows than that are read in pages, in an order that leaves no ties, so that
    # they are pages of one answer (tests/test_external_failures.py); Virtuoso sorts
    # for OFFSET no further than MaxSortedTopRows (10,000 too): with its stock settings,
    # more than 10,000 rows get an error naming the setting, never pages that repeat
    # some rows and miss others
    more = QueryLimits(row_limit=12_000, time_limit=60)
    if external.name == "virtuoso":
        with pytest.raises(ExternalStoreError, match="MaxSortedTopRows"):
            remote.execute("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", more)
    else:
        unordered = remote.execute("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", more)
        assert len(unordered.rows) == 12_000 and unordered.truncated
    ordered = remote.execute("SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o",
                             QueryLimits(row_limit=10_000, time_limit=60))
    assert len(ordered.rows) == 10_000 and ordered.truncated
    keys = [tuple(str(t) for t in row) for row in ordered.rows[:200]]
    assert len(set(keys)) == 200


#: Pages that list many actions or entities (a timeline of 200 actions, pages of 100), and
#: the most round trips to the server each may take: a page reads what it lists (labels,
#: kinds, issuing states) in a few queries, not in one or more per row.
LISTING_PAGES = {
    "/id/state/cn.html": 60, "/id/company/huawei.html": 60, "/browse/actions": 20,
    "/timeline": 25, "/graph/derived.html": 20,
    "/browse/type?class=https%3A//w3id.org/rivalry/ontology%23SourceDocument&page=3": 20,
}


@pytest.mark.parametrize("path", LISTING_PAGES)
def test_listing_pages_take_a_few_round_trips(path: str, external, remote: RemoteStore,  # noqa: ANN001
                                              tmp_path: Path) -> None:
    from .proxy import Proxy

    base, endpoint = external.sparql.rsplit("/", 1)
    proxy = Proxy(base)
    try:
        app = create_app({**external.settings, "sparql_endpoint": f"{proxy.url}/{endpoint}",
                          "cache_dir": str(remote.cache_root)})
        app.config["TESTING"] = True
        response = app.test_client().get(path)
        assert response.status_code == 200
        assert response.data.count(b'href="/') > 60  # it does list many
        queries = [seen for seen in proxy.seen if seen[1].startswith("/" + endpoint)]
        assert 0 < len(queries) <= LISTING_PAGES[path], len(queries)
    finally:
        proxy.close()


# --- entities, validation, search -----------------------------------------------------------


@pytest.mark.parametrize("path", ["action/us-ofac-2025-01-03-integrity", "state/cn",
                                  "company/huawei", "source/treasury-jy2769"])
def test_entity_descriptions(remote_client: FlaskClient, remote: RemoteStore,
                             path: str) -> None:
    response = remote_client.get(f"/id/{path}", headers={"Accept": "text/turtle"})
    assert response.status_code == 303
    document = remote_client.get(response.headers["Location"])
    g = rdflib.Graph().parse(data=document.data, format="turtle")
    check_description(remote, ID_BASE + path, g)
    page = remote_client.get(f"/id/{path}.html")
    assert page.status_code == 200 and b"<h1>" in page.data
    assert remote_client.get("/id/state/atlantis.ttl").status_code == 404


def test_validation_uses_the_external_graph_as_context(remote_client: FlaskClient) -> None:
    body = (DATA / "shacl" / "valid" / "measure-targeting-existing-company.ttl").read_bytes()
    response = remote_client.post("/validate", data=body, content_type="text/turtle")
    assert response.status_code == 200 and response.get_json()["conforms"] is True
    assert "note" not in response.get_json()


def test_search_index_beside_the_builds_cache(remote_client: FlaskClient,
                                             remote: RemoteStore) -> None:
    from rivalry.graph.search import INDEX_FILE

    assert (remote.cache_root / remote.info.build_id / INDEX_FILE).is_file()
    r = remote_client.get("/search?q=%E5%8D%8E%E4%B8%BA&format=json")
    assert r.status_code == 200
    assert r.get_json()["results"][0]["id"] == ID_BASE + "company/huawei"
    screened = remote_client.post("/screen", data="name\nZTE Corporation\n",
                                  content_type="text/csv",
                                  headers={"Accept": "application/json"})
    assert screened.get_json()["results"][0]["status"] == "match"


# --- a new build ----------------------------------------------------------------------------


def test_rebuild_switches_and_removes_what_is_gone(external, remote: RemoteStore,  # noqa: ANN001
                                                   tmp_path: Path) -> None:
    facts = tmp_path / "facts"
    shutil.copytree(CURATED_FACTS, facts)
    extra = facts / "events" / "extra-test-measure.ttl"
    shutil.copy(DATA / "shacl" / "valid" / "measure-targeting-existing-company.ttl", extra)
    graph = GRAPH_BASE + "facts/events/extra-test-measure"
    first = remote.info.build_id
    try:
        second = build(remote, facts, consistency=False).info.build_id
        assert graph in remote.named_graphs()
        assert remote.info.build_id == second != first
    finally:
        build(remote, consistency=False)  # the curated graph again: the extra graph goes
    assert graph not in remote.named_graphs()
    on_server = {b["g"]["value"] for b in server_query(
        external, "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}
    assert graph not in on_server
    assert [g for g in on_server if g.startswith(UNION_GRAPH_BASE)] == [
        UNION_GRAPH_BASE + remote.info.build_id]


def test_void_statistics_counted_by_the_external_store(remote: RemoteStore,
                                                       curated_store: EmbeddedStore) -> None:
    """VoID's figures counted by the external server's own engine (as for a build made
    before the build kept them) are the embedded store's: the queries are plain SPARQL
    1.1 that each server answers alike (a sub-query's distinct subjects, SUM of IF)."""
    from rivalry.graph.void import statistics

    theirs, ours = statistics(remote), statistics(curated_store)
    for name in ("triples", "entities", "classes", "properties", "distinct_subjects",
                 "distinct_objects"):
        assert getattr(theirs, name) == getattr(ours, name), name
    assert theirs.class_partitions == ours.class_partitions
