"""POST /validate: formats, errors, limits, and what it must never do."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient
from rdflib import RDF
from rdflib.namespace import SH

from rivalry.graph.store import StoreLocation
from rivalry.server import create_app

from .conftest import DATA

SHACL = DATA / "shacl"
INVALID = (SHACL / "invalid" / "issuer-among-targets.ttl").read_bytes()
VALID = (SHACL / "valid" / "measure-targeting-existing-company.ttl").read_bytes()


class Canary:
    """A local HTTP server that must receive no request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                canary.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.end_headers()
                self.wfile.write(b'{"@context": {"p": "http://example.org/p"}}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


def post(client: FlaskClient, body: bytes, content_type: str = "text/turtle",
         accept: str = "application/json", **kw):
    return client.post("/validate", data=body, content_type=content_type,
                       headers={"Accept": accept}, **kw)


def test_json_report(client: FlaskClient) -> None:
    response = post(client, INVALID)
    assert response.status_code == 200
    data = response.get_json()
    assert data["conforms"] is False
    assert data["results"][0]["constraintComponent"] == "sh:SPARQLConstraintComponent"
    assert data["results"][0]["focusNode"] == "https://w3id.org/rivalry/id/action/test-measure"
    assert post(client, VALID).get_json()["conforms"] is True


@pytest.mark.parametrize("accept,rdflib_format", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"),
    ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml")])
def test_the_report_is_a_shacl_validation_report_in_every_rdf_format(
        client: FlaskClient, accept: str, rdflib_format: str) -> None:
    """The SHACL validation report graph, in the RDF format asked for (Turtle only had
    been offered: a client asking for N-Triples or JSON-LD got 406)."""
    summary = post(client, INVALID, accept="application/json").get_json()
    response = post(client, INVALID, accept=accept)
    assert response.status_code == 200 and response.mimetype == accept
    g = rdflib.Graph().parse(data=response.data, format=rdflib_format)
    report = next(g.subjects(RDF.type, SH.ValidationReport))
    assert g.value(report, SH.conforms).toPython() is False
    assert len(list(g.objects(report, SH.result))) == len(summary["results"]) > 0


def test_html_report(client: FlaskClient) -> None:
    response = post(client, INVALID, accept="text/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b"Does not conform" in response.data
    assert b"also among the measure" in response.data


def test_every_input_format_by_content_type(client: FlaskClient) -> None:
    import pyoxigraph as ox

    quads = list(ox.parse(INVALID, format=ox.RdfFormat.TURTLE))
    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in quads]
    for media_type, fmt in [("application/trig", ox.RdfFormat.TRIG),
                            ("application/n-triples", ox.RdfFormat.N_TRIPLES),
                            ("application/n-quads", ox.RdfFormat.N_QUADS),
                            ("application/ld+json", ox.RdfFormat.JSON_LD),
                            ("application/rdf+xml", ox.RdfFormat.RDF_XML)]:
        body = ox.serialize(quads if fmt.supports_datasets else triples, format=fmt)
        response = post(client, body, content_type=media_type)
        assert response.status_code == 200, (media_type, response.get_json())
        assert response.get_json()["conforms"] is False, media_type


def test_unparseable_input_is_400_with_line_and_column(client: FlaskClient) -> None:
    body = b'@prefix rv: <https://w3id.org/rivalry/ontology#> .\n<x> rv:y "unterminated .\n'
    response = post(client, body)
    assert response.status_code == 400
    data = response.get_json()
    assert data["line"] == 2 and isinstance(data["column"], int)
    assert "syntax error" in data["message"]


def test_unknown_content_type_is_415(client: FlaskClient) -> None:
    assert post(client, INVALID, content_type="application/pdf").status_code == 415


def test_unacceptable_report_type_is_406(client: FlaskClient) -> None:
    assert post(client, INVALID, accept="image/png").status_code == 406


def test_body_over_the_limit_is_413(store_dir: Path) -> None:
    app = create_app({"store": str(store_dir), "max_body_bytes": 1000})
    client = app.test_client()
    response = post(client, INVALID + b"#" * 2000)
    assert response.status_code == 413
    assert post(client, INVALID[:900].rsplit(b"\n", 1)[0]).status_code in (200, 400)


def test_validation_never_writes(app: Flask, client: FlaskClient, store_dir: Path) -> None:
    before = StoreLocation(store_dir).current_info()
    count = len(list(StoreLocation(store_dir).builds.iterdir()))
    for body in (INVALID, VALID):
        post(client, body)
    assert StoreLocation(store_dir).current_info() == before
    assert len(list(StoreLocation(store_dir).builds.iterdir())) == count
    response = client.get("/sparql", query_string={
        "query": "ASK { <https://w3id.org/rivalry/id/action/test-measure> ?p ?o }"})
    assert response.get_json()["boolean"] is False


def test_time_limit_stops_validation_and_names_the_setting(store_dir: Path) -> None:
    app = create_app({"store": str(store_dir), "validation_time_limit": 0.001})
    response = post(app.test_client(), INVALID)
    assert response.status_code == 503
    assert "validation_time_limit" in response.get_json()["message"]
    # the server goes on answering
    relaxed = create_app({"store": str(store_dir)})
    assert post(relaxed.test_client(), VALID).status_code == 200


def test_submitted_shapes_never_run(client: FlaskClient) -> None:
    hostile = VALID + b"""
@prefix sh: <http://www.w3.org/ns/shacl#> .
<https://example.org/EvilShape> a sh:NodeShape ;
    sh:targetClass <https://w3id.org/rivalry/ontology#Action> ;
    sh:property [ sh:path <http://www.w3.org/2000/01/rdf-schema#label> ; sh:maxCount 0 ;
                  sh:message "SUBMITTED SHAPE RAN" ] ;
    sh:sparql [ sh:select "SELECT $this WHERE { }" ; sh:message "SUBMITTED SPARQL RAN" ] .
"""
    response = post(client, hostile)
    assert response.status_code == 200
    assert b"SUBMITTED" not in response.data
    data = response.get_json()
    assert all("example.org/EvilShape" not in (r["sourceShape"] or "") for r in data["results"])


def test_owl_imports_are_never_fetched(client: FlaskClient, canary: Canary) -> None:
    body = VALID + f"""
<https://example.org/onto> a <http://www.w3.org/2002/07/owl#Ontology> ;
    <http://www.w3.org/2002/07/owl#imports> <{canary.url}/imported.ttl> .
""".encode()
    assert post(client, body).status_code == 200
    assert canary.requests == []


def test_remote_jsonld_context_is_never_fetched(client: FlaskClient, canary: Canary) -> None:
    body = json.dumps({"@context": f"{canary.url}/context.jsonld",
                       "@id": "https://example.org/x", "p": "v"}).encode()
    response = post(client, body, content_type="application/ld+json")
    assert response.status_code == 400
    assert "remote @context" in response.get_json()["message"]
    assert canary.requests == []


@pytest.mark.parametrize("path", [
    "/id/state/cn.jsonld", "/id/action/us-ofac-2025-01-03-integrity.jsonld",
    "/.well-known/void.jsonld", "/ontology.jsonld"])
def test_this_servers_own_jsonld_validates_without_a_fetch(client: FlaskClient, canary: Canary,
                                                           path: str) -> None:
    """What the server publishes names its context by this server's /context.jsonld:
    posted back, it is read with that context, not refused as remote nor fetched; the
    triples read are the document's (the same as its N-Triples)."""
    document = client.get(path)
    assert document.status_code == 200
    assert json.loads(document.data)["@context"] == "http://localhost/context.jsonld"
    response = post(client, document.data, content_type="application/ld+json")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["conforms"] in (True, False)
    from rivalry.graph.load import parse_rdf
    from rivalry.server.entities import jsonld_context

    read = parse_rdf(document.data, ox.RdfFormat.JSON_LD, label="x", contexts={
        "http://localhost/context.jsonld": jsonld_context()["@context"]})
    nt = client.get(path.replace(".jsonld", ".nt")).data
    if path.startswith("/id/"):
        assert {str(q.triple) for q in read} == {
            str(t) for t in ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)}
    # another host's context of the same name is someone else's: still refused
    other = document.data.replace(b"http://localhost/context.jsonld",
                                  f"{canary.url}/context.jsonld".encode())
    refused = post(client, other, content_type="application/ld+json")
    assert refused.status_code == 400 and "remote @context" in refused.get_json()["message"]
    assert canary.requests == []


@pytest.mark.parametrize("body", [
    '{"@id": "http://e/a", "http://e/p": "\\ud800"}',
    '{"@id": "http://e/a", "http://e/p": ["x", {"@value": "a\\udfffb"}]}',
])
def test_jsonld_with_half_a_surrogate_pair_says_so(client: FlaskClient, body: str) -> None:
    response = post(client, body.encode(), content_type="application/ld+json")
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert "half of a UTF-16 surrogate pair" in message and "request body:1:" in message


def test_xml_external_entities_and_dtds_are_never_fetched(client: FlaskClient,
                                                         canary: Canary) -> None:
    rdf = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns:ex="http://example.org/"><rdf:Description rdf:about="http://example.org/a">'
           '<ex:p>%s</ex:p></rdf:Description></rdf:RDF>')
    entity = (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "{canary.url}/x">]>\n'
              + rdf % "&x;")
    response = post(client, entity.encode(), content_type="application/rdf+xml")
    assert response.status_code == 400
    assert "external XML entity" in response.get_json()["message"]
    dtd = f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "{canary.url}/dtd">\n' + rdf % "v"
    assert post(client, dtd.encode(), content_type="application/rdf+xml").status_code == 200
    assert canary.requests == []


