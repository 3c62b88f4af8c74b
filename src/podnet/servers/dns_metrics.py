"""The DNS server's metrics, exposed with CoreDNS's names in Prometheus' text format.

CoreDNS's ``prometheus`` plugin (plugin/metrics/vars) counts every request and response; the
``cache`` and ``forward`` plugins add their own. podnet exports the same families with the same
labels, so dashboards and alerts written for CoreDNS read podnet unchanged:

* ``coredns_dns_requests_total{server,zone,view,proto,family,type}``
* ``coredns_dns_responses_total{server,zone,view,rcode,plugin}``
* ``coredns_dns_request_duration_seconds{server,zone,view,type}`` (histogram)
* ``coredns_dns_request_size_bytes`` / ``coredns_dns_response_size_bytes{server,zone,view,proto}``
* ``coredns_cache_hits_total{server,type,zones,view}``, ``coredns_cache_misses_total{server,zones,view}``
* ``coredns_forward_requests_total{to}``, ``coredns_forward_responses_total{to,rcode}``,
  ``coredns_proxy_request_duration_seconds{proxy_name,to,rcode}``,
  ``coredns_proxy_healthcheck_failures_total{proxy_name,to}``,
  ``coredns_proxy_conn_cache_hits_total`` / ``_misses_total{proxy_name,to,proto}`` (upstream
  connections reused or opened),
  ``coredns_forward_healthcheck_broken_total``, ``coredns_forward_max_concurrent_rejects_total``
* ``coredns_panics_total``, ``coredns_build_info``, ``coredns_plugin_enabled``

and podnet's own: ``podnet_dns_wire_cache_hits_total`` / ``_misses_total`` (answers served from
the wire cache or computed), ``podnet_dns_zone_reloads_total``.

The hot path must stay cheap: a query served from the wire cache bumps counters in a
:class:`Cell` it already holds (one per distinct label set); labels are expanded only when
``/metrics`` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: plugin.TimeBuckets: exponential from 0.25 ms, factor 2, 16 buckets.
TIME_BUCKETS: tuple[float, ...] = tuple(0.00025 * 2**i for i in range(16))
#: plugin.SizeBuckets.
SIZE_BUCKETS: tuple[int, ...] = (0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000,
                                 48000, 64000)
#: The types CoreDNS's vars.Report names; every other type is counted as "other".
MONITORED_TYPES = frozenset({
    "A", "AAAA", "NS", "PTR", "SOA", "MX", "TXT", "SRV", "CNAME", "DS", "DNSKEY", "RRSIG",
    "NSEC", "NSEC3", "HINFO", "NAPTR", "IXFR", "AXFR", "ANY", "CAA", "HTTPS", "SVCB",
})
#: (proto, family) → index in a cell's counters.
PROTO_FAMILY = (("udp", "1"), ("udp", "2"), ("tcp", "1"), ("tcp", "2"))


def type_label(qtype: str) -> str:
    return qtype if qtype in MONITORED_TYPES else "other"


def size_bucket(n: int) -> int:
    return bisect_left(SIZE_BUCKETS, n)


@dataclass(frozen=True, slots=True)
class CellKey:
    """The label values one served query contributes to."""

    server: str
    zone: str
    qtype: str
    rcode: str
    plugin: str
    #: "" (no cache plugin on the path), "miss", "success" or "denial" (a cache plugin hit)
    cache: str
    cache_zone: str
    wire_hit: bool
    req_size: int
    resp_size: int


class Cell:
    """Counters of one label set: per (proto, family) and a duration histogram."""

    __slots__ = ("key", "n", "dur", "dur_sum")

    def __init__(self, key: CellKey) -> None:
        self.key = key
        self.n = [0, 0, 0, 0]
        self.dur = [0] * (len(TIME_BUCKETS) + 1)
        self.dur_sum = 0.0

    def observe(self, index: int, seconds: float) -> None:
        self.n[index] += 1
        self.dur_sum += seconds
        if seconds <= TIME_BUCKETS[0]:
            self.dur[0] += 1
        else:
            self.dur[bisect_left(TIME_BUCKETS, seconds)] += 1

    def observe_many(self, index: int, count: int, bucket: int, seconds: float) -> None:
        """``count`` queries of one batch that each took ``seconds`` (in histogram ``bucket``):
        the batched UDP path counts a run of hits on one cell at once."""
        self.n[index] += count
        self.dur_sum += seconds * count
        self.dur[bucket] += count


class Histogram:
    __slots__ = ("buckets", "counts", "total", "count")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _num(v: float) -> str:
    if isinstance(v, int) or float(v).is_integer():
        return str(int(v))
    return repr(float(v))


class Metrics:
    """Every metric of the process (shared by all its DNS servers)."""

    def __init__(self, version: str = "podnet") -> None:
        self.version = version
        self.cells: dict[CellKey, Cell] = {}
        self.fwd_requests: dict[str, int] = defaultdict(int)
        self.fwd_responses: dict[tuple[str, str], int] = defaultdict(int)
        self.fwd_durations: dict[tuple[str, str], Histogram] = {}
        self.hc_failures: dict[str, int] = defaultdict(int)
        #: (upstream, proto) → connections taken from the pool / opened
        self.conn_hits: dict[tuple[str, str], int] = defaultdict(int)
        self.conn_misses: dict[tuple[str, str], int] = defaultdict(int)
        self.hc_broken = 0
        self.max_concurrent_rejects = 0
        self.panics = 0
        self.reloads = 0
        self.plugins: set[tuple[str, str, str]] = set()
        self.cache_entries: dict[tuple[str, str, str], int] = {}

    def cell(self, key: CellKey) -> Cell:
        c = self.cells.get(key)
        if c is None:
            c = self.cells[key] = Cell(key)
        return c

    def forward_done(self, to: str, rcode: str, seconds: float) -> None:
        self.fwd_responses[(to, rcode)] += 1
        h = self.fwd_durations.get((to, rcode))
        if h is None:
            h = self.fwd_durations[(to, rcode)] = Histogram(TIME_BUCKETS)
        h.observe(seconds)

    # ------------------------------------------------------------------------ workers

    def snapshot(self) -> dict[str, Any]:
        """Every counter as plain data (what a worker process reports to the first one)."""
        return {
            "cells": {k: (list(c.n), list(c.dur), c.dur_sum) for k, c in self.cells.items()},
            "fwd_requests": dict(self.fwd_requests),
            "fwd_responses": dict(self.fwd_responses),
            "fwd_durations": {k: (list(h.counts), h.total, h.count)
                              for k, h in self.fwd_durations.items()},
            "hc_failures": dict(self.hc_failures),
            "conn_hits": dict(self.conn_hits),
            "conn_misses": dict(self.conn_misses),
            "hc_broken": self.hc_broken,
            "max_concurrent_rejects": self.max_concurrent_rejects,
            "panics": self.panics,
            "plugins": set(self.plugins),
            "cache_entries": dict(self.cache_entries),
        }

    def merged(self, snapshots: Iterable[dict[str, Any]]) -> Metrics:
        """These metrics plus the workers' ``snapshots``, summed (reloads: this process's)."""
        out = Metrics(self.version)
        out.reloads = self.reloads
        for snap in (self.snapshot(), *snapshots):
            for k, (n, dur, dur_sum) in snap["cells"].items():
                c = out.cell(k)
                c.n = [a + b for a, b in zip(c.n, n)]
                c.dur = [a + b for a, b in zip(c.dur, dur)]
                c.dur_sum += dur_sum
            for to, v in snap["fwd_requests"].items():
                out.fwd_requests[to] += v
            for key, v in snap["fwd_responses"].items():
                out.fwd_responses[key] += v
            for key, (counts, total, count) in snap["fwd_durations"].items():
                h = out.fwd_durations.setdefault(key, Histogram(TIME_BUCKETS))
                h.counts = [a + b for a, b in zip(h.counts, counts)]
                h.total += total
                h.count += count
            for to, v in snap["hc_failures"].items():
                out.hc_failures[to] += v
            for key, v in snap.get("conn_hits", {}).items():
                out.conn_hits[key] += v
            for key, v in snap.get("conn_misses", {}).items():
                out.conn_misses[key] += v
            out.hc_broken += snap["hc_broken"]
            out.max_concurrent_rejects += snap["max_concurrent_rejects"]
            out.panics += snap["panics"]
            out.plugins |= snap["plugins"]
            for key, v in snap["cache_entries"].items():
                out.cache_entries[key] = out.cache_entries.get(key, 0) + v
        return out

    # ------------------------------------------------------------------------ exposition

    def render(self) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")

        def sample(name: str, labels: Iterable[tuple[str, str]], value: float) -> None:
            out.append(f"{name}{_labels(labels)} {_num(value)}")

        def histogram(name: str, labels: tuple[tuple[str, str], ...], buckets: tuple[float, ...],
                      counts: list[int], total: float) -> None:
            acc = 0
            for b, c in zip(buckets, counts):
                acc += c
                sample(f"{name}_bucket", (*labels, ("le", _num(b))), acc)
            acc += counts[-1]
            sample(f"{name}_bucket", (*labels, ("le", "+Inf")), acc)
            sample(f"{name}_sum", labels, total)
            sample(f"{name}_count", labels, acc)

        requests: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
        responses: dict[tuple[str, str, str, str], int] = defaultdict(int)
        durations: dict[tuple[str, str, str], tuple[list[int], list[float]]] = {}
        req_sizes: dict[tuple[str, str, str], list[int]] = {}
        resp_sizes: dict[tuple[str, str, str], list[int]] = {}
        hits: dict[tuple[str, str, str], int] = defaultdict(int)
        misses: dict[tuple[str, str], int] = defaultdict(int)
        wire = {True: 0, False: 0}
        for key, cell in list(self.cells.items()):
            total = sum(cell.n)
            if not total:
                continue
            for i, n in enumerate(cell.n):
                if not n:
                    continue
                proto, fam = PROTO_FAMILY[i]
                requests[(key.server, key.zone, proto, fam, key.qtype)] += n
                rs = req_sizes.setdefault((key.server, key.zone, proto), [0] * (len(SIZE_BUCKETS) + 1))
                rs[key.req_size] += n
                ps = resp_sizes.setdefault((key.server, key.zone, proto), [0] * (len(SIZE_BUCKETS) + 1))
                ps[key.resp_size] += n
            responses[(key.server, key.zone, key.rcode, key.plugin)] += total
            d = durations.setdefault((key.server, key.zone, key.qtype),
                                     ([0] * (len(TIME_BUCKETS) + 1), [0.0]))
            for i, c in enumerate(cell.dur):
                d[0][i] += c
            d[1][0] += cell.dur_sum
            if key.cache == "miss":
                misses[(key.server, key.cache_zone)] += total
            elif key.cache:
                hits[(key.server, key.cache, key.cache_zone)] += total
            wire[key.wire_hit] += total

        family("coredns_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.")
        sample("coredns_build_info", (("goversion", "python"), ("revision", "podnet"), ("version", self.version)), 1)
        family("coredns_dns_requests_total", "counter", "Counter of DNS requests made per zone, protocol and family.")
        for (server, zone, proto, fam, qtype), n in sorted(requests.items()):
            sample("coredns_dns_requests_total", (("family", fam), ("proto", proto), ("server", server),
                                                  ("type", qtype), ("view", ""), ("zone", zone)), n)
        family("coredns_dns_responses_total", "counter", "Counter of response status codes.")
        for (server, zone, rcode, plugin), n in sorted(responses.items()):
            sample("coredns_dns_responses_total", (("plugin", plugin), ("rcode", rcode), ("server", server),
                                                   ("view", ""), ("zone", zone)), n)
        family("coredns_dns_request_duration_seconds", "histogram", "Histogram of the time (in seconds) each request took per zone.")
        for (server, zone, qtype), (counts, total_s) in sorted(durations.items()):
            histogram("coredns_dns_request_duration_seconds",
                      (("server", server), ("type", qtype), ("view", ""), ("zone", zone)),
                      TIME_BUCKETS, counts, total_s[0])
        family("coredns_dns_request_size_bytes", "histogram", "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.")
        for (server, zone, proto), counts in sorted(req_sizes.items()):
            histogram("coredns_dns_request_size_bytes",
                      (("proto", proto), ("server", server), ("view", ""), ("zone", zone)),
                      tuple(float(b) for b in SIZE_BUCKETS), counts, 0.0)
        family("coredns_dns_response_size_bytes", "histogram", "Size of the returned response in bytes.")
        for (server, zone, proto), counts in sorted(resp_sizes.items()):
            histogram("coredns_dns_response_size_bytes",
                      (("proto", proto), ("server", server), ("view", ""), ("zone", zone)),
                      tuple(float(b) for b in SIZE_BUCKETS), counts, 0.0)
        family("coredns_cache_hits_total", "counter", "The count of cache hits.")
        for (server, kind, zones), n in sorted(hits.items()):
            sample("coredns_cache_hits_total", (("server", server), ("type", kind), ("view", ""), ("zones", zones)), n)
        family("coredns_cache_misses_total", "counter", "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.")
        for (server, zones), n in sorted(misses.items()):
            sample("coredns_cache_misses_total", (("server", server), ("view", ""), ("zones", zones)), n)
        family("coredns_cache_entries", "gauge", "The number of elements in the cache.")
        for (server, kind, zones), n in sorted(self.cache_entries.items()):
            sample("coredns_cache_entries", (("server", server), ("type", kind), ("view", ""), ("zones", zones)), n)
        family("coredns_forward_requests_total", "counter", "Counter of requests made per upstream.")
        for to, n in sorted(self.fwd_requests.items()):
            sample("coredns_forward_requests_total", (("to", to),), n)
        family("coredns_forward_responses_total", "counter", "Counter of responses received per upstream.")
        for (to, rcode), n in sorted(self.fwd_responses.items()):
            sample("coredns_forward_responses_total", (("rcode", rcode), ("to", to)), n)
        family("coredns_proxy_request_duration_seconds", "histogram", "Histogram of the time each request took.")
        for (to, rcode), h in sorted(self.fwd_durations.items()):
            histogram("coredns_proxy_request_duration_seconds",
                      (("proxy_name", "forward"), ("rcode", rcode), ("to", to)),
                      TIME_BUCKETS, h.counts, h.total)
        family("coredns_proxy_healthcheck_failures_total", "counter", "Counter of the number of failed healthchecks.")
        for to, n in sorted(self.hc_failures.items()):
            sample("coredns_proxy_healthcheck_failures_total", (("proxy_name", "forward"), ("to", to)), n)
        family("coredns_proxy_conn_cache_hits_total", "counter", "Counter of connection cache hits per upstream and protocol.")
        for (to, proto), n in sorted(self.conn_hits.items()):
            sample("coredns_proxy_conn_cache_hits_total", (("proto", proto), ("proxy_name", "forward"), ("to", to)), n)
        family("coredns_proxy_conn_cache_misses_total", "counter", "Counter of connection cache misses per upstream and protocol.")
        for (to, proto), n in sorted(self.conn_misses.items()):
            sample("coredns_proxy_conn_cache_misses_total", (("proto", proto), ("proxy_name", "forward"), ("to", to)), n)
        family("coredns_forward_healthcheck_broken_total", "counter", "Counter of the number of complete failures of the healthchecks.")
        sample("coredns_forward_healthcheck_broken_total", (), self.hc_broken)
        family("coredns_forward_max_concurrent_rejects_total", "counter", "Counter of the number of queries rejected because the concurrent queries were at maximum.")
        sample("coredns_forward_max_concurrent_rejects_total", (), self.max_concurrent_rejects)
        family("coredns_panics_total", "counter", "A metrics that counts the number of panics.")
        sample("coredns_panics_total", (), self.panics)
        family("coredns_plugin_enabled", "gauge", "A metric that indicates whether a plugin is enabled on per server and zone basis.")
        for server, zone, name in sorted(self.plugins):
            sample("coredns_plugin_enabled", (("name", name), ("server", server), ("view", ""), ("zone", zone)), 1)
        family("podnet_dns_wire_cache_hits_total", "counter", "Answers served from the wire cache (only the ID rewritten).")
        sample("podnet_dns_wire_cache_hits_total", (), wire[True])
        family("podnet_dns_wire_cache_misses_total", "counter", "Answers computed by the resolver core.")
        sample("podnet_dns_wire_cache_misses_total", (), wire[False])
        family("podnet_dns_zone_reloads_total", "counter", "Times the zone was rebuilt after the cluster changed.")
        sample("podnet_dns_zone_reloads_total", (), self.reloads)
        return "\n".join(out) + "\n"
