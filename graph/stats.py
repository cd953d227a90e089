"""The state of the curated graph in numbers: actions by type, issuing state and year,
and the facts that rest on a single source."""

from __future__ import annotations

from dataclasses import dataclass, field

from rivalry.graph import ONTOLOGY_GRAPH
from rivalry.graph.describe import Labels
from rivalry.graph.store import EmbeddedStore

RV = "https://w3id.org/rivalry/ontology#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
PREFIX = f"PREFIX rv: <{RV}> PREFIX prov: <http://www.w3.org/ns/prov#> "


@dataclass
class Stats:
    actions: int = 0
    sources: int = 0
    by_type: list[tuple[str, int]] = field(default_factory=list)
    by_state: list[tuple[str, int]] = field(default_factory=list)
    by_year: list[tuple[str, int]] = field(default_factory=list)
    by_state_and_year: list[tuple[str, str, int]] = field(default_factory=list)
    single_source: list[tuple[str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "actions": self.actions, "sources": self.sources,
            "by_type": dict(self.by_type), "by_state": dict(self.by_state),
            "by_year": dict(self.by_year),
            "by_state_and_year": [{"state": s, "year": y, "actions": n}
                                  for s, y, n in self.by_state_and_year],
            "single_source": [{"node": n, "label": label, "type": t}
                              for n, label, t in self.single_source],
        }

    def to_text(self) -> str:
        lines = [f"{self.actions} actions from {self.sources} source documents", "",
                 "By type:"]
        lines += [f"  {n:5d}  {t}" for t, n in self.by_type]
        lines += ["", "By issuing state:"] + [f"  {n:5d}  {s}" for s, n in self.by_state]
        lines += ["", "By year:"] + [f"  {n:5d}  {y}" for y, n in self.by_year]
        lines += ["", f"Resting on a single source ({len(self.single_source)}):"]
        lines += [f"  {label} ({t}) <{n}>" for n, label, t in self.single_source]
        return "\n".join(lines)


def _pairs(store: EmbeddedStore, query: str, labels: Labels | None) -> list[tuple[str, int]]:
    out = []
    for key, n in store.query(PREFIX + query).rows():
        name = "(none)" if key is None else (labels(key.value) if labels and
                                              key.__class__.__name__ == "NamedNode"
                                              else key.value)
        out.append((name, int(n.value)))
    return sorted(out, key=lambda x: (-x[1], x[0]))


def stats(store: EmbeddedStore, labels: Labels | None = None) -> Stats:
    labels = labels or Labels(store)
    result = Stats()
    result.actions = int(next(store.query(
        PREFIX + "SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a a rv:Action }").rows())[0].value)
    result.sources = int(next(store.query(
        PREFIX + "SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE { ?d a rv:SourceDocument }"
    ).rows())[0].value)
    # most specific classes only: a sanction counts as a sanction, not also a measure;
    # one count per class, leaving out the actions typed with one of its subclasses
    # (read from the ontology graph), which is much cheaper than a path per action
    result.by_type = []
    onto = f"<{ONTOLOGY_GRAPH}>"
    narrower: dict[str, set[str]] = {}
    for c, d in store.query(PREFIX + f"""SELECT ?c ?d WHERE {{ GRAPH {onto} {{
            ?c <{RDFS}subClassOf>* rv:Action . OPTIONAL {{ ?d <{RDFS}subClassOf>+ ?c
            FILTER(?d != ?c) }} }} }}""").rows():
        found = narrower.setdefault(c.value, set())
        if d is not None:
            found.add(d.value)
    for c, subs in narrower.items():
        minus = ("FILTER NOT EXISTS { VALUES ?d { " + " ".join(f"<{d}>" for d in sorted(subs))
                 + " } ?a a ?d }") if subs else ""
        n = int(next(store.query(f"SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE {{ ?a a <{c}> "
                                 f"{minus} }}").rows())[0].value)
        if n:
            result.by_type.append((labels(c), n))
    result.by_type.sort(key=lambda x: (-x[1], x[0]))
    result.by_state = _pairs(store, """SELECT ?s (COUNT(DISTINCT ?a) AS ?n) WHERE {
        ?a a rv:Action . OPTIONAL { ?a rv:issuingState ?s } } GROUP BY ?s""", labels)
    result.by_year = sorted(_pairs(store, """SELECT ?y (COUNT(DISTINCT ?a) AS ?n) WHERE {
        ?a a rv:Action ; rv:announcedOn ?d BIND(STR(YEAR(?d)) AS ?y) } GROUP BY ?y""", None))
    for s, y, n in store.query(PREFIX + """SELECT ?s ?y (COUNT(DISTINCT ?a) AS ?n) WHERE {
            ?a a rv:Action ; rv:announcedOn ?d ; rv:issuingState ?s BIND(STR(YEAR(?d)) AS ?y)
        } GROUP BY ?s ?y ORDER BY ?y ?s""").rows():
        result.by_state_and_year.append((labels(s.value), y.value, int(n.value)))
    # the nodes with one source first, then their types: grouping the nodes' types with
    # their sources would multiply the rows to group
    for node, t in store.query(PREFIX + """SELECT ?x (SAMPLE(?c) AS ?t) WHERE {
            { SELECT ?x WHERE { ?x prov:wasDerivedFrom ?doc } GROUP BY ?x
              HAVING (COUNT(DISTINCT ?doc) = 1) }
            ?x a ?c .
            FILTER(STRSTARTS(STR(?c), STR(rv:)))
        } GROUP BY ?x ORDER BY ?x""").rows():
        result.single_source.append((node.value, labels(node.value), labels(t.value)))
    return result
