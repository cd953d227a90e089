"""Absolute URLs of this server, for the documents that must hold them (VoID, the
service description, the list of dumps, the reconciliation manifest, JSON-LD's
context). They are built from the request's host, so that a server reached by any name
links to itself; a response that holds one says `Vary: Host`, so that no cache (the
front's included) gives one host's URLs to a request for another. Without it, a single
request with a forged Host header had every later visitor's VoID point elsewhere.

The host is the request's Host header when it is a valid one (RFC 9110, 7.2), else the
server's own address: never Werkzeug's `request.host`, which is the empty string for a
host outside its narrower pattern (`a_b`, `x:080`, `[v1.x]`), giving `http:///sparql`.
Under `rivalry serve` the front refuses an invalid Host (400) and always passes the host
it decided (the server's own address for an empty or absent Host), which is also what
its cache keys `Vary: Host` on (rivalry.server.front)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from flask import Flask, Response, g, request, url_for

#: RFC 3986's reg-name (an IPv4 address is one too): unreserved characters, sub-delims
#: and percent-encoded octets, possibly none
_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
#: RFC 3986's IPvFuture, inside the brackets of an IP-literal ("v" is case-insensitive)
_IP_FUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")
_PORT = re.compile(r"[0-9]*")


def valid_host(value: str) -> bool:
    """Whether `value` is a valid Host field value, `uri-host [ ":" port ]` (RFC 9110 7.2,
    RFC 3986 3.2.2-3.2.3): an IP-literal in brackets (an IPv6 address, without a zone, or
    IPvFuture), or a reg-name (which may be empty: RFC 9112 3.2 sends an empty Host for a
    target without an authority), then an optional port of digits (possibly none)."""
    if value.startswith("["):
        literal, closed, rest = value[1:].partition("]")
        if not closed or not (_IP_FUTURE.fullmatch(literal) or _ipv6(literal)):
            return False
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
    else:
        name, _, port = value.partition(":")
        if _REG_NAME.fullmatch(name) is None:
            return False
    return _PORT.fullmatch(port) is not None


def _ipv6(text: str) -> bool:
    if "%" in text:  # a zone (RFC 6874) is no part of the Host grammar
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def server_host(name: str, port: int | str, scheme: str = "http") -> str:
    """The server's own address as a host[:port] (what an absent or empty Host stands for):
    an IPv6 address in brackets, the port left out when it is the scheme's default."""
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    default = {"http": "80", "https": "443"}.get(scheme)
    return name if not str(port) or str(port) == default else f"{name}:{port}"


def request_host() -> str:
    """The host[:port] of this server's absolute URLs for the current request: its Host
    header when valid and not empty (in lower case, as Werkzeug's `url_for` wrote it),
    else the server's own address."""
    host = request.environ.get("HTTP_HOST", "")
    if host and valid_host(host):
        # normalized as RFC 3986 6.2.2.1 and 6.2.3 say: lower case, an empty port left out
        return (host[:-1] if host.endswith(":") else host).lower()
    return server_host(request.environ.get("SERVER_NAME", ""),
                       request.environ.get("SERVER_PORT", ""), request.scheme)


def _root() -> str:
    g.rivalry_uses_host = True
    return f"{request.scheme}://{request_host()}"


def external_url(endpoint: str, **values: Any) -> str:
    """`url_for(endpoint, **values)` as an absolute URL on the request's host."""
    return _root() + url_for(endpoint, **values)


def host_url() -> str:
    """This server's root on the request's host, ending with "/"."""
    return _root() + "/"


def base_url() -> str:
    """The request's URL on its host, without its query string."""
    # Werkzeug's base_url, whose host (empty, or of Werkzeug's pattern) has no "/": its
    # path as Werkzeug writes it, on this module's host
    after_scheme = request.base_url.partition("://")[2]
    return _root() + after_scheme[after_scheme.find("/"):]


def init_app(app: Flask) -> None:
    @app.after_request
    def vary_on_host(response: Response) -> Response:
        if g.get("rivalry_uses_host"):
            response.vary.add("Host")
        return response
