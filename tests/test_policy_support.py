"""The upstream NetworkPolicy e2e model, recreated for podnet's policy tests.

kubernetes/test/e2e/network/netpol builds three namespaces x, y, z (labelled ``ns: <name>``
plus the automatic ``kubernetes.io/metadata.name``), each with pods a, b, c (labelled
``pod: <name>``) whose containers serve ports 80 and 81 over TCP, UDP and SCTP under the names
``serve-<port>-<proto>`` (model.go). Expected connectivity is a truth table built by
``Reachability`` (reachability.go) — a default, then ``Expect``/``ExpectPeer``/
``ExpectAllIngress``/``ExpectAllEgress`` — and printed by ``TruthTable.PrettyPrint``
(truthtable.go). This module mirrors those helpers so each test reads like its upstream twin.

Upstream ignores loopback pairs (``ignoreLoopback = true``: undefined behaviour across CNIs);
podnet defines them as allowed, so expectations get ``allow_loopback()`` (upstream's own
``Reachability.AllowLoopback``) before comparison.

The other policy test modules import from here; the tests below check the model itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from podnet.api.core import (
    Container,
    ContainerPort,
    Namespace,
    Node,
    NodeAddress,
    NodeSpec,
    NodeStatus,
    Pod,
    PodIP,
    PodSpec,
    PodStatus,
)
from podnet.api.defaults import apply_defaults
from podnet.api.frozen import FrozenDict
from podnet.api.meta import ObjectMeta, Resource
from podnet.api.networking import NetworkPolicy
from podnet.cluster.config import ClusterConfig, PluginConfig
from podnet.cluster.state import ClusterState

NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
PORTS = (80, 81)
PROTOCOLS = ("TCP", "UDP", "SCTP")
NODES = {"worker": ("172.18.0.3", "10.244.1"), "worker2": ("172.18.0.4", "10.244.2")}
#: x/a, y/a, z/a on worker; b and c on worker2 — so both nodes have local and remote peers.
NODE_OF = {"a": "worker", "b": "worker2", "c": "worker2"}


def pod_ip(ns: str, name: str) -> str:
    """Deterministic addresses: 10.244.<node>.<10*ns + pod>, e.g. x/a 10.244.1.11."""
    subnet = NODES[NODE_OF.get(name, "worker")][1]
    n = 10 * (NAMESPACES.index(ns) + 1 if ns in NAMESPACES else 9) + (
        POD_NAMES.index(name) + 1 if name in POD_NAMES else 9
    )
    return f"{subnet}.{n}"


def make_namespace(name: str, labels: Mapping[str, str] | None = None) -> Namespace:
    lab = {"ns": name, "kubernetes.io/metadata.name": name}
    lab.update(labels or {})
    return Namespace(metadata=ObjectMeta(name=name, labels=FrozenDict(lab)))


def make_pod(
    ns: str,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    ips: Iterable[str] | None = None,
    node: str | None = None,
    host_network: bool = False,
    ports: Iterable[tuple[str, int, str]] | None = None,
) -> Pod:
    """A pod as the e2e model makes it: one container per (port, protocol), named ports."""
    if ports is None:
        ports = [(f"serve-{p}-{proto.lower()}", p, proto) for p in PORTS for proto in PROTOCOLS]
    containers = tuple(
        Container(
            name=f"cont-{num}-{proto.lower()}",
            image="registry.k8s.io/e2e-test-images/agnhost:2.47",
            ports=(ContainerPort(name=pname, container_port=num, protocol=proto),),
        )
        for pname, num, proto in ports
    )
    addrs = tuple(ips) if ips is not None else (pod_ip(ns, name),)
    node_name = node or NODE_OF.get(name, "worker")
    return Pod(
        metadata=ObjectMeta(name=name, namespace=ns, labels=FrozenDict(labels or {"pod": name})),
        spec=PodSpec(containers=containers, node_name=node_name, host_network=host_network),
        status=PodStatus(
            phase="Running",
            host_ip=NODES[node_name][0] if node_name in NODES else "",
            pod_ip=addrs[0] if addrs else "",
            pod_ips=tuple(PodIP(ip=a) for a in addrs),
        ),
    )


def make_node(name: str) -> Node:
    ip, subnet = NODES[name]
    return Node(
        metadata=ObjectMeta(name=name, labels=FrozenDict({"kubernetes.io/hostname": name})),
        spec=NodeSpec(pod_cidr=f"{subnet}.0/24"),
        status=NodeStatus(addresses=(NodeAddress(type="InternalIP", address=ip),)),
    )


def policy(ns: str, name: str, spec: Mapping[str, Any]) -> NetworkPolicy:
    """A NetworkPolicy from its manifest's spec, defaulted as the API server defaults it."""
    np = NetworkPolicy.from_dict(
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": name, "namespace": ns}, "spec": dict(spec)}
    )
    out = apply_defaults(np)
    assert isinstance(out, NetworkPolicy)
    return out


