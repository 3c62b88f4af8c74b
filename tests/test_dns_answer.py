"""answer() against CoreDNS's own expectations.

Every table here is copied from coredns/coredns plugin/kubernetes tests (the file is named at each
table); the cluster is the one those tests mock (see test_dns_fixtures). SOA serials are not
compared (CoreDNS's tests do not: the serial is a timestamp).
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import pytest

from podnet.dns.answer import Forward, Lookup, Reply, answer, resolve
from test_dns_fixtures import (
    HTTP, check, coredns_test_objects, eps, ns, query, server, svc, zone_of,
)

NOERROR, NXDOMAIN, SERVFAIL, REFUSED = (
    dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED,
)
SOA5 = "cluster.local.	5	IN	SOA	ns.dns.cluster.local. hostmaster.cluster.local. 1499347823 7200 1800 86400 5"

# TestServeDNS: kubernetes cluster.local with k.Namespaces = {"testns"} and an upstream.
TESTNS = """
cluster.local:53 {
    kubernetes {
        namespaces testns
    }
}
.:53 {
    forward . 192.0.2.53
}
"""


def upstream_ext(q: dns.message.Message, ups: tuple[str, ...]) -> dns.message.Message:
    """handler_test.go's Upstub: ext.interwebs.test A 1.2.3.4, truncated."""
    r = dns.message.make_response(q)
    r.flags |= dns.flags.TC
    if q.question[0].name.to_text() == "ext.interwebs.test.":
        r.answer.append(dns.rrset.from_text("ext.interwebs.test.", 5, "IN", "A", "1.2.3.4"))
    return r


ZI = zone_of(coredns_test_objects())
CFG = server(TESTNS)

