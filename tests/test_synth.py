"""rivalry synth: deterministic, shaped like the curated graph, passing the shapes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from rivalry.graph.build import build
from rivalry.graph.synth import synthesize
from rivalry.graph.validate import Submission, validate

from .conftest import CURATED_FACTS, run


def digest(directory: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(directory.rglob("*.ttl")):
        h.update(p.relative_to(directory).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_graph_other_seed_other_graph(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", 300, seed=7)
    synthesize(tmp_path / "b", 300, seed=7)
    synthesize(tmp_path / "c", 300, seed=8)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def test_synthetic_graph_passes_the_shapes_and_builds(tmp_path: Path, cli: CliRunner) -> None:
    out = tmp_path / "synth"
    result = run(cli, "synth", "--measures", "1500", "--seed", "3", "-o", out)
    assert result.exit_code == 0, result.output
    files = sorted(out.rglob("*.ttl"))
    assert len(list((out / "events").glob("synthetic-*.ttl"))) == 2  # 1000 actions a file
    report = validate(Submission.from_files(files))
    assert report.violations == [], report.to_text()[:3000]
    built = build(tmp_path / "store", out, consistency=False, validation=False)
    assert built.info.quads > 1500 * 20
    from rivalry.graph.store import EmbeddedStore

    store = EmbeddedStore(tmp_path / "store")
    kinds = {r[0].value.rsplit("#", 1)[1] for r in store.query(
        "PREFIX rv: <https://w3id.org/rivalry/ontology#> SELECT DISTINCT ?c WHERE { "
        "?a a ?c . ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>+ rv:Action }").rows()}
    assert {"Sanction", "ExportControl", "EntityListing", "Tariff", "InvestmentRestriction",
            "MarketAccessRestriction", "Investigation", "DiplomaticProtest", "Denial"} <= kinds
    responses = list(store.query("PREFIX rv: <https://w3id.org/rivalry/ontology#> "
                                 "ASK { ?a rv:qualifiedResponse/rv:responseTo ?b }").boolean
                     for _ in [0])
    assert responses == [True]


def test_synth_refuses_a_non_empty_directory(tmp_path: Path, cli: CliRunner) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    result = run(cli, "synth", "--measures", "10", "-o", tmp_path / "x")
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_the_curated_facts_come_along(tmp_path: Path, cli: CliRunner) -> None:
    run(cli, "synth", "--measures", "10", "-o", tmp_path / "s")
    copied = {p.relative_to(tmp_path / "s") for p in (tmp_path / "s").rglob("*.ttl")}
    assert {p.relative_to(CURATED_FACTS) for p in CURATED_FACTS.rglob("*.ttl")} <= copied
