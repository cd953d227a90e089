"""`rivalry build`: materialised inferences, named graphs, atomic publication, bad input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

import rivalry.graph.build
from rivalry.graph import (
    DERIVED_GRAPH,
    FACTS_GRAPH_BASE,
    INFERRED_GRAPH,
    META_GRAPH,
    ONTOLOGY_GRAPH,
)
from rivalry.graph.build import BuildOptions, build
from rivalry.graph.errors import InvalidFacts, InvalidInput
from rivalry.graph.load import load_ontology
from rivalry.graph.store import EmbeddedStore, StoreLocation

from .conftest import CURATED_FACTS, DATA, run

RV = "PREFIX rv: <https://w3id.org/rivalry/ontology#>\n"
RV_NS = "https://w3id.org/rivalry/ontology#"


def select(store: EmbeddedStore, query: str) -> list[list[str]]:
    return [[t.value if t is not None else None for t in row]
            for row in store.query(RV + query).rows()]


def test_measure_query_finds_every_sanction_and_export_control(store_dir: Path) -> None:
    store = EmbeddedStore(store_dir)
    measures = {r[0] for r in select(store, "SELECT ?m { ?m a rv:Measure }")}
    sanctions = {r[0] for r in select(store, "SELECT ?m { ?m a rv:Sanction }")}
    controls = {r[0] for r in select(store, "SELECT ?m { ?m a rv:ExportControl }")}
    assert sanctions and controls
    assert sanctions | controls <= measures
    assert "https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity" in measures
    assert "https://w3id.org/rivalry/id/action/us-bis-2025-01-13-ai-diffusion" in measures


def test_inferences_live_in_their_own_graph(store_dir: Path) -> None:
    store = EmbeddedStore(store_dir)
    rows = select(store, """SELECT ?g { GRAPH ?g {
        <https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity>
            rv:issuingState <https://w3id.org/rivalry/id/state/us> } }""")
    assert rows == [[INFERRED_GRAPH]]
    inverse = select(store, """SELECT ?m { <https://w3id.org/rivalry/id/company/integrity-technology-group>
        rv:targetedBy ?m }""")
    assert inverse == [["https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity"]]


def test_one_named_graph_per_facts_file_and_union_default(store_dir: Path) -> None:
    store = EmbeddedStore(store_dir)
    graphs = set(store.named_graphs())
    files = sorted(CURATED_FACTS.rglob("*.ttl"))
    expected = {FACTS_GRAPH_BASE + p.relative_to(CURATED_FACTS).with_suffix("").as_posix()
                for p in files}
    assert expected <= graphs
    assert {ONTOLOGY_GRAPH, INFERRED_GRAPH, META_GRAPH, DERIVED_GRAPH} <= graphs
    assert len(graphs) == len(files) + 4
    # The default graph is the union: a query joins facts from different files.
    rows = select(store, """SELECT ?label { ?a rv:issuedBy ?agency . ?agency rdfs:label ?label .
        FILTER(?a = <https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity>) }""".replace(
        "SELECT", "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT"))
    assert rows == [["Office of Foreign Assets Control"]]
    # Each facts graph is described in the metadata graph with its sources.
    meta = select(store, f"""SELECT ?src {{ GRAPH <{META_GRAPH}> {{
        <{FACTS_GRAPH_BASE}events/2025-01-integrity-technology-sanction>
        a rv:AssertionGraph ; <http://www.w3.org/ns/prov#wasDerivedFrom> ?src }} }}""")
    assert ["https://w3id.org/rivalry/id/source/treasury-jy2769"] in meta


def test_rebuild_gives_the_same_store(fresh_store: Path, cli: CliRunner, tmp_path: Path) -> None:
    first = tmp_path / "first.nq"
    second = tmp_path / "second.nq"
    run(cli, "export", "--store", fresh_store, "--format", "nquads", "-o", first)
    result = run(cli, "build", "--store", fresh_store, "--quiet", "--no-consistency-check")
    assert result.exit_code == 0, result.output
    run(cli, "export", "--store", fresh_store, "--format", "nquads", "-o", second)
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_bytes()) > 10_000


def test_store_location_from_option_and_environment(tmp_path: Path, cli: CliRunner,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    by_env = tmp_path / "env-store"
    monkeypatch.setenv("RIVALRY_STORE", str(by_env))
    result = run(cli, "build", "--quiet", "--no-consistency-check")
    assert result.exit_code == 0, result.output
    assert StoreLocation(by_env).current() is not None
    by_option = tmp_path / "option-store"
    result = run(cli, "build", "--quiet", "--no-consistency-check", "--store", by_option)
    assert result.exit_code == 0, result.output
    assert StoreLocation(by_option).current() is not None


def served_snapshot(store_dir: Path) -> tuple[str, str]:
    location = StoreLocation(store_dir)
    current = location.current()
    assert current is not None
    return os.readlink(location.current_link), location.current_info().content_hash


def test_syntax_error_names_file_line_and_column_and_keeps_the_store(
        fresh_store: Path, cli: CliRunner, tmp_path: Path) -> None:
    before = served_snapshot(fresh_store)
    result = run(cli, "build", "--store", fresh_store, "--facts", DATA / "syntax-error")
    assert result.exit_code == 2
    message = result.stderr
    assert "broken.ttl:6:" in message  # the line of the unterminated string
    assert "syntax error" in message.lower()
    assert served_snapshot(fresh_store) == before
    # ...and the old build still answers.
    assert EmbeddedStore(fresh_store).query(RV + "ASK { ?m a rv:Sanction }").boolean


def test_syntax_error_location_is_exact() -> None:
    with pytest.raises(InvalidInput) as caught:
        build("/nonexistent-never-written", DATA / "syntax-error", consistency=False)
    assert caught.value.location.file.endswith("broken.ttl")
    assert caught.value.location.line == 6
    assert caught.value.location.column is not None


def test_deeply_nested_triple_terms_are_refused_not_a_crash(tmp_path: Path) -> None:
    """A facts file the bulk loader would have parsed: 20,000 levels of triple terms
    ended the build's process (a stack overflow); now it is an input error with a place."""
    from .test_validate_http import deep_triple_terms

    facts = tmp_path / "facts"
    shutil.copytree(DATA / "consistent", facts)
    (facts / "deep.ttl").write_text(deep_triple_terms(20_000))
    with pytest.raises(InvalidInput, match="nest more than 500 levels deep") as caught:
        build(tmp_path / "store", facts, consistency=False, validation=False)
    assert caught.value.location.file.endswith("deep.ttl")
    assert caught.value.location.line == 2


@pytest.mark.parametrize("where", ["memory", "disk, each file read apart",
                                   "disk, each file queried in the database"])
@pytest.mark.parametrize("consistency", [True, False])
def test_an_impossible_literal_is_said_first_though_checked_beside_the_inference(
        tmp_path: Path, consistency: bool, where: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The typed literals are checked in a phase of their own, beside the inference and
    the restated check: a file whose literal cannot exist is refused as an input error
    with its place, before the restated triple another file repeats, and before the
    checks that follow. In memory each file's graph is queried in the working store; on
    disk a file that fits the memory setting is read again into a store of its own and
    queried there, a larger one in the database."""
    options = {"incremental": False, "dumps": False}
    if where == "disk, each file read apart":
        monkeypatch.setattr("rivalry.graph.build.fits_in_memory", lambda *_: False)
    elif where.startswith("disk"):
        options["memory_mb"] = 0
    literal_queries: list[int] = []  # the quads of each store the literals are asked of
    real_select = rivalry.graph.build.select

    def select(store: ox.Store, query: str) -> Any:
        if "datatype(?o) IN" in query:
            literal_queries.append(len(store))
        return real_select(store, query)

    monkeypatch.setattr("rivalry.graph.build.select", select)
    facts = tmp_path / "facts"
    shutil.copytree(DATA / "consistent", facts)
    head = ("@prefix rv: <https://w3id.org/rivalry/ontology#> .\n"
            "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n")
    (facts / "bad.ttl").write_text(
        head + "<https://w3id.org/rivalry/id/action/x> rv:announcedOn "
        '"2023-07-32"^^xsd:date ;\n    rv:announcedOn "2023-07-01"^^xsd:date .\n')
    (facts / "again.ttl").write_text(
        head + "<https://w3id.org/rivalry/id/action/x> rv:announcedOn "
        '"2023-07-01"^^xsd:date .\n')
    said: list[str] = []
    with pytest.raises(InvalidInput, match="is not a valid xsd:date") as caught:
        build(tmp_path / "store", facts, consistency=consistency,
              options=BuildOptions(**options), progress=said.append)
    assert caught.value.location.file.endswith("bad.ttl")
    assert (caught.value.location.line, caught.value.location.column) == (3, 55)
    assert not any(line.startswith(("SHACL", "consistency")) for line in said)
    assert not (tmp_path / "store" / "current").exists()
    assert ("working on disk" in said[0]) == where.startswith("disk")
    ontology_quads = len(load_ontology(None))
    # read apart, a file's store holds its own quads only, not the ontology's
    assert literal_queries and all((n < ontology_quads) == (where == "disk, each file read apart")
                                   for n in literal_queries)

    (facts / "bad.ttl").write_text((facts / "again.ttl").read_text())
    with pytest.raises(InvalidFacts, match="stated in more than one facts file"):
        build(tmp_path / "store", facts, consistency=consistency,
              options=BuildOptions(**options))
    (facts / "again.ttl").unlink()
    result = build(tmp_path / "store", facts, consistency=consistency, validation=False,
                   options=BuildOptions(**options), progress=said.append)
    assert result.path.exists()
    assert any(line.startswith("literals: every typed literal") for line in said)


def test_a_refused_build_on_disk_leaves_its_database_closed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build refused while working in its database on disk removes that database and
    closes it, though the caller keeps the refusal: its frames no longer hold the
    working store (RocksDB keeps a lock on an open database, which a build into the same
    place, in the same process and second, ran into)."""
    facts = tmp_path / "facts"
    shutil.copytree(DATA / "consistent", facts)
    (facts / "bad.ttl").write_text(
        "@prefix rv: <https://w3id.org/rivalry/ontology#> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        '<https://w3id.org/rivalry/id/action/x> rv:announcedOn "2023-07-32"^^xsd:date .\n')
    made: list[Path] = []
    new_build_dir = StoreLocation.new_build_dir

    def recorded(self: StoreLocation, build_id: str) -> Path:
        made.append(new_build_dir(self, build_id))
        return made[-1]

    monkeypatch.setattr(StoreLocation, "new_build_dir", recorded)
    with pytest.raises(InvalidInput) as caught:
        build(tmp_path / "store", facts,
              options=BuildOptions(memory_mb=0, incremental=False, dumps=False))
    [partial] = made
    assert not partial.exists()
    partial.mkdir(parents=True)
    opened = ox.Store(str(partial / "db"))  # the lock is free: the database was closed
    assert len(opened) == 0
    assert "is not a valid xsd:date" in str(caught.value)


def test_inconsistent_facts_are_refused_and_the_store_kept(fresh_store: Path,
                                                           cli: CliRunner) -> None:
    before = served_snapshot(fresh_store)
    result = run(cli, "build", "--store", fresh_store, "--facts", DATA / "inconsistent")
    assert result.exit_code == 1
    assert "https://w3id.org/rivalry/id/state/atlantis" in result.stderr
    assert served_snapshot(fresh_store) == before


@pytest.mark.parametrize("memory_mb", [8000, 0])
def test_shacl_and_consistency_refuse_the_same_in_memory_as_on_disk(
        tmp_path: Path, memory_mb: int) -> None:
    """SHACL and the consistency check run side by side in memory as on disk, and both
    end before a refusal: inconsistent facts are refused the same way in either store,
    after both checks have said their line."""
    said: list[str] = []
    with pytest.raises(InvalidFacts) as caught:
        build(tmp_path / "store", DATA / "inconsistent", progress=said.append,
              options=BuildOptions(memory_mb=memory_mb, incremental=False, dumps=False))
    assert "https://w3id.org/rivalry/id/state/atlantis" in str(caught.value)
    assert ("working on disk" in said[0]) == (memory_mb == 0)
    assert any(line.startswith("SHACL: ") for line in said)
    assert any(line.startswith("consistency: ") for line in said)
    assert not (tmp_path / "store" / "current").exists()


@pytest.mark.parametrize("checks", [{"consistency": False},
                                    {"validation": False, "consistency": True}])
def test_unknown_ontology_term_is_refused_naming_file_and_term(tmp_path: Path,
                                                               checks: dict) -> None:
    """Whether the terms are checked by a query of their own or read off the consistency
    check's pass over the facts."""
    with pytest.raises(InvalidFacts) as caught:
        build(tmp_path / "s", DATA / "unknown-term", **checks)
    detail = str(caught.value)
    assert "typo.ttl" in detail and "Sanktion" in detail
    assert "does not declare" in detail
    assert not (tmp_path / "s" / "current").exists()


@pytest.mark.parametrize("checks", [{}, {"consistency": False},
                                    {"validation": False, "consistency": True}])
def test_a_term_only_an_annotation_names_is_refused(tmp_path: Path, checks: dict) -> None:
    """A misspelt term as the value of an annotation property (rdfs:seeAlso) is refused
    whichever checks run: the consistency check's pass, which skips annotation triples
    for the kinds, still reads their terms; with every check, SHACL leaves its shape of
    declared terms to the terms check, which must see it."""
    with pytest.raises(InvalidFacts) as caught:
        build(tmp_path / "s", DATA / "unknown-term-annotated", **checks)
    detail = str(caught.value)
    assert "see-also.ttl" in detail and "Sanktion" in detail, detail
    assert not (tmp_path / "s" / "current").exists()


def test_the_shape_of_declared_terms_runs_when_the_terms_check_cannot_decide_it(
        tmp_path: Path) -> None:
    """The terms check counts a term as declared when the ontology says anything of it;
    the shape, only when it has a type. An ontology that mentions a term without typing
    it leaves the shape's verdict to the shape, and a full build runs it."""
    from rivalry.ontology import ontology_file

    ontology = tmp_path / "ontology.ttl"
    ontology.write_text(ontology_file().read_text("utf-8") + """
<https://w3id.org/rivalry/ontology#Loose>
    <http://www.w3.org/2000/01/rdf-schema#comment> "said, never typed"@en .
""", "utf-8")
    facts = tmp_path / "facts"
    facts.mkdir()
    (facts / "loose.ttl").write_text(
        (DATA / "unknown-term-annotated" / "see-also.ttl").read_text("utf-8")
        .replace("rv:Sanktion", "rv:Loose"), "utf-8")
    with pytest.raises(InvalidFacts) as caught:
        build(tmp_path / "s", facts, ontology=ontology)
    detail = str(caught.value)
    assert "do not pass the shapes" in detail and "Loose" in detail, detail
    assert "not declared in the rivalry ontology" in detail


def test_the_shipped_ontology_lets_a_build_leave_the_declared_terms_to_its_check(
        store_dir: Path) -> None:
    """Every rivalry term of the ontology and metadata graphs is typed in the ontology,
    so a full build of the curated facts leaves DeclaredTermsShape to its terms check."""
    from rivalry.graph.build import declared_terms_decided

    built = ox.Store()
    built.extend(ox.Store.read_only(str(store_dir / "current" / "db"))
                 .quads_for_pattern(None, None, None, None))
    assert declared_terms_decided(built)
    built.add(ox.Quad(ox.NamedNode(RV_NS + "Action"),
                      ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"),
                      ox.NamedNode(RV_NS + "Untyped"), ox.NamedNode(ONTOLOGY_GRAPH)))
    assert not declared_terms_decided(built)
    built.remove_graph(ox.NamedNode(ONTOLOGY_GRAPH))
    built.extend(ox.Store.read_only(str(store_dir / "current" / "db"))
                 .quads_for_pattern(None, None, None, ox.NamedNode(ONTOLOGY_GRAPH)))
    assert declared_terms_decided(built)
    # the metadata's graph: an untyped rivalry term as subject, property or value
    untyped, meta = ox.NamedNode(RV_NS + "Untyped"), ox.NamedNode(META_GRAPH)
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    for quad in (ox.Quad(untyped, label, ox.Literal("x"), meta),
                 ox.Quad(ox.NamedNode("https://example.org/x"), untyped, ox.Literal("x"), meta),
                 ox.Quad(ox.NamedNode("https://example.org/x"), label, untyped, meta)):
        built.add(quad)
        assert not declared_terms_decided(built), quad
        built.remove(quad)
    assert declared_terms_decided(built)


def test_blank_nodes_of_the_built_graphs_keep_their_labels_in_the_database(
        tmp_path: Path) -> None:
    """The inferred and derived graphs reach the database whole; a store's loader would
    give their blank nodes labels of its own, cutting them off the facts' nodes. Each
    blank node of the database's inferred and derived graphs is a node of the facts."""
    facts = tmp_path / "facts"
    facts.mkdir()
    (facts / "blank.ttl").write_text("""
@prefix rv:   <https://w3id.org/rivalry/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/rivalry/id/person/test-blank> a rv:Person ;
    rdfs:label "a person who denied"@en .
[] a rv:Denial ; rdfs:label "a denial without a name"@en ;
    rv:issuedBy <https://w3id.org/rivalry/id/person/test-blank> .
""", "utf-8")
    result = build(tmp_path / "s", facts, consistency=False, validation=False)
    db = ox.Store.read_only(str(result.path / "db"))
    in_facts = {q.subject for q in db.quads_for_pattern(None, None, None, None)
                if isinstance(q.graph_name, ox.NamedNode)
                and q.graph_name.value.startswith(FACTS_GRAPH_BASE)}
    for built in (INFERRED_GRAPH, DERIVED_GRAPH):
        blank = {t for q in db.quads_for_pattern(None, None, None, ox.NamedNode(built))
                 for t in (q.subject, q.object) if isinstance(t, ox.BlankNode)}
        assert blank, f"the fixture should give <{built}> a blank node"
        assert blank <= in_facts, built


def test_failure_while_writing_leaves_no_partial_build(fresh_store: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    before = served_snapshot(fresh_store)

    def explode(writer: object) -> None:
        (writer.path / "half-written").write_text("x")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr("rivalry.graph.build.DiskWriter.finish", explode)
    with pytest.raises(OSError):
        build(fresh_store, consistency=False, options=BuildOptions(incremental=False))
    assert served_snapshot(fresh_store) == before
    assert not [p for p in (fresh_store / "builds").iterdir() if ".partial-" in p.name]


def test_the_database_is_finished_while_the_products_are_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the working store in memory, the database on disk is finished (its last
    writes, its compaction) while the search index, dumps and figures are written from
    memory, not after them; a failure of either still leaves no build."""
    import threading

    from rivalry.graph import build as build_module

    finished = threading.Event()
    finish, products = build_module.DiskWriter.finish, build_module._products

    def finishing(writer: object) -> None:
        finish(writer)  # type: ignore[arg-type]
        finished.set()

    def waiting(*args: object, **kwargs: object) -> object:
        # the products wait for the database: were they written first, as before, the
        # database would never be finished and the wait would end in a failure
        assert finished.wait(timeout=120), "the database was not finished beside the products"
        return products(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("rivalry.graph.build.DiskWriter.finish", finishing)
    monkeypatch.setattr("rivalry.graph.build._products", waiting)
    result = build(tmp_path / "s", consistency=False, validation=False,
                   options=BuildOptions(incremental=False))
    assert (result.path / "dumps" / "rivalry.nq.gz").exists()
    assert sum(1 for _ in ox.Store.read_only(str(result.path / "db"))) == result.info.quads

    def failing(*args: object, **kwargs: object) -> object:
        raise OSError("no space left on device")

    finished.clear()
    monkeypatch.setattr("rivalry.graph.build._products", failing)
    with pytest.raises(OSError, match="no space"):
        build(tmp_path / "t", consistency=False, validation=False,
              options=BuildOptions(incremental=False))
    assert finished.is_set()  # the database was finished, then removed with the build
    assert not (tmp_path / "t" / "current").exists()
    assert not [p for p in (tmp_path / "t" / "builds").iterdir() if ".partial-" in p.name]


def test_full_collections_are_held_back_while_a_build_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's full collections walk every object with the interpreter lock held: during
    a build only its own are made; the thresholds before are restored after the build,
    whether it succeeds or fails."""
    import gc

    from rivalry.graph import build as build_module

    seen: list[tuple[int, int, int]] = []
    derive_phase = build_module.derive_phase

    def deriving(*args: object, **kwargs: object) -> int:
        seen.append(gc.get_threshold())
        return derive_phase(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("rivalry.graph.build.derive_phase", deriving)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        build(tmp_path / "s", consistency=False, validation=False,
              options=BuildOptions(incremental=False, dumps=False))
        assert seen == [(700, 10, build_module.FULL_COLLECTIONS_AFTER)]
        assert gc.get_threshold() == (700, 10, 10)

        def failing(*args: object, **kwargs: object) -> int:
            seen.append(gc.get_threshold())
            raise OSError("no space left on device")

        monkeypatch.setattr("rivalry.graph.build.derive_phase", failing)
        with pytest.raises(OSError, match="no space"):
            build(tmp_path / "t", consistency=False, validation=False,
                  options=BuildOptions(incremental=False, dumps=False))
        assert seen[-1] == (700, 10, build_module.FULL_COLLECTIONS_AFTER)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_missing_facts_directory_is_a_clear_error(tmp_path: Path, cli: CliRunner) -> None:
    result = run(cli, "build", "--store", tmp_path / "s", "--facts", tmp_path / "nope")
    assert result.exit_code == 2
    assert "no such facts directory" in result.stderr


@pytest.mark.parametrize("incremental", [True, False])
def test_a_facts_directory_without_facts_files_is_refused(fresh_store: Path, tmp_path: Path,
                                                          cli: CliRunner,
                                                          incremental: bool) -> None:
    """A mistyped folder holding no facts files had been built and published as a graph
    of the ontology alone, in place of the one served."""
    before = served_snapshot(fresh_store)
    (tmp_path / "empty" / "events").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("not facts", "utf-8")
    result = run(cli, "build", "--store", fresh_store, "--facts", tmp_path / "empty",
                 *([] if incremental else ["--full"]))
    assert result.exit_code == 2
    assert "holds no facts files" in result.stderr and str(tmp_path / "empty") in result.stderr
    assert served_snapshot(fresh_store) == before


def test_old_builds_are_pruned(fresh_store: Path) -> None:
    for _ in range(4):
        build(fresh_store, consistency=False)
    builds = [p for p in (fresh_store / "builds").iterdir()]
    assert len(builds) <= 3
    shutil.rmtree(fresh_store)


def test_served_store_picks_up_a_new_build(fresh_store: Path) -> None:
    store = EmbeddedStore(fresh_store)
    first = store.info.build_id
    build(fresh_store, consistency=False)
    assert store.info.build_id != first
    assert store.query(RV + "ASK { ?m a rv:Measure }").boolean


def test_quads_only_in_expected_graphs(store_dir: Path) -> None:
    store = EmbeddedStore(store_dir)
    default = list(store.db.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    assert default == []  # everything lives in a named graph; the default is their union


def test_partial_builds_of_dead_processes_are_pruned_and_live_ones_kept(
        fresh_store: Path) -> None:
    """A build killed midway leaves `<id>.partial-<pid>`; the next build removes those of
    processes that are gone, never one a running build is writing."""
    import subprocess
    import sys

    builds = fresh_store / "builds"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (builds / f"20000101T000000Z-0.partial-{dead.pid}").mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (builds / f"20000101T000000Z-1.partial-{live.pid}").mkdir()
        build(fresh_store, consistency=False, validation=False)
        names = {p.name for p in builds.iterdir()}
        assert f"20000101T000000Z-0.partial-{dead.pid}" not in names
        assert f"20000101T000000Z-1.partial-{live.pid}" in names
    finally:
        live.kill()
        live.wait()


def test_files_bulk_loaded_or_written_in_transactions_give_the_same_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Into a database on disk, small facts files (and quad lists) go in a transaction
    each, larger ones through the bulk loader (rivalry.graph.build.load_turtle,
    rivalry.graph.reason.add_quads): the curated files are all small, so a build with no
    size small enough writes every one by bulk load, and must give the same database,
    whether it is written alongside the working store in memory or is the working store
    itself."""
    def quads(path: Path) -> list[str]:
        return sorted(str(q) for q in ox.Store.read_only(str(path / "db")))

    def built(name: str, memory_mb: int | None = None) -> list[str]:
        options = BuildOptions(incremental=False, dumps=False)
        if memory_mb is not None:
            options.memory_mb = memory_mb
        return quads(build(tmp_path / name, consistency=False, validation=False,
                           options=options).path)

    expected = built("transactions")
    monkeypatch.setattr("rivalry.graph.build.SMALL_TURTLE_BYTES", 0)
    monkeypatch.setattr("rivalry.graph.reason.SMALL_QUADS", 0)
    assert built("bulk loads") == expected
    assert built("bulk loads on disk", memory_mb=0) == expected


def test_a_build_can_leave_its_graph_in_memory_to_its_caller(tmp_path: Path) -> None:
    """`rivalry build` ends its process without freeing the graph in memory (seconds of
    one core at scale): asked to, a build hands its stores in memory over, whole, once
    published; otherwise it frees them. Built on disk, it has none to hand over."""
    kept = build(tmp_path / "kept", options=BuildOptions(incremental=False, dumps=False,
                                                         leave_memory=True))
    freed = build(tmp_path / "freed", options=BuildOptions(incremental=False, dumps=False))
    on_disk = build(tmp_path / "disk", options=BuildOptions(
        memory_mb=0, incremental=False, dumps=False, leave_memory=True))
    assert freed.left_in_memory == [] and on_disk.left_in_memory == []
    [graph] = kept.left_in_memory
    published = ox.Store.read_only(str(kept.path / "db"))
    assert len(graph) == kept.info.quads == len(published)
    assert sorted(map(str, graph)) == sorted(map(str, published))


def test_a_graph_too_large_for_memory_is_built_on_disk_the_same(tmp_path: Path) -> None:
    """Past the build_memory_mb setting, the working store is the on-disk database: the
    same checks, the same store."""
    said: list[str] = []
    on_disk = build(tmp_path / "disk", options=BuildOptions(memory_mb=0, incremental=False,
                                                            dumps=False),
                    progress=said.append)
    in_memory = build(tmp_path / "memory", options=BuildOptions(incremental=False,
                                                                dumps=False))
    assert any("working on disk" in line for line in said)

    def quads(path: Path) -> list[str]:
        return sorted(str(q) for q in ox.Store.read_only(str(path / "db")))

    assert quads(on_disk.path) == quads(in_memory.path)
    assert on_disk.consistency is not None and on_disk.consistency.ok
    assert on_disk.validation is not None and on_disk.validation.conforms
