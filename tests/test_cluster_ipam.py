"""Tests for podnet.cluster.ipam: CNI host-local IPAM on the node podCIDRs, and pod status.

Upstream behaviour: host-local reserves the gateway (.1) and hands out .2 upward, never the IPv4
broadcast address, reporting ``failed to allocate for range 0: no IP addresses available in
range set: <first>-<last>`` when full; a dual-stack pod gets one address per family
(``status.podIPs``, ``status.podIP`` the first); hostNetwork pods report the node's InternalIP;
kubelet's conditions of a started pod are PodReadyToStartContainers, Initialized, Ready,
ContainersReady and PodScheduled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from podnet.api.core import Node, Pod, PodIP, PodStatus
from podnet.api.defaults import apply_defaults
from podnet.api.scheme import decode_object
from podnet.cluster import ipam as ipam_module
from podnet.cluster.config import DEFAULT, ClusterConfig, parse_config
from podnet.cluster.ipam import IPAMError, NodeCIDRIPAM, assign, register_ipam
from podnet.cluster.nodes import build_nodes
from podnet.cluster.state import ClusterState

NODES = build_nodes(DEFAULT, [], None)


def pod(name: str, node: str = "worker", spec: Mapping[str, Any] | None = None, status: Mapping[str, Any] | None = None) -> Pod:
    body: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}], "nodeName": node}
    body.update(spec or {})
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}
    if status is not None:
        doc["status"] = status
    p = apply_defaults(decode_object(doc))
    assert isinstance(p, Pod)
    return p


def ips(pods: Sequence[Pod]) -> list[str]:
    return [p.status.pod_ip for p in pods]


def test_pods_get_addresses_from_their_nodes_pod_cidr_from_dot_two() -> None:
    out = assign([pod("a"), pod("b"), pod("c", "worker2"), pod("d", "control-plane")], NODES, DEFAULT, None)
    assert ips(out) == ["10.244.1.2", "10.244.1.3", "10.244.2.2", "10.244.0.2"]


def test_running_status_as_kubelet_writes_it() -> None:
    (p,) = assign([pod("a")], NODES, DEFAULT, None)
    assert p.status.phase == "Running"
    assert p.status.pod_ip == "10.244.1.2"
    assert p.status.pod_ips == (PodIP(ip="10.244.1.2"),)
    assert p.status.host_ip == "172.18.0.3"
    assert p.status.host_ips == (PodIP(ip="172.18.0.3"),)
    assert [(c.type, c.status) for c in p.status.conditions] == [
        ("PodReadyToStartContainers", "True"),
        ("Initialized", "True"),
        ("Ready", "True"),
        ("ContainersReady", "True"),
        ("PodScheduled", "True"),
    ]
    assert p.ready


def test_addresses_in_given_statuses_are_never_handed_out_again() -> None:
    pinned = pod("pinned", status={"phase": "Running", "podIP": "10.244.1.2", "podIPs": [{"ip": "10.244.1.2"}]})
    # The pinned pod comes after: its address is still taken first.
    out = assign([pod("a"), pinned, pod("b")], NODES, DEFAULT, None)
    assert ips(out) == ["10.244.1.3", "10.244.1.2", "10.244.1.4"]
    assert out[1].status.pod_ip == "10.244.1.2"
    assert out[1].status.host_ip == "172.18.0.3"  # filled in: kubelet would have written it


def test_pinned_address_in_another_place_is_also_skipped() -> None:
    elsewhere = pod("x", "worker2", status={"phase": "Running", "podIP": "10.244.1.2"})
    out = assign([elsewhere, pod("a")], NODES, DEFAULT, None)
    assert ips(out) == ["10.244.1.2", "10.244.1.3"]


def test_pods_keep_their_previous_addresses() -> None:
    first = assign([pod("a"), pod("b"), pod("c")], NODES, DEFAULT, None)
    prev = ClusterState(config=DEFAULT, objects={o.ref: o for o in [*NODES, *first]})
    # "a" is gone; "c" keeps .4, a new pod takes the lowest free address (.2).
    out = assign([pod("new"), pod("c"), pod("b")], NODES, DEFAULT, prev)
    assert ips(out) == ["10.244.1.2", "10.244.1.4", "10.244.1.3"]


def test_previous_address_on_another_node_is_not_kept() -> None:
    first = assign([pod("a")], NODES, DEFAULT, None)
    prev = ClusterState(config=DEFAULT, objects={o.ref: o for o in [*NODES, *first]})
    (moved,) = assign([pod("a", "worker2")], NODES, DEFAULT, prev)
    assert moved.status.pod_ip == "10.244.2.2"


def test_host_network_pods_take_the_node_address_and_use_none_of_the_range() -> None:
    out = assign([pod("h", spec={"hostNetwork": True}), pod("a")], NODES, DEFAULT, None)
    assert out[0].status.pod_ip == "172.18.0.3"
    assert out[0].status.pod_ips == (PodIP(ip="172.18.0.3"),)
    assert out[0].status.phase == "Running"
    assert out[1].status.pod_ip == "10.244.1.2"


def test_dual_stack_pods_get_one_address_per_family() -> None:
    cfg = parse_config({"networking": {"podSubnet": "10.244.0.0/16,fd00:10:244::/56"}})
    nodes = build_nodes(cfg, [], None)
    a, b, h = assign([pod("a"), pod("b"), pod("h", spec={"hostNetwork": True})], nodes, cfg, None)
    assert a.status.pod_ips == (PodIP(ip="10.244.1.2"), PodIP(ip="fd00:10:244:1::2"))
    assert a.status.pod_ip == "10.244.1.2"
    assert b.ips == ("10.244.1.3", "fd00:10:244:1::3")
    assert a.status.host_ips == (PodIP(ip="172.18.0.3"), PodIP(ip="fc00:f853:ccd:e793::3"))
    assert h.ips == ("172.18.0.3", "fc00:f853:ccd:e793::3")


def test_exhausted_node_leaves_the_pod_pending_with_host_locals_error() -> None:
    cfg = parse_config({"nodes": [{"role": "control-plane", "podCIDR": "10.244.0.0/30"}]})
    nodes = build_nodes(cfg, [], None)
    # A /30 has .0 (network), .1 (gateway), .2 (the only pod address) and .3 (broadcast).
    a, b = assign([pod("a", "control-plane"), pod("b", "control-plane")], nodes, cfg, None)
    assert a.status.pod_ip == "10.244.0.2"
    assert b.status.phase == "Pending" and not b.status.pod_ip
    assert b.status.reason == "FailedCreatePodSandBox"
    assert b.status.message == (
        "Failed to create pod sandbox: failed to allocate for range 0: "
        "no IP addresses available in range set: 10.244.0.1-10.244.0.2"
    )
    ready = b.condition("Ready")
    assert ready is not None and ready.status == "False"
    assert not b.ready


def test_pods_not_on_a_node_finished_or_rejected_get_nothing() -> None:
    unscheduled = replace(pod("u", ""), status=PodStatus(phase="Pending"))
    done = replace(pod("d"), status=PodStatus(phase="Succeeded"))
    rejected = replace(pod("r"), status=PodStatus(phase="Failed", reason="NodeAffinity"))
    missing = replace(pod("m", "worker9"), status=PodStatus(phase="Pending", reason="NodeNotFound"))
    out = assign([unscheduled, done, rejected, missing, pod("a")], NODES, DEFAULT, None)
    assert out[:4] == [unscheduled, done, rejected, missing]
    assert out[4].status.pod_ip == "10.244.1.2"


def test_given_conditions_are_kept() -> None:
    not_ready = pod(
        "n",
        status={"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]},
    )
    (p,) = assign([not_ready], NODES, DEFAULT, None)
    assert p.status.pod_ip == "10.244.1.2"
    assert not p.ready


def test_ipv4_range_never_includes_broadcast_and_ipv6_formats_compressed() -> None:
    nodes = build_nodes(parse_config({"nodes": [{"role": "control-plane", "podCIDR": "10.0.0.0/29"}]}), [], None)
    ipam = NodeCIDRIPAM(nodes)
    node = nodes[0]
    got = [ipam.allocate(pod(f"p{i}", "control-plane"), node) for i in range(5)]
    assert got == [("10.0.0.2",), ("10.0.0.3",), ("10.0.0.4",), ("10.0.0.5",), ("10.0.0.6",)]
    try:
        ipam.allocate(pod("p6", "control-plane"), node)
    except IPAMError as err:
        assert "10.0.0.1-10.0.0.6" in str(err)
    else:  # pragma: no cover
        raise AssertionError("a /29 holds five pods")


def test_pluggable_ipam() -> None:
    class Fixed:
        def __init__(self) -> None:
            self.n = 0

        def pin(self, ips: Sequence[str]) -> None:
            pass

        def reclaim(self, pod: Pod, node: Node, ips: Sequence[str]) -> bool:
            return False

        def allocate(self, pod: Pod, node: Node) -> tuple[str, ...]:
            self.n += 1
            return (f"192.168.{self.n}.{self.n}",)

    (p,) = assign([pod("a")], NODES, DEFAULT, None, ipam=Fixed())
    assert p.status.pod_ip == "192.168.1.1"

    def factory(nodes: Sequence[Node], config: ClusterConfig) -> Fixed:
        return Fixed()

    register_ipam("calico", factory)
    try:
        cfg = DEFAULT.with_plugin("calico")
        (q,) = assign([pod("a")], build_nodes(cfg, [], None), cfg, None)
        assert q.status.pod_ip == "192.168.1.1"
    finally:
        ipam_module._REGISTRY.pop("calico", None)


def test_node_addresses_are_never_pod_addresses() -> None:
    # The host model: pods take addresses from the nodes' own network (172.18.0.0/16), where
    # the nodes are .2, .3 and .4.
    cfg = DEFAULT.with_plugin("host")
    nodes = build_nodes(cfg, [], None)
    assert nodes[0].spec.pod_cidr == "172.18.0.0/24" and nodes[0].internal_ips == ("172.18.0.2",)
    out = assign([pod(f"p{i}", "control-plane") for i in range(3)], nodes, cfg, None)
    assert ips(out) == ["172.18.0.5", "172.18.0.6", "172.18.0.7"]


def test_deterministic() -> None:
    pods = [pod(f"p{i}", ["worker", "worker2"][i % 2]) for i in range(50)]
    assert [p.to_dict() for p in assign(pods, NODES, DEFAULT, None)] == [p.to_dict() for p in assign(pods, NODES, DEFAULT, None)]


def test_kept_objects_are_returned_unchanged() -> None:
    first = assign([pod("a")], NODES, DEFAULT, None)
    again = assign(first, NODES, DEFAULT, None)
    assert again[0] is first[0]
