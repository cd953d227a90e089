"""The curated graph as a whole: shapes, consistency, reference entities, statistics."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient

from rivalry.graph.build import BuildResult
from rivalry.graph.stats import stats
from rivalry.graph.store import EmbeddedStore
from rivalry.graph.validate import Submission, context_for, validate

from .conftest import CURATED_FACTS, run

RV = "PREFIX rv: <https://w3id.org/rivalry/ontology#>\nPREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"


def rows(store_dir: Path, query: str) -> list[list[str]]:
    return [[t.value if t is not None else None for t in r]
            for r in EmbeddedStore(store_dir).query(RV + query).rows()]


def test_zero_violations_and_every_company_has_a_country(store_dir: Path) -> None:
    submission = Submission.from_files(sorted(CURATED_FACTS.rglob("*.ttl")))
    report = validate(submission, context_for(EmbeddedStore(store_dir), submission))
    assert report.violations == [], report.to_text()
    # a company without a country says why, in a confirmation note
    missing = {r.focus for r in report.warnings if "country" in r.message}
    explained = {r[0] for r in rows(store_dir, """SELECT ?c WHERE { ?c a rv:Company ;
        rv:confirmationNote ?n FILTER NOT EXISTS { ?c rv:country ?s } }""")}
    assert missing == explained


def test_hermit_finds_the_whole_graph_consistent(curated_build: BuildResult) -> None:
    assert curated_build.consistency is not None and curated_build.consistency.ok


def test_every_technology_is_used_by_an_action(store_dir: Path) -> None:
    unused = rows(store_dir, """SELECT ?t WHERE { ?t a rv:Technology .
        FILTER NOT EXISTS { ?a rv:controlsTechnology/skos:broader* ?t } }""")
    assert unused == []


def test_every_state_has_its_wikidata_item(store_dir: Path) -> None:
    states = rows(store_dir, """SELECT ?s ?q WHERE { ?s a rv:State .
        OPTIONAL { ?s skos:exactMatch ?q
                   FILTER(STRSTARTS(STR(?q), "http://www.wikidata.org/entity/Q")) } }""")
    assert states and all(q for _, q in states)


def test_every_agency_reaches_its_state_or_union(store_dir: Path) -> None:
    missing = rows(store_dir, """SELECT ?a WHERE { ?a a rv:GovernmentAgency .
        FILTER NOT EXISTS { ?a rv:agencyOf|rv:institutionOf ?s } }""")
    # rv:agencyOf (rv:institutionOf) is stated or follows from org:subOrganizationOf
    assert missing == []


def test_every_response_link_is_qualified(store_dir: Path) -> None:
    bare = rows(store_dir, """SELECT ?a ?b WHERE { ?a rv:respondsTo ?b .
        FILTER NOT EXISTS {
            ?a rv:qualifiedResponse [ rv:responseTo ?b ; rv:responseBasis ?basis ] } }""")
    assert bare == []


def test_stats_command_and_page(store_dir: Path, cli: CliRunner, client: FlaskClient) -> None:
    result = run(cli, "stats", "--store", store_dir)
    assert result.exit_code == 0
    assert "By issuer (state or union):" in result.stdout
    assert "Resting on a single source" in result.stdout and "Targets:" in result.stdout
    figures = stats(EmbeddedStore(store_dir))
    assert figures.actions <= sum(n for _, n in figures.by_type)  # some have two types
    assert figures.actions == sum(n for _, n in figures.by_year)
    assert figures.actions == sum(n for _, n in figures.by_issuer)
    assert figures.actions == figures.own_document_of
    assert sum(n for _, n in figures.sources_by_kind) == figures.sources
    assert any(label.startswith("BIS Framework") for _, label, _ in figures.single_source)
    page = client.get("/stats").data.decode()
    assert "By issuer and year" in page and str(figures.actions) in page
    assert "Wikidata links" in page and "Sources by kind" in page
    # the rows by type add up to more than the actions: the page says why
    assert "counted under its most specific types only" in page
    assert f"can add up to more than {figures.actions}" in page
    assert f"Resting on a single source ({figures.single_source_count:,})" in page
    data = json.loads(run(cli, "stats", "--store", store_dir, "--format", "json").stdout)
    assert {"by_type", "by_issuer", "sources_by_kind", "issuer_document", "responses",
            "wikidata", "targets"} <= set(data)
    # the command lists every fact, though the build keeps only the first of each list
    assert len(data["single_source"]) == data["single_source_count"] == len(
        figures.single_source)
    assert len(data["issuer_document"]["without"]) == data["issuer_document"][
        "without_count"] == len(figures.without_own_document)


def test_the_record_meets_its_coverage_targets(store_dir: Path) -> None:
    """Issue 11's targets: at least 250 actions, 60 of them dated 2025 or later, issued by at
    least 12 states or unions, no year from 2018 to the latest one with fewer than 15, and at
    least half of the responses on two sources from different publishers."""
    figures = stats(EmbeddedStore(store_dir))
    missed = [f"{t.name}: {t.value} (goal: {t.goal})" for t in figures.targets() if not t.met]
    assert not missed, "coverage targets missed:\n" + "\n".join(missed)
    years = [int(y) for y, _ in figures.by_year if y.isdigit()]
    assert max(years) >= 2026  # the record reaches into 2026
    assert dict(figures.by_issuer).get("European Union", 0) > 0  # a union counts as an issuer


def test_the_targets_fail_when_the_record_falls_short() -> None:
    from rivalry.graph.stats import Stats
    thin = Stats(actions=100, by_issuer=[("United States", 100)],
                 by_year=[("2018", 20), ("2020", 80)], responses=10, responses_two_sources=4)
    missed = {t.name.split(" ")[0] for t in thin.targets() if not t.met}
    assert missed == {"actions", "issuing", "years", "responses"}
    assert "2019 (0)" in next(t.value for t in thin.targets() if t.name.startswith("years"))


def test_the_build_keeps_the_list_filters_it_would_compute(store_dir: Path) -> None:
    # list pages read the filters' values from the build's figures: the same values
    from rivalry.graph.listing import facet_values
    from rivalry.graph.products import build_facets

    store = EmbeddedStore(store_dir)
    kept = build_facets(store)
    assert kept is not None, "the build wrote no facets with its figures"
    now = facet_values(store)
    assert {k: sorted(v) for k, v in kept.items()} == {k: sorted(v) for k, v in now.items()}
    assert kept["year"] == now["year"]  # in order


def test_no_two_entities_of_one_kind_share_a_label(store_dir: Path) -> None:
    """Two IRIs of one kind (two organizations, two companies…) with the same label or
    alternative label are one thing described twice: a publisher declared again under a
    new IRI splits its sources, a company split in two splits its measures."""
    kinds = ("company", "organization", "agency", "state", "union", "person", "technology",
             "sector", "program", "instrument")
    labelled = rows(store_dir, """
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT DISTINCT ?entity ?label WHERE {
          ?entity rdfs:label|skos:prefLabel|skos:altLabel ?label .
          FILTER(STRSTARTS(STR(?entity), "https://w3id.org/rivalry/id/")) }""")
    holders: dict[tuple[str, str], set[str]] = {}
    for entity, label in labelled:
        kind = entity.removeprefix("https://w3id.org/rivalry/id/").split("/")[0]
        if kind in kinds:
            holders.setdefault((kind, label.casefold()), set()).add(entity)
    shared = {key: sorted(found) for key, found in holders.items() if len(found) > 1}
    assert not shared, shared
