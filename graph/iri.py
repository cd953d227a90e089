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
