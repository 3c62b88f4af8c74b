"""Pod-to-pod throughput through each plugin's real path, against a raw veth pair, in one run.

For every plugin and mode the kernel supports, the example cluster (examples/shop) is built for
real (no NetworkPolicy rules, so nothing but the plugin's path is measured) and iperf3 runs
between two pods on the same node and two pods on different nodes. The baseline is a bare veth
pair between two namespaces, kept for the whole run and measured again right beside every plugin:
each ratio divides by the baseline of the same moment, so the load drift of a shared machine
cancels instead of landing on whichever plugin ran in a busy second. Every figure is the median of
``--repeat`` runs. Prints Gbit/s and the ratio to the raw veth.
Targets (issue 7): ≥ 0.8× raw veth for bridge and routed paths (the same-node path is a bridge
or a routed path under every plugin), ≥ 0.5× for encapsulated paths (cross node under VXLAN,
Geneve, IPIP).

    sudo .venv/bin/python benchmarks/throughput.py                 # every mode
    sudo .venv/bin/python benchmarks/throughput.py --plugins flannel:vxlan,calico:bgp -t 5

Needs root and iperf3 (``apt-get install iperf3``; scripts/setup.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MODES = ("flannel:vxlan", "flannel:host-gw", "calico:ipip", "calico:vxlan", "calico:bgp",
         "cilium:vxlan", "cilium:geneve", "cilium:native", "host")
ENCAPSULATED = {"flannel:vxlan", "calico:ipip", "calico:vxlan", "cilium:vxlan", "cilium:geneve"}


def iperf(src_ns: str, dst_ns: str, dst_ip: str, seconds: float) -> float:
    """Gbit/s from ``src_ns`` to an iperf3 server in ``dst_ns``."""
    server = subprocess.Popen(["ip", "netns", "exec", dst_ns, "iperf3", "-s", "-1", "-p", "5201"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = ""
        for _ in range(50):  # until the server listens
            time.sleep(0.05)
            p = subprocess.run(["ip", "netns", "exec", src_ns, "iperf3", "-c", dst_ip, "-p", "5201",
                                "-t", str(seconds), "-J"], capture_output=True, text=True)
            out = p.stdout
            if p.returncode == 0:
                break
        data = json.loads(out)
        return float(data["end"]["sum_received"]["bits_per_second"]) / 1e9
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()


def median_iperf(src_ns: str, dst_ns: str, dst_ip: str, seconds: float, repeat: int) -> float:
    return statistics.median(iperf(src_ns, dst_ns, dst_ip, seconds) for _ in range(repeat))


def raw_veth(cluster: str) -> tuple[str, str]:
    """Two namespaces joined by a bare veth pair (192.0.2.1 ↔ 192.0.2.2): the baseline."""
    from podnet.linux import names, topology

    a, b = names.node_ns(cluster, "raw-a"), names.node_ns(cluster, "raw-b")
    na = topology.new_namespace(cluster, a)
    nb = topology.new_namespace(cluster, b)
    try:
        na.add_veth("eth0", "eth0", b)
        na.forget("eth0")
        na.add_addr("eth0", "192.0.2.1/24")
        na.up("eth0")
        nb.add_addr("eth0", "192.0.2.2/24")
        nb.up("eth0")
    finally:
        na.close()
        nb.close()
    return a, b


def plugin_paths(cluster: str, plugin: str, seconds: float, repeat: int,
                 raw: tuple[str, str]) -> dict[str, float]:
    """Same-node and cross-node Gbit/s under ``plugin``, with the raw veth measured beside them."""
    from podnet.cli.context import Options, compute
    from podnet.linux import preflight, teardown
    from podnet.linux.cluster import RealCluster

    state = compute(Options(filenames=[str(ROOT / "examples" / "shop")], plugin=plugin)).state
    rc = RealCluster(cluster, state, enforce_policy=False)
    try:
        rc.build()
    except preflight.PreflightError as e:
        teardown.teardown(cluster)
        raise RuntimeError(str(e)) from None
    try:
        by_node: dict[str, list[str]] = {}
        for key in sorted(rc.pod_ns):
            ns, _, name = key.partition("/")
            pod = state.pod(ns, name)
            assert pod is not None
            by_node.setdefault(pod.spec.node_name, []).append(key)
        busy = [n for n, ks in by_node.items() if len(ks) >= 2]
        a, b = by_node[busy[0]][:2]
        c = next(k for n, ks in by_node.items() if n != busy[0] for k in ks)

        def ip(key: str) -> str:
            ns, _, name = key.partition("/")
            pod = state.pod(ns, name)
            assert pod is not None
            return pod.ips[0]

        return {
            "raw-veth": median_iperf(raw[0], raw[1], "192.0.2.2", seconds, repeat),
            "same-node": median_iperf(rc.pod_ns[a], rc.pod_ns[b], ip(b), seconds, repeat),
            "cross-node": median_iperf(rc.pod_ns[a], rc.pod_ns[c], ip(c), seconds, repeat),
        }
    finally:
        rc.teardown()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--plugins", default=",".join(MODES))
    ap.add_argument("-t", "--seconds", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is kept")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("benchmarks/throughput.py needs root (it builds real namespaces)", file=sys.stderr)
        return 2
    if shutil.which("iperf3") is None:
        print("iperf3 is missing: apt-get install iperf3 (scripts/setup.sh installs it)",
              file=sys.stderr)
        return 2
    from podnet.linux import teardown

    cluster = f"tput{os.getpid()}"
    raw_cluster = f"traw{os.getpid()}"
    results: dict[str, object] = {}
    rows: list[tuple[str, dict[str, float] | None, str]] = []
    try:
        raw = raw_veth(raw_cluster)
        for plugin in args.plugins.split(","):
            try:
                got = plugin_paths(cluster, plugin, args.seconds, args.repeat, raw)
            except RuntimeError as e:
                rows.append((plugin, None, str(e)))
                continue
            rows.append((plugin, got, ""))
            results[plugin] = {k: round(v, 2) for k, v in got.items()}
    finally:
        teardown.teardown(cluster)
        teardown.teardown(raw_cluster)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"median of {args.repeat} iperf3 runs of {args.seconds:g} s; ratios divide by the raw veth "
          "pair measured beside each plugin")
    print(f"{'plugin':>16} {'raw veth':>9} {'same node':>16} {'cross node':>16}  targets")
    for plugin, figures, err in rows:
        if figures is None:
            print(f"{plugin:>16}  skipped: {err}")
            continue
        base, same, cross = figures["raw-veth"], figures["same-node"], figures["cross-node"]
        cross_target = 0.5 if plugin in ENCAPSULATED else 0.8
        verdict = "ok" if same / base >= 0.8 and cross / base >= cross_target else "BELOW"
        print(f"{plugin:>16} {base:9.2f} {same:7.2f} ({same / base:4.2f}x) "
              f"{cross:7.2f} ({cross / base:4.2f}x)  same >= 0.8x, cross >= {cross_target}x {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
