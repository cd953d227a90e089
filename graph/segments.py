"""A build's dumps written in segments, so that the next build copies those a change
leaves alone instead of writing the whole graph out again.

Each dump is one gzip stream (one member, as every gzip reader reads) whose deflate data
is cut into segments: each segment is compressed by a compressor of its own and ended
by a full flush, so it refers to nothing before it and ends on a byte boundary. A
segment's compressed bytes can therefore be copied from one file into another as they
are; the stream's CRC-32 is combined from the segments' (`crc32_combine`). Where each
segment lies in each file is kept in the build's state (`STATE_DUMPS`).

The segments are the same in every dump: one per named graph, in the order of their
IRIs, and for a graph of more than `SEGMENT_QUADS` quads (the inferred and derived
graphs, at scale), one per bucket of its subjects, of `BUCKET_QUADS` or so each (a
CRC-32 of the subject's text, modulo the graph's number of buckets, a power of two).
The formats share the serializers' work:

- N-Triples text of a segment's triples is the union's N-Triples segment, and with the
  graph's IRI before each line's final " ." its N-Quads segment (a literal holds no raw
  line break in N-Triples, so " .\\n" ends lines only);
- Turtle text (its `@prefix` lines dropped: the file's first segment holds them) is the
  union's Turtle segment, and wrapped in `<graph> { ... }` its TriG segment;
- JSON-LD text of the triples, wrapped in `{"@id": graph, "@graph": ...}`, is an element
  of the JSON-LD dump's top-level array (a graph's buckets are several elements with the
  same "@id", which JSON-LD reads as one graph).

A graph that shares a triple with another gives the union only the triples no graph
before it has (rivalry.graph.export.union_parts): its union segments come from that
query and are never copied; nor is the default graph's. An incremental build writes
again the segments of the graphs (and buckets) a changed quad belongs to, and copies the
others from the previous build's files, when those are as its state says (size and
CRC-32); otherwise it writes every segment.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox
from zlib_ng import zlib_ng  # the same deflate as zlib, in less time

from rivalry.graph import PREFIXES
from rivalry.graph.build import graph_size
from rivalry.graph.export import UnionParts

#: A graph of more quads than this is written in buckets of its subjects, each of about
#: BUCKET_QUADS or less: a change to one of its triples writes that bucket again (about a
#: megabyte of text in each format), the others are copied.
SEGMENT_QUADS = 100_000
BUCKET_QUADS = 10_000
#: The most quads of such a graph held in memory at once while it is cut into buckets
#: (about 250 MB of triples): a larger graph is read in several passes, each keeping the
#: triples of a run of its buckets (the inferred graph at 1M measures holds 14.7 million).
PASS_QUADS = 2_000_000
#: The file of the build's state that says where each dump's segments lie.
STATE_DUMPS = "dumps.json"
#: The version of that file's layout and of the segments' text.
LAYOUT = 1

NT, TTL, JSONLD = ox.RdfFormat.N_TRIPLES, ox.RdfFormat.TURTLE, ox.RdfFormat.JSON_LD
#: The dumps, by file name: with named graphs (TriG, N-Quads, JSON-LD), or the union.
FILES = ("rivalry.trig", "rivalry.nq", "rivalry.jsonld", "rivalry.ttl", "rivalry.nt")
#: gzip's header: no file name, no time (the same content gives the same bytes).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


# --- CRC-32 of joined data ----------------------------------------------------------------

def _times(matrix: list[int], vector: int) -> int:
    """A 32x32 matrix over GF(2) (one column per bit) times a vector."""
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, column) for column in matrix]


def _zero_operators() -> list[list[int]]:
    """The operators that advance a CRC-32 over 2**k zero bytes, k = 0, 1, ... 63."""
    one_bit = [0xEDB88320] + [1 << n for n in range(31)]
    operator = one_bit
    for _ in range(3):  # 1 bit, 2, 4, 8: a byte
        operator = _square(operator)
    found = [operator]
    for _ in range(63):
        found.append(_square(found[-1]))
    return found


_ZEROS = _zero_operators()


def crc32_combine(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of two pieces of data joined, from each one's CRC-32 and the second's
    length (as zlib's crc32_combine, which Python's zlib does not offer)."""
    k = 0
    while second_length:
        if second_length & 1:
            first = _times(_ZEROS[k], first)
        second_length >>= 1
        k += 1
    return first ^ second


