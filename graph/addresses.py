"""Source addresses: the official domains of issuers, and what makes an address unclean.

A source typed rv:PrimaryOfficial must be published on an issuer's own site or official
gazette; `graph/official-domains.csv` lists those domains (a host matches a domain when
it is the domain or one of its subdomains). Every source address must also be clean: no
trailing-dot or bare-IP hosts, no staging hosts, no truncated paths, no tracking
parameters, no AMP variants, and https unless the host is known to serve plain http only.
"""

from __future__ import annotations

import csv
import functools
import ipaddress
import re
from dataclasses import dataclass
from importlib.resources import files
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class OfficialDomain:
    domain: str
    issuer: str  # a state, a union (state:us, union:eu) or an organization (intl:wto)
    kind: str  # government, gazette, legislature, court, intergovernmental, company
    note: str


@functools.lru_cache(maxsize=1)
def official_domains() -> tuple[OfficialDomain, ...]:
    """The official domains listed in graph/official-domains.csv."""
    text = files("rivalry.graph").joinpath("official-domains.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return tuple(OfficialDomain(r["domain"].strip().lower(), r["issuer"].strip(),
                                r["kind"].strip(), r["note"].strip()) for r in rows)


def official_domain(url: str) -> OfficialDomain | None:
    """The official domain an address is published on, or None."""
    host = (urlsplit(url).hostname or "").lower()
    for entry in official_domains():
        if host == entry.domain or host.endswith("." + entry.domain):
            return entry
    return None


#: Query parameters that track a reader rather than name a document.
TRACKING_PARAMETERS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|"
    r"_ga|_gl|_hsenc|_hsmi|mkt_tok|ocid|cmpid|smid|ref_src|ref_url|spm|share|shared|"
    r"sharetype|from|src|via|cid|s_cid|ito|guccounter|guce_referrer|guce_referrer_sig)$",
    re.IGNORECASE)

#: Host labels that mark a site's staging or test copy, not its published one.
STAGING_LABELS = {"staging", "stage", "stg", "preprod", "pre-prod", "uat", "dev", "test",
                  "testing", "qa", "sandbox", "preview", "beta"}

#: Hosts that serve their pages over plain http only, each with why it is kept.
HTTP_ONLY_HOSTS: dict[str, str] = {}


def address_problems(url: str) -> list[str]:
    """What is unclean about a source's address; empty when nothing is."""
    problems: list[str] = []
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https"):
        return [f"not an http(s) address: {url}"]
    if not host:
        return [f"no host in {url}"]
    if parts.netloc.split("@")[-1].split(":")[0].endswith("."):
        problems.append(f"the host {host!r} ends with a dot; drop it")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        problems.append(f"the host is a bare IP address ({host}); use the site's name")
    labels = host.rstrip(".").split(".")
    if any(label in STAGING_LABELS for label in labels[:-2]):
        problems.append(f"{host} looks like a staging or test host; cite the published site")
    path = unquote(parts.path)
    if path.endswith(("...", "…")) or "…" in path or "…" in unquote(parts.query):
        problems.append("the path is truncated (ends in an ellipsis); give the whole address")
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if TRACKING_PARAMETERS.match(name):
            problems.append(f"tracking parameter {name!r}; remove it")
    amp_query = {n.lower(): v.lower() for n, v in parse_qsl(parts.query, keep_blank_values=True)}
    if (host.endswith("cdn.ampproject.org") or labels[0] == "amp"
            or re.search(r"(^|/)amp(/|$)|\.amp(\.html?)?$|[-_]amp\.html?$", path.lower())
            or "amp" in amp_query or "hs_amp" in amp_query
            or amp_query.get("outputtype") == "amp"):
        problems.append("an AMP variant; cite the canonical page")
    if parts.scheme == "http" and host.rstrip(".") not in HTTP_ONLY_HOSTS:
        problems.append("plain http; use the https address")
    if parts.fragment.lower().startswith((":~:text=", "utm_")):
        problems.append("a text or tracking fragment; remove it")
    return problems
