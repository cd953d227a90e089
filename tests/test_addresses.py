"""Source addresses: what makes one unclean, and the official domains of issuers."""

from __future__ import annotations

import pytest

from rivalry.graph.addresses import address_problems, official_domain, official_domains


@pytest.mark.parametrize("url", [
    "https://home.treasury.gov/news/press-releases/jy2769",
    "https://www.federalregister.gov/d/2025-00704",
    "https://english.mofcom.gov.cn/News/PressConference/art/2025/art_1.html",
    "https://www.reuters.com/technology/some-story-2025-01-02/",
    "https://example.org/page?id=42&lang=en",
    "https://www.thehindu.com/sci-tech/technology/article68764506.ece",
])
def test_clean_addresses(url: str) -> None:
    assert address_problems(url) == []


@pytest.mark.parametrize(("url", "problem"), [
    ("https://ustr.gov./about-us", "ends with a dot"),
    ("https://en.wikisource.org./wiki/Page:X", "ends with a dot"),
    ("http://203.198.47.105/docDetail.jsp?id=1", "bare IP"),
    ("https://[2001:db8::1]/a", "bare IP"),
    ("https://stage.tradelawdaily.com/article/2021/04/09/x", "staging"),
    ("https://evertiq.com/news/46705?utm_source=feedburner&utm_medium=feed", "utm_source"),
    ("https://example.org/a?fbclid=abc", "fbclid"),
    ("https://example.org/news/very-long-title-cut-off-here…", "truncated"),
    ("https://example.org/news/title...", "truncated"),
    ("https://anews.com.tr/asia/2024/12/03/china-bans-exports/amp", "AMP"),
    ("https://news.cgtn.com/news/2025-01-07/x-1zXEZKrAzyE/share_amp.html", "AMP"),
    ("https://www.thehindu.com/sci-tech/article68760542.ece/amp/", "AMP"),
    ("https://learnexportcompliance.com/insights/x?hs_amp=true", "AMP"),
    ("https://example-org.cdn.ampproject.org/c/s/example.org/x", "AMP"),
    ("http://www.xinhuanet.com/english/2020-10/17/c_139447960.htm", "plain http"),
    ("ftp://example.org/file", "not an http(s) address"),
])
def test_unclean_addresses(url: str, problem: str) -> None:
    problems = address_problems(url)
    assert any(problem in p for p in problems), problems


def test_official_domains_match_hosts_and_subdomains() -> None:
    assert official_domain("https://home.treasury.gov/news/x").issuer == "state:us"
    assert official_domain("https://english.mofcom.gov.cn/a").issuer == "state:cn"
    assert official_domain("https://eur-lex.europa.eu/eli/reg/2021/821/oj").issuer == "union:eu"
    # a look-alike host is not a subdomain
    assert official_domain("https://nottreasury.gov/x") is None
    assert official_domain("https://regulations.justia.com/regulations/fedreg/x") is None


def test_official_domains_are_well_formed() -> None:
    domains = [d.domain for d in official_domains()]
    assert len(domains) == len(set(domains)), "a domain is listed twice"
    for d in official_domains():
        assert d.domain == d.domain.strip().lower() and "/" not in d.domain and d.note
        assert d.issuer.split(":")[0] in ("state", "union", "intl", "company"), d.issuer
