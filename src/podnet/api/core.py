"""The core/v1 kinds podnet gives meaning to: Namespace, Node, Pod, Service, Secret, ConfigMap.

Only the fields that bear on networking are typed; the rest of each object rides along in the
structs' ``extra`` and is written back unchanged.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field
from typing import Any, ClassVar

from podnet.api.codec import IntOrString, Struct, go_type, json_name
from podnet.api.frozen import EMPTY, FrozenDict
from podnet.api.meta import ObjectMeta, Resource
from podnet.api.selectors import LabelSelector

# ---------------------------------------------------------------------------- Namespace


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespaceStatus(Struct):
    phase: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespace(Resource):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Namespace"
    NAMESPACED: ClassVar[bool] = False

    spec: FrozenDict[str, Any] = EMPTY
    status: NamespaceStatus | None = None


# ---------------------------------------------------------------------------- Node


@dataclass(frozen=True, slots=True, kw_only=True)
class Taint(Struct):
    key: str = ""
    value: str = ""
    effect: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec(Struct):
    pod_cidr: str = field(default="", metadata=json_name("podCIDR"))
    pod_cidrs: tuple[str, ...] = field(default=(), metadata=json_name("podCIDRs"))
    unschedulable: bool = False
    taints: tuple[Taint, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeAddress(Struct):
    type: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition(Struct):
    """A status condition (Pod, Node, …): only type/status/reason/message matter here."""

    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatus(Struct):
    addresses: tuple[NodeAddress, ...] = ()
    conditions: tuple[Condition, ...] = ()
    capacity: FrozenDict[str, Any] = EMPTY
    allocatable: FrozenDict[str, Any] = EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class Node(Resource):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Node"
    NAMESPACED: ClassVar[bool] = False

    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()

    @property
    def internal_ips(self) -> tuple[str, ...]:
        return tuple(a.address for a in self.status.addresses if a.type == "InternalIP")

    @property
    def pod_cidrs(self) -> tuple[str, ...]:
        if self.spec.pod_cidrs:
            return self.spec.pod_cidrs
        return (self.spec.pod_cidr,) if self.spec.pod_cidr else ()

    @property
    def ready(self) -> bool:
        for c in self.status.conditions:
            if c.type == "Ready":
                return c.status == "True"
        return True

    @property
    def is_control_plane(self) -> bool:
        return "node-role.kubernetes.io/control-plane" in self.labels


# ---------------------------------------------------------------------------- Pod


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPort(Struct):
    name: str = ""
    container_port: int = 0
    protocol: str = ""
    host_port: int = 0
    host_ip: str = field(default="", metadata=json_name("hostIP"))


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPGetAction(Struct):
    path: str = ""
    port: IntOrString = 0
    host: str = ""
    scheme: str = ""
    http_headers: tuple[FrozenDict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TCPSocketAction(Struct):
    port: IntOrString = 0
    host: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecAction(Struct):
    command: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GRPCAction(Struct):
    port: int = 0
    service: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe(Struct):
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    exec: ExecAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int = 0
    timeout_seconds: int = 0
    period_seconds: int = 0
    success_threshold: int = 0
    failure_threshold: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Container(Struct):
    name: str = ""
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    restart_policy: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PodDNSConfigOption(Struct):
    name: str = ""
    value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PodDNSConfig(Struct):
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[PodDNSConfigOption, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Toleration(Struct):
    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostAlias(Struct):
    ip: str = ""
    hostnames: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSpec(Struct):
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    node_name: str = ""
    node_selector: FrozenDict[str, str] = EMPTY
    host_network: bool = False
    dns_policy: str = ""
    dns_config: PodDNSConfig | None = None
    hostname: str = ""
    subdomain: str = ""
    set_hostname_as_fqdn: bool | None = field(default=None, metadata=json_name("setHostnameAsFQDN"))
    host_aliases: tuple[HostAlias, ...] = ()
    restart_policy: str = ""
    tolerations: tuple[Toleration, ...] = ()
    affinity: FrozenDict[str, Any] | None = None
    scheduler_name: str = ""
    enable_service_links: bool | None = None

    def all_ports(self) -> tuple[ContainerPort, ...]:
        """Ports of the containers and of restartable (sidecar) init containers."""
        ports: list[ContainerPort] = []
        for c in self.containers:
            ports.extend(c.ports)
        for c in self.init_containers:
            if c.restart_policy == "Always":
                ports.extend(c.ports)
        return tuple(ports)

    def port_named(self, name: str, protocol: str) -> int | None:
        """The number of the first port named ``name`` with ``protocol`` (absent = TCP), in
        :meth:`all_ports` order — the EndpointSlice controller's ``findPort`` for a named
        targetPort, and what ``trace POD:NAME`` means. (kubelet's probes resolve names their
        own way: :func:`podnet.cluster.probes.resolve_port`.)"""
        for cp in self.all_ports():
            if cp.name == name and (cp.protocol or "TCP") == protocol:
                return cp.container_port
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class PodIP(Struct):
    ip: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PodStatus(Struct):
    phase: str = ""
    conditions: tuple[Condition, ...] = ()
    host_ip: str = field(default="", metadata=json_name("hostIP"))
    host_ips: tuple[PodIP, ...] = field(default=(), metadata=json_name("hostIPs"))
    pod_ip: str = field(default="", metadata=json_name("podIP"))
    pod_ips: tuple[PodIP, ...] = field(default=(), metadata=json_name("podIPs"))
    reason: str = ""
    message: str = ""
    start_time: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PodTemplateSpec(Struct):
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod(Resource):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Pod"

    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()

    @property
    def ips(self) -> tuple[str, ...]:
        if self.status.pod_ips:
            return tuple(p.ip for p in self.status.pod_ips)
        return (self.status.pod_ip,) if self.status.pod_ip else ()

    def condition(self, type_: str) -> Condition | None:
        for c in self.status.conditions:
            if c.type == type_:
                return c
        return None

    @property
    def ready(self) -> bool:
        c = self.condition("Ready")
        return c is not None and c.status == "True"

    @property
    def terminating(self) -> bool:
        return self.metadata.deletion_timestamp is not None

    @property
    def finished(self) -> bool:
        return self.status.phase in ("Succeeded", "Failed")


# ---------------------------------------------------------------------------- Service


def ip_family(ip: str) -> str:
    """The ``IPFamily`` of address ``ip`` as ``spec.ipFamilies`` and an EndpointSlice's
    ``addressType`` spell it: ``IPv4`` or ``IPv6``. ValueError when ``ip`` is no address."""
    return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePort(Struct):
    name: str = ""
    protocol: str = ""
    app_protocol: str | None = None
    port: int = 0
    target_port: IntOrString | None = field(default=None, metadata=go_type("intstr.IntOrString"))
    node_port: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIPConfig(Struct):
    timeout_seconds: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionAffinityConfig(Struct):
    client_ip: ClientIPConfig | None = field(default=None, metadata=json_name("clientIP"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSpec(Struct):
    type: str = ""
    selector: FrozenDict[str, str] | None = None
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str = field(default="", metadata=json_name("clusterIP"))
    cluster_ips: tuple[str, ...] = field(default=(), metadata=json_name("clusterIPs"))
    ip_families: tuple[str, ...] = ()
    ip_family_policy: str | None = None
    external_ips: tuple[str, ...] = field(default=(), metadata=json_name("externalIPs"))
    external_name: str = ""
    session_affinity: str = ""
    session_affinity_config: SessionAffinityConfig | None = None
    external_traffic_policy: str = ""
    internal_traffic_policy: str | None = None
    health_check_node_port: int = 0
    load_balancer_ip: str = field(default="", metadata=json_name("loadBalancerIP"))
    load_balancer_source_ranges: tuple[str, ...] = ()
    load_balancer_class: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    publish_not_ready_addresses: bool = False
    traffic_distribution: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PortStatus(Struct):
    port: int = 0
    protocol: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadBalancerIngress(Struct):
    ip: str = ""
    hostname: str = ""
    ip_mode: str | None = None
    ports: tuple[PortStatus, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadBalancerStatus(Struct):
    ingress: tuple[LoadBalancerIngress, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceStatus(Struct):
    load_balancer: LoadBalancerStatus = field(
        default=LoadBalancerStatus(), metadata=json_name("loadBalancer", always=True)
    )
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Service(Resource):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Service"

    spec: ServiceSpec = ServiceSpec()
    status: ServiceStatus = ServiceStatus()

    @property
    def is_headless(self) -> bool:
        return self.spec.cluster_ip == "None"

    @property
    def cluster_ips(self) -> tuple[str, ...]:
        if self.spec.cluster_ips:
            return tuple(ip for ip in self.spec.cluster_ips if ip != "None")
        ip = self.spec.cluster_ip
        return (ip,) if ip and ip != "None" else ()


# ---------------------------------------------------------------------------- Secret, ConfigMap


@dataclass(frozen=True, slots=True, kw_only=True)
class Secret(Resource):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Secret"

    type: str = ""
    data: FrozenDict[str, str] = EMPTY
    string_data: FrozenDict[str, str] = EMPTY
    immutable: bool | None = None

    def value(self, key: str) -> bytes | None:
        """The decoded value of ``key`` (``stringData`` wins, as the API server merges it)."""
        if key in self.string_data:
            return self.string_data[key].encode()
        raw = self.data.get(key)
        if raw is None:
            return None
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigMap(Resource):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "ConfigMap"

    data: FrozenDict[str, str] = EMPTY
    binary_data: FrozenDict[str, str] = EMPTY
    immutable: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicationControllerSpec(Struct):
    replicas: int | None = None
    selector: FrozenDict[str, str] = EMPTY
    template: PodTemplateSpec | None = None
    min_ready_seconds: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicationController(Resource):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "ReplicationController"

    spec: ReplicationControllerSpec = ReplicationControllerSpec()
    status: FrozenDict[str, Any] = EMPTY


__all__ = [
    "ClientIPConfig",
    "Condition",
    "ConfigMap",
    "Container",
    "ContainerPort",
    "HTTPGetAction",
    "LabelSelector",
    "LoadBalancerIngress",
    "LoadBalancerStatus",
    "Namespace",
    "Node",
    "NodeAddress",
    "NodeSpec",
    "NodeStatus",
    "Pod",
    "PodDNSConfig",
    "PodIP",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "Probe",
    "ReplicationController",
    "Secret",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "ServiceStatus",
    "TCPSocketAction",
    "ip_family",
]
