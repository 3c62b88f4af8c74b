"""Cluster DNS throughput: ``podnet dns serve`` against dnsmasq, same records, same queries.

Builds a cluster of 10,000 Services (one Deployment of one pod behind each, in 100 namespaces)
through podnet's model and stores it; serves it with ``podnet dns serve`` (kubeadm's Corefile:
``kubernetes … pods insecure, ttl 30``, ``cache 30`` disabled for the cluster domain,
``loadbalance``, ``prometheus``, ``health``, ``ready``); loads dnsmasq (``--no-resolv --no-hosts``,
127.0.0.1 only, its cache, no query log, ``--dns-forward-max 1000``) with the same A records —
every ``<svc>.<ns>.svc.cluster.local`` → ClusterIP and every
``<dashed-ip>.<ns>.pod.cluster.local`` → pod IP — from an ``--addn-hosts`` file, TTL 30 like
podnet's; and runs dnsperf against each, one after the other, with the same query file (all
20,000 names, shuffled) and the same settings:

1. a warm-up pass over the query file for each server — podnet's wire cache fills on first
   sight of a query, dnsmasq reads its hosts file at start;
2. peak throughput: ``dnsperf -l SECONDS -c CLIENTS -T THREADS -q OUTSTANDING`` for each setting
   of the sweep, best of them per server and run; the servers take turns (which goes first
   alternates between runs) and the figure is the median over ``--runs`` runs;
3. latency at half of podnet's (median) peak, for each server: dnsperf holds the load
   (``-Q RATE``) while a latency probe — one query at a time, 2,000 a second, timed with
   ``perf_counter_ns`` around ``send``/``recv`` — samples what a client sees; p50 and p99 of
   the probe's samples, median over the runs. Why a probe and not ``dnsperf -v``: on two CPUs,
   dnsperf's sender and receiver threads and the server cannot each have a core, and dnsperf's
   per-query latencies then measure its own threads waiting for the CPU (milliseconds, whatever
   the server — even against a server that only echoes); the probe sleeps between queries, so
   it runs as soon as its reply arrives;
4. podnet's resident memory (VmRSS, VmHWM of the serving process), the CPU each server and
   dnsperf used during the peak runs (process time, 100% = one core; the kernel's softirq time
   for the loopback traffic is not in it) and the CPU used by anything else on the machine
   meanwhile. Other people's work on a shared machine makes figures noisy: the script waits up
   to ``--quiet-wait`` seconds for a quiet machine before each measurement, repeats (up to
   ``--retries`` times) a measurement during which something else used more than a tenth of a
   core, keeps the least disturbed attempt and says so.

CPUs: on a machine with two or more, by default (``--pin``) the server under test runs on the
last CPU and dnsperf on the others — the load generator never preempts the server — and the
latency probe shares the server's CPU. ``--no-pin`` lets everything float (dnsperf gets one
thread per two CPUs).

    .venv/bin/python benchmarks/dns_qps.py                # the full run (about six minutes)
    .venv/bin/python benchmarks/dns_qps.py --services 1000 --seconds 5 --runs 1   # a quick look

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
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

if TYPE_CHECKING:
    from podnet.cluster.state import ClusterState

CLUSTER = "dnsbench"
#: (clients, outstanding) per peak setting; dnsperf runs one thread per CPU it is given
SWEEP = ((1, 100), (4, 200), (16, 500))
PROBE_RATE = 2000
#: a measurement during which the rest of the machine used more than this (cores) is repeated
DISTURBED = 0.10


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
    # imported here: the latency probe runs this file too and must start at once
    from podnet.api.defaults import apply_defaults
    from podnet.api.meta import Resource
    from podnet.api.scheme import decode_object
    from podnet.cluster.config import DEFAULT, NodeConfig
    from podnet.cluster.reconcile import reconcile

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


# ------------------------------------------------------------------------------ measuring


@dataclasses.dataclass
class Perf:
    qps: float
    sent: int
    completed: int
    lost: int
    avg_latency: float
    noerror: int
    args: str
    #: CPU use during the run (1.0: one core busy all the time): the server's, dnsperf's and
    #: everything else's on the machine
    cpu: float = 0.0
    client_cpu: float = 0.0
    other_cpu: float = 0.0


def pinned(cpus: set[int] | None) -> Any:
    """A ``preexec_fn`` that puts the child on ``cpus`` (None: wherever)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far. Busy is user, nice, system and
    steal time — not irq/softirq, which the kernel accounts apart from any process (the
    loopback traffic of the benchmark itself is mostly softirq) and which processes' own
    figures do not include either."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    fields += [0] * (8 - len(fields))
    busy = fields[0] + fields[1] + fields[2] + fields[7]
    total = sum(fields[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, total / tick


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_quiet(limit: float, max_wait: float) -> float:
    """Wait (up to ``max_wait`` s) until the machine's busy CPU is under ``limit`` cores for a
    second; the last figure seen."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, _ = machine_cpu()
        time.sleep(1.0)
        b1, _ = machine_cpu()
        busy = b1 - b0
        if busy < limit or time.monotonic() > deadline:
            return busy
        print(f"  (waiting for a quiet machine: {busy:.0%} of a core busy elsewhere)", flush=True)


def dnsperf(port: int, qfile: Path, args: list[str], cpus: set[int] | None = None,
            watch: list[int] | None = None) -> Perf:
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile), *args]
    before, t0 = cpu_seconds(watch or []), time.monotonic()
    m0, c0 = machine_cpu()[0], children_cpu()
    # into a file, not a pipe
    with tempfile.TemporaryFile("w+") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, timeout=600,
                       preexec_fn=pinned(cpus))
        f.seek(0)
        out = f.read()
    wall = max(time.monotonic() - t0, 1e-9)
    server = cpu_seconds(watch or []) - before
    client = children_cpu() - c0
    everything = machine_cpu()[0] - m0

    def num(pattern: str, cast: Any = float) -> Any:
        m = re.search(pattern, out)
        return cast(m.group(1)) if m else cast(0)

    return Perf(
        qps=num(r"Queries per second:\s+([0-9.]+)"),
        sent=num(r"Queries sent:\s+(\d+)", int),
        completed=num(r"Queries completed:\s+(\d+)", int),
        lost=num(r"Queries lost:\s+(\d+)", int),
        avg_latency=num(r"Average Latency \(s\):\s+([0-9.]+)"),
        noerror=num(r"NOERROR (\d+)", int),
        args=" ".join(args),
        cpu=server / wall,
        client_cpu=client / wall,
        other_cpu=max(0.0, everything - server - client) / wall,
    )


def _wire_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"


def probe(port: int, seconds: float, rate: float, qfile: str) -> None:
    """The latency probe (run as a child: ``dns_qps.py --probe PORT SECONDS RATE FILE``): one
    A query at a time at ``rate`` per second, each timed from ``send`` to its reply; prints the
    round-trip times in seconds, one per line, then ``lost N``."""
    names = [line.split()[0] for line in Path(qfile).read_text().splitlines() if line.strip()]
    packets = [struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 0) + _wire_name(n) + b"\0\1\0\1"
               for n in names]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.settimeout(1.0)
    out: list[int] = []
    lost = 0
    gap = 1.0 / rate
    start = time.perf_counter()
    end = start + seconds
    k = 0
    while True:
        due = start + k * gap
        now = time.perf_counter()
        if now >= end:
            break
        if due > now:
            time.sleep(due - now)
        k += 1
        ident = k & 0xFFFF
        pkt = struct.pack("!H", ident) + packets[k % len(packets)][2:]
        t0 = time.perf_counter_ns()
        s.send(pkt)
        try:
            while True:
                reply = s.recv(4096)
                if reply[:2] == pkt[:2]:
                    break
        except (TimeoutError, OSError):
            lost += 1
            continue
        out.append(time.perf_counter_ns() - t0)
    sys.stdout.write("".join(f"{x / 1e9:.9f}\n" for x in out) + f"lost {lost}\n")


def realtime() -> None:
    """The probe's ``preexec_fn`` addition: SCHED_FIFO when allowed, so that the probe runs the
    moment its reply arrives (it sleeps between queries; it cannot starve anything)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError):
        pass


@dataclasses.dataclass
class Latency:
    samples: list[float]
    lost: int
    load: Perf | None
    other_cpu: float

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)


