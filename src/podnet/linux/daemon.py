"""The process that holds a cluster up: builds the network, serves the pods, tears it all down.

``podnet up`` runs it in the foreground (Ctrl-C, SIGTERM or ``podnet down`` end it, and it tears
down before exiting); ``podnet up -d`` starts it in the background as
``python -m podnet.linux.daemon --cluster NAME`` and returns once it reports ready.

Life of the daemon
------------------
1. ``daemon.pid`` is written; ``runtime.json`` says ``building``.
2. :class:`~podnet.linux.cluster.RealCluster` builds the namespaces, links, routes and rules of
   the stored cluster (removing the leftovers of an earlier run first).
3. One asyncio loop then serves, from this one process: the built-in server of every pod
   (:class:`~podnet.servers.podserver.PodServer`), CoreDNS in the CoreDNS pods and the internet's
   DNS in the outside (:mod:`podnet.linux.clusterdns`), the pods' own commands
   (``podnet.io/command``), and the loopback port-forwards to the Ingress controller
   (127.0.0.1:8080 → its port 80, 127.0.0.1:8443 → 443), which runs in its pods on loops of
   its own (:mod:`podnet.linux.ingressctl`). ``runtime.json`` says ``ready``.
   The stored cluster is then followed: when ``podnet apply``/``delete`` change it, the network
   converges live (:meth:`~podnet.linux.cluster.RealCluster.converge`: pods wired/unwired, every
   node's rules resynced in one transaction each, DNS zones and Ingress routes swapped).
4. On SIGINT/SIGTERM: servers closed, commands stopped, namespaces and ``/etc/netns`` folders
   removed (:func:`podnet.linux.teardown.teardown`), ``daemon.pid`` and ``runtime.json`` deleted.

A ``kill -9`` skips step 4: the next ``podnet up`` or ``podnet down`` of the cluster removes what
is left (every namespace and folder carries the cluster's prefix, and the processes are found by
the namespace they live in).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from podnet.api.core import Service
from podnet.cli import store
from podnet.cluster.state import ClusterState
from podnet.linux import clusterdns, ingressctl, processes, teardown
from podnet.linux.cluster import BuildReport, PodTarget, RealCluster, cluster_dns_ips
from podnet.linux.portforward import Forward, ForwardError, Forwarder
from podnet.servers.podserver import PodIdentity, PodServer

Echo = Callable[[str], None]

INGRESS_NAMESPACE = "ingress-nginx"
INGRESS_SERVICE = "ingress-nginx-controller"
DEFAULT_FORWARDS = ((8080, 80, "http"), (8443, 443, "https"))
#: ``PODNET_INGRESS_PORTS=HTTP,HTTPS`` moves the Ingress port-forwards (``0`` picks a free port,
#: ``off`` disables them): for running several clusters, or tests, side by side.
PORTS_ENV = "PODNET_INGRESS_PORTS"


def forwards_from_env() -> tuple[tuple[int, int, str], ...]:
    text = os.environ.get(PORTS_ENV, "").strip()
    if not text:
        return DEFAULT_FORWARDS
    if text == "off":
        return ()
    parts = [p.strip() for p in text.split(",")]
    out = []
    for (_, remote, scheme), local in zip(DEFAULT_FORWARDS, parts, strict=False):
        if local and local != "off":
            out.append((int(local), remote, scheme))
    return tuple(out)


POLL_SECONDS = 0.25


def _stamp(path: Any) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Stop(Exception):
    """SIGTERM/SIGINT while building: unwind, tearing down."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class ForwardSpec:
    local: int
    remote: int
    target: str
    pod: str
    netns: str
    scheme: str = "http"


def service_forward_target(state: ClusterState, netns_of: Callable[[str], str | None],
                           namespace: str, name: str, port: int | str) -> tuple[str, int] | None:
    """For ``svc/NS/NAME`` port PORT (number or name): a ready endpoint pod and the target port
    the EndpointSlices resolved for it (kubectl port-forward picks one pod the same way)."""
    svc = state.service(namespace, name)
    if svc is None:
        return None
    sp = next((p for p in svc.spec.ports if p.port == port or (p.name and p.name == port)), None)
    if sp is None:
        return None
    for sl in state.endpoint_slices(namespace, name):
        eport = next((p for p in sl.ports if (p.name or "") == (sp.name or "")), None)
        if eport is None or not eport.port:
            continue
        for ep in sorted(sl.endpoints, key=lambda e: (not e.ready, e.addresses)):
            ref = ep.target_ref
            if ref is None or ref.kind != "Pod":
                continue
            key = f"{ref.namespace or namespace}/{ref.name}"
            if netns_of(key) is not None:
                return key, int(eport.port)
    return None


