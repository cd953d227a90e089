"""The W3C Reconciliation Service API 0.2 against a live `rivalry serve`, every answer
validated against the specification's published JSON schemas (tests/data/
reconciliation-0.2, unchanged copies); and search and screening over real HTTP."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from .live import LiveServer

SCHEMAS = Path(__file__).parent / "data" / "reconciliation-0.2"
BASE = "https://reconciliation-api.github.io/specs/0.2/schemas/"


def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text("utf-8"))
        resource = Resource.from_contents(schema, default_specification=DRAFT7)
        resources += [(BASE + path.name, resource), (schema.get("$id", BASE + path.name),
                                                     resource)]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def check(instance: Any, schema_name: str) -> None:
    schema = json.loads((SCHEMAS / f"{schema_name}.json").read_text("utf-8"))
    schema = dict(schema, **{"$id": BASE + f"{schema_name}.json"})
    errors = sorted(Draft7Validator(schema, registry=REGISTRY).iter_errors(instance),
                    key=lambda e: list(e.path))
    assert not errors, f"{schema_name}: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(store_dir, tmp_path_factory.mktemp("reconcile") / "server.log")
    yield live
    live.stop()


def get(server: LiveServer, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(server.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def post(server: LiveServer, path: str, fields: dict[str, str] | None = None,
         body: bytes | None = None, content_type: str | None = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    data = urllib.parse.urlencode(fields).encode() if fields is not None else body
    headers = dict(headers or {})
    headers["Content-Type"] = content_type or "application/x-www-form-urlencoded"
    request = urllib.request.Request(server.url + path, data=data, headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_manifest(server: LiveServer) -> None:
    status, headers, body = get(server, "/reconcile")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    manifest = json.loads(body)
    check(manifest, "manifest")
    assert manifest["versions"] == ["0.2"]
    assert manifest["identifierSpace"] == "https://w3id.org/rivalry/id/"
    assert manifest["schemaSpace"] == "https://w3id.org/rivalry/ontology#"
    for kind in ("entity", "type", "property"):
        s = manifest["suggest"][kind]
        assert s["service_url"] == server.url
        assert get(server, s["service_path"] + "?prefix=a")[0] == 200


BATCH = {
    "q0": {"query": "Huawei Technologies Co., Ltd."},
    "q1": {"query": "Huawei", "type": "Company", "limit": 3},
    "q2": {"query": "ZTE Corp", "type": ["Company", "Organization"], "type_strict": "any",
           "properties": [{"pid": "country", "v": "CN"}]},
    "q3": {"query": "ZTE Corp", "properties": [{"pid": "country", "v": {"id": "state/us"}}]},
    "q4": {"query": "华为"},
    "q5": {"query": "Samsung Electronics"},
    "q6": {"properties": [{"pid": "wikidata", "v": "Q148"}]},
    "q7": {"query": "company/zte"},
    "q8": {"query": "entity list", "type": "Measure",
           "properties": [{"pid": "issuer", "v": "state/us"}]},
}


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_batch_of_queries(server: LiveServer, method: str) -> None:
    check(BATCH, "reconciliation-query-batch")
    if method == "POST":
        status, headers, body = post(server, "/reconcile", {"queries": json.dumps(BATCH)})
    else:
        status, headers, body = get(server, "/reconcile?" + urllib.parse.urlencode(
            {"queries": json.dumps(BATCH)}))
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    results = json.loads(body)
    check(results, "reconciliation-result-batch")
    assert set(results) == set(BATCH)

    def first(key: str) -> dict:
        return results[key]["result"][0]

    assert first("q0")["id"] == "company/huawei" and first("q0")["match"] is True
    assert first("q0")["score"] == 100
    assert first("q1")["id"] == "company/huawei" and len(results["q1"]["result"]) <= 3
    assert first("q2")["id"] == "company/zte" and first("q2")["match"] is True
    assert all(c["id"] != "company/zte" for c in results["q3"]["result"])
    assert first("q4")["id"] == "company/huawei" and first("q4")["match"] is False
    assert not any(c["match"] for c in results["q5"]["result"])
    assert first("q6")["id"] == "state/cn" and first("q6")["match"] is True
    assert first("q7")["id"] == "company/zte" and first("q7")["match"] is True
    assert results["q8"]["result"] and all(
        "United States" in c["description"] for c in results["q8"]["result"])
    for result in results.values():
        scores = [c["score"] for c in result["result"]]
        assert scores == sorted(scores, reverse=True)
        assert sum(c["match"] for c in result["result"]) <= 1


def test_view_and_preview_urls_resolve(server: LiveServer) -> None:
    manifest = json.loads(get(server, "/reconcile")[2])
    for template in (manifest["view"]["url"], manifest["preview"]["url"]):
        url = template.replace("{{id}}", urllib.parse.quote("company/huawei", safe=""))
        status, headers, body = get(server, url[len(server.url):],
                                    headers={"Accept": "text/html"})
        assert status == 200, url
        assert headers["Content-Type"].startswith("text/html")
        assert b"Huawei Technologies" in body


@pytest.mark.parametrize(("query", "status", "words"), [
    ("", 400, "give the entity to preview"), ("?id=", 400, "give the entity to preview"),
    ("?id=%20", 400, "give the entity to preview"),
    ("?id=company/no-such-company", 404, "no entity 'company/no-such-company'")])
def test_a_preview_without_an_entity_says_which(server: LiveServer, query: str, status: int,
                                                words: str) -> None:
    got, _, body = get(server, "/reconcile/preview" + query,
                       headers={"Accept": "application/json"})
    assert got == status and words in json.loads(body)["message"]


@pytest.mark.parametrize(("kind", "prefix", "expected"), [
    ("entity", "huaw", "company/huawei"), ("entity", "company/zte", "company/zte"),
    ("type", "comp", "Company"), ("type", "sanc", "Sanction"),
    ("property", "coun", "country"), ("property", "first", "firstListedOn"),
])
def test_suggest_services(server: LiveServer, kind: str, prefix: str, expected: str) -> None:
    status, headers, body = get(server, f"/reconcile/suggest/{kind}?prefix="
                                + urllib.parse.quote(prefix))
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    answer = json.loads(body)
    check(answer, {"entity": "suggest-entities-response", "type": "suggest-types-response",
                   "property": "suggest-properties-response"}[kind])
    assert answer["result"][0]["id"] == expected
    more = json.loads(get(server, f"/reconcile/suggest/{kind}?cursor=1&prefix="
                          + urllib.parse.quote(prefix))[2])
    check(more, {"entity": "suggest-entities-response", "type": "suggest-types-response",
                 "property": "suggest-properties-response"}[kind])


def test_data_extension(server: LiveServer) -> None:
    proposal = json.loads(get(server, "/reconcile/propose_properties?type=Company")[2])
    check(proposal, "data-extension-property-proposal")
    offered = {p["id"] for p in proposal["properties"]}
    assert {"country", "wikidata", "targetedBy", "firstListedOn"} <= offered
    assert "issuer" not in offered  # for actions only
    query = {"ids": ["company/huawei", "state/cn", "company/no-such-company"],
             "properties": [{"id": "country"}, {"id": "wikidata"}, {"id": "firstListedOn"},
                            {"id": "targetedBy", "settings": {"in_force_on": "2019-06-01"}},
                            {"id": "alias"}]}
    check(query, "data-extension-query")
    status, headers, body = post(server, "/reconcile", {"extend": json.dumps(query)})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    answer = json.loads(body)
    check(answer, "data-extension-response")
    huawei = answer["rows"]["company/huawei"]
    assert huawei["country"] == [{"id": "state/cn", "name": "People's Republic of China"}]
    assert huawei["firstListedOn"] == [{"date": "2018-08-13T00:00:00Z"}]
    targeted = [m["id"] for m in huawei["targetedBy"]]
    assert "action/us-bis-2019-05-16-huawei-el" in targeted
    # in force on 1 June 2019: nothing announced later
    assert all(re.search(r"-(20(1[0-9]))-", m) for m in targeted), targeted
    assert {"str": "华为技术有限公司"} in huawei["alias"]
    assert answer["rows"]["state/cn"]["wikidata"] == [{"str": "Q148"}]
    assert all(v == [] for v in answer["rows"]["company/no-such-company"].values())
    status, _, body = get(server, "/reconcile?" + urllib.parse.urlencode(
        {"extend": json.dumps(query)}))
    assert status == 200
    check(json.loads(body), "data-extension-response")


@pytest.mark.parametrize(("fields", "status", "words"), [
    ({"queries": "{"}, 400, "not JSON"),
    ({"queries": "[]"}, 400, "JSON object"),
    ({"queries": json.dumps({"q": {}})}, 400, "give a 'query'"),
    ({"queries": "null"}, 400, "null is no request"),
    # half of a UTF-16 surrogate pair: JSON can spell it, no index or file can hold it
    ({"queries": '{"q": {"query": "Hua\\ud800wei"}}'}, 400, "\\ud800, half of a UTF-16"),
    ({"queries": '{"q": {"query": "Huawei", "properties": [{"pid": "country", '
                 '"v": "\\udc00"}]}}'}, 400, "\\udc00, half of a UTF-16"),
    ({"extend": '{"ids": ["\\ud800"], "properties": [{"id": "country"}]}'}, 400,
     "surrogate pair"),
    ({"extend": json.dumps({"ids": ["state/cn"], "properties": ["country"]})}, 400,
     '{"id": "country"}, not "country"'),
    ({"extend": json.dumps({"ids": ["company/huawei"], "properties": [
        {"id": "targetedBy", "settings": {"in_force_on": "not-a-date"}}]})}, 400,
     "in_force_on: 'not-a-date' is not a date"),
    ({"queries": json.dumps({"q": {"query": "x", "type": "Nope"}})}, 400, "unknown type"),
    ({"queries": json.dumps({"q": {"query": "x", "limit": 0}})}, 400, "positive integer"),
    # numbers Python's int() refuses or cuts: past a double's range, NaN, a fraction
    ({"queries": '{"q": {"query": "x", "limit": 1e309}}'}, 400, "positive integer"),
    ({"queries": '{"q": {"query": "x", "limit": 2.5}}'}, 400, "positive integer"),
    ({"queries": '{"q": {"query": "x", "limit": NaN}}'}, 400, "not JSON"),
    ({"queries": '{"q": {"query": "x", "limit": -Infinity}}'}, 400, "not JSON"),
    ({"queries": "[" * 5000}, 400, "nested too deeply"),
    ({"extend": '{"a": ' * 3000}, 400, "nested too deeply"),
    ({"queries": json.dumps({"q": {"query": "x", "properties": [{"pid": "shoe", "v": 1}]}})},
     400, "cannot constrain"),
    ({"queries": json.dumps({"q": {"query": "x", "properties": [{"pid": "country",
                                                                  "v": "Narnia"}]}})},
     400, "unknown country"),
    ({"queries": json.dumps({f"q{i}": {"query": "x"} for i in range(101)})}, 413, "batchSize"),
    ({"extend": json.dumps({"ids": ["state/cn"], "properties": [{"id": "shoe"}]})}, 400,
     "cannot extend"),
    ({"extend": json.dumps({"ids": "state/cn"})}, 400, '"ids"'),
    ({}, 400, "'queries'"),
])
def test_bad_requests_are_clear_4xx(server: LiveServer, fields: dict, status: int,
                                    words: str) -> None:
    got, _, body = post(server, "/reconcile", fields, headers={"Accept": "application/json"})
    assert got == status, body
    assert words in json.loads(body)["message"]


def test_blank_queries_and_boolean_values_are_answered(server: LiveServer) -> None:
    """What the protocol's schema allows is answered, not refused: a blank query (an empty
    cell) has no candidates; a boolean value (one of the protocol's kinds of value) matches
    no entity here, as none of these properties holds booleans."""
    batch = {"blank": {"query": ""}, "spaces": {"query": "   "},
             "flag": {"query": "Huawei", "properties": [{"pid": "wikidata", "v": True}]},
             "huawei": {"query": "Huawei"}}
    check(batch, "reconciliation-query-batch")
    status, _, body = post(server, "/reconcile", {"queries": json.dumps(batch)})
    assert status == 200, body
    answer = json.loads(body)
    check(answer, "reconciliation-result-batch")
    assert answer["blank"] == answer["spaces"] == answer["flag"] == {"result": []}
    assert answer["huawei"]["result"][0]["id"] == "company/huawei"


@pytest.mark.parametrize("limit", ["-1", "0", "x", "1e3"])
def test_a_bad_limit_of_proposed_properties_is_refused(server: LiveServer, limit: str) -> None:
    status, _, body = get(server, "/reconcile/propose_properties?type=Company&limit=" + limit)
    assert status == 400, body
    assert "limit" in json.loads(body)["message"]


def test_proposed_properties_keep_to_their_limit(server: LiveServer) -> None:
    proposal = json.loads(get(server, "/reconcile/propose_properties?type=Company&limit=2")[2])
    check(proposal, "data-extension-property-proposal")
    assert len(proposal["properties"]) == 2 and proposal["limit"] == 2


def test_cors_preflight(server: LiveServer) -> None:
    request = urllib.request.Request(server.url + "/reconcile", method="OPTIONS", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST"})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]


# --- search and screening over HTTP --------------------------------------------------------


def test_search_over_http(server: LiveServer) -> None:
    status, _, body = get(server, "/search?format=json&q=" + urllib.parse.quote("华 为"))
    assert status == 200
    assert json.loads(body)["results"][0]["id"] == "https://w3id.org/rivalry/id/company/huawei"


LATIN_1 = "name\nSociété Générale\nHuawei Technologies\n".encode("latin-1")


def test_screening_a_file_that_is_not_utf8_is_refused(server: LiveServer) -> None:
    """Read with replacement characters, "Soci\ufffdt\ufffd G\ufffdn\ufffdrale" had been
    screened and reported as matching nothing."""
    status, _, body = post(server, "/screen", body=LATIN_1, content_type="text/csv",
                           headers={"Accept": "application/json"})
    assert status == 400
    error = json.loads(body)
    assert "not UTF-8" in error["message"] and (error["line"], error["column"]) == (2, 5)
    boundary = "rivalry-test-boundary"
    upload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
              f"filename=\"names.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() + \
        LATIN_1 + f"\r\n--{boundary}--\r\n".encode()
    status, _, body = post(server, "/screen", body=upload,
                           content_type=f"multipart/form-data; boundary={boundary}",
                           headers={"Accept": "application/json"})
    assert status == 400 and "names.csv:2:5: the file is not UTF-8" in json.loads(body)[
        "message"]
    status, _, body = post(server, "/screen", body=b"names=Soci%E9t%E9",
                           content_type="application/x-www-form-urlencoded",
                           headers={"Accept": "application/json"})
    assert status == 400 and "not UTF-8" in json.loads(body)["message"]


def test_screening_a_csv_with_good_and_bad_rows(server: LiveServer) -> None:
    names = (b"name,country,ref\nHuawei Technologies,CN,a\n,CN,b\nZTE Corporation,Narnia,c\n"
             b"Hytera Communications Corp.,,d\nNo Such Company Ltd,,e\n")
    status, headers, body = post(server, "/screen?on=2021-06-30", body=names,
                                 content_type="text/csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    by_ref: dict[str, list[dict]] = {}
    for line in lines:
        by_ref.setdefault(line["ref"], []).append(line)
    assert {line["status"] for line in by_ref["a"]} == {"match"}
    assert any(line["measure"].endswith("us-bis-2019-05-16-huawei-el") for line in by_ref["a"])
    assert by_ref["b"][0]["status"] == "error" and "no name" in by_ref["b"][0]["error"]
    assert by_ref["c"][0]["status"] == "error" and "Narnia" in by_ref["c"][0]["error"]
    assert by_ref["d"][0]["status"] == "match"
    assert by_ref["e"][0]["status"] == "no match"
    status, _, body = post(server, "/screen?on=2021-06-30", body=names,
                           content_type="text/csv", headers={"Accept": "text/html"})
    assert status == 200 and b"<table class=\"screening\">" in body
