"""core/v1 Endpoints, as the endpoints controller (``pkg/controller/endpoint``) and the API
server's endpoint reconciler write them — derived from the EndpointSlices podnet's own
controller made (:mod:`podnet.cluster.endpointslices`), plus the Endpoints the manifests give.

Pure: ``podnet get endpoints`` (:mod:`podnet.cli.printers`) prints what :func:`endpoints_objects`
returns.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from podnet.api.core import Service
from podnet.api.defaults import DEFAULT_PROTOCOL, default_protocol
from podnet.api.discovery import (
    MANAGED_BY_CONTROLLER,
    MANAGED_BY_LABEL,
    EndpointSlice,
    ObjectReference,
)
from podnet.api.meta import Resource
from podnet.api.validation_common import is_ipv6_string
from podnet.cluster.endpointslices import HEADLESS_LABEL
from podnet.cluster.state import ClusterState

__all__ = ["controller_owns", "endpoints_objects", "given_endpoints"]


#: ``endpoints.kubernetes.io/over-capacity``: set to ``truncated`` when the endpoints controller
#: cut an Endpoints object down to ``maxCapacity`` (1000) addresses.
_OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
_ENDPOINTS_MAX_CAPACITY = 1000
#: ``endpoints.kubernetes.io/last-change-trigger-time``: history, which podnet does not keep.
_TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
#: ``endpointslice.kubernetes.io/skip-mirror``: the API server's own ``default/kubernetes``
#: Endpoints carry it, so that the EndpointSlice mirroring controller leaves them alone.
_SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"

#: An EndpointPort as RepackSubsets keys it: (name, port, protocol, appProtocol).
_EpPort = tuple[str, int, str, str | None]
#: RepackSubsets' sentinel for a subset without ports (a headless Service without ports).
_NO_PORT: _EpPort = ("", -1, "", None)


def given_endpoints(state: ClusterState, namespace: str | None) -> list[Resource]:
    """The core/v1 Endpoints objects the manifests gave (not an Endpoints of another group)."""
    return [o for o in state.of_kind("Endpoints", namespace) if o.api_version == "v1"]


def controller_owns(svc: Service) -> bool:
    """Whether the endpoints controller writes ``svc``'s Endpoints: it has a selector and is not
    ExternalName ("services with Type ExternalName receive no endpoints from this controller")."""
    return bool(svc.spec.selector) and svc.spec.type != "ExternalName"


def endpoints_objects(state: ClusterState, namespace: str | None) -> list[dict[str, Any]]:
    """core/v1 Endpoints as a cluster holds them, derived from the EndpointSlices.

    * A Service with a selector (not ExternalName): what the endpoints controller
      (``pkg/controller/endpoint``) writes, see :func:`_controller_endpoints`. An Endpoints object
      of the same name in the manifests only lends its metadata (the controller updates it in
      place: subsets, labels and its own annotations are replaced).
    * ``default/kubernetes``: what the API server's endpoint reconciler writes next to its slice.
    * Any other Endpoints object given in the manifests, as given. A Service without a selector
      gets no Endpoints otherwise: the controller leaves it alone, and mirroring goes from
      Endpoints to EndpointSlices, never the other way.
    """
    given = {(o.namespace, o.name): o for o in given_endpoints(state, namespace)}
    out: list[dict[str, Any]] = []
    for svc in state.services(namespace):
        key = (svc.namespace, svc.name)
        if controller_owns(svc):
            out.append(_controller_endpoints(state, svc, given.pop(key, None)))
        elif key == ("default", "kubernetes"):
            ep = _apiserver_endpoints(state, svc)
            if ep is not None:
                given.pop(key, None)
                out.append(ep)
    out.extend(_given_endpoints(o) for o in given.values())
    return out


def _given_endpoints(obj: Resource) -> dict[str, Any]:
    """An Endpoints object from the manifests, as the API server stores it: a port without a
    protocol gets ``TCP`` (``SetDefaults_EndpointPort``)."""
    data = obj.to_dict()
    for subset in data.get("subsets") or []:
        if not isinstance(subset, dict):
            continue
        for port in subset.get("ports") or []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = DEFAULT_PROTOCOL
    return data


def _endpoints_family(svc: Service) -> str | None:
    """The one family ``podToEndpointAddressForService`` keeps: the Service's first ipFamily,
    else its ClusterIP's; None for a headless Service without families (then each pod's
    ``status.podIP`` decides)."""
    if svc.spec.ip_families:
        return svc.spec.ip_families[0]
    ip = svc.spec.cluster_ip
    if ip and ip != "None":
        return "IPv6" if is_ipv6_string(ip) else "IPv4"
    return None


def _pod_family(state: ClusterState, ref: ObjectReference | None) -> str:
    pod = state.pod(ref.namespace, ref.name) if ref is not None else None
    primary = ""
    if pod is not None:
        primary = pod.status.pod_ip or next(iter(pod.ips), "")
    return "IPv6" if is_ipv6_string(primary) else "IPv4"


def _address_order(addr: Mapping[str, Any]) -> tuple[bytes, int, str]:
    """``LessEndpointAddress``: the IP as text, byte by byte (``10.0.0.10`` before ``10.0.0.9``),
    then the targetRef's UID, an address without targetRef first."""
    ref = addr.get("targetRef")
    return (str(addr["ip"]).encode(), 0 if ref is None else 1, str((ref or {}).get("uid", "")))


