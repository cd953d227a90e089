"""The one IRI shortener, the one rdflib converter and the reading of bound terms."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import rdflib

from rivalry.graph import ID_BASE, PREFIXES, term_value
from rivalry.graph.consistency import short
from rivalry.graph.ontology_doc import curie
from rivalry.graph.terms import prefixed_name, to_rdflib
from rivalry.server.cli import short as cli_short
from rivalry.server.sparql import short_iri

RV = PREFIXES["rv"]


@pytest.mark.parametrize("iri, expected", [
    (RV + "Action", "rv:Action"),
    (ID_BASE + "company/huawei", "company:huawei"),  # the longest namespace wins
    (ID_BASE + "nowhere/x", None),  # "/" is no local name: id:nowhere/x would not parse
    (RV, None),  # nothing left
    (RV + "a.", None),  # a prefixed name cannot end with "."
    ("http://example.org/x", None),
])
def test_prefixed_name(iri: str, expected: str | None) -> None:
    assert prefixed_name(iri) == expected


def test_every_shortener_is_the_one() -> None:
    assert short(RV + "Action") == cli_short(ox.NamedNode(RV + "Action")) == "rv:Action"
    assert short("http://example.org/x") == "<http://example.org/x>"
    assert cli_short(ox.NamedNode("http://example.org/x")) == "<http://example.org/x>"
    assert short_iri(RV + "Action") == curie(RV + "Action") == "rv:Action"
    assert short_iri("http://example.org/x") == curie("http://example.org/x") \
        == "http://example.org/x"
    assert curie("http://www.w3.org/2006/time#Instant") == "time:Instant"  # the page's own


def test_to_rdflib_keeps_blank_node_labels_and_literal_forms() -> None:
    blank = ox.BlankNode("b1")
    assert to_rdflib(blank) == rdflib.BNode("b1") == to_rdflib(ox.BlankNode("b1"))
    assert to_rdflib(ox.NamedNode(RV + "Action")) == rdflib.URIRef(RV + "Action")
    assert to_rdflib(ox.Literal("x", language="en")) == rdflib.Literal("x", lang="en")
    year = ox.Literal("2024", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#gYear"))
    assert to_rdflib(year) == rdflib.Literal(
        "2024", datatype=rdflib.URIRef("http://www.w3.org/2001/XMLSchema#gYear"))
    with pytest.raises(TypeError):
        to_rdflib(ox.Triple(ox.NamedNode("urn:s"), ox.NamedNode("urn:p"), blank))


def test_shapes_from_two_files_keep_their_blank_nodes_apart(tmp_path) -> None:  # noqa: ANN001
    from rivalry.graph.load import canonical, read_rdf_file

    quads = []
    for name in ("a.ttl", "b.ttl"):
        path = tmp_path / name
        path.write_text("_:b0 <urn:p> <urn:o> .\n", "utf-8")
        quads += canonical(read_rdf_file(path), scope=name)
    graph = rdflib.Graph()
    for q in quads:
        graph.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    assert len(set(graph.subjects())) == 2


def test_term_value() -> None:
    assert term_value(ox.Literal("7")) == "7"
    assert term_value(ox.NamedNode("urn:x")) == "urn:x"
    with pytest.raises(TypeError, match="not None"):
        term_value(None)


def test_expanded_name_is_the_inverse_of_prefixed_name() -> None:
    from rivalry.graph.terms import expanded_name, prefixed_name

    for iri in (RV + "Company", ID_BASE + "company/huawei",
                "http://www.w3.org/2004/02/skos/core#Concept"):
        name = prefixed_name(iri)
        assert name is not None and expanded_name(name) == iri
    assert expanded_name("https://w3id.org/rivalry/id/state/cn") is None  # an IRI
    assert expanded_name("nosuchprefix:x") is None
    assert expanded_name("plain") is None
