"""Flannel: the node's podCIDR as its lease, the bridge plugin for pods, VXLAN or host-gw between
nodes (flannel-io/flannel ``pkg/backend/vxlan``, ``pkg/backend/hostgw``, flannel-io/cni-plugin,
containernetworking/plugins ``plugins/main/bridge``; Documentation/backends.md).

What a node gets
----------------
- ``flannel.<VNI>`` (VNI 1 on Linux): a VXLAN device with learning off, UDP port left to the
  kernel's default 8472, MTU of the external interface minus 50 (``newVXLANDevice``:
  ``MTU: devAttrs.MTU - 50``), and the lease's network address as a /32 ("so that no broadcast
  routes are created"; it is the source for host-to-pod traffic).
- For every other node, exactly one route, one ARP entry and one FDB entry
  (``handleSubnetEvents``): ``<lease> via <lease.0> dev flannel.1 onlink``, ``<lease.0> lladdr
  <VtepMAC> PERMANENT`` and ``<VtepMAC> dst <PublicIP> self permanent``. The VtepMAC is random
  upstream (``mac.NewHardwareAddr``, then kept in the node annotation); here it is derived from the
  node name. With ``DirectRouting`` a node on the same subnet gets a plain route instead.
- host-gw: ``<lease> via <node IP> dev eth0`` per other node (``RouteNetwork.GetRoute``), which
  the kernel refuses ("network is unreachable") for a gateway not on the node's subnet: host-gw
  "requires direct layer2 connectivity between hosts".
- ``cni0``: the bridge plugin's bridge (default name), holding the lease's ``.1`` (isGateway), MTU
  FLANNEL_MTU. It exists once the node runs a pod. Pods get ``.2…`` from host-local, a host
  ``veth…`` enslaved to cni0 (hairpin on) and, in the pod, a default route (isDefaultGateway in
  kube-flannel.yml) plus the route to the whole flannel network that flannel's CNI plugin adds to
  the IPAM routes.
- Masquerade: flanneld's ``FLANNEL-POSTRTG`` chain (``trafficmngr/iptables masqRules``).
- No NetworkPolicy: flannel is connectivity only.

Dual stack (``EnableIPv6``, flannel's ``ipv6Network``): the node's IPv6 podCIDR is its IPv6
lease, and everything above has an IPv6 twin — ``flannel-v6.<VNI>`` (VXLAN over the node's IPv6
address; the kernel gives it the external interface's MTU minus 70 — flanneld sets none — while
the pods keep FLANNEL_MTU, the IPv4 device's), the
lease's network address as a /128 on it, one route, NDP entry and FDB entry per other node
(``<lease6> via <lease6>:: dev flannel-v6.1 onlink``), ``cni0``'s ``::1`` of the lease, the pods'
IPv6 address and default route, and ``ip6tables`` masquerade. host-gw routes
``<lease6> via <node IPv6> dev eth0``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from podnet.api.core import Pod
from podnet.api.frozen import FrozenDict
from podnet.plugins.context import PlanContext, sort_routes
from podnet.plugins.naming import bridge_veth_name
from podnet.plugins.plan import (
    Eth0,
    Fdb,
    Link,
    MasqRule,
    Neighbour,
    NodePlan,
    PodPlan,
    Route,
    local_mac,
)

__all__ = ["FLANNEL_MASQ_COMMENT", "VXLAN_OVERHEAD", "lease_of", "node_plan", "pod_mtu", "pod_plan", "vtep_mac"]

VXLAN_OVERHEAD = 50
#: VXLAN over IPv6: a 40-byte outer header instead of 20.
VXLAN6_OVERHEAD = 70
FLANNEL_MASQ_COMMENT = '-m comment --comment "flanneld masq"'
#: kube-proxy's masquerade mark, which flannel leaves alone (trafficmngr.KubeProxyMark).
KUBE_PROXY_MARK = "0x4000/0x4000"


def _pod_cidr(ctx: PlanContext, node: str, version: int) -> str | None:
    return next((c for c in ctx.nodes[node].pod_cidrs
                 if ipaddress.ip_network(c, strict=False).version == version), None)


def lease_of(ctx: PlanContext, node: str) -> ipaddress.IPv4Network | None:
    """The node's flannel lease: its IPv4 podCIDR (kube subnet manager)."""
    cidr = _pod_cidr(ctx, node, 4)
    return ipaddress.IPv4Network(cidr, strict=False) if cidr else None


def lease6_of(ctx: PlanContext, node: str) -> ipaddress.IPv6Network | None:
    """The node's IPv6 lease (its IPv6 podCIDR) when the plan wires dual stack."""
    cidr = _pod_cidr(ctx, node, 6) if ctx.dual_stack else None
    return ipaddress.IPv6Network(cidr, strict=False) if cidr else None


def vtep_mac(node: str, vni: int) -> str:
    return local_mac(f"flannel.{vni}", node)


