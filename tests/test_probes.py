"""Container probes, the pure state machine (podnet.cluster.probes), against kubelet's documented
semantics (pkg/kubelet/prober worker.go and prober_manager.go; the Pod lifecycle and "Configure
Liveness, Readiness and Startup Probes" pages): initial values, thresholds, initial delay in whole
seconds, the startup probe gating the others and triggering readiness, liveness restarts, the
back-off, named ports, and the status written into the pod and its EndpointSlices."""

from __future__ import annotations

from typing import Any

import pytest

from podnet.api.core import Pod
from podnet.api.defaults import apply_defaults
from podnet.api.loader import parse_text
from podnet.cluster import probes
from podnet.cluster.admission import admit
from podnet.cluster.config import DEFAULT
from podnet.cluster.probes import (
    ExecCheck,
    GRPCCheck,
    HTTPGetCheck,
    PodProbes,
    Restart,
    TCPCheck,
    Unresolvable,
    Worker,
)
from podnet.cluster.state import ClusterState


def make_pod(containers: list[dict[str, Any]], ip: str = "10.244.1.5",
             init: list[dict[str, Any]] | None = None) -> Pod:
    spec: dict[str, Any] = {"containers": containers}
    if init:
        spec["initContainers"] = init
    pod = Pod.from_dict({
        "metadata": {"name": "p", "namespace": "default"},
        "spec": spec,
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    })
    out = apply_defaults(pod)
    assert isinstance(out, Pod)
    return out


def web(**probes_: Any) -> Pod:
    c: dict[str, Any] = {"name": "web", "image": "nginx",
                         "ports": [{"name": "http", "containerPort": 8080}]}
    c.update(probes_)
    return make_pod([c])


HTTP = {"httpGet": {"path": "/ready", "port": "http"}}


def run_once(state: PodProbes, now: float, outcome: probes.Outcome = "success"
             ) -> tuple[PodProbes, tuple[int, ...], tuple[Restart, ...]]:
    state, due = state.tick(now)
    events: tuple[Restart, ...] = ()
    for i in due:
        state, ev = state.observe(i, outcome, now)
        events += ev
    return state, due, events


# ------------------------------------------------------------------------------------ specs


def test_probe_specs_apply_the_api_defaults_and_resolve_named_ports() -> None:
    pod = web(readinessProbe=HTTP)
    (spec,) = probes.probe_specs(pod)
    assert spec.type == "readiness" and spec.container == "web"
    assert (spec.initial_delay, spec.period, spec.timeout) == (0, 10, 1)
    assert (spec.success_threshold, spec.failure_threshold) == (1, 3)
    assert isinstance(spec.check, HTTPGetCheck)
    assert spec.check.url == "http://10.244.1.5:8080/ready"
    assert spec.check.host_header == "10.244.1.5:8080"
    assert ("User-Agent", "kube-probe/1.34") in spec.check.headers
    assert ("Accept", "*/*") in spec.check.headers


def test_http_headers_host_scheme_and_the_last_ditch_numeric_port() -> None:
    pod = web(livenessProbe={"httpGet": {"path": "healthz", "port": "9090", "scheme": "HTTPS",
                                          "host": "10.0.0.9", "httpHeaders": [
                                              {"name": "Host", "value": "shop.example"},
                                              {"name": "Accept", "value": ""}]}})
    (spec,) = probes.probe_specs(pod)
    check = spec.check
    assert isinstance(check, HTTPGetCheck)
    assert check.url == "https://10.0.0.9:9090/healthz"
    assert check.host_header == "shop.example"
    assert all(n != "Accept" for n, _ in check.headers)  # an empty Accept removes it


def test_tcp_exec_grpc_and_an_unknown_port_name() -> None:
    pod = web(readinessProbe={"tcpSocket": {"port": "http"}},
              livenessProbe={"exec": {"command": ["cat", "healthy"]}},
              startupProbe={"grpc": {"port": 9000}})
    by_type = {s.type: s.check for s in probes.probe_specs(pod)}
    assert by_type["readiness"] == TCPCheck("10.244.1.5", 8080)
    assert by_type["liveness"] == ExecCheck(("cat", "healthy"))
    assert by_type["startup"] == GRPCCheck("10.244.1.5", 9000, "")
    (bad,) = probes.probe_specs(web(readinessProbe={"tcpSocket": {"port": "nope"}}))
    assert isinstance(bad.check, Unresolvable) and "nope" in bad.check.error


