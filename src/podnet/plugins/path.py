"""The path of one packet through a NetworkPlan, hop by hop (pure).

:func:`packet_path` walks a packet from a pod, a node or the outside to a destination address the
way the kernel and the plugin would: the pod's route, its veth, the bridge or the node's routing
table (longest prefix), VXLAN/Geneve/IPIP encapsulation with the ARP and FDB entries that pick
the remote VTEP (or Cilium's BPF tunnel map), the underlay (and the router between subnets),
decapsulation, and delivery into the destination pod's ``eth0``. With ``size`` (the IP packet's
bytes, DF set) the first device or route whose MTU is smaller drops it — ``needs fragmentation:
1472 > MTU 1450 on flannel.1`` — and a tunnel whose outer packet would not fit the underlay
drops it at the encapsulation, as the kernel's tunnel PMTU check does. Every drop names the hop,
the route, entry or rule, and why.

Services and policy belong to other layers; the path leaves room for them. ``translation``
says that a Service was translated to ``dst`` (the backend) on the way: the packet first travels
towards ``original_dst`` until it meets the translating node's netfilter (or is translated in the
pod's socket, Cilium's socket LB) and continues to the backend from there, with the source the
backend sees. :class:`PacketPath` marks where the Service and policy hops go (``anchors``) and
:meth:`PacketPath.splice` inserts them there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from podnet.plugins.plan import Link, NetworkPlan, NodePlan, PodPlan, Route

__all__ = [
    "ANCHORS",
    "DEFAULT_OUTSIDE_CLIENT",
    "Hop",
    "Outer",
    "PacketPath",
    "Source",
    "Translation",
    "masquerade_address",
    "packet_path",
    "parse_source",
    "source_address",
]

Stage = Literal[
    "pod-egress", "veth", "bridge", "route", "service", "policy-egress", "policy-ingress",
    "encap", "underlay", "decap", "deliver", "drop",
]
#: Where other layers' hops go, in the order they happen to a packet.
ANCHORS = ("service", "policy-egress", "policy-ingress")
#: A client on the internet when none is named (TEST-NET-3).
DEFAULT_OUTSIDE_CLIENT = "203.0.113.10"
ROUTER = "router"
OUTSIDE = "outside"
_MAX_STEPS = 64
_OVERHEAD = {"vxlan": 50, "geneve": 50, "ipip": 20}


@dataclass(frozen=True, slots=True)
class Outer:
    """The outer header of an encapsulated packet."""

    src: str
    dst: str
    proto: str  # udp | ipip
    port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "proto": self.proto, "port": self.port}


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a packet. ``node`` is a node name, ``router`` or ``outside``."""

    node: str
    stage: str
    detail: str
    rule: str = ""
    dev: str | None = None
    mtu: int | None = None
    outer: Outer | None = None
    vni: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"node": self.node, "stage": self.stage, "detail": self.detail, "rule": self.rule}
        if self.dev is not None:
            out["dev"] = self.dev
        if self.mtu is not None:
            out["mtu"] = self.mtu
        if self.outer is not None:
            out["outer"] = self.outer.to_dict()
        if self.vni is not None:
            out["vni"] = self.vni
        return out


@dataclass(frozen=True, slots=True)
class Source:
    """Where a packet starts: a pod (``NS/NAME``), a node (its own network namespace, also that
    of its host-network pods) or a client outside the cluster."""

    kind: Literal["pod", "node", "outside"]
    name: str
    ip: str

    @property
    def key(self) -> str:
        return {"pod": self.name, "node": f"node/{self.name}"}.get(self.kind, self.ip)


@dataclass(frozen=True, slots=True)
class Translation:
    """A Service translated the packet's destination to the backend on the way."""

    #: The address the client sent to (a ClusterIP, a node IP with a NodePort, an LB IP…).
    original_dst: str
    #: The node whose netfilter (or BPF) translates: None = the client's own node for a pod or
    #: node client; for an outside client, the node owning ``original_dst``.
    node: str | None = None
    #: The source address the backend sees (masquerade); None = the client's.
    source_ip: str | None = None
    #: Translated in the client's socket at connect() (Cilium's socket LB); None = decided from
    #: the plan: socket LB when the plugin balances Services and the client is a pod or node.
    at_socket: bool | None = None


