"""The reachability matrix: for one port and protocol, which pod may connect to which.

It is the truth table the upstream e2e suite (test/e2e/network/netpol) draws: rows are sources,
columns destinations, ``.`` allowed and ``X`` denied, laid out exactly as its
``TruthTable.PrettyPrint`` lays it out (a ``-`` corner, tab-separated, one line per source).

Computed without judging pairs one by one. For every source pod the index gives the policies
that isolate it for egress; the union of their rules' peer masks (narrowed, for a named port,
to the destination pods on which the name resolves to the port) is the mask of destinations it
may reach — ``E[src]``. Likewise ``I[dst]``, the mask of sources a destination admits. A pair
is allowed when both bits are set: the matrix is ``E & transpose(I)``, one big-int AND per row.
A pod may always reach itself (loopback is never subject to policy).

Pods are those on the pod network with an address (finished pods — Succeeded or Failed — have
released theirs and are left out); host-network pods are listed apart (a policy
never selects them; as peers they are node addresses, which the e2e table has no row for).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from podnet.api.defaults import normalize_protocol
from podnet.policy.index import PolicyIndex

_MARKS = str.maketrans({"1": ".", "0": "X"})


@dataclass(frozen=True, slots=True)
class ReachabilityMatrix:
    """``rows[i][j]`` is ``"1"`` when ``pods[i]`` may connect to ``pods[j]``."""

    port: int
    protocol: str
    pods: tuple[str, ...]
    rows: tuple[str, ...]
    host_network_pods: tuple[str, ...] = ()
    mode: str = "api"
    _pos: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._pos.update((p, i) for i, p in enumerate(self.pods))

    def allowed(self, src: str, dst: str) -> bool:
        return self.rows[self._pos[src]][self._pos[dst]] == "1"

    def row(self, src: str) -> dict[str, bool]:
        return dict(zip(self.pods, map("1".__eq__, self.rows[self._pos[src]])))

    def to_dict(self) -> dict[str, Any]:
        """The ``policy matrix -o json`` shape."""
        pods = self.pods
        return {
            "port": self.port,
            "protocol": self.protocol,
            "pods": list(pods),
            "matrix": {src: dict(zip(pods, map("1".__eq__, row))) for src, row in zip(pods, self.rows)},
            "host_network_pods": list(self.host_network_pods),
        }

    def to_text(self, indent: str = "") -> str:
        """Upstream's ``TruthTable.PrettyPrint(indent)``, byte for byte."""
        lines = [indent + "\t".join(("-",) + self.pods)]
        for src, row in zip(self.pods, self.rows):
            lines.append(indent + src + "\t" + "\t".join(row.translate(_MARKS)))
        return "\n".join(lines)

    @property
    def allowed_count(self) -> int:
        return sum(r.count("1") for r in self.rows)


def _egress_mask(index: PolicyIndex, pid: int, port: int, proto: str) -> int:
    """Destinations that the egress rules of policy ``pid`` allow on ``port/proto``."""
    everyone = index.all_mask
    out = 0
    for rule in index.policies[pid].egress_rules:
        if rule.ports:
            ports_mask = 0
            for p in rule.ports:
                if p.protocol != proto:
                    continue
                if p.name is not None:  # resolved in each destination pod
                    ports_mask |= index.named_port_mask(p.name, proto, port)
                elif p.matches(port, proto, None):
                    ports_mask = everyone
                    break
            if not ports_mask:
                continue
            out |= rule.peer_mask & ports_mask
        else:
            out |= rule.peer_mask
        if out == everyone:
            break
    return out


def reachability(
    index: PolicyIndex,
    port: int = 80,
    protocol: str = "TCP",
    namespaces: Iterable[str] | None = None,
) -> ReachabilityMatrix:
    """The truth table of every pod pair (optionally of the pods of ``namespaces``)."""
    proto = normalize_protocol(protocol)
    pods = index.pods
    n = len(pods)
    wanted = set(namespaces) if namespaces is not None else None
    shown = [
        p.bit
        for p in pods
        if p.ips and not p.pod.finished and (wanted is None or p.pod.metadata.namespace in wanted)
    ]
    names = tuple(pods[b].key for b in shown)
    host = tuple(
        h.qualified_name
        for h in index.host_network_pods
        if wanted is None or h.metadata.namespace in wanted
    )
    m = len(shown)
    if index.mode == "none" or n == 0:
        return ReachabilityMatrix(port, proto, names, tuple("1" * m for _ in range(m)), host, index.mode)

    everyone = index.all_mask
    # E[i]: destinations pod i may send to.
    pol_cache: dict[int, int] = {}
    egress: list[int] = []
    for p in pods:
        if not p.egress_policies:
            egress.append(everyone)
            continue
        e = 0
        for pid in p.egress_policies:
            pm = pol_cache.get(pid)
            if pm is None:
                pm = pol_cache[pid] = _egress_mask(index, pid, port, proto)
            e |= pm
        egress.append(e)

    # I[j]: sources pod j admits. A named port resolves in j itself, so rules are matched per j.
    ingress_rows: list[str] = []
    all_row = "1" * n
    for p in pods:
        if not p.ingress_policies:
            ingress_rows.append(all_row)
            continue
        acc = 0
        for pid in p.ingress_policies:
            for rule in index.policies[pid].ingress_rules:
                if rule.port_matches(port, proto, p.named_ports):
                    acc |= rule.peer_mask
            if acc == everyone:
                break
        ingress_rows.append(format(acc, f"0{n}b")[::-1])

    # transpose(I): for source i, the destinations whose ingress admits i.
    admitted = ["".join(col) for col in zip(*ingress_rows)]
    pick = itemgetter(*shown) if m > 1 else None
    rows: list[str] = []
    for b in shown:
        mask = (int(admitted[b][::-1], 2) & egress[b]) | (1 << b)
        full = format(mask, f"0{n}b")[::-1]
        if m == n:
            rows.append(full)
        elif pick is not None:
            rows.append("".join(pick(full)))
        else:
            rows.append(full[shown[0]])
    return ReachabilityMatrix(port, proto, names, tuple(rows), host, index.mode)


__all__ = ["ReachabilityMatrix", "reachability"]
