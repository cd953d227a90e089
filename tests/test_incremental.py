"""Incremental builds: after a change to some facts files, `rivalry build` re-checks what
the change can affect, says so, and publishes exactly the store a full build gives."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest

from rivalry.graph.build import BuildOptions, BuildResult, build
from rivalry.graph.errors import InvalidFacts
from rivalry.graph.store import StoreLocation

from .conftest import CURATED_FACTS, search_index_rows

Edit = Callable[[Path], None]

NEW_MEASURE = """@prefix rv: <https://w3id.org/rivalry/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix action: <https://w3id.org/rivalry/id/action/> .
@prefix agency: <https://w3id.org/rivalry/id/agency/> .
@prefix company: <https://w3id.org/rivalry/id/company/> .
@prefix sector: <https://w3id.org/rivalry/id/sector/> .
@prefix source: <https://w3id.org/rivalry/id/source/> .

action:test-2025-02-01-new a rv:Sanction ;
    rdfs:label "A new sanction, for the incremental build's test"@en ;
    rv:issuedBy agency:us-ofac ;
    rv:targets company:integrity-technology-group ;
    rv:sector sector:cyber ;
    rv:announcedOn "2025-02-01"^^xsd:date ;
    rv:status rv:InForce ;
    rv:qualifiedResponse [ a rv:Response ; rv:responseContext "a test"@en ;
        rv:responseBasis rv:AnalystInference ; sem:accordingTo agency:us-ofac ;
        prov:wasDerivedFrom source:treasury-jy2769 ] ;
    prov:wasDerivedFrom source:treasury-jy2769 .
