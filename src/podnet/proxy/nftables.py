"""A node's kube-proxy ruleset, laid out exactly as kube-proxy's nftables mode lays it out.

Theory of operation
-------------------
kube-proxy (``--proxy-mode=nftables``) owns one table per IP family, ``ip kube-proxy`` and
``ip6 kube-proxy``. Reproduced from ``pkg/proxy/nftables/proxier.go`` and the golden rulesets of
its ``proxier_test.go`` (re-implemented, not copied):

* **Base chains.** ``filter-prerouting-pre-dnat`` and ``filter-output-pre-dnat`` (filter,
  priority dstnat-10 = -110) see the destination before DNAT and apply
  loadBalancerSourceRanges; ``filter-input``, ``filter-forward``, ``filter-output`` (priority
  filter = 0) see it after DNAT and drop/reject what was *not* load-balanced;
  ``nat-prerouting`` / ``nat-output`` (dstnat = -100) dispatch Services; ``nat-postrouting``
  (srcnat = 100) masquerades what was marked.
* **Dispatch by verdict maps.** ``services`` looks ``daddr . l4proto . dport`` up in
  ``service-ips`` (ClusterIPs → ``service-<H>-…`` or ``local-<H>-…``; external and
  LoadBalancer IPs → ``external-<H>-…``) and, for ``daddr @nodeport-ips``, ``l4proto . dport``
  in ``service-nodeports``. A Service without usable endpoints gets no nat chain at all, only
  an element in ``no-endpoint-services`` / ``no-endpoint-nodeports`` whose verdict is
  ``goto reject-chain`` (no endpoints anywhere) or ``drop`` (none for this traffic policy).
  ``cluster-ips-check`` rejects a ClusterIP on a port it does not serve and drops the rest of the
  service CIDR; ``firewall-check`` sends LoadBalancer IPs with source ranges to
  ``firewall-<H>-…``.
* **Per Service port.** ``service-<H>-ns/svc/proto/port`` (Cluster policy) and
  ``local-<H>-…`` (Local policy) first mark off-cluster ClusterIP clients for masquerade, then,
  with session affinity, ``goto`` the endpoint whose ``affinity-<H>-…`` set holds the client,
  then pick one with ``numgen random mod N vmap { 0 : goto endpoint-…, … }``.
  ``external-<H>-…`` masquerades (eTP Cluster) or short-circuits pod and node traffic to the
  Cluster chain and sends the rest to the Local chain (eTP Local). ``endpoint-<H>-…__ip/port``
  marks hairpin traffic, records affinity and DNATs.
* **Masquerade** is a mark (``mark-for-masquerade``, bit 0x4000) acted on in ``masquerading``:
  ``masquerade fully-random``.

``<H>`` is :func:`podnet.proxy.naming.hash_and_truncate`. The text is knftables' transaction
syntax (``add table ip kube-proxy { comment "rules for kube-proxy" ; }``, ``add chain …``,
``flush chain …``, ``add rule …``, ``add element …``), which ``nft -f`` reads.

Two renderings of one compiled :class:`NodeRuleset`: :meth:`NodeRuleset.transaction` is the
transaction kube-proxy's *first full sync* sends (every chain added then flushed, every map
flushed then filled); :meth:`NodeRuleset.dump` is the resulting table, one ``add`` per object,
in the order knftables' ``Fake.Dump`` prints it (which is how upstream's golden tests are
written). :func:`partial_sync` is kube-proxy's partial sync: only the chains of Services that
changed are re-added and flushed, map elements are added, replaced or deleted one by one, and
chains no longer used are flushed now and deleted by a later transaction
(:attr:`SyncResult.cleanup`), because kernels before 6.2 may still reference them briefly.

Everything here is pure: text in, text out. Loading it is the I/O shell's job.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from podnet.proxy.naming import (
    AFFINITY_PREFIX,
    ENDPOINT_PREFIX,
    EXTERNAL_PREFIX,
    FIREWALL_PREFIX,
    LOCAL_PREFIX,
    SERVICE_PREFIX,
    hash_and_truncate,
    service_port_chain_base,
)
from podnet.proxy.service_map import (
    Categorized,
    EndpointInfo,
    Family,
    ServiceEntry,
    ServicePlan,
    ServicePortInfo,
    categorize,
)

__all__ = [
    "BASE_CHAINS",
    "JUMP_CHAINS",
    "MASQUERADE_MARK",
    "TABLE",
    "NodeContext",
    "NodeRuleset",
    "PortRules",
    "SyncResult",
    "compile_node",
    "full_sync",
    "partial_sync",
    "render_port",
    "sort_transaction",
]

TABLE: Final = "kube-proxy"
MASQUERADE_MARK: Final = "0x4000"

# Fixed chain, set and map names (proxier.go constants).
SERVICES: Final = "services"
SERVICE_IPS: Final = "service-ips"
SERVICE_NODEPORTS: Final = "service-nodeports"
NODEPORT_IPS: Final = "nodeport-ips"
CLUSTER_IPS: Final = "cluster-ips"
SERVICE_ENDPOINTS_CHECK: Final = "service-endpoints-check"
NODEPORT_ENDPOINTS_CHECK: Final = "nodeport-endpoints-check"
NO_ENDPOINT_SERVICES: Final = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS: Final = "no-endpoint-nodeports"
REJECT_CHAIN: Final = "reject-chain"
CLUSTER_IPS_CHECK: Final = "cluster-ips-check"
FIREWALL_IPS: Final = "firewall-ips"
FIREWALL_CHECK: Final = "firewall-check"
MARK_MASQ: Final = "mark-for-masquerade"
MASQUERADING: Final = "masquerading"

#: (name, type, hook, priority): the priority as knftables writes it, a number.
BASE_CHAINS: Final[tuple[tuple[str, str, str, int], ...]] = (
    ("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
    ("filter-output-pre-dnat", "filter", "output", -110),
    ("filter-input", "filter", "input", 0),
    ("filter-forward", "filter", "forward", 0),
    ("filter-output", "filter", "output", 0),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
)

#: (destination chain, source chain, match): the rules jumping from base chains.
JUMP_CHAINS: Final[tuple[tuple[str, str, str], ...]] = (
    (NODEPORT_ENDPOINTS_CHECK, "filter-input", "ct state new"),
    (SERVICE_ENDPOINTS_CHECK, "filter-input", "ct state new"),
    (SERVICE_ENDPOINTS_CHECK, "filter-forward", "ct state new"),
    (SERVICE_ENDPOINTS_CHECK, "filter-output", "ct state new"),
    (FIREWALL_CHECK, "filter-prerouting-pre-dnat", "ct state new"),
    (FIREWALL_CHECK, "filter-output-pre-dnat", "ct state new"),
    (SERVICES, "nat-output", ""),
    (SERVICES, "nat-prerouting", ""),
    (MASQUERADING, "nat-postrouting", ""),
    (CLUSTER_IPS_CHECK, "filter-forward", "ct state new"),
    (CLUSTER_IPS_CHECK, "filter-output", "ct state new"),
)

_SET_COMMENTS: Final = {
    CLUSTER_IPS: "Active ClusterIPs",
    NODEPORT_IPS: "IPs that accept NodePort traffic",
}
_MAP_COMMENTS: Final = {
    NO_ENDPOINT_SERVICES: "vmap to drop or reject packets to services with no endpoints",
    NO_ENDPOINT_NODEPORTS: "vmap to drop or reject packets to service nodeports with no endpoints",
    FIREWALL_IPS: "destinations that are subject to LoadBalancerSourceRanges",
    SERVICE_IPS: "ClusterIP, ExternalIP and LoadBalancer IP traffic",
    SERVICE_NODEPORTS: "NodePort traffic",
}
#: Maps keyed by address . protocol . port (the others by protocol . port).
_ADDR_MAPS: Final = (NO_ENDPOINT_SERVICES, FIREWALL_IPS, SERVICE_IPS)


# ----------------------------------------------------------------------------------- context


@dataclass(frozen=True, slots=True)
class NodeContext:
    """Everything a node's rules depend on besides the Services themselves."""

    node: str
    family: Family
    #: The node's primary IP of the family: the only member of ``nodeport-ips``.
    node_ip: str | None
    zone: str
    #: The pod CIDR of the family (kube-proxy's local-traffic detector), None if none.
    cluster_cidr: str | None
    service_cidrs: tuple[str, ...]

    @classmethod
    def of(cls, plan: ServicePlan, node: str, family: Family = 4) -> NodeContext:
        n = plan.node(node)
        cidrs = plan.cluster_cidrs.get(family, ())
        return cls(
            node=node,
            family=family,
            node_ip=n.primary_ip(family),
            zone=n.zone,
            cluster_cidr=cidrs[0] if cidrs else None,
            service_cidrs=plan.service_cidrs.get(family, ()),
        )

    @property
    def ipx(self) -> str:
        """``ip`` or ``ip6``: the table family, and the payload keyword in rules."""
        return "ip" if self.family == 4 else "ip6"

    @property
    def addr_type(self) -> str:
        return "ipv4_addr" if self.family == 4 else "ipv6_addr"

    @property
    def prefix(self) -> str:
        """``ip kube-proxy``: what follows the object type in every command."""
        return f"{self.ipx} {TABLE}"

    def if_not_local(self) -> str | None:
        """``ip saddr != <pod CIDR>`` — the LocalTrafficDetector's ``IfNotLocalNFT``."""
        return f"{self.ipx} saddr != {self.cluster_cidr}" if self.cluster_cidr else None

    def if_local(self) -> str | None:
        return f"{self.ipx} saddr {self.cluster_cidr}" if self.cluster_cidr else None


