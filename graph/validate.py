"""Validating facts against the project's SHACL shapes.

One engine for every case: the shapes compiled into SPARQL (rivalry.graph.shacl) and run
by pyoxigraph over a store that holds the facts with their inferences.

- `rivalry build` runs every constraint over the whole working store (`validate_store`),
  and an incremental rebuild only over the nodes its change can affect.
- `rivalry validate` and POST /validate (`validate`) put the submitted facts in a small
  store with the ontology and their context in the built graph, materialise the
  inferences there as a build would, and report on the submitted nodes alone.

The context is what the built graph says about each node the submission mentions, and
about each node those reach in one more step (the state an agency belongs to, the type
of a company a measure targets), inferred triples included. When the submission is a
new version of a facts file already in the build, that file's graph is left out of the
context, so the old version neither doubles nor contradicts the new one.

Only the project's shapes run. Shapes, SPARQL or rules inside submitted data are data:
they are never handed to the validator as shapes. Nothing is fetched (no owl:imports,
no remote contexts): inputs are parsed by rivalry.graph.load.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import SH

from rivalry.graph import FACTS_GRAPH_BASE, INFERRED_GRAPH, ONTOLOGY_GRAPH, Term, select, term_value
from rivalry.graph.errors import InvalidFacts
from rivalry.graph.load import canonical, load_ontology, parse_rdf, read_rdf_file
from rivalry.graph.shacl import Constraint, Violation, compile_shapes, run_constraints
from rivalry.graph.terms import to_rdflib
from rivalry.shapes import shapes_files

#: Kept for readers of reports written before blank nodes were reported as such.
SKOLEM = "https://w3id.org/rivalry/.well-known/genid/"

SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}

SUBMISSION_GRAPH = ox.NamedNode("urn:rivalry:validation:submission")
CONTEXT_GRAPH = ox.NamedNode("urn:rivalry:validation:context")


@dataclass
class Result:
    """One validation result, as a curator reads it."""

    severity: str
    focus: str
    path: str | None
    value: str | None
    message: str
    component: str
    shape: str | None
    files: list[str] = field(default_factory=list)
    #: For the sh:ValidationReport graph: the terms as the shapes and data have them.
    violation: Violation | None = field(default=None, repr=False, compare=False)
    #: The compiled constraint's name (rivalry.graph.shacl.Constraint.id).
    constraint: str | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity, "focusNode": self.focus, "path": self.path,
            "value": self.value, "message": self.message, "constraintComponent": self.component,
            "sourceShape": self.shape, "files": self.files,
        }

    def describe(self) -> str:
        where = ", ".join(self.files) or "(context)"
        lines = [f"{where}: {self.severity}: {self.message}",
                 f"    focus node: {self.focus}"]
        if self.path:
            lines.append(f"    path: {self.path}")
        if self.value is not None:
            lines.append(f"    value: {self.value}")
        lines.append(f"    constraint: {self.component}")
        return "\n".join(lines)


@dataclass
class Report:
    conforms: bool
    results: list[Result]
    focus_nodes: int = 0
    context_triples: int = 0
    strict: bool = False
    constraints: int = 0

    @property
    def violations(self) -> list[Result]:
        return [r for r in self.results if r.severity == "Violation"]

    @property
    def warnings(self) -> list[Result]:
        return [r for r in self.results if r.severity == "Warning"]

    def counts(self) -> dict[str, int]:
        counts = {"Violation": 0, "Warning": 0, "Info": 0}
        for r in self.results:
            counts[r.severity] = counts.get(r.severity, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"conforms": self.conforms, "strict": self.strict, "counts": self.counts(),
                "focusNodes": self.focus_nodes, "results": [r.to_dict() for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @property
    def graph(self) -> Graph:
        return report_graph(self)

    def to_turtle(self) -> str:
        return self.graph.serialize(format="turtle")

    def to_text(self) -> str:
        lines = [r.describe() for r in self.results]
        counts = self.counts()
        verdict = "conforms" if self.conforms else "does not conform"
        lines.append(f"{verdict}: {counts['Violation']} violation(s), {counts['Warning']} "
                     f"warning(s), {counts['Info']} info(s) on {self.focus_nodes} node(s)")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Terms
# ---------------------------------------------------------------------------------------


def node_key(term: Term) -> str:
    """How a node is named in reports: its IRI, or _:label for a blank node."""
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, ox.Literal):
        return str(term)
    return term_value(term)


def graph_of(triples: Iterable[tuple[Term, Term, Term]]) -> Graph:
    g = Graph()
    for s, p, o in triples:
        g.add((to_rdflib(s), to_rdflib(p), to_rdflib(o)))
    return g


# ---------------------------------------------------------------------------------------
# Shapes and ontology, loaded once
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def shapes_graph() -> Graph:
    """The project's shapes: the only shapes that ever run. Blank nodes stay blank, and
    apart across files (labelled canonically per file)."""
    g = Graph()
    for f in shapes_files():
        for q in canonical(read_rdf_file(Path(str(f))), scope=f"shapes/{f.name}"):
            g.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    return g


def constraints() -> tuple[Constraint, ...]:
    """Every constraint of the project's shapes, compiled (refuses unsupported shapes)."""
    return compile_shapes(shapes_graph())


