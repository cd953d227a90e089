"""What a build writes beside its database, so that the server never computes it on a
request: the dumps of the whole graph (gzip-compressed, one file per format; a build
writes them in segments, rivalry.graph.segments) and the figures of /stats and VoID. They
go into the build's own directory (published with it, by the same atomic rename) or, for
an external store, into the build's cache directory.

A build made before these existed, or with `--no-dumps`, is still served: the server then
writes each missing dump on demand, each format on its own and atomically, whole
(`write_dump`, rivalry.server.publish).
"""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox
from zlib_ng import zlib_ng

from rivalry.graph import term_value
from rivalry.graph.export import (
    DUMPS,
    UnionParts,
    dump_database,
)
from rivalry.graph.store import QueryResult, graph_sizes, run_query

#: The file of figures beside the dumps.
FIGURES = "figures.json"
#: The values of the list pages' filters (rivalry.graph.listing.FacetValues).
FACETS = "facets.json"
#: gzip level of the dumps: most of the gain of level 9 at a fraction of its time.
GZIP_LEVEL = 6


class BuiltGraph:
    """A store in memory, seen through the few methods the figures need (the same as the
    embedded store's: `query`, `quads_for_pattern`)."""

    def __init__(self, db: ox.Store) -> None:
        self.db = db
        self._sizes: dict[str, int] | None = None

    def query(self, sparql: str, *, bindings: dict[str, Any] | None = None,
              **_: Any) -> QueryResult:
        return run_query(self.db, sparql, bindings=bindings)

    def quads_for_pattern(self, s: Any, p: Any, o: Any, g: Any = None) -> Any:
        return self.db.quads_for_pattern(s, p, o, g)

    def graph_sizes(self) -> dict[str, int]:
        """Read once (VoID's figures and the union's size both need them)."""
        if self._sizes is None:
            self._sizes = graph_sizes(self.db)
        return dict(self._sizes)


def write_dump(db: ox.Store, name: str, directory: Path) -> int:
    """Write one dump, gzip-compressed, atomically (a temporary name, then a rename; the
    temporary file is removed if anything fails). Returns its size."""
    return _write_gzip(directory, name, lambda out: dump_database(db, DUMPS[name], out))


def _write_gzip(directory: Path, name: str, write: Callable[[IO[bytes]], None]) -> int:
    target = directory / f"{name}.gz"
    tmp = directory / f".{name}.gz.{os.getpid()}"
    try:
        with open(tmp, "wb") as raw:
            out = GzipBlocks(raw, GZIP_LEVEL)
            try:
                write(cast(IO[bytes], out))
                out.finish()
            finally:
                out.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target.stat().st_size


class GzipBlocks(io.RawIOBase):
    """A gzip file written in blocks: the small pieces a serializer writes (pyoxigraph's
    are 8 KiB) are gathered into blocks of `BLOCK` bytes, and a thread of its own
    compresses each block and writes it while the serializer goes on with the next (zlib
    compresses without holding Python's interpreter lock). At most one block is being
    compressed while the next is gathered. The gzip header names no file and no time:
    the same content gives the same bytes. `finish` ends the stream; `close` without it
    leaves the file cut short (the caller removes it)."""

    BLOCK = 1 << 20

    def __init__(self, raw: IO[bytes], level: int) -> None:
        super().__init__()
        self._raw = raw
        self._deflate = zlib_ng.compressobj(level, zlib_ng.DEFLATED, 16 + zlib_ng.MAX_WBITS)
        self._pieces: list[bytes] = []
        self._size = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rivalry-gzip")
        self._last: Future[None] | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self._pieces.append(piece)
        self._size += len(piece)
        if self._size >= self.BLOCK:
            self._hand_over(final=False)
        return len(piece)

    def _hand_over(self, *, final: bool) -> None:
        block = b"".join(self._pieces)
        self._pieces, self._size = [], 0
        if self._last is not None:
            self._last.result()  # raises what writing the previous block raised
        self._last = self._thread.submit(self._compress, block, final)

    def _compress(self, block: bytes, final: bool) -> None:
        data = self._deflate.compress(block)
        if final:
            data += self._deflate.flush()
        if data:
            self._raw.write(data)

    def finish(self) -> None:
        """Compress what is left and end the gzip stream."""
        self._hand_over(final=True)
        assert self._last is not None
        self._last.result()

    def close(self) -> None:
        if not self.closed:
            self._thread.shutdown(wait=True)
        super().close()


def union_size(db: ox.Store, parts: UnionParts, sizes: dict[str, int]) -> int:
    """The number of triples in the union of the graphs (VoID's void:triples), from the
    parts `write_union` writes it in: the size of each graph whose share is the whole
    graph (`sizes`, by graph), and the count of the others' shares. No set of triples is
    held, where a query of the distinct triples would hold every one."""
    total = 0
    for graph, query in parts:
        if query is None:
            total += sizes.get(term_value(graph), 0)
        else:
            answer = cast(ox.QueryTriples, db.query(query))  # a CONSTRUCT
            try:
                total += sum(1 for _ in answer)
            finally:
                del answer  # dropped in this thread, as pyoxigraph's answers must be
    return total


