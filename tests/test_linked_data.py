"""Dereferenceable IRIs, the documents behind them, the ontology, shapes, dumps, VoID."""

from __future__ import annotations

import gzip
import json
import re
import socket
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import rdflib.compare
from flask.testing import FlaskClient

from rivalry.graph import ID_BASE, Term
from rivalry.graph.results import prefixes_used, write_triples
from rivalry.graph.store import EmbeddedStore

ENTITIES = ["action/us-ofac-2025-01-03-integrity", "state/cn", "agency/us-ofac",
            "company/integrity-technology-group", "person/guo-jiakun",
            "technology/gallium-extraction", "source/treasury-jy2769"]

ACCEPT = [
    ("text/turtle", ".ttl", "text/turtle"),
    ("application/ld+json", ".jsonld", "application/ld+json"),
    ("application/n-triples", ".nt", "application/n-triples"),
    ("application/rdf+xml", ".rdf", "application/rdf+xml"),
    ("text/html", ".html", "text/html"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ".html", "text/html"),
    ("application/rdf+xml;q=0.5, text/turtle;q=0.9", ".ttl", "text/turtle"),
    ("*/*", ".ttl", "text/turtle"),
]
PARSERS = {"text/turtle": "turtle", "application/ld+json": "json-ld",
           "application/n-triples": "nt", "application/rdf+xml": "xml"}


@pytest.mark.parametrize("path", ENTITIES)
@pytest.mark.parametrize("accept,suffix,media_type", ACCEPT)
def test_entity_iri_303s_to_the_negotiated_document(client: FlaskClient, path: str,
                                                    accept: str, suffix: str,
                                                    media_type: str) -> None:
    response = client.get(f"/id/{path}", headers={"Accept": accept})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/id/{path}{suffix}"
    assert "Accept" in response.headers["Vary"]
    document = client.get(response.headers["Location"], headers={"Accept": accept})
    assert document.status_code == 200
    assert document.mimetype == media_type


@pytest.mark.parametrize("path", ENTITIES)
@pytest.mark.parametrize("suffix,media_type", [
    (".ttl", "text/turtle"), (".jsonld", "application/ld+json"),
    (".nt", "application/n-triples"), (".rdf", "application/rdf+xml"), (".html", "text/html")])
def test_suffixed_documents(client: FlaskClient, path: str, suffix: str, media_type: str) -> None:
    response = client.get(f"/id/{path}{suffix}")
    assert response.status_code == 200 and response.mimetype == media_type
    links = response.headers["Link"]
    for other in (".ttl", ".jsonld", ".nt", ".rdf", ".html"):
        assert f"</id/{path}{other}>; rel=\"alternate\"" in links
    assert f"<{ID_BASE}{path}>; rel=\"describes\"" in links
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    if media_type in PARSERS:
        data = response.data
        if media_type == "application/ld+json":  # give rdflib the context: no fetching
            doc = json.loads(data)
            doc["@context"] = client.get("/context.jsonld").get_json(force=True)["@context"]
            data = json.dumps(doc).encode()
        g = rdflib.Graph().parse(data=data, format=PARSERS[media_type])
        assert (rdflib.URIRef(ID_BASE + path), None, None) in g


