"""Dual stack for real: the IPv6 half of a dual-stack cluster under flannel (vxlan, host-gw).

The example is brought up with IPv4 and IPv6 pod and service networks, plus two Services that
ask for both families (``ipFamilyPolicy: PreferDualStack``). Then, for real and against the
model: every node's ``ip -6 route`` is the plan's; pods reach every other pod at its IPv6
address (same node and across nodes — through ``flannel-v6.1``, or host-gw routes via the nodes'
IPv6 addresses); a pod reaches a dual-stack Service by name over IPv6 (AAAA from CoreDNS, then
kube-proxy's ``ip6`` table); the outside reaches a dual-stack NodePort at every node's IPv6
address. ``podnet trace`` predicts each of those flows, and must predict what happened.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_linux_cli import EXAMPLE, Cli, cli  # noqa: F401
from test_linux_support import kernel_has

pytestmark = pytest.mark.root

DUAL = """\
apiVersion: podnet.io/v1alpha1
kind: Cluster
networking:
  podSubnet: "10.244.0.0/16,fd00:10:244::/56"
  serviceSubnet: "10.96.0.0/12,fd00:10:96::/112"
plugin: {{name: flannel, mode: {mode}}}
"""

SERVICES = """\
apiVersion: v1
kind: Service
metadata: {name: api6, namespace: shop}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {app: api}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web6, namespace: frontend}
spec:
  type: NodePort
  ipFamilyPolicy: PreferDualStack
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
"""


def _curl(cli: Cli, src: str, url: str) -> tuple[bool, str]:
    """From ``src`` (a pod key or ``outside``) over IPv6: did it connect, and the body."""
    from podnet.linux import names

    ns = names.outside_ns(cli.cluster) if src == "outside" else \
        names.pod_ns(cli.cluster, *src.split("/", 1))
    p = subprocess.run(["ip", "netns", "exec", ns, "curl", "-6", "-g", "-s", "-m", "2",
                        "-o", "-", "-w", "\n%{http_code}", url],
                       capture_output=True, text=True, check=False)
    body, _, code = p.stdout.rpartition("\n")
    return code == "200", body.strip()


def _v6_routes(ns: str) -> set[tuple[str, str, str]]:
    out = subprocess.run(["ip", "netns", "exec", ns, "ip", "-6", "-j", "route"],
                         capture_output=True, text=True, check=True).stdout
    return {(r["dst"], r.get("gateway", ""), r.get("dev", "")) for r in json.loads(out)
            if r.get("protocol") != "kernel"}


@pytest.mark.parametrize("mode", ["vxlan", "host-gw"])
def test_the_ipv6_half_is_real_and_as_the_model_says(cli: Cli, mode: str,  # noqa: F811
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "vxlan" and not kernel_has("vxlan"):
        pytest.skip("this kernel cannot create vxlan links")
    from podnet.cli import store
    from podnet.linux import names
    from podnet.plugins import build_plan
    from podnet.sim.trace import trace

    (tmp_path / "dual.yaml").write_text(DUAL.format(mode=mode))
    (tmp_path / "services.yaml").write_text(SERVICES)
    up = cli.run("up", "-d", "-f", EXAMPLE, "-f", str(tmp_path / "services.yaml"),
                 "--config", str(tmp_path / "dual.yaml"))
    assert "ipv6:    dual stack" in up.stdout
    assert json.loads(cli.run("status", "-o", "json").stdout)["runtime"]["families"] == \
        ["IPv4", "IPv6"]
    monkeypatch.setenv("PODNET_HOME", cli.env["PODNET_HOME"])
    stored = store.load_stored(cli.cluster)
    assert stored is not None
    state = stored.state
    plan = build_plan(state)
    assert plan.ipv6

    # the nodes' IPv6 routes are the plan's (the ones the kernel does not add by itself)
    for node in plan.nodes:
        want = {(str(r.network) if r.dst != "default" else "default", r.via or "", r.dev or "")
                for r in node.routes if r.version == 6 and r.proto != "kernel"}
        assert _v6_routes(names.node_ns(cli.cluster, node.name)) == want, node.name

    pods = [p for p in state.pods() if not p.spec.host_network and len(p.ips) == 2
            and p.metadata.namespace in ("frontend", "shop", "data")]
    sources = [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods[:3]]
    flows: list[tuple[str, str, str]] = []  # (source, trace target, url)
    for p in pods:
        ip6 = next(i for i in p.ips if ":" in i)
        port = next(cp.container_port for c in p.spec.containers for cp in c.ports)
        flows += [(s, f"[{ip6}]:{port}", f"http://[{ip6}]:{port}/hostname") for s in sources]
    # by name, over IPv6 (curl -6 asks CoreDNS for the AAAA: the Service's IPv6 ClusterIP);
    # the model traces that ClusterIP
    api6 = state.service("shop", "api6")
    assert api6 is not None
    cluster_ip6 = next(ip for ip in api6.spec.cluster_ips if ":" in ip)
    got = cli.exec(sources[0], "getent", "ahostsv6", "api6.shop").stdout
    assert got.split()[0] == cluster_ip6, got
    flows += [(s, f"[{cluster_ip6}]:8080", "http://api6.shop:8080/hostname") for s in sources]
    for n in state.nodes:
        v6 = next(ip for ip in n.internal_ips if ":" in ip)
        flows.append(("outside", f"[{v6}]:30081", f"http://[{v6}]:30081/hostname"))

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda f: _curl(cli, f[0], f[2]), flows))
    mismatches: list[str] = []
    for (src, target, _), (ok, body) in zip(flows, results):
        t: Any = trace(state, src, target)
        if t.backend is not None and t.backend.get("ip"):
            assert ipaddress.ip_address(t.backend["ip"]).version == 6, (src, target)
        if ok != (t.verdict == "delivered"):
            mismatches.append(f"{src} -> {target}: real {'delivered' if ok else 'failed'}, "
                              f"model {t.verdict} ({t.reason})")
        elif ok:
            names_ok = {(c.get("pod") or "").partition("/")[2] for c in t.candidates}
            if body not in names_ok:
                mismatches.append(f"{src} -> {target}: reached {body}, model {sorted(names_ok)}")
    assert mismatches == [], "\n".join(mismatches)
    assert all(ok for ok, _ in results)  # flannel enforces no policy: every flow gets through
