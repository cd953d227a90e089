"""Writing query answers: SPARQL results (JSON, XML, CSV, TSV) for SELECT and ASK, and
RDF (through pyoxigraph) for CONSTRUCT and DESCRIBE.

Most answers are written by pyoxigraph's own serializer, from a query whose top-level
LIMIT the endpoint has set to one more than its row cap (`trim_rows` then counts the
rows and drops the extra one, which says the answer was cut). The Python writers here
serve the rest (pages, queries that cannot be rewritten, answers from a remote store);
they follow the W3C Recommendations: SPARQL 1.1 Query Results JSON Format, XML Format,
and CSV and TSV Formats.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from rivalry.graph import Term
from rivalry.graph.errors import FormatCannotHold
from rivalry.graph.iri import ends_in_xml_name

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

Row = Sequence[Term | None]


@dataclass
class Answer:
    """A query's answer, held in memory within the row limit."""

    kind: str  # "select", "ask" or "graph"
    variables: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    boolean: bool = False
    triples: list[ox.Triple] = field(default_factory=list)
    truncated: bool = False
    limit: int | None = None
    #: the answer already written (by pyoxigraph), and the media type of its format (a
    #: string, so that an Answer can cross a process boundary)
    body: bytes | None = None
    body_format: str | None = None


def collect_answer(raw: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | Iterable,
                   row_limit: int) -> Answer:
    """Read a pyoxigraph result (or an iterable of triples) into an Answer, keeping at
    most `row_limit` rows or triples and saying whether there were more."""
    if isinstance(raw, ox.QueryBoolean):
        return Answer("ask", boolean=bool(raw))
    if isinstance(raw, ox.QuerySolutions):
        names = [v.value for v in raw.variables]
        variables = raw.variables
        rows: list[Row] = []
        for solution in raw:
            if len(rows) == row_limit:
                return Answer("select", names, rows, truncated=True, limit=row_limit)
            rows.append([solution[v] for v in variables])
        return Answer("select", names, rows)
    triples: list[ox.Triple] = []
    for triple in raw:
        if len(triples) == row_limit:
            return Answer("graph", triples=triples, truncated=True, limit=row_limit)
        triples.append(triple)
    return Answer("graph", triples=triples)


