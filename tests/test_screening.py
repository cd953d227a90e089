"""Screening: names against the graph's actors, the measures in force on a date that
target them or their parent companies, with sources; bad rows get errors of their own."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from rivalry.graph import ID_BASE
from rivalry.graph.build import BuildResult, build
from rivalry.graph.errors import InvalidInput
from rivalry.graph.screening import (
    ScreenInput,
    read_csv,
    rows_from_records,
    screen,
    to_csv,
    to_dict,
)
from rivalry.graph.search import INDEX_FILE, SearchIndex
from rivalry.server import create_app

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


#: An action whose label is a spreadsheet formula: facts come from people too, and a CSV
#: made of them must not run it.
FORMULA_LABEL = '=HYPERLINK("http://evil.example/","x")'
FORMULA_ACTION = """
@prefix rv:     <https://w3id.org/rivalry/ontology#> .
@prefix action: <https://w3id.org/rivalry/id/action/> .
@prefix agency: <https://w3id.org/rivalry/id/agency/> .
@prefix source: <https://w3id.org/rivalry/id/source/> .
@prefix tech:   <https://w3id.org/rivalry/id/technology/> .
@prefix rdfs:   <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:    <http://www.w3.org/2001/XMLSchema#> .
@prefix prov:   <http://www.w3.org/ns/prov#> .
@prefix dct:    <http://purl.org/dc/terms/> .
@prefix schema: <https://schema.org/> .

action:test-formula a rv:ExportControl ;
    rdfs:label "=HYPERLINK(\\"http://evil.example/\\",\\"x\\")"@en ;
    rv:issuedBy agency:nl-government ;
    rv:appliesToDestination rv:AllDestinations ;
    rv:controlsTechnology tech:semiconductor-metrology-and-inspection-equipment ;
    rv:announcedOn "2025-01-16"^^xsd:date ;
    rv:status rv:InForce ;
    prov:wasDerivedFrom source:test-formula .

source:test-formula a rv:SourceDocument ;
    dct:title "A test source"@en ;
    dct:publisher agency:nl-government ;
    dct:issued "2025-01-16"^^xsd:date ;
    schema:url <https://example.org/test-formula> ;
    rv:sourceKind rv:PrimaryOfficial .
"""


@pytest.fixture(scope="module")
def parent_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The curated facts, a subsidiary of Huawei (org:subOrganizationOf) and an action
    labelled with a formula."""
    root = tmp_path_factory.mktemp("parents")
    facts = root / "facts"
    shutil.copytree(CURATED_FACTS, facts)
    shutil.copy(SUBSIDIARY, facts / "reference" / "test-subsidiary.ttl")
    (facts / "events" / "2025-01-test-formula.ttl").write_text(FORMULA_ACTION, "utf-8")
    return build(root / "store", facts, consistency=False)


@pytest.fixture(scope="module")
def parent_index(parent_build: BuildResult) -> SearchIndex:
    return SearchIndex(parent_build.path / INDEX_FILE)


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
    ({"data": "name\n", "content_type": "text/csv"}, 400, "no names"),
    ({"data": "Name,Ref\r\n\r\n,\r\n", "content_type": "text/csv"}, 400, "no names"),
    ({"json": []}, 400, "no names"),
    ({"json": {"names": []}}, 400, "no names"),
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


def test_an_answer_past_its_size_is_413_in_every_format(store_dir: Path) -> None:
    """The answer's lines (name, candidate, measure) are bounded as the names are: past
    screen_max_lines, 413 naming the setting in every format, never a cut answer; at
    the bound, the whole answer, its lines as many as the setting allows."""
    from rivalry.server import create_app

    names = "name\nHuawei\nHuawei\n"
    with create_app({"store": str(store_dir)}).test_client() as c:
        whole = c.post("/screen", data=names, content_type="text/csv",
                       headers={"Accept": "text/csv"})
        assert whole.status_code == 200
        lines = len(whole.data.decode("utf-8").splitlines()) - 1  # the header
    assert lines > 2  # Huawei is targeted by several measures
    with create_app({"store": str(store_dir), "screen_max_lines": lines}).test_client() as c:
        at = c.post("/screen", data=names, content_type="text/csv",
                    headers={"Accept": "text/csv"})
        assert at.status_code == 200 and at.data == whole.data
    with create_app({"store": str(store_dir),
                     "screen_max_lines": lines - 1}).test_client() as c:
        for accept in ("text/csv", "application/json", "text/html"):
            r = c.post("/screen", data=names, content_type="text/csv",
                       headers={"Accept": accept})
            assert r.status_code == 413, accept
            assert "screen_max_lines" in r.get_data(as_text=True), accept


