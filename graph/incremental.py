"""Incremental builds: start from the previous build and redo only what the facts files
that changed can affect.

The previous build's database is copied with hard links (RocksDB never rewrites a table
file, so both builds share them until one is compacted away), and the copy is changed:

- the graphs of the files that changed are replaced, and their metadata;
- the inferred graph is updated by DRed (rivalry.graph.reason.update_inferences);
- SHACL runs on the focus nodes whose results the changed triples can touch: the
  subjects of changed triples, and the nodes that reach them along the paths the
  constraints read (a constraint whose reach cannot be bounded runs on all its targets);
- the consistency summary is updated for the individuals the change touches; HermiT runs
  only if the summary gains a kind of individual or an assertion between kinds that it
  has not seen before (the summary is otherwise a part of one HermiT found consistent).

What the previous build kept (STORE/builds/<id>/state/) is published with it: the
digests of its files, its validation results and its summary. A build falls back to a
full one when there is no such state, or when the ontology, the shapes, the checks asked
for or rivalry's own code differ from the previous build's.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import pyoxigraph as ox

from rivalry.graph import (
    DERIVED_GRAPH,
    GRAPH_BASE,
    INFERRED_GRAPH,
    META_GRAPH,
    ONTOLOGY_GRAPH,
    Subject,
    Term,
)
from rivalry.graph.build import (
    INCREMENTAL_MAX_SHARE,
    RDF_TYPE,
    SOURCE_DOCUMENT,
    BuildOptions,
    Database,
    Phases,
    SourceFile,
    State,
    Work,
    _count,
    _labels,
    _manifest,
    check_stated_once,
    check_terms_in,
    content_hash,
    describe_facts_graph,
    engine_digest,
    fits_in_memory,
    graph_size,
    ontology_digest,
    parse_file,
    refuse_if_inconsistent,
    scan,
    shapes_digest,
)
from rivalry.graph.refigure import Change
from rivalry.graph.search import INDEX_FILE
from rivalry.graph.segments import Previous, copiable
from rivalry.graph.store import BuildInfo, StoreLocation

if TYPE_CHECKING:
    from rivalry.graph.derive import DerivedChange

Progress = Callable[[str], None]


@dataclass
class Plan:
    previous: Path
    state: State
    directory: Path
    files: list[SourceFile]
    changed: list[SourceFile]
    removed: list[str]
    digest: str


def plan_incremental(location: StoreLocation, directory: Path, options: BuildOptions,
                     progress: Progress) -> Plan | None:
    """An incremental build from the current one, or None (with the reason said) when
    only a full build will do."""
    current = location.current()
    if current is None:
        return None
    state = State.read(current)

    def full(reason: str) -> Plan | None:
        """No plan: the reason said, a full build follows."""
        progress(f"full build: {reason}")
        return None

    if state is None:
        return full("the current build kept nothing for an incremental one")
    m = state.manifest
    if m.get("engine") != engine_digest():
        return full("rivalry's build code changed since the current build")
    if m.get("ontology") != ontology_digest():
        return full("the ontology changed")
    if m.get("shapes") != shapes_digest():
        return full("the shapes changed")
    if options.validation and not m.get("validation"):
        return full("the current build was not validated against the shapes")
    if options.consistency and not m.get("consistency"):
        return full("the current build was not checked for consistency")
    if m.get("facts") != str(directory.resolve()):
        return full(f"the current build was made from {m.get('facts')}, not {directory}")
    if not (current / "db").is_dir():
        return full("the current build has no database")
    files = scan(directory)
    known = m.get("files", {})
    changed = [f for f in files if known.get(f.name, {}).get("sha256") != f.sha256]
    names = {f.name for f in files}
    removed = sorted(n for n in known if n not in names)
    for f in files:
        if f not in changed:
            f.triples = known[f.name]["triples"]
    total = sum(v.get("triples", 0) for v in known.values()) or 1
    touched = sum(known.get(f.name, {}).get("triples", 0) for f in changed) \
        + sum(known[n].get("triples", 0) for n in removed)
    if touched / total > INCREMENTAL_MAX_SHARE:
        return full(f"{_count(len(changed) + len(removed), 'facts file')} changed, "
                    f"{100 * touched / total:.0f}% of the triples")
    digest = content_hash(files, m["ontology"], m["shapes"])
    return Plan(current, state, directory, files, changed, removed, digest)


def checkpoint(source: Path, target: Path) -> None:
    """A copy of a closed RocksDB database that shares its table files (hard links; the
    database never rewrites one), as RocksDB's own checkpoints do."""
    target.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name == "LOCK" or not entry.is_file():
            continue
        if entry.suffix in (".sst", ".blob"):
            try:
                os.link(entry, target / entry.name)
                continue
            except OSError:  # another file system: copy
                pass
        shutil.copy2(entry, target / entry.name)


