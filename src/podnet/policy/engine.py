"""The NetworkPolicy verdict: may this source open this connection to this destination, and why.

Theory of operation
===================

networking.k8s.io/v1 decides a connection in two independent halves, and the connection is
allowed only when both halves allow it:

* **egress**, judged at the source. A pod is *isolated for egress* when at least one
  NetworkPolicy with ``Egress`` in its ``policyTypes`` selects it (its ``podSelector``, in its own
  namespace). A pod that is not isolated may send anything. An isolated pod may open the
  connection only if some egress rule of some policy selecting it allows it: rules and policies
  are a **union** — nothing ever denies, a policy only isolates and then allows.
* **ingress**, judged at the destination, the same way with ``Ingress`` policies and ingress
  rules.

A rule allows a connection when one of its peers matches the other end AND one of its ports
matches the destination port:

* peers: absent or empty ``from``/``to`` = every peer (pods and outside addresses);
  ``podSelector`` alone = pods of the policy's namespace; ``namespaceSelector`` alone = every pod
  of the selected namespaces; both in *one* peer = the selected pods of the selected namespaces
  (AND; two peers would be OR); ``ipBlock`` = addresses in ``cidr`` and in no ``except`` range —
  pod addresses included (standard semantics; Cilium differs, see enforcement.py);
* ports: absent or empty = every port of every protocol; otherwise protocol (TCP when not given)
  and a number, a range ``port..endPort``, or a container port **name resolved in the destination
  pod** — for egress rules too, where the destination is the other pod. No port number at all
  matches every port of that protocol.

A policy without rules for a direction it isolates allows nothing in that direction
(``ingress: []`` and an absent ``ingress`` are the same thing; ``ingress: [{}]`` allows all).

What a verdict is asked about is the connection **as the destination pod sees it**: after
kube-proxy's DNAT. Callers that start from a Service pass the chosen backend pod and its target
port (a pod that may reach a Service's pods but not its ClusterIP is not a thing).

Exceptions the API itself makes, applied before any rule:

* a pod talking to itself (loopback) is never subject to policy — the e2e suite leaves it
  undefined and ignores it; podnet, like most plugins, allows it;
* traffic between a pod and the node it runs on is always allowed (the API reference: "traffic
  to and from the node where a Pod is running is always allowed");
* host-network pods are never selected by a policy; as a source or destination they are their
  node's address, which only an ``ipBlock`` can match.

Everything expensive (which pods a selector picks, which policies select a pod, named ports) was
done once by :class:`~podnet.policy.index.PolicyIndex`; a verdict only walks the rules of the few
policies that select the two ends, testing peers with one bit test each.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

from podnet.api.core import Pod
from podnet.api.defaults import normalize_protocol
from podnet.policy.index import (
    CompiledPolicy,
    Endpoint,
    IndexedPod,
    PeerMatch,
    PolicyIndex,
    RuleMatch,
)

Direction = Literal["egress", "ingress"]


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule that allowed the connection: the policy (``ns/name``) and the rule's index."""

    policy: str
    rule: int

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "rule": self.rule}

    def __str__(self) -> str:
        return f"{self.policy} rule {self.rule}"


