"""The ``forward`` plugin's I/O: send a query to the upstreams a :class:`Forward` decision names.

The pure core decides *whether* and *to whom* (``Forward.upstreams``, already in the order the
``policy`` gives); this module performs it the way plugin/forward/forward.go does:

* The client's query goes out as it came, with a fresh random ID, over UDP — or TCP when the
  client used TCP, or with ``force_tcp``; ``prefer_udp`` sends UDP first and retries a truncated
  reply over TCP. A reply counts only from the upstream's address and with the ID sent.
* The upstreams are tried in order, wrapping around, each attempt with its own read timeout
  (``read_timeout``, CoreDNS's 2 s by default), until one answers or the overall deadline (5 s,
  CoreDNS's ``defaultTimeout``) passes. No answer at all → the caller completes the decision with
  None, which the core turns into SERVFAIL: never a hang.
* Health (``max_fails``, ``health_check``): a failed exchange starts a health-check loop on that
  upstream, probing ``. IN NS`` every ``health_check`` interval until something answers; each
  failed probe counts one fail and any answer resets the count. An upstream with more than
  ``max_fails`` fails is *down* and skipped (``max_fails 0``: never down). When every upstream is
  down, one is picked at random anyway (``coredns_forward_healthcheck_broken_total``).
* ``max_concurrent``: beyond that many queries in flight, a query is answered REFUSED.

Departures from CoreDNS, all about efficiency rather than answers: no connection reuse (so
``expire`` has nothing to expire), and after a full round of failed attempts the loop pauses
50 ms instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import struct
import time
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from podnet.dns.answer import Forward
from podnet.servers.dns_metrics import Metrics

DEFAULT_DEADLINE = 5.0
DEFAULT_READ_TIMEOUT = 2.0
HC_TIMEOUT = 1.0


def split_host_port(addr: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` (as ``ServerConfig.upstreams`` writes them)."""
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if addr.count(":") == 1:
        host, port = addr.split(":")
        return host, int(port)
    return addr, 53


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self, want_id: bytes, fut: asyncio.Future[bytes]) -> None:
        self.want_id = want_id
        self.fut = fut

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 12 and data[:2] == self.want_id and not self.fut.done():
            self.fut.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc or ConnectionError("closed"))


async def exchange_udp(host: str, port: int, wire: bytes, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Datagram(wire[:2], fut), remote_addr=(host, port))
    try:
        transport.sendto(wire)
        return await asyncio.wait_for(fut, timeout)
    finally:
        transport.close()


async def exchange_tcp(host: str, port: int, wire: bytes, timeout: float) -> bytes:
    async def go() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            while True:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(n)
                if data[:2] == wire[:2]:
                    return data
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.wait_for(go(), timeout)


@dataclass(slots=True)
class Upstream:
    addr: str
    host: str
    port: int
    fails: int = 0
    probe: asyncio.Task[None] | None = None

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
    """The upstreams' state (fails, health checks) and the exchange loop."""

    metrics: Metrics
    deadline: float = DEFAULT_DEADLINE
    upstreams: dict[str, Upstream] = field(default_factory=dict)
    inflight: int = 0
    closed: bool = False

    def upstream(self, addr: str) -> Upstream:
        up = self.upstreams.get(addr)
        if up is None:
            host, port = split_host_port(addr)
            up = self.upstreams[addr] = Upstream(addr, host, port)
        return up

    async def close(self) -> None:
        self.closed = True
        tasks = [u.probe for u in self.upstreams.values() if u.probe is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    # -------------------------------------------------------------------------- health

    def _start_probe(self, up: Upstream, decision: Forward) -> None:
        cfg = decision.config
        if cfg.max_fails == 0 or self.closed or (up.probe is not None and not up.probe.done()):
            return
        up.probe = asyncio.get_running_loop().create_task(
            self._probe_loop(up, cfg.health_check, cfg.health_check_domain, cfg.force_tcp))

    async def _probe_loop(self, up: Upstream, interval: float, domain: str, tcp: bool) -> None:
        interval = max(interval, 0.05)
        while not self.closed:
            ping = dns.message.make_query(dns.name.from_text(domain), dns.rdatatype.NS)
            ping.flags |= dns.flags.RD
            ping.id = secrets.randbits(16)
            try:
                if tcp:
                    await exchange_tcp(up.host, up.port, ping.to_wire(), HC_TIMEOUT)
                else:
                    await exchange_udp(up.host, up.port, ping.to_wire(), HC_TIMEOUT)
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
                if tcp:
                    data = await exchange_tcp(up.host, up.port, wire, timeout)
                else:
                    data = await exchange_udp(up.host, up.port, wire, timeout)
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
