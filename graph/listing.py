"""Lists for browsing: the classes that have members, the members of a class (a page at a
time), actions filtered by issuing state or union, type, technology, sector, target country and
year (a page at a time), and the counts a timeline chart draws.

Class and property labels come from the ontology. Filter values are RDF terms (checked
against the options by the caller) given to the query in a VALUES block, written by
pyoxigraph's term serializer, never pasted as text; VALUES rather than pyoxigraph's
substitutions, because the engine plans its joins around a VALUES block and not around
substituted variables (a target-country filter on 100,000 actions went from minutes to
under a second). Every query is
bounded by the page it serves (LIMIT/OFFSET, or an aggregate), so the cost of a page does
not grow with what it does not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyoxigraph as ox

from rivalry.graph import ONTOLOGY_GRAPH, Term, term_value
from rivalry.graph.describe import Labels, action_kinds_and_states
from rivalry.graph.store import GraphReader, Store
from rivalry.ontology import NAMESPACE

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)
SKOS = "http://www.w3.org/2004/02/skos/core#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"

#: Rows on one page of a list.
PAGE_SIZE = 100


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    count: int | None = None


@dataclass(frozen=True)
class ActionRow:
    iri: str
    label: str
    date: str
    kind: str
    state: str | None


@dataclass(frozen=True)
class ActionFilters:
    """What a list of actions is narrowed to: IRIs (a year for `year`), or None."""

    state: str | None = None
    type: str | None = None
    technology: str | None = None
    sector: str | None = None
    country: str | None = None
    year: int | None = None

    NAMES = ("state", "type", "technology", "sector", "country", "year")

    def bindings(self) -> dict[str, Term]:
        out: dict[str, Term] = {}
        for name in self.NAMES:
            value = getattr(self, name)
            if value is None:
                continue
            var = "want" + name.capitalize()
            out[var] = (ox.Literal(str(value), datatype=ox.NamedNode(XSD_INTEGER))
                        if name == "year" else ox.NamedNode(value))
        return out

    def active(self) -> dict[str, str]:
        return {n: str(getattr(self, n)) for n in self.NAMES if getattr(self, n) is not None}


@dataclass
class ActionPage:
    rows: list[ActionRow]
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


#: One fixed fragment per filter; the filter's value is bound to its variable. Paths
#: start from the bound value, so the engine walks from it.
FILTERS = {
    "wantState": "?action rv:issuingPolity ?wantState .",
    "wantType": "?action a ?wantType .",
    "wantTechnology": "?tech skos:broader* ?wantTechnology . ?action rv:controlsTechnology ?tech .",
    "wantSector": "?sec skos:broader* ?wantSector . ?action rv:sector ?sec .",
    "wantCountry": "{ ?action rv:targets ?wantCountry } UNION "
                   "{ ?who rv:country ?wantCountry . ?action rv:targets ?who } UNION "
                   "{ ?action rv:appliesToDestination ?wantCountry }",
    "wantYear": "FILTER(YEAR(?date) = ?wantYear)",
}
PREFIXES = f"PREFIX rv: <{RV}>\nPREFIX skos: <{SKOS}>\n"


def _where(bindings: dict[str, Term]) -> str:
    """The pattern of actions passing the filters: each filter a subquery of its own,
    with its value in a VALUES block inside it, so that the engine plans each from its
    value and only then joins them (one combined pattern let it start from the wrong end,
    taking tens of seconds for a country and a sector on 100,000 actions)."""
    parts = []
    for name in sorted(bindings):
        values = f"VALUES ?{name} {{ {bindings[name]} }}"
        if name == "wantYear":
            parts.append(f"{values}\n  {FILTERS[name]}")
        else:
            parts.append(f"{{ SELECT DISTINCT ?action WHERE {{ {values} {FILTERS[name]} }} }}")
    filters = "\n  ".join(p for p in parts if not p.startswith("VALUES ?wantYear"))
    year = next((p for p in parts if p.startswith("VALUES ?wantYear")), "")
    return f"{{\n  {filters}\n  ?action rv:announcedOn ?date .\n  {year}\n}}"


def count_actions(store: Store, filters: ActionFilters) -> int:
    bindings = filters.bindings()
    query = f"{PREFIXES}SELECT (COUNT(?action) AS ?n) WHERE {_where(bindings)}"
    return int(term_value(next(store.query(query).rows())[0]))


def action_page(store: Store, labels: Labels, filters: ActionFilters,
                page: int = 1, page_size: int = PAGE_SIZE, total: int | None = None,
                newest_first: bool = False) -> ActionPage:
    """One page of the actions that pass `filters`, by date (then IRI)."""
    bindings = filters.bindings()
    if total is None:
        total = count_actions(store, filters)
    offset = (page - 1) * page_size
    if offset >= total:  # past the end: nothing to ask (nor an offset past the engine's)
        return ActionPage([], total, page, page_size)
    order = "DESC(?date) DESC(?action)" if newest_first else "?date ?action"
    query = (f"{PREFIXES}SELECT ?action ?date WHERE {_where(bindings)}\n"
             f"ORDER BY {order} LIMIT {page_size} OFFSET {offset}")
    found = [(term_value(action), term_value(date))
             for action, date in store.query(query).rows()]
    return ActionPage(_rows(store, labels, found), total, page, page_size)


def _rows(store: Store, labels: Labels, found: list[tuple[str, str]]) -> list[ActionRow]:
    """The rows of (action, date) pairs, their labels, kinds and states read together."""
    facts = action_kinds_and_states(store, [action for action, _ in found], labels)
    rows = []
    for action, date in found:
        kind, state = facts.get(action, (None, None))
        rows.append(ActionRow(action, labels(action), date, kind or "", state))
    return rows


def actions(store: Store, labels: Labels, *, state: str | None = None,
            kind: str | None = None, technology: str | None = None,
            year: int | None = None) -> list[ActionRow]:
    """Every action passing the filters, in date order (for small graphs and tests; pages
    use `action_page`)."""
    filters = ActionFilters(state=state, type=kind, technology=technology, year=year)
    total = count_actions(store, filters)
    return action_page(store, labels, filters, 1, max(total, 1), total).rows


#: The values of each action filter, with counts where a grouped query gives them:
#: filter name -> [(value, count or None)]. What `facets` labels; a build keeps it with
#: its figures (rivalry.graph.products), so that list pages do not compute it.
FacetValues = dict[str, list[tuple[str, int | None]]]


def facet_values(store: GraphReader) -> FacetValues:
    """The values each action filter can take; with counts where one grouped query over
    one property gives them (issuing state, sector, year). Types come from the ontology,
    technologies and countries from their classes, so no option costs a scan of the
    actions. Each list is in the order of its values, whatever the store's order (the
    same graph gives the same figures, from a full or an incremental build)."""
    def values(query: str, counted: bool = True) -> list[tuple[str, int | None]]:
        return sorted((term_value(row[0]), int(term_value(row[1])) if counted else None)
                      for row in store.query(PREFIXES + query).rows() if row[0] is not None)

    return {
        "state": values("SELECT ?v (COUNT(?a) AS ?n) WHERE { ?a rv:issuingPolity ?v } "
                        "GROUP BY ?v"),
        "type": values(f"SELECT DISTINCT ?v WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ "
                       f"?v <{RDFS}subClassOf>* rv:Action }} }}", counted=False),
        "technology": values("SELECT DISTINCT ?v WHERE { ?v a rv:Technology }",
                             counted=False),
        "sector": values("SELECT ?v (COUNT(?a) AS ?n) WHERE { ?a rv:sector ?v } GROUP BY ?v"),
        "country": values("SELECT DISTINCT ?v WHERE { ?v a rv:State }", counted=False),
        "year": values("SELECT ?y (COUNT(?a) AS ?n) WHERE { ?a rv:announcedOn ?d "
                       "BIND(SUBSTR(STR(?d), 1, 4) AS ?y) } GROUP BY ?y ORDER BY ?y"),
    }


def facets(store: Store, labels: Labels,
           values: FacetValues | None = None) -> dict[str, list[Option]]:
    """The options of each action filter, labelled: years in order, the others by label.
    `values` are the build's (see `facet_values`), computed now when not given."""
    values = values if values is not None else facet_values(store)
    out: dict[str, list[Option]] = {}
    labels.prefetch(v for name, found in values.items() if name != "year" for v, _ in found)
    for name, found in values.items():
        if name == "year":
            out[name] = [Option(v, v, n) for v, n in found]
        else:
            out[name] = sorted((Option(v, labels(v, v), n) for v, n in found),
                               key=lambda o: o.label.lower())
    return out


