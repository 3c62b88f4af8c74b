"""The workloads that make pods: apps/v1 Deployment, ReplicaSet, StatefulSet, DaemonSet and
batch/v1 Job, CronJob. Only what shapes the pods (replicas, selector, template, naming) is typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from podnet.api.codec import Struct
from collections.abc import Mapping

from podnet.api.core import Pod, PodSpec, PodTemplateSpec, ReplicationController
from podnet.api.frozen import EMPTY, FrozenDict
from podnet.api.meta import ObjectMeta, Resource
from podnet.api.selectors import LabelSelector


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentSpec(Struct):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    strategy: FrozenDict[str, Any] | None = None
    min_ready_seconds: int = 0
    paused: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment(Resource):
    API_VERSION: ClassVar[str] = "apps/v1"
    KIND: ClassVar[str] = "Deployment"

    spec: DeploymentSpec = DeploymentSpec()
    status: FrozenDict[str, Any] = EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaSetSpec(Struct):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    min_ready_seconds: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaSet(Resource):
    API_VERSION: ClassVar[str] = "apps/v1"
    KIND: ClassVar[str] = "ReplicaSet"

    spec: ReplicaSetSpec = ReplicaSetSpec()
    status: FrozenDict[str, Any] = EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class StatefulSetOrdinals(Struct):
    start: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StatefulSetSpec(Struct):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    service_name: str = ""
    pod_management_policy: str = ""
    ordinals: StatefulSetOrdinals | None = None
    volume_claim_templates: tuple[FrozenDict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StatefulSet(Resource):
    API_VERSION: ClassVar[str] = "apps/v1"
    KIND: ClassVar[str] = "StatefulSet"

    spec: StatefulSetSpec = StatefulSetSpec()
    status: FrozenDict[str, Any] = EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonSetSpec(Struct):
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    update_strategy: FrozenDict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonSet(Resource):
    API_VERSION: ClassVar[str] = "apps/v1"
    KIND: ClassVar[str] = "DaemonSet"

    spec: DaemonSetSpec = DaemonSetSpec()
    status: FrozenDict[str, Any] = EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec(Struct):
    parallelism: int | None = None
    completions: int | None = None
    completion_mode: str | None = None
    backoff_limit: int | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    suspend: bool | None = None
    template: PodTemplateSpec = PodTemplateSpec()


@dataclass(frozen=True, slots=True, kw_only=True)
class Job(Resource):
    API_VERSION: ClassVar[str] = "batch/v1"
    KIND: ClassVar[str] = "Job"

    spec: JobSpec = JobSpec()
    status: FrozenDict[str, Any] = EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class JobTemplateSpec(Struct):
    metadata: ObjectMeta = ObjectMeta()
    spec: JobSpec = JobSpec()


@dataclass(frozen=True, slots=True, kw_only=True)
class CronJobSpec(Struct):
    schedule: str = ""
    time_zone: str | None = None
    suspend: bool | None = None
    concurrency_policy: str = ""
    job_template: JobTemplateSpec = JobTemplateSpec()


@dataclass(frozen=True, slots=True, kw_only=True)
class CronJob(Resource):
    API_VERSION: ClassVar[str] = "batch/v1"
    KIND: ClassVar[str] = "CronJob"

    spec: CronJobSpec = CronJobSpec()
    status: FrozenDict[str, Any] = EMPTY


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """Where an object's pods are written: the pod spec, its field path, and the pods' labels."""

    spec: PodSpec
    path: str  # "spec" (Pod), "spec.template.spec" (Deployment…), "spec.jobTemplate.spec.template.spec"
    labels: Mapping[str, str]


def pod_template_of(obj: Resource) -> PodTemplate | None:
    """The pod template of a workload (or the spec of a bare Pod); None for other kinds.

    The one place that knows where each kind keeps its pods' spec: reconciliation, lint and
    the printers ask it instead of knowing the shapes themselves.
    """
    if isinstance(obj, Pod):
        return PodTemplate(obj.spec, "spec", obj.metadata.labels)
    if isinstance(obj, (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job)):
        t = obj.spec.template
        return PodTemplate(t.spec, "spec.template.spec", t.metadata.labels)
    if isinstance(obj, ReplicationController) and obj.spec.template is not None:
        t = obj.spec.template
        return PodTemplate(t.spec, "spec.template.spec", t.metadata.labels)
    if isinstance(obj, CronJob):
        t = obj.spec.job_template.spec.template
        return PodTemplate(t.spec, "spec.jobTemplate.spec.template.spec", t.metadata.labels)
    return None
