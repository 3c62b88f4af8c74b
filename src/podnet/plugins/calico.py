"""Calico: /26 blocks affine to nodes, routed veths, IPIP/VXLAN/BGP between nodes
(projectcalico/calico: ``cni-plugin/pkg/dataplane/linux``, ``felix/dataplane/linux``
``ipip_mgr.go``/``vxlan_mgr.go``/``route_mgr.go``, ``felix/config/config_params.go``,
``libcalico-go/lib/ipam``, confd's BIRD templates; docs "Configure MTU", "Overlay networking").

What a node gets
----------------
- IPAM: the default IPPool 192.168.0.0/16 (``networking.podSubnet`` when given) cut into /26
  blocks (``blockSize``). A node claims a block and pods take its addresses in ordinal order from
  .0 (Calico reserves neither the network nor the broadcast address of a block). The node's
  ``spec.podCIDR`` is ignored. Upstream picks the block at random and more as blocks fill; podnet
  gives node *i* block *i*, and a second block (the *i*-th from the top of the pool) when the
  first is full — a node never needs more at 110 pods.
- The tunnel address (IPIP or VXLAN pools): calico-node allocates it first, so it is the block's
  .0; ``tunl0`` (MTU host − 20 = 1480) or ``vxlan.calico`` (VNI 4096, UDP 4789, MTU host − 50 =
  1450, a VTEP MAC kept in the Node resource — random upstream, derived from the name here).
- Per pod: ``cali`` + 11 hex of sha1("<ns>.<pod>"), MAC ee:ee:ee:ee:ee:ee, proxy ARP on it
  (``proxy_arp=1``, ``proxy_delay=0``, ``forwarding=1``, ``route_localnet=1``) and the route
  ``<pod>/32 dev cali… scope link``; in the pod, the /32 address with ``default via 169.254.1.1``
  and ``169.254.1.1 dev eth0 scope link``: nothing answers that address but the host's proxy ARP.
- Routes felix programs (protocol 80): ``blackhole <own block>``; per remote block, IPIP
  ``via <node IP> dev tunl0 onlink mtu 1480`` (ProgramClusterRoutes=EnabledIPIPOnly, the
  default), VXLAN ``via <remote tunnel address> dev vxlan.calico onlink mtu 1450`` plus the
  permanent ARP and FDB entries of the remote VTEP; CrossSubnet: ``via <node IP> dev eth0 onlink``
  to nodes on the same subnet. In BGP mode BIRD installs ``<block> via <peer> dev eth0 proto
  bird``; for a peer on another subnet its next hop is resolved recursively (``gateway recursive``,
  ``multihop``): the route points at the router, which knows no pod routes.
- BGP: node-to-node full mesh, AS 64512, TCP 179; each node advertises its blocks (aggregated,
  not per pod).
- natOutgoing (on by default): ``cali-nat-outgoing`` masquerades pool → outside traffic.
- NetworkPolicy: enforced (Felix).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podnet.api.core import Node, Pod
from podnet.api.frozen import FrozenDict
from podnet.cluster.config import ClusterConfig
from podnet.cluster.ipam import IPAMError
from podnet.plugins.context import PlanContext, sort_routes
from podnet.plugins.naming import calico_veth_name
from podnet.plugins.plan import (
    Eth0,
    Fdb,
    Link,
    MasqRule,
    Neighbour,
    NodePlan,
    PodPlan,
    Route,
    local_mac,
)

__all__ = [
    "BgpView",
    "CalicoIPAM",
    "HOST_SIDE_MAC",
    "LINK_LOCAL_GW",
    "bgp_view",
    "node_blocks",
    "node_plan",
    "pod_mtu",
    "pod_plan",
    "tunnel_address",
]

HOST_SIDE_MAC = "ee:ee:ee:ee:ee:ee"
LINK_LOCAL_GW = "169.254.1.1"
IPIP_OVERHEAD = 20
VXLAN_OVERHEAD = 50
VXLAN_VNI = 4096
VXLAN_PORT = 4789
BGP_PORT = 179
FELIX_PROTO = "80"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------------------- blocks


def _pools(config: ClusterConfig) -> list[IPNetwork]:
    return list(config.pod_networks())


def _block_prefix(config: ClusterConfig, pool: IPNetwork) -> int:
    if pool.version == 6:
        return max(pool.prefixlen, 122)
    return max(pool.prefixlen, int(config.plugin.option("blockSize")))


def _block(pool: IPNetwork, prefix: int, index: int) -> IPNetwork:
    size = 1 << (pool.max_prefixlen - prefix)
    base = int(pool.network_address) + index * size
    return ipaddress.ip_network((base, prefix)) if pool.version == 4 else ipaddress.IPv6Network((base, prefix))


def node_blocks(config: ClusterConfig, index: int, n_nodes: int, pool: IPNetwork | None = None) -> tuple[IPNetwork, ...]:
    """The blocks node number ``index`` (of ``n_nodes``) may hold, in the order it fills them:
    block *index*, then block *index* from the top of the pool (when that is no other node's
    first block)."""
    pools = _pools(config)
    if pool is None:
        if not pools:
            return ()
        pool = pools[0]
    prefix = _block_prefix(config, pool)
    count = 1 << (prefix - pool.prefixlen)
    if index >= count:
        return ()
    out = [_block(pool, prefix, index)]
    mirror = count - 1 - index
    if mirror > index and mirror >= n_nodes:
        out.append(_block(pool, prefix, mirror))
    return tuple(out)


def has_tunnel(config: ClusterConfig) -> bool:
    return config.plugin.effective_mode in ("ipip", "vxlan")


def tunnel_address(config: ClusterConfig, index: int, n_nodes: int) -> str | None:
    """The node's tunl0/vxlan.calico address: ordinal 0 of its first IPv4 block."""
    if not has_tunnel(config):
        return None
    v4 = [p for p in _pools(config) if p.version == 4]
    if not v4:
        return None
    blocks = node_blocks(config, index, n_nodes, v4[0])
    return str(blocks[0].network_address) if blocks else None


