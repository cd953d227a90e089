"""The endpoint under `rivalry serve` on a free port, used by real SPARQL clients."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, JSON, TSV, TURTLE, XML, SPARQLWrapper

from rivalry.graph.store import EmbeddedStore

from .live import LiveServer
from .test_validate_http import Canary

RV = "PREFIX rv: <https://w3id.org/rivalry/ontology#>\n"
SELECT = RV + "SELECT ?m ?d WHERE { ?m a rv:Measure ; rv:announcedOn ?d }"
CONSTRUCT = RV + "CONSTRUCT { ?m rv:announcedOn ?d } WHERE { ?m a rv:Measure ; rv:announcedOn ?d }"
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
TIME_LIMIT = 2


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("live") / "server.log"
    live = LiveServer(store_dir, log, query_time_limit=TIME_LIMIT, result_row_limit=1000,
                      max_body_bytes=100_000, workers=3)
    yield live
    live.stop()


def store_rows(store_dir: Path) -> set[tuple[str, str]]:
    return {(r[0].value, r[1].value) for r in EmbeddedStore(store_dir).query(SELECT).rows()}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def sparql_url(server: LiveServer, query: str, **params: str) -> str:
    return server.url + "/sparql?" + urllib.parse.urlencode({"query": query, **params})


# --- real clients -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
def test_sparqlwrapper_select(server: LiveServer, store_dir: Path, fmt: str) -> None:
    client = SPARQLWrapper(server.url + "/sparql")
    client.setQuery(SELECT)
    client.setReturnFormat(fmt)
    result = client.query()
    converted = result.convert()
    if fmt == JSON:
        rows = {(b["m"]["value"], b["d"]["value"]) for b in converted["results"]["bindings"]}
    elif fmt == XML:
        ns = {"r": "http://www.w3.org/2005/sparql-results#"}
        rows = set()
        for res in converted.getElementsByTagNameNS(ns["r"], "result"):
            values = {b.getAttribute("name"): b.firstChild.firstChild.nodeValue
                      for b in res.getElementsByTagNameNS(ns["r"], "binding")}
            rows.add((values["m"], values["d"]))
    elif fmt == CSV:
        lines = converted.decode().strip().splitlines()
        assert lines[0] == "m,d"
        rows = {tuple(line.split(",")) for line in lines[1:]}
    else:
        lines = converted.decode().strip().splitlines()
        assert lines[0] == "?m\t?d"
        rows = set()
        for line in lines[1:]:
            m, d = line.split("\t")
            rows.add((m.strip("<>"), d.split('"')[1]))
    assert rows == store_rows(store_dir)


def test_sparqlwrapper_construct_turtle(server: LiveServer, store_dir: Path) -> None:
    client = SPARQLWrapper(server.url + "/sparql")
    client.setQuery(CONSTRUCT)
    client.setReturnFormat(TURTLE)
    data = client.query().convert()
    graph = rdflib.Graph().parse(data=data, format="turtle")
    assert {(str(s), str(o)) for s, _, o in graph} == store_rows(store_dir)


def test_sparqlwrapper_ask_over_post(server: LiveServer) -> None:
    client = SPARQLWrapper(server.url + "/sparql")
    client.setMethod("POST")
    client.setQuery(RV + "ASK { ?m a rv:Sanction }")
    client.setReturnFormat(JSON)
    assert client.query().convert()["boolean"] is True


def test_rdflib_sparqlstore(server: LiveServer, store_dir: Path) -> None:
    graph = rdflib.Graph(store=SPARQLStore(server.url + "/sparql", returnFormat="json"))
    rows = {(str(r[0]), str(r[1])) for r in graph.query(SELECT)}
    assert rows == store_rows(store_dir)
    label = graph.value(rdflib.URIRef("https://w3id.org/rivalry/id/state/cn"),
                        rdflib.URIRef("http://www.w3.org/2004/02/skos/core#exactMatch"))
    assert str(label) == "http://www.wikidata.org/entity/Q148"


# --- limits that hold ---------------------------------------------------------------------


def test_time_limit_stops_the_query_and_others_are_answered(server: LiveServer) -> None:
    before = server.workers()
    outcome: dict[str, object] = {}

    def slow() -> None:
        outcome["slow"] = get(sparql_url(server, HEAVY))
        outcome["slow_done"] = time.monotonic()

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)  # let the slow query start first
    status, _, _ = get(sparql_url(server, RV + "ASK { ?m a rv:Measure }"))
    quick_done = time.monotonic()
    thread.join(timeout=120)
    assert status == 200
    assert quick_done < outcome["slow_done"]  # answered while the slow query was running
    slow_status, _, body = outcome["slow"]
    assert slow_status == 503
    assert "query_time_limit" in json.loads(body)["message"]
    # The worker that ran it has ended (that is what stops its CPU work) and the pool
    # has started another.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = server.workers()
        if len(after) == len(before) and after != before:
            break
        time.sleep(0.2)
    after = server.workers()
    assert len(before - after) == 1 and len(after) == len(before)
    assert get(sparql_url(server, RV + "ASK { ?m a rv:Measure }"))[0] == 200


def test_row_cap_is_visible(server: LiveServer) -> None:
    status, headers, body = get(sparql_url(server, "SELECT * WHERE { ?s ?p ?o }"),
                                {"Accept": "application/sparql-results+json"})
    assert status == 200
    assert headers["X-Result-Truncated"] == "true"
    assert len(json.loads(body)["results"]["bindings"]) == 1000


def test_size_cap_before_the_body_is_read(server: LiveServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/sparql")
    connection.putheader("Content-Type", "application/sparql-query")
    connection.putheader("Content-Length", str(50_000_000))
    connection.endheaders()
    connection.send(b"SELECT * WHERE { ?s ?p ?o }")  # the rest never comes
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


@pytest.mark.parametrize("how", ["form", "direct", "get"])
def test_update_refused(server: LiveServer, how: str) -> None:
    update = "INSERT DATA { <https://example.org/s> <https://example.org/p> 1 }"
    if how == "form":
        body = urllib.parse.urlencode({"update": update}).encode()
        status, _ = post(server.url + "/sparql", body, "application/x-www-form-urlencoded")
    elif how == "direct":
        status, _ = post(server.url + "/sparql", update.encode(), "application/sparql-update")
    else:
        status = get(server.url + "/sparql?" + urllib.parse.urlencode({"update": update}))[0]
    assert 400 <= status < 500
    _, _, body = get(sparql_url(server, "ASK { <https://example.org/s> ?p ?o }"),
                     {"Accept": "application/sparql-results+json"})
    assert json.loads(body)["boolean"] is False


def test_service_refused_and_nothing_is_fetched(server: LiveServer) -> None:
    canary = Canary()
    try:
        for query in (f"SELECT * WHERE {{ SERVICE <{canary.url}/sparql> {{ ?s ?p ?o }} }}",
                      f"SELECT * WHERE {{ SERVICE SILENT <{canary.url}/sparql> {{ ?s ?p ?o }} }}"):
            status, _, body = get(sparql_url(server, query))
            assert status == 400
            assert "service_allowlist" in json.loads(body)["message"]
        time.sleep(0.5)
        assert canary.requests == []
    finally:
        canary.close()


def test_deep_nesting_is_400_and_the_server_lives_on(server: LiveServer) -> None:
    query = "SELECT * WHERE " + "{" * 3000 + "}" * 3000
    status, _ = post(server.url + "/sparql", query.encode(), "application/sparql-query")
    assert status == 400
    assert get(sparql_url(server, RV + "ASK { ?m a rv:Measure }"))[0] == 200


def test_an_answer_its_format_cannot_hold_is_406_at_once(server: LiveServer) -> None:
    """A plain query takes the workers' shortcut past Flask; an error met there, once
    the answer is written, must come back as the app's error, not end the worker's
    request thread (the client then waited for the time limit, and got 503)."""
    query = 'SELECT ("a\\u000Bb" AS ?x) {}'
    request = urllib.request.Request(server.url + "/sparql", data=query.encode(), headers={
        "Content-Type": "application/sparql-query",
        "Accept": "application/sparql-results+xml"})
    started = time.monotonic()
    try:
        urllib.request.urlopen(request, timeout=60)
        status, answer = 200, b""
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read()
    assert status == 406, answer
    assert "U+000B" in json.loads(answer)["message"]
    assert time.monotonic() - started < TIME_LIMIT
    for _ in range(6):  # every worker still answers (there are 3)
        assert get(sparql_url(server, RV + "ASK { ?m a rv:Measure }"))[0] == 200


def test_deeply_nested_jsonld_is_400_and_the_server_lives_on(server: LiveServer) -> None:
    """The JSON-LD parser recurses on nested objects: 3,000 levels exhausted a worker's
    memory, and the client got a 503 for a bad body."""
    body = ('{"@context": {"@vocab": "http://example.org/"}, "@id": "http://example.org/a", '
            '"p": ' + '{"p": ' * 3000 + "1" + "}" * 3000 + "}")
    status, answer = post(server.url + "/validate", body.encode(), "application/ld+json")
    assert status == 400, answer
    assert "more than 500 levels deep" in json.loads(answer)["message"]
    assert get(sparql_url(server, RV + "ASK { ?m a rv:Measure }"))[0] == 200


def test_service_description_over_http(server: LiveServer) -> None:
    status, headers, body = get(server.url + "/sparql", {"Accept": "text/turtle"})
    assert status == 200
    g = rdflib.Graph().parse(data=body, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    assert (None, sd.endpoint, rdflib.URIRef(server.url + "/sparql")) in g


def test_query_page_with_examples(server: LiveServer) -> None:
    status, _, body = get(server.url + "/", {"Accept": "text/html"})
    assert status == 200
    assert b"Example queries" in body and b'<form action="/sparql" method="get">' in body


def test_the_pages_visitors_start_from_are_warmed(server: LiveServer) -> None:
    """The warm-up also makes the pages most visits start from, each year's page of the
    timeline and of the list of actions among them: their first request is a hit."""
    deadline = time.monotonic() + 120
    while "page cache:" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    years = [str(y) for y in range(2018, 2026)]  # the curated record has actions in each
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
               "Accept-Encoding": "gzip"}
    for path in ["/", "/browse", "/timeline", "/stats", "/id/state/cn.html"] + [
            f"/{page}?year={y}" for y in years for page in ("timeline", "browse/actions")]:
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        c.request("GET", path, headers=browser)
        response = c.getresponse()
        response.read()
        c.close()
        assert response.status == 200 and response.getheader("X-Cache") == "hit", path
    made = re.search(r"page cache: (\d+) pages made", server.log.read_text())
    assert made and int(made.group(1)) >= 5 + 2 * len(years)


def test_canned_queries_are_answered_from_the_warmed_cache(server: LiveServer) -> None:
    """When it starts, `rivalry serve` answers every canned query once through its workers
    and keeps the answers (warm_answer_cache), so the first request for each is a hit."""
    from rivalry.graph.canned import canned_queries

    queries = canned_queries()
    assert f"answer cache: {len(queries)} canned queries answered" in server.log.read_text()
    for query in queries:
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        c.request("POST", "/sparql", body=query.text_with_defaults().encode(), headers={
            "Content-Type": "application/sparql-query",
            "Accept": "application/sparql-results+json, */*;q=0.1"})
        response = c.getresponse()
        body = response.read()
        c.close()
        assert response.status == 200 and response.getheader("X-Cache") == "hit", query.name
        assert json.loads(body)["results"]["bindings"], query.name

