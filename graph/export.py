"""Writing the whole graph out, for `rivalry export` and the dumps."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from rivalry.graph import PREFIXES
from rivalry.graph.store import EmbeddedStore


def export_graph(store: EmbeddedStore, fmt: ox.RdfFormat, output: BinaryIO | Path) -> None:
    """Serialize every quad of the store. Formats without named graphs (Turtle,
    N-Triples) get the union of all graphs, each triple once."""
    target = str(output) if isinstance(output, Path) else output
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    if fmt.supports_datasets:
        quads = sorted(store.db.quads_for_pattern(None, None, None, None), key=str)
        ox.serialize(quads, target, format=fmt, prefixes=prefixes)
    else:
        triples = sorted({ox.Triple(q.subject, q.predicate, q.object)
                          for q in store.db.quads_for_pattern(None, None, None, None)}, key=str)
        ox.serialize(triples, target, format=fmt, prefixes=prefixes)
