#!/usr/bin/env python
"""Benchmarks of rivalry against Oxigraph server, on synthetic graphs. Not a test.

    .venv/bin/python bench/benchmark.py --sizes 1000 10000 100000 --out docs/benchmarks.md
    .venv/bin/python bench/benchmark.py --search-only --sizes 100000 --out docs/benchmarks-search.md
    .venv/bin/python bench/benchmark.py --external-only --sizes 10000 \
        --out docs/benchmarks-external.md

For each size it generates a synthetic graph (`rivalry synth`), then measures, in one
run: build time and peak memory (and a raw pyoxigraph bulk load plus the inference
step, for comparison); each canned query in-process; /sparql over HTTP with 4 and 16
concurrent clients for point lookups, the analyst mix and the analyst mix with repeats,
against `oxigraph serve` in memory and on disk started on the same data, servers taking
turns; validation of a batch of 10 new measures in the context of the whole graph
against pySHACL validating the whole graph; entity page and Turtle latency. It writes a
Markdown report and the raw figures as JSON beside it.

With --external-only it measures rivalry over external SPARQL servers instead: the build
into the embedded store, into Oxigraph server and into Virtuoso (each server started
fresh, on loopback, as CI starts it), and `rivalry serve` over each store answering the
analyst mix, its repeats and entity pages.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

from harness import Server, free_port, wait_http

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def child(code: str, timeout: float | None = None, env: dict | None = None) -> dict:
    """Run Python code in a fresh process; it prints one JSON object. Adds peak memory."""
    wrapper = textwrap.dedent("""
        import json, resource, sys, time
        result = {}
        exec(sys.stdin.read())
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", wrapper], input=code, text=True,
                              capture_output=True, timeout=timeout, check=True, env=env)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    except subprocess.CalledProcessError as e:
        raise RuntimeError(e.stderr[-3000:]) from None
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- load generation -----------------------------------------------------------------------


def load(url: str, requests: list[tuple[str, str]], clients: int, seconds: float,
         unique: bool = False) -> dict:
    """`requests` (query text, Accept) POSTed to `url` by `clients` clients on kept-alive
    connections for `seconds` (bench/serving.py's load generator); with `unique`, every
    text once, so that no answer cache has seen it."""
    import serving

    path = urllib.parse.urlparse(url).path
    tagged = [("POST", path, text.encode("utf-8"),
               {"Content-Type": "application/sparql-query", "Accept": accept}, "all")
              for text, accept in requests]
    return serving.load(url, tagged, clients, seconds, unique).get(
        "all", {"throughput": 0.0, "p50_ms": None, "p99_ms": None, "errors": 0})


# --- one size ----------------------------------------------------------------------------------


