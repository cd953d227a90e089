"""The SPARQL 1.1 Protocol's query operation at /sparql, through Flask's test client."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import rdflib
from flask.testing import FlaskClient

from rivalry.graph.store import EmbeddedStore
from rivalry.server import create_app
from rivalry.server.settings import SETTINGS

RV = "PREFIX rv: <https://w3id.org/rivalry/ontology#>\n"
SELECT = RV + "SELECT ?m ?d WHERE { ?m a rv:Measure ; rv:announcedOn ?d } ORDER BY ?m"
CONSTRUCT = RV + "CONSTRUCT { ?m rv:announcedOn ?d } WHERE { ?m a rv:Measure ; rv:announcedOn ?d }"
ASK = RV + "ASK { ?m a rv:Sanction }"
FORM = "application/x-www-form-urlencoded"


def expected_rows(store_dir: Path) -> set[tuple[str, str]]:
    result = EmbeddedStore(store_dir).query(SELECT)
    return {(row[0].value, row[1].value) for row in result.rows()}


# --- the three ways of sending a query ---------------------------------------------------


def test_get(client: FlaskClient, store_dir: Path) -> None:
    response = client.get("/sparql", query_string={"query": SELECT})
    assert response.status_code == 200
    data = response.get_json(force=True)
    got = {(b["m"]["value"], b["d"]["value"]) for b in data["results"]["bindings"]}
    assert got == expected_rows(store_dir)


def test_post_form(client: FlaskClient, store_dir: Path) -> None:
    response = client.post("/sparql", data={"query": SELECT})
    assert response.status_code == 200
    assert len(response.get_json(force=True)["results"]["bindings"]) == len(
        expected_rows(store_dir))


@pytest.mark.parametrize("content_type", [
    "application/sparql-query", "application/sparql-query; charset=utf-8",
    "application/sparql-query;charset=UTF-8"])
def test_post_direct(client: FlaskClient, content_type: str) -> None:
    response = client.post("/sparql", data=SELECT.encode(), content_type=content_type)
    assert response.status_code == 200
    assert response.get_json(force=True)["head"]["vars"] == ["m", "d"]


def test_post_direct_in_another_charset_is_415(client: FlaskClient) -> None:
    """SPARQL 1.1 Protocol, 2.1.3: application/sparql-query bodies are UTF-8 (issue 12)."""
    query = RV + 'SELECT ?l WHERE { ?s ?p ?l FILTER(?l = "中华人民共和国"@zh) }'
    response = client.post("/sparql", data=query.encode("utf-16"),
                           content_type="application/sparql-query; charset=utf-16")
    assert response.status_code == 415
    assert "UTF-8" in response.get_json()["message"]
    same = client.post("/sparql", data=query.encode("utf-8"),
                       content_type="application/sparql-query; charset=UTF-8")
    assert same.status_code == 200


@pytest.mark.parametrize(("path", "content_type", "text"), [
    ("/sparql", "application/sparql-query", SELECT),
    ("/sparql", "application/x-www-form-urlencoded", "query=" + quote(SELECT)),
    ("/validate", "text/turtle", "<http://example.org/a> <http://example.org/b> 1 ."),
])
@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_a_compressed_body_is_415_never_read_as_it_is(client: FlaskClient, path: str,
                                                      content_type: str, text: str,
                                                      coding: str) -> None:
    """No route decodes Content-Encoding: a compressed body read as it is would be
    answered as garbage (RFC 9110 8.4.1)."""
    import gzip

    response = client.post(path, data=gzip.compress(text.encode()), content_type=content_type,
                           headers={"Content-Encoding": coding,
                                    "Accept": "application/json"})
    assert response.status_code == 415
    assert f"Content-Encoding: {coding}" in response.get_json()["message"]
    plain = client.post(path, data=text.encode(), content_type=content_type,
                        headers={"Content-Encoding": "identity", "Accept": "application/json"})
    assert plain.status_code == 200


def test_chunked_body_over_the_cap_is_413_in_the_app_too(store_dir: Path) -> None:
    """Without the front (the development server, an app of one's own), the app counts a
    chunked body itself rather than let it be cut."""
    app = create_app({"store": str(store_dir), "max_body_bytes": 1000})
    text = (SELECT + "\n" + "#" * 2000 + "\nOFFSET 5").encode()
    response = app.test_client().post(
        "/sparql", input_stream=io.BytesIO(text), content_type="application/sparql-query",
        headers={"Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True})  # as a WSGI server says of chunked
    assert response.status_code == 413
    assert "max_body_bytes" in response.get_json()["message"]


# --- malformed requests -------------------------------------------------------------------


def test_syntax_error_is_400_with_a_readable_message(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": "SELECT ?s WHERE { ?s ?p }"})
    assert response.status_code == 400
    assert "SPARQL syntax error at line 1, column" in response.get_json()["message"]


@pytest.mark.parametrize(("query", "words"), [
    # escapes outside strings and IRIs, which SPARQL reads first (19.2) and the engine not
    ("SELECT ?\\u0078 WHERE { BIND(1 AS ?x) }",
     "line 1, column 9: \\u0078 outside a string or an IRI"),
    ("PREFIX ex: <http://e/> SELECT * WHERE { BIND(ex:a\\u003Ab AS ?x) }",
     "\\u003A outside a string or an IRI"),
    # half a surrogate pair: no character, in a string or anywhere
    ('ASK { FILTER("\\uD800" = "a") }', "line 1, column 15: \\uD800 is half of a UTF-16"),
    ('ASK { FILTER("\\U0000DFFF" = "a") }', "\\U0000DFFF is half of a UTF-16"),
    # an escape in an IRI is SPARQL's own: the error is where it is, not the IRI
    ("SELECT * WHERE { ?s <http://e/\\u0041> ?o FILTER(?o > ) }", "wrong near the end"),
    # a number past the engine's counting: said so, not "should be a non negative integer"
    ("SELECT * WHERE { ?s ?p ?o } OFFSET 99999999999999999999999",
     "OFFSET '99999999999999999999999' is past the largest the engine takes"),
])
def test_syntax_errors_about_escapes_say_what_is_wrong(client: FlaskClient, query: str,
                                                       words: str) -> None:
    response = client.get("/sparql", query_string={"query": query},
                          headers={"Accept": "application/json"})
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert words in message, message
    assert "not a valid IRI" not in message and "not declared" not in message


def test_escapes_where_the_engine_reads_them_are_answered(client: FlaskClient) -> None:
    query = 'SELECT ?x WHERE { BIND("\\u0041" AS ?x) FILTER(<http://e/\\u0041> != ?x) }'
    response = client.get("/sparql", query_string={"query": query},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200
    assert response.get_json()["results"]["bindings"][0]["x"]["value"] == "A"


def test_regex_departs_from_xpath_as_the_docs_say(client: FlaskClient) -> None:
    """docs/sparql.md: back-references and block names make REGEX an error (unbound), and
    class subtraction is read as a union. Should the engine change, so must the docs."""
    query = ('SELECT (REGEX("aa", "^(a)\\\\1$") AS ?backref) '
             '(REGEX("x", "\\\\p{IsBasicLatin}") AS ?block) '
             '(REGEX("a", "^[a-z-[aeiou]]$") AS ?subtract) (REGEX("ab", "^a(b|c)$") AS ?plain) {}')
    response = client.get("/sparql", query_string={"query": query},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200
    row = response.get_json()["results"]["bindings"][0]
    assert "backref" not in row and "block" not in row
    assert row["subtract"]["value"] == "true" and row["plain"]["value"] == "true"


def test_two_queries_are_400(client: FlaskClient) -> None:
    response = client.get("/sparql?query=" + quote(ASK) + "&query=" + quote(ASK))
    assert response.status_code == 400
    response = client.post("/sparql?query=" + quote(ASK), data=ASK.encode(),
                           content_type="application/sparql-query")
    assert response.status_code == 400
    response = client.post("/sparql?query=" + quote(ASK), data={"query": ASK})
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/json",
                                          "multipart/form-data; boundary=x", None])
def test_wrong_media_type_is_415(client: FlaskClient, content_type: str | None) -> None:
    """A body the endpoint cannot read: 415 (RFC 9110, 15.5.16), naming the two it takes."""
    response = client.post("/sparql", data=ASK.encode(), content_type=content_type)
    assert response.status_code == 415
    assert "application/sparql-query" in response.get_json()["message"]


@pytest.mark.parametrize("send", ["get", "form", "mixed"])
def test_a_query_and_an_update_together_are_400(client: FlaskClient, send: str) -> None:
    """A request carrying both is malformed (400), not an update to refuse (403)."""
    if send == "get":
        response = client.get("/sparql", query_string={"query": ASK, "update": UPDATE})
    elif send == "form":
        response = client.post("/sparql", data={"query": ASK, "update": UPDATE})
    else:
        response = client.post("/sparql?query=" + quote(ASK), data={"update": UPDATE})
    assert response.status_code == 400
    assert "both" in response.get_json()["message"]


@pytest.mark.parametrize("charset", ["iso-8859-1", "UTF-16", "us-ascii"])
def test_a_form_in_another_charset_is_415(client: FlaskClient, charset: str) -> None:
    response = client.post("/sparql", data=b"query=SELECT+(%22%C3%A9%22+AS+%3Fx)+%7B%7D",
                           content_type=f"{FORM}; charset={charset}")
    assert response.status_code == 415
    assert "UTF-8" in response.get_json()["message"]


def test_a_form_with_raw_utf8_is_read_as_utf8(client: FlaskClient) -> None:
    """Browsers send a form's characters percent-encoded, but raw UTF-8 bytes are UTF-8
    too: read, not refused as if they were not."""
    response = client.post("/sparql", data='query=SELECT ("é" AS ?x) {}'.encode(),
                           content_type=FORM, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines()[1] == "é"


@pytest.mark.parametrize("path", [
    "/search?q=Hua%FFwei&format=json", "/reconcile/suggest/entity?prefix=Hua%FF",
    "/browse/actions?q=%C3%28", "/id/state/cn?x=%ED%A0%80"])
def test_parameters_that_are_not_utf8_are_400_everywhere(client: FlaskClient,
                                                         path: str) -> None:
    """Werkzeug keeps an escape that is not UTF-8 as it is (`%FF`): every route would
    have answered as if that text had been asked for."""
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "not UTF-8" in response.get_json()["message"]


@pytest.mark.parametrize("path, body", [
    ("/reconcile", b"queries=%7B%22q0%22%3A%7B%22query%22%3A%22Hua%FFwei%22%7D%7D"),
    ("/validate", b"facts=%22%FF%22"),
    ("/sparql", b"query=ASK%20%7B%7D%C3%28")])
def test_form_bodies_that_are_not_utf8_are_400_everywhere(client: FlaskClient, path: str,
                                                          body: bytes) -> None:
    response = client.post(path, data=body, content_type=FORM,
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "not UTF-8" in response.get_json()["message"]


def test_invalid_utf8_is_400(client: FlaskClient) -> None:
    assert client.get("/sparql?query=ASK%20%7B%7D%FF").status_code == 400
    response = client.post("/sparql", data=b"query=ASK%20%7B%7D%C3%28", content_type=FORM)
    assert response.status_code == 400
    response = client.post("/sparql", data=b"ASK { \xff }",
                           content_type="application/sparql-query")
    assert response.status_code == 400
    assert "not valid utf-8" in response.get_json()["message"]


def test_post_without_query_is_400(client: FlaskClient) -> None:
    assert client.post("/sparql", data={"nothing": "here"}).status_code == 400


def test_empty_query_is_400(client: FlaskClient) -> None:
    assert client.get("/sparql", query_string={"query": "  "}).status_code == 400


# --- updates are refused, however they are sent ------------------------------------------

UPDATE = "INSERT DATA { <https://example.org/s> <https://example.org/p> <https://example.org/o> }"


@pytest.mark.parametrize("send", ["get-update", "form-update", "direct-update", "query-param",
                                  "direct-query"])
def test_updates_are_refused_and_change_nothing(client: FlaskClient, send: str) -> None:
    if send == "get-update":
        response = client.get("/sparql", query_string={"update": UPDATE})
    elif send == "form-update":
        response = client.post("/sparql", data={"update": UPDATE})
    elif send == "direct-update":
        response = client.post("/sparql", data=UPDATE.encode(),
                               content_type="application/sparql-update")
    elif send == "query-param":
        response = client.get("/sparql", query_string={"query": UPDATE})
    else:
        response = client.post("/sparql", data=UPDATE.encode(),
                               content_type="application/sparql-query")
    assert response.status_code == 403  # read-only, however the update comes
    assert "read-only" in response.get_json(force=True)["message"]
    check = client.get("/sparql", query_string={
        "query": "ASK { <https://example.org/s> ?p ?o }"})
    assert check.get_json(force=True)["boolean"] is False


# --- result formats and negotiation -------------------------------------------------------


def parse_results(media_type: str, body: bytes) -> set[tuple[str, ...]]:
    if media_type == "application/sparql-results+json":
        data = json.loads(body)
        return {(b["m"]["value"], b["d"]["value"]) for b in data["results"]["bindings"]}
    if media_type == "application/sparql-results+xml":
        results = ox.parse_query_results(body, format=ox.QueryResultsFormat.XML)
        return {(s["m"].value, s["d"].value) for s in results}
    if media_type == "text/csv":
        rows = list(csv.reader(io.StringIO(body.decode())))
        assert rows[0] == ["m", "d"]
        return {tuple(r) for r in rows[1:]}
    results = ox.parse_query_results(body, format=ox.QueryResultsFormat.TSV)
    return {(s["m"].value, s["d"].value) for s in results}


@pytest.mark.parametrize("media_type", [
    "application/sparql-results+json", "application/sparql-results+xml", "text/csv",
    "text/tab-separated-values"])
def test_select_formats_parse_back_to_the_stores_answer(client: FlaskClient, store_dir: Path,
                                                         media_type: str) -> None:
    response = client.get("/sparql", query_string={"query": SELECT},
                          headers={"Accept": media_type})
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert parse_results(media_type, response.data) == expected_rows(store_dir)
    assert response.headers["Vary"] == "Accept"


@pytest.mark.parametrize("media_type,fmt", [
    ("application/sparql-results+json", ox.QueryResultsFormat.JSON),
    ("application/sparql-results+xml", ox.QueryResultsFormat.XML),
])
def test_ask_formats(client: FlaskClient, media_type: str, fmt: ox.QueryResultsFormat) -> None:
    response = client.get("/sparql", query_string={"query": ASK}, headers={"Accept": media_type})
    assert bool(ox.parse_query_results(response.data, format=fmt)) is True


@pytest.mark.parametrize("media_type,rdflib_format", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"),
    ("application/n-quads", "nquads"), ("application/trig", "trig"),
    ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"),
])
def test_construct_formats_parse_back(client: FlaskClient, store_dir: Path, media_type: str,
                                      rdflib_format: str) -> None:
    response = client.get("/sparql", query_string={"query": CONSTRUCT},
                          headers={"Accept": media_type})
    assert response.status_code == 200
    assert response.mimetype == media_type
    if rdflib_format in ("nquads", "trig"):
        graph = rdflib.Dataset()
        graph.parse(data=response.data, format=rdflib_format)
        triples = {(str(s), str(o)) for s, _, o, _ in graph.quads()}
    else:
        graph = rdflib.Graph().parse(data=response.data, format=rdflib_format)
        triples = {(str(s), str(o)) for s, _, o in graph}
    assert triples == expected_rows(store_dir)


def test_describe_is_a_graph(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={
        "query": "DESCRIBE <https://w3id.org/rivalry/id/state/cn>"})
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    g = rdflib.Graph().parse(data=response.data, format="turtle")
    assert len(g) > 3


def test_q_values_decide(client: FlaskClient) -> None:
    accept = ("application/sparql-results+json;q=0.4, text/csv;q=0.9, "
              "application/sparql-results+xml;q=0.5")
    response = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": accept})
    assert response.mimetype == "text/csv"
    response = client.get("/sparql", query_string={"query": CONSTRUCT},
                          headers={"Accept": "application/rdf+xml;q=0.2, application/n-triples"})
    assert response.mimetype == "application/n-triples"


def test_wildcards_and_no_accept_give_the_defaults(client: FlaskClient) -> None:
    for accept in ("*/*", None):
        headers = {"Accept": accept} if accept else {}
        select = client.get("/sparql", query_string={"query": SELECT}, headers=headers)
        assert select.mimetype == "application/sparql-results+json"
        graph = client.get("/sparql", query_string={"query": CONSTRUCT}, headers=headers)
        assert graph.mimetype == "text/turtle"


def test_406_for_what_cannot_be_produced(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": SELECT},
                          headers={"Accept": "text/turtle"})
    assert response.status_code == 406
    response = client.get("/sparql", query_string={"query": CONSTRUCT},
                          headers={"Accept": "text/csv"})
    assert response.status_code == 406
    assert client.get("/sparql", query_string={"query": SELECT, "format": "turtle"}
                      ).status_code == 406


@pytest.mark.parametrize("fmt,media_type", [
    ("csv", "text/csv"), ("tsv", "text/tab-separated-values"),
    ("xml", "application/sparql-results+xml"), ("json", "application/sparql-results+json"),
    ("html", "text/html"), ("text/csv", "text/csv")])
def test_format_parameter_for_links(client: FlaskClient, fmt: str, media_type: str) -> None:
    response = client.get("/sparql", query_string={"query": SELECT, "format": fmt},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200 and response.mimetype == media_type


def test_a_query_in_the_url_is_parsed_once(client: FlaskClient,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint reads its query string once, strictly (the query, the dataset and
    `format` together): werkzeug's `request.args`, which would parse a long query a
    second time, is not read, and `format` still chooses the format."""
    from flask import Request

    def refused(self: Request) -> None:
        raise AssertionError("request.args read by the SPARQL endpoint")

    monkeypatch.setattr(Request, "args", property(refused))
    for fmt, media_type in (("csv", "text/csv"), (None, "application/sparql-results+json")):
        params = {"query": SELECT} | ({"format": fmt} if fmt else {})
        response = client.get("/sparql", query_string=params,
                              headers={"Accept": "application/sparql-results+json"})
        assert response.status_code == 200 and response.mimetype == media_type


def test_browsers_get_a_table(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": SELECT},
                          headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.mimetype == "text/html"
    assert b"<table>" in response.data and b"us-ofac-2025-01-03-integrity" in response.data


# --- the dataset of a request --------------------------------------------------------------

STATES = "https://w3id.org/rivalry/graph/facts/reference/states"
AGENCIES = "https://w3id.org/rivalry/graph/facts/reference/agencies"


def test_default_graph_uri_restricts_the_default_graph(client: FlaskClient) -> None:
    query = RV + "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a rv:State }"
    whole = client.get("/sparql", query_string={"query": query}).get_json(force=True)
    only_agencies = client.get("/sparql", query_string={
        "query": query, "default-graph-uri": AGENCIES}).get_json(force=True)
    n = [int(d["results"]["bindings"][0]["n"]["value"]) for d in (whole, only_agencies)]
    assert n[0] >= 2 and n[1] == 0


def test_repeated_graph_uris(client: FlaskClient) -> None:
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    response = client.get("/sparql?query=" + quote(query) + "&named-graph-uri=" + quote(STATES)
                          + "&named-graph-uri=" + quote(AGENCIES))
    graphs = {b["g"]["value"] for b in response.get_json(force=True)["results"]["bindings"]}
    assert graphs == {STATES, AGENCIES}
    query = RV + "SELECT (COUNT(*) AS ?n) WHERE { ?s rdfs:label ?l }"
    query = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n" + query
    response = client.post("/sparql?default-graph-uri=" + quote(STATES) + "&default-graph-uri="
                           + quote(AGENCIES), data=query.encode(),
                           content_type="application/sparql-query")
    assert int(response.get_json(force=True)["results"]["bindings"][0]["n"]["value"]) > 4


def test_from_clause_in_the_query_is_honoured(client: FlaskClient) -> None:
    agency = "<https://w3id.org/rivalry/ontology#GovernmentAgency>"
    query = f"SELECT DISTINCT ?s WHERE {{ ?s a {agency} }}"
    scoped = f"SELECT DISTINCT ?s FROM <{STATES}> WHERE {{ ?s a {agency} }}"
    assert client.get("/sparql", query_string={"query": query}).get_json(force=True)[
        "results"]["bindings"]
    assert client.get("/sparql", query_string={"query": scoped}).get_json(force=True)[
        "results"]["bindings"] == []


# --- limits -------------------------------------------------------------------------------


def test_row_cap_truncates_visibly(store_dir: Path) -> None:
    client = create_app({"store": str(store_dir), "result_row_limit": 3}).test_client()
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    data = response.get_json(force=True)
    assert len(data["results"]["bindings"]) == 3
    assert data["truncated"] is True
    assert response.headers["X-Result-Truncated"] == "true"
    assert response.headers["X-Result-Row-Limit"] == "3"
    graph = client.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                       headers={"Accept": "application/n-triples"})
    assert len(graph.data.decode().strip().splitlines()) == 3
    assert graph.headers["X-Result-Truncated"] == "true"
    small = client.get("/sparql", query_string={"query": ASK})
    assert "X-Result-Truncated" not in small.headers


RESULT_MEDIA = {"json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
                "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV}
# a value that looks like a JSON row separator and a CSV line break
AWKWARD = RV + """SELECT ?x ?v WHERE {
  VALUES (?x ?v) { (1 "a},{\\"b\\n, c") (2 "d") (3 UNDEF) (4 "e") (5 "f") } } ORDER BY ?x"""


@pytest.mark.parametrize("fmt", sorted(RESULT_MEDIA))
@pytest.mark.parametrize(("query", "rows", "truncated"), [
    (AWKWARD, 3, True),  # five rows, cut to three
    (AWKWARD.replace("ORDER BY ?x", "ORDER BY ?x LIMIT 3"), 3, False),  # exactly the cap
    (AWKWARD.replace("ORDER BY ?x", "ORDER BY ?x LIMIT 2"), 2, False),
    (AWKWARD.replace("ORDER BY ?x", "ORDER BY ?x LIMIT 50 OFFSET 3"), 2, False),
    (AWKWARD.replace("ORDER BY ?x", "ORDER BY ?x LIMIT 4"), 3, True),
    # the query's own VALUES block comes after its solution modifiers
    (RV + "SELECT ?x WHERE { } VALUES ?x { 1 2 3 4 5 6 }", 3, True),
    (RV + "SELECT ?x WHERE { { SELECT ?x WHERE { VALUES ?x { 1 2 3 4 } } LIMIT 9 } }\n"
     "# LIMIT 1 in a comment at the end", 3, True),
])
def test_row_cap_in_every_results_format(store_dir: Path, fmt: str, query: str, rows: int,
                                         truncated: bool) -> None:
    client = create_app({"store": str(store_dir), "result_row_limit": 3}).test_client()
    response = client.get("/sparql", query_string={"query": query, "format": fmt})
    assert response.status_code == 200, response.data
    if fmt == "csv":  # lossy, so pyoxigraph does not read it; the csv module does
        table = list(csv.reader(io.StringIO(response.data.decode(), newline="")))
        values = [row[1] if len(row) > 1 else None for row in table[1:]]
    else:
        parsed = list(ox.parse_query_results(response.data, format=RESULT_MEDIA[fmt]))
        values = [s["v"].value if "?v" in query and s["v"] else None for s in parsed]
    assert len(values) == rows
    assert ("X-Result-Truncated" in response.headers) is truncated
    if "?v" in query and "OFFSET" not in query:
        assert values[:2] == ['a},{"b\n, c', "d"][:rows]
    if fmt == "json":
        assert json.loads(response.data).get("truncated", False) is truncated


def test_row_limit_is_written_into_the_query_where_sparql_allows_it() -> None:
    from rivalry.graph.sparql import with_row_limit

    assert with_row_limit("SELECT * { ?s ?p ?o } # the end", 11) == \
        "SELECT * { ?s ?p ?o } # the end\nLIMIT 11\n"
    assert with_row_limit("select * { ?s ?p ?o } limit 5 offset 2", 11) == \
        "select * { ?s ?p ?o } limit 5 offset 2"
    assert with_row_limit("SELECT * { ?s ?p ?o } OFFSET 2 LIMIT 500", 11) == \
        "SELECT * { ?s ?p ?o } OFFSET 2 LIMIT 11"
    assert with_row_limit("SELECT ?x { } VALUES ?x { 1 }", 11) == \
        "SELECT ?x { } \nLIMIT 11\nVALUES ?x { 1 }"
    # a LIMIT inside a subquery, a string or an IRI is not the query's own
    assert with_row_limit('SELECT * { { SELECT * { ?s ?p "LIMIT 1" } LIMIT 1 } }', 11) \
        .endswith("\nLIMIT 11\n")
    for other in ("ASK { ?s ?p ?o }", "CONSTRUCT WHERE { ?s ?p ?o }",
                  "SELECT * { ?s ?p ?o \\u007D", "SELECT * { ?s ?p ?o } LIMIT ?x"):
        assert with_row_limit(other, 11) is None, other


@pytest.mark.parametrize("query,keys", [
    ("SELECT ?s ?p WHERE { ?s ?p ?o }", "ORDER BY ?s ?p"),
    ("SELECT DISTINCT $s (COUNT(?o) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?s", "ORDER BY ?s ?n"),
    ("SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY DESC(?o) LIMIT 4 # the end",
     "ORDER BY DESC(?o) ?s ?o LIMIT 4"),
    ("SELECT * WHERE { ?s ?p ?o { SELECT ?q WHERE { ?q ?r ?t } } }",
     "ORDER BY ?s ?p ?o ?q ?r ?t"),
    ("SELECT ?s WHERE { ?s ?p ?o } VALUES ?s { <http://example.org/a> }", "ORDER BY ?s"),
    ("CONSTRUCT { ?s <http://example.org/p> ?o } WHERE { ?s ?q ?o }", "ORDER BY ?s ?o ?q"),
    ("DESCRIBE ?x WHERE { ?x ?p ?o } OFFSET 2", "ORDER BY ?x ?p ?o"),
])
def test_pages_of_an_answer_have_a_total_order(query: str, keys: str) -> None:
    """What an external store's pages are read in (rivalry.graph.remote): the query's own
    order, then every variable it projects (or binds), so that no two different rows
    tie; a valid query, whose windows are still valid queries."""
    from rivalry.graph.sparql import with_total_order, with_window

    ordered = with_total_order(query)
    assert ordered is not None and keys in " ".join(ordered.split())
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://example.org/a"), ox.NamedNode("http://example.org/p"),
                      ox.Literal("1")))
    for text in (ordered, with_window(ordered, 10, 5)):
        assert text is not None
        store.query(text)  # parses
    assert with_total_order("ASK { ?s ?p ?o }") == "ASK { ?s ?p ?o }"
    assert with_total_order("SELECT * { ?s ?p ?o \\u007D") is None


