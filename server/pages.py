"""Pages for people: the query page, with YASGUI and the example queries, and a plain
form that works without JavaScript."""

from __future__ import annotations

import datetime
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, send_from_directory

from rivalry.graph import CODE_LICENSE_NAME, DATA_LICENSE, DATA_LICENSE_NAME, PREFIXES
from rivalry.graph.canned import canned_queries
from rivalry.graph.errors import StoreError
from rivalry.server import get_store
from rivalry.server.entities import href

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def licences() -> dict:
    """The licences every page states in its footer."""
    return {"data_licence": {"url": DATA_LICENSE, "name": DATA_LICENSE_NAME},
            "code_licence": CODE_LICENSE_NAME}

YASGUI_FILES = ("yasgui.min.js", "yasgui.min.css")


@lru_cache(maxsize=8)
def _find_yasgui(configured: str) -> Path | None:
    if configured:
        path = Path(configured)
        return path if (path / YASGUI_FILES[0]).is_file() else None
    # An editable install or a checkout: node_modules sits beside pyproject.toml.
    for base in [Path.cwd(), *Path(__file__).resolve().parents]:
        candidate = base / "node_modules" / "@zazuko" / "yasgui" / "build"
        if (candidate / YASGUI_FILES[0]).is_file():
            return candidate
    return None


def yasgui_dir() -> Path | None:
    return _find_yasgui(current_app.config["RIVALRY"]["yasgui_path"])


@bp.get("/")
def home() -> str:
    problem: str | None
    try:
        info = get_store(current_app).info
    except StoreError as e:
        info, problem = None, e.message
    else:
        problem = None
    examples = canned_queries()
    examples_json = [{"name": q.name, "title": q.title, "text": q.text_with_defaults()}
                     for q in examples]
    return render_template("home.html", info=info, problem=problem, examples=examples,
                           examples_json=examples_json, prefixes=PREFIXES,
                           yasgui=yasgui_dir() is not None,
                           first=examples[0].text_with_defaults() if examples else "")


@bp.get("/stats")
def stats_page() -> str:
    from rivalry.graph.graphs import graph_index
    from rivalry.graph.products import build_graph_figures, build_stats
    from rivalry.graph.stats import LISTED

    store = get_store(current_app)
    graphs = graph_index(store, build_graph_figures(store))
    return render_template("stats.html", stats=build_stats(store), href=href,
                           graphs=graphs, listed=LISTED,
                           this_year=datetime.date.today().year)


@bp.get("/-/yasgui/<name>")
def yasgui_asset(name: str) -> Response:
    folder = yasgui_dir()
    if folder is None or name not in YASGUI_FILES:
        abort(404)
    response = send_from_directory(folder, name, max_age=86400)
    return response