def metadata_for(f: SourceFile, quads: Iterable[ox.Quad]) -> set[ox.Quad]:
    """The metadata graph's description of a facts graph, from its quads."""
    sources = {q.subject for q in quads if q.predicate == RDF_TYPE
               and q.object == SOURCE_DOCUMENT}
    return set(describe_facts_graph(f, sources))


def _triple(q: ox.Quad) -> ox.Triple:
    return ox.Triple(q.subject, q.predicate, q.object)


def _asserted_graphs_of(store: ox.Store, t: ox.Triple) -> set[str]:
    return {q.graph_name.value for q in store.quads_for_pattern(t.subject, t.predicate,
                                                                t.object, None)
            if isinstance(q.graph_name, ox.NamedNode)
            and q.graph_name.value.startswith(GRAPH_BASE)
            and q.graph_name.value not in (INFERRED_GRAPH, DERIVED_GRAPH)}


def run_incremental(plan: Plan, partial: Path, options: BuildOptions, phases: Phases,
                    on_file: Callable[[int, int, int], None] | None
                    ) -> tuple[Work, Database]:
    from rivalry.graph.reason import update_inferences

    names = ", ".join([f.name for f in plan.changed] + [f"{n} (removed)" for n in plan.removed])
    phases.progress(f"incremental build from {plan.previous.name}: "
                    + (f"{_count(len(plan.changed) + len(plan.removed), 'facts file')} changed"
                       f" ({names})" if names else "no facts file changed"))
    db_path = partial / "db"
    phases.run("copy", lambda: checkpoint(plan.previous / "db", db_path),
               lambda _: "the previous build's database, sharing its files")
    store = ox.Store(str(db_path))
    # the previous build's derived graph stays while the checks run, as none of them reads
    # it: no entailment rule has a derived property in its premises, no shape reads one
    # (and they are declared terms), and the consistency summary leaves the graph out; it
    # is updated for the change at the end (docs/architecture.md, "Incremental builds")
    meta = ox.NamedNode(META_GRAPH)

    # -- the new content of the changed graphs, and what changes in the union -----------------
    def read_changed() -> dict[str, Any]:
        removed_q: dict[str, set[ox.Quad]] = {}
        added_q: dict[str, set[ox.Quad]] = {}
        for i, f in enumerate(plan.changed, start=1):
            new = set(parse_file(f))
            f.triples = len({_triple(q) for q in new})
            old = set(store.quads_for_pattern(None, None, None, f.graph))
            old_meta = set(store.quads_for_pattern(f.graph, None, None, meta))
            new_meta = metadata_for(f, new)
            removed_q[f.graph.value] = (old - new) | (old_meta - new_meta)
            added_q[f.graph.value] = (new - old) | (new_meta - old_meta)
            if on_file is not None:
                on_file(i, len(plan.changed), f.triples)
        for name in plan.removed:
            graph = ox.NamedNode(f"{GRAPH_BASE}facts/{name}")
            removed_q[graph.value] = set(store.quads_for_pattern(None, None, None, graph)) \
                | set(store.quads_for_pattern(graph, None, None, meta))
            added_q[graph.value] = set()
        return {"removed": removed_q, "added": added_q}

    def said(d: dict[str, Any]) -> str:
        gone = sum(len(v) for v in d["removed"].values())
        new = sum(len(v) for v in d["added"].values())
        graphs = len(plan.changed) + len(plan.removed)
        return f"{_count(gone, 'quad')} removed, {_count(new, 'quad')} added in " \
               f"{_count(graphs, 'graph')}"

    delta = phases.run("read", read_changed, said)
    all_removed = {q for qs in delta["removed"].values() for q in qs}
    all_added = {q for qs in delta["added"].values() for q in qs}
    leaving = {_triple(q) for q in all_removed} - {_triple(q) for q in all_added}
    union_removed = set()
    for t in leaving:
        asserted = _asserted_graphs_of(store, t)
        asserted -= {q.graph_name.value for q in all_removed if _triple(q) == t}
        if not asserted:
            union_removed.add(t)
    union_added = {t for t in {_triple(q) for q in all_added}
                   if not _asserted_graphs_of(store, t)}

    def apply() -> None:
        for q in all_removed:
            store.remove(q)
        store.extend(all_added)

    change = phases.run("inference", lambda: update_inferences(store, union_removed,
                                                               union_added, apply),
                        lambda c: f"{_count(len(c.removed), 'inferred triple')} removed, "
                                  f"{_count(len(c.added), 'inferred triple')} added (DRed)")
    changed_triples = {_triple(q) for q in all_removed | all_added} | change.removed \
        | change.added
    labels = _labels(plan.files)
    graphs = [f.graph for f in plan.changed]
    if graphs:
        phases.run("terms", lambda: check_terms_in(store, labels, graphs),
                   lambda _: "every rivalry term the changed files use is declared")
        phases.run("restated", lambda: check_stated_once(store, labels, graphs),
                   lambda _: "no triple of the changed files is stated in another")
    manifest = _manifest(plan.files, plan.directory, None, options, plan.digest)
    inferred = plan.state.manifest.get("inferred")
    inferred = (inferred - len(change.removed) + len(change.added) if inferred is not None
                else graph_size(store, ox.NamedNode(INFERRED_GRAPH)))
    manifest["inferred"] = inferred
    work = Work(store, plan.files, plan.directory, plan.digest, manifest, inferred=inferred)
    if options.validation:
        work.validation, work.results, line = _revalidate(store, plan, options, phases,
                                                          changed_triples, labels)
        work.rechecked.append(line)
    # the inferred graph's change, as quads (the consistency check and the copy in
    # memory both take it so)
    inferred_graph = ox.NamedNode(INFERRED_GRAPH)
    inferred_removed = {ox.Quad(t.subject, t.predicate, t.object, inferred_graph)
                        for t in change.removed}
    inferred_added = {ox.Quad(t.subject, t.predicate, t.object, inferred_graph)
                      for t in change.added}
    if options.consistency:
        report, summary, line = _recheck(store, plan, options, phases, changed_triples,
                                         all_removed | inferred_removed,
                                         all_added | inferred_added)
        work.consistency, work.summary = report, summary
        work.rechecked.append(line)
        refuse_if_inconsistent(report)
    derived = update_derived_phase(store, phases, changed_triples)
    work.index_update = (plan.previous / INDEX_FILE, changed_triples)
    shared_before = plan.state.manifest.get("shared_graphs")
    if isinstance(shared_before, list):  # kept by the previous build
        work.shared_update = (
            [ox.NamedNode(g) for g in shared_before],
            {_triple(q) for q in all_added} | set(change.added)
            | {_triple(q) for q in derived.added})
    changes = [(all_removed, all_added), (inferred_removed, inferred_added),
               (derived.removed, derived.added)]
    # the figures are updated from the previous build's, reading only what the change
    # can reach (rivalry.graph.refigure)
    change_whole = Change.of_steps(changes)
    work.figures_update = (plan.previous, change_whole)
    previous_quads = _previous_quads(plan.previous)
    if previous_quads is not None:
        work.quads = previous_quads - len(change_whole.removed) + len(change_whole.added)
    layout, why_not = copiable(plan.previous) if options.dumps else (None, "")
    if layout is not None:
        # the dumps copy the previous build's segments the change leaves alone, and
        # write the others from the database (rivalry.graph.segments)
        work.dumps_update = Previous(plan.previous / "dumps", layout,
                                     change_whole.quads())
    elif options.dumps and fits_in_memory(plan.files, options):
        # the dumps, written whole, read every quad: faster from memory than from
        # RocksDB, which pays for the copy (docs/architecture.md, "Incremental builds")
        work.in_memory = phases.run(
            "in memory", lambda: in_memory(store, plan.previous, changes),
            lambda m: f"{len(m[0]):,} quads in memory for the dumps, written whole "
                      f"({why_not}), and the index, {m[1]}")[0]

    def finish(info: BuildInfo) -> None:
        phases.run("store", lambda: work.store.flush(),
                   lambda _: f"{info.quads:,} quads in {info.graphs} graphs")
    return work, Database(finish)


