"""Building the graph: read the ontology and facts, check them, materialise inferences,
and publish the result as a new build of the store, atomically."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from rivalry.graph import DATA_LICENSE, DERIVED_GRAPH, INFERRED_GRAPH, META_GRAPH, facts_dir
from rivalry.graph.derive import derive
from rivalry.graph.errors import InvalidFacts
from rivalry.graph.load import FactsFile, load_facts, load_ontology, undeclared_terms
from rivalry.graph.reason import ConsistencyReport, check_consistency, materialise
from rivalry.graph.search import build_search_index
from rivalry.graph.store import BuildInfo, BuildTarget, build_target
from rivalry.graph.validate import refuse_unless_conforms, validate_build

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
PROV_DERIVED = ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")
DCT_SOURCE = ox.NamedNode("http://purl.org/dc/terms/source")
DCT_LICENSE = ox.NamedNode("http://purl.org/dc/terms/license")
VOID_TRIPLES = ox.NamedNode("http://rdfs.org/ns/void#triples")
ASSERTION_GRAPH = ox.NamedNode("https://w3id.org/rivalry/ontology#AssertionGraph")
SOURCE_DOCUMENT = ox.NamedNode("https://w3id.org/rivalry/ontology#SourceDocument")
XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")


@dataclass
class BuildResult:
    info: BuildInfo
    path: Path
    files: list[FactsFile]
    consistency: ConsistencyReport | None


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def declared_terms(ontology: list[ox.Quad]) -> set[str]:
    return {q.subject.value for q in ontology if isinstance(q.subject, ox.NamedNode)}


def check_terms(files: list[FactsFile], declared: set[str]) -> None:
    """Refuse facts that use a term of the rivalry namespace the ontology lacks."""
    problems = []
    for f in files:
        for term, count in sorted(undeclared_terms(f.quads, declared).items()):
            problems.append(f"{f.path}: uses <{term}> ({count}x), which the ontology does not "
                            "declare; check the spelling against ontology/rivalry.ttl")
    if problems:
        raise InvalidFacts(f"{len(problems)} unknown ontology term(s) in the facts", problems)


def metadata(files: list[FactsFile]) -> list[ox.Quad]:
    """Describe each facts graph in the metadata graph: its file, its sources, its size,
    its licence (so that every dump carries the licence with the data)."""
    meta = ox.NamedNode(META_GRAPH)
    quads = []
    for f in files:
        quads += [
            ox.Quad(f.graph, RDF_TYPE, ASSERTION_GRAPH, meta),
            ox.Quad(f.graph, RDFS_LABEL, ox.Literal(f"facts: {f.name}", language="en"), meta),
            ox.Quad(f.graph, DCT_SOURCE, ox.Literal(f"graph/facts/{f.name}.ttl"), meta),
            ox.Quad(f.graph, VOID_TRIPLES, ox.Literal(str(len(f.quads)), datatype=XSD_INTEGER),
                    meta),
            ox.Quad(f.graph, DCT_LICENSE, ox.NamedNode(DATA_LICENSE), meta),
        ]
        sources = {q.subject for q in f.quads
                   if q.predicate == RDF_TYPE and q.object == SOURCE_DOCUMENT}
        quads += [ox.Quad(f.graph, PROV_DERIVED, s, meta) for s in sorted(sources, key=str)]
    return quads


def content_hash(quads: list[ox.Quad]) -> str:
    digest = hashlib.sha256()
    for line in sorted(str(q) for q in quads):
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def assemble(
    facts: Path | None = None,
    *,
    ontology: Path | None = None,
    consistency: bool = True,
    validation: bool = True,
    progress: Progress = _quiet,
    on_file: Callable[[int, int, int], None] | None = None,
) -> tuple[ox.Store, list[FactsFile], ConsistencyReport | None, int, str]:
    """Read, validate (SHACL), check (HermiT) and reason, in memory.

    Raises InvalidInput for unreadable files, InvalidFacts for facts that do not hold.
    """
    ontology_quads = load_ontology(ontology)
    directory = facts or Path(str(facts_dir()))
    files = load_facts(directory, on_file)
    progress(f"read {len(files)} facts file(s), "
             f"{sum(len(f.quads) for f in files)} triples, from {directory}")
    check_terms(files, declared_terms(ontology_quads))
    if validation:
        report = validate_build([(str(f.path), f.quads) for f in files])
        refuse_unless_conforms(report)
        counts = report.counts()
        progress(f"SHACL: the facts conform ({counts['Warning']} warning(s), "
                 f"{counts['Info']} info(s))")
    asserted = ontology_quads + [q for f in files for q in f.quads]
    consistency_report = None
    if consistency:
        consistency_report = check_consistency(asserted)
        if not consistency_report.ok:
            raise InvalidFacts(f"HermiT: {consistency_report.message}",
                               consistency_report.culprits or consistency_report.unsatisfiable)
        progress(f"HermiT: {consistency_report.message}")
    store = ox.Store()
    store.extend(asserted)
    store.extend(metadata(files))
    inferred = materialise(store)
    progress(f"materialised {inferred} inferred triples into <{INFERRED_GRAPH}>")
    return store, files, consistency_report, inferred, content_hash(asserted)


def build(
    store_root: str | Path | BuildTarget,
    facts: Path | None = None,
    *,
    ontology: Path | None = None,
    consistency: bool = True,
    validation: bool = True,
    progress: Progress = _quiet,
    on_file: Callable[[int, int, int], None] | None = None,
) -> BuildResult:
    """Build the graph from the ontology and facts and publish it in `store_root` (a
    store directory, or a BuildTarget such as an external SPARQL server's RemoteStore).

    Either the whole build is published or nothing changes: the store served before a
    failed build is left exactly as it was. (An external server is loaded graph by graph
    once everything has been checked, and switched to the new build at the end; see
    rivalry.graph.remote.)
    """
    memory, files, report, inferred, digest = assemble(
        facts, ontology=ontology, consistency=consistency, validation=validation,
        progress=progress, on_file=on_file)
    derived = derive(memory)
    progress(f"derived {derived} triples into <{DERIVED_GRAPH}>")
    now = datetime.now(UTC)
    build_id = f"{now:%Y%m%dT%H%M%S}Z-{digest[:12]}"
    info = BuildInfo(build_id=build_id, built_at=now.isoformat(timespec="seconds"),
                     quads=len(memory), graphs=sum(1 for _ in memory.named_graphs()),
                     content_hash=digest, inferred=inferred)
    final = build_target(store_root).publish_build(
        memory, info, lambda directory: build_search_index(memory, directory, progress),
        progress)
    return BuildResult(info=info, path=final, files=files, consistency=report)
