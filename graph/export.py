"""Writing the whole graph out, for `rivalry export` and the dumps."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from rivalry.graph import PREFIXES
from rivalry.graph.store import Store


def export_graph(store: Store | ox.Store, fmt: ox.RdfFormat, output: BinaryIO | Path) -> None:
    """Serialize every quad of a store (or of a build still in memory). Formats without
    named graphs (Turtle, N-Triples) get the union of all graphs, each triple once."""
    _serialize(_every_quad(store), fmt, output)


def _every_quad(store: Store | ox.Store) -> list[ox.Quad]:
    return list(store) if isinstance(store, ox.Store) else list(store.quads())


def _serialize(every: list[ox.Quad], fmt: ox.RdfFormat, output: BinaryIO | Path) -> None:
    target = str(output) if isinstance(output, Path) else output
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    if fmt.supports_datasets:
        quads = sorted(every, key=str)
        ox.serialize(quads, target, format=fmt, prefixes=prefixes)
    else:
        triples = sorted({ox.Triple(q.subject, q.predicate, q.object) for q in every}, key=str)
        ox.serialize(triples, target, format=fmt, prefixes=prefixes)


#: The dumps of the whole graph, by file name, and their formats.
DUMPS: dict[str, ox.RdfFormat] = {
    "rivalry.trig": ox.RdfFormat.TRIG,
    "rivalry.nq": ox.RdfFormat.N_QUADS,
    "rivalry.jsonld": ox.RdfFormat.JSON_LD,
    "rivalry.ttl": ox.RdfFormat.TURTLE,
    "rivalry.nt": ox.RdfFormat.N_TRIPLES,
}


def write_dumps(store: Store | ox.Store, directory: Path) -> dict[str, int]:
    """Write every dump, plain and gzip-compressed, into `directory` (once per build),
    each file atomically. Returns file names and sizes in bytes."""
    import fcntl
    import gzip
    import os
    import shutil

    directory.mkdir(parents=True, exist_ok=True)
    every: list[ox.Quad] | None = None  # read once, when a dump is missing
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker writes; the others wait and reuse
        for name, fmt in DUMPS.items():
            target = directory / name
            if not target.exists():
                if every is None:
                    every = _every_quad(store)
                tmp = directory / f".{name}.{os.getpid()}"
                with open(tmp, "wb") as out:
                    _serialize(every, fmt, out)
                os.replace(tmp, target)
            zipped = directory / (name + ".gz")
            if not zipped.exists():
                tmp = directory / f".{name}.gz.{os.getpid()}"
                with open(target, "rb") as src, gzip.GzipFile(tmp, "wb", mtime=0) as out:
                    shutil.copyfileobj(src, out)
                os.replace(tmp, zipped)
    return {p.name: p.stat().st_size for p in sorted(directory.iterdir())
            if not p.name.startswith(".")}
