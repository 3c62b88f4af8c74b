"""NetworkPlan: how a network plugin wires every node and pod, as plain immutable values.

A plan is what ``ip -d link``, ``ip addr``, ``ip route``, ``ip neigh``, ``bridge fdb``, ``sysctl``
and ``iptables -t nat -S`` would show on each node of a real cluster running the plugin, and what
``ip addr`` / ``ip route`` show inside each pod. The real data plane (linux/) is compiled from it
and :mod:`podnet.plugins.path` walks packets through it, so a name, address or route that appears
here is the one a packet uses.

Plans are built per node and per pod on first use (:class:`NetworkPlan` caches them): a trace in a
5,000-node cluster builds two node plans, not 5,000 (each of which has a route per other node).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from podnet.api.frozen import EMPTY, FrozenDict
from podnet.cluster.config import PLUGIN_MODELS

__all__ = [
    "Eth0",
    "Fdb",
    "Link",
    "MasqRule",
    "Neighbour",
    "NetworkPlan",
    "NodePlan",
    "PluginInfo",
    "PodPlan",
    "Route",
    "RouterInterface",
    "TunnelMapEntry",
    "Underlay",
    "docker_mac",
    "local_mac",
    "network_model",
]

LinkKind = Literal["vxlan", "bridge", "veth", "ipip", "geneve", "dummy"]
RouteType = Literal["unicast", "blackhole"]
Model = Literal["overlay", "underlay", "host-based"]

def network_model(plugin: str, mode: str) -> Model:
    """overlay (pod traffic encapsulated between nodes), underlay (the network carries pod
    routes) or host-based (pods take addresses from the node's own subnet)."""
    if plugin == "host":
        return "host-based"
    return cast(Model, PLUGIN_MODELS[(plugin, mode)])


def local_mac(*parts: str) -> str:
    """A deterministic, locally administered unicast MAC for what the kernel would make random
    (VXLAN VTEPs, veth ends, bridges): the same inputs always give the same address."""
    digest = bytearray(hashlib.sha256("\0".join(parts).encode()).digest()[:6])
    digest[0] = (digest[0] | 0x02) & 0xFE
    return ":".join(f"{b:02x}" for b in digest)


def docker_mac(ip: str) -> str:
    """The MAC docker gives a container on a bridge network: ``02:42`` and the IPv4 address
    (kind's nodes are such containers: 172.18.0.3 → 02:42:ac:12:00:03)."""
    packed = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in packed)


# ---------------------------------------------------------------------------- values


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Link:
    """One network interface of a node, as ``ip -d link`` / ``ip addr`` show it."""

    name: str
    kind: LinkKind
    mtu: int
    addresses: tuple[str, ...] = ()
    mac: str | None = None
    #: The bridge a port is enslaved to (``master cni0``).
    master: str | None = None
    vni: int | None = None
    #: UDP destination port of a VXLAN/Geneve device.
    port: int | None = None
    #: Tunnel source address (``local 172.18.0.3``).
    local: str | None = None
    #: The other end of a veth: ``eth0 of NS/POD``, ``cilium_net``…
    peer: str | None = None
    #: A VXLAN/Geneve device in collect-metadata mode (Cilium's: VNI and remote per packet).
    external: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "mtu": self.mtu,
            "addresses": list(self.addresses),
            "vni": self.vni,
            "port": self.port,
            "mac": self.mac,
            "master": self.master,
            "local": self.local,
            "peer": self.peer,
            "external": self.external,
        }


