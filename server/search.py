"""GET /search: entities and actions by name, as a page (with the search box every page
carries) or as JSON. The index is the build's (rivalry.graph.search); nothing is built
here."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from rivalry.graph.errors import RivalryError
from rivalry.graph.search import Hit, SearchIndex, open_index
from rivalry.ontology import RV
from rivalry.server import get_store
from rivalry.server.entities import href
from rivalry.server.errors import NotAcceptable, check_parameters
from rivalry.server.formats import best_offer

bp = Blueprint("search", __name__)

MAX_LIMIT = 100
MAX_OFFSET = 1000
MAX_QUERY_LENGTH = 300
POLITY = str(RV.Polity)


class BadSearch(RivalryError):
    status = 400
    title = "Bad search"


def get_index(app: Flask | None = None) -> SearchIndex:
    """The search index of the build being served (503 with what to do when the build
    has none)."""
    return open_index(get_store(app or current_app))


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadSearch(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadSearch(f"{name} must be between {low} and {high}; it was {value}")
    return value


def wants_json() -> bool:
    explicit = request.args.get("format")
    if explicit:
        if explicit not in ("json", "html"):
            raise NotAcceptable(f"format={explicit!r}: search answers as json or html")
        return explicit == "json"
    # HTML unless JSON is strictly preferred (the offers' order breaks ties)
    best = best_offer(request.headers.get("Accept", ""), ("text/html", "application/json"))
    if best is None:
        raise NotAcceptable("search answers as application/json or text/html")
    return best == "application/json"


def resolve_filters(index: SearchIndex) -> tuple[list[str], Any]:
    """The type and issuer filters of the request, checked against the index."""
    classes = []
    for ref in request.args.getlist("type"):
        if not ref.strip():
            continue
        found = index.resolve_class(ref)
        if found is None:
            known = ", ".join(local for local, *_ in index.classes().values())
            raise BadSearch(f"type={ref!r} is not a type of the graph's entities; known types: "
                            f"{known}")
        classes.append(found)
    issuer = None
    raw = request.args.get("issuer", "").strip()
    if raw:
        issuer = index.resolve(raw)
        if issuer is None:
            raise BadSearch(f"issuer={raw!r} is not an entity of the graph; give its IRI, its "
                            "id (state/us, agency/us-bis) or a prefixed name (state:us)")
    return classes, issuer


def hit_dict(hit: Hit) -> dict[str, Any]:
    e = hit.entity
    return {"id": e.iri, "url": href(e.iri), "label": e.label, "matched_name": hit.name,
            "match": hit.tier_name, "score": hit.score, "type": e.kind,
            "type_label": e.kind_label, "country": e.country, "country_label": e.country_label,
            "issuer": e.polity, "issuer_label": e.polity_label, "date": e.date}


def issuer_options(index: SearchIndex) -> list[tuple[str, str]]:
    """The states and unions that issued actions, for the page's filter."""
    rows = index.sql("SELECT DISTINCT e.iri, e.label FROM issuer i JOIN entity e ON e.id = "
                     "i.issuer JOIN entity_type t ON t.entity = e.id AND t.class = ? "
                     "ORDER BY e.label", (POLITY,))
    return [(iri, label) for iri, label in rows]


@bp.get("/search")
def search() -> Response | str:
    check_parameters(("q", "type", "issuer", "limit", "offset", "format"), repeatable=("type",))
    as_json = wants_json()
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise BadSearch(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    limit = int_arg("limit", 20, 1, MAX_LIMIT)
    offset = int_arg("offset", 0, 0, MAX_OFFSET)
    index = get_index()
    classes, issuer = resolve_filters(index)
    if not query and as_json:
        raise BadSearch("give something to search for: /search?q=Huawei")
    hits = index.search(query, classes=classes, issuer=issuer.id if issuer else None,
                        limit=limit + 1, offset=offset) if query else []
    more = len(hits) > limit
    hits = hits[:limit]
    if as_json:
        body: dict[str, Any] = {
            "query": query, "type": classes, "issuer": issuer.iri if issuer else None,
            "limit": limit, "offset": offset, "results": [hit_dict(h) for h in hits]}
        if more:
            body["next"] = offset + limit
        response = jsonify(body)
        response.headers["Vary"] = "Accept"
        return response
    page = render_template(
        "search.html", query=query, hits=hits, href=href, more=more, limit=limit,
        offset=offset, classes=index.classes(), chosen_types=classes,
        issuers=issuer_options(index), chosen_issuer=issuer.iri if issuer else "",
        previous=page_url(max(offset - limit, 0)) if offset else None,
        following=page_url(offset + limit) if more else None, as_json=json_url())
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Vary"] = "Accept"
    return response


def json_url() -> str:
    """This search as JSON: every parameter of the request (the filters, limit and
    offset included, a repeated type repeated) but format, then format=json."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "format"]
    return "/search?" + urlencode(args + [("format", "json")])


def page_url(offset: int) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
    return "/search?" + urlencode(args + ([("offset", str(offset))] if offset else []))
