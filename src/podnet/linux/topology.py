"""The machine room: the underlay that joins the nodes, the nodes themselves, and the outside.

What kind builds with docker, podnet builds with namespaces (the plan's ``underlay``)::

    pn-<c>-outside            pn-<c>-underlay                  pn-<c>-node-<name>
    eth0 172.18.0.1/16 ─── gw0-outside ┐                   ┌── eth0 172.18.0.2/16 (InternalIP)
                                       ├─ underlay0 bridge ┤
                                       │                   └── eth0 172.18.0.3/16 …
                                       └─ n<i>-<node> ──────

* ``pn-<c>-underlay`` holds one Linux bridge per underlay segment (``underlay0``, ``underlay1``…
  — kind's docker network; several when ``nodes[].subnet`` puts nodes on several subnets), with
  one veth port per node and one towards the outside. It has no address: it is a switch.
* Each node namespace has ``eth0`` (the plan's MAC and MTU) with the node's InternalIP on its
  segment and a default route via the segment's gateway. IP forwarding is on (a node routes for
  its pods) and bridged traffic goes through netfilter (``bridge-nf-call-iptables``, which
  kubeadm requires).
* ``pn-<c>-outside`` holds the gateway address of every segment (172.18.0.1, the docker bridge's
  address in kind, on ``eth0``; ``eth1``… for further segments, as the plan's router interfaces
  are named): it routes between the segments (and nothing else: no pod network is routed by
  it), it is where external clients, LoadBalancer and NodePort traffic from outside the cluster
  come from, and where the emulated internet lives. Traffic that leaves the cluster ends there,
  never beyond the machine's own namespaces.

Everything is created inside namespaces podnet created; nothing touches the host's namespace.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podnet.linux import names, netns
from podnet.linux.netlink import Netlink

Progress = Callable[[str], None]

DEFAULT_SUBNET = "172.18.0.0/16"


def stable_mac(*parts: str) -> str:
    """A locally administered unicast MAC derived from ``parts`` (same inputs, same MAC)."""
    h = hashlib.sha256("/".join(parts).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in h[:5])


@dataclass(frozen=True, slots=True)
class NodeWire:
    """One node on the underlay."""

    name: str
    ip: str
    prefixlen: int
    mtu: int = 1500
    gateway: str = ""
    index: int = 0
    segment: int = 0
    mac: str | None = None
    #: The node's IPv6 InternalIP with its prefix length (a dual-stack plan), else "".
    ip6: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """One L2 segment of the underlay (a bridge), and the outside's address on it."""

    subnet: str
    gateway: str
    prefixlen: int
    mtu: int = 1500
    #: The router's (the outside's) interface on this segment: eth0, eth1, …
    router_if: str = "eth0"
    #: The router's IPv6 address on the segment, with its prefix length (dual stack), else "".
    gateway6: str = ""

    def bridge(self, index: int) -> str:
        return f"{names.UNDERLAY_BRIDGE[:-1]}{index}"


