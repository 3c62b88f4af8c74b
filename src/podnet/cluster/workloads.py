"""The workload controllers: the ReplicaSets and Pods that Deployments, ReplicaSets,
ReplicationControllers, StatefulSets, DaemonSets and Jobs create.

Theory of operation
-------------------
Each controller is reproduced for its steady state — what ``kubectl get`` shows once the
controllers have caught up — with upstream's names, labels and owner references:

* **Deployment** → one ReplicaSet ``<deployment>-<pod-template-hash>`` (the hash of the pod
  template, added as the ``pod-template-hash`` label to the ReplicaSet, its selector, its template
  and its pods; revision annotations as the deployment controller writes them) → ``replicas`` pods
  ``<replicaset>-<5 chars>``. After a template change the ReplicaSets of earlier templates stay
  (scaled to 0, up to ``revisionHistoryLimit``), as rollout history. A paused Deployment makes no
  new ReplicaSet. When the manifests carry a ReplicaSet the Deployment controls with the same
  template (a snapshot of a real cluster), that ReplicaSet *is* the Deployment's and none is made.
* **ReplicaSet / ReplicationController** given directly → ``replicas`` pods ``<name>-<5 chars>``.
* **StatefulSet** → ``<name>-<ordinal>`` for ordinals ``ordinals.start`` onwards, with
  ``spec.hostname`` = the pod name and ``spec.subdomain`` = ``serviceName``, and the labels
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
  ``controller-revision-hash`` (``<name>-<hash>``).
* **DaemonSet** → one pod ``<name>-<5 chars>`` per node whose labels, taints and (un)schedulability
  let the pod run there, counting the tolerations the controller adds to every daemon pod
  (not-ready, unreachable, pressure, unschedulable, and network-unavailable for hostNetwork pods).
  The pod is bound with ``spec.nodeName`` and carries the required node affinity on
  ``metadata.name`` that upstream uses to bind it (replacing the template's required terms, which
  the controller has already checked).
* **Job** → the pods running at once: ``min(parallelism, completions - succeeded)`` (``parallelism``
  for a work queue, none when suspended), ``<job>-<5 chars>``; Indexed Jobs ``<job>-<index>-<5
  chars>`` for the lowest pending indexes, with the ``batch.kubernetes.io/job-completion-index``
  annotation and label and ``spec.hostname`` ``<job>-<index>``.
* **CronJob** → nothing: a CronJob makes Jobs on its schedule, and podnet's model has no clock, so
  no run has been scheduled yet.

Every pod gets the template's labels and annotations, the owner's namespace, an owner reference
(``controller: true``, ``blockOwnerDeletion: true``), ``generateName``, a uid derived from its
identity (:func:`podnet.api.defaults.stable_uid`) and phase Pending; its spec is the (already
API-defaulted) template's spec, shared by every pod of the owner rather than copied.

Identity is kept: a pod present in ``previous`` and owned by the same owner (so, for Deployment
pods, with the same template hash; for StatefulSet and DaemonSet pods, with the same
``controller-revision-hash``) is kept as it was — same name, node and address. Scaling 3→5 keeps
the three and adds two; scaling down removes pods the way the ReplicaSet controller ranks them:
unscheduled before scheduled, not running before running, not ready before ready, then the most
recently created first (podnet names pods from a counter, so "created last" is "highest counter").
A kept pod whose node has gone is re-created under the same name (its node is gone; the scheduler
places it again).

Pods the manifests give are never touched here: those owned by a controller (a snapshot) count
towards its replicas, and their names are never reused. Objects with a ``deletionTimestamp``
are left as they are: a terminating workload makes no new pods (the pods it had in ``previous``
stay), and terminating pods do not count as replicas, so their controller replaces them.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from podnet.api.core import Node, Pod, PodSpec, PodStatus, PodTemplateSpec, ReplicationController
from podnet.api.defaults import stable_uid
from podnet.api.frozen import EMPTY, FrozenDict, freeze
from podnet.api.meta import ObjectMeta, ObjectRef, OwnerReference, Resource, group_of
from podnet.api.selectors import LabelSelector
from podnet.api.workloads import (
    CronJob,
    DaemonSet,
    Deployment,
    Job,
    ReplicaSet,
    ReplicaSetSpec,
    StatefulSet,
)
from podnet.cluster.naming import (
    controller_pod_prefix,
    generate_name,
    job_pod_name,
    pod_template_hash,
    replicaset_name,
)
from podnet.cluster.scheduler import (
    DAEMONSET_HOST_NETWORK_TOLERATION,
    DAEMONSET_TOLERATIONS,
    NodeMatcher,
    evolve,
    evolver,
    untolerated_taint,
)
from podnet.cluster.state import ClusterState

__all__ = [
    "COMPLETION_INDEX_KEY",
    "POD_TEMPLATE_HASH_LABEL",
    "REVISION_ANNOTATION",
    "expand",
    "pod_uid",
]

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
CONTROLLER_REVISION_LABEL = "controller-revision-hash"
STS_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
DS_TEMPLATE_GENERATION_LABEL = "pod-template-generation"
COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED_TO_RS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
    }
)
DEFAULT_REVISION_HISTORY_LIMIT = 10

_PENDING = PodStatus(phase="Pending")
_UID_NAMESPACE_BYTES = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8").bytes

Key = tuple[str, str, str]  # (namespace, kind, name) of an owner


# ---------------------------------------------------------------------------- small helpers


def pod_uid(namespace: str, name: str) -> str:
    """``stable_uid`` of the Pod ``namespace/name``, computed without building the object.

    The same UUIDv5 (of ``Pod/<ns>/<name>``) as :func:`podnet.api.defaults.stable_uid`; done by
    hand because it is computed 150,000 times in a large cluster.
    """
    digest = bytearray(
        hashlib.sha1(_UID_NAMESPACE_BYTES + f"Pod/{namespace}/{name}".encode()).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _owner_ref(owner: Resource) -> OwnerReference:
    return OwnerReference(
        api_version=owner.api_version,
        kind=owner.kind,
        name=owner.metadata.name,
        uid=owner.metadata.uid or stable_uid(owner),
        controller=True,
        block_owner_deletion=True,
    )


def _controller_key(obj: Resource) -> Key | None:
    ref = obj.metadata.controller_ref()
    if ref is None:
        return None
    return (obj.metadata.namespace, ref.kind, ref.name)


def _key(owner: Resource) -> Key:
    return (owner.metadata.namespace, owner.kind, owner.metadata.name)


def _active(pod: Pod) -> bool:
    """``controller.IsPodActive``: not finished and not being deleted."""
    return pod.metadata.deletion_timestamp is None and not pod.finished


def _with_labels(labels: FrozenDict[str, str], extra: dict[str, str]) -> FrozenDict[str, str]:
    merged = dict(labels)
    merged.update(extra)
    return FrozenDict(merged)


def _template_hash(template: PodTemplateSpec, collision_count: int | None = None) -> str:
    return pod_template_hash(template.to_dict(), collision_count)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _resolve_surge(value: Any, replicas: int) -> int:
    """``intstr.GetScaledValueFromIntOrPercent`` rounding up, as maxSurge is resolved."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        return math.ceil(_int(text[:-1], 25) * replicas / 100)
    return _int(text, 0)


