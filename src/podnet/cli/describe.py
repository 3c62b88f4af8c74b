"""``podnet describe``: kubectl describe's layout for pods, services and nodes, and its generic
form for every other kind.

Lines are written the way kubectl's describers write them — ``"Name:\\t%s"`` at indent levels of
two spaces — and aligned by the same tabwriter (minwidth 0, padding 2), so blocks line up exactly
as they do in kubectl. Events are not recorded by podnet; the ones shown are those a cluster would
have recorded for the state at hand (a Pending pod's ``FailedScheduling`` with the scheduler's
message, a scheduled pod's ``Scheduled``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from podnet.api.core import Container, Node, Pod, Probe, Service
from podnet.api.defaults import default_protocol
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import Resource, parse_time
from podnet.api.networking import (
    Ingress,
    IngressBackend,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
)
from podnet.cli.printers import (
    NONE,
    format_label_selector,
    format_labels,
    list_with_more,
    network_model,
    node_roles,
    since,
)
from podnet.cli.tabwriter import tabulate_text
from podnet.cluster.state import ClusterState

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class _Writer:
    """kubectl's PrefixWriter: ``write(level, text)`` with two spaces per level."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def text(self) -> str:
        return tabulate_text("".join(self.parts), minwidth=0, padding=2)


def _rfc1123z(ts: str | None) -> str:
    t = parse_time(ts)
    if t is None:
        return NONE
    return t.strftime("%a, %d %b %Y %H:%M:%S %z")


def _multiline(w: _Writer, title: str, values: Mapping[str, str] | None, skip: str = "") -> None:
    """printLabelsMultiline / printAnnotationsMultiline."""
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (values or {}) if k != skip)
    if not keys:
        w.write(0, f"{NONE}\n")
        return
    assert values is not None
    for i, k in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = values[k]
        if title == "Annotations" and len(value) > 140:
            value = value[:140] + "..."
        w.write(0, f"{k}={value}\n" if title != "Annotations" else f"{k}: {value}\n")


def _events(w: _Writer, events: Sequence[tuple[str, str, str, str, str]]) -> None:
    if not events:
        w.write(0, f"Events:\t{NONE}\n")
        return
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for etype, reason, age, source, message in events:
        w.write(1, f"{etype}\t{reason}\t{age}\t{source}\t{message.strip()}\n")


def _probe(p: Probe) -> str:
    attrs = (
        f"delay={p.initial_delay_seconds}s timeout={p.timeout_seconds or 1}s "
        f"period={p.period_seconds or 10}s #success={p.success_threshold or 1} "
        f"#failure={p.failure_threshold or 3}"
    )
    if p.exec is not None:
        return f"exec [{' '.join(p.exec.command)}] {attrs}"
    if p.http_get is not None:
        h = p.http_get
        scheme = (h.scheme or "HTTP").lower()
        host = f"[{h.host}]" if ":" in h.host else h.host
        return f"http-get {scheme}://{host}:{h.port}{h.path} {attrs}"
    if p.tcp_socket is not None:
        return f"tcp-socket {p.tcp_socket.host}:{p.tcp_socket.port} {attrs}"
    if p.grpc is not None:
        return f"grpc <pod>:{p.grpc.port} {p.grpc.service or ''} {attrs}"
    return f"unknown {attrs}"


def _restarts(pod: Pod, container: str) -> int:
    """The container's restartCount in status.containerStatuses (the real data plane's prober
    writes it), 0 when there is none."""
    for cs in pod.status.extra.get("containerStatuses") or ():
        if isinstance(cs, Mapping) and cs.get("name") == container:
            n = cs.get("restartCount", 0)
            return n if isinstance(n, int) else 0
    return 0


