"""Pages people read: the ontology's documentation, named graphs, entity pages, the action
lists and their downloads, the timeline chart, the validation form, the licence, and
errors in the user's terms."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner
from flask.testing import FlaskClient

from rivalry.graph import DATA_LICENSE, FACTS_GRAPH_BASE, ID_BASE, META_GRAPH
from rivalry.graph.ontology_doc import ontology_doc
from rivalry.graph.store import EmbeddedStore
from rivalry.ontology import NAMESPACE, ontology_file

from .conftest import CURATED_FACTS, run
from .test_linked_data import count_actions

RV = NAMESPACE
INTEGRITY = "/id/action/us-ofac-2025-01-03-integrity"
INTEGRITY_GRAPH = "/graph/facts/events/2025-01-integrity-technology-sanction"


def ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


# --- the ontology --------------------------------------------------------------------------


def test_ontology_page_is_the_sites_own(client: FlaskClient) -> None:
    html = client.get("/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<title>rivalry ontology · rivalry</title>" in html
    assert "<h1>rivalry ontology</h1>" in html
    assert '<a href="/browse">browse</a>' in html  # the site's navigation
    assert "scheme</h1>" not in html and "pyLODE" not in html


def test_every_ontology_term_and_controlled_value_has_its_anchor(client: FlaskClient) -> None:
    page = ids(client.get("/ontology.html").get_data(as_text=True))
    g = rdflib.Graph().parse(Path(str(ontology_file())), format="turtle")
    own = {str(s)[len(RV):] for s in g.subjects(rdflib.RDF.type, None)
           if str(s).startswith(RV)}
    assert {"InForce", "Condemns", "ExplicitlyStated", "Sanction", "targets",
            "announcedOn", "StatusScheme"} <= own
    assert own <= page, sorted(own - page)


def test_project_terms_are_never_shadowed_by_imported_ones(client: FlaskClient) -> None:
    html = client.get("/ontology.html").get_data(as_text=True)
    for local, external in (("Organization", "prov-Organization"), ("Person", "prov-Person")):
        block = html[html.index(f'id="{local}"'):]
        block = block[:block.index("</article>")]
        assert f"<code>rv:{local}</code>" in block and f"{RV}{local}" in block
        other = html[html.index(f'id="{external}"'):]
        assert f"<code>prov:{local}</code>" in other[:other.index("</article>")]
    doc = ontology_doc()
    every = [t.anchor for _, _, terms in doc.sections for t in terms]
    every += [s.term.anchor for s in doc.schemes] + [c.anchor for s in doc.schemes
                                                     for c in s.concepts]
    every += [t.anchor for t in doc.external]
    assert len(every) == len(set(every)), "two terms share an anchor"
    assert not {a for a, _, _ in doc.sections} & set(every), "a section shadows a term"


def test_ontology_terms_show_their_relations(client: FlaskClient) -> None:
    html = client.get("/ontology.html").get_data(as_text=True)
    targets = html[html.index('id="targets"'):]
    targets = targets[:targets.index("</article>")]
    for expected in ("inverse of", 'href="#targetedBy"', "domain", 'href="#Measure"', "range",
                     'href="#Actor"', "sub-property of", 'href="#sem-hasActor"'):
        assert expected in targets, expected
    org = html[html.index('id="Organization"'):]
    org = org[:org.index("</article>")]
    assert "close match" in org and 'href="#prov-Organization"' in org
    assert "disjoint with" in org and 'href="#Company"' in org  # super-class of
    in_force = html[html.index('id="InForce"'):]
    assert 'href="#StatusScheme"' in in_force[:in_force.index("</article>")]


def test_ontology_rdf_by_content_negotiation_without_a_build(tmp_path: Path) -> None:
    from rivalry.server import create_app

    client = create_app({"store": str(tmp_path / "none")}).test_client()
    for accept, fmt in [("text/turtle", "turtle"), ("application/rdf+xml", "xml"),
                        ("application/n-triples", "nt")]:
        response = client.get("/ontology", headers={"Accept": accept})
        assert response.status_code == 200 and "Accept" in response.headers["Vary"]
        g = rdflib.Graph().parse(data=response.data, format=fmt)
        assert (rdflib.URIRef(RV + "Sanction"), rdflib.RDF.type, rdflib.OWL.Class) in g
        assert (rdflib.URIRef("https://w3id.org/rivalry/ontology"),
                rdflib.URIRef("http://purl.org/dc/terms/license"),
                rdflib.URIRef(DATA_LICENSE)) in g
    assert client.get("/ontology", headers={"Accept": "text/html"}).status_code == 200
    etag = client.get("/ontology.ttl").headers["ETag"]
    assert client.get("/ontology.ttl", headers={"If-None-Match": etag}).status_code == 304


# --- named graphs --------------------------------------------------------------------------


@pytest.mark.parametrize("accept,suffix,fmt", [
    ("text/turtle", ".ttl", "turtle"), ("application/ld+json", ".jsonld", None),
    ("application/n-triples", ".nt", "nt"), ("application/rdf+xml", ".rdf", "xml"),
    ("text/html", ".html", None)])
def test_named_graph_iri_303s_to_its_description(client: FlaskClient, accept: str,
                                                 suffix: str, fmt: str | None) -> None:
    response = client.get(INTEGRITY_GRAPH, headers={"Accept": accept})
    assert response.status_code == 303 and "Accept" in response.headers["Vary"]
    assert response.headers["Location"].endswith(INTEGRITY_GRAPH + suffix)
    doc = client.get(INTEGRITY_GRAPH + suffix)
    assert doc.status_code == 200 and doc.headers["ETag"]
    assert f'<{DATA_LICENSE}>; rel="license"' in doc.headers["Link"]
    if fmt:
        g = rdflib.Graph().parse(data=doc.data, format=fmt)
        iri = rdflib.URIRef(FACTS_GRAPH_BASE + "events/2025-01-integrity-technology-sanction")
        void = rdflib.Namespace("http://rdfs.org/ns/void#")
        assert int(g.value(iri, void.triples)) > 50
        assert (iri, rdflib.URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"),
                rdflib.URIRef(ID_BASE + "source/treasury-jy2769")) in g
        assert (iri, rdflib.URIRef("http://purl.org/dc/terms/license"),
                rdflib.URIRef(DATA_LICENSE)) in g
        # void:dataDump: the graph store's address for the whole graph, which gives it
        dump = str(g.value(iri, void.dataDump))
        whole = client.get(dump.removeprefix("http://localhost"),
                           headers={"Accept": "application/n-triples"})
        assert whole.status_code == 200
        assert len(whole.data.splitlines()) == int(g.value(iri, void.triples))


def test_named_graph_page_lists_sources_and_counts(client: FlaskClient,
                                                   store_dir: Path) -> None:
    html = client.get(INTEGRITY_GRAPH + ".html").get_data(as_text=True)
    assert 'href="/id/source/treasury-jy2769"' in html
    assert 'href="/id/action/us-ofac-2025-01-03-integrity"' in html
    n = count_triples(store_dir, FACTS_GRAPH_BASE + "events/2025-01-integrity-technology-sanction")
    assert f"<td>{n:,}</td>" in html
    whole = re.search(r'href="(/rdf-graph-store\?graph=[^"]+)"', html)
    assert whole, "the page links the whole graph"
    turtle = client.get(unescape(whole.group(1)))
    assert turtle.status_code == 200 and turtle.mimetype == "text/turtle"
    assert len(rdflib.Graph().parse(data=turtle.data, format="turtle")) == n
    for special in ("/graph/ontology", "/graph/inferred", "/graph/meta"):
        assert client.get(special + ".html").status_code == 200, special
    missing = client.get("/graph/facts/nothing-here", headers={"Accept": "text/turtle"})
    assert missing.status_code == 404


def count_triples(store_dir: Path, graph: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    return int(next(EmbeddedStore(store_dir).query(query).rows())[0].value)


def test_void_and_stats_link_the_named_graphs(client: FlaskClient) -> None:
    for page in ("/.well-known/void.html", "/stats"):
        html = client.get(page).get_data(as_text=True)
        assert f'href="{INTEGRITY_GRAPH}"' in html, page
        assert 'href="/graph/inferred"' in html, page
    g = rdflib.Graph().parse(data=client.get("/.well-known/void.ttl").data, format="turtle")
    dataset = rdflib.URIRef("https://w3id.org/rivalry/dataset")
    assert (dataset, rdflib.URIRef("http://purl.org/dc/terms/license"),
            rdflib.URIRef(DATA_LICENSE)) in g
    assert (dataset, rdflib.URIRef("http://rdfs.org/ns/void#subset"),
            rdflib.URIRef(META_GRAPH)) in g


# --- entity pages --------------------------------------------------------------------------


def relation_rows(html: str) -> list[tuple[str, list[str]]]:
    rows = []
    for th, td in re.findall(r"<tr><th>(.*?)</th>\s*<td>(.*?)</td></tr>", html, re.S):
        rows.append((re.sub(r"<[^>]+>", "", th).strip(), re.findall(r'href="([^"]+)"', td)))
    return rows


@pytest.mark.parametrize("path", [INTEGRITY, "/id/company/integrity-technology-group",
                                  "/id/state/cn", "/id/agency/us-ofac",
                                  "/id/technology/advanced-computing-ics"])
def test_one_link_per_relation_on_entity_pages(client: FlaskClient, path: str) -> None:
    html = client.get(path + ".html").get_data(as_text=True)
    rows = relation_rows(html)
    assert rows
    assert not [name for name, _ in rows if name.endswith("(of)")]
    pairs = [(name, link) for name, links in rows for link in links]
    assert len(pairs) == len(set(pairs))
    # no value repeated under a super-property or an inverse of a shown property
    by_link: dict[str, list[str]] = {}
    for name, link in pairs:
        by_link.setdefault(link, []).append(name)
    assert not {"issuing state or union"} & {n for names in by_link.values() for n in names
                                             if "issuing state" in names}


def test_inverse_relations_read_from_the_entity(client: FlaskClient) -> None:
    html = client.get("/id/company/integrity-technology-group.html").get_data(as_text=True)
    rows = dict(relation_rows(html))
    assert INTEGRITY in rows["targeted by"]
    assert "targets" not in rows
    sanction = dict(relation_rows(client.get(INTEGRITY + ".html").get_data(as_text=True)))
    assert "/id/action/cn-co-2025-01-05-integrity-denial" in sanction["provoked"]
    assert not any(name.startswith("as responds to") for name in sanction)


def test_chain_diagram_has_axis_legend_arrows_above_boxes_and_text(client: FlaskClient) -> None:
    html = client.get(INTEGRITY + ".html").get_data(as_text=True)
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chain"')
    svg = html[start:html.index("</svg>", start)]
    assert "2025-01-03" in svg and "2025-01-06" in svg and "time →" in svg  # the axis
    assert svg.count('class="node"') == 3
    assert svg.rindex('class="node"') < svg.index('class="link"')  # arrows drawn last
    assert svg.count('class="link"') == 2 and svg.count("marker-end") >= 2
    assert 'class="legend"' in html and "responds to, explicitly stated" in html
    text = html[html.index('id="chain-text"'):]
    text = text[:text.index("</ol>")]
    assert text.count("<li>") == 2 and "responds to" in text
    assert 'aria-describedby="chain-text"' in svg
    # arrows leave the response (right) and end on the answered action (left box's edge)
    sanction_box = re.search(r'<rect x="(\d+)" y="(\d+)" width="(\d+)"[^>]*fill="#ffe8b3"',
                             svg)
    assert sanction_box is not None
    right_edge = int(sanction_box.group(1)) + int(sanction_box.group(3))
    ends = [float(m) for m in re.findall(r' L (\d+\.\d) [\d.]+"[^>]*marker-end', svg)]
    assert ends and all(abs(e - right_edge) < 1 for e in ends)


def test_browse_shortcuts_are_links(client: FlaskClient) -> None:
    html = client.get("/browse").get_data(as_text=True)
    for alias in ("states", "companies", "people", "technologies"):
        assert f'<a href="/browse/{alias}">/browse/{alias}</a>' in html


# --- action lists, downloads, timeline ----------------------------------------------------------


def test_sector_and_country_filters(client: FlaskClient, store_dir: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 100_000)  # the filters, not the paging
    html = client.get("/browse/actions").get_data(as_text=True)
    assert '<select name="sector">' in html and '<select name="country">' in html
    semis = client.get("/browse/actions", query_string={
        "sector": ID_BASE + "sector/semiconductors"}).get_data(as_text=True)
    assert semis.count("<tr><td><time") == count_actions(
        store_dir, f"?a rv:sector/skos:broader* <{ID_BASE}sector/semiconductors>") > 5
    china = client.get("/browse/actions", query_string={
        "country": ID_BASE + "state/cn"}).get_data(as_text=True)
    assert china.count("<tr><td><time") == count_actions(
        store_dir, f"{{ ?a rv:targets <{ID_BASE}state/cn> }} UNION {{ ?a rv:targets/rv:country "
                   f"<{ID_BASE}state/cn> }} UNION {{ ?a rv:appliesToDestination "
                   f"<{ID_BASE}state/cn> }}") > 10
    assert "Integrity Technology Group" in china
    bad = client.get("/browse/actions", query_string={"country": ID_BASE + "state/xx"})
    assert bad.status_code == 400


@pytest.mark.parametrize("path", ["/browse/actions", "/browse/actions.csv", "/timeline",
                                  "/browse/type?class=https%3A%2F%2Fw3id.org%2Frivalry%2Fontology%23Company"])
@pytest.mark.parametrize(("page", "status", "words"), [
    ("0", 400, "pages count from 1"), ("x", 400, "pages count from 1"),
    # digits of other scripts: a superscript two, an Arabic-Indic one, a fullwidth one
    ("%C2%B2", 400, "pages count from 1"), ("%D9%A1", 400, "pages count from 1"),
    ("%EF%BC%91", 400, "pages count from 1"),
    ("1000", 404, "there is no page 1000: the list has"),
    # past any integer the engine takes as an offset: the same answer, not its syntax error
    ("9" * 40, 404, "there is no page " + "9" * 40 + ": the list has"),
])
def test_pages_past_the_end_are_404_naming_the_last(client: FlaskClient, path: str, page: str,
                                                    status: int, words: str) -> None:
    response = client.get(path + ("&" if "?" in path else "?") + "page=" + page,
                          headers={"Accept": "application/json"})
    assert response.status_code == status
    assert words in response.get_json()["message"]


def test_downloads_hold_exactly_what_is_shown(client: FlaskClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 7)
    params = {"state": ID_BASE + "state/cn", "page": "2"}
    html = client.get("/browse/actions", query_string=params).get_data(as_text=True)
    shown = re.findall(r'<tr><td><time datetime="([^"]+)">[^<]*</time></td><td><a href="([^"]+)">'
                       r"([^<]+)</a>", html)
    assert len(shown) == 7 and "page 2 of" in html
    assert 'href="/browse/actions.csv?state=' in html and "page=2" in html
    response = client.get("/browse/actions.csv", query_string=params)
    assert response.mimetype == "text/csv" and "attachment" in response.headers[
        "Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["announced"], r["action"].replace(ID_BASE, "/id/"), r["label"])
            for r in rows] == [(d, h, label.replace("&#39;", "'").replace("&amp;", "&"))
                               for d, h, label in shown]
    data = client.get("/browse/actions.json", query_string=params).get_json()
    assert data["page"] == 2 and data["license"] == DATA_LICENSE
    assert [a["action"] for a in data["actions"]] == [r["action"] for r in rows]
    assert client.get("/browse/actions", query_string={"page": "999"}).status_code == 404
    assert client.get("/browse/actions", query_string={"page": "0"}).status_code == 400


def test_member_lists_are_paginated(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 10)
    first = client.get("/browse/companies", follow_redirects=True).get_data(as_text=True)
    second = client.get("/browse/type", query_string={
        "class": RV + "Company", "page": "2"}).get_data(as_text=True)
    a = re.findall(r'<li><a href="(/id/company/[^"]+)"', first)
    b = re.findall(r'<li><a href="(/id/company/[^"]+)"', second)
    assert len(a) == len(b) == 10 and not set(a) & set(b)
    assert 'rel="next"' in first


def test_timeline_chart_zooms_by_year_and_filters_by_state(
        client: FlaskClient, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 100_000)  # the list beneath on one page
    html = client.get("/timeline").get_data(as_text=True)
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" class="timeline"'):]
    svg = svg[:svg.index("</svg>")]
    assert svg.count("<circle") == count_actions(store_dir)
    assert 'href="/timeline?year=2023#chart"' in svg  # the axis zooms in
    year = client.get("/timeline", query_string={"year": "2023"}).get_data(as_text=True)
    assert "Timeline of 2023" in year and ">Jul</text>" in year
    assert year.count("<circle") == count_actions(store_dir, "FILTER(YEAR(?d) = 2023)")
    us = client.get("/timeline", query_string={"state": ID_BASE + "state/us"}).get_data(
        as_text=True)
    chart = us[us.index('class="timeline"'):us.index("</svg>")]
    assert "United States" in chart and "People's Republic of China" not in chart
    # the list beneath works without JavaScript
    assert us.count('class="event"') == count_actions(
        store_dir, f"?a rv:issuingState <{ID_BASE}state/us>")


def test_timeline_chart_counts_when_there_are_many(store_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing
    from rivalry.graph.describe import Labels
    from rivalry.server.timeline import timeline_svg

    monkeypatch.setattr(listing, "CHART_POINTS_MAX", 5)
    store = EmbeddedStore(store_dir)
    total = listing.count_actions(store, listing.ActionFilters())
    data = listing.chart_data(store, Labels(store), listing.ActionFilters(), total)
    assert not data.points and sum(data.counts.values()) == total
    svg = timeline_svg(data, None, href=str, zoom_url=lambda y: f"/timeline?year={y}")
    assert "<circle" not in svg and "actions</title></rect>" in svg or "action</title>" in svg


# --- the validation form -------------------------------------------------------------------


NEW_FACT = """@prefix rv: <https://w3id.org/rivalry/ontology#> .
<https://w3id.org/rivalry/id/action/x-test> a rv:Sanction ."""


