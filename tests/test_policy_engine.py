"""The verdict engine: reasons, JSON, and the corners of networking.k8s.io/v1 the e2e tables skip.

Expectations come from the API reference (NetworkPolicySpec, NetworkPolicyPeer, IPBlock,
NetworkPolicyPort) and the concept page ("Network Policies"): the quoted sentence is cited in
each test. The e2e truth tables themselves are in test_policy_e2e.py.
"""

from __future__ import annotations

import pytest

from podnet.api.core import Pod
from podnet.api.networking import NetworkPolicy
from podnet.policy import (
    PolicyIndex,
    UnknownEndpoint,
    as_enforced,
    enforcement_note,
    enforcement_of,
    reachability,
    verdict,
)

from test_policy_support import NODES, cluster, make_namespace, make_pod, pod_ip, policy

NS_LABEL = "kubernetes.io/metadata.name"


def index_of(*policies: NetworkPolicy, **kw: object) -> PolicyIndex:
    return PolicyIndex.build(cluster(list(policies), **kw))  # type: ignore[arg-type]


DENY_ALL_X = policy("x", "deny-all", {"podSelector": {}})


# ---------------------------------------------------------------------------- reasons and JSON


def test_denied_sentence_is_the_issue_example() -> None:
    v = verdict(index_of(DENY_ALL_X), "x/b", "x/a", 80, "TCP")
    assert not v.allowed
    assert v.sentence == (
        "x/b → x/a:80/TCP denied: x/a is isolated for ingress by x/deny-all and no ingress rule "
        "selecting it allows x/b"
    )