@dataclass(frozen=True, slots=True)
class Topology:
    """The underlay of a cluster: its segments, its nodes, and the outside that routes between
    the segments and plays the world beyond the cluster."""

    cluster: str
    nodes: tuple[NodeWire, ...]
    segments: tuple[Segment, ...]

    @property
    def gateway(self) -> str:
        """The outside's address on the first segment (172.18.0.1 by default): where external
        clients come from."""
        return self.segments[0].gateway

    @property
    def underlay_ns(self) -> str:
        return names.underlay_ns(self.cluster)

    @property
    def outside_ns(self) -> str:
        return names.outside_ns(self.cluster)

    def node_ns(self, node: str) -> str:
        return names.node_ns(self.cluster, node)

    def node(self, name: str) -> NodeWire:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def namespaces(self) -> list[str]:
        return [self.underlay_ns, self.outside_ns, *(self.node_ns(n.name) for n in self.nodes)]

    @classmethod
    def of(
        cls,
        cluster: str,
        nodes: Sequence[tuple[str, str]],
        *,
        subnet: str = DEFAULT_SUBNET,
        mtu: int = 1500,
    ) -> Topology:
        """``nodes`` as (name, InternalIP) pairs, all on ``subnet`` (gateway: its first host)."""
        net = ipaddress.ip_network(subnet, strict=False)
        gateway = str(next(net.hosts()))
        wires = []
        for i, (name, ip) in enumerate(nodes):
            if ipaddress.ip_address(ip) not in net:
                raise ValueError(f"node {name}: InternalIP {ip} is not in the underlay {net}")
            if ip == gateway:
                raise ValueError(f"node {name}: InternalIP {ip} is the underlay gateway's address")
            wires.append(NodeWire(name, ip, net.prefixlen, mtu, gateway, i, 0))
        return cls(cluster, tuple(wires), (Segment(str(net), gateway, net.prefixlen, mtu),))

    @classmethod
    def of_plan(cls, cluster: str, plan: Any) -> Topology:
        """The underlay a :class:`podnet.plugins.plan.NetworkPlan` describes: one segment per
        subnet (the router's interfaces), each node on its subnet with its eth0's MAC and MTU."""
        segments = []
        index_of: dict[str, int] = {}
        for i, rif in enumerate(plan.underlay.interfaces):
            iface = ipaddress.ip_interface(rif.address)
            segments.append(Segment(str(rif.subnet), str(iface.ip), iface.network.prefixlen,
                                    rif.mtu, rif.name, rif.address6 or ""))
            index_of[str(ipaddress.ip_network(rif.subnet, strict=False))] = i
        wires = []
        for i, name in enumerate(plan.node_names):
            node = plan.node(name)
            seg = index_of[str(ipaddress.ip_network(node.subnet, strict=False))]
            eth0 = node.link(names.NODE_UPLINK)
            ip6 = next((a for a in (eth0.addresses if eth0 is not None else ()) if ":" in a), "")
            wires.append(NodeWire(
                name, node.internal_ip, segments[seg].prefixlen,
                eth0.mtu if eth0 is not None else segments[seg].mtu, node.gateway, i, seg,
                eth0.mac if eth0 is not None else None, ip6,
            ))
        return cls(cluster, tuple(wires), tuple(segments))


def _mark(nl: Netlink, cluster: str) -> None:
    """``lo`` up, with the ``podnet:<cluster>`` alias that marks the namespace as podnet's."""
    nl.set("lo", up=True, alias=names.marker(cluster))


def new_namespace(cluster: str, ns: str) -> Netlink:
    """Create ``ns``, mark it, and return a netlink socket inside it."""
    netns.create(ns)
    nl = Netlink(ns)
    _mark(nl, cluster)
    return nl


