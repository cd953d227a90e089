"""Reading RDF files into quads, with errors that say which file, where and why.

Facts are parsed with pyoxigraph: it is fast and reports exact line and column for
syntax errors, which curators need. Each facts file becomes one named graph.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pyoxigraph as ox

from rivalry.graph import FACTS_GRAPH_BASE, ID_BASE, ONTOLOGY_GRAPH
from rivalry.graph.errors import InvalidInput, InvalidOntology, SourceLocation
from rivalry.ontology import NAMESPACE, ontology_file

#: File extensions we read, and the format each means.
FORMATS_BY_SUFFIX: dict[str, ox.RdfFormat] = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
    ".xml": ox.RdfFormat.RDF_XML,
}


@dataclass(frozen=True)
class FactsFile:
    """One curated facts file, parsed into its own named graph."""

    path: Path
    name: str
    graph: ox.NamedNode
    quads: list[ox.Quad]


def format_for(path: Path, fmt: str | None = None) -> ox.RdfFormat:
    """The RDF format of a file, from an explicit name or extension, or from its suffix."""
    if fmt:
        key = fmt if fmt.startswith(".") else "." + fmt
        aliases = {".turtle": ".ttl", ".ntriples": ".nt", ".nquads": ".nq", ".json-ld": ".jsonld",
                   ".rdfxml": ".rdf", ".xml": ".rdf"}
        key = aliases.get(key.lower(), key.lower())
        if key not in FORMATS_BY_SUFFIX:
            raise InvalidInput(SourceLocation(str(path)), f"unknown format {fmt!r}",
                               "use one of: turtle, trig, ntriples, nquads, jsonld, rdfxml")
        return FORMATS_BY_SUFFIX[key]
    suffix = path.suffix.lower()
    if suffix not in FORMATS_BY_SUFFIX:
        raise InvalidInput(
            SourceLocation(str(path)),
            f"cannot tell the RDF format from the extension {suffix or '(none)'!r}",
            "name the file .ttl, .trig, .nt, .nq, .jsonld or .rdf, or pass --format",
        )
    return FORMATS_BY_SUFFIX[suffix]


def byte_location(data: bytes, offset: int, label: str) -> SourceLocation:
    """The line and column (from 1) of a byte of a file."""
    line = data.count(b"\n", 0, offset) + 1
    return SourceLocation(label, line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1)


def utf8_text(data: bytes, label: str, hint: str = "save it as UTF-8") -> str:
    """A file's text, read as UTF-8 (a byte-order mark is dropped); anything else is
    refused, naming the line and column of the first byte that is not UTF-8 (read with
    replacement characters, the text would be something else than was sent)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput(byte_location(data, e.start, label),
                           "the file is not UTF-8", hint) from None


def parse_rdf(
    data: bytes,
    fmt: ox.RdfFormat,
    *,
    label: str,
    base_iri: str = ID_BASE,
    graph: ox.NamedNode | ox.DefaultGraph | None = None,
    contexts: Mapping[str, Any] | None = None,
) -> list[ox.Quad]:
    """Parse RDF bytes into quads; `graph` puts triples in that graph. A JSON-LD
    `@context` naming one of `contexts` (by IRI) is read from there, never fetched
    (`inline_contexts`).

    Raises InvalidInput naming `label`, the line and column, and the parser's message.
    """
    utf8_text(data, label)
    if fmt == ox.RdfFormat.RDF_XML:
        check_xml_entities(data, label)
    if fmt == ox.RdfFormat.JSON_LD:
        check_json_depth(data, label)
        data = inline_contexts(data, contexts or {}, label)
    else:
        check_triple_term_depth(data, label)
    try:
        parsed = ox.parse(data, format=fmt, base_iri=base_iri,
                          without_named_graphs=graph is not None)
        quads = list(parsed) if graph is None else [
            ox.Quad(q.subject, q.predicate, q.object, graph) for q in parsed]
    except SyntaxError as e:
        if "LoadDocumentCallback" in str(e):
            raise InvalidInput(SourceLocation(label), "the JSON-LD refers to a remote @context, "
                               "which is never fetched", "inline the @context object") from None
        # pyoxigraph reports "Parser error at line L between columns A and B: message"
        message = str(e)
        reason = message.split(": ", 1)[1] if ": " in message else message
        reason = re.sub(r" \(line \d+\)$", "", reason)
        # the parser quotes what it found: a control character (a NUL, a bidi override)
        # is shown escaped, never written to the curator's terminal or page as it is
        reason = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in reason)
        raise InvalidInput(SourceLocation(label, e.lineno, e.offset),
                           f"{fmt.name} syntax error: {reason}") from None
    except (ValueError, OSError) as e:
        raise InvalidInput(SourceLocation(label), f"cannot be read as {fmt.name}: {e}") from None
    check_literals(quads, data, label)
    return quads


