"""The serving benchmarks of bench/benchmark.py (`--serving-only`): `rivalry serve` against
`oxigraph serve` in memory, on the same quads, servers taking turns, clients that keep
their connections alive; then, on rivalry alone, pages and dumps, isolation of normal
requests from heavy queries, and slow clients. Not a test: figures for docs/benchmarks.md.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from harness import Server, free_port, percentile, wait_http

BIN = Path(sys.executable).parent
RV = "https://w3id.org/rivalry/ontology#"
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


# --- clients -----------------------------------------------------------------------------

#: The requests of the load being run, set before its client processes are forked: they
#: inherit them. Sent to each client as an argument instead, the 23 MB of point lookups
#: were pickled and unpickled once per client (16 times over), partly inside the window
#: being measured, on the cores the server was measured on.
_REQUESTS: list[tuple] = []


def _client(args: tuple) -> tuple[float, list[tuple[float, int, str]]]:
    """One client on one kept-alive connection: requests in a fixed order from its own
    starting point (so every server gets the same mixture); reconnects when the server
    closes. With `unique` (a text for this run), every query body gets a comment naming
    the run, the client and the request, so that no answer cache has seen it: not in an
    earlier run (another number of clients, a warm-up), nor in this one. Every client
    starts at `start` and stops `seconds` later (monotonic clock, shared by the
    processes), however late its process started. Returns how late it started (seconds
    after `start`, 0 when on time) and its samples: seconds, status, the request's tag."""
    host, port, seconds, index, clients, unique, start = args
    requests = _REQUESTS
    position = index * len(requests) // clients
    out = []
    conn = None
    time.sleep(max(0.0, start - time.monotonic()))
    late = max(0.0, time.monotonic() - start)
    end = start + seconds
    while time.monotonic() < end:
        method, path, body, headers, tag = requests[position % len(requests)]
        position += 1
        if unique and body:
            body += f"\n# {unique} {index} {position}".encode()
        start = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = 0
            if conn is not None:
                conn.close()
            conn = None
        out.append((time.perf_counter() - start, status, tag))
    if conn is not None:
        conn.close()
    return late, out


def load(url: str, requests: list[tuple], clients: int, seconds: float,
         unique: bool = False) -> dict:
    """`clients` clients sending `requests` for `seconds`; with `unique`, each query text
    once (see `_client`): what a server answers is then never a repeat. Each workload's
    figures say how late the latest client started (`late_start_ms`: 0 when every
    client ran the whole window)."""
    global _REQUESTS
    parsed = urllib.parse.urlparse(url)
    run = f"run {time.time_ns()}" if unique else ""
    _REQUESTS = requests
    try:
        with multiprocessing.get_context("fork").Pool(clients) as pool:
            # one window for all: the rate divides by `seconds`, which held only if every
            # client ran then (a client whose process started late ran past the others,
            # and a loaded machine starts them late: one run counted 2,383 lookups a
            # second where its server's CPU per request allowed at most about 1,700)
            start = time.monotonic() + 1.0 + 0.05 * clients
            results = pool.map(_client, [(parsed.hostname, parsed.port, seconds, i,
                                          clients, run, start) for i in range(clients)])
    finally:
        _REQUESTS = []
    late = max(late for late, _ in results)
    samples = [s for _, r in results for s in r]
    summary: dict = {}
    for tag in sorted({t for _, _, t in samples}):
        ok = [s for s, status, t in samples if t == tag and status == 200]
        summary[tag] = {
            "requests": len(ok), "throughput": len(ok) / seconds,
            "errors": sum(1 for _, status, t in samples if t == tag and status != 200),
            "p50_ms": 1000 * (percentile(ok, 0.5) or 0),
            "p95_ms": 1000 * (percentile(ok, 0.95) or 0),
            "p99_ms": 1000 * (percentile(ok, 0.99) or 0),
            "late_start_ms": 1000 * late}
    return summary


def sparql_requests(path: str, texts: list[str], accept: str, tag: str) -> list[tuple]:
    return [("POST", path, t.encode("utf-8"), {"Content-Type": "application/sparql-query",
                                                "Accept": accept}, tag) for t in texts]


