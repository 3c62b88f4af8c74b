"""core/v1 validation other than pods (private to :mod:`podnet.api.validation`).

Behaviour and wording from kubernetes/kubernetes ``pkg/apis/core/validation/validation.go``:
``ValidateService`` (with ``validateServicePort``, ``ValidateServiceClusterIPsRelatedFields``,
``validateServiceExternalTrafficPolicy``, ``validateServiceInternalTrafficFieldsValue``,
``validateServiceTrafficDistribution``, ``validateLoadBalancerClassField``,
``validateClientIPAffinityConfig``), ``ValidateReplicationController``, ``ValidateNode``
(``validateNodeTaints``), ``ValidateNamespace``, ``ValidateSecret``, ``ValidateConfigMap``; the
Service registry's create path (``pkg/registry/core/service/storage``: ``beginCreate`` →
``NormalizeClusterIPs`` and the allocator's pre-validation) for what happens before validation;
Go's ``encoding/base64`` for the decoder errors of ``data``/``binaryData``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from podnet.api.core import (
    ConfigMap,
    Namespace,
    Node,
    ReplicationController,
    Secret,
    Service,
    ServicePort,
)
from podnet.api.errors import FieldError, FieldPath, GoLiteral, GoStruct
from podnet.api.names import (
    is_valid_label_value,
    is_valid_port_num,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    validate_labels,
)
from podnet.api.validation_common import (
    METADATA,
    SPEC,
    Errs,
    cidrs_dual_stack,
    dns1123_label,
    dns1123_subdomain,
    duplicate_with_detail,
    go_ptr_nil,
    int_or_string_struct,
    ips_dual_stack,
    is_config_map_key,
    is_ipv6_string,
    labels_value,
    legacy_cidr,
    legacy_ip,
    non_special_ip,
    nonnegative,
    object_meta,
    qualified_name,
)
from podnet.api.validation_pod import PROTOCOLS, pod_template_spec, port_num_or_name, taint_effect

MAX_SECRET_SIZE: Final = 1 * 1024 * 1024
_MAX_AFFINITY_TIMEOUT: Final = 86400
_SOURCE_RANGES_ANNOTATION: Final = "service.beta.kubernetes.io/load-balancer-source-ranges"
_TOPOLOGY_MODE: Final = "service.kubernetes.io/topology-mode"
_TOPOLOGY_HINTS: Final = "service.kubernetes.io/topology-aware-hints"

# --------------------------------------------------------------------------------------------
# Go's encoding/base64 (StdEncoding), as encoding/json decodes a []byte

_B64: Final = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def go_base64_decode(text: str) -> tuple[bytes | None, int | None]:
    """``(decoded, None)``, or ``(None, offset)`` for Go's ``illegal base64 data at input byte N``.

    Reproduces ``Encoding.Decode``: newlines are skipped anywhere, padding is required, and the
    offset is counted in bytes of the UTF-8 input exactly as ``decodeQuantum`` counts it.
    """
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)
    out = bytearray()
    si = 0
    while si < n:
        dbuf = [0, 0, 0, 0]
        dlen = 4
        j = 0
        trailing: int | None = None
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out), None
                return None, si - j
            ch = src[si]
            si += 1
            value = _B64.get(chr(ch)) if ch < 128 else None
            if value is not None:
                dbuf[j] = value
                j += 1
                continue
            if ch in (0x0A, 0x0D):
                continue
            if ch != ord("="):
                return None, si - 1
            if j in (0, 1):
                return None, si - 1
            if j == 2:
                while si < n and src[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    return None, n
                if src[si] != ord("="):
                    return None, si - 1
                si += 1
            while si < n and src[si] in (0x0A, 0x0D):
                si += 1
            if si < n:
                trailing = si
            dlen = j
            break
        val = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3]
        out.extend(bytes(((val >> 16) & 0xFF, (val >> 8) & 0xFF, val & 0xFF))[: dlen - 1])
        if trailing is not None:
            return None, trailing
    return bytes(out), None


def base64_decode_error(kind: str, values: Mapping[str, str]) -> str | None:
    """The API server's decode failure for the first undecodable value, if any."""
    for value in values.values():
        _, offset = go_base64_decode(value)
        if offset is not None:
            return (
                f'{kind} in version "v1" cannot be handled as a {kind}: '
                f"illegal base64 data at input byte {offset}"
            )
    return None


