"""``podnet up`` and ``podnet down`` for real: 3 nodes / 100 pods and 10 nodes / 1,000 pods.

Runs the commands a user types (``podnet up -d -f …``, ``podnet down``) against generated
manifests (Deployments of agnhost-like pods behind Services, spread by the scheduler), as root,
and reports the wall time of each, the daemon's own phase timings, and its resident memory once
everything is served; then one Deployment (one pod) and its Service applied to the running
cluster and deleted again, timed from the command to the daemon's "converged" line (and the
daemon's own figure for the convergence). Targets (issue 7): up < 10 s for 3/100 and < 60 s for
10/1000, down < 5 s; one object applied or deleted live < 1 s.

    sudo .venv/bin/python benchmarks/up.py            # both sizes
    sudo .venv/bin/python benchmarks/up.py --sizes 3x100 --plugin calico:vxlan
    sudo .venv/bin/python benchmarks/up.py --json

Everything lives in namespaces named ``pn-bench<pid>…`` and is removed at the end (and on error).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manifests(pods: int, per_deployment: int = 25) -> str:
    """``pods`` pods (system pods not counted) in Deployments of ``per_deployment`` replicas,
    each behind a ClusterIP Service, in namespace ``bench``."""
    docs = ["apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n"]
    i = 0
    left = pods
    while left > 0:
        n = min(per_deployment, left)
        name = f"app{i}"
        docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: bench}}
spec:
  replicas: {n}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        ports: [{{containerPort: 8080, name: http}}]
""")
        docs.append(f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: bench}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: http}}]
