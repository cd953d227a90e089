"""Matching quality on a labelled set of name variants: precision and recall at top-1
and top-3, and the certain matches (reconciliation's `match: true`) made on names the
graph does not hold.

The set is a CSV file with the columns `query`, `expected` (the entity's id, such as
company/huawei, or empty for a name absent from the graph), and optionally `type` (a
class the query is restricted to, as a reconciliation client would) and `variant` (what
the variant tests: case, legal form, transliteration...). Each query is matched as
reconciliation does (candidates ranked by score).

- recall@k: of the queries whose entity is in the graph, the share with that entity
  among the first k candidates;
- precision@k: of the queries that get an answer (a first candidate scoring at least
  the threshold), the share whose expected entity is among the first k candidates (an
  answer to an absent name is always wrong);
- certain matches: how many `match: true` decisions were made, how many were right,
  and how many fell on absent names (the target is none).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from rivalry.graph.errors import InvalidInput, SourceLocation
from rivalry.graph.screening import DEFAULT_THRESHOLD, certain_match
from rivalry.graph.search import SearchIndex


@dataclass
class Case:
    line: int
    query: str
    expected: str | None
    type: str | None = None
    variant: str = ""


@dataclass
class Outcome:
    case: Case
    ranked: list[tuple[str, float]]   # (entity id, score), best first
    certain: str | None


@dataclass
class Quality:
    outcomes: list[Outcome]
    threshold: float
    failures: list[Outcome] = field(default_factory=list)

    def _present(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.expected]

    def recall(self, k: int) -> float:
        present = self._present()
        hit = sum(1 for o in present if o.case.expected in [e for e, _ in o.ranked[:k]])
        return hit / len(present) if present else 1.0

    def precision(self, k: int) -> float:
        answered = [o for o in self.outcomes if o.ranked and o.ranked[0][1] >= self.threshold]
        right = sum(1 for o in answered if o.case.expected
                    and o.case.expected in [e for e, _ in o.ranked[:k]])
        return right / len(answered) if answered else 1.0

    def certain_on_absent(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.case.expected and o.certain]

    def certain_counts(self) -> tuple[int, int]:
        made = [o for o in self.outcomes if o.certain]
        return len(made), sum(1 for o in made if o.certain == o.case.expected)

    def to_dict(self) -> dict[str, Any]:
        made, right = self.certain_counts()
        return {
            "queries": len(self.outcomes), "present": len(self._present()),
            "absent": len(self.outcomes) - len(self._present()), "threshold": self.threshold,
            "recall@1": round(self.recall(1), 4), "recall@3": round(self.recall(3), 4),
            "precision@1": round(self.precision(1), 4),
            "precision@3": round(self.precision(3), 4),
            "certain_matches": made, "certain_matches_right": right,
            "certain_matches_on_absent_names": len(self.certain_on_absent()),
        }

    def to_text(self) -> str:
        d = self.to_dict()
        lines = [f"{d['queries']} queries ({d['present']} names in the graph, {d['absent']} "
                 f"absent); answers: first candidate scoring {self.threshold:g} or more",
                 f"recall@1     {d['recall@1']:.3f}    recall@3     {d['recall@3']:.3f}",
                 f"precision@1  {d['precision@1']:.3f}    precision@3  {d['precision@3']:.3f}",
                 f"match: true  {d['certain_matches']} made, {d['certain_matches_right']} "
                 f"right, {d['certain_matches_on_absent_names']} on absent names"]
        misses = [o for o in self._present()
                  if o.case.expected not in [e for e, _ in o.ranked[:3]]]
        for o in misses:
            lines.append(f"  missed at top-3 (line {o.case.line}): {o.case.query!r} -> "
                         f"{o.case.expected}; got {[e for e, _ in o.ranked[:3]]}")
        for o in self.certain_on_absent():
            lines.append(f"  certain match on an absent name (line {o.case.line}): "
                         f"{o.case.query!r} -> {o.certain}")
        return "\n".join(lines)


def read_cases(text: str, source: str = "input") -> list[Case]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "query" not in reader.fieldnames \
            or "expected" not in reader.fieldnames:
        raise InvalidInput(SourceLocation(source, 1), "the header needs 'query' and 'expected'",
                           "query,expected,type,variant")
    cases = []
    for line, row in enumerate(reader, start=2):
        query = (row.get("query") or "").strip()
        if not query or query.startswith("#"):
            continue
        cases.append(Case(line, query, (row.get("expected") or "").strip() or None,
                          (row.get("type") or "").strip() or None,
                          (row.get("variant") or "").strip()))
    return cases


def evaluate(index: SearchIndex, cases: list[Case],
             threshold: float = DEFAULT_THRESHOLD) -> Quality:
    outcomes = []
    for case in cases:
        classes = []
        if case.type:
            found = index.resolve_class(case.type)
            if found is None:
                raise InvalidInput(SourceLocation("test set", case.line),
                                   f"unknown type {case.type!r}")
            classes = [found]
        hits = index.search(case.query, classes=classes, limit=5, rank="score")
        certain = certain_match(hits)
        by_id = {h.entity.id: h.entity.path for h in hits}
        outcomes.append(Outcome(case, [(h.entity.path, h.score) for h in hits],
                                by_id.get(certain) if certain is not None else None))
    return Quality(outcomes, threshold)
