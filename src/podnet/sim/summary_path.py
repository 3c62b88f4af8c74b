"""The packet's way between pods and nodes, for ``podnet trace``.

The network plugin knows the real path (links, routes, ARP/FDB entries, encapsulation, MTUs):
when :mod:`podnet.plugins.path` is importable, :func:`plugin_path` gives its
:class:`~podnet.plugins.path.PacketPath` as a :class:`Path`. Otherwise (or for what it does not
model, e.g. IPv6) :func:`summary_path` gives a plain account from the cluster config — which
node owns which pod CIDR, whether the plugin encapsulates, the MTUs its defaults give — with the
same stages and the same anchors.

A :class:`Path` marks where the other layers' hops belong (``anchors``: ``service``,
``policy-egress``, ``policy-ingress``), so that the trace splices kube-proxy's and
NetworkPolicy's hops in where they happen to the packet.
"""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from podnet.cluster.config import ClusterConfig
from podnet.cluster.state import ClusterState
from podnet.plugins.path import ANCHORS, shift_anchors
from podnet.sim.endpoints import network
from podnet.sim.hops import Hop, hop_from

__all__ = ["ANCHORS", "Path", "Tunnel", "plugin_path", "plugin_path_module", "summary_path",
           "tunnel_of"]

EndKind = Literal["pod", "node", "outside"]


def plugin_path_module() -> ModuleType | None:
    """:mod:`podnet.plugins.path` when the plugin layer provides it, else None."""
    try:
        return importlib.import_module("podnet.plugins.path")
    except ImportError:
        return None


@dataclass
class Path:
    """Hops of a packet, where the other layers' hops go, and how it ended."""

    hops: list[Hop]
    anchors: dict[str, int | None]
    verdict: Literal["delivered", "dropped"]
    reason: str
    from_plugin: bool = False

    def splice(self, anchor: str, hops: Sequence[Hop]) -> bool:
        """Insert ``hops`` where ``anchor`` belongs (after what an earlier splice put there);
        False when the packet never got there."""
        at = self.anchors.get(anchor)
        if at is None:
            return False
        self.anchors = shift_anchors(self.anchors, anchor, len(hops))
        self.hops[at:at] = list(hops)
        return True

    def before(self, anchor: str) -> list[Hop] | None:
        at = self.anchors.get(anchor)
        return None if at is None else self.hops[:at]


@dataclass(frozen=True, slots=True)
class End:
    """One end of the path: a pod (``name`` = ``NS/NAME``), a node or the outside."""

    kind: EndKind
    name: str
    ip: str
    node: str | None = None


@dataclass(frozen=True, slots=True)
class Xlate:
    """A Service (or hostPort) translated the destination on the way, on ``node`` (None: the
    client's node), and the source the backend sees (None: the client's)."""

    original_dst: str
    node: str | None
    source_ip: str | None = None
    at_socket: bool = False


# ----------------------------------------------------------------------------------- plugin


def plugin_path(mod: ModuleType, plan: Any, src: End, dst: str, size: int | None,
                xl: Xlate | None) -> Path | None:
    """The plugin layer's path (None when it cannot walk this one, e.g. IPv6)."""
    try:
        source = mod.Source("outside" if src.kind == "outside" else src.kind,
                            src.name if src.kind != "outside" else "", src.ip)
        translation = None
        if xl is not None:
            translation = mod.Translation(xl.original_dst, xl.node, xl.source_ip,
                                          True if xl.at_socket else None)
        pp = mod.packet_path(plan, source, dst, size=size, translation=translation)
    except (KeyError, ValueError, AttributeError, TypeError):
        return None
    return Path([hop_from(h) for h in pp.hops], dict(pp.anchors), pp.verdict, pp.reason, True)


# ----------------------------------------------------------------------------------- summary


@dataclass(frozen=True, slots=True)
class Tunnel:
    """How the plugin carries pod traffic between nodes, by its documented defaults."""

    kind: str  # vxlan | geneve | ipip | none
    dev: str
    overhead: int
    vni: int | None = None
    port: int | None = None

    @property
    def encapsulates(self) -> bool:
        return self.kind != "none"


_TUNNELS: dict[tuple[str, str], Tunnel] = {
    ("flannel", "vxlan"): Tunnel("vxlan", "flannel.1", 50, 1, 8472),
    ("calico", "ipip"): Tunnel("ipip", "tunl0", 20),
    ("calico", "vxlan"): Tunnel("vxlan", "vxlan.calico", 50, 4096, 4789),
    ("cilium", "vxlan"): Tunnel("vxlan", "cilium_vxlan", 50, None, 8472),
    ("cilium", "geneve"): Tunnel("geneve", "cilium_geneve", 50, None, 6081),
}


