"""The plugin layer's lint: each rule fires on the mistake it names, and stays quiet otherwise."""

from __future__ import annotations

from podnet.plugins.lint import Finding, lint, lint_plugin
from test_plugins_support import TWO_SUBNETS, cluster

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: demo}
spec:
  podSelector: {}
"""

IPBLOCK_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-cluster, namespace: demo}
spec:
  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/8}
"""


def rules(findings: tuple[Finding, ...]) -> list[str]:
    return [f.rule for f in findings]


def test_clean_defaults() -> None:
    for name, mode in [("flannel", "vxlan"), ("flannel", "host-gw"), ("calico", "ipip"), ("calico", "bgp"),
                       ("host", "routed")]:
        assert lint_plugin(cluster(name, mode)) == (), (name, mode)


def test_cilium_default_pool_overlaps_the_service_network() -> None:
    (f,) = lint_plugin(cluster("cilium"))
    assert f.rule == "pod-network-overlaps-services" and f.severity == "warning"
    assert f.object == "Cluster/default" and f.field == "plugin.name"
    assert "10.0.0.0/8 (cilium's default)" in f.message and "10.96.0.0/12" in f.message
    assert "10.244.0.0/16" in f.fix


def test_pod_network_swallowing_the_node_network() -> None:
    nodes = [{"role": "control-plane", "subnet": "10.0.1.0/24"}, {"subnet": "10.0.1.0/24"},
             {"subnet": "10.0.1.0/24"}]
    findings = lint_plugin(cluster("cilium", nodes=nodes))
    (f,) = [f for f in findings if f.rule == "pod-network-overlaps-nodes"]
    assert f.severity == "error" and "10.0.1.0/24" in f.message
    # worker's pod CIDR is 10.0.1.0/24: the nodes' own addresses are inside it
    assert "capture" in f.message and "control-plane" in f.message


def test_overlay_mtu_too_large() -> None:
    (f,) = lint_plugin(cluster("flannel", mtu=1500))
    assert (f.rule, f.severity, f.field) == ("overlay-mtu-too-large", "error", "plugin.mtu")
    assert "at most 1450" in f.fix
    assert lint_plugin(cluster("flannel", mtu=1450)) == ()
    assert lint_plugin(cluster("calico", "ipip", mtu=1480)) == ()
    assert rules(lint_plugin(cluster("calico", "ipip", mtu=1481))) == ["overlay-mtu-too-large"]
    assert rules(lint_plugin(cluster("calico", "bgp", mtu=1501))) == ["overlay-mtu-too-large"]


def test_node_mtu_mismatch() -> None:
    nodes = [{"role": "control-plane"}, {"mtu": 9000}, {}]
    (f,) = lint_plugin(cluster("flannel", nodes=nodes))
    assert (f.rule, f.object, f.field) == ("node-mtu-mismatch", "Node/worker", "nodes[1].mtu")
    assert "8950" in f.message
    assert lint_plugin(cluster("flannel", "host-gw", nodes=nodes)) == ()


def test_unencapsulated_pod_routes_across_subnets() -> None:
    hostgw = lint_plugin(cluster("flannel", "host-gw", nodes=TWO_SUBNETS))
    assert rules(hostgw) == ["host-gw-across-subnets"] * 3
    assert hostgw[2].object == "Node/worker2" and hostgw[2].field == "nodes[2].subnet"
    assert "vxlan" in hostgw[0].fix
    assert rules(lint_plugin(cluster("calico", "bgp", nodes=TWO_SUBNETS))) == ["bgp-across-subnets"] * 3
    assert rules(lint_plugin(cluster("cilium", "native", nodes=TWO_SUBNETS))).count("native-routing-unreachable") == 3
    for name, mode, opts in [("flannel", "vxlan", {}), ("calico", "ipip", {"crossSubnet": True}),
                             ("calico", "vxlan", {}), ("host", "routed", {})]:
        assert lint_plugin(cluster(name, mode, nodes=TWO_SUBNETS, **opts)) == (), (name, mode)


def test_native_routing_without_direct_routes() -> None:
    found = lint_plugin(cluster("cilium", "native", autoDirectNodeRoutes=False))
    assert any(f.rule == "native-routing-unreachable" and f.field == "plugin.autoDirectNodeRoutes" for f in found)


def test_policies_under_a_plugin_that_ignores_them() -> None:
    (f,) = lint_plugin(cluster("flannel", extra=POLICY))
    assert (f.rule, f.severity, f.object, f.field) == ("policy-not-enforced", "warning", "NetworkPolicy/demo/deny", "spec")
    assert "calico" in f.fix
    assert rules(lint_plugin(cluster("host", extra=POLICY))) == ["policy-not-enforced"]
    assert lint_plugin(cluster("calico", extra=POLICY)) == ()


def test_cilium_ipblock_on_cluster_addresses() -> None:
    found = [f for f in lint_plugin(cluster("cilium", extra=IPBLOCK_POLICY)) if f.rule == "ipblock-matches-cluster"]
    (f,) = found
    assert f.field == "spec.ingress[0].from[0].ipBlock.cidr" and "identity" in f.message
    assert not [f for f in lint_plugin(cluster("calico", extra=IPBLOCK_POLICY)) if f.rule == "ipblock-matches-cluster"]


def test_pods_beyond_address_capacity() -> None:
    nodes = [{"role": "control-plane", "subnet": "10.9.0.0/28"}, {"subnet": "10.9.0.16/28"},
             {"subnet": "10.9.0.32/28"}]
    extra = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: demo}}\n"
        f"spec: {{nodeName: worker, containers: [{{name: c, image: x}}]}}\n"
        for i in range(15)
    )
    found = lint_plugin(cluster("host", nodes=nodes, extra=extra))
    (cap,) = [f for f in found if f.rule == "pods-beyond-address-capacity"]
    assert cap.severity == "error" and cap.object == "Node/worker" and "holds 12 pod addresses" in cap.message
    assert "stay Pending" in cap.message
    warn = [f for f in found if f.rule == "max-pods-above-address-capacity"]
    assert {f.object for f in warn} == {"Node/control-plane", "Node/worker", "Node/worker2"}
    assert "110" in warn[0].message


def test_finding_shape_and_entry_point() -> None:
    (f,) = lint(cluster("flannel", extra=POLICY))
    assert set(f.to_dict()) == {"rule", "severity", "object", "field", "message", "fix"}