def _container(w: _Writer, c: Container, pod: Pod) -> None:
    w.write(1, f"{c.name}:\n")
    w.write(2, f"Image:\t{c.image}\n")
    ports = ", ".join(f"{p.container_port}/{default_protocol(p.protocol)}" for p in c.ports)
    host_ports = ", ".join(f"{p.host_port}/{default_protocol(p.protocol)}" for p in c.ports)
    if "," in ports:
        w.write(2, f"Ports:\t{ports}\n")
        w.write(2, f"Host Ports:\t{host_ports}\n")
    else:
        w.write(2, f"Port:\t{ports or NONE}\n")
        w.write(2, f"Host Port:\t{host_ports or NONE}\n")
    for title, items in (("Command", c.command), ("Args", c.args)):
        if items:
            w.write(2, f"{title}:\n")
            for item in items:
                for line in str(item).split("\n"):
                    w.write(3, f"{line}\n")
    if pod.status.phase == "Running":
        w.write(2, "State:\tRunning\n")
        if pod.status.start_time:
            w.write(3, f"Started:\t{_rfc1123z(pod.status.start_time)}\n")
        w.write(2, f"Ready:\t{'True' if pod.ready else 'False'}\n")
        w.write(2, f"Restart Count:\t{_restarts(pod, c.name)}\n")
    for title, probe in (
        ("Liveness", c.liveness_probe),
        ("Readiness", c.readiness_probe),
        ("Startup", c.startup_probe),
    ):
        if probe is not None:
            w.write(2, f"{title}:\t{_probe(probe)}\n")
    env = c.extra.get("env") or ()
    if env:
        w.write(2, "Environment:\n")
        for e in env:
            value = e.get("value", "")
            if "valueFrom" in e:
                value = "<set from valueFrom>"
            w.write(3, f"{e.get('name', '')}:\t{value}\n")
    else:
        w.write(2, f"Environment:\t{NONE}\n")
    mounts = c.extra.get("volumeMounts") or ()
    if mounts:
        w.write(2, "Mounts:\n")
        for m in mounts:
            ro = " (ro)" if m.get("readOnly") else " (rw)"
            w.write(3, f"{m.get('mountPath', '')} from {m.get('name', '')}{ro}\n")
    else:
        w.write(2, f"Mounts:\t{NONE}\n")


def _qos(pod: Pod) -> str:
    requests = limits = 0
    guaranteed = True
    for c in pod.spec.containers:
        res = c.extra.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        requests += len(req)
        limits += len(lim)
        if not lim or any(lim.get(k) != v for k, v in req.items()) or set(lim) < {"cpu", "memory"}:
            guaranteed = False
    if requests == 0 and limits == 0:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def describe_pod(pod: Pod, state: ClusterState, now: dt.datetime) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{pod.name}\n")
    w.write(0, f"Namespace:\t{pod.namespace}\n")
    w.write(0, "Priority:\t0\n")
    sa = pod.spec.extra.get("serviceAccountName") or "default"
    w.write(0, f"Service Account:\t{sa}\n")
    if pod.spec.node_name:
        w.write(0, f"Node:\t{pod.spec.node_name}/{pod.status.host_ip}\n")
    else:
        w.write(0, f"Node:\t{NONE}\n")
    if pod.status.start_time:
        w.write(0, f"Start Time:\t{_rfc1123z(pod.status.start_time)}\n")
    _multiline(w, "Labels", pod.labels)
    _multiline(w, "Annotations", pod.annotations, skip=LAST_APPLIED)
    if pod.metadata.deletion_timestamp is not None:
        w.write(0, f"Status:\tTerminating (lasts {since(pod.metadata.deletion_timestamp, now)})\n")
    else:
        w.write(0, f"Status:\t{pod.status.phase or 'Pending'}\n")
    if pod.status.reason:
        w.write(0, f"Reason:\t{pod.status.reason}\n")
    if pod.status.message:
        w.write(0, f"Message:\t{pod.status.message}\n")
    w.write(0, f"IP:\t{pod.status.pod_ip}\n")
    if pod.ips:
        w.write(0, "IPs:\n")
        for ip in pod.ips:
            w.write(1, f"IP:\t{ip}\n")
    else:
        w.write(0, f"IPs:\t{NONE}\n")
    owner = pod.metadata.controller_ref()
    if owner is not None:
        w.write(0, f"Controlled By:\t{owner.kind}/{owner.name}\n")
    if pod.spec.init_containers:
        w.write(0, "Init Containers:\n")
        for c in pod.spec.init_containers:
            _container(w, c, pod)
    w.write(0, "Containers:\n")
    for c in pod.spec.containers:
        _container(w, c, pod)
    if pod.status.conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for cond in pod.status.conditions:
            w.write(1, f"{cond.type} \t{cond.status} \n")
    w.write(0, f"QoS Class:\t{_qos(pod)}\n")
    _multiline(w, "Node-Selectors", pod.spec.node_selector)
    tolerations = []
    for t in pod.spec.tolerations:
        text = t.key
        if t.value:
            text += f"={t.value}"
        if t.effect:
            text += f":{t.effect}"
        if t.operator == "Exists" and not t.value:
            text += " op=Exists"
        seconds = t.extra.get("tolerationSeconds")
        if seconds is not None:
            text += f" for {seconds}s"
        tolerations.append(text or "op=Exists")
    w.write(0, f"Tolerations:\t{tolerations[0] if tolerations else NONE}\n")
    for t_text in tolerations[1:]:
        w.write(0, f"\t{t_text}\n")
    _events(w, pod_events(pod, now))
    return w.text()


