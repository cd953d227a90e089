"""Screening: a list of names (with a country and an identifier where known) against the
graph's actors, and for each match the measures in force on a date that target it or
its parents (org:subOrganizationOf, to any depth), with their sources.

The rule for "in force on a date" is in rivalry.graph.inforce; the matching is the
search index's (rivalry.graph.search), restricted to actors (states, unions, agencies,
organizations, companies, people). A row whose input cannot be used (no name, an
unknown country) gets an error of its own, and the other rows are still screened.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rivalry.graph.errors import InvalidInput, RivalryError, SourceLocation
from rivalry.graph.load import utf8_text
from rivalry.graph.search import Entity, Hit, SearchIndex, TargetingMeasure
from rivalry.ontology import NAMESPACE

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)
ACTOR = RV + "Actor"
POLITY = RV + "Polity"

#: Candidates below this similarity (0-100) are not reported.
DEFAULT_THRESHOLD = 80.0
#: Most candidates reported per name.
CANDIDATES_PER_NAME = 3
MAX_NAME_LENGTH = 500

#: Column names read from a file, case-insensitively; others are listed as ignored.
COLUMNS = {"name": "name", "country": "country", "identifier": "identifier",
           "wikidata": "identifier", "id": "identifier", "ref": "ref"}


class ScreeningTimeout(RivalryError):
    status = 503
    title = "Screening timed out"


@dataclass
class ScreenInput:
    row: int                       # the line of the file (the header is line 1)
    name: str = ""
    country: str | None = None
    identifier: str | None = None
    ref: str | None = None         # the caller's own reference, given back as is
    #: what is wrong with the row as given (a field that is not text), reported as its error
    problem: str | None = None


@dataclass
class Candidate:
    entity: Entity
    score: float
    match: bool
    matched_name: str
    by: str                          # "name" or "identifier"
    measures: list[TargetingMeasure] = field(default_factory=list)


@dataclass
class ScreenResult:
    input: ScreenInput
    status: str                      # "match", "possible match", "no match", "error"
    candidates: list[Candidate] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Screening:
    on: str
    threshold: float
    results: list[ScreenResult]
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> int:
        """How many lines the answer has (to_rows): one per name, candidate and measure,
        a name without candidates or a candidate without measures on a line of its
        own. Counted before any line is written, to bound what an answer may hold."""
        return sum(max(1, sum(max(1, len(c.measures)) for c in r.candidates))
                   for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {"match": 0, "possible match": 0, "no match": 0, "error": 0}
        for r in self.results:
            out[r.status] += 1
        return out


def parse_day(value: str | None) -> str:
    """An ISO date (YYYY-MM-DD), today (UTC) when not given."""
    if value is None or not value.strip():
        return date.today().isoformat()
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise InvalidInput(SourceLocation("on"), f"{value!r} is not a date",
                           "write it as YYYY-MM-DD, for example 2024-06-30") from None


def read_csv(data: str | bytes, source: str = "input") -> tuple[list[ScreenInput], list[str]]:
    """The rows of a CSV file with a header naming its columns: `name` (needed),
    `country`, `identifier` (or `wikidata`, `id`) and `ref`, in any case and order; each
    row is numbered by the line it starts on (the header is line 1). Returns the rows and
    warnings (columns ignored). Refused whole, naming the line: a file without a name
    column or without a row under its header, one that is not UTF-8, a quoted field
    never closed, a NUL character in a field read."""
    # not UTF-8 is refused: read with replacement characters, a name in Latin-1
    # ("Soci\ufffdt\ufffd G\ufffdn\ufffdrale") would be screened, and found matching nothing
    text = (utf8_text(data, source, "save it as UTF-8: in a spreadsheet, as CSV UTF-8")
            if isinstance(data, bytes) else data)
    text = text.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else None
    except csv.Error:
        dialect = None
    records = _records(text, dialect or csv.excel, source)
    try:
        _, header = next(records)
    except StopIteration:
        raise InvalidInput(SourceLocation(source), "the file is empty",
                           "give a header line (name,country,identifier) and one name a "
                           "line") from None
    fields: list[str | None] = [COLUMNS.get(h.strip().casefold()) for h in header]
    if "name" not in fields:
        raise InvalidInput(SourceLocation(source, 1),
                           f"no 'name' column in the header ({', '.join(header) or 'empty'})",
                           "the first line names the columns: name, and optionally "
                           "country, identifier and ref")
    warnings = [f"column {h.strip()!r} is not used (the columns read are name, country, "
                "identifier or wikidata or id, and ref)"
                for h, f in zip(header, fields, strict=True) if f is None and h.strip()]
    rows = []
    for line, values in records:
        if not any(v.strip() for v in values):
            continue
        row = ScreenInput(row=line)
        for f, v in zip(fields, values, strict=False):
            if f is not None and v.strip():
                setattr(row, f, v.strip())
        check_text(row, SourceLocation(source, line))
        if len(values) > len(fields):
            warnings.append(f"line {line}: {len(values)} values for {len(fields)} "
                            "columns; the extra ones are not used")
        rows.append(row)
    if not rows:
        raise InvalidInput(SourceLocation(source), "no names were given: the file has a "
                           "header line and no rows under it",
                           "give one name a line under the header")
    return rows, warnings


def _records(text: str, dialect: Any, source: str) -> Iterator[tuple[int, list[str]]]:
    """The records of a CSV text, each with the line it starts on (from 1). A quoted
    field still open at the end of the text is refused, naming the line its quote opened
    on: Python's reader (unless strict, which also refuses text after a closing quote,
    `"Huawei" Ltd`, that spreadsheets read) would end it there silently, and every line
    after the quote would be one name."""
    lines = io.StringIO(text).readlines()
    # After the text, one more line: a lone quote character. If the text ends inside a
    # quoted field, it closes that field, and the record read last ends on that line
    # having started before it; otherwise it begins a record of its own, dropped.
    reader = csv.reader(itertools.chain(lines, [getattr(dialect, "quotechar", None) or '"']),
                        dialect)
    start = 1
    try:
        for values in reader:
            if start > len(lines):
                return
            if reader.line_num > len(lines):
                # the open field is the record's last, and holds every line break after
                # its quote
                opened = len(lines) - values[-1].count("\n") + int(lines[-1].endswith("\n"))
                raise InvalidInput(SourceLocation(source, opened),
                                   "a quoted field opened on this line is never closed: a "
                                   "field that starts with a quote ends with a quote",
                                   'close it; a quote that is part of a quoted name is '
                                   'written twice, ""')
            yield start, values
            start = reader.line_num + 1
    except csv.Error as e:
        if "field limit" in str(e):  # likely a quote never closed, read to the limit
            raise InvalidInput(SourceLocation(source, start), f"not CSV: {e}",
                               "is a quote opened on this line never closed?") from None
        raise InvalidInput(SourceLocation(source, reader.line_num), f"not CSV: {e}") from None


def check_text(row: ScreenInput, where: SourceLocation, prefix: str = "") -> None:
    """Refuses a row whose fields hold a NUL character, naming where and the field: no
    name holds one, and it would be given back as sent."""
    for f in ("name", "country", "identifier", "ref"):
        value = getattr(row, f)
        if value and "\x00" in value:
            raise InvalidInput(where, f"{prefix}the {f} {value[:80]!r} holds a NUL character "
                               "(U+0000), which no name or reference holds",
                               "remove it; a file saved as UTF-16 has one in every other "
                               "byte: save it as UTF-8")


def rows_from_records(records: Any) -> list[ScreenInput]:
    """Rows from JSON: a list of names, or of objects with name, country, identifier
    and ref (numbered from 1)."""
    if isinstance(records, dict) and "names" in records:
        records = records["names"]
    if not isinstance(records, list):
        raise InvalidInput(SourceLocation("request body"),
                           "expected a JSON list of names, or of objects with a name",
                           'for example [{"name": "Huawei", "country": "CN"}]')
    rows = []
    for i, record in enumerate(records, start=1):
        row = ScreenInput(row=i)
        if isinstance(record, str):
            row.name = record.strip()
        elif isinstance(record, dict):
            for key, value in record.items():
                f = COLUMNS.get(str(key).casefold())
                if f is None or value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (str, int, float)) \
                        or isinstance(value, float) and not math.isfinite(value):
                    row.problem = row.problem or (
                        f"{key!r} must be text (or a number), not {json.dumps(value)[:60]}")
                    continue
                setattr(row, f, str(value).strip())
        # anything else has no name, and gets the error of a row without one
        check_text(row, SourceLocation("request body"), f"item {i} of the list: ")
        rows.append(row)
    if not rows:
        raise InvalidInput(SourceLocation("request body"), "no names were given: the list "
                           "is empty", 'give one name or more, for example ["Huawei"]')
    return rows


class Screener:
    """Screens rows against a search index."""

    def __init__(self, index: SearchIndex, on: str, threshold: float = DEFAULT_THRESHOLD,
                 parents: bool = True) -> None:
        self.index = index
        self.on = on
        self.threshold = threshold
        self.parents = parents
        self._countries: dict[str, Entity | None] = {}
        # lists repeat names and entities: each is matched, and each entity's measures
        # read, once per screening
        self._hits: dict[tuple[str, tuple[int, ...]], list[Hit]] = {}
        self._targeting: dict[int, list[TargetingMeasure]] = {}

    def country(self, value: str) -> Entity | None:
        """A state or union by id (state/cn), code (CN), IRI or name (China, 中国)."""
        key = value.strip().casefold()
        if key not in self._countries:
            found = None
            for ref in (key, f"state/{key}", f"union/{key}"):
                entity = self.index.resolve(ref)
                if entity is not None and POLITY in self._types(entity):
                    found = entity
                    break
            if found is None:
                hits = self.index.search(value, classes=[POLITY], limit=2, rank="score")
                exact = [h for h in hits if h.score >= 95]
                if len(exact) == 1:
                    found = exact[0].entity
            self._countries[key] = found
        return self._countries[key]

    def _types(self, entity: Entity) -> set[str]:
        return {r[0] for r in self.index.sql(
            "SELECT class FROM entity_type WHERE entity = ?", (entity.id,))}

    def screen_one(self, row: ScreenInput) -> ScreenResult:
        if row.problem is not None:
            return ScreenResult(row, "error", error=row.problem)
        if len(row.name) > MAX_NAME_LENGTH:
            return ScreenResult(row, "error", error=f"the name is longer than "
                                f"{MAX_NAME_LENGTH} characters")
        if not row.name and not row.identifier:
            return ScreenResult(row, "error", error="no name (and no identifier) to screen")
        result = ScreenResult(row, "no match")
        countries: list[int] = []
        if row.country:
            found = self.country(row.country)
            if found is None:
                return ScreenResult(row, "error", error=(
                    f"unknown country {row.country!r}: give a state's name (China), its "
                    "two-letter code (CN) or its id in the graph (state/cn)"))
            countries = [found.id]
        candidates: dict[int, Candidate] = {}
        if row.identifier:
            by_id = [e for e in self.index.by_identifier(row.identifier) if e.actor]
            resolved = self.index.resolve(row.identifier)
            if resolved is not None and resolved.actor:
                by_id.append(resolved)
            if not by_id:
                result.notes.append(f"identifier {row.identifier!r} is not in the graph; "
                                    "screened by name")
            for e in by_id:
                candidates[e.id] = Candidate(e, 100.0, len({x.id for x in by_id}) == 1,
                                             row.identifier, "identifier")
        if row.name:
            key = (row.name, tuple(countries))
            hits = self._hits.get(key)
            if hits is None:
                hits = self.index.search(row.name, classes=[ACTOR], countries=countries,
                                         limit=CANDIDATES_PER_NAME + 1, rank="score")
                if len(self._hits) < 100_000:
                    self._hits[key] = hits
            certain = certain_match(hits)
            for h in hits:
                if h.score < self.threshold or h.entity.id in candidates:
                    continue
                candidates[h.entity.id] = Candidate(h.entity, h.score, h.entity.id == certain,
                                                    h.name, "name")
        chosen = sorted(candidates.values(), key=lambda c: (-c.match, -c.score,
                                                            c.entity.label))
        result.candidates = chosen[:CANDIDATES_PER_NAME]
        missing = [c.entity.id for c in result.candidates
                   if c.entity.id not in self._targeting]
        if missing:
            self._targeting.update(self.index.targeting(missing, self.on, parents=self.parents))
        for c in result.candidates:
            c.measures = self._targeting.get(c.entity.id, [])
        if any(c.match for c in result.candidates):
            result.status = "match"
        elif result.candidates:
            result.status = "possible match"
        return result

    def screen(self, rows: Iterable[ScreenInput], deadline: float | None = None,
               what: str = "screening") -> list[ScreenResult]:
        out: list[ScreenResult] = []
        for row in rows:
            if deadline is not None and time.monotonic() > deadline:
                raise ScreeningTimeout(f"{what} stopped after {len(out)} names: it ran past "
                                       "its time limit (setting screen_time_limit); send "
                                       "fewer names at a time")
            out.append(self.screen_one(row))
        return out


def certain_match(hits: list[Hit]) -> int | None:
    """The entity a list of candidates certainly names: the only one whose name is the
    query's, once normalised (score 100). Namesakes, transliterations and near misses
    are never certain."""
    exact = {h.entity.id for h in hits if h.score >= 100.0}
    return next(iter(exact)) if len(exact) == 1 else None


def screen(index: SearchIndex, rows: list[ScreenInput], on: str | None = None,
           threshold: float = DEFAULT_THRESHOLD, parents: bool = True,
           deadline: float | None = None) -> Screening:
    day = parse_day(on)
    screener = Screener(index, day, threshold, parents)
    return Screening(day, threshold, screener.screen(rows, deadline))


# ---------------------------------------------------------------------------------------
# Writing the results
# ---------------------------------------------------------------------------------------

CSV_COLUMNS = ("row", "ref", "name", "country", "identifier", "status", "entity",
               "entity_label", "entity_type", "score", "match", "matched_name", "via",
               "via_label", "measure", "measure_label", "measure_type", "issuer",
               "announced", "in_force_from", "in_force_until", "sources", "error")


def _until(measure: TargetingMeasure, on: str) -> tuple[str, str]:
    for start, end in measure.periods:
        if start <= on and (end is None or on < end):
            return start, end or ""
    if measure.periods:
        start, end = measure.periods[-1]
        return start, end or ""
    return "", ""


def to_rows(screening: Screening) -> list[dict[str, str]]:
    """One line per name, candidate and measure (a name without candidates, or a
    candidate without measures in force, has one line of its own)."""
    out = []
    for r in screening.results:
        base = {"row": str(r.input.row), "ref": r.input.ref or "", "name": r.input.name,
                "country": r.input.country or "", "identifier": r.input.identifier or "",
                "status": r.status, "error": r.error or "; ".join(r.notes)}
        if not r.candidates:
            out.append({c: base.get(c, "") for c in CSV_COLUMNS})
            continue
        for c in r.candidates:
            entity = dict(base, entity=c.entity.iri, entity_label=c.entity.label,
                          entity_type=c.entity.kind_label, score=f"{c.score:g}",
                          match="true" if c.match else "false", matched_name=c.matched_name)
            if not c.measures:
                out.append({k: entity.get(k, "") for k in CSV_COLUMNS})
            for m in c.measures:
                start, end = _until(m, screening.on)
                line = dict(entity, via=m.via.iri if m.via else "",
                            via_label=m.via.label if m.via else "", measure=m.measure.iri,
                            measure_label=m.measure.label, measure_type=m.measure.kind_label,
                            issuer=m.measure.polity_label or "",
                            announced=m.measure.date or "", in_force_from=start,
                            in_force_until=end,
                            sources=" ".join(s["url"] or s["iri"] or "" for s in m.sources))
                out.append({k: line.get(k, "") for k in CSV_COLUMNS})
    return out


#: What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection"; CWE-1236).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_cell(value: str) -> str:
    """A cell of a CSV file for people, as a spreadsheet shows it without running it: a
    value that starts with =, +, -, @, a tab or a carriage return gets a leading
    apostrophe (OWASP's defence), unless it is a plain number (-2, +1.5, -1e3), which a
    spreadsheet reads as that number and runs nothing. JSON gives values as they are."""
    if value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(screening: Screening) -> str:
    """The results as CSV (RFC 4180), one line per name, candidate and measure (to_rows),
    every cell made safe for a spreadsheet (spreadsheet_cell)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: spreadsheet_cell(v) for k, v in line.items()}
                     for line in to_rows(screening))
    return buffer.getvalue()


