"""Flannel's plan for the 3-node example against what flanneld and its CNI plugins create.

Expectations come from the upstream sources and docs, not from podnet's output:

- flannel-io/flannel ``pkg/backend/vxlan/vxlan.go``: ``defaultVNI = 1``; the device is named
  ``flannel.<VNI>``; the lease's network address goes on it as a /32 (``configureDeviceIPv4IPv6``:
  ``ip.IP4Net{IP: lease.Subnet.IP, PrefixLen: 32}``).
- ``pkg/backend/vxlan/device.go`` ``newVXLANDevice``: ``MTU: devAttrs.MTU - 50``, learning off.
- Documentation/backends.md: "Port … On Linux, defaults to kernel default, currently 8472";
  host-gw "requires direct layer2 connectivity between hosts"; DirectRouting "Enable direct
  routes (like host-gw) when the hosts are on the same subnet".
- ``vxlan_network.go`` ``handleSubnetEvents``: per remote lease one route ``Dst: sn, Gw: sn.IP``
  with ``RTNH_F_ONLINK`` on the VXLAN device, one permanent ARP entry (``AddARP``: ``sn.IP`` →
  VtepMAC) and one permanent FDB entry (``AddFDB``: VtepMAC → PublicIP, ``NTF_SELF``).
- ``pkg/backend/hostgw/hostgw.go``: ``Dst: lease.Subnet, Gw: lease.Attrs.PublicIP`` on the
  external interface.
- ``pkg/trafficmngr/iptables/iptables.go`` ``masqRules`` (the FLANNEL-POSTRTG chain).
- flannel-io/cni-plugin ``flannel_linux.go``: delegate type ``bridge``, ``isGateway: true``,
  ``mtu`` = FLANNEL_MTU, host-local ranges = the lease, IPAM routes += the flannel network;
  kube-flannel.yml: ``"delegate": {"hairpinMode": true, "isDefaultGateway": true}``.
- containernetworking/plugins ``bridge.go``: ``defaultBrName = "cni0"``, gateway = first
  address of the range (``calcGatewayIP``); ``ip.RandomVethName``: ``veth%x`` of 4 bytes.
"""

from __future__ import annotations

import re
from typing import Any

from test_plugins_support import (
    APP,
    NODE_IPS,
    TWO_SUBNETS,
    plan_of,
    pods_on,
    route_to,
    routes,
    web_pods,
)

from podnet.api.loader import parse_text
from podnet.cluster.admission import admit
from podnet.cluster.config import DEFAULT, parse_config
from podnet.plugins import build_plan
from podnet.plugins.plan import NetworkPlan

LEASES = {"control-plane": "10.244.0.0/24", "worker": "10.244.1.0/24", "worker2": "10.244.2.0/24"}


def test_lease_is_the_node_podcidr() -> None:
    plan = plan_of("flannel")
    for name, lease in LEASES.items():
        assert plan.node(name).pod_cidrs == (lease,)


def test_vxlan_device() -> None:
    plan = plan_of("flannel")
    for name, lease in LEASES.items():
        dev = plan.node(name).link("flannel.1")
        assert dev is not None and dev.kind == "vxlan"
        assert dev.vni == 1 and dev.port == 8472
        assert dev.mtu == 1500 - 50
        assert dev.addresses == (lease.replace("/24", "/32"),)
        assert dev.local == NODE_IPS[name]


def test_one_route_arp_and_fdb_entry_per_remote_node() -> None:
    plan = plan_of("flannel")
    worker = plan.node("worker")
    for remote in ("control-plane", "worker2"):
        lease = LEASES[remote]
        gw = lease.split("/")[0]
        r = route_to(worker, lease)
        assert (r.via, r.dev, r.onlink) == (gw, "flannel.1", True)
        assert r.text() == f"{lease} via {gw} dev flannel.1 onlink"
        vtep = plan.node(remote).link("flannel.1")
        assert vtep is not None
        arp = [n for n in worker.neighbours if n.ip == gw]
        assert len(arp) == 1 and arp[0].mac == vtep.mac and arp[0].permanent and arp[0].dev == "flannel.1"
        fdb = [f for f in worker.fdb if f.mac == vtep.mac]
        assert len(fdb) == 1 and fdb[0].dst == NODE_IPS[remote] and fdb[0].dev == "flannel.1"
    # exactly one of each per remote node, none for itself
    assert len(worker.neighbours) == 2 and len(worker.fdb) == 2
    assert sum(1 for r in worker.routes if r.dev == "flannel.1") == 2


def test_vtep_macs_are_distinct_unicast_and_stable() -> None:
    a, b = plan_of("flannel"), plan_of("flannel")
    macs = [a.node(n).link("flannel.1").mac for n in LEASES]  # type: ignore[union-attr]
    assert len(set(macs)) == 3
    assert macs == [b.node(n).link("flannel.1").mac for n in LEASES]  # type: ignore[union-attr]
    for mac in macs:
        assert mac is not None and int(mac[:2], 16) & 1 == 0  # unicast


