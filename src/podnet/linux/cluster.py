"""A real cluster network on this machine, compiled from a ClusterState.

:class:`RealCluster` puts the layers together, each doing what it alone knows:

* :func:`podnet.plugins.build_plan` — the NetworkPlan of the configured plugin;
* :mod:`podnet.linux.topology` — the underlay, the outside and the node namespaces the plan's
  underlay describes;
* :mod:`podnet.linux.wiring` — the plan's devices, pods, routes, neighbours, FDB, sysctls;
* per node, ONE ``nft -f`` transaction holding the plugin's masquerade, kube-proxy's table
  (:func:`podnet.proxy.compile_node`) and, for plugins that enforce NetworkPolicy, the policy
  table (:func:`podnet.policy.compile_node`);
* LoadBalancer addresses announced the MetalLB layer-2 way: the elected node answers ARP for
  them (:meth:`podnet.proxy.ServicePlan.announcement`);
* per pod, the ``/etc/netns/<pod ns>/resolv.conf`` and ``hosts`` kubelet would write.

The processes that run in pods (the built-in server, ``podnet.io/command``), DNS and Ingress
are the daemon's (:mod:`podnet.linux.daemon`); :meth:`RealCluster.pod_targets` tells it what
each pod must serve.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from podnet.api.core import Pod, Service
from podnet.cluster.state import ClusterState
from podnet.dns.resolvconf import pod_hosts_file
from podnet.dns.resolvconf import pod_resolv_conf
from podnet.linux import ebpf, names, nft, preflight, teardown, topology, wiring
from podnet.linux.netlink import Netlink
from podnet.linux.topology import set_sysctls
from podnet.plugins import build_plan
from podnet.plugins.plan import NetworkPlan
from podnet.policy import PolicyIndex, as_enforced
from podnet.policy.nftables import TABLE as POLICY_TABLE
from podnet.policy import compile_node as compile_policy
from podnet.proxy import ServicePlan
from podnet.proxy import compile_node as compile_proxy
from podnet.proxy import partial_sync
from podnet.proxy.service_map import Family

Progress = Callable[[str], None]

COMMAND_ANNOTATION = "podnet.io/command"


@dataclass(frozen=True, slots=True)
class PodPort:
    port: int
    protocol: str  # TCP | UDP | SCTP
    name: str = ""


@dataclass(frozen=True, slots=True)
class PodTarget:
    """What runs in one pod: where (its namespace), who it is, on which ports."""

    key: str  # NS/NAME
    netns: str
    ip: str
    node: str
    hostname: str
    ports: tuple[PodPort, ...]
    #: port → "NS/SERVICE" of the Service whose endpoints list this pod on that port.
    services: dict[int, str] = field(default_factory=dict)
    command: str | None = None
    host_network: bool = False
    #: The pod's IPv6 address where the network wires it (dual stack), else "".
    ip6: str = ""

    @property
    def namespace(self) -> str:
        return self.key.partition("/")[0]

    @property
    def name(self) -> str:
        return self.key.partition("/")[2]


@dataclass(slots=True)
class Change:
    """What a live change did (:meth:`RealCluster.converge`)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    announced: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: Why the change cannot be made live (nodes or plugin changed), else "".
    restart: str = ""
    #: Services whose kube-proxy chains were rewritten (kube-proxy's partial sync), and the
    #: nodes that needed a full sync instead (their own settings changed).
    services_synced: list[str] = field(default_factory=list)
    full_sync_nodes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class BuildReport:
    nodes: int = 0
    pods: int = 0
    namespaces: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)  # node → ruleset lines
    announced: dict[str, str] = field(default_factory=dict)  # LB IP → node
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def cluster_dns_ips(state: ClusterState) -> tuple[str, ...]:
    from podnet.sim.resolve import cluster_dns_ips as model

    return model(state)


def pod_netns(cluster: str, state: ClusterState, key: str) -> str | None:
    """The network namespace of pod ``NS/NAME`` of a running cluster (its node's for a
    host-network pod), None when the pod has none."""
    ns, _, name = key.partition("/")
    pod = state.pod(ns, name)
    if pod is None or not pod.spec.node_name:
        return None
    if pod.spec.host_network:
        return names.node_ns(cluster, pod.spec.node_name)
    return names.pod_ns(cluster, ns, name)


