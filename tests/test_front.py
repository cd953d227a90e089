"""The front of `rivalry serve` on a live server: connections, limits on what clients send,
the response cache, and workers that end without taking the server down (issue 12)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivalry.graph.build import build

from .conftest import CURATED_FACTS, DATA
from .live import LiveServer

RV = "PREFIX rv: <https://w3id.org/rivalry/ontology#>\n"
SELECT = RV + "SELECT ?m ?d WHERE { ?m a rv:Measure ; rv:announcedOn ?d } ORDER BY ?m"
HUNGRY = "SELECT * WHERE { ?a ?p ?o . ?b ?q ?r } ORDER BY ?r ?o"
BODY_CAP = 20_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, store_dir: Path) -> Path:
    copy = tmp_path_factory.mktemp("front") / "store"
    shutil.copytree(store_dir, copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def server(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("front-log") / "server.log"
    live = LiveServer(store, log, max_body_bytes=BODY_CAP, header_timeout=2,
                      request_memory_bytes=300_000_000, query_time_limit=5, workers=2,
                      max_url_bytes=2000, max_header_bytes=8000)
    yield live
    live.stop()


def request(server: LiveServer, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def sparql_path(query: str) -> str:
    return "/sparql?" + urllib.parse.urlencode({"query": query})


def raw(server: LiveServer, data: bytes, read_until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def chunked(body: bytes, size: int = 1000) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


# --- bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize("path,content_type", [
    ("/sparql", "application/sparql-query"),
    ("/validate", "text/turtle"),
])
def test_chunked_body_over_the_cap_is_413_never_cut(server: LiveServer, path: str,
                                                   content_type: str) -> None:
    """A chunked body has no length to check first: the front counts it as it comes."""
    if path == "/sparql":
        body = (SELECT + "\n" + "#" * BODY_CAP + "\nOFFSET 5").encode()
    else:
        body = (b"@prefix rv: <https://w3id.org/rivalry/ontology#> .\n" + b"#" * BODY_CAP
                + b"\n<https://w3id.org/rivalry/id/action/x> a rv:Sanction .\n")
    answer = raw(server, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                 "Transfer-Encoding: chunked\r\nAccept: application/json\r\n\r\n".encode()
                 + chunked(body))
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    error = json.loads(rest)
    assert error["status"] == 413 and "max_body_bytes" in error["message"]


@pytest.mark.parametrize("path", ["/sparql", "/validate"])
def test_a_chunk_announcing_more_than_the_cap_is_413_at_once(server: LiveServer,
                                                             path: str) -> None:
    """A chunk's size line that takes the body past the cap is answered 413 as it comes,
    not after its bytes or the body's time limit (60 s here): the client below sends the
    line and a few bytes, then waits for the answer, with 20 s to get it
    (rivalry.server.front.chunk_left)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                  "Transfer-Encoding: chunked\r\nAccept: application/json\r\n\r\n"
                  "10\r\n0123456789abcdef\r\n".encode()
                  + f"{BODY_CAP:x}\r\nASK".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = s.recv(65536)  # socket.timeout (a failure) if the front waits
            assert piece, answer
            answer += piece
    head = answer.split(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"content-type: application/json" in head.lower()


def test_chunked_body_under_the_cap_is_read_whole(server: LiveServer) -> None:
    text = SELECT + "\n" + "# padding\n" * 200 + "OFFSET 5 LIMIT 1"
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/sparql-query\r\nTransfer-Encoding: chunked\r\nAccept: "
                 b"application/sparql-results+json\r\nConnection: close\r\n\r\n"
                 + chunked(text.encode(), 97))
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    rows = json.loads(rest)["results"]["bindings"]
    status, _, whole = request(server, "GET", sparql_path(SELECT),
                               headers={"Accept": "application/sparql-results+json"})
    assert rows == json.loads(whole)["results"]["bindings"][5:6]  # OFFSET 5 was kept


def test_both_content_length_and_transfer_encoding_are_refused(server: LiveServer) -> None:
    """A request framed two ways is how requests are smuggled past a proxy that reads the
    other framing (RFC 9112, 6.3): 400, and the connection is closed, so that nothing
    after it on the connection (here a second request) is read as a request."""
    smuggled = b"GET /-/health HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"ASK { ?s ?p ?o }"
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/sparql-query\r\nContent-Length: 4\r\nTransfer-Encoding: "
                 b"chunked\r\n\r\n" + chunked(body) + smuggled)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"connection: close" in head.lower()
    assert "Transfer-Encoding" in json.loads(rest)["message"]
    assert answer.count(b"HTTP/1.1 ") == 1  # the smuggled request got no answer


def test_two_different_content_lengths_are_refused(server: LiveServer) -> None:
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/sparql-query\r\nContent-Length: 16\r\nContent-Length: 5\r\n"
                 b"\r\nASK { ?s ?p ?o }")
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"connection: close" in head.lower()
    assert "Content-Length" in json.loads(rest)["message"]


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"chunked, identity", b"xchunked"])
def test_a_transfer_coding_other_than_chunked_is_501(server: LiveServer, coding: bytes) -> None:
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/sparql-query\r\nTransfer-Encoding: " + coding + b"\r\n\r\n"
                 + chunked(b"ASK { ?s ?p ?o }"))
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 501") and b"connection: close" in head.lower()
    assert "chunked" in json.loads(rest)["message"]


