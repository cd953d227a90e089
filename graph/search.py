"""The search index: every entity's labels and alternative labels in every language the
graph holds, with what search, reconciliation and screening need to answer without a
SPARQL query (types, country, issuers, targets, parents, measures' periods in force and
sources).

It is an SQLite database, `search.sqlite`, written with each build (never at query
time): for the embedded store inside the build's directory, published with it by the
same atomic rename; for an external SPARQL server in `<cache_dir>/<build-id>/`, written
to a temporary file and renamed into place before the build's metadata graph is loaded.

Matching, in four tiers, best first:

1. exact: the query's normalised key (rivalry.graph.names) equals a name's key, or its
   compact key (transliterated, spaces dropped) equals the name's;
2. prefix: a name's key or compact key starts with the query's (SQLite B-tree ranges);
3. words: every word of the query starts a word of the name, in any order (SQLite
   FTS5 with prefix indexes, over the key and its ASCII transliteration);
4. fuzzy: names within an edit-distance ratio of the query's compact key (rapidfuzz, over
   the compact keys of the names allowed by the filters, held in memory once per
   process and build).

Each candidate also gets a similarity score from 0 to 100 (100: the same normalised
name; 95: the same name across scripts, 华为 / Huawei; otherwise the best rapidfuzz
ratio of the keys), which reconciliation and screening rank by.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import functools
import hashlib
import io
import os
import shutil
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rapidfuzz import fuzz, process

from rivalry.graph import ID_BASE, ONTOLOGY_GRAPH
from rivalry.graph.errors import StoreError
from rivalry.graph.inforce import MeasureDates, iso_day, periods
from rivalry.graph.names import NameKeys, ascii_words, name_keys
from rivalry.graph.terms import expanded_name
from rivalry.ontology import NAMESPACE

INDEX_FILE = "search.sqlite"
#: Bumped when the schema changes; an index of another version is refused like a
#: missing one (rebuild).
FORMAT_VERSION = "2"

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
ORG_SUB = "http://www.w3.org/ns/org#subOrganizationOf"
PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"
SCHEMA = "https://schema.org/"
WIKIDATA = "http://www.wikidata.org/entity/"

#: The classes whose members are searched (with every subclass): actors (states, unions,
#: agencies, organizations, companies, people), actions, technologies, programs and
#: legal instruments.
SEARCHABLE = tuple(RV + c for c in ("Actor", "Action", "Technology", "Program",
                                    "LegalInstrument"))
PREFERRED_LABELS = (RDFS + "label", SKOS + "prefLabel")
ALT_LABELS = (SKOS + "altLabel",)
#: Identifiers people type in place of a name: searched as names, and matched exactly by
#: reconciliation and screening.
IDENTIFIERS = (SCHEMA + "legislationIdentifier", DCT + "identifier", SKOS + "notation")

EXACT, PREFIX, WORDS, FUZZY = 0, 1, 2, 3
TIER_NAMES = ("exact", "prefix", "words", "fuzzy")
#: Fuzzy candidates need this rapidfuzz ratio (0-100) between compact keys.
FUZZY_CUTOFF = 75.0
#: Most candidates each tier reads before scoring: bounds the work of unspecific queries.
TIER_LIMIT = 300


class SearchIndexMissing(StoreError):
    """The build being served has no search index (or one of another format)."""

    title = "Search index missing"


Progress = Callable[[str], None]


# ---------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------

#: The tables, then their secondary indexes: a full build creates the indexes once the
#: rows are in, which sorts each once, where inserting into indexed tables put every
#: row into each index in turn (in random order for names' keys: pages read and
#: written again and again once an index outgrows SQLite's page cache).
TABLES_SQL = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entity(
  id INTEGER PRIMARY KEY, iri TEXT NOT NULL UNIQUE, label TEXT NOT NULL,
  kind TEXT NOT NULL, country INTEGER, polity INTEGER, date TEXT, wikidata TEXT,
  comment TEXT, status TEXT, actor INTEGER NOT NULL, measure INTEGER NOT NULL);
CREATE TABLE entity_type(class TEXT NOT NULL, entity INTEGER NOT NULL,
  PRIMARY KEY(class, entity)) WITHOUT ROWID;
CREATE TABLE issuer(issuer INTEGER NOT NULL, entity INTEGER NOT NULL,
  PRIMARY KEY(issuer, entity)) WITHOUT ROWID;
CREATE TABLE name(id INTEGER PRIMARY KEY, entity INTEGER NOT NULL, text TEXT NOT NULL,
  lang TEXT NOT NULL, preferred INTEGER NOT NULL, key TEXT NOT NULL, compact TEXT NOT NULL,
  latin INTEGER NOT NULL);
CREATE VIRTUAL TABLE name_words USING fts5(key, ascii, content='',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3 4');
CREATE TABLE vocab(term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE identifier(value TEXT NOT NULL, entity INTEGER NOT NULL,
  PRIMARY KEY(value, entity)) WITHOUT ROWID;
CREATE TABLE parent(child INTEGER NOT NULL, ancestor INTEGER NOT NULL, depth INTEGER NOT NULL,
  PRIMARY KEY(child, ancestor)) WITHOUT ROWID;
CREATE TABLE target(entity INTEGER NOT NULL, measure INTEGER NOT NULL,
  PRIMARY KEY(entity, measure)) WITHOUT ROWID;
CREATE TABLE in_force(measure INTEGER NOT NULL, start TEXT NOT NULL, end TEXT);
CREATE TABLE source(measure INTEGER NOT NULL, iri TEXT NOT NULL, title TEXT, publisher TEXT,
  issued TEXT, url TEXT);
CREATE TABLE class(iri TEXT PRIMARY KEY, local TEXT NOT NULL, label TEXT NOT NULL,
  comment TEXT, members INTEGER NOT NULL, broader TEXT NOT NULL);
"""
INDEXES_SQL = """
CREATE INDEX entity_country ON entity(country);
CREATE INDEX entity_wikidata ON entity(wikidata);
CREATE INDEX name_key ON name(key);
CREATE INDEX name_compact ON name(compact);
CREATE INDEX name_entity ON name(entity);
CREATE INDEX in_force_measure ON in_force(measure);
CREATE INDEX source_measure ON source(measure);
"""


def identifier_key(value: str) -> str:
    """Identifiers compare case-insensitively, on letters and digits only
    ("FR Doc. 2021-01228" = "fr doc 2021 01228")."""
    return "".join(c for c in value.casefold() if c.isalnum())


