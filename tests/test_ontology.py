"""Whole-model invariants of the ontology (CONTRIBUTING.md, convention 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, URIRef

from rivalry.ontology import NAMESPACE, ONTOLOGY_IRI, RV, ontology_file

RVNS = rdflib.Namespace(NAMESPACE)
SKOS = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")

REQUIRED_CLASSES = [
    "Action", "Measure", "Sanction", "ExportControl", "EntityListing", "Tariff",
    "InvestmentRestriction", "MarketAccessRestriction", "Investigation", "Statement",
    "DiplomaticProtest", "Denial", "Actor", "State", "GovernmentAgency", "Company", "Person",
    "Technology", "LegalInstrument", "Program", "SourceDocument",
]
REQUIRED_PROPERTIES = [
    "issuedBy", "issuingState", "targets", "controlsTechnology", "respondsTo", "announcedOn",
    "effectiveOn", "commentDeadline", "status", "legalBasis", "spokenBy", "onBehalfOf", "about",
]


@pytest.fixture(scope="module")
def onto() -> rdflib.Graph:
    return rdflib.Graph().parse(Path(str(ontology_file())), format="turtle")


def own_terms(onto: rdflib.Graph) -> set[URIRef]:
    return {s for s in onto.subjects() if isinstance(s, URIRef) and str(s).startswith(NAMESPACE)}


def test_ontology_header(onto: rdflib.Graph) -> None:
    assert (URIRef(ONTOLOGY_IRI), RDF.type, OWL.Ontology) in onto
    # Never imports anything: no tool should fetch a remote document to load it.
    assert not list(onto.objects(None, OWL.imports))


@pytest.mark.parametrize("name", REQUIRED_CLASSES)
def test_required_class(onto: rdflib.Graph, name: str) -> None:
    assert (RVNS[name], RDF.type, OWL.Class) in onto


@pytest.mark.parametrize("name", REQUIRED_PROPERTIES)
def test_required_property(onto: rdflib.Graph, name: str) -> None:
    kinds = set(onto.objects(RVNS[name], RDF.type))
    assert kinds & {OWL.ObjectProperty, OWL.DatatypeProperty}, name


def test_was_derived_from_links_actions_to_sources(onto: rdflib.Graph) -> None:
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    assert (prov.wasDerivedFrom, RDF.type, OWL.ObjectProperty) in onto
    assert (RVNS.SourceDocument, RDFS.subClassOf, prov.Entity) in onto
    assert (RVNS.Action, RDFS.subClassOf, prov.Activity) in onto


def test_every_term_has_label_and_comment(onto: rdflib.Graph) -> None:
    missing = []
    for term in sorted(own_terms(onto)):
        for prop in (RDFS.label, RDFS.comment):
            values = list(onto.objects(term, prop))
            if not values or not any(getattr(v, "language", None) == "en" for v in values):
                missing.append(f"{term} lacks an English {prop}")
    assert not missing, "\n".join(missing)


def test_every_term_is_typed(onto: rdflib.Graph) -> None:
    """OWL 2 DL needs a declaration for every entity, ours and the external ones we use."""
    declared_kinds = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty,
                      OWL.AnnotationProperty, RDFS.Datatype, OWL.Ontology, SKOS.Concept,
                      SKOS.ConceptScheme}
    untyped = []
    used_properties = {p for p in onto.predicates()} - {RDF.type, RDF.first, RDF.rest}
    for prop in used_properties:
        if str(prop).startswith(str(OWL)) or str(prop).startswith(str(RDFS)):
            continue
        if not set(onto.objects(prop, RDF.type)) & declared_kinds:
            untyped.append(f"property {prop} is used but not declared")
    for term in own_terms(onto):
        if not set(onto.objects(term, RDF.type)) & declared_kinds:
            untyped.append(f"{term} has no OWL or SKOS type")
    assert not untyped, "\n".join(sorted(untyped))


def test_actor_kinds_are_disjoint(onto: rdflib.Graph) -> None:
    kinds = {RVNS.State, RVNS.GovernmentAgency, RVNS.Organization, RVNS.Person}
    for axiom in onto.subjects(RDF.type, OWL.AllDisjointClasses):
        members = set(rdflib.collection.Collection(onto, onto.value(axiom, OWL.members)))
        if kinds <= members:
            return
    pytest.fail("no owl:AllDisjointClasses axiom covers the actor kinds")


def test_issuing_state_follows_from_issuer_and_hierarchy(onto: rdflib.Graph) -> None:
    def chain(prop: URIRef) -> list[URIRef]:
        head = onto.value(prop, OWL.propertyChainAxiom)
        return list(rdflib.collection.Collection(onto, head)) if head else []

    org = rdflib.Namespace("http://www.w3.org/ns/org#")
    assert chain(RVNS.issuingState) == [RVNS.issuedBy, RVNS.agencyOf]
    assert chain(RVNS.agencyOf) == [org.subOrganizationOf, RVNS.agencyOf]


def test_alignments_to_standard_vocabularies(onto: rdflib.Graph) -> None:
    text = Path(str(ontology_file())).read_text("utf-8")
    for namespace in ("http://www.w3.org/ns/prov#", "http://www.w3.org/ns/org#",
                      "http://www.w3.org/2004/02/skos/core#", "https://schema.org/",
                      "http://purl.org/dc/terms/", "http://www.w3.org/2006/time#"):
        assert namespace in text
    assert (RVNS.GovernmentAgency, RDFS.subClassOf,
            URIRef("http://www.w3.org/ns/org#FormalOrganization")) in onto
    assert (RVNS.LegalInstrument, RDFS.subClassOf, URIRef("https://schema.org/Legislation")) in onto


def test_namespace_matches_ontology(onto: rdflib.Graph) -> None:
    """RV is a closed namespace generated from rivalry.ttl; the two must stay in step."""
    in_ontology = {str(t)[len(NAMESPACE):] for t in own_terms(onto)}
    in_namespace = set(RV.__annotations__)
    assert in_ontology == in_namespace, (
        f"only in rivalry.ttl: {sorted(in_ontology - in_namespace)}; "
        f"only in terms.py: {sorted(in_namespace - in_ontology)}")
    with pytest.raises(AttributeError):
        RV.Sanktion  # noqa: B018 - a typo must fail


def test_loads_in_owlready2_as_owl(onto: rdflib.Graph, tmp_path: Path) -> None:
    """Protégé and owlready2 read the ontology as OWL: every class comes through as one."""
    import owlready2

    path = tmp_path / "rivalry.nt"
    onto.serialize(path, format="nt", encoding="utf-8")
    world = owlready2.World()
    loaded = world.get_ontology(path.as_uri()).load(format="ntriples")
    iris = {c.iri for c in loaded.classes()}
    for name in REQUIRED_CLASSES:
        assert NAMESPACE + name in iris
    world.close()