# ---------------------------------------------------------------------------- the context


@dataclass(slots=True)
class _Context:
    nodes: tuple[Node, ...]
    node_names: frozenset[str]
    #: (namespace, name) of every pod that exists: given, kept, or made in this run.
    taken: set[tuple[str, str]]
    given_pods: dict[Key, list[Pod]]
    prev_pods: dict[Key, list[Pod]]
    prev_rs: dict[Key, list[ReplicaSet]]
    given_rs: dict[Key, list[ReplicaSet]]
    #: (namespace, name) of every ReplicaSet the manifests give.
    given_rs_names: set[tuple[str, str]]
    out: list[Resource]

    def claim_name(self, namespace: str, name_of: Callable[[int], str], counter: int = 0) -> tuple[str, int]:
        """The first of ``name_of(counter)``, ``name_of(counter + 1)``, … that no pod of
        ``namespace`` has, now taken; and the counter to go on from. Counting from a fixed start
        is what makes the same cluster description always give the same pod names."""
        while True:
            name = name_of(counter)
            counter += 1
            if (namespace, name) not in self.taken:
                self.taken.add((namespace, name))
                return name, counter


def _context(objects: Sequence[Resource], nodes: tuple[Node, ...], previous: ClusterState | None) -> _Context:
    taken: set[tuple[str, str]] = set()
    given_pods: dict[Key, list[Pod]] = defaultdict(list)
    given_rs: dict[Key, list[ReplicaSet]] = defaultdict(list)
    given_rs_names: set[tuple[str, str]] = set()
    refs = set()
    for obj in objects:
        if isinstance(obj, Pod):
            taken.add((obj.metadata.namespace, obj.metadata.name))
            refs.add(obj.ref)
            k = _controller_key(obj)
            if k is not None:
                given_pods[k].append(obj)
        elif isinstance(obj, ReplicaSet):
            refs.add(obj.ref)
            given_rs_names.add((obj.metadata.namespace, obj.metadata.name))
            k = _controller_key(obj)
            if k is not None:
                given_rs[k].append(obj)
    prev_pods: dict[Key, list[Pod]] = defaultdict(list)
    prev_rs: dict[Key, list[ReplicaSet]] = defaultdict(list)
    if previous is not None:
        applied = previous.applied
        # Only the namespaces being reconciled: owners and their pods share a namespace.
        namespaces = sorted({o.metadata.namespace for o in objects})
        prev_objects = (o for ns in namespaces for o in previous.in_namespace(ns))
        for obj in prev_objects:
            ref = obj.ref
            if ref in applied or ref in refs:
                continue  # the user's objects are not the controllers' to keep
            if isinstance(obj, Pod):
                k = _controller_key(obj)
                if k is not None:
                    prev_pods[k].append(obj)
            elif isinstance(obj, ReplicaSet):
                k = _controller_key(obj)
                if k is not None:
                    prev_rs[k].append(obj)
    return _Context(
        nodes=nodes,
        node_names=frozenset(n.metadata.name for n in nodes),
        taken=taken,
        given_pods=given_pods,
        prev_pods=prev_pods,
        prev_rs=prev_rs,
        given_rs=given_rs,
        given_rs_names=given_rs_names,
        out=[],
    )


