"""Ingress class defaulting (the DefaultIngressClass admission plugin) and ingress-nginx's
published status (``--publish-service``: the controller Service's LoadBalancer address)."""

from __future__ import annotations

from typing import Any

from podnet.api.core import Node, Service
from podnet.api.defaults import apply_defaults
from podnet.api.meta import Resource
from podnet.api.networking import Ingress, IngressClass
from podnet.cluster.config import DEFAULT
from podnet.cluster.ingress_status import default_class, publish_addresses, update
from podnet.cluster.services import allocate
from podnet.cluster.system import system_objects

CP = Node.from_dict(
    {
        "metadata": {"name": "cp", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]},
    }
)


def cluster() -> list[Resource]:
    """System objects with the Services allocated, as the pipeline has them before this step."""
    objs = system_objects(DEFAULT, (CP,))
    svcs = [o for o in objs if isinstance(o, Service)]
    allocated, errors = allocate(svcs, DEFAULT, (CP,), None, frozenset())
    assert errors == []
    by_ref = {s.ref: s for s in allocated}
    return [by_ref.get(o.ref, o) for o in objs]


def ingress(name: str, *, cls: str | None = None, annotations: dict[str, str] | None = None) -> Ingress:
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": f"{name}.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    }
    if cls is not None:
        spec["ingressClassName"] = cls
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if annotations:
        meta["annotations"] = annotations
    obj = apply_defaults(Ingress.from_dict({"metadata": meta, "spec": spec}))
    assert isinstance(obj, Ingress)
    return obj


def ingress_class(name: str, controller: str, *, default: bool = False, created: str | None = None) -> IngressClass:
    meta: dict[str, Any] = {"name": name}
    if default:
        meta["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    if created:
        meta["creationTimestamp"] = created
    return IngressClass.from_dict({"metadata": meta, "spec": {"controller": controller}})


def ips(ing: Ingress) -> list[str]:
    return [e.ip for e in ing.status.load_balancer.ingress]


def test_classless_ingress_defaulted_and_published() -> None:
    objs = cluster()
    (out,) = update([ingress("shop")], objs, DEFAULT)
    assert out.spec.ingress_class_name == "nginx"
    assert ips(out) == ["172.18.255.200"]
    # the Ingress status type has no ipMode; ingress-nginx publishes only the address
    assert out.to_dict()["status"] == {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}}


def test_explicit_nginx_class() -> None:
    (out,) = update([ingress("shop", cls="nginx")], cluster(), DEFAULT)
    assert ips(out) == ["172.18.255.200"]


def test_legacy_annotation_not_defaulted() -> None:
    objs = cluster()
    a, b = update(
        [
            ingress("a", annotations={"kubernetes.io/ingress.class": "nginx"}),
            ingress("b", annotations={"kubernetes.io/ingress.class": "traefik"}),
        ],
        objs,
        DEFAULT,
    )
    assert a.spec.ingress_class_name is None and b.spec.ingress_class_name is None
    assert ips(a) == ["172.18.255.200"]
    assert ips(b) == []


def test_other_controller_keeps_empty_status() -> None:
    objs = cluster() + [ingress_class("traefik", "traefik.io/ingress-controller")]
    (out,) = update([ingress("x", cls="traefik")], objs, DEFAULT)
    assert out.spec.ingress_class_name == "traefik"
    assert ips(out) == []
    (out,) = update([ingress("y", cls="missing")], objs, DEFAULT)
    assert ips(out) == []


def test_no_default_class_without_addon() -> None:
    objs = [o for o in cluster() if not isinstance(o, IngressClass) and o.metadata.namespace != "ingress-nginx"]
    (out,) = update([ingress("x")], objs, DEFAULT)
    assert out.spec.ingress_class_name is None
    assert ips(out) == []


def test_newest_default_class_wins() -> None:
    classes = [
        ingress_class("b-old", "x/a", default=True, created="2024-01-01T00:00:00Z"),
        ingress_class("a-new", "x/b", default=True, created="2024-06-01T00:00:00Z"),
        ingress_class("c-not", "x/c", created="2025-01-01T00:00:00Z"),
    ]
    chosen = default_class(classes)
    assert chosen is not None and chosen.metadata.name == "a-new"
    tie = [ingress_class("zeta", "x/a", default=True), ingress_class("alpha", "x/b", default=True)]
    chosen = default_class(tie)
    assert chosen is not None and chosen.metadata.name == "alpha"


def test_pending_load_balancer_publishes_nothing() -> None:
    objs = system_objects(DEFAULT, (CP,))  # Services not allocated: no LoadBalancer address yet
    (out,) = update([ingress("shop")], objs, DEFAULT)
    assert out.spec.ingress_class_name == "nginx"
    assert ips(out) == []


def test_publish_addresses_by_service_type() -> None:
    lb = Service.from_dict(
        {
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.5.5", "externalIPs": ["198.51.100.7"]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.201"}, {"hostname": "lb.example"}]}},
        }
    )
    assert [(a.ip, a.hostname) for a in publish_addresses(lb)] == [
        ("", "lb.example"),
        ("172.18.255.201", ""),
        ("198.51.100.7", ""),
    ]
    cip = Service.from_dict({"spec": {"type": "ClusterIP", "clusterIP": "10.96.5.5"}})
    assert [a.ip for a in publish_addresses(cip)] == ["10.96.5.5"]
    ext = Service.from_dict({"spec": {"type": "ExternalName", "externalName": "up.example"}})
    assert [a.hostname for a in publish_addresses(ext)] == ["up.example"]


def test_input_order_kept() -> None:
    objs = cluster()
    names = ["c", "a", "b"]
    out = update([ingress(n) for n in names], objs, DEFAULT)
    assert [i.metadata.name for i in out] == names
