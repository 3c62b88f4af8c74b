"""The glibc stub resolver's search walk (resolv/res_query.c ``__res_context_search``), sans-I/O.

Given a name, a pod's resolv.conf and a query type, glibc decides which absolute names to ask,
in what order, and when to stop:

* ``dots`` is the number of dots in the name; a trailing dot makes the name absolute.
* If ``dots >= ndots`` or the name ends in a dot, the name is first tried as is. A trailing dot
  stops there whatever the outcome.
* Otherwise (and after that first try failed) each search domain is appended in order. An answer
  with records stops the walk. NXDOMAIN and NODATA go on to the next domain; SERVFAIL goes on too
  (``got_servfail``); any other failure (REFUSED, FORMERR, NOTIMP, no server answering) ends the
  search loop.
* Finally the name as is, unless it was already tried (or a search domain was the root) — and
  for a single-label name not when ``options no-tld-query`` is set.

Each of those names is one ``res_query``: glibc sends it to the nameservers in order (rotated
with ``options rotate``), each up to ``attempts`` times (default 2) with ``timeout`` seconds
(default 5) to wait; SERVFAIL, NOTIMP and REFUSED from one server make it try the next.

:class:`StubWalk` is a state machine: :meth:`StubWalk.next` gives the next packet to send
(name, type, server) or the outcome; :meth:`StubWalk.feed` takes the server's reply (None for a
timeout). :func:`walk` drives it against a function, e.g. :func:`podnet.dns.answer.resolve`.
``getaddrinfo`` asks A and AAAA for each name (in parallel unless ``single-request``); the walk
here is for one type, so the packets on the wire are twice the names for an address lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import dns.rdatatype

from podnet.dns.config import ServerConfig
from podnet.dns.resolvconf import ResolvConf
from podnet.dns.zone import ZoneIndex


@dataclass(frozen=True, slots=True)
class Send:
    """Send a query for ``name`` (absolute) of ``rdtype`` to ``server``."""

    name: str
    rdtype: int
    server: str
    attempt: int
    timeout: float


@dataclass(frozen=True, slots=True)
class Tried:
    """One name of the walk and how it ended (``rcode`` text, or ``TIMEOUT``)."""

    name: str
    rcode: str
    answers: int
    why: str


@dataclass(frozen=True, slots=True)
class Done:
    """The walk is over. ``response`` is the answer used (None: resolution failed);
    ``h_errno`` is glibc's verdict (``NETDB_SUCCESS``, ``HOST_NOT_FOUND``, ``NO_DATA``,
    ``TRY_AGAIN``, ``NO_RECOVERY``)."""

    response: dns.message.Message | None
    h_errno: str
    tried: tuple[Tried, ...]


@dataclass(frozen=True, slots=True)
class Options:
    ndots: int = 1
    attempts: int = 2
    timeout: float = 5.0
    rotate: bool = False
    no_tld_query: bool = False

    @classmethod
    def of(cls, rc: ResolvConf) -> Options:
        def num(name: str, default: int, cap: int) -> int:
            v = rc.option(name)
            try:
                return min(int(v), cap) if v else default
            except ValueError:
                return default

        return cls(
            ndots=num("ndots", 1, 15),
            attempts=max(1, num("attempts", 2, 5)),
            timeout=float(num("timeout", 5, 30)),
            rotate=rc.option("rotate") is not None,
            no_tld_query=rc.option("no-tld-query") is not None,
        )


def candidates(name: str, rc: ResolvConf) -> list[tuple[str, str]]:
    """Every absolute name the walk may try, in order, with why; the walk stops early on an
    answer or a hard failure (see :class:`StubWalk`)."""
    opts = Options.of(rc)
    trailing = name.endswith(".")
    base = name.rstrip(".")
    dots = base.count(".")
    out: list[tuple[str, str]] = []
    tried_as_is = dots >= opts.ndots or trailing
    if tried_as_is:
        reason = "trailing dot: absolute" if trailing else f"{dots} dots >= ndots:{opts.ndots}: as is first"
        out.append((base + ".", reason))
        if trailing:
            return out
    root_on_list = False
    for dom in rc.search:
        d = dom[1:] if dom.startswith(".") else dom
        if d in ("", "."):
            root_on_list = True
            out.append((base + ".", "search domain . (the root)"))
            continue
        out.append((f"{base}.{d.rstrip('.')}.", f"search domain {d}"))
    if (dots or not rc.search or not opts.no_tld_query) and not (tried_as_is or root_on_list):
        out.append((base + ".", f"as is, after the search list ({dots} dots < ndots:{opts.ndots})"))
    return out


@dataclass
class StubWalk:
    """The search walk for one name and type (see the module doc)."""

    name: str
    rdtype: int
    conf: ResolvConf
    opts: Options = field(init=False)
    names: list[tuple[str, str]] = field(init=False)
    tried: list[Tried] = field(default_factory=list)
    _i: int = 0
    _send: int = 0
    _last: dns.message.Message | None = None
    _got_nodata: bool = False
    _got_servfail: bool = False
    _done: Done | None = None
    _search_stopped: bool = False
    _rotation: int = 0

    def __post_init__(self) -> None:
        self.opts = Options.of(self.conf)
        self.names = candidates(self.name, self.conf)
        self.servers = list(self.conf.nameservers) or ["127.0.0.1"]

    def _plan(self) -> list[tuple[str, int]]:
        n = len(self.servers)
        start = (self._rotation % n) if self.opts.rotate else 0
        order = self.servers[start:] + self.servers[:start]
        return [(s, a) for a in range(self.opts.attempts) for s in order]

    def next(self) -> Send | Done:
        if self._done is not None:
            return self._done
        while self._i < len(self.names):
            name, why = self.names[self._i]
            if self._search_stopped and why.startswith("search domain"):
                self._i += 1
                continue
            plan = self._plan()
            if self._send < len(plan):
                server, attempt = plan[self._send]
                return Send(name, self.rdtype, server, attempt, self.opts.timeout)
            self._finish_name(None)
            if self._done is not None:
                return self._done
        self._done = self._fail()
        return self._done

    def feed(self, response: dns.message.Message | None) -> None:
        """The reply to the last :class:`Send` (None: no reply within the timeout)."""
        if response is None:
            self._send += 1
            return
        rc = response.rcode()
        if rc in (dns.rcode.SERVFAIL, dns.rcode.NOTIMP, dns.rcode.REFUSED):
            self._last = response
            self._send += 1
            if self._send < len(self._plan()):
                return
        self._finish_name(response)

    def _finish_name(self, response: dns.message.Message | None) -> None:
        name, why = self.names[self._i]
        response = response if response is not None else self._last
        self._i += 1
        self._send = 0
        self._last = None
        self._rotation += 1
        searching = why.startswith("search domain")
        if response is None:
            self.tried.append(Tried(name, "TIMEOUT", 0, why))
            verdict = "TRY_AGAIN"
            rc = -1
        else:
            rc = response.rcode()
            count = sum(len(r) for r in response.answer)
            self.tried.append(Tried(name, dns.rcode.to_text(rc), count, why))
            if rc == dns.rcode.NOERROR and count > 0:
                self._done = Done(response, "NETDB_SUCCESS", tuple(self.tried))
                return
            verdict = _herrno(rc)
        self._verdict = verdict
        if self.name.endswith("."):
            self._done = Done(None, verdict, tuple(self.tried))
            return
        if "as is first" in why:
            self._saved = verdict
            return
        if not searching:
            return
        if verdict == "NO_DATA":
            self._got_nodata = True
        elif verdict == "HOST_NOT_FOUND":
            pass
        elif verdict == "TRY_AGAIN" and rc == dns.rcode.SERVFAIL:
            self._got_servfail = True
        else:
            self._search_stopped = True

    def _fail(self) -> Done:
        saved = getattr(self, "_saved", None)
        if saved is not None:
            verdict = saved
        elif self._got_nodata:
            verdict = "NO_DATA"
        elif self._got_servfail:
            verdict = "TRY_AGAIN"
        else:
            verdict = getattr(self, "_verdict", "TRY_AGAIN")
        return Done(None, verdict, tuple(self.tried))


def _herrno(rc: int) -> str:
    if rc == dns.rcode.NXDOMAIN:
        return "HOST_NOT_FOUND"
    if rc == dns.rcode.SERVFAIL:
        return "TRY_AGAIN"
    if rc == dns.rcode.NOERROR:
        return "NO_DATA"
    return "NO_RECOVERY"


def walk(
    name: str,
    rdtype: int | str,
    conf: ResolvConf,
    send: Callable[[dns.message.Message, str], dns.message.Message | None],
) -> Done:
    """Run the walk, asking ``send(query, server)`` for each packet (None: timeout)."""
    t = dns.rdatatype.RdataType.make(rdtype) if isinstance(rdtype, str) else rdtype
    w = StubWalk(name, int(t), conf)
    while True:
        step = w.next()
        if isinstance(step, Done):
            return step
        q = dns.message.make_query(step.name, dns.rdatatype.RdataType.make(step.rdtype))
        q.id = 0
        w.feed(send(q, step.server))


def walk_model(
    name: str,
    rdtype: int | str,
    conf: ResolvConf,
    zone: ZoneIndex,
    config: ServerConfig,
    upstream: Callable[[dns.message.Message, tuple[str, ...]], dns.message.Message | None] | None = None,
) -> Done:
    """The walk answered by the model: every server of ``conf`` is the cluster DNS described by
    ``zone`` and ``config``; names it forwards go to ``upstream`` (None: unreachable)."""
    from podnet.dns.answer import resolve

    return walk(name, rdtype, conf, lambda q, _server: resolve(q, zone, config, upstream))
