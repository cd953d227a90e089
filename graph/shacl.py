"""SHACL validation as SPARQL: every constraint of the shapes, compiled once into a query
that finds its violations over a whole store, run by pyoxigraph.

pySHACL evaluates constraints node by node in Python, which takes minutes on a large
graph (about 12 minutes at 100,000 measures). Here each constraint component of each
shape becomes one SELECT that returns the focus nodes (and value nodes) that violate it,
so the whole graph is checked in the store's own engine. The semantics are SHACL 1.0's
(W3C Recommendation, sections 4 and 5) for the components listed in COMPONENTS; the
test suite checks, on every fixture and on the curated graph, that the results are the
ones pySHACL reports.

The compiler refuses shapes it cannot run (an unknown constraint component, target or
path, a pre-bound SPARQL variable it does not provide): a constraint is never skipped.

Each compiled query has a marker where a restriction of its focus nodes goes (a VALUES
block), so the same query serves a whole build, an incremental rebuild that re-checks
only the nodes a change can affect, and a curator's batch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib import RDF, RDFS, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH, XSD

from rivalry.graph import Term, select
from rivalry.graph.errors import InvalidOntology
from rivalry.graph.sparql import group_start

#: Where a compiled query takes a restriction of its focus nodes (`?this`).
FOCUS_MARK = "#FOCUS#"

RDF_TYPE = str(RDF.type)
SUBCLASS = str(RDFS.subClassOf)
INSTANCE_OF = f"<{RDF_TYPE}>/<{SUBCLASS}>*"
#: "?x is a SHACL instance of C" in a compiled query: expanded when the query runs into
#: `?x rdf:type ?t` with ?t among C and its subclasses in the data, which is what
#: rdf:type/rdfs:subClassOf* means, without evaluating the path for every node. A mark
#: ending in ` bound` is one whose ?x is always bound where it stands (a value node's
#: class, tested inside EXISTS): see `Runner.expand`.
INSTANCE_MARK = re.compile(r"#INSTANCE (\?\w+) <([^>]+)>( bound)?#")


def instance_of(var: str, cls: rdflib.term.Node, *, bound: bool = False) -> str:
    if not isinstance(cls, URIRef):
        raise ShapesNotSupported(f"sh:class and sh:targetClass need a class IRI, not {cls}")
    return f"#INSTANCE {var} <{cls}>{' bound' if bound else ''}#"

#: The constraint components this engine runs, by their parameters (SHACL 1.0, 4).
COMPONENTS = {
    SH["class"]: "ClassConstraintComponent",
    SH.datatype: "DatatypeConstraintComponent",
    SH.nodeKind: "NodeKindConstraintComponent",
    SH.minCount: "MinCountConstraintComponent",
    SH.maxCount: "MaxCountConstraintComponent",
    SH.minExclusive: "MinExclusiveConstraintComponent",
    SH.minInclusive: "MinInclusiveConstraintComponent",
    SH.maxExclusive: "MaxExclusiveConstraintComponent",
    SH.maxInclusive: "MaxInclusiveConstraintComponent",
    SH.minLength: "MinLengthConstraintComponent",
    SH.maxLength: "MaxLengthConstraintComponent",
    SH.pattern: "PatternConstraintComponent",
    SH.languageIn: "LanguageInConstraintComponent",
    SH.uniqueLang: "UniqueLangConstraintComponent",
    SH["not"]: "NotConstraintComponent",
    SH["and"]: "AndConstraintComponent",
    SH["or"]: "OrConstraintComponent",
    SH.xone: "XoneConstraintComponent",
    SH.node: "NodeConstraintComponent",
    SH.qualifiedValueShape: "QualifiedValueShapeConstraintComponent",
    SH["in"]: "InConstraintComponent",
    SH.hasValue: "HasValueConstraintComponent",
    SH.sparql: "SPARQLConstraintComponent",
}

#: Predicates of a shape that are not constraint parameters (they describe the shape,
#: its targets, or are parameters read together with another one).
SHAPE_PREDICATES = {
    RDF.type, RDFS.label, RDFS.comment, RDFS.seeAlso, RDFS.isDefinedBy, SH.targetClass,
    SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.property, SH.path,
    SH.message, SH.severity, SH.deactivated, SH.name, SH.description, SH.order, SH.group,
    SH.defaultValue, SH.flags, SH.qualifiedMinCount, SH.qualifiedMaxCount,
    SH.qualifiedValueShapesDisjoint, SH.declare, SH.prefixes,
    URIRef("http://www.w3.org/2002/07/owl#imports"),
}

#: Datatypes whose lexical forms the store can check (by casting); a literal of one of
#: these that does not cast is ill-typed, and fails sh:datatype.
CASTABLE = {str(XSD[n]) for n in (
    "boolean", "integer", "decimal", "float", "double", "date", "dateTime", "time",
    "gYear", "gYearMonth", "duration", "dayTimeDuration", "yearMonthDuration")}

SEVERITIES = {SH.Violation, SH.Warning, SH.Info}


class ShapesNotSupported(InvalidOntology):
    """The shapes use a feature the engine cannot run: the validation refuses to start
    rather than skip a constraint."""

    title = "Shapes not supported"


@dataclass(frozen=True)
class Reach:
    """How far from its focus node a constraint reads the data, for incremental checks.

    `depth` counts triples along a path from the focus node (1: the focus node's own
    triples; None: no bound). `through` are the predicates followed to reach nodes whose
    triples are then read (None: any predicate). `backward` says whether some step
    follows a triple from its object to its subject.
    """

    depth: int | None = 1
    through: frozenset[str] | None = frozenset()
    backward: bool = False

    def then(self, step: Reach) -> Reach:
        """This reach followed by `step`, from the nodes this one reaches."""
        if self.depth is None or step.depth is None:
            return Reach(None, None, True)
        return Reach(self.depth + step.depth, _union(self.through, step.through),
                     self.backward or step.backward)

    def also(self, other: Reach) -> Reach:
        """Reading both this and `other` from the same node."""
        if self.depth is None or other.depth is None:
            return Reach(None, None, True)
        return Reach(max(self.depth, other.depth), _union(self.through, other.through),
                     self.backward or other.backward)


def _union(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return None if a is None or b is None else a | b


@dataclass(frozen=True)
class Path:
    """A SHACL property path: its SPARQL form and how far it reads."""

    node: rdflib.term.Node
    sparql: str
    reach: Reach

    @property
    def text(self) -> str:
        if isinstance(self.node, URIRef):
            return str(self.node)
        return self.sparql


@dataclass(frozen=True)
class Constraint:
    """One constraint component of one shape, compiled into a query over a store.

    The query's solutions are violations: `?this` the focus node, `?value` the value
    node when there is one, and for SHACL-SPARQL constraints whatever else it selects.
    """

    id: str
    shape: rdflib.term.Node
    component: str
    severity: str
    messages: tuple[Literal, ...]
    path: Path | None
    query: str
    #: How far the constraint reads (`reach`), without its SPARQL query's own reach.
    reach_given: Reach
    source_constraint: rdflib.term.Node | None = None
    value_is_focus: bool = False
    #: The focus nodes the constraint applies to, as a pattern binding ?this.
    target: str = ""
    #: A SPARQL expression over ?this, true when the focus node violates the
    #: constraint (None for SHACL-SPARQL constraints, which run as queries of their own).
    test: str | None = None
    #: A SHACL-SPARQL constraint's own query, whose reach `reach` adds to `reach_given`
    #: when first asked: reading it takes rdflib's SPARQL parser, most of the time of
    #: compiling the shapes, and only incremental builds need it.
    reach_query: str | None = None
    #: Whether a violation names value nodes (found by `query` for flagged focus nodes).
    per_value: bool = False
    #: The query over all focus nodes, when another form than `query`'s is faster.
    query_all: str | None = None

    @property
    def reach(self) -> Reach:
        """How far from its focus node the constraint reads the data."""
        if self.reach_query is None:
            return self.reach_given
        return self.reach_given.also(sparql_reach(self.reach_query))

    def with_focus(self, iris: Sequence[str]) -> str:
        """The query restricted to the given focus nodes (IRIs), or unrestricted."""
        if not iris:
            return self.query.replace(FOCUS_MARK, "")
        values = "VALUES ?this { " + " ".join(f"<{i}>" for i in iris) + " }"
        return self.query.replace(FOCUS_MARK, values)


@dataclass
class Violation:
    """A solution of a constraint's query: one validation result."""

    constraint: Constraint
    focus: Term
    value: Term | None
    bindings: dict[str, Term] = field(default_factory=dict)

    @property
    def message(self) -> str:
        messages = self.constraint.messages
        chosen = next((m for m in messages if m.language in (None, "", "en")), None)
        if chosen is None and messages:
            chosen = messages[0]
        if chosen is None:
            return default_message(self)
        text = str(chosen)
        for name, term in self.bindings.items():
            if term is not None:
                shown = term.value if not isinstance(term, ox.Triple) else str(term)
                text = text.replace("{?" + name + "}", shown).replace("{$" + name + "}", shown)
        return text