def latency(port: int, qfile: Path, rate: int, seconds: float, threads: int,
            perf_cpus: set[int] | None, probe_cpus: set[int] | None,
            watch: list[int]) -> Latency:
    """dnsperf holding ``rate`` QPS (less the probe's) on ``port`` while the probe samples;
    ``rate`` 0: the probe alone (the floor: what the machine adds with no load)."""
    holder: dict[str, Perf] = {}

    def load() -> None:
        holder["perf"] = dnsperf(port, qfile, ["-l", f"{seconds + 1:g}", "-Q", str(max(1, rate - PROBE_RATE)),
                                               "-T", str(threads), "-c", "4", "-q", "500"], cpus=perf_cpus)

    s0, m0, c0, t0 = cpu_seconds(watch), machine_cpu()[0], children_cpu(), time.monotonic()
    t = threading.Thread(target=load)
    if rate:
        t.start()
        time.sleep(0.5)
    pin = pinned(probe_cpus)

    def setup() -> None:
        if pin is not None:
            pin()
        realtime()

    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", str(port),
                        f"{seconds:g}", str(PROBE_RATE), str(qfile)],
                       capture_output=True, text=True, timeout=seconds + 60, preexec_fn=setup)
    if rate:
        t.join()
    wall = max(time.monotonic() - t0, 1e-9)
    other = (machine_cpu()[0] - m0) - (cpu_seconds(watch) - s0) - (children_cpu() - c0)
    lines = r.stdout.split()
    lost = int(lines[-1]) if len(lines) >= 2 and lines[-2] == "lost" else 0
    samples = [float(x) for x in lines[:-2]] if len(lines) >= 2 else []
    return Latency(samples, lost, holder.get("perf"), max(0.0, other) / wall)


