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


def _mounted(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a file system here (needs root and mount rights)")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mounted(tmp_path / "disk", "1M")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mounted(tmp_path / "disk", "200M")


def test_a_full_disk(small_disk: Path) -> None:
    result = run_build(small_disk / "store")
    assert_clean_failure(result, small_disk / "store", set())
    assert "No space left on device" in result.stderr or "disk is full" in result.stderr


def test_a_read_only_file_system(small_disk: Path) -> None:
    done = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot remount read-only here")
    result = run_build(small_disk / "store")
    assert result.returncode == 4 and "Read-only file system" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dumps_of_a_read_only_store(disk: Path, store_dir: Path, tmp_path: Path) -> None:
    """A served store that cannot be written: a dump it lacks is written in the cache_dir
    folder instead; if that cannot be written either, 503 says so, and the dumps that do
    exist are still served."""
    from rivalry.server import create_app

    store = disk / "store"
    shutil.copytree(store_dir, store, symlinks=True)
    for dump in (store / "current" / "dumps").glob("rivalry.n*.gz"):
        dump.unlink()  # as if written by an older build: N-Quads and N-Triples missing
    done = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot remount read-only here")
    spare = tmp_path / "cache"
    client = create_app({"store": str(store), "cache_dir": str(spare)}).test_client()
    with client.get("/data/rivalry.nq.gz") as response:
        assert response.status_code == 200
    assert list(spare.rglob("rivalry.nq.gz"))
    blocked = create_app({"store": str(store), "cache_dir": str(disk / "no")}).test_client()
    response = blocked.get("/data/rivalry.nt", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert "cannot be written" in response.get_json()["message"]
    with blocked.get("/data/rivalry.ttl.gz") as response:
        assert response.status_code == 200