def default_message(v: Violation) -> str:
    """A message for a constraint whose shape gives none."""
    c = v.constraint
    name = c.component.rsplit("#", 1)[-1].removesuffix("ConstraintComponent")
    where = f" on {c.path.text}" if c.path else ""
    return f"fails the {name} constraint of {_show(c.shape)}{where}"


def _show(node: rdflib.term.Node) -> str:
    return str(node) if isinstance(node, URIRef) else "a blank node"


# ---------------------------------------------------------------------------------------
# Compiling shapes
# ---------------------------------------------------------------------------------------


def sparql_term(node: rdflib.term.Node) -> str:
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    raise ShapesNotSupported(f"the shapes give the blank node {node} as a value; only IRIs "
                             "and literals can be compared with data")


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\r", "\\r")
    return f'"{escaped}"'


class Compiler:
    """Compiles a shapes graph into Constraints."""

    def __init__(self, shapes: Graph) -> None:
        self.g = shapes
        self.counter = 0

    # -- helpers ---------------------------------------------------------------------

    def var(self, stem: str = "v") -> str:
        self.counter += 1
        return f"?{stem}{self.counter}"

    def where(self, node: rdflib.term.Node) -> str:
        return f"{node}" if isinstance(node, URIRef) else "a blank node"

    def list_items(self, head: rdflib.term.Node) -> list[rdflib.term.Node]:
        return list(Collection(self.g, head))

    def one(self, shape: rdflib.term.Node, predicate: URIRef) -> rdflib.term.Node | None:
        values = list(self.g.objects(shape, predicate))
        if len(values) > 1:
            raise ShapesNotSupported(f"{self.where(shape)} has {len(values)} values of "
                                     f"{predicate}; SHACL allows one")
        return values[0] if values else None

    def integer(self, shape: rdflib.term.Node, predicate: URIRef) -> int:
        value = self.one(shape, predicate)
        try:
            number = int(value.toPython()) if isinstance(value, Literal) else -1
        except (TypeError, ValueError):
            number = -1
        if number < 0:
            raise ShapesNotSupported(f"{predicate} of {self.where(shape)} must be a "
                                     "non-negative integer")
        return number

    def deactivated(self, shape: rdflib.term.Node) -> bool:
        value = self.one(shape, SH.deactivated)
        return isinstance(value, Literal) and value.toPython() is True

    def severity(self, shape: rdflib.term.Node) -> str:
        value = self.one(shape, SH.severity) or SH.Violation
        if value not in SEVERITIES:
            raise ShapesNotSupported(f"{self.where(shape)}: unknown severity {value}")
        return str(value)

    def check_parameters(self, shape: rdflib.term.Node) -> None:
        for predicate in set(self.g.predicates(shape)):
            if predicate not in COMPONENTS and predicate not in SHAPE_PREDICATES:
                raise ShapesNotSupported(
                    f"{self.where(shape)} uses {_name(predicate)}, which rivalry's SHACL "
                    "engine does not run; add it to rivalry.graph.shacl or remove it from "
                    "the shapes")

    # -- paths -------------------------------------------------------------------------

    def path(self, node: rdflib.term.Node) -> Path:
        if isinstance(node, URIRef):
            return Path(node, f"<{node}>", Reach(1, frozenset({str(node)})))
        if isinstance(node, BNode):
            if (node, RDF.first, None) in self.g:
                parts = [self.path(p) for p in self.list_items(node)]
                if len(parts) < 2:
                    raise ShapesNotSupported("a sequence path needs at least two members")
                depths = [p.reach.depth for p in parts]
                through: frozenset[str] | None = frozenset()
                for part in parts:
                    through = _union(through, part.reach.through)
                reach = Reach(None if None in depths else sum(d or 0 for d in depths),
                              through, any(p.reach.backward for p in parts))
                return Path(node, "(" + "/".join(p.sparql for p in parts) + ")", reach)
            inverse = self.one(node, SH.inversePath)
            if inverse is not None:
                inner = self.path(inverse)
                return Path(node, f"^({inner.sparql})",
                            Reach(inner.reach.depth, inner.reach.through, True))
            alternatives = self.one(node, SH.alternativePath)
            if alternatives is not None:
                parts = [self.path(p) for p in self.list_items(alternatives)]
                reach = parts[0].reach
                for part in parts[1:]:
                    reach = reach.also(part.reach)
                return Path(node, "(" + "|".join(p.sparql for p in parts) + ")", reach)
            for predicate, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"),
                                      (SH.zeroOrOnePath, "?")):
                inner_node = self.one(node, predicate)
                if inner_node is not None:
                    inner = self.path(inner_node)
                    reach = inner.reach if suffix == "?" else Reach(None, None, True)
                    return Path(node, f"({inner.sparql}){suffix}", reach)
        raise ShapesNotSupported(f"the path {node} is not a SHACL property path")

    # -- what a value node must satisfy ------------------------------------------------

    def conditions(self, shape: rdflib.term.Node, value: str
                   ) -> list[tuple[str, str, Reach]]:
        """The value-node constraints of `shape` as (component, condition, reach): the
        condition is a SPARQL expression true when `value` satisfies the component."""
        g = self.g
        out: list[tuple[str, str, Reach]] = []
        here = Reach(1, frozenset())
        for cls in g.objects(shape, SH["class"]):
            out.append((SH.ClassConstraintComponent,
                        f"EXISTS {{ {instance_of(value, cls, bound=True)} }}",
                        Reach(1, frozenset())))
        for datatype in g.objects(shape, SH.datatype):
            out.append((SH.DatatypeConstraintComponent, datatype_condition(value, datatype),
                        here))
        kind = self.one(shape, SH.nodeKind)
        if kind is not None:
            out.append((SH.NodeKindConstraintComponent, node_kind_condition(value, kind), here))
        for predicate, operator in ((SH.minExclusive, ">"), (SH.minInclusive, ">="),
                                    (SH.maxExclusive, "<"), (SH.maxInclusive, "<=")):
            for bound in g.objects(shape, predicate):
                out.append((SH[COMPONENTS[predicate]],
                            f"COALESCE({value} {operator} {sparql_term(bound)}, false)", here))
        for predicate, operator in ((SH.minLength, ">="), (SH.maxLength, "<=")):
            if (shape, predicate, None) in g:
                n = self.integer(shape, predicate)
                out.append((SH[COMPONENTS[predicate]],
                            f"(!isBlank({value}) && STRLEN(STR({value})) {operator} {n})", here))
        for pattern in g.objects(shape, SH.pattern):
            flags = self.one(shape, SH.flags)
            flag_text = f", {_string(str(flags))}" if flags is not None else ""
            out.append((SH.PatternConstraintComponent,
                        f"(!isBlank({value}) && REGEX(STR({value}), {_string(str(pattern))}"
                        f"{flag_text}))", here))
        for languages in g.objects(shape, SH.languageIn):
            tags = [str(t) for t in self.list_items(languages)]
            tests = " || ".join(f"LANGMATCHES(LANG({value}), {_string(t)})" for t in tags)
            out.append((SH.LanguageInConstraintComponent,
                        f"(isLiteral({value}) && ({tests or 'false'}))", here))
        for members in g.objects(shape, SH["in"]):
            items = self.list_items(members)
            tests = " || ".join(f"sameTerm({value}, {sparql_term(i)})" for i in items)
            out.append((SH.InConstraintComponent, f"({tests or 'false'})", here))
        for node_shape in g.objects(shape, SH.node):
            condition, reach = self.conforms(node_shape, value)
            out.append((SH.NodeConstraintComponent, condition, reach))
        for inner in g.objects(shape, SH["not"]):
            condition, reach = self.conforms(inner, value)
            out.append((SH.NotConstraintComponent, f"!({condition})", reach))
        for predicate, joiner in ((SH["and"], " && "), (SH["or"], " || ")):
            for members in g.objects(shape, predicate):
                parts = [self.conforms(m, value) for m in self.list_items(members)]
                reach = here
                for _, r in parts:
                    reach = reach.also(r)
                text = joiner.join(f"({c})" for c, _ in parts) or \
                    ("true" if predicate == SH["and"] else "false")
                out.append((SH[COMPONENTS[predicate]], f"({text})", reach))
        for members in g.objects(shape, SH.xone):
            parts = [self.conforms(m, value) for m in self.list_items(members)]
            reach = here
            for _, r in parts:
                reach = reach.also(r)
            total = " + ".join(f"IF({c}, 1, 0)" for c, _ in parts) or "0"
            out.append((SH.XoneConstraintComponent, f"({total} = 1)", reach))
        for expected in g.objects(shape, SH.hasValue):
            if (shape, SH.path, None) not in g:  # on a node shape: the value is the node
                out.append((SH.HasValueConstraintComponent,
                            f"sameTerm({value}, {sparql_term(expected)})", here))
        return out

    def conforms(self, shape: rdflib.term.Node, value: str) -> tuple[str, Reach]:
        """A SPARQL expression true when `value` conforms to `shape`, and how far it reads."""
        if self.deactivated(shape):
            return "true", Reach(0, frozenset())
        self.check_parameters(shape)
        if (shape, SH.sparql, None) in self.g:
            raise ShapesNotSupported(f"{self.where(shape)} has SHACL-SPARQL constraints and "
                                     "is used inside another shape; rivalry runs SPARQL "
                                     "constraints only on shapes with targets")
        parts: list[str] = []
        reach = Reach(0, frozenset())
        path_node = self.one(shape, SH.path)
        if path_node is not None:
            text, r = self.property_conforms(shape, self.path(path_node), value)
            parts.append(text)
            reach = reach.also(r)
        else:
            for _, condition, r in self.conditions(shape, value):
                parts.append(condition)
                reach = reach.also(r)
        for property_shape in self.g.objects(shape, SH.property):
            if self.deactivated(property_shape):
                continue
            self.check_parameters(property_shape)
            path = self.path(self._path_of(property_shape))
            text, r = self.property_conforms(property_shape, path, value)
            parts.append(text)
            reach = reach.also(r)
        return (" && ".join(f"({p})" for p in parts) or "true"), reach

    def _path_of(self, shape: rdflib.term.Node) -> rdflib.term.Node:
        path = self.one(shape, SH.path)
        if path is None:
            raise ShapesNotSupported(f"the property shape {self.where(shape)} has no sh:path")
        return path

    def property_conforms(self, shape: rdflib.term.Node, path: Path, focus: str
                          ) -> tuple[str, Reach]:
        """A SPARQL expression true when `focus` satisfies the property shape."""
        g = self.g
        parts: list[str] = []
        reach = path.reach
        v = self.var()
        for _, condition, r in self.conditions(shape, v):
            parts.append(f"NOT EXISTS {{ {focus} {path.sparql} {v} FILTER(!({condition})) }}")
            reach = reach.also(path.reach.then(r))
        if (shape, SH.minCount, None) in g:
            n = self.integer(shape, SH.minCount)
            if n > 0:
                parts.append(f"EXISTS {{ {self.distinct_values(focus, path, n)} }}")
        if (shape, SH.maxCount, None) in g:
            n = self.integer(shape, SH.maxCount)
            parts.append(f"NOT EXISTS {{ {self.distinct_values(focus, path, n + 1)} }}")
        for expected in g.objects(shape, SH.hasValue):
            parts.append(f"EXISTS {{ {focus} {path.sparql} {sparql_term(expected)} }}")
        if self._unique_lang(shape):
            a, b = self.var(), self.var()
            parts.append(f"NOT EXISTS {{ {focus} {path.sparql} {a}, {b} "
                         f"FILTER({_same_language(a, b)}) }}")
        for qualified in g.objects(shape, SH.qualifiedValueShape):
            self._refuse_disjoint(shape)
            q = self.var()
            condition, r = self.conforms(qualified, q)
            reach = reach.also(path.reach.then(r))

            def conforming(x: str, c: str = condition, q: str = q) -> str:
                return _rename(c, q, x)

            if (shape, SH.qualifiedMinCount, None) in g:
                n = self.integer(shape, SH.qualifiedMinCount)
                if n > 0:
                    parts.append("EXISTS { " + self.distinct_values(
                        focus, path, n, condition_of=conforming) + " }")
            if (shape, SH.qualifiedMaxCount, None) in g:
                n = self.integer(shape, SH.qualifiedMaxCount)
                parts.append("NOT EXISTS { " + self.distinct_values(
                    focus, path, n + 1, condition_of=conforming) + " }")
        if (shape, SH.sparql, None) in g:
            raise ShapesNotSupported(f"{self.where(shape)} has SHACL-SPARQL constraints and "
                                     "is used inside another shape; rivalry runs SPARQL "
                                     "constraints only on shapes with targets")
        return (" && ".join(f"({p})" for p in parts) or "true"), reach

    def distinct_values(self, focus: str, path: Path, n: int,
                        condition_of: Any = None) -> str:
        """A pattern matching when `focus` has at least n distinct values along `path`
        (satisfying `condition_of(var)` when given)."""
        if n > 6:
            raise ShapesNotSupported(f"a count of {n} inside a nested shape; rivalry counts "
                                     "up to 6 values there")
        names = [self.var() for _ in range(n)]
        pattern = " ".join(f"{focus} {path.sparql} {x} ." for x in names)
        tests = [f"!sameTerm({a}, {b})" for i, a in enumerate(names) for b in names[i + 1:]]
        if condition_of is not None:
            tests += [f"({condition_of(x)})" for x in names]
        if tests:
            pattern += " FILTER(" + " && ".join(tests) + ")"
        return pattern

    def _unique_lang(self, shape: rdflib.term.Node) -> bool:
        value = self.one(shape, SH.uniqueLang)
        return isinstance(value, Literal) and value.toPython() is True

    def _refuse_disjoint(self, shape: rdflib.term.Node) -> None:
        value = self.one(shape, SH.qualifiedValueShapesDisjoint)
        if isinstance(value, Literal) and value.toPython() is True:
            raise ShapesNotSupported(f"{self.where(shape)} uses "
                                     "sh:qualifiedValueShapesDisjoint, which rivalry does not run")

    # -- shapes with targets -----------------------------------------------------------------

    def targets(self, shape: rdflib.term.Node) -> tuple[str, Reach] | None:
        g = self.g
        branches = []
        for cls in g.objects(shape, SH.targetClass):
            branches.append(instance_of("?this", cls))
        if {(shape, RDF.type, RDFS.Class), (shape, RDF.type,
                                             URIRef("http://www.w3.org/2002/07/owl#Class"))} \
                & set(g.triples((shape, RDF.type, None))):
            branches.append(instance_of("?this", shape))
        for predicate in g.objects(shape, SH.targetSubjectsOf):
            branches.append(f"?this {sparql_term(predicate)} []")
        for predicate in g.objects(shape, SH.targetObjectsOf):
            branches.append(f"[] {sparql_term(predicate)} ?this")
        nodes = [sparql_term(n) for n in g.objects(shape, SH.targetNode)]
        if nodes:
            branches.append("VALUES ?this { " + " ".join(nodes) + " }")
        if (shape, SH.target, None) in g:
            raise ShapesNotSupported(f"{self.where(shape)} uses sh:target (SHACL-AF targets), "
                                     "which rivalry does not run")
        if not branches:
            return None
        backward = bool(list(g.objects(shape, SH.targetObjectsOf)))
        text = " UNION ".join(f"{{ {b} }}" for b in branches)
        return text, Reach(1, frozenset(), backward)

    def compile(self) -> list[Constraint]:
        g = self.g
        shapes = set(g.subjects(SH.targetClass)) | set(g.subjects(SH.targetSubjectsOf)) \
            | set(g.subjects(SH.targetObjectsOf)) | set(g.subjects(SH.targetNode)) \
            | set(g.subjects(SH.target))
        shapes |= {s for s in g.subjects(RDF.type, SH.NodeShape)
                   if (s, RDF.type, RDFS.Class) in g}
        out: list[Constraint] = []
        for shape in sorted(shapes, key=str):
            if self.deactivated(shape):
                continue
            targets = self.targets(shape)
            assert targets is not None
            self.check_parameters(shape)
            path_node = self.one(shape, SH.path)
            if path_node is not None:  # a property shape with targets of its own
                out += self.property_constraints(shape, shape, self.path(path_node), targets)
            else:
                out += self.node_constraints(shape, targets)
            for property_shape in g.objects(shape, SH.property):
                if self.deactivated(property_shape):
                    continue
                self.check_parameters(property_shape)
                path = self.path(self._path_of(property_shape))
                out += self.property_constraints(shape, property_shape, path, targets)
            for constraint in g.objects(shape, SH.sparql):
                out.append(self.sparql_constraint(shape, constraint, targets))
        ids = [c.id for c in out]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:  # two identical constraints on a shape: number them
            seen: dict[str, int] = {}
            renamed = []
            for c in out:
                if c.id in duplicates:
                    seen[c.id] = seen.get(c.id, 0) + 1
                    c = Constraint(**{**c.__dict__, "id": f"{c.id} #{seen[c.id]}"})
                renamed.append(c)
            out = renamed
        return out

    def _messages(self, shape: rdflib.term.Node) -> tuple[Literal, ...]:
        return tuple(sorted((m for m in self.g.objects(shape, SH.message)
                             if isinstance(m, Literal)), key=str))

    def _label(self, shape: rdflib.term.Node, holder: rdflib.term.Node,
               path: Path | None) -> str:
        """A stable name for constraints of `holder` applied to the targets of `shape`."""
        base = str(shape) if isinstance(shape, URIRef) else "(blank shape)"
        if holder == shape:
            return base
        if isinstance(holder, URIRef):
            return f"{base} {holder}"
        return f"{base} {path.text}" if path else base

    def node_constraints(self, shape: rdflib.term.Node, targets: tuple[str, Reach]
                         ) -> list[Constraint]:
        target, target_reach = targets
        out = []
        for component, condition, reach in self.conditions(shape, "?this"):
            query = (f"SELECT DISTINCT ?this WHERE {{ {FOCUS_MARK} {{ {target} }} "
                     f"FILTER(!({condition})) }}")
            out.append(Constraint(
                id=f"{self._label(shape, shape, None)} {_short(component)}",
                shape=shape, component=str(component), severity=self.severity(shape),
                messages=self._messages(shape), path=None, query=query,
                reach_given=target_reach.also(reach), value_is_focus=True, target=target,
                test=f"!({condition})"))
        return out

    def property_constraints(self, shape: rdflib.term.Node, holder: rdflib.term.Node,
                             path: Path, targets: tuple[str, Reach]) -> list[Constraint]:
        """The constraints of the property shape `holder` on the focus nodes of `shape`."""
        g = self.g
        target, target_reach = targets
        severity, messages = self.severity(holder), self._messages(holder)

        def constraint(id: str, component: str, query: str, reach: Reach, test: str,
                       per_value: bool = False) -> Constraint:
            """A constraint of this property shape."""
            return Constraint(id=id, shape=holder, component=component, severity=severity,
                              messages=messages, path=path, query=query, reach_given=reach,
                              target=target, test=test, per_value=per_value)

        label = self._label(shape, holder, path)
        out = []
        head = f"{{ {FOCUS_MARK} {{ {target} }} }}"
        x = self.var()
        tests = self.conditions(holder, x)
        for (component, condition, reach), (_, per_focus, _) in zip(
                self.conditions(holder, "?value"), tests, strict=True):
            query = (f"SELECT DISTINCT ?this ?value WHERE {{ {head} "
                     f"?this {path.sparql} ?value FILTER(!({condition})) }}")
            test = f"EXISTS {{ ?this {path.sparql} {x} FILTER(!({per_focus})) }}"
            out.append(constraint(id=f"{label} {_short(component)}", component=str(component),
                                  query=query, reach=target_reach.also(path.reach.then(reach)),
                                  test=test, per_value=True))
        counted = target_reach.also(path.reach)

        def count_constraint(name: str, component: rdflib.term.Node, test: str,
                             reach: Reach = counted) -> None:
            query = f"SELECT DISTINCT ?this WHERE {{ {head} FILTER({test}) }}"
            out.append(constraint(id=f"{label} {name}", component=str(component), query=query,
                                  reach=reach, test=test))

        if (holder, SH.minCount, None) in g:
            n = self.integer(holder, SH.minCount)
            if n > 0:
                count_constraint("sh:minCount", SH.MinCountConstraintComponent,
                                 f"NOT EXISTS {{ {self.distinct_values('?this', path, n)} }}")
        if (holder, SH.maxCount, None) in g:
            n = self.integer(holder, SH.maxCount)
            count_constraint("sh:maxCount", SH.MaxCountConstraintComponent,
                             f"EXISTS {{ {self.distinct_values('?this', path, n + 1)} }}")
        for expected in g.objects(holder, SH.hasValue):
            count_constraint("sh:hasValue", SH.HasValueConstraintComponent,
                             f"NOT EXISTS {{ ?this {path.sparql} {sparql_term(expected)} }}")
        if self._unique_lang(holder):
            a, b = self.var(), self.var()
            count_constraint("sh:uniqueLang", SH.UniqueLangConstraintComponent,
                             f"EXISTS {{ ?this {path.sparql} {a}, {b} "
                             f"FILTER({_same_language(a, b)}) }}")
        for qualified in g.objects(holder, SH.qualifiedValueShape):
            self._refuse_disjoint(holder)
            q = self.var()
            condition, reach = self.conforms(qualified, q)
            full = target_reach.also(path.reach.then(reach))
            if (holder, SH.qualifiedMinCount, None) in g:
                n = self.integer(holder, SH.qualifiedMinCount)
                if n > 0:
                    pattern = self.distinct_values(
                        "?this", path, n, condition_of=lambda v, c=condition, q=q: _rename(c, q, v))
                    count_constraint("sh:qualifiedMinCount",
                                     SH.QualifiedMinCountConstraintComponent,
                                     f"NOT EXISTS {{ {pattern} }}", full)
            if (holder, SH.qualifiedMaxCount, None) in g:
                n = self.integer(holder, SH.qualifiedMaxCount)
                pattern = self.distinct_values(
                    "?this", path, n + 1, condition_of=lambda v, c=condition, q=q: _rename(c, q, v))
                count_constraint("sh:qualifiedMaxCount", SH.QualifiedMaxCountConstraintComponent,
                                 f"EXISTS {{ {pattern} }}", full)
        if (holder, SH.sparql, None) in g and holder is not shape:
            raise ShapesNotSupported(f"the property shape {self.where(holder)} has SHACL-SPARQL "
                                     "constraints ($PATH), which rivalry does not run")
        return out

    def sparql_constraint(self, shape: rdflib.term.Node, constraint: rdflib.term.Node,
                          targets: tuple[str, Reach]) -> Constraint:
        g = self.g
        target, target_reach = targets
        if self.deactivated(constraint):
            raise ShapesNotSupported(f"deactivated SPARQL constraint {constraint}: remove it")
        if (constraint, SH.severity, None) in g:
            raise ShapesNotSupported(
                f"the SPARQL constraint {self.where(constraint)} has its own sh:severity; in "
                "SHACL the severity belongs to the shape (put it on the shape)")
        select = self.one(constraint, SH.select)
        if select is None:
            raise ShapesNotSupported(f"the SPARQL constraint {self.where(constraint)} has no "
                                     "sh:select")
        text = str(select)
        for name in ("currentShape", "shapesGraph", "PATH"):
            if "$" + name in text:
                raise ShapesNotSupported(f"the SPARQL constraint {self.where(constraint)} uses "
                                         f"${name}, which rivalry does not provide")
        prefixes = []
        for declared in g.objects(constraint, SH.prefixes):
            for declaration in g.objects(declared, SH.declare):
                prefixes.append(f"PREFIX {g.value(declaration, SH.prefix)}: "
                                f"<{g.value(declaration, SH.namespace)}>")
        body = re.sub(r"\$this\b", "?this", text)
        where = group_start(body)
        if where is None:
            raise ShapesNotSupported(f"the SPARQL constraint {self.where(constraint)} has no "
                                     "WHERE clause")
        head = "\n".join(prefixes) + "\n"
        query = (head + body[:where]
                 + f" {{ SELECT DISTINCT ?this WHERE {{ {FOCUS_MARK} {{ {target} }} }} }} "
                 + body[where:])
        # Over the whole graph, a query whose pattern starts from ?this with a property
        # is cheaper read from that pattern, the target checked for each solution.
        query_all = None
        close = _closing_brace(body, where)
        if close is not None and _starts_from_this(body[where:close]):
            query_all = (head + body[:close] + f" FILTER EXISTS {{ {target} }} "
                         + body[close:])
        messages = tuple(sorted((m for m in g.objects(constraint, SH.message)
                                 if isinstance(m, Literal)), key=str)) \
            or self._messages(shape)
        return Constraint(
            id=f"{self._label(shape, constraint, None)}",
            shape=shape, component=str(SH.SPARQLConstraintComponent),
            severity=self.severity(shape), messages=messages, path=None, query=query,
            reach_given=target_reach, reach_query="\n".join(prefixes) + "\n" + body,
            source_constraint=constraint, value_is_focus=True, target=target,
            query_all=query_all)


