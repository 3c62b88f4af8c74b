"""Cilium: cluster-pool IPAM, eBPF on every pod's ``lxc`` veth, VXLAN/Geneve or native routing
(cilium/cilium: ``pkg/datapath/connector`` (``Endpoint2IfName``, ``IPv4Routes``), the CNI plugin,
``pkg/labelsfilter``, the Helm defaults; docs "Routing", "Kubernetes Without kube-proxy",
"Identity-Relevant Labels").

What a node gets
----------------
- IPAM (cluster-pool): 10.0.0.0/8 cut into one /24 per node (the operator's
  ``clusterPoolIPv4MaskSize``); the agent takes the router IP and the health endpoint's address
  first, then pods. Upstream picks them at random in the range; podnet takes the lowest free ones:
  router ``.1``, health ``.2``, pods from ``.3``.
- ``cilium_host`` / ``cilium_net``: a veth pair, the router IP as a /32 on ``cilium_host``;
  ``<own podCIDR> via <router> dev cilium_host src <router>`` and, in tunnel mode, the same for each
  other node's podCIDR with ``mtu`` = device MTU − 50 (the route MTU: VXLAN and Geneve both cost 50
  bytes). ``cilium_vxlan`` (UDP 8472) or ``cilium_geneve`` (UDP 6081) in collect-metadata mode: no
  FDB, no ARP entries — the BPF tunnel map says which node holds a prefix, and the VNI carries the
  sender's security identity. Native routing with ``autoDirectNodeRoutes``: ``<podCIDR> via <node
  IP> dev eth0`` for nodes on the same L2 segment only (Cilium refuses a gateway that is not
  directly reachable).
- Per pod: ``lxc`` + 12 hex of sha256(container ID), device MTU 1500; in the pod, the /32 address,
  ``<router> dev eth0 scope link`` and ``default via <router> dev eth0 mtu <route MTU>``.
- ``lxc_health``: the health endpoint's veth.
- kubeProxyReplacement: Services are translated by the socket LB at connect() (and BPF NodePort
  on the node's device), no kube-proxy ruleset.
- NetworkPolicy: enforced on identities derived from labels (``identity_of``).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Sequence

from podnet.api.core import Node, Pod
from podnet.api.frozen import FrozenDict
from podnet.cluster.config import ClusterConfig
from podnet.cluster.ipam import IPAMError, NodeCIDRIPAM
from podnet.plugins.context import PlanContext, sort_routes
from podnet.plugins.naming import cilium_lxc_name
from podnet.plugins.plan import Eth0, Link, MasqRule, NodePlan, PodPlan, Route, TunnelMapEntry, local_mac

__all__ = [
    "CiliumIPAM",
    "RESERVED_IDENTITIES",
    "TUNNEL_OVERHEAD",
    "TUNNEL_PORTS",
    "health_ip",
    "identity_labels",
    "identity_of",
    "node_plan",
    "pod_plan",
    "router_ip",
    "route_mtu",
]

TUNNEL_OVERHEAD = 50
TUNNEL_PORTS = {"vxlan": 8472, "geneve": 6081}
TUNNEL_DEVICES = {"vxlan": "cilium_vxlan", "geneve": "cilium_geneve"}
#: pkg/identity: the reserved numeric identities.
RESERVED_IDENTITIES = {
    "host": 1,
    "world": 2,
    "unmanaged": 3,
    "health": 4,
    "init": 5,
    "remote-node": 6,
    "kube-apiserver": 7,
    "ingress": 8,
}
#: Cluster-scoped identities are allocated from 256 (identity.MinimalAllocationIdentity) to 65535.
MIN_IDENTITY = 256
MAX_IDENTITY = 65535


def _first_v4(cidrs: Sequence[str]) -> ipaddress.IPv4Network | None:
    for c in cidrs:
        net = ipaddress.ip_network(c, strict=False)
        if isinstance(net, ipaddress.IPv4Network):
            return net
    return None


def router_ip(node: Node) -> str | None:
    cidr = _first_v4(node.pod_cidrs)
    return str(cidr.network_address + 1) if cidr else None


def health_ip(node: Node) -> str | None:
    cidr = _first_v4(node.pod_cidrs)
    return str(cidr.network_address + 2) if cidr else None


class CiliumIPAM:
    """cluster-pool IPAM: the node's podCIDR, router and health addresses taken first."""

    def __init__(self, nodes: Sequence[Node], config: ClusterConfig) -> None:
        self.inner = NodeCIDRIPAM(nodes)
        self._reserved: set[str] = set()

    def _reserve(self, node: Node) -> None:
        """The health endpoint's address (.2; the router's .1 is never handed out anyway) is the
        agent's before any pod's; only this node allocates from its podCIDR."""
        name = node.metadata.name
        if name in self._reserved:
            return
        self._reserved.add(name)
        self.inner.pin([str(ipaddress.ip_network(c, strict=False).network_address + 2) for c in node.pod_cidrs])

    def pin(self, ips: Sequence[str]) -> None:
        self.inner.pin(ips)

    def reclaim(self, pod: Pod, node: Node, ips: Sequence[str]) -> bool:
        self._reserve(node)
        return self.inner.reclaim(pod, node, ips)

    def allocate(self, pod: Pod, node: Node) -> tuple[str, ...]:
        self._reserve(node)
        try:
            return self.inner.allocate(pod, node)
        except IPAMError as e:
            raise IPAMError(
                'plugin type="cilium-cni" failed (add): unable to allocate IP via local cilium agent: '
                f"[POST /ipam][502] postIpamFailure  range is full ({e})"
            ) from None


