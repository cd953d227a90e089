"""End to end over an external SPARQL 1.1 server (Oxigraph server on loopback) instead of
the embedded store: build, endpoint, entity pages, dumps, VoID and validation context.

CI starts `oxigraph serve` and names it in OXIGRAPH_TEST_SERVER (host:port); otherwise
these tests start their own on a free port."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient

from rivalry.graph import ID_BASE
from rivalry.graph.build import build
from rivalry.graph.canned import canned_queries, run_canned
from rivalry.graph.remote import RemoteStore
from rivalry.graph.store import EmbeddedStore
from rivalry.server import create_app

from .conftest import DATA
from .live import free_port
from .test_linked_data import check_description


def _wait(url: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if (process is not None and process.poll() is not None) or \
                    time.monotonic() > deadline:
                raise RuntimeError(f"no SPARQL server answers at {url}") from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of an Oxigraph server with the union default graph."""
    given = os.environ.get("OXIGRAPH_TEST_SERVER")
    if given:
        base = f"http://{given}"
        _wait(base + "/query?query=ASK%7B%7D")
        yield base
        return
    binary = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(binary).exists():
        pytest.fail("the oxigraph server is needed (pip install oxigraph; .ci/run does)")
    port = free_port()
    location = tmp_path_factory.mktemp("oxigraph")
    process = subprocess.Popen(
        [binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}",
         "--union-default-graph"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    _wait(base + "/query?query=ASK%7B%7D", process)
    yield base
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def remote(oxigraph: str, tmp_path_factory: pytest.TempPathFactory) -> RemoteStore:
    store = RemoteStore(oxigraph + "/query", oxigraph + "/store",
                        cache_root=tmp_path_factory.mktemp("cache"))
    build(store)  # the curated facts, checked, then loaded graph by graph
    return store


@pytest.fixture(scope="module")
def remote_app(oxigraph: str, remote: RemoteStore) -> Flask:
    app = create_app({"sparql_endpoint": oxigraph + "/query",
                      "graph_store_endpoint": oxigraph + "/store",
                      "cache_dir": str(remote.cache_root)})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def remote_client(remote_app: Flask) -> FlaskClient:
    return remote_app.test_client()


def test_build_loads_every_graph(remote: RemoteStore, store_dir: Path) -> None:
    embedded = EmbeddedStore(store_dir)
    assert set(remote.named_graphs()) >= set(embedded.named_graphs())
    assert remote.info.content_hash == embedded.info.content_hash


def test_sparql_endpoint_answers_as_the_embedded_store(remote_client: FlaskClient,
                                                       client: FlaskClient) -> None:
    query = ("PREFIX rv: <https://w3id.org/rivalry/ontology#> "
             "SELECT ?m ?d WHERE { ?m a rv:Measure ; rv:announcedOn ?d } ORDER BY ?m ?d")
    over_remote = remote_client.get("/sparql", query_string={"query": query}, headers={
        "Accept": "text/csv"})
    embedded = client.get("/sparql", query_string={"query": query}, headers={
        "Accept": "text/csv"})
    assert over_remote.status_code == 200
    assert over_remote.data == embedded.data


@pytest.mark.parametrize("query", canned_queries(), ids=lambda q: q.name)
def test_canned_queries_agree(query, remote: RemoteStore, store_dir: Path) -> None:
    def rows(store) -> list[tuple]:
        return sorted(tuple(str(t) for t in row) for row in run_canned(store, query).rows)

    assert rows(remote) == rows(EmbeddedStore(store_dir))


@pytest.mark.parametrize("path", ["action/us-ofac-2025-01-03-integrity", "state/cn",
                                  "company/huawei", "source/treasury-jy2769"])
def test_entity_descriptions_and_pages(remote_client: FlaskClient, remote: RemoteStore,
                                       path: str) -> None:
    response = remote_client.get(f"/id/{path}", headers={"Accept": "text/turtle"})
    assert response.status_code == 303
    document = remote_client.get(response.headers["Location"])
    g = rdflib.Graph().parse(data=document.data, format="turtle")
    check_description(remote, ID_BASE + path, g)
    page = remote_client.get(f"/id/{path}.html")
    assert page.status_code == 200 and b"<h1>" in page.data
    assert remote_client.get("/id/state/atlantis.ttl").status_code == 404


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


def test_validation_uses_the_external_graph_as_context(remote_client: FlaskClient) -> None:
    body = (DATA / "shacl" / "valid" / "measure-targeting-existing-company.ttl").read_bytes()
    response = remote_client.post("/validate", data=body, content_type="text/turtle")
    assert response.status_code == 200 and response.get_json()["conforms"] is True


def test_limits_hold_over_the_external_store(oxigraph: str, remote: RemoteStore) -> None:
    app = create_app({"sparql_endpoint": oxigraph + "/query", "query_time_limit": 0.5,
                      "result_row_limit": 5})
    client = app.test_client()
    heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    response = client.get("/sparql", query_string={"query": heavy})
    assert response.status_code == 503
    assert "query_time_limit" in response.get_json()["message"]
    capped = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert capped.headers["X-Result-Truncated"] == "true"
    service = client.get("/sparql", query_string={
        "query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"})
    assert service.status_code == 400


def test_rebuild_removes_graphs_that_are_gone(oxigraph: str, remote: RemoteStore,
                                              tmp_path: Path) -> None:
    facts = tmp_path / "facts"
    shutil.copytree(Path(__file__).parent.parent / "graph" / "facts", facts)
    extra = facts / "events" / "extra-test-measure.ttl"
    shutil.copy(DATA / "shacl" / "valid" / "measure-targeting-existing-company.ttl", extra)
    graph = "https://w3id.org/rivalry/graph/facts/events/extra-test-measure"
    try:
        build(remote, facts, consistency=False)
        assert graph in remote.named_graphs()
    finally:
        build(remote, consistency=False)  # the curated graph again: the extra graph goes
    assert graph not in remote.named_graphs()


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