def shift_anchors(
    anchors: Mapping[str, int | None], anchor: str, count: int
) -> dict[str, int | None]:
    """Anchor positions after ``count`` hops are inserted at ``anchor``: that anchor and every
    later one (by position, then by ANCHORS order at the same position) move along."""
    at = anchors[anchor]
    assert at is not None
    rank = ANCHORS.index(anchor)
    moved: dict[str, int | None] = {}
    for name, idx in anchors.items():
        if idx is None:
            moved[name] = None
        elif name == anchor or idx > at or (idx == at and ANCHORS.index(name) > rank):
            moved[name] = idx + count
        else:
            moved[name] = idx
    return moved


@dataclass(frozen=True, slots=True)
class PacketPath:
    src: Source
    dst: str
    hops: tuple[Hop, ...]
    verdict: Literal["delivered", "dropped"]
    reason: str
    #: ``NS/NAME``, ``node/NAME``, ``outside`` or ``router`` when delivered.
    delivered_to: str | None
    #: Hop index where each of :data:`ANCHORS` goes (None: the packet never got there).
    anchors: dict[str, int | None] = field(default_factory=dict)
    size: int | None = None

    @property
    def dropped_at(self) -> Hop | None:
        return self.hops[-1] if self.verdict == "dropped" and self.hops else None

    def splice(self, anchor: str, hops: Sequence[Hop]) -> PacketPath:
        """The path with ``hops`` inserted where ``anchor`` belongs (after what an earlier
        splice put there); later anchors move along."""
        at = self.anchors.get(anchor)
        if at is None:
            raise ValueError(f"the packet never reaches the {anchor} point of this path")
        moved = shift_anchors(self.anchors, anchor, len(hops))
        return replace(self, hops=self.hops[:at] + tuple(hops) + self.hops[at:], anchors=moved)

    def before(self, anchor: str) -> tuple[Hop, ...]:
        """The hops before ``anchor`` (e.g. up to where kube-proxy rejects a connection)."""
        at = self.anchors.get(anchor)
        return self.hops if at is None else self.hops[:at]

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.src.key,
            "to": self.dst,
            "verdict": self.verdict,
            "reason": self.reason,
            "delivered_to": self.delivered_to,
            "size": self.size,
            "hops": [h.to_dict() for h in self.hops],
        }


# ---------------------------------------------------------------------------- helpers


def parse_source(plan: NetworkPlan, text: str) -> Source:
    """``NS/POD``, ``pod/NS/POD``, ``node/NAME``, ``outside`` or an address (a pod's, a node's or
    an outside client's)."""
    if text.startswith("pod/"):
        text = text[4:]
    if text.startswith("node/"):
        name = text[5:]
        return Source("node", name, plan.node(name).internal_ip)
    if text == OUTSIDE:
        return Source("outside", "", DEFAULT_OUTSIDE_CLIENT)
    try:
        ip = str(ipaddress.ip_address(text))
    except ValueError:
        ip = ""
    if ip:
        owner = plan.owner_of(ip)
        if owner is None:
            return Source("outside", "", ip)
        return Source("pod", owner[1], ip) if owner[0] == "pod" else Source("node", owner[1], ip)
    if text.count("/") == 1:
        if plan.has_pod(text):
            return Source("pod", text, plan.pod(text).ip)
        host = _host_network_node(plan, text)
        if host is not None:
            return Source("node", host, plan.node(host).internal_ip)
        raise KeyError(f'pod "{text}" not found or has no address')
    raise KeyError(f'cannot tell what "{text}" is: use NS/POD, node/NAME, outside or an IP address')


def _host_network_node(plan: NetworkPlan, key: str) -> str | None:
    from podnet.plugins.build import context_of

    ns, _, name = key.partition("/")
    pod = context_of(plan).state.pod(ns, name)
    if pod is not None and pod.spec.host_network and pod.spec.node_name:
        return pod.spec.node_name
    return None


def _lpm(routes: Sequence[Route], dst: str) -> Route | None:
    addr = ipaddress.ip_address(dst)
    best: Route | None = None
    best_len = -1
    for r in routes:
        if r.version != addr.version:  # an IPv6 route of a dual-stack plan: not parsed at all
            continue
        net = r.network
        if addr in net and net.prefixlen > best_len:
            best, best_len = r, net.prefixlen
    return best


def _addr(cidr: str) -> str:
    return cidr.split("/")[0]