# ----------------------------------------------------------------------------------- per port

# Operation kinds in a PortRules' ops, in transaction order.
OP_CHAIN: Final = 0  # ensure chain (add + flush): (OP_CHAIN, name)
OP_ELEM: Final = 1  # (OP_ELEM, container, key, value | None, comment | None)
OP_SET: Final = 2  # affinity set: (OP_SET, name, timeout seconds)
OP_RULE: Final = 3  # (OP_RULE, chain, rule text)

Op = tuple[int, str, str, str | None, str | None]


@dataclass(frozen=True, slots=True, eq=False)
class PortRules:
    """Everything kube-proxy writes for one Service port on one node, and why."""

    info: ServicePortInfo
    categorized: Categorized
    #: Transaction operations in kube-proxy's order (see the OP_* kinds).
    ops: tuple[Op, ...]
    cluster_chain: str
    local_chain: str
    external_chain: str
    firewall_chain: str
    #: chain name of each reachable endpoint, by ``ip:port``.
    endpoint_chains: dict[str, str]
    #: affinity set name of each reachable endpoint, by ``ip:port`` (empty without affinity).
    affinity_sets: dict[str, str]
    uses_cluster_chain: bool
    uses_local_chain: bool
    uses_external_chain: bool
    uses_firewall_chain: bool
    has_internal_endpoints: bool
    has_external_endpoints: bool
    #: The verdict of no-endpoint-* elements: "goto reject-chain", "drop" or "".
    internal_filter_verdict: str
    external_filter_verdict: str

    @property
    def internal_chain(self) -> str:
        """Where ClusterIP traffic goes: the Local chain under internalTrafficPolicy Local."""
        return self.local_chain if self.info.internal_policy_local else self.cluster_chain

    @property
    def external_policy_chain(self) -> str:
        return self.local_chain if self.info.external_policy_local else self.cluster_chain

    def chains(self) -> list[str]:
        return [op[1] for op in self.ops if op[0] == OP_CHAIN]

    def rules(self, chain: str) -> list[str]:
        """The rules of one of this port's chains, in order."""
        return [op[2] for op in self.ops if op[0] == OP_RULE and op[1] == chain]

    def elements(self) -> list[tuple[str, str, str | None, str | None]]:
        return [(op[1], op[2], op[3], op[4]) for op in self.ops if op[0] == OP_ELEM]


