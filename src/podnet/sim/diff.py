"""``podnet diff``: what a change to the manifests does, in behaviour rather than in YAML.

Theory of operation
-------------------
Two versions of the manifests (base and head) become two ClusterStates — the head derived from
the base by the incremental controllers (:func:`derive_head`) when both share a cluster config,
so that nothing the change did not touch moves (unchanged pods keep their names and addresses,
as in a real cluster). Then four questions are asked of both and the answers compared:

* **reachability** — which workload may open which port of which other workload (and which may
  be reached from outside the cluster / reach outside), per NetworkPolicy. Pods are grouped by
  workload (their top-level owner); one representative pod per workload is judged, with
  :class:`~podnet.policy.index.PolicyIndex` masks: for a source ``E`` = the pods its egress
  policies let it reach on the port, for a destination ``I`` = the pods its ingress policies
  admit. Only pairs that *can* have changed are judged: sources whose egress policies changed
  (a policy added, removed, edited, or now selecting them), destinations whose ingress policies
  changed, and workloads whose labels or ports changed (every pair of theirs). Ports are the
  destination's container ports. Gained and lost pairs are grouped by destination, port and
  protocol, with the policy that decides in the head (or decided in the base).
* **DNS** — the cluster names of Services (``svc.ns.svc.<domain>``) and of headless Services'
  pods: added, removed, or re-pointed (another address, CNAME target or set of pods).
* **Ingress** — every URL an Ingress rule names (``https://host/path`` when the host has TLS),
  routed by both versions' route tables: status, backend Service and port, certificate.
* **Service endpoints** — the ready endpoints (pod and port) of every Service.

What is reported is what networking.k8s.io/v1 specifies; when the cluster's plugin does not
enforce NetworkPolicy the report says so (``as_enforced`` gives the plugin's view instead).
Namespaces whose objects are shared untouched between the two states are skipped for DNS and
endpoints. Pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.api.core import Namespace, Pod, Service
from podnet.api.meta import Resource
from podnet.api.networking import Ingress, NetworkPolicy
from podnet.cluster.gcpause import paused_gc
from podnet.cluster.reconcile import reconcile_change
from podnet.cluster.state import ClusterState
from podnet.ingress.model import Request
from podnet.ingress.table import RouteTable
from podnet.policy import PolicyIndex, as_enforced, enforcement_of, verdict
from podnet.policy.index import Endpoint, IndexedPod, bits
from podnet.sim.endpoints import OUTSIDE_IP
from podnet.sim.lint import stable_labels

#: An address on the Internet, for "reaches outside" (TEST-NET-3, never a cluster address).
INTERNET_IP = "203.0.113.10"
OUTSIDE_PORTS: tuple[tuple[int, str], ...] = ((443, "TCP"), (80, "TCP"))

WorkloadKey = tuple[str, str, str]  # (namespace, kind, name)
PortKey = tuple[int, str]


# ------------------------------------------------------------------------------------ head


def derive_head(base: ClusterState, base_objects: Sequence[Resource],
                head_objects: Sequence[Resource]) -> ClusterState:
    """The head state: ``base`` with the user's objects changed from ``base_objects`` to
    ``head_objects`` (both defaulted), converged by the incremental controllers."""
    before = {o.ref: o for o in base_objects}
    after = {o.ref: o for o in head_objects}
    changed = [o for ref, o in after.items() if before.get(ref) != o]
    deleted = [ref for ref in before if ref not in after]
    if not changed and not deleted:
        return base
    return reconcile_change(base, changed, deleted)


# ------------------------------------------------------------------------------------ results


def _wl(key: WorkloadKey) -> str:
    ns, kind, name = key
    if kind in ("", "outside"):
        return name
    return f"{ns}/{name}" if kind in ("Deployment", "StatefulSet", "DaemonSet") else f"{ns}/{name} ({kind})"


def _names(keys: Sequence[WorkloadKey], census: Mapping[str, int], limit: int = 6) -> str:
    """Workloads for a person: a whole namespace as ``ns/*``, long lists cut short."""
    by_ns: dict[str, list[WorkloadKey]] = defaultdict(list)
    for k in keys:
        by_ns[k[0]].append(k)
    parts: list[str] = []
    for ns in sorted(by_ns):
        members = by_ns[ns]
        if ns and len(members) > 1 and census.get(ns, 0) == len(members):
            parts.append(f"{ns}/* ({len(members)} workloads)")
        else:
            parts.extend(_wl(k) for k in sorted(members))
    if len(parts) > limit:
        return ", ".join(parts[:limit]) + f" and {len(parts) - limit} more"
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class ReachGroup:
    """A rectangle of changed pairs: every source may now (gained) or no longer (lost) open
    ``port/protocol`` on every destination (other than itself)."""

    change: str  # gained | lost
    sources: tuple[WorkloadKey, ...]
    destinations: tuple[WorkloadKey, ...]
    port: int
    protocol: str
    reason: str = ""
    #: workloads per namespace (to say "ns/*" for a whole namespace)
    census: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def pairs(self) -> int:
        """Changed pairs: every source with every destination, but a workload with itself."""
        return len(self.sources) * len(self.destinations) - len(set(self.sources) & set(self.destinations))

    @property
    def source_text(self) -> str:
        return _names(self.sources, self.census)

    @property
    def destination_text(self) -> str:
        return _names(self.destinations, self.census)

    def line(self) -> str:
        return f"{self.source_text} → {self.destination_text} {self.port}/{self.protocol}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "from": [_wl(k) for k in self.sources],
            "to": [_wl(k) for k in self.destinations],
            "port": self.port,
            "protocol": self.protocol,
            "pairs": self.pairs,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class NameChange:
    name: str
    change: str  # added | removed | re-pointed
    before: str | None
    after: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "change": self.change, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class UrlChange:
    url: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None

    @property
    def change(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "change": self.change,
                "before": dict(self.before) if self.before is not None else None,
                "after": dict(self.after) if self.after is not None else None}


@dataclass(frozen=True, slots=True)
class EndpointChange:
    service: str
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(e for e in self.after if e not in self.before)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(e for e in self.before if e not in self.after)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "before": len(self.before), "after": len(self.after),
                "added": list(self.added), "removed": list(self.removed)}


@dataclass(frozen=True, slots=True)
class DiffReport:
    reachability: tuple[ReachGroup, ...] = ()
    dns: tuple[NameChange, ...] = ()
    ingress: tuple[UrlChange, ...] = ()
    endpoints: tuple[EndpointChange, ...] = ()
    workloads_added: tuple[WorkloadKey, ...] = ()
    workloads_removed: tuple[WorkloadKey, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.reachability or self.dns or self.ingress or self.endpoints
                    or self.workloads_added or self.workloads_removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "reachability": {
                "gained": [g.to_dict() for g in self.reachability if g.change == "gained"],
                "lost": [g.to_dict() for g in self.reachability if g.change == "lost"],
            },
            "workloads": {"added": [_wl(w) for w in self.workloads_added],
                          "removed": [_wl(w) for w in self.workloads_removed]},
            "dns": [c.to_dict() for c in self.dns],
            "ingress": [c.to_dict() for c in self.ingress],
            "endpoints": [c.to_dict() for c in self.endpoints],
            "notes": list(self.notes),
        }

    # ------------------------------------------------------------------ text

    def to_text(self) -> str:
        if not self.changed:
            return "\n".join(["no behavioural change", *[f"note: {n}" for n in self.notes]]) + "\n"
        out: list[str] = []
        if self.reachability or self.workloads_added or self.workloads_removed:
            out.append("Reachability")
            for g in self.reachability:
                out.append(f"  {'+' if g.change == 'gained' else '-'} {g.change:<6} {g.line()}")
                if g.reason:
                    out.append(f"           {g.reason}")
            for w in self.workloads_added:
                out.append(f"  + new workload {_wl(w)}")
            for w in self.workloads_removed:
                out.append(f"  - workload gone {_wl(w)}")
        if self.dns:
            out.append("DNS")
            for c in self.dns:
                out.append(f"  {_sign(c.change)} {c.change:<10} {c.name}: {_arrow(c.before, c.after)}")
        if self.ingress:
            out.append("Ingress")
            for u in self.ingress:
                out.append(f"  {_sign(u.change)} {u.change:<7} {u.url}: "
                           f"{_arrow(_route_text(u.before), _route_text(u.after))}")
        if self.endpoints:
            out.append("Service endpoints")
            for e in self.endpoints:
                detail = []
                if e.added:
                    detail.append("+" + ", +".join(e.added[:5]) + (" …" if len(e.added) > 5 else ""))
                if e.removed:
                    detail.append("-" + ", -".join(e.removed[:5]) + (" …" if len(e.removed) > 5 else ""))
                out.append(f"  ~ {e.service}: {len(e.before)} → {len(e.after)} ready endpoints"
                           + (f" ({'; '.join(detail)})" if detail else ""))
        for n in self.notes:
            out.append(f"note: {n}")
        return "\n".join(out) + "\n"

    def to_markdown(self) -> str:
        """For a pull request comment."""
        out = ["### podnet diff: what this change does to the network", ""]
        if not self.changed:
            out.append("No behavioural change.")
        if self.reachability or self.workloads_added or self.workloads_removed:
            gained = sum(g.pairs for g in self.reachability if g.change == "gained")
            lost = sum(g.pairs for g in self.reachability if g.change == "lost")
            out.append(f"**Reachability** — {gained} workload pairs opened, {lost} closed")
            out.append("")
            if self.reachability:
                out.append("| | from | to | port | why |")
                out.append("|---|---|---|---|---|")
                for g in self.reachability:
                    icon = "🟢 opened" if g.change == "gained" else "🔴 closed"
                    out.append(f"| {icon} | {_md(g.source_text)} | {_md(g.destination_text)} | "
                               f"{g.port}/{g.protocol} | {_md(g.reason)} |")
                out.append("")
            for w in self.workloads_added:
                out.append(f"- new workload `{_wl(w)}`")
            for w in self.workloads_removed:
                out.append(f"- workload removed `{_wl(w)}`")
            if self.workloads_added or self.workloads_removed:
                out.append("")
        if self.dns:
            out.append("**DNS**")
            out.append("")
            out.append("| change | name | before | after |")
            out.append("|---|---|---|---|")
            for c in self.dns:
                out.append(f"| {c.change} | `{c.name}` | {_md(c.before or '—')} | {_md(c.after or '—')} |")
            out.append("")
        if self.ingress:
            out.append("**Ingress**")
            out.append("")
            out.append("| change | URL | before | after |")
            out.append("|---|---|---|---|")
            for u in self.ingress:
                out.append(f"| {u.change} | {u.url} | {_md(_route_text(u.before) or '—')} | "
                           f"{_md(_route_text(u.after) or '—')} |")
            out.append("")
        if self.endpoints:
            out.append("**Service endpoints**")
            out.append("")
            out.append("| Service | before | after | added | removed |")
            out.append("|---|---|---|---|---|")
            for e in self.endpoints:
                out.append(f"| `{e.service}` | {len(e.before)} | {len(e.after)} | "
                           f"{_md(', '.join(e.added[:5]) or '—')} | {_md(', '.join(e.removed[:5]) or '—')} |")
            out.append("")
        for n in self.notes:
            out.append(f"> {n}")
        return "\n".join(out).rstrip() + "\n"


def _sign(change: str) -> str:
    return {"added": "+", "removed": "-"}.get(change, "~")


def _arrow(before: str | None, after: str | None) -> str:
    return f"{before or '(none)'} → {after or '(none)'}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _route_text(r: Mapping[str, Any] | None) -> str | None:
    if r is None:
        return None
    parts = [str(r.get("status"))]
    if r.get("service"):
        parts.append(f"{r['service']}:{r.get('port')}")
    if r.get("tls_secret"):
        parts.append(f"cert {r['tls_secret']}")
    return " ".join(parts)


# ------------------------------------------------------------------------------------ reachability


class _Side:
    """One version: its policy index, and one representative pod per workload."""

    def __init__(self, state: ClusterState, enforced: bool) -> None:
        self.state = state
        index = PolicyIndex.of(state)
        self.index = as_enforced(index) if enforced else index
        self.rep: dict[WorkloadKey, IndexedPod] = {}
        self.count: dict[WorkloadKey, int] = defaultdict(int)
        owners: dict[tuple[str, str, str], WorkloadKey] = {}
        first: dict[WorkloadKey, int] = {}
        for bit, pod in enumerate(self.index.pod_objects()):
            if pod.finished or not pod.ips:
                continue
            key = self._owner(pod, owners)
            self.count[key] += 1
            if key not in first:
                first[key] = bit
        # Only the representatives become IndexedPods (one per workload, not one per pod).
        for key, bit in first.items():
            self.rep[key] = self.index.pods[bit]
        self.ports: dict[WorkloadKey, set[PortKey]] = {}
        for key, ip in self.rep.items():
            self.ports[key] = {(p.container_port, (p.protocol or "TCP").upper())
                               for p in ip.pod.spec.all_ports() if p.container_port}
        self._e: dict[tuple[WorkloadKey, PortKey], int] = {}
        self._i: dict[tuple[WorkloadKey, PortKey], int] = {}
        self._pe: dict[tuple[int, PortKey], int] = {}

    def _owner(self, pod: Pod, cache: dict[tuple[str, str, str], WorkloadKey]) -> WorkloadKey:
        ns = pod.metadata.namespace
        ref = pod.metadata.controller_ref()
        if ref is None:
            return (ns, "Pod", pod.metadata.name)
        got = cache.get((ns, ref.kind, ref.name))
        if got is not None:
            return got
        cur: Resource | None = self.state.get(ref.kind, ns, ref.name)
        key: WorkloadKey = (ns, ref.kind, ref.name)
        for _ in range(3):
            if cur is None:
                break
            up = cur.metadata.controller_ref()
            if up is None:
                break
            key = (ns, up.kind, up.name)
            cur = self.state.get(up.kind, ns, up.name)
        cache[(ns, ref.kind, ref.name)] = key
        return key

    # masks -------------------------------------------------------------

    def _policy_egress(self, pid: int, p: PortKey) -> int:
        got = self._pe.get((pid, p))
        if got is not None:
            return got
        index = self.index
        port, proto = p
        out = 0
        for rule in index.policies[pid].egress_rules:
            if rule.ports:
                ports_mask = 0
                for pm in rule.ports:
                    if pm.protocol != proto:
                        continue
                    if pm.name is not None:
                        ports_mask |= index.named_port_mask(pm.name, proto, port)
                    elif pm.matches(port, proto, None):
                        ports_mask = index.all_mask
                        break
                out |= rule.peer_mask & ports_mask
            else:
                out |= rule.peer_mask
        self._pe[(pid, p)] = out
        return out

    def egress(self, s: WorkloadKey, p: PortKey) -> int | None:
        """Pods ``s`` may send to on ``p`` (None: not isolated, every pod)."""
        sp = self.rep[s]
        if not sp.egress_policies or self.index.mode == "none":
            return None
        key = (s, p)
        got = self._e.get(key)
        if got is None:
            got = 0
            for pid in sp.egress_policies:
                got |= self._policy_egress(pid, p)
            self._e[key] = got
        return got

    def ingress(self, d: WorkloadKey, p: PortKey) -> int | None:
        """Pods ``d`` admits on ``p`` (None: not isolated)."""
        dp = self.rep[d]
        if not dp.ingress_policies or self.index.mode == "none":
            return None
        key = (d, p)
        got = self._i.get(key)
        if got is None:
            got = 0
            port, proto = p
            for pid in dp.ingress_policies:
                for rule in self.index.policies[pid].ingress_rules:
                    if rule.port_matches(port, proto, dp.named_ports):
                        got |= rule.peer_mask
            self._i[key] = got
        return got

    def allowed(self, s: WorkloadKey, d: WorkloadKey, p: PortKey) -> bool:
        e = self.egress(s, p)
        if e is not None and not (e >> self.rep[d].bit) & 1:
            return False
        i = self.ingress(d, p)
        return i is None or bool((i >> self.rep[s].bit) & 1)

    @property
    def rep_mask(self) -> int:
        got: int | None = getattr(self, "_rep_mask", None)
        if got is None:
            got = 0
            self._by_bit: dict[int, WorkloadKey] = {}
            for k, ip in self.rep.items():
                got |= 1 << ip.bit
                self._by_bit[ip.bit] = k
            self._rep_mask = got
        return got

    def classes(self, mask: int | None) -> set[WorkloadKey] | None:
        """The workloads whose representative is in ``mask`` (None: every one)."""
        if mask is None:
            return None
        m = mask & self.rep_mask
        by_bit = self._by_bit
        return {by_bit[b] for b in bits(m)}

    def outside_allowed(self, d: WorkloadKey, p: PortKey, *, inbound: bool) -> bool:
        pod = self.rep[d].pod
        if inbound:
            return verdict(self.index, Endpoint("external", OUTSIDE_IP), pod, p[0], p[1]).allowed
        return verdict(self.index, pod, Endpoint("external", INTERNET_IP), p[0], p[1]).allowed

    def policy_keys(self, key: WorkloadKey, direction: str) -> tuple[str, ...]:
        ip = self.rep[key]
        ids = ip.egress_policies if direction == "egress" else ip.ingress_policies
        return tuple(self.index.policies[i].key for i in ids)


def _changed_policies(base: ClusterState, head: ClusterState) -> set[str]:
    def specs(state: ClusterState) -> dict[str, Any]:
        return {f"{p.metadata.namespace}/{p.metadata.name}": p.spec for p in state.typed(NetworkPolicy)}

    b, h = specs(base), specs(head)
    return {k for k in set(b) | set(h) if b.get(k) != h.get(k)}


def _namespace_labels_changed(base: ClusterState, head: ClusterState) -> bool:
    def labels(state: ClusterState) -> dict[str, Any]:
        return {n.metadata.name: dict(n.metadata.labels) for n in state.typed(Namespace)}

    return labels(base) != labels(head)


Rect = tuple[str, frozenset[WorkloadKey], frozenset[WorkloadKey], PortKey]
OUTSIDE: WorkloadKey = ("", "outside", "outside the cluster")
INTERNET: WorkloadKey = ("", "outside", "the Internet")


class _Reach:
    """Which workloads a version lets talk, as sets of workloads per port (see the module doc)."""

    def __init__(self, side: _Side, common: frozenset[WorkloadKey], holders: Mapping[PortKey, frozenset[WorkloadKey]]) -> None:
        self.side = side
        self.common = common
        self.holders = holders
        self._in: dict[PortKey, tuple[frozenset[WorkloadKey], list[tuple[WorkloadKey, int]]]] = {}
        self._eg: dict[PortKey, tuple[frozenset[WorkloadKey], list[tuple[WorkloadKey, int]]]] = {}

    def _ingress_table(self, p: PortKey) -> tuple[frozenset[WorkloadKey], list[tuple[WorkloadKey, int]]]:
        """(holders of ``p`` not isolated for ingress, [(isolated holder, its ingress mask)])."""
        got = self._in.get(p)
        if got is None:
            open_: set[WorkloadKey] = set()
            iso: list[tuple[WorkloadKey, int]] = []
            for d in self.holders.get(p, frozenset()):
                mask = self.side.ingress(d, p)
                if mask is None:
                    open_.add(d)
                else:
                    iso.append((d, mask))
            got = (frozenset(open_), iso)
            self._in[p] = got
        return got

    def _egress_table(self, p: PortKey) -> tuple[frozenset[WorkloadKey], list[tuple[WorkloadKey, int]]]:
        """(workloads not isolated for egress, [(isolated workload, its egress mask on p)])."""
        got = self._eg.get(p)
        if got is None:
            open_: set[WorkloadKey] = set()
            iso: list[tuple[WorkloadKey, int]] = []
            for s in self.common:
                mask = self.side.egress(s, p)
                if mask is None:
                    open_.add(s)
                else:
                    iso.append((s, mask))
            got = (frozenset(open_), iso)
            self._eg[p] = got
        return got

    def destinations(self, s: WorkloadKey, p: PortKey) -> frozenset[WorkloadKey]:
        """The workloads holding ``p`` that ``s`` may open it on."""
        side = self.side
        reach = side.classes(side.egress(s, p))
        open_, iso = self._ingress_table(p)
        bit = side.rep[s].bit
        admitted = set(open_)
        admitted.update(d for d, mask in iso if (mask >> bit) & 1)
        if reach is not None:
            admitted &= reach
        admitted.discard(s)
        return frozenset(admitted)

    def sources(self, d: WorkloadKey, p: PortKey) -> frozenset[WorkloadKey]:
        """The workloads that may open ``p`` on ``d``."""
        side = self.side
        admitted = side.classes(side.ingress(d, p))
        open_, iso = self._egress_table(p)
        bit = side.rep[d].bit
        senders = set(open_)
        senders.update(s for s, mask in iso if (mask >> bit) & 1)
        if admitted is not None:
            senders &= admitted
        senders.discard(d)
        return frozenset(senders)


def _reach_rects(b: _Side, h: _Side) -> tuple[list[Rect], dict[PortKey, frozenset[WorkloadKey]]]:
    """Every change, as (change, sources, destinations, port) rectangles.

    Sources whose egress may have changed are judged against every destination, destinations
    whose ingress may have changed against every other source — each with whole sets."""
    common = frozenset(set(b.rep) & set(h.rep))
    cpol = _changed_policies(b.state, h.state)
    relabelled = {
        k for k in common
        if stable_labels(b.rep[k].pod.metadata.labels) != stable_labels(h.rep[k].pod.metadata.labels)
        or dict(b.rep[k].named_ports) != dict(h.rep[k].named_ports) or b.ports[k] != h.ports[k]
    }
    if _namespace_labels_changed(b.state, h.state):
        relabelled = set(common)  # namespaceSelectors may pick other namespaces now: judge all
    src_set: set[WorkloadKey] = set(relabelled)
    dst_set: set[WorkloadKey] = set(relabelled)
    for k in common:
        be, he = b.policy_keys(k, "egress"), h.policy_keys(k, "egress")
        if be != he or cpol & (set(be) | set(he)):
            src_set.add(k)
        bi, hi = b.policy_keys(k, "ingress"), h.policy_keys(k, "ingress")
        if bi != hi or cpol & (set(bi) | set(hi)):
            dst_set.add(k)
    ports: dict[WorkloadKey, list[PortKey]] = {
        k: sorted(b.ports.get(k, set()) | h.ports.get(k, set())) for k in common}
    holders_: dict[PortKey, set[WorkloadKey]] = defaultdict(set)
    for k, ps in ports.items():
        for p in ps:
            holders_[p].add(k)
    holders = {p: frozenset(v) for p, v in holders_.items()}
    rb, rh = _Reach(b, common, holders), _Reach(h, common, holders)
    out: list[Rect] = []
    for s in sorted(src_set):
        for p in sorted(holders):
            was, now = rb.destinations(s, p), rh.destinations(s, p)
            if now - was:
                out.append(("gained", frozenset((s,)), now - was, p))
            if was - now:
                out.append(("lost", frozenset((s,)), was - now, p))
        for p in OUTSIDE_PORTS:
            w = b.outside_allowed(s, p, inbound=False)
            n = h.outside_allowed(s, p, inbound=False)
            if w != n:
                out.append(("gained" if n else "lost", frozenset((s,)), frozenset((INTERNET,)), p))
    frozen_src = frozenset(src_set)
    for d in sorted(dst_set):
        for p in ports[d]:
            was = rb.sources(d, p) - frozen_src
            now = rh.sources(d, p) - frozen_src
            if now - was:
                out.append(("gained", now - was, frozenset((d,)), p))
            if was - now:
                out.append(("lost", was - now, frozenset((d,)), p))
            w = b.outside_allowed(d, p, inbound=True)
            n = h.outside_allowed(d, p, inbound=True)
            if w != n:
                out.append(("gained" if n else "lost", frozenset((OUTSIDE,)), frozenset((d,)), p))
    return out, holders


def _merge_axes(rects: Iterable[Rect]) -> list[Rect]:
    """Merge rectangles with the same change, port and sources, then with the same destinations."""
    cur = list(rects)
    for axis in (1, 2):
        merged: dict[tuple[str, PortKey, frozenset[WorkloadKey]], set[WorkloadKey]] = {}
        for change, srcs, dsts, p in cur:
            key_set, other = (srcs, dsts) if axis == 1 else (dsts, srcs)
            merged.setdefault((change, p, key_set), set()).update(other)
        cur = [
            (change, key_set, frozenset(other), p) if axis == 1 else (change, frozenset(other), key_set, p)
            for (change, p, key_set), other in merged.items()
        ]
    return cur


def _merge(rects: Iterable[Rect], holders: Mapping[PortKey, frozenset[WorkloadKey]]) -> list[Rect]:
    """As few rectangles as the changes allow.

    A workload to itself is never judged (loopback is never subject to policy), so the row of
    one source lacks that source among its destinations (and a column its destination among
    the sources). After a first merge, such lone rows and columns get it back — as a pair that
    is not a change — and are merged again, so that, say, every workload of an isolated
    namespace losing every destination is one rectangle; a lone row left alone drops it again."""
    cur: list[Rect] = []
    for change, srcs, dsts, p in _merge_axes(rects):
        if len(srcs) == 1 and not srcs & dsts and next(iter(srcs)) in holders.get(p, frozenset()):
            dsts = dsts | srcs
        elif len(dsts) == 1 and not srcs & dsts and not any(k[1] == "outside" for k in (*srcs, *dsts)):
            srcs = srcs | dsts
        cur.append((change, srcs, dsts, p))
    out: list[Rect] = []
    for change, srcs, dsts, p in _merge_axes(cur):
        if len(srcs) == 1 and len(dsts) > 1:
            dsts = dsts - srcs
        elif len(dsts) == 1 and len(srcs) > 1:
            srcs = srcs - dsts
        out.append((change, srcs, dsts, p))
    return out


def _reason(side: _Side, src: WorkloadKey, dst: WorkloadKey, p: PortKey) -> str:
    """The version's verdict, for one representative pair, in words."""
    try:
        a: Any = Endpoint("external", OUTSIDE_IP) if src[1] == "outside" else side.rep[src].pod
        z: Any = Endpoint("external", INTERNET_IP) if dst[1] == "outside" else side.rep[dst].pod
        return verdict(side.index, a, z, p[0], p[1]).sentence
    except (KeyError, LookupError, ValueError):
        return ""


def _groups(rects: Iterable[Rect], holders: Mapping[PortKey, frozenset[WorkloadKey]], head: _Side,
            census: Mapping[str, int]) -> list[ReachGroup]:
    out: list[ReachGroup] = []
    for change, srcs, dsts, p in _merge(rects, holders):
        s_sorted, d_sorted = tuple(sorted(srcs)), tuple(sorted(dsts))
        pair = next(((a, z) for a in s_sorted for z in d_sorted if a != z), (s_sorted[0], d_sorted[0]))
        why = _reason(head, pair[0], pair[1], p)
        out.append(ReachGroup(change, s_sorted, d_sorted, p[0], p[1], why, census))
    out.sort(key=lambda g: (g.change != "lost", g.destinations, g.sources, g.port, g.protocol))
    return out


# ------------------------------------------------------------------------------------ DNS


def _touched_namespaces(base: ClusterState, head: ClusterState) -> set[str]:
    bi, hi = base.index.by_ns, head.index.by_ns
    return {ns for ns in set(bi) | set(hi) if bi.get(ns) is not hi.get(ns)}


def _dns_records(state: ClusterState, namespaces: Iterable[str]) -> dict[str, str]:
    domain = state.config.cluster_domain
    out: dict[str, str] = {}
    for ns in namespaces:
        for svc in state.services(ns):
            name = f"{svc.metadata.name}.{ns}.svc.{domain}"
            if svc.spec.type == "ExternalName":
                out[name] = f"CNAME {svc.spec.external_name.rstrip('.')}"
                continue
            if not svc.is_headless:
                out[name] = "ClusterIP " + ", ".join(svc.cluster_ips)
                continue
            addrs: list[str] = []
            for sl in state.endpoint_slices(ns, svc.metadata.name):
                for ep in sl.endpoints:
                    if not (ep.ready or svc.spec.publish_not_ready_addresses):
                        continue
                    who = ep.target_ref.name if ep.target_ref is not None else ""
                    for a in ep.addresses:
                        addrs.append(f"{a} ({who})" if who else a)
                        if ep.hostname:
                            out[f"{ep.hostname}.{name}"] = f"A {a}" + (f" ({who})" if who else "")
            out[name] = ("headless → " + ", ".join(sorted(set(addrs)))) if addrs else "headless, no address"
    return out


def _dns_changes(base: ClusterState, head: ClusterState, namespaces: set[str]) -> list[NameChange]:
    b = _dns_records(base, sorted(namespaces))
    h = _dns_records(head, sorted(namespaces))
    out: list[NameChange] = []
    for name in sorted(set(b) | set(h)):
        before, after = b.get(name), h.get(name)
        if before == after:
            continue
        change = "added" if before is None else "removed" if after is None else "re-pointed"
        out.append(NameChange(name, change, before, after))
    return out


# ------------------------------------------------------------------------------------ ingress


def _urls(state: ClusterState, table: RouteTable) -> set[tuple[str, str, str]]:
    """(scheme, host, path) of every rule of the Ingresses the controller serves."""
    out: set[tuple[str, str, str]] = set()
    for ing in table.ingresses:
        tls_hosts = {h.lower() for t in ing.spec.tls for h in t.hosts}
        for r in ing.spec.rules:
            host = (r.host or "").lower()
            scheme = "https" if host in tls_hosts else "http"
            paths = [p.path or "/" for p in r.http.paths] if r.http is not None else ["/"]
            for path in paths:
                if any(c in path for c in "^$*+?()[]{}|\\"):
                    continue
                out.add((scheme, host.replace("*.", "wildcard."), path))
        if ing.spec.default_backend is not None:
            out.add(("http", "", "/"))
    return out


def _route(table: RouteTable, scheme: str, host: str, path: str) -> dict[str, Any]:
    h = host or "any-host.invalid"
    v = table.route(Request(scheme=scheme, host=h, target=path,
                            sni=h if scheme == "https" else None, client_ip=OUTSIDE_IP))
    return {"status": v.status, "service": v.service, "port": v.port, "tls_secret": v.tls_secret,
            "ingress": v.ingress}


def _ingress_changes(base: ClusterState, head: ClusterState) -> list[UrlChange]:
    if not base.typed(Ingress) and not head.typed(Ingress):
        return []
    tb, th = RouteTable.build(base), RouteTable.build(head)
    ub, uh = _urls(base, tb), _urls(head, th)

    def seen(table: RouteTable, named: set[tuple[str, str, str]], u: tuple[str, str, str]
             ) -> dict[str, Any] | None:
        r = _route(table, *u)
        if u not in named and r["status"] == 404 and r["service"] is None:
            return None  # a URL this version's Ingresses do not name, answered by the default
        return r

    def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
        if a is None or b is None:
            return a is b
        return {k: v for k, v in a.items() if k != "ingress"} == {k: v for k, v in b.items() if k != "ingress"}

    out: list[UrlChange] = []
    for u in sorted(ub | uh, key=lambda x: (x[1], x[2], x[0])):
        before, after = seen(tb, ub, u), seen(th, uh, u)
        if same(before, after):
            continue
        scheme, host, path = u
        out.append(UrlChange(f"{scheme}://{host or '<any host>'}{path}", before, after))
    return out


# ------------------------------------------------------------------------------------ endpoints


def _endpoints(state: ClusterState, svc: Service) -> tuple[str, ...]:
    out: set[str] = set()
    for sl in state.endpoint_slices(svc.metadata.namespace, svc.metadata.name):
        ports = [str(p.port) for p in sl.ports if p.port] or ["-"]
        for ep in sl.endpoints:
            if not ep.ready:
                continue
            who = ep.target_ref.name if ep.target_ref is not None else (ep.addresses[0] if ep.addresses else "?")
            for port in ports:
                out.add(f"{who}:{port}")
    return tuple(sorted(out))


def _endpoint_changes(base: ClusterState, head: ClusterState, namespaces: set[str]) -> list[EndpointChange]:
    out: list[EndpointChange] = []
    for ns in sorted(namespaces):
        bs = {s.metadata.name: s for s in base.services(ns)}
        hs = {s.metadata.name: s for s in head.services(ns)}
        for name in sorted(set(bs) | set(hs)):
            b = _endpoints(base, bs[name]) if name in bs else ()
            h = _endpoints(head, hs[name]) if name in hs else ()
            if name not in bs or name not in hs:
                if not b and not h:
                    continue
            if b != h:
                out.append(EndpointChange(f"{ns}/{name}", b, h))
    return out


# ------------------------------------------------------------------------------------ diff


def diff_states(base: ClusterState, head: ClusterState, *, as_enforced_by_plugin: bool = False) -> DiffReport:
    """Compare two states (see the module doc)."""
    with paused_gc():  # two policy indexes of many small objects, nothing to free meanwhile
        return _diff(base, head, as_enforced_by_plugin)


def _diff(base: ClusterState, head: ClusterState, as_enforced_by_plugin: bool) -> DiffReport:
    notes: list[str] = []
    b = _Side(base, as_enforced_by_plugin)
    h = _Side(head, as_enforced_by_plugin)
    census: dict[str, int] = defaultdict(int)
    for k in set(b.rep) | set(h.rep):
        census[k[0]] += 1
    rects, holders = _reach_rects(b, h)
    groups = _groups(rects, holders, h, census)
    added = tuple(sorted(k for k in h.rep if k not in b.rep))
    removed = tuple(sorted(k for k in b.rep if k not in h.rep))
    touched = _touched_namespaces(base, head)
    for state in (base, head):
        e = enforcement_of(state.config.plugin.name)
        if not e.enforces and not as_enforced_by_plugin and (_changed_policies(base, head) or groups):
            notes.append(f"the {state.config.plugin.name} plugin does not enforce NetworkPolicy: the "
                         "reachability changes above are what the API specifies; at runtime nothing "
                         "changes (use a plugin that enforces policy)")
            break
    return DiffReport(
        reachability=tuple(groups),
        dns=tuple(_dns_changes(base, head, touched)),
        ingress=tuple(_ingress_changes(base, head)),
        endpoints=tuple(_endpoint_changes(base, head, touched)),
        workloads_added=added,
        workloads_removed=removed,
        notes=tuple(notes),
    )



__all__ = [
    "DiffReport",
    "EndpointChange",
    "NameChange",
    "ReachGroup",
    "UrlChange",
    "derive_head",
    "diff_states",
]