def tunnel_of(config: ClusterConfig) -> Tunnel:
    p = config.plugin
    return _TUNNELS.get((p.name, p.effective_mode), Tunnel("none", "eth0", 0))


def _underlay_mtus(state: ClusterState) -> dict[str, int]:
    """Each configured node's underlay MTU, by name (the first entry of a name wins): a table
    built once per state, so that a hop's lookup is not a pass over thousands of nodes."""
    def build() -> dict[str, int]:
        table: dict[str, int] = {}
        for nc in state.config.nodes:
            table.setdefault(nc.name, nc.mtu)
        return table

    return state.memo("underlay-mtus", build)


def _underlay_mtu(state: ClusterState, node: str) -> int:
    return _underlay_mtus(state).get(node, 1500)


def _tunnel_mtu(state: ClusterState, node: str) -> int:
    config = state.config
    if config.plugin.mtu:
        return config.plugin.mtu
    return _underlay_mtu(state, node) - tunnel_of(config).overhead


def _pod_mtu(state: ClusterState, node: str) -> int:
    """The pod's eth0 MTU: the tunnel's for flannel and calico; cilium keeps the device MTU
    (1500) and puts the tunnel MTU on its routes; host-based pods use the underlay's."""
    config = state.config
    if config.plugin.name in ("flannel", "calico"):
        return _tunnel_mtu(state, node)
    return config.plugin.mtu or _underlay_mtu(state, node)


def _node_ip(state: ClusterState, node: str) -> str:
    n = state.node(node)
    return n.internal_ips[0] if n is not None and n.internal_ips else ""


def _pod_cidr_of(state: ClusterState, node: str, ip: str) -> str:
    n = state.node(node)
    if n is None:
        return ""
    addr = ipaddress.ip_address(ip)
    for cidr in n.pod_cidrs:
        net = network(cidr)
        if addr.version == net.version and addr in net:
            return cidr
    return n.pod_cidrs[0] if n.pod_cidrs else ""


@dataclass
class _Summary:
    state: ClusterState
    size: int | None
    hops: list[Hop] = field(default_factory=list)
    anchors: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(ANCHORS))
    dropped: str = ""

    def mark(self, *names: str) -> None:
        for n in names:
            if self.anchors[n] is None:
                self.anchors[n] = len(self.hops)

    def too_big(self, node: str, mtu: int, dev: str, where: str) -> bool:
        if self.size is not None and self.size > mtu:
            self.dropped = f"needs fragmentation: {self.size} > MTU {mtu} on {where} (DF set)"
            self.hops.append(Hop.make(node, "drop", self.dropped, "", dev=dev, mtu=mtu))
            return True
        return False

    def leave_pod(self, node: str, pod: str, ip: str, dst: str) -> bool:
        mtu = _pod_mtu(self.state, node)
        self.hops.append(Hop.make(node, "pod-egress", f"{pod} ({ip}) sends to {dst} out of eth0 "
                                  "(its default route points at the node)",
                                  "default route dev eth0", dev="eth0", mtu=mtu))
        return not self.too_big(node, mtu, "eth0", f"eth0 of {pod}")

    def between(self, a: str, b: str, dst: str, *, to_pod: bool) -> bool:
        """From node ``a`` to node ``b``: local, routed on the underlay, or encapsulated."""
        cfg = self.state.config
        if a == b:
            return True
        plugin = f"{cfg.plugin.name}:{cfg.plugin.effective_mode}"
        a_ip, b_ip = _node_ip(self.state, a), _node_ip(self.state, b)
        tunnel = tunnel_of(cfg)
        if not to_pod or not tunnel.encapsulates:
            mtu = _underlay_mtu(self.state, a)
            cidr = _pod_cidr_of(self.state, b, dst) if to_pod else ""
            where = f"in {b}'s pod CIDR {cidr}" if cidr else f"on node {b}"
            self.hops.append(Hop.make(a, "route", f"{dst} is {where}: out of eth0 to {b} ({b_ip}) "
                                      f"({plugin})", f"{cidr or dst} via {b_ip} dev eth0",
                                      dev="eth0", mtu=mtu))
            if self.too_big(a, mtu, "eth0", "eth0"):
                return False
            self.hops.append(Hop.make(a, "underlay", f"{a_ip} → {b_ip} on the nodes' network",
                                      "", dev="eth0", mtu=mtu))
            return True
        mtu = _tunnel_mtu(self.state, a)
        cidr = _pod_cidr_of(self.state, b, dst)
        self.hops.append(Hop.make(a, "route", f"{dst} is in {b}'s pod CIDR {cidr}: into "
                                  f"{tunnel.dev} ({plugin})", f"{cidr} dev {tunnel.dev}",
                                  dev=tunnel.dev, mtu=mtu))
        if self.too_big(a, mtu, tunnel.dev, tunnel.dev):
            return False
        outer: dict[str, Any] = {"src": a_ip, "dst": b_ip,
                                 "proto": "ipip" if tunnel.kind == "ipip" else "udp",
                                 "port": tunnel.port}
        how = (f"{tunnel.kind.upper()} VNI {tunnel.vni}, UDP {tunnel.port}"
               if tunnel.vni is not None else f"{tunnel.kind.upper()}, UDP {tunnel.port}"
               if tunnel.port else "IP-in-IP")
        self.hops.append(Hop.make(a, "encap", f"encapsulated: outer {a_ip} → {b_ip} ({how})", "",
                                  dev=tunnel.dev, mtu=mtu, outer=outer, vni=tunnel.vni))
        self.hops.append(Hop.make(a, "underlay", f"{a_ip} → {b_ip} on the nodes' network", "",
                                  dev="eth0", mtu=_underlay_mtu(self.state, a), outer=outer))
        self.hops.append(Hop.make(b, "decap", f"{tunnel.dev} on {b} decapsulates the inner packet "
                                  f"to {dst}", "", dev=tunnel.dev, vni=tunnel.vni, outer=outer))
        return True

    def result(self, delivered_detail: tuple[str, str, str] | None) -> Path:
        if self.dropped:
            return Path(self.hops, self.anchors, "dropped", self.dropped)
        assert delivered_detail is not None
        node, detail, dev = delivered_detail
        self.mark("policy-ingress")
        self.hops.append(Hop.make(node, "deliver", detail, "", dev=dev or None))
        return Path(self.hops, self.anchors, "delivered", "delivered")