def _entity_dict(e: Entity) -> dict[str, Any]:
    return {"id": e.iri, "label": e.label, "type": e.kind, "type_label": e.kind_label,
            "country": e.country}


def to_dict(screening: Screening) -> dict[str, Any]:
    results = []
    for r in screening.results:
        item: dict[str, Any] = {
            "row": r.input.row, "input": {k: v for k, v in (
                ("name", r.input.name), ("country", r.input.country),
                ("identifier", r.input.identifier), ("ref", r.input.ref)) if v},
            "status": r.status}
        if r.error:
            item["error"] = r.error
        if r.notes:
            item["notes"] = r.notes
        item["candidates"] = [dict(
            _entity_dict(c.entity), score=c.score, match=c.match, matched_name=c.matched_name,
            matched_by=c.by,
            measures=[{
                "id": m.measure.iri, "label": m.measure.label, "type": m.measure.kind,
                "type_label": m.measure.kind_label, "issuer": m.measure.polity,
                "issuer_label": m.measure.polity_label, "announced": m.measure.date,
                "status": m.measure.status,
                "in_force": [{"from": s, "until": e} for s, e in m.periods],
                "via": _entity_dict(m.via) if m.via else None,
                "sources": list(m.sources)} for m in c.measures])
            for c in r.candidates]
        results.append(item)
    return {"on": screening.on, "threshold": screening.threshold,
            "counts": screening.counts(), "warnings": screening.warnings, "results": results}
