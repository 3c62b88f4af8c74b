"""networking.k8s.io/v1: Ingress, IngressClass and NetworkPolicy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from podnet.api.codec import IntOrString, Struct, json_name
from podnet.api.core import LoadBalancerIngress
from podnet.api.frozen import EMPTY, FrozenDict
from podnet.api.meta import Resource
from podnet.api.selectors import LabelSelector

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

# ---------------------------------------------------------------------------- Ingress


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceBackendPort(Struct):
    name: str = ""
    number: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressServiceBackend(Struct):
    name: str = ""
    port: ServiceBackendPort | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedLocalObjectReference(Struct):
    api_group: str | None = None
    kind: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressBackend(Struct):
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPIngressPath(Struct):
    path: str = ""
    path_type: str | None = None
    backend: IngressBackend = IngressBackend()


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPIngressRuleValue(Struct):
    paths: tuple[HTTPIngressPath, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressRule(Struct):
    host: str = ""
    http: HTTPIngressRuleValue | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressTLS(Struct):
    hosts: tuple[str, ...] = ()
    secret_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressSpec(Struct):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: tuple[IngressTLS, ...] = ()
    rules: tuple[IngressRule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressLoadBalancerStatus(Struct):
    ingress: tuple[LoadBalancerIngress, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressStatus(Struct):
    load_balancer: IngressLoadBalancerStatus = field(
        default=IngressLoadBalancerStatus(), metadata=json_name("loadBalancer", always=True)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Ingress(Resource):
    API_VERSION: ClassVar[str] = "networking.k8s.io/v1"
    KIND: ClassVar[str] = "Ingress"

    spec: IngressSpec = IngressSpec()
    status: IngressStatus = IngressStatus()


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressClassSpec(Struct):
    controller: str = ""
    parameters: FrozenDict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressClass(Resource):
    API_VERSION: ClassVar[str] = "networking.k8s.io/v1"
    KIND: ClassVar[str] = "IngressClass"
    NAMESPACED: ClassVar[bool] = False

    spec: IngressClassSpec = IngressClassSpec()

    @property
    def is_default(self) -> bool:
        return self.annotations.get(DEFAULT_CLASS_ANNOTATION, "") == "true"


# ---------------------------------------------------------------------------- NetworkPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class IPBlock(Struct):
    cidr: str = ""
    except_: tuple[str, ...] = field(default=(), metadata=json_name("except"))


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicyPeer(Struct):
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicyPort(Struct):
    protocol: str | None = None
    port: IntOrString | None = None
    end_port: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicyIngressRule(Struct):
    ports: tuple[NetworkPolicyPort, ...] = ()
    from_: tuple[NetworkPolicyPeer, ...] = field(default=(), metadata=json_name("from"))


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicyEgressRule(Struct):
    ports: tuple[NetworkPolicyPort, ...] = ()
    to: tuple[NetworkPolicyPeer, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicySpec(Struct):
    pod_selector: LabelSelector = field(
        default=LabelSelector(), metadata=json_name("podSelector", always=True)
    )
    ingress: tuple[NetworkPolicyIngressRule, ...] = ()
    egress: tuple[NetworkPolicyEgressRule, ...] = ()
    policy_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicy(Resource):
    API_VERSION: ClassVar[str] = "networking.k8s.io/v1"
    KIND: ClassVar[str] = "NetworkPolicy"

    spec: NetworkPolicySpec = NetworkPolicySpec()


_ = EMPTY
