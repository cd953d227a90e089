"""Building the graph: read the ontology and facts, check them, materialise inferences,
and publish the result as a new build of the store, atomically.

A full build, in phases (docs/architecture.md, "Build"):

1. read: every facts file into its own named graph of a working store (in memory when
   it fits the `build_memory_mb` setting, on disk otherwise);
2. terms: refuse rivalry terms the ontology does not declare;
3. inference: what the ontology entails, into the inferred graph;
4. SHACL: every constraint of the shapes, compiled to SPARQL, over the whole store;
5. consistency: HermiT on the ontology and a summary of the facts, with checks over
   every fact that name the culprits (rivalry.graph.consistency);
6. store, dumps, state: the database, the dumps of the whole graph, and what the next
   build needs to be incremental; then the build is published.

An incremental build starts from the previous build's database (a hard-linked copy),
replaces the graphs of the files that changed, updates the inferences (DRed), validates
the nodes the change can affect, updates the summary and calls HermiT only if the
summary gained something. Its store is the one a full build would give.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import itertools
import json
import os
import queue
import resource
import shutil
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, ParamSpec, TypeVar

import pyoxigraph as ox

from rivalry.graph import (
    DATA_LICENSE,
    DERIVED_GRAPH,
    FACTS_GRAPH_BASE,
    INFERRED_GRAPH,
    META_GRAPH,
    ONTOLOGY_GRAPH,
    Term,
    facts_dir,
    select,
    term_value,
)
from rivalry.graph.consistency import ConsistencyReport, HermitSettings
from rivalry.graph.errors import (
    InvalidFacts,
    InvalidInput,
    RivalryError,
    SourceLocation,
    StoreWriteError,
)
from rivalry.graph.load import (
    canonical,
    check_triple_term_depth,
    facts_files,
    graph_for,
    load_ontology,
    parse_rdf,
)
from rivalry.graph.reason import add_quads
from rivalry.graph.store import BuildInfo, BuildTarget, StoreLocation
from rivalry.graph.validate import Report
from rivalry.ontology import NAMESPACE, RV, ontology_file
from rivalry.shapes import SHAPES_IRI, shapes_files

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
PROV_DERIVED = ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")
DCT_SOURCE = ox.NamedNode("http://purl.org/dc/terms/source")
DCT_LICENSE = ox.NamedNode("http://purl.org/dc/terms/license")
VOID_TRIPLES = ox.NamedNode("http://rdfs.org/ns/void#triples")
ASSERTION_GRAPH = ox.NamedNode(str(RV.AssertionGraph))
SOURCE_DOCUMENT = ox.NamedNode(str(RV.SourceDocument))
XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")

#: The version of what a build keeps for the next one (STORE/builds/<id>/state/).
STATE_FORMAT = 1
#: Modules whose code decides what a build contains: a change to any of them makes the
#: next build a full one.
ENGINE_MODULES = ("build.py", "load.py", "reason.py", "shacl.py", "validate.py",
                  "consistency.py")
#: Bytes of working store per byte of Turtle, with the checks' own memory: to decide
#: whether a build fits in memory (measured on synthetic graphs, docs/benchmarks.md).
MEMORY_PER_TURTLE_BYTE = 20
#: Past this share of the facts' triples changed, an incremental build is no faster.
INCREMENTAL_MAX_SHARE = 0.3

Progress = Callable[[str], None]
Status = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class SourceFile:
    """One facts file of a build: its named graph and its content's digest."""

    path: Path
    name: str
    graph: ox.NamedNode
    sha256: str
    triples: int = 0

    @property
    def label(self) -> str:
        return str(self.path)


@dataclass
class BuildResult:
    info: BuildInfo
    path: Path
    files: list[SourceFile]
    consistency: ConsistencyReport | None
    validation: Report | None = None
    incremental: bool = False
    #: What the incremental build re-checked, in words (empty for a full build).
    rechecked: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: float = 0.0
    #: Seconds from the start until the build was published (the dumps come after).
    published_after: float = 0.0
    #: The stores in memory the build left to its caller instead of freeing them
    #: (BuildOptions.leave_memory): the finished graph, for the caller to drop or to leave
    #: to the end of its process.
    left_in_memory: list[ox.Store] = field(default_factory=list)


@dataclass
class BuildOptions:
    consistency: bool = True
    validation: bool = True
    #: Threads running SHACL queries (0: one per CPU core).
    workers: int = 0
    hermit: HermitSettings = field(default_factory=HermitSettings)
    #: Memory the working store may take, in MB; a larger graph is built on disk.
    memory_mb: int = 8000
    #: Start from the previous build when that is possible (else a full build).
    incremental: bool = True
    #: Write the dumps of the whole graph into the build.
    dumps: bool = True
    #: Hand the stores in memory to the caller (BuildResult.left_in_memory) rather than
    #: free them before publishing. Freeing one walks every quad on one core, the
    #: interpreter's lock held (seconds at 100,000 synthetic measures), which a process
    #: that ends with the build (the `rivalry build` command) leaves to the system.
    leave_memory: bool = False

    @property
    def threads(self) -> int:
        return self.workers or os.cpu_count() or 1


def peak_memory_mb() -> float:
    """Peak resident memory of this process and of the children it waited for (HermiT)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


class Phases:
    """Times each phase of a build and reports it in one line when it ends, with the
    build's peak memory so far. Phases may run side by side (`together`)."""

    def __init__(self, progress: Progress, status: Status | None) -> None:
        self.progress = progress
        self.status = status
        self.seconds: dict[str, float] = {}
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def run(self, name: str, work: Callable[[], Any], done: Callable[[Any], str]) -> Any:
        if self.status:
            self.status(f"{name}...")
        start = time.monotonic()
        value = work()
        elapsed = time.monotonic() - start
        with self.lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            self.progress(f"{name}: {done(value)} ({_duration(elapsed)}, "
                          f"peak memory {peak_memory_mb():,.0f} MB)")
        return value

    def together(self, *jobs: Callable[[], Any]) -> list[Any]:
        """Run jobs in threads side by side (pyoxigraph and HermiT work without holding
        Python's interpreter lock); the first error, in the jobs' order, is raised once
        all have ended."""
        results: list[Any] = [None] * len(jobs)
        errors: list[BaseException | None] = [None] * len(jobs)

        def run(i: int) -> None:
            try:
                results[i] = jobs[i]()
            except BaseException as e:  # noqa: BLE001 - raised below, in order
                errors[i] = e

        threads = [threading.Thread(target=run, args=(i,), name=f"rivalry-build-{i}")
                   for i in range(1, len(jobs))]
        for t in threads:
            t.start()
        run(0)
        for t in threads:
            t.join()
        for e in errors:
            if e is not None:
                raise e
        return results

    @property
    def total(self) -> float:
        return time.monotonic() - self.started


#: A Turtle file shorter than this is written into a database on disk in one transaction,
#: a longer one by the bulk loader: each bulk load writes and ingests files of its own
#: whatever its size, which costs more than a small file's transaction (the curated facts
#: files are all shorter; the synthetic graphs' files far longer). Quads: SMALL_QUADS
#: (rivalry.graph.reason.add_quads).
SMALL_TURTLE_BYTES = 64 * 1024