# --- CSV for spreadsheets, and CSV that is not CSV ------------------------------------------

FORMULAS = ('name,ref\n"=HYPERLINK(""http://evil.example/"",""x"")",@SUM(1+1)\n'
            "+cmd,-2+3\n-cmd,=1+1\nHuawei,-2\n")
#: What a spreadsheet runs when a cell starts with it (OWASP, "CSV Injection").
FORMULA_START = re.compile(r"[=+\-@\t\r]")
NUMBER = re.compile(r"[+-]?\d+(\.\d*)?")


def test_screening_csv_runs_no_formula(client: FlaskClient) -> None:
    """A name or ref starting with =, +, -, @ was given back as sent, and a spreadsheet
    opening the answer ran it; a plain number (-2) is left as it is, and JSON says what
    was sent."""
    upload = {"file": (io.BytesIO(FORMULAS.encode()), "x.csv")}
    r = client.post("/screen", data=upload, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert '"\'=HYPERLINK(""http://evil.example/"",""x"")"' in text  # RFC 4180 quoting kept
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(line["name"], line["ref"]) for line in lines if line["name"] != "Huawei"] == [
        ('\'=HYPERLINK("http://evil.example/","x")', "'@SUM(1+1)"),
        ("'+cmd", "'-2+3"), ("'-cmd", "'=1+1")]
    assert {line["ref"] for line in lines if line["name"] == "Huawei"} == {"-2"}
    cells = [cell for line in csv.reader(io.StringIO(text)) for cell in line]
    assert not [c for c in cells if FORMULA_START.match(c) and not NUMBER.fullmatch(c)]
    as_json = client.post("/screen", data={"file": (io.BytesIO(FORMULAS.encode()), "x.csv")},
                          headers={"Accept": "application/json"}).get_json()
    assert [(x["input"]["name"], x["input"]["ref"]) for x in as_json["results"]] == [
        ('=HYPERLINK("http://evil.example/","x")', "@SUM(1+1)"), ("+cmd", "-2+3"),
        ("-cmd", "=1+1"), ("Huawei", "-2")]


def test_screening_csv_tab_and_carriage_return(parent_index: SearchIndex) -> None:
    """A cell starting with a tab or a carriage return is a formula to some spreadsheets
    too (the readers strip them from names, but not every row comes from a reader)."""
    rows = [ScreenInput(row=2, name="\t=1+1", ref="\r@SUM(1)"),
            ScreenInput(row=3, name="Huawei", ref="+1.5e3")]
    lines = list(csv.DictReader(io.StringIO(to_csv(screen(parent_index, rows,
                                                          on="2021-01-01")))))
    assert (lines[0]["name"], lines[0]["ref"]) == ("'\t=1+1", "'\r@SUM(1)")
    assert {line["ref"] for line in lines[1:]} == {"+1.5e3"}


def test_actions_csv_runs_no_formula(parent_build: BuildResult) -> None:
    """/browse/actions.csv writes the curators' labels: one that is a formula is not run,
    the JSON gives it as it is."""
    app = create_app({"store": str(parent_build.path.parent.parent)})
    with app.test_client() as c:
        page = c.get("/browse/actions.csv?year=2025")
        assert page.status_code == 200
        lines = list(csv.DictReader(io.StringIO(page.get_data(as_text=True))))
        formula = [line for line in lines if line["action"].endswith("/action/test-formula")]
        assert formula and formula[0]["label"] == "'" + FORMULA_LABEL
        cells = [v for line in lines for v in line.values()]
        assert not [v for v in cells if FORMULA_START.match(v) and not NUMBER.fullmatch(v)]
        body = c.get("/browse/actions.json?year=2025").get_json()
        assert FORMULA_LABEL in {a["label"] for a in body["actions"]}


