"""What kube-proxy does with a new connection, on a given node, and why.

Theory of operation
-------------------
A new connection meets kube-proxy's table on the node where it enters netfilter: the client's
node for a pod or host process, the node owning the address for a NodePort, the node that
answers ARP for a LoadBalancer IP (MetalLB layer-2 style). :func:`outcome` walks the packet
through the same chains :mod:`podnet.proxy.nftables` compiles, in the kernel's order, and records
every rule that decided something, with the chain names ``podnet proxy rules`` prints:

1. ``filter-prerouting-pre-dnat`` (``filter-output-pre-dnat`` for the node's own traffic) →
   ``firewall-check``: a LoadBalancer IP with ``loadBalancerSourceRanges`` drops other
   sources — pods and nodes included, NodePorts not;
2. ``nat-prerouting`` / ``nat-output`` → ``services``: the ``service-ips`` map (ClusterIP →
   ``service-…``/``local-…``; external and LoadBalancer IPs → ``external-…``) and, for this
   node's primary IP only, ``service-nodeports``;
3. the Service's chains: masquerade marks (an off-cluster client of a ClusterIP; any client of
   an external address under eTP Cluster; the node itself under eTP Local), the eTP Local
   short-circuits (pods and the node itself use every endpoint, outside clients only this node's),
   session affinity, ``numgen`` — simulated with a seeded generator, so that N successive
   connections are reproducible — and the endpoint chain (hairpin mark, DNAT);
4. when nothing was DNATed, ``filter-input`` / ``filter-forward`` / ``filter-output``: the
   ``no-endpoint-nodeports`` and ``no-endpoint-services`` maps (``goto reject-chain`` when the
   Service has no endpoint anywhere, ``drop`` when none fits its traffic policy), then
   ``cluster-ips-check`` (a ClusterIP on a port it does not serve is rejected, an unallocated
   address of the service CIDR dropped);
5. ``nat-postrouting`` → ``masquerading`` when marked: the backend sees the node's address.

``reject`` sends ICMP port unreachable: a TCP or SCTP client gets "connection refused", a UDP
client "ICMP port unreachable"; a drop is a timeout. A packet no rule touches is
``passthrough``: not a Service address here. If it is addressed to another node, that node's
kube-proxy gets its turn (a pod connecting to another node's NodePort).

The health-check NodePort of an eTP Local LoadBalancer Service is answered by kube-proxy itself
(``pkg/proxy/healthcheck``): HTTP 200 with ``localEndpoints`` > 0, else 503, and the JSON body
kube-proxy writes (see :func:`health_check`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from podnet.api.addresses import network
from podnet.proxy.naming import ServicePortName
from podnet.proxy.nftables import (
    CLUSTER_IPS,
    CLUSTER_IPS_CHECK,
    FIREWALL_CHECK,
    FIREWALL_IPS,
    MARK_MASQ,
    MASQUERADING,
    NO_ENDPOINT_NODEPORTS,
    NO_ENDPOINT_SERVICES,
    NODEPORT_ENDPOINTS_CHECK,
    NODEPORT_IPS,
    REJECT_CHAIN,
    SERVICE_ENDPOINTS_CHECK,
    SERVICE_IPS,
    SERVICE_NODEPORTS,
    SERVICES,
    NodeContext,
    PortRules,
    firewall_sources,
    render_port,
)
from podnet.proxy.service_map import (
    Announcement,
    EndpointInfo,
    Family,
    ServicePlan,
    ServicePortInfo,
    family_of,
    parse_ip_sloppy,
)

__all__ = [
    "Backend",
    "Connection",
    "HealthCheck",
    "ProxyOutcome",
    "ProxyStep",
    "Verdict",
    "health_check",
    "outcome",
    "service_outcome",
]

Verdict = Literal["forwarded", "passthrough", "rejected", "dropped", "answered", "not-proxied"]
SourceClass = Literal["pod", "node", "external"]
MasqueradeAddress = Callable[[str, "Backend | None"], str]


@dataclass(frozen=True, slots=True)
class Backend:
    """One endpoint a connection can be DNATed to."""

    ip: str
    port: int
    #: ``ns/name`` of the pod, None for an endpoint that is not a pod (selector-less Service).
    pod: str | None
    node: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"pod": self.pod, "ip": self.ip, "port": self.port}

    @classmethod
    def of(cls, e: EndpointInfo) -> Backend:
        return cls(e.ip, e.port, e.pod, e.node_name or None)


@dataclass(frozen=True, slots=True)
class Connection:
    """One of N successive new connections from the same client."""

    backend: Backend
    #: The client's address was rewritten (masquerade) on the way to the backend.
    masquerade: bool
    #: The source address the backend sees.
    source_seen: str
    #: This connection went to its backend because of session affinity.
    by_affinity: bool

    def to_dict(self) -> dict[str, Any]:
        return self.backend.to_dict()


@dataclass(frozen=True, slots=True)
class ProxyStep:
    """One rule that applied: on which node, in which chain, the rule text, and what it did.

    A chain in parentheses is not an nftables chain but a fact around them: ``(network)`` (which
    node the packet enters), ``(routing)`` (handed to another node), ``(kube-proxy)`` (its
    health-check listener). An empty ``rule`` means the packet reached the end of ``chain``
    without a match."""

    node: str
    chain: str
    rule: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"node": self.node, "chain": self.chain, "rule": self.rule, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """kube-proxy's answer on a Service's healthCheckNodePort (``pkg/proxy/healthcheck``)."""

    namespace: str
    name: str
    node: str
    port: int
    local_endpoints: int
    service_proxy_healthy: bool
    status: int
    body: str
    headers: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": f"{self.namespace}/{self.name}",
            "node": self.node,
            "port": self.port,
            "status": self.status,
            "localEndpoints": self.local_endpoints,
            "body": self.body,
        }


@dataclass(frozen=True, slots=True)
class ProxyOutcome:
    """What kube-proxy does with one new connection (and N successive ones)."""

    verdict: Verdict
    reason: str
    #: "connected", "connection refused", "ICMP port unreachable", "timeout", or "" when
    #: kube-proxy does not decide (passthrough, not-proxied).
    client_sees: str
    #: The node whose kube-proxy rules decided (None when the packet reached no node).
    node: str | None
    #: How the destination was reached: ClusterIP, NodePort, LoadBalancer, ExternalIP,
    #: HealthCheckNodePort — or None.
    entry: str | None
    service: ServicePortName | None
    #: How kube-proxy's rules classify the client on ``node``: a pod (in the pod CIDR), the
    #: node itself (``fib saddr type local``), or anything else ("external").
    source_class: SourceClass
    source_ip: str
    dest_ip: str
    dest_port: int
    protocol: str
    backend: Backend | None = None
    #: Every backend this connection may reach.
    candidates: tuple[Backend, ...] = ()
    #: The backends of N successive new connections from this client (seeded).
    connections: tuple[Connection, ...] = ()
    masquerade: bool = False
    #: The source address the (first) backend sees; None without a backend.
    source_seen: str | None = None
    #: Under eTP Local / unmasqueraded paths the client's own address reaches the backend.
    source_preserved: bool = False
    announcement: Announcement | None = None
    health_check: HealthCheck | None = None
    steps: tuple[ProxyStep, ...] = ()

    @property
    def chains(self) -> tuple[str, ...]:
        """The chains traversed, in order, without repeats."""
        seen: dict[str, None] = {}
        for s in self.steps:
            seen.setdefault(s.chain, None)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "client_sees": self.client_sees,
            "node": self.node,
            "entry": self.entry,
            "service": str(self.service) if self.service else None,
            "source_class": self.source_class,
            "backend": self.backend.to_dict() if self.backend else None,
            "client_ip_seen": self.source_seen,
            "masquerade": self.masquerade,
            "candidates": [b.to_dict() for b in self.candidates],
            "connections": [c.to_dict() for c in self.connections],
            "announcement": (
                {"ip": self.announcement.ip, "node": self.announcement.node,
                 "rule": self.announcement.rule} if self.announcement else None
            ),
            "health_check": self.health_check.to_dict() if self.health_check else None,
            "steps": [s.to_dict() for s in self.steps],
        }


# ----------------------------------------------------------------------------------- health


def health_check(plan: ServicePlan, node: str, namespace: str, name: str,
                 *, proxy_healthy: bool = True) -> HealthCheck | None:
    """kube-proxy's reply on ``node`` to ``GET /`` (any path) on the Service's
    healthCheckNodePort, or None when the Service has none (only LoadBalancer Services with
    externalTrafficPolicy Local do).

    The count is the number of distinct IPs of ready endpoints on this node over every port of
    the Service; the status is 200 when it is not zero and kube-proxy is healthy, else 503.
    """
    entry = plan.service(namespace, name)
    if entry is None:
        return None
    fam: Family = family_of(entry.cluster_ips[0]) if entry.cluster_ips else 4
    ports = entry.ports(fam)
    hc = next((p.health_check_node_port for p in ports if p.health_check_node_port), 0)
    if not hc:
        return None
    count = plan.local_ready_endpoints(entry, node, fam)
    healthy = "true" if proxy_healthy else "false"
    body = (
        "{\n"
        '\t"service": {\n'
        f'\t\t"namespace": "{namespace}",\n'
        f'\t\t"name": "{name}"\n'
        "\t},\n"
        f'\t"localEndpoints": {count},\n'
        f'\t"serviceProxyHealthy": {healthy}\n'
        "}"
    )
    status = 200 if count and proxy_healthy else 503
    headers = (("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"))
    return HealthCheck(namespace, name, node, hc, count, proxy_healthy, status, body, headers)


# ----------------------------------------------------------------------------------- outcome


def _canon(ip: str) -> str:
    got = parse_ip_sloppy(ip)
    if got is None:
        raise ValueError(f"not an IP address: {ip!r}")
    return got




def _in(ip: str, cidr: str | None) -> bool:
    if not cidr:
        return False
    return ipaddress.ip_address(ip) in network(cidr)


def _refusal(protocol: str) -> str:
    return "ICMP port unreachable" if protocol == "UDP" else "connection refused"


def _default_masquerade_address(plan: ServicePlan, family: Family) -> MasqueradeAddress:
    def address(node: str, _backend: Backend | None) -> str:
        return plan.node(node).primary_ip(family) or node

    return address


@dataclass
class _Walk:
    """Mutable scratch state of one evaluation."""

    plan: ServicePlan
    family: Family
    src: str
    dst: str
    port: int
    proto: str
    steps: list[ProxyStep] = field(default_factory=list)
    rendered: dict[tuple[str, ServicePortName], PortRules] = field(default_factory=dict)

    def step(self, node: str, chain: str, rule: str, detail: str = "") -> None:
        self.steps.append(ProxyStep(node, chain, rule, detail))

    def render(self, info: ServicePortInfo, ctx: NodeContext) -> PortRules:
        """The port's rules on ``ctx.node`` (rendered once per node and port)."""
        key = (ctx.node, info.name)
        pr = self.rendered.get(key)
        if pr is None:
            pr = render_port(info, ctx)
            self.rendered[key] = pr
        return pr


