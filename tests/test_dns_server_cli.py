"""``podnet dns serve`` as a process: the listening line, HTTP endpoints, following a stored
cluster, clean exit on SIGTERM/SIGINT. Loopback only; what the server forwards (kubeadm's
Corefile has ``loop``, whose probe goes out through ``forward``) goes to a stub upstream the
test runs, never the host's resolver.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import dns.message
import dns.query
import dns.rcode
import pytest

import podnet
from podnet.dns.corefile import kubeadm_corefile
from test_dns_server_support import EXAMPLE, StubUpstream, rdatas

SRC = str(Path(podnet.__file__).resolve().parents[1])


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PODNET_HOME"] = str(home)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _podnet(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "podnet.cli.main", *args], env=_env(home),
                          capture_output=True, text=True, timeout=120)


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    first_line: str
    out: _Lines
    err: _Lines

    @property
    def http(self) -> dict[str, int]:
        """The HTTP endpoints announced on stderr (before the listening line)."""
        found: dict[str, int] = {}
        with self.err.cond:
            for line in self.err.lines:
                hm = re.fullmatch(r"(prometheus|health|ready) on 127\.0\.0\.1:(\d+)\n", line)
                if hm:
                    found[hm.group(1)] = int(hm.group(2))
        return found

    def http_port(self, kind: str) -> int:
        m = self.err.wait_for(rf"{kind} on 127\.0\.0\.1:(\d+)\n", 10)
        assert m, f"no {kind} endpoint announced"
        return int(m.group(1))

    def ask(self, name: str, rdtype: str = "A") -> dns.message.Message:
        return dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=self.port,
                             timeout=2)


class _Lines:
    """Lines of a stream, read by a thread (select on a buffered pipe misses lines)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str] | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = re.fullmatch(pattern, line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


def _serve(args: list[str], home: Path) -> Served:
    proc = subprocess.Popen([sys.executable, "-m", "podnet.cli.main", "dns", "serve", *args],
                            env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Lines(proc.stdout), _Lines(proc.stderr)
    m = out.wait_for(r"listening on 127\.0\.0\.1:(\d+)\n", 60)
    if m is None:
        proc.kill()
        raise AssertionError(f"no listening line; stderr: {''.join(err.lines)}")
    assert out.lines[0] == m.group(0)
    return Served(proc, int(m.group(1)), m.group(0), out, err)


def kubeadm_with_upstream(tmp: Path, upstream: str) -> Path:
    """kubeadm's Corefile (the cluster's ConfigMap) with ``forward`` pointed at ``upstream``."""
    text = kubeadm_corefile()
    assert "forward . /etc/resolv.conf" in text
    path = tmp / "Corefile"
    path.write_text(text.replace("forward . /etc/resolv.conf", f"forward . {upstream}"))
    return path


def _stop(s: Served, sig: int = signal.SIGTERM) -> int:
    s.proc.send_signal(sig)
    try:
        return s.proc.wait(10)
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


@pytest.fixture()
def stored(tmp_path: Path) -> Iterator[Path]:
    """A stored cluster made from the example, with a resolv.conf of the test's own."""
    home = tmp_path / "home"
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    cfg = tmp_path / "cluster.yaml"
    cfg.write_text("apiVersion: podnet.io/v1alpha1\nkind: Cluster\nname: dnstest\n"
                   f"kubelet:\n  resolvConf: {resolv}\n")
    r = _podnet("apply", "-f", str(EXAMPLE), "--config", str(cfg), "--cluster", "dnstest", home=home)
    assert r.returncode == 0, r.stderr
    yield home


def test_serve_stored_cluster_follows_changes(stored: Path, tmp_path: Path) -> None:
    up = StubUpstream().__enter__()
    corefile = kubeadm_with_upstream(tmp_path, up.addr)
    s = _serve(["--cluster", "dnstest", "--corefile", str(corefile), "--listen", "127.0.0.1:0",
                "--prometheus-listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:0",
                "--ready-listen", "127.0.0.1:0"], stored)
    try:
        assert s.ask("api.shop.svc.cluster.local.").rcode() == dns.rcode.NOERROR
        q = "late.shop.svc.cluster.local."
        assert s.ask(q).rcode() == dns.rcode.NXDOMAIN
        extra = tmp_path / "late.yaml"
        extra.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: late, namespace: shop}\n"
                         "spec:\n  selector: {app: api}\n  ports: [{port: 80}]\n")
        r = _podnet("apply", "-f", str(extra), "--cluster", "dnstest", home=stored)
        assert r.returncode == 0, r.stderr
        applied = time.monotonic()
        while True:
            reply = s.ask(q)
            if reply.rcode() == dns.rcode.NOERROR:
                break
            assert time.monotonic() - applied < 5, "the new Service was never answered"
            time.sleep(0.02)
        assert time.monotonic() - applied < 1.0
        got = _podnet("get", "svc", "late", "-n", "shop", "-o", "json", "--cluster", "dnstest",
                      home=stored)
        assert '"clusterIP": "' + rdatas(reply)[0] + '"' in got.stdout
        # endpoints
        for kind in ("health", "ready"):
            body = urllib.request.urlopen(f"http://127.0.0.1:{s.http_port(kind)}/{kind}", timeout=3).read()
            assert body == b"OK"
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{s.http_port('prometheus')}/metrics",
                                         timeout=3).read().decode()
        assert "coredns_dns_requests_total{" in metrics
        assert "podnet_dns_zone_reloads_total 1" in metrics
    finally:
        code = _stop(s)
        up.__exit__()
    assert code == 0


