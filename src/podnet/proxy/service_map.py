"""The ServicePlan: kube-proxy's view of the cluster, computed once from a ClusterState.

Theory of operation
-------------------
kube-proxy never looks at selectors or pods. It watches two things — Services and EndpointSlices
— and keeps, per IP family, a *service port map* (one ``ServicePortInfo`` per ``ns/svc:port``
and protocol) and an *endpoints map* (the endpoints of each such port, merged from every slice of
the Service, de-duplicated by ``ip:port`` and sorted by that string). Everything it programs into
the kernel is a function of those two maps plus what it knows of its own node (name, primary IP,
zone label). This module builds exactly those maps, for both families, from a ClusterState:

* ``pkg/proxy/serviceport.go`` / ``servicechangetracker.go``: which Services are proxied (not
  headless, not ExternalName, a clusterIP of the family), the per-family external IPs,
  VIP-mode LoadBalancer ingress IPs (``ipMode: Proxy`` is left to the load balancer), source
  ranges (whitespace-trimmed, family-filtered), session affinity and its timeout (10800 s when
  unset), traffic policies and the health-check NodePort (LoadBalancer + eTP Local only);
* ``pkg/proxy/endpointslicecache.go``: an endpoint is the first address of a slice endpoint, of
  the family, joined with the slice port of the same name and protocol; ``ready`` and
  ``serving`` default to true when unset, ``terminating`` to false; a duplicate prefers the
  copy on this node;
* ``pkg/proxy/topology.go`` (:func:`categorize`): for a given node, the endpoints Cluster
  policy uses (ready ones, narrowed by node or zone hints when every ready endpoint has one and
  one matches; serving-terminating ones only when no endpoint is ready), those Local policy uses
  (this node's ready ones, else this node's serving-terminating ones), their union, and whether
  the Service has usable endpoints anywhere.

The plan is immutable. ``updated`` / ``with_service`` recompute only the Services named, sharing
every other entry with the previous plan, so one changed Service costs microseconds and the
nftables partial sync can tell changed Services from unchanged ones by identity.

Addresses are normalised the way Go's ``ParseIPSloppy`` reads them (``10.180.00.001`` is
``10.180.0.1``), as kube-proxy does before writing them into rules.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from podnet.api.addresses import CANONICAL_V4
from podnet.api.core import Node, Pod, Service
from podnet.api.defaults import normalize_protocol
from podnet.api.discovery import Endpoint, EndpointSlice
from podnet.api.frozen import FrozenDict
from podnet.cluster.config import ClusterConfig
from podnet.cluster.state import ClusterState
from podnet.proxy.naming import ServicePortName, endpoint_string

__all__ = [
    "DEFAULT_STICKY_SECONDS",
    "EXCLUDE_LB_LABEL",
    "ZONE_LABEL",
    "Announcement",
    "Categorized",
    "EndpointInfo",
    "Family",
    "NodeInfo",
    "ServiceEntry",
    "ServicePlan",
    "ServicePortInfo",
    "categorize",
    "family_of",
    "parse_cidr_sloppy",
    "parse_ip_sloppy",
]

Family = Literal[4, 6]

#: The API server's default for ``sessionAffinityConfig.clientIP.timeoutSeconds``.
DEFAULT_STICKY_SECONDS = 10800
ZONE_LABEL = "topology.kubernetes.io/zone"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
_PROTOCOLS = ("TCP", "UDP", "SCTP")


# ----------------------------------------------------------------------------------- addresses




def parse_ip_sloppy(text: str) -> str | None:
    """An address in canonical form, accepting IPv4 octets with leading zeros as Go does."""
    if CANONICAL_V4.fullmatch(text):
        return text
    text = text.strip()
    parts = text.split(".")
    if len(parts) == 4 and ":" not in text:
        if not all(x.isdigit() for x in parts):
            return None
        nums = [int(x) for x in parts]
        if all(n <= 255 for n in nums):
            return ".".join(str(n) for n in nums)
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_cidr_sloppy(text: str) -> str | None:
    """A CIDR's network in canonical form (``203.0.113.000/025`` is ``203.0.113.0/25``)."""
    addr, sep, bits = text.strip().partition("/")
    ip = parse_ip_sloppy(addr)
    if ip is None or not sep or not bits.isdigit():
        return None
    try:
        return str(ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False))
    except ValueError:
        return None