""".replace("@prefix rv:", "@prefix sem: <http://semanticweb.cs.vu.nl/2009/11/sem/> .\n"
            "@prefix rv:")

#: the new measure, answering the company's denial of the sanction: the response chains
#: (rv:respondsTo+) gain it, with the denial and the sanction
NEW_RESPONSE = NEW_MEASURE.replace(
    "prov:wasDerivedFrom source:treasury-jy2769 ] ;",
    "rv:responseTo action:cn-co-2025-01-05-integrity-denial ;\n"
    "        prov:wasDerivedFrom source:treasury-jy2769 ] ;\n"
    "    rv:respondsTo action:cn-co-2025-01-05-integrity-denial ;")

INTEGRITY = "events/2025-01-integrity-technology-sanction.ttl"
#: A triple the metadata graph also holds (rivalry.graph.build.describe_facts_graph).
SHARED_TRIPLE = ("<https://w3id.org/rivalry/graph/facts/events/2025-01-integrity-technology-"
                 "sanction> dct:license <https://creativecommons.org/licenses/by/4.0/> .\n")


def substitute(name: str, old: str, new: str) -> Edit:
    def edit(facts: Path) -> None:
        path = facts / name
        text = path.read_text("utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), "utf-8")
    return edit


def add_file(name: str, text: str) -> Edit:
    def edit(facts: Path) -> None:
        (facts / name).write_text(text, "utf-8")
    return edit


def remove_file(name: str) -> Edit:
    def edit(facts: Path) -> None:
        (facts / name).unlink()
    return edit


def both(*edits: Edit) -> Edit:
    def edit(facts: Path) -> None:
        for e in edits:
            e(facts)
    return edit


EDITS: dict[str, Edit] = {
    "a date changes": substitute(INTEGRITY, '"2025-01-03"^^xsd:date ;\n    rv:status',
                                 '"2025-01-04"^^xsd:date ;\n    rv:status'),
    "an issuer changes (its state is inferred)": substitute(
        INTEGRITY, "rv:issuedBy agency:us-ofac ;", "rv:issuedBy agency:us-treasury-ois ;"),
    "an agency moves (the states of its measures are inferred)": substitute(
        "reference/agencies.ttl", "org:subOrganizationOf agency:us-treasury ;",
        "rv:agencyOf state:us ;"),
    "a target is added": substitute(
        INTEGRITY, "rv:targets company:integrity-technology-group ;",
        "rv:targets company:integrity-technology-group , company:zte ;"),
    "a new file with blank nodes": add_file("events/2025-02-test.ttl", NEW_MEASURE),
    "a file is removed and another added": both(
        add_file("events/2025-02-test.ttl", NEW_MEASURE),
        remove_file("events/2018-08-ndaa-section-889.ttl")),
    "a label gets a second language": substitute(
        INTEGRITY, '"OFAC sanctions Integrity Technology Group"@en ;',
        '"OFAC sanctions Integrity Technology Group"@en , "OFAC 制裁华顺信安"@zh ;'),
    "nothing changes": lambda facts: None,
    # the derived graph: a most specific type, and the response chains, computed again
    "a type changes": substitute(
        INTEGRITY, "action:cn-co-2025-01-05-integrity-denial a rv:Denial ;",
        "action:cn-co-2025-01-05-integrity-denial a rv:Statement ;"),
    "a response to a response is added": add_file("events/2025-02-test.ttl", NEW_RESPONSE),
    # the search index: rows that depend on other nodes' triples (periods in force on
    # status changes, sources on their documents and their publishers' labels)
    "a status change moves": substitute(
        "events/2018-08-ndaa-section-889.ttl", 'rv:statusDate "2019-08-13"^^xsd:date ;',
        'rv:statusDate "2019-08-20"^^xsd:date ;'),
    "a source's title changes": substitute(
        INTEGRITY, 'dct:title "Treasury Sanctions Technology Company',
        'dct:title "Treasury Sanctions a Technology Company'),
    "a publisher is renamed": substitute(
        "reference/agencies.ttl", 'rdfs:label "U.S. Department of the Treasury"@en ;',
        'rdfs:label "United States Department of the Treasury"@en ;'),
    # the figures of /stats, updated from the previous build's: counts by the issuing
    # state's name, and the actions citing their issuer's own document
    "a state is renamed": substitute("reference/states.ttl", 'rdfs:label "Japan"@en',
                                     'rdfs:label "Nippon"@en'),
    # two steps from the actions it counts: the state of the agency that published the
    # official documents two actions cite (neither issued by it)
    "a publisher's state changes": substitute(
        "reference/agencies.ttl", '"GAO"@en ;\n    rv:agencyOf state:us .',
        '"GAO"@en ;\n    rv:agencyOf state:gb .'),
    "an official source becomes a mirror": substitute(
        INTEGRITY, "jy2769> ;\n    rv:sourceKind rv:PrimaryOfficial ;",
        "jy2769> ;\n    rv:sourceKind rv:Mirror ;"),
    # the union's dumps: a triple in two graphs (the file states what the metadata graph
    # says of its graph), given once
    "a file states its graph's licence": substitute(
        INTEGRITY, "@prefix dct:    <http://purl.org/dc/terms/> .\n",
        "@prefix dct:    <http://purl.org/dc/terms/> .\n" + SHARED_TRIPLE),
}

#: How each edit's search index is written: updated from the previous build's, or whole
#: (with the reason the build gives).
INDEX_WRITTEN = {
    "a date changes": "updated", "a target is added": "updated",
    "a label gets a second language": "updated", "a type changes": "updated",
    "an issuer changes (its state is inferred)": "updated", "nothing changes": "updated",
    "a status change moves": "updated", "a source's title changes": "updated",
    "a publisher is renamed": "updated", "a file states its graph's licence": "updated",
    "a state is renamed": "updated", "an official source becomes a mirror": "updated",
    "a publisher's state changes": "updated",
    "an agency moves (the states of its measures are inferred)":
        "written whole (the change touches org:subOrganizationOf",
    "a new file with blank nodes": "updated",  # its measure gets an id of its own
    "a response to a response is added": "updated",
    "a file is removed and another added":
        "written whole (the change makes an entity no longer searchable",
}


def copy_facts(target: Path) -> Path:
    shutil.copytree(CURATED_FACTS, target)
    return target


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the curated facts and a full build of them (with every check)."""
    root = tmp_path_factory.mktemp("incremental")
    facts = copy_facts(root / "facts")
    build(root / "store", facts, options=BuildOptions(incremental=False))
    return facts, root / "store"


