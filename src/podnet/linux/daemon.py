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
   converges live (:meth:`~podnet.linux.cluster.RealCluster.converge`: pods wired/unwired,
   kube-proxy's rules partially synced on every node in one transaction each, DNS zones and
   Ingress routes swapped, the faults of re-wired pods applied again).
   Probes run as kubelet runs them (:mod:`podnet.linux.prober`, bookkeeping in
   :mod:`podnet.cluster.probes`): a pod with a readinessProbe is built out of its Services'
   endpoints and joins them on its first success; every change of what kubelet would report is
   written into the pod in the stored cluster (Ready, ContainersReady, containerStatuses, and the
   EndpointSlices that follow) and the network converged to it exactly as after ``podnet apply``.
   A liveness (or startup) verdict restarts the pod's process — its built-in server, or its
   ``podnet.io/command`` — after kubelet's back-off, counting the restart; so does a command
   that ends on its own, as the pod's restartPolicy says.
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

from podnet.api.core import Pod, Service
from podnet.cli import store
from podnet.cluster import probes
from podnet.cluster.state import ClusterState
from podnet.linux import clusterdns, fault, ingressctl, processes, teardown
from podnet.linux.cluster import BuildReport, PodTarget, RealCluster, cluster_dns_ips
from podnet.linux.portforward import Forward, ForwardError, Forwarder
from podnet.linux.prober import ProbeHost, Prober
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


#: How often the daemon looks at the stored cluster's stamp (a stat): what `podnet apply` wrote
#: is picked up within this.
POLL_SECONDS = 0.1
#: Status changes arriving this close together are written to the store in one go.
STATUS_COALESCE = 0.05