def pod_events(pod: Pod, now: dt.datetime) -> list[tuple[str, str, str, str, str]]:
    """The events a cluster would show for the pod as it stands."""
    age = since(pod.metadata.creation_timestamp, now)
    sched = pod.spec.scheduler_name or "default-scheduler"
    cond = pod.condition("PodScheduled")
    events: list[tuple[str, str, str, str, str]] = []
    if not pod.spec.node_name:
        message = ""
        if cond is not None and cond.status == "False":
            message = cond.message or cond.reason
        message = message or pod.status.message or "0/0 nodes are available."
        events.append(("Warning", "FailedScheduling", age, sched, message))
    else:
        events.append(
            (
                "Normal",
                "Scheduled",
                age,
                sched,
                f"Successfully assigned {pod.namespace}/{pod.name} to {pod.spec.node_name}",
            )
        )
    return events


def _slice_endpoints(slices: Sequence[EndpointSlice], port_name: str) -> str:
    items: list[str] = []
    for s in slices:
        port = next((p.port for p in s.ports if (p.name or "") == port_name), None)
        for e in s.endpoints:
            if not e.ready:
                continue
            for a in e.addresses:
                host = f"[{a}]" if ":" in a else a
                items.append(f"{host}:{port}" if port is not None else a)
    return list_with_more(items, empty=NONE)


