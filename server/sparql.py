"""The SPARQL endpoint: the query operation of the SPARQL 1.1 Protocol at /sparql.

GET with `query=`, POST form-encoded, POST `application/sparql-query`; the request's
dataset (`default-graph-uri`, `named-graph-uri`); results by content negotiation or
`format=`; a Service Description when there is no query. Updates are refused, whichever
way they are sent: this endpoint is read-only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request
from werkzeug.http import parse_options_header
from werkzeug.wrappers import Response as WerkzeugResponse

from rivalry.graph import PREFIXES
from rivalry.graph.errors import QueryError, UpdateRefused
from rivalry.graph.results import Answer, check_xml_characters, write
from rivalry.graph.sparql import inspect_query
from rivalry.graph.terms import prefixed_name
from rivalry.server import get_store, protective_headers
from rivalry.server.entities import href
from rivalry.server.errors import (
    BadParameter,
    NotAcceptable,
    UnsupportedMediaType,
    checked_iri,
    form_params,
    query_params,
    read_body,
    read_params,
    utf8_only,
)
from rivalry.server.formats import (
    HTML,
    RDF_FORMATS,
    RESULT_FORMATS,
    Format,
    lookup,
    negotiate,
    negotiate_header,
    variants_header,
)
from rivalry.server.meta import cors_headers
from rivalry.server.service import SERVICE_FORMATS, service_description
from rivalry.server.settings import query_limits
from rivalry.server.urls import base_url
from rivalry.server.workers import Reply

bp = Blueprint("sparql", __name__)


def short_iri(iri: str) -> str:
    """An IRI as a prefixed name where a known prefix fits, for pages (the IRI otherwise)."""
    return prefixed_name(iri) or iri

PROTOCOL = "SPARQL 1.1 Protocol, section 2.1"


ReadOnly = UpdateRefused


def format_parameter() -> str | None:
    """The query string's `format` (a browser's choice of format), as `read_request`
    read it with the other parameters: a query sent in the URL is parsed once, not again
    by werkzeug's `request.args`."""
    if "rivalry_format" not in g:
        g.rivalry_format = request.args.get("format")
    return g.rivalry_format


def choose_format(kind: str) -> Format:
    """The format of this request's answer (`chosen_format`)."""
    return chosen_format(kind, format_parameter(), request.headers.get("Accept"))


def chosen_format(kind: str, explicit: str | None, accept: str | None) -> Format:
    """The format of an answer of this kind: the one `format=` names (`explicit`), or the
    best for the Accept header; 406 when it cannot be given."""
    formats = (RDF_FORMATS if kind == "graph" else RESULT_FORMATS) + (HTML,)
    if explicit:
        chosen = lookup(formats, explicit)
        if chosen is None:
            raise NotAcceptable(
                f"format={explicit!r} cannot be produced for this query; choose one of: "
                + ", ".join(f.name for f in formats))
        return chosen
    chosen = negotiate_header(accept or "", formats)
    if chosen is None:
        raise NotAcceptable(
            f"none of the media types in Accept: {accept!r} can be produced for this query; "
            "it can be given as: " + ", ".join(f.media_type for f in formats))
    return chosen


def _values(params: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in params if k == name]


