"""Container probes as kubelet runs them: the pure state machine behind the real prober.

Why a state machine of its own: what makes a pod leave its Services' endpoints, or get restarted,
is not one probe result but kubelet's bookkeeping around the results — thresholds, initial delays,
the startup probe holding the others back, the results a worker starts from. That bookkeeping is
reproduced here, pure and clocked by the caller, so that it is tested without a network; the I/O
shell (:mod:`podnet.linux.prober`) only performs the checks it asks for and reports back.

Behaviour reproduced from kubelet (``pkg/kubelet/prober``: worker.go, prober_manager.go,
``pkg/probe/http``; re-implemented, not copied):

* One worker per container and probe type. A worker probes on a ticker of ``periodSeconds``
  (default 10) starting when the container starts; the first tick is at once. A tick is skipped
  while the container has run for fewer than ``initialDelaySeconds`` (whole seconds, as kubelet
  truncates them), so the first real probe is on the first tick at or after the delay.
* What a worker reports starts at its *initial value*: readiness ``failure`` (a pod with a
  readinessProbe is not ready until a probe succeeds), liveness ``success``, startup ``unknown``.
* A result changes what the worker reports only after ``failureThreshold`` (default 3) failures or
  ``successThreshold`` (default 1; always 1 for liveness and startup) successes in a row. A probe
  that *errors* (a named port the container does not declare) is thrown away, counted neither way.
* The startup probe gates the others: until it has succeeded the container is not *started*, and
  readiness and liveness do not probe; once it has, it stops probing, and readiness is triggered at
  once (which also restarts its ticker from that moment).
* A container is ready when it runs, is started, and its readiness probe (if any) reports success;
  the pod is Ready when all its containers are. No probe at all: ready as soon as it runs.
* Liveness reporting failure, or startup failing ``failureThreshold`` times, means the container is
  killed and restarted (restartPolicy permitting); the worker holds until the new container, whose
  workers start again from their initial values, counting ``initialDelaySeconds`` from its start.
  Restarts after the first wait kubelet's back-off: 10 s, doubling to at most 5 minutes.
* httpGet: ``GET scheme://host:port/path`` (host defaults to the pod IP; a named port is looked up
  in the container's own ports; ``httpHeaders`` sent, ``User-Agent: kube-probe/<version>`` and
  ``Accept: */*`` unless given); 200–399 is success. tcpSocket: a TCP connection opens. exec: the
  command exits 0. grpc: not spoken here (see :class:`GRPCCheck`).

A podnet pod runs one process (the built-in server, or its ``podnet.io/command``) for all its
containers, so "restart the container" restarts that process, and the restart is counted on the
container whose probe failed. The statuses this machine produces are written into the pods (the
Ready and ContainersReady conditions, ``status.containerStatuses``) by :func:`apply_status`, which
also republishes the EndpointSlices of the Services selecting them — so an unready pod leaves its
Services' endpoints through the same EndpointSlice controller ``podnet apply`` runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from podnet.api.core import Condition, Container, Pod, Probe, Service
from podnet.api.discovery import EndpointSlice
from podnet.api.frozen import freeze, thaw
from podnet.cluster import endpointslices
from podnet.cluster.state import ClusterState

__all__ = [
    "Check",
    "ContainerStatus",
    "ExecCheck",
    "GRPCCheck",
    "HTTPGetCheck",
    "Outcome",
    "PodProbeStatus",
    "PodProbes",
    "ProbeSpec",
    "ProbeType",
    "Restart",
    "TCPCheck",
    "Unresolvable",
    "Worker",
    "apply_status",
    "forget_status",
    "initial_status",
    "pod_with_status",
    "pod_without_status",
    "probe_ports",
    "probe_specs",
    "resolve_port",
    "restart_count",
    "restart_delay",
]

ProbeType = Literal["startup", "liveness", "readiness"]
#: What one probe gave: ``error`` is a probe that could not be run (thrown away, as kubelet does).
Outcome = Literal["success", "failure", "error"]
#: What a worker reports (kubelet's results manager).
Result = Literal["success", "failure", "unknown"]

INITIAL: dict[ProbeType, Result] = {"readiness": "failure", "liveness": "success",
                                    "startup": "unknown"}
#: The kubelet version podnet's nodes report (``v1.34.0-podnet``): the probes' User-Agent.
USER_AGENT = "kube-probe/1.34"
#: kubelet's container restart back-off (``MaxContainerBackOff``, initial 10 s).
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
#: Timer slack: a wake-up a hair early still counts as the tick it was scheduled for.
EPSILON = 1e-3

DEFAULT_PERIOD = 10
DEFAULT_TIMEOUT = 1
DEFAULT_SUCCESS = 1
DEFAULT_FAILURE = 3


# ------------------------------------------------------------------------------------ checks


@dataclass(frozen=True, slots=True)
class HTTPGetCheck:
    """An httpGet probe, resolved: the request kubelet would send."""

    scheme: str  # "http" | "https"
    host: str
    port: int
    path: str  # request target: path and query, starting with "/"
    #: Request headers in order (the probe's own, then kubelet's defaults it did not override).
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        """The Host header: the probe's own ``Host`` header, else ``host:port`` as Go writes it."""
        for name, value in self.headers:
            if name.lower() == "host":
                return value
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TCPCheck:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class ExecCheck:
    """Run ``command`` (no shell, as kubelet execs it) in the pod; exit status 0 is success."""

    command: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GRPCCheck:
    """A grpc probe. podnet does not speak ``grpc.health.v1``: the shell only checks that the
    port accepts a TCP connection, which is what a gRPC server must do at the least."""

    host: str
    port: int
    service: str = ""


