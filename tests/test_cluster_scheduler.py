"""Tests for podnet.cluster.scheduler, against kube-scheduler's and kubelet's behaviour.

Messages are upstream's: ``FitError.Error()`` (pkg/scheduler/framework/types.go: ``0/N nodes are
available: <sorted "count reason" histogram>.`` followed by the PostFilter message), the filter
plugins' reasons, DefaultPreemption's ``preemption: 0/N nodes are available: …`` verdicts, and
kubelet's ``Pod was rejected: Predicate NodeAffinity failed: …``. The taint reason is the one
upstream uses since kubernetes#134740 (``node(s) had untolerated taint(s)``; it used to name
the taint).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from podnet.api.core import Condition, Node, Pod, PodStatus, Taint
from podnet.api.defaults import apply_defaults
from podnet.api.frozen import FrozenDict
from podnet.api.scheme import decode_object
from podnet.cluster.config import DEFAULT
from podnet.cluster.nodes import build_nodes
from podnet.cluster.scheduler import fit_error_message, schedule
from podnet.cluster.state import ClusterState

NODES = build_nodes(DEFAULT, [], None)  # control-plane (tainted), worker, worker2


def pod(name: str, spec: Mapping[str, Any] | None = None, **meta: Any) -> Pod:
    body: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    body.update(spec or {})
    p = apply_defaults(decode_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta}, "spec": body}))
    assert isinstance(p, Pod)
    return p


def condition(p: Pod, type_: str) -> Condition | None:
    return p.condition(type_)


def with_labels(nodes: Sequence[Node], name: str, **labels: str) -> tuple[Node, ...]:
    return tuple(
        n.with_meta(labels=FrozenDict({**n.metadata.labels, **labels})) if n.metadata.name == name else n
        for n in nodes
    )


def affinity(*terms: Mapping[str, Any]) -> dict[str, Any]:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}}


# ---------------------------------------------------------------------------- placement


def test_spreads_over_workers_least_loaded_first_ties_by_node_order() -> None:
    out = schedule([pod(f"p{i}") for i in range(5)], NODES, None)
    assert [p.spec.node_name for p in out] == ["worker", "worker2", "worker", "worker2", "worker"]
    for p in out:
        assert p.status.phase == "Pending"  # running is kubelet's (IPAM's) business
        c = condition(p, "PodScheduled")
        assert c is not None and c.status == "True"


def test_existing_bound_pods_count_towards_load() -> None:
    bound = [pod("a", {"nodeName": "worker"}), pod("b", {"nodeName": "worker"})]
    out = schedule([*bound, pod("c"), pod("d"), pod("e")], NODES, None)
    assert [p.spec.node_name for p in out[2:]] == ["worker2", "worker2", "worker"]


def test_pods_of_one_template_share_a_spec_per_node() -> None:
    template = pod("t")
    pods = [template.with_meta(name=f"p{i}") for i in range(4)]
    out = schedule(pods, NODES, None)
    assert out[0].spec is out[2].spec and out[1].spec is out[3].spec


def test_node_selector() -> None:
    nodes = with_labels(NODES, "worker2", disktype="ssd")
    out = schedule([pod("p", {"nodeSelector": {"disktype": "ssd"}}), pod("q", {"nodeSelector": {"disktype": "ssd"}})], nodes, None)
    assert [p.spec.node_name for p in out] == ["worker2", "worker2"]
    # kubelet's well-known labels select too.
    (p,) = schedule([pod("h", {"nodeSelector": {"kubernetes.io/hostname": "worker"}})], NODES, None)
    assert p.spec.node_name == "worker"


def test_unschedulable_message_in_the_schedulers_words() -> None:
    (p,) = schedule([pod("p", {"nodeSelector": {"disktype": "ssd"}})], NODES, None)
    assert p.spec.node_name == ""
    assert p.status.phase == "Pending"
    c = condition(p, "PodScheduled")
    assert c is not None
    assert (c.status, c.reason) == ("False", "Unschedulable")
    assert c.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), "
        "2 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


def test_toleration_lets_a_pod_onto_the_control_plane() -> None:
    spec = {
        "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
    }
    (p,) = schedule([pod("p", spec)], NODES, None)
    assert p.spec.node_name == "control-plane"
    # Equal needs the value; an empty-key Exists tolerates everything.
    equal = {"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "value": "x", "effect": "NoSchedule"}]}
    everything = {"tolerations": [{"operator": "Exists"}]}
    a, b = schedule(
        [pod("a", {**equal, "nodeSelector": spec["nodeSelector"]}), pod("b", {**everything, "nodeSelector": spec["nodeSelector"]})],
        NODES,
        None,
    )
    assert a.spec.node_name == "" and b.spec.node_name == "control-plane"


def test_required_node_affinity_operators() -> None:
    nodes = with_labels(with_labels(NODES, "worker", zone="a", cores="8"), "worker2", zone="b", cores="32")

    def placed(*exprs: Mapping[str, Any]) -> str:
        (p,) = schedule([pod("p", affinity({"matchExpressions": list(exprs)}))], nodes, None)
        return p.spec.node_name

    assert placed({"key": "zone", "operator": "In", "values": ["b", "c"]}) == "worker2"
    assert placed({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"key": "zone", "operator": "Exists"}) == "worker2"
    assert placed({"key": "cores", "operator": "Gt", "values": ["16"]}) == "worker2"
    assert placed({"key": "cores", "operator": "Lt", "values": ["16"]}) == "worker"
    assert placed({"key": "zone", "operator": "DoesNotExist"}) == ""  # only the tainted control plane
    # Terms are ORed.
    (p,) = schedule(
        [
            pod(
                "p",
                affinity(
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["nowhere"]}]},
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                ),
            )
        ],
        nodes,
        None,
    )
    assert p.spec.node_name == "worker"


def test_match_fields_prefilter_reports_other_nodes_as_not_satisfying_node_affinity() -> None:
    (p,) = schedule([pod("p", affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["worker2"]}]}))], NODES, None)
    assert p.spec.node_name == "worker2"
    (q,) = schedule(
        [pod("q", affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["control-plane"]}]}))],
        NODES,
        None,
    )
    c = condition(q, "PodScheduled")
    assert c is not None and c.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), "
        "2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


def test_cordoned_node() -> None:
    nodes = tuple(replace(n, spec=replace(n.spec, unschedulable=True)) if n.metadata.name != "control-plane" else n for n in NODES)
    (p,) = schedule([pod("p")], nodes, None)
    c = condition(p, "PodScheduled")
    assert c is not None and c.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) were unschedulable. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


def test_host_port_conflicts() -> None:
    two = build_nodes(DEFAULT.with_node_count(2), [], None)
    spec = {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}
    a, b, c = schedule([pod("a", spec), pod("b", spec), pod("c")], two, None)
    assert a.spec.node_name == "worker" and b.spec.node_name == "" and c.spec.node_name == "worker"
    cond = condition(b, "PodScheduled")
    assert cond is not None and cond.message == (
        "0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, "
        "1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: "
        "1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    )
    # Another host IP or protocol does not conflict; hostNetwork pods claim their container ports.
    udp = {"containers": [{"name": "c", "image": "dns", "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]}]}
    host = {"hostNetwork": True, "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]}
    a, u, h = schedule([pod("a", spec), pod("u", udp), pod("h", host)], two, None)
    assert u.spec.node_name == "worker" and h.spec.node_name == ""


def test_too_many_pods() -> None:
    small = tuple(
        replace(n, status=replace(n.status, allocatable=FrozenDict({"pods": "2"}))) for n in build_nodes(DEFAULT.with_node_count(2), [], None)
    )
    out = schedule([pod(f"p{i}") for i in range(3)], small, None)
    assert [p.spec.node_name for p in out] == ["worker", "worker", ""]
    c = condition(out[2], "PodScheduled")
    assert c is not None and c.message == (
        "0/2 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint(s). "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    )


def test_no_nodes() -> None:
    (p,) = schedule([pod("p")], (), None)
    c = condition(p, "PodScheduled")
    assert c is not None and (c.reason, c.message) == ("Unschedulable", "no nodes available to schedule pods")


def test_fit_error_message_sorts_like_upstream() -> None:
    # sort.Strings on "count reason": "10 …" sorts before "2 …".
    msg = fit_error_message(12, {"node(s) were unschedulable": 2, "node(s) had untolerated taint(s)": 10})
    assert msg == (
        "0/12 nodes are available: 10 node(s) had untolerated taint(s), 2 node(s) were unschedulable. "
        "preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling."
    )


# ---------------------------------------------------------------------------- bound pods


def test_node_name_is_kept() -> None:
    (p,) = schedule([pod("p", {"nodeName": "control-plane"})], NODES, None)
    # kubelet admission only looks at NoExecute taints: NoSchedule does not stop a bound pod.
    assert p.spec.node_name == "control-plane" and p.status.phase == ""


def test_pod_bound_to_a_missing_node_stays_pending() -> None:
    (p,) = schedule([pod("p", {"nodeName": "worker9"})], NODES, None)
    assert p.spec.node_name == "worker9"
    assert p.status.phase == "Pending"
    assert p.status.reason == "NodeNotFound"
    assert "worker9" in p.status.message


def test_kubelet_rejects_a_bound_pod_its_node_does_not_match() -> None:
    (p,) = schedule([pod("p", {"nodeName": "worker", "nodeSelector": {"disktype": "ssd"}})], NODES, None)
    assert p.status.phase == "Failed"
    assert p.status.reason == "NodeAffinity"
    assert p.status.message == "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
    nodes = tuple(
        replace(n, spec=replace(n.spec, taints=(Taint(key="k", value="v", effect="NoExecute"),))) if n.metadata.name == "worker" else n
        for n in NODES
    )
    (q,) = schedule([pod("q", {"nodeName": "worker"})], nodes, None)
    assert (q.status.phase, q.status.reason) == ("Failed", "TaintToleration")
    # A running pod is not re-admitted (IgnoredDuringExecution).
    running = replace(pod("r", {"nodeName": "worker", "nodeSelector": {"disktype": "ssd"}}), status=PodStatus(phase="Running"))
    (r,) = schedule([running], NODES, None)
    assert r is running


def test_pods_the_scheduler_skips() -> None:
    other = pod("o", {"schedulerName": "my-scheduler"})
    gated = pod("g", {"schedulingGates": [{"name": "example.com/wait"}]})
    done = replace(pod("d"), status=PodStatus(phase="Succeeded"))
    o, g, d = schedule([other, gated, done], NODES, None)
    assert o is other and d is done
    c = condition(g, "PodScheduled")
    assert c is not None and (c.status, c.reason) == ("False", "SchedulingGated")
    assert g.spec.node_name == ""


# ---------------------------------------------------------------------------- stability


def test_previous_assignment_is_kept_while_it_fits() -> None:
    first = schedule([pod("a"), pod("b")], NODES, None)
    assert [p.spec.node_name for p in first] == ["worker", "worker2"]
    prev = ClusterState(config=DEFAULT, objects={o.ref: o for o in [*NODES, *first]})
    # "b" alone would go to the least loaded node (worker) — it stays on worker2.
    (b,) = schedule([pod("b")], NODES, prev)
    assert b.spec.node_name == "worker2"
    # Unless it no longer fits there.
    nodes = with_labels(NODES, "worker", disk="ssd")
    (b2,) = schedule([pod("b", {"nodeSelector": {"disk": "ssd"}})], nodes, prev)
    assert b2.spec.node_name == "worker"


def test_deterministic_and_even_at_scale() -> None:
    nodes = build_nodes(DEFAULT.with_node_count(300), [], None)
    template = pod("t")
    pods = [template.with_meta(name=f"p{i}") for i in range(299 * 20 + 7)]
    a = schedule(pods, nodes, None)
    b = schedule(pods, nodes, None)
    assert [p.spec.node_name for p in a] == [p.spec.node_name for p in b]
    load = Counter(p.spec.node_name for p in a)
    assert "control-plane" not in load and len(load) == 299
    assert set(load.values()) == {20, 21}
    assert load["worker"] == 21 and load["worker299"] == 20  # ties go to the earlier node
