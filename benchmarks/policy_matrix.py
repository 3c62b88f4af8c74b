"""NetworkPolicy at scale: 1,000 pods, 500 policies — the full matrix and one verdict.

The cluster: 20 namespaces of 50 pods (10 apps × 5 replicas, three tiers, a named ``http``
port whose number differs between apps) on 10 nodes, and 25 policies per namespace of every
kind real clusters have: default-deny both ways, DNS egress, app-to-app ingress by pod and by
namespace selector (and both), matchExpressions, ipBlocks with except, named ports, endPort
ranges, protocol-only rules.

    .venv/bin/python benchmarks/policy_matrix.py
    .venv/bin/python benchmarks/policy_matrix.py --pods 2000 --policies 1000

Targets (issue 4): full matrix (index build included) < 2 s; one verdict < 1 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from podnet.api.core import Container, ContainerPort, Namespace, Pod, PodIP, PodSpec, PodStatus
from podnet.api.defaults import apply_defaults
from podnet.api.frozen import FrozenDict
from podnet.api.meta import ObjectMeta, Resource
from podnet.api.networking import NetworkPolicy
from podnet.cluster.config import ClusterConfig, PluginConfig
from podnet.cluster.state import ClusterState
from podnet.policy import PolicyIndex, compile_node, reachability, verdict

NS_COUNT = 20
APPS = 10
TIERS = ("web", "api", "db")


def build_state(pods_total: int, policies_total: int, seed: int = 1) -> ClusterState:
    rnd = random.Random(seed)
    per_ns = max(1, pods_total // NS_COUNT)
    objs: list[Resource] = []
    n = 0
    for i in range(NS_COUNT):
        ns = f"ns{i:02d}"
        objs.append(Namespace(metadata=ObjectMeta(name=ns, labels=FrozenDict(
            {"kubernetes.io/metadata.name": ns, "team": f"t{i % 4}", "env": "prod" if i % 2 else "dev"}))))
        for j in range(per_ns):
            app = f"app{j % APPS}"
            ip = f"10.{128 + n // 65536}.{(n // 256) % 256}.{n % 256 or 1}"
            http = 8080 if j % APPS < 5 else 80
            objs.append(Pod(
                metadata=ObjectMeta(name=f"{app}-{j:03d}", namespace=ns, labels=FrozenDict(
                    {"app": app, "tier": TIERS[j % 3], "version": f"v{j % 2}"})),
                spec=PodSpec(node_name=f"worker{n % 10}", containers=(Container(name="c", ports=(
                    ContainerPort(name="http", container_port=http, protocol="TCP"),
                    ContainerPort(name="metrics", container_port=9090, protocol="TCP"),
                    ContainerPort(name="dns", container_port=53, protocol="UDP"))),)),
                status=PodStatus(phase="Running", pod_ip=ip, pod_ips=(PodIP(ip=ip),)),
            ))
            n += 1
    per_ns_pol = max(1, policies_total // NS_COUNT)
    count = 0
    for i in range(NS_COUNT):
        ns = f"ns{i:02d}"
        for k in range(per_ns_pol):
            objs.append(_policy(ns, k, rnd))
            count += 1
    return ClusterState(config=ClusterConfig(plugin=PluginConfig("calico")), objects={o.ref: o for o in objs})


def _policy(ns: str, k: int, rnd: random.Random) -> NetworkPolicy:
    app = f"app{rnd.randrange(APPS)}"
    other = f"app{rnd.randrange(APPS)}"
    kinds: list[dict[str, Any]] = [
        {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        {"podSelector": {"matchLabels": {"tier": "db"}}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": "ns00"}}, "podSelector": {"matchLabels": {"app": "app0"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]},
        {"podSelector": {"matchLabels": {"app": app}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": other}}}],
                                                                    "ports": [{"port": "http"}]}]},
        {"podSelector": {"matchLabels": {"app": app, "tier": "db"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": f"t{rnd.randrange(4)}"}}, "podSelector": {"matchLabels": {"tier": "api"}}}],
            "ports": [{"port": 5432}]}]},
        {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
         "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}}],
                      "ports": [{"port": 80}, {"port": 8080}]}]},
        {"podSelector": {"matchLabels": {"app": app}}, "ingress": [{"from": [{"ipBlock": {
            "cidr": "10.128.0.0/14", "except": [f"10.128.{rnd.randrange(4)}.0/24"]}}]}]},
        {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Egress"], "egress": [{"to": [
            {"podSelector": {"matchLabels": {"app": other}}}], "ports": [{"port": "http"}, {"port": 30000, "endPort": 32767}]}]},
        {"podSelector": {"matchLabels": {"version": "v1"}}, "ingress": [{"ports": [{"protocol": "UDP"}]}, {"ports": [{"port": "metrics"}]}]},
        {"podSelector": {"matchLabels": {"app": app}}, "ingress": [{}]},
        {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [app, other]}]},
         "policyTypes": ["Egress"],
         "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                     "ports": [{"port": 443}]}]},
    ]
    # a default-deny both ways in a third of the namespaces; elsewhere targeted policies only
    if k == 0 and int(ns[2:]) % 3:
        spec = kinds[2]
    else:
        spec = kinds[k % len(kinds)] if k < len(kinds) else rnd.choice(kinds[2:])
    np = NetworkPolicy.from_dict({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                  "metadata": {"name": f"p{k:03d}", "namespace": ns}, "spec": spec})
    out = apply_defaults(np)
    assert isinstance(out, NetworkPolicy)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--verdicts", type=int, default=2000)
    args = ap.parse_args()

    state = build_state(args.pods, args.policies)
    pods = len(state.pods())
    policies = len(state.typed(NetworkPolicy))
    print(f"cluster: {pods} pods in {NS_COUNT} namespaces, {policies} NetworkPolicies")

    t0 = time.perf_counter()
    index = PolicyIndex.build(state)
    t1 = time.perf_counter()
    m80 = reachability(index, 80, "TCP")
    t2 = time.perf_counter()
    m8080 = reachability(index, 8080, "TCP")
    t3 = time.perf_counter()
    as_json = m80.to_dict()
    t4 = time.perf_counter()
    text = m80.to_text()
    t5 = time.perf_counter()

    pairs = len(m80.pods) ** 2
    print(f"index build:                    {1000 * (t1 - t0):8.1f} ms")
    print(f"matrix 80/TCP:                  {1000 * (t2 - t1):8.1f} ms  ({pairs:,} pairs, "
          f"{m80.allowed_count:,} allowed)")
    print(f"matrix 8080/TCP (named ports):  {1000 * (t3 - t2):8.1f} ms  ({m8080.allowed_count:,} allowed)")
    print(f"full matrix incl. index build:  {1000 * (t2 - t0):8.1f} ms   target < 2000 ms")
    print(f"  -o json dict:                 {1000 * (t4 - t3):8.1f} ms  ({len(as_json['matrix']):,} rows)")
    print(f"  text table:                   {1000 * (t5 - t4):8.1f} ms  ({len(text) / 1e6:.1f} MB)")

    rnd = random.Random(7)
    keys = list(m80.pods)
    times: list[float] = []
    allowed = 0
    for _ in range(args.verdicts):
        src, dst = rnd.choice(keys), rnd.choice(keys)
        port = rnd.choice((80, 8080, 5432, 53))
        s = time.perf_counter()
        v = verdict(index, src, dst, port, "TCP")
        times.append(time.perf_counter() - s)
        allowed += v.allowed
    times.sort()
    print(f"one verdict: mean {1e6 * statistics.fmean(times):7.1f} µs, p99 {1e6 * times[int(0.99 * len(times))]:7.1f} µs, "
          f"max {1e6 * times[-1]:7.1f} µs   target < 1000 µs  ({allowed}/{len(times)} allowed)")

    t6 = time.perf_counter()
    rs = compile_node(index, "worker0")
    t7 = time.perf_counter()
    print(f"nft ruleset of one node:        {1000 * (t7 - t6):8.1f} ms  ({len(rs.chains)} chains, "
          f"{len(rs.sets)} sets, {rs.rules} rules)")

    ok = (t2 - t0) < 2.0 and times[int(0.99 * len(times))] < 1e-3
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