_meta_name_uid = evolver(ObjectMeta, "name", "uid")
_meta_name_uid_labels = evolver(ObjectMeta, "name", "uid", "labels", "annotations")
# A pod is made with its ref (every pod's is asked for at once, and a copy of the prototype
# must not inherit the prototype's).
_pod_meta = evolver(Pod, "metadata", "_ref")
_pod_meta_spec = evolver(Pod, "metadata", "spec", "_ref")
_POD_GROUP = group_of(Pod.API_VERSION)


class _PodMaker:
    """Stamps pods of one owner: everything but the name is shared between them.

    A prototype pod carries the shared parts; each pod is a copy with its name and uid (compiled
    copiers: this runs once per pod of the cluster).
    """

    __slots__ = ("namespace", "generate_name", "proto_meta", "proto")

    def __init__(self, owner: Resource, template: PodTemplateSpec, generate: str, labels: FrozenDict[str, str] | None = None) -> None:
        self.namespace = owner.metadata.namespace
        self.generate_name = generate
        self.proto_meta = ObjectMeta(
            generate_name=generate,
            namespace=self.namespace,
            labels=template.metadata.labels if labels is None else labels,
            annotations=template.metadata.annotations,
            owner_references=(_owner_ref(owner),),
        )
        self.proto = Pod(metadata=self.proto_meta, spec=template.spec, status=_PENDING)

    def make(
        self,
        name: str,
        spec: PodSpec | None = None,
        labels: FrozenDict[str, str] | None = None,
        annotations: FrozenDict[str, str] | None = None,
    ) -> Pod:
        uid = pod_uid(self.namespace, name)
        proto_meta = self.proto_meta
        if labels is None and annotations is None:
            meta = _meta_name_uid(proto_meta, name, uid)
        else:
            meta = _meta_name_uid_labels(
                proto_meta,
                name,
                uid,
                proto_meta.labels if labels is None else labels,
                proto_meta.annotations if annotations is None else annotations,
            )
        ref = ObjectRef(_POD_GROUP, Pod.KIND, self.namespace, name)
        pod: Pod = (_pod_meta(self.proto, meta, ref) if spec is None
                    else _pod_meta_spec(self.proto, meta, spec, ref))
        return pod


def _refresh(pod: Pod, ctx: _Context) -> Pod:
    """A kept pod whose node has gone is re-created under its name, unbound."""
    node = pod.spec.node_name
    if not node or node in ctx.node_names:
        return pod
    return evolve(pod, spec=evolve(pod.spec, node_name=""), status=_PENDING)


