"""Writing the whole graph out, for `rivalry export` and the dumps (rivalry.graph.products)."""

from __future__ import annotations

import io
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import pyoxigraph as ox

from rivalry.graph import PREFIXES

#: The dumps of the whole graph, by file name, and their formats.
DUMPS: dict[str, ox.RdfFormat] = {
    "rivalry.trig": ox.RdfFormat.TRIG,
    "rivalry.nq": ox.RdfFormat.N_QUADS,
    "rivalry.jsonld": ox.RdfFormat.JSON_LD,
    "rivalry.ttl": ox.RdfFormat.TURTLE,
    "rivalry.nt": ox.RdfFormat.N_TRIPLES,
}


def _prefixes(fmt: ox.RdfFormat) -> dict[str, str] | None:
    return PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None


#: The named graphs holding a triple that another graph holds too: each quad is looked up
#: in the index of triples, so that nothing grows with the graph.
SHARED_GRAPHS = ("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                 "GRAPH ?h { ?s ?p ?o } FILTER(?h != ?g) }")


def shared_graphs(db: ox.Store, may_share: Iterable[ox.NamedNode] | None = None
                  ) -> set[ox.NamedNode | ox.BlankNode]:
    """The named graphs that share a triple with another graph. `may_share`, when given,
    are the only graphs that can: every other pair of graphs is known to share none (a
    build has checked that no two facts files, nor a file and the ontology, state the
    same triple: rivalry.graph.build.check_stated_once). Then only their quads are
    matched against the other graphs, rather than every quad of the store."""
    if may_share is None:
        return {row["g"] for row in db.query(SHARED_GRAPHS)}  # type: ignore[union-attr]
    found: set[ox.NamedNode | ox.BlankNode] = set()
    names = " ".join(f"<{g.value}>" for g in may_share)
    if names:
        for row in db.query(  # type: ignore[union-attr]
                f"SELECT DISTINCT ?g ?h WHERE {{ VALUES ?g {{ {names} }} GRAPH ?g {{ ?s ?p ?o }} "
                "GRAPH ?h { ?s ?p ?o } FILTER(?h != ?g) }"):
            found.update((row["g"], row["h"]))
    return found


def shared_graphs_after(db: ox.Store, before: Iterable[ox.NamedNode],
                        added: Iterable[ox.Triple]) -> set[ox.NamedNode | ox.BlankNode]:
    """The named graphs that share a triple with another after a change, from the graphs
    that shared one before it (`before`) and every triple the change added to a graph
    (`added`), without reading the other graphs: a graph that shared no triple can have
    come to share one only through an added triple, whose graphs are looked up; one
    that did is checked again, as a removed triple may have been the one it shared."""
    found: set[ox.NamedNode | ox.BlankNode] = set()
    for graph in before:
        if graph in found:
            continue
        rows = cast(ox.QuerySolutions, db.query(
            f"SELECT ?h WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} GRAPH ?h {{ ?s ?p ?o }} "
            f"FILTER(?h != <{graph.value}>) }} LIMIT 1"))
        for row in rows:
            found.update((graph, row["h"]))
    for t in added:
        holders = {q.graph_name for q in db.quads_for_pattern(t.subject, t.predicate,
                                                               t.object, None)}
        holders.discard(ox.DefaultGraph())
        if len(holders) > 1:
            found.update(holders)  # type: ignore[arg-type]
    return found


def _union_parts(db: ox.Store, may_share: Iterable[ox.NamedNode] | None = None,
                 shared: set[ox.NamedNode | ox.BlankNode] | None = None
                 ) -> Iterator[tuple[ox.NamedNode | ox.BlankNode | ox.DefaultGraph, str | None]]:
    """The graphs in the order the union takes them (named graphs in IRI order, the default
    graph last), each with the CONSTRUCT query of its share of the union, or None where its
    share is the whole graph: a graph that shares no triple with another, as nearly every
    graph does (`shared` when the caller knows them, else `shared_graphs` finds them)."""
    if shared is None:
        shared = shared_graphs(db, may_share)
    for graph in sorted(db.named_graphs(), key=lambda g: g.value):
        if graph not in shared:
            yield graph, None
        elif isinstance(graph, ox.NamedNode):
            name = graph.value
            yield graph, (
                f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} "
                f"FILTER NOT EXISTS {{ GRAPH ?h {{ ?s ?p ?o }} FILTER(STR(?h) < "
                f"STR(<{name}>)) }} }}")
        else:  # rivalry names every graph by an IRI; a query cannot name a blank node
            raise ValueError(f"the graph _:{graph.value} is named by a blank node and "
                             "shares triples with another graph: name it by an IRI")
    yield ox.DefaultGraph(), (
        "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER NOT EXISTS { GRAPH ?h { ?s ?p ?o } } }")


def union_triples(db: ox.Store) -> Generator[ox.Triple, None, None]:
    """Every triple of the store once, whatever graphs hold it: what the formats without
    named graphs (Turtle, N-Triples) hold. Graph by graph, in IRI order (each in the
    store's order, subject by subject), a triple where its first graph has it, and last
    the default graph's triples that no named graph has. A query of the distinct triples
    would hold every one of them; this holds nothing that grows with the graph."""
    for graph, query in _union_parts(db):
        if query is None:
            yield from (q.triple for q in db.quads_for_pattern(None, None, None, graph))
        else:
            yield from db.query(query)  # type: ignore[misc]


UnionParts = list[tuple[ox.NamedNode | ox.BlankNode | ox.DefaultGraph, str | None]]


