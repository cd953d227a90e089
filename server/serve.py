"""`rivalry serve`: the front (rivalry.server.front), the zygote and the workers
(rivalry.server.workers) put together. docs/serving.md explains the design."""

from __future__ import annotations

import asyncio
import errno
import gc
import os
import socket
import sys
from typing import Any

import uvloop

from rivalry.graph import ID_BASE
from rivalry.graph.errors import RivalryError, StoreError
from rivalry.ontology import NAMESPACE

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)


class AddressInUse(RivalryError):
    status = 400
    title = "Address in use"


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is loaded, so that a port already in
    use is said at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise AddressInUse(f"cannot serve on {host}:{port}: unknown host ({e.strerror}); set "
                           "--host or RIVALRY_HOST to an address of this machine") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        reason = ("another process is already listening there" if e.errno == errno.EADDRINUSE
                  else e.strerror or str(e))
        raise AddressInUse(f"cannot serve on {host}:{port}: {reason}; stop it, or choose "
                           "another port with --port or RIVALRY_PORT") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _prepare(app: Any) -> str | None:
    """In the zygote: open the build that is current (loading it into memory when the
    store is served from memory) and keep to it; the front decides when to move to a
    newer build. Returns the build's id, or None before the first build."""
    from rivalry.graph.store import EmbeddedStore, StoreLocation
    from rivalry.server import get_store

    settings = app.config["RIVALRY"]
    if settings["sparql_endpoint"]:
        # an external store: nothing to load; the build it serves, read now (briefly)
        from rivalry.graph.remote import time_budget

        try:
            with time_budget(min(settings["page_time_limit"], 5.0), "page_time_limit"):
                store = get_store(app)
                store.refresh()
                return None if store.pending_load() else store.info.build_id
        except StoreError:
            return None
    if not settings["store_in_memory"]:
        # on disk: a RocksDB handle must not cross a fork; each worker opens its own
        info = StoreLocation(settings["store"]).current_info()
        return info.build_id if info else None
    try:
        store = get_store(app)
    except StoreError:
        return None
    assert isinstance(store, EmbeddedStore)  # an external store returned above
    store.reopen()
    return store.known_build_id


#: Seconds between two readings of an external store's build by the front.
REMOTE_BUILD_INTERVAL = 1.0


def remote_build_reader(settings: dict[str, Any]) -> Any:
    """The build id an external store serves, for the front's cache: read every
    REMOTE_BUILD_INTERVAL seconds by a thread of its own (the front's event loop never
    waits for the server), each time within a short time limit; None while the store
    cannot be read, has no build, or is loading one (answers may then mix two builds,
    and nothing is served from the cache or kept in it)."""
    import threading
    import time

    from rivalry.graph.remote import RemoteStore, time_budget

    store = RemoteStore.from_settings(settings)
    seconds = min(settings["page_time_limit"], 5.0)
    known: list[str | None] = [None]

    def read() -> None:
        while True:
            try:
                with time_budget(seconds, "page_time_limit"):
                    state = store.read_state()
                known[0] = (state.current.info.build_id
                            if state.current is not None and state.pending is None else None)
            except (RivalryError, OSError):
                known[0] = None
            time.sleep(REMOTE_BUILD_INTERVAL)

    threading.Thread(target=read, name="remote-build", daemon=True).start()
    return lambda: known[0]


def _render_error_with(app: Any):  # noqa: ANN202 - a closure
    from rivalry.server.errors import error_body, render_error

    def render(status: int, accept: str, message: str) -> tuple[str, bytes]:
        from rivalry.server.front import REASONS

        with app.test_request_context(headers={"Accept": accept} if accept else {}):
            response = render_error(error_body(status, REASONS.get(status, "Error"), message))
            return response.headers["Content-Type"], response.get_data()

    return render


#: Pages every visitor starts from, made once per build for the cache.
WARM_PAGES = ("/", "/browse", "/browse/actions", "/timeline", "/stats", "/data",
              "/ontology", "/shapes", "/validate", "/search", "/screen")


async def _pages_to_warm(front: Any) -> list[str]:
    """WARM_PAGES, the short lists of /browse, the page of each state and union (the
    entity pages with the longest timelines), and each year's first page of the timeline
    and of the list of actions (the years the timeline links to; at 100,000 synthetic
    measures a year's page took up to 0.6 s on its first request)."""
    from urllib.parse import quote

    from rivalry.server.browse import ALIASES

    paths = list(WARM_PAGES)
    paths += [f"/browse/type?class={quote(RV + local, safe='')}" for local in ALIASES.values()]
    for iri in await _column(front, f"SELECT ?p WHERE {{ ?p a <{RV}Polity> }}"):
        if iri.startswith(ID_BASE):
            paths.append("/id/" + iri[len(ID_BASE):] + ".html")
    years = await _column(front, f"SELECT DISTINCT ?y WHERE {{ ?a a <{RV}Action> ; "
                                 f"<{RV}announcedOn> ?d BIND(STR(YEAR(?d)) AS ?y) }} ORDER BY ?y")
    for year in years:
        if year.isdigit():
            paths += [f"/timeline?year={year}", f"/browse/actions?year={year}"]
    return paths


