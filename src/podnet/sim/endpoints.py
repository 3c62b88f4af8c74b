"""The two ends of a traced connection, read from what a user types.

FROM is where the connection starts:

* ``NS/POD`` or ``pod/NS/POD`` — a pod (a host-network pod starts from its node's address);
* ``node/NAME`` — a process on the node itself;
* an IP address — the pod or node owning it, or else a client outside the cluster;
* ``outside`` — a client outside the cluster at the nodes' gateway (:func:`outside_ip`,
  172.18.0.1 by default: where kind's host sits and where the real data plane's outside
  namespace is), so that a LoadBalancer address announced on that network reaches it.

TO is what it connects to (a port is always required):

* ``NS/POD:PORT`` (or ``pod/NS/POD:PORT``) — the pod's address; PORT may be a container port name;
* ``svc/NS/NAME:PORT`` — the Service's ClusterIP; PORT may be a Service port name;
* ``IP:PORT`` / ``[IPv6]:PORT`` — any address: a ClusterIP, a node IP (+ NodePort), a
  LoadBalancer or external IP, a pod IP;
* ``NAME:PORT`` — a DNS name, resolved from FROM's resolv.conf (see :mod:`podnet.sim.resolve`);
* ``http://NAME[:PORT]/…`` / ``https://…`` — the same, with the scheme's default port.

Errors read like kubectl's (``Error from server (NotFound): pods "x" not found``) and are raised
as :class:`TraceError`, whose lines the CLI prints on stderr.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Literal

from podnet.api.addresses import CANONICAL_V4, network
from podnet.api.core import Pod
from podnet.cluster.state import ClusterState
from podnet.plugins.context import node_v6, underlay6_of

__all__ = [
    "OUTSIDE_IP",
    "Source",
    "TargetSpec",
    "TraceError",
    "canonical_ip",
    "ip_family",
    "network",
    "outside_ip",
    "parse_source",
    "parse_target",
    "pod_port",
]

#: The address ``outside`` stands for: the host on kind's node network (its docker bridge).
OUTSIDE_IP = "172.18.0.1"

SourceKind = Literal["pod", "node", "external"]
TargetKind = Literal["pod", "service", "ip", "name"]


class TraceError(ValueError):
    """A FROM/TO that cannot be traced; ``errors`` are the lines to print (kubectl style)."""

    def __init__(self, *errors: str) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(errors))


def not_found(kind: str, name: str, namespace: str | None = None) -> TraceError:
    """kubectl's NotFound message (``kind`` is the plural resource, e.g. ``pods``)."""
    return TraceError(f'Error from server (NotFound): {kind} "{name}" not found')


def canonical_ip(text: str) -> str | None:
    """``text`` as a canonical IP address, or None when it is not one."""
    if CANONICAL_V4.fullmatch(text):
        return text
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def ip_family(ip: str) -> int:
    """4 or 6 (``ipaddress.ip_address(ip).version``, raising ValueError alike)."""
    if CANONICAL_V4.fullmatch(ip):
        return 4
    return ipaddress.ip_address(ip).version


@dataclass(frozen=True, slots=True)
class Source:
    """Where the connection starts."""

    kind: SourceKind
    #: The address the connection leaves with (a host-network pod: its node's address).
    ip: str
    #: The node it runs on (None for a client outside the cluster).
    node: str | None
    input: str
    pod: Pod | None = None
    #: Every address of the source (dual-stack pods have two), primary first.
    ips: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``NS/NAME`` for pods, ``node/NAME`` for nodes, the address otherwise."""
        if self.pod is not None:
            return self.pod.qualified_name
        if self.kind == "node" and self.node:
            return f"node/{self.node}"
        return self.ip

    @property
    def host_network(self) -> bool:
        return self.pod is not None and self.pod.spec.host_network

    def ip_for(self, family: int) -> str:
        """The source's address of ``family`` (its primary one when it has none)."""
        for ip in self.ips or (self.ip,):
            if ip_family(ip) == family:
                return ip
        return self.ip

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "kind": self.kind,
            "pod": self.pod.qualified_name if self.pod is not None else None,
            "node": self.node,
            "ip": self.ip,
            "host_network": self.host_network,
        }


