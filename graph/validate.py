"""Validating facts against the project's SHACL shapes, with pySHACL.

New facts are validated in the context of the graph already built: the ontology, plus
every triple the built graph has about each node the new facts mention (inferred types
included). Only the new facts' own nodes are focus nodes, so the report covers the new
facts alone and a small batch costs little however large the graph is.

Only the project's shapes run. Shapes, SPARQL or rules inside submitted data are data:
they are never handed to the validator as shapes. Nothing is fetched (no owl:imports,
no remote contexts): inputs are parsed by rivalry.graph.load.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import SH

from rivalry.graph import Term
from rivalry.graph.errors import InvalidFacts
from rivalry.graph.load import load_ontology, parse_rdf, read_rdf_file
from rivalry.graph.store import Store
from rivalry.shapes import shapes_files

#: Blank nodes of submitted facts become IRIs under this prefix while they are validated
#: (pySHACL takes IRIs as focus nodes); reports show them as blank nodes again.
SKOLEM = "https://w3id.org/rivalry/.well-known/genid/"

SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}


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
    graph: Graph
    focus_nodes: int = 0
    context_triples: int = 0
    strict: bool = False

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
# Conversions between pyoxigraph and rdflib terms
# ---------------------------------------------------------------------------------------


def to_rdflib(term: Term) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return URIRef(SKOLEM + term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        return rdflib.Literal(term.value, datatype=URIRef(term.datatype.value))
    raise TypeError(f"unsupported term {term!r}")


def _unskolem(node: rdflib.term.Node | None) -> str | None:
    if node is None:
        return None
    text = str(node)
    if isinstance(node, URIRef) and text.startswith(SKOLEM):
        return "_:" + text[len(SKOLEM):]
    if isinstance(node, rdflib.Literal):
        return node.n3()
    return text


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
    """The project's shapes: the only shapes that ever run."""
    g = Graph()
    for f in shapes_files():
        quads = read_rdf_file(Path(str(f)))
        for q in quads:
            g.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    return g


@functools.lru_cache(maxsize=1)
def core_shapes_graph() -> Graph:
    """The shapes without their SHACL-SPARQL constraints, which run separately."""
    g = Graph()
    for triple in shapes_graph():
        if triple[1] != SH.sparql:
            g.add(triple)
    return g


@dataclass(frozen=True)
class SparqlConstraint:
    """A SHACL-SPARQL constraint of a shape, ready to run over all focus nodes at once."""

    shape: rdflib.term.Node
    constraint: rdflib.term.Node
    query: str
    message: str
    severity: rdflib.term.Node


@functools.lru_cache(maxsize=1)
def sparql_constraints() -> tuple[SparqlConstraint, ...]:
    """Every sh:sparql constraint of the shapes, with the shape's targets folded into the
    query: `$this` becomes a variable bound by the target pattern (SHACL 1.0, 5.3)."""
    g = shapes_graph()
    out = []
    for shape, constraint in g.subject_objects(SH.sparql):
        targets = [f"?this a/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* <{c}>"
                   for c in g.objects(shape, SH.targetClass)]
        targets += [f"?this <{p}> ?__any" for p in g.objects(shape, SH.targetSubjectsOf)]
        if not targets:
            continue
        prefixes = []
        for declared in g.objects(constraint, SH.prefixes):
            for decl in g.objects(declared, SH.declare):
                prefixes.append(f"PREFIX {g.value(decl, SH.prefix)}: "
                                f"<{g.value(decl, SH.namespace)}>")
        select = str(g.value(constraint, SH.select)).replace("$this", "?this")
        where = re.search(r"WHERE\s*\{", select, re.IGNORECASE)
        if where is None:
            raise ValueError(f"SPARQL constraint {constraint} has no WHERE clause")
        pattern = " UNION ".join(f"{{ {t} }}" for t in targets)
        query = ("\n".join(prefixes) + "\n" + select[: where.end()] + f" {pattern} "
                 + select[where.end():])
        message = str(g.value(constraint, SH.message) or "")
        severity = g.value(constraint, SH.severity) or g.value(shape, SH.severity) \
            or SH.Violation
        out.append(SparqlConstraint(shape, constraint, query, message, severity))
    return tuple(sorted(out, key=lambda c: str(c.constraint)))


