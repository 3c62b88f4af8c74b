"""ZoneIndex: what the CoreDNS kubernetes plugin keeps in its informer caches, built once.

CoreDNS never scans the cluster to answer: its controller keeps the Services, EndpointSlices
(converted to "Endpoints" with only ready addresses), Namespaces and, in ``pods verified`` mode,
Pods in indexes keyed by ``name.namespace`` and by IP (plugin/kubernetes/controller.go). This
module builds the same indexes from a :class:`ClusterState`, once, as plain dicts keyed by
lowercased strings, so that answering is a handful of dict reads.

What CoreDNS's conversion keeps, and so what is kept here:

* a Service: type, ``clusterIPs`` (headless when the first is ``None``), ports (a Service with
  none gets one pseudo port ``-1`` so that A records are still produced but no SRV), the
  ExternalName target;
* an EndpointSlice: its ports (``-1`` when none) and its *ready* addresses (a nil ready
  condition counts as ready), each with the endpoint's hostname, its targetRef name when shorter
  than 64 characters, and the slice's Service from the ``kubernetes.io/service-name`` label.
  podnet also keeps not-ready addresses of a Service with ``publishNotReadyAddresses``, which is
  what the EndpointSlice controller does by marking them ready;
* the endpoint's DNS label (CoreDNS's ``endpointHostname``): the hostname, else with
  ``endpoint_pod_names`` the targetRef name, else the dashed IP;
* for ``pods verified``: the primary pod IP of every pod not being deleted, with its namespace.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from podnet.api.core import Pod, Service
from podnet.api.defaults import default_protocol
from podnet.api.discovery import EndpointSlice
from podnet.cluster.state import ClusterState
from podnet.dns.names import dashed_ip


@dataclass(frozen=True, slots=True)
class PortEntry:
    """A port as CoreDNS matches SRV queries against it; ``port == -1`` means none declared."""

    name: str
    protocol: str
    port: int


@dataclass(frozen=True, slots=True)
class Address:
    """One ready endpoint address and the DNS label CoreDNS gives it."""

    ip: str
    label: str
    hostname: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class Subset:
    """The addresses and ports of one EndpointSlice (CoreDNS keeps one subset per slice)."""

    slice: str
    addresses: tuple[Address, ...]
    ports: tuple[PortEntry, ...]


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    namespace: str
    name: str
    type: str
    headless: bool
    cluster_ips: tuple[str, ...]
    ports: tuple[PortEntry, ...]
    external_name: str = ""
    subsets: tuple[Subset, ...] = ()
    #: endpoint label → (address, subset it came from), in subset order: an endpoint query is
    #: one lookup, and duplicate labels (two pods with one hostname) keep every address.
    by_label: dict[str, tuple[tuple[Address, Subset], ...]] = field(default_factory=dict)

    @property
    def is_external(self) -> bool:
        return self.type == "ExternalName"

    @property
    def ready_addresses(self) -> int:
        return sum(len(s.addresses) for s in self.subsets)


@dataclass(frozen=True, slots=True)
class ReverseEndpoint:
    """An endpoint address as the reverse index returns it: which Service's slice holds it."""

    namespace: str
    service: str
    address: Address
    subset: Subset


@dataclass(frozen=True, slots=True)
class ZoneIndex:
    """Everything the kubernetes plugin answers from, keyed for lookups (see module doc)."""

    services: dict[tuple[str, str], ServiceEntry]
    namespaces: frozenset[str]
    service_by_ip: dict[str, tuple[ServiceEntry, ...]]
    endpoints_by_ip: dict[str, tuple[ReverseEndpoint, ...]]
    pods_by_ip: dict[str, tuple[str, ...]]
    serial: int
    endpoint_pod_names: bool = False
    noendpoints: bool = False

    def service(self, namespace: str, name: str) -> ServiceEntry | None:
        return self.services.get((namespace, name))

    def sorted_services(self) -> list[ServiceEntry]:
        """Services sorted by name, then namespace (CoreDNS's zone transfer sorts by name)."""
        return sorted(self.services.values(), key=lambda s: (s.name, s.namespace))

    @classmethod
    def build(
        cls,
        state: ClusterState,
        *,
        endpoint_pod_names: bool = False,
        noendpoints: bool = False,
        serial: int | None = None,
    ) -> ZoneIndex:
        """Index ``state``. ``serial`` is the SOA serial; CoreDNS uses the Unix time of the last
        change it saw, the model (which has no clock) a checksum of what it indexed."""
        kinds = state.all_of_kind
        return build_index(
            [o.metadata.name for o in kinds("Namespace")],
            [o for o in kinds("Service") if isinstance(o, Service)],
            [] if noendpoints else
            [o for o in kinds("EndpointSlice") if isinstance(o, EndpointSlice)],
            [o for o in kinds("Pod") if isinstance(o, Pod)],
            endpoint_pod_names=endpoint_pod_names,
            noendpoints=noendpoints,
            serial=serial,
        )


def index_for(state: ClusterState, kubernetes: object | None, serial: int | None = None) -> ZoneIndex:
    """The index a kubernetes plugin config needs (its ``endpoint_pod_names``/``noendpoints``);
    ``kubernetes`` is a :class:`podnet.dns.corefile.KubernetesConfig` or None."""
    return ZoneIndex.build(
        state,
        endpoint_pod_names=bool(getattr(kubernetes, "endpoint_pod_names", False)),
        noendpoints=bool(getattr(kubernetes, "noendpoints", False)),
        serial=serial,
    )


