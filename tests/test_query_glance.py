"""A query read at a glance (`rivalry.graph.sparql._glance`) is never read otherwise than
by its tokens: the glance takes only texts where it finds the same form and no SERVICE,
dataset clause or GRAPH, and bounds the depth and length that reading counts."""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph as ox
import pytest

from rivalry.graph.describe import description_query
from rivalry.graph.errors import QueryError
from rivalry.graph.sparql import _glance, _inspect, check_query, inspect_query

from .test_query_depth import CONSTRUCTS

QUERIES = Path(__file__).resolve().parents[1] / "graph" / "queries"
MAX_DEPTH, MAX_TOKENS = 100, 5_000


def agree(text: str) -> bool:
    """Whether the glance read `text`; when it did, that it agrees with the tokens."""
    seen = _glance(text, MAX_DEPTH, MAX_TOKENS)
    if seen is None:
        return False
    read = _inspect(text, MAX_DEPTH, MAX_TOKENS)
    assert read.complete and read.unclosed is None, text
    assert (seen.form, seen.services, seen.has_dataset_clause, seen.from_graphs,
            seen.from_named_graphs, seen.graphs) == (
        read.form, read.services, read.has_dataset_clause, read.from_graphs,
        read.from_named_graphs, read.graphs), text
    assert read.depth <= seen.depth <= MAX_DEPTH, text
    assert read.size <= seen.size <= MAX_TOKENS, text
    return True


KINDS = {ox.QuerySolutions: "select", ox.QueryBoolean: "ask", ox.QueryTriples: "graph"}


@pytest.mark.parametrize("text", [
    *(description_query(iri) for iri in (
        "https://rivalry.example/id/measure/synthetic-000042",
        "https://rivalry.example/id/company/huawei",
        "https://rivalry.example/id/action/2018-07-section-301-list1-and-retaliation")),
    *(path.read_text() for path in sorted(QUERIES.glob("*.rq"))),
])
def test_what_the_glance_reads_it_reads_as_the_tokens_and_the_engine_do(text: str) -> None:
    if not agree(text):
        return
    shape = _glance(text, MAX_DEPTH, MAX_TOKENS)
    assert shape is not None
    # the engine finds the same form (in an empty store: nothing is matched)
    assert KINDS[type(ox.Store().query(text))] == shape.kind


def test_a_point_lookup_is_read_at_a_glance() -> None:
    shape = inspect_query(description_query("https://rivalry.example/id/company/huawei"),
                          max_depth=MAX_DEPTH, max_tokens=MAX_TOKENS)
    assert shape.glance and shape.kind == "graph"


@pytest.mark.parametrize("text", [
    # a keyword the tokens would find: the glance leaves the text to them
    "SELECT * FROM <g:a> WHERE {}",
    "SELECT * WHERE { SERVICE <http://example.org/sparql> {} }",
    "SELECT * WHERE { GRAPH ?g {} }",
    "SELECT * WHERE { ?s <p:a> 1from }",       # a digit ends no word: `from` is one
    "SELECT * WHERE { ?s <p:a> x.graph }",     # nor does `.`
    "SELECT * WHERE { ?s <p:a> ?o } # from a comment",
    # what only reading can tell
    "SELECT * WHERE { ?s ?p 'a' }",             # a string
    "SELECT * WHERE { ?s ?p \"a }",             # a string never closed
    "\\u0053ELECT * WHERE {}",                  # an escape
    "SELECT * WHERE { ?s ?p <p:é> }",           # not ASCII
    "CONSTRUCT:x WHERE {}",                     # a prefixed name, not the keyword
    "PREFIX ex.: <p:a> SELECT * WHERE {}",      # a prefix no declaration of the glance's
    "PREFIXex: <p:a> SELECT * WHERE {}",
    "INSERT DATA { <p:a> <p:b> <p:c> }",        # an update
    "WITH <g:a> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "ASK { FILTER(" + "!" * 101 + "true) }",   # more than the limit could open
    "ASK {}" + " " * MAX_TOKENS,                # longer than the limit of tokens
])
def test_the_glance_leaves_to_reading_what_it_cannot_tell(text: str) -> None:
    assert _glance(text, MAX_DEPTH, MAX_TOKENS) is None


