"""Lint rules for NetworkPolicy: isolation by default, policies and peers that select nothing,
named ports nothing declares, rules a policyTypes list switches off, and DNS blocked by egress.

Everything is judged with :class:`~podnet.policy.index.PolicyIndex` in ``api`` mode — what
networking.k8s.io/v1 specifies. Whether the cluster's plugin enforces it at all is the plugin
layer's finding (:mod:`podnet.sim.lint_rules_plugins`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from podnet.api.core import Pod, Service
from podnet.api.networking import NetworkPolicy, NetworkPolicyPeer
from podnet.api.selectors import Selector
from podnet.policy.engine import verdict
from podnet.policy.index import (
    NAMESPACE_NAME_LABEL,
    CompiledPolicy,
    IndexedPod,
    PolicyIndex,
    RuleMatch,
)
from podnet.sim.findings import Finding, ObjectId, rule
from podnet.sim.lint import LintContext, checker, stable_labels

NOT_ISOLATED = rule(
    "namespace-not-isolated", "warning",
    "A namespace has no default-deny NetworkPolicy",
    "Best practice is to isolate every namespace by default — a NetworkPolicy with an empty "
    "podSelector and policyTypes [Ingress, Egress] — and then allow exactly what the app needs. "
    "Without it, a pod no policy selects accepts connections from every pod of the cluster, and "
    "every workload added later starts open.",
    "policy",
)
SELECTS_NO_PODS = rule(
    "policy-selects-no-pods", "warning",
    "A NetworkPolicy's podSelector matches no pod",
    "A NetworkPolicy only acts on the pods its podSelector picks in its own namespace. Matching "
    "none, it isolates nothing and allows nothing: it has no effect at all.",
    "policy",
)
PEER_SELECTS_NOTHING = rule(
    "policy-peer-selects-nothing", "warning",
    "A NetworkPolicy peer matches no pod",
    "A from/to peer with a podSelector and/or namespaceSelector names pods. Matching none, it "
    "allows nothing — typically a namespaceSelector on a label the namespace does not carry "
    "(namespaces carry kubernetes.io/metadata.name=<name>, not name=<name>).",
    "policy",
)
PORT_NAME_UNKNOWN = rule(
    "policy-port-name-unknown", "warning",
    "A NetworkPolicy port name is declared by no destination pod",
    "A named port in a NetworkPolicy rule is resolved in the destination pod's containers. When no "
    "destination pod declares the name (with that protocol), the rule matches no port: it "
    "allows nothing.",
    "policy",
)
RULES_IGNORED = rule(
    "policy-rules-ignored", "warning",
    "A NetworkPolicy has rules for a direction its policyTypes leaves out",
    "policyTypes says which directions a policy acts on. Egress rules in a policy whose "
    "policyTypes lacks Egress (or ingress rules without Ingress) are ignored entirely.",
    "policy",
)
BLOCKS_DNS = rule(
    "policy-blocks-dns", "error",
    "Egress policy blocks cluster DNS",
    "The classic NetworkPolicy outage: a pod isolated for egress may only send what an egress rule "
    "allows, and DNS is traffic too. Without a rule allowing UDP and TCP 53 to the kube-dns pods "
    "every name lookup times out, so the pod cannot reach anything by name even where policy "
    "allows the connection itself. TCP 53 is needed for answers too large for UDP.",
    "policy",
)

DNS_RULE_FIX = (
    "add an egress rule allowing DNS: to: [{namespaceSelector: {matchLabels: "
    "{kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], "
    "ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]"
)


def _policies(ctx: LintContext) -> list[tuple[NetworkPolicy, CompiledPolicy]]:
    index = ctx.policy_index
    out = []
    for cp in index.policies:
        if ctx.is_users(cp.policy):
            out.append((cp.policy, cp))
    return out


# ------------------------------------------------------------------------------------ isolation


def _default_deny(cp: CompiledPolicy) -> bool:
    return cp.pod_selector.is_empty() and cp.ingress


@checker("policy")
def check_isolation(ctx: LintContext) -> Iterator[Finding]:
    index = ctx.policy_index
    pods_by_ns: dict[str, list[IndexedPod]] = defaultdict(list)
    for ip in index.pods:
        if not ip.pod.finished:
            pods_by_ns[ip.pod.metadata.namespace].append(ip)
    for ns in ctx.user_namespaces:
        pods = pods_by_ns.get(ns, [])
        if not pods:
            continue
        policies = [index.policies[i] for i in index.policies_by_namespace.get(ns, ())]
        if any(_default_deny(cp) for cp in policies):
            continue
        open_pods = [p.pod for p in pods if not p.ingress_policies]
        nsobj = ctx.namespace(ns)
        oid = ObjectId.of(nsobj) if nsobj is not None else ObjectId("Namespace", "", ns)
        field = "metadata.name" if nsobj is not None and ctx.is_users(nsobj) else ""
        fix = (f"add a NetworkPolicy in {ns} with podSelector: {{}} and policyTypes: [Ingress, Egress] "
               "and no rules (deny by default), then policies allowing exactly what the app needs — "
               "including egress to kube-dns on UDP and TCP 53")
        if open_pods:
            yield NOT_ISOLATED.finding(
                oid, field,
                f"namespace {ns} has no default-deny NetworkPolicy: {ctx.workload_label(open_pods)} "
                "are selected by no ingress policy and accept connections from every pod of the "
                "cluster (and from outside wherever a Service exposes them)",
                fix,
            )
        else:
            yield NOT_ISOLATED.finding(
                oid, field,
                f"namespace {ns} has no default-deny NetworkPolicy: its pods are isolated one "
                "policy at a time today, but any workload added later accepts connections from "
                "every pod of the cluster",
                fix, severity="info",
            )


# ------------------------------------------------------------------------------------ selection


def _ns_pod_labels(ctx: LintContext, ns: str) -> str:
    pods = ctx.live_pods(ns)
    groups = sorted({
        ",".join(f"{k}={v}" for k, v in sorted(stable_labels(p.metadata.labels).items()))
        for p in pods if not p.spec.host_network
    })
    return "; ".join(groups[:4]) + (" …" if len(groups) > 4 else "") if groups else "none"


@checker("policy")
def check_selects_nothing(ctx: LintContext) -> Iterator[Finding]:
    for np, cp in _policies(ctx):
        if cp.pod_selector.is_empty() or cp.selected:
            continue
        ns = cp.namespace
        yield SELECTS_NO_PODS.finding(
            np, "spec.podSelector",
            f'NetworkPolicy "{cp.key}" selects no pod (podSelector {cp.pod_selector} matches no pod '
            f"in namespace {ns}): it isolates nothing and allows nothing — it has no effect",
            f"set spec.podSelector to the labels of the pods it is meant for (pods in {ns}: "
            f"{_ns_pod_labels(ctx, ns)})",
        )


def _peer_hint(ctx: LintContext, policy_ns: str, peer: NetworkPolicyPeer) -> str:
    hints: list[str] = []
    namespaces = {n.metadata.name: n for n in ctx.state.namespaces}
    if peer.namespace_selector is not None:
        sel = peer.namespace_selector.compile()
        matched = [n for n, o in namespaces.items()
                   if sel.matches({**o.metadata.labels, NAMESPACE_NAME_LABEL: n})]
        if not matched:
            for key, value in peer.namespace_selector.match_labels.items():
                if value in namespaces and key != NAMESPACE_NAME_LABEL:
                    hints.append(f"namespace {value} exists but has no label {key}={value}: select it "
                                 f"with {NAMESPACE_NAME_LABEL}: {value}")
            if not hints:
                hints.append(f"no namespace has labels {sel}")
        elif peer.pod_selector is not None:
            pods = [p for n in matched for p in ctx.live_pods(n) if not p.spec.host_network]
            if not pods:
                hints.append(f"the selected namespaces ({', '.join(matched[:4])}) run no pod")
            else:
                hints.append(f"no pod in {', '.join(matched[:4])} has labels {peer.pod_selector.compile()}")
        else:
            hints.append(f"the selected namespaces ({', '.join(matched[:4])}) run no pod")
    elif peer.pod_selector is not None:
        hints.append(f"no pod in namespace {policy_ns} has labels {peer.pod_selector.compile()} "
                     f"(pods there: {_ns_pod_labels(ctx, policy_ns)}); a podSelector alone only "
                     "names pods of the policy's own namespace — add a namespaceSelector for others")
    return "; ".join(hints)


@checker("policy")
def check_peers(ctx: LintContext) -> Iterator[Finding]:
    for np, cp in _policies(ctx):
        sides: list[tuple[str, tuple[RuleMatch, ...], list[tuple[NetworkPolicyPeer, ...]]]] = [
            ("ingress", cp.ingress_rules, [r.from_ for r in np.spec.ingress]),
            ("egress", cp.egress_rules, [r.to for r in np.spec.egress]),
        ]
        for direction, rules, raw_rules in sides:
            word = "from" if direction == "ingress" else "to"
            for r, raw_peers in zip(rules, raw_rules):
                for j, (peer, raw_peer) in enumerate(zip(r.peers, raw_peers)):
                    if peer.ip_block is not None or peer.mask or peer.text == "<empty peer>":
                        continue
                    yield PEER_SELECTS_NOTHING.finding(
                        np, f"spec.{direction}[{r.index}].{word}[{j}]",
                        f'NetworkPolicy "{cp.key}" {direction} rule {r.index}: the peer '
                        f"{peer.text} matches no pod, so it allows "
                        f"{'nothing in' if direction == 'ingress' else 'nothing out'}"
                        + ("" if len(r.peers) > 1 else " — the rule allows nothing at all"),
                        _peer_hint(ctx, cp.namespace, raw_peer) or "fix the selectors",
                    )


def _named_mask(index: PolicyIndex, name: str, protocol: str) -> int:
    mask = 0
    for m in index.named_port_masks.get((name, protocol), {}).values():
        mask |= m
    return mask


@checker("policy")
def check_port_names(ctx: LintContext) -> Iterator[Finding]:
    index = ctx.policy_index
    for np, cp in _policies(ctx):
        if not cp.selected:
            continue
        for direction, rules in (("ingress", cp.ingress_rules), ("egress", cp.egress_rules)):
            for r in rules:
                dests = cp.selected if direction == "ingress" else r.peer_mask
                if not dests:
                    continue
                for k, pm in enumerate(r.ports):
                    if pm.name is None or _named_mask(index, pm.name, pm.protocol) & dests:
                        continue
                    where = ("the pods it selects" if direction == "ingress"
                             else "the pods this rule sends to")
                    declared = sorted({n for p in index.pods_of_mask(dests)
                                       for (n, proto) in p.named_ports if proto == pm.protocol})
                    yield PORT_NAME_UNKNOWN.finding(
                        np, f"spec.{direction}[{r.index}].ports[{k}].port",
                        f'NetworkPolicy "{cp.key}" {direction} rule {r.index} allows port '
                        f'"{pm.name}"/{pm.protocol}, which none of {where} declares: the port matches '
                        "nothing" + (" and the rule allows nothing" if len(r.ports) == 1 else ""),
                        f"use a port number or a name the pods declare ({', '.join(declared[:8]) or 'none'})",
                    )


@checker("policy")
def check_ignored_rules(ctx: LintContext) -> Iterator[Finding]:
    for np, cp in _policies(ctx):
        types = np.spec.policy_types
        if not types:
            continue
        for direction, word, present in (("egress", "Egress", np.spec.egress),
                                         ("ingress", "Ingress", np.spec.ingress)):
            if present and word not in types:
                yield RULES_IGNORED.finding(
                    np, "spec.policyTypes",
                    f'NetworkPolicy "{cp.key}" has {len(present)} {direction} rule'
                    f"{'s' if len(present) != 1 else ''} but policyTypes is [{', '.join(types)}]: "
                    f"the {direction} rules are ignored and {direction} of the selected pods is "
                    "not restricted by this policy",
                    f"add {word} to spec.policyTypes (or remove spec.{direction} if unintended)",
                )


# ------------------------------------------------------------------------------------ DNS


def _dns_pods(ctx: LintContext) -> list[Pod]:
    svc = ctx.state.service("kube-system", "kube-dns")
    if not isinstance(svc, Service) or not svc.spec.selector:
        return []
    return [p for p in ctx.state.select_pods("kube-system", Selector.from_map(svc.spec.selector))
            if not p.finished and not p.spec.host_network]


def _uses_cluster_dns(p: Pod) -> bool:
    policy = p.spec.dns_policy or "ClusterFirst"
    if p.spec.host_network:
        return policy == "ClusterFirstWithHostNet"
    return policy in ("ClusterFirst", "ClusterFirstWithHostNet")


@checker("policy")
def check_dns(ctx: LintContext) -> Iterator[Finding]:
    dns_pods = _dns_pods(ctx)
    if not dns_pods:
        return
    index = ctx.policy_index
    target = index.by_key.get(dns_pods[0].qualified_name)
    if target is None:
        return
    user_ns = set(ctx.user_namespaces)
    groups: dict[tuple[str, tuple[int, ...]], list[IndexedPod]] = defaultdict(list)
    for ip in index.pods:
        ns = ip.pod.metadata.namespace
        if ns not in user_ns or ip.pod.finished or not _uses_cluster_dns(ip.pod):
            continue
        if not ip.egress_policies and not target.ingress_policies:
            continue
        groups[(ns, ip.egress_policies)].append(ip)
    for (ns, _pids), members in sorted(groups.items()):
        rep = members[0]
        udp = verdict(index, rep.pod, target.pod, 53, "UDP")
        tcp = verdict(index, rep.pod, target.pod, 53, "TCP")
        if udp.allowed and tcp.allowed:
            continue
        pods = [m.pod for m in members]
        deciding = udp if not udp.allowed else tcp
        half = deciding.egress if not deciding.egress.allowed else deciding.ingress
        key = sorted(half.policies)[0] if half.policies else ""
        pns, _, pname = key.partition("/")
        cp = index.policy(key)
        obj = ObjectId("NetworkPolicy", pns, pname)
        if half.direction == "egress":
            field = "spec.egress" if cp is not None and cp.policy.spec.egress else "spec.policyTypes"
        else:
            field = "spec.ingress" if cp is not None and cp.policy.spec.ingress else "spec.policyTypes"
        any_egress = any(index.policies[i].egress_rules for i in rep.egress_policies)
        who = f"{ctx.workload_label(pods)} in namespace {ns}"
        if not udp.allowed:
            severity = "error" if any_egress or half.direction == "ingress" else "warning"
            consequence = ("every name lookup times out (5 s per try), so they cannot reach "
                           "Services by name even where policy allows the connection itself")
            if severity == "warning":
                consequence += ("; all their egress is denied, so this only matters if they are "
                                "meant to connect anywhere")
            message = (f"{who} cannot reach cluster DNS ({target.key}, UDP 53): "
                       f"{udp.sentence}. Consequence: {consequence}")
        else:
            severity = "warning"
            message = (f"{who} may ask cluster DNS over UDP but not TCP 53: {tcp.sentence}. "
                       "Consequence: answers too large for UDP (truncated, retried over TCP) fail")
        fix = DNS_RULE_FIX if half.direction == "egress" else (
            f"allow ingress to the kube-dns pods (k8s-app: kube-dns) on UDP and TCP 53 from every "
            f"namespace in {key}")
        yield BLOCKS_DNS.finding(obj, field, message, fix, severity=severity)  # type: ignore[arg-type]



__all__ = [
    "BLOCKS_DNS",
    "NOT_ISOLATED",
    "PEER_SELECTS_NOTHING",
    "PORT_NAME_UNKNOWN",
    "RULES_IGNORED",
    "SELECTS_NO_PODS",
]
