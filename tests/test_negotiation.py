"""Every route that chooses a media type by Accept goes through formats.best_offer: the
highest q wins, the route's own order breaks ties, nothing acceptable is 406."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("accept, status", [
    ("text/html", 303),  # a browser goes to the query page
    ("text/html, text/turtle", 200),  # a tie: the service description
    ("text/html;q=0.5, text/turtle", 200),
    ("", 200),
])
def test_service_description_or_query_page(client: FlaskClient, accept: str,
                                           status: int) -> None:
    response = client.get("/sparql", headers={"Accept": accept} if accept else {})
    assert response.status_code == status


@pytest.mark.parametrize("accept, kind", [
    ("application/json", "application/json"),
    ("text/html, application/json", "text/html"),  # a tie: HTML
    ("text/html;q=0.2, application/json", "application/json"),
    ("", "text/html"),
])
def test_search_answers_html_unless_json_is_preferred(client: FlaskClient, accept: str,
                                                      kind: str) -> None:
    response = client.get("/search?q=huawei", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.mimetype == kind


def test_search_refuses_what_it_cannot_give(client: FlaskClient) -> None:
    assert client.get("/search?q=huawei", headers={"Accept": "image/png"}).status_code == 406


# --- what RDF/XML cannot write -------------------------------------------------------------

#: IRIs as predicates, and whether they end in an XML name (RDF/XML can write them).
PREDICATES = [
    ("http://www.w3.org/1999/02/22-rdf-syntax-ns#type", True), ("urn:x", True),
    ("http://a/1b", True), ("http://a/b~c", True), ("http://a/b.c", True),
    ("http://a/b-", True), ("http://a/_1", True), ("http://a/\u00e9", True),
    ("http://a/1", False), ("http://a/", False), ("http://a/b#", False),
    ("http://a/b#1", False), ("urn:x:1", False), ("http://a/b?x=1", False),
    ("http://a/b(c)", False), ("http://a/b/", False), ("urn:1", False),
]


@pytest.mark.parametrize("predicate, writable", PREDICATES)
def test_which_predicates_rdfxml_can_write(predicate: str, writable: bool) -> None:
    """ends_in_xml_name says which predicates pyoxigraph writes as well-formed XML: for
    the others it writes an element with no name, which an XML parser refuses."""
    import xml.parsers.expat

    import pyoxigraph as ox

    from rivalry.graph.iri import ends_in_xml_name

    assert ends_in_xml_name(predicate) is writable
    written = ox.serialize([ox.Triple(ox.NamedNode("http://s"), ox.NamedNode(predicate),
                                      ox.Literal("v"))], format=ox.RdfFormat.RDF_XML)
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")  # namespaces read
    if writable:
        parser.Parse(written, True)
    else:
        with pytest.raises(xml.parsers.expat.ExpatError):
            parser.Parse(written, True)


def test_an_answer_rdfxml_cannot_write_is_406_never_broken_xml(client: FlaskClient) -> None:
    query = 'CONSTRUCT { <http://a/s> <http://a/1> "v" } WHERE {}'
    refused = client.get("/sparql", query_string={"query": query},
                         headers={"Accept": "application/rdf+xml"})
    assert refused.status_code == 406
    assert "<http://a/1>" in refused.get_json()["message"]
    turtle = client.get("/sparql", query_string={"query": query},
                        headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and b"<http://a/1>" in turtle.data
    fine = client.get("/sparql", query_string={"query": query.replace("/1>", "/p>")},
                      headers={"Accept": "application/rdf+xml"})
    assert fine.status_code == 200 and fine.mimetype == "application/rdf+xml"


def test_the_command_says_so_too(tmp_path, store_dir) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from rivalry.server.cli import main

    result = CliRunner().invoke(main, [
        "query", "--store", str(store_dir), "--format", "rdfxml",
        'CONSTRUCT { <http://a/s> <http://a/1> "v" } WHERE {}'])
    assert result.exit_code == 2, result.output
    assert "<http://a/1>" in result.output


# --- what XML cannot hold -----------------------------------------------------------------

#: Characters XML 1.0 cannot hold, not even as character references (2.2), as the SPARQL
#: escape that puts each in a literal; and two it can.
NOT_XML = ["\\u0000", "\\u0008", "\\u000B", "\\u000C", "\\u001F", "\\uFFFE", "\\uFFFF"]
XML_FINE = ["\\u0009", "\\u000A", "\\u000D", "\\uFFFD"]


@pytest.mark.parametrize("escape", NOT_XML + XML_FINE)
@pytest.mark.parametrize(("form", "accept"), [
    ('SELECT ?x WHERE {{ BIND("a{}b" AS ?x) }}', "application/sparql-results+xml"),
    ('CONSTRUCT {{ <http://a/s> <http://a/p> ?x }} WHERE {{ BIND("a{}b" AS ?x) }}',
     "application/rdf+xml"),
])
def test_xml_answers_are_well_formed_or_406(client: FlaskClient, escape: str, form: str,
                                            accept: str) -> None:
    """pyoxigraph writes such a character as it is, in XML no parser reads: the answer is
    406 naming it, and the same query in another format is answered."""
    import xml.parsers.expat

    query = form.format(escape)
    response = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    if escape in XML_FINE:
        assert response.status_code == 200
        xml.parsers.expat.ParserCreate().Parse(response.data, True)
        return
    assert response.status_code == 406, response.data[:200]
    code = escape[2:].upper()
    assert f"U+{code}" in response.get_json()["message"]
    other = client.get("/sparql", query_string={"query": query},
                       headers={"Accept": "application/sparql-results+json"
                                if "results" in accept else "application/n-triples"})
    assert other.status_code == 200


def test_the_python_results_writer_and_entity_documents_check_too() -> None:
    import pyoxigraph as ox

    from rivalry.graph.errors import FormatCannotHold
    from rivalry.graph.results import Answer, write, write_triples

    answer = Answer("select", variables=["x"], rows=[[ox.Literal("a\x00b")]])
    with pytest.raises(FormatCannotHold, match="U\\+0000"):
        write(answer, ox.QueryResultsFormat.XML)
    assert b"a\\u0000b" in write(answer, ox.QueryResultsFormat.JSON)
    triple = ox.Triple(ox.NamedNode("http://a/s"), ox.NamedNode("http://a/p"),
                       ox.Literal("\x0b"))
    with pytest.raises(FormatCannotHold, match="U\\+000B"):
        write_triples([triple], ox.RdfFormat.RDF_XML)


# --- a suffix the entity documents do not have ----------------------------------------------


@pytest.mark.parametrize("suffix", [".nq", ".trig", ".csv", ".TTL", ".Html"])
def test_an_unknown_suffix_of_a_known_entity_says_which_there_are(client: FlaskClient,
                                                                  suffix: str) -> None:
    response = client.get("/id/state/cn" + suffix, headers={"Accept": "text/turtle"})
    assert response.status_code == 404 and response.mimetype == "text/turtle"
    text = response.get_data(as_text=True)
    assert f"has no {suffix} document" in text
    assert "/id/state/cn.ttl, /id/state/cn.jsonld" in text
    page = client.get("/id/state/cn" + suffix, headers={"Accept": "text/html"})
    assert page.status_code == 404 and "/id/state/cn.nt" in page.get_data(as_text=True)
    # an entity the graph does not know is still simply not described
    unknown = client.get("/id/state/atlantis" + suffix, headers={"Accept": "text/turtle"})
    assert unknown.status_code == 404
    assert "is not described in this graph" in unknown.get_data(as_text=True)


# --- exclusions and aliases (RFC 9110, 12.5.1) ---------------------------------------------

SELECT_QUERY = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1"
CONSTRUCT_QUERY = "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"


@pytest.mark.parametrize("path, accept, refused", [
    # q=0 excludes a format under every name it has: a wildcard does not let it back in
    # through an alias (application/x-turtle, application/json, text/xml…)
    ("/sparql?query=" + CONSTRUCT_QUERY, "text/turtle;q=0, */*", "text/turtle"),
    ("/sparql?query=" + SELECT_QUERY, "application/sparql-results+json;q=0, */*",
     "application/sparql-results+json"),
    ("/sparql?query=" + SELECT_QUERY, "application/sparql-results+xml;q=0, */*",
     "application/sparql-results+xml"),
    ("/id/state/cn", "text/turtle;q=0, application/ld+json;q=0, */*", ".ttl"),
    ("/ontology", "text/turtle;q=0, */*", "text/turtle"),
    ("/.well-known/void", "text/turtle;q=0, */*", "text/turtle"),
])
def test_an_excluded_format_is_not_given_under_another_name(client: FlaskClient, path: str,
                                                            accept: str, refused: str) -> None:
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code in (200, 303), response.get_data(as_text=True)[:200]
    assert refused not in response.headers.get("Content-Type", "")
    assert refused not in response.headers.get("Location", "")


def test_a_wildcard_reaches_formats_by_their_own_names(client: FlaskClient) -> None:
    """`text/*` on a SELECT gives CSV, not SPARQL XML results as `text/xml`; an alias
    named exactly still chooses its format."""
    response = client.get("/sparql", query_string={"query": SELECT_QUERY},
                          headers={"Accept": "text/*"})
    assert response.mimetype == "text/csv"
    response = client.get("/sparql", query_string={"query": SELECT_QUERY},
                          headers={"Accept": "text/xml"})
    assert response.mimetype == "application/sparql-results+xml"
    response = client.get("/sparql", query_string={"query": CONSTRUCT_QUERY},
                          headers={"Accept": "application/x-turtle"})
    assert response.mimetype == "text/turtle"


def test_the_list_of_dumps_refuses_what_it_cannot_give(client: FlaskClient) -> None:
    response = client.get("/data", headers={"Accept": "text/html;q=0, application/json;q=0, */*"})
    assert response.status_code == 406


@pytest.mark.parametrize("path, accept", [
    ("/no/such/page", "text/html"), ("/no/such/page", "application/json"),
    ("/sparql?query=ASK%7B%7D", "image/png"),  # 406
    ("/sparql", "text/html"),  # the 303 to the query page
])
def test_answers_chosen_by_accept_say_so(client: FlaskClient, path: str, accept: str) -> None:
    """Errors come as HTML, JSON or text by the Accept header, and GET /sparql sends
    browsers to the query page: each says `Vary: Accept`, so that no shared cache gives
    one client's variant to another."""
    response = client.get(path, headers={"Accept": accept})
    assert "accept" in {v.strip().lower() for v in response.headers.get("Vary", "").split(",")}


def test_a_client_excluding_turtle_gets_another_description_not_the_page(
        client: FlaskClient) -> None:
    response = client.get("/sparql", headers={"Accept": "text/turtle;q=0, */*"})
    assert response.status_code == 200
    assert not response.mimetype.startswith(("text/turtle", "text/html"))
