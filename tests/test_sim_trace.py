"""``podnet trace`` on the example app, with expectations from kube-proxy, NetworkPolicy, CoreDNS
and glibc semantics (which pods a selector picks, what the search list is, who masquerades),
computed from the cluster state — not from podnet's own trace output."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path

import pytest

from podnet.api.core import Pod, Service
from podnet.api.loader import read_paths
from podnet.cluster.admission import admit
from podnet.cluster.config import DEFAULT, ClusterConfig
from podnet.cluster.state import ClusterState
from podnet.sim.endpoints import TraceError, parse_target
from podnet.sim.trace import Trace, trace

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"

EXTRA = """\
apiVersion: v1
kind: Service
metadata: {name: nothing-udp, namespace: shop}
spec:
  selector: {app: does-not-exist}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: tcp, port: 80, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: shop}
spec:
  selector: {app: api}
  sessionAffinity: ClientIP
  ports:
  - {name: http, port: 8080, targetPort: http}
"""

ISSUE_KEYS = {"from", "to", "protocol", "verdict", "reason", "backend", "client_ip_seen",
              "candidates", "connections", "hops", "client_sees"}


@lru_cache(maxsize=None)
def shop(plugin: str = "", extra: bool = False, kpr: bool = False) -> ClusterState:
    result = read_paths([str(EXAMPLE)] + (["-"] if extra else []), EXTRA if extra else None)
    config: ClusterConfig = DEFAULT
    if plugin:
        config = config.with_plugin(plugin)
    if kpr:
        result = read_paths([str(EXAMPLE), "-"],
                            "apiVersion: podnet.io/v1alpha1\nkind: Cluster\nname: kpr\n"
                            "plugin: {name: cilium, kubeProxyReplacement: true}\n")
    return admit(result, config).state


def pods(state: ClusterState, ns: str, app: str) -> list[Pod]:
    return [p for p in state.pods(ns) if p.metadata.labels.get("app") == app]


def service(state: ClusterState, ns: str, name: str) -> Service:
    svc = state.service(ns, name)
    assert svc is not None
    return svc


def node_ip(state: ClusterState, name: str) -> str:
    node = state.node(name)
    assert node is not None
    return node.internal_ips[0]


def stages(t: Trace) -> list[str]:
    return [h.stage for h in t.hops]


# ----------------------------------------------------------------------------- the happy path


def test_web_to_api_by_name_walks_the_search_list_and_reaches_an_api_pod() -> None:
    st = shop()
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, "api.shop:8080")
    api_pods = {p.qualified_name: p for p in pods(st, "shop", "api")}
    # glibc: "api.shop" has 1 dot < ndots:5, so the search list first, in order, and the walk
    # stops at the first answer: <ns>.svc.cluster.local misses, svc.cluster.local answers.
    dns = [h for h in t.hops if h.stage == "dns" and h.get("name")]
    assert [h.get("name") for h in dns] == ["api.shop.frontend.svc.cluster.local.",
                                            "api.shop.svc.cluster.local."]
    assert [h.get("rcode") for h in dns] == ["NXDOMAIN", "NOERROR"]
    cluster_ip = service(st, "shop", "api").spec.cluster_ip
    assert t.target["ip"] == cluster_ip and t.target["port"] == 8080
    assert t.verdict == "delivered" and t.client_sees == "connected"
    assert t.backend is not None and t.backend["pod"] in api_pods and t.backend["port"] == 8080
    assert t.backend["ip"] == api_pods[t.backend["pod"]].status.pod_ip
    # every ready api pod is a candidate; a pod client of a ClusterIP is not masqueraded
    assert {c["pod"] for c in t.candidates} == set(api_pods)
    assert t.client_ip_seen == web.status.pod_ip
    # kube-proxy's nftables layout: services map, then the service chain, then the endpoint
    rules = " | ".join(h.rule for h in t.hops if h.stage == "service")
    assert "@service-ips" in rules
    assert re.search(r"service-[A-Z2-7]{8}-shop/api/tcp/http: numgen random mod 2", rules)
    assert f"dnat to {t.backend['ip']}:8080" in rules
    # order of the walk: DNS, then kube-proxy, then policy, then delivery
    order = stages(t)
    assert order.index("dns") < order.index("service") < order.index("policy-egress") \
        < order.index("policy-ingress") < order.index("deliver")
    assert order[-1] == "deliver"


def test_json_has_the_issue_keys() -> None:
    st = shop()
    web = pods(st, "frontend", "web")[0]
    doc = trace(st, web.qualified_name, "api.shop:8080").to_dict()
    assert ISSUE_KEYS <= set(doc)
    assert doc["protocol"] == "TCP"
    assert set(doc["backend"]) >= {"pod", "ip", "port"}
    for h in doc["hops"]:
        assert {"node", "stage", "detail", "rule"} <= set(h)
    assert all(set(c) >= {"pod", "ip", "port"} for c in doc["candidates"] + doc["connections"])


def test_short_name_resolves_in_the_clients_namespace() -> None:
    st = shop()
    worker = pods(st, "shop", "worker")[0]
    t = trace(st, worker.qualified_name, "api:8080")
    names = [h.get("name") for h in t.hops if h.stage == "dns" and h.get("name")]
    assert names == ["api.shop.svc.cluster.local."]


# ----------------------------------------------------------------------------- NetworkPolicy


def test_worker_to_api_is_dropped_by_default_deny_where_policy_is_enforced() -> None:
    st = shop("calico")
    worker = pods(st, "shop", "worker")[0]
    t = trace(st, worker.qualified_name, "api.shop:8080")
    # shop/default-deny isolates the worker for egress and only allow-dns adds an egress rule
    assert t.verdict == "dropped" and t.client_sees == "timeout"
    assert "shop/default-deny" in t.reason
    egress = next(h for h in t.hops if h.stage == "policy-egress")
    assert egress.get("verdict") == "deny" and egress.get("enforced") is True
    assert "deliver" not in stages(t)
    assert t.policy is not None and t.policy["allowed"] is False


def test_flannel_reports_the_denial_but_delivers() -> None:
    st = shop()
    worker = pods(st, "shop", "worker")[0]
    t = trace(st, worker.qualified_name, "api.shop:8080")
    assert t.verdict == "delivered"
    egress = next(h for h in t.hops if h.stage == "policy-egress")
    assert egress.get("verdict") == "not-enforced"
    assert "not enforced" in egress.detail and "flannel" in egress.detail
    assert t.policy is not None and t.policy["allowed"] is False and t.policy["enforced"] is False
    assert any("flannel does not enforce" in n for n in t.notes)


def test_dns_query_blocked_by_egress_policy_fails_resolution() -> None:
    """A default-deny egress without the DNS exception: the classic outage."""
    text = """\