class CalicoIPAM:
    """Calico IPAM with block affinity: each pod takes the lowest free ordinal of its node's
    blocks (one address per pool, i.e. per IP family)."""

    def __init__(self, nodes: Sequence[Node], config: ClusterConfig) -> None:
        self.config = config
        self.index = {n.metadata.name: i for i, n in enumerate(nodes)}
        self.n = len(nodes)
        self.pools = _pools(config)
        self.used: dict[int, set[int]] = {4: set(), 6: set()}
        self._blocks: dict[tuple[str, int], tuple[IPNetwork, ...]] = {}
        self._cursor: dict[tuple[str, int], int] = {}

    def blocks(self, node: str, pool_index: int) -> tuple[IPNetwork, ...]:
        key = (node, pool_index)
        got = self._blocks.get(key)
        if got is None:
            i = self.index.get(node)
            got = () if i is None else node_blocks(self.config, i, self.n, self.pools[pool_index])
            self._blocks[key] = got
            if i is not None and pool_index == 0:
                # The node's tunnel address (ordinal 0 of its first block) is calico-node's, taken
                # before any pod's; only this node allocates from that block.
                tun = tunnel_address(self.config, i, self.n)
                if tun is not None:
                    self.used[4].add(int(ipaddress.IPv4Address(tun)))
        return got

    def pin(self, ips: Sequence[str]) -> None:
        for ip in ips:
            try:
                a = ipaddress.ip_address(ip)
            except ValueError:
                continue
            self.used[a.version].add(int(a))

    def reclaim(self, pod: Pod, node: Node, ips: Sequence[str]) -> bool:
        name = node.metadata.name
        self.blocks(name, 0)
        if len(ips) != len(self.pools):
            return False
        wanted: list[tuple[int, int]] = []
        for k, ip in enumerate(ips):
            try:
                a = ipaddress.ip_address(ip)
            except ValueError:
                return False
            if int(a) in self.used[a.version] or not any(a in b for b in self.blocks(name, k)):
                return False
            wanted.append((a.version, int(a)))
        for fam, v in wanted:
            self.used[fam].add(v)
        return True

    def allocate(self, pod: Pod, node: Node) -> tuple[str, ...]:
        name = node.metadata.name
        self.blocks(name, 0)
        out: list[str] = []
        taken: list[tuple[int, int]] = []
        for k, pool in enumerate(self.pools):
            value = self._next(name, k, pool.version)
            if value is None:
                for fam, v in taken:
                    self.used[fam].discard(v)
                raise IPAMError(
                    f'plugin type="calico" failed (add): failed to request 1 IPv{pool.version} addresses. '
                    f"IPAM allocated only 0 (node {name} has no free address left in its blocks "
                    f"{', '.join(str(b) for b in self.blocks(name, k)) or 'none: the pool ' + str(pool) + ' has no block left for it'})"
                )
            self.used[pool.version].add(value)
            taken.append((pool.version, value))
            out.append(str(ipaddress.ip_address(value)))
        return tuple(out)

    def _next(self, node: str, k: int, version: int) -> int | None:
        used = self.used[version]
        key = (node, k)
        for block in self.blocks(node, k):
            lo, hi = int(block.network_address), int(block.broadcast_address)
            v = max(self._cursor.get(key, lo), lo)
            if v > hi:
                continue
            while v <= hi and v in used:
                v += 1
            if v <= hi:
                self._cursor[key] = v + 1
                return v
            self._cursor[key] = hi + 1
        return None


