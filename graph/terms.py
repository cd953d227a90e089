"""Terms as people read them and as rdflib holds them: the one place that shortens an IRI
to a prefixed name, and the one converter from pyoxigraph's terms to rdflib's."""

from __future__ import annotations

from collections.abc import Mapping

import pyoxigraph as ox
import rdflib

from rivalry.graph import PREFIXES, Term


def prefixed_name(iri: str, prefixes: Mapping[str, str] = PREFIXES) -> str | None:
    """`iri` as a prefixed name (`rv:Action`, `company:huawei`), with the longest namespace
    of `prefixes` it starts with; None when no namespace fits or when what is left is no
    local name a SPARQL or Turtle reader would take back (empty, a character other than a
    letter, a digit, `-`, `_` or `.`, or a final `.`).

    Callers choose what stands for an IRI without one: the IRI itself on pages
    (`prefixed_name(iri) or iri`), `<iri>` in messages and on the command line."""
    best = max((ns for ns in prefixes.values() if iri.startswith(ns)), key=len, default=None)
    if best is None:
        return None
    local = iri[len(best):]
    if not local or local.endswith(".") \
            or not all(c.isalnum() or c in "-_." for c in local):
        return None
    prefix = next(p for p, ns in prefixes.items() if ns == best)
    return f"{prefix}:{local}"


def expanded_name(text: str, prefixes: Mapping[str, str] = PREFIXES) -> str | None:
    """The IRI a prefixed name stands for (`rv:Company`, `company:huawei`), with one of
    `prefixes`; None for text that is no such name (an IRI such as `https://…`, a name
    whose prefix is unknown). The inverse of `prefixed_name`."""
    prefix, colon, local = text.partition(":")
    if not colon or prefix not in prefixes or local.startswith("//"):
        return None
    return prefixes[prefix] + local


def to_rdflib(term: Term) -> rdflib.term.Node:
    """A pyoxigraph term as rdflib's.

    Blank nodes keep their label (`rdflib.BNode(label)`): the same pyoxigraph blank node
    always gives the same rdflib one, so triples converted one at a time still share their
    blank nodes. Sources whose labels may coincide (two files that both say `_:b0`) are
    kept apart before they are converted, as a build keeps them apart in its store: each
    labelled canonically, prefixed with a digest of its name (rivalry.graph.load.canonical).
    Quoted triples have no rdflib term: a TypeError."""
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))
    raise TypeError(f"unsupported term {term!r}")
