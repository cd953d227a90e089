"""The union of the graphs, as the dumps without named graphs hold it
(rivalry.graph.export.union_triples, and write_union, which writes it)."""

from __future__ import annotations

import io
import json

import pyoxigraph as ox
import pytest

from rivalry.graph.build import BuildResult
from rivalry.graph.export import union_triples, write_union


def iri(name: str) -> ox.NamedNode:
    return ox.NamedNode(f"https://example.org/{name}")


def test_every_triple_once_in_graph_order() -> None:
    a, b, c = iri("g/a"), iri("g/b"), iri("g/c")
    shared = (iri("s"), iri("p"), ox.Literal("in a, b and the default graph"))
    db = ox.Store()
    db.extend([
        ox.Quad(*shared, c),
        ox.Quad(*shared, a),
        ox.Quad(*shared, ox.DefaultGraph()),
        ox.Quad(iri("s"), iri("p"), ox.Literal("in c only"), c),
        ox.Quad(iri("t"), iri("p"), ox.Literal("in b only"), b),
        ox.Quad(iri("t"), iri("p"), iri("s"), a),
        ox.Quad(iri("u"), iri("p"), ox.Literal("in the default graph only"), ox.DefaultGraph()),
    ])
    union = [(t.subject, t.predicate, t.object) for t in union_triples(db)]
    distinct = {(q.subject, q.predicate, q.object)
                for q in db.quads_for_pattern(None, None, None, None)}
    assert len(union) == len(set(union)) == len(distinct) == 5
    assert set(union) == distinct
    # graph by graph, in IRI order, each triple where its first graph has it; the default
    # graph's own last
    assert union[:2] in ([shared, (iri("t"), iri("p"), iri("s"))],
                         [(iri("t"), iri("p"), iri("s")), shared])
    assert union[2:] == [(iri("t"), iri("p"), ox.Literal("in b only")),
                         (iri("s"), iri("p"), ox.Literal("in c only")),
                         (iri("u"), iri("p"), ox.Literal("in the default graph only"))]


def test_an_empty_store_has_an_empty_union() -> None:
    assert list(union_triples(ox.Store())) == []


def written(db: ox.Store) -> bytes:
    out = io.BytesIO()
    write_union(db, ox.RdfFormat.N_TRIPLES, out)
    return out.getvalue()


def test_the_written_union_is_the_union_in_the_same_order() -> None:
    """The graphs that share no triple are dumped by pyoxigraph, the others through a
    query: the lines are those of the union, in its order, either way."""
    a, b = iri("g/a"), iri("g/b")
    db = ox.Store()
    db.extend([ox.Quad(iri(f"s{i}"), iri("p"), ox.Literal(f"only in a, {i}"), a)
               for i in range(50)])
    db.extend([ox.Quad(iri(f"s{i}"), iri("p"), ox.Literal(f"only in b, {i}"), b)
               for i in range(50)])
    alone = written(db)
    assert alone == ox.serialize(union_triples(db), format=ox.RdfFormat.N_TRIPLES)
    assert len(alone.splitlines()) == 100
    # b shares a triple with a, and with the default graph: b (the later) leaves it out
    db.add(ox.Quad(iri("s1"), iri("p"), ox.Literal("only in a, 1"), b))
    db.add(ox.Quad(iri("s1"), iri("p"), ox.Literal("only in a, 1"), ox.DefaultGraph()))
    db.add(ox.Quad(iri("d"), iri("p"), ox.Literal("default"), ox.DefaultGraph()))
    shared = written(db)
    assert shared == ox.serialize(union_triples(db), format=ox.RdfFormat.N_TRIPLES)
    lines = shared.splitlines()
    assert len(lines) == len(set(lines)) == 101
    assert lines[-1] == b'<https://example.org/d> <https://example.org/p> "default" .'


def test_a_shared_graph_named_by_a_blank_node_is_refused() -> None:
    db = ox.Store()
    triple = (iri("s"), iri("p"), iri("o"))
    db.extend([ox.Quad(*triple, ox.BlankNode("g")), ox.Quad(*triple, iri("g/a"))])
    with pytest.raises(ValueError, match="named by a blank node"):
        written(db)