def _repack(
    entries: Iterable[tuple[dict[str, Any], Sequence[_EpPort], bool]],
    port_rank: Callable[[_EpPort], tuple[int, int, str, str]],
) -> list[dict[str, Any]]:
    """``endpoints.RepackSubsets`` over (address, ports, ready) entries.

    As upstream: addresses are de-duplicated by (IP, targetRef UID); not ready wins over ready
    for the same address and port; the ports that serve exactly the same addresses (with the
    same readiness) share one subset; addresses are sorted by ``LessEndpointAddress``.

    Not reproduced: ``SortSubsets`` orders the ports of a subset and the subsets themselves by
    the MD5 of their go-spew dump, an order with no meaning. podnet lists ports in the order of
    the Service's ``spec.ports`` and subsets by their ports' positions there, then by address.
    """
    addrs: dict[tuple[str, str], dict[str, Any]] = {}
    by_port: dict[_EpPort, dict[tuple[str, str], bool]] = {}
    for addr, ports, ready in entries:
        ref = addr.get("targetRef")
        key = (str(addr["ip"]), str((ref or {}).get("uid", "")))
        addrs.setdefault(key, addr)
        for port in ports:
            seen = by_port.setdefault(port, {})
            if seen.get(key, True):  # "not ready always trumps ready"
                seen[key] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[_EpPort]] = {}
    for port, seen in by_port.items():
        group = groups.setdefault(frozenset(seen.items()), [])
        if port != _NO_PORT:
            group.append(port)
    subsets: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for members, ports in groups.items():
        ready_addrs = sorted((addrs[k] for k, r in members if r), key=_address_order)
        not_ready = sorted((addrs[k] for k, r in members if not r), key=_address_order)
        ports.sort(key=port_rank)
        subset: dict[str, Any] = {}
        if ready_addrs:
            subset["addresses"] = ready_addrs
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = [_endpoint_port(p) for p in ports]
        order = (
            tuple(port_rank(p) for p in ports),
            tuple(_address_order(a) for a in ready_addrs),
            tuple(_address_order(a) for a in not_ready),
        )
        subsets.append((order, subset))
    subsets.sort(key=lambda s: s[0])
    return [s for _, s in subsets]


def _endpoint_port(port: _EpPort) -> dict[str, Any]:
    """``endpointPortFromServicePort``: the Service port's name, protocol and appProtocol."""
    name, number, protocol, app_protocol = port
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    out["port"] = number
    out["protocol"] = protocol
    if app_protocol:
        out["appProtocol"] = app_protocol
    return out


