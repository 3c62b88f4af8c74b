"""Emulated pod backends: one loopback HTTP server per Service endpoint, answering who it is.

Why: ``podnet ingress serve`` runs the controller without a real data plane; each pod a request
may reach is stood in for by a tiny in-process HTTP server that answers any request with the
JSON of :mod:`podnet.ingress.echo` (pod, service, port, method, path, headers, client address),
so that ``curl`` through the proxy shows where a URL went and what the backend saw.

Safety: every emulated backend listens on ``127.0.0.1`` on an ephemeral port (the kernel picks
it); a pod's cluster address is only a key in the map the proxy uses to find the stand-in.
Nothing here connects anywhere.

One listener per (Service, pod address, targetPort): two Services selecting the same pod and port
get two listeners, so that ``service`` in the answer is the one the request went through. A
backend that an Ingress reaches with ``backend-protocol: HTTPS`` (or ``AUTO_HTTP``/``GRPCS``) gets
a second, TLS, listener with a self-signed certificate; its answers carry
``X-Backend-Scheme: https``.

The server side is HTTP/1.1 with keep-alive and pipelining (answers in order), request bodies
read and discarded, ``HEAD`` answered without a body, and WebSocket upgrades (``Upgrade:
websocket``) answered ``101 Switching Protocols`` after which every byte received is echoed back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import httptools

from podnet.ingress.echo import answer_body
from podnet.ingress.table import RouteTable
from podnet.servers.runtime import HttpDate

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TLS_PROTOCOLS = ("HTTPS", "AUTO_HTTP", "GRPCS")


@dataclass(frozen=True, slots=True, order=True)
class BackendKey:
    """A Service endpoint: which Service, which pod address, which targetPort."""

    service: str
    address: str
    port: int


@dataclass(frozen=True, slots=True)
class BackendSpec:
    key: BackendKey
    pod: str | None
    tls: bool = False


def specs_for(table: RouteTable) -> list[BackendSpec]:
    """The backends a route table can send requests to (ExternalName Services have none)."""
    tls_upstreams: set[str] = set()
    for server in table.servers.values():
        for loc in server.locations:
            if loc.settings.backend_protocol in _TLS_PROTOCOLS:
                tls_upstreams.add(loc.upstream)
                ups = table.upstreams.get(loc.upstream)
                if ups is not None:
                    tls_upstreams.update(ups.alternatives)
    out: dict[BackendKey, BackendSpec] = {}
    for ups in table.upstreams.values():
        if ups.external_name or not ups.service:
            continue
        svc = f"{ups.namespace}/{ups.service}"
        for ep in ups.endpoints:
            key = BackendKey(svc, ep.address, ep.port)
            tls = ups.name in tls_upstreams or (key in out and out[key].tls)
            out[key] = BackendSpec(key, ep.pod, tls)
    return [out[k] for k in sorted(out)]


class _BackendProtocol(asyncio.Protocol):
    """One client connection to an emulated pod."""

    __slots__ = (
        "spec", "tls", "transport", "parser", "peer", "url", "headers",
        "tunnel", "closed",
    )

    def __init__(self, spec: BackendSpec, tls: bool) -> None:
        self.spec = spec
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.peer = ""
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.tunnel = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        if self.tunnel:
            assert self.transport is not None
            self.transport.write(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            offset = int(e.args[0])
            self._upgrade(data[offset:])
        except httptools.HttpParserError:
            if self.transport is not None and not self.closed:
                self.transport.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_message_complete(self) -> None:
        if self.parser.should_upgrade():
            return  # answered in _upgrade
        self._answer()

    def _answer(self) -> None:
        t = self.transport
        if t is None or self.closed:
            return
        method = self.parser.get_method().decode("latin-1")
        spec = self.spec
        body = answer_body(
            pod=spec.pod,
            service=spec.key.service,
            port=spec.key.port,
            method=method,
            path=self.url.decode("latin-1"),
            headers=self.headers,
            client_ip=self.peer,
            protocol=f"HTTP/{self.parser.get_http_version()}",
        )
        keep = self.parser.should_keep_alive()
        head = (
            b"HTTP/1.1 200 OK\r\nServer: podnet-pod\r\nDate: "
            + HttpDate.get()
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + (b"\r\nX-Backend-Scheme: https" if self.tls else b"")
            + (b"\r\n\r\n" if keep else b"\r\nConnection: close\r\n\r\n")
        )
        t.write(head if method == "HEAD" else head + body)
        if not keep:
            t.close()

    def _upgrade(self, rest: bytes) -> None:
        t = self.transport
        if t is None:
            return
        key = ""
        upgrade = ""
        for name, value in self.headers:
            low = name.lower()
            if low == "sec-websocket-key":
                key = value.strip()
            elif low == "upgrade":
                upgrade = value.strip()
        if upgrade.lower() != "websocket":
            t.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            t.close()
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + _WS_GUID).digest()).decode()
        t.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        self.tunnel = True
        if rest:
            t.write(rest)


def _self_signed() -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate (for HTTPS backends)."""
    import os
    import tempfile

    from podnet.servers.ingress_tls import self_signed

    cert, key = self_signed("podnet-emulated-backend", ("localhost",), rsa=False)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="podnet-backend-") as d:
        cp, kp = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        with open(cp, "wb") as f:
            f.write(cert)
        with open(kp, "wb") as f:
            f.write(key)
        ctx.load_cert_chain(cp, kp)
    return ctx