def _run_sparql_constraints(store: ox.Store, report: Graph,
                            focus: set[rdflib.term.Node]) -> None:
    """Run every SPARQL constraint once over the whole data graph and add a result to
    `report` for each row whose focus node is in `focus`."""
    for c in sparql_constraints():
        solutions = store.query(c.query)
        variables = solutions.variables
        for solution in solutions:
            this = solution["this"]
            if this is None or to_rdflib(this) not in focus:
                continue
            values = {v.value: solution[v] for v in variables}
            result = rdflib.BNode()
            report.add((result, RDF.type, SH.ValidationResult))
            report.add((result, SH.focusNode, to_rdflib(this)))
            report.add((result, SH.resultSeverity, c.severity))
            report.add((result, SH.sourceConstraintComponent, SH.SPARQLConstraintComponent))
            report.add((result, SH.sourceShape, c.shape))
            report.add((result, SH.sourceConstraint, c.constraint))
            if values.get("value") is not None:
                report.add((result, SH.value, to_rdflib(values["value"])))
            if values.get("path") is not None:
                report.add((result, SH.resultPath, to_rdflib(values["path"])))
            message = c.message
            for name, term in values.items():
                if term is not None:
                    text = term.value if not isinstance(term, ox.Triple) else str(term)
                    message = message.replace("{?" + name + "}", text).replace(
                        "{$" + name + "}", text)
            report.add((result, SH.resultMessage, rdflib.Literal(message)))


@functools.lru_cache(maxsize=1)
def ontology_graph() -> Graph:
    return graph_of((q.subject, q.predicate, q.object) for q in load_ontology())


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


@dataclass
class Submission:
    """Facts to validate: their triples, and which file each subject came from."""

    triples: list[ox.Triple]
    files_by_subject: dict[str, list[str]]

    @classmethod
    def from_quads(cls, named: Sequence[tuple[str, list[ox.Quad]]]) -> Submission:
        triples: dict[ox.Triple, None] = {}
        files: dict[str, list[str]] = {}
        for label, quads in named:
            for q in quads:
                triples[ox.Triple(q.subject, q.predicate, q.object)] = None
                key = str(to_rdflib(q.subject))
                if label not in files.setdefault(key, []):
                    files[key].append(label)
        return cls(list(triples), files)

    @classmethod
    def from_files(cls, paths: Sequence[Path], fmt: str | None = None) -> Submission:
        return cls.from_quads([(str(p), read_rdf_file(p, fmt)) for p in paths])

    @classmethod
    def from_bytes(cls, data: bytes, fmt: ox.RdfFormat, label: str = "request") -> Submission:
        return cls.from_quads([(label, parse_rdf(data, fmt, label=label))])


def context_for(store: Store | None, submission: Submission,
                batch: int = 400) -> list[ox.Triple]:
    """What the built graph says about every node the submission mentions."""
    if store is None:
        return []
    nodes = sorted({t.value for tr in submission.triples for t in (tr.subject, tr.object)
                    if isinstance(t, ox.NamedNode)})
    context: list[ox.Triple] = []
    for i in range(0, len(nodes), batch):
        values = " ".join(f"<{n}>" for n in nodes[i:i + batch])
        result = store.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ VALUES ?s {{ {values} }} "
                             "?s ?p ?o }")
        context.extend(result.triples())
    return context


