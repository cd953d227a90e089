"""The SHACL shapes every fact must pass."""

from importlib.resources import files
from importlib.resources.abc import Traversable

SHAPES_IRI = "https://w3id.org/rivalry/shapes"


def shapes_files() -> list[Traversable]:
    """The shapes' Turtle files, as shipped in the installed package."""
    return sorted((f for f in files(__name__).iterdir() if f.name.endswith(".ttl")),
                  key=lambda f: f.name)