# --- a gzip stream of segments --------------------------------------------------------------

@dataclass
class Segment:
    """Where one segment lies in a dump: `key` names what it holds (None: it is never
    copied), `offset` and `length` its compressed bytes, `crc` and `size` its text."""

    key: str | None
    offset: int
    length: int
    crc: int
    size: int

    def to_record(self) -> list[Any]:
        return [self.key, self.offset, self.length, self.crc, self.size]

    @classmethod
    def from_record(cls, record: list[Any]) -> Segment:
        key, offset, length, crc, size = record
        return cls(None if key is None else str(key), int(offset), int(length), int(crc),
                   int(size))


class SegmentedGzip:
    """A gzip file written segment by segment: each compressed, or copied compressed from
    another file, by a thread of its own, in the order given, while the caller goes on."""

    def __init__(self, raw: IO[bytes], level: int) -> None:
        self._raw = raw
        self._level = level
        raw.write(GZIP_HEADER)
        self._offset = len(GZIP_HEADER)
        self.segments: list[Segment] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rivalry-segments")
        self._pending: list[Future[None]] = []

    def _submit(self, work: Callable[[], None]) -> None:
        # at most a few segments waiting, so that memory stays small
        while len(self._pending) > 4:
            self._pending.pop(0).result()
        self._pending.append(self._thread.submit(work))

    def add(self, key: str | None, text: bytes) -> None:
        def work() -> None:
            deflate = zlib_ng.compressobj(self._level, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS)
            data = deflate.compress(text) + deflate.flush(zlib_ng.Z_FULL_FLUSH)
            self._write(key, data, zlib_ng.crc32(text), len(text))
        self._submit(work)

    def copy(self, source: IO[bytes], segment: Segment) -> None:
        def work() -> None:
            # a read at an offset: other threads read the same file (no shared position)
            data = os.pread(source.fileno(), segment.length, segment.offset)
            if len(data) != segment.length:
                raise OSError("the previous dump is shorter than its state says")
            self._write(segment.key, data, segment.crc, segment.size)
        self._submit(work)

    def _write(self, key: str | None, data: bytes, crc: int, size: int) -> None:
        self._raw.write(data)
        self.segments.append(Segment(key, self._offset, len(data), crc, size))
        self._offset += len(data)

    def finish(self) -> None:
        """Wait for every segment, and end the stream (an empty final block, then the
        CRC-32 and size of the whole text)."""
        for pending in self._pending:
            pending.result()
        self._pending = []
        crc, size = 0, 0
        for s in self.segments:
            crc = crc32_combine(crc, s.crc, s.size)
            size += s.size
        end = zlib_ng.compressobj(self._level, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS).flush()
        self._raw.write(end + struct.pack("<II", crc, size & 0xFFFFFFFF))

    def close(self) -> None:
        self._thread.shutdown(wait=True)


def _trailer_matches(path: Path, segments: list[Segment]) -> bool:
    """Whether a previous dump is the one its state describes: its size, and the CRC-32
    and length its gzip trailer gives."""
    crc, size = 0, 0
    for s in segments:
        crc = crc32_combine(crc, s.crc, s.size)
        size += s.size
    end = len(zlib_ng.compressobj(6, zlib_ng.DEFLATED, -zlib_ng.MAX_WBITS).flush())
    expected = (segments[-1].offset + segments[-1].length if segments else len(GZIP_HEADER))
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != expected + end + 8:
                return False
            f.seek(-8, os.SEEK_END)
            return f.read(8) == struct.pack("<II", crc, size & 0xFFFFFFFF)
    except OSError:
        return False


# --- what each segment holds -----------------------------------------------------------------

def _turtle_body(text: bytes) -> bytes:
    """Turtle without its `@prefix` lines (the file's first segment holds them)."""
    start = 0
    while text.startswith(b"@prefix ", start):
        start = text.index(b"\n", start) + 1
    return text[start:]


