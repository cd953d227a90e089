"""Pages for people: the home page with a query form that works without JavaScript."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from rivalry.graph.errors import StoreError
from rivalry.server import get_store

bp = Blueprint("pages", __name__)

EXAMPLE_QUERY = """PREFIX rv: <https://w3id.org/rivalry/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?measure ?label ?state ?announced WHERE {
  ?measure a rv:Measure ; rdfs:label ?label ; rv:issuingState ?state ;
           rv:announcedOn ?announced .
} ORDER BY ?announced"""


@bp.get("/")
def home() -> str:
    try:
        info = get_store(current_app).info
    except StoreError as e:
        info, problem = None, e.message
    else:
        problem = None
    return render_template("home.html", info=info, problem=problem, example=EXAMPLE_QUERY)
