"""API defaulting, as the API server does it on create (pkg/apis/*/v1/defaults.go).

Defaulting runs before validation and before any controller, so every later layer can rely on a
Service having a type and every port a protocol. Values the API server only fills in at
allocation time (clusterIP, ipFamilies, nodePort) belong to the cluster controllers, not here.
"""

from __future__ import annotations

import uuid
from typing import Any
from dataclasses import replace
from functools import singledispatch

from podnet.api.core import (
    ClientIPConfig,
    Container,
    Namespace,
    NamespaceStatus,
    Pod,
    PodSpec,
    PodTemplateSpec,
    Probe,
    ReplicationController,
    Secret,
    Service,
    SessionAffinityConfig,
)
from podnet.api.discovery import EndpointSlice
from podnet.api.frozen import FrozenDict, freeze
from podnet.api.meta import Resource
from podnet.api.networking import NetworkPolicy, NetworkPolicyPort
from podnet.api.workloads import CronJob, DaemonSet, Deployment, Job, JobSpec, ReplicaSet, StatefulSet

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_AFFINITY_TIMEOUT = 10800
#: The protocol of a port that names none (container, Service, EndpointSlice and
#: NetworkPolicy ports alike).
DEFAULT_PROTOCOL = "TCP"
_UID_NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def default_protocol(protocol: str | None) -> str:
    """A port's protocol as the API server stores it: :data:`DEFAULT_PROTOCOL` when absent,
    else as written — for objects that may not have been through :func:`apply_defaults`."""
    return protocol or DEFAULT_PROTOCOL


def normalize_protocol(protocol: str | None) -> str:
    """A protocol as a lookup key: ``tcp`` → ``TCP``, absent → TCP. Validation admits only
    upper case, so this matters for input nothing validated (a command line's ``53/udp``)."""
    return default_protocol(protocol).upper()


def stable_uid(obj: Resource) -> str:
    """A uid derived from the object's identity, so that the same inputs give the same uids."""
    return str(uuid.uuid5(_UID_NAMESPACE, str(obj.ref)))


def apply_defaults(obj: Resource, namespace: str = "default") -> Resource:
    """Default an object as the API server would on create, in ``namespace`` if it names none."""
    if obj.namespaced and not obj.metadata.namespace:
        obj = obj.with_meta(namespace=namespace)
    if not obj.metadata.uid:
        obj = obj.with_meta(uid=stable_uid(obj))
    return _default(obj)


@singledispatch
def _default(obj: Resource) -> Resource:
    return obj


def default_namespace(ns: Namespace) -> Namespace:
    labels = ns.metadata.labels
    if labels.get(NAMESPACE_NAME_LABEL) != ns.metadata.name:
        ns = ns.with_meta(labels=labels.set(NAMESPACE_NAME_LABEL, ns.metadata.name))
    if ns.status is None or not ns.status.phase:
        ns = replace(ns, status=NamespaceStatus(phase="Active"))
    if not ns.metadata.uid:
        ns = ns.with_meta(uid=stable_uid(ns))
    return ns


_default.register(Namespace)(default_namespace)


# ---------------------------------------------------------------------------- pods


def _default_probe(p: Probe | None) -> Probe | None:
    if p is None:
        return None
    changes: dict[str, Any] = {}
    if not p.timeout_seconds:
        changes["timeout_seconds"] = 1
    if not p.period_seconds:
        changes["period_seconds"] = 10
    if not p.success_threshold:
        changes["success_threshold"] = 1
    if not p.failure_threshold:
        changes["failure_threshold"] = 3
    if p.http_get is not None:
        hg = p.http_get
        if not hg.path or not hg.scheme:
            changes["http_get"] = replace(hg, path=hg.path or "/", scheme=hg.scheme or "HTTP")
    return replace(p, **changes) if changes else p


def _default_container(c: Container) -> Container:
    ports = tuple(
        replace(p, protocol=DEFAULT_PROTOCOL) if not p.protocol else p for p in c.ports
    )
    return replace(
        c,
        ports=ports,
        readiness_probe=_default_probe(c.readiness_probe),
        liveness_probe=_default_probe(c.liveness_probe),
        startup_probe=_default_probe(c.startup_probe),
    )


def default_pod_spec(spec: PodSpec) -> PodSpec:
    return replace(
        spec,
        containers=tuple(_default_container(c) for c in spec.containers),
        init_containers=tuple(_default_container(c) for c in spec.init_containers),
        dns_policy=spec.dns_policy or "ClusterFirst",
        restart_policy=spec.restart_policy or "Always",
        scheduler_name=spec.scheduler_name or "default-scheduler",
        enable_service_links=True if spec.enable_service_links is None else spec.enable_service_links,
    )


def _default_template(t: PodTemplateSpec) -> PodTemplateSpec:
    return replace(t, spec=default_pod_spec(t.spec))


@_default.register
def _(pod: Pod) -> Pod:
    return replace(pod, spec=default_pod_spec(pod.spec))


@_default.register
def _(d: Deployment) -> Deployment:
    spec = d.spec
    strategy = spec.strategy or freeze(
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    )
    return replace(
        d,
        spec=replace(
            spec,
            replicas=1 if spec.replicas is None else spec.replicas,
            strategy=strategy,
            template=_default_template(spec.template),
        ),
    )


@_default.register
def _(rs: ReplicaSet) -> ReplicaSet:
    spec = rs.spec
    return replace(
        rs,
        spec=replace(
            spec,
            replicas=1 if spec.replicas is None else spec.replicas,
            template=_default_template(spec.template),
        ),
    )


