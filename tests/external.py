"""External SPARQL servers for the tests: the servers CI proves (Oxigraph server and
Virtuoso), given as settings, or started here.

A server is given by an environment variable EXTERNAL_STORE_<NAME> holding rivalry's
settings for it, separated by spaces:

    EXTERNAL_STORE_VIRTUOSO="sparql_endpoint=http://127.0.0.1:8890/sparql
        graph_store_endpoint=http://127.0.0.1:8890/sparql-graph-crud-auth
        graph_store_auth=dba:dba"

(`.ci/run` starts both servers on loopback and sets both variables). A server not given
is started here, on a free loopback port, when its program is installed (`oxigraph` from
the test extra, Debian's `virtuoso-t`) with the configuration the README documents
(docs/virtuoso.ini for Virtuoso), and stopped after the tests; one that is neither given
nor installed is skipped, except in CI (CI set), where that fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .live import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("oxigraph", "virtuoso")


@dataclass
class External:
    name: str
    settings: dict[str, str]
    process: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def sparql(self) -> str:
        return self.settings["sparql_endpoint"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def parse_settings(text: str) -> dict[str, str]:
    settings = {}
    for part in text.split():
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: write each setting as name=value")
        settings[name] = value
    if "sparql_endpoint" not in settings:
        raise ValueError("no sparql_endpoint")
    return settings


def wait_for(url: str, process: subprocess.Popen | None, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    probe = url + "?" + urllib.parse.urlencode({"query": "ASK { FILTER(false) }"})
    while True:
        try:
            with urllib.request.urlopen(probe, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if (process is not None and process.poll() is not None) \
                    or time.monotonic() > deadline:
                raise RuntimeError(f"no SPARQL server answers at {url}") from None
            time.sleep(0.3)


def start_oxigraph(directory: Path) -> External:
    binary = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(binary).exists():
        raise FileNotFoundError("oxigraph (pip install oxigraph: the test extra)")
    port = free_port()
    log = directory / "oxigraph.log"
    # no --union-default-graph: rivalry names its dataset in every query, so the
    # server's default graph does not matter
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "serve", "--location", str(directory / "db"), "--bind",
             f"127.0.0.1:{port}", "--timeout-s", "10"], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    server = External("oxigraph", {"sparql_endpoint": base + "/query",
                                   "graph_store_endpoint": base + "/store"}, process, [log])
    wait_for(server.sparql, process)
    return server


def virtuoso_ini(directory: Path, sql_port: int, http_port: int) -> Path:
    """docs/virtuoso.ini with its directory and ports filled in."""
    text = (ROOT / "docs" / "virtuoso.ini").read_text("utf-8")
    text = (text.replace("DIR", str(directory)).replace("SQL_PORT", str(sql_port))
            .replace("HTTP_PORT", str(http_port)))
    path = directory / "virtuoso.ini"
    path.write_text(text, "utf-8")
    return path


def start_virtuoso(directory: Path) -> External:
    binary = shutil.which("virtuoso-t")
    if binary is None:
        raise FileNotFoundError("virtuoso-t (Debian: apt-get install virtuoso-opensource)")
    sql_port, http_port = free_port(), free_port()
    ini = virtuoso_ini(directory, sql_port, http_port)
    log = directory / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, "-f", "-c", str(ini)], cwd=directory, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{http_port}"
    server = External("virtuoso", {
        "sparql_endpoint": base + "/sparql",
        "graph_store_endpoint": base + "/sparql-graph-crud-auth",
        "graph_store_auth": "dba:dba"}, process, [log, directory / "virtuoso.log"])
    wait_for(server.sparql, process)
    return server


def external_server(name: str, directory: Path) -> External:
    """The server `name`: given in EXTERNAL_STORE_<NAME>, or started here."""
    given = os.environ.get(f"EXTERNAL_STORE_{name.upper()}")
    if given:
        server = External(name, parse_settings(given))
        wait_for(server.sparql, None)
        return server
    try:
        return (start_oxigraph if name == "oxigraph" else start_virtuoso)(directory)
    except FileNotFoundError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is needed in CI: EXTERNAL_STORE_{name.upper()} is not set "
                        f"and {e} is not installed")
        pytest.skip(f"{name}: EXTERNAL_STORE_{name.upper()} is not set and {e} is not "
                    "installed")