def _prefix_lines() -> bytes:
    return b"".join(sorted(f"@prefix {name}: <{iri}> .\n".encode()
                           for name, iri in PREFIXES.items()))


@dataclass
class Texts:
    """One segment's triples in the three serializations the five dumps are made of."""

    ntriples: bytes
    turtle: bytes
    jsonld: bytes

    @classmethod
    def of_graph(cls, db: ox.Store, graph: ox.NamedNode, *, read_once: bool = False
                 ) -> Texts:
        """A whole graph, written natively by pyoxigraph (into bytes of its own, not a
        Python file: the writing never waits for Python's interpreter lock). With
        `read_once` (a database on disk, where reading a graph costs several times what
        it does in memory), the graph is read once, as N-Triples, and its Turtle and
        JSON-LD are written from a store of its own in memory (`of_ntriples`): the same
        triples, in that store's order."""
        if read_once:
            return cls.of_ntriples(_dumped(db, NT, graph))
        return cls(_dumped(db, NT, graph), _turtle_body(_dumped(db, TTL, graph)),
                   _dumped(db, JSONLD, graph))

    @classmethod
    def of_ntriples(cls, text: bytes) -> Texts:
        """Triples given as the N-Triples text a store dumps, that text kept as it is.
        Turtle and JSON-LD are written natively, from a store of their own, without
        Python's interpreter lock (a bucket of a large graph: `_bucket_lines`). A
        store renames the blank nodes it reads, so triples that may hold one (the
        text holds `_:`) are read into Python instead, which keeps their labels, those
        the other segments give them."""
        if b"_:" in text:
            triples = [q.triple for q in ox.parse(text, format=NT)]
            return cls(text, _turtle_body(_serialized(triples, TTL)),
                       _serialized(triples, JSONLD))
        scratch = ox.Store()
        scratch.load(text, NT)  # in memory, one transaction costs less than a bulk load
        return cls(text, _turtle_body(_dumped(scratch, TTL, ox.DefaultGraph())),
                   _dumped(scratch, JSONLD, ox.DefaultGraph()))

    @classmethod
    def of_triples(cls, triples: list[ox.Triple]) -> Texts:
        return cls(_serialized(triples, NT), _turtle_body(_serialized(triples, TTL)),
                   _serialized(triples, JSONLD))


def _dumped(db: ox.Store, fmt: ox.RdfFormat, graph: ox.NamedNode | ox.DefaultGraph) -> bytes:
    """A graph of the store in a format, as bytes (Turtle with the project's prefixes)."""
    found = db.dump(format=fmt, from_graph=graph, prefixes=PREFIXES if fmt == TTL else None)
    assert found is not None  # given no output, dump returns what it wrote
    return found


def _serialized(triples: list[ox.Triple], fmt: ox.RdfFormat) -> bytes:
    """Triples in a format, as bytes (Turtle with the project's prefixes)."""
    found = ox.serialize(triples, format=fmt, prefixes=PREFIXES if fmt == TTL else None)
    assert found is not None  # given no output, serialize returns what it wrote
    return found


def _quads_text(ntriples: bytes, graph: ox.NamedNode) -> bytes:
    return ntriples.replace(b" .\n", f" {graph} .\n".encode())


def _trig_text(turtle: bytes, graph: ox.NamedNode) -> bytes:
    return f"{graph} {{\n".encode() + turtle + b"}\n" if turtle else b""


def _jsonld_text(jsonld: bytes, graph: ox.NamedNode, first: bool) -> bytes:
    return (b"" if first else b",") + b'{"@id":' + json.dumps(graph.value).encode() \
        + b',"@graph":' + jsonld + b"}"


def bucket_of(subject: Any, buckets: int) -> int:
    """The bucket of a subject in a graph cut into `buckets` (a power of two)."""
    return zlib.crc32(str(subject).encode()) & (buckets - 1)


def passes_for(size: int, buckets: int) -> list[range]:
    """The runs of buckets a graph of `size` quads in `buckets` buckets is read in, one
    pass over the graph each: as few as keep each pass's quads to about PASS_QUADS."""
    n = 1
    while size / n > PASS_QUADS and n < buckets:
        n *= 2
    step = buckets // n
    return [range(start, start + step) for start in range(0, buckets, step)]