def _canon(ip: str) -> str:
    if ":" in ip:
        try:
            return str(ipaddress.IPv6Address(ip.split("%", 1)[0]))
        except ValueError:
            return ip
    return ip


def _label(hostname: str, target: str, ip: str, pod_names: bool) -> str:
    if hostname:
        return hostname.lower()
    if pod_names and target:
        return target.lower()
    return dashed_ip(ip)


def build_index(
    namespaces: Iterable[str],
    services: Iterable[Service],
    slices: Iterable[EndpointSlice],
    pods: Iterable[Pod],
    *,
    endpoint_pod_names: bool = False,
    noendpoints: bool = False,
    serial: int | None = None,
) -> ZoneIndex:
    """Build a :class:`ZoneIndex` from the objects themselves (see :meth:`ZoneIndex.build`)."""
    crc = 0
    publish_not_ready: set[tuple[str, str]] = set()
    svc_data: dict[tuple[str, str], tuple[Service, list[Subset]]] = {}
    for svc in services:
        key = (svc.metadata.namespace.lower(), svc.metadata.name.lower())
        svc_data[key] = (svc, [])
        if svc.spec.publish_not_ready_addresses:
            publish_not_ready.add(key)

    endpoints_by_ip: dict[str, list[ReverseEndpoint]] = {}
    ordered = sorted(slices, key=lambda s: (s.metadata.namespace, s.service_name, s.metadata.name))
    for sl in ordered:
        svc_name = sl.service_name.lower()
        if not svc_name:
            continue
        ns = sl.metadata.namespace.lower()
        include_all = (ns, svc_name) in publish_not_ready
        if sl.ports:
            ports = tuple(
                PortEntry(p.name or "", p.protocol or "", p.port if p.port is not None else -1)
                for p in sl.ports
            )
        else:
            ports = (PortEntry("", "", -1),)
        addrs: list[Address] = []
        for ep in sl.endpoints:
            if not (include_all or ep.ready):
                continue
            host = ep.hostname or ""
            target = ep.target_ref.name if ep.target_ref and len(ep.target_ref.name) < 64 else ""
            for raw in ep.addresses:
                ip = _canon(raw)
                addrs.append(Address(ip, _label(host, target, ip, endpoint_pod_names), host, target))
        subset = Subset(sl.metadata.name, tuple(addrs), ports)
        owner = svc_data.get((ns, svc_name))
        if owner is not None:
            owner[1].append(subset)
        for a in subset.addresses:
            endpoints_by_ip.setdefault(a.ip, []).append(ReverseEndpoint(ns, svc_name, a, subset))
            crc = zlib.crc32(f"{ns}/{svc_name}/{a.ip}/{a.label}".encode(), crc)

    entries: dict[tuple[str, str], ServiceEntry] = {}
    by_ip: dict[str, list[ServiceEntry]] = {}
    for key in sorted(svc_data):
        svc, subsets = svc_data[key]
        spec = svc.spec
        headless = spec.cluster_ip == "None" or (bool(spec.cluster_ips) and spec.cluster_ips[0] == "None")
        ips = tuple(_canon(ip) for ip in svc.cluster_ips)
        if spec.ports:
            ports = tuple(PortEntry(p.name, default_protocol(p.protocol), p.port) for p in spec.ports)
        else:
            ports = (PortEntry("", "", -1),)
        by_label: dict[str, list[tuple[Address, Subset]]] = {}
        for sub in subsets:
            for a in sub.addresses:
                by_label.setdefault(a.label, []).append((a, sub))
        entry = ServiceEntry(
            namespace=key[0],
            name=key[1],
            type=spec.type or "ClusterIP",
            headless=headless,
            cluster_ips=ips,
            ports=ports,
            external_name=spec.external_name,
            subsets=tuple(subsets),
            by_label={k: tuple(v) for k, v in by_label.items()},
        )
        entries[key] = entry
        for ip in ips:
            by_ip.setdefault(ip, []).append(entry)
        crc = zlib.crc32(f"{key}/{entry.type}/{ips}/{ports}/{entry.external_name}".encode(), crc)

    pods_by_ip: dict[str, list[str]] = {}
    for pod in pods:
        ip = pod.status.pod_ip
        if not ip or pod.metadata.deletion_timestamp is not None:
            continue
        pods_by_ip.setdefault(_canon(ip), []).append(pod.metadata.namespace.lower())

    ns_set = frozenset(n.lower() for n in namespaces)
    for n in sorted(ns_set):
        crc = zlib.crc32(n.encode(), crc)
    return ZoneIndex(
        services=entries,
        namespaces=ns_set,
        service_by_ip={k: tuple(v) for k, v in by_ip.items()},
        endpoints_by_ip={k: tuple(v) for k, v in endpoints_by_ip.items()},
        pods_by_ip={k: tuple(v) for k, v in pods_by_ip.items()},
        serial=serial if serial is not None else (crc or 1),
        endpoint_pod_names=endpoint_pod_names,
        noendpoints=noendpoints,
    )
