"""Lint rules for Services: selectors, target ports, protocols, ExternalName, not-ready addresses.

What a Service does at runtime is what its EndpointSlices hold: the pods its selector picks in
its own namespace, each with the container port its ``targetPort`` resolves to — a number as is,
a name looked up in the pod's containers *with the Service port's protocol*
(``podutil.FindPort``); a pod without the name is left out. No endpoint means kube-proxy rejects
connections to the ClusterIP (``connection refused``) and DNS gives a headless name no address.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterator, Mapping, Sequence

from podnet.api.core import ContainerPort, Pod, Service, ServicePort
from podnet.api.meta import ObjectRef
from podnet.api.selectors import Selector
from podnet.api.workloads import StatefulSet
from podnet.sim.findings import Finding, rule
from podnet.sim.lint import LintContext, checker, stable_labels

SELECTS_NO_PODS = rule(
    "service-selects-no-pods", "error",
    "A Service's selector matches no pod",
    "A Service sends traffic to the pods its selector picks in its own namespace. When it picks "
    "none, its EndpointSlices are empty: kube-proxy rejects connections to its ClusterIP "
    "(connection refused) and a headless Service's name has no address records.",
    "services",
)
TARGET_PORT_MISSING = rule(
    "service-target-port-missing", "error",
    "A Service's targetPort is not a port the selected pods expose",
    "A named targetPort is looked up in each selected pod's containers; a pod without it is left "
    "out of the Service's endpoints (none has it: no endpoints, connections refused). A numeric "
    "targetPort is used as is: when the pods declare other ports, nothing listens on it and "
    "connections are refused by the pod.",
    "services",
)
PROTOCOL_MISMATCH = rule(
    "service-port-protocol-mismatch", "error",
    "A Service port's protocol differs from the container port it targets",
    "A named targetPort only matches a container port of the same protocol (TCP, UDP, SCTP): a "
    "UDP Service port naming a TCP container port finds no endpoint. A numeric one is forwarded, "
    "but to a port the container serves with another protocol.",
    "services",
)
EXTERNALNAME_IP = rule(
    "externalname-ip", "error",
    "An ExternalName Service points at an IP address",
    "CoreDNS answers an ExternalName Service with a CNAME to spec.externalName. An IP address "
    "there becomes a CNAME to a name like \"10.0.0.5.\", which does not resolve: clients get no "
    "address at all.",
    "services",
)
PUBLISH_NOT_READY = rule(
    "service-publish-not-ready", "warning",
    "publishNotReadyAddresses sends clients to pods that are not ready",
    "With publishNotReadyAddresses every selected pod is published as ready, whatever its "
    "readiness probe says: a headless Service's DNS answers list pods still starting or failing, "
    "and kube-proxy balances a ClusterIP Service onto them. Meant for peer discovery "
    "(StatefulSet bootstrap), surprising for clients.",
    "services",
)
PEER_DNS_WAITS = rule(
    "statefulset-peer-dns-waits-for-ready", "info",
    "StatefulSet pods get their DNS names only once ready",
    "A StatefulSet pod's stable name (db-0.db.data.svc.cluster.local) is published by its "
    "governing headless Service only when the pod is ready. Clustered software whose members "
    "must find each other before they pass their readiness probe waits forever unless the "
    "Service sets publishNotReadyAddresses: true.",
    "services",
)


def _proto(p: str | None) -> str:
    return (p or "TCP").upper()


def _ports(pod: Pod) -> tuple[ContainerPort, ...]:
    return pod.spec.all_ports()


def _port_text(p: ContainerPort) -> str:
    name = f" ({p.name})" if p.name else ""
    return f"{p.container_port}/{_proto(p.protocol)}{name}"


def _svc_where(svc: Service, sp: ServicePort) -> str:
    ips = svc.cluster_ips
    where = f"{ips[0]}:{sp.port}" if ips else f"port {sp.port}"
    if sp.node_port:
        where += f" and every node's port {sp.node_port}"
    return where


# ------------------------------------------------------------------------------------ selector


def _selector_hint(ctx: LintContext, svc: Service) -> str:
    ns = svc.metadata.namespace
    want = dict(svc.spec.selector or {})
    sel = Selector.from_map(want)
    elsewhere = sorted({
        p.metadata.namespace for p in ctx.state.pods() if p.metadata.namespace != ns
        and sel.matches(p.metadata.labels) and not p.finished
    })
    if elsewhere:
        return (f"pods with {_labels(want)} run in namespace {', '.join(elsewhere)}, but a Service only "
                f"selects pods of its own namespace ({ns}): create the Service there")
    pods = ctx.live_pods(ns)
    if not pods:
        return (f"namespace {ns} has no pods: deploy the workload the Service fronts, or fix "
                f"metadata.namespace")
    hints: list[str] = []
    for key, value in want.items():
        values = sorted({p.metadata.labels[key] for p in pods if key in p.metadata.labels})
        if value in values:
            continue
        if values:
            close = difflib.get_close_matches(value, values, n=1)
            hints.append(f"{key}={close[0]}" if close else f"{key} in ({', '.join(values[:5])})")
        else:
            keys = sorted({k for p in pods for k in stable_labels(p.metadata.labels)})
            close = difflib.get_close_matches(key, keys, n=1)
            if close:
                hints.append(f"{close[0]}={value}?")
    best = _closest_workload(ctx, pods, want)
    text = "set spec.selector to the labels of the pods it fronts"
    if best:
        text += f" (e.g. {best})"
    if hints:
        text += f"; the pods here have {', '.join(hints)}"
    return text


def _closest_workload(ctx: LintContext, pods: Sequence[Pod], want: dict[str, str]) -> str:
    best, score = "", 0
    for ref, members in sorted(ctx.by_workload(pods).items()):
        labels = stable_labels(members[0].metadata.labels)
        s = sum(1 for k in want if k in labels)
        if s > score:
            best, score = f"{_labels(labels)} from {ref.kind} {ref.namespace}/{ref.name}", s
    return best


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@checker("services")
def check_selectors(ctx: LintContext) -> Iterator[Finding]:
    for svc in ctx.applied("Service"):
        assert isinstance(svc, Service)
        if svc.spec.type == "ExternalName" or not svc.spec.selector:
            continue
        if ctx.service_pods(svc):
            continue
        name = svc.qualified_name
        sel = _labels(dict(svc.spec.selector))
        if svc.is_headless:
            runtime = (f"{svc.metadata.name}.{svc.metadata.namespace}.svc.{ctx.state.config.cluster_domain} "
                       "has no address records: lookups find nothing to connect to")
        else:
            where = ", ".join(_svc_where(svc, sp) for sp in svc.spec.ports[:2])
            runtime = f"connections to {where} are refused (kube-proxy rejects them: no endpoints)"
        yield SELECTS_NO_PODS.finding(
            svc, "spec.selector",
            f'Service "{name}" selects no pod ({sel} matches no pod in namespace '
            f"{svc.metadata.namespace}): it has no endpoints, so {runtime}",
            _selector_hint(ctx, svc),
        )


# ------------------------------------------------------------------------------------ ports


@checker("services")
def check_target_ports(ctx: LintContext) -> Iterator[Finding]:
    for svc in ctx.applied("Service"):
        assert isinstance(svc, Service)
        if svc.spec.type == "ExternalName" or not svc.spec.selector:
            continue
        pods = ctx.service_pods(svc)
        if not pods:
            continue
        groups = ctx.by_workload(pods)
        for i, sp in enumerate(svc.spec.ports):
            yield from _check_port(ctx, svc, i, sp, groups)


def _check_port(ctx: LintContext, svc: Service, i: int, sp: ServicePort,
                groups: Mapping[ObjectRef, list[Pod]]) -> Iterator[Finding]:
    target = sp.target_port if sp.target_port not in (None, "", 0) else sp.port
    proto = _proto(sp.protocol)
    field = f"spec.ports[{i}].targetPort"
    label = f"port {sp.name or sp.port}"
    name = svc.qualified_name
    if isinstance(target, str) and not target.isdigit():
        missing: list[Pod] = []
        other_proto: list[tuple[Pod, ContainerPort]] = []
        for members in groups.values():
            pod = members[0]
            ports = _ports(pod)
            if any(p.name == target and _proto(p.protocol) == proto for p in ports):
                continue
            wrong = next((p for p in ports if p.name == target), None)
            if wrong is not None:
                other_proto.extend((m, wrong) for m in members)
            else:
                missing.extend(members)
        n_all = sum(len(m) for m in groups.values())
        if other_proto:
            pods = [p for p, _ in other_proto]
            cp = other_proto[0][1]
            all_bad = len(pods) + len(missing) == n_all
            yield PROTOCOL_MISMATCH.finding(
                svc, f"spec.ports[{i}].protocol" if sp.protocol else field,
                f'Service "{name}" {label} is {proto} and targets "{target}", which '
                f"{ctx.workload_label(pods)} declare as {_proto(cp.protocol)}: a named port only "
                f"matches the same protocol, so those pods are left out of the endpoints"
                + (" and the port has none: connections are refused" if all_bad else ""),
                f"make the protocols agree: protocol: {_proto(cp.protocol)} on the Service port, or "
                f"a {proto} container port named \"{target}\"",
                severity="error" if all_bad else "warning",
            )
        if missing:
            declared = sorted({p.name for m in missing for p in _ports(m) if p.name})
            close = difflib.get_close_matches(target, declared, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            all_missing = len(missing) == n_all
            declared_text = ", ".join(declared) if declared else "none"
            yield TARGET_PORT_MISSING.finding(
                svc, field,
                f'Service "{name}" {label} targets the port named "{target}", which '
                f"{ctx.workload_label(missing)} do not declare (named ports: {declared_text}): "
                + ("the Service has no endpoints on this port, so connections to "
                   f"{_svc_where(svc, sp)} are refused" if all_missing else
                   "those pods are left out of its endpoints and never receive its traffic"),
                f"{hint}set targetPort to a container port name or number the pods declare",
                severity="error" if all_missing else "warning",
            )
        return
    number = int(target)
    undeclared: list[Pod] = []
    wrong_proto: list[tuple[Pod, ContainerPort]] = []
    for members in groups.values():
        ports = _ports(members[0])
        if not ports:
            continue  # declaring ports is optional; nothing to compare with
        if any(p.container_port == number and _proto(p.protocol) == proto for p in ports):
            continue
        other = next((p for p in ports if p.container_port == number), None)
        if other is not None:
            wrong_proto.extend((m, other) for m in members)
        else:
            undeclared.extend(members)
    if wrong_proto:
        pods = [p for p, _ in wrong_proto]
        cp = wrong_proto[0][1]
        yield PROTOCOL_MISMATCH.finding(
            svc, f"spec.ports[{i}].protocol" if sp.protocol else field,
            f'Service "{name}" {label} forwards {proto} to port {number}, which '
            f"{ctx.workload_label(pods)} declare as {_proto(cp.protocol)}: {proto} packets reach a "
            "port nothing serves with that protocol",
            f"use protocol: {_proto(cp.protocol)} on the Service port, or serve {proto} on {number}",
            severity="warning",
        )
    if undeclared:
        declared = sorted({_port_text(p) for m in undeclared for p in _ports(m)})
        first = next(p for m in undeclared for p in _ports(m) if _proto(p.protocol) == proto) \
            if any(_proto(p.protocol) == proto for m in undeclared for p in _ports(m)) else None
        suggestion = (f'targetPort: {first.name or first.container_port}' if first is not None
                      else "a targetPort the pods declare")
        yield TARGET_PORT_MISSING.finding(
            svc, field,
            f'Service "{name}" {label} forwards to port {number}, which '
            f"{ctx.workload_label(undeclared)} do not declare (they declare {', '.join(declared)}): "
            f"unless the container listens on {number} anyway, connections through "
            f"{_svc_where(svc, sp)} are refused by the pod",
            f"set {suggestion}, or declare containerPort {number} if the container listens there",
            severity="warning",
        )


# ------------------------------------------------------------------------------------ other


@checker("services")
def check_external_name(ctx: LintContext) -> Iterator[Finding]:
    for svc in ctx.applied("Service"):
        assert isinstance(svc, Service)
        if svc.spec.type != "ExternalName":
            continue
        target = svc.spec.external_name.rstrip(".")
        try:
            ipaddress.ip_address(target)
        except ValueError:
            continue
        fqdn = f"{svc.metadata.name}.{svc.metadata.namespace}.svc.{ctx.state.config.cluster_domain}"
        yield EXTERNALNAME_IP.finding(
            svc, "spec.externalName",
            f'ExternalName Service "{svc.qualified_name}" points at the IP address {target}: CoreDNS '
            f'answers {fqdn} with a CNAME to "{target}.", a name that does not resolve, so clients '
            "get no address",
            f"for a fixed address use a Service without selector (type ClusterIP, the ports you "
            f"need) and an EndpointSlice holding {target}; ExternalName is for DNS names",
        )


@checker("services")
def check_not_ready(ctx: LintContext) -> Iterator[Finding]:
    governing: dict[tuple[str, str], list[StatefulSet]] = {}
    for sts in ctx.applied("StatefulSet"):
        assert isinstance(sts, StatefulSet)
        if sts.spec.service_name:
            governing.setdefault((sts.metadata.namespace, sts.spec.service_name), []).append(sts)
    for svc in ctx.applied("Service"):
        assert isinstance(svc, Service)
        if svc.spec.type == "ExternalName" or not svc.spec.selector:
            continue
        pods = ctx.service_pods(svc)
        probed = [p for p in pods if any(c.readiness_probe for c in p.spec.containers)]
        key = (svc.metadata.namespace, svc.metadata.name)
        peers = governing.get(key, [])
        if svc.spec.publish_not_ready_addresses:
            if not probed or peers and svc.is_headless:
                # No probe to bypass, or a StatefulSet's peer discovery: what the option is for.
                continue
            if svc.is_headless:
                runtime = (f"DNS answers for {svc.metadata.name}.{svc.metadata.namespace} list every "
                           "selected pod, also those whose readiness probe fails")
            else:
                runtime = ("kube-proxy balances connections onto every selected pod, also those whose "
                           "readiness probe fails")
            yield PUBLISH_NOT_READY.finding(
                svc, "spec.publishNotReadyAddresses",
                f'Service "{svc.qualified_name}" sets publishNotReadyAddresses: {runtime} '
                f"({ctx.workload_label(probed)} have readiness probes that no longer gate traffic)",
                "remove publishNotReadyAddresses (keep it only on a headless Service used for peer "
                "discovery, and give clients a separate Service)",
            )
        elif svc.is_headless and peers and probed:
            sts = peers[0]
            yield PEER_DNS_WAITS.finding(
                svc, "spec.publishNotReadyAddresses",
                f"the pods of StatefulSet {sts.metadata.name} get their names "
                f"({sts.metadata.name}-0.{svc.metadata.name}.{svc.metadata.namespace}.svc."
                f"{ctx.state.config.cluster_domain}, …) only once ready: members that must reach "
                "each other before passing their readiness probe cannot resolve each other",
                "if the members discover each other by DNS during bootstrap, set "
                "publishNotReadyAddresses: true on this governing Service (and give clients "
                "another Service); otherwise nothing to do",
            )


__all__ = [
    "EXTERNALNAME_IP",
    "PEER_DNS_WAITS",
    "PROTOCOL_MISMATCH",
    "PUBLISH_NOT_READY",
    "SELECTS_NO_PODS",
    "TARGET_PORT_MISSING",
]
