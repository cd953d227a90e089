"""Browse pages: the classes with members, the members of each (a page at a time),
actions with filters (as a table, CSV or JSON, a page at a time), and a timeline of
actions drawn as a chart with the list beneath. Readable without JavaScript."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from rivalry.graph import BASE_IRI, DATA_LICENSE, listing
from rivalry.graph.describe import Labels
from rivalry.graph.listing import (
    CHART_POINTS_MAX,
    ActionFilters,
    ActionPage,
    Option,
    action_page,
    chart_data,
    classes_with_members,
    facets,
    is_class,
    member_page,
)
from rivalry.graph.products import build_facets, build_member_counts
from rivalry.graph.screening import spreadsheet_cell
from rivalry.graph.terms import expanded_name
from rivalry.ontology import NAMESPACE
from rivalry.server import get_store
from rivalry.server.entities import href
from rivalry.server.errors import check_parameters, checked_iri
from rivalry.server.sparql import short_iri
from rivalry.server.timeline import timeline_svg

bp = Blueprint("browse", __name__)

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)

#: Friendly addresses for the lists people look for first; the class behind each is
#: named by its ontology term, and its title is the ontology's label.
ALIASES = {
    "states": "State", "agencies": "GovernmentAgency", "companies": "Company",
    "organizations": "Organization", "people": "Person", "technologies": "Technology",
    "programs": "Program", "instruments": "LegalInstrument", "sources": "SourceDocument",
}

#: The filters of the action lists, in the order the form shows them.
FILTER_TITLES = (("state", "Issuing state or union"), ("type", "Type"),
                 ("technology", "Technology"),
                 ("sector", "Sector"), ("country", "Target country"), ("year", "Year"))


@bp.get("/browse")
def index() -> str:
    store = get_store(current_app)
    labels = Labels(store)
    classes = classes_with_members(store, labels, build_member_counts(store))
    return render_template("browse.html", classes=classes,
                           aliases={RV + local: alias for alias, local in ALIASES.items()})


def _page_number() -> int:
    raw = request.args.get("page", "1")
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "١"
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        abort(400, description=f"page={raw!r} is not a page number; pages count from 1")
    return int(raw)


def _check_page(page: int, pages: int) -> None:
    if page > pages:
        abort(404, description=f"there is no page {page}: the list has {pages} "
                               f"page{'s' if pages != 1 else ''}")


@bp.get("/browse/type")
def by_class() -> str:
    check_parameters(("class", "page"))
    # an IRI, or a prefixed name as SPARQL writes it (rv:Company, skos:Concept)
    given = request.args.get("class", "")
    class_iri = expanded_name(given) or given
    if class_iri:
        checked_iri(class_iri, "class")
    store = get_store(current_app)
    if not class_iri or not is_class(store, class_iri):
        abort(404, description=f"{class_iri or '(no class)'} is not a class of the ontology; "
                               "/browse lists the classes with members")
    labels = Labels(store)
    page = _page_number()
    found = member_page(store, class_iri, labels, page, page_size=listing.PAGE_SIZE)
    _check_page(page, found.pages)
    # a class of another vocabulary may have no label here: its prefixed name, as written
    label = labels.get(class_iri)
    # members of one label (a sector and a technology both "artificial intelligence") are
    # told apart by their prefixed names
    counts = Counter(name for _, name in found.members)
    return render_template("members.html", class_iri=class_iri, label=label,
                           title=label or short_iri(class_iri),
                           found=found, href=href,
                           repeated={name for name, n in counts.items() if n > 1},
                           short=short_iri,
                           page_url=lambda n: "?" + urlencode({"class": class_iri, "page": n}))


# --- actions ---------------------------------------------------------------------------------


def _filters(options: dict[str, list[Option]]) -> ActionFilters:
    """The filters of the request, each checked against the values actions can take."""
    chosen: dict[str, str] = {}
    for key, _ in FILTER_TITLES:
        value = request.args.get(key) or None
        if value is None:
            continue
        if value not in {o.value for o in options[key]}:
            abort(400, description=f"{key}={value!r} is not one of the values this filter "
                                   "takes; choose from the lists on the page")
        chosen[key] = value
    year = chosen.pop("year", None)
    return ActionFilters(**chosen, year=int(year) if year else None)


def _query(filters: ActionFilters, **extra: object) -> str:
    params = {**filters.active(), **{k: v for k, v in extra.items() if v is not None}}
    return urlencode(params)


def _listing(newest_first: bool = False) -> tuple[ActionFilters, ActionPage,
                                                   dict[str, list[Option]], Labels]:
    check_parameters((*(key for key, _ in FILTER_TITLES), "page"))
    store = get_store(current_app)
    labels = Labels(store)
    options = facets(store, labels, build_facets(store))
    filters = _filters(options)
    page = _page_number()
    total = None
    if not filters.active():  # the years' counts add up to all actions: no count query
        total = sum(o.count or 0 for o in options["year"])
    found = action_page(store, labels, filters, page, page_size=listing.PAGE_SIZE, total=total,
                        newest_first=newest_first)
    _check_page(page, found.pages)
    return filters, found, options, labels


@bp.get("/browse/actions")
def action_list() -> str:
    filters, found, options, _ = _listing()
    return render_template("actions.html", found=found, options=options, filters=filters,
                           titles=FILTER_TITLES, href=href, query=lambda **kw: _query(
                               filters, **kw))


@bp.get("/browse/actions.<any(csv, json):fmt>")
def action_download(fmt: str) -> Response:
    """Exactly the rows and columns the page with the same parameters shows."""
    filters, found, _, _ = _listing()
    base = BASE_IRI
    columns = ("announced", "action", "label", "type", "issuing_state")
    records = [{"announced": r.date, "action": r.iri, "label": r.label, "type": r.kind,
                "issuing_state": r.state or ""} for r in found.rows]
    filename = "rivalry-actions" + (f"-page{found.page}" if found.pages > 1 else "")
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        # a label is the curators' text, but a file for spreadsheets runs no formula
        writer.writerows({k: spreadsheet_cell(v) for k, v in r.items()} for r in records)
        response = Response(out.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        body = {
            "filters": filters.active(), "page": found.page, "pages": found.pages,
            "total": found.total, "page_size": found.page_size,
            "license": DATA_LICENSE, "base": base, "actions": records,
        }
        response = Response(json.dumps(body, ensure_ascii=False, indent=1),
                            content_type="application/json; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Link"] = f'<{DATA_LICENSE}>; rel="license"'
    return response


@bp.get("/timeline")
def timeline() -> str:
    filters, found, options, labels = _listing()
    store = get_store(current_app)

    def year_query(year: int | str | None) -> str:
        return _query(ActionFilters(**{**{k: getattr(filters, k) for k in ActionFilters.NAMES},
                                       "year": int(year) if year else None}))

    data = chart_data(store, labels, filters, found.total)
    svg = timeline_svg(data, filters.year, href=href,
                       zoom_url=lambda year: f"/timeline?{year_query(year)}#chart")
    return render_template("timeline.html", found=found, options=options, filters=filters,
                           titles=FILTER_TITLES, href=href, svg=svg, data=data,
                           chart_max=CHART_POINTS_MAX, year_query=year_query,
                           query=lambda **kw: _query(filters, **kw))


@bp.get("/browse/<alias>")
def alias(alias: str) -> WerkzeugResponse:
    if alias not in ALIASES:
        abort(404, description=f"no list called {alias!r}; see /browse")
    values: dict[str, Any] = {"class": RV + ALIASES[alias]}  # a keyword Python reserves
    return redirect(url_for("browse.by_class", **values), code=302)
