"""answer(): what CoreDNS, configured by a Corefile, answers to one query — as a pure function.

Theory of operation
-------------------
A query reaches CoreDNS's server (core/dnsserver/server.go), which

1. answers SERVFAIL when there is no question, REFUSED for a class other than IN, BADVERS for
   an EDNS version other than 0;
2. picks the server block whose zone is the longest suffix of the name (the root block last;
   none: REFUSED);
3. runs the block's plugins in plugin.cfg order — not Corefile order. For the plugins podnet
   supports that is ``loadbalance → cache → transfer → hosts → kubernetes → forward``. A plugin
   either writes a reply, or returns an rcode without writing (the server then writes a bare
   reply with that rcode), or passes the query to the next plugin (``fallthrough``). Past the
   last plugin the answer is SERVFAIL.
4. Writers wrap each other: a reply a plugin writes passes back out through the cache (which sets
   every TTL to the one it will cache for) and loadbalance (which shuffles address records of a
   NOERROR reply), then the server's scrub writer, which puts the client's EDNS OPT on it.

The kubernetes plugin (plugin/kubernetes/{handler,kubernetes,parse,reverse,ns}.go and
plugin/backend_lookup.go) is reproduced rule by rule below, with its quirks: the zone keeps the
query's letter case (in owner names, SRV targets and the SOA), ``_port._proto`` labels work
without underscores too, a TXT for an apex name is NXDOMAIN, an SOA query below the apex is
NODATA, the namespace must exist, and so on. Where CoreDNS would perform I/O, answer() returns a
decision instead of doing it (sans-I/O):

* :class:`Forward` — the ``forward`` plugin would send the query upstream. The caller sends it
  to ``upstreams`` in order (each tried until one answers within ``timeout``) and calls
  :meth:`Forward.complete` with the reply, or with None when none answered (→ SERVFAIL).
* :class:`Lookup` — an ExternalName outside the cluster zones: CoreDNS resolves the target by
  running a new query through its own server. The caller answers ``Lookup.query`` the same way
  (answer(), forwarding…) and calls :meth:`Lookup.resume` with the result.
* :class:`Transfer` — an allowed AXFR over TCP: the messages to send, in order.
* :class:`Reply` — the response to send. :class:`Drop` — send nothing.

:func:`resolve` drives these decisions for model-only use, with a pure ``upstream`` function.
"""

from __future__ import annotations

import ipaddress
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from podnet.dns import records as R
from podnet.dns.config import ServerConfig
from podnet.dns.corefile import CacheConfig, ForwardConfig, KubernetesConfig, ServerBlock
from podnet.dns.hostsfile import Hosts
from podnet.dns.names import (
    address_from_reverse,
    fqdn,
    ip_from_pod_label,
    is_reverse,
    is_subdomain,
    labels,
    longest_zone,
    trim_zone,
)
from podnet.dns.records import RR, Draft
from podnet.dns.zone import Address, ServiceEntry, Subset, ZoneIndex

T = dns.rdatatype
RC = dns.rcode
DNS_SCHEMA_VERSION = "1.1.0"
MAX_CNAME_CHAIN = 10
#: EDNS options CoreDNS echoes back (request/edns0.go supportedOptions).
ECHOED_OPTIONS = frozenset({3, 9, 10, 11, 12})


