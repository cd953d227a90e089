"""The read-only SPARQL 1.1 Graph Store HTTP Protocol endpoint, `/rdf-graph-store`, with
the protocol's indirect identification of graphs:

- `?graph=IRI`: that named graph of the build being served, in the negotiated RDF
  format (Turtle, N-Triples, RDF/XML, JSON-LD); 404 when the build has no such graph;
- `?default`: the default graph, which for rivalry (as for its SPARQL endpoint) is the
  union of every named graph: the Turtle and N-Triples dumps, written by the build;
- neither: the whole dataset, every graph named, as the N-Quads, TriG and JSON-LD dumps
  (as Oxigraph server and Jena answer such a request).

Writes (PUT, POST, DELETE, PATCH) get 405: the public endpoint is read-only, and the graph
changes only by a build from the facts files. A graph is written out natively by
pyoxigraph from the embedded store; from an external store it is read through its quads,
bounded by the request's own time limit as every outbound call of a request is."""

from __future__ import annotations

import io

import pyoxigraph as ox
from flask import Blueprint, Response, abort, current_app, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.wrappers import Response as WerkzeugResponse

from rivalry.graph import DATA_LICENSE, PREFIXES, term_value
from rivalry.graph.results import check_writable, check_xml_characters, prefixes_in_order
from rivalry.server import get_store
from rivalry.server.entities import conditional
from rivalry.server.errors import NotAcceptable, checked_iri
from rivalry.server.formats import RDF_FORMATS, Format, best_offer, lookup, negotiate
from rivalry.server.publish import send_dump

bp = Blueprint("graph_store", __name__)

#: The formats a named graph is given in, the first for clients that accept anything.
GRAPH_FORMATS: tuple[Format, ...] = tuple(
    f for f in (lookup(RDF_FORMATS, n) for n in ("turtle", "ntriples", "rdfxml", "jsonld"))
    if f is not None)
#: The default graph (the union of the named graphs), by its dumps.
DEFAULT_GRAPH_DUMPS: dict[str, str] = {"turtle": "rivalry.ttl", "ntriples": "rivalry.nt"}
#: The whole dataset, by its dumps.
DATASET_DUMPS: dict[str, str] = {"nquads": "rivalry.nq", "trig": "rivalry.trig",
                                 "jsonld": "rivalry.jsonld"}
WRITES = ("PUT", "POST", "DELETE", "PATCH")
#: What the graph store allows (its OPTIONS answer and its 405s' Allow).
ALLOWED = ("GET", "HEAD", "OPTIONS")


def _formats(names: dict[str, str]) -> tuple[Format, ...]:
    return tuple(f for f in (lookup(RDF_FORMATS, n) for n in names) if f is not None)


def _choose(formats: tuple[Format, ...], what: str) -> Format:
    """The negotiated format; the first (Turtle, N-Quads) for a client asking for a page
    only (a crawler following a page's link: RFC 9110 lets a server disregard Accept
    rather than answer 406); 406 for a client asking for something else."""
    header = request.headers.get("Accept", "")
    chosen = negotiate(header, formats)
    if chosen is None and best_offer(header, ("text/html",)) is not None:
        chosen = formats[0]
    if chosen is None:
        raise NotAcceptable(f"{what} can be given as "
                            + ", ".join(f.media_type for f in formats))
    return chosen


def _target() -> tuple[str, str | None]:
    """What the request identifies: ("graph", IRI), ("default", None) or ("dataset",
    None); a 400 for a request the protocol does not allow."""
    args = request.args
    unknown = sorted(set(args) - {"graph", "default"})
    if unknown:
        abort(400, description=f"unknown parameter {unknown[0]!r}: the graph store takes "
                               "`graph=IRI` (a named graph) or `default` (the default graph), "
                               "or neither (the whole dataset)")
    graphs = args.getlist("graph")
    if graphs and "default" in args:
        abort(400, description="give either `graph=IRI` or `default`, not both")
    if len(graphs) > 1:
        abort(400, description="give one `graph` parameter; this request has "
                               f"{len(graphs)}")
    if graphs:
        return "graph", checked_iri(graphs[0], "the `graph` parameter (an absolute IRI)")
    return ("default", None) if "default" in args else ("dataset", None)