def outside_ip(state: ClusterState) -> str:
    """Where ``outside`` stands: the gateway of the first node subnet (its first address, as
    the real data plane's outside namespace holds it), :data:`OUTSIDE_IP` by default."""
    for nc in state.config.nodes:
        if nc.subnet:
            net = ipaddress.ip_network(nc.subnet, strict=False)
            return str(net.network_address + 1)
    return OUTSIDE_IP


def outside_ip6(state: ClusterState) -> str:
    """The outside's IPv6 address in a dual-stack cluster: the first address of the /64 the
    nodes' IPv6 InternalIPs are on (kind's IPv6 docker network, fc00:f853:ccd:e793::1; the real
    data plane's outside holds it), "" when the nodes have no IPv6 address."""
    ip6 = next((v6 for v6 in map(node_v6, state.nodes) if v6), "")
    return str(underlay6_of(ip6).network_address + 1) if ip6 else ""


def _node_ips(state: ClusterState) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in state.nodes:
        for ip in node.internal_ips:
            canon = canonical_ip(ip)
            if canon:
                out.setdefault(canon, node.name)
    return out


def _pod_of_ip(state: ClusterState, ip: str) -> Pod | None:
    for pod in state.pods():
        if pod.spec.host_network or pod.finished:
            continue
        if any(canonical_ip(p) == ip for p in pod.ips):
            return pod
    return None


def _node_primary(state: ClusterState, name: str) -> tuple[str, ...]:
    node = state.node(name)
    if node is None:
        return ()
    return tuple(ip for ip in (canonical_ip(a) for a in node.internal_ips) if ip)


def _pod_source(state: ClusterState, pod: Pod, text: str) -> Source:
    ref = pod.qualified_name
    node = pod.spec.node_name
    if not node:
        raise TraceError(f'error: pod "{ref}" is not scheduled to a node: it has no network yet')
    if pod.finished:
        raise TraceError(f'error: pod "{ref}" has finished ({pod.status.phase}): it has no network')
    if pod.spec.host_network:
        ips = _node_primary(state, node)
        if not ips:
            raise TraceError(f'error: node "{node}" of host-network pod "{ref}" has no address')
        return Source("pod", ips[0], node, text, pod, ips)
    ips = tuple(ip for ip in (canonical_ip(p) for p in pod.ips) if ip)
    if not ips:
        raise TraceError(f'error: pod "{ref}" has no IP address yet')
    return Source("pod", ips[0], node, text, pod, ips)


def _lookup_pod(state: ClusterState, ref: str) -> Pod:
    """The pod ``NS/NAME``; a name that is no pod's but prefixes pods' names (``frontend/web``
    for a Deployment's pods) picks the first of them in name order, those continuing with
    ``-`` first."""
    ns, sep, name = ref.partition("/")
    if not sep or not ns or not name or "/" in name:
        raise TraceError(f'error: "{ref}": expected NS/POD')
    pod = state.pod(ns, name)
    if pod is not None:
        return pod
    matches = sorted(
        (p for p in state.pods(ns) if p.metadata.name.startswith(name) and not p.finished),
        key=lambda p: (p.metadata.name[len(name):len(name) + 1] != "-", p.metadata.name),
    )
    if not matches:
        raise not_found("pods", name, ns)
    return matches[0]


def parse_source(state: ClusterState, text: str, namespace: str | None = None) -> Source:
    """FROM: ``NS/POD``, ``pod/NS/POD``, ``node/NAME``, an IP address or ``outside`` (``POD``
    alone when ``namespace`` is given)."""
    raw = text.strip()
    if not raw:
        raise TraceError('error: FROM is empty: expected NS/POD, node/NAME or an IP address')
    if raw == "outside":
        gateway, gateway6 = outside_ip(state), outside_ip6(state)
        return Source("external", gateway, None, raw, None,
                      (gateway, gateway6) if gateway6 else (gateway,))
    if raw.startswith("node/"):
        name = raw[5:]
        if state.node(name) is None:
            raise not_found("nodes", name)
        ips = _node_primary(state, name)
        if not ips:
            raise TraceError(f'error: node "{name}" has no InternalIP address')
        return Source("node", ips[0], name, raw, None, ips)
    ip = canonical_ip(raw)
    if ip is not None:
        owner = _node_ips(state).get(ip)
        if owner is not None:
            return Source("node", ip, owner, raw, None, (ip,))
        pod = _pod_of_ip(state, ip)
        if pod is not None:
            src = _pod_source(state, pod, raw)
            return Source("pod", ip, src.node, raw, pod, (ip,) + tuple(i for i in src.ips if i != ip))
        return Source("external", ip, None, raw, None, (ip,))
    ref = raw[4:] if raw.startswith("pod/") else raw
    if "/" not in ref and namespace:
        ref = f"{namespace}/{ref}"
    if "/" not in ref:
        raise TraceError(
            f'error: FROM "{raw}": expected NS/POD, pod/NS/POD, node/NAME, an IP address or outside'
        )
    return _pod_source(state, _lookup_pod(state, ref), raw)


