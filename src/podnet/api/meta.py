"""Object metadata and the base of every resource.

A :class:`Resource` is one Kubernetes object: its kind (from the class, or carried by an opaque
object), its metadata, and its typed body. ``ref`` identifies it the way the API server does —
(group/kind, namespace, name) — and is what the state store and every index key objects by.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Self, TypeVar

from podnet.api.codec import Struct
from podnet.api.frozen import EMPTY, FrozenDict

R = TypeVar("R", bound="Resource")

#: When an object that carries no creationTimestamp counts as created, for ordering.
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnerReference(Struct):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None
    block_owner_deletion: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectMeta(Struct):
    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    labels: FrozenDict[str, str] = EMPTY
    annotations: FrozenDict[str, str] = EMPTY
    uid: str = ""
    resource_version: str = ""
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    owner_references: tuple[OwnerReference, ...] = ()

    def controller_ref(self) -> OwnerReference | None:
        for o in self.owner_references:
            if o.controller:
                return o
        return None


def parse_time(ts: str | None) -> _dt.datetime | None:
    """A ``metav1.Time`` (RFC 3339, ``Z`` or an offset) as an aware datetime, read as UTC when
    it names no zone; None when absent or unreadable."""
    if not ts:
        return None
    try:
        t = _dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def creation_time(obj: Resource) -> _dt.datetime:
    """When ``obj`` was created, as a sort key (controllers pick the oldest or the newest):
    :data:`EPOCH` when it does not say or cannot be read."""
    t = parse_time(obj.metadata.creation_timestamp)
    return t if t is not None else EPOCH


class ObjectRef(NamedTuple):
    """(group, kind, namespace, name): how an object is identified and ordered.

    A NamedTuple, not a dataclass: refs are hashed and compared millions of times in a large
    cluster, and tuples do both in C.
    """

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource(Struct):
    """Base of every object. Subclasses set API_VERSION, KIND and NAMESPACED."""

    metadata: ObjectMeta = ObjectMeta()
    #: ``ref``, computed once (init=False: ``dataclasses.replace`` starts a copy without it).
    _ref: ObjectRef | None = field(
        default=None, init=False, repr=False, compare=False, metadata={"skip": True}
    )

    API_VERSION: ClassVar[str] = ""
    KIND: ClassVar[str] = ""
    NAMESPACED: ClassVar[bool] = True
    #: API group/versions under which this kind is also accepted (older manifests).
    ALSO_ACCEPTED: ClassVar[tuple[str, ...]] = ()

    @property
    def api_version(self) -> str:
        return self.API_VERSION

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def namespaced(self) -> bool:
        return self.NAMESPACED

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def labels(self) -> FrozenDict[str, str]:
        return self.metadata.labels

    @property
    def annotations(self) -> FrozenDict[str, str]:
        return self.metadata.annotations

    @property
    def ref(self) -> ObjectRef:
        ref = self._ref
        if ref is None:
            ref = ObjectRef(group_of(self.api_version), self.kind, self.metadata.namespace, self.name)
            object.__setattr__(self, "_ref", ref)
        return ref

    @property
    def qualified_name(self) -> str:
        """``ns/name`` for namespaced objects, ``name`` otherwise."""
        ns = self.metadata.namespace
        return f"{ns}/{self.name}" if ns else self.name

    def with_meta(self, **changes: Any) -> Self:
        return dataclasses.replace(self, metadata=dataclasses.replace(self.metadata, **changes))

    def to_dict(self) -> dict[str, Any]:
        body = Struct.to_dict(self)
        out: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind}
        out["metadata"] = body.pop("metadata", {})
        out.update(body)
        return _ordered(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "") -> Self:
        body = {k: v for k, v in data.items() if k not in ("apiVersion", "kind")}
        return cls._decode(body, path)


def _ordered(d: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata, spec…, status last: the order kubectl prints."""
    head = ("apiVersion", "kind", "metadata")
    out = {k: d[k] for k in head if k in d}
    for k, v in d.items():
        if k not in head and k != "status":
            out[k] = v
    if "status" in d:
        out["status"] = d["status"]
    return out
