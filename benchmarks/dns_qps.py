"""Cluster DNS throughput: ``podnet dns serve`` against dnsmasq, same records, same queries.

Builds a cluster of 10,000 Services (one Deployment of one pod behind each, in 100 namespaces)
through podnet's model and stores it; serves it with ``podnet dns serve`` (kubeadm's Corefile:
``kubernetes … pods insecure, ttl 30``, ``cache 30`` disabled for the cluster domain,
``loadbalance``, ``prometheus``, ``health``, ``ready``); loads dnsmasq (``--no-resolv --no-hosts``,
127.0.0.1 only) with the same A records — every ``<svc>.<ns>.svc.cluster.local`` → ClusterIP and
every ``<dashed-ip>.<ns>.pod.cluster.local`` → pod IP — from an ``--addn-hosts`` file; and runs
dnsperf against each, one after the other, with the same query file (all 20,000 names, shuffled)
and the same settings:

1. a warm-up pass over the query file (``-n 1``) for each server — podnet's wire cache fills on
   first sight of a query, dnsmasq reads its hosts file at start;
2. peak throughput: ``dnsperf -l SECONDS -c CLIENTS -T THREADS -q OUTSTANDING`` for each setting
   of the sweep, best of them per server;
3. podnet's latency at half its peak: ``dnsperf -Q peak/2 -v``, p50/p99 from the per-query
   latencies;
4. podnet's resident memory (VmRSS, VmHWM of the serving process).

    .venv/bin/python benchmarks/dns_qps.py                # the full run (about two minutes)
    .venv/bin/python benchmarks/dns_qps.py --services 1000 --seconds 5   # a quick look

dnsperf and dnsmasq come from Debian (``apt-get install dnsperf dnsmasq-base``); the script
installs them when missing and it runs as root. Only 127.0.0.1 is ever queried.
Targets (issue 3): QPS ≥ 1.3× dnsmasq, p99 < 1 ms at half load, RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from podnet.api.defaults import apply_defaults  # noqa: E402
from podnet.api.meta import Resource  # noqa: E402
from podnet.api.scheme import decode_object  # noqa: E402
from podnet.cluster.config import DEFAULT, NodeConfig  # noqa: E402
from podnet.cluster.reconcile import reconcile  # noqa: E402
from podnet.cluster.state import ClusterState  # noqa: E402

CLUSTER = "dnsbench"
SWEEP = ((1, 1, 100), (4, 1, 200), (8, 2, 400), (16, 2, 800))


def ensure_tools() -> None:
    missing = [p for p, b in (("dnsperf", "dnsperf"), ("dnsmasq-base", "dnsmasq")) if not shutil.which(b)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")
    print(f"installing {' '.join(missing)} …", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


# ------------------------------------------------------------------------------ the cluster


def build_state(services: int, namespaces: int) -> ClusterState:
    nodes = max(3, services // 100 + 1)
    config = dataclasses.replace(
        DEFAULT, name=CLUSTER, pod_subnets=("10.128.0.0/9",), service_subnets=("10.96.0.0/12",),
        nodes=tuple([NodeConfig(name="control-plane", role="control-plane")]
                    + [NodeConfig(name=f"worker{i}") for i in range(1, nodes)]),
    )
    objs: list[Resource] = []
    for n in range(namespaces):
        objs.append(apply_defaults(decode_object(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{n}"}})))
    for i in range(services):
        ns, name = f"ns{i % namespaces}", f"app{i}"
        objs.append(apply_defaults(decode_object({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "agnhost",
                                                           "ports": [{"name": "http", "containerPort": 8080}]}]}}},
        })))
        objs.append(apply_defaults(decode_object({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        })))
    return reconcile(config, objs)


def records(state: ClusterState, domain: str) -> list[tuple[str, str]]:
    """(name, IPv4) of every Service A record and every pod A record (pods insecure)."""
    out: list[tuple[str, str]] = []
    for svc in state.services():
        ip = svc.spec.cluster_ip
        if ip and ip != "None" and ":" not in ip:
            out.append((f"{svc.metadata.name}.{svc.metadata.namespace}.svc.{domain}", ip))
    for pod in state.pods():
        ip = pod.status.pod_ip if pod.status else ""
        if ip and ":" not in ip and not pod.spec.host_network:
            out.append((f"{ip.replace('.', '-')}.{pod.metadata.namespace}.pod.{domain}", ip))
    return out


COREFILE = """.:53 {{
    errors
    health {{
       lameduck 0s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . {resolv} {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {domain}
       disable denial {domain}
    }}
    reload
    loadbalance
}}
"""


# ------------------------------------------------------------------------------ dnsperf


@dataclasses.dataclass
class Perf:
    qps: float
    sent: int
    completed: int
    lost: int
    avg_latency: float
    noerror: int
    args: str
    latencies: list[float] = dataclasses.field(default_factory=list)


def dnsperf(port: int, qfile: Path, args: list[str], verbose: bool = False) -> Perf:
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile), *args]
    if verbose:
        cmd.append("-v")
    # into a file, not a pipe: reading 100,000 lines a second would take CPU from the servers
    with tempfile.TemporaryFile("w+") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, timeout=600)
        f.seek(0)
        out = f.read()

    def num(pattern: str, cast: Any = float) -> Any:
        m = re.search(pattern, out)
        return cast(m.group(1)) if m else cast(0)

    lat = [float(m.group(1)) for m in re.finditer(r"^> \S+ \S+ \S+ ([0-9.]+)$", out, re.M)] if verbose else []
    return Perf(
        qps=num(r"Queries per second:\s+([0-9.]+)"),
        sent=num(r"Queries sent:\s+(\d+)", int),
        completed=num(r"Queries completed:\s+(\d+)", int),
        lost=num(r"Queries lost:\s+(\d+)", int),
        avg_latency=num(r"Average Latency \(s\):\s+([0-9.]+)"),
        noerror=num(r"NOERROR (\d+)", int),
        args=" ".join(args),
        latencies=lat,
    )


def rss(pid: int) -> tuple[float, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    cur = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return cur / 1024, peak / 1024


def pss(pid: int) -> float:
    m = re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
    return int(m.group(1)) / 1024 if m else 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_answering(port: int, name: str, timeout: float = 120) -> None:
    import dns.message
    import dns.query

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=0.5)
            if r.answer:
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answers {name} on 127.0.0.1:{port}")


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each peak run")
    ap.add_argument("--workers", type=int, default=0, help="podnet dns serve --workers (0: its default)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)
    ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="podnet-dnsbench-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        os.environ["PODNET_HOME"] = str(work / "home")
        from podnet.cli import store

        t0 = time.perf_counter()
        state = build_state(args.services, args.namespaces)
        store.save(state, CLUSTER)
        domain = state.config.cluster_domain
        recs = records(state, domain)
        print(f"cluster: {len(state.services())} Services, {len(state.pods())} pods, "
              f"{len(recs)} A records (built and stored in {time.perf_counter() - t0:.1f} s)")
        resolv = work / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")
        corefile = work / "Corefile"
        corefile.write_text(COREFILE.format(domain=domain, resolv=resolv))
        hosts = work / "hosts"
        hosts.write_text("".join(f"{ip} {name}\n" for name, ip in recs))
        names = [n for n, _ in recs]
        random.Random(3).shuffle(names)
        qfile = work / "queries.txt"
        qfile.write_text("".join(f"{n} A\n" for n in names))

        # podnet
        pport = free_port()
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        cmd = [sys.executable, "-m", "podnet.cli.main", "dns", "serve", "--cluster", CLUSTER,
               "--corefile", str(corefile), "--listen", f"127.0.0.1:{pport}",
               "--prometheus-listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:0",
               "--ready-listen", "127.0.0.1:0"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        t0 = time.perf_counter()
        podnet = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=None, text=True)
        procs.append(podnet)
        assert podnet.stdout is not None
        line = podnet.stdout.readline()
        threading.Thread(target=podnet.stdout.read, daemon=True).start()
        if not line.startswith("listening on"):
            raise SystemExit(f"podnet dns serve did not start: {line!r}")
        print(f"podnet dns serve: {line.strip()} after {time.perf_counter() - t0:.1f} s")
        # dnsmasq
        mport = free_port()
        dnsmasq = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             f"--addn-hosts={hosts}", f"--port={mport}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--local-ttl=30", "--pid-file=", "--user=root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        procs.append(dnsmasq)
        probe = names[0]
        wait_answering(pport, probe)
        wait_answering(mport, probe)
        print(f"dnsmasq {subprocess.run(['dnsmasq', '--version'], capture_output=True, text=True).stdout.split()[2]}"
              f" on 127.0.0.1:{mport}; dnsperf "
              f"{subprocess.run(['dnsperf', '-h'], capture_output=True, text=True).stdout.split('Version ')[-1].split()[0]}")
        print(f"query file: {len(names)} names, {qfile}")

        # every worker keeps its own cache and the kernel picks the worker by the client's
        # port: warm up from many client sockets, several passes
        passes = 1 if args.workers <= 1 else 4 * args.workers
        for label, port in (("podnet", pport), ("dnsmasq", mport)):
            w = dnsperf(port, qfile, ["-n", str(passes), "-c", "16", "-q", "100"])
            print(f"warm-up {label:8s}: {w.completed}/{w.sent} answered, {w.noerror} NOERROR "
                  f"({passes} pass{'es' if passes > 1 else ''})")

        best: dict[str, Perf] = {}
        print(f"\npeak runs ({args.seconds:g} s each):")
        print(f"  {'dnsperf settings':24s} {'podnet QPS':>12s} {'dnsmasq QPS':>12s} {'ratio':>7s}")
        for c, t, q in SWEEP:
            a = ["-l", f"{args.seconds:g}", "-c", str(c), "-T", str(t), "-q", str(q)]
            row: dict[str, Perf] = {}
            for label, port in (("podnet", pport), ("dnsmasq", mport)):
                row[label] = r = dnsperf(port, qfile, a)
                if label not in best or r.qps > best[label].qps:
                    best[label] = r
            print(f"  {' '.join(a[2:]):24s} {row['podnet'].qps:12,.0f} {row['dnsmasq'].qps:12,.0f} "
                  f"{row['podnet'].qps / max(row['dnsmasq'].qps, 1):7.2f}"
                  f"   (lost {row['podnet'].lost}/{row['dnsmasq'].lost})")

        half = int(best["podnet"].qps / 2)
        lat = dnsperf(pport, qfile, ["-l", f"{min(args.seconds, 5):g}", "-Q", str(half), "-q", "500"],
                      verbose=True)
        lat_m = dnsperf(mport, qfile, ["-l", f"{min(args.seconds, 5):g}", "-Q", str(half), "-q", "500"],
                        verbose=True)
        pids = [podnet.pid, *children(podnet.pid)]
        mems = [rss(p) for p in pids]
        pss_total = sum(pss(p) for p in pids)
        p50, p99 = percentile(lat.latencies, 50), percentile(lat.latencies, 99)
        m50, m99 = percentile(lat_m.latencies, 50), percentile(lat_m.latencies, 99)
        ratio = best["podnet"].qps / max(best["dnsmasq"].qps, 1)
        print()
        print(f"podnet  peak QPS:   {best['podnet'].qps:12,.0f}   (dnsperf {best['podnet'].args})")
        print(f"dnsmasq peak QPS:   {best['dnsmasq'].qps:12,.0f}   (dnsperf {best['dnsmasq'].args})")
        print(f"ratio podnet/dnsmasq: {ratio:10.2f}   (target >= 1.3)")
        print(f"podnet latency at half its peak ({half:,} QPS, {lat.completed:,} queries): "
              f"p50 {p50 * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms   (target p99 < 1 ms)")
        print(f"dnsmasq latency at the same rate: p50 {m50 * 1000:.3f} ms, p99 {m99 * 1000:.3f} ms")
        for p, (cur, peak) in zip(pids, mems):
            print(f"podnet RSS (pid {p}): {cur:.0f} MB now, {peak:.0f} MB peak   (target < 200 MB)")
        if len(pids) > 1:
            print(f"podnet PSS, all {len(pids)} workers (shared pages counted once): {pss_total:.0f} MB")
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
