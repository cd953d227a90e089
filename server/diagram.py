"""Response chains drawn as SVG on the server.

Time runs from left to right along an axis at the top: one column per date, labelled,
with the time elapsed between columns. Each issuing state has a lane; actions of one
state on one date stack in their column. An arrow runs from each response to the action
it answers: it leaves the response's box on the left, runs in the free space between
columns and between lanes, never behind a box, and ends with its head on the answered
action's box. Arrows are drawn after (so above) the boxes, with a white halo, and their
line says on what basis the link is made (rv:responseBasis), as the legend explains.
The text equivalent (for screen readers, and anyone) is on the page beside the drawing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from rivalry.graph.describe import ChainLink, TimelineEntry
from rivalry.ontology import NAMESPACE

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)
BOX_W, BOX_H, GAP_X, GAP_Y, STACK_GAP = 176, 62, 44, 34, 10
LANE_LABEL, AXIS_H, MARGIN, RADIUS = 132, 46, 12, 6

#: How each basis of a response link is drawn: colour and dash pattern (so that the
#: difference does not rest on colour alone).
BASIS_STYLES: dict[str | None, tuple[str, str]] = {
    RV + "ExplicitlyStated": ("#1f3b73", ""),
    RV + "ReportedByMedia": ("#7a4b00", "7 4"),
    RV + "AnalystInference": ("#5a5a5a", "2 3"),
    RV + "OfficiallyDenied": ("#b00020", "10 3 2 3"),
    None: ("#555555", ""),
}
FOCUS_FILL, OTHER_FILL, BOX_STROKE = "#ffe8b3", "#eef3fb", "#6a7fa8"


@dataclass(frozen=True)
class LegendEntry:
    kind: str  # "box" or "line"
    label: str
    colour: str
    dash: str = ""


def _wrap(text: str, width: int = 26, lines: int = 2) -> list[str]:
    words, out, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1].rstrip() + "…"
    return [w if len(w) <= width else w[: width - 1] + "…" for w in out]


def _day(value: str) -> date | None:
    """The first day of a date, month or year value (xsd:date, gYearMonth, gYear)."""
    parts = value[:10].split("-")
    try:
        if len(parts) >= 3:
            return date(int(parts[0]), int(parts[1]), int(parts[2][:2]))
        if len(parts) == 2:
            return date(int(parts[0]), int(parts[1]), 1)
        return date(int(parts[0]), 1, 1)
    except ValueError:
        return None


def elapsed(earlier: str, later: str) -> str:
    """The time between two columns, as people say it."""
    a, b = _day(earlier), _day(later)
    if a is None or b is None:
        return ""
    days = (b - a).days
    if days < 1:
        return ""
    if days < 14:
        return f"+{days} day{'s' if days > 1 else ''}"
    if days < 61:
        return f"+{round(days / 7)} weeks"
    if days < 730:
        return f"+{round(days / 30.44)} months"
    return f"+{days / 365.25:.1f} years"


def chain_legend(links: list[ChainLink]) -> list[LegendEntry]:
    entries = [LegendEntry("box", "the action of this page", FOCUS_FILL),
               LegendEntry("box", "another action", OTHER_FILL)]
    bases = {link.basis: link.basis_label for link in links}
    for basis in [b for b in BASIS_STYLES if b in bases]:
        colour, dash = BASIS_STYLES[basis]
        what = (f"responds to, {bases[basis]}" if basis is not None
                else "responds to (basis not stated)")
        entries.append(LegendEntry("line", what, colour, dash))
    return entries


def chain_svg(links: list[ChainLink], nodes: dict[str, TimelineEntry], focus: str,
              href: Callable[[str], str], text_id: str = "chain-text") -> str:
    order = sorted(nodes.values(), key=lambda n: (n.date, n.label))
    dates = sorted({n.date for n in order})
    column = {d: i for i, d in enumerate(dates)}
    first_seen: dict[str, str] = {}
    for n in order:
        first_seen.setdefault(n.state or "other", n.date)
    lanes = sorted(first_seen, key=lambda lane: (first_seen[lane], lane))
    # actions of one lane on one date stack in their column
    slot: dict[str, int] = {}
    depth = {lane: 1 for lane in lanes}
    counter: dict[tuple[str, str], int] = {}
    for n in order:
        key = (n.state or "other", n.date)
        slot[n.action] = counter.get(key, 0)
        counter[key] = slot[n.action] + 1
        depth[key[0]] = max(depth[key[0]], counter[key])
    lane_top: dict[str, float] = {}
    y = MARGIN + AXIS_H + GAP_Y
    for lane in lanes:
        lane_top[lane] = y
        y += depth[lane] * (BOX_H + STACK_GAP) - STACK_GAP + GAP_Y
    height = int(y + MARGIN)
    width = LANE_LABEL + len(dates) * (BOX_W + GAP_X) + MARGIN

    def box(action: str) -> tuple[float, float]:
        n = nodes[action]
        return (LANE_LABEL + column[n.date] * (BOX_W + GAP_X) + GAP_X / 2,
                lane_top[n.state or "other"] + slot[action] * (BOX_H + STACK_GAP))

    focus_x = box(focus)[0] if focus in nodes else 0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chain" width="{width}" '
        f'data-focus-x="{focus_x:.0f}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="chain-title" '
        f'aria-describedby="{text_id}" font-family="system-ui, sans-serif">',
        '<title id="chain-title">Chain of responses, in time from left to right: each '
        "arrow points from a response to the action it answers</title>",
        "<defs>",
    ]
    for i, (colour, _) in enumerate(BASIS_STYLES.values()):
        parts.append(f'<marker id="arrow{i}" viewBox="0 0 10 10" refX="9" refY="5" '
                     'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                     f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{colour}"/></marker>')
    parts.append("</defs>")
    # the time axis
    axis_y = MARGIN + AXIS_H
    parts.append(f'<line x1="{LANE_LABEL}" y1="{axis_y}" x2="{width - MARGIN}" y2="{axis_y}" '
                 'stroke="#888"/>')
    parts.append(f'<text x="{MARGIN}" y="{axis_y - 6}" font-size="12" fill="#555">time →'
                 "</text>")
    previous = None
    for d in dates:
        cx = LANE_LABEL + column[d] * (BOX_W + GAP_X) + GAP_X / 2 + BOX_W / 2
        parts.append(f'<line x1="{cx:.0f}" y1="{axis_y - 5}" x2="{cx:.0f}" y2="{axis_y + 5}" '
                     'stroke="#888"/>')
        parts.append(f'<text x="{cx:.0f}" y="{axis_y - 10}" font-size="12" fill="#222" '
                     f'text-anchor="middle" font-weight="bold">{escape(d)}</text>')
        if previous is not None:
            gap = elapsed(previous, d)
            if gap:
                gx = cx - (BOX_W + GAP_X) / 2
                parts.append(f'<text x="{gx:.0f}" y="{axis_y - 28}" font-size="11" '
                             f'fill="#666" text-anchor="middle">{escape(gap)}</text>')
        previous = d
    # lanes
    for i, lane in enumerate(lanes):
        top = lane_top[lane]
        lane_h = depth[lane] * (BOX_H + STACK_GAP) - STACK_GAP
        if i % 2 == 0:
            parts.append(f'<rect x="0" y="{top - GAP_Y / 2:.0f}" width="{width}" '
                         f'height="{lane_h + GAP_Y:.0f}" fill="#f7f7f7"/>')
        for j, line in enumerate(_wrap(lane, width=16, lines=3)):
            parts.append(f'<text x="{MARGIN}" y="{top + 16 + j * 15:.0f}" font-size="12" '
                         f'font-weight="bold" fill="#333">{escape(line)}</text>')
    # boxes
    for n in order:
        x, y0 = box(n.action)
        fill = FOCUS_FILL if n.action == focus else OTHER_FILL
        title = f"{n.label} ({n.date}{', ' + n.state if n.state else ''})"
        parts.append(f'<a href={quoteattr(href(n.action))}><g class="node">'
                     f"<title>{escape(title)}</title>"
                     f'<rect x="{x:.0f}" y="{y0:.0f}" width="{BOX_W}" height="{BOX_H}" rx="5" '
                     f'fill="{fill}" stroke="{BOX_STROKE}"/>')
        parts.append(f'<text x="{x + 7:.0f}" y="{y0 + 15:.0f}" font-size="11" fill="#555">'
                     f"{escape(n.date)} · {escape(n.kind or '')}</text>")
        for j, line in enumerate(_wrap(n.label, width=27, lines=3)):
            parts.append(f'<text x="{x + 7:.0f}" y="{y0 + 31 + j * 13:.0f}" font-size="11" '
                         f'fill="#111">{escape(line)}</text>')
        parts.append("</g></a>")
    # arrows, above the boxes
    markers = {basis: i for i, basis in enumerate(BASIS_STYLES)}
    corridor_use: dict[tuple[str, float], int] = {}
    gap_use: dict[float, int] = {}
    for link in links:
        if link.source not in nodes or link.target not in nodes:
            continue
        path = _route(link, box, nodes, lanes, lane_top, depth, corridor_use, gap_use)
        style = link.basis if link.basis in BASIS_STYLES else None
        colour, dash = BASIS_STYLES[style]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        label = f"{nodes[link.source].label} responds to {nodes[link.target].label}"
        parts.append(f'<g class="link"><title>{escape(label)}</title>'
                     f'<path d="{path}" fill="none" stroke="#fff" stroke-width="5" '
                     'stroke-linejoin="round"/>'
                     f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.8"'
                     f'{dash_attr} stroke-linejoin="round" '
                     f'marker-end="url(#arrow{markers[style]})"/></g>')
    parts.append("</svg>")
    return "".join(parts)


def _route(link: ChainLink, box: Callable[[str], tuple[float, float]],
           nodes: dict[str, TimelineEntry], lanes: list[str], lane_top: dict[str, float],
           depth: dict[str, int], corridor_use: dict[tuple[str, float], int],
           gap_use: dict[float, int]) -> str:
    """An orthogonal path with rounded corners from the response's box to the answered
    action's box, through the gaps between columns and lanes only."""
    sx, sy = box(link.source)
    tx, ty = box(link.target)
    y1, y2 = sy + BOX_H / 2, ty + BOX_H / 2
    # leave the response on its left, in the gap before its column
    x1 = sx
    gap_s = sx - GAP_X / 2
    gap_s += _spread(gap_use, gap_s)
    if tx + BOX_W <= sx - GAP_X / 2:  # the answered action is in an earlier column
        x2 = tx + BOX_W
        gap_t = tx + BOX_W + GAP_X / 2
        if abs(gap_t - (sx - GAP_X / 2)) < 1:  # adjacent columns: one gap serves both
            return _orthogonal([(x1, y1), (gap_s, y1), (gap_s, y2), (x2, y2)])
        gap_t += _spread(gap_use, gap_t)
        source_lane = nodes[link.source].state or "other"
        target_lane = nodes[link.target].state or "other"
        si, ti = lanes.index(source_lane), lanes.index(target_lane)
        if ti <= si:  # the gap above the source's lane
            corridor = lane_top[source_lane] - GAP_Y / 2
        else:  # the gap below it
            corridor = (lane_top[source_lane]
                        + depth[source_lane] * (BOX_H + STACK_GAP) - STACK_GAP + GAP_Y / 2)
        corridor += _spread(corridor_use, (source_lane, corridor), step=5)
        return _orthogonal([(x1, y1), (gap_s, y1), (gap_s, corridor), (gap_t, corridor),
                            (gap_t, y2), (x2, y2)])
    # same column (same date) or drawn later: enter the answered action from the left
    x2 = tx
    return _orthogonal([(x1, y1), (gap_s, y1), (gap_s, y2), (x2, y2)])