@functools.lru_cache(maxsize=1)
def ontology_quads() -> tuple[ox.Quad, ...]:
    return tuple(load_ontology())


@functools.lru_cache(maxsize=1)
def ontology_graph() -> Graph:
    return graph_of((q.subject, q.predicate, q.object) for q in ontology_quads())


# ---------------------------------------------------------------------------------------
# Running the constraints
# ---------------------------------------------------------------------------------------


def run_all(store: ox.Store, *, focus: Iterable[Term] | None = None,
            only: Callable[[Constraint], bool] | None = None, workers: int = 1,
            progress: Callable[[int, int], None] | None = None) -> list[Violation]:
    """Every violation of every constraint over the store (the union of its graphs); with
    `focus`, only for those focus nodes. `workers` threads run queries side by side
    (pyoxigraph evaluates them without holding the interpreter lock)."""
    chosen = [c for c in constraints() if only is None or only(c)]
    return run_constraints(store, chosen, focus, workers, progress)


def to_result(v: Violation, files: list[str]) -> Result:
    c = v.constraint
    return Result(
        severity=c.severity.rsplit("#", 1)[-1],
        focus=node_key(v.focus),
        path=c.path.text if c.path else _bound_path(v),
        value=node_key(v.value) if v.value is not None else None,
        message=v.message,
        component=c.component.replace(str(SH), "sh:"),
        shape=str(c.shape) if isinstance(c.shape, URIRef) else None,
        files=files,
        violation=v,
        constraint=c.id,
    )


def _bound_path(v: Violation) -> str | None:
    path = v.bindings.get("path")
    return path.value if isinstance(path, ox.NamedNode) else None


def sort_results(results: list[Result]) -> list[Result]:
    return sorted(results, key=lambda r: (SEVERITY_ORDER.get(r.severity, 3), r.files, r.focus,
                                          r.path or "", r.message, r.value or ""))


def report_graph(report: Report) -> Graph:
    """The report as a SHACL validation report (sh:ValidationReport)."""
    g = Graph()
    g.bind("sh", SH)
    node = rdflib.BNode()
    g.add((node, RDF.type, SH.ValidationReport))
    g.add((node, SH.conforms, rdflib.Literal(report.conforms)))
    shapes = shapes_graph()
    for r in report.results:
        v = r.violation
        result = rdflib.BNode()
        g.add((node, SH.result, result))
        g.add((result, RDF.type, SH.ValidationResult))
        g.add((result, SH.resultSeverity, SH[r.severity]))
        g.add((result, SH.sourceConstraintComponent, URIRef(str(SH) + r.component[3:])))
        g.add((result, SH.resultMessage, rdflib.Literal(r.message)))
        if v is None:
            continue
        g.add((result, SH.focusNode, to_rdflib(v.focus)))
        if v.value is not None:
            g.add((result, SH.value, to_rdflib(v.value)))
        c = v.constraint
        g.add((result, SH.sourceShape, c.shape))
        _copy_description(shapes, g, c.shape)
        if c.source_constraint is not None:
            g.add((result, SH.sourceConstraint, c.source_constraint))
        if c.path is not None:
            g.add((result, SH.resultPath, c.path.node))
            _copy_description(shapes, g, c.path.node)
        elif isinstance(v.bindings.get("path"), ox.NamedNode):
            g.add((result, SH.resultPath, URIRef(term_value(v.bindings["path"]))))
    return g


