"""Packet flows from kube-proxy's proxier_test.go, checked twice.

Each case is one of upstream's ``packetFlowTest`` expectations (source, destination, the
endpoints the packet may reach or DROP/REJECT/nothing, masquerade or not). Each is checked
against:

* the compiled ruleset, by the test tracer (a re-implementation of upstream's
  ``tracePacket``) — so the *rules* do what kube-proxy's do;
* :func:`podnet.proxy.connect.outcome` — so the *model* ``podnet trace`` uses agrees with them.
"""

from __future__ import annotations

import pytest
from test_proxy_support import (
    CONFIG_V6,
    TEST_EXTERNAL_CLIENT,
    TEST_EXTERNAL_CLIENT_BLOCKED,
    TEST_NODE,
    TEST_NODE_IP,
    TEST_NODE_IP_ALT,
    TEST_NODE_IPV6,
    TEST_NODE_IPV6_ALT,
    Flow,
    ep,
    eport,
    eslice,
    nft_load,
    plan,
    port,
    service,
    table_of,
    trace_packet,
)

from podnet.proxy.connect import ProxyOutcome, outcome
from podnet.proxy.nftables import compile_node
from podnet.proxy.service_map import ServicePlan


def model_output(o: ProxyOutcome) -> tuple[str, bool]:
    """The outcome in upstream's terms: endpoints, DROP, REJECT or "" — and masquerade."""
    if o.verdict == "forwarded":
        out = ", ".join(f"[{b.ip}]:{b.port}" if ":" in b.ip else f"{b.ip}:{b.port}"
                        for b in o.candidates)
        # The tracer follows every endpoint chain, so a hairpin to any candidate counts.
        return out, o.masquerade or any(b.ip == o.source_ip for b in o.candidates)
    if o.verdict == "rejected":
        return "REJECT", False
    if o.verdict == "dropped":
        return "DROP", False
    return "", False


def check(p: ServicePlan, flows: list[Flow], family: int = 4) -> None:
    rs = compile_node(p, TEST_NODE, 4 if family == 4 else 6)
    table = table_of(rs.dump())
    errors = []
    for f in flows:
        matches, output, masq = trace_packet(table, f.source, f.protocol, f.dest, f.port)
        if (output, masq) != (f.output, f.masq):
            errors.append(f"rules  {f.name}: got {output!r} masq={masq}, want {f.output!r} "
                          f"masq={f.masq}\n    " + "\n    ".join(matches))
        o = outcome(p, TEST_NODE, f.source, f.dest, f.port, f.protocol)
        got = model_output(o)
        if got != (f.output, f.masq):
            errors.append(f"model  {f.name}: got {got[0]!r} masq={got[1]}, want {f.output!r} "
                          f"masq={f.masq}: {o.verdict}: {o.reason}")
        # Every rule the model cites is a rule of the compiled table, in the chain it names.
        for s in o.steps:
            if s.chain.startswith("(") or not s.rule:
                continue
            if s.chain not in table.chains:
                errors.append(f"steps  {f.name}: no chain {s.chain}")
            elif s.rule not in table.rules(s.chain):
                errors.append(f"steps  {f.name}: {s.chain} has no rule {s.rule!r}")
    assert not errors, "\n".join(errors)


# ----------------------------------------------------------------------------------------------


def test_no_endpoints_reject() -> None:
    p = plan([service("ns1", "svc1", "172.30.0.41", [port("p80", 80, node_port=3001)],
                      type="LoadBalancer", external_ips=["192.168.99.11"], lb_ips=["1.2.3.4"])])
    check(p, [
        Flow("pod to cluster IP with no endpoints", "10.0.0.2", "172.30.0.41", 80, "REJECT"),
        Flow("external to external IP with no endpoints", TEST_EXTERNAL_CLIENT, "192.168.99.11",
             80, "REJECT"),
        Flow("pod to NodePort with no endpoints", "10.0.0.2", TEST_NODE_IP, 3001, "REJECT"),
        Flow("external to NodePort with no endpoints", TEST_EXTERNAL_CLIENT, TEST_NODE_IP, 3001,
             "REJECT"),
        Flow("pod to LoadBalancer IP with no endpoints", "10.0.0.2", "1.2.3.4", 80, "REJECT"),
        Flow("external to LoadBalancer IP with no endpoints", TEST_EXTERNAL_CLIENT, "1.2.3.4", 80,
             "REJECT"),
    ])