def _deletion_rank(pod: Pod, index: int) -> tuple[bool, bool, bool, int]:
    """Sort key: pods the ReplicaSet controller deletes first come first
    (``ActivePodsWithRanks``: unassigned, then not running, then not ready, then newest)."""
    return (bool(pod.spec.node_name), pod.status.phase == "Running", pod.ready, -index)


# ---------------------------------------------------------------------------- replica pods


def _replica_pods(
    ctx: _Context, owner: Resource, template: PodTemplateSpec, replicas: int, labels: FrozenDict[str, str] | None = None
) -> None:
    """Pods ``<owner>-<5 chars>`` until ``replicas`` are active (ReplicaSet/RC controllers).

    Names come from a counter: pod *k* is ``generate_name(<owner>-, k)``, the first counters
    whose names are free, so the same replica count gives the same names with or without a
    previous state.
    """
    ns, name = owner.metadata.namespace, owner.metadata.name
    key = _key(owner)
    prefix = controller_pod_prefix(name)
    active_given = sum(1 for p in ctx.given_pods.get(key, ()) if _active(p))
    want = max(0, replicas - active_given)
    kept = [p for p in ctx.prev_pods.get(key, ()) if (ns, p.metadata.name) not in ctx.taken]
    if len(kept) > want:
        kept = _scale_down(kept, prefix, len(kept) - want)
    else:
        kept = sorted(kept, key=lambda p: p.metadata.name)
    maker = _PodMaker(owner, template, prefix, labels)
    for p in kept:
        ctx.taken.add((ns, p.metadata.name))
        ctx.out.append(_refresh(p, ctx))
    counter = 0
    for _ in range(want - len(kept)):
        pod_name, counter = ctx.claim_name(ns, lambda k: generate_name(prefix, str(k)), counter)
        ctx.out.append(maker.make(pod_name))


def _counters(pods: Sequence[Pod], prefix: str) -> dict[str, int]:
    """The counter each pod's name was generated from (-1 for names not of ours)."""
    wanted = {p.metadata.name for p in pods}
    found: dict[str, int] = {}
    limit = 4 * len(wanted) + 64
    for k in range(limit):
        n = generate_name(prefix, str(k))
        if n in wanted:
            found[n] = k
            if len(found) == len(wanted):
                break
    return {p.metadata.name: found.get(p.metadata.name, -1) for p in pods}


def _scale_down(pods: list[Pod], prefix: str, excess: int) -> list[Pod]:
    counters = _counters(pods, prefix)
    ranked = sorted(pods, key=lambda p: (_deletion_rank(p, counters[p.metadata.name]), p.metadata.name))
    survivors = ranked[excess:]
    return sorted(survivors, key=lambda p: (counters[p.metadata.name], p.metadata.name))


# ---------------------------------------------------------------------------- Deployment


def _template_key(template: PodTemplateSpec) -> dict[str, Any]:
    """A template as the deployment controller compares it (``EqualIgnoreHash``)."""
    d = template.to_dict()
    labels = dict(d.get("metadata", {}).get("labels", {}))
    labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    meta = dict(d.get("metadata", {}))
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    d["metadata"] = meta
    return d


