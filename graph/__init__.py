"""The rivalry domain: curated facts, how they are read, reasoned over, validated and stored.

Nothing here imports Flask; the server and the command line are thin layers on top.
"""

from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, TypeAlias

import pyoxigraph as ox

from rivalry.ontology import NAMESPACE

#: An RDF term as pyoxigraph gives it (pyoxigraph has no class of its own for "any term").
Term: TypeAlias = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
#: What can stand as the subject of a triple (and be asked for as one).
Subject: TypeAlias = ox.NamedNode | ox.BlankNode | ox.Triple
#: The graph of a quad: a named graph or the default graph.
GraphName: TypeAlias = ox.NamedNode | ox.BlankNode | ox.DefaultGraph


def term_value(term: Term | ox.DefaultGraph | None) -> str:
    """The value of a term a query or a quad pattern gave: an IRI's IRI, a blank node's
    label, a literal's lexical form.

    For a variable the query always binds, or a position that holds an IRI, a blank node
    or a literal: an unbound variable (None), a quoted triple (rivalry's graph has none)
    or the default graph is a TypeError naming what was there instead."""
    if isinstance(term, ox.NamedNode | ox.BlankNode | ox.Literal):
        return term.value
    raise TypeError(f"expected an IRI, a blank node or a literal, not {term!r}")


def select(store: ox.Store, query: str, **options: Any) -> ox.QuerySolutions:
    """The solutions of a SELECT query the code wrote itself, run on a pyoxigraph store
    with pyoxigraph's options (pyoxigraph types any answer as one of three forms)."""
    answer = store.query(query, **options)
    if not isinstance(answer, ox.QuerySolutions):
        raise TypeError(f"not a SELECT query: {query[:80]!r}")
    return answer


def construct(store: ox.Store, query: str, **options: Any) -> ox.QueryTriples:
    """The triples of a CONSTRUCT query the code wrote itself (as `select`)."""
    answer = store.query(query, **options)
    if not isinstance(answer, ox.QueryTriples):
        raise TypeError(f"not a CONSTRUCT query: {query[:80]!r}")
    return answer

#: Where the graph's IRIs are minted: entities under id/, graphs under graph/, the
#: ontology at ontology. The facts themselves use it; a server published under another
#: host keeps these IRIs (and redirects to itself, or is proxied).
BASE_IRI = "https://w3id.org/rivalry/"
ID_BASE = BASE_IRI + "id/"
GRAPH_BASE = BASE_IRI + "graph/"
ONTOLOGY_GRAPH = GRAPH_BASE + "ontology"
INFERRED_GRAPH = GRAPH_BASE + "inferred"
#: What the build derives for queries that engines would otherwise answer differently
#: (rivalry.graph.derive): most specific types, day numbers of dates.
DERIVED_GRAPH = GRAPH_BASE + "derived"
META_GRAPH = GRAPH_BASE + "meta"
FACTS_GRAPH_BASE = GRAPH_BASE + "facts/"

#: The licence of the data (the facts, the ontology, the shapes and everything derived
#: from them: dumps, descriptions, answers). The ontology says the same (dct:license).
DATA_LICENSE = "https://creativecommons.org/licenses/by/4.0/"
DATA_LICENSE_NAME = "CC BY 4.0"
#: The licence of the software, as pyproject.toml declares it.
CODE_LICENSE_NAME = "Apache-2.0"


def facts_dir() -> Traversable:
    """The curated facts shipped with the package (graph/facts in a checkout)."""
    return files(__name__).joinpath("facts")


def queries_dir() -> Traversable:
    """The canned SPARQL queries shipped with the package (graph/queries in a checkout)."""
    return files(__name__).joinpath("queries")

#: Prefixes used when writing Turtle, TriG and query results, and offered to queries.
PREFIXES: dict[str, str] = {
    "rv": NAMESPACE,
    "id": ID_BASE,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "dct": "http://purl.org/dc/terms/",
    "schema": "https://schema.org/",
    "sem": "http://semanticweb.cs.vu.nl/2009/11/sem/",
    "void": "http://rdfs.org/ns/void#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "wd": "http://www.wikidata.org/entity/",
}
#: One prefix per kind of entity, matching the paths under ID_BASE.
ENTITY_KINDS: dict[str, str] = {
    "action": "action", "agency": "agency", "change": "status-change", "claim": "date-claim",
    "company": "company",
    "instrument": "instrument", "organization": "organization", "person": "person",
    "post": "post", "program": "program", "response": "response", "sector": "sector",
    "source": "source", "state": "state", "tech": "technology", "tier": "tier-assignment",
    "union": "union",
}
PREFIXES.update({prefix: f"{ID_BASE}{path}/" for prefix, path in ENTITY_KINDS.items()})
