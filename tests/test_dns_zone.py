"""ZoneIndex build cost and the zone listing (AXFR order of plugin/kubernetes/xfr.go)."""

from __future__ import annotations

import time

from podnet.dns.corefile import parse_corefile
from podnet.dns.xfr import transfer_records
from test_dns_fixtures import HTTP, eps, ns, pod, state, svc, zone_of
from podnet.dns.zone import ZoneIndex


def test_build_is_linear_and_fast() -> None:
    objs = [ns(f"ns{i}") for i in range(20)]
    for i in range(2000):
        n = f"ns{i % 20}"
        objs.append(svc(n, f"s{i}", ips=[f"10.96.{i // 256}.{i % 256}"], ports=[HTTP]))
        ends = []
        for j in range(15):
            k = i * 15 + j
            ip = f"10.{128 + k // 65536}.{(k // 256) % 256}.{k % 256}"
            ends.append({"addresses": [ip]})
            objs.append(pod(n, f"s{i}-{j}", ip))
        objs.append(eps(n, f"s{i}", f"s{i}-x", ends, [HTTP]))
    st = state(objs)
    t = time.perf_counter()
    zi = ZoneIndex.build(st)
    assert time.perf_counter() - t < 3.0
    assert len(zi.services) == 2000 and len(zi.endpoints_by_ip) == 30000


def test_transfer_listing() -> None:
    zi = zone_of([ns("a"), svc("a", "web", ips=["10.96.0.5"], ports=[HTTP]),
                  svc("a", "h", headless=True),
                  eps("a", "h", "h-1", [{"addresses": ["10.1.0.1"]}], [HTTP]),
                  svc("a", "ext", type_="ExternalName", external_name="example.com")])
    k = parse_corefile("cluster.local {\n kubernetes\n}\n").blocks[0].kubernetes
    assert k is not None
    text = [rr.to_text() for rr in transfer_records(zi, k, "cluster.local.", ("10.0.0.53",))]
    assert text[0].startswith("cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local.")
    assert text[1:3] == ["cluster.local. 5 IN NS ns.dns.cluster.local.", "ns.dns.cluster.local. 0 IN A 10.0.0.53"]
    assert text[3:] == [
        "ext.a.svc.cluster.local. 5 IN CNAME example.com.",
        "h.a.svc.cluster.local. 5 IN A 10.1.0.1",
        "10-1-0-1.h.a.svc.cluster.local. 5 IN A 10.1.0.1",
        "_http._tcp.h.a.svc.cluster.local. 5 IN SRV 0 100 80 10-1-0-1.h.a.svc.cluster.local.",
        "web.a.svc.cluster.local. 5 IN A 10.96.0.5",
        "web.a.svc.cluster.local. 5 IN SRV 0 100 80 web.a.svc.cluster.local.",
        "_http._tcp.web.a.svc.cluster.local. 5 IN SRV 0 100 80 web.a.svc.cluster.local.",
        text[0],
    ]
