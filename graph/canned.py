"""Canned queries: the .rq files in graph/queries, each with a title and a description
in its header comments (STYLE.md, habit 8)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rivalry.graph import queries_dir
from rivalry.graph.errors import InvalidInput, SourceLocation

_HEADER = re.compile(r"^#\s*(title|description):\s*(.+?)\s*$")


@dataclass(frozen=True)
class CannedQuery:
    name: str
    title: str
    description: str
    text: str
    path: Path


def read_canned(path: Path) -> CannedQuery:
    text = path.read_text("utf-8")
    meta: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            meta[match.group(1)] = match.group(2)
    missing = [k for k in ("title", "description") if k not in meta]
    if missing:
        raise InvalidInput(SourceLocation(str(path), 1),
                           f"canned query without {' or '.join(missing)}",
                           "start the file with '# title: ...' and '# description: ...' lines")
    return CannedQuery(path.stem, meta["title"], meta["description"], text, path)


def canned_queries(directory: Path | None = None) -> list[CannedQuery]:
    """Every canned query, in file name order."""
    folder = directory or Path(str(queries_dir()))
    return [read_canned(p) for p in sorted(folder.glob("*.rq"))]
