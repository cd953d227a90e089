"""Screening: names against the graph's actors, the measures in force on a date that
target them or their parent companies, with sources; bad rows get errors of their own."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from rivalry.graph import ID_BASE
from rivalry.graph.build import build
from rivalry.graph.errors import InvalidInput
from rivalry.graph.screening import read_csv, rows_from_records, screen, to_csv, to_dict
from rivalry.graph.search import INDEX_FILE, SearchIndex

from .conftest import CURATED_FACTS, DATA, run

SUBSIDIARY = DATA / "shacl" / "valid" / "company-with-parent-company.ttl"

GOOD_AND_BAD = """name,country,identifier,ref,notes
Huawei Technologies Co. Ltd,CN,,r1,a legal form written another way
华为,,,r2,Chinese
ZTE Corp,US,,r3,the wrong country: ZTE is Chinese
,CN,,r4,no name
Acme Widgets,Narnia,,r5,an unknown country
Samsung Electronics Co. Ltd,KR,,r6,absent from the graph
,,Q148,r7,by Wikidata item
Hikvison,,,r8,a typo
""" + "x" * 501 + """,,,r9,too long
Test Subsidiary Ltd.,,,r10,a subsidiary of Huawei
"""


@pytest.fixture(scope="module")
def parent_index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    """The curated facts and a subsidiary of Huawei (org:subOrganizationOf)."""
    root = tmp_path_factory.mktemp("parents")
    facts = root / "facts"
    shutil.copytree(CURATED_FACTS, facts)
    shutil.copy(SUBSIDIARY, facts / "reference" / "test-subsidiary.ttl")
    built = build(root / "store", facts, consistency=False)
    return SearchIndex(built.path / INDEX_FILE)


def by_ref(result) -> dict:  # noqa: ANN001
    return {r.input.ref: r for r in result.results}


def test_good_and_bad_rows(parent_index: SearchIndex) -> None:
    rows, warnings = read_csv(GOOD_AND_BAD)
    assert warnings and "notes" in warnings[0]
    result = by_ref(screen(parent_index, rows, on="2021-01-01"))
    assert result["r1"].status == "match"
    assert result["r1"].candidates[0].entity.iri == ID_BASE + "company/huawei"
    listed = {m.measure.path for m in result["r1"].candidates[0].measures}
    assert "action/us-bis-2019-05-16-huawei-el" in listed
    assert all(m.sources for m in result["r1"].candidates[0].measures)
    assert result["r2"].candidates[0].entity.path == "company/huawei"
    assert result["r2"].status == "possible match"  # a transliteration is never certain
    assert result["r3"].status == "no match"  # ZTE is recorded in China, not the US
    assert result["r4"].status == "error" and "no name" in result["r4"].error
    assert result["r5"].status == "error" and "unknown country 'Narnia'" in result["r5"].error
    assert result["r6"].status == "no match"
    assert result["r7"].status == "match"
    assert result["r7"].candidates[0].entity.path == "state/cn"
    assert result["r8"].candidates[0].entity.path == "company/hikvision"
    assert result["r9"].status == "error" and "longer than" in result["r9"].error


def test_parents_measures_come_with_the_subsidiary(parent_index: SearchIndex) -> None:
    rows, _ = read_csv(GOOD_AND_BAD)
    result = by_ref(screen(parent_index, rows, on="2021-01-01"))
    sub = result["r10"]
    assert sub.status == "match"
    measures = sub.candidates[0].measures
    assert measures and all(m.via is not None and m.via.path == "company/huawei"
                            for m in measures)
    alone = by_ref(screen(parent_index, rows, on="2021-01-01", parents=False))
    assert alone["r10"].candidates[0].measures == []


@pytest.mark.parametrize(("value", "words"), [
    (["Huawei"], "'name' must be text"), ({"a": 1}, "'name' must be text"),
    (float("nan"), "not NaN"), (float("inf"), "not Infinity"), (True, "not true")])
def test_a_field_that_is_not_text_is_the_rows_error(parent_index: SearchIndex, value: object,
                                                     words: str) -> None:
    """JSON rows whose name is a list, an object, a truth value or not a finite number
    were screened under that value's Python spelling ("['Huawei']", "nan")."""
    rows = rows_from_records([{"name": value, "ref": "bad"}, {"name": "Huawei", "ref": "h"},
                              {"name": "Huawei", "identifier": 12345, "ref": "n"}])
    results = screen(parent_index, rows, on="2021-01-01").results
    assert results[0].status == "error" and words in (results[0].error or "")
    assert results[1].status == "match"
    assert results[2].status != "error" and results[2].input.identifier == "12345"


def test_measures_follow_the_date(parent_index: SearchIndex) -> None:
    rows = rows_from_records([{"name": "Huawei", "ref": "h"}])
    before = screen(parent_index, rows, on="2018-01-01").results[0]
    after = screen(parent_index, rows, on="2021-01-01").results[0]
    assert before.candidates[0].measures == []
    assert len(after.candidates[0].measures) >= 3