@pytest.mark.parametrize("fmt", sorted(RESULT_MEDIA))
def test_trim_rows_cuts_any_excess(fmt: str) -> None:
    """The endpoint asks for one row more than the cap; should more come, all go."""
    from rivalry.graph.results import trim_rows

    store = ox.Store()
    query = 'SELECT ?x ?v WHERE { VALUES (?x ?v) { (1 "a},{\\"b\\n") (2 UNDEF) (3 "<result>") ' \
        '(4 "d") (5 "e") (6 "f") } } ORDER BY ?x'
    body = store.query(query).serialize(format=RESULT_MEDIA[fmt])
    for keep, cut in ((6, False), (7, False), (2, True), (0, True)):
        trimmed, truncated = trim_rows(body, RESULT_MEDIA[fmt], keep)
        assert truncated is cut
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(trimmed.decode(), newline="")))[1:]
        else:
            rows = list(ox.parse_query_results(trimmed, format=RESULT_MEDIA[fmt]))
        assert len(rows) == min(keep, 6), (keep, trimmed)


@pytest.mark.parametrize("layout", ["compact", "spaced", "nested", "results first"])
def test_trim_rows_cuts_json_rows_where_they_end_as_written(layout: str) -> None:
    """A JSON answer is cut after its last kept row, the rows kept as they were written:
    in pyoxigraph's compact layout, in another server's spaced one (keys before the
    rows), with rows whose values are objects (triple terms), and with the keys in
    another order. Strings holding `},{`, brackets and escaped quotes do not move the
    cut."""
    from rivalry.graph.results import trim_rows

    rows = [{"x": {"type": "literal", "value": f"{i} }},{{\"]\\ [" + "\n"}} for i in range(5)]
    rows[2] = {"t": {"type": "triple", "value": {
        "subject": {"type": "uri", "value": "http://example.org/s"},
        "predicate": {"type": "uri", "value": "http://example.org/p"},
        "object": {"type": "literal", "value": "]}"}}}}
    head = {"vars": ["x", "t"]}
    if layout == "compact":
        body = json.dumps({"head": head, "results": {"bindings": rows}},
                          separators=(",", ":")).encode()
    elif layout == "spaced":
        body = json.dumps({"head": head, "results": {"distinct": False, "ordered": True,
                                                     "bindings": rows}}, indent=2).encode()
    elif layout == "nested":
        body = json.dumps({"head": head, "results": {"bindings": rows}}, indent=1).encode()
    else:
        body = json.dumps({"results": {"bindings": rows}, "head": head}).encode()
    for keep in range(7):
        trimmed, truncated = trim_rows(body, ox.QueryResultsFormat.JSON, keep)
        assert truncated is (keep < 5)
        doc = json.loads(trimmed)
        assert doc["head"] == head and doc["results"]["bindings"] == rows[:keep], keep
        if truncated and keep:
            # the bytes as written up to the end of the last row kept, then the list's end
            same = next(i for i, (a, b) in enumerate(zip(trimmed, body, strict=False))
                        if a != b)
            assert trimmed[same:same + 1] == b"]" and body[same:].lstrip()[:1] == b","