def run_size(n: int, work: Path, seconds: float, mix_seconds: float,
             pyshacl_timeout: float) -> dict:
    result: dict = {"measures": n}
    facts = work / f"facts-{n}"
    store = work / f"store-{n}"
    subprocess.run([str(BIN / "rivalry"), "synth", "--measures", str(n), "--seed", "1",
                    "-o", str(facts)], check=True, capture_output=True)
    result["facts_mb"] = sum(p.stat().st_size for p in facts.rglob("*.ttl")) / 1e6

    # build, and the raw pyoxigraph bulk load plus inference as the yardstick
    result["build"] = child(f"""
from pathlib import Path
from rivalry.graph.build import build
t = time.perf_counter()
info = build(Path({str(store)!r}), Path({str(facts)!r}), consistency=False,
             validation=False).info
result["seconds"] = time.perf_counter() - t
result["quads"] = info.quads
""")
    result["raw_load"] = child(f"""
from pathlib import Path
import pyoxigraph as ox
from rivalry.graph import ONTOLOGY_GRAPH, FACTS_GRAPH_BASE
from rivalry.graph.reason import materialise
from rivalry.ontology import ontology_file
facts = Path({str(facts)!r})
t = time.perf_counter()
s = ox.Store({str(work / f"raw-{n}")!r})
s.bulk_load(path=str(ontology_file()), format=ox.RdfFormat.TURTLE,
            to_graph=ox.NamedNode(ONTOLOGY_GRAPH))
for p in sorted(facts.rglob("*.ttl")):
    name = p.relative_to(facts).with_suffix("").as_posix()
    s.bulk_load(path=str(p), format=ox.RdfFormat.TURTLE,
                to_graph=ox.NamedNode(FACTS_GRAPH_BASE + name))
result["load_seconds"] = time.perf_counter() - t
t = time.perf_counter()
materialise(s)
result["inference_seconds"] = time.perf_counter() - t
result["seconds"] = result["load_seconds"] + result["inference_seconds"]
""")
    shutil.rmtree(work / f"raw-{n}", ignore_errors=True)

    # canned queries in-process, as the server runs them: the store in memory, the
    # endpoint's row cap, pyoxigraph writing SPARQL JSON
    result["canned"] = child(f"""
import pyoxigraph as ox
from rivalry.graph.canned import canned_queries, run_canned
from rivalry.graph.store import EmbeddedStore, QueryLimits
s = EmbeddedStore({str(store)!r}, in_memory=True)
limits = QueryLimits(time_limit=600)
for q in canned_queries():
    times = []
    for _ in range(3):
        t = time.perf_counter()
        a = s.execute(q.text, limits, bindings=q.bindings(None),
                      result_format=lambda kind: ox.QueryResultsFormat.JSON)
        times.append(time.perf_counter() - t)
    rows = len(json.loads(a.body)["results"]["bindings"]) if a.kind == "select" else 1
    result[q.name] = {{"ms": 1000 * sorted(times)[1], "rows": rows,
                      "truncated": a.truncated}}
""")

    # requests for the HTTP workloads
    sys.path.insert(0, str(ROOT))
    from rivalry.graph.canned import canned_queries
    from rivalry.graph.describe import description_query
    from rivalry.graph.store import EmbeddedStore

    s = EmbeddedStore(store)
    entities = [r[0].value for r in s.query(
        "SELECT ?e WHERE { ?e a <https://w3id.org/rivalry/ontology#Action> } LIMIT 2000"
    ).rows()]
    del s
    point = [(description_query(e), "application/n-triples") for e in entities]
    mix = [(q.text_with_defaults(), "application/sparql-results+json")
           for q in canned_queries()]
    unique_mix = [(text + f"\n# {i}", accept) for i in range(200) for text, accept in mix]
    random.Random(1).shuffle(unique_mix)  # one fixed order, the same for every server
    workloads = {"point lookups": point, "analyst mix": unique_mix,
                 "analyst mix with repeats": mix}

    dump = work / f"dump-{n}.nq"
    subprocess.run([str(BIN / "rivalry"), "export", "--store", str(store), "--format",
                    "nquads", "-o", str(dump)], check=True)
    servers = {}

    def serve_rivalry() -> Server:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RIVALRY_")}
        return Server([str(BIN / "rivalry"), "serve", "--store", str(store), "--port",
                       str(port), "--workers", "4"], f"http://127.0.0.1:{port}/sparql", env,
                      log=work / f"serve-{n}.log")

    def serve_oxigraph(on_disk: bool) -> Server:
        port = free_port()
        args = [str(BIN / "oxigraph"), "serve", "--bind", f"127.0.0.1:{port}",
                "--union-default-graph"]
        location = work / f"oxigraph-{n}"
        if on_disk:
            shutil.rmtree(location, ignore_errors=True)
            subprocess.run([str(BIN / "oxigraph"), "load", "--location", str(location),
                            "--file", str(dump)], check=True, capture_output=True)
            args += ["--location", str(location)]
        server = Server(args, f"http://127.0.0.1:{port}/query")
        wait_http(f"http://127.0.0.1:{port}/")
        if not on_disk:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            c.request("POST", "/store", body=dump.read_bytes(),
                      headers={"Content-Type": "application/n-quads"})
            c.getresponse().read()
        return server

    http_results: dict = {}
    for name, start in (("rivalry", serve_rivalry),
                        ("oxigraph (memory)", lambda: serve_oxigraph(False)),
                        ("oxigraph (disk)", lambda: serve_oxigraph(True))):
        server = start()
        servers[name] = server
        try:
            wait_http(server.url.rsplit("/", 1)[0] + "/")
            for workload, requests in workloads.items():
                for clients in (4, 16):
                    # warm up: a second of load; for repeats, a full window, so that every
                    # worker has answered every query once before the measurement
                    warm = seconds if workload.endswith("repeats") else 1.0
                    unique = not workload.endswith("repeats")  # no cache has seen them
                    load(server.url, requests[:50], clients, warm, unique)
                    window = seconds if workload == "point lookups" else mix_seconds
                    http_results.setdefault(workload, {}).setdefault(str(clients), {})[
                        name] = load(server.url, requests, clients, window, unique)
            if name == "rivalry":
                result["serve_log"] = [line for line in server.log.read_text().splitlines()
                                       if line.startswith("answer cache:")]
                base = server.url.rsplit("/", 1)[0]
                result["pages"] = page_latency(base, entities[:50])
        finally:
            server.stop()
    result["http"] = http_results
    dump.unlink()
    shutil.rmtree(work / f"oxigraph-{n}", ignore_errors=True)

    # validation of a batch of 10 new measures, against pySHACL on the whole graph
    result["validation"] = child(f"""
from pathlib import Path
from rivalry.graph.store import EmbeddedStore
from rivalry.graph.validate import Submission, context_for, validate
batch = Path({str(work / "batch.ttl")!r})
s = EmbeddedStore({str(store)!r})
companies = [r[0].value for r in s.query(
    "SELECT ?c WHERE {{ ?c a <https://w3id.org/rivalry/ontology#Company> }} LIMIT 10").rows()]
lines = ["@prefix rv: <https://w3id.org/rivalry/ontology#> .",
         "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> ."]
for i, c in enumerate(companies):
    lines.append(f'<https://w3id.org/rivalry/id/action/bench-{{i}}> a rv:Sanction ; '
                 f'<http://www.w3.org/2000/01/rdf-schema#label> "Benchmark sanction {{i}}"@en ; '
                 f'rv:issuedBy <https://w3id.org/rivalry/id/agency/us-ofac> ; rv:targets <{{c}}> ; '
                 f'rv:announcedOn "2025-03-01"^^xsd:date ; rv:status rv:InForce ; '
                 f'rv:sector <https://w3id.org/rivalry/id/sector/cyber> ; '
                 f'<http://www.w3.org/ns/prov#wasDerivedFrom> '
                 f'<https://w3id.org/rivalry/id/source/treasury-jy2769> .')
batch.write_text("\\n".join(lines))
times = []
for _ in range(5):
    t = time.perf_counter()
    sub = Submission.from_files([batch])
    report = validate(sub, context_for(s, sub))
    times.append(time.perf_counter() - t)
result["batch_seconds"] = sorted(times)[2]
result["batch_conforms"] = report.conforms
""")
    result["pyshacl_whole"] = child(f"""
from pathlib import Path
import pyshacl, rdflib
from rivalry.graph.validate import shapes_graph, ontology_graph
data = rdflib.Graph()
for p in sorted(Path({str(facts)!r}).rglob("*.ttl")):
    data.parse(p, format="turtle")
data += ontology_graph()
t = time.perf_counter()
pyshacl.validate(data, shacl_graph=shapes_graph(), inference="none", allow_warnings=True)
result["seconds"] = time.perf_counter() - t
""", timeout=pyshacl_timeout)
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(facts, ignore_errors=True)
    return result


