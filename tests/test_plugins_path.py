"""The packet's path through each plugin and mode: same node, across nodes, to the outside, from
the outside through a NodePort, to a Service; MTU drops; the routed underlay; anchors.

What each hop must show is what the real data path does (see the plugin test modules for the
sources): flannel's bridge and VXLAN device with its ARP/FDB entries, Calico's proxy-ARP veths and
tunl0/vxlan.calico, Cilium's BPF redirect and tunnel map with the source identity as VNI, the host
model's routed veths with the node answering ARP for its pods; the kernel's "needs
fragmentation" when a DF packet exceeds a device's or route's MTU.
"""

from __future__ import annotations

import pytest

from podnet.plugins import build_plan
from podnet.plugins.path import (
    DEFAULT_OUTSIDE_CLIENT,
    Hop,
    Source,
    Translation,
    masquerade_address,
    packet_path,
    parse_source,
    source_address,
)
from podnet.plugins.plan import NetworkPlan
from test_plugins_support import TWO_SUBNETS, cluster, plan_of, web_pods

MODES = [
    ("flannel", "vxlan"), ("flannel", "host-gw"),
    ("calico", "ipip"), ("calico", "vxlan"), ("calico", "bgp"),
    ("cilium", "vxlan"), ("cilium", "geneve"), ("cilium", "native"),
    ("host", "routed"),
]
#: (outer protocol, UDP port, VNI or None = the source identity) of each overlay.
ENCAP = {
    ("flannel", "vxlan"): ("udp", 8472, 1),
    ("calico", "ipip"): ("ipip", None, None),
    ("calico", "vxlan"): ("udp", 4789, 4096),
    ("cilium", "vxlan"): ("udp", 8472, "identity"),
    ("cilium", "geneve"): ("udp", 6081, "identity"),
}

_PLANS: dict[tuple[str, str], NetworkPlan] = {}


def plan(name: str, mode: str) -> NetworkPlan:
    if (name, mode) not in _PLANS:
        _PLANS[(name, mode)] = plan_of(name, mode)
    return _PLANS[(name, mode)]


def stages(hops: tuple[Hop, ...]) -> list[str]:
    return [h.stage for h in hops]


@pytest.mark.parametrize("name,mode", MODES)
def test_same_node(name: str, mode: str) -> None:
    p = plan(name, mode)
    src = web_pods(p, "worker")[0]
    db = p.pod("demo/db")
    path = packet_path(p, src.name, db.ip)
    assert path.verdict == "delivered" and path.delivered_to == "demo/db"
    assert path.hops[0].stage == "pod-egress" and path.hops[0].node == "worker"
    assert path.hops[1].stage == "veth" and path.hops[1].dev == src.host_if
    assert path.hops[-1].stage == "deliver" and path.hops[-1].node == "worker"
    assert {h.node for h in path.hops} == {"worker"}
    assert "encap" not in stages(path.hops) and "underlay" not in stages(path.hops)
    if name == "flannel":
        # same /24: the pod ARPs for the peer itself and the bridge switches the frame
        assert stages(path.hops) == ["pod-egress", "veth", "bridge", "deliver"]
        assert path.hops[0].rule == f"10.244.1.0/24 dev eth0 proto kernel scope link src {src.ip}"
    elif name == "cilium":
        assert "local endpoint" in path.hops[2].detail and path.hops[2].dev == db.host_if
    else:
        assert path.hops[2].rule == f"{db.ip} dev {db.host_if} scope link"


@pytest.mark.parametrize("name,mode", MODES)
def test_cross_node(name: str, mode: str) -> None:
    p = plan(name, mode)
    db = p.pod("demo/db")
    dst = web_pods(p, "worker2")[0]
    path = packet_path(p, "demo/db", dst.ip)
    assert path.verdict == "delivered" and path.delivered_to == dst.name
    nodes = [h.node for h in path.hops]
    assert nodes[0] == "worker" and nodes[-1] == "worker2" and "router" not in nodes
    st = stages(path.hops)
    if (name, mode) in ENCAP:
        proto, port, vni = ENCAP[(name, mode)]
        encap = next(h for h in path.hops if h.stage == "encap")
        decap = next(h for h in path.hops if h.stage == "decap")
        assert encap.node == "worker" and decap.node == "worker2"
        assert encap.outer is not None and (encap.outer.src, encap.outer.dst) == ("172.18.0.3", "172.18.0.4")
        assert (encap.outer.proto, encap.outer.port) == (proto, port)
        assert encap.vni == (db.identity if vni == "identity" else vni)
        assert st.index("encap") < st.index("underlay") < st.index("decap")
    else:
        assert "encap" not in st and "decap" not in st
        underlay = next(h for h in path.hops if h.stage == "underlay")
        assert underlay.outer is None and f"{db.ip} → {dst.ip}" in underlay.detail