def test_json_shape() -> None:
    allow_b = policy("x", "allow-b", {"podSelector": {"matchLabels": {"pod": "a"}},
                                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}]},
                                                  {"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    v = verdict(index_of(DENY_ALL_X, allow_b), "x/b", "x/a", 80, "tcp")
    d = v.to_dict()
    assert list(d)[:3] == ["allowed", "egress", "ingress"]
    assert d["allowed"] is True
    assert d["egress"] == {"isolated": False, "allowed_by": [], "policies": []}
    assert d["ingress"] == {"isolated": True, "allowed_by": [{"policy": "x/allow-b", "rule": 1}],
                            "policies": ["x/allow-b", "x/deny-all"]}
    assert d["protocol"] == "TCP" and d["port"] == 80
    assert d["from"] == {"kind": "pod", "ip": pod_ip("x", "b"), "pod": "x/b", "node": "worker2"}
    assert v.sentence == (
        "x/b → x/a:80/TCP allowed: x/b is not isolated for egress; "
        "ingress to x/a is allowed by x/allow-b (ingress rule 1)"
    )


def test_union_lists_every_allowing_rule_of_every_policy() -> None:
    """Concept page: policies are additive; a connection allowed by any is allowed."""
    p1 = policy("x", "p1", {"podSelector": {}, "ingress": [{}, {"ports": [{"port": 80}]}]})
    p2 = policy("x", "p2", {"podSelector": {"matchLabels": {"pod": "a"}},
                            "ingress": [{"ports": [{"port": 81}]}, {"from": [{"namespaceSelector": {}}]}]})
    v = verdict(index_of(p1, p2), "y/c", "x/a", 80)
    assert [(r.policy, r.rule) for r in v.ingress.allowed_by] == [("x/p1", 0), ("x/p1", 1), ("x/p2", 1)]


def test_egress_denial_names_the_source_policies() -> None:
    p = policy("x", "only-dns", {"podSelector": {}, "policyTypes": ["Egress"],
                                 "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]})
    v = verdict(index_of(p), "x/a", "y/a", 80)
    assert not v.allowed and v.egress.isolated and not v.egress.allowed_by
    assert v.egress.policies == ("x/only-dns",)
    assert v.sentence == ("x/a → y/a:80/TCP denied: x/a is isolated for egress by x/only-dns and "
                          "no egress rule selecting it allows y/a:80/TCP")
    assert verdict(index_of(p), "x/a", "y/a", 53, "UDP").allowed


def test_both_directions_denied_are_both_said() -> None:
    both = policy("x", "deny-both", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    v = verdict(index_of(both), "x/a", "x/b", 80)
    assert "isolated for egress by x/deny-both" in v.sentence
    assert "; and x/b is isolated for ingress by x/deny-both" in v.sentence


def test_loopback_is_always_allowed() -> None:
    """Concept page: "a pod cannot block access to itself"."""
    both = policy("x", "deny-both", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    v = verdict(index_of(both), "x/a", "x/a", 80)
    assert v.allowed
    assert v.to_dict()["ingress"] == {"isolated": True, "allowed_by": [], "policies": ["x/deny-both"]}
    assert "loopback" in v.sentence


# ---------------------------------------------------------------------------- empty vs absent


def test_ingress_absent_empty_and_one_empty_rule() -> None:
    """NetworkPolicySpec.ingress: "If this field is empty then this NetworkPolicy does not allow
    any traffic"; NetworkPolicyIngressRule.from: "If this field is empty or missing, this rule
    matches all sources"."""
    absent = policy("x", "p", {"podSelector": {}})
    empty = policy("x", "p", {"podSelector": {}, "ingress": []})
    one_empty_rule = policy("x", "p", {"podSelector": {}, "ingress": [{}]})
    empty_from = policy("x", "p", {"podSelector": {}, "ingress": [{"from": [], "ports": []}]})
    assert not verdict(index_of(absent), "y/a", "x/a", 80).allowed
    assert not verdict(index_of(empty), "y/a", "x/a", 80).allowed
    assert verdict(index_of(one_empty_rule), "y/a", "x/a", 80).allowed
    assert verdict(index_of(one_empty_rule), "198.51.100.7", "x/a", 80).allowed
    assert verdict(index_of(empty_from), "198.51.100.7", "x/a", 4242, "SCTP").allowed


def test_policy_types_defaulting() -> None:
    """policyTypes: "If this field is not specified, it will default based on the existence of
    ingress or egress rules; policies that contain an egress section are assumed to affect
    egress" — an empty egress list is no egress section."""
    empty_egress = policy("x", "p", {"podSelector": {}, "egress": []})
    assert empty_egress.spec.policy_types == ("Ingress",)
    assert verdict(index_of(empty_egress), "x/a", "y/a", 80).allowed
    # policyTypes given: its rules for the other direction are ignored
    egress_only = policy("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    v = verdict(index_of(egress_only), "y/a", "x/a", 80)
    assert v.allowed and not v.ingress.isolated


def test_undefaulted_objects_are_defaulted_by_the_index() -> None:
    raw = NetworkPolicy.from_dict({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                   "metadata": {"name": "raw", "namespace": "x"},
                                   "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}})
    assert raw.spec.policy_types == ()
    ix = index_of(raw)
    assert not verdict(ix, "x/a", "y/a", 53, "UDP").allowed  # protocol defaults to TCP
    assert verdict(ix, "x/a", "y/a", 53, "TCP").allowed
    v = verdict(ix, "y/a", "x/a", 53, "TCP")  # policyTypes defaulted to [Ingress, Egress]
    assert not v.allowed and v.ingress.isolated


# ---------------------------------------------------------------------------- ports


def test_end_port_range_is_inclusive() -> None:
    """NetworkPolicyPort.endPort: "indicates that the range of ports from port to endPort if
    set, inclusive, should be allowed by the policy"."""
    p = policy("x", "range", {"podSelector": {"matchLabels": {"pod": "a"}},
                              "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}],
                                           "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]})
    ix = index_of(p)
    assert [verdict(ix, "y/b", "x/a", n).allowed for n in (31999, 32000, 32400, 32768, 32769)] == [
        False, True, True, True, False]
    assert not verdict(ix, "y/b", "x/a", 32000, "UDP").allowed
    assert not verdict(ix, "z/b", "x/a", 32000).allowed
    m = reachability(ix, 32768)
    assert m.allowed("y/c", "x/a") and not m.allowed("x/b", "x/a")


def test_named_port_resolves_in_each_destination_pod_for_egress() -> None:
    """NetworkPolicyPort.port: "a numerical or named port on a pod" — the destination pod."""
    pods = [make_pod("x", "a"),
            make_pod("y", "a", ports=[("http", 8080, "TCP")]),
            make_pod("y", "b", ports=[("http", 9090, "TCP")]),
            make_pod("y", "c", ports=[("http", 8080, "UDP")])]
    p = policy("x", "egress-http", {"podSelector": {}, "policyTypes": ["Egress"],
                                    "egress": [{"ports": [{"port": "http"}]}]})
    ix = PolicyIndex.build(cluster([p], pods=pods, namespaces=[make_namespace("x"), make_namespace("y")]))
    assert verdict(ix, "x/a", "y/a", 8080).allowed
    assert not verdict(ix, "x/a", "y/a", 9090).allowed
    assert verdict(ix, "x/a", "y/b", 9090).allowed
    assert not verdict(ix, "x/a", "y/b", 8080).allowed
    assert not verdict(ix, "x/a", "y/c", 8080, "TCP").allowed  # y/c's "http" is UDP
    assert not verdict(ix, "x/a", "y/c", 8080, "UDP").allowed  # and the policy's port is TCP
    assert not verdict(ix, "x/a", "203.0.113.1", 8080).allowed  # no pod, no name to resolve
    row = reachability(ix, 8080).row("x/a")
    assert row == {"x/a": True, "y/a": True, "y/b": False, "y/c": False}


def test_named_port_for_ingress_resolves_in_the_destination_itself() -> None:
    pods = [make_pod("x", "a", ports=[("metrics", 9100, "TCP")]), make_pod("x", "b", ports=[("metrics", 9200, "TCP")]),
            make_pod("y", "a")]
    p = policy("x", "metrics", {"podSelector": {}, "ingress": [{"ports": [{"port": "metrics"}]}]})
    ix = PolicyIndex.build(cluster([p], pods=pods, namespaces=[make_namespace("x"), make_namespace("y")]))
    assert verdict(ix, "y/a", "x/a", 9100).allowed and not verdict(ix, "y/a", "x/a", 9200).allowed
    assert verdict(ix, "y/a", "x/b", 9200).allowed and not verdict(ix, "y/a", "x/b", 9100).allowed


def test_protocol_only_port_matches_every_port_of_that_protocol() -> None:
    p = policy("x", "udp", {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP"}]}]})
    ix = index_of(p)
    assert verdict(ix, "y/a", "x/a", 1, "udp").allowed and verdict(ix, "y/a", "x/a", 65535, "UDP").allowed
    assert not verdict(ix, "y/a", "x/a", 53, "TCP").allowed


# ---------------------------------------------------------------------------- ipBlock


EXTERNAL = policy("x", "from-outside", {
    "podSelector": {"matchLabels": {"pod": "a"}},
    "ingress": [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}}]}]})


def test_ip_block_with_except_for_external_clients() -> None:
    """IPBlock: "except is a slice of CIDRs that should not be included within an IPBlock"."""
    ix = index_of(EXTERNAL)
    assert verdict(ix, "203.0.113.5", "x/a", 80).allowed
    v = verdict(ix, "203.0.113.200", "x/a", 80)
    assert not v.allowed and v.src.kind == "external"
    assert not verdict(ix, "198.51.100.1", "x/a", 80).allowed
    assert not verdict(ix, "y/a", "x/a", 80).allowed  # pods are not in that block


def test_ip_block_matches_pod_addresses_under_api_semantics() -> None:
    p = policy("x", "from-worker2-pods", {"podSelector": {"matchLabels": {"pod": "a"}},
                                          "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.2.0/24"}}]}]})
    ix = index_of(p)
    assert verdict(ix, "y/b", "x/a", 80).allowed  # y/b lives in 10.244.2.0/24
    assert not verdict(ix, "y/a", "x/a", 80).allowed  # y/a is on worker (10.244.1.0/24)


def test_pod_and_namespace_selectors_never_match_outside_addresses() -> None:
    p = policy("x", "all-pods", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    ix = index_of(p)
    assert verdict(ix, "z/c", "x/a", 80).allowed
    assert not verdict(ix, "203.0.113.9", "x/a", 80).allowed


# ---------------------------------------------------------------------------- nodes and host network


def _with_host_network() -> list[Pod]:
    pods = [make_pod(ns, n) for ns in ("x", "y") for n in ("a", "b")]
    pods.append(make_pod("kube-system", "agent", ips=[NODES["worker2"][0]], node="worker2", host_network=True))
    return pods


def _host_cluster(*policies: NetworkPolicy) -> PolicyIndex:
    nss = [make_namespace(n) for n in ("x", "y", "kube-system")]
    return PolicyIndex.build(cluster(list(policies), pods=_with_host_network(), namespaces=nss))


def test_host_network_pods_are_not_selected_by_policies() -> None:
    deny = policy("kube-system", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    ix = _host_cluster(deny)
    v = verdict(ix, "x/a", "kube-system/agent", 10250)
    assert v.allowed and not v.ingress.isolated
    assert v.dst.kind == "host" and v.dst.host_network
    assert "host-network pods are not selected" in v.sentence
    assert verdict(ix, "kube-system/agent", "x/a", 80).allowed


def test_host_network_source_is_its_node_address_matched_only_by_ip_block() -> None:
    sel = policy("x", "all-pods-all-ns", {"podSelector": {"matchLabels": {"pod": "a"}},
                                          "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {}}]}]})
    ix = _host_cluster(sel)
    assert not verdict(ix, "kube-system/agent", "x/a", 80).allowed  # x/a on worker, agent on worker2
    nodes = policy("x", "from-nodes", {"podSelector": {"matchLabels": {"pod": "a"}},
                                       "ingress": [{"from": [{"ipBlock": {"cidr": "172.18.0.0/16"}}]}]})
    ix = _host_cluster(sel, nodes)
    v = verdict(ix, "kube-system/agent", "x/a", 80)
    assert v.allowed and [str(r) for r in v.ingress.allowed_by] == ["x/from-nodes rule 0"]
    # the address a host-network pod shares with its node names the node
    assert verdict(ix, NODES["worker2"][0], "x/a", 80).src.key == "node/worker2"


def test_traffic_to_and_from_the_pods_own_node_is_always_allowed() -> None:
    """Concept page: "traffic to and from the node where a Pod is running is always allowed,
    regardless of the IP address of the Pod or the node"."""
    both = policy("x", "deny-both", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    ix = _host_cluster(both)
    # x/a runs on worker, x/b on worker2 (where kube-system/agent, host network, also runs)
    assert verdict(ix, "node/worker", "x/a", 80).allowed
    assert not verdict(ix, "node/worker2", "x/a", 80).allowed
    assert verdict(ix, "kube-system/agent", "x/b", 80).allowed
    v = verdict(ix, "x/b", "kube-system/agent", 10250)
    assert v.allowed and "own node" in v.egress.exempt
    assert not verdict(ix, "x/a", "kube-system/agent", 10250).allowed


def test_endpoint_parsing_and_errors() -> None:
    ix = index_of(DENY_ALL_X)
    assert ix.endpoint("pod/x/a").key == "x/a"
    assert ix.endpoint(pod_ip("y", "c")).key == "y/c"
    assert ix.endpoint("node/worker").ip == NODES["worker"][0]
    with pytest.raises(UnknownEndpoint):
        ix.endpoint("x/nope")
    with pytest.raises(UnknownEndpoint):
        ix.endpoint("node/nope")
    with pytest.raises(UnknownEndpoint):
        ix.endpoint("garbage")


def test_dual_stack_pods_talk_within_one_family() -> None:
    pods = [make_pod("x", "a", ips=["10.244.1.11", "fd00:10:244:1::11"]),
            make_pod("y", "a", ips=["10.244.1.21", "fd00:10:244:1::21"])]
    p = policy("x", "v6-only", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "fd00:10:244::/48"}}]}]})
    ix = PolicyIndex.build(cluster([p], pods=pods, namespaces=[make_namespace("x"), make_namespace("y")]))
    assert not verdict(ix, "y/a", "x/a", 80).allowed  # primary (IPv4) addresses
    v6 = verdict(ix, "fd00:10:244:1::21", "x/a", 80)
    assert v6.allowed and v6.dst.ip == "fd00:10:244:1::11" and v6.src.key == "y/a"


# ---------------------------------------------------------------------------- what plugins enforce


CIDR_PODS = policy("x", "from-pod-cidr", {"podSelector": {"matchLabels": {"pod": "a"}},
                                          "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16"}},
                                                                {"ipBlock": {"cidr": "203.0.113.0/24"}}]}]})


