"""What every plugin needs to know about a cluster: nodes in order, their underlay, their pods.

The underlay
------------
By default every node is on kind's docker network, one L2 segment (172.18.0.0/16, gateway
172.18.0.1). ``nodes[].subnet`` puts a node on its own subnet; several subnets are joined by a
router that holds the ``.1`` of each and knows the node subnets — and nothing else: it runs no
routing protocol with the cluster. It is also the way out to the outside world, masquerading as
docker does. A node's ``eth0`` takes ``nodes[].mtu`` (default 1500).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.api.core import Node, Pod
from podnet.api.frozen import FrozenDict
from podnet.cluster.config import DEFAULT_UNDERLAY, PLUGIN_OPTIONS, ClusterConfig, NodeConfig
from podnet.cluster.state import ClusterState
from podnet.plugins.plan import Link, Route, RouterInterface, Underlay, docker_mac

IPv4Network = ipaddress.IPv4Network
IPv6Network = ipaddress.IPv6Network

#: Plugins whose plan wires the IPv6 half of a dual-stack cluster too (the others: IPv4 only,
#: their IPv6 half stays in the model).
DUAL_STACK_PLUGINS = frozenset({"flannel"})
#: kind's IPv6 docker network: every node's IPv6 InternalIP is on one /64 of it.
UNDERLAY_V6_PREFIXLEN = 64

__all__ = [
    "PlanContext",
    "host_block_prefix",
    "sort_routes",
    "lb_pool_ranges",
    "node_subnet",
    "node_v4",
    "subnet_of",
    "underlay6_of",
]

#: Kind's nodes run on a docker network whose bridge MTU is the host's (1500).
DEFAULT_MTU = 1500


def node_v4(node: Node) -> str:
    """The node's IPv4 InternalIP ("" when it has none)."""
    for ip in node.internal_ips:
        if ":" not in ip:
            return ip
    return ""


def node_v6(node: Node) -> str:
    """The node's IPv6 InternalIP ("" when it has none)."""
    for ip in node.internal_ips:
        if ":" in ip:
            return ip
    return ""


def _config_of(config: ClusterConfig, name: str) -> NodeConfig | None:
    for nc in config.nodes:
        if nc.name == name:
            return nc
    return None


def node_subnet(config: ClusterConfig, node: Node) -> IPv4Network:
    """The underlay subnet of ``node``: its ``nodes[].subnet``, the default underlay when its
    address lies there, else the /24 around its address."""
    return subnet_of(config, node.metadata.name, node_v4(node))


def subnet_of(config: ClusterConfig, name: str, ip: str) -> IPv4Network:
    """:func:`node_subnet` from a node's name and IPv4 address."""
    nc = _config_of(config, name)
    if nc is not None and nc.subnet:
        net = ipaddress.ip_network(nc.subnet, strict=False)
        if isinstance(net, IPv4Network):
            return net
    default = ipaddress.IPv4Network(DEFAULT_UNDERLAY)
    if not ip or ipaddress.IPv4Address(ip) in default:
        return default
    return ipaddress.IPv4Network(f"{ip}/24", strict=False)


def node_mtu(config: ClusterConfig, name: str) -> int:
    nc = _config_of(config, name)
    return nc.mtu if nc is not None else DEFAULT_MTU


def lb_pool_ranges(config: ClusterConfig) -> list[tuple[int, int]]:
    """The LoadBalancer pool as inclusive integer ranges (IPv4 only)."""
    out: list[tuple[int, int]] = []
    for text in config.load_balancer_pool:
        try:
            if "-" in text:
                a, b = (ipaddress.ip_address(x.strip()) for x in text.split("-", 1))
                if a.version == 4:
                    out.append((int(a), int(b)))
            else:
                net = ipaddress.ip_network(text, strict=False)
                if net.version == 4:
                    out.append((int(net.network_address), int(net.broadcast_address)))
        except ValueError:
            continue
    return out


def host_block_prefix(subnet: IPv4Network, nodes_on_subnet: int) -> int:
    """The host model's per-node block: the subnet shared by the nodes on it, /24 at most."""
    need = subnet.prefixlen + math.ceil(math.log2(max(nodes_on_subnet, 1)))
    return min(32, max(24, need))