def validate(
    submission: Submission,
    context: Iterable[ox.Triple] = (),
    *,
    strict: bool = False,
) -> Report:
    """Validate the submission's triples with the context, reporting on its nodes only.

    `strict` makes warnings fail conformance too.

    The report is restricted to the submission's subjects here, not with pySHACL's own
    focus_nodes option: that option also filters the value nodes of nested shapes
    (sh:node, sh:or), which silently disables checks such as date datatypes.
    """
    import pyshacl

    context = list(context)
    data = graph_of((t.subject, t.predicate, t.object) for t in submission.triples)
    for t in context:
        data.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    context_triples = len(context)
    # The ontology goes in whole (pySHACL's ont_graph would bring only its class
    # definitions, not the concept schemes that shapes check values against).
    data += ontology_graph()
    focus_nodes = {to_rdflib(t.subject) for t in submission.triples}
    # SHACL-SPARQL constraints run here, each once over all focus nodes, with
    # pyoxigraph: pySHACL parses and runs each one again for every focus node, which
    # costs seconds per thousand nodes. The core constraints stay with pySHACL.
    engine = ox.Store()
    engine.extend(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())
                  for t in submission.triples + context)
    engine.extend(ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph())
                  for q in load_ontology())
    _, full_report, _ = pyshacl.validate(
        data,
        shacl_graph=core_shapes_graph(),
        inference="none",
        allow_infos=True,
        allow_warnings=True,
        advanced=False,
        do_owl_imports=False,
        inplace=True,
    )
    _run_sparql_constraints(engine, full_report, focus_nodes)
    kept = [node for node in full_report.subjects(RDF.type, SH.ValidationResult)
            if full_report.value(node, SH.focusNode) in focus_nodes]
    results = [_result(full_report, node, submission.files_by_subject) for node in kept]
    results.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 3), r.files, r.focus,
                                r.path or "", r.message))
    failing = {"Violation", "Warning"} if strict else {"Violation"}
    conforms = not any(r.severity in failing for r in results)
    return Report(conforms=conforms, results=results,
                  graph=_report_graph(full_report, kept, conforms),
                  focus_nodes=len(focus_nodes), context_triples=context_triples,
                  strict=strict)


def _report_graph(full: Graph, kept: list[rdflib.term.Node], conforms: bool) -> Graph:
    """A SHACL validation report holding only the kept results (and their details)."""
    g = Graph()
    g.bind("sh", SH)
    report = rdflib.BNode()
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, rdflib.Literal(conforms)))
    todo = list(kept)
    seen: set[rdflib.term.Node] = set()
    for node in kept:
        g.add((report, SH.result, node))
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for p, o in full.predicate_objects(node):
            g.add((node, p, o))
            if isinstance(o, rdflib.BNode):  # details, paths, anonymous shapes
                todo.append(o)
    return g


def _result(g: Graph, node: rdflib.term.Node, files: dict[str, list[str]]) -> Result:
    focus = g.value(node, SH.focusNode)
    severity = str(g.value(node, SH.resultSeverity) or SH.Violation).rsplit("#", 1)[-1]
    path = g.value(node, SH.resultPath)
    messages = [str(m) for m in g.objects(node, SH.resultMessage)]
    component = str(g.value(node, SH.sourceConstraintComponent) or "")
    shape = g.value(node, SH.sourceShape)
    return Result(
        severity=severity,
        focus=_unskolem(focus) or "",
        path=_path_text(g, path),
        value=_unskolem(g.value(node, SH.value)),
        message=messages[0] if messages else component.rsplit("#", 1)[-1],
        component=component.replace(str(SH), "sh:"),
        shape=_unskolem(shape) if isinstance(shape, URIRef) else None,
        files=files.get(str(focus), []),
    )


def _path_text(g: Graph, path: rdflib.term.Node | None) -> str | None:
    if path is None:
        return None
    if isinstance(path, URIRef):
        return str(path)
    inverse = g.value(path, SH.inversePath)
    if inverse is not None:
        return f"^{inverse}"
    return path.n3()


def validate_build(named: Sequence[tuple[str, list[ox.Quad]]],
                   inferred: Iterable[ox.Triple] = ()) -> Report:
    """Validate every curated fact, as `rivalry build` does before publishing."""
    submission = Submission.from_quads(named)
    return validate(submission, inferred)


def refuse_unless_conforms(report: Report) -> None:
    if not report.conforms:
        details = [r.describe() for r in report.violations] or [
            r.describe() for r in report.results]
        raise InvalidFacts(f"the facts do not pass the shapes: {len(report.violations)} "
                           f"violation(s)", details)
