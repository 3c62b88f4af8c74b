"""Cilium's plan for the 3-node example against what the Cilium agent and CNI plugin create.

Sources (cilium/cilium):

- ``pkg/datapath/connector``: ``Endpoint2IfName`` = ``lxc`` + sha256(endpoint ID) in hex,
  truncated to IFNAMSIZ − len("tmp") − 1 = 12 characters; the CNI plugin passes the sandbox's
  container ID. ``IPv4Routes``: in the pod, ``<router IP>/32`` (scope link) and the default route
  via the router IP with ``MTU: linkMTU`` (the route MTU); ``IPv4Gateway``: "The host's IP is the
  gateway address".
- The Helm defaults: routingMode tunnel, tunnelProtocol vxlan, tunnel ports 8472 (VXLAN) / 6081
  (Geneve), ipam cluster-pool 10.0.0.0/8 with /24 per node, kubeProxyReplacement false.
- docs "Routing": in tunnel mode the node has ``<podCIDR> via <router> dev cilium_host`` routes
  with the route MTU (device MTU − 50), the tunnel devices are collect-metadata (no FDB: the BPF
  tunnel map says which node holds a prefix); native routing with auto-direct-node-routes
  installs ``<podCIDR> via <node IP>`` for nodes on the same L2 segment.
- ``pkg/labelsfilter/filter.go`` ``defaultLabelPrefixCfg`` and ``pkg/identity``: which labels
  make an identity, reserved identities 1–8, cluster identities from 256.
"""

from __future__ import annotations

import hashlib

from podnet.plugins import build_plan, context_of
from podnet.plugins.cilium import RESERVED_IDENTITIES, identity_labels, identity_of
from podnet.plugins.naming import cilium_lxc_name, sandbox_id
from test_plugins_support import NODE_IPS, TWO_SUBNETS, cluster, plan_of, pods_on, route_to, web_pods

CIDRS = {"control-plane": "10.0.0.0/24", "worker": "10.0.1.0/24", "worker2": "10.0.2.0/24"}


def test_lxc_name_is_the_truncated_sha256_of_the_endpoint_id() -> None:
    cid = sandbox_id("demo", "db")
    assert len(cid) == 64
    assert cilium_lxc_name("demo", "db") == "lxc" + hashlib.sha256(cid.encode()).hexdigest()[:12]
    assert len(cilium_lxc_name("demo", "db")) == 15


def test_cluster_pool_and_reserved_addresses() -> None:
    plan = plan_of("cilium")
    for name, cidr in CIDRS.items():
        assert plan.node(name).pod_cidrs == (cidr,)
    worker = plan.node("worker")
    host = worker.link("cilium_host")
    assert host is not None and host.addresses == ("10.0.1.1/32",) and host.peer == "cilium_net"
    assert worker.link("cilium_net") is not None and worker.link("lxc_health") is not None
    ips = sorted(int(p.ip.split(".")[-1]) for p in pods_on(plan, "worker"))
    assert ips == [3, 4, 5]  # .1 router, .2 health endpoint


def test_tunnel_mode_node() -> None:
    plan = plan_of("cilium")
    worker = plan.node("worker")
    vx = worker.link("cilium_vxlan")
    assert vx is not None and vx.kind == "vxlan" and vx.external and vx.port == 8472 and vx.mtu == 1500
    assert route_to(worker, "10.0.1.0/24").text() == "10.0.1.0/24 via 10.0.1.1 dev cilium_host proto kernel src 10.0.1.1"
    assert route_to(worker, "10.0.2.0/24").text() == \
        "10.0.2.0/24 via 10.0.1.1 dev cilium_host proto kernel src 10.0.1.1 mtu 1450"
    assert route_to(worker, "10.0.1.1").text() == "10.0.1.1 dev cilium_host proto kernel scope link"
    assert not worker.neighbours and not worker.fdb
    assert {(t.prefix, t.endpoint) for t in worker.tunnel_map} == {
        ("10.0.0.0/24", NODE_IPS["control-plane"]), ("10.0.2.0/24", NODE_IPS["worker2"])}


