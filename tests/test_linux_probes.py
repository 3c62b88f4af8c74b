"""Probes in the real data plane: kubelet's readiness, liveness and startup probes run for real
against real pods, and an unready pod leaves its Services' endpoints for real.

Probe failures are staged without running anything in the pods: the built-in server answers
``/readyz`` and ``/livez`` with the status code written in a file of that name in the pod's
directory, and an exec probe tests for a file there (``$PODNET_POD_DIR``). Periods are one
second. The polling reads the stored cluster and runtime.json in-process, and traffic is sent
with one ``ip netns exec`` per batch: each ``podnet`` command costs a Python start-up; the
commands a user types (get, describe, logs, status) are each checked once.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_linux_cli import Cli, cli  # noqa: F401
from test_linux_support import until

pytestmark = pytest.mark.root

WEB = """
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
        image: podnet/server
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /readyz, port: http}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec:
  containers: [{name: c, image: curl}]
"""

LIVE = """
apiVersion: v1
kind: Pod
metadata: {name: live, namespace: default, labels: {app: live}}
spec:
  containers:
  - name: app
    image: podnet/server
    ports: [{name: http, containerPort: 8080}]
    startupProbe:
      tcpSocket: {port: http}
      periodSeconds: 1
    livenessProbe:
      httpGet: {path: /livez, port: 8080}
      periodSeconds: 1
      failureThreshold: 2
    readinessProbe:
      exec: {command: [sh, -c, "test ! -e notready"]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: live, namespace: default}
spec:
  selector: {app: live}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata:
  name: cmd
  namespace: default
  annotations:
    podnet.io/command: "exec python3 -m http.server 9000"
spec:
  containers:
  - name: srv
    image: python
    ports: [{containerPort: 9000}]
    livenessProbe:
      exec: {command: [sh, -c, "test ! -e dead"]}
      periodSeconds: 1
      failureThreshold: 1
