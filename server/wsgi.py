"""Running the app under gunicorn, the production WSGI server."""

from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from rivalry.graph.errors import RivalryError


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def run_gunicorn(app: Flask, settings: dict[str, Any]) -> None:
    # One request per worker process (sync workers): a worker whose query ran past the
    # time limit can then end itself without harming other clients' requests.
    app.config["RIVALRY_EXIT_AFTER_TIMEOUT"] = True
    preload = bool(settings["store_in_memory"]) and not settings["sparql_endpoint"]
    if preload:
        # Load the graph into memory once, in the master process; the workers it forks
        # share those pages copy-on-write. No on-disk handle is open across the fork.
        from rivalry.server import get_store

        try:
            get_store(app).refresh()
        except RivalryError:
            pass  # no build yet: every worker answers 503 with what to do
        else:
            if settings["warm_answer_cache"] and settings["result_cache_bytes"]:
                from rivalry.server.sparql import warm_answer_cache

                cached, seconds = warm_answer_cache(app)
                print(f"answer cache: {cached} canned queries answered in {seconds:.1f} s, "
                      "shared by the workers", file=sys.stderr, flush=True)
    slowest = max(settings["query_time_limit"], settings["validation_time_limit"])
    options = {
        "bind": f"{settings['host']}:{settings['port']}",
        "workers": settings["workers"],
        "worker_class": "sync",
        # gunicorn's own watchdog, a backstop well beyond the query and validation limits
        "timeout": int(slowest * 3 + 30),
        "graceful_timeout": 10,
        "limit_request_line": 8190,  # long GET queries; longer ones belong in a POST
        "accesslog": "-",
        "errorlog": "-",
        "control_socket_disable": True,
        "preload_app": preload,
    }
    _Gunicorn(app, options).run()


#: Allocators tried, in order, when the `allocator` setting is "auto".
ALLOCATORS = ("jemalloc", "tcmalloc_minimal", "tcmalloc")


class AllocatorNotFound(RivalryError):
    status = 500
    title = "Allocator not found"


def find_allocator(choice: str) -> str | None:
    """The shared library the `allocator` setting names: None for "system" (or when
    "auto" finds none of ALLOCATORS installed), a library path or name otherwise."""
    if choice == "system" or not sys.platform.startswith("linux"):
        return None
    if choice == "auto":
        return next(filter(None, (ctypes.util.find_library(n) for n in ALLOCATORS)), None)
    if not Path(choice).is_file():
        raise AllocatorNotFound(
            f"setting allocator names {choice!r}, which is not a file; give the path of a "
            "malloc library (such as /usr/lib/x86_64-linux-gnu/libjemalloc.so.2), or "
            "'auto' or 'system'")
    return choice


def use_allocator(choice: str) -> str | None:
    """Run this process again with a faster malloc preloaded, when one is asked for (or,
    with "auto", installed) and not loaded yet. pyoxigraph's engine allocates heavily and
    runs its queries about an eighth faster over jemalloc or tcmalloc than over glibc's
    malloc (docs/benchmarks.md). Returns the library in use, or None for the system's."""
    library = find_allocator(choice)
    if library is None:
        return None
    loaded = os.environ.get("LD_PRELOAD", "").split()
    if library in loaded:
        return library
    if Path(sys.argv[0]).name not in ("rivalry", "cli.py"):
        return None  # called from within another program (a test runner): never replace it
    env = dict(os.environ, LD_PRELOAD=" ".join([library, *loaded]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)
    return library  # not reached