@pytest.mark.parametrize(("body", "line"), [
    ('name\n"Huawei\nZTE\n', 2),
    ('name\n"Huawei\nZTE', 2),
    ('name,ref\n"Huawei\nTechnologies",a\nZTE,"b\nc\n', 4),
    ('name\r\nHuawei\r\n"ZTE\r\n', 3),
])
def test_a_quote_never_closed_is_refused(client: FlaskClient, body: str, line: int) -> None:
    """A field that opens a quote and never closes it had swallowed every line after it:
    "Huawei\\nZTE" was screened as one name, ZTE lost without a word."""
    r = client.post("/screen", data=body.encode(), content_type="text/csv",
                    headers={"Accept": "application/json"})
    assert r.status_code == 400, r.data
    error = r.get_json()
    assert error["line"] == line and f"request body:{line}: " in error["message"]
    assert "never closed" in error["message"]


def test_quoted_fields_over_several_lines_still_read() -> None:
    """A closed quoted field may hold line breaks (RFC 4180); each row is numbered by
    the line it starts on (it was numbered by the rows before it). A quote inside a field,
    or text after a closing quote, is read as before."""
    rows, _ = read_csv('name,ref\n"Huawei\nTechnologies",a\nZTE,"b\nc"\nHikvision,"d"\n'
                       'Dahua 5" Ltd,e\n"Hytera" Communications,f\n')
    assert [(r.row, r.name, r.ref) for r in rows] == [
        (2, "Huawei\nTechnologies", "a"), (4, "ZTE", "b\nc"), (6, "Hikvision", "d"),
        (7, 'Dahua 5" Ltd', "e"), (8, "Hytera Communications", "f")]


def test_a_huge_quoted_field_names_where_it_opened(client: FlaskClient) -> None:
    body = "name\nHuawei\n\"" + "ZTE\n" * 40_000
    r = client.post("/screen", data=body.encode(), content_type="text/csv",
                    headers={"Accept": "application/json"})
    assert r.status_code == 400
    assert r.get_json()["line"] == 3 and "never closed?" in r.get_json()["message"]


@pytest.mark.parametrize(("kwargs", "where"), [
    ({"data": b"name\nHua\x00wei\n", "content_type": "text/csv"}, "request body:2: the name"),
    ({"data": b"name,ref\nHuawei,a\nZTE,b\x00\n", "content_type": "text/csv"},
     "request body:3: the ref"),
    ({"data": {"file": (io.BytesIO(b"name\nHuawei\nZ\x00TE\n"), "names.csv")}},
     "names.csv:3: the name"),
    ({"data": {"names": "Huawei\nZ\x00TE"}}, "form:2: the name"),
    ({"json": ["Huawei", "Hua\x00wei"]}, "item 2 of the list: the name"),
])
def test_a_nul_character_is_refused(client: FlaskClient, kwargs: dict, where: str) -> None:
    """A NUL inside a name had been screened (the keys drop it: "Hua\\0wei" matched
    Huawei) and given back as sent, NUL and all."""
    r = client.post("/screen", headers={"Accept": "application/json"}, **kwargs)
    assert r.status_code == 400, r.data
    message = r.get_json()["message"]
    assert where in message and "NUL character" in message and "\x00" not in message


def test_rivalry_screen_refuses_what_the_server_refuses(store_dir: Path, cli: CliRunner,
                                                        tmp_path: Path) -> None:
    for body, words in (('name\n"Huawei\nZTE\n', ":2: a quoted field opened on this line "
                         "is never closed"),
                        ("name,ref\n", ": no names were given"),
                        ("name\nHua\x00wei\n", ":2: the name 'Hua\\x00wei' holds a NUL")):
        names = tmp_path / "names.csv"
        names.write_text(body, "utf-8")
        result = run(cli, "screen", "--store", store_dir, names)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {names}{words}"), result.stderr
        assert not result.stdout


def test_the_forms_names_and_header_only_files_alike(client: FlaskClient) -> None:
    """A header without rows is no names, as an empty form is: 400, not an empty 200."""
    for data in ({"names": ""}, {"names": "name\n"},
                 {"file": (io.BytesIO(b"name,ref\n"), "names.csv")}):
        r = client.post("/screen", data=data, headers={"Accept": "text/html"})
        assert r.status_code == 400 and b"no names" in r.data, data
