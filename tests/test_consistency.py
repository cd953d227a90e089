"""Consistency at scale: HermiT on the ontology and a summary of the facts must find every
inconsistency that HermiT on every individual finds, name the facts at fault, and fail
with one clear line (exit code 5) when the reasoner cannot run."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from rivalry.graph.consistency import HermitSettings, ReasonerFailed, run_hermit
from rivalry.graph.load import graph_for, load_ontology
from rivalry.graph.reason import check_consistency

from .conftest import CURATED_FACTS, DATA, run

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

pytestmark = pytest.mark.hermit

#: Inconsistent fixtures, and ill-typed ones: reading facts refuses the latter first
#: (rivalry.graph.load), but the reasoner must still find them in quads it is given.
INCONSISTENT = sorted((DATA / "inconsistent").glob("*.ttl")) + sorted(
    (DATA / "ill-typed").glob("*.ttl")) + [DATA / "bad-date" / "ill-typed-date.ttl"]
CONSISTENT = sorted((DATA / "consistent").glob("*.ttl"))


def quads_of(*paths: Path) -> list[ox.Quad]:
    """The ontology and the files' quads, parsed as they are: reading facts refuses
    ill-typed literals before any reasoning (rivalry.graph.load), but the consistency
    check must still find them in the quads it is given."""
    out = load_ontology()
    for path in paths:
        files = sorted(path.glob("*.ttl")) if path.is_dir() else [path]
        for f in files:
            graph = graph_for(f.stem)
            out += [ox.Quad(q.subject, q.predicate, q.object, graph)
                    for q in ox.parse(path=str(f), format=ox.RdfFormat.TURTLE)]
    return out


def expected(path: Path, key: str) -> str | None:
    found = re.search(rf"^# {key}: (\S+)$", path.read_text("utf-8"), re.M)
    return found.group(1) if found else None


@pytest.mark.parametrize("path", INCONSISTENT, ids=lambda p: p.stem)
def test_the_summary_finds_what_hermit_on_every_individual_finds(path: Path) -> None:
    quads = quads_of(path)
    full = check_consistency(quads, summary=False)
    summary = check_consistency(quads)
    assert not full.ok, "the fixture should be refused by HermiT on every individual"
    assert not summary.ok
    assert summary.consistent == full.consistent
    assert summary.unsatisfiable == full.unsatisfiable
    culprit = expected(path, "culprit")
    if culprit:
        assert any(culprit in c for c in summary.culprits), summary.culprits


@pytest.mark.parametrize("path", CONSISTENT, ids=lambda p: p.stem)
def test_consistent_facts_pass_both_ways(path: Path) -> None:
    quads = quads_of(path)
    assert check_consistency(quads, summary=False).ok
    report = check_consistency(quads)
    assert report.ok, report.culprits


def test_every_inconsistent_fixture_together() -> None:
    report = check_consistency(quads_of(DATA / "inconsistent", DATA / "ill-typed"))
    assert not report.consistent
    for path in INCONSISTENT[:-1]:
        culprit = expected(path, "culprit")
        if culprit:
            assert any(culprit in c for c in report.culprits), (path.name, report.culprits)


def test_the_curated_graph_is_summarised(curated_build) -> None:  # noqa: ANN001
    report = curated_build.consistency
    assert report is not None and report.ok
    assert report.method == "summary"
    assert 0 < report.kinds < report.individuals


def test_the_summary_counts_each_assertion_as_a_reading_triple_by_triple_does() -> None:
    """The summary's edges and values, counted from the assertions kept as numbers, are
    those of a plain count over the store's triples, one by one, with each node's key."""
    from collections import Counter

    from rivalry.graph.consistency import (
        ASSERTION,
        TBox,
        _literal_text,
        data_graphs,
        gather,
        inferred_kept,
        ontology_triples,
        summarise,
    )
    from rivalry.graph.consistency import quads_of as read_quads
    from rivalry.graph.reason import materialise

    store = ox.Store()
    store.extend(load_ontology())
    for f in sorted(CURATED_FACTS.rglob("*.ttl")):
        graph = graph_for(f.relative_to(CURATED_FACTS).with_suffix("").as_posix())
        store.extend(ox.Quad(q.subject, q.predicate, q.object, graph)
                     for q in ox.parse(path=str(f), format=ox.RdfFormat.TURTLE))
    materialise(store)
    graphs, kept = data_graphs(store), inferred_kept(store)
    features = gather(store, TBox.read(ontology_triples(store)), graphs, kept=kept)
    summary = summarise(features)
    edges: Counter = Counter()
    values: Counter = Counter()
    for q in read_quads(store, graphs, kept):
        p = q.predicate.value
        if features.kind(p) != ASSERTION:
            continue
        if isinstance(q.object, ox.Literal):
            values[(features.key(q.subject), p, _literal_text(q.object, p, features.tbox))] += 1
        else:
            edges[(features.key(q.subject), p, features.key(q.object))] += 1
    for node in features.identity | features.tbox.individuals:
        for t in features.features.get(node, ()):
            if t.startswith("t "):
                edges[(features.key(node), RDF_TYPE, "= <" + t[2:] + ">")] += 1
    assert summary.edges == edges and summary.values == values
    assert len(edges) > 100 and len(values) > 10
    assert sum(summary.kinds.values()) == len(features.features)


def test_summary_of_a_functional_property_is_not_fooled() -> None:
    """Merging the two actions of this fixture would merge an agency and a company; the
    check must see that no single fact is at fault (HermiT on every individual)."""
    report = check_consistency(quads_of(DATA / "consistent" / "functional-values-of-two-kinds.ttl"))
    assert report.ok and report.method == "full"


# --- when the reasoner cannot run ---------------------------------------------------------


def fake_java(tmp_path: Path, stderr: str, code: int = 1) -> Path:
    """A `java` that fails the way a real one does, first on the PATH."""
    directory = tmp_path / "bin"
    directory.mkdir()
    script = directory / "java"
    script.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{stderr}\nEOF\nexit {code}\n", "utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return directory


def check_command(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, path: str,
                  *env: tuple[str, str]) -> tuple[int, str]:
    monkeypatch.setenv("PATH", path)
    for key, value in env:
        monkeypatch.setenv(key, value)
    result = run(cli, "check", "--facts", CURATED_FACTS)
    return result.exit_code, result.stderr


def test_out_of_memory_is_one_line_naming_the_setting(tmp_path: Path, cli: CliRunner,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    java = fake_java(tmp_path, 'Exception in thread "main" java.lang.OutOfMemoryError: '
                               "Java heap space\n\tat org.semanticweb.HermiT.Reasoner")
    code, err = check_command(cli, monkeypatch, f"{java}:{os.environ['PATH']}")
    assert code == 5
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "ran out of memory" in lines[0] and "reasoner_java_heap_mb" in lines[0]
    assert "RIVALRY_REASONER_JAVA_HEAP_MB" in lines[0]


def test_a_crash_is_one_line(tmp_path: Path, cli: CliRunner,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    java = fake_java(tmp_path, "#\n# A fatal error has been detected by the Java Runtime",
                     134)
    code, err = check_command(cli, monkeypatch, f"{java}:{os.environ['PATH']}")
    assert code == 5 and "Traceback" not in err
    assert "HermiT failed (exit status 134)" in err


def test_no_java_says_what_to_install(tmp_path: Path, cli: CliRunner,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = check_command(cli, monkeypatch, str(empty))
    assert code == 5 and "Traceback" not in err
    assert "Java" in err and "--no-consistency-check" in err


def test_a_real_heap_too_small(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real JVM with a heap it cannot start with (the setting's floor is 16 MB, so
    the settings are bypassed here)."""
    with pytest.raises(ReasonerFailed) as caught:
        run_hermit([ox.Triple(ox.NamedNode("urn:a"), ox.NamedNode("urn:p"),
                              ox.NamedNode("urn:b"))], HermitSettings(java_heap_mb=1))
    assert "reasoner_java_heap_mb" in str(caught.value)


def test_the_time_limit_is_a_setting(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = check_command(cli, monkeypatch, os.environ["PATH"],
                              ("RIVALRY_REASONER_TIME_LIMIT", "0.001"))
    assert code == 5 and "reasoner_time_limit" in err and "Traceback" not in err


def test_build_exit_code_5_keeps_the_store(fresh_store: Path, tmp_path: Path, cli: CliRunner,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from rivalry.graph.store import StoreLocation

    before = StoreLocation(fresh_store).current_info()
    java = fake_java(tmp_path, "java.lang.OutOfMemoryError: Java heap space")
    monkeypatch.setenv("PATH", f"{java}:{os.environ['PATH']}")
    result = run(cli, "build", "--store", fresh_store, "--full", "--no-dumps")
    assert result.exit_code == 5
    assert "reasoner_java_heap_mb" in result.stderr and "Traceback" not in result.stderr
    assert StoreLocation(fresh_store).current_info() == before