apiVersion: v1
kind: Namespace
metadata: {name: lonely}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: lonely}
spec:
  containers: [{name: c, image: busybox}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: lonely}
spec:
  podSelector: {}
  policyTypes: [Egress]
"""
    st = admit(read_paths([str(EXAMPLE), "-"], text), DEFAULT.with_plugin("calico")).state
    t = trace(st, "lonely/client", "api.shop:8080")
    assert t.verdict == "dropped" and t.client_sees == "timeout"
    assert "DNS query" in t.reason and "lonely/deny-egress" in t.reason


# ----------------------------------------------------------------------------- from outside


def test_outside_to_nodeport_is_delivered_and_masqueraded_to_the_node() -> None:
    st = shop()
    ip = node_ip(st, "worker")
    t = trace(st, "203.0.113.7", f"{ip}:30080")
    web = {p.qualified_name for p in pods(st, "frontend", "web")}
    assert t.verdict == "delivered" and t.backend is not None and t.backend["pod"] in web
    # externalTrafficPolicy Cluster: masquerade on the node that received the packet, to the
    # address of the interface it leaves by (eth0, or with flannel the cni0 bridge / flannel.1
    # VTEP, both in the node's pod CIDR)
    node = st.node("worker")
    assert node is not None and t.client_ip_seen is not None
    assert t.client_ip_seen != "203.0.113.7"
    assert t.client_ip_seen == ip or ipaddress.ip_address(t.client_ip_seen) in \
        ipaddress.ip_network(node.pod_cidrs[0])
    assert all(h.node == "worker" for h in t.hops if h.stage == "service")
    assert t.entry == "NodePort"


def test_outside_to_loadbalancer_with_local_policy_keeps_the_client_ip() -> None:
    st = shop()
    svc = service(st, "shop", "api-public")
    lb_ip = svc.status.load_balancer.ingress[0].ip
    assert lb_ip == "172.18.255.201"
    client = "203.0.113.7"
    t = trace(st, client, f"{lb_ip}:443")
    assert t.verdict == "delivered"
    assert t.client_ip_seen == client  # eTP Local: no SNAT
    entering = t.hops[0]
    assert entering.stage == "underlay" and "announced" in entering.detail
    # only nodes with a local ready endpoint may announce, and traffic stays on that node
    api_nodes = {p.spec.node_name for p in pods(st, "shop", "api")}
    assert entering.node in api_nodes
    assert t.backend is not None and t.backend["node"] == entering.node
    assert all(c["node"] == entering.node for c in t.candidates)


DB_NODEPORT = """\
apiVersion: v1
kind: Service
metadata: {name: db-nodeport, namespace: data}
spec:
  type: NodePort
  selector: {app: db}
  ports: [{port: 5432, nodePort: 30432}]
