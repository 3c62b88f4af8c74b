"""The DNS server's HTTP side: ``prometheus`` (/metrics), ``health`` (/health) and ``ready`` (/ready).

CoreDNS serves each on its own address (``prometheus :9153``, ``health :8080``, ``ready :8181``).
``/health`` answers 200 ``OK`` while the process runs (503 during the ``lameduck`` period before
it stops); ``/ready`` answers 200 ``OK`` once every plugin that reports readiness is ready (here:
the zone is loaded), else 503 with the names of those that are not. The HTTP handling is the
minimum a probe or a Prometheus scraper needs: one GET per connection, a hard limit on the
request head and a read timeout, so a slow or hostile client cannot hold the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

MAX_HEAD = 16384
READ_TIMEOUT = 5.0

#: path → (status, content type, body), computed per request
Route = Callable[[], tuple[int, str, bytes]]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable",
            400: "Bad Request"}


@dataclass(slots=True)
class HttpEndpoint:
    """One listening HTTP server and the routes it answers."""

    host: str
    port: int
    routes: dict[str, Route]
    server: asyncio.Server | None = None

    @property
    def bound(self) -> tuple[str, int]:
        assert self.server is not None
        sock = self.server.sockets[0]
        name = sock.getsockname()
        return str(name[0]), int(name[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, self.host or None, self.port,
                                                 reuse_address=True, limit=MAX_HEAD)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                    ConnectionError):
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            if len(parts) != 3:
                status, ctype, body = 400, "text/plain; charset=utf-8", b"bad request\n"
                method = "GET"
            else:
                method, target, _ = parts
                path = target.split("?", 1)[0]
                route = self.routes.get(path)
                if route is None:
                    status, ctype, body = 404, "text/plain; charset=utf-8", b"404 page not found\n"
                elif method not in ("GET", "HEAD"):
                    status, ctype, body = 405, "text/plain; charset=utf-8", b"method not allowed\n"
                else:
                    status, ctype, body = route()
            reason = _REASONS.get(status, "OK")
            hdr = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1")
            writer.write(hdr if method == "HEAD" else hdr + body)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)


def parse_http_address(text: str, default_port: int) -> tuple[str, int]:
    """CoreDNS's address forms: ``:9153``, ``localhost:9153``, ``127.0.0.1:0``, ``[::1]:8080``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port) if port else default_port
    if text.count(":") > 1:
        return text, default_port
    return text, default_port
