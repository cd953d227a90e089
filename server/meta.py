"""Endpoints about the server itself: /-/settings.json and /-/health; and CORS."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from rivalry.graph.errors import StoreError
from rivalry.server import get_store
from rivalry.server.settings import SECRET_SETTINGS, SETTINGS

bp = Blueprint("meta", __name__)

#: Paths that only read, and so may be called from any origin's scripts.
READ_PATHS = ("/sparql", "/-/", "/id/", "/graph/", "/data", "/ontology", "/shapes",
              "/.well-known/", "/search", "/reconcile", "/screen", "/rdf-graph-store")


@bp.get("/-/settings.json")
def settings_json() -> Response:
    values = current_app.config["RIVALRY"]
    return jsonify({s.name: ("(set)" if values[s.name] else "") if s.name in SECRET_SETTINGS
                     else values[s.name] for s in SETTINGS})


#: Seconds /-/health waits for an external store at most: it says promptly when the
#: store is not answering (within the request's own limit, if that is shorter).
HEALTH_TIMEOUT = 3.0


@bp.get("/-/health")
def health() -> tuple[Response, int]:
    """The build being served, and whether the store can serve it: 200 "ok"; 503
    "unavailable" (no build, or an external server that cannot be reached or does not
    answer), "loading" (an external store is being loaded: answers may mix two builds)
    or "incomplete" (a load stopped half way: rerun `rivalry build`)."""
    values = current_app.config["RIVALRY"]
    body: dict = {"store": {"kind": "remote", "endpoint": values["sparql_endpoint"]}
                  if values["sparql_endpoint"] else {"kind": "embedded", "path": values["store"]}}
    try:
        store = get_store(current_app)
        with _health_budget(values):
            store.refresh()
            info = store.info
            pending = store.pending_load()
    except StoreError as e:
        body.update(status="unavailable", message=e.message)
        return _no_store(jsonify(body)), 503
    body["build"] = {"id": info.build_id, "built_at": info.built_at, "quads": info.quads,
                     "graphs": info.graphs, "inferred": info.inferred}
    if pending is not None:
        body["status"] = "loading" if pending.state == "loading" else "incomplete"
        body["loading"] = {"id": pending.build_id, "started_at": pending.started_at,
                           "state": pending.state, "error": pending.error}
        body["message"] = (
            f"build {pending.build_id} is being loaded into the store (since "
            f"{pending.started_at}): answers may mix it with build {info.build_id}"
            if pending.state == "loading" else
            f"the load of build {pending.build_id} stopped half way ({pending.error}): the "
            f"store may hold parts of it beside build {info.build_id}; rerun `rivalry build`")
        return _no_store(jsonify(body)), 503
    body["status"] = "ok"
    return _no_store(jsonify(body)), 200


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _health_budget(values: dict):  # noqa: ANN202 - a context manager
    from contextlib import nullcontext

    if not values["sparql_endpoint"]:
        return nullcontext()
    from rivalry.graph.remote import time_budget

    limit = min(HEALTH_TIMEOUT, values["page_time_limit"])
    return time_budget(limit, "page_time_limit")


def cors_headers(settings: dict[str, Any], method: str, path: str) -> list[tuple[str, str]]:
    """The CORS headers of an answer to `method` on `path`: any origin may read what the
    server publishes (and ask /validate), when the setting cors is on."""
    if not settings["cors"] or not (path == "/validate" or path.startswith(READ_PATHS)):
        return []
    headers = [("Access-Control-Allow-Origin", "*"),
               ("Access-Control-Expose-Headers",
                "X-Result-Truncated, X-Result-Row-Limit, Link, ETag, Last-Modified")]
    if method == "OPTIONS":
        headers += [("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
                    ("Access-Control-Allow-Headers", "Content-Type, Accept"),
                    ("Access-Control-Max-Age", "86400")]
    return headers


def init_cors(app: Flask) -> None:
    @app.after_request
    def add_cors(response: Response) -> Response:
        for name, value in cors_headers(current_app.config["RIVALRY"], request.method,
                                        request.path):
            if name == "Access-Control-Allow-Methods" and response.headers.get("Allow"):
                value = response.headers["Allow"]  # what this route takes, no more
            response.headers[name] = value
        return response