def test_trim_rows_counts_pyoxigraph_json_rows_without_decoding_them() -> None:
    """pyoxigraph's compact JSON is cut by counting its row separators, not by decoding
    each row: the same rows as decoding gives, whatever the strings hold (`},{`, quotes,
    brackets, `},{}`), and rows that bind nothing; a document the count cannot read
    surely (an empty row) is left to the decoder."""
    import random

    from rivalry.graph.results import _trim_compact_json, trim_rows

    store = ox.Store()
    rnd = random.Random(5)
    pieces = ["},{", "}", "{", ",", '\\"', "\\\\", "]", "[", "a", " ", ":"]
    counted = 0
    for _ in range(1500):
        values = []
        for _ in range(rnd.randint(1, 6)):
            text = '"' + "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6))) + '"'
            first = rnd.choice([text, text + "@en", "<http://example.org/x>", "UNDEF"])
            values.append(f"({first} {rnd.choice([text, '1', 'UNDEF'])})")
        query = "SELECT ?a ?b WHERE { VALUES (?a ?b) { " + " ".join(values) + " } }"
        body = store.query(query).serialize(format=ox.QueryResultsFormat.JSON)
        rows = json.loads(body)["results"]["bindings"]
        for keep in range(len(rows)):  # asked for keep + 1 rows: one to cut, at most
            if len(rows) > keep + 1:
                continue
            trimmed, truncated = trim_rows(body, ox.QueryResultsFormat.JSON, keep)
            assert truncated and json.loads(trimmed)["results"]["bindings"] == rows[:keep]
            assert body.startswith(trimmed[:-3])  # the kept rows as written
            if _trim_compact_json(body, keep) is not None:
                counted += 1
            else:
                assert {} in rows or b"},{}" in body, body
    assert counted > 500  # the count, not the decoder, cut most of them


