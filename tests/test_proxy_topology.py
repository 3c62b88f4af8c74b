"""Endpoint selection per node: kube-proxy's CategorizeEndpoints (pkg/proxy/topology_test.go).

The cases are upstream's ``TestCategorizeEndpoints``, in their current form: terminating-endpoint
fallback (ProxyTerminatingEndpoints) is GA, and topology hints are used whenever every ready
endpoint carries one and one is for this node's zone — the ``topology-mode`` annotation or
``trafficDistribution`` only decide whether the EndpointSlice controller writes hints (the
annotation-only cases of older upstream versions are therefore not reproduced).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from test_proxy_support import TEST_NODE, ep, eport, eslice, node, plan, port, service

from podnet.proxy.service_map import (
    EndpointInfo,
    ServicePortInfo,
    categorize,
)
from podnet.proxy.naming import ServicePortName

N = "node-a"


def info(*, itp: bool = False, etp: bool = False, node_port: int = 0,
         eps: list[EndpointInfo]) -> ServicePortInfo:
    return ServicePortInfo(
        name=ServicePortName("ns", "svc", "", "TCP"), family=4, service_type="NodePort",
        cluster_ip="10.96.0.1", port=80, node_port=node_port, target_port=None,
        external_ips=(), load_balancer_vips=(), load_balancer_source_ranges=(),
        session_affinity=False, sticky_max_age_seconds=0, external_policy_local=etp,
        internal_policy_local=itp, health_check_node_port=0, endpoints=tuple(eps),
    )


def e(endpoint: str, *, ready: bool = True, serving: bool | None = None,
      terminating: bool = False, local: bool = False, hints: tuple[str, ...] = ()) -> EndpointInfo:
    ip, p = endpoint.rsplit(":", 1)
    return EndpointInfo(ip, int(p), N if local else "other", "", ready,
                        ready if serving is None else serving, terminating,
                        frozenset(hints))


@dataclass
class Case:
    name: str
    info: ServicePortInfo
    zone: str
    cluster: set[str] | None
    local: set[str] | None
    all: set[str] | None = None
    only_remote: bool = False


ZONE_EPS = [e("10.1.2.3:80", hints=("zone-a",)), e("10.1.2.4:80", hints=("zone-b",)),
            e("10.1.2.5:80", hints=("zone-c",)), e("10.1.2.6:80", hints=("zone-a",))]

CASES = [
    Case("hints, zone-a", info(eps=ZONE_EPS), "zone-a", {"10.1.2.3:80", "10.1.2.6:80"}, None),
    Case("externalTrafficPolicy: Local, topology ignored for Local endpoints",
         info(etp=True, node_port=8080, eps=[
             e("10.1.2.3:80", hints=("zone-a",), local=True),
             e("10.1.2.4:80", hints=("zone-b",), local=True),
             e("10.1.2.5:80", hints=("zone-c",)), e("10.1.2.6:80", hints=("zone-a",))]),
         "zone-a", {"10.1.2.3:80", "10.1.2.6:80"}, {"10.1.2.3:80", "10.1.2.4:80"},
         {"10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"}),
    Case("internalTrafficPolicy: Local, topology ignored for Local endpoints",
         info(itp=True, node_port=8080, eps=[
             e("10.1.2.3:80", hints=("zone-a",), local=True),
             e("10.1.2.4:80", hints=("zone-b",), local=True),
             e("10.1.2.5:80", hints=("zone-c",)), e("10.1.2.6:80", hints=("zone-a",))]),
         "zone-a", {"10.1.2.3:80", "10.1.2.6:80"}, {"10.1.2.3:80", "10.1.2.4:80"},
         {"10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"}),
    Case("empty node labels", info(eps=[e("10.1.2.3:80", hints=("zone-a",))]), "",
         {"10.1.2.3:80"}, None),
    Case("node in different zone, no endpoint filtering",
         info(eps=[e("10.1.2.3:80", hints=("zone-a",))]), "zone-b", {"10.1.2.3:80"}, None),
    Case("unready endpoint", info(eps=[
        e("10.1.2.3:80", hints=("zone-a",)), e("10.1.2.4:80", hints=("zone-b",)),
        e("10.1.2.5:80", hints=("zone-c",)), e("10.1.2.6:80", hints=("zone-a",), ready=False)]),
        "zone-a", {"10.1.2.3:80"}, None),
    Case("only unready endpoints in same zone (should not filter)", info(eps=[
        e("10.1.2.3:80", hints=("zone-a",), ready=False), e("10.1.2.4:80", hints=("zone-b",)),
        e("10.1.2.5:80", hints=("zone-c",)), e("10.1.2.6:80", hints=("zone-a",), ready=False)]),
        "zone-a", {"10.1.2.4:80", "10.1.2.5:80"}, None),
    Case("missing hints, no filtering applied", info(eps=[
        e("10.1.2.3:80", hints=("zone-a",)), e("10.1.2.4:80", hints=("zone-b",)),
        e("10.1.2.5:80"), e("10.1.2.6:80", hints=("zone-a",))]),
        "zone-a", {"10.1.2.3:80", "10.1.2.4:80", "10.1.2.5:80", "10.1.2.6:80"}, None),
    Case("multiple hints per endpoint, filtering includes any endpoint with zone included",
         info(eps=[e("10.1.2.3:80", hints=("zone-a", "zone-b", "zone-c")),
                   e("10.1.2.4:80", hints=("zone-b", "zone-c")),
                   e("10.1.2.5:80", hints=("zone-b", "zone-d")),
                   e("10.1.2.6:80", hints=("zone-c",))]),
         "zone-c", {"10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"}, None),
    Case("conflicting topology and localness require merging allEndpoints",
         info(etp=True, node_port=8080, eps=[
             e("10.0.0.0:80", hints=("zone-a",), local=True),
             e("10.0.0.1:80", hints=("zone-b",), local=True),
             e("10.0.0.2:80", hints=("zone-a",)), e("10.0.0.3:80", hints=("zone-b",))]),
         "zone-a", {"10.0.0.0:80", "10.0.0.2:80"}, {"10.0.0.0:80", "10.0.0.1:80"},
         {"10.0.0.0:80", "10.0.0.1:80", "10.0.0.2:80"}),
    Case("internalTrafficPolicy: Local, with empty endpoints", info(itp=True, eps=[]), "",
         None, set()),
    Case("internalTrafficPolicy: Local, but all endpoints are remote",
         info(itp=True, eps=[e("10.0.0.0:80"), e("10.0.0.1:80")]), "", None, set(),
         only_remote=True),
    Case("internalTrafficPolicy: Local, all endpoints are local",
         info(itp=True, eps=[e("10.0.0.0:80", local=True), e("10.0.0.1:80", local=True)]), "",
         None, {"10.0.0.0:80", "10.0.0.1:80"}),
    Case("internalTrafficPolicy: Local, some endpoints are local",
         info(itp=True, eps=[e("10.0.0.0:80", local=True), e("10.0.0.1:80")]), "",
         None, {"10.0.0.0:80"}),
    Case("Cluster traffic policy, endpoints not Ready",
         info(eps=[e("10.0.0.0:80", ready=False), e("10.0.0.1:80", ready=False)]), "",
         set(), None),
    Case("Cluster traffic policy, some endpoints are Ready",
         info(eps=[e("10.0.0.0:80", ready=False), e("10.0.0.1:80")]), "", {"10.0.0.1:80"}, None),
    Case("Cluster traffic policy, all endpoints are terminating",
         info(eps=[e("10.0.0.0:80", ready=False, serving=True, terminating=True, local=True),
                   e("10.0.0.1:80", ready=False, serving=True, terminating=True)]), "",
         {"10.0.0.0:80", "10.0.0.1:80"}, None),
    Case("iTP: Local, eTP: Cluster, some endpoints local",
         info(itp=True, node_port=8080, eps=[e("10.0.0.0:80", local=True), e("10.0.0.1:80")]),
         "", {"10.0.0.0:80", "10.0.0.1:80"}, {"10.0.0.0:80"}, {"10.0.0.0:80", "10.0.0.1:80"}),
    Case("iTP: Cluster, eTP: Local, some endpoints local",
         info(etp=True, node_port=8080, eps=[e("10.0.0.0:80", local=True), e("10.0.0.1:80")]),
         "", {"10.0.0.0:80", "10.0.0.1:80"}, {"10.0.0.0:80"}, {"10.0.0.0:80", "10.0.0.1:80"}),
    Case("iTP: Local, eTP: Local, some endpoints local",
         info(itp=True, etp=True, node_port=8080,
              eps=[e("10.0.0.0:80", local=True), e("10.0.0.1:80")]),
         "", {"10.0.0.0:80", "10.0.0.1:80"}, {"10.0.0.0:80"}, {"10.0.0.0:80", "10.0.0.1:80"}),
    Case("iTP: Local, eTP: Local, all endpoints remote",
         info(itp=True, etp=True, node_port=8080, eps=[e("10.0.0.0:80"), e("10.0.0.1:80")]),
         "", {"10.0.0.0:80", "10.0.0.1:80"}, set(), {"10.0.0.0:80", "10.0.0.1:80"}),
    Case("iTP: Local, eTP: Local, all endpoints remote and terminating",
         info(itp=True, etp=True, node_port=8080, eps=[
             e("10.0.0.0:80", ready=False, serving=True, terminating=True),
             e("10.0.0.1:80", ready=False, serving=True, terminating=True)]),
         "", {"10.0.0.0:80", "10.0.0.1:80"}, set(), {"10.0.0.0:80", "10.0.0.1:80"},
         only_remote=True),
    Case("iTP: Cluster, eTP: Local, with terminating endpoints",
         info(etp=True, node_port=8080, eps=[
             e("10.0.0.0:80"), e("10.0.0.1:80", ready=False, serving=False, local=True),
             e("10.0.0.2:80", ready=False, serving=True, terminating=True, local=True),
             e("10.0.0.3:80", ready=False, serving=True, terminating=True)]),
         "", {"10.0.0.0:80"}, {"10.0.0.2:80"}, {"10.0.0.0:80", "10.0.0.2:80"}),
    Case("externalTrafficPolicy ignored if not externally accessible",
         info(etp=True, eps=[e("10.0.0.0:80"), e("10.0.0.1:80", local=True)]), "",
         {"10.0.0.0:80", "10.0.0.1:80"}, None, {"10.0.0.0:80", "10.0.0.1:80"}),
    Case("no cluster endpoints for iTP:Local internal-only service",
         info(itp=True, eps=[e("10.0.0.0:80"), e("10.0.0.1:80", local=True)]), "",
         None, {"10.0.0.1:80"}, {"10.0.0.1:80"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_categorize_endpoints(case: Case) -> None:
    got = categorize(case.info, N, case.zone)

    def names(eps: tuple[EndpointInfo, ...] | None) -> set[str] | None:
        return None if eps is None else {x.endpoint for x in eps}

    assert names(got.cluster) == case.cluster
    assert names(got.local) == case.local
    if case.cluster is not None and case.local is None:
        want_all = case.cluster
    elif case.local is not None and case.cluster is None:
        want_all = case.local
    else:
        want_all = case.all or set()
    assert names(got.all_reachable) == want_all
    assert got.has_any == (bool(want_all) or case.only_remote)


def test_prefer_same_node_hints() -> None:
    """PreferSameNode: node hints win when every ready endpoint has one and one is for this
    node; otherwise zone hints apply."""
    base = [
        EndpointInfo("10.0.0.1", 80, N, "z1", True, True, False, frozenset({"z1"}),
                     frozenset({N})),
        EndpointInfo("10.0.0.2", 80, "b", "z1", True, True, False, frozenset({"z1"}),
                     frozenset({"b"})),
        EndpointInfo("10.0.0.3", 80, "c", "z2", True, True, False, frozenset({"z2"}),
                     frozenset({"c"})),
    ]
    got = categorize(info(eps=base), N, "z1")
    assert got.topology == "PreferSameNode"
    assert [x.ip for x in got.cluster or ()] == ["10.0.0.1"]
    # On a node with no endpoint of its own, the zone hints apply.
    got = categorize(info(eps=base), "d", "z1")
    assert got.topology == "PreferSameZone"
    assert [x.ip for x in got.cluster or ()] == ["10.0.0.1", "10.0.0.2"]


def test_prefer_close_through_the_plan() -> None:
    """trafficDistribution PreferClose: the controller's zone hints narrow each node's Cluster
    endpoints; the ruleset of a node in zone-a balances over zone-a endpoints only."""
    objs = [
        service("ns", "web", "172.30.0.10", [port("http", 80)],
                traffic_distribution="PreferClose"),
        eslice("ns", "web", [
            ep("10.0.0.1", "n1", zone="zone-a", hints=["zone-a"]),
            ep("10.0.0.2", "n2", zone="zone-b", hints=["zone-b"]),
            ep("10.0.0.3", "n3", zone="zone-a", hints=["zone-a"]),
        ], [eport("http", 80)]),
    ]
    nodes = [node("n1", "192.168.0.11", labels={"topology.kubernetes.io/zone": "zone-a"}),
             node("n2", "192.168.0.12", labels={"topology.kubernetes.io/zone": "zone-b"}),
             node(TEST_NODE)]
    p = plan(objs, nodes=nodes)
    spn = next(p.ports(4))
    assert [x.ip for x in p.categorize(spn, "n1").cluster or ()] == ["10.0.0.1", "10.0.0.3"]
    assert [x.ip for x in p.categorize(spn, "n2").cluster or ()] == ["10.0.0.2"]
    # A node without a zone label uses every endpoint.
    assert len(p.categorize(spn, TEST_NODE).cluster or ()) == 3
