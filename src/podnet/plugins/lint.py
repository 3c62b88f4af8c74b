"""What users get wrong with network plugins, found in the plan, each with its fix (pure).

:func:`lint_plugin` returns :class:`Finding` values for the lint command to print:

- ``pod-network-overlaps-nodes`` — the pod network covers the nodes' own network (Cilium's
  default 10.0.0.0/8 swallows a 10.x node network): routes to pod CIDRs capture node traffic.
- ``pod-network-overlaps-services`` — the pod network and the Service network overlap (Cilium's
  10.0.0.0/8 contains kubeadm's 10.96.0.0/12): an error once a node's pod CIDR lies in it.
- ``overlay-mtu-too-large`` — ``plugin.mtu`` leaves no room for the encapsulation on the smallest
  node NIC: full-size packets are dropped between nodes.
- ``node-mtu-mismatch`` — nodes with different NIC MTUs on an overlay: a pod MTU computed on one
  node is too large for another.
- ``host-gw-across-subnets`` / ``bgp-across-subnets`` / ``native-routing-unreachable`` —
  unencapsulated pod routes to nodes behind a router (flannel host-gw, Calico BGP without
  CrossSubnet encapsulation, Cilium native routing): the router knows no pod routes.
- ``policy-not-enforced`` — NetworkPolicies in a cluster whose plugin ignores them (flannel,
  the host plugin); ``ipblock-matches-cluster`` — a Cilium ipBlock covering pod or node
  addresses, which Cilium never matches against them.
- ``pods-beyond-address-capacity`` / ``max-pods-above-address-capacity`` — more pods on a node
  than it has addresses for (they stay Pending), or a kubelet that would schedule more than that.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from podnet.api.networking import NetworkPolicy
from podnet.cluster.config import PLUGIN_POD_SUBNETS
from podnet.cluster.state import ClusterState
from podnet.plugins import calico, host
from podnet.plugins.build import build_plan, context_of, pod_cidrs_of
from podnet.plugins.plan import NetworkPlan
from podnet.policy.enforcement import enforcement_of

__all__ = ["Finding", "OVERHEAD", "lint", "lint_plugin"]

Severity = Literal["error", "warning", "info"]

#: Encapsulation overhead per (plugin, mode).
OVERHEAD = {
    ("flannel", "vxlan"): 50,
    ("calico", "ipip"): 20,
    ("calico", "vxlan"): 50,
    ("cilium", "vxlan"): 50,
    ("cilium", "geneve"): 50,
}
_ALTERNATIVES = ("10.244.0.0/16", "192.168.0.0/16", "172.16.0.0/16", "100.64.0.0/16")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    #: ``Cluster/NAME``, ``Node/NAME``, ``NetworkPolicy/NS/NAME``…
    object: str
    #: The config or object field to change.
    field: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "object": self.object,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }


def _net(c: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(c, strict=False)


def _overlap(a: str, b: str) -> bool:
    x, y = _net(a), _net(b)
    return x.version == y.version and x.overlaps(y)  # type: ignore[arg-type]


def lint_plugin(state: ClusterState, plan: NetworkPlan | None = None) -> tuple[Finding, ...]:
    """Every plugin-layer finding for ``state`` (``plan``: its plan, if already built)."""
    plan = plan if plan is not None else build_plan(state)
    out: list[Finding] = []
    out += _overlaps(state, plan)
    out += _mtu(state, plan)
    out += _routed_underlay(state, plan)
    out += _policies(state, plan)
    out += _capacity(state, plan)
    return tuple(out)


def lint(state: ClusterState) -> tuple[Finding, ...]:
    """:func:`lint_plugin` under the name the lint command looks for (nothing for clusters the
    plans do not model: IPv6-only)."""
    try:
        return lint_plugin(state)
    except NotImplementedError:
        return ()


# ---------------------------------------------------------------------------- networks


def _pod_field(state: ClusterState) -> str:
    return "networking.podSubnet" if state.config.pod_subnets else "plugin.name"


def _pod_origin(state: ClusterState, net: str) -> str:
    cfg = state.config
    if not cfg.pod_subnets and PLUGIN_POD_SUBNETS.get(cfg.plugin.name) == net:
        return f"{net} ({cfg.plugin.name}'s default)"
    return net


def _alternative(plan: NetworkPlan, avoid: list[str]) -> str:
    for cand in _ALTERNATIVES:
        if not any(_overlap(cand, a) for a in avoid):
            return cand
    return "a private range no node or Service uses"


def _overlaps(state: ClusterState, plan: NetworkPlan) -> list[Finding]:
    out: list[Finding] = []
    name = f"Cluster/{state.config.name}"
    if plan.plugin.name == "host":
        return out  # the host model's pod network is the node network, by design
    ctx = context_of(plan)
    node_nets = sorted({str(s) for s in ctx.subnet.values()})
    avoid = node_nets + list(plan.service_networks)
    for pod_net in plan.pod_networks:
        hit = [s for s in node_nets if _overlap(pod_net, s)]
        if hit:
            nodes = [n for n in ctx.order if str(ctx.subnet[n]) in hit]
            captured = _captured(plan)
            detail = (f"; {', '.join(captured)} {'has' if len(captured) == 1 else 'have'} an address inside a "
                      "node's pod CIDR, whose route now captures traffic to it") if captured else ""
            out.append(Finding(
                "pod-network-overlaps-nodes", "error", name, _pod_field(state),
                f"the pod network {_pod_origin(state, pod_net)} overlaps the node network {', '.join(hit)} "
                f"({', '.join(nodes)}): pod routes and node routes claim the same addresses{detail}",
                f"set networking.podSubnet to a range disjoint from the nodes', e.g. {_alternative(plan, avoid)}",
            ))
        for svc in plan.service_networks:
            if not _overlap(pod_net, svc):
                continue
            inside = [c for c in _all_pod_cidrs(plan) if _overlap(c, svc)]
            out.append(Finding(
                "pod-network-overlaps-services", "error" if inside else "warning", name, _pod_field(state),
                f"the pod network {_pod_origin(state, pod_net)} overlaps the Service network {svc}"
                + (f": pod CIDRs {', '.join(inside)} lie inside it, so pod and ClusterIP addresses collide"
                   if inside else ": no node's pod CIDR is inside it yet, but a large enough cluster will get one"),
                f"set networking.podSubnet (or networking.serviceSubnet) so that they are disjoint, e.g. a pod "
                f"network of {_alternative(plan, avoid)}",
            ))
    return out


def _all_pod_cidrs(plan: NetworkPlan) -> list[str]:
    return [c for n in plan.node_names for c in pod_cidrs_of(plan, n)]


def _captured(plan: NetworkPlan) -> list[str]:
    """Nodes whose address lies inside some node's pod CIDR."""
    by_len: dict[int, set[int]] = {}
    for c in _all_pod_cidrs(plan):
        net = _net(c)
        if net.version == 4:
            by_len.setdefault(net.prefixlen, set()).add(int(net.network_address))
    ctx = context_of(plan)
    out: list[str] = []
    for n in ctx.order:
        ip = ctx.ip.get(n)
        if not ip:
            continue
        v = int(ipaddress.IPv4Address(ip))
        if any((v >> (32 - plen) << (32 - plen) if plen else 0) in nets for plen, nets in by_len.items()):
            out.append(n)
    return out


