"""kube-scheduler (and kubelet's admission of bound pods): which node every pod runs on.

Theory of operation
-------------------
A pod that already names a node (``spec.nodeName`` — written by the user, by a DaemonSet, or by an
earlier reconcile) is not scheduled: the kubelet of that node admits it or rejects it. A pod
bound to a node that does not exist stays ``Pending`` (no kubelet will ever pick it up; upstream's
pod garbage collector eventually deletes it).

Every other pod goes through the default scheduler's filters, in the default profile's order,
each node reporting the *first* filter it fails — exactly what the ``0/N nodes are available``
message counts:

==================  ===============================================================  ===========
plugin              reason on a node that fails it                                   preemption
==================  ===============================================================  ===========
NodeUnschedulable   ``node(s) were unschedulable``                                   not helpful
TaintToleration     ``node(s) had untolerated taint(s)``                             not helpful
NodeAffinity        ``node(s) didn't match Pod's node affinity/selector``            not helpful
NodePorts           ``node(s) didn't have free ports for the requested pod ports``   no victims
NodeResourcesFit    ``Too many pods`` (only the pod count is modelled: 110 per node)  no victims
==================  ===============================================================  ===========

NodeAffinity's PreFilter narrows the candidates when every required term names nodes by
``metadata.name`` (what DaemonSet pods carry); the other nodes report
``node(s) didn't satisfy plugin(s) [NodeAffinity]``. The message is then completed with the
PostFilter (DefaultPreemption) verdict. All pods have the same priority in the model, so
preemption never finds victims: a node that failed with an "unresolvable" reason is ``Preemption
is not helpful for scheduling``, one that failed for ports or capacity ``No preemption victims
found for incoming pod``. Reasons are sorted as strings, as upstream's histogram sorts them.

Upstream changed the taint reason in late 2025 (kubernetes#134740, also in 1.34 patch releases):
it used to name the taint (``node(s) had untolerated taint {node-role.kubernetes.io/control-plane:
}``) and now says ``node(s) had untolerated taint(s)`` so that taint values do not leak into pod
statuses. podnet follows the current wording (:data:`REASON_TAINT`).

Among the nodes that pass, the scheduler spreads: the node with the fewest pods wins, ties go to
the node that comes first. (Upstream scores with LeastAllocated and spreading over zero-request
pods, which comes to "fewest pods" here; podnet makes the tie-break deterministic.) Pods are
placed in list order, which is creation order.

Performance: pods are bucketed by their scheduling constraints (nodeSelector, affinity,
tolerations), the static filters run once per bucket over the nodes, and each bucket keeps a heap
of (pods on node, node index) over its feasible nodes, corrected lazily when another bucket put a
pod on a node. 150,000 pods over 5,000 nodes is O(pods · log nodes).

A pod that was bound in ``previous`` keeps its node when it still fits there, as a bound pod does.

Not modelled: resource requests other than the pod count, inter-pod (anti-)affinity,
topologySpreadConstraints, volumes and priorities (every pod has the same priority).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MemberDescriptorType
from typing import Any, TypeVar

from podnet.api.core import Condition, Node, Pod, PodSpec, PodStatus, Taint, Toleration
from podnet.api.defaults import default_protocol
from podnet.api.selectors import Selector
from podnet.cluster.state import ClusterState

__all__ = [
    "DAEMONSET_TOLERATIONS",
    "REASON_AFFINITY",
    "REASON_PORTS",
    "REASON_PREFILTER_AFFINITY",
    "REASON_TAINT",
    "REASON_TOO_MANY_PODS",
    "REASON_UNSCHEDULABLE",
    "NodeMatcher",
    "evolve",
    "evolver",
    "fit_error_message",
    "host_ports",
    "node_capacity",
    "schedule",
    "tolerates",
    "untolerated_taint",
]

DEFAULT_SCHEDULER = "default-scheduler"

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_TAINT = "node(s) had untolerated taint(s)"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_PREFILTER_AFFINITY = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_AFFINITY_CONFLICT = "pod affinity terms conflict"
NO_NODES = "no nodes available to schedule pods"

PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
PREEMPTION_NO_VICTIMS = "No preemption victims found for incoming pod"
#: Filter failures that removing other pods could cure (Unschedulable, not ...AndUnresolvable).
_RESOLVABLE = frozenset({REASON_PORTS, REASON_TOO_MANY_PODS})

UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
_UNSCHEDULABLE_TAINT = Taint(key=UNSCHEDULABLE_TAINT_KEY, effect="NoSchedule")
_SCHEDULE_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
_EXECUTE_EFFECTS = frozenset({"NoExecute"})
_DEFAULT_MAX_PODS = 110

#: Tolerations the DaemonSet controller adds to its pods (``AddOrUpdateDaemonPodTolerations``),
#: in upstream's order; the network-unavailable one only for hostNetwork pods.
DAEMONSET_TOLERATIONS = (
    Toleration(key="node.kubernetes.io/not-ready", operator="Exists", effect="NoExecute"),
    Toleration(key="node.kubernetes.io/unreachable", operator="Exists", effect="NoExecute"),
    Toleration(key="node.kubernetes.io/disk-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/memory-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/pid-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule"),
)
DAEMONSET_HOST_NETWORK_TOLERATION = Toleration(
    key="node.kubernetes.io/network-unavailable", operator="Exists", effect="NoSchedule"
)


# ---------------------------------------------------------------------------- fast copies

T = TypeVar("T")
_EVOLVERS: dict[tuple[type, tuple[str, ...]], Any] = {}


def _slot(cls: type, name: str) -> Any:
    """The slot descriptor of field ``name`` (None when the field lives in ``__dict__``)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            d = vars(klass)[name]
            return d if isinstance(d, MemberDescriptorType) else None
    return None


