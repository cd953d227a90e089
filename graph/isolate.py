"""Running work that cannot be interrupted (pySHACL, a SPARQL query in pyoxigraph) where a
time limit really stops it, and where a crash in the work cannot take the server down.

Two situations:

- In a process that a supervisor kills when its time is up (a worker of `rivalry serve`,
  see rivalry.server.workers), the work runs inline: the supervisor's kill is what stops
  it. The worker says so with `set_supervised()` when it starts.
- Anywhere else (the development server, tests, the command line), the work runs in a
  forked child process that is killed past the limit.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from rivalry.graph.errors import RivalryError

T = TypeVar("T")

# fork: the child starts at once with everything already imported. It must only do
# pure-Python or read-only work on objects it is given, never touch the parent's
# open on-disk store handles (it opens its own).
_CONTEXT = multiprocessing.get_context("fork")

_supervised = False


def set_supervised(value: bool = True) -> None:
    """Declare that this process is killed by its supervisor past its time limit, so that
    work runs inline rather than in a child of its own."""
    global _supervised
    _supervised = value


def supervised() -> bool:
    return _supervised


#: The stack of a thread that runs a query or a validation: pyoxigraph recurses on a
#: query's tree, one level per operand of a chain (`1 + 1 + …`, UNION, BIND…), so a long
#: chain overflows a default 8 MiB stack (at about 2,000 BINDs) and the process dies. The
#: query checks (max_query_depth, max_query_tokens) keep queries far below what this
#: much holds; the memory is only reserved, and used as deep as the work goes.
WORK_STACK_BYTES = 256 * 1024 * 1024


def start_work_thread(target: Callable[..., Any], args: tuple[Any, ...] = (),
                      name: str = "work") -> threading.Thread:
    """Start a thread with a stack of WORK_STACK_BYTES, for work on a query or on data a
    client sent. (The size is process-wide, read when a thread starts: it is set and put
    back around this one's start. No lock, as a forked child must not wait on one its
    parent held: only one thread of a process starts these, its main one in a worker,
    the only one in a forked child.)"""
    thread = threading.Thread(target=target, args=args, name=name)
    previous = threading.stack_size(WORK_STACK_BYTES)
    try:
        thread.start()
    finally:
        threading.stack_size(previous)
    return thread


class WorkerDied(RivalryError):
    """The child process doing the work ended without an answer (a crash, or the memory
    limit). Not the client's fault, and not a bug to show: a 503."""

    status = 503
    title = "Work failed"


class TimeLimitExceeded(RivalryError):
    status = 503
    title = "Time limit exceeded"


def limit_memory(extra_bytes: int) -> None:
    """Cap this process's address space at what it maps now plus `extra_bytes`, so that
    one request cannot take the machine's memory (allocation beyond it fails)."""
    if extra_bytes <= 0:
        return
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    current = pages * os.sysconf("SC_PAGE_SIZE")
    limit = current + extra_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _child(conn: Any, func: Callable[..., Any], args: tuple[Any, ...],
           memory: int) -> None:
    # the work runs in a thread with a deep stack (WORK_STACK_BYTES), whatever thread
    # forked this process
    start_work_thread(_child_work, (conn, func, args, memory)).join()
    os._exit(0)


def _child_work(conn: Any, func: Callable[..., Any], args: tuple[Any, ...],
                memory: int) -> None:
    try:
        limit_memory(memory)  # once this thread's stack is mapped
        result = (True, func(*args))
    except MemoryError:
        result = (False, WorkerDied("the work needed more memory than it is allowed "
                                    "(setting request_memory_bytes) and was stopped"))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        if not isinstance(e, RivalryError):
            # the details are for the operator's log, not for the client
            sys.stderr.write(traceback.format_exc(limit=8))
            e = WorkerDied(f"the work failed unexpectedly ({type(e).__name__}); the server's "
                           "log has the details")
        result = (False, e)
    try:
        conn.send(result)
    finally:
        conn.close()
        os._exit(0)


def run_with_time_limit(func: Callable[..., T], args: tuple[Any, ...], seconds: float,
                        what: str, *, memory: int = 0) -> T:
    """Run func(*args) under a time limit: inline when this process is supervised,
    otherwise in a forked child killed after `seconds` (and capped at `memory` bytes
    more than the parent maps, when given).

    `what` names the work and the setting, for the error message, e.g.
    "validation (setting validation_time_limit)".
    """
    if _supervised:
        return func(*args)
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(send, func, args, memory), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(seconds):
            raise TimeLimitExceeded(f"{what} took longer than {seconds:g} s and was stopped")
        try:
            ok, value = receive.recv()
        except EOFError:
            child.join(1)
            code = child.exitcode
            how = (f"signal {signal.Signals(-code).name}" if code is not None and code < 0
                   else f"exit code {code}")
            raise WorkerDied(f"{what}: the process doing it ended without an answer ({how}); "
                             "it may have needed more memory than allowed "
                             "(setting request_memory_bytes)") from None
    finally:
        receive.close()
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
    if not ok:
        raise value
    return value


# --- no outbound connections -------------------------------------------------------------

#: (seccomp audit architecture, number of the socket system call) by machine
_SOCKET_CALL = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}


def forbid_network() -> bool:
    """From now on, this thread (and every thread and process it starts) cannot open an
    IPv4 or IPv6 socket: `socket()` fails with EACCES. A second line behind the query
    checks (rivalry.graph.sparql), for work where no outbound request may ever be made:
    pyoxigraph follows SERVICE to any host, and should the checks ever read a query
    otherwise than the engine, the engine still reaches no one. Unix sockets (how a
    worker talks to the front) are untouched. A seccomp filter (Linux, x86-64 or ARM64,
    no privileges needed); returns False where none can be set, and the checks stand
    alone."""
    import ctypes
    import errno
    import platform
    import socket
    import struct

    call = _SOCKET_CALL.get(platform.machine())
    if call is None or not sys.platform.startswith("linux"):
        return False
    arch, socket_nr = call

    def op(code: int, jump_true: int, jump_false: int, k: int) -> bytes:
        return struct.pack("HBBI", code, jump_true, jump_false, k)

    load, jump_eq, ret = 0x20, 0x15, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K
    allow, refuse = 0x7FFF0000, 0x00050000 | errno.EACCES  # SECCOMP_RET_ALLOW, _ERRNO
    program = b"".join([
        op(load, 0, 0, 4), op(jump_eq, 1, 0, arch), op(ret, 0, 0, allow),  # other ABIs
        op(load, 0, 0, 0), op(jump_eq, 0, 4, socket_nr),  # not socket(): allowed
        op(load, 0, 0, 16),  # socket()'s first argument, the address family
        op(jump_eq, 1, 0, socket.AF_INET), op(jump_eq, 0, 1, socket.AF_INET6),
        op(ret, 0, 0, refuse), op(ret, 0, 0, allow)])

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)  # the C library this process runs on
    code = ctypes.create_string_buffer(program)
    fprog = Program(len(program) // 8, ctypes.addressof(code))
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) == 0
