"""The cluster DNS server: UDP and TCP sockets around :func:`podnet.dns.answer.answer`.

Theory of operation
-------------------
A packet comes in; the server asks the pure core what to do and does it, deciding nothing of its
own about names:

1. **Wire cache.** The bytes after the 2-byte ID — the question exactly as sent (letter case
   kept), the flags, the EDNS0 OPT with its size, DO bit and options — are the key of a dict per
   transport. A hit is the stored reply with the client's ID put in front: no parsing, no
   rendering. That is the hot path; everything below happens once per distinct query.
   Over UDP (on Linux) the socket is read and written in batches with ``recvmmsg``/``sendmmsg``
   (:mod:`podnet.servers.dns_udp`), driven by the event loop's readiness callback: every
   datagram waiting is read at once, the hits whose reply goes out as stored (one ordering, no
   TTL to patch, nothing to log: :attr:`_Entry.fast`) are written together, each reply being
   the client's ID straight from the receive buffer followed by the cached bytes, and the rest
   takes the path below one by one. Under load that turns two system calls and an event-loop
   round per query into two per batch; with one query waiting, it is a ``recvfrom``/``sendto``.
2. **Decode** (:func:`podnet.dns.query.decode`): a packet too short for a header or that is a
   response is dropped; a bad opcode, bad counts, or a body that does not unpack (bad labels,
   compression loops, truncated records) gets FORMERR/NOTIMP. Nothing a client sends raises past
   this point: an exception in the core is counted in ``coredns_panics_total`` and answered
   SERVFAIL, as CoreDNS recovers a plugin panic.
3. **Answer** (:func:`podnet.dns.answer.answer`) gives a decision, performed here:
   ``Reply`` → sent; ``Drop`` → nothing; ``Forward`` → :class:`~podnet.servers.dns_forward.Forwarder`
   asks the upstreams and the decision is completed with their reply (or None: SERVFAIL);
   ``Lookup`` → the sub-query is run through this same pipeline and the decision resumed;
   ``Transfer`` → every message is written on the TCP connection.
4. **Render** within the client's size (:func:`podnet.servers.dns_wire.render`): over UDP the
   EDNS0 size it advertised (512 without EDNS0), cut miekg-style with TC set, so the client
   retries over TCP; over TCP up to 65,535 bytes.
5. **Cache the reply**, when it may be reused:

   * answered from the cluster zone, ``hosts`` or the server itself, and no ``cache`` plugin
     caches it: kept until the zone or the configuration changes (the answer is a pure function
     of both) — TTLs are served as the core wrote them;
   * the ``cache`` plugin covers it (its zones, not ``disable``\\ d for that response type, not
     truncated): kept for the TTL the cache plugin gives it, and served with the *remaining* TTL
     patched into the bytes, as CoreDNS's cache serves it;
   * anything that needed an upstream (``forward``, an ExternalName outside the cluster) is kept
     only when the ``cache`` plugin caches it;
   * never: zone transfers, decode rejections, answers built while the zone changed underneath.

   With ``loadbalance``, replies with several address records are reordered per query by the
   core; the cache keeps up to :attr:`Tuning.variants` orderings of such a reply and rotates
   through them.

TCP: two-byte length framing, several queries per connection, answered as they complete
(pipelining: a slow forwarded query does not hold up the cached ones behind it); the first query
must arrive within ``tcp_read`` seconds and the next ones within ``tcp_idle`` (CoreDNS's 5 s and
10 s); a frame whose body does not arrive in time, a zero length or a closed connection ends it.
At most ``tcp_max_conns`` connections and ``tcp_inflight`` unanswered queries per connection.

Metrics (:mod:`podnet.servers.dns_metrics`) and the ``log`` plugin's lines are produced on both
paths; the ``errors`` plugin's lines when an upstream could not be reached.

The ``loop`` plugin (:mod:`podnet.dns.loop`): once the server answers, :meth:`DnsServer.start_loop_probes`
sends CoreDNS's probe to the server's own address; every query that reaches ``forward`` is
checked against the probe's name, and the third sighting halts the server (``[FATAL]
plugin/loop: Loop (…) detected …``; ``podnet dns serve`` exits 1).

The zone follows the cluster: :func:`run` polls the files the snapshot came from (a stored
cluster's state file, the Corefile when it has ``reload``, the hosts files) and rebuilds the
snapshot in a thread when one changes; :meth:`DnsServer.update` swaps it in and empties the caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import math
import os
import pickle
import secrets
import signal
import socket
import struct
import sys
import time
import zlib
from bisect import bisect_left
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TextIO, cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from podnet.dns import loop as loop_plugin
from podnet.dns.answer import Answer, Drop, Forward, Lookup, Reply, Transfer, answer
from podnet.dns.config import ServerConfig
from podnet.dns.corefile import ServerBlock
from podnet.dns.loop import LoopProbe
from podnet.dns.names import longest_zone
from podnet.dns.query import decode
from podnet.dns.zone import ZoneIndex
from podnet.servers import dns_udp
from podnet.servers.dns_forward import DEFAULT_DEADLINE, Forwarder
from podnet.servers.dns_http import HttpEndpoint
from podnet.servers.dns_metrics import (
    TIME_BUCKETS,
    Cell,
    CellKey,
    Metrics,
    size_bucket,
    type_label,
)
from podnet.servers.dns_wire import (
    MAX_MSG,
    flags_text,
    header_flags,
    render,
    ttl_offsets,
    udp_size,
    with_ttl,
)
from podnet.servers.runtime import new_event_loop

_T = dns.rdatatype
_ADDRESS_TYPES = (_T.A, _T.AAAA, _T.MX)
_NO_CACHE_TYPES = (_T.AXFR, _T.IXFR)
_FRAME = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a server answers from: its configuration and the cluster zone."""

    config: ServerConfig
    zone: ZoneIndex