def test_gzip_blocks_hold_what_was_written_in_order() -> None:
    """The dumps' gzip writer compresses in a thread, block by block: what comes out is
    one gzip stream of every byte written, in order, the same bytes each time."""
    import gzip
    import random

    from rivalry.graph.products import GzipBlocks

    rng = random.Random(5)
    pieces = [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 9000)))
              + b"%d\n" % i for i in range(400)]  # about 1.8 MB: two blocks and a rest

    def written() -> bytes:
        raw = io.BytesIO()
        out = GzipBlocks(raw, 6)
        for piece in pieces:
            assert out.write(memoryview(piece)) == len(piece)
        out.finish()
        out.close()
        return raw.getvalue()

    first = written()
    assert gzip.decompress(first) == b"".join(pieces)
    assert first == written()


def test_gzip_blocks_raise_what_writing_raised() -> None:
    from rivalry.graph.products import GzipBlocks

    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    out = GzipBlocks(Full(), 6)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="No space left"):
        for _ in range(3):
            out.write(b"x" * GzipBlocks.BLOCK)
        out.finish()
    out.close()


def test_the_figures_a_build_keeps_are_those_of_its_graph(curated_build: BuildResult) -> None:
    """The build keeps /stats' and VoID's figures beside its dumps; they equal the figures
    computed from its graph by queries, void:triples (taken from the union dump as it
    is written) included."""
    from rivalry.graph.products import read_figures
    from rivalry.graph.stats import LISTED, Stats, stats
    from rivalry.graph.store import EmbeddedStore
    from rivalry.graph.void import Statistics, statistics

    kept = read_figures(curated_build.path / "dumps")
    assert kept is not None
    store = EmbeddedStore(curated_build.path.parent.parent)
    full = stats(store)
    assert kept["stats"] == json.loads(json.dumps(full.to_record()))
    # the two lists of facts are kept cut to their first LISTED, with their whole counts
    # (pages show no more; `rivalry stats` lists them all from the store)
    found = Stats.from_record(kept["stats"])
    assert found.single_source == full.single_source[:LISTED]
    assert found.without_own_document == full.without_own_document[:LISTED]
    assert found.single_source_count == len(full.single_source)
    assert found.without_own_document_count == len(full.without_own_document)
    assert found.single_source_by_type == full.single_source_by_type
    assert sum(n for _, n in found.single_source_by_type) == found.single_source_count
    assert full.complete
    assert found.complete == (max(found.single_source_count,
                                  found.without_own_document_count) <= LISTED)
    queried = statistics(store)
    assert Statistics(**kept["void"]) == queried
    assert queried.triples == len({(q.subject, q.predicate, q.object)
                                   for q in store.db.quads_for_pattern(None, None, None, None)})


def test_parts_writer_joins_turtle_parts_into_one_document() -> None:
    """Turtle written a graph at a time: the first part's prefix lines open the document
    (in the order of their names), later parts' are dropped, whatever the pieces the
    serializer writes them in; an empty part changes nothing; lines are counted."""
    from rivalry.graph.export import PartsWriter

    head = b"@prefix z: <http://z/> .\n@prefix a: <http://a/> .\n"
    parts = [b"", head + b"a:x z:p a:y .\n", head + b"a:q z:p 1 .\n", b"<http://n/> z:p 2 .\n"]
    for size in (1, 3, 7, 64):
        out = io.BytesIO()
        writer = PartsWriter(out)
        for part in parts:
            writer.begin()
            for i in range(0, len(part), size):
                writer.write(part[i:i + size])
            writer.end()
        assert out.getvalue() == (b"@prefix a: <http://a/> .\n@prefix z: <http://z/> .\n"
                                  b"a:x z:p a:y .\na:q z:p 1 .\n<http://n/> z:p 2 .\n")
        assert writer.lines == 5
        graph = ox.Dataset(ox.parse(out.getvalue(), format=ox.RdfFormat.TURTLE))
        assert len(graph) == 3


def test_parts_writer_passes_a_line_that_only_begins_like_a_prefix() -> None:
    from rivalry.graph.export import PartsWriter

    out = io.BytesIO()
    writer = PartsWriter(out)
    writer.begin()
    writer.write(b"@pre")
    writer.end()
    writer.begin()
    writer.write(b"<http://s/> <http://p/> \"@prefix \" .\n")
    writer.end()
    assert out.getvalue() == b"@pre<http://s/> <http://p/> \"@prefix \" .\n"


def test_write_union_refuses_a_format_whose_parts_do_not_join() -> None:
    from rivalry.graph.export import write_union

    with pytest.raises(ValueError, match="cannot be written a graph at a time"):
        write_union(ox.Store(), ox.RdfFormat.RDF_XML, io.BytesIO())


