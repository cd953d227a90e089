"""Dereferenceable IRIs: every entity under https://w3id.org/rivalry/id/ answers at /id/... for
linked-data clients (Turtle, JSON-LD, N-Triples, RDF/XML) and for people (HTML).

Policy (W3C, "Cool URIs for the Semantic Web", section 4.3, "303 URIs forwarding to
different documents"): an entity IRI names a thing (a state, a company, a sanction), not
a document, so GET on it answers 303 See Other to the document that describes it, in
the format the client negotiated: /id/state/cn -> /id/state/cn.ttl, .jsonld, .nt,
.rdf or .html. Those documents answer 200, with ETag and Last-Modified (and 304 on
revalidation) and Link headers naming the other formats.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlencode

import pyoxigraph as ox
import rdflib
from flask import Blueprint, Response, current_app, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from rivalry.graph import BASE_IRI, DATA_LICENSE, PREFIXES
from rivalry.graph.describe import Labels, describe, description_query, entity_view, exists
from rivalry.graph.errors import NotFound
from rivalry.graph.iri import parse_iri
from rivalry.graph.results import write_triples
from rivalry.graph.store import Store
from rivalry.graph.terms import to_rdflib
from rivalry.server import get_store
from rivalry.server.diagram import chain_legend, chain_svg
from rivalry.server.errors import NotAcceptable, checked_iri
from rivalry.server.formats import (
    HTML,
    RDF_FORMATS,
    Format,
    lookup,
    negotiate,
    unmodified_since_fails,
)
from rivalry.server.urls import external_url

bp = Blueprint("entities", __name__)

ENTITY_FORMATS: tuple[Format, ...] = tuple(
    f for f in (lookup(RDF_FORMATS, n) for n in ("turtle", "jsonld", "ntriples", "rdfxml"))
    if f is not None) + (HTML,)
BY_SUFFIX = {f.suffix: f for f in ENTITY_FORMATS}


def local_path(iri: str) -> str | None:
    """The server path of an IRI minted under the base, or None for other IRIs."""
    base = BASE_IRI
    return "/" + iri[len(base):] if iri.startswith(base) else None


#: The schemes of IRIs a page links to as they are: any other (`javascript:`, `data:`,
#: `urn:`…) could run script in the server's origin when clicked, or lead nowhere.
LINKED_SCHEMES = ("http://", "https://")


def href(iri: str) -> str:
    """Where a page should link for an IRI: here for our own; the IRI itself for another
    http(s) IRI; for any other scheme, the server's own description of it (a SPARQL
    DESCRIBE), since a query can put any IRI in a page (`<javascript:…>`)."""
    local = local_path(iri)
    if local is not None:
        return local
    if iri.lower().startswith(LINKED_SCHEMES):
        return iri
    return "/sparql?" + urlencode({"query": f"DESCRIBE <{iri}>"})


def split_suffix(path: str) -> tuple[str, Format | None]:
    for suffix, fmt in BY_SUFFIX.items():
        if path.endswith(suffix):
            return path[: -len(suffix)], fmt
    return path, None


def context_url() -> str:
    return external_url("entities.context")


def jsonld_context() -> dict:
    return {"@context": dict(PREFIXES)}


def to_jsonld(triples: list[ox.Triple]) -> bytes:
    """JSON-LD compacted with the prefixes of /context.jsonld, which it refers to (the
    server serves that context itself; nothing is fetched to write it)."""
    g = rdflib.Graph()
    for t in triples:
        g.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    data = json.loads(g.serialize(format="json-ld", context=jsonld_context()["@context"],
                                  auto_compact=True))
    if not isinstance(data, dict):
        data = {"@graph": data}
    data["@context"] = context_url()
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def serialize(triples: list[ox.Triple], fmt: Format) -> bytes:
    if fmt.name == "jsonld":
        return to_jsonld(triples)
    assert fmt.rdf is not None
    return write_triples(triples, fmt.rdf, PREFIXES)


def not_found_body(iri: str, fmt: Format, message: str | None = None) -> tuple[bytes, str]:
    message = message or f"{iri} is not described in this graph"
    if fmt.name == "turtle":
        return f"# {message}\n".encode(), fmt.content_type
    if fmt.name == "ntriples":
        return b"", fmt.content_type
    if fmt.name == "rdfxml":
        return (b'<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf='
                b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>\n'), fmt.content_type
    if fmt.name == "jsonld":
        return json.dumps({"@graph": []}).encode(), fmt.content_type
    html = render_template("error.html", status=404, error="Not found", message=message)
    return html.encode(), HTML.content_type


def alternates(path: str) -> str:
    return ", ".join(f'<{path}{f.suffix}>; rel="alternate"; type="{f.media_type}"'
                     for f in ENTITY_FORMATS)


def conditional(response: Response, tag: str) -> WerkzeugResponse:
    """ETag and Last-Modified from the build being served; 304 when the client has it."""
    info = get_store(current_app).info
    response.set_etag(hashlib.sha256(f"{info.content_hash}:{tag}".encode()).hexdigest()[:32])
    response.last_modified = datetime.fromisoformat(info.built_at)
    response.headers["Cache-Control"] = "public, max-age=60, must-revalidate"
    return answer_conditionally(response)


def answer_conditionally(response: Response) -> WerkzeugResponse:
    """The response, or 304 for a client that has it, or 412 for a failed If-Match or
    If-Unmodified-Since (without the representation, which werkzeug would leave in a
    412), as the front answers from its cache."""
    if unmodified_since_fails(request.headers.get("If-Match"),
                              request.headers.get("If-Unmodified-Since"), response.last_modified):
        response.set_data(b"")
        response.status_code = 412
        return response
    answer = response.make_conditional(request)
    if answer.status_code == 412:
        answer.set_data(b"")
    return answer


def see_other(address: str, iri: str, found: bool, what: str,
              missing: str | None = None) -> WerkzeugResponse:
    """The answer at a resource's address without a suffix (Cool URIs): 303 to its
    description in the format the client prefers (`address` + suffix); 404 in that
    format when there is nothing to describe (saying `missing`, when given); 406 when no
    format suits."""
    chosen = negotiate(request.accept_mimetypes, ENTITY_FORMATS)
    if not found:
        body, content_type = not_found_body(iri, chosen or ENTITY_FORMATS[0], missing)
        response: WerkzeugResponse = Response(body, status=404, content_type=content_type)
    elif chosen is None:
        raise NotAcceptable(f"{what} can be described as "
                            + ", ".join(f.media_type for f in ENTITY_FORMATS))
    else:
        response = redirect(f"{address}{chosen.suffix}", code=303)
        response.headers["Link"] = alternates(address)
    response.headers["Vary"] = "Accept"
    return response


@bp.get("/id/<path:rest>")
def entity(rest: str) -> WerkzeugResponse:
    path, fmt = split_suffix(rest)
    iri = checked_iri(BASE_IRI + "id/" + path, "the entity's address")
    store = get_store(current_app)
    if fmt is None:
        found = exists(store, iri)
        return see_other(f"/id/{path}", iri, found, "this entity",
                         None if found else _other_suffix(store, path))
    if not exists(store, iri):
        body, content_type = not_found_body(iri, fmt)
        return Response(body, status=404, content_type=content_type)
    if fmt is HTML:
        body = entity_page(iri).encode("utf-8")
    else:
        body = serialize(describe(store, iri), fmt)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Link"] = (alternates(f"/id/{path}") + f', <{iri}>; rel="describes"'
                                + f', <{DATA_LICENSE}>; rel="license"')
    response.headers["Content-Location"] = f"/id/{path}{fmt.suffix}"
    return conditional(response, f"{path}{fmt.suffix}")


def _other_suffix(store: Store, path: str) -> str | None:
    """What to say of `/id/<path>` when the graph does not know it but knows the entity
    without its last suffix (`company/tiktok.nq`): which documents there are."""
    stem, dot, suffix = path.rpartition(".")
    if not dot or "/" in suffix or not stem:
        return None
    iri = BASE_IRI + "id/" + stem
    if parse_iri(iri) is None or not exists(store, iri):
        return None
    return (f"{iri} has no .{suffix} document; its descriptions are "
            + ", ".join(f"/id/{stem}{f.suffix}" for f in ENTITY_FORMATS)
            + " (suffixes are lower case)")


def entity_page(iri: str) -> str:
    store = get_store(current_app)
    labels = Labels(store)
    view = entity_view(store, iri, labels)
    path = local_path(iri) or iri
    svg = chain_svg(view.chain, view.chain_nodes, focus=iri, href=href) if view.chain else None
    query = description_query(iri)
    return render_template("entity.html", view=view, path=path, href=href, svg=svg,
                           legend=chain_legend(view.chain), formats=ENTITY_FORMATS[:-1],
                           query=query, labels=labels)


@bp.get("/context.jsonld")
def context() -> Response:
    response = Response(json.dumps(jsonld_context(), indent=1),
                        content_type="application/ld+json; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.app_template_filter("httpdate")
def httpdate(value: str) -> str:
    return format_datetime(datetime.fromisoformat(value), usegmt=True)


__all__ = ["bp", "href", "local_path", "NotFound"]