# plugin/kubernetes/handler_test.go commonDnsTestCases + dnsTestCases
CASES = [
    ("svc1.testns.svc.cluster.local.", "A", NOERROR,
     ["svc1.testns.svc.cluster.local.	5	IN	A	10.0.0.1"], [], []),
    ("svcempty.testns.svc.cluster.local.", "A", NOERROR,
     ["svcempty.testns.svc.cluster.local.	5	IN	A	10.0.0.1"], [], []),
    ("svc1.testns.svc.cluster.local.", "SRV", NOERROR,
     ["svc1.testns.svc.cluster.local.	5	IN	SRV	0 100 80 svc1.testns.svc.cluster.local."], [],
     ["svc1.testns.svc.cluster.local.  5       IN      A       10.0.0.1"]),
    ("svc6.testns.svc.cluster.local.", "SRV", NOERROR,
     ["svc6.testns.svc.cluster.local.	5	IN	SRV	0 100 80 svc6.testns.svc.cluster.local."], [],
     ["svc6.testns.svc.cluster.local.  5       IN      AAAA       1234:abcd::1"]),
    ("_http._tcp.svc1.testns.svc.cluster.local.", "SRV", NOERROR,
     ["_http._tcp.svc1.testns.svc.cluster.local.	5	IN	SRV	0 100 80 svc1.testns.svc.cluster.local."], [],
     ["svc1.testns.svc.cluster.local.	5	IN	A	10.0.0.1"]),
    ("hdls1.testns.svc.cluster.local.", "A", NOERROR,
     [f"hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.{i}" for i in (2, 3, 4, 5)], [], []),
    ("hdlsprtls.testns.svc.cluster.local.", "A", NOERROR,
     ["hdlsprtls.testns.svc.cluster.local.	5	IN	A	172.0.0.20"], [], []),
    ("svc1.testns.svc.cluster.local.", "AAAA", NOERROR, [], [SOA5], []),
    ("svc0.testns.svc.cluster.local.", "AAAA", NXDOMAIN, [], [SOA5], []),
    ("svc0.testns.svc.cluster.local.", "A", NXDOMAIN, [], [SOA5], []),
    ("svc0.svc-nons.svc.cluster.local.", "A", NXDOMAIN, [], [SOA5], []),
    ("dns-version.cluster.local.", "TXT", NOERROR, ["dns-version.cluster.local 28800 IN TXT 1.1.0"], [], []),
    ("svc1.testns.svc.cluster.local.", "TXT", NOERROR, [], [SOA5], []),
    ("svc0.svc-nons.svc.cluster.local.", "TXT", NXDOMAIN, [], [SOA5], []),
    ("bogusendpoint.hdls1.testns.svc.cluster.local.", "A", NXDOMAIN, [], [SOA5], []),
    ("bogusendpoint.svc0.testns.svc.cluster.local.", "A", NXDOMAIN, [], [SOA5], []),
    ("svc6.testns.svc.cluster.local.", "AAAA", NOERROR,
     ["svc6.testns.svc.cluster.local.	5	IN	AAAA	1234:abcd::1"], [], []),
    ("_http._tcp.svc6.testns.svc.cluster.local.", "SRV", NOERROR,
     ["_http._tcp.svc6.testns.svc.cluster.local.	5	IN	SRV	0 100 80 svc6.testns.svc.cluster.local."], [],
     ["svc6.testns.svc.cluster.local.	5	IN	AAAA	1234:abcd::1"]),
    ("hdls1.testns.svc.cluster.local.", "AAAA", NOERROR,
     ["hdls1.testns.svc.cluster.local.	5	IN	AAAA	5678:abcd::1",
      "hdls1.testns.svc.cluster.local.	5	IN	AAAA	5678:abcd::2"], [], []),
    ("svc.cluster.local.", "A", NOERROR, [], [SOA5], []),
    ("pod.cluster.local.", "A", NOERROR, [], [SOA5], []),
    ("testns.svc.cluster.local.", "A", NOERROR, [], [SOA5], []),
    ("svc.cluster.local.", "NS", NOERROR, [], [SOA5], []),
    ("testns.svc.cluster.local.", "NS", NOERROR, [], [SOA5], []),
    ("foo.cluster.local.", "NS", NXDOMAIN, [], [SOA5], []),
    ("foo.svc.cluster.local.", "NS", NXDOMAIN, [], [SOA5], []),
    ("svc-dual-stack.testns.svc.cluster.local.", "A", NOERROR,
     ["svc-dual-stack.testns.svc.cluster.local.	5	IN	A	10.0.0.3"], [], []),
    ("svc-dual-stack.testns.svc.cluster.local.", "AAAA", NOERROR,
     ["svc-dual-stack.testns.svc.cluster.local.	5	IN	AAAA	10::3"], [], []),
    ("svc-dual-stack.testns.svc.cluster.local.", "SRV", NOERROR,
     ["svc-dual-stack.testns.svc.cluster.local.	5	IN	SRV	0 50 80 svc-dual-stack.testns.svc.cluster.local."], [],
     ["svc-dual-stack.testns.svc.cluster.local.  5       IN      A       10.0.0.3",
      "svc-dual-stack.testns.svc.cluster.local.  5       IN      AAAA       10::3"]),
    ("svc1.testns.svc.cluster.local.", "SOA", NOERROR, [], [SOA5], []),
    ("endpoint.external.testns.svc.cluster.local.", "CNAME", NXDOMAIN, [], [SOA5], []),
    ("subdomain.subdomain.external.testns.svc.cluster.local.", "CNAME", NXDOMAIN, [], [SOA5], []),
    ("_http._tcp.hdls1.testns.svc.cluster.local.", "SRV", NOERROR,
     ["_http._tcp.hdls1.testns.svc.cluster.local.	5	IN	SRV	0 16 80 172-0-0-2.hdls1.testns.svc.cluster.local.",
      "_http._tcp.hdls1.testns.svc.cluster.local.	5	IN	SRV	0 16 80 172-0-0-3.hdls1.testns.svc.cluster.local.",
      "_http._tcp.hdls1.testns.svc.cluster.local.	5	IN	SRV	0 16 80 5678-abcd--1.hdls1.testns.svc.cluster.local.",
      "_http._tcp.hdls1.testns.svc.cluster.local.	5	IN	SRV	0 16 80 5678-abcd--2.hdls1.testns.svc.cluster.local.",
      "_http._tcp.hdls1.testns.svc.cluster.local.	5	IN	SRV	0 16 80 dup-name.hdls1.testns.svc.cluster.local."],
     [],
     ["172-0-0-2.hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.2",
      "172-0-0-3.hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.3",
      "5678-abcd--1.hdls1.testns.svc.cluster.local.	5	IN	AAAA	5678:abcd::1",
      "5678-abcd--2.hdls1.testns.svc.cluster.local.	5	IN	AAAA	5678:abcd::2",
      "dup-name.hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.4",
      "dup-name.hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.5"]),
    ("5678-abcd--2.hdls1.testns.svc.cluster.local", "AAAA", NOERROR,
     ["5678-abcd--2.hdls1.testns.svc.cluster.local.	5	IN	AAAA	5678:abcd::2"], [], []),
    ("172-0-0-20.hdlsprtls.testns.svc.cluster.local.", "A", NOERROR,
     ["172-0-0-20.hdlsprtls.testns.svc.cluster.local.	5	IN	A	172.0.0.20"], [], []),
    ("172-0-0-2.hdls1.testns.svc.cluster.local.", "A", NOERROR,
     ["172-0-0-2.hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.2"], [], []),
    ("dup-name.hdls1.testns.svc.cluster.local.", "A", NOERROR,
     ["dup-name.hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.4",
      "dup-name.hdls1.testns.svc.cluster.local.	5	IN	A	172.0.0.5"], [], []),
    ("external.testns.svc.cluster.local.", "CNAME", NOERROR,
     ["external.testns.svc.cluster.local.	5	IN	CNAME	ext.interwebs.test."], [], []),
    ("external-to-service.testns.svc.cluster.local", "A", NOERROR,
     ["external-to-service.testns.svc.cluster.local.	5	IN	CNAME	svc1.testns.svc.cluster.local.",
      "svc1.testns.svc.cluster.local.	5	IN	A	10.0.0.1"], [], []),
]


