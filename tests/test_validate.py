"""Validation of new facts: the shapes, `rivalry validate`, and what build refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from rdflib import OWL, RDF, URIRef
from rdflib.namespace import SH

from rivalry.graph.store import EmbeddedStore, StoreLocation
from rivalry.graph.validate import Submission, context_for, shapes_graph, validate
from rivalry.ontology import NAMESPACE, ontology_file

from .conftest import CURATED_FACTS, DATA, run

SHACL = DATA / "shacl"
VALID = sorted((SHACL / "valid").glob("*.ttl"))
INVALID = sorted((SHACL / "invalid").glob("*.ttl"))
EXPECT = re.compile(r"^# expect: (\w+) (sh:\w+) <([^>]+)>$", re.M)


def report_for(path: Path, store_dir: Path | None, strict: bool = False):
    submission = Submission.from_files([path])
    store = EmbeddedStore(store_dir) if store_dir else None
    return validate(submission, context_for(store, submission), strict=strict)


# --- the shapes themselves -------------------------------------------------------------


def test_shapes_pass_meta_shacl() -> None:
    import pyshacl

    conforms, _, text = pyshacl.validate(rdflib.Graph(), shacl_graph=shapes_graph(),
                                         meta_shacl=True)
    assert conforms, text


def classes_needing_shapes() -> set[URIRef]:
    onto = rdflib.Graph().parse(Path(str(ontology_file())), format="turtle")
    declared = {c for c in onto.subjects(RDF.type, OWL.Class)
                if isinstance(c, URIRef) and str(c).startswith(NAMESPACE)}
    used = set()
    for path in CURATED_FACTS.rglob("*.ttl"):
        used |= set(rdflib.Graph().parse(path, format="turtle").objects(None, RDF.type))
    return declared | used


@pytest.mark.parametrize("cls", sorted(classes_needing_shapes(), key=str))
def test_every_class_has_a_shape(cls: URIRef) -> None:
    assert (None, SH.targetClass, cls) in shapes_graph(), f"no shape targets {cls}"


def test_every_shape_targets_a_real_class() -> None:
    onto = rdflib.Graph().parse(Path(str(ontology_file())), format="turtle")
    known = set(onto.subjects(RDF.type, OWL.Class))
    for target in shapes_graph().objects(None, SH.targetClass):
        assert target in known, f"a shape targets {target}, which the ontology does not declare"


def test_curated_facts_conform(store_dir: Path) -> None:
    paths = sorted(CURATED_FACTS.rglob("*.ttl"))
    submission = Submission.from_files(paths)
    report = validate(submission, context_for(EmbeddedStore(store_dir), submission))
    assert report.conforms, report.to_text()
    assert report.violations == []


# --- one file per case --------------------------------------------------------------------


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_files_conform(path: Path, store_dir: Path) -> None:
    report = report_for(path, store_dir)
    assert report.conforms, report.to_text()
    assert report.violations == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_file_names_constraint_and_focus_node(path: Path, store_dir: Path) -> None:
    severity, component, focus = EXPECT.search(path.read_text("utf-8")).groups()
    report = report_for(path, store_dir)
    matching = [r for r in report.results
                if r.component == component and r.focus == focus and r.severity == severity]
    assert matching, f"expected {severity} {component} on {focus}; got:\n{report.to_text()}"
    assert all(str(path) in r.files for r in matching)
    if severity == "Violation":
        assert not report.conforms
    else:
        assert report.conforms  # warnings and infos alone do not fail validation
    assert matching[0].message and not matching[0].message.startswith("sh:")


def test_warning_fails_only_when_strict(store_dir: Path) -> None:
    path = SHACL / "invalid" / "action-single-source.ttl"
    assert report_for(path, store_dir).conforms
    assert not report_for(path, store_dir, strict=True).conforms


# --- context and scope ------------------------------------------------------------------


def test_new_facts_are_validated_in_the_context_of_the_built_graph(store_dir: Path) -> None:
    path = SHACL / "valid" / "measure-targeting-existing-company.ttl"
    alone = report_for(path, None)
    assert not alone.conforms  # without the graph, the target is not known to be an actor
    assert any(r.component == "sh:ClassConstraintComponent" for r in alone.results)
    assert report_for(path, store_dir).conforms


def test_report_covers_the_new_facts_only(store_dir: Path) -> None:
    path = SHACL / "invalid" / "issuer-among-targets.ttl"
    report = report_for(path, store_dir)
    submitted = {str(s) for s in rdflib.Graph().parse(path).subjects()}
    assert {r.focus for r in report.results} <= submitted
    assert report.focus_nodes == len(submitted)
    assert report.context_triples > 0


def test_blank_nodes_are_validated_and_reported_as_blank(store_dir: Path,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "bnode.ttl"
    path.write_text("""@prefix rv: <https://w3id.org/rivalry/ontology#> .
        <https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity>
            rv:qualifiedResponse [ a rv:Response ] .""", "utf-8")
    report = report_for(path, store_dir)
    blank = [r for r in report.results if r.focus.startswith("_:")]
    assert blank and not report.conforms


# --- the command --------------------------------------------------------------------------


def test_cli_text_report_has_one_entry_per_result(store_dir: Path, cli: CliRunner) -> None:
    path = SHACL / "invalid" / "comment-deadline-before-announcement.ttl"
    result = run(cli, "validate", "--store", store_dir, path)
    assert result.exit_code == 1
    out = result.stdout
    assert f"{path}: Violation: The comment deadline" in out
    assert "focus node: https://w3id.org/rivalry/id/action/test-measure" in out
    assert "value: \"2025-02-01\"^^<http://www.w3.org/2001/XMLSchema#date>" in out
    assert "constraint: sh:SPARQLConstraintComponent" in out
    single = run(cli, "validate", "--store", store_dir,
                 SHACL / "invalid" / "action-without-issuer.ttl")
    assert "path: https://w3id.org/rivalry/ontology#issuedBy" in single.stdout


def test_cli_json_and_turtle_reports(store_dir: Path, cli: CliRunner) -> None:
    path = SHACL / "invalid" / "action-without-issuer.ttl"
    result = run(cli, "validate", "--store", store_dir, "--format", "json", path)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["conforms"] is False
    entry = data["results"][0]
    assert {"severity", "focusNode", "path", "value", "message", "constraintComponent",
            "files"} <= set(entry)
    result = run(cli, "validate", "--store", store_dir, "--format", "turtle", path)
    g = rdflib.Graph().parse(data=result.stdout, format="turtle")
    report = next(g.subjects(RDF.type, SH.ValidationReport))
    assert g.value(report, SH.conforms).toPython() is False


def test_cli_exit_codes(store_dir: Path, cli: CliRunner) -> None:
    assert run(cli, "validate", "--store", store_dir, VALID[0]).exit_code == 0
    warn = SHACL / "invalid" / "action-single-source.ttl"
    assert run(cli, "validate", "--store", store_dir, warn).exit_code == 0
    assert run(cli, "validate", "--store", store_dir, "--strict", warn).exit_code == 1
    broken = run(cli, "validate", "--store", store_dir, DATA / "syntax-error" / "broken.ttl")
    assert broken.exit_code == 2
    assert re.search(r"broken\.ttl:6:\d+: Turtle syntax error", broken.stderr)


def test_a_syntax_error_shows_control_characters_escaped(store_dir: Path, cli: CliRunner,
                                                       tmp_path: Path) -> None:
    """What the parser quotes from the file is shown with its control characters escaped
    (a NUL, a right-to-left override), never written to the terminal as they are."""
    for raw, shown in ((b"\x00\x01", "\\x00"), ("\u202e<a> <b> .".encode(), "\\u202e")):
        path = tmp_path / "odd.ttl"
        path.write_bytes(raw)
        result = run(cli, "validate", "--store", store_dir, path)
        assert result.exit_code == 2
        line = result.stderr.strip()
        assert "Turtle syntax error" in line and shown in line, line
        assert line.isprintable(), line


@pytest.mark.parametrize("suffix,fmt", [
    (".ttl", ox.RdfFormat.TURTLE), (".trig", ox.RdfFormat.TRIG),
    (".nt", ox.RdfFormat.N_TRIPLES), (".nq", ox.RdfFormat.N_QUADS),
    (".jsonld", ox.RdfFormat.JSON_LD), (".rdf", ox.RdfFormat.RDF_XML),
])
def test_cli_reads_every_format(store_dir: Path, cli: CliRunner, tmp_path: Path,
                                suffix: str, fmt: ox.RdfFormat) -> None:
    source = SHACL / "invalid" / "effective-before-announcement.ttl"
    triples = [ox.Triple(q.subject, q.predicate, q.object)
               for q in ox.parse(path=str(source), format=ox.RdfFormat.TURTLE)]
    data = triples if not fmt.supports_datasets else [
        ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples]
    target = tmp_path / f"facts{suffix}"
    ox.serialize(data, str(target), format=fmt)
    result = run(cli, "validate", "--store", store_dir, "--format", "json", target)
    assert result.exit_code == 1, result.output
    assert [r["constraintComponent"] for r in json.loads(result.stdout)["results"]] == [
        "sh:SPARQLConstraintComponent"]
    # --input-format overrides the extension
    renamed = tmp_path / "facts.data"
    renamed.write_bytes(target.read_bytes())
    names = {".ttl": "turtle", ".trig": "trig", ".nt": "ntriples", ".nq": "nquads",
             ".jsonld": "jsonld", ".rdf": "rdfxml"}
    result = run(cli, "validate", "--store", store_dir, "--input-format", names[suffix], renamed)
    assert result.exit_code == 1


def test_cli_unknown_extension_is_a_clear_error(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "facts.txt"
    path.write_text("", "utf-8")
    result = run(cli, "validate", "--no-context", path)
    assert result.exit_code == 2
    assert "--format" in result.stderr or "extension" in result.stderr


# --- build refuses non-conforming facts -------------------------------------------------------


def test_build_refuses_facts_that_do_not_conform(fresh_store: Path, cli: CliRunner,
                                                 tmp_path: Path) -> None:
    facts = tmp_path / "facts"
    facts.mkdir()
    for f in CURATED_FACTS.rglob("*.ttl"):
        target = facts / f.relative_to(CURATED_FACTS)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read_bytes())
    bad = facts / "events" / "bad.ttl"
    bad.write_bytes((SHACL / "invalid" / "action-without-issuer.ttl").read_bytes())
    before = StoreLocation(fresh_store).current_info()
    result = run(cli, "build", "--store", fresh_store, "--facts", facts)
    assert result.exit_code == 1
    assert str(bad) in result.stderr
    assert "issuer" in result.stderr and "test-measure" in result.stderr
    assert StoreLocation(fresh_store).current_info() == before


def test_cli_format_names_the_input_format_when_it_is_one(store_dir: Path, cli: CliRunner,
                                                         tmp_path: Path) -> None:
    source = SHACL / "invalid" / "issuer-among-targets.ttl"
    quads = list(ox.parse(path=str(source), format=ox.RdfFormat.TURTLE))
    target = tmp_path / "facts.data"
    ox.serialize(quads, str(target), format=ox.RdfFormat.N_QUADS)
    result = run(cli, "validate", "--store", store_dir, "--format", "nquads", target)
    assert result.exit_code == 1
    assert "sh:SPARQLConstraintComponent" in result.stdout
    turtle = tmp_path / "facts.txt"
    turtle.write_bytes(source.read_bytes())
    result = run(cli, "validate", "--store", store_dir, "--format", "turtle", turtle)
    assert result.exit_code == 1
    rdflib.Graph().parse(data=result.stdout, format="turtle")  # the report, in Turtle


def test_misspelt_ontology_terms_are_named(store_dir: Path) -> None:
    """Validation refuses what `rivalry build` refuses: rv: terms the ontology lacks."""
    path = SHACL / "invalid" / "undeclared-term.ttl"
    report = report_for(path, store_dir)
    undeclared = {(r.path, r.value) for r in report.violations
                  if r.shape == "https://w3id.org/rivalry/shapes#DeclaredTermsShape"}
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    rv = "https://w3id.org/rivalry/ontology#"
    assert undeclared == {(rdf_type, f"{rv}Sancton"), (f"{rv}annoucedOn", f"{rv}annoucedOn")}
    assert any(f"{rv}Sancton" in r.message and "not declared" in r.message
               for r in report.violations)


# --- every shipped facts file validates on its own --------------------------------------------


SHIPPED = sorted(CURATED_FACTS.rglob("*.ttl"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(CURATED_FACTS).as_posix())
def test_each_shipped_file_validates_alone_against_the_built_graph(
        path: Path, store_dir: Path, cli: CliRunner) -> None:
    """`rivalry validate FILE` of any facts file the build holds: no violation, whatever
    the file (it is a new version of its own graph, and its nodes reach, through the
    inferences, nodes the file does not mention, such as the state of an agency)."""
    result = run(cli, "validate", "--store", store_dir, path)
    assert result.exit_code == 0, result.stdout
    assert "Violation" not in result.stdout


def test_a_new_version_of_a_file_replaces_the_old_one_in_the_context(
        store_dir: Path, cli: CliRunner, tmp_path: Path) -> None:
    """The built graph's copy of an edited file is left out: a changed date is no second
    announcement date, and an error in the new version is still found."""
    source = CURATED_FACTS / "events" / "2025-01-integrity-technology-sanction.ttl"
    edited = tmp_path / "events" / source.name
    edited.parent.mkdir()
    text = source.read_text("utf-8").replace('rv:announcedOn "2025-01-03"^^xsd:date',
                                              'rv:announcedOn "2025-01-02"^^xsd:date', 1)
    edited.write_text(text, "utf-8")
    result = run(cli, "validate", "--store", store_dir, edited)
    assert result.exit_code == 0, result.stdout
    assert "new version of <https://w3id.org/rivalry/graph/facts/events/" in result.stderr
    broken = text.replace("rv:issuedBy agency:us-ofac ;", "", 1)
    edited.write_text(broken, "utf-8")
    result = run(cli, "validate", "--store", store_dir, edited)
    assert result.exit_code == 1 and "issuer" in result.stdout


def test_without_a_build_the_shipped_facts_are_the_context(
        cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a checkout, with no store: one note first, then the file is validated in
    the context of the curated facts shipped with rivalry, without false violations."""
    monkeypatch.chdir(tmp_path)
    path = SHACL / "valid" / "measure-targeting-existing-company.ttl"
    result = run(cli, "validate", path)
    notes = result.stderr.splitlines()
    assert notes[0].startswith("note: no graph has been built in var/store")
    assert "curated facts shipped with rivalry" in notes[0]
    assert result.exit_code == 0, result.stdout
    assert "Violation" not in result.stdout
    for shipped in SHIPPED[::10]:
        assert run(cli, "validate", shipped).exit_code == 0, shipped
    invalid = run(cli, "validate", SHACL / "invalid" / "action-without-issuer.ttl")
    assert invalid.exit_code == 1


