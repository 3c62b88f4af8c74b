"""kubectl's output: the tables of ``get`` (default and ``-o wide``), ``-o json|yaml|name``.

Each table's columns and cell formats are kubectl's own (pkg/printers/internalversion), so that
what a user reads here reads the same against a real cluster: ``80:30080/TCP``, ``<none>``,
``<pending>``, ``1/1``, AGE as ``5m12s``. The few extra columns are podnet's: a node's pod CIDR,
network plugin and network model in ``-o wide``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.api.core import (
    ConfigMap,
    Container,
    Namespace,
    Node,
    Pod,
    PodTemplateSpec,
    ReplicationController,
    Secret,
    Service,
    ServicePort,
)
from podnet.api.defaults import default_protocol
from podnet.api.discovery import EndpointSlice
from podnet.api.loader import dump_yaml
from podnet.api.meta import Resource, parse_time
from podnet.api.networking import Ingress, IngressClass, NetworkPolicy
from podnet.api.selectors import LabelSelector
from podnet.api.workloads import CronJob, DaemonSet, Deployment, Job, ReplicaSet, StatefulSet
from podnet.cli.kinds import ENDPOINTS, ResourceType
from podnet.cli.tabwriter import table
from podnet.cluster.config import PLUGIN_MODELS, PluginConfig
from podnet.cluster.probes import restart_count
from podnet.cluster.state import ClusterState

NONE = "<none>"
UNKNOWN = "<unknown>"
OUTPUT_FORMATS = ("json", "name", "wide", "yaml")


class OutputError(ValueError):
    pass


def check_output(output: str | None) -> str:
    fmt = (output or "").strip()
    if fmt and fmt not in OUTPUT_FORMATS:
        raise OutputError(
            f'error: unable to match a printer suitable for the output format "{fmt}", '
            f"allowed formats are: {','.join(OUTPUT_FORMATS)}"
        )
    return fmt


def network_model(plugin: PluginConfig) -> str:
    """overlay, underlay or host-based, from the plugin and its mode."""
    if plugin.name == "host":
        return "host-based"
    return PLUGIN_MODELS.get((plugin.name, plugin.effective_mode), UNKNOWN)


# ------------------------------------------------------------------------------------ time


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(ts: str | None, now: dt.datetime) -> str:
    t = parse_time(ts)
    if t is None:
        return UNKNOWN
    return human_duration((now - t).total_seconds())


# ------------------------------------------------------------------------------------ formats


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: ``a=b,c=d`` sorted by key, ``<none>`` when empty."""
    if not labels:
        return NONE
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_label_selector(sel: LabelSelector | None) -> str:
    """metav1.FormatLabelSelector."""
    if sel is None:
        return NONE
    parts: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in sel.match_labels.items()]
    for e in sel.match_expressions:
        values = ",".join(sorted(e.values))
        if e.operator == "In":
            parts.append((e.key, f"{e.key} in ({values})"))
        elif e.operator == "NotIn":
            parts.append((e.key, f"{e.key} notin ({values})"))
        elif e.operator == "Exists":
            parts.append((e.key, e.key))
        elif e.operator == "DoesNotExist":
            parts.append((e.key, f"!{e.key}"))
        else:
            parts.append((e.key, f"{e.key} {e.operator} ({values})"))
    parts.sort(key=lambda p: p[0])
    text = ",".join(p[1] for p in parts)
    return text or NONE


def list_with_more(items: Sequence[str], limit: int = 3, empty: str = "<unset>") -> str:
    shown = ",".join(items[:limit])
    if len(items) > limit:
        return f"{shown} + {len(items) - limit} more..."
    return shown or empty


def service_ports(ports: Sequence[ServicePort]) -> str:
    """makePortString: ``80/TCP``, ``80:30080/TCP``."""
    pieces = []
    for p in ports:
        proto = default_protocol(p.protocol)
        if p.node_port:
            pieces.append(f"{p.port}:{p.node_port}/{proto}")
        else:
            pieces.append(f"{p.port}/{proto}")
    return ",".join(pieces) or NONE


def _lb_ingress(ingress: Iterable[Any], wide: bool) -> str:
    out = []
    for i in ingress:
        if i.ip:
            out.append(i.ip)
        elif i.hostname:
            out.append(i.hostname)
    text = ",".join(out)
    if not wide and len(text) > 16:
        return text[:13] + "..."
    return text