def write_etc(ns: str, files: Mapping[str, str]) -> None:
    """``/etc/netns/<ns>/<file>``: what ``ip netns exec`` shows the namespace's processes
    in place of ``/etc/<file>`` (resolv.conf, hosts)."""
    d = os.path.join(netns.ETC_NETNS, ns)
    os.makedirs(d, exist_ok=True)
    for name, text in files.items():
        tmp = os.path.join(d, f".{name}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(d, name))


def remove_etc(ns: str) -> bool:
    d = os.path.join(netns.ETC_NETNS, ns)
    if not os.path.isdir(d):
        return False
    shutil.rmtree(d, ignore_errors=True)
    return True


def node_sysctls(ipv6: bool = False) -> dict[str, str]:
    out = {
        "net.ipv4.ip_forward": "1",
        "net.ipv4.conf.all.forwarding": "1",
        "net.bridge.bridge-nf-call-iptables": "1",
        "net.bridge.bridge-nf-call-ip6tables": "1",
        "net.ipv4.conf.all.rp_filter": "0",
        "net.ipv4.conf.default.rp_filter": "0",
    }
    if ipv6:
        out["net.ipv6.conf.all.forwarding"] = "1"
    return out


def set_sysctls(ns: str, values: Mapping[str, str | int], *, optional: bool = False) -> list[str]:
    """Write ``values`` in ``ns``; with ``optional``, keys the kernel lacks are returned, not
    raised."""
    missing = []
    with netns.enter(ns):
        for key, value in values.items():
            try:
                netns.write_sysctl(key, value)
            except FileNotFoundError:
                if not optional and not key.startswith("net.bridge."):
                    raise
                missing.append(key)
    return missing


def build(topo: Topology, progress: Progress | None = None) -> dict[str, Netlink]:
    """Create the underlay, the outside and every node namespace, wired; returns an open
    netlink socket per node namespace (keyed by node name) for the plugin to continue with."""
    say = progress or (lambda _m: None)
    cluster = topo.cluster
    say(f"underlay {topo.underlay_ns}")
    under = new_namespace(cluster, topo.underlay_ns)
    nodes: dict[str, Netlink] = {}
    try:
        for i, seg in enumerate(topo.segments):
            under.add_bridge(seg.bridge(i), mtu=seg.mtu)
            under.up(seg.bridge(i))
        set_sysctls(topo.underlay_ns, {
            "net.bridge.bridge-nf-call-iptables": "0",
            "net.bridge.bridge-nf-call-ip6tables": "0",
            "net.ipv4.ip_forward": "0",
        }, optional=True)

        # the outside: the gateway of every segment, and the router between them
        say(f"outside {topo.outside_ns} ({topo.gateway})")
        outside = new_namespace(cluster, topo.outside_ns)
        try:
            for i, seg in enumerate(topo.segments):
                port = names.ifname(f"gw{i}-outside")
                under.add_veth(port, seg.router_if, topo.outside_ns, mtu=seg.mtu,
                               peer_mac=stable_mac(cluster, "outside", seg.subnet))
                under.set(port, master=seg.bridge(i), up=True)
                outside.add_addr(seg.router_if, f"{seg.gateway}/{seg.prefixlen}")
                if seg.gateway6:
                    outside.add_addr(seg.router_if, seg.gateway6)
                outside.up(seg.router_if)
        finally:
            outside.close()
        set_sysctls(topo.outside_ns, {"net.ipv4.ip_forward": "1"})
        if any(seg.gateway6 for seg in topo.segments):
            set_sysctls(topo.outside_ns, {"net.ipv6.conf.all.forwarding": "1"})
        write_etc(topo.outside_ns, {"resolv.conf": "nameserver 127.0.0.1\n"})

        for wire in topo.nodes:
            ns = topo.node_ns(wire.name)
            say(f"node {wire.name}: {ns} ({wire.ip})")
            nl = new_namespace(cluster, ns)
            nodes[wire.name] = nl
            port = names.underlay_port(wire.index, wire.name)
            under.add_veth(port, names.NODE_UPLINK, ns, mtu=wire.mtu,
                           peer_mac=wire.mac or stable_mac(cluster, "node", wire.name))
            under.set(port, master=topo.segments[wire.segment].bridge(wire.segment), up=True)
            nl.add_addr(names.NODE_UPLINK, f"{wire.ip}/{wire.prefixlen}")
            gateway6 = topo.segments[wire.segment].gateway6
            if wire.ip6:
                nl.add_addr(names.NODE_UPLINK, wire.ip6)
            nl.up(names.NODE_UPLINK)
            nl.route("default", via=wire.gateway or topo.segments[wire.segment].gateway,
                     dev=names.NODE_UPLINK)
            if wire.ip6 and gateway6:
                nl.route("::/0", via=gateway6.split("/")[0], dev=names.NODE_UPLINK)
            set_sysctls(ns, node_sysctls(bool(wire.ip6)), optional=True)
            # A node resolves through the emulated internet in the outside namespace, never
            # through the machine's own resolver.
            write_etc(ns, {"resolv.conf": f"nameserver {topo.segments[wire.segment].gateway}\n"})
    except BaseException:
        for nl in nodes.values():
            nl.close()
        raise
    finally:
        under.close()
    return nodes