def test_natively_written_answers_match_the_collected_ones(store_dir: Path) -> None:
    """Every canned query gives the same solutions whether pyoxigraph writes the answer
    (JSON) or the rows are collected first (the HTML page's path)."""
    from rivalry.graph.canned import canned_queries, run_canned
    from rivalry.graph.store import QueryLimits

    store = EmbeddedStore(store_dir)
    client = create_app({"store": str(store_dir)}).test_client()
    for query in canned_queries():
        collected = run_canned(store, query, limits=QueryLimits())
        response = client.post("/sparql", data=query.text_with_defaults().encode(),
                               content_type="application/sparql-query",
                               headers={"Accept": "application/sparql-results+json"})
        written = list(ox.parse_query_results(response.data,
                                              format=ox.QueryResultsFormat.JSON))
        assert collected.body is None
        assert sorted(_comparable(s[v] for v in collected.variables) for s in written) \
            == sorted(_comparable(r) for r in collected.rows), query.name


def _comparable(row: object) -> str:
    # GROUP_CONCAT's order is not defined: one run's "A | B" may be another's "B | A"
    return str([sorted(re.split(r"\s*[|,]\s*", t.value)) if isinstance(t, ox.Literal)
                else str(t) for t in row])


def test_time_limit_names_the_setting(store_dir: Path) -> None:
    client = create_app({"store": str(store_dir), "query_time_limit": 0.2}).test_client()
    heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    response = client.get("/sparql", query_string={"query": heavy})
    assert response.status_code == 503
    assert "query_time_limit" in response.get_json()["message"]