# --- the timeline's chart ----------------------------------------------------------------


@dataclass
class ChartData:
    """What the timeline chart draws: single actions when there are few, counts per lane
    and period (a month over all years, a day within one year) when there are many."""

    total: int
    lanes: list[str] = field(default_factory=list)
    #: (lane, date, IRI, label) of each action, or counts per (lane, period)
    points: list[tuple[str, str, str, str]] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (lane, period): n


#: Up to this many actions, the chart draws each one; beyond, counts per period.
CHART_POINTS_MAX = 400


def chart_data(store: Store, labels: Labels, filters: ActionFilters,
               total: int) -> ChartData:
    bindings = filters.bindings()
    data = ChartData(total)
    if total <= CHART_POINTS_MAX:
        query = (f"{PREFIXES}SELECT DISTINCT ?action ?date ?lane WHERE {{ "
                 f"{_where(bindings)} OPTIONAL {{ ?action rv:issuingPolity ?lane }} }} "
                 f"ORDER BY ?date ?action ?lane LIMIT {CHART_POINTS_MAX}")
        points: dict[str, tuple[str, str | None]] = {}  # action: (date, lane)
        for action_term, date_term, lane_term in store.query(query).rows():
            action = term_value(action_term)
            if action not in points:
                points[action] = (term_value(date_term),
                                  term_value(lane_term) if lane_term else None)
        # the states of actions with no issuing polity (a company's: its country)
        laneless = action_kinds_and_states(
            store, [a for a, (_, polity) in points.items() if polity is None], labels)
        labels.prefetch(set(points) | {polity for _, polity in points.values() if polity})
        for action, (day, polity) in points.items():
            name = labels(polity) if polity is not None else (
                laneless.get(action, (None, None))[1] or "other")
            data.points.append((name, day, action, labels(action)))
        lanes = {p[0] for p in data.points}
    else:
        # a day within a year, a month over all years
        period = f"SUBSTR(STR(?date), 1, {10 if filters.year is not None else 7})"
        query = (f"{PREFIXES}SELECT ?lane ?period (COUNT(?action) AS ?n) WHERE {{ "
                 f"{_where(bindings)} OPTIONAL {{ ?action rv:issuingPolity ?lane }} "
                 f"BIND({period} AS ?period) }} GROUP BY ?lane ?period")
        for lane, period_term, n in store.query(query).rows():
            name = labels(term_value(lane)) if lane is not None else "other"
            key = (name, term_value(period_term))
            data.counts[key] = data.counts.get(key, 0) + int(term_value(n))
        lanes = {k[0] for k in data.counts}
    data.lanes = sorted(lanes, key=lambda x: (x == "other", x.lower()))
    return data


