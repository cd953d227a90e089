"""Lists for browsing: the classes that have members, the members of a class, and
actions filtered by issuing state, type, technology and year. Class and property
labels come from the ontology; filter values are bound to query variables, never
pasted into query text."""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from rivalry.graph import ID_BASE, ONTOLOGY_GRAPH
from rivalry.graph.describe import Labels
from rivalry.graph.store import EmbeddedStore

RV = "https://w3id.org/rivalry/ontology#"
OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class ActionRow:
    iri: str
    label: str
    date: str
    kind: str
    state: str | None


def classes_with_members(store: EmbeddedStore, labels: Labels) -> list[Option]:
    """Classes of the ontology with members among the graph's entities, and how many."""
    query = f"""SELECT ?class (COUNT(DISTINCT ?e) AS ?n) WHERE {{
        GRAPH <{ONTOLOGY_GRAPH}> {{ ?class a <{OWL_CLASS}> }}
        FILTER(STRSTARTS(STR(?class), "{RV}"))
        ?e a ?class .
        FILTER(STRSTARTS(STR(?e), "{ID_BASE}"))
    }} GROUP BY ?class"""
    rows = [Option(c.value, labels(c.value, c.value.rsplit("#", 1)[-1]), int(n.value))
            for c, n in store.query(query).rows()]
    return sorted(rows, key=lambda o: o.label.lower())


def members(store: EmbeddedStore, class_iri: str, labels: Labels) -> list[tuple[str, str]]:
    query = f"""SELECT DISTINCT ?e ?class WHERE {{ ?e a ?class .
        FILTER(STRSTARTS(STR(?e), "{ID_BASE}")) }}"""
    found = [e.value for (e, _) in store.query(query, bindings={
        "class": ox.NamedNode(class_iri)}).rows()]
    return sorted(((e, labels(e, e.rsplit("/", 1)[-1])) for e in found),
                  key=lambda x: x[1].lower())


def is_class(store: EmbeddedStore, iri: str) -> bool:
    return next(store.quads_for_pattern(ox.NamedNode(iri), None, ox.NamedNode(OWL_CLASS),
                                           ox.NamedNode(ONTOLOGY_GRAPH)), None) is not None


ACTIONS = f"""PREFIX rv: <{RV}>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT DISTINCT ?action ?date ?class ?state ?wantState ?wantType ?wantTechnology ?wantYear
WHERE {{
  ?action a rv:Action ; rv:announcedOn ?date ; a ?class .
  ?class <http://www.w3.org/2000/01/rdf-schema#subClassOf>* rv:Action .
  FILTER NOT EXISTS {{
    ?action a ?narrower . ?narrower <http://www.w3.org/2000/01/rdf-schema#subClassOf>+ ?class .
    FILTER(?narrower != ?class)
  }}
  OPTIONAL {{ ?action rv:issuingState ?state }}
  #FILTERS#
}} ORDER BY ?date ?action"""

#: One fixed fragment per filter; the filter's value is bound to its variable.
FILTERS = {
    "wantState": "?action rv:issuingState ?wantState .",
    "wantType": "?action a ?wantType .",
    "wantTechnology": "?action rv:controlsTechnology/skos:broader* ?wantTechnology .",
    "wantYear": "FILTER(YEAR(?date) = ?wantYear)",
}


def actions(store: EmbeddedStore, labels: Labels, *, state: str | None = None,
            kind: str | None = None, technology: str | None = None,
            year: int | None = None) -> list[ActionRow]:
    """Actions in date order, filtered by issuing state, type (class), technology (with
    narrower ones) and year."""
    bindings: dict[str, ox.Term] = {}
    if state:
        bindings["wantState"] = ox.NamedNode(state)
    if kind:
        bindings["wantType"] = ox.NamedNode(kind)
    if technology:
        bindings["wantTechnology"] = ox.NamedNode(technology)
    if year is not None:
        bindings["wantYear"] = ox.Literal(
            str(year), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))
    query = ACTIONS.replace("#FILTERS#", "\n  ".join(FILTERS[k] for k in sorted(bindings)))
    rows: dict[str, ActionRow] = {}
    for action, date, cls, st, *_ in store.query(query, bindings=bindings).rows():
        if action.value in rows:
            continue
        rows[action.value] = ActionRow(action.value, labels(action.value), date.value,
                                       labels(cls.value), labels(st.value) if st else None)
    return list(rows.values())


def facets(store: EmbeddedStore, labels: Labels) -> dict[str, list[Option]]:
    """The values each action filter can take, with counts."""
    def options(query: str) -> list[Option]:
        out = [Option(v.value, labels(v.value, v.value), int(n.value))
               for v, n in store.query(query).rows() if v is not None]
        return sorted(out, key=lambda o: o.label.lower())

    prefix = f"PREFIX rv: <{RV}> PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
    years = [Option(y.value, y.value, int(n.value)) for y, n in store.query(
        prefix + "SELECT ?y (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a a rv:Action ; "
        "rv:announcedOn ?d BIND(STR(YEAR(?d)) AS ?y) } GROUP BY ?y ORDER BY ?y").rows()]
    return {
        "state": options(prefix + "SELECT ?v (COUNT(DISTINCT ?a) AS ?n) WHERE { "
                         "?a a rv:Action ; rv:issuingState ?v } GROUP BY ?v"),
        "type": options(prefix + "SELECT ?v (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a a rv:Action, "
                        "?v . ?v <http://www.w3.org/2000/01/rdf-schema#subClassOf>* rv:Action "
                        "} GROUP BY ?v"),
        "technology": options(prefix + "SELECT ?v (COUNT(DISTINCT ?a) AS ?n) WHERE { "
                              "?a rv:controlsTechnology/skos:broader* ?v } GROUP BY ?v"),
        "year": years,
    }