"""




def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli.run(*args, "-o", "json").stdout)


@pytest.fixture
def home(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:  # noqa: F811
    """``cli``, with this process reading the same PODNET_HOME."""
    monkeypatch.setenv("PODNET_HOME", cli.env["PODNET_HOME"])
    return cli


def _pod_dir(cli: Cli, key: str) -> Path:
    return Path(cli.env["PODNET_HOME"]) / cli.cluster / "pods" / key.replace("/", "_")


def _pod(cli: Cli, name: str) -> dict[str, Any]:
    from podnet.cli import store

    stored = store.load_stored(cli.cluster)
    assert stored is not None
    pod = stored.state.pod("default", name)
    assert pod is not None
    return pod.to_dict()


def _restarts(cli: Cli, name: str) -> int:
    return int(_pod(cli, name)["status"].get("containerStatuses", [{}])[0].get("restartCount", 0))


def _runtime(cli: Cli) -> dict[str, Any]:
    from podnet.linux import processes

    return processes.read_runtime(cli.cluster) or {}


def _endpoints(cli: Cli, service: str) -> dict[str, dict[str, Any]]:
    """pod name → endpoint conditions, from the stored EndpointSlices."""
    from podnet.cli import store

    stored = store.load_stored(cli.cluster)
    assert stored is not None
    return {ep.target_ref.name: ep.conditions.to_dict()
            for sl in stored.state.endpoint_slices("default", service)
            for ep in sl.endpoints if ep.target_ref is not None}


def _reached(cli: Cli, ip: str, n: int = 16) -> set[str]:
    """The pods that answer ``n`` real connections from the client pod to ``ip``."""
    from podnet.linux import names

    script = (f"for i in $(seq {n}); do curl -s -m 2 http://{ip}/hostname; echo; done")
    r = subprocess.run(["ip", "netns", "exec", names.pod_ns(cli.cluster, "default", "client"),
                        "sh", "-c", script], capture_output=True, text=True, check=False,
                       timeout=60)
    return {line.strip() for line in r.stdout.splitlines() if line.strip()}


def test_an_unready_pod_leaves_its_service_for_real(home: Cli, tmp_path: Path) -> None:
    cli = home
    f = tmp_path / "web.yaml"
    f.write_text(WEB)
    cli.run("up", "-d", "-f", str(f))
    pods = sorted(p["metadata"]["name"]
                  for p in _json(cli, "get", "pods", "-l", "app=web")["items"])
    assert len(pods) == 2
    a, b = pods
    ip = _json(cli, "get", "service", "web")["spec"]["clusterIP"]

    # both ready after their first probe, both reached through the ClusterIP
    eps = _endpoints(cli, "web")
    assert all(c["ready"] and c["serving"] for c in eps.values()), eps
    assert until(lambda: _reached(cli, ip) == {a, b}), "both pods should answer"

    # /readyz of pod a now answers 503: it leaves the endpoints, the traffic goes to b alone
    (_pod_dir(cli, f"default/{a}") / "readyz").write_text("503\n")
    assert until(lambda: _endpoints(cli, "web")[a]["ready"] is False)
    slices = _json(cli, "get", "endpointslices", "-l", "kubernetes.io/service-name=web")
    eps = {ep["targetRef"]["name"]: ep["conditions"]
           for sl in slices["items"] for ep in sl.get("endpoints") or []}
    assert eps[a] == {"ready": False, "serving": False, "terminating": False}
    assert eps[b]["ready"] is True
    assert until(lambda: _reached(cli, ip) == {b})
    assert _reached(cli, ip, 24) == {b}
    pod_a = _json(cli, "get", "pod", a)
    ready = next(c for c in pod_a["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert pod_a["status"]["containerStatuses"][0]["ready"] is False
    table = cli.run("get", "pods").stdout
    assert any(line.startswith(a) and " 0/1 " in line for line in table.splitlines()), table
    described = cli.run("describe", "service", "web").stdout
    endpoints_line = next(line for line in described.splitlines() if line.startswith("Endpoints:"))
    assert pod_a["status"]["podIP"] not in endpoints_line, described
    assert "not ready" in cli.run("logs").stdout

    # it recovers: back in the endpoints, reached again
    (_pod_dir(cli, f"default/{a}") / "readyz").unlink()
    assert until(lambda: _endpoints(cli, "web")[a]["ready"] is True)
    assert until(lambda: _reached(cli, ip) == {a, b})
    assert until(lambda: _runtime(cli)["probes"]["not_ready"] == [])
    st = _json(cli, "status")
    assert st["runtime"]["probes"]["probed"] >= 2


def test_liveness_restarts_startup_gates_exec_judges(home: Cli, tmp_path: Path) -> None:
    cli = home
    f = tmp_path / "live.yaml"
    f.write_text(LIVE)
    cli.run("up", "-d", "-f", str(f))
    live = _pod_dir(cli, "default/live")
    cmd = _pod_dir(cli, "default/cmd")
    assert live.is_dir() and cmd.is_dir()

    def live_ready() -> bool:
        return bool(_endpoints(cli, "live").get("live", {}).get("ready"))

    # startup (tcpSocket) passed, then the exec readiness probe: ready
    assert until(live_ready)
    pod = _pod(cli, "live")
    assert pod["status"]["containerStatuses"][0]["started"] is True

    # exec readiness: the file in the pod's directory makes it fail
    (live / "notready").write_text("")
    assert until(lambda: not live_ready())
    (live / "notready").unlink()
    assert until(live_ready)

    # liveness: /livez answers 500 twice in a row → the built-in server is restarted
    (live / "livez").write_text("500")
    assert until(lambda: _restarts(cli, "live") >= 1)
    (live / "livez").unlink()
    assert until(live_ready)
    row = next(line for line in cli.run("get", "pods").stdout.splitlines()
               if line.startswith("live "))
    assert row.split()[3] != "0", row  # RESTARTS
    logs = cli.run("logs").stdout
    assert "container app failed its liveness probe: restarting" in logs
    assert "Liveness probe of app failed: HTTP probe failed with statuscode: 500" in logs

    # a podnet.io/command pod: its exec liveness probe fails → the command runs again
    pid = _runtime(cli)["commands"]["default/cmd"]
    (cmd / "dead").write_text("")
    assert until(lambda: _runtime(cli)["commands"]["default/cmd"] != pid)
    (cmd / "dead").unlink()
    assert until(lambda: _restarts(cli, "cmd") == 1)
    assert "1" in cli.run("describe", "pod", "cmd").stdout.split("Restart Count:")[1].split()[0]

    cli.run("down")
    assert not live.exists() and not cmd.exists()
    # no kubelet any more: the stored pods are the model's again
    pod = _pod(cli, "live")
    assert "containerStatuses" not in pod["status"]
    assert all(c["status"] == "True" for c in pod["status"]["conditions"])