@pytest.mark.parametrize("qname,qtype,rcode,ans,auth,extra", CASES, ids=lambda v: str(v)[:40])
def test_handler_cases(qname: str, qtype: str, rcode: int, ans: list[str], auth: list[str],
                       extra: list[str]) -> None:
    resp = resolve(query(qname, qtype), ZI, CFG, upstream_ext)
    check(resp, rcode, ans, auth, extra)
    assert resp is not None and resp.flags & dns.flags.AA
    assert not resp.flags & dns.flags.RA  # the kubernetes plugin never sets RA


def test_external_name_outside_zone_is_chased_through_the_server() -> None:
    """handler_test.go "CNAME External Truncated Lookup": CNAME + the upstream's A, TC kept."""
    first = answer(query("external.testns.svc.cluster.local.", "A"), ZI, CFG)
    assert isinstance(first, Lookup)
    assert first.query.question[0].name.to_text() == "ext.interwebs.test."
    resp = resolve(query("external.testns.svc.cluster.local.", "A"), ZI, CFG, upstream_ext)
    check(resp, NOERROR, ["ext.interwebs.test.	5	IN	A	1.2.3.4",
                          "external.testns.svc.cluster.local.	5	IN	CNAME	ext.interwebs.test."])
    assert resp is not None and resp.flags & dns.flags.TC
    # CNAME before its target (test.CNAMEOrder)
    assert resp.answer[0].rdtype == dns.rdatatype.CNAME


