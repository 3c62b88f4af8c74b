"""The ``forward`` plugin's I/O: send a query to the upstreams a :class:`Forward` decision names.

The pure core decides *whether* and *to whom* (``Forward.upstreams``, already in the order the
``policy`` gives); this module performs it the way plugin/forward and plugin/pkg/proxy do:

* The client's query goes out as it came, with a fresh random ID, over UDP — or TCP when the
  client used TCP, or with ``force_tcp``; ``prefer_udp`` sends UDP first and retries a truncated
  reply over TCP. A reply counts only from the upstream's address and with the ID sent; replies
  with another ID (late answers to an earlier query on a reused connection) are skipped.
* The upstreams are tried in order, wrapping around, each attempt with its own read timeout
  (``read_timeout``, CoreDNS's 2 s by default), until one answers or the overall deadline (5 s,
  CoreDNS's ``defaultTimeout``) passes. No answer at all → the caller completes the decision with
  None, which the core turns into SERVFAIL: never a hang.
* Connections are reused (proxy/persistent.go): each upstream keeps its idle connections per
  protocol — connected UDP sockets and TCP connections — and an exchange takes the oldest one
  (FIFO, for source-port diversity) or opens a new one, uses it for one query at a time and
  gives it back. An idle connection is closed once it has been unused for ``expire`` (10 s by
  default), any connection older than ``max_age`` (when set), and beyond ``max_idle_conns`` idle
  ones per protocol the surplus is closed at once. A reused TCP connection the upstream has
  closed meanwhile is not a failure: the query is sent again on another (``ErrCachedClosed``).
  A connection that timed out or failed is closed, never given back.
  ``coredns_proxy_conn_cache_hits_total`` / ``_misses_total`` count reuses and opens.
* Health (``max_fails``, ``health_check``): a failed exchange starts a health-check loop on that
  upstream, probing ``. IN NS`` every ``health_check`` interval (on a connection of its own, as
  CoreDNS's health checker has) until something answers; each failed probe counts one fail and
  any answer resets the count. An upstream with more than ``max_fails`` fails is *down* and
  skipped (``max_fails 0``: never down). When every upstream is down, one is picked at random
  anyway (``coredns_forward_healthcheck_broken_total``).
* ``max_concurrent``: beyond that many queries in flight, a query is answered REFUSED.

Every socket is made by :meth:`Forwarder.udp_socket` / :meth:`Forwarder.tcp_socket`, so that a
subclass can open them elsewhere (the CoreDNS pods of the real data plane open them inside the
pod's network namespace).

Departure from CoreDNS, about efficiency rather than answers: after a full round of failed
attempts the loop pauses 50 ms instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import secrets
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from podnet.dns.answer import Forward
from podnet.dns.corefile import ForwardConfig
from podnet.servers.dns_metrics import Metrics

DEFAULT_DEADLINE = 5.0
DEFAULT_READ_TIMEOUT = 2.0
HC_TIMEOUT = 1.0
_FRAME = struct.Struct("!H")

#: Whether a plain :class:`Forwarder` may open sockets in this process's own network
#: namespace. The real data plane's daemon turns this off: its CoreDNS pods forward through
#: subclasses that open their sockets inside the pods, and nothing else may send a query.
host_sockets_allowed = True


def split_host_port(addr: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` (as ``ServerConfig.upstreams`` writes them)."""
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if addr.count(":") == 1:
        host, port = addr.split(":")
        return host, int(port)
    return addr, 53


class CachedClosed(ConnectionError):
    """A reused connection turned out to be closed by the upstream before it answered."""


# ------------------------------------------------------------------------------ connections


