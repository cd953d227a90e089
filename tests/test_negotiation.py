"""Every route that chooses a media type by Accept goes through formats.best_offer: the
highest q wins, the route's own order breaks ties, nothing acceptable is 406."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("accept, status", [
    ("text/html", 303),  # a browser goes to the query page
    ("text/html, text/turtle", 200),  # a tie: the service description
    ("text/html;q=0.5, text/turtle", 200),
    ("", 200),
])
def test_service_description_or_query_page(client: FlaskClient, accept: str,
                                           status: int) -> None:
    response = client.get("/sparql", headers={"Accept": accept} if accept else {})
    assert response.status_code == status


@pytest.mark.parametrize("accept, kind", [
    ("application/json", "application/json"),
    ("text/html, application/json", "text/html"),  # a tie: HTML
    ("text/html;q=0.2, application/json", "application/json"),
    ("", "text/html"),
])
def test_search_answers_html_unless_json_is_preferred(client: FlaskClient, accept: str,
                                                      kind: str) -> None:
    response = client.get("/search?q=huawei", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.mimetype == kind


def test_search_refuses_what_it_cannot_give(client: FlaskClient) -> None:
    assert client.get("/search?q=huawei", headers={"Accept": "image/png"}).status_code == 406