@pytest.mark.parametrize(("depth", "status"), [(500, 200), (501, 400)])
def test_jsonld_nesting_is_bounded(client: FlaskClient, depth: int, status: int) -> None:
    """At most 500 levels of objects and arrays; brackets inside strings do not count."""
    inner = '{"http://example.org/p": ' * (depth - 2) + '"[[{{"' + "}" * (depth - 2)
    body = '[{"@id": "http://example.org/a",\n "http://example.org/p": ' + inner + "}]"
    response = post(client, body.encode(), content_type="application/ld+json")
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status == 400:
        error = response.get_json()
        assert "more than 500 levels deep" in error["message"]
        assert (error["line"], error["column"]) == (2, 26 + 25 * (depth - 3))


def deep_triple_terms(depth: int) -> str:
    """A statement whose object nests RDF 1.2 triple terms `depth` levels deep (a string
    with `<<` in it does not count)."""
    return ('<http://example.org/a> <http://example.org/p> "<< << <<" .\n'
            '<http://example.org/a> <http://example.org/p> '
            + "<<( <http://example.org/a> <http://example.org/p> " * depth
            + "<http://example.org/c>" + " )>>" * depth + " .\n")


@pytest.mark.parametrize("content_type", ["text/turtle", "application/n-triples",
                                          "application/trig"])
