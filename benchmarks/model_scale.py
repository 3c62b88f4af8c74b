"""The Kubernetes scalability envelope through podnet's model.

Builds 5,000 nodes, 150,000 pods (as Deployments) and 10,000 Services, then changes one object at
a time — a Deployment scaled, a Service added — and measures how long the incremental controllers
take to converge. Prints wall times and peak RSS.

    .venv/bin/python benchmarks/model_scale.py                 # the full envelope
    .venv/bin/python benchmarks/model_scale.py --scale 0.1     # a tenth of it, for a quick look

Targets (issue 2, two cores): full build < 20 s and < 4 GB; one change < 50 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import resource
import statistics
import sys
import time
from typing import Any

from podnet.api.defaults import apply_defaults
from podnet.api.meta import Resource
from podnet.api.scheme import decode_object
from podnet.api.workloads import Deployment
from podnet.cluster.config import DEFAULT, ClusterConfig, NodeConfig
from podnet.cluster.reconcile import reconcile, reconcile_change
from podnet.cluster.state import ClusterState


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_config(nodes: int) -> ClusterConfig:
    # 5,000 nodes need more than 256 /24s: a /12 pod network gives 4,096 per /12… use a /11.
    node_list = [NodeConfig(name="control-plane", role="control-plane")]
    node_list += [NodeConfig(name=f"worker{i}") for i in range(1, nodes)]
    return dataclasses.replace(
        DEFAULT,
        pod_subnets=("10.128.0.0/9",),
        service_subnets=("10.96.0.0/12",),
        nodes=tuple(node_list),
    )


def deployment(ns: str, name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "backend"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def service(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


def objects(services: int, pods: int, namespaces: int) -> list[Resource]:
    per_deploy = max(1, pods // services)
    out: list[Resource] = []
    for i in range(services):
        ns = f"ns{i % namespaces}"
        name = f"app{i}"
        out.append(apply_defaults(decode_object(deployment(ns, name, per_deploy))))
        out.append(apply_defaults(decode_object(service(ns, name))))
    return out


def timed(label: str, fn: Any, *args: Any) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    result = fn(*args)
    dt = time.perf_counter() - t0
    print(f"{label:<44} {dt * 1000:>10.1f} ms", flush=True)
    return dt, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the envelope (default 1)")
    ap.add_argument("--repeat", type=int, default=5, help="incremental changes to time (median)")
    args = ap.parse_args(argv)
    n_nodes = max(3, int(5000 * args.scale))
    n_pods = int(150_000 * args.scale)
    n_svcs = max(1, int(10_000 * args.scale))
    print(f"envelope: {n_nodes} nodes, {n_pods} pods, {n_svcs} Services (scale {args.scale})")
    config = make_config(n_nodes)
    _, applied = timed("decode + default manifests", objects, n_svcs, n_pods, 100)
    dt_full, state = timed("full build (every controller)", reconcile, config, applied)
    assert isinstance(state, ClusterState)
    pods = len(state.pods())
    slices = len(state.of_kind("EndpointSlice"))
    print(f"  -> {len(state)} objects, {pods} pods, {slices} EndpointSlices")
    print(f"peak RSS after full build: {peak_rss_mb():.0f} MB")

    deploys = [o for o in applied if isinstance(o, Deployment)]
    scale_times = []
    for k in range(args.repeat):
        d = deploys[k * 7 % len(deploys)]
        replicas = (d.spec.replicas or 0) + 2
        scaled = dataclasses.replace(d, spec=dataclasses.replace(d.spec, replicas=replicas))
        dt, state = timed(f"scale {d.qualified_name} to {replicas}", reconcile_change, state, [scaled], [])
        scale_times.append(dt)
    add_times = []
    for k in range(args.repeat):
        ns = f"ns{k}"
        svc = apply_defaults(decode_object(service(ns, f"app{k * 100}-extra")))
        dt, state = timed(f"add Service {svc.qualified_name}", reconcile_change, state, [svc], [])
        add_times.append(dt)
    print()
    print(f"full build:                 {dt_full:8.2f} s   (target < 20 s)")
    print(f"peak RSS:                   {peak_rss_mb():8.0f} MB  (target < 4096 MB)")
    print(f"Deployment scaled (median): {statistics.median(scale_times) * 1000:8.1f} ms  (target < 50 ms)")
    print(f"Service added (median):     {statistics.median(add_times) * 1000:8.1f} ms  (target < 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