@dataclass(frozen=True, slots=True)
class Unresolvable:
    """A probe kubelet cannot run (a named port the container does not declare): every attempt
    errors and is thrown away, so the worker keeps reporting its initial value."""

    error: str


Check = HTTPGetCheck | TCPCheck | ExecCheck | GRPCCheck | Unresolvable


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One probe of one container, its handler resolved and its defaults applied."""

    type: ProbeType
    container: str
    check: Check
    initial_delay: int = 0
    period: int = DEFAULT_PERIOD
    timeout: int = DEFAULT_TIMEOUT
    success_threshold: int = DEFAULT_SUCCESS
    failure_threshold: int = DEFAULT_FAILURE

    @property
    def title(self) -> str:
        """``Readiness``, ``Liveness``, ``Startup``: how kubelet's events name it."""
        return self.type.capitalize()


def resolve_port(port: int | str, container: Container) -> int:
    """``probe.ResolveContainerPort``: a number, or a name looked up in the container's own ports
    (then, as a last resort, a number written as a string). Raises ValueError when neither."""
    value: int
    if isinstance(port, int):
        value = port
    else:
        found = next((p.container_port for p in container.ports if p.name == port), None)
        if found is not None:
            value = found
        elif port.isdigit():
            value = int(port)
        else:
            raise ValueError(f"port {port} not found in container {container.name}")
    if 0 < value < 65536:
        return value
    raise ValueError(f"invalid port number: {value}")


