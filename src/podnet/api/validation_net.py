"""networking.k8s.io/v1 and discovery.k8s.io/v1 validation (private to
:mod:`podnet.api.validation`).

Behaviour and wording from kubernetes/kubernetes ``pkg/apis/networking/validation/validation.go``
(``ValidateIngressCreate`` with ``ValidateIngressSpec``, ``validateIngressRules``,
``validateHTTPIngressPath``, ``validateIngressBackend``, ``validateIngressTLS``;
``ValidateIngressClass``; ``ValidateNetworkPolicy`` with ``ValidateNetworkPolicyPort``,
``ValidateNetworkPolicyPeer``, ``ValidateIPBlock``) and
``pkg/apis/discovery/validation/validation.go`` (``ValidateEndpointSlice``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Final

from podnet.api.discovery import EndpointSlice
from podnet.api.errors import FieldError, FieldPath
from podnet.api.names import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    regex_error,
    validate_labels,
)
from podnet.api.networking import (
    HTTPIngressPath,
    Ingress,
    IngressBackend,
    IngressClass,
    IPBlock,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
)
from podnet.api.validation_common import (
    SPEC,
    Errs,
    dns1123_label,
    is_domain_prefixed_path,
    is_path_segment_name,
    label_selector,
    legacy_cidr,
    legacy_ip,
    name_errors,
    non_special_ip,
    object_meta,
    parse_cidr_sloppy,
    parse_ip_sloppy,
    qualified_name,
)

_INGRESS_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
_PATH_TYPES: Final = ("Exact", "ImplementationSpecific", "Prefix")  # sets.List order
_INVALID_PATH_SEQUENCES: Final = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES: Final = ("/..", "/.")
_WILDCARD_FMT: Final = "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD_RE: Final = re.compile(_WILDCARD_FMT)


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """``IsWildcardDNS1123Subdomain``."""
    errs: list[str] = []
    if len(value.encode("utf-8", "surrogatepass")) > 253:
        errs.append("must be no more than 253 characters")
    if not _WILDCARD_RE.fullmatch(value):
        errs.append(
            regex_error(
                "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
                "and end with an alphanumeric character",
                _WILDCARD_FMT,
                "*.example.com",
            )
        )
    return errs


# --------------------------------------------------------------------------------------------
# Ingress


def _typed_local_object_reference(ref: Any, path: FieldPath) -> Errs:
    """``validateIngressTypedLocalObjectReference``."""
    errs: Errs = []
    if ref.api_group is not None:
        errs.extend(
            FieldError.invalid(path.child("apiGroup"), ref.api_group, m)
            for m in is_dns1123_subdomain(ref.api_group)
        )
    if not ref.kind:
        errs.append(FieldError.required(path.child("kind")))
    else:
        errs.extend(
            FieldError.invalid(path.child("kind"), ref.kind, m)
            for m in is_path_segment_name(ref.kind)
        )
    if not ref.name:
        errs.append(FieldError.required(path.child("name")))
    else:
        errs.extend(
            FieldError.invalid(path.child("name"), ref.name, m)
            for m in is_path_segment_name(ref.name)
        )
    return errs


def _backend(backend: IngressBackend, path: FieldPath) -> Errs:
    """``validateIngressBackend`` (service names are DNS-1035 labels: RelaxedServiceNameValidation
    is alpha and off)."""
    has_resource = backend.resource is not None
    has_service = backend.service is not None
    if has_resource and has_service:
        return [FieldError.invalid(path, "", "cannot set both resource and service backends")]
    if backend.resource is not None:
        return _typed_local_object_reference(backend.resource, path.child("resource"))
    if backend.service is None:
        return [FieldError.invalid(path, "", "resource or service backend is required")]
    errs: Errs = []
    svc = backend.service
    if not svc.name:
        errs.append(FieldError.required(path.child("service", "name")))
    else:
        errs.extend(name_errors(svc.name, path.child("service", "name"), name_is_dns1035_label))
    port_name = svc.port.name if svc.port is not None else ""
    port_number = svc.port.number if svc.port is not None else 0
    if port_name and port_number:
        errs.append(FieldError.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs.extend(
            FieldError.invalid(path.child("service", "port", "name"), port_name, m)
            for m in is_valid_port_name(port_name)
        )
    elif port_number:
        errs.extend(
            FieldError.invalid(path.child("service", "port", "number"), port_number, m)
            for m in is_valid_port_num(port_number)
        )
    else:
        errs.append(FieldError.required(path, "port name or number is required"))
    return errs


def _http_path(p: HTTPIngressPath, path: FieldPath) -> Errs:
    """``validateHTTPIngressPath``."""
    if p.path_type is None:
        return [FieldError.required(path.child("pathType"), "pathType must be specified")]
    errs: Errs = []
    ppath = path.child("path")
    if p.path_type in ("Exact", "Prefix"):
        if not p.path.startswith("/"):
            errs.append(FieldError.invalid(ppath, p.path, "must be an absolute path"))
        if p.path:
            for seq in _INVALID_PATH_SEQUENCES:
                if seq in p.path:
                    errs.append(FieldError.invalid(ppath, p.path, f"must not contain '{seq}'"))
            for suffix in _INVALID_PATH_SUFFIXES:
                if p.path.endswith(suffix):
                    errs.append(FieldError.invalid(ppath, p.path, f"cannot end with '{suffix}'"))
    elif p.path_type == "ImplementationSpecific":
        if p.path and not p.path.startswith("/"):
            errs.append(FieldError.invalid(ppath, p.path, "must be an absolute path"))
    else:
        errs.append(FieldError.not_supported(path.child("pathType"), p.path_type, _PATH_TYPES))
    errs.extend(_backend(p.backend, path.child("backend")))
    return errs


def validate_ingress(ing: Ingress) -> Errs:
    """``ValidateIngressCreate``."""
    spec = ing.spec
    errs = object_meta(ing.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    if not spec.rules and spec.default_backend is None:
        errs.append(
            FieldError.invalid(SPEC, None, "either `defaultBackend` or `rules` must be specified")
        )
    if spec.default_backend is not None:
        errs.extend(_backend(spec.default_backend, SPEC.child("defaultBackend")))
    for i, rule in enumerate(spec.rules):
        rpath = SPEC.child("rules").index(i)
        if rule.host:
            hpath = rpath.child("host")
            if parse_ip_sloppy(rule.host) is not None:
                errs.append(
                    FieldError.invalid(hpath, rule.host, "must be a DNS name, not an IP address")
                )
            if "*" in rule.host:
                errs.extend(
                    FieldError.invalid(hpath, rule.host, m)
                    for m in is_wildcard_dns1123_subdomain(rule.host)
                )
            else:
                errs.extend(
                    FieldError.invalid(hpath, rule.host, m) for m in is_dns1123_subdomain(rule.host)
                )
        if rule.http is not None:
            http_path = rpath.child("http")
            if not rule.http.paths:
                errs.append(FieldError.required(http_path.child("paths")))
            for j, p in enumerate(rule.http.paths):
                errs.extend(_http_path(p, http_path.child("paths").index(j)))
    for t, tls in enumerate(spec.tls):
        tpath = SPEC.child("tls").index(t)
        for i, host in enumerate(tls.hosts):
            hpath = tpath.child("hosts").index(i)
            msgs = (
                is_wildcard_dns1123_subdomain(host) if "*" in host else is_dns1123_subdomain(host)
            )
            errs.extend(FieldError.invalid(hpath, host, m) for m in msgs)
        if tls.secret_name:
            errs.extend(
                name_errors(tls.secret_name, tpath.child("secretName"), name_is_dns_subdomain)
            )
    if spec.ingress_class_name is not None:
        errs.extend(
            name_errors(
                spec.ingress_class_name, SPEC.child("ingressClassName"), name_is_dns_subdomain
            )
        )
    annotation = ing.metadata.annotations.get(_INGRESS_CLASS_ANNOTATION)
    if (
        annotation is not None
        and spec.ingress_class_name is not None
        and annotation != spec.ingress_class_name
    ):
        # Upstream's path: "annotations" then the key as a child, without "metadata.".
        errs.append(
            FieldError.invalid(
                FieldPath.root("annotations").child(_INGRESS_CLASS_ANNOTATION),
                annotation,
                "must match `ingressClassName` when both are specified",
            )
        )
    return errs


def validate_ingress_class(ic: IngressClass) -> Errs:
    """``ValidateIngressClass``."""
    errs = object_meta(ic.metadata, namespaced=False, name_fn=name_is_dns_subdomain)
    cpath = SPEC.child("controller")
    controller = ic.spec.controller
    if not controller:
        errs.append(FieldError.required(cpath))
    else:
        if len(controller.encode()) > 250:
            errs.append(FieldError.too_long(cpath, "", 250))
        errs.extend(is_domain_prefixed_path(cpath, controller))
    params = ic.spec.parameters
    if params is not None:
        errs.extend(_ingress_class_parameters(params, SPEC.child("parameters")))
    return errs


def _ingress_class_parameters(params: Mapping[str, Any], path: FieldPath) -> Errs:
    """``validateIngressClassParametersReference`` (scope defaults to Cluster)."""
    errs: Errs = []
    api_group = params.get("apiGroup")
    if isinstance(api_group, str):
        errs.extend(
            FieldError.invalid(path.child("apiGroup"), api_group, m)
            for m in is_dns1123_subdomain(api_group)
        )
    for key in ("kind", "name"):
        value = params.get(key)
        if not value:
            errs.append(FieldError.required(path.child(key)))
        else:
            text = str(value)
            errs.extend(
                FieldError.invalid(path.child(key), text, m) for m in is_path_segment_name(text)
            )
    scope = params.get("scope")
    scope = "Cluster" if scope is None else str(scope)
    namespace = params.get("namespace")
    if scope not in ("Cluster", "Namespace"):
        errs.append(FieldError.not_supported(path.child("scope"), scope, ("Cluster", "Namespace")))
    elif scope == "Namespace":
        if namespace is None:
            errs.append(
                FieldError.required(
                    path.child("namespace"), "`parameters.scope` is set to 'Namespace'"
                )
            )
        else:
            errs.extend(name_errors(str(namespace), path.child("namespace"), name_is_dns_label))
    elif namespace is not None:
        errs.append(
            FieldError.forbidden(path.child("namespace"), "`parameters.scope` is set to 'Cluster'")
        )
    return errs


# --------------------------------------------------------------------------------------------
# NetworkPolicy


def _np_port(port: NetworkPolicyPort, path: FieldPath) -> Errs:
    """``ValidateNetworkPolicyPort``."""
    errs: Errs = []
    if port.protocol is not None and port.protocol not in ("TCP", "UDP", "SCTP"):
        errs.append(
            FieldError.not_supported(path.child("protocol"), port.protocol, ("TCP", "UDP", "SCTP"))
        )
    end_path = path.child("endPort")
    if port.port is not None:
        if isinstance(port.port, int):
            errs.extend(
                FieldError.invalid(path.child("port"), port.port, m)
                for m in is_valid_port_num(port.port)
            )
            if port.end_port is not None:
                if port.end_port < port.port:
                    errs.append(
                        FieldError.invalid(
                            end_path, port.end_port, "must be greater than or equal to `port`"
                        )
                    )
                errs.extend(
                    FieldError.invalid(end_path, port.end_port, m)
                    for m in is_valid_port_num(port.end_port)
                )
        else:
            if port.end_port is not None:
                errs.append(
                    FieldError.invalid(
                        end_path, port.end_port, "may not be specified when `port` is non-numeric"
                    )
                )
            errs.extend(
                FieldError.invalid(path.child("port"), port.port, m)
                for m in is_valid_port_name(port.port)
            )
    elif port.end_port is not None:
        errs.append(
            FieldError.invalid(
                end_path, port.end_port, "may not be specified when `port` is not specified"
            )
        )
    return errs


def _ip_block(block: IPBlock, path: FieldPath) -> Errs:
    """``ValidateIPBlock``."""
    if not block.cidr:
        return [FieldError.required(path.child("cidr"))]
    errs = legacy_cidr(block.cidr, path.child("cidr"))
    network = parse_cidr_sloppy(block.cidr)
    if network is None:
        return errs
    for i, text in enumerate(block.except_):
        epath = path.child("except").index(i)
        errs.extend(legacy_cidr(text, epath))
        excepted = parse_cidr_sloppy(text)
        if excepted is None:
            continue
        contains = excepted.version == network.version and excepted.network_address in network
        if not contains or network.prefixlen >= excepted.prefixlen:
            errs.append(FieldError.invalid(epath, text, "must be a strict subset of `cidr`"))
    return errs


def _peer(peer: NetworkPolicyPeer, path: FieldPath) -> Errs:
    """``ValidateNetworkPolicyPeer``."""
    errs: Errs = []
    count = 0
    if peer.pod_selector is not None:
        count += 1
        errs.extend(label_selector(peer.pod_selector, path.child("podSelector")))
    if peer.namespace_selector is not None:
        count += 1
        errs.extend(label_selector(peer.namespace_selector, path.child("namespaceSelector")))
    if peer.ip_block is not None:
        count += 1
        errs.extend(_ip_block(peer.ip_block, path.child("ipBlock")))
    if count == 0:
        errs.append(FieldError.required(path, "must specify a peer"))
    elif count > 1 and peer.ip_block is not None:
        errs.append(FieldError.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy(np: NetworkPolicy) -> Errs:
    """``ValidateNetworkPolicy``."""
    spec = np.spec
    errs = object_meta(np.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    errs.extend(label_selector(spec.pod_selector, SPEC.child("podSelector")))
    for i, rule in enumerate(spec.ingress):
        rpath = SPEC.child("ingress").index(i)
        for j, port in enumerate(rule.ports):
            errs.extend(_np_port(port, rpath.child("ports").index(j)))
        for j, peer in enumerate(rule.from_):
            errs.extend(_peer(peer, rpath.child("from").index(j)))
    for i, erule in enumerate(spec.egress):
        rpath = SPEC.child("egress").index(i)
        for j, port in enumerate(erule.ports):
            errs.extend(_np_port(port, rpath.child("ports").index(j)))
        for j, peer in enumerate(erule.to):
            errs.extend(_peer(peer, rpath.child("to").index(j)))
    types_path = SPEC.child("policyTypes")
    if len(spec.policy_types) > 2:
        errs.append(
            FieldError.invalid(
                types_path, list(spec.policy_types), "may not specify more than two policyTypes"
            )
        )
        return errs
    for i, ptype in enumerate(spec.policy_types):
        if ptype not in ("Ingress", "Egress"):
            errs.append(FieldError.not_supported(types_path.index(i), ptype, ("Ingress", "Egress")))
    return errs


# --------------------------------------------------------------------------------------------
# EndpointSlice

_MAX_ENDPOINTS: Final = 1000
_MAX_ADDRESSES: Final = 100
_MAX_PORTS: Final = 20000
_MAX_TOPOLOGY_LABELS: Final = 16
_MAX_ZONE_HINTS: Final = 8


def _fqdn(value: str, path: FieldPath) -> Errs:
    """``IsFullyQualifiedDomainName``: the first problem only."""
    if not value:
        return [FieldError.required(path)]
    name = value[:-1] if value.endswith(".") else value
    msgs = is_dns1123_subdomain(name)
    if msgs:
        return [FieldError.invalid(path, name, ",".join(msgs))]
    labels = name.split(".")
    if len(labels) < 2:
        return [
            FieldError.invalid(
                path, name, "should be a domain with at least two segments separated by dots"
            )
        ]
    for label in labels:
        msgs = is_dns1123_label(label)
        if msgs:
            return [FieldError.invalid(path, label, ",".join(msgs))]
    return []


def _slice_address(address: str, family: str, path: FieldPath) -> Errs:
    """An IPv4/IPv6 endpoint address: the family check, KEP-4858's strict rules, non-special."""
    addr = parse_ip_sloppy(address)
    want_v4 = family == "IPv4"
    if addr is None or isinstance(addr, ipaddress.IPv4Address) != want_v4:
        errs = [FieldError.invalid(path, address, f"must be a valid {family} address")]
    else:
        errs = legacy_ip(address, path)
    errs.extend(non_special_ip(address, path))
    return errs


