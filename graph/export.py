"""Writing the whole graph out, for `rivalry export` and the dumps."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

from rivalry.graph import PREFIXES
from rivalry.graph.store import EmbeddedStore


def export_graph(store: EmbeddedStore, fmt: ox.RdfFormat, output: BinaryIO | Path) -> None:
    """Serialize every quad of the store. Formats without named graphs (Turtle,
    N-Triples) get the union of all graphs, each triple once.

    The embedded store is written by pyoxigraph as it reads its database (in the
    database's order, the same for the same content); another store is read into
    memory and written sorted."""
    target = str(output) if isinstance(output, Path) else output
    db = getattr(store, "db", None)
    if isinstance(db, ox.Store):
        dump(db, fmt, target)
        return
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    if fmt.supports_datasets:
        quads = sorted(store.quads_for_pattern(None, None, None, None), key=str)
        ox.serialize(quads, target, format=fmt, prefixes=prefixes)
    else:
        triples = sorted({ox.Triple(q.subject, q.predicate, q.object)
                          for q in store.quads_for_pattern(None, None, None, None)}, key=str)
        ox.serialize(triples, target, format=fmt, prefixes=prefixes)


#: The dumps of the whole graph, by file name, and their formats.
DUMPS: dict[str, ox.RdfFormat] = {
    "rivalry.trig": ox.RdfFormat.TRIG,
    "rivalry.nq": ox.RdfFormat.N_QUADS,
    "rivalry.jsonld": ox.RdfFormat.JSON_LD,
    "rivalry.ttl": ox.RdfFormat.TURTLE,
    "rivalry.nt": ox.RdfFormat.N_TRIPLES,
}


def dump(db: ox.Store, fmt: ox.RdfFormat, target: BinaryIO | str) -> None:
    """Write a pyoxigraph store in one format, streaming: datasets whole, Turtle and
    N-Triples as the union of the graphs (each triple once)."""
    prefixes = PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None
    if fmt.supports_datasets:
        db.dump(target, fmt, prefixes=prefixes)
        return
    union = db.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                     use_default_graph_as_union=True)
    if prefixes:  # QueryTriples.serialize takes no prefixes
        ox.serialize(union, target, format=fmt, prefixes=prefixes)
        return
    union.serialize(target, fmt)


def write_dumps_from(db: ox.Store, directory: Path, workers: int = 2) -> dict[str, int]:
    """Write every dump of a pyoxigraph store, plain and gzip-compressed, into
    `directory`, each file atomically, `workers` formats at a time (pyoxigraph writes
    without holding Python's interpreter lock). Holds the same lock as `write_dumps`, so
    a server asked for a dump meanwhile waits for it instead of writing it again."""
    import fcntl
    import gzip
    import os
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    directory.mkdir(parents=True, exist_ok=True)

    def one(name: str) -> None:
        target = directory / name
        if not target.exists():
            tmp = directory / f".{name}.{os.getpid()}"
            with open(tmp, "wb") as out:
                dump(db, DUMPS[name], out)
            os.replace(tmp, target)
        zipped = directory / (name + ".gz")
        if not zipped.exists():
            tmp = directory / f".{name}.gz.{os.getpid()}"
            with open(target, "rb") as src, gzip.GzipFile(tmp, "wb", mtime=0) as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, zipped)

    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with ThreadPoolExecutor(max_workers=max(workers, 1),
                                thread_name_prefix="rivalry-dumps") as pool:
            list(pool.map(one, DUMPS))
    return {p.name: p.stat().st_size for p in sorted(directory.iterdir())
            if not p.name.startswith(".")}


def write_dumps(store: EmbeddedStore, directory: Path) -> dict[str, int]:
    """Write every dump, plain and gzip-compressed, into `directory` (once per build),
    each file atomically. Returns file names and sizes in bytes."""
    import fcntl
    import gzip
    import os
    import shutil

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker writes; the others wait and reuse
        for name, fmt in DUMPS.items():
            target = directory / name
            if not target.exists():
                tmp = directory / f".{name}.{os.getpid()}"
                with open(tmp, "wb") as out:
                    export_graph(store, fmt, out)
                os.replace(tmp, target)
            zipped = directory / (name + ".gz")
            if not zipped.exists():
                tmp = directory / f".{name}.gz.{os.getpid()}"
                with open(target, "rb") as src, gzip.GzipFile(tmp, "wb", mtime=0) as out:
                    shutil.copyfileobj(src, out)
                os.replace(tmp, zipped)
    return {p.name: p.stat().st_size for p in sorted(directory.iterdir())
            if not p.name.startswith(".")}
