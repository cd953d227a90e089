"""What the server says about its named graphs and its model pages holds: a named graph's
VoID figures are the counts SPARQL gives over the graph, and the /shapes and /ontology
pages are HTML whose ids are unique, whose headings name what they describe and whose
links to anchors find them."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import rdflib
from flask.testing import FlaskClient

from rivalry.graph import (
    DERIVED_GRAPH,
    FACTS_GRAPH_BASE,
    INFERRED_GRAPH,
    META_GRAPH,
    ONTOLOGY_GRAPH,
    graphs,
    listing,
)
from rivalry.graph.graphs import KEPT, LISTED_MAX
from rivalry.graph.products import build_graph_figures, build_member_counts
from rivalry.graph.store import EmbeddedStore
from rivalry.shapes import shapes_files

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
RVSH = "https://w3id.org/rivalry/shapes#"
RV = "https://w3id.org/rivalry/ontology#"
GRAPHS = (ONTOLOGY_GRAPH, META_GRAPH, DERIVED_GRAPH, INFERRED_GRAPH,
          FACTS_GRAPH_BASE + "events/2025-01-integrity-technology-sanction")


def count(store_dir: Path, graph: str, select: str, where: str = "") -> int:
    query = f"SELECT ({select} AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} {where} }}"
    return int(next(EmbeddedStore(store_dir).query(query).rows())[0].value)


# --- the named graphs' VoID figures ----------------------------------------------------


def test_graph_descriptions_count_as_void_defines(client: FlaskClient, store_dir: Path) -> None:
    """void:distinctSubjects is every distinct subject, blank nodes included (the VoID
    note's definition, and what the dataset's own VoID counts); void:triples every triple.
    The ontology's graph has blank nodes (its restrictions and lists), so it tells the
    two apart."""
    assert count(store_dir, ONTOLOGY_GRAPH, "COUNT(DISTINCT ?s)", "FILTER(isBlank(?s))") > 0
    for graph in GRAPHS:
        path = "/graph/" + graph.removeprefix("https://w3id.org/rivalry/graph/")
        response = client.get(path + ".ttl")
        assert response.status_code == 200, path
        g = rdflib.Graph().parse(data=response.data, format="turtle")
        node = rdflib.URIRef(graph)
        assert int(g.value(node, VOID.triples)) == count(store_dir, graph, "COUNT(*)"), graph
        subjects = g.value(node, VOID.distinctSubjects)
        if graph == INFERRED_GRAPH and subjects is None:
            continue  # the inferred graph, which may be large, is not scanned for it
        assert subjects is not None, graph
        assert int(subjects) == count(store_dir, graph, "COUNT(DISTINCT ?s)"), graph


def test_graph_page_says_what_its_subject_figures_count(client: FlaskClient,
                                                        store_dir: Path) -> None:
    """The page gives the same distinct subjects as the RDF, and says how many of them
    have an IRI: those it lists."""
    everything = count(store_dir, ONTOLOGY_GRAPH, "COUNT(DISTINCT ?s)")
    iris = count(store_dir, ONTOLOGY_GRAPH, "COUNT(DISTINCT ?s)", "FILTER(isIRI(?s))")
    assert iris < everything
    html = client.get("/graph/ontology.html").get_data(as_text=True)
    assert (f"<tr><th>distinct subjects</th><td>{everything:,} ({iris:,} with an IRI, "
            "the others blank nodes)</td></tr>") in html
    assert "nodes described" not in html


def test_a_build_keeps_the_figures_of_its_large_graphs(store_dir: Path) -> None:
    """The figures a build keeps for the graphs a description would otherwise scan are
    the counts SPARQL gives, and its list of subjects is the first by IRI, as an ORDER BY
    gives them."""
    store = EmbeddedStore(store_dir)
    figures = build_graph_figures(store)
    assert set(figures) == set(KEPT)
    for graph in KEPT:
        kept = figures[graph]
        assert kept.triples == count(store_dir, graph, "COUNT(*)"), graph
        assert kept.subjects == count(store_dir, graph, "COUNT(DISTINCT ?s)"), graph
        assert kept.iri_subjects == count(store_dir, graph, "COUNT(DISTINCT ?s)",
                                          "FILTER(isIRI(?s))"), graph
        ordered = [row[0].value for row in store.query(
            f"SELECT DISTINCT ?s WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} FILTER(isIRI(?s)) }} "
            f"ORDER BY ?s LIMIT {LISTED_MAX}").rows()]
        assert kept.listed == ordered, graph
    assert figures[DERIVED_GRAPH].iri_subjects > LISTED_MAX  # the LIMIT mattered


def test_large_graphs_are_described_from_the_builds_figures(
        client: FlaskClient, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page and the RDF of a graph whose figures the build kept count nothing: at
    100,000 synthetic measures, counting the derived graph's subjects took seconds."""
    def scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("a kept graph was counted again")

    before = client.get("/graph/derived.html").get_data(as_text=True)
    monkeypatch.setattr(graphs, "subject_figures", scan)
    monkeypatch.setattr(graphs, "_count", scan)
    for graph in KEPT:
        path = "/graph/" + graph.removeprefix("https://w3id.org/rivalry/graph/")
        for suffix in (".html", ".ttl"):
            assert client.get(path + suffix).status_code == 200, path + suffix
    assert client.get("/graph/derived.html").get_data(as_text=True) == before
    stats = client.get("/stats").get_data(as_text=True)  # its table of graphs, likewise
    figures = build_graph_figures(EmbeddedStore(store_dir))
    for graph in KEPT:
        assert f"<td>{figures[graph].triples:,}</td>" in stats, graph
    # a facts graph is counted when asked: the replacement above is in the way
    with pytest.raises(AssertionError, match="counted again"):
        client.get("/graph/facts/events/2025-01-integrity-technology-sanction.html")


