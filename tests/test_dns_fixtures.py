"""Shared fixtures for the DNS tests: CoreDNS's own test cluster, rebuilt as podnet objects.

The objects mirror ``APIConnServeTest`` in coredns/coredns plugin/kubernetes/handler_test.go
(svcIndex and epsIndex), so the expectations copied from CoreDNS's test tables apply unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dns.message
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from podnet.api.core import Namespace, Pod, Service
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import Resource
from podnet.cluster.config import ClusterConfig
from podnet.cluster.state import ClusterState
from podnet.dns.config import ServerConfig
from podnet.dns.zone import ZoneIndex


def ns(name: str) -> Namespace:
    return Namespace.from_dict({"metadata": {"name": name}})


def svc(namespace: str, name: str, *, ips: Sequence[str] = (), ports: Iterable[dict[str, Any]] = (),
        type_: str = "ClusterIP", external_name: str = "", headless: bool = False,
        publish_not_ready: bool = False) -> Service:
    spec: dict[str, Any] = {"type": type_, "ports": list(ports)}
    if headless:
        spec["clusterIP"] = "None"
        spec["clusterIPs"] = ["None"]
    elif ips:
        spec["clusterIP"] = ips[0]
        spec["clusterIPs"] = list(ips)
    if external_name:
        spec["externalName"] = external_name
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return Service.from_dict({"metadata": {"name": name, "namespace": namespace}, "spec": spec})


def eps(namespace: str, service: str, slice_name: str, endpoints: Iterable[dict[str, Any]],
        ports: Iterable[dict[str, Any]] = (), address_type: str = "IPv4") -> EndpointSlice:
    return EndpointSlice.from_dict({
        "metadata": {"name": slice_name, "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": address_type,
        "endpoints": list(endpoints),
        "ports": list(ports),
    })


def pod(namespace: str, name: str, ip: str) -> Pod:
    return Pod.from_dict({"metadata": {"name": name, "namespace": namespace},
                          "status": {"podIP": ip, "podIPs": [{"ip": ip}], "phase": "Running"}})


def state(objects: Iterable[Resource], domain: str = "cluster.local") -> ClusterState:
    cfg = ClusterConfig(cluster_domain=domain)
    return ClusterState(config=cfg, objects={o.ref: o for o in objects})


HTTP = {"name": "http", "protocol": "TCP", "port": 80}


def coredns_test_objects() -> list[Resource]:
    """handler_test.go's svcIndex/epsIndex (plus the namespaces GetNamespaceByName knows)."""
    return [
        ns("testns"), ns("unexposedns"), ns("kube-system"), ns("podns"),
        svc("kube-system", "kubedns", ips=["10.0.0.10"], ports=[{"name": "dns", "protocol": "UDP", "port": 53}]),
        svc("testns", "svc1", ips=["10.0.0.1"], ports=[HTTP]),
        svc("testns", "svcempty", ips=["10.0.0.1"], ports=[HTTP]),
        svc("testns", "svc6", ips=["1234:abcd::1"], ports=[HTTP]),
        svc("testns", "hdls1", headless=True),
        svc("testns", "external", type_="ExternalName", external_name="ext.interwebs.test", ports=[HTTP]),
        svc("testns", "external-to-service", type_="ExternalName",
            external_name="svc1.testns.svc.cluster.local.", ports=[HTTP]),
        svc("testns", "hdlsprtls", headless=True),
        svc("unexposedns", "svc1", ips=["10.0.0.2"], ports=[HTTP]),
        svc("testns", "svc-dual-stack", ips=["10.0.0.3", "10::3"], ports=[HTTP]),
        eps("kube-system", "kubedns", "kubedns", [{"addresses": ["172.0.0.100"]}],
            [{"name": "dns", "protocol": "UDP", "port": 53}]),
        eps("testns", "svc1", "svc1-slice1", [{"addresses": ["172.0.0.1"], "hostname": "ep1a"}], [HTTP]),
        eps("testns", "svcempty", "svcempty-slice1", [], [HTTP]),
        eps("testns", "hdls1", "hdls1-slice1", [
            {"addresses": ["172.0.0.2"]},
            {"addresses": ["172.0.0.3"]},
            {"addresses": ["172.0.0.4"], "hostname": "dup-name"},
            {"addresses": ["172.0.0.5"], "hostname": "dup-name"},
        ], [HTTP]),
        eps("testns", "hdls1", "hdls1-slice2", [
            {"addresses": ["5678:abcd::1"]},
            {"addresses": ["5678:abcd::2"]},
        ], [HTTP], address_type="IPv6"),
        eps("testns", "hdlsprtls", "hdlsprtls-slice1", [{"addresses": ["172.0.0.20"]}]),
        pod("podns", "foo", "10.240.0.1"),
    ]


def zone_of(objects: Iterable[Resource], **kw: Any) -> ZoneIndex:
    return ZoneIndex.build(state(objects), **kw)


def server(corefile: str, **kw: Any) -> ServerConfig:
    return ServerConfig.from_corefile(corefile, **kw)


def query(name: str, rdtype: str | int, *, rd: bool = True, edns: int | None = None,
          payload: int = 1232, do: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, use_edns=edns if edns is not None else False,
                               payload=payload, want_dnssec=do)
    if not rd:
        q.flags &= ~0x0100
    return q


# ----------------------------------------------------------------------- comparing to golden RRs


def _norm_rr(owner: str, ttl: int, rdtype: int, rdata: dns.rdata.Rdata) -> tuple[str, int, str, str]:
    text = rdata.to_text()
    if rdtype == dns.rdatatype.SOA:
        parts = text.split()
        parts[2] = "<serial>"  # CoreDNS's tests do not compare the serial (a timestamp)
        text = " ".join(parts)
    if rdtype == dns.rdatatype.TXT:
        text = text.replace('"', "")
    owner = owner if owner.endswith(".") else owner + "."
    return (owner, ttl, dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype)), text)


def golden(lines: Iterable[str]) -> list[tuple[str, int, str, str]]:
    """Parse CoreDNS test RR strings (``test.A("name 5 IN A 1.2.3.4")``) for comparison."""
    out = []
    for line in lines:
        owner, ttl, _cls, rtype, *rest = line.split()
        rdtype = dns.rdatatype.from_text(rtype)
        rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, " ".join(rest))
        out.append(_norm_rr(owner, int(ttl), rdtype, rd))
    return sorted(out)


def section(rrsets: Iterable[dns.rrset.RRset]) -> list[tuple[str, int, str, str]]:
    out = []
    for rrset in rrsets:
        for rd in rrset:
            out.append(_norm_rr(rrset.name.to_text(), int(rrset.ttl), int(rrset.rdtype), rd))
    return sorted(out)


def check(resp: dns.message.Message | None, rcode: int, answer: Iterable[str] = (),
          ns: Iterable[str] = (), extra: Iterable[str] = ()) -> None:
    assert resp is not None
    assert resp.rcode() == rcode, f"rcode {resp.rcode()} != {rcode}\n{resp}"
    assert section(resp.answer) == golden(answer), str(resp)
    assert section(resp.authority) == golden(ns), str(resp)
    assert section(resp.additional) == golden(extra), str(resp)
