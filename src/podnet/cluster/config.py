"""The cluster config: a kind-like ``podnet.io/v1alpha1 Cluster`` document.

It says what a real cluster's installer would have decided: the node list, the pod and service
networks, the cluster domain, the NodePort range, the LoadBalancer pool, the network plugin and
which system objects exist. Parsing reports errors in the API server's style, naming the field.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from podnet.api.frozen import EMPTY, FrozenDict, freeze

API_VERSION = "podnet.io/v1alpha1"
KIND = "Cluster"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PLUGINS = ("flannel", "calico", "cilium", "host")
PLUGIN_MODES: dict[str, tuple[str, ...]] = {
    "flannel": ("vxlan", "host-gw"),
    "calico": ("ipip", "vxlan", "bgp"),
    "cilium": ("vxlan", "geneve", "native"),
    "host": ("routed",),
}
#: The network model of each plugin and mode, in the seed's words: overlay (pod traffic
#: encapsulated between nodes), underlay (the network carries pod routes), host-based (pods take
#: addresses from the node's own subnet).
PLUGIN_MODELS: dict[tuple[str, str], str] = {
    ("flannel", "vxlan"): "overlay",
    ("flannel", "host-gw"): "underlay",
    ("calico", "ipip"): "overlay",
    ("calico", "vxlan"): "overlay",
    ("calico", "bgp"): "underlay",
    ("cilium", "vxlan"): "overlay",
    ("cilium", "geneve"): "overlay",
    ("cilium", "native"): "underlay",
    ("host", "routed"): "host-based",
}
#: The pod network each plugin uses when the config does not give one.
PLUGIN_POD_SUBNETS = {
    "flannel": "10.244.0.0/16",
    "calico": "192.168.0.0/16",
    "cilium": "10.0.0.0/8",
    "host": "172.18.0.0/16",
}
#: The options each plugin takes besides name, mode and mtu (``plugin: {name: calico,
#: crossSubnet: true}``), with their type and default. The names are the real plugin's own:
#: flannel's net-conf.json Backend keys (``VNI``, ``Port``, ``DirectRouting``), Calico's IPPool
#: (``ipipMode/vxlanMode: CrossSubnet``, ``natOutgoing``, ``blockSize``) and BGPConfiguration
#: (``asNumber``), Cilium's Helm values (``kubeProxyReplacement``, ``autoDirectNodeRoutes``).
PLUGIN_OPTIONS: dict[str, dict[str, tuple[type, Any]]] = {
    "flannel": {"vni": (int, 1), "port": (int, 8472), "directRouting": (bool, False)},
    "calico": {
        "crossSubnet": (bool, False),
        "natOutgoing": (bool, True),
        "asNumber": (int, 64512),
        "blockSize": (int, 26),
    },
    "cilium": {"kubeProxyReplacement": (bool, False), "autoDirectNodeRoutes": (bool, True)},
    "host": {},
}
_OPTION_RANGES: dict[str, tuple[int, int]] = {
    "vni": (1, 16777215),
    "port": (1, 65535),
    "asNumber": (1, 4294967295),
    "blockSize": (20, 32),
}
DEFAULT_SERVICE_SUBNET = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
DEFAULT_LB_POOL = ("172.18.255.200-172.18.255.250",)
#: kind's docker network: nodes get .2, .3, … in it.
DEFAULT_UNDERLAY = "172.18.0.0/16"


class ConfigError(ValueError):
    """Invalid cluster config; ``errors`` are API-server-style field messages."""

    def __init__(self, name: str, errors: Sequence[str]) -> None:
        self.name = name
        self.errors = tuple(errors)
        body = self.errors[0] if len(self.errors) == 1 else "[" + ", ".join(self.errors) + "]"
        super().__init__(f'The Cluster "{name}" is invalid: {body}')


@dataclass(frozen=True, slots=True)
class NodeConfig:
    name: str
    role: str = "worker"  # control-plane | worker
    labels: FrozenDict[str, str] = EMPTY
    internal_ip: str = ""
    pod_cidrs: tuple[str, ...] = ()
    subnet: str = ""
    mtu: int = 1500


@dataclass(frozen=True, slots=True)
class PluginConfig:
    name: str = "flannel"
    mode: str = ""
    mtu: int | None = None
    options: FrozenDict[str, Any] = EMPTY

    @property
    def effective_mode(self) -> str:
        return self.mode or PLUGIN_MODES[self.name][0]

    def option(self, key: str) -> Any:
        """A plugin option (:data:`PLUGIN_OPTIONS`), its default when the config does not set it."""
        if key in self.options:
            return self.options[key]
        spec = PLUGIN_OPTIONS.get(self.name, {}).get(key)
        if spec is None:
            raise KeyError(f"{self.name} has no option {key!r}")
        return spec[1]


@dataclass(frozen=True, slots=True)
class KubeletConfig:
    cluster_dns: tuple[str, ...] = ()
    resolv_conf: str = "/etc/resolv.conf"


@dataclass(frozen=True, slots=True)
class Addons:
    ingress_controller: bool = True
    dns: bool = True


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str = "default"
    pod_subnets: tuple[str, ...] = ()
    service_subnets: tuple[str, ...] = (DEFAULT_SERVICE_SUBNET,)
    cluster_domain: str = "cluster.local"
    node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE
    load_balancer_pool: tuple[str, ...] = DEFAULT_LB_POOL
    kube_proxy_mode: str = "nftables"
    plugin: PluginConfig = PluginConfig()
    nodes: tuple[NodeConfig, ...] = ()
    system_objects: bool = True
    addons: Addons = Addons()
    kubelet: KubeletConfig = KubeletConfig()
    outside: FrozenDict[str, Any] = EMPTY
    #: The document as given, for writing the config back.
    raw: FrozenDict[str, Any] = field(default=EMPTY, compare=False, repr=False)

    @property
    def effective_pod_subnets(self) -> tuple[str, ...]:
        return self.pod_subnets or (PLUGIN_POD_SUBNETS[self.plugin.name],)

    def pod_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(c) for c in self.effective_pod_subnets)

    def service_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(c) for c in self.service_subnets)

    def with_plugin(self, spec: str) -> ClusterConfig:
        """Apply ``--plugin NAME[:MODE]``; raises ConfigError when unknown."""
        name, _, mode = spec.partition(":")
        errors = _check_plugin(name, mode, "plugin")
        if errors:
            raise ConfigError(self.name, errors)
        return replace(self, plugin=replace(self.plugin, name=name, mode=mode))

    def with_node_count(self, n: int) -> ClusterConfig:
        """``--nodes N``: one control-plane and N-1 workers, kind's names."""
        if n < 1:
            raise ConfigError(self.name, [f"nodes: Invalid value: {n}: must be at least 1"])
        return replace(self, nodes=default_nodes(n))

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "networking": {
                "podSubnet": ",".join(self.effective_pod_subnets),
                "serviceSubnet": ",".join(self.service_subnets),
                "clusterDomain": self.cluster_domain,
                "nodePortRange": f"{self.node_port_range[0]}-{self.node_port_range[1]}",
                "loadBalancerPool": list(self.load_balancer_pool),
                "kubeProxyMode": self.kube_proxy_mode,
            },
            "plugin": {
                "name": self.plugin.name,
                "mode": self.plugin.effective_mode,
                **({"mtu": self.plugin.mtu} if self.plugin.mtu else {}),
                **dict(self.plugin.options),
            },
            "nodes": [
                {
                    "name": n.name,
                    "role": n.role,
                    **({"labels": dict(n.labels)} if n.labels else {}),
                    **({"internalIP": n.internal_ip} if n.internal_ip else {}),
                    **({"podCIDR": ",".join(n.pod_cidrs)} if n.pod_cidrs else {}),
                    **({"subnet": n.subnet} if n.subnet else {}),
                    **({"mtu": n.mtu} if n.mtu != 1500 else {}),
                }
                for n in self.nodes
            ],
            "systemObjects": self.system_objects,
            "addons": {"ingressController": self.addons.ingress_controller, "dns": self.addons.dns},
            "kubelet": {
                **({"clusterDNS": list(self.kubelet.cluster_dns)} if self.kubelet.cluster_dns else {}),
                "resolvConf": self.kubelet.resolv_conf,
            },
            **({"outside": dict(self.outside)} if self.outside else {}),
        }


