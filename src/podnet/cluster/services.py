"""Service allocation: what the API server (and MetalLB) fill in when a Service is created.

Why this exists: a Service manifest rarely carries its ClusterIP, NodePorts or LoadBalancer
address, yet every later layer (kube-proxy rules, DNS answers, ingress status, the packet walk)
needs them. The API server assigns them at create time, keeps them for the Service's lifetime
and refuses a request for one that is taken; podnet does the same, deterministically.

Behaviour reproduced from upstream (re-implemented, not copied):

* ``pkg/registry/core/service/storage/alloc.go`` — ``initIPFamilyFields`` (ipFamilyPolicy
  defaults to SingleStack, or RequireDualStack for a headless selector-less Service; families
  inferred from given clusterIPs; the secondary family added for Prefer/RequireDualStack on a
  dual-stack cluster), ``allocClusterIPs`` / ``allocIPs`` (error
  ``spec.clusterIPs: Invalid value: [...]: failed to allocate IP X: <allocator error>``),
  ``initNodePorts`` (ports with the same ``port`` number share one nodePort; a requested one
  is honoured; ``allocateLoadBalancerNodePorts: false`` allocates none but honours requests) and
  ``allocHealthCheckNodePort`` (only ``type: LoadBalancer`` with ``externalTrafficPolicy: Local``).
* ``ipallocator`` with the MultiCIDRServiceAllocator (GA in 1.33): an address outside every
  service CIDR fails with "the provided network does not match the current range"; the network
  (and IPv4 broadcast) address with "the provided IP (…) is not in the valid range".
* ``ValidateServiceUpdate``: a Service keeps its clusterIPs; asking for different ones on update is
  "may not change once set".
* ``pkg/apis/core/v1/defaults.go``: ``status.loadBalancer.ingress[].ipMode`` defaults to ``VIP``.
* MetalLB's controller: only Services without ``spec.loadBalancerClass``; the address a Service
  has is kept; ``metallb.universe.tf/loadBalancerIPs`` (or ``metallb.io/…``) and the deprecated
  ``spec.loadBalancerIP`` are honoured when in the pool and free; otherwise the lowest free
  address per IP family of the Service. A request MetalLB cannot satisfy leaves the Service
  ``<pending>`` (an event upstream, not an API error), so it is not an error here either.

Order, which decides who wins a contested value: values already held come first — objects the
user did not apply (the system objects: ``kubernetes``, ``kube-dns``, ingress-nginx, created
before anything else in a real cluster) and Services being deleted — then values a Service keeps
from ``previous``, then new requests, each group in ref order; dynamic allocation comes last. The
KEP-3070/3668 bands keep dynamic values away from the ranges users pin, as upstream intends.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from podnet.api.core import (
    LoadBalancerIngress,
    LoadBalancerStatus,
    Node,
    Service,
    ServicePort,
    ip_family,
)
from podnet.api.errors import FieldError, InvalidObjectError
from podnet.api.meta import ObjectRef
from podnet.cluster.allocators import (
    AllocationError,
    IPAddress,
    LoadBalancerPool,
    NodePortAllocator,
    ServiceIPAllocator,
)
from podnet.cluster.config import ClusterConfig
from podnet.cluster.state import ClusterState, ServiceAllocations
from podnet.cluster.system import DNS_SERVICE_INDEX

__all__ = ["allocate", "needs_health_check"]

SINGLE = "SingleStack"
PREFER_DUAL = "PreferDualStack"
REQUIRE_DUAL = "RequireDualStack"
IPV4 = "IPv4"
IPV6 = "IPv6"
NONE = "None"
LB_IPS_ANNOTATIONS = ("metallb.universe.tf/loadBalancerIPs", "metallb.io/loadBalancerIPs")
#: Services whose ClusterIP kubeadm/the API server fix: (namespace, name) -> index in the CIDR.
FIXED_INDEXES = {("default", "kubernetes"): 1, ("kube-system", "kube-dns"): DNS_SERVICE_INDEX}

_NOT_IN_NETWORK = "the provided network does not match the current range"


def needs_health_check(svc: Service) -> bool:
    """``apiservice.NeedsHealthCheck``: kube-proxy serves a health check port only for
    LoadBalancer Services that keep traffic on the node (``externalTrafficPolicy: Local``)."""
    return svc.spec.type == "LoadBalancer" and svc.spec.external_traffic_policy == "Local"


def _version(family: str) -> int:
    return 6 if family == IPV6 else 4


def _other(family: str) -> str:
    return IPV6 if family == IPV4 else IPV4


def _should_allocate_node_ports(svc: Service) -> bool:
    if svc.spec.type == "NodePort":
        return True
    if svc.spec.type == "LoadBalancer":
        return svc.spec.allocate_load_balancer_node_ports is not False
    return False


# ------------------------------------------------------------------------------------- state


@dataclass(slots=True)
class _Work:
    """One Service on its way through allocation (mutable scratch, never escapes)."""

    svc: Service
    prev: Service | None
    system: bool
    ip_rank: int = 2
    port_rank: int = 2
    lb_rank: int = 2
    failed: bool = False
    families: list[str] = field(default_factory=list)
    policy: str | None = None
    cluster_ips: list[str] = field(default_factory=list)
    ports: list[ServicePort] = field(default_factory=list)
    health_check: int = 0
    #: port number -> nodePort, or a negative group id for a pending dynamic allocation
    port_groups: dict[int, int] = field(default_factory=dict)
    pending_groups: dict[int, int] = field(default_factory=dict)  # group id -> port number
    pending_health_check: bool = False
    lb_ingress: list[LoadBalancerIngress] | None = None
    lb_dynamic: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ref(self) -> ObjectRef:
        return self.svc.ref

    @property
    def key(self) -> str:
        return f"{self.svc.metadata.namespace}/{self.svc.metadata.name}"

    def invalid(self, *errors: FieldError) -> None:
        err = InvalidObjectError("Service", self.svc.metadata.name, errors)
        self.errors.append(err.kubectl_message())
        self.failed = True

    def internal(self, detail: str) -> None:
        self.errors.append(
            f'Error from server (InternalError): error when creating Service "{self.key}": '
            f"Internal error occurred: {detail}"
        )
        self.failed = True


class _ConfigProblem(ValueError):
    """A service CIDR the allocator cannot use (normally refused when the config is read)."""


@dataclass(slots=True)
class _Allocators:
    by_family: dict[str, ServiceIPAllocator]
    primary: str
    node_ports: NodePortAllocator
    pool: LoadBalancerPool | None
    ip_taken: dict[int, set[IPAddress]]
    port_taken: set[int]
    lb_taken: set[IPAddress]
    lb_cursors: dict[int, Iterator[IPAddress]] = field(default_factory=dict)

    @classmethod
    def build(cls, config: ClusterConfig) -> _Allocators:
        by_family: dict[str, ServiceIPAllocator] = {}
        primary = IPV4
        for i, cidr in enumerate(config.service_subnets):
            try:
                alloc = ServiceIPAllocator(cidr)
            except ValueError as e:
                raise _ConfigProblem(
                    f'The Cluster "{config.name}" is invalid: networking.serviceSubnet: '
                    f'Invalid value: "{cidr}": {e}'
                ) from None
            fam = IPV6 if alloc.version == 6 else IPV4
            by_family.setdefault(fam, alloc)
            if i == 0:
                primary = fam
        lo, hi = config.node_port_range
        pool: LoadBalancerPool | None
        try:
            pool = LoadBalancerPool(config.load_balancer_pool) if config.load_balancer_pool else None
        except ValueError:
            pool = None
        return cls(
            by_family=by_family,
            primary=primary,
            node_ports=NodePortAllocator(f"{lo}-{hi}"),
            pool=pool,
            ip_taken={4: set(), 6: set()},
            port_taken=set(),
            lb_taken=set(),
        )


# ------------------------------------------------------------------------------------- prepare


def _normalized_ips(svc: Service) -> list[str]:
    """v1 -> internal conversion: ``clusterIP`` alone means ``clusterIPs: [clusterIP]``."""
    if svc.spec.cluster_ips:
        return list(svc.spec.cluster_ips)
    return [svc.spec.cluster_ip] if svc.spec.cluster_ip else []


def _merge_previous(w: _Work, fixed_ip: str | None) -> None:
    """Update semantics: what the user's manifest leaves out, the live object keeps.

    ``kubectl apply`` of a manifest without clusterIP/nodePort patches the live Service, which
    keeps what was allocated. podnet receives the manifest and the previous state, so it merges
    them the same way here.
    """
    svc, prev = w.svc, w.prev
    ips = _normalized_ips(svc)
    w.policy = svc.spec.ip_family_policy
    w.families = list(svc.spec.ip_families)
    w.cluster_ips = ips
    w.ports = list(svc.spec.ports)
    w.health_check = svc.spec.health_check_node_port
    external = svc.spec.type == "ExternalName"
    if prev is not None and not external and prev.spec.type != "ExternalName":
        prev_ips = _normalized_ips(prev)
        if not ips or (
            not svc.spec.cluster_ips and len(prev_ips) > len(ips) and prev_ips[: len(ips)] == ips
        ):
            # nothing asked, or only ``clusterIP`` (the live ``clusterIPs`` carries the rest)
            w.cluster_ips = list(prev_ips)
            if not w.families:
                w.families = list(prev.spec.ip_families)
        elif prev_ips and len(prev_ips) == len(ips) and not (
            prev_ips[0] == NONE and ips[0] == NONE
        ):
            bad = [
                FieldError.invalid(f"spec.clusterIPs[{i}]", list(ips), "may not change once set")
                for i, ip in enumerate(prev_ips)
                if ip != ips[i]
            ]
            if bad:
                w.invalid(*bad)
                return
        if w.policy is None:
            w.policy = prev.spec.ip_family_policy
    if not w.cluster_ips and fixed_ip is not None and not external:
        w.cluster_ips = [fixed_ip]
    if prev is not None and svc.spec.type in ("NodePort", "LoadBalancer") and prev.spec.type in (
        "NodePort",
        "LoadBalancer",
    ):
        held: dict[tuple[int, str], int] = {}
        for p in prev.spec.ports:
            if p.node_port:
                held.setdefault((p.port, p.protocol), p.node_port)
        w.ports = [
            replace(p, node_port=held.get((p.port, p.protocol), 0)) if not p.node_port else p
            for p in w.ports
        ]
        if needs_health_check(svc) and not w.health_check and needs_health_check(prev):
            w.health_check = prev.spec.health_check_node_port
    # ranks: 0 = held by a system object or a Service being deleted, 1 = kept, 2 = new request
    if w.system:
        w.ip_rank = w.port_rank = w.lb_rank = 0
    elif prev is not None:
        prev_ips_set = set(_normalized_ips(prev))
        if set(w.cluster_ips) <= prev_ips_set:
            w.ip_rank = 1
        prev_ports = {p.node_port for p in prev.spec.ports if p.node_port}
        prev_ports.add(prev.spec.health_check_node_port)
        mine = {p.node_port for p in w.ports if p.node_port}
        if w.health_check:
            mine.add(w.health_check)
        if mine <= prev_ports:
            w.port_rank = 1
        w.lb_rank = 1


def _init_ip_families(w: _Work, al: _Allocators) -> None:
    """``initIPFamilyFields`` for a create (an update arrives here with the live values merged)."""
    spec = w.svc.spec
    if spec.type == "ExternalName":
        return
    selectorless = not spec.selector
    headless = bool(w.cluster_ips) and w.cluster_ips[0] == NONE
    if w.policy is None:
        w.policy = REQUIRE_DUAL if headless and selectorless else SINGLE
    errors: list[FieldError] = []
    for i, ip in enumerate(w.cluster_ips):
        if ip == NONE or ip == "":
            continue
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            errors.append(
                FieldError.invalid(
                    f"spec.clusterIPs[{i}]",
                    ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    if not (w.cluster_ips and w.cluster_ips[0] == NONE):
        for i, ip in enumerate(w.cluster_ips[: len(w.families)]):
            if ip and ip_family(ip) != w.families[i]:
                errors.append(
                    FieldError.invalid(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an {w.families[i]} value as indicated by `ipFamilies[{i}]`",
                    )
                )
    if errors:
        w.invalid(*errors)
        return
    if w.policy == SINGLE:
        if len(w.cluster_ips) == 2:
            errors.append(
                FieldError.invalid(
                    "spec.ipFamilyPolicy",
                    w.policy,
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs "
                    "are specified",
                )
            )
        if len(w.families) == 2:
            errors.append(
                FieldError.invalid(
                    "spec.ipFamilyPolicy",
                    w.policy,
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families "
                    "are specified",
                )
            )
    for i, ip in enumerate(w.cluster_ips):
        if ip == NONE:
            break
        if ip == "":
            continue
        fam = ip_family(ip)
        if i >= len(w.families):
            if fam not in al.by_family:
                errors.append(
                    FieldError.invalid(
                        f"spec.clusterIPs[{i}]",
                        list(w.cluster_ips),
                        f"{fam} is not configured on this cluster",
                    )
                )
            else:
                w.families.append(fam)
    if errors:
        w.invalid(*errors)
        return
    if headless and selectorless:
        if not w.families:
            w.families = [al.primary]
        if len(w.families) < 2 and w.policy != SINGLE:
            w.families.append(_other(w.families[0]))
        return
    if w.policy == REQUIRE_DUAL and len(al.by_family) < 2:
        errors.append(
            FieldError.invalid(
                "spec.ipFamilyPolicy", w.policy, "this cluster is not configured for dual-stack services"
            )
        )
    for i, fam in enumerate(w.families):
        if fam not in al.by_family:
            errors.append(
                FieldError.invalid(f"spec.ipFamilies[{i}]", fam, "not configured on this cluster")
            )
    if errors:
        w.invalid(*errors)
        return
    if not w.families:
        w.families = [al.primary]
    if w.policy != SINGLE and len(w.families) == 1 and len(al.by_family) == 2:
        w.families.append(_other(w.families[0]))


# ------------------------------------------------------------------------------------- ClusterIPs


def _is_headless(w: _Work) -> bool:
    return bool(w.cluster_ips) and w.cluster_ips[0] == NONE


def _claim_cluster_ips(w: _Work, al: _Allocators) -> None:
    """Reserve the clusterIPs the Service names (all of them, or none, as a transaction)."""
    if w.failed or w.svc.spec.type == "ExternalName" or _is_headless(w):
        return
    while len(w.cluster_ips) < len(w.families):
        w.cluster_ips.append("")  # upstream's "allocate me" marker
    wanted: list[tuple[int, IPAddress]] = []
    for fam, ip in zip(w.families, w.cluster_ips):
        if not ip:
            continue
        alloc = al.by_family[fam]
        address = ipaddress.ip_address(ip)
        taken = al.ip_taken[address.version]
        try:
            if not alloc.contains(address):
                raise AllocationError(
                    f"failed to allocate IP {ip}: {_NOT_IN_NETWORK}", detail=_NOT_IN_NETWORK
                )
            if any(address == a for _, a in wanted):
                raise AllocationError(f"failed to allocate IP {ip}: provided IP is already allocated")
            alloc.allocate_static(address, taken)
        except AllocationError as e:
            w.invalid(FieldError.invalid("spec.clusterIPs", list(w.cluster_ips), str(e)))
            return
        wanted.append((address.version, address))
    for version, address in wanted:
        al.ip_taken[version].add(address)


def _dynamic_cluster_ips(w: _Work, al: _Allocators) -> None:
    if w.failed or w.svc.spec.type == "ExternalName" or _is_headless(w):
        return
    got: list[tuple[int, IPAddress]] = []
    for i, fam in enumerate(w.families):
        if w.cluster_ips[i]:
            continue
        alloc = al.by_family[fam]
        key = w.key if i == 0 else f"{w.key}/{fam}"
        try:
            address = alloc.allocate(key, al.ip_taken[alloc.version])
        except AllocationError as e:
            for version, a in got:
                al.ip_taken[version].discard(a)
            w.internal(str(e))
            return
        al.ip_taken[alloc.version].add(address)
        got.append((alloc.version, address))
        w.cluster_ips[i] = str(address)


# ------------------------------------------------------------------------------------- NodePorts


def _claim_node_ports(w: _Work, al: _Allocators) -> None:
    """``initNodePorts`` up to the point of dynamic allocation, as one transaction."""
    svc = w.svc
    if w.failed or svc.spec.type not in ("NodePort", "LoadBalancer"):
        return
    should = _should_allocate_node_ports(svc)
    mine: set[int] = set()
    claims: list[tuple[int, int]] = []  # (index, nodePort)
    next_group = -1

    def static(i: int, port: int) -> bool:
        try:
            if port in mine:
                raise AllocationError("provided port is already allocated")
            al.node_ports.allocate_static(port, al.port_taken)
        except AllocationError as e:
            w.invalid(FieldError.invalid(f"spec.ports[{i}].nodePort", port, str(e)))
            return False
        mine.add(port)
        claims.append((i, port))
        return True

    for i, sp in enumerate(w.ports):
        if sp.node_port == 0 and not should:
            continue
        allocated = w.port_groups.get(sp.port, 0)
        if allocated == 0:
            requested = next((p.node_port for p in w.ports if p.port == sp.port and p.node_port), 0)
            if requested:
                if not static(i, requested):
                    return
                w.ports[i] = replace(sp, node_port=requested)
                w.port_groups[sp.port] = requested
            else:
                w.port_groups[sp.port] = next_group
                w.pending_groups[next_group] = sp.port
                next_group -= 1
        elif sp.node_port != allocated:
            if sp.node_port == 0:
                if allocated > 0:
                    w.ports[i] = replace(sp, node_port=allocated)
            elif not static(i, sp.node_port):
                return
    if needs_health_check(svc):
        if w.health_check:
            port = w.health_check
            try:
                if port in mine:
                    raise AllocationError("provided port is already allocated")
                al.node_ports.allocate_static(port, al.port_taken)
            except AllocationError as e:
                w.internal(f"failed to allocate requested HealthCheck NodePort {port}: {e}")
                return
            mine.add(port)
        else:
            w.pending_health_check = True
    al.port_taken.update(mine)


def _dynamic_node_ports(w: _Work, al: _Allocators) -> None:
    if w.failed:
        return
    got: list[int] = []

    def undo() -> None:
        for port in got:
            al.port_taken.discard(port)

    resolved: dict[int, int] = {}
    for group, port_number in sorted(w.pending_groups.items(), reverse=True):
        try:
            port = al.node_ports.allocate(f"{w.key}:{port_number}", al.port_taken)
        except AllocationError as e:
            undo()
            w.internal(str(e))
            return
        al.port_taken.add(port)
        got.append(port)
        resolved[group] = port
    if resolved:
        for i, sp in enumerate(w.ports):
            group = w.port_groups.get(sp.port, 0)
            if sp.node_port == 0 and group in resolved:
                w.ports[i] = replace(sp, node_port=resolved[group])
    if w.pending_health_check:
        try:
            port = al.node_ports.allocate(f"{w.key}:healthCheckNodePort", al.port_taken)
        except AllocationError as e:
            undo()
            w.internal(f"failed to allocate a HealthCheck NodePort 0: {e.detail}")
            return
        al.port_taken.add(port)
        w.health_check = port


# ------------------------------------------------------------------------------------- LoadBalancer


def _lb_managed(svc: Service) -> bool:
    """MetalLB (default config) serves LoadBalancer Services that name no other class."""
    return svc.spec.type == "LoadBalancer" and svc.spec.load_balancer_class is None


def _requested_lb_ips(svc: Service) -> list[str]:
    for key in LB_IPS_ANNOTATIONS:
        value = svc.metadata.annotations.get(key)
        if value:
            return [v.strip() for v in value.split(",") if v.strip()]
    return [svc.spec.load_balancer_ip] if svc.spec.load_balancer_ip else []


def _with_vip(entries: Sequence[LoadBalancerIngress]) -> list[LoadBalancerIngress]:
    """API defaulting of ``ipMode`` (LoadBalancerIPMode): ``VIP`` wherever an ip is set."""
    return [replace(e, ip_mode="VIP") if e.ip and e.ip_mode is None else e for e in entries]


def _claim_lb(w: _Work, al: _Allocators) -> None:
    svc = w.svc
    if w.failed or not _lb_managed(svc):
        return
    given = list(svc.status.load_balancer.ingress)
    if not given and w.prev is not None and _lb_managed(w.prev):
        given = list(w.prev.status.load_balancer.ingress)
    if given:
        # Honoured as given (a snapshot of a real cluster, or what the Service already has).
        for e in given:
            if e.ip:
                try:
                    al.lb_taken.add(ipaddress.ip_address(e.ip))
                except ValueError:
                    pass
        w.lb_ingress = _with_vip(given)
        return
    requested = _requested_lb_ips(svc)
    if not requested:
        w.lb_dynamic = True
        return
    if al.pool is None:
        return
    chosen: list[IPAddress] = []
    for text in requested:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return
        if not al.pool.contains(address) or address in al.lb_taken or address in chosen:
            return  # MetalLB: AllocationFailed event, the Service stays <pending>
        chosen.append(address)
    al.lb_taken.update(chosen)
    w.lb_ingress = [LoadBalancerIngress(ip=str(a), ip_mode="VIP") for a in chosen]


def _pool_order(pool: LoadBalancerPool, version: int) -> Iterator[IPAddress]:
    """The pool's usable addresses of one family, in the order MetalLB hands them out."""
    for network in pool.networks:
        if network.version != version:
            continue
        for value in range(int(network.network_address), int(network.broadcast_address) + 1):
            address = ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
            if pool.contains(address):
                yield address


