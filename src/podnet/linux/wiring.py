"""Materialise a NetworkPlan: what ``podnet plan`` prints becomes links, addresses, routes,
neighbours, FDB entries and sysctls in the node and pod namespaces.

The plan (:mod:`podnet.plugins.plan`) says, per node, what ``ip -d link``, ``ip addr``,
``ip route``, ``ip neigh``, ``bridge fdb`` and ``sysctl`` show on a node of a real cluster running
the plugin, and per pod what its ``eth0`` and routes are. This module performs it, in the order
the kernel needs:

1. the node's own devices (bridges such as ``cni0``, tunnels such as ``flannel.1`` /
   ``vxlan.calico`` / ``tunl0`` / ``cilium_vxlan``, veth pairs such as ``cilium_host`` /
   ``cilium_net``), their MACs, MTUs, masters, addresses, up;
2. every pod: its namespace, the veth pair born with one end (the plan's ``host_if``) in the node
   and the other (``eth0``) in the pod, the host end enslaved to its bridge when the plan says so
   (with hairpin on, as the CNI bridge plugin does), the pod's addresses and routes;
3. the node's sysctls (some name the pods' host interfaces: Calico's ``proxy_arp``), routes
   (some go through the pods' interfaces: Calico's ``/32 dev cali…``), neighbours and FDB entries.

Routes the kernel adds by itself when an address is configured (the connected route of an
address's prefix) are the plan's for display; they are not added again.

Nothing here decides anything: a name, address or route that appears on the machine is the
plan's. The eth0 of a node (the plan's veth "to the underlay") is made by
:mod:`podnet.linux.topology`, which builds the underlay the plan describes.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from podnet.linux import names, netns
from podnet.linux.netlink import Netlink
from podnet.linux.topology import new_namespace, set_sysctls
from podnet.plugins.plan import Link, NodePlan, PodPlan, Route

Progress = Callable[[str], None]

#: Link kinds the kernel must support, per plan link kind.
KERNEL_KINDS = {"vxlan": "vxlan", "geneve": "geneve", "ipip": "ipip", "dummy": "dummy",
                "bridge": "bridge", "veth": "veth"}


def _is_pod_veth(link: Link) -> bool:
    return link.kind == "veth" and bool(link.peer) and str(link.peer).startswith("eth0 of ")


def _is_uplink(link: Link) -> bool:
    return link.name == names.NODE_UPLINK and link.kind == "veth" and not _is_pod_veth(link)


def connected(route: Route, addresses: Mapping[str, Sequence[str]]) -> bool:
    """Whether the kernel makes ``route`` by itself: no gateway, not a blackhole, and its
    destination is the prefix of an address configured on its device."""
    if route.via or route.type != "unicast" or not route.dev or route.dst == "default":
        return False
    try:
        dst = ipaddress.ip_network(route.dst, strict=False)
    except ValueError:
        return False
    for a in addresses.get(route.dev, ()):
        iface = ipaddress.ip_interface(a)
        if iface.network == dst and iface.network.prefixlen < iface.max_prefixlen:
            return True
    return False


def link_kinds(nodes: Iterable[NodePlan]) -> set[str]:
    return {KERNEL_KINDS[link.kind] for n in nodes for link in n.links if link.kind in KERNEL_KINDS}


@dataclass(slots=True)
class Wired:
    """What :func:`wire` made, for the daemon's summary and for later changes."""

    pods: dict[str, str] = field(default_factory=dict)  # NS/NAME → namespace
    seconds: dict[str, float] = field(default_factory=dict)


def _apply_route(nl: Netlink, r: Route) -> None:
    # the route's own network: "default" is 0.0.0.0/0 or ::/0 as the Route says (its gateway's)
    nl.route(str(r.network) if r.dst == "default" else r.dst, via=r.via, dev=r.dev, onlink=r.onlink, type_=r.type, mtu=r.mtu,
             scope=r.scope, src=r.src if r.type == "unicast" and r.dev else None, proto=r.proto)


