"""The cluster zone as a list of records: what an AXFR of the zone sends, in CoreDNS's order.

plugin/kubernetes/xfr.go walks the Services sorted by name and emits, between two copies of the
SOA: the NS records of the zone and the server's own address records (whose TTL CoreDNS leaves
at 0), then per Service —

* ClusterIP/NodePort/LoadBalancer with a ClusterIP: an A/AAAA per ClusterIP, an SRV per port
  (weight 100, target the Service name) and, for a named port, an SRV at ``_proto._name``;
* headless: per ready endpoint an A/AAAA at the Service name and at the endpoint name, and for
  each named port an SRV at ``_proto._name`` whose weight shares 100 among the slice's addresses;
* ExternalName: the CNAME.

It is also the listing ``podnet dns zone`` shows a learner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from podnet.dns import records as R
from podnet.dns.corefile import KubernetesConfig
from podnet.dns.names import fqdn, normalize
from podnet.dns.records import RR
from podnet.dns.zone import ZoneIndex


def _weight(n: int) -> int:
    return max(1, math.floor(100.0 / (100 * n) * 100)) if n else 1


def _ns_addrs(zi: ZoneIndex, zone: str, server_ips: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    found = False
    for local in server_ips:
        for rev in zi.endpoints_by_ip.get(local, ()):
            found = True
            svc = zi.service(rev.namespace, rev.service)
            if svc is None:
                continue
            name = f"{svc.name}.{svc.namespace}.svc.{zone}"
            if svc.headless:
                out.extend((f"{a.label}.{name}", a.ip) for a in rev.subset.addresses)
            else:
                out.extend((name, ip) for ip in svc.cluster_ips if ip)
    if not found:
        out = [(f"ns.dns.{zone}", ip) for ip in server_ips]
    return out


def transfer_records(
    zi: ZoneIndex, cfg: KubernetesConfig, zone: str, server_ips: Sequence[str] = ()
) -> list[RR]:
    """Every record of ``zone`` (one of ``cfg.zones``), SOA first and last."""
    zone = normalize(zone)
    ttl = cfg.ttl
    soa = R.soa(zone, min(ttl, 300), f"ns.dns.{zone}", f"hostmaster.{zone}", zi.serial,
                7200, 1800, 86400, ttl)
    out: list[RR] = [soa]
    addrs = _ns_addrs(zi, zone, server_ips)
    seen: set[str] = set()
    for owner, _ in addrs:
        if owner not in seen:
            seen.add(owner)
            out.append(R.ns(zone, ttl, owner))
    out.extend(R.address(owner, 0, ip) for owner, ip in addrs)

    def exposed(ns: str) -> bool:
        return (not cfg.namespaces or ns in cfg.namespaces) and ns in zi.namespaces

    for svc in zi.sorted_services():
        if not exposed(svc.namespace):
            continue
        base = f"{svc.name}.{svc.namespace}.svc.{zone}"
        if svc.is_external:
            target = svc.external_name
            if target and not _looks_ip(target):
                out.append(R.cname(base, ttl, fqdn(target)))
            continue
        if not svc.headless:
            if not svc.cluster_ips:
                continue
            for ip in svc.cluster_ips:
                out.append(R.address(base, ttl, ip))
            for p in svc.ports:
                if p.port < 0:
                    continue
                out.append(R.srv(base, ttl, 0, 100, p.port, base))
                if p.name:
                    named = f"_{p.name.lower()}._{p.protocol.lower()}.{base}"
                    out.append(R.srv(named, ttl, 0, 100, p.port, base))
            continue
        for sub in svc.subsets:
            weight = _weight(len(sub.addresses))
            for a in sub.addresses:
                out.append(R.address(base, ttl, a.ip))
                host = f"{a.label}.{base}"
                out.append(R.address(host, ttl, a.ip))
                for p in sub.ports:
                    if not p.name:
                        continue
                    named = f"_{p.name.lower()}._{p.protocol.lower()}.{base}"
                    out.append(R.srv(named, ttl, 0, weight, p.port, host))
    out.append(soa)
    return out


def _looks_ip(s: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True