def _json_term(term: Term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    raise TypeError(term)


def to_json(answer: Answer) -> bytes:
    if answer.kind == "ask":
        return json.dumps({"head": {}, "boolean": answer.boolean}).encode()
    bindings = [{v: _json_term(t) for v, t in zip(answer.variables, row, strict=True)
                 if t is not None} for row in answer.rows]
    doc: dict = {"head": {"vars": answer.variables}, "results": {"bindings": bindings}}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xml_term(term: Term) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return (f"<literal datatype={quoteattr(term.datatype.value)}>"
                    f"{escape(term.value)}</literal>")
        return f"<literal>{escape(term.value)}</literal>"
    if isinstance(term, ox.Triple):
        return (f"<triple><subject>{_xml_term(term.subject)}</subject>"
                f"<predicate>{_xml_term(term.predicate)}</predicate>"
                f"<object>{_xml_term(term.object)}</object></triple>")
    raise TypeError(term)


def to_xml(answer: Answer) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n'
           '<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
    if answer.kind == "ask":
        out.append(f"</head><boolean>{'true' if answer.boolean else 'false'}</boolean></sparql>")
        return "".join(out).encode("utf-8")
    out.extend(f"<variable name={quoteattr(v)}/>" for v in answer.variables)
    out.append("</head><results>")
    for row in answer.rows:
        out.append("<result>")
        out.extend(f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>"
                   for v, t in zip(answer.variables, row, strict=True) if t is not None)
        out.append("</result>")
    out.append("</results></sparql>")
    return "".join(out).encode("utf-8")


def _csv_value(term: Term | None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.Triple):
        return str(term)
    return term.value


def to_csv(answer: Answer) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if answer.kind == "ask":
        writer.writerow(["_askResult"])
        writer.writerow(["true" if answer.boolean else "false"])
    else:
        writer.writerow(answer.variables)
        writer.writerows([_csv_value(t) for t in row] for row in answer.rows)
    return buffer.getvalue().encode("utf-8")


def _tsv_value(term: Term | None) -> str:
    # RDF terms in Turtle/N-Triples syntax, as the TSV format asks; pyoxigraph's str()
    # gives exactly that, with tabs and newlines in literals escaped.
    return "" if term is None else str(term)


def to_tsv(answer: Answer) -> bytes:
    if answer.kind == "ask":
        return f"?_askResult\n{'true' if answer.boolean else 'false'}\n".encode()
    lines = ["\t".join(f"?{v}" for v in answer.variables)]
    lines.extend("\t".join(_tsv_value(t) for t in row) for row in answer.rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


RESULT_WRITERS = {
    ox.QueryResultsFormat.JSON: to_json,
    ox.QueryResultsFormat.XML: to_xml,
    ox.QueryResultsFormat.CSV: to_csv,
    ox.QueryResultsFormat.TSV: to_tsv,
}


def check_writable(predicates: Iterable[str], fmt: ox.RdfFormat) -> None:
    """Refuse (FormatCannotHold) to write RDF/XML with a predicate that does not end in an
    XML name, which pyoxigraph would write as XML no parser reads. Other formats take
    any predicate, and nothing is read of `predicates` for them."""
    if fmt != ox.RdfFormat.RDF_XML:
        return
    for predicate in predicates:
        if not ends_in_xml_name(predicate):
            raise FormatCannotHold(
                f"RDF/XML cannot write the predicate <{predicate}>: an RDF/XML property is "
                "an XML element, and this IRI does not end in an XML name (a letter or _ "
                "then letters, digits, - . _); ask for Turtle, N-Triples or JSON-LD")


#: What XML 1.0 (2.2) cannot hold, not even as a character reference: the C0 controls
#: but tab, line feed and carriage return, and U+FFFE and U+FFFF, as UTF-8 bytes (a
#: surrogate cannot be in UTF-8 at all).
_NOT_XML = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")


def check_xml_characters(body: bytes, fmt: ox.RdfFormat | ox.QueryResultsFormat) -> bytes:
    """`body` when it is XML a parser reads: refuse (FormatCannotHold) an RDF/XML or SPARQL
    XML results document holding a character XML 1.0 cannot hold (a NUL, a vertical tab
    in a literal), naming it; any other format's body passes as it is."""
    if fmt not in (ox.RdfFormat.RDF_XML, ox.QueryResultsFormat.XML):
        return body
    found = _NOT_XML.search(body)
    if found is None:
        return body
    char = found.group().decode("utf-8")
    others = ("Turtle, N-Triples or JSON-LD" if fmt == ox.RdfFormat.RDF_XML
              else "JSON, CSV or TSV results")
    raise FormatCannotHold(f"the answer holds the character U+{ord(char):04X}, which XML 1.0 "
                           f"cannot hold, not even escaped; ask for {others}")


def write_triples(triples: Sequence[ox.Triple], fmt: ox.RdfFormat,
                  prefixes: dict[str, str] | None = None) -> bytes:
    """Triples in an RDF format, natively by pyoxigraph: in the default graph for the
    formats with named graphs; in Turtle and TriG, with the prefixes of `prefixes` that
    the triples use (`prefixes_used`); RDF/XML refused for a predicate it cannot write
    (`check_writable`), as is an RDF/XML document holding a character XML cannot
    (`check_xml_characters`). Every answer, entity document and command that writes
    triples goes through here."""
    check_writable((t.predicate.value for t in triples), fmt)
    data = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())
            for t in triples] if fmt.supports_datasets else triples
    use = (prefixes_used(triples, prefixes)
           if prefixes and fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else None)
    written = ox.serialize(data, format=fmt, prefixes=use) or b""
    return check_xml_characters(prefixes_in_order(written) if use else written, fmt)


def prefixes_in_order(document: bytes) -> bytes:
    """A Turtle or TriG document with its `@prefix` lines in the order of their names:
    pyoxigraph writes them in the order of its own hash table, which a reader takes for
    disorder and which no two versions of a document need share."""
    end = 0  # the prefix lines are read and sorted; the rest is not split or copied twice
    while document.startswith(b"@prefix ", end):
        newline = document.find(b"\n", end)
        if newline < 0:
            return b"\n".join(sorted(document.split(b"\n")))
        end = newline + 1
    return b"".join(sorted(document[:end].splitlines(keepends=True))) + document[end:]