def vtep6_mac(node: str, vni: int) -> str:
    return local_mac(f"flannel-v6.{vni}", node)


def _vni(ctx: PlanContext) -> int:
    return int(ctx.config.plugin.option("vni"))


def device_name(ctx: PlanContext) -> str:
    return f"flannel.{_vni(ctx)}"


def device6_name(ctx: PlanContext) -> str:
    return f"flannel-v6.{_vni(ctx)}"


def pod_mtu(ctx: PlanContext, node: str) -> int:
    """FLANNEL_MTU: the user's ``plugin.mtu``, else the node NIC's MTU (minus 50 for VXLAN)."""
    if ctx.config.plugin.mtu:
        return ctx.config.plugin.mtu
    if ctx.config.plugin.effective_mode == "vxlan":
        # in dual stack too: ``network.MTU()`` is the IPv4 device's MTU minus 50 — an IPv6
        # packet of that size is 20 bytes too big for flannel-v6.1 and is answered with an
        # ICMPv6 Packet Too Big, as on a real dual-stack flannel node
        return ctx.mtu[node] - VXLAN_OVERHEAD
    return ctx.mtu[node]


def _cluster_cidr(ctx: PlanContext) -> str:
    nets = ctx.pod_networks_v4()
    return str(nets[0]) if nets else ""


def _cluster_cidr6(ctx: PlanContext) -> str:
    nets = ctx.pod_networks_v6() if ctx.dual_stack else []
    return str(nets[0]) if nets else ""


def _v6_half(ctx: PlanContext, name: str, links: list[Link], routes: list[Route],
             neighbours: list[Neighbour], fdb: list[Fdb], nat: list[str],
             masq: list[MasqRule]) -> None:
    """The IPv6 twin of everything flannel does on node ``name`` (dual stack)."""
    lease6 = lease6_of(ctx, name)
    if lease6 is None:
        return
    mode = ctx.config.plugin.effective_mode
    vni = _vni(ctx)
    dev6 = device6_name(ctx)
    if mode == "vxlan":
        mtu6 = ctx.config.plugin.mtu or ctx.mtu[name] - VXLAN6_OVERHEAD
        links.append(Link(dev6, "vxlan", mtu6, (f"{lease6.network_address}/128",),
                          vtep6_mac(name, vni), vni=vni,
                          port=int(ctx.config.plugin.option("port")), local=ctx.ip6[name]))
    cni0 = next((i for i, link in enumerate(links) if link.name == "cni0"), None)
    if cni0 is not None:
        gw6 = f"{lease6.network_address + 1}/{lease6.prefixlen}"
        links[cni0] = replace(links[cni0], addresses=links[cni0].addresses + (gw6,))
        routes.append(Route(str(lease6), dev="cni0", proto="kernel"))
    for other in ctx.remotes(name):
        remote6 = lease6_of(ctx, other)
        if remote6 is None:
            continue
        if mode == "host-gw":
            routes.append(Route(str(remote6), via=ctx.ip6[other], dev="eth0"))
            continue
        mac = vtep6_mac(other, vni)
        gw = str(remote6.network_address)
        neighbours.append(Neighbour(gw, mac, dev6))
        fdb.append(Fdb(mac, ctx.ip6[other], dev6))
        routes.append(Route(str(remote6), via=gw, dev=dev6, onlink=True))
    cluster6 = _cluster_cidr6(ctx)
    if cluster6:
        c = FLANNEL_MASQ_COMMENT
        rule = f"-A FLANNEL-POSTRTG -s {cluster6} ! -d ff00::/8 {c} -j MASQUERADE --random-fully"
        nat.append(f"# ip6tables: {rule}")
        masq.append(MasqRule((cluster6,), (cluster6, "ff00::/8"), None, rule))