XSD = "http://www.w3.org/2001/XMLSchema#"
_TZ = r"(Z|[+-](0\d|1[0-4]):[0-5]\d)?"
#: The lexical forms of the XSD datatypes facts use, checked on every literal as it is
#: read (a regular expression, then the calendar for dates): an impossible value such as
#: "2023-07-32"^^xsd:date is an input error with a place, not a surprise later.
_LEXICAL = {
    XSD + "date": re.compile(rf"-?(\d{{4,}})-(\d\d)-(\d\d){_TZ}"),
    XSD + "dateTime": re.compile(rf"-?(\d{{4,}})-(\d\d)-(\d\d)T([01]\d|2[0-4]):[0-5]\d:[0-5]\d"
                                 rf"(\.\d+)?{_TZ}"),
    XSD + "gYearMonth": re.compile(rf"-?(\d{{4,}})-(\d\d){_TZ}"),
    XSD + "gYear": re.compile(rf"-?(\d{{4,}}){_TZ}"),
    XSD + "integer": re.compile(r"[+-]?\d+"),
    XSD + "decimal": re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
    XSD + "boolean": re.compile(r"true|false|1|0"),
}
#: The datatypes whose values are checked as they are read.
CHECKED_DATATYPES = tuple(_LEXICAL)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def literal_problem(lexical: str, datatype: str) -> str | None:
    """Why a literal's lexical form is not valid for its XSD datatype, or None."""
    import calendar

    pattern = _LEXICAL.get(datatype)
    if pattern is None:
        return None
    name = "xsd:" + datatype.removeprefix(XSD)
    match = pattern.fullmatch(lexical)
    if match is None:
        examples = {"date": "2025-01-03", "dateTime": "2025-01-03T09:30:00Z",
                    "gYearMonth": "2025-01", "gYear": "2025", "integer": "42",
                    "decimal": "4.2", "boolean": "true or false"}
        return (f"{lexical!r} is not a valid {name} (written like "
                f"{examples[datatype.removeprefix(XSD)]})")
    if datatype in (XSD + "date", XSD + "dateTime", XSD + "gYearMonth"):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            return f"{lexical!r} is not a valid {name}: there is no month {month}"
        if datatype != XSD + "gYearMonth":
            day = int(match.group(3))
            last = calendar.monthrange(year if year > 0 else 2000, month)[1]
            if not 1 <= day <= last:
                return (f"{lexical!r} is not a valid {name}: {_MONTHS[month - 1]} {year} "
                        f"has {last} days, not {day}")
    return None


def check_literals(quads: list[ox.Quad], data: bytes, label: str) -> None:
    """Refuse a typed literal whose value cannot exist, naming the value and where the
    file has it (line and column of its first occurrence)."""
    for quad in quads:
        term = quad.object
        if not isinstance(term, ox.Literal) or term.datatype.value not in _LEXICAL:
            continue
        problem = literal_problem(term.value, term.datatype.value)
        if problem is None:
            continue
        line = column = None
        text = data.decode("utf-8", errors="replace")
        for needle in (f'"{term.value}"', f"'{term.value}'", f">{term.value}<", term.value):
            at = text.find(needle)
            if at >= 0:
                line = text.count("\n", 0, at) + 1
                column = at - (text.rfind("\n", 0, at) + 1) + 1
                break
        raise InvalidInput(SourceLocation(label, line, column), problem,
                           f"used with <{quad.predicate.value}>")


def read_rdf_file(path: Path, fmt: str | None = None, *,
                  graph: ox.NamedNode | None = None) -> list[ox.Quad]:
    """Read one RDF file of any supported format."""
    rdf_format = format_for(path, fmt)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InvalidInput(SourceLocation(str(path)), f"cannot be read: {e.strerror}") from None
    return parse_rdf(data, rdf_format, label=str(path), graph=graph)


def load_ontology(path: Path | None = None) -> list[ox.Quad]:
    """The ontology's triples, in the ontology graph."""
    source = path or Path(str(ontology_file()))
    try:
        return canonical(read_rdf_file(source, graph=ox.NamedNode(ONTOLOGY_GRAPH)),
                         scope="ontology")
    except InvalidInput as e:
        raise InvalidOntology(f"the ontology cannot be read: {e.message}") from None


def graph_for(name: str) -> ox.NamedNode:
    """The named graph that holds the facts file called `name` (its path without suffix)."""
    return ox.NamedNode(FACTS_GRAPH_BASE + name)