def _headers(given: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """The probe's headers plus kubelet's User-Agent and Accept unless it set them (an empty
    Accept it set removes the header)."""
    out = [(str(h.get("name", "")), str(h.get("value", ""))) for h in given]
    names = {n.lower() for n, _ in out}
    if "user-agent" not in names:
        out.append(("User-Agent", USER_AGENT))
    if "accept" not in names:
        out.append(("Accept", "*/*"))
    else:
        out = [(n, v) for n, v in out if n.lower() != "accept" or v]
    return tuple(out)


def _check(probe: Probe, container: Container, pod_ip: str) -> Check:
    try:
        if probe.exec is not None:
            return ExecCheck(tuple(probe.exec.command))
        if probe.http_get is not None:
            hg = probe.http_get
            port = resolve_port(hg.port, container)
            path = hg.path or "/"
            if not path.startswith("/"):
                path = "/" + path
            scheme = (hg.scheme or "HTTP").lower()
            return HTTPGetCheck(scheme, hg.host or pod_ip, port, path, _headers(hg.http_headers))
        if probe.tcp_socket is not None:
            tcp = probe.tcp_socket
            return TCPCheck(tcp.host or pod_ip, resolve_port(tcp.port, container))
        if probe.grpc is not None:
            return GRPCCheck(pod_ip, resolve_port(probe.grpc.port, container),
                             probe.grpc.service or "")
    except ValueError as e:
        return Unresolvable(str(e))
    return Unresolvable("missing probe handler")


def _spec(type_: ProbeType, probe: Probe, container: Container, pod_ip: str) -> ProbeSpec:
    success = probe.success_threshold or DEFAULT_SUCCESS
    if type_ != "readiness":
        success = 1  # validation holds liveness and startup to 1
    return ProbeSpec(
        type=type_,
        container=container.name,
        check=_check(probe, container, pod_ip),
        initial_delay=max(probe.initial_delay_seconds, 0),
        period=probe.period_seconds if probe.period_seconds > 0 else DEFAULT_PERIOD,
        timeout=probe.timeout_seconds if probe.timeout_seconds > 0 else DEFAULT_TIMEOUT,
        success_threshold=success,
        failure_threshold=probe.failure_threshold if probe.failure_threshold > 0
        else DEFAULT_FAILURE,
    )


def _containers(pod: Pod) -> tuple[Container, ...]:
    """The containers that run for the pod's life: its containers and its restartable (sidecar)
    init containers, which kubelet probes too."""
    sidecars = tuple(c for c in pod.spec.init_containers if c.restart_policy == "Always")
    return (*sidecars, *pod.spec.containers)


def pod_ip(pod: Pod) -> str:
    return next((i for i in pod.ips if ":" not in i), pod.ips[0] if pod.ips else "")


def probe_specs(pod: Pod) -> tuple[ProbeSpec, ...]:
    """Every probe of ``pod``, per container in order startup, liveness, readiness."""
    ip = pod_ip(pod)
    out: list[ProbeSpec] = []
    for c in _containers(pod):
        pairs: tuple[tuple[ProbeType, Probe | None], ...] = (
            ("startup", c.startup_probe), ("liveness", c.liveness_probe),
            ("readiness", c.readiness_probe))
        for type_, probe in pairs:
            if probe is not None:
                out.append(_spec(type_, probe, c, ip))
    return tuple(out)


def probe_ports(pod: Pod) -> tuple[int, ...]:
    """TCP ports the pod's network probes target on its own address, declared or not: an
    application serves its health endpoints whether or not it lists the port (ingress-nginx's
    10254 is not a containerPort), so the built-in server that stands in for it listens there."""
    ip = pod_ip(pod)
    ports: list[int] = []
    for spec in probe_specs(pod):
        check = spec.check
        if isinstance(check, (HTTPGetCheck, TCPCheck, GRPCCheck)) and check.host in (ip, ""):
            if check.port not in ports:
                ports.append(check.port)
    return tuple(ports)


#: The status of a container kubelet killed (SIGKILL after a failed liveness or startup probe).
KILLED_EXIT_CODE = 137


def restart_delay(restarts: int) -> float:
    """Seconds kubelet waits before starting a container that has already been restarted
    ``restarts`` times (CrashLoopBackOff): the first restart at once, then 10 s doubling to
    5 min."""
    if restarts <= 0:
        return 0.0
    return min(BACKOFF_INITIAL * (2.0 ** (restarts - 1)), BACKOFF_MAX)


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """What kubelet does with a container that ended (killed after a failed liveness/startup
    probe: status 137, or exited by itself): start it again or not, and after which back-off."""

    restart: bool
    delay: float
    #: The pod's restartPolicy, defaulted (Always).
    policy: str

    @property
    def waiting_reason(self) -> str:
        """``CrashLoopBackOff`` while a back-off runs; "" (terminated) otherwise."""
        return "CrashLoopBackOff" if self.delay else ""


def restart_decision(pod: Pod | None, exit_code: int, restarts: int) -> RestartDecision:
    """kubelet's ``ShouldContainerBeRestarted``: Always restarts, OnFailure only after a
    non-zero status (a probe kill is one), Never does not; the delay is :func:`restart_delay`
    of the restarts the container already had."""
    policy = (pod.spec.restart_policy if pod is not None else "") or "Always"
    again = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
    return RestartDecision(again, restart_delay(restarts) if again else 0.0, policy)


# ------------------------------------------------------------------------------------ workers


@dataclass(frozen=True, slots=True)
class Worker:
    """kubelet's probe worker for one probe of one container."""

    spec: ProbeSpec
    #: When its ticker fires next (the caller's clock, seconds).
    next_at: float
    #: What it reports (kubelet's results manager entry).
    result: Result
    #: The last probe outcome and how many times in a row it came (``lastResult``, ``resultRun``).
    last: Outcome | None = None
    run: int = 0
    #: Holding until a new container (after a liveness/startup verdict).
    on_hold: bool = False
    #: A tick came while a probe was still running: probe once more as soon as it ends (Go's
    #: ticker keeps one tick buffered).
    pending: bool = False

    @staticmethod
    def start(spec: ProbeSpec, now: float) -> Worker:
        return Worker(spec, now, INITIAL[spec.type])

    def observe(self, outcome: Outcome) -> tuple[Worker, Result | None]:
        """Record one outcome (``doProbe`` after the probe ran): the new worker, and the result
        it now reports if the outcome reached its threshold (None: the report is unchanged)."""
        if outcome == "error":
            return self, None
        run = self.run + 1 if self.last == outcome else 1
        spec = self.spec
        if (outcome == "failure" and run < spec.failure_threshold) or \
                (outcome == "success" and run < spec.success_threshold):
            return replace(self, last=outcome, run=run), None
        w = replace(self, last=outcome, run=run, result=outcome)
        if (spec.type == "liveness" and outcome == "failure") or spec.type == "startup":
            w = replace(w, on_hold=True, run=0)
        return w, outcome

    def advance(self, now: float) -> Worker:
        """The ticker past ``now``: the next multiple of the period after it."""
        if self.next_at > now + EPSILON:
            return self
        period = float(self.spec.period)
        steps = math.floor((now + EPSILON - self.next_at) / period) + 1
        return replace(self, next_at=self.next_at + steps * period)

    def for_new_container(self) -> Worker:
        """A new container: report the initial value again and resume probing (the ticker and
        the run of outcomes carry on, as kubelet's worker does)."""
        return replace(self, result=INITIAL[self.spec.type], on_hold=False)


@dataclass(frozen=True, slots=True)
class Restart:
    """The container must be killed and restarted: its liveness probe reports failure, or its
    startup probe failed ``failureThreshold`` times."""

    container: str
    probe: ProbeType


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    """What kubelet reports for one container (``status.containerStatuses[]``, the fields podnet
    writes)."""

    name: str
    ready: bool
    started: bool
    restart_count: int = 0
    running: bool = True
    #: RFC 3339 start of the running container ("" when unknown).
    started_at: str = ""
    #: Why it is not running (``CrashLoopBackOff`` while waiting to be restarted; "" when it
    #: was killed and is not waiting for anything: terminated).
    waiting_reason: str = ""
    #: How a terminated container ended (137: killed after a failed liveness/startup probe).
    exit_code: int = KILLED_EXIT_CODE


@dataclass(frozen=True, slots=True)
class PodProbeStatus:
    """What kubelet reports for a pod: its containers' statuses (the pod is Ready when all are)."""

    containers: tuple[ContainerStatus, ...]

    @property
    def ready(self) -> bool:
        return all(c.ready for c in self.containers)

    @property
    def unready(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.containers if not c.ready)

    @property
    def restarts(self) -> int:
        return sum(c.restart_count for c in self.containers)

    def restart_count_of(self, names: Iterable[str]) -> int:
        """The most restarts any of the containers ``names`` had (what their back-off counts)."""
        wanted = set(names)
        return max((c.restart_count for c in self.containers if c.name in wanted), default=0)


@dataclass(frozen=True, slots=True)
class PodProbes:
    """Every probe worker of one pod, and the state of its (one) running process."""

    containers: tuple[str, ...]
    workers: tuple[Worker, ...]
    running: bool = True
    #: When the running process started (the caller's clock), and as RFC 3339.
    started_at: float = 0.0
    started_wall: str = ""
    restarts: tuple[tuple[str, int], ...] = ()
    waiting_reason: str = ""
    exit_code: int = KILLED_EXIT_CODE

    @staticmethod
    def start(pod: Pod, now: float, wall: str = "") -> PodProbes:
        """A pod whose process has just started: every worker at its initial value, first ticks
        now."""
        specs = probe_specs(pod)
        names = tuple(c.name for c in _containers(pod))
        return PodProbes(names, tuple(Worker.start(s, now) for s in specs), True, now, wall,
                         tuple((n, 0) for n in names))

    # ------------------------------------------------------------------ derived state

    def _worker(self, container: str, type_: ProbeType) -> Worker | None:
        return next((w for w in self.workers
                     if w.spec.container == container and w.spec.type == type_), None)

    def started(self, container: str) -> bool:
        """Running, and its startup probe (if any) has succeeded."""
        if not self.running:
            return False
        w = self._worker(container, "startup")
        return w is None or w.result == "success"

    def container_ready(self, container: str) -> bool:
        if not self.started(container):
            return False
        w = self._worker(container, "readiness")
        return w is None or w.result == "success"

    @property
    def ready(self) -> bool:
        return all(self.container_ready(c) for c in self.containers)

    def restart_count(self, container: str) -> int:
        return dict(self.restarts).get(container, 0)

    def status(self) -> PodProbeStatus:
        return PodProbeStatus(tuple(
            ContainerStatus(
                name=c, ready=self.container_ready(c), started=self.started(c),
                restart_count=self.restart_count(c), running=self.running,
                started_at=self.started_wall if self.running else "",
                waiting_reason="" if self.running else self.waiting_reason,
                exit_code=self.exit_code,
            )
            for c in self.containers
        ))

    def next_due(self) -> float | None:
        """When :meth:`tick` has something to do next (None: nothing until the pod changes)."""
        if not self.running or not self.workers:
            return None
        return min(w.next_at for w in self.workers)

    # ------------------------------------------------------------------ transitions

    def _should_probe(self, w: Worker, now: float) -> bool:
        """``doProbe``'s gates: on hold, initial delay (whole seconds), startup gating."""
        if w.on_hold or not self.running:
            return False
        if int(now - self.started_at + EPSILON) < w.spec.initial_delay:
            return False
        started = self.started(w.spec.container)
        if w.spec.type == "startup":
            return not started
        return started

    def tick(self, now: float, busy: Iterable[int] = ()) -> tuple[PodProbes, tuple[int, ...]]:
        """The tickers that fired by ``now``: the new state and the workers (indexes) whose probe
        must run now. ``busy`` are workers whose previous probe is still running: their tick is
        kept for when it ends."""
        if not self.running:
            return self, ()
        busy_set = set(busy)
        workers = list(self.workers)
        run: list[int] = []
        for i, w in enumerate(workers):
            fired = w.pending or w.next_at <= now + EPSILON
            if not fired:
                continue
            w = replace(w.advance(now), pending=False)
            if i in busy_set:
                w = replace(w, pending=True)
            elif self._should_probe(w, now):
                run.append(i)
            workers[i] = w
        return replace(self, workers=tuple(workers)), tuple(run)

    def observe(self, index: int, outcome: Outcome, now: float
                ) -> tuple[PodProbes, tuple[Restart, ...]]:
        """Record the outcome of worker ``index``'s probe: the new state and the restarts it
        calls for."""
        w, reported = self.workers[index].observe(outcome)
        workers = list(self.workers)
        workers[index] = w
        state = replace(self, workers=tuple(workers))
        if reported is None or not self.running:
            return state, ()
        spec = w.spec
        if spec.type == "startup" and reported == "success":
            # the container has started: readiness is probed at once (prober_manager's manual
            # trigger), its ticker restarting from now
            trig = list(state.workers)
            for i, other in enumerate(trig):
                if other.spec.container == spec.container and other.spec.type == "readiness" \
                        and other.result != "success":
                    trig[i] = replace(other, next_at=now)
            return replace(state, workers=tuple(trig)), ()
        if reported == "failure" and spec.type in ("liveness", "startup"):
            return state, (Restart(spec.container, spec.type),)
        return state, ()

    def stopped(self, waiting_reason: str = "", exit_code: int = KILLED_EXIT_CODE) -> PodProbes:
        """The process was killed (or exited with ``exit_code``): nothing runs, nothing is
        ready or probed."""
        return replace(self, running=False, waiting_reason=waiting_reason, exit_code=exit_code)

    def restarted(self, now: float, wall: str = "", containers: Iterable[str] = ()
                  ) -> PodProbes:
        """The process started again: each of ``containers`` counts one more restart, and every
        worker reports its initial value for the new container. The tickers ran on meanwhile:
        the new container is first probed on their next tick, as kubelet's are."""
        counts = dict(self.restarts)
        for c in containers:
            counts[c] = counts.get(c, 0) + 1
        return replace(
            self, running=True, started_at=now, started_wall=wall, waiting_reason="",
            workers=tuple(replace(w.for_new_container().advance(now), pending=False)
                          for w in self.workers),
            restarts=tuple((c, counts.get(c, 0)) for c in self.containers),
        )


def initial_status(pod: Pod) -> PodProbeStatus | None:
    """What kubelet reports for ``pod`` the moment its process starts, before any probe has run
    (None when it has no probe: nothing for the prober to report)."""
    if not probe_specs(pod):
        return None
    return PodProbes.start(pod, 0.0).status()


def as_kubelet_reports(state: ClusterState, reported: Mapping[str, PodProbeStatus],
                       now: str) -> ClusterState:
    """``state`` as kubelet reports it: every pod in ``reported`` (``NS/NAME``) with its report,
    a scheduled pod not probed yet (just applied) with its :func:`initial_status` — not ready
    when it has a readinessProbe or a startupProbe; pods without probes keep their status."""
    statuses: dict[str, PodProbeStatus] = {}
    for pod in state.pods():
        key = pod.qualified_name
        got = reported.get(key)
        if got is None and pod.spec.node_name and not pod.finished:
            got = initial_status(pod)
        if got is not None:
            statuses[key] = got
    return apply_status(state, statuses, now)


# ------------------------------------------------------------------------------ the pod status


CONTAINER_STATUSES = "containerStatuses"


def restart_count(pod: Pod) -> int:
    """RESTARTS as kubectl prints it: the sum of ``status.containerStatuses[].restartCount``."""
    total = 0
    for cs in pod.status.extra.get(CONTAINER_STATUSES) or ():
        if isinstance(cs, Mapping):
            n = cs.get("restartCount", 0)
            total += n if isinstance(n, int) else 0
    return total


def _container_statuses(pod: Pod, status: PodProbeStatus) -> tuple[Any, ...]:
    images = {c.name: c.image for c in _containers(pod)}
    out = []
    for c in status.containers:
        entry: dict[str, Any] = {"name": c.name, "image": images.get(c.name, ""),
                                 "ready": c.ready, "restartCount": c.restart_count,
                                 "started": c.started}
        if c.running:
            entry["state"] = {"running": {"startedAt": c.started_at}} if c.started_at \
                else {"running": {}}
        elif c.waiting_reason:
            entry["state"] = {"waiting": {"reason": c.waiting_reason}}
        else:  # killed by its probe or exited, and not (yet) started again
            entry["state"] = {"terminated": {"exitCode": c.exit_code,
                                             "reason": "Completed" if c.exit_code == 0 else "Error"}}
        out.append(entry)
    return tuple(freeze(e) for e in out)


def _conditions(pod: Pod, status: PodProbeStatus, now: str) -> tuple[Condition, ...]:
    ready = status.ready
    want = "True" if ready else "False"
    message = "" if ready else f"containers with unready status: [{' '.join(status.unready)}]"
    reason = "" if ready else "ContainersNotReady"
    out: list[Condition] = []
    seen: set[str] = set()
    for c in pod.status.conditions:
        if c.type in ("Ready", "ContainersReady"):
            seen.add(c.type)
            if (c.status, c.reason, c.message) == (want, reason, message):
                out.append(c)
                continue
            extra = dict(c.extra)
            if c.status != want or "lastTransitionTime" not in extra:
                extra["lastTransitionTime"] = now
            out.append(Condition(type=c.type, status=want, reason=reason, message=message,
                                 extra=freeze(extra)))
        else:
            out.append(c)
    for type_ in ("Ready", "ContainersReady"):
        if type_ not in seen:
            out.append(Condition(type=type_, status=want, reason=reason, message=message,
                                 extra=freeze({"lastTransitionTime": now})))
    return tuple(out)


def pod_with_status(pod: Pod, status: PodProbeStatus, now: str) -> Pod:
    """``pod`` with kubelet's report written in: its Ready and ContainersReady conditions (the
    transition stamped ``now`` when they change) and ``status.containerStatuses``; the very same
    object when that is what it already says."""
    conditions = _conditions(pod, status, now)
    statuses = _container_statuses(pod, status)
    same_conditions = [(c.type, c.status, c.reason, c.message) for c in conditions] == \
        [(c.type, c.status, c.reason, c.message) for c in pod.status.conditions]
    before = pod.status.extra.get(CONTAINER_STATUSES)
    if same_conditions and before is not None and thaw(before) == thaw(statuses):
        return pod
    extra = dict(pod.status.extra)
    extra[CONTAINER_STATUSES] = statuses
    new_status = replace(pod.status, conditions=conditions, extra=freeze(extra))
    return replace(pod, status=new_status)


def _selects(svc: Service, pod: Pod) -> bool:
    sel = svc.spec.selector
    if svc.spec.type == "ExternalName" or not sel:
        return False
    labels = pod.metadata.labels
    return all(labels.get(k) == v for k, v in sel.items())


def apply_status(state: ClusterState, statuses: Mapping[str, PodProbeStatus], now: str
                 ) -> ClusterState:
    """``state`` with kubelet's reports for pods ``NS/NAME`` written in, and the EndpointSlices
    of every Service selecting a pod whose report changed rebuilt by the EndpointSlice controller
    (``serving``/``ready`` follow the Ready condition). The same state object when nothing changes.
    Pods not in ``state``, or finished, are left alone."""
    changed: dict[str, Pod] = {}
    for key, status in statuses.items():
        ns, _, name = key.partition("/")
        pod = state.pod(ns, name)
        if pod is None or pod.finished:
            continue
        new = pod_with_status(pod, status, now)
        if new is not pod:
            changed[key] = new
    return _with_pods(state, changed)


def pod_without_status(pod: Pod) -> Pod:
    """``pod`` as the model has it when no kubelet reports on it: Ready and ContainersReady
    True, no ``containerStatuses`` (the same object when it says so already)."""
    if CONTAINER_STATUSES not in pod.status.extra and all(
            (c.status, c.reason, c.message) == ("True", "", "")
            for c in pod.status.conditions if c.type in ("Ready", "ContainersReady")):
        return pod
    conditions = tuple(
        Condition(type=c.type, status="True") if c.type in ("Ready", "ContainersReady") else c
        for c in pod.status.conditions)
    extra = {k: v for k, v in pod.status.extra.items() if k != CONTAINER_STATUSES}
    return replace(pod, status=replace(pod.status, conditions=conditions, extra=freeze(extra)))


def forget_status(state: ClusterState, keys: Iterable[str]) -> ClusterState:
    """``state`` with what the prober wrote into pods ``keys`` taken back (the cluster went
    down: no kubelet reports any more), their Services' EndpointSlices rebuilt."""
    changed: dict[str, Pod] = {}
    for key in keys:
        ns, _, name = key.partition("/")
        pod = state.pod(ns, name)
        if pod is None or pod.finished:
            continue
        new = pod_without_status(pod)
        if new is not pod:
            changed[key] = new
    return _with_pods(state, changed)


def _with_pods(state: ClusterState, changed: Mapping[str, Pod]) -> ClusterState:
    """``state`` with ``changed`` pods (same names, new status) and the EndpointSlices of the
    Services selecting them rebuilt."""
    if not changed:
        return state
    namespaces = sorted({p.metadata.namespace for p in changed.values()})
    affected: list[Service] = []
    for ns in namespaces:
        for svc in state.services(ns):
            if any(_selects(svc, p) for p in changed.values() if p.metadata.namespace == ns):
                affected.append(svc)
    added: list[Any] = list(changed.values())
    removed = []
    if affected:
        refs = {p.ref for p in changed.values()}
        pods_after = [p for ns in namespaces for p in state.pods(ns) if p.ref not in refs]
        pods_after.extend(changed.values())
        old: list[EndpointSlice] = [
            sl for svc in affected
            for sl in state.endpoint_slices(svc.metadata.namespace, svc.metadata.name)
        ]
        given = [sl for sl in old if sl.ref in state.applied]
        new_slices = endpointslices.build(affected, pods_after, given, state.ordered_nodes())
        keep = {sl.ref for sl in new_slices}
        removed = [sl.ref for sl in old if sl.ref not in keep]
        by_ref = {sl.ref: sl for sl in old}
        # a slice the controller rebuilt identical keeps its object (and creationTimestamp)
        added.extend(sl for sl in new_slices
                     if sl.ref not in by_ref or by_ref[sl.ref].to_dict() != _stamped(sl, by_ref))
    return state.evolve(removed, added)


def _stamped(sl: EndpointSlice, old: Mapping[Any, EndpointSlice]) -> dict[str, Any]:
    """``sl`` as it would be stored: with the creationTimestamp its predecessor had."""
    before = old.get(sl.ref)
    ts = before.metadata.creation_timestamp if before is not None else None
    return (sl.with_meta(creation_timestamp=ts) if ts else sl).to_dict()