def _closing_brace(text: str, start: int) -> int | None:
    """The index of the brace that closes the group opened just before `start`."""
    depth = 1
    i = start
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            end = text.find(ch, i + 1)
            while end > 0 and text[end - 1] == "\\":
                end = text.find(ch, end + 1)
            if end < 0:
                return None
            i = end
        elif ch == "<" and re.match(r"<[^\s<>\"{}|^`\\]*>", text[i:]):
            i = text.index(">", i)
        elif ch == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _starts_from_this(group: str) -> bool:
    """Whether a group's own patterns (not those of nested groups) have ?this as the
    subject of a property given by name."""
    depth = 0
    flat = []
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', group):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            flat.append(ch)
    return re.search(r"(?:^|[.;{\s])\?this\s+(?![?$])[^\s]+\s", "".join(flat)) is not None


def _name(node: rdflib.term.Node) -> str:
    text = str(node)
    return "sh:" + text[len(str(SH)):] if text.startswith(str(SH)) else text


def _rename(text: str, old: str, new: str) -> str:
    """Rename a variable in a SPARQL fragment (?v1 is not ?v12)."""
    return re.sub(re.escape(old) + r"(?!\w)", new, text)


def _short(component: rdflib.term.Node | str) -> str:
    name = str(component).rsplit("#", 1)[-1]
    param = {v: k for k, v in COMPONENTS.items()}.get(name)
    return f"sh:{str(param).rsplit('#', 1)[-1]}" if param is not None else f"sh:{name}"