def test_preserve_case() -> None:
    """plugin/kubernetes/handler_case_test.go (ignore empty_service set there)."""
    cfg = server("cluster.local {\n kubernetes {\n ignore empty_service\n }\n}\n")
    check(resolve(query("not-a-service.testns.svc.ClUsTeR.lOcAl.", "A"), ZI, cfg), NXDOMAIN, [],
          ["ClUsTeR.lOcAl.	5	IN	SOA	ns.dns.ClUsTeR.lOcAl. hostmaster.ClUsTeR.lOcAl. 1499347823 7200 1800 86400 5"])
    check(resolve(query("SvC1.TeStNs.SvC.cLuStEr.LoCaL.", "A"), ZI, cfg), NOERROR,
          ["SvC1.TeStNs.SvC.cLuStEr.LoCaL.	5	IN	A	10.0.0.1"])
    check(resolve(query("_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL.", "SRV"), ZI, cfg), NOERROR,
          ["_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL.	5	IN	SRV	0 100 80 svc1.testns.svc.cLuStEr.LoCaL."],
          [], ["svc1.testns.svc.cLuStEr.LoCaL.	5	IN	A	10.0.0.1"])
    check(resolve(query("Cluster.local.", "SOA"), ZI, cfg), NOERROR,
          ["Cluster.local.	5	IN	SOA	ns.dns.Cluster.local. hostmaster.Cluster.local. 1499347823 7200 1800 86400 5"])


def test_ignore_empty_service() -> None:
    """plugin/kubernetes/handler_ignore_emptyservice_test.go."""
    cfg = server("cluster.local {\n kubernetes {\n ignore empty_service\n }\n}\n")
    check(resolve(query("svcempty.testns.svc.cluster.local.", "A"), ZI, cfg), NXDOMAIN, [], [SOA5])
    check(resolve(query("external.testns.svc.cluster.local.", "CNAME"), ZI, cfg), NOERROR,
          ["external.testns.svc.cluster.local.	5	IN	CNAME	ext.interwebs.test."])


def test_apex() -> None:
    """plugin/kubernetes/kubernetes_apex_test.go (localIPs 127.0.0.1)."""
    cfg = server("cluster.local {\n kubernetes\n}\n", server_ips=("127.0.0.1",))
    check(resolve(query("cluster.local.", "SOA"), ZI, cfg), NOERROR, [SOA5])
    check(resolve(query("cluster.local.", "HINFO"), ZI, cfg), NOERROR, [], [SOA5])
    check(resolve(query("cluster.local.", "NS"), ZI, cfg), NOERROR,
          ["cluster.local. 5     IN      NS     ns.dns.cluster.local."], [],
          ["ns.dns.cluster.local.   5       IN      A       127.0.0.1"])
    for t in ("A", "AAAA", "SRV"):
        check(resolve(query("cluster.local.", t), ZI, cfg), NOERROR, [], [SOA5])


def test_ns_addrs_map_the_pod_ip_to_its_service() -> None:
    """plugin/kubernetes/ns_test.go TestNsAddrs: a local IP in a Service's endpoints names that
    Service (its ClusterIP; for a headless one the endpoint) instead of ns.dns."""
    objs = [ns("kube-system"),
            svc("kube-system", "dns-service", ips=["10.0.0.111"]),
            svc("kube-system", "hdls-dns-service", headless=True),
            svc("kube-system", "dns6-service", ips=["10::111"]),
            eps("kube-system", "dns-service", "dns-service-slice1", [{"addresses": ["10.244.0.20"]}]),
            eps("kube-system", "hdls-dns-service", "hdls-dns-service-slice1", [{"addresses": ["10.244.0.20"]}]),
            eps("kube-system", "dns6-service", "dns6-service-slice1", [{"addresses": ["10.244.0.20"]}])]
    zi = zone_of(objs)
    cfg = server("inter.webs.test {\n kubernetes\n}\n", server_ips=("10.244.0.20",))
    check(resolve(query("inter.webs.test.", "NS"), zi, cfg), NOERROR,
          ["inter.webs.test. 5 IN NS dns-service.kube-system.svc.inter.webs.test.",
           "inter.webs.test. 5 IN NS 10-244-0-20.hdls-dns-service.kube-system.svc.inter.webs.test.",
           "inter.webs.test. 5 IN NS dns6-service.kube-system.svc.inter.webs.test."], [],
          ["dns-service.kube-system.svc.inter.webs.test. 5 IN A 10.0.0.111",
           "10-244-0-20.hdls-dns-service.kube-system.svc.inter.webs.test. 5 IN A 10.244.0.20",
           "dns6-service.kube-system.svc.inter.webs.test. 5 IN AAAA 10::111"])