@dataclass(slots=True)
class Daemon:
    cluster: str
    echo: Echo = field(default=lambda _m: None)
    forwards: tuple[tuple[int, int, str], ...] = field(default_factory=forwards_from_env)
    rc: RealCluster | None = None
    runtime: dict[str, Any] = field(default_factory=dict)
    podserver: PodServer | None = None
    commands: dict[str, processes.PodProcess] = field(default_factory=dict)
    forwarders: list[Forwarder] = field(default_factory=list)
    report: BuildReport | None = None
    exited: set[str] = field(default_factory=set)
    closers: list[Callable[[], Any]] = field(default_factory=list)
    dns_pods: list[str] = field(default_factory=list)
    ingress: dict[str, Any] = field(default_factory=dict)
    dns_servers: dict[str, tuple[Any, PodTarget]] = field(default_factory=dict)
    pod_closers: dict[str, list[Callable[[], Any]]] = field(default_factory=dict)
    worker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="podnet-netlink"))
    _log: Any = None

    # ------------------------------------------------------------------ output

    def say(self, message: str) -> None:
        line = f"{_now()} {message}"
        if self._log is not None:
            self._log.write(line + "\n")
            self._log.flush()
        self.echo(message)

    def _save(self, **changes: Any) -> None:
        self.runtime.update(changes)
        processes.write_runtime(self.cluster, self.runtime)

    # ------------------------------------------------------------------ main

    def run(self) -> int:
        """Build, serve until told to stop, tear down. The exit status."""
        store.check_name(self.cluster)
        os.makedirs(processes.log_dir(self.cluster), exist_ok=True)
        self._log = open(processes.daemon_log_path(self.cluster), "a", encoding="utf-8")  # noqa: SIM115
        other = processes.running_daemon(self.cluster)
        if other is not None and other != os.getpid():
            self.say(f'error: cluster "{self.cluster}" is already up (pid {other})')
            return 1
        processes.write_pid(self.cluster)
        self.runtime = {"cluster": self.cluster, "pid": os.getpid(), "started": _now(),
                        "phase": "building"}
        self._save()
        _raise_limits()
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}

        def stop(_sig: int, _frame: Any) -> None:
            raise Stop()

        for s in previous:
            signal.signal(s, stop)
        code = 0
        try:
            stored = store.load_stored(self.cluster)
            if stored is None:
                raise RuntimeError(f'cluster "{self.cluster}" does not exist: nothing to bring up')
            self.rc = RealCluster(self.cluster, stored.state)
            self._save(plugin=self.rc.plugin)
            self.say(f"building cluster {self.cluster} ({self.rc.plugin}, "
                     f"{len(self.rc.topo.nodes)} nodes, {len(self.rc.plan.pod_keys)} pods)")
            self.report = self.rc.build(self.say)
            for w in self.report.warnings:
                self.say(f"warning: {w}")
            asyncio.run(self._serve())
        except (Stop, KeyboardInterrupt):
            self.say("interrupted")
        except Exception as e:  # the message is for the user; the trace for the log
            code = 1
            if self._log is not None:
                self._log.write(traceback.format_exc())
            self.say(f"error: {e}")
            with contextlib.suppress(Exception):
                self._save(phase="failed", error=str(e))
        finally:
            with contextlib.suppress(Exception):
                self._save(phase="stopping")
            for s in previous:
                signal.signal(s, signal.SIG_IGN)
            try:
                self._teardown()
            finally:
                for s, h in previous.items():
                    signal.signal(s, h)
                if self._log is not None:
                    self._log.close()
                    self._log = None
        return code

    def _teardown(self) -> None:
        for proc in self.commands.values():
            processes.stop(proc)
        rep = teardown.teardown(self.cluster)
        self.say(f"down: removed {len(rep.namespaces)} namespaces, {len(rep.etc_dirs)} "
                 f"/etc/netns folders, {len(rep.processes)} processes in {rep.seconds:.2f}s")
        processes.remove_runtime_files(self.cluster)

    # ------------------------------------------------------------------ serving

    async def _serve(self) -> None:
        assert self.rc is not None and self.report is not None
        rc = self.rc
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(s, stopping.set)
        t0 = time.monotonic()
        self.podserver = PodServer(str(processes.pod_log_dir(self.cluster)))
        targets = rc.pod_targets()
        problems: list[str] = []
        problems += await self._start_internet()
        for t in targets:
            problems += await self._start_target(t)
        for node, (ports, services) in rc.node_endpoints().items():
            wire = rc.topo.node(node)
            ident = PodIdentity("node", node, wire.ip, node, node, rc.node_ns(node), services,
                                bind=wire.ip)
            problems += await self.podserver.add_pod(ident, [(p.port, p.protocol) for p in ports])
        for p in problems:
            self.say(f"warning: {p}")
        forwards = await self._start_forwards()
        serve_s = time.monotonic() - t0
        self.report.seconds["servers"] = serve_s
        ready_pods = self._serving()
        self._save(
            phase="ready",
            ready=_now(),
            nodes=[{"name": n.name, "ip": n.ip, "netns": rc.node_ns(n.name)} for n in rc.topo.nodes],
            outside={"netns": rc.topo.outside_ns, "ip": rc.topo.gateway},
            underlay=rc.topo.underlay_ns,
            pods=dict(sorted(rc.pod_ns.items())),
            commands={k: p.pid for k, p in self.commands.items()},
            forwards=[{"local": f"127.0.0.1:{f.local}", "target": f.target, "pod": f.pod,
                       "remote": f.remote, "url": f"{f.scheme}://127.0.0.1:{f.local}/"}
                      for f in forwards],
            announced=self.report.announced,
            seconds={k: round(v, 3) for k, v in self.report.seconds.items()},
            ready_pods=ready_pods,
            dns={"service": ",".join(cluster_dns_ips(rc.state)), "pods": self.dns_pods},
        )
        total = sum(self.report.seconds.values())
        self.say(f"ready in {total:.2f}s: {len(rc.topo.nodes)} nodes, {ready_pods}/{len(targets)} "
                 f"pods serving, {len(forwards)} port-forward(s)")
        follower = asyncio.create_task(self._follow(stopping))
        try:
            while not stopping.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1.0)
                self._reap()
        finally:
            self.say("stopping")
            follower.cancel()
            with contextlib.suppress(BaseException):
                await follower
            for f in self.forwarders:
                await f.close()
            for key in list(self.pod_closers):
                await self._stop_target(key)
            for closer in self.closers:
                with contextlib.suppress(Exception):
                    await closer()
            await self.podserver.close()
            self.worker.shutdown(wait=True)

    def _serving(self) -> int:
        """Pods served (the built-in server, or their own command); the node-hosted endpoints
        and the internet's hosts are not pods."""
        served = {k for k in (self.podserver.pods if self.podserver else [])
                  if not k.startswith(("node/", "outside/"))}
        return len(served | set(self.commands))

    # ------------------------------------------------------------------ per pod

    async def _start_target(self, t: PodTarget) -> list[str]:
        """Start what pod ``t`` runs: its command, or the built-in server on its ports — with
        CoreDNS on port 53 in CoreDNS pods and the Ingress controller on 80/443 in its pods."""
        assert self.rc is not None and self.podserver is not None
        rc = self.rc
        problems: list[str] = []
        if t.command:
            self._spawn(t)
            return problems
        ports = [(p.port, p.protocol) for p in t.ports]
        dns_pods = dict(clusterdns.coredns_pods(rc.state)) if rc.state.config.addons.dns else {}
        if t.key in dns_pods:
            problems += await self._start_dns(t)
            ports = [(p, proto) for p, proto in ports if p != 53]
        if t.key in set(ingressctl.controller_pods(rc.state)):
            taken = await asyncio.get_running_loop().run_in_executor(
                None, self._start_ingress, t, problems)
            ports = [(p, proto) for p, proto in ports if p not in taken]
        ident = PodIdentity(t.namespace, t.name, t.ip, t.node, t.hostname, t.netns,
                            dict(t.services))
        problems += await self.podserver.add_pod(ident, ports)
        server = self.podserver

        async def close() -> None:
            await server.remove_pod(t.key)

        self.pod_closers.setdefault(t.key, []).append(close)
        return problems

    async def _stop_target(self, key: str) -> None:
        for closer in reversed(self.pod_closers.pop(key, [])):
            with contextlib.suppress(Exception):
                await closer()
        proc = self.commands.pop(key, None)
        if proc is not None:
            await asyncio.get_running_loop().run_in_executor(None, processes.stop, proc)
        self.dns_servers.pop(key, None)
        self.ingress.pop(key, None)
        if key in self.dns_pods:
            self.dns_pods.remove(key)

    # ------------------------------------------------------------------ live changes

    async def _follow(self, stopping: asyncio.Event) -> None:
        """Converge the running network whenever the stored cluster changes (podnet apply /
        podnet delete write it)."""
        path = store.state_path(self.cluster)
        last = _stamp(path)
        loop = asyncio.get_running_loop()
        while not stopping.is_set():
            await asyncio.sleep(POLL_SECONDS)
            now = _stamp(path)
            if now == last or now is None:
                continue
            last = now
            try:
                await self._converge(loop)
            except Exception as e:  # noqa: BLE001 - reported; the cluster keeps running
                if self._log is not None:
                    self._log.write(traceback.format_exc())
                self.say(f"error: converging to the changed cluster: {e}")

    async def _converge(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.rc is not None and self.podserver is not None
        rc = self.rc
        stored = await loop.run_in_executor(self.worker, store.load_stored, self.cluster)
        if stored is None:
            return
        state = stored.state
        change = await loop.run_in_executor(self.worker, rc.converge, state, self.say)
        if change.restart:
            self.say(f"warning: {change.restart}")
            return
        for key in change.removed:
            await self._stop_target(key)
        targets = {t.key: t for t in rc.pod_targets()}
        problems: list[str] = []
        for key in change.added:
            if key in targets:
                problems += await self._start_target(targets[key])
        for p in problems:
            self.say(f"warning: {p}")
        # what the remaining servers answer from
        for key, (server, t) in list(self.dns_servers.items()):
            snap = await loop.run_in_executor(self.worker, self._dns_snapshot, t)
            server.update(snap)
        for ctl in self.ingress.values():
            ctl.update(state)
        for key, t in targets.items():
            ident = self.podserver.idents.get(key)
            if ident is not None and dict(ident.services) != t.services:
                self.podserver.idents[key] = replace(ident, services=dict(t.services))
        self._save(pods=dict(sorted(rc.pod_ns.items())),
                   commands={k: p.pid for k, p in self.commands.items()},
                   announced=dict(rc.report.announced),
                   ready_pods=self._serving(),
                   changed=_now())

    def _start_ingress(self, t: PodTarget, problems: list[str]) -> tuple[int, ...]:
        """The Ingress controller in pod ``t`` (ports 80 and 443); the ports it took."""
        assert self.rc is not None
        log = processes.pod_log_path(self.cluster, t.key)
        os.makedirs(log.parent, exist_ok=True)
        ctl = ingressctl.IngressInPod(self.rc.state, t.key, t.netns, str(log))
        try:
            ctl.start()
        except Exception as e:  # noqa: BLE001 - reported; the built-in server answers instead
            problems.append(f"{t.key}: Ingress controller: {e}")
            ctl.stop()
            return ()
        self.ingress[t.key] = ctl

        async def close() -> None:
            await asyncio.get_running_loop().run_in_executor(None, ctl.stop)

        self.pod_closers.setdefault(t.key, []).append(close)
        return (ingressctl.HTTP_PORT, ingressctl.HTTPS_PORT)

    async def _start_internet(self) -> list[str]:
        """The outside's DNS (on the underlay gateway, port 53) and its emulated hosts."""
        assert self.rc is not None and self.podserver is not None
        rc = self.rc
        internet = clusterdns.Internet.of(rc.state.config.outside)
        stub = clusterdns.InternetDns(internet, rc.topo.outside_ns, rc.topo.gateway)
        problems = []
        try:
            await stub.start()
            self.closers.append(stub.close)
        except OSError as e:
            problems.append(f"outside DNS on {rc.topo.gateway}:53: {e.strerror or e}")
        for h in internet.hosts:
            ident = PodIdentity("outside", h.name, h.ip, "outside", h.name, rc.topo.outside_ns,
                                {}, bind=h.ip)
            problems += await self.podserver.add_pod(ident, list(h.ports))
        return problems

    async def _start_dns(self, t: PodTarget) -> list[str]:
        """CoreDNS in pod ``t``: the cluster zone on port 53, UDP and TCP, in its namespace."""
        assert self.rc is not None
        rc = self.rc
        try:
            snap = self._dns_snapshot(t)
            log_path = processes.pod_log_path(self.cluster, t.key)
            os.makedirs(log_path.parent, exist_ok=True)
            log_file = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            server = clusterdns.netns_dns_server(t.netns, snap, 53,
                                                 lambda line: log_file.write(line + "\n"))
            await server.start()
        except Exception as e:  # noqa: BLE001 - reported, the pod's other ports still served
            return [f"{t.key}: DNS server: {e}"]

        async def close() -> None:
            await server.stop()
            log_file.close()

        self.pod_closers.setdefault(t.key, []).append(close)
        self.dns_servers[t.key] = (server, t)
        self.dns_pods.append(t.key)
        return []

    def _dns_snapshot(self, t: PodTarget) -> Any:
        """CoreDNS's snapshot in pod ``t``: its /etc/resolv.conf is its node's (the outside)."""
        assert self.rc is not None
        rc = self.rc
        node = rc.topo.node(t.node)
        resolv = f"nameserver {rc.topo.segments[node.segment].gateway}\n"
        return clusterdns.snapshot(rc.state, t.ip, resolv)

    def _spawn(self, t: PodTarget) -> None:
        assert t.command is not None
        log = str(processes.pod_log_path(self.cluster, t.key))
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "HOSTNAME": t.hostname, "POD_NAME": t.name, "POD_NAMESPACE": t.namespace,
               "POD_IP": t.ip, "NODE_NAME": t.node, "HOME": "/root"}
        self.commands[t.key] = processes.spawn_in_netns(t.netns, t.command, log, env, t.key)

    def _reap(self) -> None:
        for key, proc in list(self.commands.items()):
            code = proc.proc.poll()
            if code is not None and key not in self.exited:
                self.exited.add(key)
                self.say(f"pod {key}: command exited with status {code}")

    async def _start_forwards(self) -> list[ForwardSpec]:
        assert self.rc is not None
        rc = self.rc
        out: list[ForwardSpec] = []
        svc = rc.state.service(INGRESS_NAMESPACE, INGRESS_SERVICE)
        if svc is None or not isinstance(svc, Service):
            return out
        for local, remote, scheme in self.forwards:
            got = service_forward_target(rc.state, rc.namespace_of, INGRESS_NAMESPACE,
                                         INGRESS_SERVICE, remote)
            if got is None:
                self.say(f"warning: no ready Ingress controller pod for port {remote}: "
                         f"127.0.0.1:{local} not forwarded")
                continue
            key, port = got
            ns = rc.namespace_of(key)
            assert ns is not None
            target = f"svc/{INGRESS_NAMESPACE}/{INGRESS_SERVICE}"
            fw = Forwarder(Forward("127.0.0.1", local, ns, port, target), self.say)
            try:
                await fw.start()
            except ForwardError as e:
                self.say(f"warning: {e}")
                continue
            self.forwarders.append(fw)
            out.append(ForwardSpec(fw.port, port, target, key, ns, scheme))
        return out


