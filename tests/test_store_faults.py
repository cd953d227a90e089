"""A build that cannot be written (a full disk, a read-only file system, a file-size cap)
says so in one line, exits 4, leaves nothing partial and keeps the store being served
(issue 12)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

RIVALRY = [sys.executable, "-m", "rivalry.server.cli"]


def run_build(store: Path, *extra: str, preexec=None) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVALRY_")}
    return subprocess.run([*RIVALRY, "build", "--store", str(store), "--no-consistency-check",
                           "-q", *extra], capture_output=True, text=True, env=env,
                          preexec_fn=preexec, timeout=300)


def assert_clean_failure(result: subprocess.CompletedProcess, store: Path,
                         before: set[str]) -> None:
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write"), result.stderr
    assert "Traceback" not in result.stderr
    assert "store being served is unchanged" in lines[0]
    builds = store / "builds"
    left = {p.name for p in builds.iterdir()} if builds.exists() else set()
    assert left == before, "a partial build was left behind"


def _cap_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


def test_a_write_that_fails_midway_keeps_the_served_store(fresh_store: Path) -> None:
    before = {p.name for p in (fresh_store / "builds").iterdir()}
    current = os.readlink(fresh_store / "current")
    facts = fresh_store.parent / "facts"
    shutil.copytree(Path(__file__).parent.parent / "graph" / "facts", facts)
    (facts / "events" / "extra.ttl").write_text(
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<https://w3id.org/rivalry/id/x> rdfs:comment \"new\"@en .\n")
    result = run_build(fresh_store, "--facts", str(facts), preexec=_cap_file_size)
    assert_clean_failure(result, fresh_store, before)
    assert os.readlink(fresh_store / "current") == current


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root and mount rights)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk(small_disk: Path) -> None:
    result = run_build(small_disk / "store")
    assert_clean_failure(result, small_disk / "store", set())
    assert "No space left on device" in result.stderr


def test_a_read_only_file_system(small_disk: Path) -> None:
    done = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot remount read-only here")
    result = run_build(small_disk / "store")
    assert result.returncode == 4 and "Read-only file system" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
