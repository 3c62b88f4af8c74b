"""kubelet's prober for the real data plane: the checks performed for real, the bookkeeping pure.

Why here: what a probe *means* — thresholds, initial delays, startup gating, when a container
must be restarted — is decided by the pure :class:`podnet.cluster.probes.PodProbes`; this shell
only keeps the clock, performs the checks the machine asks for, and reports what changed. The
daemon (:mod:`podnet.linux.daemon`) turns a report into the pod's status in the stored cluster
and converges the network to it, and restarts a pod's process when the machine says so.

Where each check comes from, as kubelet's do:

* httpGet, tcpSocket (and grpc) are sent from the pod's **node** namespace to the pod's address
  — kubelet probes from the node, so the node's routes carry them and NetworkPolicy never judges
  them (node traffic to its own pods is always allowed). Only IP addresses are probed: a
  ``host`` naming a DNS name would need the host's resolver, which podnet never asks.
* exec runs ``ip netns exec <pod ns> COMMAND…`` (no shell, like kubelet's exec), with the pod's
  environment, in the pod's directory (``$PODNET_POD_DIR``): podnet pods have no filesystem of
  their own, so ``cat /tmp/healthy`` would read the host's /tmp, shared by every pod — a probe
  meant per pod reads a file relative to its directory instead. Timed out after
  ``timeoutSeconds``, its process group killed.
* grpc: podnet does not speak ``grpc.health.v1``; the probe checks the port accepts a TCP
  connection, which a gRPC server must at the least.

HTTP as kubelet's client sends it: ``GET`` with the probe's headers, ``User-Agent:
kube-probe/1.34``, ``Accept: */*``, ``Connection: close``; HTTPS without verifying the
certificate; a status from 200 to 399 is success; redirects to the same host are followed (at
most 10), a redirect elsewhere is not, and counts as success (kubelet's "warning").
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shlex
import signal
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from podnet.api.core import Pod
from podnet.cli.store import now_rfc3339
from podnet.cluster.probes import (
    KILLED_EXIT_CODE,
    ExecCheck,
    GRPCCheck,
    HTTPGetCheck,
    Outcome,
    PodProbes,
    PodProbeStatus,
    ProbeSpec,
    Restart,
    TCPCheck,
    Unresolvable,
    probe_specs,
)
from podnet.linux import netns as _netns

Say = Callable[[str], None]
OnChange = Callable[[str], None]
OnRestart = Callable[[str, tuple[Restart, ...]], None]

MAX_REDIRECTS = 10
#: A pod ready within this many seconds of its process starting is not announced in the log.
QUIET_START = 1.0
MAX_OUTPUT = 10 * 1024


@dataclass(frozen=True, slots=True)
class ProbeHost:
    """Where the probes of one pod run."""

    key: str  # NS/NAME
    #: The node's namespace: httpGet, tcpSocket and grpc come from there.
    node_netns: str
    #: The pod's own namespace: exec runs there.
    pod_netns: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None


# ------------------------------------------------------------------------------------ checks


class _BadResponse(Exception):
    pass


def _err(e: BaseException) -> str:
    """Go's wording: ``connection refused``, ``no route to host``…"""
    if isinstance(e, OSError) and not isinstance(e, ssl.SSLError) and e.errno:
        return os.strerror(e.errno).lower()
    return str(e) or type(e).__name__


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _family(host: str) -> int:
    """The socket family of an IP literal; ValueError for a name (never resolved here)."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        raise ValueError(f"podnet probes IP addresses only, not {host!r}: a name would need "
                         "the host's resolver") from None


async def _connect(netns: str, host: str, port: int) -> socket.socket:
    """A TCP connection to ``host:port`` from inside ``netns``."""
    sock = _netns.socket_in(netns, _family(host), socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # kubelet's prober: InsecureSkipVerify
    return ctx


async def _http_once(netns: str, scheme: str, host: str, port: int, target: str,
                     host_header: str, headers: Iterable[tuple[str, str]]) -> tuple[int, str]:
    """One GET: (status, Location header)."""
    sock = await _connect(netns, host, port)
    ctx = _tls() if scheme == "https" else None
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=ctx, server_hostname=host if ctx is not None else None)
    try:
        lines = [f"GET {target} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{n}: {v}" for n, v in headers if n.lower() not in ("host", "connection")]
        lines += ["Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1", "replace"))
        await writer.drain()
        while True:
            first = await reader.readline()
            parts = first.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise _BadResponse("malformed HTTP response" if first else "EOF")
            status = int(parts[1])
            location = ""
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                if name.strip().lower() == "location":
                    location = value.strip()
            if not 100 <= status < 200:  # an interim response is followed by the real one
                return status, location
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _http_follow(check: HTTPGetCheck, netns: str) -> tuple[Outcome, str]:
    scheme, host, port, target = check.scheme, check.host, check.port, check.path
    host_header, url = check.host_header, check.url
    for _ in range(MAX_REDIRECTS + 1):
        status, location = await _http_once(netns, scheme, host, port, target, host_header,
                                            check.headers)
        if 300 <= status < 400 and location:
            nxt = urlsplit(urljoin(url, location))
            if (nxt.hostname or "").lower() != host.lower() or nxt.scheme not in ("http", "https"):
                return "success", f"Probe terminated redirects, Response: {status}"
            scheme, url = nxt.scheme, nxt.geturl()
            port = nxt.port or (443 if scheme == "https" else 80)
            target = (nxt.path or "/") + (f"?{nxt.query}" if nxt.query else "")
            host_header = nxt.netloc
            continue
        if 200 <= status < 400:
            return "success", ""
        return "failure", f"HTTP probe failed with statuscode: {status}"
    return "failure", f'Get "{check.url}": stopped after {MAX_REDIRECTS} redirects'


async def http_probe(check: HTTPGetCheck, netns: str, timeout: float) -> tuple[Outcome, str]:
    """kubelet's httpGet probe from ``netns``: (outcome, message)."""
    try:
        return await asyncio.wait_for(_http_follow(check, netns), timeout)
    except asyncio.TimeoutError:
        return "failure", (f'Get "{check.url}": context deadline exceeded (Client.Timeout '
                           "exceeded while awaiting headers)")
    except ValueError as e:
        return "error", str(e)
    except (OSError, _BadResponse, ssl.SSLError) as e:
        what = "dial tcp " + _hostport(check.host, check.port) + ": connect: " \
            if isinstance(e, OSError) and not isinstance(e, ssl.SSLError) else ""
        return "failure", f'Get "{check.url}": {what}{_err(e)}'