def service_external_ip(svc: Service, wide: bool) -> str:
    """getServiceExternalIP."""
    spec = svc.spec
    t = spec.type or "ClusterIP"
    if t in ("ClusterIP", "NodePort"):
        return ",".join(spec.external_ips) if spec.external_ips else NONE
    if t == "LoadBalancer":
        lb = _lb_ingress(svc.status.load_balancer.ingress, wide)
        if spec.external_ips:
            return ",".join([*(lb.split(",") if lb else []), *spec.external_ips])
        return lb or "<pending>"
    if t == "ExternalName":
        return spec.external_name
    return UNKNOWN


def service_cluster_ip(svc: Service) -> str:
    if svc.spec.cluster_ips:
        return svc.spec.cluster_ips[0]
    return svc.spec.cluster_ip or NONE


def _containers(template: PodTemplateSpec | None) -> tuple[Container, ...]:
    return template.spec.containers if template is not None else ()


def _names_images(template: PodTemplateSpec | None) -> list[str]:
    cs = _containers(template)
    return [",".join(c.name for c in cs), ",".join(c.image for c in cs)]


def pod_status(pod: Pod) -> str:
    if pod.metadata.deletion_timestamp is not None:
        return "Terminating"
    phase = pod.status.phase or "Pending"
    if pod.status.reason:
        return pod.status.reason
    if phase == "Succeeded":
        return "Completed"
    return phase


def pod_ready(pod: Pod) -> str:
    total = len(pod.spec.containers) + sum(
        1 for c in pod.spec.init_containers if c.restart_policy == "Always"
    )
    ready = total if pod.ready else 0
    return f"{ready}/{total}"


def node_roles(node: Node) -> str:
    roles = sorted(
        k.partition("/")[2] or k
        for k in node.labels
        if k.startswith("node-role.kubernetes.io/") and k.partition("/")[2]
    )
    kind_role = node.labels.get("kubernetes.io/role")
    if kind_role and kind_role not in roles:
        roles.append(kind_role)
    return ",".join(roles) or NONE


def node_status(node: Node) -> str:
    ready: str | None = None
    for c in node.status.conditions:
        if c.type == "Ready":
            ready = "Ready" if c.status == "True" else "NotReady"
    status = [ready or UNKNOWN]
    if node.spec.unschedulable:
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_info(node: Node, key: str) -> str:
    info = node.status.extra.get("nodeInfo") or {}
    value = info.get(key) if isinstance(info, Mapping) else None
    return str(value) if value else ""


def format_endpoints(ep: Mapping[str, Any]) -> str:
    """formatEndpoints: ready ``ip:port`` pairs, at most three, then ``+ N more...``."""
    items: list[str] = []
    for subset in ep.get("subsets") or []:
        ports = subset.get("ports") or [None]
        for port in ports:
            for addr in subset.get("addresses") or []:
                items.append(f"{addr['ip']}:{port['port']}" if port else str(addr["ip"]))
    return list_with_more(items, empty=NONE)


# ------------------------------------------------------------------------------------ tables


@dataclass(slots=True)
class Owners:
    """Objects by their controller, for the counts of workload tables."""

    children: dict[tuple[str, str, str], list[Resource]] = field(default_factory=dict)

    @staticmethod
    def of(state: ClusterState) -> Owners:
        children: dict[tuple[str, str, str], list[Resource]] = defaultdict(list)
        for obj in state.objects.values():
            ref = obj.metadata.controller_ref()
            if ref is not None:
                children[(obj.namespace, ref.kind, ref.name)].append(obj)
        return Owners(dict(children))

    def owned(self, owner: Resource, kind: str | None = None) -> list[Resource]:
        kids = self.children.get((owner.namespace, owner.kind, owner.name), [])
        return [k for k in kids if kind is None or k.kind == kind]

    def pods(self, owner: Resource) -> list[Pod]:
        pods: list[Pod] = []
        for child in self.owned(owner):
            if isinstance(child, Pod):
                pods.append(child)
            elif child.kind in ("ReplicaSet", "Job"):
                pods.extend(self.pods(child))
        return pods


RowFn = Callable[[Any, "Printer"], list[str]]


@dataclass(frozen=True, slots=True)
class Columns:
    headers: tuple[str, ...]
    row: RowFn
    wide_headers: tuple[str, ...] = ()
    wide_row: RowFn | None = None


def _ready_count(pods: Iterable[Pod]) -> int:
    return sum(1 for p in pods if p.ready)