def test_browse_counts_the_members_of_classes_as_the_build_kept_them(
        client: FlaskClient, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/browse lists each class with members and how many: the build's kept counts are
    those a count over the graph gives, and the page reads them rather than counting."""
    store = EmbeddedStore(store_dir)
    kept = build_member_counts(store)
    assert kept is not None and kept == listing.member_counts(store)
    assert kept[RV + "Company"] == count_members(store, RV + "Company") > 0
    page = client.get("/browse").get_data(as_text=True)

    def scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("the members were counted again")

    monkeypatch.setattr(listing, "member_counts", scan)
    assert client.get("/browse").get_data(as_text=True) == page
    for cls, n in kept.items():
        assert f"({n:,})" in page, cls


def count_members(store: EmbeddedStore, cls: str) -> int:
    return int(next(store.query(f"SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {{ ?e a <{cls}> }}"
                                ).rows())[0].value)


# --- ids and anchors on /shapes and /ontology --------------------------------------------


class Anchors(HTMLParser):
    """Every id of a page, every same-page link (`href="#x"`), every link to another
    page's anchor, and the text of each h2 by its id."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.fragments: list[str] = []
        self.links: list[str] = []
        self.headings: dict[str, str] = {}
        self._heading: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id") is not None:
            self.ids.append(str(a["id"]))
        href = a.get("href")
        if tag == "a" and href is not None and "#" in href:
            (self.fragments if href.startswith("#") else self.links).append(href)
        if tag == "h2" and a.get("id") is not None:
            self._heading = str(a["id"])
            self.headings[self._heading] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self.headings[self._heading] += data


def anchors(client: FlaskClient, path: str) -> Anchors:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html", path
    parser = Anchors()
    parser.feed(response.get_data(as_text=True))
    return parser


def test_ids_are_unique_and_anchors_found(client: FlaskClient) -> None:
    """HTML requires an element's id to be unique in its page, and a link to `#x` goes
    to the element whose id is x: both pages of the model hold to both."""
    for path in ("/shapes", "/ontology"):
        page = anchors(client, path)
        assert page.ids, path
        repeated = sorted(i for i, n in Counter(page.ids).items() if n > 1)
        assert not repeated, f"{path}: ids used more than once: {repeated}"
        missing = sorted({f for f in page.fragments if f[1:] not in page.ids})
        assert not missing, f"{path}: links to no anchor of the page: {missing}"


def test_shape_headings_name_their_shapes(client: FlaskClient) -> None:
    """Each shape's heading names the shape (not the class it targets: rvsh:CompanyShape
    and rvsh:WikidataLink both target rv:Company), at the shape IRI's fragment; its links
    into /ontology find their terms."""
    g = rdflib.Graph()
    for f in shapes_files():
        g.parse(str(f), format="turtle")
    shapes = {str(s) for s in g.subjects(SH.targetClass, None)}
    assert f"{RVSH}CompanyShape" in shapes and f"{RVSH}WikidataLink" in shapes
    page = anchors(client, "/shapes")
    for shape in shapes:
        local = shape.removeprefix(RVSH)
        assert page.headings.get(local, "").strip() == f"rvsh:{local}", shape
    assert len(page.headings) == len(shapes)
    ontology = set(anchors(client, "/ontology").ids)
    targets = [link for link in page.links if link.startswith("/ontology#")]
    assert targets and all(link.removeprefix("/ontology#") in ontology for link in targets)


def test_a_shape_section_names_every_class_it_targets(client: FlaskClient) -> None:
    """A shape with several sh:targetClass (rvsh:WikidataLink) names each, not one."""
    import rdflib

    from rivalry.graph.validate import shapes_graph

    g = shapes_graph()
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    html = client.get("/shapes", headers={"Accept": "text/html"}).get_data(as_text=True)
    several = 0
    for shape in set(g.subjects(sh.targetClass, None)):
        name = str(shape).rsplit("#", 1)[-1]
        section = html.split(f'id="{name}"', 1)[1].split("<h2", 1)[0]
        targets = list(g.objects(shape, sh.targetClass))
        several += len(targets) > 1
        for target in targets:
            assert f"<code>{target}</code>" in section, (name, target)
    assert several, "no shape with several targets to check"
