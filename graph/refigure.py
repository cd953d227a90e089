"""The figures of a build (of /stats, VoID, the named graphs' descriptions and /browse)
updated from the previous build's for a change, rather than counted again over the whole
graph, which an incremental build would otherwise do at every change (at 100,000
synthetic measures, half a minute on a copy of the graph in memory).

An incremental build knows every quad its steps removed and added: the changed files'
graphs and their metadata, the inferred graph, the derived graph (`Change`). From them:

- VoID's counts of distinct things (subjects, entities, objects, classes, properties, the
  members of each class): only the terms of changed quads can appear or disappear, and
  each is looked up in the graph after the change and before it (`Before`: the graph
  after it, with the change undone).
- Each graph's size: the previous size, plus the quads the graph gained, less those it
  lost. The union's size is counted from its parts as before (rivalry.graph.products).
- The kept figures of the large graphs (rivalry.graph.graphs.KEPT): their subjects
  likewise; the first IRIs they list from the previous list, unless one of those leaves a
  list that was cut short (then that graph's subjects are counted again).
- /stats: each of its figures is a sum over nodes (actions, documents, responses, facts
  with sources) of what the node's own triples and those of the nodes up to REACH steps
  from it say, along the properties the figures read (rivalry.graph.stats.READS, and
  the labels'). A node's share can change only when the subject of a changed triple of
  those properties is within REACH steps of it along them. Those nodes are found by
  walking back from the subjects; they are counted in a small graph that holds every
  such triple within REACH steps of them, once as the graph is after the change and once
  as it was before; the previous figures, plus the one, less the other, are the figures
  after the change. (Other nodes in the small graph see the same triples in both, so
  their shares cancel.) The two lists of /stats (facts resting on one source, actions
  without their issuer's document) are kept whole in the build's state for this
  (STATE_STATS).
- The values of the list pages' filters: counted again (one grouped query per filter).

Every build checks none of this against a full count; the tests do, for every kind of
edit they make (tests/test_incremental.py)."""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from rivalry.graph import ID_BASE, ONTOLOGY_GRAPH, term_value
from rivalry.graph.describe import LABEL_PROPERTIES
from rivalry.graph.graphs import KEPT, LISTED_MAX, SubjectFigures, subject_figures
from rivalry.graph.stats import READS, Stats, _by_type, stats
from rivalry.graph.void import Statistics
from rivalry.ontology import NAMESPACE

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
OWL_CLASS = ox.NamedNode("http://www.w3.org/2002/07/owl#Class")

#: How many steps from the node it counts a figure of /stats reads: an action, the
#: document it derives from, the document's publisher, whose rv:agencyOf (the triple read
#: farthest away) says which state it belongs to (rivalry.graph.stats._issuer_documents).
#: A figure that reads farther must raise this.
REACH = 2

#: The file of the build's state holding the figures of /stats with their lists whole.
STATE_STATS = "stats.json"


class NotUpdatable(Exception):
    """The previous build's figures cannot be updated for the change (the reason); they
    are counted again."""


@dataclass
class Change:
    """The quads a build removed from the graph and added to it, all steps together: a
    quad one step added and a later one removed is in neither."""

    removed: set[ox.Quad]
    added: set[ox.Quad]

    @classmethod
    def of_steps(cls, steps: Iterable[tuple[Iterable[ox.Quad], Iterable[ox.Quad]]]
                 ) -> Change:
        removed: set[ox.Quad] = set()
        added: set[ox.Quad] = set()
        for gone, new in steps:
            for q in gone:
                if q in added:
                    added.discard(q)
                else:
                    removed.add(q)
            for q in new:
                if q in removed:
                    removed.discard(q)
                else:
                    added.add(q)
        return cls(removed, added)

    def quads(self) -> set[ox.Quad]:
        return self.removed | self.added

    def check(self, store: ox.Store) -> None:
        """That the store is the graph after the change: it holds every quad added, and
        none removed."""
        if any(q not in store for q in self.added) or any(q in store for q in self.removed):
            raise NotUpdatable("the database does not hold the change as the build made it")


def _matches(q: ox.Quad, s: Any, p: Any, o: Any, g: Any) -> bool:
    return ((s is None or q.subject == s) and (p is None or q.predicate == p)
            and (o is None or q.object == o) and (g is None or q.graph_name == g))


