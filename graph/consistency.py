"""Consistency at scale: HermiT on the ontology and a summary of the facts, with the checks
that name the facts at fault run over every fact.

HermiT on every individual needs a Java heap that grows with the graph (it runs out of
2 GB at 100,000 measures). But the facts of a large graph are made of few kinds of
individual: a sanction issued by an agency, citing two sources, targeting companies. The
summary (ABox summarisation: Fokoue et al., "The Summary Abox", ISWC 2006) keeps one
representative individual per kind, where the kind of an individual is the set of its
types, of the properties it has and of those pointing to it (and of the datatypes of its
values); every assertion between two individuals becomes one between their
representatives. The map from individuals to representatives preserves every
assertion, so a model of the summary gives a model of the facts: if HermiT finds the
summary consistent, the facts are. Individuals named in the ontology, or in schema
triples of the facts (owl:sameAs, class axioms), are kept as themselves.

The summary can only err the other way: merging individuals could make HermiT find a
contradiction no single individual has (it cannot with this ontology, which has no
functional properties or universal restrictions; see docs/architecture.md). Then the
whole graph is given to HermiT, which decides.

HermiT names no culprits, so checks over every fact find and name them: individuals
whose types clash with a disjointness axiom, counting the types that follow from the
class hierarchy and from the domains and ranges of their properties; literals that are
not valid for their datatype or outside their property's range; two values of a
functional property.

HermiT runs as a Java program (shipped with owlready2), here started directly so that
its heap, its time limit and its failures are under our control.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from rivalry.graph import (
    DERIVED_GRAPH,
    GRAPH_BASE,
    INFERRED_GRAPH,
    ONTOLOGY_GRAPH,
    Subject,
    Term,
    term_value,
)
from rivalry.graph.errors import ReasonerUnavailable
from rivalry.graph.terms import prefixed_name

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = RDF + "type"
SCHEMA_NAMESPACES = (RDF, RDFS, OWL)

#: Annotation properties of RDFS and OWL: no logical meaning, left out of the summary.
BUILTIN_ANNOTATIONS = {RDFS + "label", RDFS + "comment", RDFS + "seeAlso",
                       RDFS + "isDefinedBy", OWL + "versionInfo", OWL + "deprecated",
                       OWL + "priorVersion", OWL + "backwardCompatibleWith",
                       OWL + "incompatibleWith"}

#: Types that say nothing about which kind an individual is.
NEUTRAL_TYPES = {OWL + "Thing", OWL + "NamedIndividual"}
#: The features of an individual with none yet (the sets are shared, see Features).
NO_FEATURES: frozenset[str] = frozenset()

#: OWL vocabulary the summary preserves. An ontology using anything else (nominals,
#: cardinalities, keys, datatype facets...) is checked by HermiT on every individual.
SUPPORTED_SCHEMA = {
    RDF_TYPE, RDF + "first", RDF + "rest", RDF + "nil", RDF + "List",
    RDFS + "subClassOf", RDFS + "subPropertyOf", RDFS + "domain", RDFS + "range",
    RDFS + "Class", RDFS + "Datatype", RDFS + "Literal", RDF + "Property",
    RDF + "langString", RDF + "PlainLiteral",
    OWL + "Class", OWL + "ObjectProperty", OWL + "DatatypeProperty",
    OWL + "AnnotationProperty", OWL + "Ontology", OWL + "imports", OWL + "versionIRI",
    OWL + "equivalentClass", OWL + "equivalentProperty", OWL + "disjointWith",
    OWL + "AllDisjointClasses", OWL + "members", OWL + "inverseOf",
    OWL + "propertyChainAxiom", OWL + "SymmetricProperty", OWL + "TransitiveProperty",
    OWL + "AsymmetricProperty", OWL + "IrreflexiveProperty", OWL + "ReflexiveProperty",
    OWL + "FunctionalProperty", OWL + "InverseFunctionalProperty", OWL + "unionOf",
    OWL + "intersectionOf", OWL + "Thing", OWL + "Nothing", OWL + "NamedIndividual",
    OWL + "sameAs", OWL + "differentFrom", OWL + "AllDifferent", OWL + "distinctMembers",
    OWL + "propertyDisjointWith", OWL + "AllDisjointProperties",
    OWL + "topObjectProperty", OWL + "bottomObjectProperty",
    OWL + "topDataProperty", OWL + "bottomDataProperty",
} | BUILTIN_ANNOTATIONS

#: Datatypes outside the OWL 2 datatype map that HermiT rejects, and what the reasoner's
#: input uses instead. Their lexical forms are checked first, so nothing ill-typed slips
#: through as a string. Ordering of dates is SHACL's business.
HERMIT_DATATYPE_REWRITES = {
    XSD + "date": XSD + "string",
    XSD + "gYearMonth": XSD + "string",
    XSD + "gYear": XSD + "string",
}

#: Families of datatypes whose value spaces are disjoint in the OWL 2 datatype map.
FAMILIES = {
    **{XSD + n: "number" for n in (
        "decimal", "integer", "nonNegativeInteger", "nonPositiveInteger",
        "positiveInteger", "negativeInteger", "long", "int", "short", "byte",
        "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte")},
    XSD + "double": "double", XSD + "float": "float",
    XSD + "string": "string", XSD + "normalizedString": "string", XSD + "token": "string",
    XSD + "language": "string", XSD + "Name": "string", XSD + "NCName": "string",
    XSD + "NMTOKEN": "string", RDF + "PlainLiteral": "plain", RDF + "langString": "plain",
    XSD + "boolean": "boolean", XSD + "hexBinary": "hex", XSD + "base64Binary": "base64",
    XSD + "anyURI": "uri", XSD + "dateTime": "time", XSD + "dateTimeStamp": "time",
    RDF + "XMLLiteral": "xml",
    # dates, months and years go to HermiT as strings
    XSD + "date": "string", XSD + "gYearMonth": "string", XSD + "gYear": "string",
}
#: Each datatype's own value space, for the ranges a literal certainly meets.
SUBTYPES = {
    XSD + "integer": {XSD + "decimal"},
    XSD + "nonNegativeInteger": {XSD + "integer", XSD + "decimal"},
    XSD + "long": {XSD + "integer", XSD + "decimal"},
    XSD + "int": {XSD + "long", XSD + "integer", XSD + "decimal"},
    XSD + "dateTimeStamp": {XSD + "dateTime"},
}

SUMMARY_BASE = "urn:rivalry:summary:"


class ReasonerFailed(ReasonerUnavailable):
    """HermiT could not give an answer: Java is missing, it ran out of memory or time, or
    it crashed. The message says which setting or fix to try."""


@dataclass
class ConsistencyReport:
    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    culprits: list[str] = field(default_factory=list)
    rewritten_literals: int = 0
    message: str = ""
    #: How it was checked: "summary", "full" (every individual), "unchanged" (an
    #: incremental build whose summary adds nothing HermiT has not seen consistent).
    method: str = "summary"
    individuals: int = 0
    kinds: int = 0
    hermit_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.consistent and not self.unsatisfiable


# ---------------------------------------------------------------------------------------
# The TBox: what the ontology (and schema triples of the facts) say
# ---------------------------------------------------------------------------------------


@dataclass
class TBox:
    triples: list[ox.Triple]
    annotations: set[str]
    superclasses: dict[str, set[str]]
    superproperties: dict[str, set[str]]
    domains: dict[str, set[str]]
    ranges: dict[str, set[str]]
    data_ranges: dict[str, list[set[str]]]
    object_properties: set[str]
    data_properties: set[str]
    functional: set[str]
    inverse_functional: set[str]
    disjoint: set[frozenset[str]]
    unsupported: list[str]
    individuals: set[Term]

    @classmethod
    def read(cls, triples: Iterable[ox.Triple]) -> TBox:
        triples = list(triples)
        by_subject: dict[Term, list[ox.Triple]] = defaultdict(list)
        for t in triples:
            by_subject[t.subject].append(t)

        def objects(s: Term, p: str) -> list[Term]:
            return [t.object for t in by_subject.get(s, ()) if t.predicate.value == p]

        def rdf_list(head: Term) -> list[Term]:
            items: list[Term] = []
            while not (isinstance(head, ox.NamedNode) and head.value == RDF + "nil"):
                first, rest = objects(head, RDF + "first"), objects(head, RDF + "rest")
                if not first or not rest or len(items) > 10_000:
                    break
                items.append(first[0])
                head = rest[0]
            return items

        annotations = set(BUILTIN_ANNOTATIONS) | {
            term_value(t.subject) for t in triples
            if t.predicate.value == RDF_TYPE and isinstance(t.object, ox.NamedNode)
            and t.object.value == OWL + "AnnotationProperty"}
        object_properties: set[str] = set()
        data_properties: set[str] = set()
        functional: set[str] = set()
        inverse_functional: set[str] = set()
        sub_class: dict[str, set[str]] = defaultdict(set)
        sub_prop: dict[str, set[str]] = defaultdict(set)
        domains: dict[str, set[str]] = defaultdict(set)
        ranges: dict[str, set[str]] = defaultdict(set)
        data_ranges: dict[str, list[set[str]]] = defaultdict(list)
        disjoint: set[frozenset[str]] = set()
        unsupported: set[str] = set()
        individuals: set[Term] = set()
        datatype_unions: dict[Term, set[str]] = {}
        for t in triples:
            s, p, o = t.subject, t.predicate.value, t.object
            if p.startswith(SCHEMA_NAMESPACES) and p not in SUPPORTED_SCHEMA:
                unsupported.add(p)
            if p == RDF_TYPE and isinstance(o, ox.NamedNode):
                if o.value.startswith(SCHEMA_NAMESPACES) and o.value not in SUPPORTED_SCHEMA:
                    unsupported.add(o.value)
                kind = o.value
                if kind == OWL + "AnnotationProperty":
                    annotations.add(term_value(s))
                elif kind == OWL + "ObjectProperty":
                    object_properties.add(term_value(s))
                elif kind == OWL + "DatatypeProperty":
                    data_properties.add(term_value(s))
                elif kind == OWL + "FunctionalProperty":
                    functional.add(term_value(s))
                elif kind == OWL + "InverseFunctionalProperty":
                    inverse_functional.add(term_value(s))
                elif not kind.startswith(SCHEMA_NAMESPACES) and isinstance(s, ox.NamedNode):
                    individuals.add(s)  # an individual of the ontology, such as a concept
            elif p == RDFS + "subClassOf" and isinstance(o, ox.NamedNode):
                sub_class[term_value(s)].add(term_value(o))
            elif p == OWL + "equivalentClass" and isinstance(o, ox.NamedNode) \
                    and isinstance(s, ox.NamedNode):
                sub_class[s.value].add(o.value)
                sub_class[o.value].add(s.value)
            elif p in (RDFS + "subPropertyOf", OWL + "equivalentProperty"):
                sub_prop[term_value(s)].add(term_value(o))
                if p == OWL + "equivalentProperty":
                    sub_prop[term_value(o)].add(term_value(s))
            elif p == RDFS + "domain" and isinstance(o, ox.NamedNode):
                domains[term_value(s)].add(term_value(o))
            elif p == RDFS + "range" and isinstance(o, ox.NamedNode):
                ranges[term_value(s)].add(term_value(o))
            elif p == OWL + "disjointWith":
                disjoint.add(frozenset((term_value(s), term_value(o))))
            elif p == OWL + "members":
                if any(term_value(x.object) == OWL + "AllDisjointClasses"
                       for x in by_subject[s] if x.predicate.value == RDF_TYPE):
                    members = [term_value(m) for m in rdf_list(o)]
                    for i, a in enumerate(members):
                        for b in members[i + 1:]:
                            disjoint.add(frozenset((a, b)))
            elif p == OWL + "unionOf":
                if any(term_value(x.object) == RDFS + "Datatype"
                       for x in by_subject[s] if x.predicate.value == RDF_TYPE):
                    datatype_unions[s] = {term_value(m) for m in rdf_list(o)}
            elif not p.startswith(SCHEMA_NAMESPACES) and p not in annotations:
                for term in (s, o):
                    if isinstance(term, ox.NamedNode):
                        individuals.add(term)  # an individual the ontology asserts about
        # named datatypes defined as unions (rv:DateValue)
        named_unions: dict[str, set[str]] = {}
        for t in triples:
            if t.predicate.value == OWL + "equivalentClass" and t.object in datatype_unions:
                named_unions[term_value(t.subject)] = datatype_unions[t.object]
        for prop, kinds in list(ranges.items()):
            datatypes = [named_unions.get(k, {k}) for k in kinds
                         if k in named_unions or k.startswith((XSD, RDF + "langString",
                                                               RDF + "PlainLiteral",
                                                               RDFS + "Literal"))]
            if datatypes:
                data_ranges[prop] = datatypes
                ranges[prop] = {k for k in kinds if k not in named_unions
                                and not k.startswith((XSD, RDF, RDFS + "Literal"))}
        superclasses = transitive_closure(sub_class)
        superproperties = transitive_closure(sub_prop)
        inverses: set[tuple[str, str]] = set()
        for t in triples:
            if t.predicate.value == OWL + "inverseOf" and isinstance(t.object, ox.NamedNode):
                subject, object_ = term_value(t.subject), term_value(t.object)
                inverses |= {(subject, object_), (object_, subject)}
            elif (term_value(t.predicate) == RDF_TYPE
                  and term_value(t.object) == OWL + "SymmetricProperty"):
                inverses.add((term_value(t.subject), term_value(t.subject)))

        def inherit() -> None:
            # a superproperty's domain and range hold for its subproperties
            for prop, sups in superproperties.items():
                for sup in sups:
                    domains[prop] |= domains.get(sup, set())
                    ranges[prop] |= ranges.get(sup, set())
                    if sup in data_ranges:
                        data_ranges[prop] = data_ranges[prop] + data_ranges[sup]

        inherit()
        # the domain of a property's inverse is its range, and the other way round
        for p, q in inverses:
            ranges[p] |= domains.get(q, set())
            domains[p] |= ranges.get(q, set())
        inherit()
        for prop in data_ranges:  # the same union of datatypes may come twice
            unique: list[set[str]] = []
            for union in data_ranges[prop]:
                if union not in unique:
                    unique.append(union)
            data_ranges[prop] = unique
        return cls(triples=triples, annotations=annotations, superclasses=superclasses,
                   superproperties=superproperties, domains=dict(domains),
                   ranges=dict(ranges), data_ranges=dict(data_ranges),
                   object_properties=object_properties, data_properties=data_properties,
                   functional=functional, inverse_functional=inverse_functional,
                   disjoint=disjoint, unsupported=sorted(unsupported),
                   individuals=individuals)

    def closed(self, classes: Iterable[str]) -> set[str]:
        out = set()
        for c in classes:
            out.add(c)
            out |= self.superclasses.get(c, set())
        return out

    def clashes(self, classes: set[str]) -> list[tuple[str, str]]:
        return sorted(tuple(sorted(pair)) for pair in self.disjoint  # type: ignore[misc]
                      if pair <= classes and len(pair) == 2)

    def range_check(self, prop: str, datatype: str) -> str:
        """'ok' when every literal of `datatype` meets the property's ranges, 'no' when
        none can, 'value' when it depends on the value (HermiT decides)."""
        ranges = self.data_ranges.get(prop)
        if not ranges:
            return "ok"
        verdict = "ok"
        for union in ranges:
            if RDFS + "Literal" in union or datatype in union \
                    or union & SUBTYPES.get(datatype, set()):
                continue
            family = FAMILIES.get(datatype)
            if family is not None and all(FAMILIES.get(d) not in (family, None) for d in union):
                return "no"
            verdict = "value"
        return verdict


def transitive_closure(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """For each node with edges, every node reachable from it (itself only through a
    cycle left out); the class and property hierarchies of the checks and the rules."""
    closed: dict[str, set[str]] = {}
    for start in edges:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            node = todo.pop()
            if node not in seen and node != start:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        closed[start] = seen
    return closed


# ---------------------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------------------


def is_schema_triple(p: str, o: Term) -> bool:
    """A triple of the facts that says something about classes or properties, or about
    the identity of individuals: it goes to HermiT as it is."""
    if p == RDF_TYPE:
        return isinstance(o, ox.NamedNode) and o.value.startswith(SCHEMA_NAMESPACES) \
            and o.value not in NEUTRAL_TYPES
    return p.startswith(SCHEMA_NAMESPACES) and p not in BUILTIN_ANNOTATIONS


def data_graphs(store: ox.Store) -> list[ox.NamedNode]:
    """The graphs of a build that hold facts and what follows from them (every graph but
    the ontology's, the derived one, which an incremental build keeps from the previous
    build while it checks, and temporary ones)."""
    return [g for g in store.named_graphs() if isinstance(g, ox.NamedNode)
            and g.value.startswith(GRAPH_BASE)
            and g.value not in (ONTOLOGY_GRAPH, DERIVED_GRAPH)]


#: How a predicate's triples count for the summary (decided once per predicate).
SKIP, SCHEMA, TYPE, ASSERTION = range(4)


@dataclass
class Assertions:
    """The assertions of the facts, between individuals (subject, property, object) and of
    values (subject, property, the value's representative in the summary), as numbers:
    a node's number is its place in `Features.nodes`, a property's in `properties`, a
    value's in `texts`. Three machine integers per assertion, where a Python object per
    triple (tens of millions at a million measures) would not fit; counted by `counts`
    in C loops."""

    properties: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    #: (subjects, properties, objects) of the assertions between individuals
    edges: tuple[array, array, array] = field(
        default_factory=lambda: (array("l"), array("l"), array("l")))
    #: (subjects, properties, values) of the assertions of values
    values: tuple[array, array, array] = field(
        default_factory=lambda: (array("l"), array("l"), array("l")))

    def __post_init__(self) -> None:
        self._properties: dict[str, int] = {}
        self._texts: dict[str, int] = {}
        #: the representative of the values of a property and datatype (or language),
        #: None where it is each value itself (its range depends on it)
        self._representatives: dict[tuple[str, str], str | None] = {}

    def property(self, p: str) -> int:
        found = self._properties.get(p)
        if found is None:
            found = self._properties[p] = len(self.properties)
            self.properties.append(p)
        return found

    def value(self, s: int, p: str, o: ox.Literal, tbox: TBox) -> None:
        language = o.language
        cache = (p, "@" + language) if language else (p, o.datatype.value)
        text = self._representatives.get(cache, "")
        if text == "":
            text = _literal_text(o, p, tbox)
            # the literal itself stands for itself (its value counts): not kept by kind
            by_value = not text.startswith('"x"@') and text == str(o)
            self._representatives[cache] = None if by_value else text
        elif text is None:
            text = str(o)
        number = self._texts.get(text)
        if number is None:
            number = self._texts[text] = len(self.texts)
            self.texts.append(text)
        subjects, properties, values = self.values
        subjects.append(s)
        properties.append(self.property(p))
        values.append(number)

    def counts(self, keys: list[str]) -> tuple[Counter, Counter]:
        """How many assertions there are of each (key, property, key) and (key, property,
        value), with each node's key at its number in `keys`."""
        of_node, of_property = keys.__getitem__, self.properties.__getitem__
        s, p, o = self.edges
        edges = Counter(zip(map(of_node, s), map(of_property, p), map(of_node, o),
                            strict=True))
        s, p, v = self.values
        values = Counter(zip(map(of_node, s), map(of_property, p),
                             map(self.texts.__getitem__, v), strict=True))
        return edges, values


class _Owned(Mapping[Term, frozenset[str]]):
    """Each node's features, read by node (`Features.features`)."""

    def __init__(self, features: Features) -> None:
        self._numbers, self._owns = features.numbers, features.owns

    def __getitem__(self, node: Term) -> frozenset[str]:
        return self._owns[self._numbers[node]]

    def __contains__(self, node: object) -> bool:
        return node in self._numbers

    def __iter__(self) -> Iterator[Term]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)


