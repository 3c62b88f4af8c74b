"""The model and the real network agree (issue 7's differential test).

For examples/shop under flannel, calico and cilium (also with kube-proxy replacement, whose
Services the model translates at connect()), every flow below is first predicted by
``podnet trace`` (the pure model: DNS, kube-proxy, NetworkPolicy as the plugin enforces it,
the plugin's path) and then tried for real from inside the source namespace with curl — real DNS
through CoreDNS, real kube-proxy rules, real policy rules. The flows: from four workloads to
every Service by DNS name and by ClusterIP, to every pod by its address (each declared TCP
port), and from outside to every NodePort of every node and every LoadBalancer address. Two
NodePorts are added to the example for this test (``EXTRA``), in front of pods whose ingress
policies judge the client's address: outside → a node hosting a backend is judged against the
client (the node's forward hook runs before postrouting's masquerade), outside → another node
against that node's address.

What is compared is the connection's fate — delivered (the handshake completes), rejected (a
reset) or dropped (a timeout) — and, where the far end answers ``/hostname``, *which* pod it was.
A Service picks a backend at random, and backends may get different verdicts (a pod reaching a
Service it backs itself is let through on the way to itself — upstream's netpol e2e suite
``AllowLoopback``s it — but not on the way to its siblings). So the model is asked once per
backend (``trace --seed`` until every candidate was picked), and the real outcome must be the
model's outcome for the backend the kernel picked: a delivered connection must name a backend
the model delivers to; a failed one must fail the way the model says one of the backends fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_linux_cli import EXAMPLE, Cli, cli  # noqa: F401
from test_linux_support import kernel_has

pytestmark = pytest.mark.root

SOURCES = ("frontend/deploy/web", "shop/deploy/worker", "shop/deploy/api",
           "ingress-nginx/deploy/ingress-nginx-controller")
TARGETS = ("api.shop:8080", "api.shop:9090", "web.frontend:80", "assets.frontend:80",
           "db-0.db.data:5432", "db.data:5432", "kubernetes.default:443")
EXTRA = """\
apiVersion: v1
kind: Service
metadata: {name: db-nodeport, namespace: data}
spec:
  type: NodePort
  selector: {app: db}
  ports: [{port: 5432, nodePort: 30432}]
---
apiVersion: v1
kind: Service
metadata: {name: api-nodeport, namespace: shop}
spec:
  type: NodePort
  selector: {app: api}
  ports: [{port: 8080, nodePort: 30808}]
"""
#: Run inside the source's namespace: ``n`` connections to ``host:port`` at once (so a Service's
#: random pick reaches every backend), each asking ``GET /hostname``. One JSON line per attempt:
#: the fate of the handshake and, when an HTTP server answered 200, the name it gave.
PROBE = r"""
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def one(_):
    try:
        addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except OSError as e:
        return {"fate": "unresolved", "error": str(e)}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.5)
    try:
        s.connect(addr)
    except ConnectionRefusedError:
        return {"fate": "rejected"}
    except OSError as e:
        return {"fate": "dropped" if isinstance(e, TimeoutError) else "error", "error": str(e)}
    out = {"fate": "delivered", "name": None}
    try:
        s.sendall(b"GET /hostname HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.") and head.split()[1] == b"200":
            out["name"] = body.decode(errors="replace").strip()
    except OSError:
        pass  # connected, but not an HTTP server answering /hostname (a DNS server on 53/TCP)
    finally:
        s.close()
    return out
with ThreadPoolExecutor(n) as pool:
    for r in pool.map(one, range(n)):
        print(json.dumps(r))
