"""SHACL compiled to SPARQL (rivalry.graph.shacl): every constraint of the shapes runs,
the results are pySHACL's, and shapes the engine cannot run are refused, not skipped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import RDF, RDFS, URIRef
from rdflib.namespace import SH

from rivalry.graph import DERIVED_GRAPH, INFERRED_GRAPH
from rivalry.graph.shacl import COMPONENTS, Runner, ShapesNotSupported, compile_shapes
from rivalry.graph.store import EmbeddedStore
from rivalry.graph.terms import to_rdflib
from rivalry.graph.validate import (
    constraints,
    node_key,
    run_all,
    shapes_graph,
)

from .conftest import DATA

SHACL = DATA / "shacl"
FIXTURES = sorted((SHACL / "valid").glob("*.ttl")) + sorted((SHACL / "invalid").glob("*.ttl"))

# --- pySHACL as the reference ------------------------------------------------------------


def _key(term: rdflib.term.Node | ox.Term | None) -> object:
    if term is None:
        return None
    if isinstance(term, rdflib.Literal):
        return (str(term), term.language, str(term.datatype) if term.datatype else
                ("" if term.language else str(rdflib.XSD.string)))
    if isinstance(term, ox.Literal):
        return (term.value, term.language, "" if term.language else term.datatype.value)
    if isinstance(term, rdflib.BNode):
        return "_:" + str(term)
    if isinstance(term, (ox.NamedNode, ox.BlankNode)):
        return node_key(term)
    return str(term)


@contextmanager
def prepared_queries() -> Iterator[None]:
    """rdflib's SPARQL processor with each query text parsed and translated once, as
    `prepareQuery` does, and evaluated with each call's own bindings. pySHACL asks
    rdflib the same SPARQL constraint once per focus node, and rdflib parses the text
    anew each time (three quarters of pySHACL's time here); what is evaluated, and so
    pySHACL's report, is the same."""
    from rdflib.plugins.sparql.evaluate import evalQuery
    from rdflib.plugins.sparql.processor import SPARQLProcessor, prepareQuery

    original = SPARQLProcessor.query
    prepared: dict[tuple, object] = {}

    def query(self, str_or_query, initBindings=None, initNs=None, base=None,  # noqa: ANN001, ANN202, N803
              DEBUG=False):  # noqa: ANN001, N803
        if not isinstance(str_or_query, str):
            return original(self, str_or_query, initBindings, initNs, base, DEBUG)
        key = (str_or_query, base, tuple(sorted((k, str(v)) for k, v in (initNs or {}).items())))
        if key not in prepared:
            prepared[key] = prepareQuery(str_or_query, initNs=initNs, base=base)
        return evalQuery(self.graph, prepared[key], initBindings, base)

    SPARQLProcessor.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        SPARQLProcessor.query = original  # type: ignore[method-assign]


def pyshacl_results(store: ox.Store, focus: set[ox.Term]) -> set[tuple]:
    import pyshacl

    data = rdflib.Graph()
    for q in store.quads_for_pattern(None, None, None, None):
        data.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))
    with prepared_queries():
        _, report, _ = pyshacl.validate(data, shacl_graph=shapes_graph(), inference="none",
                                        allow_infos=True, allow_warnings=True,
                                        do_owl_imports=False)
    root = next(report.subjects(RDF.type, SH.ValidationReport))
    keys = {_key(t) for t in focus}
    out = set()
    for r in report.objects(root, SH.result):
        f = _key(report.value(r, SH.focusNode))
        if f not in keys:
            continue
        path = report.value(r, SH.resultPath)
        out.add((f, str(path) if isinstance(path, URIRef) else None,
                 str(report.value(r, SH.sourceConstraintComponent)),
                 _key(report.value(r, SH.value)), str(report.value(r, SH.resultSeverity))))
    return out


def our_results(store: ox.Store, keep: set[ox.Term], **options) -> set[tuple]:  # noqa: ANN003
    out = set()
    for v in run_all(store, **options):
        if v.focus not in keep:
            continue
        c = v.constraint
        path = c.path.node if c.path is not None else None
        if path is None and isinstance(v.bindings.get("path"), ox.NamedNode):
            path = URIRef(v.bindings["path"].value)
        out.add((_key(v.focus), str(path) if isinstance(path, URIRef) else None, c.component,
                 _key(v.value), c.severity))
    return out


