"""The upstream NetworkPolicy e2e suite's truth tables, asserted against podnet's matrix.

Each case is one ``f.It(...)`` of kubernetes/test/e2e/network/netpol/network_policy.go (the
3 namespaces × 3 pods version of the suite), named by its upstream title: the same policies
(``GenNetworkPolicyWithNameAndPodMatchLabel`` + ``SetSpecIngressRules``/``SetSpecEgressRules``
written out as manifests), the same probes (port, protocol) and the same expected
``Reachability``, built with the same Expect* calls. Steps of a test that update or add
policies (or labels) are separate steps with the objects as they are after the update.

Expected tables come from upstream, not from podnet's output; the only podnet addition is
``allow_loopback()`` (upstream ignores loopback pairs; podnet defines them as allowed).
Every case also checks that a verdict for each pair agrees with the matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest

from podnet.api.networking import NetworkPolicy
from podnet.cluster.state import ClusterState
from podnet.policy import PolicyIndex, reachability, verdict

from test_policy_support import (
    ANY,
    Reachability,
    cluster,
    make_namespace,
    make_pod,
    ns_,
    pod_,
    pod_ip,
    policy,
)

NS_LABEL = "kubernetes.io/metadata.name"


@dataclass
class Step:
    port: int
    protocol: str
    expect: Reachability
    #: the cluster for this step (default: the 3×3 model with the case's policies)
    state: Callable[[list[NetworkPolicy]], ClusterState] | None = None
    policies: list[NetworkPolicy] | None = None  # overrides the case's policies


@dataclass
class Case:
    title: str
    policies: list[NetworkPolicy]
    steps: list[Step] = field(default_factory=list)


def R() -> Reachability:
    return Reachability(default=True)


def pod_match(ns: str, name: str, labels: dict[str, str], **spec: object) -> NetworkPolicy:
    """GenNetworkPolicyWithNameAndPodMatchLabel."""
    return policy(ns, name, {"podSelector": {"matchLabels": labels}, **spec})


def ingress(*rules: Mapping[str, object]) -> dict[str, object]:
    """SetSpecIngressRules(rules...): policyTypes [Ingress] and the rules."""
    return {"policyTypes": ["Ingress"], "ingress": list(rules)}


def egress(*rules: Mapping[str, object]) -> dict[str, object]:
    return {"policyTypes": ["Egress"], "egress": list(rules)}


def both(ing: list[dict[str, object]], eg: list[dict[str, object]]) -> dict[str, object]:
    return {"policyTypes": ["Ingress", "Egress"], "ingress": ing, "egress": eg}


CASES: list[Case] = []


def case(title: str, policies: list[NetworkPolicy], *steps: Step) -> None:
    CASES.append(Case(title, policies, list(steps)))


# ---------------------------------------------------------------------------- the cases

r = R(); r.expect_peer(ANY, ns_("x"), False)
case("should support a 'default-deny-ingress' policy",
     [policy("x", "deny-ingress", {"podSelector": {}, **ingress()})], Step(80, "TCP", r))

r = R(); r.expect_peer(ANY, ns_("x"), False); r.expect_peer(ns_("x"), ANY, False)
case("should support a 'default-deny-all' policy",
     [policy("x", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})], Step(80, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False); r.expect("x/b", "x/a", True)
case("should enforce policy to allow traffic from pods within server namespace based on PodSelector",
     [pod_match("x", "x-a-allows-x-b", {"pod": "a"}, **ingress({"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_all_ingress("x/a", True); r.expect_all_ingress("x/b", False); r.expect_all_ingress("x/c", False)
case("should enforce policy to allow ingress traffic for a target",
     [policy("x", "deny-all", {"podSelector": {}, **ingress()}),
      pod_match("x", "allow-all-to-a", {"pod": "a"}, **ingress({"from": [{"podSelector": {}, "namespaceSelector": {}}]}))],
     Step(80, "TCP", r))

case("should enforce policy to allow ingress traffic from pods in all namespaces",
     [pod_match("x", "allow-from-another-ns", {"pod": "a"}, **ingress({"from": [{"namespaceSelector": {"matchLabels": {}}}]}))],
     Step(80, "TCP", R()))

r = R(); r.expect_peer(ns_("x"), pod_("x", "a"), False); r.expect_peer(ns_("z"), pod_("x", "a"), False)
case("should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
     [pod_match("x", "allow-client-a-via-ns-selector", {"pod": "a"},
                **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False); r.expect("x/b", "x/a", True)
case("should enforce policy based on PodSelector with MatchExpressions",
     [pod_match("x", "x-a-allows-x-b", {"pod": "a"},
                **ingress({"from": [{"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b"]}]}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_peer(ns_("x"), pod_("x", "a"), False); r.expect_peer(ns_("z"), pod_("x", "a"), False)
case("should enforce policy based on NamespaceSelector with MatchExpressions",
     [pod_match("x", "allow-ns-y-match-selector", {"pod": "a"},
                **ingress({"from": [{"namespaceSelector": {"matchExpressions": [
                    {"key": NS_LABEL, "operator": "In", "values": ["y"]}]}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect("x/a", "x/a", False); r.expect("x/c", "x/a", False)
case("should enforce policy based on PodSelector or NamespaceSelector",
     [pod_match("x", "allow-ns-y-match-selector", {"pod": "a"},
                **ingress({"from": [
                    {"namespaceSelector": {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]}},
                    {"podSelector": {"matchLabels": {"pod": "b"}}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False); r.expect("y/b", "x/a", True); r.expect("z/b", "x/a", True)
case("should enforce policy based on PodSelector and NamespaceSelector",
     [pod_match("x", "allow-ns-y-podselector-and-nsselector", {"pod": "a"},
                **ingress({"from": [{
                    "namespaceSelector": {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]},
                    "podSelector": {"matchLabels": {"pod": "b"}}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_peer(ns_("x"), pod_("x", "a"), False); r.expect("y/a", "x/a", False); r.expect("z/a", "x/a", False)
case("should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
     [pod_match("x", "allow-ns-y-z-pod-b-c", {"pod": "a"},
                **ingress({"from": [{
                    "namespaceSelector": {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]},
                    "podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False); r.expect("x/b", "x/a", True); r.expect("x/c", "x/a", True)
case("should enforce policy based on any PodSelectors",
     [pod_match("x", "allow-ns-x-pod-b-c", {"pod": "a"},
                **ingress({"from": [{"podSelector": {"matchLabels": {"pod": "b"}}},
                                    {"podSelector": {"matchLabels": {"pod": "c"}}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False); r.expect("y/a", "x/a", True)
case("should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
     [pod_match("x", "allow-ns-y-pod-a-via-namespace-pod-selector", {"pod": "a"},
                **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}},
                                     "podSelector": {"matchLabels": {"pod": "a"}}}]}))],
     Step(80, "TCP", r))

_port81_from_y = pod_match("x", "allow-client-a-via-ns-selector", {"pod": "a"},
                           **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}],
                                      "ports": [{"port": 81, "protocol": "TCP"}]}))
r_allow = R()
r_allow.expect_peer(ns_("x"), pod_("x", "a"), False)
r_allow.expect_peer(ns_("y"), pod_("x", "a"), True)
r_allow.expect_peer(ns_("z"), pod_("x", "a"), False)
case("should enforce policy based on Ports", [_port81_from_y], Step(81, "TCP", r_allow))

r_deny = R(); r_deny.expect_all_ingress("x/a", False)
_port80_from_y = pod_match("x", "allow-client-a-via-ns-selector-80", {"pod": "a"},
                           **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}],
                                      "ports": [{"port": 80, "protocol": "TCP"}]}))
case("should enforce multiple, stacked policies with overlapping podSelectors",
     [_port81_from_y],
     Step(81, "TCP", r_allow),
     Step(80, "TCP", r_deny),
     Step(80, "TCP", r_allow, policies=[_port81_from_y, _port80_from_y]))

case("should support allow-all policy",
     [pod_match("x", "allow-all", {}, **ingress({}))], Step(80, "TCP", R()), Step(81, "TCP", R()))

r = R(); r.expect_peer(ANY, ns_("x"), False)
case("should allow ingress access on one named port",
     [pod_match("x", "allow-all", {}, **ingress({"ports": [{"port": "serve-81-tcp"}]}))],
     Step(81, "TCP", R()), Step(80, "TCP", r))

r = R(); r.expect_peer(ns_("x"), pod_("x", "a"), False); r.expect_peer(ns_("z"), pod_("x", "a"), False)
r_fail = R(); r_fail.expect_all_ingress("x/a", False)
case("should allow ingress access from namespace on one named port",
     [pod_match("x", "allow-client-a-via-ns-selector-80", {"pod": "a"},
                **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}],
                           "ports": [{"port": "serve-80-tcp", "protocol": "TCP"}]}))],
     Step(80, "TCP", r), Step(81, "TCP", r_fail))

r = R(); r.expect_peer(ns_("x"), ANY, False)
case("should allow egress access on one named port",
     [pod_match("x", "allow-egress", {}, **egress({"ports": [{"port": "serve-80-tcp"}]}))],
     Step(80, "TCP", R()), Step(81, "TCP", r))

r = R(); r.expect_peer(ANY, ns_("x"), False)
case("should enforce updated policy",
     [pod_match("x", "allow-all-mutate-to-deny-all", {}, **ingress({}))],
     Step(81, "TCP", R()),
     Step(81, "TCP", r, policies=[pod_match("x", "allow-all-mutate-to-deny-all", {}, **ingress())]))


def _y_labelled(policies: list[NetworkPolicy]) -> ClusterState:
    nss = [make_namespace("x"), make_namespace("y", {"ns2": "updated"}), make_namespace("z")]
    return cluster(policies, namespaces=nss)


r1 = R(); r1.expect_all_ingress("x/a", False)
r2 = R(); r2.expect_all_ingress("x/a", False); r2.expect_peer(ns_("y"), ANY, True)
case("should allow ingress access from updated namespace",
     [pod_match("x", "allow-client-a-via-ns-selector", {"pod": "a"},
                **ingress({"from": [{"namespaceSelector": {"matchLabels": {"ns2": "updated"}}}]}))],
     Step(80, "TCP", r1), Step(80, "TCP", r2, state=_y_labelled))


def _pods_with(ns: str, name: str, labels: dict[str, str]) -> Callable[[list[NetworkPolicy]], ClusterState]:
    def build(policies: list[NetworkPolicy]) -> ClusterState:
        pods = [make_pod(n, p, labels=labels if (n, p) == (ns, name) else None)
                for n in ("x", "y", "z") for p in ("a", "b", "c")]
        return cluster(policies, pods=pods)
    return build


r1 = R(); r1.expect_all_ingress("x/a", False)
r2 = R(); r2.expect_all_ingress("x/a", False); r2.expect("x/b", "x/a", True)
case("should allow ingress access from updated pod",
     [pod_match("x", "allow-client-a-via-pod-selector", {"pod": "a"},
                **ingress({"from": [{"podSelector": {"matchLabels": {"pod": "b", "pod2": "updated"}}}]}))],
     Step(80, "TCP", r1), Step(80, "TCP", r2, state=_pods_with("x", "b", {"pod": "b", "pod2": "updated"})))

r = R(); r.expect_peer(ns_("y"), ns_("x"), False); r.expect_peer(ns_("z"), ns_("x"), False)
case("should deny ingress from pods on other namespaces",
     [policy("x", "deny-empty-policy", {"podSelector": {}, **ingress({"from": [{"podSelector": {"matchLabels": {}}}]})})],
     Step(80, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False)
case("should deny ingress access to updated pod",
     [policy("x", "deny-ingress-via-label-selector", {"podSelector": {"matchLabels": {"target": "isolated"}}, **ingress()})],
     Step(80, "TCP", R()),
     Step(80, "TCP", r, state=_pods_with("x", "a", {"pod": "a", "target": "isolated"})))

r = R(); r.expect_all_egress("x/a", False)
case("should deny egress from pods based on PodSelector",
     [policy("x", "deny-egress-pod-a", {"podSelector": {"matchLabels": {"pod": "a"}}, **egress()})], Step(80, "TCP", r))

r = R(); r.expect_peer(ns_("x"), ANY, False)
case("should deny egress from all pods in a namespace",
     [policy("x", "deny-egress-ns-x", {"podSelector": {}, **egress()})], Step(80, "TCP", r))

r80 = R(); r80.expect_all_ingress("x/a", False); r80.expect("x/b", "x/a", True)
r81 = R(); r81.expect_all_ingress("x/a", False); r81.expect_all_egress("x/a", False); r81.expect("x/b", "x/a", True)
case("should work with Ingress, Egress specified together",
     [pod_match("x", "allow-client-a-via-pod-selector", {"pod": "a"},
                **both([{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}], [{"ports": [{"port": 80}]}]))],
     Step(80, "TCP", r80), Step(81, "TCP", r81))

_from_xa = {"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "x"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]}
r = R()
r.expect_peer(pod_("x", "a"), ANY, False)
r.expect_peer(ANY, pod_("y", "a"), False)
r.expect_peer(pod_("x", "a"), pod_("y", "a"), True)
r.expect_peer(ANY, pod_("y", "b"), False)
case("should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
     [pod_match("x", "allow-to-ns-y-pod-a", {"pod": "a"},
                **egress({"to": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]})),
      pod_match("y", "allow-from-xa-on-ya-match-selector", {"pod": "a"}, **ingress(_from_xa)),
      pod_match("y", "allow-from-xa-on-yb-match-selector", {"pod": "b"}, **ingress(_from_xa))],
     Step(80, "TCP", r))

r = R(); r.expect_all_egress("x/a", False); r.expect("x/a", "y/a", True)
case("should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
     [pod_match("x", "allow-to-ns-y-pod-a", {"pod": "a"},
                **egress({"to": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_peer(ANY, pod_("x", "a"), False)
case("should enforce ingress policy allowing any port traffic to a server on a specific protocol",
     [pod_match("x", "allow-ingress-by-proto", {"pod": "a"}, **ingress({"ports": [{"protocol": "TCP"}]}))],
     Step(80, "TCP", R()), Step(80, "UDP", r))

_only80 = pod_match("x", "allow-ingress-port-80", {}, **ingress({"ports": [{"port": 80}]}))
r = R(); r.expect_peer(ANY, ns_("x"), False)
case("should enforce multiple ingress policies with ingress allow-all policy taking precedence",
     [_only80], Step(81, "TCP", r),
     Step(81, "TCP", R(), policies=[_only80, pod_match("x", "allow-ingress", {}, **ingress({}))]))

_eg80 = pod_match("x", "allow-egress-port-80", {}, **egress({"ports": [{"port": 80}]}))
r = R(); r.expect_peer(ns_("x"), ANY, False)
case("should enforce multiple egress policies with egress allow-all policy taking precedence",
     [_eg80], Step(81, "TCP", r),
     Step(81, "TCP", R(), policies=[_eg80, pod_match("x", "allow-egress", {}, **egress({}))]))

r = R(); r.expect_peer(ns_("x"), ANY, False); r.expect_peer(ANY, ns_("x"), False)
case("should stop enforcing policies after they are deleted",
     [policy("x", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})],
     Step(80, "TCP", r), Step(80, "TCP", R(), policies=[]))

r = R(); r.expect_all_egress("x/a", False); r.expect("x/a", "y/b", True)
case("should allow egress access to server in CIDR block",
     [pod_match("x", "allow-client-a-via-cidr-egress-rule", {"pod": "a"},
                **egress({"to": [{"ipBlock": {"cidr": f"{pod_ip('y', 'b')}/32"}}]}))],
     Step(80, "TCP", r))

_except = pod_match("x", "allow-client-a-via-cidr-egress-rule", {"pod": "a"},
                    **egress({"to": [{"ipBlock": {"cidr": f"{pod_ip('x', 'a')}/4",
                                                  "except": [f"{pod_ip('x', 'b')}/32"]}}]}))
r = R(); r.expect("x/a", "x/b", False)
case("should enforce except clause while egress access to server in CIDR block", [_except], Step(80, "TCP", r))

r2 = R(); r2.expect_all_egress("x/a", False); r2.expect("x/a", "x/b", True)
case("should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
     [_except], Step(80, "TCP", r),
     # UpdatePolicy with the same name: the /32 policy replaces the except one
     Step(80, "TCP", r2, policies=[pod_match("x", "allow-client-a-via-cidr-egress-rule", {"pod": "a"},
                                             **egress({"to": [{"ipBlock": {"cidr": f"{pod_ip('x', 'b')}/32"}}]}))]))

_allow_eg = policy("x", "allow-egress-for-target", {"podSelector": {"matchLabels": {"pod": "a"}}, **egress({})})
r = R(); r.expect_all_ingress("x/a", False)
case("should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector",
     [_allow_eg], Step(80, "TCP", R()),
     Step(80, "TCP", r, policies=[_allow_eg, policy("x", "deny-ingress-via-label-selector",
                                                    {"podSelector": {"matchLabels": {"pod": "a"}}, **ingress()})]))

r = R(); r.expect_peer(ANY, ns_("x"), False)
case("should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
     [policy("x", "deny-ingress", {"podSelector": {}, **ingress()}),
      pod_match("x", "allow-only-sctp-ingress-on-port-81", {"pod": "a"}, **ingress({"ports": [{"port": 81, "protocol": "SCTP"}]}))],
     Step(81, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False)
case("should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
     [pod_match("x", "allow-only-sctp-ingress-on-port-80", {"pod": "a"}, **ingress({"ports": [{"port": 80, "protocol": "SCTP"}]}))],
     Step(81, "TCP", r))

r = R(); r.expect_all_ingress("x/a", False)
case("should not allow access by TCP when a policy specifies only UDP",
     [pod_match("x", "allow-only-udp-ingress-on-port-81", {"pod": "a"}, **ingress({"ports": [{"port": 81, "protocol": "UDP"}]}))],
     Step(81, "TCP", r))

r = R(); r.expect_peer(ns_("x"), pod_("x", "a"), False); r.expect_peer(ns_("z"), pod_("x", "a"), False)
case("should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label",
     [pod_match("x", "allow-client-a-via-ns-selector-for-immutable-ns-label", {"pod": "a"},
                **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}]}))],
     Step(80, "TCP", r))

r = R(); r.expect_peer(pod_("x", "a"), ns_("y"), False)
case("should enforce policy based on NamespaceSelector with MatchExpressions using default ns label",
     [pod_match("x", "allow-ns-y-match-selector-for-immutable-ns-label", {"pod": "a"},
                **egress({"to": [{"namespaceSelector": {"matchExpressions": [
                    {"key": NS_LABEL, "operator": "NotIn", "values": ["y"]}]}}]}))],
     Step(80, "TCP", r))

# "NetworkPolicy between server and client using UDP" / "… using SCTP" contexts
for _proto in ("UDP", "SCTP"):
    r = R(); r.expect_peer(ANY, ns_("x"), False)
    case(f"[{_proto}] should support a 'default-deny-ingress' policy",
         [policy("x", "deny-all", {"podSelector": {}, **ingress()})], Step(80, _proto, r))
    r = R(); r.expect_peer(ns_("x"), pod_("x", "a"), False); r.expect_peer(ns_("z"), pod_("x", "a"), False)
    case(f"[{_proto}] should enforce policy based on Ports",
         [pod_match("x", "allow-ingress-on-port-81-ns-x", {"pod": "a"},
                    **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}}}],
                               "ports": [{"port": 81, "protocol": _proto}]}))],
         Step(81, _proto, r))
    r = R(); r.expect_all_ingress("x/a", False); r.expect("y/a", "x/a", True)
    case(f"[{_proto}] should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
         [pod_match("x", "allow-ns-y-pod-a-via-namespace-pod-selector", {"pod": "a"},
                    **ingress({"from": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "y"}},
                                         "podSelector": {"matchLabels": {"pod": "a"}}}]}))],
         Step(80, _proto, r))


# ---------------------------------------------------------------------------- the assertion


def _check(state: ClusterState, step: Step) -> None:
    index = PolicyIndex.build(state)
    matrix = reachability(index, step.port, step.protocol)
    expected = step.expect.allow_loopback()
    assert matrix.to_text() == expected.pretty_print(), (
        f"\nexpected:\n{expected.pretty_print()}\n\nobserved:\n{matrix.to_text()}"
    )
    for src in matrix.pods:
        for dst in matrix.pods:
            v = verdict(index, src, dst, step.port, step.protocol)
            assert v.allowed == matrix.allowed(src, dst), v.sentence


@pytest.mark.parametrize(
    ("case_", "step_no"),
    [(c, i) for c in CASES for i in range(len(c.steps))],
    ids=[f"{c.title} [step {i + 1}]" for c in CASES for i in range(len(c.steps))],
)
def test_upstream_truth_table(case_: Case, step_no: int) -> None:
    step = case_.steps[step_no]
    policies = step.policies if step.policies is not None else case_.policies
    state = step.state(policies) if step.state is not None else cluster(policies)
    _check(state, step)


def test_every_upstream_case_is_here() -> None:
    titles = [c.title for c in CASES]
    assert len(set(titles)) == len(titles)
    # 42 in "NetworkPolicy between server and client", 3 each in the UDP and SCTP contexts
    assert len(CASES) == 42 + 3 + 3
    assert "should support a 'default-deny-ingress' policy" in titles