@dataclass(frozen=True, slots=True)
class Route:
    """One route of a routing table (a node's main table, or a pod's)."""

    dst: str
    via: str | None = None
    dev: str | None = None
    onlink: bool = False
    type: RouteType = "unicast"
    mtu: int | None = None
    proto: str | None = None
    scope: str | None = None
    src: str | None = None

    @property
    def version(self) -> int:
        """4 or 6 — ``default`` belongs to the family of its gateway (``ip -6 route`` prints
        ``default via fe80::1`` as ``ip route`` prints ``default via 172.18.0.1``)."""
        if self.dst == "default":
            return 6 if (self.via and ":" in self.via) or (self.src and ":" in self.src) else 4
        return 6 if ":" in self.dst else 4

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        if self.dst == "default":
            return ipaddress.ip_network("::/0" if self.version == 6 else "0.0.0.0/0")
        return ipaddress.ip_network(self.dst, strict=False)

    def text(self) -> str:
        """The route as ``ip route`` prints it."""
        parts = [self.dst] if self.type == "unicast" else [self.type, self.dst]
        if self.via:
            parts += ["via", self.via]
        if self.dev:
            parts += ["dev", self.dev]
        if self.proto:
            parts += ["proto", self.proto]
        if self.scope:
            parts += ["scope", self.scope]
        if self.src:
            parts += ["src", self.src]
        if self.onlink:
            parts.append("onlink")
        if self.mtu:
            parts += ["mtu", str(self.mtu)]
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dst": self.dst,
            "via": self.via,
            "dev": self.dev,
            "onlink": self.onlink,
            "type": self.type,
            "mtu": self.mtu,
            "proto": self.proto,
            "scope": self.scope,
            "src": self.src,
        }


@dataclass(frozen=True, slots=True)
class Neighbour:
    ip: str
    mac: str
    dev: str
    permanent: bool = True

    def text(self) -> str:
        return f"{self.ip} dev {self.dev} lladdr {self.mac} {'PERMANENT' if self.permanent else 'REACHABLE'}"

    def to_dict(self) -> dict[str, Any]:
        return {"ip": self.ip, "mac": self.mac, "dev": self.dev, "permanent": self.permanent}


@dataclass(frozen=True, slots=True)
class Fdb:
    """A forwarding-database entry of a VXLAN device: frames for ``mac`` go to VTEP ``dst``."""

    mac: str
    dst: str
    dev: str

    def text(self) -> str:
        return f"{self.mac} dev {self.dev} dst {self.dst} self permanent"

    def to_dict(self) -> dict[str, Any]:
        return {"mac": self.mac, "dst": self.dst, "dev": self.dev}


@dataclass(frozen=True, slots=True)
class TunnelMapEntry:
    """Cilium's BPF tunnel map (``cilium bpf tunnel list``): pod prefix → remote node."""

    prefix: str
    endpoint: str
    node: str

    def to_dict(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "endpoint": self.endpoint, "node": self.node}


@dataclass(frozen=True, slots=True)
class MasqRule:
    """Source NAT on the way out of a node, structured for the packet walk; ``rules`` are the
    iptables lines the plugin installs for it (``iptables -t nat -S``)."""

    #: Traffic from these prefixes…
    sources: tuple[str, ...]
    #: …to anything but these…
    except_destinations: tuple[str, ...]
    #: …leaving through this device (None: any device but the pod-side ones)…
    out_dev: str | None
    #: …is masqueraded: its source becomes the outgoing device's address.
    rule: str

    def applies(self, src: str, dst: str, out_dev: str) -> bool:
        if self.out_dev is not None and out_dev != self.out_dev:
            return False
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if not any(s in ipaddress.ip_network(c) for c in self.sources):
            return False
        return not any(d in ipaddress.ip_network(c) for c in self.except_destinations)


