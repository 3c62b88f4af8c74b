"""System objects of a fresh kubeadm/kind cluster.

Expectations come from upstream: kubeadm's CoreDNS addon manifests and Corefile template
(cmd/kubeadm/app/phases/addons/dns), the API server's ``kubernetes`` Service and its endpoint
reconciler, and ingress-nginx's cloud deploy manifest.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from podnet.api.core import ConfigMap, Namespace, Node, Service
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import Resource
from podnet.api.networking import IngressClass
from podnet.api.workloads import Deployment
from podnet.cluster.config import DEFAULT, Addons, ClusterConfig
from podnet.cluster.system import corefile, system_objects


def node(name: str, ip: str, *, control_plane: bool = False, **labels: str) -> Node:
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        **labels,
    }
    if control_plane:
        all_labels["node-role.kubernetes.io/control-plane"] = ""
    return Node.from_dict(
        {
            "metadata": {"name": name, "labels": all_labels},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
        }
    )


KIND_NODES = (
    node("kind-control-plane", "172.18.0.2", control_plane=True),
    node("kind-worker", "172.18.0.3"),
    node("kind-worker2", "172.18.0.4"),
)


def find(objs: list[Resource], kind: str, namespace: str, name: str) -> Any:
    for o in objs:
        if o.kind == kind and o.metadata.namespace == namespace and o.metadata.name == name:
            return o
    raise AssertionError(f"{kind} {namespace}/{name} not among system objects")


@pytest.fixture(scope="module")
def objs() -> list[Resource]:
    return system_objects(DEFAULT, KIND_NODES)


def test_kubeadm_namespaces(objs: list[Resource]) -> None:
    names = {o.metadata.name for o in objs if isinstance(o, Namespace)}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "ingress-nginx"} == names
    ks = find(objs, "Namespace", "", "kube-system")
    assert ks.metadata.labels["kubernetes.io/metadata.name"] == "kube-system"
    assert ks.status.phase == "Active"


def test_kubernetes_service(objs: list[Resource]) -> None:
    svc: Service = find(objs, "Service", "default", "kubernetes")
    assert svc.spec.type == "ClusterIP"
    assert svc.spec.cluster_ip == "10.96.0.1"
    assert svc.spec.cluster_ips == ("10.96.0.1",)
    assert svc.spec.ip_family_policy == "SingleStack"
    assert svc.spec.ip_families == ("IPv4",)
    assert not svc.spec.selector
    assert dict(svc.metadata.labels) == {"component": "apiserver", "provider": "kubernetes"}
    (port,) = svc.spec.ports
    assert (port.name, port.port, port.protocol, port.target_port) == ("https", 443, "TCP", 6443)
    assert svc.spec.session_affinity == "None"


def test_kubernetes_endpointslice_is_the_apiservers(objs: list[Resource]) -> None:
    es: EndpointSlice = find(objs, "EndpointSlice", "default", "kubernetes")
    # Written by the API server's endpoint reconciler: only the service-name label, no owner.
    assert dict(es.metadata.labels) == {"kubernetes.io/service-name": "kubernetes"}
    assert es.metadata.owner_references == ()
    assert es.address_type == "IPv4"
    assert [e.addresses for e in es.endpoints] == [("172.18.0.2",)]
    assert es.endpoints[0].conditions.ready is True
    (port,) = es.ports
    assert (port.name, port.port, port.protocol) == ("https", 6443, "TCP")


def test_kubernetes_endpoints_on_first_node_without_control_plane() -> None:
    nodes = (node("a", "10.0.0.5"), node("b", "10.0.0.6"))
    es: EndpointSlice = find(system_objects(DEFAULT, nodes), "EndpointSlice", "default", "kubernetes")
    assert [e.addresses for e in es.endpoints] == [("10.0.0.5",)]


def test_kube_dns_service(objs: list[Resource]) -> None:
    svc: Service = find(objs, "Service", "kube-system", "kube-dns")
    assert svc.spec.cluster_ip == "10.96.0.10"
    assert dict(svc.spec.selector or {}) == {"k8s-app": "kube-dns"}
    assert dict(svc.metadata.labels) == {
        "k8s-app": "kube-dns",
        "kubernetes.io/cluster-service": "true",
        "kubernetes.io/name": "CoreDNS",
    }
    assert dict(svc.metadata.annotations) == {
        "prometheus.io/port": "9153",
        "prometheus.io/scrape": "true",
    }
    ports = [(p.name, p.port, p.protocol, p.target_port) for p in svc.spec.ports]
    assert ports == [
        ("dns", 53, "UDP", 53),
        ("dns-tcp", 53, "TCP", 53),
        ("metrics", 9153, "TCP", 9153),
    ]
    assert svc.spec.type == "ClusterIP"


def test_kube_dns_is_the_tenth_address_of_the_service_cidr() -> None:
    cfg = replace(DEFAULT, service_subnets=("10.100.0.0/16",))
    objs = system_objects(cfg, KIND_NODES)
    assert find(objs, "Service", "kube-system", "kube-dns").spec.cluster_ip == "10.100.0.10"
    assert find(objs, "Service", "default", "kubernetes").spec.cluster_ip == "10.100.0.1"


def test_ipv6_service_cidr() -> None:
    cfg = replace(DEFAULT, service_subnets=("fd00:10:96::/112",))
    objs = system_objects(cfg, (node("cp", "fc00:f853:ccd:e793::2", control_plane=True),))
    k = find(objs, "Service", "default", "kubernetes")
    assert k.spec.cluster_ip == "fd00:10:96::1"
    assert k.spec.ip_families == ("IPv6",)
    assert find(objs, "Service", "kube-system", "kube-dns").spec.cluster_ip == "fd00:10:96::a"
    es = find(objs, "EndpointSlice", "default", "kubernetes")
    assert es.address_type == "IPv6"
    assert es.endpoints[0].addresses == ("fc00:f853:ccd:e793::2",)


KUBEADM_COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""


def test_default_corefile(objs: list[Resource]) -> None:
    cm: ConfigMap = find(objs, "ConfigMap", "kube-system", "coredns")
    assert dict(cm.data) == {"Corefile": KUBEADM_COREFILE}


def test_corefile_cluster_domain_substituted() -> None:
    text = corefile("example.internal")
    assert "kubernetes example.internal in-addr.arpa ip6.arpa {" in text
    assert "disable success example.internal" in text
    assert "cluster.local" not in text
    cfg = replace(DEFAULT, cluster_domain="example.internal")
    cm = find(system_objects(cfg, KIND_NODES), "ConfigMap", "kube-system", "coredns")
    assert cm.data["Corefile"] == text


def test_coredns_deployment(objs: list[Resource]) -> None:
    d: Deployment = find(objs, "Deployment", "kube-system", "coredns")
    assert d.spec.replicas == 2
    assert d.spec.selector is not None
    assert dict(d.spec.selector.match_labels) == {"k8s-app": "kube-dns"}
    tpl = d.spec.template
    assert dict(tpl.metadata.labels) == {"k8s-app": "kube-dns"}
    spec = tpl.spec
    assert spec.dns_policy == "Default"
    assert dict(spec.node_selector) == {"kubernetes.io/os": "linux"}
    tolerations = {(t.key, t.operator, t.effect) for t in spec.tolerations}
    assert ("CriticalAddonsOnly", "Exists", "") in tolerations
    assert ("node-role.kubernetes.io/control-plane", "", "NoSchedule") in tolerations
    raw = d.to_dict()["spec"]["template"]["spec"]
    assert raw["priorityClassName"] == "system-cluster-critical"
    (c,) = spec.containers
    ports = {(p.name, p.container_port, p.protocol) for p in c.ports}
    assert {("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")} <= ports
    named = {p.name: p.container_port for p in c.ports}
    assert c.readiness_probe is not None and c.readiness_probe.http_get is not None
    assert c.readiness_probe.http_get.path == "/ready"
    assert named[str(c.readiness_probe.http_get.port)] == 8181
    assert c.liveness_probe is not None and c.liveness_probe.http_get is not None
    assert c.liveness_probe.http_get.path == "/health"
    assert named[str(c.liveness_probe.http_get.port)] == 8080
    # API defaulting of the probe the manifest leaves short
    assert c.readiness_probe.period_seconds == 10
    assert c.readiness_probe.failure_threshold == 3


def _required_hostnames(d: Deployment) -> list[str]:
    aff: Any = d.spec.template.spec.affinity or {}
    terms = aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    (term,) = terms
    (expr,) = term["matchExpressions"]
    assert (expr["key"], expr["operator"]) == ("kubernetes.io/hostname", "In")
    return list(expr["values"])


def test_coredns_lands_on_control_plane(objs: list[Resource]) -> None:
    d = find(objs, "Deployment", "kube-system", "coredns")
    assert _required_hostnames(d) == ["kind-control-plane"]


def test_coredns_lands_on_first_node_without_control_plane() -> None:
    nodes = (node("n1", "10.0.0.1"), node("n2", "10.0.0.2"))
    d = find(system_objects(DEFAULT, nodes), "Deployment", "kube-system", "coredns")
    assert _required_hostnames(d) == ["n1"]


def test_ingress_nginx(objs: list[Resource]) -> None:
    selector = {
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/instance": "ingress-nginx",
        "app.kubernetes.io/name": "ingress-nginx",
    }
    d: Deployment = find(objs, "Deployment", "ingress-nginx", "ingress-nginx-controller")
    assert d.spec.replicas == 1
    labels = d.spec.template.metadata.labels
    assert labels["app.kubernetes.io/name"] == "ingress-nginx"
    assert labels["app.kubernetes.io/component"] == "controller"
    (c,) = d.spec.template.spec.containers
    assert {(p.name, p.container_port) for p in c.ports} == {
        ("http", 80),
        ("https", 443),
        ("webhook", 8443),
    }
    svc: Service = find(objs, "Service", "ingress-nginx", "ingress-nginx-controller")
    assert svc.spec.type == "LoadBalancer"
    assert svc.spec.external_traffic_policy == "Local"
    assert svc.spec.allocate_load_balancer_node_ports is True
    assert dict(svc.spec.selector or {}) == selector
    assert [(p.name, p.port, p.target_port) for p in svc.spec.ports] == [
        ("http", 80, "http"),
        ("https", 443, "https"),
    ]
    adm: Service = find(objs, "Service", "ingress-nginx", "ingress-nginx-controller-admission")
    assert adm.spec.type == "ClusterIP"
    assert [(p.name, p.port, p.target_port) for p in adm.spec.ports] == [
        ("https-webhook", 443, "webhook")
    ]
    ic: IngressClass = find(objs, "IngressClass", "", "nginx")
    assert ic.spec.controller == "k8s.io/ingress-nginx"
    assert ic.metadata.annotations["ingressclass.kubernetes.io/is-default-class"] == "true"
    assert ic.is_default


def test_addons_off() -> None:
    cfg = replace(DEFAULT, addons=Addons(ingress_controller=False, dns=True))
    objs = system_objects(cfg, KIND_NODES)
    assert not [o for o in objs if o.metadata.namespace == "ingress-nginx"]
    assert not [o for o in objs if isinstance(o, IngressClass)]
    assert "ingress-nginx" not in {o.metadata.name for o in objs if isinstance(o, Namespace)}
    cfg = replace(DEFAULT, addons=Addons(ingress_controller=False, dns=False))
    objs = system_objects(cfg, KIND_NODES)
    assert not [o for o in objs if o.metadata.name in ("coredns", "kube-dns")]
    # the API server's own Service is not an addon
    find(objs, "Service", "default", "kubernetes")


def test_every_object_defaulted_and_deterministic(objs: list[Resource]) -> None:
    again = system_objects(DEFAULT, KIND_NODES)
    assert [o.to_dict() for o in objs] == [o.to_dict() for o in again]
    for o in objs:
        assert o.metadata.uid, o.ref
        if o.namespaced:
            assert o.metadata.namespace, o.ref
    for o in objs:
        if isinstance(o, Service):
            assert o.spec.session_affinity == "None"
            assert all(p.protocol for p in o.spec.ports)
            assert all(p.target_port is not None for p in o.spec.ports)
    refs = [o.ref for o in objs]
    assert len(refs) == len(set(refs))


def test_no_nodes_still_builds() -> None:
    objs = system_objects(ClusterConfig(), ())
    es = find(objs, "EndpointSlice", "default", "kubernetes")
    assert es.endpoints == ()
