"""The worker processes of `rivalry serve`: each runs the Flask app on one request at a
time, and can be killed at any moment without harm to the others.

Three kinds of process (docs/serving.md has the picture):

- the front (rivalry.server.front) holds the connections and talks to workers;
- the zygote, forked from the front before it starts any thread, creates the app,
  opens the store (loading it into memory when `store_in_memory` is on) and then only
  forks workers, so that they start in milliseconds and share the loaded graph's memory
  copy-on-write; after a new build it loads that build and forks from it;
- the workers, each with its own end of a socket pair to the front, serve requests one
  at a time, with their address space capped (setting `request_memory_bytes`), until the
  front tells them to exit or kills them (past a time limit).

Messages on every socket are length-prefixed pickles. The front side of the pool is
asyncio code in the front's event loop; the zygote and worker sides are plain blocking
code (a worker answers in a request thread of its own, which its main thread replaces
when the front has lowered that thread's priority).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import io
import os
import pickle
import queue
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rivalry.graph.isolate import (
    forbid_network,
    limit_memory,
    set_supervised,
    start_work_thread,
)

_LENGTH = struct.Struct("!I")

#: Header names the app sets for the front only; the front removes them.
BUILD_HEADER = "X-Rivalry-Build"
SENDFILE_HEADER = "X-Sendfile"
GUNZIP_HEADER = "X-Rivalry-Gunzip"


# --- framing ------------------------------------------------------------------------------


def send_message(sock: socket.socket, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the socket")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive_message(sock: socket.socket) -> Any:
    (size,) = _LENGTH.unpack(_recv_exactly(sock, _LENGTH.size))
    return pickle.loads(_recv_exactly(sock, size))


async def read_message(reader: asyncio.StreamReader) -> Any:
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(size))


def frame(message: Any) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


# --- the worker side ----------------------------------------------------------------------


@dataclass
class Reply:
    """A response, as a worker hands it to the front."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes
    file: str | None = None  # a file to send as the body (the app's send_file)
    build: str | None = None  # the build the answer comes from, when it depends on one
    gunzip: bool = False  # the file is gzip-compressed; send it decompressed


def run_wsgi(app: Callable[..., Any], environ: dict[str, Any], body: bytes) -> Reply:
    """Call a WSGI app on one request and collect its response."""
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.errors"] = sys.stderr
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    kept, file, build, gunzip = [], None, None, False
    for name, value in headers:
        lowered = name.lower()
        if lowered == SENDFILE_HEADER.lower():
            file = value
        elif lowered == BUILD_HEADER.lower():
            build = value
        elif lowered == GUNZIP_HEADER.lower():
            gunzip = True
        else:
            kept.append((name, value))
    return Reply(status, kept, content, file, build, gunzip)


class Shortcut(Protocol):
    """A way to answer some requests without the WSGI app (rivalry.server.sparql.shortcut):
    the reply, or None for a request the app must answer."""

    def __call__(self, app: Any, environ: dict[str, Any], body: bytes) -> Reply | None: ...


def answer(app: Callable[..., Any], environ: dict[str, Any], body: bytes,
           shortcut: Shortcut | None = None) -> Reply:
    """The reply to one request: by the shortcut when it takes the request, else by the app."""
    if shortcut is not None:
        reply = shortcut(app, environ, body)
        if reply is not None:
            return reply
    return run_wsgi(app, environ, body)


