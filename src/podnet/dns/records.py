"""Resource records as the answering code handles them, and the message they end up in.

CoreDNS plugins build answers as flat lists of RRs (``[]dns.RR``): order matters (a CNAME
before its target, the loadbalance shuffle), duplicates are removed by hand, and each RR carries
its own TTL. :class:`RR` is that flat form; :func:`to_message` groups consecutive RRs of one
owner/type into the RRsets dnspython writes, keeping the owner's letter case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rcode
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.PTR
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.SRV
import dns.rrset

IN = dns.rdataclass.IN
T = dns.rdatatype


@dataclass(frozen=True, slots=True)
class RR:
    """One record: owner (absolute, case as it will be sent), TTL and rdata."""

    owner: str
    ttl: int
    rdata: dns.rdata.Rdata

    @property
    def rdtype(self) -> int:
        return int(self.rdata.rdtype)

    def with_ttl(self, ttl: int) -> RR:
        return RR(self.owner, ttl, self.rdata)

    def to_text(self) -> str:
        """Zone-file text ``owner TTL IN TYPE rdata``, as dnspython renders it."""
        rrset = dns.rrset.from_rdata(dns.name.from_text(self.owner), self.ttl, self.rdata)
        return rrset.to_text()


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def a(owner: str, ttl: int, ip: str) -> RR:
    return RR(owner, ttl, dns.rdtypes.IN.A.A(IN, T.A, ip))  # type: ignore[no-untyped-call]


def aaaa(owner: str, ttl: int, ip: str) -> RR:
    return RR(owner, ttl, dns.rdtypes.IN.AAAA.AAAA(IN, T.AAAA, ip))  # type: ignore[no-untyped-call]


def address(owner: str, ttl: int, ip: str) -> RR:
    return aaaa(owner, ttl, ip) if ":" in ip else a(owner, ttl, ip)


def cname(owner: str, ttl: int, target: str) -> RR:
    return RR(owner, ttl, dns.rdtypes.ANY.CNAME.CNAME(IN, T.CNAME, _name(target)))  # type: ignore[no-untyped-call]


def ptr(owner: str, ttl: int, target: str) -> RR:
    return RR(owner, ttl, dns.rdtypes.ANY.PTR.PTR(IN, T.PTR, _name(target)))  # type: ignore[no-untyped-call]


def ns(owner: str, ttl: int, target: str) -> RR:
    return RR(owner, ttl, dns.rdtypes.ANY.NS.NS(IN, T.NS, _name(target)))  # type: ignore[no-untyped-call]


def srv(owner: str, ttl: int, priority: int, weight: int, port: int, target: str) -> RR:
    return RR(owner, ttl, dns.rdtypes.IN.SRV.SRV(IN, T.SRV, priority, weight, port, _name(target)))  # type: ignore[no-untyped-call]


def txt(owner: str, ttl: int, text: str) -> RR:
    # msg.split255: strings of 255 bytes or more are split into 255-byte chunks.
    data = text.encode()
    chunks = [data] if len(data) < 255 else [data[i : i + 255] for i in range(0, len(data), 255)]
    return RR(owner, ttl, dns.rdtypes.ANY.TXT.TXT(IN, T.TXT, chunks))


def soa(owner: str, ttl: int, mname: str, rname: str, serial: int, refresh: int, retry: int,
        expire: int, minimum: int) -> RR:
    rd = dns.rdtypes.ANY.SOA.SOA(  # type: ignore[no-untyped-call]
        IN, T.SOA, _name(mname), _name(rname), serial & 0xFFFFFFFF, refresh, retry, expire, minimum
    )
    return RR(owner, ttl, rd)


def flatten(rrsets: Iterable[dns.rrset.RRset]) -> list[RR]:
    """A dnspython section as a flat RR list (OPT and TSIG are not part of a section here)."""
    out: list[RR] = []
    for rrset in rrsets:
        owner = rrset.name.to_text()
        for rd in rrset:
            out.append(RR(owner, int(rrset.ttl), rd))
    return out


def to_rrsets(rrs: Sequence[RR]) -> list[dns.rrset.RRset]:
    """Consecutive RRs with one owner, type and TTL become one RRset, in order."""
    out: list[dns.rrset.RRset] = []
    last: tuple[str, int, int] | None = None
    for rr in rrs:
        key = (rr.owner, rr.rdtype, rr.ttl)
        if last == key:
            out[-1].add(rr.rdata)
            continue
        rrset = dns.rrset.RRset(_name(rr.owner), IN, rr.rdata.rdtype)
        rrset.update_ttl(rr.ttl)
        rrset.add(rr.rdata)
        out.append(rrset)
        last = key
    return out


@dataclass(slots=True)
class Draft:
    """A response being built: the fields of miekg's ``dns.Msg`` the plugins touch."""

    id: int
    opcode: int
    flags: int
    rcode: int
    question: list[dns.rrset.RRset]
    answer: list[RR]
    authority: list[RR]
    additional: list[RR]
    #: the OPT to send, as dnspython's use_edns arguments, or None for no EDNS
    edns: tuple[int, int, int, list[dns.edns.Option]] | None = None

    def to_message(self) -> dns.message.Message:
        m = dns.message.Message(id=self.id)
        m.flags = self.flags & ~0x7800 & ~0xF
        m.set_opcode(dns.opcode.Opcode(self.opcode))
        m.question = list(self.question)
        m.answer = to_rrsets(self.answer)
        m.authority = to_rrsets(self.authority)
        m.additional = to_rrsets(self.additional)
        if self.edns is not None:
            version, ednsflags, payload, options = self.edns
            m.use_edns(version, ednsflags, payload, options=options)
        m.set_rcode(dns.rcode.Rcode.make(self.rcode))
        return m


def reply_to(query: dns.message.Message, rcode: int = 0) -> Draft:
    """miekg ``SetReply``/``SetRcode``: id, QR, opcode, RD and CD copied, the first question."""
    flags = dns.flags.QR
    if query.opcode() == dns.opcode.QUERY:
        flags |= query.flags & (dns.flags.RD | dns.flags.CD)
    question = [query.question[0]] if query.question else []
    return Draft(query.id, int(query.opcode()), int(flags), rcode, question, [], [], [])


def from_message(m: dns.message.Message) -> Draft:
    """A received message (an upstream's reply) as a draft to pass on."""
    edns = None
    if m.edns >= 0:
        edns = (m.edns, int(m.ednsflags), int(m.payload), list(m.options))
    return Draft(
        m.id, int(m.opcode()), int(m.flags), int(m.rcode()), list(m.question),
        flatten(m.answer), flatten(m.authority), flatten(m.additional), edns,
    )
