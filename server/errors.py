"""One error handler for the whole app: every RivalryError and HTTP error is rendered as
JSON, HTML or plain text, by what the client accepts (CONTRIBUTING.md, convention 4)."""

from __future__ import annotations

import io
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from rivalry.graph.errors import RivalryError
from rivalry.graph.load import lone_surrogate


class NotAcceptable(RivalryError):
    """No representation the client accepts (HTTP 406); the message lists the ones there are."""

    status = 406
    title = "Not acceptable"


class UnsupportedMediaType(RivalryError):
    """A request body in a media type the route cannot read (HTTP 415)."""

    status = 415
    title = "Unsupported media type"


class ContentTooLarge(RivalryError):
    """A request body over the max_body_bytes setting (HTTP 413)."""

    status = 413
    title = "Content too large"


def read_body() -> bytes:
    """The request body, whole, or 413 when it is larger than `max_body_bytes`. A chunked
    body has no length to check first, and Werkzeug's own limit stops reading it silently,
    so the bytes are counted here: a body is used whole or not at all. Whatever reads
    the body after this (Werkzeug's form parser) reads these same bytes."""
    from flask import current_app

    limit = current_app.config["RIVALRY"]["max_body_bytes"]
    cached = getattr(request, "_rivalry_body", None)
    if cached is not None:
        return cached
    length = request.content_length
    if length is not None and length > limit:
        raise ContentTooLarge(f"the request body is {length} bytes; at most "
                              f"{limit} are accepted (setting max_body_bytes)")
    environ = request.environ
    if length is None and environ.get("wsgi.input_terminated"):
        # chunked: read the server's stream itself, past the limit by one byte, since
        # Werkzeug's limited stream would stop at the limit without a word
        data = environ["wsgi.input"].read(limit + 1)
    elif length:
        data = environ["wsgi.input"].read(length)
    else:
        data = b""
    if len(data) > limit:
        raise ContentTooLarge(f"the request body is larger than {limit} bytes (setting "
                              "max_body_bytes); nothing of it was used")
    request._rivalry_body = data  # type: ignore[attr-defined]
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("wsgi.input_terminated", None)
    return data


def read_params(raw: bytes, where: str) -> list[tuple[str, str]]:
    """URL-encoded parameters (a query string, a form body), read strictly: each name and
    value must be UTF-8 once percent-decoded (raw UTF-8 bytes are read as such). Werkzeug
    keeps an escape that is not UTF-8 as it is (`%FF`), so a search for `Hua%FFwei`
    would be answered as if asked for that text."""
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise BadParameter(f"the {where} is not UTF-8: byte {e.start} is not; send it "
                           "percent-encoded UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8",
                          errors="surrogateescape")
    except ValueError as e:
        raise BadParameter(f"the {where} cannot be parsed: {e}") from None
    for name, value in pairs:
        if _UNDECODED.search(name) or _UNDECODED.search(value):
            shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise BadParameter(f"the {where}'s parameter {shown!r} is not UTF-8 once "
                               "percent-decoded; percent-encode its UTF-8 bytes")
    return pairs


def query_params() -> list[tuple[str, str]]:
    """This request's query-string parameters, read strictly (`read_params`), once."""
    params = getattr(request, "_rivalry_query_params", None)
    if params is None:
        params = read_params(request.query_string, "query string")
        request._rivalry_query_params = params  # type: ignore[attr-defined]
    return params


def form_params() -> list[tuple[str, str]]:
    """This request's URL-encoded form body, read strictly (`read_params`), once."""
    params = getattr(request, "_rivalry_form_params", None)
    if params is None:
        params = read_params(read_body(), "request body")
        request._rivalry_form_params = params  # type: ignore[attr-defined]
    return params


def utf8_only(what: str, advice: str) -> None:
    """415 for a body whose Content-Type names a charset other than UTF-8 (`what` is the
    body, `advice` what to send instead)."""
    charset = (request.mimetype_params.get("charset") or "utf-8").strip().lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"{what} in {charset!r} cannot be read: {advice}")


