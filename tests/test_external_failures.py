"""What rivalry does when an external SPARQL server misbehaves: asks for credentials,
stops answering, or stops half way through a load. An Oxigraph server of its own, behind
a proxy (tests/proxy.py) that does what each test needs; small facts, loaded fast."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rivalry.graph.build import build
from rivalry.graph.errors import ExternalStoreError
from rivalry.graph.remote import RemoteStore
from rivalry.graph.store import QueryLimits
from rivalry.server import create_app

from .conftest import CURATED_FACTS, run
from .external import External, start_oxigraph
from .live import LiveServer, free_port
from .proxy import Proxy

EVENTS = ["2018-04-zte-denial-order", "2025-01-integrity-technology-sanction"]


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[External]:
    server = start_oxigraph(tmp_path_factory.mktemp("oxigraph-failures"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(oxigraph: External) -> Iterator[Proxy]:
    base = oxigraph.sparql.rsplit("/", 1)[0]
    p = Proxy(base)
    yield p
    p.close()


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference files and two events of the curated facts: quick to build."""
    root = tmp_path_factory.mktemp("small-facts")
    shutil.copytree(CURATED_FACTS / "reference", root / "reference")
    (root / "events").mkdir()
    for name in EVENTS:
        shutil.copy(CURATED_FACTS / "events" / f"{name}.ttl", root / "events")
    return root


