"""Whether a measure is in force on a date: the rule screening applies, written once.

A measure's dates and statuses, as the graph holds them, decide; in this order, for a
date D (xsd:gYear and xsd:gYearMonth values count from their first day):

1. Before it starts it is not in force: it starts on its rv:effectiveOn date, or on its
   rv:announcedOn date when it has no effective date.
2. On and after its rv:endedOn date it is not in force.
3. Its dated status history (rv:hasStatusChange, each with rv:statusDate and
   rv:newStatus) decides next: the latest change on or before D gives its status on D.
   rv:InForce, rv:PartiallyInForce and rv:RescissionAnnounced (announced, not yet done)
   are in force; rv:Suspended, rv:Rescinded, rv:Expired, rv:Superseded, rv:Adopted,
   rv:Proposed and rv:Announced are not. When two changes share the latest date, the
   measure is in force if either says so (screening never hides a measure on an
   ambiguous day).
4. When its recorded changes all come after D, the first of them tells what it ended:
   a change to rv:Suspended, rv:Rescinded, rv:Expired or rv:Superseded ended a measure
   that was in force, so it was in force on D; any other change started it, so it was
   not yet.
5. Without any dated change, its current rv:status decides, taken to hold since it
   started (the graph records no date for it); a measure without a status is taken to
   be in force since it started.

The rule is a function of D that changes value only on the measure's own dates, so the
search index stores it as periods (`periods`), computed at build time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rivalry.ontology import NAMESPACE

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)

IN_FORCE = frozenset(RV + s for s in ("InForce", "PartiallyInForce", "RescissionAnnounced"))
#: Statuses whose coming means the measure was in force until then.
ENDING = frozenset(RV + s for s in ("Suspended", "Rescinded", "Expired", "Superseded"))


def iso_day(value: str) -> str | None:
    """An xsd:date, xsd:gYearMonth or xsd:gYear lexical value as the ISO date of its first
    day ("2019" -> "2019-01-01"); None for anything else."""
    value = value.strip()
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    if len(value) == 7 and value[4] == "-":
        return value + "-01"
    if len(value) == 4 and value.isdigit():
        return value + "-01-01"
    return None


@dataclass
class MeasureDates:
    """What the rule reads of one measure (ISO dates, status IRIs)."""

    effective: str | None = None
    announced: str | None = None
    ended: str | None = None
    status: str | None = None
    changes: list[tuple[str, str]] = field(default_factory=list)  # (date, new status)

    @property
    def start(self) -> str | None:
        return self.effective or self.announced


def in_force_on(m: MeasureDates, day: str) -> bool:
    """The rule of this module's documentation, for one ISO date."""
    start = m.start
    if start is None or start > day:
        return False
    if m.ended is not None and m.ended <= day:
        return False
    past = [c for c in m.changes if c[0] <= day]
    if past:
        latest = max(c[0] for c in past)
        return any(status in IN_FORCE for d, status in past if d == latest)
    if m.changes:
        first = min(c[0] for c in m.changes)
        return any(status in ENDING for d, status in m.changes if d == first)
    return m.status is None or m.status in IN_FORCE


def periods(m: MeasureDates) -> list[tuple[str, str | None]]:
    """The periods [start, end) in which the measure is in force; end None: still is.

    The rule only changes value on the measure's own dates, so evaluating it on each of
    them gives every period exactly."""
    points = sorted({d for d in (m.start, m.ended, *(c[0] for c in m.changes))
                     if d is not None})
    out: list[tuple[str, str | None]] = []
    for i, day in enumerate(points):
        if not in_force_on(m, day):
            continue
        end = points[i + 1] if i + 1 < len(points) else None
        if out and out[-1][1] == day:
            out[-1] = (out[-1][0], end)
        else:
            out.append((day, end))
    return out


def in_periods(spans: Iterable[tuple[str, str | None]], day: str) -> bool:
    return any(start <= day and (end is None or day < end) for start, end in spans)