class Before:
    """The graph of `store` as it was before `change`: its quads less those the change
    added, with those it removed."""

    def __init__(self, store: ox.Store, change: Change) -> None:
        self.store = store
        self.change = change
        self._by_subject: dict[Any, list[ox.Quad]] = defaultdict(list)
        self._by_object: dict[Any, list[ox.Quad]] = defaultdict(list)
        for q in change.removed:
            self._by_subject[q.subject].append(q)
            self._by_object[q.object].append(q)

    def removed(self, s: Any = None, p: Any = None, o: Any = None, g: Any = None
                ) -> Iterator[ox.Quad]:
        """The removed quads that match."""
        found: Iterable[ox.Quad] = (self._by_subject.get(s, ()) if s is not None
                                    else self._by_object.get(o, ()) if o is not None
                                    else self.change.removed)
        return (q for q in found if _matches(q, s, p, o, g))

    def quads_for_pattern(self, s: Any = None, p: Any = None, o: Any = None, g: Any = None
                          ) -> Iterator[ox.Quad]:
        added = self.change.added
        for q in self.store.quads_for_pattern(s, p, o, g):
            if q not in added:
                yield q
        yield from self.removed(s, p, o, g)


def _any(quads: Iterator[ox.Quad]) -> int:
    """1 if there is a quad, else 0."""
    return 0 if next(quads, None) is None else 1


# --- VoID and the graphs' sizes -------------------------------------------------------------

def graph_sizes(previous: dict[str, int], change: Change) -> dict[str, int]:
    """Each named graph's size after the change (graphs left empty are gone)."""
    sizes = dict(previous)
    for sign, quads in ((-1, change.removed), (1, change.added)):
        for q in quads:
            name = term_value(q.graph_name)
            sizes[name] = sizes.get(name, 0) + sign
    if any(n < 0 for n in sizes.values()):
        raise NotUpdatable("the previous build's graph sizes do not match the change")
    return dict(sorted((g, n) for g, n in sizes.items() if n))


def updated_statistics(previous: Statistics, store: ox.Store, before: Before, *,
                       sizes: dict[str, int], triples: int) -> Statistics:
    """VoID's figures after the change (rivalry.graph.void.statistics), from the previous
    ones: each term of a changed quad counted in or out as it appears or disappears."""
    change = before.change

    def delta(s: Any = None, p: Any = None, o: Any = None) -> int:
        return _any(store.quads_for_pattern(s, p, o, None)) \
            - _any(before.quads_for_pattern(s, p, o, None))

    quads = change.quads()
    found = replace(previous, graphs=dict(previous.graphs),
                    class_partitions=dict(previous.class_partitions))
    for s in {q.subject for q in quads}:
        d = delta(s=s)
        found.distinct_subjects += d
        if isinstance(s, ox.NamedNode) and s.value.startswith(ID_BASE):
            found.entities += d
    for o in {q.object for q in quads}:
        found.distinct_objects += delta(o=o)
    for p in {q.predicate for q in quads}:
        found.properties += delta(p=p)
    typed = {(q.subject, q.object) for q in quads if q.predicate == RDF_TYPE}
    for c in {c for _, c in typed}:
        found.classes += delta(p=RDF_TYPE, o=c)
    partitions = found.class_partitions
    for s, c in typed:
        if isinstance(s, ox.NamedNode) and s.value.startswith(ID_BASE):
            name = term_value(c)
            partitions[name] = partitions.get(name, 0) + delta(s=s, p=RDF_TYPE, o=c)
    found.class_partitions = dict(sorted((c, n) for c, n in partitions.items() if n))
    found.graphs = dict(sizes)
    found.triples = triples
    if min([found.distinct_subjects, found.distinct_objects, found.properties,
            found.classes, found.entities, *partitions.values()], default=0) < 0:
        raise NotUpdatable("the previous build's VoID figures do not match the change")
    return found


def updated_members(previous: dict[str, int], store: ox.Store, before: Before
                    ) -> dict[str, int]:
    """How many members each class of the ontology has (rivalry.graph.listing.
    member_counts), from the previous counts: each changed rdf:type counted in or out."""
    change = before.change
    ontology = ox.NamedNode(ONTOLOGY_GRAPH)
    counts = dict(previous)
    for s, c in {(q.subject, q.object) for q in change.quads() if q.predicate == RDF_TYPE}:
        if not (isinstance(c, ox.NamedNode) and c.value.startswith(NAMESPACE)
                and _any(store.quads_for_pattern(c, RDF_TYPE, OWL_CLASS, ontology))):
            continue
        d = _any(store.quads_for_pattern(s, RDF_TYPE, c, None)) \
            - _any(before.quads_for_pattern(s, RDF_TYPE, c, None))
        counts[c.value] = counts.get(c.value, 0) + d
    if any(n < 0 for n in counts.values()):
        raise NotUpdatable("the previous build's member counts do not match the change")
    return {c: n for c, n in sorted(counts.items()) if n}