def test_probe_ports_include_undeclared_ones() -> None:
    pod = web(readinessProbe={"httpGet": {"path": "/healthz", "port": 10254}},
              livenessProbe={"tcpSocket": {"port": "http"}})
    assert set(probes.probe_ports(pod)) == {10254, 8080}


def test_sidecar_init_containers_are_probed_too() -> None:
    pod = make_pod([{"name": "app", "image": "a"}],
                   init=[{"name": "proxy", "image": "p", "restartPolicy": "Always",
                          "readinessProbe": {"tcpSocket": {"port": 15021}}},
                         {"name": "setup", "image": "s"}])
    state = PodProbes.start(pod, 0.0)
    assert state.containers == ("proxy", "app")
    assert not state.ready
    state, _, _ = run_once(state, 0.0)
    assert state.ready


# ------------------------------------------------------------------------------------ workers


def test_initial_values_readiness_fails_liveness_succeeds_startup_unknown() -> None:
    pod = web(readinessProbe=HTTP, livenessProbe=HTTP, startupProbe=HTTP)
    state = PodProbes.start(pod, 100.0)
    assert {w.spec.type: w.result for w in state.workers} == {
        "startup": "unknown", "liveness": "success", "readiness": "failure"}
    assert not state.ready
    assert not state.started("web")


def test_no_probe_means_ready() -> None:
    state = PodProbes.start(web(), 0.0)
    assert state.ready and state.workers == () and state.next_due() is None
    assert probes.initial_status(web()) is None


def test_readiness_ready_after_first_success_then_failure_threshold() -> None:
    state = PodProbes.start(web(readinessProbe=HTTP), 0.0)
    state, due, _ = run_once(state, 0.0)
    assert due == (0,) and state.ready  # the first tick is at once
    assert state.next_due() == 10.0
    state, due, _ = run_once(state, 5.0)
    assert due == ()  # not yet
    for t, ready in ((10.0, True), (20.0, True), (30.0, False)):
        state, due, events = run_once(state, t, "failure")
        assert due == (0,) and events == ()
        assert state.ready is ready, t
    state, _, _ = run_once(state, 40.0, "success")
    assert state.ready


def test_success_threshold_counts_successes_in_a_row() -> None:
    probe = {**HTTP, "successThreshold": 2, "failureThreshold": 1, "periodSeconds": 1}
    state = PodProbes.start(web(readinessProbe=probe), 0.0)
    state, _, _ = run_once(state, 0.0, "success")
    assert not state.ready
    state, _, _ = run_once(state, 1.0, "failure")
    state, _, _ = run_once(state, 2.0, "success")
    assert not state.ready  # the run of successes started again
    state, _, _ = run_once(state, 3.0, "success")
    assert state.ready
    state, _, _ = run_once(state, 4.0, "failure")
    assert not state.ready


def test_errors_are_thrown_away() -> None:
    w = Worker.start(probes.probe_specs(web(readinessProbe=HTTP))[0], 0.0)
    w2, reported = w.observe("error")
    assert w2 == w and reported is None


def test_initial_delay_skips_ticks_in_whole_seconds() -> None:
    probe = {**HTTP, "initialDelaySeconds": 5, "periodSeconds": 2}
    state = PodProbes.start(web(readinessProbe=probe), 0.0)
    probed = []
    for t in range(0, 12):
        state, due, _ = run_once(state, float(t))
        if due:
            probed.append(t)
    assert probed == [6, 8, 10]  # ticks at 0, 2, 4 are within the delay; 6 is the first after it


def test_initial_delay_not_a_multiple_of_the_period() -> None:
    probe = {**HTTP, "initialDelaySeconds": 5, "periodSeconds": 10}
    state = PodProbes.start(web(readinessProbe=probe), 0.0)
    state, due, _ = run_once(state, 0.0)
    assert due == () and not state.ready
    state, due, _ = run_once(state, 10.0)
    assert due == (0,) and state.ready


def test_a_slightly_early_wake_up_still_counts_as_the_tick() -> None:
    probe = {**HTTP, "initialDelaySeconds": 10, "periodSeconds": 10}
    state = PodProbes.start(web(readinessProbe=probe), 0.0)
    state, due, _ = run_once(state, 0.0)
    state, due, _ = run_once(state, 9.9995)
    assert due == (0,)