def worker_main(sock: socket.socket, app: Callable[..., Any], memory: int,
                shortcut: Shortcut | None = None, offline: bool = False) -> None:
    """A worker's life: requests in, responses out, one at a time, until told to stop.
    Never returns: the process ends with os._exit, without running the destructors of
    the shared in-memory store (which must not run in a fork). An `offline` worker (the
    store embedded, no SERVICE endpoint allowed) can open no network socket at all."""
    if offline:
        forbid_network()  # before any thread starts: they all inherit it
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when workers stop
    set_supervised()
    # what the zygote loaded (the app, the store's Python side) is never garbage: keep the
    # collector from scanning it on every request, and from touching (so copying) its pages
    gc.freeze()
    # requests are answered in a thread of their own rather than in the main thread: glibc's
    # malloc gives such a thread an arena of its own, where the main thread's arena grows
    # and trims the process's heap again and again; pyoxigraph allocates heavily, and the
    # canned queries took about 18% less CPU so (docs/benchmarks.md, "Allocators")
    # with a deep stack: pyoxigraph recurses on a query's tree (rivalry.graph.isolate)
    try:
        start_work_thread(_answer_requests, (sock, app, memory, shortcut), "requests")
        # a request thread whose priority the front lowered asks for a successor: made
        # here, as a thread starts with its creator's nice value
        while (box := _handover.get()) is not None:
            try:
                successor = start_work_thread(_answer_requests,
                                              (sock, app, memory, shortcut, False), "requests")
            except RuntimeError:  # no room for its stack under the cap on memory
                box.put(0)  # the lowered thread goes on; the front replaces this worker
                continue
            box.put(successor.native_id or 0)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


#: The nice value workers start with (the zygote's), and what tells their request
#: threads the front has lowered theirs.
_PRIORITY = os.getpriority(os.PRIO_PROCESS, 0)
#: A worker's request thread to its main thread: a box for the id of a new request
#: thread to take over, or None when the worker is done (told to exit, or its front is
#: gone).
_handover: queue.Queue[queue.Queue[int] | None] = queue.Queue()


def _answer_requests(sock: socket.socket, app: Callable[..., Any], memory: int,
                     shortcut: Shortcut | None, first: bool = True) -> None:
    """Answer requests until told to stop. The front lowers the priority of this thread
    (not of the process) when a request runs long; a thread cannot raise its priority
    again, so after such a request it hands the socket to a new thread and ends. Every
    message to the front names the thread that answers next."""
    try:
        if first:
            limit_memory(memory)  # once this thread's stack is mapped: a request gets all
            send_message(sock, ("ready", threading.get_native_id()))
        while True:
            message = receive_message(sock)
            if message[0] == "exit":
                break
            _, environ, body = message
            try:
                reply = answer(app, environ, body, shortcut)
            except MemoryError:
                send_message(sock, ("memory",))
                break
            me = threading.get_native_id()
            if os.getpriority(os.PRIO_PROCESS, me) <= _PRIORITY:
                send_message(sock, ("reply", reply, me))
                continue
            box: queue.Queue[int] = queue.Queue()
            _handover.put(box)
            successor = box.get()
            if not successor:  # none could start: this thread answers on, and the front,
                send_message(sock, ("reply", reply, me))  # seeing it, replaces the worker
                continue
            send_message(sock, ("reply", reply, successor))
            return
    except (EOFError, OSError):
        pass
    _handover.put(None)


# --- the zygote ---------------------------------------------------------------------------