def updated_kept(previous: dict[str, dict[str, Any]], store: ox.Store, before: Before,
                 sizes: dict[str, int], reader: Any) -> dict[str, dict[str, Any]]:
    """The kept figures of the large graphs (rivalry.graph.graphs.kept_figures) after the
    change; `reader` reads the store whole for a graph whose subjects must be counted
    again."""
    quads = before.change.quads()
    found: dict[str, dict[str, Any]] = {}
    for iri in KEPT:
        if iri not in sizes:
            continue
        if iri not in previous:  # a graph the change brings
            found[iri] = subject_figures(reader, iri).to_record()
            continue
        was = SubjectFigures.from_record(previous[iri])
        g = ox.NamedNode(iri)
        subjects, iris, listed = was.subjects, was.iri_subjects, set(was.listed)
        cut = was.iri_subjects > len(was.listed)
        recount = False
        for s in {q.subject for q in quads if q.graph_name == g}:
            d = _any(store.quads_for_pattern(s, None, None, g)) \
                - _any(before.quads_for_pattern(s, None, None, g))
            subjects += d
            if isinstance(s, ox.NamedNode):
                iris += d
                if d > 0:
                    listed.add(s.value)
                elif d < 0 and s.value in listed:
                    listed.discard(s.value)
                    recount = recount or cut  # the next one listed is not known
        if recount:
            found[iri] = subject_figures(reader, iri, triples=sizes[iri]).to_record()
        else:
            found[iri] = SubjectFigures(sizes[iri], subjects, iris,
                                        heapq.nsmallest(LISTED_MAX, listed)).to_record()
    return found


# --- /stats ---------------------------------------------------------------------------------

def _reaching(store: ox.Store, before: Before, starts: set[Any], steps: int,
              through: frozenset[str]) -> set[Any]:
    """The nodes from which one of `starts` is at most `steps` triples away, following
    triples of the properties `through` from subject to object, in the graph before the
    change or after it."""
    found = set(starts)
    frontier = set(starts)
    for _ in range(steps):
        reached: set[Any] = set()
        for node in frontier:
            if isinstance(node, ox.Literal):
                continue
            for quads in (store.quads_for_pattern(None, None, node, None),
                          before.removed(o=node)):
                reached.update(q.subject for q in quads if q.predicate.value in through)
        frontier = reached - found
        found |= reached
    return found


def _reached(store: ox.Store, before: Before, starts: set[Any], steps: int,
             through: frozenset[str]) -> set[Any]:
    """The nodes at most `steps` triples away from one of `starts`, following triples of
    the properties `through` from subject to object, before the change or after it."""
    found = {n for n in starts if not isinstance(n, ox.Literal)}
    frontier = set(found)
    for _ in range(steps):
        reached: set[Any] = set()
        for node in frontier:
            for quads in (store.quads_for_pattern(node, None, None, None),
                          before.removed(s=node)):
                reached.update(q.object for q in quads if q.predicate.value in through)
        frontier = {n for n in reached - found if not isinstance(n, ox.Literal)}
        found |= frontier
    return found


def _small_graph(view: Any, nodes: set[Any], through: frozenset[str],
                 ontology: list[ox.Quad]) -> ox.Store:
    """The triples of the properties `through` whose subjects are `nodes`, with the
    ontology (the classes' labels)."""
    small = ox.Store()
    small.extend(ontology)
    small.extend([q for n in nodes for q in view.quads_for_pattern(n, None, None, None)
                  if q.predicate.value in through])
    return small


def _summed(previous: list[tuple[Any, int]], after: list[tuple[Any, int]],
            before: list[tuple[Any, int]]) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for sign, pairs in ((1, previous), (1, after), (-1, before)):
        for key, n in pairs:
            counts[key] = counts.get(key, 0) + sign * n
    if any(n < 0 for n in counts.values()):
        raise NotUpdatable("the previous build's figures of /stats do not match the change")
    return {k: n for k, n in counts.items() if n}


def _ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda x: (-x[1], x[0]))


