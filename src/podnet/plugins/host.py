"""The host-based model: pods take addresses of the node's own subnet and are routed, unencapsulated,
by the network the nodes are on — the AWS VPC CNI's way (aws/amazon-vpc-cni-k8s:
``cmd/routed-eni-cni-plugin/driver``, ``pkg/networkutils``).

What a node gets
----------------
- Addresses: on AWS a node holds secondary addresses of its subnet on its ENIs and pods take
  them, so the addresses a node holds bound its pods. Here every node holds one block of its
  underlay subnet (``nodes[].subnet``, else the default 172.18.0.0/16): the nodes sharing a subnet
  split it into equal blocks, /24 at most, in node order. The subnet's network, broadcast and
  gateway (.1) addresses, every node's own address and the LoadBalancer pool are never handed out.
  A pod beyond the block stays Pending with the CNI's ``failed to assign an IP address to
  container``.
- Per pod: a host veth ``eni`` + 11 hex of sha1("<ns>.<pod>") (``GeneratePodHostVethName``), the
  route ``<pod>/32 dev eni… scope link`` (``setupIPBasedContainerRouteRules``); in the pod the
  /32 address, ``169.254.1.1 dev eth0 scope link``, ``default via 169.254.1.1 dev eth0`` and a
  permanent ARP entry for 169.254.1.1 with the host veth's MAC (``setupVeth``).
- The underlay delivers pod addresses: on AWS the VPC fabric knows which ENI holds an address;
  here the node answers ARP for the addresses it holds (``proxy_arp`` on eth0), which is how the
  other nodes and the router reach them. No encapsulation: pods use the NIC's MTU.
- ``AWS-SNAT-CHAIN-0``: traffic to anything outside the VPC (the node subnets) leaves with the
  node's primary address.
- NetworkPolicy: not enforced.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Sequence

from podnet.api.core import Node, Pod
from podnet.api.frozen import FrozenDict
from podnet.cluster.config import ClusterConfig
from podnet.cluster.ipam import IPAMError
from podnet.plugins.context import PlanContext, host_block_prefix, lb_pool_ranges, node_v4, sort_routes, subnet_of
from podnet.plugins.naming import eni_veth_name
from podnet.plugins.plan import Eth0, Link, MasqRule, Neighbour, NodePlan, PodPlan, Route, local_mac

__all__ = ["HostIPAM", "LINK_LOCAL_GW", "capacity", "node_blocks", "node_plan", "pod_mtu", "pod_plan"]

LINK_LOCAL_GW = "169.254.1.1"
IPv4Network = ipaddress.IPv4Network


def node_blocks(config: ClusterConfig, nodes: Sequence[Node]) -> dict[str, IPv4Network | None]:
    """The block of its subnet each node holds (None: the subnet has no block left for it).

    Blocks go to the nodes of a subnet in node order; a block that the subnet's reserved
    addresses and the nodes' own addresses fill by more than half is passed over (in a large
    cluster the first blocks are where the nodes' addresses are)."""
    return _layout(config, tuple((n.metadata.name, node_v4(n)) for n in nodes))[0]


Layout = tuple[dict[str, IPv4Network | None], dict[str, IPv4Network]]


def _layout(config: ClusterConfig, nodes: tuple[tuple[str, str], ...]) -> Layout:
    """Blocks and subnets per node; cached, since every reconcile asks again."""
    try:
        return _cached_layout(config, nodes)
    except TypeError:  # an unhashable value somewhere in the config
        return _compute_layout(config, nodes)


@functools.lru_cache(maxsize=8)
def _cached_layout(config: ClusterConfig, nodes: tuple[tuple[str, str], ...]) -> Layout:
    return _compute_layout(config, nodes)


def _compute_layout(config: ClusterConfig, nodes: tuple[tuple[str, str], ...]) -> Layout:
    subnets = {name: subnet_of(config, name, ip) for name, ip in nodes}
    groups: dict[IPv4Network, list[str]] = {}
    for name, _ in nodes:
        groups.setdefault(subnets[name], []).append(name)
    node_ips = sorted(int(ipaddress.IPv4Address(ip)) for _, ip in nodes if ip)
    excluded = _Excluded(config)
    out: dict[str, IPv4Network | None] = {}
    for subnet, members in groups.items():
        prefix = max(host_block_prefix(subnet, len(members)), subnet.prefixlen)
        size = 1 << (32 - prefix)
        count = 1 << (prefix - subnet.prefixlen)
        index = 0
        for name in members:
            block: IPv4Network | None = None
            while index < count:
                lo = int(subnet.network_address) + index * size
                index += 1
                unusable = bisect.bisect_right(node_ips, lo + size - 1) - bisect.bisect_left(node_ips, lo)
                unusable += sum(1 for v in (lo, lo + 1, lo + size - 1) if excluded(v, subnet))
                if size > 4 and unusable * 2 > size:
                    continue
                block = IPv4Network((lo, prefix))
                break
            out[name] = block
    return out, subnets


class _Excluded:
    """Addresses a subnet never gives to pods."""

    def __init__(self, config: ClusterConfig) -> None:
        self.lb = lb_pool_ranges(config)

    def __call__(self, value: int, subnet: IPv4Network) -> bool:
        net = int(subnet.network_address)
        if value in (net, net + 1, int(subnet.broadcast_address)):
            return True
        return any(lo <= value <= hi for lo, hi in self.lb)