@dataclass(frozen=True, slots=True)
class DirectionVerdict:
    """One half of a verdict.

    ``policies`` are the policies that select the end for this direction (and so isolate it);
    ``allowed_by`` the rules among theirs that allow the connection; ``exempt`` says why the
    direction was not judged by rules at all (loopback, own node, not a pod, …).
    """

    direction: Direction
    isolated: bool
    allowed: bool
    allowed_by: tuple[RuleRef, ...] = ()
    policies: tuple[str, ...] = ()
    exempt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "isolated": self.isolated,
            "allowed_by": [r.to_dict() for r in self.allowed_by],
            "policies": list(self.policies),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for (source, destination, port, protocol), with the reasons."""

    src: Endpoint
    dst: Endpoint
    port: int
    protocol: str
    allowed: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict
    sentence: str
    mode: str = "api"

    @property
    def flow(self) -> str:
        return f"{self.src} → {self.dst}:{self.port}/{self.protocol}"

    def __str__(self) -> str:
        return self.sentence

    def to_dict(self) -> dict[str, Any]:
        """The ``policy why -o json`` shape (the issue's keys first; the rest is context)."""
        return {
            "allowed": self.allowed,
            "egress": self.egress.to_dict(),
            "ingress": self.ingress.to_dict(),
            "from": self.src.to_dict(),
            "to": self.dst.to_dict(),
            "port": self.port,
            "protocol": self.protocol,
            "reason": self.sentence,
        }


# ---------------------------------------------------------------------------- matching


def _peer_matches(index: PolicyIndex, peer: PeerMatch, other: Endpoint, other_pod: IndexedPod | None) -> bool:
    """Whether ``peer`` names ``other`` (the far end of the connection for this rule)."""
    if other_pod is not None:
        if peer.ip_block is None:
            return bool(peer.mask >> other_pod.bit & 1)
        if index.mode == "cilium":
            return False  # cluster endpoints have identities; CIDR rules never name them
        return peer.ip_block.contains(other.ip)
    if peer.ip_block is None:
        return False  # pod/namespace selectors only ever name pods on the pod network
    if index.mode == "cilium" and other.kind != "external":
        return False
    return peer.ip_block.contains(other.ip)


def _rule_allows(
    index: PolicyIndex,
    rule: RuleMatch,
    other: Endpoint,
    other_pod: IndexedPod | None,
    port: int,
    protocol: str,
    dst_pod: IndexedPod | None,
) -> bool:
    named = dst_pod.named_ports if dst_pod is not None else None
    if not rule.port_matches(port, protocol, named):
        return False
    if rule.all_peers:
        return True
    return any(_peer_matches(index, p, other, other_pod) for p in rule.peers)


def _judge(
    index: PolicyIndex,
    direction: Direction,
    policy_ids: tuple[int, ...],
    other: Endpoint,
    other_pod: IndexedPod | None,
    port: int,
    protocol: str,
    dst_pod: IndexedPod | None,
) -> DirectionVerdict:
    if not policy_ids:
        return DirectionVerdict(direction, False, True)
    policies: list[CompiledPolicy] = [index.policies[i] for i in policy_ids]
    allowed_by: list[RuleRef] = []
    for cp in policies:
        rules = cp.egress_rules if direction == "egress" else cp.ingress_rules
        for rule in rules:
            if _rule_allows(index, rule, other, other_pod, port, protocol, dst_pod):
                allowed_by.append(RuleRef(cp.key, rule.index))
    return DirectionVerdict(
        direction, True, bool(allowed_by), tuple(allowed_by), tuple(cp.key for cp in policies)
    )


def _same_family_ip(ep: Endpoint, ipod: IndexedPod | None, other_ip: str) -> Endpoint:
    """``ep`` with the address of ``other_ip``'s family (a dual-stack pod talks v4 to v4)."""
    if ipod is None or not other_ip or len(ipod.ips) < 2:
        return ep
    want = ipaddress.ip_address(other_ip).version
    ip = ipod.ip_of_family(want)
    if ip == ep.ip:
        return ep
    return Endpoint(ep.kind, ip, ep.namespace, ep.name, ep.node)


# ---------------------------------------------------------------------------- the verdict


def verdict(
    index: PolicyIndex,
    src: Endpoint | Pod | str,
    dst: Endpoint | Pod | str,
    port: int,
    protocol: str = "TCP",
) -> Verdict:
    """May ``src`` open ``protocol`` port ``port`` on ``dst`` (post-DNAT), per the index's mode.

    ``src``/``dst`` are Endpoints, Pod objects, or text (``ns/name``, ``node/NAME``, an IP); a
    pod's address is its primary one, or the one of the other end's family for dual-stack pods.
    """
    s = index.endpoint(src)
    d = index.endpoint(dst)
    proto = normalize_protocol(protocol)
    s_pod = index.indexed(s)
    d_pod = index.indexed(d)
    # One address family per connection: an end given by a non-primary address sets it,
    # otherwise the source's primary family does.
    if d_pod is not None and d.ip != d_pod.ip and not (s_pod is not None and s.ip != s_pod.ip):
        s = _same_family_ip(s, s_pod, d.ip)
    else:
        d = _same_family_ip(d, d_pod, s.ip)
        s = _same_family_ip(s, s_pod, d.ip)
    flow = f"{s} → {d}:{port}/{proto}"

    if index.mode == "none":
        eg = DirectionVerdict("egress", False, True, exempt="not enforced")
        ing = DirectionVerdict("ingress", False, True, exempt="not enforced")
        return Verdict(s, d, port, proto, True, eg, ing,
                       f"{flow} allowed: the {index.plugin} plugin does not enforce NetworkPolicy",
                       index.mode)

    if s_pod is not None and d_pod is not None and s_pod.bit == d_pod.bit:
        eg = DirectionVerdict("egress", bool(s_pod.egress_policies), True,
                              policies=_keys(index, s_pod.egress_policies), exempt="loopback")
        ing = DirectionVerdict("ingress", bool(d_pod.ingress_policies), True,
                               policies=_keys(index, d_pod.ingress_policies), exempt="loopback")
        return Verdict(s, d, port, proto, True, eg, ing,
                       f"{flow} allowed: traffic from a pod to itself (loopback) is never subject to NetworkPolicy",
                       index.mode)

    # egress: only a pod on the pod network can be isolated; traffic to its own node is exempt
    if s_pod is None:
        why = "host-network pods are not selected by NetworkPolicy" if s.host_network else (
            "it is a node, not a pod" if s.kind == "host" else "it is not a pod of the cluster")
        eg = DirectionVerdict("egress", False, True, exempt=why)
    elif d.kind == "host" and d.node and d.node == s_pod.node:
        eg = DirectionVerdict("egress", bool(s_pod.egress_policies), True,
                              policies=_keys(index, s_pod.egress_policies),
                              exempt="traffic from a pod to its own node is always allowed")
    else:
        eg = _judge(index, "egress", s_pod.egress_policies, d, d_pod, port, proto, d_pod)

    # ingress: symmetric, with the destination pod's named ports
    if d_pod is None:
        why = "host-network pods are not selected by NetworkPolicy" if d.host_network else (
            "it is a node, not a pod" if d.kind == "host" else "it is not a pod of the cluster")
        ing = DirectionVerdict("ingress", False, True, exempt=why)
    elif s.kind == "host" and s.node and s.node == d_pod.node:
        ing = DirectionVerdict("ingress", bool(d_pod.ingress_policies), True,
                               policies=_keys(index, d_pod.ingress_policies),
                               exempt="traffic from a pod's own node is always allowed")
    else:
        ing = _judge(index, "ingress", d_pod.ingress_policies, s, s_pod, port, proto, d_pod)

    allowed = eg.allowed and ing.allowed
    return Verdict(s, d, port, proto, allowed, eg, ing, _sentence(flow, s, d, port, proto, eg, ing), index.mode)


def _keys(index: PolicyIndex, ids: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(index.policies[i].key for i in ids)


def _names(keys: tuple[str, ...]) -> str:
    if len(keys) <= 1:
        return "".join(keys)
    return ", ".join(keys[:-1]) + " and " + keys[-1]


def _rules(refs: tuple[RuleRef, ...], word: str) -> str:
    shown = [f"{r.policy} ({word} rule {r.rule})" for r in refs[:3]]
    more = f" and {len(refs) - 3} more" if len(refs) > 3 else ""
    return ", ".join(shown) + more


def _sentence(flow: str, s: Endpoint, d: Endpoint, port: int, proto: str,
              eg: DirectionVerdict, ing: DirectionVerdict) -> str:
    """One sentence a person understands, naming the policies and rules that decided."""
    denials: list[str] = []
    if not eg.allowed:
        sep = "," if len(eg.policies) > 1 else ""
        denials.append(
            f"{s} is isolated for egress by {_names(eg.policies)}{sep} and no egress rule selecting it "
            f"allows {d}:{port}/{proto}"
        )
    if not ing.allowed:
        sep = "," if len(ing.policies) > 1 else ""
        denials.append(
            f"{d} is isolated for ingress by {_names(ing.policies)}{sep} and no ingress rule selecting it "
            f"allows {s}"
        )
    if denials:
        return f"{flow} denied: " + "; and ".join(denials)
    parts: list[str] = []
    for half, end, word in ((eg, s, "egress"), (ing, d, "ingress")):
        if half.exempt:
            parts.append(f"{word} is exempt for {end} ({half.exempt})")
        elif not half.isolated:
            parts.append(f"{end} is not isolated for {word}")
        else:
            prep = "from" if word == "egress" else "to"
            parts.append(f"{word} {prep} {end} is allowed by {_rules(half.allowed_by, word)}")
    return f"{flow} allowed: " + "; ".join(parts)


__all__ = ["DirectionVerdict", "RuleRef", "Verdict", "verdict"]
