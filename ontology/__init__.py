"""The rivalry ontology: where its Turtle lives, its IRIs and its closed namespace."""

from importlib.resources import files
from importlib.resources.abc import Traversable

from rivalry.ontology.terms import RV

ONTOLOGY_IRI = "https://w3id.org/rivalry/ontology"
NAMESPACE = "https://w3id.org/rivalry/ontology#"


def ontology_file() -> Traversable:
    """The ontology's Turtle file, as shipped in the installed package."""
    return files(__name__).joinpath("rivalry.ttl")


__all__ = ["NAMESPACE", "ONTOLOGY_IRI", "RV", "ontology_file"]
