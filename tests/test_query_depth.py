"""No query text can crash the parser: depth is measured on everything the SPARQL parser
recurses on (issue 12), and refused past max_query_depth before the engine sees it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from rivalry.graph.errors import QueryError
from rivalry.graph.sparql import check_query

CONSTRUCTS: dict[str, Callable[[int], str]] = {
    "!": lambda n: "ASK { FILTER(" + "!" * n + "true) }",
    "-": lambda n: "ASK { FILTER(" + "-" * n + "1 = 1) }",
    "+": lambda n: "ASK { FILTER(" + "+" * n + "1 = 1) }",
    "(": lambda n: "ASK { FILTER(" + "(" * n + "true" + ")" * n + ") }",
    "{": lambda n: "ASK " + "{" * n + "}" * n,
    "[": lambda n: "ASK { ?s ?p " + "[ <p:q> " * n + "]" * n + " }",
    "path (": lambda n: "ASK { ?s " + "(" * n + "<p:a>" + ")" * n + " ?o }",
    "path ^": lambda n: "ASK { ?s " + "^" * n + "<p:a> ?o }",
    "path !(": lambda n: "ASK { ?s " + "!(" * n + "<p:a>" + ")" * n + " ?o }",
    "collection": lambda n: "ASK { ?s ?p " + "(" * n + ")" * n + " }",
    "subquery": lambda n: "SELECT * WHERE " + "{ SELECT * WHERE " * n + "{}" + "}" * n,
    "NOT EXISTS": lambda n: "ASK { " + "FILTER NOT EXISTS { " * n + "}" * n + " }",
    "OPTIONAL": lambda n: "ASK { " + "OPTIONAL { " * n + "}" * n + " }",
    "!(!(": lambda n: "ASK { FILTER(" + "!(" * n + "true" + ")" * n + ") }",
    # RDF 1.2 (SPARQL 1.2): reified triples and triple terms, which pyoxigraph parses
    "<< >>": lambda n: "ASK { " + "<< " * n + "<p:a> <p:b> <p:c>" + " >> <p:b> <p:c>" * n
                       + " . }",
    "<<( )>>": lambda n: "ASK { ?s ?p " + "<<( <p:a> <p:b> " * n + "<p:c>" + " )>>" * n
                         + " }",
}


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_ten_thousand_levels_are_refused_before_parsing(construct: str) -> None:
    with pytest.raises(QueryError, match="max_query_depth"):
        check_query(CONSTRUCTS[construct](10_000), max_depth=100)


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_deep_queries_over_http_get_400_and_the_server_lives(client: FlaskClient,
                                                           construct: str) -> None:
    response = client.post("/sparql", data=CONSTRUCTS[construct](10_000).encode(),
                           content_type="application/sparql-query")
    assert response.status_code == 400
    assert "max_query_depth" in response.get_json()["message"]


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_queries_within_the_limit_are_run_not_crashed(client: FlaskClient,
                                                      construct: str) -> None:
    """At the deepest nesting accepted, the parser copes: an answer or a syntax error,
    never a dead process (which would be a 503)."""
    depth = 45  # constructs like "!(" count two levels each; the default limit is 100
    response = client.post("/sparql", data=CONSTRUCTS[construct](depth).encode(),
                           content_type="application/sparql-query")
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]


def test_binary_operators_are_not_nesting() -> None:
    text = "SELECT * WHERE { ?a <p:x> ?b FILTER(" + " - ".join(["?b"] * 500) + " != 1) }"
    assert check_query(text, max_depth=100).depth < 10


def test_a_whole_body_of_bangs_is_refused() -> None:
    with pytest.raises(QueryError):
        check_query("ASK { FILTER(" + "!" * 5_000_000 + "true) }", max_depth=100)
