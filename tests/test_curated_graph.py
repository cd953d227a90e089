"""The curated graph as a whole: shapes, consistency, reference entities, statistics."""

from __future__ import annotations

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
    assert "By issuing state:" in result.stdout and "Resting on a single source" in result.stdout
    figures = stats(EmbeddedStore(store_dir))
    assert figures.actions <= sum(n for _, n in figures.by_type)  # some have two types
    assert figures.actions == sum(n for _, n in figures.by_year)
    assert figures.actions == sum(n for _, n in figures.by_state)
    assert any(label.startswith("BIS Framework") for _, label, _ in figures.single_source)
    page = client.get("/stats").data.decode()
    assert "By state and year" in page and str(figures.actions) in page
    data = run(cli, "stats", "--store", store_dir, "--format", "json")
    assert '"by_type"' in data.stdout