def test_request_body_cap_is_413(store_dir: Path) -> None:
    client = create_app({"store": str(store_dir), "max_body_bytes": 500}).test_client()
    big = ASK + " #" + "x" * 1000
    assert client.post("/sparql", data=big.encode(),
                       content_type="application/sparql-query").status_code == 413
    assert client.post("/sparql", data={"query": big}).status_code == 413


def test_service_is_refused_unless_allowed(store_dir: Path, client: FlaskClient) -> None:
    for query in ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
                  "SELECT * WHERE { SERVICE SILENT <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
                  "PREFIX x: <http://127.0.0.1:9/> "
                  "SELECT * WHERE { SERVICE x:sparql { ?s ?p ?o } }",
                  "SELECT * WHERE { ?e ?p ?o SERVICE ?e { ?s ?p ?o } }",
                  "select * where { service <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"):
        response = client.get("/sparql", query_string={"query": query})
        assert response.status_code == 400, query
        assert "SERVICE" in response.get_json()["message"]
    allowed = create_app({"store": str(store_dir),
                          "service_allowlist": "http://127.0.0.1:9/sparql"}).test_client()
    response = allowed.get("/sparql", query_string={
        "query": "SELECT * WHERE { SERVICE SILENT <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"})
    assert response.status_code == 200


