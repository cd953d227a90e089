"""Search: the name keys, the index built with each build, its tiers and filters, the
in-force rule, and /search, `rivalry search` and what a build without an index says."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from rivalry.graph import ID_BASE
from rivalry.graph.build import BuildResult
from rivalry.graph.inforce import RV, MeasureDates, in_force_on, in_periods, iso_day, periods
from rivalry.graph.names import name_keys
from rivalry.graph.search import INDEX_FILE, SearchIndex, SearchIndexMissing
from rivalry.server import create_app

from .conftest import run

# --- name keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("Huawei Technologies Co., Ltd.", "HUAWEI TECHNOLOGIES"),
    ("Huawei Technologies Co., Ltd.", "huawei technologies co ltd"),
    ("ZTE Corporation", "ZTE"),
    ("Micron Technology, Inc.", "Micron Technology"),
    ("ASML Holding N.V.", "ASML Holding"),
    ("Müller GmbH", "Muller"),
    ("华为技术有限公司", "华为 技术"),
    ("华为技术有限公司", "华为技术"),
    ("中兴通讯股份有限公司", "中兴通讯"),
])
def test_variants_share_a_compact_key(a: str, b: str) -> None:
    ka, kb = name_keys(a), name_keys(b)
    assert ka is not None and kb is not None
    assert ka.compact == kb.compact


def test_chinese_and_latin_meet_through_transliteration() -> None:
    zh, latin = name_keys("华为"), name_keys("Hua Wei")
    assert zh.compact == latin.compact == "huawei"
    assert not zh.latin and latin.latin  # a transliteration, never the same spelling


def test_legal_forms_are_removed_only_at_the_ends() -> None:
    assert name_keys("AT&T Inc.").key == "at t"  # "at" is a legal form elsewhere
    assert name_keys("ООО Ромашка").key == "ромашка"
    assert name_keys("Company").key == "company"  # never to nothing
    assert name_keys("!!!") is None


# --- the in-force rule ---------------------------------------------------------------------


def test_in_force_rule_in_order() -> None:
    plain = MeasureDates(effective="2020-01-01", announced="2019-12-01",
                         status=RV + "InForce")
    assert not in_force_on(plain, "2019-12-31") and in_force_on(plain, "2020-01-01")
    rescinded_no_date = MeasureDates(announced="2019-12-01", status=RV + "Rescinded")
    assert not in_force_on(rescinded_no_date, "2020-06-01")  # rule 5: the status decides
    ended = MeasureDates(effective="2020-01-01", ended="2021-06-09",
                         status=RV + "Rescinded",
                         changes=[("2021-06-09", RV + "Rescinded")])
    assert in_force_on(ended, "2021-06-08") and not in_force_on(ended, "2021-06-09")
    staged = MeasureDates(effective="2019-08-13", announced="2018-08-13",
                          status=RV + "InForce",
                          changes=[("2019-08-13", RV + "PartiallyInForce"),
                                   ("2020-08-13", RV + "InForce")])
    assert in_force_on(staged, "2019-09-01") and not in_force_on(staged, "2019-01-01")
    suspended = MeasureDates(announced="2018-01-01", status=RV + "InForce",
                             changes=[("2019-01-01", RV + "Suspended"),
                                      ("2019-06-01", RV + "InForce")])
    assert in_force_on(suspended, "2018-06-01")   # rule 4: a suspension ended force
    assert not in_force_on(suspended, "2019-03-01")
    assert in_force_on(suspended, "2019-07-01")
    not_yet = MeasureDates(announced="2024-04-24", changes=[("2025-01-19", RV + "InForce")])
    assert not in_force_on(not_yet, "2024-06-01") and in_force_on(not_yet, "2025-01-19")
    assert iso_day("2019") == "2019-01-01" and iso_day("2019-05") == "2019-05-01"


def test_periods_agree_with_the_rule_on_every_day() -> None:
    cases = [
        MeasureDates(effective="2020-01-01", announced="2019-12-01", status=RV + "InForce"),
        MeasureDates(announced="2018-01-01", status=RV + "InForce",
                     changes=[("2019-01-01", RV + "Suspended"), ("2019-06-01", RV + "InForce"),
                              ("2020-02-01", RV + "Expired")]),
        MeasureDates(effective="2019-08-13", announced="2018-08-13", ended="2021-01-01",
                     changes=[("2019-08-13", RV + "PartiallyInForce"),
                              ("2020-08-13", RV + "InForce")]),
        MeasureDates(announced="2020-03-01", status=RV + "Proposed"),
        MeasureDates(announced="2020-03-01",
                     changes=[("2020-05-01", RV + "Rescinded"), ("2020-05-01", RV + "InForce")]),
    ]
    for m in cases:
        spans = periods(m)
        day = date(2017, 6, 1)
        while day < date(2022, 1, 1):
            iso = day.isoformat()
            assert in_periods(spans, iso) == in_force_on(m, iso), (m, iso, spans)
            day += timedelta(days=9)


# --- the index of the curated build ---------------------------------------------------------


@pytest.fixture(scope="module")
def index(curated_build: BuildResult) -> SearchIndex:
    return SearchIndex(curated_build.path / INDEX_FILE)


def paths(hits) -> list[str]:  # noqa: ANN001
    return [h.entity.path for h in hits]


def test_every_build_has_its_index(curated_build: BuildResult, index: SearchIndex) -> None:
    assert (curated_build.path / INDEX_FILE).is_file()
    assert not list(curated_build.path.glob(".*partial*"))
    stats = index.stats()
    assert stats["entities"] > 300 and stats["names"] > stats["entities"]


def test_exact_then_prefix_then_words_then_fuzzy(index: SearchIndex) -> None:
    hits = index.search("Huawei", limit=10)
    assert hits[0].entity.path == "company/huawei" and hits[0].tier_name == "exact"
    tiers = [h.tier for h in hits]
    assert tiers == sorted(tiers)
    assert index.search("Huaw", limit=1)[0].tier_name == "prefix"
    assert paths(index.search("Dahua Technology", limit=1)) == ["company/dahua"]
    assert paths(index.search("martin lockheed", limit=1)) == ["company/lockheed-martin"]
    typo = index.search("Hikvison", limit=3)
    assert typo[0].entity.path == "company/hikvision" and typo[0].tier_name == "fuzzy"


@pytest.mark.parametrize("query", ["华为", "华 为", "华为技术有限公司", "华为 技术 有限公司",
                                   "Hua Wei", "HuaWei", "華為"])
def test_chinese_with_and_without_spaces_and_in_pinyin(index: SearchIndex, query: str) -> None:
    assert index.search(query, limit=3)[0].entity.path == "company/huawei"


def test_labels_in_every_language_and_identifiers(index: SearchIndex) -> None:
    assert index.search("商务部", limit=1)[0].entity.path == "agency/cn-mofcom"
    assert index.search("MOFCOM", limit=1)[0].entity.path == "agency/cn-mofcom"
    assert index.search("E.O. 13873", limit=1)[0].entity.path == "instrument/us-eo-13873"
    assert [e.path for e in index.by_identifier("Q148")] == ["state/cn"]


def test_type_and_issuer_filters(index: SearchIndex) -> None:
    companies = index.search("Huawei", classes=[RV + "Company"], limit=20)
    assert companies and all(h.entity.kind == RV + "Company" for h in companies)
    china = index.resolve("state/cn")
    assert china is not None
    listings = index.search("entity list", classes=[RV + "Measure"], issuer=china.id,
                            limit=20)
    us = index.resolve("state/us")
    from_us = index.search("entity list", classes=[RV + "Measure"], issuer=us.id, limit=20)
    assert listings and from_us
    assert {h.entity.polity for h in listings} == {ID_BASE + "state/cn"}
    assert {h.entity.polity for h in from_us} == {ID_BASE + "state/us"}
    # an agency as issuer keeps the actions of the agencies below it
    commerce = index.resolve("agency/us-commerce")
    by_commerce = index.search("Huawei", issuer=commerce.id, limit=20)
    assert "action/us-bis-2019-05-16-huawei-el" in paths(by_commerce)


def test_names_absent_from_the_graph_find_nothing_exact(index: SearchIndex) -> None:
    for query in ("Samsung Electronics", "Taiwan Semiconductor Manufacturing", "Acme Widgets"):
        assert all(h.score < 100 for h in index.search(query, limit=5))


# --- over HTTP and on the command line ----------------------------------------------------


def test_search_json_and_page(client: FlaskClient) -> None:
    r = client.get("/search?q=Huawei&format=json")
    assert r.status_code == 200
    first = r.get_json()["results"][0]
    assert first["id"] == ID_BASE + "company/huawei" and first["match"] == "exact"
    assert first["url"] == "/id/company/huawei"
    page = client.get("/search?q=%E5%8D%8E%E4%B8%BA", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b'href="/id/company/huawei"' in page.data
    assert b'role="search"' in page.data
    assert client.get("/search?q=Huawei", headers={"Accept": "application/json"}).is_json


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/search?format=json", 400, "give something to search for"),
    ("/search?q=x&type=Nope&format=json", 400, "known types"),
    ("/search?q=x&issuer=state/narnia&format=json", 400, "not an entity"),
    ("/search?q=x&limit=0&format=json", 400, "between 1 and 100"),
    ("/search?q=x&limit=abc&format=json", 400, "whole number"),
    ("/search?q=x&format=xml", 406, "json or html"),
    ("/search?format=json&q=" + "x" * 301, 400, "longer than"),
])
def test_bad_searches_are_clear_4xx(client: FlaskClient, url: str, status: int,
                                     words: str) -> None:
    r = client.get(url)
    assert r.status_code == status, r.data
    assert words in r.get_json()["message"]


def test_every_page_has_the_search_box(client: FlaskClient) -> None:
    for path in ("/", "/browse", "/browse/actions", "/timeline", "/stats", "/data",
                 "/id/company/huawei.html", "/screen", "/search", "/shapes.html",
                 "/ontology.html"):
        r = client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200, path
        assert b'<form class="site-search" role="search" action="/search"' in r.data, path


def test_paging(client: FlaskClient) -> None:
    first = client.get("/search?q=entity&limit=3&format=json").get_json()
    assert first["next"] == 3
    second = client.get("/search?q=entity&limit=3&offset=3&format=json").get_json()
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}


@pytest.mark.parametrize("query", [
    {"q": "huawei", "issuer": "state/us"},
    {"q": "huawei", "issuer": ID_BASE + "state/us", "type": ["Measure", "Sanction"],
     "limit": "3", "offset": "1", "format": "html"},
    {"q": " Huawei Technologies & co ", "type": "Company", "limit": "2"},
])
def test_the_json_link_keeps_the_search(client: FlaskClient, query: dict) -> None:
    """The page's "as JSON" link carried q alone: its results were the unfiltered
    search's."""
    page = client.get("/search?" + urlencode(query, doseq=True),
                      headers={"Accept": "text/html"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    found = re.search(r'<a href="([^"]*)">as JSON</a>', text)
    assert found
    link = html.unescape(found.group(1))
    hits = re.findall(r'<li><a href="([^"]+)">', text.split('<ol class="hits"')[1])
    answer = client.get(link)
    assert answer.is_json
    assert [r["url"] for r in answer.get_json()["results"]] == hits and hits
    expected = {k: v if isinstance(v, list) else [v] for k, v in query.items() if k != "format"}
    assert parse_qs(urlsplit(link).query) == {**expected, "format": ["json"]}


def test_rivalry_search_command(store_dir: Path, cli: CliRunner) -> None:
    result = run(cli, "search", "--store", store_dir, "华为")
    assert result.exit_code == 0 and "company:huawei" in result.stdout
    result = run(cli, "search", "--store", store_dir, "x", "--type", "Nope")
    assert result.exit_code == 2 and "not a type" in result.stderr


def test_a_build_without_an_index_says_so_and_how_to_fix(fresh_store: Path,
                                                        cli: CliRunner) -> None:
    current = (fresh_store / "current").resolve()
    (current / INDEX_FILE).unlink()
    app = create_app({"store": str(fresh_store)})
    with app.test_client() as c:
        for url in ("/search?q=Huawei&format=json", "/reconcile", "/screen"):
            r = c.get(url, headers={"Accept": "application/json"})
            assert r.status_code == 503, url
            assert "rivalry build" in r.get_json()["message"]
        page = c.get("/search?q=Huawei", headers={"Accept": "text/html"})
        assert page.status_code == 503 and b"rivalry build" in page.data
        assert c.get("/id/company/huawei.html").status_code == 200  # the rest still works
    result = run(cli, "search", "--store", fresh_store, "Huawei")
    assert result.exit_code == 3 and "rivalry build" in result.stderr
    with pytest.raises(SearchIndexMissing):
        SearchIndex(current / INDEX_FILE)
