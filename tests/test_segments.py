"""Dumps written in segments (rivalry.graph.segments): each file one gzip stream that
every reader reads whole, holding the store's content in each format; a later write
copies the segments a change leaves alone and gives the same content as a write from
nothing."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from rivalry.graph import segments
from rivalry.graph.export import union_parts
from rivalry.graph.segments import FILES, Previous, crc32_combine, read_layout, write_dumps

FORMATS = {"rivalry.trig": ox.RdfFormat.TRIG, "rivalry.nq": ox.RdfFormat.N_QUADS,
           "rivalry.jsonld": ox.RdfFormat.JSON_LD, "rivalry.ttl": ox.RdfFormat.TURTLE,
           "rivalry.nt": ox.RdfFormat.N_TRIPLES}


def iri(local: str) -> ox.NamedNode:
    return ox.NamedNode(f"https://example.org/{local}")


def test_crc32_of_joined_data() -> None:
    pieces = [b"", b"a", os.urandom(1), os.urandom(1000), os.urandom(70_000), b"x" * 300_000]
    for first in pieces:
        for second in pieces:
            assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) \
                == zlib.crc32(first + second)


def store() -> ox.Store:
    """Two small graphs, one cut into buckets (SEGMENT_QUADS made small below), a triple
    in two graphs, blank nodes (one in the large graph, where two buckets refer to it),
    a literal with a line break and " ." in it."""
    db = ox.Store()
    small, big = iri("graph/a"), iri("graph/big")
    db.extend([ox.Quad(iri(f"s{i}"), iri("p"), ox.Literal(f"value {i} .\nnext"), small)
               for i in range(20)])
    db.extend([ox.Quad(iri(f"b{i % 97}"), iri(f"q{i % 3}"), ox.Literal(str(i)), big)
               for i in range(998)])
    shared = ox.BlankNode("in-two-buckets")
    db.extend([ox.Quad(shared, iri("q0"), iri("b1"), big),
               ox.Quad(iri("b2"), iri("q1"), shared, big)])
    node = ox.BlankNode("n1")
    db.extend([ox.Quad(node, iri("p"), iri("s1"), small),
               ox.Quad(iri("s2"), iri("p"), node, iri("graph/c")),
               ox.Quad(iri("s1"), iri("p"), ox.Literal("value 1 .\nnext"), iri("graph/c"))])
    return db


def read(folder: Path, name: str) -> set[ox.Quad]:
    data = (folder / f"{name}.gz").read_bytes()
    one = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = one.decompress(data)
    assert one.eof and not one.unused_data, f"{name}: not one gzip member"
    assert text == gzip.decompress(data)
    return set(ox.parse(text, format=FORMATS[name]))


def check(folder: Path, db: ox.Store) -> None:
    quads = set(db.quads_for_pattern(None, None, None, None))
    triples = {q.triple for q in quads}
    for name, fmt in FORMATS.items():
        found = read(folder, name)
        if fmt.supports_datasets:
            assert found == quads, name
        else:
            assert {q.triple for q in found} == triples, name
    lines = gzip.decompress((folder / "rivalry.nt.gz").read_bytes()).splitlines()
    assert len(lines) == len(triples)  # each triple of the union once
    if shutil.which("gzip"):
        for name in FILES:
            subprocess.run(["gzip", "-t", str(folder / f"{name}.gz")], check=True)


@pytest.fixture(autouse=True)
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "SEGMENT_QUADS", 300)
    monkeypatch.setattr(segments, "BUCKET_QUADS", 150)


def write(db: ox.Store, root: Path, name: str, previous: Previous | None = None
          ) -> tuple[Path, segments.DumpsWritten]:
    folder, state = root / name / "dumps", root / name / "state"
    folder.mkdir(parents=True)
    done = write_dumps(db, folder, union_parts(db), state, 6, previous)
    return folder, done


def test_every_dump_holds_the_store(tmp_path: Path) -> None:
    db = store()
    folder, done = write(db, tmp_path, "one")
    check(folder, db)
    layout = read_layout(tmp_path / "one" / "state")
    assert layout is not None and layout["buckets"][iri("graph/big").value] == 8
    assert done.copied == 0


def test_a_large_graph_is_read_in_passes_that_bound_what_is_held(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph cut into buckets is dumped once into a file beside the dumps, whose lines
    are read into buckets, one run of buckets per pass: no pass holds more than
    PASS_QUADS lines, and the file is gone afterwards."""
    db = store()
    one, _ = write(db, tmp_path, "one pass")
    passes: list[int] = []
    bucket_lines = segments._bucket_lines

    def counted(path: Path, buckets: int, run: range) -> dict[int, list[bytes]]:
        parts = bucket_lines(path, buckets, run)
        passes.append(sum(len(lines) for lines in parts.values()))
        return parts

    # the big graph, 1,000 quads in 8 buckets, read 4 times, 2 buckets each
    monkeypatch.setattr(segments, "PASS_QUADS", 300)
    assert segments.passes_for(600, 8) == [range(0, 4), range(4, 8)]
    assert segments.passes_for(300, 8) == [range(0, 8)]
    assert segments.passes_for(10**9, 8) == [range(b, b + 1) for b in range(8)]
    monkeypatch.setattr(segments, "_bucket_lines", counted)
    several, _ = write(db, tmp_path, "passes")
    assert len(passes) == 4 and sum(passes) == 1000
    assert all(held <= 300 for held in passes), passes
    for name in FILES:  # the same bytes, whatever the passes
        assert (several / f"{name}.gz").read_bytes() == (one / f"{name}.gz").read_bytes()
    for folder in (one, several):  # only the dumps: no graph's lines left behind
        assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.gz" for n in FILES)