def test_cilium_ip_block_does_not_match_cluster_addresses() -> None:
    api = PolicyIndex.build(cluster([CIDR_PODS], plugin="cilium"))
    assert verdict(api, "y/a", "x/a", 80).allowed  # the API says: allowed
    real = as_enforced(api)
    assert real.mode == "cilium"
    assert not verdict(real, "y/a", "x/a", 80).allowed  # cilium: pods have identities, not CIDRs
    assert not verdict(real, "node/worker2", "x/a", 80).allowed
    assert verdict(real, "203.0.113.4", "x/a", 80).allowed  # world addresses still match
    assert reachability(api).allowed("y/b", "x/a") and not reachability(real).allowed("y/b", "x/a")
    assert "ipBlock never matches" in (enforcement_note("cilium") or "")


@pytest.mark.parametrize("plugin", ["flannel", "host"])
def test_plugins_that_enforce_nothing(plugin: str) -> None:
    api = PolicyIndex.build(cluster([DENY_ALL_X], plugin=plugin))
    assert not verdict(api, "x/b", "x/a", 80).allowed
    real = as_enforced(api)
    v = verdict(real, "x/b", "x/a", 80)
    assert v.allowed and not v.ingress.isolated
    assert v.sentence == f"x/b → x/a:80/TCP allowed: the {plugin} plugin does not enforce NetworkPolicy"
    assert all(set(r) == {"1"} for r in reachability(real).rows)
    assert not enforcement_of(plugin).enforces
    assert "does not enforce NetworkPolicy" in (enforcement_note(plugin) or "")


def test_calico_enforces_the_api() -> None:
    api = PolicyIndex.build(cluster([CIDR_PODS], plugin="calico"))
    assert as_enforced(api) is api
    assert enforcement_note("calico") is None and enforcement_of("calico").enforces
    assert enforcement_of("weave").mode == "none"


def test_sentence_lists_several_isolating_policies() -> None:
    only_c = policy("x", "allow-c", {"podSelector": {"matchLabels": {"pod": "a"}},
                                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}]}]})
    v = verdict(index_of(DENY_ALL_X, only_c), "x/b", "x/a", 80)
    assert v.sentence == ("x/b → x/a:80/TCP denied: x/a is isolated for ingress by x/allow-c and x/deny-all, "
                          "and no ingress rule selecting it allows x/b")