def test_cluster_ip_general() -> None:
    p = plan([
        service("ns1", "svc1", "172.30.0.41", [port("http", 80)]),
        service("ns2", "svc2", "172.30.0.42", [
            port("http", 80), port("https", 443, target_port=8443), port("dns-udp", 53, "UDP"),
            port("dns-tcp", 53, target_port=5353), port("dns-sctp", 53, "SCTP")]),
        eslice("ns1", "svc1", [ep("10.180.0.1", TEST_NODE)], [eport("http", 80)]),
        eslice("ns2", "svc2", [ep("10.180.0.1", TEST_NODE), ep("10.180.2.1", "node2")],
               [eport("http", 80), eport("https", 8443), eport("dns-udp", 53, "UDP"),
                eport("dns-tcp", 5353), eport("dns-sctp", 53, "SCTP")]),
    ])
    check(p, [
        Flow("simple clusterIP", "10.180.0.2", "172.30.0.41", 80, "10.180.0.1:80"),
        Flow("hairpin to cluster IP", "10.180.0.1", "172.30.0.41", 80, "10.180.0.1:80", True),
        Flow("clusterIP with multiple endpoints", "10.180.0.2", "172.30.0.42", 80,
             "10.180.0.1:80, 10.180.2.1:80"),
        Flow("clusterIP with TargetPort", "10.180.0.2", "172.30.0.42", 443,
             "10.180.0.1:8443, 10.180.2.1:8443"),
        Flow("TCP on a port shared by three protocols", "10.180.0.2", "172.30.0.42", 53,
             "10.180.0.1:5353, 10.180.2.1:5353"),
        Flow("UDP on a port shared by three protocols", "10.180.0.2", "172.30.0.42", 53,
             "10.180.0.1:53, 10.180.2.1:53", protocol="UDP"),
        Flow("SCTP on a port shared by three protocols", "10.180.0.2", "172.30.0.42", 53,
             "10.180.0.1:53, 10.180.2.1:53", protocol="SCTP"),
        Flow("TCP-only port does not match UDP traffic", "10.180.0.2", "172.30.0.42", 80,
             "REJECT", protocol="UDP"),
        Flow("svc1 does not accept svc2's ports", "10.180.0.2", "172.30.0.41", 443, "REJECT"),
        Flow("packet to unallocated cluster ip", "10.180.0.2", "172.30.0.50", 80, "DROP"),
    ])


def test_load_balancer() -> None:
    p = plan([
        service("ns1", "svc1", "172.30.0.41", [port("p80", 80, node_port=3001)],
                type="LoadBalancer", lb_ips=["1.2.3.4", "5.6.7.8"],
                source_ranges=["192.168.0.0/24", " 203.0.113.0/25"]),
        eslice("ns1", "svc1", [ep("10.180.0.1")], [eport("p80", 80)]),
    ])
    e = "10.180.0.1:80"
    check(p, [
        Flow("pod to cluster IP", "10.0.0.2", "172.30.0.41", 80, e),
        Flow("external to nodePort", TEST_EXTERNAL_CLIENT, TEST_NODE_IP, 3001, e, True),
        Flow("nodePort bypasses LoadBalancerSourceRanges", TEST_EXTERNAL_CLIENT_BLOCKED,
             TEST_NODE_IP, 3001, e, True),
        Flow("accepted external to LB1", TEST_EXTERNAL_CLIENT, "1.2.3.4", 80, e, True),
        Flow("accepted external to LB2", TEST_EXTERNAL_CLIENT, "5.6.7.8", 80, e, True),
        Flow("blocked external to LB1", TEST_EXTERNAL_CLIENT_BLOCKED, "1.2.3.4", 80, "DROP"),
        Flow("blocked external to LB2", TEST_EXTERNAL_CLIENT_BLOCKED, "5.6.7.8", 80, "DROP"),
        Flow("pod to LB1 (blocked by LoadBalancerSourceRanges)", "10.0.0.2", "1.2.3.4", 80,
             "DROP"),
        Flow("pod to LB2 (blocked by LoadBalancerSourceRanges)", "10.0.0.2", "5.6.7.8", 80,
             "DROP"),
        Flow("node to LB1 (allowed by LoadBalancerSourceRanges)", TEST_NODE_IP, "1.2.3.4", 80, e,
             True),
        Flow("node to LB2 (allowed by LoadBalancerSourceRanges)", TEST_NODE_IP, "5.6.7.8", 80, e,
             True),
        Flow("same node to LB1, SNATted to LB1 (implicitly allowed)", "1.2.3.4", "1.2.3.4", 80, e,
             True),
        Flow("same node to LB2, SNATted to LB2 (implicitly allowed)", "5.6.7.8", "5.6.7.8", 80, e,
             True),
    ])


