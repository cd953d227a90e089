#!/usr/bin/env python
"""How fast the canned queries run in-process over each malloc found on this machine.
Not a test. Build a store first (for instance `rivalry synth --measures 10000 -o F` and
`rivalry build --facts F --store S`), then:

    .venv/bin/python bench/allocators.py --store S

Each allocator runs in a fresh process with LD_PRELOAD; the store is loaded in memory,
every canned query runs three times as the endpoint runs it (row cap, pyoxigraph writing
SPARQL JSON), and the best total of the three rounds is reported.
"""

from __future__ import annotations

import argparse
import ctypes.util
import json
import os
import subprocess
import sys

ROUND = """
import json, sys, time
import pyoxigraph as ox
from rivalry.graph.canned import canned_queries
from rivalry.graph.store import EmbeddedStore, QueryLimits
store = EmbeddedStore(sys.argv[1], in_memory=True)
queries = canned_queries()
rounds = []
for _ in range(3):
    start = time.perf_counter()
    for q in queries:
        store.execute(q.text, QueryLimits(time_limit=600), bindings=q.bindings(None),
                      result_format=lambda kind: ox.QueryResultsFormat.JSON)
    rounds.append(time.perf_counter() - start)
print(json.dumps({"seconds": min(rounds), "queries": len(queries)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="a built store directory")
    args = parser.parse_args()
    candidates = {"glibc (the C library's)": ""}
    for name in ("jemalloc", "tcmalloc_minimal", "mimalloc"):
        found = ctypes.util.find_library(name)
        if found:
            candidates[found] = found
    print("| malloc | canned queries, best of 3 rounds (s) | against glibc |")
    print("|---|---|---|")
    baseline = None
    for label, library in candidates.items():
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        if library:
            env["LD_PRELOAD"] = library
        done = subprocess.run([sys.executable, "-c", ROUND, args.store], env=env,
                              capture_output=True, text=True, check=True)
        seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
        baseline = baseline or seconds
        print(f"| {label} | {seconds:.3f} | {seconds / baseline:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