def source_address(plan: NetworkPlan, node: str, dst: str) -> str:
    """The source address the node's kernel picks for a packet to ``dst`` (the route's ``src``,
    else the outgoing device's address, else the node's InternalIP) — what a masquerade on the
    way out of ``node`` rewrites a client's address to."""
    np = plan.node(node)
    route = _lpm(np.routes, dst)
    if route is None:
        return np.internal_ip
    if route.src:
        return route.src
    link = np.link(route.dev) if route.dev else None
    if link is not None and link.addresses:
        return _addr(link.addresses[0])
    return np.internal_ip


def masquerade_address(plan: NetworkPlan) -> Callable[[str, Any], str]:
    """For ``proxy.connect.outcome(masquerade_address=…)``: the address a masqueraded connection
    leaves ``node`` with towards ``backend`` (its ``ip``)."""

    def address(node: str, backend: Any) -> str:
        ip = getattr(backend, "ip", None)
        if not ip:
            return plan.node(node).internal_ip
        return source_address(plan, node, str(ip))

    return address


# ---------------------------------------------------------------------------- the walk


class _Done(Exception):
    pass


@dataclass(slots=True)
class _Encap:
    kind: str  # vxlan | geneve | ipip
    outer: Outer
    vni: int | None
    dev: str

    @property
    def overhead(self) -> int:
        return _OVERHEAD[self.kind]