def page_latency(base: str, entities: list[str]) -> dict:
    out = {}
    parsed = urllib.parse.urlparse(base)
    for suffix in (".html", ".ttl"):
        times = []
        for e in entities:
            path = "/" + e.split("/rivalry/", 1)[1] + suffix
            start = time.perf_counter()
            c = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                times.append(time.perf_counter() - start)
        times.sort()
        out[suffix] = {"p50_ms": 1000 * times[len(times) // 2],
                       "p99_ms": 1000 * times[min(len(times) - 1, int(len(times) * 0.99))]}
    return out


# --- search, reconciliation and screening -------------------------------------------------------


def search_workload(n: int, seed: int = 5) -> dict[str, list]:
    """Queries as users type them: synthetic companies' and actions' names, exact, cut
    short, with a typo, in another case; curated names in Latin and Chinese; absent names."""
    rng = random.Random(seed)
    companies = max(20, n // 20)

    def company(i: int) -> str:
        return f"Synthetic company synth-company-{i:05d}"

    def typo(text: str) -> str:
        i = rng.randrange(1, len(text) - 1)
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]

    curated = ["Huawei", "华为", "华为技术有限公司", "ZTE Corporation", "Hikvison", "BIS",
               "Ministry of Commerce", "Entity List", "Lockheed Martin", "中兴通讯"]
    absent = ["Acme Widgets Ltd", "Samsung Electronics", "Tokyo Electron", "Xiaomi",
              "Applied Materials", "小米"]
    search = []
    for k in range(500):
        kind = k % 10
        i = rng.randrange(companies)
        if kind < 3:
            search.append(company(i))
        elif kind == 3:
            search.append(company(i)[:rng.randrange(12, 30)])
        elif kind == 4:
            search.append(typo(company(i)))
        elif kind == 5:
            search.append(f"Synthetic Sanction {rng.randrange(n)}")
        elif kind in (6, 7):
            search.append(rng.choice(curated))
        else:
            search.append(rng.choice(absent))
    batches = []
    for _ in range(5):
        batch = {}
        for k in range(100):
            i = rng.randrange(companies)
            text = [company(i), company(i).upper(), typo(company(i)), rng.choice(curated),
                    rng.choice(absent)][k % 5]
            batch[f"q{k}"] = {"query": text, "type": "Company"} if k % 2 else {"query": text}
        batches.append(batch)
    screening = ["name,country,ref"]
    for k in range(10_000):
        i = rng.randrange(companies)
        kind = k % 10
        if kind < 5:
            screening.append(f"{company(i)},,{k}")
        elif kind == 5:
            screening.append(f"{company(i).upper()} LTD,,{k}")
        elif kind == 6:
            screening.append(f"{typo(company(i))},,{k}")
        elif kind == 7:
            screening.append(f"{rng.choice(curated)},CN,{k}")
        else:
            screening.append(f"{rng.choice(absent)} {k},,{k}")
    return {"search": search, "batches": batches, "screening": ["\n".join(screening) + "\n"]}


def _http(host: str, port: int, method: str, path: str, body: bytes | None = None,
          headers: dict | None = None) -> tuple[int, bytes, float]:
    start = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=600)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, time.perf_counter() - start