def render_port(info: ServicePortInfo, ctx: NodeContext) -> PortRules:
    """kube-proxy's ``syncProxyRules`` loop body for one Service port on one node."""
    cat = categorize(info, ctx.node, ctx.zone)
    spn = info.name
    proto = spn.proto
    ipx = ctx.ipx
    base = service_port_chain_base(spn)
    cluster_chain = SERVICE_PREFIX + base
    local_chain = LOCAL_PREFIX + base
    external_chain = EXTERNAL_PREFIX + base
    fw_chain = FIREWALL_PREFIX + base
    spn_str = str(spn)
    port = str(info.port)

    ep_chain: dict[str, str] = {}
    aff_set: dict[str, str] = {}
    ep_base = f"{spn.namespace}/{spn.name}/{proto}/{spn.port}__"
    for e in cat.all_reachable:
        # endpoint_chain_base(spn, e.ip, e.port), with the per-port part computed once.
        b = hash_and_truncate(f"{ep_base}{e.ip.replace(':', '.')}/{e.port}")
        ep_chain[e.endpoint] = ENDPOINT_PREFIX + b
        if info.session_affinity:
            aff_set[e.endpoint] = AFFINITY_PREFIX + b

    ops: list[Op] = []
    for e in cat.all_reachable:
        ops.append((OP_CHAIN, ep_chain[e.endpoint], "", None, None))

    uses_cluster = bool(cat.cluster) and info.uses_cluster_endpoints
    if uses_cluster:
        ops.append((OP_CHAIN, cluster_chain, "", None, None))
    uses_local = bool(cat.local) and info.uses_local_endpoints
    if uses_local:
        ops.append((OP_CHAIN, local_chain, "", None, None))

    has_any = cat.has_any
    internal_chain = cluster_chain
    has_internal = has_any
    if info.internal_policy_local:
        internal_chain = local_chain
        if not cat.local:
            has_internal = False
    external_policy_chain = cluster_chain
    has_external = has_any
    if info.external_policy_local:
        external_policy_chain = local_chain
        if not cat.local:
            has_external = False

    uses_external = has_any and info.externally_accessible
    if uses_external:
        ops.append((OP_CHAIN, external_chain, "", None, None))

    internal_verdict = external_verdict = ""
    if not has_any:
        internal_verdict = external_verdict = f"goto {REJECT_CHAIN}"
    else:
        if not has_internal:
            internal_verdict = "drop"
        if not has_external:
            external_verdict = "drop"

    # Map and set elements.
    ops.append((OP_ELEM, CLUSTER_IPS, info.cluster_ip, None, None))
    ckey = f"{info.cluster_ip} . {proto} . {port}"
    if has_internal:
        ops.append((OP_ELEM, SERVICE_IPS, ckey, f"goto {internal_chain}", None))
    else:
        ops.append((OP_ELEM, NO_ENDPOINT_SERVICES, ckey, internal_verdict, spn_str))
    for ip in info.external_ips:
        key = f"{ip} . {proto} . {port}"
        if has_any:
            ops.append((OP_ELEM, SERVICE_IPS, key, f"goto {external_chain}", None))
        if not has_external:
            ops.append((OP_ELEM, NO_ENDPOINT_SERVICES, key, external_verdict, spn_str))

    uses_fw = bool(info.load_balancer_vips) and bool(info.load_balancer_source_ranges)
    if uses_fw:
        ops.append((OP_CHAIN, fw_chain, "", None, None))
    for ip in info.load_balancer_vips:
        key = f"{ip} . {proto} . {port}"
        if has_any:
            ops.append((OP_ELEM, SERVICE_IPS, key, f"goto {external_chain}", None))
        if uses_fw:
            ops.append((OP_ELEM, FIREWALL_IPS, key, f"goto {fw_chain}", None))
    if not has_external:
        for ip in info.load_balancer_vips:
            key = f"{ip} . {proto} . {port}"
            ops.append((OP_ELEM, NO_ENDPOINT_SERVICES, key, external_verdict, spn_str))
    if info.node_port:
        key = f"{proto} . {info.node_port}"
        if has_any:
            ops.append((OP_ELEM, SERVICE_NODEPORTS, key, f"goto {external_chain}", None))
        if not has_external:
            ops.append((OP_ELEM, NO_ENDPOINT_NODEPORTS, key, external_verdict, spn_str))

    # Rules.
    if has_internal:
        not_local = ctx.if_not_local()
        if not_local is not None:
            ops.append(
                (OP_RULE, internal_chain,
                 f"{ipx} daddr {info.cluster_ip} {not_local} jump {MARK_MASQ}", None, None)
            )
    if uses_external:
        if not info.external_policy_local:
            ops.append((OP_RULE, external_chain, f"jump {MARK_MASQ}", None, None))
        else:
            local = ctx.if_local()
            if local is not None:
                ops.append(
                    (OP_RULE, external_chain,
                     f'{local} goto {cluster_chain} comment "short-circuit pod traffic"',
                     None, None)
                )
            ops.append(
                (OP_RULE, external_chain,
                 f'fib saddr type local jump {MARK_MASQ} comment "masquerade local traffic"',
                 None, None)
            )
            ops.append(
                (OP_RULE, external_chain,
                 f'fib saddr type local goto {cluster_chain} comment "short-circuit local traffic"',
                 None, None)
            )
        if has_external:
            ops.append((OP_RULE, external_chain, f"goto {external_policy_chain}", None, None))
    if uses_fw:
        ops.append((OP_RULE, fw_chain, f"{ipx} saddr != {{ {firewall_sources(info, ctx)} }} drop",
                    None, None))
    if info.session_affinity:
        for e in cat.all_reachable:
            ops.append((OP_SET, aff_set[e.endpoint], str(info.sticky_max_age_seconds), None, None))
    if uses_cluster:
        assert cat.cluster is not None
        _service_to_endpoint_rules(ops, ipx, info, cluster_chain, cat.cluster, ep_chain, aff_set)
    if uses_local:
        assert cat.local is not None
        _service_to_endpoint_rules(ops, ipx, info, local_chain, cat.local, ep_chain, aff_set)
    for e in cat.all_reachable:
        chain = ep_chain[e.endpoint]
        ops.append((OP_RULE, chain, f"{ipx} saddr {e.ip} jump {MARK_MASQ}", None, None))
        if info.session_affinity:
            ops.append((OP_RULE, chain, f"update @{aff_set[e.endpoint]} {{ {ipx} saddr }}",
                        None, None))
        ops.append((OP_RULE, chain, f"meta l4proto {proto} dnat to {e.endpoint}", None, None))

    return PortRules(
        info=info,
        categorized=cat,
        ops=tuple(ops),
        cluster_chain=cluster_chain,
        local_chain=local_chain,
        external_chain=external_chain,
        firewall_chain=fw_chain,
        endpoint_chains=ep_chain,
        affinity_sets=aff_set,
        uses_cluster_chain=uses_cluster,
        uses_local_chain=uses_local,
        uses_external_chain=uses_external,
        uses_firewall_chain=uses_fw,
        has_internal_endpoints=has_internal,
        has_external_endpoints=has_external,
        internal_filter_verdict=internal_verdict,
        external_filter_verdict=external_verdict,
    )