def describe_service(svc: Service, state: ClusterState, now: dt.datetime) -> str:
    spec = svc.spec
    w = _Writer()
    w.write(0, f"Name:\t{svc.name}\n")
    w.write(0, f"Namespace:\t{svc.namespace}\n")
    _multiline(w, "Labels", svc.labels)
    _multiline(w, "Annotations", svc.annotations, skip=LAST_APPLIED)
    w.write(0, f"Selector:\t{format_labels(spec.selector) if spec.selector else ''}\n")
    w.write(0, f"Type:\t{spec.type or 'ClusterIP'}\n")
    if spec.ip_family_policy:
        w.write(0, f"IP Family Policy:\t{spec.ip_family_policy}\n")
    w.write(0, f"IP Families:\t{','.join(spec.ip_families) or NONE}\n")
    w.write(0, f"IP:\t{spec.cluster_ip}\n")
    w.write(0, f"IPs:\t{','.join(spec.cluster_ips) or NONE}\n")
    if spec.external_ips:
        w.write(0, f"External IPs:\t{','.join(spec.external_ips)}\n")
    if spec.load_balancer_ip:
        w.write(0, f"IP:\t{spec.load_balancer_ip}\n")
    if spec.load_balancer_class:
        w.write(0, f"LoadBalancer Class:\t{spec.load_balancer_class}\n")
    if svc.status.load_balancer.ingress:
        lb = ", ".join(
            (i.ip or i.hostname) + (f" ({i.ip_mode})" if i.ip_mode else "")
            for i in svc.status.load_balancer.ingress
        )
        w.write(0, f"LoadBalancer Ingress:\t{lb}\n")
    if spec.type == "ExternalName":
        w.write(0, f"External Name:\t{spec.external_name}\n")
    slices = state.endpoint_slices(svc.namespace, svc.name)
    for p in spec.ports:
        name = p.name or "<unset>"
        proto = default_protocol(p.protocol)
        w.write(0, f"Port:\t{name}\t{p.port}/{proto}\n")
        target = p.target_port if p.target_port is not None else p.port
        w.write(0, f"TargetPort:\t{target}/{proto}\n")
        if p.node_port:
            w.write(0, f"NodePort:\t{name}\t{p.node_port}/{proto}\n")
        if spec.type != "ExternalName":
            w.write(0, f"Endpoints:\t{_slice_endpoints(slices, p.name)}\n")
    w.write(0, f"Session Affinity:\t{spec.session_affinity or 'None'}\n")
    if spec.external_traffic_policy:
        w.write(0, f"External Traffic Policy:\t{spec.external_traffic_policy}\n")
    if spec.internal_traffic_policy:
        w.write(0, f"Internal Traffic Policy:\t{spec.internal_traffic_policy}\n")
    if spec.health_check_node_port:
        w.write(0, f"HealthCheck NodePort:\t{spec.health_check_node_port}\n")
    if spec.load_balancer_source_ranges:
        w.write(0, f"LoadBalancer Source Ranges:\t{','.join(spec.load_balancer_source_ranges)}\n")
    _events(w, [])
    return w.text()


def describe_node(node: Node, state: ClusterState, now: dt.datetime) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{node.name}\n")
    w.write(0, f"Roles:\t{node_roles(node)}\n")
    _multiline(w, "Labels", node.labels)
    _multiline(w, "Annotations", node.annotations)
    w.write(0, f"CreationTimestamp:\t{_rfc1123z(node.metadata.creation_timestamp)}\n")
    taints = [
        f"{t.key}{'=' + t.value if t.value else ''}:{t.effect}" for t in node.spec.taints
    ]
    w.write(0, f"Taints:\t{taints[0] if taints else NONE}\n")
    for t in taints[1:]:
        w.write(0, f"\t{t}\n")
    w.write(0, f"Unschedulable:\t{'true' if node.spec.unschedulable else 'false'}\n")
    if node.status.conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\tMessage\n")
        w.write(1, "----\t------\t------\t-------\n")
        for c in node.status.conditions:
            w.write(1, f"{c.type} \t{c.status} \t{c.reason} \t{c.message}\n")
    w.write(0, "Addresses:\n")
    for a in node.status.addresses:
        w.write(1, f"{a.type}:\t{a.address}\n")
    for title, res in (("Capacity", node.status.capacity), ("Allocatable", node.status.allocatable)):
        if res:
            w.write(0, f"{title}:\n")
            for k in sorted(res):
                w.write(1, f"{k}:\t{res[k]}\n")
    info = node.status.extra.get("nodeInfo") or {}
    if info:
        w.write(0, "System Info:\n")
        for key, title in (
            ("machineID", "Machine ID"),
            ("systemUUID", "System UUID"),
            ("bootID", "Boot ID"),
            ("kernelVersion", "Kernel Version"),
            ("osImage", "OS Image"),
            ("operatingSystem", "Operating System"),
            ("architecture", "Architecture"),
            ("containerRuntimeVersion", "Container Runtime Version"),
            ("kubeletVersion", "Kubelet Version"),
            ("kubeProxyVersion", "Kube-Proxy Version"),
        ):
            if key in info:
                w.write(1, f"{title}:\t{info[key]}\n")
    w.write(0, f"PodCIDR:\t{node.spec.pod_cidr or (node.pod_cidrs[0] if node.pod_cidrs else '')}\n")
    w.write(0, f"PodCIDRs:\t{','.join(node.pod_cidrs)}\n")
    plugin = state.config.plugin
    w.write(0, f"Network Plugin:\t{plugin.name} ({plugin.effective_mode}, {network_model(plugin)})\n")
    pods = [p for p in state.pods_on_node(node.name) if p.status.phase not in ("Succeeded", "Failed")]
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    if pods:
        w.write(1, "Namespace\tName\tIP\tAge\n")
        w.write(1, "---------\t----\t--\t---\n")
        for p in pods:
            w.write(
                1,
                f"{p.namespace}\t{p.name}\t{p.status.pod_ip or NONE}\t"
                f"{since(p.metadata.creation_timestamp, now)}\n",
            )
    _events(w, [])
    return w.text()