# ------------------------------------------------------------------------------ decisions


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``message``. ``plugin`` names who answered (``kubernetes``, ``forward``, ``server``…)."""

    message: dns.message.Message
    plugin: str


@dataclass(frozen=True, slots=True)
class Drop:
    """Send nothing (a response received as a query, a header too short to answer)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Forward:
    """Send ``query`` to ``upstreams`` (``host:port``, in the order to try), then call
    :meth:`complete`. ``config`` carries max_fails/health_check/expire/force_tcp for the I/O."""

    query: dns.message.Message
    upstreams: tuple[str, ...]
    config: ForwardConfig
    block: ServerBlock
    rng_seed: int

    def complete(self, reply: dns.message.Message | None) -> Reply:
        return forwarded(self, reply)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Resolve ``query`` through this same server, then call :meth:`resume` with the result."""

    query: dns.message.Message
    resume: Callable[[dns.message.Message | None], Answer]


@dataclass(frozen=True, slots=True)
class Transfer:
    """An AXFR answer: send every message, in order, on the TCP connection."""

    messages: tuple[dns.message.Message, ...]


Answer = Reply | Drop | Forward | Lookup | Transfer


# ------------------------------------------------------------------------------ plugin results


@dataclass(frozen=True, slots=True)
class _Written:
    draft: Draft
    plugin: str


@dataclass(frozen=True, slots=True)
class _Rcode:
    rcode: int
    plugin: str


class _Next:
    pass


NEXT = _Next()


class _NeedLookup(Exception):
    def __init__(self, name: str, rdtype: int) -> None:
        self.name = name
        self.rdtype = rdtype


_Result = _Written | _Rcode | _Next | Forward | Transfer


@dataclass(slots=True)
class _Ctx:
    query: dns.message.Message
    zone: ZoneIndex
    config: ServerConfig
    protocol: str
    client_ip: str | None
    rng: random.Random
    counter: int
    lookups: Mapping[tuple[str, int], dns.message.Message | None]
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    #: the question's name as sent (rendered once: dnspython's to_text is not cheap)
    qname: str = ""

    def __post_init__(self) -> None:
        if self.query.question and not self.qname:
            self.qname = self.query.question[0].name.to_text()


# ------------------------------------------------------------------------------ entry points


def answer(
    query: dns.message.Message,
    zone: ZoneIndex,
    config: ServerConfig,
    *,
    protocol: str = "udp",
    client_ip: str | None = None,
    seed: int = 0,
    counter: int = 0,
    lookups: Mapping[tuple[str, int], dns.message.Message | None] | None = None,
) -> Answer:
    """What the server answers to ``query`` (see the module doc).

    ``seed`` makes the loadbalance shuffle and the forward ``random`` policy reproducible;
    ``counter`` is the query's sequence number, for the ``round_robin`` forward policy.
    ``lookups`` holds results of earlier :class:`Lookup` decisions (filled in by ``resume``).
    """
    ctx = _Ctx(query, zone, config, protocol, client_ip, random.Random(seed), counter,
               lookups or {}, seed)
    if not query.question:
        return _plain(query, RC.SERVFAIL, "server")
    q = query.question[0]
    if q.rdclass != dns.rdataclass.IN:
        return _plain(query, RC.REFUSED, "server")
    if query.edns > 0:
        d = R.reply_to(query, RC.BADVERS)
        d.edns = (0, 0, 0, [])
        return Reply(d.to_message(), "server")
    block = config.block_for(ctx.qname)
    if block is None:
        return _plain(query, RC.REFUSED, "server")
    try:
        res = _chain(ctx, block)
    except _NeedLookup as need:
        return _lookup_decision(ctx, need)
    if isinstance(res, (Forward, Transfer)):
        return res
    if isinstance(res, _Next):
        return _plain(query, RC.SERVFAIL, "server")
    if isinstance(res, _Rcode):
        return _plain(query, res.rcode, res.plugin)
    return Reply(_finish(ctx, block, res.draft).to_message(), res.plugin)


def forwarded(decision: Forward, reply: dns.message.Message | None) -> Reply:
    """The client's response once the upstream answered ``reply`` (None: no upstream answered).

    The upstream's rcode and sections pass through (the ID is the client's). No reply at all is
    SERVFAIL; a reply that is not a response to the question is FORMERR (forward.go).
    """
    query = decision.query
    if reply is None:
        return _plain(query, RC.SERVFAIL, "forward")
    q = query.question[0]
    if (
        len(reply.question) != 1
        or not reply.flags & dns.flags.QR
        or reply.question[0].name.to_text().lower() != q.name.to_text().lower()
        or reply.question[0].rdtype != q.rdtype
        or reply.question[0].rdclass != q.rdclass
    ):
        d = R.reply_to(query, RC.FORMERR)
    else:
        d = R.from_message(reply)
        d.id = query.id
    ctx = _Ctx(query, _EMPTY_ZONE, ServerConfig(()), "udp", None, random.Random(decision.rng_seed),
               0, {}, decision.rng_seed)
    return Reply(_finish(ctx, decision.block, d).to_message(), "forward")


def resolve(
    query: dns.message.Message,
    zone: ZoneIndex,
    config: ServerConfig,
    upstream: Callable[[dns.message.Message, tuple[str, ...]], dns.message.Message | None] | None = None,
    **kw: object,
) -> dns.message.Message | None:
    """Drive :func:`answer` to a final message with a pure ``upstream(query, upstreams)``
    standing in for the network (None: no upstream reachable → SERVFAIL, as when unreachable).
    A transfer gives its first message; a dropped query gives None."""
    decision = answer(query, zone, config, **kw)  # type: ignore[arg-type]
    for _ in range(64):
        if isinstance(decision, Reply):
            return decision.message
        if isinstance(decision, Drop):
            return None
        if isinstance(decision, Transfer):
            return decision.messages[0] if decision.messages else None
        if isinstance(decision, Forward):
            reply = upstream(decision.query, decision.upstreams) if upstream else None
            decision = decision.complete(reply)
            continue
        sub = resolve(decision.query, zone, config, upstream, **kw)
        decision = decision.resume(sub)
    raise RuntimeError("resolution did not converge")


# ------------------------------------------------------------------------------ server plumbing


def _edns_of(query: dns.message.Message) -> tuple[int, int, int, list[dns.edns.Option]] | None:
    """The OPT CoreDNS puts on a reply to ``query`` (request.SizeAndDo): the client's own, version
    0, flags but DO cleared, only the options CoreDNS supports echoed."""
    if query.edns < 0:
        return None
    opts = [o for o in query.options if int(o.otype) in ECHOED_OPTIONS]
    return (0, int(query.ednsflags) & 0xFF00, int(query.payload), opts)


def _size_and_do(query: dns.message.Message, d: Draft) -> None:
    if query.edns < 0:
        return
    if d.edns is not None:
        _, flags, _, opts = d.edns
        flags &= 0xFF00
        if query.ednsflags & dns.flags.DO:
            flags |= dns.flags.DO
        d.edns = (0, flags, int(query.payload), opts)
        return
    d.edns = _edns_of(query)


def _plain(query: dns.message.Message, rcode: int, plugin: str) -> Reply:
    """The server's own reply (errorFunc): header, question, the client's OPT."""
    d = R.reply_to(query, rcode)
    _size_and_do(query, d)
    return Reply(d.to_message(), plugin)


def _finish(ctx: _Ctx, block: ServerBlock, d: Draft) -> Draft:
    """Pass a written reply out through the writers: cache TTLs, loadbalance, scrub (OPT)."""
    q = ctx.query.question[0]
    name = ctx.qname.lower()
    if block.cache is not None and longest_zone(block.cache.zones, name):
        _cache_ttls(d, block.cache)
    if block.loadbalance is not None and d.rcode == RC.NOERROR and q.rdtype not in (T.AXFR, T.IXFR):
        d.answer = _round_robin(d.answer, ctx.rng)
        d.authority = _round_robin(d.authority, ctx.rng)
        d.additional = _round_robin(d.additional, ctx.rng)
    _size_and_do(ctx.query, d)
    return d


def _response_type(d: Draft) -> str:
    """plugin/pkg/response Typify, for the cases that reach a cache."""
    if d.answer and d.rcode == RC.NOERROR:
        return "noerror"
    if d.answer and d.rcode == RC.NXDOMAIN:
        return "other"
    soa = any(r.rdtype == T.SOA for r in d.authority)
    if soa and d.rcode == RC.NOERROR:
        return "nodata"
    if d.rcode == RC.NXDOMAIN:
        return "nxdomain"
    if d.rcode in (RC.SERVFAIL, RC.NOTIMP):
        return "servfail"
    if any(r.rdtype == T.NS for r in d.authority) and d.rcode == RC.NOERROR:
        return "delegation"
    return "noerror" if d.rcode == RC.NOERROR else "other"


def _cache_ttls(d: Draft, c: CacheConfig) -> None:
    """The cache plugin's writer: every TTL of the reply becomes the duration it is cached for
    (the smallest TTL in the reply, clamped to the configured minimum and maximum)."""
    mt = _response_type(d)

    def minimal(maximum: int) -> int:
        if mt not in ("noerror", "nxdomain", "nodata"):
            return 5
        if not d.answer and not d.authority and not d.additional:
            return 5
        return min([maximum, *(r.ttl for r in d.answer + d.authority + d.additional)])

    if mt in ("nxdomain", "nodata"):
        ttl = min(max(minimal(c.denial_ttl), c.denial_min_ttl), c.denial_ttl)
    elif mt == "servfail":
        ttl = int(c.servfail_ttl)
    else:
        ttl = min(max(minimal(c.success_ttl), c.success_min_ttl), c.success_ttl)
    d.answer = [r.with_ttl(ttl) for r in d.answer]
    d.authority = [r.with_ttl(ttl) for r in d.authority]
    d.additional = [r.with_ttl(ttl) for r in d.additional]


def _shuffle(rrs: list[RR], rng: random.Random) -> None:
    """loadbalance's roundRobinShuffle, with ``rng`` standing in for ``dns.Id()``."""
    n = len(rrs)
    if n < 2:
        return
    if n == 2:
        if rng.getrandbits(16) % 2 == 0:
            rrs[0], rrs[1] = rrs[1], rrs[0]
        return
    for j in range(n):
        p = j + rng.getrandbits(16) % (n - j)
        if p != j:
            rrs[j], rrs[p] = rrs[p], rrs[j]