# ---------------------------------------------------------------------------- plan


def _overhead(mode: str) -> int:
    return {"ipip": IPIP_OVERHEAD, "vxlan": VXLAN_OVERHEAD}.get(mode, 0)


def pod_mtu(ctx: PlanContext, node: str) -> int:
    """The veth MTU: ``plugin.mtu`` (Calico's ``mtu``/veth_mtu), else auto-detected: the host's
    MTU minus the encapsulation overhead (felix: ipipMTUOverhead 20, vxlanMTUOverhead 50)."""
    if ctx.config.plugin.mtu:
        return ctx.config.plugin.mtu
    return ctx.mtu[node] - _overhead(ctx.config.plugin.effective_mode)


def _n(ctx: PlanContext) -> int:
    return len(ctx.order)


def blocks_in_use(ctx: PlanContext, node: str) -> tuple[ipaddress.IPv4Network, ...]:
    """The node's affine IPv4 blocks: the first always, the second once a pod has an address in it."""
    key = "calico-blocks:" + node
    got = ctx.cache.get(key)
    if got is None:
        pools = [p for p in ctx.config.pod_networks() if p.version == 4]
        blocks = node_blocks(ctx.config, ctx.index(node), _n(ctx), pools[0]) if pools else ()
        v4 = [b for b in blocks if isinstance(b, ipaddress.IPv4Network)]
        keep = v4[:1]
        pods = ctx.pods_by_node.get(node, [])
        if v4 and len(pods) >= v4[0].num_addresses - 1:  # only a full first block spills over
            for extra in v4[1:]:
                if any(ipaddress.ip_address(ip) in extra for p in pods for ip in p.ips if ":" not in ip):
                    keep.append(extra)
        got = tuple(keep)
        ctx.cache[key] = got
    result: tuple[ipaddress.IPv4Network, ...] = got  # type: ignore[assignment]
    return result


def vtep_mac(node: str) -> str:
    return local_mac("vxlan.calico", node)


def _pool_cidr(ctx: PlanContext) -> str:
    pools = ctx.pod_networks_v4()
    return str(pools[0]) if pools else ""


