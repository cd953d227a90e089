"""A crawl of the site as a visitor (or a crawler) sees it: start from / and follow every
internal link of every page (pages, /ontology#... anchors, entity and graph IRIs, data
documents, queries), and assert that none answers 4xx or 5xx and that every anchor a
page links to exists on the page it names."""

from __future__ import annotations

import re
import time
from collections import deque
from html import unescape
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from flask.testing import FlaskClient

#: A script the page runs from its own text (not a file, not a JSON data block).
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=[\"']application/json)[^>]*>",
                           re.IGNORECASE)
HANDLER = re.compile(r"""<[^>]+\son[a-z]+=|href=["']javascript:""", re.IGNORECASE)
HREF = re.compile(r"""\b(?:href|src|action)=["']([^"']+)["']""")
ID = re.compile(r"""\bid=["']([^"']+)["']""")
BASE_IRI = "https://w3id.org/rivalry/"
#: Documents of one kind (the same path with another slug) whose links are alike: past
#: this many of a kind, their non-HTML links (RDF formats, query answers) are not all
#: fetched again, only recorded; every HTML page is still fetched and read.
SAMPLES_PER_KIND = 25


def kind_of(path: str) -> str:
    """/id/action/x.ttl -> /id/action/*.ttl: the shape of a document's address."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) > 3 and parts[1] in ("id", "graph"):
        suffix = Path(parts[-1]).suffix
        return "/".join(parts[:3]) + "/*" + suffix
    if parts[1:2] == ["sparql"]:
        return "/sparql?" + ("format=" + m.group(1) if (m := re.search(r"format=(\w+)", path))
                             else "")
    return path


def internal(url: str, page: str) -> str | None:
    """The local address of a link, or None for another site's."""
    absolute = urljoin("http://localhost" + page, unescape(url))
    if absolute.startswith(BASE_IRI):
        absolute = "http://localhost/" + absolute[len(BASE_IRI):]
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or parts.netloc != "localhost":
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "") + (
        f"#{parts.fragment}" if parts.fragment else "")


def crawl(client: FlaskClient, start: str = "/") -> dict:
    seen: set[str] = set()
    statuses: dict[str, int] = {}
    anchors: dict[str, set[str]] = {}
    wanted: dict[str, set[tuple[str, str]]] = {}  # page -> {(fragment, linked from)}
    kinds: dict[str, int] = {}
    unsafe: dict[str, str] = {}  # page -> what would let text on it run as script
    queue: deque[tuple[str, str]] = deque([(start, "(start)")])
    while queue:
        url, source = queue.popleft()
        path, fragment = urldefrag(url)
        if fragment:
            wanted.setdefault(path, set()).add((fragment, source))
        if path in seen:
            continue
        seen.add(path)
        kind = kind_of(path)
        kinds[kind] = kinds.get(kind, 0) + 1
        html_like = not re.search(r"\.(ttl|jsonld|nt|nq|rdf|trig|gz|csv|json)(\?|$)", path) \
            and "format=" not in path
        if not html_like and kinds[kind] > SAMPLES_PER_KIND:
            continue
        response = client.get(path, headers={"Accept": "text/html"})
        statuses[path] = response.status_code
        if response.status_code in (301, 302, 303, 307, 308):
            target = internal(response.headers["Location"], path)
            if target:
                queue.append((target, path))
            response.close()
            continue
        if response.status_code >= 400 or response.mimetype != "text/html":
            response.close()
            continue
        html = response.get_data(as_text=True)
        policy = response.headers.get("Content-Security-Policy", "")
        response.close()
        if "script-src 'self'" not in policy or "unsafe-inline" in policy.split(
                "script-src", 1)[1].split(";", 1)[0]:
            unsafe[path] = f"Content-Security-Policy: {policy!r}"
        elif found := INLINE_SCRIPT.search(html) or HANDLER.search(html):
            unsafe[path] = found.group(0)
        anchors[path] = set(ID.findall(html))
        for link in HREF.findall(html):
            target = internal(link, path)
            if target and not target.startswith("/static/"):
                queue.append((target, path))
    return {"statuses": statuses, "anchors": anchors, "wanted": wanted, "kinds": kinds,
            "unsafe": unsafe}


@pytest.fixture(scope="module")
def site(store_dir: Path) -> dict:
    from rivalry.server import create_app

    app = create_app({"store": str(store_dir)})
    app.config["TESTING"] = True
    started = time.perf_counter()
    with app.test_client() as client:
        result = crawl(client)
    result["seconds"] = time.perf_counter() - started
    return result


def test_no_internal_link_answers_4xx_or_5xx(site: dict) -> None:
    broken = {p: s for p, s in site["statuses"].items() if s >= 400}
    assert not broken, broken
    pages = site["statuses"]
    assert len(pages) > 500  # every entity, graph, list and document was reached
    for must in ("/ontology", "/browse/actions", "/timeline", "/validate", "/stats",
                 "/.well-known/void", "/data",
                 "/graph/facts/events/2025-01-integrity-technology-sanction",
                 "/id/action/us-ofac-2025-01-03-integrity.html"):
        assert any(p == must or p.startswith(must + ".") or p.startswith(must + "?")
                   for p in pages), must


def test_every_linked_anchor_exists(site: dict) -> None:
    missing = []
    for page, fragments in site["wanted"].items():
        if page not in site["anchors"]:
            continue  # not an HTML page (reported by the test above if broken)
        for fragment, source in fragments:
            if fragment not in site["anchors"][page]:
                missing.append((page + "#" + fragment, source))
    assert not missing, missing[:20]


def test_ontology_anchors_linked_from_pages_exist(site: dict) -> None:
    linked = {f for f, _ in site["wanted"].get("/ontology", set())}
    assert {"InForce", "Sanction", "issuedBy"} <= linked  # pages do link into the ontology
    assert linked <= site["anchors"]["/ontology"]


def test_no_page_runs_inline_script(site: dict) -> None:
    """Every page forbids inline script (Content-Security-Policy `script-src 'self'`) and
    has none of its own, so that text a query or a fact puts on a page never runs."""
    assert not site["unsafe"], dict(list(site["unsafe"].items())[:10])
    assert len(site["anchors"]) > 100  # the HTML pages were read
