"""No query text can crash the parser: depth is measured on everything the SPARQL parser
recurses on (issue 12), and refused past max_query_depth before the engine sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from flask.testing import FlaskClient

from rivalry.graph import sparql
from rivalry.graph.errors import QueryError, QuerySyntaxError, RivalryError
from rivalry.graph.isolate import run_with_time_limit, start_work_thread
from rivalry.graph.remote import RemoteStore
from rivalry.graph.sparql import check_query, inspect_query, tokens
from rivalry.graph.store import QueryLimits

CONSTRUCTS: dict[str, Callable[[int], str]] = {
    "!": lambda n: "ASK { FILTER(" + "!" * n + "true) }",
    "-": lambda n: "ASK { FILTER(" + "-" * n + "1 = 1) }",
    "+": lambda n: "ASK { FILTER(" + "+" * n + "1 = 1) }",
    "(": lambda n: "ASK { FILTER(" + "(" * n + "true" + ")" * n + ") }",
    "{": lambda n: "ASK " + "{" * n + "}" * n,
    "[": lambda n: "ASK { ?s ?p " + "[ <p:q> " * n + "]" * n + " }",
    "path (": lambda n: "ASK { ?s " + "(" * n + "<p:a>" + ")" * n + " ?o }",
    "path ^": lambda n: "ASK { ?s " + "^" * n + "<p:a> ?o }",
    "path !(": lambda n: "ASK { ?s " + "!(" * n + "<p:a>" + ")" * n + " ?o }",
    "collection": lambda n: "ASK { ?s ?p " + "(" * n + ")" * n + " }",
    "subquery": lambda n: "SELECT * WHERE " + "{ SELECT * WHERE " * n + "{}" + "}" * n,
    "NOT EXISTS": lambda n: "ASK { " + "FILTER NOT EXISTS { " * n + "}" * n + " }",
    "OPTIONAL": lambda n: "ASK { " + "OPTIONAL { " * n + "}" * n + " }",
    "!(!(": lambda n: "ASK { FILTER(" + "!(" * n + "true" + ")" * n + ") }",
    # RDF 1.2 (SPARQL 1.2): reified triples and triple terms, which pyoxigraph parses
    "<< >>": lambda n: "ASK { " + "<< " * n + "<p:a> <p:b> <p:c>" + " >> <p:b> <p:c>" * n
                       + " . }",
    "<<( )>>": lambda n: "ASK { ?s ?p " + "<<( <p:a> <p:b> " * n + "<p:c>" + " )>>" * n
                         + " }",
}


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_ten_thousand_levels_are_refused_before_parsing(construct: str) -> None:
    with pytest.raises(QueryError, match="max_query_depth"):
        check_query(CONSTRUCTS[construct](10_000), max_depth=100)


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_queries_within_the_limit_are_run_not_crashed(client: FlaskClient,
                                                      construct: str) -> None:
    """At the deepest nesting accepted, the parser copes: an answer or a syntax error,
    never a dead process (which would be a 503)."""
    depth = 45  # constructs like "!(" count two levels each; the default limit is 100
    response = client.post("/sparql", data=CONSTRUCTS[construct](depth).encode(),
                           content_type="application/sparql-query")
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]


def test_binary_operators_are_not_nesting() -> None:
    text = "SELECT * WHERE { ?a <p:x> ?b FILTER(" + " - ".join(["?b"] * 500) + " != 1) }"
    assert check_query(text, max_depth=100).depth < 10


def test_a_whole_body_of_bangs_is_refused() -> None:
    with pytest.raises(QueryError):
        check_query("ASK { FILTER(" + "!" * 5_000_000 + "true) }", max_depth=100)


# --- chains: flat text the engine still nests, one level per operand -------------------

#: Constructs pyoxigraph turns into a tree one level deeper per operand, which it then
#: walks recursively: at a few thousand operands (a 14 kB `1+1+…`) a default 8 MiB thread
#: stack overflowed and the process died (SIGSEGV).
CHAINS: dict[str, Callable[[int], str]] = {
    "+": lambda n: "ASK { FILTER(" + "+".join(["1"] * n) + " > 0) }",
    "&&": lambda n: "ASK { ?s ?p ?o FILTER(" + " && ".join(["?o"] * n) + ") }",
    "||": lambda n: "ASK { ?s ?p ?o FILTER(" + " || ".join(["?o"] * n) + ") }",
    "UNION": lambda n: "ASK { " + " UNION ".join(["{ ?s ?p ?o }"] * n) + " }",
    "OPTIONAL": lambda n: "ASK { ?s ?p ?o " + "OPTIONAL { ?s <p:none> ?o } " * n + "}",
    "MINUS": lambda n: "ASK { ?s ?p ?o " + "MINUS { ?s <p:none> ?o } " * n + "}",
    "FILTER": lambda n: "ASK { ?s ?p ?o " + "FILTER(?o) " * n + "}",
    "BIND": lambda n: "ASK { ?s ?p ?o " + "".join(f"BIND(1 AS ?b{i}) " for i in range(n))
                      + "}",
    "path /": lambda n: "ASK { ?s " + "/".join(["<p:a>"] * n) + " ?o }",
    "path |": lambda n: "ASK { ?s " + "|".join(["<p:a>"] * n) + " ?o }",
    "triples": lambda n: "ASK { " + " . ".join(f"?s <p:a> ?o{i}" for i in range(n)) + " }",
    "object list": lambda n: "ASK { ?s <p:a> " + ", ".join(f"?o{i}" for i in range(n)) + " }",
    "groups": lambda n: "ASK { " + "{ ?s <p:a> ?o } " * n + "}",
    "collection": lambda n: "ASK { ?s <p:a> (" + " 1" * n + " ) }",
}

#: Chains the engine answers at once on the test graph, so that the longest accepted
#: can be run in a test (the others, as long, take it seconds to plan)
QUICK = ("+", "&&", "||", "UNION", "MINUS", "FILTER", "BIND", "path |")


@pytest.mark.parametrize("construct", sorted(CHAINS))
def test_long_chains_are_refused_before_parsing(construct: str) -> None:
    text = CHAINS[construct](50_000)
    assert len(text.encode()) < 5_000_000  # within max_body_bytes
    with pytest.raises(QueryError, match="max_query_tokens"):
        check_query(text, max_depth=100, max_tokens=5_000)


#: Over HTTP: every construct 10,000 levels deep, every chain of 50,000 operands
REFUSED = [(f"{c} nested", CONSTRUCTS[c], 10_000, "max_query_depth") for c in sorted(CONSTRUCTS)]
REFUSED += [(f"{c} chained", CHAINS[c], 50_000, "max_query_tokens") for c in sorted(CHAINS)]


@pytest.mark.parametrize(("name", "make", "n", "setting"), REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_refused_queries_over_http_get_400_and_the_server_lives(
        client: FlaskClient, name: str, make: Callable[[int], str], n: int,
        setting: str) -> None:
    response = client.post("/sparql", data=make(n).encode(),
                           content_type="application/sparql-query")
    assert response.status_code == 400
    assert setting in response.get_json()["message"]
    assert client.get("/sparql", query_string={"query": "ASK {}"}).status_code == 200


def _longest_accepted(construct: str, limit: int) -> str:
    n = 1
    while len(tokens(CHAINS[construct](n * 2))) <= limit:
        n *= 2
    step = n // 2
    while step:
        if len(tokens(CHAINS[construct](n + step))) <= limit:
            n += step
        step //= 2
    return CHAINS[construct](n)


@pytest.mark.parametrize("construct", QUICK)
def test_the_longest_chains_accepted_are_run_not_crashed(client: FlaskClient,
                                                         construct: str) -> None:
    """At the default limit, the engine copes: an answer, never a dead process (which
    would be a 503 saying the work ended without an answer)."""
    text = _longest_accepted(construct, 5_000)
    assert check_query(text, max_depth=100, max_tokens=5_000).size > 4_900
    response = client.post("/sparql", data=text.encode(),
                           content_type="application/sparql-query",
                           headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def test_values_rows_are_not_counted() -> None:
    """The engine keeps a VALUES block's rows in lists: a long one is not refused, and
    what follows it counts again."""
    rows = " ".join(f"<p:e{i}>" for i in range(20_000))
    text = f"SELECT * WHERE {{ VALUES ?e {{ {rows} }} ?e ?p ?o }}"
    assert check_query(text, max_depth=100, max_tokens=100).size < 30
    pairs = " ".join(f"(<p:e{i}> {i})" for i in range(10_000))
    text = f"SELECT * WHERE {{ VALUES (?e ?n) {{ {pairs} }} ?e ?p ?n }}" + " FILTER(1)" * 50
    assert 200 < check_query(text, max_depth=100).size < 300


def test_work_runs_on_a_deep_stack() -> None:
    """What the checks let through is run in threads whose stack holds far longer chains
    than they accept: 6,000 MINUS groups killed a process on a default 8 MiB stack."""
    db = ox.Store()
    text = CHAINS["MINUS"](6_000)
    answers: list[bool] = []
    start_work_thread(lambda: answers.append(bool(db.query(text)))).join()
    assert answers == [False]


def test_a_query_run_apart_runs_on_a_deep_stack() -> None:
    """Outside `rivalry serve` (the development server, the tests), a query runs in a
    forked child: there too on a deep stack, whatever thread forked it."""
    db = ox.Store()
    assert run_with_time_limit(_ask, (db, CHAINS["MINUS"](6_000)), 60, "the query") is False


def _ask(db: ox.Store, text: str) -> bool:
    return bool(db.query(text))


# --- reading the text takes time in proportion to its length ---------------------------


def test_a_run_without_a_colon_is_read_as_its_tokens() -> None:
    """Letters, digits, `_`, `-` and `.` may make a prefixed name's prefix; without the `:`
    they are words, numbers and punctuation, as the parser reads them."""
    assert tokens("a.b-c_d.1 é.x ex.a:b") == [
        ("word", "a"), ("other", "."), ("word", "b"), ("other", "-"), ("word", "c_d"),
        ("other", "."), ("integer", "1"), ("other", "é"), ("other", "."), ("word", "x"),
        ("pname", "ex.a:b")]


def test_a_megabyte_of_a_dot_is_read_once() -> None:
    """`a.a.a.…` was read as a possible prefix from each of its positions, so its time grew
    with the square of its length, and a body far below the size cap could hold a worker
    for its whole time limit. Now a megabyte is read in one pass."""
    text = "ASK { FILTER(" + "a." * 500_000 + "1) }"
    shape = inspect_query(text)
    assert shape.size == 1_000_000 + 7  # ASK { FILTER ( … 1 ) }
    with pytest.raises(QueryError, match="max_query_tokens"):
        check_query(text, max_depth=100, max_tokens=5_000)


def test_an_external_stores_syntax_check_runs_on_a_deep_stack(tmp_path: Path) -> None:
    """Over an external server, the query is first parsed and planned here (on an empty
    store) so that syntax errors read the same: that too on a deep stack and within the
    time limit. 6,000 MINUS groups (with the token limit raised) killed the process on
    an 8 MiB stack; now the check passes and the query goes on to the server, here a
    closed port."""
    store = RemoteStore("http://127.0.0.1:9/sparql", cache_root=tmp_path, timeout=2)
    limits = QueryLimits(time_limit=20, max_tokens=100_000)
    with pytest.raises(RivalryError) as raised:
        store.execute(CHAINS["MINUS"](6_000), limits)
    assert not isinstance(raised.value, QuerySyntaxError)
    assert raised.value.status == 503, raised.value


#: Bodies of nearly five megabytes (the default max_body_bytes: 5,000,000) that pass a
#: limit early on
HUGE = {
    "a chain of +": "ASK { FILTER(" + "1+" * 2_490_000 + "1) }",
    "a run of a.": "ASK { FILTER(" + "a." * 2_490_000 + "1) }",
    "a run of !": "ASK { FILTER(" + "!" * 4_990_000 + "true) }",
    "nested groups": "ASK " + "{" * 2_490_000 + "}" * 2_490_000,
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_a_text_past_a_limit_is_read_no_further(monkeypatch: pytest.MonkeyPatch,
                                                name: str) -> None:
    """A body of megabytes is refused after the tokens that pass a limit, not read whole
    first, in time and memory growing with its length (so that the time limit's 503 could
    come before the 400 that says why)."""
    read = 0

    def counted(text: str) -> Iterator[tuple[str, str, int]]:
        nonlocal read
        for token in original(text):
            read += 1
            yield token

    original = sparql._spans
    monkeypatch.setattr(sparql, "_spans", counted)
    with pytest.raises(QueryError, match="max_query_(depth|tokens)") as refused:
        check_query(HUGE[name], max_depth=100, max_tokens=5_000)
    assert "more than" in str(refused.value)
    assert read <= 5_000 + 3 * sparql._BLOCK
    shape = inspect_query(HUGE[name], max_depth=100, max_tokens=5_000)
    assert not shape.complete and (shape.depth == 101 or shape.size == 5_001)


def test_a_shape_read_to_a_limit_serves_only_readers_it_refuses() -> None:
    """The shape remembered for a text read until it passed a limit is given again to a
    reader with that limit (the store's checks after the endpoint's), never to one
    without it, which gets the text read whole."""
    text = "ASK { FILTER(" + "+".join(["1"] * 20_000) + " > 0) }"
    partial = inspect_query(text, max_depth=100, max_tokens=5_000)
    assert not partial.complete and partial.size == 5_001
    assert inspect_query(text, max_depth=100, max_tokens=5_000) is partial
    assert inspect_query(text, max_depth=100, max_tokens=4_000) is partial
    whole = inspect_query(text)
    assert whole.complete and whole.size == 2 * 20_000 + 7  # ASK { FILTER ( … > 0 ) }
    with pytest.raises(QueryError, match="has 40,007 tokens"):
        check_query(text, max_depth=100, max_tokens=5_000)  # the whole reading serves
    assert check_query(text, max_depth=100, max_tokens=50_000).size == 40_007


def test_a_huge_body_gets_400_over_http(client: FlaskClient) -> None:
    response = client.post("/sparql", data=HUGE["a chain of +"].encode(),
                           content_type="application/sparql-query")
    assert response.status_code == 400
    assert "more than 5,000 tokens" in response.get_json()["message"]