def undisturbed(measure: Any, retries: int, label: str) -> Any:
    """``measure()`` again while something else on the machine used more than
    :data:`DISTURBED` of a core meanwhile (up to ``retries`` more times); the least disturbed."""
    best = None
    for attempt in range(retries + 1):
        r = measure()
        if best is None or r.other_cpu < best.other_cpu:
            best = r
        if r.other_cpu <= DISTURBED:
            break
        if attempt < retries:
            print(f"  ({label}: {r.other_cpu:.0%} of a core used elsewhere meanwhile; measuring again)",
                  flush=True)
    return best


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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--probe"]:
        probe(int(argv[1]), float(argv[2]), float(argv[3]), argv[4])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each peak run")
    ap.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    ap.add_argument("--workers", type=int, default=0, help="podnet dns serve --workers (0: its default)")
    ap.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                    help="servers on the last CPU, dnsperf on the others (default)")
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help="seconds to wait for other work on the machine to stop before each measurement")
    ap.add_argument("--retries", type=int, default=3,
                    help="times a measurement disturbed by other work is repeated")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)
    ensure_tools()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus: set[int] | None = None
    perf_cpus: set[int] | None = None
    if args.pin and len(cpus) >= 2:
        server_cpus, perf_cpus = {cpus[-1]}, set(cpus[:-1])
    threads = len(perf_cpus) if perf_cpus else max(1, len(cpus) // 2)
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
        podnet = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=None, text=True,
                                  preexec_fn=pinned(server_cpus))
        procs.append(podnet)
        assert podnet.stdout is not None
        line = podnet.stdout.readline()
        threading.Thread(target=podnet.stdout.read, daemon=True).start()
        if not line.startswith("listening on"):
            raise SystemExit(f"podnet dns serve did not start: {line!r}")
        print(f"podnet dns serve: {line.strip()} after {time.perf_counter() - t0:.1f} s")
        # dnsmasq: the same records, its cache, no query log, nothing forwarded
        mport = free_port()
        dnsmasq = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             f"--addn-hosts={hosts}", f"--port={mport}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--local-ttl=30", "--cache-size=10000",
             "--dns-forward-max=1000", "--pid-file=", "--user=root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
            preexec_fn=pinned(server_cpus))
        procs.append(dnsmasq)
        first = names[0]
        wait_answering(pport, first)
        wait_answering(mport, first)
        print(f"dnsmasq {subprocess.run(['dnsmasq', '--version'], capture_output=True, text=True).stdout.split()[2]}"
              f" on 127.0.0.1:{mport}; dnsperf "
              f"{subprocess.run(['dnsperf', '-h'], capture_output=True, text=True).stdout.split('Version ')[-1].split()[0]}")
        print(f"query file: {len(names)} names, {qfile}")
        if server_cpus is not None:
            print(f"CPUs: servers and the latency probe on {sorted(server_cpus)}, dnsperf on "
                  f"{sorted(perf_cpus or ())} ({threads} thread{'s' if threads > 1 else ''})")
        else:
            print(f"CPUs: not pinned ({len(cpus)}), dnsperf {threads} thread{'s' if threads > 1 else ''}")

        def pids_of(label: str) -> list[int]:
            if label == "podnet":
                return [podnet.pid, *children(podnet.pid)]
            return [dnsmasq.pid]

        # every worker keeps its own cache and the kernel picks the worker by the client's
        # port: warm up from many client sockets, several passes
        passes = 1 if args.workers <= 1 else 4 * args.workers
        for label, port in (("podnet", pport), ("dnsmasq", mport)):
            w = dnsperf(port, qfile, ["-n", str(passes), "-c", "16", "-q", "100"], cpus=perf_cpus)
            print(f"warm-up {label:8s}: {w.completed}/{w.sent} answered, {w.noerror} NOERROR "
                  f"({passes} pass{'es' if passes > 1 else ''})")

        servers = (("podnet", pport), ("dnsmasq", mport))
        peaks: dict[str, list[Perf]] = {"podnet": [], "dnsmasq": []}
        for run in range(args.runs):
            order = servers if run % 2 == 0 else servers[::-1]
            print(f"\nrun {run + 1}/{args.runs}: peak ({args.seconds:g} s each; cpu: the server's, "
                  "dnsperf's, anything else's)")
            print(f"  {'dnsperf settings':22s} {'podnet QPS':>11s} {'cpu':>14s}  "
                  f"{'dnsmasq QPS':>11s} {'cpu':>14s}  {'ratio':>5s}")
            best: dict[str, Perf] = {}
            for c, q in SWEEP:
                a = ["-l", f"{args.seconds:g}", "-c", str(c), "-T", str(threads), "-q", str(q)]
                row: dict[str, Perf] = {}
                for label, port in order:
                    wait_quiet(0.15, args.quiet_wait)
                    row[label] = r = undisturbed(
                        lambda: dnsperf(port, qfile, a, cpus=perf_cpus, watch=pids_of(label)),
                        args.retries, f"{label} {' '.join(a[2:])}")
                    if label not in best or r.qps > best[label].qps:
                        best[label] = r

                def cpu(r: Perf) -> str:
                    return f"{r.cpu:.0%}/{r.client_cpu:.0%}/{r.other_cpu:.0%}"

                print(f"  {' '.join(a[2:]):22s} {row['podnet'].qps:11,.0f} {cpu(row['podnet']):>14s}  "
                      f"{row['dnsmasq'].qps:11,.0f} {cpu(row['dnsmasq']):>14s}  "
                      f"{row['podnet'].qps / max(row['dnsmasq'].qps, 1):5.2f}"
                      f"   (lost {row['podnet'].lost}/{row['dnsmasq'].lost})")
            for label in peaks:
                peaks[label].append(best[label])

        def median_perf(runs: list[Perf]) -> Perf:
            return sorted(runs, key=lambda r: r.qps)[len(runs) // 2]

        peak_p, peak_m = median_perf(peaks["podnet"]), median_perf(peaks["dnsmasq"])
        half = int(peak_p.qps / 2)
        secs = min(args.seconds, 5.0)
        lat: dict[str, list[tuple[float, float]]] = {"podnet": [], "dnsmasq": []}
        print(f"\nlatency at half of podnet's peak ({half:,} QPS: dnsperf -Q plus the probe, "
              f"{PROBE_RATE:,}/s for {secs:g} s), and the probe alone (no load) as the floor:")
        for run in range(args.runs):
            for label, port in servers:
                for rate in (0, half):
                    wait_quiet(0.15, args.quiet_wait)
                    m = undisturbed(
                        lambda: latency(port, qfile, rate, secs, threads, perf_cpus, server_cpus,
                                        pids_of(label)),
                        args.retries, f"{label} latency")
                    what = "no load" if not rate else f"{m.load.qps if m.load else 0:,.0f} QPS"
                    if rate:
                        lat[label].append((m.p50, m.p99))
                    flag = "" if m.other_cpu <= DISTURBED else f", {m.other_cpu:.0%} of a core used elsewhere"
                    print(f"  run {run + 1} {label:8s} {what:>12s}: p50 {m.p50 * 1000:.3f} ms, "
                          f"p99 {m.p99 * 1000:.3f} ms, max {max(m.samples or [0]) * 1000:.3f} ms "
                          f"({len(m.samples):,} probes, lost {m.lost}{flag})")
        pids = pids_of("podnet")
        mems = [rss(p) for p in pids]
        pss_total = sum(pss(p) for p in pids)
        med = statistics.median
        p50, p99 = med(x[0] for x in lat["podnet"]), med(x[1] for x in lat["podnet"])
        m50, m99 = med(x[0] for x in lat["dnsmasq"]), med(x[1] for x in lat["dnsmasq"])
        ratios = [a.qps / max(b.qps, 1) for a, b in zip(peaks["podnet"], peaks["dnsmasq"])]
        ratio = peak_p.qps / max(peak_m.qps, 1)
        print()
        print(f"medians over {args.runs} run{'s' if args.runs > 1 else ''}:")
        print(f"podnet  peak QPS:   {peak_p.qps:12,.0f}   (dnsperf {peak_p.args}; server CPU {peak_p.cpu:.0%})")
        print(f"dnsmasq peak QPS:   {peak_m.qps:12,.0f}   (dnsperf {peak_m.args}; server CPU {peak_m.cpu:.0%})")
        print(f"ratio podnet/dnsmasq: {ratio:10.2f}   (target >= 1.3; per run: "
              f"{', '.join(f'{x:.2f}' for x in ratios)})")
        print(f"podnet latency at half its peak ({half:,} QPS): "
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
