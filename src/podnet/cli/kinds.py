"""Resource types as kubectl names them: plurals, singulars, short names, group-qualified forms.

``kubectl get po``, ``get pods``, ``get pod``, ``get Pod`` and ``get pods.v1`` are one type;
``deployments.apps`` and ``deploy`` another. This module maps what a user types to a
:class:`ResourceType` and gives each type the spellings kubectl uses in its messages:
``deployment.apps/web`` (apply, ``-o name``), ``deployment.apps "web" deleted``,
``deployments.apps "web" not found``.

Kinds podnet keeps as opaque objects (CRDs and the like) are resolved against the objects of the
cluster at hand, with the plural derived the way kubectl's RESTMapper guesses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from podnet.api.meta import Resource, group_of
from podnet.api.scheme import CLUSTER_SCOPED_KINDS


class UnknownKind(LookupError):
    """What the user typed names no resource type."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f'error: the server doesn\'t have a resource type "{name}"')


@dataclass(frozen=True, slots=True)
class ResourceType:
    kind: str
    group: str
    version: str
    plural: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_plural(self) -> str:
        """``deployments.apps``: how NotFound messages name the type."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_singular(self) -> str:
        """``deployment.apps``: how apply, delete and ``-o name`` name the type."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    def spellings(self) -> Iterable[str]:
        yield self.plural
        yield self.singular
        yield from self.short_names
        if self.group:
            for n in (self.plural, self.singular):
                yield f"{n}.{self.group}"
                yield f"{n}.{self.version}.{self.group}"
        else:
            yield f"{self.plural}.{self.version}"
            yield f"{self.singular}.{self.version}"


def _rt(
    kind: str,
    plural: str,
    group: str = "",
    version: str = "v1",
    short: tuple[str, ...] = (),
    namespaced: bool = True,
) -> ResourceType:
    return ResourceType(kind, group, version, plural, short, namespaced)


#: kubectl's built-in types (``kubectl api-resources``), modelled or not.
BUILTIN: tuple[ResourceType, ...] = (
    _rt("Binding", "bindings"),
    _rt("ComponentStatus", "componentstatuses", short=("cs",), namespaced=False),
    _rt("ConfigMap", "configmaps", short=("cm",)),
    _rt("Endpoints", "endpoints", short=("ep",)),
    _rt("Event", "events", short=("ev",)),
    _rt("LimitRange", "limitranges", short=("limits",)),
    _rt("Namespace", "namespaces", short=("ns",), namespaced=False),
    _rt("Node", "nodes", short=("no",), namespaced=False),
    _rt("PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",)),
    _rt("PersistentVolume", "persistentvolumes", short=("pv",), namespaced=False),
    _rt("Pod", "pods", short=("po",)),
    _rt("PodTemplate", "podtemplates"),
    _rt("ReplicationController", "replicationcontrollers", short=("rc",)),
    _rt("ResourceQuota", "resourcequotas", short=("quota",)),
    _rt("Secret", "secrets"),
    _rt("ServiceAccount", "serviceaccounts", short=("sa",)),
    _rt("Service", "services", short=("svc",)),
    _rt("MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io", namespaced=False),
    _rt("ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
        "admissionregistration.k8s.io", namespaced=False),
    _rt("CustomResourceDefinition", "customresourcedefinitions", "apiextensions.k8s.io",
        short=("crd", "crds"), namespaced=False),
    _rt("APIService", "apiservices", "apiregistration.k8s.io", namespaced=False),
    _rt("ControllerRevision", "controllerrevisions", "apps"),
    _rt("DaemonSet", "daemonsets", "apps", short=("ds",)),
    _rt("Deployment", "deployments", "apps", short=("deploy",)),
    _rt("ReplicaSet", "replicasets", "apps", short=("rs",)),
    _rt("StatefulSet", "statefulsets", "apps", short=("sts",)),
    _rt("HorizontalPodAutoscaler", "horizontalpodautoscalers", "autoscaling", "v2",
        short=("hpa",)),
    _rt("CronJob", "cronjobs", "batch", short=("cj",)),
    _rt("Job", "jobs", "batch"),
    _rt("CertificateSigningRequest", "certificatesigningrequests", "certificates.k8s.io",
        short=("csr",), namespaced=False),
    _rt("Lease", "leases", "coordination.k8s.io"),
    _rt("EndpointSlice", "endpointslices", "discovery.k8s.io"),
    _rt("Event", "events", "events.k8s.io", short=("ev",)),
    _rt("FlowSchema", "flowschemas", "flowcontrol.apiserver.k8s.io", namespaced=False),
    _rt("PriorityLevelConfiguration", "prioritylevelconfigurations",
        "flowcontrol.apiserver.k8s.io", namespaced=False),
    _rt("IngressClass", "ingressclasses", "networking.k8s.io", namespaced=False),
    _rt("Ingress", "ingresses", "networking.k8s.io", short=("ing",)),
    _rt("NetworkPolicy", "networkpolicies", "networking.k8s.io", short=("netpol",)),
    _rt("RuntimeClass", "runtimeclasses", "node.k8s.io", namespaced=False),
    _rt("PodDisruptionBudget", "poddisruptionbudgets", "policy", short=("pdb",)),
    _rt("ClusterRoleBinding", "clusterrolebindings", "rbac.authorization.k8s.io",
        namespaced=False),
    _rt("ClusterRole", "clusterroles", "rbac.authorization.k8s.io", namespaced=False),
    _rt("RoleBinding", "rolebindings", "rbac.authorization.k8s.io"),
    _rt("Role", "roles", "rbac.authorization.k8s.io"),
    _rt("PriorityClass", "priorityclasses", "scheduling.k8s.io", short=("pc",),
        namespaced=False),
    _rt("CSIDriver", "csidrivers", "storage.k8s.io", namespaced=False),
    _rt("CSINode", "csinodes", "storage.k8s.io", namespaced=False),
    _rt("StorageClass", "storageclasses", "storage.k8s.io", short=("sc",), namespaced=False),
    _rt("VolumeAttachment", "volumeattachments", "storage.k8s.io", namespaced=False),
)

