"""The server's plain SPARQL GET endpoint and home page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from rivalry.server import create_app
from rivalry.server.settings import SETTINGS, InvalidSetting, load_settings

QUERY = ("PREFIX rv: <https://w3id.org/rivalry/ontology#> "
         "SELECT ?m WHERE { ?m a rv:Sanction }")


def test_sparql_get_json(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": QUERY},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200
    assert response.mimetype == "application/sparql-results+json"
    bindings = json.loads(response.data)["results"]["bindings"]
    sanctions = {b["m"]["value"] for b in bindings}
    assert "https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity" in sanctions
    assert "https://w3id.org/rivalry/id/action/us-ofac-2025-01-17-salt-typhoon" in sanctions
    assert "Accept" in response.headers["Vary"]


def test_sparql_syntax_error_is_400(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": "SELECT ?s { ?s ?p }"})
    assert response.status_code == 400
    assert "syntax error" in response.get_json()["message"]


def test_home_page(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert b'<form action="/sparql"' in response.data


def test_no_build_gives_503_with_advice(tmp_path: Path) -> None:
    app = create_app({"store": str(tmp_path / "empty")})
    response = app.test_client().get("/sparql", query_string={"query": "ASK {}"})
    assert response.status_code == 503
    assert "rivalry build" in response.get_json()["message"]


def test_settings_from_environment_and_overrides() -> None:
    values = load_settings({"port": "9000"}, environ={"RIVALRY_WORKERS": "4"})
    assert values["port"] == 9000 and values["workers"] == 4
    with pytest.raises(InvalidSetting, match="unknown setting 'colour'"):
        load_settings(environ={"RIVALRY_COLOUR": "red"})
    with pytest.raises(InvalidSetting, match="not a valid int"):
        load_settings({"port": "eighty"})


def test_every_setting_is_documented() -> None:
    readme = (Path(__file__).parent.parent / "docs" / "settings.md").read_text("utf-8")
    for setting in SETTINGS:
        assert f"`{setting.name}`" in readme and setting.env in readme, setting.name
