"""What the controller sends to a backend, and what it sends back to the client.

Why: a backend behind an Ingress sees the controller as its client; who really asked, over which
scheme, for which host and port arrives in headers the controller sets (``X-Forwarded-For``,
``X-Real-IP``, ``X-Forwarded-Proto``/``-Host``/``-Port``, ``X-Request-ID``). Applications that
build absolute URLs or log client addresses depend on them, and "my app sees the wrong client IP"
is the question this module answers.

Behaviour reproduced (re-implemented, not copied) from ingress-nginx's ``nginx.tmpl`` (the
``proxy_set_header`` block of every location, the ``$req_id`` and ``$full_x_forwarded_for``
maps) and ``lua_ingress.lua`` (``$pass_access_scheme``, ``$pass_port``, ``$best_http_host``),
and from nginx's proxy module (headers it sets or clears itself, response headers it hides):

* ``Host`` is the client's Host as sent (``upstream-vhost`` replaces it);
* ``X-Request-ID`` is the client's, or a fresh 32-hex-digit id (``generate-request-id``);
* ``X-Real-IP`` and ``X-Forwarded-For`` are the client address; the client's own
  ``X-Forwarded-For`` is moved to ``X-Original-Forwarded-For`` — unless the ConfigMap sets
  ``use-forwarded-headers`` (then the client address is the first ``X-Forwarded-For`` entry and
  the client's ``X-Forwarded-Proto``/``-Port``/``-Host`` are trusted) and
  ``compute-full-forwarded-for`` (then the peer is appended to the client's list);
* ``X-Forwarded-Host`` is the Host as sent, ``X-Forwarded-Port`` the port the client connected
  to (podnet: the listener's real port, so ``8443`` when HTTPS is served there),
  ``X-Forwarded-Proto``, ``X-Forwarded-Scheme`` and ``X-Scheme`` the scheme;
* ``Upgrade`` is passed and ``Connection: upgrade`` sent for WebSocket; otherwise no
  ``Connection`` header (kept-alive upstream connections); ``Proxy``, ``TE``, ``Expect`` and
  ``Keep-Alive`` are dropped;
* from the response, ``Server``, ``Date``, ``X-Pad``, ``X-Accel-*`` and the hop-by-hop headers are
  dropped; the controller adds its own ``Server``, ``Date`` and ``Connection``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from podnet.ingress.annotations import ControllerConfig

Header = tuple[bytes, bytes]

#: client headers the controller does not pass on (it sets its own or clears them)
_SET_OR_CLEARED = frozenset(
    {
        b"host",
        b"connection",
        b"keep-alive",
        b"upgrade",
        b"te",
        b"expect",
        b"content-length",
        b"transfer-encoding",
        b"proxy",
        b"x-request-id",
        b"x-real-ip",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-proto",
        b"x-forwarded-scheme",
        b"x-scheme",
        b"x-original-forwarded-for",
        b"x-original-forwarded-host",
    }
)

_HOP_BY_HOP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"server",
        b"date",
        b"x-pad",
        b"content-length",
    }
)


@dataclass(frozen=True, slots=True)
class ClientView:
    """The request's origin as the controller establishes it."""

    #: ``$remote_addr``: the client (after realip when forwarded headers are trusted)
    remote_addr: str
    #: ``$realip_remote_addr``: the peer of the TCP connection
    peer: str
    #: ``$pass_access_scheme``
    scheme: str
    #: ``$pass_port``
    port: str
    #: ``$best_http_host``
    host: str
    #: the client's X-Forwarded-For / X-Forwarded-Host, "" when absent
    forwarded_for: str = ""
    forwarded_host: str = ""