def test_startup_gates_liveness_and_readiness_then_triggers_readiness() -> None:
    startup = {**HTTP, "periodSeconds": 1, "failureThreshold": 30}
    state = PodProbes.start(web(startupProbe=startup, readinessProbe=HTTP, livenessProbe=HTTP), 0.0)
    kinds = [w.spec.type for w in state.workers]
    state, due, _ = run_once(state, 0.0, "failure")
    assert [kinds[i] for i in due] == ["startup"]  # the others wait for the container to start
    state, due, _ = run_once(state, 1.0, "failure")
    assert [kinds[i] for i in due] == ["startup"]
    state, due, _ = run_once(state, 2.0, "success")
    assert [kinds[i] for i in due] == ["startup"]
    assert state.started("web") and not state.ready
    ready_i = kinds.index("readiness")
    assert state.workers[ready_i].next_at == 2.0  # triggered at once
    state, due, _ = run_once(state, 2.0, "success")
    assert [kinds[i] for i in due] == ["readiness"] and state.ready
    assert state.workers[ready_i].next_at == 12.0  # its ticker restarted from the trigger
    # the startup probe never runs again for this container; liveness keeps its own ticker
    state, due, _ = run_once(state, 10.0, "success")
    assert [kinds[i] for i in due] == ["liveness"]


def test_startup_failure_threshold_restarts_the_container() -> None:
    startup = {**HTTP, "periodSeconds": 1, "failureThreshold": 2}
    state = PodProbes.start(web(startupProbe=startup, readinessProbe=HTTP), 0.0)
    state, _, events = run_once(state, 0.0, "failure")
    assert events == ()
    state, _, events = run_once(state, 1.0, "failure")
    assert events == (Restart("web", "startup"),)
    state, due, _ = run_once(state, 2.0, "failure")
    assert due == ()  # on hold until a new container


def test_liveness_failure_threshold_restart_and_the_new_container() -> None:
    live = {**HTTP, "periodSeconds": 1, "failureThreshold": 3, "initialDelaySeconds": 2}
    state = PodProbes.start(web(livenessProbe=live, readinessProbe={**HTTP, "periodSeconds": 1}),
                            0.0, "2025-01-01T00:00:00Z")
    events: tuple[Restart, ...] = ()
    t = 0.0
    while not events:
        state, _, events = run_once(state, t, "failure")
        t += 1.0
    assert events == (Restart("web", "liveness"),)
    assert t - 1.0 == 4.0  # probed at 2, 3, 4: the third failure in a row
    state = state.stopped("CrashLoopBackOff")
    st = state.status()
    assert not st.ready and st.containers[0].waiting_reason == "CrashLoopBackOff"
    assert state.tick(5.0)[1] == ()
    state = state.restarted(6.0, "2025-01-01T00:00:06Z", ["web"])
    assert state.restart_count("web") == 1
    assert {w.spec.type: w.result for w in state.workers} == {
        "liveness": "success", "readiness": "failure"}
    assert not state.ready
    # the initial delay counts from the new container's start
    state, due, _ = run_once(state, 7.0, "success")
    assert [state.workers[i].spec.type for i in due] == ["readiness"]
    state, due, _ = run_once(state, 8.0, "success")
    assert sorted(state.workers[i].spec.type for i in due) == ["liveness", "readiness"]
    assert state.ready and state.status().restarts == 1


def test_a_tick_during_a_running_probe_is_kept_for_when_it_ends() -> None:
    state = PodProbes.start(web(readinessProbe={**HTTP, "periodSeconds": 1}), 0.0)
    state, due = state.tick(0.0)
    assert due == (0,)
    state, due = state.tick(1.0, busy=[0])
    assert due == () and state.workers[0].pending
    state, _ = state.observe(0, "success", 1.5)
    state, due = state.tick(1.5)
    assert due == (0,) and state.workers[0].next_at == 2.0