#: core/v1 Endpoints: computed for Services with a selector (``kubectl get ep``); the ones the
#: manifests give (a selector-less Service's) are stored and shown as given.
ENDPOINTS = next(t for t in BUILTIN if t.kind == "Endpoints")

#: The ``all`` category, in the order ``kubectl get all`` prints it.
ALL_CATEGORY = (
    "pods",
    "replicationcontrollers",
    "services",
    "daemonsets.apps",
    "deployments.apps",
    "replicasets.apps",
    "statefulsets.apps",
    "cronjobs.batch",
    "jobs.batch",
)

_BY_GROUP_KIND: dict[tuple[str, str], ResourceType] = {}
_BY_SPELLING: dict[str, ResourceType] = {}
for _t in BUILTIN:
    _BY_GROUP_KIND.setdefault((_t.group, _t.kind), _t)
    for _s in _t.spellings():
        _BY_SPELLING.setdefault(_s, _t)
# Ingresses of the old extensions group are Ingresses.
_BY_GROUP_KIND[("extensions", "Ingress")] = _BY_GROUP_KIND[("networking.k8s.io", "Ingress")]
# `events` means the core group's Events, as in kubectl.
_BY_SPELLING["events"] = _BY_SPELLING["ev"] = next(
    t for t in BUILTIN if t.kind == "Event" and not t.group
)


def pluralize(kind: str) -> str:
    """The plural kubectl's RESTMapper guesses for an unknown kind."""
    low = kind.lower()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def type_of(obj: Resource) -> ResourceType:
    """The resource type of an object (built in, or derived from an opaque object's kind)."""
    group = group_of(obj.api_version)
    known = _BY_GROUP_KIND.get((group, obj.kind))
    if known is not None:
        return known
    version = obj.api_version.rpartition("/")[2]
    return ResourceType(
        obj.kind, group, version, pluralize(obj.kind), (), obj.kind not in CLUSTER_SCOPED_KINDS
    )


def resolve(name: str, objects: Iterable[Resource] = ()) -> ResourceType:
    """The type a user means by ``name``; raises :class:`UnknownKind`.

    Built-in spellings are tried first, then the kinds of the given objects (custom resources).
    """
    key = name.strip()
    low = key.lower()
    found = _BY_SPELLING.get(low)
    if found is not None:
        return found
    for obj in objects:
        t = type_of(obj)
        if t.kind == key or low in set(t.spellings()) or low == t.kind.lower():
            return t
    raise UnknownKind(name)


