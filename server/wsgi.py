"""Running the app under gunicorn, the production WSGI server."""

from __future__ import annotations

import sys
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
