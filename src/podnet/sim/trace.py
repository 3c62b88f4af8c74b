"""``podnet trace``: one new connection, walked hop by hop through the model.

Theory of operation
-------------------
A connection from FROM to TO (:mod:`podnet.sim.endpoints`) is followed through the same
decisions the kernel of each node takes, in the kernel's order, each computed by the layer that
owns it:

1. **Name resolution** (``NAME:PORT``): FROM's ``/etc/hosts`` and resolv.conf, the glibc search
   walk against the cluster DNS model — one ``dns`` hop per name tried — after checking that the
   DNS query itself gets through (kube-proxy to a CoreDNS pod, and NetworkPolicy on UDP 53: the
   classic outage of a default-deny egress policy without a DNS exception).
2. **The way out of the source** (``pod-egress``…) — from the plugin's path.
3. **kube-proxy** (``service``): :func:`podnet.proxy.outcome` on the node where the packet meets
   netfilter (the client's node, the node owning a NodePort address, the node announcing a
   LoadBalancer IP); every rule that applied, with its nftables chain and rule text. With
   Cilium's kube-proxy replacement the same decision is taken by its socket load balancer at
   ``connect()``, before the packet exists, and the hop says so.
4. **NetworkPolicy** on the post-DNAT destination (``policy-egress`` on the source's node,
   ``policy-ingress`` on the backend's node, judging the source address the backend sees): the
   API's verdict (:func:`podnet.policy.verdict`), applied when the cluster's plugin enforces
   policy (with its own semantics: :func:`podnet.policy.as_enforced`), reported and not applied
   when it does not (Flannel, host).
5. **The path between nodes** (``route``, ``encap``, ``underlay``, ``decap``, ``drop`` with
   ``--size``) — :mod:`podnet.plugins.path` when present, else the summary of
   :mod:`podnet.sim.summary_path`; both mark where the Service and policy hops go.
6. **Delivery**: into the backend pod, when it listens on the port (podnet's pods listen on
   every containerPort they declare; a pod that declares none, or runs its own command, is
   assumed to listen), else a TCP reset / ICMP port unreachable.

The verdict is ``delivered``, ``rejected`` (the client gets a refusal: "connection refused",
"ICMP port unreachable") or ``dropped`` (the client waits: "timeout"). Everything here is pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from podnet.api.core import Pod
from podnet.cluster.state import ClusterState
from podnet.policy import PolicyIndex, as_enforced, enforcement_of, verdict
from podnet.policy.engine import DirectionVerdict, Verdict
from podnet.policy.index import Endpoint
from podnet.proxy import Backend, ProxyOutcome, ProxyStep, ServicePlan, outcome
from podnet.sim.plugin_plan import network_plan
from podnet.sim.summary_path import End, Path, Xlate, plugin_path_module, summary_path
from podnet.sim.summary_path import plugin_path as plugin_layer_path
from podnet.sim.endpoints import (
    Source,
    TargetSpec,
    TraceError,
    canonical_ip,
    ip_family,
    lookup_pod,
    network,
    not_found,
    parse_source,
    parse_target,
    pod_port,
)
from podnet.sim.hops import Hop
from podnet.sim.resolve import Resolution, cluster_dns_ips, hosts_entry, resolve_name

__all__ = ["Trace", "TraceError", "kube_proxy_replaced", "service_proxy", "trace"]

TraceVerdict = Literal["delivered", "rejected", "dropped"]
PROTOCOLS = ("TCP", "UDP", "SCTP")
COMMAND_ANNOTATION = "podnet.io/command"


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "strict", "yes", "1")
    return bool(v)


def kube_proxy_replaced(state: ClusterState) -> bool:
    """Whether the cluster's plugin balances Services itself (Cilium with
    ``kubeProxyReplacement``): then there is no kube-proxy ruleset."""
    p = state.config.plugin
    if p.name != "cilium":
        return False
    option = getattr(p, "option", None)
    if callable(option):
        try:
            return _truthy(option("kubeProxyReplacement"))
        except KeyError:
            return False
    return _truthy(p.options.get("kubeProxyReplacement", False))


def service_proxy(state: ClusterState) -> str:
    """``kube-proxy`` or ``socket-lb`` (Cilium's kube-proxy replacement)."""
    return "socket-lb" if kube_proxy_replaced(state) else "kube-proxy"


# ----------------------------------------------------------------------------------- result


@dataclass(frozen=True, slots=True)
class Trace:
    """The walk of one connection (and the backends of N successive ones)."""

    source: Source
    target: dict[str, Any]
    protocol: str
    verdict: TraceVerdict
    reason: str
    client_sees: str
    backend: dict[str, Any] | None
    client_ip_seen: str | None
    candidates: tuple[dict[str, Any], ...]
    connections: tuple[dict[str, Any], ...]
    hops: tuple[Hop, ...]
    service: str | None = None
    entry: str | None = None
    policy: dict[str, Any] | None = None
    dns: Resolution | None = None
    path_from_plugin: bool = False
    notes: tuple[str, ...] = ()

    @property
    def sentence(self) -> str:
        """The verdict in one sentence a person reads."""
        out = f"{self.verdict}: {self.reason}"
        if self.verdict == "delivered" and self.client_ip_seen:
            out += f"; the backend sees the client as {self.client_ip_seen}"
        out += f"; the client sees: {self.client_sees}"
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.source.to_dict(),
            "to": dict(self.target),
            "protocol": self.protocol,
            "verdict": self.verdict,
            "reason": self.reason,
            "backend": dict(self.backend) if self.backend is not None else None,
            "client_ip_seen": self.client_ip_seen,
            "candidates": [dict(c) for c in self.candidates],
            "connections": [dict(c) for c in self.connections],
            "hops": [h.to_dict() for h in self.hops],
            "client_sees": self.client_sees,
            "service": self.service,
            "entry": self.entry,
            "policy": self.policy,
            "dns": self.dns.to_dict() if self.dns is not None else None,
            "path": "plugin" if self.path_from_plugin else "summary",
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """One line per hop, then the verdict sentence (and the connections when N > 1)."""
        lines = [f"trace {self.source.key} → {self.target['input']} ({self.protocol})"]
        wn = max([len(h.node) for h in self.hops] + [4])
        ws = max([len(h.stage) for h in self.hops] + [5])
        for i, h in enumerate(self.hops, 1):
            line = f"{i:>3}  {h.node or '-':<{wn}}  {h.stage:<{ws}}  {h.detail}"
            if h.rule:
                line += f"  [{h.rule}]"
            lines.append(line)
        lines.append(self.sentence)
        if len(self.connections) > 1:
            lines.append(f"{len(self.connections)} connections:")
            for i, c in enumerate(self.connections, 1):
                who = c.get("pod") or c.get("ip")
                lines.append(f"  {i:>3}. {who} ({c.get('ip')}:{c.get('port')})")
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- helpers


def _backend_dict(ip: str, port: int, pod: str | None, node: str | None) -> dict[str, Any]:
    return {"pod": pod, "ip": ip, "port": port, "node": node}


def _of(b: Backend) -> dict[str, Any]:
    return _backend_dict(b.ip, b.port, b.pod, b.node)


def _refusal(protocol: str) -> str:
    return "ICMP port unreachable" if protocol == "UDP" else "connection refused"


def _pod_ip_for(state: ClusterState, pod: Pod, family: int) -> str:
    if pod.spec.host_network:
        node = state.node(pod.spec.node_name)
        ips = node.internal_ips if node is not None else ()
    else:
        ips = pod.ips
    for ip in ips:
        canon = canonical_ip(ip)
        if canon and ip_family(canon) == family:
            return canon
    canon = canonical_ip(ips[0]) if ips else None
    if canon is None:
        raise TraceError(f'error: pod "{pod.qualified_name}" has no IP address yet')
    return canon


def _listens(pod: Pod, port: int, protocol: str) -> tuple[bool, str]:
    """Whether podnet's pod listens on ``port/protocol``, and the why when it is assumed."""
    if COMMAND_ANNOTATION in pod.annotations:
        return True, f"runs its own command ({COMMAND_ANNOTATION}); assumed to listen"
    ports = pod.spec.all_ports()
    if not ports:
        return True, "declares no containerPort; assumed to listen"
    for cp in ports:
        if cp.container_port == port and (cp.protocol or "TCP").upper() == protocol:
            return True, ""
    return False, ""


def _host_port_pod(state: ClusterState, node: str, port: int, protocol: str) -> tuple[Pod, int] | None:
    """A pod on ``node`` with ``hostPort`` ``port`` (the CNI portmap plugin DNATs it)."""
    for pod in state.pods_on_node(node):
        if pod.finished or pod.spec.host_network:
            continue
        for cp in pod.spec.all_ports():
            if cp.host_port == port and (cp.protocol or "TCP").upper() == protocol:
                return pod, cp.container_port
    return None


def _host_network_pod(state: ClusterState, node: str, port: int, protocol: str) -> Pod | None:
    for pod in state.pods_on_node(node):
        if pod.finished or not pod.spec.host_network:
            continue
        for cp in pod.spec.all_ports():
            if cp.container_port == port and (cp.protocol or "TCP").upper() == protocol:
                return pod
    return None


def _in_cidrs(ip: str, cidrs: Sequence[str]) -> bool:
    a = ipaddress.ip_address(ip)
    for c in cidrs:
        net = network(c)
        if net.version == a.version and a in net:
            return True
    return False


# ----------------------------------------------------------------------------------- policy


@dataclass
class _PolicyCheck:
    """NetworkPolicy for one connection, both halves, as the API says and as enforced."""

    enforced: bool
    plugin: str
    note: str
    egress_api: DirectionVerdict | None = None
    ingress_api: DirectionVerdict | None = None
    egress: DirectionVerdict | None = None
    ingress: DirectionVerdict | None = None
    egress_sentence: str = ""
    ingress_sentence: str = ""
    api_sentence: str = ""
    hops: list[Hop] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return (self.egress is None or self.egress.allowed) and (
            self.ingress is None or self.ingress.allowed)

    @property
    def api_allowed(self) -> bool:
        return (self.egress_api is None or self.egress_api.allowed) and (
            self.ingress_api is None or self.ingress_api.allowed)

    def to_dict(self) -> dict[str, Any]:
        def half(d: DirectionVerdict | None) -> dict[str, Any] | None:
            if d is None:
                return None
            out = d.to_dict()
            out["allowed"] = d.allowed
            if d.exempt:
                out["exempt"] = d.exempt
            return out

        return {
            "plugin": self.plugin,
            "enforced": self.enforced,
            "allowed": self.api_allowed,
            "applied": self.allowed if self.enforced else True,
            "egress": half(self.egress_api),
            "ingress": half(self.ingress_api),
            "as_enforced": {"egress": half(self.egress), "ingress": half(self.ingress)},
            "reason": self.api_sentence,
            "note": self.note or None,
        }


def _half_text(d: DirectionVerdict, who: str, other: str, word: str) -> tuple[str, str]:
    """(detail, rule) of one half."""
    if d.exempt:
        return f"{word} is exempt for {who} ({d.exempt})", ""
    if not d.isolated:
        return f"{who} is not isolated for {word}: no NetworkPolicy selects it", ""
    pols = ", ".join(d.policies)
    if d.allowed:
        rules = ", ".join(f"{r.policy} {word} rule {r.rule}" for r in d.allowed_by[:3])
        more = f" and {len(d.allowed_by) - 3} more" if len(d.allowed_by) > 3 else ""
        return f"{who} is isolated for {word} by {pols}; {other} is allowed", rules + more
    return (f"{who} is isolated for {word} by {pols} and no {word} rule selecting it allows "
            f"{other}", f"{pols}: no rule matches (drop)")


def _policy(
    api: PolicyIndex,
    enforced_index: PolicyIndex,
    plugin: str,
    src: Endpoint | None,
    egress_dst: Endpoint,
    seen: Endpoint,
    dst: Endpoint,
    port: int,
    egress_port: int,
    protocol: str,
) -> _PolicyCheck:
    enf = enforcement_of(plugin)
    check = _PolicyCheck(enf.enforces, plugin, enf.note)
    ing_api = verdict(api, seen, dst, port, protocol)
    check.ingress_api = ing_api.ingress
    check.api_sentence = ing_api.sentence
    if src is not None:
        eg_api = verdict(api, src, egress_dst, egress_port, protocol)
        check.egress_api = eg_api.egress
        if not eg_api.egress.allowed:
            check.api_sentence = eg_api.sentence
        elif not ing_api.ingress.allowed:
            check.api_sentence = ing_api.sentence
        elif eg_api.flow == ing_api.flow:
            check.api_sentence = ing_api.sentence
        else:
            check.api_sentence = f"{eg_api.sentence}; then {ing_api.sentence}"
    if enf.enforces:
        # The plugin enforcing the API as written (calico) answers with the API's verdicts.
        same = enforced_index is api
        ing_enf: Verdict = ing_api if same else verdict(enforced_index, seen, dst, port, protocol)
        check.ingress = ing_enf.ingress
        check.ingress_sentence = ing_enf.sentence
        if src is not None:
            eg_enf = eg_api if same else verdict(enforced_index, src, egress_dst, egress_port, protocol)
            check.egress = eg_enf.egress
            check.egress_sentence = eg_enf.sentence
    else:
        check.egress, check.ingress = check.egress_api, check.ingress_api
    return check


def _policy_hops(check: _PolicyCheck, src_node: str | None, src_name: str, egress_dst: str,
                 dst_node: str | None, seen_name: str, dst_name: str) -> tuple[Hop | None, Hop]:
    def one(direction: str, api: DirectionVerdict | None, eff: DirectionVerdict | None,
            node: str | None, who: str, other: str) -> Hop | None:
        if api is None or eff is None:
            return None
        detail, rule = _half_text(api, who, other, direction)
        verdict_word = "allow" if api.allowed else "deny"
        if not check.enforced:
            if api.isolated and not api.exempt:
                detail += (f"; not enforced: {check.plugin} does not enforce NetworkPolicy, the "
                           "packet passes" if not api.allowed else
                           f" (not enforced by {check.plugin})")
            verdict_word = "not-enforced" if not api.allowed else verdict_word
        elif eff.allowed != api.allowed or eff.allowed_by != api.allowed_by:
            e_detail, e_rule = _half_text(eff, who, other, direction)
            detail = (f"as {check.plugin} enforces it: {e_detail} (the API alone would "
                      f"{'allow' if api.allowed else 'deny'})")
            rule = e_rule
            verdict_word = "allow" if eff.allowed else "deny"
        return Hop.make(node, f"policy-{direction}", detail, rule, verdict=verdict_word,
                        enforced=check.enforced,
                        policies=list(api.policies) or None,
                        allowed_by=[r.to_dict() for r in api.allowed_by] or None)

    eg = one("egress", check.egress_api, check.egress, src_node, src_name, egress_dst)
    ing = one("ingress", check.ingress_api, check.ingress, dst_node, dst_name, seen_name)
    assert ing is not None
    return eg, ing


# ----------------------------------------------------------------------------------- builder


@dataclass
class _Walk:
    state: ClusterState
    plan: ServicePlan
    api: PolicyIndex
    src: Source
    spec: TargetSpec
    protocol: str
    n: int
    seed: int
    size: int | None
    hops: list[Hop] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    resolution: Resolution | None = None
    path_from_plugin: bool = False
    #: Walk the plugin layer's NetworkPlan when it is available (else the summary path).
    use_plugin_path: bool = True
    _enforced: PolicyIndex | None = None
    _netplan: Any = None
    _netplan_built: bool = False

    @property
    def enforced_index(self) -> PolicyIndex:
        if self._enforced is None:
            self._enforced = as_enforced(self.api)
        return self._enforced

    @property
    def netplan(self) -> Any:
        """The plugin layer's NetworkPlan, when it and its path walk are available."""
        if not self._netplan_built:
            self._netplan_built = True
            if self.use_plugin_path and plugin_path_module() is not None:
                self._netplan = network_plan(self.state)
        return self._netplan

    def result(self, verdict_: TraceVerdict, reason: str, client_sees: str, **kw: Any) -> Trace:
        return Trace(self.src, self.target, self.protocol, verdict_, reason, client_sees,
                     kw.pop("backend", None), kw.pop("client_ip_seen", None),
                     tuple(kw.pop("candidates", ())), tuple(kw.pop("connections", ())),
                     tuple(self.hops), dns=self.resolution,
                     path_from_plugin=self.path_from_plugin, notes=tuple(self.notes), **kw)

    def endpoint_of_source(self) -> Endpoint:
        if self.src.pod is not None:
            return self.api.endpoint(self.src.pod)
        if self.src.kind == "node" and self.src.node:
            ep = self.api.node_endpoint(self.src.node)
            return Endpoint("host", self.src.ip, "", self.src.node, self.src.node) \
                if ep.ip != self.src.ip else ep
        return self.api.ip_endpoint(self.src.ip)


def _service_hop(s: ProxyStep) -> Hop:
    """One kube-proxy step as a hop: ``rule`` is ``<chain>: <rule text>`` of the ruleset."""
    if s.chain == "(network)":
        return Hop.make(s.node, "underlay", s.detail, s.rule, chain=s.chain)
    if s.chain == "(routing)":
        return Hop.make(s.node, "route", s.detail, s.rule, chain=s.chain)
    detail = s.detail or f"kube-proxy: {s.chain}"
    return Hop.make(s.node, "service", detail, f"{s.chain}: {s.rule}" if s.rule else s.chain,
                    chain=s.chain)


@dataclass
class _ServiceHops:
    """kube-proxy's steps split where the packet is handed to another node (``(routing)``)."""

    before: list[Hop]
    routing: Hop | None
    after: list[Hop]

    @property
    def all(self) -> list[Hop]:
        return self.before + ([self.routing] if self.routing else []) + self.after

    @classmethod
    def of(cls, steps: Sequence[ProxyStep]) -> _ServiceHops:
        before: list[Hop] = []
        after: list[Hop] = []
        routing: Hop | None = None
        for s in steps:
            if s.chain == "(routing)" and routing is None:
                routing = _service_hop(s)
            elif routing is not None:
                after.append(_service_hop(s))
            else:
                before.append(_service_hop(s))
        return cls(before, routing, after)

    @classmethod
    def socket_lb(cls, oc: ProxyOutcome) -> _ServiceHops:
        """Cilium's kube-proxy replacement: one decision at ``connect()``, in the client's
        socket, in place of kube-proxy's chains (the decision itself is the same)."""
        node = oc.node or ""
        rule = "bpf cgroup/connect4: cilium_lb4_services_v2 → cilium_lb4_backends_v3"
        if oc.verdict == "passthrough":
            return cls([], None, [])
        if oc.verdict == "forwarded" and oc.backend is not None:
            b = oc.backend
            detail = (f"Cilium's socket LB (kube-proxy replacement) rewrites connect() to "
                      f"{oc.dest_ip}:{oc.dest_port} into {b.ip}:{b.port} ({b.pod or b.ip}) "
                      f"before any packet exists: {oc.reason}")
        else:
            detail = f"Cilium's socket LB (kube-proxy replacement): {oc.reason}"
        return cls([Hop.make(node, "service", detail, rule, chain="socket-lb")], None, [])


# ----------------------------------------------------------------------------------- target


def _resolve_target(w: _Walk) -> tuple[str, int, str | None]:
    """(address, port, service NS/NAME when TO named one) of TO, filling ``w.target``."""
    spec, state, src = w.spec, w.state, w.src
    fam = ip_family(src.ip)
    w.target = {"input": spec.input, "kind": spec.kind, "ip": None, "port": None,
                "pod": None, "service": None, "name": None}
    if spec.kind == "service":
        ns, _, name = spec.ref.partition("/")
        entry = w.plan.service(ns, name)
        if entry is None:
            raise not_found("services", name, ns)
        w.target["service"] = spec.ref
        if entry.not_proxied is not None:
            raise TraceError(
                f'error: service "{spec.ref}" has no ClusterIP to connect to: '
                f"{entry.not_proxied}; trace its DNS name or a pod instead"
            )
        number: int | None = None
        for pname, pnum, pproto in entry.spec_ports:
            if (pnum == spec.port or pname == spec.port) and pproto == w.protocol:
                number = pnum
                break
        if number is None:
            if isinstance(spec.port, str):
                raise TraceError(f'error: service "{spec.ref}" has no {w.protocol} port named '
                                 f'"{spec.port}"')
            number = spec.port
        ips = [ip for ip in entry.cluster_ips if ip_family(ip) == fam] or list(entry.cluster_ips)
        ip = ips[0]
        w.target.update(ip=ip, port=number)
        return ip, number, spec.ref
    if spec.kind == "pod":
        pod = lookup_pod(state, spec.ref)
        if not pod.spec.node_name:
            raise TraceError(f'error: pod "{spec.ref}" is not scheduled to a node: it has no '
                             "network yet")
        num = pod_port(pod, spec.port, w.protocol)
        if num is None:
            raise TraceError(f'error: pod "{spec.ref}" has no {w.protocol} container port named '
                             f'"{spec.port}"')
        ip = _pod_ip_for(state, pod, fam)
        w.target.update(ip=ip, port=num, pod=pod.qualified_name)
        return ip, num, None
    if spec.kind == "ip":
        assert isinstance(spec.port, int)
        w.target.update(ip=spec.ref, port=spec.port)
        return spec.ref, spec.port, None
    assert isinstance(spec.port, int)
    w.target.update(name=spec.ref, port=spec.port)
    return "", spec.port, None


def _dns_query_path(w: _Walk) -> Trace | None:
    """Whether FROM's DNS query reaches a cluster DNS server (kube-proxy, then policy on UDP
    53); a Trace ending the walk when it does not, else None (and one ``dns`` hop)."""
    src = w.src
    if src.pod is None or src.node is None:
        return None
    servers = cluster_dns_ips(w.state)
    server = next((s for s in servers if ip_family(s) == ip_family(src.ip)), None)
    if server is None:
        return None
    oc = outcome(w.plan, src.node, src.ip, server, 53, "UDP", seed=w.seed)
    if oc.verdict != "forwarded" or oc.backend is None:
        if oc.verdict in ("rejected", "dropped"):
            sh = (_ServiceHops.socket_lb(oc) if kube_proxy_replaced(w.state)
                  else _ServiceHops.of(oc.steps))
            w.hops.extend(sh.all)
            w.hops.append(Hop.make(src.node, "dns", f"the DNS query to {server}:53/UDP fails: "
                                   f"{oc.reason}", "", nameserver=server))
            sees = "timeout" if oc.verdict == "dropped" else "ICMP port unreachable"
            return w.result(oc.verdict, f"name resolution of {w.spec.ref} failed: the DNS query "
                            f"to {server}:53/UDP is {oc.verdict} ({oc.reason})", sees)
        return None
    b = oc.backend
    src_ep = w.endpoint_of_source()
    dst_ep = w.api.ip_endpoint(b.ip)
    check = _policy(w.api, w.enforced_index, w.state.config.plugin.name, src_ep, dst_ep, src_ep,
                    dst_ep, b.port, b.port, "UDP")
    who = b.pod or b.ip
    if check.enforced and not check.allowed:
        sentence = check.egress_sentence if check.egress and not check.egress.allowed \
            else check.ingress_sentence
        w.hops.append(Hop.make(src.node, "dns", f"the DNS query to {server}:53/UDP (→ {who}) is "
                               f"dropped by NetworkPolicy: {sentence}", "",
                               nameserver=server, verdict="deny"))
        return w.result("dropped", f"name resolution of {w.spec.ref} failed: the DNS query to "
                        f"{server}:53/UDP is dropped by NetworkPolicy ({sentence})", "timeout",
                        policy=check.to_dict())
    why = "allowed by policy" if check.enforced else (
        "policy not enforced" if not check.api_allowed else "allowed by policy")
    w.hops.append(Hop.make(src.node, "dns", f"query {server}:53/UDP → {who} at {b.ip}:{b.port} "
                           f"({why})", f"nameserver {server}", nameserver=server,
                           server=who, server_ip=b.ip, server_node=b.node or ""))
    return None


def _dns_hops(w: _Walk, res: Resolution) -> None:
    node = w.src.node
    if res.via == "hosts":
        w.hops.append(Hop.make(node, "dns", f"{res.name} → {', '.join(res.addresses)} from the "
                               "pod's /etc/hosts", "/etc/hosts", names=[res.name]))
        return
    names = [t.name for t in res.tried]
    last = len(res.tried) - 1
    for i, t in enumerate(res.tried):
        if i == last and t.rcode == "NOERROR" and t.answers:
            chain = "".join(f" → CNAME {b}" for _, b in res.cnames)
            got = f"{chain} → {', '.join(res.addresses)}"
        else:
            got = f" → {t.rcode}" + (" (no records of this type)" if t.rcode == "NOERROR" else "")
        w.hops.append(Hop.make(node, "dns", f"{res.rdtype} {t.name}{got}", t.why,
                               name=t.name, rcode=t.rcode,
                               names=names if i == 0 else None,
                               answer=list(res.addresses) if i == last else None))


# ----------------------------------------------------------------------------------- path


def _source_end(w: _Walk) -> End:
    src = w.src
    if src.kind == "external":
        return End("outside", "", src.ip)
    if src.pod is not None and not src.host_network:
        return End("pod", src.key, src.ip, src.node)
    return End("node", src.node or "", src.ip, src.node)


def _dest_end(w: _Walk, ip: str, node: str | None, pod_ref: str | None) -> End:
    if pod_ref and node:
        ns, _, name = pod_ref.partition("/")
        pod = w.state.pod(ns, name)
        if pod is not None and not pod.spec.host_network:
            return End("pod", pod_ref, ip, node)
    if node:
        return End("node", node, ip, node)
    return End("outside", "", ip)


def _path(w: _Walk, dst: End, xl: Xlate | None) -> Path:
    """The packet's path: the plugin layer's when it can walk it, else the summary."""
    mod = plugin_path_module()
    plan = w.netplan
    if mod is not None and plan is not None:
        got = plugin_layer_path(mod, plan, _source_end(w), dst.ip, w.size, xl)
        if got is not None:
            w.path_from_plugin = True
            return got
    return summary_path(w.state, _source_end(w), dst, w.size, xl)


def _masquerade_address(w: _Walk) -> Any:
    """The plugin's answer to "which address does a masquerade on this node pick"."""
    mod = plugin_path_module()
    plan = w.netplan
    if mod is None or plan is None or not hasattr(mod, "masquerade_address"):
        return None
    return mod.masquerade_address(plan)


# ----------------------------------------------------------------------------------- trace


def trace(
    state: ClusterState,
    from_: str,
    to: str,
    protocol: str = "TCP",
    connections: int = 1,
    seed: int = 0,
    size: int | None = None,
    *,
    plan: ServicePlan | None = None,
    index: PolicyIndex | None = None,
    namespace: str | None = None,
    plugin_path: bool = True,
) -> Trace:
    """Trace a new connection from ``from_`` to ``to`` (see the module doc and
    :mod:`podnet.sim.endpoints` for what they may be). ``plan``/``index`` may be given when
    already built for ``state``; ``namespace`` lets FROM be a bare pod name. ``plugin_path``
    False takes the summary path between nodes even when the plugin layer could walk its
    NetworkPlan (whose per-node plans grow with the node count: ``podnet check`` on a large
    cluster); the verdicts come from the same kube-proxy and policy decisions. Raises
    :class:`TraceError` for what cannot be traced."""
    proto = protocol.upper()
    if proto not in PROTOCOLS:
        raise TraceError(f'error: unsupported protocol "{protocol}": supported values: "TCP", '
                         '"UDP", "SCTP"')
    if connections < 1:
        raise TraceError(f"error: --connections must be at least 1, not {connections}")
    if size is not None and size < 20:
        raise TraceError(f"error: --size {size}: a packet has at least 20 bytes (its IP header)")
    src = parse_source(state, from_, namespace)
    spec = parse_target(to)
    w = _Walk(state, plan or ServicePlan.build(state), index or PolicyIndex.of(state), src,
              spec, proto, connections, seed, size, use_plugin_path=plugin_path)
    dst_ip, port, svc_ref = _resolve_target(w)
    if spec.kind == "name":
        res = hosts_entry(src, spec.ref, state.config.cluster_domain) if src.kind != "external" else None
        if res is None:
            if src.kind != "external" and not src.host_network:
                ended = _dns_query_path(w)
                if ended is not None:
                    return ended
            res = resolve_name(state, src, spec.ref)
        w.resolution = res
        _dns_hops(w, res)
        dst_ip = res.addresses[0]
        w.target.update(ip=dst_ip, resolved=list(res.addresses))
    fam = ip_family(dst_ip)
    src_ip = src.ip_for(fam)
    if ip_family(src_ip) != fam:
        raise TraceError(f"error: {src.key} has no IPv{fam} address to reach {dst_ip}")
    if src_ip != src.ip:
        w.src = Source(src.kind, src_ip, src.node, src.input, src.pod, src.ips)
    return _connect(w, dst_ip, port, svc_ref)


def _connect(w: _Walk, dst_ip: str, port: int, svc_ref: str | None) -> Trace:
    state, plan, src, proto = w.state, w.plan, w.src, w.protocol
    external = src.kind == "external"
    socket_lb = kube_proxy_replaced(state) and not external
    node_addrs = plan.node_addresses()
    pod_ref = plan.pod_of_ip(dst_ip)
    fam: Any = ip_family(dst_ip)
    announced = any(kind in ("LoadBalancer", "ExternalIP")
                    for _, kind in plan.index(fam).by_ip.get(dst_ip, ()))
    cfg = state.config
    plugin_walk = w.netplan is not None

    if ipaddress.ip_address(dst_ip).is_loopback and src.pod is not None and not src.host_network:
        return _loopback(w, dst_ip, port)

    if external and dst_ip not in node_addrs and not announced:
        # Nothing of kube-proxy's answers here from outside: the network alone decides.
        if pod_ref is not None:
            pnode = plan.node_of_ip(dst_ip)
            if cfg.plugin.name != "host" and not plugin_walk:
                return w.result("dropped", f"{dst_ip} is the address of pod {pod_ref}: the "
                                f"{cfg.plugin.name} plugin does not route the pod network "
                                "outside the cluster (nobody outside has a route to it)",
                                "timeout")
            return _deliver(w, dst_ip, port, pnode, pod_ref, reason=f"{dst_ip} is the address "
                            f"of pod {pod_ref}: no Service, no DNAT")
        if _in_cidrs(dst_ip, cfg.service_subnets):
            return w.result("dropped", f"{dst_ip} is in the service CIDR "
                            f"({', '.join(cfg.service_subnets)}): ClusterIPs are reachable only "
                            "from inside the cluster; nobody outside routes or answers ARP for "
                            "it", "timeout")
        if _in_cidrs(dst_ip, cfg.effective_pod_subnets):
            return w.result("dropped", f"{dst_ip} is in the pod network but no pod has it",
                            "timeout")
        raise TraceError(f"error: neither {src.ip} nor {dst_ip} is an address of the cluster")

    try:
        oc = outcome(plan, None if external else src.node, src.ip, dst_ip, port, proto,
                     from_outside=external, connections=w.n, seed=w.seed,
                     masquerade_address=_masquerade_address(w))
    except ValueError as e:
        raise TraceError(f"error: {e}") from e
    sh = _ServiceHops.socket_lb(oc) if socket_lb else _ServiceHops.of(oc.steps)
    announce = next((h for h in sh.before if h.get("chain") == "(network)"), None)
    svc_hops = [h for h in sh.before + sh.after if h.get("chain") != "(network)"]
    service = str(oc.service) if oc.service else svc_ref
    common: dict[str, Any] = {"service": service, "entry": oc.entry}

    if oc.verdict == "not-proxied":
        raise TraceError(f"error: {oc.reason}")
    if oc.verdict in ("rejected", "dropped", "answered"):
        return _stopped_by_proxy(w, oc, dst_ip, port, svc_hops, announce, socket_lb, common)
    if oc.verdict == "forwarded":
        assert oc.backend is not None
        chosen = oc.backend
        bnode = chosen.node or plan.node_of_ip(chosen.ip) or None
        backend = _of(chosen)
        backend["node"] = bnode
        seen = oc.source_seen or src.ip
        xl = Xlate(dst_ip, oc.node, seen if seen != src.ip else None, at_socket=socket_lb)
        return _deliver(w, chosen.ip, chosen.port, bnode, chosen.pod, reason=oc.reason,
                        xl=xl, svc_hops=svc_hops, announce=announce, seen=seen, oc=oc,
                        backend=backend, candidates=[_of(c) for c in oc.candidates],
                        connections=[_of(c.backend) for c in oc.connections], **common)
    # passthrough: not a Service address.
    if pod_ref is not None:
        pnode = plan.node_of_ip(dst_ip)
        return _deliver(w, dst_ip, port, pnode, pod_ref,
                        reason=f"{dst_ip} is the address of pod {pod_ref}: no Service, no DNAT")
    if dst_ip in node_addrs:
        return _to_node(w, dst_ip, port, node_addrs[dst_ip], oc)
    if ipaddress.ip_address(dst_ip).is_loopback:
        return w.result("rejected", oc.reason, _refusal(proto))
    if _in_cidrs(dst_ip, cfg.effective_pod_subnets):
        return w.result("dropped", f"{dst_ip} is in the pod network but no pod has it: the "
                        "route to it leads nowhere", "timeout")
    return _deliver(w, dst_ip, port, None, None, reason=f"{dst_ip}:{port}/{proto} is outside "
                    "the cluster; what answers there is not modelled")


def _stopped_by_proxy(w: _Walk, oc: ProxyOutcome, dst_ip: str, port: int, svc_hops: list[Hop],
                      announce: Hop | None, socket_lb: bool, common: dict[str, Any]) -> Trace:
    """kube-proxy rejected, dropped or answered: the path up to its rules, then its rules."""
    proto = w.protocol
    hops: list[Hop] = [announce] if announce is not None else []
    if oc.node is not None:
        owner = w.plan.node_addresses().get(dst_ip)
        dest = End("node", owner, dst_ip, owner) if owner else End("outside", "", dst_ip)
        path = _path(w, dest, Xlate(dst_ip, oc.node, None, at_socket=socket_lb))
        before = path.before("service")
        if before is None:
            w.hops.extend(hops + path.hops)
            return w.result("dropped", path.reason, "timeout", **common)
        hops.extend(before)
    hops.extend(svc_hops)
    w.hops.extend(hops)
    if oc.verdict == "answered":
        node = oc.node or ""
        b = _backend_dict(dst_ip, port, None, node)
        w.hops.append(Hop.make(node, "deliver", oc.reason, "kube-proxy health server"))
        return w.result("delivered", oc.reason, "connected", backend=b, client_ip_seen=w.src.ip,
                        candidates=[b], connections=[b] * w.n, **common)
    sees = oc.client_sees or ("timeout" if oc.verdict == "dropped" else _refusal(proto))
    verdict_: TraceVerdict = "rejected" if oc.verdict == "rejected" else "dropped"
    return w.result(verdict_, oc.reason, sees, **common)


def _loopback(w: _Walk, ip: str, port: int) -> Trace:
    src, proto = w.src, w.protocol
    assert src.pod is not None
    node = src.node or ""
    listening, why = _listens(src.pod, port, proto)
    w.hops.append(Hop.make(node, "deliver", f"loopback inside {src.key} to {ip}:{port}/{proto}"
                           + (f" ({why})" if why else ""), "dev lo", dev="lo"))
    if not listening:
        return w.result("rejected", f"nothing listens on {src.key} port {port}/{proto}",
                        _refusal(proto))
    b = _backend_dict(ip, port, src.key, node)
    return w.result("delivered", f"{ip} is {src.key}'s own loopback: the packet never leaves "
                    "the pod (no Service, no NetworkPolicy)", "connected", backend=b,
                    client_ip_seen=ip, candidates=[b], connections=[b] * w.n)


def _to_node(w: _Walk, ip: str, port: int, node: str, oc: ProxyOutcome) -> Trace:
    """A node address on a port that is not a NodePort: a hostPort (the CNI portmap plugin's
    DNAT), a host-network pod, or nothing podnet models listening."""
    state, proto = w.state, w.protocol
    hp = _host_port_pod(state, node, port, proto)
    if hp is not None:
        pod, cport = hp
        pip = _pod_ip_for(state, pod, ip_family(ip))
        hop = Hop.make(node, "service", f"hostPort {port}/{proto} of {pod.qualified_name}: DNAT "
                       f"to {pip}:{cport}", f"CNI-HOSTPORT-DNAT: {proto.lower()} dport {port} "
                       f"dnat to {pip}:{cport}", chain="CNI-HOSTPORT-DNAT")
        return _deliver(w, pip, cport, node, pod.qualified_name,
                        reason=f"hostPort {ip}:{port} of {pod.qualified_name} → {pip}:{cport}",
                        xl=Xlate(ip, node, None), svc_hops=[hop], entry="HostPort")
    hn = _host_network_pod(state, node, port, proto)
    if hn is None:
        return _deliver(w, ip, port, node, None, closed=True,
                        reason=f"nothing listens on node {node} port {port}/{proto}: it is not "
                        "a NodePort, and no hostPort or host-network pod declares it")
    return _deliver(w, ip, port, node, hn.qualified_name,
                    reason=f"{ip}:{port} is host-network pod {hn.qualified_name} on {node}")


def _deliver(
    w: _Walk,
    ip: str,
    port: int,
    node: str | None,
    pod_ref: str | None,
    *,
    reason: str,
    xl: Xlate | None = None,
    svc_hops: Sequence[Hop] = (),
    announce: Hop | None = None,
    seen: str | None = None,
    oc: ProxyOutcome | None = None,
    backend: dict[str, Any] | None = None,
    candidates: list[dict[str, Any]] | None = None,
    connections: list[dict[str, Any]] | None = None,
    closed: bool = False,
    **common: Any,
) -> Trace:
    """The packet's path to ``ip:port`` (on ``node``, or outside the cluster when None), with
    kube-proxy's hops, both halves of NetworkPolicy, and delivery."""
    state, src, proto, api = w.state, w.src, w.protocol, w.api
    if backend is None:
        backend = _backend_dict(ip, port, pod_ref, node)
    dest = _dest_end(w, ip, node, pod_ref)
    # The address the backend sees: kube-proxy's masquerade, or the node's when a pod's
    # traffic leaves the cluster (every plugin masquerades it).
    if seen is None:
        seen = src.ip
        if dest.kind == "outside" and src.pod is not None and not src.host_network and src.node:
            seen = w.plan.node(src.node).primary_ip(4 if ip_family(ip) == 4 else 6) or src.ip
    kw: dict[str, Any] = dict(common, backend=backend, client_ip_seen=seen,
                              candidates=candidates if candidates is not None else [backend],
                              connections=connections if connections is not None else
                              [backend] * w.n)
    path = _path(w, dest, xl)
    path.splice("service", list(svc_hops))

    # NetworkPolicy: egress on the source's node after its own DNAT (against the backend, or
    # the address the packet left with when another node translates it), ingress at the
    # destination with the source it sees.
    dst_ep = api.ip_endpoint(ip)
    src_ep = w.endpoint_of_source()
    here = (xl.node if xl is not None and xl.node else None) or src.node or node or ""
    if seen == src.ip or (xl is not None and xl.node and xl.node == node and not xl.at_socket):
        # The backend's own node translated the packet: ingress policy is judged in its forward
        # hook (or, under Cilium, by the endpoint's program, which sees the client for a local
        # backend), before postrouting's masquerade — against the original source. A pod
        # reaching itself through its Service is therefore loopback, not its node's traffic.
        seen_ep = src_ep
    else:
        seen_ep = api.ip_endpoint(seen)
        if seen_ep.kind == "external" and here:
            seen_ep = Endpoint("host", seen, "", here, here)
    egress_dst, egress_port = dst_ep, port
    if (xl is not None and not xl.at_socket and xl.node and src.node and xl.node != src.node
            and oc is not None):
        egress_dst, egress_port = api.ip_endpoint(oc.dest_ip), oc.dest_port
    check = _policy(api, w.enforced_index, state.config.plugin.name,
                    None if src.kind == "external" else src_ep, egress_dst, seen_ep, dst_ep,
                    port, egress_port, proto)
    kw["policy"] = check.to_dict()
    eg_hop, ing = _policy_hops(check, src.node, src.key,
                               f"{egress_dst.key}:{egress_port}/{proto}", node,
                               seen_ep.key, dst_ep.key)
    ing_hop: Hop | None = None if dest.kind == "outside" else ing
    if not check.enforced and not check.api_allowed and check.note:
        w.notes.append(check.note)
    if eg_hop is not None:
        path.splice("policy-egress", [eg_hop])
    if ing_hop is not None:
        path.splice("policy-ingress", [ing_hop])
    hops = ([announce] if announce is not None else []) + path.hops

    # What ends the walk first: an enforced policy drop, or the path's own drop.
    ends: list[tuple[int, str]] = []
    if check.enforced and eg_hop is not None and check.egress is not None \
            and not check.egress.allowed and eg_hop in hops:
        ends.append((hops.index(eg_hop), check.egress_sentence or check.api_sentence))
    if check.enforced and ing_hop is not None and check.ingress is not None \
            and not check.ingress.allowed and ing_hop in hops:
        ends.append((hops.index(ing_hop), check.ingress_sentence or check.api_sentence))
    if path.verdict == "dropped":
        ends.append((len(hops) - 1, path.reason))
    if ends:
        at, why = min(ends)
        w.hops.extend(hops[:at + 1])
        return w.result("dropped", why, "timeout", **kw)

    # Delivered to the destination's stack: does anything listen?
    pod: Pod | None = None
    if pod_ref:
        ns, _, name = pod_ref.partition("/")
        pod = state.pod(ns, name)
    what = pod_ref or ip
    last = hops[-1] if hops and hops[-1].stage == "deliver" else None
    body = hops[:-1] if last is not None else hops
    deliver_node = (last.node if last is not None else "") or node or ""
    if closed or (pod is not None and not _listens(pod, port, proto)[0]):
        answer = "ICMP port unreachable" if proto == "UDP" else (
            "an ABORT" if proto == "SCTP" else "a TCP reset")
        w.hops.extend(body)
        w.hops.append(Hop.make(deliver_node, "deliver", f"{what} does not listen on "
                               f"{port}/{proto}: its kernel answers with {answer}", ""))
        if pod is not None:
            declared = ", ".join(_declared(pod)) or "no ports"
            reason = f"{reason}; but nothing listens on {what} port {port}/{proto} (it " \
                     f"declares {declared})"
        return w.result("rejected", reason, _refusal(proto), **kw)
    w.hops.extend(body)
    if dest.kind == "outside" and any(h.node == "router" and "masquerade" in h.detail
                                      for h in body):
        reason += f"; the underlay's router masquerades it again on its way out (from {seen})"
    why = _listens(pod, port, proto)[1] if pod is not None else ""
    if last is not None:
        detail = last.detail
        if pod is not None:
            detail = f"{detail}; listening on {port}/{proto}" + (f" ({why})" if why else "")
        w.hops.append(Hop(last.node, last.stage, detail, last.rule, last.extra))
    return w.result("delivered", reason, "connected", **kw)


def _declared(pod: Pod) -> list[str]:
    return [f"{cp.container_port}/{(cp.protocol or 'TCP').upper()}" for cp in
            pod.spec.all_ports()]