def _deployment(ctx: _Context, d: Deployment) -> None:
    key = _key(d)
    spec = d.spec
    replicas = 1 if spec.replicas is None else spec.replicas
    template = spec.template

    given = ctx.given_rs.get(key, [])
    if given:
        want = _template_key(template)
        if any(_template_key(rs.spec.template) == want for rs in given):
            return  # the manifests carry the Deployment's current ReplicaSet: it makes the pods

    collision = d.status.get("collisionCount")
    count = collision if isinstance(collision, int) else None
    template_hash = _template_hash(template, count)
    rs_name = replicaset_name(d.metadata.name, template_hash)
    while (d.metadata.namespace, rs_name) in ctx.given_rs_names:
        # Another ReplicaSet has the name: the controller bumps status.collisionCount and
        # hashes again, as upstream does on a hash collision.
        count = (count or 0) + 1
        template_hash = _template_hash(template, count)
        rs_name = replicaset_name(d.metadata.name, template_hash)
    previous = ctx.prev_rs.get(key, [])
    revisions = {rs.metadata.name: _int(rs.metadata.annotations.get(REVISION_ANNOTATION), 0) for rs in previous}
    if spec.paused and rs_name not in revisions:
        if not previous:
            return  # a paused Deployment creates no ReplicaSet
        # Paused mid-change: the newest existing ReplicaSet stays the current one.
        current = max(previous, key=lambda rs: (revisions[rs.metadata.name], rs.metadata.name))
        rs_name = current.metadata.name
        template_hash = current.metadata.labels.get(POD_TEMPLATE_HASH_LABEL, template_hash)
        template = current.spec.template
    revision = revisions.get(rs_name) or (max(revisions.values(), default=0) + 1)
    if rs_name in revisions and revisions[rs_name] < max(revisions.values(), default=0):
        revision = max(revisions.values()) + 1  # rolled back to an earlier template

    # Old ReplicaSets: kept as history, scaled to zero, newest first up to the limit.
    limit = _int(spec.extra.get("revisionHistoryLimit"), DEFAULT_REVISION_HISTORY_LIMIT)
    old = sorted(
        (rs for rs in previous if rs.metadata.name != rs_name),
        key=lambda rs: (-revisions[rs.metadata.name], rs.metadata.name),
    )[: max(0, limit)]
    for rs in sorted(old, key=lambda rs: revisions[rs.metadata.name]):
        if rs.spec.replicas != 0:
            rs = replace(rs, spec=replace(rs.spec, replicas=0), status=EMPTY)
        ctx.out.append(rs)

    hash_labels = _with_labels(template.metadata.labels, {POD_TEMPLATE_HASH_LABEL: template_hash})
    selector = spec.selector or LabelSelector(match_labels=template.metadata.labels)
    rs_selector = replace(
        selector, match_labels=_with_labels(selector.match_labels, {POD_TEMPLATE_HASH_LABEL: template_hash})
    )
    surge = (spec.strategy or EMPTY).get("rollingUpdate", EMPTY).get("maxSurge", "25%")
    strategy_type = (spec.strategy or EMPTY).get("type", "RollingUpdate")
    max_replicas = replicas + (_resolve_surge(surge, replicas) if strategy_type == "RollingUpdate" else 0)
    annotations = {k: v for k, v in d.metadata.annotations.items() if k not in _NOT_COPIED_TO_RS}
    annotations[DESIRED_REPLICAS_ANNOTATION] = str(replicas)
    annotations[MAX_REPLICAS_ANNOTATION] = str(max_replicas)
    annotations[REVISION_ANNOTATION] = str(revision)
    rs_template = replace(template, metadata=replace(template.metadata, labels=hash_labels))
    rs = ReplicaSet(
        metadata=ObjectMeta(
            name=rs_name,
            namespace=d.metadata.namespace,
            labels=hash_labels,
            annotations=FrozenDict(annotations),
            owner_references=(_owner_ref(d),),
        ),
        spec=ReplicaSetSpec(
            replicas=replicas,
            selector=rs_selector,
            template=rs_template,
            min_ready_seconds=spec.min_ready_seconds,
        ),
    )
    rs = rs.with_meta(uid=stable_uid(rs))
    ctx.out.append(rs)
    _replica_pods(ctx, rs, rs_template, replicas)


# ---------------------------------------------------------------------------- StatefulSet


def _statefulset(ctx: _Context, sts: StatefulSet) -> None:
    spec = sts.spec
    ns, name = sts.metadata.namespace, sts.metadata.name
    replicas = 1 if spec.replicas is None else spec.replicas
    start = spec.ordinals.start if spec.ordinals is not None else 0
    revision = f"{name}-{_template_hash(spec.template)}"
    template = spec.template
    maker = _PodMaker(sts, template, "")
    kept = {
        p.metadata.name: p
        for p in ctx.prev_pods.get(_key(sts), ())
        if p.metadata.labels.get(CONTROLLER_REVISION_LABEL) == revision
    }
    for ordinal in range(start, start + replicas):
        pod_name = f"{name}-{ordinal}"
        if (ns, pod_name) in ctx.taken:
            continue  # given (a snapshot's pod, or a user's pod in the way: never replaced)
        ctx.taken.add((ns, pod_name))
        before = kept.get(pod_name)
        if before is not None:
            ctx.out.append(_refresh(before, ctx))
            continue
        labels = _with_labels(
            template.metadata.labels,
            {
                POD_INDEX_LABEL: str(ordinal),
                CONTROLLER_REVISION_LABEL: revision,
                STS_POD_NAME_LABEL: pod_name,
            },
        )
        pod_spec = evolve(template.spec, hostname=pod_name, subdomain=spec.service_name)
        ctx.out.append(maker.make(pod_name, spec=pod_spec, labels=labels))