def _previous_quads(previous: Path) -> int | None:
    """How many quads the previous build held, as its build.json says, or None."""
    try:
        quads = BuildInfo.read(previous / "build.json").quads
    except (OSError, ValueError, TypeError):  # unreadable, or without the field
        return None
    return quads if isinstance(quads, int) and not isinstance(quads, bool) else None


#: The previous build's dump from which the graph is put in memory (rivalry.graph.products).
PREVIOUS_DUMP = Path("dumps") / "rivalry.nq.gz"


def in_memory(store: ox.Store, previous: Path,
              changes: Iterable[tuple[Iterable[ox.Quad], Iterable[ox.Quad]]]
              ) -> tuple[ox.Store, str]:
    """The graph of `store` (the database an incremental build has changed) in memory, and
    how it was had: the previous build's N-Quads dump read back and changed as the
    database was (`changes`, the quads each step removed and added), which reads faster
    than the database itself; or, when that dump is missing, cannot be read or disagrees
    with the database, every quad of the database copied."""
    memory = _from_dump(previous / PREVIOUS_DUMP, changes, len(store))
    if memory is not None:
        return memory, "from the previous build's N-Quads dump, changed as the database was"
    memory = ox.Store()
    memory.bulk_extend(store.quads_for_pattern(None, None, None, None))
    return memory, "copied from the database"


