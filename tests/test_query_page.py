"""The query page and its example queries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from rivalry.graph.canned import canned_queries, read_canned, run_canned
from rivalry.graph.errors import InvalidInput
from rivalry.graph.store import EmbeddedStore, QueryLimits
from rivalry.server import create_app

EXAMPLES = canned_queries()


def test_there_is_an_example_per_answerable_competency_question() -> None:
    assert len(EXAMPLES) >= 12
    assert all(q.title and q.description for q in EXAMPLES)


@pytest.mark.parametrize("query", EXAMPLES, ids=lambda q: q.name)
def test_each_example_answers_on_the_curated_graph(query, store_dir: Path) -> None:
    answer = run_canned(EmbeddedStore(store_dir), query, limits=QueryLimits())
    assert answer.kind == "select"
    assert answer.rows, f"{query.name} returns nothing on the curated graph"
    shown = EmbeddedStore(store_dir).execute(query.text_with_defaults(), QueryLimits())
    assert len(shown.rows) == len(answer.rows)  # the page's text runs as the server does


def test_page_lists_every_example_with_one_click_links(client: FlaskClient) -> None:
    page = client.get("/").data.decode()
    for query in EXAMPLES:
        assert query.title.replace("'", "&#39;") in page
        assert f'id="{query.name}"' in page
    assert page.count('href="/sparql?query=') >= len(EXAMPLES)


def test_page_works_without_javascript(client: FlaskClient) -> None:
    page = client.get("/").data.decode()
    assert '<form action="/sparql" method="get">' in page
    assert '<option value="html">' in page
    first = EXAMPLES[0]
    response = client.get("/sparql", query_string={"query": first.text_with_defaults(),
                                                   "format": "html"})
    assert response.status_code == 200 and b"<table>" in response.data


def test_yasgui_is_served_from_the_installed_package(client: FlaskClient) -> None:
    node = Path(__file__).parent.parent / "node_modules" / "@zazuko" / "yasgui" / "build"
    if not (node / "yasgui.min.js").is_file():
        pytest.skip("YASGUI is not installed (make setup installs it with npm)")
    page = client.get("/").data.decode()
    assert "/-/yasgui/yasgui.min.js" in page and 'id="yasgui"' in page
    with client.get("/-/yasgui/yasgui.min.js") as script:
        assert script.status_code == 200 and len(script.data) > 100_000
    assert client.get("/-/yasgui/../../package.json").status_code == 404


def test_without_yasgui_the_page_says_how_to_get_it(store_dir: Path, tmp_path: Path) -> None:
    app = create_app({"store": str(store_dir), "yasgui_path": str(tmp_path)})
    page = app.test_client().get("/").data.decode()
    assert "make setup" in page and "yasgui.min.js" not in page
    assert '<form action="/sparql" method="get">' in page


def test_parameters_are_bound_not_pasted(store_dir: Path) -> None:
    from rivalry.graph.canned import canned_query
    from rivalry.graph.errors import QueryError

    query = canned_query("cq14-status-on-date")
    store = EmbeddedStore(store_dir)
    before = run_canned(store, query, {"on": "2025-02-15"})
    after = run_canned(store, query, {"on": "2025-06-01"})
    status = {r[1].value: r[3].value for r in before.rows}
    ai_rule = "https://w3id.org/rivalry/id/action/us-bis-2025-01-13-ai-diffusion"
    assert status[ai_rule] == "in force"
    status = {r[1].value: r[3].value for r in after.rows}
    assert status[ai_rule] == "rescission announced"  # announced 13 May 2025, not yet rescinded
    # a value is a value: an injection attempt is just an invalid date
    with pytest.raises(QueryError, match="not a valid date"):
        run_canned(store, query, {"on": '2025-01-01"^^<x> } UNION { ?s ?p ?o'})
    with pytest.raises(QueryError, match="no parameter"):
        run_canned(store, query, {"colour": "red"})
    company = canned_query("cq06-measures-against-company")
    with pytest.raises(QueryError, match="not an http"):
        run_canned(store, company, {"company": "> } ?s ?p ?o { <x"})


def test_canned_query_without_title_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.rq"
    path.write_text("SELECT * WHERE { ?s ?p ?o }", "utf-8")
    with pytest.raises(InvalidInput, match="title"):
        read_canned(path)


def test_defaults_go_into_the_group_not_into_a_comment_or_a_string(tmp_path: Path) -> None:
    """The VALUES block of the shown text goes where the query's tokens say its group
    starts: a `WHERE {` in the header's comments or in a string does not fool it."""
    path = tmp_path / "tricky.rq"
    path.write_text(
        "# title: Labels that say WHERE {\n"
        "# description: every ?s with a label; a naive reader stops at WHERE { here\n"
        "# param: s <https://w3id.org/rivalry/id/state/cn> the subject\n"
        'SELECT ?s ?label # WHERE { in a comment too\n'
        'WHERE {\n'
        '  ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label\n'
        '  FILTER(?label != "WHERE { in a string")\n'
        "}\n", "utf-8")
    query = read_canned(path)
    shown = query.text_with_defaults()
    values = "VALUES (?s) { (<https://w3id.org/rivalry/id/state/cn>) }"
    assert shown.count(values) == 1
    assert shown.index(values) > shown.index("\nWHERE {")  # the real one, in the query
    assert shown.split(values)[0].endswith("\nWHERE {\n  ")
    assert query.text in shown.replace("\n  " + values, "")


@pytest.mark.parametrize("text, expected", [
    ("SELECT * WHERE { ?s ?p ?o }", "SELECT * WHERE {"),
    ("SELECT * { ?s ?p ?o }", "SELECT * {"),
    ("# SELECT * WHERE { ?x }\nSELECT * WHERE { ?s ?p ?o }", "SELECT * WHERE {"),
    ('SELECT ("WHERE {" AS ?w) WHERE { ?s ?p ?o }', '?w) WHERE {'),
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "} WHERE {"),
])
def test_group_start_reads_tokens(text: str, expected: str) -> None:
    from rivalry.graph.sparql import group_start, with_values

    at = group_start(text)
    assert at is not None and text[:at].endswith(expected)
    bound = with_values(text, "VALUES ?x { 1 }")
    assert bound == f"{text[:at]} VALUES ?x {{ 1 }} {text[at:]}"


def test_group_start_of_a_text_without_a_query_form_is_none() -> None:
    from rivalry.graph.sparql import group_start

    assert group_start("# WHERE { ?s ?p ?o }") is None


@pytest.mark.parametrize("query", [
    'SELECT (<javascript:alert(1)> AS ?x) (IRI("JavaScript:alert(2)") AS ?y) '
    '(<data:text/html,hi> AS ?z) WHERE {}',
    "CONSTRUCT { <javascript:alert(3)> <vbscript:msgbox> <urn:x:y> } WHERE {}",
])
def test_result_pages_never_link_to_script(client: FlaskClient, query: str) -> None:
    """A query can put any IRI in the HTML page of its answer, and a link to it could be
    shared: IRIs of other schemes than http(s) link to the server's description of them
    (DESCRIBE), never as they are (`javascript:` ran script in the server's origin)."""
    response = client.get("/sparql", query_string={"query": query},
                          headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith(("/", "http://", "https://", "#")) for h in hrefs), hrefs
    assert "/sparql?query=DESCRIBE+%3Cjavascript%3Aalert%28" in page
