"""Processes podnet starts, and the files that let a later command find them again.

Per cluster, under ``$PODNET_HOME/<cluster>/``:

* ``daemon.pid`` — the pid of the process holding the cluster up (``podnet up`` in the
  foreground, or the background daemon of ``podnet up -d``);
* ``runtime.json`` — what it built and serves (phase, plugin, nodes, pods and their namespaces,
  port-forwards, pod commands and their pids), rewritten atomically as it changes;
* ``logs/daemon.log`` and ``logs/pods/<ns>_<pod>.log``;
* ``pods/<ns>_<pod>/`` — each running pod's directory. podnet pods have no filesystem of their
  own (they share the host's, like a hostPath volume of ``/``); this folder stands in for a
  per-pod scratch volume: the working directory of the pod's command and of its exec probes
  (``$PODNET_POD_DIR``), where the built-in server also reads its health overrides. It lives
  as long as the pod (a restart keeps it, like an emptyDir) and goes with ``podnet down``.

A pod whose manifest carries the annotation ``podnet.io/command`` runs that command instead of
the built-in server: ``ip netns exec <pod netns> /bin/sh -c COMMAND``, in its own session, with
the pod's ``/etc/netns`` resolv.conf and hosts, its output in the pod's log. Stopping it sends
SIGTERM to its process group, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podnet.cli import store

PID_FILE = "daemon.pid"
RUNTIME_FILE = "runtime.json"
LOG_DIR = "logs"
POD_LOG_DIR = "pods"
PODS_DIR = "pods"
#: The environment variable naming a pod's directory, for its command and exec probes.
POD_DIR_ENV = "PODNET_POD_DIR"


def cluster_dir(cluster: str) -> Path:
    return store.cluster_dir(cluster)


def pid_path(cluster: str) -> Path:
    return cluster_dir(cluster) / PID_FILE


def runtime_path(cluster: str) -> Path:
    return cluster_dir(cluster) / RUNTIME_FILE


def log_dir(cluster: str) -> Path:
    return cluster_dir(cluster) / LOG_DIR


def pod_log_dir(cluster: str) -> Path:
    return log_dir(cluster) / POD_LOG_DIR


def pod_log_path(cluster: str, key: str) -> Path:
    return pod_log_dir(cluster) / (key.replace("/", "_") + ".log")


def daemon_log_path(cluster: str) -> Path:
    return log_dir(cluster) / "daemon.log"


def pods_dir(cluster: str) -> Path:
    return cluster_dir(cluster) / PODS_DIR


def pod_dir(cluster: str, key: str) -> Path:
    """The directory of pod ``NS/NAME`` (see the module doc)."""
    return pods_dir(cluster) / key.replace("/", "_")


def make_pod_dir(cluster: str, key: str) -> Path:
    path = pod_dir(cluster, key)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_pod_dir(cluster: str, key: str) -> None:
    shutil.rmtree(pod_dir(cluster, key), ignore_errors=True)


# ------------------------------------------------------------------------------ pid files


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> list[str]:
    """The argv of ``pid`` ([] when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [p.decode("utf-8", "replace") for p in f.read().split(b"\0") if p]
    except OSError:
        return []


def is_podnet(pid: int) -> bool:
    """Whether ``pid`` is a podnet process (its command line names podnet)."""
    return any("podnet" in part for part in cmdline(pid))


def read_pid(cluster: str) -> int | None:
    try:
        text = pid_path(cluster).read_text(encoding="ascii").strip()
        return int(text)
    except (OSError, ValueError):
        return None


def running_daemon(cluster: str) -> int | None:
    """The pid of the live podnet process holding ``cluster`` up, or None."""
    pid = read_pid(cluster)
    if pid is not None and pid != os.getpid() and alive(pid) and is_podnet(pid):
        return pid
    if pid is not None and pid == os.getpid():
        return pid
    return None


def write_pid(cluster: str, pid: int | None = None) -> None:
    store.write_atomic(pid_path(cluster), f"{pid or os.getpid()}\n")


def remove_runtime_files(cluster: str) -> list[str]:
    """The pid file, runtime.json and the pods' directories: what exists only while the cluster
    is up (the stored state and the logs stay)."""
    removed = []
    # faults.json: the faults (podnet fault) lived in the namespaces that go with the daemon
    for p in (pid_path(cluster), runtime_path(cluster), cluster_dir(cluster) / "faults.json"):
        try:
            p.unlink()
            removed.append(str(p))
        except FileNotFoundError:
            pass
    pods = pods_dir(cluster)
    if pods.is_dir():
        shutil.rmtree(pods, ignore_errors=True)
        removed.append(str(pods))
    return removed


def read_runtime(cluster: str) -> dict[str, Any] | None:
    try:
        data = json.loads(runtime_path(cluster).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_runtime(cluster: str, data: dict[str, Any]) -> None:
    store.write_atomic(runtime_path(cluster), json.dumps(data, indent=1, sort_keys=True) + "\n")


# ------------------------------------------------------------------------------ pod commands


@dataclass(slots=True)
class PodProcess:
    key: str
    netns: str
    command: str
    proc: subprocess.Popen[bytes]
    log: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None


def spawn_in_netns(netns: str, command: str, log_path: str, env: dict[str, str] | None = None,
                   key: str = "", cwd: str | None = None) -> PodProcess:
    """Start ``/bin/sh -c command`` inside ``netns`` (via ``ip netns exec``), output to
    ``log_path``, in a session of its own, in ``cwd`` (the pod's directory)."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    out = open(log_path, "ab", buffering=0)  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, close_fds=True, cwd=cwd,
        )
    finally:
        out.close()
    return PodProcess(key, netns, command, proc, log_path)


def stop(proc: PodProcess, grace: float = 2.0) -> None:
    if proc.proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.proc.wait(timeout=2)