# --- classes and their members -------------------------------------------------------------


def member_counts(store: GraphReader) -> dict[str, int]:
    """How many members each class of the ontology (in its namespace) has in the graph,
    for the classes that have any: what /browse lists, and what a build keeps with its
    figures (rivalry.graph.products), as counting them reads every rdf:type."""
    classes = [term_value(c) for (c,) in store.query(
        f"SELECT DISTINCT ?c WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?c a <{OWL_CLASS}> }} "
        f'FILTER(STRSTARTS(STR(?c), "{RV}")) }}').rows()]
    if not classes:
        return {}
    values = " ".join(str(ox.NamedNode(c)) for c in classes)
    query = (f"SELECT ?class (COUNT(DISTINCT ?e) AS ?n) WHERE {{ VALUES ?class {{ {values} }} "
             "?e a ?class } GROUP BY ?class")
    counts = {term_value(c): int(term_value(n)) for c, n in store.query(query).rows()}
    return {c: n for c, n in sorted(counts.items()) if n}


def classes_with_members(store: Store, labels: Labels,
                         counts: Mapping[str, int] | None = None) -> list[Option]:
    """Classes of the ontology with members in the graph, and how many: `counts` as the
    build kept them (rivalry.graph.products.build_member_counts), or counted now."""
    if counts is None:
        counts = member_counts(store)
    labels.prefetch(list(counts))
    rows = [Option(iri, labels(iri, iri.rsplit("#", 1)[-1]), n) for iri, n in counts.items()]
    return sorted(rows, key=lambda o: o.label.lower())