def cluster(
    policies: Iterable[NetworkPolicy] = (),
    *,
    plugin: str = "calico",
    namespaces: Iterable[Namespace] | None = None,
    pods: Iterable[Pod] | None = None,
    extra: Iterable[Resource] = (),
) -> ClusterState:
    """The 3×3 e2e cluster (or the given namespaces/pods) with ``policies``."""
    nss = list(namespaces) if namespaces is not None else [make_namespace(n) for n in NAMESPACES]
    pds = list(pods) if pods is not None else [make_pod(ns, p) for ns in NAMESPACES for p in POD_NAMES]
    objs: list[Resource] = [*nss, *pds, *(make_node(n) for n in NODES), *policies, *extra]
    return ClusterState(config=ClusterConfig(plugin=PluginConfig(plugin)), objects={o.ref: o for o in objs})


def all_pods() -> list[str]:
    return [f"{ns}/{p}" for ns in NAMESPACES for p in POD_NAMES]


# ---------------------------------------------------------------------------- reachability.go


class Reachability:
    """Upstream's Reachability/TruthTable: expected connectivity of ordered pod pairs."""

    def __init__(self, pods: Iterable[str] | None = None, default: bool = True) -> None:
        self.pods = list(pods) if pods is not None else all_pods()
        self.values = {f: {t: default for t in self.pods} for f in self.pods}

    def expect(self, src: str, dst: str, connected: bool) -> None:
        self.values[src][dst] = connected

    def expect_all_ingress(self, pod: str, connected: bool) -> None:
        for f in self.pods:
            self.values[f][pod] = connected

    def expect_all_egress(self, pod: str, connected: bool) -> None:
        for t in self.pods:
            self.values[pod][t] = connected

    def expect_peer(self, src: tuple[str, str], dst: tuple[str, str], connected: bool) -> None:
        """``ExpectPeer(&Peer{Namespace, Pod}, …)``: "" matches any namespace / pod."""
        def match(peer: tuple[str, str], pod: str) -> bool:
            ns, name = pod.split("/")
            return (not peer[0] or peer[0] == ns) and (not peer[1] or peer[1] == name)

        for f in self.pods:
            if match(src, f):
                for t in self.pods:
                    if match(dst, t):
                        self.values[f][t] = connected

    def allow_loopback(self) -> Reachability:
        for p in self.pods:
            self.values[p][p] = True
        return self

    def pretty_print(self, indent: str = "") -> str:
        """``TruthTable.PrettyPrint``."""
        lines = [indent + "\t".join(["-", *self.pods])]
        for f in self.pods:
            lines.append(indent + "\t".join([f, *("." if self.values[f][t] else "X" for t in self.pods)]))
        return "\n".join(lines)


ANY: tuple[str, str] = ("", "")


def ns_(ns: str) -> tuple[str, str]:
    return (ns, "")


def pod_(ns: str, name: str) -> tuple[str, str]:
    return (ns, name)


# ---------------------------------------------------------------------------- the model itself


def test_model_matches_upstream_layout() -> None:
    state = cluster()
    assert [p.qualified_name for p in state.pods()] == all_pods()
    xa = state.pod("x", "a")
    assert xa is not None
    assert xa.labels == {"pod": "a"}
    assert [(p.name, p.container_port, p.protocol) for p in xa.spec.all_ports()][:3] == [
        ("serve-80-tcp", 80, "TCP"), ("serve-80-udp", 80, "UDP"), ("serve-80-sctp", 80, "SCTP")]
    ns = {n.name: dict(n.labels) for n in state.namespaces}
    assert ns["y"] == {"ns": "y", "kubernetes.io/metadata.name": "y"}


def test_reachability_helper_prints_like_truthtable_go() -> None:
    r = Reachability(["x/a", "x/b"])
    r.expect_all_ingress("x/a", False)
    assert r.pretty_print() == "-\tx/a\tx/b\nx/a\tX\t.\nx/b\tX\t."
    assert r.allow_loopback().pretty_print("  ") == "  -\tx/a\tx/b\n  x/a\t.\t.\n  x/b\tX\t."


def test_policy_helper_defaults_policy_types() -> None:
    assert policy("x", "p", {"podSelector": {}}).spec.policy_types == ("Ingress",)
    assert policy("x", "p", {"podSelector": {}, "egress": [{}]}).spec.policy_types == ("Ingress", "Egress")
