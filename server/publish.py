"""What the server publishes besides entities: the ontology (documentation generated
with pyLODE, and RDF), the shapes, dumps of the whole graph, and the VoID description."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import pyoxigraph as ox
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from rivalry.graph.export import DUMPS, write_dumps
from rivalry.graph.isolate import run_with_time_limit
from rivalry.graph.load import read_rdf_file
from rivalry.graph.void import statistics, void_description
from rivalry.ontology import NAMESPACE, ontology_file
from rivalry.server import get_store
from rivalry.server.entities import ENTITY_FORMATS, conditional, serialize, split_suffix
from rivalry.server.formats import HTML, Format, negotiate
from rivalry.server.search import with_search_box
from rivalry.shapes import shapes_files

bp = Blueprint("publish", __name__)


def _choose(suffix_format: Format | None) -> Format:
    if suffix_format is not None:
        return suffix_format
    chosen = negotiate(request.accept_mimetypes, ENTITY_FORMATS)
    if chosen is None:
        abort(406, description="this document can be given as "
                               + ", ".join(f.media_type for f in ENTITY_FORMATS))
    return chosen


def _document(triples: list[ox.Triple], fmt: Format, html: str, tag: str,
              path: str) -> Response:
    body = html.encode("utf-8") if fmt is HTML else serialize(triples, fmt)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = ", ".join(
        f'<{path}{f.suffix}>; rel="alternate"; type="{f.media_type}"' for f in ENTITY_FORMATS)
    return conditional(response, f"{tag}:{fmt.name}")


def _triples(paths: list[Path]) -> list[ox.Triple]:
    return [ox.Triple(q.subject, q.predicate, q.object) for p in paths for q in read_rdf_file(p)]


# --- the ontology ------------------------------------------------------------------------


def _pylode_html(path: str) -> str:
    import logging

    from pylode import OntPub

    logging.disable(logging.INFO)  # pyLODE logs its progress at INFO on the root logger
    return OntPub(ontology=path).make_html()


@functools.lru_cache(maxsize=2)
def ontology_html(digest: str, path: str) -> str:
    """pyLODE's documentation of the ontology, cached per ontology content. pyLODE runs
    in a child process: it leaves files open and logs on the root logger, and neither
    should touch the server's process."""
    return run_with_time_limit(_pylode_html, (path,), 120, "ontology documentation (pyLODE)")


def _ontology_path() -> Path:
    return Path(str(ontology_file()))


@bp.get("/ontology")
@bp.get("/ontology<any('.ttl', '.jsonld', '.nt', '.rdf', '.html'):suffix>")
def ontology(suffix: str | None = None) -> Response:
    fmt = _choose(split_suffix("x" + suffix)[1] if suffix else None)
    path = _ontology_path()
    html = ""
    if fmt is HTML:
        html = with_search_box(
            ontology_html(hashlib.sha256(path.read_bytes()).hexdigest(), str(path)))
    elif fmt.name == "turtle":
        response = Response(path.read_bytes(), content_type=fmt.content_type)
        response.headers["Vary"] = "Accept"
        return conditional(response, "ontology:turtle")
    return _document(_triples([path]), fmt, html, "ontology", "/ontology")


# --- the shapes ----------------------------------------------------------------------------


@bp.get("/shapes")
@bp.get("/shapes<any('.ttl', '.jsonld', '.nt', '.rdf', '.html'):suffix>")
def shapes(suffix: str | None = None) -> Response:
    fmt = _choose(split_suffix("x" + suffix)[1] if suffix else None)
    paths = [Path(str(f)) for f in shapes_files()]
    html = render_template("shapes.html", shapes=shape_summaries()) if fmt is HTML else ""
    if fmt.name == "turtle" and len(paths) == 1:
        response = Response(paths[0].read_bytes(), content_type=fmt.content_type)
        response.headers["Vary"] = "Accept"
        return conditional(response, "shapes:turtle")
    return _document(_triples(paths), fmt, html, "shapes", "/shapes")