def run_search(n: int, work: Path) -> dict:
    """Index build time against the build, search latency over HTTP (sequential), a
    reconciliation batch of 100 names, and screening 10,000 names."""
    result: dict = {"measures": n}
    facts = work / f"search-facts-{n}"
    store = work / f"search-store-{n}"
    subprocess.run([str(BIN / "rivalry"), "synth", "--measures", str(n), "--seed", "1",
                    "-o", str(facts)], check=True, capture_output=True)
    result["build"] = child(f"""
from pathlib import Path
from rivalry.graph.build import build
t = time.perf_counter()
info = build(Path({str(store)!r}), Path({str(facts)!r}), consistency=False,
             validation=False).info
result["seconds"] = time.perf_counter() - t
result["quads"] = info.quads
""")
    # the index alone, as the build makes it: from the graph held in memory
    result["index"] = child(f"""
import glob
import pyoxigraph as ox
from rivalry.graph.search import build_search_index
db = ox.Store.read_only(glob.glob({str(store / "builds" / "*" / "db")!r})[0])
memory = ox.Store()
memory.bulk_extend(db)
del db
stats = build_search_index(memory, {str(work / "index-alone")!r})
result["seconds"] = stats.seconds
result["names"] = stats.names
result["entities"] = stats.entities
""")
    load = search_workload(n)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVALRY_")}
    env["RIVALRY_SCREEN_TIME_LIMIT"] = "600"  # measure it, whatever it takes
    server = Server([str(BIN / "rivalry"), "serve", "--store", str(store), "--port",
                     str(port)], f"http://127.0.0.1:{port}/", env,
                    log=work / f"search-serve-{n}.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/-/health")
        host = "127.0.0.1"
        for q in load["search"][:20]:  # warm-up: each worker opens the index once
            _http(host, port, "GET", "/search?format=json&q=" + urllib.parse.quote(q))
        times, statuses = [], set()
        for q in load["search"]:
            status, _, seconds = _http(host, port, "GET",
                                       "/search?format=json&q=" + urllib.parse.quote(q))
            statuses.add(status)
            times.append(seconds)
        times.sort()
        result["search"] = {"queries": len(times), "statuses": sorted(statuses),
                            "p50_ms": 1000 * times[len(times) // 2],
                            "p95_ms": 1000 * times[int(len(times) * 0.95)],
                            "max_ms": 1000 * times[-1]}
        batch_times = []
        for batch in load["batches"]:
            body = urllib.parse.urlencode({"queries": json.dumps(batch)}).encode()
            status, _, seconds = _http(host, port, "POST", "/reconcile", body, {
                "Content-Type": "application/x-www-form-urlencoded"})
            assert status == 200, status
            batch_times.append(seconds)
        batch_times.sort()
        result["reconcile"] = {"batches": len(batch_times), "size": 100,
                               "median_s": batch_times[len(batch_times) // 2],
                               "max_s": batch_times[-1]}
        status, data, seconds = _http(host, port, "POST", "/screen",
                                      load["screening"][0].encode(), {
                                          "Content-Type": "text/csv",
                                          "Accept": "application/json"})
        assert status == 200, data[:500]
        counts = json.loads(data)["counts"]
        result["screen"] = {"names": 10_000, "seconds": seconds, "counts": counts,
                            "answer_mb": len(data) / 1e6}
    finally:
        server.stop()
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(facts, ignore_errors=True)
    shutil.rmtree(work / "index-alone", ignore_errors=True)
    return result


def search_report(results: list[dict], info: dict, command: str) -> str:
    lines = ["# Search, reconciliation and screening benchmarks", "",
             "Measured by `bench/benchmark.py --search-only` (not part of the tests). Command:",
             "", f"    {command}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; Python "
             f"{info['python']}. `rivalry serve` with its defaults (its front, 2 worker "
             "processes, the store in memory); requests one at a time from one client.", ""]
    for r in results:
        b, ix, s, rec, sc = r["build"], r["index"], r["search"], r["reconcile"], r["screen"]
        lines += [f"## {r['measures']:,} measures ({b['quads']:,} quads)", "",
                  "| what | figure | target |", "|---|---|---|",
                  f"| `rivalry build` (no HermiT, no SHACL), index included | {b['seconds']:.1f} s"
                  " | |",
                  f"| the search index alone ({ix['names']:,} names of {ix['entities']:,} "
                  f"entities) | {ix['seconds']:.1f} s ({100 * ix['seconds'] / b['seconds']:.1f}%"
                  " of the build) | < 10% |",
                  f"| `GET /search` ({s['queries']} queries) | p50 {s['p50_ms']:.1f} ms, p95 "
                  f"{s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms | p95 < 50 ms |",
                  f"| `POST /reconcile`, a batch of {rec['size']} names ({rec['batches']} "
                  f"batches) | median {rec['median_s']:.2f} s, max {rec['max_s']:.2f} s | < 1 s |",
                  f"| `POST /screen`, {sc['names']:,} names (JSON answer, "
                  f"{sc['answer_mb']:.1f} MB) | {sc['seconds']:.1f} s | < 30 s |", "",
                  "Screening outcome: " + ", ".join(f"{v:,} {k}" for k, v in sc["counts"].items())
                  + ".", ""]
    return "\n".join(lines) + "\n"


# --- external stores -------------------------------------------------------------------------


def start_external(name: str, work: Path) -> tuple[Server, dict]:
    """A fresh Oxigraph server or Virtuoso on loopback, as .ci/run starts it."""
    directory = work / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    if name == "oxigraph":
        port = free_port()
        server = Server([str(BIN / "oxigraph"), "serve", "--location", str(directory / "db"),
                         "--bind", f"127.0.0.1:{port}", "--timeout-s", "10"],
                        f"http://127.0.0.1:{port}/query", log=directory / "log")
        settings = {"sparql_endpoint": f"http://127.0.0.1:{port}/query",
                    "graph_store_endpoint": f"http://127.0.0.1:{port}/store"}
    else:
        sql_port, http_port = free_port(), free_port()
        ini = (ROOT / "docs" / "virtuoso.ini").read_text("utf-8")
        ini = (ini.replace("DIR", str(directory)).replace("SQL_PORT", str(sql_port))
               .replace("HTTP_PORT", str(http_port)))
        (directory / "virtuoso.ini").write_text(ini, "utf-8")
        server = Server(["virtuoso-t", "-f", "-c", str(directory / "virtuoso.ini")],
                        f"http://127.0.0.1:{http_port}/sparql", log=directory / "log")
        settings = {"sparql_endpoint": f"http://127.0.0.1:{http_port}/sparql",
                    "graph_store_endpoint":
                        f"http://127.0.0.1:{http_port}/sparql-graph-crud-auth",
                    "graph_store_auth": "dba:dba"}
    deadline = time.monotonic() + 120
    probe = server.url + "?" + urllib.parse.urlencode({"query": "ASK { FILTER(false) }"})
    while True:
        try:
            with urllib.request.urlopen(probe, timeout=5):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start") from None
            time.sleep(0.5)
    return server, settings


def run_external(n: int, work: Path, seconds: float, mix_seconds: float) -> dict:
    """Builds into the embedded store, Oxigraph server and Virtuoso, and `rivalry serve`
    over each answering the analyst mix (unique and repeated) and entity pages."""
    result: dict = {"measures": n}
    facts = work / f"facts-{n}"
    subprocess.run([str(BIN / "rivalry"), "synth", "--measures", str(n), "--seed", "1",
                    "-o", str(facts)], check=True, capture_output=True)
    sys.path.insert(0, str(ROOT))
    from rivalry.graph.canned import canned_queries

    mix = [(q.text_with_defaults(), "application/sparql-results+json")
           for q in canned_queries()]
    unique_mix = [(text + f"\n# {i}", accept) for i in range(200) for text, accept in mix]
    random.Random(1).shuffle(unique_mix)
    workloads = {"analyst mix": unique_mix, "analyst mix with repeats": mix}
    store = work / f"store-{n}"
    targets: dict = {"embedded": ({"store": str(store)}, None)}
    for name in ("oxigraph", "virtuoso"):
        server, settings = start_external(name, work)
        targets[name] = ({**settings, "cache_dir": str(work / f"cache-{name}")}, server)
    try:
        for name, (settings, _) in targets.items():
            target = (repr(settings["store"]) if name == "embedded" else
                      f"RemoteStore.from_settings({settings!r})")
            result.setdefault("build", {})[name] = child(f"""
from pathlib import Path
from rivalry.graph.build import build
from rivalry.graph.remote import RemoteStore
t = time.perf_counter()
info = build({target}, Path({str(facts)!r}), consistency=False, validation=False).info
result["seconds"] = time.perf_counter() - t
result["quads"] = info.quads
""")
        entities = None
        for name, (settings, _) in targets.items():
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("RIVALRY_")}
            env.update({f"RIVALRY_{k.upper()}": v for k, v in settings.items()})
            serve = Server([str(BIN / "rivalry"), "serve", "--port", str(port), "--workers",
                            "4"], f"http://127.0.0.1:{port}/sparql", env,
                           log=work / f"serve-{name}.log")
            try:
                wait_http(f"http://127.0.0.1:{port}/-/health")
                if entities is None:
                    status, data, _ = _http("127.0.0.1", port, "GET",
                                            "/browse/actions.json")
                    entities = [r["action"] for r in json.loads(data)["actions"]][:50]
                out = result.setdefault("http", {}).setdefault(name, {})
                for workload, requests in workloads.items():
                    warm = seconds if workload.endswith("repeats") else 1.0
                    unique = not workload.endswith("repeats")  # no cache has seen them
                    load(serve.url, requests[:50], 4, warm, unique)
                    out[workload] = load(serve.url, requests, 4, mix_seconds, unique)
                result.setdefault("pages", {})[name] = page_latency(
                    f"http://127.0.0.1:{port}", entities)
            finally:
                serve.stop()
    finally:
        for _, server in targets.values():
            if server is not None:
                server.stop()
    shutil.rmtree(facts, ignore_errors=True)
    return result


def external_report(results: list[dict], info: dict, command: str, mix_seconds: float) -> str:
    lines = ["# Benchmarks over external SPARQL servers", "",
             "Measured by `bench/benchmark.py --external-only` (not part of the tests). "
             "Command:", "", f"    {command}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
             f"Python {info['python']}, pyoxigraph {info['pyoxigraph']}, "
             f"{info['oxigraph_server']}, Virtuoso 7.2 (Debian's, docs/virtuoso.ini). The "
             "servers run on the same machine, on loopback, started fresh for each size. "
             "Builds skip HermiT and SHACL (as the other benchmarks do); a build into a "
             "server also writes the build's files (search index, dumps) and loads every "
             "graph and their union. `rivalry serve` runs with 4 workers and its defaults "
             f"over each store; each figure is {mix_seconds:g} s of load from 4 client "
             "processes after a warm-up. The analyst mix is the 20 canned queries, each made "
             "unique by a trailing comment; the mix with repeats sends the same 20 texts "
             "(answered from the front's cache, keyed by the build each store serves).", ""]
    for r in results:
        n = r["measures"]
        b = r["build"]
        lines += [f"## {n:,} measures ({b['embedded'].get('quads', 0):,} quads)", "",
                  "| build into | seconds | compared with the embedded store |",
                  "|---|---|---|"]
        for name in ("embedded", "oxigraph", "virtuoso"):
            x = b[name]
            lines.append(f"| {name} | {x['seconds']:.1f} | "
                         f"{ratio(x['seconds'], b['embedded']['seconds'])} |")
        lines += ["", "| /sparql over HTTP, 4 clients | embedded req/s (p50/p99 ms) | "
                  "Oxigraph server | Virtuoso |", "|---|---|---|---|"]
        for workload in ("analyst mix", "analyst mix with repeats"):
            cells = []
            for name in ("embedded", "oxigraph", "virtuoso"):
                x = r["http"][name][workload]
                err = f", {x['errors']} errors" if x["errors"] else ""
                p50 = f"{x['p50_ms']:.1f}" if x["p50_ms"] is not None else "-"
                p99 = f"{x['p99_ms']:.1f}" if x["p99_ms"] is not None else "-"
                cells.append(f"{x['throughput']:.1f} ({p50}/{p99}{err})")
            lines.append(f"| {workload} | {' | '.join(cells)} |")
        lines += ["", "| entity documents (sequential, 50 actions) | embedded p50/p99 ms | "
                  "Oxigraph server | Virtuoso |", "|---|---|---|---|"]
        for suffix, label in ((".html", "HTML page"), (".ttl", "Turtle description")):
            cells = [f"{r['pages'][name][suffix]['p50_ms']:.1f}/"
                     f"{r['pages'][name][suffix]['p99_ms']:.1f}"
                     for name in ("embedded", "oxigraph", "virtuoso")]
            lines.append(f"| {label} | {' | '.join(cells)} |")
        lines.append("")
    return "\n".join(lines) + "\n"


# --- report --------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import pyoxigraph
    import pyshacl

    version = subprocess.run([str(BIN / "oxigraph"), "--version"], capture_output=True,
                             text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1),
            "python": platform.python_version(), "pyoxigraph": pyoxigraph.__version__,
            "pyshacl": pyshacl.__version__, "oxigraph_server": version}


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "n/a"


