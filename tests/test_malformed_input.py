"""Malformed IRIs and odd parameters anywhere get a 4xx with a message, never a 5xx
(issue 12): every GET route of the app, with hostile path parts and query values."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

HOSTILE = ["%3Cbad%3E", "x%20y", "a%22b", "%7Bbad%7D", "%00", "..%2F..%2Fetc%2Fpasswd",
           "%E5%8D%8E", "%FF", "http://x/%3E", "not an iri", "-1", "9" * 40, "%5C%5C"]


def get_routes(app: Flask) -> list[str]:
    return sorted({r.rule for r in app.url_map.iter_rules()
                   if "GET" in r.methods and not r.rule.startswith("/static")})


def test_routes_are_known(app: Flask) -> None:
    assert "/id/<path:rest>" in get_routes(app)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_path_parts_are_never_5xx(app: Flask, client: FlaskClient, value: str) -> None:
    for rule in get_routes(app):
        path = re.sub(r"<[^>]+>", value, rule)
        for accept in ("application/json", "text/html", "text/turtle"):
            response = client.get(path, headers={"Accept": accept})
            assert response.status_code < 500, (path, accept, response.status_code,
                                                response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("value", ["%3Cbad%3E", "x%20y", "%FF", "-1", "9" * 40])
def test_hostile_query_values_are_never_5xx(app: Flask, client: FlaskClient,
                                            value: str) -> None:
    names = ["class", "state", "type", "technology", "year", "sector", "country", "page",
             "q", "issuer", "on", "format", "query", "default-graph-uri", "named-graph-uri",
             "queries", "extend", "prefix", "id", "strict", "offset", "limit"]
    for rule in get_routes(app):
        if "<" in rule:
            continue
        for name in names:
            response = client.get(f"{rule}?{name}={value}", headers={"Accept": "application/json"})
            assert response.status_code < 500, (rule, name, response.status_code,
                                                response.get_data(as_text=True)[:300])