@dataclass(frozen=True, slots=True)
class NodePlan:
    name: str
    internal_ip: str
    #: The node's underlay subnet (``nodes[].subnet``, else the default underlay).
    subnet: str
    gateway: str
    #: What the plugin allocates pod addresses from on this node: the podCIDR lease (flannel,
    #: Cilium's cluster-pool), the affine /26 blocks (Calico), the held addresses (host).
    pod_cidrs: tuple[str, ...]
    links: tuple[Link, ...]
    routes: tuple[Route, ...]
    neighbours: tuple[Neighbour, ...] = ()
    fdb: tuple[Fdb, ...] = ()
    sysctls: FrozenDict[str, str] = EMPTY
    #: iptables-save lines of the plugin's own NAT rules.
    nat: tuple[str, ...] = ()
    masquerade: tuple[MasqRule, ...] = ()
    tunnel_map: tuple[TunnelMapEntry, ...] = ()
    #: What the plugin's agent logs when it cannot program something (a host-gw route to a
    #: node on another subnet: "network is unreachable").
    warnings: tuple[str, ...] = ()

    def link(self, name: str) -> Link | None:
        for link in self.links:
            if link.name == name:
                return link
        return None

    @property
    def local_addresses(self) -> dict[str, str]:
        """Every address of the node (address → device)."""
        out: dict[str, str] = {}
        for link in self.links:
            for a in link.addresses:
                out[a.split("/")[0]] = link.name
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "internal_ip": self.internal_ip,
            "subnet": self.subnet,
            "pod_cidrs": list(self.pod_cidrs),
            "links": [link.to_dict() for link in self.links],
            "routes": [r.to_dict() for r in self.routes],
            "neighbours": [n.to_dict() for n in self.neighbours],
            "fdb": [f.to_dict() for f in self.fdb],
            "sysctls": dict(self.sysctls),
            "nat": list(self.nat),
            "tunnel_map": [t.to_dict() for t in self.tunnel_map],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class Eth0:
    addresses: tuple[str, ...]
    mtu: int
    mac: str

    def to_dict(self) -> dict[str, Any]:
        return {"addresses": list(self.addresses), "mtu": self.mtu, "mac": self.mac}


@dataclass(frozen=True, slots=True)
class PodPlan:
    """A pod's network namespace: its ``eth0``, the host end of its veth, its routes."""

    name: str  # NS/NAME
    node: str
    ip: str
    eth0: Eth0
    host_if: str
    routes: tuple[Route, ...]
    neighbours: tuple[Neighbour, ...] = ()
    #: Cilium's security identity (numeric) and the labels it was derived from.
    identity: int | None = None
    identity_labels: tuple[str, ...] = ()

    @property
    def namespace(self) -> str:
        return self.name.partition("/")[0]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "node": self.node,
            "ip": self.ip,
            "eth0": self.eth0.to_dict(),
            "host_if": self.host_if,
            "routes": [r.to_dict() for r in self.routes],
            "neighbours": [n.to_dict() for n in self.neighbours],
        }
        if self.identity is not None:
            out["identity"] = self.identity
            out["identity_labels"] = list(self.identity_labels)
        return out


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    mode: str
    model: Model
    enforces_policy: bool
    #: ``kube-proxy`` or ``socket-lb`` (Cilium with kubeProxyReplacement: Services are
    #: translated at connect() in the pod's socket, before the packet exists).
    service_proxy: Literal["kube-proxy", "socket-lb"]
    #: The plugin's options with their effective values.
    options: FrozenDict[str, Any] = EMPTY

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.mode,
            "model": self.model,
            "enforces_policy": self.enforces_policy,
            "service_proxy": self.service_proxy,
            "options": dict(self.options),
        }


@dataclass(frozen=True, slots=True)
class RouterInterface:
    name: str
    address: str  # with prefix length
    subnet: str
    mtu: int
    #: The router's IPv6 address on the segment (with prefix length), in a dual-stack cluster.
    address6: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "address": self.address, "subnet": self.subnet, "mtu": self.mtu}
        if self.address6:
            out["address6"] = self.address6
        return out