def _listed(previous: list[tuple[Any, ...]], after: list[tuple[Any, ...]],
            before: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    found = Counter(map(tuple, previous))
    found.update(map(tuple, after))
    found.subtract(map(tuple, before))
    if any(n < 0 for n in found.values()):
        raise NotUpdatable("the previous build's lists of /stats do not match the change")
    return [item for item, n in found.items() for _ in range(n)]


def updated_stats(previous: Stats, store: ox.Store, before: Before) -> tuple[Stats, int]:
    """The figures of /stats after the change, from the previous ones (whole lists), and
    how many nodes were counted again."""
    from rivalry.graph.products import BuiltGraph

    change = before.change
    read = READS | set(LABEL_PROPERTIES)
    counted = _reaching(store, before, {q.subject for q in change.quads()
                                        if q.predicate.value in read}, REACH, read)
    near = _reached(store, before, counted, REACH, read)
    ontology = list(store.quads_for_pattern(None, None, None, ox.NamedNode(ONTOLOGY_GRAPH)))
    a = stats(BuiltGraph(_small_graph(store, near, read, ontology)))
    b = stats(BuiltGraph(_small_graph(before, near, read, ontology)))
    p = previous
    found = Stats()
    for name in ("actions", "sources", "own_document", "own_document_of", "responses",
                 "responses_two_sources"):
        value = getattr(p, name) + getattr(a, name) - getattr(b, name)
        if value < 0:
            raise NotUpdatable("the previous build's figures of /stats do not match the "
                               "change")
        setattr(found, name, value)
    found.by_type = _ranked(_summed(p.by_type, a.by_type, b.by_type))
    found.by_issuer = _ranked(_summed(p.by_issuer, a.by_issuer, b.by_issuer))
    found.sources_by_kind = _ranked(_summed(p.sources_by_kind, a.sources_by_kind,
                                            b.sources_by_kind))
    found.by_year = sorted(_summed(p.by_year, a.by_year, b.by_year).items())
    pairs = _summed(*([((s, y), n) for s, y, n in x.by_issuer_and_year] for x in (p, a, b)))
    found.by_issuer_and_year = [(s, y, n) for (s, y), n in sorted(
        pairs.items(), key=lambda x: (x[0][1], x[0][0]))]
    kinds = {name: (linked, total) for name, linked, total in p.wikidata}
    for x, sign in ((a, 1), (b, -1)):
        for name, linked, total in x.wikidata:
            was = kinds.get(name, (0, 0))
            kinds[name] = (was[0] + sign * linked, was[1] + sign * total)
    found.wikidata = [(name, kinds[name][0], kinds[name][1]) for name, _, _ in a.wikidata]
    found.without_own_document = sorted(
        _listed(p.without_own_document, a.without_own_document, b.without_own_document),
        key=lambda x: (x[1], x[0]))
    found.without_own_document_count = len(found.without_own_document)
    found.single_source = sorted(_listed(p.single_source, a.single_source, b.single_source))
    found.single_source_count = len(found.single_source)
    found.single_source_by_type = _by_type(found.single_source)
    return found, len(counted)


# --- the whole --------------------------------------------------------------------------------

@dataclass
class Figures:
    """What a build keeps of its figures (rivalry.graph.products.write_figures)."""

    stats: Stats
    statistics: Statistics
    kept: dict[str, dict[str, Any]]
    members: dict[str, int]


def read_previous(previous: Path) -> tuple[dict[str, Any], Stats]:
    """The previous build's figures and its /stats whole (`previous`, its directory)."""
    from rivalry.graph.products import FIGURES

    try:
        figures = json.loads((previous / "dumps" / FIGURES).read_text("utf-8"))
        whole = json.loads((previous / "state" / STATE_STATS).read_text("utf-8"))
        return figures, Stats.from_record(whole)
    except (OSError, ValueError, TypeError) as e:
        raise NotUpdatable(f"the previous build kept no figures that can be read ({e})"
                           ) from None


def updated_figures(previous: Path, store: ox.Store, change: Change, reader: Any,
                    union_size: Any) -> tuple[Figures, int]:
    """The figures after the change, from those the previous build kept (`previous`, its
    directory), and how many nodes /stats counted again. `reader`: the store as the
    figures read it (rivalry.graph.products.BuiltGraph); `union_size`: a function of the
    graphs' sizes giving the union's. Raises NotUpdatable, saying why, when they cannot
    be had so."""
    figures, whole = read_previous(previous)
    try:
        void = figures["void"]
        fields: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v
                                  for k, v in void.items()}
        was = Statistics(**fields)
        kept, members = dict(figures["graphs"]), dict(figures["members"])
    except (KeyError, TypeError) as e:
        raise NotUpdatable(f"the previous build's figures lack {e}") from None
    change.check(store)
    sizes = graph_sizes(was.graphs, change)
    before = Before(store, change)  # the graph before the change, for every figure
    statistics = updated_statistics(was, store, before, sizes=sizes,
                                    triples=union_size(sizes))
    found, counted = updated_stats(whole, store, before)
    return Figures(found, statistics, updated_kept(kept, store, before, sizes, reader),
                   updated_members(members, store, before)), counted