async def _column(front: Any, query: str) -> list[str]:
    """The values of a one-column query, asked of the workers as any client would ask
    (none when it fails: the warm-up is only a head start)."""
    from urllib.parse import urlencode

    response, _ = await front.respond(
        "GET", b"/sparql?" + urlencode({"query": query}).encode(), [("Accept", "text/csv")], b"")
    if response.status != 200:
        return []
    return [line.strip() for line in response.body.decode("utf-8").splitlines()[1:]
            if line.strip()]


def workers(settings: dict[str, Any]) -> int:
    """The worker processes kept ready: the setting, or one more than the CPU cores when it
    is 0. One more than the cores: a worker's answer passes through the front before the
    worker is free again, and with a worker per core a core idled meanwhile while requests
    waited (docs/serving.md, "Workers")."""
    return settings["workers"] or (os.cpu_count() or 1) + 1


def max_workers(settings: dict[str, Any]) -> int:
    """The most worker processes at once: the setting, or twice the CPU cores when it is 0.
    Queries are CPU-bound: more at once than the cores can run only share them out
    (docs/serving.md has the measurements)."""
    return settings["max_workers"] or 2 * (os.cpu_count() or 1)


def run(settings: dict[str, Any], sock: socket.socket) -> None:
    """Serve until stopped (SIGTERM or SIGINT)."""
    from rivalry.server import create_app
    from rivalry.server.front import (
        Front,
        FrontLimits,
        ResponseCache,
        run_front,
        store_build_reader,
    )
    from rivalry.server.sparql import shortcut
    from rivalry.server.workers import WorkerPool, start_zygote

    def make_app() -> Any:
        app = create_app(settings)
        app.config["USE_X_SENDFILE"] = True  # the front sends files itself
        app.config["RIVALRY_SUPERVISED"] = True
        return app

    # workers over the embedded store, with no SERVICE endpoint allowed, need no network:
    # they get none, whatever a query asks (rivalry.graph.isolate.forbid_network)
    offline = not settings["sparql_endpoint"] and not settings["service_allowlist"]
    zygote_pid, control = start_zygote(make_app, _prepare, settings["request_memory_bytes"],
                                       close_fds=[sock.fileno()], shortcut=shortcut,
                                       offline=offline)
    front_app = create_app(settings)  # for rendering the front's own errors; no store
    pool = WorkerPool(control, zygote_pid, workers=workers(settings),
                      max_workers=max_workers(settings),
                      worker_memory_mb=settings["worker_memory_mb"])
    if settings["sparql_endpoint"]:
        current = remote_build_reader(settings)
    else:
        current = store_build_reader(settings["store"])
    host, port = sock.getsockname()[:2]
    front = Front(FrontLimits.from_settings(settings), pool,
                  ResponseCache(settings["result_cache_bytes"]), _render_error_with(front_app),
                  current_build=current, server_name=str(host), server_port=int(port))

    async def warm() -> None:
        """The canned queries and the pages every visitor starts from, answered once so
        that they come from the cache (after start and after each new build)."""
        from rivalry.graph.canned import canned_queries

        if not (settings["warm_answer_cache"] and settings["result_cache_bytes"]):
            return
        answered = 0
        for query in canned_queries():
            response, _ = await front.respond(
                "POST", b"/sparql", [("Content-Type", "application/sparql-query"),
                                     ("Accept", "application/sparql-results+json")],
                query.text_with_defaults().encode("utf-8"))
            answered += response.status == 200
        sys.stderr.write(f"answer cache: {answered} canned queries answered\n")
        pages = 0
        for path in await _pages_to_warm(front):
            response, _ = await front.respond("GET", path.encode(), [], b"")
            pages += response.status == 200
        sys.stderr.write(f"page cache: {pages} pages made\n")
        sys.stderr.flush()

    # the modules and the app loaded so far live as long as the front: the collector need
    # not scan them again on each of its passes
    gc.freeze()
    # uvloop: the event loop in C (libuv), where asyncio's own is Python; the front's CPU
    # per request is what limits point lookups (docs/serving.md, "Connections")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_front(front, sock, warm=warm))
