"""The SPARQL endpoint: /sparql, the query operation of the SPARQL 1.1 Protocol."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from rivalry.graph.errors import QueryError
from rivalry.server import get_store
from rivalry.server.formats import RDF_FORMATS, RESULT_FORMATS, Format, lookup, negotiate

bp = Blueprint("sparql", __name__)


class NotAcceptable(QueryError):
    status = 406
    title = "Not acceptable"


def choose_format(kind: str) -> Format:
    formats = RDF_FORMATS if kind == "graph" else RESULT_FORMATS
    explicit = request.args.get("format")
    if explicit:
        chosen = lookup(formats, explicit)
        if chosen is None:
            raise NotAcceptable(
                f"format={explicit!r} cannot be produced for this query; choose one of: "
                + ", ".join(f.name for f in formats))
        return chosen
    chosen = negotiate(request.accept_mimetypes, formats)
    if chosen is None:
        raise NotAcceptable(
            f"none of the media types in Accept: {request.headers.get('Accept')!r} can be "
            "produced for this query; this one can give: "
            + ", ".join(f.media_type for f in formats))
    return chosen


@bp.get("/sparql")
def query() -> Response:
    queries = request.args.getlist("query")
    if not queries:
        raise QueryError("no query: send the SPARQL query in the `query` parameter "
                         "(SPARQL 1.1 Protocol, section 2.1.1)")
    if len(queries) > 1:
        raise QueryError("more than one `query` parameter; send exactly one")
    store = get_store(current_app)
    result = store.query(
        queries[0],
        default_graph_uris=request.args.getlist("default-graph-uri") or None,
        named_graph_uris=request.args.getlist("named-graph-uri") or None,
    )
    fmt = choose_format(result.kind)
    body = result.serialize(fmt.rdf if result.kind == "graph" else fmt.results)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    return response