def shape_summaries() -> list[dict]:
    from rivalry.graph.validate import shapes_graph

    g = shapes_graph()
    sh = "http://www.w3.org/ns/shacl#"
    import rdflib

    out = []
    for shape in sorted(set(g.subjects(rdflib.URIRef(sh + "targetClass"), None)), key=str):
        target = g.value(shape, rdflib.URIRef(sh + "targetClass"))
        messages = []
        for prop in g.objects(shape, rdflib.URIRef(sh + "property")):
            path = g.value(prop, rdflib.URIRef(sh + "path"))
            severity = g.value(prop, rdflib.URIRef(sh + "severity"))
            for m in g.objects(prop, rdflib.URIRef(sh + "message")):
                messages.append((str(path).rsplit("#", 1)[-1].rsplit("/", 1)[-1],
                                 str(severity or sh + "Violation").rsplit("#", 1)[-1], str(m)))
        for c in list(g.objects(shape, rdflib.URIRef(sh + "sparql"))) + [shape]:
            for m in g.objects(c, rdflib.URIRef(sh + "message")):
                messages.append(("(rule)", "Violation", str(m)))
        out.append({"shape": str(shape), "target": str(target),
                    "target_local": str(target).removeprefix(NAMESPACE),
                    "messages": sorted(set(messages))})
    return out


# --- dumps ---------------------------------------------------------------------------------

DUMP_TYPES = {
    ".trig": "application/trig", ".nq": "application/n-quads", ".jsonld": "application/ld+json",
    ".ttl": "text/turtle", ".nt": "application/n-triples",
}


def dumps_dir() -> Path:
    return get_store(current_app).cache_dir


def dump_sizes() -> dict[str, int]:
    return write_dumps(get_store(current_app), dumps_dir())


@bp.get("/data")
def data_index() -> Response:
    sizes = dump_sizes()
    files = [{"name": n, "size": s, "url": url_for("publish.dump", name=n, _external=True),
              "media_type": DUMP_TYPES[Path(n.removesuffix(".gz")).suffix],
              "gzip": n.endswith(".gz")} for n, s in sizes.items()]
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if best == "application/json":
        return Response(json.dumps({"build": get_store(current_app).info.build_id,
                                    "files": files}, indent=1),
                        content_type="application/json")
    return Response(render_template("data.html", files=files,
                                    info=get_store(current_app).info),
                    content_type=HTML.content_type)


@bp.get("/data/<name>")
def dump(name: str) -> Response:
    plain = name.removesuffix(".gz")
    if plain not in DUMPS:
        abort(404, description=f"no dump called {name!r}; see /data")
    dump_sizes()
    folder = dumps_dir()
    gzip_ok = "gzip" in request.headers.get("Accept-Encoding", "")
    if name == plain and gzip_ok:
        response = send_from_directory(folder, name + ".gz", conditional=True,
                                       mimetype=DUMP_TYPES[Path(plain).suffix])
        response.headers["Content-Encoding"] = "gzip"
    elif name != plain:
        response = send_from_directory(folder, name, conditional=True,
                                       mimetype="application/gzip")
    else:
        response = send_from_directory(folder, name, conditional=True,
                                       mimetype=DUMP_TYPES[Path(plain).suffix])
    response.headers["Vary"] = "Accept-Encoding"
    return response


# --- VoID ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _cached_statistics(build_id: str, root: str):  # noqa: ANN202 - cached per build
    return statistics(get_store(current_app))


@bp.get("/.well-known/void")
@bp.get("/.well-known/void<any('.ttl', '.jsonld', '.nt', '.rdf', '.html'):suffix>")
def void(suffix: str | None = None) -> Response:
    fmt = _choose(split_suffix("x" + suffix)[1] if suffix else None)
    store = get_store(current_app)
    info = store.info
    stats = _cached_statistics(info.build_id, current_app.config["RIVALRY"]["store"])
    base = current_app.config["RIVALRY"]["base_iri"]
    triples = void_description(
        stats, dataset=base + "dataset",
        endpoint=url_for("sparql.endpoint", _external=True),
        dumps=[url_for("publish.dump", name=n, _external=True) for n in DUMPS],
        vocabulary=NAMESPACE, modified=info.built_at,
        examples=[base + "id/action/us-ofac-2025-01-03-integrity", base + "id/state/cn"])
    html = render_template("void.html", stats=stats, info=info) if fmt is HTML else ""
    return _document(triples, fmt, html, "void", "/.well-known/void")
