"""What the benchmarks share: free ports, waiting for a server, running one in its own
process group, percentiles. Not a test: used by bench/benchmark.py and bench/serving.py."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 600) -> None:
    """Wait until something answers HTTP at `url` (any status)."""
    deadline = time.monotonic() + seconds
    parsed = urllib.parse.urlparse(url)
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
            c.request("GET", parsed.path or "/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


class Server:
    """A server in a process group of its own, its output in `log` (or dropped)."""

    def __init__(self, args: list[str], url: str, env: dict | None = None,
                 log: Path | None = None) -> None:
        out = log.open("wb") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        self.url = url
        self.log = log

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