@dataclass
class MemberPage:
    members: list[tuple[str, str]]
    total: int
    page: int
    page_size: int = PAGE_SIZE
    by_label: bool = True

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


#: Classes with more members than this are listed in the store's order, not by label
#: (sorting 100,000 labels would cost every page a second).
SORTED_MAX = 10_000


def member_page(store: Store, class_iri: str, labels: Labels, page: int = 1,
                page_size: int = PAGE_SIZE) -> MemberPage:
    """One page of a class's members: by label (English first) for classes of up to
    SORTED_MAX members, in a stable order of the store beyond."""
    cls = f"VALUES ?class {{ {ox.NamedNode(class_iri)} }}"
    total = int(term_value(next(store.query(
        f"SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {{ {cls} ?e a ?class }}").rows())[0]))
    offset = (page - 1) * page_size
    if offset >= total:  # past the end: nothing to ask (nor an offset past the engine's)
        return MemberPage([], total, page, page_size, total <= SORTED_MAX)
    by_label = total <= SORTED_MAX
    if by_label:
        # the label chosen by MIN, not SAMPLE, and sorted on outside the grouping, so
        # that every engine gives the same page
        query = f"""SELECT ?e ?label WHERE {{
            {{ SELECT ?e (MIN(STR(?l)) AS ?label) WHERE {{
                {cls} ?e a ?class .
                OPTIONAL {{ ?e <{RDFS}label> ?l
                           FILTER(langMatches(lang(?l), "en") || lang(?l) = "") }}
            }} GROUP BY ?e }}
            BIND (LCASE(COALESCE(?label, STR(?e))) AS ?key)
        }} ORDER BY ?key ?e
        LIMIT {page_size} OFFSET {offset}"""
        rows = [(term_value(e), term_value(label) if label is not None else None)
                for e, label in store.query(query).rows()]
        labels.prefetch(iri for iri, label in rows if label is None)  # (dct:title...)
        found = [(iri, label if label is not None else labels(iri, iri.rsplit("/", 1)[-1]))
                 for iri, label in rows]
    else:
        query = (f"SELECT DISTINCT ?e WHERE {{ {cls} ?e a ?class }} "
                 f"LIMIT {page_size} OFFSET {offset}")
        iris = [term_value(e) for (e,) in store.query(query).rows()]
        labels.prefetch(iris)
        found = [(iri, labels(iri, iri.rsplit("/", 1)[-1])) for iri in iris]
    return MemberPage(found, total, page, page_size, by_label)


def members(store: Store, class_iri: str, labels: Labels) -> list[tuple[str, str]]:
    """Every member of a class, by label (for small graphs and tests)."""
    first = member_page(store, class_iri, labels, 1, 1)
    return member_page(store, class_iri, labels, 1, max(first.total, 1)).members


def is_class(store: Store, iri: str) -> bool:
    return next(store.quads_for_pattern(ox.NamedNode(iri), None, ox.NamedNode(OWL_CLASS),
                                        ox.NamedNode(ONTOLOGY_GRAPH)), None) is not None
