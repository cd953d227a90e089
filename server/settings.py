"""Settings: one declared table (STYLE.md, habit 2).

Each setting has a name, a default, a type and a help text. Values come from the
defaults, then RIVALRY_<NAME> environment variables, then explicit overrides (the
command line, or tests). Unknown names and values of the wrong type fail at startup.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rivalry.graph.errors import RivalryError
from rivalry.graph.store import DEFAULT_STORE, QueryLimits


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def env(self) -> str:
        return "RIVALRY_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("store", DEFAULT_STORE,
            "Directory of the embedded store: its builds and the pointer to the current one. "
            "Relative paths are taken from the working directory."),
    Setting("store_in_memory", True,
            "Serve the embedded store from a copy in memory, loaded when the server starts "
            "(and again after each new build): several times faster queries, for memory "
            "about that of the data in pyoxigraph."),
    Setting("sparql_endpoint", "",
            "Query endpoint (SPARQL 1.1 Protocol) of an external SPARQL server to use instead "
            "of the embedded store; empty: the embedded store."),
    Setting("graph_store_endpoint", "",
            "Graph Store Protocol endpoint of that server, for `rivalry build` to load into."),
    Setting("graph_store_auth", "",
            "user:password for writing to the external server (HTTP Basic or Digest, as the "
            "server asks); never shown."),
    Setting("store_timeout", 60.0,
            "Seconds an external SPARQL server may take over one request of `rivalry build` "
            "or another command (loading a part of a graph, a query). Requests the web "
            "server makes are bounded by the time limit of the request they answer."),
    Setting("cache_dir", "var/cache",
            "Where the files derived from an external store's builds are kept (the search "
            "index and the dumps, under a directory per build)."),
    Setting("base_iri", "https://w3id.org/rivalry/",
            "The IRI the graph's entities are minted under; <base_iri>id/... is served at "
            "/id/..., and the ontology <base_iri>ontology at /ontology."),
    Setting("host", "127.0.0.1", "Interface `rivalry serve` listens on."),
    Setting("port", 8000, "Port `rivalry serve` listens on."),
    Setting("workers", 2,
            "Worker processes `rivalry serve` keeps ready to answer requests, one request "
            "each at a time."),
    Setting("max_workers", 8,
            "Most worker processes at once: when every worker is busy (a slow query), more "
            "are started, up to this number; beyond it requests wait for a free one."),
    Setting("request_memory_bytes", 2_000_000_000,
            "Memory a request may take beyond the shared graph, in bytes: a worker's address "
            "space is capped at what it maps when it starts plus this; a query that needs "
            "more ends with 503. 0: no cap."),
    Setting("max_connections", 1000,
            "Most client connections `rivalry serve` holds at once; more are closed at once."),
    Setting("header_timeout", 10.0,
            "Seconds a client may take to send a request's line and headers; slower ones get "
            "408 and the connection is closed."),
    Setting("body_timeout", 60.0,
            "Seconds a client may take to send a request's body."),
    Setting("send_timeout", 60.0,
            "Seconds a client may take to accept a response before the connection is closed."),
    Setting("keepalive_timeout", 15.0,
            "Seconds an idle keep-alive connection is kept open."),
    Setting("max_header_bytes", 32_768,
            "Largest request head (request line and headers), in bytes; larger gets 431."),
    Setting("max_url_bytes", 8190,
            "Longest request line, in bytes; longer gets 414 (send long queries by POST)."),
    Setting("max_body_bytes", 5_000_000,
            "Largest request body accepted, in bytes; larger ones get 413, whether the "
            "length is announced (before reading) or the body is chunked (as it arrives)."),
    Setting("page_time_limit", 10.0,
            "Seconds any other request (pages, entity documents, dumps, VoID) may run; past "
            "it the client gets 503 and the worker doing it is stopped."),
    Setting("validation_time_limit", 10.0,
            "Seconds a POST /validate may run before it is stopped (503)."),
    Setting("query_time_limit", 10.0,
            "Seconds a SPARQL query may run; past it the client gets 503 and the work stops."),
    Setting("result_row_limit", 10_000,
            "Most rows (SELECT) or triples (CONSTRUCT, DESCRIBE) a query returns; beyond it "
            "the answer is cut and marked truncated."),
    Setting("max_query_depth", 100,
            "Deepest nesting of groups, brackets and parentheses a query may have."),
    Setting("service_allowlist", "",
            "SPARQL endpoints that SERVICE may call, separated by spaces; empty: none."),
    Setting("yasgui_path", "",
            "Directory of the YASGUI build (yasgui.min.js and .css) for the query page; empty: "
            "node_modules/@zazuko/yasgui/build of the checkout, as `make setup` installs it."),
    Setting("result_cache_bytes", 64_000_000,
            "Bytes of responses (SPARQL answers, pages, entity documents) `rivalry serve` "
            "keeps for repeated requests; the cache is keyed on the build being served, so a "
            "response never outlives its graph; 0 turns it off."),
    Setting("warm_answer_cache", True,
            "When `rivalry serve` starts, and after each new build, answer every canned "
            "query once (as SPARQL JSON, with its default values) so that the answers are "
            "in the cache from the first request."),
    Setting("reconcile_batch_size", 100,
            "Most queries in one reconciliation batch, and most ids in one data extension "
            "request (announced as batchSize in the manifest); larger ones get 413."),
    Setting("screen_max_names", 10_000,
            "Most names one POST /screen may send; larger lists get 413 (`rivalry screen` "
            "has no such limit)."),
    Setting("screen_time_limit", 30.0,
            "Seconds a POST /screen may run before it is stopped (503)."),
    Setting("cors", True,
            "Send CORS headers (Access-Control-Allow-Origin: *) on read endpoints."),
)

DEFAULT_SETTINGS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
_BY_NAME = {s.name: s for s in SETTINGS}

#: Settings whose values are secrets: never shown at /-/settings.json or by the CLI.
SECRET_SETTINGS = {"graph_store_auth"}

#: Settings that existed once, with what to do instead.
OBSOLETE_SETTINGS: dict[str, str] = {}


class InvalidSetting(RivalryError):
    title = "Invalid setting"


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    if setting.type is str and isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, setting.type) and not (setting.type is int and isinstance(value, bool)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if setting.type is bool:
                lowered = text.lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(text)
            return setting.type(text)
        except ValueError:
            pass
    if setting.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise InvalidSetting(
        f"{origin}: {value!r} is not a valid {setting.type.__name__} for the setting "
        f"{setting.name!r} ({setting.help})")


def _check_name(name: str, origin: str) -> Setting:
    if name in OBSOLETE_SETTINGS:
        raise InvalidSetting(f"{origin}: the setting {name!r} was removed: "
                             f"{OBSOLETE_SETTINGS[name]}")
    if name not in _BY_NAME:
        raise InvalidSetting(f"{origin}: unknown setting {name!r}; known settings: "
                             + ", ".join(sorted(_BY_NAME)))
    return _BY_NAME[name]


def request_time_limit(settings: Mapping[str, Any], method: str, path: str
                       ) -> tuple[float, str]:
    """The time a request may take, and the setting that says so."""
    if path == "/sparql":
        name = "query_time_limit"
    elif path == "/validate" and method == "POST":
        name = "validation_time_limit"
    elif path == "/screen" and method == "POST":
        name = "screen_time_limit"
    else:
        name = "page_time_limit"
    return settings[name], name


def query_limits(settings: Mapping[str, Any]) -> QueryLimits:
    """The query limits a set of settings asks for."""
    return QueryLimits(
        time_limit=settings["query_time_limit"],
        memory=settings["request_memory_bytes"],
        row_limit=settings["result_row_limit"],
        max_depth=settings["max_query_depth"],
        service_allowlist=tuple(settings["service_allowlist"].split()),
    )


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Defaults, then RIVALRY_* environment variables, then `overrides`."""
    environ = os.environ if environ is None else environ
    values = dict(DEFAULT_SETTINGS)
    for key, raw in environ.items():
        if not key.startswith("RIVALRY_") or not key[8:]:
            continue
        setting = _check_name(key[8:].lower(), f"environment variable {key}")
        values[setting.name] = _coerce(setting, raw, f"environment variable {key}")
    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        setting = _check_name(name, "setting")
        values[name] = _coerce(setting, raw, f"setting {name}")
    for name in ("query_time_limit", "validation_time_limit", "page_time_limit",
                 "header_timeout", "body_timeout", "send_timeout", "keepalive_timeout",
                 "screen_time_limit", "store_timeout"):
        if values[name] <= 0:
            raise InvalidSetting(f"setting {name} must be a positive number of seconds")
    if not re.match(r"^https?://[^\s]+/$", values["base_iri"]):
        raise InvalidSetting("setting base_iri must be an http(s) IRI ending with '/'")
    if values["result_cache_bytes"] < 0:
        raise InvalidSetting("setting result_cache_bytes must be 0 or more")
    if values["request_memory_bytes"] < 0:
        raise InvalidSetting("setting request_memory_bytes must be 0 (no cap) or more")
    for name in ("result_row_limit", "max_query_depth", "max_body_bytes", "workers", "port",
                 "max_workers", "max_connections", "max_header_bytes", "max_url_bytes"):
        if values[name] < 1:
            raise InvalidSetting(f"setting {name} must be at least 1")
    return values
