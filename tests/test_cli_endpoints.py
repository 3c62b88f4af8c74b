"""``podnet get endpoints``: core/v1 Endpoints as a real cluster holds them.

Expectations come from upstream Kubernetes, not from podnet's output:

* the endpoints controller, ``pkg/controller/endpoint/endpoints_controller.go`` (``syncService``,
  ``podToEndpointAddressForService``, ``addEndpointSubset``, ``truncateEndpoints``) and
  ``ShouldPodBeInEndpoints(pod, includeTerminating=publishNotReadyAddresses)``: terminating pods
  left out unless the Service publishes not-ready addresses, then every address ready; one
  address per pod, of the Service's primary family; EndpointPort = the Service port's name,
  protocol and appProtocol; labels = the Service's plus ``service.kubernetes.io/headless``;
  no Endpoints for a Service without a selector or of type ExternalName; at most 1000 addresses;
* ``pkg/api/v1/endpoints/util.go`` ``RepackSubsets``: ports serving the same addresses share a
  subset; addresses de-duplicated by (IP, targetRef UID) and sorted by ``LessEndpointAddress``
  (the IP text byte by byte, then the UID);
* the API server's endpoint reconciler for ``default/kubernetes`` (label
  ``endpointslice.kubernetes.io/skip-mirror: "true"``).

Not asserted: the order of several ports in a subset and of several subsets, which upstream takes
from an MD5 hash of their dump (podnet documents its own order in ``printers._repack``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from podnet.api.core import Node, Pod, Service
from podnet.api.defaults import apply_defaults
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import Resource
from podnet.api.scheme import decode_object
from podnet.cli.main import cli
from podnet.cli.printers import format_endpoints
from podnet.cluster.endpoints import endpoints_objects
from podnet.cluster.config import DEFAULT
from podnet.cluster.endpointslices import build
from podnet.cluster.state import ClusterState


def node(name: str, ip: str) -> Node:
    return Node.from_dict(
        {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
        }
    )


NODES = (node("n1", "172.18.0.2"), node("n2", "172.18.0.3"))


def pod(
    name: str,
    ips: str | list[str],
    *,
    ready: bool = True,
    deleting: bool = False,
    node_name: str = "n1",
    uid: str | None = None,
    ports: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> Pod:
    ip_list = [ips] if isinstance(ips, str) else ips
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "labels": labels or {"app": "web"},
        "uid": uid or f"uid-{name}",
    }
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    obj = Pod.from_dict(
        {
            "metadata": meta,
            "spec": {
                "nodeName": node_name,
                "containers": [{"name": "c", "image": "x", "ports": ports or []}],
                **spec,
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "podIP": ip_list[0],
                "podIPs": [{"ip": i} for i in ip_list],
            },
        }
    )
    out = apply_defaults(obj)
    assert isinstance(out, Pod)
    return out


def service(name: str = "web", **spec: Any) -> Service:
    spec.setdefault("selector", {"app": "web"})
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    spec.setdefault("clusterIP", "10.96.100.1")
    spec.setdefault("ipFamilies", ["IPv4"])
    labels = spec.pop("labels", {})
    obj = Service.from_dict(
        {"metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec}
    )
    out = apply_defaults(obj)
    assert isinstance(out, Service)
    return out


def state_of(services: list[Service], pods: list[Pod], given: Sequence[Resource] = ()) -> ClusterState:
    """The cluster the EndpointSlice controller makes of these objects."""
    given_slices = [g for g in given if isinstance(g, EndpointSlice)]
    others = [g for g in given if not isinstance(g, EndpointSlice)]
    slices = build(services, pods, given_slices, NODES)
    objs: list[Resource] = [*NODES, *services, *pods, *slices, *others]
    return ClusterState(config=DEFAULT, objects={o.ref: o for o in objs})


def endpoints(state: ClusterState, name: str = "web") -> dict[str, Any]:
    found = [e for e in endpoints_objects(state, "default") if e["metadata"]["name"] == name]
    assert len(found) == 1, found
    return found[0]


def address(name: str, ip: str, node_name: str = "n1", uid: str | None = None) -> dict[str, Any]:
    """An EndpointAddress as podToEndpointAddressForService writes it."""
    return {
        "ip": ip,
        "nodeName": node_name,
        "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": uid or f"uid-{name}"},
    }


HTTP = {"name": "http", "port": 8080, "protocol": "TCP"}


# ------------------------------------------------------------------------- terminating pods


PODS_BY_STATE = [
    pod("ready", "10.244.1.5"),
    pod("unready", "10.244.1.6", ready=False),
    pod("term-ready", "10.244.1.7", deleting=True),
    pod("term-unready", "10.244.1.8", deleting=True, ready=False),
]


def test_terminating_pods_are_left_out() -> None:
    ep = endpoints(state_of([service()], PODS_BY_STATE))
    assert ep["subsets"] == [
        {
            "addresses": [address("ready", "10.244.1.5")],
            "notReadyAddresses": [address("unready", "10.244.1.6")],
            "ports": [HTTP],
        }
    ]


def test_publish_not_ready_addresses_lists_every_pod_ready_terminating_ones_included() -> None:
    ep = endpoints(state_of([service(publishNotReadyAddresses=True)], PODS_BY_STATE))
    assert ep["subsets"] == [
        {
            "addresses": [
                address("ready", "10.244.1.5"),
                address("unready", "10.244.1.6"),
                address("term-ready", "10.244.1.7"),
                address("term-unready", "10.244.1.8"),
            ],
            "ports": [HTTP],
        }
    ]


def test_only_terminating_pods_leave_a_service_without_subsets() -> None:
    ep = endpoints(state_of([service()], [pod("t", "10.244.1.7", deleting=True)]))
    assert "subsets" not in ep
    assert format_endpoints(ep) == "<none>"


# ------------------------------------------------------------------------------- dual stack


DUAL = [pod("a", ["10.244.1.5", "fd00:10:244:1::5"]), pod("b", ["10.244.1.6", "fd00:10:244:1::6"])]


def test_dual_stack_service_lists_its_primary_family_only() -> None:
    v4_first = service(ipFamilies=["IPv4", "IPv6"], ipFamilyPolicy="PreferDualStack",
                       clusterIPs=["10.96.100.1", "fd00:10:96::1"])
    ep = endpoints(state_of([v4_first], DUAL))
    assert ep["subsets"] == [
        {"addresses": [address("a", "10.244.1.5"), address("b", "10.244.1.6")], "ports": [HTTP]}
    ]

    v6_first = service(ipFamilies=["IPv6", "IPv4"], ipFamilyPolicy="PreferDualStack",
                       clusterIP="fd00:10:96::1", clusterIPs=["fd00:10:96::1", "10.96.100.1"])
    ep = endpoints(state_of([v6_first], DUAL))
    assert ep["subsets"] == [
        {
            "addresses": [address("a", "fd00:10:244:1::5"), address("b", "fd00:10:244:1::6")],
            "ports": [HTTP],
        }
    ]


def test_without_ip_families_the_cluster_ip_decides() -> None:
    svc = service(ipFamilies=[], clusterIP="fd00:10:96::1")
    ep = endpoints(state_of([svc], DUAL))
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["fd00:10:244:1::5", "fd00:10:244:1::6"]


def test_headless_without_ip_families_each_pods_primary_ip_decides() -> None:
    svc = service(ipFamilies=[], clusterIP="None")
    pods = [pod("v6", ["fd00:10:244:1::5", "10.244.1.5"]), pod("v4", ["10.244.1.6", "fd00:10:244:1::6"])]
    ep = endpoints(state_of([svc], pods))
    assert ep["subsets"] == [
        {"addresses": [address("v4", "10.244.1.6"), address("v6", "fd00:10:244:1::5")], "ports": [HTTP]}
    ]


# ------------------------------------------------------------------- ports, labels, metadata


def test_app_protocol_is_copied_from_the_service_port() -> None:
    svc = service(ports=[{"name": "web", "port": 80, "targetPort": 8080, "appProtocol": "kubernetes.io/h2c"}])
    ep = endpoints(state_of([svc], [pod("a", "10.244.1.5")]))
    assert ep["subsets"][0]["ports"] == [
        {"name": "web", "port": 8080, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}
    ]


def test_labels_are_the_services_and_headless_adds_its_label() -> None:
    svc = service(labels={"app": "web", "tier": "front"})
    ep = endpoints(state_of([svc], [pod("a", "10.244.1.5")]))
    assert ep["metadata"]["labels"] == {"app": "web", "tier": "front"}

    headless = service(clusterIP="None", labels={"app": "web"})
    ep = endpoints(state_of([headless], [pod("a", "10.244.1.5")]))
    assert ep["metadata"]["labels"] == {"app": "web", "service.kubernetes.io/headless": ""}

    # CloneAndRemoveLabel: a Service with a ClusterIP never has it, even if it carries it itself
    odd = service(labels={"service.kubernetes.io/headless": ""})
    ep = endpoints(state_of([odd], [pod("a", "10.244.1.5")]))
    assert "labels" not in ep["metadata"]


def test_headless_without_ports_lists_addresses_without_ports() -> None:
    svc = service(clusterIP="None", ports=[])
    ep = endpoints(state_of([svc], [pod("a", "10.244.1.5"), pod("b", "10.244.1.6", ready=False)]))
    assert ep["subsets"] == [
        {"addresses": [address("a", "10.244.1.5")], "notReadyAddresses": [address("b", "10.244.1.6")]}
    ]


def test_hostname_when_the_pods_subdomain_names_the_service() -> None:
    pods = [pod("a", "10.244.1.5", hostname="a", subdomain="web"), pod("b", "10.244.1.6", hostname="b")]
    ep = endpoints(state_of([service(clusterIP="None")], pods))
    assert ep["subsets"][0]["addresses"] == [
        {**address("a", "10.244.1.5"), "hostname": "a"},
        address("b", "10.244.1.6"),
    ]


def test_a_pod_resolving_none_of_the_ports_is_left_out() -> None:
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    pods = [pod("named", "10.244.1.5", ports=[{"name": "http", "containerPort": 8080}]),
            pod("unnamed", "10.244.1.6")]
    ep = endpoints(state_of([svc], pods))
    assert ep["subsets"] == [{"addresses": [address("named", "10.244.1.5")], "ports": [HTTP]}]


# ------------------------------------------------------------------------ RepackSubsets


def test_addresses_sorted_by_ip_text_then_uid() -> None:
    # hostNetwork pods on one node share its IP: (IP, UID) keeps them apart, UID breaks the tie
    pods = [
        pod("p9", "10.244.1.9"),
        pod("p10", "10.244.1.10"),
        pod("host-b", "172.18.0.2", uid="bbb", hostNetwork=True),
        pod("host-a", "172.18.0.2", uid="aaa", hostNetwork=True),
    ]
    ep = endpoints(state_of([service()], pods))
    assert [(a["ip"], a["targetRef"]["name"]) for a in ep["subsets"][0]["addresses"]] == [
        ("10.244.1.10", "p10"),  # byte order: "1" < "9"
        ("10.244.1.9", "p9"),
        ("172.18.0.2", "host-a"),
        ("172.18.0.2", "host-b"),
    ]


def test_ports_serving_the_same_addresses_share_a_subset() -> None:
    svc = service(ports=[
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "metrics", "port": 9090, "targetPort": "metrics"},
    ])
    both = [{"name": "metrics", "containerPort": 9100}]
    ep = endpoints(state_of([svc], [pod("a", "10.244.1.5", ports=both), pod("b", "10.244.1.6", ports=both)]))
    assert len(ep["subsets"]) == 1
    subset = ep["subsets"][0]
    assert subset["addresses"] == [address("a", "10.244.1.5"), address("b", "10.244.1.6")]
    assert sorted(p["name"] for p in subset["ports"]) == ["http", "metrics"]

    # only "a" serves metrics: http -> {a, b}, metrics -> {a}: two subsets, one port each
    ep = endpoints(state_of([svc], [pod("a", "10.244.1.5", ports=both), pod("b", "10.244.1.6")]))
    subsets = {tuple(p["name"] for p in s["ports"]): s for s in ep["subsets"]}
    assert set(subsets) == {("http",), ("metrics",)}
    assert subsets[("http",)]["addresses"] == [address("a", "10.244.1.5"), address("b", "10.244.1.6")]
    assert subsets[("metrics",)] == {
        "addresses": [address("a", "10.244.1.5")],
        "ports": [{"name": "metrics", "port": 9100, "protocol": "TCP"}],
    }


def test_a_named_port_resolving_differently_splits_the_subsets() -> None:
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    pods = [pod("a", "10.244.1.5", ports=[{"name": "http", "containerPort": 8080}]),
            pod("b", "10.244.1.6", ports=[{"name": "http", "containerPort": 9090}])]
    ep = endpoints(state_of([svc], pods))
    by_port = {s["ports"][0]["port"]: s["addresses"] for s in ep["subsets"]}
    assert by_port == {8080: [address("a", "10.244.1.5")], 9090: [address("b", "10.244.1.6")]}


def test_more_than_1000_addresses_are_truncated() -> None:
    pods = [pod(f"p{i:04d}", f"10.244.{i // 250}.{i % 250 + 1}") for i in range(1001)]
    ep = endpoints(state_of([service()], pods))
    (subset,) = ep["subsets"]
    assert len(subset["addresses"]) == 1000
    assert ep["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}
    # addressSubset keeps the first ones, in RepackSubsets' order
    every = sorted(f"10.244.{i // 250}.{i % 250 + 1}" for i in range(1001))
    assert [a["ip"] for a in subset["addresses"]] == every[:1000]

    # ready ones first: 995 ready + 10 not ready -> 5 not ready kept
    pods = [pod(f"p{i:04d}", f"10.244.{i // 250}.{i % 250 + 1}", ready=i < 995) for i in range(1005)]
    (subset,) = endpoints(state_of([service()], pods))["subsets"]
    assert (len(subset["addresses"]), len(subset["notReadyAddresses"])) == (995, 5)

    pods = [pod(f"p{i:04d}", f"10.244.{i // 250}.{i % 250 + 1}") for i in range(1000)]
    ep = endpoints(state_of([service()], pods))
    assert len(ep["subsets"][0]["addresses"]) == 1000
    assert "annotations" not in ep["metadata"]


# ------------------------------------------------------------------- selector-less Services


def _decoded(doc: dict[str, Any]) -> Resource:
    return apply_defaults(decode_object(doc))


def test_a_service_without_selector_gets_no_endpoints_from_its_slices() -> None:
    svc = service(name="ext", selector=None)
    slice_ = _decoded({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "ext-1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "ext"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.0.2.10"]}],
        "ports": [{"name": "http", "port": 80}],
    })
    state = state_of([svc], [], [slice_])
    assert [e["metadata"]["name"] for e in endpoints_objects(state, "default")] == []


def test_endpoints_given_in_the_manifests_are_listed_as_given() -> None:
    svc = service(name="ext", selector=None)
    given = _decoded({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "ext", "namespace": "default", "labels": {"a": "b"}},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "pg", "port": 5432}]}],
    })
    orphan = _decoded({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "orphan", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "192.0.2.20"}]}],
    })
    state = state_of([svc], [], [given, orphan])
    ep = endpoints(state, "ext")
    assert ep["apiVersion"] == "v1" and ep["kind"] == "Endpoints"
    assert ep["metadata"]["labels"] == {"a": "b"}
    # SetDefaults_EndpointPort: protocol TCP
    assert ep["subsets"] == [
        {"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}
    ]
    assert set(ep) == {"apiVersion", "kind", "metadata", "subsets"}
    assert endpoints(state, "orphan")["subsets"] == [{"addresses": [{"ip": "192.0.2.20"}]}]


def test_given_endpoints_of_a_service_with_selector_are_the_controllers() -> None:
    given = _decoded({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default", "uid": "given-uid",
                     "labels": {"stale": "yes"}, "annotations": {"note": "kept"}},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}]}],
    })
    ep = endpoints(state_of([service(labels={"app": "web"})], [pod("a", "10.244.1.5")], [given]))
    assert ep["metadata"]["uid"] == "given-uid"
    assert ep["metadata"]["labels"] == {"app": "web"}
    assert ep["metadata"]["annotations"] == {"note": "kept"}
    assert ep["subsets"] == [{"addresses": [address("a", "10.244.1.5")], "ports": [HTTP]}]


def test_external_name_gets_no_endpoints() -> None:
    svc = service(name="ext", type="ExternalName", externalName="db.example.com", selector=None,
                  clusterIP=None, ipFamilies=None)
    assert endpoints_objects(state_of([svc], []), "default") == []


# --------------------------------------------------------------------------------- the CLI


APP = """\
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec:
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext, namespace: default}
subsets:
- addresses: [{ip: 192.0.2.10}]
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: sliced, namespace: default}
spec:
  ports: [{port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: sliced-1, namespace: default, labels: {kubernetes.io/service-name: sliced}}
addressType: IPv4
endpoints: [{addresses: [192.0.2.20]}]
ports: [{port: 80}]
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_get_endpoints_of_selectorless_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODNET_HOME", str(tmp_path / "home"))
    manifest = tmp_path / "app.yaml"
    manifest.write_text(APP)
    r = run("-f", str(manifest), "get", "ep")
    assert r.exit_code == 0, r.output
    names = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert names == ["ext", "kubernetes"]  # no "sliced": nothing mirrors slices into Endpoints
    r = run("-f", str(manifest), "get", "ep", "sliced")
    assert r.exit_code == 1
    assert r.stderr.strip() == 'Error from server (NotFound): endpoints "sliced" not found'

    # the API server's own Endpoints for default/kubernetes
    doc = yaml.safe_load(run("-f", str(manifest), "get", "ep", "kubernetes", "-o", "yaml").stdout)
    assert doc["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    (subset,) = doc["subsets"]
    assert subset["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    assert [set(a) for a in subset["addresses"]] == [{"ip"}]


def test_delete_endpoints_the_manifests_gave_but_not_the_controllers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A selector-less Service's Endpoints are the user's object: `delete ep` removes it. A
    Service with a selector has the controller's, which a real cluster writes again at once:
    podnet says to delete the Service instead, and changes nothing."""
    monkeypatch.setenv("PODNET_HOME", str(tmp_path / "home"))
    manifest = tmp_path / "app.yaml"
    manifest.write_text(APP + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                        "spec:\n  selector: {app: web}\n  ports: [{port: 80}]\n")
    assert run("apply", "-f", str(manifest)).exit_code == 0
    r = run("delete", "ep", "web")
    assert r.exit_code == 1
    assert "the endpoints controller's" in r.stderr and "delete the Service" in r.stderr
    r = run("delete", "ep", "ext")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == 'endpoints "ext" deleted'
    names = [line.split()[0] for line in run("get", "ep").stdout.splitlines()[1:]]
    assert "ext" not in names and "web" in names
    r = run("delete", "ep", "nope")
    assert r.exit_code == 1 and 'endpoints "nope" not found' in r.stderr
