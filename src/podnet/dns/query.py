"""From wire bytes to a query answer() can take, with miekg/dns's acceptance rules.

CoreDNS's server is miekg/dns's; before any plugin sees a packet, its ``serveDNS`` and
``defaultMsgAcceptFunc`` (acceptfunc.go) decide:

* fewer than 12 bytes (no header): nothing is sent back — any reply could amplify an attack;
* QR set (a response sent to a server): ignored, nothing sent;
* an opcode other than QUERY or NOTIFY: NOTIMP;
* QDCOUNT other than 1, ANCOUNT > 1, NSCOUNT > 1, ARCOUNT > 2: FORMERR;
* a body that does not unpack (bad label, compression loop, truncated record): FORMERR, with the
  question when it was read.

A rejection echoes the header (ID, RD, CD…) with QR set and AA clear, and carries no records.
A packet that is only a header announcing a question unpacks to a message without one, which
CoreDNS's server answers with SERVFAIL (answer() does).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from podnet.dns.answer import Drop, Reply


@dataclass(frozen=True, slots=True)
class Query:
    """An accepted query, ready for :func:`podnet.dns.answer.answer`."""

    message: dns.message.Message


def _reject(id_: int, flags: int, rcode: int, opcode: int | None, question: list[dns.rrset.RRset]) -> Reply:
    m = dns.message.Message(id=id_)
    keep = flags & (dns.flags.TC | dns.flags.RD | dns.flags.RA | dns.flags.AD | dns.flags.CD)
    m.flags = dns.flags.QR | keep
    m.set_opcode(dns.opcode.Opcode.make(opcode if opcode is not None else 0))
    m.set_rcode(dns.rcode.Rcode.make(rcode))
    m.question = question
    return Reply(m, "server")


def decode(wire: bytes) -> Query | Reply | Drop:
    """Accept, reject (FORMERR/NOTIMP reply) or drop a packet, as CoreDNS's server does."""
    if len(wire) < 12:
        return Drop("shorter than a DNS header")
    id_, flags, qd, an, ns, ar = struct.unpack("!6H", wire[:12])
    if flags & dns.flags.QR:
        return Drop("a response, not a query")
    opcode = (flags >> 11) & 0xF
    if opcode not in (0, 4):
        return _reject(id_, flags, dns.rcode.NOTIMP, opcode, [])
    if qd != 1 or an > 1 or ns > 1 or ar > 2:
        return _reject(id_, flags, dns.rcode.FORMERR, None, [])
    if len(wire) == 12:
        m = dns.message.Message(id=id_)
        m.flags = flags
        return Query(m)
    try:
        return Query(dns.message.from_wire(wire, ignore_trailing=True, one_rr_per_rrset=True))
    except (dns.exception.DNSException, ValueError, IndexError, struct.error):
        pass
    question: list[dns.rrset.RRset] = []
    try:
        name, used = dns.name.from_wire(wire, 12)
        qtype, qclass = struct.unpack("!HH", wire[12 + used : 12 + used + 4])
        question = [dns.rrset.RRset(name, dns.rdataclass.RdataClass.make(qclass),
                                    dns.rdatatype.RdataType.make(qtype))]
    except (dns.exception.DNSException, ValueError, IndexError, struct.error):
        question = []
    return _reject(id_, flags, dns.rcode.FORMERR, None, question)