def _pod_row(p: Pod, pr: Printer) -> list[str]:
    return [pod_ready(p), pod_status(p), str(restart_count(p)), pr.age(p)]


def _pod_wide(p: Pod, pr: Printer) -> list[str]:
    return [p.status.pod_ip or NONE, p.spec.node_name or NONE, NONE, NONE]


def _svc_row(s: Service, pr: Printer) -> list[str]:
    return [
        s.spec.type or "ClusterIP",
        service_cluster_ip(s),
        service_external_ip(s, pr.wide),
        service_ports(s.spec.ports),
        pr.age(s),
    ]


def _svc_wide(s: Service, pr: Printer) -> list[str]:
    return [format_labels(s.spec.selector)]


def _slice_row(s: EndpointSlice, pr: Printer) -> list[str]:
    ports = []
    for p in s.ports:
        ports.append(str(p.port) if p.port is not None else (p.name or "*"))
    addresses = [a for e in s.endpoints for a in e.addresses]
    return [s.address_type, list_with_more(ports), list_with_more(addresses), pr.age(s)]


def _node_row(n: Node, pr: Printer) -> list[str]:
    return [node_status(n), node_roles(n), pr.age(n), node_info(n, "kubeletVersion") or UNKNOWN]


def _node_wide(n: Node, pr: Printer) -> list[str]:
    ext = [a.address for a in n.status.addresses if a.type == "ExternalIP"]
    plugin = pr.state.config.plugin
    return [
        ",".join(n.internal_ips) or NONE,
        ",".join(ext) or NONE,
        node_info(n, "osImage") or UNKNOWN,
        node_info(n, "kernelVersion") or UNKNOWN,
        node_info(n, "containerRuntimeVersion") or UNKNOWN,
        ",".join(n.pod_cidrs) or NONE,
        f"{plugin.name}:{plugin.effective_mode}",
        network_model(plugin),
    ]


def _deploy_row(d: Deployment, pr: Printer) -> list[str]:
    desired = d.spec.replicas if d.spec.replicas is not None else 1
    pods = pr.owners.pods(d)
    ready = _ready_count(pods)
    return [f"{ready}/{desired}", str(len(pods)), str(ready), pr.age(d)]


def _workload_wide(obj: Any, pr: Printer) -> list[str]:
    return [*_names_images(obj.spec.template), format_label_selector(obj.spec.selector)]


def _rs_row(rs: ReplicaSet, pr: Printer) -> list[str]:
    desired = rs.spec.replicas if rs.spec.replicas is not None else 1
    pods = pr.owners.pods(rs)
    return [str(desired), str(len(pods)), str(_ready_count(pods)), pr.age(rs)]


def _rc_row(rc: ReplicationController, pr: Printer) -> list[str]:
    desired = rc.spec.replicas if rc.spec.replicas is not None else 1
    pods = pr.owners.pods(rc)
    return [str(desired), str(len(pods)), str(_ready_count(pods)), pr.age(rc)]


def _rc_wide(rc: ReplicationController, pr: Printer) -> list[str]:
    return [*_names_images(rc.spec.template), format_labels(rc.spec.selector)]


def _sts_row(s: StatefulSet, pr: Printer) -> list[str]:
    desired = s.spec.replicas if s.spec.replicas is not None else 1
    return [f"{_ready_count(pr.owners.pods(s))}/{desired}", pr.age(s)]


def _sts_wide(s: StatefulSet, pr: Printer) -> list[str]:
    return _names_images(s.spec.template)


def _ds_row(d: DaemonSet, pr: Printer) -> list[str]:
    pods = pr.owners.pods(d)
    n, ready = str(len(pods)), str(_ready_count(pods))
    selector = format_labels(d.spec.template.spec.node_selector)
    return [n, n, ready, n, ready, selector, pr.age(d)]


def _job_row(j: Job, pr: Printer) -> list[str]:
    pods = pr.owners.pods(j)
    succeeded = sum(1 for p in pods if p.status.phase == "Succeeded")
    failed = sum(1 for p in pods if p.status.phase == "Failed")
    if j.spec.completions is not None:
        completions = f"{succeeded}/{j.spec.completions}"
        done = succeeded >= j.spec.completions
    else:
        parallelism = j.spec.parallelism if j.spec.parallelism is not None else 1
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
        done = succeeded >= 1
    if j.spec.suspend:
        status = "Suspended"
    elif done:
        status = "Complete"
    elif failed and j.spec.backoff_limit is not None and failed > j.spec.backoff_limit:
        status = "Failed"
    else:
        status = "Running"
    return [status, completions, pr.age(j), pr.age(j)]


