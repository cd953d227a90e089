"""An external SPARQL 1.1 server as the store: queries over the SPARQL 1.1 Protocol, loads
over the SPARQL 1.1 Graph Store HTTP Protocol (docs/external-store.md).

Only the standards are spoken, in their most portable form, because servers differ:

- Queries go as GET when short and as form POSTs otherwise (some servers never answer
  a POST of `application/sparql-query`). Answers are read as SPARQL XML results, or
  JSON results (the `typed-literal` of older servers too, and ASK answered as a one-row
  table), and N-Triples; blank nodes of any labelling (Virtuoso's `nodeID://…`) are
  given labels of their own.
- Writes take HTTP Basic or Digest authentication, whichever the server asks for: a
  DELETE of a graph that never exists learns it first, so that no large body is ever
  sent twice or cut by an early 401.
- Answers are read whole: a server that caps its answers (Virtuoso's ResultSetMaxRows)
  is found out, and the answer read in pages of that size; the cap is never taken for
  the end of the answer.
- Everything rivalry reads is scoped to its own graphs, whatever the server's default
  graph is (Virtuoso's holds its system graphs, Oxigraph's is empty unless told): a
  build also loads the union of its graphs into one graph, named by the build, and
  every query names it as its default graph and the build's graphs as its named graphs
  (`default-graph-uri`, `named-graph-uri`). One graph also spares engines the property
  paths over many graphs that some evaluate wrongly.
- Every call is bounded in time: by the time left to the request being answered (its
  own limit, see `time_budget`), or by the `store_timeout` setting for commands. A
  server that stops answering is reported in one line, naming it and the setting; once
  it has, the calls that follow within a few seconds fail at once.

A build loads the new graphs beside the ones served, then switches by rewriting one
small graph (<https://w3id.org/rivalry/graph/build>), which says which build is
current, and which build is being loaded or failed to load; the default graph of
queries (the build's union graph) changes all at once, while the named graphs are
replaced one by one, so that readers of named graphs may see two builds mixed during a
load. Servers report that state (`pending_load`), and answers read during a load are
never kept in a cache (`confirm_build_id`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import re
import threading
import time
import urllib.parse
import urllib.request
import xml.parsers.expat
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from rivalry.graph import (
    FACTS_GRAPH_BASE,
    GRAPH_BASE,
    ONTOLOGY_GRAPH,
    GraphName,
    Subject,
    Term,
    term_value,
)
from rivalry.graph.errors import (
    ExternalStoreError,
    InvalidInput,
    NoBuild,
    QueryError,
    QueryTimeout,
    StoreError,
)
from rivalry.graph.isolate import TimeLimitExceeded, run_with_time_limit
from rivalry.graph.load import canonical, check_triple_term_depth
from rivalry.graph.results import Answer, Row, to_json
from rivalry.graph.sparql import (
    QueryShape,
    check_query,
    inspect_query,
    with_total_order,
    with_values,
    with_window,
    without_dataset_clauses,
    without_order,
)
from rivalry.graph.store import (
    BuildInfo,
    PendingLoad,
    QueryLimits,
    QueryResult,
    ResultFormat,
    query_timeout,
    syntax_error,
)

#: The graph saying which build is current and which is being loaded (one triple).
BUILD_GRAPH = GRAPH_BASE + "build"
#: Each build's union of its graphs: the default graph of every query.
UNION_GRAPH_BASE = GRAPH_BASE + "union/"
#: A graph never written: a dataset naming only it is empty.
EMPTY_GRAPH = GRAPH_BASE + "empty"
#: A graph never written, whose DELETE tells which authentication writes need.
AUTH_PROBE_GRAPH = GRAPH_BASE + "auth-probe"

DCT_DESCRIPTION = "http://purl.org/dc/terms/description"
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
XSD = "http://www.w3.org/2001/XMLSchema#"

#: Query strings up to this long go by GET, longer ones by form POST.
GET_MAX = 2000
#: The largest answer read from the server, in bytes.
MAX_ANSWER_BYTES = 512 * 1024 * 1024
#: Triples per Graph Store request when a graph is loaded (a larger graph is sent as a
#: PUT and then POSTs, all of its blank nodes in the first).
LOAD_CHUNK = 50_000
#: Seconds the build state read from the server is trusted before it is read again.
STATE_TTL = 2.0
#: After a call timed out, the next one first asks the server a trivial question with
#: at most this many seconds; a server that does not answer it is taken as down for
#: DOWN_FOR seconds, during which calls fail at once.
PROBE_TIMEOUT = 2.0
DOWN_FOR = 5.0
#: What servers say in an error when a query ran out of their time, or was refused
#: because they estimated it would (Virtuoso: SR171 transaction timed out, S1TAT anytime
#: timeout, "estimated execution time ... exceeds the limit" of MaxQueryCostEstimationTime).
TIMED_OUT = ("SR171", "S1TAT", "estimated execution time", "Query execution timeout")
#: A process keeps up to this many small trusted answers of the current build (pages
#: ask the same labels and ontology terms again and again), of at most CACHED_ROWS_MAX
#: rows each.
CACHED_ANSWERS = 20_000
CACHED_ROWS_MAX = 500
#: Answers smaller than this are never suspected of being cut by a row cap.
CAP_SUSPECT_FROM = 100

# Virtuoso repeats every graph of the request's dataset as a response header
# (X-SPARQL-default-graph, X-SPARQL-named-graph); http.client refuses more than 100
# headers by default, which a build of a few hundred graphs passes.
http.client._MAXHEADERS = max(  # type: ignore[attr-defined]  # private: not in typeshed
    getattr(http.client, "_MAXHEADERS", 100), 100_000)

class ServerTimeout(ExternalStoreError):
    """The server did not answer within the time allowed (the message names the limit)."""


class ServerBrokeOff(ExternalStoreError):
    """The server closed the connection mid-exchange."""


# --- time budgets ---------------------------------------------------------------------

_budget = threading.local()


@contextmanager
def time_budget(seconds: float, setting: str) -> Iterator[None]:
    """Bound every call to an external store made by this thread inside the block by
    `seconds` in all: the time limit of the request being answered, named by `setting`
    in messages. Calls outside any budget are bounded by the store's own timeout."""
    previous = getattr(_budget, "value", None)
    _budget.value = (time.monotonic() + seconds, seconds, setting)
    try:
        yield
    finally:
        _budget.value = previous


def start_budget(seconds: float, setting: str) -> None:
    """`time_budget` for frameworks that begin and end requests in separate hooks."""
    _budget.value = (time.monotonic() + seconds, seconds, setting)


def end_budget() -> None:
    _budget.value = None


def _margin(total: float) -> float:
    """What a budget keeps back, so that the store's own message comes before the time
    limit of whoever enforces the request's (the front of `rivalry serve`)."""
    return min(1.0, total * 0.1)


# --- answers ----------------------------------------------------------------------------


_LABEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def blank_node(label: str) -> ox.BlankNode:
    """A blank node for a label as a server gave it: kept when it is a valid label,
    otherwise (Virtuoso's `nodeID://b10000`) replaced by one derived from it."""
    if _LABEL.match(label) and not label.endswith("."):
        return ox.BlankNode(label)
    return ox.BlankNode("x" + hashlib.sha256(label.encode("utf-8")).hexdigest()[:24])


