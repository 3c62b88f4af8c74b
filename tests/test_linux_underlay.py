"""Step 1 of the real data plane: namespaces, the underlay, teardown and leftover cleanup."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from test_linux_support import cluster_name, require_root  # noqa: F401

pytestmark = pytest.mark.root


def _topo(name: str):  # type: ignore[no-untyped-def]
    from podnet.linux.topology import Topology

    return Topology.of(name, [("control-plane", "172.18.0.2"), ("worker", "172.18.0.3"),
                              ("worker2", "172.18.0.4")])


def test_names_fit_and_are_recognised() -> None:
    from podnet.linux import names

    assert names.node_ns("c", "worker") == "pn-c-node-worker"
    assert names.pod_ns("c", "shop", "api-1") == "pn-c-pod-shop.api-1"
    assert names.role_of("c", "pn-c-pod-shop.api-1") == "pod"
    assert names.role_of("c", "pn-c-underlay") == "underlay"
    assert names.role_of("c", "pn-cx-underlay") is None
    assert names.role_of("c", "pn-c-something") is None
    assert len(names.underlay_port(12, "a-very-long-node-name")) <= 15
    long = names.pod_ns("c", "ns", "p" * 300)
    assert len(long) <= 200 and names.role_of("c", long) == "pod"


def test_three_nodes_ping_each_other_then_nothing_is_left(cluster_name: str) -> None:
    from podnet.linux import netns, probe, teardown, topology

    topo = _topo(cluster_name)
    nodes = topology.build(topo)
    try:
        for nl in nodes.values():
            nl.close()
        for src in topo.nodes:
            for dst in topo.nodes:
                if src is dst:
                    continue
                rtt = probe.ping(topo.node_ns(src.name), dst.ip)
                assert rtt is not None, f"{src.name} cannot ping {dst.name} ({dst.ip})"
            assert probe.ping(topo.node_ns(src.name), topo.gateway) is not None
            assert probe.ping(topo.outside_ns, src.ip) is not None
        # what `ip` shows is what was built
        out = subprocess.run(["ip", "-n", topo.node_ns("worker"), "-4", "-o", "addr"],
                             capture_output=True, text=True, check=True).stdout
        assert "172.18.0.3/16" in out
        route = subprocess.run(["ip", "-n", topo.node_ns("worker"), "route"],
                               capture_output=True, text=True, check=True).stdout
        assert "default via 172.18.0.1 dev eth0" in route
        with netns.enter(topo.node_ns("worker")):
            assert netns.read_sysctl("net.ipv4.ip_forward") == "1"
        # the host's namespace did not change
        assert netns.in_host_ns()
        assert os.path.exists(f"/etc/netns/{topo.node_ns('worker')}/resolv.conf")
    finally:
        report = teardown.teardown(cluster_name)
    assert sorted(report.namespaces) == sorted(topo.namespaces())
    assert teardown.leftovers(cluster_name) == []
    # a second teardown finds nothing
    assert teardown.teardown(cluster_name).empty


def test_leftovers_of_a_crashed_run_are_found_and_removed(cluster_name: str) -> None:
    """A run killed with -9 leaves namespaces and a process inside one; teardown removes both."""
    from podnet.linux import netns, teardown, topology

    topo = _topo(cluster_name)
    for nl in topology.build(topo).values():
        nl.close()
    proc = subprocess.Popen(["ip", "netns", "exec", topo.node_ns("worker"), "sleep", "60"])
    try:
        want = netns.ns_id(topo.node_ns("worker"))
        for _ in range(200):  # until `ip netns exec` has entered the namespace
            st = os.stat(f"/proc/{proc.pid}/ns/net")
            if (st.st_dev, st.st_ino) == want:
                break
            time.sleep(0.01)
        assert set(topo.namespaces()) <= set(teardown.owned_namespaces(cluster_name))
        report = teardown.teardown(cluster_name)
        assert proc.wait(timeout=5) != 0
        assert proc.pid in report.processes
        assert not any(n.startswith(f"pn-{cluster_name}-") for n in netns.list_names())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_other_clusters_are_left_alone(cluster_name: str) -> None:
    """Tearing down cluster C never touches a cluster whose name extends C's."""
    from podnet.linux import netns, teardown, topology

    other = f"{cluster_name}-node-x"
    a = topology.new_namespace(cluster_name, f"pn-{cluster_name}-node-a")
    b = topology.new_namespace(other, f"pn-{other}-underlay")
    a.close()
    b.close()
    try:
        report = teardown.teardown(cluster_name)
        assert report.namespaces == [f"pn-{cluster_name}-node-a"]
        assert netns.exists(f"pn-{other}-underlay")
    finally:
        teardown.teardown(other)
    assert not netns.exists(f"pn-{other}-underlay")