class _Graph:
    """The answers the index needs, asked of the store in SPARQL and written by pyoxigraph
    as CSV, read back with the csv module: far cheaper than a Python object per term (at
    100k measures the index reads about two million values). Each question is a scan of
    one predicate or one class, which the store answers from its indexes; values come as
    strings (STR), since pyoxigraph writes IRIs in CSV without quoting their commas."""

    def __init__(self, store: Any, scope: list[str] | None = None) -> None:
        self.store = store
        self.scope = scope

    def within(self, var: str) -> str:
        """A VALUES clause binding `var` to the entities in scope (an update of the index
        reads only theirs), or nothing (the whole graph)."""
        if self.scope is None:
            return ""
        return f"VALUES {var} {{ {' '.join(f'<{iri}>' for iri in self.scope)} }}"

    def rows(self, query: str) -> Iterator[list[str]]:
        result = self.store.query(PREFIX_SQL + query, use_default_graph_as_union=True)
        data = (result.serialize(format=ox.QueryResultsFormat.CSV) or b"").decode("utf-8")
        reader = csv.reader(io.StringIO(data, newline=""))
        next(reader, None)  # the header
        return reader

    def pairs(self, predicate: str) -> Iterator[list[str]]:
        """(subject, value, language) for every triple of `predicate`."""
        return self.rows(f"SELECT (STR(?s) AS ?a) (STR(?v) AS ?b) (LANG(?v) AS ?l) "
                         f"WHERE {{ {self.within('?s')} ?s <{predicate}> ?v }}")

    def members(self, cls: str) -> Iterator[list[str]]:
        """The IRIs of the class's members (a blank node is no entity: STR of one would
        be unbound, an empty line of CSV)."""
        return self.rows(f"SELECT (STR(?s) AS ?a) WHERE {{ {self.within('?s')} ?s a <{cls}> "
                         "FILTER(isIRI(?s)) }")


PREFIX_SQL = f"""PREFIX rv: <{RV}> PREFIX rdfs: <{RDFS}> PREFIX skos: <{SKOS}>
PREFIX dct: <{DCT}> PREFIX schema: <{SCHEMA}> PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX org: <http://www.w3.org/ns/org#>
"""


def _english_first(labels: Iterable[tuple[str, str]]) -> str | None:
    """The English value, else one without a language, else the first (by language)."""
    by_lang: dict[str, str] = {}
    for value, lang in sorted(labels, key=lambda x: (x[1], x[0])):
        by_lang.setdefault(lang, value)
    return by_lang.get("en") or by_lang.get("") or next(iter(by_lang.values()), None)


def _closure(parents: dict[str, set[str]]) -> dict[str, dict[str, int]]:
    """Every ancestor of each node with its distance, cycles tolerated."""
    out: dict[str, dict[str, int]] = {}
    for node in parents:
        seen: dict[str, int] = {}
        frontier, depth = [node], 0
        while frontier:
            depth += 1
            following = []
            for n in frontier:
                for p in parents.get(n, ()):
                    if p != node and p not in seen:
                        seen[p] = depth
                        following.append(p)
            frontier = following
        out[node] = seen
    return out


@dataclass
class IndexStats:
    entities: int
    names: int
    measures: int
    seconds: float
    path: Path


def build_search_index(store: Any, directory: str | os.PathLike[str],
                       progress: Progress | None = None) -> IndexStats:
    """Write the search index of the graph in `store` (an in-memory pyoxigraph store
    holding the build) to `directory`/search.sqlite, atomically: the file appears whole
    or not at all."""
    started = time.perf_counter()
    with _index_file(Path(directory)) as (db, final):
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + TABLES_SQL)
        counts = _fill(db, _Graph(store))
        db.executescript(INDEXES_SQL)
        db.execute("INSERT INTO meta VALUES ('format', ?), ('built', ?), ('code', ?)",
                   (FORMAT_VERSION, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    index_code_digest()))
        db.execute("INSERT INTO name_words(name_words) VALUES ('optimize')")
        _count_words(db)
        db.commit()
        db.execute("ANALYZE")
        db.commit()
    stats = IndexStats(entities=counts[0], names=counts[1], measures=counts[2],
                       seconds=time.perf_counter() - started, path=final)
    if progress:
        progress(f"search index: {stats.names} names of {stats.entities} entities, "
                 f"{stats.measures} measures, in {stats.seconds:.1f} s")
    return stats


@contextlib.contextmanager
def _index_file(directory: Path, source: Path | None = None
                ) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """A connection to a new index file in `directory`, empty or a copy of `source`, and
    the path it takes: it is renamed into place when the block ends, removed if it fails,
    so the index appears whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / INDEX_FILE
    partial = directory / f".{INDEX_FILE}.{os.getpid()}.partial"
    partial.unlink(missing_ok=True)
    try:
        if source is not None:
            shutil.copyfile(source, partial)
        db = sqlite3.connect(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    try:
        yield db, final
    except BaseException:
        db.close()
        partial.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(partial, final)


class _WriteWhole(Exception):
    """An update of the index cannot stand for the change: the index is written whole,
    for the reason given."""


@dataclass
class _Known:
    """What an update of an index keeps of the previous one: the id of every searchable
    entity (the set is unchanged, or the index is written whole) and the ancestors of
    each (org:subOrganizationOf is unchanged, likewise)."""
    ids: dict[str, int]
    above: dict[str, dict[str, int]]


#: A name's id is its entity's id shifted by this many bits, plus its rank among the
#: entity's names: the same order as numbering every name in turn, and the same id in a
#: full build and in an update that computes the entity's names again.
NAME_BITS = 20
#: Entity ids follow the IRIs' order (ties in search are broken by id), spaced this many
#: bits apart by a full build: an update gives an entity that becomes searchable an id
#: between its neighbours' and leaves every other id alone (`_new_ids`).
ID_GAP_BITS = 16


def _count_words(db: sqlite3.Connection) -> None:
    """How many names hold each word, for the words tier to pick the rarest ones."""
    db.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, 'name_words', 'row')")
    db.execute("DELETE FROM vocab")
    db.execute("INSERT INTO vocab SELECT term, doc FROM temp.words")
    db.execute("DROP TABLE temp.words")


@functools.cache
def index_code_digest() -> str:
    """The digest of the code that decides what the index holds: an index written by
    other code is never updated, but written whole."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("search.py", "names.py", "inforce.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