def default_nodes(n: int = 3) -> tuple[NodeConfig, ...]:
    """kind's layout: ``control-plane``, ``worker``, ``worker2``, …"""
    nodes = [NodeConfig(name="control-plane", role="control-plane")]
    for i in range(1, n):
        nodes.append(NodeConfig(name="worker" if i == 1 else f"worker{i}", role="worker"))
    return tuple(nodes)


DEFAULT = ClusterConfig(nodes=default_nodes())


def _check_plugin(name: str, mode: str, path: str) -> list[str]:
    if name not in PLUGINS:
        supported = ", ".join(f'"{p}"' for p in PLUGINS)
        return [f'{path}.name: Unsupported value: "{name}": supported values: {supported}']
    if mode and mode not in PLUGIN_MODES[name]:
        supported = ", ".join(f'"{m}"' for m in PLUGIN_MODES[name])
        return [f'{path}.mode: Unsupported value: "{mode}": supported values: {supported}']
    return []


def _check_plugin_options(name: str, options: Mapping[str, Any]) -> list[str]:
    known = PLUGIN_OPTIONS.get(name)
    if known is None:
        return []
    errors: list[str] = []
    for key, value in options.items():
        spec = known.get(key)
        if spec is None:
            supported = ", ".join(f'"{k}"' for k in known) or "none"
            errors.append(f'plugin.{key}: Invalid value: "{key}": unknown field for plugin {name} '
                          f"(supported: {supported})")
            continue
        kind = spec[0]
        if kind is bool and not isinstance(value, bool):
            errors.append(f"plugin.{key}: Invalid value: {value!r}: must be true or false")
        elif kind is int:
            lo, hi = _OPTION_RANGES.get(key, (0, 2**32))
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                errors.append(f"plugin.{key}: Invalid value: {value!r}: must be between {lo} and {hi}, inclusive")
    return errors


