"""Tests for podnet.cluster.nodes: nodes as kubelet, kubeadm, kind and the node IPAM leave them.

Expectations come from upstream: kubelet's well-known labels (k8s.io/api/core/v1
well_known_labels.go), kubeadm's control-plane label/taint and exclude-from-external-load-balancers
label, kind's removal of both on single-node clusters (kubeadminit/init.go), kind's docker network
(172.18.0.0/16, nodes from .2) and kube-controller-manager's /24 (IPv6 /64) node CIDRs.
"""

from __future__ import annotations

from dataclasses import replace

from podnet.api.core import Node, NodeAddress, NodeSpec, NodeStatus, Taint
from podnet.api.frozen import FrozenDict
from podnet.api.meta import ObjectMeta
from podnet.cluster.config import DEFAULT, ClusterConfig, NodeConfig, parse_config
from podnet.cluster.nodes import build_nodes
from podnet.cluster.state import ClusterState

CP_TAINT = Taint(key="node-role.kubernetes.io/control-plane", effect="NoSchedule")


def by_name(nodes: tuple[Node, ...]) -> dict[str, Node]:
    return {n.metadata.name: n for n in nodes}


def state(config: ClusterConfig, nodes: tuple[Node, ...]) -> ClusterState:
    return ClusterState(config=config, objects={n.ref: n for n in nodes})


def test_default_cluster_is_kinds_three_nodes() -> None:
    nodes = build_nodes(DEFAULT, [], None)
    assert [n.metadata.name for n in nodes] == ["control-plane", "worker", "worker2"]
    assert [n.spec.pod_cidrs for n in nodes] == [
        ("10.244.0.0/24",),
        ("10.244.1.0/24",),
        ("10.244.2.0/24",),
    ]
    assert [n.spec.pod_cidr for n in nodes] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    assert [n.internal_ips for n in nodes] == [("172.18.0.2",), ("172.18.0.3",), ("172.18.0.4",)]
    for n in nodes:
        assert n.status.addresses[-1] == NodeAddress(type="Hostname", address=n.metadata.name)


def test_kubelet_labels_on_every_node() -> None:
    worker = by_name(build_nodes(DEFAULT, [], None))["worker"]
    assert dict(worker.metadata.labels) == {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "worker",
        "kubernetes.io/os": "linux",
    }
    assert worker.spec.taints == ()


def test_control_plane_role_label_taint_and_lb_exclusion_in_multi_node_cluster() -> None:
    cp = by_name(build_nodes(DEFAULT, [], None))["control-plane"]
    assert cp.metadata.labels["node-role.kubernetes.io/control-plane"] == ""
    assert cp.metadata.labels["node.kubernetes.io/exclude-from-external-load-balancers"] == ""
    assert cp.spec.taints == (CP_TAINT,)
    assert cp.is_control_plane


def test_single_node_cluster_has_no_taint_and_no_lb_exclusion() -> None:
    (cp,) = build_nodes(DEFAULT.with_node_count(1), [], None)
    assert cp.metadata.labels["node-role.kubernetes.io/control-plane"] == ""
    assert "node.kubernetes.io/exclude-from-external-load-balancers" not in cp.metadata.labels
    assert cp.spec.taints == ()


def test_multi_control_plane_without_workers_keeps_taint_as_kind_does() -> None:
    cfg = replace(
        DEFAULT,
        nodes=(
            NodeConfig(name="cp1", role="control-plane"),
            NodeConfig(name="cp2", role="control-plane"),
        ),
    )
    assert all(n.spec.taints == (CP_TAINT,) for n in build_nodes(cfg, [], None))


def test_node_status_conditions_and_capacity() -> None:
    node = build_nodes(DEFAULT, [], None)[1]
    conditions = {c.type: c for c in node.status.conditions}
    assert [c.type for c in node.status.conditions] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert conditions["Ready"].status == "True"
    assert conditions["Ready"].reason == "KubeletReady"
    assert all(conditions[t].status == "False" for t in ("MemoryPressure", "DiskPressure", "PIDPressure"))
    assert node.ready
    assert node.status.capacity["pods"] == "110"
    assert node.status.allocatable["pods"] == "110"


