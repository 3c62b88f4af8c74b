"""ClusterState: every object of a cluster, as given and as the controllers completed it.

It is an immutable value. The objects are keyed by :class:`ObjectRef`; ``applied`` says which of
them the user gave (the rest were made by controllers: ReplicaSets, Pods, EndpointSlices, system
objects). Indexes are built once, on first use, and answer the questions every layer asks — the
pods of a namespace, the pods a selector picks, the slices of a Service — without a scan of the
whole cluster (the CoreDNS kubernetes plugin's way: an index built once, answers computed from it).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from podnet.api.core import Namespace, Node, Pod, Service
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import ObjectRef, Resource
from podnet.api.selectors import Selector
from podnet.cluster.config import ClusterConfig

R = TypeVar("R", bound=Resource)
T = TypeVar("T")


@dataclass(slots=True)
class ServiceAllocations:
    """What the Services of a state hold: ClusterIPs, NodePorts (health checks included) and
    LoadBalancer addresses. The incremental path claims these for every Service outside the
    change instead of passing ten thousand Services through allocation again."""

    cluster_ips: dict[int, set[ipaddress.IPv4Address | ipaddress.IPv6Address]]
    node_ports: set[int]
    lb_ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address]

    @staticmethod
    def of(services: Iterable[Service]) -> ServiceAllocations:
        held = ServiceAllocations({4: set(), 6: set()}, set(), set())
        for svc in services:
            held.add(svc)
        return held

    def copy(self) -> ServiceAllocations:
        return ServiceAllocations(
            {v: set(ips) for v, ips in self.cluster_ips.items()}, set(self.node_ports), set(self.lb_ips)
        )

    @staticmethod
    def _parts(svc: Service) -> tuple[list[ipaddress.IPv4Address | ipaddress.IPv6Address], list[int], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
        ips = []
        for ip in svc.cluster_ips:
            try:
                ips.append(ipaddress.ip_address(ip))
            except ValueError:
                continue
        ports = [p.node_port for p in svc.spec.ports if p.node_port]
        if svc.spec.health_check_node_port:
            ports.append(svc.spec.health_check_node_port)
        lbs = []
        for ing in svc.status.load_balancer.ingress:
            if ing.ip:
                try:
                    lbs.append(ipaddress.ip_address(ing.ip))
                except ValueError:
                    continue
        return ips, ports, lbs

    def add(self, svc: Service) -> None:
        ips, ports, lbs = self._parts(svc)
        for ip in ips:
            self.cluster_ips[ip.version].add(ip)
        self.node_ports.update(ports)
        self.lb_ips.update(lbs)

    def remove(self, svc: Service) -> None:
        ips, ports, lbs = self._parts(svc)
        for ip in ips:
            self.cluster_ips[ip.version].discard(ip)
        self.node_ports.difference_update(ports)
        self.lb_ips.difference_update(lbs)


@dataclass(slots=True)
class _Index:
    """Lookups over one state. Namespaced parts are partitioned by namespace so that a change
    confined to a few namespaces patches those partitions and shares the rest (see ``evolve``)."""

    #: kind → namespace → ref → object
    by_kind: dict[str, dict[str, dict[ObjectRef, Resource]]]
    #: namespace → (kind, name) → object
    by_name: dict[str, dict[tuple[str, str], Resource]]
    by_ns: dict[str, dict[ObjectRef, Resource]]
    pods_by_ns: dict[str, list[Pod]]
    pods_by_label: dict[str, dict[tuple[str, str], list[Pod]]]
    pods_by_node: dict[str, list[Pod]]
    slices_by_service: dict[str, dict[str, list[EndpointSlice]]]
    held: ServiceAllocations | None = None
    ordered_nodes: tuple[Node, ...] | None = None
    #: What other layers derive from this state once (a NetworkPlan, a DNS zone index…); a
    #: changed state gets a new index, so nothing derived outlives the state it came from.
    derived: dict[Any, Any] = field(default_factory=dict)


def _ns_partitions(
    objs: Iterable[Resource],
) -> tuple[list[Pod], dict[tuple[str, str], list[Pod]], dict[str, list[EndpointSlice]]]:
    pods: list[Pod] = []
    by_label: dict[tuple[str, str], list[Pod]] = defaultdict(list)
    slices: dict[str, list[EndpointSlice]] = defaultdict(list)
    for obj in objs:
        if isinstance(obj, Pod):
            pods.append(obj)
            for kv in obj.metadata.labels.items():
                by_label[kv].append(obj)
        elif isinstance(obj, EndpointSlice):
            slices[obj.service_name].append(obj)
    return pods, dict(by_label), dict(slices)


def _build_index(objects: Iterable[Resource]) -> _Index:
    by_kind: dict[str, dict[str, dict[ObjectRef, Resource]]] = defaultdict(lambda: defaultdict(dict))
    by_name: dict[str, dict[tuple[str, str], Resource]] = defaultdict(dict)
    by_ns: dict[str, dict[ObjectRef, Resource]] = defaultdict(dict)
    pods_by_node: dict[str, list[Pod]] = defaultdict(list)
    for obj in objects:
        ref = obj.ref
        by_kind[ref.kind][ref.namespace][ref] = obj
        by_name[ref.namespace][(ref.kind, ref.name)] = obj
        by_ns[ref.namespace][ref] = obj
        if isinstance(obj, Pod) and obj.spec.node_name:
            pods_by_node[obj.spec.node_name].append(obj)
    pods_by_ns: dict[str, list[Pod]] = {}
    pods_by_label: dict[str, dict[tuple[str, str], list[Pod]]] = {}
    slices: dict[str, dict[str, list[EndpointSlice]]] = {}
    for ns, members in by_ns.items():
        pods_by_ns[ns], pods_by_label[ns], slices[ns] = _ns_partitions(members.values())
    return _Index(
        {k: dict(v) for k, v in by_kind.items()},
        dict(by_name),
        dict(by_ns),
        pods_by_ns,
        pods_by_label,
        dict(pods_by_node),
        slices,
    )


def _patch_index(old: _Index, removed: Sequence[Resource], added: Sequence[Resource]) -> _Index:
    """A new index equal to rebuilding after the change, sharing every untouched partition."""
    by_kind = dict(old.by_kind)
    by_name = dict(old.by_name)
    by_ns = dict(old.by_ns)
    pods_by_node = dict(old.pods_by_node)
    copied: set[tuple[str, ...]] = set()

    def part(kind: str, ns: str) -> dict[ObjectRef, Resource]:
        if ("k", kind) not in copied:
            by_kind[kind] = dict(by_kind.get(kind, {}))
            copied.add(("k", kind))
        if ("kn", kind, ns) not in copied:
            by_kind[kind][ns] = dict(by_kind[kind].get(ns, {}))
            copied.add(("kn", kind, ns))
        return by_kind[kind][ns]

    def names(ns: str) -> dict[tuple[str, str], Resource]:
        if ("b", ns) not in copied:
            by_name[ns] = dict(by_name.get(ns, {}))
            copied.add(("b", ns))
        return by_name[ns]

    def own(table: dict[str, dict[ObjectRef, Resource]], key: str, tag: str) -> dict[ObjectRef, Resource]:
        if (tag, key) not in copied:
            table[key] = dict(table.get(key, {}))
            copied.add((tag, key))
        return table[key]

    gone_by_node: dict[str, set[ObjectRef]] = defaultdict(set)
    for obj in removed:
        ref = obj.ref
        part(ref.kind, ref.namespace).pop(ref, None)
        names(ref.namespace).pop((ref.kind, ref.name), None)
        own(by_ns, ref.namespace, "n").pop(ref, None)
        if isinstance(obj, Pod) and obj.spec.node_name:
            gone_by_node[obj.spec.node_name].add(ref)
    new_by_node: dict[str, list[Pod]] = defaultdict(list)
    for obj in added:
        ref = obj.ref
        part(ref.kind, ref.namespace)[ref] = obj
        names(ref.namespace)[(ref.kind, ref.name)] = obj
        own(by_ns, ref.namespace, "n")[ref] = obj
        if isinstance(obj, Pod) and obj.spec.node_name:
            new_by_node[obj.spec.node_name].append(obj)
    for node in set(gone_by_node) | set(new_by_node):
        gone = gone_by_node.get(node, set())
        kept = [p for p in pods_by_node.get(node, []) if p.ref not in gone]
        pods_by_node[node] = kept + new_by_node.get(node, [])
    for tag, *key in list(copied):
        if tag == "kn" and not by_kind[key[0]][key[1]]:
            del by_kind[key[0]][key[1]]
    for kind in [k for k, v in by_kind.items() if not v]:
        del by_kind[kind]
    pods_by_ns = dict(old.pods_by_ns)
    pods_by_label = dict(old.pods_by_label)
    slices = dict(old.slices_by_service)
    for tag, *rest in copied:
        if tag != "n":
            continue
        ns = rest[0]
        if not by_ns[ns]:
            del by_ns[ns]
            pods_by_ns.pop(ns, None)
            pods_by_label.pop(ns, None)
            slices.pop(ns, None)
            continue
        pods_by_ns[ns], pods_by_label[ns], slices[ns] = _ns_partitions(by_ns[ns].values())
    held = None
    if old.held is not None:
        held = old.held.copy()
        for obj in removed:
            if isinstance(obj, Service):
                held.remove(obj)
        for obj in added:
            if isinstance(obj, Service):
                held.add(obj)
    nodes_changed = any(isinstance(o, Node) for o in (*removed, *added))
    ordered = None if nodes_changed else old.ordered_nodes
    return _Index(by_kind, by_name, by_ns, pods_by_ns, pods_by_label, pods_by_node, slices, held, ordered)


@dataclass(frozen=True, slots=True)
class ClusterState:
    config: ClusterConfig
    objects: Mapping[ObjectRef, Resource]
    applied: frozenset[ObjectRef] = frozenset()
    #: Node names in the order the cluster config lists them (scheduling breaks ties by it).
    node_order: tuple[str, ...] = ()
    _index: list[_Index] = field(default_factory=list, compare=False, repr=False)

    # ------------------------------------------------------------------ lookup

    @property
    def index(self) -> _Index:
        if not self._index:
            self._index.append(_build_index(self.objects.values()))
        return self._index[0]

    def __iter__(self) -> Iterator[Resource]:
        return iter(sorted(self.objects.values(), key=lambda o: o.ref))

    def __len__(self) -> int:
        return len(self.objects)

    def of_kind(self, kind: str, namespace: str | None = None) -> list[Resource]:
        """Objects of ``kind`` (all namespaces when ``namespace`` is None), sorted by ref."""
        out = list(self.all_of_kind(kind, namespace))
        out.sort(key=lambda o: o.ref)
        return out

    def all_of_kind(self, kind: str, namespace: str | None = None) -> Iterator[Resource]:
        """Objects of ``kind`` in no particular order: for indexes that sort nothing."""
        parts = self.index.by_kind.get(kind, {})
        if namespace is not None:
            yield from parts.get(namespace, {}).values()
            return
        for objs in parts.values():
            yield from objs.values()

    def typed(self, cls: type[R], namespace: str | None = None) -> list[R]:
        return cast(list[R], self.of_kind(cls.KIND, namespace))

    def get(self, kind: str, namespace: str, name: str) -> Resource | None:
        return self.index.by_name.get(namespace, {}).get((kind, name))

    def find(self, ref: ObjectRef) -> Resource | None:
        return self.objects.get(ref)

    @property
    def nodes(self) -> list[Node]:
        return self.typed(Node)

    def ordered_nodes(self) -> tuple[Node, ...]:
        """The nodes in the cluster config's order (``node_order``), the order controllers use."""
        index = self.index
        if index.ordered_nodes is None:
            by_name = {n.metadata.name: n for n in self.nodes}
            names = self.node_order or tuple(sorted(by_name))
            index.ordered_nodes = tuple(by_name[n] for n in names if n in by_name)
        return index.ordered_nodes

    @property
    def namespaces(self) -> list[Namespace]:
        return self.typed(Namespace)

    def node(self, name: str) -> Node | None:
        return cast(Node | None, self.get("Node", "", name))

    def pods(self, namespace: str | None = None) -> list[Pod]:
        if namespace is None:
            return self.typed(Pod)
        return sorted(self.index.pods_by_ns.get(namespace, []), key=lambda p: p.metadata.name)

    def pod(self, namespace: str, name: str) -> Pod | None:
        return cast(Pod | None, self.get("Pod", namespace, name))

    def pods_on_node(self, node: str) -> list[Pod]:
        return sorted(self.index.pods_by_node.get(node, []), key=lambda p: p.ref)

    def select_pods(self, namespace: str, selector: Selector) -> list[Pod]:
        """Pods of ``namespace`` that ``selector`` picks, via the label index when it can."""
        eq = selector.equality_map()
        if eq:
            key, value = next(iter(eq.items()))
            candidates = self.index.pods_by_label.get(namespace, {}).get((key, value), [])
        else:
            candidates = self.index.pods_by_ns.get(namespace, [])
        return sorted(
            (p for p in candidates if selector.matches(p.metadata.labels)), key=lambda p: p.metadata.name
        )

    def services(self, namespace: str | None = None) -> list[Service]:
        return self.typed(Service, namespace)

    def service(self, namespace: str, name: str) -> Service | None:
        return cast(Service | None, self.get("Service", namespace, name))

    def endpoint_slices(self, namespace: str, service: str) -> list[EndpointSlice]:
        return sorted(
            self.index.slices_by_service.get(namespace, {}).get(service, []),
            key=lambda s: s.metadata.name,
        )

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """``build()`` computed once for this state and remembered under ``key``."""
        derived = self.index.derived
        if key not in derived:
            derived[key] = build()
        return cast(T, derived[key])

    def service_allocations(self, excluding: Iterable[ObjectRef] = ()) -> ServiceAllocations:
        """What every Service holds, less the Services ``excluding`` names."""
        index = self.index
        if index.held is None:
            index.held = ServiceAllocations.of(self.services())
        skip = [self.objects.get(ref) for ref in excluding]
        if not any(skip):
            return index.held
        held = index.held.copy()
        for obj in skip:
            if isinstance(obj, Service):
                held.remove(obj)
        return held

    def in_namespace(self, namespace: str) -> list[Resource]:
        """Every object of ``namespace`` (``""``: the cluster-scoped ones)."""
        return list(self.index.by_ns.get(namespace, {}).values())

    def evolve(
        self,
        removed: Iterable[ObjectRef],
        added: Iterable[Resource],
        applied: frozenset[ObjectRef] | None = None,
        config: ClusterConfig | None = None,
    ) -> ClusterState:
        """The state with ``removed`` taken out and ``added`` put in (replacing same refs).

        The indexes, if built, are patched rather than rebuilt: the cost is that of the change
        plus a few dictionary copies, which is what lets one changed object converge in
        milliseconds in a 150,000-pod cluster.
        """
        objects = dict(self.objects)
        gone: list[Resource] = []
        for ref in removed:
            obj = objects.pop(ref, None)
            if obj is not None:
                gone.append(obj)
        new = list(added)
        for obj in new:
            prior = objects.get(obj.ref)
            if prior is not None:
                gone.append(prior)
            objects[obj.ref] = obj
        index: list[_Index] = []
        if self._index:
            index.append(_patch_index(self._index[0], gone, new))
        return ClusterState(
            config=config if config is not None else self.config,
            objects=objects,
            applied=self.applied if applied is None else applied,
            node_order=self.node_order,
            _index=index,
        )

    def is_applied(self, obj: Resource) -> bool:
        return obj.ref in self.applied

    def to_dict(self) -> dict[str, Any]:
        """The persisted form: config, then every object with a flag for those the user gave."""
        return {
            "config": self.config.to_dict(),
            "objects": [
                {"applied": o.ref in self.applied, "object": o.to_dict()} for o in self
            ],
        }