@dataclass(frozen=True, slots=True)
class Tuning:
    """Limits and timeouts of the transports (CoreDNS's values by default)."""

    tcp_read: float = 5.0
    tcp_idle: float = 10.0
    tcp_max_conns: int = 1000
    tcp_inflight: int = 128
    cache_max: int = 200_000
    variants: int = 8
    forward_deadline: float = DEFAULT_DEADLINE
    rcvbuf: int = 8 << 20
    sndbuf: int = 8 << 20
    reuse_port: bool = False
    #: UDP through recvmmsg/sendmmsg batches (:mod:`podnet.servers.dns_udp`) where available
    batch: bool = True
    batch_slots: int = 64
    #: batches read per readiness callback before the event loop gets a turn
    batch_rounds: int = 16


class _Entry:
    """One cached reply: the bytes after the ID (several orderings with loadbalance)."""

    __slots__ = ("tails", "offsets", "i", "cell", "static", "simple", "more", "stored", "ttl",
                 "expires", "log_mid", "generation", "tries", "fast")

    def __init__(self, tail: bytes, offsets: tuple[int, ...], cell: Cell, *, static: bool,
                 more: bool, ttl: int, log_mid: str | None, generation: int) -> None:
        self.tails = [tail]
        self.offsets = [offsets]
        self.i = 0
        self.tries = 1
        self.cell = cell
        self.static = static
        self.more = more
        self.simple = static and not more
        self.stored = time.monotonic()
        self.ttl = ttl
        self.expires = math.inf if static else self.stored + ttl
        self.log_mid = log_mid
        self.generation = generation
        #: (reply after the ID, where its bytes are, its length) when a hit is served as is:
        #: one ordering, no TTL to patch, nothing to log — the batched UDP path's whole work
        self.fast: tuple[bytes, int, int] | None = None
        self._set_fast()

    def _set_fast(self) -> None:
        if self.simple and self.log_mid is None and dns_udp.available():
            tail = self.tails[0]
            self.fast = (tail, dns_udp.address_of(tail), len(tail))
        else:
            self.fast = None

    @property
    def tail(self) -> bytes:
        return self.tails[0]

    def add(self, tail: bytes, offsets: tuple[int, ...], limit: int) -> None:
        """Another ordering of the reply (kept when new); collecting stops at ``limit``
        distinct ones or after ``2 * limit`` tries."""
        self.tries += 1
        if tail not in self.tails:
            self.tails.append(tail)
            self.offsets.append(offsets)
        self.more = len(self.tails) < limit and self.tries < 2 * limit
        self.simple = self.static and not self.more and len(self.tails) == 1
        self._set_fast()

    def wire(self, ident: bytes) -> bytes | None:
        """The reply for a query with ID ``ident``, or None when stale / still collecting."""
        if self.more:
            return None
        n = len(self.tails)
        k = 0
        if n > 1:
            k = self.i % n
            self.i += 1
        if self.static:
            return ident + self.tails[k]
        now = time.monotonic()
        if now >= self.expires:
            return None
        tail = self.tails[k]
        offs = self.offsets[k]
        if offs:
            tail = with_ttl(tail, offs, max(0, self.ttl - int(now - self.stored)))
        return ident + tail


@dataclass(frozen=True, slots=True)
class _Where:
    """The block a query lands in and the labels it is counted under."""

    block: ServerBlock | None
    name: str
    zone: str
    qtype: str
    cache_zone: str


def _servfail(query: dns.message.Message) -> Reply:
    m = dns.message.Message(id=query.id)
    m.flags = dns.flags.QR | (query.flags & (dns.flags.RD | dns.flags.CD))
    m.question = list(query.question[:1])
    m.set_rcode(dns.rcode.SERVFAIL)
    return Reply(m, "server")


def _refused(query: dns.message.Message) -> Reply:
    m = dns.message.Message(id=query.id)
    m.flags = dns.flags.QR | (query.flags & (dns.flags.RD | dns.flags.CD))
    m.question = list(query.question[:1])
    if query.edns >= 0:
        m.use_edns(0, 0, int(query.payload))
    m.set_rcode(dns.rcode.REFUSED)
    return Reply(m, "forward")


def _addr_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _duration(seconds: float) -> str:
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return (text or "0") + "s"


def _variable(block: ServerBlock | None, msg: dns.message.Message) -> bool:
    """Whether the core may order this reply differently next time (loadbalance)."""
    if block is None or block.loadbalance is None or msg.rcode() != dns.rcode.NOERROR:
        return False
    for section in (msg.answer, msg.authority, msg.additional):
        n = sum(len(r) for r in section if r.rdtype in _ADDRESS_TYPES)
        if n >= 2:
            return True
    return False


def plugin_cache(block: ServerBlock | None, name: str, msg: dns.message.Message
                 ) -> tuple[int | None, str]:
    """How CoreDNS's ``cache`` plugin treats this reply: (seconds it keeps it or None, the hit
    type it counts — ``success`` or ``denial``)."""
    if block is None or block.cache is None:
        return None, ""
    c = block.cache
    if not longest_zone(c.zones, name) or msg.flags & dns.flags.TC:
        return None, ""
    rc = msg.rcode()
    has_answer = any(len(r) for r in msg.answer)
    if rc == dns.rcode.NOERROR and has_answer:
        kind = "success"
        if c.disable_success and longest_zone(c.disable_success, name):
            return None, ""
    elif rc == dns.rcode.NXDOMAIN or (rc == dns.rcode.NOERROR and not has_answer):
        kind = "denial"
        if c.disable_denial and longest_zone(c.disable_denial, name):
            return None, ""
    elif rc == dns.rcode.SERVFAIL:
        ttl = int(c.servfail_ttl)
        return (ttl, "denial") if ttl > 0 else (None, "")
    else:
        return None, ""
    ttls = [int(r.ttl) for r in (*msg.answer, *msg.authority, *msg.additional)]
    ttl = min(ttls) if ttls else 5
    return (ttl, kind) if ttl > 0 else (None, "")


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.s = server
        self.t: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        t0 = time.perf_counter()
        s = self.s
        e = s.udp_cache.get(data[2:])
        if e is not None and e.simple:
            assert self.t is not None
            self.t.sendto(data[:2] + e.tails[0], addr)
            e.cell.observe(len(addr) == 4, time.perf_counter() - t0)
            if e.log_mid is not None:
                s.log_hit(e, data, addr, t0)
            return
        s.udp_slow(data, addr, t0, e)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: nothing to do
        pass