def _from_dump(dump: Path, changes: Iterable[tuple[Iterable[ox.Quad], Iterable[ox.Quad]]],
               expected: int) -> ox.Store | None:
    """The previous build's dump, changed; None unless every quad a step removed was in
    it and the result holds as many quads as the database (`expected`)."""
    if not dump.is_file():
        return None
    memory = ox.Store()
    try:
        with gzip.open(dump, "rb") as data:
            # parsed, not bulk-loaded: the bulk loader would give blank nodes new labels
            memory.bulk_extend(ox.parse(cast(IO[bytes], data), ox.RdfFormat.N_QUADS))
    except (OSError, EOFError, zlib.error, SyntaxError, ValueError):
        return None  # cut short, damaged, or not N-Quads: the database is copied instead
    for removed, added in changes:
        for q in removed:
            if q not in memory:
                return None
            memory.remove(q)
        memory.extend(added)
    return memory if len(memory) == expected else None


def update_derived_phase(store: ox.Store, phases: Phases,
                         changed: set[ox.Triple]) -> DerivedChange:
    """The derived graph, updated from the previous build's for what the changed triples
    (asserted and inferred) can affect (rivalry.graph.derive)."""
    from rivalry.graph.derive import derived_change

    def run() -> DerivedChange:
        change = derived_change(store, changed)
        for q in change.removed:
            store.remove(q)
        store.extend(change.added)
        return change

    def said(c: DerivedChange) -> str:
        again = [f"the most specific types of {_count(c.typed, 'node')}",
                 f"the day numbers of {_count(c.dated, 'node')}"]
        if c.responses:
            again.append("the response chains")
        return (f"<{DERIVED_GRAPH}> updated: {_count(len(c.removed), 'triple')} removed, "
                f"{len(c.added):,} added; computed again: " + ", ".join(again))

    return phases.run("derive", run, said)


# ---------------------------------------------------------------------------------------
# SHACL on what the change can affect
# ---------------------------------------------------------------------------------------