def facts_files(directory: Path) -> list[Path]:
    """The facts files under a directory, in a stable order."""
    if not directory.is_dir():
        raise InvalidInput(SourceLocation(str(directory)), "no such facts directory")
    return sorted(p for p in directory.rglob("*.ttl") if p.is_file())


def load_facts(directory: Path,
               on_file: Callable[[int, int, int], None] | None = None) -> list[FactsFile]:
    """Parse every Turtle file under `directory`, each into its own named graph.

    Blank nodes are given canonical labels per file (RDFC-1.0), so the same files always
    give the same quads and a rebuild gives the same store. `on_file(done, total,
    triples)` is called after each file, for progress reports.
    """
    loaded: list[FactsFile] = []
    paths = facts_files(directory)
    triples = 0
    for path in paths:
        name = str(PurePosixPath(path.relative_to(directory).with_suffix("").as_posix()))
        graph = graph_for(name)
        quads = read_rdf_file(path, graph=graph)
        loaded.append(FactsFile(path=path, name=name, graph=graph,
                                quads=canonical(quads, scope=name)))
        triples += len(quads)
        if on_file is not None:
            on_file(len(loaded), len(paths), triples)
    return loaded


def canonical(quads: list[ox.Quad], scope: str) -> list[ox.Quad]:
    """The quads with canonical blank node labels, sorted, so output is reproducible.

    Labels are prefixed with a digest of `scope` (the file's name), so blank nodes of
    different files never merge in the store.
    """
    if any(isinstance(t, ox.BlankNode) for q in quads for t in (q.subject, q.object)):
        dataset = ox.Dataset(quads)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        prefix = "f" + hashlib.sha256(scope.encode("utf-8")).hexdigest()[:10] + "_"

        def blank(node: ox.BlankNode) -> ox.BlankNode:
            return ox.BlankNode(prefix + node.value)

        quads = [ox.Quad(blank(s) if isinstance(s := q.subject, ox.BlankNode) else s,
                         q.predicate,
                         blank(o) if isinstance(o := q.object, ox.BlankNode) else o,
                         q.graph_name)
                 for q in dataset]
    return sorted(quads, key=str)


def undeclared_terms(quads: Iterable[ox.Quad], declared: set[str]) -> dict[str, int]:
    """Terms of the rivalry namespace used in `quads` that the ontology does not declare."""
    unknown: dict[str, int] = {}
    for quad in quads:
        for term in (quad.predicate, quad.object, quad.subject):
            if isinstance(term, ox.NamedNode) and term.value.startswith(NAMESPACE):
                if term.value not in declared:
                    unknown[term.value] = unknown.get(term.value, 0) + 1
    return unknown


#: Entity declarations in an XML internal subset: <!ENTITY [%] name "value" | SYSTEM ...>
_ENTITY = re.compile(rb"<!ENTITY\s+(%\s*)?([^\s\"']+)\s+(\"[^\"]*\"|'[^']*'|[^>]*)\s*>")
#: How many characters entity references may add to an RDF/XML document, at most.
MAX_ENTITY_EXPANSION = 1_000_000

#: How deep JSON-LD may nest objects and arrays. The JSON-LD parser recurses on them: a
#: document of a few thousand levels exhausts its memory (a server's worker dies without
#: an answer). Real documents nest a few dozen levels.
#: How deep RDF 1.2 triple terms (`<<( … )>>`) and reified triples (`<< … >>`) may nest in
#: Turtle, TriG, N-Triples and N-Quads: pyoxigraph's parsers recurse on each level, and
#: some twenty thousand levels (half a megabyte of Turtle) overflow a thread's stack,
#: which ends the process rather than raising an error.
MAX_TRIPLE_TERM_DEPTH = 500


def check_triple_term_depth(data: bytes, label: str) -> None:
    """Refuse triple terms nested deeper than MAX_TRIPLE_TERM_DEPTH before any parser
    sees them, naming the line and column where they go past. Read with the SPARQL
    tokenizer (strings, IRIs and comments are written alike in Turtle), and only when
    the text has a `<<` at all."""
    if b"<<" not in data:
        return
    from rivalry.graph.sparql import spans

    text = data.decode("utf-8", "replace")
    depth = 0
    for kind, value, start in spans(text):
        if kind == "open" and value.startswith("<<"):
            depth += 1
            if depth > MAX_TRIPLE_TERM_DEPTH:
                raise InvalidInput(byte_location(data, len(text[:start].encode()), label),
                                   f"triple terms (<< >>) nest more than "
                                   f"{MAX_TRIPLE_TERM_DEPTH} levels deep",
                                   "give the nested statements names of their own")
        elif kind == "close" and value.endswith(">>"):
            depth -= 1