def route_mtu(ctx: PlanContext, node: str) -> int:
    """The MTU of the routes into the tunnel: ``plugin.mtu``, else the device MTU minus 50."""
    if ctx.config.plugin.mtu:
        return ctx.config.plugin.mtu
    if ctx.config.plugin.effective_mode in TUNNEL_PORTS:
        return ctx.mtu[node] - TUNNEL_OVERHEAD
    return ctx.mtu[node]


# ---------------------------------------------------------------------------- identities

#: labelsfilter.defaultLabelPrefixCfg, in order: (ignore?, regexp matched at the key's start).
_LABEL_FILTER: tuple[tuple[bool, re.Pattern[str]], ...] = tuple(
    (expr.startswith("!"), re.compile(expr.lstrip("!")))
    for expr in (
        r"io\.kubernetes\.pod\.namespace",
        r"io\.cilium\.k8s\.namespace\.labels",
        r"app\.kubernetes\.io",
        r"io\.cilium\.k8s\.policy\.cluster",
        r"!io\.kubernetes",
        r"!kubernetes\.io",
        r"!statefulset\.kubernetes\.io/pod-name",
        r"!apps\.kubernetes\.io/pod-index",
        r"!batch\.kubernetes\.io/job-completion-index",
        r"!.*beta\.kubernetes\.io",
        r"!k8s\.io",
        r"!pod-template-generation",
        r"!pod-template-hash",
        r"!controller-revision-hash",
        r"!annotation.*",
        r"!etcd_node",
    )
)


@functools.lru_cache(maxsize=4096)
def _identity_relevant(key: str) -> bool:
    included = ignored = 0
    for ignore, expr in _LABEL_FILTER:
        m = expr.search(key)
        if m is None or m.start() != 0:
            continue
        if ignore:
            if ignored == 0 or m.end() < ignored:
                ignored = m.end()
        elif m.end() > included:
            included = m.end()
    return ignored == 0 or included > ignored


def identity_labels(pod: Pod, namespace_labels: dict[str, str] | None = None, cluster: str = "default") -> tuple[str, ...]:
    """The identity-relevant labels of a pod, as ``cilium endpoint list`` shows them
    (``k8s:KEY=VALUE``, sorted). The pod's ServiceAccount is not modelled: ``default``."""
    raw: dict[str, str] = dict(pod.metadata.labels)
    raw["io.kubernetes.pod.namespace"] = pod.metadata.namespace
    raw["io.cilium.k8s.policy.serviceaccount"] = "default"
    raw["io.cilium.k8s.policy.cluster"] = cluster
    for k, v in (namespace_labels or {}).items():
        raw[f"io.cilium.k8s.namespace.labels.{k}"] = v
    return tuple(sorted(f"k8s:{k}={v}" for k, v in raw.items() if _identity_relevant(k)))


