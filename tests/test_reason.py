"""Reasoning: HermiT consistency over ontology and facts, and the materialisation."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from rivalry.graph.build import BuildResult
from rivalry.graph.load import graph_for, load_ontology
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
    """The ontology and the facts of a directory of fixtures, each file in its own graph,
    parsed as they are (reading facts would refuse the ill-typed fixtures before any
    reasoning; the reasoner's own checks are what is tested here)."""
    out = load_ontology()
    for path in sorted(directory.rglob("*.ttl")):
        graph = graph_for(path.relative_to(directory).with_suffix("").as_posix())
        out += [ox.Quad(q.subject, q.predicate, q.object, graph)
                for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)]
    return out


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
    report = check_consistency(facts_quads(DATA / "bad-date"))
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