def load_turtle(store: ox.Store, data: bytes, graph: ox.NamedNode, on_disk: bool) -> None:
    """Load a Turtle file's triples into `graph` of the store (`on_disk`: a database on
    disk): in one transaction in memory, where pyoxigraph's bulk loader costs more CPU;
    on disk by the bulk loader (a transaction holds what it writes in memory), but a
    short file in one transaction."""
    if not on_disk or len(data) < SMALL_TURTLE_BYTES:
        store.load(data, ox.RdfFormat.TURTLE, base_iri=_base(), to_graph=graph)
    else:
        store.bulk_load(data, ox.RdfFormat.TURTLE, base_iri=_base(), to_graph=graph)


def has_blank_nodes(store: ox.Store, graph: ox.NamedNode) -> bool:
    """Whether a graph of the store holds a blank node (as subject or object)."""
    return bool(store.query(f"""ASK {{ GRAPH <{graph.value}> {{ ?s ?p ?o }}
                                FILTER(isBlank(?s) || isBlank(?o)) }}"""))


class DiskWriter:
    """Writes a build's on-disk database in a thread of its own, from the same files and
    triples as the working store, while the working store is checked: the database
    costs little time of its own. Nothing is published until the checks pass."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = ox.Store(str(path))
        self.jobs: queue.Queue[tuple[str, Any, Any] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.cancelled = False
        self.thread = threading.Thread(target=self._run, name="rivalry-database", daemon=True)
        self.thread.start()

    def turtle(self, data: bytes, graph: ox.NamedNode) -> None:
        self.jobs.put(("turtle", data, graph))

    def quads(self, quads: list[ox.Quad]) -> None:
        self.jobs.put(("quads", quads, None))

    def graph_of(self, store: ox.Store, graph: ox.NamedNode, scratch: Path) -> None:
        """Copy one graph of a store, through a file of N-Triples (the store is only
        read, while other threads read it too); quad by quad if it holds a blank node."""
        self.jobs.put(("graph", (store, scratch / "graph.nt"), graph))

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if self.error is not None or self.cancelled:
                continue
            kind, payload, graph = job
            try:
                if kind == "turtle":
                    load_turtle(self.db, payload, graph, on_disk=True)
                elif kind == "quads":
                    add_quads(self.db, payload, on_disk=True)
                elif has_blank_nodes(payload[0], graph):
                    # a store's loader gives blank nodes labels of its own: as quads,
                    # which keep theirs (the facts' canonical labels)
                    self.db.bulk_extend(payload[0].quads_for_pattern(None, None, None, graph))
                else:
                    source, path = payload
                    source.dump(str(path), ox.RdfFormat.N_TRIPLES, from_graph=graph)
                    self.db.bulk_load(path=str(path), format=ox.RdfFormat.N_TRIPLES,
                                      to_graph=graph)
                    path.unlink()
            except BaseException as e:  # noqa: BLE001 - raised by finish()
                self.error = e

    def finish(self) -> None:
        """Wait for every write, then flush and compact the database, and close it."""
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        self.db.flush()
        self.db.optimize()
        self.db = None  # type: ignore[assignment]
        gc.collect()

    def abandon(self) -> None:
        """Stop writing (the build failed): what is queued is dropped."""
        self.cancelled = True
        self.jobs.put(None)
        self.thread.join()
        self.db = None  # type: ignore[assignment]
        gc.collect()


@dataclass
class Database:
    """The on-disk database of a build being made: `finish` completes it once the
    checks have passed; `abandon` stops whatever still writes into it (the build
    failed, and its directory is about to be removed). `apart`: the products (search
    index, dumps, figures) read another store, the working store in memory, so the
    database is finished while they are written."""

    finish: Callable[[BuildInfo], None]
    abandon: Callable[[], None] = lambda: None
    apart: bool = False


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_name(path: Path, directory: Path) -> str:
    return str(PurePosixPath(path.relative_to(directory).with_suffix("").as_posix()))


def scan(directory: Path) -> list[SourceFile]:
    """The facts files of a directory with the digests of their content."""
    out = []
    for path in facts_files(directory):
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InvalidInput(SourceLocation(str(path)),
                               f"cannot be read: {e.strerror}") from None
        name = file_name(path, directory)
        out.append(SourceFile(path=path, name=name, graph=graph_for(name), sha256=_digest(data)))
    if not out:
        # a mistyped folder would otherwise be built, and published, as a graph of no facts
        raise InvalidInput(SourceLocation(str(directory)),
                           "holds no facts files (*.ttl, in it or its subfolders)",
                           "point --facts at the folder of the facts files")
    return out


def may_have_blank_nodes(data: bytes) -> bool:
    """Whether a Turtle file may hold blank nodes (which need canonical labels). A `[`
    or `_:` anywhere, even in a string, sends the file the careful way."""
    return b"_:" in data or b"[" in data


def parse_file(f: SourceFile) -> list[ox.Quad]:
    """A facts file's quads in its graph, blank nodes with canonical labels."""
    data = f.path.read_bytes()
    return canonical(parse_rdf(data, ox.RdfFormat.TURTLE, label=str(f.path), graph=f.graph),
                     scope=f.name)


def read_unchanged(f: SourceFile) -> bytes:
    """The facts file's bytes, refused if they are no longer those the build scanned."""
    data = f.path.read_bytes()
    if _digest(data) != f.sha256:
        raise InvalidInput(SourceLocation(str(f.path)), "the file changed while it was read",
                           "build again once it is saved")
    return data


def load_file(store: ox.Store, f: SourceFile, mirror: DiskWriter | None = None, *,
              on_disk: bool = False) -> None:
    """Load one facts file into its graph of the store (and of the database `mirror`
    writes); `on_disk`: the store is a database on disk. Files without blank nodes go
    straight to the store's loader; the others are parsed here to give their blank nodes
    canonical labels, so the same files always give the same store."""
    data = read_unchanged(f)
    check_triple_term_depth(data, str(f.path))  # the bulk loader would crash on them
    if may_have_blank_nodes(data):
        quads = canonical(parse_rdf(data, ox.RdfFormat.TURTLE, label=str(f.path),
                                    graph=f.graph), scope=f.name)
        add_quads(store, quads, on_disk)
        if mirror is not None:
            mirror.quads(quads)
        return
    try:
        load_turtle(store, data, f.graph, on_disk)
    except SyntaxError:
        parse_rdf(data, ox.RdfFormat.TURTLE, label=str(f.path), graph=f.graph)  # raises
        raise
    if mirror is not None:
        mirror.turtle(data, f.graph)


def _base() -> str:
    from rivalry.graph import ID_BASE

    return ID_BASE


def read(store: ox.Store, files: list[SourceFile],
         on_file: Callable[[int, int, int], None] | None = None, *,
         ontology: Path | None = None, mirror: DiskWriter | None = None,
         on_disk: bool = False, literals: bool = True) -> int:
    """Load the ontology and every facts file into the store (`on_disk`: a database on
    disk); return the facts' triples. Their typed literals are checked after, unless
    `literals` is false (the caller runs `check_typed_literals` itself)."""
    ontology_quads = load_ontology(ontology)
    store.extend(ontology_quads)
    if mirror is not None:
        mirror.quads(ontology_quads)
    total = 0
    for i, f in enumerate(files, start=1):
        load_file(store, f, mirror, on_disk=on_disk)
        f.triples = graph_size(store, f.graph)
        total += f.triples
        if on_file is not None:
            on_file(i, len(files), total)
    if literals:
        check_typed_literals(store, files)
    return total