@pytest.mark.parametrize(("depth", "status"), [(500, 200), (501, 400), (20_000, 400)])
def test_triple_term_nesting_is_bounded(client: FlaskClient, content_type: str, depth: int,
                                        status: int) -> None:
    """pyoxigraph's parsers recurse on each triple term: 20,000 levels (half a megabyte)
    ended the process that parsed them. At most 500 levels are read."""
    response = post(client, deep_triple_terms(depth).encode(), content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status == 400:
        error = response.get_json()
        assert "triple terms (<< >>) nest more than 500 levels deep" in error["message"]
        assert (error["line"], error["column"]) == (2, 47 + 50 * 500)


def test_billion_laughs_is_refused_before_expansion(client: FlaskClient) -> None:
    decls = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    for i in range(1, 12):
        decls.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    body = ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(decls) + "\n]>\n"
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:ex="http://example.org/"><rdf:Description rdf:about="http://example.org/a">'
            "<ex:p>&lol11;</ex:p></rdf:Description></rdf:RDF>")
    response = post(client, body.encode(), content_type="application/rdf+xml")
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert "nested entities are not accepted" in message
    assert response.get_json()["line"] == 4


def test_wide_entity_expansion_is_refused(client: FlaskClient) -> None:
    value = "x" * 10_000
    body = ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY big "' + value + '">]>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:ex="http://example.org/"><rdf:Description rdf:about="http://example.org/a">'
            "<ex:p>" + "&big;" * 200 + "</ex:p></rdf:Description></rdf:RDF>")
    response = post(client, body.encode(), content_type="application/rdf+xml")
    assert response.status_code == 400
    assert "expand" in response.get_json()["message"]