def _dynamic_lb(w: _Work, al: _Allocators) -> None:
    """MetalLB's choice: the lowest free address of the pool, per family of the Service.

    During this phase addresses are only ever taken, so the lowest free one never moves
    backwards: one cursor per family walks the pool once for all Services (the same answer as
    ``LoadBalancerPool.allocate`` without re-sorting the taken set for every Service).
    """
    if w.failed or not w.lb_dynamic or al.pool is None:
        return
    entries: list[LoadBalancerIngress] = []
    for fam in w.families or [al.primary]:
        version = _version(fam)
        cursor = al.lb_cursors.get(version)
        if cursor is None:
            cursor = _pool_order(al.pool, version)
            al.lb_cursors[version] = cursor
        address = next((a for a in cursor if a not in al.lb_taken), None)
        if address is None:
            continue  # pool exhausted (or no such family in it): <pending>
        al.lb_taken.add(address)
        entries.append(LoadBalancerIngress(ip=str(address), ip_mode="VIP"))
    if entries:
        w.lb_ingress = entries


# ------------------------------------------------------------------------------------- result


def _result(w: _Work) -> Service:
    if w.failed:
        return w.svc
    svc = w.svc
    spec = svc.spec
    changes: dict[str, object] = {}
    if spec.type != "ExternalName":
        ips = w.cluster_ips if w.cluster_ips else []
        if _is_headless(w):
            ips = [NONE]
        changes.update(
            cluster_ip=ips[0] if ips else "",
            cluster_ips=tuple(ips),
            ip_families=tuple(w.families),
            ip_family_policy=w.policy,
        )
    if spec.type in ("NodePort", "LoadBalancer"):
        changes["ports"] = tuple(w.ports)
        if needs_health_check(svc):
            changes["health_check_node_port"] = w.health_check
    out = replace(svc, spec=replace(spec, **changes))  # type: ignore[arg-type]
    if w.lb_ingress is not None:
        status = replace(
            out.status, load_balancer=LoadBalancerStatus(ingress=tuple(w.lb_ingress))
        )
        out = replace(out, status=status)
    return out