def _decoded_len(value: str) -> int:
    decoded, _ = go_base64_decode(value)
    return len(decoded or b"")


# --------------------------------------------------------------------------------------------
# Service


def _service_port_struct(port: ServicePort) -> GoStruct:
    """The ``core.ServicePort{Protocol, Port}`` key the duplicate-port check reports."""
    return GoStruct(
        "core.ServicePort",
        (
            ("Name", ""),
            ("Protocol", port.protocol),
            ("AppProtocol", go_ptr_nil("string")),
            ("Port", port.port),
            ("TargetPort", int_or_string_struct(0)),
            ("NodePort", 0),
        ),
    )


def _service_port(sp: ServicePort, require_name: bool, names: set[str], path: FieldPath) -> Errs:
    """``validateServicePort``."""
    errs: Errs = []
    if require_name and not sp.name:
        errs.append(FieldError.required(path.child("name")))
    elif sp.name:
        errs.extend(dns1123_label(sp.name, path.child("name")))
        if sp.name in names:
            errs.append(FieldError.duplicate(path.child("name"), sp.name))
        else:
            names.add(sp.name)
    errs.extend(
        FieldError.invalid(path.child("port"), sp.port, m) for m in is_valid_port_num(sp.port)
    )
    if not sp.protocol:
        errs.append(FieldError.required(path.child("protocol")))
    elif sp.protocol not in PROTOCOLS:
        errs.append(FieldError.not_supported(path.child("protocol"), sp.protocol, PROTOCOLS))
    target = sp.target_port if sp.target_port not in (None, 0, "") else sp.port
    errs.extend(port_num_or_name(target, path.child("targetPort")))
    if sp.app_protocol is not None:
        errs.extend(qualified_name(sp.app_protocol, path.child("appProtocol")))
    return errs


def normalized_cluster_ips(svc: Service) -> tuple[str, ...]:
    """``NormalizeClusterIPs`` on create: a lone ``clusterIP`` initialises ``clusterIPs``."""
    spec = svc.spec
    if spec.cluster_ip and not spec.cluster_ips:
        return (spec.cluster_ip,)
    return spec.cluster_ips


def _is_headless(cluster_ips: tuple[str, ...]) -> bool:
    return len(cluster_ips) == 1 and cluster_ips[0] == "None"