# --- servers -----------------------------------------------------------------------------


def start_rivalry(store: Path, log: Path, **settings: object) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVALRY_")}
    env.update({f"RIVALRY_{k.upper()}": str(v) for k, v in settings.items()})
    server = Server([str(BIN / "rivalry"), "serve", "--store", str(store), "--port", str(port)],
                    f"http://127.0.0.1:{port}", env, log)
    wait_http(server.url + "/-/health")
    deadline = time.monotonic() + 900  # the cache warm-up: canned queries and pages
    while time.monotonic() < deadline and "page cache:" not in log.read_text():
        time.sleep(1)
    return server


def start_oxigraph(dump: Path, work: Path) -> Server:
    port = free_port()
    server = Server([str(BIN / "oxigraph"), "serve", "--bind", f"127.0.0.1:{port}",
                     "--union-default-graph"], f"http://127.0.0.1:{port}")
    wait_http(server.url + "/")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    c.request("POST", "/store", body=dump.read_bytes(),
              headers={"Content-Type": "application/n-quads"})
    c.getresponse().read()
    return server


# --- the measurements --------------------------------------------------------------------


def workloads(store: Path) -> dict[str, tuple[list[str], str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from rivalry.graph.canned import canned_queries
    from rivalry.graph.describe import description_query
    from rivalry.graph.store import EmbeddedStore

    s = EmbeddedStore(store)
    entities = [r[0].value for r in s.query(
        f"SELECT ?e WHERE {{ ?e a <{RV}Action> }} LIMIT 2000").rows()]
    mix = [q.text_with_defaults() for q in canned_queries()]
    unique = [text + f"\n# {i}" for i in range(200) for text in mix]
    random.Random(1).shuffle(unique)
    # texts no cache has seen: `load(..., unique=True)` adds a comment naming the run, the
    # client and the request to each
    points = [description_query(e) + f"\n# {i}" for i in range(10) for e in entities]
    random.Random(3).shuffle(points)
    return {"point lookups": (points, "application/n-triples"),
            "analyst mix": (unique, "application/sparql-results+json"),
            "analyst mix with repeats": (mix, "application/sparql-results+json")}


def compare(store: Path, work: Path, clients: list[int], seconds: float,
            mix_seconds: float) -> dict:
    """rivalry and Oxigraph server in memory, taking turns, on each workload; and where a
    point lookup's time goes (`costs`)."""
    loads = workloads(store)
    dump = work / "dump.nq"
    subprocess.run([str(BIN / "rivalry"), "export", "--store", str(store), "--format",
                    "nquads", "-o", str(dump)], check=True)
    points = loads["point lookups"][0]
    results: dict = {"costs": {"engine_ms": engine_ms(store, points[:2000])}}
    for name in ("rivalry", "oxigraph"):
        server = (start_rivalry(store, work / "serve.log") if name == "rivalry"
                  else start_oxigraph(dump, work))
        path = "/sparql" if name == "rivalry" else "/query"
        try:
            results["costs"][name] = sequential_ms(server.url, path, points)
            for workload, (texts, accept) in loads.items():
                requests = sparql_requests(path, texts, accept, workload)
                # texts no cache has seen, but in the mix with repeats: every run its own
                # (the point lookups of 4 clients were answered from the cache when 16
                # sent them again, until 4 December)
                unique = not workload.endswith("repeats")
                for n in clients:
                    warm = seconds if workload.endswith("repeats") else 1.0
                    load(server.url, requests[:50], n, warm, unique)
                    window = seconds if workload == "point lookups" else mix_seconds
                    before = cpu_seconds(server) if name == "rivalry" else None
                    had = server_pids(server) if name == "rivalry" else set()
                    figures = load(server.url, requests, n, window, unique)[workload]
                    if before is not None and workload == "point lookups":
                        after = cpu_seconds(server)
                        answered = max(figures["requests"] + figures["errors"], 1)
                        results["costs"].setdefault("rivalry_cpu_ms", {})[str(n)] = {
                            part: 1000 * (after[part] - before[part]) / answered
                            for part in before}
                        # a worker started during the load copies pages of the graph
                        # as its first queries touch them: its lookups cost more
                        results["costs"].setdefault("rivalry_new_processes", {})[str(n)] = \
                            len(server_pids(server) - had)
                    results.setdefault(workload, {}).setdefault(str(n), {})[name] = figures
        finally:
            server.stop()
    dump.unlink()
    return results


# --- where a point lookup's time goes -----------------------------------------------------


def engine_ms(store: Path, texts: list[str]) -> float:
    """pyoxigraph alone, in this process, the store in memory: milliseconds per point
    lookup (query and N-Triples), as a worker runs it, with no HTTP around it."""
    import pyoxigraph as ox

    source = ox.Store.read_only(str(store / "current" / "db"))
    db = ox.Store()
    db.bulk_extend(source)
    del source
    start = time.perf_counter()
    for text in texts:
        db.query(text, use_default_graph_as_union=True).serialize(format=ox.RdfFormat.N_TRIPLES)
    seconds = time.perf_counter() - start
    del db
    return 1000 * seconds / len(texts)


def sequential_ms(url: str, path: str, points: list[str], n: int = 1000) -> dict:
    """One client, one kept-alive connection, one request at a time: milliseconds per
    point lookup (texts no cache has seen), and per `ASK {}` (what the HTTP stack costs
    around a query that takes no time)."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    out = {}
    tag = f"# sequential {time.time()}"
    for name, texts, accept in (
            ("lookup_ms", [t + "\n" + tag for t in points[-n:]], "application/n-triples"),
            ("ask_ms", [f"ASK {{}} {tag} {i}" for i in range(n)],
             "application/sparql-results+json")):
        start = time.perf_counter()
        for text in texts:
            conn.request("POST", path, body=text.encode("utf-8"),
                         headers={"Content-Type": "application/sparql-query", "Accept": accept})
            conn.getresponse().read()
        out[name] = 1000 * (time.perf_counter() - start) / len(texts)
    conn.close()
    return out


def _group(server: Server) -> Iterator[tuple[int, list[str]]]:
    """Each process of `rivalry serve`'s process group (the front, the zygote and the
    workers) and the fields of its /proc stat from the state on."""
    front = server.process.pid
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == front:  # its process group
            yield int(entry), fields


def cpu_seconds(server: Server) -> dict[str, float]:
    """CPU seconds used so far by `rivalry serve`'s front and by its other processes (the
    zygote and the workers): each with what its children that have ended used (a worker
    the pool retired, whose zygote has reaped it)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"front": 0.0, "workers": 0.0}
    for pid, fields in _group(server):
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        ended = (int(fields[13]) + int(fields[14])) / tick  # cutime + cstime: reaped children
        out["front" if pid == server.process.pid else "workers"] += used
        out["workers"] += ended
    return out