@_default.register
def _(rc: ReplicationController) -> ReplicationController:
    spec = rc.spec
    template = _default_template(spec.template) if spec.template else None
    selector = spec.selector
    if not selector and template is not None:
        # An RC without a selector selects its template's labels (core/v1 defaults).
        selector = template.metadata.labels
    return replace(
        rc,
        spec=replace(
            spec,
            replicas=1 if spec.replicas is None else spec.replicas,
            selector=selector,
            template=template,
        ),
    )


@_default.register
def _(sts: StatefulSet) -> StatefulSet:
    spec = sts.spec
    return replace(
        sts,
        spec=replace(
            spec,
            replicas=1 if spec.replicas is None else spec.replicas,
            pod_management_policy=spec.pod_management_policy or "OrderedReady",
            template=_default_template(spec.template),
        ),
    )


@_default.register
def _(ds: DaemonSet) -> DaemonSet:
    return replace(ds, spec=replace(ds.spec, template=_default_template(ds.spec.template)))


def _default_job_spec(spec: JobSpec, uid: str, job_name: str) -> JobSpec:
    parallelism = 1 if spec.parallelism is None else spec.parallelism
    completions = spec.completions
    if spec.completions is None and spec.parallelism is None:
        completions = 1
    template = _default_template(spec.template)
    if not spec.manual_selector and job_name:
        # The Job controller's generated selector: the job's uid and name as labels.
        extra = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": job_name,
            "controller-uid": uid,
            "job-name": job_name,
        }
        labels = FrozenDict({**template.metadata.labels, **extra})
        template = replace(template, metadata=replace(template.metadata, labels=labels))
        from podnet.api.selectors import LabelSelector

        selector = LabelSelector(match_labels=FrozenDict({"batch.kubernetes.io/controller-uid": uid}))
        spec = replace(spec, selector=selector)
    if template.spec.restart_policy == "Always":
        template = replace(template, spec=replace(template.spec, restart_policy="Never"))
    return replace(
        spec,
        parallelism=parallelism,
        completions=completions,
        completion_mode=spec.completion_mode or "NonIndexed",
        backoff_limit=6 if spec.backoff_limit is None else spec.backoff_limit,
        template=template,
    )


@_default.register
def _(job: Job) -> Job:
    return replace(job, spec=_default_job_spec(job.spec, job.metadata.uid, job.metadata.name))


@_default.register
def _(cj: CronJob) -> CronJob:
    jt = cj.spec.job_template
    spec = jt.spec
    spec = replace(spec, template=_default_template(spec.template))
    return replace(
        cj,
        spec=replace(
            cj.spec,
            concurrency_policy=cj.spec.concurrency_policy or "Allow",
            suspend=False if cj.spec.suspend is None else cj.spec.suspend,
            job_template=replace(jt, spec=spec),
        ),
    )


# ---------------------------------------------------------------------------- services


@_default.register
def _(svc: Service) -> Service:
    spec = svc.spec
    stype = spec.type or "ClusterIP"
    ports = []
    for p in spec.ports:
        ports.append(
            replace(
                p,
                protocol=default_protocol(p.protocol),
                target_port=p.target_port if p.target_port not in (None, 0, "") else p.port,
            )
        )
    changes: dict[str, object] = {
        "type": stype,
        "ports": tuple(ports),
        "session_affinity": spec.session_affinity or "None",
    }
    if stype != "ExternalName":
        changes["internal_traffic_policy"] = spec.internal_traffic_policy or "Cluster"
    if stype in ("NodePort", "LoadBalancer"):
        changes["external_traffic_policy"] = spec.external_traffic_policy or "Cluster"
    if stype == "LoadBalancer" and spec.allocate_load_balancer_node_ports is None:
        changes["allocate_load_balancer_node_ports"] = True
    if changes["session_affinity"] == "ClientIP":
        cfg = spec.session_affinity_config
        if cfg is None or cfg.client_ip is None or cfg.client_ip.timeout_seconds is None:
            changes["session_affinity_config"] = SessionAffinityConfig(
                client_ip=ClientIPConfig(timeout_seconds=DEFAULT_AFFINITY_TIMEOUT)
            )
    return replace(svc, spec=replace(spec, **changes))  # type: ignore[arg-type]


@_default.register
def _(s: Secret) -> Secret:
    return s if s.type else replace(s, type="Opaque")


@_default.register
def _(es: EndpointSlice) -> EndpointSlice:
    ports = tuple(
        replace(p, protocol=DEFAULT_PROTOCOL) if p.protocol is None else p for p in es.ports
    )
    return replace(es, ports=ports)


# ---------------------------------------------------------------------------- network policy


@_default.register
def _(np: NetworkPolicy) -> NetworkPolicy:
    spec = np.spec
    policy_types = spec.policy_types
    if not policy_types:
        # Ingress always; Egress when the policy has egress rules (networking/v1 defaults).
        policy_types = ("Ingress", "Egress") if spec.egress else ("Ingress",)

    def fix(ports: tuple[NetworkPolicyPort, ...]) -> tuple[NetworkPolicyPort, ...]:
        return tuple(replace(p, protocol=DEFAULT_PROTOCOL) if p.protocol is None else p for p in ports)

    return replace(
        np,
        spec=replace(
            spec,
            policy_types=policy_types,
            ingress=tuple(replace(r, ports=fix(r.ports)) for r in spec.ingress),
            egress=tuple(replace(r, ports=fix(r.ports)) for r in spec.egress),
        ),
    )


__all__ = [
    "DEFAULT_PROTOCOL",
    "NAMESPACE_NAME_LABEL",
    "apply_defaults",
    "default_namespace",
    "default_pod_spec",
    "default_protocol",
    "normalize_protocol",
    "stable_uid",
]
