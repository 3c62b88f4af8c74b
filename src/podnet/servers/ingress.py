"""The ingress proxy: a real HTTP/1.1 and HTTPS reverse proxy that carries out the route table.

Why: the model says where ``https://shop.example.com/api`` goes; this makes it happen over real
sockets, so that curl, a browser or a load generator can be pointed at it and see what
ingress-nginx would do — the certificate by SNI, the 308 to HTTPS, the 404 of the default
backend, the 503 of a Service without endpoints, the backend chosen round-robin, the headers the
backend sees. It decides nothing itself: every request is put to
:meth:`podnet.ingress.table.RouteTable.route` and the verdict performed.

What it does, as nginx (ingress-nginx's data plane) does it:

* HTTP/1.1 and 1.0, keep-alive (``keep-alive`` 75 s, ``keep-alive-requests`` 1000), pipelined
  requests answered in order; requests parsed by ``httptools`` (llhttp); a request that does
  not parse is answered 400 and the connection closed; a request line over 8 KiB 414, a header
  over 8 KiB or all headers over 32 KiB 400 (nginx's "Request Header Or Cookie Too Large");
* bodies streamed both ways without buffering (``Content-Length`` passed on, chunked request
  bodies re-chunked; responses without a length re-chunked for HTTP/1.1 clients), with
  back-pressure in both directions; ``proxy-body-size`` (1m by default) enforced with 413;
  ``Expect: 100-continue`` answered by the proxy;
* upstream connections kept alive and reused (``upstream-keepalive-timeout`` 60 s); a reused
  connection found closed is retried once on a fresh one when the request had no body;
* endpoints chosen round-robin per upstream; a connect failure or connect timeout
  (``proxy-connect-timeout`` 5 s) moves on to the next endpoint, up to
  ``proxy-next-upstream-tries`` (3); no endpoint answering → 502 (504 after a timeout); a
  backend silent for ``proxy-read-timeout`` (60 s) → 504; a backend closing before its response
  → 502;
* a client silent for ``client-header-timeout`` in the middle of a request head → 408 and close;
  ``client-body-timeout`` likewise for bodies;
* WebSocket (and any ``Upgrade``) passed through: once the backend answers 101, bytes flow both
  ways untouched until either side closes;
* TLS with the certificate chosen by SNI (:mod:`podnet.servers.ingress_tls`);
* one access-log line per request in ingress-nginx's ``upstreaminfo`` format.

Backends are reached only through ``resolve`` — in ``podnet ingress serve`` the emulated pods on
127.0.0.1; an endpoint without a stand-in is a connect failure (502), never a connection to a
cluster address.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

import httptools

from podnet.ingress import accesslog, forwarding, pages
from podnet.ingress.annotations import ControllerConfig
from podnet.ingress.model import Endpoint, Request, Upstream, Verdict
from podnet.ingress.table import RouteTable
from podnet.servers.ingress_tls import CertStore
from podnet.servers.runtime import HttpDate

MAX_URL = 8192
MAX_HEADER = 8192
MAX_HEADERS_TOTAL = 32768
_CLIENT_BUFFER_HIGH = 256 * 1024

#: (upstream, endpoint, tls) → a loopback address to connect to, or None (no stand-in)
Resolver = Callable[[Upstream, Endpoint, bool], "tuple[str, int] | None"]


class _Limit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _HeadDone(Exception):
    """Raised from the response parser to stop after the head of a bodiless (HEAD) response."""


# ------------------------------------------------------------------------------------ requests


class _Body:
    """A request body arriving from the client, forwarded as it comes once a sink is attached."""

    __slots__ = ("chunks", "buffered", "size", "done", "sink", "chunked", "waiter", "last")

    def __init__(self, chunked: bool, now: float) -> None:
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.size = 0
        self.done = False
        self.sink: Callable[[bytes], None] | None = None
        self.chunked = chunked
        self.waiter: asyncio.Future[None] | None = None
        self.last = now

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if self.sink is not None:
            self.sink(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)
        else:
            self.chunks.append(data)
            self.buffered += len(data)
        self.wake()

    def finish(self) -> None:
        self.done = True
        if self.sink is not None and self.chunked:
            self.sink(b"0\r\n\r\n")
        self.wake()

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def attach(self, sink: Callable[[bytes], None]) -> None:
        while self.chunks:
            data = self.chunks.popleft()
            sink(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)
        self.buffered = 0
        self.sink = sink
        if self.done and self.chunked:
            sink(b"0\r\n\r\n")


class _Req:
    __slots__ = (
        "url", "headers", "hmap", "hsize", "method", "version", "keep_alive", "upgrade", "body",
        "started", "content_length", "upgrade_rest",
    )

    def __init__(self, now: float) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        #: lower-case name → first value
        self.hmap: dict[bytes, bytes] = {}
        self.hsize = 0
        self.method = "GET"
        self.version = "1.1"
        self.keep_alive = True
        self.upgrade = False
        self.body: _Body | None = None
        self.started = now
        self.content_length: int | None = None
        self.upgrade_rest = b""


class _LazyHeaders(Mapping[str, str]):
    """The request headers as the route table reads them (lower-case names, first value)."""

    __slots__ = ("_raw", "_map")

    def __init__(self, raw: dict[bytes, bytes]) -> None:
        self._raw = raw
        self._map: dict[str, str] | None = None

    def _m(self) -> dict[str, str]:
        if self._map is None:
            self._map = {k.decode("latin-1"): v.decode("latin-1") for k, v in self._raw.items()}
        return self._map

    def __getitem__(self, key: str) -> str:
        return self._m()[key]

    def get(self, key: str, default: Any = None) -> Any:
        v = self._raw.get(key.encode("latin-1"))
        return default if v is None else v.decode("latin-1")

    def __iter__(self) -> Iterator[str]:
        return iter(self._m())

    def __len__(self) -> int:
        return len(self._raw)


# ------------------------------------------------------------------------------------ upstream


class _Exchange:
    """One request/response with a backend. ``done`` resolves when the response has been passed
    on (or fails); the response itself flows through callbacks, written to the client once per
    chunk of data received from the backend."""

    __slots__ = (
        "client", "up", "head_method", "done", "status", "reason", "headers", "keep_alive",
        "got_bytes", "head_seen", "resp_chunked", "resp_close_delimited", "body_sent",
        "switching", "last", "client_version", "keep_client", "resp_length", "interim", "out",
        "timeout", "upgrade",
    )

    def __init__(self, client: _Client, up: _UpstreamConn, method: str, version: str, keep: bool, now: float) -> None:
        self.client = client
        self.up = up
        self.head_method = method
        self.done: asyncio.Future[None] = client.loop.create_future()
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = True
        self.got_bytes = False
        self.head_seen = False
        self.resp_chunked = False
        self.resp_close_delimited = False
        self.body_sent = 0
        self.switching = False
        self.last = now
        self.client_version = version
        self.keep_client = keep
        self.resp_length = 0
        self.interim = False
        self.out: list[bytes] = []
        self.timeout = 60.0
        self.upgrade = False

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            if self.resp_close_delimited and self.head_seen:
                self.done.set_result(None)  # a close-delimited body ends with the connection
            else:
                self.done.set_exception(exc)
                self.done.exception()  # retrieved: no "never retrieved" noise

    def flush(self) -> None:
        out = self.out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            self.client.write(data)


class _UpstreamConn(asyncio.Protocol):
    """A connection to one backend; reused for several exchanges."""

    def __init__(self, proxy: IngressProxy, key: tuple[str, int, bool]) -> None:
        self.proxy = proxy
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.ex: _Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self.requests = 0
        self.tunnel: _Client | None = None
        self.reused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.proxy.forget(self)
        if self.tunnel is not None:
            client = self.tunnel
            self.tunnel = None
            client.close()
        ex = self.ex
        if ex is not None:
            if ex.resp_close_delimited and ex.head_seen:
                self.proxy.end_body(ex)
                ex.flush()
            ex.fail(exc or ConnectionResetError("upstream closed the connection"))

    def pause_writing(self) -> None:
        c = self.ex.client if self.ex is not None else self.tunnel
        if c is not None:
            c.pause_reading("upstream", True)

    def resume_writing(self) -> None:
        c = self.ex.client if self.ex is not None else self.tunnel
        if c is not None:
            c.pause_reading("upstream", False)

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.write(data)
            return
        ex = self.ex
        if ex is None:
            self.abort()  # a response nobody asked for: the connection is unusable
            return
        ex.last = self.proxy.loop.time()
        ex.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            if ex.status == 101 and ex.upgrade:
                ex.flush()
                self.proxy.switch(ex, data[int(e.args[0]) :])
                return
            ex.fail(ConnectionError("unexpected upgrade from the backend"))
            self.abort()
        except httptools.HttpParserCallbackError as e:
            if isinstance(e.__context__, _HeadDone):
                self.parser = httptools.HttpResponseParser(self)
                self._complete()
            else:
                ex.fail(e)
                self.abort()
        except httptools.HttpParserError as e:
            ex.fail(e)
            self.abort()
        ex.flush()

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        ex = self.ex
        if ex is not None:
            ex.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self.ex
        if ex is not None:
            ex.headers.append((name, value))

    def on_headers_complete(self) -> None:
        ex = self.ex
        if ex is None:
            return
        p = self.parser
        status = p.get_status_code()
        ex.status = status
        ex.keep_alive = p.should_keep_alive()
        if status == 101:
            return
        if status < 200:
            ex.interim = True  # 100 Continue and friends: nginx does not pass them on
            ex.headers = []
            ex.reason = b""
            return
        chunked = length = False
        for name, value in ex.headers:
            low = name.lower()
            if low == b"content-length":
                length = True
            elif low == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        no_body = ex.head_method == "HEAD" or status == 204 or status == 304
        ex.resp_chunked = chunked and not no_body
        ex.resp_close_delimited = not chunked and not length and not no_body
        ex.head_seen = True
        self.proxy.start_response(ex)
        if ex.head_method == "HEAD":
            raise _HeadDone()

    def on_body(self, body: bytes) -> None:
        ex = self.ex
        if ex is not None:
            ex.resp_length += len(body)
            ex.body_sent += len(body)
            if ex.resp_chunked:
                ex.out.append(b"%x\r\n%s\r\n" % (len(body), body))
            else:
                ex.out.append(body)

    def on_message_complete(self) -> None:
        ex = self.ex
        if ex is not None and ex.interim:
            ex.interim = False
            return
        self._complete()

    def _complete(self) -> None:
        ex = self.ex
        if ex is None:
            return
        self.proxy.end_body(ex)
        ex.finish()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


# ------------------------------------------------------------------------------------ client


class _Client(asyncio.Protocol):
    """One client connection (plain or TLS) and the coroutine that serves its requests."""

    def __init__(self, proxy: IngressProxy, scheme: str) -> None:
        self.proxy = proxy
        self.loop = proxy.loop
        self.scheme = scheme
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[_Req] = deque()
        self.cur: _Req | None = None
        self.hreq: _Req | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.waiting_since = 0.0
        self.closed = False
        self.peer = ""
        self.port = 0
        self.sni: str | None = None
        self.tunnel: _UpstreamConn | None = None
        self.ex: _Exchange | None = None
        self.paused_by: set[str] = set()
        self.write_paused = False
        self.drain: asyncio.Future[None] | None = None
        self.bad = 0
        self.timed_out = 0
        self.view_key: tuple[str, ...] | None = None
        self.block = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.peer = str(peer[0]) if peer else ""
        if self.peer.startswith("::ffff:"):
            self.peer = self.peer[7:]
        self.port = int(sock[1]) if sock else 0
        if self.scheme == "https" and self.proxy.certs is not None:
            self.sni = self.proxy.certs.sni_of(transport.get_extra_info("ssl_object"))
        self.proxy.clients.add(self)
        self.loop.create_task(self._run())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.proxy.clients.discard(self)
        self.wake()
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)
        if self.tunnel is not None:
            up = self.tunnel
            self.tunnel = None
            up.abort()
        ex = self.ex
        if ex is not None and not ex.done.done():
            ex.up.abort()
        req = self.hreq
        if req is not None and req.body is not None:
            req.body.wake()

    def pause_writing(self) -> None:
        self.write_paused = True
        ex = self.ex
        up = ex.up if ex is not None else self.tunnel
        if up is not None and up.transport is not None and not up.closed:
            up.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        ex = self.ex
        up = ex.up if ex is not None else self.tunnel
        if up is not None and up.transport is not None and not up.closed:
            up.transport.resume_reading()
        if self.drain is not None and not self.drain.done():
            self.drain.set_result(None)

    def pause_reading(self, why: str, pause: bool) -> None:
        t = self.transport
        if t is None or self.closed:
            return
        if pause:
            if not self.paused_by:
                t.pause_reading()
            self.paused_by.add(why)
        elif why in self.paused_by:
            self.paused_by.discard(why)
            if not self.paused_by:
                t.resume_reading()

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not self.closed and not t.is_closing():
            t.write(data)

    def close(self) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.close()

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            if self.tunnel.transport is not None:
                self.tunnel.transport.write(data)
            return
        if self.bad:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            req = self.hreq
            if req is not None:
                req.upgrade_rest = data[int(e.args[0]) :]
            self.pause_reading("upgrade", True)
        except httptools.HttpParserCallbackError as e:
            limit = e.__context__
            self._fail(limit.status if isinstance(limit, _Limit) else 400)
        except httptools.HttpParserError:
            self._fail(400)

    def _fail(self, status: int) -> None:
        """The stream cannot be parsed: answer ``status`` after what is in flight, then close."""
        self.bad = status
        self.pause_reading("bad", True)
        self.wake()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.cur = _Req(self.loop.time())

    def on_url(self, url: bytes) -> None:
        cur = self.cur
        assert cur is not None
        cur.url += url
        if len(cur.url) > MAX_URL:
            raise _Limit(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        cur = self.cur
        assert cur is not None
        n = len(name) + len(value) + 4
        cur.hsize += n
        if n > MAX_HEADER or cur.hsize > MAX_HEADERS_TOTAL:
            raise _Limit(494)
        cur.headers.append((name, value))
        low = name.lower()
        if low not in cur.hmap:
            cur.hmap[low] = value

    def on_headers_complete(self) -> None:
        cur = self.cur
        assert cur is not None
        p = self.parser
        cur.method = p.get_method().decode("latin-1")
        cur.version = p.get_http_version()
        cur.keep_alive = p.should_keep_alive()
        cur.upgrade = p.should_upgrade()
        hmap = cur.hmap
        cl = hmap.get(b"content-length")
        if cl is not None:
            cur.content_length = int(cl)
        te = hmap.get(b"transfer-encoding")
        chunked = te is not None and b"chunked" in te.lower()
        if (chunked or cur.content_length) and not cur.upgrade:
            cur.body = _Body(chunked, self.loop.time())
        self.hreq = cur
        self.pending.append(cur)
        self.wake()

    def on_body(self, body: bytes) -> None:
        cur = self.cur
        if cur is None or cur.body is None:
            return
        b = cur.body
        b.last = self.loop.time()
        b.feed(body)
        if b.sink is None and b.buffered > _CLIENT_BUFFER_HIGH:
            self.pause_reading("body", True)

    def on_message_complete(self) -> None:
        cur = self.cur
        if cur is None:
            return
        if cur.body is not None:
            cur.body.finish()
        self.cur = None

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def check(self, now: float) -> None:
        """The watchdog: a request head too slow (408), or a kept-alive connection idle too long."""
        if self.waiter is None or self.pending or self.closed:
            return
        cfg = self.proxy.config
        if self.cur is not None:
            if now - self.cur.started >= cfg.client_header_timeout:
                self.timed_out = 408
                self.wake()
        elif now - self.waiting_since >= cfg.keep_alive:
            self.timed_out = 1
            self.wake()

    async def _run(self) -> None:
        proxy = self.proxy
        served = 0
        try:
            while not self.closed:
                req = await self._next()
                if req is None:
                    break
                served += 1
                if served >= proxy.config.keep_alive_requests:
                    req.keep_alive = False  # the last one: "Connection: close", as nginx says it
                keep = await proxy.handle(self, req)
                if self.tunnel is not None:
                    return
                if not keep or served >= proxy.config.keep_alive_requests:
                    break
                if self.paused_by:
                    self.pause_reading("body", False)
        except Exception as e:  # a connection must never take the proxy down
            proxy.error(f"connection from {self.peer}: {type(e).__name__}: {e}")
        if self.tunnel is None:
            self.close()

    async def _next(self) -> _Req | None:
        if self.pending:
            return self.pending.popleft()
        self.waiting_since = self.loop.time()
        self.timed_out = 0
        while not self.pending:
            if self.closed:
                return None
            if self.bad:
                self.proxy.local_error(self, self.bad)
                return None
            if self.timed_out:
                if self.timed_out == 408:
                    self.proxy.local_error(self, 408)
                return None
            fut: asyncio.Future[None] = self.loop.create_future()
            self.waiter = fut
            try:
                await fut
            finally:
                self.waiter = None
        return self.pending.popleft()

    async def wait_writable(self) -> None:
        if self.write_paused and not self.closed:
            fut: asyncio.Future[None] = self.loop.create_future()
            self.drain = fut
            await fut


# ------------------------------------------------------------------------------------ proxy


@dataclass
class Stats:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


WATCHDOG_PERIOD = 0.25


class IngressProxy:
    """The listeners, the route table, the upstream pool, the access log."""

    loop: asyncio.AbstractEventLoop

    def __init__(
        self,
        table: RouteTable,
        resolve: Resolver,
        *,
        certs: CertStore | None = None,
        access_log: TextIO | None = None,
        error_log: TextIO | None = None,
        seed: int | None = None,
    ) -> None:
        self.table = table
        self.config: ControllerConfig = table.config
        self.resolve = resolve
        self.certs = certs
        self.access_log = access_log
        self.error_log = error_log if error_log is not None else sys.stderr
        self.rng = random.Random(seed)
        self.servers: list[asyncio.AbstractServer] = []
        self.clients: set[_Client] = set()
        self.active: set[_Exchange] = set()
        self.pool: dict[tuple[str, int, bool], list[_UpstreamConn]] = {}
        self.rr: dict[str, int] = {}
        self.https_port = 443
        self.stats = Stats()
        self.now = 0.0
        self._log_buf: list[str] = []
        self._log_flush_scheduled = False
        self._upstream_ssl: ssl.SSLContext | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(
        self, listen: tuple[str, int] | None, tls_listen: tuple[str, int] | None
    ) -> list[tuple[str, str, int]]:
        """Start the listeners; (scheme, host, port) of each, as bound."""
        self.loop = asyncio.get_running_loop()
        self.now = self.loop.time()
        bound: list[tuple[str, str, int]] = []
        if tls_listen is not None:
            assert self.certs is not None
            self.certs.update(self.table)
            srv = await self.loop.create_server(
                lambda: _Client(self, "https"),
                tls_listen[0],
                tls_listen[1],
                ssl=self.certs.default,
                backlog=2048,
                reuse_address=True,
                ssl_handshake_timeout=10.0,
            )
            self.servers.append(srv)
            name = srv.sockets[0].getsockname()
            self.https_port = int(name[1])
            bound.append(("https", str(name[0]), int(name[1])))
        if listen is not None:
            srv = await self.loop.create_server(
                lambda: _Client(self, "http"), listen[0], listen[1], backlog=2048, reuse_address=True
            )
            self.servers.append(srv)
            name = srv.sockets[0].getsockname()
            bound.insert(0, ("http", str(name[0]), int(name[1])))
        self._tick()
        return bound

    def _tick(self) -> None:
        """Every quarter second: the clock, client timeouts, silent backends."""
        now = self.now = self.loop.time()
        for c in list(self.clients):
            c.check(now)
        for ex in list(self.active):
            if now - ex.last >= ex.timeout and not ex.done.done():
                ex.fail(TimeoutError())
        self._watchdog = self.loop.call_later(WATCHDOG_PERIOD, self._tick)

    def update(self, table: RouteTable, resolve: Resolver | None = None) -> None:
        """Switch to a new route table (and backends); requests in flight finish as they are."""
        self.table = table
        self.config = table.config
        if resolve is not None:
            self.resolve = resolve
        if self.certs is not None:
            self.certs.update(table)

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        for srv in self.servers:
            srv.close()
        for c in list(self.clients):
            c.close()
        for conns in self.pool.values():
            for conn in conns:
                conn.abort()
        self.pool.clear()
        for srv in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 2.0)
        self.flush_log()

    # ------------------------------------------------------------------ logging

    def error(self, message: str) -> None:
        ts = time.strftime("%Y/%m/%d %H:%M:%S")
        with contextlib.suppress(Exception):
            print(f"{ts} [error] podnet-ingress: {message}", file=self.error_log, flush=True)

    def log(self, line: str) -> None:
        if self.access_log is None:
            return
        self._log_buf.append(line)
        if not self._log_flush_scheduled:
            self._log_flush_scheduled = True
            self.loop.call_soon(self.flush_log)

    def flush_log(self) -> None:
        self._log_flush_scheduled = False
        if not self._log_buf or self.access_log is None:
            return
        text = "\n".join(self._log_buf) + "\n"
        self._log_buf.clear()
        with contextlib.suppress(Exception):
            self.access_log.write(text)
            self.access_log.flush()

    def _count(self, status: int) -> None:
        self.stats.requests += 1
        by = self.stats.by_status
        by[status] = by.get(status, 0) + 1

    # ------------------------------------------------------------------ local answers

    def local_error(self, client: _Client, status: int) -> None:
        """Answer a request that could not be read (400, 408, 414, 494), then close."""
        body = pages.error_page(status)
        head = (
            pages.status_line(status)
            + b"Server: nginx\r\nDate: "
            + HttpDate.get()
            + b"\r\nContent-Type: text/html\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
        )
        client.write(head + body)
        code = 400 if status == 494 else status
        self._count(code)
        self.log(
            accesslog.line(
                remote_addr=client.peer,
                started=time.time(),
                request_line="",
                status=code,
                body_bytes_sent=len(body),
                referer="",
                user_agent="",
                request_length=0,
                request_time=0.0,
                upstream_name="",
                alternative_name="",
                attempts=(),
                request_id="",
            )
        )

    def _respond(self, client: _Client, req: _Req, status: int, *, location: str | None, keep: bool) -> int:
        body = pages.error_page(status)
        parts = [
            pages.status_line(status),
            b"Server: nginx\r\nDate: ",
            HttpDate.get(),
            b"\r\nContent-Type: text/html\r\nContent-Length: ",
            str(len(body)).encode(),
            b"\r\n",
        ]
        if location is not None:
            parts.append(b"Location: " + location.encode("latin-1", "replace") + b"\r\n")
        parts.append(b"Connection: keep-alive\r\n\r\n" if keep else b"Connection: close\r\n\r\n")
        head = b"".join(parts)
        if req.method == "HEAD":
            client.write(head)
            return 0
        client.write(head + body)
        return len(body)

    # ------------------------------------------------------------------ requests

    async def handle(self, client: _Client, req: _Req) -> bool:
        """Serve one request; whether the connection may carry another."""
        started_wall = time.time() if self.access_log is not None else 0.0
        hmap = req.hmap
        host_b = hmap.get(b"host")
        target = req.url.decode("latin-1")
        host = host_b.decode("latin-1") if host_b is not None else ""
        cfg = self.config
        view = forwarding.client_view(
            peer=client.peer, scheme=client.scheme, port=client.port, host=host, headers=hmap, config=cfg
        )
        rid_b = hmap.get(b"x-request-id")
        if rid_b:
            request_id = rid_b.decode("latin-1")
        elif cfg.generate_request_id:
            request_id = "%032x" % self.rng.getrandbits(128)
        else:
            request_id = ""
        keep = req.keep_alive and not client.closed
        verdict: Verdict | None = None
        if host_b is None and req.version == "1.1":
            status = 400  # nginx: client sent HTTP/1.1 request without "Host" header
        else:
            verdict = self.table.route(
                Request(
                    scheme=client.scheme,
                    host=host,
                    target=target,
                    method=req.method,
                    sni=client.sni,
                    client_ip=view.remote_addr,
                    headers=_LazyHeaders(hmap),
                    server_port=client.port,
                    https_port=self.https_port,
                ),
                self._roll,
            )
            status = verdict.status
        attempts: list[accesslog.Attempt] = []
        settings = verdict.settings if verdict is not None else None
        if verdict is not None and verdict.proxied and settings is not None:
            limit = settings.proxy_body_size
            if limit and req.content_length is not None and req.content_length > limit:
                status = 413
            elif settings.backend_protocol in ("GRPC", "GRPCS", "FCGI"):
                status = 502
                self.error(
                    f"backend-protocol {settings.backend_protocol} of {verdict.ingress} is not "
                    "supported by podnet's proxy: 502"
                )
        if verdict is not None and status == 200 and verdict.proxied:
            status, sent, keep = await self._proxy(client, req, verdict, view, request_id, attempts, keep)
        else:
            if status in (400, 408, 413, 414, 494) or req.upgrade or (req.body is not None and not req.body.done):
                keep = False
            location = verdict.location if verdict is not None else None
            sent = self._respond(client, req, status, location=location, keep=keep)
        self._count(status)
        if self.access_log is not None:
            request_line = f"{req.method} {target} HTTP/{req.version}"
            self.log(
                accesslog.line(
                    remote_addr=view.remote_addr,
                    started=started_wall,
                    request_line=request_line,
                    status=status,
                    body_bytes_sent=sent,
                    referer=hmap.get(b"referer", b"").decode("latin-1"),
                    user_agent=hmap.get(b"user-agent", b"").decode("latin-1"),
                    request_length=len(request_line) + 4 + req.hsize + (req.body.size if req.body else 0),
                    request_time=max(0.0, self.loop.time() - req.started),
                    upstream_name=verdict.upstream_name if verdict is not None else "",
                    alternative_name=verdict.alternative if verdict is not None else "",
                    attempts=attempts,
                    request_id=request_id,
                )
            )
        return keep

    def _roll(self, n: int) -> int:
        return self.rng.randint(1, n)

    async def _connect(self, addr: tuple[str, int], tls: bool, timeout: float, fresh: bool) -> _UpstreamConn:
        key = (addr[0], addr[1], tls)
        if not fresh:
            conns = self.pool.get(key)
            now = self.now
            while conns:
                conn = conns.pop()
                if conn.closed or conn.transport is None or conn.transport.is_closing():
                    continue
                if now - conn.idle_since > self.config.upstream_keepalive_timeout:
                    conn.abort()
                    continue
                conn.reused = True
                return conn
        ctx: ssl.SSLContext | None = None
        if tls:
            if self._upstream_ssl is None:
                c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                c.check_hostname = False
                c.verify_mode = ssl.CERT_NONE  # proxy-ssl-verify is off by default in ingress-nginx
                self._upstream_ssl = c
            ctx = self._upstream_ssl
        _, proto = await asyncio.wait_for(
            self.loop.create_connection(lambda: _UpstreamConn(self, key), addr[0], addr[1], ssl=ctx),
            timeout,
        )
        assert isinstance(proto, _UpstreamConn)
        return proto

    def _release(self, conn: _UpstreamConn) -> None:
        conn.ex = None
        conn.requests += 1
        if conn.closed or conn.requests >= self.config.upstream_keepalive_requests:
            conn.abort()
            return
        conn.idle_since = self.now
        conns = self.pool.get(conn.key)
        if conns is None:
            conns = self.pool[conn.key] = []
        conns.append(conn)
        if len(conns) > 320:
            conns.pop(0).abort()

    def forget(self, conn: _UpstreamConn) -> None:
        conns = self.pool.get(conn.key)
        if conns and conn in conns:
            conns.remove(conn)

    async def _proxy(
        self,
        client: _Client,
        req: _Req,
        v: Verdict,
        view: forwarding.ClientView,
        request_id: str,
        attempts: list[accesslog.Attempt],
        keep: bool,
    ) -> tuple[int, int, bool]:
        """Send the request to an endpoint; (status, body bytes sent, keep-alive)."""
        ups = v.upstream
        s = v.settings
        assert ups is not None and s is not None
        loop = self.loop
        tls = s.backend_protocol == "HTTPS" or (s.backend_protocol == "AUTO_HTTP" and client.scheme == "https")
        raw_target = req.url
        upstream_target = v.upstream_path
        vkey = (view.remote_addr, view.peer, view.scheme, view.port, view.forwarded_for, view.forwarded_host)
        if client.view_key != vkey:
            client.view_key = vkey
            client.block = forwarding.forwarded_block(view, self.config)
        upgrade = req.hmap.get(b"upgrade") if req.upgrade else None
        body_mode = "none" if req.body is None else ("chunked" if req.body.chunked else "length")
        head = forwarding.upstream_request_head(
            method=req.method,
            target=upstream_target if upstream_target is not None else raw_target.decode("latin-1"),
            headers=req.headers,
            view=view,
            config=self.config,
            request_id=request_id,
            host=v.upstream_host,
            upgrade=upgrade,
            body=body_mode,
            content_length=req.content_length,
            x_forwarded_prefix=s.x_forwarded_prefix
            if upstream_target is not None and upstream_target.encode("latin-1") != raw_target
            else "",
            block=client.block,
        )
        eps = ups.endpoints
        n = len(eps)
        start = self.rr.get(ups.name, 0)
        self.rr[ups.name] = (start + 1) % n
        tries = s.proxy_next_upstream_tries
        count = n if tries <= 0 else min(tries, n)
        timed_out = False
        for i in range(count):
            ep = eps[(start + i) % n]
            addr = self.resolve(ups, ep, tls)
            if addr is None:
                attempts.append(accesslog.Attempt(ep.hostport, "502", 0, 0.0))
                self.error(f"no emulated backend for {ups.service_ref} endpoint {ep.hostport} (upstream {ups.name})")
                continue
            attempt = accesslog.Attempt(ep.hostport)
            attempts.append(attempt)
            for fresh in (False, True):
                t0 = loop.time()
                try:
                    conn = await self._connect(addr, tls, s.proxy_connect_timeout, fresh)
                except (TimeoutError, asyncio.TimeoutError):
                    timed_out = True
                    attempt.status, attempt.length, attempt.seconds = "504", 0, loop.time() - t0
                    self.error(f"upstream timed out while connecting to {ep.hostport} ({addr[0]}:{addr[1]})")
                    break
                except OSError as e:
                    timed_out = False
                    attempt.status, attempt.length, attempt.seconds = "502", 0, loop.time() - t0
                    self.error(f"connect() to {ep.hostport} ({addr[0]}:{addr[1]}) failed: {e.strerror or e}")
                    break
                status, sent, keep2, retry = await self._exchange(client, req, v, conn, head, attempt, keep)
                if retry and not fresh:
                    continue
                return status, sent, keep2
        status = 504 if timed_out else 502
        return status, self._respond(client, req, status, location=None, keep=False), False

    async def _exchange(
        self,
        client: _Client,
        req: _Req,
        v: Verdict,
        conn: _UpstreamConn,
        head: bytes,
        attempt: accesslog.Attempt,
        keep: bool,
    ) -> tuple[int, int, bool, bool]:
        """(status, bytes sent to the client, keep-alive, retry on a fresh connection)."""
        loop = self.loop
        s = v.settings
        assert s is not None
        ex = _Exchange(client, conn, req.method, req.version, keep, self.loop.time())
        ex.upgrade = req.upgrade
        ex.timeout = s.proxy_read_timeout
        conn.ex = ex
        client.ex = ex
        self.active.add(ex)
        t0 = loop.time()
        transport = conn.transport
        assert transport is not None
        try:
            body = req.body
            if body is not None and not body.done and b"expect" in req.hmap:
                if req.hmap[b"expect"].lower() == b"100-continue":
                    client.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            transport.write(head)
            if req.upgrade_rest:
                transport.write(req.upgrade_rest)
            if body is not None:
                await self._send_body(client, conn, ex, body, s.proxy_body_size)
            await ex.done
        except _Limit as e:
            self._detach(client, conn, ex)
            conn.abort()
            attempt.status = "-"
            if ex.head_seen:
                return e.status, ex.body_sent, False, False
            return e.status, self._respond(client, req, e.status, location=None, keep=False), False, False
        except (TimeoutError, asyncio.TimeoutError):
            self._detach(client, conn, ex)
            conn.abort()
            attempt.status, attempt.seconds = "504", loop.time() - t0
            if ex.head_seen:
                self.error(f"upstream timed out while reading upstream from {attempt.addr}")
                attempt.status, attempt.length = str(ex.status), ex.resp_length
                return ex.status, ex.body_sent, False, False
            self.error(f"upstream timed out while reading response header from {attempt.addr}")
            return 504, self._respond(client, req, 504, location=None, keep=False), False, False
        except Exception as e:
            self._detach(client, conn, ex)
            conn.abort()
            if client.closed:
                attempt.status = "-" if not ex.head_seen else str(ex.status)
                return 499, ex.body_sent, False, False
            if ex.head_seen:
                attempt.status, attempt.length = str(ex.status), ex.resp_length
                self.error(f"upstream prematurely closed connection while reading upstream from {attempt.addr}")
                return ex.status, ex.body_sent, False, False
            if conn.reused and not ex.got_bytes and req.body is None:
                return 502, 0, False, True
            attempt.status, attempt.seconds = "502", loop.time() - t0
            self.error(
                f"upstream prematurely closed connection while reading response header from "
                f"{attempt.addr}: {type(e).__name__}"
            )
            return 502, self._respond(client, req, 502, location=None, keep=False), False, False
        self._detach(client, conn, ex)
        attempt.seconds = loop.time() - t0
        if ex.switching:  # 101: the connection is a tunnel now
            attempt.status = "101"
            return 101, 0, False, False
        attempt.status = str(ex.status)
        attempt.length = ex.resp_length
        if ex.keep_alive and not ex.resp_close_delimited and not conn.closed:
            self._release(conn)
        else:
            conn.abort()
        keep = ex.keep_client
        if req.upgrade:
            keep = False
        if client.write_paused:
            await client.wait_writable()
        return ex.status, ex.body_sent, keep and not client.closed, False

    async def _send_body(self, client: _Client, conn: _UpstreamConn, ex: _Exchange, body: _Body, limit: int) -> None:
        """Stream the request body to the backend as it arrives (an early response stops it)."""
        loop = self.loop

        def sink(data: bytes) -> None:
            if conn.transport is not None and not conn.closed:
                conn.transport.write(data)

        body.attach(sink)
        client.pause_reading("body", False)
        while not body.done:
            if client.closed:
                raise ConnectionResetError("client closed the connection")
            if limit and body.size > limit:
                raise _Limit(413)
            if loop.time() >= body.last + self.config.client_body_timeout:
                raise _Limit(408)
            if ex.done.done() or ex.head_seen:
                return
            w: asyncio.Future[None] = loop.create_future()
            body.waiter = w
            h = loop.call_later(WATCHDOG_PERIOD * 4, _set_none, w)

            def wake(_f: Any, fut: asyncio.Future[None] = w) -> None:
                _set_none(fut)

            ex.done.add_done_callback(wake)
            try:
                await w
            finally:
                h.cancel()
                body.waiter = None
                ex.done.remove_done_callback(wake)
            ex.last = max(ex.last, body.last)  # an upload in progress is not a silent backend
        if limit and body.size > limit:
            raise _Limit(413)

    def _detach(self, client: _Client, conn: _UpstreamConn, ex: _Exchange) -> None:
        self.active.discard(ex)
        if client.ex is ex:
            client.ex = None
        if conn.ex is ex:
            conn.ex = None

    # called from the upstream protocol
    def switch(self, ex: _Exchange, rest: bytes) -> None:
        """The backend answered 101: pass the head on and join the two connections."""
        client, conn = ex.client, ex.up
        ex.switching = True
        self._write_head(ex, switching=True)
        ex.flush()
        conn.ex = None
        conn.tunnel = client
        client.tunnel = conn
        client.pause_reading("upgrade", False)
        if rest:
            client.write(rest)
        ex.finish()

    def start_response(self, ex: _Exchange) -> None:
        self._write_head(ex, switching=False)

    def _write_head(self, ex: _Exchange, switching: bool) -> None:
        kept = forwarding.response_headers(ex.headers, switching=switching)
        length = None
        if not switching:
            for name, value in ex.headers:
                if name.lower() == b"content-length":
                    length = value
                    break
        reason = ex.reason or pages.reason(ex.status).encode()
        parts = [b"HTTP/1.1 %d %s\r\nServer: nginx\r\nDate: %s\r\n" % (ex.status, reason, HttpDate.get())]
        for name, value in kept:
            parts.append(name + b": " + value + b"\r\n")
        if not switching:
            if length is not None and not ex.resp_chunked:
                parts.append(b"Content-Length: " + length + b"\r\n")
            elif ex.head_method == "HEAD" or ex.status in (204, 304):
                pass
            elif ex.client_version == "1.1":
                parts.append(b"Transfer-Encoding: chunked\r\n")
                ex.resp_chunked = True
            else:
                ex.resp_chunked = False
                ex.keep_client = False
            parts.append(b"Connection: keep-alive\r\n\r\n" if ex.keep_client else b"Connection: close\r\n\r\n")
        else:
            parts.append(b"\r\n")
        ex.out.append(b"".join(parts))

    def end_body(self, ex: _Exchange) -> None:
        if ex.resp_chunked:
            ex.resp_chunked = False
            ex.out.append(b"0\r\n\r\n")


def _set_none(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


# ------------------------------------------------------------------------------------ running


def parse_listen(text: str, what: str) -> tuple[str, int]:
    """``ADDR:PORT`` (``[v6]:PORT``; ``:PORT`` is 127.0.0.1) → (host, port). Raises ValueError."""
    t = text.strip()
    if t.startswith("["):
        host, _, port = t[1:].partition("]:")
    else:
        host, _, port = t.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f'{what}: "{text}" is not ADDR:PORT')
    return host or "127.0.0.1", int(port)


def addr_text(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