# ---------------------------------------------------------------------------- MTU


def _mtu(state: ClusterState, plan: NetworkPlan) -> list[Finding]:
    out: list[Finding] = []
    ctx = context_of(plan)
    overhead = OVERHEAD.get((plan.plugin.name, plan.plugin.mode), 0)
    mtus = {n: ctx.mtu[n] for n in ctx.order}
    if not mtus:
        return out
    smallest = min(mtus.values())
    user = state.config.plugin.mtu
    if user and user > smallest - overhead:
        small_nodes = [n for n, m in mtus.items() if user > m - overhead]
        what = f"{overhead} bytes of encapsulation" if overhead else "no encapsulation"
        out.append(Finding(
            "overlay-mtu-too-large", "error", f"Cluster/{state.config.name}", "plugin.mtu",
            f"plugin.mtu {user} plus {what} exceeds the NIC MTU {smallest} of {', '.join(small_nodes)}: "
            f"packets of {smallest - overhead + 1}–{user} bytes with DF set are dropped between nodes "
            f"(needs fragmentation)",
            f"set plugin.mtu to at most {smallest - overhead}, or leave it unset to have it computed from the underlay",
        ))
    if overhead and not user and len(set(mtus.values())) > 1:
        for i, (n, m) in enumerate(mtus.items()):
            if m > smallest:
                out.append(Finding(
                    "node-mtu-mismatch", "warning", f"Node/{n}", f"nodes[{i}].mtu",
                    f"{n}'s NIC MTU is {m} but another node's is {smallest}: {plan.plugin.name} gives {n}'s pods "
                    f"MTU {m - overhead}, and their full-size packets to pods on the smaller node "
                    f"({smallest} bytes) are dropped there",
                    f"give every node the same MTU, or set plugin.mtu to {smallest - overhead}",
                ))
    return out