def announce(nl: Netlink, ip: str) -> None:
    """Answer ARP for ``ip`` on the node's eth0, as MetalLB's layer-2 speaker does.

    A proxy-ARP entry alone is not enough: the kernel only proxies for an address it would
    route out of *another* interface (``__mkroute_input`` refuses a same-interface route for
    ARP). A host route to ``lo`` gives it one; the traffic itself never follows that route,
    since kube-proxy's prerouting DNAT sends it to a backend first."""
    nl.route(f"{ip}/32", dev="lo", scope="link")
    nl.proxy_neigh(ip, names.NODE_UPLINK)


class RealCluster:
    """The real network of ``state``, named ``cluster`` on the machine (``pn-<cluster>-…``)."""

    def __init__(self, cluster: str, state: ClusterState, *, enforce_policy: bool = True) -> None:
        self.cluster = names.check_cluster(cluster)
        #: False loads no NetworkPolicy ruleset even for an enforcing plugin (tests of wiring).
        self.enforce_policy = enforce_policy
        self.state = state
        self.plan: NetworkPlan = build_plan(state)
        self.topo = topology.Topology.of_plan(cluster, self.plan)
        self.services = ServicePlan.build(state)
        self.pod_ns: dict[str, str] = {}
        self.report = BuildReport()

    # ------------------------------------------------------------------ queries

    @property
    def plugin(self) -> str:
        p = self.plan.plugin
        return f"{p.name}:{p.mode}"

    def node_ns(self, node: str) -> str:
        return self.topo.node_ns(node)

    def namespace_of(self, key: str) -> str | None:
        """The network namespace of pod ``NS/NAME`` (its node's for a host-network pod)."""
        got = self.pod_ns.get(key)
        if got is not None:
            return got
        ns, _, name = key.partition("/")
        pod = self.state.pod(ns, name)
        if pod is not None and pod.spec.host_network and pod.spec.node_name:
            return self.node_ns(pod.spec.node_name)
        return None

    def _service_ports(self) -> dict[str, dict[int, str]]:
        """pod key → {port: "NS/SERVICE"} from the EndpointSlices (first Service by name)."""
        out: dict[str, dict[int, str]] = {}
        for svc in sorted(self.state.typed(Service), key=lambda s: s.ref):
            ns, name = svc.metadata.namespace, svc.metadata.name
            for sl in self.state.endpoint_slices(ns, name):
                ports = [p.port for p in sl.ports if p.port]
                for ep in sl.endpoints:
                    ref = ep.target_ref
                    if ref is None or ref.kind != "Pod":
                        continue
                    key = f"{ref.namespace or ns}/{ref.name}"
                    for port in ports:
                        out.setdefault(key, {}).setdefault(int(port), f"{ns}/{name}")
        return out

    def pod_targets(self) -> list[PodTarget]:
        services = self._service_ports()
        out = []
        for pod in self.state.pods():
            key = f"{pod.metadata.namespace}/{pod.metadata.name}"
            if pod.finished or not pod.spec.node_name:
                continue
            netns = self.namespace_of(key)
            if netns is None:
                continue
            ports = []
            seen = set()
            for cp in pod.spec.all_ports():
                proto = (cp.protocol or "TCP").upper()
                if cp.container_port and (cp.container_port, proto) not in seen:
                    seen.add((cp.container_port, proto))
                    ports.append(PodPort(cp.container_port, proto, cp.name))
            ip = next((i for i in pod.ips if ":" not in i), pod.ips[0] if pod.ips else "")
            out.append(PodTarget(
                key=key, netns=netns, ip=ip, node=pod.spec.node_name,
                hostname=pod.spec.hostname or pod.metadata.name, ports=tuple(ports),
                services=services.get(key, {}),
                command=pod.metadata.annotations.get(COMMAND_ANNOTATION),
                host_network=pod.spec.host_network,
                ip6=next((i for i in pod.ips if ":" in i), "") if self.plan.ipv6 else "",
            ))
        return out

    def node_endpoints(self) -> dict[str, tuple[list[PodPort], dict[int, str]]]:
        """Service endpoints that are a node's own address (no pod of their own: the API
        server behind ``default/kubernetes``): node → (ports, port → "NS/SERVICE")."""
        by_ip = {n.ip: n.name for n in self.topo.nodes}
        out: dict[str, tuple[list[PodPort], dict[int, str]]] = {}
        for svc in sorted(self.state.typed(Service), key=lambda s: s.ref):
            ns, name = svc.metadata.namespace, svc.metadata.name
            for sl in self.state.endpoint_slices(ns, name):
                for ep in sl.endpoints:
                    if ep.target_ref is not None and ep.target_ref.kind == "Pod":
                        continue
                    for addr in ep.addresses:
                        node = by_ip.get(addr)
                        if node is None:
                            continue
                        ports, services = out.setdefault(node, ([], {}))
                        for p in sl.ports:
                            proto = (p.protocol or "TCP").upper()
                            if p.port and all(x.port != p.port or x.protocol != proto for x in ports):
                                ports.append(PodPort(int(p.port), proto, p.name or ""))
                                services.setdefault(int(p.port), f"{ns}/{name}")
        return out

    # ------------------------------------------------------------------ rulesets

    @property
    def families(self) -> tuple[Family, ...]:
        """The address families the network is built for: IPv4, and IPv6 where the plan wires
        the IPv6 half of a dual-stack cluster (kube-proxy then runs a proxier per family)."""
        return (4, 6) if self.plan.ipv6 else (4,)

    def node_ruleset(self, node: str, index: PolicyIndex | None = None,
                     resync: bool = False, proxy: Mapping[int, str] | None = None) -> str:
        """The node's one nft transaction: masquerade, kube-proxy, NetworkPolicy.

        ``resync``: the tables exist already (a live change). ``proxy``: kube-proxy's part per
        family (a partial sync); by default its full ruleset, which on a resync replaces the
        table whole so that chains of Services gone do not linger."""
        nplan = self.plan.node(node)
        parts = [nft.masquerade_ruleset(nplan.masquerade, families=self.families)]
        # Cilium's kube-proxy replacement translates Services in eBPF at connect(); without
        # eBPF the same translation is done by kube-proxy's rules on the node.
        for family in self.families:
            if proxy is not None and family in proxy:
                parts.append(proxy[family])
                continue
            table = f"{'ip' if family == 4 else 'ip6'} kube-proxy"
            if resync:
                parts.append(f"add table {table}\ndelete table {table}\n")
            parts.append(compile_proxy(self.services, node, family).transaction())
        if self.plan.plugin.enforces_policy and index is not None:
            ifnames = {p.name: p.host_if for p in self.plan.pods_on(node)}
            parts.append(compile_policy(index, node, ifnames=ifnames).text)
        elif resync:
            parts.append(f"add table inet {POLICY_TABLE}\ndelete table inet {POLICY_TABLE}\n")
        return "\n".join(parts)

    # ------------------------------------------------------------------ build

    def build(self, progress: Progress | None = None) -> BuildReport:
        say = progress or (lambda _m: None)
        preflight.check_platform()
        report = self.report
        t0 = time.monotonic()
        left = teardown.owned_namespaces(self.cluster)
        if left:
            say(f"removing {len(left)} leftover namespace(s) of an earlier run")
            teardown.teardown(self.cluster)
        preflight.check_link_kinds(wiring.link_kinds(self.plan.nodes), f"plugin {self.plugin}")
        nodes = self.plan.nodes
        pods = self.plan.pods
        for n in nodes:
            report.warnings.extend(n.warnings)
        t1 = time.monotonic()
        netlinks = topology.build(self.topo, say)
        try:
            t2 = time.monotonic()
            wired = wiring.wire(self.cluster, nodes, pods, netlinks, say)
            self.pod_ns.update(wired.pods)
            t3 = time.monotonic()
            if ebpf.needs_emulation(self.plan):
                for n in nodes:
                    ebpf.apply(netlinks[n.name], self.plan, n)
            self._announce(netlinks, report)
            self._internet_addresses()
        finally:
            for nl in netlinks.values():
                nl.close()
        index = None
        if self.plan.plugin.enforces_policy and self.enforce_policy:
            index = as_enforced(PolicyIndex.build(self.state))
        texts = [(n.name, self.node_ruleset(n.name, index)) for n in nodes]
        nft.load_many([(self.node_ns(name), text) for name, text in texts])
        for name, text in texts:
            report.rules[name] = text.count("\n")
        say(f"nftables loaded on {len(nodes)} node(s)")
        t4 = time.monotonic()
        self._write_pod_files()
        t5 = time.monotonic()
        report.nodes = len(nodes)
        report.pods = len(pods)
        report.namespaces = len(self.topo.namespaces()) + len(self.pod_ns)
        report.seconds = {
            "plan": t1 - t0,
            "underlay": t2 - t1,
            "pods": t3 - t2,
            "nftables": t4 - t3,
            "files": t5 - t4,
        }
        return report

    def _announce(self, netlinks: dict[str, Netlink], report: BuildReport) -> None:
        """MetalLB layer 2: the elected node answers ARP for each LoadBalancer address."""
        for nl in netlinks.values():
            set_sysctls(nl.ns, {f"net.ipv4.neigh.{names.NODE_UPLINK}.proxy_delay": "0"})
        for svc in self.state.typed(Service):
            for ing in svc.status.load_balancer.ingress:
                if not ing.ip or ipaddress.ip_address(ing.ip).version != 4:
                    continue
                ann = self.services.announcement(ing.ip)
                if ann.node is None or ann.node not in netlinks:
                    continue
                announce(netlinks[ann.node], ing.ip)
                report.announced[ing.ip] = ann.node

    def _internet_addresses(self) -> None:
        """The emulated internet's hosts live on the outside's ``lo``."""
        from podnet.linux.clusterdns import Internet

        internet = Internet.of(self.state.config.outside)
        if not internet.hosts:
            return
        with Netlink(self.topo.outside_ns) as nl:
            for h in internet.hosts:
                nl.add_addr("lo", f"{h.ip}/32")

    def _write_pod_files(self, only: set[str] | None = None) -> None:
        servers = list(cluster_dns_ips(self.state))
        domain = self.state.config.cluster_domain
        for key, ns in self.pod_ns.items():
            if only is not None and key not in only:
                continue
            pns, _, pname = key.partition("/")
            pod = self.state.pod(pns, pname)
            if pod is None:
                continue
            rc = pod_resolv_conf(pod, cluster_domain=domain, cluster_dns=servers, host=None)
            ip = next((i for i in pod.ips if ":" not in i), pod.ips[0] if pod.ips else "")
            topology.write_etc(ns, {"resolv.conf": rc.to_text(),
                                    "hosts": pod_hosts_file(pod, ip, domain)})

    # ------------------------------------------------------------------ live changes

    def converge(self, state: ClusterState, progress: Progress | None = None) -> Change:
        """Make the running network that of ``state``, touching only what changed: pods gone
        are unwired, new pods wired, every node's routes and neighbours reconciled, kube-proxy's
        rules partially synced as kube-proxy does (only the changed Services' chains and map
        elements; a full sync where a node's own settings changed), the masquerade and policy
        tables rewritten — one nft transaction per node —, LoadBalancer announcements and pod
        files updated.

        Runs in a thread of its own (netlink sockets, nft); the daemon then updates what the
        pods serve from the returned :class:`Change`."""
        say = progress or (lambda _m: None)
        t0 = time.monotonic()
        old_plan, old_state = self.plan, self.state
        new_plan = build_plan(state)
        change = Change()
        if tuple(new_plan.node_names) != tuple(old_plan.node_names) or \
                new_plan.plugin != old_plan.plugin:
            change.restart = ("the nodes or the plugin changed: run podnet down and podnet up "
                              "to rebuild the cluster")
            return change
        # a node whose plan is the same has nothing of its own to change (its pods, devices,
        # routes, neighbours and tunnel map are all in its plan) — and a pod that is the same
        # object on such a node has the same plan: only the others' plans are built and compared
        changed = [n for n in new_plan.nodes if old_plan.node(n.name) != n]
        same_nodes = set(new_plan.node_names) - {n.name for n in changed}
        old_keys, new_keys = set(old_plan.pod_keys), set(new_plan.pod_keys)

        def unchanged(key: str) -> bool:
            ns, _, name = key.partition("/")
            before, after = old_state.pod(ns, name), state.pod(ns, name)
            return before is not None and before == after and after.spec.node_name in same_nodes

        candidates = [k for k in old_keys | new_keys
                      if not (k in old_keys and k in new_keys and unchanged(k))]
        old_pods = {k: old_plan.pod(k) for k in candidates if k in old_keys}
        new_pods = {k: new_plan.pod(k) for k in candidates if k in new_keys}
        gone = sorted(k for k in old_pods if k not in new_pods or new_pods[k] != old_pods[k])
        added = sorted(k for k in new_pods if k not in old_pods or new_pods[k] != old_pods[k])
        self.state, self.plan = state, new_plan
        old_services, self.services = self.services, ServicePlan.build(state)
        netlinks: dict[str, Netlink] = {}
        try:
            for name in new_plan.node_names:
                netlinks[name] = Netlink(self.node_ns(name))
            for key in gone:
                pod = old_pods[key]
                wiring.unwire_pod(netlinks[pod.node], self.cluster, pod)
                ns = self.pod_ns.pop(key, None)
                if ns is not None:
                    topology.remove_etc(ns)
                change.removed.append(key)
            for n in changed:
                nl = netlinks[n.name]
                missing = [link for link in n.links
                           if not wiring._is_pod_veth(link) and not wiring._is_uplink(link)
                           and not nl.has_link(link.name)]
                if missing:
                    wiring.node_devices(nl, replace(n, links=tuple(missing)))
            for key in added:
                pod = new_pods[key]
                node = new_plan.node(pod.node)
                host = next((link for link in node.links if link.name == pod.host_if), None)
                self.pod_ns[key] = wiring.wire_pod(netlinks[pod.node], self.cluster, node, pod,
                                                   host)
                change.added.append(key)
            for n in changed:
                wiring.node_tables(netlinks[n.name], n)
                if ebpf.needs_emulation(new_plan):
                    ebpf.apply(netlinks[n.name], new_plan, n)
            self._reannounce(netlinks, change)
        finally:
            for nl in netlinks.values():
                nl.close()
        index = None
        if new_plan.plugin.enforces_policy and self.enforce_policy:
            index = as_enforced(PolicyIndex.build(state))
        # kube-proxy's partial sync: only the chains and map elements of the Services that
        # changed; chains no longer used are flushed now and deleted once nothing refers to them
        cleanups: list[tuple[str, str]] = []
        loads: list[tuple[str, str]] = []
        synced: set[str] = set()
        for name in new_plan.node_names:
            partial: dict[int, str] = {}
            for family in self.families:
                sync = partial_sync(old_services, self.services, name, family)
                if sync.full:
                    if name not in change.full_sync_nodes:
                        change.full_sync_nodes.append(name)
                    continue
                partial[family] = sync.transaction
                synced.update(sync.updated)
                if sync.cleanup:
                    cleanups.append((self.node_ns(name), sync.cleanup))
            loads.append((self.node_ns(name),
                          self.node_ruleset(name, index, resync=True, proxy=partial)))
        nft.load_many(loads)
        nft.load_many(cleanups)
        change.services_synced = sorted(synced)
        self._write_pod_files(only=set(added) | self._dns_changed(old_state, state))
        change.seconds = time.monotonic() - t0
        full = f", a full sync on {len(change.full_sync_nodes)} node(s)" \
            if change.full_sync_nodes else ""
        say(f"converged in {change.seconds * 1000:.0f} ms: {len(change.added)} pod(s) wired, "
            f"{len(change.removed)} removed, kube-proxy rules of {len(change.services_synced)} "
            f"Service(s) synced on {len(new_plan.node_names)} node(s){full}")
        return change

    def _dns_changed(self, old: ClusterState, new: ClusterState) -> set[str]:
        if cluster_dns_ips(old) == cluster_dns_ips(new) and \
                old.config.cluster_domain == new.config.cluster_domain:
            return set()
        return set(self.pod_ns)

    def _reannounce(self, netlinks: dict[str, Netlink], change: Change) -> None:
        want: dict[str, str] = {}
        for svc in self.state.typed(Service):
            for ing in svc.status.load_balancer.ingress:
                if ing.ip and ipaddress.ip_address(ing.ip).version == 4:
                    node = self.services.announcement(ing.ip).node
                    if node is not None and node in netlinks:
                        want[ing.ip] = node
        have = dict(self.report.announced)
        for ip, node in have.items():
            if want.get(ip) != node and node in netlinks:
                netlinks[node].del_proxy_neigh(ip, names.NODE_UPLINK)
                netlinks[node].del_route(f"{ip}/32", oif=netlinks[node].index("lo"))
        for ip, node in want.items():
            if have.get(ip) != node:
                announce(netlinks[node], ip)
        self.report.announced = want
        change.announced = want

    def teardown(self, progress: Progress | None = None) -> teardown.TeardownReport:
        return teardown.teardown(self.cluster, progress)

