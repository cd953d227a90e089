#!/usr/bin/env python
"""How fast the canned queries run in-process over each malloc found on this machine,
in the process's main thread and in a thread of its own. Not a test. Build a store
first (for instance `rivalry synth --measures 10000 -o F` and `rivalry build --facts F
--store S`), then:

    .venv/bin/python bench/allocators.py --store S

Each allocator runs in a fresh process with LD_PRELOAD; the store is loaded in memory,
and every canned query runs as a worker of `rivalry serve` runs it (inline, row cap,
pyoxigraph writing SPARQL JSON), rounds in the main thread (`--rounds`, 3 by default),
then as many in another thread. The best round of each is reported, in seconds and in
CPU seconds (the process's: less disturbed than the wall clock by other work on the
machine).
"""

from __future__ import annotations

import argparse
import ctypes.util
import json
import os
import subprocess
import sys

ROUND = """
import json, sys, threading, time
import pyoxigraph as ox
from rivalry.graph.canned import canned_queries
from rivalry.graph.isolate import set_supervised
from rivalry.graph.store import EmbeddedStore, QueryLimits
set_supervised()  # queries run inline, as in a worker of `rivalry serve`
store = EmbeddedStore(sys.argv[1], in_memory=True)
queries = canned_queries()

def rounds(out):
    for _ in range(int(sys.argv[2])):
        start, cpu = time.perf_counter(), time.process_time()
        for q in queries:
            store.execute(q.text, QueryLimits(time_limit=600), bindings=q.bindings(None),
                          result_format=lambda kind: ox.QueryResultsFormat.JSON)
        out.append((time.perf_counter() - start, time.process_time() - cpu))

found = {}
for where in ("main", "thread"):
    out = []
    if where == "main":
        rounds(out)
    else:
        other = threading.Thread(target=rounds, args=(out,))
        other.start()
        other.join()
    found[where] = {"seconds": min(o[0] for o in out), "cpu": min(o[1] for o in out)}
print(json.dumps(found))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="a built store directory")
    parser.add_argument("--rounds", type=int, default=3, help="rounds in each thread")
    args = parser.parse_args()
    candidates = {"glibc (the C library's)": ""}
    for name in ("jemalloc", "tcmalloc_minimal", "mimalloc"):
        found = ctypes.util.find_library(name)
        if found:
            candidates[found] = found
    print("| malloc | main thread: s (CPU s) | a thread of its own: s (CPU s) | "
          "CPU against glibc in the main thread |")
    print("|---|---|---|---|")
    baseline = None
    for label, library in candidates.items():
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        if library:
            env["LD_PRELOAD"] = library
        done = subprocess.run([sys.executable, "-c", ROUND, args.store, str(args.rounds)],
                              env=env, capture_output=True, text=True, check=True)
        found = json.loads(done.stdout.strip().splitlines()[-1])
        main_, thread = found["main"], found["thread"]
        baseline = baseline or main_["cpu"]
        print(f"| {label} | {main_['seconds']:.2f} ({main_['cpu']:.2f}) | "
              f"{thread['seconds']:.2f} ({thread['cpu']:.2f}) | "
              f"{main_['cpu'] / baseline:.2f}× / {thread['cpu'] / baseline:.2f}× |", flush=True)

if __name__ == "__main__":
    main()