def literal(value: str, datatype: str | None = None, language: str | None = None
            ) -> ox.Literal:
    if language:
        return ox.Literal(value, language=language)
    if datatype == XSD + "boolean" and value in ("1", "0"):
        value = "true" if value == "1" else "false"  # Virtuoso writes xsd:boolean as 1/0
    if datatype:
        return ox.Literal(value, datatype=ox.NamedNode(datatype))
    return ox.Literal(value)


def json_term(binding: dict[str, Any]) -> Term:
    """An RDF term of SPARQL 1.1 Query Results JSON (and its older `typed-literal`)."""
    kind = binding.get("type")
    value = binding.get("value")
    if kind == "triple" and isinstance(value, dict):
        s, p, o = (json_term(value[k]) for k in ("subject", "predicate", "object"))
        if isinstance(s, ox.Literal) or not isinstance(p, ox.NamedNode):
            raise ValueError("a quoted triple whose subject is a literal or whose predicate "
                             "is no IRI")
        return ox.Triple(s, p, o)
    if not isinstance(value, str):
        raise ValueError(f"a term of type {kind!r} without a value")
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return blank_node(value)
    if kind in ("literal", "typed-literal"):
        return literal(value, binding.get("datatype"), binding.get("xml:lang"))
    raise ValueError(f"a term of type {kind!r}")


#: What queries ask for: SPARQL XML results first, JSON results taken too. Every server
#: writes the XML (SPARQL 1.0's own format), and Virtuoso 7 writes it faster than its
#: JSON (docs/external-store.md).
RESULTS_ACCEPT = "application/sparql-results+xml, application/sparql-results+json;q=0.9"

SRX = "http://www.w3.org/2005/sparql-results#"
XML_LANG = "http://www.w3.org/XML/1998/namespace lang"


def _answer(variables: list[str], rows: list[Row], boolean: bool | None,
            form: str | None) -> Answer:
    """The answer of a results document read as rows (or a boolean). An ASK answered as a
    table (Virtuoso 7.2 gives one row, `__ASK_RETVAL` 1, when true, and none when false)
    is read as the boolean it stands for."""
    if boolean is not None:
        if form not in (None, "ASK"):
            raise ValueError(f"a boolean (an ASK's answer) where a {form} was asked")
        return Answer("ask", boolean=boolean)
    if form == "ASK":
        cell = rows[0][0] if rows and rows[0] else None
        value = cell.value if isinstance(cell, ox.Literal | ox.NamedNode) else None
        return Answer("ask", boolean=bool(rows) and value not in ("0", "false"))
    return Answer("select", variables, rows)


def read_results(body: bytes, form: str | None, media_type: str = "") -> Answer:
    """A SPARQL results document, XML or JSON (by its media type), as an Answer. What is
    no such document (an HTML page, `{}`, `[]`, a boolean written "no") raises
    ValueError: read as an empty answer, it would be served as one."""
    if "xml" in media_type.split(";")[0].lower():
        return read_xml_results(body, form)
    doc = json.loads(body)
    # SPARQL 1.1 Query Results JSON Format, 3: one object, with a head, and a boolean or
    # results whose bindings are objects
    if not isinstance(doc, dict) or not isinstance(doc.get("head"), dict):
        raise ValueError("no SPARQL JSON results document (an object with a head)")
    if "boolean" in doc:
        if not isinstance(doc["boolean"], bool):
            raise ValueError(f"the boolean of a SPARQL JSON results document is "
                             f"{json.dumps(doc['boolean'])[:40]}, not true or false")
        return _answer([], [], doc["boolean"], form)
    variables = doc["head"].get("vars", [])
    results = doc.get("results")
    bindings = results.get("bindings") if isinstance(results, dict) else None
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables) \
            or not isinstance(bindings, list) \
            or not all(isinstance(b, dict) for b in bindings):
        raise ValueError("no SPARQL JSON results document (head.vars, a list of names, "
                         "and results.bindings, a list of objects)")
    rows: list[Row] = [[json_term(b[v]) if v in b else None for v in variables]
                       for b in bindings]
    return _answer(variables, rows, None, form)


#: The end of a whole SPARQL XML results document: the root's end tag (with any prefix),
#: then only white space, comments or processing instructions
_XML_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?sparql\s*>(?:\s|<!--.*?-->|<\?.*?\?>)*\Z",
                      re.S)


def _fixed(term: Term | None) -> Term | None:
    """A term parsed by pyoxigraph, with Virtuoso's `xsd:boolean` 1 and 0 read as `literal`
    reads them."""
    if isinstance(term, ox.Literal) and term.datatype.value == XSD + "boolean" \
            and term.value in ("1", "0"):
        return literal(term.value, XSD + "boolean")
    return term


def read_xml_results(body: bytes, form: str | None) -> Answer:
    """A SPARQL XML results document as an Answer: read by pyoxigraph's own parser, or,
    when that refuses it (Virtuoso's blank node labels, `nodeID://…`, are no labels in
    RDF's syntaxes), term by term here (`_XmlResults`)."""
    if not _XML_END.search(body[-4096:]):
        # pyoxigraph's reader takes a document cut after any solution for a whole one
        raise ValueError("no whole SPARQL XML results document (it does not end with the "
                         "end tag of its <sparql> element: cut short?)")
    try:  # the parser reads the solutions as they are iterated over: all are read here
        parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.XML)
        if isinstance(parsed, ox.QueryBoolean):
            return _answer([], [], bool(parsed), form)
        variables = [v.value for v in parsed.variables]
        rows: list[Row] = [[_fixed(t) for t in solution] for solution in parsed]
    except (SyntaxError, ValueError):
        return _XmlResults(body).answer(form)
    return _answer(variables, rows, None, form)


