"""`rivalry query` and `rivalry export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib
from click.testing import CliRunner

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