#: Past this share of the searchable entities touched, an update is no quicker than
#: writing the index whole (its queries name each entity).
UPDATE_MAX_SHARE = 0.05
HAS_STATUS_CHANGE = ox.NamedNode(RV + "hasStatusChange")
WAS_DERIVED_FROM = ox.NamedNode(PROV_DERIVED)
PUBLISHER = ox.NamedNode(DCT + "publisher")


def update_search_index(store: Any, previous: Path, directory: str | os.PathLike[str],
                        changed: Iterable[ox.Triple]) -> tuple[IndexStats, str | None]:
    """The search index of the graph in `store`, written to `directory` from the
    previous build's (`previous`, its search.sqlite) and the triples whose presence
    changed since (asserted or inferred): the rows of the entities the change touches are
    computed again, the others kept, with those of the entities that name one becoming
    searchable. An entity that becomes searchable gets an id between its neighbours'
    (`_new_ids`), so the result is the index `build_search_index` writes but for the
    numbers of those ids, which keep the IRIs' order (a test compares every row, with
    each id read as its entity's IRI). When an update cannot stand for the change
    (another index format or code, a change to org:subOrganizationOf or an entity in
    that hierarchy made searchable, an entity that stops being searchable, no room
    between two ids, a class that gains its first member or loses its last, too many
    entities touched), the index is written whole: the reason is returned."""
    started = time.perf_counter()
    changed = set(changed)
    directory = Path(directory)
    reason = _why_not_update(previous, changed)
    if reason is not None:
        return build_search_index(store, directory), reason
    try:
        with _index_file(directory, previous) as (db, final):
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            ids = dict(db.execute("SELECT iri, id FROM entity"))
            found = _touched(store, changed)
            touched = sorted(found | _referrers(store, found, ids))
            if len(touched) > max(1000, UPDATE_MAX_SHARE * len(ids)):
                raise _WriteWhole(f"the change touches {len(touched):,} entities")
            iri_of = {i: iri for iri, i in ids.items()}
            above: dict[str, dict[str, int]] = defaultdict(dict)
            for child, ancestor, depth in db.execute(
                    "SELECT child, ancestor, depth FROM parent"):
                above[iri_of[child]][iri_of[ancestor]] = depth
            counts = _fill(db, _Graph(store, touched), _Known(ids, dict(above)))
            _count_words(db)
            db.execute("UPDATE meta SET value = ? WHERE key = 'built'",
                       (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),))
            db.commit()
    except _WriteWhole as e:
        return build_search_index(store, directory), str(e)
    return IndexStats(entities=counts[0], names=counts[1], measures=counts[2],
                      seconds=time.perf_counter() - started, path=final), None


def _why_not_update(previous: Path, changed: set[ox.Triple]) -> str | None:
    if any(t.predicate.value == ORG_SUB for t in changed):
        return "the change touches org:subOrganizationOf, which every issuer depends on"
    try:
        with sqlite3.connect(f"file:{previous}?mode=ro", uri=True) as db:
            meta = dict(db.execute("SELECT key, value FROM meta"))
    except sqlite3.Error:
        return "the previous build has no search index that can be read"
    if meta.get("format") != FORMAT_VERSION or meta.get("code") != index_code_digest():
        return "the previous build's index was written by other code"
    return None


def _touched(store: Any, changed: set[ox.Triple]) -> set[str]:
    """The entities whose rows in the index a change can alter: the subjects of the
    changed triples, the measures whose status changes or sources are among them, and
    the measures whose sources' publishers are."""
    touched: set[str] = set()
    for node in {t.subject for t in changed}:
        if isinstance(node, ox.NamedNode):
            touched.add(node.value)
        for link in (HAS_STATUS_CHANGE, WAS_DERIVED_FROM):
            touched.update(q.subject.value for q in store.quads_for_pattern(None, link, node)
                           if isinstance(q.subject, ox.NamedNode))
        for q in store.quads_for_pattern(None, PUBLISHER, node):
            touched.update(d.subject.value
                           for d in store.quads_for_pattern(None, WAS_DERIVED_FROM, q.subject)
                           if isinstance(d.subject, ox.NamedNode))
    return {iri for iri in touched if iri.startswith(ID_BASE)}