def _raise_limits() -> None:
    """Every pod's listening sockets are this process's file descriptors: allow many."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# ------------------------------------------------------------------------------ background


def start_background(cluster: str, echo: Echo, timeout: float = 600.0) -> int:
    """Start ``python -m podnet.linux.daemon --cluster NAME`` detached; follow its log until it
    is ready (0) or has failed (1)."""
    import subprocess

    log_path = processes.daemon_log_path(cluster)
    os.makedirs(log_path.parent, exist_ok=True)
    offset = log_path.stat().st_size if log_path.exists() else 0
    with contextlib.suppress(FileNotFoundError):
        processes.runtime_path(cluster).unlink()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podnet.linux.daemon", "--cluster", cluster],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, env=dict(os.environ),
    )
    deadline = time.monotonic() + timeout
    while True:
        offset = _follow(log_path, offset, echo)
        rt = processes.read_runtime(cluster) or {}
        phase = rt.get("phase")
        if rt.get("pid") == proc.pid and phase == "ready":
            _follow(log_path, offset, echo)
            return 0
        code = proc.poll()
        if code is not None or (rt.get("pid") == proc.pid and phase == "failed"):
            time.sleep(0.2)
            _follow(log_path, offset, echo)
            return 1
        if time.monotonic() > deadline:
            echo(f"error: the daemon did not get ready within {timeout:.0f}s (pid {proc.pid}); "
                 f"see {log_path}")
            return 1
        time.sleep(0.05)


def _follow(path: Any, offset: int, echo: Echo) -> int:
    try:
        with open(path, encoding="utf-8") as f:
            f.seek(offset)
            data = f.read()
            offset = f.tell()
    except OSError:
        return offset
    for line in data.splitlines():
        # strip the timestamp the log has and the terminal does not need
        parts = line.split(" ", 1)
        echo(parts[1] if len(parts) == 2 and parts[0].endswith("Z") else line)
    return offset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podnet-daemon")
    parser.add_argument("--cluster", default=store.DEFAULT_CLUSTER)
    args = parser.parse_args(argv)
    return Daemon(args.cluster).run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
