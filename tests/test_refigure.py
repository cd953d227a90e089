"""The change a build made, seen whole, and the graph before it (rivalry.graph.refigure):
what the figures of an incremental build are updated from. tests/test_incremental.py
checks the figures themselves against full builds'."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from rivalry.graph.refigure import Before, Change, NotUpdatable, graph_sizes

G = ox.NamedNode("https://example.org/g")
H = ox.NamedNode("https://example.org/h")


def quad(s: str, o: str, g: ox.NamedNode = G) -> ox.Quad:
    return ox.Quad(ox.NamedNode(f"https://example.org/{s}"), ox.NamedNode("https://example.org/p"),
                   ox.NamedNode(f"https://example.org/{o}"), g)


def test_a_quad_added_then_removed_is_no_change() -> None:
    a, b, c = quad("a", "x"), quad("b", "x"), quad("c", "x")
    change = Change.of_steps([({a}, {b}), ({b}, {c}), (set(), {a})])
    assert change.removed == set() and change.added == {c}


def test_the_graph_before_the_change_is_the_store_with_the_change_undone() -> None:
    kept, gone, new = quad("a", "x"), quad("b", "x"), quad("c", "x")
    store = ox.Store()
    store.extend([kept, new])
    before = Before(store, Change({gone}, {new}))
    assert set(before.quads_for_pattern(None, None, None, None)) == {kept, gone}
    assert set(before.quads_for_pattern(None, None, gone.object, None)) == {kept, gone}
    assert list(before.quads_for_pattern(new.subject, None, None, None)) == []
    assert list(before.quads_for_pattern(gone.subject, None, None, H)) == []


def test_a_change_the_store_does_not_hold_is_refused() -> None:
    store = ox.Store()
    store.add(quad("a", "x"))
    with pytest.raises(NotUpdatable):
        Change(set(), {quad("b", "x")}).check(store)
    with pytest.raises(NotUpdatable):
        Change({quad("a", "x")}, set()).check(store)
    Change({quad("b", "x")}, {quad("a", "x")}).check(store)


def test_graph_sizes_follow_the_change_and_empty_graphs_go() -> None:
    change = Change({quad("a", "x"), quad("b", "x", H)}, {quad("c", "x")})
    assert graph_sizes({G.value: 3, H.value: 1}, change) == {G.value: 3}
    with pytest.raises(NotUpdatable):
        graph_sizes({G.value: 3}, change)  # H had no triple to lose


def test_the_figures_of_stats_read_only_the_properties_they_declare() -> None:
    """An incremental build counts again only the nodes a changed triple of the
    properties /stats reads can reach (rivalry.graph.stats.READS): a query that read
    another would go stale. Every property the module's queries name is declared."""
    import re
    from pathlib import Path

    from rivalry.graph import stats
    from rivalry.graph.describe import LABEL_PROPERTIES

    namespaces = dict(re.findall(r"PREFIX (\w+): <([^>]+)>", stats.PREFIX))
    text = Path(stats.__file__).read_text("utf-8")
    named = {namespaces[prefix] + local for prefix, local in
             re.findall(r"\b(" + "|".join(namespaces) + r"):([a-z]\w*)", text)}
    assert len(named) > 10
    assert named <= stats.READS | set(LABEL_PROPERTIES), named - stats.READS
    assert "http://www.w3.org/1999/02/22-rdf-syntax-ns#type" in stats.READS  # "a"