def report(results: list[dict], info: dict, command: str, seconds: float,
           mix_seconds: float) -> str:
    lines = ["# Benchmarks", "",
             "Measured by `bench/benchmark.py` (not part of the tests). Command:", "",
             f"    {command}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
             f"Python {info['python']}, pyoxigraph {info['pyoxigraph']}, pySHACL "
             f"{info['pyshacl']}, {info['oxigraph_server']}. Each HTTP figure is "
             f"{seconds:g} s (point lookups) or {mix_seconds:g} s (the analyst mixes) of "
             "load from separate client processes, after a warm-up, servers taking turns "
             "on the same data; rivalry runs `rivalry serve` (its front, 4 worker "
             "processes, the store in memory) with every limit on (10 s time limit, "
             "10,000-row cap, body cap, SERVICE and nesting checks) and its answer cache; "
             "Oxigraph server runs as shipped, without limits. Clients keep their "
             "connections alive. The point lookups and the analyst mix (the 20 canned "
             "queries) send every text once, made unique by a trailing comment naming "
             "the run, the client and the request, so that no cache can answer it; the "
             "mix with repeats sends the same 20 texts. Canned queries "
             "in-process run as the server runs them (in memory, row cap, pyoxigraph "
             "writing JSON).", ""]
    for r in results:
        n = r["measures"]
        b, raw = r["build"], r["raw_load"]
        lines += [f"## {n:,} measures ({b.get('quads', 0):,} quads, "
                  f"{r['facts_mb']:.1f} MB of Turtle)", "",
                  "| build | seconds | peak memory (MB) |", "|---|---|---|",
                  f"| `rivalry build` (no HermiT, no SHACL) | {b['seconds']:.1f} | "
                  f"{b['peak_mb']:.0f} |",
                  f"| raw pyoxigraph bulk load + inference step | {raw['seconds']:.1f} "
                  f"({raw['load_seconds']:.1f} + {raw['inference_seconds']:.1f}) | "
                  f"{raw['peak_mb']:.0f} |",
                  f"| ratio | {ratio(b['seconds'], raw['seconds'])} | |", "",
                  "| canned query | ms | rows |", "|---|---|---|"]
        for name, q in r["canned"].items():
            if isinstance(q, dict):
                cut = " (cut at the cap)" if q.get("truncated") else ""
                lines.append(f"| {name} | {q['ms']:.1f} | {q['rows']}{cut} |")
        if r.get("serve_log"):
            lines += ["", "`rivalry serve` said: " + "; ".join(
                f"`{line}`" for line in r["serve_log"])]
        lines += ["", "| /sparql over HTTP | clients | rivalry req/s (p50/p99 ms) | "
                  "Oxigraph memory | Oxigraph disk | rivalry / best Oxigraph |",
                  "|---|---|---|---|---|---|"]
        for workload, by_clients in r["http"].items():
            for clients, by_server in by_clients.items():
                cells = []
                for name in ("rivalry", "oxigraph (memory)", "oxigraph (disk)"):
                    x = by_server[name]
                    err = f", {x['errors']} errors" if x["errors"] else ""
                    p50 = f"{x['p50_ms']:.1f}" if x["p50_ms"] is not None else "-"
                    p99 = f"{x['p99_ms']:.1f}" if x["p99_ms"] is not None else "-"
                    cells.append(f"{x['throughput']:.1f} ({p50}/{p99}{err})")
                best = max(by_server["oxigraph (memory)"]["throughput"],
                           by_server["oxigraph (disk)"]["throughput"])
                lines.append(f"| {workload} | {clients} | {' | '.join(cells)} | "
                             f"{ratio(by_server['rivalry']['throughput'], best)} |")
        v, whole = r["validation"], r["pyshacl_whole"]
        whole_s = (f"> {whole['timeout']:.0f} (stopped)" if "timeout" in whole
                   else f"{whole['seconds']:.1f}")
        speedup = ("> " + ratio(whole["timeout"], v["batch_seconds"]) if "timeout" in whole
                   else ratio(whole["seconds"], v["batch_seconds"]))
        lines += ["", "| validation | seconds |", "|---|---|",
                  f"| batch of 10 new measures, in the context of the whole graph | "
                  f"{v['batch_seconds']:.3f} |",
                  f"| pySHACL over the whole graph | {whole_s} |",
                  f"| speed-up | {speedup} |", ""]
        if "pages" in r:
            p = r["pages"]
            lines += ["| entity documents (sequential) | p50 ms | p99 ms |", "|---|---|---|",
                      f"| HTML page | {p['.html']['p50_ms']:.1f} | {p['.html']['p99_ms']:.1f} |",
                      f"| Turtle description | {p['.ttl']['p50_ms']:.1f} | "
                      f"{p['.ttl']['p99_ms']:.1f} |", ""]
    return "\n".join(lines) + "\n"


