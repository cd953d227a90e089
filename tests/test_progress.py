"""Long builds show progress (counts and rate) on a terminal, and stay quiet in CI or when
their output is not a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CURATED_FACTS


def run_build(store: Path, tty: bool, ci: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("RIVALRY_")}
    if ci:
        env["CI"] = "true"
    args = [sys.executable, "-m", "rivalry.server.cli", "build", "--store", str(store),
            "--facts", str(CURATED_FACTS), "--no-consistency-check", "--no-validation"]
    if not tty:
        done = subprocess.run(args, env=env, capture_output=True, timeout=300, check=True)
        return done.stderr.decode()
    master, slave = pty.openpty()
    process = subprocess.Popen(args, env=env, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=300)
    os.close(master)
    assert process.returncode == 0
    return b"".join(chunks).decode()


@pytest.mark.parametrize("tty,ci,shown", [(True, False, True), (True, True, False),
                                          (False, False, False)])
def test_progress_only_on_a_terminal_outside_ci(tmp_path: Path, tty: bool, ci: bool,
                                                shown: bool) -> None:
    out = run_build(tmp_path / "store", tty, ci)
    assert "published build" in out
    has_progress = "\r" in out.replace("\r\n", "\n") and "triples/s" in out
    assert has_progress == shown