def _new_ids(ids: dict[str, int], new: list[str]) -> dict[str, int]:
    """Ids for the entities in `new` (IRIs not in `ids`) that keep the ids in the IRIs'
    order: each run of new IRIs between two known ones is spread evenly over the gap
    between their ids; after the last known one, a full build's spacing apart."""
    if not new:
        return {}
    known = sorted(ids)
    runs: dict[int, list[str]] = defaultdict(list)  # by the position of the next known IRI
    for iri in sorted(new):
        runs[bisect.bisect(known, iri)].append(iri)
    found: dict[str, int] = {}
    for at, run in runs.items():
        low = ids[known[at - 1]] if at else 0
        if at == len(known):
            found.update((iri, low + (i << ID_GAP_BITS)) for i, iri in enumerate(run, 1))
            continue
        high = ids[known[at]]
        if high - low <= len(run):
            raise _WriteWhole(f"no room for a new id between {known[at - 1] if at else ''}"
                              f" and {known[at]}")
        found.update((iri, low + (high - low) * i // (len(run) + 1))
                     for i, iri in enumerate(run, 1))
    return found


def _referrers(store: Any, entities: Iterable[str], ids: dict[str, int]) -> set[str]:
    """The indexed entities whose rows name one of `entities` that were not indexed (a
    country, an issuer, a target: the entity becomes searchable, those rows gain its
    id), raising _WriteWhole when one is in the org:subOrganizationOf hierarchy (every
    issuer's ancestors would change)."""
    found: set[str] = set()
    org_sub = ox.NamedNode(ORG_SUB)
    for iri in entities:
        if iri in ids:
            continue
        node = ox.NamedNode(iri)
        if next(iter(store.quads_for_pattern(node, org_sub, None)), None) is not None or \
                next(iter(store.quads_for_pattern(None, org_sub, node)), None) is not None:
            raise _WriteWhole(f"<{iri}>, which the change can make searchable, is in the "
                              "org:subOrganizationOf hierarchy")
        found.update(q.subject.value for q in store.quads_for_pattern(None, None, node)
                     if isinstance(q.subject, ox.NamedNode) and q.subject.value in ids)
    return found


def _forget(db: sqlite3.Connection, entities: list[int]) -> None:
    """Remove the rows of these entities (to be written again)."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS gone(id INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM temp.gone")
    db.executemany("INSERT INTO temp.gone VALUES (?)", [(i,) for i in entities])
    for number, text in db.execute("SELECT id, text FROM name WHERE entity IN "
                                   "(SELECT id FROM temp.gone)").fetchall():
        keys = name_keys(text)  # what was written for it (the code is the same)
        if keys is not None:
            db.execute("INSERT INTO name_words(name_words, rowid, key, ascii) "
                       "VALUES ('delete', ?, ?, ?)", (number, keys.key, ascii_words(keys)))
    for table, column in (("entity", "id"), ("entity_type", "entity"), ("name", "entity"),
                          ("identifier", "entity"), ("issuer", "entity"),
                          ("target", "measure"), ("in_force", "measure"),
                          ("source", "measure")):
        db.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM temp.gone)")


def _recount(db: sqlite3.Connection) -> None:
    """The members of each class, after an update."""
    members = dict(db.execute("SELECT class, COUNT(*) FROM entity_type GROUP BY class"))
    if set(members) != {c for (c,) in db.execute("SELECT iri FROM class")}:
        raise _WriteWhole("a class gains its first member or loses its last")
    db.executemany("UPDATE class SET members = ? WHERE iri = ?",
                   [(n, c) for c, n in members.items()])


def _fill(db: sqlite3.Connection, g: _Graph, known: _Known | None = None
          ) -> tuple[int, int, int]:
    """The rows of the index: of every searchable entity, or, for an update (`known`),
    of the entities in `g`'s scope, whose previous rows are removed first."""
    # the ontology: class labels, comments and direct superclasses
    class_labels: dict[str, list[tuple[str, str]]] = defaultdict(list)
    class_comment: dict[str, str] = {}
    broader: dict[str, set[str]] = defaultdict(set)
    for c, p, v, lang in g.rows(f"""SELECT (STR(?c) AS ?a) (STR(?p) AS ?b) (STR(?v) AS ?d)
            (LANG(?v) AS ?l) WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{
              VALUES ?p {{ rdfs:label rdfs:comment rdfs:subClassOf }}
              ?c ?p ?v FILTER(STRSTARTS(STR(?c), "{RV}")) }} }}"""):
        if p == RDFS + "label":
            class_labels[c].append((v, lang))
        elif p == RDFS + "comment" and lang in ("en", ""):
            class_comment[c] = v
        elif p == RDFS + "subClassOf" and v.startswith(RV) and v != c:
            broader[c].add(v)
    ancestors_of_class = _closure(broader)

    # the searchable entities and their classes: the members of every class at or below
    # the searchable ones (the build has materialised the class hierarchy)
    searchable_classes = sorted(c for c in set(broader) | set(SEARCHABLE)
                                if c in SEARCHABLE or set(ancestors_of_class.get(c, {}))
                                & set(SEARCHABLE))
    types: dict[str, set[str]] = defaultdict(set)
    for cls in searchable_classes:
        for (s,) in g.members(cls):
            if s.startswith(ID_BASE):
                types[s].add(cls)
    searchable = sorted(types)
    if known is None:
        ids = {iri: i << ID_GAP_BITS for i, iri in enumerate(searchable, start=1)}
    else:
        ids = known.ids
        if {iri for iri in g.scope or () if iri in ids} - set(searchable):
            raise _WriteWhole("the change makes an entity no longer searchable")
        _forget(db, [ids[iri] for iri in searchable if iri in ids])
        ids.update(_new_ids(ids, [iri for iri in searchable if iri not in ids]))

    def most_specific(ts: set[str]) -> str:
        implied = {a for t in ts for a in ancestors_of_class.get(t, {})}
        chosen = sorted(ts - implied) or sorted(ts)
        return chosen[0]

    def label_of_class(iri: str) -> str:
        return _english_first(class_labels.get(iri, [])) or iri.rsplit("#", 1)[-1]

    # names: labels, alternative labels, titles (of what has no label) and identifiers
    found_names: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(
        lambda: defaultdict(list))
    for prop in (*PREFERRED_LABELS, *ALT_LABELS, *IDENTIFIERS):
        for s, v, lang in g.pairs(prop):
            if s in ids:
                found_names[s][prop].append((v, lang))
    for s, v, lang in g.rows(f"""SELECT (STR(?s) AS ?a) (STR(?v) AS ?b) (LANG(?v) AS ?l)
            WHERE {{ {g.within('?s')} ?s a rv:LegalInstrument ; dct:title ?v }}"""):
        if s in ids:
            found_names[s][DCT + "title"].append((v, lang))
    name_rows = []
    labels: dict[str, str] = {}
    identifier_values: dict[str, list[str]] = {}
    for iri in searchable:
        by_property = found_names.get(iri, {})
        preferred = [x for p in PREFERRED_LABELS for x in by_property.get(p, [])]
        if not preferred:
            preferred = by_property.get(DCT + "title", [])
        alternative = [x for p in ALT_LABELS for x in by_property.get(p, [])]
        identifiers = [x for p in IDENTIFIERS for x in by_property.get(p, [])]
        identifier_values[iri] = [v for v, _ in identifiers]
        labels[iri] = _english_first(preferred) or iri.rsplit("/", 1)[-1]
        seen: set[tuple[str, str]] = set()
        rank = 0
        for found, is_pref in ((preferred, 1), (alternative, 0), (identifiers, 0)):
            for value, lang in sorted(found, key=lambda x: (x[1], x[0])):
                if (value, lang) in seen:
                    continue
                seen.add((value, lang))
                keys = name_keys(value)
                if keys is not None:
                    rank += 1
                    name_rows.append(((ids[iri] << NAME_BITS) + rank, ids[iri], value, lang,
                                      is_pref, keys))
    del found_names

    # what the index keeps of each entity, and the links between them: by entity id, and
    # each value but texts once however many entities have it (a country, a date, a
    # status), not a copy per entity
    shared: dict[str, str] = {}
    share = shared.setdefault
    values: dict[str, dict[int, list[str]]] = {}
    for prop in (RV + "country", RV + "agencyOf", RV + "issuingPolity", RV + "issuedBy",
                 RV + "announcedOn", RV + "effectiveOn", RV + "endedOn", RV + "status",
                 SKOS + "exactMatch", RDFS + "comment", RV + "summary", RV + "targets",
                 ORG_SUB):
        by_subject: dict[int, list[str]] = defaultdict(list)
        text = prop in (RDFS + "comment", RV + "summary")
        for s, v, lang in g.pairs(prop):
            number = ids.get(s)
            if number is not None:
                if not text:
                    by_subject[number].append(share(v, v))
                elif lang in ("", "en"):
                    by_subject[number].append(v)
        values[prop] = by_subject

    def first(iri: str, prop: str) -> str | None:
        found = values[prop].get(ids[iri])
        return min(found) if found else None

    def first_id(iri: str, *props: str) -> int | None:
        for prop in props:
            for v in sorted(values[prop].get(ids[iri], ())):
                if v in ids:
                    return ids[v]
        return None

    def day(iri: str, prop: str) -> str | None:
        found = values[prop].get(ids[iri])
        if not found:
            return None
        days = [d for d in map(iso_day, found) if d]
        return min(days) if days else None

    entity_rows = []
    measures = []
    for iri in searchable:
        ts = types[iri]
        is_measure = RV + "Measure" in ts
        wikidata = sorted(v[len(WIKIDATA):] for v in values[SKOS + "exactMatch"].get(ids[iri], ())
                          if v.startswith(WIKIDATA + "Q"))
        comment = first(iri, RDFS + "comment") or first(iri, RV + "summary")
        entity_rows.append((
            ids[iri], iri, labels[iri], most_specific(ts),
            first_id(iri, RV + "country", RV + "agencyOf"),
            first_id(iri, RV + "issuingPolity"),
            day(iri, RV + "announcedOn"), wikidata[0] if wikidata else None,
            comment[:400] if comment else None,
            first(iri, RV + "status") if is_measure else None,
            int(RV + "Actor" in ts), int(is_measure)))
        if is_measure:
            measures.append(iri)
    db.executemany("INSERT INTO entity VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", entity_rows)
    db.executemany("INSERT INTO entity_type VALUES (?, ?)",
                   [(t, ids[iri]) for iri in searchable for t in sorted(types[iri])])
    db.executemany("INSERT INTO name VALUES (?,?,?,?,?,?,?,?)", [
        (number, entity, text, lang, is_pref, keys.key, keys.compact, int(keys.latin))
        for number, entity, text, lang, is_pref, keys in name_rows])
    db.executemany("INSERT INTO name_words(rowid, key, ascii) VALUES (?,?,?)", [
        (number, keys.key, ascii_words(keys)) for number, *_, keys in name_rows])

    # identifiers: Wikidata items and the identifiers people type
    ident_rows = set()
    for iri in searchable:
        for v in values[SKOS + "exactMatch"].get(ids[iri], ()):
            if v.startswith(WIKIDATA + "Q"):
                ident_rows.add((identifier_key(v[len(WIKIDATA):]), ids[iri]))
        for v in identifier_values.get(iri, ()):
            if identifier_key(v):
                ident_rows.add((identifier_key(v), ids[iri]))
    db.executemany("INSERT INTO identifier VALUES (?, ?)", sorted(ident_rows))

    # parents (org:subOrganizationOf, to any depth) and issuers (the issuing polity,
    # the issuing agency and the agencies above it)
    if known is None:
        sub: dict[str, set[str]] = defaultdict(set)
        parts = values[ORG_SUB]
        for iri, number in ids.items():
            if number in parts:
                sub[iri].update(v for v in parts[number] if v in ids)
        above = _closure(sub)
        db.executemany("INSERT INTO parent VALUES (?,?,?)", [
            (ids[c], ids[a], d) for c, anc in above.items() for a, d in anc.items()])
    else:
        above = known.above  # an update changes no org:subOrganizationOf triple
    issuers: set[tuple[int, int]] = set()
    targets: set[tuple[int, int]] = set()
    for prop in (RV + "issuedBy", RV + "issuingPolity"):
        for number, linked in values[prop].items():
            for v in linked:
                if v in ids:
                    issuers.add((ids[v], number))
                    for ancestor in above.get(v, {}):
                        issuers.add((ids[ancestor], number))
    for number, linked in values[RV + "targets"].items():
        targets.update((ids[v], number) for v in linked if v in ids)
    db.executemany("INSERT INTO issuer VALUES (?, ?)", sorted(issuers))
    db.executemany("INSERT INTO target VALUES (?, ?)", sorted(targets))

    # measures: periods in force, sources
    changes: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for m, d, new in g.rows(f"""SELECT DISTINCT (STR(?m) AS ?a) (STR(?d) AS ?b)
            (STR(?new) AS ?c) WHERE {{ {g.within('?m')} ?m rv:hasStatusChange ?x .
            ?x rv:statusDate ?d ; rv:newStatus ?new }}"""):
        if iso_day(d):
            changes[m].append((iso_day(d), new))  # type: ignore[arg-type]
    force_rows = []
    for iri in measures:
        dates = MeasureDates(effective=day(iri, RV + "effectiveOn"),
                             announced=day(iri, RV + "announcedOn"),
                             ended=day(iri, RV + "endedOn"), status=first(iri, RV + "status"),
                             changes=changes.get(iri, []))
        force_rows += [(ids[iri], start, end) for start, end in periods(dates)]
    db.executemany("INSERT INTO in_force VALUES (?,?,?)", force_rows)

    sources: dict[tuple[int, str], list[str | None]] = {}
    for m, doc, title, publisher, issued, url in g.rows(f"""
            SELECT (STR(?m) AS ?a) (STR(?doc) AS ?b) ?title ?publisher (STR(?issued) AS ?c)
                   (STR(?url) AS ?d) WHERE {{ {g.within('?m')}
              ?m a rv:Measure ; prov:wasDerivedFrom ?doc .
              OPTIONAL {{ ?doc dct:title ?title
                          FILTER(LANG(?title) = "en" || LANG(?title) = "") }}
              OPTIONAL {{ ?doc dct:publisher/rdfs:label ?publisher
                         FILTER(LANG(?publisher) = "en" || LANG(?publisher) = "") }}
              OPTIONAL {{ ?doc dct:issued ?issued }}
              OPTIONAL {{ ?doc schema:url ?url }} }}"""):
        if m not in ids:
            continue
        row = sources.setdefault((ids[m], share(doc, doc)), [None, None, None, None])
        for i, v in enumerate((title, publisher, issued, url)):
            if v and row[i] is None:
                row[i] = share(v, v)
    # by measure id and document (entity ids follow the IRIs' order)
    db.executemany("INSERT INTO source VALUES (?,?,?,?,?,?)", [
        (m, doc, *row) for (m, doc), row in sorted(sources.items())])

    # classes with members, for type filters and the reconciliation type suggest
    if known is not None:
        _recount(db)
        return len(searchable), len(name_rows), len(measures)
    members: dict[str, int] = defaultdict(int)
    for iri in searchable:
        for t in types[iri]:
            members[t] += 1
    db.executemany("INSERT INTO class VALUES (?,?,?,?,?,?)", [
        (c, c[len(RV):], label_of_class(c), class_comment.get(c), n,
         " ".join(sorted(b for b in broader.get(c, ()) if b in members)))
        for c, n in sorted(members.items())])
    return len(searchable), len(name_rows), len(measures)


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    id: int
    iri: str
    label: str
    kind: str
    kind_label: str
    country: str | None = None
    country_label: str | None = None
    polity: str | None = None
    polity_label: str | None = None
    date: str | None = None
    wikidata: str | None = None
    comment: str | None = None
    status: str | None = None
    actor: bool = False
    measure: bool = False

    @property
    def path(self) -> str:
        """The id under ID_BASE ("company/huawei"): reconciliation's entity id."""
        return self.iri[len(ID_BASE):]

    def description(self) -> str:
        """One line that tells namesakes apart: kind, country or issuer, date."""
        parts = [self.kind_label]
        if self.country_label:
            parts.append(self.country_label)
        if self.polity_label:
            parts.append(self.polity_label)
        if self.date:
            parts.append(self.date)
        return " · ".join(parts)


@dataclass
class Hit:
    entity: Entity
    name: str          # the label or alternative label that matched best
    tier: int          # EXACT, PREFIX, WORDS or FUZZY
    score: float       # similarity, 0-100
    preferred: bool = True

    @property
    def tier_name(self) -> str:
        return TIER_NAMES[self.tier]


@dataclass(frozen=True)
class TargetingMeasure:
    measure: Entity
    via: Entity | None            # the parent targeted, when not the entity itself
    periods: tuple[tuple[str, str | None], ...]
    sources: tuple[dict[str, str | None], ...] = field(default_factory=tuple)


_ENTITY_SQL = """SELECT e.id, e.iri, e.label, e.kind, COALESCE(k.label, e.kind), c.iri, c.label,
  p.iri, p.label, e.date, e.wikidata, e.comment, e.status, e.actor, e.measure
  FROM entity e LEFT JOIN class k ON k.iri = e.kind LEFT JOIN entity c ON c.id = e.country
  LEFT JOIN entity p ON p.id = e.polity"""


def _entity(row: tuple[Any, ...]) -> Entity:
    """An Entity from a row of _ENTITY_SQL (its columns in the order of Entity's fields)."""
    (id_, iri, label, kind, kind_label, country, country_label, polity, polity_label, date,
     wikidata, comment, status, actor, measure) = row
    return Entity(id_, iri, label, kind, kind_label, country, country_label, polity,
                  polity_label, date, wikidata, comment, status, actor=bool(actor),
                  measure=bool(measure))


def index_path(store: Any) -> Path:
    """Where the search index of the build a store serves is."""
    return Path(store.files_dir) / INDEX_FILE


_OPEN: dict[str, SearchIndex] = {}
_OPEN_LOCK = threading.Lock()


def open_index(store: Any) -> SearchIndex:
    """The search index of the build `store` serves, opened once per process and build."""
    path = index_path(store)
    key = str(path)
    with _OPEN_LOCK:
        found = _OPEN.get(key)
        if found is None:
            found = SearchIndex(path, build_id=store.info.build_id)
            _OPEN.clear()  # one build at a time: an older build's index is let go
            _OPEN[key] = found
    return found


class SearchIndex:
    """A search index file, read-only. Thread-safe: one SQLite connection per thread."""

    def __init__(self, path: str | os.PathLike[str], build_id: str | None = None) -> None:
        self.path = Path(path)
        self.build_id = build_id
        if not self.path.is_file():
            where = f"build {build_id}" if build_id else str(self.path.parent)
            raise SearchIndexMissing(
                f"{where} has no search index ({self.path} is missing): it was built "
                "before search existed, or its index could not be written. Run "
                "`rivalry build` again to make a build with one.")
        self._local = threading.local()
        format_row = self._db().execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if format_row is None or format_row[0] != FORMAT_VERSION:
            raise SearchIndexMissing(
                f"the search index {self.path} is of another format "
                f"({format_row[0] if format_row else 'unknown'}; this version reads "
                f"{FORMAT_VERSION}): run `rivalry build` again")
        self._classes: dict[str, tuple[str, str, str | None, int, tuple[str, ...]]] | None = None
        self._choices: dict[tuple, tuple[list[int], list[str]]] = {}
        self._choices_lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            uri = f"file:{self.path}?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def sql(self, query: str, params: Iterable[Any] = ()) -> list[tuple]:
        return self._db().execute(query, tuple(params)).fetchall()

    # --- entities ------------------------------------------------------------------------

    def entities(self, ids: Iterable[int]) -> dict[int, Entity]:
        ids = sorted(set(ids))
        out: dict[int, Entity] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            for row in self.sql(f"{_ENTITY_SQL} WHERE e.id IN ({marks})", part):
                out[row[0]] = _entity(row)
        return out

    def entity(self, iri: str) -> Entity | None:
        rows = self.sql(f"{_ENTITY_SQL} WHERE e.iri = ?", (iri,))
        return _entity(rows[0]) if rows else None

    def resolve(self, ref: str) -> Entity | None:
        """An entity by IRI, prefixed name (company:huawei), or id (company/huawei)."""
        ref = ref.strip()
        candidates = [ref]
        if (expanded := expanded_name(ref)) is not None:
            candidates.append(expanded)
        if not ref.startswith(("http://", "https://")):
            candidates.append(ID_BASE + ref.lstrip("/"))
        for iri in candidates:
            found = self.entity(iri)
            if found is not None:
                return found
        return None

    def by_identifier(self, value: str) -> list[Entity]:
        """Entities with this identifier (a Wikidata item, a legislation identifier...)."""
        value = value.strip()
        if value.startswith(WIKIDATA):
            value = value[len(WIKIDATA):]
        rows = self.sql("SELECT entity FROM identifier WHERE value = ?", (identifier_key(value),))
        found = self.entities(r[0] for r in rows)
        return [found[i] for i in sorted(found)]

    def names(self, entity_id: int) -> list[tuple[str, str, bool]]:
        """An entity's names: (text, language, preferred)."""
        return [(t, lang, bool(p)) for t, lang, p in self.sql(
            "SELECT text, lang, preferred FROM name WHERE entity = ? "
            "ORDER BY preferred DESC, lang, text", (entity_id,))]

    def stats(self) -> dict[str, int]:
        def count(table: str) -> int:
            return self.sql(f"SELECT COUNT(*) FROM {table}")[0][0]  # noqa: S608 - fixed names
        return {"entities": count("entity"), "names": count("name"),
                "measures": self.sql("SELECT COUNT(*) FROM entity WHERE measure")[0][0]}

    # --- classes -------------------------------------------------------------------------

    def classes(self) -> dict[str, tuple[str, str, str | None, int, tuple[str, ...]]]:
        """Classes with searchable members: iri -> (local name, label, comment, members,
        direct broader classes)."""
        if self._classes is None:
            self._classes = {iri: (local, label, comment, n, tuple(b.split()))
                             for iri, local, label, comment, n, b in self.sql(
                                 "SELECT iri, local, label, comment, members, broader "
                                 "FROM class ORDER BY label")}
        return self._classes

    def resolve_class(self, ref: str) -> str | None:
        """A class by IRI, prefixed name (rv:Company), local name (Company) or label
        ("company"), case-insensitively."""
        ref = ref.strip()
        classes = self.classes()
        if ref in classes:
            return ref
        if ref.startswith("rv:"):
            ref = ref[3:]
        lowered = ref.casefold()
        for iri, (local, label, *_rest) in classes.items():
            if lowered in (local.casefold(), label.casefold()):
                return iri
        return None

    # --- matching --------------------------------------------------------------------------

    def search(self, query: str, *, classes: Iterable[str] = (), issuer: int | None = None,
               countries: Iterable[int] = (), limit: int = 20, offset: int = 0,
               rank: str = "tier") -> list[Hit]:
        """Entities whose names match `query`, best first: by tier then similarity
        (rank="tier", for search), or by similarity then tier (rank="score", for
        reconciliation and screening). `classes` keeps members of any of those classes,
        `issuer` actions issued by that entity (or an agency below it), `countries`
        entities whose country is one of these or unknown."""
        keys = name_keys(query)
        if keys is None:
            return []
        filters = _Filters(tuple(sorted(set(classes))), issuer, tuple(sorted(set(countries))))
        wanted = limit + offset
        best: dict[int, tuple[int, float, int, str]] = {}  # entity -> (tier, score, pref, name)

        def consider(rows: Iterable[tuple], tier: int | None) -> None:
            for _nid, entity, text, preferred, key, compact, latin in rows:
                t, score = _compare(keys, key, compact, bool(latin), tier)
                current = best.get(entity)
                candidate = (t, score, preferred, text)
                if current is None or (t, -score, -preferred) < (current[0], -current[1],
                                                                 -current[2]):
                    best[entity] = candidate

        cols = "n.id, n.entity, n.text, n.preferred, n.key, n.compact, n.latin"
        where, params = filters.sql()
        consider(self.sql(f"SELECT {cols} FROM name n WHERE (n.key = ? OR n.compact = ?)"
                          f"{where} LIMIT {TIER_LIMIT}", (keys.key, keys.compact, *params)),
                 EXACT)
        for column, value in (("key", keys.key), ("compact", keys.compact)):
            if len(value) >= 2 or not keys.latin:
                consider(self.sql(
                    f"SELECT {cols} FROM name n WHERE n.{column} >= ? AND n.{column} < ?"
                    f"{where} LIMIT {TIER_LIMIT}", (value, value + "\U0010ffff", *params)),
                    PREFIX)
        match = _fts_query(keys, self._rarest(keys))
        if match:
            found = self.sql(
                f"SELECT {cols} FROM name_words w JOIN name n ON n.id = w.rowid "
                f"WHERE name_words MATCH ?{where} LIMIT {TIER_LIMIT}", (match, *params))
            consider([r for r in found if _has_every_word(keys, r[4])], WORDS)
        if len(best) < wanted and len(keys.compact) >= 3:
            ids, choices = self._fuzzy_choices(filters)
            found = process.extract(keys.compact, choices, scorer=fuzz.ratio,
                                    score_cutoff=FUZZY_CUTOFF, limit=max(wanted * 3, 30))
            name_ids = [ids[i] for _, _, i in found]
            if name_ids:
                marks = ",".join("?" * len(name_ids))
                consider(self.sql(f"SELECT {cols} FROM name n WHERE n.id IN ({marks})",
                                  name_ids), FUZZY)
        if rank == "score":
            order = sorted(best.items(), key=lambda kv: (-kv[1][1], kv[1][0], -kv[1][2],
                                                         kv[0]))
        else:
            order = sorted(best.items(), key=lambda kv: (kv[1][0], -kv[1][1], -kv[1][2],
                                                         len(kv[1][3]), kv[0]))
        page = order[offset:offset + limit]
        found_entities = self.entities(e for e, _ in page)
        return [Hit(found_entities[e], name, tier, round(score, 1), bool(pref))
                for e, (tier, score, pref, name) in page if e in found_entities]

    def _rarest(self, keys: NameKeys, most: int = 2) -> list[str]:
        """The query's rarest words, by how many names hold them (FTS5's vocabulary):
        matching on those alone finds the same names as on every word, at a fraction of
        the cost when other words are common ("synthetic", "company")."""
        words = sorted(set(keys.words))
        if len(words) <= most:
            return words
        marks = ",".join("?" * len(words))
        counts = dict(self.sql(f"SELECT term, docs FROM vocab WHERE term IN ({marks})",
                               words))
        return sorted(words, key=lambda w: (counts.get(w, 0), w))[:most]

    def _fuzzy_choices(self, filters: _Filters) -> tuple[list[int], list[str]]:
        """The compact keys of the names the filters allow, read once per filter and kept
        (the unfiltered list at 100k measures is about 110,000 short strings)."""
        with self._choices_lock:
            found = self._choices.get(filters.key())
        if found is not None:
            return found
        where, params = filters.sql()
        rows = self.sql(f"SELECT n.id, n.compact FROM name n WHERE 1{where}", params)
        found = ([r[0] for r in rows], [r[1] for r in rows])
        with self._choices_lock:
            if len(self._choices) > 64:
                self._choices.clear()
            self._choices[filters.key()] = found
        return found

    # --- what targets an entity ---------------------------------------------------------------

    def ancestors(self, entity_id: int) -> list[tuple[Entity, int]]:
        rows = self.sql("SELECT ancestor, depth FROM parent WHERE child = ? ORDER BY depth",
                        (entity_id,))
        found = self.entities(r[0] for r in rows)
        return [(found[a], d) for a, d in rows if a in found]

    def targeting(self, entity_ids: Iterable[int], on: str | None = None,
                  parents: bool = True) -> dict[int, list[TargetingMeasure]]:
        """For each entity, the measures targeting it (and, with `parents`, its parents),
        in force on the ISO date `on` (all of them when None), with their sources."""
        out: dict[int, list[TargetingMeasure]] = {}
        for entity_id in entity_ids:
            holders: list[tuple[int, Entity | None]] = [(entity_id, None)]
            if parents:
                holders += [(a.id, a) for a, _ in self.ancestors(entity_id)]
            rows: list[tuple[int, Entity | None]] = []
            seen: set[int] = set()
            for holder, via in holders:
                for (measure,) in self.sql("SELECT measure FROM target WHERE entity = ?",
                                           (holder,)):
                    if measure not in seen:
                        seen.add(measure)
                        rows.append((measure, via))
            spans: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
            if rows:
                marks = ",".join("?" * len(rows))
                for m, start, end in self.sql(
                        f"SELECT measure, start, end FROM in_force WHERE measure IN ({marks}) "
                        "ORDER BY start", [m for m, _ in rows]):
                    spans[m].append((start, end))
            if on is not None:
                rows = [(m, via) for m, via in rows
                        if any(s <= on and (e is None or on < e) for s, e in spans[m])]
            measures = self.entities(m for m, _ in rows)
            sources = self.sources(m for m, _ in rows)
            result = [TargetingMeasure(measures[m], via, tuple(spans[m]),
                                       tuple(sources.get(m, ())))
                      for m, via in rows if m in measures]
            result.sort(key=lambda t: (t.measure.date or "", t.measure.iri))
            out[entity_id] = result
        return out

    def sources(self, measure_ids: Iterable[int]) -> dict[int, list[dict[str, str | None]]]:
        ids = sorted(set(measure_ids))
        out: dict[int, list[dict[str, str | None]]] = defaultdict(list)
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            for m, iri, title, publisher, issued, url in self.sql(
                    f"SELECT measure, iri, title, publisher, issued, url FROM source "
                    f"WHERE measure IN ({marks}) ORDER BY issued, iri", part):
                out[m].append({"iri": iri, "title": title, "publisher": publisher,
                               "issued": issued, "url": url})
        return out

    def first_targeted(self, entity_id: int) -> str | None:
        """The announcement date of the first measure targeting the entity."""
        row = self.sql("SELECT MIN(e.date) FROM target t JOIN entity e ON e.id = t.measure "
                       "WHERE t.entity = ?", (entity_id,))
        return row[0][0] if row else None


@dataclass(frozen=True)
class _Filters:
    classes: tuple[str, ...]
    issuer: int | None
    countries: tuple[int, ...]

    def key(self) -> tuple:
        return (self.classes, self.issuer, self.countries)

    def sql(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        # correlated EXISTS: one primary-key probe per candidate name, never a list of
        # every member of a class
        if self.classes:
            marks = ",".join("?" * len(self.classes))
            clauses.append(f" AND EXISTS (SELECT 1 FROM entity_type t WHERE t.class IN "
                           f"({marks}) AND t.entity = n.entity)")
            params += self.classes
        if self.issuer is not None:
            clauses.append(" AND EXISTS (SELECT 1 FROM issuer i WHERE i.issuer = ? "
                           "AND i.entity = n.entity)")
            params.append(self.issuer)
        if self.countries:
            marks = ",".join("?" * len(self.countries))
            clauses.append(f" AND EXISTS (SELECT 1 FROM entity c WHERE c.id = n.entity AND "
                           f"(c.country IS NULL OR c.country IN ({marks})))")
            params += self.countries
        return "".join(clauses), params


def _has_every_word(keys: NameKeys, key: str) -> bool:
    """Whether every word of the query starts a word of the name (in its own script or
    transliterated)."""
    words = key.split()
    if all(any(w.startswith(q) for w in words) for q in keys.words):
        return True
    latin = ascii_words(NameKeys(key, "", True)).split() if not key.isascii() else words
    return all(any(w.startswith(q) for w in latin) for q in ascii_words(keys).split())


def _fts_query(keys: NameKeys, rarest: list[str] | None = None) -> str | None:
    """The query's words (or its rarest ones) as word prefixes, in the key or in its
    transliteration."""
    def group(words: list[str]) -> str | None:
        words = [w for w in words if w]
        if not words:
            return None
        return " AND ".join('"' + w.replace('"', '""') + '"*' for w in words)

    native = group(rarest if rarest is not None else keys.words)
    latin = group(ascii_words(NameKeys(" ".join(rarest), "", True)).split()
                  if rarest is not None else ascii_words(keys).split())
    parts = []
    if native:
        parts.append(f"key : ({native})")
    if latin:
        parts.append(f"ascii : ({latin})")
    return " OR ".join(parts) or None


def _compare(q: NameKeys, key: str, compact: str, latin: bool,
             tier: int | None) -> tuple[int, float]:
    """A name's tier and similarity to the query."""
    if key == q.key or (compact == q.compact and latin and q.latin):
        return EXACT, 100.0
    if compact == q.compact:
        # a transliteration (华为 / Huawei), or two spellings that read alike (華為 / 华为,
        # but also homophones): close, never certain
        return EXACT, 95.0
    score = max(fuzz.ratio(q.key, key), fuzz.ratio(q.compact, compact),
                fuzz.token_sort_ratio(q.key, key))
    score = min(score, 99.0)
    if key.startswith(q.key) or compact.startswith(q.compact):
        return PREFIX, score
    return (WORDS if tier == WORDS else FUZZY), score
