"""POST /validate: curators' validation over HTTP. It never writes and never fetches."""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from rivalry.graph.errors import StoreError
from rivalry.graph.isolate import run_with_time_limit
from rivalry.graph.validate import Report, Submission, context_for, validate
from rivalry.server import get_store
from rivalry.server.errors import NotAcceptable, UnsupportedMediaType, read_body
from rivalry.server.formats import RDF_FORMATS, lookup

bp = Blueprint("validation", __name__)

REPORT_TYPES = ["application/json", "text/turtle", "text/html"]


def input_format() -> ox.RdfFormat:
    mimetype = request.mimetype
    fmt = lookup(RDF_FORMATS, mimetype) if mimetype else None
    if fmt is None or fmt.rdf is None or (mimetype in ("text/plain", "application/json",
                                                       "application/xml", "text/xml")):
        raise UnsupportedMediaType(
            f"cannot validate a body of type {mimetype or '(none)'!r}; send Content-Type "
            "text/turtle, application/trig, application/n-triples, application/n-quads, "
            "application/ld+json or application/rdf+xml")
    return fmt.rdf


def _validate(submission: Submission, context: list[ox.Triple], strict: bool) -> Report:
    report = validate(submission, context, strict=strict)
    return report


@bp.post("/validate")
def validate_body() -> Response:
    fmt = input_format()
    best = request.accept_mimetypes.best_match(REPORT_TYPES) if request.accept_mimetypes \
        else "application/json"
    if best is None:
        raise NotAcceptable("the report can be given as " + ", ".join(REPORT_TYPES))
    data = read_body()  # 413 past max_body_bytes, chunked or not
    submission = Submission.from_bytes(data, fmt, label="request body")
    try:
        context = context_for(get_store(current_app), submission)
        note = None
    except StoreError as e:
        context, note = [], f"validated without the graph's context: {e.message}"
    strict = request.args.get("strict", "").lower() in ("1", "true", "yes")
    settings = current_app.config["RIVALRY"]
    report = run_with_time_limit(
        _validate, (submission, context, strict), settings["validation_time_limit"],
        "validation (setting validation_time_limit)")
    if best == "text/turtle":
        response = Response(report.to_turtle(), content_type="text/turtle; charset=utf-8")
    elif best == "text/html":
        response = Response(render_template("validation.html", report=report, note=note),
                            content_type="text/html; charset=utf-8")
    else:
        body = report.to_dict()
        if note:
            body["note"] = note
        response = jsonify(body)
    response.headers["Vary"] = "Accept"
    return response