def _make_evolver(cls: type, changed: tuple[str, ...]) -> Any:
    """Compile a copier for ``cls`` that replaces ``changed`` fields (positional arguments).

    The same technique ``dataclasses`` uses for ``__init__``: generated straight-line code, one
    slot store per field, no per-call introspection. A slot is stored through its descriptor
    (what ``object.__setattr__`` finds after looking the name up in the class: a third faster
    without the lookup, and this runs several times per pod of the cluster).
    """
    names = [f.name for f in fields(cls)]
    unknown = set(changed) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    params = ", ".join(f"v{i}" for i in range(len(changed)))
    lines = [f"def _evolve(obj{', ' if params else ''}{params}):", "    new = _new(_cls)"]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_set": object.__setattr__}
    for i, name in enumerate(names):
        src = f"v{changed.index(name)}" if name in changed else f"obj.{name}"
        slot = _slot(cls, name)
        if slot is None:
            lines.append(f"    _set(new, {name!r}, {src})")
        else:
            namespace[f"_store{i}"] = slot.__set__
            lines.append(f"    _store{i}(new, {src})")
    lines.append("    return new")
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from field names only
    return namespace["_evolve"]


def evolver(cls: type, *names: str) -> Any:
    """A compiled copier of ``cls`` replacing ``names`` (in that order, positionally): the
    fastest way to stamp out 150,000 variants of one struct."""
    key = (cls, names)
    fn = _EVOLVERS.get(key)
    if fn is None:
        fn = _make_evolver(cls, names)
        _EVOLVERS[key] = fn
    return fn