@pytest.fixture(scope="module")
def settings(proxy: Proxy, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {"sparql_endpoint": proxy.url + "/query",
            "graph_store_endpoint": proxy.url + "/store",
            "cache_dir": str(tmp_path_factory.mktemp("failures-cache"))}


def load(settings: dict, facts: Path, **overrides: str) -> RemoteStore:
    store = RemoteStore.from_settings({**settings, **overrides})
    store.switch_grace = 0.2
    build(store, facts, consistency=False, validation=False)
    return store


@pytest.fixture(scope="module")
def loaded(settings: dict, facts: Path) -> RemoteStore:
    return load(settings, facts)


def app_for(settings: dict, **limits: float):  # noqa: ANN201
    app = create_app({**settings, **limits})
    app.config["TESTING"] = True
    return app


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# --- authentication -------------------------------------------------------------------------


def test_writes_take_basic_authentication_when_asked(proxy: Proxy, settings: dict,
                                                      facts: Path, cli: CliRunner,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      loaded: RemoteStore) -> None:
    proxy.basic = ("writer", "s3cret")
    try:
        store = load(settings, facts, graph_store_auth="writer:s3cret")
        assert store._auth.scheme == "basic"
        with pytest.raises(ExternalStoreError, match="graph_store_auth"):
            load(settings, facts, graph_store_auth="writer:wrong")
        for name, value in {**settings, "graph_store_auth": "writer:wrong"}.items():
            monkeypatch.setenv(f"RIVALRY_{name.upper()}", value)
        result = run(cli, "build", "--facts", facts, "--no-consistency-check",
                     "--no-validation", "-q")
        assert result.exit_code == 4
        assert "graph_store_auth" in one_line_error(result.stderr)
    finally:
        proxy.basic = None


# --- a server that stops answering ----------------------------------------------------------


def test_a_hanging_server_gives_a_503_naming_it_on_every_route(proxy: Proxy, settings: dict,
                                                               loaded: RemoteStore) -> None:
    app = app_for(settings, page_time_limit=1.5, query_time_limit=1.5,
                  validation_time_limit=1.5)
    client = app.test_client()
    assert client.get("/browse").status_code == 200
    body = (CURATED_FACTS / "events" / f"{EVENTS[0]}.ttl").read_bytes()
    with proxy.hanging():
        # (/browse itself is drawn from the figures the build wrote: it needs no server)
        page = client.get("/browse/actions.json")
        assert page.status_code == 503
        message = page.get_json()["message"]
        assert proxy.url in message and "page_time_limit" in message
        # the next ones are told at once that the server is not answering
        for response in (client.get("/id/state/cn.html", headers={"Accept": "application/json"}),
                         client.post("/validate", data=body, content_type="text/turtle"),
                         client.get("/-/health"),
                         client.get("/rdf-graph-store", query_string={
                             "graph": "https://w3id.org/rivalry/graph/meta"}),
                         client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"})):
            assert response.status_code == 503, response.data[:300]
            assert proxy.url in response.get_json()["message"]
    fresh = app_for(settings, query_time_limit=1.5).test_client()
    with proxy.hanging():
        query = fresh.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
        assert query.status_code == 503
        assert "query_time_limit" in query.get_json()["message"]
        assert proxy.url in query.get_json()["message"]
        validation = app_for(settings, validation_time_limit=1.5).test_client().post(
            "/validate", data=body, content_type="text/turtle")
        assert validation.status_code == 503  # never a report without the graph's context
        assert "validation_time_limit" in validation.get_json()["message"]
    time.sleep(5.5)  # past the time the server is taken as down
    assert client.get("/browse").status_code == 200


def test_while_the_store_opens_health_says_so_and_requests_wait_within_their_limit(
        proxy: Proxy, settings: dict, loaded: RemoteStore, tmp_path: Path) -> None:
    """The zygote opens the store before any worker answers (for an external store it
    reads the build served, within min(page_time_limit, 5 s); an embedded one may load
    a large graph into memory). Meanwhile the front takes connections: /-/health answers
    503 "starting" and a request waits within its own time limit, then 503 saying why."""
    with proxy.hanging():
        server = LiveServer(tmp_path / "unused", tmp_path / "server.log", wait=False,
                            **settings, page_time_limit=8, query_time_limit=1)
        try:
            health = None
            for _ in range(100):  # until the front takes connections
                try:
                    urllib.request.urlopen(server.url + "/-/health", timeout=3)
                    break
                except urllib.error.HTTPError as e:
                    health = e.code, json.loads(e.read())
                    break
                except OSError:
                    time.sleep(0.1)
            assert health is not None and health[0] == 503
            assert health[1]["status"] == "starting" and "opening the store" in health[1][
                "message"]
            with pytest.raises(urllib.error.HTTPError) as query:
                urllib.request.urlopen(server.url + "/sparql?query=ASK%7B%7D", timeout=10)
            assert query.value.code == 503 and query.value.headers["Retry-After"]
            assert "the server is starting" in json.loads(query.value.read())["message"]
        except BaseException:
            server.stop()
            raise
    try:
        server.wait_until_healthy()
    finally:
        server.stop()


def test_a_graph_read_whose_rows_do_not_add_up_is_read_again_then_refused(
        proxy: Proxy, loaded: RemoteStore) -> None:
    """A graph's triples are counted against the build's record of its size: an answer
    one row short is read again once (a busy server may page an unordered answer in two
    orders), and refused, naming the graph, when it is short again."""
    graph = next(g for g in loaded._build().graphs if "/graph/facts/events/" in g)
    expected = list(loaded.quads(graph))
    try:
        proxy.short_graph_reads = 1
        assert list(loaded.quads(graph)) == expected
        assert proxy.short_graph_reads == 0
        proxy.short_graph_reads = 2
        with pytest.raises(ExternalStoreError, match=f"triples of <{graph}>, which has "
                                                     f"{len(expected)}"):
            list(loaded.quads(graph))
    finally:
        proxy.short_graph_reads = 0


PAGED = ("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
         "SELECT ?s ?label WHERE { ?s rdfs:label ?label }")


@pytest.mark.parametrize("query", [
    PAGED,  # no order of its own
    PAGED + " ORDER BY ?label",  # an order with ties: the same label on several nodes
    PAGED.replace("SELECT ?s ?label WHERE", "CONSTRUCT { ?s rdfs:label ?label } WHERE"),
])
def test_public_answers_read_in_pages_are_one_answer(proxy: Proxy, settings: dict,
                                                     loaded: RemoteStore, query: str) -> None:
    """A server that caps its answers and gives an answer without an order in a new order
    each time it is asked: the pages of a public query are read in one order, so they
    add up to the answer, each row once (read in its order, they repeated some rows and
    missed others, and nothing told)."""
    limits = QueryLimits(row_limit=100_000, time_limit=60)

    def rows(store: RemoteStore) -> list[tuple[str, ...]]:
        answer = store.execute(query, limits)
        if answer.kind == "graph":
            return sorted((str(t.subject), str(t.object)) for t in answer.triples)
        return sorted(tuple(str(term) for term in row) for row in answer.rows)

    expected = rows(loaded)
    assert len(expected) > 200 and len(set(expected)) == len(expected)
    before = len(proxy.seen)
    try:
        proxy.unstable_cap = 160
        assert rows(RemoteStore.from_settings(settings)) == expected
    finally:
        proxy.unstable_cap = None
    assert len(proxy.seen) - before > 2  # it was read in pages


def test_build_errors_are_one_line(proxy: Proxy, settings: dict, facts: Path,
                                   cli: CliRunner, monkeypatch: pytest.MonkeyPatch,
                                   loaded: RemoteStore) -> None:
    for name, value in {**settings, "store_timeout": "1"}.items():
        monkeypatch.setenv(f"RIVALRY_{name.upper()}", value)
    args = ["build", "--facts", str(facts), "--no-consistency-check", "--no-validation", "-q"]
    with proxy.hanging():
        result = run(cli, *args)
    assert result.exit_code == 4
    line = one_line_error(result.stderr)
    assert proxy.url in line and "did not answer within 1 s" in line and "store_timeout" in line
    nothing = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("RIVALRY_SPARQL_ENDPOINT", nothing + "/query")
    monkeypatch.setenv("RIVALRY_GRAPH_STORE_ENDPOINT", nothing + "/store")
    result = run(cli, *args)
    assert result.exit_code == 4
    assert "connection refused" in one_line_error(result.stderr)


# --- loads half done ------------------------------------------------------------------------


def test_a_load_that_stops_half_way_is_reported(proxy: Proxy, settings: dict, facts: Path,
                                                loaded: RemoteStore) -> None:
    served = loaded.info.build_id
    proxy.fail_write = 7  # a graph, after the state "loading" and a few graphs
    try:
        with pytest.raises(ExternalStoreError, match="disk is full"):
            load(settings, facts)
    finally:
        proxy.fail_write = None
    app = app_for(settings)
    client = app.test_client()
    health = client.get("/-/health")
    assert health.status_code == 503
    body = health.get_json()
    assert body["status"] == "incomplete" and body["build"]["id"] == served
    assert "disk is full" in body["loading"]["error"] and "rivalry build" in body["message"]
    assert client.get("/browse").status_code == 200  # the previous build is still served
    # answers read meanwhile are never taken for those of one whole build
    supervised = app_for(settings)
    supervised.config["RIVALRY_SUPERVISED"] = True
    assert "X-Rivalry-Build" not in supervised.test_client().get("/browse").headers
    again = load(settings, facts)
    assert client.get("/-/health").get_json()["status"] == "ok"
    assert again.info.build_id != served or again.pending_load() is None


def test_a_load_in_progress_is_reported_and_its_answers_not_cached(
        proxy: Proxy, settings: dict, facts: Path, loaded: RemoteStore) -> None:
    supervised = app_for(settings)
    supervised.config["RIVALRY_SUPERVISED"] = True
    client = supervised.test_client()
    before = client.get("/browse")
    assert before.headers["X-Rivalry-Build"] == RemoteStore.from_settings(settings).info.build_id
    failure: list[BaseException] = []

    def loading() -> None:
        try:
            load(settings, facts)
        except BaseException as e:  # noqa: BLE001 - reported below
            failure.append(e)

    with proxy.holding_writes(after=2):  # the auth probe and the state "loading" pass
        thread = threading.Thread(target=loading)
        thread.start()
        watcher = RemoteStore.from_settings(settings)
        deadline = time.monotonic() + 60
        while watcher.read_state().pending is None and time.monotonic() < deadline:
            time.sleep(0.1)
        health = client.get("/-/health")
        assert health.status_code == 503 and health.get_json()["status"] == "loading"
        during = client.get("/browse")
        assert during.status_code == 200 and "X-Rivalry-Build" not in during.headers
    thread.join(timeout=120)
    assert not failure
    # the first answers after the switch may still come from the state read before it
    # (trusted for a moment): they are not kept either; once the store reads it again,
    # answers are of the new build, and said so
    supervised.extensions["rivalry.store"].refresh()
    after = client.get("/browse")
    new = RemoteStore.from_settings(settings).info.build_id
    assert after.headers["X-Rivalry-Build"] == new


# --- rivalry serve over an external store ---------------------------------------------------


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_serve_caches_an_external_store_by_its_build(proxy: Proxy, settings: dict,
                                                     facts: Path, loaded: RemoteStore,
                                                     tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "no-store", tmp_path / "serve.log", workers=2,
                      page_time_limit=3, **settings)
    try:
        def cached(path: str) -> bool:
            get(live.url + path)
            return get(live.url + path)[1].get("X-Cache") == "hit"

        deadline = time.monotonic() + 30
        while not cached("/browse") and time.monotonic() < deadline:
            time.sleep(0.3)  # until the front has read the build the store serves
        assert cached("/browse")
        first = RemoteStore.from_settings(settings).info.build_id
        with proxy.holding_writes(after=2):
            thread = threading.Thread(target=load, args=(settings, facts))
            thread.start()
            deadline = time.monotonic() + 30
            while get(live.url + "/-/health")[0] != 503 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert get(live.url + "/-/health")[0] == 503
            time.sleep(1.5)  # the front reads the store's state every second
            assert not cached("/browse")  # while it loads, nothing from the cache
        thread.join(timeout=120)
        second = RemoteStore.from_settings(settings).info.build_id
        assert second != first
        deadline = time.monotonic() + 30
        while not cached("/browse") and time.monotonic() < deadline:
            time.sleep(0.3)
        status, headers, body = get(live.url + "/browse")
        assert status == 200 and headers.get("X-Cache") == "hit"
        with proxy.hanging():
            # a page the server does not make ahead: it warms the states' pages after a
            # new build, and one made before the hang is rightly served from its cache
            status, _, body = get(live.url + "/id/agency/us-commerce.html")
        assert status == 503 and proxy.url.encode() in body
    finally:
        live.stop()