def outcome(
    plan: ServicePlan,
    node: str | None,
    src_ip: str,
    dst_ip: str,
    dst_port: int,
    protocol: str = "TCP",
    *,
    from_outside: bool = False,
    connections: int = 1,
    seed: int = 0,
    interval_seconds: float = 0.0,
    masquerade_address: MasqueradeAddress | None = None,
) -> ProxyOutcome:
    """The outcome of a new connection ``src_ip`` → ``dst_ip:dst_port/protocol``.

    ``node`` is where the packet meets kube-proxy's rules. When None it is found: for a client
    inside the cluster (``from_outside`` False), the node of the pod or node owning ``src_ip``;
    for a client outside the cluster, the node owning ``dst_ip`` (a NodePort), or the node that
    announces a LoadBalancer or external IP (MetalLB L2 election, named in ``announcement``).

    ``connections`` successive new connections from the same client are simulated with a
    generator seeded by ``seed`` (and the flow), ``interval_seconds`` apart, honouring session
    affinity and its timeout. ``masquerade_address(node, backend)`` gives the address a
    masqueraded connection leaves ``node`` with (default: the node's primary InternalIP; the
    network plugin knows better, e.g. a bridge address for a pod on the same node).
    """
    src = _canon(src_ip)
    dst = _canon(dst_ip)
    proto = protocol.upper()
    if proto not in ("TCP", "UDP", "SCTP"):
        raise ValueError(f'unsupported protocol "{protocol}": supported values: "TCP", "UDP", '
                         '"SCTP"')
    if family_of(src) != family_of(dst):
        raise ValueError(f"{src} and {dst} are not of the same IP family")
    fam: Family = family_of(dst)
    masq_addr = masquerade_address or _default_masquerade_address(plan, fam)
    walk = _Walk(plan, fam, src, dst, dst_port, proto)
    announcement: Announcement | None = None
    if node is None:
        if from_outside:
            addrs = plan.node_addresses()
            if dst in addrs:
                node = addrs[dst]
            else:
                announcement = plan.announcement(dst)
                node = announcement.node
                if node is None:
                    return ProxyOutcome(
                        "dropped",
                        f"no node answers ARP/NDP for {dst}: {announcement.rule}",
                        "timeout", None, None, None, "external", src, dst, dst_port, proto,
                        announcement=announcement,
                    )
                walk.step(node, "(network)", announcement.rule,
                          f"{dst} is announced by node {node}; the packet enters there")
        else:
            node = plan.node_of_ip(src)
            if node is None:
                raise ValueError(f"cannot tell which node {src} is on; pass node=")
    result = _evaluate(walk, node, connections, seed, interval_seconds, masq_addr, hop=0)
    if announcement is not None:
        result = dataclasses.replace(result, announcement=announcement)
    return result