def quads(result: BuildResult) -> set[ox.Quad]:
    """The build's quads (a store holds each once; blank nodes keep the labels the build
    gave them, which are the same for the same facts)."""
    db = ox.Store.read_only(str(result.path / "db"))
    return set(db.quads_for_pattern(None, None, None, None))


def state(result: BuildResult, name: str) -> object:
    return json.loads((result.path / "state" / name).read_text("utf-8"))


def products(result: BuildResult) -> dict[str, object]:
    """What a build writes beside its database, in a form that does not depend on the
    order of writing: the dumps' lines, the figures, the search index's rows."""
    folder = result.path / "dumps"
    found: dict[str, object] = {}
    for name in ("rivalry.nt.gz", "rivalry.nq.gz"):
        found[name] = sorted(gzip.decompress((folder / name).read_bytes())
                             .decode("utf-8").splitlines())
    # the other formats read back (a reader may give blank nodes labels of its own)
    for name, fmt in (("rivalry.trig.gz", ox.RdfFormat.TRIG),
                      ("rivalry.jsonld.gz", ox.RdfFormat.JSON_LD),
                      ("rivalry.ttl.gz", ox.RdfFormat.TURTLE)):
        found[name] = sorted(re.sub(r"_:\w+", "_:b", str(q)) for q in ox.parse(
            gzip.decompress((folder / name).read_bytes()), format=fmt))
    for name in ("figures.json", "facets.json"):
        found[name] = json.loads((folder / name).read_text("utf-8"))
    found.update(search_index_rows(result.path / "search.sqlite"))
    return found


def rebuild(base: tuple[Path, Path], tmp_path: Path, edit: Edit,
            options: BuildOptions | None = None,
            prepare: Callable[[Path], None] | None = None
            ) -> tuple[BuildResult, BuildResult, list[str]]:
    facts, store = base
    mine = copy_facts(tmp_path / "facts")
    shutil.copytree(store, tmp_path / "store", symlinks=True)
    # the copied store was built from the other directory: point its state at this one
    state = StoreLocation(tmp_path / "store").current() / "state"
    for kept in (state / "manifest.json", state / "results.json"):
        kept.write_text(kept.read_text("utf-8").replace(str(facts.resolve()),
                                                        str(mine.resolve())), "utf-8")
    if prepare is not None:
        prepare(StoreLocation(tmp_path / "store").current())
    edit(mine)
    said: list[str] = []
    incremental = build(tmp_path / "store", mine, progress=said.append, options=options)
    full = build(tmp_path / "full", mine, options=BuildOptions(incremental=False))
    return incremental, full, said


@pytest.mark.parametrize("name", sorted(EDITS))
def test_incremental_build_equals_a_full_one(base: tuple[Path, Path], tmp_path: Path,
                                             name: str) -> None:
    incremental, full, said = rebuild(base, tmp_path, EDITS[name])
    assert incremental.incremental and not full.incremental
    assert quads(incremental) == quads(full)
    # counted from the previous build's and the change, not by reading every quad
    assert incremental.info.quads == full.info.quads == len(quads(full))
    index = next(line for line in said if line.startswith("search index:"))
    expected = INDEX_WRITTEN[name]
    assert index.startswith("search index: " + (
        "the previous build's, updated for the" if expected == "updated" else expected)), \
        index
    # the consistency summary the next build starts from: the same kinds, assertions
    # between kinds and values as a full build's (the example individuals it names for
    # each kind may differ: any member of the kind will do)
    mine_summary, full_summary = state(incremental, "summary.json"), state(full, "summary.json")
    assert isinstance(mine_summary, dict) and isinstance(full_summary, dict)
    for part in ("kinds", "edges", "values", "schema"):
        assert mine_summary[part] == full_summary[part], part
    # the figures updated from the previous build's (rivalry.graph.refigure), not counted
    # whole, and the next build's whole figures of /stats as a full build keeps them
    # the dumps: the previous build's segments that the change leaves alone copied
    dumps = next(line for line in said if line.startswith("dumps:"))
    assert "copied from the previous build's" in dumps and "none copied" not in dumps, dumps
    assert not any(line.startswith("in memory:") for line in said)
    figures = next(line for line in said if line.startswith("figures:"))
    assert "updated from the previous build's for the change" in figures, figures
    assert state(incremental, "stats.json") == state(full, "stats.json")
    mine, theirs = products(incremental), products(full)
    assert mine.keys() == theirs.keys()
    for name in mine:
        assert mine[name] == theirs[name], name
    assert incremental.info.content_hash == full.info.content_hash
    assert incremental.validation is not None and full.validation is not None
    assert sorted(r.to_dict().items().__repr__() for r in incremental.validation.results) == \
        sorted(r.to_dict().items().__repr__() for r in full.validation.results)
    assert incremental.consistency is not None and incremental.consistency.ok
    text = "\n".join(said)
    assert "incremental build from" in text
    assert "re-validated the" in text and "the change can affect" in text
    assert "the summary updated for the" in text