def test_a_bucket_keeps_its_blank_nodes_labels(tmp_path: Path) -> None:
    """The buckets of a large graph are written in Turtle and JSON-LD through a store of
    their own, which would rename blank nodes: those holding one keep its label, the
    one the other buckets and formats give it."""
    db = store()
    folder, _ = write(db, tmp_path, "one")
    check(folder, db)  # the blank node's triples, with its label, in every format
    for name in ("rivalry.ttl", "rivalry.jsonld", "rivalry.trig"):
        text = gzip.decompress((folder / f"{name}.gz").read_bytes())
        assert text.count(b"_:in-two-buckets") >= 2, name


def test_a_change_copies_the_segments_it_leaves_alone(tmp_path: Path) -> None:
    db = store()
    write(db, tmp_path, "before")
    removed = {ox.Quad(iri("b5"), iri("q2"), ox.Literal("5"), iri("graph/big")),
               ox.Quad(iri("s3"), iri("p"), ox.Literal("value 3 .\nnext"), iri("graph/a"))}
    added = {ox.Quad(iri("b5"), iri("q0"), ox.Literal("new"), iri("graph/big")),
             ox.Quad(iri("new"), iri("p"), ox.Literal("x"), iri("graph/d"))}
    for q in removed:
        db.remove(q)
    db.extend(added)
    layout = read_layout(tmp_path / "before" / "state")
    assert layout is not None
    previous = Previous(tmp_path / "before" / "dumps", layout, removed | added)
    folder, done = write(db, tmp_path, "after", previous)
    check(folder, db)
    # graph/c and seven of graph/big's eight buckets copied, in every format but the
    # union's for graph/c, which shares a triple with graph/a
    assert done.copied == 7 * 5 + 3 and done.why_not is None
    _, whole = write(db, tmp_path, "whole")
    assert whole.copied == 0
    for name in FILES:
        assert read(folder, name) == read(tmp_path / "whole" / "dumps", name)


def test_a_previous_dump_not_as_its_state_says_is_not_copied(tmp_path: Path) -> None:
    db = store()
    write(db, tmp_path, "before")
    spoilt = tmp_path / "before" / "dumps" / "rivalry.ttl.gz"
    data = bytearray(spoilt.read_bytes())
    data[-8] ^= 0xFF  # its CRC-32 is not the segments' combined
    spoilt.write_bytes(bytes(data))
    layout = read_layout(tmp_path / "before" / "state")
    assert layout is not None
    folder, done = write(db, tmp_path, "after", Previous(spoilt.parent, layout, set()))
    assert done.copied == 0 and done.why_not is not None and "rivalry.ttl.gz" in done.why_not
    check(folder, db)
    cut = tmp_path / "before" / "dumps" / "rivalry.nq.gz"
    cut.write_bytes(cut.read_bytes()[:-100])
    folder, done = write(db, tmp_path, "again", Previous(spoilt.parent, layout, set()))
    assert done.copied == 0 and done.why_not is not None
    check(folder, db)


def test_a_graph_named_by_a_blank_node_is_refused(tmp_path: Path) -> None:
    """Segments are keyed by their graph's IRI: a graph named by a blank node (which no
    rivalry build makes) is refused by name, not left out of the dumps."""
    db = store()
    db.add(ox.Quad(iri("x"), iri("p"), iri("y"), ox.BlankNode("g1")))
    with pytest.raises(ValueError, match="_:g1 is named by a blank node"):
        write(db, tmp_path, "one")
    assert not list((tmp_path / "one" / "dumps").iterdir())  # nothing left behind


@pytest.mark.parametrize("on_disk", [True, False])
def test_a_database_on_disk_gives_each_whole_graph_once(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        on_disk: bool) -> None:
    """From a database on disk, where every reading of a graph costs several times what it
    does in memory, a whole graph is read once (as N-Triples) and its Turtle and JSON-LD
    are written from a store of its own in memory, blank nodes' labels kept; in memory,
    pyoxigraph writes each format from the store. Either way every dump holds the store."""
    db = ox.Store(str(tmp_path / "db"))
    db.extend(store().quads_for_pattern(None, None, None, None))
    reads: list[str] = []
    dumped = segments._dumped

    def counted(source: ox.Store, fmt: ox.RdfFormat, graph: Any) -> bytes:
        if source is db:
            reads.append(graph.value)
        return dumped(source, fmt, graph)

    monkeypatch.setattr(segments, "_dumped", counted)
    folder, state = tmp_path / "dumps", tmp_path / "state"
    folder.mkdir()
    write_dumps(db, folder, union_parts(db), state, 6, on_disk=on_disk)
    check(folder, db)
    for whole in (iri("graph/a"), iri("graph/c")):  # graph/big is cut into buckets
        assert reads.count(whole.value) == (1 if on_disk else 3)
    for name in ("rivalry.ttl", "rivalry.trig", "rivalry.jsonld"):
        assert b"_:n1" in gzip.decompress((folder / f"{name}.gz").read_bytes()), name