def _stamp(path: Any) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Stop(Exception):
    """SIGTERM/SIGINT while building: unwind, tearing down."""


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
    prober: Prober | None = None
    #: Pods whose process is being restarted (a liveness or startup verdict).
    restarting: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _log: Any = None
    _dirty: asyncio.Event | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The stamp of the stored state the network was last converged from, and the probes'
    #: reports it was converged with.
    _seen: tuple[int, int, int] | None = None
    _synced: dict[str, probes.PodProbeStatus] | None = None
    #: Every pod the prober reported on, for the reset at teardown.
    _probed: set[str] = field(default_factory=set)

    # ------------------------------------------------------------------ output

    def say(self, message: str) -> None:
        line = f"{store.now_rfc3339()} {message}"
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
        self.runtime = {"cluster": self.cluster, "pid": os.getpid(), "started": store.now_rfc3339(),
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
            # kubelet's view: a pod with a readinessProbe starts out of its endpoints
            self.rc = RealCluster(self.cluster, self._view(stored.state))
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
        if self._probed:
            # no kubelet reports any more: the stored pods go back to what the model says
            try:
                self._write_forgotten(self._probed)
            except Exception as e:  # noqa: BLE001 - the teardown goes on
                self.say(f"warning: could not reset the probed pods' status: {e}")
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
        self._dirty = asyncio.Event()
        self.prober = Prober(self.say, self._status_changed, self._restart_requested)
        targets = rc.pod_targets()
        problems: list[str] = []
        problems += await self._start_internet()
        for t in targets:
            problems += await self._start_target(t)
            self._probe(t)
        for node, (ports, services) in rc.node_endpoints().items():
            wire = rc.topo.node(node)
            ident = PodIdentity("node", node, wire.ip, node, node, rc.node_ns(node), services,
                                bind=wire.ip)
            problems += await self.podserver.add_pod(ident, [(p.port, p.protocol) for p in ports])
        unbuilt_v6 = [] if rc.plan.ipv6 else [
            str(n) for n in (*rc.state.config.pod_networks(),
                             *rc.state.config.service_networks()) if n.version == 6]
        if unbuilt_v6:
            problems.append(f"IPv6 is not built: {rc.plan.ipv6_unplanned}; the IPv6 half of "
                            f"this dual-stack cluster ({', '.join(unbuilt_v6)}) exists in the "
                            "model only (trace, dns, policy)")
        for p in problems:
            self.say(f"warning: {p}")
        # the first probes run before the cluster is announced: a pod that passes joins its
        # Services' endpoints now, one that fails (or waits out an initial delay) stays out
        await self.prober.settle()
        await self._sync_status(loop)
        forwards = await self._start_forwards()
        serve_s = time.monotonic() - t0
        self.report.seconds["servers"] = serve_s
        ready_pods = self._serving()
        self._save(
            phase="ready",
            ready=store.now_rfc3339(),
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
            probes=self._probe_summary(),
            families=["IPv4", "IPv6"] if rc.plan.ipv6 else ["IPv4"],
            unbuilt=unbuilt_v6,
        )
        total = sum(self.report.seconds.values())
        self.say(f"ready in {total:.2f}s: {len(rc.topo.nodes)} nodes, {ready_pods}/{len(targets)} "
                 f"pods serving, {len(forwards)} port-forward(s)")
        background = [asyncio.create_task(self._follow(stopping)),
                      asyncio.create_task(self.prober.run()),
                      asyncio.create_task(self._report_status())]
        try:
            while not stopping.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1.0)
                self._reap()
        finally:
            self.say("stopping")
            background += list(self.restarting.values())
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(BaseException):
                    await task
            await self.prober.close()
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
        state_dir = str(processes.make_pod_dir(self.cluster, t.key))
        if t.command:
            self._spawn(t)
            return problems
        ports = [(p.port, p.protocol) for p in t.ports]
        # the ports its probes target are served too, declared or not (see probes.probe_ports)
        pod = rc.state.pod(t.namespace, t.name)
        if pod is not None:
            ports += [(p, "TCP") for p in probes.probe_ports(pod) if (p, "TCP") not in ports]
        dns_pods = dict(clusterdns.coredns_pods(rc.state)) if rc.state.config.addons.dns else {}
        if t.key in dns_pods:
            problems += await self._start_dns(t)
            ports = [(p, proto) for p, proto in ports if p != 53]
        if t.key in set(ingressctl.controller_pods(rc.state)):
            taken = await asyncio.get_running_loop().run_in_executor(
                None, self._start_ingress, t, problems)
            ports = [(p, proto) for p, proto in ports if p not in taken]
        ident = PodIdentity(t.namespace, t.name, t.ip, t.node, t.hostname, t.netns,
                            dict(t.services), state_dir=state_dir, dual_stack=bool(t.ip6))
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
        podnet delete write it, and so does the daemon itself when a pod's status changes)."""
        path = store.state_path(self.cluster)
        if self._seen is None:
            self._seen = _stamp(path)
        loop = asyncio.get_running_loop()
        while not stopping.is_set():
            await asyncio.sleep(POLL_SECONDS)
            now = _stamp(path)
            if now == self._seen or now is None:
                continue
            try:
                await self._converge(loop)
            except Exception as e:  # noqa: BLE001 - reported; the cluster keeps running
                if self._log is not None:
                    self._log.write(traceback.format_exc())
                self.say(f"error: converging to the changed cluster: {e}")

    async def _converge(self, loop: asyncio.AbstractEventLoop) -> None:
        """Converge the network to the stored cluster as kubelet sees it (one at a time)."""
        async with self._lock:
            probed = await self._converge_locked(loop)
        if probed and self.prober is not None:
            # new pods are judged at once (outside the lock: a probe may take its timeout);
            # what that changes is reported by _report_status
            await self.prober.settle(probed)

    async def _converge_locked(self, loop: asyncio.AbstractEventLoop) -> list[str]:
        """Converge; the pods whose probes just started."""
        assert self.rc is not None and self.podserver is not None
        rc = self.rc
        self._seen = _stamp(store.state_path(self.cluster))
        stored = await loop.run_in_executor(self.worker, store.load_stored, self.cluster)
        if stored is None:
            return []
        self._synced = self.prober.statuses() if self.prober is not None else None
        state = self._view(stored.state)
        change = await loop.run_in_executor(self.worker, rc.converge, state, self.say)
        if change.restart:
            self.say(f"warning: {change.restart}")
            return []
        for key in change.removed:
            await self._forget(key, gone=key not in change.added)
        targets = {t.key: t for t in rc.pod_targets()}
        problems: list[str] = []
        probed: list[str] = []
        for key in change.added:
            if key in targets:
                problems += await self._start_target(targets[key])
                if self._probe(targets[key]):
                    probed.append(key)
        for p in problems:
            self.say(f"warning: {p}")
        # what the remaining servers answer from
        for key, (server, t) in list(self.dns_servers.items()):
            snap = await loop.run_in_executor(self.worker, self._dns_snapshot, t)
            server.reload(snap)  # a changed Corefile (the coredns ConfigMap): loop probes anew
        for ctl in self.ingress.values():
            ctl.update(state)
        for key, t in targets.items():
            ident = self.podserver.idents.get(key)
            if ident is not None and dict(ident.services) != t.services:
                self.podserver.idents[key] = replace(ident, services=dict(t.services))
        # the faults on re-wired pods went with their old devices: applied again (or dropped)
        for line in await loop.run_in_executor(self.worker, fault.reapply, self.cluster, rc.plan,
                                               [*change.removed, *change.added]):
            self.say(line)
        self._save(pods=dict(sorted(rc.pod_ns.items())),
                   commands={k: p.pid for k, p in self.commands.items()},
                   announced=dict(rc.report.announced),
                   ready_pods=self._serving(),
                   probes=self._probe_summary(),
                   changed=store.now_rfc3339())
        return probed

    # ------------------------------------------------------------------ probes

    def _view(self, state: ClusterState) -> ClusterState:
        """``state`` as kubelet reports it (:func:`podnet.cluster.probes.as_kubelet_reports`)."""
        reported = self.prober.statuses() if self.prober is not None else {}
        return probes.as_kubelet_reports(state, reported, store.now_rfc3339())

    def _pod_env(self, t: PodTarget) -> dict[str, str]:
        """The environment of the pod's command and exec probes."""
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                "HOSTNAME": t.hostname, "POD_NAME": t.name, "POD_NAMESPACE": t.namespace,
                "POD_IP": t.ip, "NODE_NAME": t.node, "HOME": "/root",
                processes.POD_DIR_ENV: str(processes.pod_dir(self.cluster, t.key))}

    def _probe(self, t: PodTarget) -> bool:
        """Start kubelet's workers for pod ``t``, whose process has just started (False: it
        has no probe)."""
        assert self.rc is not None and self.prober is not None
        pod: Pod | None = self.rc.state.pod(t.namespace, t.name)
        if pod is None:
            return False
        host = ProbeHost(t.key, self.rc.node_ns(t.node), t.netns, self._pod_env(t),
                         str(processes.pod_dir(self.cluster, t.key)))
        return self.prober.add(pod, host, watched=bool(t.command))

    async def _forget(self, key: str, gone: bool) -> None:
        """Pod ``key`` left the running network (``gone``), or is re-wired: its probes, any
        pending restart and its process stop."""
        task = self.restarting.pop(key, None)
        if task is not None:
            task.cancel()
        if self.prober is not None:
            self.prober.remove(key)
        await self._stop_target(key)
        if gone:
            processes.remove_pod_dir(self.cluster, key)

    def _probe_summary(self) -> dict[str, Any]:
        statuses = self.prober.statuses() if self.prober is not None else {}
        return {"probed": len(statuses),
                "not_ready": [k for k, st in statuses.items() if not st.ready],
                "restarts": {k: st.restarts for k, st in statuses.items() if st.restarts}}

    def _status_changed(self, _key: str) -> None:
        if self._dirty is not None:
            self._dirty.set()

    async def _report_status(self) -> None:
        """Write what the probes changed into the stored cluster and converge to it, a burst of
        changes at a time (kubelet's status manager, the API server and the EndpointSlice
        controller in one)."""
        assert self._dirty is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._dirty.wait()
            await asyncio.sleep(STATUS_COALESCE)
            self._dirty.clear()
            try:
                await self._sync_status(loop)
            except Exception as e:  # noqa: BLE001 - reported; the cluster keeps running
                if self._log is not None:
                    self._log.write(traceback.format_exc())
                self.say(f"error: reporting pod status: {e}")

    async def _sync_status(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.prober is None or not self.prober.pods:
            return
        statuses = self.prober.statuses()
        wrote = await loop.run_in_executor(None, self._write_status, statuses)
        if wrote or statuses != self._synced:
            await self._converge(loop)

    def _write_status(self, statuses: dict[str, probes.PodProbeStatus]) -> bool:
        """The pods' reports into the stored cluster (under its lock, like any writer); False
        when it already says so."""
        self._probed.update(statuses)
        return self._rewrite(lambda state: probes.apply_status(state, statuses, store.now_rfc3339()))

    def _write_forgotten(self, keys: set[str]) -> bool:
        return self._rewrite(lambda state: probes.forget_status(state, keys))

    def _rewrite(self, change: Callable[[ClusterState], ClusterState]) -> bool:
        if not store.state_path(self.cluster).exists():
            return False
        with store.lock(self.cluster):
            stored = store.load_stored(self.cluster)
            if stored is None:
                return False
            new = change(stored.state)
            if new is stored.state:
                return False
            new = store.stamp(new, stored.state)
            store.save(new, self.cluster, stored.last_applied)
        return True

    def _restart_requested(self, key: str, restarts: tuple[probes.Restart, ...]) -> None:
        """A liveness (or startup) verdict: kubelet kills the container — a failure, so it is
        started again under restartPolicy Always and OnFailure."""
        if key not in self.restarting:
            why = "; ".join(f"container {r.container} failed its {r.probe} probe"
                            for r in restarts)
            containers = tuple(sorted({r.container for r in restarts}))
            self.restarting[key] = asyncio.create_task(
                self._restart(key, containers, why, exit_code=probes.KILLED_EXIT_CODE))

    def _command_exited(self, key: str, code: int) -> None:
        """A pod's command ended on its own: kubelet restarts the container as its pod's
        restartPolicy says (Always; OnFailure after a non-zero status; never under Never),
        with the same back-off as a liveness kill."""
        assert self.rc is not None
        ns, _, name = key.partition("/")
        pod = self.rc.state.pod(ns, name)
        if pod is None or key in self.restarting:
            return
        why = f"command exited with status {code}"
        containers = tuple(c.name for c in pod.spec.containers)
        self.restarting[key] = asyncio.create_task(
            self._restart(key, containers, why, exit_code=code, already_stopped=True))

    async def _restart(self, key: str, containers: tuple[str, ...], why: str, *, exit_code: int,
                       already_stopped: bool = False) -> None:
        """Stop pod ``key``'s process (unless it ended by itself) and start it again, as
        kubelet does a container: at once the first time, then after the back-off
        (CrashLoopBackOff); not at all under restartPolicy Never, nor after a success under
        OnFailure."""
        assert self.rc is not None and self.prober is not None
        try:
            ns, _, name = key.partition("/")
            status = self.prober.status(key)
            decision = probes.restart_decision(
                self.rc.state.pod(ns, name), exit_code,
                status.restart_count_of(containers) if status is not None else 0)
            if not decision.restart:
                self.say(f"pod {key}: {why}: stopped, not restarted "
                         f"(restartPolicy {decision.policy})")
            else:
                self.say(f"pod {key}: {why}: restarting"
                         + (f" after a {decision.delay:.0f}s back-off" if decision.delay else ""))
            if not already_stopped:
                async with self._lock:
                    await self._stop_target(key)
            self.prober.stopped(key, decision.waiting_reason, exit_code)
            if not decision.restart:
                return
            await asyncio.sleep(decision.delay)
            async with self._lock:
                t = next((t for t in self.rc.pod_targets() if t.key == key), None)
                if t is None or key not in self.prober:
                    return
                if already_stopped:
                    await self._stop_target(key)  # the exited command's closers and entry
                for p in await self._start_target(t):
                    self.say(f"warning: {p}")
                self.prober.restarted(key, containers)
            status = self.prober.status(key)
            self.say(f"pod {key}: restarted ({status.restarts if status else '?'} restart(s))")
            self._save(commands={k: p.pid for k, p in self.commands.items()},
                       probes=self._probe_summary())
        finally:
            if self.restarting.get(key) is asyncio.current_task():
                del self.restarting[key]

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
        """The pod's ``podnet.io/command``, in its namespace and its directory."""
        assert t.command is not None
        log = str(processes.pod_log_path(self.cluster, t.key))
        self.exited.discard(t.key)
        self.commands[t.key] = processes.spawn_in_netns(
            t.netns, t.command, log, self._pod_env(t), t.key,
            cwd=str(processes.make_pod_dir(self.cluster, t.key)))

    def _reap(self) -> None:
        fault.reap_started()  # delay lines it started for re-applied faults, stopped by anyone
        for key, proc in list(self.commands.items()):
            code = proc.proc.poll()
            if code is not None and key not in self.exited:
                self.exited.add(key)
                self.say(f"pod {key}: command exited with status {code}")
                self._command_exited(key, code)

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