def test_the_files_of_flagged_nodes_are_found_in_batches_side_by_side() -> None:
    """A build's report names, for each flagged node, the facts files it is a subject
    in (rivalry.graph.validate.facts_subjects): read in batches by several threads, every
    batch's answer is kept, whatever the order they end in."""
    from rivalry.graph import FACTS_GRAPH_BASE
    from rivalry.graph.validate import facts_subjects

    def node(i: int) -> ox.NamedNode:
        return ox.NamedNode(f"https://example.org/n{i}")

    graphs = {f"{FACTS_GRAPH_BASE}f{k}": f"events/f{k}.ttl" for k in range(3)}
    names = sorted(graphs)
    store = ox.Store()
    p = ox.NamedNode("https://example.org/p")
    blank = ox.BlankNode("b1")
    for i in range(25):  # node i in file i % 3, and the even ones in file 2 as well
        store.add(ox.Quad(node(i), p, ox.Literal(str(i)), ox.NamedNode(names[i % 3])))
        if i % 2 == 0:
            store.add(ox.Quad(node(i), p, ox.Literal("again"), ox.NamedNode(names[2])))
    store.add(ox.Quad(blank, p, node(1), ox.NamedNode(names[1])))
    store.add(ox.Quad(node(30), p, node(1), ox.NamedNode("https://example.org/not-facts")))
    wanted = [node(i) for i in range(25)] + [blank, node(30), ox.Literal("x")]
    expected = {node(i): sorted({graphs[names[i % 3]]} | ({graphs[names[2]]} if i % 2 == 0
                                                           else set()))
                for i in range(25)}
    expected[blank] = [graphs[names[1]]]
    for workers in (1, 4):
        assert facts_subjects(store, wanted, graphs, batch=2, workers=workers) == expected