# --- builds ------------------------------------------------------------------------------------


#: Runs a command and prints its peak memory: each measured command gets a fresh parent,
#: so that the peak is its own (RUSAGE_CHILDREN keeps the largest child ever waited for).
PEAK = ("import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:])\n"
        "print(f'peak-kb {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}',"
        " file=sys.stderr)\n"
        "sys.exit(done.returncode)\n")


#: Where the measured commands' output goes as they run (set by --log): a run stopped
#: before its report is written still leaves the phase lines its builds printed.
RUN_LOG: Path | None = None


def timed(args: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run a command; its wall time, peak memory (the largest of its processes: the
    build, or HermiT's Java) and output (stderr and stdout, interleaved)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        if RUN_LOG is not None:
            with RUN_LOG.open("a", encoding="utf-8") as log:
                log.write(f"$ {' '.join(args)}\n")
        start = time.perf_counter()
        with subprocess.Popen([sys.executable, "-c", PEAK, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                if RUN_LOG is not None:
                    with RUN_LOG.open("a", encoding="utf-8") as log:
                        log.write(line)
        seconds = time.perf_counter() - start
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                           + output[-3000:])
    peak = [line for line in output.splitlines() if line.startswith("peak-kb ")]
    return {"seconds": seconds, "peak_mb": int(peak[-1].split()[1]) / 1024,
            "output": output}


def said(output: str, pattern: str) -> float | None:
    """A number the build printed (its own figures: time to publish, peak memory)."""
    import re

    found = re.search(pattern, output)
    if not found:
        return None
    text = found.group(1).replace(",", "")
    if " min " in text:
        minutes, rest = text.split(" min ")
        return float(minutes) * 60 + float(rest.split()[0])
    return float(text.split()[0])


def build_run(facts: Path, store: Path, *extra: str, env: dict | None = None) -> dict:
    run = timed([str(BIN / "rivalry"), "build", "--facts", str(facts), "--store", str(store),
                 *extra], env=env)
    out = run["output"]
    run["published_s"] = said(out, r"published (?:incremental )?build .* in "
                                   r"([0-9.,]+ s|\d+ min \d+ s)")
    run["build_peak_mb"] = said(out, r"done in .*; peak memory ([0-9,]+) MB")
    run["phases"] = [line for line in out.splitlines()
                     if (": " in line and "(" in line) or line.startswith(("full build:",
                                                                         "incremental build"))]
    return run


def edit_one_file(facts: Path) -> str:
    """A curator's edit of one events file: a date moved, a target added."""
    path = sorted((facts / "events").glob("synthetic-*.ttl"))[len(list(
        (facts / "events").glob("synthetic-*.ttl"))) // 2]
    text = path.read_text("utf-8")
    start = text.index('rv:effectiveOn "') + len('rv:effectiveOn "')
    day = text[start:start + 10]
    text = text[:start] + day[:8] + ("28" if day[8:] != "28" else "27") + text[start + 10:]
    anchor = text.index("    rv:targets company:")
    text = text[:anchor] + "    rv:targets company:synth-company-00001 ;\n" + text[anchor:]
    path.write_text(text, "utf-8")
    return str(path.relative_to(facts))


def add_one_file(facts: Path) -> str:
    """A curator's new events file: one measure and its sources, like the first of the
    middle synthetic file's, under new IRIs (a new entity: the search index gains its
    rows)."""
    files = sorted((facts / "events").glob("synthetic-*.ttl"))
    text = files[len(files) // 2].read_text("utf-8")
    first = text.index("\naction:") + 1
    end = text.index("\naction:", first) + 1
    # the measure's number names its sources and status changes too: all renamed
    number = text[first:text.index(" ", first)].rsplit("-", 1)[1]
    added = facts / "events" / "synthetic-added.ttl"
    added.write_text((text[:first] + text[first:end]).replace(f"-{number}", "-9999999"),
                     "utf-8")
    return str(added.relative_to(facts))


def build_benchmark(n: int, work: Path, seed: int, repeats: int,
                    steps: tuple[str, ...] = ("full", "incremental", "unchecked")) -> dict:
    """The full build (every check, the store, the dumps) against `oxigraph load` of the
    same files, its peak memory, and an incremental rebuild after editing one file."""
    facts = work / f"facts-{n}"
    result: dict = {"measures": n, "seed": seed}
    subprocess.run([str(BIN / "rivalry"), "synth", "--measures", str(n), "--seed", str(seed),
                    "-o", str(facts)], check=True, capture_output=True)
    files = sorted(facts.rglob("*.ttl"))
    result["facts_mb"] = sum(p.stat().st_size for p in files) / 1e6
    result["files"] = len(files)
    loads = []
    for i in range(repeats):
        target = work / f"oxigraph-{n}-{i}"
        loads.append(timed([str(BIN / "oxigraph"), "load", "--location", str(target),
                            "--file", *map(str, files)]))
        shutil.rmtree(target, ignore_errors=True)
    result["oxigraph_load"] = min(loads, key=lambda r: r["seconds"])
    result["oxigraph_load"]["all_seconds"] = [r["seconds"] for r in loads]
    store = work / f"store-{n}"
    print(f"  full build of {n} ...", file=sys.stderr, flush=True)
    result["full"] = build_run(facts, store, "--full")
    if "on-disk" in steps:
        # the path of a graph too large for memory (1,000,000 measures take it): the
        # setting at half what the build estimates this graph needs, so that it works in
        # its database on disk, with every other choice as at the default
        from rivalry.graph.build import MEMORY_PER_TURTLE_BYTE

        estimate_mb = result["facts_mb"] * MEMORY_PER_TURTLE_BYTE
        result["on_disk_memory_mb"] = max(1, int(estimate_mb / 2))
        print("  full build on disk ...", file=sys.stderr, flush=True)
        result["on_disk"] = build_run(
            facts, work / f"store-disk-{n}", "--full",
            env=dict(os.environ, RIVALRY_BUILD_MEMORY_MB=str(result["on_disk_memory_mb"])))
        shutil.rmtree(work / f"store-disk-{n}", ignore_errors=True)
    if "incremental" in steps:
        result["edited"] = edit_one_file(facts)
        print("  incremental rebuild ...", file=sys.stderr, flush=True)
        result["incremental"] = build_run(facts, store)
        # before the build without dumps, which leaves the next one no dumps to copy
        print("  incremental rebuild after a new file ...", file=sys.stderr, flush=True)
        result["added"] = add_one_file(facts)
        result["incremental_new_file"] = build_run(facts, store)
        edit_one_file(facts)
        result["incremental_no_dumps"] = build_run(facts, store, "--no-dumps")
    if "unchecked" in steps:
        print("  build with the checks off ...", file=sys.stderr, flush=True)
        result["unchecked"] = build_run(facts, work / f"store-unchecked-{n}", "--full",
                                        "--no-consistency-check", "--no-validation",
                                        "--no-dumps")
    for name in (f"store-{n}", f"store-unchecked-{n}", f"facts-{n}"):
        shutil.rmtree(work / name, ignore_errors=True)
    for key in ("full", "on_disk", "incremental", "incremental_no_dumps",
                "incremental_new_file", "unchecked"):
        if key in result:
            result[key].pop("output", None)
    return result


def build_report(results: list[dict], info: dict, command: str) -> str:
    lines = ["# Build benchmarks", "",
             f"Measured by `bench/benchmark.py`: `{command}`", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']:.1f} GiB; "
             f"Python {info['python']}, pyoxigraph {info['pyoxigraph']}, "
             f"{info['oxigraph_server']}.", ""]
    for r in results:
        load = r["oxigraph_load"]["seconds"]
        full = r["full"]

        def row(what: str, seconds: float, peak: float, load: float = load) -> str:
            return f"| {what} | {seconds:.1f} | {seconds / load:.2f}× | {peak:.0f} |"

        lines += [f"## {r['measures']:,} measures (seed {r['seed']}, {r['files']} files, "
                  f"{r['facts_mb']:.0f} MB of Turtle)", "",
                  "| what | seconds | ratio to `oxigraph load` | peak memory (MB) |",
                  "|---|---|---|---|",
                  row(f"`oxigraph load` of the same files (best of "
                      f"{len(r['oxigraph_load']['all_seconds'])})", load,
                      r["oxigraph_load"]["peak_mb"]),
                  row("full build, every check, until published", full["published_s"],
                      full["peak_mb"]),
                  row("full build, every check, with the dumps", full["seconds"],
                      full["peak_mb"])]
        if "on_disk" in r:
            disk = r["on_disk"]
            lines += [row(f"full build on disk (`build_memory_mb` {r['on_disk_memory_mb']:,}, "
                          "below this graph's estimate: the path of a graph too large for "
                          "memory), until published", disk["published_s"], disk["peak_mb"]),
                      row("full build on disk, with the dumps", disk["seconds"],
                          disk["peak_mb"])]
        if "incremental" in r:
            inc = r["incremental"]
            lines += [row(f"incremental rebuild after editing `{r['edited']}`, until "
                          "published", inc["published_s"], inc["peak_mb"]),
                      row("incremental rebuild, with the dumps", inc["seconds"],
                          inc["peak_mb"]),
                      row("incremental rebuild with `--no-dumps`",
                          r["incremental_no_dumps"]["seconds"],
                          r["incremental_no_dumps"]["peak_mb"])]
        if "incremental_new_file" in r:
            new_file = r["incremental_new_file"]
            lines.append(row(f"incremental rebuild after adding `{r['added']}` (one new "
                             "measure, a new entity to search), with the dumps",
                             new_file["seconds"], new_file["peak_mb"]))
        if "unchecked" in r:
            lines.append(row("**checks switched off** (`--no-consistency-check "
                             "--no-validation --no-dumps`)", r["unchecked"]["seconds"],
                             r["unchecked"]["peak_mb"]))
        lines += ["", "Phases of the full build, as it printed them:", "", "```"]
        lines += full["phases"] + ["```", ""]
        if "on_disk" in r:
            lines += ["Phases of the full build on disk:", "", "```"]
            lines += r["on_disk"]["phases"] + ["```", ""]
        if "incremental" in r:
            lines += ["Phases of the incremental rebuild:", "", "```"]
            lines += r["incremental"]["phases"] + ["```", ""]
        if "incremental_no_dumps" in r:
            lines += ["Phases of the incremental rebuild with `--no-dumps` (after a second "
                      "edit of the same file):", "", "```"]
            lines += r["incremental_no_dumps"]["phases"] + ["```", ""]
        if "incremental_new_file" in r:
            lines += ["Phases of the incremental rebuild after a new file:", "", "```"]
            lines += r["incremental_new_file"]["phases"] + ["```", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of each HTTP load measurement of point lookups")
    parser.add_argument("--mix-seconds", type=float, default=30.0,
                        help="length of each measurement of the analyst mixes, whose "
                        "queries take up to seconds each at 100k")
    parser.add_argument("--pyshacl-timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-run.md")
    parser.add_argument("--external-only", action="store_true",
                        help="measure builds and `rivalry serve` over external SPARQL "
                        "servers (Oxigraph server, Virtuoso) against the embedded store")
    parser.add_argument("--search-only", action="store_true",
                        help="measure only search, reconciliation and screening (and the "
                        "index build against the build)")
    parser.add_argument("--serving-only", action="store_true",
                        help="measure only the server: /sparql against Oxigraph server with "
                        "kept-alive connections, pages and dumps, isolation from heavy "
                        "queries and slow clients (bench/serving.py)")
    parser.add_argument("--store", action="append", default=[], metavar="SIZE=PATH",
                        help="with --serving-only: a store already built from `rivalry "
                        "synth --measures SIZE`, instead of making one")
    parser.add_argument("--parts", default="compare,pages,isolation,slow_clients",
                        help="with --serving-only: which measurements to take: compare "
                        "(/sparql against Oxigraph server), pages, isolation, slow_clients")
    parser.add_argument("--builds", action="store_true",
                        help="measure only builds: the full build with every check, the "
                        "store and the dumps, against `oxigraph load` of the same files, "
                        "with peak memory, and an incremental rebuild after one file changes")
    parser.add_argument("--seed", type=int, default=11, help="synthetic graph seed (--builds)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="how many times `oxigraph load` is timed (--builds; the best)")
    parser.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    parser.add_argument("--log", type=Path,
                        help="append each build's output to this file as it runs (--builds)")
    parser.add_argument("--steps", default="full,incremental,unchecked",
                        help="which builds to time (--builds): full, on-disk (the full build "
                             "in its database on disk, as a graph too large for memory "
                             "is built), incremental, unchecked")
    args = parser.parse_args()
    info = machine()
    if args.builds:
        global RUN_LOG
        RUN_LOG = args.log
        command = "bench/benchmark.py " + " ".join(sys.argv[1:])
        results = []
        with tempfile.TemporaryDirectory(prefix="rivalry-bench-", dir=args.work) as tmp:
            for n in args.sizes:
                print(f"builds at {n} ...", file=sys.stderr, flush=True)
                results.append(build_benchmark(n, Path(tmp), args.seed, args.repeats,
                                               tuple(args.steps.split(","))))
                args.out.write_text(build_report(results, info, command), "utf-8")
                args.out.with_suffix(".json").write_text(
                    json.dumps({"machine": info, "results": results}, indent=1), "utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
        return
    results = []
    if args.serving_only:
        import serving

        given = {int(k): Path(v) for k, v in (s.split("=", 1) for s in args.store)}
        with tempfile.TemporaryDirectory(prefix="rivalry-bench-") as tmp:
            stores = {}
            for n in args.sizes:
                if n in given:
                    stores[n] = given[n]
                    continue
                facts, store = Path(tmp) / f"facts-{n}", Path(tmp) / f"store-{n}"
                subprocess.run([str(BIN / "rivalry"), "synth", "--measures", str(n),
                                "--seed", "1", "-o", str(facts)], check=True)
                subprocess.run([str(BIN / "rivalry"), "build", "--facts", str(facts),
                                "--store", str(store), "--no-consistency-check",
                                "--no-validation", "-q"], check=True)
                stores[n] = store
            found = serving.run(stores, Path(tmp), args.seconds, args.mix_seconds,
                                tuple(args.parts.split(",")))
        command = ".venv/bin/python bench/benchmark.py " + " ".join(sys.argv[1:])
        args.out.write_text(serving.report(found, info, command), "utf-8")
        args.out.with_suffix(".json").write_text(
            json.dumps({"machine": info, "results": found}, indent=1), "utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
        return
    if args.external_only:
        with tempfile.TemporaryDirectory(prefix="rivalry-bench-") as tmp:
            for n in args.sizes:
                print(f"size {n} (external stores) ...", file=sys.stderr, flush=True)
                results.append(run_external(n, Path(tmp), args.seconds, args.mix_seconds))
                command = "bench/benchmark.py " + " ".join(sys.argv[1:])
                args.out.write_text(external_report(results, info, command, args.mix_seconds),
                                    "utf-8")
                args.out.with_suffix(".json").write_text(
                    json.dumps({"machine": info, "results": results}, indent=1), "utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
        return
    if args.search_only:
        with tempfile.TemporaryDirectory(prefix="rivalry-bench-") as tmp:
            for n in args.sizes:
                print(f"size {n} (search) ...", file=sys.stderr, flush=True)
                results.append(run_search(n, Path(tmp)))
                command = "bench/benchmark.py " + " ".join(sys.argv[1:])
                args.out.write_text(search_report(results, info, command), "utf-8")
                args.out.with_suffix(".json").write_text(
                    json.dumps({"machine": info, "results": results}, indent=1), "utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory(prefix="rivalry-bench-") as tmp:
        for n in args.sizes:
            print(f"size {n} ...", file=sys.stderr, flush=True)
            results.append(run_size(n, Path(tmp), args.seconds, args.mix_seconds,
                                    args.pyshacl_timeout))
            command = "bench/benchmark.py " + " ".join(sys.argv[1:])
            args.out.write_text(report(results, info, command, args.seconds,
                                       args.mix_seconds), "utf-8")
            args.out.with_suffix(".json").write_text(
                json.dumps({"machine": info, "results": results}, indent=1), "utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
