"""Canned queries: the .rq files in graph/queries (CONTRIBUTING.md, convention 8).

Each file starts with header comments:

    # title: Every measure against a company
    # description: For a given company, every measure that targets it, ...
    # param: company <https://w3id.org/rivalry/id/company/huawei> the company

A parameter is a variable of the query. Its value is bound to that variable when the
query runs (pyoxigraph substitutions), never formatted into the query text, so a
value cannot change what the query does. The default is a term in N-Triples syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from rivalry.graph import Term, queries_dir
from rivalry.graph.errors import InvalidInput, QueryError, SourceLocation
from rivalry.graph.results import Answer
from rivalry.graph.sparql import group_start
from rivalry.graph.store import QueryLimits, Store

_HEADER = re.compile(r"^#\s*(title|description):\s*(.+?)\s*$")
_PARAM = re.compile(r"^#\s*param:\s*([A-Za-z_][A-Za-z0-9_]*)\s+"
                    r"(<[^>]+>|\"[^\"]*\"(?:\^\^<[^>]+>|@[A-Za-z-]+)?)\s*(.*)$")
XSD = "http://www.w3.org/2001/XMLSchema#"


@dataclass(frozen=True)
class Param:
    name: str
    default: ox.NamedNode | ox.Literal
    description: str

    def parse(self, text: str) -> ox.NamedNode | ox.Literal:
        """A value for this parameter, of the default's kind (an IRI, or a literal of the
        default's datatype), checked."""
        text = text.strip()
        if isinstance(self.default, ox.NamedNode):
            iri = text[1:-1] if text.startswith("<") and text.endswith(">") else text
            if not re.match(r"^https?://[^\s<>\"{}|^`\\]+$", iri):
                raise QueryError(f"parameter {self.name}: {text!r} is not an http(s) IRI")
            return ox.NamedNode(iri)
        datatype = self.default.datatype
        literal = ox.Literal(text, datatype=datatype)
        if datatype.value != XSD + "string":
            from rivalry.graph.load import ill_typed

            if ill_typed(text, datatype.value):
                raise QueryError(f"parameter {self.name}: {text!r} is not a valid "
                                 f"{datatype.value.removeprefix(XSD)}")
        return literal


@dataclass(frozen=True)
class CannedQuery:
    name: str
    title: str
    description: str
    text: str
    path: Path
    params: tuple[Param, ...] = field(default=())

    def bindings(self, values: dict[str, str] | None = None) -> dict[str, Term]:
        values = dict(values or {})
        unknown = set(values) - {p.name for p in self.params}
        if unknown:
            raise QueryError(f"{self.name} has no parameter {', '.join(sorted(unknown))}; "
                             f"its parameters: {', '.join(p.name for p in self.params) or 'none'}")
        return {p.name: p.parse(values[p.name]) if p.name in values else p.default
                for p in self.params}

    def text_with_defaults(self) -> str:
        """The query with its defaults in a VALUES block, for people to read and run in
        the query editor. The server itself binds values; this text is only shown."""
        if not self.params:
            return self.text
        names = " ".join(f"?{p.name}" for p in self.params)
        values = " ".join(str(p.default) for p in self.params)
        block = f"\n  VALUES ({names}) {{ ({values}) }}"
        at = group_start(self.text)
        if at is None:
            return self.text
        return self.text[:at] + block + self.text[at:]


def _term(text: str, path: Path) -> ox.NamedNode | ox.Literal:
    try:
        quads = list(ox.parse(f"<urn:s> <urn:p> {text} .", format=ox.RdfFormat.N_TRIPLES))
    except SyntaxError as e:
        raise InvalidInput(SourceLocation(str(path)),
                           f"bad parameter default {text}: {e}") from None
    return quads[0].object


def read_canned(path: Path) -> CannedQuery:
    text = path.read_text("utf-8")
    meta: dict[str, str] = {}
    params = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            meta[match.group(1)] = match.group(2)
        param = _PARAM.match(line)
        if param:
            params.append(Param(param.group(1), _term(param.group(2), path), param.group(3)))
    missing = [k for k in ("title", "description") if k not in meta]
    if missing:
        raise InvalidInput(SourceLocation(str(path), 1),
                           f"canned query without {' or '.join(missing)}",
                           "start the file with '# title: ...' and '# description: ...' lines")
    for p in params:
        if not re.search(rf"[?$]{p.name}\b", text.split("\n", len(meta) + len(params))[-1]):
            raise InvalidInput(SourceLocation(str(path)),
                               f"parameter {p.name} is not a variable of the query")
    return CannedQuery(path.stem, meta["title"], meta["description"], text, path, tuple(params))


def canned_queries(directory: Path | None = None) -> list[CannedQuery]:
    """Every canned query, in file name order."""
    folder = directory or Path(str(queries_dir()))
    return [read_canned(p) for p in sorted(folder.glob("*.rq"))]


def canned_query(name: str, directory: Path | None = None) -> CannedQuery:
    for query in canned_queries(directory):
        if query.name == name:
            return query
    raise QueryError(f"no canned query called {name!r}")


def run_canned(store: Store, query: CannedQuery, values: dict[str, str] | None = None,
               limits: QueryLimits | None = None) -> Answer:
    """Run a canned query with its parameters bound, under the endpoint's limits."""
    return store.execute(query.text, limits or QueryLimits(), bindings=query.bindings(values))
