"""Telling a well-formed IRI from text that is not one, before it reaches pyoxigraph
(whose NamedNode refuses it with a ValueError)."""

from __future__ import annotations

import pyoxigraph as ox


def parse_iri(text: str) -> ox.NamedNode | None:
    """The IRI as a NamedNode, or None when the text is not an absolute IRI (RFC 3987) as
    pyoxigraph reads one."""
    if not text or ":" not in text:
        return None
    try:
        return ox.NamedNode(text)
    except ValueError:
        return None


def _name_start(c: str) -> bool:
    o = ord(c)
    return (c.isascii() and (c.isalpha() or c == "_")) or any(
        lo <= o <= hi for lo, hi in _NAME_START_RANGES)


def _name_char(c: str) -> bool:
    o = ord(c)
    return _name_start(c) or (c.isascii() and (c.isdigit() or c in "-.")) or o == 0xB7 \
        or 0x300 <= o <= 0x36F or 0x203F <= o <= 0x2040


#: The non-ASCII ranges of XML 1.0's NameStartChar (the ASCII ones are letters and `_`).
_NAME_START_RANGES = ((0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x2FF), (0x370, 0x37D),
                      (0x37F, 0x1FFF), (0x200C, 0x200D), (0x2070, 0x218F), (0x2C00, 0x2FEF),
                      (0x3001, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFFD), (0x10000, 0xEFFFF))


def ends_in_xml_name(iri: str) -> bool:
    """Whether an IRI ends in an XML name without a colon (an NCName), as RDF/XML needs of
    a predicate, which it writes as an element: a namespace, then that name.
    `http://a/1`, `urn:x:1` and `http://a/b/` do not; pyoxigraph writes such a predicate
    as an element with no name after its prefix, which no XML parser reads."""
    start = len(iri)
    while start > 0 and _name_char(iri[start - 1]):
        start -= 1
    return any(_name_start(c) for c in iri[start:])