# ---------------------------------------------------------------------------- routed underlay


def _routed_underlay(state: ClusterState, plan: NetworkPlan) -> list[Finding]:
    out: list[Finding] = []
    name, mode = plan.plugin.name, plan.plugin.mode
    if (name, mode) == ("cilium", "native") and not state.config.plugin.option("autoDirectNodeRoutes"):
        out.append(Finding(
            "native-routing-unreachable", "error", f"Cluster/{state.config.name}", "plugin.autoDirectNodeRoutes",
            "native routing without autoDirectNodeRoutes: no node has a route to another node's pod CIDR, and "
            "the underlay's router knows none either",
            "set plugin.autoDirectNodeRoutes: true (nodes on one L2 segment), or use mode vxlan or geneve",
        ))
        return out
    if not plan.underlay.routed:
        return out
    ctx = context_of(plan)
    if (name, mode) == ("flannel", "host-gw"):
        rule, why, fix = ("host-gw-across-subnets",
                          "flannel host-gw routes each pod CIDR via the other node's address, which must be "
                          "on the same L2 segment: the kernel refuses the route (network is unreachable)",
                          "use mode vxlan (with directRouting: true to keep host-gw's direct routes within a "
                          "subnet), or put all nodes on one subnet")
    elif (name, mode) == ("calico", "bgp"):
        rule, why, fix = ("bgp-across-subnets",
                          "Calico BGP without encapsulation sends pod traffic unencapsulated; across subnets "
                          "it goes to the router, which does not peer with Calico and has no pod routes",
                          "use mode ipip or vxlan with crossSubnet: true (encapsulate only between subnets), "
                          "or peer the router with the nodes (BGPPeer)")
    elif (name, mode) == ("cilium", "native"):
        rule, why, fix = ("native-routing-unreachable",
                          "Cilium native routing needs the network to route pod CIDRs; autoDirectNodeRoutes "
                          "only installs routes to nodes on the same L2 segment, and the router knows none",
                          "use mode vxlan or geneve, or put all nodes on one subnet")
    else:
        return out
    for i, n in enumerate(ctx.order):
        away = [o for o in ctx.order if o != n and not ctx.same_segment(n, o)]
        if not away:
            continue
        out.append(Finding(
            rule, "error", f"Node/{n}", f"nodes[{i}].subnet",
            f"{n} ({ctx.subnet[n]}) cannot reach pods on {', '.join(f'{o} ({ctx.subnet[o]})' for o in away)}: {why}",
            fix,
        ))
    return out


# ---------------------------------------------------------------------------- policy


def _policies(state: ClusterState, plan: NetworkPlan) -> list[Finding]:
    out: list[Finding] = []
    policies = state.typed(NetworkPolicy)
    if not policies:
        return out
    enf = enforcement_of(plan.plugin.name)
    if not enf.enforces:
        for pol in policies:
            key = f"{pol.metadata.namespace}/{pol.metadata.name}"
            out.append(Finding(
                "policy-not-enforced", "warning", f"NetworkPolicy/{key}", "spec",
                f"{plan.plugin.name} does not enforce NetworkPolicy: {key} has no effect, every connection it "
                "would deny is allowed",
                "use a plugin that enforces NetworkPolicy (calico, cilium), or add Calico for policy next to "
                "flannel (Canal)",
            ))
    elif plan.plugin.name == "cilium":
        cluster = list(plan.pod_networks) + sorted({str(s) for s in context_of(plan).subnet.values()})
        for pol in policies:
            key = f"{pol.metadata.namespace}/{pol.metadata.name}"
            peers = [(f"spec.ingress[{i}].from[{j}]", p) for i, r in enumerate(pol.spec.ingress)
                     for j, p in enumerate(r.from_)]
            peers += [(f"spec.egress[{i}].to[{j}]", p) for i, r in enumerate(pol.spec.egress)
                      for j, p in enumerate(r.to)]
            for path, peer in peers:
                if peer.ip_block is None or not peer.ip_block.cidr:
                    continue
                hit = [c for c in cluster if _overlap(peer.ip_block.cidr, c)]
                if hit:
                    out.append(Finding(
                        "ipblock-matches-cluster", "warning", f"NetworkPolicy/{key}", f"{path}.ipBlock.cidr",
                        f"ipBlock {peer.ip_block.cidr} covers cluster addresses ({', '.join(hit)}), but Cilium "
                        "matches pods and nodes by identity, never by ipBlock: it selects only addresses outside "
                        "the cluster",
                        "select pods with podSelector/namespaceSelector instead of their addresses",
                    ))
    return out