def _evaluate(
    walk: _Walk,
    node: str,
    n_connections: int,
    seed: int,
    interval: float,
    masq_addr: MasqueradeAddress,
    hop: int,
) -> ProxyOutcome:
    plan, src, dst, port, proto = walk.plan, walk.src, walk.dst, walk.port, walk.proto
    fam = walk.family
    ctx = NodeContext.of(plan, node, fam)
    info_node = plan.node(node)
    local_ips = set(info_node.internal_ips)
    src_class: SourceClass = (
        "node" if src in local_ips else "pod" if _in(src, ctx.cluster_cidr) else "external"
    )
    ipx = ctx.ipx
    pre_chain = "filter-output-pre-dnat" if src_class == "node" else "filter-prerouting-pre-dnat"
    nat_chain = "nat-output" if src_class == "node" else "nat-prerouting"
    idx = plan.index(fam)
    key = (dst, proto, port)
    tuple_text = f"{dst} . {proto.lower()} . {port}"

    def done(verdict: Verdict, reason: str, client: str, **kw: Any) -> ProxyOutcome:
        return ProxyOutcome(verdict, reason, client, node, kw.pop("entry", None),
                            kw.pop("service", None), src_class, src, dst, port, proto,
                            steps=tuple(walk.steps), **kw)

    # kube-proxy's own listener: the health-check NodePort.
    if dst in local_ips and proto == "TCP" and port in idx.health_ports:
        entry = idx.health_ports[port]
        hc = health_check(plan, node, entry.namespace, entry.name)
        if hc is not None:
            walk.step(node, "(kube-proxy)", f"healthCheckNodePort {port}",
                      f"no rule matches; kube-proxy's health server on {node} answers HTTP "
                      f"{hc.status} with localEndpoints {hc.local_endpoints}")
            return done("answered", f"kube-proxy on {node} answers the health check of "
                        f"{entry.namespace}/{entry.name}: HTTP {hc.status} "
                        f"(localEndpoints {hc.local_endpoints})", "connected",
                        entry="HealthCheckNodePort", health_check=hc)

    entries = idx.service_ips.get(key, [])

    # 1. loadBalancerSourceRanges, before DNAT.
    for info, kind in entries:
        if kind != "LoadBalancer":
            continue
        pr = walk.render(info, ctx)
        if not pr.uses_firewall_chain:
            break
        walk.step(node, pre_chain, f"ct state new jump {FIREWALL_CHECK}")
        walk.step(node, FIREWALL_CHECK,
                  f"{ipx} daddr . meta l4proto . th dport vmap @{FIREWALL_IPS}",
                  f"{tuple_text} : goto {pr.firewall_chain}")
        allowed = firewall_sources(info, ctx)
        rule = f"{ipx} saddr != {{ {allowed} }} drop"
        if not any(_in(src, a if "/" in a else f"{a}/{128 if fam == 6 else 32}")
                   for a in allowed.split(" , ")):
            walk.step(node, pr.firewall_chain, rule,
                      f"{src} is not in loadBalancerSourceRanges: dropped")
            return done("dropped", f"{src} is not allowed by the loadBalancerSourceRanges of "
                        f"{info.name.service} ({', '.join(info.load_balancer_source_ranges)})",
                        "timeout", entry="LoadBalancer", service=info.name)
        walk.step(node, pr.firewall_chain, rule, f"{src} is allowed; the rule does not match")
        break

    # 2. nat: the services chain.
    walk.step(node, nat_chain, f"jump {SERVICES}")
    target: tuple[PortRules, str, str] | None = None  # (rules, entry kind, chain)
    hit: tuple[PortRules, str] | None = None
    if entries:
        info, kind = entries[0]
        pr = walk.render(info, ctx)
        hit = (pr, kind)
        if kind == "ClusterIP":
            if pr.has_internal_endpoints:
                target = (pr, kind, pr.internal_chain)
        elif pr.categorized.has_any:
            target = (pr, kind, pr.external_chain)
        if target is not None:
            walk.step(node, SERVICES, f"{ipx} daddr . meta l4proto . th dport vmap @{SERVICE_IPS}",
                      f"{tuple_text} : goto {target[2]}")
    if target is None and hit is None and dst == ctx.node_ip:
        np = idx.node_ports.get((proto, port))
        if np is not None:
            pr = walk.render(np, ctx)
            hit = (pr, "NodePort")
            if pr.categorized.has_any:
                target = (pr, "NodePort", pr.external_chain)
                walk.step(node, SERVICES, f"{ipx} daddr @{NODEPORT_IPS} meta l4proto . th dport "
                          f"vmap @{SERVICE_NODEPORTS}",
                          f"{proto.lower()} . {port} : goto {pr.external_chain}")
    if target is not None:
        result = _through_service(walk, ctx, node, src_class, target, n_connections, seed,
                                  interval, masq_addr)
        if result is not None:
            return result
        # An eTP Local external chain with no local endpoint lets the packet fall through.

    # 3. filter, after (no) DNAT.
    dst_local = dst in local_ips
    hook = "filter-input" if dst_local else (
        "filter-output" if src_class == "node" else "filter-forward")
    svc = hit[0].info.name if hit else None
    entry_kind = hit[1] if hit else None
    if hook == "filter-input" and dst == ctx.node_ip:
        np = idx.node_ports.get((proto, port))
        if np is not None:
            pr = walk.render(np, ctx)
            verdict = pr.external_filter_verdict
            if verdict:
                walk.step(node, hook, f"ct state new jump {NODEPORT_ENDPOINTS_CHECK}")
                walk.step(node, NODEPORT_ENDPOINTS_CHECK,
                          f"{ipx} daddr @{NODEPORT_IPS} meta l4proto . th dport vmap "
                          f"@{NO_ENDPOINT_NODEPORTS}", f"{proto.lower()} . {port} : {verdict}")
                return _no_endpoints(walk, done, node, pr, verdict, "NodePort", external=True)
    for info, kind in entries:
        pr = walk.render(info, ctx)
        external = kind != "ClusterIP"
        verdict = pr.external_filter_verdict if external else pr.internal_filter_verdict
        if verdict:
            walk.step(node, hook, f"ct state new jump {SERVICE_ENDPOINTS_CHECK}")
            walk.step(node, SERVICE_ENDPOINTS_CHECK,
                      f"{ipx} daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}",
                      f"{tuple_text} : {verdict}")
            return _no_endpoints(walk, done, node, pr, verdict, kind, external=external)
        break
    if hook != "filter-input":
        if dst in idx.cluster_ips:
            owners = ", ".join(sorted({p.name.service for p in idx.cluster_ips[dst]}))
            serves = ", ".join(
                sorted({f"{p.port}/{p.protocol}" for p in idx.cluster_ips[dst]}))
            walk.step(node, hook, f"ct state new jump {CLUSTER_IPS_CHECK}")
            walk.step(node, CLUSTER_IPS_CHECK, f"{ipx} daddr @{CLUSTER_IPS} reject "
                      'comment "Reject traffic to invalid ports of ClusterIPs"',
                      f"{dst} is a ClusterIP of {owners}, which serves {serves}, not "
                      f"{port}/{proto}")
            return done("rejected", f"{dst} is the ClusterIP of {owners} but no port "
                        f"{port}/{proto} is served there (it serves {serves})",
                        _refusal(proto), entry="ClusterIP")
        if any(_in(dst, c) for c in ctx.service_cidrs):
            walk.step(node, hook, f"ct state new jump {CLUSTER_IPS_CHECK}")
            walk.step(node, CLUSTER_IPS_CHECK,
                      f"{ipx} daddr {{ {','.join(ctx.service_cidrs)} }} drop comment "
                      '"Drop traffic to unallocated ClusterIPs"',
                      f"{dst} is in the service CIDR but no Service has it")
            return done("dropped", f"{dst} is in the service CIDR "
                        f"({', '.join(ctx.service_cidrs)}) but is not allocated to any Service",
                        "timeout")

    # Not a Service address on this node: the jump to "services" decided nothing, leave it out.
    if not hit and walk.steps and walk.steps[-1] == ProxyStep(node, nat_chain, f"jump {SERVICES}",
                                                             ""):
        walk.steps.pop()
    owner = plan.node_addresses().get(dst)
    if owner is not None and owner != node and hop == 0:
        walk.step(node, "(routing)", f"to {dst}",
                  f"not a Service address on {node}; routed to node {owner}")
        return _evaluate(walk, owner, n_connections, seed, interval, masq_addr, hop + 1)
    if dst.startswith("127.") or dst == "::1":
        reason = (f"{dst} is a loopback address: kube-proxy's nftables mode accepts NodePorts "
                  "only on the node's primary IP, never on localhost")
    elif hit is not None:
        reason = f"{dst}:{port}/{proto} matches no rule of {hit[0].info.name.service}"
    else:
        reason = f"{dst}:{port}/{proto} is not a Service address on node {node}; " \
                 "kube-proxy leaves the packet alone"
    return done("passthrough", reason, "", service=svc, entry=entry_kind)