def renamed(path: Path, known: set[str]) -> list[ox.Quad]:
    """A fixture's quads, its own nodes renamed apart (so that all fixtures can share one
    data graph); nodes of the curated graph keep their names."""
    quads = list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE))
    subjects = {q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)} - known
    suffix = "--" + path.parent.name + "-" + path.stem

    def name(t: ox.Term) -> ox.Term:
        if isinstance(t, ox.NamedNode) and t.value in subjects:
            return ox.NamedNode(t.value + suffix)
        if isinstance(t, ox.BlankNode):
            return ox.BlankNode(t.value + suffix.replace("-", "_"))
        return t

    graph = ox.NamedNode("urn:test:fixture:" + path.parent.name + "-" + path.stem)
    return [ox.Quad(name(q.subject), q.predicate, name(q.object), graph) for q in quads]


def test_results_are_pyshacls(store_dir: Path) -> None:
    """The curated graph and every fixture (each renamed apart) in one data graph, with
    their inferences: the compiled constraints find exactly the results pySHACL finds
    (focus node, path, component, value, severity), on every node of the facts."""
    from rivalry.graph.reason import materialise

    db = EmbeddedStore(store_dir).db
    store = ox.Store()
    # pySHACL takes minutes over the whole curated graph: the ontology, the shared
    # entities and a third of the event files (the same every run) are enough for
    # every shape to meet valid and invalid nodes; the fixtures add the rest
    # (and every event file that describes a node a fixture names)
    quads = list(db.quads_for_pattern(None, None, None, None))
    events = sorted({q.graph_name.value for q in quads
                     if "/graph/facts/events/" in q.graph_name.value})
    named = {t.value for path in FIXTURES
             for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)
             for t in (q.subject, q.object) if isinstance(t, ox.NamedNode)}
    needed = {q.graph_name.value for q in quads if q.graph_name.value in events
              and isinstance(q.subject, ox.NamedNode) and q.subject.value in named}
    left_out = set(events) - set(events[::3]) - needed | {INFERRED_GRAPH, DERIVED_GRAPH}
    store.extend(q for q in quads if q.graph_name.value not in left_out)
    known = {q.subject.value for q in store.quads_for_pattern(None, None, None, None)
             if isinstance(q.subject, ox.NamedNode)}
    for path in FIXTURES:
        store.extend(renamed(path, known))
    materialise(store)
    focus = {q.subject for q in store.quads_for_pattern(None, None, None, None)
             if "/graph/facts/" in q.graph_name.value
             or q.graph_name.value.startswith("urn:test:fixture:")}
    ours = our_results(store, focus)
    assert ours == pyshacl_results(store, focus)
    for path in FIXTURES:  # each invalid fixture is reported, each valid one is not
        suffix = "--" + path.parent.name + "-" + path.stem
        severity = "Violation" if path.parent.name == "invalid" else None
        expect = re.search(r"^# expect: (\w+)", path.read_text("utf-8"), re.M)
        if expect:
            severity = expect.group(1)
        found = {r[4].rsplit("#", 1)[-1] for r in ours if str(r[0]).endswith(suffix)}
        if severity is None:
            assert "Violation" not in found, path.name
        else:
            assert severity in found, path.name


def test_threads_and_focus_give_the_same_results(store_dir: Path) -> None:
    db = EmbeddedStore(store_dir).db
    whole = our_results(db, set(_all_subjects(db)))
    assert whole == our_results(db, set(_all_subjects(db)), workers=3)
    some = sorted(_all_subjects(db), key=str)[::7]
    assert our_results(db, set(some), focus=some) == {r for r in whole
                                                      if r[0] in {_key(s) for s in some}}


def _all_subjects(db: ox.Store) -> set[ox.Term]:
    return {q.subject for q in db.quads_for_pattern(None, None, None, None)
            if isinstance(q.graph_name, ox.NamedNode) and "/graph/facts/" in q.graph_name.value}


# --- every constraint runs, or the engine refuses --------------------------------------------