def affected_focus(store: ox.Store, changed: set[ox.Triple], depth: int,
                   through: frozenset[str] | None, backward: bool) -> set[Term]:
    """The focus nodes whose results the changed triples can affect: a constraint reads
    triples along paths from its focus node; a changed triple is read by the nodes that
    reach its subject in fewer than `depth` steps along `through` (and its object too,
    for constraints that follow triples backwards)."""
    start: set[Term] = {t.subject for t in changed}
    if backward:
        start |= {t.object for t in changed if not isinstance(t.object, ox.Literal)}
    found = set(start)
    frontier = start
    for _ in range(max(depth - 1, 0)):
        reached: set[Term] = set()
        for node in frontier:
            if isinstance(node, ox.Literal):
                continue
            for q in store.quads_for_pattern(None, None, node, None):
                if through is not None and q.predicate.value not in through:
                    continue
                if q.graph_name.value == ONTOLOGY_GRAPH if isinstance(q.graph_name,
                                                                      ox.NamedNode) else False:
                    continue
                reached.add(q.subject)
            if backward:
                for q in store.quads_for_pattern(node, None, None, None):
                    if through is None or q.predicate.value in through:
                        if not isinstance(q.object, ox.Literal):
                            reached.add(q.object)
        frontier = reached - found
        found |= reached
    return found


def _revalidate(store: ox.Store, plan: Plan, options: BuildOptions, phases: Phases,
                changed: set[ox.Triple], labels: dict[str, str]
                ) -> tuple[Any, list[dict[str, Any]], str]:
    from rivalry.graph.shacl import Runner
    from rivalry.graph.validate import (
        Report,
        constraints,
        facts_subjects,
        node_key,
        refuse_unless_conforms,
        sort_results,
        to_result,
    )

    every = constraints()
    bounded = [c for c in every if c.reach.depth is not None]
    unbounded = [c for c in every if c.reach.depth is None]
    depth = max((c.reach.depth or 1 for c in bounded), default=1)
    through: frozenset[str] | None = frozenset()
    for c in bounded:
        through = None if through is None or c.reach.through is None \
            else through | c.reach.through
    backward = any(c.reach.backward for c in bounded)

    def work() -> tuple[Report, set[Term]]:
        focus = affected_focus(store, changed, depth, through, backward)
        status = phases.status
        ticker = (lambda done, total: status(f"SHACL: {done}/{total} queries")) \
            if status else None
        found = Runner(store, bounded).run(focus, options.threads, ticker)
        found += Runner(store, unbounded).run(None, options.threads)
        where = facts_subjects(store, (v.focus for v in found), labels)
        fresh = [to_result(v, where[v.focus]) for v in found if v.focus in where]
        keys = {node_key(t) for t in focus}
        again = {c.id for c in unbounded}
        kept = [r for r in plan.state.results()
                if r.focus not in keys and r.constraint not in again]
        results = sort_results(kept + fresh)
        conforms = not any(r.severity == "Violation" for r in fresh)
        report = Report(conforms=conforms, results=results, focus_nodes=len(focus),
                        constraints=len(every))
        return report, focus

    def done(value: tuple[Report, set[Term]]) -> str:
        report, focus = value
        counts = report.counts()
        verdict = "the facts conform" if report.conforms else "the facts do not conform"
        extra = (f"; {len(unbounded)} constraint(s) whose reach has no bound ran on all "
                 "their targets") if unbounded else ""
        return (f"{verdict}: {_count(counts['Violation'], 'violation')}, "
                f"{_count(counts['Warning'], 'warning')}, {_count(counts['Info'], 'info')}; "
                f"re-validated the {_count(len(focus), 'node')} the change can affect "
                f"(within {depth} step(s) of a changed triple){extra}")

    report, focus = phases.run("SHACL", work, done)
    line = f"SHACL re-validated {_count(len(focus), 'node')} the change can affect"
    refuse_unless_conforms(report)
    return report, report.results, line


# ---------------------------------------------------------------------------------------
# Consistency: the summary, updated
# ---------------------------------------------------------------------------------------


