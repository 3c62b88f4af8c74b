"""The EndpointSlice controller: which pods back each Service, and in what condition.

Why it matters: kube-proxy programs a Service's backends, and CoreDNS answers a headless name,
from EndpointSlices — never from the selector directly — so readiness, termination and the
resolved target port must be exactly what the controller would publish.

Behaviour reproduced from ``k8s.io/endpointslice`` (reconciler.go, utils.go) and KEP-1672
(re-implemented, not copied):

* Only Services with a non-empty selector (``selector: {}`` is stored as no selector), and not
  ExternalName. One group of slices per address type of the Service (``spec.ipFamilies``; for a
  Service without families, the family of its clusterIP, or both when headless), and within it
  one group per distinct set of resolved ports: a named ``targetPort`` is looked up in each pod's
  container ports (and restartable init containers) with the Service port's protocol, so pods
  that resolve it differently land in different slices. A port that a pod cannot resolve is left
  out of that pod's port set, as upstream.
* Pods are included unless finished (Succeeded/Failed) or without an IP; terminating pods are
  included (``ShouldPodBeInEndpoints(pod, true)``). A pod whose node is unknown is skipped unless
  the Service publishes not-ready addresses.
* Conditions: ``serving`` = the pod's Ready condition; ``terminating`` = deletionTimestamp set;
  ``ready`` = publishNotReadyAddresses, or serving and not terminating.
* ``hostname`` when the pod's ``spec.hostname`` is set and ``spec.subdomain`` names the Service;
  ``nodeName``; ``zone`` from the node's ``topology.kubernetes.io/zone``; ``targetRef`` the pod.
* At most 100 endpoints per slice; a Service with no endpoints of a family gets one empty
  placeholder slice of that family.
* Names ``<service>-<5 chars>`` (generateName ``<service>-``); labels: the Service's labels, then
  ``kubernetes.io/service-name``, ``endpointslice.kubernetes.io/managed-by`` and, for headless
  Services, ``service.kubernetes.io/headless``; owned by the Service (controller reference).
* ``trafficDistribution`` PreferClose/PreferSameZone give ready endpoints a hint for their own
  zone (PreferSameNode also for their node).

Deterministic where upstream is random: the 5 characters derive from the Service, the address
type, the port set and the slice's position; endpoints are ordered by pod name.

Scale: pods are indexed once per namespace by label (key, value); each Service looks up the
shortest candidate list its selector names instead of scanning every pod.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from podnet.api.core import Node, Pod, Service, ServicePort, ip_family
from podnet.api.defaults import default_protocol, stable_uid
from podnet.api.discovery import (
    MANAGED_BY_CONTROLLER,
    MANAGED_BY_LABEL,
    MAX_ENDPOINTS_PER_SLICE,
    SERVICE_NAME_LABEL,
    Endpoint,
    EndpointConditions,
    EndpointHints,
    EndpointPort,
    EndpointSlice,
    ForZone,
    ObjectReference,
)
from podnet.api.frozen import EMPTY, FrozenDict, freeze
from podnet.api.meta import ObjectMeta, OwnerReference
from podnet.cluster.naming import controller_pod_prefix, generate_name
from podnet.cluster.scheduler import evolver

__all__ = ["HEADLESS_LABEL", "ZONE_LABEL", "build", "resolve_ports"]

HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
_RESERVED = frozenset((SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL))
_CLOSE = ("PreferClose", "PreferSameZone", "PreferSameNode")

_CONDITIONS: dict[tuple[bool, bool, bool], EndpointConditions] = {
    (r, s, t): EndpointConditions(ready=r, serving=s, terminating=t)
    for r in (False, True)
    for s in (False, True)
    for t in (False, True)
}


# ------------------------------------------------------------------------------------- indexes


_Entry = tuple[Pod, tuple[str, ...]]
"""An eligible pod and its addresses (computed once, shared by every Service selecting it)."""


@dataclass(slots=True)
class _PodIndex:
    """Eligible pods by (namespace, label key, label value)."""

    by_label: dict[tuple[str, str, str], list[_Entry]]

    @classmethod
    def build(cls, pods: Iterable[Pod], nodes: Mapping[str, Node], keys: frozenset[str]) -> _PodIndex:
        """Index the label ``keys`` some selector names (the others are never looked up)."""
        by_label: dict[tuple[str, str, str], list[_Entry]] = defaultdict(list)
        for pod in pods:
            # ShouldPodBeInEndpoints(pod, includeTerminating=true)
            if pod.finished:
                continue
            addrs = _addresses(pod, nodes)
            if not addrs:
                continue
            ns = pod.metadata.namespace
            entry = (pod, addrs)
            for k, v in pod.metadata.labels.items():
                if k in keys:
                    by_label[(ns, k, v)].append(entry)
        return cls(dict(by_label))

    def select(self, namespace: str, selector: Mapping[str, str]) -> list[_Entry]:
        """Pods of ``namespace`` whose labels include every pair of ``selector``, by name.

        Looks up the shortest candidate list among the selector's pairs, so a Service costs
        what it selects, not what the namespace holds.
        """
        best: list[_Entry] | None = None
        for k, v in selector.items():
            candidates = self.by_label.get((namespace, k, v))
            if candidates is None:
                return []
            if best is None or len(candidates) < len(best):
                best = candidates
        if best is None:
            return []
        if len(selector) == 1:
            out = list(best)
        else:
            items = list(selector.items())
            out = [e for e in best if all(e[0].metadata.labels.get(k) == v for k, v in items)]
        out.sort(key=lambda e: e[0].metadata.name)
        return out


# ------------------------------------------------------------------------------------- helpers


def _find_port(pod: Pod, sp: ServicePort) -> int | None:
    """``findPort``: a numeric targetPort is used as is; a name is looked up, with the Service
    port's protocol, in the ports of the containers and then of the restartable init containers
    (kubelet's probes resolve names differently: :func:`podnet.cluster.probes.resolve_port`)."""
    target = sp.target_port
    if target is None:
        return sp.port
    if isinstance(target, int):
        return target
    return pod.spec.port_named(target, default_protocol(sp.protocol))


def resolve_ports(svc: Service, pod: Pod) -> tuple[EndpointPort, ...]:
    """The EndpointPorts ``pod`` serves for ``svc`` (``getEndpointPorts``)."""
    out: list[EndpointPort] = []
    for sp in svc.spec.ports:
        number = _find_port(pod, sp)
        if number is None:
            continue
        out.append(
            EndpointPort(
                name=sp.name,
                protocol=default_protocol(sp.protocol),
                port=number,
                app_protocol=sp.app_protocol,
            )
        )
    return tuple(out)


def _address_types(svc: Service) -> list[str]:
    """``getAddressTypesForService``, in the Service's family order."""
    types: list[str] = []
    for fam in svc.spec.ip_families:
        if fam in ("IPv4", "IPv6") and fam not in types:
            types.append(fam)
    if types:
        return types
    ip = svc.spec.cluster_ip
    if ip and ip != "None":
        try:
            return [ip_family(ip)]
        except ValueError:
            return ["IPv4"]
    return ["IPv4", "IPv6"]


def _addresses(pod: Pod, nodes: Mapping[str, Node]) -> tuple[str, ...]:
    """The pod's IPs; a hostNetwork pod whose status names none has its node's addresses,
    which is what kubelet reports for it (podIPs = the node's InternalIPs)."""
    ips = pod.ips
    if ips or not pod.spec.host_network:
        return ips
    node = nodes.get(pod.spec.node_name)
    return node.internal_ips if node is not None else ()


def _family(ip: str) -> str:
    """The address type of a (valid) pod IP; a colon only ever appears in IPv6 text."""
    return "IPv6" if ":" in ip else "IPv4"


def _slice_labels(svc: Service) -> FrozenDict[str, str]:
    labels = {k: v for k, v in svc.metadata.labels.items() if k not in _RESERVED}
    if svc.spec.cluster_ip in ("", "None"):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = svc.metadata.name
    labels[MANAGED_BY_LABEL] = MANAGED_BY_CONTROLLER
    return FrozenDict(labels)


def _owner(svc: Service) -> OwnerReference:
    uid = svc.metadata.uid or stable_uid(svc)
    return OwnerReference(
        api_version="v1",
        kind="Service",
        name=svc.metadata.name,
        uid=uid,
        controller=True,
        block_owner_deletion=True,
    )


def _port_key(ports: tuple[EndpointPort, ...]) -> str:
    return ",".join(f"{p.name}/{p.protocol}/{p.port}/{p.app_protocol or ''}" for p in ports)


def _with_hints(ep: Endpoint, mode: str) -> Endpoint:
    if not ep.ready:
        return ep
    zones = (ForZone(name=ep.zone),) if ep.zone else ()
    extra: FrozenDict[str, object] = EMPTY
    if mode == "PreferSameNode" and ep.node_name:
        extra = freeze({"forNodes": [{"name": ep.node_name}]})
    if not zones and not extra:
        return ep
    return Endpoint(
        addresses=ep.addresses,
        conditions=ep.conditions,
        hostname=ep.hostname,
        target_ref=ep.target_ref,
        node_name=ep.node_name,
        zone=ep.zone,
        hints=EndpointHints(for_zones=zones, extra=extra),
    )


# ------------------------------------------------------------------------------------- slices

#: Compiled copiers (see :func:`podnet.cluster.scheduler.evolver`): one Endpoint and one
#: targetRef per pod of the cluster.
_pod_ref = evolver(ObjectReference, "name", "uid")
_endpoint = evolver(Endpoint, "addresses", "conditions", "hostname", "target_ref", "node_name", "zone")


def _service_slices(
    svc: Service,
    entries: list[_Entry],
    nodes: Mapping[str, Node],
    zones: Mapping[str, str],
) -> list[EndpointSlice]:
    spec = svc.spec
    publish = spec.publish_not_ready_addresses
    headless_no_ports = not spec.ports and spec.cluster_ip == "None"
    ns, name = svc.metadata.namespace, svc.metadata.name
    types = _address_types(svc)
    # (address type, port key) -> (ports, endpoints)
    groups: dict[tuple[str, str], tuple[tuple[EndpointPort, ...], list[Endpoint]]] = {}
    named = any(isinstance(p.target_port, str) for p in spec.ports)
    fixed: tuple[tuple[EndpointPort, ...], str] | None = None
    if headless_no_ports:
        fixed = ((), "")
    # Pods stamped from one template share their containers (the scheduler gives each pod a
    # spec of its own, naming its node, but keeps the containers), so a named port is resolved
    # once per template. Keyed by id(): every container tuple stays alive for the whole call.
    by_spec: dict[tuple[int, int], tuple[tuple[EndpointPort, ...], str]] = {}
    ready_of: dict[int, bool] = {}
    target_proto = ObjectReference(kind="Pod", namespace=ns)
    endpoint_proto = Endpoint()
    for pod, ips in entries:
        node_name = pod.spec.node_name
        if node_name not in nodes and not publish:
            continue  # upstream: "skipping Pod for Service, Node not found"
        resolved = fixed
        if resolved is None:
            cache_key = (id(pod.spec.containers), id(pod.spec.init_containers)) if named else (0, 0)
            resolved = by_spec.get(cache_key)
            if resolved is None:
                ports = resolve_ports(svc, pod)
                resolved = (ports, _port_key(ports))
                by_spec[cache_key] = resolved
        ports, key = resolved
        # Pods share their conditions tuple (kubelet's Running set): read Ready once per tuple.
        conds = pod.status.conditions
        serving = ready_of.get(id(conds))
        if serving is None:
            serving = ready_of[id(conds)] = pod.ready
        meta = pod.metadata
        terminating = meta.deletion_timestamp is not None
        ready = publish or (serving and not terminating)
        conditions = _CONDITIONS[(ready, serving, terminating)]
        pspec = pod.spec
        hostname = pspec.hostname if pspec.hostname and pspec.subdomain == name else None
        target = _pod_ref(target_proto, meta.name, meta.uid)
        for atype in types:
            addresses: tuple[str, ...]
            if len(ips) == 1:  # the common case, without a generator
                addresses = ips if _family(ips[0]) == atype else ()
            else:
                addresses = tuple(ip for ip in ips if _family(ip) == atype)
            if not addresses:
                continue
            ep = _endpoint(endpoint_proto, addresses, conditions, hostname, target,
                           node_name or None, zones.get(node_name))
            group = groups.get((atype, key))
            if group is None:
                group = (ports, [])
                groups[(atype, key)] = group
            group[1].append(ep)

    labels = _slice_labels(svc)
    owner = (_owner(svc),)
    prefix = controller_pod_prefix(name)
    hints_mode = spec.traffic_distribution if spec.traffic_distribution in _CLOSE else None
    out: list[EndpointSlice] = []

    def make(atype: str, ports: tuple[EndpointPort, ...], eps: tuple[Endpoint, ...], seed: str) -> None:
        slice_name = generate_name(prefix, f"{ns}/{name}/{seed}")
        uid = stable_uid(EndpointSlice(metadata=ObjectMeta(name=slice_name, namespace=ns)))
        meta = ObjectMeta(
            name=slice_name,
            generate_name=prefix,
            namespace=ns,
            labels=labels,
            uid=uid,
            owner_references=owner,
        )
        out.append(EndpointSlice(metadata=meta, address_type=atype, endpoints=eps, ports=ports))

    for atype in types:
        keys = sorted(k for (t, k) in groups if t == atype)
        if not keys:
            make(atype, (), (), f"{atype}/placeholder")
            continue
        for key in keys:
            ports, eps = groups[(atype, key)]
            if hints_mode is not None:
                eps = [_with_hints(e, hints_mode) for e in eps]
            for chunk, start in enumerate(range(0, len(eps), MAX_ENDPOINTS_PER_SLICE)):
                part = tuple(eps[start : start + MAX_ENDPOINTS_PER_SLICE])
                make(atype, ports, part, f"{atype}/{key}/{chunk}")
    return out


def _selector(svc: Service) -> FrozenDict[str, str] | None:
    """The selector the controller acts on; ``{}`` round-trips through storage as none."""
    if svc.spec.type == "ExternalName":
        return None
    sel = svc.spec.selector
    return sel if sel else None


def build(
    services: list[Service],
    pods: list[Pod],
    given: list[EndpointSlice],
    nodes: tuple[Node, ...],
) -> list[EndpointSlice]:
    """Every EndpointSlice of the cluster: the ones given that the controller does not own, then
    the controller's own for each Service with a selector.

    Given slices are kept as they are unless they carry the controller's managed-by label and
    belong to a Service with a selector (recomputed here) or to no Service at all (garbage
    collected through their owner reference in a real cluster).
    """
    node_map = {n.metadata.name: n for n in nodes}
    zones = {
        n.metadata.name: n.metadata.labels[ZONE_LABEL]
        for n in nodes
        if n.metadata.labels.get(ZONE_LABEL)
    }
    selected = {
        (s.metadata.namespace, s.metadata.name): s for s in services if _selector(s) is not None
    }
    existing = {(s.metadata.namespace, s.metadata.name) for s in services}
    out: list[EndpointSlice] = []
    for es in given:
        if es.labels.get(MANAGED_BY_LABEL) == MANAGED_BY_CONTROLLER:
            key = (es.metadata.namespace, es.service_name)
            if key in selected or key not in existing:
                continue
        out.append(es)
    keys = frozenset(k for s in selected.values() for k in (_selector(s) or {}))
    index = _PodIndex.build(pods, node_map, keys)
    for key in sorted(selected):
        svc = selected[key]
        sel = _selector(svc)
        assert sel is not None
        out.extend(_service_slices(svc, index.select(key[0], sel), node_map, zones))
    return out