def test_node_routes_as_ip_route_shows_them() -> None:
    worker = plan_of("flannel").node("worker")
    assert routes(worker) == [
        "default via 172.18.0.1 dev eth0",
        "10.244.0.0/24 via 10.244.0.0 dev flannel.1 onlink",
        "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1",
        "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink",
        "172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.3",
    ]


def test_cni0_bridge_and_pods() -> None:
    plan = plan_of("flannel")
    worker = plan.node("worker")
    cni0 = worker.link("cni0")
    assert cni0 is not None and cni0.kind == "bridge"
    assert cni0.addresses == ("10.244.1.1/24",) and cni0.mtu == 1450
    pods = pods_on(plan, "worker")
    ips = sorted(p.ip for p in pods)
    assert ips == ["10.244.1.2", "10.244.1.3", "10.244.1.4"]  # host-local from .2
    for p in pods:
        assert re.fullmatch(r"veth[0-9a-f]{8}", p.host_if)
        veth = worker.link(p.host_if)
        assert veth is not None and veth.master == "cni0" and veth.mtu == 1450
        assert p.eth0.addresses == (f"{p.ip}/24",) and p.eth0.mtu == 1450
        assert [r.text() for r in p.routes] == [
            "default via 10.244.1.1 dev eth0",
            "10.244.0.0/16 via 10.244.1.1 dev eth0",
            f"10.244.1.0/24 dev eth0 proto kernel scope link src {p.ip}",
        ]
    # the bridge plugin makes cni0 with the node's first pod: the control plane runs none
    assert plan.node("control-plane").link("cni0") is None


def test_masquerade_rules() -> None:
    worker = plan_of("flannel").node("worker")
    c = '-m comment --comment "flanneld masq"'
    assert list(worker.nat) == [
        f"-A POSTROUTING {c} -j FLANNEL-POSTRTG",
        f"-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 {c} -j RETURN",
        f"-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 {c} -j RETURN",
        f"-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 {c} -j RETURN",
        f"-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 {c} -j RETURN",
        f"-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 {c} -j MASQUERADE --random-fully",
        f"-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 {c} -j MASQUERADE --random-fully",
    ]
    (m,) = worker.masquerade
    assert m.applies("10.244.1.2", "1.1.1.1", "eth0") and not m.applies("10.244.1.2", "10.244.2.2", "eth0")


def test_plugin_info() -> None:
    info = plan_of("flannel").plugin
    assert (info.name, info.mode, info.model, info.enforces_policy, info.service_proxy) == (
        "flannel", "vxlan", "overlay", False, "kube-proxy")
    assert plan_of("flannel", "host-gw").plugin.model == "underlay"


def test_host_gw_routes_via_node_addresses() -> None:
    plan = plan_of("flannel", "host-gw")
    worker = plan.node("worker")
    assert worker.link("flannel.1") is None and not worker.neighbours and not worker.fdb
    assert route_to(worker, "10.244.2.0/24").text() == "10.244.2.0/24 via 172.18.0.4 dev eth0"
    assert route_to(worker, "10.244.0.0/24").text() == "10.244.0.0/24 via 172.18.0.2 dev eth0"
    # no encapsulation: the pods get the NIC's MTU
    assert all(p.eth0.mtu == 1500 for p in web_pods(plan, "worker"))


def test_host_gw_across_subnets_cannot_add_the_route() -> None:
    plan = plan_of("flannel", "host-gw", nodes=TWO_SUBNETS)
    worker = plan.node("worker")
    assert [r for r in worker.routes if r.dst == "10.244.2.0/24"] == []
    assert route_to(worker, "10.244.0.0/24").via == "172.18.0.2"  # same subnet: fine
    assert any("network is unreachable" in w and "10.244.2.0/24" in w for w in worker.warnings)


def test_vxlan_direct_routing_within_a_subnet() -> None:
    plan = plan_of("flannel", "vxlan", nodes=TWO_SUBNETS, directRouting=True)
    worker = plan.node("worker")
    assert route_to(worker, "10.244.0.0/24").text() == "10.244.0.0/24 via 172.18.0.2 dev eth0"
    assert route_to(worker, "10.244.2.0/24").text() == "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"
    assert [n.ip for n in worker.neighbours] == ["10.244.2.0"]


def test_plugin_mtu_and_node_mtu() -> None:
    assert plan_of("flannel", mtu=1400).node("worker").link("flannel.1").mtu == 1400  # type: ignore[union-attr]
    jumbo = [{"role": "control-plane", "mtu": 9000}, {"mtu": 9000}, {"mtu": 9000}]
    plan = plan_of("flannel", nodes=jumbo)
    assert plan.node("worker").link("flannel.1").mtu == 8950  # type: ignore[union-attr]
    assert plan.node("worker").link("eth0").mtu == 9000  # type: ignore[union-attr]


