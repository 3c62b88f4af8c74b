"""The nodes of the cluster, as kubelet, kubeadm, kind and kube-controller-manager leave them.

Theory of operation
-------------------
A node object in a real cluster is written by several parties, and podnet reproduces each part:

* **kubelet** registers the node with the labels every manifest may select on
  (``kubernetes.io/hostname``, ``kubernetes.io/os``, ``kubernetes.io/arch`` and their deprecated
  ``beta.`` forms), reports ``status.addresses`` (the InternalIP(s), then the Hostname), the
  conditions (no memory/disk/PID pressure, ``Ready``) and a capacity of 110 pods.
* **kubeadm** marks control-plane nodes with the ``node-role.kubernetes.io/control-plane`` label,
  the ``node.kubernetes.io/exclude-from-external-load-balancers`` label and the
  ``node-role.kubernetes.io/control-plane:NoSchedule`` taint.
* **kind** removes that taint and that label again when the cluster has a single node
  (``kubeadminit/init.go``), so that a one-node cluster runs workloads and LoadBalancers;
  in a multi-node cluster the control plane keeps both. Node addresses come from kind's docker
  network: ``172.18.0.2``, ``.3``, … in node order (and ``fc00:f853:ccd:e793::2``, … when the
  pod network has IPv6, kind's default ULA network).
* **kube-controller-manager**'s range allocator gives node *i* the *i*-th ``/24`` (IPv6:
  ``/64``) of every cluster pod CIDR as ``spec.podCIDRs``.

Node objects given among the manifests (a snapshot of a real cluster, or hand-written nodes)
define the nodes instead of the config: what they carry (podCIDRs, addresses, labels, taints,
conditions) is kept, and only what is missing is filled in. Given nodes keep their taints as
given, since a snapshot is authoritative about them.

Identity is stable: a node that existed in ``previous`` keeps its podCIDRs and addresses even when
other nodes are added or removed around it, as in a cluster where a registered node's podCIDR and
IP never change. New nodes then take the lowest free block/address, never one in use.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from podnet.api.core import Condition, Node, NodeAddress, NodeSpec, NodeStatus, Taint
from podnet.api.defaults import stable_uid
from podnet.api.frozen import FrozenDict, freeze
from podnet.api.meta import ObjectMeta
from podnet.cluster.allocators import AllocationError, PodCIDRAllocator
from podnet.cluster.config import DEFAULT_UNDERLAY, ClusterConfig, NodeConfig, default_nodes
from podnet.cluster.state import ClusterState

__all__ = [
    "CONTROL_PLANE_LABEL",
    "CONTROL_PLANE_TAINT",
    "DEFAULT_MAX_PODS",
    "DEFAULT_UNDERLAY_V6",
    "EXCLUDE_LB_LABEL",
    "build_nodes",
    "kubelet_conditions",
    "kubelet_labels",
]

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
CONTROL_PLANE_TAINT = Taint(key=CONTROL_PLANE_LABEL, effect="NoSchedule")
#: kubelet's default ``--max-pods``.
DEFAULT_MAX_PODS = "110"
#: The IPv6 subnet of kind's docker network named ``kind`` (a ULA derived from the name).
DEFAULT_UNDERLAY_V6 = "fc00:f853:ccd:e793::/64"
#: Nodes take addresses from .2 upward: .0 is the network, .1 the docker bridge gateway.
_FIRST_HOST_OFFSET = 2

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def kubelet_labels(name: str) -> dict[str, str]:
    """The labels kubelet puts on the node it registers (linux/amd64, as in kind)."""
    return {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }


def kubelet_conditions() -> tuple[Condition, ...]:
    """A healthy kubelet's node conditions, in the order kubelet reports them."""
    return _CONDITIONS


_CONDITIONS = (
    Condition(
        type="MemoryPressure",
        status="False",
        reason="KubeletHasSufficientMemory",
        message="kubelet has sufficient memory available",
    ),
    Condition(
        type="DiskPressure",
        status="False",
        reason="KubeletHasNoDiskPressure",
        message="kubelet has no disk pressure",
    ),
    Condition(
        type="PIDPressure",
        status="False",
        reason="KubeletHasSufficientPID",
        message="kubelet has sufficient PID available",
    ),
    Condition(
        type="Ready", status="True", reason="KubeletReady", message="kubelet is posting ready status"
    ),
)

_CAPACITY: FrozenDict[str, str] = FrozenDict({"pods": DEFAULT_MAX_PODS})


# ---------------------------------------------------------------------------- helpers


def _sorted_labels(labels: dict[str, str]) -> FrozenDict[str, str]:
    """Labels in key order: how the API server serialises a Go map."""
    return FrozenDict(sorted(labels.items()))