def check_typed_literals(store: ox.Store, files: list[SourceFile], *,
                         apart_under: int = 0) -> None:
    """Refuse a typed literal whose value cannot exist ("2023-07-32"^^xsd:date), naming
    the value, the file, line and column, as reading a file one by one does
    (rivalry.graph.load.check_literals); the bulk loader keeps such literals as they are,
    so each distinct typed value of each file is checked once here, after loading. One
    query per file's graph: each reads a range of the index and holds that file's
    distinct values only (one query over every graph would hold the distinct values of
    all of them at once, which grows with the graph).

    A file whose graph would take at most `apart_under` bytes in memory (estimated as
    `fits_in_memory` does) is read again into a store of its own in memory and queried
    there: for a store on disk, where the same query reads the file's graph from the
    database several times more slowly (docs/architecture.md, "Reading")."""
    from rivalry.graph.load import CHECKED_DATATYPES, literal_problem

    values = ", ".join(f"<{d}>" for d in CHECKED_DATATYPES)
    for f in files:
        query = (f"SELECT DISTINCT ?o WHERE {{ GRAPH <{f.graph.value}> {{ ?s ?p ?o }} "
                 f"FILTER(isLiteral(?o)) FILTER(datatype(?o) IN ({values})) }}")
        source = store
        if f.path.stat().st_size * MEMORY_PER_TURTLE_BYTE <= apart_under:
            source = ox.Store()
            source.load(read_unchanged(f), ox.RdfFormat.TURTLE, to_graph=f.graph)
        if any(literal_problem(o.value, o.datatype.value) is not None
               for (o,) in select(source, query)):
            parse_rdf(f.path.read_bytes(), ox.RdfFormat.TURTLE, label=str(f.path),
                      graph=f.graph)  # raises, with the line and column


def graph_size(store: ox.Store, graph: ox.NamedNode) -> int:
    rows = select(store,
                  f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} }}")
    return int(term_value(next(iter(rows))[0]))


# ---------------------------------------------------------------------------------------
# Terms and metadata
# ---------------------------------------------------------------------------------------


def undeclared(store: ox.Store, graphs: Iterable[ox.NamedNode] | None = None,
               terms: list[ox.NamedNode] | None = None) -> list[tuple[str, str, int]]:
    """(graph, term, uses) for each rivalry term a facts graph uses that the ontology
    does not declare (as the subject of one of its triples)."""
    restrict = ""
    if graphs is not None:
        restrict = "VALUES ?g { " + " ".join(str(g) for g in graphs) + " }"
    if terms is not None:
        return _uses(store, terms, restrict)
    used = select(store, f"""
        SELECT DISTINCT ?t WHERE {{
            {restrict}
            GRAPH ?g {{ {{ ?s ?t ?o }} UNION {{ ?s ?p ?t FILTER(isIRI(?t)) }}
                       UNION {{ ?t ?p ?o FILTER(isIRI(?t)) }} }}
            FILTER(STRSTARTS(STR(?g), "{FACTS_GRAPH_BASE}"))
            FILTER(STRSTARTS(STR(?t), "{NAMESPACE}"))
            FILTER NOT EXISTS {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?t ?x ?y }} }}
        }}""")
    return _uses(store, [row[0] for row in used], restrict)


def _uses(store: ox.Store, terms: list[ox.NamedNode], restrict: str
          ) -> list[tuple[str, str, int]]:
    out = []
    for term in terms:
        rows = select(store, f"""
            SELECT ?g (COUNT(*) AS ?n) WHERE {{
                {restrict}
                GRAPH ?g {{ {{ {term} ?p ?o }} UNION {{ ?s {term} ?o }} UNION {{ ?s ?p {term} }} }}
                FILTER(STRSTARTS(STR(?g), "{FACTS_GRAPH_BASE}"))
            }} GROUP BY ?g""")
        for g, n in rows:
            out.append((g.value, term.value, int(n.value)))
    return sorted(out)


def terms_used(features: Any) -> set[str]:
    """The IRIs the consistency check met in the facts: properties, classes, nodes."""
    used = {p for p in features._kinds} | {k for k in features._strings if isinstance(k, str)}
    used |= {n.value for nodes in (features.features, features.annotated) for n in nodes
             if isinstance(n, ox.NamedNode)}
    for t in features.schema:
        used |= {x.value for x in (t.subject, t.predicate, t.object)
                 if isinstance(x, ox.NamedNode)}
    return used


def check_used_terms(store: ox.Store, labels: dict[str, str], used: set[str]) -> int:
    """Refuse facts that use a term of the rivalry namespace the ontology lacks, among
    the `used` IRIs (gathered by the consistency check's pass over every fact)."""
    ontology = ox.NamedNode(ONTOLOGY_GRAPH)
    missing = sorted(t for t in used if t.startswith(NAMESPACE)
                     and next(store.quads_for_pattern(ox.NamedNode(t), None, None, ontology),
                              None) is None)
    return check_terms_in(store, labels, terms=[ox.NamedNode(t) for t in missing])


#: The shape that asks, as `rivalry validate` does, what the terms check asks of a build.
DECLARED_TERMS_SHAPE = SHAPES_IRI + "#DeclaredTermsShape"


def declared_terms_decided(store: ox.Store) -> bool:
    """Whether the build's terms check decides everything DeclaredTermsShape can report,
    so that a full build need not run the shape (its query reads every triple of the
    union, about a fifth of SHACL's work at 100,000 measures).

    The shape reports, on a typed subject of the facts, a rivalry term it uses (as
    property or value, in any graph) that no graph gives a type. The terms check refuses
    any rivalry term a facts graph uses that the ontology does not declare. Every term
    a build's other graphs use comes from the facts or the ontology (the inferences) or
    from the build itself (the metadata). So when every rivalry term of the ontology and
    metadata graphs is typed in the ontology, which this asks, the shape can only report
    what the terms check refuses."""
    typed: set[str] = set()
    used: set[str] = set()
    # the ontology's graph is small: read here; the metadata's grows with the facts (read
    # in Python, it kept the interpreter lock from the consistency check's thread, which
    # runs beside): one query, which runs without that lock, gives its few rivalry terms
    for q in store.quads_for_pattern(None, None, None, ox.NamedNode(ONTOLOGY_GRAPH)):
        for term in (q.subject, q.predicate, q.object):
            if isinstance(term, ox.NamedNode) and term.value.startswith(NAMESPACE):
                used.add(term.value)
        if q.predicate == RDF_TYPE:
            typed.add(term_value(q.subject))
    used.update(term_value(row[0]) for row in select(store, f"""
        SELECT DISTINCT ?t WHERE {{
          GRAPH <{META_GRAPH}> {{ {{ ?t ?p ?o }} UNION {{ ?s ?t ?o }} UNION {{ ?s ?p ?t }} }}
          FILTER(isIRI(?t) && STRSTARTS(STR(?t), "{NAMESPACE}")) }}"""))
    return used <= typed