def _job_wide(j: Job, pr: Printer) -> list[str]:
    return [*_names_images(j.spec.template), format_label_selector(j.spec.selector)]


def _cj_row(c: CronJob, pr: Printer) -> list[str]:
    active = sum(1 for j in pr.owners.owned(c, "Job") if isinstance(j, Job))
    return [
        c.spec.schedule,
        c.spec.time_zone or NONE,
        "True" if c.spec.suspend else "False",
        str(active),
        NONE,
        pr.age(c),
    ]


def _cj_wide(c: CronJob, pr: Printer) -> list[str]:
    spec = c.spec.job_template.spec
    return [*_names_images(spec.template), format_label_selector(spec.selector)]


def format_ingress_hosts(rules: Sequence[Any]) -> str:
    """kubectl's formatHosts: the first three hosts; once three are listed, every further rule
    (host or not) counts in ``+ N more...`` as ``len(rules) - 3``."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.host:
            hosts.append(rule.host)
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ing_row(i: Ingress, pr: Printer) -> list[str]:
    return [
        i.spec.ingress_class_name or NONE,
        format_ingress_hosts(i.spec.rules),
        _lb_ingress(i.status.load_balancer.ingress, pr.wide),
        "80, 443" if i.spec.tls else "80",
        pr.age(i),
    ]


def _ic_row(c: IngressClass, pr: Printer) -> list[str]:
    params = NONE
    p = c.spec.parameters
    if p:
        params = str(p.get("kind", ""))
        if p.get("apiGroup"):
            params += f".{p['apiGroup']}"
        params += f"/{p.get('name', '')}"
    return [c.spec.controller, params, pr.age(c)]


def _netpol_row(n: NetworkPolicy, pr: Printer) -> list[str]:
    return [format_label_selector(n.spec.pod_selector), pr.age(n)]


def _ns_row(n: Namespace, pr: Printer) -> list[str]:
    phase = n.status.phase if n.status is not None and n.status.phase else "Active"
    return [phase, pr.age(n)]


def _secret_row(s: Secret, pr: Printer) -> list[str]:
    keys = set(s.data) | set(s.string_data)
    return [s.type or "Opaque", str(len(keys)), pr.age(s)]


def _cm_row(c: ConfigMap, pr: Printer) -> list[str]:
    return [str(len(c.data) + len(c.binary_data)), pr.age(c)]


def _ep_row(ep: dict[str, Any], pr: Printer) -> list[str]:
    return [format_endpoints(ep), since(ep["metadata"].get("creationTimestamp"), pr.now)]


def _generic_row(obj: Resource, pr: Printer) -> list[str]:
    return [pr.age(obj)]


_WORKLOAD_WIDE = ("CONTAINERS", "IMAGES", "SELECTOR")

COLUMNS: dict[str, Columns] = {
    "Pod": Columns(
        ("READY", "STATUS", "RESTARTS", "AGE"),
        _pod_row,
        ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"),
        _pod_wide,
    ),
    "Service": Columns(
        ("TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"), _svc_row, ("SELECTOR",), _svc_wide
    ),
    "EndpointSlice": Columns(("ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"), _slice_row),
    "Endpoints": Columns(("ENDPOINTS", "AGE"), _ep_row),
    "Node": Columns(
        ("STATUS", "ROLES", "AGE", "VERSION"),
        _node_row,
        (
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
            "POD-CIDR",
            "PLUGIN",
            "MODEL",
        ),
        _node_wide,
    ),
    "Deployment": Columns(
        ("READY", "UP-TO-DATE", "AVAILABLE", "AGE"), _deploy_row, _WORKLOAD_WIDE, _workload_wide
    ),
    "ReplicaSet": Columns(
        ("DESIRED", "CURRENT", "READY", "AGE"), _rs_row, _WORKLOAD_WIDE, _workload_wide
    ),
    "ReplicationController": Columns(
        ("DESIRED", "CURRENT", "READY", "AGE"), _rc_row, _WORKLOAD_WIDE, _rc_wide
    ),
    "StatefulSet": Columns(("READY", "AGE"), _sts_row, ("CONTAINERS", "IMAGES"), _sts_wide),
    "DaemonSet": Columns(
        ("DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"),
        _ds_row,
        _WORKLOAD_WIDE,
        _workload_wide,
    ),
    "Job": Columns(("STATUS", "COMPLETIONS", "DURATION", "AGE"), _job_row, _WORKLOAD_WIDE, _job_wide),
    "CronJob": Columns(
        ("SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"),
        _cj_row,
        _WORKLOAD_WIDE,
        _cj_wide,
    ),
    "Ingress": Columns(("CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"), _ing_row),
    "IngressClass": Columns(("CONTROLLER", "PARAMETERS", "AGE"), _ic_row),
    "NetworkPolicy": Columns(("POD-SELECTOR", "AGE"), _netpol_row),
    "Namespace": Columns(("STATUS", "AGE"), _ns_row),
    "Secret": Columns(("TYPE", "DATA", "AGE"), _secret_row),
    "ConfigMap": Columns(("DATA", "AGE"), _cm_row),
}
GENERIC = Columns(("AGE",), _generic_row)
#: The classes each table's row function expects (an opaque object of the same kind name from
#: another API group falls back to the generic table).
_TYPED: dict[str, type[Resource]] = {
    "Pod": Pod,
    "Service": Service,
    "EndpointSlice": EndpointSlice,
    "Node": Node,
    "Deployment": Deployment,
    "ReplicaSet": ReplicaSet,
    "ReplicationController": ReplicationController,
    "StatefulSet": StatefulSet,
    "DaemonSet": DaemonSet,
    "Job": Job,
    "CronJob": CronJob,
    "Ingress": Ingress,
    "IngressClass": IngressClass,
    "NetworkPolicy": NetworkPolicy,
    "Namespace": Namespace,
    "Secret": Secret,
    "ConfigMap": ConfigMap,
}


Item = Resource | dict[str, Any]


def item_meta(item: Item) -> tuple[str, str, Mapping[str, str]]:
    """(namespace, name, labels) of an object or of a synthesized Endpoints dict."""
    if isinstance(item, Resource):
        return item.namespace, item.name, item.labels
    meta = item.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", "")), meta.get("labels") or {}


def item_dict(item: Item) -> dict[str, Any]:
    return item.to_dict() if isinstance(item, Resource) else item


@dataclass(slots=True)
class Printer:
    """Renders lists of one type as kubectl tables."""

    state: ClusterState
    now: dt.datetime
    wide: bool = False
    all_namespaces: bool = False
    show_labels: bool = False
    no_headers: bool = False
    _owners: list[Owners] = field(default_factory=list)

    @property
    def owners(self) -> Owners:
        if not self._owners:
            self._owners.append(Owners.of(self.state))
        return self._owners[0]

    def age(self, obj: Resource) -> str:
        return since(obj.metadata.creation_timestamp, self.now)

    def columns_for(self, rtype: ResourceType, items: Sequence[Item]) -> Columns:
        cols = COLUMNS.get(rtype.kind)
        if cols is None:
            return GENERIC
        cls = _TYPED.get(rtype.kind)
        if cls is not None and not all(isinstance(i, cls) for i in items):
            return GENERIC
        return cols

    def table(self, rtype: ResourceType, items: Sequence[Item], prefix: bool = False) -> str:
        cols = self.columns_for(rtype, items)
        headers: list[str] = []
        namespaced = rtype.namespaced and self.all_namespaces
        if namespaced:
            headers.append("NAMESPACE")
        headers.append("NAME")
        headers.extend(cols.headers)
        if self.wide and cols.wide_row is not None:
            headers.extend(cols.wide_headers)
        if self.show_labels:
            headers.append("LABELS")
        rows: list[list[str]] = [] if self.no_headers else [headers]
        for item in items:
            ns, name, labels = item_meta(item)
            row: list[str] = [ns] if namespaced else []
            row.append(f"{rtype.qualified_singular}/{name}" if prefix else name)
            row.extend(cols.row(item, self))
            if self.wide and cols.wide_row is not None:
                row.extend(cols.wide_row(item, self))
            if self.show_labels:
                row.append(format_labels(labels))
            rows.append(row)
        return table(rows)


# ------------------------------------------------------------------------------------ documents


def name_of(rtype: ResourceType, item: Item) -> str:
    """``-o name``: ``deployment.apps/web``."""
    return f"{rtype.qualified_singular}/{item_meta(item)[1]}"


def as_list(items: Iterable[Item]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "items": [item_dict(i) for i in items],
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=4, ensure_ascii=False) + "\n"


def to_yaml(doc: Any) -> str:
    return dump_yaml(doc)