_XSD = "http://www.w3.org/2001/XMLSchema#"
#: Literals Turtle writes without a datatype: strings and language-tagged strings, and
#: numbers and booleans in the forms of its shorthand grammar (Turtle 1.1, 2.5.2).
_BARE = (XSD_STRING, RDF_LANGSTRING)
_SHORTHAND = {
    _XSD + "integer": re.compile(r"[+-]?\d+"),
    _XSD + "decimal": re.compile(r"[+-]?\d*\.\d+"),
    _XSD + "double": re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)[eE][+-]?\d+"),
    _XSD + "boolean": re.compile(r"true|false"),
}


def prefixes_used(triples: Iterable[ox.Triple], prefixes: dict[str, str]) -> dict[str, str]:
    """The prefixes of `prefixes` whose namespace holds an IRI of the triples (a subject,
    predicate, object or literal's datatype, quoted triples included), so that a document
    declares what it uses rather than every prefix the project knows. A namespace is found
    by cutting each IRI after its last `/` or `#`; a namespace ending otherwise is never
    declared, and its IRIs are written whole, which reads the same."""
    namespaces = {ns: prefix for prefix, ns in prefixes.items()}
    found: set[str] = set()
    seen: set[str] = set()

    def visit(term: object) -> None:
        if isinstance(term, ox.NamedNode):
            iri = term.value
        elif isinstance(term, ox.Literal):
            iri = term.datatype.value
            if iri in _BARE or (iri in _SHORTHAND and _SHORTHAND[iri].fullmatch(term.value)):
                return  # written without its datatype
        elif isinstance(term, ox.Triple):
            visit(term.subject)
            visit(term.predicate)
            visit(term.object)
            return
        else:
            return
        if iri in seen:
            return
        seen.add(iri)
        cut = max(iri.rfind("/"), iri.rfind("#")) + 1
        if cut and iri[:cut] in namespaces:
            found.add(iri[:cut])

    for triple in triples:
        visit(triple.subject)
        if triple.predicate.value != RDF_TYPE:  # written `a`
            visit(triple.predicate)
        visit(triple.object)
    return {namespaces[ns]: ns for ns in sorted(found, key=lambda ns: namespaces[ns])}


def write(answer: Answer, fmt: ox.QueryResultsFormat | ox.RdfFormat,
          prefixes: dict[str, str] | None = None) -> bytes:
    """Serialize an answer: results formats for SELECT/ASK, RDF formats for graphs."""
    if answer.kind == "graph":
        assert isinstance(fmt, ox.RdfFormat)
        return write_triples(answer.triples, fmt, prefixes)
    assert isinstance(fmt, ox.QueryResultsFormat)
    return check_xml_characters(RESULT_WRITERS[fmt](answer), fmt)


def trim_rows(body: bytes, fmt: ox.QueryResultsFormat, keep: int) -> tuple[bytes, bool]:
    """Cut a results document pyoxigraph wrote to at most `keep` rows; say whether it was.

    The query was asked for `keep + 1` rows, so one row goes at most, though any excess
    is cut. Counting is exact and cheap where the format allows it (XML escapes `<` in
    values, TSV escapes line breaks); JSON and CSV documents are parsed only when a
    cheap upper bound on their rows says they may hold more than `keep`.
    """
    if fmt == ox.QueryResultsFormat.XML:
        parts = body.split(b"<result>", keep + 1)
        if len(parts) <= keep + 1:
            return body, False
        return b"<result>".join(parts[:keep + 1]) + b"</results></sparql>", True
    if fmt == ox.QueryResultsFormat.TSV:
        lines = body.split(b"\n", keep + 1)  # the header, then a line per row
        if len(lines) <= keep + 1 or lines[keep + 1] == b"":
            return body, False
        return b"\n".join(lines[:keep + 1]) + b"\n", True
    if fmt == ox.QueryResultsFormat.CSV:
        if body.count(b"\n") - 1 <= keep:  # line breaks in quoted values only add lines
            return body, False
        table = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
        if len(table) - 1 <= keep:
            return body, False
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(table[:keep + 1])
        return buffer.getvalue().encode("utf-8"), True
    # JSON: `},{` separates consecutive bindings (string values may add more), so its
    # count bounds the rows from above
    if body.count(b"},{") + 1 <= keep:
        return body, False
    return _trim_compact_json(body, keep) or _trim_json(body, keep)