def check_terms_in(store: ox.Store, labels: dict[str, str],
                   graphs: Iterable[ox.NamedNode] | None = None,
                   terms: list[ox.NamedNode] | None = None) -> int:
    """Refuse facts that use a term of the rivalry namespace the ontology lacks (among
    `terms`, when the undeclared terms are already known)."""
    problems = [f"{labels.get(g, g)}: uses <{term}> ({n}x), which the ontology does not "
                "declare; check the spelling against ontology/rivalry.ttl"
                for g, term, n in undeclared(store, graphs, terms)]
    if problems:
        raise InvalidFacts(f"{len(problems)} unknown ontology term(s) in the facts", problems)
    return 0


#: Graphs the build writes itself, never stated by a facts file.
BUILT_GRAPHS = (INFERRED_GRAPH, META_GRAPH, DERIVED_GRAPH)
#: Those that can share a triple with another graph after a full build. Not the inferred
#: graph: it holds only what no graph held when it was drawn (rivalry.graph.reason.
#: materialise adds a rule's conclusions only where they are absent), and only the
#: derived graph came after it. The metadata graph can (the restated check leaves it out:
#: a file may state what the metadata says of its graph), and so can the derived graph.
#: (An incremental build's inferred graph is kept up to date instead, so there it is
#: among those that can.)
FULL_BUILD_MAY_SHARE = (META_GRAPH, DERIVED_GRAPH)
#: How many restated triples an error lists.
RESTATED_SHOWN = 20


def check_stated_once(store: ox.Store, labels: dict[str, str],
                      graphs: Iterable[ox.NamedNode] | None = None) -> int:
    """Refuse a triple stated in two facts files (or in a facts file and the ontology),
    naming both and the triple: SPARQL's default graph here is the union of the graphs
    (sd:UnionDefaultGraph), a set in which each triple is once, but the engine matches
    a triple once per graph that holds it, so that a restated fact would count twice
    in every query. With `graphs`, the triples of those graphs only (an incremental
    build); otherwise all. One query, which reads the indexes and holds no set of
    triples (a distinct count would hold them all, which a graph on disk cannot)."""
    skip = ", ".join(f"<{g}>" for g in BUILT_GRAPHS)
    if graphs is None:
        queries = [("?g", f"SELECT ?g ?h ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                          f"GRAPH ?h {{ ?s ?p ?o }} FILTER(STR(?g) < STR(?h)) "
                          f"FILTER(?g NOT IN ({skip}) && ?h NOT IN ({skip})) }}")]
    else:
        queries = [(g.value, f"SELECT ?h ?s ?p ?o WHERE {{ GRAPH <{g.value}> {{ ?s ?p ?o }} "
                             f"GRAPH ?h {{ ?s ?p ?o }} "
                             f"FILTER(?h != <{g.value}> && ?h NOT IN ({skip})) }}")
                   for g in graphs]
    problems: list[str] = []
    for graph, query in queries:
        for values in _solutions(store, f"{query} LIMIT {RESTATED_SHOWN - len(problems)}"):
            first = values.pop(0).value if graph == "?g" else graph
            other, subject, predicate, obj = values
            problems.append(f"{labels.get(first, first)} and "
                            f"{labels.get(other.value, other.value)} both state "
                            f"{subject} {predicate} {obj}")
        if len(problems) >= RESTATED_SHOWN:
            break
    if problems:
        raise InvalidFacts(f"{len(problems)}{'+' if len(problems) >= RESTATED_SHOWN else ''} "
                           "triple(s) stated in more than one facts file: state each fact "
                           "in one file (a source, in the file that first cites it; the "
                           "others cite its IRI)", problems)
    return 0


def _solutions(store: ox.Store, query: str) -> list[list[Any]]:
    """A SELECT's rows as lists of terms. Made and dropped here: pyoxigraph's results may
    not be dropped by another thread than the one that made them, which a check run
    beside another (`Phases.together`) and refusing would otherwise do, through the
    error's traceback."""
    result = store.query(query)
    assert isinstance(result, ox.QuerySolutions)
    return [list(row) for row in result]


def metadata_quads(store: ox.Store, f: SourceFile) -> list[ox.Quad]:
    """The metadata graph's description of one facts graph in a store."""
    sources = {q.subject for q in store.quads_for_pattern(None, RDF_TYPE, SOURCE_DOCUMENT,
                                                          f.graph)}
    return describe_facts_graph(f, sources)


def describe_facts_graph(f: SourceFile, sources: Iterable[Term]) -> list[ox.Quad]:
    """The metadata graph's description of one facts graph: its file, size, sources and
    licence (so that every dump carries the licence with the data). The one place this is
    written, for full and incremental builds alike."""
    meta = ox.NamedNode(META_GRAPH)
    quads = [
        ox.Quad(f.graph, RDF_TYPE, ASSERTION_GRAPH, meta),
        ox.Quad(f.graph, RDFS_LABEL, ox.Literal(f"facts: {f.name}", language="en"), meta),
        ox.Quad(f.graph, DCT_SOURCE, ox.Literal(f"graph/facts/{f.name}.ttl"), meta),
        ox.Quad(f.graph, VOID_TRIPLES, ox.Literal(str(f.triples), datatype=XSD_INTEGER), meta),
        ox.Quad(f.graph, DCT_LICENSE, ox.NamedNode(DATA_LICENSE), meta),
    ]
    quads += [ox.Quad(f.graph, PROV_DERIVED, s, meta) for s in sorted(set(sources), key=str)]
    return quads


def content_hash(files: list[SourceFile], ontology: str, shapes: str) -> str:
    """The digest of what a build is made of: the ontology, the shapes and each facts
    file (name and content)."""
    digest = hashlib.sha256()
    digest.update(f"ontology {ontology}\nshapes {shapes}\n".encode())
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f"{f.name} {f.sha256}\n".encode())
    return digest.hexdigest()


def _file_digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.read_bytes())
    return digest.hexdigest()


def ontology_digest(ontology: Path | None = None) -> str:
    return _file_digest([ontology or Path(str(ontology_file()))])


def shapes_digest() -> str:
    return _file_digest(Path(str(f)) for f in shapes_files())


def engine_digest() -> str:
    here = Path(__file__).parent
    return _file_digest(here / m for m in ENGINE_MODULES)


# ---------------------------------------------------------------------------------------
# The state a build keeps for the next one
# ---------------------------------------------------------------------------------------


@dataclass
class State:
    """What STORE/builds/<id>/state/ holds: the files and digests the build was made of,
    its validation results (warnings and infos: it had no violation) and its summary."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def read(cls, build_dir: Path) -> State | None:
        path = build_dir / "state"
        try:
            manifest = json.loads((path / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if manifest.get("format") != STATE_FORMAT:
            return None
        return cls(path, manifest)

    def results(self) -> list[Any]:
        """The previous build's validation results (Result objects)."""
        from rivalry.graph.validate import Result

        try:
            data = json.loads((self.path / "results.json").read_text("utf-8"))
        except (OSError, ValueError):
            return []
        strings = data["strings"]

        def text(i: int) -> str | None:
            return None if i < 0 else strings[i]

        out = []
        for sev, focus, path, value, message, component, shape, files, constraint \
                in data["rows"]:
            out.append(Result(severity=strings[sev], focus=strings[focus], path=text(path),
                              value=text(value), message=strings[message],
                              component=strings[component], shape=text(shape),
                              files=strings[files].split("\n") if strings[files] else [],
                              constraint=text(constraint)))
        return out