class _Walk:
    def __init__(self, plan: NetworkPlan, src: Source, dst: str, size: int | None,
                 translation: Translation | None) -> None:
        self.plan = plan
        self.source = src
        self.src = src.ip
        self.dst = dst
        self.size = size
        self.translation = translation
        self.pending: Translation | None = None
        self.hops: list[Hop] = []
        self.anchors: dict[str, int | None] = {a: None for a in ANCHORS}
        self.verdict: Literal["delivered", "dropped"] = "dropped"
        self.reason = ""
        self.delivered_to: str | None = None
        self.steps = 0
        self.cilium = plan.plugin.name == "cilium"

    # -------------------------------------------------------------- bookkeeping

    def hop(self, node: str, stage: str, detail: str, rule: str = "", **extra: Any) -> None:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            self.drop(node, "the packet loops: it went through more than 64 hops", rule)
        self.hops.append(Hop(node, stage, detail, rule, **extra))

    def anchor(self, name: str) -> None:
        if self.anchors[name] is None:
            self.anchors[name] = len(self.hops)

    def drop(self, node: str, reason: str, rule: str = "", **extra: Any) -> None:
        self.hops.append(Hop(node, "drop", reason, rule, **extra))
        self.verdict = "dropped"
        self.reason = reason
        raise _Done

    def deliver(self, node: str, to: str, detail: str, **extra: Any) -> None:
        self.anchor("policy-ingress")
        self.hops.append(Hop(node, "deliver", detail, "", **extra))
        self.verdict = "delivered"
        self.reason = f"delivered to {to}"
        self.delivered_to = to
        raise _Done

    def check_mtu(self, node: str, mtu: int | None, dev: str, where: str, rule: str = "",
                  size: int | None = None) -> None:
        size = self.size if size is None else size
        if size is not None and mtu is not None and size > mtu:
            self.drop(node, f"needs fragmentation: {size} > MTU {mtu} on {where} (DF set)", rule, dev=dev, mtu=mtu)

    # -------------------------------------------------------------- translation

    def translate_here(self, node: str | None, at_socket: bool = False) -> bool:
        t = self.pending
        if t is None:
            return False
        if not at_socket:
            target = t.node
            if target is None and self.source.kind != "outside":
                target = self._client_node()
            if target is None:
                owner = self.plan.owner_of(t.original_dst)
                target = owner[1] if owner is not None and owner[0] == "node" else None
            if target != node:
                return False
        self.anchor("service")
        self.pending = None
        if t.source_ip:
            self.src = t.source_ip
        return True

    def _client_node(self) -> str | None:
        if self.source.kind == "node":
            return self.source.name
        if self.source.kind == "pod":
            return self.plan.pod(self.source.name).node
        return None

    @property
    def heading_to(self) -> str:
        """Where the packet is addressed right now (the Service address before translation)."""
        return self.pending.original_dst if self.pending is not None else self.dst

    # -------------------------------------------------------------- sources

    def run(self) -> None:
        t = self.translation
        try:
            if t is not None:
                at_socket = t.at_socket
                if at_socket is None:
                    at_socket = self.plan.plugin.service_proxy == "socket-lb" and self.source.kind != "outside"
                self.pending = t
                if at_socket:
                    self.translate_here(None, at_socket=True)
            if self.source.kind == "pod":
                self.from_pod(self.plan.pod(self.source.name))
            elif self.source.kind == "node":
                node = self.source.name
                self.translate_here(node)
                if t is None or not t.source_ip:
                    # A local process's socket gets the address the kernel picks for the route.
                    self.src = source_address(self.plan, node, self.heading_to)
                if self.pending is None:
                    self.anchor("service")
                self.anchor("policy-egress")
                self.route_at(node, None)
            else:
                self.hop(ROUTER, "underlay", f"{self.src} (outside the cluster) → {self.heading_to}: enters "
                         "through the router's uplink", "", dev="uplink")
                self.router_forward(None)
        except _Done:
            return

    def from_pod(self, pod: PodPlan) -> None:
        node = pod.node
        np = self.plan.node(node)
        dst = self.heading_to
        route = _lpm(pod.routes, dst)
        if route is None:
            self.drop(node, f"{pod.name} has no route to {dst}", dev="eth0")
        assert route is not None
        mtu = min(pod.eth0.mtu, route.mtu or pod.eth0.mtu)
        self.hop(node, "pod-egress", f"{pod.name} ({self.src}) sends to {dst} out of eth0", route.text(),
                 dev="eth0", mtu=mtu)
        where = f"eth0 of {pod.name}" + (" (the route's mtu)" if route.mtu and route.mtu < pod.eth0.mtu else "")
        self.check_mtu(node, mtu, "eth0", where, route.text())
        link = np.link(pod.host_if)
        host_mtu = link.mtu if link is not None else None
        via = f" via {route.via}" if route.via else ""
        if self.plan.plugin.name == "calico":
            detail = (f"eth0 → {pod.host_if} on {node}: the gateway {route.via} is answered by proxy ARP on "
                      f"{pod.host_if} (MAC ee:ee:ee:ee:ee:ee)")
            rule = f"net.ipv4.conf.{pod.host_if}.proxy_arp=1"
        elif self.plan.plugin.name == "host":
            detail = (f"eth0 → {pod.host_if} on {node}: {route.via} resolves through the pod's permanent "
                      f"ARP entry to {pod.host_if}'s MAC")
            rule = pod.neighbours[0].text() if pod.neighbours else ""
        elif self.cilium:
            detail = f"eth0 → {pod.host_if} on {node}: bpf_lxc (from-container) takes the packet{via}"
            rule = "tc ingress bpf_lxc.o:cil_from_container"
        else:
            detail = f"eth0 → {pod.host_if} on {node} (the host end of the pod's veth)"
            rule = ""
        self.hop(node, "veth", detail, rule, dev=pod.host_if, mtu=host_mtu)

        if link is not None and link.master:
            bridge = link.master
            if route.via is None and self.pending is None:
                target = self._pod_on(node, self.dst)
                self.anchor("service")
                self.anchor("policy-egress")
                if target is None:
                    self.drop(node, f"no pod on {bridge} answers ARP for {self.dst}: host unreachable",
                              route.text(), dev=bridge)
                assert target is not None
                self.hop(node, "bridge", f"{bridge} forwards the frame to {target.host_if}, the port where "
                         f"{target.name}'s MAC was learned (same subnet: no routing)",
                         f"bridge fdb: {target.eth0.mac} dev {target.host_if} master {bridge}", dev=bridge)
                self.deliver_pod(node, target)
            gw = route.via or ""
            self.hop(node, "bridge", f"{bridge}: the frame is for the gateway {gw}, the bridge's own address: "
                     "up to the host's routing", f"{gw} is {bridge}'s address", dev=bridge)
        self.translate_here(node)
        if self.pending is None:
            self.anchor("service")
        self.anchor("policy-egress")
        if self.cilium:
            self.cilium_forward(node, from_pod=True)
        self.route_at(node, pod.host_if)

    # -------------------------------------------------------------- on a node

    def _pod_on(self, node: str, ip: str) -> PodPlan | None:
        owner = self.plan.owner_of(ip)
        if owner is None or owner[0] != "pod":
            return None
        pod = self.plan.pod(owner[1])
        return pod if pod.node == node else None

    def deliver_pod(self, node: str, pod: PodPlan) -> None:
        self.check_mtu(node, pod.eth0.mtu, "eth0", f"eth0 of {pod.name}")
        self.deliver(node, pod.name, f"{pod.name} receives the packet on eth0 ({pod.ip})", dev="eth0",
                     mtu=pod.eth0.mtu)

    def route_at(self, node: str, in_dev: str | None) -> None:
        np = self.plan.node(node)
        self.translate_here(node)
        dst = self.heading_to
        if self.pending is None:
            self.anchor("service")
        local = np.local_addresses
        if dst in local:
            self.deliver(node, f"node/{node}", f"{dst} is {node}'s own address (on {local[dst]}): the host "
                         "network namespace receives it", dev=local[dst])
        route = _lpm(np.routes, dst)
        if route is None:
            self.drop(node, f"{node} has no route to {dst}: network unreachable")
        assert route is not None
        if route.type == "blackhole":
            self.drop(node, f"{dst} falls in {node}'s own block {route.dst} but no pod there has it: the "
                      "blackhole route drops it", route.text())
        dev = route.dev or ""
        link = np.link(dev)
        mtu = _min(link.mtu if link else None, route.mtu)
        if link is not None and link.kind == "bridge":
            target = self._pod_on(node, dst)
            self.hop(node, "route", f"{dst} matches {route.dst} → {dev}", route.text(), dev=dev, mtu=mtu)
            self.check_mtu(node, mtu, dev, dev, route.text())
            if target is None:
                self.drop(node, f"no pod on {dev} answers ARP for {dst}: host unreachable", route.text(), dev=dev)
            assert target is not None
            self.hop(node, "bridge", f"{dev} forwards the frame to {target.host_if} ({target.name})",
                     f"bridge fdb: {target.eth0.mac} dev {target.host_if} master {dev}", dev=target.host_if)
            self.deliver_pod(node, target)
        if link is not None and link.kind == "veth" and (link.peer or "").startswith("eth0 of "):
            target = self._pod_on(node, dst)
            self.hop(node, "route", f"{dst} matches {route.dst} → {dev}", route.text(), dev=dev, mtu=mtu)
            self.check_mtu(node, mtu, dev, dev, route.text())
            if target is None or target.host_if != dev:
                self.drop(node, f"{dev} leads to {(link.peer or '')[8:]}, which does not have {dst}", route.text())
            assert target is not None
            self.deliver_pod(node, target)
        if dev == "cilium_host":
            self.hop(node, "route", f"{dst} matches {route.dst} → cilium_host: handed to Cilium's BPF "
                     "datapath", route.text(), dev=dev, mtu=mtu)
            self.check_mtu(node, mtu, dev, dev + (" (the route's mtu)" if route.mtu else ""), route.text())
            self.cilium_forward(node, from_pod=False)
            self.drop(node, f"Cilium has no endpoint and no tunnel entry for {dst}", route.text())
        if link is not None and link.kind in ("vxlan", "geneve") and not link.external:
            self.vxlan_encap(node, np, route, link)
        if link is not None and link.kind == "ipip":
            self.ipip_encap(node, np, route, link)
        if dev == "eth0":
            self.out_eth0(node, np, route, in_dev)
        self.drop(node, f"{node} routes {dst} to {dev or route.type}, which leads nowhere", route.text())

    def out_eth0(self, node: str, np: NodePlan, route: Route, in_dev: str | None) -> None:
        dst = self.heading_to
        next_hop = route.via or dst
        eth0 = np.link("eth0")
        mtu = _min(eth0.mtu if eth0 else None, route.mtu)
        what = f"via {route.via}" if route.via else "directly (on the link)"
        self.hop(node, "route", f"{dst} matches {route.dst}: out of eth0 {what}", route.text(), dev="eth0", mtu=mtu)
        self.check_mtu(node, mtu, "eth0", "eth0", route.text())
        for m in np.masquerade:
            if self.src != np.internal_ip and m.applies(self.src, dst, "eth0"):
                old = self.src
                self.src = np.internal_ip
                self.hop(node, "route", f"masquerade: source {old} → {self.src} (leaving the cluster network)",
                         m.rule, dev="eth0")
                break
        self.underlay_send(node, next_hop, None)

    # -------------------------------------------------------------- tunnels

    def vxlan_encap(self, node: str, np: NodePlan, route: Route, link: Link) -> None:
        dst = self.heading_to
        mtu = _min(link.mtu, route.mtu)
        self.hop(node, "route", f"{dst} matches {route.dst} → {link.name}", route.text(), dev=link.name, mtu=mtu)
        self.check_mtu(node, mtu, link.name, link.name, route.text())
        gw = route.via or dst
        neigh = next((n for n in np.neighbours if n.ip == gw and n.dev == link.name), None)
        if neigh is None:
            self.drop(node, f"no ARP entry for {gw} on {link.name}: the VTEP MAC of the remote node is unknown",
                      route.text(), dev=link.name)
        assert neigh is not None
        fdb = next((f for f in np.fdb if f.mac == neigh.mac and f.dev == link.name), None)
        if fdb is None:
            self.drop(node, f"no FDB entry for {neigh.mac} on {link.name}: which node owns that VTEP is unknown",
                      neigh.text(), dev=link.name)
        assert fdb is not None
        outer = Outer(link.local or np.internal_ip, fdb.dst, "udp", link.port)
        encap = _Encap(link.kind, outer, link.vni, link.name)
        self.hop(node, "encap", f"VXLAN VNI {link.vni}: inner {self.src} → {dst} to VTEP MAC {neigh.mac} "
                 f"({gw}); outer {outer.src} → {outer.dst} UDP {link.port}", f"{neigh.text()}; {fdb.text()}",
                 dev=link.name, mtu=link.mtu, outer=outer, vni=link.vni)
        self.send_outer(node, np, encap)

    def ipip_encap(self, node: str, np: NodePlan, route: Route, link: Link) -> None:
        dst = self.heading_to
        mtu = _min(link.mtu, route.mtu)
        self.hop(node, "route", f"{dst} matches {route.dst} → {link.name}", route.text(), dev=link.name, mtu=mtu)
        self.check_mtu(node, mtu, link.name, link.name, route.text())
        remote = route.via or dst
        outer = Outer(np.internal_ip, remote, "ipip")
        encap = _Encap("ipip", outer, None, link.name)
        self.hop(node, "encap", f"IP-in-IP: inner {self.src} → {dst}; outer {outer.src} → {outer.dst} "
                 "(IP protocol 4)", route.text(), dev=link.name, mtu=link.mtu, outer=outer)
        self.send_outer(node, np, encap)

    def send_outer(self, node: str, np: NodePlan, encap: _Encap) -> None:
        outer = encap.outer
        route = _lpm(np.routes, outer.dst)
        eth0 = np.link("eth0")
        if route is None or route.dev != "eth0" or eth0 is None:
            self.drop(node, f"{node} has no underlay route to the tunnel endpoint {outer.dst}", dev=encap.dev)
        assert route is not None and eth0 is not None
        if self.size is not None and self.size + encap.overhead > eth0.mtu:
            self.drop(node, f"needs fragmentation: {self.size} + {encap.overhead} bytes of {encap.kind.upper()} "
                      f"= {self.size + encap.overhead} > MTU {eth0.mtu} on eth0 (DF set: the tunnel reports "
                      f"MTU {eth0.mtu - encap.overhead} back to the sender)", route.text(), dev=encap.dev,
                      mtu=eth0.mtu)
        self.underlay_send(node, route.via or outer.dst, encap)

    def decap(self, node: str, encap: _Encap) -> None:
        np = self.plan.node(node)
        outer = encap.outer
        if encap.kind == "ipip":
            link = next((lk for lk in np.links if lk.kind == "ipip"), None)
        else:
            link = next((lk for lk in np.links if lk.kind == encap.kind and lk.port == outer.port), None)
        if link is None:
            what = "IP protocol 4" if encap.kind == "ipip" else f"UDP {outer.port}"
            self.drop(node, f"no tunnel device on {node} takes {what}: the packet is discarded", dev="eth0")
        assert link is not None
        if not link.external and link.vni != encap.vni:
            self.drop(node, f"{link.name} has VNI {link.vni}, the packet carries {encap.vni}", dev=link.name)
        label = "IP-in-IP" if encap.kind == "ipip" else f"{encap.kind.upper()} VNI {encap.vni}"
        self.hop(node, "decap", f"{link.name} decapsulates {label}: inner {self.src} → {self.heading_to}", "",
                 dev=link.name, mtu=link.mtu, outer=outer, vni=encap.vni)
        if self.cilium:
            self.cilium_forward(node, from_pod=False, from_overlay=True)
            if self.heading_to not in np.local_addresses:
                self.drop(node, f"bpf_overlay: {self.heading_to} is no endpoint of {node}", dev=link.name)
        self.route_at(node, link.name)

    # -------------------------------------------------------------- Cilium's BPF datapath

    def cilium_forward(self, node: str, from_pod: bool, from_overlay: bool = False) -> None:
        np = self.plan.node(node)
        dst = self.heading_to
        prog = "bpf_overlay" if from_overlay else ("bpf_lxc" if from_pod else "bpf_host")
        target = self._pod_on(node, dst)
        if target is not None:
            self.hop(node, "route", f"{prog}: {dst} is a local endpoint ({target.name}) → redirect to "
                     f"{target.host_if}", "cilium_lxc endpoint map", dev=target.host_if)
            self.deliver_pod(node, target)
        if dst in np.local_addresses:
            return
        mode = self.plan.plugin.mode
        if mode in ("vxlan", "geneve") and not from_overlay:
            entry = None
            best = -1
            addr = ipaddress.ip_address(dst)
            for t in np.tunnel_map:
                net = ipaddress.ip_network(t.prefix)
                if addr in net and net.prefixlen > best:
                    entry, best = t, net.prefixlen
            if entry is not None:
                dev = "cilium_vxlan" if mode == "vxlan" else "cilium_geneve"
                link = np.link(dev)
                port = link.port if link else None
                identity = self._identity()
                outer = Outer(np.internal_ip, entry.endpoint, "udp", port)
                self.hop(node, "encap", f"{prog}: tunnel map {entry.prefix} → {entry.endpoint} ({entry.node}); "
                         f"{mode.upper()} via {dev}, VNI {identity} = the source's security identity; outer "
                         f"{outer.src} → {outer.dst} UDP {port}", f"cilium_tunnel_map {entry.prefix} → {entry.endpoint}",
                         dev=dev, mtu=link.mtu if link else None, outer=outer, vni=identity)
                self.send_outer(node, np, _Encap(mode, outer, identity, dev))
        # Otherwise: to the kernel's routing (native routing, or out of the cluster).

    def _identity(self) -> int:
        owner = self.plan.owner_of(self.src)
        if owner is not None and owner[0] == "pod":
            ident = self.plan.pod(owner[1]).identity
            if ident is not None:
                return ident
        if owner is not None and owner[0] == "node":
            return 1  # reserved:host
        return 2  # reserved:world

    # -------------------------------------------------------------- the underlay

    def _segment_of(self, node: str) -> str:
        return self.plan.node(node).subnet

    def underlay_send(self, sender: str, next_hop: str, encap: _Encap | None) -> None:
        """Send a frame from ``sender`` (a node or the router) to ``next_hop`` on a segment."""
        plan = self.plan
        out_mtu: int | None
        if sender == ROUTER:
            iface = next((i for i in plan.underlay.interfaces
                          if ipaddress.ip_address(next_hop) in ipaddress.ip_network(i.subnet)), None)
            if iface is None:
                self.drop(ROUTER, f"the router is on no subnet with {next_hop}")
            assert iface is not None
            segment, out_dev, out_mtu = iface.subnet, iface.name, iface.mtu
        else:
            np = plan.node(sender)
            eth0 = np.link("eth0")
            segment, out_dev, out_mtu = np.subnet, "eth0", eth0.mtu if eth0 else None
        receiver, how = self._owner_on(segment, next_hop)
        wire = None if self.size is None else self.size + (encap.overhead if encap else 0)
        src, dst = (encap.outer.src, encap.outer.dst) if encap else (self.src, self.heading_to)
        label = f"{src} → {dst}" + (f" ({encap.kind.upper()})" if encap else "")
        if receiver is None:
            self.drop(sender, f"nobody on {segment} answers ARP for {next_hop}: host unreachable", dev=out_dev)
        assert receiver is not None
        self.hop(sender, "underlay", f"{label} on the underlay {segment}: {out_dev} → {receiver} ({next_hop}{how})",
                 "", dev=out_dev, mtu=out_mtu, outer=encap.outer if encap else None)
        self.check_mtu(sender, out_mtu, out_dev, out_dev, size=wire)
        in_mtu = self._in_mtu(receiver, segment)
        if wire is not None and in_mtu is not None and wire > in_mtu:
            self.drop(receiver, f"the frame ({wire} bytes) exceeds {receiver}'s MTU {in_mtu} on the underlay: "
                      "dropped on receive", dev="eth0", mtu=in_mtu)
        if receiver == ROUTER:
            self.router_forward(encap)
        if encap is not None and encap.outer.dst == plan.node(receiver).internal_ip:
            self.decap(receiver, encap)
        self.route_at(receiver, "eth0")

    def _owner_on(self, segment: str, ip: str) -> tuple[str | None, str]:
        plan = self.plan
        net = ipaddress.ip_network(segment)
        if any(i.address.split("/")[0] == ip for i in plan.underlay.interfaces):
            return ROUTER, ""
        t = self.pending
        if t is not None and t.node and ip == t.original_dst and plan.owner_of(ip) is None:
            return t.node, f", which answers ARP for {ip} (load-balancer announcement)"
        owner = plan.owner_of(ip)
        if owner is not None and owner[0] == "node" and plan.node(owner[1]).subnet == segment:
            return owner[1], ""
        if owner is not None and owner[0] == "pod" and ipaddress.ip_address(ip) in net:
            node = plan.pod(owner[1]).node
            np = plan.node(node)
            if np.subnet == segment and np.sysctls.get("net.ipv4.conf.eth0.proxy_arp") == "1":
                return node, f", which answers ARP for its pod {owner[1]} (proxy ARP)"
        return None, ""

    def _in_mtu(self, receiver: str, segment: str) -> int | None:
        if receiver == ROUTER:
            return next((i.mtu for i in self.plan.underlay.interfaces if i.subnet == segment), None)
        eth0 = self.plan.node(receiver).link("eth0")
        return eth0.mtu if eth0 else None

    def router_forward(self, encap: _Encap | None) -> None:
        plan = self.plan
        target = encap.outer.dst if encap else self.heading_to
        addr = ipaddress.ip_address(target)
        for iface in plan.underlay.interfaces:
            if addr in ipaddress.ip_network(iface.subnet):
                if target == iface.address.split("/")[0]:
                    self.deliver(ROUTER, ROUTER, f"{target} is the router's own address")
                self.hop(ROUTER, "route", f"router: {target} is on {iface.subnet}, connected to {iface.name}",
                         f"{iface.subnet} dev {iface.name} proto kernel scope link", dev=iface.name, mtu=iface.mtu)
                self.underlay_send(ROUTER, target, encap)
        pod_net = next((n for n in plan.pod_networks if addr in ipaddress.ip_network(n)), None)
        if pod_net is not None or plan.owner_of(target) is not None:
            self.drop(ROUTER, f"the router has no route to {target}: the underlay does not carry the pod "
                      f"network ({pod_net or target} is not announced to it), so the default route would send it "
                      "to the outside, where it is lost", "default dev uplink")
        svc_net = next((n for n in plan.service_networks if addr in ipaddress.ip_network(n)), None)
        if svc_net is not None:
            self.drop(ROUTER, f"{target} is a Service address ({svc_net}): only a node's kube-proxy rules "
                      "translate it; the router has no route to it", "default dev uplink")
        masq = next((n for n in plan.underlay.nat if f"-s " in n and ipaddress.ip_address(self.src)
                     in ipaddress.ip_network(n.split()[3])), None)
        note = f"; source {self.src} masqueraded to the uplink's address" if masq else ""
        if not masq and self.source.kind != "outside":
            note = f"; the source {self.src} is not routable outside: replies cannot come back"
        self.hop(ROUTER, "route", f"router: {target} is outside the cluster: out of the uplink (default route){note}",
                 "default dev uplink" + (f"; {masq}" if masq else ""), dev="uplink")
        self.deliver(OUTSIDE, OUTSIDE, f"{target} (outside the cluster) receives the packet from {self.src if not masq else 'the router'}")


