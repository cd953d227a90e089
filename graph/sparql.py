"""Reading a SPARQL request's text before any engine sees it: its form, the endpoints of
its SERVICE clauses, whether it names its own dataset, and how deeply it nests.

pyoxigraph follows SERVICE to any host and its parser overflows the stack on queries
nested a few thousand levels deep (brackets, braces, parentheses, and runs of prefix
operators such as `!!!!…`, on each of which it recurses), so both are checked here, on
tokens, first. The
tokenizer knows SPARQL's lexical rules (strings, IRIs, comments, prefixed names) well
enough that keywords inside them are not mistaken for the real thing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import urljoin

from rivalry.graph.errors import QueryError, UpdateRefused

QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
#: Prefix operators the SPARQL parser handles by recursion, one level each: logical and
#: arithmetic negation, unary plus, and inverse paths.
UNARY_OPERATORS = {"!", "-", "+", "^"}
UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD",
                   "WITH"}

#: A prefixed name's local part: name characters, `%XX`, and the escapes `\#`, `\'`… of
#: PN_LOCAL_ESC (SPARQL 1.1 Query, 19.8), which are part of the name, not a comment or a
#: string; its last character is no `.`
_LOCAL = (r"(?:(?:[\w\-:.%\u00B7-\uFFFF]|\\[_~.\-!$&'()*+,;=/?#@%])*"
          r"(?:[\w\-:%\u00B7-\uFFFF]|\\[_~.\-!$&'()*+,;=/?#@%]))?")

_TOKEN = re.compile(
    # white space and comments first, then one token (or the end of the text)
    r"""
    (?>(?:\s+|\#[^\n\r]*)*)
    (?:
    (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
               |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<unclosed>['"])
  | (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
  | (?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<run>[A-Za-z\u00C0-\uFFFF][\w.\-\u00B7-\uFFFF]*+(?::LOCAL)?)
  | (?P<pname>:LOCAL)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<integer>[0-9]+)
  | (?P<open><<(?![^<>"{}|^`\\\x00-\x20]*>)\(?|[{(\[])
  | (?P<close>\)>>|>>|[})\]])
  | (?P<other>.)
  | (?P<end>\Z)
    )
    """.replace("LOCAL", _LOCAL),
    re.VERBOSE | re.DOTALL,
)
#: A `run` is what a prefixed name's prefix may be (letters, digits, `_`, `-`, `.`), read
#: whole, once: with its `:` it is a prefixed name, without it these are its tokens. (Read
#: as a prefix from each of its positions in turn, `a.a.a.…` took time growing with the
#: square of its length.)
_IN_RUN = re.compile(r"(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<integer>[0-9]+)|(?P<other>.)",
                     re.DOTALL)


@dataclass
class QueryShape:
    """What a query is, as far as the endpoint's safety rules need to know."""

    form: str | None = None
    services: list[str | None] = field(default_factory=list)
    has_dataset_clause: bool = False
    depth: int = 0
    #: tokens outside VALUES blocks' data: the engine builds a level of its query tree for
    #: each operand of a chain (`1 + 1 + …`, `UNION`, `OPTIONAL`, `BIND`, `FILTER`, a
    #: path's `/` and `|`, triple patterns), and recurses on that tree
    size: int = 0
    #: the graphs of FROM and FROM NAMED clauses (IRIs, prefixed names resolved)
    from_graphs: list[str] = field(default_factory=list)
    from_named_graphs: list[str] = field(default_factory=list)
    #: what each GRAPH keyword names: an IRI, or None for a variable
    graphs: list[str | None] = field(default_factory=list)
    #: False when reading stopped at a limit the text passed (`inspect_query`): the
    #: depth or size shows that limit passed, and the rest is what came before it
    complete: bool = True
    #: where a string starts that is never closed (the text is read no further)
    unclosed: int | None = None
    #: read at a glance (`_glance`): `depth` and `size` are then bounds the text cannot
    #: exceed, within the limits it was read with, not counts
    glance: bool = False

    def answers(self, max_depth: int | None, max_tokens: int | None) -> bool:
        """Whether this shape serves a reader with these limits: a complete one always;
        one read until it passed a limit, when that limit is passed for this reader too;
        one read at a glance, when its bounds are within this reader's limits."""
        if self.glance:
            return (max_depth is not None and self.depth <= max_depth
                    and max_tokens is not None and self.size <= max_tokens)
        return self.complete or (max_depth is not None and self.depth > max_depth) or (
            max_tokens is not None and self.size > max_tokens)

    @property
    def kind(self) -> str | None:
        """The kind of answer: "select" or "ask" (a results table), "graph" (CONSTRUCT,
        DESCRIBE), or None when the text is no query."""
        return {"SELECT": "select", "ASK": "ask", "CONSTRUCT": "graph",
                "DESCRIBE": "graph"}.get(self.form or "")


def spans(text: str) -> list[tuple[str, str, int]]:
    """The query's tokens (comments and white space left out), with where each starts."""
    return list(_spans(text))


#: Tokens after which a `<` in an expression is the operator less-than, not an IRI's start
_OPERANDS = {"var", "string", "iri", "pname", "integer", "langtag"}
#: Words that are values (an operand), not functions or keywords
_VALUE_WORDS = {"TRUE", "FALSE"}


def _spans(text: str) -> Iterator[tuple[str, str, int]]:
    """`spans`, one token at a time: a reader that stops early reads no further.

    The tokens are those the engine reads. Where its grammar decides what a character
    starts, so does this reader: in an expression (FILTER, BIND, a projection, a
    function's arguments…), a `<` after an operand is the operator less-than (`?a<'>'`
    is `?a`, `<`, `'>'`), elsewhere the start of an IRI. A quote that starts no whole
    string ends the reading with an `unclosed` token: the engine cannot read the text
    either, and reading on from each later quote took time growing with the square of
    the text's length."""
    stack: list[str] = []  # "e" (an expression) or "p" (a pattern) for each open bracket
    prev: tuple[str, str] = ("", "")  # the last two tokens, kind and value
    before: tuple[str, str] = ("", "")
    projection = False  # after SELECT, before its WHERE or group: expressions in ( )
    pos = 0
    match_at = _TOKEN.match
    while True:
        match = match_at(text, pos)
        assert match is not None  # `other` takes any character, `end` the end
        kind = match.lastgroup or "other"
        if kind == "end":
            return
        found = match.start(kind)
        if kind in ("iri", "open") and text[found] == "<" and stack and stack[-1] == "e" \
                and (prev[0] in _OPERANDS or prev[1] in (")", "]")
                     or (prev[0] == "word" and prev[1].upper() in _VALUE_WORDS)):
            # in an expression, after an operand: less-than, whatever follows it
            kind, value, pos = "other", "<", found + 1
        else:
            value, pos = match.group(kind), match.end()
        if kind == "run":
            if ":" not in value:
                for part in _IN_RUN.finditer(value):
                    before, prev = prev, (part.lastgroup or "other", part.group())
                    yield prev[0], prev[1], found + part.start()
                continue
            kind = "pname"
        if kind == "open":
            if value == "(":
                word = prev[1].upper() if prev[0] == "word" else ""
                pattern = (not stack or stack[-1] == "p") and not projection
                if word == "VALUES" or (pattern and not word and not (
                        before[0] == "word" and before[1].upper() in ("FILTER", "BY"))):
                    stack.append("p")  # a list of variables, a collection
                else:
                    stack.append("e")  # an expression, a function's arguments
            else:
                stack.append("p")
                if value == "{":
                    projection = False
        elif kind == "close":
            if stack:
                stack.pop()
        elif kind == "word":
            upper = value.upper()
            if upper == "SELECT":
                projection = True
            elif upper == "WHERE":
                projection = False
        before, prev = prev, (kind, value)
        yield kind, value, found
        if kind == "unclosed":
            return


def tokens(text: str) -> list[tuple[str, str]]:
    """The query's tokens (comments and white space left out)."""
    return [(kind, value) for kind, value, _ in spans(text)]


#: An absolute IRI begins with its scheme (RFC 3986, 3.1)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")

_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def unescape_codepoints(text: str) -> str:
    """SPARQL 1.1 Query, 19.2: \\uXXXX and \\UXXXXXXXX escapes are replaced before parsing,
    anywhere in the query, so `\\u0053ERVICE` is the keyword SERVICE. Do the same."""

    def replace(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group()

    if "\\u" not in text and "\\U" not in text:
        return text
    return _CODEPOINT.sub(replace, text)


_last = threading.local()

#: Tokens read at a time: a reader with limits stops within a block of passing them
_BLOCK = 1024


def inspect_query(text: str, *, max_depth: int | None = None,
                  max_tokens: int | None = None) -> QueryShape:
    """The form, SERVICE endpoints (None for a variable), dataset clause, depth and size.

    With limits, reading stops as soon as the text passes one of them: the shape is then
    incomplete (`complete` False), and shows the limit passed (`depth` above `max_depth`,
    or `size` above `max_tokens`), so that a body of megabytes is refused after its first
    few thousand tokens, not read whole. With both limits, a text with nothing for the
    tokens to find is read at a glance (`_glance`): its depth and size are then bounds
    within the limits, not counts.

    The last text read in each thread is remembered, since a request reads its query
    twice (for its form, then in the store's checks). Do not change the shape returned."""
    last: tuple[str, QueryShape] | None = getattr(_last, "entry", None)
    if last is not None and last[0] == text and last[1].answers(max_depth, max_tokens):
        return last[1]
    shape = _glance(text, max_depth, max_tokens) or _inspect(text, max_depth, max_tokens)
    _last.entry = (text, shape)
    return shape


#: White space and comments; a comment runs to the end of its line, never less
_SPACE = r"(?:\s|\#[^\n\r]*+)"
_IRIREF = r"<[^<>\"{}|^`\\\x00-\x20]*>"
#: A query's prologue (BASE and PREFIX declarations, SPARQL 1.1 Query, 4.1.1) and its form's
#: keyword, for prefixes of ASCII letters, digits, `_`, `-` and `.`; the keyword followed
#: by what may follow it and cannot be part of a name (`CONSTRUCT:x` is a prefixed name)
_PROLOGUE_AND_FORM = re.compile(
    rf"{_SPACE}*(?:(?:BASE{_SPACE}*{_IRIREF}"
    rf"|PREFIX{_SPACE}+(?:[A-Za-z](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?)?:{_SPACE}*{_IRIREF})"
    rf"{_SPACE}*)*(SELECT|CONSTRUCT|DESCRIBE|ASK)(?=[\s{{(*?$<\#])",
    re.IGNORECASE)
#: SERVICE, FROM and GRAPH in an ASCII text made lower case, unless right after a letter or
#: `_` (as in `prov:wasDerivedFrom`), where no reading makes them a keyword: a word goes on
#: through letters, digits and `_`, and so does every other token that can end in a letter
_KEYWORDS_TO_READ = ("service", "from", "graph")
#: Every token the depth counts (`{`, `(`, `[`, `<<`, and the prefix operators) holds one
#: of these characters
_DEPTH_CHARACTERS = b"{([<!-+^"


def _glance(text: str, max_depth: int | None, max_tokens: int | None) -> QueryShape | None:
    """The shape of a query whose text leaves the reader nothing to find, read without
    its tokens (a point lookup's description query is read in microseconds rather than
    the quarter of a millisecond its tokens take); None when the text needs reading.

    Such a text is ASCII, has no backslash (so no escape, and the SPARQL 1.1 reading is the same),
    no quote (so no string, closed or not), no SERVICE, FROM or GRAPH that could be a
    keyword (`_KEYWORDS_TO_READ`), and a prologue followed by its form's
    keyword. Its depth is at most the number of characters that could open a level, and
    its tokens at most its characters: when both bounds are within the limits, they are
    what the shape says, marked `glance`."""
    if max_depth is None or max_tokens is None or len(text) > max_tokens:
        return None
    if not text.isascii() or "\\" in text or "'" in text or '"' in text:
        return None
    lower = text.lower()
    for keyword in _KEYWORDS_TO_READ:
        at = lower.find(keyword)
        while at != -1:
            if at == 0 or not (lower[at - 1].isalpha() or lower[at - 1] == "_"):
                return None
            at = lower.find(keyword, at + 1)
    data = text.encode("ascii")
    bound = len(data) - len(data.translate(None, _DEPTH_CHARACTERS))
    if bound > max_depth:
        return None
    match = _PROLOGUE_AND_FORM.match(text)
    if match is None:
        return None
    return QueryShape(form=match.group(1).upper(), depth=bound, size=len(text), glance=True)


def _inspect(text: str, max_depth: int | None = None,
             max_tokens: int | None = None) -> QueryShape:
    """The shape of the text as the engine reads it (pyoxigraph reads `\\u0053` as an
    escape only inside strings and IRIs, SPARQL 1.2's rule), and, when the text has
    such escapes, as SPARQL 1.1 servers read it too, which replace them before parsing
    (19.2): what either reading finds (an update, a SERVICE, depth, length) counts."""
    shape = _read_shape(text, max_depth, max_tokens)
    unescaped = unescape_codepoints(text)
    if unescaped == text:
        return shape
    other = _read_shape(unescaped, max_depth, max_tokens)
    if other.form == "UPDATE" or shape.form is None:
        shape.form = other.form
    shape.services += [s for s in other.services if s not in shape.services]
    shape.has_dataset_clause = shape.has_dataset_clause or other.has_dataset_clause
    shape.depth = max(shape.depth, other.depth)
    shape.size = max(shape.size, other.size)
    # a string that reading leaves open is the other servers' syntax error: what it read
    # before counts, and the engine's own reading decides the rest
    shape.complete = shape.complete and other.complete
    return shape


def _read_shape(text: str, max_depth: int | None, max_tokens: int | None) -> QueryShape:
    shape = QueryShape()
    source = _spans(text)
    toks: list[tuple[str, str, int]] = []
    more = True  # tokens are read in blocks, as far as the reading below needs them
    prefixes: dict[str, str] = {}
    depth = 0
    unary = 0  # prefix operators (! - + ^) since the last operand: the parser recurses on each
    base = ""
    values_next = False  # VALUES was read: its data block comes with the next `{`
    data_at: int | None = None  # the depth a VALUES data block opened at, while inside it
    data = 0  # tokens of VALUES data blocks (rows of terms, which the engine keeps in lists)
    too_deep = max_depth if max_depth is not None else float("inf")
    too_long = max_tokens if max_tokens is not None else float("inf")
    i = 0
    while True:
        while more and i + 2 >= len(toks):  # the token and the two after it, if any
            block = list(islice(source, _BLOCK))
            toks += block
            more = len(block) == _BLOCK
        if i >= len(toks):
            break
        if shape.depth > too_deep or i - data > too_long:
            shape.complete = False  # a limit is passed: what follows cannot change that
            shape.size = i - data
            return shape
        kind, value, _ = toks[i]
        if kind == "unclosed":  # the last token: the text is read no further
            shape.unclosed = toks[i][2]
            break
        upper = value.upper() if kind == "word" else ""
        if data_at is not None:
            data += 1
            if kind == "close" and depth - 1 == data_at:
                data_at = None
        elif values_next and kind == "open" and value == "{":
            values_next, data_at = False, depth
            data += 1
        elif upper == "VALUES":
            values_next = True
        if kind == "other" and value in UNARY_OPERATORS:
            if not (value == "!" and i + 1 < len(toks) and toks[i + 1][1] == "="):
                unary += 1
                shape.depth = max(shape.depth, depth + unary)
        elif kind not in ("open", "other"):
            unary = 0
        if kind == "open":
            depth += 1
            shape.depth = max(shape.depth, depth + unary)
        elif kind == "close":
            depth -= 1
            unary = 0
        elif upper == "PREFIX" and i + 2 < len(toks) and toks[i + 1][0] == "pname" \
                and toks[i + 2][0] == "iri":
            prefixes[toks[i + 1][1].rstrip(":")] = toks[i + 2][1][1:-1]
            i += 2
        elif upper == "BASE" and i + 1 < len(toks) and toks[i + 1][0] == "iri":
            base = _resolve(toks[i + 1], {}, base) or ""
            i += 1
        elif upper and shape.form is None and depth == 0 and (
                upper in QUERY_FORMS or upper in UPDATE_KEYWORDS):
            shape.form = upper if upper in QUERY_FORMS else "UPDATE"
        elif upper == "FROM" and depth == 0:
            shape.has_dataset_clause = True
            j = i + 1
            named = j < len(toks) and toks[j][0] == "word" and toks[j][1].upper() == "NAMED"
            target = toks[j + named] if j + named < len(toks) else ("other", "")
            iri = _resolve(target, prefixes, base)
            if iri is not None:
                (shape.from_named_graphs if named else shape.from_graphs).append(iri)
        elif upper == "GRAPH" and i + 1 < len(toks):
            shape.graphs.append(_resolve(toks[i + 1], prefixes, base))
        elif upper == "SERVICE":
            j = i + 1
            if j < len(toks) and toks[j][0] == "word" and toks[j][1].upper() == "SILENT":
                j += 1
            target = toks[j] if j < len(toks) else ("other", "")
            shape.services.append(_resolve(target, prefixes, base))
        i += 1
    shape.size = len(toks) - data
    return shape


def _resolve(token: tuple[str, str] | tuple[str, str, int], prefixes: dict[str, str],
             base: str) -> str | None:
    """The IRI a token names (an IRI, relative to BASE, or a prefixed name); None for a
    variable or anything else."""
    kind, value = token[0], token[1]
    if kind == "iri":
        iri = unescape_codepoints(value[1:-1])  # \\u escapes in an IRI are its characters
        if _SCHEME.match(iri) or not base:
            return iri
        return urljoin(base, iri)  # RFC 3986, 5.2, as the engine resolves it
    if kind == "pname":
        prefix, _, local = value.partition(":")
        return prefixes[prefix] + local if prefix in prefixes else None
    return None


def check_query(text: str, *, max_depth: int, max_tokens: int | None = None,
                service_allowlist: tuple[str, ...] = ()) -> QueryShape:
    """Refuse what the endpoint must never run; return the query's shape otherwise. The
    text is read only as far as its first limit passed."""
    shape = inspect_query(text, max_depth=max_depth, max_tokens=max_tokens)
    if shape.unclosed is not None:
        line = text.count("\n", 0, shape.unclosed) + 1
        column = shape.unclosed - (text.rfind("\n", 0, shape.unclosed) + 1) + 1
        raise QueryError(f"the string that starts at line {line}, column {column} "
                         f"({text[shape.unclosed]}) is never closed: end it with the same "
                         "quote, or escape a quote inside it with \\")
    if shape.depth > max_depth:
        levels = f"{shape.depth}" if shape.complete else f"more than {max_depth}"
        raise QueryError(
            f"the query nests {levels} levels deep (groups, brackets, parentheses, "
            f"triple terms << >> and prefix operators such as ! and -); at most {max_depth} "
            "are accepted (setting max_query_depth)")
    if max_tokens is not None and shape.size > max_tokens:
        count = f"{shape.size:,}" if shape.complete else f"more than {max_tokens:,}"
        raise QueryError(
            f"the query has {count} tokens (names, values, operators and punctuation, "
            f"outside VALUES blocks); at most {max_tokens:,} are accepted (setting "
            "max_query_tokens): the engine nests a level for each operand of a chain (+, "
            "&&, UNION, OPTIONAL, BIND, FILTER, a path's / or |, triple patterns), and far "
            "longer chains would overflow its stack. Put long lists of values in a VALUES "
            "block, whose rows are not counted")
    if shape.form == "UPDATE":
        raise UpdateRefused("this is a SPARQL update; the endpoint is read-only and runs queries "
                         "only (SELECT, ASK, CONSTRUCT, DESCRIBE)")
    for endpoint in shape.services:
        if endpoint is None:
            raise QueryError("SERVICE with a variable or an unresolvable endpoint is not "
                             "accepted: the server makes no requests to other hosts")
        if endpoint not in service_allowlist:
            raise QueryError(f"SERVICE <{endpoint}> is not accepted: the server makes no "
                             "requests to other hosts unless the endpoint is in the "
                             "service_allowlist setting")
    return shape


@dataclass
class _Modifiers:
    """Where a query's top-level form, LIMIT, OFFSET and trailing VALUES block are, as the
    row-cap and paging rewrites need them."""

    form: str | None = None
    #: (where the keyword starts, where its integer starts, the integer's text)
    limit: tuple[int, int, str] | None = None
    offset: tuple[int, int, str] | None = None
    first_modifier: int | None = None  # where the first LIMIT or OFFSET keyword starts
    values_at: int | None = None  # where the trailing VALUES block starts
    readable: bool = True  # brackets balanced, and every LIMIT and OFFSET has its integer


def _modifiers(text: str) -> _Modifiers | None:
    """The query's solution modifiers, read from its tokens; None when the text has \\u
    escapes (which move the tokens)."""
    if _CODEPOINT.search(text):
        return None
    found = _Modifiers()
    toks = _top_level(text)
    for i, (kind, value, start, depth) in enumerate(toks):
        if kind != "word" or depth != 0:
            continue
        upper = value.upper()
        if found.form is None and (upper in QUERY_FORMS or upper in UPDATE_KEYWORDS):
            found.form = upper
        elif upper in ("LIMIT", "OFFSET") and found.form is not None:
            if i + 1 >= len(toks) or toks[i + 1][0] != "integer":
                found.readable = False
                break
            place = (start, toks[i + 1][2], toks[i + 1][1])
            if upper == "LIMIT":
                found.limit = found.limit or place
            else:
                found.offset = found.offset or place
            if found.first_modifier is None:
                found.first_modifier = start
        elif upper == "VALUES" and found.form is not None:
            found.values_at = start
            break
    if not toks or (toks[-1][3] + (1 if toks[-1][0] == "open" else 0)) != 0:
        found.readable = False
    return found


def with_row_limit(text: str, limit: int) -> str | None:
    """A SELECT query rewritten so that it gives at most `limit` rows: its own top-level
    LIMIT when that is smaller, `limit` otherwise, put where SPARQL allows it (after the
    solution modifiers, before a trailing VALUES block). None when the text cannot be
    rewritten safely (not a SELECT, or \\u escapes, which move the tokens); the caller
    then counts rows itself.
    """
    found = _modifiers(text)
    if found is None or found.form != "SELECT" or not found.readable:
        return None
    if found.limit is not None:
        _, at, number = found.limit
        if int(number) <= limit:
            return text
        if int(number) >= 2**64:
            return None  # past what the engine reads: its syntax error, not a cap
        return f"{text[:at]}{limit}{text[at + len(number):]}"
    insert_at = len(text) if found.values_at is None else found.values_at
    # on a line of its own: the text may end inside a comment
    return f"{text[:insert_at]}\nLIMIT {limit}\n{text[insert_at:]}"


def with_window(text: str, offset: int, limit: int) -> str | None:
    """The query restricted to `limit` solutions from `offset` on, within any LIMIT and
    OFFSET of its own (a page of its answer, for servers that cap their answers): the
    solution modifiers go where SPARQL allows them, before a trailing VALUES block. None
    when the text cannot be rewritten safely (\\u escapes, unbalanced brackets)."""
    found = _modifiers(text)
    if found is None or found.form not in QUERY_FORMS or not found.readable:
        return None
    own_limit = int(found.limit[2]) if found.limit else None
    own_offset = int(found.offset[2]) if found.offset else 0
    insert_at = len(text) if found.values_at is None else found.values_at
    cut = insert_at if found.first_modifier is None else min(found.first_modifier, insert_at)
    count = limit if own_limit is None else max(0, min(limit, own_limit - offset))
    return f"{text[:cut]}\nLIMIT {count} OFFSET {own_offset + offset}\n{text[insert_at:]}"


def with_total_order(text: str) -> str | None:
    """The query ordered so that no two different solutions tie: after its own top-level
    ORDER BY keys (if any), every variable it projects (SELECT), or every variable it
    mentions (SELECT *, CONSTRUCT, DESCRIBE). Its pages read with LIMIT and OFFSET are
    then pages of one sequence, where a server may give an answer without an order in
    a different order each time it is asked (which would repeat some rows and miss
    others). None when the text cannot be rewritten safely (\\u escapes, unbalanced
    brackets, no query form)."""
    found = _modifiers(text)
    if found is None or found.form not in QUERY_FORMS or not found.readable:
        return None
    if found.form == "ASK":
        return text  # one answer, never read in pages
    toks = _top_level(text)
    keys = _projected(toks) if found.form == "SELECT" else None
    if keys is None:  # SELECT *, CONSTRUCT, DESCRIBE: whatever they bind
        keys = [value for kind, value, _, _ in toks if kind == "var"]
    keys = list(dict.fromkeys("?" + key[1:] for key in keys))
    if not keys:
        return text  # nothing varies: every solution is the same
    ordered = any(kind == "word" and depth == 0 and value.upper() == "ORDER"
                  for kind, value, _, depth in toks)
    insert_at = len(text) if found.values_at is None else found.values_at
    cut = insert_at if found.first_modifier is None else min(found.first_modifier, insert_at)
    # the keys continue the query's own ORDER BY, which ends where LIMIT, OFFSET or a
    # trailing VALUES begins; on lines of their own, as the text may end in a comment
    clause = " ".join(keys) if ordered else "ORDER BY " + " ".join(keys)
    return f"{text[:cut]}\n{clause}\n{text[cut:]}"


def _projected(toks: list[tuple[str, str, int, int]]) -> list[str] | None:
    """The variables a SELECT projects, in order (`?x`, and `?y` of `(… AS ?y)`), read
    from its top-level tokens; None for SELECT *."""
    keys: list[str] = []
    start = next(i for i, (kind, value, _, depth) in enumerate(toks)
                 if kind == "word" and depth == 0 and value.upper() == "SELECT")
    for i in range(start + 1, len(toks)):
        kind, value, _, depth = toks[i]
        if depth == 0 and ((kind == "open" and value == "{")
                           or (kind == "word" and value.upper() in ("WHERE", "FROM"))):
            break
        if kind == "other" and value == "*" and depth == 0:
            return None
        if kind == "var" and depth == 0:
            keys.append(value)
        elif (kind == "word" and value.upper() == "AS" and depth == 1 and i + 1 < len(toks)
              and toks[i + 1][0] == "var"):
            keys.append(toks[i + 1][1])
    return keys


def _top_level(text: str) -> list[tuple[str, str, int, int]]:
    """The tokens at the query's top level, with their depth (0: outside any group)."""
    out, depth = [], 0
    for kind, value, start in spans(text):
        if kind == "close":
            depth -= 1
        out.append((kind, value, start, depth))
        if kind == "open":
            depth += 1
    return out


def without_dataset_clauses(text: str) -> str | None:
    """The query with its FROM and FROM NAMED clauses blanked out (for a request that
    gives its dataset as protocol parameters instead, which some servers would merge
    with the clauses rather than replace them by, as the protocol says). None when the
    text cannot be rewritten safely."""
    if _CODEPOINT.search(text):
        return None
    toks = _top_level(text)
    out, last = [], 0
    i = 0
    while i < len(toks):
        kind, value, start, depth = toks[i]
        if kind == "word" and depth == 0 and value.upper() == "FROM":
            j = i + 1
            if j < len(toks) and toks[j][0] == "word" and toks[j][1].upper() == "NAMED":
                j += 1
            if j >= len(toks) or toks[j][0] not in ("iri", "pname"):
                return None
            end = toks[j][2] + len(toks[j][1])
            out.append(text[last:start])
            out.append(" " * (end - start))
            last = end
            i = j + 1
            continue
        i += 1
    out.append(text[last:])
    return "".join(out)


def without_order(text: str) -> str | None:
    """The query with its top-level ORDER BY blanked out (to ask whether an answer has a
    row past some count, which does not depend on the order). None when the text cannot
    be rewritten safely."""
    if _CODEPOINT.search(text):
        return None
    toks = _top_level(text)
    for i, (kind, value, start, depth) in enumerate(toks):
        if kind == "word" and depth == 0 and value.upper() == "ORDER":
            end = len(text)
            for kind2, value2, start2, depth2 in toks[i + 1:]:
                if kind2 == "word" and depth2 == 0 and value2.upper() in ("LIMIT", "OFFSET",
                                                                          "VALUES"):
                    end = start2
                    break
            return text[:start] + " " * (end - start) + text[end:]
    return text


def group_start(text: str) -> int | None:
    """Where the query's top-level group pattern starts: the offset just after the `{`
    that opens it (after WHERE, or after the projection when WHERE is left out; a
    CONSTRUCT's template is passed over). Read from the query's tokens, so a `WHERE {`
    in a comment, a string or an IRI is never taken for it. None when the query has no
    such group, or escapes code points (\\u...: offsets in the text would not hold)."""
    if _CODEPOINT.search(text):
        return None
    form = None
    for kind, value, start in spans(text):
        if kind == "word" and form is None and value.upper() in QUERY_FORMS:
            form = value.upper()
        elif kind == "open" and value == "{" and form is not None:
            if form == "CONSTRUCT" and not _after_where(text, start):
                continue  # a CONSTRUCT's template comes before its pattern
            return start + 1
    return None


def with_values(text: str, block: str) -> str | None:
    """The query with `block` (a VALUES clause) at the start of its top-level group, so
    that it binds the group's variables (how values are given to a query over the
    SPARQL Protocol, which has no other way). None when the text has no group there."""
    at = group_start(text)
    if at is None:
        return None
    return f"{text[:at]} {block} {text[at:]}"


def _after_where(text: str, position: int) -> bool:
    """Whether the `{` at `position` opens the group that follows a top-level WHERE."""
    words = [v.upper() for k, v, s in spans(text[:position]) if k == "word"]
    return bool(words) and words[-1] == "WHERE"


# --- syntax errors in the user's terms ------------------------------------------------------

#: Where a message of the engine says what it expected, the words users can act on:
#: keywords and punctuation, never the engine's character classes.
_EXPECTED_ITEM = re.compile(r'^"(.+)"$|^([A-Z][A-Z_ ]*[A-Z])$')


@dataclass
class SyntaxProblem:
    """A query's syntax error, said in one line: what is wrong, where, and the token."""

    message: str
    line: int | None = None
    column: int | None = None
    token: str | None = None


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _offset(text: str, line: int, column: int) -> int:
    start = 0
    for _ in range(line - 1):
        found = text.find("\n", start)
        if found < 0:
            return len(text)
        start = found + 1
    return min(start + column - 1, len(text))


def _shown(token: str) -> str:
    token = token.replace("\n", " ")
    return repr(token if len(token) <= 40 else token[:39] + "…")


_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_IRI_WITH_ESCAPES = re.compile(r"<[^<>\"{}|^`\x00-\x20]*>")


def _escape_problem(text: str, toks: list[tuple[str, str, int]]) -> SyntaxProblem | None:
    """A `\\u` escape the engine cannot take: one of half a UTF-16 surrogate pair (no
    character, in a string or anywhere), or one outside a string or an IRI (SPARQL 1.1,
    19.2, reads escapes before the grammar, anywhere; pyoxigraph reads them in strings and
    IRIs only, so `?\\u0078` is an error to it)."""
    quoted = [(start, start + len(value)) for kind, value, start in toks if kind == "string"]
    quoted += [(m.start(), m.end()) for m in _IRI_WITH_ESCAPES.finditer(text)]
    for match in _ESCAPE.finditer(text):
        code = int(match.group(1) or match.group(2), 16)
        line, column = _position(text, match.start())
        if 0xD800 <= code <= 0xDFFF:
            return SyntaxProblem(
                f"{match.group()} is half of a UTF-16 surrogate pair, which is no character; "
                "write the character itself (in UTF-8), or one \\U escape of its code point "
                "(\\U0001F600)", line, column, match.group())
        if code <= 0x10FFFF and not any(a <= match.start() < b for a, b in quoted):
            return SyntaxProblem(
                f"{match.group()} outside a string or an IRI: this endpoint reads \\u "
                f"escapes in strings and IRIs only; write {chr(code)!r} itself here",
                line, column, match.group())
    return None


def explain_syntax_error(text: str, engine_message: str) -> SyntaxProblem:
    """A SPARQL syntax error as people read it, from the query's text and the engine's
    message ("error at L:C: expected ..."): the query form it must start with, an
    undeclared prefix, an unclosed group, or the token where reading stopped and what
    could have come there, without the engine's character classes."""
    toks = spans(text)
    if not toks:
        return SyntaxProblem("the query is empty")
    # 0. codepoint escapes the engine does not read as SPARQL says (19.2)
    escape = _escape_problem(text, toks)
    if escape is not None:
        return escape
    # 1. the query form, after the prologue
    i = 0
    declared: set[str] = set()
    while i < len(toks):
        kind, value, start = toks[i]
        upper = value.upper() if kind == "word" else ""
        if upper == "PREFIX" and i + 2 < len(toks) and toks[i + 1][0] == "pname":
            declared.add(toks[i + 1][1].split(":", 1)[0])
            i += 3
        elif upper == "BASE" and i + 1 < len(toks):
            i += 2
        else:
            break
    if i < len(toks):
        kind, value, start = toks[i]
        if kind != "word" or value.upper() not in QUERY_FORMS | UPDATE_KEYWORDS:
            line, column = _position(text, start)
            return SyntaxProblem(
                f"the query must start with SELECT, ASK, CONSTRUCT or DESCRIBE (after its "
                f"PREFIX and BASE declarations), not {_shown(value)}", line, column, value)
    # 2. prefixes used but not declared; strings left open; not in an IRI whose only
    # backslashes begin \\u escapes (SPARQL's own, 19.2), which the tokens split up
    escaped_iris = [(m.start(), m.end()) for m in _IRI_WITH_ESCAPES.finditer(text)
                    if "\\" in m.group() and "\\" not in _ESCAPE.sub("", m.group())]
    for j, (kind, value, start) in enumerate(toks):
        if any(a <= start < b for a, b in escaped_iris):
            continue
        if kind == "other" and value == "<" and start + 1 < len(text) \
                and not text[start + 1].isspace() and text[start + 1] not in "=<":
            line_end = text.find("\n", start)
            line_end = len(text) if line_end < 0 else line_end
            end = text.find(">", start, line_end)
            if end > 0:  # an IRI with a character IRIs cannot hold, such as a space
                broken = text[start:end + 1]
                line, column = _position(text, start)
                return SyntaxProblem(f"{_shown(broken)} is not a valid IRI: an IRI cannot "
                                     "hold spaces, quotes, braces or backslashes (write them "
                                     "percent-encoded, such as %20)", line, column, broken)
        if kind == "other" and value in "\"'":
            line, column = _position(text, start)
            return SyntaxProblem(f"the string opened with {value} here is not closed on its "
                                 "line", line, column, value)
        if kind != "pname":
            continue
        if j > 0 and toks[j - 1][1].upper() == "PREFIX":
            continue
        if j > 0 and toks[j - 1][1] == "_" and toks[j - 1][2] + 1 == start:
            continue  # a blank node label, _:b0
        prefix = value.split(":", 1)[0]
        if prefix not in declared:
            from rivalry.graph import PREFIXES

            line, column = _position(text, start)
            known = PREFIXES.get(prefix)
            hint = (f"add PREFIX {prefix}: <{known}> at the top" if known else
                    f"declare it with PREFIX {prefix}: <...> at the top, or write the full IRI")
            return SyntaxProblem(f"the prefix {prefix + ':'!r} of {_shown(value)} is not "
                                 f"declared; {hint}", line, column, value)
    # 3. what the engine says, where it says it
    match = re.match(r"error at (\d+):(\d+): (.*)", engine_message, re.S)
    if not match:
        return SyntaxProblem(" ".join(engine_message.split()) or "the query cannot be read")
    line, column = int(match.group(1)), int(match.group(2))
    offset = _offset(text, line, column)
    reason = match.group(3)
    expected = "" if "IRI parsing failed" in reason else _expected(reason)
    limit_word = re.search(r"the query (offset|limit) should be a non negative integer", reason,
                           re.IGNORECASE)
    if limit_word:  # a number past what the engine counts in (an unsigned 64-bit one)
        word = limit_word.group(1).upper()
        number = next((v for (k1, w, _), (k2, v, _) in zip(toks, toks[1:], strict=False)
                       if k1 == "word" and w.upper() == word and k2 == "integer"), None)
        if number is not None and int(number) > 2 ** 64 - 1:
            return SyntaxProblem(f"{word} {_shown(number)} is past the largest the engine "
                                 f"takes ({2 ** 64 - 1:,}); no answer has that many rows",
                                 line, column, number)
    if expected and not expected.startswith(("one of", "a ", "an ")) and " " in expected:
        return SyntaxProblem(expected, line, column)  # the engine's own reason, in words
    what = f"; expected {expected}" if expected else ""
    token = next((value for _, value, start in toks if start <= offset < start + len(value)),
                 None)
    if token is not None and offset < len(text.rstrip()):
        if "IRI parsing failed" in reason and token.startswith("<"):
            return SyntaxProblem(f"{token} is not a valid IRI: IRIs must be absolute, with a "
                                 "scheme, such as <https://example.org/thing>",
                                 line, column, token)
        return SyntaxProblem(f"unexpected {_shown(token)}{what}", line, column, token)
    if "IRI parsing failed" in reason:
        iri = next((v for k, v, st in reversed(toks) if k == "iri" and st < offset), None)
        if iri is not None:
            l2, c2 = _position(text, next(st for k, v, st in toks if v == iri))
            return SyntaxProblem(f"{iri} is not a valid IRI: IRIs must be absolute, with a "
                                 "scheme, such as <https://example.org/thing>", l2, c2, iri)
    opened: list[tuple[str, int]] = []
    for kind, value, start in toks:
        if kind == "open":
            opened.append((value, start))
        elif kind == "close" and opened:
            opened.pop()
    if opened:
        bracket, start = opened[-1]
        l2, c2 = _position(text, start)
        return SyntaxProblem(f"the {bracket!r} opened here is never closed", l2, c2, bracket)
    before = [value for _, value, start in toks if start < offset][-3:]
    near = " ".join(before)
    last = before[-1] if before else None
    # at the end of the text, the engine's list of what it expected is what its last
    # alternative wanted, which misleads more than it helps, unless it is one word
    what = f"; expected {expected}" if expected and " " not in expected else ""
    return SyntaxProblem(f"the query is incomplete or wrong near the end, after {_shown(near)}"
                         f"{what}", line, column, last)


def _expected(reason: str) -> str:
    """The engine's "expected one of ..." as a short list of keywords and punctuation, or
    its own words when it gives a reason instead."""
    reason = " ".join(reason.split())
    body = reason.removeprefix("expected ").removeprefix("one of ")
    items = re.split(r",\s*(?![^\[]*\])", body)
    words = []
    for item in items:
        item = item.strip()
        m = _EXPECTED_ITEM.match(item)
        if m:
            words.append(m.group(1) or m.group(2))
        elif item and not item.startswith("[") and " " in item and item[0].isupper():
            # a reason rather than a token, such as "The SELECT contains a variable ..."
            return item[0].lower() + item[1:]
    words = [w for w in words if w not in ("_", "<unreported>")]
    if not words or len(words) > 10:  # a long list helps nobody
        return ""
    if len(words) == 1:
        return words[0]
    return "one of " + ", ".join(words)