MAX_JSON_DEPTH = 500
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def check_json_depth(data: bytes, label: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before any parser sees it, naming the
    line and column where it goes past. Brackets inside strings do not count."""
    depth = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub(lambda s: b"\0" * len(s[0]), data)):
        depth += 1 if m[0] in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise InvalidInput(byte_location(data, m.start(), label),
                               f"the JSON-LD nests objects and arrays more than "
                               f"{MAX_JSON_DEPTH} levels deep",
                               "flatten the document: give nested nodes their own @id")


def lone_surrogate(value: Any) -> str | None:
    """The first half of a UTF-16 surrogate pair standing alone in a value Python's JSON
    reader made (`"\\ud800"`, which JSON can spell but which is no character), as its
    escape; None when there is none."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        return f"\\u{ord(e.object[e.start]):04x}"
    return None


def inline_contexts(data: bytes, contexts: Mapping[str, Any], label: str) -> bytes:
    """JSON-LD with each `@context` that names one of `contexts` by its IRI replaced by
    that context, so that this server's own documents (whose context is its
    /context.jsonld) read back without a context being fetched; any other remote context
    is left for the parser to refuse. Also refuses, naming where, a string that holds half
    of a surrogate pair, where pyoxigraph's reader says only "unexpected end of file".
    JSON the standard reader cannot read is left as it is, for pyoxigraph to say where."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return data
    half = lone_surrogate(document)
    if half is not None:
        at = data.lower().find(half.encode())
        raise InvalidInput(byte_location(data, max(at, 0), label),
                           f"the JSON holds {half}, half of a UTF-16 surrogate pair, which "
                           "is no character",
                           "escape a character beyond U+FFFF as both halves, or write it "
                           "as UTF-8")
    found = False

    def replace(context: Any) -> Any:
        nonlocal found
        if isinstance(context, str) and context in contexts:
            found = True
            return contexts[context]
        if isinstance(context, list):
            return [replace(c) for c in context]
        return context

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "@context" in node:
                node["@context"] = replace(node["@context"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if contexts:
        walk(document)
    return json.dumps(document, ensure_ascii=False).encode("utf-8") if found else data


def check_xml_entities(data: bytes, label: str) -> None:
    """Refuse RDF/XML whose DTD could make the parser do unbounded work.

    Simple internal entities (the usual `<!ENTITY owl "http://...#">`) are allowed.
    Refused: entities that refer to other entities ("billion laughs"), parameter
    entities, external entities (SYSTEM/PUBLIC, which are never fetched anyway), and
    documents whose entity references would expand beyond MAX_ENTITY_EXPANSION.
    """
    head = data[:65536]
    if b"<!DOCTYPE" not in head and b"<!ENTITY" not in data:
        return
    declarations = list(_ENTITY.finditer(data))
    if data.count(b"<!ENTITY") != len(declarations):
        raise InvalidInput(SourceLocation(label), "an XML entity declaration could not be "
                           "checked, so the document is not accepted",
                           'declare entities as <!ENTITY name "value">')
    expansion = 0
    for match in declarations:
        parameter, name, value = match.groups()
        where = SourceLocation(label, data[: match.start()].count(b"\n") + 1)
        if parameter:
            raise InvalidInput(where, "XML parameter entities are not accepted")
        if value[:1] not in (b'"', b"'"):
            raise InvalidInput(where, f"the external XML entity {name.decode(errors='replace')!r} "
                               "is not accepted (external entities are never fetched)")
        if b"&" in value or b"%" in value:
            raise InvalidInput(where, f"the XML entity {name.decode(errors='replace')!r} refers to "
                               "other entities; nested entities are not accepted "
                               "(they can expand without bound)")
        uses = data.count(b"&" + name + b";")
        expansion += uses * max(len(value) - 2, 0)
        if expansion > MAX_ENTITY_EXPANSION:
            raise InvalidInput(where, "XML entity references would expand the document by more "
                               f"than {MAX_ENTITY_EXPANSION} characters")


def ill_typed(lexical: str, datatype: str) -> bool:
    """Whether a lexical form is invalid for its XSD datatype (rdflib's check, without the
    traceback rdflib logs for every bad value)."""
    import logging

    import rdflib

    logger = logging.getLogger("rdflib.term")
    previous = logger.disabled
    logger.disabled = True
    try:
        return bool(rdflib.Literal(lexical, datatype=datatype).ill_typed)
    finally:
        logger.disabled = previous