"""
#: connections per flow when the model names several backends: a backend the model delivers to
#: is missed by all of them with probability (1 - 1/3)^24 < 0.0001 for three equal backends
ATTEMPTS = 24


def _pod_of(keys: list[str], spec: str) -> str:
    ns, _, rest = spec.partition("/")
    name = rest.split("/", 1)[1]
    return sorted(k for k in keys if k.startswith(f"{ns}/{name}-"))[0]


@dataclass
class Flow:
    src: str
    target: str
    #: the model's trace per backend it may pick ("ns/pod", or the address of a node endpoint)
    by_backend: dict[str, Any]


def _backend_key(b: dict[str, Any] | None) -> str:
    if not b:
        return ""
    return str(b.get("pod") or b.get("ip") or "")


def _model(state: Any, src: str, target: str) -> Flow:
    """The trace of ``src → target`` for every backend it may reach."""
    from podnet.sim.trace import trace

    first = trace(state, src, target)
    by: dict[str, Any] = {_backend_key(first.backend): first}
    if first.dns is not None and len(first.dns.addresses) > 1:
        # a headless name: libc connects to any of the addresses DNS gave
        port = target.rpartition(":")[2]
        for addr in first.dns.addresses:
            t = trace(state, src, f"{addr}:{port}")
            by.setdefault(_backend_key(t.backend), t)
        return Flow(src, target, by)
    wanted = {_backend_key(c) for c in first.candidates}
    for seed in range(1, 256):
        if wanted <= set(by):
            break
        t = trace(state, src, target, seed=seed)
        by.setdefault(_backend_key(t.backend), t)
    assert wanted <= set(by), f"{src} -> {target}: seeds never picked {wanted - set(by)}"
    return Flow(src, target, by)


def _flows(state: Any, pods: list[str]) -> list[tuple[str, str]]:
    sources = [_pod_of(pods, s) for s in SOURCES]
    targets: list[str] = list(TARGETS)
    for svc in state.services():
        ips = [ip for ip in svc.spec.cluster_ips if ip and ip != "None"]
        targets += [f"{ip}:{p.port}" for ip in ips[:1] for p in svc.spec.ports
                    if (p.protocol or "TCP") == "TCP"]
    for pod in state.pods():
        if pod.spec.host_network or not pod.ips:
            continue
        targets += [f"{pod.ips[0]}:{port.container_port}" for c in pod.spec.containers
                    for port in c.ports if (port.protocol or "TCP") == "TCP"]
    flows = [(s, t) for s in sources for t in targets]
    for svc in state.services():
        tcp = [p for p in svc.spec.ports if (p.protocol or "TCP") == "TCP"]
        flows += [("outside", f"{n.internal_ips[0]}:{p.node_port}")
                  for n in state.nodes for p in tcp if p.node_port]
        flows += [("outside", f"{ing.ip}:{p.port}")
                  for ing in svc.status.load_balancer.ingress if ing.ip for p in tcp]
    return flows


KPR = """\
apiVersion: podnet.io/v1alpha1
kind: Cluster
plugin: {name: cilium, mode: vxlan, kubeProxyReplacement: true}
"""


@pytest.mark.parametrize("plugin", ["flannel:vxlan", "calico:vxlan", "cilium:vxlan",
                                    "cilium:vxlan+kpr"])
def test_trace_predicts_what_really_happens(cli: Cli, plugin: str,  # noqa: F811
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    if not kernel_has("vxlan"):
        pytest.skip("this kernel cannot create vxlan links")
    from podnet.cli import store
    from podnet.linux import names

    extra = tmp_path / "nodeports.yaml"
    extra.write_text(EXTRA)
    if plugin.endswith("+kpr"):  # Cilium without kube-proxy: Services translated at connect()
        (tmp_path / "kpr.yaml").write_text(KPR)
        cli.run("up", "-d", "-f", EXAMPLE, "-f", str(extra), "--config", str(tmp_path / "kpr.yaml"))
    else:
        cli.run("up", "-d", "-f", EXAMPLE, "-f", str(extra), "--plugin", plugin)
    monkeypatch.setenv("PODNET_HOME", cli.env["PODNET_HOME"])
    stored = store.load_stored(cli.cluster)
    assert stored is not None
    state = stored.state
    pods = sorted(json.loads(cli.run("status", "-o", "json").stdout)["runtime"]["pods"])
    cases = [_model(state, src, target) for src, target in _flows(state, pods)]

    def real(flow: Flow) -> list[dict[str, Any]]:
        # `ip netns exec` as `podnet exec` runs it (tested in test_linux_cli), without the CLI's
        # start-up time per flow
        ns = names.outside_ns(cli.cluster) if flow.src == "outside" else \
            names.pod_ns(cli.cluster, *flow.src.split("/", 1))
        host, _, port = flow.target.rpartition(":")
        n = ATTEMPTS if len(flow.by_backend) > 1 else 1
        p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, host, port,
                            str(n)], capture_output=True, text=True, check=True, timeout=30)
        return [json.loads(line) for line in p.stdout.splitlines()]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(real, cases))
    node_of_ip = {ip: n.metadata.name for n in state.nodes for ip in n.internal_ips}
    counts = {"delivered": 0, "other": 0, "hairpin": 0, "mixed": 0}
    mismatches = []
    for flow, attempts in zip(cases, results):
        verdicts = {k: t.verdict for k, t in flow.by_backend.items()}
        counts["hairpin"] += flow.src in verdicts and len(verdicts) > 1
        counts["mixed"] += len(set(verdicts.values())) > 1
        model = "; ".join(f"{k or '?'}: {t.verdict} ({t.reason})"
                          for k, t in sorted(flow.by_backend.items()))
        where = f"{flow.src} -> {flow.target}"
        fates = {a["fate"] for a in attempts}
        counts["delivered" if "delivered" in fates else "other"] += 1
        for fate in sorted(fates - set(verdicts.values())):
            errors = sorted({a.get("error", "") for a in attempts if a["fate"] == fate})
            mismatches.append(f"{where}: real {fate} {errors}, model {model}")
        if "delivered" in verdicts.values() and "delivered" not in fates:
            mismatches.append(f"{where}: none of {len(attempts)} connections got through, "
                              f"model {model}")
        for reached in sorted({a["name"] for a in attempts if a.get("name")}):
            # a pod answers with its name, a node-hosted endpoint (the API server) with the node's
            picked = [k for k in verdicts
                      if k.partition("/")[2] == reached or node_of_ip.get(k) == reached]
            if not picked:
                mismatches.append(f"{where}: reached {reached}, model backends: {model}")
            elif verdicts[picked[0]] != "delivered":
                mismatches.append(f"{where}: reached {reached}, which the model says is "
                                  f"{verdicts[picked[0]]}: {model}")
    assert mismatches == [], "\n".join(mismatches)
    assert counts["delivered"] > 0
    assert counts["hairpin"] > 0, counts  # the hairpin flows are part of the comparison
    if plugin != "flannel:vxlan":
        assert counts["other"] > 0  # the policies deny some of these flows for real