class _UdpConn(asyncio.DatagramProtocol):
    """A connected UDP socket to one upstream, carrying one exchange at a time."""

    proto = "udp"

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.want: bytes | None = None
        self.fut: asyncio.Future[bytes] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: object) -> None:
        fut = self.fut
        if fut is not None and not fut.done() and len(data) >= 12 and data[:2] == self.want:
            fut.set_result(data)

    def error_received(self, exc: Exception) -> None:
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_exception(exc or ConnectionError("closed"))

    async def exchange(self, wire: bytes, cached: bool) -> bytes:
        assert self.transport is not None
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.want, self.fut = wire[:2], fut
        try:
            self.transport.sendto(wire)
            return await fut
        finally:
            self.want = self.fut = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _TcpConn:
    """A TCP connection to one upstream, carrying one exchange at a time."""

    proto = "tcp"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def closed(self) -> bool:
        return self.writer.is_closing() or self.reader.at_eof()

    async def exchange(self, wire: bytes, cached: bool) -> bytes:
        got_any = False
        try:
            self.writer.write(_FRAME.pack(len(wire)) + wire)
            await self.writer.drain()
            while True:
                head = await self.reader.readexactly(2)
                got_any = True
                (n,) = _FRAME.unpack(head)
                data = await self.reader.readexactly(n)
                if data[:2] == wire[:2]:  # drop out-of-order replies
                    return data
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as e:
            if cached and not got_any:
                raise CachedClosed("cached connection was closed by the upstream") from e
            raise

    def close(self) -> None:
        self.writer.close()


_Conn = _UdpConn | _TcpConn


@dataclass(slots=True)
class _Pooled:
    conn: _Conn
    created: float
    used: float


@dataclass
class Transport:
    """One upstream's idle connections per protocol (CoreDNS's ``proxy.Transport``)."""

    addr: str
    expire: float = 10.0
    max_age: float = 0.0
    max_idle: int = 0
    idle: dict[str, deque[_Pooled]] = field(default_factory=lambda: {"udp": deque(), "tcp": deque()})
    _timer: asyncio.TimerHandle | None = None

    def configure(self, cfg: ForwardConfig) -> None:
        self.expire, self.max_age, self.max_idle = cfg.expire, cfg.max_age, cfg.max_idle_conns

    def _stale(self, p: _Pooled, now: float) -> bool:
        return (p.conn.closed or now - p.used > self.expire
                or (self.max_age > 0 and now - p.created > self.max_age))

    def take(self, proto: str) -> _Pooled | None:
        """The oldest idle connection still fresh (stale ones met on the way are closed)."""
        stack = self.idle[proto]
        now = time.monotonic()
        while stack:
            p = stack.popleft()
            if self._stale(p, now):
                p.conn.close()
                continue
            return p
        return None

    def give(self, p: _Pooled) -> None:
        """Back into the pool after a good exchange; closed at once beyond ``max_idle``."""
        p.used = time.monotonic()
        stack = self.idle[p.conn.proto]
        if self.max_idle and len(stack) >= self.max_idle:
            p.conn.close()
            return
        stack.append(p)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        oldest = [s[0].used for s in self.idle.values() if s]
        if not oldest:
            return
        delay = max(0.0, min(oldest) + self.expire - time.monotonic()) + 0.001
        if self.max_age > 0:
            born = [p.created for s in self.idle.values() for p in s]
            delay = min(delay, max(0.0, min(born) + self.max_age - time.monotonic()) + 0.001)
        self._timer = asyncio.get_running_loop().call_later(delay, self.cleanup)

    def cleanup(self) -> None:
        """Close the idle connections that expired (``connManager``'s tick, run when the
        oldest one is due rather than on a fixed ticker)."""
        self._timer = None
        now = time.monotonic()
        for proto, stack in self.idle.items():
            keep: deque[_Pooled] = deque()
            for p in stack:
                if self._stale(p, now):
                    p.conn.close()
                else:
                    keep.append(p)
            self.idle[proto] = keep
        self._schedule()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for stack in self.idle.values():
            while stack:
                stack.popleft().conn.close()

    def count(self, proto: str) -> int:
        return len(self.idle[proto])


