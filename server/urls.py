"""Absolute URLs of this server, for the documents that must hold them (VoID, the
service description, the list of dumps, the reconciliation manifest, JSON-LD's
context). They are built from the request's host, so that a server reached by any name
links to itself; a response that holds one says `Vary: Host`, so that no cache (the
front's included) gives one host's URLs to a request for another. Without it, a single
request with a forged Host header had every later visitor's VoID point elsewhere."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """`url_for(endpoint, **values)` as an absolute URL on the request's host."""
    g.rivalry_uses_host = True
    return url_for(endpoint, _external=True, **values)


def host_url() -> str:
    """This server's root on the request's host, ending with "/"."""
    g.rivalry_uses_host = True
    return request.host_url


def base_url() -> str:
    """The request's URL on its host, without its query string."""
    g.rivalry_uses_host = True
    return request.base_url


def init_app(app: Flask) -> None:
    @app.after_request
    def vary_on_host(response: Response) -> Response:
        if g.get("rivalry_uses_host"):
            response.vary.add("Host")
        return response
