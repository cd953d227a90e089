"""Linked data against a live server: real clients dereference the founding article's
entities, and headless Chromium renders the pages."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib

from rivalry.graph import ID_BASE
from rivalry.graph.store import EmbeddedStore

from .conftest import CURATED_FACTS
from .live import LiveServer
from .test_linked_data import check_description


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(store_dir, tmp_path_factory.mktemp("ld") / "server.log")
    yield live
    live.stop()


def founding_article_entities() -> list[str]:
    iris: set[str] = set()
    for path in sorted((CURATED_FACTS / "events").glob("2025-01-*.ttl")):
        g = rdflib.Graph().parse(path, format="turtle")
        for s, _, o in g:
            for node in (s, o):
                if isinstance(node, rdflib.URIRef) and str(node).startswith(ID_BASE):
                    iris.add(str(node))
    return sorted(iris)


ENTITIES = founding_article_entities()


def test_the_founding_article_has_entities_of_every_kind() -> None:
    kinds = {iri[len(ID_BASE):].split("/")[0] for iri in ENTITIES}
    assert {"action", "agency", "company", "person", "source", "technology", "state",
            "response"} <= kinds


@pytest.mark.parametrize("iri", ENTITIES, ids=lambda i: i[len(ID_BASE):])
def test_rdflib_dereferences_each_entity(server: LiveServer, store_dir: Path, iri: str) -> None:
    url = server.url + "/" + iri[len("https://w3id.org/rivalry/"):]
    g = rdflib.Graph().parse(url)  # content negotiation, a 303, then the document
    check_description(EmbeddedStore(store_dir), iri, g)


# --- a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def render(url: str, tmp_path: Path, budget_ms: int = 5000) -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is needed for the browser checks (apt-get install "
                        "chromium); .ci/run installs it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}",
         f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        capture_output=True, timeout=120, check=True)
    return result.stdout.decode("utf-8")


def server_store(server: LiveServer) -> Path:
    return server.store


def test_browser_renders_an_entity_page(server: LiveServer, tmp_path: Path) -> None:
    dom = render(server.url + "/id/action/us-ofac-2025-01-03-integrity", tmp_path)
    assert "<h1>OFAC sanctions Integrity Technology Group</h1>" in dom
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in dom
    assert dom.count('class="node"') == 3  # the sanction and the two responses to it
    assert "Foreign Ministry spokesperson Guo Jiakun condemns" in dom
    assert "home.treasury.gov/news/press-releases/jy2769" in dom


def test_browser_renders_the_timeline(server: LiveServer, tmp_path: Path) -> None:
    from rivalry.graph.listing import PAGE_SIZE

    from .test_linked_data import count_actions

    total = count_actions(server_store(server))
    dom = render(server.url + "/timeline", tmp_path)
    assert f"{total} actions" in dom
    assert dom.count('class="event"') == min(total, PAGE_SIZE)
    assert dom.index("<h2>2018</h2>") < dom.index("<h2>2019</h2>")
    last = render(server.url + f"/timeline?page={-(-total // PAGE_SIZE)}", tmp_path)
    assert "<h2>2025</h2>" in last and "<h2>2026</h2>" in last
    assert last.index("MOFCOM proposes") < last.index("BIS Framework for Artificial")


def test_browser_runs_an_example_query_in_yasgui(server: LiveServer, tmp_path: Path) -> None:
    node = Path(__file__).parent.parent / "node_modules" / "@zazuko" / "yasgui"
    if not node.is_dir():
        pytest.skip("YASGUI is not installed (make setup installs it)")
    dom = render(server.url + "/?run=cq13-ai-diffusion-tiers", tmp_path, budget_ms=10000)
    assert "Countries by tier of the AI diffusion rule" in dom
    assert "AI diffusion tier 3" in dom  # the answer, rendered by YASR in the page
