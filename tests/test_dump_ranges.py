"""Range and conditional requests for the dumps (RFC 9110, sections 13 and 14): through
the app (Flask's client), and through `rivalry serve`, whose front sends the file the app
names with the status and Content-Range the app gives, so that the bytes on the wire are
checked too."""

from __future__ import annotations

import gzip
import http.client
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.http import http_date, parse_date

from rivalry.graph.store import EmbeddedStore

from .live import LiveServer

#: a dump as a gzip file, a dump in its media type sent gzip-encoded, and the graph
#: store's default graph (the same dump, through rivalry.server.graph_store)
FILES = [
    ("/data/rivalry.nq.gz", {}),
    ("/data/rivalry.ttl", {"Accept-Encoding": "gzip"}),
    ("/rdf-graph-store?default", {"Accept-Encoding": "gzip", "Accept": "text/turtle"}),
]
NQ = "/data/rivalry.nq.gz"


def dump_bytes(store_dir: Path, name: str) -> bytes:
    return (EmbeddedStore(store_dir).build_dir / "dumps" / name).read_bytes()


def get(client: FlaskClient, path: str, headers: dict[str, str],
        method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    with client.open(path, method=method, headers=headers) as response:
        return response.status_code, dict(response.headers), response.get_data()


def validators(client: FlaskClient, path: str, headers: dict[str, str]) -> tuple[str, str]:
    _, answer, _ = get(client, path, headers, "HEAD")
    return answer["ETag"], answer["Last-Modified"]


def shifted(date: str, seconds: int) -> str:
    moment = parse_date(date)
    assert moment is not None
    return http_date(moment + timedelta(seconds=seconds))


# --- what a Range header asks for ------------------------------------------------------


@pytest.mark.parametrize("header,span", [
    ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-50", (950, 999)),
    ("bytes=-5000", (0, 999)), ("bytes=990-5000", (990, 999)), ("BYTES=0-0", (0, 0)),
    ("bytes=0-5,3-9", (0, 9)), ("bytes=5-9, 0-4", (0, 9)), ("bytes=0-5,5000-", (0, 5)),
    ("bytes=0-1,,2-3", (0, 3)),
    ("bytes=5000-", "unsatisfiable"), ("bytes=1000-1000", "unsatisfiable"),
    ("bytes=-0", "unsatisfiable"), ("bytes=1000-,-0", "unsatisfiable"),
    ("items=0-5", None), ("bytes 0-5", None), ("bytes=", None), ("bytes=5-2", None),
    ("bytes=0-1,5-2", None), ("bytes=a-b", None), ("bytes=0-1-2", None),
    ("bytes=0-1,5-6", None), ("bytes=0-0,-1", None), ("bytes=٠-٥", None),
    ("bytes=0-" + "9" * 5000, None),
])
def test_byte_span(header: str, span: object) -> None:
    """One span of a 1000-byte file, "unsatisfiable" (416), or None: the Range is
    ignored and the whole file sent (another unit, a malformed set, spans apart)."""
    from rivalry.server.publish import byte_span

    assert byte_span(header, 1000) == span


# --- through the app ------------------------------------------------------------------------


@pytest.mark.parametrize("path,headers", FILES)
def test_a_range_in_another_unit_is_ignored(client: FlaskClient, path: str,
                                            headers: dict[str, str]) -> None:
    """RFC 9110 14.2: a server MUST ignore a Range with a unit it does not understand."""
    _, _, whole = get(client, path, headers)
    for method in ("GET", "HEAD"):
        status, answer, body = get(client, path, {**headers, "Range": "items=0-5"}, method)
        assert status == 200 and "Content-Range" not in answer, method
        assert body == (whole if method == "GET" else b"")
        assert answer["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("path,headers", FILES)
def test_several_ranges_are_one_span_or_the_whole_file(client: FlaskClient, path: str,
                                                       headers: dict[str, str]) -> None:
    """Satisfiable ranges apart would need a multipart answer, which the front cannot
    send: the whole file (a server may ignore a Range), never 416. Ranges that overlap
    or touch are sent as their one span."""
    _, _, whole = get(client, path, headers)
    for asked in ("bytes=0-1,5-6", "bytes=0-0,-1", "bytes=-1,0-0"):
        status, answer, body = get(client, path, {**headers, "Range": asked})
        assert status == 200 and body == whole and "Content-Range" not in answer, asked
    for asked in ("bytes=0-5,3-9", "bytes=5-9,0-4", "bytes=0-9,99999999-"):
        status, answer, body = get(client, path, {**headers, "Range": asked})
        assert status == 206 and body == whole[:10], asked
        assert answer["Content-Range"] == f"bytes 0-9/{len(whole)}"


@pytest.mark.parametrize("asked", ["bytes=5-2", "bytes=abc", "bytes=", "bytes=1-2-3"])
def test_a_malformed_range_is_ignored(client: FlaskClient, asked: str) -> None:
    _, _, whole = get(client, NQ, {})
    status, answer, body = get(client, NQ, {"Range": asked})
    assert status == 200 and body == whole and "Content-Range" not in answer


@pytest.mark.parametrize("path,headers", FILES)
def test_an_unsatisfiable_range_is_416_with_the_length(client: FlaskClient, path: str,
                                                       headers: dict[str, str]) -> None:
    """RFC 9110 15.5.17: a 416 to a byte-range request carries `Content-Range: bytes
    */LENGTH`; its message says the file's length and what was asked."""
    _, _, whole = get(client, path, headers)
    length = len(whole)
    for asked in ("bytes=99999999-", f"bytes={length}-", "bytes=-0",
                  f"bytes={length}-,{length + 5}-{length + 9}"):
        status, answer, body = get(client, path, {**headers, "Range": asked})
        assert status == 416, asked
        assert answer["Content-Type"] == "application/json"  # for Accept: */* or text/turtle
        assert answer["Content-Range"] == f"bytes */{length}"
        message = json.loads(body)["message"]
        assert f"{length} bytes long" in message and f"`Range: {asked}`" in message
        assert "Cache-Control" not in answer or "public" not in answer["Cache-Control"]
        status, answer, body = get(client, path, {**headers, "Range": asked}, "HEAD")
        assert status == 416 and body == b"" and answer["Content-Range"] == f"bytes */{length}"
    if path.startswith("/data/"):  # (the graph store negotiates its format with Accept)
        status, answer, body = get(client, path, {**headers, "Range": "bytes=99999999-",
                                                  "Accept": "text/plain"})
        assert status == 416 and answer["Content-Type"].startswith("text/plain")
        assert f"{length} bytes long".encode() in body


@pytest.mark.parametrize("path,headers", FILES)
def test_if_range_with_a_weak_tag_never_matches(client: FlaskClient, path: str,
                                                headers: dict[str, str]) -> None:
    """RFC 9110 13.1.5: If-Range compares entity tags strongly; the file's own tag made
    weak does not match, so the Range is ignored and the whole file sent."""
    _, _, whole = get(client, path, headers)
    etag, _ = validators(client, path, headers)
    assert not etag.startswith("W/")
    for if_range, status in ((etag, 206), ("W/" + etag, 200), ('"other"', 200),
                             ('W/"other"', 200), (etag[:-1], 200)):
        for method in ("GET", "HEAD"):
            got, answer, body = get(client, path, {**headers, "Range": "bytes=0-9",
                                                   "If-Range": if_range}, method)
            assert got == status, (if_range, method)
            if method == "GET":
                assert body == (whole[:10] if status == 206 else whole), if_range
            assert ("Content-Range" in answer) == (status == 206)


@pytest.mark.parametrize("path,headers", FILES)
def test_if_range_with_a_date_must_be_last_modified_exactly(client: FlaskClient, path: str,
                                                            headers: dict[str, str]) -> None:
    """RFC 9110 13.1.5: a date in If-Range holds only when it is exactly the file's
    Last-Modified (not "no later than", as If-Unmodified-Since)."""
    _, _, whole = get(client, path, headers)
    _, modified = validators(client, path, headers)
    for if_range, status in ((modified, 206), (shifted(modified, 1), 200),
                             (shifted(modified, 86400), 200), (shifted(modified, -1), 200),
                             ("not a date", 200)):
        got, _, body = get(client, path, {**headers, "Range": "bytes=0-9",
                                          "If-Range": if_range})
        assert got == status, if_range
        assert body == (whole[:10] if status == 206 else whole), if_range
    # an If-Range that fails sends the whole file, even for a range past its end
    got, _, body = get(client, path, {**headers, "Range": "bytes=99999999-",
                                      "If-Range": '"other"'})
    assert got == 200 and body == whole


@pytest.mark.parametrize("path,headers", FILES)
def test_if_unmodified_since(client: FlaskClient, path: str,
                             headers: dict[str, str]) -> None:
    """RFC 9110 13.1.4: an origin server MUST evaluate If-Unmodified-Since (without
    If-Match) on a request that selects a representation, GET included, and MUST NOT
    perform the method when the file was modified after that date: 412."""
    _, _, whole = get(client, path, headers)
    etag, modified = validators(client, path, headers)
    for since, status in (("Mon, 01 Jan 2001 00:00:00 GMT", 412),
                          (shifted(modified, -1), 412), (modified, 200),
                          (shifted(modified, 86400), 200), ("yesterday", 200)):
        for method in ("GET", "HEAD"):
            got, _, body = get(client, path, {**headers, "If-Unmodified-Since": since},
                               method)
            assert got == status, (since, method)
            assert body == (whole if status == 200 and method == "GET" else b"")
    # ignored when an If-Match is there (13.1.4), which decides alone
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    got, _, body = get(client, path, {**headers, "If-Unmodified-Since": old,
                                      "If-Match": etag})
    assert got == 200 and body == whole
    got, _, _ = get(client, path, {**headers, "If-Unmodified-Since": old,
                                   "Range": "bytes=0-9"})
    assert got == 412


@pytest.mark.parametrize("path,headers", FILES)
def test_preconditions_come_before_the_range(client: FlaskClient, path: str,
                                             headers: dict[str, str]) -> None:
    """RFC 9110 13.2.2: If-Match, If-Unmodified-Since, If-None-Match and
    If-Modified-Since are evaluated before a Range is."""
    etag, modified = validators(client, path, headers)
    for conditions, status in (({"If-Match": '"other"'}, 412),
                               ({"If-Match": "W/" + etag}, 412),
                               ({"If-None-Match": etag}, 304),
                               ({"If-None-Match": "W/" + etag}, 304),
                               ({"If-None-Match": "*"}, 304),
                               ({"If-Modified-Since": modified}, 304),
                               ({"If-Match": etag}, 206), ({"If-Match": "*"}, 206),
                               ({"If-None-Match": '"other"', "If-Modified-Since": modified},
                                206)):
        for asked in ("bytes=0-9", "bytes=99999999-"):
            got, answer, body = get(client, path, {**headers, **conditions, "Range": asked})
            expected = 416 if status == 206 and asked != "bytes=0-9" else status
            assert got == expected, (conditions, asked)
            if got in (304, 412):
                assert body == b"" and "X-Sendfile" not in answer


# --- through `rivalry serve` ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(store_dir, tmp_path_factory.mktemp("ranges") / "server.log")
    yield live
    live.stop()


def exchange(server: LiveServer, requests: list[tuple[str, dict[str, str]]],
             path: str = NQ) -> list[tuple[int, dict[str, str], bytes]]:
    """The answers to requests sent one after another on one kept-alive connection: an
    answer whose length or body is wrong would garble the next one."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    answers = []
    try:
        for method, headers in requests:
            c.request(method, path, headers=headers)
            r = c.getresponse()
            body = r.read()
            answers.append((r.status, {k.lower(): v for k, v in r.getheaders()}, body))
    finally:
        c.close()
    return answers


def test_live_a_range_in_another_unit_or_apart_is_the_whole_file(server: LiveServer,
                                                                 store_dir: Path) -> None:
    whole = dump_bytes(store_dir, "rivalry.nq.gz")
    answers = exchange(server, [("GET", {"Range": "items=0-5"}),
                                ("GET", {"Range": "bytes=0-1,5-6"}),
                                ("HEAD", {"Range": "items=0-5"}),
                                ("GET", {"Range": "bytes=0-5,3-9"}),
                                ("GET", {})])
    for status, answer, body in answers[:2]:
        assert status == 200 and body == whole and "content-range" not in answer
        assert int(answer["content-length"]) == len(whole)
    status, answer, body = answers[2]
    assert status == 200 and body == b"" and int(answer["content-length"]) == len(whole)
    status, answer, body = answers[3]
    assert status == 206 and body == whole[:10]
    assert answer["content-range"] == f"bytes 0-9/{len(whole)}"
    assert answers[4][0] == 200 and answers[4][2] == whole


def test_live_an_unsatisfiable_range_is_416_with_the_length(server: LiveServer,
                                                            store_dir: Path) -> None:
    whole = dump_bytes(store_dir, "rivalry.nq.gz")
    asked = {"Range": "bytes=99999999-", "Accept": "application/json"}
    answers = exchange(server, [("GET", asked), ("HEAD", asked), ("GET", {})])
    status, answer, body = answers[0]
    assert status == 416 and answer["content-range"] == f"bytes */{len(whole)}"
    assert int(answer["content-length"]) == len(body)
    error = json.loads(body)
    assert error["status"] == 416 and f"is {len(whole)} bytes long" in error["message"]
    assert "`Range: bytes=99999999-`" in error["message"]
    status, answer, body = answers[1]
    assert status == 416 and body == b"" and answer["content-range"] == f"bytes */{len(whole)}"
    assert answers[2][0] == 200 and answers[2][2] == whole


def test_live_if_range(server: LiveServer, store_dir: Path) -> None:
    whole = dump_bytes(store_dir, "rivalry.nq.gz")
    [(_, first, _)] = exchange(server, [("HEAD", {})])
    etag, modified = first["etag"], first["last-modified"]
    answers = exchange(server, [
        ("GET", {"Range": "bytes=0-9", "If-Range": "W/" + etag}),
        ("GET", {"Range": "bytes=0-9", "If-Range": etag}),
        ("GET", {"Range": "bytes=0-9", "If-Range": shifted(modified, 3600)}),
        ("GET", {"Range": "bytes=0-9", "If-Range": modified}),
        ("HEAD", {"Range": "bytes=0-9", "If-Range": "W/" + etag})])
    for (status, answer, body), expected in zip(answers[:4], (200, 206, 200, 206),
                                                strict=True):
        assert status == expected
        assert body == (whole[:10] if status == 206 else whole)
        assert int(answer["content-length"]) == len(body)
        assert ("content-range" in answer) == (status == 206)
    status, answer, body = answers[4]
    assert status == 200 and body == b"" and int(answer["content-length"]) == len(whole)


def test_live_if_unmodified_since(server: LiveServer, store_dir: Path) -> None:
    whole = dump_bytes(store_dir, "rivalry.nq.gz")
    [(_, first, _)] = exchange(server, [("HEAD", {})])
    old = {"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    answers = exchange(server, [("GET", old), ("GET", {**old, "Range": "bytes=0-9"}),
                                ("GET", {"If-Unmodified-Since": first["last-modified"]})])
    for status, _, body in answers[:2]:
        assert status == 412 and body == b""
    assert answers[2][0] == 200 and answers[2][2] == whole


def test_live_a_dump_decompressed_on_the_way_has_validators_of_its_own(
        server: LiveServer, store_dir: Path) -> None:
    """RFC 9110, 8.8: a client that takes no gzip (wget, urllib) gets the dump decompressed,
    with an ETag and a Last-Modified of that representation (not the gzip file's), and
    304 or 412 by them like any other; Range it cannot have (no length before)."""
    whole = gzip.decompress(dump_bytes(store_dir, "rivalry.nq.gz"))
    plain = {"Accept-Encoding": "identity"}
    [(status, first, body)] = exchange(server, [("GET", plain)], path="/data/rivalry.nq")
    assert status == 200 and body == whole
    etag, modified = first["etag"], first["last-modified"]
    [(_, gz, _)] = exchange(server, [("HEAD", {"Accept-Encoding": "gzip"})],
                            path="/data/rivalry.nq")
    assert gz["etag"] != etag  # other bytes, another tag
    answers = exchange(server, [
        ("GET", {**plain, "If-None-Match": etag}),
        ("GET", {**plain, "If-Modified-Since": modified}),
        ("GET", {**plain, "If-Match": '"other"'}),
        ("GET", {**plain, "If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}),
        ("GET", {**plain, "If-None-Match": '"other"'}),
    ], path="/data/rivalry.nq")
    assert [a[0] for a in answers] == [304, 304, 412, 412, 200]
    assert all(a[2] == b"" for a in answers[:4]) and answers[4][2] == whole