def test_config_labels_are_added() -> None:
    cfg = parse_config({"nodes": [{"role": "control-plane"}, {"role": "worker", "labels": {"disk": "ssd"}}]})
    worker = by_name(build_nodes(cfg, [], None))["worker"]
    assert worker.metadata.labels["disk"] == "ssd"
    assert worker.metadata.labels["kubernetes.io/hostname"] == "worker"


def test_explicit_internal_ip_and_pod_cidr_are_honoured_and_skipped_by_the_pool() -> None:
    cfg = parse_config(
        {
            "nodes": [
                {"role": "control-plane"},
                {"role": "worker", "internalIP": "172.18.0.2", "podCIDR": "10.244.7.0/24"},
                {"role": "worker"},
            ]
        }
    )
    nodes = by_name(build_nodes(cfg, [], None))
    assert nodes["worker"].internal_ips == ("172.18.0.2",)
    assert nodes["worker"].spec.pod_cidrs == ("10.244.7.0/24",)
    assert nodes["control-plane"].internal_ips == ("172.18.0.3",)
    assert nodes["worker2"].internal_ips == ("172.18.0.4",)
    assert nodes["control-plane"].spec.pod_cidr == "10.244.0.0/24"
    assert nodes["worker2"].spec.pod_cidr == "10.244.2.0/24"


def test_node_subnet_gives_addresses_from_that_subnet() -> None:
    cfg = parse_config(
        {
            "nodes": [
                {"role": "control-plane"},
                {"role": "worker", "subnet": "10.1.0.0/24"},
                {"role": "worker", "subnet": "10.1.0.0/24"},
                {"role": "worker", "subnet": "10.2.0.0/24"},
                {"role": "worker"},
            ]
        }
    )
    ips = {n.metadata.name: n.internal_ips for n in build_nodes(cfg, [], None)}
    assert ips == {
        "control-plane": ("172.18.0.2",),
        "worker": ("10.1.0.2",),
        "worker2": ("10.1.0.3",),
        "worker3": ("10.2.0.2",),
        "worker4": ("172.18.0.3",),
    }


def test_dual_stack_nodes_get_one_block_and_one_address_per_family() -> None:
    cfg = parse_config({"networking": {"podSubnet": "10.244.0.0/16,fd00:10:244::/56"}})
    nodes = build_nodes(cfg, [], None)
    assert nodes[1].spec.pod_cidrs == ("10.244.1.0/24", "fd00:10:244:1::/64")
    assert nodes[1].spec.pod_cidr == "10.244.1.0/24"
    assert nodes[1].internal_ips == ("172.18.0.3", "fc00:f853:ccd:e793::3")


def test_ipv6_only_cluster_uses_64_blocks_and_ipv6_node_addresses() -> None:
    cfg = parse_config({"networking": {"podSubnet": "fd00:10:244::/56"}})
    nodes = build_nodes(cfg, [], None)
    assert [n.spec.pod_cidr for n in nodes] == [
        "fd00:10:244::/64",
        "fd00:10:244:1::/64",
        "fd00:10:244:2::/64",
    ]
    assert nodes[0].internal_ips == ("fc00:f853:ccd:e793::2",)


def test_plugin_default_pod_subnet() -> None:
    cfg = DEFAULT.with_plugin("calico")
    assert build_nodes(cfg, [], None)[1].spec.pod_cidr == "192.168.1.0/24"


def test_nodes_beyond_the_cluster_cidr_get_no_pod_cidr() -> None:
    # 10.244.0.0/16 holds 256 /24 blocks: kube-controller-manager leaves node 257 without one.
    nodes = build_nodes(DEFAULT.with_node_count(258), [], None)
    assert nodes[255].spec.pod_cidr == "10.244.255.0/24"
    assert nodes[256].spec.pod_cidrs == () and nodes[257].spec.pod_cidr == ""


