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

Each command is timed as ``podnet check`` / ``podnet diff`` runs it: from a model built for it
(nothing another command derived — the state's indexes, the policy index, the DNS zone, the
Service plan — is reused), with the cyclic garbage collector paused for the command as the CLI
pauses it, and nothing collected between its phases. Prints wall and CPU times per phase, then
the end-to-end figures the target (issue 8, two cores) is about: model build + check, and model
build + diff (head derivation included), each < 10 s. The machine is shared: run it a few times.

    .venv/bin/python benchmarks/check_scale.py               # the full envelope
    .venv/bin/python benchmarks/check_scale.py --scale 0.1   # a tenth of it
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_scale import make_config, objects, peak_rss_mb  # noqa: E402

from podnet.api.defaults import apply_defaults  # noqa: E402
from podnet.api.loader import parse_text  # noqa: E402
from podnet.api.meta import Resource  # noqa: E402
from podnet.api.scheme import decode_object  # noqa: E402
from podnet.cluster.gcpause import paused_gc  # noqa: E402
from podnet.cluster.reconcile import reconcile  # noqa: E402
from podnet.cluster.state import ClusterState  # noqa: E402
from podnet.sim.check import Checker, parse_specs  # noqa: E402
from podnet.sim.diff import derive_head, diff_states  # noqa: E402

ISOLATED = 10  # namespaces ns0 … ns9 get policies


def timed(label: str, fn: Any, *args: Any) -> tuple[float, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time beside wall time: on a shared machine, a phase whose wall time is well above its
    # CPU time was waiting for a core, not working.
    print(f"{label:<58} {dt * 1000:>10.1f} ms  (cpu {cpu * 1000:>7.1f} ms)", flush=True)
    return dt, result


@contextmanager
def command() -> Iterator[None]:
    """One command, as the CLI runs it: a process holding nothing else (what earlier commands
    left is collected first, untimed), the cyclic collector paused until it ends."""
    gc.collect()
    with paused_gc():
        yield


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
    # The spec is written from a model of its own (writing it is not the command's work).
    text = spec_text(reconcile(config, applied), args.expectations)
    docs = parse_text(text, "scale.yaml").podnet_documents

    # ---- check
    print(f"-- check, {args.expectations} expectations")
    with command():
        c0 = time.process_time()
        dt_build, state = timed("model: full build (every controller)", reconcile, config, applied)
        dt_parse, exps = timed("parse + validate the spec", parse_specs, state, docs, {"scale.yaml": text})
        dt_run, report = timed("answer every expectation (indexes built on the way)",
                               lambda: Checker(state).run(exps))
        cpus = [time.process_time() - c0]
    sources = sum(len(r.outcomes) for r in report.results)
    print(f"  -> {report.passed} passed, {report.failed} failed, {sources} source pods tried")
    builds = [dt_build]
    check_total = dt_parse + dt_run
    del state, exps, report

    # ---- diff
    print("-- diff, one NetworkPolicy")
    one_app = netpol("ns55", "app55-from-ns55", {"podSelector": {"matchLabels": {"app": "app55"}},
                                                  "ingress": [{"from": [{"podSelector": {}}]}]})
    ns_wide = netpol("ns42", "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    totals = []
    for label, extra in (("a policy selecting one workload", one_app), ("a namespace-wide default-deny", ns_wide)):
        with command():
            c0 = time.process_time()
            dt_build, base = timed("model: full build (every controller)", reconcile, config, applied)
            dt_head, head = timed(f"head state ({label})", derive_head, base, applied, applied + [extra])
            dt_diff, rep = timed("diff (indexes, reachability, DNS, Ingress, endpoints)", diff_states, base, head)
            cpus.append(time.process_time() - c0)
        lost = sum(g.pairs for g in rep.reachability if g.change == "lost")
        print(f"  -> {len(rep.reachability)} groups ({lost} workload pairs lost), "
              f"{len(rep.dns)} DNS, {len(rep.endpoints)} endpoint changes")
        builds.append(dt_build)
        totals.append(dt_head + dt_diff)
        del base, head, rep
    print()
    print(f"model build (every command's own):       {min(builds):8.2f} – {max(builds):.2f} s")
    print(f"check, {args.expectations} expectations:          {check_total:8.2f} s   (parse + answer)")
    print(f"diff, one policy on one workload:        {totals[0]:8.2f} s   (head derivation + diff)")
    print(f"diff, one namespace-wide default-deny:   {totals[1]:8.2f} s   (head derivation + diff)")
    print("end to end, wall (issue 8, target < 10 s each):")
    for (label, total), cpu in zip(((f"build + check, {args.expectations} expectations", builds[0] + check_total),
                                    ("build + diff, one policy on one workload", builds[1] + totals[0]),
                                    ("build + diff, one namespace-wide default-deny", builds[2] + totals[1])), cpus):
        print(f"  {label:<46} {total:8.2f} s   {'ok' if total < 10 else 'MISSED'}   (cpu {cpu:.2f} s)")
    print(f"peak RSS:                                {peak_rss_mb():8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