# ------------------------------------------------------------------------------------ policy


def _go_time(ts: str | None) -> str:
    t = parse_time(ts)
    return t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC") if t is not None else "0001-01-01 00:00:00 +0000 UTC"


def _peers(w: _Writer, peers: Sequence[NetworkPolicyPeer], word: str, indent: str) -> None:
    for peer in peers:
        w.write(0, f"{indent}{word}:\n")
        if peer.pod_selector is not None and peer.namespace_selector is not None:
            w.write(1, f"{indent}NamespaceSelector: {format_label_selector(peer.namespace_selector)}\n")
            w.write(1, f"{indent}PodSelector: {format_label_selector(peer.pod_selector)}\n")
        elif peer.pod_selector is not None:
            w.write(1, f"{indent}PodSelector: {format_label_selector(peer.pod_selector)}\n")
        elif peer.namespace_selector is not None:
            w.write(1, f"{indent}NamespaceSelector: {format_label_selector(peer.namespace_selector)}\n")
        elif peer.ip_block is not None:
            w.write(1, f"{indent}IPBlock:\n")
            w.write(2, f"{indent}CIDR: {peer.ip_block.cidr}\n")
            w.write(2, f"{indent}Except: {', '.join(peer.ip_block.except_)}\n")


def _policy_ports(w: _Writer, ports: Sequence[NetworkPolicyPort], indent: str) -> None:
    if not ports:
        w.write(0, f"{indent}To Port: <any> (traffic allowed to all ports)\n")
        return
    for port in ports:
        number = "<any>" if port.port is None else str(port.port)
        if port.end_port is not None:
            number += f"-{port.end_port}"
        w.write(0, f"{indent}To Port: {number}/{default_protocol(port.protocol)}\n")


def describe_network_policy(np: NetworkPolicy, state: ClusterState, now: dt.datetime) -> str:
    """describeNetworkPolicy."""
    spec = np.spec
    w = _Writer()
    w.write(0, f"Name:\t{np.name}\n")
    w.write(0, f"Namespace:\t{np.namespace}\n")
    w.write(0, f"Created on:\t{_go_time(np.metadata.creation_timestamp)}\n")
    _multiline(w, "Labels", np.labels)
    _multiline(w, "Annotations", np.annotations, skip=LAST_APPLIED)
    w.write(0, "Spec:\n")
    w.write(1, "PodSelector: ")
    if spec.pod_selector.is_empty():
        w.write(2, "<none> (Allowing the specific traffic to all pods in this namespace)\n")
    else:
        w.write(2, f"{format_label_selector(spec.pod_selector)}\n")
    types = spec.policy_types or (("Ingress", "Egress") if spec.egress else ("Ingress",))
    indent = "    "
    if "Ingress" in types:
        w.write(1, "Allowing ingress traffic:\n")
        if not spec.ingress:
            w.write(0, f"{indent}<none> (Selected pods are isolated for ingress connectivity)\n")
        for i, rule in enumerate(spec.ingress):
            _policy_ports(w, rule.ports, indent)
            if not rule.from_:
                w.write(0, f"{indent}From: <any> (traffic not restricted by source)\n")
            _peers(w, rule.from_, "From", indent)
            if i != len(spec.ingress) - 1:
                w.write(0, f"{indent}----------\n")
    else:
        w.write(1, "Not affecting ingress traffic\n")
    if "Egress" in types:
        w.write(1, "Allowing egress traffic:\n")
        if not spec.egress:
            w.write(0, f"{indent}<none> (Selected pods are isolated for egress connectivity)\n")
        for i, erule in enumerate(spec.egress):
            _policy_ports(w, erule.ports, indent)
            if not erule.to:
                w.write(0, f"{indent}To: <any> (traffic not restricted by destination)\n")
            _peers(w, erule.to, "To", indent)
            if i != len(spec.egress) - 1:
                w.write(0, f"{indent}----------\n")
    else:
        w.write(1, "Not affecting egress traffic\n")
    w.write(1, f"Policy Types: {', '.join(types)}\n")
    return w.text()