# ----------------------------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """TO as typed, before anything is resolved: what kind, which object or name, which port."""

    kind: TargetKind
    input: str
    #: ``NS/NAME`` (pod, service), the address (ip) or the DNS name (name).
    ref: str
    #: The port as typed: a number or a (container or Service port) name.
    port: int | str
    scheme: str = ""


_URL = re.compile(r"^(?P<scheme>https?)://(?P<host>\[[^\]]+\]|[^/:?#]+)(?::(?P<port>\d+))?(?P<rest>[/?#].*)?$")
_NAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$")


def _split_port(text: str, raw: str) -> tuple[str, str]:
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise TraceError(f'error: TO "{raw}": expected [IPv6]:PORT')
        return host, rest[1:]
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise TraceError(
            f'error: TO "{raw}" has no port: expected NS/POD:PORT, svc/NS/NAME:PORT, IP:PORT or '
            "NAME:PORT"
        )
    if ":" in host and canonical_ip(host) is not None:
        raise TraceError(f'error: TO "{raw}": write an IPv6 address with its port as [IPv6]:PORT')
    return host, port


def _port(text: str, raw: str, *, named: bool) -> int | str:
    if text.isdigit():
        n = int(text)
        if not 1 <= n <= 65535:
            raise TraceError(f'error: TO "{raw}": port {n} must be between 1 and 65535, inclusive')
        return n
    if named and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", text) and len(text) <= 15:
        return text
    raise TraceError(f'error: TO "{raw}": invalid port "{text}"')


def parse_target(text: str) -> TargetSpec:
    """TO, syntactically (see the module doc)."""
    raw = text.strip()
    m = _URL.match(raw)
    if m is not None:
        scheme = m.group("scheme")
        host = m.group("host").strip("[]")
        port: int | str = int(m.group("port")) if m.group("port") else (443 if scheme == "https" else 80)
        if isinstance(port, int) and not 1 <= port <= 65535:
            raise TraceError(f'error: TO "{raw}": port {port} must be between 1 and 65535, inclusive')
        ip = canonical_ip(host)
        if ip is not None:
            return TargetSpec("ip", raw, ip, port, scheme)
        return TargetSpec("name", raw, host.rstrip(".").lower() + ("." if host.endswith(".") else ""),
                          port, scheme)
    if raw.startswith("svc/") or raw.startswith("service/") or raw.startswith("services/"):
        body = raw.split("/", 1)[1]
        ref, port_text = _split_port(body, raw)
        ns, sep, name = ref.partition("/")
        if not sep or not ns or not name or "/" in name:
            raise TraceError(f'error: TO "{raw}": expected svc/NS/NAME:PORT')
        return TargetSpec("service", raw, ref, _port(port_text, raw, named=True))
    host, port_text = _split_port(raw, raw)
    if host.startswith("pod/"):
        host = host[4:]
    if "/" in host:
        ns, _, name = host.partition("/")
        if not ns or not name or "/" in name:
            raise TraceError(f'error: TO "{raw}": expected NS/POD:PORT')
        return TargetSpec("pod", raw, host, _port(port_text, raw, named=True))
    ip = canonical_ip(host)
    if ip is not None:
        return TargetSpec("ip", raw, ip, _port(port_text, raw, named=False))
    if not _NAME.match(host):
        raise TraceError(f'error: TO "{raw}": "{host}" is not a pod, service, address or DNS name')
    return TargetSpec("name", raw, host.lower(), _port(port_text, raw, named=False))


def pod_port(pod: Pod, port: int | str, protocol: str) -> int | None:
    """The container port number ``port`` names in ``pod`` (a number is itself)."""
    if isinstance(port, int):
        return port
    return pod.spec.port_named(port, protocol)


def lookup_pod(state: ClusterState, ref: str) -> Pod:
    """The pod ``NS/NAME`` or a kubectl-style NotFound error."""
    return _lookup_pod(state, ref)
