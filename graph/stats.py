"""The state of the curated graph in numbers: actions by type, issuer (state or union) and
year, sources by kind, how many actions cite their issuer's own document, the facts that
rest on a single source, how many responses rest on independent sources, Wikidata coverage,
and whether the record meets the coverage targets it is held to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rivalry.graph import term_value
from rivalry.graph.addresses import official_domain
from rivalry.graph.describe import Labels
from rivalry.graph.store import GraphReader
from rivalry.ontology import NAMESPACE

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)
PREFIX = (f"PREFIX rv: <{RV}> PREFIX prov: <http://www.w3.org/ns/prov#> "
          "PREFIX dct: <http://purl.org/dc/terms/> PREFIX schema: <https://schema.org/> "
          "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
          "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> ")
WIKIDATA = "http://www.wikidata.org/entity/"

#: Every property the figures below read, besides the labels'
#: (rivalry.graph.describe.LABEL_PROPERTIES): an incremental build counts again only the
#: nodes that a changed triple of these reaches along them (rivalry.graph.refigure). A
#: figure that reads another property must add it here (a test checks the queries).
READS = frozenset([
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", RV + "issuingPolity",
    RV + "announcedOn", RV + "mostSpecificType", RV + "sourceKind", RV + "agencyOf",
    RV + "institutionOf", RV + "issuedBy", "http://www.w3.org/ns/prov#wasDerivedFrom",
    "http://purl.org/dc/terms/publisher", "https://schema.org/url",
    "http://www.w3.org/2004/02/skos/core#exactMatch",
    "http://www.w3.org/2000/01/rdf-schema#label"])

#: What "no issuer" means in counts by issuer: statements of companies and organizations.
NO_POLITY = "(no state or union: companies and organizations)"

#: The kinds of entity that should link to Wikidata, in the order they are shown.
WIKIDATA_KINDS = (("State", "states"), ("SupranationalUnion", "unions of states"),
                  ("GovernmentAgency", "agencies and institutions"), ("Company", "companies"),
                  ("Person", "people"), ("Technology", "technologies"))

#: The most facts of each list (single-source facts, actions without their issuer's
#: document) a build keeps with its figures and /stats shows; `rivalry stats` lists all.
LISTED = 200

#: The coverage the record is held to (issue 11); `Stats.targets` checks each.
MIN_ACTIONS = 250
MIN_RECENT_ACTIONS = 60  # dated 2025 or later
RECENT_FROM = 2025
MIN_POLITIES = 12
FIRST_YEAR = 2018
MIN_PER_YEAR = 15
MIN_TWO_SOURCE_RESPONSE_SHARE = 0.5


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    goal: str
    met: bool


@dataclass
class Stats:
    actions: int = 0
    sources: int = 0
    by_type: list[tuple[str, int]] = field(default_factory=list)
    by_issuer: list[tuple[str, int]] = field(default_factory=list)
    by_year: list[tuple[str, int]] = field(default_factory=list)
    by_issuer_and_year: list[tuple[str, str, int]] = field(default_factory=list)
    sources_by_kind: list[tuple[str, int]] = field(default_factory=list)
    #: actions citing a document of their issuer, of all actions
    own_document: int = 0
    own_document_of: int = 0
    #: (node, label, why) for the actions without their issuer's document: all of them
    #: as computed; the first LISTED as a build keeps them (see `complete`)
    without_own_document: list[tuple[str, str, str]] = field(default_factory=list)
    without_own_document_count: int = 0
    #: (node, label, type) for the facts resting on a single source, likewise
    single_source: list[tuple[str, str, str]] = field(default_factory=list)
    single_source_count: int = 0
    #: (type, count) of those facts, most first
    single_source_by_type: list[tuple[str, int]] = field(default_factory=list)
    responses: int = 0
    responses_two_sources: int = 0
    wikidata: list[tuple[str, int, int]] = field(default_factory=list)  # kind, linked, total

    # --- derived figures -----------------------------------------------------------------
    @property
    def polities(self) -> int:
        return sum(1 for issuer, _ in self.by_issuer if issuer != NO_POLITY)

    @property
    def recent_actions(self) -> int:
        return sum(n for y, n in self.by_year if y.isdigit() and int(y) >= RECENT_FROM)

    @property
    def complete(self) -> bool:
        """Whether the two lists hold every fact they count (a build keeps the first
        LISTED of each: they grow with the graph, and pages show no more)."""
        return (len(self.single_source) == self.single_source_count
                and len(self.without_own_document) == self.without_own_document_count)

    @staticmethod
    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    def targets(self, through_year: int | None = None) -> list[Target]:
        """Each coverage target and whether it is met. Years are checked from 2018 through
        `through_year` (by default the latest year the record reaches)."""
        years = dict(self.by_year)
        last = through_year or max((int(y) for y in years if y.isdigit()), default=FIRST_YEAR)
        thin = [f"{y} ({years.get(str(y), 0)})" for y in range(FIRST_YEAR, last + 1)
                if years.get(str(y), 0) < MIN_PER_YEAR]
        share = self.share(self.responses_two_sources, self.responses)
        return [
            Target("actions", str(self.actions), f"at least {MIN_ACTIONS}",
                   self.actions >= MIN_ACTIONS),
            Target(f"actions dated {RECENT_FROM} or later", str(self.recent_actions),
                   f"at least {MIN_RECENT_ACTIONS}", self.recent_actions >= MIN_RECENT_ACTIONS),
            Target("issuing states or unions", str(self.polities), f"at least {MIN_POLITIES}",
                   self.polities >= MIN_POLITIES),
            Target(f"years {FIRST_YEAR}–{last} with fewer than {MIN_PER_YEAR} actions",
                   ", ".join(thin) or "none", "none", not thin),
            Target("responses resting on two or more independent sources", f"{share:.0%}",
                   f"at least {MIN_TWO_SOURCE_RESPONSE_SHARE:.0%}",
                   share >= MIN_TWO_SOURCE_RESPONSE_SHARE),
        ]

    # --- kept with a build -----------------------------------------------------------------
    def to_record(self, *, whole: bool = False) -> dict[str, Any]:
        """The figures as JSON values, for a build to keep (rivalry.graph.products): the
        fields themselves (numbers, and lists of tuples of strings and numbers, which JSON
        writes as arrays), with the two lists of facts cut to their first LISTED: whole,
        they grow with the graph, and every reader of the figures (/stats, VoID) parses
        them; their counts stay whole. `whole` keeps the lists whole, as the next build
        needs them to update the figures (rivalry.graph.refigure)."""
        record = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if not whole:
            for name in ("without_own_document", "single_source"):
                record[name] = record[name][:LISTED]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Stats:
        fields: dict[str, Any] = {
            name: [tuple(x) for x in value] if isinstance(value, list) else value
            for name, value in record.items() if name in cls.__dataclass_fields__}
        found = cls(**fields)
        if "single_source_count" not in record:  # kept by a build before the counts were
            found.without_own_document_count = len(found.without_own_document)
            found.single_source_count = len(found.single_source)
            found.single_source_by_type = _by_type(found.single_source)
        return found

    # --- output ---------------------------------------------------------------------------
    def to_dict(self, through_year: int | None = None) -> dict:
        return {
            "actions": self.actions, "sources": self.sources,
            "by_type": dict(self.by_type), "by_issuer": dict(self.by_issuer),
            "by_year": dict(self.by_year),
            "by_issuer_and_year": [{"issuer": s, "year": y, "actions": n}
                                   for s, y, n in self.by_issuer_and_year],
            "sources_by_kind": dict(self.sources_by_kind),
            "issuer_document": {
                "actions_with": self.own_document, "actions": self.own_document_of,
                "share": round(self.share(self.own_document, self.own_document_of), 4),
                "without_count": self.without_own_document_count,
                "without": [{"node": n, "label": label, "why": why}
                            for n, label, why in self.without_own_document]},
            "single_source_count": self.single_source_count,
            "single_source_by_type": dict(self.single_source_by_type),
            "single_source": [{"node": n, "label": label, "type": t}
                              for n, label, t in self.single_source],
            "responses": {"total": self.responses,
                          "on_two_or_more_independent_sources": self.responses_two_sources,
                          "share": round(self.share(self.responses_two_sources,
                                                    self.responses), 4)},
            "wikidata": [{"kind": k, "linked": n, "total": t} for k, n, t in self.wikidata],
            "targets": [{"target": t.name, "value": t.value, "goal": t.goal, "met": t.met}
                        for t in self.targets(through_year)],
        }

    def to_text(self, through_year: int | None = None) -> str:
        pct = self.share
        lines = [f"{self.actions} actions from {self.sources} source documents", "",
                 "Targets:"]
        lines += [f"  {'met ' if t.met else 'MISSED'}  {t.name}: {t.value} (goal: {t.goal})"
                  for t in self.targets(through_year)]
        lines += ["", "By type:"] + [f"  {n:5d}  {t}" for t, n in self.by_type]
        lines += ["", "By issuer (state or union):"]
        lines += [f"  {n:5d}  {s}" for s, n in self.by_issuer]
        lines += ["", "By year:"] + [f"  {n:5d}  {y}" for y, n in self.by_year]
        lines += ["", "Sources by kind:"] + [f"  {n:5d}  {k}" for k, n in self.sources_by_kind]
        lines += ["", f"Actions citing their issuer's own document: {self.own_document} of "
                  f"{self.own_document_of} actions "
                  f"({pct(self.own_document, self.own_document_of):.0%})"]
        lines += ["", f"Responses on two or more independent sources: "
                  f"{self.responses_two_sources} of {self.responses} "
                  f"({pct(self.responses_two_sources, self.responses):.0%})"]
        lines += ["", "Wikidata links:"]
        lines += [f"  {n:5d} of {t:5d}  {k}" for k, n, t in self.wikidata]
        lines += ["", f"Resting on a single source ({self.single_source_count}):"]
        lines += [f"  {n:5d}  {t}" for t, n in self.single_source_by_type]
        lines += [f"  {label} ({t}) <{n}>" for n, label, t in self.single_source]
        if len(self.single_source) < self.single_source_count:
            lines.append(f"  … the first {len(self.single_source)} of "
                         f"{self.single_source_count}")
        return "\n".join(lines)


def _by_type(facts: list[tuple[str, str, str]]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for _, _, t in facts:
        counts[t] = counts.get(t, 0) + 1
    return sorted(counts.items(), key=lambda x: (-x[1], x[0]))


def _count(store: GraphReader, query: str) -> int:
    return int(term_value(next(store.query(PREFIX + query).rows())[0]))


def _pairs(store: GraphReader, query: str, labels: Labels | None,
           none: str = "(none)") -> list[tuple[str, int]]:
    """Counts by the name of what they are grouped by: two nodes of the same label are one
    row (pages show them by name: two rows of one name would read as one twice)."""
    out: dict[str, int] = {}
    for key, n in store.query(PREFIX + query).rows():
        name = none if key is None else (labels(term_value(key)) if labels and
                                         key.__class__.__name__ == "NamedNode"
                                         else term_value(key))
        out[name] = out.get(name, 0) + int(term_value(n))
    return sorted(out.items(), key=lambda x: (-x[1], x[0]))


def _issuer_documents(store: GraphReader, result: Stats) -> None:
    """Which actions cite a document of their issuer: a primary-official source, on an
    official domain, published by an agency or institution of the action's own state or
    union, or by the issuing company or organization itself. A few simple queries joined
    here, which stays fast on large graphs."""
    def rows(query: str) -> list[list]:
        return [[term_value(t) if t is not None else None for t in r]
                for r in store.query(PREFIX + query).rows()]

    polity = dict(rows("""SELECT ?a ?p WHERE {
        ?a a rv:Action OPTIONAL { ?a rv:issuingPolity ?p } }"""))
    label = dict(rows("""SELECT ?a (SAMPLE(?l) AS ?label) WHERE { ?a a rv:Action ; rdfs:label ?l
                         FILTER(LANGMATCHES(LANG(?l), "en")) } GROUP BY ?a"""))
    # primary-official documents, with the state or union their publisher belongs to
    owners: dict[str, set[str]] = {}
    official: set[str] = set()
    for doc, url, owner in rows("""SELECT ?doc ?url ?owner WHERE {
            ?doc rv:sourceKind rv:PrimaryOfficial ; schema:url ?url ; dct:publisher ?pub .
            OPTIONAL { { ?pub rv:agencyOf ?owner } UNION { ?pub rv:institutionOf ?owner } } }"""):
        if official_domain(url) is not None:
            official.add(doc)
            if owner:
                owners.setdefault(doc, set()).add(owner)
    cites_primary: set[str] = set()
    own: set[str] = set()
    for action, doc, itself in rows("""SELECT ?a ?doc ?self WHERE {
            ?a prov:wasDerivedFrom ?doc . ?doc rv:sourceKind rv:PrimaryOfficial .
            OPTIONAL { ?doc dct:publisher ?pub . ?a rv:issuedBy ?pub BIND(true AS ?self) } }"""):
        cites_primary.add(action)
        if doc in official and (itself or polity.get(action) in owners.get(doc, ())):
            own.add(action)
    mirrored = {a for a, in rows("""SELECT DISTINCT ?a WHERE {
            ?a prov:wasDerivedFrom/rv:sourceKind rv:Mirror }""")}
    result.own_document_of = len(polity)
    result.own_document = len(own & polity.keys())
    for action in polity.keys() - own:
        if action in cites_primary:
            why = "its official source is another body's document (not the issuer's own)"
        elif action in mirrored:
            why = "the issuer's document was read only in a copy (mirror)"
        else:
            why = "no document of the issuer was found in the stored sources"
        result.without_own_document.append((action, label.get(action) or action, why))
    result.without_own_document.sort(key=lambda x: (x[1], x[0]))  # by label, then node
    result.without_own_document_count = len(result.without_own_document)


def stats(store: GraphReader, labels: Labels | None = None) -> Stats:
    labels = labels or Labels(store)
    result = Stats()
    result.actions = _count(store, "SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { ?a a rv:Action }")
    result.sources = _count(store, "SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE "
                                   "{ ?d a rv:SourceDocument }")
    # most specific classes only: a sanction counts as a sanction, not also a measure
    # (rv:mostSpecificType, derived by the build: rivalry.graph.derive)
    result.by_type = _pairs(store, """SELECT ?c (COUNT(DISTINCT ?a) AS ?n) WHERE {
            ?a a rv:Action ; rv:mostSpecificType ?c } GROUP BY ?c""", labels)
    result.by_issuer = _pairs(store, """SELECT ?s (COUNT(DISTINCT ?a) AS ?n) WHERE {
        ?a a rv:Action . OPTIONAL { ?a rv:issuingPolity ?s } } GROUP BY ?s""", labels,
                              none=NO_POLITY)
    result.by_year = sorted(_pairs(store, """SELECT ?y (COUNT(DISTINCT ?a) AS ?n) WHERE {
        ?a a rv:Action ; rv:announcedOn ?d BIND(STR(YEAR(?d)) AS ?y) } GROUP BY ?y""", None))
    by_issuer_and_year: dict[tuple[str, str], int] = {}
    for s, y, n in store.query(PREFIX + """SELECT ?s ?y (COUNT(DISTINCT ?a) AS ?n) WHERE {
            ?a a rv:Action ; rv:announcedOn ?d ; rv:issuingPolity ?s BIND(STR(YEAR(?d)) AS ?y)
        } GROUP BY ?s ?y""").rows():
        key = (labels(term_value(s)), term_value(y))
        by_issuer_and_year[key] = by_issuer_and_year.get(key, 0) + int(term_value(n))
    # by year, then by the issuer's name
    result.by_issuer_and_year = [(s, y, n) for (s, y), n in sorted(
        by_issuer_and_year.items(), key=lambda x: (x[0][1], x[0][0]))]
    result.sources_by_kind = _pairs(store, """SELECT ?k (COUNT(DISTINCT ?d) AS ?n) WHERE {
        ?d a rv:SourceDocument OPTIONAL { ?d rv:sourceKind ?k } } GROUP BY ?k""", labels,
                                    none="(kind not given)")
    _issuer_documents(store, result)
    # the nodes with one source first, then their types: grouping the nodes' types with
    # their sources would multiply the rows to group
    for node, t in store.query(PREFIX + """SELECT ?x (MIN(STR(?c)) AS ?t) WHERE {
            { SELECT ?x WHERE { ?x prov:wasDerivedFrom ?doc } GROUP BY ?x
              HAVING (COUNT(DISTINCT ?doc) = 1) }
            ?x rv:mostSpecificType ?c .
        } GROUP BY ?x""").rows():
        iri = term_value(node)
        result.single_source.append((iri, labels(iri), labels(term_value(t))))
    result.single_source.sort()  # by node (an IRI, or a blank node's label)
    result.single_source_count = len(result.single_source)
    result.single_source_by_type = _by_type(result.single_source)
    result.responses = _count(store, "SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE "
                                     "{ ?r a rv:Response }")
    # independent: two sources from different publishers
    result.responses_two_sources = _count(store, """SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE {
        ?r a rv:Response ; prov:wasDerivedFrom ?d1 , ?d2 .
        ?d1 dct:publisher ?p1 . ?d2 dct:publisher ?p2 . FILTER(?p1 != ?p2) }""")
    for cls, name in WIKIDATA_KINDS:
        total = _count(store, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a rv:{cls} }}")
        linked = _count(store, f"""SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{
            ?x a rv:{cls} ; skos:exactMatch ?w FILTER(STRSTARTS(STR(?w), "{WIKIDATA}")) }}""")
        result.wikidata.append((name, linked, total))
    return result
