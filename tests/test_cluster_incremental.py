"""The incremental path must give exactly what a full reconcile gives."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from podnet.api.defaults import apply_defaults
from podnet.api.loader import read_paths
from podnet.api.meta import Resource
from podnet.api.scheme import decode_object
from podnet.api.workloads import Deployment
from podnet.cluster.admission import admit
from podnet.cluster.config import DEFAULT
from podnet.cluster.reconcile import reconcile, reconcile_change
from podnet.cluster.state import ClusterState

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"


@pytest.fixture()
def state() -> ClusterState:
    s = admit(read_paths([str(EXAMPLE)]), DEFAULT).state
    _ = s.index  # built, so that the incremental path patches it
    return s


def _applied(s: ClusterState) -> list[Resource]:
    return [s.objects[r] for r in s.applied]


def _same(a: ClusterState, b: ClusterState) -> None:
    assert set(a.objects) == set(b.objects)
    for ref, obj in a.objects.items():
        assert obj.to_dict() == b.objects[ref].to_dict(), ref
    assert a.applied == b.applied
    # The patched index answers like a freshly built one.
    fresh = ClusterState(config=a.config, objects=dict(a.objects), applied=a.applied)
    for ns in {r.namespace for r in a.objects}:
        assert [p.ref for p in a.pods(ns)] == [p.ref for p in fresh.pods(ns)]
    for node in a.nodes:
        assert [p.ref for p in a.pods_on_node(node.name)] == [p.ref for p in fresh.pods_on_node(node.name)]


def _scaled(s: ClusterState, ns: str, name: str, replicas: int) -> Deployment:
    d = s.objects[next(r for r in s.applied if r.kind == "Deployment" and r.namespace == ns and r.name == name)]
    assert isinstance(d, Deployment)
    return dataclasses.replace(d, spec=dataclasses.replace(d.spec, replicas=replicas))


@pytest.mark.parametrize("replicas", [0, 1, 5])
def test_scaling_a_deployment_matches_a_full_reconcile(state: ClusterState, replicas: int) -> None:
    change = _scaled(state, "shop", "api", replicas)
    inc = reconcile_change(state, [change])
    full = reconcile(
        state.config, [o for o in _applied(state) if o.ref != change.ref] + [change], previous=state
    )
    _same(inc, full)
    assert len([p for p in inc.pods("shop") if p.name.startswith("api-")]) == replicas
    # The pods that stayed kept their names and addresses.
    before = {p.name: p.ips for p in state.pods("shop")}
    for p in inc.pods("shop"):
        if p.name in before:
            assert p.ips == before[p.name]


def test_adding_a_service_matches_a_full_reconcile(state: ClusterState) -> None:
    svc = apply_defaults(
        decode_object(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "api-internal", "namespace": "shop"},
                "spec": {"selector": {"app": "api"}, "ports": [{"port": 81, "targetPort": "http"}]},
            }
        )
    )
    inc = reconcile_change(state, [svc])
    full = reconcile(state.config, [*_applied(state), svc], previous=state)
    _same(inc, full)
    slices = inc.endpoint_slices("shop", "api-internal")
    assert slices and len(slices[0].endpoints) == 2


def test_deleting_an_object_matches_a_full_reconcile(state: ClusterState) -> None:
    ref = next(r for r in state.applied if r.kind == "Deployment" and r.name == "worker")
    inc = reconcile_change(state, [], [ref])
    full = reconcile(state.config, [o for o in _applied(state) if o.ref != ref], previous=state)
    _same(inc, full)
    assert not [p for p in inc.pods("shop") if p.name.startswith("worker-")]


def test_cluster_wide_changes_take_the_full_path(state: ClusterState) -> None:
    ns = apply_defaults(decode_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new"}}))
    inc = reconcile_change(state, [ns])
    full = reconcile(state.config, [*_applied(state), ns], previous=state)
    _same(inc, full)


def _obj(doc: dict[str, object]) -> Resource:
    return apply_defaults(decode_object(doc))


def test_changing_a_service_selector_matches_a_full_reconcile(state: ClusterState) -> None:
    svc = state.objects[next(r for r in state.applied if r.kind == "Service" and r.name == "api")]
    doc = svc.to_dict()
    doc["spec"]["selector"] = {"app": "worker"}
    doc["spec"]["ports"] = [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    change = _obj(doc)
    inc = reconcile_change(state, [change])
    full = reconcile(state.config, [o for o in _applied(state) if o.ref != change.ref] + [change], previous=state)
    _same(inc, full)
    (slice_,) = inc.endpoint_slices("shop", "api")
    assert [e.target_ref.name for e in slice_.endpoints if e.target_ref] == [
        p.name for p in inc.pods("shop") if p.name.startswith("worker-")
    ]


def test_a_bare_pod_and_a_selectorless_service_with_its_slice(state: ClusterState) -> None:
    pod = _obj(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "debug", "namespace": "shop", "labels": {"app": "api"}},
            "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
        }
    )
    svc = _obj(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "legacy", "namespace": "shop"},
            "spec": {"ports": [{"port": 5432}]},
        }
    )
    es = _obj(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "legacy-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "legacy"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.10"]}],
            "ports": [{"port": 5432}],
        }
    )
    inc = reconcile_change(state, [pod, svc, es])
    full = reconcile(state.config, [*_applied(state), pod, svc, es], previous=state)
    _same(inc, full)
    api_slices = inc.endpoint_slices("shop", "api")
    assert "debug" in {e.target_ref.name for s in api_slices for e in s.endpoints if e.target_ref}
    assert [s.name for s in inc.endpoint_slices("shop", "legacy")] == ["legacy-1"]


def test_deleting_a_service_removes_its_slices(state: ClusterState) -> None:
    ref = next(r for r in state.applied if r.kind == "Service" and r.name == "api")
    inc = reconcile_change(state, [], [ref])
    full = reconcile(state.config, [o for o in _applied(state) if o.ref != ref], previous=state)
    _same(inc, full)
    assert inc.endpoint_slices("shop", "api") == []