@pytest.mark.parametrize("path,headers", [
    ("/data/rivalry.nt.gz", {}),
    ("/data/rivalry.ttl", {"Accept-Encoding": "gzip"}),
    ("/rdf-graph-store?default", {"Accept-Encoding": "gzip", "Accept": "text/turtle"}),
])
def test_a_range_of_a_file_is_that_range(server: LiveServer, path: str,
                                         headers: dict[str, str]) -> None:
    """The app answers a Range request for a file with 206 and its Content-Range, and
    the front sends the file: only that range of it, never the whole file under a 206
    (a resumed download would be corrupted)."""
    status, _, whole = request(server, "GET", path, headers=headers)
    assert status == 200 and len(whole) > 1000
    for asked, part in (("bytes=0-99", whole[:100]), ("bytes=100-", whole[100:]),
                        ("bytes=-50", whole[-50:]), ("bytes=10-10", whole[10:11])):
        status, answer, body = request(server, "GET", path, headers={**headers,
                                                                     "Range": asked})
        assert status == 206, asked
        assert body == part, asked
        assert int(answer["content-length"]) == len(part)
        first = len(whole) - len(part) if asked.startswith("bytes=-") else int(
            asked[6:].split("-")[0])
        assert answer["content-range"] == \
            f"bytes {first}-{first + len(part) - 1}/{len(whole)}", asked
    status, answer, body = request(server, "HEAD", path, headers={**headers,
                                                                  "Range": "bytes=0-99"})
    assert status == 206 and body == b"" and answer["content-length"] == "100"
    status, _, _ = request(server, "GET", path, headers={**headers, "Range": "bytes=999999999-"})
    assert status == 416


@pytest.mark.parametrize("path", ["/data/rivalry.nt.gz", "/rdf-graph-store?default"])
def test_a_file_answered_304_or_412_has_no_body(server: LiveServer, path: str) -> None:
    """A conditional request for a file the app answers 304 (or 412) gets no body: the
    file sent after a 304 would be read, on a kept-alive connection, as the next
    response."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        c.request("GET", path, headers={"Accept-Encoding": "gzip"})
        first = c.getresponse()
        whole = first.read()
        etag, modified = first.getheader("ETag"), first.getheader("Last-Modified")
        for headers, status in (({"If-None-Match": etag}, 304),
                                ({"If-Modified-Since": modified}, 304),
                                ({"If-Match": '"other"'}, 412)):
            c.request("GET", path, headers={"Accept-Encoding": "gzip", **headers})
            answer = c.getresponse()
            assert answer.status == status and answer.read() == b"", headers
            c.request("GET", path, headers={"Accept-Encoding": "gzip"})  # the same connection
            again = c.getresponse()
            assert again.status == 200 and again.read() == whole, headers
    finally:
        c.close()
    answer = raw(server, f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                 f"If-None-Match: {etag}\r\nConnection: close\r\n\r\n".encode())
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 304") and rest == b""


def test_a_range_of_a_dump_decompressed_on_the_way_is_all_of_it(server: LiveServer) -> None:
    status, _, whole = request(server, "GET", "/data/rivalry.ttl")  # no Accept-Encoding
    assert status == 200 and whole.startswith(b"@prefix")
    status, answer, body = request(server, "GET", "/data/rivalry.ttl",
                                   headers={"Range": "bytes=0-99"})
    assert status == 200 and body == whole and "content-range" not in answer


def test_announced_length_over_the_cap_is_refused_before_reading(server: LiveServer) -> None:
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/sparql-query\r\nContent-Length: 10000000\r\n\r\nSELECT",
                 read_until_close=True)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"max_body_bytes" in answer


def test_expect_100_continue(server: LiveServer) -> None:
    body = b"ASK { ?s ?p ?o }"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query"
                  b"\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n")
        assert s.recv(1024).startswith(b"HTTP/1.1 100")
        s.sendall(body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"boolean":true' in answer


# --- heads ---------------------------------------------------------------------------------


def test_raw_utf8_in_the_request_line_is_read_as_percent_encoded(server: LiveServer) -> None:
    # curl sends `?q=华为` raw; browsers percent-encode it: both get the same answer
    raw_answer = raw(server, "GET /search?q=华为 HTTP/1.1\r\nHost: x\r\n"
                     "Accept: application/json\r\nConnection: close\r\n\r\n".encode())
    status, _, encoded = request(server, "GET", "/search?q=" + urllib.parse.quote("华为"),
                                 headers={"Accept": "application/json"})
    assert raw_answer.startswith(b"HTTP/1.1 200") and status == 200
    assert json.loads(raw_answer.split(b"\r\n\r\n", 1)[1]) == json.loads(encoded)


def test_long_request_line_is_414_as_json(server: LiveServer) -> None:
    status, headers, body = request(server, "GET", sparql_path("ASK {}" + " " * 3000),
                                    headers={"Accept": "application/json"})
    assert status == 414 and headers["content-type"].startswith("application/json")
    assert "max_url_bytes" in json.loads(body)["message"]


@pytest.mark.parametrize(("path", "words"), [
    ("/sparql?query=", "send a long query in a POST body instead"),
    ("/browse/actions?q=", "shorten it"), ("/search?q=", "shorten it")])
def test_a_414_says_what_to_do_where_the_request_goes(server: LiveServer, path: str,
                                                     words: str) -> None:
    """A POST body is the way out for a query, not for a list page's address."""
    for size in (3000, 20_000):  # one whole request line, and one never ended
        status, _, body = request(server, "GET", path + "a" * size,
                                  headers={"Accept": "application/json"}) if size == 3000 \
            else (None, None, raw(server, f"GET {path}{'a' * size}".encode()))
        message = json.loads(body.split(b"\r\n\r\n", 1)[-1])["message"]
        assert words in message and (status in (None, 414))
        if "shorten" in words:
            assert "SPARQL" not in message and "POST" not in message