def validate_endpoint_slice(es: EndpointSlice) -> Errs:
    """``ValidateEndpointSlice``."""
    errs = object_meta(es.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    types = ("FQDN", "IPv4", "IPv6")
    if not es.address_type:
        errs.append(FieldError.required(FieldPath.root("addressType")))
    elif es.address_type not in types:
        errs.append(FieldError.not_supported(FieldPath.root("addressType"), es.address_type, types))
    epath = FieldPath.root("endpoints")
    if len(es.endpoints) > _MAX_ENDPOINTS:
        errs.append(FieldError.too_many(epath, len(es.endpoints), _MAX_ENDPOINTS))
    else:
        for i, ep in enumerate(es.endpoints):
            ipath = epath.index(i)
            apath = ipath.child("addresses")
            if not ep.addresses:
                errs.append(FieldError.required(apath, "must contain at least 1 address"))
            elif len(ep.addresses) > _MAX_ADDRESSES:
                errs.append(FieldError.too_many(apath, len(ep.addresses), _MAX_ADDRESSES))
            for j, address in enumerate(ep.addresses):
                if es.address_type in ("IPv4", "IPv6"):
                    errs.extend(_slice_address(address, es.address_type, apath.index(j)))
                elif es.address_type == "FQDN":
                    errs.extend(_fqdn(address, apath.index(j)))
            if ep.node_name is not None:
                errs.extend(
                    name_errors(ep.node_name, ipath.child("nodeName"), name_is_dns_subdomain)
                )
            topology = ep.extra.get("deprecatedTopology")
            if isinstance(topology, Mapping):
                tpath = ipath.child("deprecatedTopology")
                if len(topology) > _MAX_TOPOLOGY_LABELS:
                    errs.append(FieldError.too_many(tpath, len(topology), _MAX_TOPOLOGY_LABELS))
                errs.extend(validate_labels({str(k): str(v) for k, v in topology.items()}, tpath))
            if ep.hostname is not None:
                errs.extend(dns1123_label(ep.hostname, ipath.child("hostname")))
            if ep.hints is not None:
                zpath = ipath.child("hints", "forZones")
                if len(ep.hints.for_zones) > _MAX_ZONE_HINTS:
                    errs.append(
                        FieldError.too_many(zpath, len(ep.hints.for_zones), _MAX_ZONE_HINTS)
                    )
                else:
                    zones: set[str] = set()
                    for k, zone in enumerate(ep.hints.for_zones):
                        npath = zpath.index(k).child("name")
                        if zone.name in zones:
                            errs.append(FieldError.duplicate(npath, zone.name))
                        else:
                            zones.add(zone.name)
                        errs.extend(
                            FieldError.invalid(npath, zone.name, m)
                            for m in is_valid_label_value(zone.name)
                        )
    ppath = FieldPath.root("ports")
    if len(es.ports) > _MAX_PORTS:
        errs.append(FieldError.too_many(ppath, len(es.ports), _MAX_PORTS))
        return errs
    names: set[str] = set()
    for i, port in enumerate(es.ports):
        p = ppath.index(i)
        name = port.name or ""
        if name:
            errs.extend(dns1123_label(name, p.child("name")))
        if name in names:
            errs.append(FieldError.duplicate(p.child("name"), name))
        else:
            names.add(name)
        if port.protocol is None:
            errs.append(FieldError.required(p.child("protocol")))
        elif port.protocol not in ("SCTP", "TCP", "UDP"):
            errs.append(
                FieldError.not_supported(p.child("protocol"), port.protocol, ("SCTP", "TCP", "UDP"))
            )
        if port.app_protocol is not None:
            errs.extend(qualified_name(port.app_protocol, p.child("appProtocol")))
    return errs


__all__ = [
    "is_wildcard_dns1123_subdomain",
    "validate_endpoint_slice",
    "validate_ingress",
    "validate_ingress_class",
    "validate_network_policy",
]