@dataclass
class Features:
    """What the kind of each individual is made of, gathered from the facts."""

    tbox: TBox
    schema: set[ox.Triple] = field(default_factory=set)
    identity: set[Term] = field(default_factory=set)
    literals: dict[ox.Literal, list[tuple[Term, str]]] = field(default_factory=dict)
    functional_values: dict[tuple[Term, str], set[Term]] = field(default_factory=dict)
    #: With `keep`, the assertions between individuals and of values, as numbers, for
    #: `summarise` to count without reading the store again.
    keep: bool = False
    assertions: Assertions = field(default_factory=lambda: Assertions())
    #: The nodes of annotation triples (which say nothing of kinds, so have no features):
    #: kept so that the IRIs the facts use can be read off this pass (rivalry.graph.build.
    #: terms_used), every one of them.
    annotated: set[Term] = field(default_factory=set)

    def __post_init__(self) -> None:
        #: Each node with features (or a type that says nothing of kinds), numbered in
        #: the order met: `nodes[n]` is node number n, `numbers` the reverse, `owns[n]`
        #: its features, one shared frozenset per distinct combination (a few hundred
        #: kinds for millions of individuals), never changed in place.
        self.nodes: list[Term] = []
        self.numbers: dict[Term, int] = {}
        self.owns: list[frozenset[str]] = []
        self._kinds: dict[str, int] = {}
        self._strings: dict[Any, Any] = {}
        self._grown: dict[tuple[frozenset[str], str], frozenset[str]] = {}
        self._texts: dict[frozenset[str], str] = {}

    @property
    def features(self) -> Mapping[Term, frozenset[str]]:
        """Each individual's features, by node."""
        return _Owned(self)

    def _number(self, node: Term) -> int:
        found = self.numbers.get(node)
        if found is None:
            found = self.numbers[node] = len(self.nodes)
            self.nodes.append(node)
            self.owns.append(NO_FEATURES)
        return found

    def _give(self, node: Term, feature: str) -> int:
        """Add a feature to a node's set: the set that results is shared by every node
        with the same features (not a set per node: millions of them at a million
        measures). Returns the node's number."""
        number = self.numbers.get(node)
        if number is None:
            number = self._number(node)
        owns = self.owns
        before = owns[number]
        after = self._grown.get((before, feature))
        if after is None:
            after = self._grown[(before, feature)] = before | {feature}
        owns[number] = after
        return number

    def text(self, own: frozenset[str]) -> str:
        """The kind made of these features, as text (one string per distinct set)."""
        found = self._texts.get(own)
        if found is None:
            found = self._texts[own] = "\n".join(sorted(own))
        return found

    def kind(self, p: str) -> int:
        found = self._kinds.get(p)
        if found is None:
            if p in self.tbox.annotations:
                found = SKIP
            elif p == RDF_TYPE:
                found = TYPE
            elif p.startswith(SCHEMA_NAMESPACES) and p not in BUILTIN_ANNOTATIONS:
                found = SCHEMA
            else:
                found = ASSERTION
            self._kinds[p] = found
        return found

    def add(self, s: Subject, p: str, o: Term) -> None:
        kind = self.kind(p)
        if kind == SKIP:
            self.annotated.add(s)
            if not isinstance(o, ox.Literal):
                self.annotated.add(o)
            return
        if kind == SCHEMA or (kind == TYPE and is_schema_triple(p, o)):
            self.schema.add(ox.Triple(s, ox.NamedNode(p), o))
            self.identity.add(s)
            if not isinstance(o, ox.Literal):
                self.identity.add(o)
            return
        give = self._give
        strings = self._strings
        if kind == TYPE:
            value = term_value(o)
            if value not in NEUTRAL_TYPES:
                name = strings.get(value)
                if name is None:
                    name = strings[value] = "t " + value
                give(s, name)
            elif s not in self.numbers:
                self._number(s)
            return
        if isinstance(o, ox.Literal):
            cached = strings.get((p, o.datatype.value if not o.language else "@"))
            if cached is None:
                cached = self._literal_kind(p, o)
            feature, by_value, checked = cached
            number = give(s, feature + " = " + o.value if by_value else feature)
            if checked:
                uses = self.literals.get(o)
                if uses is None:
                    uses = self.literals[o] = []
                if len(uses) < 5:
                    uses.append((s, p))
            if self.keep:
                self.assertions.value(number, p, o, self.tbox)
        else:
            names = strings.get(p)
            if names is None:
                names = strings[p] = ("o " + p, "i " + p, self.assertions.property(p))
            number = give(s, names[0])
            other = give(o, names[1])
            if self.keep:
                subjects, properties, objects = self.assertions.edges
                subjects.append(number)
                properties.append(names[2])
                objects.append(other)
        tbox = self.tbox
        if tbox.functional or tbox.inverse_functional:
            if p in tbox.functional:
                self.functional_values.setdefault((s, p), set()).add(o)
            if p in tbox.inverse_functional:
                self.functional_values.setdefault((o, "^" + p), set()).add(s)

    def _literal_kind(self, p: str, o: ox.Literal) -> tuple[str, bool, bool]:
        """For literals of a property and datatype: their feature, whether their value
        counts (when the range depends on it), whether they need checking."""
        datatype = "@" if o.language else o.datatype.value
        checked_type = RDF + "langString" if o.language else datatype
        by_value = not o.language and self.tbox.range_check(p, datatype) == "value"
        checked = (checked_type.startswith(XSD) and checked_type != XSD + "string") \
            or self.tbox.range_check(p, checked_type) != "ok"
        found = (f"d {p} {datatype}", by_value, checked)
        self._strings[(p, datatype)] = found
        return found

    def key(self, node: Term) -> str:
        if node in self.identity or node in self.tbox.individuals:
            return "= " + str(node)
        number = self.numbers.get(node)
        return self.text(NO_FEATURES if number is None else self.owns[number])


