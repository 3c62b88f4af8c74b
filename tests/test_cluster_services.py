"""Service allocation as the API server (and MetalLB) does it.

Expected values and messages follow upstream: kubeadm's fixed ClusterIPs (.1 and .10), the
KEP-3070 / KEP-3668 static bands, pkg/registry/core/service/storage/alloc.go
(initIPFamilyFields, allocIPs, initNodePorts, allocHealthCheckNodePort), the ipallocator and
portallocator error texts, and field-error rendering (lists as JSON) of current apimachinery.
"""

from __future__ import annotations

import ipaddress
import random
import time
from dataclasses import replace
from typing import Any

import pytest

from podnet.api.core import Node, Service
from podnet.api.defaults import apply_defaults
from podnet.api.meta import ObjectRef, Resource
from podnet.cluster.config import DEFAULT, ClusterConfig
from podnet.cluster.services import allocate
from podnet.cluster.state import ClusterState
from podnet.cluster.system import system_objects

CP = Node.from_dict(
    {
        "metadata": {
            "name": "kind-control-plane",
            "labels": {"node-role.kubernetes.io/control-plane": ""},
        },
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]},
    }
)
NODES = (CP,)
DUAL = replace(DEFAULT, service_subnets=("10.96.0.0/16", "fd00:10:96::/112"))


def svc(name: str, ns: str = "default", **spec: Any) -> Service:
    spec.setdefault("ports", [{"port": 80}])
    if "selector" not in spec:
        spec["selector"] = {"app": name}
    metadata: dict[str, Any] = {"name": name, "namespace": ns}
    for key in ("annotations", "deletionTimestamp"):
        if key in spec:
            metadata[key] = spec.pop(key)
    obj = apply_defaults(Service.from_dict({"metadata": metadata, "spec": spec}))
    assert isinstance(obj, Service)
    return obj


def system_services(config: ClusterConfig = DEFAULT) -> list[Service]:
    return [o for o in system_objects(config, NODES) if isinstance(o, Service)]


def run(
    user: list[Service],
    config: ClusterConfig = DEFAULT,
    *,
    system: bool = True,
    previous: ClusterState | None = None,
) -> tuple[dict[str, Service], list[str]]:
    services = (system_services(config) if system else []) + user
    out, errors = allocate(services, config, NODES, previous, frozenset(s.ref for s in user))
    return {f"{s.metadata.namespace}/{s.metadata.name}": s for s in out}, errors


def state_of(services: dict[str, Service], config: ClusterConfig = DEFAULT) -> ClusterState:
    objects: dict[ObjectRef, Resource] = {s.ref: s for s in services.values()}
    return ClusterState(config=config, objects=objects)


def in_dynamic_band(ip: str, cidr: str = "10.96.0.0/12") -> bool:
    net = ipaddress.ip_network(cidr)
    # KEP-3070: /12 -> the lowest min(max(16, 2^20/16), 256) = 256 addresses are the static band
    return int(ipaddress.ip_address(ip)) > int(net.network_address) + 256


# ------------------------------------------------------------------------------ ClusterIPs


def test_system_services_keep_kubeadm_addresses() -> None:
    out, errors = run([svc("web")])
    assert errors == []
    assert out["default/kubernetes"].spec.cluster_ip == "10.96.0.1"
    assert out["kube-system/kube-dns"].spec.cluster_ip == "10.96.0.10"
    assert out["kube-system/kube-dns"].spec.cluster_ips == ("10.96.0.10",)
    assert out["kube-system/kube-dns"].spec.ip_families == ("IPv4",)
    assert out["kube-system/kube-dns"].spec.ip_family_policy == "SingleStack"