#: The columns of state/results.json, each an index into its table of strings.
RESULT_COLUMNS = ("severity", "focus", "path", "value", "message", "component", "shape",
                  "files", "constraint")


def write_state(directory: Path, manifest: dict[str, Any], results: list[Any],
                summary: Any | None) -> None:
    """Write what the next build needs: the manifest, the validation results (as a table
    of strings, for they repeat: 135,000 results at 100,000 measures), the summary."""
    from rivalry.graph.consistency import save_summary

    state = directory / "state"
    state.mkdir(parents=True, exist_ok=True)
    strings: dict[str, int] = {}

    def index(value: str | None) -> int:
        if value is None:
            return -1
        found = strings.get(value)
        if found is None:
            found = strings[value] = len(strings)
        return found

    rows = [[index(r.severity), index(r.focus), index(r.path), index(r.value),
             index(r.message), index(r.component), index(r.shape), index("\n".join(r.files)),
             index(r.constraint)] for r in results]
    (state / "results.json").write_text(json.dumps(
        {"columns": RESULT_COLUMNS, "strings": list(strings), "rows": rows},
        ensure_ascii=False, separators=(",", ":")), "utf-8")
    if summary is not None:
        save_summary(summary, state / "summary.json")
    (state / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")


# ---------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------


def _labels(files: list[SourceFile]) -> dict[str, str]:
    return {f.graph.value: f.label for f in files}


def fits_in_memory(files: list[SourceFile], options: BuildOptions) -> bool:
    size = sum(f.path.stat().st_size for f in files)
    return size * MEMORY_PER_TURTLE_BYTE <= options.memory_mb * 1_000_000


def validate_phase(store: ox.Store, files: list[SourceFile], options: BuildOptions,
                   phases: Phases, focus: list[Term] | None = None) -> Report:
    from rivalry.graph.validate import refuse_unless_conforms, validate_store

    left: list[str] = []

    def work() -> Report:
        status = phases.status
        ticker = (lambda done, total: status(f"SHACL: {done}/{total} queries")) \
            if status else None
        # a full build leaves out the shape whose results its terms check decides; an
        # incremental one checks the terms of the changed files only, so runs it
        only = None
        if focus is None and declared_terms_decided(store):
            only = lambda c: str(c.shape) != DECLARED_TERMS_SHAPE  # noqa: E731
            left.append("the declared terms left to the terms check")
        return validate_store(store, _labels(files), focus=focus, workers=options.threads,
                              progress=ticker, only=only)

    def done(report: Report) -> str:
        counts = report.counts()
        scope = (f" on the {_count(len(focus), 'node')} the change can affect"
                 if focus is not None else "")
        verdict = "the facts conform" if report.conforms else "the facts do not conform"
        return (f"{verdict}: {_count(counts['Violation'], 'violation')}, "
                f"{_count(counts['Warning'], 'warning')}, {_count(counts['Info'], 'info')}"
                f"{scope} ({'; '.join([f'{report.constraints} constraints', *left])})")

    report = phases.run("SHACL", work, done)
    refuse_unless_conforms(report)
    return report


def refuse_if_inconsistent(report: ConsistencyReport) -> None:
    if not report.ok:
        details = report.culprits or report.unsatisfiable
        limit = 50
        shown = details[:limit] + ([f"... and {len(details) - limit} more"]
                                   if len(details) > limit else [])
        raise InvalidFacts(f"HermiT: {report.message}", shown)


def _consistency_line(report: ConsistencyReport) -> str:
    how = {"summary": f"HermiT on the ontology and a summary of "
                      f"{_count(report.individuals, 'individual')} in "
                      f"{_count(report.kinds, 'kind')}",
           "full": "HermiT on every individual",
           "unchanged": "the change adds no new kind of fact, so HermiT's last answer stands"}
    return f"{report.message} ({how.get(report.method, report.method)})"


@dataclass
class Work:
    store: ox.Store
    files: list[SourceFile]
    directory: Path
    digest: str
    manifest: dict[str, Any]
    inferred: int = 0
    consistency: ConsistencyReport | None = None
    validation: Report | None = None
    summary: Any | None = None
    results: list[Any] = field(default_factory=list)
    rechecked: list[str] = field(default_factory=list)
    #: the finished graph in memory, when the database is on disk and the products (the
    #: search index, the dumps, the figures) read it faster from a copy in memory
    in_memory: ox.Store | None = None
    #: for an incremental build: the previous build's search index and the triples whose
    #: presence changed since (asserted or inferred), from which the index is updated
    index_update: tuple[Path, set[ox.Triple]] | None = None
    #: for an incremental build: the graphs that shared a triple in the previous build
    #: and every triple added to a graph since, from which the graphs that share one now
    #: are found (rivalry.graph.export.shared_graphs_after)
    shared_update: tuple[list[ox.NamedNode], set[ox.Triple]] | None = None
    #: for an incremental build: the previous build's directory and the change to the
    #: graph (rivalry.graph.refigure.Change), from which the figures are updated
    figures_update: tuple[Path, Any] | None = None
    #: for an incremental build: the previous build's dumps, where their segments lie,
    #: and the change (rivalry.graph.segments.Previous), from which the dumps are written
    dumps_update: Any | None = None
    #: for an incremental build: the number of quads, the previous build's and the
    #: change's (counting them in the database reads every quad: seconds at 100k)
    quads: int | None = None


def _manifest(files: list[SourceFile], directory: Path, ontology: Path | None,
              options: BuildOptions, digest: str) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT, "engine": engine_digest(), "ontology": ontology_digest(ontology),
        "shapes": shapes_digest(), "validation": options.validation,
        "consistency": options.consistency, "facts": str(directory.resolve()),
        "content_hash": digest,
        "files": {f.name: {"sha256": f.sha256, "triples": f.triples} for f in files},
    }


