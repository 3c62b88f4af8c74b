"""The EndpointSlice controller.

Expectations from the EndpointSlice documentation and KEP-1672 (ready / serving / terminating),
and from k8s.io/endpointslice (reconciler.go, utils.go): selector-only, finished pods out,
terminating pods in, named targetPort resolved per pod, hostname for the pod's subdomain, zone from
the node, at most 100 endpoints per slice, one slice group per address type, a placeholder when
there are no endpoints, the Service's labels copied next to the reserved ones.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from podnet.api.core import Node, Pod, PodIP, Service
from podnet.api.defaults import apply_defaults
from podnet.api.discovery import EndpointSlice
from podnet.api.frozen import FrozenDict
from podnet.cluster.endpointslices import build

NAME_RE = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")


def node(name: str, ip: str, zone: str | None = None) -> Node:
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return Node.from_dict(
        {
            "metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
        }
    )


NODES = (node("n1", "172.18.0.2", "zone-a"), node("n2", "172.18.0.3", "zone-b"))


def pod(
    name: str,
    ip: str | list[str] | None = None,
    *,
    ns: str = "default",
    labels: dict[str, str] | None = None,
    ready: bool = True,
    phase: str = "Running",
    node_name: str = "n1",
    deleting: bool = False,
    ports: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> Pod:
    ips = [ip] if isinstance(ip, str) else (ip or [])
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": i} for i in ips]
    obj = Pod.from_dict(
        {
            "metadata": meta,
            "spec": {
                "nodeName": node_name,
                "containers": [{"name": "c", "image": "x", "ports": ports or []}],
                **spec,
            },
            "status": status,
        }
    )
    out = apply_defaults(obj)
    assert isinstance(out, Pod)
    return out


def service(name: str = "web", ns: str = "default", **spec: Any) -> Service:
    spec.setdefault("selector", {"app": "web"})
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    spec.setdefault("clusterIP", "10.96.100.1")
    spec.setdefault("ipFamilies", ["IPv4"])
    labels = spec.pop("labels", {})
    obj = Service.from_dict({"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": spec})
    out = apply_defaults(obj)
    assert isinstance(out, Service)
    return out


def slices_of(out: list[EndpointSlice], svc: str = "web") -> list[EndpointSlice]:
    return [s for s in out if s.service_name == svc]


def endpoints_by_pod(slices: list[EndpointSlice]) -> dict[str, Any]:
    out = {}
    for s in slices:
        for e in s.endpoints:
            assert e.target_ref is not None
            out[e.target_ref.name] = e
    return out


# ------------------------------------------------------------------------------ conditions


def test_ready_pod() -> None:
    (es,) = build([service()], [pod("web-1", "10.244.1.5")], [], NODES)
    assert es.address_type == "IPv4"
    (ep,) = es.endpoints
    assert ep.addresses == ("10.244.1.5",)
    c = ep.conditions
    assert (c.ready, c.serving, c.terminating) == (True, True, False)
    assert ep.node_name == "n1"
    assert ep.zone == "zone-a"
    assert ep.target_ref is not None
    assert (ep.target_ref.kind, ep.target_ref.namespace, ep.target_ref.name) == ("Pod", "default", "web-1")
    assert ep.target_ref.uid  # the pod's uid
    (port,) = es.ports
    assert (port.name, port.port, port.protocol) == ("http", 8080, "TCP")


def test_not_ready_pod() -> None:
    (es,) = build([service()], [pod("web-1", "10.244.1.5", ready=False)], [], NODES)
    c = es.endpoints[0].conditions
    assert (c.ready, c.serving, c.terminating) == (False, False, False)


def test_terminating_pods_included_never_ready() -> None:
    pods = [
        pod("web-1", "10.244.1.5", deleting=True, ready=True),
        pod("web-2", "10.244.1.6", deleting=True, ready=False),
    ]
    eps = endpoints_by_pod(build([service()], pods, [], NODES))
    c1, c2 = eps["web-1"].conditions, eps["web-2"].conditions
    # KEP-1672: serving follows readiness regardless of termination; ready is never true while
    # terminating (unless publishNotReadyAddresses)
    assert (c1.ready, c1.serving, c1.terminating) == (False, True, True)
    assert (c2.ready, c2.serving, c2.terminating) == (False, False, True)


def test_publish_not_ready_addresses() -> None:
    pods = [pod("web-1", "10.244.1.5", ready=False), pod("web-2", "10.244.1.6", deleting=True)]
    eps = endpoints_by_pod(build([service(publishNotReadyAddresses=True)], pods, [], NODES))
    assert eps["web-1"].conditions.ready is True
    assert eps["web-1"].conditions.serving is False
    assert eps["web-2"].conditions.ready is True
    assert eps["web-2"].conditions.terminating is True


def test_finished_and_ipless_pods_excluded() -> None:
    pods = [
        pod("done", "10.244.1.7", phase="Succeeded"),
        pod("failed", "10.244.1.8", phase="Failed"),
        pod("pending", None, phase="Pending", node_name=""),
        pod("ok", "10.244.1.9"),
    ]
    (es,) = build([service()], pods, [], NODES)
    assert [e.target_ref.name for e in es.endpoints if e.target_ref] == ["ok"]


def test_pod_on_unknown_node_skipped_unless_publishing() -> None:
    pods = [pod("ghost", "10.244.9.9", node_name="gone"), pod("ok", "10.244.1.9")]
    (es,) = build([service()], pods, [], NODES)
    assert [e.target_ref.name for e in es.endpoints if e.target_ref] == ["ok"]
    (es,) = build([service(publishNotReadyAddresses=True)], pods, [], NODES)
    assert sorted(e.target_ref.name for e in es.endpoints if e.target_ref) == ["ghost", "ok"]


# ------------------------------------------------------------------------------ selection


def test_only_selected_pods_of_the_namespace() -> None:
    pods = [
        pod("web-1", "10.244.1.5"),
        pod("other", "10.244.1.6", labels={"app": "api"}),
        pod("elsewhere", "10.244.1.7", ns="shop"),
        pod("web-2", "10.244.2.5", labels={"app": "web", "tier": "x"}, node_name="n2"),
    ]
    (es,) = build([service(selector={"app": "web"})], pods, [], NODES)
    assert [e.target_ref.name for e in es.endpoints if e.target_ref] == ["web-1", "web-2"]
    (es,) = build([service(selector={"app": "web", "tier": "x"})], pods, [], NODES)
    assert [e.target_ref.name for e in es.endpoints if e.target_ref] == ["web-2"]


def test_selectorless_and_external_name_get_no_slices() -> None:
    svcs = [
        service("manual", selector={}),
        service("ext", type="ExternalName", externalName="example.com", clusterIP="", ipFamilies=[]),
    ]
    assert build(svcs, [pod("web-1", "10.244.1.5")], [], NODES) == []


def test_given_slices() -> None:
    manual = EndpointSlice.from_dict(
        {
            "metadata": {
                "name": "manual-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "manual"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.10"]}],
            "ports": [{"port": 5432}],
        }
    )
    stale = EndpointSlice.from_dict(
        {
            "metadata": {
                "name": "web-abcde",
                "namespace": "default",
                "labels": {
                    "kubernetes.io/service-name": "web",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.9.9"]}],
        }
    )
    orphan = EndpointSlice.from_dict(
        {
            "metadata": {
                "name": "gone-bcdfg",
                "namespace": "default",
                "labels": {
                    "kubernetes.io/service-name": "gone",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
            },
            "addressType": "IPv4",
        }
    )
    custom = EndpointSlice.from_dict(
        {
            "metadata": {
                "name": "web-extra",
                "namespace": "default",
                "labels": {
                    "kubernetes.io/service-name": "web",
                    "endpointslice.kubernetes.io/managed-by": "example.com/my-controller",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.20"]}],
        }
    )
    out = build(
        [service(), service("manual", selector={})],
        [pod("web-1", "10.244.1.5")],
        [manual, stale, orphan, custom],
        NODES,
    )
    names = [s.metadata.name for s in out]
    assert "manual-1" in names and "web-extra" in names
    assert "web-abcde" not in names and "gone-bcdfg" not in names
    assert next(s for s in out if s.metadata.name == "manual-1") is manual
    computed = [s for s in slices_of(out) if s.metadata.name != "web-extra"]
    assert len(computed) == 1 and computed[0].endpoints[0].addresses == ("10.244.1.5",)


# ------------------------------------------------------------------------------ ports


def test_named_target_port_resolved_per_pod() -> None:
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "web"}])
    pods = [
        pod("a", "10.244.1.5", ports=[{"name": "web", "containerPort": 8080}]),
        pod("b", "10.244.1.6", ports=[{"name": "web", "containerPort": 8080}]),
        pod("c", "10.244.1.7", ports=[{"name": "web", "containerPort": 9090}]),
    ]
    slices = build([svc], pods, [], NODES)
    assert len(slices) == 2
    by_port = {s.ports[0].port: sorted(e.target_ref.name for e in s.endpoints if e.target_ref) for s in slices}
    assert by_port == {8080: ["a", "b"], 9090: ["c"]}


def test_named_port_needs_matching_protocol() -> None:
    svc = service(ports=[{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}])
    pods = [pod("a", "10.244.1.5", ports=[{"name": "dns", "containerPort": 5353, "protocol": "TCP"}])]
    (es,) = build([svc], pods, [], NODES)
    # unresolvable: the pod is published without that port (upstream getEndpointPorts)
    assert es.ports == ()
    assert len(es.endpoints) == 1


def test_multiple_ports_and_protocols() -> None:
    svc = service(
        ports=[
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
        ]
    )
    (es,) = build([svc], [pod("a", "10.244.1.5")], [], NODES)
    assert [(p.name, p.protocol, p.port) for p in es.ports] == [("dns", "UDP", 53), ("dns-tcp", "TCP", 53)]


def test_headless_without_ports() -> None:
    svc = service(clusterIP="None", ports=[])
    (es,) = build([svc], [pod("a", "10.244.1.5")], [], NODES)
    assert es.ports == ()
    assert es.labels["service.kubernetes.io/headless"] == ""


# ------------------------------------------------------------------------------ hostname


def test_hostname_when_subdomain_names_the_service() -> None:
    pods = [
        pod("db-0", "10.244.1.5", hostname="db-0", subdomain="web"),
        pod("db-1", "10.244.1.6", hostname="db-1", subdomain="other"),
        pod("db-2", "10.244.1.7"),
    ]
    eps = endpoints_by_pod(build([service(clusterIP="None")], pods, [], NODES))
    assert eps["db-0"].hostname == "db-0"
    assert eps["db-1"].hostname is None
    assert eps["db-2"].hostname is None


# ------------------------------------------------------------------------------ slices


def test_slice_metadata() -> None:
    svc = service(labels={"app": "web", "team": "a", "kubernetes.io/service-name": "spoof"})
    (es,) = build([svc], [pod("a", "10.244.1.5")], [], NODES)
    assert NAME_RE.match(es.metadata.name), es.metadata.name
    assert es.metadata.generate_name == "web-"
    assert es.metadata.namespace == "default"
    assert dict(es.labels) == {
        "app": "web",
        "team": "a",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    (owner,) = es.metadata.owner_references
    assert (owner.api_version, owner.kind, owner.name) == ("v1", "Service", "web")
    assert owner.uid == svc.metadata.uid
    assert owner.controller is True and owner.block_owner_deletion is True
    assert es.metadata.uid


def test_at_most_100_endpoints_per_slice() -> None:
    pods = [pod(f"web-{i:03d}", f"10.244.{i // 200}.{i % 200 + 2}") for i in range(250)]
    slices = build([service()], pods, [], NODES)
    assert sorted(len(s.endpoints) for s in slices) == [50, 100, 100]
    assert len({s.metadata.name for s in slices}) == 3
    assert all(NAME_RE.match(s.metadata.name) for s in slices)
    seen = [e.target_ref.name for s in slices for e in s.endpoints if e.target_ref]
    assert sorted(seen) == [p.metadata.name for p in pods]


def test_dual_stack_service_one_slice_group_per_family() -> None:
    svc = service(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack")
    pods = [pod("a", ["10.244.1.5", "fd00:10:244:1::5"]), pod("b", "10.244.1.6")]
    slices = build([svc], pods, [], NODES)
    by_type = {s.address_type: s for s in slices}
    assert set(by_type) == {"IPv4", "IPv6"}
    assert [e.addresses for e in by_type["IPv4"].endpoints] == [("10.244.1.5",), ("10.244.1.6",)]
    assert [e.addresses for e in by_type["IPv6"].endpoints] == [("fd00:10:244:1::5",)]


def test_single_stack_service_ignores_other_family() -> None:
    pods = [pod("a", ["10.244.1.5", "fd00:10:244:1::5"])]
    (es,) = build([service()], pods, [], NODES)
    assert es.endpoints[0].addresses == ("10.244.1.5",)


def test_placeholder_slice_without_endpoints() -> None:
    (es,) = build([service()], [], [], NODES)
    assert es.address_type == "IPv4"
    assert es.endpoints == () and es.ports == ()
    assert NAME_RE.match(es.metadata.name)


def test_host_network_pod_uses_node_ip() -> None:
    p = pod("hn", None, hostNetwork=True, node_name="n2")
    (es,) = build([service()], [p], [], NODES)
    assert es.endpoints[0].addresses == ("172.18.0.3",)


def test_prefer_close_hints() -> None:
    svc = service(trafficDistribution="PreferClose")
    pods = [pod("a", "10.244.1.5"), pod("b", "10.244.2.5", node_name="n2", ready=False)]
    eps = endpoints_by_pod(build([svc], pods, [], NODES))
    assert eps["a"].hints is not None
    assert [z.name for z in eps["a"].hints.for_zones] == ["zone-a"]
    assert eps["b"].hints is None  # only ready endpoints get hints


def test_deterministic() -> None:
    pods = [pod(f"web-{i}", f"10.244.1.{i + 2}") for i in range(20)]
    a = build([service()], pods, [], NODES)
    b = build([service()], list(reversed(pods)), [], NODES)
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]


def test_scale_10k_services_150k_pods() -> None:
    # Pods stamped from one template share its spec, as the workload controllers make them.
    nodes = tuple(node(f"n{i}", f"172.18.{i // 250}.{i % 250 + 2}") for i in range(100))
    template = pod("t", "10.0.0.1", ports=[{"name": "http", "containerPort": 8080}])
    specs = [replace(template.spec, node_name=f"n{i}") for i in range(100)]
    svcs = []
    pods = []
    for s in range(10_000):
        ns = f"ns-{s % 50}"
        app = f"app-{s}"
        svcs.append(
            service(
                f"svc-{s}",
                ns,
                selector={"app": app},
                ports=[{"name": "http", "port": 80, "targetPort": "http"}],
            )
        )
        labels = FrozenDict({"app": app, "tier": "backend"})
        for r in range(15):
            i = s * 15 + r
            ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
            pods.append(
                replace(
                    template,
                    metadata=replace(template.metadata, name=f"{app}-{r}", namespace=ns, labels=labels),
                    spec=specs[i % 100],
                    status=replace(template.status, pod_ip=ip, pod_ips=(PodIP(ip=ip),)),
                )
            )
    start = time.perf_counter()
    out = build(svcs, pods, [], nodes)
    elapsed = time.perf_counter() - start
    assert len(out) == 10_000
    assert sum(len(s.endpoints) for s in out) == 150_000
    assert all(s.ports[0].port == 8080 for s in out)
    assert elapsed < 10, elapsed
