"""A live `rivalry serve` on a free loopback port, for tests with real clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, store: Path, log: Path, *, wait: bool = True,
                 **settings: object) -> None:
        """Start `rivalry serve` with these settings; with `wait`, return once /-/health
        answers 200."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RIVALRY_")}
        env.update({f"RIVALRY_{k.upper()}": str(v) for k, v in settings.items()})
        env["RIVALRY_STORE"] = str(store)
        self.store = store
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rivalry.server.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_until_healthy()

    def wait_until_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(self.url + "/-/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start:\n"
                                       + self.log.read_text()) from None
                time.sleep(0.2)

    @staticmethod
    def _children(pid: int) -> set[int]:
        found: set[int] = set()
        for task in Path(f"/proc/{pid}/task").iterdir():
            found |= {int(p) for p in (task / "children").read_text().split()}
        return found

    def zygote(self) -> int:
        """The process that forks the workers (the front's only child)."""
        (zygote,) = self._children(self.process.pid)
        return zygote

    def workers(self) -> set[int]:
        """The worker processes' ids (the zygote's children)."""
        return self._children(self.zygote())

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