def test_pods() -> None:
    plan = plan_of("cilium")
    worker = plan.node("worker")
    for p in pods_on(plan, "worker"):
        ns, _, name = p.name.partition("/")
        assert p.host_if == cilium_lxc_name(ns, name)
        assert worker.link(p.host_if) is not None and worker.link(p.host_if).mtu == 1500  # type: ignore[union-attr]
        assert p.eth0.addresses == (f"{p.ip}/32",) and p.eth0.mtu == 1500
        assert [r.text() for r in p.routes] == ["default via 10.0.1.1 dev eth0 mtu 1450", "10.0.1.1 dev eth0 scope link"]


def test_geneve() -> None:
    worker = plan_of("cilium", "geneve").node("worker")
    gen = worker.link("cilium_geneve")
    assert gen is not None and gen.kind == "geneve" and gen.port == 6081 and gen.external
    assert worker.link("cilium_vxlan") is None
    assert route_to(worker, "10.0.2.0/24").mtu == 1450


def test_native_routing_with_auto_direct_node_routes() -> None:
    plan = plan_of("cilium", "native")
    worker = plan.node("worker")
    assert worker.link("cilium_vxlan") is None and not worker.tunnel_map
    assert route_to(worker, "10.0.2.0/24").text() == "10.0.2.0/24 via 172.18.0.4 dev eth0 proto kernel"
    assert [r.text() for r in web_pods(plan, "worker")[0].routes][0] == "default via 10.0.1.1 dev eth0 mtu 1500"
    assert plan.plugin.model == "underlay"


def test_native_routing_skips_nodes_behind_the_router() -> None:
    worker = plan_of("cilium", "native", nodes=TWO_SUBNETS).node("worker")
    assert [r for r in worker.routes if r.dst == "10.0.2.0/24"] == []
    assert any("must be directly reachable" in w for w in worker.warnings)


def test_kube_proxy_replacement() -> None:
    assert plan_of("cilium").plugin.service_proxy == "kube-proxy"
    plan = plan_of("cilium", kubeProxyReplacement=True)
    assert plan.plugin.service_proxy == "socket-lb"
    assert plan.plugin.enforces_policy


def test_identity_labels_follow_the_default_filter() -> None:
    st = cluster("cilium")
    web = next(p for p in st.pods("demo") if p.metadata.name.startswith("web-"))
    assert "pod-template-hash" in web.metadata.labels
    labels = identity_labels(web, {"kubernetes.io/metadata.name": "demo"})
    assert labels == (
        "k8s:app=web",
        "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=demo",
        "k8s:io.cilium.k8s.policy.cluster=default",
        "k8s:io.cilium.k8s.policy.serviceaccount=default",
        "k8s:io.kubernetes.pod.namespace=demo",
    )


def test_identities_are_shared_by_label_sets() -> None:
    st = cluster("cilium")
    plan = build_plan(st)
    ctx = context_of(plan)
    webs = [p for p in st.pods("demo") if p.metadata.name.startswith("web-")]
    ids = {identity_of(ctx, p)[0] for p in webs}
    assert len(ids) == 1  # replicas differ only in ignored labels (pod-template-hash)
    db_id = identity_of(ctx, st.pod("demo", "db"))[0]  # type: ignore[arg-type]
    assert db_id not in ids
    assert all(256 <= i <= 65535 for i in ids | {db_id})
    assert plan.pod("demo/db").identity == db_id
    assert RESERVED_IDENTITIES["host"] == 1 and RESERVED_IDENTITIES["world"] == 2
    assert RESERVED_IDENTITIES["remote-node"] == 6


def test_masquerade_non_cluster() -> None:
    worker = plan_of("cilium").node("worker")
    assert any("cilium masquerade non-cluster" in n and "10.0.1.0/24" in n for n in worker.nat)
    (m,) = worker.masquerade
    assert m.applies("10.0.1.3", "8.8.8.8", "eth0") and not m.applies("10.0.1.3", "10.0.2.3", "eth0")
