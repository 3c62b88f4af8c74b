"""The resource model: decoding, round-tripping, loading, defaulting and selectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podnet.api.core import Pod, Service
from podnet.api.defaults import NAMESPACE_NAME_LABEL, apply_defaults
from podnet.api.frozen import FrozenDict, freeze, thaw
from podnet.api.loader import parse_text, read_paths
from podnet.api.networking import NetworkPolicy
from podnet.api.scheme import OpaqueObject, decode_object
from podnet.api.selectors import LabelSelector, Selector, parse_selector
from podnet.api.workloads import Deployment

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"

SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  creationTimestamp: 2024-05-01T10:00:00Z
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: http
  someFutureField: {keep: me}
"""


def test_round_trip_keeps_unmodelled_fields() -> None:
    (item,) = parse_text(SERVICE_YAML, "svc.yaml").objects
    out = item.obj.to_dict()
    assert out["spec"]["someFutureField"] == {"keep": "me"}
    assert out["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z"  # stays a string
    assert decode_object(out).to_dict() == out


def test_objects_are_immutable() -> None:
    (item,) = parse_text(SERVICE_YAML, "svc.yaml").objects
    svc = item.obj
    assert isinstance(svc, Service)
    with pytest.raises(Exception):
        svc.spec.ports = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        svc.metadata.labels["x"] = "y"  # type: ignore[index]


def test_type_mismatch_is_reported_like_the_api_server() -> None:
    text = SERVICE_YAML.replace("port: 80", "port: eighty")
    result = parse_text(text, "svc.yaml")
    assert not result.objects
    assert result.errors == [
        'error: svc.yaml (document 1): Service in version "v1" cannot be handled as a Service: '
        "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32"
    ]


def test_invalid_yaml_names_file_line_and_column() -> None:
    result = parse_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n", "bad.yaml")
    assert result.errors == [
        "error: error parsing bad.yaml: error converting YAML to JSON: yaml: line 5, column 1: "
        "did not find expected ',' or ']'"
    ]


def test_invalid_json_names_line_and_column() -> None:
    result = parse_text('{"apiVersion": "v1",\n "kind": }', "bad.json")
    assert result.errors == [
        "error: error parsing bad.json: invalid JSON: line 2, column 10: Expecting value"
    ]


def test_missing_api_version_and_kind() -> None:
    result = parse_text("metadata: {name: x}\n", "x.yaml")
    assert result.errors == ["error: x.yaml (document 1): error validating data: [apiVersion not set, kind not set]"]


def test_list_documents_are_unpacked() -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}},
        ],
    }
    result = parse_text(json.dumps(doc), "list.json")
    assert [o.obj.kind for o in result.objects] == ["Namespace", "ConfigMap"]


def test_unknown_kinds_are_kept_opaque() -> None:
    text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n"
    (item,) = parse_text(text, "rbac.yaml").objects
    assert isinstance(item.obj, OpaqueObject)
    assert item.obj.kind == "ClusterRole" and not item.obj.namespaced
    assert item.obj.to_dict()["rules"] == []


def test_empty_documents_are_skipped_and_numbering_follows_the_stream() -> None:
    text = "---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
    (item,) = parse_text(text, "x.yaml").objects
    assert item.source.line == 3


def test_example_loads_without_errors() -> None:
    result = read_paths([str(EXAMPLE)])
    assert result.errors == []
    kinds = {o.obj.kind for o in result.objects}
    assert {"Namespace", "Deployment", "StatefulSet", "Service", "Ingress", "NetworkPolicy", "Secret"} <= kinds


def test_missing_path_is_an_error() -> None:
    assert read_paths(["/nonexistent/x.yaml"]).errors == ['error: the path "/nonexistent/x.yaml" does not exist']


# ---------------------------------------------------------------------------- defaulting


def _one(text: str) -> object:
    (item,) = parse_text(text, "x.yaml").objects
    return apply_defaults(item.obj)


