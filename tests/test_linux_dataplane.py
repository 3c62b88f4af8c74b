"""Steps 2 and 3 of the real data plane, on examples/shop under flannel (VXLAN): the plan
materialised as ``ip`` shows it, pods answering over real sockets from other pods (same node and
across nodes, through flannel.1), kube-proxy's rules (ClusterIP, NodePort and LoadBalancer from
the outside namespace), the plugin's masquerade, and teardown leaving nothing."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_linux_support import new_cluster_name, require_root

pytestmark = pytest.mark.root

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "shop")


class Served:
    """A RealCluster built from the example, with a PodServer serving every pod from an event
    loop in a background thread."""

    def __init__(self, plugin: str = "flannel:vxlan") -> None:
        from podnet.cli.context import Options, compute
        from podnet.linux.cluster import RealCluster

        self.name = new_cluster_name()
        state = compute(Options(filenames=[EXAMPLE], plugin=plugin)).state
        self.rc = RealCluster(self.name, state)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: Any = None
        self.problems: list[str] = []

    def start(self) -> None:
        from podnet.servers.podserver import PodIdentity, PodServer

        self.rc.build()
        self.thread.start()
        self.server = PodServer(None)

        async def add_all() -> list[str]:
            out: list[str] = []
            for t in self.rc.pod_targets():
                ident = PodIdentity(t.namespace, t.name, t.ip, t.node, t.hostname, t.netns,
                                    dict(t.services))
                out += await self.server.add_pod(ident, [(p.port, p.protocol) for p in t.ports])
            return out

        self.problems = asyncio.run_coroutine_threadsafe(add_all(), self.loop).result(30)

    def stop(self) -> None:
        try:
            if self.server is not None and self.thread.is_alive():
                asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        finally:
            if self.thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(5)
            self.rc.teardown()

    # helpers
    def pod(self, prefix: str) -> str:
        keys = [k for k in self.rc.pod_ns if k.startswith(prefix)]
        assert keys, prefix
        return sorted(keys)[0]

    def ns(self, key: str) -> str:
        return self.rc.pod_ns[key]

    def ip(self, key: str) -> str:
        ns, _, name = key.partition("/")
        pod = self.rc.state.pod(ns, name)
        assert pod is not None
        return pod.ips[0]

    def node_of(self, key: str) -> str:
        ns, _, name = key.partition("/")
        pod = self.rc.state.pod(ns, name)
        assert pod is not None
        return pod.spec.node_name

    def svc_ip(self, ns: str, name: str) -> str:
        svc = self.rc.state.service(ns, name)
        assert svc is not None
        return svc.spec.cluster_ip


@pytest.fixture(scope="module")
def shop() -> Iterator[Served]:
    require_root()
    from podnet.linux import teardown

    s = Served()
    try:
        s.start()
        yield s
    finally:
        s.stop()
        assert teardown.leftovers(s.name) == []


def _ip(ns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True, check=True).stdout


def test_flannel_plan_is_what_ip_shows(shop: Served) -> None:
    node = shop.rc.plan.node("worker")
    ns = shop.rc.node_ns("worker")
    link = _ip(ns, "-d", "link", "show", "flannel.1")
    assert "vxlan id 1" in link and "dstport 8472" in link and "mtu 1450" in link
    assert "nolearning" in link
    assert "10.244.1.0/32" in _ip(ns, "-4", "addr", "show", "flannel.1")
    assert "10.244.1.1/24" in _ip(ns, "-4", "addr", "show", "cni0")
    routes = _ip(ns, "route")
    for r in node.routes:
        if r.dev == "flannel.1":
            assert f"{r.dst} via {r.via} dev flannel.1 onlink" in routes
    neigh = _ip(ns, "neigh", "show", "dev", "flannel.1")
    for n in node.neighbours:
        assert f"{n.ip} lladdr {n.mac} PERMANENT" in neigh
    fdb = subprocess.run(["bridge", "-n", ns, "fdb", "show", "dev", "flannel.1"],
                         capture_output=True, text=True, check=True).stdout
    for f in node.fdb:
        assert f"{f.mac} dst {f.dst} self permanent" in fdb
    # a pod: eth0 with its /24, default via the bridge's .1
    pod = shop.pod("shop/worker")
    assert f"{shop.ip(pod)}/24" in _ip(shop.ns(pod), "-4", "addr", "show", "eth0")
    assert "default via 10.244." in _ip(shop.ns(pod), "route")


def test_pod_server_answers_same_node_and_across_nodes(shop: Served) -> None:
    from podnet.linux import probe

    assert shop.problems == []
    src = shop.pod("frontend/web")
    for dst in sorted(shop.rc.pod_ns):
        if dst.startswith("shop/api"):
            got = probe.http_get(shop.ns(src), shop.ip(dst), 8080, "/hostname")
            assert got is not None, f"{src} -> {dst}"
            assert got == (200, dst.partition("/")[2].encode())
            status, body = probe.http_get(shop.ns(src), shop.ip(dst), 8080, "/anything?x=1") or (0, b"")
            doc = json.loads(body)
            assert doc["pod"] == dst and doc["client_ip"] == shop.ip(src) and doc["port"] == 8080
            assert doc["path"] == "/anything?x=1"
    same = [k for k in shop.rc.pod_ns if shop.node_of(k) == shop.node_of(src) and k != src]
    other = [k for k in shop.rc.pod_ns if shop.node_of(k) != shop.node_of(src)]
    assert same and other
    for dst in (same[0], other[0]):
        r = probe.tcp(shop.ns(src), shop.ip(dst), 1, timeout=1)  # nothing listens on port 1
        assert not r.ok and "refused" in r.error.lower()


def test_raw_tcp_and_udp_name_the_pod(shop: Served) -> None:
    from podnet.linux import probe

    db = shop.pod("data/db-1")
    src = shop.pod("shop/api")
    r = probe.tcp(shop.ns(src), shop.ip(db), 5432, timeout=3)
    assert r.ok and r.text.startswith(f"{db} ip={shop.ip(db)}")
    dns = shop.pod("kube-system/coredns")
    u = probe.udp(shop.ns(src), shop.ip(dns), 53, b"hostname")
    assert u.ok and u.text == dns.partition("/")[2]


def test_vxlan_frames_cross_the_underlay(shop: Served) -> None:
    """A cross-node packet leaves worker as UDP 8472 with VNI 1 on the underlay."""
    from podnet.linux import netns, probe

    src = next(k for k in sorted(shop.rc.pod_ns) if shop.node_of(k) == "worker")
    dst = next(k for k in sorted(shop.rc.pod_ns) if shop.node_of(k) == "worker2")
    port = next(p for p in _ip(shop.rc.topo.underlay_ns, "-o", "link").split("\n")
                if "-worker@" in p).split(":")[1].strip().split("@")[0]
    with netns.enter(shop.rc.topo.underlay_ns):
        sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    try:
        sniff.bind((port, 0))
        sniff.settimeout(0.2)
        assert probe.ping(shop.ns(src), shop.ip(dst)) is not None
        seen = None
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and seen is None:
            try:
                frame = sniff.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if frame[12:14] != b"\x08\x00" or frame[23] != 17:  # IPv4, UDP
                continue
            ihl = (frame[14] & 0x0F) * 4
            udp = frame[14 + ihl:]
            dport = struct.unpack("!H", udp[2:4])[0]
            if dport == 8472:
                vni = int.from_bytes(udp[12:15], "big")
                inner_dst = socket.inet_ntoa(udp[8 + 8 + 14 + 16: 8 + 8 + 14 + 20])
                seen = (vni, inner_dst)
        assert seen == (1, shop.ip(dst))
    finally:
        sniff.close()


def test_cluster_ip_balances_over_the_endpoints(shop: Served) -> None:
    from podnet.linux import probe

    src = shop.pod("frontend/web")
    ip = shop.svc_ip("shop", "api")
    backends = {k.partition("/")[2] for k in shop.rc.pod_ns if k.startswith("shop/api-")}
    seen = set()
    for _ in range(30):
        got = probe.http_get(shop.ns(src), ip, 8080, "/hostname")
        assert got is not None and got[0] == 200
        seen.add(got[1].decode())
        if seen == backends:
            break
    assert seen == backends
    # a port the Service does not have is rejected by kube-proxy's cluster-ips-check
    r = probe.tcp(shop.ns(src), ip, 9999, timeout=2)
    assert not r.ok


def test_nodeport_and_loadbalancer_from_outside(shop: Served) -> None:
    from podnet.linux import probe

    outside = shop.rc.topo.outside_ns
    for node in shop.rc.topo.nodes:
        got = probe.http_get(outside, node.ip, 30080, "/hostname")
        assert got is not None and got[1].decode().startswith("web-"), node.name
    # api-public: LoadBalancer, externalTrafficPolicy Local: the client address is kept
    lb = next(ip for ip, _n in shop.rc.report.announced.items() if ip.endswith(".201"))
    got = probe.http_get(outside, lb, 443, "/clientip")
    assert got is not None and got[1].decode().startswith(f"{shop.rc.topo.gateway}:")


def test_traffic_leaving_the_cluster_is_masqueraded(shop: Served) -> None:
    """A pod reaching the outside arrives from its node's address (flannel's masquerade)."""
    from podnet.linux import netns, probe

    outside = shop.rc.topo.outside_ns
    with netns.enter(outside):
        srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((shop.rc.topo.gateway, 18080))
    srv.listen(1)
    srv.settimeout(3)
    src = shop.pod("shop/worker")
    result: dict[str, Any] = {}

    def accept() -> None:
        conn, addr = srv.accept()
        result["from"] = addr[0]
        conn.sendall(b"hi\n")
        conn.close()

    t = threading.Thread(target=accept)
    t.start()
    try:
        r = probe.tcp(shop.ns(src), shop.rc.topo.gateway, 18080, timeout=3)
        assert r.ok and r.text == "hi\n"
    finally:
        t.join(5)
        srv.close()
    node = shop.rc.topo.node(shop.node_of(src))
    assert result.get("from") == node.ip


def test_pods_have_their_resolv_conf_and_hosts(shop: Served) -> None:
    key = shop.pod("shop/worker")
    out = subprocess.run(["ip", "netns", "exec", shop.ns(key), "cat", "/etc/resolv.conf",
                          "/etc/hosts"], capture_output=True, text=True, check=True).stdout
    assert "nameserver 10.96.0.10" in out
    assert "search shop.svc.cluster.local svc.cluster.local cluster.local" in out
    assert f"{shop.ip(key)}\t{key.partition('/')[2]}" in out
    tables = subprocess.run(["ip", "netns", "exec", shop.rc.node_ns("worker"), "nft", "list",
                             "tables"], capture_output=True, text=True, check=True).stdout
    assert "table ip kube-proxy" in tables and "table ip podnet-masq" in tables
    assert "podnet-policy" not in tables  # flannel enforces no NetworkPolicy