def test_the_kind_of_an_individual_is_read_as_from_all_its_triples(
        base: tuple[Path, Path]) -> None:
    """The incremental consistency check reads, of the triples pointing to an individual,
    one per property and graph (a state is the object of thousands): each individual's
    kind is the one all its triples give."""
    from rivalry.graph.consistency import (
        Features,
        TBox,
        inferred_kept,
        load_summary,
        ontology_triples,
    )
    from rivalry.graph.incremental import _Keys

    current = StoreLocation(base[1]).current()
    db = ox.Store.read_only(str(current / "db"))
    summary = load_summary(current / "state" / "summary.json")
    assert summary is not None
    tbox = TBox.read(ontology_triples(db) + sorted(summary.schema, key=str))
    identity = set(tbox.individuals) | {t.subject for t in summary.schema}
    kept = inferred_kept(db)
    keys = _Keys(db, tbox, set(identity), kept)
    nodes = {q.subject for q in db.quads_for_pattern(None, None, None, None)
             if isinstance(q.graph_name, ox.NamedNode) and "/graph/facts/" in q.graph_name.value}
    kinds = set()
    for node in sorted(nodes, key=str):
        every = Features(tbox)
        every.identity = set(identity)
        for q in _Keys(db, tbox, every.identity, kept).incident(node):
            every.add(q.subject, q.predicate.value, q.object)
        expected = every.key(node) if node in every.features else None
        assert keys.own(node) == expected, node
        kinds.add(expected)
    assert len(nodes) > 1000 and len(kinds) > 50  # the curated graph's, in their variety


