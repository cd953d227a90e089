"""The store: the contract every store keeps (`Store`), where built graphs live on disk,
how a new build replaces the old one atomically, and the one place queries are run
(CONTRIBUTING.md, convention 3).

Two stores keep the contract: `EmbeddedStore` (pyoxigraph on disk, below) and
`rivalry.graph.remote.RemoteStore` (an external SPARQL 1.1 server). Code that reads the
graph takes a `Store` and never asks which kind it has.

Layout of a store directory (the `store` setting, RIVALRY_STORE):

    STORE/builds/<build-id>/db/          a pyoxigraph (RocksDB) database
    STORE/builds/<build-id>/build.json   when and from what it was built, its size
    STORE/current -> builds/<build-id>   the build being served

A build writes a new directory and only then repoints `current`, with a rename, which
POSIX makes atomic: readers see the old build or the new one, never half of one, and a
build that fails leaves `current` as it was.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyoxigraph as ox

from rivalry.graph import GraphName, Subject, Term, term_value
from rivalry.graph.errors import (
    NoBuild,
    QueryError,
    QuerySyntaxError,
    QueryTimeout,
    StoreError,
    StoreWriteError,
)
from rivalry.graph.isolate import (
    TimeLimitExceeded,
    forbid_network,
    run_with_time_limit,
    supervised,
)
from rivalry.graph.results import Answer, collect_answer, trim_rows, write
from rivalry.graph.sparql import check_query, explain_syntax_error, with_row_limit

#: Given the kind of answer ("select", "ask" or "graph"), the results format to write it
#: in natively, or None to collect it for the caller to write.
ResultFormat = Callable[[str], "ox.QueryResultsFormat | ox.RdfFormat | None"]

#: How many earlier builds to keep beside the current one (for a server still reading
#: one, and to roll back by hand).
KEEP_PREVIOUS_BUILDS = 2

DEFAULT_STORE = "var/store"


def open_store(settings: dict[str, Any]) -> Store:
    """The store the settings name: an external SPARQL server when `sparql_endpoint` is
    set, the embedded store at `store` otherwise."""
    if settings.get("sparql_endpoint"):
        from rivalry.graph.remote import RemoteStore

        return RemoteStore.from_settings(settings)
    return EmbeddedStore(settings["store"], in_memory=settings.get("store_in_memory", False))


@dataclass(frozen=True)
class BuildInfo:
    build_id: str
    built_at: str
    quads: int
    graphs: int
    content_hash: str
    inferred: int = 0

    @classmethod
    def read(cls, path: Path) -> BuildInfo:
        data = json.loads(path.read_text("utf-8"))
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class PendingLoad:
    """A build an external store is loading, or failed to finish loading: while it is
    there, the server may hold a mix of two builds."""

    build_id: str
    started_at: str
    state: str  # "loading", or "failed" (the load stopped; rerun `rivalry build`)
    error: str | None = None


class GraphReader(Protocol):
    """What reading the graph needs of a store: trusted queries, quad patterns and the
    sizes of the named graphs. Every `Store` is one; so is a build's graph in memory
    (rivalry.graph.products.BuiltGraph), from which the figures of a build are computed."""

    def query(self, sparql: str, *, default_graph_uris: list[str] | None = None,
              named_graph_uris: list[str] | None = None,
              bindings: dict[str, Term] | None = None) -> QueryResult:
        """A trusted query (the project's own, or the command line's), read whole."""
        ...

    def quads_for_pattern(self, subject: Subject | None, predicate: ox.NamedNode | None,
                          obj: Term | None, graph: GraphName | None = None
                          ) -> Iterator[ox.Quad]:
        """The quads matching a pattern, in any of the build's named graphs unless
        `graph` is given."""
        ...

    def graph_sizes(self) -> dict[str, int]:
        """The number of triples in each of the build's named graphs."""
        ...