def server_pids(server: Server) -> set[int]:
    """The processes of `rivalry serve` but the front: the zygote and the workers."""
    return {pid for pid, _ in _group(server) if pid != server.process.pid}


def pages(store: Path, work: Path, clients: int, seconds: float) -> dict:
    """Every kind of page and the dumps, as browsers ask for them, p95 per kind: fixed
    pages, lists with filters, entity pages of actions, companies and states, dumps."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from rivalry.graph.store import EmbeddedStore

    s = EmbeddedStore(store)

    def some(cls: str, n: int) -> list[str]:
        return [r[0].value.removeprefix("https://w3id.org/rivalry")
                for r in s.query(f"SELECT ?e WHERE {{ ?e a <{RV}{cls}> }} LIMIT {n}").rows()]

    years = [str(y) for y in range(2018, 2027)]
    html = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Encoding": "gzip"}
    paths: list[tuple[str, str]] = [(p, "fixed pages") for p in (
        "/", "/browse", "/browse/actions", "/timeline", "/stats", "/data",
        "/.well-known/void", "/ontology")]
    paths += [(f"/browse/actions?year={y}", "lists") for y in years]
    # a second page only where a year has one (past the last page is a 404, not a page)
    from rivalry.graph.listing import PAGE_SIZE

    per_year = {r[0].value[:4]: int(r[1].value) for r in s.query(
        f"SELECT ?y (COUNT(DISTINCT ?a) AS ?n) WHERE {{ ?a a <{RV}Action> ; "
        f"<{RV}announcedOn> ?d BIND(STR(YEAR(?d)) AS ?y) }} GROUP BY ?y").rows()
        if r[0] is not None}
    paths += [(f"/browse/actions?year={y}&page=2", "lists") for y in years
              if per_year.get(y, 0) > PAGE_SIZE]
    paths += [(f"/timeline?year={y}", "lists") for y in years]
    paths += [(e + ".html", "action pages") for e in some("Action", 200)]
    paths += [(e + ".html", "company pages") for e in some("Company", 100)]
    paths += [(e + ".html", "state pages") for e in some("State", 20)]
    paths += [(e + ".ttl", "entity Turtle") for e in some("Company", 100)]
    paths += [(f"/data/rivalry.{x}", "dumps") for x in ("nq", "ttl", "trig")]
    # the named graphs' descriptions: the large special graphs and some facts files
    graphs = ["/graph/ontology", "/graph/meta", "/graph/derived", "/graph/inferred"]
    graphs += [r[0].value.removeprefix("https://w3id.org/rivalry") for r in s.query(
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
        "FILTER(STRSTARTS(STR(?g), 'https://w3id.org/rivalry/graph/facts/')) } "
        "LIMIT 20").rows()]
    paths += [(g + x, "graph descriptions") for g in graphs for x in (".html", ".ttl")]
    # the members of a class, a page of each of the first ones and a later one
    for cls in ("Company", "Action", "SourceDocument", "Technology", "Statement"):
        address = "/browse/type?class=" + urllib.parse.quote(RV + cls, safe="")
        members = int(next(s.query(f"SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {{ ?e a "
                                   f"<{RV}{cls}> }}").rows())[0].value)
        paths.append((address, "class lists"))
        if members > 5 * PAGE_SIZE:  # a later page, where the class has one
            paths.append((address + "&page=5", "class lists"))
    paths += [("/search?q=" + urllib.parse.quote(q), "search") for q in (
        "huawei", "semiconductor", "entity list", "synthetic company 12", "export")]
    requests = [("GET", p, None, html, tag) for p, tag in paths]
    random.Random(2).shuffle(requests)
    server = start_rivalry(store, work / "serve-pages.log")
    try:
        # every page once first, on its own: first requests (cache misses, apart from the
        # pages the server warmed) are measured too
        cold = _cold(server.url, requests)
        result = load(server.url, requests, clients, seconds)
    finally:
        server.stop()
    return {"cold": cold, "loaded": result}


def _cold(url: str, requests: list[tuple]) -> dict:
    """Each distinct request once, on one connection, before any other: first requests."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    times: dict[str, list[float]] = {}
    seen = set()
    for method, path, body, headers, tag in requests:
        if path in seen:
            continue
        seen.add(path)
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        times.setdefault(tag, []).append(time.perf_counter() - start)
    conn.close()
    return {tag: {"requests": len(v), "p50_ms": 1000 * percentile(v, 0.5),
                  "p95_ms": 1000 * percentile(v, 0.95), "max_ms": 1000 * max(v)}
            for tag, v in times.items()}


