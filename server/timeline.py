"""The timeline chart, drawn as SVG on the server (so it needs no JavaScript): time from
left to right on a true scale, one lane per issuing state. With few actions each is a
dot linking to its page; with many, bars count the actions of each month (over all
years) or day (within one year). The axis's years are links that zoom into that year."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from rivalry.graph.listing import ChartData

WIDTH, LANE_LABEL, MARGIN, AXIS_H = 1100, 176, 10, 34
POINT_LANE_H, BAR_LANE_H, RADIUS = 30, 46, 4.5
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
COLOURS = ("#1f5fa8", "#b3541e", "#2e7d32", "#6a3d9a", "#8c6d1f", "#00838f", "#ad1457",
           "#455a64")


def _parse(value: str) -> date | None:
    parts = value[:10].split("-")
    try:
        return date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1,
                    int(parts[2][:2]) if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        return None


def _span(data: ChartData, year: int | None) -> tuple[date, date]:
    if year is not None:
        return date(year, 1, 1), date(year + 1, 1, 1)
    found = [d for d in (_parse(p[1]) for p in data.points) if d] + \
            [d for d in (_parse(k[1]) for k in data.counts) if d]
    if not found:
        today = date.today()
        return date(today.year, 1, 1), date(today.year + 1, 1, 1)
    return date(min(found).year, 1, 1), date(max(found).year + 1, 1, 1)


def timeline_svg(data: ChartData, year: int | None, href: Callable[[str], str],
                 zoom_url: Callable[[int | None], str]) -> str:
    start, end = _span(data, year)
    plot_w = WIDTH - LANE_LABEL - MARGIN
    days = (end - start).days

    def x_of(d: date) -> float:
        return LANE_LABEL + (d - start).days / days * plot_w

    lane_h = POINT_LANE_H if data.points or not data.counts else BAR_LANE_H
    lanes = data.lanes or ["(no actions)"]
    height = AXIS_H + len(lanes) * lane_h + MARGIN
    what = ("each dot is an action, linking to its page" if data.points else
            f"bars count the actions of each {'day' if year else 'month'}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="system-ui, sans-serif" '
        'aria-labelledby="timeline-title" aria-describedby="timeline-list">',
        f'<title id="timeline-title">Timeline of {data.total:,} action'
        f"{'s' if data.total != 1 else ''}{f' in {year}' if year else ''}, one lane per "
        f"issuing state: {what}</title>",
    ]
    # lanes
    for i, lane in enumerate(lanes):
        top = AXIS_H + i * lane_h
        if i % 2 == 0:
            parts.append(f'<rect x="0" y="{top}" width="{WIDTH}" height="{lane_h}" '
                         'fill="#f5f7fa"/>')
        name = lane if len(lane) <= 27 else lane[:26] + "…"
        parts.append(f'<text x="{MARGIN}" y="{top + lane_h / 2 + 4:.0f}" font-size="12" '
                     f'fill="#333"><title>{escape(lane)}</title>{escape(name)}</text>')
    # the axis: years (links that zoom in), or months within a year
    bottom = AXIS_H + len(lanes) * lane_h
    parts.append(f'<line x1="{LANE_LABEL}" y1="{AXIS_H}" x2="{WIDTH - MARGIN}" y2="{AXIS_H}" '
                 'stroke="#888"/>')
    if year is None:
        for y in range(start.year, end.year):
            x0, x1 = x_of(date(y, 1, 1)), x_of(date(y + 1, 1, 1))
            parts.append(f'<line x1="{x0:.1f}" y1="{AXIS_H - 6}" x2="{x0:.1f}" y2="{bottom}" '
                         'stroke="#ccc"/>')
            parts.append(f'<a href={quoteattr(zoom_url(y))}><title>Zoom into {y}</title>'
                         f'<text x="{(x0 + x1) / 2:.1f}" y="{AXIS_H - 12}" font-size="13" '
                         f'text-anchor="middle" fill="#1a4f8b" text-decoration="underline">'
                         f"{y}</text></a>")
    else:
        for m in range(12):
            x0 = x_of(date(year, m + 1, 1))
            x1 = x_of(date(year + (m == 11), (m + 1) % 12 + 1, 1))
            parts.append(f'<line x1="{x0:.1f}" y1="{AXIS_H - 6}" x2="{x0:.1f}" y2="{bottom}" '
                         'stroke="#ccc"/>')
            parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{AXIS_H - 12}" font-size="12" '
                         f'text-anchor="middle" fill="#333">{MONTHS[m]}</text>')
    colour = {lane: COLOURS[i % len(COLOURS)] for i, lane in enumerate(lanes)}
    if data.points:
        levels: dict[str, list[list[float]]] = {}
        for lane, when, iri, label in data.points:
            d = _parse(when)
            if d is None or lane not in colour:
                continue
            x = x_of(d) + RADIUS
            rows = levels.setdefault(lane, [[], [], []])
            level = next((k for k, row in enumerate(rows)
                          if all(abs(x - other) > 2 * RADIUS + 1 for other in row)), 1)
            rows[level].append(x)
            cy = AXIS_H + lanes.index(lane) * lane_h + lane_h / 2 + (level - 1) * (RADIUS * 2)
            parts.append(f'<a href={quoteattr(href(iri))}><circle cx="{x:.1f}" cy="{cy:.1f}" '
                         f'r="{RADIUS}" fill="{colour[lane]}" fill-opacity="0.85" '
                         f'stroke="#fff" stroke-width="1"><title>{escape(when)} '
                         f"{escape(label)} ({escape(lane)})</title></circle></a>")
    else:
        peak = max(data.counts.values(), default=1)
        for (lane, period), n in sorted(data.counts.items()):
            d = _parse(period)
            if d is None or lane not in colour:
                continue
            if year is None:
                following = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
            else:
                following = date.fromordinal(d.toordinal() + 1)
            x0, x1 = x_of(d), x_of(min(following, end))
            h = max(1.5, n / peak * (lane_h - 8))
            bar_y = AXIS_H + (lanes.index(lane) + 1) * lane_h - 3 - h
            bar = (f'<rect x="{x0:.2f}" y="{bar_y:.1f}" width="{max(x1 - x0 - 0.4, 0.8):.2f}" '
                   f'height="{h:.1f}" fill="{colour[lane]}"><title>{escape(lane)}, '
                   f"{escape(period)}: {n:,} action{'s' if n != 1 else ''}</title></rect>")
            parts.append(f"<a href={quoteattr(zoom_url(d.year))}>{bar}</a>"
                         if year is None else bar)
    parts.append("</svg>")
    return "".join(parts)
