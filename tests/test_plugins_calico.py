"""Calico's plan for the 3-node example against what calico-node, Felix, BIRD and the Calico CNI
plugin create.

Sources (projectcalico/calico):

- ``libcalico-go/lib/backend/k8s/conversion``: ``VethNameForWorkload`` = ``cali`` + 11 hex of
  sha1("<namespace>.<pod>"); conversion_test.go expects ``cali7f94ce7c295`` for default/podA.
- ``cni-plugin/pkg/dataplane/linux/dataplane_linux.go``: host side MAC ``ee:ee:ee:ee:ee:ee``;
  in the pod ``169.254.1.1/32 dev eth0 scope link`` and the default route via 169.254.1.1; on the
  host ``<pod>/32 dev cali… scope link``; sysctls ``route_localnet=1``, ``proxy_delay=0``,
  ``proxy_arp=1``, ``forwarding=1`` on the host side.
- ``felix/config/config_params.go``: ``VXLANPort 4789``, ``VXLANVNI 4096``;
  ``felix/dataplane/linux/int_dataplane.go``: ``ipipMTUOverhead = 20``, ``vxlanMTUOverhead = 50``.
- ``felix/dataplane/linux/ipip_mgr.go``: IPIP routes ``TargetTypeOnLink`` via the node's address
  with ``MTU: IPIPMTU`` (ProgramClusterRoutes defaults to EnabledIPIPOnly); ``vxlan_mgr.go``:
  VXLAN routes via the remote VTEP's tunnel address, onlink (``routetable/defs.go``), plus the
  VTEP's ARP and FDB entries; ``route_mgr.go``: ``blackhole`` for the node's own blocks,
  protocol 80 (``dataplanedefs.DefaultRouteProto``), same-subnet routes ``TargetTypeNoEncap`` via
  the node's address when the pool is CrossSubnet.
- docs: default IPPool 192.168.0.0/16, blockSize 26, natOutgoing true; BGP node-to-node mesh,
  AS 64512, TCP 179.
"""

from __future__ import annotations

import hashlib
import ipaddress

import pytest

from podnet.cluster.reconcile import reconcile
from podnet.plugins import build_plan, context_of
from podnet.plugins.calico import bgp_view
from podnet.plugins.naming import calico_veth_name
from test_plugins_support import NODE_IPS, TWO_SUBNETS, cluster, plan_of, pods_on, route_to, routes

BLOCKS = {"control-plane": "192.168.0.0/26", "worker": "192.168.0.64/26", "worker2": "192.168.0.128/26"}


def test_veth_name_matches_libcalico_go() -> None:
    assert calico_veth_name("default", "podA") == "cali7f94ce7c295"
    expected = "cali" + hashlib.sha1(b"demo.db").hexdigest()[:11]
    assert calico_veth_name("demo", "db") == expected and len(expected) == 15


def test_blocks_affine_to_nodes() -> None:
    plan = plan_of("calico")
    for name, block in BLOCKS.items():
        assert plan.node(name).pod_cidrs == (block,)


def test_pods_take_addresses_of_their_node_block() -> None:
    plan = plan_of("calico")
    for name in ("worker", "worker2"):
        block = ipaddress.ip_network(BLOCKS[name])
        ips = sorted(ipaddress.ip_address(p.ip) for p in pods_on(plan, name))
        assert all(ip in block for ip in ips)
        # ordinal 0 is the node's tunnel address (allocated first by calico-node): pods from 1
        assert [int(ip) - int(block.network_address) for ip in ips] == list(range(1, len(ips) + 1))


def test_pod_side() -> None:
    plan = plan_of("calico")
    for p in pods_on(plan, "worker"):
        ns, _, name = p.name.partition("/")
        assert p.host_if == calico_veth_name(ns, name)
        assert p.eth0.addresses == (f"{p.ip}/32",) and p.eth0.mtu == 1480
        assert [r.text() for r in p.routes] == ["default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link"]
        assert p.neighbours == ()  # the host answers 169.254.1.1 by proxy ARP


