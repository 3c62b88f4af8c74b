"""Pod and pod-template validation (private to :mod:`podnet.api.validation`).

Behaviour and wording from kubernetes/kubernetes ``pkg/apis/core/validation/validation.go``:
``ValidatePodCreate``, ``ValidatePodSpec``, ``ValidatePodTemplateSpec``, ``validateContainers``,
``validateInitContainers``, ``validateContainerCommon``, ``validateContainerPorts``,
``validateProbe`` and friends, ``validatePodDNSConfig``, ``ValidateTolerations``,
``ValidateHostAliases``, ``validatePodHostNetworkDeps``, ``AccumulateUniqueHostPorts``,
``ValidatePodSpecificAnnotations``.

Objects arrive API-defaulted by :func:`podnet.api.defaults.apply_defaults`. Fields that upstream
defaults but podnet leaves empty (``terminationMessagePolicy``, ``imagePullPolicy``,
``terminationGracePeriodSeconds``) are treated as defaulted, never as missing. Parts of the pod
that podnet keeps unmodelled (volumes, env, resources, security contexts, affinity) are not
validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from podnet.api.core import (
    Container,
    ContainerPort,
    Pod,
    PodDNSConfig,
    PodSpec,
    PodTemplateSpec,
    Probe,
    Toleration,
)
from podnet.api.errors import FieldError, FieldPath, go_quote
from podnet.api.names import (
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    name_is_dns_subdomain,
    regex_error,
    validate_annotations,
    validate_labels,
)
from podnet.api.validation_common import (
    METADATA,
    Errs,
    dns1123_label,
    dns1123_subdomain,
    legacy_ip,
    name_errors,
    nonnegative,
    object_meta,
    qualified_name,
)

PROTOCOLS: Final = ("SCTP", "TCP", "UDP")  # sets.List order
_MAX_INT32: Final = 2**31 - 1
_MAX_DNS_NAMESERVERS: Final = 3
_MAX_DNS_SEARCH_PATHS: Final = 32
_MAX_DNS_SEARCH_LIST_CHARS: Final = 2048

_MIRROR_ANNOTATION: Final = "kubernetes.io/config.mirror"
_DELETION_COST_ANNOTATION: Final = "controller.kubernetes.io/pod-deletion-cost"
_APPARMOR_PREFIX: Final = "container.apparmor.security.beta.kubernetes.io/"


def _extra(obj: Any, key: str) -> Any:
    extra: Mapping[str, Any] = getattr(obj, "extra", {}) or {}
    return extra.get(key)


def port_num_or_name(port: int | str | None, path: FieldPath) -> Errs:
    """``ValidatePortNumOrName``: an unset IntOrString is the integer 0."""
    if isinstance(port, str):
        return [FieldError.invalid(path, port, m) for m in is_valid_port_name(port)]
    value = port or 0
    return [FieldError.invalid(path, value, m) for m in is_valid_port_num(value)]


# --------------------------------------------------------------------------------------------
# Containers


def container_ports(ports: Sequence[ContainerPort], path: FieldPath) -> Errs:
    """``validateContainerPorts``: names are unique within one container."""
    errs: Errs = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = path.index(i)
        if port.name:
            msgs = is_valid_port_name(port.name)
            if msgs:
                errs.extend(FieldError.invalid(p.child("name"), port.name, m) for m in msgs)
            elif port.name in names:
                errs.append(FieldError.duplicate(p.child("name"), port.name))
            else:
                names.add(port.name)
        if port.container_port == 0:
            errs.append(FieldError.required(p.child("containerPort")))
        else:
            errs.extend(
                FieldError.invalid(p.child("containerPort"), port.container_port, m)
                for m in is_valid_port_num(port.container_port)
            )
        if port.host_port != 0:
            errs.extend(
                FieldError.invalid(p.child("hostPort"), port.host_port, m)
                for m in is_valid_port_num(port.host_port)
            )
        if not port.protocol:
            errs.append(FieldError.required(p.child("protocol")))
        elif port.protocol not in PROTOCOLS:
            errs.append(FieldError.not_supported(p.child("protocol"), port.protocol, PROTOCOLS))
    return errs


def _enum_field(obj: Any, key: str, valid: Sequence[str], path: FieldPath) -> Errs:
    """A defaulted enum kept in ``extra``: absent means defaulted; "" is Required."""
    value = _extra(obj, key)
    if value is None:
        return []
    if value == "":
        return [FieldError.required(path)]
    if not isinstance(value, str) or value not in valid:
        return [FieldError.not_supported(path, value, valid)]
    return []


def _container_common(c: Container, path: FieldPath) -> Errs:
    """``validateContainerCommon`` for the modelled fields."""
    errs: Errs = []
    if not c.name:
        errs.append(FieldError.required(path.child("name")))
    else:
        errs.extend(dns1123_label(c.name, path.child("name")))
    if not c.image:
        errs.append(FieldError.required(path.child("image")))
    errs.extend(
        _enum_field(
            c,
            "terminationMessagePolicy",
            ("File", "FallbackToLogsOnError"),
            path.child("terminationMessagePolicy"),
        )
    )
    errs.extend(container_ports(c.ports, path.child("ports")))
    errs.extend(
        _enum_field(
            c, "imagePullPolicy", ("Always", "IfNotPresent", "Never"), path.child("imagePullPolicy")
        )
    )
    return errs


_HTTP_HEADER_RE_FMT: Final = "[-A-Za-z0-9]+"


def _http_header_name(value: str) -> list[str]:
    if re.fullmatch(_HTTP_HEADER_RE_FMT, value):
        return []
    return [
        regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'",
            _HTTP_HEADER_RE_FMT,
            "X-Header-Name",
        )
    ]


def _handler(probe: Probe, path: FieldPath) -> Errs:
    """``validateHandler`` for a probe: exactly one of exec, httpGet, tcpSocket, grpc."""
    errs: Errs = []
    count = 0
    if probe.exec is not None:
        count += 1
        if not probe.exec.command:
            errs.append(FieldError.required(path.child("exec", "command")))
    if probe.http_get is not None:
        if count:
            errs.append(
                FieldError.forbidden(
                    path.child("httpGet"), "may not specify more than 1 handler type"
                )
            )
        else:
            count += 1
            hg = probe.http_get
            hp = path.child("httpGet")
            if not hg.path:
                errs.append(FieldError.required(hp.child("path")))
            errs.extend(port_num_or_name(hg.port, hp.child("port")))
            if hg.scheme not in ("HTTP", "HTTPS"):
                errs.append(
                    FieldError.not_supported(hp.child("scheme"), hg.scheme, ("HTTP", "HTTPS"))
                )
            for header in hg.http_headers:
                name = str(header.get("name", ""))
                errs.extend(
                    FieldError.invalid(hp.child("httpHeaders"), name, m)
                    for m in _http_header_name(name)
                )
    if probe.tcp_socket is not None:
        if count:
            errs.append(
                FieldError.forbidden(
                    path.child("tcpSocket"), "may not specify more than 1 handler type"
                )
            )
        else:
            count += 1
            errs.extend(port_num_or_name(probe.tcp_socket.port, path.child("tcpSocket", "port")))
    if probe.grpc is not None:
        if count:
            errs.append(
                FieldError.forbidden(path.child("grpc"), "may not specify more than 1 handler type")
            )
        else:
            count += 1
            errs.extend(
                FieldError.invalid(path.child("grpc", "port"), probe.grpc.port, m)
                for m in is_valid_port_num(probe.grpc.port)
            )
    if count == 0:
        errs.append(FieldError.required(path, "must specify a handler type"))
    return errs


def _probe(probe: Probe, path: FieldPath) -> Errs:
    """``validateProbe``."""
    errs = _handler(probe, path)
    errs.extend(nonnegative(probe.initial_delay_seconds, path.child("initialDelaySeconds")))
    errs.extend(nonnegative(probe.timeout_seconds, path.child("timeoutSeconds")))
    errs.extend(nonnegative(probe.period_seconds, path.child("periodSeconds")))
    errs.extend(nonnegative(probe.success_threshold, path.child("successThreshold")))
    errs.extend(nonnegative(probe.failure_threshold, path.child("failureThreshold")))
    grace = _extra(probe, "terminationGracePeriodSeconds")
    if isinstance(grace, int) and not isinstance(grace, bool) and grace <= 0:
        errs.append(
            FieldError.invalid(
                path.child("terminationGracePeriodSeconds"), grace, "must be greater than 0"
            )
        )
    return errs


def _liveness_or_startup(probe: Probe | None, path: FieldPath) -> Errs:
    if probe is None:
        return []
    errs = _probe(probe, path)
    if probe.success_threshold != 1:
        errs.append(
            FieldError.invalid(path.child("successThreshold"), probe.success_threshold, "must be 1")
        )
    return errs


def _readiness(probe: Probe | None, path: FieldPath) -> Errs:
    if probe is None:
        return []
    errs = _probe(probe, path)
    grace = _extra(probe, "terminationGracePeriodSeconds")
    if grace is not None:
        errs.append(
            FieldError.invalid(
                path.child("terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            )
        )
    return errs


def _host_port_conflicts(containers: Sequence[Container], path: FieldPath) -> Errs:
    """``AccumulateUniqueHostPorts``: protocol/hostIP/hostPort unique."""
    errs: Errs = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(c.ports):
            if port.host_port == 0:
                continue
            key = f"{port.protocol}/{port.host_ip}/{port.host_port}"
            if key in seen:
                errs.append(
                    FieldError.duplicate(
                        path.index(ci).child("ports").index(pi).child("hostPort"), key
                    )
                )
            else:
                seen.add(key)
    return errs


def _containers(containers: Sequence[Container], path: FieldPath) -> Errs:
    """``validateContainers``."""
    if not containers:
        return [FieldError.required(path)]
    errs: Errs = []
    names: set[str] = set()
    for i, c in enumerate(containers):
        p = path.index(i)
        errs.extend(_container_common(c, p))
        if c.name in names:
            errs.append(FieldError.duplicate(p.child("name"), c.name))
        else:
            names.add(c.name)
        errs.extend(_liveness_or_startup(c.liveness_probe, p.child("livenessProbe")))
        errs.extend(_readiness(c.readiness_probe, p.child("readinessProbe")))
        errs.extend(_liveness_or_startup(c.startup_probe, p.child("startupProbe")))
        if c.restart_policy:
            errs.append(
                FieldError.forbidden(
                    p.child("restartPolicy"), "may not be set for non-init containers"
                )
            )
    errs.extend(_host_port_conflicts(containers, path))
    return errs


def _init_containers(
    containers: Sequence[Container], regular: Sequence[Container], path: FieldPath
) -> Errs:
    """``validateInitContainers``."""
    errs: Errs = []
    names = {c.name for c in regular}
    for i, c in enumerate(containers):
        p = path.index(i)
        errs.extend(_container_common(c, p))
        restart_always = False
        if c.restart_policy:
            if c.restart_policy != "Always":
                errs.append(
                    FieldError.not_supported(
                        p.child("restartPolicy"), c.restart_policy, ("Always",)
                    )
                )
            restart_always = c.restart_policy == "Always"
        if c.name in names:
            errs.append(FieldError.duplicate(p.child("name"), c.name))
        elif c.name:
            names.add(c.name)
        # Upstream checks each init container alone, as a one-element list: index 0.
        errs.extend(_host_port_conflicts([c], path))
        if restart_always:
            errs.extend(_liveness_or_startup(c.liveness_probe, p.child("livenessProbe")))
            errs.extend(_readiness(c.readiness_probe, p.child("readinessProbe")))
            errs.extend(_liveness_or_startup(c.startup_probe, p.child("startupProbe")))
        else:
            msg = "may not be set for init containers without restartPolicy=Always"
            if _extra(c, "lifecycle") is not None:
                errs.append(FieldError.forbidden(p.child("lifecycle"), msg))
            if c.liveness_probe is not None:
                errs.append(FieldError.forbidden(p.child("livenessProbe"), msg))
            if c.readiness_probe is not None:
                errs.append(FieldError.forbidden(p.child("readinessProbe"), msg))
            if c.startup_probe is not None:
                errs.append(FieldError.forbidden(p.child("startupProbe"), msg))
    return errs


# --------------------------------------------------------------------------------------------
# Pod spec

_DNS1123_SUBDOMAIN_US_FMT: Final = (
    "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*"
)


def _dns1123_subdomain_with_underscore(value: str, path: FieldPath) -> Errs:
    """``ValidateDNS1123SubdomainWithUnderScore`` (relaxed DNS search validation)."""
    errs: Errs = []
    if len(value.encode("utf-8", "surrogatepass")) > 253:
        errs.append(FieldError.invalid(path, value, "must be no more than 253 characters"))
    if not re.fullmatch(_DNS1123_SUBDOMAIN_US_FMT, value):
        errs.append(
            FieldError.invalid(
                path,
                value,
                regex_error(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '_', '-' or '.', and must start and end with an alphanumeric "
                    "character",
                    _DNS1123_SUBDOMAIN_US_FMT,
                    "example.com",
                ),
            )
        )
    return errs


def _dns_config(cfg: PodDNSConfig | None, policy: str, path: FieldPath) -> Errs:
    """``validatePodDNSConfig`` (relaxed DNS search validation, GA since 1.34)."""
    if policy == "None":
        if cfg is None:
            return [FieldError.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not cfg.nameservers:
            return [
                FieldError.required(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if cfg is None:
        return []
    errs: Errs = []
    if len(cfg.nameservers) > _MAX_DNS_NAMESERVERS:
        errs.append(
            FieldError.invalid(
                path.child("nameservers"),
                list(cfg.nameservers),
                f"must not have more than {_MAX_DNS_NAMESERVERS} nameservers",
            )
        )
    for i, ns in enumerate(cfg.nameservers):
        errs.extend(legacy_ip(ns, path.child("nameservers").index(i)))
    if len(cfg.searches) > _MAX_DNS_SEARCH_PATHS:
        errs.append(
            FieldError.invalid(
                path.child("searches"),
                list(cfg.searches),
                f"must not have more than {_MAX_DNS_SEARCH_PATHS} search paths",
            )
        )
    if len(" ".join(cfg.searches).encode()) > _MAX_DNS_SEARCH_LIST_CHARS:
        errs.append(
            FieldError.invalid(
                path.child("searches"),
                list(cfg.searches),
                f"must not have more than {_MAX_DNS_SEARCH_LIST_CHARS} characters (including "
                "spaces) in the search list",
            )
        )
    for i, search in enumerate(cfg.searches):
        if search != ".":
            trimmed = search[:-1] if search.endswith(".") else search
            errs.extend(
                _dns1123_subdomain_with_underscore(trimmed, path.child("searches").index(i))
            )
    for i, option in enumerate(cfg.options):
        if not option.name:
            errs.append(FieldError.required(path.child("options").index(i), "must not be empty"))
    return errs


def taint_effect(effect: str, path: FieldPath, *, allow_empty: bool) -> Errs:
    """``validateTaintEffect``."""
    if not allow_empty and not effect:
        return [FieldError.required(path)]
    valid = ("NoSchedule", "PreferNoSchedule", "NoExecute")
    if effect not in valid:
        return [FieldError.not_supported(path, effect, valid)]
    return []


def tolerations(items: Sequence[Toleration], path: FieldPath) -> Errs:
    """``ValidateTolerations``."""
    errs: Errs = []
    for i, t in enumerate(items):
        p = path.index(i)
        if t.key:
            errs.extend(qualified_name(t.key, p.child("key")))
        if not t.key and t.operator != "Exists":
            errs.append(
                FieldError.invalid(
                    p.child("operator"),
                    t.operator,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if _extra(t, "tolerationSeconds") is not None and t.effect != "NoExecute":
            errs.append(
                FieldError.invalid(
                    p.child("effect"),
                    t.effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if t.operator in ("Equal", ""):
            msgs = is_valid_label_value(t.value)
            if msgs:
                errs.append(FieldError.invalid(p.child("operator"), t.value, ";".join(msgs)))
        elif t.operator == "Exists":
            if t.value:
                errs.append(
                    FieldError.invalid(
                        p.child("operator"),
                        t.value,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            errs.append(
                FieldError.not_supported(p.child("operator"), t.operator, ("Equal", "Exists"))
            )
        if t.effect:
            errs.extend(taint_effect(t.effect, p.child("effect"), allow_empty=True))
    return errs


def _int_extra(obj: Any, key: str) -> int | None:
    value = _extra(obj, key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def pod_spec(spec: PodSpec, path: FieldPath, *, is_pod: bool) -> Errs:
    """``ValidatePodSpec`` for the fields podnet models (and a few it keeps in ``extra``)."""
    del is_pod  # hostPort defaulting makes pods and templates behave alike here
    errs: Errs = []
    errs.extend(_containers(spec.containers, path.child("containers")))
    errs.extend(
        _init_containers(spec.init_containers, spec.containers, path.child("initContainers"))
    )
    if spec.host_network:
        # A pod's hostPort is defaulted to its containerPort first, so 0 always passes.
        for i, c in enumerate(spec.containers):
            for j, port in enumerate(c.ports):
                if port.host_port != 0 and port.host_port != port.container_port:
                    errs.append(
                        FieldError.invalid(
                            path.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                            port.host_port,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    restart = ("Always", "OnFailure", "Never")
    if not spec.restart_policy:
        errs.append(FieldError.required(path.child("restartPolicy")))
    elif spec.restart_policy not in restart:
        errs.append(
            FieldError.not_supported(path.child("restartPolicy"), spec.restart_policy, restart)
        )
    dns = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
    if not spec.dns_policy:
        errs.append(FieldError.required(path.child("dnsPolicy")))
    elif spec.dns_policy not in dns:
        errs.append(FieldError.not_supported(path.child("dnsPolicy"), spec.dns_policy, dns))
    errs.extend(validate_labels(spec.node_selector, path.child("nodeSelector")))
    errs.extend(_dns_config(spec.dns_config, spec.dns_policy, path.child("dnsConfig")))
    gates = _extra(spec, "readinessGates")
    if isinstance(gates, (list, tuple)):
        for i, gate in enumerate(gates):
            if isinstance(gate, Mapping):
                errs.extend(
                    qualified_name(
                        str(gate.get("conditionType", "")),
                        path.child("readinessGates").index(i).child("conditionType"),
                    )
                )
    sched = _extra(spec, "schedulingGates")
    if isinstance(sched, (list, tuple)):
        seen: set[str] = set()
        for i, gate in enumerate(sched):
            name = str(gate.get("name", "")) if isinstance(gate, Mapping) else ""
            errs.extend(qualified_name(name, path.child("schedulingGates").index(i)))
            if name in seen:
                errs.append(FieldError.duplicate(path.child("schedulingGates").index(i), name))
            seen.add(name)
    sa = _extra(spec, "serviceAccountName")
    if isinstance(sa, str) and sa:
        errs.extend(name_errors(sa, path.child("serviceAccountName"), name_is_dns_subdomain))
    if spec.node_name:
        errs.extend(name_errors(spec.node_name, path.child("nodeName"), name_is_dns_subdomain))
    deadline = _int_extra(spec, "activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= _MAX_INT32:
        errs.append(
            FieldError.invalid(
                path.child("activeDeadlineSeconds"),
                deadline,
                f"must be between 1 and {_MAX_INT32}, inclusive",
            )
        )
    if spec.hostname:
        errs.extend(dns1123_label(spec.hostname, path.child("hostname")))
    if spec.subdomain:
        errs.extend(dns1123_label(spec.subdomain, path.child("subdomain")))
    if spec.tolerations:
        errs.extend(tolerations(spec.tolerations, path.child("tolerations")))
    for i, alias in enumerate(spec.host_aliases):
        ap = path.child("hostAliases").index(i)
        errs.extend(legacy_ip(alias.ip, ap.child("ip")))
        for j, hostname in enumerate(alias.hostnames):
            errs.extend(dns1123_subdomain(hostname, ap.child("hostnames").index(j)))
    prio = _extra(spec, "priorityClassName")
    if isinstance(prio, str) and prio:
        errs.extend(name_errors(prio, path.child("priorityClassName"), name_is_dns_subdomain))
    runtime_class = _extra(spec, "runtimeClassName")
    if isinstance(runtime_class, str):
        errs.extend(
            name_errors(runtime_class, path.child("runtimeClassName"), name_is_dns_subdomain)
        )
    preemption = _extra(spec, "preemptionPolicy")
    if isinstance(preemption, str):
        valid = ("PreemptLowerPriority", "Never")
        if not preemption:
            errs.append(FieldError.required(path.child("preemptionPolicy")))
        elif preemption not in valid:
            errs.append(FieldError.not_supported(path.child("preemptionPolicy"), preemption, valid))
    return errs


def _valid_deletion_cost(value: str) -> bool:
    """``GetDeletionCostFromPodAnnotations``: a 32-bit integer without '+' or leading zeros."""
    if not value:
        return False
    first_ok = value[0] == "-" or value == "0" or "1" <= value[0] <= "9"
    if not first_ok or not re.fullmatch(r"-?[0-9]+", value):
        return False
    return -(2**31) <= int(value, 10) <= _MAX_INT32


def pod_specific_annotations(
    annotations: Mapping[str, str], spec: PodSpec, path: FieldPath
) -> Errs:
    """``ValidatePodSpecificAnnotations`` (mirror pod, deletion cost, AppArmor)."""
    errs: Errs = []
    if _MIRROR_ANNOTATION in annotations and not spec.node_name:
        errs.append(
            FieldError.invalid(
                path.key(_MIRROR_ANNOTATION),
                annotations[_MIRROR_ANNOTATION],
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    if _DELETION_COST_ANNOTATION in annotations and not _valid_deletion_cost(
        annotations[_DELETION_COST_ANNOTATION]
    ):
        errs.append(
            FieldError.invalid(
                path.key(_DELETION_COST_ANNOTATION),
                annotations[_DELETION_COST_ANNOTATION],
                "must be a 32bit integer",
            )
        )
    names = {c.name for c in (*spec.containers, *spec.init_containers)}
    for key, profile in annotations.items():
        if not key.startswith(_APPARMOR_PREFIX):
            continue
        container = key[len(_APPARMOR_PREFIX) :]
        if container not in names:
            errs.append(FieldError.invalid(path.key(key), container, "container not found"))
        if profile not in ("", "runtime/default", "unconfined") and not profile.startswith(
            "localhost/"
        ):
            errs.append(
                FieldError.invalid(
                    path.key(key), profile, f"invalid AppArmor profile name: {go_quote(profile)}"
                )
            )
    return errs


def pod_template_spec(template: PodTemplateSpec, path: FieldPath) -> Errs:
    """``ValidatePodTemplateSpec``."""
    meta = template.metadata
    errs = validate_labels(meta.labels, path.child("labels"))
    errs.extend(validate_annotations(meta.annotations, path.child("annotations")))
    errs.extend(
        pod_specific_annotations(meta.annotations, template.spec, path.child("annotations"))
    )
    errs.extend(pod_spec(template.spec, path.child("spec"), is_pod=False))
    if _extra(template.spec, "ephemeralContainers"):
        errs.append(
            FieldError.forbidden(
                path.child("spec", "ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            )
        )
    return errs


def validate_pod(pod: Pod) -> Errs:
    """``ValidatePodCreate``."""
    spec_path = FieldPath.root("spec")
    errs = object_meta(pod.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    errs.extend(
        pod_specific_annotations(pod.metadata.annotations, pod.spec, METADATA.child("annotations"))
    )
    errs.extend(pod_spec(pod.spec, spec_path, is_pod=True))
    for field_name, containers in (
        ("containers", pod.spec.containers),
        ("initContainers", pod.spec.init_containers),
    ):
        for i, c in enumerate(containers):
            if c.image != c.image.strip():
                errs.append(
                    FieldError.invalid(
                        spec_path.child(field_name).index(i).child("image"),
                        c.image,
                        "must not have leading or trailing whitespace",
                    )
                )
    if _extra(pod.spec, "ephemeralContainers"):
        errs.append(
            FieldError.forbidden(spec_path.child("ephemeralContainers"), "cannot be set on create")
        )
    if pod.spec.node_name and _extra(pod.spec, "schedulingGates"):
        errs.append(
            FieldError.forbidden(
                spec_path.child("nodeName"),
                "cannot be set until all schedulingGates have been cleared",
            )
        )
    return errs


__all__ = [
    "PROTOCOLS",
    "container_ports",
    "pod_spec",
    "pod_specific_annotations",
    "pod_template_spec",
    "taint_effect",
    "port_num_or_name",
    "tolerations",
    "validate_pod",
]
