"""Pod IPAM: the addresses pods get once they are on a node, and the status kubelet reports.

Theory of operation
-------------------
When a pod lands on a node, kubelet asks the network plugin for a sandbox network; the plugin's
IPAM picks the address. The default here is what flannel and the bridge plugin do with CNI's
``host-local`` IPAM over the node's ``spec.podCIDR(s)``: ``.0`` is the network, ``.1`` the bridge
(``cni0``) gateway, pods get ``.2`` upward (the IPv4 broadcast address never); a dual-stack node
gives every pod one address per family, in the order of the node's podCIDRs, which becomes
``status.podIPs`` (``status.podIP`` is the first). hostNetwork pods share the node's network
namespace and so its address(es): they take the node's InternalIP(s) and no pod address.

Addresses already written in a pod status are facts: every address a given pod status carries is
collected first and never handed out again, wherever it lies; so are the nodes' own addresses
(which matters when the pod network and the node network are one, as in the host model). Then pods that had an address in
``previous`` on the same node get it back (a pod keeps its IP for its whole life), and only then
do new pods take the lowest free address of their node, in creation (list) order. host-local
itself continues round-robin after the last address it reserved; podnet keeps no cursor between
runs, so it takes the lowest free one, which is where host-local starts on a fresh node.

A pod that gets an address is ``Running`` with the conditions kubelet writes for a started pod
(PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled, all True), its
``hostIP(s)`` set to the node's InternalIP(s). Conditions a given status already carries are kept
(a snapshot saying Ready=False stays not ready). Finished pods (Succeeded/Failed) and pods
kubelet rejected get no address. A pod whose node has no address left stays ``Pending`` with
the sandbox error kubelet would report for it (upstream records it as a ``FailedCreatePodSandBox``
event; podnet, having no events, writes it as the status reason and message).

The IPAM is pluggable (:class:`PodIPAM`): a network plugin with its own IPAM — Calico's /26
blocks, Cilium's cluster-pool — supplies another implementation and registers it with
:func:`register_ipam`; :func:`assign` asks :func:`ipam_for` which one the cluster's plugin uses.
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from podnet.api.core import Condition, Node, Pod, PodIP, PodStatus
from podnet.cluster.config import ClusterConfig
from podnet.cluster.scheduler import evolve, evolver
from podnet.cluster.state import ClusterState

__all__ = [
    "IPAMError",
    "NodeCIDRIPAM",
    "PodIPAM",
    "assign",
    "ipam_for",
    "register_ipam",
    "running_conditions",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: An address as IPAM keeps it: (family, integer value).
Addr = tuple[int, int]


class IPAMError(Exception):
    """No address for a pod; ``str()`` is the CNI plugin's error as kubelet reports it."""


class PodIPAM(Protocol):
    """How a network plugin hands out pod addresses, for one reconcile run.

    The calls come in this order: :meth:`pin` for every address already written in a pod
    status; :meth:`reclaim` for pods that had addresses in the previous state; :meth:`allocate`
    for the rest, in creation order. An implementation is a fresh, stateful object per run.
    """

    def pin(self, ips: Sequence[str]) -> None:
        """Mark addresses as used (they are facts from given pod statuses)."""

    def reclaim(self, pod: Pod, node: Node, ips: Sequence[str]) -> bool:
        """Give ``pod`` on ``node`` back the addresses it had; False (and nothing reserved)
        when they are no longer free or no longer belong to the node."""

    def allocate(self, pod: Pod, node: Node) -> tuple[str, ...]:
        """New address(es) for ``pod`` on ``node``, one per family; raises :class:`IPAMError`."""


# ---------------------------------------------------------------------------- default: host-local


def _format(value: int, version: int) -> str:
    if version == 4:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return str(ipaddress.IPv6Address(value))


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


@functools.lru_cache(maxsize=1 << 17)
def _parse(ip: str) -> Addr | None:
    """(family, integer) of an address (memoised: node addresses are parsed on every run); canonical dotted quads (what every status carries)
    take a fast path, anything else goes through ``ipaddress``."""
    if _DOTTED_QUAD.fullmatch(ip):
        a, b, c, d = ip.split(".")
        return (4, (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d))
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return (addr.version, int(addr))


class _Range:
    """One podCIDR of one node: host-local's range (gateway .1 excluded, pods from .2)."""

    __slots__ = ("network", "version", "first", "last", "next", "label")

    def __init__(self, network: IPNetwork) -> None:
        self.network = network
        self.version = network.version
        base = int(network.network_address)
        top = int(network.broadcast_address)
        self.first = base + 2
        self.last = top - 1 if network.version == 4 else top
        self.next = self.first
        # host-local names the range by its usable span: gateway (.1) to the last address.
        self.label = f"{_format(base + 1, self.version)}-{_format(self.last, self.version)}"

    def __contains__(self, value: int) -> bool:
        return self.first <= value <= self.last