# ---------------------------------------------------------------------------- addresses


def _capacity(state: ClusterState, plan: NetworkPlan) -> list[Finding]:
    from podnet.cluster.scheduler import node_capacity

    out: list[Finding] = []
    ctx = context_of(plan)
    node_ips = {int(ipaddress.IPv4Address(ip)) for ip in ctx.ip.values() if ip}
    for i, name in enumerate(ctx.order):
        node = ctx.nodes[name]
        cap, held = _address_capacity(plan, name, node_ips)
        if cap is None:
            continue
        wanting = [p for p in state.pods_on_node(name)
                   if not p.spec.host_network and not p.finished and p.metadata.deletion_timestamp is None]
        failed = [p for p in wanting if not p.ips and p.status.reason == "FailedCreatePodSandBox"]
        if len(wanting) > cap or failed:
            names = ", ".join(f"{p.metadata.namespace}/{p.metadata.name}" for p in failed[:5])
            more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
            out.append(Finding(
                "pods-beyond-address-capacity", "error", f"Node/{name}", f"nodes[{i}]",
                f"{name} holds {cap} pod addresses ({held}) but {len(wanting)} pods need one: "
                f"{len(failed)} stay Pending without an address" + (f": {names}{more}" if names else ""),
                _capacity_fix(plan, i),
            ))
        max_pods = node_capacity(node)
        if max_pods > cap and plan.plugin.name == "host":
            out.append(Finding(
                "max-pods-above-address-capacity", "warning", f"Node/{name}", "status.allocatable.pods",
                f"kubelet lets the scheduler put {max_pods} pods on {name}, which holds only {cap} addresses "
                f"({held}): pods beyond that are scheduled and then fail to start",
                f"set the node's max pods to {cap} (as EKS does from the ENI limits), or give it a larger subnet "
                f"(nodes[{i}].subnet)",
            ))
    return out


def _capacity_fix(plan: NetworkPlan, index: int) -> str:
    if plan.plugin.name == "host":
        return (f"give the node a larger subnet (nodes[{index}].subnet) or fewer nodes per subnet, or lower its "
                "max pods to its address count")
    if plan.plugin.name == "calico":
        return "use a larger pool or blockSize (plugin.blockSize), or spread the pods over more nodes"
    return "give nodes larger pod CIDRs (a larger networking.podSubnet), or spread the pods over more nodes"


def _address_capacity(plan: NetworkPlan, name: str, node_ips: set[int]) -> tuple[int | None, str]:
    ctx = context_of(plan)
    node = ctx.nodes[name]
    pname = plan.plugin.name
    if pname == "host":
        block = host.block_of(ctx, name)
        return host.capacity(ctx.config, block, ctx.subnet[name], node_ips), f"its block {block} of {ctx.subnet[name]}"
    if pname == "calico":
        pools = [p for p in ctx.config.pod_networks() if p.version == 4]
        if not pools:
            return None, ""
        blocks = calico.node_blocks(ctx.config, ctx.index(name), len(ctx.order), pools[0])
        cap = sum(b.num_addresses for b in blocks) - (1 if calico.has_tunnel(ctx.config) and blocks else 0)
        return cap, "blocks " + ", ".join(str(b) for b in blocks) if blocks else "no block"
    cidrs = [c for c in node.pod_cidrs if ":" not in c]
    if not cidrs:
        return 0, "no pod CIDR"
    net = _net(cidrs[0])
    reserved = 3 if pname == "flannel" else 4  # network, gateway/router, broadcast (+ Cilium's health)
    return net.num_addresses - reserved, f"pod CIDR {net}"