def test_get_is_the_form_and_other_methods_are_not_allowed(client: FlaskClient) -> None:
    response = client.get("/validate")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'enctype="multipart/form-data"' in response.get_data(as_text=True)
    response = client.put("/validate", data=b"x", content_type="text/turtle")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"] and "GET" in response.headers["Allow"]


@pytest.mark.parametrize(("content_type", "body", "words"), [
    # the closing delimiter missing: Werkzeug's reader drops the part
    ("multipart/form-data; boundary=XX",
     b'--XX\r\nContent-Disposition: form-data; name="facts"\r\n\r\n<a:b> <a:c> <a:d> .\r\n',
     "its closing --XX-- is missing"),
    ("multipart/form-data",
     b'--XX\r\nContent-Disposition: form-data; name="facts"\r\n\r\n<a:b> <a:c> <a:d> .\r\n'
     b"--XX--\r\n", "has no boundary parameter"),
])
def test_a_multipart_body_that_cannot_be_read_says_so(client: FlaskClient, content_type: str,
                                                      body: bytes, words: str) -> None:
    response = client.post("/validate", data=body, content_type=content_type,
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert words in response.get_json()["message"]
    whole = body if "boundary=" not in content_type else body + b"--XX--\r\n"
    fixed = client.post("/validate", data=whole,
                        content_type="multipart/form-data; boundary=XX",
                        headers={"Accept": "application/json"})
    assert fixed.status_code == 200, fixed.get_json()


@pytest.mark.parametrize("path, headers, body, status, words", [
    # nothing sent is nothing checked, not facts that conform
    ("/validate", {}, b"", 400, "nothing to validate"),
    ("/validate", {}, b"  \n", 400, "nothing to validate"),
    # a strictness that is neither is not read as "not strict"
    ("/validate?strict=maybe", {}, VALID, 400, "strict=true"),
    ("/validate?strict=true&foo=1", {}, VALID, 400, "foo"),
    # facts in another charset than RDF's UTF-8
    ("/validate", {"Content-Type": "text/turtle; charset=utf-16"}, VALID, 415, "UTF-8"),
])
def test_what_cannot_be_validated_says_so(client: FlaskClient, path: str,
                                          headers: dict[str, str], body: bytes, status: int,
                                          words: str) -> None:
    response = client.post(path, data=body,
                           headers={"Content-Type": "text/turtle", **headers,
                                    "Accept": "application/json"})
    assert response.status_code == status, response.get_data(as_text=True)[:200]
    assert words in response.get_json()["message"]


@pytest.mark.parametrize("value, fails", [("true", True), ("1", True), ("false", False),
                                          ("no", False)])
def test_strict_is_read_as_given(client: FlaskClient, value: str, fails: bool) -> None:
    """A file with a warning and no violation: strict makes the warning fail."""
    warned = (SHACL / "invalid" / "action-single-source.ttl").read_bytes()
    response = client.post(f"/validate?strict={value}", data=warned,
                           headers={"Content-Type": "text/turtle",
                                    "Accept": "application/json"})
    assert response.status_code == 200
    report = response.get_json()
    assert report["counts"]["Warning"] >= 1 and report["counts"]["Violation"] == 0
    assert report["conforms"] is not fails