@runtime_checkable
class Store(GraphReader, Protocol):
    """What rivalry needs of a store: the build it serves, queries, quads, and the files
    derived from the build. `EmbeddedStore` and `rivalry.graph.remote.RemoteStore` keep
    this contract; tests/test_store_contract.py checks both against it.

    Queries see the union of the build's named graphs as their default graph and those
    graphs as their named graphs, unless the request names its own dataset; nothing
    else the store may hold (an external server's own graphs) is ever seen.
    """

    @property
    def kind(self) -> str:
        """"embedded" or "remote"."""
        ...

    @property
    def info(self) -> BuildInfo:
        """The build being served; NoBuild when there is none yet."""
        ...

    @property
    def known_build_id(self) -> str | None:
        """The id of the build answers are being read from, without looking for a newer
        one (None before the first read)."""
        ...

    def confirm_build_id(self) -> str | None:
        """Look now whether the build answers were read from is still the whole, current
        one; its id if so, None if a new build is loading or has replaced it (answers
        read meanwhile may mix two builds, and must not be kept)."""
        ...

    def pending_load(self) -> PendingLoad | None:
        """A build being loaded, or left half loaded, beside the one served."""
        ...

    def refresh(self) -> None:
        """Forget what is known of the current build; the next call reads it again."""
        ...

    @property
    def files_dir(self) -> Path:
        """The directory of files derived from the build being served (search index)."""
        ...

    @property
    def cache_dir(self) -> Path:
        """Where the dumps of the build being served are written."""
        ...

    def execute(self, sparql: str, limits: QueryLimits, *,
                default_graph_uris: list[str] | None = None,
                named_graph_uris: list[str] | None = None,
                bindings: dict[str, Term] | None = None,
                result_format: ResultFormat | None = None) -> Answer:
        """A query from the public endpoint: checked, then run within `limits`."""
        ...

    def quads(self, graph: str | None = None) -> Iterator[ox.Quad]:
        ...

    def named_graphs(self) -> list[str]:
        """The build's named graphs, sorted."""
        ...



class BuildTarget(Protocol):
    """Where `rivalry.graph.build.build` publishes a build made in memory: an external
    SPARQL server (RemoteStore). (A store directory, StoreLocation, is written by the
    build itself: a new build directory, published by renaming it.)"""

    def publish_build(self, memory: ox.Store, info: BuildInfo,
                      write_files: Callable[[Path], None],
                      progress: Callable[[str], None]) -> Path:
        """Make `memory` the current build, all of it or nothing of what is served.
        `write_files(directory)` writes the files derived from the build (its search
        index) where the served build's `files_dir` will be. Returns where the build
        went."""
        ...


