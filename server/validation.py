"""Validation over HTTP, for curators: POST /validate with the facts as the body (the
API: JSON, Turtle or HTML report by `Accept`), and GET /validate, a form to paste or
upload a file, whose POST renders the report page. It never writes and never fetches."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from rivalry.graph.errors import InvalidInput, NoBuild, RivalryError
from rivalry.graph.isolate import run_with_time_limit
from rivalry.graph.load import FORMATS_BY_SUFFIX
from rivalry.graph.validate import Report, Submission, context_for, validate
from rivalry.server import get_store
from rivalry.server.entities import context_url, jsonld_context
from rivalry.server.errors import (
    BadParameter,
    NotAcceptable,
    UnsupportedMediaType,
    check_parameters,
    read_body,
    utf8_only,
)
from rivalry.server.formats import RDF_FORMATS, best_offer, lookup

bp = Blueprint("validation", __name__)


class BadForm(RivalryError):
    """A validation form sent with nothing to validate, or in a format that cannot be
    told (HTTP 400)."""

    status = 400
    title = "Invalid input"

#: The SHACL validation report (an RDF graph) in each RDF format it is offered in, by
#: media type, with rdflib's name for the format.
REPORT_GRAPH_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt",
                      "application/ld+json": "json-ld", "application/rdf+xml": "xml"}
#: The report's media types, the first for a client that says nothing (no Accept): a
#: summary in JSON, the report graph, or the page.
REPORT_TYPES = ("application/json", *REPORT_GRAPH_TYPES, "text/html")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

#: The formats the form offers, by the name its select sends.
FORM_FORMATS = {"turtle": ("Turtle", ox.RdfFormat.TURTLE), "trig": ("TriG", ox.RdfFormat.TRIG),
                "ntriples": ("N-Triples", ox.RdfFormat.N_TRIPLES),
                "nquads": ("N-Quads", ox.RdfFormat.N_QUADS),
                "jsonld": ("JSON-LD", ox.RdfFormat.JSON_LD),
                "rdfxml": ("RDF/XML", ox.RdfFormat.RDF_XML)}


#: The values `?strict=` takes
STRICTNESS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def input_format() -> ox.RdfFormat:
    mimetype = request.mimetype
    fmt = lookup(RDF_FORMATS, mimetype) if mimetype else None
    if fmt is None or fmt.rdf is None or (mimetype in ("text/plain", "application/json",
                                                       "application/xml", "text/xml")):
        raise UnsupportedMediaType(
            f"cannot validate a body of type {mimetype or '(none)'!r}; send Content-Type "
            "text/turtle, application/trig, application/n-triples, application/n-quads, "
            "application/ld+json or application/rdf+xml (or use the form at GET /validate)")
    return fmt.rdf


def own_contexts() -> dict[str, Any]:
    """The JSON-LD context this server publishes its documents with, by the IRI they name
    it with (/context.jsonld at the request's host): facts fetched from here and posted
    back read without a fetch."""
    return {context_url(): jsonld_context()["@context"]}


def _validate(submission: Submission, context: list[ox.Triple], strict: bool) -> Report:
    report = validate(submission, context, strict=strict)
    return report


def _report_type() -> str:
    best = best_offer(request.headers.get("Accept", ""), REPORT_TYPES)
    if best is None:
        raise NotAcceptable("the report can be given as " + ", ".join(REPORT_TYPES))
    return best


def _run(submission: Submission, strict: bool) -> tuple[Report, str | None]:
    try:
        context = context_for(get_store(current_app), submission)
        note = None
    except NoBuild as e:
        # nothing built yet: the facts are still checked, on their own; a store that
        # cannot be read (an external server down) is an error instead (503), since
        # checks without the graph's context would report violations that are not there
        context, note = [], f"validated without the graph's context: {e.message}"
    settings = current_app.config["RIVALRY"]
    report = run_with_time_limit(
        _validate, (submission, context, strict), settings["validation_time_limit"],
        "validation (setting validation_time_limit)")
    return report, note


def _answer(report: Report, note: str | None, best: str, form: dict | None = None) -> Response:
    if best in REPORT_GRAPH_TYPES:
        response = Response(report.graph.serialize(format=REPORT_GRAPH_TYPES[best]),
                            content_type=f"{best}; charset=utf-8")
    elif best == "text/html":
        response = Response(render_template("validation.html", report=report, note=note,
                                            form=form or {}, formats=FORM_FORMATS),
                            content_type="text/html; charset=utf-8")
    else:
        body = report.to_dict()
        if note:
            body["note"] = note
        response = jsonify(body)
    response.headers["Vary"] = "Accept"
    return response


@bp.get("/validate")
def validate_form() -> str:
    return render_template("validate_form.html", form={}, formats=FORM_FORMATS, problem=None)


@bp.post("/validate")
def validate_body() -> Response:
    if request.mimetype in FORM_TYPES:
        return validate_form_post()
    check_parameters(("strict",))
    raw_strict = request.args.get("strict", "false").strip().lower()
    if raw_strict not in STRICTNESS:
        raise BadParameter(f"strict={request.args['strict']!r}: give strict=true (warnings "
                           "fail too) or strict=false (the default)")
    fmt = input_format()
    utf8_only("facts", "send them as UTF-8 (RDF's syntaxes are read as UTF-8)")
    best = _report_type()
    data = read_body()  # 413 past max_body_bytes, chunked or not
    if not data.strip():
        raise BadParameter("nothing to validate: the request body is empty; send the facts "
                           "as the body (or use the form at GET /validate)")
    submission = Submission.from_bytes(data, fmt, label="request body",
                                       contexts=own_contexts())
    strict = STRICTNESS[raw_strict]
    report, note = _run(submission, strict)
    return _answer(report, note, best)


def _unread_form() -> str | None:
    """Why a form body that was sent gave no field at all, when it is a multipart body
    Werkzeug's reader dropped (no boundary parameter, or none where it says), rather than
    an empty form."""
    if request.mimetype != "multipart/form-data" or request.form or request.files \
            or not (request.content_length or request.environ.get("wsgi.input_terminated")):
        return None
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        return ("the multipart/form-data body cannot be read: its Content-Type has no "
                "boundary parameter (multipart/form-data; boundary=…)")
    return (f"the multipart/form-data body cannot be read: no complete part delimited by "
            f"--{boundary} was found, or its closing --{boundary}-- is missing")


def validate_form_post() -> Response:
    """The form's POST: the pasted text or the uploaded file, in the chosen format (or
    the file's, by its extension), with the chosen strictness. Input that cannot be read
    brings the form back with the problem (line and column) and the text kept."""
    best = _report_type()
    form = request.form
    upload = request.files.get("file")
    text = form.get("facts", "")
    chosen = form.get("format", "auto")
    strict = form.get("strict", "") in ("1", "true", "yes", "on")
    kept = {"facts": text, "format": chosen, "strict": strict}
    if upload is not None and upload.filename:
        data, label = upload.read(), PurePath(upload.filename).name
    else:
        data, label = text.encode("utf-8"), "pasted facts"
    problem = None
    if not data.strip():
        problem = _unread_form() or "nothing to validate: paste facts in the box, or choose a file"
    fmt = None
    if problem is None:
        if chosen in FORM_FORMATS:
            fmt = FORM_FORMATS[chosen][1]
        elif label != "pasted facts":
            fmt = FORMATS_BY_SUFFIX.get(PurePath(label).suffix.lower())
            if fmt is None:
                problem = (f"cannot tell the format of {label!r} from its extension; choose "
                           "the format in the list")
        else:
            fmt = ox.RdfFormat.TURTLE
    submission = None
    if problem is None and fmt is not None:
        try:
            submission = Submission.from_bytes(data, fmt, label=label,
                                               contexts=own_contexts())
        except InvalidInput as e:
            if best != "text/html":
                raise
            problem = e.message
    if submission is None:
        if best != "text/html":
            raise BadForm(problem or "nothing to validate")
        return Response(render_template("validate_form.html", form=kept, formats=FORM_FORMATS,
                                        problem=problem), status=400,
                        content_type="text/html; charset=utf-8")
    report, note = _run(submission, strict)
    return _answer(report, note, best, kept)