class DnsServer:
    """One DNS server (UDP + TCP on one address) answering from a :class:`Snapshot`."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        host: str,
        port: int,
        metrics: Metrics | None = None,
        forwarder: Forwarder | None = None,
        tuning: Tuning = Tuning(),
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.snap = snapshot
        self.host = host
        self.port = port
        self.metrics = metrics or Metrics()
        self.tuning = tuning
        self.forwarder = forwarder or Forwarder(self.metrics, deadline=tuning.forward_deadline)
        self.log = log or (lambda line: print(line, flush=True))
        self.generation = 0
        self.udp_cache: dict[bytes, _Entry] = {}
        self.tcp_cache: dict[bytes, _Entry] = {}
        self.label = f"dns://{host}:{port}"
        self._counter = 0
        self._udp: _Udp | None = None
        self._udp_transport: asyncio.DatagramTransport | None = None
        self._udp_sock: socket.socket | None = None
        self._batch: dns_udp.Batch | None = None
        #: coredns_dns_requests_total's family index of this server's UDP clients
        self._family_index = 0
        #: the loop plugin: probe name → its detector; the fatal line once a loop was seen
        self._loops: dict[str, LoopProbe] = {}
        self.halted: str | None = None
        #: called with the fatal line when the server must halt (default: it stops answering)
        self.on_halt: Callable[[str], None] | None = None
        self._halting: asyncio.Task[None] | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------------ lifecycle

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def update(self, snapshot: Snapshot) -> None:
        """Answer from ``snapshot`` from now on; every cached reply is forgotten."""
        self.snap = snapshot
        self.generation += 1
        self.udp_cache = {}
        self.tcp_cache = {}
        self._register_plugins()

    def reload(self, snapshot: Snapshot, seeds: Mapping[str, tuple[int, int]] | None = None,
               send: bool = True) -> bool:
        """:meth:`update`, and when the server's configuration changed (a Corefile reload),
        the ``loop`` plugin starts over with a new probe name: CoreDNS sets a reloaded server
        up anew, and loop's ``OnStartup`` probes again. (CoreDNS's ``reload`` also fires on a
        Corefile change that parses the same, a comment; podnet compares the parsed form.)
        Whether the loop plugin was restarted."""
        changed = snapshot.config != self.snap.config
        self.update(snapshot)
        if not changed or self.halted is not None:
            return False
        self._loops = {}
        self.start_loop_probes(seeds, send=send)
        return True

    def _register_plugins(self) -> None:
        for b in self.snap.config.blocks:
            for z in b.zones:
                for p in b.plugins:
                    self.metrics.plugins.add((self.label, z, p))

    def _udp_socket(self, family: int, port: int) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if self.tuning.reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            for opt, force, size in ((socket.SO_RCVBUF, 33, self.tuning.rcvbuf),
                                     (socket.SO_SNDBUF, 32, self.tuning.sndbuf)):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, force, size)  # SO_{RCV,SND}BUFFORCE
                except OSError:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, opt, size)
            sock.bind((self.host, port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _tcp_socket(self, family: int, port: int) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if self.tuning.reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, port))
            sock.listen(1024)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def start(self) -> tuple[str, int]:
        """Bind UDP and TCP (port 0: one free port for both) and start answering."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        last: OSError | None = None
        for _ in range(50):
            udp = self._udp_socket(family, self.port)
            port = int(udp.getsockname()[1])
            try:
                tcp = self._tcp_socket(family, port)
            except OSError as e:
                udp.close()
                last = e
                if self.port:
                    raise
                continue
            break
        else:  # pragma: no cover - 50 collisions in a row
            raise last or OSError("no free port")
        self.port = port
        self.label = f"dns://{self.host}:{port}"
        self._register_plugins()
        self._family_index = 1 if family == socket.AF_INET6 else 0
        if self.tuning.batch and dns_udp.available():
            self._batch = dns_udp.Batch(udp, self.tuning.batch_slots)
            self._udp_sock = udp
            loop.add_reader(udp.fileno(), self._on_udp)
        else:
            transport, proto = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp)
            self._udp, self._udp_transport = proto, transport
        self._tcp = await asyncio.start_server(self._tcp_conn, sock=tcp, limit=MAX_MSG + 2)
        return self.host, port

    async def stop(self) -> None:
        if self._udp_transport is not None:
            self._udp_transport.close()
        if self._udp_sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._udp_sock.fileno())
            self._udp_sock.close()
            self._udp_sock = None
            self._batch = None
        if self._tcp is not None:
            self._tcp.close()
        for w in list(self._tcp_writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
        await self.forwarder.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------------ UDP

    def _on_udp(self) -> None:
        """The UDP socket is readable: serve batches until it is drained (or, under a flood,
        for ``batch_rounds`` batches, so that TCP and the rest get their turn)."""
        b = self._batch
        if b is None:
            return
        slots = b.slots
        for _ in range(self.tuning.batch_rounds):
            n = b.receive()
            if n == 0:
                return
            self._serve_batch(b, n)
            if n < slots or self._batch is None:
                return

    def _serve_batch(self, b: dns_udp.Batch, n: int) -> None:
        """Answer the ``n`` datagrams of a batch: wire-cache hits served as is go out together
        in one ``sendmmsg`` (the client's ID taken from the receive buffer, the cached bytes
        after it, nothing copied); everything else takes :meth:`udp_slow`, one by one."""
        t0 = time.perf_counter()
        get = self.udp_cache.get
        data = b.data
        rwords = b.rwords
        iov = b.iov
        keep = b.keep
        stride, len_at = dns_udp.MSG_WORDS, dns_udp.LEN_WORD
        slot = dns_udp.SLOT
        cells: list[Cell] = []
        slow: list[tuple[int, _Entry | None]] | None = None
        j = 0
        for i in range(n):
            off = i * slot
            e = get(data[off + 2:off + rwords[i * stride + len_at]].tobytes())
            f = e.fast if e is not None else None
            if f is None:
                if slow is None:
                    slow = []
                slow.append((i, e))
                continue
            if j != i:
                b.point(j, i)
            keep[j] = f[0]
            iov[4 * j + 2] = f[1]
            iov[4 * j + 3] = f[2]
            cells.append(e.cell)  # type: ignore[union-attr]
            j += 1
        if j:
            b.send(j)
            if j != n:  # a later batch expects slot k to answer datagram k
                for k in range(j):
                    b.point(k, k)
            dur = time.perf_counter() - t0
            bucket = 0 if dur <= TIME_BUCKETS[0] else bisect_left(TIME_BUCKETS, dur)
            idx = self._family_index
            last = cells[0]
            run = 0
            for c in cells:
                if c is not last:
                    last.observe_many(idx, run, bucket, dur)
                    last, run = c, 0
                run += 1
            last.observe_many(idx, run, bucket, dur)
        if slow is not None:
            for i, e in slow:
                self.udp_slow(b.packet(i), b.address(i), t0, e)

    def _send_udp(self, wire: bytes, addr: Any) -> None:
        if self._udp_sock is not None:
            with contextlib.suppress(OSError):
                self._udp_sock.sendto(wire, addr)
        elif self._udp_transport is not None and not self._udp_transport.is_closing():
            self._udp_transport.sendto(wire, addr)

    def udp_slow(self, data: bytes, addr: Any, t0: float, e: _Entry | None) -> None:
        if self._udp_transport is None and self._udp_sock is None:
            return
        if e is not None:
            wire = e.wire(data[:2])
            if wire is not None:
                self._send_udp(wire, addr)
                e.cell.observe(len(addr) == 4, time.perf_counter() - t0)
                if e.log_mid is not None:
                    self.log_hit(e, data, addr, t0)
                return
        out = self._compute(data, "udp", addr, t0)
        if out is None:
            return
        if isinstance(out, bytes):
            self._send_udp(out, addr)
            return
        self._spawn(self._udp_later(out, addr))

    async def _udp_later(self, pending: Coroutine[Any, Any, list[bytes]], addr: Any) -> None:
        wires = await pending
        if wires:
            self._send_udp(wires[0], addr)

    # ------------------------------------------------------------------------ TCP

    async def _tcp_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tcp_writers) >= self.tuning.tcp_max_conns:
            writer.close()
            return
        self._tcp_writers.add(writer)
        peer = writer.get_extra_info("peername") or ("", 0)
        ipv6 = len(peer) == 4
        inflight: set[asyncio.Task[Any]] = set()
        room = asyncio.Semaphore(self.tuning.tcp_inflight)
        timeout = self.tuning.tcp_read
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), timeout)
                    (n,) = _FRAME.unpack(head)
                    if n == 0:
                        break
                    body = await asyncio.wait_for(reader.readexactly(n), self.tuning.tcp_read)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, OSError):
                    break
                timeout = self.tuning.tcp_idle
                t0 = time.perf_counter()
                e = self.tcp_cache.get(body[2:])
                wire = e.wire(body[:2]) if e is not None else None
                if e is not None and wire is not None:
                    writer.write(_FRAME.pack(len(wire)) + wire)
                    e.cell.observe(2 + ipv6, time.perf_counter() - t0)
                    if e.log_mid is not None:
                        self.log_hit(e, body, peer, t0)
                else:
                    out = self._compute(body, "tcp", peer, t0)
                    if isinstance(out, bytes):
                        writer.write(_FRAME.pack(len(out)) + out)
                    elif out is not None:
                        await room.acquire()
                        task = self._spawn(self._tcp_later(out, writer, room))
                        inflight.add(task)
                        task.add_done_callback(inflight.discard)
                if writer.transport.get_write_buffer_size() > 65536:
                    try:
                        await asyncio.wait_for(writer.drain(), self.tuning.tcp_idle)
                    except (TimeoutError, ConnectionError, OSError):
                        break
            if inflight:
                await asyncio.wait(list(inflight), timeout=self.tuning.forward_deadline + 1)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.drain(), self.tuning.tcp_read)
        except asyncio.CancelledError:
            pass
        finally:
            self._tcp_writers.discard(writer)
            writer.close()

    async def _tcp_later(self, pending: Coroutine[Any, Any, list[bytes]],
                         writer: asyncio.StreamWriter, room: asyncio.Semaphore) -> None:
        try:
            for wire in await pending:
                if writer.is_closing():
                    return
                writer.write(_FRAME.pack(len(wire)) + wire)
                await asyncio.wait_for(writer.drain(), self.tuning.tcp_idle)
        except (TimeoutError, ConnectionError, OSError):
            writer.close()
        finally:
            room.release()

    # ------------------------------------------------------------------------ the pipeline

    def _where(self, snap: Snapshot, query: dns.message.Message) -> _Where:
        if not query.question:
            return _Where(None, ".", ".", "other", "")
        q = query.question[0]
        name = q.name.to_text().lower()
        block = snap.config.block_for(name)
        zone = (longest_zone(block.zones, name) or ".") if block is not None else "."
        cache_zone = ""
        if block is not None and block.cache is not None:
            cache_zone = longest_zone(block.cache.zones, name)
        return _Where(block, name, zone, type_label(_T.to_text(q.rdtype)), cache_zone)

    def _compute(self, data: bytes, protocol: str, addr: Any, t0: float
                 ) -> bytes | None | Coroutine[Any, Any, list[bytes]]:
        """Answer a query that missed the cache: bytes to send now, None (drop), or a coroutine
        giving the messages to send when an upstream or a sub-lookup is involved."""
        res = decode(data)
        if isinstance(res, Drop):
            return None
        if isinstance(res, Reply):
            try:
                return res.message.to_wire()
            except Exception:  # pragma: no cover - a header-only reply always renders
                return None
        query = res.message
        snap, gen = self.snap, self.generation
        client = str(addr[0]) if addr else None
        decision = self._answer(query, snap, protocol, client)
        if isinstance(decision, Reply):
            return self._finish(decision, query, data, protocol, addr, t0, gen, snap, False)
        if isinstance(decision, Drop):
            return None
        if self._loops and isinstance(decision, Forward):
            self._loop_seen(query, addr)
        return self._later(decision, query, data, protocol, addr, t0, gen, snap)

    def _answer(self, query: dns.message.Message, snap: Snapshot, protocol: str,
                client: str | None) -> Answer:
        self._counter += 1
        try:
            return answer(query, snap.zone, snap.config, protocol=protocol, client_ip=client,
                          seed=self._counter, counter=self._counter)
        except Exception as e:  # a bug in the core must not take the server down
            self.metrics.panics += 1
            self.log(f"[ERROR] Recovered from panic in server: {self.label} {e!r}")
            return _servfail(query)

    async def _drive(self, decision: Answer, protocol: str, client: str | None, snap: Snapshot,
                     depth: int) -> tuple[Answer, str | None]:
        """Perform Forward and Lookup decisions until a final one; (final, last upstream error)."""
        err: str | None = None
        while True:
            if isinstance(decision, Forward):
                reply, err, rejected = await self.forwarder.forward(decision, protocol)
                decision = _refused(decision.query) if rejected else decision.complete(reply)
            elif isinstance(decision, Lookup):
                sub_msg: dns.message.Message | None = None
                lookup_query = decision.query
                if depth < 8:
                    sub = self._answer(decision.query, snap, protocol, client)
                    final, sub_err = await self._drive(sub, protocol, client, snap, depth + 1)
                    err = err or sub_err
                    if isinstance(final, Reply):
                        sub_msg = final.message
                try:
                    decision = decision.resume(sub_msg)
                except Exception as e:
                    self.metrics.panics += 1
                    self.log(f"[ERROR] Recovered from panic in server: {self.label} {e!r}")
                    decision = _servfail(lookup_query)
            else:
                return decision, err

    async def _later(self, decision: Answer, query: dns.message.Message, data: bytes,
                     protocol: str, addr: Any, t0: float, gen: int, snap: Snapshot) -> list[bytes]:
        client = str(addr[0]) if addr else None
        final, err = await self._drive(decision, protocol, client, snap, 0)
        where = self._where(snap, query)
        if err and where.block is not None and where.block.errors and isinstance(final, Reply) \
                and final.message.rcode() == dns.rcode.SERVFAIL:
            self.log(f"[ERROR] plugin/errors: 2 {where.name} {_T.to_text(query.question[0].rdtype)}: {err}")
        if isinstance(final, Reply):
            return [self._finish(final, query, data, protocol, addr, t0, gen, snap, True)]
        if isinstance(final, Transfer):
            return self._transfer(final, query, data, protocol, addr, t0, snap)
        return []

    def _transfer(self, t: Transfer, query: dns.message.Message, data: bytes, protocol: str,
                  addr: Any, t0: float, snap: Snapshot) -> list[bytes]:
        wires = []
        for m in t.messages:
            wires.append(render(m, MAX_MSG))
        where = self._where(snap, query)
        cell = self.metrics.cell(CellKey(self.label, where.zone, where.qtype, "NOERROR", "transfer",
                                         "", "", False, size_bucket(len(data)),
                                         size_bucket(sum(map(len, wires)))))
        cell.observe((2 if protocol == "tcp" else 0) + (len(addr) == 4), time.perf_counter() - t0)
        return wires

    def _finish(self, reply: Reply, query: dns.message.Message, data: bytes, protocol: str,
                addr: Any, t0: float, gen: int, snap: Snapshot, external: bool) -> bytes:
        """Render, count, log and maybe cache one reply."""
        msg = reply.message
        try:
            wire = render(msg, udp_size(query, protocol))
        except Exception as e:
            self.metrics.panics += 1
            self.log(f"[ERROR] Recovered from panic in server: {self.label} {e!r}")
            msg = _servfail(query).message
            wire = msg.to_wire()
        where = self._where(snap, query)
        rcode = dns.rcode.to_text(msg.rcode())
        keep, kind = plugin_cache(where.block, where.name, msg) if query.question else (None, "")
        covered = "miss" if where.cache_zone else ""
        req_b, resp_b = size_bucket(len(data)), size_bucket(len(wire))
        idx = (2 if protocol == "tcp" else 0) + (len(addr) == 4)
        miss = self.metrics.cell(CellKey(self.label, where.zone, where.qtype, rcode, reply.plugin,
                                         covered, where.cache_zone, False, req_b, resp_b))
        miss.observe(idx, time.perf_counter() - t0)
        log_mid = None
        if where.block is not None and where.block.log and query.question:
            log_mid = self._log_mid(query, data, protocol, wire, rcode)
            self._log(log_mid, data, addr, t0)
        cacheable = (
            query.question
            and query.question[0].rdtype not in _NO_CACHE_TYPES
            and gen == self.generation
            and (keep is not None or not external)
        )
        if not cacheable:
            return wire
        cache = self.tcp_cache if protocol == "tcp" else self.udp_cache
        key = data[2:]
        offsets = tuple(o - 2 for o in ttl_offsets(wire)) if keep is not None and not (
            where.block is not None and where.block.cache is not None and where.block.cache.keepttl
        ) else ()
        old = cache.get(key)
        if old is not None and old.more and old.generation == gen:
            old.add(wire[2:], offsets, self.tuning.variants)
            return wire
        hit = self.metrics.cell(CellKey(self.label, where.zone, where.qtype, rcode, reply.plugin,
                                        kind if keep is not None else covered, where.cache_zone,
                                        True, req_b, resp_b))
        more = not external and _variable(where.block, msg)
        if len(cache) >= self.tuning.cache_max:
            for k in list(islice(cache, max(1, self.tuning.cache_max // 8))):
                del cache[k]
        cache[key] = _Entry(wire[2:], offsets, hit, static=keep is None, more=more,
                            ttl=keep or 0, log_mid=log_mid, generation=gen)
        return wire

    # ------------------------------------------------------------------------ loop plugin

    def loop_zones(self) -> list[str]:
        """The zones this server sends a loop probe for: the first zone of every server block
        with the ``loop`` plugin."""
        return [b.zones[0] for b in self.snap.config.blocks if b.loop and b.zones]

    def start_loop_probes(self, seeds: Mapping[str, tuple[int, int]] | None = None,
                          send: bool = True) -> None:
        """The ``loop`` plugin's start-up (:mod:`podnet.dns.loop`): a detector per block with
        the plugin, named from ``seeds`` (zone → two random numbers; fresh ones by default —
        workers sharing a port are given the same), and, with ``send``, the probe itself."""
        for zone in self.loop_zones():
            a, b = (seeds or {}).get(zone) or (secrets.randbelow(1 << 62), secrets.randbelow(1 << 62))
            probe = LoopProbe.new(zone, a, b)
            self._loops[probe.qname] = probe
            if send:
                self._spawn(self._probe_loop(probe.qname))

    @property
    def loops(self) -> tuple[LoopProbe, ...]:
        """The loop plugin's detectors, as they stand."""
        return tuple(self._loops.values())

    def probe_socket(self, family: int) -> socket.socket:
        """The socket the loop probe is sent from (override to open it elsewhere)."""
        return socket.socket(family, socket.SOCK_DGRAM)

    def _probe_target(self) -> tuple[str, int]:
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return host, self.port

    async def _probe_exchange(self, wire: bytes, timeout: float) -> bytes:
        """``dns.Exchange``: the query over UDP to this server's own address, its reply."""
        loop = asyncio.get_running_loop()
        host, port = self._probe_target()
        sock = self.probe_socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            sock.setblocking(False)
            sock.connect((host, port))
            await loop.sock_sendall(sock, wire)

            async def reply() -> bytes:
                while True:
                    data = await loop.sock_recv(sock, 65535)
                    if len(data) >= 12 and data[:2] == wire[:2]:
                        return data

            return await asyncio.wait_for(reply(), timeout)
        finally:
            sock.close()

    async def _probe_loop(self, qname: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + loop_plugin.DEADLINE
        try:
            while loop.time() < deadline and self.halted is None:
                q = dns.message.make_query(qname, dns.rdatatype.HINFO)
                try:
                    await self._probe_exchange(q.to_wire(), 2.0)
                except (OSError, TimeoutError):
                    p = self._loops.get(qname)
                    if p is not None:
                        self._loops[qname] = p.reset()
                    await asyncio.sleep(loop_plugin.RETRY)
                    continue
                break
        finally:
            p = self._loops.get(qname)
            if p is not None:
                self._loops[qname] = p.disabled()

    def _loop_seen(self, query: dns.message.Message, addr: Any) -> None:
        """A query reached ``forward`` (so it passed ``loop``): count it if it is a probe."""
        if not query.question or query.question[0].rdtype != dns.rdatatype.HINFO:
            return
        name = query.question[0].name.to_text().lower()
        p = self._loops.get(name)
        if p is None:
            return
        p = self._loops[name] = p.observe(name, query.question[0].rdtype)
        if p.looping and self.halted is None:
            remote = f"{_addr_text(str(addr[0]))}:{addr[1]}" if addr else ""
            self.halt("[FATAL] plugin/loop: " + p.message(remote, f"{_addr_text(self.host)}:{self.port}"))

    def halt(self, line: str) -> None:
        """A fatal error (CoreDNS's ``log.Fatal``): log it and stop — through
        :attr:`on_halt` (the process exits 1), or by closing this server's sockets."""
        self.halted = line
        self.log(line)
        for k, p in list(self._loops.items()):
            self._loops[k] = p.disabled()
        if self.on_halt is not None:
            self.on_halt(line)
        else:  # not one of self._tasks: stop() cancels those
            self._halting = asyncio.get_running_loop().create_task(self.stop())

    # ------------------------------------------------------------------------ log plugin

    @staticmethod
    def _log_mid(query: dns.message.Message, data: bytes, protocol: str, wire: bytes,
                 rcode: str) -> str:
        q = query.question[0]
        do = "true" if query.ednsflags & dns.flags.DO else "false"
        return (f'"{_T.to_text(q.rdtype)} {dns.rdataclass.to_text(q.rdclass)} '
                f'{q.name.to_text().lower()} {protocol} {len(data)} {do} {udp_size(query, protocol)}" '
                f"{rcode} {flags_text(header_flags(wire))} {len(wire)}")

    def _log(self, mid: str, data: bytes, addr: Any, t0: float) -> None:
        ident = struct.unpack_from("!H", data, 0)[0]
        host, port = (str(addr[0]), int(addr[1])) if addr else ("", 0)
        self.log(f"[INFO] {_addr_text(host)}:{port} - {ident} {mid} "
                 f"{_duration(time.perf_counter() - t0)}")

    def log_hit(self, e: _Entry, data: bytes, addr: Any, t0: float) -> None:
        if e.log_mid is not None:
            self._log(e.log_mid, data, addr, t0)

    # ------------------------------------------------------------------------ gauges

    def cache_gauges(self) -> dict[tuple[str, str, str], int]:
        out: dict[tuple[str, str, str], int] = {}
        for cache in (self.udp_cache, self.tcp_cache):
            for e in cache.values():
                k = e.cell.key
                if e.static or k.cache not in ("success", "denial"):
                    continue
                key = (self.label, k.cache, k.cache_zone)
                out[key] = out.get(key, 0) + 1
        return out


# ---------------------------------------------------------------------------- the process


@dataclass(frozen=True, slots=True)
class HttpSpec:
    """An HTTP endpoint to open: ``kind`` is prometheus, health or ready."""

    kind: str
    host: str
    port: int


@dataclass
class Runner:
    """Runs DNS servers and their HTTP endpoints until SIGTERM/SIGINT, following changes."""

    servers: Sequence[DnsServer]
    http: Sequence[HttpSpec] = ()
    #: rebuild the snapshots (run in a forked child): (one per server, the paths to watch)
    reload: Callable[[], tuple[Sequence[Snapshot], Sequence[str]]] | None = None
    #: the files whose change triggers a reload (a stored cluster's state, the Corefile…)
    watch: Sequence[str] = ()
    poll: float = 0.25
    lameduck: float = 0.0
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    metrics: Metrics = field(default_factory=Metrics)
    #: print the ``listening on`` and HTTP lines (the first worker only)
    announce: bool = True
    #: a worker: where to send its metrics every second, and the first worker's pid to outlive
    report: socket.socket | None = None
    parent_pid: int | None = None
    #: the first worker: the other workers' report sockets
    children: Sequence[socket.socket] = ()
    #: the loop plugin: per server, zone → the probe's two random numbers (shared by workers,
    #: so that each counts the probe whichever worker the kernel hands it to); whether this
    #: process sends the probes (the first worker only)
    loop_seeds: Sequence[Mapping[str, tuple[int, int]]] = ()
    send_probes: bool = True
    _stop: asyncio.Event | None = None
    _code: int = 0
    _stopping: bool = False
    _endpoints: list[HttpEndpoint] = field(default_factory=list)
    _child_metrics: dict[int, dict[str, Any]] = field(default_factory=dict)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def halt(self, line: str = "") -> None:
        """A server hit a fatal error (a forwarding loop): stop, exit status 1; a worker tells
        the first one, which stops every worker."""
        self._code = 1
        if self.report is not None and self.parent_pid is not None:
            with contextlib.suppress(OSError):
                self.report.send(FATAL_MESSAGE)
        self.stop()

    def _health(self) -> tuple[int, str, bytes]:
        if self._stopping:
            return 503, "text/plain; charset=utf-8", b"lameduck\n"
        return 200, "text/plain; charset=utf-8", b"OK"

    def _ready(self) -> tuple[int, str, bytes]:
        return 200, "text/plain; charset=utf-8", b"OK"

    def _metrics(self) -> tuple[int, str, bytes]:
        self._gauges()
        metrics = self.metrics
        if self.children:
            metrics = metrics.merged(self._child_metrics.values())
        return 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render().encode()

    def _gauges(self) -> None:
        gauges: dict[tuple[str, str, str], int] = {}
        for s in self.servers:
            for k, v in s.cache_gauges().items():
                gauges[k] = gauges.get(k, 0) + v
        self.metrics.cache_entries = gauges

    async def _report_loop(self) -> None:
        """A worker: send the metrics every second; stop when the first worker is gone."""
        while True:
            await asyncio.sleep(1.0)
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                self.stop()
                return
            if self.report is None:
                continue
            self._gauges()
            data = zlib.compress(pickle.dumps(self.metrics.snapshot()))
            with contextlib.suppress(OSError):
                self.report.send(data)

    def _collect(self, index: int, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(1 << 22)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                asyncio.get_running_loop().remove_reader(sock.fileno())
                return
            if not data:
                asyncio.get_running_loop().remove_reader(sock.fileno())
                return
            if data == FATAL_MESSAGE:
                self.halt()
                return
            with contextlib.suppress(Exception):
                self._child_metrics[index] = pickle.loads(zlib.decompress(data))

    @staticmethod
    def _stamp(paths: Sequence[str]) -> tuple[tuple[int, int, int] | None, ...]:
        out: list[tuple[int, int, int] | None] = []
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                out.append(None)
                continue
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def _reload_seeds(self, index: int, snap: Snapshot) -> dict[str, tuple[int, int]] | None:
        """The loop probe's numbers after a reload: derived from the start-up ones and the new
        configuration, so that every worker sharing a port (each reloads by itself) counts the
        same new probe name."""
        base = self.loop_seeds[index] if index < len(self.loop_seeds) else None
        if not base:
            return None
        digest = hashlib.sha256(repr(snap.config).encode()).digest()
        out = {}
        for zone, (a, b) in base.items():
            h = hashlib.sha256(f"{a}:{b}:{zone}".encode() + digest).digest()
            out[zone] = (int.from_bytes(h[:8], "big") >> 2, int.from_bytes(h[8:16], "big") >> 2)
        return out

    async def _follow(self, paths: list[str], last: tuple[tuple[int, int, int] | None, ...]) -> None:
        if self.reload is None or not paths:
            return
        while True:
            await asyncio.sleep(self.poll)
            cur = self._stamp(paths)
            if cur == last:
                continue
            last = cur
            try:
                snaps, new_paths = await fork_call_async(self.reload)
            except Exception as e:  # keep answering from what we had
                print(f"[ERROR] podnet: reload: {e}", file=self.err, flush=True)
                continue
            for i, (server, snap) in enumerate(zip(self.servers, snaps)):
                server.reload(snap, self._reload_seeds(i, snap), send=self.send_probes)
            if list(new_paths) != paths:
                paths = list(new_paths)
                last = self._stamp(paths)
            self.metrics.reloads += 1
            gc.collect()
            gc.freeze()
            if self.announce:
                print("[INFO] podnet: zone reloaded", file=self.err, flush=True)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)
        started: list[DnsServer] = []
        # the files' state now, before answering: a change from here on triggers a reload
        watched = list(self.watch)
        stamps = self._stamp(watched)
        try:
            for spec in self.http:
                routes = {"prometheus": {"/metrics": self._metrics},
                          "health": {"/health": self._health},
                          "ready": {"/ready": self._ready}}[spec.kind]
                ep = HttpEndpoint(spec.host, spec.port, dict(routes))
                await ep.start()
                self._endpoints.append(ep)
                host, port = ep.bound
                if self.announce:
                    print(f"{spec.kind} on {_addr_text(host)}:{port}", file=self.err, flush=True)
            for s in self.servers:
                s.on_halt = self.halt
                await s.start()
                started.append(s)
            for i, s in enumerate(self.servers):
                s.start_loop_probes(self.loop_seeds[i] if i < len(self.loop_seeds) else None,
                                    send=self.send_probes)
            if self.report is not None and self.parent_pid is not None:
                # A worker tells the first one it answers, so that `listening on` is printed only
                # once every worker sharing the port does.
                with contextlib.suppress(OSError):
                    self.report.send(READY_MESSAGE)
            if self.announce:
                for s in self.servers:
                    host, port = s.address
                    print(f"listening on {_addr_text(host)}:{port}", file=self.out, flush=True)
            for i, sock in enumerate(self.children):
                sock.setblocking(False)
                loop.add_reader(sock.fileno(), self._collect, i, sock)
            follow = loop.create_task(self._follow(watched, stamps))
            reporter = loop.create_task(self._report_loop()) if self.parent_pid is not None else None
            await self._stop.wait()
            if reporter is not None:
                reporter.cancel()
            self._stopping = True
            if self.lameduck > 0 and not self._code:  # log.Fatal exits at once
                print(f"[INFO] Going into lameduck mode for {self.lameduck:g}s", file=self.err,
                      flush=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.Event().wait(), self.lameduck)
            follow.cancel()
            with contextlib.suppress(BaseException):
                await follow
            return self._code
        finally:
            for sock in self.children:
                with contextlib.suppress(Exception):
                    loop.remove_reader(sock.fileno())
            for s in started:
                await s.stop()
            for ep in self._endpoints:
                await ep.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)


def run_forever(runner: Runner) -> int:
    """Run ``runner`` on a fresh (uvloop) event loop; its exit status."""
    with asyncio.Runner(loop_factory=new_event_loop) as r:
        return r.run(runner.run())


def reserve_port(host: str) -> int:
    """A port free for UDP and TCP on ``host`` that SO_REUSEPORT workers can all bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as u:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            u.bind((host, 0))
            port = int(u.getsockname()[1])
            with socket.socket(family, socket.SOCK_STREAM) as t:
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                try:
                    t.bind((host, port))
                except OSError:
                    continue
        return port
    raise OSError("no free port")


#: What a worker sends the first one once its sockets answer, and how long that may take.
READY_MESSAGE = b"podnet-dns-worker-ready"
#: What a worker sends the first one when it must halt (a forwarding loop): every worker stops.
FATAL_MESSAGE = b"podnet-dns-worker-fatal"
WORKER_START_TIMEOUT = 60.0


def run_workers(make: Callable[[int], Runner], workers: int) -> int:
    """Run ``workers`` processes answering on the same addresses (SO_REUSEPORT: the kernel
    spreads the clients over them, as CoreDNS's ``multisocket`` does with goroutines): fork
    ``workers - 1`` children that run ``make(i)``, run ``make(0)`` here, gather the children's
    metrics into this process's /metrics, and stop them when this one stops. Everything built
    before the fork (the zone) is shared copy-on-write; ``gc.freeze`` keeps it that way."""
    gc.collect()
    gc.freeze()
    parent = os.getpid()
    children: list[tuple[int, socket.socket]] = []
    for i in range(1, workers):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        for sk in (ours, theirs):
            with contextlib.suppress(OSError):
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                ours.close()
                for _, other in children:
                    other.close()
                theirs.setblocking(False)
                runner = make(i)
                runner.report, runner.parent_pid, runner.announce = theirs, parent, False
                code = run_forever(runner)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(code)
        theirs.close()
        children.append((pid, ours))
    for pid, sk in children:  # wait until every worker answers on the shared port
        sk.settimeout(WORKER_START_TIMEOUT)
        try:
            while sk.recv(65536) != READY_MESSAGE:
                pass
        except OSError:
            print(f"error: DNS worker {pid} did not start", file=sys.stderr, flush=True)
    runner = make(0)
    runner.children = [sk for _, sk in children]
    try:
        return run_forever(runner)
    finally:
        for pid, _ in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for pid, sk in children:
            while True:
                done, _status = os.waitpid(pid, os.WNOHANG)
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            if not done:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            sk.close()


class ChildError(Exception):
    """What a :func:`fork_call` child raised: its class name, its ``errors`` lines if it had
    some, its message."""

    def __init__(self, kind: str, lines: Sequence[str], text: str = "") -> None:
        self.kind = kind
        self.lines = tuple(lines)
        super().__init__(text or "\n".join(lines))


def _child_run(fn: Callable[[], Any], w: int) -> None:  # pragma: no cover - runs in the child
    code = 0
    try:
        try:
            payload = pickle.dumps(("ok", fn()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as e:
            lines = [str(x) for x in (getattr(e, "errors", ()) or ())]
            payload = pickle.dumps(("err", (type(e).__name__, lines, str(e) or type(e).__name__)))
            code = 1
        view = memoryview(payload)
        while view:
            n = os.write(w, view)
            view = view[n:]
    finally:
        os._exit(code)


def _unpack(data: bytes, pid: int) -> Any:
    os.waitpid(pid, 0)
    if not data:
        raise ChildError("ChildError", [], "the process building the zone died")
    tag, value = pickle.loads(data)
    if tag == "err":
        raise ChildError(value[0], value[1], value[2])
    return value


def _fork(fn: Callable[[], Any]) -> tuple[int, int]:
    """Start a child that computes ``fn()`` and writes the pickled outcome to a pipe: the
    child's pid and the pipe's read end (for :func:`_unpack`). Our buffered output is flushed
    first, or the child would write it a second time."""
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        os.close(r)
        _child_run(fn, w)
    os.close(w)
    return pid, r


def fork_call(fn: Callable[[], Any]) -> Any:
    """``fn()`` computed in a forked child and handed back pickled: the big intermediate
    objects (the whole ClusterState) never live in the serving process, whose heap stays small,
    and the serving loop never waits for the GIL while a zone is rebuilt. Errors come back as
    :class:`ChildError` (with the exception's ``errors`` lines when it had some)."""
    pid, r = _fork(fn)
    chunks = []
    with os.fdopen(r, "rb") as f:
        while chunk := f.read(1 << 20):
            chunks.append(chunk)
    return _unpack(b"".join(chunks), pid)


async def fork_call_async(fn: Callable[[], Any]) -> Any:
    """:func:`fork_call` without blocking the event loop while the child works."""
    loop = asyncio.get_running_loop()
    pid, r = _fork(fn)
    os.set_blocking(r, False)
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        while True:
            try:
                chunk = os.read(r, 1 << 20)
            except BlockingIOError:
                return
            except OSError as e:
                if not done.done():
                    done.set_exception(e)
                return
            if not chunk:
                if not done.done():
                    done.set_result(None)
                return
            chunks.append(chunk)

    loop.add_reader(r, readable)
    try:
        await done
    finally:
        loop.remove_reader(r)
        os.close(r)
    return _unpack(b"".join(chunks), pid)