def read_request() -> tuple[str | None, list[str], list[str]]:
    """The query text and the protocol dataset of a request, or a 4xx for anything else."""
    url_params = query_params()
    g.rivalry_format = next(iter(_values(url_params, "format")), None)
    body_params: list[tuple[str, str]] = []
    query_texts = _values(url_params, "query")
    updates = _values(url_params, "update")
    if request.method == "POST":
        mimetype = request.mimetype
        if mimetype == "application/x-www-form-urlencoded":
            body_params = form_params()
            query_texts += _values(body_params, "query")
            updates += _values(body_params, "update")
        elif mimetype == "application/sparql-query":
            utf8_only("a query body", "the SPARQL 1.1 Protocol (section 2.1.3) takes "
                      "application/sparql-query in UTF-8 only; send it as UTF-8")
            try:
                body = read_body().decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise QueryError("the request body is not valid utf-8 (the protocol "
                                 "takes UTF-8 only)") from None
            query_texts.append(body)
        elif mimetype == "application/sparql-update":
            raise ReadOnly("this endpoint is read-only and runs queries only; SPARQL updates "
                           "(application/sparql-update) are not accepted")
        else:
            raise UnsupportedMediaType(
                f"a POST to the SPARQL endpoint must be application/x-www-form-urlencoded "
                f"or application/sparql-query, not {mimetype or '(no Content-Type)'!r} "
                f"({PROTOCOL}.2)")
    if updates and query_texts:
        raise QueryError("the request carries both a `query` and an `update` parameter; "
                         f"send one query ({PROTOCOL})")
    if updates:
        raise ReadOnly("this endpoint is read-only and runs queries only; updates are not "
                       "accepted (the `update` parameter)")
    if len(query_texts) > 1:
        raise QueryError(f"the request carries {len(query_texts)} queries; send exactly one "
                         f"({PROTOCOL})")
    params = url_params + body_params
    return (query_texts[0] if query_texts else None,
            [checked_iri(u, "default-graph-uri") for u in _values(params, "default-graph-uri")],
            [checked_iri(u, "named-graph-uri") for u in _values(params, "named-graph-uri")])


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> WerkzeugResponse:
    text, default_graphs, named_graphs = read_request()
    if text is None:
        if request.method == "POST":
            raise QueryError(f"no query: send it in the `query` parameter ({PROTOCOL})")
        return describe_service()
    if not text.strip():
        raise QueryError("the query is empty")
    settings = current_app.config["RIVALRY"]
    store = get_store(current_app)
    limits = query_limits(settings)
    answer = store.execute(text, limits,
                           default_graph_uris=default_graphs or None,
                           named_graph_uris=named_graphs or None,
                           result_format=native_format)
    return render_answer(answer, text)


def native_format(kind: str) -> ox.QueryResultsFormat | ox.RdfFormat | None:
    """The format pyoxigraph should write this request's answer in (`native_format_for`)."""
    return native_format_for(format_parameter(), request.headers.get("Accept"))(kind)


def native_format_for(explicit: str | None, accept: str | None
                      ) -> Callable[[str], ox.QueryResultsFormat | ox.RdfFormat | None]:
    """For each kind of answer, the format pyoxigraph should write it in; None for pages,
    graph formats it cannot cap by counting lines, and formats that cannot be given (406
    comes after the query runs, so a broken query is still told it is broken)."""

    def native(kind: str) -> ox.QueryResultsFormat | ox.RdfFormat | None:
        try:
            fmt = chosen_format(kind, explicit, accept)
        except NotAcceptable:
            return None
        return fmt.rdf if kind == "graph" else fmt.results

    return native


def render_answer(answer: Answer, text: str) -> Response:
    fmt = choose_format(answer.kind)
    response = _render(answer, text, fmt)
    if current_app.config.get("RIVALRY_SUPERVISED") and not format_parameter():
        response.headers["X-Rivalry-Variants"] = variants_of(answer.kind)
    return response


@functools.cache
def variants_of(kind: str) -> str:
    """The formats an answer of this kind could have been negotiated to: the front's
    cache gives it to any Accept header that would choose the same one
    (rivalry.server.front)."""
    return variants_header((RDF_FORMATS if kind == "graph" else RESULT_FORMATS) + (HTML,))


def _render(answer: Answer, text: str, fmt: Format) -> Response:
    if fmt is HTML:
        response = Response(render_template("results.html", answer=answer, query=text,
                                            formats=RDF_FORMATS if answer.kind == "graph"
                                            else RESULT_FORMATS, short=short_iri,
                                            href=href),
                            content_type=HTML.content_type)
        response.headers["Vary"] = "Accept"
        return response
    body, headers = written_answer(answer, fmt)
    return Response(body, headers=headers)


def written_answer(answer: Answer, fmt: Format) -> tuple[bytes, list[tuple[str, str]]]:
    """An answer written in a results or graph format (not a page): its body, and its
    headers (Content-Type first)."""
    written = fmt.rdf if answer.kind == "graph" else fmt.results
    if answer.body is not None and written is not None \
            and answer.body_format == written.media_type:
        body = check_xml_characters(answer.body, written)  # as pyoxigraph wrote it
    else:
        assert written is not None  # choose_format(kind) gave a format of this kind
        body = write(answer, written, PREFIXES)
    if answer.truncated and fmt.name == "json":
        # before "results", where streaming readers (pyoxigraph's among them) accept an
        # extra member; the head holds only variable names, so the first match is its end
        body = body.replace(b'},"results":', b'},"truncated":true,"results":', 1)
    headers = [("Content-Type", fmt.content_type), ("Vary", "Accept")]
    if answer.truncated:
        headers += [("X-Result-Truncated", "true"), ("X-Result-Row-Limit", str(answer.limit))]
    return body, headers


