"""One test per canned query: its answers on the curated graph, as the competency
questions the project was designed to answer (each named in its .rq file) give them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivalry.graph.canned import canned_queries, canned_query, run_canned
from rivalry.graph.store import EmbeddedStore

A = "https://w3id.org/rivalry/id/action/"


def answer(store_dir: Path, name: str, **params: str) -> list[dict[str, str]]:
    result = run_canned(EmbeddedStore(store_dir), canned_query(name), params)
    return [{v: (t.value if t is not None else None) for v, t in zip(result.variables, row,
                                                                    strict=True)}
            for row in result.rows]


def test_every_competency_question_has_a_canned_query() -> None:
    numbers = {q.name[2:4] for q in canned_queries()}
    assert numbers == {f"{n:02d}" for n in range(1, 21)}


def test_cq01_chinese_responses_with_their_basis(store_dir: Path) -> None:
    rows = answer(store_dir, "cq01-china-responses-to-us")
    links = {(r["cnAction"], r["usMeasure"], r["basis"]) for r in rows}
    assert (A + "cn-mofcom-2024-12-03-ga-ge-sb-ban", A + "us-bis-2024-12-02-el-140",
            "reported by media") in links
    assert (A + "cn-mofcom-2025-01-13-ai-diffusion-statement",
            A + "us-bis-2025-01-13-ai-diffusion", "explicitly stated") in links
    assert all("2023" <= r["cnDate"][:4] <= "2025" for r in rows)
    earlier = answer(store_dir, "cq01-china-responses-to-us", fromYear="2018", toYear="2019")
    assert {A + "cn-sc-2018-07-06-retaliation", A + "cn-mofcom-2019-05-31-uel-announce"} <= {
        r["cnAction"] for r in earlier}
    assert all(r["cnDate"][:4] in ("2018", "2019") for r in earlier)


def test_cq02_chain_from_the_october_2022_rule(store_dir: Path) -> None:
    rows = answer(store_dir, "cq02-response-chain")
    steps = {r["action"]: int(r["steps"]) for r in rows}
    assert steps[A + "cn-mofcom-2022-12-12-wto-ds615"] == 1
    assert steps[A + "us-bis-2023-10-17-advcomp-update"] == 1
    assert A + "nl-2023-06-30-sme" in steps and A + "jp-meti-2023-05-23-23items" in steps
    assert steps[A + "cn-mofcom-2024-12-03-ga-ge-sb-ban"] >= 2  # through later US rules
    assert max(steps.values()) >= 3


def test_cq03_reaction_lag(store_dir: Path) -> None:
    lag = {r["usMeasure"]: int(r["lagDays"]) for r in answer(store_dir, "cq03-reaction-lag")}
    assert lag[A + "us-ofac-2025-01-03-integrity"] == 2
    assert lag[A + "us-bis-2024-12-02-el-140"] == 1
    assert lag[A + "us-dod-2025-01-06-1260h"] == 1


def test_cq04_not_targeted_but_linked(store_dir: Path) -> None:
    measures = {r["measure"] for r in answer(store_dir, "cq04-denied-targeting")}
    assert {A + "cn-mofcom-2023-07-03-ga-ge", A + "cn-mofcom-2023-10-20-graphite",
            A + "cn-mofcom-2025-01-02-catalogue-proposal"} <= measures


def test_cq05_allied_alignment(store_dir: Path) -> None:
    rows = answer(store_dir, "cq05-allied-alignment")
    lag = {(r["measure"], r["usMeasure"]): int(r["days"]) for r in rows}
    assert lag[(A + "jp-meti-2023-05-23-23items", A + "us-bis-2022-10-07-advcomp")] == 289
    assert lag[(A + "nl-2023-06-30-sme", A + "us-bis-2022-10-07-advcomp")] == 329


def test_cq06_measures_against_a_company(store_dir: Path) -> None:
    rows = answer(store_dir, "cq06-measures-against-company")
    measures = [r["measure"] for r in rows]
    assert measures.index(A + "us-congress-2018-08-13-ndaa889") < measures.index(
        A + "us-bis-2019-05-16-huawei-el") < measures.index(A + "us-bis-2020-05-15-huawei-fdpr")
    assert A + "us-fcc-2022-11-25-equip-auth" in measures
    dates = [r["announced"] for r in rows]
    assert dates == sorted(dates)
    other = answer(store_dir, "cq06-measures-against-company",
                   company="https://w3id.org/rivalry/id/company/micron")
    assert {A + "cn-court-2018-07-micron", A + "cn-cac-2023-05-21-micron-ban"} <= {
        r["measure"] for r in other}


def test_cq07_companies_on_several_us_programs(store_dir: Path) -> None:
    rows = {r["name"]: r for r in answer(store_dir, "cq07-companies-on-several-programs")}
    huawei = rows["Huawei Technologies Co., Ltd."]
    assert "Entity List" in huawei["lists"] and "Covered List" in huawei["lists"]
    assert huawei["firstListed"] == "2019-05-15"


def test_cq08_under_the_treasury(store_dir: Path) -> None:
    rows = answer(store_dir, "cq08-measures-under-department")
    assert {A + "us-ofac-2025-01-03-integrity", A + "us-ofac-2025-01-17-salt-typhoon",
            A + "us-ofac-2024-12-10-sichuan-silence"} <= {r["measure"] for r in rows}
    assert {r["level"] for r in rows} >= {"an agency under it"}
    commerce = answer(store_dir, "cq08-measures-under-department",
                      department="https://w3id.org/rivalry/id/agency/us-commerce")
    assert A + "us-bis-2022-10-07-advcomp" in {r["measure"] for r in commerce}


def test_cq09_legal_authority(store_dir: Path) -> None:
    rows = answer(store_dir, "cq09-legal-authority")
    assert {A + "us-ofac-2025-01-03-integrity", A + "us-ofac-2025-01-17-salt-typhoon"} <= {
        r["measure"] for r in rows}
    ecl = answer(store_dir, "cq09-legal-authority",
                 authority="https://w3id.org/rivalry/id/instrument/cn-export-control-law")
    assert A + "cn-mofcom-2024-12-03-ga-ge-sb-ban" in {r["measure"] for r in ecl}


def test_cq10_entities_added_by_each_listing(store_dir: Path) -> None:
    rows = {r["listing"]: r for r in answer(store_dir, "cq10-listings-by-year")}
    assert rows[A + "us-bis-2024-12-02-el-140"]["stated"] == "140"
    assert rows[A + "us-bis-2019-05-16-huawei-el"]["year"] == "2019"


def test_cq11_controlled_technologies(store_dir: Path) -> None:
    rows = answer(store_dir, "cq11-controlled-technologies")
    gallium = [r for r in rows if r["measure"] == A + "cn-mofcom-2023-07-03-ga-ge"]
    assert gallium and {r["since"] for r in gallium} == {"2023-08-01"}
    assert {r["destination"] for r in gallium} == {"all destinations"}
    assert any(r["measure"] == A + "cn-mofcom-2024-12-03-ga-ge-sb-ban" for r in rows)


def test_cq12_sectors_by_state_and_year(store_dir: Path) -> None:
    rows = answer(store_dir, "cq12-sectors-by-year")
    semis = {(r["state"], r["year"]) for r in rows if r["sector"] == "semiconductors"}
    assert ("United States", "2022") in semis and ("People's Republic of China", "2024") in semis


def test_cq13_ai_diffusion_tiers(store_dir: Path) -> None:
    rows = answer(store_dir, "cq13-ai-diffusion-tiers")
    assert {(r["country"], r["tier"]) for r in rows} == {
        ("People's Republic of China", "AI diffusion tier 3")}


def test_cq14_status_on_a_date(store_dir: Path) -> None:
    def status(on: str) -> dict[str, str]:
        return {r["measure"]: r["statusOnDate"]
                for r in answer(store_dir, "cq14-status-on-date", on=on)}

    # announced for rescission on 13 May 2025; no rescinding rule is in the record
    assert status("2025-06-01")[A + "us-bis-2025-01-13-ai-diffusion"] == "rescission announced"
    assert status("2025-02-15")[A + "cn-mofcom-2025-01-02-catalogue-proposal"] == "proposed"
    # adopted by the July revision (its own measure, in force), not itself in force
    assert status("2025-08-01")[A + "cn-mofcom-2025-01-02-catalogue-proposal"] == "adopted"


def test_cq15_open_for_comment(store_dir: Path) -> None:
    rows = {r["measure"]: r["commentDeadline"]
            for r in answer(store_dir, "cq15-open-for-comment")}
    assert rows[A + "cn-mofcom-2025-01-02-catalogue-proposal"] == "2025-02-01"
    assert rows[A + "us-ustr-2024-12-23-301-legacy"] == "2025-02-05"


def test_cq16_gaps_to_effect(store_dir: Path) -> None:
    rows = {(r["measure"], r["milestone"]): int(r["days"])
            for r in answer(store_dir, "cq16-announcement-to-effect")}
    assert rows[(A + "us-bis-2025-01-13-ai-diffusion", "compliance")] == 122
    assert rows[(A + "cn-mofcom-2023-10-20-graphite", "effective")] == 42
    assert rows[(A + "cn-mofcom-2023-07-03-ga-ge", "effective")] == 29
    assert rows[(A + "us-bis-2025-01-14-connected-vehicles", "effective")] == 62


def test_cq17_officials_on_cyber_sanctions(store_dir: Path) -> None:
    rows = answer(store_dir, "cq17-officials-statements")
    assert ("Guo Jiakun", "defame and smear China") in {(r["official"], r["quote"])
                                                         for r in rows}
    assert {r["ministry"] for r in rows} == {
        "Ministry of Foreign Affairs of the People's Republic of China"}


@pytest.mark.parametrize("target,days", [
    ("Integrity Technology Group, Incorporated", 2), ("Tencent Holdings Ltd.", 1)])
def test_cq18_denials(store_dir: Path, target: str, days: int) -> None:
    rows = {r["target"]: r for r in answer(store_dir, "cq18-denials")}
    assert int(rows[target]["days"]) == days
    assert rows[target]["sources"]


def test_cq19_single_source_facts(store_dir: Path) -> None:
    rows = {r["action"]: r for r in answer(store_dir, "cq19-single-source-facts")}
    assert rows[A + "us-bis-2025-01-13-ai-diffusion"]["sources"] == "1"
    assert all(int(r["sources"]) < 2 or r["primarySources"] == "0" or r["confirmationNote"]
               for r in rows.values())


def test_cq20_where_sources_disagree(store_dir: Path) -> None:
    rows = answer(store_dir, "cq20-sources-disagree")
    claims = {(r["node"], r["property"], r["claimed"], r["kept"]) for r in rows if r["claimed"]}
    advcomp = A + "us-bis-2023-10-17-advcomp-update"
    assert (advcomp, "comment deadline", "2023-12-16", "2023-12-18") in claims
    assert (advcomp, "comment deadline", "2023-12-18", "2023-12-18") in claims
    skydio = A + "cn-mfa-2024-10-skydio"
    assert {c[2] for c in claims if c[0] == skydio} == {"2024-10-10", "2024-10-11"}
    # each claim names its source; the disputed node without date claims is listed too
    assert all(r["source"] for r in rows if r["claimed"])
    assert A + "us-bis-2019-08-19-huawei-46" in {r["node"] for r in rows}