def test_the_union_size_is_the_number_of_distinct_triples(tmp_path: object) -> None:
    """VoID's void:triples, counted from the union's parts (graph sizes, and the shares
    of the graphs that share a triple), is the number of distinct triples, and the
    number of lines the N-Triples dump has, with shared triples and without."""
    import gzip
    from pathlib import Path

    from rivalry.graph.export import union_parts
    from rivalry.graph.products import BuiltGraph, union_size
    from rivalry.graph.segments import write_dumps

    a, b = iri("g/a"), iri("g/b")
    db = ox.Store()
    db.extend([ox.Quad(iri(f"s{i}"), iri("p"), ox.Literal(f"{i}"), a) for i in range(30)])
    db.extend([ox.Quad(iri(f"t{i}"), iri("p"), ox.Literal(f"{i}"), b) for i in range(20)])
    for extra in ([], [ox.Quad(iri("s1"), iri("p"), ox.Literal("1"), b),
                       ox.Quad(iri("s2"), iri("p"), ox.Literal("2"), ox.DefaultGraph()),
                       ox.Quad(iri("d"), iri("p"), ox.Literal("d"), ox.DefaultGraph())]):
        db.extend(extra)
        distinct = {(q.subject, q.predicate, q.object)
                    for q in db.quads_for_pattern(None, None, None, None)}
        parts = union_parts(db)
        folder = Path(str(tmp_path)) / str(len(distinct))
        folder.mkdir()
        sizes = BuiltGraph(db).graph_sizes()
        write_dumps(db, folder, parts, folder / "state", 6)
        lines = gzip.decompress((folder / "rivalry.nt.gz").read_bytes()).splitlines()
        assert union_size(db, parts, sizes) == len(lines) == len(distinct)
    assert len(distinct) == 51


def test_a_blank_node_in_two_graphs_is_one_node_in_the_union_documents() -> None:
    """Each graph is written on its own, but a blank node keeps its label across them:
    the joined document holds one node where the store has one, and two where two."""
    from rivalry.graph.export import write_union

    b, c, p = ox.BlankNode(), ox.BlankNode(), iri("p")
    db = ox.Store()
    db.extend([ox.Quad(iri("s"), p, b, iri("g/1")),
               ox.Quad(b, p, ox.Literal("x"), iri("g/2")),
               ox.Quad(c, p, ox.Literal("y"), iri("g/2"))])
    for fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES):
        out = io.BytesIO()
        assert write_union(db, fmt, out) >= 3
        triples = list(ox.parse(out.getvalue(), format=fmt))
        objects = {t.object for t in triples if isinstance(t.object, ox.BlankNode)}
        subjects = {t.subject for t in triples if isinstance(t.subject, ox.BlankNode)}
        assert len(triples) == 3 and len(objects) == 1 and len(subjects) == 2
        assert objects < subjects


def test_the_graphs_that_share_a_triple_found_from_the_graphs_that_may() -> None:
    """Told which graphs alone can share a triple (a build's own graphs, once no two
    facts files state the same triple), `shared_graphs` matches only their quads, and
    finds what matching every quad finds: both graphs of each shared triple."""
    from rivalry.graph.export import shared_graphs

    a, b, inferred, derived = iri("g/a"), iri("g/b"), iri("g/inferred"), iri("g/derived")
    db = ox.Store()
    db.extend([ox.Quad(iri(f"s{i}"), iri("p"), ox.Literal(f"{i}"), a) for i in range(10)])
    db.extend([ox.Quad(iri(f"t{i}"), iri("p"), ox.Literal(f"{i}"), b) for i in range(10)])
    db.extend([ox.Quad(iri(f"u{i}"), iri("p"), ox.Literal(f"{i}"), derived)
               for i in range(10)])
    db.add(ox.Quad(iri("u0"), iri("q"), ox.Literal("x"), inferred))
    assert shared_graphs(db, [inferred, derived]) == shared_graphs(db) == set()
    db.add(ox.Quad(iri("s3"), iri("p"), ox.Literal("3"), inferred))  # also in a
    db.add(ox.Quad(iri("u4"), iri("p"), ox.Literal("4"), inferred))  # also in derived
    assert shared_graphs(db, [inferred, derived]) == shared_graphs(db) == {
        a, inferred, derived}
    assert shared_graphs(db, []) == set()