"""


def _every_backend(st: ClusterState, src: str, to: str) -> dict[str, Trace]:
    """The trace per backend the Service may pick (``seed`` varies the pick)."""
    first = trace(st, src, to)
    wanted = {c["pod"] for c in first.candidates}
    out: dict[str, Trace] = {}
    for seed in range(64):
        t = trace(st, src, to, seed=seed)
        assert t.backend is not None
        out.setdefault(t.backend["pod"], t)
        if set(out) == wanted:
            return out
    raise AssertionError(f"seeds never picked {wanted - set(out)}")


def test_nodeport_to_a_local_backend_is_judged_against_the_client_not_the_masquerade() -> None:
    # The node that translates decides ingress in its forward hook, before postrouting's
    # masquerade: a local backend's policy sees the client. (Before, the model judged the
    # masqueraded address — the pod's own node, always allowed — and said delivered; the kernel
    # drops it; tests/test_linux_differential.py catches the difference for real.)
    st = admit(read_paths([str(EXAMPLE), "-"], DB_NODEPORT), DEFAULT.with_plugin("calico")).state
    db = {p.qualified_name: p.spec.node_name for p in pods(st, "data", "db")}
    for node in sorted(set(db.values())):
        for pod, t in _every_backend(st, "203.0.113.7", f"{node_ip(st, node)}:30432").items():
            assert t.verdict == "dropped", t.reason
            assert t.policy is not None and t.policy["ingress"]["allowed"] is False
            if db[pod] == node:
                assert "203.0.113.7 → " in t.reason, t.reason
            else:
                assert f"node/{node} → " in t.reason, t.reason


def test_pod_reaching_itself_through_its_service_is_loopback_for_policy() -> None:
    # upstream's netpol e2e suite expects a pod to reach itself whatever the policies
    # (Reachability.AllowLoopback); web's egress policies allow none of its siblings' :8080
    st = shop("calico")
    web = pods(st, "frontend", "web")[0].qualified_name
    by = _every_backend(st, web, "web.frontend:80")
    assert len(by) == 3
    for pod, t in by.items():
        assert t.policy is not None
        if pod == web:
            assert t.verdict == "delivered"
            assert t.policy["egress"].get("exempt") == "loopback"
            assert t.policy["ingress"].get("exempt") == "loopback"
            assert "(hairpin)" in t.reason
        else:
            assert t.verdict == "dropped" and "isolated for egress" in t.reason


def test_outside_cannot_resolve_names_or_reach_cluster_ips() -> None:
    st = shop()
    with pytest.raises(TraceError, match="outside"):
        trace(st, "outside", "api.shop:8080")
    t = trace(st, "outside", f"{service(st, 'shop', 'api').spec.cluster_ip}:8080")
    assert t.verdict == "dropped" and t.client_sees == "timeout"


# ----------------------------------------------------------------------------- kube-proxy rejects


def test_cluster_ip_on_a_port_it_does_not_serve_is_refused() -> None:
    st = shop()
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, f"{service(st, 'shop', 'api').spec.cluster_ip}:1234")
    assert t.verdict == "rejected" and t.client_sees == "connection refused"
    assert any("cluster-ips-check" in h.rule and "reject" in h.rule for h in t.hops)


def test_unallocated_service_cidr_address_is_dropped() -> None:
    st = shop()
    used = {s.spec.cluster_ip for s in st.services()}
    net = ipaddress.ip_network(DEFAULT.service_subnets[0])
    free = next(str(a) for a in net.hosts() if str(a) not in used and int(a) % 251 == 7)
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, f"{free}:80")
    assert t.verdict == "dropped" and t.client_sees == "timeout"
    assert any("cluster-ips-check" in h.rule and "drop" in h.rule for h in t.hops)


def test_service_without_endpoints_rejects_udp_with_icmp_and_tcp_with_refusal() -> None:
    st = shop(extra=True)
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, "svc/shop/nothing-udp:53", protocol="udp")
    assert t.verdict == "rejected" and t.client_sees == "ICMP port unreachable"
    assert t.backend is None and t.candidates == ()
    t = trace(st, web.qualified_name, "svc/shop/nothing-udp:tcp")
    assert t.verdict == "rejected" and t.client_sees == "connection refused"


def test_session_affinity_keeps_every_connection_on_one_backend() -> None:
    st = shop(extra=True)
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, "svc/shop/sticky:8080", connections=6, seed=3)
    assert len(t.connections) == 6 and len(t.candidates) == 2
    assert len({c["ip"] for c in t.connections}) == 1
    # without affinity the same number of connections is spread (seeded, reproducible)
    spread = trace(st, web.qualified_name, "svc/shop/api:8080", connections=16, seed=3)
    assert len({c["ip"] for c in spread.connections}) == 2
    again = trace(st, web.qualified_name, "svc/shop/api:8080", connections=16, seed=3)
    assert again.connections == spread.connections


def test_node_to_cluster_ip_is_masqueraded_to_the_node() -> None:
    st = shop()
    t = trace(st, "node/worker", "svc/frontend/web:http")
    assert t.verdict == "delivered"
    # kube-proxy marks non-pod ClusterIP clients for masquerade: the backend sees an address of
    # the node (the one of the interface towards the backend)
    node = st.node("worker")
    assert node is not None and t.client_ip_seen is not None
    assert t.client_ip_seen == node_ip(st, "worker") or ipaddress.ip_address(
        t.client_ip_seen) in ipaddress.ip_network(node.pod_cidrs[0])
    assert any(h.rule.startswith("masquerading: masquerade") for h in t.hops)


# ----------------------------------------------------------------------------- direct, headless


def test_headless_name_goes_straight_to_a_pod() -> None:
    st = shop()
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, "db.data:5432")
    db_ips = {p.status.pod_ip for p in pods(st, "data", "db")}
    assert t.target["ip"] in db_ips
    assert "service" not in stages(t)
    assert t.backend is not None and t.backend["pod"].startswith("data/db-")


def test_pod_port_that_nothing_listens_on_is_refused() -> None:
    st = shop()
    web = pods(st, "frontend", "web")[0]
    api = pods(st, "shop", "api")[0]
    assert trace(st, web.qualified_name, f"{api.qualified_name}:http").verdict == "delivered"
    t = trace(st, web.qualified_name, f"{api.qualified_name}:7777")
    assert t.verdict == "rejected" and t.client_sees == "connection refused"


def test_svc_of_a_headless_service_is_an_error() -> None:
    st = shop()
    web = pods(st, "frontend", "web")[0]
    with pytest.raises(TraceError, match="headless"):
        trace(st, web.qualified_name, "svc/data/db:5432")


def test_unknown_pod_is_a_kubectl_style_error() -> None:
    st = shop()
    with pytest.raises(TraceError) as e:
        trace(st, "shop/nope", "api:8080")
    assert e.value.errors == ('Error from server (NotFound): pods "nope" not found',)
    with pytest.raises(TraceError, match="NotFound"):
        trace(st, "node/nope", "api:8080")


def test_pod_name_prefix_picks_a_pod_of_the_deployment() -> None:
    st = shop()
    t = trace(st, "frontend/web", "api.shop:8080")
    assert t.source.pod is not None and t.source.pod.metadata.name.startswith("web-")


# ----------------------------------------------------------------------------- MTU, plugins


def test_too_big_packet_is_dropped_on_the_overlay_with_the_reason() -> None:
    st = shop()
    ip = node_ip(st, "worker")
    # from outside, to a NodePort whose backend may live on another node: force a cross-node
    # leg by trying seeds until the backend is not on the entry node
    for seed in range(20):
        t = trace(st, "203.0.113.7", f"{ip}:30080", seed=seed, size=1472)
        if t.verdict == "dropped":
            break
    else:  # pragma: no cover
        pytest.fail("no cross-node backend in 20 seeds")
    # flannel vxlan on a 1500 underlay: 1450
    assert "1472 > MTU 1450" in t.reason and t.hops[-1].stage == "drop"
    small = trace(st, "203.0.113.7", f"{ip}:30080", seed=seed, size=1400)
    assert small.verdict == "delivered"


def test_cilium_socket_lb_translates_at_connect() -> None:
    st = shop(kpr=True)
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, "api.shop:8080")
    svc_hops = [h for h in t.hops if h.stage == "service"]
    assert len(svc_hops) == 1 and "socket LB" in svc_hops[0].detail
    assert not any("nat-prerouting" in h.rule for h in t.hops)
    assert t.verdict == "delivered"


PARTNERS_EXCEPT_FLANNEL_ONLY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web-and-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from:
    - ipBlock: {cidr: 0.0.0.0/0, except: [10.244.0.0/16]}
    ports: [{protocol: TCP, port: http}]
"""