def test_flannel_cross_node_hops_name_the_entries() -> None:
    p = plan("flannel", "vxlan")
    dst = web_pods(p, "worker2")[0]
    path = packet_path(p, "demo/db", dst.ip)
    assert stages(path.hops) == ["pod-egress", "veth", "bridge", "route", "encap", "underlay", "decap", "route",
                                 "bridge", "deliver"]
    route = path.hops[3]
    assert route.rule == "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" and route.mtu == 1450
    encap = path.hops[4]
    vtep = p.node("worker2").link("flannel.1")
    assert vtep is not None and vtep.mac in encap.rule and "dst 172.18.0.4" in encap.rule
    assert (encap.dev, encap.vni, encap.mtu) == ("flannel.1", 1, 1450)
    assert path.hops[6].dev == "flannel.1" and path.hops[7].dev == "cni0"
    assert path.to_dict()["hops"][4]["outer"] == {"src": "172.18.0.3", "dst": "172.18.0.4", "proto": "udp",
                                                  "port": 8472}


@pytest.mark.parametrize("name,mode", MODES)
def test_pod_to_outside_is_masqueraded(name: str, mode: str) -> None:
    p = plan(name, mode)
    path = packet_path(p, "demo/db", "93.184.216.34")
    assert path.verdict == "delivered" and path.delivered_to == "outside"
    masq = [h for h in path.hops if h.stage == "route" and h.detail.startswith("masquerade")]
    assert len(masq) == 1 and masq[0].node == "worker"
    assert masq[0].rule in p.node("worker").nat
    assert "→ 172.18.0.3" in masq[0].detail
    router = [h for h in path.hops if h.node == "router"]
    assert router and "uplink" in router[-1].rule


@pytest.mark.parametrize("name,mode", MODES)
def test_outside_to_nodeport(name: str, mode: str) -> None:
    p = plan(name, mode)
    backend = web_pods(p, "worker2")[0]
    seen = masquerade_address(p)("worker", backend)
    path = packet_path(p, Source("outside", "", "203.0.113.7"), backend.ip,
                       translation=Translation("172.18.0.3", source_ip=seen))
    assert path.verdict == "delivered" and path.delivered_to == backend.name
    at = path.anchors["service"]
    assert at is not None
    before = path.hops[:at]
    assert before[0].node == "router" and before[-1].stage == "underlay" and "→ worker" in before[-1].detail
    assert path.hops[at].node == "worker"
    assert path.anchors["policy-egress"] is None
    assert path.anchors["policy-ingress"] == len(path.hops) - 1


def test_masquerade_address_is_the_outgoing_device_address() -> None:
    assert source_address(plan("flannel", "vxlan"), "worker", "10.244.2.5") == "10.244.1.0"  # flannel.1
    assert source_address(plan("flannel", "vxlan"), "worker", "10.244.1.5") == "10.244.1.1"  # cni0
    assert source_address(plan("flannel", "host-gw"), "worker", "10.244.2.5") == "172.18.0.3"
    assert source_address(plan("calico", "ipip"), "worker", "192.168.0.130") == "192.168.0.64"  # tunl0
    assert source_address(plan("cilium", "vxlan"), "worker", "10.0.2.5") == "10.0.1.1"  # router IP
    assert source_address(plan("host", "routed"), "worker", "172.18.2.5") == "172.18.0.3"


@pytest.mark.parametrize("name,mode", MODES)
def test_pod_to_service(name: str, mode: str) -> None:
    st = cluster(name, mode)
    p = build_plan(st)
    svc = st.service("demo", "web")
    assert svc is not None
    cluster_ip = svc.spec.cluster_ip
    backend = web_pods(p, "worker2")[0]
    path = packet_path(p, "demo/db", backend.ip, translation=Translation(cluster_ip))
    assert path.verdict == "delivered" and path.delivered_to == backend.name
    assert cluster_ip in path.hops[0].detail  # the pod routes the ClusterIP (its default route)
    at = path.anchors["service"]
    assert at is not None and path.hops[at - 1].node == "worker"
    assert stages(path.hops[:at])[:2] == ["pod-egress", "veth"]
    assert path.anchors["policy-egress"] == at


def test_socket_lb_translates_before_the_packet_exists() -> None:
    st = cluster("cilium", kubeProxyReplacement=True)
    p = build_plan(st)
    backend = web_pods(p, "worker2")[0]
    path = packet_path(p, "demo/db", backend.ip, translation=Translation(st.service("demo", "web").spec.cluster_ip))  # type: ignore[union-attr]
    assert path.anchors["service"] == 0
    assert backend.ip in path.hops[0].detail