def node_devices(nl: Netlink, plan: NodePlan) -> None:
    """Step 1: the node's own devices (everything but eth0 and the pods' veths)."""
    made: set[str] = set()
    own = [link for link in plan.links if not _is_pod_veth(link) and not _is_uplink(link)]
    # bridges and plain devices first, tunnels (which name eth0 as their underlay) after
    for link in sorted(own, key=lambda x: 0 if x.kind in ("bridge", "dummy") else 1):
        if link.name in made:
            continue
        if link.kind == "bridge":
            nl.add_bridge(link.name, mtu=link.mtu, mac=link.mac)
        elif link.kind == "dummy":
            nl.add_dummy(link.name, mtu=link.mtu, mac=link.mac)
        elif link.kind == "vxlan":
            nl.add_vxlan(link.name, link.vni or 0, link.port or 8472, local=link.local,
                         dev=names.NODE_UPLINK if not link.external else None, mtu=link.mtu,
                         mac=link.mac, external=link.external)
        elif link.kind == "geneve":
            nl.add_geneve(link.name, link.vni or 0, link.port or 6081, mtu=link.mtu, mac=link.mac,
                          external=link.external)
        elif link.kind == "ipip":
            nl.add_ipip(link.name, mtu=link.mtu)
        elif link.kind == "veth":
            peer = plan.link(link.peer) if link.peer else None
            if peer is None or not link.peer:
                raise ValueError(f"node {plan.name}: veth {link.name} has no peer in the plan")
            nl.add_veth(link.name, link.peer, mtu=link.mtu, mac=link.mac,
                        peer_mtu=peer.mtu, peer_mac=peer.mac)
            made.add(link.peer)
        made.add(link.name)
    for link in own:
        if link.master:
            nl.set(link.name, master=link.master)
    for link in own:
        for a in link.addresses:
            nl.add_addr(link.name, a)
        nl.set(link.name, up=True)


def wire_pod(node_nl: Netlink, cluster: str, node: NodePlan, pod: PodPlan,
             host_link: Link | None) -> str:
    """Step 2 for one pod: its namespace, veth pair, eth0 and routes; returns the namespace."""
    ns_name, _, pod_name = pod.name.partition("/")
    ns = names.pod_ns(cluster, ns_name, pod_name)
    pnl = new_namespace(cluster, ns)
    try:
        node_nl.add_veth(
            pod.host_if, names.POD_IF, ns,
            mtu=host_link.mtu if host_link else pod.eth0.mtu,
            mac=host_link.mac if host_link else None,
            peer_mtu=pod.eth0.mtu, peer_mac=pod.eth0.mac,
        )
        if host_link is not None and host_link.master:
            node_nl.set(pod.host_if, master=host_link.master)
            node_nl.hairpin(pod.host_if)
        node_nl.set(pod.host_if, up=True)
        for a in pod.eth0.addresses:
            pnl.add_addr(names.POD_IF, a)
        pnl.set(names.POD_IF, up=True)
        addrs = {names.POD_IF: list(pod.eth0.addresses)}
        # link-scope routes first: a gateway must be reachable before a route uses it
        for r in sorted(pod.routes, key=lambda r: 0 if not r.via else 1):
            if not connected(r, addrs):
                _apply_route(pnl, r)
        for n in pod.neighbours:
            pnl.neigh(n.ip, n.mac, n.dev, permanent=n.permanent)
    finally:
        pnl.close()
    return ns


def node_tables(nl: Netlink, plan: NodePlan) -> None:
    """Step 3: sysctls, routes, neighbours and FDB entries of the node."""
    set_sysctls(nl.ns, dict(plan.sysctls), optional=True)
    addrs = {link.name: list(link.addresses) for link in plan.links}
    for r in sorted(plan.routes, key=lambda r: 0 if not r.via else 1):
        if not connected(r, addrs):
            _apply_route(nl, r)
    for n in plan.neighbours:
        nl.neigh(n.ip, n.mac, n.dev, permanent=n.permanent)
    for f in plan.fdb:
        nl.fdb(f.mac, f.dev, f.dst)


def wire(
    cluster: str,
    nodes: Sequence[NodePlan],
    pods: Sequence[PodPlan],
    netlinks: Mapping[str, Netlink],
    progress: Progress | None = None,
) -> Wired:
    """Materialise the plan's nodes and pods; ``netlinks`` holds an open socket per node."""
    say = progress or (lambda _m: None)
    out = Wired()
    t0 = time.monotonic()
    for node in nodes:
        say(f"node {node.name}: devices")
        node_devices(netlinks[node.name], node)
    t1 = time.monotonic()
    by_node: dict[str, list[PodPlan]] = {}
    for p in pods:
        by_node.setdefault(p.node, []).append(p)
    for node in nodes:
        host_links = {link.name: link for link in node.links if _is_pod_veth(link)}
        nl = netlinks[node.name]
        for p in by_node.get(node.name, []):
            out.pods[p.name] = wire_pod(nl, cluster, node, p, host_links.get(p.host_if))
        if by_node.get(node.name):
            say(f"node {node.name}: {len(by_node[node.name])} pods wired")
    t2 = time.monotonic()
    for node in nodes:
        node_tables(netlinks[node.name], node)
    t3 = time.monotonic()
    out.seconds = {"devices": t1 - t0, "pods": t2 - t1, "tables": t3 - t2}
    return out


def unwire_pod(node_nl: Netlink, cluster: str, pod: PodPlan) -> None:
    """Remove one pod: its veth (both ends go) and its namespace."""
    node_nl.delete_link(pod.host_if)
    ns_name, _, pod_name = pod.name.partition("/")
    netns.remove(names.pod_ns(cluster, ns_name, pod_name))