def test_cilium_ipblock_does_not_match_pods() -> None:
    """An ipBlock 0.0.0.0/0 except 10.244.0.0/16 (flannel's pod network only): with Cilium's
    10.0.0.0/8 pod network the API lets the worker in by that ipBlock, Cilium does not."""
    result = read_paths([str(EXAMPLE), "-"], PARTNERS_EXCEPT_FLANNEL_ONLY)
    st = admit(result, DEFAULT.with_plugin("cilium")).state
    worker = pods(st, "shop", "worker")[0]
    api = pods(st, "shop", "api")[0]
    t = trace(st, worker.qualified_name, f"{api.qualified_name}:8080")
    # the egress half (shop/default-deny) denies either way; the ingress half differs
    assert t.verdict == "dropped"
    assert t.policy is not None
    assert t.policy["ingress"]["allowed"] is True
    assert t.policy["as_enforced"]["ingress"]["allowed"] is False


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text,kind,ref,port", [
    ("shop/api-1:8080", "pod", "shop/api-1", 8080),
    ("pod/shop/api-1:http", "pod", "shop/api-1", "http"),
    ("svc/shop/api:http", "service", "shop/api", "http"),
    ("10.96.0.10:53", "ip", "10.96.0.10", 53),
    ("[fd00::1]:80", "ip", "fd00::1", 80),
    ("api.shop:8080", "name", "api.shop", 8080),
    ("http://api.shop/v1", "name", "api.shop", 80),
    ("https://api.shop", "name", "api.shop", 443),
])
def test_parse_target(text: str, kind: str, ref: str, port: int | str) -> None:
    t = parse_target(text)
    assert (t.kind, t.ref, t.port) == (kind, ref, port)