def test_service_defaults() -> None:
    svc = _one(SERVICE_YAML.replace("  namespace: shop\n", ""))
    assert isinstance(svc, Service)
    assert svc.metadata.namespace == "default"
    assert svc.spec.type == "ClusterIP"
    assert svc.spec.session_affinity == "None"
    assert svc.spec.internal_traffic_policy == "Cluster"
    assert svc.spec.external_traffic_policy == ""  # only NodePort and LoadBalancer get one
    (port,) = svc.spec.ports
    assert port.protocol == "TCP" and port.target_port == "http"


def test_service_target_port_defaults_to_port_and_lb_defaults() -> None:
    svc = _one(
        "apiVersion: v1\nkind: Service\nmetadata: {name: lb}\nspec:\n  type: LoadBalancer\n"
        "  sessionAffinity: ClientIP\n  ports: [{port: 443}]\n"
    )
    assert isinstance(svc, Service)
    assert svc.spec.ports[0].target_port == 443
    assert svc.spec.external_traffic_policy == "Cluster"
    assert svc.spec.allocate_load_balancer_node_ports is True
    cfg = svc.spec.session_affinity_config
    assert cfg is not None and cfg.client_ip is not None and cfg.client_ip.timeout_seconds == 10800


def test_pod_defaults() -> None:
    pod = _one(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
        "    ports: [{containerPort: 80}]\n    readinessProbe: {httpGet: {port: 80}}\n"
    )
    assert isinstance(pod, Pod)
    assert pod.spec.dns_policy == "ClusterFirst"
    assert pod.spec.restart_policy == "Always"
    c = pod.spec.containers[0]
    assert c.ports[0].protocol == "TCP"
    probe = c.readiness_probe
    assert probe is not None and probe.http_get is not None
    assert (probe.period_seconds, probe.timeout_seconds, probe.failure_threshold) == (10, 1, 3)
    assert probe.http_get.path == "/" and probe.http_get.scheme == "HTTP"


def test_namespace_gets_its_name_label() -> None:
    ns = _one("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    assert ns.metadata.labels[NAMESPACE_NAME_LABEL] == "shop"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("podSelector: {}", ("Ingress",)),
        ("podSelector: {}\n  egress: [{}]", ("Ingress", "Egress")),
        ("podSelector: {}\n  policyTypes: [Egress]", ("Egress",)),
    ],
)
def test_network_policy_policy_types_defaulting(spec: str, expected: tuple[str, ...]) -> None:
    np = _one(f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p}}\nspec:\n  {spec}\n")
    assert isinstance(np, NetworkPolicy)
    assert np.spec.policy_types == expected


def test_deployment_defaults_replicas() -> None:
    d = _one(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n"
        "  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c}]}\n"
    )
    assert isinstance(d, Deployment)
    assert d.spec.replicas == 1
    assert d.spec.template.spec.dns_policy == "ClusterFirst"


# ---------------------------------------------------------------------------- selectors


def test_label_selector_semantics() -> None:
    sel = LabelSelector.from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
            ],
        }
    ).compile()
    assert sel.matches({"app": "web", "tier": "a"})
    assert not sel.matches({"app": "web", "tier": "c"})
    assert not sel.matches({"app": "web", "tier": "a", "legacy": "1"})
    assert not sel.matches({"app": "web", "tier": "b", "env": "prod"})
    assert Selector.everything().matches({})


def test_kubectl_selector_syntax() -> None:
    sel = parse_selector("app=web,tier!=db,env in (a,b),!legacy,owner")
    labels = {"app": "web", "tier": "fe", "env": "a", "owner": "x"}
    assert sel.matches(labels)
    assert not sel.matches({**labels, "legacy": "y"})
    assert not sel.matches({**labels, "env": "c"})
    assert not sel.matches({k: v for k, v in labels.items() if k != "owner"})
    assert parse_selector("app==web").matches({"app": "web"})
    with pytest.raises(ValueError):
        parse_selector("app in (a")


def test_freeze_thaw() -> None:
    data = {"a": [1, {"b": 2}]}
    frozen = freeze(data)
    assert isinstance(frozen, FrozenDict) and frozen["a"][1]["b"] == 2
    assert thaw(frozen) == data
    assert hash(frozen) == hash(freeze(data))
