"""The ontology as a document people read: every class, property, datatype, concept scheme
and concept of ontology/rivalry.ttl with its label, comment and relations (super-classes,
domains, ranges, inverses, alignments...), read from the Turtle and nothing else, so a
new term or a new kind of statement shows up without code.

Anchors: a term of the rivalry namespace is found at its local name (`#Organization` is
rv:Organization, `#InForce` the status concept); a term of another vocabulary that the
ontology declares gets `prefix-local` (`#prov-Organization`), so it can never shadow a
project term. Nothing here knows about HTTP: the server renders the model.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, Literal, URIRef
from rdflib.collection import Collection

from rivalry.graph import PREFIXES
from rivalry.graph.terms import prefixed_name
from rivalry.ontology import NAMESPACE, ONTOLOGY_IRI, ontology_file

DCT = rdflib.Namespace("http://purl.org/dc/terms/")
VANN = rdflib.Namespace("http://purl.org/vocab/vann/")

#: Extra prefixes for vocabularies the ontology declares but the graph does not use.
DOC_PREFIXES = {**PREFIXES, "time": "http://www.w3.org/2006/time#",
                "vann": "http://purl.org/vocab/vann/"}

#: Sections of the page, in order: (anchor, title, the rdf:type that puts a term there).
SECTIONS: tuple[tuple[str, str, URIRef], ...] = (
    ("classes", "Classes", OWL.Class),
    ("object-properties", "Object properties", OWL.ObjectProperty),
    ("datatype-properties", "Datatype properties", OWL.DatatypeProperty),
    ("annotation-properties", "Annotation properties", OWL.AnnotationProperty),
    ("datatypes", "Datatypes", RDFS.Datatype),
    ("concept-schemes", "Concept schemes and their concepts", SKOS.ConceptScheme),
)
OTHER_SECTIONS = (("overview", "Overview"), ("external-terms", "Terms of other vocabularies"))

#: How the statements of the ontology read on the page; a predicate not listed here is
#: named by its own label in the ontology (rv:cameoCode is "CAMEO code"), or its
#: prefixed name.
PREDICATE_NAMES: dict[URIRef, str] = {
    RDFS.subClassOf: "sub-class of",
    RDFS.subPropertyOf: "sub-property of",
    RDFS.domain: "domain",
    RDFS.range: "range",
    OWL.inverseOf: "inverse of",
    OWL.equivalentClass: "equivalent to",
    OWL.equivalentProperty: "equivalent to",
    OWL.propertyChainAxiom: "implied by the chain",
    OWL.disjointWith: "disjoint with",
    SKOS.inScheme: "in scheme",
    SKOS.topConceptOf: "top concept of",
    SKOS.broader: "broader",
    SKOS.narrower: "narrower",
    SKOS.closeMatch: "close match",
    SKOS.exactMatch: "exact match",
    SKOS.broadMatch: "broad match",
    SKOS.narrowMatch: "narrow match",
    SKOS.relatedMatch: "related match",
    SKOS.notation: "notation",
    SKOS.altLabel: "also called",
    RDFS.seeAlso: "see also",
    RDFS.isDefinedBy: "defined by",
}
#: Relations computed the other way round, so each term lists what points to it.
REVERSE_NAMES: dict[URIRef, str] = {
    RDFS.subClassOf: "super-class of",
    RDFS.subPropertyOf: "super-property of",
    RDFS.domain: "domain of",
    RDFS.range: "range of",
    OWL.inverseOf: "inverse of",
    SKOS.broader: "narrower",
}
#: Shown in the term's heading and paragraphs rather than as relations.
TEXT_PREDICATES = (RDFS.label, SKOS.prefLabel, RDFS.comment, SKOS.definition, SKOS.scopeNote,
                   RDF.type)


@dataclass(frozen=True)
class Ref:
    """A link to a term: to its anchor on the page when it is documented there, to its
    IRI otherwise; or a literal or a class expression written out (href None)."""

    text: str
    href: str | None = None
    title: str | None = None


@dataclass
class Term:
    iri: str
    anchor: str
    curie: str
    label: str
    kinds: list[str]
    comments: list[str]
    relations: list[tuple[str, list[list[Ref]]]] = field(default_factory=list)
    external: bool = False


@dataclass
class Scheme:
    term: Term
    concepts: list[Term]


@dataclass
class OntologyDoc:
    iri: str
    title: str
    description: list[str]
    metadata: list[tuple[str, list[Ref]]]
    sections: list[tuple[str, str, list[Term]]]
    schemes: list[Scheme]
    external: list[Term]

    def anchors(self) -> set[str]:
        """Every id the page gives an element: sections and terms."""
        ids = {a for a, _ in OTHER_SECTIONS} | {a for a, _, _ in SECTIONS}
        for _, _, terms in self.sections:
            ids.update(t.anchor for t in terms)
        for s in self.schemes:
            ids.add(s.term.anchor)
            ids.update(c.anchor for c in s.concepts)
        ids.update(t.anchor for t in self.external)
        return ids


def curie(iri: str) -> str:
    """A term's prefixed name on the ontology's page (its IRI when none fits)."""
    return prefixed_name(iri, DOC_PREFIXES) or iri


def anchor_for(iri: str) -> str:
    """The id of a term on the page: the local name for the rivalry namespace, the
    prefixed name with a dash for any other (never the same as a local name of ours,
    which has no dash)."""
    if iri.startswith(NAMESPACE):
        return iri[len(NAMESPACE):]
    name = curie(iri)
    if name == iri:
        return "iri-" + hashlib.sha256(iri.encode()).hexdigest()[:12]
    return name.replace(":", "-", 1)


class _Reader:
    def __init__(self, g: rdflib.Graph) -> None:
        self.g = g
        self.documented: set[URIRef] = {
            s for s in g.subjects(RDF.type, None) if isinstance(s, URIRef)
            and s != URIRef(ONTOLOGY_IRI)}

    def label(self, node: rdflib.term.Node) -> str | None:
        found: dict[str, str] = {}
        for prop in (RDFS.label, SKOS.prefLabel):
            for o in self.g.objects(node, prop):
                if isinstance(o, Literal):
                    found.setdefault(o.language or "", str(o))
        return found.get("en") or found.get("") or next(iter(found.values()), None)

    def texts(self, node: URIRef, props: Iterable[URIRef]) -> list[str]:
        out = []
        for prop in props:
            values = [o for o in self.g.objects(node, prop) if isinstance(o, Literal)]
            english = [o for o in values if (o.language or "en").startswith("en")]
            out += sorted(str(o) for o in (english or values))
        return out

    def ref(self, node: rdflib.term.Node) -> list[Ref]:
        """A node as the page shows it: one link, a literal, or a class expression."""
        if isinstance(node, URIRef):
            iri = str(node)
            name = curie(iri)
            label = self.label(node)
            href = "#" + anchor_for(iri) if node in self.documented else iri
            return [Ref(name, href, title=label if label and label != name else iri)]
        if isinstance(node, Literal):
            text = str(node)
            if node.language:
                text += f" @{node.language}"
            elif node.datatype:
                text += f" ({curie(str(node.datatype))})"
            return [Ref(text)]
        return self.expression(node)

    def expression(self, node: rdflib.term.Node) -> list[Ref]:
        g = self.g
        for prop, word in ((OWL.unionOf, "or"), (OWL.intersectionOf, "and")):
            items = g.value(node, prop)
            if items is not None:
                return self._joined(list(Collection(g, items)), word)
        one_of = g.value(node, OWL.oneOf)
        if one_of is not None:
            return [Ref("one of {"), *self._joined(list(Collection(g, one_of)), ","), Ref("}")]
        on = g.value(node, OWL.onProperty)
        if on is not None:
            for prop, word in ((OWL.someValuesFrom, "some"), (OWL.allValuesFrom, "only"),
                               (OWL.hasValue, "value")):
                value = g.value(node, prop)
                if value is not None:
                    return [*self.ref(on), Ref(word), *self.ref(value)]
            return [*self.ref(on), Ref("(restriction)")]
        if (node, RDF.first, None) in g:
            return self._joined(list(Collection(g, node)), "∘")
        return [Ref("(an anonymous class)")]

    def _joined(self, items: list, word: str) -> list[Ref]:
        out: list[Ref] = []
        for i, item in enumerate(items):
            if i:
                out.append(Ref(word))
            out += self.ref(item)
        return out


def _kinds(g: rdflib.Graph, node: URIRef) -> list[str]:
    names: dict[rdflib.term.Node, str] = {
             OWL.Class: "class", RDFS.Class: "class", OWL.ObjectProperty: "object property",
             OWL.DatatypeProperty: "datatype property",
             OWL.AnnotationProperty: "annotation property", RDFS.Datatype: "datatype",
             SKOS.ConceptScheme: "concept scheme", SKOS.Concept: "concept",
             OWL.NamedIndividual: "individual", OWL.TransitiveProperty: "transitive",
             OWL.SymmetricProperty: "symmetric", OWL.FunctionalProperty: "functional"}
    return sorted({names.get(t, curie(str(t))) for t in g.objects(node, RDF.type)})


def build_doc(g: rdflib.Graph) -> OntologyDoc:
    r = _Reader(g)
    onto = URIRef(ONTOLOGY_IRI)
    reverse: dict[URIRef, dict[str, list[list[Ref]]]] = defaultdict(lambda: defaultdict(list))
    for pred, name in REVERSE_NAMES.items():
        for s, o in g.subject_objects(pred):
            if isinstance(s, URIRef) and isinstance(o, URIRef):
                if pred == OWL.inverseOf and (o, OWL.inverseOf, s) in g:
                    continue  # said both ways: the term's own statement shows it
                reverse[o][name].append(r.ref(s))
    disjoint: dict[rdflib.term.Node, list[rdflib.term.Node]] = defaultdict(list)
    for group in g.subjects(RDF.type, OWL.AllDisjointClasses):
        head = g.value(group, OWL.members)
        if head is None:  # no list: Collection would read any rdf:first of the graph
            continue
        listed = list(Collection(g, head))
        for m in listed:
            disjoint[m] += [x for x in listed if x != m]

    def term(node: URIRef) -> Term:
        iri = str(node)
        relations: dict[str, list[list[Ref]]] = defaultdict(list)
        for p, o in sorted(g.predicate_objects(node), key=lambda po: (str(po[0]), str(po[1]))):
            if not isinstance(p, URIRef) or p in TEXT_PREDICATES:
                continue
            name = PREDICATE_NAMES.get(p) or r.label(p) or curie(str(p))
            relations[name].append(r.ref(o))
        for other in disjoint.get(node, []):
            relations["disjoint with"].append(r.ref(other))
        for name, refs in reverse.get(node, {}).items():
            relations[name] += refs
        order = list(PREDICATE_NAMES.values()) + list(REVERSE_NAMES.values())
        rows = sorted(relations.items(),
                      key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order),
                                      kv[0]))
        rows = [(name, _unique(refs)) for name, refs in rows]
        return Term(iri=iri, anchor=anchor_for(iri), curie=curie(iri),
                    label=r.label(node) or curie(iri), kinds=_kinds(g, node),
                    comments=r.texts(node, (RDFS.comment, SKOS.definition, SKOS.scopeNote)),
                    relations=rows, external=not iri.startswith(NAMESPACE))

    own = sorted((n for n in r.documented if str(n).startswith(NAMESPACE)), key=str)
    sections = []
    placed: set[URIRef] = set()
    for anchor, title, kind in SECTIONS:
        if kind == SKOS.ConceptScheme:
            continue
        members = [n for n in own if (n, RDF.type, kind) in g and n not in placed]
        placed.update(members)
        sections.append((anchor, title, sorted((term(n) for n in members),
                                               key=lambda t: t.label.lower())))
    schemes = []
    for scheme in sorted((n for n in own if (n, RDF.type, SKOS.ConceptScheme) in g), key=str):
        placed.add(scheme)
        concepts = [c for c in g.subjects(SKOS.inScheme, scheme) if isinstance(c, URIRef)]
        placed.update(c for c in concepts if str(c).startswith(NAMESPACE))
        schemes.append(Scheme(term(scheme), sorted(
            (term(c) for c in concepts if str(c).startswith(NAMESPACE)),
            key=lambda t: t.label.lower())))
    schemes.sort(key=lambda s: s.term.label.lower())
    rest = [n for n in own if n not in placed]
    if rest:  # terms of a kind no section is for (individuals, say): never left out
        sections.append(("other-terms", "Other terms", [term(n) for n in rest]))
    external = sorted((term(n) for n in r.documented if not str(n).startswith(NAMESPACE)),
                      key=lambda t: t.curie.lower())

    metadata: list[tuple[str, list[Ref]]] = [("IRI", [Ref(ONTOLOGY_IRI, ONTOLOGY_IRI)])]
    for prop, name in ((OWL.versionIRI, "version IRI"), (OWL.versionInfo, "version"),
                       (DCT.license, "licence"), (DCT.created, "created"),
                       (DCT.modified, "modified"),
                       (VANN.preferredNamespacePrefix, "preferred prefix"),
                       (VANN.preferredNamespaceUri, "namespace")):
        values = list(g.objects(onto, prop))
        if values:
            metadata.append((name, [ref for v in values for ref in (
                [Ref(str(v), str(v))] if isinstance(v, URIRef) else [Ref(str(v))])]))
    return OntologyDoc(iri=ONTOLOGY_IRI, title=r.label(onto) or "ontology",
                       description=r.texts(onto, (RDFS.comment, DCT.description)),
                       metadata=metadata, sections=sections, schemes=schemes,
                       external=external)


def _unique(values: list[list[Ref]]) -> list[list[Ref]]:
    seen: set[tuple[Ref, ...]] = set()
    out = []
    for v in values:
        if tuple(v) not in seen:
            seen.add(tuple(v))
            out.append(v)
    return out


def ontology_doc(path: Path | None = None) -> OntologyDoc:
    """The documentation model of the ontology file (the shipped one by default),
    computed once per content."""
    source = path or Path(str(ontology_file()))
    data = source.read_bytes()
    return _doc_for(hashlib.sha256(data).hexdigest(), data)


@functools.lru_cache(maxsize=2)
def _doc_for(digest: str, data: bytes) -> OntologyDoc:
    g = rdflib.Graph()
    g.parse(data=data, format="turtle")
    return build_doc(g)