def _no_endpoints(walk: _Walk, done: Callable[..., ProxyOutcome], node: str, pr: PortRules,
                  verdict: str, kind: str, *, external: bool) -> ProxyOutcome:
    info = pr.info
    svc = info.name
    if verdict == f"goto {REJECT_CHAIN}":
        walk.step(node, REJECT_CHAIN, "reject", "ICMP port unreachable sent to the client")
        return done("rejected", f"{svc} has no usable endpoint on any node", _refusal(walk.proto),
                    entry=kind, service=svc)
    if external:
        why = (f"{svc} has externalTrafficPolicy Local and no usable endpoint on node {node}; "
               "traffic from outside the cluster is dropped there")
    else:
        why = (f"{svc} has internalTrafficPolicy Local and no usable endpoint on node {node}")
    return done("dropped", why, "timeout", entry=kind, service=svc)


def _through_service(
    walk: _Walk,
    ctx: NodeContext,
    node: str,
    src_class: SourceClass,
    target: tuple[PortRules, str, str],
    n_connections: int,
    seed: int,
    interval: float,
    masq_addr: MasqueradeAddress,
) -> ProxyOutcome | None:
    pr, kind, chain = target
    info = pr.info
    cat = pr.categorized
    src, dst = walk.src, walk.dst
    ipx = ctx.ipx
    masq = False
    masq_why = ""
    policy_chain = chain
    if chain == pr.external_chain:
        if not info.external_policy_local:
            walk.step(node, chain, f"jump {MARK_MASQ}",
                      "externalTrafficPolicy Cluster: marked for masquerade (the backend may be "
                      "on another node)")
            masq, masq_why = True, "externalTrafficPolicy Cluster"
            policy_chain = pr.cluster_chain
            walk.step(node, chain, f"goto {policy_chain}")
        else:
            local = ctx.if_local()
            if local is not None and src_class == "pod":
                walk.step(node, chain, f'{local} goto {pr.cluster_chain} comment '
                          '"short-circuit pod traffic"',
                          "a pod's traffic to an external address of an eTP Local Service may "
                          "use every endpoint, unmasqueraded")
                policy_chain = pr.cluster_chain
            elif src_class == "node":
                walk.step(node, chain, f'fib saddr type local jump {MARK_MASQ} comment '
                          '"masquerade local traffic"', "traffic from the node itself")
                walk.step(node, chain, f'fib saddr type local goto {pr.cluster_chain} comment '
                          '"short-circuit local traffic"')
                masq, masq_why = True, "traffic from the node itself"
                policy_chain = pr.cluster_chain
            elif pr.has_external_endpoints:
                walk.step(node, chain, f"goto {pr.local_chain}",
                          "externalTrafficPolicy Local: only endpoints on this node, client IP "
                          "preserved")
                policy_chain = pr.local_chain
            else:
                walk.step(node, chain, "",
                          f"no endpoint on {node}: no rule matches, the packet leaves the chain "
                          "without DNAT")
                return None
    endpoints = cat.cluster if policy_chain == pr.cluster_chain else cat.local
    assert endpoints, policy_chain
    if policy_chain == pr.internal_chain and dst == info.cluster_ip:
        not_local = ctx.if_not_local()
        if not_local is not None and not _in(src, ctx.cluster_cidr):
            walk.step(node, policy_chain, f"{ipx} daddr {info.cluster_ip} {not_local} jump "
                      f"{MARK_MASQ}", "the client is not a pod: marked for masquerade")
            masq, masq_why = True, "a ClusterIP client outside the pod network"

    # Session affinity and the random pick, for each of N connections.
    rng = random.Random(f"{seed}/{node}/{src}/{dst}:{walk.port}/{walk.proto}")
    eps = list(endpoints)
    affinity: dict[str, float] = {}  # endpoint -> time of last use
    timeout = float(info.sticky_max_age_seconds)
    conns: list[Connection] = []
    first_pick: tuple[int, EndpointInfo, bool] | None = None
    t = 0.0
    for _ in range(max(1, n_connections)):
        chosen: EndpointInfo | None = None
        by_aff = False
        if info.session_affinity:
            for e in eps:
                last = affinity.get(e.endpoint)
                if last is not None and t - last < timeout:
                    chosen, by_aff = e, True
                    break
        if chosen is None:
            chosen = eps[rng.randrange(len(eps))]
        if info.session_affinity:
            affinity[chosen.endpoint] = t
        hairpin = chosen.ip == src
        c_masq = masq or hairpin
        b = Backend.of(chosen)
        seen = masq_addr(node, b) if c_masq else src
        conns.append(Connection(b, c_masq, seen, by_aff))
        if first_pick is None:
            first_pick = (eps.index(chosen), chosen, hairpin)
        t += interval
    assert first_pick is not None
    i, chosen, hairpin = first_pick
    vmap = " , ".join(f"{j} : goto {pr.endpoint_chains[e.endpoint]}" for j, e in enumerate(eps))
    walk.step(node, policy_chain, f"numgen random mod {len(eps)} vmap {{ {vmap} }}",
              f"picked {i} of {len(eps)}: {chosen.endpoint}" +
              (f" (session affinity ClientIP, {info.sticky_max_age_seconds}s: later "
               "connections from this client stick to it)" if info.session_affinity else ""))
    ep_chain = pr.endpoint_chains[chosen.endpoint]
    if hairpin:
        walk.step(node, ep_chain, f"{ipx} saddr {chosen.ip} jump {MARK_MASQ}",
                  "hairpin: the pod reached itself through its Service; marked for masquerade")
        if not masq:
            masq_why = "hairpin"
        masq = True
    if info.session_affinity:
        walk.step(node, ep_chain, f"update @{pr.affinity_sets[chosen.endpoint]} {{ {ipx} saddr }}",
                  f"remember {src} for {info.sticky_max_age_seconds}s")
    walk.step(node, ep_chain, f"meta l4proto {info.name.proto} dnat to {chosen.endpoint}",
              f"DNAT to {chosen.pod or chosen.ip} on node {chosen.node_name or '(unknown)'}")
    backend = conns[0].backend
    if masq:
        walk.step(node, "nat-postrouting", f"jump {MASQUERADING}")
        walk.step(node, MASQUERADING, "masquerade fully-random",
                  f"source rewritten to {conns[0].source_seen} ({masq_why})")
    via = {"ClusterIP": f"ClusterIP {dst}", "NodePort": f"NodePort {dst}:{walk.port}",
           "LoadBalancer": f"LoadBalancer IP {dst}", "ExternalIP": f"external IP {dst}"}[kind]
    reason = f"{via} of {info.name} → {chosen.endpoint}" + (
        f" ({chosen.pod})" if chosen.pod else "")
    if masq:
        reason += f"; source masqueraded to {conns[0].source_seen} ({masq_why})"
    else:
        reason += "; client IP preserved"
    return ProxyOutcome(
        "forwarded", reason, "connected", node, kind, info.name, src_class, src, dst,
        walk.port, walk.proto,
        backend=backend,
        candidates=tuple(Backend.of(e) for e in eps),
        connections=tuple(conns),
        masquerade=masq,
        source_seen=conns[0].source_seen,
        source_preserved=not masq,
        steps=tuple(walk.steps),
    )


