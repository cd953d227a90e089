"""A small HTTP proxy in front of a real SPARQL server, for the tests of what rivalry does
when a server misbehaves: it can ask for HTTP Basic authentication on writes, stop
answering (hang) until released, refuse writes after a number of them, or cap its
answers and give those without an order in a new order each time."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import random
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length", "host"}


#: one solution of a SPARQL XML results document, as Oxigraph server writes it
XML_RESULT = re.compile(rb"<result>.*?</result>", re.S)


def xml_results(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """A SPARQL XML results document cut into what comes before its solutions, the
    solutions, and what comes after them."""
    found = list(XML_RESULT.finditer(data))
    if not found:
        end = data.find(b"</results>")
        return (data, [], b"") if end < 0 else (data[:end], [], data[end:])
    return data[:found[0].start()], [m.group() for m in found], data[found[-1].end():]


class Proxy:
    """Forwards every request to `target` (http://host:port), as told."""

    def __init__(self, target: str) -> None:
        self.target = urllib.parse.urlsplit(target)
        self.basic: tuple[str, str] | None = None  # ask for Basic credentials on writes
        self.released = threading.Event()  # cleared: every request waits (a hanging server)
        self.released.set()
        self.fail_write: int | None = None  # the number of the write to refuse (500), once
        self.writes_released = threading.Event()  # cleared: writes wait (a slow load)
        self.writes_released.set()
        self.writes_passed = 0  # while writes are held: how many more may pass
        #: how many more SELECT answers of a graph's triples lose their last row (a server
        #: whose pages of an unordered answer came in two different orders)
        self.short_graph_reads = 0
        #: when set, a server that gives at most this many rows or triples (and says so,
        #: as Virtuoso does), and gives an answer without an ORDER BY in a new order on
        #: each request, its LIMIT and OFFSET applied to that order
        self.unstable_cap: int | None = None
        self.shuffles = random.Random(7)
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                proxy.seen.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.released.wait()
                write = self.command in ("PUT", "POST", "DELETE") and \
                    self.path.startswith(("/store", "/sparql-graph"))
                if write:
                    with proxy.lock:
                        passing = proxy.writes_passed > 0
                        proxy.writes_passed -= 1
                    if not passing:
                        proxy.writes_released.wait()
                if write and proxy.basic is not None:
                    token = base64.b64encode(":".join(proxy.basic).encode()).decode()
                    if self.headers.get("Authorization") != "Basic " + token:
                        self._answer(401, b"", [("WWW-Authenticate", 'Basic realm="test"')])
                        return
                if write and proxy.fail_write is not None:
                    with proxy.lock:
                        proxy.fail_write -= 1
                        refuse = proxy.fail_write == 0
                    if refuse:
                        self._answer(500, b"the disk is full (test)", [])
                        return
                path, window = self.path, None
                if proxy.unstable_cap is not None and self.path.startswith("/query"):
                    path, body, window = _without_window(self.path, body)
                connection = http.client.HTTPConnection(proxy.target.hostname,
                                                        proxy.target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != "authorization"}
                connection.request(self.command, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                extra: list[tuple[str, str]] = []
                if window is not None and response.status == 200:
                    data, extra = proxy._unstable(data, response.getheader("Content-Type", ""),
                                                  *window)
                query = urllib.parse.unquote_plus(self.path + "&" + (body or b"").decode())
                kind = response.getheader("Content-Type", "")
                if (proxy.short_graph_reads > 0 and "GRAPH <" in query
                        and "sparql-results+" in kind):
                    with proxy.lock:
                        proxy.short_graph_reads -= 1
                    if "xml" in kind:
                        head, results, tail = xml_results(data)
                        data = head + b"".join(results[:-1]) + tail
                    else:
                        answer = json.loads(data)
                        answer["results"]["bindings"] = answer["results"]["bindings"][:-1]
                        data = json.dumps(answer).encode()
                self._answer(response.status, data,
                             [(k, v) for k, v in response.getheaders()
                              if k.lower() not in HOP_BY_HOP] + extra)

            def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _relay

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up waiting: nothing to say

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _unstable(self, data: bytes, content_type: str, ordered: bool, offset: int,
                  limit: int | None) -> tuple[bytes, list[tuple[str, str]]]:
        """A whole answer as a capped server with no order of its own gives it."""
        assert self.unstable_cap is not None
        with self.lock:
            shuffle = self.shuffles.shuffle
        if "sparql-results+json" in content_type:
            answer = json.loads(data)
            if "results" not in answer:
                return data, []
            rows = answer["results"]["bindings"]
        elif "sparql-results+xml" in content_type:
            head, rows, tail = xml_results(data)
            if b"<results" not in head:  # an ASK answer
                return data, []
        elif "n-triples" in content_type:
            rows = [line for line in data.decode("utf-8").split("\n") if line.strip()]
        else:
            return data, []
        if not ordered:
            shuffle(rows)
        rows = rows[offset:None if limit is None else offset + limit]
        extra = []
        if len(rows) > self.unstable_cap:
            rows = rows[:self.unstable_cap]
            extra = [("X-SPARQL-MaxRows", str(self.unstable_cap))]
        if "sparql-results+json" in content_type:
            answer["results"]["bindings"] = rows
            return json.dumps(answer).encode(), extra
        if "sparql-results+xml" in content_type:
            return head + b"".join(rows) + tail, extra
        return "".join(line + "\n" for line in rows).encode(), extra

    @contextmanager
    def hanging(self) -> Iterator[None]:
        """Requests wait, unanswered, until the block ends."""
        self.released.clear()
        try:
            yield
        finally:
            self.released.set()

    @contextmanager
    def holding_writes(self, after: int = 0) -> Iterator[None]:
        """Writes past the first `after` wait until the block ends; reads are answered."""
        self.writes_passed = after
        self.writes_released.clear()
        try:
            yield
        finally:
            self.writes_released.set()
            self.writes_passed = 0

    def close(self) -> None:
        self.released.set()
        self.writes_released.set()
        self.server.shutdown()
        self.server.server_close()


_WINDOW = re.compile(r"\s+LIMIT\s+(\d+)(?:\s+OFFSET\s+(\d+))?\s*$", re.IGNORECASE)


def _without_window(path: str, body: bytes | None
                    ) -> tuple[str, bytes | None, tuple[bool, int, int | None]]:
    """A query request with the LIMIT and OFFSET at the end of its query taken off (the
    proxy applies them itself), and whether the query has an ORDER BY."""
    base, _, query_string = path.partition("?")
    in_body = body is not None and b"query=" in body
    params = urllib.parse.parse_qsl(body.decode() if in_body and body else query_string,
                                    keep_blank_values=True)
    offset, limit, ordered = 0, None, False
    kept = []
    for name, value in params:
        if name == "query":
            ordered = re.search(r"ORDER\s+BY", value, re.IGNORECASE) is not None
            found = _WINDOW.search(value)
            if found:
                limit, offset = int(found.group(1)), int(found.group(2) or 0)
                value = value[:found.start()] + "\n"
        kept.append((name, value))
    encoded = urllib.parse.urlencode(kept)
    if in_body:
        return path, encoded.encode(), (ordered, offset, limit)
    return f"{base}?{encoded}", body, (ordered, offset, limit)