def cluster_ips_related_fields(svc: Service) -> Errs:
    """``ValidateServiceClusterIPsRelatedFields``."""
    spec = svc.spec
    if spec.type == "ExternalName":
        return []
    errs: Errs = []
    cips = normalized_cluster_ips(svc)
    cips_path = SPEC.child("clusterIPs")
    families_path = SPEC.child("ipFamilies")
    if spec.cluster_ip:
        if not cips:
            errs.append(FieldError.required(cips_path))
        elif cips[0] != spec.cluster_ip:
            errs.append(
                FieldError.invalid(cips_path, list(cips), "first value must match `clusterIP`")
            )
    elif cips:
        errs.append(
            FieldError.invalid(
                cips_path, list(cips), "must be empty when `clusterIP` is not specified"
            )
        )
    seen: set[str] = set()
    for i, family in enumerate(spec.ip_families):
        if family not in ("IPv4", "IPv6"):
            errs.append(FieldError.not_supported(families_path.index(i), family, ("IPv4", "IPv6")))
        if family in seen:
            errs.append(FieldError.duplicate(families_path.index(i), family))
        seen.add(family)
    if spec.ip_family_policy is not None:
        policies = ("PreferDualStack", "RequireDualStack", "SingleStack")
        if spec.ip_family_policy not in policies:
            errs.append(
                FieldError.not_supported(
                    SPEC.child("ipFamilyPolicy"), spec.ip_family_policy, policies
                )
            )
    invalid = False
    for i, ip in enumerate(cips):
        if i == 0 and ip == "None":
            if len(cips) > 1:
                invalid = True
                errs.append(
                    FieldError.invalid(
                        cips_path, list(cips), "'None' must be the first and only value"
                    )
                )
            continue
        ip_errs = legacy_ip(ip, cips_path.index(i))
        invalid = invalid or bool(ip_errs)
        errs.extend(ip_errs)
    if len(cips) > 2:
        errs.append(FieldError.invalid(cips_path, list(cips), "may only hold up to 2 values"))
    if invalid:
        return errs
    if len(cips) > 1 and not ips_dual_stack(cips):
        errs.append(
            FieldError.invalid(
                cips_path, list(cips), "may specify no more than one IP for each IP family"
            )
        )
    if not _is_headless(cips) and cips and spec.ip_families:
        for i, ip in enumerate(cips):
            if i > len(spec.ip_families) - 1:
                break
            if spec.ip_families[i] == "IPv4" and is_ipv6_string(ip):
                errs.append(
                    FieldError.invalid(
                        cips_path.index(i),
                        ip,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if spec.ip_families[i] == "IPv6" and not is_ipv6_string(ip):
                errs.append(
                    FieldError.invalid(
                        cips_path.index(i),
                        ip,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


def _externally_accessible(svc: Service) -> bool:
    t = svc.spec.type
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(svc.spec.external_ips))


def validate_service(svc: Service) -> Errs:
    """``ValidateService`` as the create path reaches it.

    The Service registry allocates addresses *before* validating, and the allocator first runs
    ``ValidateServiceClusterIPsRelatedFields`` on its own: when those fields are wrong, the API
    server answers with those errors alone. Range and collision checks of clusterIPs and node
    ports belong to allocation (``cluster/``), not here.
    """
    spec = svc.spec
    if spec.type != "ExternalName":
        early = cluster_ips_related_fields(svc)
        if early:
            return early
    cips = normalized_cluster_ips(svc)
    headless = _is_headless(cips)
    meta = svc.metadata
    errs = object_meta(meta, namespaced=True, name_fn=name_is_dns1035_label)
    ann = meta.annotations
    if (
        _TOPOLOGY_MODE in ann
        and _TOPOLOGY_HINTS in ann
        and ann[_TOPOLOGY_MODE] != ann[_TOPOLOGY_HINTS]
    ):
        errs.append(
            FieldError.invalid(
                METADATA.child("annotations").key(_TOPOLOGY_MODE),
                ann[_TOPOLOGY_MODE],
                f"must match annotations[{_TOPOLOGY_HINTS}] when both are specified",
            )
        )
    if not spec.ports and not headless and spec.type != "ExternalName":
        errs.append(FieldError.required(SPEC.child("ports")))
    if spec.type == "LoadBalancer":
        if headless:
            errs.append(
                FieldError.invalid(
                    SPEC.child("clusterIPs").index(0),
                    cips[0],
                    "may not be set to 'None' for LoadBalancer services",
                )
            )
    elif spec.type == "NodePort":
        if headless:
            errs.append(
                FieldError.invalid(
                    SPEC.child("clusterIPs").index(0),
                    cips[0],
                    "may not be set to 'None' for NodePort services",
                )
            )
    elif spec.type == "ExternalName":
        if cips:
            errs.append(
                FieldError.forbidden(
                    SPEC.child("clusterIPs"), "may not be set for ExternalName services"
                )
            )
        if spec.ip_families:
            errs.append(
                FieldError.forbidden(
                    SPEC.child("ipFamilies"), "may not be set for ExternalName services"
                )
            )
        if spec.ip_family_policy is not None:
            errs.append(
                FieldError.forbidden(
                    SPEC.child("ipFamilyPolicy"), "may not be set for ExternalName services"
                )
            )
        cname = spec.external_name[:-1] if spec.external_name.endswith(".") else spec.external_name
        if cname:
            errs.extend(dns1123_subdomain(cname, SPEC.child("externalName")))
        else:
            errs.append(FieldError.required(SPEC.child("externalName")))
    names: set[str] = set()
    for i, port in enumerate(spec.ports):
        errs.extend(_service_port(port, len(spec.ports) > 1, names, SPEC.child("ports").index(i)))
    if spec.selector is not None:
        errs.extend(validate_labels(spec.selector, SPEC.child("selector")))
    affinities = ("ClientIP", "None")
    if not spec.session_affinity:
        errs.append(FieldError.required(SPEC.child("sessionAffinity")))
    elif spec.session_affinity not in affinities:
        errs.append(
            FieldError.not_supported(
                SPEC.child("sessionAffinity"), spec.session_affinity, affinities
            )
        )
    cfg_path = SPEC.child("sessionAffinityConfig")
    if spec.session_affinity == "ClientIP":
        cfg = spec.session_affinity_config
        when = "when session affinity type is ClientIP"
        if cfg is None:
            errs.append(FieldError.required(cfg_path, when))
        elif cfg.client_ip is None:
            errs.append(FieldError.required(cfg_path.child("clientIP"), when))
        elif cfg.client_ip.timeout_seconds is None:
            errs.append(FieldError.required(cfg_path.child("clientIP", "timeoutSeconds"), when))
        else:
            timeout = cfg.client_ip.timeout_seconds
            if timeout <= 0 or timeout > _MAX_AFFINITY_TIMEOUT:
                errs.append(
                    FieldError.invalid(
                        cfg_path.child("clientIP", "timeoutSeconds"),
                        timeout,
                        f"must be greater than 0 and less than {_MAX_AFFINITY_TIMEOUT}",
                    )
                )
    elif spec.session_affinity == "None" and spec.session_affinity_config is not None:
        errs.append(FieldError.forbidden(cfg_path, "must not be set when session affinity is None"))
    errs.extend(cluster_ips_related_fields(svc))
    for i, ip in enumerate(spec.external_ips):
        ip_path = SPEC.child("externalIPs").index(i)
        ip_errs = legacy_ip(ip, ip_path)
        errs.extend(ip_errs if ip_errs else non_special_ip(ip, ip_path))
    types = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
    if not spec.type:
        errs.append(FieldError.required(SPEC.child("type")))
    elif spec.type not in types:
        errs.append(FieldError.not_supported(SPEC.child("type"), spec.type, types))
    if spec.type == "ClusterIP":
        for i, port in enumerate(spec.ports):
            if port.node_port != 0:
                errs.append(
                    FieldError.forbidden(
                        SPEC.child("ports").index(i).child("nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    )
                )
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(spec.ports):
        if port.node_port == 0:
            continue
        key = (port.protocol, port.node_port)
        if key in node_ports:
            errs.append(
                FieldError.duplicate(SPEC.child("ports").index(i).child("nodePort"), port.node_port)
            )
        node_ports.add(key)
    ports: set[tuple[str, int]] = set()
    for i, port in enumerate(spec.ports):
        key = (port.protocol, port.port)
        if key in ports:
            errs.append(
                FieldError.duplicate(SPEC.child("ports").index(i), _service_port_struct(port))
            )
        ports.add(key)
    errs.extend(_source_ranges(svc))
    if spec.allocate_load_balancer_node_ports is not None and spec.type != "LoadBalancer":
        errs.append(
            FieldError.forbidden(
                SPEC.child("allocateLoadBalancerNodePorts"),
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    if spec.type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is None:
        # Upstream's path really lacks the "spec." prefix.
        errs.append(FieldError.required(FieldPath.root("allocateLoadBalancerNodePorts")))
    if spec.load_balancer_class is not None:
        if spec.type == "LoadBalancer":
            errs.extend(qualified_name(spec.load_balancer_class, SPEC.child("loadBalancerClass")))
        else:
            errs.append(
                FieldError.forbidden(
                    SPEC.child("loadBalancerClass"),
                    "may only be used when `type` is 'LoadBalancer'",
                )
            )
    errs.extend(_traffic_policies(svc))
    return errs


def _source_ranges(svc: Service) -> Errs:
    spec = svc.spec
    errs: Errs = []
    if spec.load_balancer_source_ranges:
        # Upstream's path is capitalised: spec.LoadBalancerSourceRanges[0].
        path = SPEC.child("LoadBalancerSourceRanges")
        if spec.type != "LoadBalancer":
            errs.append(
                FieldError.forbidden(path, "may only be used when `type` is 'LoadBalancer'")
            )
        for i, value in enumerate(spec.load_balancer_source_ranges):
            errs.extend(legacy_cidr(value.strip(), path.index(i)))
    elif _SOURCE_RANGES_ANNOTATION in svc.metadata.annotations:
        path = METADATA.child("annotations").key(_SOURCE_RANGES_ANNOTATION)
        if spec.type != "LoadBalancer":
            errs.append(
                FieldError.forbidden(path, "may only be used when `type` is 'LoadBalancer'")
            )
        value = svc.metadata.annotations[_SOURCE_RANGES_ANNOTATION].strip()
        if value:
            for cidr in value.split(","):
                errs.extend(legacy_cidr(cidr.strip(), path))
    return errs


def _traffic_policies(svc: Service) -> Errs:
    spec = svc.spec
    errs: Errs = []
    etp = spec.external_traffic_policy
    if not _externally_accessible(svc):
        if etp:
            errs.append(
                FieldError.invalid(
                    SPEC.child("externalTrafficPolicy"),
                    etp,
                    "may only be set for externally-accessible services",
                )
            )
    elif etp and etp not in ("Cluster", "Local"):
        # An empty policy is defaulted to Cluster by the API server (podnet's defaulting only
        # covers NodePort and LoadBalancer), so it is never reported as missing here.
        errs.append(
            FieldError.not_supported(SPEC.child("externalTrafficPolicy"), etp, ("Cluster", "Local"))
        )
    needs_health_check = spec.type == "LoadBalancer" and etp == "Local"
    hc_path = SPEC.child("healthCheckNodePort")
    if not needs_health_check:
        if spec.health_check_node_port != 0:
            errs.append(
                FieldError.invalid(
                    hc_path,
                    spec.health_check_node_port,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                )
            )
    elif spec.health_check_node_port != 0:
        # 0 is allocated before validation runs, so only a given port is checked.
        errs.extend(
            FieldError.invalid(hc_path, spec.health_check_node_port, m)
            for m in is_valid_port_num(spec.health_check_node_port)
        )
    itp = spec.internal_traffic_policy
    if itp is None:
        if spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(FieldError.required(SPEC.child("internalTrafficPolicy")))
    elif itp not in ("Cluster", "Local"):
        errs.append(
            FieldError.not_supported(SPEC.child("internalTrafficPolicy"), itp, ("Cluster", "Local"))
        )
    td = spec.traffic_distribution
    if td is not None:
        valid = ("PreferClose", "PreferSameZone", "PreferSameNode")
        if td not in valid:
            errs.append(FieldError.not_supported(SPEC.child("trafficDistribution"), td, valid))
    return errs


# --------------------------------------------------------------------------------------------
# ReplicationController, Node, Namespace


def validate_replication_controller(rc: ReplicationController) -> Errs:
    """``ValidateReplicationController``."""
    spec = rc.spec
    errs = object_meta(rc.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    errs.extend(nonnegative(spec.min_ready_seconds, SPEC.child("minReadySeconds")))
    if not spec.selector:
        errs.append(FieldError.required(SPEC.child("selector")))
    errs.extend(nonnegative(spec.replicas or 0, SPEC.child("replicas")))
    tpath = SPEC.child("template")
    template = spec.template
    if template is None:
        errs.append(FieldError.required(tpath))
        return errs
    labels = template.metadata.labels
    if spec.selector and any(labels.get(k) != v for k, v in spec.selector.items()):
        errs.append(
            FieldError.invalid(
                tpath.child("metadata", "labels"),
                labels_value(labels),
                "`selector` does not match template `labels`",
            )
        )
    errs.extend(pod_template_spec(template, tpath))
    if template.spec.restart_policy != "Always":
        errs.append(
            FieldError.not_supported(
                tpath.child("spec", "restartPolicy"), template.spec.restart_policy, ("Always",)
            )
        )
    if template.spec.extra.get("activeDeadlineSeconds") is not None:
        errs.append(
            FieldError.forbidden(
                tpath.child("spec", "activeDeadlineSeconds"),
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return errs


def _taint_struct(key: str, value: str, effect: str) -> GoStruct:
    return GoStruct(
        "core.Taint",
        (
            ("Key", key),
            ("Value", value),
            ("Effect", effect),
            ("TimeAdded", GoLiteral("(*v1.Time)(nil)")),
        ),
    )


def validate_node(node: Node) -> Errs:
    """``ValidateNode``: metadata, taints (reported under ``metadata.taints``), podCIDRs."""
    errs = object_meta(node.metadata, namespaced=False, name_fn=name_is_dns_subdomain)
    if node.spec.taints:
        path = METADATA.child("taints")
        unique: dict[str, set[str]] = {}
        for i, taint in enumerate(node.spec.taints):
            p = path.index(i)
            errs.extend(qualified_name(taint.key, p.child("key")))
            msgs = is_valid_label_value(taint.value)
            if msgs:
                errs.append(FieldError.invalid(p.child("value"), taint.value, ";".join(msgs)))
            errs.extend(taint_effect(taint.effect, p.child("effect"), allow_empty=False))
            keys = unique.setdefault(taint.effect, set())
            if taint.key in keys:
                errs.append(
                    duplicate_with_detail(
                        p,
                        _taint_struct(taint.key, taint.value, taint.effect),
                        "taints must be unique by key and effect pair",
                    )
                )
                continue
            keys.add(taint.key)
    cidrs = node.pod_cidrs
    if cidrs:
        path = SPEC.child("podCIDRs")
        for i, cidr in enumerate(cidrs):
            errs.extend(legacy_cidr(cidr, path.index(i)))
        if len(cidrs) > 1:
            if not cidrs_dual_stack(cidrs) or len(cidrs) > 2:
                errs.append(
                    FieldError.invalid(
                        path, list(cidrs), "may specify no more than one CIDR for each IP family"
                    )
                )
            seen: set[str] = set()
            for i, cidr in enumerate(cidrs):
                if cidr in seen:
                    errs.append(FieldError.duplicate(path.index(i), cidr))
                seen.add(cidr)
    return errs


def validate_namespace(ns: Namespace) -> Errs:
    """``ValidateNamespace``: name (a DNS label) and ``spec.finalizers``."""
    errs = object_meta(ns.metadata, namespaced=False, name_fn=name_is_dns_label)
    finalizers = ns.spec.get("finalizers") if isinstance(ns.spec, Mapping) else None
    if isinstance(finalizers, (list, tuple)):
        path = SPEC.child("finalizers")
        for f in finalizers:
            value = str(f)
            errs.extend(qualified_name(value, path))
            if "/" not in value and value not in ("kubernetes", "orphan", "foregroundDeletion"):
                errs.append(
                    FieldError.invalid(
                        path,
                        value,
                        "name is neither a standard finalizer name nor is it fully qualified",
                    )
                )
    return errs


# --------------------------------------------------------------------------------------------
# Secret, ConfigMap


def _go_json_unmarshal_error(raw: bytes) -> str | None:
    """A close reading of ``json.Unmarshal(raw, &map[string]interface{}{})``'s error."""
    text = raw.decode("utf-8", "replace")
    stripped = text.strip(" \t\r\n")
    if not stripped:
        return "unexpected end of JSON input"
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as e:
        if e.pos >= len(text.rstrip(" \t\r\n")):
            return "unexpected end of JSON input"
        ch = text[e.pos]
        where = (
            "looking for beginning of value"
            if e.msg.startswith("Expecting value")
            else (
                "after top-level value"
                if e.msg.startswith("Extra data")
                else "looking for beginning of object key string"
            )
        )
        return f"invalid character {_go_char(ch)} {where}"
    go_type = {dict: "", list: "array", str: "string", bool: "bool", int: "number", float: "number"}
    kind = "null" if value is None else go_type.get(type(value), "value")
    if kind:
        if kind == "null":
            return None  # unmarshalling null into a map leaves it nil: no error
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return None


def _go_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    if ch.isprintable():
        return f"'{ch}'"
    return f"'\\x{ord(ch):02x}'" if ord(ch) < 0x80 else f"'{ch}'"


def validate_secret(secret: Secret) -> Errs:
    """``ValidateSecret``, on ``data`` merged with ``stringData`` as the v1 conversion does."""
    errs = object_meta(secret.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    data_path = FieldPath.root("data")
    values: dict[str, bytes] = {}
    for key, value in secret.data.items():
        decoded, _ = go_base64_decode(value)
        values[key] = decoded or b""
    for key, text in secret.string_data.items():
        values[key] = text.encode("utf-8", "surrogatepass")
    total = 0
    for key, raw in values.items():
        errs.extend(FieldError.invalid(data_path.key(key), key, m) for m in is_config_map_key(key))
        total += len(raw)
    if total > MAX_SECRET_SIZE:
        errs.append(FieldError.too_long(data_path, "", MAX_SECRET_SIZE))
    stype = secret.type
    if stype == "kubernetes.io/service-account-token":
        if not secret.metadata.annotations.get("kubernetes.io/service-account.name"):
            errs.append(
                FieldError.required(
                    METADATA.child("annotations").key("kubernetes.io/service-account.name")
                )
            )
    elif stype in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if stype == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in values:
            errs.append(FieldError.required(data_path.key(key)))
        else:
            problem = _go_json_unmarshal_error(values[key])
            if problem:
                errs.append(
                    FieldError.invalid(data_path.key(key), "<secret contents redacted>", problem)
                )
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in values and "password" not in values:
            errs.append(FieldError.required(data_path.key("username")))
            errs.append(FieldError.required(data_path.key("password")))
    elif stype == "kubernetes.io/ssh-auth":
        if not values.get("ssh-privatekey"):
            errs.append(FieldError.required(data_path.key("ssh-privatekey")))
    elif stype == "kubernetes.io/tls":
        if "tls.crt" not in values:
            errs.append(FieldError.required(data_path.key("tls.crt")))
        if "tls.key" not in values:
            errs.append(FieldError.required(data_path.key("tls.key")))
    return errs


def validate_config_map(cm: ConfigMap) -> Errs:
    """``ValidateConfigMap``."""
    errs = object_meta(cm.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    total = 0
    data_path = FieldPath.root("data")
    for key, value in cm.data.items():
        errs.extend(FieldError.invalid(data_path.key(key), key, m) for m in is_config_map_key(key))
        if key in cm.binary_data:
            errs.append(
                FieldError.invalid(
                    data_path.key(key), key, "duplicate of key present in binaryData"
                )
            )
        total += len(value.encode("utf-8", "surrogatepass"))
    bin_path = FieldPath.root("binaryData")
    for key, value in cm.binary_data.items():
        errs.extend(FieldError.invalid(bin_path.key(key), key, m) for m in is_config_map_key(key))
        total += _decoded_len(value)
    if total > MAX_SECRET_SIZE:
        errs.append(FieldError.too_long(FieldPath.root(""), "", MAX_SECRET_SIZE))
    return errs


__all__ = [
    "base64_decode_error",
    "cluster_ips_related_fields",
    "go_base64_decode",
    "normalized_cluster_ips",
    "validate_config_map",
    "validate_namespace",
    "validate_node",
    "validate_replication_controller",
    "validate_secret",
    "validate_service",
]