def _round_robin(rrs: list[RR], rng: random.Random) -> list[RR]:
    if len(rrs) <= 1:
        return rrs
    t0 = rrs[0].rdtype
    if t0 in (T.A, T.AAAA) and all(r.rdtype == t0 for r in rrs):
        out = list(rrs)
        _shuffle(out, rng)
        return out
    cn = [r for r in rrs if r.rdtype == T.CNAME]
    addr = [r for r in rrs if r.rdtype in (T.A, T.AAAA)]
    mx = [r for r in rrs if r.rdtype == T.MX]
    rest = [r for r in rrs if r.rdtype not in (T.CNAME, T.A, T.AAAA, T.MX)]
    _shuffle(addr, rng)
    _shuffle(mx, rng)
    return cn + rest + addr + mx


def _chain(ctx: _Ctx, block: ServerBlock) -> _Result:
    q = ctx.query.question[0]
    qtype = int(q.rdtype)
    name = ctx.qname.lower()
    if qtype in (T.AXFR, T.IXFR) and block.transfer:
        res = _transfer(ctx, block, name)
        if not isinstance(res, _Next):
            return res
    if block.hosts is not None:
        hosts = ctx.config.hosts_of(block)
        if hosts is not None:
            res = _hosts(ctx, block, hosts)
            if not isinstance(res, _Next):
                return res
    if block.kubernetes is not None:
        res = _Kubernetes(ctx, block.kubernetes).serve()
        if not isinstance(res, _Next):
            return res
    for fwd in block.forward:
        if fwd.matches(name):
            return Forward(ctx.query, _order(ctx, fwd), fwd, block, ctx.seed)
    return NEXT