#: Where a JSON results document's rows begin: the first `"bindings": [` (in a string, a
#: quote is escaped, so no string value matches it)
_BINDINGS = re.compile(r'"bindings"\s*:\s*\[\s*')
_SPACE = re.compile(r"\s*")


#: How pyoxigraph begins a JSON results document, and what follows its head's last variable
_COMPACT_HEAD = b'{"head":{"vars":['
_COMPACT_ROWS = b']},"results":{"bindings":['
#: A separator of rows in that layout (`},{"` and a variable's first character), or `},{}`
_COMPACT_SEPARATOR = re.compile(rb'\},\{(?:"[^},]|\})')


def _trim_compact_json(body: bytes, keep: int) -> tuple[bytes, bool] | None:
    """`trim_rows` for a JSON document in pyoxigraph's compact layout, by finding its rows'
    separators rather than decoding the rows (a search in C, where decoding runs a loop
    in Python per row); None for any other document, which `_trim_json` reads row by row.

    In that layout `},{"` separates two rows whenever the next row binds a variable: a
    `{"` outside strings opens an object with a key, and within a row an object follows
    `:`, never `,`. Inside a string a `"` is escaped, so `},{"` there has the string's
    closing quote, which a `}` or a `,` follows, never a variable's name. An empty row
    (`{}`, no variable bound) has no such mark, and `},{}` may also be the text of a
    string: a document holding it is left to `_trim_json`, as is one with more than
    `keep + 1` rows (the endpoint asks for one more than it keeps)."""
    if not body.startswith(_COMPACT_HEAD) or not body.endswith(b"]}}"):
        return None
    head_end = body.find(b"]", len(_COMPACT_HEAD))  # variable names hold no bracket
    if head_end < 0 or not body.startswith(_COMPACT_ROWS, head_end):
        return None
    rows_start = head_end + len(_COMPACT_ROWS)
    if body[rows_start:rows_start + 1] == b"]":
        return body, False  # no rows
    marks = _COMPACT_SEPARATOR.findall(body, rows_start)
    if b"},{}" in marks:
        return None
    rows = len(marks) + 1
    if rows <= keep:
        return body, False
    if rows > keep + 1:
        return None
    if keep == 0:
        return body[:rows_start] + b"]}}", True
    end = len(body)
    while True:  # the last separator: the kept rows end before it
        end = body.rfind(b'},{"', rows_start, end)
        if end < 0:
            return None
        if body[end + 4:end + 5] not in (b"}", b","):
            return body[:end + 1] + b"]}}", True


def _trim_json(body: bytes, keep: int) -> tuple[bytes, bool]:
    """`trim_rows` for JSON: the rows are read one by one, each by the JSON decoder, to
    where the `keep`-th ends, and the document is cut there, around its bytes as written
    (rather than parsing the whole document and writing it again, which costs more). A
    document not laid out as expected is parsed whole."""
    text = body.decode("utf-8")
    decoder = json.JSONDecoder()
    start = _BINDINGS.search(text)
    try:
        if start is None:
            raise ValueError("no bindings")
        pos, rows, cut = start.end(), 0, 0
        while text[pos] != "]":
            pos = decoder.raw_decode(text, pos)[1]
            rows += 1
            if rows == keep:
                cut = pos
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] == ",":
                pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            elif text[pos] != "]":
                raise ValueError("not a list of rows")
    except (ValueError, IndexError):
        doc = json.loads(body)
        found = doc["results"]["bindings"]
        if len(found) <= keep:
            return body, False
        del found[keep:]
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), True
    if rows <= keep:
        return body, False
    kept = text[:cut] if keep else text[:start.end()].rstrip()
    return (kept + text[pos:]).encode("utf-8"), True
