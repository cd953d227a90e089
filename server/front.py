"""The front of `rivalry serve`: an event-driven HTTP/1.1 server (asyncio on uvloop's loop,
`read_head` reading plain requests and h11 the rest, `response_head` writing the
responses' heads) that holds every connection, reads each request whole, answers repeated ones
from a cache keyed on the build, and hands the rest to worker processes
(rivalry.server.workers) that it kills when their time is up.

Why this shape (docs/serving.md has the measurements): a connection costs the front a
few kilobytes and no thread, so slow clients and idle keep-alive connections cannot use
up the workers; a request reaches a worker only once its head and body are complete and
within their limits; and a query that runs too long or takes too much memory ends with
its worker, not with the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gzip
import hashlib
import json
import os
import re
import signal
import socket
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

import h11
from werkzeug.http import is_resource_modified

from rivalry.server.formats import preferred, unmodified_since_fails
from rivalry.server.settings import request_time_limit
from rivalry.server.urls import server_host, valid_host
from rivalry.server.workers import Reply, WorkerLost, WorkerPool

VARIANTS_HEADER = "X-Rivalry-Variants"

READ_CHUNK = 65536
FILE_CHUNK = 1 << 20


def escape_non_ascii(request_line: bytes) -> bytes:
    """A request line's bytes outside ASCII percent-encoded, as a browser sends them: a
    client that writes `/search?q=华为` raw (curl does) is answered as if it had sent
    `/search?q=%E5%8D%8E%E4%B8%BA`, rather than refused as malformed."""
    if request_line.isascii():
        return request_line
    return b"".join(b"%%%02X" % c if c >= 0x80 else bytes((c,)) for c in request_line)


@dataclass(frozen=True)
class FrontLimits:
    header_timeout: float  # seconds to receive a request's head, once it has begun
    keepalive_timeout: float  # seconds an idle connection is kept open
    body_timeout: float  # seconds to receive a request's body
    send_timeout: float  # seconds a client may take to accept a response
    max_connections: int
    max_header_bytes: int
    max_url_bytes: int
    max_body_bytes: int
    query_time_limit: float
    validation_time_limit: float
    screen_time_limit: float
    page_time_limit: float

    @classmethod
    def from_settings(cls, s: dict[str, Any]) -> FrontLimits:
        return cls(header_timeout=s["header_timeout"], keepalive_timeout=s["keepalive_timeout"],
                   body_timeout=s["body_timeout"], send_timeout=s["send_timeout"],
                   max_connections=s["max_connections"], max_header_bytes=s["max_header_bytes"],
                   max_url_bytes=s["max_url_bytes"], max_body_bytes=s["max_body_bytes"],
                   query_time_limit=s["query_time_limit"],
                   validation_time_limit=s["validation_time_limit"],
                   screen_time_limit=s["screen_time_limit"],
                   page_time_limit=s["page_time_limit"])

    def time_limit(self, method: str, path: str) -> tuple[float, str]:
        """The time a request may take, and the setting that says so."""
        return request_time_limit({"query_time_limit": self.query_time_limit,
                                   "validation_time_limit": self.validation_time_limit,
                                   "screen_time_limit": self.screen_time_limit,
                                   "page_time_limit": self.page_time_limit}, method, path)


# --- the response cache -------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    vary: tuple[str, ...]  # request header names the response varies on (lower case)
    #: their values in the request that produced it; None for a header it did not have
    varied: tuple[str | None, ...]
    #: for a negotiated response, the media types that would have chosen each format
    #: (content type, offer): any Accept header choosing this one's format shares it
    variants: tuple[tuple[str, str], ...] = ()


class ResponseCache:
    """Responses of the current build, by request, least recently used out first, within
    a byte budget. A response is kept only when the app says which build it comes from,
    so an answer never outlives its graph; variants follow the response's Vary header,
    as an HTTP cache does (RFC 9111, section 4.1): a header absent from a request
    matches only a request without it, not one where it is empty. The front gives every
    request the Host it is answered for (`Front.respond`), so `Vary: Host` is kept on
    the host the app built its URLs on."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, list[Stored]] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    #: Request headers that say how to read the body: requests that differ in them are
    #: different requests (the same bytes as a form, or in UTF-16, or gzip-compressed,
    #: get 400 or 415, not the answer to the query)
    BODY_HEADERS = ("content-type", "content-encoding")

    @staticmethod
    def key(build: str, method: str, target: bytes, body: bytes,
            headers: dict[str, str] | None = None) -> tuple:
        digest = hashlib.sha256(body).digest() if body else b""
        about_body = tuple((headers or {}).get(h, "").strip().lower()
                           for h in ResponseCache.BODY_HEADERS)
        return (build, method, target, digest, about_body)

    def get(self, key: tuple, headers: dict[str, str]) -> Stored | None:
        variants = self._items.get(key)
        if variants:
            for stored in variants:
                if stored.variants:
                    owner = preferred(headers.get("accept", ""), stored.variants)
                    others = tuple(h for h in stored.vary if h != "accept")
                    if owner != _content_type(stored.headers) or tuple(
                            headers.get(h) for h in others) != tuple(
                            v for h, v in zip(stored.vary, stored.varied, strict=True)
                            if h != "accept"):
                        continue
                elif tuple(headers.get(h) for h in stored.vary) != stored.varied:
                    continue
                self._items.move_to_end(key)
                self.hits += 1
                return stored
        self.misses += 1
        return None

    def put(self, key: tuple, headers: dict[str, str], status: int,
            response_headers: list[tuple[str, str]], body: bytes,
            variants: tuple[tuple[str, str], ...] = ()) -> None:
        size = len(body) + 200
        if not self.max_bytes or size > self.max_bytes // 4:
            return
        vary = tuple(sorted({v.strip().lower() for name, value in response_headers
                             if name.lower() == "vary" for v in value.split(",") if v.strip()}))
        if "*" in vary:
            return
        stored = Stored(status, tuple(response_headers), body, vary,
                        tuple(headers.get(h) for h in vary), variants)
        entries = self._items.setdefault(key, [])
        if variants:
            kind = _content_type(stored.headers)
            entries[:] = [s for s in entries if _content_type(s.headers) != kind]
        else:
            entries[:] = [s for s in entries if s.varied != stored.varied or s.vary != vary]
        entries.append(stored)
        self._size += size
        while self._size > self.max_bytes and self._items:
            _, old = self._items.popitem(last=False)
            self._size -= sum(len(s.body) + 200 for s in old)

    def clear(self) -> None:
        self._items.clear()
        self._size = 0