# --- the shortcut -------------------------------------------------------------------------


def shortcut(app: Flask, environ: dict[str, Any], body: bytes) -> Reply | None:
    """The answer to a plain query, as the endpoint gives it, without the web framework
    around it; None for any other request, which the app answers as usual.

    Under `rivalry serve`, a worker asks this first (rivalry.server.workers): a point
    lookup spends about a third of its worker's time in Flask's request and response
    machinery otherwise (docs/serving.md, "The shortcut"). A plain query is a GET whose
    only parameter is `query`, or a POST of application/sparql-query in UTF-8 with no
    parameters, to the embedded store, answered in a results or graph format (not a
    page). Everything else, and every error, goes the usual way: the app then says what
    is wrong in its own words, and an answer given here has the same status, headers and
    body as the app's (tests/test_shortcut.py holds them side by side)."""
    settings = app.config["RIVALRY"]
    if environ.get("PATH_INFO") != "/sparql" or settings["sparql_endpoint"] \
            or not app.config.get("RIVALRY_SUPERVISED") \
            or environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() not in ("", "identity"):
        return None
    method = environ.get("REQUEST_METHOD")
    if method == "POST":
        mimetype, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
        if environ.get("QUERY_STRING") or mimetype.lower() != "application/sparql-query" \
                or (options.get("charset") or "utf-8").lower() not in ("utf-8", "utf8") \
                or len(body) > settings["max_body_bytes"]:
            return None
        try:
            text = body.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            return None
    elif method == "GET":
        try:
            params = read_params(environ.get("QUERY_STRING", "").encode("latin-1"),
                                 "query string")
        except (BadParameter, UnicodeError):
            return None
        if len(params) != 1 or params[0][0] != "query":
            return None
        text = params[0][1]
    else:
        return None
    accept = environ.get("HTTP_ACCEPT")
    limits = query_limits(settings)
    # read once: the store's checks find it remembered; a text past a limit is read no
    # further, and the app refuses it
    shape = inspect_query(text, max_depth=limits.max_depth, max_tokens=limits.max_tokens)
    kind = shape.kind
    if kind is None or not shape.complete or not text.strip():
        return None
    try:
        fmt = chosen_format(kind, None, accept)  # the Accept header is read once
        if fmt is HTML:
            return None
        native = fmt.rdf if kind == "graph" else fmt.results
        store = get_store(app)
        answer = store.execute(text, limits,
                               result_format=lambda k: native if k == kind else None)
        if answer.kind != kind:  # never, as the store reads the form the same way
            return None
        content, headers = written_answer(answer, fmt)  # may find what fmt cannot hold
        headers += [("Content-Length", str(len(content))),
                    ("X-Rivalry-Variants", variants_of(answer.kind)),
                    *protective_headers(fmt.media_type),
                    *cors_headers(settings, method, "/sparql")]
        return Reply("200 OK", headers, content, build=store.confirm_build_id())
    except MemoryError:
        raise  # the worker reports it, and the front ends the worker
    except Exception:  # noqa: BLE001 - any error is the app's to answer, in its own words
        return None


def describe_service() -> WerkzeugResponse:
    """A SPARQL 1.1 Service Description (Turtle, RDF/XML or JSON-LD) for GET /sparql."""
    # a browser (HTML strictly preferred to Turtle) goes to the query page
    if negotiate(request.headers.get("Accept", ""), (*SERVICE_FORMATS, HTML)) is HTML:
        moved = redirect("/", code=303)
        moved.vary.add("Accept")  # the same address gives the description to others
        return moved
    explicit = request.args.get("format")
    fmt = lookup(SERVICE_FORMATS, explicit) if explicit else negotiate(
        request.accept_mimetypes, SERVICE_FORMATS)
    if fmt is None:
        if not explicit and negotiate(request.accept_mimetypes, RESULT_FORMATS) is not None:
            # a client that wants query results but sent no query: say that, rather
            # than that the service description cannot be given as results
            raise QueryError("the request has no query: send it in the `query` parameter "
                             "(SPARQL 1.1 Protocol, 2.1); without one, GET /sparql gives "
                             "the service description (as "
                             + ", ".join(f.media_type for f in SERVICE_FORMATS) + ")")
        raise NotAcceptable("the service description can be given as "
                            + ", ".join(f.media_type for f in SERVICE_FORMATS))
    body = service_description(base_url(), current_app.config["RIVALRY"], fmt)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    return response
