"""Every source of the curated facts: a clean address, and primary documents on official sites.

Read straight from the facts files (no build), so a failure names the file to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rdflib import RDF, Graph, Namespace, URIRef

from rivalry.graph.addresses import address_problems, official_domain

from .conftest import CURATED_FACTS

RV = Namespace("https://w3id.org/rivalry/ontology#")
DCT = Namespace("http://purl.org/dc/terms/")
SCHEMA = Namespace("https://schema.org/")
ID = "https://w3id.org/rivalry/id/"


@dataclass(frozen=True)
class Source:
    iri: str
    file: str
    url: str
    kind: str | None
    publisher: str | None

    def __str__(self) -> str:
        return f"{self.iri.removeprefix(ID)} ({self.file}) <{self.url}>"


@pytest.fixture(scope="module")
def sources() -> list[Source]:
    found = []
    for path in sorted(CURATED_FACTS.rglob("*.ttl")):
        graph = Graph().parse(path)
        for node in graph.subjects(RDF.type, RV.SourceDocument):
            kind = graph.value(node, RV.sourceKind)
            publisher = graph.value(node, DCT.publisher)
            for url in graph.objects(node, SCHEMA.url):
                found.append(Source(str(node), str(path.relative_to(CURATED_FACTS)), str(url),
                                    kind and str(kind).removeprefix(str(RV)),
                                    publisher and str(publisher)))
    return found


def test_the_facts_have_sources(sources: list[Source]) -> None:
    assert len({s.iri for s in sources}) > 500
    assert all(isinstance(URIRef(s.url), URIRef) for s in sources)


def test_every_source_address_is_clean(sources: list[Source]) -> None:
    unclean = [f"{s}: {'; '.join(address_problems(s.url))}"
               for s in sources if address_problems(s.url)]
    assert not unclean, "unclean source addresses:\n" + "\n".join(unclean)


def test_every_primary_official_source_is_on_an_official_domain(sources: list[Source]) -> None:
    off_site = [str(s) for s in sources
                if s.kind == "PrimaryOfficial" and official_domain(s.url) is None]
    assert not off_site, (
        "sources typed rv:PrimaryOfficial that are not on graph/official-domains.csv (type a "
        "copy as rv:Mirror, or add the issuer's domain with a note):\n" + "\n".join(off_site))


def test_a_mirror_is_published_by_the_site_that_copies_it(sources: list[Source]) -> None:
    """A mirror's publisher is whoever runs the copying site, never the original issuer: an
    organization, or a government agency only when the copy is on a government site (a trade
    department reposting a foreign notice)."""
    def runs_the_site(s: Source) -> bool:
        if s.publisher is None:
            return False
        if s.publisher.startswith(ID + "organization/"):
            return True
        host = (urlsplit(s.url).hostname or "").split(".")
        return s.publisher.startswith(ID + "agency/") and "gov" in host[:-1]
    wrong = [f"{s}: publisher {s.publisher}" for s in sources
             if s.kind == "Mirror" and not runs_the_site(s)]
    assert not wrong, ("mirrors attributed to someone other than the copying site:\n"
                       + "\n".join(wrong))


def test_official_sites_are_not_typed_as_mirrors(sources: list[Source]) -> None:
    """A document on an issuer's own site is its issuer's copy, not a mirror."""
    wrong = [str(s) for s in sources if s.kind == "Mirror" and official_domain(s.url)]
    assert not wrong, "official documents typed rv:Mirror:\n" + "\n".join(wrong)


def test_the_official_domains_list_is_shipped() -> None:
    listed = Path(CURATED_FACTS).parent / "official-domains.csv"
    assert listed.is_file()
