"""Statistics of the graph and its VoID description (W3C, "Describing Linked Datasets
with the VoID Vocabulary"). Counts are over the union of all graphs, each triple once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from rivalry.graph import DATA_LICENSE, ID_BASE, term_value
from rivalry.graph.store import GraphReader

VOID = "http://rdfs.org/ns/void#"
DCT = "http://purl.org/dc/terms/"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
XSD = "http://www.w3.org/2001/XMLSchema#"
DCAT = "http://www.w3.org/ns/dcat#"
FOAF = "http://xmlns.com/foaf/0.1/"
#: IANA's IRIs of media types, as DCAT's dcat:mediaType and dcat:compressFormat take them.
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
#: The W3C's names of formats, whose IRIs are FORMATS_NS + NAME, by
#: pyoxigraph's formats: VoID's void:feature and DCAT's dct:format here, the service
#: description's sd:resultFormat (rivalry.server.service).
FORMATS_NS = "http://www.w3.org/ns/formats/"
W3C_FORMATS: dict[ox.RdfFormat | ox.QueryResultsFormat, str] = {
    ox.RdfFormat.TURTLE: "Turtle", ox.RdfFormat.N_TRIPLES: "N-Triples",
    ox.RdfFormat.N_QUADS: "N-Quads", ox.RdfFormat.TRIG: "TriG",
    ox.RdfFormat.JSON_LD: "JSON-LD", ox.RdfFormat.RDF_XML: "RDF_XML",
    ox.QueryResultsFormat.JSON: "SPARQL_Results_JSON",
    ox.QueryResultsFormat.XML: "SPARQL_Results_XML",
    ox.QueryResultsFormat.CSV: "SPARQL_Results_CSV",
    ox.QueryResultsFormat.TSV: "SPARQL_Results_TSV",
}


@dataclass
class Statistics:
    triples: int
    entities: int
    classes: int
    properties: int
    distinct_subjects: int
    distinct_objects: int
    graphs: dict[str, int] = field(default_factory=dict)
    class_partitions: dict[str, int] = field(default_factory=dict)


def _count(store: GraphReader, query: str) -> int:
    return _integers(list(store.query(query).rows()), 1)[0]


def _integers(rows: list[Any], width: int) -> list[int]:
    """The first row of a query's answer as integers (0 for what is unbound, or when
    there is no row)."""
    first = rows[0] if rows else (None,) * width
    return [int(term_value(v)) if v is not None else 0 for v in first]


def statistics(store: GraphReader, *, triples: int | None = None) -> Statistics:
    """What VoID says of the graph: `triples` counts distinct triples of the union (given
    by a caller that has just written the union, as a build has: the query holds every
    distinct triple in memory at once); `entities`, distinct subjects in the entity space
    (void:uriSpace); `classes`, distinct objects of rdf:type; `properties`, distinct
    predicates."""
    if triples is None:
        triples = _count(store, "SELECT (COUNT(*) AS ?n) WHERE "
                                "{ SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }")
    # the subjects once, for both of their counts: the entity space's test is made on
    # each distinct subject, not on each triple
    rows = list(store.query(
        "SELECT (COUNT(*) AS ?n) (SUM(IF(isIRI(?s) && STRSTARTS(STR(?s), "
        f'"{ID_BASE}"), 1, 0)) AS ?entities) WHERE {{ SELECT DISTINCT ?s WHERE {{ ?s ?p ?o }} }}'
    ).rows())
    subjects, entities = _integers(rows, 2)
    # the properties and the objects in one pass over the triples, not two
    properties, objects = _integers(list(store.query(
        "SELECT (COUNT(DISTINCT ?p) AS ?np) (COUNT(DISTINCT ?o) AS ?no) WHERE { ?s ?p ?o }"
    ).rows()), 2)
    stats = Statistics(
        triples=triples,
        entities=entities,
        classes=_count(store, "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?s a ?c }"),
        properties=properties,
        distinct_subjects=subjects,
        distinct_objects=objects,
    )
    stats.graphs = dict(sorted(store.graph_sizes().items()))
    for c, n in store.query("SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c "
                            f'FILTER(STRSTARTS(STR(?s), "{ID_BASE}")) }} GROUP BY ?c '
                            "ORDER BY ?c").rows():
        stats.class_partitions[term_value(c)] = int(term_value(n))
    return stats


@dataclass(frozen=True)
class Publisher:
    """Who publishes the dataset (settings publisher_name, publisher_url); either may be
    empty."""

    name: str = ""
    url: str = ""


def void_description(stats: Statistics, *, dataset: str, endpoint: str,
                     data_dump: str, dumps: dict[str, ox.RdfFormat], vocabulary: str,
                     modified: str,
                     examples: list[str],
                     subset_dump: Callable[[str], str] | None = None,
                     publisher: Publisher | None = None) -> list[ox.Triple]:
    """The VoID description of the dataset, as triples; `subset_dump` gives where a named
    graph (a subset) can be had whole, its `void:dataDump`; `publisher`, who publishes
    it (`dct:publisher`, a `foaf:Agent` with its `foaf:name`), when the operator says.

    `data_dump` is the dataset's one `void:dataDump` (the union as N-Triples): the dump
    files are alternatives, not parts, and VoID reads several `void:dataDump`s as parts
    to be loaded together (VoID 6.2). `dumps` are the gzip files of the whole dataset
    (address: format), each a DCAT distribution of it, with its format, media type and
    compression, for clients that choose."""
    d = ox.NamedNode(dataset)

    def v(local: str) -> ox.NamedNode:
        return ox.NamedNode(VOID + local)

    def integer(n: int) -> ox.Literal:
        return ox.Literal(str(n), datatype=ox.NamedNode(XSD + "integer"))

    triples = [
        ox.Triple(d, RDF_TYPE, v("Dataset")),
        ox.Triple(d, ox.NamedNode(DCT + "title"), ox.Literal("rivalry", language="en")),
        ox.Triple(d, ox.NamedNode(DCT + "description"), ox.Literal(
            "An open knowledge graph of the technology rivalry between states: sanctions, "
            "export controls, entity listings, tariffs, investment screens, the responses "
            "they provoke, and what officials and targeted companies say about them.",
            language="en")),
        ox.Triple(d, ox.NamedNode(DCT + "modified"),
                  ox.Literal(modified, datatype=ox.NamedNode(XSD + "dateTime"))),
        ox.Triple(d, v("triples"), integer(stats.triples)),
        ox.Triple(d, v("entities"), integer(stats.entities)),
        ox.Triple(d, v("classes"), integer(stats.classes)),
        ox.Triple(d, v("properties"), integer(stats.properties)),
        ox.Triple(d, v("distinctSubjects"), integer(stats.distinct_subjects)),
        ox.Triple(d, v("distinctObjects"), integer(stats.distinct_objects)),
        ox.Triple(d, v("sparqlEndpoint"), ox.NamedNode(endpoint)),
        ox.Triple(d, v("uriSpace"), ox.Literal(ID_BASE)),
        ox.Triple(d, v("vocabulary"), ox.NamedNode(vocabulary)),
        ox.Triple(d, ox.NamedNode(DCT + "license"), ox.NamedNode(DATA_LICENSE)),
    ]
    if publisher is not None and (publisher.name or publisher.url):
        agent: ox.NamedNode | ox.BlankNode = (ox.NamedNode(publisher.url) if publisher.url
                                              else ox.BlankNode("publisher"))
        triples += [ox.Triple(d, ox.NamedNode(DCT + "publisher"), agent),
                    ox.Triple(agent, RDF_TYPE, ox.NamedNode(FOAF + "Agent"))]
        if publisher.name:
            triples.append(ox.Triple(agent, ox.NamedNode(FOAF + "name"),
                                     ox.Literal(publisher.name)))
    for fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS,
                ox.RdfFormat.TRIG, ox.RdfFormat.JSON_LD):
        triples.append(ox.Triple(d, v("feature"), ox.NamedNode(FORMATS_NS + W3C_FORMATS[fmt])))
    triples.append(ox.Triple(d, v("dataDump"), ox.NamedNode(data_dump)))
    triples += _distributions(d, dumps)
    triples += [ox.Triple(d, v("exampleResource"), ox.NamedNode(u)) for u in examples]
    for graph, n in sorted(stats.graphs.items()):
        subset = ox.NamedNode(graph)
        triples += [ox.Triple(d, v("subset"), subset),
                    ox.Triple(subset, RDF_TYPE, v("Dataset")),
                    ox.Triple(subset, v("triples"), integer(n))]
        if subset_dump is not None:
            triples.append(ox.Triple(subset, v("dataDump"), ox.NamedNode(subset_dump(graph))))
    for i, (cls, n) in enumerate(sorted(stats.class_partitions.items())):
        part = ox.BlankNode(f"class{i}")
        triples += [ox.Triple(d, v("classPartition"), part),
                    ox.Triple(part, v("class"), ox.NamedNode(cls)),
                    ox.Triple(part, v("entities"), integer(n))]
    # the dataset's own triples first, so that Turtle writes them as one block
    triples.sort(key=lambda t: t.subject != d)
    return triples


def _distributions(dataset: ox.NamedNode, dumps: dict[str, ox.RdfFormat]) -> list[ox.Triple]:
    """Each dump as a DCAT distribution of the dataset (DCAT 3: download and access
    address, media type, compression, format, licence)."""
    triples = [ox.Triple(dataset, RDF_TYPE, ox.NamedNode(DCAT + "Dataset"))]
    for i, (url, fmt) in enumerate(sorted(dumps.items())):
        dist = ox.BlankNode(f"distribution{i}")
        name = W3C_FORMATS[fmt]
        triples += [
            ox.Triple(dataset, ox.NamedNode(DCAT + "distribution"), dist),
            ox.Triple(dist, RDF_TYPE, ox.NamedNode(DCAT + "Distribution")),
            ox.Triple(dist, ox.NamedNode(DCT + "title"),
                      ox.Literal(f"the whole dataset as {name}, in a gzip file",
                                 language="en")),
            ox.Triple(dist, ox.NamedNode(DCAT + "downloadURL"), ox.NamedNode(url)),
            ox.Triple(dist, ox.NamedNode(DCAT + "accessURL"), ox.NamedNode(url)),
            ox.Triple(dist, ox.NamedNode(DCAT + "mediaType"),
                      ox.NamedNode(IANA_MEDIA_TYPES + fmt.media_type)),
            ox.Triple(dist, ox.NamedNode(DCAT + "compressFormat"),
                      ox.NamedNode(IANA_MEDIA_TYPES + "application/gzip")),
            ox.Triple(dist, ox.NamedNode(DCT + "format"),
                      ox.NamedNode(FORMATS_NS + name)),
            ox.Triple(dist, ox.NamedNode(DCT + "license"), ox.NamedNode(DATA_LICENSE)),
        ]
    return triples