def firewall_sources(info: ServicePortInfo, ctx: NodeContext) -> str:
    """The allowed sources of a ``firewall-<H>`` chain: the source ranges, plus the
    LoadBalancer IPs themselves when a range contains this node's IP (a node connecting to a
    VIP that is bound locally arrives with the VIP as its source)."""
    sources = list(info.load_balancer_source_ranges)
    allow_node = False
    if ctx.node_ip is not None:
        nip = ipaddress.ip_address(ctx.node_ip)
        allow_node = any(nip in ipaddress.ip_network(c) for c in sources)
    if allow_node:
        sources.extend(info.load_balancer_vips)
    return " , ".join(sources)


def _service_to_endpoint_rules(
    ops: list[Op],
    ipx: str,
    info: ServicePortInfo,
    chain: str,
    endpoints: Sequence[EndpointInfo],
    ep_chain: dict[str, str],
    aff_set: dict[str, str],
) -> None:
    if info.session_affinity:
        for e in endpoints:
            ops.append(
                (OP_RULE, chain,
                 f"{ipx} saddr @{aff_set[e.endpoint]} goto {ep_chain[e.endpoint]}", None, None)
            )
    vmap = " , ".join(f"{i} : goto {ep_chain[e.endpoint]}" for i, e in enumerate(endpoints))
    ops.append((OP_RULE, chain, f"numgen random mod {len(endpoints)} vmap {{ {vmap} }}", None,
                None))