class _XmlResults:
    """A SPARQL XML results document read with expat, as a stream: every kind of term
    (RDF 1.2's triple terms too), with blank nodes labelled by `blank_node`. A document
    type declaration is refused, so that no entity is ever declared, expanded or
    fetched."""

    def __init__(self, body: bytes) -> None:
        self.variables: list[str] = []
        self.rows: list[Row] = []
        self.boolean: bool | None = None
        self._row: dict[str, Term] | None = None
        self._binding: str | None = None
        self._text: list[str] | None = None
        self._attrs: dict[str, str] = {}
        # the triple terms being read, innermost last: each the parts read so far and
        # the part (subject, predicate, object) being read
        self._triples: list[tuple[dict[str, Term], list[str]]] = []
        self._depth = 0
        self._parts: set[str] = set()  # the root's children read: head, results, boolean
        parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        parser.StartDoctypeDeclHandler = self._doctype
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars
        parser.buffer_text = True
        try:
            parser.Parse(body, True)
        except xml.parsers.expat.ExpatError as e:
            raise ValueError(f"no SPARQL XML results document ({e})") from None
        if "head" not in self._parts or not self._parts & {"results", "boolean"}:
            raise ValueError("no SPARQL XML results document (a <sparql> element with a "
                             "<head> and <results> or <boolean>)")

    def answer(self, form: str | None) -> Answer:
        return _answer(self.variables, self.rows, self.boolean, form)

    @staticmethod
    def _doctype(*_: object) -> None:
        raise ValueError("a SPARQL XML results document with a document type declaration")

    def _chars(self, text: str) -> None:
        if self._text is not None:
            self._text.append(text)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        ns, _, local = name.rpartition(" ")
        self._depth += 1
        if self._depth == 1 and (ns, local) != (SRX, "sparql"):
            raise ValueError(f"no SPARQL XML results document (its root element is "
                             f"<{local[:40]}>, not <sparql> in {SRX})")
        if self._depth == 2 and ns == SRX:
            self._parts.add(local)
        if ns != SRX:
            return
        if local == "variable":
            self.variables.append(attrs.get("name", ""))
        elif local == "result":
            self._row = {}
        elif local == "binding":
            self._binding = attrs.get("name")
        elif local in ("uri", "bnode", "literal", "boolean"):
            self._text, self._attrs = [], attrs
        elif local == "triple":
            self._triples.append(({}, []))
        elif local in ("subject", "predicate", "object") and self._triples:
            self._triples[-1][1].append(local)

    def _end(self, name: str) -> None:
        ns, _, local = name.rpartition(" ")
        self._depth -= 1
        if ns != SRX:
            return
        term: Term | None = None
        if local in ("uri", "bnode", "literal"):
            text = "".join(self._text or [])
            self._text = None
            if local == "uri":
                term = ox.NamedNode(text)
            elif local == "bnode":
                term = blank_node(text)
            else:
                term = literal(text, self._attrs.get("datatype"), self._attrs.get(XML_LANG))
        elif local == "boolean":
            self.boolean = "".join(self._text or []).strip() in ("true", "1")
            self._text = None
        elif local == "triple" and self._triples:
            parts, _ = self._triples.pop()
            s, p, o = (parts.get(k) for k in ("subject", "predicate", "object"))
            if s is None or isinstance(s, ox.Literal) or not isinstance(p, ox.NamedNode) \
                    or o is None:
                raise ValueError("a triple term without a subject, an IRI as predicate "
                                 "and an object")
            term = ox.Triple(s, p, o)
        elif local == "result" and self._row is not None:
            self.rows.append([self._row.get(v) for v in self.variables])
            self._row = None
        if term is None:
            return
        if self._triples and self._triples[-1][1]:
            parts, reading = self._triples[-1]
            parts[reading.pop()] = term
        elif self._row is not None and self._binding is not None:
            self._row[self._binding] = term


def read_triples(body: bytes) -> list[ox.Triple]:
    check_triple_term_depth(body, "the SPARQL server's answer")
    out = []
    for q in ox.parse(body, format=ox.RdfFormat.N_TRIPLES):
        o = _fixed(q.object)
        assert o is not None
        out.append(ox.Triple(q.subject, q.predicate, o))
    return out


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- the build state --------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteBuild:
    """A build loaded into the server: its BuildInfo, the graph holding the union of its
    graphs, and its named graphs with their numbers of triples."""

    info: BuildInfo
    union: str
    graphs: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {**self.info.to_dict(), "union": self.union, "graph_sizes": self.graphs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemoteBuild:
        info = BuildInfo(**{k: data[k] for k in BuildInfo.__dataclass_fields__ if k in data})
        return cls(info, data["union"], dict(data.get("graph_sizes", {})))


@dataclass(frozen=True)
class State:
    """What the build graph says: the current build, and a build being loaded (or whose
    load failed) beside it."""

    current: RemoteBuild | None
    pending: PendingLoad | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"build": self.current.to_dict() if self.current else None}
        if self.pending is not None:
            out["loading"] = {"build_id": self.pending.build_id,
                              "started_at": self.pending.started_at,
                              "state": self.pending.state, "error": self.pending.error}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        current = RemoteBuild.from_dict(data["build"]) if data.get("build") else None
        loading = data.get("loading")
        pending = PendingLoad(loading["build_id"], loading["started_at"], loading["state"],
                              loading.get("error")) if loading else None
        return cls(current, pending)


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass
class _Auth:
    """How writes authenticate: nothing, Basic, or Digest (learnt from a challenge)."""

    user: str = ""
    password: str = ""
    scheme: str | None = None  # None until learnt; "none", "basic" or "digest"
    challenge: dict[str, str] = field(default_factory=dict)
    signer: Any = None

    def header(self, method: str, url: str) -> str | None:
        if self.scheme == "basic":
            import base64

            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return "Basic " + token
        if self.scheme == "digest":
            request = urllib.request.Request(url, method=method)
            value = self.signer.get_authorization(request, self.challenge)
            return "Digest " + value if value else None
        return None

    def learn(self, challenges: list[str], url: str) -> None:
        """Choose Digest when the server offers it, Basic otherwise."""
        digest = next((c for c in challenges if c.lower().startswith("digest ")), None)
        if digest is not None:
            _, rest = digest.split(" ", 1)
            self.challenge = urllib.request.parse_keqv_list(
                [item for item in urllib.request.parse_http_list(rest) if item])
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, url, self.user, self.password)
            self.signer = urllib.request.AbstractDigestAuthHandler(passwords)
            self.scheme = "digest"
        elif any(c.lower().startswith("basic") for c in challenges):
            self.scheme = "basic"
        else:
            raise ExternalStoreError(
                f"the graph store at {url.split('?')[0]} asks for an authentication rivalry "
                f"does not speak ({_one_line(', '.join(challenges), 120)}); Basic and Digest "
                "are supported")