# --- requests and responses ---------------------------------------------------------------


class Refusal(Exception):
    """A request the front answers itself: too large, too slow, malformed."""

    def __init__(self, status: int, message: str, close: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close
        #: the request's Accept header, once its head has been read (a refusal before
        #: that, of a head too long or malformed, has none: JSON)
        self.accept = ""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    file: str | None = None
    gunzip: bool = False  # the file is gzip-compressed: send it decompressed, chunked


class Head(NamedTuple):
    """A request's line and headers as h11 read them, its headers taken out of h11's
    `Headers` once (names in lower case), which every step after reads several times."""

    method: bytes
    target: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]

    @classmethod
    def of(cls, request: h11.Request) -> Head:
        return cls(request.method, request.target, request.http_version, list(request.headers))


class Taken(NamedTuple):
    """A request `read_head` read, not h11: its bytes (head and body), and what the client
    sent after them (the start of a pipelined request), which the next request's reading
    begins with."""

    request: bytes
    rest: bytes


ErrorRenderer = Callable[[int, str, str], tuple[str, bytes]]

REASONS = {s.value: s.phrase for s in HTTPStatus}
REASONS[413] = "Content Too Large"  # RFC 9110's names
REASONS[416] = "Range Not Satisfiable"


class Front:
    """The HTTP front. `render_error(status, accept, message)` gives the content type and
    body of an error the front answers itself, in the app's error shape."""

    def __init__(self, limits: FrontLimits, pool: WorkerPool, cache: ResponseCache,
                 render_error: ErrorRenderer, *, current_build: Callable[[], str | None],
                 server_name: str, server_port: int, access_log: bool = True) -> None:
        self.limits = limits
        self.pool = pool
        self.cache = cache
        self.render_error = render_error
        self.current_build = current_build
        self.server_name = server_name
        self.server_port = server_port
        #: what an empty or absent Host stands for (RFC 9112 3.2)
        self.own_host = server_host(server_name, server_port)
        self.access_log = access_log
        self.connections = 0
        self.stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_flight = 0
        #: answers the canned queries to fill the cache (after start and new builds)
        self.warm: Callable[[], Any] | None = None
        #: set once the zygote has opened the store and the first workers are up: until
        #: then (loading a large build into memory takes a while) the front answers
        #: /-/health itself and holds other requests within their own time limit
        self.started = asyncio.Event()

    # --- connections ----------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.limits.max_connections or self.stopping:
            writer.close()
            return
        self.connections += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = writer.get_extra_info("peername")
        remote = peer[0] if isinstance(peer, tuple) else "-"
        conn = self._connection_state()
        try:
            await self._serve_connection(conn, reader, writer, remote)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, OSError):
            pass
        finally:
            self.connections -= 1
            try:
                writer.close()
            except (OSError, RuntimeError):
                pass

    async def _read(self, reader: asyncio.StreamReader, timeout: float) -> bytes:
        # asyncio.timeout rather than wait_for: no task is created per read
        async with asyncio.timeout(timeout):
            return await reader.read(READ_CHUNK)

    async def _serve_connection(self, conn: h11.Connection, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter, remote: str) -> None:
        first = fresh = True
        while not self.stopping:
            started = time.monotonic()
            try:
                request, body, taken = await self._read_request(conn, reader, writer, first,
                                                                fresh)
            except Refusal as refusal:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await self._send(conn, writer, self._error(
                        refusal.status, refusal.accept, refusal.message), close=True)
                    self._log(remote, None, refusal.status, 0, started, "refused")
                return
            if request is None:  # the client closed, or an idle keep-alive connection ended
                return
            first = False
            self._in_flight += 1
            try:
                response, note = await self._respond(request, body)
            finally:
                self._in_flight -= 1
            close = self.stopping or _closes_after(request)
            await self._send(conn, writer, response, close=close, head=request.method == b"HEAD",
                             unread=taken.request if taken is not None else b"")
            self._log(remote, request, response.status, len(response.body), started, note)
            if conn.our_state is h11.MUST_CLOSE or close:
                return
            conn, fresh = self._next_cycle(conn, taken)

    def _connection_state(self) -> h11.Connection:
        """h11's reading of one connection; a head larger than max_header_bytes is
        refused before it is all in (431)."""
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)

    def _next_cycle(self, conn: h11.Connection,
                    taken: Taken | None) -> tuple[h11.Connection, bool]:
        """A connection state for the next request on a kept-alive connection, holding
        what the client has sent past the last one (a pipelined request): a new one,
        since the last request or its response may have been handled without h11
        (`read_head`, `response_head`); and whether it holds nothing yet."""
        following = self._connection_state()
        data, closed = (taken.rest, False) if taken is not None else conn.trailing_data
        if data:
            following.receive_data(data)
        if closed:
            following.receive_data(b"")
        return following, not data and not closed

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter, first: bool,
                            fresh: bool) -> tuple[Head | None, bytes, Taken | None]:
        """The next request's head and whole body, within the limits, and its bytes when
        `read_head` read it rather than h11 (which it may when `fresh`: h11's state holds
        nothing of it yet); (None, b"", None) when the connection ends cleanly between
        requests."""
        limits = self.limits
        head_deadline: float | None = None
        if first:
            head_deadline = time.monotonic() + limits.header_timeout
        received = 0
        line = bytearray()  # the start of the request, to refuse an endless request line
        in_request_line = True
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as e:
                status = e.error_status_hint if e.error_status_hint in (400, 431, 501) else 400
                if status == 431:
                    raise Refusal(431, "the request's head (request line and headers) is larger "
                                  f"than {limits.max_header_bytes} bytes (setting "
                                  "max_header_bytes)") from None
                raise Refusal(status, f"malformed HTTP request: {e}") from None
            if event is h11.NEED_DATA:
                if head_deadline is None:  # idle between requests: wait for a first byte
                    try:
                        data = await self._read(reader, limits.keepalive_timeout)
                    except TimeoutError:
                        return None, b"", None
                    head_deadline = time.monotonic() + limits.header_timeout
                else:
                    remaining = head_deadline - time.monotonic()
                    if remaining <= 0:
                        raise Refusal(408, "the request's head did not arrive within "
                                      f"{limits.header_timeout:g} s (setting header_timeout)")
                    try:
                        data = await self._read(reader, remaining)
                    except TimeoutError:
                        if received == 0 and not first:
                            return None, b"", None
                        raise Refusal(408, "the request's head did not arrive within "
                                      f"{limits.header_timeout:g} s (setting "
                                      "header_timeout)") from None
                if fresh and not received and data:
                    whole = self._take(data)
                    if whole is not None:
                        return whole
                received += len(data)
                if len(line) <= limits.max_url_bytes + 16:
                    line += data[:limits.max_url_bytes + 17 - len(line)]
                    if len(line) > limits.max_url_bytes + 16 and b"\n" not in line:
                        raise Refusal(414, "the request line is longer than "
                                      f"{limits.max_url_bytes} bytes (setting max_url_bytes): "
                                      + _shorter(bytes(line)))
                if in_request_line:
                    end = data.find(b"\n")
                    in_request_line = end < 0
                    cut = len(data) if end < 0 else end + 1
                    data = escape_non_ascii(data[:cut]) + data[cut:]
                conn.receive_data(data)
                if not data and received == 0:
                    return None, b"", None
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None, b"", None
            if isinstance(event, h11.Request):
                break
            raise Refusal(400, "unexpected data before the request")
        request = Head.of(event)
        self._check_head(request)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in request.headers}
        try:
            return request, await self._read_body(conn, reader, writer, request, headers), None
        except Refusal as refusal:
            refusal.accept = headers.get("accept", "")
            raise

    def _take(self, data: bytes) -> tuple[Head, bytes, Taken] | None:
        """A whole request at the start of `data`, read by `read_head` rather than h11: its
        head, its body and the bytes it took. None when h11 must read it: a head
        `read_head` leaves to h11, a body not all in `data` or longer than
        max_body_bytes, a head the checks refuse (h11's reading then refuses it in the
        same words)."""
        found = read_head(data, self.limits.max_header_bytes)
        if found is None:
            return None
        request, length, start = found
        end = start + length
        if length > self.limits.max_body_bytes or len(data) < end:
            return None
        try:
            self._check_head(request)
        except Refusal:
            return None
        return request, data[start:end], Taken(data[:end], data[end:])

    def _check_head(self, request: Head) -> None:
        """Refuse a head past max_header_bytes or max_url_bytes, with a target that is
        not an address, or a Host this server does not answer for."""
        limits = self.limits
        # "GET /x HTTP/1.1": what max_url_bytes bounds, its line ending left out
        line_size = len(request.method) + len(request.target) + len(request.http_version) + 7
        # the request line, each header line ("Name: value"), their CRLFs and the blank
        # line that ends the head (white space around values, which h11 drops, not
        # counted)
        head_size = line_size + 2 + sum(len(n) + len(v) + 4 for n, v in request.headers) + 2
        if head_size > limits.max_header_bytes:  # a head that came in one read, whole
            raise Refusal(431, "the request's head (request line and headers) is larger than "
                          f"{limits.max_header_bytes} bytes (setting max_header_bytes)")
        if line_size > limits.max_url_bytes:
            raise Refusal(414, f"the request line is {line_size} bytes long; at most "
                          f"{limits.max_url_bytes} are accepted (setting max_url_bytes): "
                          + _shorter(request.method + b" " + request.target))
        problem = target_problem(request) or host_problem(request)
        if problem is not None:
            raise problem

    async def _read_body(self, conn: h11.Connection, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter, request: Head,
                         headers: dict[str, str]) -> bytes:
        """The body of a request whose head was read, whole and within its limits."""
        limits = self.limits
        length = headers.get("content-length")
        if "transfer-encoding" in headers and request.http_version == b"1.0":
            # HTTP/1.0 has no chunked framing: such a message's framing is faulty, and
            # the connection is closed after the answer (RFC 9112, 6.1)
            raise Refusal(400, "Transfer-Encoding is not part of HTTP/1.0 (RFC 9112, 6.1): "
                          "send the body with a Content-Length, or as HTTP/1.1")
        if length is not None and "transfer-encoding" in headers:
            # framed two ways: how a request is smuggled past a proxy that reads the other
            # framing; refused, and the connection closed (RFC 9112, 6.3)
            raise Refusal(400, "a request may have Content-Length or Transfer-Encoding, not "
                          "both (RFC 9112, 6.3): send one of them")
        if length is not None and length.isdigit() and int(length) > limits.max_body_bytes:
            raise Refusal(413, f"the request body is {int(length)} bytes; at most "
                          f"{limits.max_body_bytes} are accepted (setting max_body_bytes)")
        expect = headers.get("expect", "").lower()
        if expect and expect != "100-continue":
            raise Refusal(417, f"Expect: {expect} is not supported")
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        body = bytearray()
        body_deadline = time.monotonic() + limits.body_timeout
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as e:
                raise Refusal(400, f"malformed request body: {e}") from None
            if event is h11.NEED_DATA:
                announced = len(body) + chunk_left(conn)
                if announced > limits.max_body_bytes:
                    # a chunk's size line says the body will pass the cap: refused now, not
                    # after its bytes (or body_timeout) have come
                    raise Refusal(413, "the request body is larger than "
                                  f"{limits.max_body_bytes} bytes (setting max_body_bytes): a "
                                  f"chunk announces {announced} bytes in all; nothing of it "
                                  "was used")
                remaining = body_deadline - time.monotonic()
                try:
                    data = await self._read(reader, max(remaining, 0))
                except TimeoutError:
                    raise Refusal(408, "the request body did not arrive within "
                                  f"{limits.body_timeout:g} s (setting body_timeout)") from None
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > limits.max_body_bytes:
                    # a chunked body has no length to check first: count as it comes
                    raise Refusal(413, "the request body is larger than "
                                  f"{limits.max_body_bytes} bytes (setting max_body_bytes); "
                                  "nothing of it was used")
                continue
            if isinstance(event, h11.EndOfMessage):
                return bytes(body)
            if isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the client closed the connection mid-request")

    # --- answering -------------------------------------------------------------------

    async def _respond(self, request: Head, body: bytes) -> tuple[Response, str]:
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers]
        method = request.method.decode("ascii", "replace")
        target = request.target
        if target == b"*":  # OPTIONS about the server, not a resource (_read_request)
            return Response(200, [("Allow", "GET, HEAD, POST, OPTIONS")]), "-"
        if target[:1] != b"/":  # the absolute form: its host stands for the Host header
            origin, authority = origin_form(target) or (target, b"")
            target = origin
            headers = [(n, v) for n, v in headers if n.lower() != "host"]
            headers.append(("Host", authority.decode("latin-1")))
        return await self.respond(method, target, headers, body,
                                  request.http_version.decode("ascii"))

    async def respond(self, method: str, target: bytes, header_list: list[tuple[str, str]],
                      body: bytes, http_version: str = "1.1") -> tuple[Response, str]:
        """The response to one whole request: from the cache, or from a worker within the
        request's time limit. Also used to warm the cache."""
        path_bytes, _, query = target.partition(b"?")
        path = unquote_to_bytes(path_bytes).decode("latin-1")
        headers: dict[str, str] = {}
        for name, value in header_list:
            lowered = name.lower()
            headers[lowered] = f"{headers[lowered]}, {value}" if lowered in headers else value
        # the host the request is answered for, decided here once: the app builds its
        # absolute URLs on it (rivalry.server.urls) and the cache keys `Vary: Host` on
        # it, so that an empty Host and an absent one (HTTP/1.0), both the server's own
        # address, share answers, and no answer carries a host the request would not get
        host = headers.get("host") or self.own_host
        headers["host"] = host
        header_list = [(n, v) for n, v in header_list if n.lower() != "host"] + [("Host", host)]
        accept = headers.get("accept", "")
        limit, setting = self.limits.time_limit(method, path)
        if not self.started.is_set():
            if path == "/-/health":
                # /-/health's own shape (rivalry.server.meta), which is always JSON
                return Response(503, [("Content-Type", "application/json"),
                                      ("Cache-Control", "no-store"), ("Retry-After", "5")],
                                json.dumps({"status": "starting", "message": STARTING}
                                           ).encode()), "starting"
            started_waiting = time.monotonic()
            try:
                await asyncio.wait_for(self.started.wait(), limit)
            except TimeoutError:
                return self._error(503, accept, STARTING), "starting"
            limit = max(0.0, limit - (time.monotonic() - started_waiting))
        build = self.current_build()
        if build is not None and build != self.pool.build and not self.pool.reloading:
            self._spawn(self._move_to_new_build())
        cacheable = method in ("GET", "HEAD") or (method == "POST" and path == "/sparql")
        key = None
        if cacheable and build is not None and build == self.pool.build and self.cache.max_bytes:
            key = ResponseCache.key(build, "GET" if method == "HEAD" else method, target, body,
                                    headers)
            stored = self.cache.get(key, headers)
            if stored is not None:
                return self._from_cache(stored, method, headers), "hit"
        # a HEAD is answered as a GET whose body the front leaves out (RFC 9110 9.3.2):
        # its length is the GET's, and what the cache keeps for it is the GET's whole answer
        environ = self._environ("GET" if method == "HEAD" else method, path, query,
                                header_list, body, http_version)
        if path == "/-/health":
            # a health check is answered promptly, even when every worker is busy (a
            # store that hangs holds them all): that is then what it says
            limit = min(limit, HEALTH_SECONDS)
        try:
            reply = await self.pool.call(environ, body, limit)
        except TimeoutError:
            if path == "/-/health":
                busy = len(self.pool.all)
                return Response(503, [("Content-Type", "application/json"),
                                      ("Cache-Control", "no-store"), ("Retry-After", "5")],
                                json.dumps({"status": "busy", "message": (
                                    f"no answer within {limit:g} s: every worker ({busy}) "
                                    "is busy, or the check itself was slow (an external "
                                    "store that does not answer holds the workers that ask "
                                    "it)")}).encode()), "timeout"
            if path == "/sparql":
                message = (f"the query ran longer than {limit:g} s and was stopped (setting "
                           "query_time_limit); narrow it, or add a LIMIT")
            else:
                message = (f"the request took longer than {limit:g} s and was stopped "
                           f"(setting {setting})")
            return self._error(503, accept, message), "timeout"
        except WorkerLost as lost:
            return self._error(503, accept, f"the request could not be completed: {lost.reason}"
                               ), "lost"
        response, variants = _from_reply(reply)
        if (key is not None and response.status == 200 and reply.build == build
                and response.file is None and not _no_store(response.headers)):
            self.cache.put(key, headers, 200, response.headers, response.body, variants)
        return response, "miss" if key is not None else "-"

    async def _move_to_new_build(self) -> None:
        """A new build is current: the zygote opens it, new workers serve it, and the
        cache starts afresh (and is warmed again)."""
        await self.pool.reload()
        self.cache.clear()
        if self.warm is not None:
            await self.warm()

    def _from_cache(self, stored: Stored, method: str, headers: dict[str, str]) -> Response:
        """A kept response, or 304 (412 when If-Match or If-Unmodified-Since fails) for a
        conditional GET or HEAD, judged as the app judges it when it answers (werkzeug's
        make_conditional, and `unmodified_since_fails`): weak comparison for
        If-None-Match and `*`, If-Modified-Since when there is no If-None-Match, strong
        comparison for If-Match."""
        etag = next((v for n, v in stored.headers if n.lower() == "etag"), None)
        modified = next((v for n, v in stored.headers if n.lower() == "last-modified"), None)
        unmodified = method in ("GET", "HEAD") and unmodified_since_fails(
            headers.get("if-match"), headers.get("if-unmodified-since"), modified)
        conditional = method in ("GET", "HEAD") and (etag or modified)
        if unmodified or conditional and not is_resource_modified(
                {"HTTP_IF_NONE_MATCH": headers.get("if-none-match"),
                 "HTTP_IF_MODIFIED_SINCE": headers.get("if-modified-since"),
                 "HTTP_IF_MATCH": headers.get("if-match")},
                etag=etag, last_modified=modified):
            kept = [(n, v) for n, v in stored.headers
                    if n.lower() in ("etag", "cache-control", "vary", "last-modified",
                                     "content-location", "link")]
            return Response(412 if unmodified or headers.get("if-match") else 304,
                            kept + [("X-Cache", "hit")])
        return Response(stored.status, list(stored.headers) + [("X-Cache", "hit")], stored.body)

    def _environ(self, method: str, path: str, query: bytes,
                 header_list: list[tuple[str, str]], body: bytes,
                 http_version: str) -> dict[str, Any]:
        return wsgi_environ(self.server_name, self.server_port, method, path, query,
                            header_list, body, http_version)

    def _error(self, status: int, accept: str, message: str) -> Response:
        content_type, body = self.render_error(status, accept, message)
        headers = [("Content-Type", content_type), ("Cache-Control", "no-store"),
                   ("X-Content-Type-Options", "nosniff")]
        if accept:  # chosen by the request's Accept header (a refusal has none to read)
            headers.append(("Vary", "Accept"))
        if status == 503:
            headers.append(("Retry-After", "5"))
        return Response(status, headers, body)

    async def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter,
                    response: Response, *, close: bool, head: bool = False,
                    unread: bytes = b"") -> None:
        """Write a response: its head by `response_head` when it can, else by h11, which
        first reads the request's bytes it has not seen (`unread`, taken by `read_head`)."""
        headers = [(n, v) for n, v in response.headers
                   if n.lower() not in ("content-length", "transfer-encoding", "connection")]
        size: int | None = len(response.body)
        handle: Any = None
        left: int | None = None  # bytes of the file to send, when only a range is
        if response.file is not None and response.status not in (200, 206):
            # a 304, a 412 or a 416 the app answered for a file: no body, never the file
            response = dataclasses.replace(response, file=None, body=b"")
        if response.file is not None:
            try:
                handle = (gzip.open(response.file, "rb") if response.gunzip
                          else open(response.file, "rb"))  # noqa: SIM115 - closed below
                size = None if response.gunzip else os.fstat(handle.fileno()).st_size
                span = byte_range(response) if not response.gunzip else None
                if span is not None:  # a 206 the app answered for a Range: that range only
                    handle.seek(span[0])
                    size = left = span[1] - span[0] + 1
                elif response.status == 206:  # no range to send: the whole file, as a 200
                    response = dataclasses.replace(response, status=200)
                    headers = [(n, v) for n, v in headers if n.lower() != "content-range"]
            except OSError:
                response = self._error(503, "", "a file the server should send is missing; "
                                       "rebuild the graph (rivalry build)")
                headers = list(response.headers)
                size = len(response.body)
        if response.status < 200 or response.status in (204, 304):
            # no content, and no Content-Length (RFC 9110 8.6: a 304's would have to be
            # the 200's length, which the front does not know); h11 reads none either
            response = dataclasses.replace(response, body=b"")
        elif size is not None:
            headers.append(("Content-Length", str(size)))
        # without a length, h11 sends the body chunked (HTTP/1.1) or ends it by closing
        if close:
            headers.append(("Connection", "close"))
        if handle is None:
            written = response_head(response.status, headers)
            if written is not None:
                # head and body in one write: one system call and one segment for a small
                # answer, so the client is not woken for a head without its body
                writer.write(written + response.body if not head and response.body
                             else written)
                await self._drain(writer)
                return
        loop = asyncio.get_running_loop()
        if unread:  # all of one request (read_head read it whole): h11 reads it to its end
            conn.receive_data(unread)
            while (event := conn.next_event()) is not h11.NEED_DATA \
                    and not isinstance(event, h11.EndOfMessage):
                pass
        try:
            data = conn.send(h11.Response(status_code=response.status, headers=headers,
                                          reason=REASONS.get(response.status, "").encode()))
            if not head and handle is not None:
                writer.write(data)
                # read (and decompress) off the event loop
                while chunk := await loop.run_in_executor(
                        None, handle.read, FILE_CHUNK if left is None else min(FILE_CHUNK, left)):
                    writer.write(conn.send(h11.Data(data=chunk)))
                    await self._drain(writer)
                    if left is not None:
                        left -= len(chunk)
                        if left <= 0:
                            break
                writer.write(conn.send(h11.EndOfMessage()))
            else:
                # head, body and end in one write: one system call and one segment for a
                # small answer, so the client is not woken for a head without its body
                if not head and response.body:
                    data += conn.send(h11.Data(data=response.body))
                writer.write(data + conn.send(h11.EndOfMessage()))
            await self._drain(writer)
        finally:
            if handle is not None:
                handle.close()

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        """Wait until what was written is handed to the kernel, within `send_timeout`;
        returns at once when it already was (the common case of a small answer)."""
        if writer.transport.get_write_buffer_size() == 0:
            return
        async with asyncio.timeout(self.limits.send_timeout):
            await writer.drain()

    def _log(self, remote: str, request: Head | None, status: int, size: int,
             started: float, note: str) -> None:
        if not self.access_log:
            return
        line = ("-" if request is None else
                f"{request.method.decode()} {request.target.decode('latin-1')[:200]}")
        ms = (time.monotonic() - started) * 1000
        sys.stderr.write(f'{remote} "{line}" {status} {size} {ms:.1f}ms {note}\n')

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, seconds: float) -> None:
        """Wait for requests in flight to finish, up to `seconds`."""
        deadline = time.monotonic() + seconds
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


