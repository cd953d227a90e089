"""What the server publishes besides entities: the ontology (its documentation page and
its RDF), the shapes, dumps of the whole graph, and the VoID description."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyoxigraph as ox
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
)
from werkzeug.http import parse_date, parse_etags, unquote_etag
from werkzeug.wrappers import Response as WerkzeugResponse

from rivalry.graph import BASE_IRI, DATA_LICENSE
from rivalry.graph.errors import StoreError
from rivalry.graph.export import DUMPS
from rivalry.graph.load import format_for, parse_rdf
from rivalry.graph.ontology_doc import anchor_for, curie, ontology_doc
from rivalry.graph.products import build_statistics, write_dump
from rivalry.graph.void import Publisher, void_description
from rivalry.ontology import NAMESPACE, ontology_file
from rivalry.server import get_store
from rivalry.server.entities import (
    ENTITY_FORMATS,
    answer_conditionally,
    conditional,
    href,
    serialize,
    split_suffix,
)
from rivalry.server.errors import NotAcceptable, error_body, render_error
from rivalry.server.formats import HTML, Format, best_offer, negotiate, unmodified_since_fails
from rivalry.server.urls import external_url
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


def _document(body: bytes, fmt: Format, tag: str, path: str) -> WerkzeugResponse:
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = ", ".join(
        f'<{path}{f.suffix}>; rel="alternate"; type="{f.media_type}"' for f in ENTITY_FORMATS)
    return conditional(response, f"{tag}:{fmt.name}")


#: Documents kept, written from files or a build (JSON-LD written by rdflib takes long
#: enough for a document as large as the ontology that writing it on every request would
#: let a client keep a worker busy by asking again and again).
DOCUMENTS_KEPT = 64
_kept: dict[tuple[object, ...], bytes] = {}
_kept_lock = threading.Lock()


def kept_document(key: tuple[object, ...], write: Callable[[], bytes]) -> bytes:
    """The document kept under `key`, which must name everything it is written from; or,
    the first time, the one `write` writes, then kept (the oldest goes past
    DOCUMENTS_KEPT)."""
    with _kept_lock:
        body = _kept.get(key)
    if body is None:
        body = write()
        with _kept_lock:
            _kept[key] = body
            while len(_kept) > DOCUMENTS_KEPT:
                del _kept[next(iter(_kept))]
    return body


def files_document(files: dict[Path, bytes], fmt: Format) -> bytes:
    """RDF files (their bytes, as read) as one document in `fmt`: written once for each
    content, kept under the digests of the bytes (a file changed on disk is written
    again)."""
    def write() -> bytes:
        return serialize([ox.Triple(q.subject, q.predicate, q.object)
                          for path, data in files.items()
                          for q in parse_rdf(data, format_for(path), label=str(path))], fmt)

    key = ("files", fmt.name, *((str(path), hashlib.sha256(data).hexdigest())
                                for path, data in files.items()))
    return kept_document(key, write)


# --- the ontology ------------------------------------------------------------------------

ONTOLOGY_FORMAT_LABELS = {"turtle": "Turtle", "jsonld": "JSON-LD", "ntriples": "N-Triples",
                          "rdfxml": "RDF/XML"}


def _ontology_path() -> Path:
    return Path(str(ontology_file()))


def scheme_query(scheme: str) -> str:
    """The query listing a concept scheme's concepts, for schemes curated in the graph."""
    return ("PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
            "SELECT ?concept ?label ?broader WHERE {\n"
            f"  ?concept skos:inScheme <{scheme}> .\n"
            "  OPTIONAL { ?concept skos:prefLabel ?label\n"
            "             FILTER(langMatches(lang(?label), \"en\")) }\n"
            "  OPTIONAL { ?concept skos:broader ?broader }\n"
            "} ORDER BY ?label")


def ontology_page() -> str:
    formats = [{"suffix": f.suffix, "media_type": f.media_type,
                "label": ONTOLOGY_FORMAT_LABELS[f.name]} for f in ENTITY_FORMATS
               if f.name in ONTOLOGY_FORMAT_LABELS]
    return render_template("ontology.html", doc=ontology_doc(_ontology_path()),
                           formats=formats, scheme_query=scheme_query)


