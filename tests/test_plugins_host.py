"""The host-based model against the AWS VPC CNI (aws/amazon-vpc-cni-k8s).

Sources:

- ``pkg/networkutils/names.go`` ``GeneratePodHostVethName``: prefix ``eni`` + 11 hex of
  sha1("<ns>.<pod>"); names_test.go expects ``enib5faff8a083`` for
  kube-system/coredns-57ff979f67-qqbdh.
- ``cmd/routed-eni-cni-plugin/driver/driver.go`` ``setupVeth``: in the pod ``169.254.1.1 dev
  eth0`` (scope link), ``default via 169.254.1.1 dev eth0``, the /32 address and a permanent ARP
  entry for 169.254.1.1 with the host veth's MAC; ``setupIPBasedContainerRouteRules``: on the
  host ``<pod>/32 dev eni… scope link`` in the main table.
- ``pkg/networkutils/network.go``: ``AWS-SNAT-CHAIN-0`` (RETURN for the VPC CIDRs, then SNAT to
  the primary address); the ENI MTU is the pods' MTU (no encapsulation).
"""

from __future__ import annotations

import ipaddress

from podnet.plugins import build_plan
from podnet.plugins.naming import eni_veth_name
from test_plugins_support import TWO_SUBNETS, cluster, plan_of, pods_on, route_to


def test_veth_name_matches_the_aws_vpc_cni() -> None:
    assert eni_veth_name("kube-system", "coredns-57ff979f67-qqbdh") == "enib5faff8a083"


def test_pods_take_addresses_of_the_node_subnet() -> None:
    plan = plan_of("host")
    subnet = ipaddress.ip_network("172.18.0.0/16")
    for node in ("worker", "worker2"):
        held = ipaddress.ip_network(plan.node(node).pod_cidrs[0])
        assert held.subnet_of(subnet)  # type: ignore[arg-type]
        for p in pods_on(plan, node):
            assert ipaddress.ip_address(p.ip) in held
    # node addresses, the gateway and the LoadBalancer pool are never pod addresses
    taken = {p.ip for p in plan.pods}
    assert not taken & {"172.18.0.1", "172.18.0.2", "172.18.0.3", "172.18.0.4"}
    assert plan.plugin.model == "host-based" and not plan.plugin.enforces_policy


def test_pod_and_host_side() -> None:
    plan = plan_of("host")
    worker = plan.node("worker")
    for p in pods_on(plan, "worker"):
        ns, _, name = p.name.partition("/")
        assert p.host_if == eni_veth_name(ns, name)
        veth = worker.link(p.host_if)
        assert veth is not None
        assert p.eth0.addresses == (f"{p.ip}/32",) and p.eth0.mtu == 1500
        assert [r.text() for r in p.routes] == ["default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link"]
        (arp,) = p.neighbours
        assert (arp.ip, arp.mac, arp.permanent) == ("169.254.1.1", veth.mac, True)
        assert route_to(worker, p.ip).text() == f"{p.ip} dev {p.host_if} scope link"
    assert not worker.neighbours and not worker.fdb
    assert worker.sysctls["net.ipv4.conf.eth0.proxy_arp"] == "1"


def test_snat_chain() -> None:
    worker = plan_of("host").node("worker")
    assert worker.nat[0] == '-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0'
    assert '-A AWS-SNAT-CHAIN-0 -d 172.18.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j RETURN' in worker.nat
    assert worker.nat[-1].endswith("-j SNAT --to-source 172.18.0.3 --random-fully")


def test_nodes_on_their_own_subnets() -> None:
    plan = plan_of("host", nodes=TWO_SUBNETS)
    # control-plane and worker share 172.18.0.0/24: a /25 each; worker2 holds 172.19.0.0/24
    assert plan.node("control-plane").pod_cidrs == ("172.18.0.0/25",)
    assert plan.node("worker").pod_cidrs == ("172.18.0.128/25",)
    assert plan.node("worker2").pod_cidrs == ("172.19.0.0/24",)
    assert all(ipaddress.ip_address(p.ip) in ipaddress.ip_network("172.19.0.0/24") for p in pods_on(plan, "worker2"))


def test_address_capacity_bounds_pods() -> None:
    nodes = [{"role": "control-plane", "subnet": "10.9.0.0/28"}, {"subnet": "10.9.0.16/28"}, {"subnet": "10.9.0.32/28"}]
    extra = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: demo}}\n"
        f"spec: {{nodeName: worker, containers: [{{name: c, image: x}}]}}\n"
        for i in range(15)
    )
    st = cluster("host", nodes=nodes, extra=extra)
    on_worker = [p for p in st.pods("demo") if p.spec.node_name == "worker"]
    # a /28: 16 addresses less network, gateway, broadcast and the node's own = 12
    with_ip = [p for p in on_worker if p.ips]
    assert len(with_ip) == 12
    pending = [p for p in on_worker if not p.ips]
    assert pending and all(p.status.phase == "Pending" for p in pending)
    assert "failed to assign an IP address to container" in pending[0].status.message
    assert len(build_plan(st).node("worker").pod_cidrs) == 1
