"""The search box in a real browser: headless Chromium, driven over the DevTools
protocol, types a name into the box of a page, submits it with Enter, follows the first
result to the entity's page; at desktop and phone widths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cdp import CHROMIUM, Browser
from .live import LiveServer


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(store_dir, tmp_path_factory.mktemp("browser") / "server.log")
    yield live
    live.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is needed for the browser checks (apt-get install "
                        "chromium); .ci/run installs it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


@pytest.mark.parametrize("width", [1400, 390])
@pytest.mark.parametrize(("start", "typed"), [("/", "华为"), ("/browse", "Huawei Technologies"),
                                              ("/id/state/cn.html", "huawie")])
def test_typing_in_the_search_box_finds_the_entity(server: LiveServer, browser: Browser,
                                                   width: int, start: str, typed: str) -> None:
    browser.call("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
        session=True)
    browser.navigate(server.url + start)
    box = browser.evaluate("""(() => {
        const input = document.querySelector('form[role=search] input[name=q]');
        const r = input.getBoundingClientRect();
        return {left: r.left, right: r.right, width: r.width, top: r.top,
                label: document.querySelector('label[for=' + input.id + ']').textContent,
                viewport: window.innerWidth};
    })()""")
    assert box["label"] == "Search the graph"
    assert box["width"] > 150 and 0 <= box["left"] and box["right"] <= box["viewport"]
    browser.evaluate("document.querySelector('form[role=search] input[name=q]').focus()")
    browser.call("Input.insertText", {"text": typed}, session=True)
    browser.events.clear()
    browser.press_enter()
    browser.wait_for("Page.loadEventFired")
    assert browser.evaluate("location.pathname") == "/search"
    assert browser.evaluate("document.querySelector('form[role=search] input').value") == typed
    first = browser.evaluate("document.querySelector('ol.hits a').getAttribute('href')")
    assert first == "/id/company/huawei"
    browser.events.clear()
    browser.evaluate("document.querySelector('ol.hits a').click()")
    browser.wait_for("Page.loadEventFired")
    assert browser.evaluate("location.pathname") == "/id/company/huawei.html"
    assert "Huawei" in browser.evaluate("document.querySelector('h1').textContent")