def _full(facts: Path | None, ontology: Path | None, options: BuildOptions, phases: Phases,
          on_file: Callable[[int, int, int], None] | None, store: ox.Store | None,
          mirror: DiskWriter | None = None, scratch: Path | None = None) -> Work:
    """Read, reason and check. With `mirror`, the database is written alongside."""
    from rivalry.graph.consistency import check_store
    from rivalry.graph.reason import materialise

    directory = facts or Path(str(facts_dir()))
    files = scan(directory)
    digest = content_hash(files, ontology_digest(ontology), shapes_digest())
    working = store if store is not None else ox.Store()
    on_disk = store is not None
    phases.run(
        "read", lambda: read(working, files, on_file, ontology=ontology, mirror=mirror,
                            on_disk=on_disk, literals=False),
        lambda n: f"{_count(len(files), 'facts file')}, {_count(n, 'triple')} from {directory}"
                  + (" (working on disk: the graph is larger than the build_memory_mb "
                     "setting allows in memory)" if on_disk else ""))
    labels = _labels(files)
    meta = [q for f in files for q in metadata_quads(working, f)]
    working.extend(meta)
    if mirror is not None:
        mirror.quads(meta)

    def terms() -> None:
        phases.run("terms", lambda: check_terms_in(working, labels),
                   lambda _: "every rivalry term the facts use is declared in the ontology")

    def infer() -> int:
        return phases.run("inference", lambda: materialise(working, on_disk=on_disk),
                          lambda n: f"{_count(n, 'triple')} into <{INFERRED_GRAPH}>")

    def once() -> None:
        phases.run("restated", lambda: check_stated_once(working, labels),
                   lambda _: "no triple is stated in two facts files")

    def literals() -> None:
        phases.run("literals", lambda: check_typed_literals(
                       working, files,
                       apart_under=options.memory_mb * 1_000_000 if on_disk else 0),
                   lambda _: "every typed literal of the facts is a valid value of its "
                             "datatype")

    # the checks of what was read beside the inference, whose last rounds run on one
    # core (the inferences drawn from a refused fact are never used); a literal that
    # cannot be read is said first, as reading the file would
    if options.consistency:  # the terms are read off the consistency check's pass
        _, inferred, _ = phases.together(literals, infer, once)
    else:  # the terms are checked while the inferences are drawn: both read the facts
        _, inferred, _, _ = phases.together(literals, infer, terms, once)
    if mirror is not None:
        assert scratch is not None
        mirror.graph_of(working, ox.NamedNode(INFERRED_GRAPH), scratch)
    work = Work(working, files, directory, digest,
                _manifest(files, directory, ontology, options, digest), inferred=inferred)
    work.manifest["inferred"] = inferred

    def shacl() -> None:
        if options.validation:
            work.validation = validate_phase(working, files, options, phases)
            work.results = work.validation.results

    used: set[str] = set()

    def consistency() -> None:
        if options.consistency:
            report, summary, features = phases.run(
                "consistency", lambda: check_store(working, options.hermit,
                                                   progress=phases.progress),
                lambda value: _consistency_line(value[0]))
            work.consistency, work.summary = report, summary
            used.update(terms_used(features))

    # SHACL (mostly in pyoxigraph) and the consistency check (mostly Python, then
    # HermiT) side by side, in memory as on disk; a refusal of either is raised once
    # both have ended. In memory, the derived graph is computed meanwhile, into a store
    # of its own: the checks never see it, and it joins the graph once they pass
    computed: Derived | None = None
    if on_disk:
        phases.together(shacl, consistency)
    else:
        computed = phases.together(shacl, consistency, compute_derived(working))[2]
    if options.consistency:
        phases.run("terms", lambda: check_used_terms(working, labels, used),
                   lambda _: "every rivalry term the facts use is declared in the ontology")
    if work.consistency is not None:
        refuse_if_inconsistent(work.consistency)
    derive_phase(working, phases, mirror, on_disk=on_disk, scratch=scratch, computed=computed)
    return work


@dataclass
class Derived:
    """The derived graph, computed beside the checks into a store of its own."""

    store: ox.Store
    quads: int
    seconds: float


def compute_derived(store: ox.Store) -> Callable[[], Derived]:
    """A job computing the derived graph of `store` into a new store in memory."""
    from rivalry.graph.derive import derived_quads

    def job() -> Derived:
        started = time.monotonic()
        aside = ox.Store()
        quads = derived_quads(store)
        count = 0
        while batch := list(itertools.islice(quads, DERIVE_BATCH)):
            aside.extend(batch)
            count += len(batch)
        return Derived(aside, count, time.monotonic() - started)
    return job


#: Derived quads written to the store at a time (a million measures derive millions).
DERIVE_BATCH = 100_000


def derive_phase(store: ox.Store, phases: Phases, mirror: DiskWriter | None = None, *,
                 on_disk: bool = False, scratch: Path | None = None,
                 computed: Derived | None = None) -> int:
    """What queries need and engines compute differently (rivalry.graph.derive), into
    its graph (and into the database `mirror` written alongside): once the facts have
    passed their checks, which never see it. The quads are written in batches as they
    are computed, so that memory holds one batch, not the graph; on disk by bulk loading
    (a transaction holds what it writes in memory). The database `mirror` is given the
    finished graph at the end (DiskWriter.graph_of, through a file in `scratch`), rather
    than each batch: its thread, which converts each quad of a batch under Python's
    lock, would slow the computation, which is Python. With `computed` (in memory,
    beside the checks), its quads are added. Returns how many."""
    from rivalry.graph.derive import derived_quads

    graph = ox.NamedNode(DERIVED_GRAPH)
    if mirror is not None and scratch is None:
        raise ValueError("a database written alongside needs a scratch directory")

    def run() -> int:
        store.remove_graph(graph)
        written = 0
        if computed is not None:  # as quads: N-Quads read again would rename blank nodes
            store.extend(computed.store.quads_for_pattern(None, None, None, graph))
            written = computed.quads
        else:
            quads = derived_quads(store)
            while batch := list(itertools.islice(quads, DERIVE_BATCH)):
                add_quads(store, batch, on_disk)
                written += len(batch)
        if mirror is not None and scratch is not None:
            mirror.graph_of(store, graph, scratch)
        return written

    beside = (f" (computed in {computed.seconds:.1f} s beside the checks)"
              if computed is not None else "")
    return phases.run("derive", run, lambda n: f"{_count(n, 'triple')} into "
                                               f"<{DERIVED_GRAPH}>{beside}")


def check_facts(facts: Path | None = None, options: BuildOptions | None = None, *,
                summary: bool = True, progress: Progress = _quiet,
                status: Status | None = None) -> ConsistencyReport:
    """The consistency check alone (`rivalry check`): read the facts, infer, and check
    with HermiT (on a summary unless `summary` is False). Never refuses: the report says."""
    from rivalry.graph.consistency import check_store, data_graphs, full_check, ontology_triples
    from rivalry.graph.reason import materialise

    options = options or BuildOptions()
    phases = Phases(progress, status)
    directory = facts or Path(str(facts_dir()))
    files = scan(directory)
    store = ox.Store()
    phases.run("read", lambda: read(store, files),
               lambda n: f"{_count(len(files), 'facts file')}, {_count(n, 'triple')}")
    store.extend(q for f in files for q in metadata_quads(store, f))
    phases.run("inference", lambda: materialise(store), lambda n: _count(n, "triple"))
    if summary:
        return phases.run("consistency",
                          lambda: check_store(store, options.hermit, progress=progress)[0],
                          _consistency_line)
    return phases.run("consistency",
                      lambda: full_check(store, data_graphs(store), ontology_triples(store),
                                         options.hermit, [], 0),
                      _consistency_line)


#: Python's full collections during a build: only after this many collections of the
#: middle generation (Python's default: 10), that is, in practice, only the build's own
#: (`gc.collect`). Each full collection walks every object the process holds, Python's
#: interpreter lock held, while the build's threads wait for that lock (docs/
#: architecture.md, "Threads and Python's lock"). Reference counting frees what a build
#: drops; young cycles are still collected.
FULL_COLLECTIONS_AFTER = 1_000_000