def allocate(
    services: list[Service],
    config: ClusterConfig,
    nodes: tuple[Node, ...],
    previous: ClusterState | None,
    applied: frozenset[ObjectRef],
    held: ServiceAllocations | None = None,
) -> tuple[list[Service], list[str]]:
    """ClusterIPs, ipFamilies, NodePorts, health check ports and LoadBalancer addresses.

    Returns the Services (in the order given) with what the API server and the LoadBalancer
    controller would have filled in, and every error, each a complete message in kubectl's
    words naming the Service. A Service with an error is returned unchanged. ``nodes`` are not
    needed by the allocation itself; the parameter keeps the controllers' common signature.
    ``held`` are allocations of Services not passed (an incremental reconcile passes only the
    Services of the namespaces that changed): they are taken before anything is claimed.
    """
    del nodes
    try:
        al = _Allocators.build(config)
    except _ConfigProblem as e:
        return list(services), [str(e)]
    if held is not None:
        for version, ips in held.cluster_ips.items():
            al.ip_taken.setdefault(version, set()).update(ips)
        al.port_taken.update(held.node_ports)
        al.lb_taken.update(held.lb_ips)
    works: list[_Work] = []
    for svc in services:
        prev_obj = previous.find(svc.ref) if previous is not None else None
        prev = prev_obj if isinstance(prev_obj, Service) else None
        system = svc.ref not in applied or svc.metadata.deletion_timestamp is not None
        w = _Work(svc=svc, prev=prev, system=system)
        fixed = FIXED_INDEXES.get((svc.metadata.namespace, svc.metadata.name))
        fixed_ip = None
        if fixed is not None and prev is None and al.primary in al.by_family:
            try:
                fixed_ip = str(al.by_family[al.primary].nth(fixed))
            except ValueError:
                fixed_ip = None
        _merge_previous(w, fixed_ip)
        if not w.failed:
            _init_ip_families(w, al)
        works.append(w)

    def by(rank: Callable[[_Work], int]) -> list[_Work]:
        return sorted(works, key=lambda w: (rank(w), w.ref))

    for w in by(lambda w: w.ip_rank):
        _claim_cluster_ips(w, al)
    for w in by(lambda w: 0 if w.system else 1):
        _dynamic_cluster_ips(w, al)
    for w in by(lambda w: w.port_rank):
        _claim_node_ports(w, al)
    for w in by(lambda w: 0 if w.system else 1):
        _dynamic_node_ports(w, al)
    for w in by(lambda w: w.lb_rank):
        _claim_lb(w, al)
    for w in by(lambda w: 0 if w.system else 1):
        _dynamic_lb(w, al)

    errors: list[str] = []
    for w in sorted(works, key=lambda w: w.ref):
        errors.extend(w.errors)
    return [_result(w) for w in works], errors