@dataclass(slots=True)
class PlanContext:
    """Everything a plugin reads from the state, indexed once."""

    state: ClusterState
    config: ClusterConfig
    order: tuple[str, ...]
    nodes: dict[str, Node]
    ip: dict[str, str]
    subnet: dict[str, IPv4Network]
    mtu: dict[str, int]
    #: Pods with their own network namespace and an address, per node, in key order.
    pods_by_node: dict[str, list[Pod]]
    pods: dict[str, Pod]
    underlay: Underlay
    position: dict[str, int] = field(default_factory=dict)
    cache: dict[str, object] = field(default_factory=dict)
    #: The IPv6 half of a dual-stack cluster, when the plan wires it: each node's IPv6
    #: InternalIP on the underlay's one IPv6 subnet (else empty, and ``ipv6_unplanned`` says why
    #: when the cluster has an IPv6 pod network).
    ip6: dict[str, str] = field(default_factory=dict)
    subnet6: IPv6Network | None = None
    ipv6_unplanned: str = ""

    @staticmethod
    def of(state: ClusterState) -> PlanContext:
        config = state.config
        by_name = {n.metadata.name: n for n in state.nodes}
        order = [n for n in state.node_order if n in by_name]
        order += sorted(set(by_name) - set(order))
        ips = {n: node_v4(by_name[n]) for n in order}
        missing = [n for n, ip in ips.items() if not ip]
        if missing:
            raise NotImplementedError(
                "network plans model IPv4 clusters (and the IPv4 half of dual-stack ones): node "
                f"{missing[0]} has no IPv4 address"
            )
        subnets = {n: node_subnet(config, by_name[n]) for n in order}
        mtus = {n: node_mtu(config, n) for n in order}
        ip6, subnet6, unplanned = _ipv6_underlay(config, order, by_name, subnets)
        pods_by_node: dict[str, list[Pod]] = {n: [] for n in order}
        pods: dict[str, Pod] = {}
        for name in order:
            for p in state.pods_on_node(name):
                if p.spec.host_network or not p.ips or p.finished:
                    continue
                key = f"{p.metadata.namespace}/{p.metadata.name}"
                pods_by_node[name].append(p)
                pods[key] = p
        return PlanContext(
            state=state,
            config=config,
            order=tuple(order),
            nodes=by_name,
            ip=ips,
            subnet=subnets,
            mtu=mtus,
            pods_by_node=pods_by_node,
            pods=dict(sorted(pods.items())),
            underlay=_underlay(order, subnets, mtus, subnet6),
            position={n: i for i, n in enumerate(order)},
            ip6=ip6,
            subnet6=subnet6,
            ipv6_unplanned=unplanned,
        )

    # -------------------------------------------------------------- helpers for plugins

    def index(self, name: str) -> int:
        return self.position[name]

    def gateway(self, name: str) -> str:
        return str(self.subnet[name].network_address + 1)

    @property
    def dual_stack(self) -> bool:
        """Whether the plan wires IPv6 too (the cluster is dual-stack and the plugin does it)."""
        return self.subnet6 is not None

    def gateway6(self) -> str:
        assert self.subnet6 is not None
        return str(self.subnet6.network_address + 1)

    def same_segment(self, a: str, b: str) -> bool:
        return self.subnet[a] == self.subnet[b]

    def remotes(self, name: str) -> list[str]:
        return [n for n in self.order if n != name and self.ip.get(n)]

    def pod_key(self, pod: Pod) -> str:
        return f"{pod.metadata.namespace}/{pod.metadata.name}"

    def base_routes(self, name: str) -> list[Route]:
        """The node's own routes on the underlay: the default route and the connected subnet."""
        subnet = self.subnet[name]
        routes = [
            Route("default", via=self.gateway(name), dev="eth0"),
            Route(str(subnet), dev="eth0", proto="kernel", scope="link", src=self.ip[name]),
        ]
        if self.subnet6 is not None:
            routes += [Route("default", via=self.gateway6(), dev="eth0"),
                       Route(str(self.subnet6), dev="eth0", proto="kernel")]
        return routes

    def eth0_address(self, name: str) -> str:
        return f"{self.ip[name]}/{self.subnet[name].prefixlen}"

    def eth0(self, name: str) -> Link:
        """The node's NIC on the underlay (a veth into the underlay, as kind's docker gives)."""
        addresses: tuple[str, ...] = (self.eth0_address(name),)
        if self.subnet6 is not None:
            addresses += (f"{self.ip6[name]}/{self.subnet6.prefixlen}",)
        return Link("eth0", "veth", self.mtu[name], addresses, docker_mac(self.ip[name]),
                    peer="the underlay")

    def options(self) -> FrozenDict[str, Any]:
        plugin = self.config.plugin
        return FrozenDict({k: plugin.option(k) for k in PLUGIN_OPTIONS.get(plugin.name, {})})

    def pod_networks_v4(self) -> list[IPv4Network]:
        return [n for n in self.config.pod_networks() if isinstance(n, IPv4Network)]

    def pod_networks_v6(self) -> list[IPv6Network]:
        return [n for n in self.config.pod_networks() if isinstance(n, IPv6Network)]


