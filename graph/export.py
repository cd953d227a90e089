"""Writing the whole graph out, for `rivalry export` and the dumps (rivalry.graph.products)."""

from __future__ import annotations

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


#: Every triple of the graph once, whatever graphs hold it: what the formats without named
#: graphs (Turtle, N-Triples) hold. pyoxigraph streams it, holding only the set of
#: triples already sent (encoded, a fraction of a copy of the store).
UNION_QUERY = ("CONSTRUCT { ?s ?p ?o } WHERE { SELECT DISTINCT ?s ?p ?o WHERE { "
               "{ ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } } }")


def dump_database(db: ox.Store, fmt: ox.RdfFormat, output: IO[bytes] | Path) -> None:
    """Write a pyoxigraph store out, natively (pyoxigraph's serializers, in the store's own
    order, the same for the same content). Formats without named graphs get the union of
    all graphs, each triple once."""
    target: Any = str(output) if isinstance(output, Path) else output
    if fmt.supports_datasets:
        db.dump(target, format=fmt, prefixes=_prefixes(fmt))
    else:
        union = db.query(UNION_QUERY)
        assert isinstance(union, ox.QueryTriples)  # a CONSTRUCT
        try:
            ox.serialize(union, target, format=fmt, prefixes=_prefixes(fmt))
        finally:
            # pyoxigraph's query answers must be dropped by the thread that made them: not
            # by whichever thread ends up holding the traceback of a failure
            del union


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