def test_csv_and_json_outputs(parent_index: SearchIndex) -> None:
    rows, _ = read_csv(GOOD_AND_BAD)
    result = screen(parent_index, rows, on="2021-01-01")
    lines = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert {line["row"] for line in lines} == {str(n) for n in range(2, 12)}
    errors = [line for line in lines if line["status"] == "error"]
    assert len(errors) == 3 and all(line["error"] for line in errors)
    measure_lines = [line for line in lines if line["measure"]]
    assert measure_lines and all(line["sources"].startswith("http") for line in measure_lines)
    body = json.loads(json.dumps(to_dict(result)))
    assert body["on"] == "2021-01-01" and body["counts"]["error"] == 3
    first = body["results"][0]["candidates"][0]
    assert first["measures"][0]["in_force"][0]["from"] <= "2021-01-01"


def test_a_file_without_a_name_column_is_refused_whole() -> None:
    with pytest.raises(InvalidInput, match="no 'name' column"):
        read_csv("company,country\nHuawei,CN\n")
    with pytest.raises(InvalidInput, match="empty"):
        read_csv("")


def test_rivalry_screen(store_dir: Path, cli: CliRunner, tmp_path: Path) -> None:
    names = tmp_path / "names.csv"
    names.write_text(GOOD_AND_BAD, "utf-8")
    result = run(cli, "screen", "--store", store_dir, names, "--on", "2021-01-01")
    assert result.exit_code == 0, result.output
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    assert any(line["entity"] == ID_BASE + "company/huawei" and line["measure"]
               for line in lines)
    assert "screened 10 names on 2021-01-01" in result.stderr
    as_json = run(cli, "screen", "--store", store_dir, names, "--format", "json")
    assert json.loads(as_json.stdout)["counts"]["match"] >= 2
    bad_date = run(cli, "screen", "--store", store_dir, names, "--on", "30/06/2024")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.stderr
    no_column = tmp_path / "bad.csv"
    no_column.write_text("company\nHuawei\n", "utf-8")
    latin = tmp_path / "latin-1.csv"
    latin.write_bytes("name\nSociété Générale\n".encode("latin-1"))
    not_utf8 = run(cli, "screen", "--store", store_dir, latin)
    assert not_utf8.exit_code == 2  # it had been a traceback
    assert not_utf8.stderr.startswith(f"error: {latin}:2:5: the file is not UTF-8")
    refused = run(cli, "screen", "--store", store_dir, no_column)
    assert refused.exit_code == 2 and "no 'name' column" in refused.stderr


def test_post_screen_formats(client: FlaskClient) -> None:
    body = "name,country\nHuawei,CN\nZTE,Narnia\n"
    as_csv = client.post("/screen", data=body, content_type="text/csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    as_json = client.post("/screen?on=2021-01-01", data=body, content_type="text/csv",
                          headers={"Accept": "application/json"})
    statuses = [r["status"] for r in as_json.get_json()["results"]]
    assert statuses == ["match", "error"]
    records = client.post("/screen", json=["Huawei", {"name": "ZTE Corporation"}, 7])
    assert [r["status"] for r in records.get_json()["results"]] == ["match", "match", "error"]
    form = client.post("/screen", data={"names": "Huawei\nZTE Corporation", "on": "2021-01-01"},
                       headers={"Accept": "text/html"})
    assert form.status_code == 200 and b"BIS adds Huawei" in form.data


@pytest.mark.parametrize(("kwargs", "status", "words"), [
    ({"data": "name\nHuawei\n", "content_type": "application/xml"}, 415, "text/csv"),
    ({"data": "nom\nHuawei\n", "content_type": "text/csv"}, 400, "no 'name' column"),
    ({"data": "{", "content_type": "application/json"}, 400, "not JSON"),
    ({"data": '["x", NaN]', "content_type": "application/json"}, 400, "not JSON"),
    ({"data": '["Hua\\ud800wei"]', "content_type": "application/json"}, 400,
     "\\ud800, half of a UTF-16 surrogate pair"),
    ({"data": '[{"name": "\\udfff"}]', "content_type": "application/json"}, 400,
     "surrogate pair"),
    ({"data": b'["\xe9"]', "content_type": "application/json"}, 400, "not UTF-8"),
    ({"json": {"a": 1}}, 400, "list of names"),
    ({"data": "name\nHuawei\n", "content_type": "text/csv",
      "query_string": {"on": "tomorrow"}}, 400, "YYYY-MM-DD"),
    ({"data": "name\nHuawei\n", "content_type": "text/csv",
      "query_string": {"format": "pdf"}}, 406, "csv, json or html"),
    ({"data": {"names": ""}}, 400, "no names"),
])
def test_bad_screening_requests_are_clear_4xx(client: FlaskClient, kwargs: dict,
                                              status: int, words: str) -> None:
    r = client.post("/screen", headers={"Accept": "application/json"}, **kwargs)
    assert r.status_code == status, r.data
    assert words in r.get_json()["message"]


def test_too_many_names_is_413(store_dir: Path) -> None:
    from rivalry.server import create_app

    app = create_app({"store": str(store_dir), "screen_max_names": 2})
    with app.test_client() as c:
        r = c.post("/screen", data="name\na\nb\nc\n", content_type="text/csv",
                   headers={"Accept": "application/json"})
        assert r.status_code == 413 and "screen_max_names" in r.get_json()["message"]