def capacity(config: ClusterConfig, block: IPv4Network | None, subnet: IPv4Network, node_ips: set[int]) -> int:
    """How many pod addresses a node's block holds."""
    if block is None:
        return 0
    excluded = _Excluded(config)
    lo, hi = int(block.network_address), int(block.broadcast_address)
    return sum(1 for v in range(lo, hi + 1) if not excluded(v, subnet) and v not in node_ips)


class HostIPAM:
    """Pods take the lowest free address of the block their node holds."""

    def __init__(self, nodes: Sequence[Node], config: ClusterConfig) -> None:
        self.blocks, self.subnets = _layout(config, tuple((n.metadata.name, node_v4(n)) for n in nodes))
        self.excluded = _Excluded(config)
        self.used: set[int] = set()
        self.cursor: dict[str, int] = {}

    def _ok(self, node: str, value: int) -> bool:
        block = self.blocks.get(node)
        if block is None or not int(block.network_address) <= value <= int(block.broadcast_address):
            return False
        return not self.excluded(value, self.subnets[node]) and value not in self.used

    def pin(self, ips: Sequence[str]) -> None:
        for ip in ips:
            try:
                a = ipaddress.ip_address(ip)
            except ValueError:
                continue
            if a.version == 4:
                self.used.add(int(a))

    def reclaim(self, pod: Pod, node: Node, ips: Sequence[str]) -> bool:
        v4 = [ip for ip in ips if ":" not in ip]
        if len(v4) != 1 or len(ips) != 1:
            return False
        value = int(ipaddress.IPv4Address(v4[0]))
        if not self._ok(node.metadata.name, value):
            return False
        self.used.add(value)
        return True

    def allocate(self, pod: Pod, node: Node) -> tuple[str, ...]:
        name = node.metadata.name
        block = self.blocks.get(name)
        if block is not None:
            v = max(self.cursor.get(name, 0), int(block.network_address))
            hi = int(block.broadcast_address)
            while v <= hi and not self._ok(name, v):
                v += 1
            if v <= hi:
                self.cursor[name] = v + 1
                self.used.add(v)
                return (str(ipaddress.IPv4Address(v)),)
            self.cursor[name] = hi + 1
        held = str(block) if block is not None else "none"
        raise IPAMError(
            'plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP address to '
            f"container (node {name} holds no free address: its block of {self.subnets[name]} is {held})"
        )


# ---------------------------------------------------------------------------- plan


def pod_mtu(ctx: PlanContext, node: str) -> int:
    """The ENI's MTU (AWS_VPC_ENI_MTU follows the instance's): the node NIC's, or ``plugin.mtu``."""
    return ctx.config.plugin.mtu or ctx.mtu[node]


def block_of(ctx: PlanContext, node: str) -> IPv4Network | None:
    got = ctx.cache.get("host-blocks")
    if got is None:
        got = node_blocks(ctx.config, [ctx.nodes[n] for n in ctx.order])
        ctx.cache["host-blocks"] = got
    blocks: dict[str, IPv4Network | None] = got  # type: ignore[assignment]
    return blocks.get(node)


def _veth_mac(key: str) -> str:
    return local_mac("eni", key)


def node_plan(ctx: PlanContext, name: str) -> NodePlan:
    ip = ctx.ip[name]
    mtu = pod_mtu(ctx, name)
    links: list[Link] = [ctx.eth0(name)]
    routes: list[Route] = list(ctx.base_routes(name))
    for p in ctx.pods_by_node.get(name, []):
        key = ctx.pod_key(p)
        veth = eni_veth_name(p.metadata.namespace, p.metadata.name)
        links.append(Link(veth, "veth", mtu, mac=_veth_mac(key), peer=f"eth0 of {key}"))
        for pip in p.ips:
            if ":" not in pip:
                routes.append(Route(pip, dev=veth, scope="link"))
    vpc = sorted({str(s) for s in ctx.subnet.values()})
    nat = ['-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0']
    nat += [f'-A AWS-SNAT-CHAIN-0 -d {c} -m comment --comment "AWS SNAT CHAIN" -j RETURN' for c in vpc]
    nat.append('-A AWS-SNAT-CHAIN-0 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL '
               f"-j SNAT --to-source {ip} --random-fully")
    block = block_of(ctx, name)
    return NodePlan(
        name=name,
        internal_ip=ip,
        subnet=str(ctx.subnet[name]),
        gateway=ctx.gateway(name),
        pod_cidrs=(str(block),) if block is not None else (),
        links=tuple(links),
        routes=sort_routes(routes),
        sysctls=FrozenDict({
            "net.ipv4.ip_forward": "1",
            "net.ipv4.conf.eth0.proxy_arp": "1",
            "net.ipv4.conf.eth0.rp_filter": "2",
        }),
        nat=tuple(nat),
        masquerade=(MasqRule(("0.0.0.0/0",), tuple(vpc), "eth0", nat[-1]),),
    )


def pod_plan(ctx: PlanContext, pod: Pod) -> PodPlan:
    node = pod.spec.node_name
    key = ctx.pod_key(pod)
    ip = next((i for i in pod.ips if ":" not in i), pod.ips[0])
    return PodPlan(
        name=key,
        node=node,
        ip=ip,
        eth0=Eth0((f"{ip}/32",), pod_mtu(ctx, node), local_mac("eth0", key)),
        host_if=eni_veth_name(pod.metadata.namespace, pod.metadata.name),
        routes=(Route("default", via=LINK_LOCAL_GW, dev="eth0"), Route(LINK_LOCAL_GW, dev="eth0", scope="link")),
        neighbours=(Neighbour(LINK_LOCAL_GW, _veth_mac(key), "eth0"),),
    )