# ----------------------------------------------------------------------------------- rendering


def _elem_line(verb: str, ctx: NodeContext, container: str, key: str,
               value: str | None, comment: str | None) -> str:
    if verb != "add":
        return f"{verb} element {ctx.prefix} {container} {{ {key} }}"
    text = key
    if comment is not None:
        text += f' comment "{comment}"'
    if value is not None:
        text += f" : {value}"
    return f"add element {ctx.prefix} {container} {{ {text} }}"


def _set_line(ctx: NodeContext, name: str, timeout: str) -> str:
    return (f"add set {ctx.prefix} {name} {{ type {ctx.addr_type} ; flags dynamic,timeout ; "
            f"timeout {timeout}s ; }}")


def _setup_lines(ctx: NodeContext, first_sync: bool) -> list[str]:
    """``setupNFTables``: the fixed part of the table, as a full sync writes it."""
    p = ctx.prefix
    ipx = ctx.ipx
    out = [f'add table {p} {{ comment "rules for kube-proxy" ; }}']
    if first_sync:
        # Once per kube-proxy lifetime: recreate base chains, so that changed properties
        # (priorities) of an older kube-proxy's chains cannot fail the transaction.
        for name, _t, _h, _prio in BASE_CHAINS:
            out.append(f"add chain {p} {name}")
            out.append(f"delete chain {p} {name}")
    for name, typ, hook, prio in BASE_CHAINS:
        out.append(f"add chain {p} {name} {{ type {typ} hook {hook} priority {prio} ; }}")
        out.append(f"flush chain {p} {name}")
    created: set[str] = set()

    def ensure(chain: str) -> None:
        if chain not in created:
            created.add(chain)
            out.append(f"add chain {p} {chain}")
            out.append(f"flush chain {p} {chain}")

    for dst, src, extra in JUMP_CHAINS:
        ensure(dst)
        out.append(f"add rule {p} {src} {extra + ' ' if extra else ''}jump {dst}")
    for chain in (SERVICES, CLUSTER_IPS_CHECK, MASQUERADING, MARK_MASQ):
        ensure(chain)
    out.append(f"add rule {p} {MARK_MASQ} mark set mark or {MASQUERADE_MARK}")
    out.append(f"add rule {p} {MASQUERADING} mark and {MASQUERADE_MARK} == 0 return")
    out.append(f"add rule {p} {MASQUERADING} mark set mark xor {MASQUERADE_MARK}")
    out.append(f"add rule {p} {MASQUERADING} masquerade fully-random")
    out.append(_fixed_set_line(ctx, CLUSTER_IPS))
    out.append(f"add rule {p} {CLUSTER_IPS_CHECK} {ipx} daddr @{CLUSTER_IPS} reject "
               f'comment "Reject traffic to invalid ports of ClusterIPs"')
    if ctx.service_cidrs:
        cidrs = ",".join(ctx.service_cidrs)
        out.append(f"add rule {p} {CLUSTER_IPS_CHECK} {ipx} daddr {{ {cidrs} }} drop "
                   'comment "Drop traffic to unallocated ClusterIPs"')
    out.append(_fixed_set_line(ctx, NODEPORT_IPS))
    out.append(f"flush set {p} {NODEPORT_IPS}")
    if ctx.node_ip is not None:
        out.append(f"add element {p} {NODEPORT_IPS} {{ {ctx.node_ip} }}")
    out.append(_map_line(ctx, NO_ENDPOINT_SERVICES))
    out.append(_map_line(ctx, NO_ENDPOINT_NODEPORTS))
    out.append(f'add chain {p} {REJECT_CHAIN} {{ comment "helper for @no-endpoint-services / '
               f'@no-endpoint-nodeports" ; }}')
    out.append(f"flush chain {p} {REJECT_CHAIN}")
    out.append(f"add rule {p} {REJECT_CHAIN} reject")
    out.append(f"add rule {p} {SERVICE_ENDPOINTS_CHECK} {ipx} daddr . meta l4proto . th dport "
               f"vmap @{NO_ENDPOINT_SERVICES}")
    out.append(f"add rule {p} {NODEPORT_ENDPOINTS_CHECK} {ipx} daddr @{NODEPORT_IPS} "
               f"meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}")
    out.append(_map_line(ctx, FIREWALL_IPS))
    ensure(FIREWALL_CHECK)
    out.append(f"add rule {p} {FIREWALL_CHECK} {ipx} daddr . meta l4proto . th dport "
               f"vmap @{FIREWALL_IPS}")
    out.append(_map_line(ctx, SERVICE_IPS))
    out.append(_map_line(ctx, SERVICE_NODEPORTS))
    out.append(f"add rule {p} {SERVICES} {ipx} daddr . meta l4proto . th dport vmap @{SERVICE_IPS}")
    out.append(f"add rule {p} {SERVICES} {ipx} daddr @{NODEPORT_IPS} meta l4proto . th dport "
               f"vmap @{SERVICE_NODEPORTS}")
    out.append(f"flush set {p} {CLUSTER_IPS}")
    for m in (SERVICE_IPS, FIREWALL_IPS, NO_ENDPOINT_SERVICES, NO_ENDPOINT_NODEPORTS,
              SERVICE_NODEPORTS):
        out.append(f"flush map {p} {m}")
    return out