# ---------------------------------------------------------------------------- DaemonSet


def _daemon_tolerations(spec: PodSpec) -> tuple[Any, ...]:
    """The template's tolerations plus those the DaemonSet controller adds (when absent)."""
    added = list(DAEMONSET_TOLERATIONS)
    if spec.host_network:
        added.append(DAEMONSET_HOST_NETWORK_TOLERATION)
    out = list(spec.tolerations)
    for t in added:
        if not any(
            (o.key, o.operator or "Equal", o.value, o.effect) == (t.key, t.operator, t.value, t.effect)
            for o in out
        ):
            out.append(t)
    return tuple(out)


def _pinned_affinity(affinity: FrozenDict[str, Any] | None, node: str) -> FrozenDict[str, Any]:
    """``ReplaceDaemonSetPodNodeNameNodeAffinity``: the required terms become one term
    ``matchFields: metadata.name In [node]``; preferred terms and pod (anti-)affinity stay."""
    base: dict[str, Any] = dict(affinity or {})
    node_affinity: dict[str, Any] = dict(base.get("nodeAffinity") or {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
        ]
    }
    base["nodeAffinity"] = node_affinity
    frozen: FrozenDict[str, Any] = freeze(base)
    return frozen


def _daemonset(ctx: _Context, ds: DaemonSet) -> None:
    template = ds.spec.template
    ns, name = ds.metadata.namespace, ds.metadata.name
    key = _key(ds)
    revision = _template_hash(template)
    tolerations = _daemon_tolerations(template.spec)
    base_spec = evolve(template.spec, tolerations=tolerations)
    matcher = NodeMatcher.of(template.spec)
    labels = _with_labels(
        template.metadata.labels,
        {CONTROLLER_REVISION_LABEL: revision, DS_TEMPLATE_GENERATION_LABEL: str(ds.metadata.generation or 1)},
    )
    maker = _PodMaker(ds, template, controller_pod_prefix(name), labels)

    def node_of(p: Pod) -> str:
        if p.spec.node_name:
            return p.spec.node_name
        names = NodeMatcher.of(p.spec).names
        return next(iter(names)) if names and len(names) == 1 else ""

    covered = {node_of(p) for p in ctx.given_pods.get(key, ()) if _active(p)}
    kept = {
        node_of(p): p
        for p in ctx.prev_pods.get(key, ())
        if p.metadata.labels.get(CONTROLLER_REVISION_LABEL) == revision
    }
    for node in ctx.nodes:
        node_name = node.metadata.name
        if node_name in covered:
            continue
        # NodeShouldRunDaemonPod: node name/affinity/selector and NoSchedule/NoExecute taints.
        if not matcher.matches(node) or untolerated_taint(node.spec.taints, tolerations) is not None:
            continue
        before = kept.get(node_name)
        if before is not None and (ns, before.metadata.name) not in ctx.taken:
            ctx.taken.add((ns, before.metadata.name))
            ctx.out.append(before)
            continue
        pod_name, _ = ctx.claim_name(
            ns, lambda k: generate_name(maker.generate_name, f"{node_name}/{revision}/{k}")
        )
        pod_spec = evolve(base_spec, node_name=node_name, affinity=_pinned_affinity(template.spec.affinity, node_name))
        ctx.out.append(maker.make(pod_name, spec=pod_spec))


# ---------------------------------------------------------------------------- Job