POD_CASES_INSECURE = [
    # plugin/kubernetes/handler_pod_insecure_test.go
    ("10-240-0-1.podns.pod.cluster.local.", "A", NOERROR, ["10-240-0-1.podns.pod.cluster.local.	5	IN	A	10.240.0.1"], []),
    ("172-0-0-2.podns.pod.cluster.local.", "A", NOERROR, ["172-0-0-2.podns.pod.cluster.local.	5	IN	A	172.0.0.2"], []),
    ("blah.podns.pod.cluster.local.", "A", NXDOMAIN, [], [SOA5]),
    ("blah.podns.pod.cluster.local.", "AAAA", NXDOMAIN, [], [SOA5]),
    ("blah.podns.pod.cluster.local.", "HINFO", NXDOMAIN, [], [SOA5]),
    ("blah.pod-nons.pod.cluster.local.", "A", NXDOMAIN, [], [SOA5]),
    ("podns.pod.cluster.local.", "A", NOERROR, [], [SOA5]),
]


@pytest.mark.parametrize("qname,qtype,rcode,ans,auth", POD_CASES_INSECURE)
def test_pods_insecure(qname: str, qtype: str, rcode: int, ans: list[str], auth: list[str]) -> None:
    cfg = server("cluster.local {\n kubernetes {\n pods insecure\n }\n}\n")
    check(resolve(query(qname, qtype), ZI, cfg), rcode, ans, auth)


def test_pods_verified_and_disabled() -> None:
    """handler_pod_verified_test.go: only an existing pod's IP in its own namespace answers;
    handler_pod_disabled_test.go: pod names are NXDOMAIN."""
    cfg = server("cluster.local {\n kubernetes {\n pods verified\n }\n}\n")
    check(resolve(query("10-240-0-1.podns.pod.cluster.local.", "A"), ZI, cfg), NOERROR,
          ["10-240-0-1.podns.pod.cluster.local.	5	IN	A	10.240.0.1"])
    check(resolve(query("172-0-0-2.podns.pod.cluster.local.", "A"), ZI, cfg), NXDOMAIN, [], [SOA5])
    check(resolve(query("10-240-0-1.testns.pod.cluster.local.", "A"), ZI, cfg), NXDOMAIN, [], [SOA5])
    off = server("cluster.local {\n kubernetes\n}\n")
    check(resolve(query("10-240-0-1.podns.pod.cluster.local.", "A"), ZI, off), NXDOMAIN, [], [SOA5])


