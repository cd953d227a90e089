"""The checks read a query as the engine reads it (issue 12): where the two disagreed, a
SERVICE the checks did not see went out to any host, chains they did not count killed a
worker, and a LIMIT they found inside a string was rewritten there (a wrong answer)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from flask.testing import FlaskClient

from rivalry.graph import store as store_module
from rivalry.graph.errors import QueryError
from rivalry.graph.isolate import forbid_network, run_with_time_limit
from rivalry.graph.sparql import check_query, inspect_query, tokens, with_row_limit
from rivalry.graph.store import QueryLimits

from .live import LiveServer

#: Texts the checks once read otherwise than the engine, each around a `{body}`
DISGUISES: dict[str, str] = {
    # the engine reads `\u0022` as an escaped quote inside the string, not as `"""`
    "escaped quote": 'SELECT * WHERE { BIND("\\u0022" AS ?x) {body} BIND("""q""" AS ?y) }',
    # `\#` and `\'` belong to a prefixed name (PN_LOCAL_ESC): no comment, no string
    "name escape #": "PREFIX ex: <http://e/>\nSELECT * WHERE { BIND(ex:p\\# AS ?q) {body}\n}",
    "name escape '": ("PREFIX ex: <http://e/>\nSELECT * WHERE { OPTIONAL { ?s ex:p\\' ?o } "
                      "{body} FILTER(?a != 'x') }"),
    # in an expression, `<` after an operand is less-than, not an IRI running to `>`
    "less-than": "SELECT * WHERE { BIND(1<'>' AS ?z) {body} FILTER('' < ' ') }",
    # a language tag that reads as a keyword: `@values` is no VALUES block
    "language tag": 'SELECT * WHERE { BIND("x"@values AS ?l) { {body} } }',
}


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port on this machine where an outbound request would arrive."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        yield server


@pytest.mark.parametrize("disguise", sorted(DISGUISES))
def test_a_disguised_service_is_refused_and_nothing_goes_out(
        client: FlaskClient, listener: socket.socket, disguise: str) -> None:
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/sparql"
    text = DISGUISES[disguise].replace("{body}", f"SERVICE <{endpoint}> {{ ?a ?b ?c }}")
    with pytest.raises(QueryError, match="SERVICE"):
        check_query(text, max_depth=100, max_tokens=5_000)
    response = client.post("/sparql", data=text.encode(),
                           content_type="application/sparql-query")
    assert response.status_code == 400
    assert "SERVICE" in response.get_json()["message"]
    with pytest.raises(TimeoutError):
        listener.accept()  # no connection was made


@pytest.mark.parametrize("disguise", sorted(DISGUISES))
@pytest.mark.parametrize("body", ["chain", "nesting"])
def test_disguised_chains_and_nesting_are_counted(client: FlaskClient, disguise: str,
                                                  body: str) -> None:
    inner = ("BIND(" + "+".join(["1"] * 200_000) + " AS ?n)" if body == "chain"
             else "BIND(" + "(" * 200_000 + "1" + ")" * 200_000 + " AS ?n)")
    text = DISGUISES[disguise].replace("{body}", inner)
    response = client.post("/sparql", data=text.encode(),
                           content_type="application/sparql-query")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "max_query_" in response.get_json()["message"]


def test_less_than_in_an_expression_hides_no_chain() -> None:
    """`?a<1+1+…&&?b>0` is a comparison, not an IRI `<1+…&&?b>`."""
    text = "SELECT * WHERE { FILTER(?a<" + "+".join(["1"] * 50_000) + "&&?b>0) }"
    with pytest.raises(QueryError, match="max_query_tokens"):
        check_query(text, max_depth=100, max_tokens=5_000)


@pytest.mark.parametrize("text, expected", [
    ("SELECT * WHERE { ?s <p> (1 <x>) }", ["<p>", "<x>"]),  # a collection: IRIs
    ("ASK { FILTER(?a = <x>) }", ["<x>"]),  # after an operator: an IRI
    ("ASK { FILTER(?a IN (<x>, <y>)) }", ["<x>", "<y>"]),
    ("ASK { FILTER <f>(?a) }", ["<f>"]),
    ("SELECT * WHERE { ?s ?p ?o } ORDER BY DESC(?a<?b)", []),
    ("ASK { FILTER(?a<?b) }", []),
    ("ASK { FILTER(<f>(?a)<<g>) }", ["<f>", "<g>"]),  # a call, less-than, an IRI
    ("SELECT * WHERE { ?s <http://a/\\u0073> ?o }", ["<http://a/\\u0073>"]),
])
def test_iris_and_less_than_are_read_by_where_they_are(text: str, expected: list[str]) -> None:
    assert [value for kind, value in tokens(text) if kind == "iri"] == expected


