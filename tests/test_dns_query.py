"""Packets before the plugins: miekg/dns's accept rules (acceptfunc.go, server.go serveDNS)."""

from __future__ import annotations

import struct

import dns.flags
import dns.message
import dns.rcode

from podnet.dns.answer import Drop, Reply
from podnet.dns.query import Query, decode


def _wire(name: str = "svc1.testns.svc.cluster.local.") -> bytes:
    return dns.message.make_query(name, "A").to_wire()


def test_short_header_and_responses_are_dropped() -> None:
    assert isinstance(decode(b"\x00\x01\x02"), Drop)
    w = bytearray(_wire())
    w[2] |= 0x80  # QR
    assert isinstance(decode(bytes(w)), Drop)


def test_counts_give_formerr_without_sections() -> None:
    w = bytearray(_wire())
    struct.pack_into("!H", w, 4, 2)  # QDCOUNT 2
    r = decode(bytes(w))
    assert isinstance(r, Reply)
    m = r.message
    assert m.rcode() == dns.rcode.FORMERR and m.flags & dns.flags.QR and not m.question
    assert m.flags & dns.flags.RD  # the request's header bits are echoed


def test_opcode_notimp() -> None:
    w = bytearray(_wire())
    w[2] = (w[2] & 0x87) | (2 << 3)  # opcode STATUS
    r = decode(bytes(w))
    assert isinstance(r, Reply) and r.message.rcode() == dns.rcode.NOTIMP


def test_bad_body_formerr_keeps_question() -> None:
    w = _wire() + b"\x00"
    w = bytearray(w)
    struct.pack_into("!H", w, 10, 1)  # ARCOUNT 1 but the record is truncated
    r = decode(bytes(w))
    assert isinstance(r, Reply) and r.message.rcode() == dns.rcode.FORMERR
    assert r.message.question[0].name.to_text() == "svc1.testns.svc.cluster.local."


def test_compression_loop_is_formerr() -> None:
    header = struct.pack("!6H", 1, 0x0100, 1, 0, 0, 0)
    loop = b"\xc0\x0c"  # a pointer to itself
    r = decode(header + loop + b"\x00\x01\x00\x01")
    assert isinstance(r, Reply) and r.message.rcode() == dns.rcode.FORMERR


def test_header_only_is_a_query_without_question() -> None:
    r = decode(struct.pack("!6H", 9, 0x0100, 1, 0, 0, 0))
    assert isinstance(r, Query) and not r.message.question


def test_good_query() -> None:
    r = decode(_wire())
    assert isinstance(r, Query) and r.message.question
