"""A small HTTP proxy in front of a real SPARQL server, for the tests of what rivalry does
when a server misbehaves: it can ask for HTTP Basic authentication on writes, stop
answering (hang) until released, or refuse writes after a number of them."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length", "host"}


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
                connection = http.client.HTTPConnection(proxy.target.hostname,
                                                        proxy.target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != "authorization"}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                query = urllib.parse.unquote_plus(self.path + "&" + (body or b"").decode())
                if (proxy.short_graph_reads > 0 and "GRAPH <" in query
                        and "sparql-results+json" in response.getheader("Content-Type", "")):
                    with proxy.lock:
                        proxy.short_graph_reads -= 1
                    answer = json.loads(data)
                    answer["results"]["bindings"] = answer["results"]["bindings"][:-1]
                    data = json.dumps(answer).encode()
                self._answer(response.status, data,
                             [(k, v) for k, v in response.getheaders()
                              if k.lower() not in HOP_BY_HOP])

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