@dataclass
class EmulatedBackends:
    """The running emulated pods, and where each listens."""

    host: str = "127.0.0.1"
    #: BackendKey → (loopback host, port) for plain HTTP
    plain: dict[BackendKey, tuple[str, int]] = field(default_factory=dict)
    #: BackendKey → (loopback host, port) for TLS
    secure: dict[BackendKey, tuple[str, int]] = field(default_factory=dict)
    _servers: dict[tuple[BackendKey, bool], asyncio.AbstractServer] = field(default_factory=dict)
    _ctx: ssl.SSLContext | None = None

    async def start(self, specs: Iterable[BackendSpec]) -> None:
        """Start a listener for every spec not yet served; stop those no longer wanted."""
        loop = asyncio.get_running_loop()
        wanted: set[tuple[BackendKey, bool]] = set()
        for spec in specs:
            variants = [False, True] if spec.tls else [False]
            for tls in variants:
                wanted.add((spec.key, tls))
                if (spec.key, tls) in self._servers:
                    continue
                ctx = None
                if tls:
                    if self._ctx is None:
                        self._ctx = _self_signed()
                    ctx = self._ctx

                def factory(s: BackendSpec = spec, secure: bool = tls) -> asyncio.Protocol:
                    return _BackendProtocol(s, secure)

                server = await loop.create_server(factory, self.host, 0, ssl=ctx, backlog=1024)
                sock = server.sockets[0].getsockname()
                self._servers[(spec.key, tls)] = server
                (self.secure if tls else self.plain)[spec.key] = (str(sock[0]), int(sock[1]))
        for k in [k for k in self._servers if k not in wanted]:
            old = self._servers.pop(k)
            old.close()
            (self.secure if k[1] else self.plain).pop(k[0], None)

    async def stop(self) -> None:
        for server in self._servers.values():
            server.close()
        for server in self._servers.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        self.plain.clear()
        self.secure.clear()

    def to_map(self) -> dict[str, dict[str, str]]:
        """``{"NS/SVC ADDR:PORT": {"http": "127.0.0.1:P", "https": "127.0.0.1:Q"}}`` (for --backend-map)."""
        out: dict[str, dict[str, str]] = {}
        for key, (h, p) in self.plain.items():
            out.setdefault(map_key(key), {})["http"] = f"{h}:{p}"
        for key, (h, p) in self.secure.items():
            out.setdefault(map_key(key), {})["https"] = f"{h}:{p}"
        return out


def map_key(key: BackendKey) -> str:
    addr = f"[{key.address}]" if ":" in key.address else key.address
    return f"{key.service} {addr}:{key.port}"