def _pod_networks(config: ClusterConfig) -> tuple[IPNetwork, ...]:
    return config.pod_networks()


def _cidr_allocator(config: ClusterConfig) -> PodCIDRAllocator | None:
    """kube-controller-manager's allocator for the cluster CIDRs (None when there are none)."""
    networks = _pod_networks(config)
    if not networks:
        return None
    return PodCIDRAllocator(networks)


class _AddressPool:
    """Hands out host addresses of one subnet from .2 upward, skipping addresses in use.

    One pool per underlay subnet: nodes sharing a subnet are numbered together, in node order,
    as docker numbers the containers it attaches to a network. ``used`` is shared by all pools,
    so an address reserved anywhere (an explicit ``internalIP``, a previous node) is skipped.
    """

    def __init__(self, network: IPNetwork, used: set[IPAddress]) -> None:
        self.network = network
        self.used = used
        self.next = int(network.network_address) + _FIRST_HOST_OFFSET
        last = int(network.broadcast_address)
        self.last = last - 1 if network.version == 4 else last

    def take(self) -> IPAddress:
        while self.next <= self.last:
            addr = _address_of(self.next, self.network.version)
            self.next += 1
            if addr not in self.used:
                self.used.add(addr)
                return addr
        raise AllocationError(
            f"no free node address left in {self.network}", detail="no IP addresses available"
        )