def inferred_kept(store: ox.Store) -> frozenset[str]:
    """The inferred properties the summary reads: those of property chains and transitive
    properties. The other inferred triples (types from the class hierarchy, triples of
    superproperties and inverses) follow from asserted ones by axioms HermiT has, and the
    checks that name culprits follow those axioms too (TBox.read): leaving them out keeps
    the summary sound and reads a third less of the store."""
    from rivalry.graph.reason import rules_from_ontology

    rules = rules_from_ontology(store)
    return frozenset({head for head, _ in rules.chains} | set(rules.transitive))


def counted(q: ox.Quad, kept: frozenset[str]) -> bool:
    """Whether a quad of a data graph counts for the summary."""
    return term_value(q.graph_name) != INFERRED_GRAPH or term_value(q.predicate) in kept


def quads_of(store: ox.Store, graphs: list[ox.NamedNode], kept: frozenset[str]
             ) -> Iterator[ox.Quad]:
    """The quads of the data graphs the summary reads."""
    inferred = ox.NamedNode(INFERRED_GRAPH)
    for graph in graphs:
        if graph == inferred:
            for p in sorted(kept):
                yield from store.quads_for_pattern(None, ox.NamedNode(p), None, graph)
        else:
            yield from store.quads_for_pattern(None, None, None, graph)