""")
        left -= n
        i += 1
    return "---\n".join(docs)


ONE = """apiVersion: apps/v1
kind: Deployment
metadata: {name: live, namespace: bench}
spec:
  replicas: 1
  selector: {matchLabels: {app: live}}
  template:
    metadata: {labels: {app: live}}
    spec:
      # the control-plane node: the workers of the 10-node size are full (9 × maxPods 110)
      nodeSelector: {node-role.kubernetes.io/control-plane: ""}
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists,
                     effect: NoSchedule}]
      containers:
      - {name: web, image: registry.k8s.io/e2e-test-images/agnhost:2.53,
         ports: [{containerPort: 8080, name: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: live, namespace: bench}
spec:
  selector: {app: live}
  ports: [{port: 80, targetPort: http}]
"""


def live_change(podnet: list[str], verb: str, path: Path, cluster: str, env: dict[str, str],
                log: Path, expect: str) -> tuple[float, float]:
    """``podnet VERB -f PATH`` on the running cluster: seconds from the command to the daemon's
    "converged" line that says ``expect``, and the daemon's own convergence time."""
    before = log.read_text().count("converged in ")
    t0 = time.perf_counter()
    subprocess.run([*podnet, verb, "-f", str(path), "--cluster", cluster], env=env, check=True,
                   capture_output=True, cwd=ROOT)
    deadline = t0 + 30
    while time.perf_counter() < deadline:
        lines = [ln for ln in log.read_text().splitlines() if "converged in " in ln][before:]
        done = next((ln for ln in lines if expect in ln), None)
        if done is not None:
            wall = time.perf_counter() - t0
            ms = float(done.split("converged in ", 1)[1].split(" ms", 1)[0])
            return wall, ms / 1000
        time.sleep(0.01)
    raise RuntimeError(f"podnet {verb}: the daemon did not converge ({expect!r}) in 30 s")


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run_size(nodes: int, pods: int, plugin: str, home: Path, cluster: str) -> dict[str, object]:
    env = {**os.environ, "PODNET_HOME": str(home), "PODNET_INGRESS_PORTS": "off"}
    # as a user's install runs: with Python's bytecode cache (CI shells often turn it off, which
    # makes every command compile its modules again, ~0.15 s)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    path = home / f"bench-{nodes}x{pods}.yaml"
    path.write_text(manifests(pods))
    podnet = [sys.executable, "-m", "podnet.cli.main"]
    base = ["--cluster", cluster, "--nodes", str(nodes), "--plugin", plugin]
    # the state alone (model), so that `up` measures the real network, not the controllers
    t0 = time.perf_counter()
    subprocess.run([*podnet, "apply", "-f", str(path), *base], env=env, check=True,
                   capture_output=True, cwd=ROOT)
    apply_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    up = subprocess.run([*podnet, "up", "-d", "--cluster", cluster], env=env,
                        capture_output=True, text=True, cwd=ROOT)
    up_s = time.perf_counter() - t0
    if up.returncode != 0:
        raise RuntimeError(f"podnet up failed:\n{up.stdout}\n{up.stderr}")
    rt = json.loads((home / cluster / "runtime.json").read_text())
    pid = int(rt["pid"])
    rss = rss_kib(pid)
    namespaces = len([n for n in os.listdir("/run/netns") if n.startswith(f"pn-{cluster}-")])
    # what the scheduler placed: kubelet's maxPods (110) caps a node, kind's control-plane is
    # tainted, so 10 nodes run 9 × 110 = 990 pods at most (system pods included)
    listed = subprocess.run([*podnet, "get", "pods", "-n", "bench", "-o", "json", "--cluster",
                             cluster], env=env, check=True, capture_output=True, text=True,
                            cwd=ROOT).stdout
    phases = [i["status"].get("phase") for i in json.loads(listed)["items"]]
    one = home / "live.yaml"
    one.write_text(ONE)
    log = home / cluster / "logs" / "daemon.log"
    add_s, add_converge_s = live_change(podnet, "apply", one, cluster, env, log, "1 pod(s) wired")
    del_s, del_converge_s = live_change(podnet, "delete", one, cluster, env, log, "1 removed")
    t0 = time.perf_counter()
    subprocess.run([*podnet, "down", "--cluster", cluster], env=env, check=True,
                   capture_output=True, cwd=ROOT)
    down_s = time.perf_counter() - t0
    left = [n for n in os.listdir("/run/netns") if n.startswith(f"pn-{cluster}-")]
    subprocess.run([*podnet, "config", "delete-cluster", cluster], env=env, capture_output=True,
                   cwd=ROOT)
    return {
        "nodes": nodes,
        "pods": pods,
        "pods_served": rt.get("ready_pods"),
        "bench_running": phases.count("Running"),
        "bench_pending": phases.count("Pending"),
        "plugin": plugin,
        "namespaces": namespaces,
        "apply_s": round(apply_s, 2),
        "up_s": round(up_s, 2),
        "down_s": round(down_s, 2),
        "live_apply_s": round(add_s, 2),
        "live_apply_converge_s": round(add_converge_s, 3),
        "live_delete_s": round(del_s, 2),
        "live_delete_converge_s": round(del_converge_s, 3),
        "phases_s": rt.get("seconds"),
        "daemon_rss_mib": round(rss / 1024, 1) if rss else None,
        "left_behind": left,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="3x100,10x1000", help="NODESxPODS,… (default: %(default)s)")
    ap.add_argument("--plugin", default="flannel:vxlan")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("benchmarks/up.py needs root (it builds real namespaces)", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="podnet-bench-") as tmp:
        home = Path(tmp)
        for i, size in enumerate(args.sizes.split(",")):
            nodes, pods = (int(x) for x in size.lower().split("x"))
            cluster = f"bench{os.getpid()}{i}"
            try:
                results.append(run_size(nodes, pods, args.plugin, home, cluster))
            finally:
                env = {**os.environ, "PODNET_HOME": str(home)}
                subprocess.run([sys.executable, "-m", "podnet.cli.main", "down", "--cluster",
                                cluster], env=env, capture_output=True, cwd=ROOT)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'size':>10} {'plugin':>14} {'up s':>7} {'down s':>7} {'netns':>6} {'served':>7} "
          f"{'RSS MiB':>8} {'live +1':>8} {'live -1':>8}  phases (s)")
    for r in results:
        phases = " ".join(f"{k}={v}" for k, v in (r["phases_s"] or {}).items())  # type: ignore[attr-defined]
        print(f"{str(r['nodes']) + 'x' + str(r['pods']):>10} {r['plugin']:>14} {r['up_s']:>7} "
              f"{r['down_s']:>7} {r['namespaces']:>6} {r['pods_served']!s:>7} "
              f"{r['daemon_rss_mib']!s:>8} {r['live_apply_s']!s:>8} {r['live_delete_s']!s:>8}  "
              f"{phases}")
        print(f"{'':>10} live: apply of one Deployment + Service {r['live_apply_s']} s to converged "
              f"(the daemon's convergence {r['live_apply_converge_s']} s), delete "
              f"{r['live_delete_s']} s ({r['live_delete_converge_s']} s); target < 1 s")
        if r["bench_pending"]:
            print(f"{'':>10} {r['bench_running']} of the {r['pods']} pods run; {r['bench_pending']} "
                  "stay Pending (every worker holds maxPods 110)")
        if r["left_behind"]:
            print(f"  LEFT BEHIND: {r['left_behind']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