def _address_of(value: int, version: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def _parse_ips(values: Iterable[str]) -> list[IPAddress]:
    out: list[IPAddress] = []
    for v in values:
        a = _parse_one(v)
        if a is not None:
            out.append(a)
    return out


# ---------------------------------------------------------------------------- build


def build_nodes(
    config: ClusterConfig, given: list[Node], previous: ClusterState | None
) -> tuple[Node, ...]:
    """The cluster's Node objects, complete, in node order.

    ``given`` Node objects (from the manifests) define the nodes when there are any; otherwise
    ``config.nodes`` (kind's three-node layout when the config names none). ``previous`` keeps the
    podCIDRs and addresses of nodes that already existed, so adding a node never re-addresses
    another.
    """
    prev_nodes: dict[str, Node] = {}
    if previous is not None:
        prev_nodes = {n.metadata.name: n for n in previous.nodes}
    if given:
        return _complete_given(config, given, prev_nodes)
    node_configs = config.nodes or default_nodes()
    return _from_config(config, node_configs, prev_nodes)


def _v6_wanted(config: ClusterConfig) -> tuple[bool, bool]:
    """(IPv4 address wanted, IPv6 address wanted) for nodes, from the pod network's families."""
    families = [n.version for n in _pod_networks(config)]
    if not families:
        return True, False
    return 4 in families, 6 in families


def _from_config(
    config: ClusterConfig, node_configs: Sequence[NodeConfig], prev_nodes: dict[str, Node]
) -> tuple[Node, ...]:
    # kind removes the control-plane taint and the exclude-from-LB label only when the cluster
    # is a single node; every multi-node cluster keeps both (even one without workers).
    multi_node = len(node_configs) > 1
    allocator = _cidr_allocator(config)
    networks = _pod_networks(config)
    want_v4, want_v6 = _v6_wanted(config)
    primary_v6 = bool(networks) and networks[0].version == 6

    # podCIDRs: explicit ones, then those a previous node of the same name had, are taken first.
    cidrs: dict[str, tuple[str, ...]] = {}
    taken_blocks: set[IPNetwork] = set()
    for nc in node_configs:
        if nc.pod_cidrs:
            cidrs[nc.name] = nc.pod_cidrs
    for nc in node_configs:
        if nc.name not in cidrs and nc.name in prev_nodes and prev_nodes[nc.name].pod_cidrs:
            prev_cidrs = prev_nodes[nc.name].pod_cidrs
            if _inside(prev_cidrs, networks) and not any(_net(c) in taken_blocks for c in prev_cidrs):
                cidrs[nc.name] = prev_cidrs
        for c in cidrs.get(nc.name, ()):
            taken_blocks.add(_net(c))

    # Addresses: explicit ones, then those of a previous node of the same name, are reserved
    # before any pool hands one out.
    used: set[IPAddress] = set()
    addresses: dict[str, list[IPAddress]] = {}
    for nc in node_configs:
        explicit = _parse_one(nc.internal_ip) if nc.internal_ip else None
        if explicit is not None:
            addresses[nc.name] = [explicit]
            used.add(explicit)
    for nc in node_configs:
        prev = prev_nodes.get(nc.name)
        if prev is None:
            continue
        have = addresses.setdefault(nc.name, [])
        subnet = _net(nc.subnet) if nc.subnet else None
        for addr in _parse_ips(prev.internal_ips):
            if addr.version in {a.version for a in have} or addr in used:
                continue
            if subnet is not None and subnet.version == addr.version and addr not in subnet:
                continue  # the node moved to another subnet: it gets an address there
            have.append(addr)
            used.add(addr)

    pools: dict[IPNetwork, _AddressPool] = {}

    def take(network: IPNetwork) -> IPAddress:
        if network not in pools:
            pools[network] = _AddressPool(network, used)
        return pools[network].take()

    primary = 6 if primary_v6 else 4
    cursor = _CidrCursor(allocator, taken_blocks)
    nodes: list[Node] = []
    for index, nc in enumerate(node_configs):
        # InternalIP(s): one per family the pod network uses (plus the family of an explicit
        # address or subnet), the pod network's primary family first.
        ips = list(addresses.get(nc.name, []))
        subnet = _net(nc.subnet) if nc.subnet else None
        wanted = {fam for fam, want in ((4, want_v4), (6, want_v6)) if want}
        wanted.update(a.version for a in ips)
        if subnet is not None:
            wanted.add(subnet.version)
        for fam in sorted(wanted - {a.version for a in ips}):
            if subnet is not None and subnet.version == fam:
                ips.append(take(subnet))
            else:
                ips.append(take(_net(DEFAULT_UNDERLAY if fam == 4 else DEFAULT_UNDERLAY_V6)))
        ips.sort(key=lambda a: a.version != primary)

        pod_cidrs = cidrs.get(nc.name)
        if pod_cidrs is None:
            pod_cidrs = cursor.take(index)

        labels = kubelet_labels(nc.name)
        taints: tuple[Taint, ...] = ()
        if nc.role == "control-plane":
            labels[CONTROL_PLANE_LABEL] = ""
            if multi_node:
                labels[EXCLUDE_LB_LABEL] = ""
                taints = (CONTROL_PLANE_TAINT,)
        labels.update(nc.labels)
        node = Node(
            metadata=ObjectMeta(name=nc.name, labels=_sorted_labels(labels)),
            spec=NodeSpec(
                pod_cidr=pod_cidrs[0] if pod_cidrs else "",
                pod_cidrs=tuple(pod_cidrs),
                taints=taints,
            ),
            status=NodeStatus(
                addresses=tuple(NodeAddress(type="InternalIP", address=str(ip)) for ip in ips)
                + (NodeAddress(type="Hostname", address=nc.name),),
                conditions=_CONDITIONS,
                capacity=_CAPACITY,
                allocatable=_CAPACITY,
                extra=_NODE_INFO,
            ),
        )
        nodes.append(node.with_meta(uid=stable_uid(node)))
    return tuple(nodes)


#: ``status.nodeInfo``: the Kubernetes behaviour podnet models, and what really runs the node.
_NODE_INFO: FrozenDict[str, Any] = freeze(
    {
        "nodeInfo": {
            "kubeletVersion": "v1.34.0-podnet",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
            "osImage": "podnet network namespace",
            "containerRuntimeVersion": "podnet://0.1.0",
            "kernelVersion": "",
        }
    }
)


def _inside(cidrs: Sequence[str], networks: Sequence[IPNetwork]) -> bool:
    """Whether every block lies in one of the cluster's pod networks (a previous node's
    podCIDR is only kept while the pod network it came from is still the cluster's)."""
    for c in cidrs:
        try:
            block = _net(c)
        except ValueError:
            return False
        if not any(block.version == n.version and block.subnet_of(n) for n in networks):  # type: ignore[arg-type]
            return False
    return True


def _net(cidr: str) -> IPNetwork:
    return ipaddress.ip_network(cidr, strict=False)


def _parse_one(ip: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


class _CidrCursor:
    """kube-controller-manager's node CIDR allocation over the blocks not yet taken.

    Node *i* gets block *i* when it is free, else the next free block (wrapping). When the
    cluster CIDR has no block left the node gets no podCIDR: upstream leaves it without one (and
    records a ``CIDRNotAvailable`` event) rather than failing the node. Exhaustion is remembered
    so that 5,000 nodes on a 256-block network do not rescan the whole range each.
    """

    def __init__(self, allocator: PodCIDRAllocator | None, taken: set[IPNetwork]) -> None:
        self.allocator = allocator
        self.taken = taken
        self.exhausted = allocator is None
        # Blocks of another size than the allocator's (a node's hand-written podCIDR) cannot be
        # found by set lookup; they are few, so they are checked for overlap one by one.
        sizes = (
            {allocator.node_mask_v4, allocator.node_mask_v6} if allocator is not None else set()
        )
        self.odd = [t for t in taken if t.prefixlen not in sizes]

    def _free(self, block: IPNetwork) -> bool:
        if block in self.taken:
            return False
        return not any(o.version == block.version and o.overlaps(block) for o in self.odd)

    def take(self, index: int) -> tuple[str, ...]:
        if self.exhausted or self.allocator is None:
            return ()
        capacity = self.allocator.max_nodes
        for step in range(capacity):
            blocks = self.allocator.node_cidrs((index + step) % capacity)
            if all(self._free(b) for b in blocks):
                self.taken.update(blocks)
                return tuple(str(b) for b in blocks)
        self.exhausted = True
        return ()


def _complete_given(
    config: ClusterConfig, given: Sequence[Node], prev_nodes: dict[str, Node]
) -> tuple[Node, ...]:
    """Fill what given Node objects lack; never change what they carry."""
    allocator = _cidr_allocator(config)
    want_v4, want_v6 = _v6_wanted(config)
    networks = _pod_networks(config)
    primary_v6 = bool(networks) and networks[0].version == 6

    taken_blocks: set[IPNetwork] = set()
    used: set[IPAddress] = set()
    for n in given:
        for c in n.pod_cidrs:
            try:
                taken_blocks.add(_net(c))
            except ValueError:
                continue
        used.update(_parse_ips(n.internal_ips))
    # Previous podCIDRs/addresses of given nodes that carry none now.
    prev_cidrs: dict[str, tuple[str, ...]] = {}
    prev_ips: dict[str, list[IPAddress]] = {}
    for n in given:
        name = n.metadata.name
        prev = prev_nodes.get(name)
        if prev is None:
            continue
        if not n.pod_cidrs and prev.pod_cidrs and _inside(prev.pod_cidrs, networks):
            blocks = [_net(c) for c in prev.pod_cidrs]
            if not any(b in taken_blocks for b in blocks):
                prev_cidrs[name] = prev.pod_cidrs
                taken_blocks.update(blocks)
        if not n.internal_ips and prev.internal_ips:
            keep = [a for a in _parse_ips(prev.internal_ips) if a not in used]
            if keep:
                prev_ips[name] = keep
                used.update(keep)

    pools: dict[IPNetwork, _AddressPool] = {}

    def take(network: IPNetwork) -> IPAddress:
        if network not in pools:
            pools[network] = _AddressPool(network, used)
        return pools[network].take()

    cursor = _CidrCursor(allocator, taken_blocks)
    out: list[Node] = []
    for index, n in enumerate(given):
        name = n.metadata.name
        labels = dict(n.metadata.labels)
        missing = {k: v for k, v in kubelet_labels(name).items() if k not in labels}
        meta = n.metadata
        if missing:
            labels.update(missing)
            meta = replace(meta, labels=_sorted_labels(labels))
        if not meta.uid:
            meta = replace(meta, uid=stable_uid(n))

        spec = n.spec
        if not n.pod_cidrs:
            cidrs = prev_cidrs.get(name) or cursor.take(index)
            if cidrs:
                spec = replace(spec, pod_cidr=cidrs[0], pod_cidrs=tuple(cidrs))
        elif not spec.pod_cidr or not spec.pod_cidrs:
            cidrs = n.pod_cidrs
            spec = replace(spec, pod_cidr=cidrs[0], pod_cidrs=tuple(cidrs))

        status = n.status
        addresses = list(status.addresses)
        if not n.internal_ips:
            ips = prev_ips.get(name)
            if not ips:
                fams = [4] if want_v4 or not want_v6 else []
                if want_v6:
                    fams.append(6)
                if primary_v6:
                    fams.sort(reverse=True)
                ips = [take(_net(DEFAULT_UNDERLAY if f == 4 else DEFAULT_UNDERLAY_V6)) for f in fams]
            others = [a for a in addresses if a.type != "InternalIP"]
            addresses = [NodeAddress(type="InternalIP", address=str(ip)) for ip in ips] + others
        if not any(a.type == "Hostname" for a in addresses):
            addresses.append(NodeAddress(type="Hostname", address=name))
        changes: dict[str, object] = {}
        if tuple(addresses) != status.addresses:
            changes["addresses"] = tuple(addresses)
        if not status.conditions:
            changes["conditions"] = _CONDITIONS
        if "pods" not in status.capacity:
            changes["capacity"] = FrozenDict({**status.capacity, "pods": DEFAULT_MAX_PODS})
        if "pods" not in status.allocatable:
            changes["allocatable"] = FrozenDict({**status.allocatable, "pods": DEFAULT_MAX_PODS})
        if changes:
            status = replace(status, **changes)  # type: ignore[arg-type]
        if meta is not n.metadata or spec is not n.spec or status is not n.status:
            n = replace(n, metadata=meta, spec=spec, status=status)
        out.append(n)
    return tuple(out)
