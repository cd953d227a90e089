"""The read-only SPARQL 1.1 Graph Store HTTP Protocol endpoint, /rdf-graph-store: each
graph as the store holds it, in every format offered, the protocol's errors, and no write."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import rdflib
import rdflib.compare
from flask.testing import FlaskClient

from rivalry.graph.store import EmbeddedStore
from tests.live import LiveServer

FORMATS = [("text/turtle", "turtle"), ("application/n-triples", "nt"),
           ("application/rdf+xml", "xml"), ("application/ld+json", "json-ld")]


def url(graph: str) -> str:
    return "/rdf-graph-store?graph=" + quote(graph, safe="")


def stored(store_dir: Path, graph: str | None) -> rdflib.Graph:
    """The triples of one named graph of the build (or of the union, for None)."""
    db = EmbeddedStore(store_dir).db
    g = rdflib.Graph()
    name = ox.NamedNode(graph) if graph else None
    data = ox.serialize((q.triple for q in db.quads_for_pattern(None, None, None, name)),
                        format=ox.RdfFormat.N_TRIPLES)
    g.parse(data=data, format="nt")
    return g


def graphs(store_dir: Path) -> list[str]:
    return EmbeddedStore(store_dir).named_graphs()


def a_facts_graph(store_dir: Path) -> str:
    graph = "https://w3id.org/rivalry/graph/facts/events/2025-01-integrity-technology-sanction"
    assert graph in graphs(store_dir)
    return graph


@pytest.mark.parametrize("accept,parser", FORMATS)
def test_a_named_graph_in_each_format_is_the_graph_stored(
        client: FlaskClient, store_dir: Path, accept: str, parser: str) -> None:
    graph = a_facts_graph(store_dir)
    response = client.get(url(graph), headers={"Accept": accept})
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == accept
    assert "Accept" in response.headers["Vary"]
    got = rdflib.Graph().parse(data=response.data, format=parser)
    expected = stored(store_dir, graph)
    assert len(expected) > 10
    assert rdflib.compare.isomorphic(got, expected)


def test_every_graph_of_the_build_is_served(client: FlaskClient, store_dir: Path) -> None:
    names = graphs(store_dir)
    assert any(n.endswith("/graph/inferred") for n in names)
    for graph in names:
        response = client.get(url(graph), headers={"Accept": "application/n-triples"})
        assert response.status_code == 200, graph
        assert len(response.data.splitlines()) == len(stored(store_dir, graph)), graph


def test_media_type_parameters_and_any_accept(client: FlaskClient, store_dir: Path) -> None:
    graph = a_facts_graph(store_dir)
    for accept in ("text/turtle; charset=utf-8", "*/*", "", "text/html,*/*;q=0.8",
                   "text/html"):  # a crawler following a page's link
        response = client.get(url(graph), headers={"Accept": accept} if accept else {})
        assert response.status_code == 200 and response.mimetype == "text/turtle", accept
    response = client.get(url(graph), headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "text/turtle" in response.get_json()["message"]


def test_head_is_get_without_a_body(client: FlaskClient, store_dir: Path) -> None:
    graph = a_facts_graph(store_dir)
    get = client.get(url(graph))
    head = client.head(url(graph))
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["ETag"] == get.headers["ETag"]
    assert client.head(url("https://w3id.org/rivalry/graph/facts/none")).status_code == 404


def test_conditional_get(client: FlaskClient, store_dir: Path) -> None:
    first = client.get(url(a_facts_graph(store_dir)))
    again = client.get(url(a_facts_graph(store_dir)),
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = client.get(url(a_facts_graph(store_dir)),
                       headers={"If-None-Match": first.headers["ETag"],
                                "Accept": "application/n-triples"})
    assert other.status_code == 200  # another format is another representation
    failed = client.get(url(a_facts_graph(store_dir)), headers={"If-Match": '"other"'})
    assert failed.status_code == 412 and failed.data == b""
    matched = client.get(url(a_facts_graph(store_dir)), headers={"If-Match": first.headers["ETag"]})
    assert matched.status_code == 200 and matched.data == first.data


def test_a_graph_the_build_lacks_is_404(client: FlaskClient) -> None:
    for graph in ("https://w3id.org/rivalry/graph/facts/none", "http://example.org/g",
                  "urn:x-nothing:here"):
        response = client.get(url(graph), headers={"Accept": "application/json"})
        assert response.status_code == 404, graph
        assert graph in response.get_json()["message"]


@pytest.mark.parametrize("query", [
    "graph=relative/graph", "graph=", "graph=" + quote("http://exa mple.org/<g>", safe=""),
    "graph=http%3A%2F%2Fexample.org%2Fa&graph=http%3A%2F%2Fexample.org%2Fb",
    "graph=http%3A%2F%2Fexample.org%2Fa&default", "default&graph=urn%3Ax", "grph=urn%3Ax"])
def test_requests_the_protocol_refuses_are_400(client: FlaskClient, query: str) -> None:
    response = client.get("/rdf-graph-store?" + query, headers={"Accept": "application/json"})
    assert response.status_code == 400, query
    assert response.get_json()["message"]


def test_the_default_graph_is_the_union(client: FlaskClient, store_dir: Path) -> None:
    union = stored(store_dir, None)
    for accept, parser in (("text/turtle", "turtle"), ("application/n-triples", "nt")):
        with client.get("/rdf-graph-store?default",
                        headers={"Accept": accept, "Accept-Encoding": "identity"}) as response:
            assert response.status_code == 200 and response.mimetype == accept
            assert "Content-Encoding" not in response.headers
            got = rdflib.Graph().parse(data=response.get_data(), format=parser)
        assert rdflib.compare.isomorphic(got, union)
    with client.get("/rdf-graph-store?default=", headers={
            "Accept": "application/n-triples", "Accept-Encoding": "gzip"}) as zipped:
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert len(gzip.decompress(zipped.get_data()).splitlines()) == len(union)
    refused = client.get("/rdf-graph-store?default", headers={"Accept": "application/rdf+xml"})
    assert refused.status_code == 406
    assert "text/turtle" in refused.get_json()["message"]


def test_without_a_graph_the_whole_dataset(client: FlaskClient, store_dir: Path) -> None:
    with client.get("/rdf-graph-store", headers={"Accept": "application/n-quads",
                                                 "Accept-Encoding": "identity"}) as response:
        assert response.status_code == 200 and response.mimetype == "application/n-quads"
        quads = list(ox.parse(response.get_data(), format=ox.RdfFormat.N_QUADS))
    assert len(quads) == len(EmbeddedStore(store_dir).db)
    assert {q.graph_name.value for q in quads} == set(graphs(store_dir))
    with client.get("/rdf-graph-store", headers={"Accept": "application/trig"}) as trig:
        assert trig.mimetype == "application/trig"
    with client.get("/rdf-graph-store", headers={"Accept": "text/html"}) as page_only:
        assert page_only.mimetype == "application/n-quads"  # a crawler's request
    with client.get("/rdf-graph-store?default", headers={"Accept": "text/html"}) as page_only:
        assert page_only.mimetype == "text/turtle"
    refused = client.get("/rdf-graph-store", headers={"Accept": "text/turtle"})
    assert refused.status_code == 406 and "application/n-quads" in refused.get_json()["message"]


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
@pytest.mark.parametrize("query", ["?graph=urn%3Ax%3Anew", "?default", ""])
def test_writes_are_refused_and_nothing_changes(client: FlaskClient, store_dir: Path,
                                                method: str, query: str) -> None:
    before = len(EmbeddedStore(store_dir).db)
    response = client.open("/rdf-graph-store" + query, method=method,
                           data=b"<urn:x:a> <urn:x:b> <urn:x:c> .",
                           headers={"Content-Type": "application/n-triples",
                                    "Accept": "application/json"})
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {
        "GET", "HEAD", "OPTIONS"}
    assert "read-only" in response.get_json()["message"]
    assert len(EmbeddedStore(store_dir).db) == before


@pytest.mark.parametrize("method", ["TRACE", "CONNECT"])
def test_other_methods_get_405_allowing_only_reads(client: FlaskClient, method: str) -> None:
    """The methods the front passes on besides the writes: the same Allow as OPTIONS says,
    never the write methods the read-only route takes in order to refuse them."""
    response = client.open("/rdf-graph-store?default", method=method,
                           headers={"Accept": "application/json"})
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {
        "GET", "HEAD", "OPTIONS"}
    assert f"{method} is not allowed on the graph store" in response.get_json()["message"]


@pytest.mark.parametrize(("path", "method"), [("/sparql", "PUT"), ("/validate", "DELETE"),
                                              ("/id/state/cn", "POST"), ("/data", "TRACE")])
def test_405_says_which_methods_a_path_answers(client: FlaskClient, path: str,
                                               method: str) -> None:
    response = client.open(path, method=method, headers={"Accept": "application/json"})
    assert response.status_code == 405
    allowed = response.headers["Allow"]
    assert "GET" in allowed and method not in allowed
    assert response.get_json()["message"] == (
        f"{method} is not allowed on {path}; it answers {allowed}")


def test_options_names_the_methods_it_allows(client: FlaskClient) -> None:
    response = client.options("/rdf-graph-store?default")
    assert response.status_code == 200
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {
        "GET", "HEAD", "OPTIONS"}


def test_cors(client: FlaskClient, store_dir: Path) -> None:
    preflight = client.options("/rdf-graph-store", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    answer = client.get(url(a_facts_graph(store_dir)), headers={"Origin": "https://example.org"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


# --- through `rivalry serve` -------------------------------------------------------------


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(store_dir, tmp_path_factory.mktemp("gsp") / "server.log")
    yield live
    live.stop()


def fetch(address: str, headers: dict[str, str], method: str = "GET"
          ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(address, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_live_graph_default_and_dataset(server: LiveServer, store_dir: Path) -> None:
    graph = a_facts_graph(store_dir)
    status, headers, body = fetch(server.url + url(graph), {"Accept": "text/turtle"})
    assert status == 200 and headers["Content-Type"].startswith("text/turtle")
    assert rdflib.compare.isomorphic(rdflib.Graph().parse(data=body, format="turtle"),
                                     stored(store_dir, graph))
    # without Accept-Encoding the front decompresses the dump as it sends it
    status, headers, body = fetch(server.url + "/rdf-graph-store?default",
                                  {"Accept": "application/n-triples"})
    assert status == 200 and "Content-Encoding" not in headers
    assert len(body.splitlines()) == len(stored(store_dir, None))
    status, headers, body = fetch(server.url + "/rdf-graph-store?graph=urn%3Ax%3Anone",
                                  {"Accept": "application/json"})
    assert status == 404 and "urn:x:none" in json.loads(body)["message"]
    status, headers, _ = fetch(server.url + "/rdf-graph-store?default", {}, method="DELETE")
    assert status == 405 and "GET" in headers["Allow"]


def test_a_named_graph_in_turtle_lists_its_prefixes_in_order(client: FlaskClient,
                                                            store_dir: Path) -> None:
    """The @prefix lines of a named graph in Turtle come first, in the order of their
    names, as in every other Turtle document the server writes."""
    response = client.get(url(a_facts_graph(store_dir)), headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    turtle = response.get_data(as_text=True)
    names = re.findall(r"^@prefix (\w*):", turtle, re.MULTILINE)
    assert len(names) > 2 and names == sorted(names)
    assert turtle.startswith("@prefix ")
    assert rdflib.compare.isomorphic(rdflib.Graph().parse(data=turtle, format="turtle"),
                                     stored(store_dir, a_facts_graph(store_dir)))