def _map_line(ctx: NodeContext, name: str) -> str:
    key = f"{ctx.addr_type} . inet_proto . inet_service" if name in _ADDR_MAPS else \
        "inet_proto . inet_service"
    comment = _MAP_COMMENTS[name]
    return f'add map {ctx.prefix} {name} {{ type {key} : verdict ; comment "{comment}" ; }}'


def _fixed_set_line(ctx: NodeContext, name: str) -> str:
    comment = _SET_COMMENTS[name]
    return f'add set {ctx.prefix} {name} {{ type {ctx.addr_type} ; comment "{comment}" ; }}'


def _ensure_elem(ctx: NodeContext, store: dict[tuple[str, str], str | None], op: Op,
                 out: list[str]) -> None:
    """kube-proxy's ``nftElementStorage.ensureElem``: add an element once; when it exists with
    another value, delete and re-add it."""
    key = (op[1], op[2])
    if key in store:
        if store[key] == op[3]:
            return
        out.append(_elem_line("delete", ctx, op[1], op[2], None, None))
    store[key] = op[3]
    out.append(_elem_line("add", ctx, op[1], op[2], op[3], op[4]))


def _port_lines(ctx: NodeContext, pr: PortRules, out: list[str],
                store: dict[tuple[str, str], str | None]) -> None:
    p = ctx.prefix
    for op in pr.ops:
        kind = op[0]
        if kind == OP_RULE:
            out.append(f"add rule {p} {op[1]} {op[2]}")
        elif kind == OP_CHAIN:
            out.append(f"add chain {p} {op[1]}")
            out.append(f"flush chain {p} {op[1]}")
        elif kind == OP_ELEM:
            _ensure_elem(ctx, store, op, out)
        else:
            out.append(_set_line(ctx, op[1], op[2]))


# ----------------------------------------------------------------------------------- node


