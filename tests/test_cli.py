"""`rivalry query` and `rivalry export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner

from rivalry.server.cli import main

from .conftest import run

SELECT = ("PREFIX rv: <https://w3id.org/rivalry/ontology#> "
          "SELECT ?m ?d WHERE { ?m a rv:Measure ; rv:announcedOn ?d } ORDER BY ?d")


def test_select_as_aligned_table(store_dir: Path, cli: CliRunner) -> None:
    result = run(cli, "query", "--store", store_dir, SELECT)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["m", "d"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].startswith("action:us-bis-2018-04-15-zte-denial")  # the earliest
    # Columns are aligned: every date starts where the header "d" stands.
    column = lines[0].index(" d") + 1
    assert all(line[column:column + 4].isdigit() for line in lines[2:])


@pytest.mark.parametrize("fmt,check", [
    ("csv", lambda out: out.splitlines()[0] == "m,d"),
    ("tsv", lambda out: out.splitlines()[0] == "?m\t?d"),
    ("json", lambda out: json.loads(out)["head"]["vars"] == ["m", "d"]),
])
def test_select_formats(store_dir: Path, cli: CliRunner, fmt: str, check) -> None:
    result = run(cli, "query", "--store", store_dir, "--format", fmt, SELECT)
    assert result.exit_code == 0, result.output
    assert check(result.stdout)


def test_query_from_file(store_dir: Path, cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "q.rq"
    path.write_text(SELECT, "utf-8")
    result = run(cli, "query", "--store", store_dir, "-f", path, "--format", "csv")
    assert result.exit_code == 0
    inline = run(cli, "query", "--store", store_dir, "--format", "csv", SELECT)
    assert result.stdout == inline.stdout and len(result.stdout.splitlines()) > 50


def test_construct_and_describe_as_turtle(store_dir: Path, cli: CliRunner) -> None:
    result = run(cli, "query", "--store", store_dir,
                 "DESCRIBE <https://w3id.org/rivalry/id/person/guo-jiakun>")
    assert result.exit_code == 0, result.output
    g = rdflib.Graph().parse(data=result.stdout, format="turtle")
    assert (rdflib.URIRef("https://w3id.org/rivalry/id/person/guo-jiakun"), rdflib.RDFS.label,
            rdflib.Literal("Guo Jiakun", lang="en")) in g


def test_ask(store_dir: Path, cli: CliRunner) -> None:
    result = run(cli, "query", "--store", store_dir, "ASK { ?s ?p ?o }")
    assert result.stdout.strip() == "true"


def test_query_syntax_error_is_clear_and_fails(store_dir: Path, cli: CliRunner) -> None:
    result = run(cli, "query", "--store", store_dir, "SELECT ?s WHERE { ?s ?p }")
    assert result.exit_code == 2
    assert "SPARQL syntax error at line 1, column" in result.stderr


def test_query_without_a_build_says_what_to_do(tmp_path: Path, cli: CliRunner) -> None:
    result = run(cli, "query", "--store", tmp_path / "empty", "ASK {}")
    assert result.exit_code == 3
    assert "rivalry build" in result.stderr


def test_wrong_format_for_query_form(store_dir: Path, cli: CliRunner) -> None:
    result = run(cli, "query", "--store", store_dir, "--format", "turtle", SELECT)
    assert result.exit_code == 2
    assert "CONSTRUCT" in result.stderr


@pytest.mark.parametrize("fmt,rdflib_format,dataset", [
    ("turtle", "turtle", False), ("ntriples", "nt", False), ("nquads", "nquads", True),
    ("trig", "trig", True), ("jsonld", "json-ld", True),
])
def test_export_formats_parse_back(store_dir: Path, cli: CliRunner, tmp_path: Path,
                                   fmt: str, rdflib_format: str, dataset: bool) -> None:
    out = tmp_path / f"graph.{fmt}"
    result = run(cli, "export", "--store", store_dir, "--format", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    if dataset:
        ds = rdflib.Dataset()
        ds.parse(out, format=rdflib_format)
        names = {str(g.identifier) for g in ds.graphs()}
        assert "https://w3id.org/rivalry/graph/inferred" in names
        assert "https://w3id.org/rivalry/graph/facts/reference/states" in names
    else:
        g = rdflib.Graph().parse(out, format=rdflib_format)
        assert (rdflib.URIRef("https://w3id.org/rivalry/id/state/cn"),
                rdflib.URIRef("http://www.w3.org/2004/02/skos/core#exactMatch"),
                rdflib.URIRef("http://www.wikidata.org/entity/Q148")) in g


@pytest.mark.parametrize("update", ["INSERT DATA { <a:b> <a:c> 1 }", "DROP ALL",
                                    "PREFIX a: <a:> DELETE WHERE { ?s a:b ?o }"])
def test_an_update_is_refused_as_such(store_dir: Path, cli: CliRunner, update: str) -> None:
    """It had been answered with the parser's complaint ("unexpected 'DATA'; expected
    CONSTRUCT")."""
    result = run(cli, "query", "--store", store_dir, update)
    assert result.exit_code == 2
    assert "this is a SPARQL update: `rivalry query` runs queries only" in result.stderr


@pytest.mark.parametrize("fmt", ["turtle", "ntriples", "trig"])
def test_export_to_a_file_that_cannot_be_written_is_one_line(store_dir: Path, cli: CliRunner,
                                                             tmp_path: Path, fmt: str) -> None:
    """A missing folder had ended the command with a traceback."""
    out = tmp_path / "no-such-folder" / "graph.out"
    result = run(cli, "export", "--store", store_dir, "--format", fmt, "-o", out)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {out}: cannot be written")
    assert "Traceback" not in result.output + result.stderr