def test_keywords_inside_strings_iris_and_comments_are_not_service(client: FlaskClient) -> None:
    query = ('SELECT ?s WHERE { ?s ?p "SERVICE <http://x/>" . # SERVICE <http://y/>\n'
             ' FILTER(?p != <http://example.org/SERVICE>) } LIMIT 1')
    assert client.get("/sparql", query_string={"query": query}).status_code == 200


def test_deeply_nested_query_is_400(client: FlaskClient) -> None:
    query = "SELECT * WHERE " + "{" * 3000 + "}" * 3000
    response = client.get("/sparql", query_string={"query": query})
    assert response.status_code == 400
    assert "max_query_depth" in response.get_json()["message"]
    query = "SELECT * WHERE { FILTER(" + "(" * 3000 + "1" + ")" * 3000 + ") }"
    assert client.post("/sparql", data=query.encode(),
                       content_type="application/sparql-query").status_code == 400


# --- service description, CORS, settings, health ---------------------------------------------

SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "text/csv",
                                    "application/sparql-results+xml"])
def test_a_request_for_results_without_a_query_is_400_saying_so(client: FlaskClient,
                                                                accept: str) -> None:
    """It had been 406, as if the service description were what the client asked for."""
    response = client.get("/sparql", headers={"Accept": accept})
    assert response.status_code == 400
    assert "the request has no query" in response.get_json()["message"]
    assert client.get("/sparql", headers={"Accept": "image/png"}).status_code == 406