def _copy_description(source: Graph, target: Graph, node: rdflib.term.Node) -> None:
    """Copy a blank node's description (a blank shape or path) into the report."""
    todo = [node]
    seen = set()
    while todo:
        current = todo.pop()
        if not isinstance(current, rdflib.BNode) or current in seen:
            continue
        seen.add(current)
        for p, o in source.predicate_objects(current):
            target.add((current, p, o))
            todo.append(o)


# ---------------------------------------------------------------------------------------
# Submissions: rivalry validate, POST /validate
# ---------------------------------------------------------------------------------------


@dataclass
class Submission:
    """Facts to validate: their triples, and which file each subject came from."""

    triples: list[ox.Triple]
    files_by_subject: dict[str, list[str]]
    #: The facts graphs of the build this submission is a new version of, if any.
    replaces: list[str] = field(default_factory=list)

    @classmethod
    def from_quads(cls, named: Sequence[tuple[str, list[ox.Quad]]]) -> Submission:
        triples: dict[ox.Triple, None] = {}
        files: dict[str, list[str]] = {}
        for label, quads in named:
            for q in quads:
                triples[ox.Triple(q.subject, q.predicate, q.object)] = None
                key = node_key(q.subject)
                if label not in files.setdefault(key, []):
                    files[key].append(label)
        return cls(list(triples), files)

    @classmethod
    def from_files(cls, paths: Sequence[Path], fmt: str | None = None) -> Submission:
        return cls.from_quads([(str(p), read_rdf_file(p, fmt)) for p in paths])

    @classmethod
    def from_bytes(cls, data: bytes, fmt: ox.RdfFormat, label: str = "request",
                   contexts: Mapping[str, Any] | None = None) -> Submission:
        """Facts sent as bytes; `contexts` are JSON-LD contexts known by their IRI (the
        server's own), read from there rather than fetched."""
        return cls.from_quads([(label, parse_rdf(data, fmt, label=label, contexts=contexts))])

    @property
    def subjects(self) -> set[Term]:
        return {t.subject for t in self.triples}


def graph_replaced_by(store: Any, path: Path) -> str | None:
    """The facts graph of the build that a file is a new version of: the graph named by
    the longest tail of the file's path (events/x.ttl is graph facts/events/x), if the
    build has one."""
    try:
        graphs = set(store.named_graphs())
    except Exception:  # noqa: BLE001 - no store, or one that cannot list its graphs
        return None
    parts = PurePosixPath(Path(path).resolve().with_suffix("").as_posix()).parts
    for i in range(1, len(parts)):
        name = FACTS_GRAPH_BASE + "/".join(parts[i:])
        if name in graphs:
            return name
    return None