def _job(ctx: _Context, job: Job) -> None:
    spec = job.spec
    ns, name = job.metadata.namespace, job.metadata.name
    key = _key(job)
    if spec.suspend:
        return
    parallelism = 1 if spec.parallelism is None else spec.parallelism
    template = spec.template
    given = ctx.given_pods.get(key, [])
    succeeded = [p for p in given if p.status.phase == "Succeeded"]
    active_given = [p for p in given if _active(p)]
    indexed = spec.completion_mode == "Indexed"
    prev = [p for p in ctx.prev_pods.get(key, ()) if (ns, p.metadata.name) not in ctx.taken]
    maker = _PodMaker(job, template, controller_pod_prefix(name))

    if not indexed:
        if spec.completions is None:
            active = parallelism  # a work queue: parallelism pods until one succeeds
        else:
            active = min(parallelism, max(0, spec.completions - len(succeeded)))
        want = max(0, active - len(active_given))
        kept = sorted(prev, key=lambda p: p.metadata.name)[:want]
        for p in kept:
            ctx.taken.add((ns, p.metadata.name))
            ctx.out.append(_refresh(p, ctx))
        counter = 0
        for _ in range(want - len(kept)):
            pod_name, counter = ctx.claim_name(ns, lambda k: job_pod_name(name, k), counter)
            ctx.out.append(maker.make(pod_name))
        return

    def index_of(p: Pod) -> int:
        return _int(p.metadata.annotations.get(COMPLETION_INDEX_KEY), -1)

    completions = spec.completions or 0
    done = {index_of(p) for p in succeeded}
    running = {index_of(p) for p in active_given}
    slots = max(0, parallelism - len(active_given))
    pending = [i for i in range(completions) if i not in done and i not in running][:slots]
    kept_by_index = {index_of(p): p for p in sorted(prev, key=lambda p: p.metadata.name)}
    for index in pending:
        before = kept_by_index.get(index)
        if before is not None:
            ctx.taken.add((ns, before.metadata.name))
            ctx.out.append(_refresh(before, ctx))
            continue
        pod_name, _ = ctx.claim_name(ns, lambda k: job_pod_name(name, k, index))
        idx = str(index)
        pod_spec = template.spec
        if not pod_spec.hostname:
            pod_spec = evolve(pod_spec, hostname=f"{name}-{index}")
        ctx.out.append(
            maker.make(
                pod_name,
                spec=pod_spec,
                labels=_with_labels(template.metadata.labels, {COMPLETION_INDEX_KEY: idx}),
                annotations=_with_labels(template.metadata.annotations, {COMPLETION_INDEX_KEY: idx}),
            )
        )


# ---------------------------------------------------------------------------- entry point


def _keep_previous(ctx: _Context, owner: Resource) -> None:
    """A terminating workload is left as it is: what it made before stays, nothing is added."""
    key = _key(owner)
    for rs in ctx.prev_rs.get(key, ()):
        ctx.out.append(rs)
        _keep_previous(ctx, rs)
    for p in ctx.prev_pods.get(key, ()):
        if (p.metadata.namespace, p.metadata.name) not in ctx.taken:
            ctx.taken.add((p.metadata.namespace, p.metadata.name))
            ctx.out.append(p)


def expand(objects: list[Resource], nodes: tuple[Node, ...], previous: ClusterState | None) -> list[Resource]:
    """The ReplicaSets and Pods the workload controllers create for ``objects``.

    ``objects`` are every object of the cluster (API-defaulted); the result holds only what the
    controllers made, in the order the workloads come, each ReplicaSet before its pods. Given
    Pods and ReplicaSets are never returned (nor changed). CronJobs make nothing: see the module
    docstring.
    """
    ctx = _context(objects, nodes, previous)
    workloads: Iterable[Resource] = (
        o for o in objects if isinstance(o, (Deployment, ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job))
    )
    for obj in workloads:
        if obj.metadata.deletion_timestamp is not None:
            _keep_previous(ctx, obj)
            continue
        if isinstance(obj, Deployment):
            _deployment(ctx, obj)
        elif isinstance(obj, ReplicaSet):
            replicas = 1 if obj.spec.replicas is None else obj.spec.replicas
            _replica_pods(ctx, obj, obj.spec.template, replicas)
        elif isinstance(obj, ReplicationController):
            if obj.spec.template is not None:
                replicas = 1 if obj.spec.replicas is None else obj.spec.replicas
                _replica_pods(ctx, obj, obj.spec.template, replicas)
        elif isinstance(obj, StatefulSet):
            _statefulset(ctx, obj)
        elif isinstance(obj, DaemonSet):
            _daemonset(ctx, obj)
        elif isinstance(obj, Job):
            _job(ctx, obj)
    return ctx.out


_ = CronJob  # CronJobs are recognised and deliberately make nothing (no clock in the model).