#: Methods the front passes on (the app answers 405 for those a route does not take);
#: others get 501. Methods are case-sensitive (RFC 9110, 9.1): `get` is not GET.
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}


def wsgi_environ(server_name: str, server_port: int, method: str, path: str, query: bytes,
                 header_list: list[tuple[str, str]], body: bytes,
                 http_version: str = "1.1") -> dict[str, Any]:
    """The WSGI environ a worker gets for a whole request (its body is sent beside it)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": "HTTP/" + http_version,
        "REMOTE_ADDR": "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in header_list:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is whole: its length is what was read
        else:
            wsgi_key = "HTTP_" + key
            environ[wsgi_key] = (environ[wsgi_key] + "," + value) if wsgi_key in environ \
                else value
    return environ


def origin_form(target: bytes) -> tuple[bytes, bytes] | None:
    """The path and query, and the host, of an absolute-form request target
    (`http://host/path?q`), which a server must accept (RFC 9112, 3.2.2) though clients
    send it to proxies only; None for any other form (CONNECT's host:port, or a target
    that is no URL)."""
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return None
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if not authority or b"@" in authority:
        return None
    return (path if path.startswith(b"/") else b"/" + path), authority


def chunk_left(conn: h11.Connection) -> int:
    """The bytes of a chunked body that the chunk being read still announces (its size
    line has come, its data not all): h11 does not tell, so this reads its chunk reader's
    count (`_bytes_in_chunk`, h11 0.14 to 0.16). 0 when the body is not chunked, or when
    h11 keeps that count elsewhere: the body is then still counted as it comes, and
    tests/test_front.py fails, naming this function."""
    left = getattr(getattr(conn, "_reader", None), "_bytes_in_chunk", 0)
    return left if isinstance(left, int) else 0


def target_problem(request: Head) -> Refusal | None:
    """Why the front will not pass a request on, from its request line: an HTTP version
    other than 1.x, a method it does not know (methods are case-sensitive), or a target
    that is neither a path, an absolute http(s) URL, nor `*` of OPTIONS."""
    if not request.http_version.startswith(b"1."):
        return Refusal(505, "this server speaks HTTP/1.1 (and 1.0) only, not HTTP/"
                       + request.http_version.decode("ascii", "replace"))
    method = request.method.decode("ascii", "replace")
    if method not in METHODS:
        return Refusal(501, f"the method {method!r} is not supported (methods are "
                       "case-sensitive: GET, HEAD, POST, OPTIONS)")
    target = request.target
    if target == b"*" and method == "OPTIONS":
        return None
    if target[:1] != b"/" and (method == "CONNECT" or origin_form(target) is None):
        return Refusal(400, "the request target must be a path (/sparql?query=…) or an "
                       "absolute http(s) URL; this server is not a proxy")
    return None


def host_problem(request: Head) -> Refusal | None:
    """Why the front will not pass a request on, from its Host (RFC 9112 3.2: 400 for a
    request with an invalid Host, or two, or an HTTP/1.1 one without; h11 already refuses
    the last two for HTTP/1.1, this also for a later 1.x). An absolute-form target's host,
    which stands for the Host header, must be valid too. An empty Host is valid: the
    server's own address stands for it (`Front.respond`)."""
    hosts = [value for name, value in request.headers if name.lower() == b"host"]
    if len(hosts) > 1:
        return Refusal(400, "a request may have one Host header, not several (RFC 9112, 3.2)")
    if not hosts and request.http_version != b"1.0":
        return Refusal(400, "an HTTP/1.1 request must have a Host header (RFC 9112, 3.2)")
    named = [("Host header", value) for value in hosts]
    absolute = origin_form(request.target) if request.target[:1] != b"/" else None
    if absolute is not None:
        named.append(("request target's host", absolute[1]))
    for what, value in named:
        text = value.decode("latin-1")
        if not valid_host(text):
            shown = text if len(text) <= 100 else text[:100] + "…"
            return Refusal(400, f"the {what} {shown!r} is not a valid host[:port] (RFC 9110, "
                           "7.2): a name, an IPv4 address or a bracketed IPv6 address, then "
                           "optionally a colon and a port number")
    return None


