"""The named graphs of a build, described: what each holds, where it comes from, its
sources and counts. Facts graphs are described in the metadata graph when they are built
(graph/build.py); the ontology, metadata and inferred graphs are described here.

A named graph's IRI (https://w3id.org/rivalry/graph/...) names the graph; its
description says so with VoID (a void:Dataset, subset of the whole dataset) and PROV
(the source documents it is derived from).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pyoxigraph as ox

from rivalry.graph import (
    DATA_LICENSE,
    DERIVED_GRAPH,
    FACTS_GRAPH_BASE,
    INFERRED_GRAPH,
    META_GRAPH,
    ONTOLOGY_GRAPH,
    Term,
    term_value,
)
from rivalry.graph.describe import Labels
from rivalry.graph.store import GraphReader, Store
from rivalry.ontology import NAMESPACE

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
DCT = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
VOID = "http://rdfs.org/ns/void#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)

#: What the graphs that are not a facts file hold.
SPECIAL = {
    ONTOLOGY_GRAPH: ("the ontology", "The OWL ontology (ontology/rivalry.ttl): classes, "
                     "properties and concept schemes the facts are written with."),
    INFERRED_GRAPH: ("inferred triples", "What the ontology entails from the facts and "
                     "that queries rely on, materialised when the graph is built: class and "
                     "property hierarchies, inverses and property chains."),
    DERIVED_GRAPH: ("derived values", "What the build computes for queries that SPARQL "
                    "engines would otherwise answer differently: each entity's most specific "
                    "types (rv:mostSpecificType), the chains of responses "
                    "(rv:respondsToTransitively) and the day numbers of dates "
                    "(rv:announcedOnDay, rv:effectiveOnDay, rv:complianceDateDay)."),
    META_GRAPH: ("metadata", "The description of each facts graph: its file, its sources "
                 "and its size."),
}

#: The most sources and subjects a graph's description lists; the rest are counted.
LISTED_MAX = 200


@dataclass
class SourceRef:
    iri: str
    title: str


@dataclass
class GraphInfo:
    iri: str
    label: str
    comment: str
    kind: str  # "facts", "ontology", "inferred", "metadata"
    triples: int
    file: str | None = None
    sources: list[SourceRef] = field(default_factory=list)
    source_count: int = 0
    subjects: list[tuple[str, str]] = field(default_factory=list)
    #: distinct subjects, blank nodes included (void:distinctSubjects); None: not counted
    subject_count: int | None = None
    #: distinct subjects that are IRIs: those `subjects` lists
    iri_subject_count: int = 0


def exists(store: GraphReader, iri: str) -> bool:
    return next(store.quads_for_pattern(None, None, None, ox.NamedNode(iri)), None) is not None


def _count(store: GraphReader, query: str) -> int:
    row = next(store.query(query).rows(), None)
    return int(term_value(row[0])) if row and row[0] is not None else 0


@dataclass(frozen=True)
class SubjectFigures:
    """A graph's size and subjects, as its description gives them."""

    triples: int
    #: distinct subjects, blank nodes included (void:distinctSubjects)
    subjects: int
    #: distinct subjects that are IRIs
    iri_subjects: int
    #: the first of those in code point order (SPARQL's ORDER BY of IRIs), at most
    #: LISTED_MAX
    listed: list[str]

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SubjectFigures:
        return cls(int(record["triples"]), int(record["subjects"]),
                   int(record["iri_subjects"]), [str(s) for s in record["listed"]])


#: The graphs whose figures a build keeps (rivalry.graph.products): the large ones a
#: description would otherwise scan on each request. (The inferred graph's size is the
#: build's own figure; its subjects are not counted. A facts graph is one file's.)
KEPT = (ONTOLOGY_GRAPH, META_GRAPH, DERIVED_GRAPH)


def subject_figures(store: GraphReader, iri: str, *, triples: int | None = None,
                    listed: int = LISTED_MAX) -> SubjectFigures:
    """Count a graph's subjects and find the first `listed` with an IRI: one query of its
    distinct subjects (an ORDER BY with a LIMIT made the engine sort them all, fetching
    each IRI's text many times; at 100,000 synthetic measures the derived graph's
    description ran past the page time limit)."""
    if triples is None:
        triples = _count(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}")
    subjects = 0
    iris: list[str] = []
    for (s,) in store.query(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}").rows():
        subjects += 1
        if isinstance(s, ox.NamedNode):
            iris.append(s.value)
    return SubjectFigures(triples, subjects, len(iris), heapq.nsmallest(listed, iris))


def kept_figures(store: GraphReader) -> dict[str, dict[str, Any]]:
    """The figures of the graphs in KEPT that the build has, as records (for a build's
    file of figures)."""
    return {iri: subject_figures(store, iri).to_record() for iri in KEPT if exists(store, iri)}