def _truncate(subsets: list[dict[str, Any]]) -> bool:
    """``truncateEndpoints``: at most 1000 addresses, ready ones first, each subset keeping its
    share (rounded up; the last one what is left). True when something was cut."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= _ENDPOINTS_MAX_CAPACITY:
        return False
    truncate_ready = total_ready > _ENDPOINTS_MAX_CAPACITY
    limit = _ENDPOINTS_MAX_CAPACITY if truncate_ready else _ENDPOINTS_MAX_CAPACITY - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_be_added = limit
    field_name = "addresses" if truncate_ready else "notReadyAddresses"
    for i, subset in enumerate(subsets):
        current = subset.get(field_name) or []
        to_be_added = can_be_added
        if i < len(subsets) - 1:
            to_be_added = math.ceil((len(current) / num_total) * limit)
        to_be_added = min(to_be_added, can_be_added)
        kept = current[:to_be_added]
        if kept:
            subset[field_name] = kept
        else:
            subset.pop(field_name, None)
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        can_be_added -= len(kept)
    return True


def _controller_endpoints(
    state: ClusterState, svc: Service, current: Resource | None
) -> dict[str, Any]:
    """The endpoints controller's ``syncService``, read off the controller's EndpointSlices.

    * Pods: ``ShouldPodBeInEndpoints(pod, publishNotReadyAddresses)`` — a terminating pod is left
      out unless the Service publishes not-ready addresses; then ``addEndpointSubset`` with
      ``tolerateUnreadyEndpoints = publishNotReadyAddresses``: an address is ready when the
      Service tolerates unready endpoints or the pod is Ready, else it is a notReadyAddress.
    * One address per pod, of one family (:func:`_endpoints_family`): the Endpoints of a
      dual-stack Service list its primary family only.
    * Ports: each Service port the pod resolves (``FindPort``), with the Service port's name,
      protocol and appProtocol; a headless Service without ports lists its addresses without
      ports, any other Service without ports has no subsets.
    * Subsets repacked (:func:`_repack`), then truncated to 1000 addresses
      (``endpoints.kubernetes.io/over-capacity: truncated``).
    * Labels: the Service's, plus ``service.kubernetes.io/headless: ""`` when it has no
      ClusterIP (removed otherwise).

    Not reproduced: ``endpoints.kubernetes.io/last-change-trigger-time`` (the time of the last
    pod or Service change, history podnet does not keep); the pods the slice controller skips
    because their node is unknown (the endpoints controller does not look at nodes).
    """
    spec = svc.spec
    tolerate = spec.publish_not_ready_addresses
    family = _endpoints_family(svc)
    port_less = not spec.ports
    rank_of = {(sp.name, default_protocol(sp.protocol)): i for i, sp in enumerate(spec.ports)}

    def port_rank(p: _EpPort) -> tuple[int, int, str, str]:
        return (rank_of.get((p[0], p[2]), len(rank_of)), p[1], p[2], p[0])

    entries: list[tuple[dict[str, Any], Sequence[_EpPort], bool]] = []
    if not port_less or spec.cluster_ip == "None":  # "Allow headless service not to have ports"
        for es in state.endpoint_slices(svc.namespace, svc.name):
            if es.labels.get(MANAGED_BY_LABEL) != MANAGED_BY_CONTROLLER:
                continue  # slices of someone else's: the endpoints controller reads pods
            ports: Sequence[_EpPort] = (
                [_NO_PORT]
                if port_less
                else [
                    (p.name or "", p.port, default_protocol(p.protocol), p.app_protocol or None)
                    for p in es.ports
                    if p.port is not None
                ]
            )
            if not ports:
                continue  # the pod resolves none of the Service's ports
            for e in es.endpoints:
                if not e.addresses or (e.terminating and not tolerate):
                    continue
                if es.address_type != (family or _pod_family(state, e.target_ref)):
                    continue
                addr: dict[str, Any] = {"ip": e.addresses[0]}
                if e.hostname:
                    addr["hostname"] = e.hostname
                if e.node_name:
                    addr["nodeName"] = e.node_name
                if e.target_ref is not None:
                    addr["targetRef"] = e.target_ref.to_dict()
                entries.append((addr, ports, tolerate or e.serving))
    subsets = _repack(entries, port_rank)
    truncated = _truncate(subsets)

    if current is not None:
        meta = dict(current.to_dict().get("metadata") or {})
    else:
        meta = {"name": svc.name, "namespace": svc.namespace}
        if svc.metadata.creation_timestamp:
            meta["creationTimestamp"] = svc.metadata.creation_timestamp
    labels = {k: v for k, v in svc.labels.items() if k != HEADLESS_LABEL}
    if spec.cluster_ip in ("", "None"):
        labels[HEADLESS_LABEL] = ""
    meta.pop("labels", None)
    if labels:
        meta["labels"] = labels
    annotations = {
        k: v
        for k, v in (meta.pop("annotations", None) or {}).items()
        if k not in (_OVER_CAPACITY_ANNOTATION, _TRIGGER_TIME_ANNOTATION)
    }
    if truncated:
        annotations[_OVER_CAPACITY_ANNOTATION] = "truncated"
    if annotations:
        meta["annotations"] = annotations
    ep: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    if subsets:
        ep["subsets"] = subsets
    return ep


def _apiserver_endpoints(state: ClusterState, svc: Service) -> dict[str, Any] | None:
    """The API server's endpoint reconciler (``pkg/controlplane/reconcilers``): its own
    addresses, ready, in one subset, with the port of its slice; labelled only
    ``endpointslice.kubernetes.io/skip-mirror: "true"``. None without that slice."""
    own = [
        s
        for s in state.endpoint_slices(svc.namespace, svc.name)
        if MANAGED_BY_LABEL not in s.labels
    ]
    if not own:
        return None
    ips = sorted({a for s in own for e in s.endpoints if e.ready for a in e.addresses[:1]})
    ports = [
        (p.name or "", p.port, default_protocol(p.protocol), p.app_protocol or None)
        for s in own[:1]
        for p in s.ports
        if p.port is not None
    ]
    meta: dict[str, Any] = {"name": svc.name, "namespace": svc.namespace}
    if svc.metadata.creation_timestamp:
        meta["creationTimestamp"] = svc.metadata.creation_timestamp
    meta["labels"] = {_SKIP_MIRROR_LABEL: "true"}
    ep: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    if ips:
        subset: dict[str, Any] = {"addresses": [{"ip": ip} for ip in ips]}
        if ports:
            subset["ports"] = [_endpoint_port(p) for p in ports]
        ep["subsets"] = [subset]
    return ep
