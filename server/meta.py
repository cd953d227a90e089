"""Endpoints about the server itself: /-/settings.json and /-/health; and CORS."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from rivalry.graph.errors import StoreError
from rivalry.server import get_store
from rivalry.server.settings import SECRET_SETTINGS, SETTINGS

bp = Blueprint("meta", __name__)

#: Paths that only read, and so may be called from any origin's scripts.
READ_PATHS = ("/sparql", "/-/", "/id/", "/graph/", "/data", "/ontology", "/shapes",
              "/.well-known/", "/search", "/reconcile", "/screen")


@bp.get("/-/settings.json")
def settings_json() -> Response:
    values = current_app.config["RIVALRY"]
    return jsonify({s.name: ("(set)" if values[s.name] else "") if s.name in SECRET_SETTINGS
                     else values[s.name] for s in SETTINGS})


@bp.get("/-/health")
def health() -> tuple[Response, int]:
    values = current_app.config["RIVALRY"]
    body: dict = {"store": {"kind": "remote", "endpoint": values["sparql_endpoint"]}
                  if values["sparql_endpoint"] else {"kind": "embedded", "path": values["store"]}}
    try:
        store = get_store(current_app)
        info = store.info
    except StoreError as e:
        body.update(status="unavailable", message=e.message)
        return jsonify(body), 503
    body["status"] = "ok"
    body["build"] = {"id": info.build_id, "built_at": info.built_at, "quads": info.quads,
                     "graphs": info.graphs, "inferred": info.inferred}
    return jsonify(body), 200


def init_cors(app: Flask) -> None:
    @app.after_request
    def add_cors(response: Response) -> Response:
        if not current_app.config["RIVALRY"]["cors"]:
            return response
        if request.path == "/validate" or request.path.startswith(READ_PATHS):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = (
                "X-Result-Truncated, X-Result-Row-Limit, Link, ETag, Last-Modified")
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept"
                response.headers["Access-Control-Max-Age"] = "86400"
        return response
