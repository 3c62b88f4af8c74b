"""``podnet check`` and ``podnet diff`` on the Kubernetes scalability envelope.

The cluster of ``benchmarks/model_scale.py`` (5,000 nodes, 150,000 pods in 10,000 Deployments
behind 10,000 Services, 100 namespaces) under Calico, plus NetworkPolicies in ten namespaces
(deny by default, allow from the same namespace). Then:

* **check**: 1,000 expectations read from a spec text — pod → Service (allow), pod → a pod of
  an isolated namespace (deny), every pod of a Deployment → Service, ``name:port`` through the
  DNS walk, ``resolve`` of Service names, ``svc/…`` from a selector — validated, then answered;
* **diff**: the same manifests and a head that differs by one NetworkPolicy, once a policy
  isolating one workload of an open namespace (every other namespace's workloads lose it),
  once a namespace-wide default-deny (a hundred workloads lose every caller).

Prints wall times per phase; the targets (issue 8, two cores) are < 10 s for check and for diff.
The model build itself (the same as every command's) is timed apart.

    .venv/bin/python benchmarks/check_scale.py               # the full envelope
    .venv/bin/python benchmarks/check_scale.py --scale 0.1   # a tenth of it
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_scale import make_config, objects, peak_rss_mb  # noqa: E402

from podnet.api.defaults import apply_defaults  # noqa: E402
from podnet.api.loader import parse_text  # noqa: E402
from podnet.api.meta import Resource  # noqa: E402
from podnet.api.scheme import decode_object  # noqa: E402
from podnet.cluster.reconcile import reconcile  # noqa: E402
from podnet.cluster.state import ClusterState  # noqa: E402
from podnet.sim.check import Checker, parse_specs  # noqa: E402
from podnet.sim.diff import derive_head, diff_states  # noqa: E402

ISOLATED = 10  # namespaces ns0 … ns9 get policies


def timed(label: str, fn: Any, *args: Any) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    result = fn(*args)
    dt = time.perf_counter() - t0
    print(f"{label:<58} {dt * 1000:>10.1f} ms", flush=True)
    return dt, result


def netpol(ns: str, name: str, spec: dict[str, Any]) -> Resource:
    return apply_defaults(decode_object({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                         "metadata": {"name": name, "namespace": ns}, "spec": spec}))


def policies() -> list[Resource]:
    out = []
    for i in range(ISOLATED):
        ns = f"ns{i}"
        out.append(netpol(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]}))
        out.append(netpol(ns, "same-namespace", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}))
    return out


def spec_text(state: ClusterState, n: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    services = [s for s in state.services() if s.metadata.namespace.startswith("ns")]
    pods_by_ns: dict[str, list[str]] = {}
    for p in state.pods():
        if p.metadata.namespace.startswith("ns"):
            pods_by_ns.setdefault(p.metadata.namespace, []).append(p.metadata.name)
    open_ns = [ns for ns in pods_by_ns if int(ns[2:]) >= ISOLATED]
    closed_ns = [ns for ns in pods_by_ns if int(ns[2:]) < ISOLATED]
    exps: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 10
        src_ns = rnd.choice(open_ns)
        src = f"{src_ns}/{rnd.choice(pods_by_ns[src_ns])}"
        svc = rnd.choice(services)
        sref = f"{svc.metadata.namespace}/{svc.metadata.name}"
        closed = svc.metadata.namespace in closed_ns
        if kind < 4:      # pod → Service: allowed unless the Service's namespace is isolated
            exps.append({"from": src, "to": f"svc/{sref}:80", "expect": "deny" if closed else "allow"})
        elif kind < 6:    # pod → a pod of an isolated namespace
            dns = rnd.choice(closed_ns)
            exps.append({"from": src, "to": f"{dns}/{rnd.choice(pods_by_ns[dns])}:8080", "expect": "deny"})
        elif kind == 6:   # every pod of a Deployment
            exps.append({"from": f"deploy/{src_ns}/app{int(src.split('/app')[1].split('-')[0])}",
                         "to": f"svc/{sref}:http", "expect": "deny" if closed else "allow"})
        elif kind == 7:   # name:port, through the search walk
            exps.append({"from": src, "to": f"{svc.metadata.name}.{svc.metadata.namespace}:80",
                         "expect": "deny" if closed else "allow"})
        elif kind == 8:   # resolve
            exps.append({"resolve": {"name": f"{svc.metadata.name}.{svc.metadata.namespace}", "from": src},
                         "expect": {"addresses": list(svc.cluster_ips)}})
        else:             # from a selector
            exps.append({"from": {"namespace": src_ns, "labels": {"app": src.split("/")[1].rsplit("-", 2)[0]}},
                         "to": f"svc/{sref}:80", "expect": "deny" if closed else "allow"})
    return yaml.safe_dump({"apiVersion": "podnet.io/v1alpha1", "kind": "ConnectivityCheck",
                           "metadata": {"name": "scale"}, "expectations": exps}, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the envelope (default 1)")
    ap.add_argument("--expectations", type=int, default=1000)
    args = ap.parse_args(argv)
    n_nodes = max(3, int(5000 * args.scale))
    n_pods = int(150_000 * args.scale)
    n_svcs = max(1, int(10_000 * args.scale))
    print(f"envelope: {n_nodes} nodes, {n_pods} pods, {n_svcs} Services (scale {args.scale})")
    config = make_config(n_nodes).with_plugin("calico")  # a plugin that enforces the policies
    applied = objects(n_svcs, n_pods, 100) + policies()
    dt_build, state = timed("model: full build (every controller)", reconcile, config, applied)

    # ---- check
    print(f"-- check, {args.expectations} expectations")
    text = spec_text(state, args.expectations)
    docs = parse_text(text, "scale.yaml").podnet_documents
    dt_parse, exps = timed("parse + validate the spec", parse_specs, state, docs, {"scale.yaml": text})
    dt_run, report = timed("answer every expectation (indexes built on the way)",
                           lambda: Checker(state).run(exps))
    sources = sum(len(r.outcomes) for r in report.results)
    print(f"  -> {report.passed} passed, {report.failed} failed, {sources} source pods tried")
    check_total = dt_parse + dt_run

    # ---- diff
    print("-- diff, one NetworkPolicy")
    one_app = netpol("ns55", "app55-from-ns55", {"podSelector": {"matchLabels": {"app": "app55"}},
                                                  "ingress": [{"from": [{"podSelector": {}}]}]})
    ns_wide = netpol("ns42", "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    totals = []
    for label, extra in (("a policy selecting one workload", one_app), ("a namespace-wide default-deny", ns_wide)):
        dt_head, head = timed(f"head state ({label})", derive_head, state, applied, applied + [extra])
        dt_diff, rep = timed("diff (indexes, reachability, DNS, Ingress, endpoints)", diff_states, state, head)
        lost = sum(g.pairs for g in rep.reachability if g.change == "lost")
        print(f"  -> {len(rep.reachability)} groups ({lost} workload pairs lost), "
              f"{len(rep.dns)} DNS, {len(rep.endpoints)} endpoint changes")
        totals.append(dt_head + dt_diff)
    print()
    print(f"model build (shared by every command):   {dt_build:8.2f} s")
    print(f"check, {len(exps)} expectations:          {check_total:8.2f} s   (target < 10 s)")
    print(f"diff, one policy on one workload:        {totals[0]:8.2f} s   (target < 10 s)")
    print(f"diff, one namespace-wide default-deny:   {totals[1]:8.2f} s   (target < 10 s)")
    print(f"peak RSS:                                {peak_rss_mb():8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
