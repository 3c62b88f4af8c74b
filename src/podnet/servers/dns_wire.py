"""Wire-level helpers of the DNS server: rendering with truncation, TTL offsets, header reads.

Nothing here decides an answer (that is :mod:`podnet.dns.answer`); these functions only turn a
decided :class:`dns.message.Message` into the bytes a transport sends, as CoreDNS's server does:

* :func:`udp_size` — the largest UDP reply the client accepts (``request.Size``): the EDNS0
  buffer size it advertised, never less than 512; 512 without EDNS0; 65,535 over TCP.
* :func:`render` — the reply as bytes within ``size``. A reply that does not fit is cut the way
  miekg/dns ``Msg.Truncate`` cuts it: records are kept in order, section by section, up to the
  first one that no longer fits; the OPT record is always kept; TC is set when any record was
  left out. The client then retries over TCP.
* :func:`ttl_offsets` — where the TTL of each record sits in a rendered reply, so that a cached
  reply served later can carry the remaining TTL (the cache plugin's behaviour) by patching
  bytes instead of rendering again.
"""

from __future__ import annotations

import struct
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.renderer
import dns.rrset

MIN_UDP = 512
MAX_MSG = 65535
_TYPE_OPT = 41
#: dnspython's Renderer is untyped; it is used through this alias.
_Renderer: Any = dns.renderer.Renderer


def udp_size(query: dns.message.Message, protocol: str) -> int:
    """``request.Size``: 65,535 over TCP; over UDP the advertised EDNS0 size, at least 512."""
    if protocol == "tcp":
        return MAX_MSG
    if query.edns < 0:
        return MIN_UDP
    return max(MIN_UDP, min(int(query.payload), MAX_MSG))


def _opt_size(msg: dns.message.Message) -> int:
    if msg.edns < 0:
        return 0
    size = 11
    for opt in msg.options:
        size += 4 + len(opt.to_wire() or b"")
    return size


def render(msg: dns.message.Message, size: int = MAX_MSG) -> bytes:
    """``msg`` as wire bytes of at most ``size`` (see the module doc)."""
    size = max(MIN_UDP, min(size, MAX_MSG))
    try:
        return msg.to_wire(max_size=size)
    except dns.exception.TooBig:
        return truncate(msg, size)


def truncate(msg: dns.message.Message, size: int) -> bytes:
    """miekg/dns ``Msg.Truncate``: as many records as fit, in order, OPT kept, TC when cut."""
    r = _Renderer(msg.id, msg.flags, size, None)
    opt = _opt_size(msg)
    r.reserve(min(opt, size - 12))
    dropped = False
    try:
        for q in msg.question:
            r.add_question(q.name, q.rdtype, q.rdclass)
    except dns.exception.TooBig:
        dropped = True
    for section_id, section in enumerate((msg.answer, msg.authority, msg.additional), start=1):
        stop = False
        for rrset in section:
            for rd in rrset:
                one = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype, rrset.covers)
                one.update_ttl(rrset.ttl)
                one.add(rd)
                try:
                    r.add_rrset(section_id, one)
                except dns.exception.TooBig:
                    dropped = True
                    stop = True
                    break
            if stop:
                break
    r.release_reserved()
    if msg.edns >= 0:
        r.add_edns(msg.edns, msg.ednsflags, msg.payload, list(msg.options))
    if dropped:
        r.flags |= dns.flags.TC
    r.write_header()
    wire: bytes = r.get_wire()
    return wire


def _skip_name(wire: bytes, pos: int) -> int:
    """The offset just past the (possibly compressed) name at ``pos``."""
    n = len(wire)
    while pos < n:
        length = wire[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += length + 1
    raise ValueError("name runs past the end of the message")


def ttl_offsets(wire: bytes) -> tuple[int, ...]:
    """Offsets of the 32-bit TTL of every record of a rendered message (the OPT excluded)."""
    _, _, qd, an, ns, ar = struct.unpack_from("!6H", wire, 0)
    pos = 12
    for _ in range(qd):
        pos = _skip_name(wire, pos) + 4
    out: list[int] = []
    for _ in range(an + ns + ar):
        pos = _skip_name(wire, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", wire, pos)
        if rtype != _TYPE_OPT:
            out.append(pos + 4)
        pos += 10 + rdlen
    return tuple(out)


def with_ttl(wire: bytes, offsets: tuple[int, ...], ttl: int) -> bytes:
    """``wire`` with every TTL at ``offsets`` set to ``ttl``."""
    buf = bytearray(wire)
    for off in offsets:
        struct.pack_into("!I", buf, off, ttl)
    return bytes(buf)


_FLAG_TEXT = (
    (dns.flags.QR, "qr"), (dns.flags.AA, "aa"), (dns.flags.TC, "tc"), (dns.flags.RD, "rd"),
    (dns.flags.RA, "ra"), (0x0040, "z"), (dns.flags.AD, "ad"), (dns.flags.CD, "cd"),
)


def flags_text(flags: int) -> str:
    """Header flags as CoreDNS's log plugin writes ``{>rflags}``: ``qr,aa,rd``."""
    return ",".join(t for bit, t in _FLAG_TEXT if flags & bit)


def header_flags(wire: bytes) -> int:
    return int(struct.unpack_from("!H", wire, 2)[0]) if len(wire) >= 4 else 0
