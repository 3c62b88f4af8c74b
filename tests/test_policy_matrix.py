"""The reachability matrix: formats, scope, and agreement with a naive reading of the API.

The matrix is computed with bitmask algebra over a precompiled index; the oracle below is the
API reference read literally — loop over every policy, match selectors against labels, test
CIDRs with ``ipaddress`` — sharing no code with podnet.policy. Random policies over the e2e
model must get the same answer from both, and from the per-pair verdict.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podnet.api.core import Pod
from podnet.api.networking import NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort
from podnet.cluster.state import ClusterState
from podnet.policy import PolicyIndex, reachability, verdict

from test_policy_support import (
    NODES,
    cluster,
    make_namespace,
    make_pod,
    pod_ip,
    policy,
)

# ---------------------------------------------------------------------------- formats


def test_text_is_upstream_pretty_print() -> None:
    ix = PolicyIndex.build(cluster([policy("x", "deny", {"podSelector": {"matchLabels": {"pod": "a"}}})]))
    text = reachability(ix, 80, "TCP").to_text()
    lines = text.split("\n")
    assert lines[0] == "-\tx/a\tx/b\tx/c\ty/a\ty/b\ty/c\tz/a\tz/b\tz/c"
    assert lines[1] == "x/a\t.\t.\t.\t.\t.\t.\t.\t.\t."
    assert lines[2] == "x/b\tX\t.\t.\t.\t.\t.\t.\t.\t."
    assert len(lines) == 10 and not text.endswith("\n")
    assert reachability(ix).to_text("\t").startswith("\t-\tx/a")


def test_json_shape() -> None:
    ix = PolicyIndex.build(cluster([policy("x", "deny", {"podSelector": {}})]))
    d = reachability(ix, 81, "udp").to_dict()
    assert list(d) == ["port", "protocol", "pods", "matrix", "host_network_pods"]
    assert d["port"] == 81 and d["protocol"] == "UDP"
    assert d["pods"][:2] == ["x/a", "x/b"]
    assert d["matrix"]["y/a"]["x/a"] is False
    assert d["matrix"]["x/a"]["x/a"] is True
    assert d["matrix"]["x/a"]["y/a"] is True
    assert json.loads(json.dumps(d)) == d


def test_namespace_filter_and_pods_apart() -> None:
    pods = [make_pod(ns, n) for ns in ("x", "y") for n in ("a", "b")]
    pods.append(make_pod("x", "pending", ips=[]))
    done = make_pod("x", "job-done", ips=["10.244.1.99"])
    pods.append(dataclasses.replace(done, status=dataclasses.replace(done.status, phase="Succeeded")))
    pods.append(make_pod("kube-system", "agent", ips=[NODES["worker"][0]], host_network=True))
    deny = policy("x", "deny", {"podSelector": {},
                                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]})
    state = cluster([deny], pods=pods, namespaces=[make_namespace(n) for n in ("x", "y", "kube-system")])
    ix = PolicyIndex.build(state)
    m = reachability(ix)
    assert m.pods == ("x/a", "x/b", "y/a", "y/b")  # no address, or finished: no row; host network: apart
    assert m.host_network_pods == ("kube-system/agent",)
    only_x = reachability(ix, namespaces=["x"])
    assert only_x.pods == ("x/a", "x/b")
    assert only_x.to_text() == "-\tx/a\tx/b\nx/a\t.\tX\nx/b\tX\t."
    assert only_x.host_network_pods == ()
    only_y = reachability(ix, namespaces=["y"])
    assert only_y.rows == ("11", "11")  # selectors still see the whole cluster
    assert reachability(ix, namespaces=["y", "x"]).allowed("y/b", "x/a")


def test_empty_cluster() -> None:
    state = ClusterState(config=cluster().config, objects={})
    m = reachability(PolicyIndex.build(state))
    assert m.pods == () and m.to_text() == "-"


# ---------------------------------------------------------------------------- the oracle


def _types(np: NetworkPolicy) -> tuple[str, ...]:
    return np.spec.policy_types or (("Ingress", "Egress") if np.spec.egress else ("Ingress",))


def _selects(np: NetworkPolicy, pod: Pod) -> bool:
    return pod.metadata.namespace == np.metadata.namespace and np.spec.pod_selector.compile().matches(pod.labels)


def _peer(np: NetworkPolicy, peer: NetworkPolicyPeer, other: Pod, ns_labels: Mapping[str, Mapping[str, str]]) -> bool:
    if peer.ip_block is not None:
        ip = ipaddress.ip_address(other.ips[0])
        cidr = ipaddress.ip_network(peer.ip_block.cidr, strict=False)
        return ip in cidr and not any(ip in ipaddress.ip_network(e, strict=False) for e in peer.ip_block.except_)
    if peer.namespace_selector is not None:
        ns_ok = peer.namespace_selector.compile().matches(ns_labels[other.metadata.namespace])
    else:
        ns_ok = other.metadata.namespace == np.metadata.namespace
    pod_ok = peer.pod_selector is None or peer.pod_selector.compile().matches(other.labels)
    return ns_ok and pod_ok


def _port(p: NetworkPolicyPort, dst: Pod, port: int, proto: str) -> bool:
    if (p.protocol or "TCP") != proto:
        return False
    if p.port is None:
        return True
    if isinstance(p.port, str):
        return any(c.name == p.port and (c.protocol or "TCP") == proto and c.container_port == port
                   for c in dst.spec.all_ports())
    if p.end_port is not None:
        return p.port <= port <= p.end_port
    return p.port == port


def oracle(state: ClusterState, src: Pod, dst: Pod, port: int, proto: str) -> bool:
    if src.ref == dst.ref:
        return True
    ns_labels = {n.name: n.labels for n in state.namespaces}
    policies = state.typed(NetworkPolicy)

    def direction(kind: str, me: Pod, other: Pod) -> bool:
        mine = [np for np in policies if kind in _types(np) and _selects(np, me)]
        if not mine:
            return True
        for np in mine:
            for rule in (np.spec.egress if kind == "Egress" else np.spec.ingress):
                peers = rule.to if kind == "Egress" else rule.from_  # type: ignore[union-attr]
                if (not peers or any(_peer(np, pr, other, ns_labels) for pr in peers)) and (
                    not rule.ports or any(_port(p, dst, port, proto) for p in rule.ports)
                ):
                    return True
        return False

    return direction("Egress", src, dst) and direction("Ingress", dst, src)


# ---------------------------------------------------------------------------- random policies

_POD_SELECTORS: list[dict[str, Any]] = [
    {},
    {"matchLabels": {"pod": "a"}},
    {"matchLabels": {"pod": "b"}},
    {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["a", "c"]}]},
    {"matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["b"]}]},
    {"matchExpressions": [{"key": "pod", "operator": "Exists"}]},
    {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
    {"matchLabels": {"pod": "nobody"}},
]
_NS_SELECTORS: list[dict[str, Any]] = [
    {},
    {"matchLabels": {"ns": "y"}},
    {"matchLabels": {"kubernetes.io/metadata.name": "z"}},
    {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]},
]
_IP_BLOCKS: list[dict[str, Any]] = [
    {"cidr": "10.244.1.0/24"},
    {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]},
    {"cidr": f"{pod_ip('y', 'b')}/32"},
    {"cidr": "10.0.0.0/8", "except": [f"{pod_ip('x', 'a')}/32", f"{pod_ip('z', 'c')}/32"]},
    {"cidr": "192.0.2.0/24"},
]
_PORTS: list[dict[str, Any]] = [
    {"port": 80},
    {"port": 81, "protocol": "UDP"},
    {"protocol": "UDP"},
    {"port": 80, "endPort": 81},
    {"port": "serve-81-tcp"},
    {"port": "serve-80-tcp"},
    {"port": "serve-80-udp", "protocol": "UDP"},
    {"port": 81, "protocol": "SCTP"},
]

peers = st.one_of(
    st.builds(lambda p: {"podSelector": p}, st.sampled_from(_POD_SELECTORS)),
    st.builds(lambda n: {"namespaceSelector": n}, st.sampled_from(_NS_SELECTORS)),
    st.builds(lambda p, n: {"podSelector": p, "namespaceSelector": n},
              st.sampled_from(_POD_SELECTORS), st.sampled_from(_NS_SELECTORS)),
    st.builds(lambda b: {"ipBlock": b}, st.sampled_from(_IP_BLOCKS)),
)
rules = st.fixed_dictionaries({}, optional={
    "peers": st.lists(peers, max_size=2),
    "ports": st.lists(st.sampled_from(_PORTS), max_size=2),
})
specs = st.fixed_dictionaries(
    {"podSelector": st.sampled_from(_POD_SELECTORS)},
    optional={
        "policyTypes": st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]),
        "ingress": st.lists(rules, max_size=2),
        "egress": st.lists(rules, max_size=2),
    },
)


def _policy(ns: str, i: int, spec: dict[str, Any]) -> NetworkPolicy:
    out: dict[str, Any] = {"podSelector": spec["podSelector"]}
    if "policyTypes" in spec:
        out["policyTypes"] = spec["policyTypes"]
    for kind, word in (("ingress", "from"), ("egress", "to")):
        if kind in spec:
            out[kind] = [{**({word: r["peers"]} if "peers" in r else {}),
                          **({"ports": r["ports"]} if "ports" in r else {})} for r in spec[kind]]
    return policy(ns, f"p{i}", out)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["x", "y", "z"]), specs), max_size=4))
def test_matrix_and_verdicts_agree_with_a_literal_reading_of_the_api(
    drawn: list[tuple[str, dict[str, Any]]],
) -> None:
    # pods c name their ports the other way round, so a named port resolves differently
    # depending on the destination pod
    swapped = [("serve-80-tcp", 81, "TCP"), ("serve-81-tcp", 80, "TCP"), ("serve-80-udp", 81, "UDP")]
    pods = [make_pod(ns, n, ports=swapped if n == "c" else None) for ns in "xyz" for n in "abc"]
    state = cluster([_policy(ns, i, spec) for i, (ns, spec) in enumerate(drawn)], pods=pods)
    ix = PolicyIndex.build(state)
    by_name = {p.qualified_name: p for p in state.pods()}
    for port, proto in ((80, "TCP"), (81, "TCP"), (80, "UDP"), (81, "UDP"), (81, "SCTP")):
        m = reachability(ix, port, proto)
        for s in m.pods:
            for d in m.pods:
                want = oracle(state, by_name[s], by_name[d], port, proto)
                assert m.allowed(s, d) == want, (s, d, port, proto, m.to_text())
                assert verdict(ix, s, d, port, proto).allowed == want
