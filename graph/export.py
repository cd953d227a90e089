"""Writing the whole graph out, for `rivalry export` and the dumps (rivalry.graph.products)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any

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


def _union_parts(db: ox.Store) -> Iterator[tuple[ox.NamedNode | ox.BlankNode | ox.DefaultGraph,
                                                 str | None]]:
    """The graphs in the order the union takes them (named graphs in IRI order, the default
    graph last), each with the CONSTRUCT query of its share of the union, or None where its
    share is the whole graph: a graph that shares no triple with another, as nearly every
    graph does (one query, `SHARED_GRAPHS`, finds the others)."""
    shared = {row["g"] for row in db.query(SHARED_GRAPHS)}  # type: ignore[union-attr]
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


def write_union_ntriples(db: ox.Store, output: IO[bytes]) -> None:
    """`union_triples` as N-Triples, the same lines in the same order, written by
    pyoxigraph graph by graph: a graph whose share of the union is the whole graph (nearly
    all of them) is dumped natively, without a triple passing through Python."""
    for graph, query in _union_parts(db):
        if query is None:
            db.dump(output, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
            continue
        triples = db.query(query)
        try:
            ox.serialize(triples, output, format=ox.RdfFormat.N_TRIPLES)  # type: ignore[arg-type]
        finally:
            del triples  # dropped in this thread, as pyoxigraph's answers must be


def dump_database(db: ox.Store, fmt: ox.RdfFormat, output: IO[bytes] | Path) -> None:
    """Write a pyoxigraph store out, natively (pyoxigraph's serializers, in the store's own
    order, the same for the same content). Formats without named graphs get the union of
    all graphs, each triple once (`union_triples`)."""
    target: Any = str(output) if isinstance(output, Path) else output
    if fmt.supports_datasets:
        db.dump(target, format=fmt, prefixes=_prefixes(fmt))
    elif fmt == ox.RdfFormat.N_TRIPLES:
        if isinstance(output, Path):
            with open(output, "wb") as out:
                write_union_ntriples(db, out)
        else:
            write_union_ntriples(db, output)
    else:
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