@dataclass(slots=True)
class Upstream:
    addr: str
    host: str
    port: int
    fails: int = 0
    probe: asyncio.Task[None] | None = None
    transport: Transport | None = None

    def down(self, max_fails: int) -> bool:
        return max_fails != 0 and self.fails > max_fails


def _describe(exc: BaseException, proto: str, up: Upstream) -> str:
    if isinstance(exc, TimeoutError):
        return f"read {proto} {up.addr}: i/o timeout"
    if isinstance(exc, ConnectionRefusedError):
        return f"read {proto} {up.addr}: connection refused"
    if isinstance(exc, (ConnectionError, OSError)):
        return f"{proto} {up.addr}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
    return f"{proto} {up.addr}: {exc}"


@dataclass
class Forwarder:
    """The upstreams' state (fails, health checks, pooled connections) and the exchange loop."""

    metrics: Metrics
    deadline: float = DEFAULT_DEADLINE
    upstreams: dict[str, Upstream] = field(default_factory=dict)
    inflight: int = 0
    closed: bool = False

    def upstream(self, addr: str) -> Upstream:
        up = self.upstreams.get(addr)
        if up is None:
            host, port = split_host_port(addr)
            up = self.upstreams[addr] = Upstream(addr, host, port, transport=Transport(addr))
        return up

    async def close(self) -> None:
        self.closed = True
        tasks = [u.probe for u in self.upstreams.values() if u.probe is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        for u in self.upstreams.values():
            if u.transport is not None:
                u.transport.close()

    # -------------------------------------------------------------------------- sockets

    def udp_socket(self, family: int) -> socket.socket:
        """A new UDP socket to talk to an upstream with (override to open it elsewhere)."""
        if not host_sockets_allowed:
            raise OSError(errno.EPERM, "podnet: no forwarding from the host namespace")
        return socket.socket(family, socket.SOCK_DGRAM)

    def tcp_socket(self, family: int) -> socket.socket:
        """A new TCP socket to talk to an upstream with (override to open it elsewhere)."""
        if not host_sockets_allowed:
            raise OSError(errno.EPERM, "podnet: no forwarding from the host namespace")
        return socket.socket(family, socket.SOCK_STREAM)

    async def dial(self, up: Upstream, proto: str) -> _Conn:
        """A new connection to ``up`` (the caller bounds the time it may take)."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in up.host else socket.AF_INET
        if proto == "tcp":
            sock = self.tcp_socket(family)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, (up.host, up.port))
                reader, writer = await asyncio.open_connection(sock=sock, limit=65535 + 2)
            except BaseException:
                sock.close()
                raise
            return _TcpConn(reader, writer)
        sock = self.udp_socket(family)
        try:
            sock.setblocking(False)
            sock.connect((up.host, up.port))
            _, proto_obj = await loop.create_datagram_endpoint(_UdpConn, sock=sock)
        except BaseException:
            sock.close()
            raise
        return proto_obj

    async def exchange(self, up: Upstream, proto: str, wire: bytes) -> bytes:
        """One query to ``up`` on a pooled connection (or a new one); the reply's bytes. The
        caller bounds the time (a timeout cancels this and the connection is closed)."""
        transport = up.transport
        assert transport is not None
        while True:
            pooled = transport.take(proto)
            cached = pooled is not None
            if pooled is None:
                self.metrics.conn_misses[(up.addr, proto)] += 1
                now = time.monotonic()
                pooled = _Pooled(await self.dial(up, proto), now, now)
            else:
                self.metrics.conn_hits[(up.addr, proto)] += 1
            try:
                data = await pooled.conn.exchange(wire, cached)
            except CachedClosed:
                pooled.conn.close()
                continue
            except BaseException:
                pooled.conn.close()  # not giving it back
                raise
            if self.closed:
                pooled.conn.close()
            else:
                transport.give(pooled)
            return data

    # -------------------------------------------------------------------------- health

    def _start_probe(self, up: Upstream, decision: Forward) -> None:
        cfg = decision.config
        if cfg.max_fails == 0 or self.closed or (up.probe is not None and not up.probe.done()):
            return
        up.probe = asyncio.get_running_loop().create_task(
            self._probe_loop(up, cfg.health_check, cfg.health_check_domain, cfg.force_tcp))

    async def _health_exchange(self, up: Upstream, proto: str, wire: bytes) -> bytes:
        conn = await self.dial(up, proto)
        try:
            return await conn.exchange(wire, False)
        finally:
            conn.close()

    async def _probe_loop(self, up: Upstream, interval: float, domain: str, tcp: bool) -> None:
        interval = max(interval, 0.05)
        while not self.closed:
            ping = dns.message.make_query(dns.name.from_text(domain), dns.rdatatype.NS)
            ping.flags |= dns.flags.RD
            ping.id = secrets.randbits(16)
            try:
                await asyncio.wait_for(
                    self._health_exchange(up, "tcp" if tcp else "udp", ping.to_wire()), HC_TIMEOUT)
            except (OSError, TimeoutError, EOFError, asyncio.IncompleteReadError):
                self.metrics.hc_failures[up.addr] += 1
                up.fails += 1
                await asyncio.sleep(interval)
                continue
            up.fails = 0
            return

    # -------------------------------------------------------------------------- forwarding

    async def forward(
        self, decision: Forward, protocol: str
    ) -> tuple[dns.message.Message | None, str | None, bool]:
        """Ask the upstreams. Returns (reply or None, the last error text, rejected by
        max_concurrent)."""
        cfg = decision.config
        ups = [self.upstream(a) for a in decision.upstreams]
        if not ups:
            return None, "no upstream", False
        if cfg.max_concurrent and self.inflight >= cfg.max_concurrent:
            self.metrics.max_concurrent_rejects += 1
            return None, "concurrent queries exceeded maximum", True
        self.inflight += 1
        try:
            return (*await self._forward(decision, ups, protocol), False)
        finally:
            self.inflight -= 1

    async def _forward(
        self, decision: Forward, ups: list[Upstream], protocol: str
    ) -> tuple[dns.message.Message | None, str | None]:
        cfg = decision.config
        tcp = cfg.force_tcp or (protocol == "tcp" and not cfg.prefer_udp)
        attempt_timeout = max(0.001, min(cfg.timeout, DEFAULT_READ_TIMEOUT))
        base = decision.query.to_wire()
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = fails = 0
        last_err: str | None = None
        n = len(ups)
        for up in ups:
            assert up.transport is not None
            up.transport.configure(cfg)
        while not self.closed:
            remaining = self.deadline - (loop.time() - start)
            if remaining <= 0:
                break
            if i and i % n == 0:
                await asyncio.sleep(min(0.05, remaining))
                remaining = self.deadline - (loop.time() - start)
                if remaining <= 0:
                    break
            up = ups[i % n]
            i += 1
            if up.down(cfg.max_fails):
                fails += 1
                if fails < n:
                    continue
                up = random.choice(ups)
                self.metrics.hc_broken += 1
            wire = struct.pack("!H", secrets.randbits(16)) + base[2:]
            proto = "tcp" if tcp else "udp"
            self.metrics.fwd_requests[up.addr] += 1
            t0 = time.perf_counter()
            try:
                timeout = min(attempt_timeout, remaining)
                data = await asyncio.wait_for(self.exchange(up, proto, wire), timeout)
                reply = dns.message.from_wire(data, ignore_trailing=True)
            except (OSError, TimeoutError, EOFError, asyncio.IncompleteReadError,
                    dns.exception.DNSException, ValueError) as e:
                last_err = _describe(e, proto, up)
                self._start_probe(up, decision)
                if fails < n:
                    continue
                break
            self.metrics.forward_done(up.addr, dns.rcode.to_text(reply.rcode()),
                                      time.perf_counter() - t0)
            if reply.flags & dns.flags.TC and not tcp and cfg.prefer_udp:
                tcp = True
                i -= 1
                continue
            return reply, None
        return None, last_err