def test_host_side_of_each_pod() -> None:
    plan = plan_of("calico")
    worker = plan.node("worker")
    for p in pods_on(plan, "worker"):
        link = worker.link(p.host_if)
        assert link is not None and link.mac == "ee:ee:ee:ee:ee:ee" and link.master is None
        assert route_to(worker, p.ip).text() == f"{p.ip} dev {p.host_if} scope link"
        assert worker.sysctls[f"net.ipv4.conf.{p.host_if}.proxy_arp"] == "1"
        assert worker.sysctls[f"net.ipv4.neigh.{p.host_if}.proxy_delay"] == "0"
        assert worker.sysctls[f"net.ipv4.conf.{p.host_if}.forwarding"] == "1"
        assert worker.sysctls[f"net.ipv4.conf.{p.host_if}.route_localnet"] == "1"


def test_ipip_mode() -> None:
    plan = plan_of("calico")
    worker = plan.node("worker")
    tunl0 = worker.link("tunl0")
    assert tunl0 is not None and tunl0.kind == "ipip" and tunl0.mtu == 1480
    assert tunl0.addresses == ("192.168.0.64/32",)
    assert route_to(worker, "192.168.0.64/26").text() == "blackhole 192.168.0.64/26 proto 80"
    for remote in ("control-plane", "worker2"):
        r = route_to(worker, BLOCKS[remote])
        assert r.text() == f"{BLOCKS[remote]} via {NODE_IPS[remote]} dev tunl0 proto 80 onlink mtu 1480"
    assert not worker.neighbours and not worker.fdb
    assert plan.plugin.model == "overlay" and plan.plugin.enforces_policy


def test_vxlan_mode() -> None:
    plan = plan_of("calico", "vxlan")
    worker = plan.node("worker")
    dev = worker.link("vxlan.calico")
    assert dev is not None and (dev.vni, dev.port, dev.mtu) == (4096, 4789, 1450)
    assert dev.addresses == ("192.168.0.64/32",) and dev.local == "172.18.0.3"
    remote_vtep = plan.node("worker2").link("vxlan.calico")
    assert remote_vtep is not None
    r = route_to(worker, "192.168.0.128/26")
    assert r.text() == "192.168.0.128/26 via 192.168.0.128 dev vxlan.calico onlink mtu 1450"
    (arp,) = [n for n in worker.neighbours if n.ip == "192.168.0.128"]
    assert arp.mac == remote_vtep.mac and arp.permanent
    (fdb,) = [f for f in worker.fdb if f.mac == remote_vtep.mac]
    assert fdb.dst == "172.18.0.4"
    assert all(p.eth0.mtu == 1450 for p in pods_on(plan, "worker"))


def test_bgp_mode_has_no_tunnel() -> None:
    plan = plan_of("calico", "bgp")
    worker = plan.node("worker")
    assert worker.link("tunl0") is None and worker.link("vxlan.calico") is None
    assert route_to(worker, "192.168.0.128/26").text() == "192.168.0.128/26 via 172.18.0.4 dev eth0 proto bird"
    # no tunnel address: the pods start at ordinal 0
    assert min(ipaddress.ip_address(p.ip) for p in pods_on(plan, "worker")) == ipaddress.ip_address("192.168.0.64")
    assert all(p.eth0.mtu == 1500 for p in pods_on(plan, "worker"))
    assert plan.plugin.model == "underlay"


def test_cross_subnet() -> None:
    plan = plan_of("calico", "ipip", nodes=TWO_SUBNETS, crossSubnet=True)
    worker = plan.node("worker")
    # same subnet: plain route, no encapsulation; other subnet: IPIP
    assert route_to(worker, "192.168.0.0/26").text() == "192.168.0.0/26 via 172.18.0.2 dev eth0 proto 80 onlink"
    assert route_to(worker, "192.168.0.128/26").text() == \
        "192.168.0.128/26 via 172.19.0.2 dev tunl0 proto 80 onlink mtu 1480"
    vx = plan_of("calico", "vxlan", nodes=TWO_SUBNETS, crossSubnet=True).node("worker")
    assert route_to(vx, "192.168.0.0/26").dev == "eth0"
    assert route_to(vx, "192.168.0.128/26").dev == "vxlan.calico"
    assert [n.ip for n in vx.neighbours] == ["192.168.0.128"]


def test_bgp_across_subnets_resolves_to_the_router() -> None:
    worker = plan_of("calico", "bgp", nodes=TWO_SUBNETS).node("worker")
    assert route_to(worker, "192.168.0.128/26").text() == "192.168.0.128/26 via 172.18.0.1 dev eth0 proto bird"
    assert any("gateway recursive" in w for w in worker.warnings)


