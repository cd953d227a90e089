"""Reasoning: HermiT consistency over ontology and facts, and the materialisation."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from rivalry.graph.build import BuildResult
from rivalry.graph.load import load_facts, load_ontology
from rivalry.graph.reason import (
    check_consistency,
    hermit_input,
    materialise,
    rules_from_ontology,
)

from .conftest import CURATED_FACTS, DATA

RV = "https://w3id.org/rivalry/ontology#"
pytestmark = pytest.mark.hermit


def facts_quads(directory: Path) -> list[ox.Quad]:
    return load_ontology() + [q for f in load_facts(directory) for q in f.quads]


def test_curated_graph_is_consistent_with_no_unsatisfiable_class(
        curated_build: BuildResult) -> None:
    report = curated_build.consistency
    assert report is not None
    assert report.consistent
    assert report.unsatisfiable == []
    assert report.ok


def test_dates_are_rewritten_openly_for_hermit() -> None:
    triples, rewritten, problems = hermit_input(facts_quads(CURATED_FACTS))
    assert rewritten > 10 and problems == []
    datatypes = {t.object.datatype.value for t in triples if isinstance(t.object, ox.Literal)}
    assert "http://www.w3.org/2001/XMLSchema#date" not in datatypes


def test_inconsistent_fixture_is_reported_naming_the_individual() -> None:
    report = check_consistency(facts_quads(DATA / "inconsistent"))
    assert not report.consistent
    assert not report.ok
    assert any("https://w3id.org/rivalry/id/state/atlantis" in c for c in report.culprits)
    assert any("rv:State" in c and "rv:Organization" in c for c in report.culprits)


def test_ill_typed_dates_are_reported_not_hidden() -> None:
    # reading the file refuses the date first (tests/test_build.py); the reasoner's own
    # check stays, for quads that come from elsewhere
    path = DATA / "bad-date" / "ill-typed-date.ttl"
    quads = list(ox.parse(path.read_bytes(), format=ox.RdfFormat.TURTLE))
    report = check_consistency(load_ontology() + quads)
    assert not report.ok
    assert any("2025-02-30" in c for c in report.culprits)


def test_rules_come_from_the_ontology() -> None:
    store = ox.Store()
    store.extend(load_ontology())
    rules = rules_from_ontology(store)
    assert RV + "Measure" in rules.superclasses[RV + "Sanction"]
    assert RV + "Action" in rules.superclasses[RV + "Sanction"]
    assert (RV + "targets", RV + "targetedBy") in rules.inverses
    assert (RV + "issuingState", [RV + "issuedBy", RV + "agencyOf"]) in rules.chains


def test_materialisation_follows_agency_hierarchy_to_any_depth() -> None:
    store = ox.Store()
    store.extend(load_ontology())
    g = ox.NamedNode("https://example.org/g")
    ex = "https://example.org/"
    data = f"""
        @prefix rv: <{RV}> . @prefix org: <http://www.w3.org/ns/org#> .
        <{ex}m> a rv:ExportControl ; rv:issuedBy <{ex}office> .
        <{ex}office> org:subOrganizationOf <{ex}bureau> .
        <{ex}bureau> org:subOrganizationOf <{ex}ministry> .
        <{ex}ministry> rv:agencyOf <{ex}state> .
    """
    store.extend(ox.Quad(q.subject, q.predicate, q.object, g)
                 for q in ox.parse(data, format=ox.RdfFormat.TURTLE))
    added = materialise(store)
    assert added > 0
    ask = f"ASK {{ <{ex}m> <{RV}issuingState> <{ex}state> ; a <{RV}Measure>, <{RV}Action> }}"
    assert store.query(ask, use_default_graph_as_union=True)
    assert materialise(store) == 0  # a fixpoint: nothing more follows