def _order(ctx: _Ctx, fwd: ForwardConfig) -> tuple[str, ...]:
    ups = list(ctx.config.upstreams(fwd))
    if len(ups) <= 1:
        return tuple(ups)
    if fwd.policy == "sequential":
        return tuple(ups)
    if fwd.policy == "round_robin":
        i = (ctx.counter + 1) % len(ups)
        return tuple([ups[i], *ups[:i], *ups[i + 1:]])
    if len(ups) == 2:
        return tuple(reversed(ups)) if ctx.rng.getrandbits(31) % 2 == 0 else tuple(ups)
    ctx.rng.shuffle(ups)
    return tuple(ups)


def _lookup_decision(ctx: _Ctx, need: _NeedLookup) -> Lookup:
    sub = dns.message.Message(id=ctx.query.id)
    sub.flags = ctx.query.flags
    sub.question = [
        dns.rrset.RRset(dns.name.from_text(need.name), dns.rdataclass.IN,
                        dns.rdatatype.RdataType.make(need.rdtype))
    ]
    if ctx.query.edns >= 0:
        sub.use_edns(ctx.query.edns, ctx.query.ednsflags, ctx.query.payload,
                     options=list(ctx.query.options))
    key = (need.name.lower(), need.rdtype)
    prior = dict(ctx.lookups)

    def resume(result: dns.message.Message | None) -> Answer:
        return answer(
            ctx.query, ctx.zone, ctx.config, protocol=ctx.protocol, client_ip=ctx.client_ip,
            seed=ctx.seed, counter=ctx.counter, lookups={**prior, key: result},
        )

    return Lookup(sub, resume)


# ------------------------------------------------------------------------------ hosts plugin