@pytest.mark.parametrize("family", [4, 6])
def test_node_ports(family: int) -> None:
    if family == 4:
        svc_ip, ep1, ep2, node_ip, alt = ("172.30.0.41", "10.180.0.1", "10.180.2.1",
                                          TEST_NODE_IP, TEST_NODE_IP_ALT)
        pod, client, cfg, at = "10.0.0.2", TEST_EXTERNAL_CLIENT, None, "IPv4"
        out = f"{ep1}:80, {ep2}:80"
    else:
        svc_ip, ep1, ep2, node_ip, alt = ("fd00:172:30::41", "fd00:10:180::1",
                                          "fd00:10:180::2:1", TEST_NODE_IPV6, TEST_NODE_IPV6_ALT)
        pod, client, cfg, at = "fd00:10::2", "2600:5200::1", CONFIG_V6, "IPv6"
        out = f"[{ep1}]:80, [{ep2}]:80"
    objs = [
        service("ns1", "svc1", svc_ip, [port("p80", 80, node_port=3001)], type="NodePort"),
        eslice("ns1", "svc1", [ep(ep1), ep(ep2, TEST_NODE)], [eport("p80", 80)],
               address_type=at),
    ]
    p = plan(objs, cfg) if cfg else plan(objs)
    check(p, [
        Flow("pod to cluster IP", pod, svc_ip, 80, out),
        Flow("external to nodePort", client, node_ip, 3001, out, True),
        Flow("node to nodePort", node_ip, node_ip, 3001, out, True),
        # nftables mode's default --nodeport-addresses is the node's primary IP only.
        Flow("secondary nodeIP ignores NodePorts", client, alt, 3001, ""),
    ], family)
    nft_load(compile_node(p, TEST_NODE, 4 if family == 4 else 6).transaction())


def _etp_plan(policy: str) -> ServicePlan:
    return plan([
        service("ns1", "svc1", "172.30.0.41", [port("p80", 80, node_port=3001, target_port=80)],
                type="LoadBalancer", etp=policy, external_ips=["192.168.99.11"],
                lb_ips=["1.2.3.4"], hc_port=30000 if policy == "Local" else 0),
        eslice("ns1", "svc1", [ep("10.180.0.1"), ep("10.180.2.1", TEST_NODE)],
               [eport("p80", 80)]),
    ])


def test_external_traffic_policy_local() -> None:
    both, local = "10.180.0.1:80, 10.180.2.1:80", "10.180.2.1:80"
    check(_etp_plan("Local"), [
        Flow("pod to cluster IP hits both endpoints", "10.0.0.2", "172.30.0.41", 80, both),
        Flow("pod to external IP hits both endpoints", "10.0.0.2", "192.168.99.11", 80, both),
        Flow("external to external IP hits only local endpoint", TEST_EXTERNAL_CLIENT,
             "192.168.99.11", 80, local),
        Flow("pod to LB IP hits both endpoints", "10.0.0.2", "1.2.3.4", 80, both),
        Flow("external to LB IP hits only local endpoint", TEST_EXTERNAL_CLIENT, "1.2.3.4", 80,
             local),
        Flow("pod to NodePort hits both endpoints", "10.0.0.2", TEST_NODE_IP, 3001, both),
        Flow("external to NodePort hits only local endpoint", TEST_EXTERNAL_CLIENT, TEST_NODE_IP,
             3001, local),
    ])


def test_external_traffic_policy_cluster() -> None:
    both = "10.180.0.1:80, 10.180.2.1:80"
    check(_etp_plan("Cluster"), [
        Flow("pod to cluster IP hits both endpoints, unmasqueraded", "10.0.0.2", "172.30.0.41",
             80, both),
        Flow("pod to external IP hits both endpoints, masqueraded", "10.0.0.2", "192.168.99.11",
             80, both, True),
        Flow("external to external IP hits both endpoints, masqueraded", TEST_EXTERNAL_CLIENT,
             "192.168.99.11", 80, both, True),
        Flow("pod to LB IP hits both endpoints, masqueraded", "10.0.0.2", "1.2.3.4", 80, both,
             True),
        Flow("external to LB IP hits both endpoints, masqueraded", TEST_EXTERNAL_CLIENT,
             "1.2.3.4", 80, both, True),
        Flow("pod to NodePort hits both endpoints, masqueraded", "10.0.0.2", TEST_NODE_IP, 3001,
             both, True),
        Flow("external to NodePort hits both endpoints, masqueraded", TEST_EXTERNAL_CLIENT,
             TEST_NODE_IP, 3001, both, True),
    ])