def test_restart_back_off() -> None:
    assert [probes.restart_delay(n) for n in range(0, 8)] == [
        0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


# ------------------------------------------------------------------------------------ the status


APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
"""


@pytest.fixture()
def state() -> ClusterState:
    return admit(parse_text(APP, "app.yaml"), DEFAULT).state


def _web_pods(state: ClusterState) -> list[Pod]:
    return sorted((p for p in state.pods("default") if p.metadata.name.startswith("web-")),
                  key=lambda p: p.metadata.name)


def _ready_endpoints(state: ClusterState) -> dict[str, bool]:
    out = {}
    for sl in state.endpoint_slices("default", "web"):
        for ep in sl.endpoints:
            assert ep.target_ref is not None
            out[ep.target_ref.name] = bool(ep.conditions.ready) and bool(ep.conditions.serving)
    return out


def test_the_model_keeps_pods_ready(state: ClusterState) -> None:
    assert all(p.ready for p in _web_pods(state))
    assert all(_ready_endpoints(state).values())


def test_apply_status_writes_conditions_container_statuses_and_endpoints(
        state: ClusterState) -> None:
    a, b = _web_pods(state)
    key = f"default/{a.metadata.name}"
    machine = PodProbes.start(a, 0.0, "2025-01-01T00:00:00Z")
    unready = machine.status()
    new = probes.apply_status(state, {key: unready}, "2025-01-01T00:00:01Z")
    pod = new.pod("default", a.metadata.name)
    assert pod is not None and not pod.ready
    cond = pod.condition("Ready")
    assert cond is not None and cond.reason == "ContainersNotReady"
    assert cond.message == "containers with unready status: [web]"
    assert cond.extra["lastTransitionTime"] == "2025-01-01T00:00:01Z"
    ready_c = pod.condition("ContainersReady")
    assert ready_c is not None and ready_c.status == "False"
    (cs,) = pod.status.to_dict()["containerStatuses"]
    assert cs == {"name": "web", "image": "nginx", "ready": False, "restartCount": 0,
                  "started": True, "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}
    assert _ready_endpoints(new) == {a.metadata.name: False, b.metadata.name: True}
    # the other pod and the Service are the very same objects
    assert new.pod("default", b.metadata.name) is b
    # nothing changes: the same state back
    assert probes.apply_status(new, {key: unready}, "2025-01-01T00:00:09Z") is new
    # ready again, with a restart counted
    machine, _, _ = run_once(machine.restarted(5.0, "2025-01-01T00:00:05Z", ["web"]), 6.0)
    back = probes.apply_status(new, {key: machine.status()}, "2025-01-01T00:00:06Z")
    pod2 = back.pod("default", a.metadata.name)
    assert pod2 is not None and pod2.ready and probes.restart_count(pod2) == 1
    assert all(_ready_endpoints(back).values())


@pytest.mark.parametrize(("waiting", "code", "state_"), [
    ("", 137, {"terminated": {"exitCode": 137, "reason": "Error"}}),  # killed by liveness
    ("", 0, {"terminated": {"exitCode": 0, "reason": "Completed"}}),  # ended, not restarted
    ("", 3, {"terminated": {"exitCode": 3, "reason": "Error"}}),
    ("CrashLoopBackOff", 3, {"waiting": {"reason": "CrashLoopBackOff"}}),
])
def test_a_stopped_container_reports_how_it_ended(state: ClusterState, waiting: str, code: int,
                                                  state_: dict[str, Any]) -> None:
    a = _web_pods(state)[0]
    stopped = PodProbes.start(a, 0.0).stopped(waiting, code)
    new = probes.apply_status(state, {f"default/{a.metadata.name}": stopped.status()}, "t")
    pod = new.pod("default", a.metadata.name)
    assert pod is not None and not pod.ready
    (cs,) = pod.status.to_dict()["containerStatuses"]
    assert cs["state"] == state_ and cs["ready"] is False


def test_forget_status_gives_the_model_its_pods_back(state: ClusterState) -> None:
    a = _web_pods(state)[0]
    key = f"default/{a.metadata.name}"
    unready = probes.apply_status(state, {key: PodProbes.start(a, 0.0).status()}, "t")
    back = probes.forget_status(unready, [key, "default/gone"])
    pod = back.pod("default", a.metadata.name)
    assert pod is not None and pod.ready and "containerStatuses" not in pod.status.to_dict()
    assert all(_ready_endpoints(back).values())
    assert probes.forget_status(back, [key]) is back


def test_apply_status_leaves_unknown_pods_and_the_model_alone(state: ClusterState) -> None:
    assert probes.apply_status(state, {}, "t") is state
    st = probes.PodProbeStatus((probes.ContainerStatus("web", False, True),))
    assert probes.apply_status(state, {"default/nope": st}, "t") is state


def test_publish_not_ready_addresses_keeps_the_endpoint_ready(state: ClusterState) -> None:
    extra = parse_text(APP.split("---")[1].replace("name: web, namespace", "name: all, namespace")
                       .replace("spec:\n", "spec:\n  publishNotReadyAddresses: true\n"), "svc.yaml")
    s = admit(extra, DEFAULT, previous=state, keep=[state.objects[r] for r in state.applied]).state
    a = _web_pods(s)[0]
    new = probes.apply_status(s, {f"default/{a.metadata.name}": PodProbes.start(a, 0).status()},
                              "t")
    eps = {ep.target_ref.name: ep.conditions for sl in new.endpoint_slices("default", "all")
           for ep in sl.endpoints if ep.target_ref is not None}
    assert eps[a.metadata.name].ready is True and eps[a.metadata.name].serving is False


# ------------------------------------------------------------------------------------ the I/O shell
# (on loopback, without namespaces: podnet.linux.prober's checks and its scheduling)


import asyncio  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

from podnet.linux import netns as linux_netns  # noqa: E402
from podnet.linux import prober as shell  # noqa: E402
from podnet.servers import podserver  # noqa: E402


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sockets "in a namespace" are plain sockets here (tests without root, on 127.0.0.1)."""
    def plain(_ns: str, family: int = socket.AF_INET, type_: int = socket.SOCK_STREAM,
              proto: int = 0) -> socket.socket:
        return socket.socket(family, type_, proto)

    monkeypatch.setattr(linux_netns, "socket_in", plain)


async def _serve(handler: Any) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _responder(routes: dict[str, bytes], seen: list[bytes]) -> Any:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        seen.append(head)
        path = head.split(b" ", 2)[1].decode()
        if path == "/slow":
            await asyncio.sleep(5)
        w.write(routes.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        await w.drain()
        w.close()
    return handle


def test_http_probe_statuses_redirects_headers_and_timeouts(loopback: None) -> None:
    async def main() -> None:
        seen: list[bytes] = []
        routes = {
            "/ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "/bad": b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
            "/here": b"HTTP/1.1 302 Found\r\nLocation: /bad\r\nContent-Length: 0\r\n\r\n",
            "/away": b"HTTP/1.1 301 Moved\r\nLocation: http://10.9.9.9/x\r\n\r\n",
            "/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        }
        server, port = await _serve(_responder(routes, seen))
        async with server:
            def check(path: str, headers: tuple[tuple[str, str], ...] = ()) -> HTTPGetCheck:
                return HTTPGetCheck("http", "127.0.0.1", port, path,
                                    probes._headers([{"name": n, "value": v}
                                                     for n, v in headers]))

            assert await shell.http_probe(check("/ok", (("Host", "shop.test"),)), "ns", 1) \
                == ("success", "")
            assert b"Host: shop.test\r\n" in seen[-1]
            assert b"User-Agent: kube-probe/1.34\r\n" in seen[-1]
            assert b"Accept: */*\r\n" in seen[-1]
            assert await shell.http_probe(check("/bad"), "ns", 1) == (
                "failure", "HTTP probe failed with statuscode: 503")
            # a redirect to the same host is followed (and its target decides)
            assert (await shell.http_probe(check("/here"), "ns", 1))[0] == "failure"
            assert seen[-1].startswith(b"GET /bad ")
            # a redirect elsewhere is not followed, and counts as success
            got = await shell.http_probe(check("/away"), "ns", 1)
            assert got[0] == "success" and "redirect" in got[1]
            assert await shell.http_probe(check("/continue"), "ns", 1) == ("success", "")
            slow = await shell.http_probe(check("/slow"), "ns", 0.2)
            assert slow[0] == "failure" and "context deadline exceeded" in slow[1]
        refused = await shell.http_probe(check("/ok"), "ns", 1)
        assert refused[0] == "failure" and "connect: connection refused" in refused[1]
        assert (await shell.tcp_probe("127.0.0.1", port, "ns", 1))[0] == "failure"
        named = HTTPGetCheck("http", "web.example", port, "/")
        assert (await shell.http_probe(named, "ns", 1))[0] == "error"  # no host resolver

    asyncio.run(main())


def test_tcp_probe_connects(loopback: None) -> None:
    async def main() -> None:
        server, port = await _serve(lambda r, w: w.close())
        async with server:
            assert await shell.tcp_probe("127.0.0.1", port, "ns", 1) == ("success", "")

    asyncio.run(main())


def test_the_prober_schedules_and_reports() -> None:
    """The shell around the machine: first probes settled at once, changes and restarts
    reported, results of a restarted process dropped."""
    clock = [0.0]
    script: dict[str, list[probes.Outcome]] = {"readiness": ["success", "failure"],
                                               "liveness": ["failure", "failure"]}

    async def fake(spec: probes.ProbeSpec, _host: shell.ProbeHost) -> tuple[str, str]:
        queue = script[spec.type]
        return (queue.pop(0) if queue else "success"), "scripted"

    async def main() -> None:
        changes: list[str] = []
        restarts: list[tuple[str, tuple[Restart, ...]]] = []
        said: list[str] = []
        p = shell.Prober(said.append, changes.append, lambda k, r: restarts.append((k, r)),
                         clock=lambda: clock[0], performer=fake)
        pod = web(readinessProbe={**HTTP, "periodSeconds": 1, "failureThreshold": 1},
                  livenessProbe={**HTTP, "periodSeconds": 1, "failureThreshold": 2})
        assert p.add(pod, shell.ProbeHost("default/p", "node", "pod"))
        assert not p.add(web(), shell.ProbeHost("default/q", "node", "pod"))
        status = p.status("default/p")
        assert status is not None and not status.ready
        await p.settle()
        status = p.status("default/p")
        assert status is not None and status.ready and changes == ["default/p"]
        clock[0] = 1.0
        await p.settle()
        status = p.status("default/p")
        assert status is not None and not status.ready
        assert restarts == [("default/p", (Restart("web", "liveness"),))]
        assert any("Liveness probe of web failed: scripted" in line for line in said)
        assert any("not ready" in line for line in said)
        p.stopped("default/p", "CrashLoopBackOff")
        clock[0] = 2.0
        await p.settle()  # nothing runs while stopped
        p.restarted("default/p", ["web"])
        status = p.status("default/p")
        assert status is not None and not status.ready and status.restarts == 1
        assert p.next_due() == 3.0  # the new container is probed on the next tick
        clock[0] = 3.0
        await p.settle()
        status = p.status("default/p")
        assert status is not None and status.ready
        runner = asyncio.create_task(p.run())
        await asyncio.sleep(0.05)
        runner.cancel()
        await p.close()
        assert p.statuses() == {}

    asyncio.run(main())


def test_the_built_in_server_health_overrides(tmp_path: Path) -> None:
    ident = podserver.PodIdentity("default", "p", "10.244.1.5", "n1", "p", "ns",
                                  state_dir=str(tmp_path))
    assert podserver.read_override(ident, "/readyz") is None
    (tmp_path / "readyz").write_text("503\n")
    (tmp_path / "livez").write_text("not a code")
    assert podserver.read_override(ident, "/readyz?verbose") == 503
    assert podserver.read_override(ident, "/livez") is None
    assert podserver.read_override(ident, "/other") is None
    status, _, body = podserver.http_answer(ident, 8080, "GET", "/readyz", [], ("1.2.3.4", 1),
                                            override=503)
    assert status == 503 and body == b"503 Service Unavailable\n"
    status, _, _ = podserver.http_answer(ident, 8080, "GET", "/readyz", [], ("1.2.3.4", 1))
    assert status == 200


@pytest.mark.parametrize(("policy", "code", "restarts", "want"), [
    ("", 137, 0, (True, 0.0, "Always", "")),            # a probe kill, first time: at once
    ("Always", 0, 2, (True, 20.0, "Always", "CrashLoopBackOff")),
    ("OnFailure", 3, 1, (True, 10.0, "OnFailure", "CrashLoopBackOff")),
    ("OnFailure", 0, 0, (False, 0.0, "OnFailure", "")),  # a success: done
    ("Never", 137, 0, (False, 0.0, "Never", "")),
])
def test_restart_decision_follows_the_restart_policy(policy: str, code: int, restarts: int,
                                                     want: tuple[bool, float, str, str]) -> None:
    pod = web()
    if policy:
        pod = Pod.from_dict({**pod.to_dict(), "spec": {**pod.to_dict()["spec"],
                                                       "restartPolicy": policy}})
    d = probes.restart_decision(pod, code, restarts)
    assert (d.restart, d.delay, d.policy, d.waiting_reason) == want


def test_as_kubelet_reports_gives_unprobed_pods_their_initial_report(state: ClusterState) -> None:
    """A pod the prober knows keeps its report; one it does not know yet (just applied) is
    reported as kubelet does before its first probe: not ready (it has a readinessProbe)."""
    a, b = _web_pods(state)
    ready = run_once(PodProbes.start(a, 0.0), 1.0)[0].status()
    assert ready.ready
    view = probes.as_kubelet_reports(state, {a.qualified_name: ready}, "t")
    assert _ready_endpoints(view) == {a.metadata.name: True, b.metadata.name: False}