@pytest.mark.parametrize("text", ["api.shop", "shop/api", "10.0.0.1:70000", "svc/api:80", ""])
def test_parse_target_errors(text: str) -> None:
    with pytest.raises(TraceError):
        parse_target(text)


# ----------------------------------------------------------------------------- the path


def _cross_node(st: ClusterState) -> tuple[Pod, Pod]:
    web = pods(st, "frontend", "web")
    api = pods(st, "shop", "api")
    for a in web:
        for b in api:
            if a.spec.node_name != b.spec.node_name:
                return a, b
    raise AssertionError("no cross-node pair")  # pragma: no cover


def test_cross_node_flannel_path_has_the_vxlan_hop() -> None:
    st = shop()
    a, b = _cross_node(st)
    t = trace(st, a.qualified_name, f"{b.qualified_name}:8080")
    assert t.verdict == "delivered"
    encap = next(h for h in t.hops if h.stage == "encap")
    # flannel's defaults: flannel.1, VNI 1, UDP 8472, MTU 1450 on a 1500 underlay
    assert encap.get("dev") == "flannel.1" and encap.get("vni") == 1
    assert encap.get("mtu") == 1450
    outer = encap.get("outer")
    outer = outer if isinstance(outer, dict) else outer.to_dict()
    assert outer["src"] == node_ip(st, a.spec.node_name)
    assert outer["dst"] == node_ip(st, b.spec.node_name)
    order = stages(t)
    assert order.index("policy-egress") < order.index("encap") < order.index("decap") \
        < order.index("policy-ingress") < order.index("deliver")


def test_summary_path_without_the_plugin_walk() -> None:
    st = shop()
    a, b = _cross_node(st)
    t = trace(st, a.qualified_name, f"{b.qualified_name}:8080", plugin_path=False)
    assert t.verdict == "delivered" and not t.path_from_plugin
    order = stages(t)
    assert order[0] == "pod-egress" and order[-1] == "deliver"
    assert order.index("policy-egress") < order.index("encap") < order.index("decap") \
        < order.index("policy-ingress")
    # from outside, a too-big packet dies on the overlay device
    ip = node_ip(st, "worker")
    for seed in range(20):
        t = trace(st, "203.0.113.7", f"{ip}:30080", seed=seed, size=1472, plugin_path=False)
        if t.verdict == "dropped":
            break
    assert "needs fragmentation: 1472 > MTU 1450 on flannel.1" in t.reason
    # kube-proxy's decisions do not depend on the path: the same refusal
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, f"{service(st, 'shop', 'api').spec.cluster_ip}:1234",
              plugin_path=False)
    assert t.verdict == "rejected" and t.client_sees == "connection refused"


def test_pod_leaving_the_cluster_is_masqueraded_to_its_node() -> None:
    st = shop()
    web = pods(st, "frontend", "web")[0]
    t = trace(st, web.qualified_name, "198.51.100.7:443")
    assert t.verdict == "delivered"
    assert t.client_ip_seen == node_ip(st, web.spec.node_name)
