"""Response chains drawn as SVG on the server: actions in date order from left to right,
one lane per issuing state, an arrow from each response to what it answers."""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

from rivalry.graph.describe import ChainLink, TimelineEntry

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN, LANE_LABEL = 210, 64, 40, 40, 16, 150


def _wrap(text: str, width: int = 30, lines: int = 2) -> list[str]:
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
    return out


def chain_svg(links: list[ChainLink], nodes: dict[str, TimelineEntry], focus: str,
              href: Callable[[str], str]) -> str:
    order = sorted(nodes.values(), key=lambda n: (n.date, n.label))
    lanes = sorted({n.state or "other" for n in order})
    x_of = {n.action: LANE_LABEL + MARGIN + i * (BOX_W + GAP_X) for i, n in enumerate(order)}
    y_of = {n.action: MARGIN + lanes.index(n.state or "other") * (BOX_H + GAP_Y)
            for n in order}
    width = LANE_LABEL + 2 * MARGIN + len(order) * (BOX_W + GAP_X)
    height = 2 * MARGIN + len(lanes) * (BOX_H + GAP_Y)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chain" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'aria-label="Chain of responses">',
        "<title>Chain of responses: each arrow points from a response to what it answers"
        "</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for i, lane in enumerate(lanes):
        y = MARGIN + i * (BOX_H + GAP_Y) + BOX_H / 2
        for j, line in enumerate(_wrap(lane, width=20, lines=3)):
            parts.append(f'<text x="{MARGIN}" y="{y - 8 + j * 15:.0f}" class="lane" '
                         f'font-size="13" font-weight="bold" fill="#333">{escape(line)}</text>')
    for link in links:
        if link.source not in x_of or link.target not in x_of:
            continue
        x1, y1 = x_of[link.source], y_of[link.source] + BOX_H / 2
        x2, y2 = x_of[link.target] + BOX_W, y_of[link.target] + BOX_H / 2
        if x1 < x2:  # a response drawn left of what it answers (same-day ordering)
            x1, x2 = x_of[link.source] + BOX_W, x_of[link.target]
        parts.append(f'<path d="M {x1} {y1:.0f} C {(x1 + x2) / 2:.0f} {y1:.0f} '
                     f'{(x1 + x2) / 2:.0f} {y2:.0f} {x2} {y2:.0f}" fill="none" stroke="#555" '
                     'stroke-width="1.5" marker-end="url(#arrow)"/>')
    for n in order:
        x, y = x_of[n.action], y_of[n.action]
        fill = "#ffe8b3" if n.action == focus else "#eef3fb"
        parts.append(f'<a href={quoteattr(href(n.action))}><g class="node">'
                     f"<title>{escape(n.label)} ({escape(n.date)})</title>"
                     f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                     f'fill="{fill}" stroke="#6a7fa8"/>')
        parts.append(f'<text x="{x + 8}" y="{y + 16}" font-size="11" fill="#555">'
                     f"{escape(n.date)} · {escape(n.kind or '')}</text>")
        for j, line in enumerate(_wrap(n.label)):
            parts.append(f'<text x="{x + 8}" y="{y + 34 + j * 15}" font-size="12" '
                         f'fill="#111">{escape(line)}</text>')
        parts.append("</g></a>")
    parts.append("</svg>")
    return "".join(parts)