def client_view(
    *,
    peer: str,
    scheme: str,
    port: int,
    host: str,
    headers: dict[bytes, bytes],
    config: ControllerConfig,
) -> ClientView:
    """The client address, scheme, port and host ingress-nginx would compute.

    ``headers`` holds the client's headers under lower-case names (first occurrence).
    """
    xff = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    xfh = headers.get(b"x-forwarded-host", b"").decode("latin-1")
    remote = peer
    p_scheme, p_port, p_host = scheme, str(port), host
    if config.use_forwarded_headers:
        if xff:
            first = xff.split(",")[0].strip()
            if first:
                remote = first
        proto = headers.get(b"x-forwarded-proto")
        if proto:
            p_scheme = proto.decode("latin-1")
        fport = headers.get(b"x-forwarded-port")
        if fport:
            p_port = fport.decode("latin-1")
        if xfh:
            p_host = xfh.split(",")[0].strip()
    return ClientView(remote, peer, p_scheme, p_port, p_host, xff, xfh)


def forwarded_for(view: ClientView, config: ControllerConfig) -> str:
    if config.use_forwarded_headers and config.compute_full_forwarded_for:
        return f"{view.forwarded_for}, {view.peer}" if view.forwarded_for else view.peer
    return view.remote_addr


def forwarded_block(view: ClientView, config: ControllerConfig) -> bytes:
    """The ``X-Real-IP`` … ``X-Scheme`` lines (the same for every request with this view)."""
    xff = forwarded_for(view, config)
    lines = (
        f"X-Real-IP: {view.remote_addr}\r\n"
        f"X-Forwarded-For: {xff}\r\n"
        f"X-Forwarded-Port: {view.port}\r\n"
        f"X-Forwarded-Proto: {view.scheme}\r\n"
        f"X-Forwarded-Scheme: {view.scheme}\r\n"
        f"X-Scheme: {view.scheme}\r\n"
    )
    if view.forwarded_for:
        lines += f"X-Original-Forwarded-For: {view.forwarded_for}\r\n"
    if view.forwarded_host:
        lines += f"X-Original-Forwarded-Host: {view.forwarded_host}\r\n"
    return lines.encode("latin-1")


def upstream_request_head(
    *,
    method: str,
    target: str,
    headers: Sequence[Header],
    view: ClientView,
    config: ControllerConfig,
    request_id: str,
    host: str | None,
    upgrade: bytes | None,
    body: str,
    content_length: int | None = None,
    x_forwarded_prefix: str = "",
    block: bytes | None = None,
) -> bytes:
    """The request line and headers sent to the backend (``body``: "none", "length", "chunked").

    ``block`` is :func:`forwarded_block` of ``view``, when the caller has it already.
    """
    out = [
        f"{method} {target} HTTP/1.1\r\nHost: {view.host if host is None else host}\r\n"
        f"X-Request-ID: {request_id}\r\nX-Forwarded-Host: {view.host}\r\n".encode("latin-1"),
        block if block is not None else forwarded_block(view, config),
    ]
    if upgrade is not None:
        out.append(b"Upgrade: " + upgrade + b"\r\nConnection: upgrade\r\n")
    if x_forwarded_prefix:
        out.append(f"X-Forwarded-Prefix: {x_forwarded_prefix}\r\n".encode("latin-1"))
    if body == "length":
        out.append(b"Content-Length: %d\r\n" % (content_length or 0))
    elif body == "chunked":
        out.append(b"Transfer-Encoding: chunked\r\n")
    drop = _SET_OR_CLEARED
    drop_prefix = b"x-forwarded-prefix" if x_forwarded_prefix else None
    for name, value in headers:
        low = name.lower()
        if low in drop or low == drop_prefix:
            continue
        out.append(name + b": " + value + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def response_headers(headers: Iterable[Header], *, switching: bool = False) -> list[Header]:
    """The backend's response headers the client gets (hidden and hop-by-hop ones dropped)."""
    kept: list[Header] = []
    for name, value in headers:
        low = name.lower()
        if low in _HOP_BY_HOP_RESPONSE or low.startswith(b"x-accel-"):
            if switching and low in (b"upgrade", b"connection"):
                kept.append((name, value))
            continue
        kept.append((name, value))
    return kept
