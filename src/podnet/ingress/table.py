"""The Ingress route table: every Ingress of a cluster merged into servers and locations the way
ingress-nginx merges them, and a request answered from it.

Why: ``https://shop.example.com/api`` reaches a backend only through a chain of decisions —
which Ingresses the controller owns, which server (host) the request falls into, which location
(path) wins, whether a redirect, a rewrite, an allowlist or a canary applies, which certificate is
presented — and each link is a classic source of "why do I get a 404/503/the fake certificate".
This module makes the chain a pure function, so that ``podnet ingress route`` can explain it and
``podnet ingress serve`` (and the real data plane) can perform it.

Behaviour reproduced (re-implemented, not copied); sources cited per function:

* Kubernetes, "Ingress" concept page: the path-matching table (Exact; Prefix element-wise, trailing
  slashes ignored on both sides; longest match, then Exact over Prefix), host wildcards covering
  exactly one DNS label, rules without host matching every host.
* kubernetes-sigs/ingress-controller-conformance ``features/*.feature``: the same, plus the
  default backend and IngressClass scenarios.
* ingress-nginx ``internal/ingress/controller/controller.go`` (``createUpstreams``,
  ``createServers``, ``getBackendServers``, ``mergeAlternativeBackends``,
  ``extractTLSSecretName``), ``store.go`` (``sortIngressSlice``, ``GetIngressClass``),
  ``location.go`` (``updateServerLocations``), ``endpointslices.go``
  (``getEndpointsFromSlices``), ``template/template.go`` (``buildLocation``,
  ``enforceRegexModifier``, ``buildProxyPass``, ``buildServerName``), ``nginx.tmpl`` (app-root,
  allow/deny, ``return`` for redirects), ``rootfs/etc/nginx/lua`` (``lua_ingress.lua``
  ``redirect_to_https``; ``balancer.lua`` ``route_to_alternative_balancer``; ``certificate.lua``
  ``get_pem_cert_uid``), and ``docs/user-guide/ingress-path-matching.md``.

Where Kubernetes and ingress-nginx disagree, Kubernetes wins: a ``Prefix`` path ``/aaa/bbb/``
matches ``/aaa/bbb`` directly (the table's "ignores trailing slash"), where nginx would answer
with a 301 to ``/aaa/bbb/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from podnet.api.core import ConfigMap, Secret, Service
from podnet.api.defaults import default_protocol
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import Resource, creation_time
from podnet.api.networking import (
    DEFAULT_CLASS_ANNOTATION,
    LEGACY_CLASS_ANNOTATION,
    Ingress,
    IngressClass,
    IngressServiceBackend,
    TypedLocalObjectReference,
)
from podnet.ingress import annotations as ann_mod
from podnet.ingress.annotations import ControllerConfig, IngressAnnotations
from podnet.ingress.certs import TLSCert, load_secret
from podnet.ingress.model import (
    CONTROLLER_DEFAULT_CERT,
    DEFAULT_SERVER,
    DEFAULT_UPSTREAM,
    Endpoint,
    Request,
    Upstream,
    Verdict,
)
from podnet.ingress.uri import (
    BadRequest,
    Target,
    escape_path,
    normalize_host,
    parse_target,
    split_host_port,
)

#: The controller podnet emulates (its IngressClass ``spec.controller``) and legacy class name.
CONTROLLER = "k8s.io/ingress-nginx"
LEGACY_CLASS = "nginx"
#: Where ingress-nginx's ConfigMap lives (``--configmap``).
CONFIGMAP = ("ingress-nginx", "ingress-nginx-controller")


#: A random integer in [1, n] (Lua's ``math.random(n)``), for canary weights.
Roll = Callable[[int], int]


# ------------------------------------------------------------------------------------ pieces


@dataclass(slots=True)
class Location:
    """One ingress-nginx location: an Ingress path (or a server's default root) and its upstream."""

    path: str
    path_type: str
    upstream: str
    is_default: bool
    ingress: Ingress | None
    settings: IngressAnnotations
    #: the rule host as written ("" for rules without host)
    rule_host: str = ""
    #: a resource backend (ingress-nginx ignores these: the location never matches)
    resource: TypedLocalObjectReference | None = None


@dataclass(slots=True)
class _NginxLocation:
    """A location as nginx sees it: an exact string or a prefix string (a regex in regex mode)."""

    kind: str  # "exact" | "prefix"
    text: str
    loc: Location


@dataclass(slots=True)
class Server:
    """One server block: a host (``_`` for the catch-all) and its locations."""

    hostname: str
    locations: list[Location]
    #: the certificate: a Secret's, or None for the controller's default one
    cert: TLSCert | None = None
    #: whether the server has a certificate configured at all (its own or the default)
    has_cert: bool = False
    cert_reason: str = ""
    regex: bool = False
    app_root: str = ""
    exact: dict[str, Location] = field(default_factory=dict)
    prefixes: list[tuple[str, Location]] = field(default_factory=list)
    regexes: list[tuple[re.Pattern[str], Location]] = field(default_factory=list)
    #: resource-backed paths, matched only to explain why ingress-nginx ignores them
    shadow: list[Location] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IngressNote:
    ingress: str
    message: str
    #: the rule hosts of an ignored Ingress ("" for a rule without host)
    hosts: tuple[str, ...] = ()


_Layout = tuple[dict[str, Location], list[tuple[str, Location]], list[tuple[re.Pattern[str], Location]]]

# ------------------------------------------------------------------------------------ helpers


def sort_ingresses(ingresses: Iterable[Ingress]) -> list[Ingress]:
    """ingress-nginx ``sortIngressSlice``: oldest first; equal timestamps by namespace/name,
    *descending* (its comparator returns ``in > jn``)."""
    out = sorted(ingresses, key=lambda i: i.qualified_name, reverse=True)
    out.sort(key=creation_time)
    return out


def upstream_name(namespace: str, svc: IngressServiceBackend) -> str:
    """ingress-nginx ``upstreamName``: ``<ns>-<service>-<port number or name>``."""
    port = svc.port
    if port is not None and port.number > 0:
        return f"{namespace}-{svc.name}-{port.number}"
    if port is not None and port.name:
        return f"{namespace}-{svc.name}-{port.name}"
    return f"{namespace}-INVALID"


def _port_ref(svc: IngressServiceBackend) -> str:
    if svc.port is None:
        return ""
    return str(svc.port.number) if svc.port.number > 0 else svc.port.name


def _pcre_to_python(path: str) -> str:
    """The few PCRE spellings that differ in Python's ``re``: named groups."""
    return re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", path)


def ingress_class_of(
    ing: Ingress, classes: dict[str, IngressClass], default: IngressClass | None
) -> tuple[bool, str]:
    """Whether ingress-nginx (``--controller-class=k8s.io/ingress-nginx --ingress-class=nginx``,
    without ``--watch-ingress-without-class``) serves ``ing``, and why (``store.GetIngressClass``).

    ``spec.ingressClassName`` is consulted first and must name an IngressClass whose controller is
    ingress-nginx's; then the legacy ``kubernetes.io/ingress.class`` annotation must be ``nginx``.
    An Ingress with neither gets the default IngressClass, as the admission plugin would have given
    it.
    """
    name = ing.spec.ingress_class_name
    legacy = ing.metadata.annotations.get(LEGACY_CLASS_ANNOTATION)
    if name is None and legacy is None and default is not None:
        name = default.metadata.name
    if name is not None:
        ic = classes.get(name)
        if ic is None:
            return False, f'IngressClass "{name}" does not exist'
        if ic.spec.controller != CONTROLLER:
            return False, f'IngressClass "{name}" belongs to controller "{ic.spec.controller}", not {CONTROLLER}'
        return True, f'IngressClass "{name}" (controller {CONTROLLER})'
    if legacy is not None:
        if legacy != LEGACY_CLASS:
            return False, f'annotation {LEGACY_CLASS_ANNOTATION}: "{legacy}" is not "{LEGACY_CLASS}"'
        return True, f'annotation {LEGACY_CLASS_ANNOTATION}: "{LEGACY_CLASS}"'
    return False, "no ingressClassName, no class annotation and no default IngressClass"


def _default_class(classes: Iterable[IngressClass]) -> IngressClass | None:
    defaults = [c for c in classes if c.annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"]
    if not defaults:
        return None
    defaults.sort(key=lambda c: c.metadata.name)
    defaults.sort(key=creation_time, reverse=True)
    return defaults[0]


# ------------------------------------------------------------------------------------ the table


class RouteTable:
    """Servers and upstreams of one cluster, and :meth:`route` to answer a request."""

    def __init__(self, config: ControllerConfig | None = None) -> None:
        self.config = config or ControllerConfig()
        self.servers: dict[str, Server] = {}
        self.wildcards: dict[str, Server] = {}
        self.upstreams: dict[str, Upstream] = {}
        #: Ingresses the controller serves, oldest first
        self.ingresses: list[Ingress] = []
        #: Ingresses left alone (other controllers, no class), with why
        self.ignored: list[IngressNote] = []
        #: conflicts, unusable Secrets, broken annotations
        self.notes: list[IngressNote] = []
        self.certs: dict[str, TLSCert] = {}
        self._match_cache: dict[tuple[str, str], tuple[Location | None, bool]] = {}
        self._shadow: dict[str, _Layout] = {}
        self._verdicts: dict[tuple[object, ...], Verdict] = {}
        self._dynamic = False
        self._secret: Callable[[str, str], Secret | None] = lambda ns, name: None

    # ------------------------------------------------------------------ building

    @staticmethod
    def build(state: object) -> RouteTable:
        """The route table of a :class:`~podnet.cluster.state.ClusterState`."""
        from podnet.cluster.state import ClusterState

        assert isinstance(state, ClusterState)
        cm = state.get("ConfigMap", *CONFIGMAP)
        data = cm.data if isinstance(cm, ConfigMap) else {}
        config = ControllerConfig.from_data(data)
        table = RouteTable(config)
        table._build(
            ingresses=state.typed(Ingress),
            classes=state.typed(IngressClass),
            service=state.service,
            slices=state.endpoint_slices,
            secret=lambda ns, name: _as_secret(state.get("Secret", ns, name)),
        )
        for p in config.problems:
            table.notes.append(IngressNote(f"ConfigMap {CONFIGMAP[0]}/{CONFIGMAP[1]}", p))
        return table

    def _build(
        self,
        ingresses: list[Ingress],
        classes: list[IngressClass],
        service: Callable[[str, str], Service | None],
        slices: Callable[[str, str], list[EndpointSlice]],
        secret: Callable[[str, str], Secret | None],
    ) -> None:
        by_name = {c.metadata.name: c for c in classes}
        default = _default_class(classes)
        mine: list[Ingress] = []
        for ing in ingresses:
            ok, why = ingress_class_of(ing, by_name, default)
            if ok:
                mine.append(ing)
            else:
                hosts = tuple(r.host.lower() for r in ing.spec.rules)
                self.ignored.append(IngressNote(ing.qualified_name, why, hosts))
        self.ingresses = sort_ingresses(mine)
        settings = {ing.qualified_name: ann_mod.parse(ing.annotations, self.config) for ing in self.ingresses}
        for ing in self.ingresses:
            for p in settings[ing.qualified_name].problems:
                self.notes.append(IngressNote(ing.qualified_name, p))
        self._secret = secret
        self._create_upstreams(settings, service, slices)
        self._create_servers(settings)
        self._add_locations(settings)
        self._merge_canaries()
        for server in self.servers.values():
            self._finish(server)
            if server.hostname.startswith("*."):
                self.wildcards[server.hostname[2:]] = server

    # createUpstreams
    def _create_upstreams(
        self,
        settings: dict[str, IngressAnnotations],
        service: Callable[[str, str], Service | None],
        slices: Callable[[str, str], list[EndpointSlice]],
    ) -> None:
        self.upstreams[DEFAULT_UPSTREAM] = Upstream(name=DEFAULT_UPSTREAM)
        for ing in self.ingresses:
            s = settings[ing.qualified_name]
            ns = ing.metadata.namespace
            db = ing.spec.default_backend
            if db is not None and db.service is not None:
                name = upstream_name(ns, db.service)
                ups = self._resolve(name, ns, db.service, service, slices)
                if s.canary.enabled:
                    ups.no_server = True
                    ups.canary = s.canary
                    ups.canary_ingress = ing.qualified_name
                self.upstreams[name] = ups
            for rule in ing.spec.rules:
                if rule.http is None:
                    continue
                for p in rule.http.paths:
                    svc = p.backend.service
                    if svc is None:
                        continue
                    name = upstream_name(ns, svc)
                    if name in self.upstreams:
                        continue
                    ups = self._resolve(name, ns, svc, service, slices)
                    if s.canary.enabled:
                        ups.no_server = True
                        ups.canary = s.canary
                        ups.canary_ingress = ing.qualified_name
                    self.upstreams[name] = ups

    def _resolve(
        self,
        name: str,
        ns: str,
        backend: IngressServiceBackend,
        service: Callable[[str, str], Service | None],
        slices: Callable[[str, str], list[EndpointSlice]],
    ) -> Upstream:
        """``serviceEndpoints`` + ``getEndpointsFromSlices``: ready endpoints of a Service port."""
        ref = _port_ref(backend)
        ups = Upstream(name=name, namespace=ns, service=backend.name, port_ref=ref)
        if backend.port is not None and backend.port.number > 0:
            ups.port = backend.port.number
        svc = service(ns, backend.name)
        if svc is None:
            ups.problem = f'Service "{ns}/{backend.name}" not found'
            return ups
        sp = None
        for cand in svc.spec.ports:
            tp = "" if cand.target_port is None else str(cand.target_port)
            if str(cand.port) == ref or tp == ref or cand.name == ref:
                sp = cand
                break
        if svc.spec.type == "ExternalName":
            ups.external_name = svc.spec.external_name
            port = 0
            if sp is not None:
                target = sp.target_port
                port = target if isinstance(target, int) and target else sp.port
                ups.port = sp.port
            elif ref.isdigit():
                port = int(ref)
            ups.endpoints = (Endpoint(svc.spec.external_name, port, None),)
            return ups
        if sp is None:
            ups.problem = f'Service "{ns}/{backend.name}" has no port {ref!r}'
            return ups
        ups.port = sp.port
        target_int = sp.target_port if isinstance(sp.target_port, int) else None
        seen: set[tuple[str, int]] = set()
        eps: list[Endpoint] = []
        total = 0
        for sl in slices(ns, backend.name):
            ports: list[int] = []
            sl_ports = sl.ports
            if not sl_ports and target_int is not None:
                ports.append(target_int)
            else:
                for ep_port in sl_ports:
                    if default_protocol(ep_port.protocol) != "TCP":
                        continue
                    tport = 0
                    if not sp.name:
                        tport = ep_port.port or 0
                    elif sp.name == ep_port.name:
                        tport = ep_port.port or 0
                    if not tport and target_int is not None:
                        tport = target_int
                    if tport:
                        ports.append(tport)
            for ep in sl.endpoints:
                total += 1
                if ep.conditions.ready is False:
                    continue
                pod = None
                tr = ep.target_ref
                if tr is not None and tr.kind == "Pod":
                    pod = f"{tr.namespace or ns}/{tr.name}"
                for port in ports:
                    for addr in ep.addresses:
                        if (addr, port) in seen:
                            continue
                        seen.add((addr, port))
                        eps.append(Endpoint(addr, port, pod))
        ups.endpoints = tuple(eps)
        if not eps:
            if total:
                ups.problem = f'Service "{ns}/{backend.name}" has no ready endpoints ({total} not ready)'
            else:
                ups.problem = f'Service "{ns}/{backend.name}" has no endpoints'
        return ups

    # createServers
    def _create_servers(self, settings: dict[str, IngressAnnotations]) -> None:
        catch_all = Location(
            path="/",
            path_type="Prefix",
            upstream=DEFAULT_UPSTREAM,
            is_default=True,
            ingress=None,
            settings=ann_mod.for_location_without_ingress(self.config),
        )
        self.servers[DEFAULT_SERVER] = Server(
            DEFAULT_SERVER, [catch_all], has_cert=True, cert_reason="the catch-all server"
        )
        for ing in self.ingresses:
            s = settings[ing.qualified_name]
            if s.canary.enabled:
                continue
            un = DEFAULT_UPSTREAM
            db = ing.spec.default_backend
            if db is not None and db.service is not None:
                name = upstream_name(ing.metadata.namespace, db.service)
                if name in self.upstreams:
                    un = name
                    root = self.servers[DEFAULT_SERVER].locations[0]
                    if root.is_default and not ing.spec.rules:
                        # an Ingress with a default backend and no rule: the catch-all server's
                        # root; its redirect and rewrite annotations are not applied there
                        root.is_default = False
                        root.upstream = name
                        root.ingress = ing
                        root.settings = replace(
                            s,
                            rewrite_target="",
                            use_regex=False,
                            app_root="",
                            ssl_redirect=False,
                            force_ssl_redirect=False,
                            preserve_trailing_slash=False,
                            redirect=None,
                        )
            for rule in ing.spec.rules:
                host = rule.host or DEFAULT_SERVER
                if host in self.servers:
                    continue
                loc = Location(
                    path="/",
                    path_type="Prefix",
                    upstream=un,
                    is_default=True,
                    ingress=ing,
                    settings=s,
                    rule_host=rule.host,
                )
                self.servers[host] = Server(host, [loc])
        # certificates: the first Ingress (oldest) with a TLS section decides, per host
        for ing in self.ingresses:
            if settings[ing.qualified_name].canary.enabled:
                continue
            for rule in ing.spec.rules:
                host = rule.host or DEFAULT_SERVER
                server = self.servers[host]
                if server.has_cert or not ing.spec.tls:
                    continue
                self._assign_cert(server, ing)

    def _load(self, ns: str, name: str) -> tuple[TLSCert | None, str]:
        key = f"{ns}/{name}"
        if key in self.certs:
            return self.certs[key], ""
        sec = self._secret(ns, name)
        if sec is None:
            return None, f'Secret "{key}" not found'
        cert, why = load_secret(sec)
        if cert is not None:
            self.certs[key] = cert
        return cert, why

    def _assign_cert(self, server: Server, ing: Ingress) -> None:
        """``extractTLSSecretName`` and the checks after it."""
        host = server.hostname
        ns = ing.metadata.namespace
        server.has_cert = True
        secret_name: str | None = None
        for tls in ing.spec.tls:
            if any(h.lower() == host.lower() for h in tls.hosts):
                secret_name = tls.secret_name
                break
        if secret_name is None:
            for tls in ing.spec.tls:
                if not tls.secret_name:
                    continue
                cert, _ = self._load(ns, tls.secret_name)
                if cert is not None and cert.valid_for(host):
                    secret_name = tls.secret_name
                    break
        if not secret_name:
            server.cert_reason = (
                f"Ingress {ing.qualified_name} has a TLS section but none names host {host} "
                "with a secretName: the controller's default certificate"
            )
            return
        cert, why = self._load(ns, secret_name)
        if cert is None:
            server.cert_reason = f"{why}: the controller's default certificate"
            self.notes.append(IngressNote(ing.qualified_name, why))
            return
        if not cert.valid_for(host):
            names = ", ".join(cert.dns_names) or cert.common_name
            server.cert_reason = (
                f'the certificate in Secret "{cert.secret}" is for {names}, not {host}: '
                "the controller's default certificate"
            )
            self.notes.append(IngressNote(ing.qualified_name, server.cert_reason))
            return
        server.cert = cert
        server.cert_reason = f'Secret "{cert.secret}" (from Ingress {ing.qualified_name})'

    # getBackendServers
    def _add_locations(self, settings: dict[str, IngressAnnotations]) -> None:
        for ing in self.ingresses:
            s = settings[ing.qualified_name]
            ns = ing.metadata.namespace
            for rule in ing.spec.rules:
                host = rule.host or DEFAULT_SERVER
                server = self.servers.get(host) or self.servers[DEFAULT_SERVER]
                if rule.http is None:
                    continue
                for p in rule.http.paths:
                    path = p.path or "/"
                    ptype = p.path_type or "ImplementationSpecific"
                    if p.backend.service is None:
                        if not s.canary.enabled:
                            server.shadow.append(
                                Location(path, ptype, DEFAULT_UPSTREAM, False, ing, s, rule.host, p.backend.resource)
                            )
                        continue
                    ups = self.upstreams[upstream_name(ns, p.backend.service)]
                    if ups.no_server:
                        continue
                    add = True
                    for loc in server.locations:
                        if loc.path != path:
                            continue
                        if loc.path_type != ptype:
                            break
                        add = False
                        if not loc.is_default:
                            owner = loc.ingress.qualified_name if loc.ingress else "?"
                            self.notes.append(
                                IngressNote(
                                    ing.qualified_name,
                                    f"path {path} ({ptype}) of host {rule.host or '*'} is already "
                                    f"served by Ingress {owner} (older): ignored",
                                )
                            )
                            break
                        loc.upstream = ups.name
                        loc.is_default = False
                        loc.ingress = ing
                        loc.settings = s
                        loc.rule_host = rule.host
                        break
                    if add:
                        server.locations.append(Location(path, ptype, ups.name, False, ing, s, rule.host))

    # mergeAlternativeBackends
    def _merge_canaries(self) -> None:
        primaries = [i for i in self.ingresses if not self._is_canary(i)]
        if not primaries:
            return
        for ing in self.ingresses:
            if not self._is_canary(ing):
                continue
            ns = ing.metadata.namespace
            db = ing.spec.default_backend
            if db is not None and db.service is not None:
                alt = self.upstreams.get(upstream_name(ns, db.service))
                if alt is not None:
                    for loc in self.servers[DEFAULT_SERVER].locations:
                        pri = self.upstreams.get(loc.upstream)
                        if pri is None:
                            continue
                        if pri.name == alt.name:
                            break
                        self._merge(pri, alt)
            for rule in ing.spec.rules:
                host = rule.host or DEFAULT_SERVER
                if rule.http is None:
                    continue
                server = self.servers.get(host)
                for p in rule.http.paths:
                    if p.backend.service is None:
                        continue
                    alt = self.upstreams.get(upstream_name(ns, p.backend.service))
                    if alt is None:
                        continue
                    if server is None:
                        self.notes.append(
                            IngressNote(ing.qualified_name, f"canary for host {rule.host or '*'}, which no Ingress serves: ignored")
                        )
                        continue
                    merged = False
                    for loc in server.locations:
                        pri = self.upstreams.get(loc.upstream)
                        if pri is None:
                            continue
                        if pri.name == alt.name:
                            break
                        if loc.path == p.path and loc.path_type == (p.path_type or "ImplementationSpecific"):
                            merged = self._merge(pri, alt) or merged
                    if not merged:
                        self.notes.append(
                            IngressNote(
                                ing.qualified_name,
                                f"canary path {p.path} of host {rule.host or '*'} matches no path of another Ingress: ignored",
                            )
                        )

    def _is_canary(self, ing: Ingress) -> bool:
        return ann_mod.parse_bool(ing.annotations.get(ann_mod.PREFIX + "canary")) is True

    @staticmethod
    def _merge(pri: Upstream, alt: Upstream) -> bool:
        if pri.name == alt.name or pri.name == DEFAULT_UPSTREAM or pri.no_server:
            return False
        if alt.name not in pri.alternatives:
            pri.alternatives.append(alt.name)
        return True

    def _finish(self, server: Server) -> None:
        """Sort locations as ingress-nginx does, then lay them out as nginx locations."""
        locs = server.locations
        locs.sort(key=lambda l: l.path, reverse=True)
        locs.sort(key=lambda l: len(l.path), reverse=True)
        server.regex = any(_needs_rewrite(l) or l.settings.use_regex for l in locs)
        for l in locs:
            if l.settings.app_root and not server.app_root:
                server.app_root = l.settings.app_root
        server.exact, server.prefixes, server.regexes = self._layout(locs, server.regex, server.hostname)
        if server.shadow:
            shadow_locs = sorted(locs + server.shadow, key=lambda l: l.path, reverse=True)
            shadow_locs.sort(key=lambda l: len(l.path), reverse=True)
            self._shadow[server.hostname] = self._layout(shadow_locs, server.regex, server.hostname, quiet=True)

    def _layout(
        self, locs: list[Location], regex: bool, hostname: str, quiet: bool = False
    ) -> _Layout:
        """``updateServerLocations`` + ``buildLocation``."""
        nginx: list[_NginxLocation] = []
        exact_paths = {l.path for l in locs if l.path_type == "Exact"}
        for l in locs:
            if l.path == "/":
                nginx.append(_NginxLocation("exact" if l.path_type == "Exact" else "prefix", "/", l))
                continue
            if l.path_type == "Exact":
                nginx.append(_NginxLocation("exact", l.path, l))
            elif l.path_type == "Prefix" and not (_needs_rewrite(l) or l.settings.use_regex):
                norm = l.path if l.path.endswith("/") else l.path + "/"
                nginx.append(_NginxLocation("prefix", norm, l))
                if l.path not in exact_paths:
                    nginx.append(_NginxLocation("exact", l.path, l))
                # Kubernetes: Prefix "/aaa/bbb/" matches "/aaa/bbb" (nginx would 301 to add the /)
                stripped = l.path.rstrip("/")
                if not regex and stripped and stripped != l.path and stripped not in exact_paths:
                    nginx.append(_NginxLocation("exact", stripped, l))
            else:
                nginx.append(_NginxLocation("prefix", l.path, l))
        exact: dict[str, Location] = {}
        prefixes: list[tuple[str, Location]] = []
        regexes: list[tuple[re.Pattern[str], Location]] = []
        if regex:
            for n in nginx:
                try:
                    pat = re.compile("^" + _pcre_to_python(n.text), re.IGNORECASE)
                except re.error as e:
                    if quiet:
                        continue
                    owner = n.loc.ingress.qualified_name if n.loc.ingress else "?"
                    self.notes.append(
                        IngressNote(owner, f"path {n.text!r} of host {hostname} is not a valid regular expression ({e}): never matches")
                    )
                    continue
                regexes.append((pat, n.loc))
            return exact, prefixes, regexes
        seen_prefix: dict[str, int] = {}
        for n in nginx:
            if n.kind == "exact":
                cur = exact.get(n.text)
                if cur is None or (cur.is_default and not n.loc.is_default):
                    exact[n.text] = n.loc
            else:
                i = seen_prefix.get(n.text)
                if i is None:
                    seen_prefix[n.text] = len(prefixes)
                    prefixes.append((n.text, n.loc))
                elif prefixes[i][1].is_default and not n.loc.is_default:
                    prefixes[i] = (n.text, n.loc)
        prefixes.sort(key=lambda t: len(t[0]), reverse=True)
        return exact, prefixes, regexes

    # ------------------------------------------------------------------ lookups

    def server_for(self, host: str) -> Server:
        """nginx server selection: exact name, then the one-label wildcard, then ``_``."""
        s = self.servers.get(host)
        if s is not None:
            return s
        dot = host.find(".")
        if dot > 0 and self.wildcards:
            first, rest = host[:dot], host[dot + 1 :]
            w = self.wildcards.get(rest)
            if w is not None and _LABEL.fullmatch(first):
                return w
        return self.servers[DEFAULT_SERVER]

    def cert_server(self, name: str | None) -> Server | None:
        """``certificate.lua get_pem_cert_uid``: the server whose certificate a name gets —
        exact (lower-cased, one trailing dot dropped), then ``*.`` + the name less its first
        label; None when no server with a certificate matches (the default certificate)."""
        if not name:
            return None
        n = name.lower()
        if n.endswith("."):
            n = n[:-1]
        s = self.servers.get(n)
        if s is not None and s.has_cert and s.hostname != DEFAULT_SERVER:
            return s
        dot = n.find(".")
        if dot > 0:
            s = self.servers.get("*." + n[dot + 1 :])
            if s is not None and s.has_cert:
                return s
        return None

    def certificate(self, sni: str | None) -> tuple[TLSCert | None, str]:
        """The certificate presented for an SNI name (None: the controller's default), and why."""
        s = self.cert_server(sni)
        if s is None:
            if sni:
                return None, f"no Ingress host with TLS matches SNI {sni!r}: the controller's default certificate"
            return None, "no SNI: the controller's default certificate"
        return s.cert, s.cert_reason

    def match(self, server: Server, path: str) -> Location | None:
        """The location nginx picks for a normalised path."""
        key = (server.hostname, path)
        hit = self._match_cache.get(key)
        if hit is not None:
            return hit[0]
        loc = _match(server.exact, server.prefixes, server.regexes, server.regex, path)
        if len(self._match_cache) > 65536:
            self._match_cache.clear()
        self._match_cache[key] = (loc, True)
        return loc

    def shadow_match(self, server: Server, path: str) -> Location | None:
        """The location Kubernetes semantics would pick counting resource backends."""
        layout = self._shadow.get(server.hostname)
        if layout is None:
            return None
        exact, prefixes, regexes = layout
        return _match(exact, prefixes, regexes, server.regex, path)

    # ------------------------------------------------------------------ routing

    def route(self, req: Request, roll: Roll | None = None) -> Verdict:
        """The controller's answer to ``req`` (``roll``: Lua's ``math.random`` for canary weights).

        Answers that depend only on scheme, Host, target, SNI and ports are remembered; those
        that also depend on the client address (allowlists) or on headers and chance (canaries)
        are computed every time.
        """
        key = (req.scheme, req.host, req.target, req.sni, req.server_port, req.https_port)
        hit = self._verdicts.get(key)
        if hit is not None:
            return hit
        self._dynamic = False
        v = self._route(req, roll)
        if not self._dynamic:
            if len(self._verdicts) >= 100_000:
                self._verdicts.clear()
            self._verdicts[key] = v
        return v

    def _route(self, req: Request, roll: Roll | None) -> Verdict:
        tls_secret = self._tls_ref(req)
        try:
            target = parse_target(req.target)
            host = target.host if target.host is not None else normalize_host(req.host)
        except BadRequest as e:
            return Verdict(400, f"bad request: {e}", tls_secret=tls_secret)
        server = self.server_for(host)
        shost = None if server.hostname == DEFAULT_SERVER else server.hostname
        if target.path == "*":
            return Verdict(400, "bad request: asterisk-form target", tls_secret=tls_secret, server=server.hostname)

        # server-level rewrite: app-root
        if server.app_root and target.path == "/":
            return Verdict(
                302,
                f"app-root: requests for / of host {shost or '*'} are redirected to {server.app_root}",
                host=shost,
                tls_secret=tls_secret,
                location=f"{req.scheme}://{req.host}{server.app_root}",
                server=server.hostname,
            )

        loc = self.match(server, target.path)
        if loc is None:
            return Verdict(
                404,
                f"no path of host {shost or '*'} matches {target.path} (nginx answers 404)",
                host=shost,
                tls_secret=tls_secret,
                server=server.hostname,
            )
        return self._at_location(req, target, host, server, loc, tls_secret, roll)

    def _tls_ref(self, req: Request) -> str | None:
        if req.scheme != "https":
            return None
        s = self.cert_server(req.sni)
        if s is None or s.cert is None:
            return CONTROLLER_DEFAULT_CERT
        return s.cert.secret

    def _at_location(
        self,
        req: Request,
        target: Target,
        host: str,
        server: Server,
        loc: Location,
        tls_secret: str | None,
        roll: Roll | None,
    ) -> Verdict:
        s = loc.settings
        if loc.ingress is None or loc.is_default:
            shost = None if server.hostname == DEFAULT_SERVER else server.hostname
        else:
            shost = loc.rule_host or None
        ups = self.upstreams.get(loc.upstream)
        default_ups = ups is None or ups.name == DEFAULT_UPSTREAM
        at = Verdict(
            0,
            "",
            ingress=loc.ingress.qualified_name if loc.ingress is not None else None,
            host=shost,
            path=None if loc.is_default else loc.path,
            path_type=None if loc.is_default else loc.path_type,
            service=None if default_ups or ups is None else ups.service_ref,
            port=None if default_ups or ups is None else ups.port,
            tls_secret=tls_secret,
            settings=s,
            server=server.hostname,
            upstream=None if default_ups else ups,
        )
        where = _describe(loc, server)

        # location rewrite phase: denied, redirect annotations, then HTTP→HTTPS (lua)
        if s.denied:
            return replace(at, status=503, reason=f"{where}: location denied: {s.denied}")
        if s.redirect is not None:
            return replace(
                at,
                status=s.redirect.code,
                reason=f"{where}: annotation {s.redirect.kind} answers {s.redirect.code}",
                location=s.redirect.url,
            )
        if req.scheme == "http":
            cert_host = self.cert_server(host)
            force = s.force_ssl_redirect
            if force or (s.ssl_redirect and cert_host is not None):
                uri = target.raw
                if not s.preserve_trailing_slash and uri.endswith("/"):
                    uri = uri[:-1]
                port = "" if req.https_port == 443 else f":{req.https_port}"
                if force:
                    why = "force-ssl-redirect"
                else:
                    why = f"host {cert_host.hostname if cert_host else host} has TLS (ssl-redirect)"
                return replace(
                    at,
                    status=self.config.http_redirect_code,
                    reason=f"{where}: {why}: HTTP is redirected to HTTPS",
                    location=f"https://{_raw_host(req.host) or host}{port}{uri}",
                )

        # access phase: allowlist
        if s.allowlist:
            self._dynamic = True
        if s.allowlist and not _allowed(req.client_ip, s.allowlist):
            nets = ",".join(str(n) for n in s.allowlist)
            return replace(
                at, status=403, reason=f"{where}: client {req.client_ip} is not in allowlist-source-range {nets}"
            )

        # content phase: the upstream
        resource = None
        shadow = self.shadow_match(server, target.path) if server.shadow else None
        if shadow is not None and shadow.resource is not None:
            r = shadow.resource
            resource = {"apiGroup": r.api_group, "kind": r.kind, "name": r.name}
            at = replace(at, resource=resource)
        if ups is None or default_ups:
            if shadow is not None and resource is not None:
                owner = shadow.ingress.qualified_name if shadow.ingress is not None else "?"
                why = (
                    f"path {shadow.path} ({shadow.path_type}) of Ingress {owner} has a resource backend "
                    f"({resource['kind']} {resource['name']}), which ingress-nginx does not serve: "
                    "the controller's default backend answers 404"
                )
            elif loc.ingress is not None:
                why = (
                    f"host {server.hostname}: no path of Ingress {loc.ingress.qualified_name} matches "
                    f"{target.path} and it has no defaultBackend: the controller's default backend answers 404"
                )
            else:
                why = (
                    f"no Ingress rule for host {host or '(none)'} and path {target.path}: "
                    "the controller's default backend answers 404"
                )
            return replace(at, status=404, reason=why, ingress=None)
        if not ups.endpoints:
            return replace(at, status=503, reason=f"{where}: {ups.problem or 'no endpoints'}: ingress-nginx answers 503")
        chosen = ups
        alternative = ""
        canary_why = ""
        if ups.alternatives:
            self._dynamic = True
            alt = self.upstreams.get(ups.alternatives[0])
            if alt is not None and alt.canary is not None:
                if not alt.endpoints:
                    canary_why = f"canary {alt.service_ref} has no ready endpoints"
                else:
                    go, canary_why = _to_canary(alt, req, roll)
                    if go:
                        chosen = alt
                        alternative = alt.name
                        at = replace(
                            at,
                            service=alt.service_ref,
                            port=alt.port,
                            ingress=alt.canary_ingress or at.ingress,
                            upstream=alt,
                        )
        upstream_path = target.raw
        rewrite_note = ""
        if _needs_rewrite(loc):
            new = _rewrite(loc.path, s.rewrite_target, target.path, req, target.query)
            if new is not None:
                upstream_path = new
                rewrite_note = f"; rewrite-target {s.rewrite_target} sends {new}"
        shown = chosen.port if chosen.port is not None else chosen.port_ref
        n = len(chosen.endpoints)
        why = f"{where} → Service {chosen.service_ref}:{shown} ({n} ready endpoint{'s' if n != 1 else ''})"
        if canary_why:
            why += f"; {canary_why}"
        why += rewrite_note
        return replace(
            at,
            status=200,
            reason=why,
            upstream_path=upstream_path,
            alternative=alternative,
            upstream_host=s.upstream_vhost or req.host,
        )


# ------------------------------------------------------------------------------------ functions

_LABEL = re.compile(r"[\w-]+")


def _as_secret(obj: Resource | None) -> Secret | None:
    return obj if isinstance(obj, Secret) else None


def _needs_rewrite(loc: Location) -> bool:
    t = loc.settings.rewrite_target
    return bool(t) and t != loc.path


def _host_only(host: str) -> str:
    try:
        return normalize_host(host)
    except BadRequest:
        return host


def _raw_host(host: str) -> str:
    """The host part of a Host header as sent (``redirect_host`` in lua_ingress.lua)."""
    try:
        return split_host_port(host)[0]
    except BadRequest:
        return host


def _describe(loc: Location, server: Server) -> str:
    host = server.hostname if server.hostname != DEFAULT_SERVER else "*"
    if loc.ingress is None:
        return f"host {host}: the controller's catch-all"
    if loc.is_default:
        db = loc.ingress.spec.default_backend
        what = "defaultBackend" if db is not None and db.service is not None else "no matching path"
        return f"Ingress {loc.ingress.qualified_name}, host {host}, {what}"
    return f"Ingress {loc.ingress.qualified_name}, host {host}, path {loc.path} ({loc.path_type})"


def _match(
    exact: dict[str, Location],
    prefixes: list[tuple[str, Location]],
    regexes: list[tuple[re.Pattern[str], Location]],
    regex: bool,
    path: str,
) -> Location | None:
    if regex:
        for pat, loc in regexes:
            if pat.match(path):
                return loc
        return None
    hit = exact.get(path)
    if hit is not None:
        return hit
    for text, ploc in prefixes:
        if path.startswith(text):
            return ploc
    return None


def _allowed(client: str, nets: tuple[ann_mod.IPNetwork, ...]) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in nets)


def _header(req: Request, name: str) -> str | None:
    return req.headers.get(name.lower())


def _cookie(req: Request, name: str) -> str | None:
    raw = req.headers.get("cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        k, sep, v = part.strip().partition("=")
        if sep and k == name:
            return v
    return None


def _to_canary(alt: Upstream, req: Request, roll: Roll | None) -> tuple[bool, str]:
    """``balancer.lua route_to_alternative_balancer``: header, then cookie, then weight."""
    c = alt.canary
    assert c is not None
    svc = alt.service_ref
    if c.header:
        value = _header(req, c.header)
        if value is not None:
            if c.header_value:
                if value == c.header_value:
                    return True, f"canary {svc}: header {c.header}: {value}"
            elif c.header_pattern:
                try:
                    if re.search(_pcre_to_python(c.header_pattern), value):
                        return True, f"canary {svc}: header {c.header} matches {c.header_pattern!r}"
                except re.error:
                    return False, f"canary {svc}: canary-by-header-pattern is not a valid regex"
            elif value == "always":
                return True, f"canary {svc}: header {c.header}: always"
            elif value == "never":
                return False, f"canary {svc} skipped: header {c.header}: never"
    if c.cookie:
        value = _cookie(req, c.cookie)
        if value == "always":
            return True, f"canary {svc}: cookie {c.cookie}=always"
        if value == "never":
            return False, f"canary {svc} skipped: cookie {c.cookie}=never"
    total = c.weight_total if c.weight_total > 100 else 100
    if c.weight <= 0:
        return False, f"canary {svc} not chosen (weight 0)"
    if c.weight >= total:
        return True, f"canary {svc}: weight {c.weight}/{total}"
    r = roll(total) if roll is not None else total
    if r <= c.weight:
        return True, f"canary {svc}: weight {c.weight}/{total} (drew {r})"
    return False, f"canary {svc} not chosen: weight {c.weight}/{total} (drew {r})"


_VAR = re.compile(r"\$(?:\{(\w+)\}|(\d)|([A-Za-z_]\w*))")


def _rewrite(path: str, target: str, uri: str, req: Request, args: str) -> str | None:
    """nginx ``rewrite "(?i)<path>" <target> break;``: the new request target, or None when the
    regex does not match. Captures ``$1``…``$9`` and a few variables are substituted; the query
    string is appended unless the target has its own."""
    try:
        m = re.search(_pcre_to_python(path), uri, re.IGNORECASE)
    except re.error:
        return None
    if m is None:
        return None

    def sub(v: re.Match[str]) -> str:
        name = v.group(1) or v.group(2) or v.group(3) or ""
        if name.isdigit():
            i = int(name)
            if i <= (m.re.groups if m else 0):
                return m.group(i) or ""
            return ""
        if m is not None and name in m.re.groupindex:
            return m.group(name) or ""
        if name == "scheme":
            return req.scheme
        if name == "host":
            return _host_only(req.host)
        if name == "http_host":
            return req.host
        if name == "uri":
            return uri
        if name == "args":
            return args
        if name == "request_uri":
            return req.target
        return v.group(0)

    new = _VAR.sub(sub, target)
    new_path, qsep, new_query = new.partition("?")
    out = escape_path(new_path) or "/"
    if not out.startswith("/"):
        out = "/" + out
    if qsep:
        q = new_query
        if args:
            q = f"{q}&{args}" if q else args
        return f"{out}?{q}" if q else out
    return f"{out}?{args}" if args else out