def graph_info(store: Store, iri: str, labels: Labels, listed: int = LISTED_MAX,
               kept: SubjectFigures | None = None) -> GraphInfo | None:
    """What a named graph holds, or None when the build has no such graph. `kept`: its
    figures as the build kept them (rivalry.graph.products.build_graph_figures), which
    spare counting them now."""
    if not exists(store, iri):
        return None
    g = ox.NamedNode(iri)
    meta = ox.NamedNode(META_GRAPH)

    def meta_value(prop: str) -> str | None:
        q = next(store.quads_for_pattern(g, ox.NamedNode(prop), None, meta), None)
        return term_value(q.object) if q is not None else None

    if iri in SPECIAL:
        label, comment = SPECIAL[iri]
        kind = {ONTOLOGY_GRAPH: "ontology", INFERRED_GRAPH: "inferred",
                META_GRAPH: "metadata", DERIVED_GRAPH: "derived"}[iri]
        inferred = getattr(store.info, "inferred", None) if iri == INFERRED_GRAPH else None
        triples = (kept.triples if kept is not None
                   else inferred if isinstance(inferred, int) else _count(
                       store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"))
        info = GraphInfo(iri, label, comment, kind, triples)
    else:
        counted = meta_value(VOID + "triples")
        triples = int(counted) if counted is not None else _count(
            store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}")
        name = iri.removeprefix(FACTS_GRAPH_BASE)
        info = GraphInfo(iri, meta_value(RDFS + "label") or f"facts: {name}",
                         "The facts of one curated file, with the sources they rest on.",
                         "facts", triples, file=meta_value(DCT + "source"))
        docs = sorted(term_value(q.object) for q in store.quads_for_pattern(
            g, ox.NamedNode(PROV + "wasDerivedFrom"), None, meta))
        info.source_count = len(docs)
        labels.prefetch(docs[:listed])
        info.sources = sorted((SourceRef(d, labels(d, d.rsplit("/", 1)[-1]))
                               for d in docs[:listed]), key=lambda s: s.title.lower())
    if iri != INFERRED_GRAPH:
        figures = kept if kept is not None else subject_figures(store, iri, triples=triples,
                                                                listed=listed)
        info.subject_count, info.iri_subject_count = figures.subjects, figures.iri_subjects
        subjects = figures.listed[:listed]
        labels.prefetch(subjects)
        info.subjects = sorted(((s, labels(s, s)) for s in subjects), key=lambda x: x[1].lower())
    return info


def describe_graph(info: GraphInfo, *, dataset: str, endpoint: str,
                   data_dump: str | None = None) -> list[ox.Triple]:
    """The graph's description as RDF (VoID, PROV, Dublin Core); `data_dump` is where
    the graph's triples can be had whole (`void:dataDump`)."""
    g = ox.NamedNode(info.iri)

    def t(p: str, o: Term) -> ox.Triple:
        return ox.Triple(g, ox.NamedNode(p), o)

    triples = [
        t(RDF_TYPE, ox.NamedNode(VOID + "Dataset")),
        t(RDFS + "label", ox.Literal(info.label, language="en")),
        t(RDFS + "comment", ox.Literal(info.comment, language="en")),
        t(VOID + "triples", ox.Literal(str(info.triples),
                                       datatype=ox.NamedNode(XSD + "integer"))),
        t(VOID + "inDataset", ox.NamedNode(dataset)),
        t(VOID + "sparqlEndpoint", ox.NamedNode(endpoint)),
        t(DCT + "license", ox.NamedNode(DATA_LICENSE)),
        ox.Triple(ox.NamedNode(dataset), ox.NamedNode(VOID + "subset"), g),
    ]
    if data_dump:
        triples.append(t(VOID + "dataDump", ox.NamedNode(data_dump)))
    if info.kind == "facts":
        triples.append(t(RDF_TYPE, ox.NamedNode(RV + "AssertionGraph")))
    if info.file:
        triples.append(t(DCT + "source", ox.Literal(info.file)))
    if info.subject_count is not None:
        triples.append(t(VOID + "distinctSubjects", ox.Literal(
            str(info.subject_count), datatype=ox.NamedNode(XSD + "integer"))))
    for s in info.sources:
        triples.append(t(PROV + "wasDerivedFrom", ox.NamedNode(s.iri)))
        triples.append(ox.Triple(ox.NamedNode(s.iri), ox.NamedNode(DCT + "title"),
                                 ox.Literal(s.title)))
    return triples


@dataclass
class GraphSummary:
    iri: str
    label: str
    triples: int | None
    sources: int


def graph_index(store: Store, kept: Mapping[str, SubjectFigures] | None = None
                ) -> list[GraphSummary]:
    """Every named graph of the build with its size and number of sources, from the
    metadata graph and, for the graphs it has, the figures the build `kept`
    (rivalry.graph.products.build_graph_figures); the others, small, are counted."""
    kept = kept or {}
    meta = f"<{META_GRAPH}>"
    found: dict[str, GraphSummary] = {}
    query = f"""SELECT ?g ?label ?n (COUNT(DISTINCT ?src) AS ?sources) WHERE {{
      GRAPH {meta} {{ ?g <{VOID}triples> ?n OPTIONAL {{ ?g <{RDFS}label> ?label }}
                     OPTIONAL {{ ?g <{PROV}wasDerivedFrom> ?src }} }}
    }} GROUP BY ?g ?label ?n"""
    for g, label, n, sources in store.query(query).rows():
        name = term_value(g)
        found[name] = GraphSummary(name, term_value(label) if label else name,
                                   int(term_value(n)), int(term_value(sources)))
    info = store.info
    for iri, (special, _) in SPECIAL.items():
        if iri == INFERRED_GRAPH:
            inferred = getattr(info, "inferred", None)
            found[iri] = GraphSummary(iri, special,
                                      inferred if isinstance(inferred, int) else None, 0)
        elif iri in kept:
            found[iri] = GraphSummary(iri, special, kept[iri].triples, 0)
        elif exists(store, iri):  # a build made before the figures were kept: counted
            found[iri] = GraphSummary(iri, special, _count(
                store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"), 0)
    return sorted(found.values(), key=lambda s: (s.iri.startswith(FACTS_GRAPH_BASE), s.iri))