def test_refuses_the_host_namespace() -> None:
    require_root()
    from podnet.linux import netns

    with pytest.raises(OSError, match="host"):
        netns.write_sysctl("net.ipv4.ip_forward", "1")


def test_without_root_tests_skip_with_the_reason_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import test_linux_support as support

    monkeypatch.setattr(support.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        support.require_root()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI: needs root"):
        support.require_root()


def test_preflight_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from podnet.linux import preflight

    monkeypatch.setattr(preflight.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(preflight.shutil, "which", lambda name: None if name == "nft" else "/x")
    problems = preflight.platform_problems()
    if not problems or "Linux" in problems[0]:
        pytest.skip("not Linux")
    assert any("needs root" in p for p in problems)
    assert any("nft command (nftables) is missing" in p for p in problems)


TWO_SUBNETS = """apiVersion: podnet.io/v1alpha1
kind: Cluster
name: default
nodes:
- {name: control-plane, role: control-plane}
- {name: worker}
- {name: worker2, subnet: 172.19.0.0/24}
"""

#: (plugin, plugin options, kernel link kind, whether pods on the two subnets reach each other).
#: Encapsulation crosses the router; host-gw and unpeered BGP/native routes need the nodes on one
#: L2 segment (their next hop is the other node's address), as flannel, Calico and Cilium say.
SUBNET_MODES = [
    ("flannel:vxlan", "", "vxlan", True),
    ("flannel:host-gw", "", None, False),
    ("calico:vxlan", "", "vxlan", True),
    ("calico:vxlan", "crossSubnet: true", "vxlan", True),
    ("calico:bgp", "", None, False),
    ("cilium:native", "", None, False),
]


@pytest.mark.parametrize("plugin,options,kind,crosses", SUBNET_MODES,
                         ids=[f"{m[0]}{'+' + m[1].split(':')[0] if m[1] else ''}" for m in SUBNET_MODES])
def test_nodes_on_two_subnets_model_and_kernel_agree(tmp_path, plugin: str, options: str,  # type: ignore[no-untyped-def]
                                                      kind: str | None, crosses: bool) -> None:
    """The routed underlay (nodes[].subnet): every pod pings every pod for real, and the model's
    packet path gives the same verdict for every pair — across the router included."""
    from test_linux_support import kernel_has, new_cluster_name

    if kind is not None and not kernel_has(kind):
        pytest.skip(f"this kernel cannot create {kind} links")
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    from podnet.cli.context import Options, compute
    from podnet.linux import probe
    from podnet.linux.cluster import RealCluster
    from podnet.plugins.build import build_plan
    from podnet.plugins.path import packet_path

    name, _, mode = plugin.partition(":")
    cfg = tmp_path / "cluster.yaml"
    extra = f", {options}" if options else ""
    cfg.write_text(TWO_SUBNETS + f"plugin: {{name: {name}, mode: {mode}{extra}}}\n")
    root = os.path.join(os.path.dirname(__file__), "..", "examples", "shop")
    state = compute(Options(filenames=[root], config=str(cfg))).state
    assert {n.metadata.name: n.internal_ips[0] for n in state.nodes}["worker2"] == "172.19.0.2"
    plan = build_plan(state)
    rc = RealCluster(new_cluster_name(), state, enforce_policy=False)
    try:
        rc.build()
        keys = sorted(rc.pod_ns)
        ip = {k: state.pod(*k.split("/", 1)).ips[0] for k in keys}  # type: ignore[union-attr]
        node = {k: state.pod(*k.split("/", 1)).spec.node_name for k in keys}  # type: ignore[union-attr]
        pairs = list(itertools.product(keys, keys))
        with ThreadPoolExecutor(max_workers=16) as pool:
            real = list(pool.map(lambda p: probe.ping(rc.pod_ns[p[0]], ip[p[1]], timeout=0.5) is not None,
                                 pairs))
        disagree = []
        for (a, b), got in zip(pairs, real):
            model = packet_path(plan, a, ip[b]).verdict == "delivered"
            if model != got:
                disagree.append(f"{a} -> {b}: model {'delivered' if model else 'dropped'}, kernel {got}")
        assert disagree == []
        across = [got for (a, b), got in zip(pairs, real) if (node[a] == "worker2") != (node[b] == "worker2")]
        within = [got for (a, b), got in zip(pairs, real) if (node[a] == "worker2") == (node[b] == "worker2")]
        assert across and all(g == crosses for g in across)
        assert all(within)
    finally:
        rc.teardown()