def _recheck(store: ox.Store, plan: Plan, options: BuildOptions, phases: Phases,
             changed: set[ox.Triple], gone: set[ox.Quad], added: set[ox.Quad]
             ) -> tuple[Any, Any, str]:
    from rivalry.graph.consistency import (
        Features,
        TBox,
        check_store,
        data_graphs,
        decide,
        inferred_kept,
        is_schema_triple,
        load_summary,
        ontology_triples,
    )

    previous = load_summary(plan.previous / "state" / "summary.json")
    ontology = ontology_triples(store)
    tbox = TBox.read(ontology + sorted(previous.schema, key=str) if previous else ontology)
    schema_changed = any(is_schema_triple(t.predicate.value, t.object) for t in changed)
    reason = None
    if previous is None:
        reason = "the current build kept no summary"
    elif tbox.functional or tbox.inverse_functional or tbox.unsupported:
        reason = "the ontology has functional properties or axioms a summary update cannot follow"
    elif schema_changed:
        reason = "the change adds or removes schema triples"
    if reason is not None:
        def full() -> Any:
            phases.progress(f"consistency: the whole summary is computed again ({reason})")
            return check_store(store, options.hermit, progress=phases.progress)
        report, summary, _ = phases.run("consistency", full,
                                        lambda v: v[0].message + " (HermiT on a new summary)")
        return report, summary, "consistency: summary computed again"
    assert previous is not None

    def work() -> tuple[Any, Any, int]:
        prev_db = ox.Store.read_only(str(plan.previous / "db"))
        identity = set(tbox.individuals)
        for t in previous.schema:
            identity.add(t.subject)
            if not isinstance(t.object, ox.Literal):
                identity.add(t.object)
        # the individuals whose kind may change: the ends of changed triples (classes,
        # the objects of rdf:type, are no individuals of the facts)
        nodes = {t.subject for t in changed} | {
            t.object for t in changed
            if not isinstance(t.object, ox.Literal) and t.predicate.value != RDF_TYPE.value}
        summary = _copy_summary(previous)
        kept = inferred_kept(store)
        old_keys = _Keys(prev_db, tbox, identity, kept)
        new_keys = _Keys(store, tbox, identity, kept)
        moved = set()
        for node in nodes:
            was, now = old_keys.own(node), new_keys.own(node)
            if was == now:
                continue
            moved.add(node)
            if was is not None:
                summary.kinds[was] = summary.kinds.get(was, 0) - 1
            if now is not None:
                summary.kinds[now] = summary.kinds.get(now, 0) + 1
                shown = summary.examples.setdefault(now, [])
                if len(shown) < 5 and str(node) not in shown:
                    shown.append(str(node))
        # assertions counted again: those of individuals whose kind changed, and the
        # changed ones themselves
        seen_old: set[ox.Quad] = set()
        seen_new: set[ox.Quad] = set()
        for node in moved:
            for q in old_keys.incident(node):
                if q not in seen_old:
                    seen_old.add(q)
                    old_keys.count(summary, q, -1)
            for q in new_keys.incident(node):
                if q not in seen_new:
                    seen_new.add(q)
                    new_keys.count(summary, q, +1)
        for q in gone:
            if q not in seen_old and _data(q) and counted(q, kept):
                old_keys.count(summary, q, -1)
        for q in added:
            if q not in seen_new and _data(q) and counted(q, kept):
                new_keys.count(summary, q, +1)
        for key in [k for k, n in summary.kinds.items() if n <= 0]:
            del summary.kinds[key]
            summary.examples.pop(key, None)
        summary.edges = type(summary.edges)({k: n for k, n in summary.edges.items() if n > 0})
        summary.values = type(summary.values)({k: n for k, n in summary.values.items()
                                               if n > 0})
        del prev_db
        gained = summary.items() - previous.items()
        features = Features(tbox)
        for q in added:
            features.add(q.subject, q.predicate.value, q.object)
        features.identity = identity
        new_kinds = [k for k in summary.kinds if ("kind", k) in gained]
        if not gained:
            from rivalry.graph.consistency import ConsistencyReport, literal_culprits

            culprits = literal_culprits(features)
            report = ConsistencyReport(not culprits, culprits=culprits, method="unchanged",
                                       individuals=sum(summary.kinds.values()),
                                       kinds=len(summary.kinds))
            report.message = ("the ontology and facts are inconsistent" if culprits
                              else "consistent; no unsatisfiable class")
            return report, summary, len(nodes)
        report = decide(store, data_graphs(store), ontology, tbox, features, summary,
                        options.hermit, new_kinds=new_kinds, progress=phases.progress)
        return report, summary, len(nodes)

    def done(value: tuple[Any, Any, int]) -> str:
        from rivalry.graph.build import _consistency_line

        report, summary, touched = value
        return (f"{_consistency_line(report)}; the summary updated for the "
                f"{_count(touched, 'individual')} the change touches")

    report, summary, touched = phases.run("consistency", work, done)
    line = (f"consistency: summary updated for {_count(touched, 'individual')}; "
            + ("HermiT not needed" if report.method == "unchanged" else "HermiT ran"))
    return report, summary, line