#: What a byte that is not UTF-8 becomes when decoded with errors="surrogateescape"
_UNDECODED = re.compile("[\udc80-\udcff]")


def read_json(raw: str | bytes, where: str) -> Any:
    """A JSON value sent by a client (RFC 8259), or ValueError saying what is wrong with
    it: not JSON (NaN and Infinity included, which Python's reader would take), nested
    too deeply, not UTF-8, or holding half of a UTF-16 surrogate pair (`"\\ud800"`),
    which JSON's escapes can spell but which is no character, and which no index, file
    or database here can hold."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ValueError(f"{where}: not UTF-8 (byte {e.start}); send JSON as UTF-8") from None
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{where}: nested too deeply to read") from None
    except ValueError as e:
        raise ValueError(f"{where}: not JSON ({e})") from None
    half = lone_surrogate(value)
    if half is not None:
        raise ValueError(f"{where}: holds {half}, half of a UTF-16 surrogate pair, which is "
                         "no character; escape a character beyond U+FFFF as both halves "
                         "(\\ud83d\\ude00) or send it as UTF-8")
    return value


def _no_constant(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON value")


class BadParameter(RivalryError):
    """A query-string parameter a page does not take, or one it takes once given twice
    (HTTP 400): a typo'd filter would otherwise give the unfiltered list, as if filtered."""

    status = 400
    title = "Bad parameter"


def check_parameters(accepted: tuple[str, ...], repeatable: tuple[str, ...] = ()) -> None:
    """Refuse a request whose query string has a parameter not in `accepted`, or one not
    in `repeatable` more than once, naming it and what the page takes."""
    from flask import request

    for name in request.args:
        if name not in accepted:
            raise BadParameter(f"{request.path} takes no parameter {name!r}; it takes "
                               + ", ".join(accepted))
        if name not in repeatable and len(request.args.getlist(name)) > 1:
            raise BadParameter(f"{name} is given {len(request.args.getlist(name))} times; "
                               f"{request.path} takes one {name}")


class BadIri(RivalryError):
    """A request names something by an IRI that is not one (HTTP 400)."""

    status = 400
    title = "Invalid IRI"


def checked_iri(text: str, where: str) -> str:
    """`text` when it is a well-formed absolute IRI; a 400 saying so otherwise."""
    from rivalry.graph.iri import parse_iri

    if parse_iri(text) is None:
        raise BadIri(f"{where}: {text!r} is not a valid IRI (characters such as spaces, "
                     "<, >, \" and { } must be percent-encoded)")
    return text


def error_body(status: int, title: str, message: str, **extra: object) -> dict:
    body = {"error": title, "status": status, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def render_error(body: dict) -> Response:
    from rivalry.server.formats import best_offer

    best = best_offer(request.headers.get("Accept", ""),
                      ("application/json", "text/html", "text/plain")) or "application/json"
    status = body["status"]
    if best == "text/html":
        response = Response(render_template("error.html", **body), status=status,
                            mimetype="text/html")
    elif best == "text/plain":
        response = Response(f"{body['error']}: {body['message']}\n", status=status,
                            mimetype="text/plain")
    else:
        response = jsonify(body)
        response.status_code = status
    response.vary.add("Accept")  # the error's format follows the Accept header
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(RivalryError)
    def handle_rivalry_error(error: RivalryError) -> Response:
        data = error.to_dict()
        return render_error(error_body(error.status, error.title, error.message,
                                       **{k: v for k, v in data.items()
                                          if k not in ("error", "status", "message")}))

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response:
        description = error.description or error.name
        allowed = getattr(error, "valid_methods", None) if error.code == 405 else None
        if allowed and description == MethodNotAllowed.description:  # the router's own
            description = (f"{request.method} is not allowed on {request.path}; it "
                           f"answers {', '.join(allowed)}")
        response = render_error(error_body(error.code or 500, error.name, description))
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response