def test_nat_outgoing() -> None:
    worker = plan_of("calico").node("worker")
    assert any("MASQUERADE" in line and "cali40masq-ipam-pools" in line for line in worker.nat)
    (m,) = worker.masquerade
    assert m.applies("192.168.0.65", "1.1.1.1", "eth0") and not m.applies("192.168.0.65", "192.168.0.130", "eth0")
    assert plan_of("calico", natOutgoing=False).node("worker").masquerade == ()


def test_node_podcidr_is_not_calicos() -> None:
    # kube-controller-manager still writes spec.podCIDR (/24s of the pool); Calico ignores it
    st = cluster("calico")
    assert st.node("worker").spec.pod_cidr == "192.168.1.0/24"  # type: ignore[union-attr]
    assert build_plan(st).node("worker").pod_cidrs == ("192.168.0.64/26",)


def test_a_full_block_spills_into_a_second_one() -> None:
    extra = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: demo}}\n"
        f"spec: {{nodeName: worker2, containers: [{{name: c, image: x}}]}}\n"
        for i in range(70)
    )
    st = cluster("calico", extra=extra)
    plan = build_plan(st)
    blocks = plan.node("worker2").pod_cidrs
    assert blocks[0] == "192.168.0.128/26" and len(blocks) == 2
    # block 2 from the top of 192.168.0.0/16 (1024 blocks): 192.168.255.64/26
    assert blocks[1] == "192.168.255.64/26"
    assert all(p.ips for p in st.pods("demo"))
    assert route_to(plan.node("worker"), "192.168.255.64/26").dev == "tunl0"


def test_block_size_option_and_exhaustion() -> None:
    extra = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: demo}}\n"
        f"spec: {{nodeName: worker, containers: [{{name: c, image: x}}]}}\n"
        for i in range(16)
    )
    st = cluster("calico", blockSize=29, extra=extra)  # 8 addresses per block
    plan = build_plan(st)
    assert plan.node("worker").pod_cidrs[0] == "192.168.0.8/29"
    pending = [p for p in st.pods("demo") if not p.ips]
    on_worker = [p for p in st.pods("demo") if p.spec.node_name == "worker"]
    # two /29 blocks hold 16 addresses, one of which is the tunnel's
    assert len(on_worker) > 15 and len(pending) == len(on_worker) - 15
    assert "failed to request 1 IPv4 addresses" in pending[0].status.message


def test_addresses_are_kept_across_reconciles() -> None:
    st = cluster("calico")
    again = reconcile(st.config, [st.objects[r] for r in st.applied], previous=st)
    assert sorted(p.ip for p in build_plan(st).pods) == sorted(p.ip for p in build_plan(again).pods)


def test_bgp_view() -> None:
    plan = plan_of("calico", "bgp")
    view = bgp_view(context_of(plan))
    assert view.asn == 64512 and view.mesh
    doc = view.to_dict()
    assert doc["port"] == 179
    worker = next(n for n in view.nodes if n.name == "worker")
    assert worker.advertises == ("192.168.0.64/26",)
    assert [(p.address, p.type, p.info) for p in worker.peers] == [
        ("172.18.0.2", "node-to-node mesh", "Established"), ("172.18.0.4", "node-to-node mesh", "Established")]
    peer2 = worker.peers[1]
    assert peer2.received == ("192.168.0.128/26",)
    assert peer2.installed == ("192.168.0.128/26 via 172.18.0.4 dev eth0 proto bird",)


@pytest.mark.parametrize("asn", [64512, 65001])
def test_as_number_option(asn: int) -> None:
    view = bgp_view(context_of(plan_of("calico", "bgp", asNumber=asn)))
    assert view.asn == asn and all(p.asn == asn for n in view.nodes for p in n.peers)


def test_routes_of_worker_in_ip_route_order() -> None:
    worker = plan_of("calico").node("worker")
    text = routes(worker)
    assert text[0] == "default via 172.18.0.1 dev eth0"
    assert text.index("192.168.0.0/26 via 172.18.0.2 dev tunl0 proto 80 onlink mtu 1480") < \
        text.index("blackhole 192.168.0.64/26 proto 80")
