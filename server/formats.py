"""The formats registry: one table of media types, suffixes and serializers, used by
content negotiation, `format=` parameters and suffixed URLs (CONTRIBUTING.md, convention 7)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_date


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


def _ranges(header: str) -> list[tuple[str, str, float]]:
    """The media ranges of an Accept header: (type, subtype, q), media-type parameters
    other than q (charset, profile…) set aside, as RFC 9110 (section 12.5.1) lets a
    server do when its representations have no such variants."""
    ranges = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if "/" not in media:
            continue
        kind, _, sub = media.partition("/")
        q = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip().strip('"'))
                except ValueError:
                    q = -1.0
                break
        if 0.0 <= q <= 1.0 and kind and sub:
            ranges.append((kind, sub, q))
    return ranges


def _quality(ranges: list[tuple[str, str, float]], offer: str) -> float:
    """The q the client gives an offer: that of the most specific range matching it."""
    kind, _, sub = offer.lower().partition("/")
    best, specificity = 0.0, -1
    for rkind, rsub, q in ranges:
        if (rkind, rsub) == (kind, sub):
            level = 2
        elif rkind == kind and rsub == "*":
            level = 1
        elif (rkind, rsub) == ("*", "*"):
            level = 0
        else:
            continue
        if level > specificity:
            best, specificity = q, level
    return best


def best_offer(header: str, offers: tuple[str, ...]) -> str | None:
    """The offer (a media type) the Accept header prefers: `preferred`, for offers that
    have no other names. Used by every negotiation of the app."""
    return preferred(header, tuple((offer, offer) for offer in offers))


def _offers(formats: tuple[Format, ...]) -> tuple[tuple[str, ...], dict[str, Format]]:
    offers: list[str] = []
    owner: dict[str, Format] = {}
    for f in formats:
        for media_type in (f.media_type, *f.aliases):
            if media_type not in owner:
                owner[media_type] = f
                offers.append(media_type)
    return tuple(offers), owner


@functools.lru_cache(maxsize=1024)
def preferred(header: str, variants: tuple[tuple[str, str], ...]) -> str | None:
    """The variant an Accept header prefers, by its own media type. `variants` pairs
    each variant's media type with every media type that names it: itself, then its
    aliases (application/x-turtle for text/turtle). An alias counts only where the header
    names it exactly; a wildcard reaches a variant through its own media type. So
    `text/turtle;q=0, */*` excludes Turtle, rather than letting it back in as
    application/x-turtle, and `text/*` reaches CSV, not SPARQL XML results as text/xml.
    The highest q wins, the server's order among equals; the first variant for a
    missing or empty header; None when none is acceptable. Shared by the app and the
    front's cache, which must choose alike."""
    if not variants:
        return None
    ranges = _ranges(header) if header and header.strip() else []
    if not ranges:
        return variants[0][0]
    quality: dict[str, float] = {}
    for own, name in variants:
        if name == own:
            q = _quality(ranges, own)
        else:
            kind, _, sub = name.lower().partition("/")
            q = max((rq for rkind, rsub, rq in ranges if (rkind, rsub) == (kind, sub)),
                    default=0.0)
        quality[own] = max(quality.get(own, 0.0), q)
    chosen, top = None, 0.0
    for own, q in quality.items():
        if q > top:
            chosen, top = own, q
    return chosen


def negotiate(accept: MIMEAccept | str, formats: tuple[Format, ...]) -> Format | None:
    """The best format for an Accept header (q-values respected, other media-type
    parameters set aside, aliases named exactly: see `preferred`), the first of
    `formats` when the client accepts anything, or None when nothing acceptable can be
    produced."""
    header = accept if isinstance(accept, str) else accept.to_header()
    offers, owner = _offers(formats)
    best = preferred(header, tuple((owner[o].media_type, o) for o in offers))
    return next((f for f in formats if f.media_type == best), None)


def negotiate_header(header: str, formats: tuple[Format, ...]) -> Format | None:
    """`negotiate` for an Accept header's text."""
    return negotiate(header, formats)


def variants_header(formats: tuple[Format, ...]) -> str:
    """The formats a negotiated response could have had, for the front's cache (one
    entry per format: its content type, then the media types that choose it)."""
    offers, owner = _offers(formats)
    return ", ".join(f"{owner[o].content_type.split(';')[0]}={o}" for o in offers)


def unmodified_since_fails(if_match: str | None, if_unmodified_since: str | None,
                           last_modified: str | datetime | None) -> bool:
    """RFC 9110 13.1.4: without If-Match, a representation modified after the request's
    If-Unmodified-Since date fails the precondition (412). An unreadable date, or a
    representation without a Last-Modified, is no condition. Shared by the app and the
    front's cache, which must judge alike."""
    if (if_match or "").strip() or not if_unmodified_since or last_modified is None:
        return False
    since = parse_date(if_unmodified_since)
    modified = parse_date(last_modified) if isinstance(last_modified, str) else last_modified
    return since is not None and modified is not None and modified > since