def test_clusterip_allocated_in_dynamic_band() -> None:
    out, errors = run([svc("web"), svc("api", "shop")])
    assert errors == []
    for key in ("default/web", "shop/api"):
        s = out[key].spec
        assert s.cluster_ips == (s.cluster_ip,)
        assert ipaddress.ip_address(s.cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
        assert in_dynamic_band(s.cluster_ip), s.cluster_ip
        assert s.ip_families == ("IPv4",)
        assert s.ip_family_policy == "SingleStack"
    assert out["default/web"].spec.cluster_ip != out["shop/api"].spec.cluster_ip


def test_user_clusterip_honoured() -> None:
    out, errors = run([svc("web", clusterIP="10.96.0.50")])
    assert errors == []
    assert out["default/web"].spec.cluster_ip == "10.96.0.50"
    assert out["default/web"].spec.cluster_ips == ("10.96.0.50",)


def test_same_ip_later_in_ref_order_fails() -> None:
    out, errors = run([svc("web", clusterIP="10.96.0.50"), svc("api", clusterIP="10.96.0.50")])
    assert out["default/api"].spec.cluster_ip == "10.96.0.50"
    assert errors == [
        'The Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.50"]: '
        "failed to allocate IP 10.96.0.50: provided IP is already allocated"
    ]


def test_kube_dns_address_is_taken() -> None:
    _, errors = run([svc("dns", clusterIP="10.96.0.10")])
    assert errors == [
        'The Service "dns" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.10"]: '
        "failed to allocate IP 10.96.0.10: provided IP is already allocated"
    ]


def test_ip_outside_service_cidr() -> None:
    _, errors = run([svc("web", clusterIP="10.0.0.1")])
    assert errors == [
        'The Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.1"]: '
        "failed to allocate IP 10.0.0.1: the provided network does not match the current range"
    ]


def test_network_address_is_not_in_valid_range() -> None:
    _, errors = run([svc("web", clusterIP="10.96.0.0")])
    assert errors == [
        'The Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.0"]: '
        "failed to allocate IP 10.96.0.0: the provided IP (10.96.0.0) is not in the valid "
        "range. The range of valid IPs is 10.96.0.0/12"
    ]


def test_every_error_reported() -> None:
    _, errors = run(
        [
            svc("a", clusterIP="10.0.0.1"),
            svc("b", clusterIP="10.96.0.1"),
            svc("c", type="NodePort", ports=[{"port": 80, "nodePort": 40000}]),
        ]
    )
    assert len(errors) == 3
    assert errors[0].startswith('The Service "a" is invalid')
    assert errors[1].startswith('The Service "b" is invalid')
    assert errors[2] == (
        'The Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 40000: '
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
    )


def test_previous_keeps_ip_and_wins_over_new_request() -> None:
    first, errors = run([svc("zeta")])
    assert errors == []
    held = first["default/zeta"].spec.cluster_ip
    prev = state_of(first)
    # 'alpha' sorts first but asks for the address zeta already has.
    out, errors = run([svc("alpha", clusterIP=held), svc("zeta")], previous=prev)
    assert out["default/zeta"].spec.cluster_ip == held
    assert errors == [
        f'The Service "alpha" is invalid: spec.clusterIPs: Invalid value: ["{held}"]: '
        f"failed to allocate IP {held}: provided IP is already allocated"
    ]


def test_previous_clusterip_kept_when_manifest_omits_it() -> None:
    first, _ = run([svc("web"), svc("api")])
    prev = state_of(first)
    # a new service that would hash onto the same start must not move anything
    out, errors = run([svc("new"), svc("web"), svc("api")], previous=prev)
    assert errors == []
    assert out["default/web"].spec.cluster_ip == first["default/web"].spec.cluster_ip
    assert out["default/api"].spec.cluster_ip == first["default/api"].spec.cluster_ip


def test_changing_clusterip_on_update_refused() -> None:
    first, _ = run([svc("web", clusterIP="10.96.0.50")])
    _, errors = run([svc("web", clusterIP="10.96.0.51")], previous=state_of(first))
    assert errors == [
        'The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.51"]: '
        "may not change once set"
    ]


def test_terminating_service_keeps_its_ip() -> None:
    old = svc("zz", clusterIP="10.96.0.77", deletionTimestamp="2024-01-01T00:00:00Z")
    out, errors = run([svc("aa", clusterIP="10.96.0.77"), old])
    assert out["default/zz"].spec.cluster_ip == "10.96.0.77"
    assert len(errors) == 1 and errors[0].startswith('The Service "aa" is invalid')


def test_headless_with_selector() -> None:
    out, errors = run([svc("db", clusterIP="None")])
    assert errors == []
    s = out["default/db"].spec
    assert (s.cluster_ip, s.cluster_ips) == ("None", ("None",))
    assert s.ip_families == ("IPv4",)
    assert s.ip_family_policy == "SingleStack"


def test_headless_selectorless_defaults_to_require_dual_stack() -> None:
    out, errors = run([svc("ext", clusterIP="None", selector={})])
    assert errors == []
    s = out["default/ext"].spec
    assert s.cluster_ips == ("None",)
    assert s.ip_family_policy == "RequireDualStack"
    assert s.ip_families == ("IPv4", "IPv6")


def test_external_name_gets_nothing() -> None:
    out, errors = run([svc("x", type="ExternalName", externalName="example.com", ports=[])])
    assert errors == []
    s = out["default/x"].spec
    assert s.cluster_ip == "" and s.cluster_ips == ()
    assert s.ip_families == () and s.ip_family_policy is None


# ------------------------------------------------------------------------------ dual-stack


def test_dual_stack_cluster_defaults_single_stack_primary() -> None:
    out, errors = run([svc("web")], DUAL)
    assert errors == []
    s = out["default/web"].spec
    assert s.ip_families == ("IPv4",) and len(s.cluster_ips) == 1


def test_prefer_dual_stack_gets_both() -> None:
    out, errors = run([svc("web", ipFamilyPolicy="PreferDualStack")], DUAL)
    assert errors == []
    s = out["default/web"].spec
    assert s.ip_families == ("IPv4", "IPv6")
    v4, v6 = s.cluster_ips
    assert ipaddress.ip_address(v4) in ipaddress.ip_network("10.96.0.0/16")
    assert ipaddress.ip_address(v6) in ipaddress.ip_network("fd00:10:96::/112")
    assert s.cluster_ip == v4


def test_ipv6_first_family_requested() -> None:
    out, errors = run([svc("web", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv6"])], DUAL)
    assert errors == []
    s = out["default/web"].spec
    assert s.ip_families == ("IPv6", "IPv4")
    assert ":" in s.cluster_ip


def test_dual_stack_ips_kept_when_manifest_names_only_clusterip() -> None:
    first, _ = run([svc("web", ipFamilyPolicy="PreferDualStack")], DUAL)
    v4, v6 = first["default/web"].spec.cluster_ips
    out, errors = run(
        [svc("web", ipFamilyPolicy="PreferDualStack", clusterIP=v4)], DUAL, previous=state_of(first, DUAL)
    )
    assert errors == []
    assert out["default/web"].spec.cluster_ips == (v4, v6)


def test_prefer_dual_stack_on_single_stack_cluster() -> None:
    out, errors = run([svc("web", ipFamilyPolicy="PreferDualStack")])
    assert errors == []
    assert out["default/web"].spec.ip_families == ("IPv4",)


def test_require_dual_stack_on_single_stack_cluster() -> None:
    _, errors = run([svc("web", ipFamilyPolicy="RequireDualStack")])
    assert errors == [
        'The Service "web" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": '
        "this cluster is not configured for dual-stack services"
    ]


def test_family_not_configured() -> None:
    _, errors = run([svc("web", ipFamilies=["IPv6"])])
    assert errors == [
        'The Service "web" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": '
        "not configured on this cluster"
    ]


def test_single_stack_with_two_ips() -> None:
    _, errors = run(
        [svc("web", ipFamilyPolicy="SingleStack", clusterIPs=["10.96.0.50", "fd00:10:96::50"])], DUAL
    )
    assert errors == [
        'The Service "web" is invalid: spec.ipFamilyPolicy: Invalid value: "SingleStack": '
        "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"
    ]


# ------------------------------------------------------------------------------ NodePorts


def test_node_ports_allocated_in_dynamic_band() -> None:
    out, errors = run([svc("web", type="NodePort", ports=[{"port": 80}, {"port": 443, "name": "b"}])])
    assert errors == []
    ports = [p.node_port for p in out["default/web"].spec.ports]
    # KEP-3668: 30000-32767 holds 2768 ports; the lowest min(max(16, 2768/32), 128) = 86 are static
    assert all(30086 <= p <= 32767 for p in ports), ports
    assert len(set(ports)) == 2


def test_user_node_port_honoured_and_conflict() -> None:
    out, errors = run(
        [
            svc("web", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
            svc("api", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
        ]
    )
    assert out["default/api"].spec.ports[0].node_port == 30080
    assert errors == [
        'The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated"
    ]


def test_same_port_number_shares_node_port() -> None:
    out, errors = run(
        [
            svc(
                "dns",
                type="NodePort",
                ports=[
                    {"name": "udp", "port": 53, "protocol": "UDP"},
                    {"name": "tcp", "port": 53, "protocol": "TCP"},
                ],
            )
        ]
    )
    assert errors == []
    a, b = out["default/dns"].spec.ports
    assert a.node_port == b.node_port != 0


def test_load_balancer_without_node_ports() -> None:
    out, errors = run(
        [
            svc(
                "lb",
                type="LoadBalancer",
                allocateLoadBalancerNodePorts=False,
                ports=[{"port": 80, "name": "a"}, {"port": 81, "name": "b", "nodePort": 30081}],
            )
        ]
    )
    assert errors == []
    assert [p.node_port for p in out["default/lb"].spec.ports] == [0, 30081]


def test_health_check_node_port_only_for_local_load_balancers() -> None:
    out, errors = run(
        [
            svc("local", type="LoadBalancer", externalTrafficPolicy="Local"),
            svc("cluster", type="LoadBalancer"),
            svc("np", type="NodePort", externalTrafficPolicy="Local"),
        ]
    )
    assert errors == []
    hc = out["default/local"].spec.health_check_node_port
    assert 30000 <= hc <= 32767
    assert hc not in [p.node_port for p in out["default/local"].spec.ports]
    assert out["default/cluster"].spec.health_check_node_port == 0
    assert out["default/np"].spec.health_check_node_port == 0


def test_requested_health_check_node_port_taken() -> None:
    _, errors = run(
        [
            svc("a", type="NodePort", ports=[{"port": 80, "nodePort": 30100}]),
            svc(
                "b",
                type="LoadBalancer",
                externalTrafficPolicy="Local",
                healthCheckNodePort=30100,
            ),
        ]
    )
    assert errors == [
        'Error from server (InternalError): error when creating Service "default/b": '
        "Internal error occurred: failed to allocate requested HealthCheck NodePort 30100: "
        "provided port is already allocated"
    ]


def test_node_ports_kept_from_previous() -> None:
    first, _ = run([svc("web", type="NodePort")])
    port = first["default/web"].spec.ports[0].node_port
    out, errors = run(
        [svc("aaa", type="NodePort", ports=[{"port": 80, "nodePort": port}]), svc("web", type="NodePort")],
        previous=state_of(first),
    )
    assert out["default/web"].spec.ports[0].node_port == port
    assert len(errors) == 1 and "provided port is already allocated" in errors[0]


# ------------------------------------------------------------------------------ LoadBalancer


def test_load_balancer_gets_lowest_pool_address() -> None:
    out, errors = run([svc("lb", type="LoadBalancer")], system=False)
    assert errors == []
    (ing,) = out["default/lb"].status.load_balancer.ingress
    assert (ing.ip, ing.ip_mode) == ("172.18.255.200", "VIP")


def test_ingress_controller_gets_first_pool_address() -> None:
    out, errors = run([svc("a-lb", "a", type="LoadBalancer")])
    assert errors == []
    nginx = out["ingress-nginx/ingress-nginx-controller"]
    assert nginx.status.load_balancer.ingress[0].ip == "172.18.255.200"
    assert out["a/a-lb"].status.load_balancer.ingress[0].ip == "172.18.255.201"
    # externalTrafficPolicy: Local in the cloud manifest -> a health check port
    assert nginx.spec.health_check_node_port != 0
    assert all(p.node_port for p in nginx.spec.ports)


def test_load_balancer_ip_requested() -> None:
    out, errors = run(
        [
            svc("a", type="LoadBalancer"),
            svc("b", type="LoadBalancer", loadBalancerIP="172.18.255.200"),
            svc("c", type="LoadBalancer", annotations={"metallb.universe.tf/loadBalancerIPs": "172.18.255.210"}),
        ],
        system=False,
    )
    assert errors == []
    assert out["default/b"].status.load_balancer.ingress[0].ip == "172.18.255.200"
    assert out["default/c"].status.load_balancer.ingress[0].ip == "172.18.255.210"
    assert out["default/a"].status.load_balancer.ingress[0].ip == "172.18.255.201"


def test_load_balancer_ip_outside_pool_stays_pending() -> None:
    out, errors = run([svc("a", type="LoadBalancer", loadBalancerIP="192.0.2.1")], system=False)
    assert errors == []  # MetalLB reports an event, the API accepts the Service
    assert out["default/a"].status.load_balancer.ingress == ()


def test_other_load_balancer_class_is_not_ours() -> None:
    out, errors = run([svc("a", type="LoadBalancer", loadBalancerClass="example.com/lb")], system=False)
    assert errors == []
    assert out["default/a"].status.load_balancer.ingress == ()
    assert out["default/a"].spec.ports[0].node_port != 0


def test_load_balancer_ip_kept_from_previous() -> None:
    first, _ = run([svc("z", type="LoadBalancer")], system=False)
    assert first["default/z"].status.load_balancer.ingress[0].ip == "172.18.255.200"
    out, _ = run([svc("a", type="LoadBalancer"), svc("z", type="LoadBalancer")], system=False, previous=state_of(first))
    assert out["default/z"].status.load_balancer.ingress[0].ip == "172.18.255.200"
    assert out["default/a"].status.load_balancer.ingress[0].ip == "172.18.255.201"


def test_given_status_honoured() -> None:
    given = Service.from_dict(
        {
            "metadata": {"name": "cloud", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}},
        }
    )
    given = apply_defaults(given)  # type: ignore[assignment]
    out, errors = run([given, svc("other", type="LoadBalancer")], system=False)
    assert errors == []
    assert out["default/cloud"].status.load_balancer.ingress[0].ip == "172.18.255.200"
    assert out["default/cloud"].status.load_balancer.ingress[0].ip_mode == "VIP"
    assert out["default/other"].status.load_balancer.ingress[0].ip == "172.18.255.201"


# ------------------------------------------------------------------------------ properties


def test_deterministic_and_order_independent() -> None:
    user = [svc(f"s{i}", f"ns{i % 3}", type="NodePort" if i % 2 else "ClusterIP") for i in range(40)]
    a, ea = run(user)
    shuffled = user[:]
    random.Random(7).shuffle(shuffled)
    b, eb = run(shuffled)
    assert ea == eb == []
    assert {k: v.to_dict() for k, v in a.items()} == {k: v.to_dict() for k, v in b.items()}


def test_input_order_preserved_and_errors_do_not_raise() -> None:
    user = [svc("b", clusterIP="10.96.0.50"), svc("a", clusterIP="10.96.0.50")]
    services = system_services() + user
    out, errors = allocate(services, DEFAULT, NODES, None, frozenset(s.ref for s in user))
    assert [s.ref for s in out] == [s.ref for s in services]
    assert len(errors) == 1


@pytest.mark.parametrize("count", [10_000])
def test_scale(count: int) -> None:
    user = [svc(f"svc-{i}", f"ns-{i % 100}") for i in range(count)]
    start = time.perf_counter()
    out, errors = run(user)
    elapsed = time.perf_counter() - start
    assert errors == []
    ips = {s.spec.cluster_ip for s in out.values()}
    assert len(ips) == len(out)
    assert elapsed < 5, elapsed