def _hosts(ctx: _Ctx, block: ServerBlock, hosts: Hosts) -> _Result:
    cfg = block.hosts
    assert cfg is not None
    q = ctx.query.question[0]
    qtype = int(q.rdtype)
    name = ctx.qname.lower()
    zone = longest_zone(cfg.origins, name)
    fall = cfg.fallthrough or ()
    if not zone and qtype != T.PTR:
        return NEXT
    answers: list[RR] = []
    if qtype == T.PTR:
        names = hosts.names_of(address_from_reverse(name)) if address_from_reverse(name) else ()
        if not names:
            return NEXT
        answers = [R.ptr(name, cfg.ttl, fqdn(n)) for n in names]
    elif qtype == T.A:
        answers = [R.a(name, cfg.ttl, ip) for ip in hosts.addresses(name, 4)]
    elif qtype == T.AAAA:
        answers = [R.aaaa(name, cfg.ttl, ip) for ip in hosts.addresses(name, 6)]
    elif cfg.fallthrough_unsupported and longest_zone(fall, name):
        return NEXT
    if not answers and not hosts.has_name(name):
        if longest_zone(fall, name):
            return NEXT
        return _Rcode(RC.SERVFAIL, "hosts")
    d = R.reply_to(ctx.query)
    d.flags |= dns.flags.AA
    d.answer = answers
    return _Written(d, "hosts")


# ------------------------------------------------------------------------------ transfer plugin


def _transfer(ctx: _Ctx, block: ServerBlock, name: str) -> _Result:
    from podnet.dns.xfr import transfer_records

    if ctx.protocol != "tcp":
        return _Rcode(RC.REFUSED, "transfer")
    best = None
    for x in block.transfer:
        z = longest_zone(x.zones, name)
        if z and (best is None or len(z) > len(best[0])):
            best = (z, x)
    if best is None:
        return NEXT
    allowed = "*" in best[1].to or (
        ctx.client_ip is not None
        and any(t.rsplit(":", 1)[0].strip("[]") == ctx.client_ip for t in best[1].to)
    )
    if not allowed:
        d = R.reply_to(ctx.query, RC.REFUSED)
        return _Written(d, "transfer")
    k = block.kubernetes
    if k is None or not longest_zone(k.zones, name):
        return NEXT
    rrs = transfer_records(ctx.zone, k, ctx.query.question[0].name.to_text(), ctx.config.server_ips)
    msgs = []
    for batch in _batches(rrs):
        d = R.reply_to(ctx.query)
        d.flags |= dns.flags.AA
        d.answer = batch
        msgs.append(d.to_message())
    return Transfer(tuple(msgs))


def _batches(rrs: list[RR]) -> list[list[RR]]:
    out: list[list[RR]] = []
    cur: list[RR] = []
    size = 0
    for rr in rrs:
        n = len(rr.owner) + 12 + len(rr.rdata.to_digestable())
        if cur and size + n > 63000:
            out.append(cur)
            cur, size = [], 0
        cur.append(rr)
        size += n
    if cur:
        out.append(cur)
    return out


# ------------------------------------------------------------------------------ kubernetes plugin


@dataclass(frozen=True, slots=True)
class _Svc:
    """CoreDNS's msg.Service: where a record points (``host``) and its name (``key``)."""

    host: str
    key: str
    ttl: int
    port: int = -1
    text: str = ""

    @property
    def host_type(self) -> int:
        """msg.Service.HostType: A for IPv4 (IPv4-mapped too), AAAA for IPv6, else TXT or CNAME."""
        return _host_type(self.host, self.text)


def _host_type(host: str, text: str = "") -> int:
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts):
        return T.A
    if ":" in host:
        try:
            ip = ipaddress.IPv6Address(host)
        except ValueError:
            return T.TXT if text else T.CNAME
        return T.A if ip.ipv4_mapped is not None else T.AAAA
    return T.TXT if text else T.CNAME


def _is_ip(s: str) -> bool:
    return _host_type(s, "x") in (T.A, T.AAAA)


@dataclass(frozen=True, slots=True)
class _Request:
    """parseRequest's recordRequest."""

    pod_or_svc: str = ""
    namespace: str = ""
    service: str = ""
    endpoint: str = ""
    port: str = ""
    protocol: str = ""


_NO_ITEMS = "no items found"
_NS_NOT_EXPOSED = "namespace is not exposed"
_INVALID = "invalid query name"


def _strip_underscore(s: str) -> str:
    return s[1:] if s.startswith("_") else s