def test_endless_request_line_is_414(server: LiveServer) -> None:
    answer = raw(server, b"GET /sparql?query=" + b"a" * 20_000)
    assert answer.startswith(b"HTTP/1.1 414")


def test_large_headers_are_431_as_json(server: LiveServer) -> None:
    status, headers, body = request(server, "GET", "/", headers={
        "Accept": "application/json", "X-Big": "y" * 9000})
    assert status == 431 and headers["content-type"].startswith("application/json")
    assert "max_header_bytes" in json.loads(body)["message"]


def test_slow_clients_do_not_hold_up_others(server: LiveServer) -> None:
    """Sixty connections trickling their headers hold no worker: a normal request is
    answered meanwhile, and the trickling ones get 408 after header_timeout."""
    sockets = []
    for _ in range(60):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\n")
        sockets.append(s)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            for s in sockets:
                try:
                    s.sendall(b"X-A: b\r\n")
                except OSError:
                    pass
            time.sleep(0.2)

    feeder = threading.Thread(target=trickle)
    feeder.start()
    try:
        status, _, body = request(server, "GET", sparql_path(RV + "ASK { ?m a rv:Measure }"),
                                  headers={"Accept": "application/sparql-results+json"})
        assert status == 200 and json.loads(body)["boolean"] is True
    finally:
        stop.set()
        feeder.join()
    for s in sockets:
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except OSError:
            pass
        s.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_keep_alive(server: LiveServer) -> None:
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    ports = set()
    for _ in range(3):
        c.request("GET", sparql_path(RV + "ASK { ?m a rv:Measure }"))
        r = c.getresponse()
        r.read()
        assert r.status == 200 and r.getheader("Connection") != "close"
        ports.add(c.sock.getsockname()[1])
    c.close()
    assert len(ports) == 1  # one connection served all three


# --- workers that end ----------------------------------------------------------------------


def test_a_query_past_its_memory_ends_its_worker_only(server: LiveServer) -> None:
    status, _, body = request(server, "GET", sparql_path(HUNGRY),
                              headers={"Accept": "application/json"})
    assert status == 503
    assert "request_memory_bytes" in json.loads(body)["message"]
    status, _, _ = request(server, "GET", sparql_path(RV + "ASK { ?m a rv:Measure }"))
    assert status == 200


# --- the cache -----------------------------------------------------------------------------


def test_repeated_answers_come_from_a_cache_keyed_on_the_build(server: LiveServer,
                                                              store: Path,
                                                              tmp_path: Path) -> None:
    path = sparql_path(SELECT + " # cache test")
    _, first_headers, first = request(server, "GET", path)
    _, headers, second = request(server, "GET", path)
    assert "x-cache" not in first_headers and headers["x-cache"] == "hit" and first == second
    # a differently worded Accept header that chooses the same format shares the answer
    _, headers, _ = request(server, "GET", path, headers={
        "Accept": "application/sparql-results+json; charset=utf-8, */*;q=0.1"})
    assert headers["x-cache"] == "hit"
    _, csv_headers, csv = request(server, "GET", path, headers={"Accept": "text/csv"})
    assert "x-cache" not in csv_headers and csv_headers["content-type"].startswith("text/csv")
    _, headers, again = request(server, "GET", path, headers={"Accept": "text/csv;q=0.9"})
    assert headers["x-cache"] == "hit" and again == csv
    # a new build: a new key, and the new answer
    facts = tmp_path / "facts"
    shutil.copytree(CURATED_FACTS, facts)
    shutil.copy(DATA / "shacl" / "valid" / "complete-export-control.ttl", facts / "events")
    build(store, facts, consistency=False, validation=False)
    deadline = time.monotonic() + 60
    while True:
        _, headers, third = request(server, "GET", path)
        rows = len(json.loads(third)["results"]["bindings"])
        if rows == len(json.loads(first)["results"]["bindings"]) + 1:
            break
        assert time.monotonic() < deadline, "the new build was not served"
        time.sleep(0.3)
    assert "x-cache" not in headers


@pytest.mark.parametrize("path,accept", [
    ("/.well-known/void.ttl", "text/turtle"), ("/reconcile", "application/json"),
    ("/sparql", "text/turtle"), ("/data", "application/json"),
    ("/id/state/cn.jsonld", "application/ld+json"), ("/graph/meta.ttl", "text/turtle")])
def test_a_forged_host_never_reaches_another_client_through_the_cache(
        server: LiveServer, path: str, accept: str) -> None:
    """Documents that hold absolute URLs build them from the request's host: the answer
    to a request with a forged Host header had been cached and given to every request
    after it (VoID's endpoint, the dumps' and the manifest's URLs pointing elsewhere)."""
    for round_ in range(2):  # the second round from the cache
        status, headers, forged = request(server, "GET", path, headers={
            "Host": "evil.example", "Accept": accept})
        assert status == 200 and b"http://evil.example/" in forged
        assert "host" in headers["vary"].lower()
        status, headers, plain = request(server, "GET", path, headers={"Accept": accept})
        assert status == 200 and b"evil.example" not in plain
        assert f"http://127.0.0.1:{server.port}/".encode() in plain
        if round_:
            assert headers.get("x-cache") == "hit"


