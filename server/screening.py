"""POST /screen: a list of names (CSV, JSON, or the page's form) screened against the
graph: for each, the matched entities with their score and the measures in force on a
date that target them or their parents, with sources; as CSV, JSON or an HTML table.
GET /screen is the form."""

from __future__ import annotations

import re
import time

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from rivalry.graph.errors import InvalidInput, RivalryError, SourceLocation
from rivalry.graph.screening import (
    DEFAULT_THRESHOLD,
    Screening,
    ScreenInput,
    check_text,
    parse_day,
    read_csv,
    rows_from_records,
    screen,
    to_csv,
    to_dict,
)
from rivalry.server.entities import href
from rivalry.server.errors import NotAcceptable, UnsupportedMediaType, read_json
from rivalry.server.formats import best_offer
from rivalry.server.search import get_index

bp = Blueprint("screening", __name__)

OUTPUTS = {"csv": "text/csv", "json": "application/json", "html": "text/html"}


class TooManyNames(RivalryError):
    status = 413
    title = "Too many names"


def output_format(default: str) -> str:
    explicit = request.values.get("format")
    if explicit:
        if explicit not in OUTPUTS:
            raise NotAcceptable(f"format={explicit!r}: screening answers as csv, json or html")
        return explicit
    if not request.accept_mimetypes or request.accept_mimetypes.best == "*/*":
        return default
    best = best_offer(request.headers.get("Accept", ""), tuple(OUTPUTS.values()))
    if best is None:
        raise NotAcceptable("screening answers as text/csv, application/json or text/html")
    return next(k for k, v in OUTPUTS.items() if v == best)


def read_request() -> tuple[list[ScreenInput], list[str], str]:
    """The rows sent, the warnings about them, and the default output format."""
    mimetype = request.mimetype
    if mimetype in ("text/csv", "text/plain", "application/csv"):
        rows, warnings = read_csv(request.get_data(), "request body")
        return rows, warnings, "csv"
    if mimetype == "application/json":
        try:
            records = read_json(request.get_data(), "request body")
        except ValueError as e:
            raise InvalidInput(SourceLocation("request body"),
                               str(e).removeprefix("request body: ")) from None
        return rows_from_records(records), [], "json"
    if mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            rows, warnings = read_csv(upload.read(), upload.filename)
        else:
            text = request.form.get("names", "")
            # the form's reader keeps an escape that is not UTF-8 as it is ("%E9"), or
            # replaces raw bytes that are not (U+FFFD): either way, not the name sent
            if "\ufffd" in text or re.search(r"%[89A-Fa-f][0-9A-Fa-f]", text):
                raise InvalidInput(SourceLocation("form"), "the names are not UTF-8 text",
                                   "paste them again from a UTF-8 source")
            if not text.strip():
                raise InvalidInput(SourceLocation("form"), "no names were given",
                                   "paste names, one a line, or choose a CSV file")
            first = text.lstrip("\ufeff").splitlines()[0].casefold()
            if "name" in [c.strip() for c in first.replace(";", ",").split(",")]:
                rows, warnings = read_csv(text, "form")
            else:  # one name a line, no header
                rows = [ScreenInput(row=i, name=line.strip())
                        for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
                for row in rows:
                    check_text(row, SourceLocation("form", row.row))
                warnings = []
        return rows, warnings, "html"
    raise UnsupportedMediaType(
        f"cannot screen a body of type {mimetype or '(none)'!r}; send text/csv (a header "
        "with a name column), application/json (a list of names or of objects with a "
        "name), or the form at /screen")


@bp.get("/screen")
def form() -> str:
    get_index()  # say at once when the build has no index
    return render_template("screen.html", screening=None, threshold=DEFAULT_THRESHOLD,
                           on=time.strftime("%Y-%m-%d", time.gmtime()))


@bp.post("/screen")
def screen_names() -> Response:
    settings = current_app.config["RIVALRY"]
    rows, warnings, default = read_request()
    fmt = output_format(default)
    if len(rows) > settings["screen_max_names"]:
        raise TooManyNames(f"{len(rows)} names in one request; at most "
                           f"{settings['screen_max_names']} (setting screen_max_names): split "
                           "the list, or use `rivalry screen` on the command line")
    on = parse_day(request.values.get("on"))
    raw = request.values.get("threshold")
    try:
        threshold = float(raw) if raw else DEFAULT_THRESHOLD
    except ValueError:
        raise InvalidInput(SourceLocation("threshold"), f"{raw!r} is not a number") from None
    if not 0 <= threshold <= 100:
        raise InvalidInput(SourceLocation("threshold"), "must be between 0 and 100")
    index = get_index()
    deadline = time.monotonic() + settings["screen_time_limit"]
    result: Screening = screen(index, rows, on, threshold, deadline=deadline)
    result.warnings = warnings
    lines = result.lines()
    if lines > settings["screen_max_lines"]:
        # refused whole rather than cut: a screening that silently misses hits is worse
        # than none (every format holds the same lines: CSV rows, JSON and HTML entries)
        raise TooManyNames(f"the answer would hold {lines:,} lines (one per name, candidate "
                           f"and measure); at most {settings['screen_max_lines']:,} (setting "
                           "screen_max_lines): send fewer names at a time, or use `rivalry "
                           "screen` on the command line")
    if fmt == "csv":
        response = Response(to_csv(result), content_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = f'inline; filename="screening-{on}.csv"'
    elif fmt == "json":
        response = jsonify(to_dict(result))
    else:
        response = Response(render_template("screen.html", screening=result, href=href,
                                            threshold=threshold, on=on),
                            content_type="text/html; charset=utf-8")
    response.headers["Vary"] = "Accept"
    return response