def write_figures(db: ox.Store, directory: Path, *, parts: UnionParts | None = None,
                  state: Path | None = None) -> None:
    """The figures of /stats and VoID, and the values of the list pages' filters (a file
    of their own: every list page reads it, and it is small), as JSON, atomically.
    VoID's number of triples is counted from the union's `parts` (`union_size`) when the
    caller has them, as a build has; otherwise a query counts them. `state`: where the
    next build finds the figures of /stats whole, to update them (rivalry.graph.refigure)."""
    from rivalry.graph.graphs import kept_figures
    from rivalry.graph.listing import member_counts
    from rivalry.graph.refigure import Figures
    from rivalry.graph.stats import stats
    from rivalry.graph.void import statistics

    graph = BuiltGraph(db)
    graph.graph_sizes()  # read once, before the threads that share them

    def void() -> Any:
        triples = None if parts is None else union_size(db, parts, graph.graph_sizes())
        return statistics(graph, triples=triples)

    # in two threads of about the same length (/stats' figures in one, the rest in the
    # other): pyoxigraph runs a query without holding Python's interpreter lock, so the
    # figures take both cores once nothing else of the build needs them
    with ThreadPoolExecutor(2, thread_name_prefix="figures") as pool:
        counted = pool.submit(stats, graph)
        rest = pool.submit(lambda: (void(), kept_figures(graph), member_counts(graph)))
        void_figures, kept, members = rest.result()
        keep_figures(graph, directory, Figures(counted.result(), void_figures, kept, members),
                     state)


def update_figures(db: ox.Store, directory: Path, previous: Path, change: Any,
                   parts: UnionParts, state: Path) -> int:
    """The figures, as `write_figures` writes them, updated from the previous build's
    (`previous`, its directory) for the `change` (rivalry.graph.refigure.Change). Returns
    how many nodes /stats counted again; raises rivalry.graph.refigure.NotUpdatable,
    saying why, when the figures must be counted whole instead."""
    from rivalry.graph.refigure import updated_figures

    graph = BuiltGraph(db)
    figures, counted = updated_figures(previous, db, change, graph,
                                       lambda sizes: union_size(db, parts, sizes))
    keep_figures(graph, directory, figures, state)
    return counted


def keep_figures(graph: BuiltGraph, directory: Path, figures: Any,
                 state: Path | None) -> None:
    """Write the figures (rivalry.graph.refigure.Figures) and the filters' values."""
    from rivalry.graph.listing import facet_values
    from rivalry.graph.refigure import STATE_STATS

    _write_json(directory / FIGURES, {
        "stats": figures.stats.to_record(),
        "void": asdict(figures.statistics),
        "graphs": figures.kept,
        "members": figures.members})
    _write_json(directory / FACETS, facet_values(graph))
    if state is not None:
        state.mkdir(parents=True, exist_ok=True)
        _write_json(state / STATE_STATS, figures.stats.to_record(whole=True))


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps(value, ensure_ascii=False), "utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def dumps_folder(directory: Path) -> Path:
    """Where a build's dumps and figures go (created)."""
    folder = directory / "dumps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_figures(directory: Path) -> dict[str, Any] | None:
    """The figures a build kept, or None for a build made before they were kept. Read
    once per process for each build (`_kept_file`): the answer is shared, not to be
    changed."""
    found = _kept_file(directory / FIGURES)
    return found if isinstance(found, dict) else None


def _kept_file(path: Path) -> Any:
    """A JSON file a build keeps beside its database, or None when there is none (or it
    cannot be read): pages read these on every request, so each is parsed once per
    process for each version of it (a build's files never change once published; a new
    build's have another path)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _read_json(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_json(path: str, mtime_ns: int, size: int) -> Any:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def build_stats(store: Any) -> Any:
    """The figures of /stats for the build a store serves: kept by the build, or computed
    now for a build made before they were kept."""
    from rivalry.graph.stats import Stats, stats

    figures = read_figures(store.cache_dir)
    return Stats.from_record(figures["stats"]) if figures else stats(store)


def build_facets(store: Any) -> Any:
    """The values of the list pages' filters for the build a store serves, as the build
    kept them (rivalry.graph.listing.FacetValues), or None for a build made before."""
    found = _kept_file(store.cache_dir / FACETS)
    if not isinstance(found, dict):
        return None
    return {name: [(v, n) for v, n in values] for name, values in found.items()}


def build_graph_figures(store: Any) -> dict[str, Any]:
    """The size and subjects of the named graphs whose figures the build kept
    (rivalry.graph.graphs.KEPT), by graph (rivalry.graph.graphs.SubjectFigures); empty
    for a build made before they were kept."""
    from rivalry.graph.graphs import SubjectFigures

    figures = read_figures(store.cache_dir) or {}
    return {iri: SubjectFigures.from_record(record)
            for iri, record in figures.get("graphs", {}).items()}


def build_member_counts(store: Any) -> dict[str, int] | None:
    """How many members each class has (rivalry.graph.listing.member_counts) as the build
    kept them, or None for a build made before they were kept."""
    figures = read_figures(store.cache_dir) or {}
    members = figures.get("members")
    return {str(c): int(n) for c, n in members.items()} if members is not None else None


def build_statistics(store: Any) -> Any:
    """The figures of VoID for the build a store serves, likewise."""
    from rivalry.graph.void import Statistics, statistics

    figures = read_figures(store.cache_dir)
    if not figures:
        return statistics(store)
    kept: dict[str, Any] = {name: dict(value) if isinstance(value, dict) else value
                            for name, value in figures["void"].items()}  # not the shared dicts
    return Statistics(**kept)