class RemoteStore:
    """The graph in an external SPARQL 1.1 server (a Store, and a BuildTarget)."""

    kind = "remote"

    def __init__(self, query_endpoint: str, graph_store_endpoint: str = "",
                 auth: str = "", cache_root: str | Path = "var/cache",
                 timeout: float = 60.0) -> None:
        for name, url in (("sparql_endpoint", query_endpoint),
                          ("graph_store_endpoint", graph_store_endpoint)):
            if url and not re.match(r"^https?://[^/\s]+", url):
                raise StoreError(f"setting {name}: {url!r} is not an http(s) URL")
        if auth and ":" not in auth:
            raise StoreError("setting graph_store_auth: write it as user:password")
        self.query_endpoint = query_endpoint
        self.graph_store_endpoint = graph_store_endpoint
        user, _, password = auth.partition(":")
        self._auth = _Auth(user, password, None if auth else "none")
        self.cache_root = Path(cache_root)
        #: seconds a call may take outside any request's time budget (setting store_timeout)
        self.timeout = timeout
        #: seconds between the switch to a new build and removing the previous build's
        #: union graph, so that readers still using it finish (they trust the state they
        #: read for STATE_TTL seconds)
        self.switch_grace = 2 * STATE_TTL
        self._lock = threading.Lock()
        self._state: State | None = None
        self._state_read = -math.inf
        self._serving: RemoteBuild | None = None  # the build answers are being read from
        self._seen: set[str] = set()  # builds answers were read from since the last check
        self._suspect = False
        self._down_until = 0.0
        self._down_reason = ""
        self._cap: int | None = None  # the server's row cap, once seen
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()  # see _cached
        self._uncapped = 0  # the largest answer the server was seen to give whole

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> RemoteStore:
        return cls(settings["sparql_endpoint"], settings.get("graph_store_endpoint", ""),
                   settings.get("graph_store_auth", ""), settings.get("cache_dir", "var/cache"),
                   settings.get("store_timeout", 60.0))

    # --- HTTP ------------------------------------------------------------------------

    def _allowance(self) -> tuple[float, float, str]:
        """(deadline, seconds allowed, setting) for the call about to be made."""
        budget = getattr(_budget, "value", None)
        if budget is not None:
            deadline, total, setting = budget
            return deadline - _margin(total), total, setting
        return time.monotonic() + self.timeout, self.timeout, "store_timeout"

    @staticmethod
    def _too_large(where: str) -> ExternalStoreError:
        return ExternalStoreError(f"the answer of the SPARQL server at {where} is larger than "
                                  f"{MAX_ANSWER_BYTES // 2**20} MB; rivalry reads no more")

    def _timeout_error(self, url: str, total: float, setting: str) -> ServerTimeout:
        where = "the request's time limit" if setting != "store_timeout" else "the limit"
        return ServerTimeout(
            f"the SPARQL server at {url.split('?')[0]} did not answer within {total:g} s "
            f"({where}, setting {setting})")

    def _send(self, method: str, url: str, *, body: bytes | None = None,
              headers: dict[str, str] | None = None, deadline: float | None = None,
              total: float | None = None, setting: str | None = None,
              probing: bool = False) -> Reply:
        if deadline is None:
            deadline, total, setting = self._allowance()
        assert total is not None and setting is not None
        now = time.monotonic()
        if not probing:
            if now < self._down_until:
                raise ExternalStoreError(f"{self._down_reason} (not asked again for "
                                         f"{self._down_until - now:.0f} s)")
            if self._suspect:
                self._check_alive(deadline)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout_error(url, total, setting)
        parts = urllib.parse.urlsplit(url)
        connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                            else http.client.HTTPConnection)
        connection = connection_class(parts.hostname or "", parts.port, timeout=remaining)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        where = url.split("?")[0]
        try:
            connection.request(method, target, body=body, headers=headers or {})
            sock = connection.sock
            response = connection.getresponse()
            if response.length is not None and response.length > MAX_ANSWER_BYTES:
                raise self._too_large(where)  # announced: not a byte of it read
            chunks, size = [], 0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if sock is not None:
                    sock.settimeout(left)
                chunk = response.read1(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise self._too_large(where)
                chunks.append(chunk)
            if response.length:  # a Content-Length not met: read1 ends quietly there
                raise ServerBrokeOff(
                    f"the SPARQL server at {where} broke off its answer: {size} bytes of "
                    f"the {size + response.length} it announced came")
            self._suspect = False
            return Reply(response.status, response.headers, b"".join(chunks))
        except TimeoutError:
            if not probing:
                self._suspect = True
            raise self._timeout_error(url, total, setting) from None
        except ConnectionRefusedError:
            raise ExternalStoreError(f"cannot reach the SPARQL server at {where}: connection "
                                     "refused (is it running, and is the setting right?)"
                                     ) from None
        except (http.client.HTTPException, ConnectionError) as e:
            raise ServerBrokeOff(f"the SPARQL server at {where} broke off the exchange: "
                                     f"{_one_line(str(e) or type(e).__name__)}") from None
        except OSError as e:
            raise ExternalStoreError(f"cannot reach the SPARQL server at {where}: "
                                     f"{e.strerror or e}") from None
        finally:
            connection.close()

    def _check_alive(self, deadline: float) -> None:
        """After a timeout: is the server answering at all? A quick, trivial question;
        no answer marks it down for DOWN_FOR seconds."""
        left = deadline - time.monotonic()
        seconds = max(0.001, min(PROBE_TIMEOUT, left))
        url = self.query_endpoint + "?" + urllib.parse.urlencode(
            {"query": "ASK { FILTER(false) }"})
        try:
            self._send("GET", url, headers={"Accept": "application/sparql-results+json"},
                       deadline=time.monotonic() + seconds, total=seconds,
                       setting="store_timeout", probing=True)
        except ExternalStoreError as e:
            if isinstance(e, ServerTimeout) and seconds < PROBE_TIMEOUT:
                # the request's own time was nearly spent: no verdict on the server
                raise ServerTimeout(f"the SPARQL server at {self.query_endpoint} was not "
                                    "asked: the request's time limit was spent") from None
            self._down_until = time.monotonic() + DOWN_FOR
            why = (f"no answer to a trivial query within {seconds:.1f} s"
                   if isinstance(e, ServerTimeout) else f"a trivial query failed: {e}")
            self._down_reason = (f"the SPARQL server at {self.query_endpoint} is not "
                                 f"answering ({why})")
            raise ExternalStoreError(self._down_reason) from None
        self._suspect = False

    def _query_request(self, sparql: str, accept: str,
                       dataset: list[tuple[str, str]]) -> Reply:
        params = [("query", sparql)] + dataset
        encoded = urllib.parse.urlencode(params)
        headers = {"Accept": accept}
        if len(encoded) <= GET_MAX:
            return self._send("GET", f"{self.query_endpoint}?{encoded}", headers=headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self._send("POST", self.query_endpoint, body=encoded.encode("ascii"),
                          headers=headers)

    def _ask_server(self, sparql: str, form: str | None, dataset: list[tuple[str, str]],
                    *, public: bool = False) -> tuple[Answer, Reply]:
        """One query, one request: the answer as the server gave it."""
        graph = form in ("CONSTRUCT", "DESCRIBE")
        accept = "application/n-triples" if graph else RESULTS_ACCEPT
        reply = self._query_request(sparql, accept, dataset)
        where = self.query_endpoint
        if reply.status >= 400:
            text = reply.body.decode("utf-8", "replace")
            detail = _one_line(text.split("\nSPARQL query:")[0])
            if "SR353" in text:  # Virtuoso: too many rows to sort for LIMIT and OFFSET
                raise ExternalStoreError(
                    f"the SPARQL server at {where} refused to sort more rows than its limit "
                    "for a page of an ordered answer (Virtuoso's MaxSortedTopRows, 10000 by "
                    "default; an answer longer than the server's row cap is read in pages of "
                    "one order): raise it in virtuoso.ini, section [Parameters], or raise "
                    "ResultSetMaxRows, section [SPARQL] (docs/external-store.md)")
            if any(sign in text for sign in TIMED_OUT):
                raise ServerTimeout(f"the SPARQL server at {where} stopped the query at its own "
                                    f"time limit, or refused it as too costly: {detail}")
            if public and 400 <= reply.status < 500:
                raise QueryError(f"the SPARQL server refused the query ({reply.status}): "
                                 f"{detail}")
            raise ExternalStoreError(f"the SPARQL server at {where} answered {reply.status}"
                                     f"{': ' + detail if detail else ''}")
        state = reply.headers.get("X-SQL-State", "")
        if state == "S1TAT" or reply.status == 206:
            # Virtuoso's "anytime" answer: cut by its own time limit (MaxQueryExecutionTime)
            raise QueryTimeout(f"the SPARQL server at {where} stopped the query at its own "
                               "time limit and gave part of the answer; rivalry does not "
                               "serve part of an answer (narrow the query, or raise "
                               "MaxQueryExecutionTime)")
        try:
            if graph:
                return Answer("graph", triples=read_triples(reply.body)), reply
            return read_results(reply.body, form,
                                reply.headers.get("Content-Type", "")), reply
        except (ValueError, SyntaxError, KeyError, TypeError, AttributeError,
                InvalidInput) as e:
            raise ExternalStoreError(f"the answer of the SPARQL server at {where} cannot be "
                                     f"read: {_one_line(str(e))}") from None

    # --- row caps ----------------------------------------------------------------------

    def _cut(self, answer: Answer, reply: Reply) -> bool:
        """Whether the server may have cut the answer at a row cap of its own."""
        n = len(answer.triples if answer.kind == "graph" else answer.rows)
        header = reply.headers.get("X-SPARQL-MaxRows")  # Virtuoso says so when it cut
        if header and header.strip().isdigit():
            self._cap = int(header)
            return n >= self._cap
        if answer.kind == "ask" or n < CAP_SUSPECT_FROM:
            return False
        if self._cap is not None:
            return n >= self._cap
        if n < self._uncapped:
            return False
        self._probe_cap(n + 1)
        return self._cap is not None and n >= self._cap

    def _probe_cap(self, rows: int) -> None:
        """Ask for `rows` trivial rows: a server that gives fewer caps its answers there."""
        asked = max(rows, 10_001)
        blocks = max(1, math.ceil(math.log10(asked)))
        digits = " ".join(str(d) for d in range(10))
        pattern = " ".join(f"VALUES ?v{i} {{ {digits} }}" for i in range(blocks))
        answer, reply = self._ask_server(f"SELECT ?v0 WHERE {{ {pattern} }} LIMIT {asked}",
                                         "SELECT", [])
        header = reply.headers.get("X-SPARQL-MaxRows")
        if len(answer.rows) >= asked:
            self._uncapped = asked
            return
        cap = int(header) if header and header.strip().isdigit() else len(answer.rows)
        if cap < CAP_SUSPECT_FROM:
            # no server caps its answers that low: this one did not answer the question
            raise ExternalStoreError(
                f"the SPARQL server at {self.query_endpoint} gave {len(answer.rows)} rows "
                f"of {asked} to a query of constants (whether it caps its answers): its "
                "answers cannot be trusted")
        self._cap = cap

    def _read(self, sparql: str, form: str | None, dataset: list[tuple[str, str]],
              *, public: bool = False) -> Answer:
        """The whole answer: read again in pages when the server cut it at its cap."""
        answer, reply = self._ask_server(sparql, form, dataset, public=public)
        if not self._cut(answer, reply):
            return answer
        assert self._cap is not None
        if form == "CONSTRUCT":
            return self._read_construct_pages(sparql, dataset, public=public)
        if form != "SELECT":
            raise ExternalStoreError(
                f"the SPARQL server at {self.query_endpoint} cut a {form} answer at its row "
                f"limit ({self._cap}); raise the limit (Virtuoso: ResultSetMaxRows)")
        paged = self._paged(sparql, public)
        rows: list = []
        offset = 0
        while True:
            page = with_window(paged, offset, self._cap)
            if page is None:
                raise self._unpageable()
            part, _ = self._ask_server(page, form, dataset, public=public)
            rows += part.rows
            if len(part.rows) < self._cap:
                return Answer("select", answer.variables, rows)
            offset += self._cap

    def _paged(self, sparql: str, public: bool) -> str:
        """The text whose pages are read: for a public query, ordered so that its pages
        are pages of one sequence (with_total_order). Without an order, a server may give
        each page of an answer from a different order (Virtuoso does, when busy), so
        that rows repeat and others go missing, and nothing would tell. The project's
        own reads keep the server's order, where a sort would go past what Virtuoso
        sorts for OFFSET (MaxSortedTopRows): whole graphs are checked against their
        size instead (`quads`)."""
        if not public:
            return sparql
        ordered = with_total_order(sparql)
        if ordered is None:
            raise self._unpageable()
        return ordered

    def _unpageable(self) -> ExternalStoreError:
        return ExternalStoreError(
            f"the SPARQL server at {self.query_endpoint} cut an answer at its row limit "
            f"({self._cap}) and the query cannot be read in pages")

    def _read_window(self, sparql: str, dataset: list[tuple[str, str]], rows: int
                     ) -> Answer:
        """At most `rows` rows of a public SELECT: asked for in one window, or in windows
        of the server's cap when it has one (learnt once), so that no request asks a
        server for more rows than it gives or sorts."""
        if self._cap is None and not self._uncapped:
            self._probe_cap(rows)
        step = min(rows, self._cap) if self._cap is not None else rows
        # rows in one window (and perhaps a last window of one row, which only tells
        # whether there are more): the answer is the server's, in whatever order; rows in
        # several windows: they must be windows of one sequence
        paged = sparql if rows - 1 <= step else with_total_order(sparql)
        if paged is None:
            raise self._unpageable()
        variables: list[str] = []
        found: list = []
        while len(found) < rows:
            wanted = min(step, rows - len(found))
            text = paged
            if wanted == 1 and found:
                # only whether there is one more row: a question the order does not
                # change, asked without it (servers limit how far they sort for OFFSET)
                text = without_order(sparql) or sparql
            page = with_window(text, len(found), wanted)
            if page is None:  # cannot be windowed: read it as it is, cut here
                return self._read(sparql, "SELECT", dataset, public=True)
            part, _ = self._ask_server(page, "SELECT", dataset, public=True)
            variables = part.variables
            found += part.rows
            if len(part.rows) < min(step, rows):
                break
        return Answer("select", variables, found)

    def _read_construct_pages(self, sparql: str, dataset: list[tuple[str, str]], *,
                              public: bool) -> Answer:
        """A CONSTRUCT answer the server cut: its solutions in pages small enough that
        no page's triples reach the cap, whatever the template's size."""
        assert self._cap is not None
        size = max(1, self._cap // 16)
        paged = self._paged(sparql, public)
        triples: dict[ox.Triple, None] = {}
        offset = 0
        while True:
            page = with_window(paged, offset, size)
            if page is None:
                raise self._unpageable()
            part, reply = self._ask_server(page, "CONSTRUCT", dataset, public=public)
            if len(part.triples) >= self._cap:
                raise ExternalStoreError(
                    f"the SPARQL server at {self.query_endpoint} cut an answer at its row "
                    f"limit ({self._cap}) even in pages; raise the limit (Virtuoso: "
                    "ResultSetMaxRows)")
            triples.update(dict.fromkeys(part.triples))
            if not part.triples:
                return Answer("graph", triples=list(triples))
            offset += size

    # --- the build state -------------------------------------------------------------

    def read_state(self) -> State:
        """What the build graph says now, read from the server."""
        query = (f"SELECT ?d WHERE {{ GRAPH <{BUILD_GRAPH}> {{ <{BUILD_GRAPH}> "
                 f"<{DCT_DESCRIPTION}> ?d }} }}")
        answer, _ = self._ask_server(query, "SELECT", [])
        if not answer.rows or answer.rows[0][0] is None:
            return State(None)
        try:
            state = State.from_dict(json.loads(term_value(answer.rows[0][0])))
        except (ValueError, KeyError, TypeError) as e:
            raise ExternalStoreError(f"the build description in <{BUILD_GRAPH}> on "
                                     f"{self.query_endpoint} cannot be read ({e}); rerun "
                                     "`rivalry build`") from None
        with self._lock:
            self._state, self._state_read = state, time.monotonic()
        return state

    def _current_state(self) -> State:
        with self._lock:
            state, read = self._state, self._state_read
        if state is None or time.monotonic() - read > STATE_TTL:
            state = self.read_state()
        return state

    def _build(self) -> RemoteBuild:
        state = self._current_state()
        if state.current is None:
            loading = (f" (build {state.pending.build_id} is being loaded)"
                       if state.pending and state.pending.state == "loading" else "")
            raise NoBuild(f"no graph has been built into {self.query_endpoint}{loading}: run "
                          "`rivalry build` with the same settings")
        self._serving = state.current
        self._seen.add(state.current.info.build_id)
        return state.current

    @property
    def info(self) -> BuildInfo:
        return self._build().info

    @property
    def known_build_id(self) -> str | None:
        return self._serving.info.build_id if self._serving is not None else None

    def confirm_build_id(self) -> str | None:
        """The build every answer read since the last confirmation came from, if it is
        still the current one and no build is loading beside it; None otherwise."""
        seen, self._seen = self._seen, set()
        if len(seen) != 1:
            return None
        try:
            state = self.read_state()
        except StoreError:
            return None
        (build,) = seen
        if state.pending is not None or state.current is None \
                or state.current.info.build_id != build:
            return None
        return build

    def pending_load(self) -> PendingLoad | None:
        return self._current_state().pending

    def refresh(self) -> None:
        with self._lock:
            self._state = None

    @property
    def files_dir(self) -> Path:
        return self.cache_root / self.info.build_id

    @property
    def cache_dir(self) -> Path:
        return self.files_dir / "dumps"

    def named_graphs(self) -> list[str]:
        return sorted(self._build().graphs)

    def graph_sizes(self) -> dict[str, int]:
        return dict(self._build().graphs)

    # --- reading ---------------------------------------------------------------------

    def _dataset(self, shape: QueryShape, default_graph_uris: list[str] | None,
                 named_graph_uris: list[str] | None) -> list[tuple[str, str]]:
        """The dataset a query is sent with: the request's own, or the query's FROM
        clauses, kept to the build's graphs; otherwise the build's union graph as the
        default graph and, when the query names graphs, the build's graphs as named
        graphs."""
        build = self._build()
        ours = build.graphs

        def kept(graphs: list[str]) -> list[str]:
            return [g for g in graphs if g in ours] or [EMPTY_GRAPH]

        if default_graph_uris or named_graph_uris:
            default, named = default_graph_uris or [], named_graph_uris or []
        elif shape.has_dataset_clause:
            default, named = shape.from_graphs, shape.from_named_graphs
        else:
            params = [("default-graph-uri", build.union)]
            if shape.graphs:
                wanted = (sorted(ours) if None in shape.graphs
                          else sorted({g for g in shape.graphs if g in ours}) or [EMPTY_GRAPH])
                params += [("named-graph-uri", g) for g in wanted]
            return params
        return ([("default-graph-uri", g) for g in kept(default)]
                + [("named-graph-uri", g) for g in kept(named)])

    def query(self, sparql: str, *, default_graph_uris: list[str] | None = None,
              named_graph_uris: list[str] | None = None,
              bindings: dict[str, Term] | None = None) -> QueryResult:
        """A trusted query (the project's own, or the command line's), read whole."""
        text = bind_values(sparql, bindings)
        shape = inspect_query(text)
        if shape.form is None or shape.form == "UPDATE":
            raise QueryError("not a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE)")
        _check_syntax(text, shape)
        text, dataset = self._scoped(text, shape, default_graph_uris, named_graph_uris)
        return QueryResult.of(self._cached(("query", text, tuple(dataset)),
                                           lambda: self._read(text, shape.form, dataset)))

    def _cached(self, key: tuple, read: Callable[[], Answer]) -> Answer:
        """A trusted answer, from this process's cache of the current build's answers
        when it is there. A build never changes once it is whole, so its answers can be
        kept; answers read while another build loads are not (they may mix the two)."""
        build = self._build()
        full = (build.info.build_id, *key)
        with self._lock:
            found = self._answers.get(full)
            if found is not None:
                self._answers.move_to_end(full)
                return found
        answer = read()
        size = len(answer.rows) + len(answer.triples)
        state = self._current_state()
        if size <= CACHED_ROWS_MAX and state.pending is None and state.current is not None \
                and state.current.info.build_id == build.info.build_id:
            with self._lock:
                self._answers[full] = answer
                while len(self._answers) > CACHED_ANSWERS:
                    self._answers.popitem(last=False)
        return answer

    def _scoped(self, text: str, shape: QueryShape, default_graph_uris: list[str] | None,
                named_graph_uris: list[str] | None) -> tuple[str, list[tuple[str, str]]]:
        """The text to send and its dataset: a query's own FROM clauses are taken out of
        the text and sent as protocol parameters, kept to the build's graphs (servers
        differ on which of the two wins when both are given)."""
        dataset = self._dataset(shape, default_graph_uris, named_graph_uris)
        if shape.has_dataset_clause:
            stripped = without_dataset_clauses(text)
            if stripped is None:
                raise QueryError("this query's FROM clauses cannot be read; write them with "
                                 "IRIs or prefixed names, without \\u escapes")
            text = stripped
        return text, dataset

    def execute(self, sparql: str, limits: QueryLimits, *,
                default_graph_uris: list[str] | None = None,
                named_graph_uris: list[str] | None = None,
                bindings: dict[str, Term] | None = None,
                result_format: ResultFormat | None = None) -> Answer:
        """A query from the public endpoint: checked as for the embedded store (and
        parsed here first, so that syntax errors read the same), run on the server within
        the time limit, and cut at the row limit. The rows are collected here whatever
        `result_format` asks, for the caller to write."""
        shape = check_query(sparql, max_depth=limits.max_depth, max_tokens=limits.max_tokens,
                            service_allowlist=limits.service_allowlist)
        if shape.form is None:
            raise QueryError("not a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE)")
        text = bind_values(sparql, bindings)
        # pyoxigraph parses and plans the text on an empty store: on a deep stack and
        # within the time limit, as the embedded store runs a query (rivalry.graph.isolate;
        # inline in a worker of `rivalry serve`), since both recurse on the query's tree
        # and some long chains take it long to plan
        shape_read = shape if text == sparql else inspect_query(text)
        if math.isinf(limits.time_limit):
            _check_syntax(text, shape_read)
        else:
            try:
                run_with_time_limit(_check_syntax, (text, shape_read), limits.time_limit,
                                    "the query's syntax check", memory=limits.memory)
            except TimeLimitExceeded:
                raise query_timeout(limits) from None
        # within the request's own budget when there is one (the server sets it), else
        # within the query's time limit
        bounded = (nullcontext() if getattr(_budget, "value", None) is not None
                   else time_budget(limits.time_limit, "query_time_limit"))
        try:
            with bounded:
                text, dataset = self._scoped(text, inspect_query(text), default_graph_uris,
                                             named_graph_uris)
                if shape.form == "SELECT":
                    answer = self._read_window(text, dataset, limits.row_limit + 1)
                else:
                    answer = self._read(text, shape.form, dataset, public=True)
        except ServerTimeout as e:
            raise QueryTimeout(
                f"the query ran longer than {limits.time_limit:g} s on the SPARQL server "
                f"at {self.query_endpoint}, or the server would not run it that long, and it "
                f"was abandoned (setting query_time_limit; {e.message}); narrow it, or add a "
                "LIMIT") from None
        answer = _capped(answer, limits.row_limit)
        fmt = result_format(answer.kind) if result_format is not None else None
        if isinstance(fmt, ox.QueryResultsFormat) and answer.kind in ("select", "ask"):
            # written by pyoxigraph's own writer, as the embedded store writes its
            # answers, so that both give the same bytes
            native = ox.parse_query_results(to_json(answer), format=ox.QueryResultsFormat.JSON)
            answer.body = native.serialize(format=fmt) or b""
            answer.body_format = fmt.media_type
        return answer

    def _quads_query(self, subject: Term | None, predicate: Term | None, obj: Term | None,
                     graph: str | None) -> str:
        for term in (subject, predicate, obj):
            if isinstance(term, ox.BlankNode):
                raise StoreError("a blank node cannot be looked up in an external store: the "
                                 "SPARQL Protocol has no way to name one")

        def part(term: Term | None, var: str) -> str:
            return var if term is None else str(term)

        pattern = f"{part(subject, '?s')} {part(predicate, '?p')} {part(obj, '?o')}"
        # no ORDER BY: pages of an answer the server cuts are read in its own order,
        # which servers keep while the data does not change (a sorted page would need
        # Virtuoso to sort the whole answer, past its MaxSortedTopRows), and a whole
        # graph read is checked against its size
        if graph is not None:
            return f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ {pattern} }} }}"
        return (f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH ?g {{ {pattern} }} "
                f'FILTER(STRSTARTS(STR(?g), "{GRAPH_BASE}") '
                f'&& !STRSTARTS(STR(?g), "{UNION_GRAPH_BASE}") && ?g != <{BUILD_GRAPH}>) }}')

    def quads_for_pattern(self, subject: Subject | None, predicate: ox.NamedNode | None,
                          obj: Term | None, graph: GraphName | None = None
                          ) -> Iterator[ox.Quad]:
        """The quads matching a pattern in the build's named graphs (or in `graph`). The
        query names its graphs itself (GRAPH), so it is sent with no dataset: the
        server's own, filtered to rivalry's graphs."""
        if graph is not None and (not isinstance(graph, ox.NamedNode)
                                  or graph.value not in self._build().graphs):
            return iter(())
        g = graph.value if isinstance(graph, ox.NamedNode) else None
        text = self._quads_query(subject, predicate, obj, g)
        answer = self._cached(("quads", text), lambda: self._read(text, "SELECT", []))
        return self._to_quads(answer, subject, predicate, obj, graph)

    @staticmethod
    def _to_quads(answer: Answer, subject: Subject | None, predicate: ox.NamedNode | None,
                  obj: Term | None, graph: GraphName | None) -> Iterator[ox.Quad]:
        for row in answer.rows:
            s, p, o = row[0] or subject, row[1] or predicate, row[2] or obj
            gg = row[3] if len(row) > 3 else graph
            if (isinstance(s, ox.Literal) or s is None or not isinstance(p, ox.NamedNode)
                    or o is None or isinstance(gg, ox.Literal | ox.Triple)):
                raise ExternalStoreError("the SPARQL server answered a quad pattern with "
                                         f"{row!r}, which is no quad")
            yield ox.Quad(s, p, o, gg)

    def quads(self, graph: str | None = None) -> Iterator[ox.Quad]:
        """Every quad of the build (or of one graph), read graph by graph, with the blank
        nodes of each facts file and of the ontology labelled as the build labelled
        them (canonical labels per file), so that dumps read from the server are those
        of the embedded store."""
        build = self._build()
        graphs = [graph] if graph else sorted(build.graphs)
        for g in graphs:
            if g not in build.graphs:
                continue
            node = ox.NamedNode(g)
            # read again once when the count is off: an answer read in pages has no order
            # of its own, and a busy server (Virtuoso's parallel plans) may give the pages
            # of two different orders, which miss and repeat rows
            for _ in range(2):
                found = list(dict.fromkeys(self._to_quads(
                    self._read(self._quads_query(None, None, None, g), "SELECT", []),
                    None, None, None, node)))
                if len(found) == build.graphs[g]:
                    break
            if len(found) != build.graphs[g]:
                raise ExternalStoreError(
                    f"the SPARQL server at {self.query_endpoint} gave {len(found)} triples of "
                    f"<{g}>, which has {build.graphs[g]} in build {build.info.build_id}: "
                    "its answers changed while they were read in pages, or the graph was "
                    "changed on the server; rerun `rivalry build`")
            scope = ("ontology" if g == ONTOLOGY_GRAPH else g.removeprefix(FACTS_GRAPH_BASE)
                     if g.startswith(FACTS_GRAPH_BASE) else None)
            if scope is not None and any(isinstance(t, ox.BlankNode)
                                         for q in found for t in (q.subject, q.object)):
                found = canonical(found, scope)
            yield from found

    # --- writing ---------------------------------------------------------------------

    def _write(self, method: str, graph: str, body: bytes | None = None) -> Reply:
        """One Graph Store request on `graph`, authenticated as the server asks."""
        url = f"{self.graph_store_endpoint}?{urllib.parse.urlencode({'graph': graph})}"
        headers = {"Content-Type": "application/n-triples"} if body is not None else {}
        for attempt in range(2):
            if self._auth.scheme is None:
                self._learn_auth()
            authorization = self._auth.header(method, url)
            if authorization:
                headers["Authorization"] = authorization
            try:
                reply = self._send(method, url, body=body, headers=headers)
            except ServerBrokeOff:
                if attempt == 0 and self._auth.scheme == "digest":
                    self._auth.scheme = None  # a stale nonce refused before the body was read
                    continue
                raise
            if reply.status == 401 and attempt == 0 and self._auth.scheme == "digest":
                self._auth.scheme = None
                continue
            return self._checked(reply, method, graph)
        return self._checked(reply, method, graph)

    def _checked(self, reply: Reply, method: str, graph: str) -> Reply:
        where = self.graph_store_endpoint
        if reply.status in (401, 403):
            raise ExternalStoreError(
                f"the graph store at {where} refused to {method} <{graph}> ({reply.status}): "
                "set graph_store_auth to the user:password of an account that may write "
                "(Virtuoso: one with the SPARQL_UPDATE role, such as dba)")
        if reply.status == 404 and method == "DELETE":
            return reply
        if reply.status >= 400:
            detail = _one_line(reply.body.decode("utf-8", "replace"))
            raise ExternalStoreError(f"the graph store at {where} answered {reply.status} to "
                                     f"{method} <{graph}>{': ' + detail if detail else ''}")
        return reply

    def _learn_auth(self) -> None:
        """DELETE a graph that never exists, without credentials: the server's answer says
        whether writes need them and how (a 401 with its challenges)."""
        url = (f"{self.graph_store_endpoint}?"
               f"{urllib.parse.urlencode({'graph': AUTH_PROBE_GRAPH})}")
        reply = self._send("DELETE", url)
        if reply.status != 401:
            self._auth.scheme = "basic" if self._auth.user else "none"
            return
        if not self._auth.user:
            raise ExternalStoreError(
                f"the graph store at {self.graph_store_endpoint} needs credentials to write: "
                "set graph_store_auth to user:password")
        self._auth.learn(reply.headers.get_all("WWW-Authenticate") or [], url)

    def _write_state(self, state: State) -> None:
        description = ox.Triple(ox.NamedNode(BUILD_GRAPH), ox.NamedNode(DCT_DESCRIPTION),
                                ox.Literal(json.dumps(state.to_dict()),
                                           datatype=ox.NamedNode(RDF_JSON)))
        self._write("PUT", BUILD_GRAPH, ox.serialize([description],
                                                     format=ox.RdfFormat.N_TRIPLES) or b"")
        with self._lock:
            self._state, self._state_read = state, time.monotonic()

    def _replace_graph(self, graph: str, triples: list[ox.Triple]) -> None:
        """Replace a graph's content: one PUT, then POSTs (which add) for a large graph;
        every triple with a blank node goes in the first request, since a server gives
        the blank nodes of each request new identities."""
        with_blanks = [t for t in triples if isinstance(t.subject, ox.BlankNode)
                       or isinstance(t.object, ox.BlankNode)]
        plain = [t for t in triples if not (isinstance(t.subject, ox.BlankNode)
                                            or isinstance(t.object, ox.BlankNode))]
        first = max(LOAD_CHUNK - len(with_blanks), 0)
        chunks = [with_blanks + plain[:first]]
        chunks += [plain[i:i + LOAD_CHUNK] for i in range(first, len(plain), LOAD_CHUNK)]
        for i, chunk in enumerate(chunks):
            body = ox.serialize(chunk, format=ox.RdfFormat.N_TRIPLES) or b""
            self._write("PUT" if i == 0 else "POST", graph, body)

    def _server_graphs(self) -> list[str]:
        """Every graph of the server under rivalry's graph base."""
        # GROUP BY, not DISTINCT: Virtuoso plans the DISTINCT of graphs as a scan
        answer = self._read(f"SELECT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                            f'FILTER(STRSTARTS(STR(?g), "{GRAPH_BASE}")) }} GROUP BY ?g',
                            "SELECT", [])
        return [row[0].value for row in answer.rows if isinstance(row[0], ox.NamedNode)]

    def publish_build(self, memory: ox.Store, info: BuildInfo,
                      write_files: Callable[[Path], None],
                      progress: Callable[[str], None]) -> Path:
        """Load a build into the server (BuildTarget): its files (search index, dumps, figures)
        into cache_dir/<build id>/ first; then the state "loading"; every named graph,
        replaced; the union of the graphs, into a graph of the build's own; the switch
        to the new build, by rewriting the build graph; and, once readers have moved
        over, the removal of the previous build's union graph and of graphs the new
        build no longer has. A load that fails leaves the state "failed", which the
        server reports until a build succeeds, and the previous build current."""
        if not self.graph_store_endpoint:
            raise StoreError("loading into an external store needs the graph_store_endpoint "
                             "setting (its SPARQL 1.1 Graph Store Protocol endpoint)")
        files = self.cache_root / info.build_id
        write_files(files)
        previous = self.read_state().current
        started = datetime.now(UTC).isoformat(timespec="seconds")
        self._write_state(State(previous, PendingLoad(info.build_id, started, "loading")))
        union = UNION_GRAPH_BASE + info.build_id
        try:
            sizes: dict[str, int] = {}
            names = sorted(g.value for g in memory.named_graphs()
                           if isinstance(g, ox.NamedNode))
            for graph in names:
                triples = [ox.Triple(q.subject, q.predicate, q.object) for q in
                           memory.quads_for_pattern(None, None, None, ox.NamedNode(graph))]
                self._replace_graph(graph, triples)
                sizes[graph] = len(triples)
            progress(f"loaded {len(names)} graphs into {self.graph_store_endpoint}")
            named = {ox.NamedNode(g) for g in names}
            everything = list(dict.fromkeys(ox.Triple(q.subject, q.predicate, q.object)
                                            for q in memory if q.graph_name in named))
            self._replace_graph(union, everything)
            progress(f"loaded their union ({len(everything)} triples) into <{union}>")
            build = RemoteBuild(info, union, sizes)
            self._write_state(State(build))
        except BaseException as e:
            message = e.message if isinstance(e, StoreError) else _one_line(str(e))
            try:
                self._write_state(State(previous, PendingLoad(info.build_id, started,
                                                              "failed", message)))
            except StoreError:
                pass
            raise
        progress(f"switched {self.query_endpoint} to build {info.build_id} "
                 f"({info.quads} quads in {info.graphs} graphs)")
        if previous is not None:
            time.sleep(self.switch_grace)  # readers trust the state they read a while
        keep = set(names) | {BUILD_GRAPH, union}
        stale = [g for g in self._server_graphs() if g not in keep]
        for graph in stale:
            self._write("DELETE", graph)
        if stale:
            progress(f"removed {len(stale)} graphs the build no longer has, and the previous "
                     "build's union graph")
        return files


