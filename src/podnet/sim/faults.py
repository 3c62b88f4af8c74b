"""``podnet fault``: latency, loss, bandwidth limits and partitions on the real links, as values.

Theory of operation
-------------------
A fault is a :class:`Target` (a node's underlay interface, a pod's ``eth0``, or the link between
two of them) and an :class:`Impairment` (``--delay/--jitter/--corrupt``: tc netem; ``--loss``;
``--rate``: tbf/htb; ``--partition``). This module holds the pure part of the command:

* parsing and validating the options, with errors in the style of the other commands;
* resolving a target against the :class:`~podnet.plugins.plan.NetworkPlan` (addresses, the
  node a pod runs on, the host end of its veth);
* compiling a fault into what the I/O shell (:mod:`podnet.linux.fault`) applies: nft
  transactions and tc command lines, each placed in a namespace named by role (:class:`Place`),
  so that nothing here needs to know how the machine names them;
* saying which hops of a ``podnet trace`` cross a faulted interface and what that does
  (:func:`on_trace`), and composing the trace with it (:func:`trace_with_faults`).

Where each impairment acts, and why there
-----------------------------------------
netem impairs what *leaves* the device it is attached to, and so does podnet:

* ``node/NAME`` — the node's ``eth0`` on the underlay: what the node sends (its own traffic,
  VXLAN/IPIP-encapsulated or routed pod traffic to other nodes, NodePort traffic it forwards);
* ``NS/POD`` — the pod's ``eth0``: what the pod sends (so, for a server pod, its replies);
* ``link A B`` — the traffic between A and B, **both ways**, like a bad cable: a node stands for
  itself and everything it hosts (its InternalIP and pod CIDRs), a pod for its addresses.

``--loss`` and ``--partition`` are nftables drops (this machine's kernel, like CI's, has no
sch_netem; ``numgen random mod 10000 < N`` is real probabilistic loss, in hundredths of a
percent). A lost packet is dropped at the *ingress of the device's veth peer* (the underlay
bridge port of a node, the host end of a pod's veth): the packet has left the faulted device and
never arrives, exactly as on a lossy wire, and a local sender sees no send error (a drop on the
device's own egress hook would hand ``ENOBUFS`` back to the sending socket, which is not what a
lossy link does). ``--partition`` drops everything both ways: at the device's ingress and at its
peer's ingress, ARP included — the cable is pulled.

``--rate`` is tbf on the device's egress; ``--delay/--jitter/--corrupt`` are netem there, netem
as the root and tbf its child when both are given, as the tc documentation does it.

Without sch_netem (this machine's kernel, CI's), ``--delay/--jitter/--corrupt`` on a node or a pod
take a *userspace delay line* instead (:mod:`podnet.linux.delayline`): a TAP device ``pnd-<id>``
in the faulted device's namespace, and an nft ``netdev egress`` chain on the device that
forwards (``fwd to``) every frame leaving it into the TAP, except the frames the delay line
sends back out (they carry :data:`DELAYLINE_MARK`, set with ``SO_MARK`` on its packet socket).
Stealing frames at the device's *egress*, after routing, neighbour resolution and nft
postrouting, means nothing upstream changes: the node's own traffic, forwarded pod traffic and
the VXLAN/IPIP outer packets (whose route lookup is pinned to ``eth0``) are all caught, the
namespace's local and loopback traffic never reaches the device, and the frames come with
their Ethernet header already right (next hop's MAC included) — the delay line holds each one,
maybe corrupts it, and sends it unchanged out of the device with an ``AF_PACKET`` socket. A
``--rate`` next to it stays tbf on the device, which the re-sent frames go through.

A link gets delay lines too, one per device its packets leave a node by (both ways: each end's),
fed only the link's packets: between two nodes, the chain on each node's ``eth0`` forwards what
goes to the peer (outer destination its InternalIP when encapsulated, inner destination its pod
CIDR when routed), after the htb ``meta priority`` rule when there is a ``--rate`` (re-sent
frames get it again). With a pod end, the inner addresses are out of sight on the ``eth0`` of
an encapsulating node, so the node's ``postrouting`` rule (after DNAT) sets a priority of the
fault's own (:func:`delayline_priority`: major ``706e``, never an htb class of ours) and the
egress chain on the leaving device (``eth0``, or the peer pod's host veth on one node) forwards
the frames with that priority; ``skb->priority`` survives the tunnel. With ``--rate`` the delay
line re-sends them with the htb class's priority (``SO_PRIORITY``). A node and its own pod share
no device (nothing leaves the node): that link takes ``--loss`` and ``--partition`` only.

A link cannot be a whole device: the packets for the peer must be picked out. Between two nodes
they are picked on the wire (the destination address of what leaves the node's ``eth0`` is the
peer's InternalIP for encapsulated traffic, a pod of the peer's pod CIDR for routed traffic):
drops at the underlay port, and for tc an htb root whose class the packets are steered into by
an nft ``meta priority`` set on the device's egress hook (htb classifies by ``skb->priority``
by itself, so no tc filter is needed — kernels like this one lack most of them). When a pod is an end, the pod's own
namespace does not see the real peer (kube-proxy's DNAT happens on the node), so the packets are
picked on the sending end's node, in ``postrouting`` (after DNAT, before masquerade) and ``input``,
by source and destination address; tc then shapes them on the device they leave the node by
(the node's ``eth0`` towards another node, the peer pod's host veth on the same node).

Everything here is pure; :mod:`podnet.linux.fault` applies it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from podnet.plugins.plan import NetworkPlan
from podnet.sim.hops import Hop

if TYPE_CHECKING:
    from podnet.sim.trace import Trace

__all__ = [
    "DELAYLINE_MARK",
    "NETEM_MISSING",
    "TABLE_PREFIX",
    "DelayLineOp",
    "Endpoint",
    "Fault",
    "FaultError",
    "FaultHit",
    "Impairment",
    "NftOp",
    "Place",
    "Program",
    "Redo",
    "Target",
    "TcOp",
    "compile_fault",
    "conflict",
    "delayline_dev",
    "format_rate",
    "next_id",
    "on_trace",
    "parse_impairment",
    "parse_rate",
    "parse_target_args",
    "place_of",
    "redo_after_rewire",
    "resolve_target",
    "trace_doc",
    "trace_text",
    "trace_with_faults",
]

#: Every nft table a fault makes is named ``podnet-fault-<id>``: the daemon's live re-syncs
#: replace only its own tables (``kube-proxy``, ``podnet-masq``, the policy table), never these.
TABLE_PREFIX = "podnet-fault-"
NETEM_MISSING = (
    "this kernel has no sch_netem (tc qdisc netem): --delay, --jitter and --corrupt need it; "
    "--loss, --rate and --partition work without it"
)
#: The ``skb->mark`` of the frames a userspace delay line sends back out of the faulted
#: device: its nft egress chain lets them pass instead of forwarding them into the TAP again.
#: ("pndl"; the mark is scrubbed when the frame crosses into the peer's namespace.)
DELAYLINE_MARK = 0x706E646C
#: The TAP device of a delay line is ``pnd-<fault id>`` (at most 15 characters).
DELAYLINE_PREFIX = "pnd-"
#: nft ``numgen random mod`` for loss: hundredths of a percent.
LOSS_SCALE = 10000
#: tbf/htb queueing: how long a packet may wait for tokens (tbf ``latency``).
TBF_LATENCY_MS = 100
UPLINK = "eth0"
POD_IF = "eth0"

Kind = Literal["node", "pod", "link"]
Direction = Literal["request", "reply", "both"]


class FaultError(ValueError):
    """Invalid options or target; each line is a message for the user as it stands."""

    def __init__(self, *errors: str) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(errors))


# ------------------------------------------------------------------------------- options


_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z%]*)\s*$")
#: tc(8) RATES: a bare number is bits per second; SI (1000) and IEC (1024) prefixes; bps is
#: bytes per second.
_RATE_UNITS: dict[str, int] = {"": 1, "bit": 1, "bps": 8}
for _p, _si, _iec in (("k", 10**3, 2**10), ("m", 10**6, 2**20), ("g", 10**9, 2**30),
                      ("t", 10**12, 2**40)):
    _RATE_UNITS[f"{_p}bit"] = _si
    _RATE_UNITS[f"{_p}bps"] = 8 * _si
    _RATE_UNITS[f"{_p}ibit"] = _iec
    _RATE_UNITS[f"{_p}ibps"] = 8 * _iec


def _flag_error(flag: str, value: str, why: str) -> str:
    return f'error: invalid argument "{value}" for "{flag}" flag: {why}'


def parse_rate(text: str, flag: str = "--rate") -> int:
    """A tc rate (``1mbit``, ``500kbit``, ``10mbps``, ``2gibit``, a bare number of bits per
    second) → bits per second. Percentages of the link speed are refused: a veth has none."""
    m = _NUMBER.match(text)
    if m is None:
        raise FaultError(_flag_error(flag, text, "a rate in tc syntax, e.g. 1mbit, 500kbit, "
                                                 "10mbps"))
    unit = m.group(2).lower()
    if unit == "%":
        raise FaultError(_flag_error(flag, text, "a veth has no link speed to take a percentage "
                                                 "of: give a rate such as 1mbit"))
    if unit not in _RATE_UNITS:
        raise FaultError(_flag_error(flag, text, f'unknown unit "{m.group(2)}": use bit, kbit, '
                                                 "mbit, gbit, bps, kbps, mbps, gbps (or kibit, "
                                                 "mibit…)"))
    bits = float(m.group(1)) * _RATE_UNITS[unit]
    if not math.isfinite(bits) or bits < 8:
        raise FaultError(_flag_error(flag, text, "must be at least 8bit (one byte per second)"))
    if bits > 100 * 10**12:
        raise FaultError(_flag_error(flag, text, "must be at most 100tbit"))
    return int(round(bits))


def format_rate(bps: int) -> str:
    """Bits per second as tc writes them: the largest SI unit dividing it exactly."""
    for unit, size in (("tbit", 10**12), ("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bps % size == 0:
            return f"{bps // size}{unit}"
    return f"{bps}bit"


def _number(text: str, flag: str, units: Mapping[str, float], hint: str) -> float:
    m = _NUMBER.match(text)
    if m is None or m.group(2).lower() not in units:
        raise FaultError(_flag_error(flag, text, hint))
    value = float(m.group(1)) * units[m.group(2).lower()]
    if not math.isfinite(value):
        raise FaultError(_flag_error(flag, text, hint))
    return value


def _ms(text: str, flag: str) -> float:
    value = _number(text, flag, {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001},
                    "milliseconds, e.g. 100 or 100ms")
    if value > 60_000:
        raise FaultError(_flag_error(flag, text, "must be at most 60000 (one minute)"))
    return value


def _pct(text: str, flag: str) -> float:
    value = _number(text, flag, {"": 1.0, "%": 1.0}, "a percentage between 0 and 100, e.g. 30")
    if not 0 <= value <= 100:
        raise FaultError(_flag_error(flag, text, "must be between 0 and 100, inclusive"))
    return round(value, 2)


def _num_text(v: float) -> str:
    return f"{v:g}"


@dataclass(frozen=True, slots=True)
class Impairment:
    """What a fault does to the packets it applies to (None: that option was not given)."""

    delay_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    corrupt_pct: float | None = None
    rate_bps: int | None = None
    partition: bool = False

    @property
    def needs_netem(self) -> bool:
        """``--delay``, ``--jitter`` and ``--corrupt``: sch_netem's, or (a kernel without it)
        a userspace delay line's."""
        return any(v is not None for v in (self.delay_ms, self.jitter_ms, self.corrupt_pct))

    @property
    def needs_tc(self) -> bool:
        return self.needs_netem or self.rate_bps is not None

    @property
    def drops(self) -> bool:
        """Whether nft drops packets for it (loss or partition)."""
        return self.partition or bool(self.loss_pct)

    def netem_args(self) -> list[str]:
        """``netem …`` arguments (empty when no netem option is given)."""
        if not self.needs_netem:
            return []
        out = ["netem"]
        if self.delay_ms is not None:
            out += ["delay", f"{_num_text(self.delay_ms)}ms"]
            if self.jitter_ms:
                out.append(f"{_num_text(self.jitter_ms)}ms")
        if self.corrupt_pct is not None:
            out += ["corrupt", f"{_num_text(self.corrupt_pct)}%"]
        return out

    def summary(self) -> str:
        """One line a person reads: ``delay 100ms ±10ms, loss 30%, rate 1mbit``."""
        if self.partition:
            return "partition"
        parts = []
        if self.delay_ms is not None:
            d = f"delay {_num_text(self.delay_ms)}ms"
            if self.jitter_ms:
                d += f" ±{_num_text(self.jitter_ms)}ms"
            parts.append(d)
        if self.loss_pct is not None:
            parts.append(f"loss {_num_text(self.loss_pct)}%")
        if self.corrupt_pct is not None:
            parts.append(f"corrupt {_num_text(self.corrupt_pct)}%")
        if self.rate_bps is not None:
            parts.append(f"rate {format_rate(self.rate_bps)}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.delay_ms is not None:
            out["delay_ms"] = self.delay_ms
        if self.jitter_ms is not None:
            out["jitter_ms"] = self.jitter_ms
        if self.loss_pct is not None:
            out["loss_pct"] = self.loss_pct
        if self.corrupt_pct is not None:
            out["corrupt_pct"] = self.corrupt_pct
        if self.rate_bps is not None:
            out["rate"] = format_rate(self.rate_bps)
            out["rate_bps"] = self.rate_bps
        if self.partition:
            out["partition"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Impairment:
        def num(key: str) -> float | None:
            v = data.get(key)
            return float(v) if v is not None else None

        rate = data.get("rate_bps")
        return cls(num("delay_ms"), num("jitter_ms"), num("loss_pct"), num("corrupt_pct"),
                   int(rate) if rate is not None else None, bool(data.get("partition", False)))


def parse_impairment(
    *,
    delay: str | None = None,
    jitter: str | None = None,
    loss: str | None = None,
    corrupt: str | None = None,
    rate: str | None = None,
    partition: bool = False,
) -> Impairment:
    """The command-line options → an :class:`Impairment`; every problem at once."""
    errors: list[str] = []

    def take(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except FaultError as e:
            errors.extend(e.errors)
            return None

    d = take(lambda: _ms(delay, "--delay")) if delay is not None else None
    j = take(lambda: _ms(jitter, "--jitter")) if jitter is not None else None
    lo = take(lambda: _pct(loss, "--loss")) if loss is not None else None
    c = take(lambda: _pct(corrupt, "--corrupt")) if corrupt is not None else None
    r = take(lambda: parse_rate(rate)) if rate is not None else None
    given = [n for n, v in (("--delay", delay), ("--jitter", jitter), ("--loss", loss),
                            ("--corrupt", corrupt), ("--rate", rate)) if v is not None]
    if partition and given:
        errors.append(f"error: --partition drops every packet: it cannot be combined with "
                      f"{', '.join(given)}")
    if jitter is not None and delay is None:
        errors.append("error: --jitter varies a delay: give --delay too (netem's delay TIME "
                      "JITTER)")
    if not partition and not given:
        errors.append("error: nothing to inject: give at least one of --delay, --loss, "
                      "--corrupt, --rate, --partition")
    if errors:
        raise FaultError(*errors)
    return Impairment(d, j, lo, c, r, partition)


# ------------------------------------------------------------------------------- targets


def parse_target_args(args: Sequence[str]) -> tuple[str, ...]:
    """``node/NAME`` | ``NS/POD`` | ``link A B`` → the end names, syntax only (one or two)."""
    if not args:
        raise FaultError("error: a target is required: node/NAME, NS/POD or link A B")
    if args[0] == "link":
        ends = tuple(args[1:])
        if len(ends) != 2:
            raise FaultError("error: link takes two ends: link A B (each node/NAME or NS/POD)")
        if ends[0] == ends[1]:
            raise FaultError(f'error: link {ends[0]} {ends[1]}: a link joins two different ends')
        return ends
    if len(args) != 1:
        raise FaultError(f"error: one target expected (node/NAME, NS/POD or link A B), got "
                         f"{' '.join(args)}")
    return (args[0],)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a fault, resolved against the NetworkPlan."""

    kind: Literal["node", "pod"]
    #: The node's name, or the pod's ``NS/NAME``.
    name: str
    #: The node it is (a node) or runs on (a pod).
    node: str
    #: What it stands for on the network: a node its InternalIP and pod CIDRs (everything it
    #: hosts), a pod its addresses.
    addrs: tuple[str, ...]
    #: A pod: the host end of its veth (in the node's namespace).
    host_if: str = ""
    #: A node: its position among the nodes (its underlay bridge port is named after it).
    index: int = 0

    @property
    def label(self) -> str:
        return f"node/{self.name}" if self.kind == "node" else self.name

    def covers(self, ip: str | None) -> bool:
        if not ip:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        for a in self.addrs:
            try:
                if addr in ipaddress.ip_network(a, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "node": self.node,
                               "addrs": list(self.addrs)}
        if self.kind == "pod":
            out["host_if"] = self.host_if
        else:
            out["index"] = self.index
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Endpoint:
        kind: Literal["node", "pod"] = "node" if data.get("kind") == "node" else "pod"
        return cls(kind, str(data["name"]), str(data["node"]),
                   tuple(str(a) for a in data.get("addrs") or ()), str(data.get("host_if") or ""),
                   int(data.get("index") or 0))


@dataclass(frozen=True, slots=True)
class Target:
    kind: Kind
    ends: tuple[Endpoint, ...]

    @property
    def text(self) -> str:
        if self.kind == "link":
            return f"link {self.ends[0].label} {self.ends[1].label}"
        return self.ends[0].label

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ends": [e.to_dict() for e in self.ends]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        kind = data.get("kind")
        if kind not in ("node", "pod", "link"):
            raise ValueError(f"unknown fault target kind {kind!r}")
        return cls(kind, tuple(Endpoint.from_dict(e) for e in data.get("ends") or ()))


def endpoint(plan: NetworkPlan, name: str) -> Endpoint:
    """``node/NAME`` or a pod's full ``NS/NAME`` (prefixes are resolved by the caller) → its
    :class:`Endpoint`. Pods on the host network have no interface of their own."""
    if name.startswith("node/"):
        node = name[5:]
        if node not in plan.node_names:
            raise FaultError(f'Error from server (NotFound): nodes "{node}" not found')
        n = plan.node(node)
        return Endpoint("node", node, node, (n.internal_ip, *n.pod_cidrs),
                        index=plan.node_names.index(node))
    key = name[4:] if name.startswith("pod/") else name
    if not plan.has_pod(key):
        raise FaultError(
            f'error: pod "{key}" has no network interface of its own (it uses the host network, '
            f"or is not scheduled): fault its node instead (node/NAME)")
    p = plan.pod(key)
    addrs = tuple(a.split("/")[0] for a in p.eth0.addresses) or (p.ip,)
    return Endpoint("pod", key, p.node, addrs, host_if=p.host_if)


def resolve_target(plan: NetworkPlan, ends: Sequence[str]) -> Target:
    """End names (``node/NAME`` or full ``NS/POD`` keys) → a :class:`Target`."""
    resolved = tuple(endpoint(plan, e) for e in ends)
    if len(resolved) == 1:
        return Target(resolved[0].kind, resolved)
    a, b = resolved
    if a.kind == b.kind and a.name == b.name:
        raise FaultError(f"error: link {a.label} {b.label}: a link joins two different ends")
    return Target("link", resolved)


# ------------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault, as recorded in the cluster's state folder."""

    id: str
    target: Target
    impairment: Impairment
    created: str = ""

    @property
    def summary(self) -> str:
        return self.impairment.summary()

    @property
    def direction(self) -> str:
        """``both`` (a partition, or a link: each end's leaving traffic) or ``egress``."""
        return "both" if self.impairment.partition or self.target.kind == "link" else "egress"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target.text, "kind": self.target.kind,
                "params": self.impairment.to_dict(), "summary": self.summary,
                "created": self.created, "ends": [e.to_dict() for e in self.target.ends]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        target = Target.from_dict({"kind": data.get("kind"), "ends": data.get("ends") or ()})
        return cls(str(data["id"]), target, Impairment.from_dict(data.get("params") or {}),
                   str(data.get("created") or ""))


def next_id(existing: Iterable[str]) -> str:
    """``f1``, ``f2``…: one more than the highest in use."""
    numbers = [int(i[1:]) for i in existing if re.fullmatch(r"f[0-9]+", i)]
    return f"f{max(numbers, default=0) + 1}"


# ------------------------------------------------------------------------------- compiling


@dataclass(frozen=True, slots=True)
class Place:
    """A namespace of the cluster, by role: a node's, a pod's (``NS/NAME``), the underlay."""

    role: Literal["node", "pod", "underlay"]
    name: str = ""

    @property
    def label(self) -> str:
        return "underlay" if self.role == "underlay" else (
            f"node/{self.name}" if self.role == "node" else self.name)


@dataclass(frozen=True, slots=True)
class NftOp:
    """One nft table of a fault in one namespace, and the transaction that creates it."""

    place: Place
    family: Literal["netdev", "inet"]
    table: str
    text: str


@dataclass(frozen=True, slots=True)
class TcOp:
    """The root qdisc a fault owns on one device: the ``tc`` argument lists that build it
    (removing it is ``tc qdisc del dev DEV root``)."""

    place: Place
    dev: str
    commands: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class DelayLineOp:
    """A userspace delay line (no sch_netem): the process reading TAP ``tap`` in ``place`` and
    sending what it reads out of ``dev`` after the delay, maybe corrupted. It must be running
    (the TAP exists) before the nft chain that forwards into the TAP is loaded."""

    place: Place
    dev: str
    tap: str
    delay_ms: float
    jitter_ms: float
    corrupt_pct: float
    #: The ``skb->priority`` of the frames it sends (a link's htb class with ``--rate``; 0:
    #: none).
    priority: int = 0

    def argv(self) -> tuple[str, ...]:
        """The delay line's options (see :mod:`podnet.linux.delayline`)."""
        out = ("--dev", self.dev, "--tap", self.tap, "--delay", _num_text(self.delay_ms),
               "--jitter", _num_text(self.jitter_ms), "--corrupt", _num_text(self.corrupt_pct),
               "--mark", str(DELAYLINE_MARK))
        return out + (("--priority", str(self.priority)) if self.priority else ())


@dataclass(frozen=True, slots=True)
class Program:
    """What applying a fault means on the machine."""

    nft: tuple[NftOp, ...]
    tc: tuple[TcOp, ...]
    #: The faulted interfaces, as a user names them: (namespace role, device).
    interfaces: tuple[tuple[Place, str], ...]
    #: Userspace delay lines, when the kernel has no sch_netem (started before ``nft``).
    delaylines: tuple[DelayLineOp, ...] = ()


def delayline_dev(fault_id: str) -> str:
    """The TAP device of fault ``fault_id``'s delay line (an interface name: ≤ 15 chars)."""
    return (DELAYLINE_PREFIX + fault_id)[:15]


def _set(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _v4(addrs: Iterable[str]) -> list[str]:
    return [a for a in addrs if ":" not in a]


def _v6(addrs: Iterable[str]) -> list[str]:
    return [a for a in addrs if ":" in a]


def _matches(src: Sequence[str] | None, dst: Sequence[str] | None) -> list[str]:
    """nft match expressions selecting packets from ``src`` to ``dst`` (either may be None:
    any), one per address family that has addresses on every side given."""
    out = []
    for fam, pick in (("ip", _v4), ("ip6", _v6)):
        s = pick(src) if src is not None else None
        d = pick(dst) if dst is not None else None
        if (src is not None and not s) or (dst is not None and not d):
            continue
        parts = []
        if s:
            parts.append(f"{fam} saddr {_set(s)}")
        if d:
            parts.append(f"{fam} daddr {_set(d)}")
        out.append(" ".join(parts))
    return out


def _drop_verdict(imp: Impairment) -> str | None:
    """The nft statement that drops per the impairment, None when it drops nothing."""
    if imp.partition or (imp.loss_pct is not None and imp.loss_pct >= 100):
        return "drop"
    if imp.loss_pct:
        n = int(round(imp.loss_pct * LOSS_SCALE / 100))
        return f"numgen random mod {LOSS_SCALE} < {n} drop" if n else None
    return None


def _comment(fault: Fault) -> str:
    return f'comment "podnet fault {fault.id}: {fault.summary} on {fault.target.text}"'[:130] \
        .rstrip('"') + '"'


def _tbf(rate_bps: int) -> list[str]:
    """tbf with a bucket of 10 ms of traffic (at least a few full frames: tbf needs at least
    rate/HZ, and splits GSO packets larger than the bucket)."""
    burst = max(rate_bps // 8 // 100, 5000)
    return ["tbf", "rate", format_rate(rate_bps), "burst", str(burst),
            "latency", f"{TBF_LATENCY_MS}ms"]


def _htb_class(rate_bps: int | None) -> list[str]:
    rate = format_rate(rate_bps) if rate_bps is not None else "100gbit"
    burst = max((rate_bps or 10**9) // 8 // 100, 5000)
    return ["htb", "rate", rate, "ceil", rate, "burst", str(burst), "cburst", str(burst)]


def _device_tc(imp: Impairment, netem_ok: bool = True) -> tuple[tuple[str, ...], ...]:
    """A whole device: tbf root (``--rate``), netem root (``--delay/--jitter/--corrupt``), or
    netem root with tbf as its child (both), as tc-netem(8) shows. Without netem (a delay line
    does its part) only the tbf."""
    netem = imp.netem_args() if netem_ok else []
    if netem and imp.rate_bps is not None:
        return (("qdisc", "add", "dev", "{dev}", "root", "handle", "1:", *netem),
                ("qdisc", "add", "dev", "{dev}", "parent", "1:1", "handle", "10:",
                 *_tbf(imp.rate_bps)))
    if netem:
        return (("qdisc", "add", "dev", "{dev}", "root", "handle", "1:", *netem),)
    if imp.rate_bps is not None:
        return (("qdisc", "add", "dev", "{dev}", "root", "handle", "1:", *_tbf(imp.rate_bps)),)
    return ()


CLASS = "1:1"
#: ``CLASS`` as an ``skb->priority`` (major:minor, 16 bits each).
_CLASS_PRIORITY = 0x00010001


def delayline_priority(fault_id: str) -> int:
    """The ``skb->priority`` that steers a pod-end link's packets into its delay lines:
    major ``0x706e`` ("pn", no qdisc of ours has it, so htb passes such a packet unshaped),
    minor the fault's number (two faults never take each other's packets)."""
    digits = re.sub(r"[^0-9]", "", fault_id)
    return (0x706E << 16) | ((int(digits) if digits else 0) & 0xFFFF)


def _tc_handle(priority: int) -> str:
    return f"{priority >> 16:x}:{priority & 0xFFFF:x}"


def _steered_tc(imp: Impairment, netem_ok: bool = True) -> tuple[tuple[str, ...], ...]:
    """A link's share of a device: htb root (unclassified traffic passes directly, unshaped),
    class 1:1 carrying ``--rate``, netem under it for ``--delay/--jitter/--corrupt``. Packets
    reach class 1:1 by their ``skb->priority``, set by the fault's nft rule."""
    out: list[tuple[str, ...]] = [
        ("qdisc", "add", "dev", "{dev}", "root", "handle", "1:", "htb"),
        ("class", "add", "dev", "{dev}", "parent", "1:", "classid", CLASS,
         *_htb_class(imp.rate_bps)),
    ]
    netem = imp.netem_args() if netem_ok else []
    if netem:
        out.append(("qdisc", "add", "dev", "{dev}", "parent", CLASS, "handle", "10:", *netem))
    return tuple(out)


def _fill(commands: tuple[tuple[str, ...], ...], dev: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(dev if a == "{dev}" else a for a in c) for c in commands)


class _Tables:
    """nft text per (place, family), built rule by rule."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.table = TABLE_PREFIX + fault.id
        self.lines: dict[tuple[Place, str], list[str]] = {}
        self.chains: dict[tuple[Place, str], set[str]] = {}

    def chain(self, place: Place, family: str, chain: str, hook: str,
              device: str | None = None, priority: str = "filter") -> None:
        key = (place, family)
        lines = self.lines.setdefault(key, [
            f"add table {family} {self.table}",
            f"delete table {family} {self.table}",
            f"add table {family} {self.table} {{ {_comment(self.fault)} ; }}",
        ])
        known = self.chains.setdefault(key, set())
        if chain in known:
            return
        known.add(chain)
        dev = f' device "{device}"' if device else ""
        lines.append(f"add chain {family} {self.table} {chain} {{ type filter hook {hook}{dev} "
                     f"priority {priority} ; }}")

    def rule(self, place: Place, family: str, chain: str, text: str) -> None:
        self.lines[(place, family)].append(f"add rule {family} {self.table} {chain} {text}")

    def ops(self) -> tuple[NftOp, ...]:
        out = []
        for (place, family), lines in self.lines.items():
            fam: Literal["netdev", "inet"] = "netdev" if family == "netdev" else "inet"
            out.append(NftOp(place, fam, self.table, "\n".join(lines) + "\n"))
        return tuple(out)


def place_of(e: Endpoint) -> Place:
    """The namespace an end of a fault lives in: its node's, or its pod's."""
    return Place("node", e.name) if e.kind == "node" else Place("pod", e.name)


def _chain_name(prefix: str, dev: str) -> str:
    return prefix + "-" + re.sub(r"[^A-Za-z0-9_]", "_", dev)


def compile_fault(fault: Fault, underlay_port: Callable[[int, str], str],
                  netem: bool = True) -> Program:
    """The nft tables, qdiscs and delay lines that make ``fault`` real (see the module doc for
    where and why). ``underlay_port(index, node)`` names a node's port on the underlay bridge;
    ``netem``: whether the kernel has sch_netem (without it, ``--delay/--jitter/--corrupt`` are
    userspace delay lines: one on a node or pod's device, one per leaving device on a link)."""
    imp = fault.impairment
    t = fault.target
    tables = _Tables(fault)
    tcs: list[TcOp] = []
    drop = _drop_verdict(imp)
    if t.kind in ("node", "pod"):
        e = t.ends[0]
        here = place_of(e)
        dev = UPLINK if e.kind == "node" else POD_IF
        peer_place = Place("underlay") if e.kind == "node" else Place("node", e.node)
        peer_dev = underlay_port(e.index, e.name) if e.kind == "node" else e.host_if
        if drop is not None:
            # what leaves the device dies at its peer's ingress: the wire lost it
            ch = _chain_name("out", peer_dev)
            tables.chain(peer_place, "netdev", ch, "ingress", peer_dev)
            tables.rule(peer_place, "netdev", ch, drop)
        if imp.partition:
            ch = _chain_name("in", dev)
            tables.chain(here, "netdev", ch, "ingress", dev)
            tables.rule(here, "netdev", ch, "drop")
        lines: tuple[DelayLineOp, ...] = ()
        if imp.needs_netem and not netem:
            tap = delayline_dev(fault.id)
            ch = _chain_name("delay", dev)
            tables.chain(here, "netdev", ch, "egress", dev)
            tables.rule(here, "netdev", ch,
                        f'meta mark != {DELAYLINE_MARK:#x} fwd to "{tap}"')
            lines = (DelayLineOp(here, dev, tap, imp.delay_ms or 0.0, imp.jitter_ms or 0.0,
                                 imp.corrupt_pct or 0.0),)
        if (imp.needs_netem and netem) or imp.rate_bps is not None:
            tcs.append(TcOp(here, dev, _fill(_device_tc(imp, netem), dev)))
        return Program(tables.ops(), tuple(tcs), ((here, dev),), lines)
    a, b = t.ends
    # without sch_netem, --delay/--jitter/--corrupt on a link are delay lines on the devices
    # the link's packets leave their node by (one per device), fed only those packets
    delay = imp.needs_netem and not netem
    shape = imp.rate_bps is not None or (imp.needs_netem and netem)
    interfaces = tuple((place_of(e), UPLINK if e.kind == "node" else POD_IF) for e in (a, b))
    lines_: list[DelayLineOp] = []

    def delay_line(place: Place, dev: str, priority: int = 0) -> str:
        taps = {d.tap for d in lines_ if d.place == place}
        tap = delayline_dev(fault.id)
        if tap in taps:
            tap = tap[:13] + f"-{len(taps) + 1}"
        lines_.append(DelayLineOp(place, dev, tap, imp.delay_ms or 0.0, imp.jitter_ms or 0.0,
                                  imp.corrupt_pct or 0.0, priority))
        return tap

    if a.kind == "node" and b.kind == "node":
        for x, y in ((a, b), (b, a)):
            # what x's eth0 sends to y: the outer destination of encapsulated traffic (y's
            # InternalIP) or the inner one of routed traffic (y's pod CIDR)
            matches = _matches(None, y.addrs)
            if drop is not None:
                port = underlay_port(x.index, x.name)
                ch = _chain_name("out", port)
                tables.chain(Place("underlay"), "netdev", ch, "ingress", port)
                for m in matches:
                    tables.rule(Place("underlay"), "netdev", ch, f"{m} {drop}")
            here = place_of(x)
            ch = _chain_name("steer", UPLINK)
            if shape:
                tables.chain(here, "netdev", ch, "egress", UPLINK)
                for m in matches:
                    tables.rule(here, "netdev", ch, f"{m} meta priority set {CLASS}")
                tcs.append(TcOp(here, UPLINK, _fill(_steered_tc(imp, netem), UPLINK)))
            if delay:
                # after the priority (the re-sent frames get it again, for the htb class)
                tap = delay_line(here, UPLINK)
                tables.chain(here, "netdev", ch, "egress", UPLINK)
                for m in matches:
                    tables.rule(here, "netdev", ch,
                                f'meta mark != {DELAYLINE_MARK:#x} {m} fwd to "{tap}"')
        return Program(tables.ops(), tuple(tcs), interfaces, tuple(lines_))
    # a pod is an end: pick the packets on the sending end's node, by address, after DNAT
    if imp.needs_tc:
        for x, y in ((a, b), (b, a)):
            if x.kind == "node" and y.kind == "pod" and y.node == x.name:
                raise FaultError(
                    f"error: link {a.label} {b.label}: pod {y.name} runs on node {x.name}, so "
                    f"traffic between them never leaves the node and no qdisc can shape it: "
                    f"--delay, --jitter, --corrupt and --rate need a device; use --loss or "
                    f"--partition, or fault the pod ({y.name})")
    mark = delayline_priority(fault.id)
    for x, y in ((a, b), (b, a)):
        node = Place("node", x.node)
        matches = _matches(x.addrs, y.addrs)
        # srcnat - 10: after kube-proxy's DNAT (dstnat) and before masquerade (srcnat), so
        # both addresses are the real ones
        tables.chain(node, "inet", "post", "postrouting", priority="srcnat - 10")
        tables.chain(node, "inet", "local", "input", priority="filter")
        # a delay line's packets are told by a priority of their own (the inner addresses are
        # out of sight once encapsulated); it re-sends them with the htb class's, if any
        steer = _tc_handle(mark) if delay else CLASS if shape else None
        for m in matches:
            if drop is not None:
                tables.rule(node, "inet", "post", f"{m} {drop}")
                tables.rule(node, "inet", "local", f"{m} {drop}")
            if steer is not None:
                tables.rule(node, "inet", "post", f"{m} meta priority set {steer}")
        dev = UPLINK if x.node != y.node else y.host_if
        if shape:
            tcs.append(TcOp(node, dev, _fill(_steered_tc(imp, netem), dev)))
        if delay:
            tap = delay_line(node, dev, _CLASS_PRIORITY if imp.rate_bps is not None else 0)
            ch = _chain_name("delay", dev)
            tables.chain(node, "netdev", ch, "egress", dev)
            tables.rule(node, "netdev", ch, f"meta mark != {DELAYLINE_MARK:#x} meta priority "
                                            f'{_tc_handle(mark)} fwd to "{tap}"')
    return Program(tables.ops(), _merge_tc(tcs), interfaces, tuple(lines_))


def _merge_tc(tcs: Sequence[TcOp]) -> tuple[TcOp, ...]:
    seen: dict[tuple[Place, str], TcOp] = {}
    for op in tcs:
        seen.setdefault((op.place, op.dev), op)
    return tuple(seen.values())


def conflict(new: Program, existing: Mapping[str, Program]) -> str | None:
    """The id of an existing fault whose qdisc or delay line sits on a device ``new`` needs,
    else None: a device has one root qdisc, so two tc faults cannot share one; and of two delay
    lines on one device, the first would take the frames and the second never see them (a
    re-sent frame carries :data:`DELAYLINE_MARK`), so they cannot share one either."""
    mine = {(op.place, op.dev) for op in new.tc}
    lines = {(d.place, d.dev) for d in new.delaylines}
    for fid, prog in existing.items():
        if mine & {(op.place, op.dev) for op in prog.tc}:
            return fid
        if lines & {(d.place, d.dev) for d in prog.delaylines}:
            return fid
    return None


# ------------------------------------------------------------------------------- re-wired pods


@dataclass(frozen=True, slots=True)
class Redo:
    """What a live convergence means for one fault: applied again as ``fault`` (its target
    resolved against the new plan), or dropped because its end ``gone`` left the network."""

    fault: Fault
    #: The re-wired pods among its ends (why it is applied again).
    pods: tuple[str, ...] = ()
    gone: Endpoint | None = None

    @property
    def where(self) -> str:
        return f"fault {self.fault.id} on {self.fault.target.text}"

    @property
    def cause(self) -> str:
        return f"{', '.join(self.pods)} re-wired" if self.pods else "its ends changed"

    @property
    def gone_sentence(self) -> str:
        """Why the fault is dropped: ``the pod is gone`` (``pod NS/NAME`` for a link's end)."""
        assert self.gone is not None
        what = f"the {self.gone.kind}" if self.fault.target.kind != "link" else \
            f"{self.gone.kind} {self.gone.name}"
        return f"{what} is gone"


def redo_after_rewire(plan: NetworkPlan, fault: Fault, changed: set[str]) -> Redo | None:
    """What ``fault`` needs now that the ``changed`` pods were re-wired or removed and the
    network is ``plan``: None when nothing (no end of it changed, or its target is not one the
    CLI would have made). A pod created later under the same name is another pod: an end that
    left the network drops the fault rather than waiting for it."""
    ends = fault.target.ends
    for e in ends:
        if not (plan.has_pod(e.name) if e.kind == "pod" else e.name in plan.node_names):
            return Redo(fault, gone=e)
    try:
        target = resolve_target(plan, [e.label for e in ends])
    except FaultError:
        return None
    pods = tuple(e.name for e in ends if e.kind == "pod" and e.name in changed)
    if not pods and target == fault.target:
        return None
    return Redo(dataclasses.replace(fault, target=target), pods)


# ------------------------------------------------------------------------------- trace


@dataclass(frozen=True, slots=True)
class FaultHit:
    """A fault on the traced path: at which hop, in which direction, what it does."""

    fault: Fault
    #: Index into the trace's hops where it applies.
    hop: int
    direction: Direction
    #: The faulted place as a person names it: ``worker2 eth0``, ``link worker ↔ worker2``.
    where: str
    #: The packet is dropped (a partition) — the request at this hop.
    drops: bool = False
    #: The DNS query (not the connection) crosses it.
    dns: bool = False

    @property
    def effect(self) -> str:
        imp = self.fault.impairment
        if imp.partition or (self.drops and imp.loss_pct is not None):
            what = "partitioned: every packet is dropped" if imp.partition else \
                "loss 100%: every packet is dropped"
            if self.dns:
                what = ("partitioned: the DNS query is dropped (the resolver times out and "
                        "retries; kube-proxy may pick another CoreDNS pod)")
            return what
        way = {"request": "the request leaves through it",
               "reply": "the replies leave through it",
               "both": "the request and the replies cross it"}[self.direction]
        if self.dns:
            way = {"request": "the DNS query leaves through it",
                   "reply": "the DNS answer leaves through it",
                   "both": "the DNS query and answer cross it"}[self.direction]
        return f"{imp.summary()} ({way})"

    def text(self) -> str:
        return f"fault {self.fault.id} ({self.fault.target.text}): {self.effect} on {self.where}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.fault.id, "target": self.fault.target.text,
                "summary": self.fault.summary, "where": self.where,
                "direction": self.direction, "effect": self.effect, "hop": self.hop + 1,
                "drops": self.drops, "dns": self.dns}


@dataclass(frozen=True, slots=True)
class _Flow:
    """A traced packet's journey, reduced to what faults care about."""

    src_pod: str | None
    src_ip: str | None
    dst_pod: str | None
    dst_ip: str | None
    #: The hop index where the request leaves the source pod's eth0.
    pod_out: int | None
    #: The hop index where the request enters the backend pod's eth0.
    pod_in: int | None
    #: Wire crossings, the underlay's router included: (last hop index on the sender, sender,
    #: receiver).
    wires: tuple[tuple[int, str, str], ...]
    #: The same between cluster nodes only (the router in between left out: a link between
    #: nodes on two subnets is crossed through it).
    links: tuple[tuple[int, str, str], ...]
    #: Where a link picked by address on the sender's node drops or shapes the request.
    leave_node: int


_RECEIVING = ("encap", "underlay", "policy-ingress", "deliver", "decap")


def _flow_of(trace: Trace, nodes: set[str]) -> _Flow:
    hops = trace.hops
    src = trace.source
    src_pod = src.pod.qualified_name if src.pod is not None and not src.host_network else None
    backend = trace.backend or {}
    dst_pod_key = backend.get("pod")
    pod_out = next((i for i, h in enumerate(hops) if h.stage == "pod-egress"), None) \
        if src_pod else None
    deliver = next((i for i, h in enumerate(hops) if h.stage == "deliver"), None)
    dst_pod = str(dst_pod_key) if dst_pod_key and deliver is not None else None
    pod_in = deliver if dst_pod else None
    # the path's cluster nodes, in order, with the last hop index on each
    runs: list[tuple[str, int]] = []
    for i, h in enumerate(hops):
        if h.stage == "dns" or not h.node:
            continue
        if runs and runs[-1][0] == h.node:
            runs[-1] = (h.node, i)
        else:
            runs.append((h.node, i))
    wires = [(i1, n1, n2) for (n1, i1), (n2, _i2) in zip(runs, runs[1:], strict=False)]
    cluster_runs = [(n, i) for n, i in runs if n in nodes]
    links = [(i1, n1, n2) for (n1, i1), (n2, _i2) in
             zip(cluster_runs, cluster_runs[1:], strict=False) if n1 != n2]
    first = next((i for i, h in enumerate(hops) if h.stage != "dns"), 0)
    leave = next((i for i, h in enumerate(hops) if i > first and h.stage in _RECEIVING), None)
    leave_node = max(first, (leave if leave is not None else len(hops)) - 1)
    return _Flow(src_pod, src.ip, dst_pod, backend.get("ip"), pod_out, pod_in, tuple(wires),
                 tuple(links), leave_node)


def _dev_label(e: Endpoint) -> str:
    return f"{e.name} {UPLINK if e.kind == 'node' else POD_IF}"


def _hits_for(fault: Fault, flow: _Flow, dns: bool = False) -> list[FaultHit]:
    t = fault.target
    imp = fault.impairment
    # a partition drops both ways; total loss drops what it is on the way of (a "reply" hit
    # is on the replies' way: the request gets through, the answer does not)
    part = imp.partition or (imp.loss_pct is not None and imp.loss_pct >= 100)
    back = imp.partition
    out: list[FaultHit] = []
    if t.kind == "pod":
        e = t.ends[0]
        where = _dev_label(e)
        if flow.src_pod == e.name and flow.pod_out is not None:
            out.append(FaultHit(fault, flow.pod_out, "request", where, part, dns))
        if flow.dst_pod == e.name and flow.pod_in is not None:
            # the request is dropped entering the pod; what the pod sends back is impaired
            out.append(FaultHit(fault, flow.pod_in, "reply", where, back, dns))
    elif t.kind == "node":
        e = t.ends[0]
        where = _dev_label(e)
        for i, sender, receiver in flow.wires:
            if sender == e.name:
                out.append(FaultHit(fault, i, "request", where, part, dns))
            elif receiver == e.name:
                out.append(FaultHit(fault, i + 1, "reply", where, back, dns))
    else:
        a, b = t.ends
        where = f"link {a.name} ↔ {b.name}"
        if a.kind == "node" and b.kind == "node":
            for i, x, y in flow.links:
                if {x, y} == {a.name, b.name}:
                    out.append(FaultHit(fault, i, "both", where, part, dns))
        elif (a.covers(flow.src_ip) and b.covers(flow.dst_ip)) or \
                (b.covers(flow.src_ip) and a.covers(flow.dst_ip)):
            out.append(FaultHit(fault, flow.leave_node, "both", where, part, dns))
    return out


def on_trace(trace: Trace, faults: Sequence[Fault], nodes: Iterable[str]) -> list[FaultHit]:
    """The faults the traced connection meets, in path order: on the connection itself (its
    hops), and on the DNS query its name resolution sent (on the query hop, which names the
    CoreDNS pod kube-proxy picked, its address and its node).

    ``nodes``: the cluster's node names (the underlay's router is not one)."""
    node_set = set(nodes)
    flow = _flow_of(trace, node_set)
    hits: list[FaultHit] = []
    for f in faults:
        hits.extend(_hits_for(f, flow))
    hits.extend(_dns_hits(trace, faults, node_set))
    hits.sort(key=lambda h: (h.hop, h.fault.id))
    return hits


def _dns_hits(trace: Trace, faults: Sequence[Fault], nodes: set[str]) -> list[FaultHit]:
    """The DNS query of the trace, from the source to the CoreDNS pod kube-proxy picked."""
    q = next((i for i, h in enumerate(trace.hops) if h.stage == "dns" and h.get("server")), None)
    if q is None:
        return []
    hop = trace.hops[q]
    server = str(hop.get("server"))
    server_node = str(hop.get("server_node") or "") or None
    server_ip = str(hop.get("server_ip") or "") or None
    src = trace.source
    src_pod = src.pod.qualified_name if src.pod is not None and not src.host_network else None
    wires: tuple[tuple[int, str, str], ...] = ()
    if src.node and server_node and src.node != server_node and src.node in nodes:
        wires = ((q, src.node, server_node),)
    flow = _Flow(src_pod, src.ip, server, server_ip, q if src_pod else None, q, wires, wires, q)
    out = []
    for f in faults:
        for h in _hits_for(f, flow, dns=True):
            out.append(dataclasses.replace(h, hop=q, drops=False))
    return out


def trace_with_faults(trace: Trace, hits: Sequence[FaultHit]) -> tuple[Trace, list[FaultHit]]:
    """The trace as the faults make it: a partition on the connection's path drops the
    request where it is met (the hops stop there, ending in a ``drop`` hop, the verdict is
    ``dropped`` and the client times out); other faults leave the verdict and add a note each.
    Returns the new trace and the hits that remain on its hops."""
    cut = next((h for h in hits if h.drops and not h.dns), None)
    kept = list(hits)
    notes = list(trace.notes)
    if cut is not None:
        hops = list(trace.hops)
        # met entering something (a pod's eth0, a node's eth0 from the wire): the hop where
        # it would have been received is not reached; met leaving: the hop is the last one
        last = cut.hop - 1 if cut.direction == "reply" else cut.hop
        what = "partitioned" if cut.fault.impairment.partition else "lost"
        reason = (f"{what} by fault {cut.fault.id} ({cut.fault.target.text}): "
                  f"{cut.where} drops every packet"
                  f"{'' if cut.fault.impairment.partition else ' (loss 100%)'}")
        drop = Hop.make(hops[cut.hop].node, "drop", reason,
                        f"nft table {TABLE_PREFIX}{cut.fault.id}: drop")
        hops = hops[: last + 1] + [drop]
        kept = [dataclasses.replace(h, hop=len(hops) - 1) if h is cut else h
                for h in hits if h.hop <= last or h is cut]
        trace = dataclasses.replace(trace, hops=tuple(hops), verdict="dropped", reason=reason,
                                    client_sees="timeout")
    else:
        lost = next((h for h in hits if not h.dns and h.fault.impairment.loss_pct is not None
                     and h.fault.impairment.loss_pct >= 100), None)
        if lost is not None and trace.verdict != "dropped":
            reason = (f"the replies are lost: fault {lost.fault.id} ({lost.fault.target.text}) "
                      f"drops everything leaving {lost.where} (loss 100%)")
            trace = dataclasses.replace(trace, verdict="dropped", reason=reason,
                                        client_sees="timeout")
    ways: dict[tuple[str, bool], tuple[FaultHit, set[str]]] = {}
    for h in kept:
        _first, dirs = ways.setdefault((h.fault.id, h.dns), (h, set()))
        dirs.add(h.direction)
    for (_fid, dns), (h, dirs) in ways.items():
        direction: Direction = "both" if "both" in dirs or len(dirs) > 1 else h.direction
        if h.fault.impairment.partition:
            if dns:
                notes.append(f"fault {h.fault.id} ({h.fault.target.text}) partitions the DNS "
                             f"query's path ({h.where}): that query times out")
            continue
        notes.append(_note(dataclasses.replace(h, direction=direction)))
    return dataclasses.replace(trace, notes=tuple(dict.fromkeys(notes))), kept


def _note(h: FaultHit) -> str:
    imp = h.fault.impairment
    what = "the DNS query" if h.dns else "this connection"
    ways = {"request": "on the way there", "reply": "on the way back",
            "both": "both ways"}[h.direction]
    out = f"fault {h.fault.id} ({h.fault.target.text}): {imp.summary()} on {h.where}, {ways}, " \
          f"for {what}"
    effects = []
    if imp.loss_pct:
        p = imp.loss_pct / 100
        through = (1 - p) ** (2 if h.direction == "both" else 1)
        effects.append(f"a packet and its answer both get through {through:.0%} of the time "
                       f"(TCP retransmits: slower, not failed)"
                       if p < 1 else "nothing gets through: the client times out")
    if imp.delay_ms is not None:
        rtt = imp.delay_ms * (2 if h.direction == "both" else 1)
        effects.append(f"the round trip takes {_num_text(rtt)}ms more")
    if imp.rate_bps is not None:
        effects.append(f"throughput at most {format_rate(imp.rate_bps)}")
    if effects:
        out += ": " + "; ".join(effects)
    return out


def trace_doc(trace: Trace, hits: Sequence[FaultHit]) -> dict[str, Any]:
    """``trace -o json`` with the faults: ``faults`` at the top level (every hit) and on each
    hop a fault applies to (existing fields untouched)."""
    doc = trace.to_dict()
    for h in hits:
        if 0 <= h.hop < len(doc["hops"]):
            doc["hops"][h.hop].setdefault("faults", []).append(h.to_dict())
    doc["faults"] = [h.to_dict() for h in hits]
    return doc


def trace_text(trace: Trace, hits: Sequence[FaultHit]) -> str:
    """``trace`` text with a ``fault …`` line under each hop a fault applies to."""
    lines = trace.to_text().split("\n")
    by_hop: dict[int, list[FaultHit]] = {}
    for h in hits:
        by_hop.setdefault(h.hop, []).append(h)
    for i in sorted(by_hop, reverse=True):
        if 0 <= i < len(trace.hops):
            extra = [f"       ↳ {h.text()}" for h in by_hop[i]]
            lines[2 + i: 2 + i] = extra
    return "\n".join(lines)