def buckets_for(size: int) -> int:
    """How many buckets a graph of `size` quads is cut into: 1 up to SEGMENT_QUADS, else
    the least power of two that makes each BUCKET_QUADS or less."""
    if size <= SEGMENT_QUADS:
        return 1
    n = 2
    while size / n > BUCKET_QUADS:
        n *= 2
    return n


# --- the dumps -------------------------------------------------------------------------------

@dataclass
class Previous:
    """The previous build's dumps (`folder`) and where their segments lie (`layout`, as
    its state kept it), and the quads changed since (rivalry.graph.refigure.Change)."""

    folder: Path
    layout: dict[str, Any]
    changed: set[ox.Quad]


def read_layout(state: Path) -> dict[str, Any] | None:
    """The layout of a build's dumps, as it kept it, or None."""
    try:
        layout = json.loads((state / STATE_DUMPS).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return layout if isinstance(layout, dict) and layout.get("layout") == LAYOUT else None


def copiable(build: Path) -> tuple[dict[str, Any] | None, str]:
    """The layout of a published build's dumps when they can be copied from (each file
    as the layout says: its size and gzip trailer), else None; and why not."""
    layout = read_layout(build / "state")
    if layout is None:
        return None, "the previous build kept no layout of its dumps"
    for name in FILES:
        records = layout.get("files", {}).get(name, [])
        if not records or not _trailer_matches(build / "dumps" / f"{name}.gz",
                                               [Segment.from_record(r) for r in records]):
            return None, f"the previous build's {name}.gz is not as its state says"
    return layout, ""


@dataclass
class DumpsWritten:
    written: int  # segments written
    copied: int  # segments copied from the previous build's dumps
    why_not: str | None = None  # why the previous build's could not be copied from


class _Source:
    """The previous build's dumps, opened, with their segments by key: those that can be
    copied."""

    def __init__(self, previous: Previous | None) -> None:
        self.files: dict[str, IO[bytes]] = {}
        self.segments: dict[str, dict[str, Segment]] = {}
        self.why_not: str | None = None
        if previous is None:
            return
        for name in FILES:
            records = previous.layout.get("files", {}).get(name, [])
            segments = [Segment.from_record(r) for r in records]
            path = previous.folder / f"{name}.gz"
            if not segments or not _trailer_matches(path, segments):
                self.why_not = f"the previous build's {name}.gz is not as its state says"
                self.close()
                return
            self.files[name] = open(path, "rb")  # noqa: SIM115 - closed by close()
            self.segments[name] = {s.key: s for s in segments if s.key is not None}

    def has(self, name: str, key: str) -> bool:
        return key in self.segments.get(name, {})

    def text(self, name: str, key: str) -> bytes:
        """A segment's text, decompressed."""
        segment = self.segments[name][key]
        data = os.pread(self.files[name].fileno(), segment.length, segment.offset)
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data)

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files, self.segments = {}, {}


def _jsonld_key(key: str, first: bool) -> str:
    return ("first " if first else "") + key