def evolve(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` for podnet's frozen slotted structs, without its per-call
    introspection: the hot paths (one new PodSpec/PodStatus per pod, 150,000 times) need it.
    Field values are not re-validated (the structs have no validation of their own)."""
    key = (type(obj), tuple(changes))
    fn = _EVOLVERS.get(key)
    if fn is None:
        fn = _make_evolver(type(obj), key[1])
        _EVOLVERS[key] = fn
    new: T = fn(obj, *changes.values())
    return new


# ---------------------------------------------------------------------------- predicates


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """``Toleration.ToleratesTaint``: effect and key match (empty means any), then the operator.

    ``Equal`` (or empty) compares values, ``Exists`` matches any value, ``Gt``/``Lt`` (KEP-5471)
    compare a numeric taint value against the toleration's.
    """
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    op = toleration.operator
    if op in ("", "Equal"):
        return toleration.value == taint.value
    if op == "Exists":
        return True
    if op in ("Gt", "Lt"):
        try:
            tv, v = int(taint.value), int(toleration.value)
        except ValueError:
            return False
        return tv > v if op == "Gt" else tv < v
    return False


def untolerated_taint(
    taints: Iterable[Taint], tolerations: Sequence[Toleration], effects: frozenset[str] = _SCHEDULE_EFFECTS
) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates (upstream's
    ``FindMatchingUntoleratedTaint``), or None."""
    for taint in taints:
        if taint.effect not in effects:
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _requirement_matches(req: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """One ``NodeSelectorRequirement`` against node labels (In, NotIn, Exists, DoesNotExist,
    Gt, Lt — Gt/Lt compare the label as an integer with the single value)."""
    key = req.get("key", "")
    op = req.get("operator", "")
    values: Sequence[str] = req.get("values") or ()
    value = labels.get(key)
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            have, want = int(value), int(values[0])
        except (TypeError, ValueError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def _field_matches(req: Mapping[str, Any], name: str) -> bool:
    """A ``matchFields`` requirement: only ``metadata.name`` with In/NotIn exists upstream."""
    if req.get("key") != "metadata.name":
        return False
    values = req.get("values") or ()
    op = req.get("operator", "")
    if op == "In":
        return name in values
    if op == "NotIn":
        return name not in values
    return False


def _required_terms(affinity: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], ...] | None:
    """The required node-affinity terms of a pod, or None when it has none."""
    if not affinity:
        return None
    node_affinity = affinity.get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    return tuple(required.get("nodeSelectorTerms") or ())


@dataclass(frozen=True, slots=True)
class NodeMatcher:
    """A pod's node selection (``nodeSelector`` AND required node affinity), compiled once.

    ``nodeSelector`` is an equality label selector, as upstream's ``labels.SelectorFromSet``.
    The affinity terms stay raw and are matched here: their requirements have the node-only
    operators Gt and Lt, and their values are whatever the manifest held (nothing validates
    affinity), which the label-selector compiler is not meant to take.

    ``names`` is NodeAffinity's PreFilter result: the node names every term is restricted to
    by ``matchFields metadata.name In``, or None when some term allows any node. An empty set
    means the terms conflict and no node can match.
    """

    node_selector: Selector
    terms: tuple[Mapping[str, Any], ...] | None
    names: frozenset[str] | None

    @staticmethod
    def of(spec: PodSpec) -> NodeMatcher:
        terms = _required_terms(spec.affinity)
        return NodeMatcher(Selector.from_map(spec.node_selector), terms, _prefilter_names(terms))

    def matches(self, node: Node) -> bool:
        labels = node.metadata.labels
        if not self.node_selector.matches(labels):
            return False
        if self.terms is None:
            return True
        name = node.metadata.name
        for term in self.terms:
            exprs = term.get("matchExpressions") or ()
            flds = term.get("matchFields") or ()
            if not exprs and not flds:
                continue  # an empty term matches no node
            if all(_requirement_matches(r, labels) for r in exprs) and all(
                _field_matches(r, name) for r in flds
            ):
                return True
        return False


def _prefilter_names(terms: tuple[Mapping[str, Any], ...] | None) -> frozenset[str] | None:
    """NodeAffinity PreFilter: the union over terms of the nodes each names, when all do."""
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for req in term.get("matchFields") or ():
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = set(req.get("values") or ())
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None  # this term allows any node name: all nodes are candidates
        names |= term_names
    return frozenset(names)


HostPort = tuple[str, str, int]


def host_ports(spec: PodSpec) -> tuple[HostPort, ...]:
    """(hostIP, protocol, hostPort) the pod claims on its node.

    For hostNetwork pods the API server defaults ``hostPort`` to ``containerPort``, so every
    container port is a host port.
    """
    out: list[HostPort] = []
    for p in spec.all_ports():
        port = p.host_port or (p.container_port if spec.host_network else 0)
        if port:
            out.append((p.host_ip or "0.0.0.0", default_protocol(p.protocol), port))
    return tuple(out)


def node_capacity(node: Node) -> int:
    """Allocatable pods of a node (kubelet's ``--max-pods``, 110 by default)."""
    raw = node.status.allocatable.get("pods", node.status.capacity.get("pods", _DEFAULT_MAX_PODS))
    try:
        return int(str(raw))
    except ValueError:
        return _DEFAULT_MAX_PODS


def fit_error_message(total: int, reasons: Mapping[str, int], prefilter: str = "") -> str:
    """The scheduler's ``FitError`` text with DefaultPreemption's PostFilter verdict appended.

    ``0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match Pod's
    node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for
    scheduling.``
    """
    msg = f"0/{total} nodes are available:"
    preempt: Counter[str] = Counter()
    if prefilter:
        msg += f" {prefilter}."
        preempt[PREEMPTION_NOT_HELPFUL] = total
    else:
        parts = sorted(f"{count} {reason}" for reason, count in reasons.items() if count)
        if parts:
            msg += " " + ", ".join(parts) + "."
        for reason, count in reasons.items():
            verdict = PREEMPTION_NO_VICTIMS if reason in _RESOLVABLE else PREEMPTION_NOT_HELPFUL
            preempt[verdict] += count
    verdicts = sorted(f"{count} {v}" for v, count in preempt.items() if count)
    msg += f" preemption: 0/{total} nodes are available: " + ", ".join(verdicts) + "."
    return msg


# ---------------------------------------------------------------------------- scheduling state


@dataclass(slots=True)
class _NodeInfo:
    index: int
    node: Node
    name: str
    taints: tuple[Taint, ...]
    unschedulable: bool
    capacity: int
    load: int = 0
    ports: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def port_conflict(self, wanted: Sequence[HostPort]) -> bool:
        for ip, proto, port in wanted:
            ips = self.ports.get((proto, port))
            if ips and (ip == "0.0.0.0" or "0.0.0.0" in ips or ip in ips):
                return True
        return False

    def add(self, wanted: Sequence[HostPort]) -> None:
        self.load += 1
        for ip, proto, port in wanted:
            self.ports.setdefault((proto, port), set()).add(ip)


@dataclass(slots=True)
class _Group:
    """Pods with the same constraints: the static filters' verdict over every node."""

    feasible: list[int]
    feasible_set: frozenset[int]
    static_reasons: Counter[str]
    prefilter_message: str = ""
    heap: list[tuple[int, int]] | None = None
    full: int = 0
    full_message: str | None = None


def _static_group(
    matcher: NodeMatcher, tolerations: tuple[Toleration, ...], infos: Sequence[_NodeInfo], by_name: Mapping[str, _NodeInfo]
) -> _Group:
    reasons: Counter[str] = Counter()
    candidates: Sequence[_NodeInfo]
    if matcher.names is not None:
        if not matcher.names:
            return _Group([], frozenset(), Counter(), prefilter_message=REASON_AFFINITY_CONFLICT)
        candidates = sorted((by_name[n] for n in matcher.names if n in by_name), key=lambda i: i.index)
        absent = len(infos) - len(candidates)
        if absent:
            reasons[REASON_PREFILTER_AFFINITY] = absent
    else:
        candidates = infos
    tolerates_unschedulable = any(tolerates(t, _UNSCHEDULABLE_TAINT) for t in tolerations)
    feasible: list[int] = []
    for info in candidates:
        if info.unschedulable and not tolerates_unschedulable:
            reasons[REASON_UNSCHEDULABLE] += 1
        elif info.taints and untolerated_taint(info.taints, tolerations) is not None:
            reasons[REASON_TAINT] += 1
        elif not matcher.matches(info.node):
            reasons[REASON_AFFINITY] += 1
        else:
            feasible.append(info.index)
    return _Group(feasible, frozenset(feasible), reasons)


_spec_on_node = evolver(PodSpec, "node_name")
_pod_spec_status = evolver(Pod, "spec", "status")


def _scheduled_condition() -> Condition:
    return Condition(type="PodScheduled", status="True")


_SCHEDULED = (_scheduled_condition(),)


def _with_condition(conditions: tuple[Condition, ...], cond: Condition) -> tuple[Condition, ...]:
    out = [c for c in conditions if c.type != cond.type]
    out.append(cond)
    return tuple(out)


class _Scheduler:
    def __init__(self, nodes: Sequence[Node]) -> None:
        self.infos = [
            _NodeInfo(
                index=i,
                node=n,
                name=n.metadata.name,
                taints=tuple(t for t in n.spec.taints if t.effect in _SCHEDULE_EFFECTS),
                unschedulable=n.spec.unschedulable,
                capacity=node_capacity(n),
            )
            for i, n in enumerate(nodes)
        ]
        self.by_name = {i.name: i for i in self.infos}
        self.groups: dict[Any, _Group] = {}
        self.group_of_spec: dict[int, _Group] = {}
        self.spec_cache: dict[tuple[int, int], PodSpec] = {}
        self.status_cache: dict[int, PodStatus] = {}
        self.failures: dict[str, PodStatus] = {}

    # -- groups

    def group(self, spec: PodSpec) -> _Group:
        g = self.group_of_spec.get(id(spec))
        if g is not None:
            return g
        key: Any = (spec.node_selector, spec.affinity, spec.tolerations)
        try:
            g = self.groups.get(key)
        except TypeError:  # an unhashable value inside affinity: no sharing for this spec
            key = id(spec)
            g = None
        if g is None:
            g = _static_group(NodeMatcher.of(spec), spec.tolerations, self.infos, self.by_name)
            self.groups[key] = g
        self.group_of_spec[id(spec)] = g
        return g

    # -- binding

    def bind(self, pod: Pod, info: _NodeInfo, ports: Sequence[HostPort]) -> Pod:
        info.add(ports)
        spec = pod.spec
        key = (id(spec), info.index)
        new_spec = self.spec_cache.get(key)
        if new_spec is None:
            new_spec = _spec_on_node(spec, info.name)
            self.spec_cache[key] = new_spec
        status = pod.status
        new_status = self.status_cache.get(id(status))
        if new_status is None:
            new_status = evolve(
                status, phase="Pending", conditions=_with_condition(status.conditions, _SCHEDULED[0])
            )
            self.status_cache[id(status)] = new_status
        new_pod: Pod = _pod_spec_status(pod, new_spec, new_status)
        return new_pod

    def fits(self, info: _NodeInfo, group: _Group, ports: Sequence[HostPort]) -> bool:
        return (
            info.index in group.feasible_set
            and info.load < info.capacity
            and not (ports and info.port_conflict(ports))
        )

    def place(self, pod: Pod, group: _Group, ports: Sequence[HostPort]) -> Pod:
        if group.prefilter_message:
            return self.unschedulable(pod, fit_error_message(len(self.infos), {}, group.prefilter_message))
        if not ports and group.full_message is not None:
            return self.unschedulable(pod, group.full_message)
        heap = group.heap
        if heap is None:
            heap = [(self.infos[i].load, i) for i in group.feasible]
            heapq.heapify(heap)
            group.heap = heap
        infos = self.infos
        aside: list[tuple[int, int]] = []
        chosen: _NodeInfo | None = None
        while heap:
            load, idx = heap[0]
            info = infos[idx]
            if load != info.load:  # another group placed pods here since: re-key lazily
                heapq.heapreplace(heap, (info.load, idx))
                continue
            if ports and info.port_conflict(ports):
                aside.append(heapq.heappop(heap))
                continue
            if info.load >= info.capacity:  # full for good: loads only grow
                heapq.heappop(heap)
                group.full += 1
                continue
            chosen = info
            heapq.heapreplace(heap, (load + 1, idx))
            break
        for entry in aside:
            heapq.heappush(heap, entry)
        if chosen is not None:
            return self.bind(pod, chosen, ports)
        reasons = Counter(group.static_reasons)
        if group.full:
            reasons[REASON_TOO_MANY_PODS] += group.full
        if aside:
            reasons[REASON_PORTS] += len(aside)
        message = fit_error_message(len(infos), reasons) if infos else NO_NODES
        if not ports:
            group.full_message = message
        return self.unschedulable(pod, message)

    def unschedulable(self, pod: Pod, message: str) -> Pod:
        status = pod.status
        cond = Condition(type="PodScheduled", status="False", reason="Unschedulable", message=message)
        return evolve(
            pod,
            status=evolve(status, phase="Pending", conditions=_with_condition(status.conditions, cond)),
        )

    # -- kubelet admission of bound pods

    def admit(self, pod: Pod, info: _NodeInfo, ports: Sequence[HostPort]) -> Pod | None:
        """kubelet's ``generalFilter`` for a pod bound without the scheduler: the rejected pod,
        or None when it is admitted. Reason and message are kubelet's (``Pod was rejected:``)."""
        if info.load >= info.capacity:
            return _rejected(
                pod,
                "OutOfpods",
                f"Node didn't have enough resource: pods, requested: 1, used: {info.load}, "
                f"capacity: {info.capacity}",
            )
        if not NodeMatcher.of(pod.spec).matches(info.node):
            return _rejected(pod, "NodeAffinity", f"Predicate NodeAffinity failed: {REASON_AFFINITY}")
        if ports and info.port_conflict(ports):
            return _rejected(pod, "NodePorts", f"Predicate NodePorts failed: {REASON_PORTS}")
        if untolerated_taint(info.taints, pod.spec.tolerations, _EXECUTE_EFFECTS) is not None:
            return _rejected(
                pod,
                "TaintToleration",
                "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate",
            )
        return None


def _rejected(pod: Pod, reason: str, message: str) -> Pod:
    return evolve(
        pod,
        status=evolve(pod.status, phase="Failed", reason=reason, message=f"Pod was rejected: {message}"),
    )


def _missing_node(pod: Pod) -> Pod:
    """A pod bound to a node that does not exist: no kubelet will run it, so it stays Pending."""
    message = f'Pod is bound to node "{pod.spec.node_name}", which does not exist'
    status = pod.status
    if status.phase in ("", "Pending") and status.reason == "NodeNotFound" and status.message == message:
        return pod
    return evolve(pod, status=evolve(status, phase="Pending", reason="NodeNotFound", message=message))


def _admitted_already(pod: Pod) -> bool:
    """Running or finished pods were admitted when they started; kubelet never re-admits them
    (node affinity is IgnoredDuringExecution)."""
    return pod.status.phase in ("Running", "Succeeded", "Failed")


def _counts(pod: Pod) -> bool:
    """Whether a bound pod occupies its node: terminal pods no longer do."""
    return pod.status.phase not in ("Succeeded", "Failed")


# ---------------------------------------------------------------------------- entry point


def schedule(
    pods: list[Pod],
    nodes: tuple[Node, ...],
    previous: ClusterState | None,
    preload: Mapping[str, int] | None = None,
) -> list[Pod]:
    """Bind every schedulable pod to a node; returns all pods, in the order given.

    ``preload`` counts pods already running on each node that are not in ``pods`` (an
    incremental reconcile passes only the pods of the namespaces that changed); they weigh on
    spreading exactly as if they had been passed. They must declare no host ports.

    Pods with ``spec.nodeName`` keep it (admitted or rejected by that node's kubelet, or left
    Pending when the node does not exist). Pods being deleted, pods for another scheduler and
    gated pods are left unscheduled, as upstream's scheduler skips them. The rest are placed on
    the least-loaded feasible node, or stay Pending with the scheduler's message.
    """
    sched = _Scheduler(nodes)
    by_name = sched.by_name
    if preload:
        for node_name, count in preload.items():
            loaded = by_name.get(node_name)
            if loaded is not None:
                loaded.load += count
    out: list[Pod] = list(pods)
    ports_of: dict[int, tuple[HostPort, ...]] = {}

    def ports(spec: PodSpec) -> tuple[HostPort, ...]:
        p = ports_of.get(id(spec))
        if p is None:
            p = host_ports(spec)
            ports_of[id(spec)] = p
        return p

    # 1. Bound pods occupy their nodes first; kubelet admits the ones that have not started.
    pending: list[int] = []
    for i, pod in enumerate(pods):
        node_name = pod.spec.node_name
        if not node_name:
            pending.append(i)
            continue
        info = by_name.get(node_name)
        if info is None:
            if not _admitted_already(pod):
                out[i] = _missing_node(pod)
            continue
        if not _counts(pod):
            continue
        p = ports(pod.spec)
        if not _admitted_already(pod) and pod.metadata.deletion_timestamp is None:
            rejected = sched.admit(pod, info, p)
            if rejected is not None:
                out[i] = rejected
                continue
        info.add(p)

    # 2. Pods the scheduler will not touch.
    todo: list[int] = []
    for i in pending:
        pod = pods[i]
        spec = pod.spec
        if pod.metadata.deletion_timestamp is not None or pod.finished:
            continue
        if spec.scheduler_name not in ("", DEFAULT_SCHEDULER):
            continue  # another scheduler's pod: the default scheduler ignores it
        if spec.extra.get("schedulingGates"):
            cond = Condition(
                type="PodScheduled",
                status="False",
                reason="SchedulingGated",
                message="Scheduling is blocked due to non-empty scheduling gates",
            )
            out[i] = evolve(
                pod,
                status=evolve(
                    pod.status, phase="Pending", conditions=_with_condition(pod.status.conditions, cond)
                ),
            )
            continue
        todo.append(i)

    # 3. Pods that were bound in the previous state stay where they were while they fit.
    fresh: list[int] = []
    if previous is not None:
        for i in todo:
            pod = pods[i]
            before = previous.objects.get(pod.ref)
            node_name = before.spec.node_name if isinstance(before, Pod) else ""
            info = by_name.get(node_name) if node_name else None
            p = ports(pod.spec)
            if info is not None and sched.fits(info, sched.group(pod.spec), p):
                out[i] = sched.bind(pod, info, p)
            else:
                fresh.append(i)
    else:
        fresh = todo

    # 4. Everything else, in creation order.
    if not sched.infos:
        for i in fresh:
            out[i] = sched.unschedulable(pods[i], NO_NODES)
        return out
    for i in fresh:
        pod = pods[i]
        out[i] = sched.place(pod, sched.group(pod.spec), ports(pod.spec))
    return out