def _cidr_list(value: Any, path: str, errors: list[str]) -> tuple[str, ...]:
    items: list[Any]
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list):
        items = value
    else:
        errors.append(f"{path}: Invalid value: {value!r}: must be a CIDR or a list of CIDRs")
        return ()
    out = []
    for v in items:
        try:
            out.append(str(ipaddress.ip_network(str(v), strict=True)))
        except ValueError:
            errors.append(f'{path}: Invalid value: "{v}": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')
    families = [ipaddress.ip_network(c).version for c in out]
    if len(families) != len(set(families)):
        errors.append(f"{path}: Invalid value: {','.join(out)}: may specify no more than one CIDR for each IP family")
    return tuple(out)


def _port_range(value: Any, path: str, errors: list[str]) -> tuple[int, int]:
    text = str(value)
    lo_s, sep, hi_s = text.partition("-")
    try:
        lo, hi = int(lo_s), int(hi_s if sep else lo_s)
    except ValueError:
        errors.append(f'{path}: Invalid value: "{text}": must be a port range like 30000-32767')
        return DEFAULT_NODE_PORT_RANGE
    if not (1 <= lo <= hi <= 65535):
        errors.append(f'{path}: Invalid value: "{text}": must be a range within 1-65535')
        return DEFAULT_NODE_PORT_RANGE
    return lo, hi


def _lb_pool(value: Any, path: str, errors: list[str]) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        text = str(v).strip()
        try:
            if "-" in text:
                a, b = (ipaddress.ip_address(x.strip()) for x in text.split("-", 1))
                if a.version != b.version or int(a) > int(b):
                    raise ValueError
            else:
                ipaddress.ip_network(text, strict=False)
        except ValueError:
            errors.append(f'{path}: Invalid value: "{text}": must be an address range A-B or a CIDR')
            continue
        out.append(text)
    return tuple(out)


_KNOWN_TOP = {
    "apiVersion", "kind", "name", "networking", "plugin", "nodes", "systemObjects", "addons",
    "kubelet", "outside", "metadata",
}


