"""The rivalry web server: a Flask app factory (CONTRIBUTING.md, convention 1)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from markupsafe import Markup

from rivalry.graph.store import Store, open_store
from rivalry.server.errors import (
    BadParameter,
    UnsupportedMediaType,
    form_params,
    query_params,
    utf8_only,
)
from rivalry.server.settings import load_settings

#: The Content-Security-Policy of every page: scripts only from this server's own files (no
#: inline script, no eval), so that text a query or a fact put on a page can never run;
#: styles may be inline (the pages' own <style> and YASGUI's); no plugins; forms post here
#: only. `connect-src` stays open: the query page may be pointed at another endpoint.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src *; object-src 'none'; "
               "base-uri 'self'; form-action 'self'")


#: Characters HTML text may not hold (the controls other than ASCII white space, HTML
#: 13.2.5): a NUL a search or a literal put on a page is a parse error, which browsers
#: show as they like; every value a template writes has them as U+FFFD instead.
_NOT_HTML_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def html_text(value: Any) -> Any:
    """Jinja's `finalize`: a string a template writes, with the characters HTML text may
    not hold replaced (markup stays markup); anything else as it is."""
    if isinstance(value, str) and _NOT_HTML_TEXT.search(value):
        replaced = _NOT_HTML_TEXT.sub("\ufffd", value)
        return Markup(replaced) if isinstance(value, Markup) else replaced
    return value


def protective_headers(mimetype: str) -> list[tuple[str, str]]:
    """The headers every answer carries. Answers hold text a query chose ("<html><script>…"
    in a CSV cell): a browser must take them as the type they say, never guess HTML from
    their content; and a page runs no script but the server's own (PAGE_POLICY)."""
    headers = [("X-Content-Type-Options", "nosniff")]
    if mimetype == "text/html":
        headers.append(("Content-Security-Policy", PAGE_POLICY))
    return headers


def _format_named(value: str) -> str:
    """The format a `format=` value names (by name, suffix or media type), so that a
    client naming one format twice, as SPARQLWrapper does (`format=tsv` and
    `format=text/tab-separated-values`), is understood."""
    from rivalry.server.formats import HTML, RDF_FORMATS, RESULT_FORMATS, lookup

    found = lookup((*RESULT_FORMATS, *RDF_FORMATS, HTML), value)
    return found.name if found is not None else value.strip().lower()


def create_app(settings: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then RIVALRY_* environment variables, then `settings`."""
    # An explicit instance path: Flask cannot infer one for a namespace package laid out
    # with package-dir (it looks for the package under rivalry/), and we keep no
    # instance files anyway.
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent / "instance"))
    app.jinja_env.finalize = html_text
    values = load_settings(settings)
    app.config["RIVALRY"] = values
    # Werkzeug refuses larger bodies with 413 from the Content-Length, before reading,
    # and stops reading a chunked body once it passes the limit.
    app.config["MAX_CONTENT_LENGTH"] = values["max_body_bytes"]

    from rivalry.server import (
        browse,
        entities,
        errors,
        graph_store,
        graphs,
        meta,
        pages,
        publish,
        reconcile,
        screening,
        search,
        sparql,
        urls,
        validation,
    )

    errors.init_app(app)
    urls.init_app(app)
    meta.init_cors(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(validation.bp)
    app.register_blueprint(meta.bp)
    app.register_blueprint(entities.bp)
    app.register_blueprint(browse.bp)
    app.register_blueprint(publish.bp)
    app.register_blueprint(graphs.bp)
    app.register_blueprint(graph_store.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(reconcile.bp)
    app.register_blueprint(screening.bp)

    @app.before_request
    def refuse_encoded_bodies() -> None:
        # no route decodes a compressed body: read as it is, a gzip-compressed query or
        # facts file would be answered as garbage (RFC 9110 8.4.1 asks for 415)
        coding = request.headers.get("Content-Encoding", "").strip().lower()
        if coding and coding != "identity":
            raise UnsupportedMediaType(
                f"a request body with Content-Encoding: {coding} cannot be read; send it "
                "uncompressed")

    @app.before_request
    def strict_parameters() -> None:
        # every parameter is UTF-8 once percent-decoded, and a form body says no other
        # charset: Werkzeug keeps an escape that is not UTF-8 as it is ("%FF"), and
        # would read a form in another charset as if it were UTF-8
        formats = [value for name, value in query_params() if name == "format"]
        if len({_format_named(f) for f in formats}) > 1:  # which would win is no answer
            raise BadParameter(f"format is given {len(formats)} times, for different "
                               f"formats ({', '.join(formats)}); give one")
        if request.mimetype == "application/x-www-form-urlencoded" \
                and request.method not in ("GET", "HEAD", "OPTIONS"):
            utf8_only("a form body", "forms are read as UTF-8 (percent-encoded); send it "
                      "as UTF-8")
            form_params()

    if values["sparql_endpoint"]:
        from rivalry.graph.remote import end_budget, start_budget
        from rivalry.server.settings import request_time_limit

        @app.before_request
        def bound_store_calls() -> None:
            # every call to the external store is bounded by this request's own limit,
            # so that a server that stops answering gives a 503 naming it in time
            seconds, setting = request_time_limit(values, request.method, request.path)
            start_budget(seconds, setting)

        @app.teardown_request
        def unbound_store_calls(_: BaseException | None) -> None:
            end_budget()

    @app.after_request
    def no_sniffing(response: Response) -> Response:
        for name, value in protective_headers(response.mimetype or ""):
            response.headers[name] = value
        return response

    @app.after_request
    def say_build(response: Response) -> Response:
        # Under `rivalry serve`, tell the front which build an answer comes from, so that
        # it may keep it in its cache for that build only (rivalry.server.front); no
        # build when the answer may mix two (an external store being loaded).
        if app.config.get("RIVALRY_SUPERVISED"):
            store = app.extensions.get("rivalry.store")
            build = store.confirm_build_id() if store is not None else None
            if build:
                response.headers["X-Rivalry-Build"] = build
        return response

    return app


def get_store(app: Flask) -> Store:
    """The app's store, opened on first use (so the app starts before the first build,
    and answers 503 with what to do until there is one)."""
    store = app.extensions.get("rivalry.store")
    if store is None:
        store = open_store(app.config["RIVALRY"])
        app.extensions["rivalry.store"] = store
    return store