def test_an_incremental_build_says_what_it_rechecked(base: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    incremental, _, said = rebuild(base, tmp_path, EDITS["a date changes"])
    text = "\n".join(said)
    assert f"1 facts file changed ({INTEGRITY.removesuffix('.ttl')})" in text
    assert "HermiT's last answer stands" in text  # a new date adds no new kind of fact
    shacl = next(line for line in said if line.startswith("SHACL:"))
    nodes = int(shacl.split("re-validated the ")[1].split(" node")[0].replace(",", ""))
    assert 0 < nodes < 50  # the action and the few that point to it, not the whole graph
    derive = next(line for line in said if line.startswith("derive:"))
    # a date changed: its day number is computed again, nothing else of the derived graph
    assert "the most specific types of 0 nodes, the day numbers of 1 node" in derive
    assert "response chains" not in derive
    assert "updated: 1 triple removed, 1 added" in derive  # the old day number, the new
    assert not any(line.startswith("derived:") for line in said)  # nothing set aside
    # the dumps: the facts file's graph and the derived graph's segment that holds the
    # day number written again, in each of the five files; the others copied
    dumps = next(line for line in said if line.startswith("dumps:"))
    assert "(10 segments written, " in dumps, dumps
    assert not any(line.startswith("in memory: ") for line in said)


def test_an_index_written_by_other_code_is_written_whole(base: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    def other_code(previous: Path) -> None:
        index = previous / "search.sqlite"
        index.chmod(0o644)
        with sqlite3.connect(index) as db:
            db.execute("UPDATE meta SET value = 'other' WHERE key = 'code'")

    incremental, full, said = rebuild(base, tmp_path, EDITS["a date changes"],
                                      prepare=other_code)
    assert any(line.startswith("search index: written whole (the previous build's index "
                               "was written by other code)") for line in said)
    assert products(incremental) == products(full)


def test_the_graphs_sharing_a_triple_follow_the_change(base: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    """An incremental build finds the graphs that share a triple from the previous
    build's and the triples the change added: a file that comes to state what the
    metadata graph says of it shares a triple with it, and stops when it no longer
    states it; each build's union dump gives the triple once, as a full build's does."""
    edit = EDITS["a file states its graph's licence"]
    incremental, full, said = rebuild(base, tmp_path, edit)
    line = next(line for line in said if line.startswith("shared triples: "))
    assert line.startswith("shared triples: 2 graphs of ") and "the change added" in line
    graph = "https://w3id.org/rivalry/graph/facts/events/2025-01-integrity-technology-sanction"
    assert state(incremental, "manifest.json")["shared_graphs"] == [  # type: ignore[index]
        graph, "https://w3id.org/rivalry/graph/meta"]
    assert products(incremental) == products(full)
    union = gzip.decompress((incremental.path / "dumps" / "rivalry.nt.gz").read_bytes())
    assert union.count(f"<{graph}> <http://purl.org/dc/terms/license> ".encode()) == 1
    # the file no longer states it: the two graphs share nothing again
    facts = tmp_path / "facts"
    path = facts / INTEGRITY
    path.write_text(path.read_text("utf-8").replace(SHARED_TRIPLE, ""), "utf-8")
    said.clear()
    again = build(tmp_path / "store", facts, progress=said.append)
    assert again.incremental
    line = next(line for line in said if line.startswith("shared triples: "))
    assert line.startswith("shared triples: 0 graphs of "), line
    assert state(again, "manifest.json")["shared_graphs"] == []  # type: ignore[index]
    full_again = build(tmp_path / "full-again", facts, options=BuildOptions(incremental=False))
    assert products(again) == products(full_again)


def test_a_full_build_finds_every_graph_that_shares_a_triple(tmp_path: Path) -> None:
    """A full build looks for shared triples only in the graphs written after the
    inferences (rivalry.graph.build.FULL_BUILD_MAY_SHARE): it finds what a search of
    every graph finds, with a file that states what the inference would draw (which the
    inferred graph then leaves out), what the derived graph holds, and what the metadata
    graph says of it."""
    from rivalry.graph.export import shared_graphs

    facts = copy_facts(tmp_path / "facts")
    path = facts / INTEGRITY
    text = path.read_text("utf-8").replace(
        "@prefix dct:    <http://purl.org/dc/terms/> .\n",
        "@prefix dct:    <http://purl.org/dc/terms/> .\n" + SHARED_TRIPLE)
    text = text.replace(
        "action:us-ofac-2025-01-03-integrity a rv:Sanction ;",
        "action:us-ofac-2025-01-03-integrity a rv:Sanction , rv:Measure ;\n"
        '    rv:announcedOnDay "20091"^^xsd:integer ;')
    path.write_text(text, "utf-8")
    result = build(tmp_path / "store", facts, options=BuildOptions(incremental=False))
    db = ox.Store.read_only(str(result.path / "db"))
    everywhere = sorted(g.value for g in shared_graphs(db) if isinstance(g, ox.NamedNode))
    graph = "https://w3id.org/rivalry/graph/facts/events/2025-01-integrity-technology-sanction"
    assert everywhere == sorted([graph, "https://w3id.org/rivalry/graph/derived",
                                 "https://w3id.org/rivalry/graph/meta"])
    assert state(result, "manifest.json")["shared_graphs"] == everywhere  # type: ignore[index]
    union = gzip.decompress((result.path / "dumps" / "rivalry.nt.gz").read_bytes())
    action = "<https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity>"
    for said in (f"{action} <https://w3id.org/rivalry/ontology#announcedOnDay> ",
                 f"{action} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                 "<https://w3id.org/rivalry/ontology#Measure> ."):
        assert union.count(said.encode()) == 1, said


def _cut_short(dump: Path) -> None:
    dump.write_bytes(dump.read_bytes()[:-100])


def _one_quad_less(dump: Path) -> None:
    lines = gzip.decompress(dump.read_bytes()).splitlines(keepends=True)
    dump.write_bytes(gzip.compress(b"".join(lines[1:])))


def _missing(dump: Path) -> None:
    dump.unlink()


@pytest.mark.parametrize("spoil", [_cut_short, _one_quad_less, _missing])
def test_a_previous_dump_that_cannot_be_trusted_is_not_used(
        base: tuple[Path, Path], tmp_path: Path, spoil: Callable[[Path], None]) -> None:
    """When the previous build kept no layout of its dumps (written by the server, for
    one made with `--no-dumps`), the dumps are written whole, from a copy of the graph
    in memory: from the previous build's N-Quads dump only when that dump reads whole
    and, changed as the database was, holds as many quads as it; otherwise from the
    database itself. The products are the same."""
    def prepare(previous: Path) -> None:
        dump = previous / "dumps" / "rivalry.nq.gz"
        dump.parent.chmod(0o755)
        dump.chmod(0o644)
        spoil(dump)
        (previous / "state").chmod(0o755)
        (previous / "state" / "dumps.json").unlink()

    incremental, full, said = rebuild(base, tmp_path, EDITS["a target is added"],
                                      prepare=prepare)
    assert incremental.incremental
    line = next(line for line in said if line.startswith("in memory: "))
    assert "the index, copied from the database (" in line, line
    assert "written whole (the previous build kept no layout of its dumps)" in line, line
    mine, theirs = products(incremental), products(full)
    assert mine == theirs


def test_previous_dumps_not_as_their_layout_says_are_not_copied(
        base: tuple[Path, Path], tmp_path: Path) -> None:
    """A previous build's dump whose size or gzip trailer is not what its layout says
    (cut short, here) is not copied from: the dumps are written whole, from a copy of
    the graph in memory, and the build says why. The products are a full build's."""
    def prepare(previous: Path) -> None:
        dump = previous / "dumps" / "rivalry.jsonld.gz"
        dump.parent.chmod(0o755)
        dump.chmod(0o644)
        dump.write_bytes(dump.read_bytes()[:-1000])

    incremental, full, said = rebuild(base, tmp_path, EDITS["a target is added"],
                                      prepare=prepare)
    assert incremental.incremental
    line = next(line for line in said if line.startswith("in memory: "))
    assert "written whole (the previous build's rivalry.jsonld.gz is not as its state " \
        "says)" in line, line
    assert "from the previous build's N-Quads dump" in line, line
    dumps = next(line for line in said if line.startswith("dumps:"))
    assert "copied" not in dumps, dumps
    assert products(incremental) == products(full)


def test_products_written_from_the_database_on_disk_equal_a_full_builds(
        base: tuple[Path, Path], tmp_path: Path) -> None:
    """When the graph does not fit the memory setting, the index, the dumps and the
    figures are read from the database on disk: the same products."""
    incremental, full, said = rebuild(base, tmp_path, EDITS["a target is added"],
                                      BuildOptions(memory_mb=1))
    assert incremental.incremental
    assert not any(line.startswith("in memory: ") for line in said)
    mine, theirs = products(incremental), products(full)
    assert mine == theirs


def test_figures_that_cannot_be_updated_are_counted_whole(base: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    """An incremental build updates the figures from the previous build's; when that
    build kept no whole figures of /stats (state/stats.json), they are counted whole, the
    build says why, and they are a full build's."""
    def prepare(previous: Path) -> None:
        kept = previous / "state" / "stats.json"
        kept.parent.chmod(0o755)
        kept.unlink()

    incremental, full, said = rebuild(base, tmp_path, EDITS["a target is added"],
                                      prepare=prepare)
    assert incremental.incremental
    line = next(line for line in said if line.startswith("figures: "))
    assert "counted whole (the previous build kept no figures that can be read" in line, line
    assert products(incremental) == products(full)
    assert state(incremental, "stats.json") == state(full, "stats.json")


def test_a_build_without_dumps_still_writes_the_figures(base: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    """`--no-dumps` leaves the dumps to the server (each on its first request) but writes
    the figures /stats, VoID and the list pages read on every request, as a build with
    the dumps writes them; without them each of those requests would count the whole
    graph. Incremental and full builds alike."""
    incremental, full, said = rebuild(base, tmp_path, EDITS["a target is added"],
                                      BuildOptions(dumps=False))
    assert incremental.incremental
    folder = incremental.path / "dumps"
    assert not list(folder.glob("*.gz"))
    assert any(line.startswith("figures: ") for line in said)
    # no copy of the graph in memory: nothing left reads it whole
    assert not any(line.startswith("in memory: ") for line in said)
    for name in ("figures.json", "facets.json"):
        assert json.loads((folder / name).read_text("utf-8")) == json.loads(
            (full.path / "dumps" / name).read_text("utf-8")), name
    alone = build(tmp_path / "alone", tmp_path / "facts",
                  options=BuildOptions(incremental=False, dumps=False))
    assert not list((alone.path / "dumps").glob("*.gz"))
    assert json.loads((alone.path / "dumps" / "figures.json").read_text("utf-8")) == \
        json.loads((full.path / "dumps" / "figures.json").read_text("utf-8"))


def test_an_inconsistent_change_is_refused_naming_it(base: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    edit = substitute("reference/states.ttl", "a rv:State", "a rv:State , rv:Company")
    with pytest.raises(InvalidFacts) as caught:
        rebuild(base, tmp_path, edit)
    assert "disjoint" in str(caught.value)
    location = StoreLocation(tmp_path / "store")
    assert location.current_info() is not None  # the previous build is still served


def test_an_invalid_change_is_refused_like_in_a_full_build(base: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    label = '    rdfs:label "OFAC sanctions Integrity Technology Group"@en ;\n'
    edit = substitute(INTEGRITY, label, "")
    facts, store = base
    with pytest.raises(InvalidFacts) as incremental:
        rebuild(base, tmp_path, edit)
    mine = tmp_path / "facts"
    with pytest.raises(InvalidFacts) as full:
        build(tmp_path / "full2", mine, options=BuildOptions(incremental=False))
    assert incremental.value.details == full.value.details
    assert "us-ofac-2025-01-03-integrity" in str(incremental.value)


#: A triple of the curated facts (INTEGRITY states it), stated again in another file.
RESTATED = ('@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n'
            '<https://w3id.org/rivalry/id/action/us-ofac-2025-01-03-integrity> rdfs:label '
            '"OFAC sanctions Integrity Technology Group"@en .\n')


def test_a_fact_stated_in_two_files_is_refused_naming_both(base: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    """SPARQL's default graph is the union of the graphs, where the engine would match a
    restated triple once per file that states it: refused, incrementally as in a full
    build, naming both files and the triple."""
    edit = add_file("events/2025-02-restated.ttl", RESTATED)
    with pytest.raises(InvalidFacts) as incremental:
        rebuild(base, tmp_path, edit)
    full_store = tmp_path / "full2"
    with pytest.raises(InvalidFacts) as full:
        build(full_store, tmp_path / "facts", options=BuildOptions(incremental=False))
    with pytest.raises(InvalidFacts) as on_disk:  # the working store on disk
        build(tmp_path / "disk", tmp_path / "facts",
              options=BuildOptions(incremental=False, memory_mb=0))
    assert on_disk.value.details == full.value.details
    for caught in (incremental, full):
        detail = str(caught.value)
        assert "stated in more than one facts file" in detail
        assert "2025-02-restated.ttl" in detail and "integrity-technology-sanction.ttl" in detail
        assert '"OFAC sanctions Integrity Technology Group"@en' in detail
    assert StoreLocation(tmp_path / "store").current_info() is not None  # still served


def test_the_union_default_graph_holds_each_triple_once(base: tuple[Path, Path]) -> None:
    """What the refusal keeps true of the curated build: counted over the union default
    graph, the triples are as many as the distinct ones."""
    _, store = base
    db = ox.Store.read_only(str(store / "current" / "db"))
    count = "SELECT (COUNT(*) AS ?n) WHERE {{ {} }}"
    [[total]] = [list(r) for r in db.query(count.format("?s ?p ?o"),
                                           use_default_graph_as_union=True)]
    [[distinct]] = [list(r) for r in db.query(
        count.format("SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o }"),
        use_default_graph_as_union=True)]
    assert int(total.value) == int(distinct.value)