@pytest.mark.parametrize("media_type,fmt", [
    ("text/turtle", "turtle"), ("application/rdf+xml", "xml"), ("application/ld+json", "json-ld")])
def test_service_description(client: FlaskClient, media_type: str, fmt: str) -> None:
    response = client.get("/sparql", headers={"Accept": media_type})
    assert response.status_code == 200 and response.mimetype == media_type
    g = rdflib.Graph().parse(data=response.data, format=fmt)
    service = next(g.subjects(rdflib.RDF.type, SD.Service))
    assert (service, SD.endpoint, rdflib.URIRef("http://localhost/sparql")) in g
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in g
    assert (service, SD.feature, SD.UnionDefaultGraph) in g
    assert len(set(g.objects(service, SD.resultFormat))) == 10


def test_cors(client: FlaskClient, store_dir: Path) -> None:
    response = client.get("/sparql", query_string={"query": ASK},
                          headers={"Origin": "https://example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options("/sparql", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"})
    assert preflight.status_code in (200, 204)
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    # a preflight offers what the route takes, no more: no POST where only GET is taken
    for path in ("/search", "/data", "/id/state/cn"):
        methods = client.options(path, headers={
            "Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
        ).headers["Access-Control-Allow-Methods"]
        assert "GET" in methods and "POST" not in methods, (path, methods)
    off = create_app({"store": str(store_dir), "cors": False}).test_client()
    assert "Access-Control-Allow-Origin" not in off.get(
        "/sparql", query_string={"query": ASK}).headers


def test_settings_json_lists_every_setting(client: FlaskClient) -> None:
    data = client.get("/-/settings.json").get_json()
    assert set(data) == {s.name for s in SETTINGS}
    assert data["query_time_limit"] == 10.0


def test_health_reports_store_and_build(client: FlaskClient) -> None:
    data = client.get("/-/health").get_json()
    assert data["status"] == "ok"
    assert data["build"]["quads"] > 1000 and data["build"]["built_at"]
    assert data["store"]["kind"] == "embedded"


def test_error_shape_is_one_json_object(client: FlaskClient) -> None:
    body = client.get("/sparql", query_string={"query": "SELEC"}).get_json()
    # a syntax error also says where, apart, for clients
    assert set(body) == {"error", "status", "message", "line", "column", "token"}
    assert body["status"] == 400 and (body["line"], body["column"], body["token"]) == (
        1, 1, "SELEC")



@pytest.mark.parametrize("accept", ["application/n-triples", "application/n-quads",
                                    "text/turtle"])
def test_construct_answers_are_capped_in_every_graph_format(store_dir: Path,
                                                           accept: str) -> None:
    """N-Triples and N-Quads are written by pyoxigraph and cut by lines (a line per triple:
    line breaks in literals are escaped); other formats from the collected triples."""
    app = create_app({"store": str(store_dir), "result_row_limit": 7})
    query = RV + "CONSTRUCT { ?m rv:summary ?s } WHERE { ?m rv:summary ?s }"
    response = app.test_client().post("/sparql", data=query.encode(),
                                      content_type="application/sparql-query",
                                      headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["X-Result-Truncated"] == "true"
    assert response.headers["X-Result-Row-Limit"] == "7"
    fmt = {"application/n-triples": "nt", "application/n-quads": "nquads",
           "text/turtle": "turtle"}[accept]
    graph = rdflib.Dataset() if fmt == "nquads" else rdflib.Graph()
    graph.parse(data=response.data.decode("utf-8"), format=fmt)
    assert len(graph) == 7


@pytest.mark.parametrize("path", ["/sparql?query=ASK%7B%7D&format=csv&format=json",
                                  "/data?format=json&format=html",
                                  "/id/state/cn?format=ttl&format=jsonld"])
def test_format_given_twice_is_400(client: FlaskClient, path: str) -> None:
    """The first had won silently on some routes, been refused on others."""
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "format is given 2 times, for different formats" in response.get_json()["message"]


def test_one_format_named_twice_is_read(client: FlaskClient) -> None:
    """SPARQLWrapper names the format it wants twice, by name and by media type."""
    response = client.get("/sparql?query=ASK%7B%7D&format=tsv"
                          "&format=text%2Ftab-separated-values")
    assert response.status_code == 200
    assert response.mimetype == "text/tab-separated-values"
