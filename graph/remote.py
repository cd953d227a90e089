"""An external SPARQL 1.1 server as the store: queries over the SPARQL 1.1 Protocol, loads
over the SPARQL 1.1 Graph Store HTTP Protocol. Any server that speaks both works
(Oxigraph server, Apache Jena Fuseki, GraphDB, Virtuoso, Amazon Neptune), provided its
default graph is the union of its named graphs, as rivalry's queries expect (Oxigraph:
`--union-default-graph`; Fuseki: `unionDefaultGraph`; GraphDB, Virtuoso and Neptune do so
by default).

What changes from the embedded store: time limits are enforced by closing the HTTP
request (the server should also have its own query timeout, since closing a connection
does not stop every server's work), and a build replaces one named graph at a time
(each replacement atomic on the server), so readers may briefly see a mix of two builds;
the build's metadata graph is written last.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from rivalry.graph import GRAPH_BASE
from rivalry.graph.errors import QueryError, QueryTimeout, StoreError
from rivalry.graph.results import Answer
from rivalry.graph.sparql import check_query
from rivalry.graph.store import (
    BuildInfo,
    QueryLimits,
    QueryResult,
    ResultFormat,
    describe_syntax_error,
)

BUILD_GRAPH = GRAPH_BASE + "build"
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
DCT_DESCRIPTION = "http://purl.org/dc/terms/description"
TRUSTED_TIMEOUT = 300.0  # for the project's own queries and loads


def bind_values(query: str, bindings: dict[str, ox.Term] | None) -> str:
    """Give variables their values with a VALUES block at the start of the WHERE group.

    The SPARQL Protocol has no way to pass bindings, so the values, which are RDF terms
    (already parsed and checked, never raw text), are written in N-Triples syntax."""
    if not bindings:
        return query
    names = " ".join(f"?{k}" for k in bindings)
    values = " ".join(str(v) for v in bindings.values())
    match = re.search(r"WHERE\s*\{", query, re.IGNORECASE)
    if match is None:
        raise QueryError("this query has no WHERE clause to bind values in")
    block = f" VALUES ({names}) {{ ({values}) }} "
    return query[: match.end()] + block + query[match.end():]


class RemoteStore:
    """The graph in an external SPARQL 1.1 server."""

    kind = "remote"

    def __init__(self, query_endpoint: str, graph_store_endpoint: str = "",
                 auth: str = "", cache_root: str | Path = "var/cache") -> None:
        for name, url in (("sparql_endpoint", query_endpoint),
                          ("graph_store_endpoint", graph_store_endpoint)):
            if url and not re.match(r"^https?://", url):
                raise StoreError(f"setting {name}: {url!r} is not an http(s) URL")
        self.query_endpoint = query_endpoint
        self.graph_store_endpoint = graph_store_endpoint
        self.auth = auth
        self.cache_root = Path(cache_root)
        self._info: BuildInfo | None = None
        self._info_read = 0.0
        self._lock = threading.Lock()

    # --- HTTP ------------------------------------------------------------------------

    def _request(self, url: str, *, method: str = "GET", body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = TRUSTED_TIMEOUT,
                 write: bool = False) -> Any:
        headers = dict(headers or {})
        if write and self.auth:
            token = base64.b64encode(self.auth.encode("utf-8")).decode("ascii")
            headers["Authorization"] = "Basic " + token
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - configured URL
        except urllib.error.HTTPError as e:
            detail = e.read(2000).decode("utf-8", "replace").strip()
            if 400 <= e.code < 500 and not write:
                raise QueryError(f"the SPARQL server refused the query ({e.code}): "
                                 f"{detail[:500]}") from None
            raise StoreError(f"the SPARQL server at {url.split('?')[0]} answered {e.code}: "
                             f"{detail[:500]}") from None
        except TimeoutError:
            raise
        except urllib.error.URLError as e:
            if isinstance(e.reason, (TimeoutError, socket.timeout)):
                raise e.reason from None
            raise StoreError(f"cannot reach the SPARQL server at {url.split('?')[0]}: "
                             f"{e.reason}") from None

    def _post_query(self, sparql: str, accept: str, timeout: float,
                    default_graph_uris: list[str] | None = None,
                    named_graph_uris: list[str] | None = None) -> Any:
        params = [("default-graph-uri", u) for u in default_graph_uris or []]
        params += [("named-graph-uri", u) for u in named_graph_uris or []]
        url = self.query_endpoint + ("?" + urllib.parse.urlencode(params) if params else "")
        return self._request(url, method="POST", body=sparql.encode("utf-8"), timeout=timeout,
                             headers={"Content-Type": "application/sparql-query; charset=utf-8",
                                      "Accept": accept})

    # --- reading ---------------------------------------------------------------------

    def _raw(self, sparql: str, *, timeout: float, default_graph_uris: list[str] | None = None,
             named_graph_uris: list[str] | None = None) -> tuple[str, Any]:
        form = check_query(sparql, max_depth=10_000).form  # trusted: only the form matters
        graph = form in ("CONSTRUCT", "DESCRIBE")
        accept = ("application/n-triples" if graph
                  else "application/sparql-results+json")
        response = self._post_query(sparql, accept, timeout, default_graph_uris,
                                    named_graph_uris)
        if graph:
            return "graph", (ox.Triple(q.subject, q.predicate, q.object)
                             for q in ox.parse(response, format=ox.RdfFormat.N_TRIPLES))
        return "results", ox.parse_query_results(response, format=ox.QueryResultsFormat.JSON)

    def query(self, sparql: str, *, default_graph_uris: list[str] | None = None,
              named_graph_uris: list[str] | None = None,
              bindings: dict[str, ox.Term] | None = None) -> QueryResult:
        """Run a trusted query (the project's own) on the server."""
        try:
            kind, raw = self._raw(bind_values(sparql, bindings), timeout=TRUSTED_TIMEOUT,
                                  default_graph_uris=default_graph_uris,
                                  named_graph_uris=named_graph_uris)
        except SyntaxError as e:
            raise QueryError(describe_syntax_error(e, sparql)) from None
        if kind == "graph":
            return QueryResult(list(raw))
        return QueryResult(raw)

    def execute(self, sparql: str, limits: QueryLimits, *,
                default_graph_uris: list[str] | None = None,
                named_graph_uris: list[str] | None = None,
                bindings: dict[str, ox.Term] | None = None,
                result_format: ResultFormat | None = None) -> Answer:
        """A query from the public endpoint, checked as for the embedded store, run on the
        server with the time limit as the HTTP timeout, and cut at the row limit. The
        rows are collected here whatever `result_format` asks, for the caller to write:
        the server's own document could carry more rows than the cap."""
        from rivalry.graph.store import _collect

        shape = check_query(sparql, max_depth=limits.max_depth,
                            service_allowlist=limits.service_allowlist)
        if shape.form is None:
            raise QueryError("not a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE)")
        deadline = time.monotonic() + limits.time_limit
        try:
            kind, raw = self._raw(bind_values(sparql, bindings), timeout=limits.time_limit,
                                  default_graph_uris=default_graph_uris,
                                  named_graph_uris=named_graph_uris)
            answer = _collect(raw if kind == "results" else iter(raw), limits.row_limit)
        except TimeoutError:
            raise QueryTimeout(
                f"the query ran longer than {limits.time_limit:g} s and was stopped "
                "(setting query_time_limit); narrow it, or add a LIMIT") from None
        except SyntaxError as e:
            raise QueryError(f"the SPARQL server's answer could not be read: {e}") from None
        if time.monotonic() > deadline:
            raise QueryTimeout(f"the query ran longer than {limits.time_limit:g} s "
                               "(setting query_time_limit)")
        return answer

    def quads_for_pattern(self, subject: ox.Term | None, predicate: ox.Term | None,
                          obj: ox.Term | None, graph: ox.Term | None = None
                          ) -> Iterator[ox.Quad]:
        def term(t: ox.Term | None, var: str) -> str:
            return var if t is None else str(t)

        g = term(graph, "?g")
        query = (f"SELECT ?s ?p ?o ?g WHERE {{ GRAPH {g} {{ {term(subject, '?s')} "
                 f"{term(predicate, '?p')} {term(obj, '?o')} }} }}")
        for row in self.query(query).rows():
            s, p, o, gg = row
            yield ox.Quad(s or subject, p or predicate, o or obj, gg or graph)

    def quads(self, graph: str | None = None) -> Iterator[ox.Quad]:
        return self.quads_for_pattern(None, None, None, ox.NamedNode(graph) if graph else None)

    def named_graphs(self) -> list[str]:
        return sorted(r[0].value for r in self.query(
            "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").rows())

    @property
    def info(self) -> BuildInfo:
        with self._lock:
            if self._info is None or time.monotonic() - self._info_read > 2.0:
                rows = list(self.query(
                    f"SELECT ?d WHERE {{ GRAPH <{BUILD_GRAPH}> {{ <{BUILD_GRAPH}> "
                    f"<{DCT_DESCRIPTION}> ?d }} }}").rows())
                if not rows:
                    raise StoreError(f"no graph has been built into {self.query_endpoint}: "
                                     "run `rivalry build` with the same settings")
                self._info = BuildInfo(**json.loads(rows[0][0].value))
                self._info_read = time.monotonic()
            return self._info

    @property
    def cache_dir(self) -> Path:
        return self.cache_root / self.info.build_id / "dumps"

    def refresh(self) -> None:
        self._info = None

    # --- writing ---------------------------------------------------------------------

    def publish(self, memory: ox.Store, info: BuildInfo) -> None:
        """Replace the server's rivalry graphs by those of `memory`, one named graph at a
        time (Graph Store Protocol PUT), remove the graphs of the previous build that are
        gone, and write the build's metadata graph last."""
        if not self.graph_store_endpoint:
            raise StoreError("loading into an external store needs the graph_store_endpoint "
                             "setting (its SPARQL 1.1 Graph Store Protocol endpoint)")
        try:
            before = set(self.named_graphs())
        except StoreError:
            before = set()
        graphs = sorted({q.graph_name.value for q in memory.quads_for_pattern(None, None, None)
                         if isinstance(q.graph_name, ox.NamedNode)})
        for graph in graphs:
            triples = [ox.Triple(q.subject, q.predicate, q.object) for q in
                       memory.quads_for_pattern(None, None, None, ox.NamedNode(graph))]
            self._put(graph, ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"")
        for stale in sorted(before - set(graphs) - {BUILD_GRAPH}):
            if stale.startswith(GRAPH_BASE):
                url = self._graph_url(stale)
                self._request(url, method="DELETE", write=True).close()
        description = ox.Triple(ox.NamedNode(BUILD_GRAPH), ox.NamedNode(DCT_DESCRIPTION),
                                ox.Literal(json.dumps(info.to_dict()),
                                           datatype=ox.NamedNode(RDF_JSON)))
        self._put(BUILD_GRAPH, ox.serialize([description], format=ox.RdfFormat.N_TRIPLES))
        self.refresh()

    def _graph_url(self, graph: str) -> str:
        return self.graph_store_endpoint + "?" + urllib.parse.urlencode({"graph": graph})

    def _put(self, graph: str, body: bytes) -> None:
        self._request(self._graph_url(graph), method="PUT", body=body, write=True,
                      headers={"Content-Type": "application/n-triples"}).close()