def _spread(use: dict, key: object, step: float = 4) -> float:
    """Offsets for paths that share a gap, so that they can be told apart."""
    n = use.get(key, 0)
    use[key] = n + 1
    return ((n + 1) // 2) * step * (1 if n % 2 else -1) if n else 0.0


def _orthogonal(points: list[tuple[float, float]]) -> str:
    """SVG path data through `points`, with rounded corners."""
    points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    d = f"M {points[0][0]:.1f} {points[0][1]:.1f}"
    for i in range(1, len(points) - 1):
        (ax, ay), (bx, by), (cx, cy) = points[i - 1], points[i], points[i + 1]
        r1 = min(RADIUS, abs(bx - ax) / 2 + abs(by - ay) / 2)
        r2 = min(RADIUS, abs(cx - bx) / 2 + abs(cy - by) / 2)
        r = min(r1, r2)
        if r <= 0:
            d += f" L {bx:.1f} {by:.1f}"
            continue
        px = bx - r * _sign(bx - ax)
        py = by - r * _sign(by - ay)
        qx = bx + r * _sign(cx - bx)
        qy = by + r * _sign(cy - by)
        d += f" L {px:.1f} {py:.1f} Q {bx:.1f} {by:.1f} {qx:.1f} {qy:.1f}"
    d += f" L {points[-1][0]:.1f} {points[-1][1]:.1f}"
    return d


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)