def bind_values(query: str, bindings: dict[str, Term] | None) -> str:
    """Give variables their values with a VALUES block at the start of the query's group.

    The SPARQL Protocol has no way to pass bindings, so the values, which are RDF terms
    (already parsed and checked, never raw text), are written in N-Triples syntax."""
    if not bindings:
        return query
    names = " ".join(f"?{k}" for k in bindings)
    values = " ".join(str(v) for v in bindings.values())
    bound = with_values(query, f"VALUES ({names}) {{ ({values}) }}")
    if bound is None:
        raise QueryError("this query has no group to bind values in")
    return bound


def _check_syntax(text: str, shape: QueryShape) -> None:
    """Parse the query here (on an empty store), so that a syntax error is reported as
    the embedded store reports it, before the server sees the query."""
    if shape.services:
        return  # an allowed SERVICE would be called by the local engine
    try:
        ox.Store().query(text)
    except SyntaxError as e:
        raise syntax_error(e, text) from None
    except (ValueError, OSError, RuntimeError):
        pass  # the server decides


def _capped(answer: Answer, row_limit: int) -> Answer:
    if answer.kind == "select" and len(answer.rows) > row_limit:
        return Answer("select", answer.variables, answer.rows[:row_limit], truncated=True,
                      limit=row_limit)
    if answer.kind == "graph" and len(answer.triples) > row_limit:
        return Answer("graph", triples=answer.triples[:row_limit], truncated=True,
                      limit=row_limit)
    return answer

