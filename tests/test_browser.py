"""Every page in a real browser (headless Chromium, driven by Selenium through Debian's
chromedriver) at a desktop width (1400 px) and a phone's (390 px): nothing is wider than
the viewport, so nothing is hidden off-screen. Screenshots are kept: in a temporary
folder, or in $SCREENSHOT_DIR when set (to look at them)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import CURATED_FACTS
from .live import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WIDTHS = {"desktop": 1400, "phone": 390}

QUERY = ("PREFIX rv: <https://w3id.org/rivalry/ontology#>\nPREFIX rdfs: "
         "<http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?action ?label ?source WHERE { "
         "?action a rv:Sanction ; rdfs:label ?label ; "
         "<http://www.w3.org/ns/prov#wasDerivedFrom> ?source }")
#: An action late in its chain of responses, whose diagram opens scrolled to it.
CHAIN_END = "/id/action/cn-samr-2025-09-15-nvidia-finding"
PAGES = {
    "home": "/",
    "ontology": "/ontology",
    "browse": "/browse",
    "actions": "/browse/actions",
    "companies": "/browse/companies",
    "members-other-vocabulary": "/browse/type?class=skos:Concept",
    "timeline": "/timeline",
    "timeline-2024": "/timeline?year=2024",
    "stats": "/stats",
    "entity-sanction": "/id/action/us-ofac-2025-01-03-integrity",
    "entity-bis-rule": "/id/action/us-bis-2022-10-07-advcomp",
    "entity-state": "/id/state/cn",
    "entity-company": "/id/company/integrity-technology-group",
    "entity-source": "/id/source/treasury-jy2769",
    "graph": "/graph/facts/events/2025-01-integrity-technology-sanction",
    "validate-form": "/validate",
    "results": "/sparql?format=html&query=" + quote(QUERY),
    "data": "/data",
    "void": "/.well-known/void",
    "shapes": "/shapes",
}


@pytest.fixture(scope="module")
def server(store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(store_dir, tmp_path_factory.mktemp("browser") / "server.log")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a WebDriver
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium and chromedriver are needed for the browser "
                        "checks (apt-get install chromium chromium-driver); .ci/run installs "
                        "them")
        pytest.skip("Chromium or chromedriver is not installed "
                    "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def set_width(driver, width: int) -> None:  # noqa: ANN001
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})


def page_width(driver) -> tuple[int, int]:  # noqa: ANN001
    return tuple(driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"))


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
@pytest.mark.parametrize("name", PAGES)
def test_page_fits_the_viewport(server: LiveServer, browser, shots: Path,  # noqa: ANN001
                                name: str, width: str) -> None:
    set_width(browser, WIDTHS[width])
    browser.get(server.url + PAGES[name])
    assert "Internal Server Error" not in browser.title
    scroll, viewport = page_width(browser)
    browser.save_screenshot(str(shots / f"{name}-{width}.png"))
    assert scroll == viewport == WIDTHS[width], f"{name} is {scroll} px wide"


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
def test_validation_report_fits_the_viewport(server: LiveServer, browser,  # noqa: ANN001
                                             shots: Path, width: str) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    set_width(browser, WIDTHS[width])
    browser.get(server.url + "/validate")
    facts = (CURATED_FACTS / "events" / "2025-01-integrity-technology-sanction.ttl").read_text()
    # set at once: typing thousands of characters one by one is slow
    browser.execute_script("arguments[0].value = arguments[1]",
                           browser.find_element(By.NAME, "facts"), facts)
    browser.find_element(By.CSS_SELECTOR, "form.validate-form [type=submit]").click()
    # while the report replaces the form, the form's h1 may be found and then leave the
    # document before its text is read: Chromium says so with a plain WebDriverException
    # ("Node with given id does not belong to the document"); look again until it is there
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"),
                                                           "Validation report"))
    message = browser.find_element(By.CSS_SELECTOR, "table.report td[data-label=message]")
    assert message.is_displayed()
    left = message.location["x"]
    assert 0 <= left < WIDTHS[width]  # the message column is on screen, not scrolled away
    scroll, viewport = page_width(browser)
    browser.save_screenshot(str(shots / f"validation-report-{width}.png"))
    assert scroll == viewport == WIDTHS[width]


def test_diagram_scrolls_inside_its_box(server: LiveServer, browser) -> None:  # noqa: ANN001
    set_width(browser, WIDTHS["phone"])
    browser.get(server.url + "/id/action/us-bis-2022-10-07-advcomp")
    box, inner = browser.execute_script(
        "var d = document.querySelector('.diagram'); return [d.clientWidth, d.scrollWidth]")
    assert inner > box  # wider than the phone, so it scrolls within its box
    assert page_width(browser) == (WIDTHS["phone"], WIDTHS["phone"])


def test_query_editor_shows_prefixed_names(server: LiveServer, browser) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    node = Path(__file__).parent.parent / "node_modules" / "@zazuko" / "yasgui"
    if not node.is_dir():
        pytest.skip("YASGUI is not installed (make setup installs it)")
    set_width(browser, WIDTHS["desktop"])
    browser.get(server.url + "/?run=cq02-response-chain")
    WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, ".yasr table tbody tr")))
    cells = " ".join(c.text for c in browser.find_elements(By.CSS_SELECTOR,
                                                            ".yasr table tbody td"))
    assert "action:" in cells  # id/action/... written with the graph's prefix
    assert "https://w3id.org/rivalry/id/action/" not in cells


def test_pages_run_under_their_content_security_policy(server: LiveServer,
                                                       browser) -> None:  # noqa: ANN001
    """The pages' policy allows scripts from the server's own files only: no page (the
    query page with YASGUI running an example, an entity page with its chain diagram)
    makes the browser refuse anything."""
    import time

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__refused = [];"
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " window.__refused.push(e.violatedDirective + ' ' + e.blockedURI); });")})
    set_width(browser, WIDTHS["desktop"])
    for path in [*PAGES.values(), "/?run=cq02-response-chain"]:
        browser.get(server.url + path)
        time.sleep(0.3)  # let the page's own scripts (YASGUI's requests) run
        refused = browser.execute_script("return window.__refused")
        assert refused == [], (path, refused)
    set_width(browser, WIDTHS["phone"])
    browser.get(server.url + CHAIN_END)
    # chain.js ran: the diagram opens at this page's action rather than at its start
    left, focus, width, most = browser.execute_script(
        "var d = document.querySelector('.diagram'); var s = d.querySelector('svg');"
        "return [d.scrollLeft, +s.dataset.focusX, d.clientWidth, d.scrollWidth - d.clientWidth]")
    assert focus - width / 3 > 0
    assert abs(left - min(most, focus - width / 3)) <= 1
