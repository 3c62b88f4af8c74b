"""connect.outcome beyond upstream's flow tables: what the backend sees, affinity sequences,
health checks, load-balancer announcement, multi-node paths, and the example cluster.

Expectations come from kube-proxy's documented behaviour: ``pkg/proxy/healthcheck``'s reply
(``service_health.go``), MetalLB's layer-2 ``ShouldAnnounce`` election, the reject semantics of
nftables' ``reject`` (ICMP port unreachable; Linux reports "connection refused" to a TCP
client), and the Kubernetes documentation of session affinity and traffic policies.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_proxy_support import (
    TEST_EXTERNAL_CLIENT,
    TEST_NODE,
    TEST_NODE_IP,
    ep,
    eport,
    eslice,
    nft_load,
    node,
    plan,
    port,
    service,
    table_of,
)

from podnet.proxy.connect import health_check, outcome, service_outcome
from podnet.proxy.nftables import compile_node
from podnet.proxy.service_map import ServicePlan

ROOT = Path(__file__).resolve().parents[1]

NODES = [node(TEST_NODE), node("node2", "192.168.0.3"), node("node3", "192.168.0.4")]


def three_node_plan(**svc_kw: object) -> ServicePlan:
    return plan([
        service("ns", "web", "172.30.0.10", [port("http", 80, node_port=30080)],
                type="LoadBalancer", lb_ips=["1.2.3.4"], **svc_kw),  # type: ignore[arg-type]
        eslice("ns", "web", [
            ep("10.0.1.1", TEST_NODE, pod="ns/web-a"),
            ep("10.0.2.1", "node2", pod="ns/web-b"),
            ep("10.0.2.2", "node2", pod="ns/web-c"),
        ], [eport("http", 8080)]),
    ], nodes=NODES)


# ----------------------------------------------------------------------------- source addresses


def test_cluster_ip_from_a_pod_preserves_the_client() -> None:
    o = outcome(three_node_plan(), TEST_NODE, "10.0.1.9", "172.30.0.10", 80)
    assert o.verdict == "forwarded" and o.entry == "ClusterIP"
    assert not o.masquerade and o.source_seen == "10.0.1.9" and o.source_preserved
    assert {b.pod for b in o.candidates} == {"ns/web-a", "ns/web-b", "ns/web-c"}
    assert o.backend in o.candidates and o.backend is not None
    assert o.backend.port == 8080


def test_hairpin_is_masqueraded_to_the_node() -> None:
    p = plan([service("ns", "one", "172.30.0.11", [port("", 80)]),
              eslice("ns", "one", [ep("10.0.1.1", TEST_NODE, pod="ns/one")], [eport("", 80)])])
    o = outcome(p, TEST_NODE, "10.0.1.1", "172.30.0.11", 80)
    assert o.masquerade and o.source_seen == TEST_NODE_IP
    assert any("hairpin" in s.detail for s in o.steps)
    assert o.chains[-1] == "masquerading"


def test_external_traffic_policy_cluster_snats_to_the_node() -> None:
    o = outcome(three_node_plan(), None, TEST_EXTERNAL_CLIENT, "192.168.0.3", 30080,
                from_outside=True)
    assert o.node == "node2" and o.entry == "NodePort"
    assert o.masquerade and o.source_seen == "192.168.0.3"
    assert len(o.candidates) == 3


def test_external_traffic_policy_local_keeps_the_client_and_stays_local() -> None:
    p = three_node_plan(etp="Local", hc_port=32000)
    o = outcome(p, None, TEST_EXTERNAL_CLIENT, "192.168.0.3", 30080, from_outside=True)
    assert o.verdict == "forwarded" and not o.masquerade
    assert o.source_seen == TEST_EXTERNAL_CLIENT
    assert {b.node for b in o.candidates} == {"node2"}
    # A node without a local endpoint drops it (the client times out).
    o = outcome(p, None, TEST_EXTERNAL_CLIENT, "192.168.0.4", 30080, from_outside=True)
    assert o.verdict == "dropped" and o.client_sees == "timeout"
    assert "no-endpoint-nodeports" in o.steps[-1].rule
    assert "externalTrafficPolicy Local" in o.reason


def test_internal_traffic_policy_local_drops_without_a_local_endpoint() -> None:
    p = three_node_plan(itp="Local")
    o = outcome(p, "node3", "10.0.3.5", "172.30.0.10", 80)
    assert o.verdict == "dropped" and "internalTrafficPolicy Local" in o.reason
    o = outcome(p, "node2", "10.0.2.5", "172.30.0.10", 80)
    assert {b.node for b in o.candidates} == {"node2"}


def test_pod_to_another_nodes_nodeport_is_handled_there() -> None:
    o = outcome(three_node_plan(), TEST_NODE, "10.0.1.9", "192.168.0.4", 30080)
    assert o.node == "node3"
    assert any(s.chain == "(routing)" for s in o.steps)
    assert o.masquerade and o.source_seen == "192.168.0.4"


def test_host_to_another_nodes_local_nodeport_counts_as_external_there() -> None:
    """A host process on one node reaching another node's NodePort is "external" to that
    node's rules: under eTP Local only that node's endpoints, and the client IP is kept."""
    p = three_node_plan(etp="Local", hc_port=32000)
    o = outcome(p, TEST_NODE, TEST_NODE_IP, "192.168.0.3", 30080)
    assert o.node == "node2" and o.source_class == "external"
    assert {b.node for b in o.candidates} == {"node2"}
    assert o.source_seen == TEST_NODE_IP and not o.masquerade


def test_nodeport_on_loopback_is_not_served() -> None:
    o = outcome(three_node_plan(), TEST_NODE, TEST_NODE_IP, "127.0.0.1", 30080)
    assert o.verdict == "passthrough" and "localhost" in o.reason


# ----------------------------------------------------------------------------- rejects and drops


@pytest.mark.parametrize(("proto", "seen"), [("TCP", "connection refused"),
                                             ("UDP", "ICMP port unreachable"),
                                             ("SCTP", "connection refused")])
def test_no_endpoints_rejects(proto: str, seen: str) -> None:
    p = plan([service("ns", "empty", "172.30.0.20", [port("p", 53, proto)])])
    o = outcome(p, TEST_NODE, "10.0.0.2", "172.30.0.20", 53, proto)
    assert o.verdict == "rejected" and o.client_sees == seen
    assert [s.chain for s in o.steps][-2:] == ["service-endpoints-check", "reject-chain"]
    assert "no usable endpoint" in o.reason


def test_wrong_port_of_a_cluster_ip_is_rejected_and_unallocated_dropped() -> None:
    p = three_node_plan()
    o = outcome(p, TEST_NODE, "10.0.0.2", "172.30.0.10", 81)
    assert o.verdict == "rejected" and o.client_sees == "connection refused"
    assert o.steps[-1].chain == "cluster-ips-check" and "80/TCP" in o.reason
    o = outcome(p, TEST_NODE, "10.0.0.2", "172.30.9.9", 80)
    assert o.verdict == "dropped" and o.client_sees == "timeout"
    assert "not allocated" in o.reason


def test_load_balancer_source_ranges_drop_others() -> None:
    p = three_node_plan(source_ranges=["203.0.113.0/25"])
    ok = outcome(p, TEST_NODE, "203.0.113.5", "1.2.3.4", 80)
    assert ok.verdict == "forwarded"
    no = outcome(p, TEST_NODE, "203.0.113.200", "1.2.3.4", 80)
    assert no.verdict == "dropped" and no.steps[-1].chain.startswith("firewall-")
    assert "loadBalancerSourceRanges" in no.reason


# ----------------------------------------------------------------------------- affinity


def test_session_affinity_sticks_for_n_connections() -> None:
    p = three_node_plan(affinity_timeout=30)
    o = outcome(p, TEST_NODE, "10.0.1.9", "172.30.0.10", 80, connections=6, seed=3)
    assert len({c.backend for c in o.connections}) == 1
    assert [c.by_affinity for c in o.connections] == [False] + [True] * 5
    assert any(s.rule.startswith("update @affinity-") for s in o.steps)
    # Connections further apart than the timeout are balanced afresh.
    spread = {c.backend for seed in range(5) for c in outcome(
        p, TEST_NODE, "10.0.1.9", "172.30.0.10", 80, connections=8, seed=seed,
        interval_seconds=31).connections}
    assert len(spread) == 3


def test_without_affinity_connections_are_seeded_and_spread() -> None:
    p = three_node_plan()
    a = outcome(p, TEST_NODE, "10.0.1.9", "172.30.0.10", 80, connections=30, seed=7)
    b = outcome(p, TEST_NODE, "10.0.1.9", "172.30.0.10", 80, connections=30, seed=7)
    c = outcome(p, TEST_NODE, "10.0.1.9", "172.30.0.10", 80, connections=30, seed=8)
    assert a.connections == b.connections  # reproducible
    assert a.connections != c.connections
    assert {x.backend for x in a.connections} == set(a.candidates)
    assert not any(x.by_affinity for x in a.connections)


# ----------------------------------------------------------------------------- health checks


def test_health_check_reply_is_kube_proxys() -> None:
    p = three_node_plan(etp="Local", hc_port=32000)
    hc = health_check(p, "node2", "ns", "web")
    assert hc is not None and hc.status == 200 and hc.local_endpoints == 2
    assert hc.body == ('{\n\t"service": {\n\t\t"namespace": "ns",\n\t\t"name": "web"\n\t},\n'
                       '\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}')
    assert json.loads(hc.body) == {"service": {"namespace": "ns", "name": "web"},
                                   "localEndpoints": 2, "serviceProxyHealthy": True}
    assert ("Content-Type", "application/json") in hc.headers
    hc3 = health_check(p, "node3", "ns", "web")
    assert hc3 is not None and hc3.status == 503 and hc3.local_endpoints == 0
    # Through a connection to the port: kube-proxy answers, no rule involved.
    o = outcome(p, None, TEST_EXTERNAL_CLIENT, "192.168.0.4", 32000, from_outside=True)
    assert o.verdict == "answered" and o.health_check == hc3
    assert o.entry == "HealthCheckNodePort"
    # Only LoadBalancer Services with eTP Local have one.
    assert health_check(three_node_plan(), "node2", "ns", "web") is None


def test_terminating_local_endpoints_do_not_count_as_healthy() -> None:
    """TestHealthCheckNodePortWhenTerminating."""
    p = plan([
        service("ns1", "svc1", "172.30.1.1", [port("", 80, node_port=30001)],
                type="LoadBalancer", etp="Local", hc_port=30000),
        eslice("ns1", "svc1", [ep("10.0.1.1", TEST_NODE, ready=False, serving=True,
                                  terminating=False),
                               ep("10.0.1.2", TEST_NODE, ready=False, serving=True,
                                  terminating=True),
                               ep("10.0.1.4", TEST_NODE, ready=False, serving=False,
                                  terminating=True)], [eport("", 80)]),
    ])
    hc = health_check(p, TEST_NODE, "ns1", "svc1")
    assert hc is not None and hc.local_endpoints == 0 and hc.status == 503


# ----------------------------------------------------------------------------- announcement


def test_load_balancer_ip_enters_at_the_metallb_l2_winner() -> None:
    p = three_node_plan()
    o = outcome(p, None, TEST_EXTERNAL_CLIENT, "1.2.3.4", 80, from_outside=True)
    expected = sorted((n.name for n in NODES),
                      key=lambda n: hashlib.sha256(f"{n}#1.2.3.4".encode()).digest())
    assert o.announcement is not None and o.announcement.candidates == tuple(expected)
    assert o.node == expected[0] and o.steps[0].chain == "(network)"
    # eTP Local: only nodes with a ready endpoint are candidates.
    local = three_node_plan(etp="Local", hc_port=32000).announcement("1.2.3.4")
    assert set(local.candidates) == {TEST_NODE, "node2"}


def test_excluded_nodes_and_no_endpoints_do_not_announce() -> None:
    exclude = {"node.kubernetes.io/exclude-from-external-load-balancers": ""}
    nodes = [node(TEST_NODE), node("cp", "192.168.0.9", labels=exclude)]
    p = plan([service("ns", "web", "172.30.0.10", [port("http", 80)], type="LoadBalancer",
                      lb_ips=["1.2.3.4"]),
              eslice("ns", "web", [ep("10.0.1.1", TEST_NODE)], [eport("http", 80)])],
             nodes=nodes)
    assert p.announcement("1.2.3.4").candidates == (TEST_NODE,)
    empty = plan([service("ns", "web", "172.30.0.10", [port("http", 80)], type="LoadBalancer",
                          lb_ips=["1.2.3.4"])], nodes=nodes)
    o = outcome(empty, None, TEST_EXTERNAL_CLIENT, "1.2.3.4", 80, from_outside=True)
    assert o.verdict == "dropped" and o.node is None and o.client_sees == "timeout"


# ----------------------------------------------------------------------------- not proxied


def test_headless_and_external_name_are_not_proxied() -> None:
    p = plan([service("ns", "db", "None", [port("pg", 5432)]),
              service("ns", "ext", "", [port("https", 443)], type="ExternalName",
                      external_name="payments.example.com")])
    o = service_outcome(p, TEST_NODE, "10.0.0.2", "ns", "db", 5432)
    assert o.verdict == "not-proxied" and "headless" in o.reason and o.source_class == "pod"
    o = service_outcome(p, TEST_NODE, "10.0.0.2", "ns", "ext", "https")
    assert o.verdict == "not-proxied" and "payments.example.com" in o.reason
    assert not compile_node(p, TEST_NODE).ports


def test_service_outcome_by_port_name() -> None:
    o = service_outcome(three_node_plan(), TEST_NODE, "10.0.1.9", "ns", "web", "http")
    assert o.verdict == "forwarded" and o.dest_port == 80 and str(o.service) == "ns/web:http"
    with pytest.raises(KeyError):
        service_outcome(three_node_plan(), TEST_NODE, "10.0.1.9", "ns", "web", "nope")


def test_outcome_to_dict_is_json() -> None:
    o = outcome(three_node_plan(), TEST_NODE, "10.0.1.9", "172.30.0.10", 80, connections=2)
    d = json.loads(json.dumps(o.to_dict()))
    assert d["backend"]["port"] == 8080 and len(d["connections"]) == 2
    assert d["client_ip_seen"] == "10.0.1.9"


# ----------------------------------------------------------------------------- example cluster


def test_example_cluster_through_reconcile() -> None:
    """The shop example, through the real controllers: every node's ruleset (both families'
    tables) loads, and the model's answers agree with the compiled rules."""
    from podnet.api.loader import read_paths
    from podnet.cluster.config import DEFAULT
    from podnet.cluster.reconcile import reconcile

    loaded = read_paths([str(ROOT / "examples" / "shop")])
    state = reconcile(DEFAULT, [item.obj for item in loaded.objects])
    p = ServicePlan.build(state)
    txs = []
    for name in sorted(p.nodes):
        rs = compile_node(p, name)
        txs.append(rs.transaction())
        t = table_of(rs.dump())
        assert t.chains  # sanity: the dump parses back
    nft_load(*txs)

    client = next(pod for pod in state.pods("frontend") if pod.ips)
    o = service_outcome(p, None, client.ips[0], "shop", "api", 8080, connections=3)
    assert o.verdict == "forwarded" and o.node == client.spec.node_name
    assert all(b.pod and b.pod.startswith("shop/api-") for b in o.candidates)
    dns = service_outcome(p, None, client.ips[0], "kube-system", "kube-dns", 53, "UDP")
    assert dns.verdict == "forwarded" and dns.backend is not None and dns.backend.port == 53

    public = p.service("shop", "api-public")
    assert public is not None and public.ports_v4[0].load_balancer_vips
    vip = public.ports_v4[0].load_balancer_vips[0]
    o = outcome(p, None, "203.0.113.7", vip, 443, from_outside=True)
    assert o.announcement is not None and o.node == o.announcement.node
    assert o.verdict == "forwarded" and o.source_seen == "203.0.113.7"  # eTP Local
    assert all(b.node == o.node for b in o.candidates)
    hc = health_check(p, o.node or "", "shop", "api-public")
    assert hc is not None and hc.status == 200

    assert service_outcome(p, None, client.ips[0], "data", "db", 5432).verdict == "not-proxied"
    assert service_outcome(p, None, client.ips[0], "shop", "payments", 443).verdict == \
        "not-proxied"
