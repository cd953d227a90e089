"""Browse pages: the classes with members, the members of each, actions with filters,
and a timeline of all actions. Readable without JavaScript."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from rivalry.graph.describe import Labels
from rivalry.graph.listing import actions, classes_with_members, facets, is_class, members
from rivalry.server import get_store
from rivalry.server.entities import href

bp = Blueprint("browse", __name__)

RV = "https://w3id.org/rivalry/ontology#"

#: Friendly addresses for the lists people look for first; the class behind each is
#: named by its ontology term, and its title is the ontology's label.
ALIASES = {
    "states": "State", "agencies": "GovernmentAgency", "companies": "Company",
    "organizations": "Organization", "people": "Person", "technologies": "Technology",
    "programs": "Program", "instruments": "LegalInstrument", "sources": "SourceDocument",
}


@bp.get("/browse")
def index() -> str:
    store = get_store(current_app)
    labels = Labels(store)
    return render_template("browse.html", classes=classes_with_members(store, labels),
                           aliases={RV + local: alias for alias, local in ALIASES.items()})


@bp.get("/browse/type")
def by_class() -> str:
    class_iri = request.args.get("class", "")
    store = get_store(current_app)
    if not class_iri or not is_class(store, class_iri):
        abort(404, description=f"{class_iri or '(no class)'} is not a class of the ontology")
    labels = Labels(store)
    return render_template("members.html", class_iri=class_iri, title=labels(class_iri),
                           members=members(store, class_iri, labels), href=href)


@bp.get("/browse/actions")
def action_list() -> str:
    return _actions("actions.html")


@bp.get("/timeline")
def timeline() -> str:
    return _actions("timeline.html")


def _actions(template: str) -> str:
    store = get_store(current_app)
    labels = Labels(store)
    options = facets(store, labels)
    chosen = {k: request.args.get(k) or None for k in ("state", "type", "technology", "year")}
    for key, value in chosen.items():
        if value is not None and value not in {o.value for o in options[key]}:
            abort(400, description=f"{key}={value!r} is not one of the values actions have; "
                                   "choose from the lists on the page")
    rows = actions(store, labels, state=chosen["state"], kind=chosen["type"],
                   technology=chosen["technology"],
                   year=int(chosen["year"]) if chosen["year"] else None)
    return render_template(template, rows=rows, options=options, chosen=chosen, href=href)


@bp.get("/browse/<alias>")
def alias(alias: str) -> Response:
    if alias not in ALIASES:
        abort(404, description=f"no list called {alias!r}; see /browse")
    return redirect(url_for("browse.by_class", **{"class": RV + ALIASES[alias]}), code=302)
