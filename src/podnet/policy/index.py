"""PolicyIndex: every NetworkPolicy of a cluster compiled once, for verdicts, matrices and nftables.

The questions policy answers are all of the form "which pods does this peer / this policy / this
named port pick?", asked thousands of times for one cluster. The index answers each of them once,
up front, as a **bitmask over pods**: every pod on the pod network gets a bit (pods sorted by
namespace, then name), and a set of pods is a Python ``int``. Union is ``|``, intersection is ``&``,
membership is a shift — all at C speed, whatever the number of pods. Label selectors compile to
masks through a label index (``(key, value) → mask``, ``key → mask``), so no selector is ever
matched against pods one by one.

What is compiled:

- per policy: the pods it selects (its podSelector, in its namespace), whether it is an Ingress
  and/or an Egress policy (``policyTypes``, defaulted as the API server defaults it when the
  object was not defaulted), and its rules;
- per rule: its peers (each a mask of the pods it matches, plus the ipBlock to test addresses
  that are not pods) and its ports (protocol, number or range, or a name to resolve in the
  destination pod);
- per pod: the policies that select it for ingress and for egress, its named ports.

Host-network pods get no bit: a policy never selects them and pod/namespace selectors never
match them; as peers they are the address of their node, which only an ipBlock can match.

``mode`` says whose semantics the index answers with: ``api`` (networking.k8s.io/v1 as the
upstream e2e suite asserts it), ``cilium`` (an ipBlock never matches an address the cluster
manages — pods and nodes have identities instead), ``none`` (the plugin enforces nothing).
See :mod:`podnet.policy.enforcement`.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from podnet.api.addresses import CANONICAL_V4
from podnet.api.core import Namespace, Pod
from podnet.api.defaults import normalize_protocol
from podnet.api.networking import IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort
from podnet.api.selectors import LabelSelector, Requirement, Selector
from podnet.cluster.gcpause import paused_gc
from podnet.cluster.state import ClusterState

Mode = Literal["api", "cilium", "none"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PROTOCOLS = ("TCP", "UDP", "SCTP")


def bits(mask: int) -> Iterable[int]:
    """The indices of the set bits of ``mask``, lowest first.

    Read off the mask's binary text, one C-speed pass: peeling the lowest bit off instead
    copies the whole int at every step, and a mask over 150,000 pods is 20 kB."""
    if mask < 0:
        raise ValueError(f"a mask is a set of pods, not a negative number: {mask}")
    digits = bin(mask)[:1:-1]  # least significant first
    i = digits.find("1")
    while i >= 0:
        yield i
        i = digits.find("1", i + 1)


# ---------------------------------------------------------------------------- compiled parts


@dataclass(frozen=True, slots=True)
class PortMatch:
    """One ``NetworkPolicyPort``: a protocol and a number, a range, a name, or any port."""

    protocol: str
    port: int | None = None
    end_port: int | None = None
    name: str | None = None

    def matches(self, port: int, protocol: str, named_ports: Mapping[tuple[str, str], int] | None) -> bool:
        """Whether ``port/protocol`` on a destination with ``named_ports`` is this port.

        ``named_ports`` is None for a destination that is not a pod on the pod network: a named
        port then resolves to nothing (there is no container to give the name a number).
        """
        if protocol != self.protocol:
            return False
        if self.name is not None:
            return named_ports is not None and named_ports.get((self.name, protocol)) == port
        if self.port is None:
            return True
        if self.end_port is not None:
            return self.port <= port <= self.end_port
        return port == self.port

    def __str__(self) -> str:
        if self.name is not None:
            return f"{self.name}/{self.protocol}"
        if self.port is None:
            return f"any/{self.protocol}"
        if self.end_port is not None:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class IPBlockMatch:
    """An ipBlock: ``cidr`` minus every ``except`` range."""

    cidr: Network | None
    excepts: tuple[Network, ...] = ()
    text: str = ""

    @property
    def family(self) -> int:
        return self.cidr.version if self.cidr is not None else 0

    def contains(self, ip: str | Address) -> bool:
        if self.cidr is None:
            return False
        try:
            addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        except ValueError:
            return False
        if addr.version != self.cidr.version or addr not in self.cidr:
            return False
        return not any(addr in e for e in self.excepts if e.version == addr.version)


@dataclass(frozen=True, slots=True)
class PeerMatch:
    """One ``NetworkPolicyPeer``.

    ``mask`` holds the pods on the pod network it matches. For an ipBlock that is the pods
    whose primary address falls in the block (none in ``cilium`` mode); ``ip_block`` then also
    tests addresses that are not pods (external clients, nodes, host-network pods).
    """

    mask: int
    ip_block: IPBlockMatch | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """One ingress or egress rule: any peer (an empty list: every source/destination) AND any port."""

    index: int
    peers: tuple[PeerMatch, ...]
    ports: tuple[PortMatch, ...]
    #: Union of the peers' pod masks; every pod when the rule has no peers.
    peer_mask: int

    @property
    def all_peers(self) -> bool:
        return not self.peers

    @property
    def all_ports(self) -> bool:
        return not self.ports

    def port_matches(self, port: int, protocol: str, named_ports: Mapping[tuple[str, str], int] | None) -> bool:
        return not self.ports or any(p.matches(port, protocol, named_ports) for p in self.ports)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A NetworkPolicy with its selector resolved and its rules compiled."""

    key: str  # "ns/name"
    namespace: str
    name: str
    pod_selector: Selector
    ingress: bool  # "Ingress" in policyTypes: isolates the pods it selects for ingress
    egress: bool
    ingress_rules: tuple[RuleMatch, ...]
    egress_rules: tuple[RuleMatch, ...]
    selected: int  # mask of the pods it selects
    policy: NetworkPolicy = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class IndexedPod:
    """A pod on the pod network, with its bit and the policies that select it."""

    bit: int
    key: str
    pod: Pod = field(compare=False, repr=False)
    ips: tuple[str, ...]
    node: str
    named_ports: Mapping[tuple[str, str], int] = field(compare=False)
    ingress_policies: tuple[int, ...] = ()
    egress_policies: tuple[int, ...] = ()

    @property
    def ip(self) -> str:
        return self.ips[0] if self.ips else ""

    def ip_of_family(self, version: int) -> str:
        for ip in self.ips:
            if ipaddress.ip_address(ip).version == version:
                return ip
        return self.ip


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a connection.

    ``kind`` is ``pod`` (a pod on the pod network), ``host`` (a node's own address: the node
    itself or a host-network pod on it) or ``external`` (an address outside the cluster).
    """

    kind: Literal["pod", "host", "external"]
    ip: str
    namespace: str = ""
    name: str = ""  # pod name (pod and host-network pod), node name for a bare node
    node: str = ""

    @property
    def key(self) -> str:
        """``ns/name`` for pods (host-network ones too), ``node/NAME`` for nodes, else the IP."""
        if self.namespace:
            return f"{self.namespace}/{self.name}"
        if self.kind == "host" and self.name:
            return f"node/{self.name}"
        return self.ip

    @property
    def is_pod(self) -> bool:
        return self.kind == "pod"

    @property
    def host_network(self) -> bool:
        return self.kind == "host" and bool(self.namespace)

    def __str__(self) -> str:
        return self.key

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "ip": self.ip}
        if self.namespace:
            out["pod"] = f"{self.namespace}/{self.name}"
        if self.node:
            out["node"] = self.node
        return out


class UnknownEndpoint(LookupError):
    """A pod, node or address the index does not know."""


# ---------------------------------------------------------------------------- the index


@dataclass(frozen=True, slots=True)
class PolicyIndex:
    """All NetworkPolicies of a cluster, compiled against its pods and namespaces."""

    mode: Mode
    plugin: str
    #: By bit (see :class:`_PodTable`: each made on first use).
    pods: Sequence[IndexedPod]
    host_network_pods: tuple[Pod, ...]
    policies: tuple[CompiledPolicy, ...]
    all_mask: int
    by_key: Mapping[str, IndexedPod] = field(repr=False)
    by_ip: Mapping[str, IndexedPod] = field(repr=False)
    host_ips: Mapping[str, tuple[str, str]] = field(repr=False)  # ip -> (node, "ns/name" or "")
    node_ips: Mapping[str, tuple[str, ...]] = field(repr=False)
    named_port_masks: Mapping[tuple[str, str], Mapping[int, int]] = field(repr=False)
    policies_by_namespace: Mapping[str, tuple[int, ...]] = field(repr=False)
    state: ClusterState = field(compare=False, repr=False)

    # ------------------------------------------------------------------ build

    @classmethod
    def build(cls, state: ClusterState, mode: Mode = "api") -> PolicyIndex:
        """Compile every NetworkPolicy of ``state``; ``mode`` picks whose semantics answer.

        The cyclic garbage collector is paused meanwhile: the index is a few hundred thousand
        small objects all alive at the end, and the collections their allocation triggers
        (each a walk of the whole cluster's objects) were half of a large index's build."""
        with paused_gc():
            return _Builder(state, mode).build()

    @classmethod
    def of(cls, state: ClusterState, mode: Mode = "api") -> PolicyIndex:
        """:meth:`build`, once per state and mode (``ClusterState.memo``): trace, check, diff
        and lint of one state ask the same index."""
        return state.memo(("policy-index", mode), lambda: cls.build(state, mode))

    def with_mode(self, mode: Mode) -> PolicyIndex:
        """The same cluster's index in ``mode``, built once per state and mode."""
        if mode == self.mode:
            return self
        return PolicyIndex.of(self.state, mode)

    # ------------------------------------------------------------------ lookup

    def pod(self, key: str) -> IndexedPod:
        try:
            return self.by_key[key]
        except KeyError:
            raise UnknownEndpoint(f'pod "{key}" not found (or it is not on the pod network)') from None

    def endpoint(self, ref: str | Pod | Endpoint) -> Endpoint:
        """An Endpoint for a pod object, ``ns/name``, ``node/NAME``, or an IP address."""
        if isinstance(ref, Endpoint):
            return ref
        if isinstance(ref, Pod):
            return self._pod_endpoint(ref)
        text = ref.strip()
        if text.startswith("pod/"):
            text = text[4:]
        if text.startswith("node/"):
            return self.node_endpoint(text[5:])
        try:
            ipaddress.ip_address(text)
        except ValueError:
            pass
        else:
            return self.ip_endpoint(text)
        ns, sep, name = text.partition("/")
        if not sep:
            raise UnknownEndpoint(f'"{ref}": expected NS/POD, node/NAME or an IP address')
        pod = self.state.pod(ns, name)
        if pod is None:
            raise UnknownEndpoint(f'pod "{text}" not found')
        return self._pod_endpoint(pod)

    def _pod_endpoint(self, pod: Pod) -> Endpoint:
        ns, name = pod.metadata.namespace, pod.metadata.name
        ips = pod.ips
        if pod.spec.host_network:
            ip = ips[0] if ips else pod.status.host_ip
            if not ip:
                ip = next(iter(self.node_ips.get(pod.spec.node_name, ())), "")
            return Endpoint("host", ip, ns, name, pod.spec.node_name)
        return Endpoint("pod", ips[0] if ips else "", ns, name, pod.spec.node_name)

    def node_endpoint(self, node: str) -> Endpoint:
        ips = self.node_ips.get(node)
        if ips is None:
            raise UnknownEndpoint(f'node "{node}" not found')
        return Endpoint("host", ips[0] if ips else "", "", node, node)

    def ip_endpoint(self, ip: str) -> Endpoint:
        """The pod, node or outside address behind ``ip``."""
        ip = str(ipaddress.ip_address(ip))
        ipod = self.by_ip.get(ip)
        if ipod is not None:
            p = ipod.pod
            return Endpoint("pod", ip, p.metadata.namespace, p.metadata.name, p.spec.node_name)
        host = self.host_ips.get(ip)
        if host is not None:
            node, pod_key = host
            if pod_key:
                ns, _, name = pod_key.partition("/")
                return Endpoint("host", ip, ns, name, node)
            return Endpoint("host", ip, "", node, node)
        return Endpoint("external", ip)

    def indexed(self, ep: Endpoint) -> IndexedPod | None:
        if ep.kind != "pod":
            return None
        return self.by_key.get(ep.key)

    def policy(self, key: str) -> CompiledPolicy | None:
        for i in self.policies_by_namespace.get(key.partition("/")[0], ()):
            if self.policies[i].key == key:
                return self.policies[i]
        return None

    def named_port_mask(self, name: str, protocol: str, port: int) -> int:
        """Pods whose container port ``name``/``protocol`` is number ``port``."""
        return self.named_port_masks.get((name, protocol), {}).get(port, 0)

    def pods_of_mask(self, mask: int) -> list[IndexedPod]:
        return [self.pods[b] for b in bits(mask)]

    def pod_objects(self) -> Sequence[Pod]:
        """The Pod objects by bit, without making their :class:`IndexedPod` (a caller that only
        wants a few of them, like ``diff``'s one per workload, indexes ``pods`` with the bit)."""
        if isinstance(self.pods, _PodTable):
            return self.pods.objects
        return [p.pod for p in self.pods]


# ---------------------------------------------------------------------------- lazy tables

K = TypeVar("K")
#: A pod spec's named ports: (name, protocol) → number, and every (name, protocol), number in order.
_Declared = tuple[Mapping[tuple[str, str], int], tuple[tuple[tuple[str, str], int], ...]]


def _canonical_ips(p: Pod) -> tuple[str, ...]:
    raw = p.ips
    return raw if all(CANONICAL_V4.fullmatch(x) for x in raw) else tuple(_canonical(x) for x in raw)


class _PodTable(Sequence[IndexedPod]):
    """The pods of an index by bit, each :class:`IndexedPod` made on first use.

    A ``check`` of a thousand connections in a 150,000-pod cluster asks for a few thousand of
    them and ``diff`` for one per workload: making all of them up front was most of a large
    index's build. What every pod needs (its bit, the policies selecting it) is computed up
    front all the same."""

    __slots__ = ("objects", "_ingress", "_egress", "_made", "_ports")

    def __init__(self, objects: list[Pod], ingress_of: list[list[int]], egress_of: list[list[int]]) -> None:
        self.objects = objects
        self._ingress = ingress_of
        self._egress = egress_of
        self._made: list[IndexedPod | None] = [None] * len(objects)
        #: id(PodSpec) → (named ports, every named port in order): pods stamped from one
        #: template share their spec object (and so the read-only mapping).
        self._ports: dict[int, _Declared] = {}

    def __len__(self) -> int:
        return len(self.objects)

    @overload
    def __getitem__(self, i: int) -> IndexedPod: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[IndexedPod]: ...

    def __getitem__(self, i: int | slice) -> IndexedPod | Sequence[IndexedPod]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self.objects)))]
        got = self._made[i]
        if got is None:
            got = self._make(i if i >= 0 else i + len(self.objects))
        return got

    def __iter__(self) -> Iterator[IndexedPod]:
        made = self._made
        for i in range(len(made)):
            got = made[i]
            yield got if got is not None else self._make(i)

    def declared_ports(self, p: Pod) -> _Declared:
        spec = p.spec
        hit = self._ports.get(id(spec))
        if hit is None:
            declared = tuple(
                ((cp.name, normalize_protocol(cp.protocol)), cp.container_port)
                for cp in spec.all_ports() if cp.name
            )
            hit = self._ports[id(spec)] = (dict(declared), declared)
        return hit

    def _make(self, bit: int) -> IndexedPod:
        p = self.objects[bit]
        meta = p.metadata
        ing, eg = self._ingress[bit], self._egress[bit]
        got = IndexedPod(
            bit,
            f"{meta.namespace}/{meta.name}",
            p,
            _canonical_ips(p),
            p.spec.node_name,
            self.declared_ports(p)[0],
            tuple(ing),
            tuple(eg),
        )
        self._made[bit] = got
        return got

    def named_port_masks(self) -> dict[tuple[str, str], dict[int, int]]:
        """(port name, protocol) → number → the pods whose container port it names."""
        named: dict[tuple[str, str], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for bit, p in enumerate(self.objects):
            for key, number in self.declared_ports(p)[1]:
                named[key][number].append(bit)
        return {k: {number: _mask_of(b) for number, b in v.items()} for k, v in named.items()}


class _ByBit(Mapping[K, IndexedPod]):
    """Pods of a :class:`_PodTable` by a key (``ns/name``, an address), the key → bit table
    built on first use."""

    __slots__ = ("_table", "_build", "_bits")

    def __init__(self, table: _PodTable, build: Callable[[], dict[K, int]]) -> None:
        self._table = table
        self._build = build
        self._bits: dict[K, int] | None = None

    def _index(self) -> dict[K, int]:
        if self._bits is None:
            self._bits = self._build()
        return self._bits

    def __getitem__(self, key: K) -> IndexedPod:
        return self._table[self._index()[key]]

    def get(self, key: K, default: IndexedPod | None = None) -> IndexedPod | None:  # type: ignore[override]
        bit = self._index().get(key)
        return default if bit is None else self._table[bit]

    def __contains__(self, key: object) -> bool:
        return key in self._index()

    def __iter__(self) -> Iterator[K]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())


