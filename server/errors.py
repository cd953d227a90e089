"""One error handler for the whole app: every RivalryError and HTTP error is rendered as
JSON, HTML or plain text, by what the client accepts (STYLE.md, habit 4)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from rivalry.graph.errors import RivalryError


class NotAcceptable(RivalryError):
    """No representation the client accepts (HTTP 406); the message lists the ones there are."""

    status = 406
    title = "Not acceptable"


class UnsupportedMediaType(RivalryError):
    """A request body in a media type the route cannot read (HTTP 415)."""

    status = 415
    title = "Unsupported media type"


def error_body(status: int, title: str, message: str, **extra: object) -> dict:
    body = {"error": title, "status": status, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def render_error(body: dict) -> Response:
    best = request.accept_mimetypes.best_match(
        ["application/json", "text/html", "text/plain"], default="application/json")
    status = body["status"]
    if best == "text/html" and request.accept_mimetypes["text/html"] > request.accept_mimetypes[
            "application/json"]:
        response = Response(render_template("error.html", **body), status=status,
                            mimetype="text/html")
    elif best == "text/plain":
        response = Response(f"{body['error']}: {body['message']}\n", status=status,
                            mimetype="text/plain")
    else:
        response = jsonify(body)
        response.status_code = status
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
        response = render_error(error_body(error.code or 500, error.name,
                                           error.description or error.name))
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response