class NodeCIDRIPAM:
    """host-local IPAM on every node's ``spec.podCIDRs``: the lowest free address from ``.2``.

    Each node keeps a cursor per podCIDR; addresses below it are all in use, so a whole cluster
    is allocated in time proportional to its pods, not its address space.
    """

    def __init__(self, nodes: Sequence[Node]) -> None:
        # Ranges are parsed on a node's first use: an incremental reconcile touches a few nodes
        # of thousands.
        self._nodes = {node.metadata.name: node for node in nodes}
        self._parsed: dict[str, list[_Range]] = {}
        # Used addresses as integers, one set per IP family.
        self._used: dict[int, set[int]] = {4: set(), 6: set()}

    def _ranges_of(self, name: str) -> list[_Range] | None:
        ranges = self._parsed.get(name)
        if ranges is None:
            node = self._nodes.get(name)
            if node is None:
                return None
            ranges = []
            for cidr in node.pod_cidrs:
                try:
                    ranges.append(_Range(ipaddress.ip_network(cidr, strict=False)))
                except ValueError:
                    continue
            self._parsed[name] = ranges
        return ranges

    def pin(self, ips: Sequence[str]) -> None:
        for ip in ips:
            a = _parse(ip)
            if a is not None:
                self._used[a[0]].add(a[1])

    def reclaim(self, pod: Pod, node: Node, ips: Sequence[str]) -> bool:
        ranges = self._ranges_of(node.metadata.name) or []
        addrs = [_parse(ip) for ip in ips]
        if len(addrs) != len(ranges) or not addrs:
            return False
        for a, r in zip(addrs, ranges):
            if a is None or a[0] != r.version or a[1] not in r or a[1] in self._used[a[0]]:
                return False
        for a in addrs:
            if a is not None:
                self._used[a[0]].add(a[1])
        return True

    def allocate(self, pod: Pod, node: Node) -> tuple[str, ...]:
        name = node.metadata.name
        ranges = self._ranges_of(name)
        if not ranges:
            raise IPAMError(f'node "{name}" has no podCIDR: the network plugin cannot give the pod an address')
        picked: list[tuple[set[int], int]] = []
        out: list[str] = []
        for index, r in enumerate(ranges):
            used = self._used[r.version]
            value, last = r.next, r.last
            while value <= last and value in used:
                value += 1
            r.next = value
            if value > last:
                for u, v in picked:  # all families or none
                    u.discard(v)
                raise IPAMError(
                    f"failed to allocate for range {index}: no IP addresses available in range set: {r.label}"
                )
            r.next = value + 1
            used.add(value)
            picked.append((used, value))
            out.append(_format(value, r.version))
        return tuple(out)


IPAMFactory = Callable[[Sequence[Node], ClusterConfig], PodIPAM]
_REGISTRY: dict[str, IPAMFactory] = {}


def register_ipam(plugin: str, factory: IPAMFactory) -> None:
    """Let network plugin ``plugin`` (``ClusterConfig.plugin.name``) supply its own IPAM."""
    _REGISTRY[plugin] = factory


def ipam_for(config: ClusterConfig, nodes: Sequence[Node]) -> PodIPAM:
    """The IPAM the cluster's network plugin uses: its registered one, else host-local on the
    nodes' podCIDRs (flannel's and the bridge plugin's)."""
    factory = _REGISTRY.get(config.plugin.name)
    if factory is None:
        # The plugins register their IPAMs (podnet.plugins.register_ipams); loaded on first use
        # so that cluster/ never imports plugins/ at module import time.
        importlib.import_module("podnet.plugins").register_ipams()
        factory = _REGISTRY.get(config.plugin.name)
    if factory is not None:
        return factory(nodes, config)
    return NodeCIDRIPAM(nodes)


# ---------------------------------------------------------------------------- pod status


def running_conditions() -> tuple[Condition, ...]:
    """The conditions of a started, ready pod, in the order kubelet writes them."""
    return _RUNNING_CONDITIONS


_RUNNING_CONDITIONS = (
    Condition(type="PodReadyToStartContainers", status="True"),
    Condition(type="Initialized", status="True"),
    Condition(type="Ready", status="True"),
    Condition(type="ContainersReady", status="True"),
    Condition(type="PodScheduled", status="True"),
)
_SANDBOX_CONDITIONS = (
    Condition(type="PodReadyToStartContainers", status="False"),
    Condition(type="Initialized", status="True"),
    Condition(type="Ready", status="False", reason="ContainersNotReady"),
    Condition(type="ContainersReady", status="False", reason="ContainersNotReady"),
    Condition(type="PodScheduled", status="True"),
)


def _has_given_conditions(status: PodStatus) -> bool:
    """Whether a status carries more than what the scheduler wrote (a snapshot's conditions)."""
    conditions = status.conditions
    if len(conditions) == 1:  # the scheduler's one condition: no generator, once per pod
        return conditions[0].type != "PodScheduled"
    return any(c.type != "PodScheduled" for c in conditions)


class _HostInfo:
    __slots__ = ("node", "host_ip", "host_ips")

    def __init__(self, node: Node) -> None:
        ips = node.internal_ips
        self.node = node
        self.host_ip = ips[0] if ips else ""
        self.host_ips = tuple(PodIP(ip=ip) for ip in ips)