@bp.route("/rdf-graph-store", methods=["GET"], provide_automatic_options=False)
def graph_store() -> WerkzeugResponse:
    kind, iri = _target()
    response: WerkzeugResponse
    if kind == "default":
        fmt = _choose(_formats(DEFAULT_GRAPH_DUMPS), "the default graph (the union of "
                                                     "every named graph)")
        response = send_dump(DEFAULT_GRAPH_DUMPS[fmt.name], as_gzip_file=False)
    elif kind == "dataset":
        fmt = _choose(_formats(DATASET_DUMPS), "the whole dataset")
        response = send_dump(DATASET_DUMPS[fmt.name], as_gzip_file=False)
    else:
        assert iri is not None
        response = _named_graph(iri, _choose(GRAPH_FORMATS, "a named graph"))
    response.headers["Vary"] = ", ".join(
        v for v in ("Accept", response.headers.get("Vary")) if v)
    return response


def _named_graph(iri: str, fmt: Format) -> WerkzeugResponse:
    store = get_store(current_app)
    if iri not in store.named_graphs():
        abort(404, description=f"the build being served has no graph <{iri}>; "
                               "/sparql?query=SELECT DISTINCT ?g WHERE { GRAPH ?g {} } "
                               "lists those it has")
    assert fmt.rdf is not None
    tag = f"rdf-graph-store:{iri}:{fmt.name}"
    # a client that has it (If-None-Match) gets its 304 before the graph is written out,
    # which for the largest graphs takes seconds
    early = conditional(Response(b"", content_type=fmt.content_type), tag)
    if early.status_code in (304, 412):
        return early
    prefixes = PREFIXES if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML,
                                       ox.RdfFormat.JSON_LD) else None
    if fmt.rdf == ox.RdfFormat.RDF_XML:  # a predicate RDF/XML cannot write: 406
        predicates = store.query(f"SELECT DISTINCT ?p WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}")
        check_writable((term_value(p) for p, in predicates.rows() if p is not None), fmt.rdf)
    out = io.BytesIO()
    db = getattr(store, "db", None)
    try:
        if isinstance(db, ox.Store):  # natively, without a triple passing through Python
            db.dump(out, format=fmt.rdf, from_graph=ox.NamedNode(iri), prefixes=prefixes)
        else:
            ox.serialize((q.triple for q in store.quads(iri)), out, format=fmt.rdf,
                         prefixes=prefixes)
    except ValueError as e:  # a triple pyoxigraph refuses to write in this format
        raise NotAcceptable(f"the graph <{iri}> cannot be written as {fmt.media_type} ({e}); "
                            "ask for text/turtle or application/n-triples") from None
    body = out.getvalue()
    if fmt.rdf == ox.RdfFormat.TURTLE:
        body = prefixes_in_order(body)
    body = check_xml_characters(body, fmt.rdf)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Link"] = f'<{DATA_LICENSE}>; rel="license"'
    return conditional(response, tag)


@bp.route("/rdf-graph-store", methods=["OPTIONS"], provide_automatic_options=False)
def options() -> Response:
    # written out, as Flask's would list the write methods its routes take (to refuse them)
    response = Response(b"", status=200)
    response.headers["Allow"] = ", ".join(ALLOWED)
    return response


# every other method the front passes on is refused here, so that the 405's Allow lists
# what the graph store answers, not the methods this route takes in order to refuse them
@bp.route("/rdf-graph-store", methods=[*WRITES, "TRACE", "CONNECT"],
          provide_automatic_options=False)
def read_only() -> WerkzeugResponse:
    if request.method not in WRITES:
        raise MethodNotAllowed(valid_methods=list(ALLOWED),
                               description=f"{request.method} is not allowed on the graph "
                                           "store; read graphs with GET or HEAD.")
    raise MethodNotAllowed(
        valid_methods=list(ALLOWED),
        description=f"{request.method} is not allowed: this graph store is read-only. The "
                    "graph changes only when the facts files are edited and `rivalry build` "
                    "is run (CONTRIBUTING.md); read graphs with GET or HEAD.")