@dataclass(frozen=True, slots=True, eq=False)
class NodeRuleset:
    """The compiled kube-proxy table of one node and family."""

    ctx: NodeContext
    ports: tuple[PortRules, ...]
    _text: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def port(self, spn: object) -> PortRules | None:
        for pr in self.ports:
            if pr.info.name == spn:
                return pr
        return None

    def transaction(self, *, first_sync: bool = True) -> str:
        """The full-sync transaction (``nft -f`` input), as kube-proxy sends it."""
        key = f"tx{first_sync}"
        got = self._text.get(key)
        if got is None:
            out = _setup_lines(self.ctx, first_sync)
            store: dict[tuple[str, str], str | None] = {}
            for pr in self.ports:
                _port_lines(self.ctx, pr, out, store)
            got = "\n".join(out) + "\n"
            self._text[key] = got
        return got

    def dump(self) -> str:
        """The resulting table, one ``add`` per object, in knftables ``Fake.Dump`` order:
        table; chains, sets and maps by name; then each chain's rules; then each set's and
        map's elements. Also valid ``nft -f`` input."""
        got = self._text.get("dump")
        if got is None:
            got = _dump(self.ctx, self.ports)
            self._text["dump"] = got
        return got


def compile_node(plan: ServicePlan, node: str, family: Family = 4) -> NodeRuleset:
    """Compile kube-proxy's table for ``node`` (``ip kube-proxy`` or ``ip6 kube-proxy``)."""
    ctx = NodeContext.of(plan, node, family)
    ports = tuple(render_port(info, ctx) for info in plan.ports(family))
    return NodeRuleset(ctx, ports)


def full_sync(
    plan: ServicePlan, node: str, family: Family = 4, *, first_sync: bool = True
) -> str:
    """The full-sync transaction text for ``node``."""
    return compile_node(plan, node, family).transaction(first_sync=first_sync)


def _dump(ctx: NodeContext, ports: Iterable[PortRules]) -> str:
    p = ctx.prefix
    chains: dict[str, str] = {}
    rules: dict[str, list[str]] = {}
    sets: dict[str, str] = {
        CLUSTER_IPS: _fixed_set_line(ctx, CLUSTER_IPS),
        NODEPORT_IPS: _fixed_set_line(ctx, NODEPORT_IPS),
    }
    maps = {name: _map_line(ctx, name) for name in _MAP_COMMENTS}
    elements: dict[str, dict[str, str]] = {name: {} for name in (*sets, *maps)}
    if ctx.node_ip is not None:
        elements[NODEPORT_IPS][ctx.node_ip] = f"add element {p} {NODEPORT_IPS} {{ {ctx.node_ip} }}"

    # The fixed part, from the setup transaction (adds only, the way they end up).
    for line in _setup_lines(ctx, first_sync=False):
        verb, what, rest = line.split(" ", 2)
        if verb != "add":
            continue
        name = rest[len(p) + 1:].split(" ", 1)[0]
        if what == "chain":
            chains[name] = line
            rules.setdefault(name, [])
        elif what == "rule":
            rules.setdefault(name, []).append(line)
    for pr in ports:
        for op in pr.ops:
            kind = op[0]
            if kind == OP_RULE:
                rules[op[1]].append(f"add rule {p} {op[1]} {op[2]}")
            elif kind == OP_CHAIN:
                if op[1] not in chains:
                    chains[op[1]] = f"add chain {p} {op[1]}"
                    rules[op[1]] = []
            elif kind == OP_ELEM:
                elements[op[1]][op[2]] = _elem_line("add", ctx, op[1], op[2], op[3], op[4])
            else:
                if op[1] not in sets:
                    sets[op[1]] = _set_line(ctx, op[1], op[2])
                    elements[op[1]] = {}
    out = [f'add table {p} {{ comment "rules for kube-proxy" ; }}']
    chain_names = sorted(chains)
    set_names = sorted(sets)
    map_names = sorted(maps)
    out.extend(chains[c] for c in chain_names)
    out.extend(sets[s] for s in set_names)
    out.extend(maps[m] for m in map_names)
    for c in chain_names:
        out.extend(rules[c])
    for s in set_names:
        out.extend(elements[s].values())
    for m in map_names:
        out.extend(elements[m].values())
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------- partial


@dataclass(frozen=True, slots=True)
class SyncResult:
    """One kube-proxy sync of one node: the transaction, and what it left for later."""

    #: The nft -f transaction.
    transaction: str
    #: True when a full sync was needed (the node's own settings changed).
    full: bool
    #: Services (``ns/name``) whose chains were rewritten.
    updated: tuple[str, ...]
    #: Chains no longer used: flushed by ``transaction``, deleted by ``cleanup``.
    stale_chains: tuple[str, ...]
    #: The later transaction deleting the stale chains ("" when there are none).
    cleanup: str
    #: Number of operations (lines) in ``transaction``.
    operations: int