def summary_path(state: ClusterState, src: End, dst: End, size: int | None,
                 xl: Xlate | None) -> Path:
    """A plain account of the path from ``src`` to ``dst`` (the backend when ``xl`` says a
    Service translated the packet on the way)."""
    s = _Summary(state, size)
    heading = xl.original_dst if xl is not None else dst.ip
    entry = xl.node if xl is not None and xl.node else None
    if xl is not None and xl.at_socket:
        s.mark("service")
    here: str | None = src.node
    if src.kind == "pod" and src.node:
        if not s.leave_pod(src.node, src.name, src.ip, heading):
            return s.result(None)
    elif src.kind == "outside":
        here = entry or dst.node
        if here:
            s.hops.append(Hop.make(here, "underlay", f"{src.ip} (outside the cluster) → {heading}: "
                                   f"reaches node {here} ({_node_ip(state, here)}) on the nodes' "
                                   "network", "", dev="eth0"))
    if src.kind != "outside":
        if xl is None or not entry or entry == here:
            s.mark("service")
        s.mark("policy-egress")
    if xl is not None and entry and here and entry != here:
        if not s.between(here, entry, heading, to_pod=False):
            return s.result(None)
        here = entry
    s.mark("service")
    if dst.kind == "outside":
        node = here or ""
        s.hops.append(Hop.make(node, "route", f"{dst.ip} is outside the cluster: out of {node}'s "
                               "default route, masqueraded to its address",
                               "default route dev eth0", dev="eth0"))
        return s.result((node, f"{dst.ip} (outside the cluster) receives the packet", ""))
    target = dst.node or here or ""
    if here and target:
        if here == target:
            what = "a pod on this node" if dst.kind == "pod" else "this node"
            s.hops.append(Hop.make(target, "route", f"{dst.ip} is {what}: routed locally",
                                   f"{dst.ip} via the pod's interface" if dst.kind == "pod"
                                   else f"local {dst.ip}"))
        elif not s.between(here, target, dst.ip, to_pod=dst.kind == "pod"):
            return s.result(None)
    if dst.kind == "pod":
        mtu = _pod_mtu(state, target)
        if s.too_big(target, mtu, "eth0", f"eth0 of {dst.name}"):
            return s.result(None)
        return s.result((target, f"{dst.name} receives the packet on eth0 ({dst.ip})", "eth0"))
    return s.result((target, f"{dst.ip} is {target}'s own address: the host network namespace "
                     "receives it", ""))