def test_reverse() -> None:
    """plugin/kubernetes/reverse_test.go TestReverse."""
    objs = [ns("testns"),
            svc("testns", "svc1", ips=["192.168.1.100"], ports=[HTTP]),
            eps("testns", "svc1", "svc1-slice1", [{"addresses": ["10.0.0.100"], "hostname": "ep1a"},
                                                   {"addresses": ["10.0.0.99"], "hostname": "double-ep"}], [HTTP]),
            eps("testns", "svc1", "svc1-slice2", [{"addresses": ["1234:abcd::1"], "hostname": "ep1b"},
                                                   {"addresses": ["fd00:77:30::a"], "hostname": "ip6svc1ex"},
                                                   {"addresses": ["fd00:77:30::2:9ba6"], "hostname": "ip6svc1in"}],
                [HTTP], address_type="IPv6"),
            eps("testns", "svc1", "svc1-ccccc", [{"addresses": ["10.0.0.100"], "hostname": "ep1a"}], [HTTP]),
            eps("testns", "svc2", "svc2-slice1", [{"addresses": ["10.0.0.99"], "hostname": "double-ep"}], [HTTP])]
    zi = zone_of(objs)
    cfg = server(". {\n kubernetes cluster.local 0.10.in-addr.arpa 168.192.in-addr.arpa "
                 "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa "
                 "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa\n}\n")
    v6 = "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa."
    cases = [
        ("100.0.0.10.in-addr.arpa.", "PTR", NOERROR, ["100.0.0.10.in-addr.arpa.      5    IN      PTR       ep1a.svc1.testns.svc.cluster.local."], []),
        ("100.1.168.192.in-addr.arpa.", "PTR", NOERROR, ["100.1.168.192.in-addr.arpa.     5     IN      PTR       svc1.testns.svc.cluster.local."], []),
        ("1." + v6[2:], "PTR", NOERROR, [f"1.{v6[2:]} 5 IN PTR ep1b.svc1.testns.svc.cluster.local."], []),
        ("a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa.", "PTR", NOERROR,
         ["a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa. 5 IN PTR ip6svc1ex.svc1.testns.svc.cluster.local."], []),
        ("6.a.b.9.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa.", "PTR", NOERROR,
         ["6.a.b.9.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa. 5 IN PTR ip6svc1in.svc1.testns.svc.cluster.local."], []),
        ("101.0.0.10.in-addr.arpa.", "PTR", NXDOMAIN, [],
         ["0.10.in-addr.arpa.	5	IN	SOA	ns.dns.0.10.in-addr.arpa. hostmaster.0.10.in-addr.arpa. 1502782828 7200 1800 86400 5"]),
        ("example.org.cluster.local.", "PTR", NXDOMAIN, [], [SOA5]),
        ("svc1.testns.svc.cluster.local.", "PTR", NOERROR, [], [SOA5]),
        ("svc1.testns.svc.0.10.in-addr.arpa.", "A", NXDOMAIN, [],
         ["0.10.in-addr.arpa.       5     IN      SOA     ns.dns.0.10.in-addr.arpa. hostmaster.0.10.in-addr.arpa. 1502989566 7200 1800 86400 5"]),
        ("100.0.0.10.cluster.local.", "PTR", NXDOMAIN, [], [SOA5]),
        ("99.0.0.10.in-addr.arpa.", "PTR", NOERROR,
         ["99.0.0.10.in-addr.arpa.      5    IN      PTR       double-ep.svc1.testns.svc.cluster.local.",
          "99.0.0.10.in-addr.arpa.      5    IN      PTR       double-ep.svc2.testns.svc.cluster.local."], []),
    ]
    for qname, qtype, rcode, ans, auth in cases:
        check(resolve(query(qname, qtype), zi, cfg), rcode, ans, auth)


# ----------------------------------------------------------------------- kubeadm's Corefile


KUBEADM_OBJS = [ns("default"), ns("kube-system"),
                svc("kube-system", "kube-dns", ips=["10.96.0.10"],
                    ports=[{"name": "dns", "protocol": "UDP", "port": 53}]),
                eps("kube-system", "kube-dns", "kube-dns-x", [{"addresses": ["10.244.0.2"]}],
                    [{"name": "dns", "protocol": "UDP", "port": 53}]),
                svc("default", "web", ips=["10.96.100.1"], ports=[HTTP])]


def kubeadm_cfg() -> object:
    from podnet.dns.config import ServerConfig

    return ServerConfig.kubeadm(server_ips=("10.244.0.2",),
                                files={"/etc/resolv.conf": "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"})