def context_for(store: Any, submission: Submission, batch: int = 400) -> list[ox.Triple]:
    """What the built graph says about the nodes the submission mentions, and about the
    nodes those reach in one more step, inferred triples included.

    A graph the submission replaces (`submission.replaces`) is left out, and so are the
    inferred triples about its subjects, which are inferred again with the submission.
    """
    if store is None:
        return []
    left_out = set(submission.replaces)
    stale: set[Term] = set()
    for replaced in sorted(left_out):
        stale |= {row[0] for row in store.query(
            f"SELECT DISTINCT ?s WHERE {{ GRAPH <{replaced}> {{ ?s ?p ?o }} }}").rows()}
    mentioned = {t for tr in submission.triples for t in (tr.subject, tr.object)
                 if isinstance(t, ox.NamedNode)}
    seen: set[ox.Triple] = set()
    context: list[ox.Triple] = []

    def keep(s: Term | None, p: Term | None, o: Term | None, g: Term | None) -> None:
        if g is None or term_value(g) in left_out:
            return
        if term_value(g) == INFERRED_GRAPH and s in stale:
            return
        # a row of `?s ?p ?o` read from a GRAPH: no literal subject, an IRI predicate
        if isinstance(s, ox.Literal) or s is None or not isinstance(p, ox.NamedNode) \
                or o is None:
            raise TypeError(f"no triple: {s} {p} {o}")
        triple = ox.Triple(s, p, o)
        if triple not in seen:
            seen.add(triple)
            context.append(triple)

    first = _describe(store, sorted(mentioned, key=str), batch, keep)
    reached = {o for o in first if isinstance(o, ox.NamedNode) and o not in mentioned}
    _describe(store, sorted(reached, key=str), batch, keep)
    # blank nodes the mentioned nodes point to (a qualified response, a date claim)
    for i in range(0, len(mentioned), batch):
        chunk = sorted(mentioned, key=str)[i:i + batch]
        values = " ".join(str(n) for n in chunk)
        rows = store.query(
            f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?x {{ {values} }} GRAPH ?h {{ ?x ?q ?s }} "
            "FILTER(isBlank(?s)) GRAPH ?g { ?s ?p ?o } }").rows()
        for s, p, o, g in rows:
            keep(s, p, o, g)
    return context


def _describe(store: Any, nodes: list[Term], batch: int,
              keep: Callable[[Term | None, Term | None, Term | None, Term | None], None]
              ) -> set[Term]:
    """Pass every quad about `nodes` to `keep`; return their objects."""
    objects: set[Term] = set()
    for i in range(0, len(nodes), batch):
        values = " ".join(str(n) for n in nodes[i:i + batch])
        rows = store.query(f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {values} }} "
                           "GRAPH ?g { ?s ?p ?o } }").rows()
        for s, p, o, g in rows:
            keep(s, p, o, g)
            if g is not None and g.value != ONTOLOGY_GRAPH:
                objects.add(o)
    return objects


class LocalGraph:
    """A working store in memory, read like a built store (for context_for)."""

    def __init__(self, db: ox.Store, description: str) -> None:
        self.db = db
        self.description = description

    def query(self, sparql: str, **kwargs: Any) -> Any:
        from rivalry.graph.store import run_query

        return run_query(self.db, sparql, **kwargs)

    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self.db.named_graphs() if isinstance(g, ox.NamedNode))


@functools.lru_cache(maxsize=1)
def shipped_graph() -> LocalGraph:
    """The curated facts shipped with rivalry, with their inferences: the context of a
    validation when no graph has been built."""
    from rivalry.graph import facts_dir
    from rivalry.graph.build import metadata_quads, read, scan
    from rivalry.graph.reason import materialise

    store = ox.Store()
    files = scan(Path(str(facts_dir())))
    read(store, files)
    store.extend(q for f in files for q in metadata_quads(store, f))
    materialise(store)
    return LocalGraph(store, f"the curated facts shipped with rivalry ({len(files)} files)")


def submission_store(submission: Submission, context: Iterable[ox.Triple]) -> ox.Store:
    """A store with the ontology, the context and the submission, and what they entail."""
    from rivalry.graph.reason import materialise

    store = ox.Store()
    store.extend(ontology_quads())
    store.extend(ox.Quad(t.subject, t.predicate, t.object, CONTEXT_GRAPH) for t in context)
    store.extend(ox.Quad(t.subject, t.predicate, t.object, SUBMISSION_GRAPH)
                 for t in submission.triples)
    materialise(store)
    return store