def zygote_main(control: socket.socket, make_app: Callable[[], Any],
                prepare: Callable[[Any], str | None], memory: int,
                shortcut: Shortcut | None = None, offline: bool = False) -> None:
    """The zygote's life. `make_app()` creates the app; `prepare(app)` opens (and loads)
    the current build and returns its id, or None when there is none yet. Commands from
    the front: ("spawn",) forks a worker and sends the front its socket and pid;
    ("reload",) opens the build that is now current; ("exit",) ends."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped automatically
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    app = make_app()
    try:
        build = prepare(app)
        send_message(control, ("ready", build, None))
    except Exception as e:  # noqa: BLE001 - reported to the front, which logs it
        build = None
        send_message(control, ("ready", None, f"{type(e).__name__}: {e}"))
    try:
        while True:
            command = receive_message(control)
            if command[0] == "spawn":
                front_end, worker_end = socket.socketpair()
                pid = os.fork()
                if pid == 0:
                    control.close()
                    front_end.close()
                    worker_main(worker_end, app, memory, shortcut, offline)
                worker_end.close()
                socket.send_fds(control, [frame(("spawned", pid, build))],
                                [front_end.fileno()])
                front_end.close()
            elif command[0] == "reload":
                try:
                    build = prepare(app)
                    send_message(control, ("ready", build, None))
                except Exception as e:  # noqa: BLE001
                    send_message(control, ("ready", build, f"{type(e).__name__}: {e}"))
            else:
                break
    except (EOFError, OSError):
        pass
    finally:
        os._exit(0)


def start_zygote(make_app: Callable[[], Any], prepare: Callable[[Any], str | None],
                 memory: int, close_fds: list[int], shortcut: Shortcut | None = None,
                 offline: bool = False) -> tuple[int, socket.socket]:
    """Fork the zygote; call before the front starts any thread. Returns its pid and the
    front's end of the control socket. `close_fds` (the listening socket) are closed in
    the zygote, so that no worker holds them. `offline` workers can open no network
    socket (`forbid_network`)."""
    front_end, zygote_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        front_end.close()
        for fd in close_fds:
            os.close(fd)
        zygote_main(zygote_end, make_app, prepare, memory, shortcut, offline)
    zygote_end.close()
    return pid, front_end


# --- the front side -----------------------------------------------------------------------


class WorkerLost(Exception):
    """The worker ended before answering: killed past its time limit, out of memory, or
    crashed. `reason` says which, for the client's message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class Worker:
    pid: int
    build: str | None
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    generation: int
    thread: int = 0  # the worker's thread that answers its next request
    busy_since: float | None = None
    slow: bool = False  # its request thread reniced, for a request that runs long
    moved: bool = False  # the reniced thread has handed over to a new one
    oversized: bool = False  # holds more memory than worker_memory_mb: replace when free
    served: int = 0
    alive: bool = True

    def kill(self) -> None:
        if self.alive:
            self.alive = False
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.writer.close()


@dataclass
class PoolStats:
    spawned: int = 0
    killed_for_time: int = 0
    lost: int = 0
    retired_slow: int = 0
    retired_memory: int = 0
    waits: int = 0
    extra: dict[str, int] = field(default_factory=dict)


#: Quick requests copy pages of the shared graph too: every this many requests a worker's
#: memory is checked (in the background; after a slow request, before it is reused).
MEMORY_CHECK_EVERY = 1000