def byte_range(response: Response) -> tuple[int, int] | None:
    """The first and last byte of a file response that answers a Range request (206,
    `Content-Range: bytes FIRST-LAST/LENGTH`, as werkzeug's send_file writes it), or None
    for a whole file (which a 206 without such a range becomes: see `_send`)."""
    if response.status != 206:
        return None
    for name, value in response.headers:
        if name.lower() == "content-range":
            unit, _, span = value.strip().partition(" ")
            first, _, rest = span.partition("-")
            last = rest.partition("/")[0]
            if unit == "bytes" and first.isdigit() and last.isdigit() \
                    and int(first) <= int(last):
                return int(first), int(last)
    return None


def _shorter(line: bytes) -> str:
    """What to do about an address too long, by where it goes (from the request line's
    start): a SPARQL query can go in a POST body; any other address must be shorter."""
    target = line.split(b" ", 2)[1] if line.count(b" ") >= 1 else b""
    path = (origin_form(target) or (target, b""))[0] if target[:1] != b"/" else target
    if path.split(b"?", 1)[0] in (b"/sparql", b"/reconcile"):
        return "send a long query in a POST body instead"
    return "shorten it (fewer or shorter parameters)"


#: What `response_head` writes and `read_head` reads itself (RFC 9110 5.1 and 5.5): a
#: header name that is a token, a value of visible characters with single spaces or tabs
#: between them and none around. Anything else is left to h11, as before.
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_PLAIN_VALUE = rb"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?"
_FIELD_NAME = re.compile(_TOKEN)
_FIELD_VALUE = re.compile(_PLAIN_VALUE)
_STATUS_LINES = {status: f"HTTP/1.1 {status} {reason}\r\n".encode("ascii")
                 for status, reason in REASONS.items()}


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes | None:
    """A response's status line and header lines, written here rather than by h11, whose
    checks of every header cost as much as the rest of the front's work on a small
    answer. None when a header is not plainly what h11 would send (a name that is no
    token, a value with a control or non-ASCII character, or white space around it):
    `Front._send` then leaves the response to h11, which answers it as it always has."""
    lines = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n".encode("ascii")]
    for name, value in headers:
        try:
            raw_name, raw_value = name.encode("ascii"), value.encode("ascii")
        except UnicodeEncodeError:
            return None
        if _FIELD_NAME.fullmatch(raw_name) is None or _FIELD_VALUE.fullmatch(raw_value) is None:
            return None
        lines += (raw_name, b": ", raw_value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


#: A request line `read_head` reads: a token, a target of visible ASCII characters and
#: HTTP/1.1 or 1.0; a header line: a token, a colon and a plain value (white space around
#: it dropped)
_REQUEST_LINE = re.compile(b"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/(1\.[01])")
_HEADER_LINE = re.compile(b"(" + _TOKEN + rb"):[ \t]*(" + _PLAIN_VALUE + rb")[ \t]*")
_CONTENT_LENGTH = re.compile(rb"[0-9]{1,20}")
#: Headers that change how h11 reads a request or what it expects next: left to it
_LEFT_TO_H11 = frozenset((b"transfer-encoding", b"expect", b"upgrade"))


def read_head(data: bytes, max_bytes: int) -> tuple[Head, int, int] | None:
    """The head of a request that begins `data`, read here rather than by h11, whose
    reading was a large part of the front's work on a small request: the head,
    the length of its body and where the body begins. Only a head h11 reads the same
    way: whole in `data` and at most `max_bytes` long, its lines ending in CRLF, of
    visible ASCII characters, HTTP/1.1 with one Host header (HTTP/1.0 with at most one),
    a body framed by one Content-Length of digits or none, no Transfer-Encoding, Expect
    or Upgrade, not CONNECT. None for anything else: the front then gives the bytes to
    h11, which reads or refuses them as it always has (tests/test_front.py holds the
    two side by side)."""
    end = data.find(b"\r\n\r\n", 0, max_bytes)
    if end < 0 or end + 4 > max_bytes:
        return None
    lines = data[:end].split(b"\r\n")
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None or line[1] == b"CONNECT":
        return None
    headers: list[tuple[bytes, bytes]] = []
    hosts = 0
    length = 0
    for raw in lines[1:]:
        field = _HEADER_LINE.fullmatch(raw)
        if field is None:
            return None
        name = field[1].lower()
        value = field[2]
        if name == b"host":
            hosts += 1
        elif name == b"content-length":
            if _CONTENT_LENGTH.fullmatch(value) is None \
                    or any(n == b"content-length" for n, _ in headers):
                return None
            length = int(value)
        elif name in _LEFT_TO_H11:
            return None
        headers.append((name, value))
    if hosts > 1 or (hosts == 0 and line[3] == b"1.1"):
        return None
    return Head(line[1], line[2], line[3], headers), length, end + 4


def _closes_after(request: Head) -> bool:
    """Whether the connection ends after this request: when the client asks, by the
    `close` option of its Connection header (a list of case-insensitive tokens, RFC 9110
    7.6.1: `Connection: enclosed` is no `close`), and after any HTTP/1.0 request, with
    `keep-alive` or without (RFC 9112 9.3 leaves keeping one alive to the server; h11,
    which wrote every response before, never did)."""
    if request.http_version == b"1.0":
        return True
    return any(token.strip().lower() == b"close" for name, value in request.headers
               if name == b"connection" for token in value.split(b","))


def _no_store(headers: list[tuple[str, str]]) -> bool:
    return any(n.lower() == "cache-control" and ("no-store" in v or "private" in v)
               for n, v in headers)


def _from_reply(reply: Reply) -> tuple[Response, tuple[tuple[str, str], ...]]:
    """The client's response (internal headers removed) and the negotiation variants the
    app declared for it."""
    status = int(reply.status.split(" ", 1)[0])
    headers: list[tuple[str, str]] = []
    variants: tuple[tuple[str, str], ...] = ()
    for name, value in reply.headers:
        lowered = name.lower()
        if lowered == _VARIANTS_LOWER:
            variants = _variants(value)
        elif not lowered.startswith("x-rivalry-"):
            headers.append((name, value))
    return Response(status, headers, reply.body, reply.file, reply.gunzip), variants


_VARIANTS_LOWER = VARIANTS_HEADER.lower()


@functools.lru_cache(maxsize=64)
def _variants(value: str) -> tuple[tuple[str, str], ...]:
    """The app's X-Rivalry-Variants header read as (content type, offer) pairs; the app
    sends a handful of distinct values, so each is read once."""
    return tuple((name, offer) for name, offer in
                 (v.strip().split("=", 1) for v in value.split(",") if "=" in v))


def _content_type(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


# --- running it ---------------------------------------------------------------------------


def store_build_reader(store_root: str) -> Callable[[], str | None]:
    """The build id an embedded store's `current` pointer names, read with one system call
    per request; None before the first build."""
    link = Path(store_root) / "current"

    def current() -> str | None:
        try:
            return os.path.basename(os.readlink(link))
        except OSError:
            return None

    return current


async def run_front(front: Front, sock: socket.socket, *, warm: Callable[[], Any] | None,
                    graceful: float = 10.0) -> None:
    """Serve until SIGTERM or SIGINT, then finish the requests in flight (up to
    `graceful` seconds) and stop the workers."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    failure: list[str] = []

    def broken(reason: str) -> None:
        failure.append(reason)
        stop.set()

    front.pool.on_broken = broken
    # connections are taken at once: while the zygote opens the store (minutes for a
    # large graph loaded into memory), /-/health says so and requests wait within their
    # time limit, rather than connections piling up unanswered
    server = await asyncio.start_server(front.handle, sock=sock, limit=READ_CHUNK,
                                        backlog=1024)
    await front.pool.wait_ready()
    if front.pool.load_error:
        sys.stderr.write(f"note: the store could not be opened: {front.pool.load_error}\n")
    await front.pool.fill()
    front.started.set()
    sys.stderr.write(f"serving with {front.pool.size} worker processes "
                     f"(up to {front.pool.max_workers})\n")
    sys.stderr.flush()
    front.warm = warm
    if warm is not None:
        front._spawn(warm())
    async with server:
        await stop.wait()
        front.stopping = True
        front.pool.closing = True
        server.close()
        await front.drain(graceful)
    await front.pool.close()
    if failure:
        sys.stderr.write(f"error: {failure[0]}; stopping\n")
        raise SystemExit(3)


#: Seconds the front gives /-/health, waiting for a worker included: the check's own
#: calls to an external store take at most 3 s (rivalry.server.meta.HEALTH_TIMEOUT)
HEALTH_SECONDS = 5.0

STARTING = ("the server is starting: it is opening the store (and loading it into memory "
            "when the setting store_in_memory is on, which takes a while for a large "
            "graph); try again in a moment")


def error_json(status: int, title: str, message: str) -> bytes:
    return json.dumps({"error": title, "status": status, "message": message}).encode()