@pytest.mark.parametrize("line,status", [
    (b"GET http://127.0.0.1/-/health HTTP/1.1", 200),  # absolute form: a server must take it
    (b"OPTIONS * HTTP/1.1", 200),
    (b"get /-/health HTTP/1.1", 501),  # methods are case-sensitive
    (b"BREW /-/health HTTP/1.1", 501),
    (b"CONNECT 127.0.0.1:22 HTTP/1.1", 400),  # not a proxy
    (b"GET 127.0.0.1/-/health HTTP/1.1", 400),
    (b"GET * HTTP/1.1", 400),
    (b"GET /-/health HTTP/2.0", 505),
])
def test_request_lines_of_every_form(server: LiveServer, line: bytes, status: int) -> None:
    """RFC 9112, 3.2: origin, absolute and asterisk forms are answered; what is not
    HTTP/1.x, a method the front does not know, or a proxy's target gets a JSON error,
    and the connection is closed."""
    close = b"Connection: close\r\n" if status == 200 else b""  # refusals close anyway
    answer = raw(server, line + b"\r\nHost: 127.0.0.1\r\n" + close + b"\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:300]
    if line.startswith(b"OPTIONS"):
        assert b"\r\nAllow: GET, HEAD, POST, OPTIONS" in head
    elif status == 200:
        assert json.loads(body)["status"] == "ok"
    else:
        assert json.loads(body)["status"] == status and b"Connection: close" in head


@pytest.mark.parametrize("condition,status", [
    ("If-None-Match: {etag}", 304), ("If-None-Match: W/{etag}", 304),
    ("If-None-Match: *", 304), ("If-None-Match: \"other\", {etag}", 304),
    ("If-Modified-Since: {modified}", 304), ("If-None-Match: \"other\"", 200),
    ("If-Match: \"other\"", 412), ("If-Match: {etag}", 200),
    # RFC 9110, 13.1.4: modified after the date, 412; at it or later, the document
    ("If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT", 412),
    ("If-Unmodified-Since: {modified}", 200),
    ("If-Unmodified-Since: not a date", 200)])
def test_conditional_requests_are_judged_alike_from_the_cache(
        server: LiveServer, condition: str, status: int) -> None:
    """RFC 9110, 13.1: the front answered a conditional GET from its cache by comparing
    ETags exactly, so that W/"…", `*` and If-Modified-Since got 200 from the cache where
    the app gave 304."""
    path = "/id/company/huawei.ttl"  # a document no other test here asks for
    _, headers, _ = request(server, "GET", path)
    name, _, value = condition.format(etag=headers["etag"],
                                      modified=headers["last-modified"]).partition(": ")
    _, cached, _ = request(server, "GET", path)
    assert cached.get("x-cache") == "hit"
    for target in (path, f"{path}?{urllib.parse.urlencode({'c': condition})}"):  # hit, miss
        got, headers, body = request(server, "GET", target, headers={name: value})
        assert got == status, (target, headers)
        assert (body == b"") == (status != 200)


@pytest.mark.parametrize("headers,status", [
    ({"Content-Type": "application/x-www-form-urlencoded"}, 400),  # a form, with no query
    ({"Content-Type": "text/plain"}, 415),
    ({"Content-Type": "application/sparql-query; charset=UTF-16"}, 415),
    ({"Content-Type": "application/sparql-query", "Content-Encoding": "gzip"}, 415),
])
def test_the_same_body_said_otherwise_is_another_request(server: LiveServer,
                                                         headers: dict[str, str],
                                                         status: int) -> None:
    """The cache kept a POSTed query by its bytes alone: the same bytes sent as a form,
    as UTF-16 or compressed then got the cached 200 instead of their 400 or 415."""
    body = f"{SELECT} # body-headers {sorted(headers.items())}".encode()
    for expected in ("miss", "hit"):
        got, answer, _ = request(server, "POST", "/sparql", body,
                                 {"Content-Type": "application/sparql-query"})
        assert got == 200 and answer.get("x-cache", "miss") == expected
    got, answer, data = request(server, "POST", "/sparql", body, headers)
    assert got == status and "x-cache" not in answer, data[:200]


@pytest.mark.parametrize("path,headers", [
    (sparql_path('SELECT ("<html><script>alert(1)</script>" AS ?x) {}'), {"Accept": "text/csv"}),
    ("/id/state/cn.ttl", {}), ("/", {}), ("/nowhere", {}),
    ("/", {"X-Big": "y" * 9000}),  # the front's own error (431)
])
def test_no_answer_may_be_sniffed(server: LiveServer, path: str,
                                  headers: dict[str, str]) -> None:
    """Answers hold text that a query chose: every response, the app's, the cache's and
    the front's own errors, tells browsers not to guess its type from its content."""
    for _ in range(2):  # the second from the cache, where one is kept
        _, answer, _ = request(server, "GET", path, headers=headers)
        assert answer["x-content-type-options"] == "nosniff"


# --- the Host header, answers without content, connection options ------------------------


def read_response(s: socket.socket) -> tuple[bytes, bytes]:
    """One response's head and body (by its Content-Length) from a kept-alive connection;
    the head is empty when the server closed the connection first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "the connection closed mid-body"
        body += chunk
    return head, body


def endpoint_of(service_description: bytes) -> bytes:
    """The sd:endpoint of a service description in Turtle: this server's absolute URL."""
    found = re.search(rb"sd:endpoint (<[^>]*>)", service_description)
    assert found, service_description[:500]
    return found.group(1)


@pytest.mark.parametrize("line,host", [
    (b"GET /sparql HTTP/1.1", b"a b"), (b"GET /sparql HTTP/1.1", b"evil@x"),
    (b"GET /sparql HTTP/1.1", b"x/y"), (b"GET /sparql HTTP/1.1", b"x:abc"),
    (b"GET /sparql HTTP/1.1", b"x>"), (b"GET /sparql HTTP/1.1", b"[::1"),
    (b"GET /sparql HTTP/1.1", b"[::g]"), (b"GET /sparql HTTP/1.1", b"x:1:2"),
    (b"GET /sparql HTTP/1.1", b"[fe80::1%25eth0]"),  # a zone is no part of a Host
    (b"GET /sparql HTTP/1.1", "h\u00f4te".encode("utf-8")),  # a name's octets are ASCII
    (b"GET /sparql HTTP/1.0", b"a b"),
    (b"GET http://x:abc/sparql HTTP/1.1", b"x"),  # the target's host stands for the Host
])
def test_an_invalid_host_is_400(server: LiveServer, line: bytes, host: bytes) -> None:
    """RFC 9112 3.2: a server MUST answer 400 to a request whose Host is invalid. Such
    hosts had been answered 200, with documents whose absolute URLs read `http:///sparql`
    (Werkzeug makes the empty string of a host it does not take)."""
    answer = raw(server, line + b"\r\nHost: " + host + b"\r\nAccept: application/json\r\n"
                 b"Connection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    error = json.loads(body)
    assert error["status"] == 400 and "host" in error["message"].lower()


@pytest.mark.parametrize("request_head,status", [
    (b"GET /-/health HTTP/1.1\r\n", 400),  # no Host (h11 refuses it)
    (b"GET /-/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n", 400),  # two (h11)
    (b"GET /-/health HTTP/1.0\r\nHost: a\r\nHost: b\r\n", 400),
    (b"GET /-/health HTTP/1.2\r\n", 400),  # a later HTTP/1.x is read as 1.1: Host needed
    (b"GET /-/health HTTP/1.0\r\n", 200),  # HTTP/1.0 may leave it out
])
def test_a_request_has_one_host_or_none_in_http_1_0(server: LiveServer, request_head: bytes,
                                                    status: int) -> None:
    answer = raw(server, request_head + b"Accept: application/json\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:300]
    if status == 400:
        assert "Host" in json.loads(body)["message"]


@pytest.mark.parametrize("host,url_host", [
    (b"example.org", b"example.org"), (b"Example.ORG:8080", b"example.org:8080"),
    # valid hosts outside Werkzeug's narrower pattern, for which it had made no host
    (b"rivalry_web:8000", b"rivalry_web:8000"), (b"[v1.x]", b"[v1.x]"),
    (b"%41b", b"%41b"), (b"x:", b"x"), (b"[::1]:99", b"[::1]:99"),
])
def test_a_valid_host_is_the_host_of_the_servers_urls(server: LiveServer, host: bytes,
                                                      url_host: bytes) -> None:
    answer = raw(server, b"GET /sparql?host-test=valid HTTP/1.1\r\nHost: " + host
                 + b"\r\nAccept: text/turtle\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert endpoint_of(body) == b"<http://" + url_host + b"/sparql>"


def test_an_empty_or_absent_host_is_the_servers_own_address(server: LiveServer) -> None:
    """An empty Host (RFC 9112 3.2: a target without an authority) had given
    `http:///sparql`, kept in the cache under the same Vary value as an absent Host, so
    that an HTTP/1.0 request without Host got it too. Both stand for the server's own
    address, and the cache keys `Vary: Host` on the host an answer was built on: they
    share answers with a Host naming the server, never with another host."""
    own = f"<http://127.0.0.1:{server.port}/sparql>".encode()
    target = b"/sparql?host-test=empty"
    asked = (  # request line, Host field, the endpoint expected, from the cache at once
        (b"GET " + target + b" HTTP/1.1", b"Host:\r\n", own, False),  # had been http:///
        (b"GET " + target + b" HTTP/1.0", b"", own, True),
        (b"GET " + target + b" HTTP/1.0", b"Host:\r\n", own, True),
        (b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d\r\n" % server.port, own, True),
        (b"GET http://127.0.0.1:%d" % server.port + target + b" HTTP/1.1", b"Host:\r\n", own,
         True),
        (b"GET " + target + b" HTTP/1.1", b"Host: other.example\r\n",
         b"<http://other.example/sparql>", False),
        (b"GET http://abs.example" + target + b" HTTP/1.1", b"Host:\r\n",
         b"<http://abs.example/sparql>", False))
    for round_ in range(2):  # the second round all from the cache
        for line, host, url, shared in asked:
            answer = raw(server, line + b"\r\n" + host
                         + b"Accept: text/turtle\r\nConnection: close\r\n\r\n")
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), (line, host, answer[:300])
            assert endpoint_of(body) == url, (line, host)
            assert (b"\r\nX-Cache: hit" in head) == bool(round_ or shared), (line, host)


@pytest.mark.parametrize("kind", ["cache", "app", "file"])
def test_a_304_has_no_content_length_and_the_connection_goes_on(server: LiveServer,
                                                                  kind: str) -> None:
    """RFC 9110 8.6: a 304 may carry Content-Length only as the 200's length; the front
    had sent `Content-Length: 0` on every 304, from its cache and from the app. The next
    response on the connection follows the 304's head at once."""
    host = f"127.0.0.1:{server.port}"
    path = "/id/state/cn.ttl"
    _, headers, _ = request(server, "GET", path)
    _, again, _ = request(server, "GET", path)
    assert again.get("x-cache") == "hit"
    target, condition = {"cache": (path, f"If-None-Match: {headers['etag']}"),
                         "app": (path + "?bodiless=1", f"If-None-Match: {headers['etag']}"),
                         "file": ("/data/rivalry.nq.gz", "If-None-Match: *")}[kind]
    answer = raw(server, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{condition}\r\n\r\n"
                 f"GET /-/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 304 "), answer[:300]
    assert b"\r\ncontent-length:" not in head.lower(), head
    assert (b"\r\nX-Cache: hit" in head) == (kind == "cache"), head
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:300]  # nothing between the two


@pytest.mark.parametrize("options,closes", [
    ("enclosed", False), ("keep-alive", False), ("x-close", False), ("Upgrade, closed", False),
    ("close", True), ("Close", True), ("keep-alive, CLOSE", True), ("te ,close ", True),
])
def test_connection_options_are_tokens(server: LiveServer, options: str, closes: bool) -> None:
    """RFC 9110 7.6.1: Connection is a list of case-insensitive tokens; the front had
    closed the connection on any value holding the letters `close`."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(f"GET /-/health HTTP/1.1\r\nHost: x\r\nConnection: {options}\r\n\r\n".encode())
        head, _ = read_response(s)
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert (b"\r\nconnection: close" in head.lower()) == closes, head
        if closes:
            assert s.recv(1) == b""
        else:
            s.sendall(b"GET /-/health HTTP/1.1\r\nHost: x\r\n\r\n")
            again, _ = read_response(s)
            assert again.startswith(b"HTTP/1.1 200 "), again


def test_pipelined_requests_are_answered_in_order_on_one_connection(
        server: LiveServer) -> None:
    """Requests sent together on one connection (pipelined, RFC 9112 9.3.2) are answered
    one after the other, each whole: a query by POST with its body, a page, a health
    check that ends the connection. The front writes its responses itself
    (`response_head`) and carries what the client sent past each request over to the
    next."""
    body = (SELECT + " LIMIT 2").encode()
    sent = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            b"Accept: application/sparql-results+json\r\nContent-Length: %d\r\n\r\n%s"
            b"GET /id/company/zte.ttl HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /-/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            % (len(body), body))
    # read until the server closes (after the third, as it asked), then split the
    # answers by their lengths: they may arrive in one segment
    received = raw(server, sent)
    answers = []
    for _ in range(3):
        head, _, rest = received.partition(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                      if line.lower().startswith(b"content-length:"))
        answers.append((head, rest[:length]))
        received = rest[length:]
    assert received == b"", received[:200]  # nothing after the third
    (first, rows), (second, turtle), (third, health) = answers
    assert first.startswith(b"HTTP/1.1 200 OK\r\n"), first
    assert len(json.loads(rows)["results"]["bindings"]) == 2
    assert second.startswith(b"HTTP/1.1 200 OK\r\n"), second
    assert b"\r\ncontent-type: text/turtle" in second.lower() and b"@prefix" in turtle
    assert third.startswith(b"HTTP/1.1 200 OK\r\n"), third
    assert b"\r\nconnection: close" in third.lower()
    assert json.loads(health)["status"] == "ok"


def test_an_http_1_0_connection_ends_after_its_answer(server: LiveServer) -> None:
    """HTTP/1.0 keeps no connection alive here, `Connection: keep-alive` or not: the
    answer says `Connection: close` and the connection ends (as h11, which wrote every
    response before, decided)."""
    for extra in (b"", b"Connection: keep-alive\r\n"):
        # the second request is never answered: the connection ends after the first
        received = raw(server, b"GET /-/health HTTP/1.0\r\nHost: x\r\n" + extra + b"\r\n"
                       b"GET /-/health HTTP/1.0\r\nHost: x\r\n\r\n")
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert b"\r\nconnection: close" in head.lower(), head
        assert json.loads(body)["status"] == "ok"  # the whole rest: one answer only


def test_response_heads_are_written_as_h11_would_or_left_to_it() -> None:
    """`response_head` writes a status line and header lines that h11 would have written
    alike; a header h11 would refuse or change (a name that is no token, a value with a
    control or non-ASCII character, or with white space around it) gives None, and the
    response is then left to h11."""
    import h11

    from rivalry.server.front import response_head

    headers = [("Content-Type", "application/n-triples"), ("Content-Length", "3"),
               ("Vary", "Accept,  Accept-Encoding"), ("ETag", 'W/"b1"'), ("X-Empty", ""),
               ("Cache-Control", "public,\tmax-age=60")]
    for status in (200, 304, 413, 503, 599):
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.next_event()
        conn.next_event()
        reason = {200: b"OK", 304: b"Not Modified", 413: b"Content Too Large",
                  503: b"Service Unavailable", 599: b""}[status]
        expected = conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        assert response_head(status, headers) == expected
    for name, value in [("Bad Name", "x"), ("X-A", "line\r\nX-Injected: 1"), ("X-A", "a\nb"),
                        ("X-A", "nul\x00"), ("X-A", " lead"), ("X-A", "trail "),
                        ("X-A", "caf\u00e9"), ("X-\u00e9", "x"), ("", "x"), ("X-A:", "x"),
                        ("X-A", "bell\x07")]:
        assert response_head(200, [("Content-Type", "text/plain"), (name, value)]) is None


def _read_by_h11(data: bytes, max_bytes: int) -> tuple[object, int, int] | None:
    """What h11 reads of a request's head in `data`: its head, the length of its body and
    where the body begins; None when h11 refuses the head or wants more than `data`."""
    import h11

    from rivalry.server.front import Head

    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_bytes)
    conn.receive_data(data)
    try:
        request = conn.next_event()
        if not isinstance(request, h11.Request):
            return None
        body = b""
        while isinstance(event := conn.next_event(), h11.Data):
            body += event.data
    except h11.RemoteProtocolError:
        return None
    if not isinstance(event, h11.EndOfMessage) or conn.they_are_waiting_for_100_continue \
            or conn.their_state not in (h11.DONE, h11.MUST_CLOSE):
        return None
    rest = len(conn.trailing_data[0])
    return Head.of(request), len(body), len(data) - rest - len(body)


def test_request_heads_are_read_as_h11_reads_them_or_left_to_it() -> None:
    """`read_head` reads a plain request's head as h11 does (the same method, target,
    version, headers in lower case, body length and the body's start), and leaves every
    other one to h11 (None): heads mutated byte by byte (control characters, bare line
    feeds, folded lines, non-ASCII, white space), and the heads h11 refuses or reads with
    a state of its own (no or two Host headers, Transfer-Encoding, two Content-Lengths,
    Expect, Upgrade, CONNECT, another HTTP version)."""
    import random

    from rivalry.server.front import read_head

    plain = [
        b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\n\r\n",
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        b"Content-Length: 9\r\nAccept:  text/csv ;q=0.9 \t\r\nX-Empty:\r\n\r\nASK { }  GET",
        b"HEAD /id/state/us HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHOST: a\r\nContent-Length: 000\r\n\r\n",
        b"GET http://x/y HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n",
    ]
    refused_or_h11s = [
        b"GET / HTTP/1.1\r\nAccept: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx",
        b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n X-Folded: b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n",
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n",  # no end of head yet
    ]
    for data in plain:
        assert read_head(data, 8000) == _read_by_h11(data, 8000) != None, data  # noqa: E711
    for data in refused_or_h11s:
        assert read_head(data, 8000) is None, data
    assert read_head(plain[0], len(plain[0]) - 1) is None  # past max_bytes: h11 refuses
    rnd = random.Random(12)
    odd = [b"\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\r", b"\n", b"\t", b" ", b":",
           b",", b"\x0b", b"\x0c", b"\r\n", b"\r\n ", b"\r\n\r\n", b"0", b"(", b"H"]
    read = 0
    for _ in range(4000):
        data = bytearray(rnd.choice(plain))
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(data))
            if rnd.random() < 0.3:
                del data[at]
            else:
                data[at:at] = rnd.choice(odd)
        ours = read_head(bytes(data), 8000)
        if ours is not None:
            read += 1
            assert ours == _read_by_h11(bytes(data), 8000), bytes(data)
    assert read > 400  # many mutations leave a head plain: those were compared


def test_the_response_cache_tells_an_absent_header_from_an_empty_one() -> None:
    """RFC 9111 4.1: a header a response varies on that was absent from its request
    matches only a request without it (an empty Accept-Encoding asks for no coding, an
    absent one takes any)."""
    from rivalry.server.front import ResponseCache

    cache = ResponseCache(100_000)
    key = ResponseCache.key("b1", "GET", b"/vary", b"")
    cache.put(key, {}, 200, [("Vary", "Accept-Encoding")], b"absent")
    assert cache.get(key, {"accept-encoding": ""}) is None
    cache.put(key, {"accept-encoding": ""}, 200, [("Vary", "Accept-Encoding")], b"empty")
    absent, empty = cache.get(key, {}), cache.get(key, {"accept-encoding": ""})
    assert absent is not None and absent.body == b"absent"
    assert empty is not None and empty.body == b"empty"


# --- stopping ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/id/state/us.ttl", sparql_path(SELECT + " LIMIT 3"),
                                  "/browse/actions?page=2"])
def test_head_is_get_without_its_body_and_leaves_the_cache_whole(server: LiveServer,
                                                                 path: str) -> None:
    """A HEAD answered first had its empty body cached for GET: every GET after it got
    200 with nothing (RFC 9110 9.3.2: HEAD is GET without the content)."""
    status, head_headers, head_body = request(server, "HEAD", path)
    assert status == 200 and head_body == b"" and head_headers.get("x-cache") != "hit"
    status, headers, body = request(server, "GET", path)
    assert status == 200 and headers.get("x-cache") == "hit"
    assert body and int(head_headers["content-length"]) == len(body)
    assert head_headers["content-type"] == headers["content-type"]
    status, again, _ = request(server, "HEAD", path)
    assert status == 200 and again["content-length"] == head_headers["content-length"]


def test_workers_and_front_exit_cleanly(store_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    live = LiveServer(store_dir, log, workers=2)
    assert request(live, "GET", sparql_path("ASK { ?s ?p ?o }"))[0] == 200
    zygote = live.zygote()
    workers = live.workers()
    os.killpg(live.process.pid, signal.SIGTERM)
    assert live.process.wait(timeout=30) == 0
    for pid in {zygote, *workers}:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(
            f"/proc/{pid}/stat").read_text().split()[2]
    text = log.read_text()
    assert "Traceback" not in text and "Segmentation" not in text and "core dumped" not in text


def test_the_response_cache_drops_the_least_recently_used_within_its_budget() -> None:
    from rivalry.server.front import ResponseCache

    cache = ResponseCache(4000)  # one answer may take a quarter: 1000 bytes with overhead
    keys = [ResponseCache.key("b1", "GET", f"/p{i}".encode(), b"") for i in range(6)]
    for key in keys:
        cache.put(key, {}, 200, [("Content-Type", "text/plain")], b"x" * 700)
    assert cache.get(keys[0], {}) is None  # the oldest went first
    assert cache.get(keys[5], {}) is not None
    cache.get(keys[2], {})  # used again: kept over keys[3]
    cache.put(ResponseCache.key("b1", "GET", b"/new", b""), {}, 200, [], b"x" * 700)
    assert cache.get(keys[2], {}) is not None and cache.get(keys[3], {}) is None
    cache.put(ResponseCache.key("b1", "GET", b"/big", b""), {}, 200, [], b"x" * 2000)
    assert cache.get(ResponseCache.key("b1", "GET", b"/big", b""), {}) is None  # too big
    other_build = ResponseCache.key("b2", "GET", b"/p5", b"")
    assert cache.get(other_build, {}) is None  # keyed on the build


def test_the_cache_excludes_what_the_app_excludes(server: LiveServer) -> None:
    """The front chooses among kept variants as the app chooses among formats: an
    answer kept as SPARQL JSON results is not given to a client that excludes them, even
    though `*/*` reaches its alias application/json."""
    path = sparql_path(SELECT + " # exclusions")
    _, headers, _ = request(server, "GET", path)
    assert headers["content-type"].startswith("application/sparql-results+json")
    _, headers, _ = request(server, "GET", path)
    assert headers["x-cache"] == "hit"
    _, headers, _ = request(server, "GET", path, headers={
        "Accept": "application/sparql-results+json;q=0, */*"})
    assert not headers["content-type"].startswith("application/sparql-results+json")


def test_limits_on_the_head_hold_at_their_boundary(server: LiveServer) -> None:
    """max_url_bytes bounds the request line ("GET /… HTTP/1.1"), and max_header_bytes the
    whole head, to the byte (this server: 2,000 and 8,000)."""
    def line(size: int) -> bytes:
        target = b"/no-such-page/" + b"a" * (size - len(b"GET /no-such-page/ HTTP/1.1"))
        return b"GET " + target + b" HTTP/1.1"

    for size, status in ((2000, b"404"), (2001, b"414")):
        answer = raw(server, line(size) + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.split(b" ", 2)[1] == status, (size, answer[:200])

    def head(size: int) -> bytes:
        start = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
        return start + b"y" * (size - len(start) - 4) + b"\r\n\r\n"

    for size, status in ((8000, b"200"), (8001, b"431")):
        data = head(size)
        assert len(data) == size
        assert raw(server, data).split(b" ", 2)[1] == status, size


def test_http_1_0_with_transfer_encoding_is_refused(server: LiveServer) -> None:
    """HTTP/1.0 has no chunked framing: a message that says it has is faulty (RFC 9112,
    6.1), refused and the connection closed, rather than read as chunks."""
    answer = raw(server, b"POST /sparql HTTP/1.0\r\nHost: x\r\n"
                 b"Content-Type: application/sparql-query\r\nTransfer-Encoding: chunked\r\n"
                 b"\r\n6\r\nASK {}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"RFC 9112" in answer


def test_the_fronts_refusals_follow_accept_once_the_head_is_read(server: LiveServer) -> None:
    """A 413 or 417 comes after the head was read, so as every error of the app: HTML
    to a browser, JSON otherwise. A head too long to read (431) has no Accept to follow:
    JSON."""
    big = b"x" * (BODY_CAP + 1)
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n"
                 b"Content-Type: application/sparql-query\r\nContent-Length: "
                 + str(len(big)).encode() + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and b"Content-Type: text/html" in answer
    answer = raw(server, b"POST /sparql HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
                 b"Expect: something-else\r\nContent-Length: 0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 417") and b"Content-Type: application/json" in answer
    answer = raw(server, b"GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nX-Big: "
                 + b"y" * 9000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431") and b"Content-Type: application/json" in answer


def test_health_answers_promptly_when_every_worker_is_busy(
        store: Path, tmp_path: Path) -> None:
    """A store that hangs holds every worker that asks it; /-/health then waited behind
    them for the whole page_time_limit, and said nothing of why."""
    busy = LiveServer(store, tmp_path / "busy.log", workers=1, max_workers=1,
                      query_time_limit=30)
    try:
        assert request(busy, "GET", "/-/health")[0] == 200
        heavy = sparql_path("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
        worker = threading.Thread(target=request, args=(busy, "GET", heavy), daemon=True)
        worker.start()
        time.sleep(1)  # the one worker has the heavy query
        status, headers, body = request(busy, "GET", "/-/health")
        # within HEALTH_SECONDS (5 s), in health's own shape; not page_time_limit's 503
        assert status == 503 and json.loads(body)["status"] == "busy", body[:200]
        assert "within 5 s" in json.loads(body)["message"]
        assert headers["cache-control"] == "no-store"
    finally:
        busy.stop()
