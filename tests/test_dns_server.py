"""The DNS server over real UDP and TCP on 127.0.0.1, dnspython as the client.

Expectations come from the Kubernetes DNS specification (kubernetes/dns docs/specification.md,
schema 1.1.0) and CoreDNS's documented behaviour (plugin/kubernetes, forward, cache, the
server's EDNS0 and truncation handling), with the values taken from the cluster objects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from podnet.cluster.state import ClusterState
from podnet.servers.dns import Tuning
from test_dns_server_support import (
    CLUSTER_ONLY_COREFILE,
    KUBEADM_CACHE,
    ServerThread,
    StubUpstream,
    cluster_state,
    corefile_with_upstream,
    free_udp_port,
    owners,
    pods_of,
    query,
    rdatas,
    service,
    snapshot,
    timed,
)

ZONE = "cluster.local."


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> ClusterState:
    return cluster_state(tmp_path_factory.mktemp("dnsserver"))


@pytest.fixture(scope="module")
def server(state: ClusterState) -> Iterator[ServerThread]:
    with ServerThread(snapshot(state, CLUSTER_ONLY_COREFILE)) as s:
        yield s


def _soa_fields(msg: dns.message.Message) -> list[str]:
    soa = [r for r in msg.authority if r.rdtype == dns.rdatatype.SOA]
    assert len(soa) == 1, msg
    assert soa[0].name.to_text().lower() == ZONE
    return str(soa[0][0].to_text()).split()


# ---------------------------------------------------------------------------- services


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_clusterip_service_a_record(server: ServerThread, state: ClusterState, transport: str) -> None:
    svc = service(state, "testns", "svc1")
    q = query("svc1.testns.svc.cluster.local.", "A")
    r = server.udp(q) if transport == "udp" else server.tcp(q)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.NOERROR
    # authoritative answer, recursion desired copied, not available (CoreDNS answers from the zone)
    assert r.flags & dns.flags.QR and r.flags & dns.flags.AA and r.flags & dns.flags.RD
    assert not r.flags & dns.flags.RA
    assert rdatas(r) == [svc.spec.cluster_ip]
    assert r.answer[0].ttl == 5  # the kubernetes plugin's default TTL


def test_dual_stack_service_aaaa(server: ServerThread, state: ClusterState) -> None:
    svc = service(state, "testns", "dual")
    v6 = [ip for ip in svc.spec.cluster_ips if ":" in ip]
    r = server.udp(query("dual.testns.svc.cluster.local.", "AAAA"))
    assert r.rcode() == dns.rcode.NOERROR
    assert rdatas(r) == v6
    r4 = server.udp(query("dual.testns.svc.cluster.local.", "A"))
    assert rdatas(r4) == [ip for ip in svc.spec.cluster_ips if ":" not in ip]


def test_nodata_has_soa_in_authority(server: ServerThread) -> None:
    # svc1 is IPv4-only: the name exists, so AAAA is NODATA (NOERROR, empty answer, SOA)
    r = server.udp(query("svc1.testns.svc.cluster.local.", "AAAA"))
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.answer
    assert r.flags & dns.flags.AA
    mname, rname, _serial, refresh, retry, expire, minimum = _soa_fields(r)
    assert (mname, rname) == ("ns.dns.cluster.local.", "hostmaster.cluster.local.")
    assert (refresh, retry, expire, minimum) == ("7200", "1800", "86400", "5")


def test_nxdomain_has_soa(server: ServerThread) -> None:
    r = server.udp(query("nosuch.testns.svc.cluster.local.", "A"))
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert r.flags & dns.flags.AA
    assert not r.answer
    assert _soa_fields(r)[:2] == ["ns.dns.cluster.local.", "hostmaster.cluster.local."]
    # a namespace that does not exist is NXDOMAIN too
    r = server.udp(query("svc1.nonamespace.svc.cluster.local.", "A"))
    assert r.rcode() == dns.rcode.NXDOMAIN


def test_headless_service_one_record_per_ready_endpoint(server: ServerThread, state: ClusterState) -> None:
    ips = sorted(p.status.pod_ip for p in pods_of(state, "testns", "web-"))
    r = server.udp(query("web.testns.svc.cluster.local.", "A"))
    assert r.rcode() == dns.rcode.NOERROR
    assert sorted(rdatas(r)) == ips


def test_statefulset_pod_hostname_record(server: ServerThread, state: ClusterState) -> None:
    pod = state.pod("testns", "web-0")
    assert pod is not None
    r = server.udp(query("web-0.web.testns.svc.cluster.local.", "A"))
    assert rdatas(r) == [pod.status.pod_ip]


def test_srv_named_port_with_glue(server: ServerThread, state: ClusterState) -> None:
    svc = service(state, "testns", "svc1")
    r = server.udp(query("_http._tcp.svc1.testns.svc.cluster.local.", "SRV"))
    assert r.rcode() == dns.rcode.NOERROR
    srv = rdatas(r)
    assert len(srv) == 1
    priority, weight, port, target = srv[0].split()
    assert (priority, weight, port, target) == ("0", "100", "80", "svc1.testns.svc.cluster.local.")
    assert rdatas(r, "additional") == [svc.spec.cluster_ip]
    assert owners(r, "additional") == ["svc1.testns.svc.cluster.local."]


def test_srv_headless_targets_each_endpoint(server: ServerThread, state: ClusterState) -> None:
    r = server.udp(query("_http._tcp.web.testns.svc.cluster.local.", "SRV"))
    targets = sorted(rd.split()[3] for rd in rdatas(r))
    assert targets == ["web-0.web.testns.svc.cluster.local.", "web-1.web.testns.svc.cluster.local."]
    glue = {o: ip for o, ip in zip(owners(r, "additional"), rdatas(r, "additional"))}
    for p in pods_of(state, "testns", "web-"):
        assert glue[f"{p.metadata.name}.web.testns.svc.cluster.local."] == p.status.pod_ip


def test_ptr_for_cluster_ip_and_endpoint(server: ServerThread, state: ClusterState) -> None:
    import ipaddress

    svc = service(state, "testns", "svc1")
    ptr = ipaddress.ip_address(svc.spec.cluster_ip).reverse_pointer + "."
    r = server.udp(query(ptr, "PTR"))
    assert rdatas(r) == ["svc1.testns.svc.cluster.local."]
    pod = state.pod("testns", "web-1")
    assert pod is not None
    r = server.udp(query(ipaddress.ip_address(pod.status.pod_ip).reverse_pointer + ".", "PTR"))
    assert rdatas(r) == ["web-1.web.testns.svc.cluster.local."]
    v6 = [ip for ip in service(state, "testns", "dual").spec.cluster_ips if ":" in ip][0]
    r = server.udp(query(ipaddress.ip_address(v6).reverse_pointer + ".", "PTR"))
    assert rdatas(r) == ["dual.testns.svc.cluster.local."]


def test_pod_dashed_ip_record(server: ServerThread) -> None:
    # pods insecure: any dashed IP in an existing namespace answers with that IP
    r = server.udp(query("10-244-9-9.testns.pod.cluster.local.", "A"))
    assert rdatas(r) == ["10.244.9.9"]


def test_dns_version_txt(server: ServerThread) -> None:
    r = server.udp(query("dns-version.cluster.local.", "TXT"))
    assert rdatas(r) == ['"1.1.0"']


def test_external_name_is_cname(server: ServerThread) -> None:
    r = server.udp(query("ext.testns.svc.cluster.local.", "CNAME"))
    assert rdatas(r) == ["www.example.org."]


def test_letter_case_is_preserved(server: ServerThread, state: ClusterState) -> None:
    name = "SvC1.TestNS.svc.Cluster.Local."
    r = server.udp(query(name, "A"))
    assert r.question[0].name.to_text() == name
    assert owners(r) == [name]
    assert rdatas(r) == [service(state, "testns", "svc1").spec.cluster_ip]
    # the SOA of a negative answer carries the zone as the query spelled it
    r = server.udp(query("NoSuch.TestNS.svc.Cluster.Local.", "A"))
    assert owners(r, "authority") == ["Cluster.Local."]


def test_apex_ns_with_server_ip_glue(server: ServerThread) -> None:
    r = server.udp(query(ZONE, "NS"))
    assert rdatas(r) == ["ns.dns.cluster.local."]
    assert rdatas(r, "additional") == ["127.0.0.1"]


# ---------------------------------------------------------------------------- EDNS0, truncation


def test_udp_without_edns_truncates_to_512_and_tcp_has_everything(server: ServerThread,
                                                                    state: ClusterState) -> None:
    ips = sorted(p.status.pod_ip for p in pods_of(state, "testns", "many-"))
    assert len(ips) == 60
    q = query("many.testns.svc.cluster.local.", "A")
    wire = server.raw_udp(q.to_wire(), timeout=3)
    assert wire is not None and len(wire) <= 512
    r = dns.message.from_wire(wire)
    assert r.flags & dns.flags.TC
    assert 0 < len(rdatas(r)) < 60
    full = server.tcp(q)
    assert not full.flags & dns.flags.TC
    assert sorted(rdatas(full)) == ips


def test_edns_buffer_size_is_honoured(server: ServerThread, state: ClusterState) -> None:
    q = query("many.testns.svc.cluster.local.", "A", use_edns=0, payload=4096)
    wire = server.raw_udp(q.to_wire(), timeout=3)
    assert wire is not None
    r = dns.message.from_wire(wire)
    assert not r.flags & dns.flags.TC
    assert len(rdatas(r)) == 60
    # the reply carries an OPT, version 0
    assert r.edns == 0
    q2 = query("many.testns.svc.cluster.local.", "A", use_edns=0, payload=700)
    wire2 = server.raw_udp(q2.to_wire(), timeout=3)
    assert wire2 is not None and len(wire2) <= 700
    r2 = dns.message.from_wire(wire2)
    assert r2.flags & dns.flags.TC and r2.edns == 0
    assert len(rdatas(r)) > len(rdatas(r2)) > len(rdatas(dns.message.from_wire(
        server.raw_udp(query("many.testns.svc.cluster.local.", "A").to_wire()) or b"")))


def test_edns_size_below_512_counts_as_512(server: ServerThread) -> None:
    q = query("many.testns.svc.cluster.local.", "A", use_edns=0, payload=100)
    wire = server.raw_udp(q.to_wire(), timeout=3)
    assert wire is not None and 100 < len(wire) <= 512


def test_truncated_reply_retried_over_tcp_by_client(server: ServerThread) -> None:
    q = query("many.testns.svc.cluster.local.", "A")
    r, used_tcp = dns.query.udp_with_fallback(q, "127.0.0.1", port=server.port, timeout=3)
    assert used_tcp and len(rdatas(r)) == 60


def test_bad_edns_version_is_badvers(server: ServerThread) -> None:
    q = query("svc1.testns.svc.cluster.local.", "A", use_edns=1)
    r = server.udp(q)
    assert r.rcode() == dns.rcode.BADVERS


def test_non_in_class_is_refused(server: ServerThread) -> None:
    q = dns.message.make_query("svc1.testns.svc.cluster.local.", "A", rdclass="CH")
    assert server.udp(q).rcode() == dns.rcode.REFUSED


# ---------------------------------------------------------------------------- the wire cache


def test_cached_replies_differ_only_by_id(server: ServerThread) -> None:
    q = query("svc1.testns.svc.cluster.local.", "A")
    first = server.raw_udp(q.to_wire())
    q.id = (q.id + 1) & 0xFFFF
    second = server.raw_udp(q.to_wire())
    assert first is not None and second is not None
    assert second[:2] == q.to_wire()[:2]
    assert first[2:] == second[2:]


def test_loadbalance_rotates_cached_replies(server: ServerThread) -> None:
    orders = set()
    for _ in range(40):
        r = server.udp(query("web.testns.svc.cluster.local.", "A"))
        orders.add(tuple(rdatas(r)))
    assert len(orders) == 2  # two endpoints: both orders show up


def test_zone_change_invalidates_cache(state: ClusterState, tmp_path: Path) -> None:
    extra = """