def test_export_replaces_a_file_whole(store_dir: Path, cli: CliRunner,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph is written beside the file and renamed over it once whole: a failure
    midway leaves the file that was there, and nothing else."""
    out = tmp_path / "graph.nq"
    out.write_text("the previous export\n", "utf-8")

    def full_disk(db: object, fmt: object, output: Path) -> None:
        Path(output).write_bytes(b"<a:b> <a:c> <a:d> .\n")  # a part, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rivalry.graph.export.export_graph", full_disk)
    result = run(cli, "export", "--store", store_dir, "--format", "nquads", "-o", out)
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert out.read_text("utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.nq"]
    monkeypatch.undo()
    assert run(cli, "export", "--store", store_dir, "--format", "nquads", "-o", out
               ).exit_code == 0
    assert out.read_text("utf-8").count("\n") > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.nq"]


def test_serve_on_a_busy_port_says_so_before_loading(store_dir: Path, cli: CliRunner) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(cli, "serve", "--store", store_dir, "--host", "127.0.0.1",
                     "--port", port)
    assert result.exit_code == 2
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "already listening" in result.stderr and "--port" in result.stderr



def test_a_bad_server_setting_does_not_stop_other_commands(store_dir: Path,
                                                          cli: CliRunner) -> None:
    """Issue 16: settings are checked by the commands that read them."""
    env = {"RIVALRY_PORT": "0", "RIVALRY_QUERY_TIME_LIMIT": "-1"}
    result = cli.invoke(main, ["query", "--store", str(store_dir), "ASK { ?s ?p ?o }"],
                        env=env)
    assert result.exit_code == 0 and result.stdout.strip() == "true"
    served = cli.invoke(main, ["serve", "--store", str(store_dir)], env=env)
    assert served.exit_code == 2 and "setting port must be at least 1" in served.stderr
    shown = cli.invoke(main, ["settings"], env={"RIVALRY_PORT": "0"})
    assert shown.exit_code == 2
    unknown = cli.invoke(main, ["query", "--store", str(store_dir), "ASK {}"],
                         env={"RIVALRY_PROT": "8000"})
    assert unknown.exit_code == 2 and "unknown setting 'prot'" in unknown.stderr


def test_check_command(cli: CliRunner) -> None:
    result = run(cli, "check")
    assert result.exit_code == 0
    assert "HermiT: consistent; no unsatisfiable class" in result.stdout


def test_check_command_names_an_inconsistency(cli: CliRunner) -> None:
    from .conftest import DATA

    result = run(cli, "check", "--facts", DATA / "inconsistent")
    assert result.exit_code == 1
    assert "inconsistent" in result.stdout and "disjoint" in result.stdout


def test_settings_command_lists_every_setting_and_hides_secrets(cli: CliRunner) -> None:
    from rivalry.server.settings import SETTINGS

    result = cli.invoke(main, ["settings"], env={"RIVALRY_GRAPH_STORE_AUTH": "me:secret"})
    assert result.exit_code == 0
    for s in SETTINGS:
        assert f"{s.name} = " in result.stdout and s.env in result.stdout
    assert "secret" not in result.stdout and "graph_store_auth = (set)" in result.stdout


def test_queries_command_lists_every_canned_query_with_its_parameters(cli: CliRunner) -> None:
    from rivalry.graph.canned import canned_queries

    result = run(cli, "queries")
    assert result.exit_code == 0
    for q in canned_queries():
        assert f"{q.name}: {q.title}" in result.stdout
        for p in q.params:
            assert f"--param {p.name}=" in result.stdout


@pytest.mark.parametrize("args", [
    ("query", "ASK { ?s ?p ?o }"), ("search", "huawei"), ("stats",)])
def test_commands_read_the_database_where_it_lies(store_dir: Path, cli: CliRunner,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  args: tuple[str, ...]) -> None:
    """A command runs once: it had copied the whole build into memory first
    (store_in_memory, the server's setting) before any work began."""
    import rivalry.graph.store as store_module

    opened: list[bool] = []
    open_store = store_module.open_store

    def spy(settings: dict):  # noqa: ANN202
        opened.append(settings["store_in_memory"])
        return open_store(settings)

    monkeypatch.setattr(store_module, "open_store", spy)
    monkeypatch.setenv("RIVALRY_STORE_IN_MEMORY", "true")
    result = run(cli, args[0], "--store", store_dir, *args[1:])
    assert result.exit_code == 0, result.output
    assert opened and not any(opened)


def test_the_command_ends_its_process_once_its_build_is_published(tmp_path: Path) -> None:
    """`rivalry build` in a process of its own leaves the graph in memory to the end of
    the process (rivalry.server.cli.end_process): it still says everything, exits 0, and
    the build it published is whole. A failed build exits with its own code."""
    import os
    import subprocess
    import sys

    from rivalry.graph.store import EmbeddedStore

    from .conftest import CURATED_FACTS, DATA

    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVALRY_")}

    def rivalry_build(facts: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "rivalry.server.cli", "build", "--store",
             str(tmp_path / "store"), "--facts", str(facts), "--no-consistency-check"],
            env=env, capture_output=True, timeout=300)

    done = rivalry_build(CURATED_FACTS)
    said = done.stderr.decode().splitlines()
    assert done.returncode == 0, said
    assert said[-2].startswith("published build") and said[-1].startswith("done in")
    store = EmbeddedStore(tmp_path / "store")
    assert store.query("ASK { ?a a <https://w3id.org/rivalry/ontology#Action> }").boolean
    refused = rivalry_build(DATA / "unknown-term")
    assert refused.returncode == 1 and b"error:" in refused.stderr
