"""The shortcut a worker takes for plain queries (rivalry.server.sparql.shortcut): for
every request it takes, the same status, headers, body and build as the app gives; every
other request (and every error) is left to the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask

from rivalry.graph.store import EmbeddedStore
from rivalry.server import create_app, sparql
from rivalry.server.front import wsgi_environ
from rivalry.server.sparql import shortcut
from rivalry.server.workers import Reply, answer, run_wsgi

HUAWEI = "https://w3id.org/rivalry/id/company/huawei"

SELECT = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n" \
         f"SELECT ?label WHERE {{ <{HUAWEI}> rdfs:label ?label }} ORDER BY ?label"
#: more rows than the row cap of the capped app below: the answer is truncated
MANY = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 40"
ASK = f"ASK {{ <{HUAWEI}> ?p ?o }}"
CONSTRUCT = f"CONSTRUCT {{ <{HUAWEI}> ?p ?o }} WHERE {{ <{HUAWEI}> ?p ?o }}"
DESCRIBE = f"DESCRIBE <{HUAWEI}>"
QUERIES = {"select": SELECT, "many": MANY, "ask": ASK, "construct": CONSTRUCT,
           "describe": DESCRIBE}

ACCEPTS = [None, "*/*", "application/sparql-results+json",
           "application/sparql-results+json; charset=utf-8", "application/json",
           "text/csv;q=0.5, application/sparql-results+xml", "text/tab-separated-values",
           "text/turtle", "text/turtle; charset=utf-8", "application/n-triples",
           "application/ld+json", "application/rdf+xml", "application/n-quads",
           "application/trig", "text/plain"]


@pytest.fixture(params=[10_000, 5], ids=["uncapped", "capped"])
def served(request: pytest.FixtureRequest, store_dir: Path,
           curated_store: EmbeddedStore) -> Flask:
    """The app as a worker of `rivalry serve` holds it, over the session store; with a
    row cap of 5 for the second parameter, so that answers are cut."""
    app = create_app({"store": str(store_dir), "result_row_limit": request.param})
    app.config["USE_X_SENDFILE"] = True
    app.config["RIVALRY_SUPERVISED"] = True
    app.extensions["rivalry.store"] = curated_store
    return app


def post(text: str | bytes, content_type: str = "application/sparql-query",
         accept: str | None = None, query: str = "",
         extra: list[tuple[str, str]] | None = None) -> tuple[dict[str, Any], bytes]:
    body = text.encode("utf-8") if isinstance(text, str) else text
    headers = [("Host", "127.0.0.1:8000"), ("Content-Type", content_type)]
    headers += [("Accept", accept)] if accept is not None else []
    return wsgi_environ("127.0.0.1", 8000, "POST", "/sparql", query.encode(),
                        headers + (extra or []), body), body


def get(query: str, accept: str | None = None) -> tuple[dict[str, Any], bytes]:
    headers = [("Host", "127.0.0.1:8000")] + ([("Accept", accept)] if accept else [])
    return wsgi_environ("127.0.0.1", 8000, "GET", "/sparql", query.encode(), headers, b""), b""


def same(app: Flask, environ: dict[str, Any], body: bytes) -> Reply | None:
    """What the shortcut answered (None when it left the request to the app), after
    checking that the worker's reply is the app's, to the byte."""
    taken = shortcut(app, dict(environ), body)
    by_app = run_wsgi(app, dict(environ), body)
    reply = answer(app, dict(environ), body, shortcut)
    assert (reply.status, reply.headers, reply.body, reply.build, reply.file) == (
        by_app.status, by_app.headers, by_app.body, by_app.build, by_app.file)
    return taken


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("name", QUERIES)
def test_a_plain_post_is_answered_by_the_shortcut_as_the_app_answers_it(
        served: Flask, name: str, accept: str | None) -> None:
    environ, body = post(QUERIES[name], accept=accept)
    taken = same(served, environ, body)
    by_app = run_wsgi(served, dict(environ), body)
    if by_app.status.startswith("200"):
        assert taken is not None, "a plain query the app answers is the shortcut's"
        assert taken.build  # the front may keep it for this build
    else:  # 406: a results format for a graph, or the reverse; the app says so
        assert by_app.status.startswith("406") and taken is None


def test_truncated_answers_say_so_by_both_ways(served: Flask) -> None:
    environ, body = post(MANY, accept="application/sparql-results+json")
    taken = same(served, environ, body)
    assert taken is not None
    capped = served.config["RIVALRY"]["result_row_limit"] < 40
    assert (("X-Result-Truncated", "true") in taken.headers) is capped
    assert (b'"truncated":true' in taken.body) is capped


@pytest.mark.parametrize("accept", [None, "text/csv", "application/n-triples", "text/turtle"])
@pytest.mark.parametrize("name", ["select", "construct"])
def test_a_plain_get_is_answered_by_the_shortcut(served: Flask, name: str,
                                                 accept: str | None) -> None:
    environ, body = get("query=" + quote(QUERIES[name]), accept)
    by_app = run_wsgi(served, dict(environ), body)
    taken = same(served, environ, body)
    assert (taken is not None) == by_app.status.startswith("200")


LEFT_TO_THE_APP = {
    # errors: the app says what is wrong, in its own words and shape
    "syntax error": post("SELECT * WHERE { ?s ?p "),
    "empty query": post("   "),
    "update": post("INSERT DATA { <urn:a> <urn:b> <urn:c> }"),
    "too deep": post("ASK { FILTER(" + "!" * 500 + "true) }"),
    "service": post("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"),
    "not utf-8": post("ASK { FILTER(\"é\" = \"é\") }".encode("latin-1")),
    "utf-16": post("ASK {}".encode("utf-16"), "application/sparql-query; charset=utf-16"),
    "not acceptable": post(SELECT, accept="image/png"),
    "gzip-compressed": post(SELECT, extra=[("Content-Encoding", "gzip")]),
    # an answer its format cannot hold: found once written
    "a character XML cannot hold": post('SELECT ("a\\u000Bb" AS ?x) {}',
                                        accept="application/sparql-results+xml"),
    # what the shortcut does not read: pages, forms, parameters, a protocol dataset
    "a page": post(SELECT, accept="text/html"),
    "a form": post(urlencode({"query": SELECT}), "application/x-www-form-urlencoded"),
    "format=": get(urlencode({"query": SELECT, "format": "csv"})),
    "a dataset": post(SELECT, query=urlencode({"default-graph-uri": HUAWEI})),
    "two queries": get(urlencode([("query", ASK), ("query", ASK)])),
    "no query": get(""),
    "text/plain body": post(SELECT, "text/plain"),
}


@pytest.mark.parametrize("name", LEFT_TO_THE_APP)
def test_everything_else_is_left_to_the_app(served: Flask, name: str) -> None:
    environ, body = LEFT_TO_THE_APP[name]
    assert same(served, environ, body) is None
    assert not run_wsgi(served, dict(environ), body).status.startswith("5")


def test_a_failure_of_its_own_is_left_to_the_app(served: Flask,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # a worker's request thread must never end with an exception: the app answers instead
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(sparql, "written_answer", broken)
    environ, body = post(SELECT)
    assert shortcut(served, dict(environ), body) is None
    assert run_wsgi(served, dict(environ), body).status.startswith("500")


def test_running_out_of_memory_is_not_hidden(served: Flask,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # the worker reports it, and the front ends the worker (rivalry.server.workers)
    def exhausted(*_: Any, **__: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(sparql, "written_answer", exhausted)
    environ, body = post(SELECT)
    with pytest.raises(MemoryError):
        shortcut(served, dict(environ), body)


def test_other_routes_and_methods_are_left_to_the_app(served: Flask) -> None:
    environ, body = post(SELECT)
    for change in ({"PATH_INFO": "/sparql/"}, {"PATH_INFO": "/validate"},
                   {"REQUEST_METHOD": "PUT"}, {"REQUEST_METHOD": "OPTIONS"}):
        assert same(served, environ | change, body) is None


def test_without_the_front_the_shortcut_is_never_taken(served: Flask) -> None:
    # the dev server and the tests' clients have no front to keep answers by build
    served.config["RIVALRY_SUPERVISED"] = False
    environ, body = post(SELECT)
    assert shortcut(served, environ, body) is None


def test_the_cors_setting_holds_for_the_shortcut(store_dir: Path,
                                                 curated_store: EmbeddedStore) -> None:
    app = create_app({"store": str(store_dir), "cors": False})
    app.config["RIVALRY_SUPERVISED"] = True
    app.extensions["rivalry.store"] = curated_store
    environ, body = post(SELECT)
    taken = same(app, environ, body)
    assert taken is not None
    assert not any(name.startswith("Access-Control-") for name, _ in taken.headers)
