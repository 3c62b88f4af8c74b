"""discovery.k8s.io/v1 EndpointSlice: the backends of a Service as kube-proxy and CoreDNS read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from podnet.api.codec import Struct
from podnet.api.frozen import EMPTY, FrozenDict
from podnet.api.meta import Resource

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY_CONTROLLER = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointConditions(Struct):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectReference(Struct):
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ForZone(Struct):
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointHints(Struct):
    for_zones: tuple[ForZone, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint(Struct):
    addresses: tuple[str, ...] = ()
    conditions: EndpointConditions = field(default=EndpointConditions())
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None

    @property
    def ready(self) -> bool:
        # Per the API: a nil ready condition is interpreted as "true".
        return self.conditions.ready is not False

    @property
    def serving(self) -> bool:
        if self.conditions.serving is None:
            return self.ready
        return self.conditions.serving

    @property
    def terminating(self) -> bool:
        return self.conditions.terminating is True


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointPort(Struct):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointSlice(Resource):
    API_VERSION: ClassVar[str] = "discovery.k8s.io/v1"
    KIND: ClassVar[str] = "EndpointSlice"

    address_type: str = ""
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()

    @property
    def service_name(self) -> str:
        return self.labels.get(SERVICE_NAME_LABEL, "")


_ = (EMPTY, FrozenDict)
