"""Statistics of the graph and its VoID description (W3C, "Describing Linked Datasets
with the VoID Vocabulary"). Counts are over the union of all graphs, each triple once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyoxigraph as ox

from rivalry.graph import DATA_LICENSE, ID_BASE, term_value
from rivalry.graph.store import GraphReader

VOID = "http://rdfs.org/ns/void#"
DCT = "http://purl.org/dc/terms/"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
XSD = "http://www.w3.org/2001/XMLSchema#"


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
    rows = list(store.query(query).rows())
    return int(term_value(rows[0][0])) if rows and rows[0][0] is not None else 0


def statistics(store: GraphReader, *, triples: int | None = None) -> Statistics:
    """What VoID says of the graph: `triples` counts distinct triples of the union (given
    by a caller that has just written the union, as a build has: the query holds every
    distinct triple in memory at once); `entities`, distinct subjects in the entity space
    (void:uriSpace); `classes`, distinct objects of rdf:type; `properties`, distinct
    predicates."""
    if triples is None:
        triples = _count(store, "SELECT (COUNT(*) AS ?n) WHERE "
                                "{ SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }")
    stats = Statistics(
        triples=triples,
        entities=_count(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o "
                               f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID_BASE}")) }}'),
        classes=_count(store, "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?s a ?c }"),
        properties=_count(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?s ?p ?o }"),
        distinct_subjects=_count(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }"),
        distinct_objects=_count(store, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }"),
    )
    stats.graphs = dict(sorted(store.graph_sizes().items()))
    for c, n in store.query("SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c "
                            f'FILTER(STRSTARTS(STR(?s), "{ID_BASE}")) }} GROUP BY ?c '
                            "ORDER BY ?c").rows():
        stats.class_partitions[term_value(c)] = int(term_value(n))
    return stats


def void_description(stats: Statistics, *, dataset: str, endpoint: str,
                     dumps: list[str], vocabulary: str, modified: str,
                     examples: list[str],
                     subset_dump: Callable[[str], str] | None = None) -> list[ox.Triple]:
    """The VoID description of the dataset, as triples; `subset_dump` gives where a named
    graph (a subset) can be had whole, its `void:dataDump`."""
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
    for name in ("Turtle", "N-Triples", "N-Quads", "TriG", "JSON-LD"):
        triples.append(ox.Triple(d, v("feature"),
                                 ox.NamedNode("http://www.w3.org/ns/formats/" + name)))
    triples += [ox.Triple(d, v("dataDump"), ox.NamedNode(u)) for u in dumps]
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
    return triples