def _namespace_labels(ctx: PlanContext) -> dict[str, dict[str, str]]:
    got = ctx.cache.get("namespace-labels")
    if got is None:
        got = {ns.metadata.name: dict(ns.metadata.labels) for ns in ctx.state.namespaces}
        ctx.cache["namespace-labels"] = got
    result: dict[str, dict[str, str]] = got  # type: ignore[assignment]
    return result


def _identities(ctx: PlanContext) -> dict[tuple[str, ...], int]:
    got = ctx.cache.get("cilium-identities")
    if got is None:
        ns_labels = _namespace_labels(ctx)
        seen: dict[tuple[str, object], tuple[str, ...]] = {}
        for p in ctx.pods.values():
            key = (p.metadata.namespace, p.metadata.labels)
            if key not in seen:
                seen[key] = identity_labels(p, ns_labels.get(p.metadata.namespace))
        ctx.cache["cilium-label-sets"] = seen
        sets = sorted(set(seen.values()))
        table: dict[tuple[str, ...], int] = {}
        taken: set[int] = set()
        span = MAX_IDENTITY - MIN_IDENTITY + 1
        for labels in sets:
            h = int(hashlib.sha256("\n".join(labels).encode()).hexdigest(), 16) % span
            while MIN_IDENTITY + h in taken:
                h = (h + 1) % span
            taken.add(MIN_IDENTITY + h)
            table[labels] = MIN_IDENTITY + h
        ctx.cache["cilium-identities"] = table
        got = table
    result: dict[tuple[str, ...], int] = got  # type: ignore[assignment]
    return result


def identity_of(ctx: PlanContext, pod: Pod) -> tuple[int, tuple[str, ...]]:
    """The pod's numeric security identity and its labels. Pods with the same identity-relevant
    labels share one identity cluster-wide (upstream allocates the number at random from 256 up;
    podnet derives it from the labels, so it is stable)."""
    table = _identities(ctx)
    seen: dict[tuple[str, object], tuple[str, ...]] = ctx.cache["cilium-label-sets"]  # type: ignore[assignment]
    labels = seen.get((pod.metadata.namespace, pod.metadata.labels)) or identity_labels(
        pod, _namespace_labels(ctx).get(pod.metadata.namespace))
    if labels not in table:  # a pod outside the context's set (no address yet)
        return MIN_IDENTITY + int(hashlib.sha256("\n".join(labels).encode()).hexdigest(), 16) % (
            MAX_IDENTITY - MIN_IDENTITY + 1), labels
    return table[labels], labels


# ---------------------------------------------------------------------------- plan