def union_parts(db: ox.Store, may_share: Iterable[ox.NamedNode] | None = None, *,
                shared: set[ox.NamedNode | ox.BlankNode] | None = None) -> UnionParts:
    """The graphs of the union in its order, each with the query of its share of it, or
    None where that is the whole graph (`_union_parts`; `may_share` as for
    `shared_graphs`; `shared`, the graphs that share a triple, when the caller knows
    them): computed once for several formats, as finding the graphs that share a triple
    reads every quad (or every quad of `may_share`)."""
    return list(_union_parts(db, may_share, shared))


class PartsWriter(io.RawIOBase):
    """One document written by pyoxigraph in parts (a graph at a time, between `begin`
    and `end`), as if written whole: the `@prefix` lines that open each part of a Turtle
    document are kept once, at the top, in the order of the prefixes' names (pyoxigraph
    writes them in its hash table's), and dropped from the later parts; everything else
    passes through to `out` as it comes. Counts the lines it passes (in N-Triples, one
    triple each)."""

    def __init__(self, out: IO[bytes]) -> None:
        super().__init__()
        self._out = out
        self._opening = False  # within a part's @prefix lines
        self._pending = b""  # the start of a part not yet known to be past them
        self._prefixes: list[bytes] | None = None  # the first part's, once written
        self.lines = 0

    def writable(self) -> bool:
        return True

    def begin(self) -> None:
        self._opening, self._pending = True, b""

    def write(self, data: Any) -> int:
        piece = bytes(data)
        if self._opening:
            self._pending += piece
            self._through_prefixes(final=False)
        else:
            self._pass(piece)
        return len(piece)

    def end(self) -> None:
        if self._opening:
            self._through_prefixes(final=True)
        self._opening = False

    def _through_prefixes(self, *, final: bool) -> None:
        found: list[bytes] = []
        text = self._pending
        start = 0
        while text.startswith(b"@prefix ", start):
            newline = text.find(b"\n", start)
            if newline < 0:
                break
            found.append(text[start:newline + 1])
            start = newline + 1
        rest = text[start:]
        if not final and (rest.startswith(b"@prefix ") or b"@prefix ".startswith(rest)):
            return  # what follows (another prefix's line, or not) has not come whole yet
        if self._prefixes is None and (found or rest):
            self._prefixes = sorted(found)
            self._pass(b"".join(self._prefixes))
        self._opening, self._pending = False, b""
        self._pass(rest)

    def _pass(self, data: bytes) -> None:
        if data:
            self.lines += data.count(b"\n")
            self._out.write(data)


#: The formats without named graphs whose documents, written a graph at a time, join into
#: one (`PartsWriter`): lines of triples, with at most a block of prefixes at the top.
CONCATENABLE = (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.TURTLE)


def write_union(db: ox.Store, fmt: ox.RdfFormat, output: IO[bytes],
                parts: UnionParts | None = None) -> int:
    """`union_triples` in a format without named graphs (N-Triples, Turtle), the same
    triples in the same order, written by pyoxigraph graph by graph: a graph whose share
    of the union is the whole graph (nearly all of them) is written natively, without a
    triple passing through Python. One of the `CONCATENABLE` formats. Returns the number
    of lines written (for N-Triples, the number of triples)."""
    if fmt not in CONCATENABLE:
        raise ValueError(f"{fmt.name} documents cannot be written a graph at a time")
    writer = PartsWriter(output)
    for graph, query in union_parts(db) if parts is None else parts:
        writer.begin()
        if query is None:
            db.dump(cast(IO[bytes], writer), format=fmt, from_graph=graph,
                    prefixes=_prefixes(fmt))
        else:
            triples = db.query(query)
            try:
                ox.serialize(triples, writer, format=fmt,  # type: ignore[arg-type]
                             prefixes=_prefixes(fmt))
            finally:
                del triples  # dropped in this thread, as pyoxigraph's answers must be
        writer.end()
    return writer.lines


def dump_database(db: ox.Store, fmt: ox.RdfFormat, output: IO[bytes] | Path) -> None:
    """Write a pyoxigraph store out, natively (pyoxigraph's serializers, in the store's own
    order, the same for the same content). Formats without named graphs get the union of
    all graphs, each triple once (`write_union`)."""
    target: Any = str(output) if isinstance(output, Path) else output
    if fmt.supports_datasets:
        db.dump(target, format=fmt, prefixes=_prefixes(fmt))
    elif fmt in CONCATENABLE:
        if isinstance(output, Path):
            with open(output, "wb") as out:
                write_union(db, fmt, out)
        else:
            write_union(db, fmt, output)
    else:  # RDF/XML and the like: one document, which parts cannot be joined into
        union = union_triples(db)
        try:
            ox.serialize(union, target, format=fmt, prefixes=_prefixes(fmt))
        finally:
            # pyoxigraph's query answers must be dropped by the thread that made them: not
            # by whichever thread ends up holding the traceback of a failure
            union.close()


def export_graph(store: Any, fmt: ox.RdfFormat, output: IO[bytes] | Path) -> None:
    """Serialize every quad of a store: the embedded store's database natively, another
    store (an external SPARQL server) through its quads."""
    db = getattr(store, "db", None)
    if isinstance(db, ox.Store):
        dump_database(db, fmt, output)
        return
    memory = ox.Store()
    memory.bulk_extend(store.quads_for_pattern(None, None, None, None))
    dump_database(memory, fmt, output)