class _ByName(Mapping[str, IndexedPod]):
    """Pods of a :class:`_PodTable` by ``ns/name``, through the builder's namespace → name →
    bit tables (no table of 150,000 keys made for a few lookups)."""

    __slots__ = ("_table", "_bit_of")

    def __init__(self, table: _PodTable, bit_of: dict[str, dict[str, int]]) -> None:
        self._table = table
        self._bit_of = bit_of

    def _bit(self, key: object) -> int | None:
        if not isinstance(key, str):
            return None
        ns, _, name = key.partition("/")
        names = self._bit_of.get(ns)
        return None if names is None else names.get(name)

    def __getitem__(self, key: str) -> IndexedPod:
        bit = self._bit(key)
        if bit is None:
            raise KeyError(key)
        return self._table[bit]

    def get(self, key: str, default: IndexedPod | None = None) -> IndexedPod | None:  # type: ignore[override]
        bit = self._bit(key)
        return default if bit is None else self._table[bit]

    def __contains__(self, key: object) -> bool:
        return self._bit(key) is not None

    def __iter__(self) -> Iterator[str]:
        for ns, names in self._bit_of.items():
            for name in names:
                yield f"{ns}/{name}"

    def __len__(self) -> int:
        return len(self._table)


class _Lazy(Mapping[K, Any]):
    """A mapping computed on first use."""

    __slots__ = ("_build", "_data")

    def __init__(self, build: Callable[[], Mapping[K, Any]]) -> None:
        self._build = build
        self._data: Mapping[K, Any] | None = None

    def _get(self) -> Mapping[K, Any]:
        if self._data is None:
            self._data = self._build()
        return self._data

    def __getitem__(self, key: K) -> Any:
        return self._get()[key]

    def get(self, key: K, default: Any = None) -> Any:
        return self._get().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._get()

    def __iter__(self) -> Iterator[K]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


