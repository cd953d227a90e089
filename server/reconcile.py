"""The W3C Entity Reconciliation Service API, version 0.2 (the protocol OpenRefine
speaks), at /reconcile: the service manifest, batches of reconciliation queries with
type and property constraints, suggest services for entities, types and properties, an
HTML preview of each entity, and data extension (country, Wikidata item, measures
targeting the entity, first listed on, alternative names, issuer).

Entity ids are paths under the identifier space <https://w3id.org/rivalry/id/>
("company/huawei"); type ids are the ontology's class names under the schema space
<https://w3id.org/rivalry/ontology#>
("Company"). Every answer is checked against the specification's JSON schemas in the
tests (tests/test_reconcile_live.py). CORS is on, as the specification requires; JSONP,
which it allows but does not require, is not offered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from rivalry.graph import BASE_IRI, ID_BASE
from rivalry.graph.errors import InvalidInput, RivalryError
from rivalry.graph.screening import certain_match, parse_day
from rivalry.graph.search import Entity, Hit, SearchIndex
from rivalry.ontology import NAMESPACE
from rivalry.server.entities import href
from rivalry.server.errors import read_json
from rivalry.server.search import get_index
from rivalry.server.urls import host_url

bp = Blueprint("reconcile", __name__)

RV = NAMESPACE  # the ontology's namespace, as a string (rivalry.ontology)
DEFAULT_LIMIT = 5
MAX_LIMIT = 25
SUGGEST_LIMIT = 10
MAX_QUERY_LENGTH = 500
DEFAULT_TYPES = ("Company", "Organization", "Person", "GovernmentAgency", "State", "Measure")


class BadReconciliation(RivalryError):
    status = 400
    title = "Bad reconciliation request"


class BatchTooLarge(RivalryError):
    status = 413
    title = "Batch too large"


@dataclass(frozen=True)
class Property:
    id: str
    name: str
    description: str
    applies_to: tuple[str, ...]      # classes whose members have it
    constraint: bool                 # usable in queries' "properties"
    extension: bool                  # available through data extension


PROPERTIES = (
    Property("country", "country",
             "The state an organization, company, person or agency belongs to (rv:country, "
             "rv:agencyOf); an entity id (state/cn), a two-letter code (CN) or a name.",
             (RV + "Actor",), True, True),
    Property("wikidata", "Wikidata item",
             "The entity's Wikidata item (skos:exactMatch), as Q-number.",
             (RV + "Actor", RV + "Technology"), True, True),
    Property("identifier", "identifier",
             "Any identifier the graph records: a Wikidata item, a legislation identifier "
             "(E.O. 13873), a document number (84 FR 22689).",
             (RV + "Actor", RV + "Action", RV + "LegalInstrument", RV + "Technology",
              RV + "Program"), True, False),
    Property("issuer", "issued by",
             "For an action: the state or union that issued it (rv:issuingPolity); as a "
             "constraint, actions issued by that state, union or agency.",
             (RV + "Action",), True, True),
    Property("targetedBy", "measures targeting it",
             "Measures that target the entity (rv:targetedBy); with the setting "
             "in_force_on, only those in force on that date.", (RV + "Actor",), False, True),
    Property("firstListedOn", "first listed on",
             "The announcement date of the first measure that targets the entity.",
             (RV + "Actor",), False, True),
    Property("alias", "alternative names",
             "The entity's other names, in every language the graph holds.",
             (RV + "Actor", RV + "Action", RV + "Technology", RV + "Program",
              RV + "LegalInstrument"), False, True),
)
BY_ID = {p.id: p for p in PROPERTIES}


def service_root() -> str:
    return host_url()  # ends with '/'


def type_ref(index: SearchIndex, iri: str) -> dict[str, str]:
    local, label, *_ = index.classes().get(iri, (iri[len(RV):], iri[len(RV):], None, 0, ()))
    return {"id": local, "name": label}


def manifest(index: SearchIndex) -> dict[str, Any]:
    root = service_root()
    settings = current_app.config["RIVALRY"]
    classes = index.classes()
    default_types = [type_ref(index, RV + t) for t in DEFAULT_TYPES if RV + t in classes]
    return {
        "versions": ["0.2"],
        "name": "rivalry: the technology rivalry between states",
        "identifierSpace": BASE_IRI + "id/",
        "schemaSpace": BASE_IRI + "ontology#",
        "documentation": root + "search",
        "view": {"url": root + "id/{{id}}"},
        "preview": {"url": root + "reconcile/preview?id={{id}}", "width": 430, "height": 160},
        "defaultTypes": default_types,
        "suggest": {kind: {"service_url": root.rstrip("/"),
                           "service_path": f"/reconcile/suggest/{kind}"}
                    for kind in ("entity", "type", "property")},
        "extend": {
            "propose_properties": {"service_url": root.rstrip("/"),
                                   "service_path": "/reconcile/propose_properties"},
            "property_settings": [{
                "name": "in_force_on", "label": "Measures in force on", "type": "text",
                "default": "",
                "help_text": "For 'measures targeting it': only those in force on this date "
                             "(YYYY-MM-DD); empty: every measure"}],
        },
        "batchSize": settings["reconcile_batch_size"],
    }


# --- requests ------------------------------------------------------------------------------


def json_param(name: str) -> Any | None:
    raw = request.form.get(name) if request.method == "POST" else None
    if raw is None:
        raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = read_json(raw, name)
    except ValueError as e:
        raise BadReconciliation(str(e)) from None
    if value is None:
        raise BadReconciliation(f"{name}: null is no request; send a JSON object")
    return value


@bp.route("/reconcile", methods=["GET", "POST"])
def endpoint() -> Response:
    index = get_index()
    queries = json_param("queries")
    extend = json_param("extend")
    if queries is None and extend is None:
        if request.method == "POST":
            raise BadReconciliation("send a reconciliation batch in the form field 'queries' "
                                    "or a data extension query in 'extend'")
        return jsonify(manifest(index))
    if queries is not None and extend is not None:
        raise BadReconciliation("send either 'queries' or 'extend', not both")
    if queries is not None:
        return jsonify(reconcile_batch(index, queries))
    return jsonify(extend_data(index, extend))


def reconcile_batch(index: SearchIndex, batch: Any) -> dict[str, Any]:
    if not isinstance(batch, dict):
        raise BadReconciliation("'queries' must be a JSON object of queries by key, for "
                                'example {"q0": {"query": "Huawei", "type": "Company"}}')
    size = current_app.config["RIVALRY"]["reconcile_batch_size"]
    if len(batch) > size:
        raise BatchTooLarge(f"{len(batch)} queries in one batch; at most {size} (the "
                            "manifest's batchSize, setting reconcile_batch_size)")
    return {key: {"result": reconcile_one(index, key, query)} for key, query in batch.items()}


def _types(index: SearchIndex, key: str, raw: Any) -> list[str]:
    refs = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if refs is None or not all(isinstance(r, str) for r in refs):
        raise BadReconciliation(f"query {key!r}: 'type' must be a type id or a list of them")
    out = []
    for ref in refs:
        found = index.resolve_class(ref)
        if found is None:
            raise BadReconciliation(f"query {key!r}: unknown type {ref!r}; see "
                                    "/reconcile/suggest/type")
        out.append(found)
    return out


def _values(key: str, pid: str, raw: Any) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    out = []
    for v in values:
        if isinstance(v, dict) and isinstance(v.get("id"), str):
            out.append(v["id"])
        elif isinstance(v, bool):  # a value of the protocol's; none of these properties has it
            out.append("true" if v else "false")
        elif isinstance(v, (str, int, float)) and str(v).strip():
            out.append(str(v).strip())
        else:
            raise BadReconciliation(f"query {key!r}: property {pid!r} has a value that is "
                                    'neither a string, a number, a boolean nor an entity '
                                    '{"id": ...}')
    return out


@dataclass
class Constraints:
    countries: list[int]
    country_iris: set[str]
    issuer: int | None
    identifiers: set[int] | None     # entities with any of the given identifiers


def _constraints(index: SearchIndex, key: str, raw: Any) -> Constraints:
    from rivalry.graph.screening import Screener

    if not isinstance(raw, list):
        raise BadReconciliation(f"query {key!r}: 'properties' must be a list of "
                                '{"pid": ..., "v": ...}')
    found = Constraints([], set(), None, None)
    lookup = Screener(index, "")
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("pid"), str) or "v" not in item:
            raise BadReconciliation(f"query {key!r}: each property is "
                                    '{"pid": "country", "v": "CN"}')
        pid = item["pid"]
        prop = BY_ID.get(pid)
        if prop is None or not prop.constraint:
            usable = ", ".join(p.id for p in PROPERTIES if p.constraint)
            raise BadReconciliation(f"query {key!r}: property {pid!r} cannot constrain a "
                                    f"query; these can: {usable}")
        values = _values(key, pid, item["v"])
        if pid == "country":
            for v in values:
                state = lookup.country(v)
                if state is None:
                    raise BadReconciliation(f"query {key!r}: unknown country {v!r}; give "
                                            "state/cn, CN or China")
                found.countries.append(state.id)
                found.country_iris.add(state.iri)
        elif pid == "issuer":
            entity = index.resolve(values[0]) or lookup.country(values[0])
            if entity is None:
                raise BadReconciliation(f"query {key!r}: unknown issuer {values[0]!r}; give "
                                        "an entity id such as state/us or agency/us-bis")
            found.issuer = entity.id
        else:  # wikidata, identifier
            ids = {e.id for v in values for e in index.by_identifier(v)}
            found.identifiers = ids if found.identifiers is None else found.identifiers & ids
    return found


def candidate(index: SearchIndex, entity: Entity, score: float, match: bool,
              features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": entity.path, "name": entity.label, "description": entity.description(),
            "type": [type_ref(index, entity.kind)], "score": round(score, 1),
            "match": match, "features": features}


def reconcile_one(index: SearchIndex, key: str, query: Any) -> list[dict[str, Any]]:
    if not isinstance(query, dict):
        raise BadReconciliation(f"query {key!r} must be an object with 'query' and/or "
                                "'properties'")
    unknown = set(query) - {"query", "type", "limit", "properties", "type_strict"}
    if unknown:
        raise BadReconciliation(f"query {key!r}: unknown field(s) {', '.join(sorted(unknown))}")
    text = query.get("query")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_QUERY_LENGTH):
        raise BadReconciliation(f"query {key!r}: 'query' must be a string of at most "
                                f"{MAX_QUERY_LENGTH} characters")
    text = (text or "").strip()
    if not text and not query.get("properties"):
        if "query" in query:  # a blank cell: nothing to match, not an error
            return []
        raise BadReconciliation(f"query {key!r}: give a 'query' string or 'properties'")
    limit = query.get("limit", DEFAULT_LIMIT)
    # a whole number, also written 3.0; not a fraction, nor a number past a double's range
    if isinstance(limit, bool) or not (
            isinstance(limit, int) or isinstance(limit, float) and limit.is_integer()) \
            or limit < 1:
        raise BadReconciliation(f"query {key!r}: 'limit' must be a positive integer")
    limit = min(int(limit), MAX_LIMIT)
    if query.get("type_strict") not in (None, "any", "all", "should"):
        raise BadReconciliation(f"query {key!r}: 'type_strict' is any, all or should")
    classes = _types(index, key, query["type"]) if query.get("type") else []
    cons = _constraints(index, key, query.get("properties") or [])

    # an entity id or IRI given as the query names that entity
    if text:
        named = index.resolve(text) if ("/" in text or ":" in text) else None
        if named is not None:
            return [candidate(index, named, 100.0, True, [{"id": "id", "value": True}])]

    def allowed(e: Entity) -> bool:
        if cons.identifiers is not None and e.id not in cons.identifiers:
            return False
        if cons.country_iris and e.country is not None and e.country not in cons.country_iris:
            return False
        return True

    out: list[dict[str, Any]] = []
    if not text:  # properties alone: the entities with those identifiers
        if cons.identifiers is None:
            raise BadReconciliation(f"query {key!r}: without a 'query' string, give an "
                                    "identifier property (wikidata or identifier)")
        entities = index.entities(cons.identifiers)
        chosen = [e for e in entities.values() if allowed(e)
                  and (not classes or _has_class(index, e, classes))]
        for e in sorted(chosen, key=lambda x: x.label)[:limit]:
            out.append(candidate(index, e, 100.0, len(chosen) == 1,
                                 [{"id": "identifier", "value": True}]))
        return out
    hits = index.search(text, classes=classes, countries=cons.countries, issuer=cons.issuer,
                        limit=max(limit, 2) + 3, rank="score")
    hits = [h for h in hits if allowed(h.entity)]
    certain = certain_match(hits)
    for h in hits[:limit]:
        features = [{"id": "name", "value": h.score},
                    {"id": "exact_name", "value": h.score >= 100.0}]
        if cons.countries:
            features.append({"id": "country", "value": h.entity.country is not None})
        if cons.identifiers is not None:
            features.append({"id": "identifier", "value": True})
        out.append(candidate(index, h.entity, h.score, h.entity.id == certain, features))
    return out


def _has_class(index: SearchIndex, entity: Entity, classes: list[str]) -> bool:
    marks = ",".join("?" * len(classes))
    return bool(index.sql(f"SELECT 1 FROM entity_type WHERE entity = ? AND class IN ({marks})",
                          [entity.id, *classes]))


# --- data extension ------------------------------------------------------------------------


def extend_data(index: SearchIndex, query: Any) -> dict[str, Any]:
    if not isinstance(query, dict) or not isinstance(query.get("ids"), list) \
            or not isinstance(query.get("properties"), list):
        raise BadReconciliation('\'extend\' must be {"ids": [...], "properties": '
                                '[{"id": "country"}]}')
    ids = query["ids"]
    size = current_app.config["RIVALRY"]["reconcile_batch_size"]
    if len(ids) > size:
        raise BatchTooLarge(f"{len(ids)} ids in one data extension request; at most {size} "
                            "(setting reconcile_batch_size)")
    if not all(isinstance(i, str) for i in ids):
        raise BadReconciliation("'ids' must be entity ids (strings such as company/huawei)")
    wanted: list[tuple[Property, dict[str, Any]]] = []
    for item in query["properties"]:
        if not isinstance(item, dict):
            raise BadReconciliation(f"each property to extend with is an object such as "
                                    f'{{"id": "country"}}, not {json.dumps(item)}')
        pid = item.get("id")
        prop = BY_ID.get(pid) if isinstance(pid, str) else None
        if prop is None or not prop.extension:
            offered = ", ".join(p.id for p in PROPERTIES if p.extension)
            raise BadReconciliation(f"cannot extend with property {pid!r}; offered: {offered}")
        settings = item.get("settings") or {}
        if not isinstance(settings, dict):
            raise BadReconciliation(f"property {pid!r}: 'settings' must be an object")
        wanted.append((prop, settings))
    meta = []
    for prop, _ in wanted:
        entry: dict[str, Any] = {"id": prop.id, "name": prop.name}
        if prop.id in ("country", "issuer"):
            entry["type"] = type_ref(index, RV + ("State" if prop.id == "country" else "Polity"))
        elif prop.id == "targetedBy":
            entry["type"] = type_ref(index, RV + "Measure")
        meta.append(entry)
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for ident in ids:
        entity = index.resolve(ident) if ident.strip() else None
        rows[ident] = {prop.id: (_extension(index, entity, prop, settings) if entity else [])
                       for prop, settings in wanted}
    return {"meta": meta, "rows": rows}


def _extension(index: SearchIndex, entity: Entity, prop: Property,
               settings: dict[str, Any]) -> list[dict[str, Any]]:
    if prop.id == "country":
        return ([{"id": entity.country[len(ID_BASE):], "name": entity.country_label or ""}]
                if entity.country else [])
    if prop.id == "issuer":
        return ([{"id": entity.polity[len(ID_BASE):], "name": entity.polity_label or ""}]
                if entity.polity else [])
    if prop.id == "wikidata":
        return [{"str": entity.wikidata}] if entity.wikidata else []
    if prop.id == "alias":
        return [{"str": text} for text, _, preferred in index.names(entity.id)
                if text != entity.label]
    if prop.id == "firstListedOn":
        first = index.first_targeted(entity.id)
        return [{"date": f"{first}T00:00:00Z"}] if first else []
    if prop.id == "targetedBy":
        raw = settings.get("in_force_on") or ""
        if not isinstance(raw, str):
            raise BadReconciliation("setting in_force_on must be a date (YYYY-MM-DD)")
        try:
            on = parse_day(raw) if raw.strip() else None
        except InvalidInput:
            raise BadReconciliation(f"setting in_force_on: {raw!r} is not a date; write it as "
                                    "YYYY-MM-DD, for example 2024-06-30") from None
        found = index.targeting([entity.id], on, parents=False)[entity.id]
        return [{"id": m.measure.path, "name": m.measure.label} for m in found]
    return []


@bp.get("/reconcile/propose_properties")
def propose_properties() -> Response:
    index = get_index()
    raw = request.args.get("type", "")
    cls = index.resolve_class(raw) if raw else None
    if raw and cls is None:
        raise BadReconciliation(f"unknown type {raw!r}; see /reconcile/suggest/type")
    limit_raw = request.args.get("limit")
    try:
        limit = int(limit_raw) if limit_raw else None
    except ValueError:
        raise BadReconciliation(f"limit={limit_raw!r} is not a whole number") from None
    if limit is not None and limit < 1:
        raise BadReconciliation(f"limit={limit_raw!r}: the limit must be at least 1")
    ancestors = _ancestors(index, cls) if cls else None
    props = [p for p in PROPERTIES if p.extension
             and (ancestors is None or any(c in ancestors for c in p.applies_to))]
    body: dict[str, Any] = {"type": raw, "properties": [
        {"id": p.id, "name": p.name, "description": p.description} for p in props[:limit]]}
    if limit is not None:
        body["limit"] = limit
    return jsonify(body)


def _ancestors(index: SearchIndex, cls: str) -> set[str]:
    classes = index.classes()
    out, todo = {cls}, [cls]
    while todo:
        for b in classes.get(todo.pop(), ("", "", None, 0, ()))[4]:
            if b not in out:
                out.add(b)
                todo.append(b)
    return out


# --- suggest and preview -------------------------------------------------------------------


def _prefix_and_cursor() -> tuple[str, int]:
    prefix = request.args.get("prefix", "")
    if len(prefix) > MAX_QUERY_LENGTH:
        raise BadReconciliation(f"prefix is longer than {MAX_QUERY_LENGTH} characters")
    raw = request.args.get("cursor") or "0"
    try:
        cursor = int(raw)
    except ValueError:
        raise BadReconciliation(f"cursor={raw!r} is not a whole number") from None
    if not 0 <= cursor <= 1000:
        raise BadReconciliation("cursor must be between 0 and 1000")
    return prefix.strip(), cursor


@bp.get("/reconcile/suggest/entity")
def suggest_entity() -> Response:
    index = get_index()
    prefix, cursor = _prefix_and_cursor()
    hits: list[Hit] = []
    if prefix:
        named = index.resolve(prefix) if ("/" in prefix or ":" in prefix) else None
        if named is not None and cursor == 0:
            hits = [Hit(named, named.label, 0, 100.0)]
        else:
            hits = index.search(prefix, limit=SUGGEST_LIMIT, offset=cursor)
    return jsonify({"result": [{"id": h.entity.path, "name": h.entity.label,
                                "description": h.entity.description(),
                                "notable": [type_ref(index, h.entity.kind)]} for h in hits]})


@bp.get("/reconcile/suggest/type")
def suggest_type() -> Response:
    index = get_index()
    prefix, cursor = _prefix_and_cursor()
    lowered = prefix.casefold()
    found = []
    for _iri, (local, label, comment, _count, broader) in index.classes().items():
        words = label.casefold().split() + [local.casefold()]
        if not lowered or any(w.startswith(lowered) for w in words) \
                or label.casefold().startswith(lowered):
            item: dict[str, Any] = {"id": local, "name": label}
            if comment:
                item["description"] = comment
            if broader:
                item["broader"] = [type_ref(index, b) for b in broader]
            found.append(item)
    return jsonify({"result": found[cursor:cursor + SUGGEST_LIMIT * 3]})


@bp.get("/reconcile/suggest/property")
def suggest_property() -> Response:
    prefix, cursor = _prefix_and_cursor()
    lowered = prefix.casefold()
    found = [{"id": p.id, "name": p.name, "description": p.description} for p in PROPERTIES
             if not lowered or p.id.casefold().startswith(lowered)
             or any(w.startswith(lowered) for w in p.name.casefold().split())]
    return jsonify({"result": found[cursor:cursor + SUGGEST_LIMIT]})


@bp.get("/reconcile/preview")
def preview() -> Response:
    index = get_index()
    ident = request.args.get("id", "")
    if not ident.strip():
        raise BadReconciliation("give the entity to preview: ?id= its id (company/huawei) "
                                "or IRI")
    entity = index.resolve(ident)
    if entity is None:
        from werkzeug.exceptions import NotFound

        raise NotFound(f"no entity {ident!r} in the graph")
    measures = index.targeting([entity.id], None, parents=False)[entity.id] \
        if entity.actor else []
    names = [n for n, _, _ in index.names(entity.id) if n != entity.label][:6]
    html = render_template("reconcile_preview.html", entity=entity, names=names,
                           measures=measures, first=index.first_targeted(entity.id),
                           url=href(entity.iri))
    return Response(html, content_type="text/html; charset=utf-8")