_P = ParamSpec("_P")
_R = TypeVar("_R")
_collecting = threading.Lock()
_builds_running = 0
_thresholds_before = gc.get_threshold()  # set again when the first build starts


def fewer_full_collections(work: Callable[_P, _R]) -> Callable[_P, _R]:
    """`work` with Python's full collections held back while it runs
    (FULL_COLLECTIONS_AFTER); the thresholds before are restored when the last such
    work of the process ends, whether it succeeds or fails."""
    @functools.wraps(work)
    def held_back(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        global _builds_running, _thresholds_before
        with _collecting:
            if _builds_running == 0:
                _thresholds_before = young, middle, _ = gc.get_threshold()
                gc.set_threshold(young, middle, FULL_COLLECTIONS_AFTER)
            _builds_running += 1
        try:
            return work(*args, **kwargs)
        finally:
            with _collecting:
                _builds_running -= 1
                if _builds_running == 0:
                    gc.set_threshold(*_thresholds_before)
    return held_back


@fewer_full_collections
def build(
    store_root: str | Path | BuildTarget,
    facts: Path | None = None,
    *,
    ontology: Path | None = None,
    consistency: bool = True,
    validation: bool = True,
    progress: Progress = _quiet,
    on_file: Callable[[int, int, int], None] | None = None,
    options: BuildOptions | None = None,
    status: Status | None = None,
) -> BuildResult:
    """Build the graph from the ontology and facts and publish it in `store_root` (a
    store directory, or a BuildTarget such as an external SPARQL server's RemoteStore).

    Either the whole build is published or nothing changes: the store served before a
    failed build is left exactly as it was. (An external server is loaded graph by graph
    once everything has been checked; see rivalry.graph.remote.)

    When the store's current build kept its state, and only some facts files changed,
    the build is incremental (see the module's documentation); `options.incremental`
    False forces a full build.
    """
    options = options or BuildOptions()
    options.consistency, options.validation = consistency, validation
    phases = Phases(progress, status)
    now = datetime.now(UTC)
    if not isinstance(store_root, (str, Path)):  # an external SPARQL server
        work = _full(facts, ontology, options, phases, on_file, None)
        build_id = f"{now:%Y%m%dT%H%M%S}Z-{work.digest[:12]}"
        info = BuildInfo(build_id=build_id, built_at=now.isoformat(timespec="seconds"),
                         quads=len(work.store),
                         graphs=sum(1 for _ in work.store.named_graphs()),
                         content_hash=work.digest, inferred=work.inferred)
        # the index and the products first, under the build's id: servers look for them
        # once the target switches to the build (its builds are full: no next build
        # starts from the graphs that share a triple, which _products returns)
        def products(directory: Path) -> None:
            _products(work.store, directory, options, phases,
                      may_share=FULL_BUILD_MAY_SHARE)

        final = store_root.publish_build(work.store, info, products, progress)
        return BuildResult(info=info, path=final, files=work.files,
                           consistency=work.consistency, validation=work.validation,
                           seconds=phases.seconds, peak_mb=peak_memory_mb(),
                           left_in_memory=[work.store] if options.leave_memory else [])
    location = StoreLocation(store_root)
    directory = facts or Path(str(facts_dir()))
    plan = None
    if options.incremental and ontology is None:
        from rivalry.graph.incremental import plan_incremental

        plan = plan_incremental(location, directory, options, progress)
    partial = location.new_build_dir(f"{now:%Y%m%dT%H%M%S}Z")
    database: Database | None = None
    try:
        if plan is not None:
            from rivalry.graph.incremental import run_incremental

            work, database = run_incremental(plan, partial, options, phases, on_file)
        else:
            work, database = _full_into(partial, facts, ontology, options, phases, on_file)
        # the products read the working database itself (no copy of the graph in memory)
        products_on_disk = work.in_memory is None and not database.apart
        build_id = f"{now:%Y%m%dT%H%M%S}Z-{work.digest[:12]}"
        info = BuildInfo(
            build_id=build_id,
            built_at=now.isoformat(timespec="seconds"),
            quads=len(work.store) if work.quads is None else work.quads,
            graphs=sum(1 for _ in work.store.named_graphs()),
            content_hash=work.digest,
            inferred=work.inferred,
        )
        def write_products() -> list[str]:
            return _products(
                work.in_memory or work.store, partial, options, phases, work.index_update,
                work.shared_update, work.figures_update, work.dumps_update,
                may_share=FULL_BUILD_MAY_SHARE if plan is None else BUILT_GRAPHS,
                on_disk=products_on_disk)

        finish = functools.partial(database.finish, info)
        if database.apart:  # its last writes and compaction beside the products
            work.manifest["shared_graphs"] = phases.together(write_products, finish)[0]
        else:
            work.manifest["shared_graphs"] = write_products()
            finish()
        # the stores in memory, the working store when the database was written apart
        left = [s for s in (work.in_memory, work.store if database.apart else None)
                if s is not None] if options.leave_memory else []
        work.in_memory = None
        work.store = None  # type: ignore[assignment]  # closes the database: it is complete
        if not (left and database.apart):  # what may still hold the database on disk
            gc.collect()
        write_state(partial, work.manifest, work.results, work.summary)
        final = location.publish(partial, info)
    except BaseException as e:
        # close the databases the failed work held (the frames it ran in still refer to
        # them) before removing its directory: RocksDB would write into it again
        traceback.clear_frames(e.__traceback__)
        if isinstance(e, RivalryError):
            # a refusal says what it has to in its message; its frames, and those of the
            # exception it was raised from, still refer to the functions the build ran
            # (closures over the working store), which would keep the database, and its
            # lock, open for as long as the caller keeps the exception
            _drop_frames(e)
        if database is not None:
            database.abandon()  # its writer would otherwise go on writing into `partial`
        work = database = None  # type: ignore[assignment]
        gc.collect()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    published = phases.total
    kind = "incremental build" if plan is not None else "build"
    progress(f"published {kind} {build_id} ({info.quads:,} quads in {info.graphs} graphs) "
             f"at {final} in {_duration(published)}")
    peak = peak_memory_mb()
    progress(f"done in {_duration(phases.total)}; peak memory {peak:,.0f} MB")
    return BuildResult(info=info, path=final, files=work.files, consistency=work.consistency,
                       validation=work.validation, incremental=plan is not None,
                       rechecked=work.rechecked, seconds=phases.seconds, peak_mb=peak,
                       published_after=published, left_in_memory=left)


def _drop_frames(error: BaseException) -> None:
    """Drop the tracebacks of `error` and of the exceptions it was raised from or while
    handling."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        e = pending.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        pending += [e.__cause__, e.__context__]


def _full_into(partial: Path, facts: Path | None, ontology: Path | None,
               options: BuildOptions, phases: Phases,
               on_file: Callable[[int, int, int], None] | None
               ) -> tuple[Work, Database]:
    """A full build whose database ends in `partial/db`: written alongside the checks
    when the working store is in memory, or the working store itself otherwise."""
    directory = facts or Path(str(facts_dir()))
    in_memory = fits_in_memory(scan(directory), options)
    db_path = partial / "db"
    if not in_memory:
        work = _full(facts, ontology, options, phases, on_file, ox.Store(str(db_path)))

        def close(info: BuildInfo) -> None:
            phases.run("store", lambda: _close(work.store),
                       lambda _: f"{info.quads:,} quads in {info.graphs} graphs, compacted")
        return work, Database(close)
    mirror = DiskWriter(db_path)
    try:
        work = _full(facts, ontology, options, phases, on_file, None, mirror, partial)
    except BaseException:
        mirror.abandon()
        raise

    def finish(info: BuildInfo) -> None:
        try:
            phases.run("store", mirror.finish,
                       lambda _: f"{info.quads:,} quads in {info.graphs} graphs, written "
                                 "while the facts were checked")
        except BaseException:
            mirror.abandon()
            raise
    return work, Database(finish, mirror.abandon, apart=True)


def _close(store: ox.Store) -> None:
    store.flush()
    store.optimize()


def _products(db: ox.Store, directory: Path, options: BuildOptions, phases: Phases,
              index_update: tuple[Path, set[ox.Triple]] | None = None,
              shared_update: tuple[list[ox.NamedNode], set[ox.Triple]] | None = None,
              figures_update: tuple[Path, Any] | None = None,
              dumps_update: Any | None = None,
              may_share: Sequence[str] = BUILT_GRAPHS, on_disk: bool = False) -> list[str]:
    """What the server reads beside the database, written into the build before it is
    published (so it is published with it): the search index (updated from the previous
    build's when `index_update` gives it and the change allows), and the dumps and
    figures of /stats and VoID (rivalry.graph.products). The graphs that share a triple
    with another, which the union's dumps and size need, are found from the previous
    build's and the added triples when `shared_update` gives them; the figures are
    updated from the previous build's when `figures_update` gives it and the change
    (rivalry.graph.refigure), and the dumps copy the previous build's segments that the
    change leaves alone when `dumps_update` gives them (rivalry.graph.segments.Previous).
    Without `shared_update`, the graphs that share a triple are found among `may_share`
    (FULL_BUILD_MAY_SHARE after a full build). `on_disk`: `db` is the database on disk
    (the dumps read each whole graph from it once). Returns those graphs, for the next
    build to start from."""
    from rivalry.graph.export import UnionParts, shared_graphs_after, union_parts
    from rivalry.graph.products import GZIP_LEVEL, dumps_folder, update_figures, write_figures
    from rivalry.graph.refigure import NotUpdatable
    from rivalry.graph.search import IndexStats, build_search_index, update_search_index
    from rivalry.graph.segments import DumpsWritten, write_dumps

    def write_index() -> tuple[IndexStats, str | None]:
        if index_update is None:
            return build_search_index(db, directory), None
        return update_search_index(db, index_update[0], directory, index_update[1])

    def said(done: tuple[IndexStats, str | None]) -> str:
        stats, whole = done
        if index_update is None:
            return f"written in {directory}"
        if whole is None:
            touched = _count(stats.entities, "entity", "entities")
            return f"the previous build's, updated for the {touched} the change touches, " \
                   f"in {directory}"
        return f"written whole ({whole}), in {directory}"

    def index() -> None:
        try:
            phases.run("search index", write_index, said)
        except sqlite3.Error as e:  # SQLite: "disk I/O error", "database or disk is full"
            raise StoreWriteError(f"cannot write the search index in {directory}: {e}; free "
                                  "some space or check the disk. The store being served is "
                                  "unchanged.") from None

    folder = dumps_folder(directory)
    found: Future[UnionParts] = Future()

    def said_shared(parts: UnionParts) -> str:
        shared = sum(1 for _, query in parts if query is not None) - 1  # default graph
        return (f"{_count(shared, 'graph')} of {len(parts) - 1:,} share a triple with "
                "another (the union's dumps give each such triple once)"
                + ("; found from the previous build's and the triples the change added"
                   if shared_update is not None else ""))

    def find_parts() -> UnionParts:
        if shared_update is not None:
            before, added = shared_update
            return union_parts(db, shared=shared_graphs_after(db, before, added))
        # the facts files and the ontology were checked to share no triple with one
        # another (check_stated_once): only the graphs the build makes can share one,
        # and of those only `may_share`
        return union_parts(db, [ox.NamedNode(g) for g in may_share])

    def shared_triples() -> UnionParts:
        try:
            found.set_result(phases.run("shared triples", find_parts, said_shared))
        except BaseException as e:
            found.set_exception(e)
            raise
        return found.result()

    def count_figures(parts: UnionParts) -> str:
        state = directory / "state"
        how = ""
        if figures_update is not None:
            previous, change = figures_update
            try:
                counted = update_figures(db, folder, previous, change, parts, state)
                return (f", updated from the previous build's for the change (/stats "
                        f"counted {_count(counted, 'node')} again)")
            except NotUpdatable as e:
                how = f", counted whole ({e})"
        write_figures(db, folder, parts=parts, state=state)
        return how

    def figures(parts: UnionParts) -> None:
        phases.run("figures", lambda: count_figures(parts),
                   lambda how: f"of /stats, VoID and the list pages' filters{how}, in "
                               f"{folder}")

    if not options.dumps:
        # no dumps (the server writes each on its first request), but the figures, which
        # pages read on every request: without them /stats and VoID count the whole graph
        # each time (at 100,000 synthetic measures, past the page time limit)
        phases.together(index, lambda: figures(shared_triples()))
        return _shared_names(found.result())

    def said_dumps(done: DumpsWritten) -> str:
        how = (f"{_count(done.written, 'segment')} written, {done.copied:,} copied from the "
               "previous build's" if done.copied else f"{_count(done.written, 'segment')}")
        why = f"; none copied: {done.why_not}" if done.why_not else ""
        return f"TriG, N-Quads, JSON-LD, Turtle and N-Triples ({how}{why}), in {folder}"

    def parts_and_dumps() -> None:
        parts = shared_triples()
        phases.run("dumps", lambda: write_dumps(db, folder, parts, directory / "state",
                                                GZIP_LEVEL, dumps_update, on_disk=on_disk),
                   said_dumps)

    def index_and_figures() -> None:
        index()
        figures(found.result())

    # in two threads, as all of them only read the finished graph: pyoxigraph writes the
    # dumps and runs the queries (the figures', and the one finding the graphs that share
    # a triple, which the union's dumps and its count need), and zlib compresses, mostly
    # without holding Python's interpreter lock. One thread finds the union's parts, then
    # writes the dumps; the other writes the search index, which needs no parts, then the
    # figures, by when the parts are long found. (The parts found first by the second
    # thread kept the dumps waiting for them: docs/architecture.md, "What a build writes
    # beside its database".)
    phases.together(parts_and_dumps, index_and_figures)
    return _shared_names(found.result())


def _shared_names(parts: list[tuple[Any, str | None]]) -> list[str]:
    """The IRIs of the named graphs that share a triple with another, from the union's
    parts (those with a query of their share, the default graph aside)."""
    return sorted(graph.value for graph, query in parts
                  if query is not None and isinstance(graph, ox.NamedNode))


def build_quads(path: Path) -> Iterable[ox.Quad]:
    """Every quad of a published build's database (for comparisons in tests)."""
    db = ox.Store.read_only(str(path / "db"))
    return db.quads_for_pattern(None, None, None, None)