def _parse_request(name: str, zone: str) -> tuple[_Request, str | None]:
    base = trim_zone(name, zone)
    if base in ("", "svc", "pod"):
        return _Request(), None
    segs = base.split(".")
    last = len(segs) - 1
    kind = segs[last]
    if kind not in ("pod", "svc"):
        return _Request(), _INVALID
    last -= 1
    if last < 0:
        return _Request(kind), None
    ns = segs[last]
    last -= 1
    if last < 0:
        return _Request(kind, ns), None
    svc = segs[last]
    last -= 1
    if last < 0:
        return _Request(kind, ns, svc), None
    if last == 0:
        return _Request(kind, ns, svc, endpoint=segs[0]), None
    if last == 1:
        return _Request(kind, ns, svc, port=_strip_underscore(segs[0]),
                        protocol=_strip_underscore(segs[1])), None
    return _Request(), _INVALID


def _match(a: str, b: str) -> bool:
    return a == b or a.lower() == b.lower()


def _match_pp(a_port: str, b_port: str, a_proto: str, b_proto: str) -> bool:
    return (not a_port or _match(a_port, b_port)) and (not a_proto or _match(a_proto, b_proto))


class _Kubernetes:
    """One query's walk through the kubernetes plugin (see the module doc)."""

    def __init__(self, ctx: _Ctx, cfg: KubernetesConfig) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.zi = ctx.zone
        self.ttl = cfg.ttl

    # -- the namespace rules ------------------------------------------------------------------

    def exposed(self, ns: str) -> bool:
        return (not self.cfg.namespaces or ns in self.cfg.namespaces) and ns in self.zi.namespaces

    # -- Records --------------------------------------------------------------------------------

    def records(self, name: str, zone: str) -> tuple[list[_Svc], str | None]:
        r, err = _parse_request(name, zone)
        if err:
            return [], err
        if not r.pod_or_svc:
            return [], None
        if is_reverse(name):
            return [], _NO_ITEMS
        if not self.exposed(r.namespace):
            return [], _NS_NOT_EXPOSED
        if r.pod_or_svc == "pod":
            return self.find_pods(r, zone)
        return self.find_services(r, zone)

    def find_pods(self, r: _Request, zone: str) -> tuple[list[_Svc], str | None]:
        if self.cfg.pods == "disabled":
            return [], _NO_ITEMS
        if not self.exposed(r.namespace):
            return [], _NO_ITEMS
        podname = r.service
        if not podname:
            return [], None
        key = f"{podname}.{r.namespace}.pod.{zone}"
        if podname.count("-") == 3 and "--" not in podname:
            ip_text = podname.replace("-", ".")
        else:
            ip_text = podname.replace("-", ":")
        ip = ip_from_pod_label(podname)
        if self.cfg.pods == "insecure":
            if ip is None:
                return [], _NO_ITEMS
            return [_Svc(ip_text if _is_ip(ip_text) else ip, key, self.ttl)], None
        out = []
        for ns in self.zi.pods_by_ip.get(ip or "", ()):
            if _match(r.namespace, ns):
                out.append(_Svc(ip or ip_text, key, self.ttl))
        return out, (None if out else _NO_ITEMS)

    def find_services(self, r: _Request, zone: str) -> tuple[list[_Svc], str | None]:
        if not self.exposed(r.namespace):
            return [], _NO_ITEMS
        if not r.service:
            return [], None
        err: str | None = _NO_ITEMS
        out: list[_Svc] = []
        svc = self.zi.service(r.namespace, r.service)
        if svc is None:
            return out, err
        if (self.cfg.ignore_empty_service and not svc.is_external and not svc.headless
                and svc.ready_addresses == 0):
            return out, err
        base = f"{svc.name}.{svc.namespace}.svc.{zone}"
        if svc.is_external:
            if r.endpoint or r.port or r.protocol:
                return out, err
            s = _Svc(svc.external_name, base, self.ttl)
            if s.host_type == T.CNAME:
                out.append(s)
                err = None
            return out, err
        if svc.headless or r.endpoint:
            if r.endpoint:
                pairs = self._by_label(svc, r.endpoint)
            else:
                pairs = [(a, sub) for sub in svc.subsets for a in sub.addresses]
            for addr, sub in pairs:
                for p in sub.ports:
                    if not _match_pp(r.port, p.name, r.protocol, p.protocol):
                        continue
                    out.append(_Svc(addr.ip, f"{addr.label}.{base}", self.ttl, p.port))
                    err = None
            return out, err
        for p in svc.ports:
            if not _match_pp(r.port, p.name, r.protocol, p.protocol):
                continue
            err = None
            for ip in svc.cluster_ips:
                out.append(_Svc(ip, base, self.ttl, p.port))
        return out, err

    @staticmethod
    def _by_label(svc: ServiceEntry, label: str) -> list[tuple[Address, Subset]]:
        return list(svc.by_label.get(label.lower(), ()))

    # -- Services (per query type) ------------------------------------------------------------------

    def services(self, name: str, qname: str, qtype: int, zone: str) -> tuple[list[_Svc], str | None]:
        if qtype == T.TXT:
            segs = labels(trim_zone(name, zone))
            if segs == ["dns-version"]:
                return [_Svc("", qname, 28800, text=DNS_SCHEMA_VERSION)], None
            found, _ = self.records(name, zone)
            if found:
                return [], None
            return [], _NO_ITEMS
        if qtype == T.NS:
            return [_Svc(ip, owner, self.ttl) for owner, ip in self.ns_addrs(zone)], None
        if name.startswith("ns.dns.") and name.find(zone) == len("ns.dns."):
            out = []
            for _, ip in self.ns_addrs(zone):
                is6 = ":" in ip
                if (qtype == T.A and not is6) or (qtype == T.AAAA and is6):
                    out.append(_Svc(ip, qname, self.ttl))
            return out, None
        s, e = self.records(name, zone)
        if qtype != T.SRV:
            return s, e
        return [x for x in s if x.host_type != T.CNAME], e

    def ns_addrs(self, zone: str) -> list[tuple[str, str]]:
        """nsAddrs: the server's own names and addresses (the kube-dns Service that selects it)."""
        out: list[tuple[str, str]] = []
        found = False
        for local in self.ctx.config.server_ips:
            for rev in self.zi.endpoints_by_ip.get(local, ()):
                found = True
                svc = self.zi.service(rev.namespace, rev.service)
                if svc is None:
                    continue
                svc_name = f"{svc.name}.{svc.namespace}.svc.{zone}"
                if svc.headless:
                    for a in rev.subset.addresses:
                        out.append((f"{a.label}.{svc_name}", a.ip))
                else:
                    out.extend((svc_name, ip) for ip in svc.cluster_ips if ip)
        if not found:
            out = [(f"ns.dns.{zone}", ip) for ip in self.ctx.config.server_ips]
        return out

    # -- record builders (plugin/backend_lookup.go) ---------------------------------------------------

    def address(self, name: str, qname: str, qtype: int, zone: str, previous: list[RR]
                ) -> tuple[list[RR], bool, str | None]:
        services, err = self.services(name, qname, qtype, zone)
        if err:
            return [], False, err
        out: list[RR] = []
        truncated = False
        dup: set[str] = set()
        for s in services:
            t = s.host_type
            if t == T.CNAME:
                target = fqdn(s.host)
                if is_subdomain(name, target):
                    continue
                new = R.cname(qname, s.ttl, target)
                if len(previous) > MAX_CNAME_CHAIN:
                    continue
                if any(p.rdtype == T.CNAME and str(p.rdata) == target for p in previous):
                    continue
                if is_subdomain(zone, target):
                    nxt, tc, e = self.address(target.lower(), target, qtype, zone, [*previous, new])
                    if e is None and nxt:
                        out.append(new)
                        out.extend(nxt)
                    truncated = truncated or tc
                    continue
                key = (target.lower(), qtype)
                if key not in self.ctx.lookups:
                    raise _NeedLookup(target, qtype)
                m1 = self.ctx.lookups[key]
                if m1 is None:
                    continue
                truncated = truncated or bool(m1.flags & dns.flags.TC)
                out.append(new)
                out.extend(R.flatten(m1.answer))
            elif t == qtype and s.host not in dup:
                dup.add(s.host)
                out.append(R.address(qname, s.ttl, s.host))
        return out, truncated, None

    def srv(self, name: str, qname: str, zone: str) -> tuple[list[RR], list[RR], str | None]:
        services, err = self.services(name, qname, T.SRV, zone)
        if err:
            return [], [], err
        total = 100 * len(services)
        out: list[RR] = []
        extra: list[RR] = []
        seen_srv: set[tuple[str, int]] = set()
        seen_addr: set[tuple[str, str]] = set()
        for s in services:
            if s.port == -1:
                continue
            weight = max(1, math.floor(100.0 / total * 100)) & 0xFFFF
            if s.host_type in (T.A, T.AAAA):
                target = s.key
                if (target, s.port) not in seen_srv:
                    seen_srv.add((target, s.port))
                    out.append(R.srv(qname, s.ttl, 0, weight, s.port, target))
                if (target, s.host) not in seen_addr:
                    seen_addr.add((target, s.host))
                    extra.append(R.address(target, s.ttl, s.host))
        return out, extra, None

    def soa(self, zone: str) -> RR:
        return R.soa(zone, min(self.ttl, 300), f"ns.dns.{zone}", f"hostmaster.{zone}",
                     self.zi.serial, 7200, 1800, 86400, self.ttl)

    def reverse(self, name: str, zone: str) -> tuple[list[_Svc], str | None]:
        ip = address_from_reverse(name)
        if not ip:
            _, e = self.records(name, zone)
            return [], e
        primary = self.cfg.primary_zone
        for svc in self.zi.service_by_ip.get(ip, ()):
            if self.cfg.namespaces and not self.exposed(svc.namespace):
                continue
            return [_Svc(f"{svc.name}.{svc.namespace}.svc.{primary}", "", self.ttl)], None
        out = []
        for rev in self.zi.endpoints_by_ip.get(ip, ()):
            if self.cfg.namespaces and not self.exposed(rev.namespace):
                continue
            out.append(_Svc(f"{rev.address.label}.{rev.service}.{rev.namespace}.svc.{primary}", "", self.ttl))
        return out, (None if out else _NO_ITEMS)

    # -- ServeDNS --------------------------------------------------------------------------------

    def serve(self) -> _Result:
        query = self.ctx.query
        q = query.question[0]
        qname = self.ctx.qname
        name = qname.lower()
        zone_l = longest_zone(self.cfg.zones, name)
        if not zone_l:
            return NEXT
        zone = qname[len(qname) - len(zone_l):]
        qtype = int(q.rdtype)
        recs: list[RR] = []
        extra: list[RR] = []
        truncated = False
        err: str | None = None
        if qtype in (T.A, T.AAAA):
            recs, truncated, err = self.address(name, qname, qtype, zone, [])
        elif qtype == T.TXT:
            svcs, err = self.services(name, qname, T.TXT, zone)
            seen: set[str] = set()
            for s in svcs:
                if s.host_type == T.TXT and s.text not in seen:
                    seen.add(s.text)
                    recs.append(R.txt(qname, s.ttl, s.text))
        elif qtype == T.CNAME:
            svcs, err = self.services(name, qname, T.CNAME, zone)
            if svcs and svcs[0].host_type == T.CNAME:
                recs.append(R.cname(qname, svcs[0].ttl, fqdn(svcs[0].host)))
        elif qtype == T.PTR:
            svcs, err = self.reverse(name, zone)
            seen = set()
            for s in svcs:
                if s.host not in seen:
                    seen.add(s.host)
                    recs.append(R.ptr(qname, s.ttl, fqdn(s.host)))
        elif qtype == T.MX:
            _, err = self.services(name, qname, T.MX, zone)
        elif qtype == T.SRV:
            recs, extra, err = self.srv(name, qname, zone)
        elif qtype == T.SOA:
            if qname == zone:
                recs = [self.soa(zone)]
        elif qtype in (T.AXFR, T.IXFR):
            return _Rcode(RC.REFUSED, "kubernetes")
        elif qtype == T.NS and name == zone:
            seen = set()
            for s in self.services(f"ns.dns.{zone}".lower(), qname, T.NS, zone)[0]:
                target = s.key
                extra.append(R.address(target, s.ttl, s.host))
                if target not in seen:
                    seen.add(target)
                    recs.append(R.ns(qname, s.ttl, target))
        else:
            _, _, err = self.address(name, qname, T.A, zone, [])
        if err:
            if self.cfg.fallthrough is not None and longest_zone(self.cfg.fallthrough, name):
                return NEXT
            return self.backend_error(RC.NXDOMAIN, zone)
        if not recs:
            return self.backend_error(RC.NOERROR, zone)
        d = R.reply_to(query)
        d.flags |= dns.flags.AA
        if truncated:
            d.flags |= dns.flags.TC
        d.answer = recs
        d.additional = extra
        return _Written(d, "kubernetes")

    def backend_error(self, rcode: int, zone: str) -> _Written:
        d = R.reply_to(self.ctx.query, rcode)
        d.flags |= dns.flags.AA
        d.authority = [self.soa(zone)]
        return _Written(d, "kubernetes")


_EMPTY_ZONE = ZoneIndex({}, frozenset(), {}, {}, {}, 1)
