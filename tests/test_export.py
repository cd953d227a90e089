"""The union of the graphs, as the dumps without named graphs hold it
(rivalry.graph.export.union_triples)."""

from __future__ import annotations

import pyoxigraph as ox

from rivalry.graph.export import union_triples


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