---
apiVersion: v1
kind: Service
metadata: {name: late, namespace: testns}
spec:
  selector: {app: api}
  ports: [{port: 81}]
"""
    from test_dns_server_support import MANIFESTS

    with ServerThread(snapshot(state, CLUSTER_ONLY_COREFILE)) as s:
        q = query("late.testns.svc.cluster.local.", "A")
        assert s.udp(q).rcode() == dns.rcode.NXDOMAIN
        assert s.udp(q).rcode() == dns.rcode.NXDOMAIN  # now from the cache
        newer = cluster_state(tmp_path, MANIFESTS + extra)
        s.update(snapshot(newer, CLUSTER_ONLY_COREFILE))
        r = s.udp(q)
        assert r.rcode() == dns.rcode.NOERROR
        assert rdatas(r) == [service(newer, "testns", "late").spec.cluster_ip]


def test_cache_plugin_hits_and_ttl_countdown(state: ClusterState) -> None:
    corefile = CLUSTER_ONLY_COREFILE.replace("    loadbalance\n", "    cache 30\n")
    with ServerThread(snapshot(state, corefile)) as s:
        q = query("svc1.testns.svc.cluster.local.", "A")
        first = s.udp(q)
        time.sleep(1.2)
        second = s.udp(q)
        assert first.answer[0].ttl == 5
        assert second.answer[0].ttl < first.answer[0].ttl
        text = s.metrics_text()
        assert re.search(r'coredns_cache_hits_total\{server="dns://127\.0\.0\.1:\d+",type="success",view="",zones="\."\} 1', text), text
        assert re.search(r'coredns_cache_misses_total\{server="dns://127\.0\.0\.1:\d+",view="",zones="\."\} 1', text)
        assert re.search(r'coredns_dns_requests_total\{family="1",proto="udp",server="dns://127\.0\.0\.1:\d+",type="A",view="",zone="\."\} 2', text)
        assert re.search(r'coredns_dns_responses_total\{plugin="kubernetes",rcode="NOERROR",server="[^"]+",view="",zone="\."\} 2', text)


# ---------------------------------------------------------------------------- forwarding


def test_forward_to_stub_upstream(state: ClusterState) -> None:
    answers = {("www.example.org.", "A"): ["192.0.2.10"], ("mail.example.org.", "MX"): ["10 mx.example.org."]}
    with StubUpstream(answers) as up, \
            ServerThread(snapshot(state, corefile_with_upstream(up.addr))) as s:
        q = query("www.example.org.", "A")
        r = s.udp(q)
        assert r.rcode() == dns.rcode.NOERROR and r.id == q.id
        assert rdatas(r) == ["192.0.2.10"]
        assert r.flags & dns.flags.RA  # the upstream's flags pass through
        assert rdatas(s.tcp(query("mail.example.org.", "MX"))) == ["10 mx.example.org."]
        # the upstream's rcode passes through
        assert s.udp(query("nosuch.example.org.", "A")).rcode() == dns.rcode.NXDOMAIN
        # the upstream saw the question, under IDs of the server's own
        ids = {m.id for m in up.seen}
        assert len(up.seen) >= 3
        assert not ({q.id} >= ids)
        # an ExternalName outside the cluster: CNAME then the upstream's answer for the target
        r = s.udp(query("ext.testns.svc.cluster.local.", "A"))
        assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
        assert rdatas(r, rdtype="A") == ["192.0.2.10"]


def test_forwarded_answers_cached_by_cache_plugin(state: ClusterState) -> None:
    with StubUpstream({("www.example.org.", "A"): ["192.0.2.10"]}, ttl=120) as up, \
            ServerThread(snapshot(state, corefile_with_upstream(up.addr, cache=KUBEADM_CACHE))) as s:
        for _ in range(3):
            r = s.udp(query("www.example.org.", "A"))
            assert rdatas(r) == ["192.0.2.10"]
            assert r.answer[0].ttl <= 30  # capped at the cache's success TTL
        assert len([m for m in up.seen if m.question[0].name.to_text() == "www.example.org."]) == 1
        text = s.metrics_text()
        assert re.search(r'coredns_cache_hits_total\{[^}]*type="success"[^}]*\} 2', text), text
        assert re.search(r'coredns_forward_requests_total\{to="127\.0\.0\.1:\d+"\} 1', text)
        # cluster names are not cached by the cache plugin (disable success/denial cluster.local)
        s.udp(query("svc1.testns.svc.cluster.local.", "A"))
        s.udp(query("svc1.testns.svc.cluster.local.", "A"))
        assert re.search(r'coredns_cache_misses_total\{[^}]*\} 3', s.metrics_text())


def test_unreachable_upstream_is_servfail_quickly(state: ClusterState) -> None:
    dead = f"127.0.0.1:{free_udp_port()}"
    with ServerThread(snapshot(state, corefile_with_upstream(dead))) as s:
        with timed() as t:
            r = s.udp(query("www.example.org.", "A"), timeout=8)
        assert r.rcode() == dns.rcode.SERVFAIL
        assert t[0] < 5.5
        assert any("plugin/errors" in line and "www.example.org." in line for line in s.lines)


def test_silent_upstream_is_servfail_within_deadline(state: ClusterState) -> None:
    with StubUpstream(silent=True) as up, \
            ServerThread(snapshot(state, corefile_with_upstream(up.addr)),
                         Tuning(forward_deadline=1.5)) as s:
        with timed() as t:
            r = s.udp(query("www.example.org.", "A"), timeout=8)
        assert r.rcode() == dns.rcode.SERVFAIL
        assert 1.0 < t[0] < 3.0
        # meanwhile the cluster zone keeps answering
        assert s.alive()


def test_sequential_policy_skips_dead_upstream(state: ClusterState) -> None:
    dead = f"127.0.0.1:{free_udp_port()}"
    with StubUpstream({("www.example.org.", "A"): ["192.0.2.10"]}) as up, \
            ServerThread(snapshot(state, corefile_with_upstream(
                f"{dead} {up.addr}", forward_opts="       policy sequential\n       max_fails 1\n"))) as s:
        for _ in range(3):
            r = s.udp(query("www.example.org.", "A"), timeout=8)
            assert rdatas(r) == ["192.0.2.10"]
        text = s.metrics_text()
        assert re.search(rf'coredns_forward_requests_total\{{to="{re.escape(dead)}"\}} \d+', text)
        assert re.search(rf'coredns_forward_responses_total\{{rcode="NOERROR",to="{re.escape(up.addr)}"\}} 3', text)


def test_forward_over_tcp_when_client_uses_tcp(state: ClusterState) -> None:
    with StubUpstream({("www.example.org.", "A"): ["192.0.2.10"]}) as up, \
            ServerThread(snapshot(state, corefile_with_upstream(up.addr))) as s:
        assert rdatas(s.tcp(query("www.example.org.", "A"))) == ["192.0.2.10"]


# ---------------------------------------------------------------------------- zone transfer


def _axfr(port: int, name: str = ZONE) -> list[dns.message.Message]:
    import socket
    import struct

    q = dns.message.make_query(name, "AXFR")
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        w = q.to_wire()
        c.sendall(struct.pack("!H", len(w)) + w)
        soas = 0
        while soas < 2:
            n = struct.unpack("!H", c.recv(2, socket.MSG_WAITALL))[0]
            m = dns.message.from_wire(c.recv(n, socket.MSG_WAITALL), one_rr_per_rrset=True)
            out.append(m)
            if m.rcode() != dns.rcode.NOERROR:
                break
            soas += sum(1 for r in m.answer if r.rdtype == dns.rdatatype.SOA
                        for _ in r)
    return out


def test_axfr_to_allowed_peer(state: ClusterState) -> None:
    corefile = CLUSTER_ONLY_COREFILE.replace("    loadbalance\n", "    transfer {\n        to 127.0.0.1\n    }\n")
    with ServerThread(snapshot(state, corefile)) as s:
        msgs = _axfr(s.port)
        rrs = [r for m in msgs for r in m.answer]
        assert rrs[0].rdtype == dns.rdatatype.SOA and rrs[-1].rdtype == dns.rdatatype.SOA
        names = {r.name.to_text() for r in rrs}
        assert "svc1.testns.svc.cluster.local." in names
        assert "web-0.web.testns.svc.cluster.local." in names
        # over UDP a transfer is refused
        r = s.udp(dns.message.make_query(ZONE, "AXFR"))
        assert r.rcode() == dns.rcode.REFUSED


def test_axfr_refused_to_other_peers(state: ClusterState) -> None:
    corefile = CLUSTER_ONLY_COREFILE.replace("    loadbalance\n", "    transfer {\n        to 192.0.2.1\n    }\n")
    with ServerThread(snapshot(state, corefile)) as s:
        msgs = _axfr(s.port)
        assert msgs[0].rcode() == dns.rcode.REFUSED


# ---------------------------------------------------------------------------- log plugin


def test_log_plugin_lines_in_coredns_format(state: ClusterState) -> None:
    corefile = CLUSTER_ONLY_COREFILE.replace("    loadbalance\n", "    log\n")
    with ServerThread(snapshot(state, corefile)) as s:
        q = query("svc1.testns.svc.cluster.local.", "A")
        s.udp(q)
        s.udp(q)
        s.tcp(query("nosuch.testns.svc.cluster.local.", "A", use_edns=0, want_dnssec=True))
        time.sleep(0.1)
    pattern = re.compile(
        r'^\[INFO\] 127\.0\.0\.1:\d+ - (\d+) "(\w+) IN (\S+) (udp|tcp) (\d+) (true|false) (\d+)" '
        r"(\w+) ([a-z,]*) (\d+) \d+(\.\d+)?s$")
    matches = [pattern.match(line) for line in s.lines]
    assert all(matches), s.lines
    m1, m2, m3 = matches[:3]
    assert m1 is not None and m2 is not None and m3 is not None
    assert m1.group(1) == str(q.id) and m1.group(2) == "A" and m1.group(3) == "svc1.testns.svc.cluster.local."
    assert (m1.group(4), m1.group(6), m1.group(7), m1.group(8), m1.group(9)) == ("udp", "false", "512", "NOERROR", "qr,aa,rd")
    assert m2.group(1) == str(q.id)  # the cached answer is logged too
    assert (m3.group(4), m3.group(6), m3.group(7), m3.group(8)) == ("tcp", "true", "65535", "NXDOMAIN")