def test_every_constraint_of_the_shapes_is_compiled() -> None:
    """Each constraint parameter of each shape with targets (and of the property shapes
    it holds) is compiled into a constraint, and each SHACL-SPARQL constraint too."""
    g = shapes_graph()
    compiled = constraints()
    by_holder: dict[rdflib.term.Node, set[str]] = {}
    for c in compiled:
        by_holder.setdefault(c.shape, set()).add(c.component)
    targeted = {s for p in (SH.targetClass, SH.targetSubjectsOf) for s in g.subjects(p)}
    names = {str(p): str(SH) + n for p, n in COMPONENTS.items()}
    for shape in targeted:
        holders = [shape, *g.objects(shape, SH.property)]
        for holder in holders:
            for p in set(g.predicates(holder)):
                if str(p) not in names or p == SH.sparql:
                    continue
                component = names[str(p)]
                if p in (SH.qualifiedValueShape,):
                    component = str(SH.QualifiedMinCountConstraintComponent)
                assert component in by_holder.get(holder, set()), (holder, p)
        for sparql in g.objects(shape, SH.sparql):
            assert any(c.source_constraint == sparql and c.shape == shape for c in compiled)
    assert len({c.id for c in compiled}) == len(compiled)


def test_a_class_is_checked_on_the_node_s_own_types_where_the_node_is_bound() -> None:
    """sh:class on a value node runs, inside EXISTS where the node is bound, as a filter
    on that node's types; a target's unbound ?this reads each class's instances (a
    VALUES clause): evaluated the other way round, the first looks every class up for
    every value and the second would read every typed node of the graph."""
    g = rdflib.Graph().parse(data=SHAPE.format(
        body="sh:property [ sh:path ex:p ; sh:class ex:D ]"), format="turtle")
    [c] = compile_shapes(g)
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://example.org/E"), ox.NamedNode(str(RDFS.subClassOf)),
                      ox.NamedNode("http://example.org/D")))
    runner = Runner(store, [c])
    test, target = runner.expand(c.test or ""), runner.expand(c.target)
    assert re.search(r"\?t_\d+ IN \(<http://example.org/D>, <http://example.org/E>\)", test)
    assert "VALUES" not in test
    assert re.search(r"VALUES \?t_\d+ \{ <http://example.org/C> \}", target)
    assert "IN (" in runner.expand(c.target, focus=True)


SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
ex:S a sh:NodeShape ; sh:targetClass ex:C ; {body} .
"""


@pytest.mark.parametrize("body,says", [
    ("sh:closed true", "sh:closed"),
    ("sh:property [ sh:path ex:p ; sh:lessThan ex:q ]", "sh:lessThan"),
    ("sh:property [ sh:path ex:p ; sh:equals ex:q ]", "sh:equals"),
    ("sh:target [ a sh:SPARQLTarget ]", "sh:target"),
    ("sh:sparql [ sh:select \"SELECT $this WHERE { $this ?p $currentShape }\" ]",
     "$currentShape"),
    ("sh:sparql [ sh:select \"SELECT $this WHERE { }\" ; sh:severity sh:Warning ]",
     "the severity belongs to the shape"),
    ("sh:node [ sh:sparql [ sh:select \"SELECT $this WHERE { }\" ] ]", "inside another shape"),
    ("sh:property [ sh:path [ sh:alternative ex:p ] ; sh:minCount 1 ]",
     "not a SHACL property path"),
])
def test_shapes_the_engine_cannot_run_are_refused(body: str, says: str) -> None:
    g = rdflib.Graph().parse(data=SHAPE.format(body=body), format="turtle")
    with pytest.raises(ShapesNotSupported) as caught:
        compile_shapes(g)
    assert says in str(caught.value)


def test_a_refusal_stops_the_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rivalry.graph import validate
    from rivalry.graph.build import build
    from rivalry.graph.errors import InvalidOntology

    bad = rdflib.Graph().parse(data=SHAPE.format(body="sh:closed true"), format="turtle")
    monkeypatch.setattr(validate, "shapes_graph", lambda: bad)
    with pytest.raises(InvalidOntology):
        build(tmp_path / "store", consistency=False)
    assert not (tmp_path / "store" / "current").exists()