def validate(
    submission: Submission,
    context: Iterable[ox.Triple] = (),
    *,
    strict: bool = False,
) -> Report:
    """Validate the submission with its context, reporting on its own nodes only (the
    subjects of its triples). `strict` makes warnings fail conformance too."""
    context = list(context)
    store = submission_store(submission, context)
    focus = submission.subjects
    results = []
    for v in run_all(store):
        if v.focus in focus:
            results.append(to_result(v, submission.files_by_subject.get(node_key(v.focus), [])))
    results = sort_results(results)
    failing = {"Violation", "Warning"} if strict else {"Violation"}
    conforms = not any(r.severity in failing for r in results)
    return Report(conforms=conforms, results=results, focus_nodes=len(focus),
                  context_triples=len(context), strict=strict, constraints=len(constraints()))


# ---------------------------------------------------------------------------------------
# Builds: the whole store, or the nodes a change affects
# ---------------------------------------------------------------------------------------


def facts_subjects(store: ox.Store, nodes: Iterable[Term], labels: dict[str, str],
                   batch: int = 2000, workers: int = 1) -> dict[Term, list[str]]:
    """For each node that is a subject in a facts graph, the labels of those graphs.
    `workers` threads read batches of nodes side by side."""
    wanted = {n for n in nodes if not isinstance(n, ox.Literal)}
    found: dict[Term, set[str]] = {}
    iris = sorted(n.value for n in wanted if isinstance(n, ox.NamedNode))

    def graphs_of(start: int) -> list[Any]:
        values = " ".join(f"<{x}>" for x in iris[start:start + batch])
        return list(select(store, f"SELECT DISTINCT ?s ?g WHERE {{ VALUES ?s {{ {values} }} "
                                  "GRAPH ?g { ?s ?p ?o } }", use_default_graph_as_union=True))

    starts = range(0, len(iris), batch)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(starts))),
                            thread_name_prefix="rivalry-facts-subjects") as pool:
        answers = list(pool.map(graphs_of, starts))
    for rows in answers:
        for s, g in rows:
            if g.value in labels:
                found.setdefault(s, set()).add(labels[g.value])
    for node in wanted:
        if not isinstance(node, ox.NamedNode):
            graphs = {labels[q.graph_name.value]
                      for q in store.quads_for_pattern(node, None, None, None)
                      if isinstance(q.graph_name, ox.NamedNode)
                      and q.graph_name.value in labels}
            if graphs:
                found[node] = graphs
    return {n: sorted(f) for n, f in found.items()}


def validate_store(store: ox.Store, labels: dict[str, str], *,
                   focus: Iterable[Term] | None = None, workers: int = 1,
                   progress: Callable[[int, int], None] | None = None,
                   only: Callable[[Constraint], bool] | None = None) -> Report:
    """Validate a build's working store: every constraint over the union of its graphs,
    reported on the subjects of its facts graphs (`labels` maps each facts graph to the
    file it came from). With `focus`, only those nodes are checked; with `only`, only the
    constraints it accepts are run (the build leaves out one whose results its own check
    decides, rivalry.graph.build.declared_terms_decided)."""
    focus_list = list(focus) if focus is not None else None
    found = run_all(store, focus=focus_list, workers=workers, progress=progress, only=only)
    where = facts_subjects(store, (v.focus for v in found), labels, workers=workers)
    results = sort_results([to_result(v, where[v.focus]) for v in found if v.focus in where])
    conforms = not any(r.severity == "Violation" for r in results)
    return Report(conforms=conforms, results=results,
                  focus_nodes=len(focus_list) if focus_list is not None else 0,
                  constraints=len(constraints()))


def validate_build(named: Sequence[tuple[str, list[ox.Quad]]],
                   inferred: Iterable[ox.Triple] = ()) -> Report:
    """Validate facts files given as (label, quads) together, with their inferences."""
    submission = Submission.from_quads(named)
    return validate(submission, inferred)


def refuse_unless_conforms(report: Report, limit: int = 50) -> None:
    if not report.conforms:
        violations = report.violations
        details = [r.describe() for r in violations[:limit]] or [
            r.describe() for r in report.results[:limit]]
        if len(violations) > limit:
            details.append(f"... and {len(violations) - limit} more violation(s)")
        raise InvalidFacts(f"the facts do not pass the shapes: {len(violations)} "
                           f"violation(s)", details)