@dataclass(frozen=True, slots=True)
class Underlay:
    """The network the nodes are on: L2 segments (one per subnet) joined by a router, which is
    also the nodes' default gateway to the outside (kind's docker bridge at 172.18.0.1).

    The router knows the node subnets and nothing else: no pod network is routed by it (no
    plugin here peers with it), which is why an unencapsulated pod packet that has to cross it
    is lost there, as on a real routed underlay."""

    segments: FrozenDict[str, tuple[str, ...]]  # subnet → node names on it, in node order
    interfaces: tuple[RouterInterface, ...]
    routes: tuple[Route, ...]
    #: Masquerade of traffic leaving for the outside (docker's NAT for kind).
    nat: tuple[str, ...] = ()

    @property
    def routed(self) -> bool:
        """Several subnets: nodes on different ones reach each other only through the router."""
        return len(self.segments) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": [{"subnet": s, "nodes": list(n)} for s, n in self.segments.items()],
            "router": {
                "interfaces": [i.to_dict() for i in self.interfaces],
                "routes": [r.to_dict() for r in self.routes],
                "nat": list(self.nat),
            },
        }


# ---------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    """The whole cluster's plan. ``node(name)`` and ``pod(key)`` build one entry on first use;
    ``nodes`` and ``pods`` build them all (in node order, and pod key order)."""

    plugin: PluginInfo
    cluster: str
    node_names: tuple[str, ...]
    pod_keys: tuple[str, ...]
    underlay: Underlay
    pod_networks: tuple[str, ...]
    service_networks: tuple[str, ...]
    _node_builder: Callable[[str], NodePlan] = field(repr=False, compare=False)
    _pod_builder: Callable[[str], PodPlan] = field(repr=False, compare=False)
    _ip_index: Mapping[str, tuple[str, str]] = field(repr=False, compare=False)
    _node_pods: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Whether the plan wires the IPv6 half of a dual-stack cluster (addresses, routes, the
    #: underlay's IPv6); when the cluster has one that is not wired, ``ipv6_unplanned`` says why.
    ipv6: bool = False
    ipv6_unplanned: str = ""

    def node(self, name: str) -> NodePlan:
        key = "n:" + name
        got = self._cache.get(key)
        if got is None:
            if name not in self.node_names:
                raise KeyError(f'node "{name}" not found')
            got = self._node_builder(name)
            self._cache[key] = got
        plan: NodePlan = got
        return plan

    def pod(self, key: str) -> PodPlan:
        ck = "p:" + key
        got = self._cache.get(ck)
        if got is None:
            got = self._pod_builder(key)
            self._cache[ck] = got
        plan: PodPlan = got
        return plan

    def has_pod(self, key: str) -> bool:
        """Whether ``NS/NAME`` is a pod with its own network namespace and address."""
        keys = self._cache.get("pod-keys")
        if keys is None:
            keys = frozenset(self.pod_keys)
            self._cache["pod-keys"] = keys
        return key in keys

    @property
    def nodes(self) -> tuple[NodePlan, ...]:
        return tuple(self.node(n) for n in self.node_names)

    @property
    def pods(self) -> tuple[PodPlan, ...]:
        return tuple(self.pod(k) for k in self.pod_keys)

    def pods_on(self, node: str) -> Iterator[PodPlan]:
        """The plans of the pods on ``node`` (with their own network namespace), in key order."""
        for k in self._node_pods.get(node, ()):
            yield self.pod(k)

    def owner_of(self, ip: str) -> tuple[str, str] | None:
        """Who holds ``ip``: ("pod", "NS/NAME"), ("node", NAME) for a node's InternalIP (and
        its host-network pods), or None."""
        got = self._ip_index.get(ip)
        return (got[0], got[1]) if got is not None else None

    def to_dict(self, nodes: Sequence[str] | None = None) -> dict[str, Any]:
        """The ``podnet plan -o json`` document; ``nodes`` limits it to those nodes (and their
        pods)."""
        names = list(self.node_names) if nodes is None else list(nodes)
        return {
            "plugin": self.plugin.to_dict(),
            "cluster": self.cluster,
            "pod_networks": list(self.pod_networks),
            "service_networks": list(self.service_networks),
            "underlay": self.underlay.to_dict(),
            "ipv6": self.ipv6,
            "nodes": [self.node(n).to_dict() for n in names],
            "pods": sorted((p.to_dict() for n in names for p in self.pods_on(n)), key=lambda d: str(d["name"]))
            if nodes is not None else [p.to_dict() for p in self.pods],
        }
