"""Tests for podnet.cluster.workloads: what the workload controllers create.

Expectations come from upstream controllers: the Deployment controller's ``<deploy>-<hash>``
ReplicaSets with the ``pod-template-hash`` label and revision annotations; ``generateName`` pods
with 5 characters of apimachinery's vowel-free alphabet; StatefulSet identity (hostname,
subdomain, ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index``,
``controller-revision-hash``); DaemonSet tolerations and the ``metadata.name`` node affinity;
Job completion indexes; controller owner references.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from podnet.api.core import Node, Pod, PodStatus, Taint, Toleration
from podnet.api.defaults import apply_defaults, stable_uid
from podnet.api.meta import OwnerReference, Resource
from podnet.api.scheme import decode_object
from podnet.api.workloads import ReplicaSet
from podnet.cluster.config import DEFAULT
from podnet.cluster.nodes import build_nodes
from podnet.cluster.state import ClusterState
from podnet.cluster.workloads import expand, pod_uid

NODES = build_nodes(DEFAULT, [], None)
SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}"
HASH = "[4-9bcdf]{1,10}"  # SafeEncodeString of a decimal FNV hash


def obj(data: Mapping[str, Any]) -> Resource:
    return apply_defaults(decode_object(data))


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.25", ns: str = "default") -> Resource:
    return obj(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]},
                },
            },
        }
    )


def pods_of(made: Sequence[Resource]) -> list[Pod]:
    return [o for o in made if isinstance(o, Pod)]


def rs_of(made: Sequence[Resource]) -> list[ReplicaSet]:
    return [o for o in made if isinstance(o, ReplicaSet)]


def previous(objects: Sequence[Resource], made: Sequence[Resource], nodes: Sequence[Node] = NODES) -> ClusterState:
    everything = [*nodes, *objects, *made]
    return ClusterState(
        config=DEFAULT, objects={o.ref: o for o in everything}, applied=frozenset(o.ref for o in objects)
    )


def names(pods: Sequence[Pod]) -> set[str]:
    return {p.metadata.name for p in pods}


# ---------------------------------------------------------------------------- Deployment


def test_deployment_makes_one_replicaset_named_after_the_template_hash() -> None:
    d = deployment()
    made = expand([d], NODES, None)
    (rs,) = rs_of(made)
    assert re.fullmatch(f"web-{HASH}", rs.metadata.name)
    h = rs.metadata.name.removeprefix("web-")
    assert rs.metadata.labels == {"app": "web", "pod-template-hash": h}
    assert rs.spec.selector is not None
    assert rs.spec.selector.match_labels == {"app": "web", "pod-template-hash": h}
    assert rs.spec.template.metadata.labels == {"app": "web", "pod-template-hash": h}
    assert rs.spec.replicas == 3
    assert rs.metadata.namespace == "default"
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    # maxSurge 25% of 3, rounded up, on top of the replicas.
    assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "4"
    assert rs.metadata.owner_references == (
        OwnerReference(
            api_version="apps/v1",
            kind="Deployment",
            name="web",
            uid=d.metadata.uid,
            controller=True,
            block_owner_deletion=True,
        ),
    )
    assert rs.metadata.uid == stable_uid(rs)


def test_deployment_pods() -> None:
    made = expand([deployment(ns="shop")], NODES, None)
    (rs,) = rs_of(made)
    pods = pods_of(made)
    assert len(pods) == 3
    for p in pods:
        assert re.fullmatch(f"{rs.metadata.name}-{SUFFIX}", p.metadata.name)
        assert p.metadata.generate_name == rs.metadata.name + "-"
        assert p.metadata.namespace == "shop"
        assert p.metadata.labels == rs.spec.template.metadata.labels
        assert p.metadata.owner_references == (
            OwnerReference(
                api_version="apps/v1",
                kind="ReplicaSet",
                name=rs.metadata.name,
                uid=rs.metadata.uid,
                controller=True,
                block_owner_deletion=True,
            ),
        )
        assert p.metadata.uid == stable_uid(p)
        assert p.status.phase == "Pending"
        assert p.spec.dns_policy == "ClusterFirst"  # API defaults
        assert p.spec.node_name == ""
    assert len(names(pods)) == 3
    # Every pod of the ReplicaSet shares one PodSpec instance.
    assert all(p.spec is rs.spec.template.spec for p in pods)


def test_template_change_makes_a_new_replicaset_and_keeps_the_old_one_at_zero() -> None:
    d1 = deployment(image="nginx:1.25")
    made1 = expand([d1], NODES, None)
    d2 = deployment(image="nginx:1.26")
    made2 = expand([d2], NODES, previous([d1], made1))
    old, new = rs_of(made2)
    assert old.metadata.name == rs_of(made1)[0].metadata.name
    assert old.spec.replicas == 0
    assert new.metadata.name != old.metadata.name
    assert new.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert {p.metadata.owner_references[0].name for p in pods_of(made2)} == {new.metadata.name}


def test_same_template_same_hash_everywhere() -> None:
    a = rs_of(expand([deployment()], NODES, None))[0].metadata.name
    b = rs_of(expand([deployment(replicas=7)], NODES, None))[0].metadata.name
    assert a == b  # replicas are not part of the pod template


def test_scaling_up_keeps_the_existing_pods() -> None:
    d3 = deployment(replicas=3)
    made3 = expand([d3], NODES, None)
    d5 = deployment(replicas=5)
    made5 = expand([d5], NODES, previous([d3], made3))
    assert names(pods_of(made3)) < names(pods_of(made5))
    assert len(pods_of(made5)) == 5
    # Kept pods are the previous objects themselves.
    before = {p.metadata.name: p for p in pods_of(made3)}
    assert all(before[p.metadata.name] is p for p in pods_of(made5) if p.metadata.name in before)
    # And the result is what a fresh five-replica Deployment gets: names come from a counter.
    assert names(pods_of(made5)) == names(pods_of(expand([d5], NODES, None)))


def test_scaling_down_removes_the_newest_pods() -> None:
    d5 = deployment(replicas=5)
    made5 = expand([d5], NODES, None)
    d3 = deployment(replicas=3)
    made3 = expand([d3], NODES, previous([d5], made5))
    # The three survivors are the three created first.
    assert names(pods_of(made3)) == names(pods_of(expand([d3], NODES, None)))


def test_scaling_down_removes_unscheduled_pods_first() -> None:
    d3 = deployment(replicas=3)
    made = expand([d3], NODES, None)
    oldest = names(pods_of(expand([deployment(replicas=1)], NODES, None)))
    # The oldest pod never got a node; the two newer ones run.
    pods = [
        p
        if p.metadata.name in oldest
        else replace(p, spec=replace(p.spec, node_name="worker"), status=PodStatus(phase="Running"))
        for p in pods_of(made)
    ]
    made2 = expand([deployment(replicas=2)], NODES, previous([d3], [*rs_of(made), *pods]))
    # ReplicaSet ranking deletes the unassigned pod, not the newest one.
    assert names(pods_of(made2)) == names(pods) - oldest


def test_given_replicaset_controlled_by_the_deployment_is_its_current_one() -> None:
    d = deployment()
    made = expand([d], NODES, None)
    (rs,) = rs_of(made)
    snapshot_rs = apply_defaults(rs)
    out = expand([d, snapshot_rs], NODES, None)
    assert rs_of(out) == []  # the given ReplicaSet is not re-made (nor returned)
    assert len(pods_of(out)) == 3  # it makes the pods
    assert all(p.metadata.owner_references[0].name == rs.metadata.name for p in pods_of(out))


def test_paused_new_deployment_makes_nothing() -> None:
    d = obj({**deployment().to_dict(), "spec": {**deployment().to_dict()["spec"], "paused": True}})
    assert expand([d], NODES, None) == []


# ---------------------------------------------------------------------------- ReplicaSet / RC


def test_replicaset_given_directly() -> None:
    rs = obj(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "frontend"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"tier": "frontend"}},
                "template": {"metadata": {"labels": {"tier": "frontend"}}, "spec": {"containers": [{"name": "php", "image": "php"}]}},
            },
        }
    )
    pods = pods_of(expand([rs], NODES, None))
    assert len(pods) == 2
    assert all(re.fullmatch(f"frontend-{SUFFIX}", p.metadata.name) for p in pods)
    assert all(p.metadata.labels == {"tier": "frontend"} for p in pods)


def test_given_pods_owned_by_the_replicaset_count_and_are_not_touched() -> None:
    rs = obj(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "frontend"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"tier": "frontend"}},
                "template": {"metadata": {"labels": {"tier": "frontend"}}, "spec": {"containers": [{"name": "php", "image": "php"}]}},
            },
        }
    )
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "frontend", "uid": "x", "controller": True}
    given = obj(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "frontend-abcde", "labels": {"tier": "frontend"}, "ownerReferences": [owner]},
            "spec": {"containers": [{"name": "php", "image": "php"}]},
        }
    )
    terminating = obj(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "frontend-fghjk",
                "labels": {"tier": "frontend"},
                "ownerReferences": [owner],
                "deletionTimestamp": "2024-01-01T00:00:00Z",
            },
            "spec": {"containers": [{"name": "php", "image": "php"}]},
        }
    )
    made = pods_of(expand([rs, given, terminating], NODES, None))
    assert len(made) == 2  # 3 replicas - 1 active given pod; the terminating one is replaced
    assert "frontend-abcde" not in names(made) and "frontend-fghjk" not in names(made)


def test_replication_controller() -> None:
    rc = obj(
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "nginx"},
            "spec": {
                "replicas": 2,
                "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}},
            },
        }
    )
    pods = pods_of(expand([rc], NODES, None))
    assert len(pods) == 2
    assert all(re.fullmatch(f"nginx-{SUFFIX}", p.metadata.name) for p in pods)
    ref = pods[0].metadata.owner_references[0]
    assert (ref.api_version, ref.kind, ref.name, ref.controller) == ("v1", "ReplicationController", "nginx", True)


# ---------------------------------------------------------------------------- StatefulSet


def statefulset(replicas: int = 3, start: int | None = None, image: str = "postgres:16") -> Resource:
    spec: dict[str, Any] = {
        "serviceName": "db",
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": image}]}},
    }
    if start is not None:
        spec["ordinals"] = {"start": start}
    return obj({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "data"}, "spec": spec})


def test_statefulset_pods_have_stable_identities() -> None:
    pods = pods_of(expand([statefulset()], NODES, None))
    assert [p.metadata.name for p in pods] == ["db-0", "db-1", "db-2"]
    for i, p in enumerate(pods):
        assert p.spec.hostname == f"db-{i}"
        assert p.spec.subdomain == "db"
        assert p.metadata.namespace == "data"
        assert p.metadata.labels["statefulset.kubernetes.io/pod-name"] == f"db-{i}"
        assert p.metadata.labels["apps.kubernetes.io/pod-index"] == str(i)
        assert re.fullmatch(f"db-{HASH}", p.metadata.labels["controller-revision-hash"])
        assert p.metadata.labels["app"] == "db"
        assert p.metadata.owner_references[0].kind == "StatefulSet"


def test_statefulset_ordinals_start() -> None:
    pods = pods_of(expand([statefulset(replicas=2, start=5)], NODES, None))
    assert [p.metadata.name for p in pods] == ["db-5", "db-6"]
    assert pods[0].metadata.labels["apps.kubernetes.io/pod-index"] == "5"


def test_statefulset_scale_down_removes_highest_ordinals_and_keeps_the_rest() -> None:
    s3 = statefulset(replicas=3)
    made3 = expand([s3], NODES, None)
    s2 = statefulset(replicas=2)
    made2 = expand([s2], NODES, previous([s3], made3))
    assert [p.metadata.name for p in pods_of(made2)] == ["db-0", "db-1"]
    assert pods_of(made2)[0] is pods_of(made3)[0]


def test_statefulset_template_change_makes_new_revision_pods_under_the_same_names() -> None:
    s1 = statefulset(image="postgres:15")
    made1 = expand([s1], NODES, None)
    s2 = statefulset(image="postgres:16")
    made2 = expand([s2], NODES, previous([s1], made1))
    assert [p.metadata.name for p in pods_of(made2)] == ["db-0", "db-1", "db-2"]
    rev1 = pods_of(made1)[0].metadata.labels["controller-revision-hash"]
    assert all(p.metadata.labels["controller-revision-hash"] != rev1 for p in pods_of(made2))


# ---------------------------------------------------------------------------- DaemonSet


def daemonset(tolerations: list[dict[str, str]] | None = None, node_selector: dict[str, str] | None = None, host_network: bool = False) -> Resource:
    spec: dict[str, Any] = {"containers": [{"name": "agent", "image": "agent"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    if host_network:
        spec["hostNetwork"] = True
    return obj(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec}},
        }
    )


def test_daemonset_runs_one_pod_per_node_that_accepts_it() -> None:
    pods = pods_of(expand([daemonset()], NODES, None))
    # The control-plane's NoSchedule taint is not tolerated.
    assert [p.spec.node_name for p in pods] == ["worker", "worker2"]
    for p in pods:
        assert re.fullmatch(f"agent-{SUFFIX}", p.metadata.name)
        assert p.metadata.generate_name == "agent-"
        assert p.metadata.labels["app"] == "agent"
        assert re.fullmatch(HASH, p.metadata.labels["controller-revision-hash"])
        assert p.spec.affinity == {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": (
                        {"matchFields": ({"key": "metadata.name", "operator": "In", "values": (p.spec.node_name,)},)},
                    )
                }
            }
        }
        keys = [(t.key, t.effect) for t in p.spec.tolerations]
        assert keys == [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ]
        assert all(t.operator == "Exists" for t in p.spec.tolerations)


def test_daemonset_tolerating_the_control_plane_runs_everywhere() -> None:
    ds = daemonset(tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}])
    pods = pods_of(expand([ds], NODES, None))
    assert [p.spec.node_name for p in pods] == ["control-plane", "worker", "worker2"]
    assert pods[0].spec.tolerations[0] == Toleration(
        key="node-role.kubernetes.io/control-plane", operator="Exists", effect="NoSchedule"
    )


def test_daemonset_node_selector_and_host_network_toleration() -> None:
    labelled = tuple(
        n.with_meta(labels=n.metadata.labels.set("gpu", "yes")) if n.metadata.name == "worker2" else n for n in NODES
    )
    pods = pods_of(expand([daemonset(node_selector={"gpu": "yes"}, host_network=True)], labelled, None))
    assert [p.spec.node_name for p in pods] == ["worker2"]
    assert pods[0].spec.tolerations[-1] == Toleration(
        key="node.kubernetes.io/network-unavailable", operator="Exists", effect="NoSchedule"
    )


def test_daemonset_follows_nodes_and_keeps_its_pods() -> None:
    ds = daemonset()
    made = expand([ds], NODES, None)
    extra = build_nodes(DEFAULT.with_node_count(4), [], None)
    made2 = expand([ds], extra, previous([ds], made))
    assert [p.spec.node_name for p in pods_of(made2)] == ["worker", "worker2", "worker3"]
    assert pods_of(made2)[:2] == pods_of(made)
    # A NoExecute taint the pod does not tolerate keeps it off a node.
    tainted = tuple(
        replace(n, spec=replace(n.spec, taints=(Taint(key="dedicated", value="db", effect="NoExecute"),)))
        if n.metadata.name == "worker"
        else n
        for n in NODES
    )
    assert [p.spec.node_name for p in pods_of(expand([ds], tainted, None))] == ["worker2"]


# ---------------------------------------------------------------------------- Job / CronJob


def job(**spec: Any) -> Resource:
    return obj(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "pi"},
            "spec": {**spec, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
        }
    )


def test_job_runs_parallelism_pods_at_a_time() -> None:
    pods = pods_of(expand([job(completions=5, parallelism=2)], NODES, None))
    assert len(pods) == 2
    assert all(re.fullmatch(f"pi-{SUFFIX}", p.metadata.name) for p in pods)
    assert all(p.metadata.labels["job-name"] == "pi" for p in pods)
    assert all(p.metadata.labels["batch.kubernetes.io/job-name"] == "pi" for p in pods)
    assert all(p.spec.restart_policy == "Never" for p in pods)
    assert pods[0].metadata.owner_references[0].kind == "Job"
    assert pods[0].metadata.owner_references[0].api_version == "batch/v1"


def test_job_defaults_to_one_pod_and_never_more_than_completions() -> None:
    assert len(pods_of(expand([job()], NODES, None))) == 1
    assert len(pods_of(expand([job(completions=2, parallelism=10)], NODES, None))) == 2
    assert len(pods_of(expand([job(parallelism=3)], NODES, None))) == 3  # work queue


def test_indexed_job() -> None:
    pods = pods_of(expand([job(completions=5, parallelism=3, completionMode="Indexed")], NODES, None))
    assert len(pods) == 3
    for i, p in enumerate(pods):
        assert re.fullmatch(f"pi-{i}-{SUFFIX}", p.metadata.name)
        assert p.metadata.annotations["batch.kubernetes.io/job-completion-index"] == str(i)
        assert p.metadata.labels["batch.kubernetes.io/job-completion-index"] == str(i)
        assert p.spec.hostname == f"pi-{i}"


def test_suspended_job_and_cronjob_make_no_pods() -> None:
    assert expand([job(completions=3, suspend=True)], NODES, None) == []
    cj = obj(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "hello"},
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "h", "image": "busybox"}]}}}},
            },
        }
    )
    assert expand([cj], NODES, None) == []


# ---------------------------------------------------------------------------- lifecycle


def test_terminating_workload_makes_nothing_new_and_keeps_what_it_had() -> None:
    d = deployment()
    made = expand([d], NODES, None)
    dying = d.with_meta(deletion_timestamp="2024-01-01T00:00:00Z")
    assert expand([dying], NODES, None) == []
    kept = expand([dying], NODES, previous([d], made))
    assert kept == made


def test_given_pods_are_not_returned_and_their_names_not_reused() -> None:
    d = deployment(replicas=1)
    first = pods_of(expand([d], NODES, None))[0]
    squatter = obj({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": first.metadata.name}, "spec": {"containers": [{"name": "x", "image": "x"}]}})
    made = pods_of(expand([d, squatter], NODES, None))
    assert len(made) == 1 and made[0].metadata.name != first.metadata.name


def test_kept_pod_whose_node_is_gone_is_recreated_unbound() -> None:
    d = deployment(replicas=1)
    made = expand([d], NODES, None)
    (pod,) = pods_of(made)
    bound = replace(pod, spec=replace(pod.spec, node_name="gone"), status=PodStatus(phase="Running", pod_ip="10.244.9.2"))
    (again,) = pods_of(expand([d], NODES, previous([d], [*rs_of(made), bound])))
    assert again.metadata.name == pod.metadata.name
    assert again.spec.node_name == "" and again.status.phase == "Pending" and not again.status.pod_ip


def test_deterministic() -> None:
    objs = [deployment(), statefulset(), daemonset(), job(completions=4, parallelism=2, completionMode="Indexed")]
    a = [o.to_dict() for o in expand(objs, NODES, None)]
    b = [o.to_dict() for o in expand(objs, NODES, None)]
    assert a == b


def test_pod_uid_is_stable_uid() -> None:
    for p in pods_of(expand([deployment(), statefulset()], NODES, None)):
        assert pod_uid(p.metadata.namespace, p.metadata.name) == stable_uid(p)


def test_name_collision_with_a_given_replicaset_bumps_the_collision_count() -> None:
    d = deployment()
    (rs,) = rs_of(expand([d], NODES, None))
    stranger = obj(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": rs.metadata.name},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"other": "x"}},
                "template": {"metadata": {"labels": {"other": "x"}}, "spec": {"containers": [{"name": "x", "image": "x"}]}},
            },
        }
    )
    (mine,) = rs_of(expand([d, stranger], NODES, None))
    assert mine.metadata.name != rs.metadata.name
    assert re.fullmatch(f"web-{HASH}", mine.metadata.name)
