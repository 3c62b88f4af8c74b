"""The scheme: which class decodes which (apiVersion, kind), and opaque objects for the rest.

Kinds podnet does not model (RBAC, CRDs, PersistentVolumeClaims…) are kept as
:class:`OpaqueObject` — listed by ``get``, written back verbatim, never a crash — because real
manifest folders always contain them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from podnet.api.core import ConfigMap, Namespace, Node, Pod, ReplicationController, Secret, Service
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import ObjectMeta, Resource, group_of
from podnet.api.networking import Ingress, IngressClass, NetworkPolicy
from podnet.api.workloads import CronJob, DaemonSet, Deployment, Job, ReplicaSet, StatefulSet

MODELLED: tuple[type[Resource], ...] = (
    Namespace,
    Node,
    Pod,
    Service,
    Secret,
    ConfigMap,
    ReplicationController,
    EndpointSlice,
    Ingress,
    IngressClass,
    NetworkPolicy,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
)

_BY_GROUP_KIND: dict[tuple[str, str], type[Resource]] = {
    (group_of(c.API_VERSION), c.KIND): c for c in MODELLED
}
# Versions the API server no longer serves but that old manifests still carry: accepted and
# converted, since their shapes are the same for the fields podnet reads.
_OLD_VERSIONS = {
    ("extensions", "Ingress"): Ingress,
    ("networking.k8s.io", "Ingress"): Ingress,
}

#: Cluster-scoped kinds of the core API and common add-ons (everything else is namespaced).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "CertificateSigningRequest",
        "ComponentStatus",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "GatewayClass",
        "ClusterIssuer",
        "IPAddressPool",
        "ServiceCIDR",
        "IPAddress",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpaqueObject(Resource):
    """An object of a kind podnet does not model: kept whole, never interpreted."""

    type_api_version: str = ""
    type_kind: str = ""

    @property
    def api_version(self) -> str:
        return self.type_api_version

    @property
    def kind(self) -> str:
        return self.type_kind

    @property
    def namespaced(self) -> bool:
        return self.type_kind not in CLUSTER_SCOPED_KINDS

    def to_dict(self) -> dict[str, Any]:
        """The object as given: its type is its ``apiVersion``/``kind``, not fields of its own."""
        data = Resource.to_dict(self)
        data.pop("typeApiVersion", None)
        data.pop("typeKind", None)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "") -> Self:
        body = {k: v for k, v in data.items() if k not in ("apiVersion", "kind")}
        obj = cls._decode(body, path)
        return obj.__class__(
            metadata=obj.metadata,
            extra=obj.extra,
            type_api_version=str(data.get("apiVersion", "")),
            type_kind=str(data.get("kind", "")),
        )


def class_for(api_version: str, kind: str) -> type[Resource] | None:
    """The modelled class for a type, or None for kinds kept as opaque objects."""
    key = (group_of(api_version), kind)
    return _BY_GROUP_KIND.get(key) or _OLD_VERSIONS.get(key)


def is_namespaced(api_version: str, kind: str) -> bool:
    cls = class_for(api_version, kind)
    if cls is not None:
        return cls.NAMESPACED
    return kind not in CLUSTER_SCOPED_KINDS


def decode_object(data: Mapping[str, Any]) -> Resource:
    """Decode one document whose apiVersion and kind are present (checked by the loader)."""
    cls = class_for(str(data["apiVersion"]), str(data["kind"]))
    if cls is None:
        return OpaqueObject.from_dict(data)
    return cls.from_dict(data)


_ = ObjectMeta
