"""Running work that cannot be interrupted (pySHACL, a SPARQL query in pyoxigraph) in a
child process that is killed when its time is up: the only way to make a time limit
really stop the work, and to keep a crash in the work from taking the server down."""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from rivalry.graph.errors import RivalryError

T = TypeVar("T")

# fork: the child starts at once with everything already imported. It must only do
# pure-Python or read-only work on objects it is given, never touch the parent's
# open store handles.
_CONTEXT = multiprocessing.get_context("fork")


class WorkerDied(RivalryError):
    status = 500
    title = "Worker failed"


class TimeLimitExceeded(RivalryError):
    status = 503
    title = "Time limit exceeded"


def _child(conn: Any, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result = (True, func(*args))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        if not isinstance(e, RivalryError):
            e = WorkerDied(f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}")
        result = (False, e)
    try:
        conn.send(result)
    finally:
        conn.close()
        os._exit(0)


def run_with_time_limit(func: Callable[..., T], args: tuple[Any, ...], seconds: float,
                        what: str) -> T:
    """Run func(*args) in a forked child; kill it after `seconds`.

    `what` names the work and the setting, for the error message, e.g.
    "validation (setting validation_time_limit)".
    """
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(send, func, args), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(seconds):
            raise TimeLimitExceeded(f"{what} took longer than {seconds:g} s and was stopped")
        try:
            ok, value = receive.recv()
        except EOFError:
            raise WorkerDied(f"{what}: the worker process died "
                             f"(exit code {child.exitcode})") from None
    finally:
        receive.close()
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
    if not ok:
        raise value
    return value