def _needs_address(pod: Pod) -> bool:
    status = pod.status
    return (
        bool(pod.spec.node_name)
        and not status.pod_ip
        and not status.pod_ips
        and status.phase not in ("Succeeded", "Failed")
        and pod.metadata.deletion_timestamp is None
        and status.reason != "NodeNotFound"
    )


class _Hosts(dict[str, "_HostInfo"]):
    """Node name → _HostInfo, made on first use (an incremental reconcile touches few nodes)."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        super().__init__()
        self._nodes = {n.metadata.name: n for n in nodes}

    def __missing__(self, name: str) -> _HostInfo:
        info = _HostInfo(self._nodes[name])
        self[name] = info
        return info

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[name] if name in self._nodes else default

    def __contains__(self, name: object) -> bool:
        return name in self._nodes


def assign(
    pods: list[Pod],
    nodes: tuple[Node, ...],
    config: ClusterConfig,
    previous: ClusterState | None,
    ipam: PodIPAM | None = None,
) -> list[Pod]:
    """Give every pod on a node its address(es) and kubelet's status; returns all pods in order.

    ``ipam`` defaults to :func:`ipam_for` the cluster's plugin. See the module docstring for the
    order in which addresses are decided.
    """
    if ipam is None:
        ipam = ipam_for(config, nodes)
    hosts = _Hosts(nodes)
    out = list(pods)

    # 0. Node addresses are never pod addresses (with the host network model the pod network
    #    and the nodes' network are one).
    for n in nodes:
        ipam.pin(n.internal_ips)

    # 1. Addresses written in pod statuses are facts.
    todo: list[int] = []
    for i, pod in enumerate(pods):
        status = pod.status
        if status.pod_ip or status.pod_ips:
            ipam.pin(pod.ips)
            host = hosts.get(pod.spec.node_name)
            if host is not None:
                out[i] = _complete_given(pod, host)
        elif _needs_address(pod) and pod.spec.node_name in hosts:
            todo.append(i)

    # 2. hostNetwork pods use their node's addresses; pods keep what they had before.
    fresh: list[int] = []
    prev_objects = previous.objects if previous is not None else None
    for i in todo:
        pod = pods[i]
        host = hosts[pod.spec.node_name]
        if pod.spec.host_network:
            out[i] = _running(pod, host, host.node.internal_ips)
            continue
        if prev_objects is not None:
            before = prev_objects.get(pod.ref)
            if (
                isinstance(before, Pod)
                and before.spec.node_name == pod.spec.node_name
                and not before.spec.host_network
                and before.ips
                and ipam.reclaim(pod, host.node, before.ips)
            ):
                out[i] = _running(pod, host, before.ips)
                continue
        fresh.append(i)

    # 3. New addresses, in creation order.
    for i in fresh:
        pod = pods[i]
        host = hosts[pod.spec.node_name]
        try:
            ips = ipam.allocate(pod, host.node)
        except IPAMError as err:
            out[i] = _sandbox_failed(pod, str(err))
            continue
        out[i] = _running(pod, host, ips)
    return out


_status_running = evolver(
    PodStatus, "phase", "conditions", "host_ip", "host_ips", "pod_ip", "pod_ips", "reason", "message"
)
_pod_with_status = evolver(Pod, "status")


def _running(pod: Pod, host: _HostInfo, ips: Sequence[str]) -> Pod:
    status = pod.status
    conditions = status.conditions if _has_given_conditions(status) else _RUNNING_CONDITIONS
    pod_ips = (PodIP(ip=ips[0]),) if len(ips) == 1 else tuple(PodIP(ip=ip) for ip in ips)
    new_status = _status_running(
        status, "Running", conditions, host.host_ip, host.host_ips, ips[0] if ips else "", pod_ips, "", ""
    )
    new_pod: Pod = _pod_with_status(pod, new_status)
    return new_pod


def _complete_given(pod: Pod, host: _HostInfo) -> Pod:
    """A status with addresses is kept; only what kubelet would also have written is filled."""
    status = pod.status
    changes: dict[str, object] = {}
    if not status.host_ip:
        changes["host_ip"] = host.host_ip
        changes["host_ips"] = host.host_ips
    if not status.pod_ips and status.pod_ip:
        changes["pod_ips"] = (PodIP(ip=status.pod_ip),)
    if not status.phase:
        changes["phase"] = "Running"
    if not _has_given_conditions(status) and (status.phase or "Running") == "Running":
        changes["conditions"] = _RUNNING_CONDITIONS
    if not changes:
        return pod
    return evolve(pod, status=evolve(status, **changes))


def _sandbox_failed(pod: Pod, error: str) -> Pod:
    status = evolve(
        pod.status,
        phase="Pending",
        conditions=_SANDBOX_CONDITIONS,
        reason="FailedCreatePodSandBox",
        message=f"Failed to create pod sandbox: {error}",
    )
    return evolve(pod, status=status)