@pytest.mark.parametrize("name,mode,mtu", [
    ("flannel", "vxlan", 1450), ("calico", "ipip", 1480), ("calico", "vxlan", 1450),
    ("cilium", "vxlan", 1450), ("cilium", "geneve", 1450),
])
def test_mtu_drop_on_the_tunnel(name: str, mode: str, mtu: int) -> None:
    p = plan(name, mode)
    dst = web_pods(p, "worker2")[0]
    size = mtu + 22
    path = packet_path(p, "node/worker", dst.ip, size=size)
    assert path.verdict == "dropped"
    drop = path.hops[-1]
    assert drop.stage == "drop" and drop.node == "worker" and drop.mtu == mtu
    assert path.reason.startswith(f"needs fragmentation: {size} > MTU {mtu} on ")
    assert packet_path(p, "node/worker", dst.ip, size=mtu).verdict == "delivered"
    # from a pod, its own eth0 (or route) MTU stops it first
    from_pod = packet_path(p, "demo/db", dst.ip, size=size)
    assert from_pod.verdict == "dropped" and [h.stage for h in from_pod.hops] == ["pod-egress", "drop"]


def test_the_issue_example() -> None:
    p = plan("flannel", "vxlan")
    dst = web_pods(p, "worker2")[0]
    path = packet_path(p, "node/worker", dst.ip, size=1472)
    assert path.reason == "needs fragmentation: 1472 > MTU 1450 on flannel.1 (DF set)"
    assert path.hops[-1].rule == "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"


@pytest.mark.parametrize("name,mode", [("flannel", "host-gw"), ("calico", "bgp"), ("cilium", "native"), ("host", "routed")])
def test_underlay_mtu(name: str, mode: str) -> None:
    p = plan(name, mode)
    dst = web_pods(p, "worker2")[0]
    assert packet_path(p, "demo/db", dst.ip, size=1500).verdict == "delivered"
    assert packet_path(p, "demo/db", dst.ip, size=1501).verdict == "dropped"


def test_plugin_mtu_too_large_for_the_underlay() -> None:
    p = plan_of("flannel", mtu=1500)
    dst = web_pods(p, "worker2")[0]
    path = packet_path(p, "demo/db", dst.ip, size=1500)
    assert path.verdict == "dropped" and path.hops[-1].stage == "drop" and path.hops[-1].node == "worker"
    assert "1500 + 50 bytes of VXLAN = 1550 > MTU 1500 on eth0" in path.reason


@pytest.mark.parametrize("name,mode,options,verdict", [
    ("flannel", "host-gw", {}, "dropped"),
    ("flannel", "vxlan", {}, "delivered"),
    ("calico", "bgp", {}, "dropped"),
    ("calico", "ipip", {"crossSubnet": True}, "delivered"),
    ("calico", "vxlan", {"crossSubnet": True}, "delivered"),
    ("cilium", "native", {}, "dropped"),
    ("cilium", "vxlan", {}, "delivered"),
    ("host", "routed", {}, "delivered"),
])
def test_routed_underlay(name: str, mode: str, options: dict[str, bool], verdict: str) -> None:
    p = plan_of(name, mode, nodes=TWO_SUBNETS, **options)
    dst = web_pods(p, "worker2")[0]
    path = packet_path(p, "demo/db", dst.ip)
    assert path.verdict == verdict, path.reason
    assert "router" in [h.node for h in path.hops]
    if verdict == "dropped":
        assert path.hops[-1].node == "router"
        assert "the router has no route" in path.reason and "does not carry the pod network" in path.reason
    # within a subnet all is well
    assert packet_path(p, "demo/db", p.node("control-plane").internal_ip).verdict == "delivered"


def test_calico_cross_subnet_encapsulates_only_between_subnets() -> None:
    p = plan_of("calico", "ipip", nodes=TWO_SUBNETS, crossSubnet=True)
    far = packet_path(p, "demo/db", web_pods(p, "worker2")[0].ip)
    assert "encap" in stages(far.hops)
    near = packet_path(p, "node/control-plane", p.pod("demo/db").ip)
    assert "encap" not in stages(near.hops) and near.verdict == "delivered"


def test_outside_cannot_reach_pod_addresses_except_host_based() -> None:
    for name, mode in [("flannel", "vxlan"), ("calico", "ipip"), ("cilium", "vxlan")]:
        p = plan(name, mode)
        path = packet_path(p, "outside", p.pod("demo/db").ip)
        assert path.verdict == "dropped" and path.hops[-1].node == "router"
    p = plan("host", "routed")
    path = packet_path(p, "outside", p.pod("demo/db").ip)
    assert path.verdict == "delivered" and "proxy ARP" in path.hops[-3].detail