# ---------------------------------------------------------------------------- building



def _canonical(ip: str) -> str:
    """``str(ipaddress.ip_address(ip))`` (raising ValueError alike), without parsing the
    common case: 150,000 pod addresses parsed twice were a third of a large index's build."""
    if CANONICAL_V4.fullmatch(ip):
        return ip
    return str(ipaddress.ip_address(ip))


def _mask_of(positions: list[int]) -> int:
    """The mask with the bits ``positions`` (ascending) set.

    Never one ``|=`` per bit: on a mask of 150,000 pods each would copy 20 kB. A workload's pods
    are adjacent in the pod order, so a few runs of consecutive bits are the common case;
    otherwise the bits are set in a byte array converted once."""
    if not positions:
        return 0
    runs: list[tuple[int, int]] = []
    start = prev = positions[0]
    for p in positions[1:]:
        if p != prev + 1:
            runs.append((start, prev))
            if len(runs) > 16:
                break
            start = p
        prev = p
    else:
        runs.append((start, prev))
        mask = 0
        for a, b in runs:
            mask |= ((1 << (b - a + 1)) - 1) << a
        return mask
    buf = bytearray(max(positions) // 8 + 1)
    for p in positions:
        buf[p >> 3] |= 1 << (p & 7)
    return int.from_bytes(buf, "little")


class _Builder:
    """Builds one PolicyIndex; memoizes selector and ipBlock masks (policies repeat them).

    What a 150,000-pod cluster makes expensive is done only when a policy asks for it: label
    masks come from the state's own label index for the labels selectors name, and pod
    addresses are parsed for ipBlocks only."""

    def __init__(self, state: ClusterState, mode: Mode) -> None:
        self.state = state
        self.mode: Mode = mode
        # Pods sorted by (namespace, name): the namespaces in order, each one's pods by name.
        by_ns = state.index.pods_by_ns
        pods: list[Pod] = []
        host: list[Pod] = []
        #: namespace → pod name → bit
        self.bit_of: dict[str, dict[str, int]] = {}
        self.ns_mask: dict[str, int] = {}
        for ns in sorted(by_ns):
            members = sorted(by_ns[ns], key=lambda p: p.metadata.name)
            start = len(pods)
            names: dict[str, int] = {}
            for p in members:
                if p.spec.host_network:
                    host.append(p)
                else:
                    names[p.metadata.name] = len(pods)
                    pods.append(p)
            if names:
                self.bit_of[ns] = names
                self.ns_mask[ns] = ((1 << len(names)) - 1) << start
        self.pod_objs = pods
        self.host_pods = tuple(host)
        self.all_mask = (1 << len(pods)) - 1
        self._label_cache: dict[tuple[str, str], int] = {}
        self._key_cache: dict[str, int] = {}
        self._primary: list[Address | None] | None = None
        # Namespace labels: the Namespace objects, plus the name label every namespace carries
        # (kubernetes.io/metadata.name is set by the API server and immutable).
        ns_labels: dict[str, dict[str, str]] = {}
        for ns_obj in state.typed(Namespace):
            labels = dict(ns_obj.metadata.labels)
            labels.setdefault(NAMESPACE_NAME_LABEL, ns_obj.metadata.name)
            ns_labels[ns_obj.metadata.name] = labels
        for name in self.ns_mask:
            ns_labels.setdefault(name, {NAMESPACE_NAME_LABEL: name})
        self.ns_labels = ns_labels
        self._sel_cache: dict[Selector, int] = {}
        self._nssel_cache: dict[Selector, int] = {}
        self._ipblock_cache: dict[tuple[str, tuple[str, ...]], tuple[IPBlockMatch, int]] = {}

    @property
    def primary(self) -> list[Address | None]:
        """Each pod's primary address, by bit (parsed on the first ipBlock)."""
        if self._primary is None:
            self._primary = [ipaddress.ip_address(p.ips[0]) if p.ips else None for p in self.pod_objs]
        return self._primary

    # ------------------------------------------------------------------ selectors

    def _bits_of(self, groups: Iterable[tuple[str, Iterable[Pod]]]) -> int:
        out: list[int] = []
        for ns, members in groups:
            names = self.bit_of.get(ns)
            if names is None:
                continue
            for p in members:
                b = names.get(p.metadata.name)
                if b is not None:
                    out.append(b)
        out.sort()
        return _mask_of(out)

    def label_mask(self, key: str, value: str) -> int:
        """Pods with label ``key=value``, from the state's label index."""
        m = self._label_cache.get((key, value))
        if m is None:
            by_label = self.state.index.pods_by_label
            m = self._bits_of((ns, by_label.get(ns, {}).get((key, value), ())) for ns in self.bit_of)
            self._label_cache[(key, value)] = m
        return m

    def key_mask(self, key: str) -> int:
        """Pods with a label ``key``, whatever its value."""
        m = self._key_cache.get(key)
        if m is None:
            by_label = self.state.index.pods_by_label
            m = self._bits_of(
                (ns, (p for (k, _), ps in by_label.get(ns, {}).items() if k == key for p in ps))
                for ns in self.bit_of
            )
            self._key_cache[key] = m
        return m

    def _requirement_mask(self, r: Requirement) -> int:
        if r.op == "In":
            m = 0
            for v in r.values:
                m |= self.label_mask(r.key, v)
            return m
        if r.op == "NotIn":
            m = 0
            for v in r.values:
                m |= self.label_mask(r.key, v)
            return self.all_mask & ~m
        if r.op == "Exists":
            return self.key_mask(r.key)
        if r.op == "DoesNotExist":
            return self.all_mask & ~self.key_mask(r.key)
        return 0

    def selector_mask(self, sel: Selector) -> int:
        """Pods of every namespace whose labels ``sel`` matches."""
        m = self._sel_cache.get(sel)
        if m is None:
            m = self.all_mask
            for r in sel.requirements:
                m &= self._requirement_mask(r)
                if not m:
                    break
            self._sel_cache[sel] = m
        return m

    def namespace_selector_mask(self, sel: Selector) -> int:
        """Pods of the namespaces whose labels ``sel`` matches."""
        m = self._nssel_cache.get(sel)
        if m is None:
            m = 0
            for name, labels in self.ns_labels.items():
                if sel.matches(labels):
                    m |= self.ns_mask.get(name, 0)
            self._nssel_cache[sel] = m
        return m

    # ------------------------------------------------------------------ peers, ports, rules

    def ip_block(self, block: IPBlock) -> tuple[IPBlockMatch, int]:
        key = (block.cidr, tuple(block.except_))
        hit = self._ipblock_cache.get(key)
        if hit is not None:
            return hit
        try:
            cidr: Network | None = ipaddress.ip_network(block.cidr, strict=False)
        except ValueError:
            cidr = None
        excepts: list[Network] = []
        for e in block.except_:
            try:
                excepts.append(ipaddress.ip_network(e, strict=False))
            except ValueError:
                continue
        text = block.cidr + (f" except {', '.join(block.except_)}" if block.except_ else "")
        match = IPBlockMatch(cidr, tuple(excepts), text)
        mask = 0
        if cidr is not None and self.mode != "cilium":
            for bit, addr in enumerate(self.primary):
                if addr is not None and match.contains(addr):
                    mask |= 1 << bit
        self._ipblock_cache[key] = (match, mask)
        return match, mask

    def peer(self, namespace: str, p: NetworkPolicyPeer) -> PeerMatch:
        if p.ip_block is not None:
            match, mask = self.ip_block(p.ip_block)
            return PeerMatch(mask, match, f"ipBlock {match.text}")
        if p.pod_selector is None and p.namespace_selector is None:
            return PeerMatch(0, None, "<empty peer>")
        parts: list[str] = []
        if p.namespace_selector is not None:
            nsm = self.namespace_selector_mask(p.namespace_selector.compile())
            parts.append(f"namespaceSelector {_sel_text(p.namespace_selector)}")
        else:
            nsm = self.ns_mask.get(namespace, 0)
            parts.append(f"namespace {namespace}")
        if p.pod_selector is not None:
            m = nsm & self.selector_mask(p.pod_selector.compile())
            parts.append(f"podSelector {_sel_text(p.pod_selector)}")
        else:
            m = nsm
        return PeerMatch(m, None, " and ".join(parts))

    @staticmethod
    def port(p: NetworkPolicyPort) -> PortMatch:
        proto = normalize_protocol(p.protocol)
        if isinstance(p.port, str):
            if p.port.isdigit():  # "80" given as a string: a number all the same
                return PortMatch(proto, int(p.port), p.end_port)
            return PortMatch(proto, None, None, p.port)
        return PortMatch(proto, p.port, p.end_port if p.port is not None else None)

    def rule(self, namespace: str, index: int, peers: tuple[NetworkPolicyPeer, ...],
             ports: tuple[NetworkPolicyPort, ...]) -> RuleMatch:
        compiled = tuple(self.peer(namespace, p) for p in peers)
        mask = self.all_mask if not compiled else 0
        for c in compiled:
            mask |= c.mask
        return RuleMatch(index, compiled, tuple(self.port(p) for p in ports), mask)

    def policy(self, np: NetworkPolicy) -> CompiledPolicy:
        spec = np.spec
        ns = np.metadata.namespace
        types = spec.policy_types or (("Ingress", "Egress") if spec.egress else ("Ingress",))
        sel = spec.pod_selector.compile()
        return CompiledPolicy(
            key=f"{ns}/{np.metadata.name}",
            namespace=ns,
            name=np.metadata.name,
            pod_selector=sel,
            ingress="Ingress" in types,
            egress="Egress" in types,
            ingress_rules=tuple(self.rule(ns, i, r.from_, r.ports) for i, r in enumerate(spec.ingress)),
            egress_rules=tuple(self.rule(ns, i, r.to, r.ports) for i, r in enumerate(spec.egress)),
            selected=self.ns_mask.get(ns, 0) & self.selector_mask(sel),
            policy=np,
        )

    # ------------------------------------------------------------------ the whole index

    def build(self) -> PolicyIndex:
        state = self.state
        policies = tuple(
            self.policy(np)
            for np in sorted(state.typed(NetworkPolicy), key=lambda n: (n.metadata.namespace, n.metadata.name))
        )
        n = len(self.pod_objs)
        ingress_of: list[list[int]] = [[] for _ in range(n)]
        egress_of: list[list[int]] = [[] for _ in range(n)]
        by_ns: dict[str, list[int]] = defaultdict(list)
        for i, cp in enumerate(policies):
            by_ns[cp.namespace].append(i)
            if not (cp.ingress or cp.egress):
                continue
            for b in bits(cp.selected):
                if cp.ingress:
                    ingress_of[b].append(i)
                if cp.egress:
                    egress_of[b].append(i)
        objs = self.pod_objs
        table = _PodTable(objs, ingress_of, egress_of)

        def addresses() -> dict[str, int]:
            out: dict[str, int] = {}
            for bit, p in enumerate(objs):
                for addr in _canonical_ips(p):
                    out[addr] = bit
            return out

        node_ips: dict[str, tuple[str, ...]] = {}
        for node in state.nodes:
            node_ips[node.metadata.name] = tuple(str(ipaddress.ip_address(a)) for a in node.internal_ips)
        for nc in state.config.nodes:
            if nc.name not in node_ips or (not node_ips[nc.name] and nc.internal_ip):
                node_ips[nc.name] = (nc.internal_ip,) if nc.internal_ip else ()
        host_ips: dict[str, tuple[str, str]] = {}
        for node_name, ips in node_ips.items():
            for a in ips:
                host_ips[a] = (node_name, "")
        for hp in self.host_pods:
            for a in hp.ips or ((hp.status.host_ip,) if hp.status.host_ip else ()):
                host_ips.setdefault(str(ipaddress.ip_address(a)), (hp.spec.node_name, hp.qualified_name))
        return PolicyIndex(
            mode=self.mode,
            plugin=state.config.plugin.name,
            pods=table,
            host_network_pods=self.host_pods,
            policies=policies,
            all_mask=self.all_mask,
            by_key=_ByName(table, self.bit_of),
            by_ip=_ByBit(table, addresses),
            host_ips=host_ips,
            node_ips=node_ips,
            named_port_masks=_Lazy(table.named_port_masks),
            policies_by_namespace={k: tuple(v) for k, v in by_ns.items()},
            state=state,
        )


def _sel_text(sel: LabelSelector) -> str:
    s = sel.compile()
    return "{" + str(s) + "}" if not s.is_empty() else "{} (all)"


__all__ = [
    "CompiledPolicy",
    "Endpoint",
    "IPBlockMatch",
    "IndexedPod",
    "Mode",
    "PeerMatch",
    "PolicyIndex",
    "PortMatch",
    "RuleMatch",
    "UnknownEndpoint",
    "bits",
]