def write_dumps(db: ox.Store, folder: Path, parts: UnionParts, state: Path, level: int,
                previous: Previous | None = None, *, on_disk: bool = False) -> DumpsWritten:
    """Write the five dumps into `folder`, each atomically (a temporary name, then a
    rename), and where their segments lie into `state`; copying from `previous` the
    segments its change leaves alone, when its files are as its state says. `on_disk`:
    `db` is a database on disk, from which each whole graph is read once
    (`Texts.of_graph`)."""
    source = _Source(previous)
    old_buckets: dict[str, int] = previous.layout.get("buckets", {}) if previous else {}
    # the segments holding a changed quad, with the subjects of those quads
    changed: dict[str, set[Any]] = {}
    if previous is not None:
        for q in previous.changed:
            name = q.graph_name.value if isinstance(q.graph_name, ox.NamedNode) else ""
            key = f"{name} {bucket_of(q.subject, old_buckets.get(name, 1))}"
            changed.setdefault(key, set()).add(q.subject)
    shared = {g.value: query for g, query in parts
              if query is not None and isinstance(g, ox.NamedNode)}
    tmp = {name: folder / f".{name}.gz.{os.getpid()}" for name in FILES}
    files: dict[str, IO[bytes]] = {}
    writers: dict[str, SegmentedGzip] = {}
    done = DumpsWritten(0, 0, source.why_not)
    buckets: dict[str, int] = {}
    try:
        for name in FILES:
            files[name] = open(tmp[name], "wb")  # noqa: SIM115 - closed below
            writers[name] = SegmentedGzip(files[name], level)
        prefixes = _prefix_lines()
        writers["rivalry.trig"].add(None, prefixes)
        writers["rivalry.ttl"].add(None, prefixes)
        writers["rivalry.jsonld"].add(None, b"[")
        first = True
        graphs = list(db.named_graphs())
        unnamed = [g for g in graphs if not isinstance(g, ox.NamedNode)]
        if unnamed:  # rivalry names every graph by an IRI; a dump's segments are keyed so
            raise ValueError(f"the graph _:{unnamed[0].value} is named by a blank node: "
                             "name it by an IRI")
        for graph in sorted(cast(list[ox.NamedNode], graphs), key=lambda g: g.value):
            size = None if graph.value in old_buckets else graph_size(db, graph)
            n = old_buckets.get(graph.value) or buckets_for(cast(int, size))
            buckets[graph.value] = n
            whole = shared.get(graph.value) is None
            for bucket, texts in _graph_segments(db, graph, n, changed, source, folder, first,
                                                 whole, size, read_once=on_disk):
                key = f"{graph.value} {bucket}"
                own = {"rivalry.nq": key, "rivalry.trig": key,
                       "rivalry.jsonld": _jsonld_key(key, first)}
                if whole:
                    own.update({"rivalry.nt": key, "rivalry.ttl": key})
                if texts is None:  # copied from the previous build's dumps
                    for name, k in own.items():
                        writers[name].copy(source.files[name], source.segments[name][k])
                    done.copied += len(own)
                else:
                    writers["rivalry.nq"].add(key, _quads_text(texts.ntriples, graph))
                    writers["rivalry.trig"].add(key, _trig_text(texts.turtle, graph))
                    writers["rivalry.jsonld"].add(own["rivalry.jsonld"],
                                                  _jsonld_text(texts.jsonld, graph, first))
                    if whole:
                        writers["rivalry.nt"].add(key, texts.ntriples)
                        writers["rivalry.ttl"].add(key, texts.turtle)
                    done.written += len(own)
                first = False
            if not whole:  # its share of the union only, from the query
                _add_share(writers, db, shared[graph.value])
                done.written += 2
        for part, query in parts:
            if isinstance(part, ox.DefaultGraph) and query is not None:
                _add_share(writers, db, query)  # the default graph's own triples, if any
        writers["rivalry.jsonld"].add(None, b"]")
        for name in FILES:
            writers[name].finish()
            files[name].flush()
            os.fsync(files[name].fileno())
        for name in FILES:
            os.replace(tmp[name], folder / f"{name}.gz")
    except BaseException:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise
    finally:
        for w in writers.values():
            w.close()
        for f in files.values():
            f.close()
        source.close()
    state.mkdir(parents=True, exist_ok=True)
    layout = {"layout": LAYOUT, "buckets": buckets,
              "files": {name: [s.to_record() for s in writers[name].segments]
                        for name in FILES}}
    kept = state / f".{STATE_DUMPS}.{os.getpid()}"
    kept.write_text(json.dumps(layout, separators=(",", ":")), "utf-8")
    os.replace(kept, state / STATE_DUMPS)
    return done


def _add_share(writers: dict[str, SegmentedGzip], db: ox.Store, query: str) -> None:
    answer = cast(ox.QueryTriples, db.query(query))
    try:
        triples = list(answer)
    finally:
        del answer  # dropped in this thread, as pyoxigraph's answers must be
    if triples:
        share = Texts.of_triples(triples)
        writers["rivalry.nt"].add(None, share.ntriples)
        writers["rivalry.ttl"].add(None, share.turtle)