def test_to_node_and_blackhole() -> None:
    p = plan("calico", "ipip")
    to_node = packet_path(p, "demo/db", "172.18.0.4")
    assert to_node.verdict == "delivered" and to_node.delivered_to == "node/worker2"
    hole = packet_path(p, "node/worker", "192.168.0.120")  # in worker's block, no pod
    assert hole.verdict == "dropped" and hole.hops[-1].rule == "blackhole 192.168.0.64/26 proto 80"


def test_splice_keeps_anchor_order() -> None:
    p = plan("calico", "ipip")
    dst = web_pods(p, "worker2")[0]
    path = packet_path(p, "demo/db", dst.ip, translation=Translation("10.96.0.50"))
    svc = Hop("worker", "service", "DNAT 10.96.0.50:80 → backend", "service-…")
    eg = Hop("worker", "policy-egress", "allowed", "")
    ing = Hop("worker2", "policy-ingress", "allowed", "")
    spliced = path.splice("policy-egress", [eg]).splice("service", [svc]).splice("policy-ingress", [ing])
    st = stages(spliced.hops)
    assert st.index("service") < st.index("policy-egress") < st.index("encap") < st.index("policy-ingress")
    assert st[-2:] == ["policy-ingress", "deliver"]
    assert len(spliced.hops) == len(path.hops) + 3
    # an anchor moves past what was spliced there, so a second splice lands after the first
    assert spliced.before("service")[-1] == svc
    assert path.before("service") == path.hops[: path.anchors["service"]]  # type: ignore[index]


def test_parse_source() -> None:
    p = plan("flannel", "vxlan")
    assert parse_source(p, "demo/db") == Source("pod", "demo/db", p.pod("demo/db").ip)
    assert parse_source(p, "pod/demo/db").name == "demo/db"
    assert parse_source(p, "node/worker") == Source("node", "worker", "172.18.0.3")
    assert parse_source(p, "outside") == Source("outside", "", DEFAULT_OUTSIDE_CLIENT)
    assert parse_source(p, "172.18.0.4").kind == "node"
    assert parse_source(p, p.pod("demo/db").ip).name == "demo/db"
    assert parse_source(p, "8.8.8.8") == Source("outside", "", "8.8.8.8")
    with pytest.raises(KeyError):
        parse_source(p, "demo/nope")


def test_ipv6_is_refused() -> None:
    with pytest.raises(ValueError):
        packet_path(plan("flannel", "vxlan"), "demo/db", "fd00::1")


def test_json_hops() -> None:
    p = plan("cilium", "vxlan")
    path = packet_path(p, "demo/db", web_pods(p, "worker2")[0].ip)
    doc = path.to_dict()
    assert doc["verdict"] == "delivered" and doc["from"] == "demo/db"
    for h in doc["hops"]:
        assert {"node", "stage", "detail", "rule"} <= set(h)
    encap = next(h for h in doc["hops"] if h["stage"] == "encap")
    assert encap["vni"] == p.pod("demo/db").identity and encap["outer"]["port"] == 8472


def test_nodeport_of_another_node_translates_there() -> None:
    p = plan("flannel", "vxlan")
    backend = web_pods(p, "worker2")[0]
    path = packet_path(p, "node/worker", backend.ip,
                       translation=Translation("172.18.0.4", node="worker2", source_ip="10.244.2.1"))
    at = path.anchors["service"]
    assert path.verdict == "delivered" and at is not None and path.hops[at].node == "worker2"
    assert path.hops[at - 1].stage == "underlay" and path.anchors["policy-egress"] == 0


def test_load_balancer_address_is_answered_by_the_announcing_node() -> None:
    p = plan("calico", "ipip")
    backend = web_pods(p, "worker")[0]
    path = packet_path(p, "outside", backend.ip,
                       translation=Translation("172.18.255.200", node="worker2", source_ip="172.18.0.4"))
    assert path.verdict == "delivered", path.reason
    at = path.anchors["service"]
    assert at is not None and path.hops[at].node == "worker2"
    assert "load-balancer announcement" in path.hops[at - 1].detail
    assert "encap" in stages(path.hops[at:])  # worker2 → worker over IPIP


def test_host_network_pod_sends_from_its_node() -> None:
    extra = ("apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: demo}\n"
             "spec: {nodeName: worker2, hostNetwork: true, containers: [{name: c, image: x}]}\n")
    p = build_plan(cluster("flannel", extra=extra))
    path = packet_path(p, Source("pod", "demo/agent", "172.18.0.4"), p.pod("demo/db").ip)
    assert path.verdict == "delivered" and path.hops[0].node == "worker2" and path.hops[0].stage == "route"
    assert parse_source(p, "demo/agent") == Source("node", "worker2", "172.18.0.4")