def node_plan(ctx: PlanContext, name: str) -> NodePlan:
    config = ctx.config
    mode = config.plugin.effective_mode
    node = ctx.nodes[name]
    ip = ctx.ip[name]
    cidr = _first_v4(node.pod_cidrs)
    router = router_ip(node)
    dev_mtu = ctx.mtu[name]
    rmtu = route_mtu(ctx, name)
    tunnel = mode in TUNNEL_PORTS
    auto_direct = bool(config.plugin.option("autoDirectNodeRoutes"))

    links: list[Link] = [
        ctx.eth0(name),
        Link("cilium_net", "veth", dev_mtu, (), local_mac("cilium_net", name), peer="cilium_host"),
        Link("cilium_host", "veth", dev_mtu, (f"{router}/32",) if router else (), local_mac("cilium_host", name),
             peer="cilium_net"),
    ]
    if tunnel:
        links.append(Link(TUNNEL_DEVICES[mode], "vxlan" if mode == "vxlan" else "geneve", dev_mtu, (),
                          local_mac(TUNNEL_DEVICES[mode], name), port=TUNNEL_PORTS[mode], external=True))
    if cidr is not None:
        links.append(Link("lxc_health", "veth", dev_mtu, (), local_mac("lxc_health", name),
                          peer=f"eth0 of the cilium-health endpoint ({health_ip(node)})"))
    for p in ctx.pods_by_node.get(name, []):
        key = ctx.pod_key(p)
        links.append(Link(cilium_lxc_name(p.metadata.namespace, p.metadata.name), "veth", dev_mtu,
                          mac=local_mac("lxc", key), peer=f"eth0 of {key}"))

    routes: list[Route] = list(ctx.base_routes(name))
    warnings: list[str] = []
    tmap: list[TunnelMapEntry] = []
    if cidr is not None and router:
        routes.append(Route(str(cidr), via=router, dev="cilium_host", proto="kernel", src=router))
        routes.append(Route(router, dev="cilium_host", proto="kernel", scope="link"))
    for other in ctx.remotes(name):
        rcidr = _first_v4(ctx.nodes[other].pod_cidrs)
        if rcidr is None:
            continue
        rip = ctx.ip[other]
        if tunnel:
            routes.append(Route(str(rcidr), via=router, dev="cilium_host", proto="kernel", src=router, mtu=rmtu))
            tmap.append(TunnelMapEntry(str(rcidr), rip, other))
        elif auto_direct:
            if ctx.same_segment(name, other):
                routes.append(Route(str(rcidr), via=rip, dev="eth0", proto="kernel"))
            else:
                warnings.append(
                    f"cilium-agent: Unable to install direct node route {{Dst: {rcidr} Gw: {rip}}}: route to "
                    f"destination {rip} contains gateway {ctx.gateway(name)}, must be directly reachable"
                )

    pools = ctx.pod_networks_v4()
    native_cidr = str(pools[0]) if pools else ""
    nat: list[str] = []
    masq: list[MasqRule] = []
    if cidr is not None and native_cidr:
        if config.plugin.option("kubeProxyReplacement"):
            nat.append(f"# BPF masquerade on eth0 (enable-bpf-masquerade): {cidr} ! -> {native_cidr} SNAT to {ip}")
        else:
            nat.append(f"-A CILIUM_POST_nat -s {cidr} ! -d {native_cidr} ! -o cilium_+ "
                       '-m comment --comment "cilium masquerade non-cluster" -j MASQUERADE')
        masq.append(MasqRule((str(cidr),), (native_cidr,), None, nat[-1]))

    return NodePlan(
        name=name,
        internal_ip=ip,
        subnet=str(ctx.subnet[name]),
        gateway=ctx.gateway(name),
        pod_cidrs=(str(cidr),) if cidr else (),
        links=tuple(links),
        routes=sort_routes(routes),
        sysctls=FrozenDict({
            "net.ipv4.ip_forward": "1",
            "net.ipv4.conf.all.rp_filter": "0",
            "net.ipv4.conf.cilium_host.rp_filter": "0",
            "net.ipv4.conf.cilium_net.rp_filter": "0",
        }),
        nat=tuple(nat),
        masquerade=tuple(masq),
        tunnel_map=tuple(tmap),
        warnings=tuple(warnings),
    )


def pod_plan(ctx: PlanContext, pod: Pod) -> PodPlan:
    node = pod.spec.node_name
    key = ctx.pod_key(pod)
    ip = next((i for i in pod.ips if ":" not in i), pod.ips[0])
    router = router_ip(ctx.nodes[node]) or ""
    identity, labels = identity_of(ctx, pod)
    return PodPlan(
        name=key,
        node=node,
        ip=ip,
        eth0=Eth0(tuple(f"{i}/32" for i in pod.ips if ":" not in i), ctx.mtu[node],
                  local_mac("eth0", key)),
        host_if=cilium_lxc_name(pod.metadata.namespace, pod.metadata.name),
        routes=(Route("default", via=router, dev="eth0", mtu=route_mtu(ctx, node)),
                Route(router, dev="eth0", scope="link")),
        identity=identity,
        identity_labels=labels,
    )