def underlay6_of(ip: str) -> IPv6Network:
    """The IPv6 underlay an IPv6 InternalIP is on: its /64 (kind's IPv6 docker network), whose
    first address is the gateway — the outside's address."""
    return IPv6Network(f"{ip}/{UNDERLAY_V6_PREFIXLEN}", strict=False)


def _ipv6_underlay(config: ClusterConfig, order: Sequence[str], nodes: dict[str, Node],
                   subnets: dict[str, IPv4Network]
                   ) -> tuple[dict[str, str], IPv6Network | None, str]:
    """The nodes' IPv6 underlay in a dual-stack cluster — kind's one IPv6 docker network — or
    why the plan leaves the cluster's IPv6 half to the model (``""``: it has none)."""
    if not any(n.version == 6 for n in config.pod_networks()):
        return {}, None, ""
    plugin = config.plugin.name
    if plugin not in DUAL_STACK_PLUGINS:
        return {}, None, (f"the {plugin} plugin's plan is IPv4 only here (dual-stack is wired "
                          f"under {', '.join(sorted(DUAL_STACK_PLUGINS))})")
    if len(set(subnets.values())) > 1:
        return {}, None, "the nodes are on several subnets: the IPv6 underlay is one segment"
    ip6 = {n: node_v6(nodes[n]) for n in order}
    missing = [n for n, ip in ip6.items() if not ip]
    if missing:
        return {}, None, f"node {missing[0]} has no IPv6 InternalIP"
    nets = {underlay6_of(ip) for ip in ip6.values()}
    if len(nets) > 1:
        return {}, None, "the nodes' IPv6 InternalIPs are on different /64s"
    net = nets.pop()
    gateway = net.network_address + 1
    clash = [n for n, ip in ip6.items() if ipaddress.IPv6Address(ip) == gateway]
    if clash:
        return {}, None, f"node {clash[0]}'s IPv6 InternalIP is the underlay gateway's ({gateway})"
    return ip6, net, ""


def _underlay(order: Sequence[str], subnets: dict[str, IPv4Network], mtus: dict[str, int],
              subnet6: IPv6Network | None = None) -> Underlay:
    segments: dict[str, list[str]] = {}
    for n in order:
        segments.setdefault(str(subnets[n]), []).append(n)
    interfaces: list[RouterInterface] = []
    routes: list[Route] = []
    nat: list[str] = []
    for i, (subnet, members) in enumerate(segments.items()):
        net = ipaddress.IPv4Network(subnet)
        gw = str(net.network_address + 1)
        dev = f"eth{i}"
        mtu = max(mtus[m] for m in members) if members else DEFAULT_MTU
        address6 = f"{subnet6.network_address + 1}/{subnet6.prefixlen}" if subnet6 else None
        interfaces.append(RouterInterface(dev, f"{gw}/{net.prefixlen}", subnet, mtu, address6))
        routes.append(Route(subnet, dev=dev, proto="kernel", scope="link", src=gw))
        if subnet6 is not None:
            routes.append(Route(str(subnet6), dev=dev, proto="kernel"))
        nat.append(f"-A POSTROUTING -s {subnet} -o uplink -j MASQUERADE")
    if not interfaces:
        net = ipaddress.IPv4Network(DEFAULT_UNDERLAY)
        gw = str(net.network_address + 1)
        interfaces.append(RouterInterface("eth0", f"{gw}/{net.prefixlen}", str(net), DEFAULT_MTU))
        routes.append(Route(str(net), dev="eth0", proto="kernel", scope="link", src=gw))
    routes.append(Route("default", dev="uplink"))
    return Underlay(
        segments=FrozenDict({k: tuple(v) for k, v in segments.items()}),
        interfaces=tuple(interfaces),
        routes=tuple(routes),
        nat=tuple(nat),
    )


def sort_routes(routes: Sequence[Route]) -> tuple[Route, ...]:
    """In ``ip route`` order: the default route first, then by destination address."""

    def key(r: Route) -> tuple[int, int, int]:
        if r.dst == "default":
            return (0, 0, 0)
        net = r.network
        return (1, int(net.network_address), net.prefixlen)

    return tuple(sorted(routes, key=key))