@bp.get("/ontology")
@bp.get("/ontology<any('.ttl', '.jsonld', '.nt', '.rdf', '.html'):suffix>")
def ontology(suffix: str | None = None) -> WerkzeugResponse:
    """The ontology: documentation rendered by the site's own templates from the Turtle,
    or the Turtle itself, RDF/XML, JSON-LD or N-Triples. Served from the file, so it works
    before the first build; validators come from the file's content."""
    fmt = _choose(split_suffix("x" + suffix)[1] if suffix else None)
    path = _ontology_path()
    data = path.read_bytes()
    if fmt is HTML:
        body = ontology_page().encode("utf-8")
    elif fmt.name == "turtle":
        body = data
    else:
        body = files_document({path: data}, fmt)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = ", ".join(
        [f'</ontology{f.suffix}>; rel="alternate"; type="{f.media_type}"'
         for f in ENTITY_FORMATS] + [f'<{DATA_LICENSE}>; rel="license"'])
    if suffix is None:
        response.headers["Content-Location"] = f"/ontology{fmt.suffix}"
    digest = hashlib.sha256(data + fmt.name.encode()).hexdigest()[:32]
    response.set_etag(digest)
    response.headers["Cache-Control"] = "public, max-age=300, must-revalidate"
    return answer_conditionally(response)


@bp.get("/ontology/<version>")
def ontology_version(version: str) -> WerkzeugResponse:
    """The ontology's version IRI (<base>ontology/0.1.0): this version is the one served
    at /ontology; earlier versions are not kept here."""
    doc = ontology_doc(_ontology_path())
    current = next((v.text for name, values in doc.metadata if name == "version IRI"
                    for v in values), None)
    if current is None or current.rstrip("/").rsplit("/", 1)[-1] != version:
        abort(404, description=f"version {version!r} of the ontology is not served here; "
                               "the current version is at /ontology")
    response = redirect("/ontology", code=303)
    return response


# --- the shapes ----------------------------------------------------------------------------


@bp.get("/shapes")
@bp.get("/shapes<any('.ttl', '.jsonld', '.nt', '.rdf', '.html'):suffix>")
def shapes(suffix: str | None = None) -> WerkzeugResponse:
    fmt = _choose(split_suffix("x" + suffix)[1] if suffix else None)
    paths = [Path(str(f)) for f in shapes_files()]
    html = render_template("shapes.html", shapes=shape_summaries()) if fmt is HTML else ""
    if fmt.name == "turtle" and len(paths) == 1:
        response = Response(paths[0].read_bytes(), content_type=fmt.content_type)
        response.headers["Vary"] = "Accept"
        return conditional(response, "shapes:turtle")
    body = html.encode("utf-8") if fmt is HTML \
        else files_document({p: p.read_bytes() for p in paths}, fmt)
    return _document(body, fmt, "shapes", "/shapes")


def shape_summaries() -> list[dict]:
    from rivalry.graph.validate import shapes_graph

    g = shapes_graph()
    sh = "http://www.w3.org/ns/shacl#"
    import rdflib

    out = []
    for shape in sorted(set(g.subjects(rdflib.URIRef(sh + "targetClass"), None)), key=str):
        targets = sorted(str(t) for t in g.objects(shape, rdflib.URIRef(sh + "targetClass")))
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
        out.append({"shape": str(shape),
                    "targets": [{"iri": t, "local": anchor_for(t), "curie": curie(t)}
                                for t in targets],
                    "messages": sorted(set(messages))})
    return out


# --- dumps ---------------------------------------------------------------------------------

