"""Settings: one declared table (CONTRIBUTING.md, convention 2).

Each setting has a name, a default, a type and a help text. Values come from the
defaults, then RIVALRY_<NAME> environment variables, then explicit overrides (the
command line, or tests). Unknown names and values of the wrong type fail at startup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rivalry.graph.errors import RivalryError
from rivalry.graph.store import DEFAULT_STORE, QueryLimits

#: The commands that read a setting. A setting's value is checked only by them, so that a
#: bad server setting (RIVALRY_PORT=0) does not stop `rivalry build`.
EVERY = frozenset({"build", "check", "validate", "query", "export", "stats", "serve",
                   "search", "screen", "match-quality", "queries", "settings", "synth"})
SERVE = frozenset({"serve"})
STORE = frozenset({"build", "validate", "query", "export", "stats", "serve", "search",
                   "screen", "match-quality"})


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    #: the least value allowed (numbers), and whether it must be above it rather than at it
    minimum: float | None = None
    above: bool = False
    commands: frozenset[str] = SERVE
    #: the value, when not empty, must be an absolute http(s) address usable as an IRI
    address: bool = False

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def env(self) -> str:
        return "RIVALRY_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("store", DEFAULT_STORE,
            "Directory of the embedded store: its builds and the pointer to the current one. "
            "Relative paths are taken from the working directory.",
            commands=STORE),
    Setting("store_in_memory", True,
            "Serve the embedded store from a copy in memory, loaded when the server starts "
            "(and again after each new build): several times faster queries, for memory "
            "about that of the data in pyoxigraph."),
    Setting("sparql_endpoint", "",
            "Query endpoint (SPARQL 1.1 Protocol) of an external SPARQL server to use instead "
            "of the embedded store; empty: the embedded store.",
            commands=STORE),
    Setting("graph_store_endpoint", "",
            "Graph Store Protocol endpoint of that server, for `rivalry build` to load into.",
            commands=frozenset({"build"})),
    Setting("graph_store_auth", "",
            "user:password for writing to the external server (HTTP Basic or Digest, as the "
            "server asks); never shown.",
            commands=frozenset({"build"})),
    Setting("store_timeout", 60.0,
            "Seconds an external SPARQL server may take over one request of `rivalry build` "
            "or another command (loading a part of a graph, a query). Requests the web "
            "server makes are bounded by the time limit of the request they answer.",
            commands=STORE, minimum=0, above=True),
    Setting("cache_dir", "var/cache",
            "Where the files derived from an external store's builds are kept (the search "
            "index, the dumps and the figures, under a directory per build).",
            commands=STORE),
    Setting("host", "127.0.0.1", "Interface `rivalry serve` listens on."),
    Setting("port", 8000, "Port `rivalry serve` listens on.",
            minimum=1),
    Setting("workers", 0,
            "Worker processes `rivalry serve` keeps ready to answer requests, one request "
            "each at a time. 0: one more than the machine's CPU cores.",
            minimum=0),
    Setting("max_workers", 0,
            "Most worker processes at once: when every worker is busy and one has been on its "
            "request for 50 ms (a slow query), more are started, up to this number; beyond "
            "it requests wait for a free one. 0: twice the machine's CPU cores.",
            minimum=0),
    Setting("worker_memory_mb", 2000,
            "Memory, in MB, a worker may hold of its own and still be kept after a request "
            "that ran longer than a second (and every 1,000 requests): the pages of the shared "
            "graph its queries have copied, and its own allocations. Past it the worker is "
            "replaced by a new one, whose first queries are slower. 0: replaced after every "
            "such request.",
            minimum=0),
    Setting("request_memory_bytes", 2_000_000_000,
            "Memory a request may take beyond the shared graph, in bytes: a worker's address "
            "space is capped at what it maps when it starts plus this; a query that needs "
            "more ends with 503. 0: no cap.",
            minimum=0),
    Setting("max_connections", 1000,
            "Most client connections `rivalry serve` holds at once; more are closed at once.",
            minimum=1),
    Setting("header_timeout", 10.0,
            "Seconds a client may take to send a request's line and headers; slower ones get "
            "408 and the connection is closed.",
            minimum=0, above=True),
    Setting("body_timeout", 60.0,
            "Seconds a client may take to send a request's body.",
            minimum=0, above=True),
    Setting("send_timeout", 60.0,
            "Seconds a client may take to accept a response before the connection is closed.",
            minimum=0, above=True),
    Setting("keepalive_timeout", 15.0,
            "Seconds an idle keep-alive connection is kept open.",
            minimum=0, above=True),
    Setting("max_header_bytes", 32_768,
            "Largest request head (request line and headers), in bytes; larger gets 431.",
            minimum=1),
    Setting("max_url_bytes", 8190,
            "Longest request line, in bytes; longer gets 414 (send long queries by POST).",
            minimum=1),
    Setting("max_body_bytes", 5_000_000,
            "Largest request body accepted, in bytes; larger ones get 413, whether the "
            "length is announced (before reading) or the body is chunked (as soon as a chunk's "
            "size line takes it past the limit).",
            minimum=1),
    Setting("page_time_limit", 10.0,
            "Seconds any other request (pages, entity documents, dumps, VoID) may run; past "
            "it the client gets 503 and the worker doing it is stopped.",
            minimum=0, above=True),
    Setting("validation_time_limit", 10.0,
            "Seconds a POST /validate may run before it is stopped (503).",
            minimum=0, above=True),
    Setting("query_time_limit", 10.0,
            "Seconds a SPARQL query may run; past it the client gets 503 and the work stops.",
            minimum=0, above=True),
    Setting("result_row_limit", 10_000,
            "Most rows (SELECT) or triples (CONSTRUCT, DESCRIBE) a query returns; beyond it "
            "the answer is cut and marked truncated.",
            minimum=1),
    Setting("max_query_depth", 100,
            "Deepest nesting of groups, brackets and parentheses a query may have.",
            minimum=1),
    Setting("max_query_tokens", 5_000,
            "Most tokens (names, values, operators, punctuation) a query may have outside "
            "its VALUES blocks' rows; longer queries get 400 before they are parsed (the "
            "engine nests a level for each operand of a chain such as 1 + 1 + … or UNION, "
            "and tens of thousands of levels would overflow its stack).",
            minimum=1),
    Setting("service_allowlist", "",
            "SPARQL endpoints that SERVICE may call, separated by spaces; empty: none."),
    Setting("yasgui_path", "",
            "Directory of the YASGUI build (yasgui.min.js and .css) for the query page; empty: "
            "node_modules/@zazuko/yasgui/build of the checkout, as `make setup` installs it."),
    Setting("result_cache_bytes", 64_000_000,
            "Bytes of responses (SPARQL answers, pages, entity documents) `rivalry serve` "
            "keeps for repeated requests; the cache is keyed on the build being served, so a "
            "response never outlives its graph; 0 turns it off.",
            minimum=0),
    Setting("warm_answer_cache", True,
            "When `rivalry serve` starts, and after each new build, answer every canned "
            "query once (as SPARQL JSON, with its default values) so that the answers are "
            "in the cache from the first request."),
    Setting("reconcile_batch_size", 100,
            "Most queries in one reconciliation batch, and most ids in one data extension "
            "request (announced as batchSize in the manifest); larger ones get 413.",
            minimum=1),
    Setting("screen_max_names", 10_000,
            "Most names one POST /screen may send; larger lists get 413 (`rivalry screen` "
            "has no such limit).",
            minimum=1),
    Setting("screen_max_lines", 200_000,
            "Most lines (name, candidate and measure) the answer to one POST /screen may "
            "hold; a larger answer gets 413, never a cut one (`rivalry screen` has no such "
            "limit).",
            minimum=1),
    Setting("screen_time_limit", 30.0,
            "Seconds a POST /screen may run before it is stopped (503).",
            minimum=0, above=True),
    Setting("publisher_name", "",
            "Who publishes the dataset served here (a person or an organisation), named in "
            "VoID as its dct:publisher and on the VoID page; empty: no publisher is named."),
    Setting("publisher_url", "",
            "The publisher's web address, which VoID gives as the dct:publisher's IRI (an "
            "absolute http or https address); empty: the publisher is described by its name "
            "alone.", address=True),
    Setting("cors", True,
            "Send CORS headers (Access-Control-Allow-Origin: *) on read endpoints."),
    Setting("build_workers", 0,
            "Threads that run SHACL queries side by side in `rivalry build`; 0: one per "
            "CPU core.", minimum=0, commands=frozenset({"build", "validate"})),
    Setting("build_memory_mb", 8000,
            "Memory, in MB, `rivalry build` may give its working copy of the graph; a graph "
            "that needs more (judged from the size of its facts files) is built on disk, "
            "more slowly.", minimum=100, commands=frozenset({"build"})),
    Setting("reasoner_java_heap_mb", 2000,
            "Java heap, in MB, of HermiT (the consistency check of `rivalry build` and "
            "`rivalry check`).", minimum=16, commands=frozenset({"build", "check"})),
    Setting("reasoner_time_limit", 600.0,
            "Seconds HermiT may run before the build stops (exit code 5).", minimum=0,
            above=True, commands=frozenset({"build", "check"})),
)

DEFAULT_SETTINGS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
_BY_NAME = {s.name: s for s in SETTINGS}

#: Settings whose values are secrets: never shown at /-/settings.json or by the CLI.
SECRET_SETTINGS = {"graph_store_auth"}

#: Settings that existed once, with what to do instead.
OBSOLETE_SETTINGS: dict[str, str] = {
    "base_iri": "the graph's IRIs are minted under https://w3id.org/rivalry/ in the facts "
                "themselves, and the server answers for them at /id/, /graph/ and "
                "/ontology whatever its own address; to publish under another host, put "
                "that host's redirect (or a proxy) in front",
}


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
        max_tokens=settings["max_query_tokens"],
        service_allowlist=tuple(settings["service_allowlist"].split()),
    )


def _check_address(setting: Setting, value: Any) -> None:
    """An address setting, when given: an absolute http(s) IRI with a host."""
    from urllib.parse import urlsplit

    from rivalry.graph.iri import parse_iri

    if not setting.address or not value:
        return
    parts = urlsplit(str(value))
    if parse_iri(str(value)) is None or parts.scheme.lower() not in ("http", "https") \
            or not parts.hostname:
        raise InvalidSetting(f"setting {setting.name}: {value!r} is not an absolute http or "
                             "https address without spaces (for example "
                             "https://example.org/); leave it empty to give none")


def _check_range(setting: Setting, value: Any) -> None:
    if setting.minimum is None:
        return
    if setting.above and not value > setting.minimum:
        raise InvalidSetting(f"setting {setting.name} must be more than {setting.minimum:g}"
                             + (" seconds" if isinstance(value, float) else ""))
    if not setting.above and value < setting.minimum:
        raise InvalidSetting(f"setting {setting.name} must be at least {setting.minimum:g}")


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Defaults, then RIVALRY_* environment variables, then `overrides`.

    Unknown and removed names always fail. A value of the wrong type or out of range
    fails when `command` reads that setting (every setting when `command` is None, as for
    the web app); for other commands the default stands in, so that a bad server setting
    does not stop `rivalry build`."""
    environ = os.environ if environ is None else environ
    values = dict(DEFAULT_SETTINGS)
    given: list[tuple[Setting, Any, str]] = []
    for key, raw in environ.items():
        if not key.startswith("RIVALRY_") or not key[8:]:
            continue
        origin = f"environment variable {key}"
        given.append((_check_name(key[8:].lower(), origin), raw, origin))
    for name, raw in (overrides or {}).items():
        if raw is not None:
            given.append((_check_name(name, "setting"), raw, f"setting {name}"))
    for setting, raw, origin in given:
        checked = command is None or command in setting.commands
        try:
            value = _coerce(setting, raw, origin)
            _check_range(setting, value)
            _check_address(setting, value)
        except InvalidSetting:
            if checked:
                raise
            continue
        values[setting.name] = value
    return values
