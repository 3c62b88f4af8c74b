"""The values the route table works with: a request, the backends it may reach, the verdict.

A :class:`Request` is what the controller knows of an incoming request before it answers: scheme,
Host, SNI, target, client address, the few headers routing reads, and the ports it listens on. A
:class:`Verdict` is its whole answer — which Ingress, rule, path, Service and port; which
certificate; which redirect, rewrite or error — plus what the proxy needs to carry it out (the
endpoints, timeouts, protocol). ``Verdict.to_json`` is the documented ``podnet ingress route -o json``
format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podnet.ingress.annotations import Canary, IngressAnnotations

#: The upstream ingress-nginx answers with when nothing else does (404 from its default server).
DEFAULT_UPSTREAM = "upstream-default-backend"
#: The catch-all server: rules without host, and every Host no rule names.
DEFAULT_SERVER = "_"
#: ``tls_secret`` of a verdict served with the controller's self-signed certificate.
CONTROLLER_DEFAULT_CERT = "controller-default"

EMPTY_HEADERS: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the controller sees it (headers: lower-case names)."""

    scheme: str = "http"
    #: the Host header as sent (may carry a port), "" when absent
    host: str = ""
    #: the request target as sent (path and query, or an absolute URL)
    target: str = "/"
    method: str = "GET"
    #: the TLS server name the client sent, None for plain HTTP or no SNI
    sni: str | None = None
    client_ip: str = "127.0.0.1"
    headers: Mapping[str, str] = field(default_factory=lambda: EMPTY_HEADERS)
    #: the port of the listener the request came in on (None: 80 or 443 by scheme)
    server_port: int | None = None
    #: where the controller serves HTTPS, for HTTP→HTTPS redirects
    https_port: int = 443

    @property
    def port(self) -> int:
        if self.server_port is not None:
            return self.server_port
        return 443 if self.scheme == "https" else 80


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One ready backend address of a Service port (``port`` is the targetPort)."""

    address: str
    port: int
    #: "ns/name" of the pod behind it, None when the slice names none
    pod: str | None = None

    @property
    def hostport(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(slots=True)
class Upstream:
    """An ingress-nginx upstream: one Service port of one namespace and its ready endpoints."""

    name: str
    namespace: str = ""
    service: str = ""
    #: the port as the Ingress names it ("80" or "http")
    port_ref: str = ""
    #: the Service port number, once resolved
    port: int | None = None
    endpoints: tuple[Endpoint, ...] = ()
    #: why there are no endpoints ("" when there are)
    problem: str = ""
    #: ExternalName Services: the name requests go to
    external_name: str = ""
    #: a canary upstream: its traffic-shaping policy and the Ingress that declared it
    canary: Canary | None = None
    canary_ingress: str = ""
    #: canary upstreams serve no location of their own (ingress-nginx's NoServer)
    no_server: bool = False
    #: names of canary upstreams merged into this one (the first one is used)
    alternatives: list[str] = field(default_factory=list)

    @property
    def service_ref(self) -> str | None:
        return f"{self.namespace}/{self.service}" if self.service else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the controller does with a request, and why."""

    status: int
    reason: str
    ingress: str | None = None
    #: the rule's host ("*.foo.com"), None for rules without host and the catch-all
    host: str | None = None
    path: str | None = None
    path_type: str | None = None
    service: str | None = None
    port: int | None = None
    resource: dict[str, Any] | None = None
    tls_secret: str | None = None
    #: the Location header of a redirect
    location: str | None = None
    #: the request target sent to the backend
    upstream_path: str | None = None

    # --- for the proxy, not part of the JSON
    upstream: Upstream | None = None
    #: the canary upstream's name when the request goes to the canary ("" otherwise)
    alternative: str = ""
    settings: IngressAnnotations | None = None
    #: the server (host) that answered: "_" for the catch-all
    server: str = DEFAULT_SERVER
    #: the Host value sent upstream (upstream-vhost, else the client's Host)
    upstream_host: str | None = None

    @property
    def proxied(self) -> bool:
        return self.status == 200 and self.upstream is not None

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self.upstream.endpoints if self.upstream is not None else ()

    @property
    def upstream_name(self) -> str:
        """``$proxy_upstream_name`` of the access log."""
        if self.upstream is not None:
            return self.upstream.name
        return DEFAULT_UPSTREAM if self.status == 404 else ""

    def to_json(self) -> dict[str, Any]:
        """The documented ``podnet ingress route -o json`` object."""
        return {
            "status": self.status,
            "ingress": self.ingress,
            "host": self.host,
            "path": self.path,
            "pathType": self.path_type,
            "service": self.service,
            "port": self.port,
            "resource": self.resource,
            "tls_secret": self.tls_secret,
            "location": self.location,
            "upstream_path": self.upstream_path,
            "reason": self.reason,
        }