def test_given_nodes_define_the_cluster_and_keep_what_they_carry() -> None:
    given = [
        Node(
            metadata=ObjectMeta(name="n1", labels=FrozenDict({"zone": "a", "kubernetes.io/arch": "arm64"})),
            spec=NodeSpec(pod_cidr="10.244.5.0/24", pod_cidrs=("10.244.5.0/24",)),
            status=NodeStatus(addresses=(NodeAddress(type="InternalIP", address="192.168.1.10"),)),
        ),
        Node(metadata=ObjectMeta(name="n2")),
    ]
    nodes = build_nodes(DEFAULT, given, None)
    assert [n.metadata.name for n in nodes] == ["n1", "n2"]
    n1, n2 = nodes
    assert n1.spec.pod_cidrs == ("10.244.5.0/24",)
    assert n1.internal_ips == ("192.168.1.10",)
    assert n1.metadata.labels["zone"] == "a"
    assert n1.metadata.labels["kubernetes.io/arch"] == "arm64"  # kept, not overwritten
    assert n1.metadata.labels["kubernetes.io/hostname"] == "n1"  # filled in
    assert n1.spec.taints == ()
    assert n2.spec.pod_cidrs == ("10.244.1.0/24",)
    assert n2.internal_ips == ("172.18.0.2",)
    assert n2.ready and n2.status.allocatable["pods"] == "110"
    assert n2.metadata.uid


def test_given_node_without_cidr_skips_blocks_other_given_nodes_hold() -> None:
    given = [
        Node(metadata=ObjectMeta(name="a")),
        Node(metadata=ObjectMeta(name="b"), spec=NodeSpec(pod_cidr="10.244.0.0/24")),
    ]
    a, b = build_nodes(DEFAULT, given, None)
    assert b.spec.pod_cidrs == ("10.244.0.0/24",)
    assert a.spec.pod_cidrs == ("10.244.1.0/24",)


def test_previous_nodes_keep_their_cidrs_and_addresses_when_a_node_goes() -> None:
    before = build_nodes(DEFAULT, [], None)
    cfg = replace(DEFAULT, nodes=(DEFAULT.nodes[0], DEFAULT.nodes[2]))  # "worker" removed
    after = by_name(build_nodes(cfg, [], state(DEFAULT, before)))
    assert after["worker2"].spec.pod_cidrs == ("10.244.2.0/24",)
    assert after["worker2"].internal_ips == ("172.18.0.4",)
    # Without the previous state, worker2 would be renumbered as the second node.
    fresh = by_name(build_nodes(cfg, [], None))
    assert fresh["worker2"].spec.pod_cidrs == ("10.244.1.0/24",)


def test_added_node_takes_a_free_block_and_address() -> None:
    before = build_nodes(DEFAULT, [], None)
    cfg = replace(DEFAULT, nodes=(DEFAULT.nodes[0], DEFAULT.nodes[2]))
    middle = build_nodes(cfg, [], state(DEFAULT, before))
    bigger = replace(DEFAULT, nodes=(DEFAULT.nodes[0], DEFAULT.nodes[2], NodeConfig(name="worker3")))
    after = by_name(build_nodes(bigger, [], state(cfg, middle)))
    assert after["worker2"].spec.pod_cidrs == ("10.244.2.0/24",)
    assert after["worker3"].spec.pod_cidrs == ("10.244.3.0/24",)  # block 2 (its index) is taken
    assert after["worker3"].internal_ips == ("172.18.0.3",)  # lowest free address


def test_deterministic() -> None:
    cfg = parse_config({"networking": {"podSubnet": "10.244.0.0/16,fd00:10:244::/56"}}).with_node_count(20)
    a = [n.to_dict() for n in build_nodes(cfg, [], None)]
    b = [n.to_dict() for n in build_nodes(cfg, [], None)]
    assert a == b
    assert len({n["metadata"]["uid"] for n in a}) == 20


def test_five_thousand_nodes_with_a_large_pod_network() -> None:
    cfg = parse_config({"networking": {"podSubnet": "10.0.0.0/8"}}).with_node_count(5000)
    nodes = build_nodes(cfg, [], None)
    assert nodes[-1].spec.pod_cidr == "10.19.135.0/24"  # block 4999 = 19 * 256 + 135 and nodes[4999].metadata.name == "worker4999"
    assert len({n.spec.pod_cidr for n in nodes}) == 5000
    assert len({n.internal_ips for n in nodes}) == 5000
