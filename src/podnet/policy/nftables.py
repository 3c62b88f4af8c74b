"""A node's NetworkPolicy ruleset, as ``nft -f`` text.

One table, ``inet podnet-policy``, so that IPv4 and IPv6 share every chain. Its layout:

``forward`` (base chain, hook forward, priority filter, policy accept)
    ``ct state established,related accept`` first: policy decides *connections*; replies and
    related ICMP of an allowed connection always pass. Then four verdict maps send a packet to
    the chains of the local pod it leaves or enters, keyed by the pod's host-side interface
    **and** its address (``iifname . ip saddr`` → ``egress-…``; ``oifname . ip daddr`` →
    ``ingress-…``; the same with ``ip6``), so a pod can only be judged as itself.

``egress-<ns>/<pod>`` / ``ingress-<ns>/<pod>`` (regular chains, only for pods isolated in that
direction)
    One rule per (rule, peer, family) of every policy selecting the pod, commented with the
    policy and rule index. An allowed egress packet ``return``s — its destination may be a local
    pod whose ingress must still be judged — and an allowed ingress packet is ``accept``ed. The
    last rule drops, with a counter and a comment naming the isolating policies.

``peer-<H>-v4`` / ``peer-<H>-v6`` (named sets)
    The addresses of the pods a pod/namespace selector peer picks, anywhere in the cluster
    (``<H>``: hash of the peer's text, so equal peers of different policies share a set).
    ipBlocks are written inline: ``ip saddr { cidr } ip saddr != { except… }``.

Why only the forward hook: traffic between a pod and its own node (the node itself,
host-network pods, kubelet probes) never crosses ``forward`` — it enters through ``input`` or
leaves through ``output`` — and the API says it is always allowed. Everything else that
reaches a local pod, or leaves one, is forwarded by the node. kube-proxy's DNAT runs in
prerouting, before forward, so egress is judged on the backend pod, as the API wants.

Named ports are resolved per destination pod: in an ingress chain against the pod itself; in an
egress chain per destination, as ``ip daddr { pods where the name is N } th dport N``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from podnet.policy.index import (
    CompiledPolicy,
    IndexedPod,
    IPBlockMatch,
    PeerMatch,
    PolicyIndex,
    PortMatch,
    RuleMatch,
    bits,
)

TABLE = "podnet-policy"
FAMILY = "inet"
_COMMENT_MAX = 127  # NFT_USERDATA comment limit is 128 bytes with the terminating NUL
_CHAIN_MAX = 200
_L4 = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


def veth_name(namespace: str, name: str) -> str:
    """A stable host-side interface name for a pod: ``veth`` + 11 hex digits (IFNAMSIZ 15)."""
    return "veth" + hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:11]


@dataclass(frozen=True, slots=True)
class PolicyRuleset:
    """The compiled ruleset of one node: the ``nft -f`` text and what it declares."""

    node: str
    text: str
    chains: tuple[str, ...]
    sets: tuple[str, ...]
    rules: int

    def __str__(self) -> str:
        return self.text


def _comment(text: str) -> str:
    text = text.replace('"', "'").replace("\n", " ")
    raw = text.encode()
    if len(raw) > _COMMENT_MAX:
        text = raw[: _COMMENT_MAX - 3].decode(errors="ignore") + "..."
    return f'comment "{text}"'


def _chain(direction: str, key: str) -> str:
    name = f"{direction}-{key}"
    if len(name) > _CHAIN_MAX:
        name = f"{direction}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return name


def _ipkw(version: int) -> str:
    return "ip" if version == 4 else "ip6"


def _family_ips(ips: tuple[str, ...], version: int) -> list[str]:
    return [ip for ip in ips if ipaddress.ip_address(ip).version == version]


def _anon(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }"


class _Compiler:
    def __init__(self, index: PolicyIndex, node: str, ifname: Callable[[IndexedPod], str]) -> None:
        self.index = index
        self.node = node
        self.ifname = ifname
        self.sets: dict[str, tuple[str, int, list[str]]] = {}  # name -> (comment, version, elems)
        self.rule_count = 0
        # per address family, per pod bit: its addresses as (sort key, text), parsed once
        self._addrs: dict[int, list[list[tuple[int, str]]]] = {4: [], 6: []}
        for p in index.pods:
            per: dict[int, list[tuple[int, str]]] = {4: [], 6: []}
            for ip in p.ips:
                a = ipaddress.ip_address(ip)
                per[a.version].append((int(a), ip))
            self._addrs[4].append(per[4])
            self._addrs[6].append(per[6])
        self._ips_cache: dict[tuple[int, int], list[str]] = {}

    # ------------------------------------------------------------------ peers

    def _pod_ips(self, mask: int, version: int) -> list[str]:
        """The ``version`` addresses of the pods in ``mask``, in address order (memoized)."""
        hit = self._ips_cache.get((mask, version))
        if hit is None:
            per_bit = self._addrs[version]
            hit = [ip for _, ip in sorted(a for b in bits(mask) for a in per_bit[b])]
            self._ips_cache[(mask, version)] = hit
        return hit

    def _peer_set(self, peer: PeerMatch, version: int) -> str | None:
        """Name of the named set holding the peer's pod addresses of ``version`` (None: empty)."""
        elems = self._pod_ips(peer.mask, version)
        if not elems:
            return None
        h = hashlib.sha256(peer.text.encode()).hexdigest()[:8]
        name = f"peer-{h}-v{version}"
        self.sets.setdefault(name, (peer.text, version, elems))
        return name

    def _cluster_set(self, version: int) -> str:
        """Cilium mode: every address the cluster manages (pods and nodes), never an ipBlock's."""
        name = f"cluster-v{version}"
        if name not in self.sets:
            elems = list(self._pod_ips(self.index.all_mask, version))
            for ips in self.index.node_ips.values():
                elems.extend(_family_ips(ips, version))
            for ip in self.index.host_ips:
                if ipaddress.ip_address(ip).version == version:
                    elems.append(ip)
            elems = sorted(set(elems), key=ipaddress.ip_address)
            self.sets[name] = ("addresses the cluster manages: pods and nodes", version, elems)
        return name

    def _ipblock(self, block: IPBlockMatch, version: int, addr: str) -> str | None:
        if block.cidr is None or block.family != version:
            return None
        kw = _ipkw(version)
        cond = f"{kw} {addr} {{ {block.cidr} }}"
        excepts = [str(e) for e in block.excepts if e.version == version]
        if excepts:
            cond += f" {kw} {addr} != {_anon(excepts)}"
        if self.index.mode == "cilium":
            cname = self._cluster_set(version)
            if self.sets[cname][2]:
                cond += f" {kw} {addr} != @{cname}"
        return cond

    def peer_conditions(self, rule: RuleMatch, version: int, addr: str) -> list[tuple[str, int | None]]:
        """One match expression per peer ("" = any peer), with the pods of a selector peer
        (None for ipBlocks and "any"); an empty list: no peer of this family."""
        if rule.all_peers:
            return [("", None)]
        out: list[tuple[str, int | None]] = []
        for peer in rule.peers:
            if peer.ip_block is not None:
                cond = self._ipblock(peer.ip_block, version, addr)
                if cond is not None:
                    out.append((cond, None))
            else:
                name = self._peer_set(peer, version)
                if name is not None:
                    out.append((f"{_ipkw(version)} {addr} @{name}", peer.mask))
        return out

    # ------------------------------------------------------------------ ports

    @staticmethod
    def _numeric(ports: list[PortMatch]) -> list[str]:
        by_proto: dict[str, list[str]] = defaultdict(list)
        whole: set[str] = set()
        for p in ports:
            if p.port is None:
                whole.add(p.protocol)
            elif p.end_port is not None and p.end_port != p.port:
                by_proto[p.protocol].append(f"{p.port}-{p.end_port}")
            else:
                by_proto[p.protocol].append(str(p.port))
        out: list[str] = []
        for proto in sorted(set(by_proto) | whole):
            l4 = _L4.get(proto)
            if l4 is None:
                continue
            if proto in whole:
                out.append(f"meta l4proto {l4}")
            else:
                vals = sorted(set(by_proto[proto]), key=lambda v: int(v.split("-")[0]))
                dport = vals[0] if len(vals) == 1 else _anon(vals)
                out.append(f"meta l4proto {l4} th dport {dport}")
        return out

    def ingress_ports(self, rule: RuleMatch, pod: IndexedPod) -> list[str]:
        """Port matches for traffic into ``pod``: named ports resolved in ``pod`` itself."""
        if rule.all_ports:
            return [""]
        resolved: list[PortMatch] = []
        for p in rule.ports:
            if p.name is None:
                resolved.append(p)
                continue
            num = pod.named_ports.get((p.name, p.protocol))
            if num is not None:
                resolved.append(PortMatch(p.protocol, num))
        return self._numeric(resolved)

    def egress_matches(self, rule: RuleMatch, version: int) -> list[str]:
        """Peer-and-port matches for traffic out of a pod.

        A named port is resolved in each destination pod: it becomes ``ip daddr { the pods
        where the name is N } th dport N`` — for a selector peer only the peer's own pods.
        """
        peers = self.peer_conditions(rule, version, "daddr")
        if rule.all_ports:
            return [cond for cond, _ in peers]
        numeric = self._numeric([p for p in rule.ports if p.name is None])
        kw = _ipkw(version)
        out: list[str] = []
        for cond, mask in peers:
            out.extend(" ".join(c for c in (cond, port) if c) for port in numeric)
            for p in rule.ports:
                l4 = _L4.get(p.protocol)
                if p.name is None or l4 is None:
                    continue
                for num, named in sorted(self.index.named_port_masks.get((p.name, p.protocol), {}).items()):
                    dsts = self._pod_ips(named if mask is None else named & mask, version)
                    if not dsts:
                        continue
                    match = f"{kw} daddr {_anon(dsts)} meta l4proto {l4} th dport {num}"
                    out.append(match if mask is not None or not cond else f"{cond} {match}")
        return out

    # ------------------------------------------------------------------ chains

    def chain(self, direction: str, pod: IndexedPod, policy_ids: tuple[int, ...]) -> list[str]:
        policies: list[CompiledPolicy] = [self.index.policies[i] for i in policy_ids]
        lines: list[str] = []
        own = "daddr" if direction == "egress" else "saddr"
        allow = "return" if direction == "egress" else "accept"
        for ip in pod.ips:
            v = ipaddress.ip_address(ip).version
            lines.append(f"{_ipkw(v)} {own} {ip} {allow} {_comment('a pod talking to itself is never subject to policy')}")
        for cp in policies:
            rules = cp.egress_rules if direction == "egress" else cp.ingress_rules
            if not rules:
                lines.append(f"# {cp.key}: no {direction} rules (allows no {direction})")
            for rule in rules:
                label = _comment(f"{cp.key} {direction} rule {rule.index}")
                emitted = 0
                for v in sorted({ipaddress.ip_address(ip).version for ip in pod.ips}):
                    if direction == "egress":
                        matches = self.egress_matches(rule, v)
                    else:
                        ports = self.ingress_ports(rule, pod)
                        matches = [" ".join(c for c in (peer, port) if c)
                                   for peer, _ in self.peer_conditions(rule, v, "saddr") for port in ports]
                    for cond in matches:
                        if not cond:
                            # an allow-all rule still only speaks for this pod's family
                            cond = f"meta nfproto {'ipv4' if v == 4 else 'ipv6'}"
                        lines.append(f"{cond} {allow} {label}")
                        emitted += 1
                if not emitted:
                    lines.append(f"# {cp.key} {direction} rule {rule.index}: matches nothing here "
                                 f"(no peer of this address family, or a named port {pod.key} lacks)")
        isolating = ", ".join(cp.key for cp in policies)
        lines.append(f"counter drop {_comment(f'{pod.key} is isolated for {direction} by {isolating}')}")
        self.rule_count += sum(1 for line in lines if not line.startswith("#"))
        return lines

    # ------------------------------------------------------------------ the table

    def compile(self) -> PolicyRuleset:
        index = self.index
        local = [p for p in index.pods if p.node == self.node and p.ips and not p.pod.finished]
        chains: list[tuple[str, list[str]]] = []
        maps: dict[str, list[str]] = {"egress-v4": [], "egress-v6": [], "ingress-v4": [], "ingress-v6": []}
        notes: list[str] = []
        if index.mode != "none":
            for p in local:
                ifname = self.ifname(p)
                for direction, ids in (("egress", p.egress_policies), ("ingress", p.ingress_policies)):
                    if not ids:
                        continue
                    name = _chain(direction, p.key)
                    chains.append((name, self.chain(direction, p, ids)))
                    for ip in p.ips:
                        v = ipaddress.ip_address(ip).version
                        maps[f"{direction}-v{v}"].append(f'"{ifname}" . {ip} : jump {name}')
                if not p.egress_policies and not p.ingress_policies:
                    notes.append(f"# {p.key} ({ifname}): not isolated, no policy selects it")
        out: list[str] = [
            f"# NetworkPolicy ruleset of node {self.node} ({index.plugin}, {index.mode} semantics), by podnet",
            f"table {FAMILY} {TABLE}",
            f"delete table {FAMILY} {TABLE}",
            f"table {FAMILY} {TABLE} {{",
        ]
        if index.mode == "none":
            out.append(f"\t# the {index.plugin} plugin does not enforce NetworkPolicy: nothing to load")
        used = {name for name in self.sets if any(f"@{name} " in line or line.endswith(f"@{name}")
                                                  for _, lines in chains for line in lines)}
        for name in sorted(used):
            comment, version, elems = self.sets[name]
            out.append(f"\tset {name} {{")
            out.append(f"\t\ttype {'ipv4_addr' if version == 4 else 'ipv6_addr'}")
            out.append(f"\t\t{_comment(comment)}")
            if elems:
                out.append(f"\t\telements = {_anon(elems)}")
            out.append("\t}")
        for mname in ("egress-v4", "egress-v6", "ingress-v4", "ingress-v6"):
            addr_type = "ipv4_addr" if mname.endswith("4") else "ipv6_addr"
            out.append(f"\tmap {mname} {{")
            out.append(f"\t\ttype ifname . {addr_type} : verdict")
            if maps[mname]:
                out.append(f"\t\telements = {{ {', '.join(maps[mname])} }}")
            out.append("\t}")
        out.extend([
            "\tchain forward {",
            "\t\ttype filter hook forward priority filter; policy accept;",
            "\t\tct state established,related accept",
            "\t\tiifname . ip saddr vmap @egress-v4",
            "\t\tiifname . ip6 saddr vmap @egress-v6",
            "\t\toifname . ip daddr vmap @ingress-v4",
            "\t\toifname . ip6 daddr vmap @ingress-v6",
            "\t}",
        ])
        out.extend("\t" + n for n in notes)
        for name, lines in chains:
            out.append(f"\tchain {name} {{")
            out.extend("\t\t" + line for line in lines)
            out.append("\t}")
        out.append("}")
        return PolicyRuleset(
            node=self.node,
            text="\n".join(out) + "\n",
            chains=("forward",) + tuple(n for n, _ in chains),
            sets=tuple(sorted(used)),
            rules=self.rule_count + 5,
        )


def compile_node(
    index: PolicyIndex,
    node: str,
    ifnames: Mapping[str, str] | None = None,
    ifname: Callable[[str, str], str] = veth_name,
) -> PolicyRuleset:
    """The ruleset enforcing ``index``'s policies for the pods of ``node``.

    ``ifnames`` maps ``ns/name`` to the pod's host-side interface (from the plugin's plan);
    pods it does not name get ``ifname(namespace, name)`` (default :func:`veth_name`).
    """
    given = dict(ifnames or {})

    def name_of(p: IndexedPod) -> str:
        return given.get(p.key) or ifname(p.pod.metadata.namespace, p.pod.metadata.name)

    return _Compiler(index, node, name_of).compile()


__all__ = ["FAMILY", "TABLE", "PolicyRuleset", "compile_node", "veth_name"]