def node_plan(ctx: PlanContext, name: str) -> NodePlan:
    config = ctx.config
    mode = config.plugin.effective_mode
    cross = bool(config.plugin.option("crossSubnet"))
    ip = ctx.ip[name]
    mtu = pod_mtu(ctx, name)
    tun = tunnel_address(config, ctx.index(name), _n(ctx))
    blocks = blocks_in_use(ctx, name)

    links: list[Link] = [ctx.eth0(name)]
    routes: list[Route] = list(ctx.base_routes(name))
    neighbours: list[Neighbour] = []
    fdb: list[Fdb] = []
    warnings: list[str] = []
    sysctls: dict[str, str] = {"net.ipv4.ip_forward": "1"}

    if mode == "ipip":
        links.append(Link("tunl0", "ipip", mtu, (f"{tun}/32",) if tun else (), None))
    elif mode == "vxlan":
        links.append(Link("vxlan.calico", "vxlan", mtu, (f"{tun}/32",) if tun else (), vtep_mac(name),
                          vni=VXLAN_VNI, port=VXLAN_PORT, local=ip))
    for p in ctx.pods_by_node.get(name, []):
        key = ctx.pod_key(p)
        veth = calico_veth_name(p.metadata.namespace, p.metadata.name)
        links.append(Link(veth, "veth", mtu, mac=HOST_SIDE_MAC, peer=f"eth0 of {key}"))
        for pip in p.ips:
            if ":" not in pip:
                routes.append(Route(pip, dev=veth, scope="link"))
        sysctls[f"net.ipv4.conf.{veth}.forwarding"] = "1"
        sysctls[f"net.ipv4.conf.{veth}.proxy_arp"] = "1"
        sysctls[f"net.ipv4.conf.{veth}.route_localnet"] = "1"
        sysctls[f"net.ipv4.neigh.{veth}.proxy_delay"] = "0"
    for b in blocks:
        routes.append(Route(str(b), type="blackhole", proto=FELIX_PROTO if mode != "bgp" else "bird"))

    for other in ctx.remotes(name):
        rip = ctx.ip[other]
        same = ctx.same_segment(name, other)
        for b in blocks_in_use(ctx, other):
            if mode == "bgp":
                if same:
                    routes.append(Route(str(b), via=rip, dev="eth0", proto="bird"))
                else:
                    routes.append(Route(str(b), via=ctx.gateway(name), dev="eth0", proto="bird"))
            elif cross and same:
                routes.append(Route(str(b), via=rip, dev="eth0", proto=FELIX_PROTO, onlink=True))
            elif mode == "ipip":
                routes.append(Route(str(b), via=rip, dev="tunl0", proto=FELIX_PROTO, onlink=True, mtu=mtu))
            else:
                rtun = tunnel_address(config, ctx.index(other), _n(ctx))
                if rtun is None:
                    continue
                routes.append(Route(str(b), via=rtun, dev="vxlan.calico", onlink=True, mtu=mtu))
        if mode == "bgp" and not same:
            warnings.append(
                f"bird: peer {other} ({rip}) is not on this node's subnet {ctx.subnet[name]}: its routes' next hop "
                f"is resolved recursively (gateway recursive) to {ctx.gateway(name)}, a router that has no "
                "route to the pod network"
            )
        if mode == "vxlan" and not (cross and same):
            rtun = tunnel_address(config, ctx.index(other), _n(ctx))
            if rtun is not None:
                neighbours.append(Neighbour(rtun, vtep_mac(other), "vxlan.calico"))
                fdb.append(Fdb(vtep_mac(other), rip, "vxlan.calico"))

    pool = _pool_cidr(ctx)
    nat: list[str] = []
    masq: list[MasqRule] = []
    if pool and config.plugin.option("natOutgoing"):
        nat = [
            "-A POSTROUTING -j cali-POSTROUTING",
            "-A cali-POSTROUTING -j cali-nat-outgoing",
            "-A cali-nat-outgoing -m set --match-set cali40masq-ipam-pools src "
            "-m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully",
        ]
        masq.append(MasqRule((pool,), (pool,), None, nat[2]))

    return NodePlan(
        name=name,
        internal_ip=ip,
        subnet=str(ctx.subnet[name]),
        gateway=ctx.gateway(name),
        pod_cidrs=tuple(str(b) for b in blocks),
        links=tuple(links),
        routes=sort_routes(routes),
        neighbours=tuple(neighbours),
        fdb=tuple(fdb),
        sysctls=FrozenDict(sysctls),
        nat=tuple(nat),
        masquerade=tuple(masq),
        warnings=tuple(warnings),
    )