def _graph_segments(db: ox.Store, graph: ox.NamedNode, buckets: int,
                    changed: dict[str, set[Any]],
                    source: _Source, scratch: Path, first: bool, whole: bool,
                    size: int | None = None, *, read_once: bool = False
                    ) -> Iterable[tuple[int, Texts | None]]:
    """A graph's segments: (bucket, its texts), or (bucket, None) where the previous
    build's can be copied (no changed quad in it, and every dump has it). `first`: the
    graph is the first, whose first segment opens the JSON-LD array (no comma before).
    `size`: its number of quads, when the caller has counted them. A graph cut into
    buckets, none of them copied, is dumped once as N-Triples into a file in `scratch`
    (removed after), whose lines are then read into buckets, a run at a time."""
    def copied(bucket: int) -> bool:
        key = f"{graph.value} {bucket}"
        if key in changed:
            return False
        names = ["rivalry.nq", "rivalry.trig"] + (["rivalry.nt", "rivalry.ttl"] if whole
                                                  else [])
        return all(source.has(name, key) for name in names) and source.has(
            "rivalry.jsonld", _jsonld_key(key, first and bucket == 0))

    if buckets == 1:
        yield 0, None if copied(0) else Texts.of_graph(db, graph, read_once=read_once)
        return
    keep = {b for b in range(buckets) if copied(b)}
    if len(keep) == buckets:
        yield from ((b, None) for b in range(buckets))
        return
    if not keep:  # nothing to copy: the graph dumped once, read once per run of buckets
        lines = scratch / f".{zlib.crc32(graph.value.encode()):08x}.nt.{os.getpid()}"
        try:
            db.dump(str(lines), format=NT, from_graph=graph)
            for run in passes_for(graph_size(db, graph) if size is None else size, buckets):
                parts = _bucket_lines(lines, buckets, run)
                for b in run:
                    yield b, Texts.of_ntriples(b"".join(parts.pop(b)))
        finally:
            lines.unlink(missing_ok=True)
        return
    for b in range(buckets):
        yield b, None if b in keep else Texts.of_triples(_bucket_triples(
            db, graph, b, source, changed.get(f"{graph.value} {b}", set())))


def _bucket_lines(path: Path, buckets: int, run: range) -> dict[int, list[bytes]]:
    """The lines of a graph's N-Triples dump (`path`) in each bucket of `run`, in the
    order of the dump. A line's subject is its text up to the first space, as
    `bucket_of` reads it: an IRI or a blank node (RDF 1.2 puts a triple term only where
    an object goes), neither of which holds a space. A store dumps each subject's triples
    together: the bucket is found once per subject."""
    parts: dict[int, list[bytes]] = {b: [] for b in run}
    last: bytes | None = None
    part: list[bytes] | None = None
    with open(path, "rb") as f:
        for line in f:
            subject = line[:line.index(b" ")]
            if subject != last:
                if not subject.startswith((b"<", b"_:")):
                    raise ValueError(f"{path}: a subject neither an IRI nor a blank node: "
                                     f"{line[:200]!r}")
                last = subject
                part = parts.get(zlib.crc32(subject) & (buckets - 1))
            if part is not None:
                part.append(line)
    return parts


def _bucket_triples(db: ox.Store, graph: ox.NamedNode, bucket: int, source: _Source,
                    touched: set[Any]) -> list[ox.Triple]:
    """The triples of one bucket of a graph, read subject by subject: its subjects in
    the previous build's (from its N-Quads segment), and those of the graph's triples
    the change added in it (the database's own order is not known here, so a bucket
    written again may list its subjects in another order: the same triples)."""
    key = f"{graph.value} {bucket}"
    subjects: dict[Any, None] = {}
    if source.has("rivalry.nq", key):
        for q in ox.parse(source.text("rivalry.nq", key), format=ox.RdfFormat.N_QUADS):
            subjects[q.subject] = None
    for s in sorted(touched - subjects.keys(), key=str):
        subjects[s] = None
    return [q.triple for s in subjects for q in db.quads_for_pattern(s, None, None, graph)]