# ------------------------------------------------------------------------------------ ingress


def _ingress_backend(ing: Ingress, backend: IngressBackend | None, state: ClusterState) -> str:
    if backend is None:
        return "<default>"
    if backend.resource is not None:
        r = backend.resource
        return f"APIGroup: {r.api_group or ''}, Kind: {r.kind}, Name: {r.name}"
    if backend.service is None:
        return NONE
    ref = backend.service
    port = ref.port
    port_text = (port.name or (str(port.number) if port.number else "")) if port is not None else ""
    svc = state.service(ing.namespace, ref.name)
    if svc is None:
        return f'{ref.name}:{port_text} (<error: services "{ref.name}" not found>)'
    port_name = ""
    for sp in svc.spec.ports:
        if port is not None and port.number and port.number == sp.port:
            port_name = sp.name
        elif port is not None and port.name and port.name == sp.name:
            port_name = sp.name
    eps = _slice_endpoints(state.endpoint_slices(svc.namespace, svc.name), port_name)
    return f"{ref.name}:{port_text} ({eps})"


def describe_ingress(ing: Ingress, state: ClusterState, now: dt.datetime) -> str:
    """describeIngressV1."""
    w = _Writer()
    w.write(0, f"Name:\t{ing.name}\n")
    _multiline(w, "Labels", ing.labels)
    w.write(0, f"Namespace:\t{ing.namespace}\n")
    address = ",".join(i.ip or i.hostname for i in ing.status.load_balancer.ingress)
    w.write(0, f"Address:\t{address}\n")
    w.write(0, f"Ingress Class:\t{ing.spec.ingress_class_name or NONE}\n")
    w.write(0, f"Default backend:\t{_ingress_backend(ing, ing.spec.default_backend, state)}\n")
    if ing.spec.tls:
        w.write(0, "TLS:\n")
        for t in ing.spec.tls:
            if t.secret_name:
                w.write(1, f"{t.secret_name} terminates {','.join(t.hosts)}\n")
            else:
                w.write(1, f"SNI routes {','.join(t.hosts)}\n")
    w.write(0, "Rules:\n  Host\tPath\tBackends\n")
    w.write(1, "----\t----\t--------\n")
    count = 0
    for rule in ing.spec.rules:
        if rule.http is None:
            continue
        count += 1
        w.write(1, f"{rule.host or '*'}\t\n")
        for path in rule.http.paths:
            w.write(2, f"\t{path.path} \t{_ingress_backend(ing, path.backend, state)}\n")
    if count == 0:
        w.write(1, f"*\t*\t{_ingress_backend(ing, ing.spec.default_backend, state)}\n")
    _multiline(w, "Annotations", ing.annotations, skip=LAST_APPLIED)
    _events(w, [])
    return w.text()


# ------------------------------------------------------------------------------------ generic

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_ACRONYMS = {"Ip": "IP", "Ips": "IPs", "Cidr": "CIDR", "Cidrs": "CIDRs", "Tls": "TLS", "Uid": "UID",
             "Api": "API", "Dns": "DNS", "Url": "URL", "Http": "HTTP", "Fqdn": "FQDN"}


def smart_label(key: str) -> str:
    """kubectl's smartLabelFor: ``podSelector`` → ``Pod Selector``, ``clusterIP`` → ``Cluster IP``."""
    if "." in key or "/" in key or " " in key:
        return key
    words = _WORD.findall(key) or [key]
    out = []
    for word in words:
        word = word[:1].upper() + word[1:]
        out.append(_ACRONYMS.get(word, word))
    return " ".join(out)


