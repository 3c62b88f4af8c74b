"""Step 5: every plugin and mode wired for real, and NetworkPolicy enforced by the plugins that
enforce it (Calico, Cilium) exactly as the model says.

For each plugin/mode the example is built twice over: once without policy rules, where every pod
must reach every other (same node, across nodes) and the outside; once with the plugin's
enforcement, where real TCP connections between pods must succeed exactly when
``policy.verdict`` (as the plugin enforces it) allows them. Modes whose link type the kernel lacks
(IPIP for calico:ipip, Geneve for cilium:geneve) are skipped with that reason.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator

import pytest
from test_linux_dataplane import Served
from test_linux_support import kernel_has, require_root

pytestmark = pytest.mark.root

MODES = [
    ("flannel:vxlan", "vxlan"),
    ("flannel:host-gw", None),
    ("calico:vxlan", "vxlan"),
    ("calico:bgp", None),
    ("calico:ipip", "ipip"),
    ("cilium:vxlan", "vxlan"),
    ("cilium:native", None),
    ("cilium:geneve", "geneve"),
    ("host", None),
]


def _need(kind: str | None) -> None:
    require_root()
    if kind is not None and not kernel_has(kind):
        pytest.skip(f"this kernel cannot create {kind} links (module not available)")


@pytest.mark.parametrize("plugin,kind", MODES, ids=[m[0] for m in MODES])
def test_every_pod_reaches_every_pod_and_the_outside(plugin: str, kind: str | None) -> None:
    _need(kind)
    from podnet.linux import probe
    from podnet.linux.cluster import RealCluster

    s = Served(plugin)
    s.rc = RealCluster(s.name, s.rc.state, enforce_policy=False)
    try:
        s.rc.build()
        keys = sorted(s.rc.pod_ns)
        failed = []
        for a, b in itertools.product(keys, keys):
            if probe.ping(s.ns(a), s.ip(b), timeout=1) is None:
                failed.append(f"{a} -> {b}")
        assert failed == []
        for k in keys:
            assert probe.ping(s.ns(k), s.rc.topo.gateway, timeout=1) is not None, k
    finally:
        s.rc.teardown()


ENFORCING = [("calico:vxlan", "vxlan"), ("calico:bgp", None), ("cilium:vxlan", "vxlan"),
             ("cilium:native", None)]


@pytest.fixture(params=ENFORCING, ids=[m[0] for m in ENFORCING])
def enforced(request: pytest.FixtureRequest) -> Iterator[Served]:
    plugin, kind = request.param
    _need(kind)
    s = Served(plugin)
    try:
        s.start()
        yield s
    finally:
        s.stop()


def test_real_connections_follow_the_policy_verdicts(enforced: Served) -> None:
    from podnet.linux import probe
    from podnet.policy import PolicyIndex, as_enforced, verdict

    s = enforced
    index = as_enforced(PolicyIndex.build(s.rc.state))
    targets = {t.key: t for t in s.rc.pod_targets()}
    flows = []
    for src in sorted(s.rc.pod_ns):
        for dst, t in sorted(targets.items()):
            if dst == src or dst not in s.rc.pod_ns:
                continue
            for port in [p.port for p in t.ports if p.protocol == "TCP"][:2]:
                flows.append((src, dst, port, verdict(index, src, dst, port, "TCP").allowed))

    def real(flow: tuple[str, str, int, bool]) -> bool:
        src, dst, port, _ = flow
        return probe.tcp(s.ns(src), s.ip(dst), port, timeout=1.0,
                         send=b"GET /hostname HTTP/1.0\r\n\r\n").ok

    with ThreadPoolExecutor(max_workers=64) as pool:
        got = list(pool.map(real, flows))
    mismatches = [f"{src} -> {dst}:{port}: model {want}, real {g}"
                  for (src, dst, port, want), g in zip(flows, got) if g != want]
    allowed = sum(f[3] for f in flows)
    assert len(flows) > 100 and 0 < allowed < len(flows)
    assert mismatches == []