def _same_language(a: str, b: str) -> str:
    return (f"!sameTerm({a}, {b}) && LANG({a}) != \"\" && "
            f"LCASE(LANG({a})) = LCASE(LANG({b}))")


def datatype_condition(value: str, datatype: rdflib.term.Node) -> str:
    dt = str(datatype)
    if dt == str(RDF.langString):
        return f"(isLiteral({value}) && LANG({value}) != \"\")"
    test = f"(isLiteral({value}) && LANG({value}) = \"\" && DATATYPE({value}) = <{dt}>"
    if dt in CASTABLE:
        test += f" && COALESCE(DATATYPE(<{dt}>(STR({value}))) = <{dt}>, false)"
    return test + ")"


def node_kind_condition(value: str, kind: rdflib.term.Node) -> str:
    tests: dict[rdflib.term.Node, str] = {
        SH.IRI: f"isIRI({value})",
        SH.BlankNode: f"isBlank({value})",
        SH.Literal: f"isLiteral({value})",
        SH.BlankNodeOrIRI: f"(isIRI({value}) || isBlank({value}))",
        SH.BlankNodeOrLiteral: f"(isBlank({value}) || isLiteral({value}))",
        SH.IRIOrLiteral: f"(isIRI({value}) || isLiteral({value}))",
    }
    if kind not in tests:
        raise ShapesNotSupported(f"unknown sh:nodeKind {kind}")
    return tests[kind]