def test_a_limit_inside_a_string_is_not_rewritten(client: FlaskClient) -> None:
    """The row cap's LIMIT goes after the query, not into a string that reads `LIMIT`."""
    text = "SELECT ?x WHERE { BIND('> }) LIMIT 2'<'> }) LIMIT 50000 ({ ' AS ?x) }"
    assert with_row_limit(text, 10_001) == text + "\nLIMIT 10001\n"
    response = client.post("/sparql", data=text.encode(),
                           content_type="application/sparql-query",
                           headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200
    (row,) = response.get_json()["results"]["bindings"]
    direct = ox.Store().query(text)
    assert isinstance(direct, ox.QuerySolutions)
    (solution,) = list(direct)
    assert row["x"]["value"] == solution["x"].value == "true"


@pytest.mark.parametrize("text, graphs", [
    # no FROM: a string holds the word
    ("SELECT (COUNT(*) AS ?n) WHERE { BIND(1<'> }) FROM <urn:none> ({ ' AS ?z) ?s ?p ?o }",
     []),
    # a FROM after an escaped quote
    ('SELECT (SAMPLE("\\u0022") AS ?x) FROM <urn:g> WHERE { ?s ?p ?o FILTER("""a""" != "") }',
     ["urn:g"]),
])
def test_dataset_clauses_are_found_where_the_engine_finds_them(text: str,
                                                               graphs: list[str]) -> None:
    shape = inspect_query(text)
    assert shape.from_graphs == graphs and shape.has_dataset_clause == bool(graphs)


def test_a_string_never_closed_is_refused_at_once() -> None:
    """From each quote a string was sought to the end of the text again, in time growing
    with the square of its length. The engine cannot read it either."""
    text = "SELECT * WHERE { } #\n'" + "\\'" * 50_000
    with pytest.raises(QueryError, match="line 2, column 1 .*never closed"):
        check_query(text, max_depth=100, max_tokens=5_000)
    assert tokens(text) == [("word", "SELECT"), ("other", "*"), ("word", "WHERE"),
                            ("open", "{"), ("close", "}"), ("unclosed", "'")]


@pytest.mark.parametrize("base, relative, resolved", [
    ("http://127.0.0.1:9977/x", "y", "http://127.0.0.1:9977/y"),
    ("http://api.example.co", "m/sparql", "http://api.example.co/m/sparql"),
    ("http://a/b/c", "../d", "http://a/d"),
])
def test_service_endpoints_are_resolved_as_rfc_3986_says(base: str, relative: str,
                                                         resolved: str) -> None:
    text = f"BASE <{base}> SELECT * WHERE {{ SERVICE <{relative}> {{ }} }}"
    assert inspect_query(text).services == [resolved]
    with pytest.raises(QueryError, match="not accepted"):
        check_query(text, max_depth=100, service_allowlist=(base + relative,))
    check_query(text, max_depth=100, service_allowlist=(resolved,))


def test_an_answer_of_millions_of_triples_is_capped_as_it_is_read(
        client: FlaskClient) -> None:
    """N-Triples answers were written whole, then cut to the cap: a CONSTRUCT of tens of
    millions of triples ran out of time or memory where Turtle was answered at once."""
    text = "CONSTRUCT { ?s ?p ?o2 } WHERE { ?s ?p ?o . ?s2 ?p ?o2 }"
    for accept in ("application/n-triples", "application/n-quads"):
        response = client.post("/sparql", data=text.encode(),
                               content_type="application/sparql-query",
                               headers={"Accept": accept})
        assert response.status_code == 200, response.get_data(as_text=True)[:200]
        assert response.headers["X-Result-Truncated"] == "true"
        assert response.get_data().count(b"\n") == 10_000


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "text/csv",
                                    "application/sparql-results+xml", "text/html"])
def test_a_limit_past_what_the_engine_reads_is_400_in_every_format(
        client: FlaskClient, accept: str) -> None:
    """Its validity no longer depends on Accept: the cap's rewrite hid the number from the
    engine in some formats."""
    text = "SELECT * WHERE { ?s ?p ?o } LIMIT 99999999999999999999"
    response = client.post("/sparql", data=text.encode(),
                           content_type="application/sparql-query",
                           headers={"Accept": accept})
    assert response.status_code == 400
    if accept != "text/html":
        assert "LIMIT" in json.dumps(response.get_json())


# --- a second line: no network where none is needed -----------------------------------------


def _try_network() -> tuple[bool, bool]:
    forbid_network()
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        inet = True
    except PermissionError:
        inet = False
    left, right = socket.socketpair()  # how a worker talks to the front
    left.close()
    right.close()
    return inet, True


def test_work_without_network_can_open_no_ip_socket() -> None:
    inet, unix = run_with_time_limit(_try_network, (), 30, "the work")
    assert (inet, unix) == (False, True)
    socket.socket(socket.AF_INET).close()  # this process keeps its network


def test_a_service_the_checks_missed_still_reaches_no_one(
        monkeypatch: pytest.MonkeyPatch, listener: socket.socket) -> None:
    """Were the checks ever to read a query otherwise than the engine, the child that
    runs it still cannot connect: the SERVICE fails, and nothing arrives."""
    monkeypatch.setattr(store_module, "check_query",
                        lambda text, **_: inspect_query(text))  # checks that miss it
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/sparql"
    text = f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?a ?b ?c }} }}"
    limits = QueryLimits(time_limit=20, row_limit=10, max_depth=100, max_tokens=5_000)
    with pytest.raises(QueryError, match="the query failed"):
        run_with_time_limit(store_module._execute_in_child,
                            (ox.Store(), text, limits, {}, {}), 30, "the query")
    with pytest.raises(TimeoutError):
        listener.accept()


def test_workers_of_serve_have_no_network(tmp_path: Path, store_dir: Path) -> None:
    """`rivalry serve` over the embedded store: its workers run under the filter (the
    kernel says `Seccomp: 2`), its front, which listens, does not."""
    server = LiveServer(store_dir, tmp_path / "server.log", workers=2)
    try:
        children = _descendants(server.process.pid)
        assert len(children) >= 3  # the zygote, and at least two workers
        modes = {pid: _seccomp(pid) for pid in children}
        assert _seccomp(server.process.pid) == 0
        assert sorted(modes.values()).count(2) >= 2, modes  # the workers
    finally:
        server.stop()


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            for child in (task / "children").read_text().split():
                found.append(int(child))
                todo.append(int(child))
    return found


def _seccomp(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Seccomp:"):
            return int(line.split()[1])
    return -1
