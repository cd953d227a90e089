"""The formats registry: one table of media types, suffixes and serializers, used by
content negotiation, `format=` parameters and suffixed URLs (STYLE.md, habit 7)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    suffix: str
    results: ox.QueryResultsFormat | None = None
    rdf: ox.RdfFormat | None = None
    aliases: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        if self.media_type.startswith("text/") or self.media_type in (
                "application/sparql-results+json", "application/ld+json",
                "application/sparql-results+xml", "application/rdf+xml", "application/n-quads",
                "application/n-triples", "application/trig"):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


RESULT_FORMATS: tuple[Format, ...] = (
    Format("json", "application/sparql-results+json", ".srj", results=ox.QueryResultsFormat.JSON,
           aliases=("application/json",)),
    Format("xml", "application/sparql-results+xml", ".srx", results=ox.QueryResultsFormat.XML,
           aliases=("application/xml", "text/xml")),
    Format("csv", "text/csv", ".csv", results=ox.QueryResultsFormat.CSV),
    Format("tsv", "text/tab-separated-values", ".tsv", results=ox.QueryResultsFormat.TSV),
)

RDF_FORMATS: tuple[Format, ...] = (
    Format("turtle", "text/turtle", ".ttl", rdf=ox.RdfFormat.TURTLE,
           aliases=("application/x-turtle",)),
    Format("ntriples", "application/n-triples", ".nt", rdf=ox.RdfFormat.N_TRIPLES,
           aliases=("text/plain",)),
    Format("nquads", "application/n-quads", ".nq", rdf=ox.RdfFormat.N_QUADS),
    Format("trig", "application/trig", ".trig", rdf=ox.RdfFormat.TRIG),
    Format("jsonld", "application/ld+json", ".jsonld", rdf=ox.RdfFormat.JSON_LD,
           aliases=("application/json",)),
    Format("rdfxml", "application/rdf+xml", ".rdf", rdf=ox.RdfFormat.RDF_XML,
           aliases=("application/xml", "text/xml")),
)

#: A page people can read, for any query form; offered last, so that clients asking
#: for anything get a machine format.
HTML = Format("html", "text/html", ".html", aliases=("application/xhtml+xml",))

BY_NAME: dict[str, Format] = {f.name: f for f in RESULT_FORMATS + RDF_FORMATS + (HTML,)}


def lookup(formats: tuple[Format, ...], name: str) -> Format | None:
    """A format by name, suffix or media type, among `formats`."""
    key = name.strip().lower()
    for f in formats:
        if key in (f.name, f.suffix, f.suffix.lstrip("."), f.media_type) or key in f.aliases:
            return f
    return None


def negotiate(accept: MIMEAccept, formats: tuple[Format, ...]) -> Format | None:
    """The best format for an Accept header (q-values respected), the first of `formats`
    when the client accepts anything, or None when nothing acceptable can be produced."""
    if not accept:
        return formats[0]
    offers: list[str] = []
    owner: dict[str, Format] = {}
    for f in formats:
        for media_type in (f.media_type, *f.aliases):
            if media_type not in owner:
                owner[media_type] = f
                offers.append(media_type)
    best = accept.best_match(offers)
    return owner[best] if best else None


@functools.lru_cache(maxsize=256)
def negotiate_header(header: str, formats: tuple[Format, ...]) -> Format | None:
    """`negotiate` for an Accept header's text, remembered: clients send few distinct
    headers, and parsing and matching one costs more than a small query's lookup."""
    return negotiate(parse_accept_header(header, MIMEAccept), formats)
