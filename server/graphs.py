"""Named graphs dereference as entities do: a graph's IRI
(https://w3id.org/rivalry/graph/facts/..., /graph/ontology, /graph/inferred,
/graph/meta) answers 303 See Other to a document describing the graph (its sources,
its counts) in the negotiated format: Turtle, JSON-LD, N-Triples, RDF/XML or HTML."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from rivalry.graph import BASE_IRI, DATA_LICENSE
from rivalry.graph.describe import Labels
from rivalry.graph.graphs import describe_graph, graph_info
from rivalry.graph.products import build_graph_figures
from rivalry.server import get_store
from rivalry.server.entities import (
    ENTITY_FORMATS,
    alternates,
    conditional,
    href,
    not_found_body,
    see_other,
    serialize,
    split_suffix,
)
from rivalry.server.errors import checked_iri
from rivalry.server.formats import HTML
from rivalry.server.urls import external_url

bp = Blueprint("graphs", __name__)


def graph_query(iri: str) -> str:
    """The query whose answer is the graph's triples."""
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}"


@bp.get("/graph/<path:rest>")
def named_graph(rest: str) -> WerkzeugResponse:
    path, fmt = split_suffix(rest)
    base = BASE_IRI
    iri = checked_iri(base + "graph/" + path, "the graph's address")
    store = get_store(current_app)
    labels = Labels(store)
    info = graph_info(store, iri, labels, kept=build_graph_figures(store).get(iri))
    if fmt is None:
        return see_other(f"/graph/{path}", iri, info is not None, "this graph")
    if info is None:
        body, content_type = not_found_body(iri, fmt)
        return Response(body, status=404, content_type=content_type)
    if fmt is HTML:
        body = render_template("graph.html", info=info, href=href, path=f"/graph/{path}",
                               formats=ENTITY_FORMATS[:-1], query=graph_query(iri),
                               whole=url_for("graph_store.graph_store", graph=iri)
                               ).encode("utf-8")
    else:
        triples = describe_graph(info, dataset=base + "dataset",
                                 endpoint=external_url("sparql.endpoint"),
                                 data_dump=external_url("graph_store.graph_store", graph=iri))
        body = serialize(triples, fmt)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Link"] = (alternates(f"/graph/{path}") + f', <{iri}>; rel="describes"'
                                + f', <{DATA_LICENSE}>; rel="license"')
    response.headers["Content-Location"] = f"/graph/{path}{fmt.suffix}"
    return conditional(response, f"graph/{path}{fmt.suffix}")