@pytest.mark.parametrize(("itp", "nodes", "expected"), [
    ("Cluster", [TEST_NODE, "node1", "node2"], "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80"),
    ("Local", [TEST_NODE, "node1", "node2"], "10.0.1.1:80"),
    ("Local", [TEST_NODE, TEST_NODE, "node2"], "10.0.1.1:80, 10.0.1.2:80"),
    ("Local", ["node0", "node1", "node2"], "DROP"),
])
def test_internal_traffic_policy(itp: str, nodes: list[str], expected: str) -> None:
    svc = service("ns1", "svc1", "172.30.1.1", [port("", 80)], itp=itp)
    eps = eslice("ns1", "svc1", [ep(f"10.0.1.{i + 1}", n, ready=True)
                                 for i, n in enumerate(nodes)], [eport("", 80)])
    check(plan([svc, eps]), [Flow("pod to ClusterIP", "10.0.0.2", "172.30.1.1", 80, expected)])
    # Endpoints deleted: reject.
    check(plan([svc]), [Flow("endpoints deleted", "10.0.0.2", "172.30.1.1", 80, "REJECT")])


def _c(ready: bool, serving: bool, terminating: bool) -> dict[str, bool]:
    return {"ready": ready, "serving": serving, "terminating": terminating}


READY = _c(True, True, False)
SERVING_TERMINATING = _c(False, True, True)
GONE = _c(False, False, True)

TERMINATING_CASES = [
    ("ready endpoints exist", [
        ("10.0.1.1", TEST_NODE, READY), ("10.0.1.2", TEST_NODE, READY),
        ("10.0.1.3", TEST_NODE, SERVING_TERMINATING), ("10.0.1.4", TEST_NODE, GONE),
        ("10.0.1.5", "node-1", READY)],
     "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80", "10.0.1.1:80, 10.0.1.2:80",
     "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80"),
    ("only terminating endpoints exist", [
        ("10.0.1.2", TEST_NODE, SERVING_TERMINATING), ("10.0.1.3", TEST_NODE, SERVING_TERMINATING),
        ("10.0.1.4", "another-node", GONE), ("10.0.1.5", "another-node", SERVING_TERMINATING)],
     "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80", "10.0.1.2:80, 10.0.1.3:80",
     "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80"),
    ("terminating endpoints on remote node", [
        ("10.0.1.5", "node-1", SERVING_TERMINATING)],
     "10.0.1.5:80", "DROP", "10.0.1.5:80"),
    ("no usable endpoints on any node", [
        ("10.0.1.5", TEST_NODE, GONE), ("10.0.1.5", "node-1", GONE)],
     "REJECT", "REJECT", "REJECT"),
]


@pytest.mark.parametrize(("name", "endpoints", "cluster_ip", "lb_local", "lb_cluster"),
                         TERMINATING_CASES, ids=[c[0] for c in TERMINATING_CASES])
@pytest.mark.parametrize("policy", ["Local", "Cluster"])
def test_terminating_endpoints(policy: str, name: str,
                               endpoints: list[tuple[str, str, dict[str, bool]]],
                               cluster_ip: str, lb_local: str, lb_cluster: str) -> None:
    """TestTerminatingEndpointsTrafficPolicyLocal / …Cluster: serving-terminating endpoints are
    used only when no ready endpoint exists (for Local: no ready *local* endpoint)."""
    svc = service("ns1", "svc1", "172.30.1.1", [port("", 80, target_port=80)],
                  type="LoadBalancer", etp=policy, hc_port=30000, lb_ips=["1.2.3.4"])
    eps = eslice("ns1", "svc1", [ep(ip, n, **c) for ip, n, c in endpoints], [eport("", 80)])
    lb = lb_local if policy == "Local" else lb_cluster
    masq_lb = policy == "Cluster" and lb not in ("DROP", "REJECT")
    check(plan([svc, eps]), [
        Flow("pod to clusterIP", "10.0.0.2", "172.30.1.1", 80, cluster_ip),
        Flow("external to LB", TEST_EXTERNAL_CLIENT, "1.2.3.4", 80, lb, masq_lb),
    ])
    check(plan([svc]), [
        Flow("pod to clusterIP after endpoints deleted", "10.0.0.2", "172.30.1.1", 80, "REJECT"),
        Flow("external to LB after endpoints deleted", TEST_EXTERNAL_CLIENT, "1.2.3.4", 80,
             "REJECT"),
    ])