def test_kubeadm_ttl_30_and_reverse_fallthrough_to_forward() -> None:
    from podnet.dns.config import ServerConfig

    zi = zone_of(KUBEADM_OBJS)
    cfg = kubeadm_cfg()
    assert isinstance(cfg, ServerConfig)
    check(resolve(query("web.default.svc.cluster.local.", "A"), zi, cfg), NOERROR,
          ["web.default.svc.cluster.local. 30 IN A 10.96.100.1"])
    # ttl 30: the SOA TTL is min(ttl, 300) and its minimum the ttl (plugin/backend_lookup.go SOA)
    check(resolve(query("nope.default.svc.cluster.local.", "A"), zi, cfg), NXDOMAIN, [],
          ["cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30"])
    # the PTR of a cluster IP is answered; one outside the cluster falls through to forward
    check(resolve(query("1.100.96.10.in-addr.arpa.", "PTR"), zi, cfg), NOERROR,
          ["1.100.96.10.in-addr.arpa. 30 IN PTR web.default.svc.cluster.local."])
    d = answer(query("8.8.8.8.in-addr.arpa.", "PTR"), zi, cfg)
    assert isinstance(d, Forward)
    assert sorted(d.upstreams) == ["192.0.2.1:53", "192.0.2.2:53"]
    # names outside the cluster zone are forwarded; no upstream answer → SERVFAIL, never a hang
    d = answer(query("api.github.com.", "A"), zi, cfg)
    assert isinstance(d, Forward)
    r = d.complete(None)
    assert r.message.rcode() == SERVFAIL and not r.message.answer
    # the apex NS is the kube-dns Service whose endpoints hold the server's pod IP (ns.go)
    check(resolve(query("cluster.local.", "NS"), zi, cfg), NOERROR,
          ["cluster.local. 30 IN NS kube-dns.kube-system.svc.cluster.local."], [],
          ["kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10"])


def test_forwarded_reply_passes_through_with_rcode_and_cache_ttl_cap() -> None:
    zi = zone_of(KUBEADM_OBJS)
    cfg = kubeadm_cfg()
    q = query("example.com.", "A", edns=0, payload=4096)
    d = answer(q, zi, cfg)  # type: ignore[arg-type]
    assert isinstance(d, Forward)
    up = dns.message.make_response(d.query)
    up.id = 999
    up.flags |= dns.flags.RA
    up.answer.append(dns.rrset.from_text("example.com.", 3600, "IN", "A", "93.184.216.34"))
    r = d.complete(up).message
    assert r.id == q.id and r.flags & dns.flags.RA
    # cache 30 sets every TTL of the reply to what it caches it for (cache.go WriteMsg)
    assert [rr.ttl for rr in r.answer] == [30]
    nx = dns.message.make_response(d.query)
    nx.set_rcode(dns.rcode.NXDOMAIN)
    assert d.complete(nx).message.rcode() == NXDOMAIN
    wrong = dns.message.make_response(query("other.com.", "A"))
    assert d.complete(wrong).message.rcode() == dns.rcode.FORMERR


def test_no_block_refused_and_no_question_servfail() -> None:
    cfg = server("cluster.local {\n kubernetes\n}\n")
    r = answer(query("example.com.", "A"), ZI, cfg)
    assert isinstance(r, Reply) and r.message.rcode() == REFUSED
    empty = dns.message.Message(id=7)
    r = answer(empty, ZI, cfg)
    assert isinstance(r, Reply) and r.message.rcode() == SERVFAIL


def test_edns_echo_and_badvers() -> None:
    cfg = server("cluster.local {\n kubernetes\n}\n")
    q = query("svc1.testns.svc.cluster.local.", "A", edns=0, payload=1400, do=True)
    r = resolve(q, ZI, cfg)
    assert r is not None and r.edns == 0 and r.payload == 1400 and r.ednsflags & dns.flags.DO
    assert resolve(query("svc1.testns.svc.cluster.local.", "A"), ZI, cfg).edns == -1  # type: ignore[union-attr]
    bad = query("svc1.testns.svc.cluster.local.", "A", edns=1)
    r = resolve(bad, ZI, cfg)
    assert r is not None and r.rcode() == dns.rcode.BADVERS and r.edns == 0