def family_of(ip: str) -> Family:
    """4 or 6."""
    return 6 if ":" in ip else 4


# ----------------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """One backend of a Service port, as kube-proxy's ``BaseEndpointInfo`` holds it."""

    ip: str
    port: int
    node_name: str
    zone: str
    ready: bool
    serving: bool
    terminating: bool
    zone_hints: frozenset[str] = frozenset()
    node_hints: frozenset[str] = frozenset()
    #: ``ns/name`` of the pod behind it (from ``targetRef``), None for other endpoints.
    pod: str | None = None
    #: ``ip:port`` — kube-proxy's ``Endpoint.String()``, its identity and sort key.
    endpoint: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", endpoint_string(self.ip, self.port))

    def is_local(self, node: str) -> bool:
        """kube-proxy's ``IsLocal``: the endpoint's nodeName is this kube-proxy's hostname."""
        return bool(node) and self.node_name == node


@dataclass(frozen=True, slots=True)
class ServicePortInfo:
    """One proxied port of one Service, for one IP family (kube-proxy's ``ServicePort``)."""

    name: ServicePortName
    family: Family
    service_type: str
    cluster_ip: str
    port: int
    node_port: int
    target_port: int | str | None
    external_ips: tuple[str, ...]
    load_balancer_vips: tuple[str, ...]
    load_balancer_source_ranges: tuple[str, ...]
    session_affinity: bool
    sticky_max_age_seconds: int
    external_policy_local: bool
    internal_policy_local: bool
    health_check_node_port: int
    endpoints: tuple[EndpointInfo, ...]

    @property
    def protocol(self) -> str:
        return self.name.protocol

    @property
    def externally_accessible(self) -> bool:
        """Reachable other than by ClusterIP: a NodePort, a LoadBalancer VIP or an external IP."""
        return bool(self.node_port or self.load_balancer_vips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Cluster policy is used for ClusterIP traffic, and always for external traffic (even
        under eTP Local, the short-circuit of pod and node traffic needs it)."""
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (
            self.external_policy_local and self.externally_accessible
        )


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """What kube-proxy knows of one Service: its ports per family, or why it is not proxied."""

    namespace: str
    name: str
    service_type: str
    cluster_ips: tuple[str, ...]
    #: None when proxied; otherwise a sentence saying why kube-proxy installs nothing.
    not_proxied: str | None
    ports_v4: tuple[ServicePortInfo, ...] = ()
    ports_v6: tuple[ServicePortInfo, ...] = ()
    external_name: str = ""
    #: spec.ports as (name, port, protocol), for resolving ``svc:PORT`` even when not proxied.
    spec_ports: tuple[tuple[str, int, str], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def ports(self, family: Family) -> tuple[ServicePortInfo, ...]:
        return self.ports_v4 if family == 4 else self.ports_v6


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What kube-proxy on a node knows of itself, and what MetalLB's speaker sees of it."""

    name: str
    internal_ips: tuple[str, ...]
    labels: FrozenDict[str, str]
    ready: bool

    def primary_ip(self, family: Family) -> str | None:
        """kube-proxy's node IP for the family: the first InternalIP of that family.

        nftables mode's default ``--nodeport-addresses`` is ``primary``: NodePorts are accepted
        on this address only (never on 127.0.0.1)."""
        for ip in self.internal_ips:
            if family_of(ip) == family:
                return ip
        return None

    @property
    def zone(self) -> str:
        return self.labels.get(ZONE_LABEL, "")


@dataclass(frozen=True, slots=True)
class Categorized:
    """The result of kube-proxy's ``CategorizeEndpoints`` for one port on one node."""

    #: None when the port never uses Cluster policy.
    cluster: tuple[EndpointInfo, ...] | None
    #: None when the port never uses Local policy.
    local: tuple[EndpointInfo, ...] | None
    #: Every endpoint this node may DNAT to (the union of the two), sorted by ``ip:port``.
    all_reachable: tuple[EndpointInfo, ...]
    #: The Service has a usable endpoint somewhere in the cluster.
    has_any: bool
    #: "" (no topology), "PreferSameZone" or "PreferSameNode": how ``cluster`` was narrowed.
    topology: str
    #: Local policy fell back to this node's serving-terminating endpoints.
    local_terminating: bool
    #: Cluster policy fell back to serving-terminating endpoints.
    cluster_terminating: bool


@dataclass(frozen=True, slots=True)
class Announcement:
    """Which node answers ARP/NDP for a LoadBalancer IP (MetalLB layer-2 style)."""

    ip: str
    node: str | None
    candidates: tuple[str, ...]
    rule: str


# ----------------------------------------------------------------------------------- topology


def categorize(info: ServicePortInfo, node: str, zone: str) -> Categorized:
    """kube-proxy's ``CategorizeEndpoints`` for ``info`` as seen by kube-proxy on ``node``.

    ``zone`` is the node's ``topology.kubernetes.io/zone`` label ("" when unset).
    """
    eps = info.endpoints
    cluster: tuple[EndpointInfo, ...] | None = None
    local: tuple[EndpointInfo, ...] | None = None
    has_any = False
    topology = ""
    cluster_terminating = False
    local_terminating = False

    if info.uses_cluster_endpoints:
        topology = _topology_mode(eps, node, zone)
        if topology == "PreferSameNode":
            cluster = tuple(e for e in eps if e.ready and node in e.node_hints)
        elif topology == "PreferSameZone":
            cluster = tuple(e for e in eps if e.ready and zone in e.zone_hints)
        else:
            cluster = tuple(e for e in eps if e.ready)
        if not cluster:
            # Best effort: fall back to serving-terminating endpoints, ignoring topology.
            cluster = tuple(e for e in eps if e.serving and e.terminating)
            cluster_terminating = bool(cluster)
            topology = ""
        has_any = bool(cluster)

    if not info.uses_local_endpoints:
        return Categorized(
            cluster, None, cluster or (), has_any, topology, False, cluster_terminating
        )

    local_ready = False
    local_st = False
    for e in eps:
        if e.ready:
            has_any = True
            if e.is_local(node):
                local_ready = True
        elif e.serving and e.terminating:
            has_any = True
            if e.is_local(node):
                local_st = True
    if local_ready:
        local = tuple(e for e in eps if e.is_local(node) and e.ready)
    elif local_st:
        local_terminating = True
        local = tuple(e for e in eps if e.is_local(node) and e.serving and e.terminating)
    else:
        local = ()

    if cluster is None:
        return Categorized(None, local, local, has_any, "", local_terminating, False)
    if not topology and not local_terminating:
        # cluster holds every ready endpoint, a superset of local.
        return Categorized(
            cluster, local, cluster, has_any, topology, local_terminating, cluster_terminating
        )
    merged = {e.endpoint: e for e in cluster}
    for e in local:
        merged[e.endpoint] = e
    union = tuple(merged[k] for k in sorted(merged))
    return Categorized(
        cluster, local, union, has_any, topology, local_terminating, cluster_terminating
    )


def _topology_mode(eps: tuple[EndpointInfo, ...], node: str, zone: str) -> str:
    """Hints are used only if every ready endpoint has one and one is for this node/zone."""
    all_node = all_zone = True
    for_node = for_zone = False
    any_ready = False
    for e in eps:
        if not e.ready:
            continue
        any_ready = True
        if not e.node_hints:
            all_node = False
        elif node in e.node_hints:
            for_node = True
        if not e.zone_hints:
            all_zone = False
        elif zone and zone in e.zone_hints:
            for_zone = True
    if not any_ready:
        return ""
    if all_node and for_node:
        return "PreferSameNode"
    if all_zone and for_zone:
        return "PreferSameZone"
    return ""


# ----------------------------------------------------------------------------------- building


def _node_info(node: Node) -> NodeInfo:
    ips: list[str] = []
    for a in node.internal_ips:
        ip = parse_ip_sloppy(a)
        if ip is not None:
            ips.append(ip)
    return NodeInfo(node.name, tuple(ips), FrozenDict(node.labels), node.ready)


def _ingress_vips(svc: Service) -> list[str]:
    out: list[str] = []
    for ing in svc.status.load_balancer.ingress:
        if not ing.ip:
            continue
        if ing.ip_mode is not None and ing.ip_mode != "VIP":
            continue  # ipMode Proxy: the load balancer proxies; kube-proxy adds nothing
        ip = parse_ip_sloppy(ing.ip)
        if ip is not None:
            out.append(ip)
    return out


_NO_HINTS: frozenset[str] = frozenset()
#: (ip, node, zone, ready, serving, terminating, zone hints, node hints, pod)
_Base = tuple[str, str, str, bool, bool, bool, frozenset[str], frozenset[str], str | None]


def _slice_endpoints(
    slices: Iterable[EndpointSlice], family: Family
) -> dict[tuple[str, str], dict[str, EndpointInfo]]:
    """(port name, protocol) → ``ip:port`` → endpoint, for one family, merged over slices.

    kube-proxy de-duplicates an endpoint listed twice (it may be moving between slices) by its
    ``ip:port``, keeping the copy it considers local; without a node to compare against here, a
    copy that names a node wins over one that does not."""
    out: dict[tuple[str, str], dict[str, EndpointInfo]] = {}
    for sl in slices:
        if sl.address_type and sl.address_type not in ("IPv4", "IPv6"):
            continue  # FQDN slices are not proxied
        bases = [b for b in map(_endpoint_base, sl.endpoints) if b is not None
                 and (":" in b[0]) == (family == 6)]
        if not bases:
            continue
        for p in sl.ports:
            if not p.port:
                continue  # kube-proxy ignores a slice port without a number
            bucket = out.setdefault((p.name or "", normalize_protocol(p.protocol)), {})
            port = p.port
            for b in bases:
                ep = EndpointInfo(b[0], port, *b[1:])
                s = ep.endpoint
                old = bucket.get(s)
                if old is None or (b[1] and not old.node_name):
                    bucket[s] = ep
    return out


def _endpoint_base(e: Endpoint) -> _Base | None:
    if not e.addresses:
        return None
    ip = parse_ip_sloppy(e.addresses[0])
    if ip is None:
        return None
    c = e.conditions
    zone_hints = node_hints = _NO_HINTS
    hints = e.hints
    if hints is not None:
        zone_hints = frozenset(z.name for z in hints.for_zones if z.name)
        raw: Any = hints.extra.get("forNodes") if hints.extra else None
        if raw:
            node_hints = frozenset(
                str(n.get("name")) for n in raw if isinstance(n, Mapping) and n.get("name")
            )
    pod: str | None = None
    ref = e.target_ref
    if ref is not None and ref.kind == "Pod" and ref.name:
        pod = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return (
        ip, e.node_name or "", e.zone or "", c.ready is None or c.ready,
        c.serving is None or c.serving, c.terminating is True, zone_hints, node_hints, pod,
    )


def build_entry(svc: Service, slices: Iterable[EndpointSlice]) -> ServiceEntry:
    """kube-proxy's view of one Service and its EndpointSlices."""
    spec = svc.spec
    stype = spec.type or "ClusterIP"
    ns, name = svc.namespace, svc.name
    spec_ports = tuple((p.name, p.port, normalize_protocol(p.protocol)) for p in spec.ports)
    cluster_ips = tuple(
        ip for ip in (parse_ip_sloppy(x) for x in svc.cluster_ips) if ip is not None
    )
    if stype == "ExternalName":
        return ServiceEntry(
            ns, name, stype, (), f"ExternalName Service: DNS answers with a CNAME to "
            f"{spec.external_name or '(unset)'}; kube-proxy installs no rules",
            external_name=spec.external_name, spec_ports=spec_ports,
        )
    if svc.is_headless or not cluster_ips:
        return ServiceEntry(
            ns, name, stype, (), "headless Service (clusterIP: None): DNS answers with the "
            "pod IPs; kube-proxy installs no rules", spec_ports=spec_ports,
        )
    slices = list(slices)
    ext = [ip for ip in (parse_ip_sloppy(x) for x in spec.external_ips) if ip is not None]
    vips = _ingress_vips(svc)
    ranges = [c for c in (parse_cidr_sloppy(r) for r in spec.load_balancer_source_ranges) if c]
    affinity = spec.session_affinity == "ClientIP"
    sticky = 0
    if affinity:
        cfg = spec.session_affinity_config
        timeout = cfg.client_ip.timeout_seconds if cfg and cfg.client_ip else None
        sticky = timeout if timeout else DEFAULT_STICKY_SECONDS
    externally = stype in ("LoadBalancer", "NodePort") or (
        stype == "ClusterIP" and bool(spec.external_ips)
    )
    etp_local = externally and spec.external_traffic_policy == "Local"
    itp_local = spec.internal_traffic_policy == "Local"
    hc_port = spec.health_check_node_port if (stype == "LoadBalancer" and etp_local) else 0

    by_family: dict[int, list[ServicePortInfo]] = {4: [], 6: []}
    for fam in (4, 6):
        family: Family = 4 if fam == 4 else 6
        cip = next((ip for ip in cluster_ips if family_of(ip) == family), None)
        if cip is None:
            continue
        eps_by_port = _slice_endpoints(slices, family)
        for p in spec.ports:
            proto = normalize_protocol(p.protocol)
            spn = ServicePortName(ns, name, p.name, proto)
            bucket = eps_by_port.get((p.name, proto), {})
            endpoints = tuple(bucket[k] for k in sorted(bucket))
            by_family[fam].append(
                ServicePortInfo(
                    name=spn,
                    family=family,
                    service_type=stype,
                    cluster_ip=cip,
                    port=p.port,
                    node_port=p.node_port,
                    target_port=p.target_port,
                    external_ips=tuple(ip for ip in ext if family_of(ip) == family),
                    load_balancer_vips=tuple(ip for ip in vips if family_of(ip) == family),
                    load_balancer_source_ranges=tuple(
                        c for c in ranges if family_of(c.split("/")[0]) == family
                    ),
                    session_affinity=affinity,
                    sticky_max_age_seconds=sticky,
                    external_policy_local=etp_local,
                    internal_policy_local=itp_local,
                    health_check_node_port=hc_port,
                    endpoints=endpoints,
                )
            )
    return ServiceEntry(
        ns, name, stype, cluster_ips, None,
        tuple(by_family[4]), tuple(by_family[6]), spec_ports=spec_ports,
    )


@dataclass(frozen=True, slots=True)
class _Index:
    """Lookups by address and port, per family (built on first use)."""

    service_ips: dict[tuple[str, str, int], list[tuple[ServicePortInfo, str]]]
    by_ip: dict[str, list[tuple[ServicePortInfo, str]]]
    node_ports: dict[tuple[str, int], ServicePortInfo]
    cluster_ips: dict[str, list[ServicePortInfo]]
    health_ports: dict[int, ServiceEntry]


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """kube-proxy's view of a whole cluster, for every node and both families."""

    config: ClusterConfig
    nodes: Mapping[str, NodeInfo]
    services: Mapping[tuple[str, str], ServiceEntry]
    #: Pod CIDRs (kube-proxy's cluster CIDR, ``--detect-local-mode=ClusterCIDR``) per family.
    cluster_cidrs: Mapping[int, tuple[str, ...]]
    #: Service CIDRs per family (the ``cluster-ips-check`` drop rule).
    service_cidrs: Mapping[int, tuple[str, ...]]
    state: ClusterState | None = field(default=None, compare=False, repr=False)
    #: The plan this one was derived from by ``updated``/``with_service``, and the Services
    #: that differ — kube-proxy's change tracker, so a partial sync need not compare them all.
    parent: ServicePlan | None = field(default=None, compare=False, repr=False)
    changed: frozenset[tuple[str, str]] = field(default=frozenset(), compare=False, repr=False)
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ construction

    @classmethod
    def build(cls, state: ClusterState) -> ServicePlan:
        """The plan of a whole ClusterState."""
        services: dict[tuple[str, str], ServiceEntry] = {}
        for svc in state.services():
            services[(svc.namespace, svc.name)] = build_entry(
                svc, state.endpoint_slices(svc.namespace, svc.name)
            )
        return cls._make(state.config, state.nodes, services, state)

    @classmethod
    def _make(
        cls,
        config: ClusterConfig,
        nodes: Iterable[Node],
        services: dict[tuple[str, str], ServiceEntry],
        state: ClusterState | None,
    ) -> ServicePlan:
        cluster: dict[int, list[str]] = {4: [], 6: []}
        for net in config.pod_networks():
            cluster[net.version].append(str(net))
        svc_cidrs: dict[int, list[str]] = {4: [], 6: []}
        for net in config.service_networks():
            svc_cidrs[net.version].append(str(net))
        return cls(
            config=config,
            nodes={n.name: _node_info(n) for n in nodes},
            services=services,
            cluster_cidrs={k: tuple(v) for k, v in cluster.items()},
            service_cidrs={k: tuple(v) for k, v in svc_cidrs.items()},
            state=state,
        )

    def updated(self, state: ClusterState, keys: Iterable[tuple[str, str]]) -> ServicePlan:
        """A plan for ``state`` recomputing only the Services ``keys`` (added, changed or
        deleted, including those whose EndpointSlices changed); every other entry is shared
        with this plan. Nodes and cluster config are kept: when they change, ``build`` anew."""
        services = dict(self.services)
        keys = frozenset(keys)
        for ns, name in keys:
            svc = state.service(ns, name)
            if svc is None:
                services.pop((ns, name), None)
            else:
                services[(ns, name)] = build_entry(svc, state.endpoint_slices(ns, name))
        return ServicePlan(
            self.config, self.nodes, services, self.cluster_cidrs, self.service_cidrs, state,
            parent=self, changed=keys,
        )

    def with_service(
        self,
        key: tuple[str, str],
        service: Service | None,
        slices: Iterable[EndpointSlice] = (),
    ) -> ServicePlan:
        """This plan with one Service (and its slices) replaced, added, or removed (None)."""
        services = dict(self.services)
        if service is None:
            services.pop(key, None)
        else:
            services[key] = build_entry(service, slices)
        return ServicePlan(
            self.config, self.nodes, services, self.cluster_cidrs, self.service_cidrs, self.state,
            parent=self, changed=frozenset((key,)),
        )

    def changes_since(
        self, earlier: ServicePlan, limit: int = 64
    ) -> frozenset[tuple[str, str]] | None:
        """The Services that may differ from ``earlier`` when this plan was derived from it
        (through at most ``limit`` updates), or None when it was not."""
        keys: set[tuple[str, str]] = set()
        plan: ServicePlan | None = self
        for _ in range(limit):
            if plan is None:
                return None
            if plan is earlier:
                return frozenset(keys)
            keys |= plan.changed
            plan = plan.parent
        return None

    # ------------------------------------------------------------------ lookups

    def node(self, name: str) -> NodeInfo:
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(f'node "{name}" not found') from None

    def service(self, namespace: str, name: str) -> ServiceEntry | None:
        return self.services.get((namespace, name))

    def ports(self, family: Family = 4) -> Iterator[ServicePortInfo]:
        """Every proxied Service port of the family, in ServicePortName order."""
        for key in sorted(self.services):
            yield from self.services[key].ports(family)

    def categorize(self, info: ServicePortInfo, node: str) -> Categorized:
        """The endpoints kube-proxy on ``node`` uses for ``info`` (see :func:`categorize`)."""
        n = self.nodes.get(node)
        return categorize(info, node, n.zone if n else "")

    def local_ready_endpoints(self, entry: ServiceEntry, node: str, family: Family) -> int:
        """kube-proxy's ``LocalReadyEndpoints``: distinct IPs of this node's ready endpoints
        over every port of the Service — what its health check reports."""
        ips = {
            e.ip
            for p in entry.ports(family)
            for e in p.endpoints
            if e.ready and e.is_local(node)
        }
        return len(ips)

    def node_of_ip(self, ip: str) -> str | None:
        """The node an address lives on: a node's own address, or a pod IP (from the state)."""
        idx = self._ip_index()
        return idx.get(ip, (None, None))[0]

    def pod_of_ip(self, ip: str) -> str | None:
        """``ns/name`` of the (non-hostNetwork) pod with this IP, if the plan knows the state."""
        return self._ip_index().get(ip, (None, None))[1]

    def node_addresses(self) -> dict[str, str]:
        """Every node InternalIP → node name (computed once per plan; do not mutate)."""
        got: dict[str, str] | None = self._cache.get("node-addresses")
        if got is None:
            got = {}
            for n in self.nodes.values():
                for ip in n.internal_ips:
                    got[ip] = n.name
            self._cache["node-addresses"] = got
        return got

    def _ip_index(self) -> dict[str, tuple[str | None, str | None]]:
        """Address → (node, ``ns/name`` of the pod or None for a node's own address).

        Read off the state's pods-by-node index in no particular order; an address two pods
        claim (a snapshot with a stale pod) goes to the last of them in object order, as a
        sorted walk would give it — without sorting 150,000 pods for the rare collision."""
        got = self._cache.get("ip")
        if got is None:
            got = {}
            if self.state is not None:
                clashes: set[str] = set()
                canonical = CANONICAL_V4.fullmatch
                for node, pods in self.state.index.pods_by_node.items():
                    for pod in pods:  # every one has spec.node_name == node
                        if pod.spec.host_network:
                            continue
                        entry = (node, pod.qualified_name)
                        for ip in pod.ips:
                            canon = ip if canonical(ip) else parse_ip_sloppy(ip)
                            if canon:
                                prior = got.get(canon)
                                if prior is not None and prior[1] != entry[1]:
                                    clashes.add(canon)
                                got[canon] = entry
                if clashes:
                    winners: dict[str, Pod] = {}
                    for pods in self.state.index.pods_by_node.values():
                        for pod in pods:
                            if pod.spec.host_network or not pod.spec.node_name:
                                continue
                            for ip in pod.ips:
                                canon = parse_ip_sloppy(ip)
                                if canon in clashes:
                                    held = winners.get(canon)
                                    if held is None or held.ref < pod.ref:
                                        winners[canon] = pod
                    for canon, pod in winners.items():
                        got[canon] = (pod.spec.node_name, pod.qualified_name)
            for ip, node in self.node_addresses().items():
                got[ip] = (node, None)
            self._cache["ip"] = got
        assert isinstance(got, dict)
        return got

    def index(self, family: Family) -> _Index:
        """Address/port lookups for the family (built once per plan)."""
        key = ("index", family)
        got = self._cache.get(key)
        if got is None:
            sips: dict[tuple[str, str, int], list[tuple[ServicePortInfo, str]]] = {}
            by_ip: dict[str, list[tuple[ServicePortInfo, str]]] = {}
            nports: dict[tuple[str, int], ServicePortInfo] = {}
            cips: dict[str, list[ServicePortInfo]] = {}
            hports: dict[int, ServiceEntry] = {}
            for skey in sorted(self.services):
                entry = self.services[skey]
                for p in entry.ports(family):
                    proto = p.protocol
                    cips.setdefault(p.cluster_ip, []).append(p)
                    addrs = [(p.cluster_ip, "ClusterIP")]
                    addrs += [(ip, "ExternalIP") for ip in p.external_ips]
                    addrs += [(ip, "LoadBalancer") for ip in p.load_balancer_vips]
                    for ip, kind in addrs:
                        sips.setdefault((ip, proto, p.port), []).append((p, kind))
                        by_ip.setdefault(ip, []).append((p, kind))
                    if p.node_port:
                        nports.setdefault((proto, p.node_port), p)
                    if p.health_check_node_port:
                        hports.setdefault(p.health_check_node_port, entry)
            got = _Index(sips, by_ip, nports, cips, hports)
            self._cache[key] = got
        assert isinstance(got, _Index)
        return got

    # ------------------------------------------------------------------ load balancers

    def announcement(self, ip: str) -> Announcement:
        """The node that answers ARP/NDP for a LoadBalancer (or external) IP.

        Reproduces MetalLB's layer-2 ``ShouldAnnounce``: no announcement without a ready
        endpoint; the candidates are the ready nodes whose speaker may announce (not labelled
        ``node.kubernetes.io/exclude-from-external-load-balancers``) — only those with a ready
        local endpoint when the Service has externalTrafficPolicy Local — ordered by
        ``sha256(node + "#" + ip)``; the first wins.
        """
        canon = parse_ip_sloppy(ip) or ip
        fam = family_of(canon)
        owners = [
            p for p, kind in self.index(fam).by_ip.get(canon, ())
            if kind in ("LoadBalancer", "ExternalIP")
        ]
        speakers = [
            n.name for n in self.nodes.values() if n.ready and EXCLUDE_LB_LABEL not in n.labels
        ]
        rule = 'MetalLB L2 election: sort nodes by sha256(node + "#" + ip), the first announces'
        if not owners:
            return Announcement(canon, None, (), f"{canon} is not a LoadBalancer or external IP")
        if not any(e.ready for p in owners for e in p.endpoints):
            return Announcement(
                canon, None, (), f"no ready endpoint for {owners[0].name.service}: MetalLB does "
                "not announce the address, so nobody answers ARP for it",
            )
        if any(p.external_policy_local for p in owners):
            local_nodes = {e.node_name for p in owners for e in p.endpoints if e.ready}
            speakers = [n for n in speakers if n in local_nodes]
            rule += " (externalTrafficPolicy Local: only nodes with a ready local endpoint)"
        ordered = sorted(speakers, key=lambda n: hashlib.sha256(f"{n}#{canon}".encode()).digest())
        return Announcement(canon, ordered[0] if ordered else None, tuple(ordered), rule)