# ---------------------------------------------------------------------------------------
# How far a SPARQL constraint reads
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def sparql_reach(query: str) -> Reach:
    """How far from ?this a SELECT reads, from its triple patterns (with those of FILTER
    EXISTS and NOT EXISTS). Property paths with * or +, sub-queries, variables not
    reached from ?this by triple patterns (BIND is not followed), or anything else the
    analysis does not follow, make it unbounded: such a constraint runs on all its
    targets in an incremental build."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    try:
        parsed = prepareQuery(query.replace(FOCUS_MARK, ""))
    except Exception:  # noqa: BLE001 - rdflib raises many kinds; unbounded is safe
        return Reach(None, None, True)
    patterns: list[tuple[Any, Any, Any]] = []
    unbounded = False

    def walk(node: Any) -> None:
        nonlocal unbounded
        if isinstance(node, CompValue):
            if node.name in ("ToMultiSet", "SubSelect"):  # a query inside the query: its
                unbounded = True  # variables are its own, and it may read any triple
            if node.name in ("BGP", "TriplesBlock"):
                patterns.extend(tuple(t) for t in node.triples if len(t) == 3)
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    walk(parsed.algebra)
    from rdflib.paths import InvPath, SequencePath
    from rdflib.paths import Path as RdfPath

    edges: list[tuple[Any, str | None, Any, int]] = []
    for s, p, o in patterns:
        if isinstance(p, InvPath) and isinstance(p.arg, URIRef):
            s, p, o = o, p.arg, s
        if isinstance(p, RdfPath):
            if isinstance(p, SequencePath) and all(isinstance(x, URIRef) for x in p.args):
                edges.append((s, " ".join(str(x) for x in p.args), o, len(p.args)))
                continue
            unbounded = True
            continue
        edges.append((s, str(p) if isinstance(p, URIRef) else None, o, 1))
    if unbounded:
        return Reach(None, None, True)
    this = rdflib.Variable("this")
    distance: dict[rdflib.term.Node, int] = {this: 0}
    backward = False
    changed = True
    while changed:
        changed = False
        for s, _p, o, length in edges:
            for a, b, direction in ((s, o, "forward"), (o, s, "backward")):
                if a in distance and b not in distance and isinstance(b, (rdflib.Variable,
                                                                           BNode)):
                    distance[b] = distance[a] + length
                    changed = True
                    backward = backward or direction == "backward"
    ends = []
    for s, p, o, length in edges:
        reached = [t for t in (s, o) if t in distance]
        if not reached:  # a pattern that does not start from ?this reads the whole graph
            return Reach(None, None, True)
        near = min(reached, key=lambda t: distance[t])
        far = o if near is s else s
        ends.append((near, far, p, length))
    nears = {near for near, _, _, _ in ends}
    depth = max((distance[near] + length for near, _, _, length in ends), default=1)
    through: set[str] = set()
    any_predicate = False
    for near, far, p, _ in ends:
        if p is not None and " " in p:  # a sequence path goes through all but its last step
            through.update(p.split(" ")[:-1])
        if far in nears and far != near:  # the far node's triples are read in turn
            if p is None:
                any_predicate = True
            else:
                through.update(p.split(" "))
    return Reach(max(depth, 1), None if any_predicate else frozenset(through), backward)


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _compiled(key: int, shapes: Graph) -> tuple[Constraint, ...]:
    return tuple(Compiler(shapes).compile())


def compile_shapes(shapes: Graph) -> tuple[Constraint, ...]:
    """Every constraint of the shapes graph (raises ShapesNotSupported otherwise)."""
    return _compiled(id(shapes), shapes)


class Runner:
    """Runs compiled constraints over a store (the union of its graphs).

    Constraints on the same focus nodes are checked together: one query per target
    computes, for each focus node, whether it violates each constraint; the value nodes
    of a violation are then looked up for the flagged focus nodes only. SHACL-SPARQL
    constraints run as queries of their own.
    """

    def __init__(self, store: ox.Store, constraints: Sequence[Constraint]) -> None:
        self.store = store
        self.constraints = list(constraints)
        texts = [c.query for c in constraints] + [c.test or "" for c in constraints] \
            + [c.target for c in constraints] + [c.query_all or "" for c in constraints]
        classes = sorted({m.group(2) for t in texts for m in INSTANCE_MARK.finditer(t)})
        self.subclasses = {c: self._subclasses(c) for c in classes}
        self.counter = 0

    def _subclasses(self, cls: str) -> list[str]:
        rows = select(self.store, f"SELECT DISTINCT ?c WHERE {{ ?c <{SUBCLASS}>* <{cls}> }}",
                                use_default_graph_as_union=True)
        found = {r[0].value for r in rows if isinstance(r[0], ox.NamedNode)}
        return sorted(found | {cls})

    def expand(self, text: str, focus: bool = False) -> str:
        """`text` with its instance marks expanded. Where the node is bound (`?this`
        restricted to given nodes, with `focus`; a value node tested inside EXISTS), its
        classes are a filter, not a VALUES clause: Oxigraph's planner would join the
        VALUES first and look each class up, or, with more focus nodes than classes,
        start from the smaller VALUES and read every instance of the classes (5 s a query
        at 100k measures, for a dozen nodes), where the filter reads the node's own
        types. A target's unbound ?this keeps the VALUES clause, which reads each class's
        instances rather than every typed node."""
        def replace(m: re.Match[str]) -> str:
            self.counter += 1
            var = f"?t_{self.counter}"
            classes = [f"<{c}>" for c in self.subclasses[m.group(2)]]
            if m.group(3) or (focus and m.group(1) == "?this"):
                return f"{m.group(1)} <{RDF_TYPE}> {var} FILTER({var} IN ({', '.join(classes)}))"
            return f"{m.group(1)} <{RDF_TYPE}> {var} . VALUES {var} {{ {' '.join(classes)} }}"
        return INSTANCE_MARK.sub(replace, text)

    def tasks(self) -> list[tuple[str, list[Constraint]]]:
        grouped: dict[str, list[Constraint]] = {}
        tasks: list[tuple[str, list[Constraint]]] = []
        for c in self.constraints:
            if c.test is None:
                tasks.append(("query", [c]))
            else:
                grouped.setdefault(c.target, []).append(c)
        for group in grouped.values():
            for i in range(0, len(group), 40):
                tasks.append(("tests", group[i:i + 40]))
        return tasks

    def run(self, focus: Iterable[Term] | None = None, workers: int = 1,
            progress: Callable[[int, int], None] | None = None) -> list[Violation]:
        focus_list = list(focus) if focus is not None else None
        if focus_list is not None and not focus_list:
            return []
        tasks = self.tasks()
        out: list[Violation] = []
        done = 0

        def one(task: tuple[str, list[Constraint]]) -> list[Violation]:
            kind, group = task
            if kind == "query":
                c = group[0]
                query = c.query_all if focus_list is None and c.query_all else c.query
                return list(self._query(c, query, focus_list))
            return self._tests(group, focus_list)

        if workers <= 1:
            results: Iterable[list[Violation]] = map(one, tasks)
            for found in results:
                out += found
                done += 1
                if progress:
                    progress(done, len(tasks))
            return out
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rivalry-shacl") as pool:
            for found in pool.map(one, tasks):
                out += found
                done += 1
                if progress:
                    progress(done, len(tasks))
        return out

    def _tests(self, group: list[Constraint], focus: list[Term] | None) -> list[Violation]:
        target = group[0].target
        flags = " ".join(f"BIND(COALESCE({c.test}, false) AS ?b{i})"
                         for i, c in enumerate(group))
        anyone = " || ".join(f"?b{i}" for i in range(len(group)))
        names = " ".join(f"?b{i}" for i in range(len(group)))
        query = (f"SELECT ?this {names} WHERE {{ {{ SELECT DISTINCT ?this WHERE {{ "
                 f"{FOCUS_MARK} {{ {target} }} }} }} {flags} FILTER({anyone}) }}")
        out: list[Violation] = []
        flagged: dict[int, list[Term]] = {}
        for solution in self._solutions(query, focus):
            this = solution["this"]  # every variable projected is a key, None if unbound
            for i, c in enumerate(group):
                flag = solution[f"b{i}"]
                if flag is None or flag.value != "true":
                    continue
                if c.per_value:
                    flagged.setdefault(i, []).append(this)
                else:
                    out.append(Violation(c, this, this if c.value_is_focus else None,
                                         {"this": this}))
        for i, nodes in sorted(flagged.items()):
            out += self._query(group[i], group[i].query, nodes)
        return out

    def _query(self, c: Constraint, query: str, focus: list[Term] | None
               ) -> Iterator[Violation]:
        for bindings in self._solutions(query, focus):
            this = bindings.get("this")
            if this is None:
                continue
            value = bindings.get("value")
            if value is None and c.value_is_focus:
                value = this
            yield Violation(c, this, value, bindings)

    def _solutions(self, query: str, focus: list[Term] | None,
                   batch: int = 2000) -> Iterator[dict[str, Any]]:
        query = self.expand(query, focus=focus is not None)
        if focus is None:
            yield from _Solutions(self.store, query.replace(FOCUS_MARK, ""))
            return
        iris = sorted({t.value for t in focus if isinstance(t, ox.NamedNode)})
        for i in range(0, len(iris), batch):
            values = "VALUES ?this { " + " ".join(f"<{x}>" for x in iris[i:i + batch]) + " }"
            yield from _Solutions(self.store, query.replace(FOCUS_MARK, values))
        others = {t for t in focus if not isinstance(t, ox.NamedNode)}
        for term in others:
            yield from _Solutions(self.store, query.replace(FOCUS_MARK, ""), term)


class _Solutions:
    """The solutions of a query, each a new dictionary of its variables' values (None
    where unbound), made from the solution's values in one call: the runner's threads
    spend their time with Python's interpreter lock on as little per row as it can."""

    def __init__(self, store: ox.Store, query: str, this: Term | None = None) -> None:
        options: dict[str, Any] = {"use_default_graph_as_union": True}
        if this is not None:
            options["substitutions"] = {ox.Variable("this"): this}
        self.solutions = select(store, query, **options)
        self.names = [v.value for v in self.solutions.variables]
        self.this = this

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names, this = self.names, self.this
        for solution in self.solutions:
            row = dict(zip(names, solution, strict=True))
            if this is not None:
                row["this"] = this
            yield row


def run_constraints(store: ox.Store, constraints: Sequence[Constraint],
                    focus: Iterable[Term] | None = None, workers: int = 1,
                    progress: Callable[[int, int], None] | None = None) -> list[Violation]:
    """Every violation of the constraints over the union of the store's graphs; with
    `focus`, only those of these focus nodes."""
    return Runner(store, constraints).run(focus, workers, progress)