def private_memory_mb(pid: int) -> float | None:
    """Memory only this process holds (Private_Clean + Private_Dirty, in MB): what it has
    copied of what it shared with its zygote, and its own; None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            fields = dict(line.split(":", 1) for line in f.read().splitlines()[1:])
        return (int(fields["Private_Clean"].split()[0])
                + int(fields["Private_Dirty"].split()[0])) / 1024
    except (OSError, KeyError, ValueError, IndexError):
        return None


class WorkerPool:
    """The front's view of the workers: hands out an idle one per request, spawns more
    (up to `max_workers`) when all are busy and one of them has been on its request
    for `spawn_after` seconds (a request behind quick ones waits for one of them to
    finish: more workers than cores for requests of a millisecond only share the cores
    out, switching between processes), kills a worker whose request is past its
    deadline, and renices the request thread of a worker whose request runs longer than
    `slow_after` seconds (so that slow queries yield the CPU to quick ones), starting a
    spare meanwhile; afterwards the worker stays, unless it holds more memory of its own
    than `worker_memory_mb`, and the pool shrinks back to `workers`."""

    def __init__(self, control: socket.socket, zygote_pid: int, *, workers: int,
                 max_workers: int, slow_after: float = 1.0, spawn_after: float = 0.05,
                 worker_memory_mb: int = 2000) -> None:
        self.control = control
        self.zygote_pid = zygote_pid
        self.size = workers
        self.max_workers = max(max_workers, workers)
        self.slow_after = slow_after
        self.spawn_after = spawn_after
        self.worker_memory_mb = worker_memory_mb
        self.idle: list[Worker] = []
        self.all: set[Worker] = set()
        self.generation = 0
        self.build: str | None = None
        self.load_error: str | None = None
        self.stats = PoolStats()
        self._control_lock = asyncio.Lock()
        #: requests waiting for a worker, with the frame to send it, first come first
        #: served (`_hand_over`, `_wake_one`)
        self._waiters: collections.deque[tuple[asyncio.Future[Worker | None], bytes]] = \
            collections.deque()
        self._spawning = 0
        self.reloading = False
        self.closing = False
        #: called when the zygote is gone and no worker can be started any more
        self.on_broken: Callable[[str], None] | None = None

    # the zygote's control socket is used from one coroutine at a time, in a thread (it
    # carries file descriptors, which asyncio's socket methods do not)
    async def _control(self, command: tuple[Any, ...]) -> tuple[Any, list[int]]:
        loop = asyncio.get_running_loop()
        async with self._control_lock:
            def exchange() -> tuple[Any, list[int]]:
                send_message(self.control, command)
                if command[0] == "spawn":
                    data, fds, _, _ = socket.recv_fds(self.control, 1 << 16, 1)
                    (size,) = _LENGTH.unpack(data[:_LENGTH.size])
                    payload = data[_LENGTH.size:]
                    while len(payload) < size:
                        payload += self.control.recv(size - len(payload))
                    return pickle.loads(payload), fds
                return receive_message(self.control), []
            return await loop.run_in_executor(None, exchange)

    async def wait_ready(self) -> None:
        """The zygote's first answer: the build it opened (or why it could not)."""
        loop = asyncio.get_running_loop()
        async with self._control_lock:
            message = await loop.run_in_executor(None, receive_message, self.control)
        _, self.build, self.load_error = message

    async def reload(self) -> None:
        """Have the zygote open the build that is now current; workers of the previous
        generation finish what they are doing and are replaced."""
        if self.reloading:
            return
        self.reloading = True
        try:
            (_, build, error), _ = await self._control(("reload",))
            self.build, self.load_error = build, error
            self.generation += 1
            old = [w for w in self.idle if w.generation < self.generation]
            for w in old:
                self.idle.remove(w)
                await self._retire(w)
            await self.fill()
        finally:
            self.reloading = False

    async def spawn(self) -> Worker:
        self._spawning += 1
        try:
            (_, pid, build), fds = await self._control(("spawn",))
        finally:
            self._spawning -= 1
        sock = socket.socket(fileno=fds[0])
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        worker = Worker(pid, build, reader, writer, self.generation)
        try:
            _, worker.thread = await read_message(reader)  # ("ready", its thread)
        except (asyncio.IncompleteReadError, ConnectionError, EOFError, OSError) as e:
            worker.kill()
            raise OSError(f"a new worker ended before it was ready ({e})") from None
        self.all.add(worker)
        self.stats.spawned += 1
        return worker

    def _short(self) -> bool:
        """Fewer than `size` workers that are not slow (started ones included)."""
        return len([w for w in self.all if not w.slow]) + self._spawning < self.size

    def _room(self) -> bool:
        """Room for one more worker within `max_workers` (started ones included)."""
        return len(self.all) + self._spawning < self.max_workers

    async def fill(self) -> None:
        """Keep `size` workers that are not slow, within `max_workers` in all: when every
        worker the pool may hold is busy with a slow request, new requests wait."""
        while not self.closing and self._short() and self._room():
            try:
                worker = await self.spawn()
            except (OSError, EOFError, ValueError, IndexError) as e:
                if not self.closing and self.on_broken is not None:
                    self.on_broken(f"cannot start a worker: the zygote process is gone ({e})")
                return
            if not self._hand_over(worker):
                self.idle.append(worker)

    async def _retire(self, worker: Worker) -> None:
        self.all.discard(worker)
        if worker.alive:
            worker.alive = False
            try:
                worker.writer.write(frame(("exit",)))
                worker.writer.close()
            except (OSError, RuntimeError):
                pass

    async def _measure(self, worker: Worker) -> None:
        """Mark a worker to be replaced when next released if it holds too much memory."""
        if await self._too_big(worker):
            worker.oversized = True

    async def _too_big(self, worker: Worker) -> bool:
        """Whether a worker holds more memory of its own than `worker_memory_mb`: the pages
        of the shared graph its queries have written to (a query's reads copy them) and its
        own allocations. A request's memory is capped (request_memory_bytes), but pages
        copied on write are no new memory to that cap, and heavy queries copy most of the
        graph."""
        if self.worker_memory_mb <= 0:
            return True
        # in a thread: the kernel walks the process's page tables (milliseconds)
        private = await asyncio.get_running_loop().run_in_executor(
            None, private_memory_mb, worker.pid)
        return private is None or private > self.worker_memory_mb

    async def _shrink(self) -> None:
        """After a slow request, whose worker had a replacement started: back to `size`
        workers, retiring the idle ones that have served least (their memory is the
        coldest: a worker's first queries copy the pages of the shared graph they touch,
        which makes heavy queries slower on a new worker)."""
        extra = len([w for w in self.all if not w.slow]) - self.size
        for worker in sorted(self.idle, key=lambda w: w.served)[:max(extra, 0)]:
            self.idle.remove(worker)
            await self._retire(worker)

    async def acquire(self, deadline: float, message: bytes) -> tuple[Worker, bool]:
        """An idle worker of the current generation; when all are busy, a new one if the
        pool may grow and a busy one has been on its request for `spawn_after` seconds;
        otherwise waits (until `deadline`, or until a busy one has been on its request
        that long) for `release` to hand it a worker, to which `release` has then already
        sent `message` (the request's frame). Returns the worker and whether it was."""
        waited = False
        while True:
            while self.idle:
                worker = self.idle.pop()
                if worker.alive and worker.generation == self.generation:
                    return worker, False
                await self._retire(worker)
            now = time.monotonic()
            until = deadline
            if self._room():
                started = [w.busy_since for w in self.all if w.busy_since is not None]
                if not started or now - min(started) >= self.spawn_after:
                    return await self.spawn(), False
                until = min(deadline, min(started) + self.spawn_after)
            if not waited:
                self.stats.waits += 1
                waited = True
            timeout = until - now
            if timeout <= 0:
                raise TimeoutError
            waiter: asyncio.Future[Worker | None] = asyncio.get_running_loop().create_future()
            entry = (waiter, message)
            self._waiters.append(entry)
            timed_out = False
            try:
                # asyncio.timeout rather than wait_for: no task is created per wait
                async with asyncio.timeout(timeout):
                    await waiter
            except TimeoutError:
                timed_out = True
            except BaseException:
                # cancelled while waiting: a worker handed over meanwhile runs a request
                # no one will read the answer of; a wake meanwhile goes on to the next
                if waiter.done() and not waiter.cancelled():
                    given = waiter.result()
                    if given is None:
                        self._wake_one()
                    else:
                        given.kill()
                        await self.release(given)
                raise
            finally:
                if not waiter.done():
                    waiter.cancel()
                if entry in self._waiters:
                    self._waiters.remove(entry)
            given = None if waiter.cancelled() else waiter.result()
            if given is not None:  # handed over, the request sent: it runs on it
                return given, True
            if timed_out and until >= deadline:
                if not waiter.cancelled():  # woken as the time ran out: the wake goes on
                    self._wake_one()
                raise TimeoutError
            # woken without a worker (one was started into `idle`), or the time to think
            # of starting one has come: look again

    async def release(self, worker: Worker) -> None:
        worker.busy_since = None
        slow, moved = worker.slow, worker.moved
        worker.slow = worker.moved = False
        handed = False
        if not worker.alive:
            self.all.discard(worker)
        elif worker.generation < self.generation or (slow and not moved):
            # a reniced thread that did not hand over (the request ended as it was
            # reniced) would answer every later request at low priority: replaced
            if slow:
                self.stats.retired_slow += 1
            await self._retire(worker)
        elif worker.oversized or (slow and await self._too_big(worker)):
            self.stats.retired_memory += 1
            await self._retire(worker)
        else:
            if worker.served % MEMORY_CHECK_EVERY == 0:  # later, off the answer's path
                asyncio.get_running_loop().create_task(self._measure(worker))
            if slow:  # the pool may have grown for it: back to `workers` first
                self.idle.append(worker)
                await self._shrink()
            else:
                handed = self._hand_over(worker)
                if not handed:
                    self.idle.append(worker)
        if not self.closing and self._short() and self._room():
            asyncio.get_running_loop().create_task(self.fill())
        if not handed:
            self._wake_one()

    def _hand_over(self, worker: Worker) -> bool:
        """Give a worker that is free straight to the request that has waited longest for
        one, sending it that request at once: the worker starts on it now rather than
        when the waiting request's coroutine next runs, after whatever the event loop
        does first (the response just answered, other connections' requests). False when
        no request waits."""
        while self._waiters:
            waiter, message = self._waiters.popleft()
            if not waiter.done():
                self._start(worker, message)
                waiter.set_result(worker)
                return True
        return False

    @staticmethod
    def _start(worker: Worker, message: bytes) -> None:
        """Send a worker a request's frame: it is busy from now."""
        worker.busy_since = time.monotonic()
        worker.served += 1
        worker.writer.write(message)

    def _wake_one(self) -> None:
        """A worker may be had (one was added to `idle`, or the pool has room for one):
        wake the request that has waited longest, if any, to look again."""
        while self._waiters:
            waiter, _ = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def call(self, environ: dict[str, Any], body: bytes, seconds: float) -> Reply:
        """Run one request on a worker, within `seconds` (waiting for a worker included).
        Raises TimeoutError past the deadline (the worker is killed) and WorkerLost when
        the worker ends without an answer."""
        deadline = time.monotonic() + seconds
        message = frame(("request", environ, body))
        worker, sent = await self.acquire(deadline, message)
        watcher = asyncio.get_running_loop().call_later(self.slow_after, self._renice, worker)
        try:
            # asyncio.timeout rather than wait_for: no task is created per request
            async with asyncio.timeout_at(asyncio.get_running_loop().time()
                                          + max(deadline - time.monotonic(), 0)):
                if not sent:
                    self._start(worker, message)
                if worker.writer.transport.get_write_buffer_size():
                    await worker.writer.drain()
                message = await read_message(worker.reader)
            if message[0] == "reply":  # before release() below, which reads them
                worker.moved = message[2] != worker.thread
                worker.thread = message[2]
        except TimeoutError:
            self.stats.killed_for_time += 1
            worker.kill()
            raise
        except (asyncio.IncompleteReadError, ConnectionError, EOFError, OSError):
            self.stats.lost += 1
            worker.kill()
            raise WorkerLost("its worker process ended without an answer: it ran out of "
                             "the memory a request may use (setting request_memory_bytes) "
                             "or failed") from None
        except BaseException:
            # cancelled: the answer is never read here, and the next request sent to
            # this worker would read it as its own
            worker.kill()
            raise
        finally:
            watcher.cancel()
            await self.release(worker)
        if message[0] == "memory":
            worker.kill()
            raise WorkerLost("it needed more memory than a request may use (setting "
                             "request_memory_bytes)")
        return message[1]

    def _renice(self, worker: Worker) -> None:
        """A request running past `slow_after` seconds: lower its worker's priority, so
        that quick requests keep the CPU, and start a replacement for it."""
        if not worker.alive or worker.busy_since is None:
            return
        try:  # the thread answering the request, on Linux a nice value of its own
            os.setpriority(os.PRIO_PROCESS, worker.thread, 10)
        except OSError:
            pass
        worker.slow = True
        if self._short() and self._room():
            asyncio.get_running_loop().create_task(self.fill())

    def pids(self) -> list[int]:
        return sorted(w.pid for w in self.all if w.alive)

    async def close(self) -> None:
        self.closing = True
        for worker in list(self.all):
            await self._retire(worker)
        try:
            send_message(self.control, ("exit",))
        except OSError:
            pass
        self.control.close()
        for worker in list(self.all):
            worker.kill()