def test_internal_external_masquerade() -> None:
    """TestInternalExternalMasquerade, base case (working local detector, no masquerade-all)."""
    p = plan([
        service("ns1", "svc1", "172.30.0.41", [port("p80", 80, node_port=3001)],
                type="LoadBalancer", hc_port=30001, lb_ips=["1.2.3.4"]),
        service("ns2", "svc2", "172.30.0.42", [port("p80", 80, node_port=3002)],
                type="LoadBalancer", hc_port=30002, etp="Local", lb_ips=["5.6.7.8"]),
        service("ns3", "svc3", "172.30.0.43", [port("p80", 80, node_port=3003)],
                type="LoadBalancer", hc_port=30003, itp="Local", lb_ips=["9.10.11.12"]),
        eslice("ns1", "svc1", [ep("10.180.0.1", TEST_NODE), ep("10.180.1.1", "remote")],
               [eport("p80", 80)]),
        eslice("ns2", "svc2", [ep("10.180.0.2", TEST_NODE), ep("10.180.1.2", "remote")],
               [eport("p80", 80)]),
        eslice("ns3", "svc3", [ep("10.180.0.3", TEST_NODE), ep("10.180.1.3", "remote")],
               [eport("p80", 80)]),
    ])
    a1, a2, a3 = ("10.180.0.1:80, 10.180.1.1:80", "10.180.0.2:80, 10.180.1.2:80",
                  "10.180.0.3:80, 10.180.1.3:80")
    pod, nd, ext = "10.0.0.2", TEST_NODE_IP, TEST_EXTERNAL_CLIENT
    check(p, [
        Flow("pod to ClusterIP", pod, "172.30.0.41", 80, a1),
        Flow("pod to NodePort", pod, nd, 3001, a1, True),
        Flow("pod to LB", pod, "1.2.3.4", 80, a1, True),
        Flow("node to ClusterIP", nd, "172.30.0.41", 80, a1, True),
        Flow("node to NodePort", nd, nd, 3001, a1, True),
        Flow("node to LB", nd, "1.2.3.4", 80, a1, True),
        Flow("external to ClusterIP", ext, "172.30.0.41", 80, a1, True),
        Flow("external to NodePort", ext, nd, 3001, a1, True),
        Flow("external to LB", ext, "1.2.3.4", 80, a1, True),
        Flow("pod to ClusterIP with eTP:Local", pod, "172.30.0.42", 80, a2),
        Flow("pod to NodePort with eTP:Local", pod, nd, 3002, a2),
        Flow("pod to LB with eTP:Local", pod, "5.6.7.8", 80, a2),
        Flow("node to ClusterIP with eTP:Local", nd, "172.30.0.42", 80, a2, True),
        Flow("node to NodePort with eTP:Local", nd, nd, 3001, a1, True),
        Flow("node to LB with eTP:Local", nd, "5.6.7.8", 80, a2, True),
        Flow("external to ClusterIP with eTP:Local", ext, "172.30.0.42", 80, a2, True),
        Flow("external to NodePort with eTP:Local", ext, nd, 3002, "10.180.0.2:80"),
        Flow("external to LB with eTP:Local", ext, "5.6.7.8", 80, "10.180.0.2:80"),
        Flow("pod to ClusterIP with iTP:Local", pod, "172.30.0.43", 80, "10.180.0.3:80"),
        Flow("pod to NodePort with iTP:Local", pod, nd, 3003, a3, True),
        Flow("pod to LB with iTP:Local", pod, "9.10.11.12", 80, a3, True),
        Flow("node to ClusterIP with iTP:Local", nd, "172.30.0.43", 80, "10.180.0.3:80", True),
        Flow("node to NodePort with iTP:Local", nd, nd, 3003, a3, True),
        Flow("node to LB with iTP:Local", nd, "9.10.11.12", 80, a3, True),
        Flow("external to ClusterIP with iTP:Local", ext, "172.30.0.43", 80, "10.180.0.3:80",
             True),
        Flow("external to NodePort with iTP:Local", ext, nd, 3003, a3, True),
        Flow("external to LB with iTP:Local", ext, "9.10.11.12", 80, a3, True),
    ])


def test_lb_ip_mode_proxy_is_left_to_the_load_balancer() -> None:
    """TestLoadBalancerIngressRouteTypeProxy: no service-ips element for ipMode Proxy."""
    for mode, expected in (("Proxy", False), ("VIP", True), (None, True)):
        p = plan([
            service("ns1", "svc1", "10.20.30.41", [port("p80", 80, node_port=3001)],
                    type="LoadBalancer", lb_ips=["1.2.3.4"], lb_ip_mode=mode),
            eslice("ns1", "svc1", [ep("10.180.0.1")], [eport("p80", 80)]),
        ])
        t = table_of(compile_node(p, TEST_NODE).dump())
        keys = [k for k, _ in t.element_entries("service-ips")]
        assert (["1.2.3.4", "tcp", "80"] in keys) is expected, mode