def parse_config(data: Mapping[str, Any], base: ClusterConfig = DEFAULT) -> ClusterConfig:
    """Decode a Cluster document over ``base``; raises :class:`ConfigError` listing every error."""
    errors: list[str] = []
    name = data.get("name") or (data.get("metadata") or {}).get("name") or base.name
    if not isinstance(name, str):
        errors.append(f"name: Invalid value: {name!r}: must be a string")
        name = base.name
    for key in data:
        if key not in _KNOWN_TOP:
            errors.append(f'{key}: Invalid value: "{key}": unknown field')
    net = data.get("networking") or {}
    if not isinstance(net, Mapping):
        errors.append("networking: Invalid value: must be an object")
        net = {}
    cfg = replace(base, name=name, raw=freeze(dict(data)))
    if "podSubnet" in net:
        cfg = replace(cfg, pod_subnets=_cidr_list(net["podSubnet"], "networking.podSubnet", errors))
    if "serviceSubnet" in net:
        cfg = replace(
            cfg, service_subnets=_cidr_list(net["serviceSubnet"], "networking.serviceSubnet", errors)
        )
    if "clusterDomain" in net:
        dom = str(net["clusterDomain"]).strip(".")
        if not dom:
            errors.append('networking.clusterDomain: Invalid value: "": must be a domain name')
        cfg = replace(cfg, cluster_domain=dom)
    if "nodePortRange" in net:
        cfg = replace(cfg, node_port_range=_port_range(net["nodePortRange"], "networking.nodePortRange", errors))
    if "loadBalancerPool" in net:
        cfg = replace(cfg, load_balancer_pool=_lb_pool(net["loadBalancerPool"], "networking.loadBalancerPool", errors))
    if "kubeProxyMode" in net:
        mode = str(net["kubeProxyMode"])
        if mode not in ("nftables", "iptables", "ipvs"):
            errors.append(f'networking.kubeProxyMode: Unsupported value: "{mode}": supported values: "nftables"')
        cfg = replace(cfg, kube_proxy_mode=mode)
    if "plugin" in data:
        p = data["plugin"]
        if isinstance(p, str):
            p = {"name": p.partition(":")[0], "mode": p.partition(":")[2]}
        if not isinstance(p, Mapping):
            errors.append("plugin: Invalid value: must be an object with name and mode")
        else:
            pname = str(p.get("name", cfg.plugin.name))
            pmode = str(p.get("mode", "") or "")
            errors.extend(_check_plugin(pname, pmode, "plugin"))
            mtu = p.get("mtu")
            if mtu is not None and (not isinstance(mtu, int) or not 576 <= mtu <= 65535):
                errors.append(f"plugin.mtu: Invalid value: {mtu!r}: must be between 576 and 65535, inclusive")
                mtu = None
            options = {k: v for k, v in p.items() if k not in ("name", "mode", "mtu")}
            errors.extend(_check_plugin_options(pname, options))
            if pname in PLUGINS:
                cfg = replace(cfg, plugin=PluginConfig(pname, pmode, mtu, freeze(options)))
    if "nodes" in data:
        cfg = replace(cfg, nodes=_nodes(data["nodes"], errors))
    if "systemObjects" in data:
        cfg = replace(cfg, system_objects=bool(data["systemObjects"]))
    if "addons" in data:
        a = data["addons"] or {}
        cfg = replace(
            cfg,
            addons=Addons(
                ingress_controller=bool(a.get("ingressController", True)),
                dns=bool(a.get("dns", True)),
            ),
        )
    if "kubelet" in data:
        k = data["kubelet"] or {}
        dns = k.get("clusterDNS") or []
        if isinstance(dns, str):
            dns = [dns]
        for i, ip in enumerate(dns):
            try:
                ipaddress.ip_address(str(ip))
            except ValueError:
                errors.append(f'kubelet.clusterDNS[{i}]: Invalid value: "{ip}": must be a valid IP address')
        cfg = replace(
            cfg,
            kubelet=KubeletConfig(
                cluster_dns=tuple(str(x) for x in dns),
                resolv_conf=str(k.get("resolvConf", "/etc/resolv.conf")),
            ),
        )
    if "outside" in data:
        cfg = replace(cfg, outside=freeze(data["outside"] or {}))
    if errors:
        raise ConfigError(str(name), errors)
    return cfg


def _nodes(value: Any, errors: list[str]) -> tuple[NodeConfig, ...]:
    if not isinstance(value, list) or not value:
        errors.append("nodes: Invalid value: must be a non-empty list")
        return default_nodes()
    out: list[NodeConfig] = []
    workers = 0
    seen: set[str] = set()
    for i, n in enumerate(value):
        path = f"nodes[{i}]"
        if not isinstance(n, Mapping):
            errors.append(f"{path}: Invalid value: must be an object")
            continue
        role = str(n.get("role", "worker"))
        if role not in ("control-plane", "worker"):
            errors.append(f'{path}.role: Unsupported value: "{role}": supported values: "control-plane", "worker"')
        if "name" in n:
            name = str(n["name"])
        elif role == "control-plane":
            name = "control-plane" if "control-plane" not in seen else f"control-plane{i + 1}"
        else:
            workers += 1
            name = "worker" if workers == 1 else f"worker{workers}"
        if name in seen:
            errors.append(f'{path}.name: Duplicate value: "{name}"')
        seen.add(name)
        ip = str(n.get("internalIP", "") or "")
        if ip:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                errors.append(f'{path}.internalIP: Invalid value: "{ip}": must be a valid IP address')
        cidrs = _cidr_list(n["podCIDR"], f"{path}.podCIDR", errors) if "podCIDR" in n else ()
        subnet = str(n.get("subnet", "") or "")
        if subnet:
            try:
                ipaddress.ip_network(subnet, strict=True)
            except ValueError:
                errors.append(f'{path}.subnet: Invalid value: "{subnet}": must be a valid CIDR value')
        mtu = n.get("mtu", 1500)
        if not isinstance(mtu, int) or not 576 <= mtu <= 65535:
            errors.append(f"{path}.mtu: Invalid value: {mtu!r}: must be between 576 and 65535, inclusive")
            mtu = 1500
        labels = n.get("labels") or {}
        out.append(
            NodeConfig(
                name=name,
                role=role,
                labels=FrozenDict({str(k): str(v) for k, v in labels.items()}),
                internal_ip=ip,
                pod_cidrs=cidrs,
                subnet=subnet,
                mtu=mtu,
            )
        )
    return tuple(out)