async def tcp_probe(host: str, port: int, netns: str, timeout: float) -> tuple[Outcome, str]:
    """kubelet's tcpSocket probe: the connection opens (then is closed at once)."""
    where = _hostport(host, port)
    try:
        sock = await asyncio.wait_for(_connect(netns, host, port), timeout)
    except asyncio.TimeoutError:
        return "failure", f"dial tcp {where}: i/o timeout"
    except ValueError as e:
        return "error", str(e)
    except OSError as e:
        return "failure", f"dial tcp {where}: connect: {_err(e)}"
    sock.close()
    return "success", ""


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def exec_probe(command: tuple[str, ...], netns: str, timeout: float,
                     env: Mapping[str, str] | None = None, cwd: str | None = None
                     ) -> tuple[Outcome, str]:
    """kubelet's exec probe: ``command`` in the pod's namespace; exit status 0 is success."""
    if not command:
        return "error", "exec probe without a command"
    try:
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", netns, *command,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(env) if env is not None else None,
            cwd=cwd, start_new_session=True)
    except OSError as e:
        return "error", f"cannot run {shlex.join(command)}: {_err(e)}"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        _kill_group(proc)
        with contextlib.suppress(Exception):
            await proc.wait()
        return "failure", f'command "{shlex.join(command)}" timed out'
    except BaseException:
        _kill_group(proc)
        raise
    text = (out or b"")[:MAX_OUTPUT].decode("utf-8", "replace").strip()
    if proc.returncode == 0:
        return "success", text
    return "failure", text or f'command "{shlex.join(command)}" exited with {proc.returncode}'


