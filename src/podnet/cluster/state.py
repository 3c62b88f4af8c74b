"""ClusterState: every object of a cluster, as given and as the controllers completed it.

It is an immutable value. The objects are keyed by :class:`ObjectRef`; ``applied`` says which of
them the user gave (the rest were made by controllers: ReplicaSets, Pods, EndpointSlices, system
objects). Indexes are built once, on first use, and answer the questions every layer asks — the
pods of a namespace, the pods a selector picks, the slices of a Service — without a scan of the
whole cluster (the CoreDNS kubernetes plugin's way: an index built once, answers computed from it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from podnet.api.core import Namespace, Node, Pod, Service
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import ObjectRef, Resource
from podnet.api.selectors import Selector
from podnet.cluster.config import ClusterConfig

R = TypeVar("R", bound=Resource)


@dataclass(slots=True)
class _Index:
    by_kind: dict[str, dict[ObjectRef, Resource]]
    by_name: dict[tuple[str, str, str], Resource]
    pods_by_ns: dict[str, list[Pod]]
    pods_by_label: dict[tuple[str, str, str], list[Pod]]
    pods_by_node: dict[str, list[Pod]]
    slices_by_service: dict[tuple[str, str], list[EndpointSlice]]


def _build_index(objects: Iterable[Resource]) -> _Index:
    by_kind: dict[str, dict[ObjectRef, Resource]] = defaultdict(dict)
    by_name: dict[tuple[str, str, str], Resource] = {}
    pods_by_ns: dict[str, list[Pod]] = defaultdict(list)
    pods_by_label: dict[tuple[str, str, str], list[Pod]] = defaultdict(list)
    pods_by_node: dict[str, list[Pod]] = defaultdict(list)
    slices: dict[tuple[str, str], list[EndpointSlice]] = defaultdict(list)
    for obj in objects:
        by_kind[obj.kind][obj.ref] = obj
        by_name[(obj.kind, obj.metadata.namespace, obj.metadata.name)] = obj
        if isinstance(obj, Pod):
            ns = obj.metadata.namespace
            pods_by_ns[ns].append(obj)
            for k, v in obj.metadata.labels.items():
                pods_by_label[(ns, k, v)].append(obj)
            if obj.spec.node_name:
                pods_by_node[obj.spec.node_name].append(obj)
        elif isinstance(obj, EndpointSlice):
            slices[(obj.metadata.namespace, obj.service_name)].append(obj)
    return _Index(dict(by_kind), by_name, dict(pods_by_ns), dict(pods_by_label), dict(pods_by_node), dict(slices))


@dataclass(frozen=True, slots=True)
class ClusterState:
    config: ClusterConfig
    objects: Mapping[ObjectRef, Resource]
    applied: frozenset[ObjectRef] = frozenset()
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
        objs = self.index.by_kind.get(kind, {})
        out = [o for o in objs.values() if namespace is None or o.metadata.namespace == namespace]
        out.sort(key=lambda o: o.ref)
        return out

    def typed(self, cls: type[R], namespace: str | None = None) -> list[R]:
        return cast(list[R], self.of_kind(cls.KIND, namespace))

    def get(self, kind: str, namespace: str, name: str) -> Resource | None:
        return self.index.by_name.get((kind, namespace, name))

    def find(self, ref: ObjectRef) -> Resource | None:
        return self.objects.get(ref)

    @property
    def nodes(self) -> list[Node]:
        return self.typed(Node)

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
            candidates = self.index.pods_by_label.get((namespace, key, value), [])
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
            self.index.slices_by_service.get((namespace, service), []), key=lambda s: s.metadata.name
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