def node_plan(ctx: PlanContext, name: str) -> NodePlan:
    mode = ctx.config.plugin.effective_mode
    vni = _vni(ctx)
    port = int(ctx.config.plugin.option("port"))
    direct = bool(ctx.config.plugin.option("directRouting"))
    ip = ctx.ip[name]
    lease = lease_of(ctx, name)
    mtu = pod_mtu(ctx, name)
    dev = device_name(ctx)

    links: list[Link] = [ctx.eth0(name)]
    routes: list[Route] = list(ctx.base_routes(name))
    neighbours: list[Neighbour] = []
    fdb: list[Fdb] = []
    warnings: list[str] = []

    if mode == "vxlan":
        links.append(
            Link(dev, "vxlan", mtu, (f"{lease.network_address}/32",) if lease else (),
                 vtep_mac(name, vni),
                 vni=vni, port=port, local=ip)
        )
    pods = ctx.pods_by_node.get(name, [])
    if lease is not None and pods:
        links.append(Link("cni0", "bridge", mtu, (f"{lease.network_address + 1}/{lease.prefixlen}",),
                          local_mac("cni0", name)))
        for p in pods:
            key = ctx.pod_key(p)
            links.append(Link(bridge_veth_name(p.metadata.namespace, p.metadata.name), "veth", mtu,
                              mac=local_mac("veth", key), master="cni0", peer=f"eth0 of {key}"))
        routes.append(Route(str(lease), dev="cni0", proto="kernel", scope="link",
                            src=str(lease.network_address + 1)))

    for other in ctx.remotes(name):
        remote = lease_of(ctx, other)
        if remote is None:
            continue
        rip = ctx.ip[other]
        if mode == "host-gw" or (direct and ctx.same_segment(name, other)):
            if ctx.same_segment(name, other):
                routes.append(Route(str(remote), via=rip, dev="eth0"))
            else:
                warnings.append(
                    f"flanneld: Error adding route to {{Dst: {remote} Gw: {rip} Dev: eth0}}: network is "
                    f"unreachable ({other} is on {ctx.subnet[other]}, not on this node's {ctx.subnet[name]}: "
                    "host-gw needs every node on one L2 segment)"
                )
            continue
        mac = vtep_mac(other, vni)
        gw = str(remote.network_address)
        neighbours.append(Neighbour(gw, mac, dev))
        fdb.append(Fdb(mac, rip, dev))
        routes.append(Route(str(remote), via=gw, dev=dev, onlink=True))

    cluster = _cluster_cidr(ctx)
    nat: list[str] = []
    masq: list[MasqRule] = []
    sysctls = {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}
    if cluster and lease is not None:
        c = FLANNEL_MASQ_COMMENT
        nat = [
            f"-A POSTROUTING {c} -j FLANNEL-POSTRTG",
            f"-A FLANNEL-POSTRTG -m mark --mark {KUBE_PROXY_MARK} {c} -j RETURN",
            f"-A FLANNEL-POSTRTG -s {lease} -d {cluster} {c} -j RETURN",
            f"-A FLANNEL-POSTRTG -s {cluster} -d {lease} {c} -j RETURN",
            f"-A FLANNEL-POSTRTG ! -s {cluster} -d {lease} {c} -j RETURN",
            f"-A FLANNEL-POSTRTG -s {cluster} ! -d 224.0.0.0/4 {c} -j MASQUERADE --random-fully",
            f"-A FLANNEL-POSTRTG ! -s {cluster} -d {cluster} {c} -j MASQUERADE --random-fully",
        ]
        masq.append(MasqRule((cluster,), (cluster, "224.0.0.0/4"), None, nat[5]))
    if ctx.dual_stack:
        _v6_half(ctx, name, links, routes, neighbours, fdb, nat, masq)
        sysctls.update({"net.ipv6.conf.all.forwarding": "1",
                        "net.bridge.bridge-nf-call-ip6tables": "1"})

    return NodePlan(
        name=name,
        internal_ip=ip,
        subnet=str(ctx.subnet[name]),
        gateway=ctx.gateway(name),
        pod_cidrs=tuple(str(n) for n in (lease, lease6_of(ctx, name)) if n is not None),
        links=tuple(links),
        routes=sort_routes(routes),
        neighbours=tuple(neighbours),
        fdb=tuple(fdb),
        sysctls=FrozenDict(sysctls),
        nat=tuple(nat),
        masquerade=tuple(masq),
        warnings=tuple(warnings),
    )


def pod_plan(ctx: PlanContext, pod: Pod) -> PodPlan:
    node = pod.spec.node_name
    key = ctx.pod_key(pod)
    lease = lease_of(ctx, node)
    ip = next((i for i in pod.ips if ":" not in i), pod.ips[0])
    prefix = lease.prefixlen if lease else 24
    gw = str(lease.network_address + 1) if lease else ""
    routes = [Route("default", via=gw, dev="eth0")]
    cluster = _cluster_cidr(ctx)
    if cluster:
        routes.append(Route(cluster, via=gw, dev="eth0"))
    if lease:
        routes.append(Route(str(lease), dev="eth0", proto="kernel", scope="link", src=ip))
    addresses = [f"{ip}/{prefix}"]
    lease6 = lease6_of(ctx, node)
    ip6 = next((i for i in pod.ips if ":" in i), None)
    if lease6 is not None and ip6 is not None:
        gw6 = str(lease6.network_address + 1)
        addresses.append(f"{ip6}/{lease6.prefixlen}")
        routes.append(Route("default", via=gw6, dev="eth0"))
        routes.append(Route(_cluster_cidr6(ctx), via=gw6, dev="eth0"))
        routes.append(Route(str(lease6), dev="eth0", proto="kernel"))
    return PodPlan(
        name=key,
        node=node,
        ip=ip,
        eth0=Eth0(tuple(addresses), pod_mtu(ctx, node), local_mac("eth0", key)),
        host_if=bridge_veth_name(pod.metadata.namespace, pod.metadata.name),
        routes=sort_routes(routes),
    )