def isolation(store: Path, work: Path, clients: int, seconds: float) -> dict:
    """One heavy query in twenty requests, the rest normal ones (point lookups and small
    queries), on the default settings: the normal requests' latency."""
    loads = workloads(store)
    normal = sparql_requests("/sparql", loads["point lookups"][0][:380],
                             "application/n-triples", "normal")
    heavy = sparql_requests("/sparql", [HEAVY + f" # {i}" for i in range(20)],
                            "application/sparql-results+json", "heavy")
    mixed = []
    for i, request in enumerate(normal):
        mixed.append(request)
        if i % 19 == 18:
            mixed.append(heavy[(i // 19) % len(heavy)])
    server = start_rivalry(store, work / "serve-isolation.log")
    try:
        # every text once: a heavy query is never answered from the cache
        result = load(server.url, mixed, clients, seconds, unique=True)
    finally:
        server.stop()
    return result


def slow_clients(store: Path, work: Path, connections: int, seconds: float) -> dict:
    """`connections` clients trickling their headers a byte at a time while one client
    makes normal requests: its latency."""
    server = start_rivalry(store, work / "serve-slow.log")
    parsed = urllib.parse.urlparse(server.url)
    stop = threading.Event()
    socks = []

    def trickle() -> None:
        for _ in range(connections):
            s = socket.create_connection((parsed.hostname, parsed.port))
            s.sendall(b"GET / HTTP/1.1\r\n")
            socks.append(s)
        while not stop.is_set():
            for s in list(socks):
                try:
                    s.sendall(b"X")
                except OSError:
                    socks.remove(s)
            time.sleep(0.1)

    feeder = threading.Thread(target=trickle)
    feeder.start()
    try:
        time.sleep(1)
        times = []
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        end = time.monotonic() + seconds
        query = urllib.parse.urlencode({"query": f"ASK {{ ?a a <{RV}Measure> }}"})
        i = 0
        while time.monotonic() < end:
            start = time.perf_counter()
            conn.request("GET", f"/sparql?{query}%20%23{i}")
            conn.getresponse().read()
            times.append(time.perf_counter() - start)
            i += 1
            time.sleep(0.05)
        conn.close()
    finally:
        stop.set()
        feeder.join()
        for s in socks:
            s.close()
        server.stop()
    return {"slow_connections": connections, "requests": len(times),
            "p50_ms": 1000 * percentile(times, 0.5), "p95_ms": 1000 * percentile(times, 0.95),
            "max_ms": 1000 * max(times)}


PARTS = ("compare", "pages", "isolation", "slow_clients")


def run(stores: dict[int, Path], work: Path, seconds: float, mix_seconds: float,
        parts: tuple[str, ...] = PARTS) -> dict:
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"--parts: unknown {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(PARTS)}")
    results: dict = {}
    for n, store in stores.items():
        size: dict = {}
        if "compare" in parts:
            size["compare"] = compare(store, work, [4, 16], seconds, mix_seconds)
        if "pages" in parts:
            size["pages"] = pages(store, work, 4, seconds)
        if "isolation" in parts:
            size["isolation"] = isolation(store, work, 4, mix_seconds)
        if "slow_clients" in parts:
            size["slow_clients"] = slow_clients(store, work, 60, seconds)
        results[str(n)] = size
        print(json.dumps({str(n): size}, indent=1), flush=True)
    return results


def _refused(figures: dict) -> str:
    """How many answers were not 200 (a time limit's 503, a 404), which the rates and
    percentiles leave out; and a client that started 0.1 s or more after the window opened
    (its process was late: the rate is then low)."""
    note = f"; {figures['errors']} not 200" if figures.get("errors") else ""
    if figures.get("late_start_ms", 0) >= 100:
        note += f"; a client started {figures['late_start_ms']:.0f} ms late"
    return note


def report(results: dict, info: dict, command: str) -> str:
    lines = ["# Serving benchmarks", "",
             "Measured by `bench/benchmark.py --serving-only` (not part of the tests). Command:",
             "", "    " + command, "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; Python "
             f"{info['python']}, pyoxigraph {info['pyoxigraph']}, {info['oxigraph_server']}. "
             f"`rivalry serve` with its defaults ({info['cores'] + 1} workers kept ready, one "
             f"more than the cores, up to twice the cores: {2 * info['cores']}, the store in "
             "memory, every "
             "limit on, the response cache and its "
             "warm-up); `oxigraph serve` in memory, as shipped, on the same quads; the servers "
             "take turns; every client keeps its connection alive. The point lookups, the "
             "analyst mix and the isolation load send every text once (a trailing comment "
             "names the run, the client and the request), so no cache answers them; the mix "
             "with repeats sends the same 20 texts. Rates and percentiles count "
             "answers with status 200; others are counted apart (\"not 200\").", ""]
    for n, size in results.items():
        lines += [f"## {int(n):,} measures", ""]
        if "compare" in size:
            lines += ["| /sparql | clients | rivalry req/s (p50/p99 ms) | Oxigraph req/s "
                      "(p50/p99 ms) | rivalry / Oxigraph |", "|---|---|---|---|---|"]
            for workload, by_clients in size["compare"].items():
                if workload == "costs":
                    continue
                for clients, servers in by_clients.items():
                    r, o = servers["rivalry"], servers["oxigraph"]
                    ratio = r["throughput"] / o["throughput"] if o["throughput"] else 0
                    lines.append(f"| {workload} | {clients} | {r['throughput']:.1f} "
                                 f"({r['p50_ms']:.1f}/{r['p99_ms']:.1f}){_refused(r)} | "
                                 f"{o['throughput']:.1f} ({o['p50_ms']:.1f}/{o['p99_ms']:.1f})"
                                 f"{_refused(o)} | {ratio:.2f}x |")
            lines += costs_lines(size["compare"].get("costs"))
            lines.append("")
        if "pages" in size:
            lines += ["| pages and dumps (4 clients) | first request p95 ms (max) | under "
                      "load p95 ms (req/s) |", "|---|---|---|"]
            for tag, loaded in size["pages"]["loaded"].items():
                cold = size["pages"]["cold"].get(tag, {})
                lines.append(f"| {tag} | {cold.get('p95_ms', 0):.1f} "
                             f"({cold.get('max_ms', 0):.1f}) | {loaded['p95_ms']:.1f} "
                             f"({loaded['throughput']:.0f}){_refused(loaded)} |")
            lines.append("")
        if "isolation" in size:
            iso = size["isolation"]
            lines += ["| one heavy query in 20 requests (4 clients) | p50 ms | p95 ms | "
                      "p99 ms | answered |", "|---|---|---|---|---|"]
            for tag in ("normal", "heavy"):
                if tag in iso:
                    x = iso[tag]
                    lines.append(f"| {tag} | {x['p50_ms']:.1f} | {x['p95_ms']:.1f} | "
                                 f"{x['p99_ms']:.1f} | {x['requests']} ({x['errors']} not 200) |")
            lines.append("")
        if "slow_clients" in size:
            slow = size["slow_clients"]
            lines += [f"With {slow['slow_connections']} connections trickling their "
                      f"headers, a normal client's requests: p50 {slow['p50_ms']:.1f} ms, p95 "
                      f"{slow['p95_ms']:.1f} ms, max {slow['max_ms']:.1f} ms "
                      f"({slow['requests']} requests).", ""]
    return "\n".join(lines) + "\n"


def costs_lines(costs: dict | None) -> list[str]:
    if not costs:
        return []
    r, o = costs["rivalry"], costs["oxigraph"]
    lines = ["", "Where a point lookup's time goes: pyoxigraph alone, in process, the store in "
             f"memory, {costs['engine_ms']:.2f} ms per lookup. One client, one request at a "
             f"time: rivalry {r['lookup_ms']:.2f} ms per lookup and {r['ask_ms']:.2f} ms per "
             f"`ASK {{}}`; Oxigraph server {o['lookup_ms']:.2f} ms and {o['ask_ms']:.2f} ms."]
    for clients, parts in costs.get("rivalry_cpu_ms", {}).items():
        started = costs.get("rivalry_new_processes", {}).get(clients)
        lines.append(f"Under the point-lookup load with {clients} clients, rivalry's CPU per "
                     f"request: front {parts['front']:.2f} ms, workers "
                     f"{parts['workers']:.2f} ms" + (
                         "." if started is None else
                         f"; worker processes started during it (alive at its end): "
                         f"{started}."))
    return lines
