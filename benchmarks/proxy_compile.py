"""kube-proxy's nftables ruleset for 10,000 Services and 100,000 endpoints on one node.

Builds a ClusterState of Services (one port each, a third NodePort, a tenth LoadBalancer with
externalTrafficPolicy Local, some with session affinity) whose EndpointSlices hold 10 endpoints
each spread over 100 nodes, then measures:

* the ServicePlan (kube-proxy's service and endpoints maps) built from the state;
* the full ruleset of one node: compile and render kube-proxy's full-sync transaction;
* one Service changed (an endpoint replaced): plan update plus partial-sync transaction;
* loading the full ruleset with nft: ``nft -f`` into a scratch network namespace when root,
  else ``nft -c -f`` (check mode); and applying the partial sync on top of it.

    .venv/bin/python benchmarks/proxy_compile.py               # the full size
    .venv/bin/python benchmarks/proxy_compile.py --scale 0.1   # a tenth of it

Targets (issue 4): full ruleset < 2 s; one Service changed < 10 ms; nft loads it.

Loading is the kernel's work and grows quadratically with the table: every ``numgen … vmap``
creates an anonymous map, and the kernel names each one by scanning every set of the table and
binds it by walking the whole pending batch (``nf_tables_set_alloc_name``,
``__nft_set_trans_bind``). kube-proxy's own first sync of a table this size pays the same; a
loader may split the transaction to soften it, at the cost of atomicity.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid

from podnet.api.core import (
    ClientIPConfig,
    LoadBalancerIngress,
    LoadBalancerStatus,
    Node,
    NodeAddress,
    NodeStatus,
    Service,
    ServicePort,
    ServiceSpec,
    ServiceStatus,
    SessionAffinityConfig,
)
from podnet.api.discovery import (
    SERVICE_NAME_LABEL,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    ObjectReference,
)
from podnet.api.frozen import FrozenDict
from podnet.api.meta import ObjectMeta, Resource
from podnet.cluster.config import ClusterConfig
from podnet.cluster.state import ClusterState
from podnet.proxy.nftables import compile_node, partial_sync
from podnet.proxy.service_map import ServicePlan

NODE = "node-0"
READY = EndpointConditions(ready=True, serving=True, terminating=False)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_service(i: int) -> Service:
    ns = f"ns{i % 100}"
    kind = "LoadBalancer" if i % 10 == 0 else "NodePort" if i % 3 == 0 else "ClusterIP"
    ip = f"10.{96 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
    node_port = 30000 + (i % 2700) if kind != "ClusterIP" else 0
    affinity = i % 7 == 0
    return Service(
        metadata=ObjectMeta(name=f"svc{i}", namespace=ns),
        spec=ServiceSpec(
            type=kind,
            cluster_ip=ip,
            cluster_ips=(ip,),
            ports=(ServicePort(name="http", port=80, protocol="TCP", target_port=8080,
                               node_port=node_port),),
            external_traffic_policy="Local" if kind == "LoadBalancer" else
            ("Cluster" if kind == "NodePort" else ""),
            health_check_node_port=32000 + (i % 700) if kind == "LoadBalancer" else 0,
            session_affinity="ClientIP" if affinity else "None",
            session_affinity_config=SessionAffinityConfig(
                client_ip=ClientIPConfig(timeout_seconds=10800)) if affinity else None,
        ),
        status=ServiceStatus(load_balancer=LoadBalancerStatus(
            ingress=(LoadBalancerIngress(ip=f"172.20.{(i >> 8) & 255}.{i & 255}"),)
            if kind == "LoadBalancer" else ())),
    )


def make_slice(i: int, per_service: int, nodes: int, shift: int = 0) -> EndpointSlice:
    ns = f"ns{i % 100}"
    eps = []
    for j in range(per_service):
        n = i * per_service + j + shift
        eps.append(Endpoint(
            addresses=(f"10.{128 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}",),
            conditions=READY,
            node_name=f"node-{n % nodes}",
            target_ref=ObjectReference(kind="Pod", namespace=ns, name=f"svc{i}-pod{j}"),
        ))
    return EndpointSlice(
        metadata=ObjectMeta(name=f"svc{i}-abcde", namespace=ns,
                            labels=FrozenDict({SERVICE_NAME_LABEL: f"svc{i}"})),
        address_type="IPv4",
        endpoints=tuple(eps),
        ports=(EndpointPort(name="http", port=8080, protocol="TCP"),),
    )


def build_state(services: int, per_service: int, nodes: int) -> ClusterState:
    objs: list[Resource] = []
    for n in range(nodes):
        addr = NodeAddress(type="InternalIP", address=f"192.168.{n >> 8}.{n + 1 & 255}")
        objs.append(Node(metadata=ObjectMeta(name=f"node-{n}"),
                         status=NodeStatus(addresses=(addr,))))
    for i in range(services):
        objs.append(make_service(i))
        objs.append(make_slice(i, per_service, nodes))
    config = ClusterConfig(pod_subnets=("10.128.0.0/9",), service_subnets=("10.96.0.0/12",))
    return ClusterState(config=config, objects={o.ref: o for o in objs})


def timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    times = []
    result = None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, times


def nft_load(*texts: str) -> tuple[str, list[float]]:
    """Load with nft; returns (how, seconds per transaction)."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    ip = shutil.which("ip") or "/usr/sbin/ip"
    if not os.path.exists(nft):
        return "nft not installed", []
    times: list[float] = []
    if os.geteuid() == 0 and os.path.exists(ip):
        ns = f"pn-bench-{uuid.uuid4().hex[:8]}"
        subprocess.run([ip, "netns", "add", ns], check=True)
        try:
            for text in texts:
                t0 = time.perf_counter()
                r = subprocess.run([ip, "netns", "exec", ns, nft, "-f", "-"], input=text,
                                   capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                if r.returncode != 0:
                    sys.exit(f"nft -f failed: {r.stderr[:2000]}")
        finally:
            subprocess.run([ip, "netns", "delete", ns], check=False)
        return f"nft -f into netns {ns}", times
    for text in texts:
        t0 = time.perf_counter()
        r = subprocess.run([nft, "-c", "-f", "-"], input=text, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit(f"nft -c -f failed: {r.stderr[:2000]}")
    return "nft -c -f (check mode; not root)", times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--no-nft", action="store_true", help="skip loading with nft")
    args = ap.parse_args()
    services = max(10, int(10_000 * args.scale))
    per_service = 10
    nodes = 100

    print(f"proxy_compile: {services:,} Services, {services * per_service:,} endpoints, "
          f"{nodes} nodes; ruleset of {NODE}")
    t0 = time.perf_counter()
    state = build_state(services, per_service, nodes)
    state.index  # noqa: B018 - build the state's indexes outside the measurement
    print(f"  objects built                      {time.perf_counter() - t0:8.3f} s")

    plan, t_plan = timed(lambda: ServicePlan.build(state))
    print(f"  ServicePlan.build                  {t_plan[0]:8.3f} s")

    def full() -> tuple[int, str]:
        rs = compile_node(plan, NODE)
        return len(rs.ports), rs.transaction()

    (nports, tx), t_full = timed(full, repeat=3)
    lines = tx.count("\n")
    print(f"  full ruleset (compile + render)    {min(t_full):8.3f} s   "
          f"(median {statistics.median(t_full):.3f} s; {nports:,} ports, {lines:,} lines, "
          f"{len(tx) / 1e6:.1f} MB)   target < 2 s")

    # One Service changed: an endpoint replaced in svc42's slice.
    key_i = 42 if services > 42 else 1
    svc = state.service(f"ns{key_i % 100}", f"svc{key_i}")
    assert svc is not None
    new_slice = make_slice(key_i, per_service, nodes, shift=services * per_service)

    def one_change() -> tuple[ServicePlan, str]:
        new_plan = plan.with_service((svc.namespace, svc.name), svc, [new_slice])
        return new_plan, partial_sync(plan, new_plan, NODE).transaction

    (new_plan, ptx), t_part = timed(one_change, repeat=20)
    print(f"  one Service changed (plan+partial) {min(t_part) * 1000:8.3f} ms  "
          f"(median {statistics.median(t_part) * 1000:.3f} ms; "
          f"{ptx.count(chr(10))} lines)   target < 10 ms")
    _, t_ponly = timed(lambda: partial_sync(plan, new_plan, NODE), repeat=20)
    print(f"    of which partial_sync            {min(t_ponly) * 1000:8.3f} ms")

    if not args.no_nft:
        how, t_nft = nft_load(tx, ptx)
        if t_nft:
            print(f"  {how}:")
            print(f"    full ruleset                     {t_nft[0]:8.3f} s")
            print(f"    partial sync on top              {t_nft[1] * 1000:8.3f} ms")
        else:
            print(f"  nft: {how}")
    print(f"  peak RSS                           {peak_rss_mb():8.0f} MB")


if __name__ == "__main__":
    main()