async def perform(spec: ProbeSpec, host: ProbeHost) -> tuple[Outcome, str]:
    """Run one probe as its spec says, from where kubelet would."""
    check = spec.check
    timeout = float(spec.timeout)
    if isinstance(check, HTTPGetCheck):
        return await http_probe(check, host.node_netns, timeout)
    if isinstance(check, (TCPCheck, GRPCCheck)):
        return await tcp_probe(check.host, check.port, host.node_netns, timeout)
    if isinstance(check, ExecCheck):
        return await exec_probe(check.command, host.pod_netns, timeout, host.env, host.cwd)
    assert isinstance(check, Unresolvable)
    return "error", check.error


# ------------------------------------------------------------------------------------ the prober


@dataclass(slots=True)
class _Pod:
    host: ProbeHost
    machine: PodProbes
    #: Bumped when the pod's process stops or restarts: results of older probes are dropped.
    generation: int = 0
    busy: set[int] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    #: Per worker, the last (outcome, message) logged, so that a steady failure is said once.
    said: dict[int, tuple[str, str]] = field(default_factory=dict)


Performer = Callable[[ProbeSpec, ProbeHost], Any]


class Prober:
    """Every probed pod's workers, on one event loop.

    ``on_change(key)`` is called when what kubelet would report for a pod changed (a container
    became ready or not, started, restarted); ``on_restart(key, restarts)`` when a container must
    be killed and restarted. Both are plain callbacks: the daemon schedules the work."""

    def __init__(self, say: Say, on_change: OnChange, on_restart: OnRestart,
                 clock: Callable[[], float] = time.monotonic,
                 performer: Performer = perform) -> None:
        self.say = say
        self.on_change = on_change
        self.on_restart = on_restart
        self.clock = clock
        self.performer = performer
        self.pods: dict[str, _Pod] = {}
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ pods

    def add(self, pod: Pod, host: ProbeHost, watched: bool = False) -> bool:
        """Start probing ``pod`` (its process has just started); False when it has no probe.
        ``watched``: keep its status even without probes — a process that can exit on its own
        (a ``podnet.io/command``) has restarts and a not-ready spell to report like any other."""
        self.remove(host.key)
        if not probe_specs(pod) and not watched:
            return False
        self.pods[host.key] = _Pod(host, PodProbes.start(pod, self.clock(), now_rfc3339()))
        self._wake.set()
        return True

    def remove(self, key: str) -> None:
        entry = self.pods.pop(key, None)
        if entry is not None:
            for task in entry.tasks:
                task.cancel()

    def __contains__(self, key: object) -> bool:
        return key in self.pods

    def status(self, key: str) -> PodProbeStatus | None:
        entry = self.pods.get(key)
        return entry.machine.status() if entry is not None else None

    def statuses(self) -> dict[str, PodProbeStatus]:
        return {k: e.machine.status() for k, e in sorted(self.pods.items())}

    def stopped(self, key: str, waiting_reason: str = "",
                exit_code: int = KILLED_EXIT_CODE) -> None:
        """The pod's process was stopped (or ended with ``exit_code``): no probe runs, nothing
        is ready, until :meth:`restarted`."""
        entry = self.pods.get(key)
        if entry is None:
            return
        self._drop_probes(entry)
        entry.machine = entry.machine.stopped(waiting_reason, exit_code)
        self.on_change(key)

    def restarted(self, key: str, containers: Iterable[str]) -> None:
        """The pod's process runs again: ``containers`` count a restart each, every worker
        starts from its initial value."""
        entry = self.pods.get(key)
        if entry is None:
            return
        self._drop_probes(entry)
        entry.machine = entry.machine.restarted(self.clock(), now_rfc3339(), containers)
        entry.said.clear()
        self.on_change(key)
        self._wake.set()

    @staticmethod
    def _drop_probes(entry: _Pod) -> None:
        entry.generation += 1
        for task in entry.tasks:
            task.cancel()
        entry.busy.clear()

    # ------------------------------------------------------------------ running

    def _tick(self, now: float, keys: Iterable[str] | None = None) -> list[asyncio.Task[Any]]:
        started: list[asyncio.Task[Any]] = []
        for key in list(self.pods) if keys is None else list(keys):
            entry = self.pods.get(key)
            if entry is None:
                continue
            entry.machine, due = entry.machine.tick(now, entry.busy)
            for index in due:
                entry.busy.add(index)
                task = asyncio.create_task(self._probe(key, entry, index, entry.generation))
                entry.tasks.add(task)
                task.add_done_callback(entry.tasks.discard)
                started.append(task)
        return started

    async def _probe(self, key: str, entry: _Pod, index: int, generation: int) -> None:
        spec = entry.machine.workers[index].spec
        try:
            outcome, message = await self.performer(spec, entry.host)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a probe that cannot run errs, as kubelet's
            outcome, message = "error", _err(e)
        if self.pods.get(key) is not entry or entry.generation != generation:
            return  # the pod went, or its process restarted, meanwhile
        entry.busy.discard(index)
        before = entry.machine.status()
        entry.machine, restarts = entry.machine.observe(index, outcome, self.clock())
        self._log(key, entry, index, spec, outcome, message)
        after = entry.machine.status()
        if after != before:
            now = self.clock()
            if after.ready != before.ready and \
                    (not after.ready or now - entry.machine.started_at >= QUIET_START):
                # a pod ready on its first probes is what is expected: said only otherwise
                self.say(f"pod {key}: " + ("ready" if after.ready else
                                           f"not ready (containers with unready status: "
                                           f"[{' '.join(after.unready)}])"))
            self.on_change(key)
        if restarts:
            self.on_restart(key, restarts)
        self._wake.set()

    def _log(self, key: str, entry: _Pod, index: int, spec: ProbeSpec, outcome: str,
             message: str) -> None:
        """kubelet's Unhealthy events, into the daemon log: a failure when it starts or its
        message changes, the recovery once."""
        previous = entry.said.get(index)
        if outcome == "success":
            if previous is not None and previous[0] != "success":
                self.say(f"pod {key}: {spec.title} probe of {spec.container} succeeded again")
            entry.said[index] = ("success", "")
            return
        if previous == (outcome, message):
            return
        entry.said[index] = (outcome, message)
        verb = "failed" if outcome == "failure" else "errored"
        self.say(f"pod {key}: {spec.title} probe of {spec.container} {verb}: {message}")

    def next_due(self) -> float | None:
        times = [t for e in self.pods.values() if (t := e.machine.next_due()) is not None]
        return min(times) if times else None

    async def settle(self, keys: Iterable[str] | None = None, rounds: int = 3) -> None:
        """Run the probes due now for ``keys`` (every pod by default) and wait for them — a
        startup success triggering readiness included — so that a pod just started is judged
        before it is announced."""
        wanted = list(self.pods) if keys is None else [k for k in keys if k in self.pods]
        for _ in range(rounds):
            tasks = self._tick(self.clock(), wanted)
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        """Probe for ever (until cancelled): sleep until the next ticker fires, run what is due."""
        while True:
            self._wake.clear()
            self._tick(self.clock())
            due = self.next_due()
            delay = 3600.0 if due is None else max(0.0, due - self.clock())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def close(self) -> None:
        tasks = [t for e in self.pods.values() for t in e.tasks]
        for key in list(self.pods):
            self.remove(key)
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