def test_revalidation_gives_304(client: FlaskClient) -> None:
    first = client.get("/id/state/cn.ttl")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get("/id/state/cn.ttl", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/id/state/cn.ttl",
                      headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get("/id/state/cn.ttl", headers={"If-None-Match": '"other"'}).status_code == 200
    # formats have different tags
    assert client.get("/id/state/cn.nt").headers["ETag"] != etag


@pytest.mark.parametrize("accept,media_type", [
    ("text/turtle", "text/turtle"), ("application/ld+json", "application/ld+json"),
    ("application/n-triples", "application/n-triples"), ("application/rdf+xml",
                                                          "application/rdf+xml"),
    ("text/html", "text/html")])
def test_unknown_iri_is_404_in_the_asked_format(client: FlaskClient, accept: str,
                                                media_type: str) -> None:
    response = client.get("/id/state/atlantis", headers={"Accept": accept})
    assert response.status_code == 404
    assert response.mimetype == media_type
    if media_type in PARSERS:
        assert len(rdflib.Graph().parse(data=response.data, format=PARSERS[media_type])) == 0
    suffixed = client.get("/id/state/atlantis.ttl")
    assert suffixed.status_code == 404 and suffixed.mimetype == "text/turtle"


def test_unproducible_format_is_406(client: FlaskClient) -> None:
    assert client.get("/id/state/cn", headers={"Accept": "image/png"}).status_code == 406


def test_jsonld_uses_the_servers_own_context(client: FlaskClient) -> None:
    doc = client.get("/id/state/cn.jsonld").get_json(force=True)
    assert doc["@context"] == "http://localhost/context.jsonld"
    context = client.get("/context.jsonld")
    assert context.mimetype == "application/ld+json"
    prefixes = context.get_json(force=True)["@context"]
    assert prefixes["rv"] == "https://w3id.org/rivalry/ontology#"
    # Expanded with that context (given locally: nothing is fetched), it is the same graph
    # as the Turtle.
    doc["@context"] = prefixes
    g = rdflib.Graph().parse(data=json.dumps(doc), format="json-ld")
    turtle = rdflib.Graph().parse(data=client.get("/id/state/cn.ttl").data, format="turtle")
    assert rdflib.compare.isomorphic(g, turtle)


def test_base_iri_is_no_longer_a_setting(store_dir: Path) -> None:
    """The setting did nothing the facts could follow (issue 16): it is refused, saying
    what to do instead."""
    from rivalry.server import create_app
    from rivalry.server.settings import InvalidSetting

    with pytest.raises(InvalidSetting, match="base_iri.*removed.*w3id.org/rivalry"):
        create_app({"store": str(store_dir), "base_iri": "https://example.org/other/"})


# --- what a description holds -----------------------------------------------------------

RDFS_LABEL = rdflib.RDFS.label
SKOS_PREF = rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")


def check_description(store: EmbeddedStore, iri: str, g: rdflib.Graph) -> None:
    """Every triple about the entity and pointing to it, a label for every node it
    mentions, and the sources behind it."""
    node = ox.NamedNode(iri)
    mentioned = set()
    for q in store.quads_for_pattern(node, None, None, None):
        triple = (rdflib.URIRef(iri), rdflib.URIRef(q.predicate.value), _term(q.object))
        assert triple in g, triple
        mentioned.add(q.object)
        mentioned.add(q.predicate)
    for q in store.quads_for_pattern(None, None, node, None):
        assert (_term(q.subject), rdflib.URIRef(q.predicate.value), rdflib.URIRef(iri)) in g
        mentioned.add(q.subject)
    for m in mentioned:
        if not isinstance(m, ox.NamedNode):
            continue
        has_label = any(True for p in ("http://www.w3.org/2000/01/rdf-schema#label",
                                       "http://www.w3.org/2004/02/skos/core#prefLabel")
                        for _ in store.quads_for_pattern(m, ox.NamedNode(p), None, None))
        if has_label:
            ref = rdflib.URIRef(m.value)
            assert (ref, RDFS_LABEL, None) in g or (ref, SKOS_PREF, None) in g, m.value
    prov = ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")
    for q in store.quads_for_pattern(node, prov, None, None):
        doc = rdflib.URIRef(q.object.value)
        for p in ("http://purl.org/dc/terms/title", "http://purl.org/dc/terms/publisher",
                  "http://purl.org/dc/terms/issued", "https://schema.org/url"):
            assert (doc, rdflib.URIRef(p), None) in g, (doc, p)
        publisher = g.value(doc, rdflib.URIRef("http://purl.org/dc/terms/publisher"))
        assert (publisher, RDFS_LABEL, None) in g


def _term(t: Term) -> rdflib.term.Node:
    if isinstance(t, ox.NamedNode):
        return rdflib.URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return rdflib.BNode(t.value)
    if t.language:
        return rdflib.Literal(t.value, lang=t.language)
    if t.datatype.value == "http://www.w3.org/2001/XMLSchema#string":
        return rdflib.Literal(t.value)  # rdflib keeps RDF 1.0's plain literals apart
    return rdflib.Literal(t.value, datatype=rdflib.URIRef(t.datatype.value))


def parse(client: FlaskClient, data: bytes, fmt: str) -> rdflib.Graph:
    """Parse a response; JSON-LD gets the server's context locally, so nothing is fetched."""
    if fmt == "json-ld":
        doc = json.loads(data)
        if isinstance(doc, dict) and isinstance(doc.get("@context"), str):
            doc["@context"] = client.get("/context.jsonld").get_json(force=True)["@context"]
        data = json.dumps(doc).encode()
    return rdflib.Graph().parse(data=data, format=fmt)


@pytest.mark.parametrize("path", ENTITIES)
def test_description_holds_everything(client: FlaskClient, store_dir: Path, path: str) -> None:
    g = rdflib.Graph().parse(data=client.get(f"/id/{path}.nt").data, format="nt")
    check_description(EmbeddedStore(store_dir), ID_BASE + path, g)


@pytest.mark.parametrize("path", ENTITIES)
def test_turtle_declares_the_prefixes_it_uses_and_no_other(client: FlaskClient,
                                                           path: str) -> None:
    """A description in Turtle declares each prefix it abbreviates with, not every prefix
    the project knows, in the order of their names, and reads back as the same triples as
    its N-Triples."""
    turtle = client.get(f"/id/{path}.ttl").data.decode("utf-8")
    declared = dict(re.findall(r"^@prefix (\w*): <([^>]*)> \.$", turtle, re.MULTILINE))
    assert list(declared) == sorted(declared)
    assert turtle.startswith("@prefix ")
    body = "\n".join(line for line in turtle.splitlines() if not line.startswith("@prefix"))
    used = {name for name in declared if re.search(rf"(?<![\w:<]){name}:", body)}
    assert declared and set(declared) == used, sorted(set(declared) - used)
    same = rdflib.Graph().parse(data=client.get(f"/id/{path}.nt").data, format="nt")
    assert rdflib.compare.isomorphic(rdflib.Graph().parse(data=turtle, format="turtle"), same)


def test_prefixes_used_reads_every_position_and_quoted_triples() -> None:
    ex, other = "http://example.org/ns#", "http://example.org/other/"
    prefixes = {"ex": ex, "other": other, "unused": "http://example.org/unused/",
                "xsd": "http://www.w3.org/2001/XMLSchema#",
                "nodelimiter": "http://example.org/flat"}
    RDF, XSD = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", prefixes["xsd"]
    quoted = ox.Triple(ox.NamedNode(other + "a"), ox.NamedNode(ex + "p"), ox.BlankNode())
    triples = [
        ox.Triple(ox.NamedNode("http://example.org/flatx"), ox.NamedNode(ex + "q"),
                  ox.Literal("2020-01-01", datatype=ox.NamedNode(prefixes["xsd"] + "date"))),
        ox.Triple(ox.BlankNode(), ox.NamedNode(ex + "says"), quoted),
        ox.Triple(ox.NamedNode(ex + "s"), ox.NamedNode(RDF + "type"), ox.NamedNode(ex + "C")),
    ]
    # what Turtle writes without a prefix: `a`, strings, language strings, plain numbers
    bare = [ox.Triple(ox.NamedNode(ex + "s"), ox.NamedNode(RDF + "type"), ox.NamedNode(ex + "C"))]
    bare += [ox.Triple(ox.NamedNode(ex + "s"), ox.NamedNode(ex + "v"),
                       ox.Literal(value, datatype=ox.NamedNode(XSD + kind)))
             for value, kind in (("1", "integer"), ("-1.5", "decimal"), ("1e3", "double"),
                                 ("true", "boolean"), ("x", "string"))]
    bare.append(ox.Triple(ox.NamedNode(ex + "s"), ox.NamedNode(ex + "v"),
                          ox.Literal("x", language="en")))
    assert prefixes_used(bare, {**prefixes, "rdf": RDF}) == {"ex": ex}
    written = write_triples(bare, ox.RdfFormat.TURTLE, {**prefixes, "rdf": RDF})
    assert b"@prefix rdf:" not in written and b"@prefix xsd:" not in written
    # forms the shorthand does not cover keep their datatype, and declare its prefix
    odd = [ox.Triple(ox.NamedNode(ex + "s"), ox.NamedNode(ex + "v"),
                     ox.Literal(value, datatype=ox.NamedNode(XSD + kind)))
           for value, kind in (("1.", "decimal"), ("INF", "double"), ("1", "boolean"))]
    for triple in odd:
        assert prefixes_used([triple], prefixes) == {"ex": ex, "xsd": XSD}
        assert b"^^xsd:" in write_triples([triple], ox.RdfFormat.TURTLE, prefixes)
    assert prefixes_used(triples, prefixes) == {
        "ex": ex, "other": other, "xsd": prefixes["xsd"]}
    written = write_triples(triples, ox.RdfFormat.TURTLE, prefixes)
    assert b"unused" not in written and b"nodelimiter" not in written
    assert len(list(ox.parse(written, format=ox.RdfFormat.TURTLE))) == 3


# --- pages -------------------------------------------------------------------------------------


def test_entity_page(client: FlaskClient) -> None:
    html = client.get("/id/action/us-ofac-2025-01-03-integrity.html").data.decode()
    assert "<h1>OFAC sanctions Integrity Technology Group</h1>" in html
    assert ">sanction</a>" in html  # its type, labelled from the ontology
    assert ">issued by</a>" in html and ">legal basis</a>" in html  # ontology labels
    assert 'href="/id/agency/us-ofac"' in html  # linked entities are links here
    assert "<h2>Timeline</h2>" in html and "2025-01-06" in html
    assert "<svg" in html and "Chain of responses" in html
    assert 'href="https://home.treasury.gov/news/press-releases/jy2769"' in html
    assert 'href="/id/action/us-ofac-2025-01-03-integrity.ttl"' in html
    assert 'href="/id/action/us-ofac-2025-01-03-integrity.jsonld"' in html
    assert "/sparql?query=" in html


def test_actor_page_has_a_timeline(client: FlaskClient) -> None:
    html = client.get("/id/state/cn.html").data.decode()
    assert "<h2>Timeline</h2>" in html
    assert "MOFCOM proposes export restrictions" in html
    html = client.get("/id/company/integrity-technology-group.html").data.decode()
    assert "OFAC sanctions Integrity Technology Group" in html and "targets" in html


def test_browse_pages(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 100_000)  # every member on one page
    index = client.get("/browse").data.decode()
    assert "government agency" in index and "company" in index
    for alias, member in [("states", "United States"), ("agencies", "Office of Foreign Assets"),
                          ("companies", "Integrity Technology Group"), ("people", "Guo Jiakun"),
                          ("technologies", "gallium extraction")]:
        response = client.get(f"/browse/{alias}", follow_redirects=True)
        assert response.status_code == 200 and member in response.data.decode(), alias


def count_actions(store_dir: Path, where: str = "") -> int:
    query = ("PREFIX rv: <https://w3id.org/rivalry/ontology#> "
             "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
             "SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a a rv:Action ; rv:announcedOn ?d . "
             + where + " }")
    return int(next(EmbeddedStore(store_dir).query(query).rows())[0].value)


def test_actions_filter(client: FlaskClient, store_dir: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 100_000)  # the filters, not the paging
    everything = client.get("/browse/actions").data.decode()
    assert everything.count("<tr><td><time") == count_actions(store_dir) > 50
    cn = client.get("/browse/actions", query_string={
        "state": ID_BASE + "state/cn",
        "type": "https://w3id.org/rivalry/ontology#ExportControl"}).data.decode()
    assert "MOFCOM proposes" in cn and "OFAC" not in cn
    assert cn.count("<tr><td><time") == count_actions(
        store_dir, "?a rv:issuingState <https://w3id.org/rivalry/id/state/cn> ; "
                   "a rv:ExportControl")
    tech = client.get("/browse/actions", query_string={
        "technology": ID_BASE + "technology/hbm"}).data.decode()
    assert "HBM" in tech or "high-bandwidth" in tech.lower()
    assert tech.count("<tr><td><time") == count_actions(
        store_dir, "?a rv:controlsTechnology/skos:broader* "
                   "<https://w3id.org/rivalry/id/technology/hbm>") >= 1
    year = client.get("/browse/actions", query_string={"year": "2019"}).data.decode()
    assert year.count("<tr><td><time") == count_actions(store_dir, "FILTER(YEAR(?d) = 2019)")
    assert "Huawei" in year
    assert client.get("/browse/actions", query_string={"year": "1066"}).status_code == 400


def test_timeline(client: FlaskClient, store_dir: Path) -> None:
    """The list beneath the chart, page after page, holds every action in date order."""
    import re

    html, dates, page = "", [], 1
    while True:
        text = client.get("/timeline", query_string={"page": page}).data.decode()
        found = re.findall(r'<li class="event"><time datetime="([^"]+)"', text)
        if not found:
            break
        html, dates, page = html + text, dates + found, page + 1
    for year in range(2018, 2027):
        assert f"<h2>{year}</h2>" in html
    assert dates == sorted(dates) and len(dates) == count_actions(store_dir)


# --- ontology, shapes --------------------------------------------------------------------------


def test_ontology_documentation_and_rdf(client: FlaskClient,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    html = client.get("/ontology", headers={"Accept": "text/html"})
    assert html.status_code == 303 or html.mimetype == "text/html"
    page = html.data.decode()
    assert "rivalry ontology" in page and "ExportControl" in page and "issuedBy" in page
    for accept, fmt in [("text/turtle", "turtle"), ("application/rdf+xml", "xml"),
                        ("application/ld+json", "json-ld")]:
        response = client.get("/ontology", headers={"Accept": accept})
        assert response.status_code == 200 and "Accept" in response.headers["Vary"]
        g = parse(client, response.data, fmt)
        assert (rdflib.URIRef("https://w3id.org/rivalry/ontology#Sanction"), rdflib.RDF.type,
                rdflib.OWL.Class) in g


def test_the_ontology_written_once_follows_its_file(client: FlaskClient, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The ontology in formats other than Turtle is written once for each content of its
    file (rivalry.server.publish.files_document): a changed file is written again."""
    from rivalry.ontology import ontology_file

    copy = tmp_path / "rivalry.ttl"
    copy.write_bytes(Path(str(ontology_file())).read_bytes())
    monkeypatch.setattr("rivalry.server.publish._ontology_path", lambda: copy)
    added = "https://w3id.org/rivalry/ontology#AddedForTheTest"
    for suffix in (".nt", ".jsonld", ".rdf"):  # JSON-LD names it rv:AddedForTheTest
        assert "AddedForTheTest" not in client.get(f"/ontology{suffix}").get_data(
            as_text=True)
    before = client.get("/ontology.nt").headers["ETag"]
    with copy.open("a", encoding="utf-8") as f:
        f.write(f"\n<{added}> a <http://www.w3.org/2002/07/owl#Class> .\n")
    for suffix in (".nt", ".jsonld", ".rdf"):
        assert "AddedForTheTest" in client.get(f"/ontology{suffix}").get_data(
            as_text=True), suffix
    assert client.get("/ontology.nt").headers["ETag"] != before


def test_void_written_once_names_each_hosts_addresses(client: FlaskClient) -> None:
    """VoID is written once for each build, format and public address: a request by
    another host name gets its own addresses, however often the first was asked."""
    for _ in range(2):
        for host in ("one.example", "two.example:8080"):
            for suffix in (".ttl", ".jsonld", ".nt"):
                text = client.get(f"/.well-known/void{suffix}",
                                  headers={"Host": host}).get_data(as_text=True)
                assert f"http://{host}/sparql" in text, (host, suffix)
                other = "two.example:8080" if host == "one.example" else "one.example/"
                assert f"http://{other}" not in text, (host, suffix)


def test_documents_kept_are_bounded(client: FlaskClient,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """However many hosts ask, the documents kept stay within DOCUMENTS_KEPT, the oldest
    going first, and each host still gets its own addresses."""
    from rivalry.server import publish

    monkeypatch.setattr(publish, "DOCUMENTS_KEPT", 3)
    for i in range(8):
        text = client.get("/.well-known/void.nt",
                          headers={"Host": f"host{i}.example"}).get_data(as_text=True)
        assert f"http://host{i}.example/sparql" in text
        assert len(publish._kept) <= 3
    assert not any(f"host{i}.example" in str(key) for key in publish._kept for i in range(5))


def test_shapes_are_published(client: FlaskClient) -> None:
    response = client.get("/shapes", headers={"Accept": "text/turtle"})
    g = rdflib.Graph().parse(data=response.data, format="turtle")
    assert (None, rdflib.URIRef("http://www.w3.org/ns/shacl#targetClass"), None) in g
    assert b"ExportControl" in client.get("/shapes", headers={"Accept": "text/html"}).data


# --- dumps and VoID ------------------------------------------------------------------------------


@pytest.mark.parametrize("name,fmt,dataset", [
    ("rivalry.ttl", "turtle", False), ("rivalry.nt", "nt", False),
    ("rivalry.nq", "nquads", True), ("rivalry.trig", "trig", True),
    ("rivalry.jsonld", "json-ld", True)])
def test_dumps(client: FlaskClient, store_dir: Path, name: str, fmt: str, dataset: bool) -> None:
    with client.get(f"/data/{name}") as response:
        plain = response.data
        assert response.status_code == 200
    with client.get(f"/data/{name}.gz") as response:
        assert gzip.decompress(response.data) == plain
    with client.get(f"/data/{name}", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.data) == plain
    store = EmbeddedStore(store_dir)
    if dataset:
        ds = rdflib.Dataset()
        ds.parse(data=plain, format=fmt)
        assert sum(1 for _ in ds.quads()) == sum(1 for _ in store.quads())
        meta = {str(g.identifier) for g in ds.graphs()}
        assert "https://w3id.org/rivalry/graph/meta" in meta
    else:
        g = rdflib.Graph().parse(data=plain, format=fmt)
        distinct = {(q.subject, q.predicate, q.object) for q in store.quads()}
        assert len(g) == len(distinct)


def test_turtle_dump_holds_the_n_triples_dumps_triples_in_its_order(store_dir: Path,
                                                                     tmp_path: Path) -> None:
    """The build writes both union dumps segment by segment (rivalry.graph.segments):
    the same triples, in the same order, as the store's union; the Turtle dump opens
    with every prefix once, in order, and declares none further down."""
    from rivalry.graph import PREFIXES
    from rivalry.graph.export import union_parts, union_triples
    from rivalry.graph.segments import write_dumps

    def read(dumps: Path, name: str, fmt: ox.RdfFormat) -> list[str]:
        data = gzip.decompress((dumps / f"{name}.gz").read_bytes())
        return [str(t) for t in ox.parse(data, format=fmt)]

    built = EmbeddedStore(store_dir).build_dir / "dumps"
    nt = read(built, "rivalry.nt", ox.RdfFormat.N_TRIPLES)
    assert read(built, "rivalry.ttl", ox.RdfFormat.TURTLE) == nt and len(set(nt)) == len(nt)

    db = ox.Store()
    db.bulk_extend(ox.Store.read_only(str(EmbeddedStore(store_dir).build_dir / "db")))
    write_dumps(db, tmp_path, union_parts(db), tmp_path / "state", 6)
    direct = [str(t) for t in union_triples(db)]
    # the order is the store's: this copy's, which need not be the build's
    assert read(tmp_path, "rivalry.nt", ox.RdfFormat.N_TRIPLES) == direct
    assert sorted(direct) == sorted(nt)
    assert read(tmp_path, "rivalry.ttl", ox.RdfFormat.TURTLE) == direct
    lines = gzip.decompress((tmp_path / "rivalry.ttl.gz").read_bytes()).splitlines()
    declared = [line for line in lines if line.startswith(b"@prefix")]
    assert lines[:len(declared)] == declared == sorted(declared)
    assert len(declared) == len(PREFIXES)


def test_data_page_lists_sizes(client: FlaskClient) -> None:
    listing = client.get("/data", headers={"Accept": "application/json"}).get_json(force=True)
    files = {f["name"]: f for f in listing["files"]}
    assert set(files) == {"rivalry.ttl", "rivalry.nq", "rivalry.trig", "rivalry.jsonld",
                          "rivalry.nt"}
    for name, f in files.items():
        assert f["gzip_url"].endswith(f"/data/{name}.gz")
        with client.get(f"/data/{name}.gz") as response:
            assert len(response.data) == f["gzip_size"]  # written with the build
    assert b"size (bytes, gzip)" in client.get("/data", headers={"Accept": "text/html"}).data
    # no field that is always null: the decompressed size is not known without reading
    assert all(set(f) == {"name", "gzip_size", "url", "gzip_url", "media_type"}
               for f in files.values())
    # format= as /search takes it, whatever Accept says
    assert client.get("/data?format=json", headers={"Accept": "text/html"}).get_json(
        force=True) == listing
    assert client.get("/data?format=html", headers={"Accept": "application/json"}
                      ).mimetype == "text/html"
    assert client.get("/data?format=xml").status_code == 406


def test_dumps_of_an_older_build_are_written_on_demand_one_by_one(fresh_store: Path) -> None:
    """A build made before dumps were written with it: each format is written on its
    first request, on its own and atomically; nothing partial stays behind."""
    import shutil

    from rivalry.server import create_app

    current = fresh_store / "current"
    dumps = current.resolve() / "dumps"
    shutil.rmtree(dumps)
    client = create_app({"store": str(fresh_store)}).test_client()
    listing = client.get("/data", headers={"Accept": "application/json"}).get_json(force=True)
    assert all(f["gzip_size"] is None for f in listing["files"])
    with client.get("/data/rivalry.nt") as response:
        assert response.status_code == 200 and response.data.count(b"\n") > 1000
    assert sorted(p.name for p in dumps.iterdir() if not p.name.startswith(".")) == [
        "rivalry.nt.gz"]
    assert not [p for p in dumps.iterdir() if p.name.startswith(".rivalry.nt.gz")]


def test_void_names_the_publisher_the_operator_gives(store_dir: Path,
                                                     curated_store: EmbeddedStore) -> None:
    """dct:publisher, a foaf:Agent named by the settings: an IRI with publisher_url, a
    blank node with the name alone; none without either. A bad address stops the app."""
    from rivalry.server import create_app
    from rivalry.server.settings import InvalidSetting

    dct, foaf = rdflib.DCTERMS, rdflib.Namespace("http://xmlns.com/foaf/0.1/")
    dataset = rdflib.URIRef("https://w3id.org/rivalry/dataset")

    turtle: list[str] = []

    def void(**settings: str) -> tuple[rdflib.Graph, str]:
        app = create_app({"store": str(store_dir), **settings})
        app.extensions["rivalry.store"] = curated_store
        client = app.test_client()
        turtle.append(client.get("/.well-known/void.ttl").get_data(as_text=True))
        g = rdflib.Graph().parse(data=turtle[-1], format="turtle")
        return g, client.get("/.well-known/void.html").get_data(as_text=True)

    g, html = void()
    assert g.value(dataset, dct.publisher) is None and "dct:publisher" not in html
    g, html = void(publisher_name="Example Institute", publisher_url="https://example.org/")
    agent = g.value(dataset, dct.publisher)
    assert agent == rdflib.URIRef("https://example.org/")
    assert (agent, rdflib.RDF.type, foaf.Agent) in g
    assert str(g.value(agent, foaf.name)) == "Example Institute"
    assert '<a href="https://example.org/">Example Institute</a>' in html
    # written with the foaf: prefix, as every other vocabulary there is
    assert "@prefix foaf: <http://xmlns.com/foaf/0.1/>" in turtle[-1]
    assert "foaf:Agent" in turtle[-1] and "<http://xmlns.com/foaf/0.1/" not in \
        turtle[-1].replace("@prefix foaf: <http://xmlns.com/foaf/0.1/>", "")
    g, html = void(publisher_name="Example Institute")
    agent = g.value(dataset, dct.publisher)
    assert isinstance(agent, rdflib.BNode) and str(g.value(agent, foaf.name)) == \
        "Example Institute"
    assert "Example Institute (<code>dct:publisher</code>)" in html
    for bad in ("example.org", "ftp://example.org/", "https://", "https://example.org/a b",
                "https:///path", "https://example.org/<x>"):
        with pytest.raises(InvalidSetting, match="publisher_url"):
            create_app({"store": str(store_dir), "publisher_url": bad})


def test_void_counts_match_the_data(client: FlaskClient, store_dir: Path) -> None:
    g = rdflib.Graph().parse(data=client.get("/.well-known/void",
                                             headers={"Accept": "text/turtle"}).data,
                             format="turtle")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    dataset = rdflib.URIRef("https://w3id.org/rivalry/dataset")
    store = EmbeddedStore(store_dir)
    triples = {(q.subject, q.predicate, q.object) for q in store.quads()}

    def value(p: rdflib.URIRef) -> int:
        return int(g.value(dataset, p))

    assert value(void.triples) == len(triples)
    assert value(void.entities) == len({s for s, _, _ in triples if isinstance(s, ox.NamedNode)
                                        and s.value.startswith(ID_BASE)})
    rdf_type = ox.NamedNode(str(rdflib.RDF.type))
    assert value(void.classes) == len({o for _, p, o in triples if p == rdf_type})
    assert value(void.properties) == len({p for _, p, _ in triples})
    assert value(void.distinctSubjects) == len({s for s, _, _ in triples})
    assert value(void.distinctObjects) == len({o for _, _, o in triples})
    assert (dataset, void.sparqlEndpoint, rdflib.URIRef("http://localhost/sparql")) in g
    # one void:dataDump, the union in N-Triples: VoID reads several as parts to load
    # together, and the five files are alternatives (their triples count once)
    (nt,) = g.objects(dataset, void.dataDump)
    with client.get(str(nt).removeprefix("http://localhost"),
                    headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/n-triples")
        body = gzip.decompress(response.data) if response.headers.get(
            "Content-Encoding") == "gzip" else response.data
        assert body.count(b"\n") == value(void.triples)
    # each file a DCAT distribution, its media type and compression said and true
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    iana = "http://www.iana.org/assignments/media-types/"
    assert (dataset, rdflib.RDF.type, dcat.Dataset) in g
    found = {}
    for dist in g.objects(dataset, dcat.distribution):
        url = str(g.value(dist, dcat.downloadURL))
        assert g.value(dist, dcat.compressFormat) == rdflib.URIRef(iana + "application/gzip")
        assert str(g.value(dist, rdflib.DCTERMS.format)).startswith(
            "http://www.w3.org/ns/formats/")
        found[url] = str(g.value(dist, dcat.mediaType)).removeprefix(iana)
    assert len(found) == 5 and str(nt) + ".gz" in found
    for url, media_type in found.items():
        with client.get(url.removeprefix("http://localhost")) as response:
            assert response.status_code == 200, url
            assert response.headers["Content-Type"] == "application/gzip", url
            data = gzip.decompress(response.data)
        # the file is what its media type says: it parses as that, every triple there
        fmt = ox.RdfFormat.from_media_type(media_type)
        assert fmt is not None, media_type
        named = {t for t in triples if not isinstance(t[0], ox.BlankNode)
                 and not isinstance(t[2], ox.BlankNode)}
        assert {(q.subject, q.predicate, q.object)
                for q in ox.parse(data, format=fmt)} >= named, url
    assert str(g.value(dataset, void.uriSpace)) == ID_BASE
    subsets = {str(s): int(g.value(s, void.triples)) for s in g.objects(dataset, void.subset)}
    assert subsets["https://w3id.org/rivalry/graph/inferred"] > 0
    assert sum(subsets.values()) == sum(1 for _ in store.quads())
    # each subset's void:dataDump is the graph store's address for it, which gives it whole
    dumps = {str(s): str(g.value(s, void.dataDump)) for s in g.objects(dataset, void.subset)}
    assert set(dumps) == set(subsets) and all(dumps.values())
    for graph in ("https://w3id.org/rivalry/graph/meta",
                  "https://w3id.org/rivalry/graph/facts/events/2018-04-zte-denial-order"):
        whole = client.get(dumps[graph].removeprefix("http://localhost"),
                           headers={"Accept": "application/n-triples"})
        assert whole.status_code == 200
        assert len(whole.data.splitlines()) == subsets[graph]