def test_serve_manifests_prints_one_line_and_exits_on_sigint(tmp_path: Path) -> None:
    with StubUpstream() as up:
        corefile = kubeadm_with_upstream(tmp_path, up.addr)
        s = _serve(["-f", str(EXAMPLE), "--corefile", str(corefile), "--listen", "127.0.0.1:0",
                    "--prometheus-listen", "off", "--health-listen", "off", "--ready-listen", "off"],
                   tmp_path / "home")
        try:
            r = s.ask("web.frontend.svc.cluster.local.")
            assert r.rcode() == dns.rcode.NOERROR
            time.sleep(0.2)
            assert s.http == {}
            # kubeadm's Corefile has loop: its probe, HINFO <random>.<random>., went out once
            deadline = time.monotonic() + 5
            while not up.queries("HINFO"):
                assert time.monotonic() < deadline, "no loop probe reached the upstream"
                time.sleep(0.05)
            probes = up.queries("HINFO")
            assert len(probes) == 1 and re.fullmatch(r"\d+\.\d+\.", probes[0]), probes
        finally:
            code = _stop(s, signal.SIGINT)
    assert code == 0
    s.out.thread.join(5)
    assert [line for line in s.out.lines if line.startswith("listening on")] == [s.first_line]


def test_serve_with_corefile_and_server_ip(tmp_path: Path) -> None:
    from test_dns_server_support import example_state

    state = example_state()
    coredns_pod = next(p for p in state.pods("kube-system") if p.metadata.name.startswith("coredns-"))
    kube_dns = state.service("kube-system", "kube-dns")
    assert kube_dns is not None
    corefile = tmp_path / "Corefile"
    corefile.write_text(".:1053 {\n    kubernetes cluster.local\n}\n")
    # an address that is no endpoint: ns.dns.<zone> with that address as glue
    s = _serve(["-f", str(EXAMPLE), "--corefile", str(corefile), "--listen", "127.0.0.1:0",
                "--server-ip", "192.0.2.53"], tmp_path / "home")
    try:
        r = s.ask("cluster.local.", "NS")
        assert rdatas(r) == ["ns.dns.cluster.local."]
        assert rdatas(r, "additional") == ["192.0.2.53"]
    finally:
        assert _stop(s) == 0
    # CoreDNS's own pod IP: the kube-dns Service that selects it, with its ClusterIP as glue
    s = _serve(["-f", str(EXAMPLE), "--corefile", str(corefile), "--listen", "127.0.0.1:0",
                "--server-ip", coredns_pod.status.pod_ip], tmp_path / "home")
    try:
        r = s.ask("cluster.local.", "NS")
        assert rdatas(r) == ["kube-dns.kube-system.svc.cluster.local."]
        assert rdatas(r, "additional") == [kube_dns.spec.cluster_ip]
    finally:
        assert _stop(s) == 0


def test_serve_unknown_plugin_is_a_clear_error(tmp_path: Path) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(".:53 {\n    kubernetes cluster.local\n    frobnicate\n}\n")
    r = _podnet("dns", "serve", "-f", str(EXAMPLE), "--corefile", str(corefile), "--listen",
                "127.0.0.1:0", home=tmp_path)
    assert r.returncode == 1
    assert "Unknown directive 'frobnicate'" in r.stderr
    assert ":3" in r.stderr


def test_serve_workers_share_the_port_and_metrics(tmp_path: Path) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(".:53 {\n    kubernetes cluster.local\n    prometheus :9153\n}\n")
    s = _serve(["-f", str(EXAMPLE), "--corefile", str(corefile), "--listen", "127.0.0.1:0",
                "--workers", "2", "--prometheus-listen", "127.0.0.1:0"], tmp_path / "home")
    try:
        n = 40
        for _ in range(n):  # a new client port each time: the kernel spreads them over workers
            assert s.ask("web.frontend.svc.cluster.local.").rcode() == dns.rcode.NOERROR
        # the other worker reports its counters every second
        deadline = time.monotonic() + 10
        while True:
            text = urllib.request.urlopen(f"http://127.0.0.1:{s.http_port('prometheus')}/metrics",
                                          timeout=3).read().decode()
            m = re.search(r'coredns_dns_requests_total\{family="1",proto="udp",server="[^"]+",'
                          r'type="A",view="",zone="\."\} (\d+)', text)
            if m and int(m.group(1)) == n:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
    finally:
        code = _stop(s)
    assert code == 0


def test_serve_reload_plugin_follows_the_corefile(tmp_path: Path) -> None:
    corefile = tmp_path / "Corefile"
    corefile.write_text(".:53 {\n    kubernetes cluster.local {\n        ttl 30\n    }\n    reload 2s\n}\n")
    s = _serve(["-f", str(EXAMPLE), "--corefile", str(corefile), "--listen", "127.0.0.1:0"],
               tmp_path / "home")
    try:
        assert s.ask("web.frontend.svc.cluster.local.").answer[0].ttl == 30
        corefile.write_text(".:53 {\n    kubernetes cluster.local {\n        ttl 7\n    }\n    reload 2s\n}\n")
        deadline = time.monotonic() + 15
        while s.ask("web.frontend.svc.cluster.local.").answer[0].ttl != 7:
            assert time.monotonic() < deadline, f"the new Corefile was never used: {s.err.lines}"
            time.sleep(0.05)
    finally:
        assert _stop(s) == 0