def test_vni_and_port_options() -> None:
    plan = plan_of("flannel", vni=4096, port=4789)
    dev = plan.node("worker").link("flannel.4096")
    assert dev is not None and dev.vni == 4096 and dev.port == 4789
    assert route_to(plan.node("worker"), "10.244.2.0/24").dev == "flannel.4096"


# ----------------------------------------------------------------------------- dual stack
# flannel's vxlan.go: with EnableIPv6 a second device "flannel-v6.<VNI>" whose vtepAddr is the
# node's IPv6 address; handleSubnetEvents adds, per remote lease, the IPv6 twins of the route,
# neighbour and FDB entries (v6Sn, v6VtepMAC, PublicIPv6). The kernel gives a VXLAN device over
# IPv6 its lower device's MTU minus 70 (VXLAN6_HEADROOM); FLANNEL_MTU stays network.MTU(), the
# IPv4 device's.

DUAL = {"podSubnet": "10.244.0.0/16,fd00:10:244::/56",
        "serviceSubnet": "10.96.0.0/12,fd00:10:96::/112"}


def dual_plan(mode: str = "vxlan", **doc: Any) -> NetworkPlan:
    config = parse_config({"plugin": {"name": "flannel", "mode": mode}, "systemObjects": False,
                           "networking": DUAL, **doc}, DEFAULT)
    return build_plan(admit(parse_text(APP, "example.yaml"), config).state)


def test_dual_stack_vxlan_has_an_ipv6_twin_of_everything() -> None:
    plan = dual_plan()
    assert plan.ipv6 and not plan.ipv6_unplanned
    worker = plan.node("worker")
    assert worker.pod_cidrs == ("10.244.1.0/24", "fd00:10:244:1::/64")
    eth0 = worker.link("eth0")
    assert eth0 is not None and "fc00:f853:ccd:e793::3/64" in eth0.addresses
    dev6 = worker.link("flannel-v6.1")
    assert dev6 is not None and dev6.kind == "vxlan" and dev6.vni == 1
    assert dev6.local == "fc00:f853:ccd:e793::3" and dev6.mtu == 1500 - 70
    assert dev6.addresses == ("fd00:10:244:1::/128",)
    cni0 = worker.link("cni0")
    assert cni0 is not None and cni0.addresses == ("10.244.1.1/24", "fd00:10:244:1::1/64")
    assert cni0.mtu == 1450  # FLANNEL_MTU: the IPv4 device's
    r = route_to(worker, "fd00:10:244:2::/64")
    assert r.text() == "fd00:10:244:2::/64 via fd00:10:244:2:: dev flannel-v6.1 onlink"
    mac = plan.node("worker2").link("flannel-v6.1")
    assert mac is not None and mac.mac != plan.node("worker2").link("flannel.1").mac  # type: ignore[union-attr]
    assert any(n.ip == "fd00:10:244:2::" and n.mac == mac.mac and n.dev == "flannel-v6.1"
               for n in worker.neighbours)
    assert any(f.mac == mac.mac and f.dst == "fc00:f853:ccd:e793::4" for f in worker.fdb)
    defaults = [r for r in worker.routes if r.dst == "default"]
    assert [(r.version, r.via) for r in defaults] == [(4, "172.18.0.1"),
                                                     (6, "fc00:f853:ccd:e793::1")]
    assert worker.sysctls["net.ipv6.conf.all.forwarding"] == "1"
    assert any(m.sources == ("fd00:10:244::/56",) for m in worker.masquerade)
    assert plan.underlay.interfaces[0].address6 == "fc00:f853:ccd:e793::1/64"
    pod = pods_on(plan, "worker")[0]
    v6 = [a for a in pod.eth0.addresses if ":" in a]
    assert len(v6) == 1 and v6[0].startswith("fd00:10:244:1::") and v6[0].endswith("/64")
    assert "default via fd00:10:244:1::1 dev eth0" in [r.text() for r in pod.routes]


def test_dual_stack_host_gw_routes_ipv6_leases_via_node_ipv6_addresses() -> None:
    worker = dual_plan("host-gw").node("worker")
    assert worker.link("flannel-v6.1") is None
    assert route_to(worker, "fd00:10:244:2::/64").text() == \
        "fd00:10:244:2::/64 via fc00:f853:ccd:e793::4 dev eth0"


def test_dual_stack_is_left_to_the_model_where_the_plan_cannot_wire_it() -> None:
    two = dual_plan(nodes=TWO_SUBNETS)
    assert not two.ipv6 and "several subnets" in two.ipv6_unplanned
    assert two.node("worker").link("flannel-v6.1") is None
    config = parse_config({"plugin": {"name": "calico", "mode": "vxlan"}, "systemObjects": False,
                           "networking": DUAL}, DEFAULT)
    calico = build_plan(admit(parse_text(APP, "example.yaml"), config).state)
    assert not calico.ipv6 and "calico" in calico.ipv6_unplanned
    # IPv4-only clusters: nothing changes
    assert not plan_of("flannel").ipv6 and plan_of("flannel").ipv6_unplanned == ""