def service_outcome(
    plan: ServicePlan,
    node: str | None,
    src_ip: str,
    namespace: str,
    name: str,
    port: int | str,
    protocol: str = "TCP",
    **kw: Any,
) -> ProxyOutcome:
    """The outcome of connecting to ``svc/namespace/name:port``, i.e. to its ClusterIP.

    ``port`` is a port number or a port name. A headless or ExternalName Service is not
    proxied: the outcome says so (``not-proxied``) and names what DNS answers instead.
    """
    entry = plan.service(namespace, name)
    proto = protocol.upper()
    if entry is None:
        raise KeyError(f'service "{namespace}/{name}" not found')
    number: int | None = None
    for pname, pnum, pproto in entry.spec_ports:
        if (pnum == port or (isinstance(port, str) and pname == port)) and pproto == proto:
            number = pnum
            break
    if number is None:
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            number = int(port)
        else:
            raise KeyError(f'service "{namespace}/{name}" has no port named "{port}"')
    if entry.not_proxied is not None:
        src = _canon(src_ip)
        where = node or plan.node_of_ip(src)
        cls: SourceClass = "external"
        if where is not None and where in plan.nodes:
            ctx = NodeContext.of(plan, where, family_of(src))
            cls = ("node" if src in plan.node(where).internal_ips
                   else "pod" if _in(src, ctx.cluster_cidr) else "external")
        return ProxyOutcome(
            "not-proxied", entry.not_proxied, "", where, None, None, cls, src, "", number, proto,
        )
    return outcome(plan, node, src_ip, entry.cluster_ips[0], number, proto, **kw)