def _copy_summary(summary: Any) -> Any:
    from rivalry.graph.consistency import Summary

    return Summary(kinds=dict(summary.kinds), edges=type(summary.edges)(summary.edges),
                   values=type(summary.values)(summary.values),
                   examples={k: list(v) for k, v in summary.examples.items()},
                   schema=set(summary.schema))


class _Keys:
    """The kinds of individuals in one store (the previous build's or the new one)."""

    def __init__(self, store: ox.Store, tbox: Any, identity: set[Term],
                 kept: frozenset[str]) -> None:
        from rivalry.graph.consistency import Features

        self.kept = kept
        self.store = store
        self.tbox = tbox
        self.identity = identity
        self.cache: dict[Term, str | None] = {}
        self.Features = Features

    def own_triples(self, node: Subject) -> Iterator[ox.Quad]:
        """The quads of the data graphs the summary reads with `node` as subject."""
        return (q for q in self.store.quads_for_pattern(node, None, None, None)
                if _data(q) and counted(q, self.kept))

    def incident(self, node: Subject) -> list[ox.Quad]:
        out = list(self.own_triples(node))
        for q in self.store.quads_for_pattern(None, None, node, None):
            if _data(q) and q.subject != node and counted(q, self.kept):
                out.append(q)
        return out

    def features(self, node: Subject) -> Any:
        """The features of `node` (and of its neighbours, partly: only `node`'s count).
        Its triples in full; of those that point to it, one per property and graph where
        the property is an assertion's (its feature does not depend on the subject), in
        full otherwise: a state or an agency is the object of tens of thousands."""
        from rivalry.graph.consistency import ASSERTION, SKIP

        f = self.Features(self.tbox)
        f.identity = self.identity
        for q in self.own_triples(node):
            f.add(q.subject, q.predicate.value, q.object)
        pointing = self.store.query(
            "SELECT ?node ?p ?g (SAMPLE(?s) AS ?one) WHERE { GRAPH ?g { ?s ?p ?node } "
            "FILTER(!sameTerm(?s, ?node)) } GROUP BY ?node ?p ?g",
            substitutions={ox.Variable("node"): node})
        found = [(row["p"], row["g"], row["one"]) for row in cast(ox.QuerySolutions, pointing)]
        del pointing
        for p, g, one in found:
            q = ox.Quad(one, p, node, g)
            if not (_data(q) and counted(q, self.kept)):
                continue
            if f.kind(p.value) in (ASSERTION, SKIP):
                f.add(one, p.value, node)
                continue
            for q in self.store.quads_for_pattern(None, p, node, g):
                if q.subject != node:
                    f.add(q.subject, p.value, node)
        return f

    def own(self, node: Subject) -> str | None:
        """The node's kind, or None when it is no individual of the facts."""
        if node in self.cache:
            return self.cache[node]
        f = self.features(node)
        key = f.key(node) if node in f.features else None
        self.cache[node] = key
        return key

    def key(self, node: Subject) -> str:
        found = self.own(node)
        return found if found is not None else ""

    def count(self, summary: Any, q: ox.Quad, sign: int) -> None:
        from rivalry.graph.consistency import add_assertion

        f = self.Features(self.tbox)
        f.identity = self.identity
        add_assertion(summary, f, self.key, q.subject, q.predicate.value, q.object, sign)


def counted(q: ox.Quad, kept: frozenset[str]) -> bool:
    from rivalry.graph.consistency import counted as summary_counts

    return summary_counts(q, kept)


def _data(q: ox.Quad) -> bool:
    g = q.graph_name
    return isinstance(g, ox.NamedNode) and g.value.startswith(GRAPH_BASE) \
        and g.value not in (ONTOLOGY_GRAPH, DERIVED_GRAPH)