def partial_sync(
    previous: ServicePlan,
    current: ServicePlan,
    node: str,
    family: Family = 4,
) -> SyncResult:
    """kube-proxy's partial sync on ``node`` after ``previous`` became ``current``.

    A Service counts as changed when its entry differs (the Service or any of its
    EndpointSlices changed, as kube-proxy's change trackers report). For a changed Service every
    chain it uses is added and flushed and its rules written again; map and set elements are
    added when new, deleted and re-added when their verdict changed, and deleted when no longer
    wanted; chains it no longer uses are flushed, and deleted in :attr:`SyncResult.cleanup`;
    affinity sets no longer used are deleted at once. When the node's own settings changed (its
    IP, zone, the pod or service CIDRs) kube-proxy cannot patch and does a full sync instead.
    """
    prev_ctx = NodeContext.of(previous, node, family)
    ctx = NodeContext.of(current, node, family)
    if prev_ctx != ctx:
        ruleset = compile_node(current, node, family)
        tx = ruleset.transaction(first_sync=False)
        return SyncResult(tx, True, tuple(sorted(f"{k[0]}/{k[1]}" for k in current.services)),
                          (), "", tx.count("\n"))

    changed: list[tuple[str, str]] = []
    prev_services = previous.services
    candidates = current.changes_since(previous)
    if candidates is not None:
        # Derived from previous: only the Services it updated can differ.
        for key in candidates:
            old, new = prev_services.get(key), current.services.get(key)
            if old is not new and old != new:
                changed.append(key)
    else:
        for key, entry in current.services.items():
            old = prev_services.get(key)
            if old is not entry and old != entry:
                changed.append(key)
        for key in prev_services:
            if key not in current.services:
                changed.append(key)
    changed.sort()

    out: list[str] = []
    p = ctx.prefix
    old_elems: dict[tuple[str, str], str | None] = {}
    new_elems: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    old_chains: set[str] = set()
    new_chains: set[str] = set()
    old_sets: set[str] = set()
    new_sets: set[str] = set()
    for key in changed:
        for pr in _entry_ports(prev_services.get(key), prev_ctx):
            for op in pr.ops:
                if op[0] == OP_ELEM:
                    old_elems[(op[1], op[2])] = op[3]
                elif op[0] == OP_CHAIN:
                    old_chains.add(op[1])
                elif op[0] == OP_SET:
                    old_sets.add(op[1])
    store = dict(old_elems)
    for key in changed:
        for pr in _entry_ports(current.services.get(key), ctx):
            for op in pr.ops:
                kind = op[0]
                if kind == OP_ELEM:
                    new_elems[(op[1], op[2])] = (op[3], op[4])
                    _ensure_elem(ctx, store, op, out)
                elif kind == OP_CHAIN:
                    new_chains.add(op[1])
                    out.append(f"add chain {p} {op[1]}")
                    out.append(f"flush chain {p} {op[1]}")
                elif kind == OP_RULE:
                    out.append(f"add rule {p} {op[1]} {op[2]}")
                else:
                    new_sets.add(op[1])
                    out.append(_set_line(ctx, op[1], op[2]))
    stale = sorted(old_chains - new_chains)
    for chain in stale:
        out.append(f"flush chain {p} {chain}")
    for s in sorted(old_sets - new_sets):
        out.append(f"delete set {p} {s}")
    for container, ekey in sorted(set(old_elems) - set(new_elems)):
        out.append(_elem_line("delete", ctx, container, ekey, None, None))
    tx = "\n".join(out) + "\n" if out else ""
    cleanup = "".join(f"delete chain {p} {c}\n" for c in stale)
    return SyncResult(tx, False, tuple(f"{k[0]}/{k[1]}" for k in changed), tuple(stale),
                      cleanup, len(out))


def _entry_ports(entry: ServiceEntry | None, ctx: NodeContext) -> list[PortRules]:
    if entry is None:
        return []
    return [render_port(info, ctx) for info in sorted(entry.ports(ctx.family),
                                                       key=lambda i: i.name)]


# ----------------------------------------------------------------------------------- compare


_OBJECT_ORDER: Final = {"table": 10, "chain": 9, "rule": 8, "set": 7, "map": 6, "element": 5}


def sort_transaction(text: str) -> list[str]:
    """Upstream's ``sortNFTablesTransaction``: blank and ``#`` lines dropped; lines ordered by
    object type (table, chain, rule, set, map, element), then object name; rules keep their
    order within a chain; everything else ordered by the whole line. Two rulesets are the same
    when these lists are equal."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]

    def key(item: tuple[int, str]) -> tuple[int, str, int, str]:
        i, ln = item
        w = ln.split(" ")
        if len(w) < 5:
            return (0, "", i, ln)
        order = -_OBJECT_ORDER.get(w[1], 0)
        if w[1] == "rule":
            return (order, w[4], i, "")
        return (order, w[4], 0, ln)

    return [ln for _, ln in sorted(enumerate(lines), key=key)]
