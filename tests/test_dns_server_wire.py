"""Malformed and hostile input over real sockets: the server answers FORMERR or drops, never
crashes or stalls; TCP framing, pipelining and timeouts.

What CoreDNS (miekg/dns) does with each packet is the expectation: fewer than 12 bytes and
responses are dropped; bad counts and bodies that do not unpack are FORMERR with the ID echoed;
an opcode it does not implement is NOTIMP.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podnet.cluster.state import ClusterState
from podnet.servers.dns import Tuning
from test_dns_server_support import (
    CLUSTER_ONLY_COREFILE,
    LOOPBACK,
    ServerThread,
    cluster_state,
    query,
    rdatas,
    snapshot,
)

HEADER = struct.Struct("!6H")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> ClusterState:
    return cluster_state(tmp_path_factory.mktemp("dnswire"))


@pytest.fixture(scope="module")
def server(state: ClusterState) -> Iterator[ServerThread]:
    tuning = Tuning(tcp_read=0.5, tcp_idle=0.8)
    with ServerThread(snapshot(state, CLUSTER_ONLY_COREFILE), tuning) as s:
        yield s


def _header(ident: int = 0x1234, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0,
            ar: int = 0) -> bytes:
    return HEADER.pack(ident, flags, qd, an, ns, ar)


def _rcode_of(wire: bytes | None) -> int:
    assert wire is not None and len(wire) >= 12
    return int(HEADER.unpack_from(wire)[1]) & 0xF


# ---------------------------------------------------------------------------- hostile UDP


def test_short_packet_is_dropped(server: ServerThread) -> None:
    assert server.raw_udp(b"\x12\x34\x01\x00\x00") is None
    assert server.alive()


def test_response_sent_as_query_is_dropped(server: ServerThread) -> None:
    assert server.raw_udp(_header(flags=0x8100) + b"\x00\x00\x01\x00\x01") is None


def test_compression_loop_is_formerr(server: ServerThread) -> None:
    # the question name is a pointer to itself
    wire = _header(ident=0xBEEF) + b"\xc0\x0c\x00\x01\x00\x01"
    reply = server.raw_udp(wire)
    assert reply is not None
    ident, flags = HEADER.unpack_from(reply)[:2]
    assert ident == 0xBEEF and flags & dns.flags.QR
    assert _rcode_of(reply) == dns.rcode.FORMERR


def test_label_too_long_is_formerr(server: ServerThread) -> None:
    wire = _header() + bytes([64]) + b"a" * 64 + b"\x00\x00\x01\x00\x01"
    assert _rcode_of(server.raw_udp(wire)) == dns.rcode.FORMERR


def test_name_running_past_the_end_is_formerr(server: ServerThread) -> None:
    wire = _header() + b"\x05abc"
    assert _rcode_of(server.raw_udp(wire)) == dns.rcode.FORMERR


def test_two_questions_is_formerr(server: ServerThread) -> None:
    q = query("svc1.testns.svc.cluster.local.", "A").to_wire()
    wire = _header(qd=2) + q[12:] + q[12:]
    assert _rcode_of(server.raw_udp(wire)) == dns.rcode.FORMERR


def test_unknown_opcode_is_notimp(server: ServerThread) -> None:
    q = query("svc1.testns.svc.cluster.local.", "A").to_wire()
    wire = q[:2] + struct.pack("!H", (5 << 11) | 0x0100) + q[4:]
    assert _rcode_of(server.raw_udp(wire)) == dns.rcode.NOTIMP


def test_header_announcing_a_missing_question_is_servfail(server: ServerThread) -> None:
    # miekg unpacks a bare header to a message without a question: CoreDNS answers SERVFAIL
    assert _rcode_of(server.raw_udp(_header())) == dns.rcode.SERVFAIL


def test_hostile_batch_then_still_answering(server: ServerThread) -> None:
    hostile = [
        b"",
        b"\x00",
        _header(qd=0xFFFF, an=0xFFFF, ns=0xFFFF, ar=0xFFFF),
        _header(ar=1) + b"\x00\x00\x01\x00\x01" + b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\xff\xff",
        _header() + b"\xc0\xff\x00\x01\x00\x01",
        _header() + b"\x3f" + b"x" * 63 + b"\xc0\x0c" + b"\x00\x01\x00\x01",
        _header() + (b"\x01a" * 200) + b"\x00\x00\x01\x00\x01",
        _header() + b"\x00\x00\xfc\x00\x01",  # AXFR over UDP
        b"\xff" * 4096,
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in hostile:
            s.sendto(p, (LOOPBACK, server.port))
    assert server.alive()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=st.one_of(
    st.binary(min_size=0, max_size=600),
    st.binary(min_size=0, max_size=80).map(lambda b: _header() + b),
    st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.binary(max_size=60)).map(
        lambda t: HEADER.pack(t[0], t[1] & 0x7FFF, 1, t[1] % 3, 0, t[1] % 2) + t[2]),
))
def test_fuzz_server_keeps_answering(server: ServerThread, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        s.sendto(payload, (LOOPBACK, server.port))
        try:
            reply = s.recv(65535)
        except (TimeoutError, socket.timeout):
            reply = None
    if reply is not None:
        # whatever came back is a response to this packet's ID
        assert len(reply) >= 12
        assert reply[:2] == payload[:2]
        assert HEADER.unpack_from(reply)[1] & dns.flags.QR
    assert server.alive()


# ---------------------------------------------------------------------------- TCP


def _frame(msg: bytes) -> bytes:
    return struct.pack("!H", len(msg)) + msg


def _read_frame(c: socket.socket) -> bytes:
    n = struct.unpack("!H", c.recv(2, socket.MSG_WAITALL))[0]
    return c.recv(n, socket.MSG_WAITALL)


def test_tcp_pipelining(server: ServerThread) -> None:
    qs = [query(f"{n}.testns.svc.cluster.local.", "A") for n in ("svc1", "web", "nosuch", "dual")]
    with socket.create_connection((LOOPBACK, server.port), timeout=3) as c:
        c.sendall(b"".join(_frame(q.to_wire()) for q in qs))
        replies = [dns.message.from_wire(_read_frame(c)) for _ in qs]
    assert sorted(r.id for r in replies) == sorted(q.id for q in qs)
    by_id = {r.id: r for r in replies}
    assert by_id[qs[2].id].rcode() == dns.rcode.NXDOMAIN
    assert rdatas(by_id[qs[0].id])


def test_tcp_idle_connection_is_closed(server: ServerThread) -> None:
    with socket.create_connection((LOOPBACK, server.port), timeout=5) as c:
        c.sendall(_frame(query("svc1.testns.svc.cluster.local.", "A").to_wire()))
        assert dns.message.from_wire(_read_frame(c)).rcode() == dns.rcode.NOERROR
        t0 = time.monotonic()
        assert c.recv(1) == b""  # closed by the server after the idle timeout
        assert time.monotonic() - t0 < 3


def test_tcp_huge_length_without_body_is_closed(server: ServerThread) -> None:
    with socket.create_connection((LOOPBACK, server.port), timeout=5) as c:
        c.sendall(b"\xff\xff" + b"\x00" * 10)
        t0 = time.monotonic()
        assert c.recv(1) == b""
        assert time.monotonic() - t0 < 3
    assert server.alive()


def test_tcp_garbage_frame_then_valid_query(server: ServerThread) -> None:
    with socket.create_connection((LOOPBACK, server.port), timeout=3) as c:
        c.sendall(_frame(_header(ident=7) + b"\xc0\x0c\x00\x01\x00\x01"))
        assert _rcode_of(_read_frame(c)) == dns.rcode.FORMERR
        q = query("svc1.testns.svc.cluster.local.", "A")
        c.sendall(_frame(q.to_wire()))
        assert dns.message.from_wire(_read_frame(c)).id == q.id


def test_tcp_zero_length_frame_closes(server: ServerThread) -> None:
    with socket.create_connection((LOOPBACK, server.port), timeout=3) as c:
        c.sendall(b"\x00\x00")
        assert c.recv(1) == b""


def test_many_silent_connections_do_not_stall_the_server(server: ServerThread) -> None:
    conns = [socket.create_connection((LOOPBACK, server.port), timeout=3) for _ in range(50)]
    try:
        for c in conns[:25]:
            c.sendall(b"\x00\x20\x12")  # a frame that never completes
        assert server.alive()
        r = server.tcp(query("svc1.testns.svc.cluster.local.", "A"))
        assert r.rcode() == dns.rcode.NOERROR
    finally:
        for c in conns:
            c.close()