def test_validation_form_renders_the_report(client: FlaskClient) -> None:
    form = client.get("/validate").get_data(as_text=True)
    assert 'name="facts"' in form and 'type="file"' in form and 'name="strict"' in form
    response = client.post("/validate", data={"facts": NEW_FACT, "format": "auto"},
                           headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Does not conform" in html and "x-test" in html
    assert "Validate again" in html and "x-test" in html[html.index("Validate again"):]


def test_validation_form_takes_a_file_and_strictness(client: FlaskClient) -> None:
    path = CURATED_FACTS / "events" / "2025-01-integrity-technology-sanction.ttl"
    with path.open("rb") as f:
        normal = client.post("/validate", data={"file": (f, path.name), "strict": ""},
                             headers={"Accept": "application/json"}).get_json()
    with path.open("rb") as f:
        strict = client.post("/validate", data={"file": (f, path.name), "strict": "true"},
                             headers={"Accept": "application/json"}).get_json()
    assert normal["strict"] is False and strict["strict"] is True
    assert normal["counts"] == strict["counts"] and normal["focusNodes"] > 3


def test_validation_form_keeps_the_text_and_says_what_is_wrong(client: FlaskClient) -> None:
    response = client.post("/validate", data={"facts": "@prefix rv: <x> .\nbroken"},
                           headers={"Accept": "text/html"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'role="alert"' in html
    assert "pasted facts:2:" in html and "broken</textarea>" in html
    empty = client.post("/validate", data={"facts": ""}, headers={"Accept": "application/json"})
    assert empty.status_code == 400 and "nothing to validate" in empty.get_json()["message"]


def test_validation_api_is_unchanged(client: FlaskClient) -> None:
    response = client.post("/validate", data=NEW_FACT.encode(), content_type="text/turtle",
                           headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.mimetype == "text/turtle"


# --- the licence ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/browse", INTEGRITY + ".html", "/ontology.html",
                                  "/validate", "/data"])
def test_every_page_states_the_data_licence(client: FlaskClient, path: str) -> None:
    html = client.get(path).get_data(as_text=True)
    assert f'<a rel="license" href="{DATA_LICENSE}">CC BY 4.0</a>' in html


def test_dumps_carry_the_licence(client: FlaskClient) -> None:
    with client.get("/data/rivalry.nq") as response:
        assert f'<{DATA_LICENSE}>; rel="license"' in response.headers["Link"]
        assert f"<{DATA_LICENSE}> <{META_GRAPH}>" in response.get_data(as_text=True)


def test_readme_and_pyproject_agree_on_the_licences() -> None:
    root = Path(__file__).parent.parent
    readme = (root / "README.md").read_text("utf-8")
    pyproject = (root / "pyproject.toml").read_text("utf-8")
    assert 'license = "Apache-2.0 AND CC-BY-4.0"' in pyproject
    assert "CC BY 4.0" in readme and "Apache-2.0" in readme and DATA_LICENSE in readme


# --- errors in the user's terms --------------------------------------------------------------


@pytest.mark.parametrize("query,expected", [
    ("SELECT * WHERE { ?s foo:bar ?o }",
     "line 1, column 21: the prefix 'foo:' of 'foo:bar' is not declared"),
    ("SELECT * WHERE { ?s rv:issuedBy ?o }",
     "add PREFIX rv: <https://w3id.org/rivalry/ontology#> at the top"),
    ("SELCT * WHERE { ?s ?p ?o }",
     "line 1, column 1: the query must start with SELECT, ASK, CONSTRUCT or DESCRIBE"),
    ("SELECT * WHERE {\n  ?s ?p ?o", "line 1, column 16: the '{' opened here is never closed"),
    ("SELECT * WHERE { ?s ?p ?o } LIMIT x", "unexpected 'x'"),
    ("SELECT * WHERE { ?s <not an iri> ?o }", "is not a valid IRI"),
])
def test_query_syntax_errors_say_what_and_where(client: FlaskClient, query: str,
                                                expected: str) -> None:
    body = client.get("/sparql", query_string={"query": query}).get_json()
    assert body["status"] == 400
    message = body["message"]
    assert expected in message, message
    assert "\n" not in message and "\\u{" not in message and len(message) < 300
    assert "expected CONSTRUCT" not in message


def test_impossible_date_names_value_file_line_and_column(tmp_path: Path, cli: CliRunner) -> None:
    facts = tmp_path / "facts"
    facts.mkdir()
    path = facts / "bad.ttl"
    path.write_text("@prefix rv: <https://w3id.org/rivalry/ontology#> .\n"
                    "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
                    "<https://w3id.org/rivalry/id/action/x> a rv:Sanction ;\n"
                    '    rv:announcedOn "2023-07-32"^^xsd:date .\n', encoding="utf-8")
    for args in (("build", "--facts", facts, "--store", tmp_path / "store"),
                 ("validate", path)):
        result = run(cli, *args)
        assert result.exit_code == 2, result.output
        assert f"{path}:4:20: '2023-07-32' is not a valid xsd:date: July 2023 has 31 days" \
            in result.stderr
        assert "Traceback" not in result.output + result.stderr


# --- canned queries ----------------------------------------------------------------------------


def test_no_canned_query_repeats_a_row_for_another_language(store_dir: Path) -> None:
    import pyoxigraph as ox

    from rivalry.graph.canned import canned_queries

    store = EmbeddedStore(store_dir)
    for q in canned_queries():
        result = store.query(q.text_with_defaults())
        if result.kind != "select":
            continue
        seen: dict[tuple, set] = {}
        for row in result.rows():
            key = tuple(None if isinstance(t, ox.Literal) and t.language else t for t in row)
            langs = tuple(t.language for t in row if isinstance(t, ox.Literal) and t.language)
            seen.setdefault(key, set()).add(langs)
        doubled = [k for k, langs in seen.items() if len(langs) > 1]
        assert not doubled, f"{q.name} gives a row once per language: {doubled[:1]}"


def test_a_union_is_an_issuer_in_lists_like_a_state(client: FlaskClient, store_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 100_000)
    html = client.get("/browse/actions").get_data(as_text=True)
    assert f'value="{ID_BASE}union/eu"' in html  # an option of the issuer filter
    eu = client.get("/browse/actions", query_string={"state": ID_BASE + "union/eu"})
    text = eu.get_data(as_text=True)
    assert eu.status_code == 200 and "European Union" in text
    eu_actions = f"?a <https://w3id.org/rivalry/ontology#issuingUnion> <{ID_BASE}union/eu>"
    assert text.count("<tr><td><time") == count_actions(store_dir, eu_actions) > 5


@pytest.mark.parametrize("path", ["/search?q=a%00b%0Bc%C2%85d", "/browse/actions?q=a%00b",
                                  "/sparql?query=SELECT%20%3Fx%20%7B%20BIND(%22a%5Cu0000b%22"
                                  "%20AS%20%3Fx)%20%7D"])
def test_pages_never_hold_characters_html_text_cannot(client: FlaskClient, path: str) -> None:
    """A NUL (or another control) from a query or a literal is written as U+FFFD: HTML
    text may not hold it (a parse error each browser handles its own way)."""
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code in (200, 400), response.status_code
    text = response.get_data(as_text=True)
    assert not re.search("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]", text)
    if "search" in path:
        assert "a\ufffdb\ufffdc\ufffdd" in text


@pytest.mark.parametrize(("path", "words"), [
    ("/browse/actions?stat=https%3A%2F%2Fw3id.org%2Frivalry%2Fid%2Fstate%2Fus",
     "takes no parameter 'stat'"),
    ("/timeline?State=x", "takes no parameter 'State'"),
    ("/browse/actions.csv?yaer=2025", "takes no parameter 'yaer'"),
    ("/browse/actions?year=2025&year=2018", "year is given 2 times"),
    ("/browse/type?class=https%3A%2F%2Fw3id.org%2Frivalry%2Fontology%23State"
     "&class=https%3A%2F%2Fw3id.org%2Frivalry%2Fontology%23Company", "class is given 2 times"),
    ("/search?q=huawei&typ=Company", "takes no parameter 'typ'"),
    ("/search?q=huawei&issuer=state/us&issuer=state/cn", "issuer is given 2 times"),
])
def test_a_parameter_a_page_does_not_take_is_400_not_ignored(client: FlaskClient, path: str,
                                                             words: str) -> None:
    """A typo'd filter name, or a filter given twice where one value is used, gave the
    unfiltered (or half-filtered) list as if it were filtered."""
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert words in message
    if "takes no parameter" in words:
        assert "page" in message or "limit" in message  # says what it takes


def test_repeated_types_still_filter_a_search(client: FlaskClient) -> None:
    response = client.get("/search?q=huawei&type=Company&type=Measure&format=json")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/id/state/cn.html", "/id/company/huawei.html"])
def test_text_in_another_language_is_marked_with_it(client: FlaskClient, path: str) -> None:
    """WCAG 2.1, 3.1.2 (language of parts): a Chinese name in an English page is read by
    a screen reader in a Chinese voice, and drawn with Chinese glyphs, only if marked."""
    html = client.get(path).get_data(as_text=True)
    text = "".join(re.findall(r">([^<]*)<", html))  # what is shown, not attributes
    chinese = re.findall(r"[\u4e00-\u9fff]+", text)
    assert chinese, "the page shows a name in Chinese"
    for name in set(chinese):
        assert re.search(r'<span lang="zh[^"]*">[^<]*' + name, html), name
    answer = client.get("/sparql", query_string={
        "query": 'SELECT ?n WHERE { BIND("华为"@zh AS ?n) }'}, headers={"Accept": "text/html"})
    assert '<span lang="zh">华为</span>' in answer.get_data(as_text=True)


def test_member_lists_take_prefixed_names_and_title_other_vocabularies_as_written(
        client: FlaskClient) -> None:
    """`?class=` takes a prefixed name as SPARQL writes it (`rv:Company`); a class of
    another vocabulary, with no label here, is titled by its prefixed name as written,
    not by its IRI capitalised and lowercased ("Http://www.w3.org/...#concept")."""
    full = client.get("/browse/type", query_string={"class": RV + "Company"})
    short = client.get("/browse/type", query_string={"class": "rv:Company"})
    assert full.status_code == short.status_code == 200
    assert full.data == short.data
    concept = client.get("/browse/type", query_string={"class": "skos:Concept"})
    assert concept.status_code == 200
    html = concept.get_data(as_text=True)
    assert "<h1><code>skos:Concept</code></h1>" in html
    assert "<title>skos:Concept · rivalry</title>" in html
    missing = client.get("/browse/type", query_string={"class": "rv:NoSuchClass"},
                         headers={"Accept": "application/json"})
    assert missing.status_code == 404
    assert RV + "NoSuchClass" in missing.get_json()["message"]


def test_members_of_one_label_are_told_apart(client: FlaskClient) -> None:
    """A list holding two members of one label shows each one's prefixed name beside
    it; a label of its own is shown alone."""
    from collections import Counter

    html = client.get("/browse/type", query_string={"class": "skos:Concept"}).get_data(
        as_text=True)
    items = re.findall(r'<li><a href="[^"]+">([^<]+)</a>( <code class="iri">([^<]+)</code>)?</li>',
                       html)
    counts = Counter(label for label, _, _ in items)
    repeated = [(label, short) for label, _, short in items if counts[label] > 1]
    assert repeated, "the curated graph has concepts of one label (a sector, a technology)"
    assert all(short for _, short in repeated)
    assert len({short for _, short in repeated}) == len(repeated)
    assert all(not short for label, _, short in items if counts[label] == 1)
