"""Shared fixtures: one build of the curated graph per test session, an app over it,
and helpers to run the `rivalry` command."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from rivalry.graph import facts_dir
from rivalry.graph.build import BuildResult, build
from rivalry.graph.store import EmbeddedStore
from rivalry.server import create_app
from rivalry.server.cli import main

DATA = Path(__file__).parent / "data"
CURATED_FACTS = Path(str(facts_dir()))


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RIVALRY_* variable of the developer's shell leaks into a test."""
    import os

    for key in list(os.environ):
        if key.startswith("RIVALRY_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def curated_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The curated facts, built once (with the HermiT check) into a session store."""
    root = tmp_path_factory.mktemp("store")
    return build(root / "store")


@pytest.fixture(scope="session")
def store_dir(curated_build: BuildResult) -> Path:
    return curated_build.path.parent.parent


@pytest.fixture
def fresh_store(tmp_path: Path, store_dir: Path) -> Path:
    """A private copy of the curated store, for tests that rebuild or break it."""
    copy = tmp_path / "store"
    shutil.copytree(store_dir, copy, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def curated_store(store_dir: Path) -> EmbeddedStore:
    """The session store opened as an app opens it (a copy in memory, store_in_memory),
    once per test process: loading it takes most of an app's first request."""
    return EmbeddedStore(store_dir, in_memory=True)


@pytest.fixture
def app(store_dir: Path, curated_store: EmbeddedStore) -> Flask:
    """An app over the session store, with the store already open (the public app never
    writes to it; tests that change a store build their own, from `fresh_store`)."""
    app = create_app({"store": str(store_dir)})
    app.config["TESTING"] = True
    assert app.config["RIVALRY"]["store_in_memory"]  # the store it would have opened
    app.extensions["rivalry.store"] = curated_store
    return app


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        yield client


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def run(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, [str(a) for a in args], catch_exceptions=False)


# --- external SPARQL servers (tests/external.py) -------------------------------------------


@pytest.fixture(scope="session", params=["oxigraph", "virtuoso"])
def external(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """Each external SPARQL server CI proves, given in EXTERNAL_STORE_<NAME> or started."""
    from .external import external_server

    server = external_server(request.param, tmp_path_factory.mktemp(request.param))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def remote(external, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """The curated facts built into the external server, as a RemoteStore."""
    from rivalry.graph.remote import RemoteStore

    store = RemoteStore.from_settings(
        {**external.settings, "cache_dir": str(tmp_path_factory.mktemp("cache"))})
    store.switch_grace = 0.5  # the tests' readers refresh at once
    build(store, consistency=False)
    return store



# --- running in parallel (pytest-xdist, `make test`) ---------------------------------------

#: the test ids of the tests over the external SPARQL servers: the `external` fixture's
#: parameter is one part of every such id ("test_x[virtuoso]", "test_y[oxigraph-/timeline]")
EXTERNAL_ID = re.compile(r"\[(?:[^\]]*-)?(?:oxigraph|virtuoso)(?:-[^\]]*)?\]$")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """How `make test` shares the tests among its processes: a module's tests stay in one
    process (its module-scoped fixtures, a crawl of the site, a browser, a live server, are
    set up once), and all the tests over the external SPARQL servers share one process,
    as they load the same servers and must not do so at the same time."""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndExternalServers(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    # the groups in the order they are collected (pytest_collection_modifyitems below),
    # not by their number of tests
    config.option.loadscopereorder = False
    return ModulesAndExternalServers(config, log)


#: The groups of tests that take longest (`--durations`, about 60 to 400 s each in a
#: run of `make test`), longest first. The scheduler hands the groups out in the order
#: they are collected, so these start first and the short ones fill the processes in at
#: the end: both processes end together. (Ordered by their number of tests, as
#: pytest-xdist does by default, the crawl, with four tests, started last and ran alone.)
SLOWEST_FIRST = ("tests/test_incremental.py", "external SPARQL servers",
                 "tests/test_external_failures.py", "tests/test_crawl.py",
                 "tests/test_build.py", "tests/test_malformed_input.py",
                 "tests/test_validate.py", "tests/test_shacl.py", "tests/test_consistency.py",
                 "tests/test_graph_store.py", "tests/test_sparql_protocol.py",
                 "tests/test_browser.py", "tests/test_linked_data.py",
                 "tests/test_linked_data_live.py")


def scope_of(nodeid: str) -> str:
    """The group a test runs in: its module, or one group for all the tests over the
    external SPARQL servers."""
    return "external SPARQL servers" if EXTERNAL_ID.search(nodeid) else nodeid.split("::")[0]


@pytest.hookimpl(trylast=True)  # after pytest has ordered the tests by their fixtures
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The scheduler above knows the tests over external servers by their ids only: a test
    that uses them under another id would run beside them and clash. The longest groups
    come first (SLOWEST_FIRST); within a group, the order stays pytest's."""
    for item in items:
        if {"external", "remote"} & set(getattr(item, "fixturenames", ())) \
                and not EXTERNAL_ID.search(item.nodeid):
            raise pytest.UsageError(
                f"{item.nodeid} uses an external SPARQL server but its id does not name "
                "it: keep the `external` fixture's parameter in the test's id")
    rank = {scope: i for i, scope in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(scope_of(item.nodeid), len(rank)))


#: The columns of the search index's tables that hold an entity's id.
ENTITY_COLUMNS: dict[str, tuple[int, ...]] = {
    "entity": (0, 4, 5), "entity_type": (1,), "issuer": (0, 1), "name": (1,),
    "identifier": (1,), "parent": (0, 1), "target": (0, 1), "in_force": (0,),
    "source": (0,)}


def search_index_rows(path: Path) -> dict[str, list[str]]:
    """The rows of a search index (rivalry.graph.search) by table, sorted, with each
    entity's id read as its IRI and each name's as its entity's IRI and its rank: an
    update may number an entity it adds otherwise than a full build. Checks that the ids
    keep the IRIs' order (search breaks ties by id), as both must."""
    from rivalry.graph.search import NAME_BITS

    found: dict[str, list[str]] = {}
    with sqlite3.connect(path) as db:
        iri_of: dict[int, str] = dict(db.execute("SELECT id, iri FROM entity"))
        assert sorted(iri_of, key=iri_of.__getitem__) == sorted(iri_of)
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                   "AND name NOT LIKE 'name_words%' AND name != 'meta' "
                                   "AND name NOT LIKE 'sqlite_%'").fetchall():
            columns = ENTITY_COLUMNS.get(table, ())

            def readable(row: tuple[Any, ...], table: str = table,
                         columns: tuple[int, ...] = columns) -> str:
                out = list(row)
                for i in columns:
                    if out[i] is not None:
                        out[i] = iri_of[out[i]]
                if table == "name":  # its entity's id, then its rank among its names
                    out[0] = (iri_of[row[0] >> NAME_BITS], row[0] & ((1 << NAME_BITS) - 1))
                return repr(out)

            found[table] = sorted(map(readable, db.execute(f"SELECT * FROM {table}")))
    return found