def _min(a: int | None, b: int | None) -> int | None:
    vals = [v for v in (a, b) if v]
    return min(vals) if vals else None


def packet_path(
    plan: NetworkPlan,
    src: Source | str,
    dst: str,
    *,
    size: int | None = None,
    translation: Translation | None = None,
) -> PacketPath:
    """The hops of a packet from ``src`` to ``dst`` (an IPv4 address: a pod's, a node's or one
    outside; the backend's when ``translation`` says a Service chose it)."""
    source = parse_source(plan, src) if isinstance(src, str) else src
    if source.kind == "pod" and not plan.has_pod(source.name):
        host = _host_network_node(plan, source.name)
        if host is None:
            raise KeyError(f'pod "{source.name}" not found or has no address')
        # a host-network pod sends from its node's network namespace
        source = Source("node", host, source.ip or plan.node(host).internal_ip)
    dst = str(ipaddress.ip_address(dst))
    if ipaddress.ip_address(dst).version != 4:
        raise ValueError("only IPv4 paths are modelled")
    if size is not None and size < 20:
        raise ValueError("size is the IP packet's length in bytes: at least 20")
    walk = _Walk(plan, source, dst, size, translation)
    walk.run()
    return PacketPath(source, dst, tuple(walk.hops), walk.verdict, walk.reason, walk.delivered_to,
                      dict(walk.anchors), size)