def pod_plan(ctx: PlanContext, pod: Pod) -> PodPlan:
    node = pod.spec.node_name
    key = ctx.pod_key(pod)
    ip = next((i for i in pod.ips if ":" not in i), pod.ips[0])
    return PodPlan(
        name=key,
        node=node,
        ip=ip,
        eth0=Eth0(tuple(f"{i}/32" for i in pod.ips if ":" not in i), pod_mtu(ctx, node),
                  local_mac("eth0", key)),
        host_if=calico_veth_name(pod.metadata.namespace, pod.metadata.name),
        routes=(Route("default", via=LINK_LOCAL_GW, dev="eth0"), Route(LINK_LOCAL_GW, dev="eth0", scope="link")),
    )


# ---------------------------------------------------------------------------- BGP


@dataclass(frozen=True, slots=True)
class BgpPeer:
    name: str
    address: str
    asn: int
    type: str
    state: str
    info: str
    #: The blocks this peer advertises to the node.
    received: tuple[str, ...]
    #: What the node installs in its kernel for them.
    installed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "as": self.asn,
            "type": self.type,
            "state": self.state,
            "info": self.info,
            "routes_received": list(self.received),
            "routes_installed": list(self.installed),
        }


@dataclass(frozen=True, slots=True)
class BgpNode:
    name: str
    address: str
    asn: int
    router_id: str
    advertises: tuple[str, ...]
    peers: tuple[BgpPeer, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "as": self.asn,
            "router_id": self.router_id,
            "port": BGP_PORT,
            "advertises": list(self.advertises),
            "peers": [p.to_dict() for p in self.peers],
        }


@dataclass(frozen=True, slots=True)
class BgpView:
    """What ``calicoctl node status`` and ``birdc show route`` tell on each node."""

    asn: int
    mesh: bool
    mode: str
    nodes: tuple[BgpNode, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "as": self.asn,
            "node_to_node_mesh": self.mesh,
            "port": BGP_PORT,
            "mode": self.mode,
            "nodes": [n.to_dict() for n in self.nodes],
        }


def bgp_view(ctx: PlanContext, only: Sequence[str] | None = None) -> BgpView:
    """The node-to-node mesh: every node peers with every other on TCP 179 (through the router
    when they are on different subnets: BGP is TCP, it crosses routers), advertises its blocks,
    and installs routes for the blocks it learns."""
    asn = int(ctx.config.plugin.option("asNumber"))
    names = list(only) if only is not None else list(ctx.order)
    out: list[BgpNode] = []
    for name in names:
        plan = node_plan(ctx, name)
        peers: list[BgpPeer] = []
        for other in ctx.remotes(name):
            received = tuple(str(b) for b in blocks_in_use(ctx, other))
            installed = tuple(r.text() for r in plan.routes if r.dst in received)
            peers.append(BgpPeer(other, ctx.ip[other], asn, "node-to-node mesh", "up", "Established",
                                 received, installed))
        out.append(BgpNode(name, ctx.ip[name], asn, ctx.ip[name],
                           tuple(str(b) for b in blocks_in_use(ctx, name)), tuple(peers)))
    return BgpView(asn, True, ctx.config.plugin.effective_mode, tuple(out))