DUMP_TYPES = {
    ".trig": "application/trig", ".nq": "application/n-quads", ".jsonld": "application/ld+json",
    ".ttl": "text/turtle", ".nt": "application/n-triples",
}


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (by name or `*`, with q above 0)."""
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        return q > 0
    return False


def _dump_folders() -> list[Path]:
    """Where the dumps of the build being served are, or may be written: beside the
    build (written by `rivalry build`), then the `cache_dir` setting's folder for that
    build, for a build whose own directory cannot be written."""
    store = get_store(current_app)
    own = store.cache_dir
    spare = Path(current_app.config["RIVALRY"]["cache_dir"]) / store.info.build_id / "dumps"
    return [own] if own == spare else [own, spare]


def dump_file(plain: str) -> Path:
    """The gzip-compressed dump of one format, written now (that format only, atomically)
    when the build has none: a build made before dumps were written at build time."""
    folders = _dump_folders()
    for folder in folders:
        found = folder / f"{plain}.gz"
        if found.exists():
            return found
    db = getattr(get_store(current_app), "db", None)
    problems = []
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f".{plain}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one worker writes; others wait and reuse
                if not (folder / f"{plain}.gz").exists():
                    if db is None:  # an external store: its quads, graph by graph
                        import pyoxigraph as ox

                        db = ox.Store()
                        db.bulk_extend(get_store(current_app).quads())
                    write_dump(db, plain, folder)
            return folder / f"{plain}.gz"
        except OSError as e:
            problems.append(f"{folder}: {e.strerror or e}")
    raise StoreError(f"the dump {plain} cannot be written ({'; '.join(problems)}); rebuild "
                     "the graph with `rivalry build`, which writes every dump, or make the "
                     "cache_dir setting's folder writable")


def dump_sizes() -> dict[str, int | None]:
    """Each dump's compressed size, or None when it is not written yet (it will be on its
    first request)."""
    sizes: dict[str, int | None] = {}
    for plain in DUMPS:
        found = [f / f"{plain}.gz" for f in _dump_folders() if (f / f"{plain}.gz").exists()]
        sizes[plain + ".gz"] = found[0].stat().st_size if found else None
    return sizes


@bp.get("/data")
def data_index() -> Response:
    sizes = dump_sizes()
    files = []
    for n, s in sizes.items():
        plain = n.removesuffix(".gz")
        media_type = DUMP_TYPES[Path(plain).suffix]
        files.append({"name": plain, "gzip_size": s,
                      "url": external_url("publish.dump", name=plain),
                      "gzip_url": external_url("publish.dump", name=n),
                      "media_type": media_type})
    explicit = request.args.get("format")
    if explicit not in (None, "json", "html"):
        raise NotAcceptable(f"format={explicit!r}: the list of dumps is given as json or html")
    best = ({"json": "application/json", "html": "text/html"}[explicit] if explicit
            else best_offer(request.headers.get("Accept", ""), ("text/html", "application/json")))
    if best is None:
        raise NotAcceptable("the list of dumps is given as text/html or application/json "
                            "(or with ?format=html or ?format=json)")
    if best == "application/json":
        response = Response(json.dumps({"build": get_store(current_app).info.build_id,
                                        "license": DATA_LICENSE, "files": files}, indent=1),
                            content_type="application/json")
        response.headers["Link"] = f'<{DATA_LICENSE}>; rel="license"'
    else:
        response = Response(render_template("data.html", files=files,
                                            info=get_store(current_app).info),
                            content_type=HTML.content_type)
    response.headers["Vary"] = "Accept"
    return response


@bp.get("/data/<name>")
def dump(name: str) -> Response:
    """A dump: `NAME.gz` as a gzip file; `NAME` with `Content-Encoding: gzip` to clients
    that accept it, decompressed as it is sent to those that do not."""
    plain = name.removesuffix(".gz")
    if plain not in DUMPS:
        abort(404, description=f"no dump called {name!r}; see /data")
    response = send_dump(plain, as_gzip_file=name != plain)
    if response.status_code in (200, 206, 304):  # never a 412 or a 416, kept an hour
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def send_dump(plain: str, *, as_gzip_file: bool) -> Response:
    """The response carrying one dump (written now if the build has none): as a gzip
    file (`NAME.gz`), or in its own media type, with `Content-Encoding: gzip` to
    clients that accept it and decompressed as it is sent to those that do not. Used
    by /data and by the graph store (rivalry.server.graph_store). The gzip bytes answer
    conditional and Range requests (`answer_for_file`); the decompressed stream, which
    has no length before it is sent, answers neither and is always whole."""
    path = dump_file(plain)
    media_type = DUMP_TYPES[Path(plain).suffix]
    gzip_ok = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    response: Response
    if as_gzip_file:
        response = send_file(path, mimetype="application/gzip", conditional=False,
                             download_name=plain + ".gz")
        response = answer_for_file(response, path.stat().st_size, plain + ".gz")
    elif gzip_ok:
        response = send_file(path, mimetype=media_type, conditional=False, download_name=plain)
        response.headers["Content-Encoding"] = "gzip"
        response = answer_for_file(response, path.stat().st_size,
                                   f"{plain}, sent gzip-compressed,")
    else:
        # decompressed as it is sent: no length before, so no Range; but validators of
        # its own (not the gzip file's: other bytes), and 304 or 412 as for the others
        stat = path.stat()
        validators = Response(b"", mimetype=media_type)
        validators.set_etag(f"{stat.st_mtime_ns:x}-{stat.st_size:x}-identity")
        validators.last_modified = datetime.fromtimestamp(int(stat.st_mtime), UTC)
        etag, weak = validators.get_etag()
        failed = _failed_precondition(etag, bool(weak), validators.last_modified)
        if failed is not None:
            validators.status_code = failed
            response = validators
        elif current_app.config.get("RIVALRY_SUPERVISED"):
            # the front decompresses the file as it sends it (rivalry.server.front)
            response = validators
            response.headers["X-Sendfile"] = str(path)
            response.headers["X-Rivalry-Gunzip"] = "1"
        else:
            def chunks() -> Iterator[bytes]:  # no request context needed: the path only
                with gzip.open(path, "rb") as source:
                    while chunk := source.read(1 << 20):
                        yield chunk

            response = Response(chunks(), mimetype=media_type, direct_passthrough=True)
            response.headers["ETag"] = validators.headers["ETag"]
            response.headers["Last-Modified"] = validators.headers["Last-Modified"]
    if response.status_code != 416 and not as_gzip_file \
            and "charset" not in response.headers.get("Content-Type", ""):
        response.headers["Content-Type"] = f"{media_type}; charset=utf-8"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Link"] = f'<{DATA_LICENSE}>; rel="license"'
    return response


# --- conditional and Range requests for a file (RFC 9110, sections 13 and 14) -----------


def answer_for_file(response: Response, length: int, what: str) -> Response:
    """A file response of werkzeug's `send_file(..., conditional=False)` (its ETag and
    Last-Modified set, its body the file or an X-Sendfile header for the front) made the
    answer to the request's preconditions and Range, `length` being the file's size and
    `what` naming it in a 416's message. GET and HEAD alike (the front asks the app a
    HEAD as a GET), in RFC 9110's order (13.2.2):

    1. If-Match (strong comparison; `*` holds) or, without it, If-Unmodified-Since (the
       file modified after that date): 412 when it fails, without a body;
    2. If-None-Match (weak comparison) or, without it, If-Modified-Since: 304;
    3. Range, unless an If-Range is there and fails (13.1.5: an entity tag compared
       strongly, so a weak tag never holds; a date matching Last-Modified exactly).
       One span of bytes (ranges that overlap or touch are one span): 206 with that
       span. None of the ranges inside the file: 416 with `Content-Range: bytes
       */LENGTH` and a message. A Range in another unit than bytes (14.2: ignored), not
       well-formed, or asking for several spans apart (the front sends one span only):
       the whole file, 200, as a server may ignore a Range."""
    response.accept_ranges = "bytes"
    if request.method not in ("GET", "HEAD"):
        return response
    etag, weak = response.get_etag()
    modified = response.last_modified
    failed = _failed_precondition(etag, bool(weak), modified)
    if failed is not None:
        response.close()  # the file send_file opened, when it sends it itself
        response.headers.pop("X-Sendfile", None)
        response.set_data(b"")
        response.status_code = failed
        return response
    asked = request.headers.get("Range")
    if asked is None:
        return response
    if_range = request.headers.get("If-Range")
    if if_range is not None and not _if_range_holds(if_range, etag, bool(weak), modified):
        return response
    span = byte_span(asked, length)
    if span is None:
        return response
    if span == "unsatisfiable":
        response.close()
        shown = asked if len(asked) <= 200 else asked[:200] + "…"
        answer = render_error(error_body(
            416, "Range not satisfiable",
            f"{what} is {length} bytes long (bytes 0 to {length - 1}); "
            f"`Range: {shown}` asks for none of them"))
        answer.headers["Content-Range"] = f"bytes */{length}"
        answer.accept_ranges = "bytes"
        return answer
    first, last = span
    # werkzeug sends that span (206, Content-Range, Content-Length; its part of the
    # file, or for the front the X-Sendfile header with the Content-Range it reads)
    response.make_conditional({"REQUEST_METHOD": "GET", "HTTP_RANGE": f"bytes={first}-{last}"},
                              accept_ranges="bytes", complete_length=length)
    return response


def _failed_precondition(etag: str | None, weak: bool,
                         modified: datetime | None) -> int | None:
    """412 or 304 when a precondition of the request fails (RFC 9110 13.2.2, steps 1 to
    4), None when the method is to be performed."""
    headers = request.headers
    if_match = headers.get("If-Match", "").strip()
    if if_match:
        tags = parse_etags(if_match)
        if not tags.star_tag and (etag is None or weak or not tags.is_strong(etag)):
            return 412
    elif unmodified_since_fails(None, headers.get("If-Unmodified-Since"), modified):
        return 412
    if_none_match = headers.get("If-None-Match", "").strip()
    if if_none_match:
        tags = parse_etags(if_none_match)
        if tags.star_tag or (etag is not None and tags.contains_weak(etag)):
            return 304
    else:
        since = parse_date(headers.get("If-Modified-Since"))
        if since is not None and modified is not None and modified <= since:
            return 304
    return None


def _if_range_holds(value: str, etag: str | None, weak: bool,
                    modified: datetime | None) -> bool:
    """RFC 9110 13.1.5: an entity tag holds when it matches the file's by the strong
    comparison (neither weak, the same tag); a date when it is exactly the file's
    Last-Modified, which for a dump, written once and never changed, is a strong
    validator (8.8.2.2). Anything else does not hold."""
    value = value.strip()
    if value.startswith(('"', "W/", "w/")):
        tag, tag_weak = unquote_etag(value)
        return (etag is not None and not weak and not tag_weak and value.endswith('"')
                and tag == etag)
    date = parse_date(value)
    return date is not None and modified is not None and date == modified


_INT_RANGE = re.compile(r"([0-9]+)-([0-9]*)")
_SUFFIX_RANGE = re.compile(r"-([0-9]+)")


def byte_span(header: str, length: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """What a Range header asks of a file of `length` bytes (RFC 9110 14.1): its first
    and last byte when it asks for one span of them (several ranges that overlap or
    touch make one span); "unsatisfiable" when it is a well-formed bytes range none of
    whose ranges begins within the file (14.1.2), answered 416; None when the Range is
    to be ignored and the whole file sent: another unit (14.2 requires it), a range set
    that is not well-formed (14.2 allows it), or spans apart, which would need a
    multipart/byteranges answer the front cannot send (14.2 allows ignoring Range)."""
    unit, equals, ranges = header.partition("=")
    if not equals or unit.strip(" \t").lower() != "bytes" or length <= 0:
        return None
    spans: list[tuple[int, int]] = []
    specs = [spec.strip(" \t") for spec in ranges.split(",")]
    if not any(specs):
        return None
    try:
        for spec in filter(None, specs):
            if whole := _INT_RANGE.fullmatch(spec):
                first = int(whole[1])
                last = int(whole[2]) if whole[2] else None
                if last is not None and last < first:
                    return None  # invalid (14.1.1), so the whole set is
                if first < length:
                    spans.append((first, length - 1 if last is None else min(last, length - 1)))
            elif suffix := _SUFFIX_RANGE.fullmatch(spec):
                if int(suffix[1]) > 0:
                    spans.append((max(0, length - int(suffix[1])), length - 1))
            else:
                return None
    except ValueError:  # a number longer than int() reads (4300 digits): ignored
        return None
    if not spans:
        return "unsatisfiable"
    spans.sort()
    first, last = spans[0]
    for begin, end in spans[1:]:
        if begin > last + 1:
            return None  # spans apart: the whole file
        last = max(last, end)
    return first, last


# --- VoID ------------------------------------------------------------------------------------


@bp.get("/.well-known/void")
@bp.get("/.well-known/void<any('.ttl', '.jsonld', '.nt', '.rdf', '.html'):suffix>")
def void(suffix: str | None = None) -> WerkzeugResponse:
    fmt = _choose(split_suffix("x" + suffix)[1] if suffix else None)
    store = get_store(current_app)
    info = store.info
    settings = current_app.config["RIVALRY"]
    publisher = Publisher(settings["publisher_name"], settings["publisher_url"])
    if fmt is HTML:
        body = render_template("void.html", stats=build_statistics(store), info=info,
                               href=href, publisher=publisher).encode("utf-8")
    else:
        endpoint = external_url("sparql.endpoint")

        def write() -> bytes:
            base = BASE_IRI
            return serialize(void_description(
                build_statistics(store), dataset=base + "dataset", endpoint=endpoint,
                data_dump=external_url("publish.dump", name="rivalry.nt"),
                dumps={external_url("publish.dump", name=n + ".gz"): f
                       for n, f in DUMPS.items()},
                vocabulary=NAMESPACE, modified=info.built_at,
                examples=[base + "id/action/us-ofac-2025-01-03-integrity",
                          base + "id/state/cn"],
                subset_dump=lambda graph: external_url("graph_store.graph_store",
                                                       graph=graph),
                publisher=publisher), fmt)

        # every address in VoID shares the endpoint's root, as this request gives it
        body = kept_document(("void", info.build_id, fmt.name, endpoint, publisher), write)
    return _document(body, fmt, "void", "/.well-known/void")