def gather(store: ox.Store, tbox: TBox, graphs: list[ox.NamedNode], *,
           kept: frozenset[str] | None = None) -> Features:
    """The features of every individual of the facts and the assertions between them,
    for the summary, in one pass over the store."""
    features = Features(tbox, keep=True)
    add = features.add
    kept = inferred_kept(store) if kept is None else kept
    for q in quads_of(store, graphs, kept):
        add(q.subject, q.predicate.value, q.object)
    return features


def representative(key: str, index: int) -> ox.NamedNode | ox.BlankNode:
    if key.startswith("= "):
        text = key[2:]
        return ox.NamedNode(text[1:-1]) if text.startswith("<") else ox.BlankNode(text[2:])
    return ox.NamedNode(f"{SUMMARY_BASE}k{index}")


@dataclass
class Summary:
    """The summary ABox: kinds (keys) with how many individuals have each, the
    assertions between kinds, and a few individuals of each kind to name."""

    kinds: dict[str, int] = field(default_factory=dict)
    edges: Counter = field(default_factory=Counter)  # (key, property, key)
    values: Counter = field(default_factory=Counter)  # (key, property, literal)
    examples: dict[str, list[str]] = field(default_factory=dict)
    schema: set[ox.Triple] = field(default_factory=set)

    def items(self) -> set[tuple[str, ...]]:
        """Everything HermiT is given about the facts, as comparable items."""
        out: set[tuple[str, ...]] = {("kind", k) for k, n in self.kinds.items() if n > 0}
        out |= {("edge", *e) for e, n in self.edges.items() if n > 0}
        out |= {("value", *v) for v, n in self.values.items() if n > 0}
        out |= {("schema", str(t)) for t in self.schema}
        return out

    def triples(self) -> list[ox.Triple]:
        index = {k: i for i, k in enumerate(sorted(self.kinds))}
        reps = {k: representative(k, i) for k, i in index.items()}
        out: list[ox.Triple] = list(self.schema)
        type_ = ox.NamedNode(RDF_TYPE)
        for key, count in self.kinds.items():
            if count <= 0 or key.startswith("= "):
                continue
            for feature in key.split("\n"):
                if feature.startswith("t "):
                    out.append(ox.Triple(reps[key], type_, ox.NamedNode(feature[2:])))
        for (a, p, b), count in self.edges.items():
            if count > 0:
                out.append(ox.Triple(reps.get(a) or representative(a, -1), ox.NamedNode(p),
                                     reps.get(b) or representative(b, -1)))
        for (a, p, literal), count in self.values.items():
            if count > 0:
                out.append(ox.Triple(reps.get(a) or representative(a, -1), ox.NamedNode(p),
                                     _literal(literal)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "kinds": self.kinds,
            "edges": [[a, p, b, n] for (a, p, b), n in sorted(self.edges.items()) if n > 0],
            "values": [[a, p, v, n] for (a, p, v), n in sorted(self.values.items()) if n > 0],
            "examples": self.examples,
            "schema": sorted(str(t) for t in self.schema),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        schema = set()
        if data.get("schema"):
            text = "\n".join(data["schema"]).encode("utf-8") + b"\n"
            schema = {ox.Triple(q.subject, q.predicate, q.object)
                      for q in ox.parse(text, format=ox.RdfFormat.N_TRIPLES)}
        return cls(kinds=dict(data["kinds"]),
                   edges=Counter({(a, p, b): n for a, p, b, n in data["edges"]}),
                   values=Counter({(a, p, v): n for a, p, v, n in data["values"]}),
                   examples={k: list(v) for k, v in data.get("examples", {}).items()},
                   schema=schema)


def _literal_text(literal: ox.Literal, p: str, tbox: TBox) -> str:
    """The representative of a literal in the summary, as N-Triples: one per datatype
    (and language or not), or the literal itself when its range depends on its value."""
    if literal.language:
        return '"x"@' + literal.language.split("-")[0].lower()
    datatype = literal.datatype.value
    if tbox.range_check(p, datatype) == "value":
        return str(literal)
    return str(_typical(datatype, literal))


#: One valid value of each datatype, standing for all its literals in the summary.
TYPICAL = {
    XSD + "string": "x", XSD + "boolean": "true", XSD + "decimal": "0", XSD + "integer": "0",
    XSD + "nonNegativeInteger": "0", XSD + "nonPositiveInteger": "0",
    XSD + "positiveInteger": "1", XSD + "negativeInteger": "-1", XSD + "long": "0",
    XSD + "int": "0", XSD + "short": "0", XSD + "byte": "0", XSD + "unsignedLong": "0",
    XSD + "unsignedInt": "0", XSD + "unsignedShort": "0", XSD + "unsignedByte": "0",
    XSD + "double": "0.0E0", XSD + "float": "0.0E0", XSD + "date": "2000-01-01",
    XSD + "gYearMonth": "2000-01", XSD + "gYear": "2000",
    XSD + "dateTime": "2000-01-01T00:00:00Z", XSD + "dateTimeStamp": "2000-01-01T00:00:00Z",
    XSD + "anyURI": "http://example.org/", XSD + "hexBinary": "00",
    XSD + "base64Binary": "AA==", XSD + "normalizedString": "x", XSD + "token": "x",
    XSD + "language": "en", XSD + "Name": "x", XSD + "NCName": "x", XSD + "NMTOKEN": "x",
}


def _typical(datatype: str, literal: ox.Literal) -> ox.Literal:
    """A valid value of the datatype (the literal itself for one this table lacks)."""
    lexical = TYPICAL.get(datatype)
    return literal if lexical is None else ox.Literal(lexical, datatype=ox.NamedNode(datatype))


def _literal(text: str) -> ox.Literal:
    parsed = next(iter(ox.parse(f"<urn:s> <urn:p> {text} .".encode(),
                                format=ox.RdfFormat.N_TRIPLES)))
    assert isinstance(parsed.object, ox.Literal)
    return parsed.object


def summarise(features: Features, examples: int = 5) -> Summary:
    """The summary of the facts whose features and assertions were gathered (`gather`)."""
    if not features.keep:
        raise ValueError("the features were gathered without their assertions")
    summary = Summary(schema=set(features.schema))
    identity = features.identity | features.tbox.individuals
    keys: list[str] = []  # by node number
    for node, own in zip(features.nodes, features.owns, strict=True):
        k = ("= " + str(node)) if node in identity else features.text(own)
        keys.append(k)
        summary.kinds[k] = summary.kinds.get(k, 0) + 1
        shown = summary.examples.setdefault(k, [])
        if len(shown) < examples:
            shown.append(str(node))
    summary.edges, summary.values = features.assertions.counts(keys)
    edges = summary.edges
    for node in identity:  # individuals kept as themselves keep their types
        number = features.numbers.get(node)
        for t in features.owns[number] if number is not None else ():
            if t.startswith("t "):
                edges[("= " + str(node), RDF_TYPE, "= <" + t[2:] + ">")] += 1
    return summary


def add_assertion(summary: Summary, features: Features, key: Callable[[Subject], str],
                  s: Subject, p: str, o: Term, count: int) -> None:
    """Count one assertion of the facts (or take it away, with count -1) in the summary."""
    tbox = features.tbox
    if p in tbox.annotations or is_schema_triple(p, o):
        return
    ks = key(s)
    if p == RDF_TYPE:
        if ks.startswith("= "):  # an individual kept as itself keeps its types
            summary.edges[(ks, p, "= " + str(o))] += count
        return
    if isinstance(o, ox.Literal):
        summary.values[(ks, p, _literal_text(o, p, tbox))] += count
    else:
        summary.edges[(ks, p, key(o))] += count


# ---------------------------------------------------------------------------------------
# Checks that name culprits
# ---------------------------------------------------------------------------------------


def derived_types(key: str, tbox: TBox) -> dict[str, str]:
    """The classes an individual of this kind belongs to, each with why."""
    why: dict[str, str] = {}
    for feature in key.split("\n"):
        kind, _, rest = feature.partition(" ")
        if kind == "t":
            why.setdefault(rest, "asserted")
        elif kind in ("o", "d"):
            prop = rest.split(" ")[0]
            for c in tbox.domains.get(prop, ()):
                why.setdefault(c, f"domain of {short(prop)}")
        elif kind == "i":
            for c in tbox.ranges.get(rest, ()):
                why.setdefault(c, f"range of {short(rest)}")
    for c, reason in list(why.items()):
        for sup in tbox.superclasses.get(c, ()):
            why.setdefault(sup, reason)
    return why


def kind_culprits(kinds: Iterable[str], summary: Summary, tbox: TBox,
                  features: Features | None = None) -> list[str]:
    out = []
    for key in kinds:
        if key.startswith("= "):
            if features is None:
                continue
            node = representative(key, -1)
            own = "\n".join(sorted(features.features.get(node, ())))
            for a, b in tbox.clashes(set(derived_types(own, tbox))):
                out.append(f"{node} is both a {short(a)} and a {short(b)}, which the "
                           "ontology declares disjoint")
            continue
        why = derived_types(key, tbox)
        for a, b in tbox.clashes(set(why)):
            names = summary.examples.get(key, [])
            count = summary.kinds.get(key, len(names))
            more = f" (and {count - len(names)} more like it)" if count > len(names) else ""
            for name in names:
                out.append(f"{name} is both a {short(a)} ({why[a]}) and a {short(b)} "
                           f"({why[b]}), which the ontology declares disjoint")
            if more and names:
                out[-1] += more
    return out


def literal_culprits(features: Features) -> list[str]:
    from rivalry.graph.load import ill_typed

    out = []
    for literal, uses in features.literals.items():
        datatype = RDF + "langString" if literal.language else literal.datatype.value
        if datatype.startswith(XSD) and ill_typed(literal.value, datatype):
            for s, p in uses[:5]:
                out.append(f"{s} {short(p)} {literal}: not a valid "
                           f"{datatype.removeprefix(XSD)}")
            continue
        for s, p in uses:
            if features.tbox.range_check(p, datatype) == "no":
                expected = " or ".join(sorted(short(d) for u in features.tbox.data_ranges[p]
                                              for d in u))
                out.append(f"{s} {short(p)} {literal}: {short(p)} takes {expected}")
    return out


def functional_culprits(features: Features, summary: Summary) -> list[str]:
    out = []
    tbox = features.tbox
    for (node, prop), values in features.functional_values.items():
        if len(values) < 2:
            continue
        name = prop.lstrip("^")
        if all(isinstance(v, ox.Literal) for v in values):
            shown = ", ".join(sorted(str(v) for v in values))
            out.append(f"{node} has {len(values)} values of {short(name)}, which the "
                       f"ontology declares functional: {shown}")
            continue
        merged: dict[str, str] = {}
        for v in values:
            if not isinstance(v, ox.Literal):
                merged.update(derived_types(features.key(v), tbox))
        for a, b in tbox.clashes(set(merged)):
            shown = ", ".join(sorted(str(v) for v in values))
            out.append(f"{node} has {len(values)} values of {short(name)} ({shown}), which "
                       f"the ontology declares functional, so they are one individual; but "
                       f"it would be both a {short(a)} and a {short(b)}, which are disjoint")
    return out


def same_as_culprits(features: Features) -> list[str]:
    """Individuals said to be the same (owl:sameAs) whose kinds cannot be one."""
    parent: dict[Term, Term] = {}

    def root(x: Term) -> Term:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for t in features.schema:
        if t.predicate.value == OWL + "sameAs" and not isinstance(t.object, ox.Literal):
            a, b = root(t.subject), root(t.object)
            if a != b:
                parent[a] = b
    groups: dict[Term, list[Term]] = defaultdict(list)
    for node in parent:
        groups[root(node)].append(node)
    out = []
    for top, members in groups.items():
        members = sorted(set(members) | {top}, key=str)
        merged: dict[str, str] = {}
        for m in members:
            own = "\n".join(sorted(features.features.get(m, ())))
            for c, why in derived_types(own, features.tbox).items():
                merged.setdefault(c, f"{why}, for {m}")
        for one, other in features.tbox.clashes(set(merged)):
            names = " and ".join(str(m) for m in members)
            out.append(f"{names} are one individual (owl:sameAs), which cannot be both a "
                       f"{short(one)} ({merged[one]}) and a {short(other)} ({merged[other]}): "
                       "the ontology declares them disjoint")
    return out


def short(iri: str) -> str:
    """An IRI in a message: its prefixed name, or <iri>."""
    return prefixed_name(iri) or f"<{iri}>"


# ---------------------------------------------------------------------------------------
# HermiT
# ---------------------------------------------------------------------------------------


def java_executable() -> str | None:
    return shutil.which("java")


def hermit_classpath() -> str:
    import owlready2

    here = Path(owlready2.__file__).parent / "hermit"
    return os.pathsep.join([str(here), str(here / "HermiT.jar")])


def hermit_input(triples: Iterable[ox.Triple]) -> tuple[list[ox.Triple], int, list[str]]:
    """The triples handed to HermiT, datatypes outside the OWL 2 map rewritten (see
    HERMIT_DATATYPE_REWRITES). Returns triples, rewrite count, and ill-typed literals."""
    from rivalry.graph.load import ill_typed

    out: set[ox.Triple] = set()
    rewritten = 0
    problems: list[str] = []
    valid: dict[ox.Literal, bool] = {}
    for t in triples:
        obj = t.object
        if isinstance(obj, ox.Literal) and not obj.language \
                and obj.datatype.value.startswith(XSD) and obj.datatype.value != XSD + "string":
            if obj not in valid:
                valid[obj] = not ill_typed(obj.value, obj.datatype.value)
            if not valid[obj]:  # HermiT stops at a malformed literal: say which it is
                problems.append(f"{t.subject} {short(t.predicate.value)} {obj}: not a valid "
                                f"{obj.datatype.value.removeprefix(XSD)}")
        if isinstance(obj, ox.Literal) and obj.datatype.value in HERMIT_DATATYPE_REWRITES:
            obj = ox.Literal(obj.value,
                             datatype=ox.NamedNode(HERMIT_DATATYPE_REWRITES[obj.datatype.value]))
            rewritten += 1
        elif isinstance(obj, ox.NamedNode) and obj.value in HERMIT_DATATYPE_REWRITES:
            obj = ox.NamedNode(HERMIT_DATATYPE_REWRITES[obj.value])
        out.add(ox.Triple(t.subject, t.predicate, obj))
    return sorted(out, key=str), rewritten, problems


@dataclass(frozen=True)
class HermitSettings:
    java_heap_mb: int = 2000
    time_limit: float = 600.0


#: Up to this many triples of input, HermiT's JVM compiles with its quick compiler only
#: (`-XX:TieredStopAtLevel=1`): a run that short (HermiT on a summary) ends before the
#: optimising compiler pays off. Longer inputs (HermiT on every individual of a large
#: graph) keep the JVM's default.
QUICK_JIT_MAX_TRIPLES = 200_000


def run_hermit(triples: list[ox.Triple], settings: HermitSettings = HermitSettings()
               ) -> tuple[bool, list[str]]:
    """Run HermiT on the triples: (consistent, unsatisfiable class IRIs).

    Raises ReasonerFailed, with one line saying what to do, when Java is missing, the
    heap or the time limit is too small, or HermiT fails otherwise.
    """
    java = java_executable()
    if java is None:
        raise ReasonerFailed(
            "the consistency check needs Java to run HermiT, and no `java` is on the PATH: "
            "install a Java runtime, 11 or newer (Debian: apt-get install "
            "default-jre-headless), or build with --no-consistency-check")
    with tempfile.TemporaryDirectory(prefix="rivalry-hermit-") as tmp:
        path = Path(tmp) / "input.nt"
        ox.serialize(triples, str(path), format=ox.RdfFormat.N_TRIPLES)
        quick = ["-XX:TieredStopAtLevel=1"] if len(triples) <= QUICK_JIT_MAX_TRIPLES else []
        command = [java, f"-Xmx{settings.java_heap_mb}M", *quick, "-cp", hermit_classpath(),
                   "org.semanticweb.HermiT.cli.CommandLine", "-c", "-O", "-D", "-I",
                   path.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=settings.time_limit,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ReasonerFailed(
                f"HermiT did not finish within {settings.time_limit:g} s: raise the setting "
                "reasoner_time_limit (RIVALRY_REASONER_TIME_LIMIT), or build with "
                "--no-consistency-check") from None
        except OSError as e:
            raise ReasonerFailed(f"HermiT could not be started ({e.strerror}): check the "
                                 "Java runtime, or build with --no-consistency-check") from None
    out = done.stdout.decode("utf-8", "replace")
    err = done.stderr.decode("utf-8", "replace")
    if done.returncode == 0:
        unsat = re.findall(r"<([^>]+)>", " ".join(
            line for line in out.splitlines()
            if line.startswith("EquivalentClasses(") and "owl#Nothing" in line))
        return True, sorted(c for c in set(unsat) if c != OWL + "Nothing")
    if "InconsistentOntologyException" in err or "Inconsistent ontology" in err + out \
            or "MalformedLiteralException" in err:  # an ill-typed literal: inconsistent
        return False, []
    said = err + "\n" + out
    if "OutOfMemoryError" in said or "Too small maximum heap" in said \
            or "Could not reserve enough space" in said \
            or "Initial heap size set to a larger value" in said:
        raise ReasonerFailed(
            f"HermiT ran out of memory (Java heap of {settings.java_heap_mb} MB): raise the "
            "setting reasoner_java_heap_mb (RIVALRY_REASONER_JAVA_HEAP_MB), or build with "
            "--no-consistency-check")
    detail = next((line.strip() for line in said.splitlines() if line.strip()), "")
    raise ReasonerFailed(f"HermiT failed (exit status {done.returncode})"
                         + (f": {detail[:300]}" if detail else "")
                         + "; build with --no-consistency-check to skip the check")


# ---------------------------------------------------------------------------------------
# The whole check
# ---------------------------------------------------------------------------------------

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def ontology_triples(store: ox.Store) -> list[ox.Triple]:
    graph = ox.NamedNode(ONTOLOGY_GRAPH)
    return [ox.Triple(q.subject, q.predicate, q.object)
            for q in store.quads_for_pattern(None, None, None, graph)]


def check_store(store: ox.Store, settings: HermitSettings = HermitSettings(), *,
                progress: Progress = _quiet) -> tuple[ConsistencyReport, Summary, Features]:
    """Check the facts of a build's working store (with their inferences) for consistency
    with the ontology, by HermiT on a summary and checks over every fact."""
    graphs = data_graphs(store)
    ontology = ontology_triples(store)
    kept = inferred_kept(store)
    tbox = TBox.read(ontology)
    features = gather(store, tbox, graphs, kept=kept)
    if features.schema:  # the facts hold schema triples: read again with them
        tbox = TBox.read(ontology + sorted(features.schema, key=str))
        features = gather(store, tbox, graphs, kept=kept)
    summary = summarise(features)
    report = decide(store, graphs, ontology, tbox, features, summary, settings,
                    progress=progress)
    return report, summary, features


def decide(store: ox.Store, graphs: list[ox.NamedNode], ontology: list[ox.Triple],
           tbox: TBox, features: Features | None, summary: Summary,
           settings: HermitSettings, *, new_kinds: Iterable[str] | None = None,
           progress: Progress = _quiet) -> ConsistencyReport:
    """HermiT on the ontology and the summary, and the naming checks (on the kinds in
    `new_kinds` only, when given)."""
    culprits: list[str] = []
    if features is not None:
        culprits += literal_culprits(features)
        culprits += functional_culprits(features, summary)
        culprits += same_as_culprits(features)
    culprits += kind_culprits(summary.kinds if new_kinds is None else new_kinds, summary, tbox,
                              features)
    individuals = sum(n for n in summary.kinds.values() if n > 0)
    kinds = sum(1 for n in summary.kinds.values() if n > 0)
    if tbox.unsupported:
        progress("consistency: the ontology uses " + ", ".join(short(u) for u in
                                                               tbox.unsupported)
                 + ", which a summary does not preserve; HermiT checks every individual")
        return full_check(store, graphs, ontology, settings, culprits, individuals)
    triples, rewritten, problems = hermit_input(ontology + summary.triples())
    started = time.monotonic()
    consistent, unsat = run_hermit(triples, settings)
    seconds = time.monotonic() - started
    report = ConsistencyReport(consistent and not culprits, unsatisfiable=unsat,
                               culprits=culprits, rewritten_literals=rewritten,
                               method="summary", individuals=individuals, kinds=kinds,
                               hermit_seconds=seconds)
    if not consistent and not culprits:
        progress("consistency: HermiT finds the summary inconsistent but no single fact "
                 "explains it; HermiT checks every individual")
        return full_check(store, graphs, ontology, settings, culprits, individuals)
    return _with_message(report)


def full_check(store: ox.Store, graphs: list[ox.NamedNode], ontology: list[ox.Triple],
               settings: HermitSettings, culprits: list[str], individuals: int
               ) -> ConsistencyReport:
    """HermiT on the ontology and every fact (no summary)."""
    facts = [ox.Triple(q.subject, q.predicate, q.object) for g in graphs
             for q in store.quads_for_pattern(None, None, None, g)]
    triples, rewritten, problems = hermit_input(ontology + facts)
    if problems:
        return _with_message(ConsistencyReport(False, culprits=culprits + problems,
                                               rewritten_literals=rewritten, method="full",
                                               individuals=individuals))
    started = time.monotonic()
    consistent, unsat = run_hermit(triples, settings)
    report = ConsistencyReport(consistent and not culprits, unsatisfiable=unsat,
                               culprits=culprits, rewritten_literals=rewritten,
                               method="full", individuals=individuals,
                               hermit_seconds=time.monotonic() - started)
    return _with_message(report)


def _with_message(report: ConsistencyReport) -> ConsistencyReport:
    if not report.consistent:
        report.message = "the ontology and facts are inconsistent"
    elif report.unsatisfiable:
        report.message = "unsatisfiable classes: " + ", ".join(report.unsatisfiable)
    else:
        report.message = "consistent; no unsatisfiable class"
    return report


def check_quads(quads: Iterable[ox.Quad], settings: HermitSettings = HermitSettings(), *,
                summary: bool = True) -> ConsistencyReport:
    """Check quads (the ontology in its graph, facts in others), materialising their
    inferences first: by summary, or with `summary=False` by HermiT on everything."""
    from rivalry.graph.reason import materialise

    store = ox.Store()
    store.extend(quads)
    materialise(store)
    if summary:
        return check_store(store, settings)[0]
    graphs = data_graphs(store)
    return full_check(store, graphs, ontology_triples(store), settings, [], 0)


def save_summary(summary: Summary, path: Path) -> None:
    path.write_text(json.dumps(summary.to_json(), ensure_ascii=False), "utf-8")


def load_summary(path: Path) -> Summary | None:
    try:
        return Summary.from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, KeyError):
        return None


def iter_quads(store: ox.Store, graphs: list[ox.NamedNode]) -> Iterator[ox.Quad]:
    for graph in graphs:
        yield from store.quads_for_pattern(None, None, None, graph)
