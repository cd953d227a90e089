"""The SPARQL 1.1 Service Description of the endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyoxigraph as ox

from rivalry.graph.void import FORMATS_NS, W3C_FORMATS
from rivalry.server.formats import RDF_FORMATS, RESULT_FORMATS, Format, lookup

SD = "http://www.w3.org/ns/sparql-service-description#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_COMMENT = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")

SERVICE_FORMATS: tuple[Format, ...] = tuple(
    f for f in (lookup(RDF_FORMATS, name) for name in ("turtle", "rdfxml", "jsonld"))
    if f is not None)

def service_description(endpoint: str, settings: Mapping[str, Any], fmt: Format) -> bytes:
    def sd(local: str) -> ox.NamedNode:
        return ox.NamedNode(SD + local)

    service = ox.NamedNode(endpoint)
    dataset = ox.BlankNode("dataset")
    default_graph = ox.BlankNode("defaultGraph")
    triples = [
        ox.Triple(service, RDF_TYPE, sd("Service")),
        ox.Triple(service, sd("endpoint"), service),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, sd("feature"), sd("BasicFederatedQuery"))
        if settings["service_allowlist"].split() else None,
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, RDF_TYPE, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), default_graph),
        ox.Triple(default_graph, RDF_TYPE, sd("Graph")),
        ox.Triple(service, RDFS_COMMENT, ox.Literal(
            "rivalry: a knowledge graph of the technology rivalry between states. Read-only; "
            f"queries run for at most {settings['query_time_limit']:g} s and return at most "
            f"{settings['result_row_limit']} rows.", language="en")),
    ]
    for f in RESULT_FORMATS + RDF_FORMATS:
        native = f.rdf or f.results
        assert native is not None
        iri = ox.NamedNode(FORMATS_NS + W3C_FORMATS[native])
        triples.append(ox.Triple(service, sd("resultFormat"), iri))
    present = [t for t in triples if t is not None]
    assert fmt.rdf is not None
    return ox.serialize(present, format=fmt.rdf,
                        prefixes={"sd": SD} if fmt.rdf == ox.RdfFormat.TURTLE else None) or b""