class StoreLocation:
    """A store directory on disk, holding builds and the `current` pointer."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.builds = self.root / "builds"
        self.current_link = self.root / "current"

    def current(self) -> Path | None:
        """The directory of the build being served, or None before the first build."""
        try:
            target = os.readlink(self.current_link)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"{self.current_link} is not a build pointer: {e.strerror}") from None
        path = (self.root / target).resolve()
        return path if (path / "db").is_dir() else None

    def current_info(self) -> BuildInfo | None:
        current = self.current()
        return BuildInfo.read(current / "build.json") if current else None

    def new_build_dir(self, build_id: str) -> Path:
        path = self.builds / f"{build_id}.partial-{os.getpid()}"
        try:
            self.builds.mkdir(parents=True, exist_ok=True)
            if path.exists():
                shutil.rmtree(path)
            path.mkdir()
        except OSError as e:
            raise StoreWriteError.from_os_error(e, f"the store at {self.root}") from None
        return path

    def publish(self, partial: Path, info: BuildInfo) -> Path:
        """Make a finished build the current one, atomically, and prune old builds."""
        try:
            return self._publish(partial, info)
        except OSError as e:
            raise StoreWriteError.from_os_error(e, f"the store at {self.root}") from None

    def _publish(self, partial: Path, info: BuildInfo) -> Path:
        (partial / "build.json").write_text(json.dumps(info.to_dict(), indent=2) + "\n", "utf-8")
        final = self.builds / info.build_id
        if final.exists():  # the same content rebuilt: keep the new copy
            shutil.rmtree(final)
        os.replace(partial, final)
        tmp_link = self.root / f".current.{os.getpid()}"
        if tmp_link.is_symlink():
            tmp_link.unlink()
        os.symlink(os.path.relpath(final, self.root), tmp_link)
        os.replace(tmp_link, self.current_link)
        _fsync_dir(self.root)
        self.prune()
        return final

    def prune(self) -> None:
        """Remove failed partial builds and all but the newest earlier builds."""
        current = self.current()
        finished = []
        for path in self.builds.iterdir() if self.builds.is_dir() else ():
            if ".partial-" in path.name:
                pid = path.name.rsplit("-", 1)[-1]
                if not (pid.isdigit() and _pid_alive(int(pid))):
                    shutil.rmtree(path, ignore_errors=True)
            elif path != current and (path / "build.json").exists():
                finished.append(path)
        finished.sort(key=lambda p: (p / "build.json").stat().st_mtime, reverse=True)
        for old in finished[KEEP_PREVIOUS_BUILDS:]:
            shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, run by another user
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_error(error: OSError) -> OSError:
    """pyoxigraph reports RocksDB's I/O errors as OSError without an errno: read it back
    from the message (e.g. "No space left on device")."""
    import errno

    if error.errno:
        return error
    message = str(error)
    for code in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM):
        if os.strerror(code) in message:
            return OSError(code, os.strerror(code))
    return error


class EmbeddedStore:
    """The current build of a store directory, opened read-only with pyoxigraph.

    When a new build is published, the next call picks it up: `refresh()` compares the
    `current` pointer with the build it has open.
    """

    def __init__(self, location: StoreLocation | str | os.PathLike[str],
                 in_memory: bool = False) -> None:
        self.location = (location if isinstance(location, StoreLocation)
                         else StoreLocation(location))
        #: Serve from a copy in memory: queries run several times faster than on RocksDB,
        #: at the cost of loading the build when it is opened and of the memory it takes.
        self.in_memory = in_memory
        #: Follow the `current` pointer to each new build (True), or keep serving the
        #: build opened last until `reopen()` (a worker of `rivalry serve`, whose front
        #: moves every worker to a new build at once).
        self.follow = True
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._pointer: str | None = None  # the `current` link's text when last opened
        self._db: ox.Store | None = None
        self._info: BuildInfo | None = None
        self.refresh()

    def reopen(self) -> None:
        """Open the build that is current now, and keep serving it (stop following)."""
        self.follow = True
        try:
            self.refresh()
        finally:
            self.follow = False

    @property
    def known_build_id(self) -> str | None:
        """The id of the build open now, without looking for a newer one."""
        return self._info.build_id if self._info is not None else None

    def confirm_build_id(self) -> str | None:
        """A build on disk is opened whole and never changes: the one open is the one
        every answer came from."""
        return self.known_build_id

    def pending_load(self) -> PendingLoad | None:
        """Builds are published by one atomic rename: never half loaded."""
        return None

    def refresh(self) -> None:
        if not self.follow and self._db is not None:
            return
        try:  # one system call when nothing changed (twice per request)
            pointer = os.readlink(self.location.current_link)
        except OSError:
            pointer = None
        if pointer is not None and pointer == self._pointer and self._db is not None:
            return
        current = self.location.current()
        if current == self._path and self._db is not None:
            self._pointer = pointer
            return
        with self._lock:
            if current is None:
                raise NoBuild(
                    f"no graph has been built in {self.location.root}: run `rivalry build` "
                    "(or point RIVALRY_STORE at a built store)")
            try:
                db = ox.Store.read_only(str(current / "db"))
            except OSError as e:
                raise StoreError(f"cannot open the store at {current}: {e}") from None
            if self.in_memory:
                memory = ox.Store()
                memory.bulk_extend(db)
                del db  # closes the on-disk database: nothing of RocksDB is kept open
                db = memory
            self._db, self._path, self._pointer = db, current, pointer
            self._info = BuildInfo.read(current / "build.json")

    @property
    def build_dir(self) -> Path:
        """The directory of the build being served (its database, metadata, dumps)."""
        self.refresh()
        assert self._path is not None
        return self._path

    @property
    def info(self) -> BuildInfo:
        self.refresh()
        assert self._info is not None
        return self._info

    @property
    def db(self) -> ox.Store:
        self.refresh()
        assert self._db is not None
        return self._db

    def query(
        self,
        sparql: str,
        *,
        default_graph_uris: list[str] | None = None,
        named_graph_uris: list[str] | None = None,
        bindings: dict[str, Term] | None = None,
    ) -> QueryResult:
        """Run a trusted SPARQL query (the project's own, or the command line's). The
        default graph is the union of all graphs, unless the request names its default
        graphs (SPARQL 1.1 Protocol, 2.1.4). `bindings` binds variables to values (never
        pasted into the text)."""
        return run_query(self.db, sparql, default_graph_uris=default_graph_uris,
                         named_graph_uris=named_graph_uris, bindings=bindings)

    def execute(
        self,
        sparql: str,
        limits: QueryLimits,
        *,
        default_graph_uris: list[str] | None = None,
        named_graph_uris: list[str] | None = None,
        bindings: dict[str, Term] | None = None,
        result_format: ResultFormat | None = None,
    ) -> Answer:
        """Run a query from the public endpoint, under its limits (see `execute`).

        The query is checked here first; then it runs where its time limit can stop it:
        inline in a supervised worker of `rivalry serve` (whose supervisor kills it),
        otherwise in a child process killed past the limit. Trusted callers with no time
        limit (math.inf) run inline."""
        options: dict[str, Any] = {"default_graph_uris": default_graph_uris,
                                   "named_graph_uris": named_graph_uris,
                                   "bindings": bindings}
        check_query(sparql, max_depth=limits.max_depth, max_tokens=limits.max_tokens,
                    service_allowlist=limits.service_allowlist)
        if math.isinf(limits.time_limit) or supervised():
            return execute(self.db, sparql, limits, result_format=result_format, **options)
        formats = {}
        for kind in ("select", "ask", "graph"):
            fmt = result_format(kind) if result_format else None
            if fmt is not None:
                formats[kind] = fmt.media_type
        db = self.db
        source: ox.Store | str = db if self.in_memory else str(self.build_dir / "db")
        try:
            return run_with_time_limit(_execute_in_child, (source, sparql, limits, options,
                                                           formats),
                                       limits.time_limit, "the query", memory=limits.memory)
        except TimeLimitExceeded:
            raise query_timeout(limits) from None

    def quads(self, graph: str | None = None) -> Iterator[ox.Quad]:
        g = ox.NamedNode(graph) if graph else None
        return self.db.quads_for_pattern(None, None, None, g)

    def quads_for_pattern(self, subject: Subject | None, predicate: ox.NamedNode | None,
                          obj: Term | None, graph: GraphName | None = None
                          ) -> Iterator[ox.Quad]:
        """Quads matching a pattern, in any graph unless `graph` is given."""
        return self.db.quads_for_pattern(subject, predicate, obj, graph)

    @property
    def files_dir(self) -> Path:
        return self.build_dir

    @property
    def cache_dir(self) -> Path:
        """Where files derived from the current build (dumps) are kept."""
        return self.build_dir / "dumps"

    @property
    def kind(self) -> str:
        return "embedded"

    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self.db.named_graphs() if isinstance(g, ox.NamedNode))

    def graph_sizes(self) -> dict[str, int]:
        return graph_sizes(self.db)


def graph_sizes(db: ox.Store) -> dict[str, int]:
    """The number of triples in each named graph of a pyoxigraph store."""
    rows = run_query(db, "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } "
                         "GROUP BY ?g").rows()
    return {term_value(g): int(term_value(n)) for g, n in rows}


class QueryResult:
    """The answer to a query: solutions (SELECT), a boolean (ASK) or triples (CONSTRUCT,
    DESCRIBE). Solutions and triples are streamed: read them once, by iterating or by
    serializing. `QueryResult.of(answer)` holds an answer read whole (an external
    store's)."""

    def __init__(self, raw: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | Answer
                 ) -> None:
        self.raw = raw
        if isinstance(raw, Answer):
            self.kind = raw.kind
            self.variables = list(raw.variables)
        elif isinstance(raw, ox.QuerySolutions):
            self.kind = "select"
            self.variables = [v.value for v in raw.variables]
        elif isinstance(raw, ox.QueryBoolean):
            self.kind = "ask"
            self.variables = []
        else:
            self.kind = "graph"
            self.variables = []

    @classmethod
    def of(cls, answer: Answer) -> QueryResult:
        return cls(answer)

    @property
    def boolean(self) -> bool:
        if isinstance(self.raw, Answer):
            return self.raw.boolean
        return bool(self.raw)

    def rows(self) -> Iterator[list[Term | None]]:
        if isinstance(self.raw, Answer):
            yield from (list(row) for row in self.raw.rows)
            return
        assert isinstance(self.raw, ox.QuerySolutions)
        for solution in self.raw:
            yield [solution[v] for v in self.variables]

    def triples(self) -> Iterator[ox.Triple]:
        if self.kind != "graph":
            raise QueryError("a SELECT or ASK query gives a results table, not triples")
        if isinstance(self.raw, Answer):
            return iter(self.raw.triples)
        assert isinstance(self.raw, ox.QueryTriples)
        return iter(self.raw)

    def serialize(self, fmt: ox.QueryResultsFormat | ox.RdfFormat) -> bytes:
        if isinstance(self.raw, Answer):
            if (self.kind == "graph") != isinstance(fmt, ox.RdfFormat):
                raise QueryError("a CONSTRUCT or DESCRIBE query gives triples, a SELECT or "
                                 "ASK query a results table")
            return write(self.raw, fmt)
        if isinstance(self.raw, ox.QueryTriples):
            if not isinstance(fmt, ox.RdfFormat):
                raise QueryError("a CONSTRUCT or DESCRIBE query gives triples, not a results table")
            return ox.serialize(list(self.raw), format=fmt) or b""
        if not isinstance(fmt, ox.QueryResultsFormat):
            raise QueryError("a SELECT or ASK query gives a results table, not triples")
        return self.raw.serialize(format=fmt) or b""


@dataclass(frozen=True)
class QueryLimits:
    """The limits every query from the public endpoint runs under; each is a setting."""

    time_limit: float = 10.0  # seconds; math.inf runs the query in the calling thread
    memory: int = 0  # bytes a query may allocate beyond the process's own; 0: no cap
    row_limit: int = 10_000
    max_depth: int = 100
    max_tokens: int | None = 5_000
    service_allowlist: tuple[str, ...] = ()


def dataset_options(
    shape_has_dataset: bool,
    default_graph_uris: list[str] | None,
    named_graph_uris: list[str] | None,
) -> dict[str, Any]:
    """pyoxigraph options for the query's RDF dataset (SPARQL 1.1 Protocol, 2.1.4).

    A dataset given in the request wins over the query's FROM / FROM NAMED; a query's own
    FROM clauses win over the union default graph (which pyoxigraph would otherwise
    apply instead of them).
    """
    if default_graph_uris or named_graph_uris:
        return {
            "default_graph": [ox.NamedNode(u) for u in default_graph_uris or []],
            "named_graphs": [ox.NamedNode(u) for u in named_graph_uris or []],
        }
    if shape_has_dataset:
        return {}
    return {"use_default_graph_as_union": True}


def execute(
    db: ox.Store,
    sparql: str,
    limits: QueryLimits,
    *,
    default_graph_uris: list[str] | None = None,
    named_graph_uris: list[str] | None = None,
    bindings: dict[str, Term] | None = None,
    result_format: ResultFormat | None = None,
) -> Answer:
    """The public endpoint's choke point: check and run a query, here and now.

    Refuses updates, SERVICE outside the allow-list and pathological nesting before the
    engine sees the query. Keeps at most `row_limit` rows or triples (and says so). The
    time limit is not applied here: `EmbeddedStore.execute` runs this where the work can
    be killed when its time is up (see rivalry.graph.isolate).

    When `result_format` names a results format for the answer's kind, SELECT and ASK
    answers come back already written by pyoxigraph (`Answer.body`): the row cap is then
    a top-level LIMIT one above the cap, and the extra row, if any, is dropped. That
    spares turning every row into Python objects (docs/benchmarks.md has the effect).
    """
    shape = check_query(sparql, max_depth=limits.max_depth, max_tokens=limits.max_tokens,
                        service_allowlist=limits.service_allowlist)
    options = dataset_options(shape.has_dataset_clause, default_graph_uris, named_graph_uris)
    if bindings:
        options["substitutions"] = {ox.Variable(k): v for k, v in bindings.items()}
    kind = shape.kind
    fmt = result_format(kind) if result_format and kind else None
    try:
        written = (_written(db, sparql, kind, fmt, options, limits.row_limit)
                   if fmt and kind else None)
        return written or collect_answer(db.query(sparql, **options), limits.row_limit)
    except SyntaxError as e:
        raise syntax_error(e, sparql) from None
    except (ValueError, OSError, RuntimeError) as e:
        raise QueryError(f"the query failed: {e}") from None


def _execute_in_child(source: ox.Store | str, sparql: str, limits: QueryLimits,
                      options: dict[str, Any], formats: dict[str, str]) -> Answer:
    """`execute` in a forked child: the in-memory store is the parent's (shared copy on
    write); an on-disk store is opened again, since a RocksDB handle does not survive a
    fork. Without a SERVICE endpoint allowed, the child can open no network socket at
    all (`forbid_network`): should the checks miss a SERVICE, the engine reaches no one."""
    if not limits.service_allowlist:
        forbid_network()
    db = source if isinstance(source, ox.Store) else ox.Store.read_only(source)

    def result_format(kind: str) -> ox.QueryResultsFormat | ox.RdfFormat | None:
        media_type = formats.get(kind)
        if not media_type:
            return None
        if kind == "graph":
            return ox.RdfFormat.from_media_type(media_type)
        return ox.QueryResultsFormat.from_media_type(media_type)

    return execute(db, sparql, limits, result_format=result_format, **options)


def query_timeout(limits: QueryLimits) -> QueryTimeout:
    return QueryTimeout(f"the query ran longer than {limits.time_limit:g} s and was stopped "
                        "(setting query_time_limit); narrow it, or add a LIMIT")


#: Graph formats pyoxigraph writes a line per triple in: the cap counts lines.
LINE_FORMATS = (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS)


class _Enough(Exception):
    """A writer has what it needs: the serializer may stop."""


class _Lines(io.RawIOBase):
    """Where pyoxigraph writes an answer of a line per triple: kept until it has more
    than `limit` lines, then _Enough stops the writing."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.parts: list[bytes] = []
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.count > self.limit:  # what a buffer still flushes after the stop
            return len(data)
        part = bytes(data)
        self.parts.append(part)
        self.count += part.count(b"\n")
        if self.count > self.limit:
            raise _Enough
        return len(part)


def _written(db: ox.Store, sparql: str, kind: str,
             fmt: ox.QueryResultsFormat | ox.RdfFormat, options: dict[str, Any],
             row_limit: int) -> Answer | None:
    """The answer written by pyoxigraph in `fmt`, or None when it cannot be capped that way
    (the caller collects its rows instead)."""
    if kind == "graph":
        if fmt not in LINE_FORMATS:
            return None
        raw = db.query(sparql, **options)
        assert isinstance(raw, ox.QueryTriples)  # the query's form was read: kind
        # written by pyoxigraph, and stopped a block past the cap: an answer of millions
        # of triples was written whole before being cut, past the request's memory
        lines = _Lines(row_limit)
        out = io.BufferedWriter(lines, buffer_size=1 << 16)
        try:
            raw.serialize(out, format=ox.RdfFormat.N_TRIPLES)
            out.flush()
        except _Enough:
            pass
        body = b"".join(lines.parts)
        truncated = lines.count > row_limit
        if truncated:  # a line per triple: literals escape their line breaks
            body = b"\n".join(body.split(b"\n", row_limit)[:row_limit]) + b"\n"
        return Answer("graph", body=body, body_format=fmt.media_type, truncated=truncated,
                      limit=row_limit if truncated else None)
    if not isinstance(fmt, ox.QueryResultsFormat):
        return None
    if kind == "ask":
        raw = db.query(sparql, **options)
        assert isinstance(raw, ox.QueryBoolean)
        return Answer("ask", boolean=bool(raw), body=raw.serialize(format=fmt),
                      body_format=fmt.media_type)
    capped = with_row_limit(sparql, row_limit + 1)
    if capped is None:
        return None
    try:
        raw = db.query(capped, **options)
    except SyntaxError:
        return None  # reported by the caller, for the text as it was sent
    assert isinstance(raw, ox.QuerySolutions)
    variables = [v.value for v in raw.variables]
    body, truncated = trim_rows(raw.serialize(format=fmt) or b"", fmt, row_limit)
    return Answer("select", variables, body=body, body_format=fmt.media_type,
                  truncated=truncated,
                  limit=row_limit if truncated else None)


def describe_syntax_error(error: SyntaxError, text: str | None = None) -> str:
    """pyoxigraph says "error at 3:14: expected one of [...character classes...]"; say
    it the way people read it, in one line: with the query's text, what is wrong (an
    undeclared prefix, the query form, an unclosed group, the unexpected token and what
    could have come there), at which line and column."""
    message = str(error)
    if text is not None:
        problem = explain_syntax_error(text, message)
        if problem.line is not None:
            return (f"SPARQL syntax error at line {problem.line}, column {problem.column}: "
                    f"{problem.message}")
        return f"SPARQL syntax error: {problem.message}"
    match = re.match(r"error at (\d+):(\d+): (.*)", message, re.S)
    if match:
        line, column, reason = match.groups()
        return f"SPARQL syntax error at line {line}, column {column}: {' '.join(reason.split())}"
    return f"SPARQL syntax error: {' '.join(message.split())}"


def syntax_error(error: SyntaxError, text: str) -> QuerySyntaxError:
    problem = explain_syntax_error(text, str(error))
    return QuerySyntaxError(describe_syntax_error(error, text), line=problem.line,
                            column=problem.column, token=problem.token)


def run_query(
    db: ox.Store,
    sparql: str,
    *,
    default_graph_uris: list[str] | None = None,
    named_graph_uris: list[str] | None = None,
    bindings: dict[str, Term] | None = None,
) -> QueryResult:
    kwargs: dict[str, Any] = {}
    if bindings:
        kwargs["substitutions"] = {ox.Variable(k): v for k, v in bindings.items()}
    if default_graph_uris:
        kwargs["default_graph"] = [ox.NamedNode(u) for u in default_graph_uris]
    else:
        kwargs["use_default_graph_as_union"] = True
    if named_graph_uris:
        kwargs["named_graphs"] = [ox.NamedNode(u) for u in named_graph_uris]
    try:
        return QueryResult(db.query(sparql, **kwargs))
    except SyntaxError as e:
        raise syntax_error(e, sparql) from None
    except (ValueError, OSError) as e:
        raise QueryError(f"the query failed: {e}") from None