#: Fields whose keys are data (label keys, file names), written as they are.
_VERBATIM = frozenset({
    "Labels", "Annotations", "Match Labels", "Node Selector", "Data", "String Data",
    "Binary Data", "Capacity", "Allocatable", "Limits", "Requests",
})


def _generic_value(w: _Writer, level: int, key: str, value: Any) -> None:
    if isinstance(value, Mapping):
        w.write(level, f"{key}:\n")
        for k, v in value.items():
            label = str(k) if key in _VERBATIM else smart_label(str(k))
            _generic_value(w, level + 1, label, v)
    elif isinstance(value, (list, tuple)):
        w.write(level, f"{key}:\n")
        for item in value:
            if isinstance(item, Mapping):
                first = True
                for k, v in item.items():
                    if isinstance(v, (Mapping, list, tuple)):
                        _generic_value(w, level + 1, smart_label(str(k)), v)
                    else:
                        w.write(level + 1, f"{smart_label(str(k))}:\t{_scalar(v)}\n")
                    first = False
                if first:
                    w.write(level + 1, "{}\n")
            else:
                w.write(level + 1, f"{_scalar(item)}\n")
    else:
        w.write(level, f"{key}:\t{_scalar(value)}\n")


def _scalar(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return ""
    return str(v)


def describe_generic(obj: Resource, state: ClusterState, now: dt.datetime) -> str:
    """printUnstructuredContent: every field, camelCase keys written as words."""
    data = obj.to_dict()
    w = _Writer()
    w.write(0, f"Name:\t{obj.name}\n")
    if obj.namespaced:
        w.write(0, f"Namespace:\t{obj.namespace}\n")
    _multiline(w, "Labels", obj.labels)
    _multiline(w, "Annotations", obj.annotations, skip=LAST_APPLIED)
    extra_meta = {
        k: v
        for k, v in (data.get("metadata") or {}).items()
        if k not in ("name", "namespace", "labels", "annotations")
    }
    w.write(0, f"API Version:\t{obj.api_version}\n")
    w.write(0, f"Kind:\t{obj.kind}\n")
    if extra_meta:
        _generic_value(w, 0, "Metadata", extra_meta)
    for key, value in data.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        _generic_value(w, 0, smart_label(key), value)
    _events(w, [])
    return w.text()


def describe_endpoints(ep: Mapping[str, Any]) -> str:
    """describeEndpoints, for the Endpoints podnet shows from the EndpointSlices."""
    meta = ep.get("metadata") or {}
    w = _Writer()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _multiline(w, "Labels", meta.get("labels"))
    _multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, "Subsets:\n")
    for subset in ep.get("subsets") or []:
        ready = ",".join(a["ip"] for a in subset.get("addresses") or []) or NONE
        not_ready = ",".join(a["ip"] for a in subset.get("notReadyAddresses") or []) or NONE
        w.write(1, f"Addresses:\t{ready}\n")
        w.write(1, f"NotReadyAddresses:\t{not_ready}\n")
        ports = subset.get("ports") or []
        if ports:
            w.write(1, "Ports:\n")
            w.write(2, "Name\tPort\tProtocol\n")
            w.write(2, "----\t----\t--------\n")
            for port in ports:
                w.write(2, f"{port.get('name') or '<unset>'}\t{port['port']}\t{port['protocol']}\n")
        w.write(0, "\n")
    _events(w, [])
    return w.text()


def describe(obj: Resource, state: ClusterState, now: dt.datetime) -> str:
    if isinstance(obj, NetworkPolicy):
        return describe_network_policy(obj, state, now)
    if isinstance(obj, Ingress):
        return describe_ingress(obj, state, now)
    if isinstance(obj, Pod):
        return describe_pod(obj, state, now)
    if isinstance(obj, Service):
        return describe_service(obj, state, now)
    if isinstance(obj, Node):
        return describe_node(obj, state, now)
    return describe_generic(obj, state, now)

