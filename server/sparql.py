"""The SPARQL endpoint: the query operation of the SPARQL 1.1 Protocol at /sparql.

GET with `query=`, POST form-encoded, POST `application/sparql-query`; the request's
dataset (`default-graph-uri`, `named-graph-uri`); results by content negotiation or
`format=`; a Service Description when there is no query. Updates are refused, whichever
way they are sent: this endpoint is read-only.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from urllib.parse import parse_qsl

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request

from rivalry.graph import PREFIXES
from rivalry.graph.errors import QueryError, QueryTimeout, RivalryError
from rivalry.graph.results import Answer, write
from rivalry.graph.sparql import inspect_query
from rivalry.server import get_store
from rivalry.server.cache import AnswerCache, CachedAnswer
from rivalry.server.entities import href
from rivalry.server.errors import NotAcceptable
from rivalry.server.formats import (
    HTML,
    RDF_FORMATS,
    RESULT_FORMATS,
    Format,
    lookup,
    negotiate,
    negotiate_header,
)
from rivalry.server.service import SERVICE_FORMATS, service_description
from rivalry.server.settings import query_limits

bp = Blueprint("sparql", __name__)


def short_iri(iri: str) -> str:
    """An IRI as a prefixed name where a known prefix fits, for pages."""
    best = max((ns for ns in PREFIXES.values() if iri.startswith(ns)), key=len, default=None)
    if best is None:
        return iri
    prefix = next(p for p, ns in PREFIXES.items() if ns == best)
    return f"{prefix}:{iri[len(best):]}"

PROTOCOL = "SPARQL 1.1 Protocol, section 2.1"


class ReadOnly(RivalryError):
    status = 403
    title = "Read-only endpoint"


def choose_format(kind: str) -> Format:
    formats = (RDF_FORMATS if kind == "graph" else RESULT_FORMATS) + (HTML,)
    explicit = request.args.get("format")
    if explicit:
        chosen = lookup(formats, explicit)
        if chosen is None:
            raise NotAcceptable(
                f"format={explicit!r} cannot be produced for this query; choose one of: "
                + ", ".join(f.name for f in formats))
        return chosen
    chosen = negotiate_header(request.headers.get("Accept", ""), formats)
    if chosen is None:
        raise NotAcceptable(
            f"none of the media types in Accept: {request.headers.get('Accept')!r} can be "
            "produced for this query; it can be given as: "
            + ", ".join(f.media_type for f in formats))
    return chosen


def _params(raw: bytes, where: str) -> list[tuple[str, str]]:
    """Parse URL-encoded parameters strictly: invalid UTF-8 is an error, not U+FFFD."""
    try:
        return parse_qsl(raw.decode("ascii", errors="strict"), keep_blank_values=True,
                         encoding="utf-8", errors="strict")
    except UnicodeError:
        raise QueryError(f"the {where} is not valid UTF-8 once percent-decoded") from None
    except ValueError as e:
        raise QueryError(f"the {where} cannot be parsed: {e}") from None


def _values(params: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in params if k == name]


def read_request() -> tuple[str | None, list[str], list[str]]:
    """The query text and the protocol dataset of a request, or a 4xx for anything else."""
    url_params = _params(request.query_string, "query string")
    body_params: list[tuple[str, str]] = []
    query_texts = _values(url_params, "query")
    if _values(url_params, "update"):
        raise ReadOnly("this endpoint runs queries only; updates are not accepted "
                       "(the `update` parameter)")
    if request.method == "POST":
        mimetype = request.mimetype
        if mimetype == "application/x-www-form-urlencoded":
            body_params = _params(request.get_data(cache=True), "request body")
            if _values(body_params, "update"):
                raise ReadOnly("this endpoint runs queries only; updates are not accepted "
                               "(the `update` parameter)")
            query_texts += _values(body_params, "query")
        elif mimetype == "application/sparql-query":
            charset = (request.mimetype_params.get("charset") or "utf-8").lower()
            try:
                body = request.get_data(cache=True).decode(charset, errors="strict")
            except LookupError:
                raise QueryError(f"unknown charset {charset!r}; send UTF-8") from None
            except UnicodeDecodeError:
                raise QueryError(f"the request body is not valid {charset}") from None
            query_texts.append(body)
        elif mimetype == "application/sparql-update":
            raise ReadOnly("this endpoint runs queries only; SPARQL updates "
                           "(application/sparql-update) are not accepted")
        else:
            raise QueryError(
                f"a POST to the SPARQL endpoint must be application/x-www-form-urlencoded "
                f"or application/sparql-query, not {mimetype or '(no Content-Type)'!r} "
                f"({PROTOCOL}.2)")
    if len(query_texts) > 1:
        raise QueryError(f"the request carries {len(query_texts)} queries; send exactly one "
                         f"({PROTOCOL})")
    params = url_params + body_params
    return (query_texts[0] if query_texts else None,
            _values(params, "default-graph-uri"), _values(params, "named-graph-uri"))


@bp.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    text, default_graphs, named_graphs = read_request()
    if text is None:
        if request.method == "POST":
            raise QueryError(f"no query: send it in the `query` parameter ({PROTOCOL})")
        return describe_service()
    if not text.strip():
        raise QueryError("the query is empty")
    settings = current_app.config["RIVALRY"]
    store = get_store(current_app)
    cache = answer_cache()
    key = answer_key(store.info.build_id, text, default_graphs, named_graphs)
    cached = cache.get(key) if cache else None
    if cached is not None:
        response = Response(cached.body, content_type=cached.content_type)
        response.headers.extend(cached.headers)
        response.headers["X-Cache"] = "hit"
        return response
    limits = query_limits(settings)
    if current_app.config.get("RIVALRY_WARMING"):  # the server's own canned queries
        limits = dataclasses.replace(limits, time_limit=math.inf)
    answer = store.execute(text, limits,
                           default_graph_uris=default_graphs or None,
                           named_graph_uris=named_graphs or None,
                           result_format=native_format)
    response = render_answer(answer, text)
    if cache is not None and response.status_code == 200:
        kept = tuple((k, v) for k, v in response.headers.items()
                     if k in ("Vary", "X-Result-Truncated", "X-Result-Row-Limit"))
        cache.put(key, CachedAnswer(response.get_data(), response.content_type, kept))
    return response


def answer_key(build_id: str, text: str, default_graphs: list[str],
               named_graphs: list[str]) -> tuple:
    """What an answer depends on: the build, the query and its dataset, and the format
    this request gets for the query's kind of answer (not the Accept header's exact
    words, so clients that word it differently share answers)."""
    try:
        fmt = choose_format(inspect_query(text).kind or "select").name
    except NotAcceptable:
        fmt = None  # answered 406, never cached
    return (build_id, text, tuple(default_graphs), tuple(named_graphs), fmt)


def native_format(kind: str) -> ox.QueryResultsFormat | None:
    """The results format pyoxigraph should write this request's answer in; None for
    pages, graphs and formats that cannot be given (406 comes after the query runs, so
    a broken query is still told it is broken)."""
    if kind == "graph":
        return None
    try:
        return choose_format(kind).results
    except NotAcceptable:
        return None


def warm_answer_cache(app: Flask) -> tuple[int, float]:
    """Answer every canned query once, as SPARQL JSON with its default values, through
    the endpoint, so that the answers are in the cache. For a server about to fork its
    workers: the queries run in this thread and without the time limit (they are the
    project's own), and a failure is logged, never raised. Returns how many answers were
    cached and the seconds it took."""
    from rivalry.graph.canned import canned_queries

    start = time.perf_counter()
    client = app.test_client()
    cached = 0
    app.config["RIVALRY_WARMING"] = True
    try:
        for query in canned_queries():
            response = client.post("/sparql", data=query.text_with_defaults().encode("utf-8"),
                                   content_type="application/sparql-query",
                                   headers={"Accept": "application/sparql-results+json"})
            if response.status_code == 200:
                cached += 1
            else:
                app.logger.warning("canned query %s not cached: %s %s", query.name,
                                   response.status_code, response.get_data(as_text=True)[:200])
    finally:
        app.config["RIVALRY_WARMING"] = False
    return cached, time.perf_counter() - start


def answer_cache() -> AnswerCache | None:
    size = current_app.config["RIVALRY"]["result_cache_bytes"]
    if not size:
        return None
    cache = current_app.extensions.get("rivalry.answer_cache")
    if cache is None:
        cache = current_app.extensions["rivalry.answer_cache"] = AnswerCache(size)
    return cache


def render_answer(answer: Answer, text: str) -> Response:
    fmt = choose_format(answer.kind)
    if fmt is HTML:
        response = Response(render_template("results.html", answer=answer, query=text,
                                            formats=RDF_FORMATS if answer.kind == "graph"
                                            else RESULT_FORMATS, short=short_iri,
                                            href=href),
                            content_type=HTML.content_type)
        response.headers["Vary"] = "Accept"
        return response
    if answer.body is not None and answer.body_format == fmt.results:
        body = answer.body
    else:
        body = write(answer, fmt.rdf if answer.kind == "graph" else fmt.results, PREFIXES)
    if answer.truncated and fmt.name == "json":
        # before "results", where streaming readers (pyoxigraph's among them) accept an
        # extra member; the head holds only variable names, so the first match is its end
        body = body.replace(b'},"results":', b'},"truncated":true,"results":', 1)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    if answer.truncated:
        response.headers["X-Result-Truncated"] = "true"
        response.headers["X-Result-Row-Limit"] = str(answer.limit)
    return response


def describe_service() -> Response:
    """A SPARQL 1.1 Service Description (Turtle, RDF/XML or JSON-LD) for GET /sparql."""
    if request.accept_mimetypes.best_match(["text/html", "text/turtle"]) == "text/html" and \
            request.accept_mimetypes["text/html"] > request.accept_mimetypes["text/turtle"]:
        return redirect("/", code=303)
    explicit = request.args.get("format")
    fmt = lookup(SERVICE_FORMATS, explicit) if explicit else negotiate(
        request.accept_mimetypes, SERVICE_FORMATS)
    if fmt is None:
        raise NotAcceptable("the service description can be given as "
                            + ", ".join(f.media_type for f in SERVICE_FORMATS))
    body = service_description(request.base_url, current_app.config["RIVALRY"], fmt)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    return response


@bp.errorhandler(QueryTimeout)
def timed_out(error: QueryTimeout) -> Response:
    from rivalry.server.errors import error_body, render_error

    response = render_error(error_body(error.status, error.title, error.message))
    if current_app.config.get("RIVALRY_EXIT_AFTER_TIMEOUT"):
        # The query's thread cannot be cancelled, so the worker process ends once this
        # answer is sent; gunicorn starts a fresh worker. That is what stops its CPU work.
        response.call_on_close(lambda: os._exit(0))
    return response