def test_a_glance_is_not_taken_without_limits() -> None:
    text = "ASK {}"
    assert _glance(text, None, MAX_TOKENS) is None and _glance(text, MAX_DEPTH, None) is None
    assert not inspect_query(text).glance


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_every_construct_past_the_limit_is_refused_with_the_limits_the_server_uses(
        construct: str) -> None:
    text = CONSTRUCTS[construct](MAX_DEPTH + 1)
    assert _glance(text, MAX_DEPTH, MAX_TOKENS) is None
    with pytest.raises(QueryError, match="max_query_depth"):
        check_query(text, max_depth=MAX_DEPTH, max_tokens=MAX_TOKENS)


def test_a_glance_answers_only_readers_whose_limits_hold_its_bounds() -> None:
    """The last text read is remembered: a stricter reader after a glance gets the text
    read by its tokens, which counts its depth (3), where the glance only bounded it; and
    that count, remembered in turn, is what a refusal says."""
    text = description_query("https://rivalry.example/id/company/huawei")
    shape = check_query(text, max_depth=MAX_DEPTH, max_tokens=MAX_TOKENS)
    assert shape.glance and shape.depth > 3
    exact = check_query(text, max_depth=3, max_tokens=MAX_TOKENS)
    assert not exact.glance and exact.depth == 3
    with pytest.raises(QueryError, match="nests 3 levels deep"):
        check_query(text, max_depth=2, max_tokens=MAX_TOKENS)


FRAGMENTS = [
    "PREFIX ", "prefix ", "BASE ", "base", " ", "\n", "\t", "# c\n", "#", "ex:", ":", "ex.:",
    "ex-1:", "<p:a>", "<http://a/b-c#d>", "<", ">", "<<", ">>", "<<(", ")>>", "SELECT",
    "select", "CONSTRUCT", "construct", "ASK", "DESCRIBE", "*", "?x", "$y", "{", "}", "(",
    ")", "[", "]", "!", "-", "+", "^", "!=", "&&", "FROM", "from", "NAMED", "GRAPH",
    "graph", "SERVICE", "service", "x.", "1", "_", "a", "wasDerivedFrom", "ex:from",
    "ex:service", "INSERT", "DATA", "WITH", "VALUES", "FILTER", "WHERE", ".", ",", ";",
    "=", "'", '"', "\\u0053", "é", "ß", "@en", "UNION", "OPTIONAL",
]
#: fragments none of which alone sends a text to reading
QUIET = [f for f in FRAGMENTS if f.isascii() and not any(
    c in f for c in "'\"\\") and f.lower() not in ("from", "graph", "service")]
FORMS = ["SELECT * ", "CONSTRUCT ", "ASK ", "DESCRIBE ", "select ?x ", "ask", "#()ASK "]


def test_random_texts_the_glance_reads_it_reads_as_the_tokens_do() -> None:
    """Thousands of texts of fragments chosen to meet every rule of the glance, half of
    them starting as a query does (and half of those of fragments that send no text to
    reading alone): wherever the glance reads one, it agrees."""
    chance = random.Random(12)
    read = 0
    for n in range(20_000):
        head = ""
        if n % 2:
            head = "".join(chance.choice(["PREFIX ex: <p:a> ", "BASE <p:b>\n", "prefix : <p:>",
                                          "# c\n", " "])
                           for _ in range(chance.randrange(3))) + chance.choice(FORMS)
        pool = QUIET if n % 4 == 1 else FRAGMENTS
        text = head + "".join(chance.choice(pool) for _ in range(chance.randrange(1, 25)))
        read += agree(text)
    assert read > 3_000  # the glance read enough of them for the test to mean something