def test_rd_copied_and_axfr_refused() -> None:
    cfg = server("cluster.local {\n kubernetes\n}\n")
    r = resolve(query("svc1.testns.svc.cluster.local.", "A", rd=False), ZI, cfg)
    assert r is not None and not r.flags & dns.flags.RD
    r = resolve(query("cluster.local.", "AXFR"), ZI, cfg)
    assert r is not None and r.rcode() == REFUSED and not r.flags & dns.flags.AA


def test_namespaces_option() -> None:
    """handler_test.go nsTestCases: with `namespaces testns`, other namespaces are NXDOMAIN."""
    check(resolve(query("svc1.unexposedns.svc.cluster.local.", "A"), ZI, CFG), NXDOMAIN, [], [SOA5])


def test_loadbalance_is_seedable() -> None:
    cfg = server("cluster.local {\n kubernetes\n loadbalance\n}\n")
    q = query("hdls1.testns.svc.cluster.local.", "A")
    orders = {tuple(str(rd) for rd in resolve(q, ZI, cfg, seed=s).answer[0]) for s in range(20)}  # type: ignore[union-attr]
    assert len(orders) > 1
    a = resolve(q, ZI, cfg, seed=3)
    b = resolve(q, ZI, cfg, seed=3)
    assert a is not None and b is not None and a.answer == b.answer


def test_hosts_plugin_before_kubernetes() -> None:
    """plugin.cfg order: hosts runs before kubernetes; its owner names are lowercased."""
    cfg = server(". {\n hosts {\n 192.0.2.7 Legacy.Example.\n fallthrough\n }\n kubernetes cluster.local\n}\n")
    check(resolve(query("LEGACY.example.", "A"), ZI, cfg), NOERROR, ["legacy.example. 3600 IN A 192.0.2.7"])
    check(resolve(query("7.2.0.192.in-addr.arpa.", "PTR"), ZI, cfg), NOERROR,
          ["7.2.0.192.in-addr.arpa. 3600 IN PTR legacy.example."])
    check(resolve(query("svc1.testns.svc.cluster.local.", "A"), ZI, cfg), NOERROR,
          ["svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"])


def test_publish_not_ready_addresses() -> None:
    objs = [ns("db"), svc("db", "pg", headless=True, publish_not_ready=True),
            svc("db", "pg2", headless=True),
            eps("db", "pg", "pg-1", [{"addresses": ["10.1.0.1"], "conditions": {"ready": False}}]),
            eps("db", "pg2", "pg2-1", [{"addresses": ["10.1.0.2"], "conditions": {"ready": False}}])]
    zi = zone_of(objs)
    cfg = server("cluster.local {\n kubernetes\n}\n")
    check(resolve(query("pg.db.svc.cluster.local.", "A"), zi, cfg), NOERROR, ["pg.db.svc.cluster.local. 5 IN A 10.1.0.1"])
    r = resolve(query("pg2.db.svc.cluster.local.", "A"), zi, cfg)
    assert r is not None and r.rcode() == NXDOMAIN  # no ready endpoint: no records, errNoItems


def test_endpoint_pod_names() -> None:
    objs = [ns("a"), svc("a", "h", headless=True),
            eps("a", "h", "h-1", [{"addresses": ["10.2.0.1"], "targetRef": {"kind": "Pod", "name": "web-0"}}])]
    cfg = server("cluster.local {\n kubernetes {\n endpoint_pod_names\n }\n}\n")
    check(resolve(query("web-0.h.a.svc.cluster.local.", "A"), zone_of(objs, endpoint_pod_names=True), cfg),
          NOERROR, ["web-0.h.a.svc.cluster.local. 5 IN A 10.2.0.1"])
    check(resolve(query("10-2-0-1.h.a.svc.cluster.local.", "A"), zone_of(objs), cfg),
          NOERROR, ["10-2-0-1.h.a.svc.cluster.local. 5 IN A 10.2.0.1"])
