"""``podnet fault`` for real (root, Linux), on examples/shop under flannel, as a user types it:
a partition really blocks a TCP connect and ``fault rm`` gives it back; loss drops the share of
probes it says; a rate limits a bulk transfer to about the rate; the daemon's live re-sync
leaves the faults alone; ``trace`` shows them; ``down`` leaves no record. ``--delay``,
``--jitter`` and ``--corrupt`` are measured on a pod: with sch_netem they are netem, without it
(this kernel, CI's) a userspace delay line whose process must go with ``fault rm`` and ``down``;
on a link, one delay line per device the link's packets leave a node by, both ways. A pod the
daemon re-wires live keeps its faults (applied again, the old delay lines stopped); a pod deleted
takes its faults with it."""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_linux_cli import EXAMPLE, Cli
from test_linux_support import new_cluster_name, require_root, until

pytestmark = pytest.mark.root

DB0, DB1 = "data/db-0", "data/db-1"  # on worker and worker2


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    require_root()
    from podnet.linux import teardown

    c = Cli(tmp_path_factory.mktemp("fault") / "home", new_cluster_name())
    try:
        c.run("up", "-d", "-f", EXAMPLE)
        yield c
    finally:
        c.run("down", check=False)
        teardown.teardown(c.cluster)
        assert teardown.leftovers(c.cluster) == []


@pytest.fixture(autouse=True)
def no_faults_left(shop: Cli) -> Iterator[None]:
    """Every test starts and ends without faults (removed even when it fails)."""
    yield
    shop.run("fault", "rm", "--all", check=False)


def ns(c: Cli, key: str) -> str:
    from podnet.linux import names

    space, _, name = key.partition("/")
    return names.pod_ns(c.cluster, space, name)


def ip(key: str) -> str:
    from podnet.cli.context import Options, compute

    space, _, name = key.partition("/")
    pod = compute(Options(filenames=[EXAMPLE])).state.pod(space, name)
    assert pod is not None
    return pod.ips[0]


def connects(c: Cli, frm: str, to: str, port: int = 5432, timeout: float = 1.0) -> bool:
    """Whether a TCP connect from pod ``frm`` to pod ``to`` completes (the handshake crosses
    the path both ways)."""
    from podnet.linux import netns

    sock = netns.socket_in(ns(c, frm), socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((ip(to), port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def echo_burst(netns_name: str, dst: str, count: int = 200) -> int:
    """``count`` ICMP echoes from ``netns_name`` to ``dst``, 2 ms apart, one each: how many
    were answered (within half a second of the last)."""
    from podnet.linux import netns

    sock = netns.socket_in(netns_name, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = secrets.randbits(16)
    answered: set[int] = set()
    done = threading.Event()

    def receive() -> None:
        sock.settimeout(0.2)
        while not done.is_set():
            try:
                data, addr = sock.recvfrom(2048)
            except (TimeoutError, socket.timeout):
                continue
            ihl = (data[0] & 0x0F) * 4
            typ, _c, _k, rid, seq = struct.unpack("!BBHHH", data[ihl: ihl + 8])
            if typ == 0 and rid == ident and addr[0] == dst:
                answered.add(seq)

    def checksum(b: bytes) -> int:
        s = sum(struct.unpack(f"!{len(b) // 2}H", b))
        s = (s >> 16) + (s & 0xFFFF)
        return ~(s + (s >> 16)) & 0xFFFF

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    try:
        for seq in range(1, count + 1):
            body = b"podnet-fault-probe!!"
            head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            pkt = struct.pack("!BBHHH", 8, 0, checksum(head + body), ident, seq) + body
            sock.sendto(pkt, (dst, 0))
            time.sleep(0.002)
        time.sleep(0.5)
    finally:
        done.set()
        t.join(2)
        sock.close()
    return len(answered)


def bulk_mbit(c: Cli, sender: str, receiver: str, size: int) -> float:
    """Send ``size`` bytes over TCP from pod ``sender`` to a listener in pod ``receiver``:
    the receiver's throughput in Mbit/s (from its first byte to the last)."""
    from podnet.linux import netns

    srv = netns.socket_in(ns(c, receiver), socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip(receiver), 0))
    srv.listen(1)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    result: dict[str, float] = {}

    def serve() -> None:
        conn, _ = srv.accept()
        conn.settimeout(20)
        got, first = 0, 0.0
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                if not got:
                    first = time.monotonic()
                got += len(chunk)
        result["bytes"], result["secs"] = got, time.monotonic() - first

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cli_sock = netns.socket_in(ns(c, sender), socket.AF_INET, socket.SOCK_STREAM)
    try:
        cli_sock.settimeout(20)
        cli_sock.connect((ip(receiver), port))
        cli_sock.sendall(b"x" * size)
        cli_sock.shutdown(socket.SHUT_WR)
        t.join(25)
    finally:
        cli_sock.close()
        srv.close()
    assert result.get("bytes") == size, result
    return result["bytes"] * 8 / max(result["secs"], 1e-6) / 1e6


def tables(netns_name: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns_name, "nft", "list", "tables"],
                          capture_output=True, text=True, check=True).stdout


def qdiscs(netns_name: str, dev: str = "eth0") -> str:
    return subprocess.run(["ip", "netns", "exec", netns_name, "tc", "qdisc", "show", "dev", dev],
                          capture_output=True, text=True, check=True).stdout


# ----------------------------------------------------------------------------- tests


def test_partition_blocks_a_connect_and_rm_restores_it(shop: Cli) -> None:
    assert connects(shop, DB0, DB1)
    out = shop.run("fault", "add", "link", DB0, DB1, "--partition").stdout
    assert out.startswith(f"fault f1 added: partition on link {DB0} {DB1}")
    assert not connects(shop, DB0, DB1) and not connects(shop, DB1, DB0)
    assert connects(shop, DB0, "frontend/web-8474558567-l2dsh", 8080)  # only that link
    doc = json.loads(shop.run("trace", DB0, f"{DB1}:5432", "-o", "json").stdout)
    assert doc["verdict"] == "dropped" and doc["client_sees"] == "timeout"
    assert doc["hops"][-1]["stage"] == "drop" and doc["faults"][0]["id"] == "f1"
    again = shop.run("fault", "add", "link", DB0, DB1, "--loss", "5", check=False)
    assert again.returncode == 1 and "already has fault f1" in again.stderr
    shop.run("fault", "rm", "f1")
    assert connects(shop, DB0, DB1)
    assert "podnet-fault" not in tables(shop_node(shop, "worker"))

    # a pod pulled off the network, by a prefix of its name; the text trace says so
    out = shop.run("fault", "add", "data/db-1", "--partition").stdout
    assert out.startswith("fault f1 added")  # ids: one more than the highest in place
    assert not connects(shop, DB0, DB1)
    text = shop.run("trace", DB0, f"{DB1}:5432").stdout
    assert f"↳ fault f1 ({DB1}): partitioned" in text and "\ndropped: partitioned by fault f1" in text
    shop.run("fault", "rm", "f1")
    assert connects(shop, DB0, DB1)


def shop_node(c: Cli, node: str) -> str:
    from podnet.linux import names

    return names.node_ns(c.cluster, node)


def test_partition_survives_the_daemons_live_resync(shop: Cli, tmp_path: Path) -> None:
    shop.run("fault", "add", "node/worker2", "--partition")
    log = Path(shop.env["PODNET_HOME"]) / shop.cluster / "logs" / "daemon.log"
    before = log.read_text().count("converged in")
    svc = tmp_path / "svc.yaml"
    svc.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: extra, namespace: data}\n"
                   "spec:\n  selector: {app: db}\n  ports: [{port: 9999, targetPort: 5432}]\n")
    shop.run("apply", "-f", str(svc))
    try:
        deadline = time.monotonic() + 10
        while log.read_text().count("converged in") == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert log.read_text().count("converged in") > before, "the daemon did not re-sync"
        assert "podnet-fault-f1" in tables(ns_underlay(shop))
        assert "podnet-fault-f1" in tables(shop_node(shop, "worker2"))
        assert not connects(shop, DB0, DB1)
        listed = json.loads(shop.run("fault", "list", "-o", "json").stdout)["faults"]
        assert [(f["id"], f["state"]) for f in listed] == [("f1", "applied")]
    finally:
        shop.run("delete", "-f", str(svc), check=False)
    shop.run("fault", "rm", "--all")
    assert connects(shop, DB0, DB1)


def ns_underlay(c: Cli) -> str:
    from podnet.linux import names

    return names.underlay_ns(c.cluster)


def test_loss_drops_its_share_of_the_probes(shop: Cli) -> None:
    src = ns(shop, DB0)
    assert echo_burst(src, ip(DB1), 50) >= 48
    shop.run("fault", "add", "data/db-1", "--loss", "100")  # the replies leave db-1
    assert echo_burst(src, ip(DB1), 50) == 0
    shop.run("fault", "rm", "--all")
    shop.run("fault", "add", "node/worker", "--loss", "50")  # the requests leave worker
    got = echo_burst(src, ip(DB1), 200)
    assert 50 <= got <= 150, f"{got}/200 answered with 50% loss"
    # traffic that does not leave worker's eth0 is untouched
    same_node = "frontend/assets-6965cd777-2zh7p"
    assert echo_burst(src, ip(same_node), 50) >= 48
    listed = json.loads(shop.run("fault", "list", "-o", "json").stdout)["faults"]
    assert listed[0]["params"] == {"loss_pct": 50.0}
    assert listed[0]["interfaces"] == [f"{shop_node(shop, 'worker')}:eth0"]
    assert set(listed[0]) >= {"id", "target", "kind", "params", "summary", "interfaces",
                              "direction", "created", "state", "applied"}


@pytest.mark.parametrize("target", [
    ("data/db-1",),                                  # tbf on the pod's eth0
    ("link", "node/worker2", "node/worker"),         # htb, steered on the wire
    ("link", DB1, DB0),                              # htb, steered after DNAT on the node
], ids=["pod-tbf", "node-link-htb", "pod-link-htb"])
def test_rate_limits_a_bulk_transfer(shop: Cli, target: tuple[str, ...]) -> None:
    free = bulk_mbit(shop, DB1, DB0, 4_000_000)
    shop.run("fault", "add", *target, "--rate", "4mbit")
    limited = bulk_mbit(shop, DB1, DB0, 600_000)  # ~1.2 s at 4 Mbit/s
    assert free > 20, f"unlimited transfer only {free:.1f} Mbit/s"
    assert 2.0 <= limited <= 5.2, f"{limited:.2f} Mbit/s under a 4mbit limit"


def rtts(netns_name: str, dst: str, count: int) -> list[float]:
    """``count`` ICMP round-trip times (seconds) from ``netns_name`` to ``dst``, one echo each."""
    from podnet.linux import probe

    out = []
    for _ in range(count):
        rtt = probe.ping(netns_name, dst, timeout=2, count=1)
        assert rtt is not None, f"no echo reply from {dst}"
        out.append(rtt)
    return out


def delayline_of(c: Cli) -> dict[str, object] | None:
    """The delay line entry of the only fault in place (None: netem did it)."""
    (rec,) = json.loads(c.run("fault", "list", "-o", "json").stdout)["faults"]
    assert rec["state"] == "applied", rec
    lines = rec["applied"].get("delayline") or []
    return lines[0] if lines else None


def links(netns_name: str) -> str:
    return subprocess.run(["ip", "-n", netns_name, "-o", "link"], capture_output=True, text=True,
                          check=True).stdout


def test_delay_and_jitter_raise_the_rtt_and_rm_restores_it(shop: Cli) -> None:
    from podnet.linux import processes

    src, dst = ns(shop, DB0), ip(DB1)
    assert max(rtts(src, dst, 5)) < 0.05
    out = shop.run("fault", "add", DB0, "--delay", "100").stdout
    assert out.startswith(f"fault f1 added: delay 100ms on {DB0} ({src}:eth0; egress")
    line = delayline_of(shop)
    if line is not None:  # no sch_netem: a process holds the frames
        assert "userspace delay line pnd-f1" in out
        assert processes.alive(int(str(line["pid"]))) and "pnd-f1" in links(src)
    got = rtts(src, dst, 10)
    assert all(0.09 <= r <= 0.2 for r in got), got
    # what does not leave db-0's eth0 (its loopback) is not delayed
    assert max(rtts(src, "127.0.0.1", 3)) < 0.05
    shop.run("fault", "rm", "f1")
    assert max(rtts(src, dst, 5)) < 0.05
    if line is not None:
        assert not processes.alive(int(str(line["pid"])))
        assert "pnd-f1" not in links(src)
    assert "podnet-fault" not in tables(src)

    # a node: what it sends, VXLAN-encapsulated pod traffic included, but not what stays on it
    shop.run("fault", "add", "node/worker", "--delay", "100")
    got = rtts(src, dst, 5)
    assert all(0.09 <= r <= 0.2 for r in got), got
    assert max(rtts(src, ip("frontend/assets-6965cd777-2zh7p"), 3)) < 0.05
    shop.run("fault", "rm", "--all")

    shop.run("fault", "add", DB0, "--delay", "100", "--jitter", "20")
    got = rtts(src, dst, 20)
    assert all(0.075 <= r <= 0.2 for r in got), got
    assert max(got) - min(got) >= 0.01, f"no spread under ±20ms jitter: {got}"


def test_corrupt_breaks_the_checksums(shop: Cli) -> None:
    src = ns(shop, DB0)
    assert connects(shop, DB0, DB1)
    shop.run("fault", "add", DB0, "--corrupt", "100")
    # every frame db-0 sends has a flipped bit: the receiver's checksums throw them away
    assert not connects(shop, DB0, DB1)
    assert echo_burst(src, ip(DB1), 50) <= 5
    shop.run("fault", "rm", "--all")
    assert connects(shop, DB0, DB1)


def pod_on(c: Cli, node: str) -> str:
    """A pod (``NS/NAME``, own network) running on ``node``."""
    from podnet.cli.context import Options, compute

    state = compute(Options(filenames=[EXAMPLE])).state
    for p in sorted(state.pods_on_node(node), key=lambda p: p.metadata.name):
        if not p.spec.host_network and p.ips:
            return f"{p.metadata.namespace}/{p.metadata.name}"
    pytest.skip(f"no pod of its own network on {node}")


def link_delaylines(c: Cli) -> list[dict[str, object]]:
    (rec,) = json.loads(c.run("fault", "list", "-o", "json").stdout)["faults"]
    assert rec["state"] == "applied", rec
    return list(rec["applied"].get("delayline") or [])


@pytest.mark.parametrize("ends", [
    ("node/worker", "node/worker2"),  # on each node's eth0, by destination
    (DB0, DB1),                       # after DNAT on the sender's node, stolen on its eth0
], ids=["node-link", "pod-link"])
def test_a_link_takes_delay_both_ways(shop: Cli, ends: tuple[str, str]) -> None:
    from podnet.linux import fault as fio
    from podnet.linux import processes

    src, dst, back = ns(shop, DB0), ip(DB1), ns(shop, DB1)
    other = pod_on(shop, "control-plane")
    assert max(rtts(src, dst, 3)) < 0.05
    out = shop.run("fault", "add", "link", *ends, "--delay", "50").stdout
    assert out.startswith(f"fault f1 added: delay 50ms on link {ends[0]} {ends[1]} (")
    lines = link_delaylines(shop)
    if not fio.netem_supported(src):
        assert sorted(str(d["netns"]) for d in lines) == sorted(
            [shop_node(shop, "worker"), shop_node(shop, "worker2")])
        assert all(d["dev"] == "eth0" and processes.alive(int(str(d["pid"]))) for d in lines)
        assert "userspace delay lines pnd-f1 on" in out
    # 50 ms each way: ~100 ms more on the round trip, whichever end asks
    there, from_back = rtts(src, dst, 5), rtts(back, ip(DB0), 5)
    assert all(0.09 <= r <= 0.2 for r in there + from_back), (there, from_back)
    # worker to control-plane is another link: unchanged
    assert max(rtts(src, ip(other), 3)) < 0.01
    shop.run("fault", "rm", "f1")
    assert max(rtts(src, dst, 3)) < 0.05
    assert not [d for d in lines if processes.alive(int(str(d["pid"])))]
    assert "podnet-fault" not in tables(shop_node(shop, "worker"))
    assert "pnd-f1" not in links(shop_node(shop, "worker2"))


def test_a_link_between_a_node_and_its_own_pod_refuses_delay(shop: Cli) -> None:
    r = shop.run("fault", "add", "link", "node/worker", DB0, "--delay", "10", check=False)
    assert r.returncode == 1
    assert "never leaves the node" in r.stderr
    assert json.loads(shop.run("fault", "list", "-o", "json").stdout)["faults"] == []
    assert "podnet-fault" not in tables(shop_node(shop, "worker"))


PROBE = "data/probe"  # a bare Pod pinned to a node: applied again elsewhere, it is re-wired
PROBE_YAML = """apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: data, labels: {app: probe}}
spec:
  nodeName: %s
  containers: [{name: c, image: busybox}]
"""




def wired_pods(c: Cli) -> dict[str, str]:
    return dict(json.loads(c.run("status", "-o", "json").stdout)["runtime"]["pods"])


def records(c: Cli) -> dict[str, dict[str, Any]]:
    """The faults in place, by id."""
    return {f["id"]: f for f in json.loads(c.run("fault", "list", "-o", "json").stdout)["faults"]}


def daemon_log(c: Cli) -> str:
    return (Path(c.env["PODNET_HOME"]) / c.cluster / "logs" / "daemon.log").read_text()


@pytest.fixture
def probe_pod(shop: Cli, tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """``place(node)``: (re-)apply the probe pod pinned to ``node``; the pod is deleted
    afterwards, whatever happened."""
    manifest = tmp_path / "probe.yaml"

    def place(node: str) -> None:
        manifest.write_text(PROBE_YAML % node)
        shop.run("apply", "-f", str(manifest))

    try:
        yield place
    finally:
        shop.run("delete", "pod", "probe", "-n", "data", "--ignore-not-found", check=False)
        until(lambda: PROBE not in wired_pods(shop), timeout=15)


def delayline_pids(rec: dict[str, Any]) -> list[int]:
    return [int(d["pid"]) for d in rec["applied"].get("delayline") or []]


@pytest.mark.parametrize("target", [(PROBE,), ("link", PROBE, DB1)], ids=["pod", "link"])
def test_faults_follow_a_pod_the_daemon_rewires(shop: Cli, probe_pod: Callable[[str], None],
                                                target: tuple[str, ...]) -> None:
    """The probe moves from worker to control-plane (new namespace, veth, address, node): its
    fault is applied again — the old delay lines stopped, the old node's tables gone — and the
    delay is back; a fault on another pod is left alone; deleting the probe removes its fault
    and its record, and only that one."""
    from podnet.linux import processes

    mark = len(daemon_log(shop))
    probe_pod("worker")
    assert until(lambda: PROBE in wired_pods(shop), timeout=15)
    src, dst = ns(shop, PROBE), ip(DB1)
    assert max(rtts(src, dst, 3)) < 0.05
    delay = "100" if len(target) == 1 else "50"  # a link delays both ways
    shop.run("fault", "add", *target, "--delay", delay)
    shop.run("fault", "add", DB0, "--rate", "100mbit")  # f2: not on the probe
    before, other = records(shop)["f1"], records(shop)["f2"]
    got = rtts(src, dst, 5)
    assert all(0.09 <= r <= 0.2 for r in got), got

    probe_pod("control-plane")  # the pod is re-wired: its old devices go
    assert until(lambda: "reapplied" in records(shop)["f1"], timeout=15), daemon_log(shop)[mark:]
    after = records(shop)["f1"]
    assert after["state"] == "applied", after
    assert {**other, "state": "applied"} == records(shop)["f2"]  # untouched
    assert after["target"] == before["target"] and after["params"] == before["params"]
    assert after["created"] == before["created"]
    moved = {e["name"]: e for e in after["ends"]}[PROBE]
    assert moved["node"] == "control-plane" and moved["addrs"] != before["ends"][0]["addrs"]
    assert f"fault f1 on {before['target']}: re-applied (data/probe re-wired)" in \
        daemon_log(shop)[mark:]
    assert not [p for p in delayline_pids(before) if processes.alive(p)], "stale delay line"
    assert all(processes.alive(p) for p in delayline_pids(after))
    if len(target) > 1:  # nothing of the link is left on worker, the probe's old node
        assert "podnet-fault" not in tables(shop_node(shop, "worker"))
        assert "pnd-f1" not in links(shop_node(shop, "worker"))
        assert "pnd-f1" in links(shop_node(shop, "control-plane")) or not delayline_pids(after)
    rtts(src, dst, 1)  # a new namespace: its first echo waits for ARP, delayed too
    got = rtts(src, dst, 5)
    assert all(0.09 <= r <= 0.2 for r in got), got
    if len(target) > 1:  # both ways: from db-1 too
        back = rtts(ns(shop, DB1), moved["addrs"][0], 5)
        assert all(0.09 <= r <= 0.2 for r in back), back

    shop.run("delete", "pod", "probe", "-n", "data")  # gone for good: the fault goes with it
    assert until(lambda: list(records(shop)) == ["f2"], timeout=15), records(shop)
    gone = "the pod" if len(target) == 1 else f"pod {PROBE}"
    assert f"warning: fault f1 on {before['target']}: {gone} is gone; fault removed" in \
        daemon_log(shop)[mark:]
    assert not [p for p in delayline_pids(after) if processes.alive(p)]
    for node in ("worker", "worker2", "control-plane"):
        assert "podnet-fault" not in tables(shop_node(shop, node)), node
    assert max(rtts(ns(shop, DB0), dst, 3)) < 0.05


def test_down_removes_every_fault_and_its_record(tmp_path: Path) -> None:
    require_root()
    from podnet.linux import processes, teardown

    c = Cli(tmp_path / "home", new_cluster_name())
    try:
        c.run("up", "-d", "-f", EXAMPLE)
        c.run("fault", "add", "node/worker", "--rate", "10mbit")
        c.run("fault", "add", "link", "node/control-plane", DB1, "--loss", "20")
        c.run("fault", "add", DB0, "--delay", "20", "--jitter", "5")
        record = Path(c.env["PODNET_HOME"]) / c.cluster / "faults.json"
        recs = json.loads(record.read_text())["faults"]
        assert len(recs) == 3
        pids = [int(d["pid"]) for r in recs for d in r["applied"].get("delayline") or []]
        c.run("down")
        assert not record.exists()
        assert not [p for p in pids if processes.alive(p)], "a delay line outlived the cluster"
        assert "No faults" in c.run("fault", "list").stderr
        assert teardown.leftovers(c.cluster) == []
    finally:
        c.run("down", check=False)
        teardown.teardown(c.cluster)
        assert teardown.leftovers(c.cluster) == []
    assert not os.path.exists(f"/run/netns/pn-{c.cluster}-underlay")


def proc_state(pid: int) -> tuple[str, int] | None:
    """``pid``'s state letter (``Z``: a zombie) and parent, or None when it is gone (reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def test_fault_rm_of_a_delay_is_quick_and_leaves_no_process(
        shop: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM wakes a delay line at once (it used to sleep on until its next watch, up to a
    second, and ``fault rm`` waited for it). A CLI run costs the interpreter and its imports
    whatever it does: ``fault list`` is the baseline. The delay lines ``fault add`` started are
    not ``fault rm``'s children (they went to init when ``fault add`` exited): what is left of
    one may only be a zombie for init to reap, never a running process nor a zombie of ours or
    the daemon's."""
    from podnet.linux import processes

    monkeypatch.setenv("PODNET_HOME", shop.env["PODNET_HOME"])
    base = []
    for _ in range(2):
        t0 = time.monotonic()
        shop.run("fault", "list")
        base.append(time.monotonic() - t0)
    shop.run("fault", "add", "link", DB0, DB1, "--delay", "50")
    pids = [int(str(d["pid"])) for d in link_delaylines(shop)]  # none with sch_netem
    assert all(processes.alive(p) for p in pids)
    daemon = processes.read_pid(shop.cluster)
    t0 = time.monotonic()
    shop.run("fault", "rm", "f1")
    took = time.monotonic() - t0
    assert took - min(base) < 0.5, f"fault rm took {took:.3f}s, a CLI run {min(base):.3f}s"
    for pid in pids:
        st = proc_state(pid)
        assert st is None or (st[0] == "Z" and st[1] not in (os.getpid(), daemon)), (pid, st)
    assert "pnd-f1" not in links(shop_node(shop, "worker"))
    assert "pnd-f1" not in links(shop_node(shop, "worker2"))


def test_a_delay_line_of_our_own_stops_at_once_and_is_reaped(
        shop: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the daemon does when it re-applies a fault: the delay lines it starts are its
    children. Stopping one takes milliseconds and reaps it (no zombie is left until some later
    subprocess call); one that exited by itself (its device went: its watchdog) is reaped when
    it is stopped. Nothing here runs a subprocess between a delay line's exit and the check, as
    that would reap it behind our back (subprocess's own clean-up of the Popen it dropped)."""
    from podnet.linux import fault as fio
    from podnet.sim.faults import DelayLineOp, Place

    monkeypatch.setenv("PODNET_HOME", shop.env["PODNET_HOME"])
    src = ns(shop, DB0)
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun")
    entries: list[dict[str, Any]] = []
    try:
        entries.append(fio.start_delayline(
            shop.cluster, "zt", DelayLineOp(Place("pod", DB0), "eth0", "pnd-zt", 50, 0, 0)))
        pid = int(entries[-1]["pid"])
        st = proc_state(pid)
        assert st is not None and st[1] == os.getpid() and st[0] != "Z", st
        assert "pnd-zt" in links(src)
        time.sleep(0.2)  # well inside its watch period (1 s): only the signal can wake it now
        t0 = time.monotonic()
        fio.stop_delaylines(entries)
        took = time.monotonic() - t0
        assert proc_state(pid) is None, "left a zombie"
        assert took < 0.5, f"stopping a delay line took {took:.3f}s"
        assert "pnd-zt" not in links(src)  # its TAP went with it

        # its watchdog: it exits when its device goes, and is reaped when stopped then
        subprocess.run(["ip", "-n", src, "link", "add", "pnzt0", "type", "veth", "peer", "name",
                        "pnzt1"], check=True)
        subprocess.run(["ip", "-n", src, "link", "set", "pnzt0", "up"], check=True)
        entries.append(fio.start_delayline(
            shop.cluster, "zt", DelayLineOp(Place("pod", DB0), "pnzt0", "pnd-zt", 50, 0, 0)))
        pid = int(entries[-1]["pid"])
        subprocess.run(["ip", "-n", src, "link", "del", "pnzt0"], check=True)
        assert until(lambda: (proc_state(pid) or ("", 0))[0] == "Z", timeout=5), \
            proc_state(pid)
        fio.stop_delaylines(entries[-1:])
        assert proc_state(pid) is None, "left a zombie"
    finally:
        fio.stop_delaylines(entries)
        subprocess.run(["ip", "-n", src, "link", "del", "pnzt0"], capture_output=True,
                       check=False)
    assert "pnd-zt" not in links(src)


def test_a_delay_line_the_daemon_started_is_reaped_when_fault_rm_stops_it(
        shop: Cli, probe_pod: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-applied fault's delay line is the daemon's child; ``fault rm`` (another process)
    stops it, and the daemon collects it within its next reap tick (1 s) — no zombie stays."""
    from podnet.linux import processes

    monkeypatch.setenv("PODNET_HOME", shop.env["PODNET_HOME"])
    probe_pod("worker")
    assert until(lambda: PROBE in wired_pods(shop), timeout=15)
    shop.run("fault", "add", PROBE, "--delay", "20")
    probe_pod("control-plane")  # re-wired: the daemon applies the fault again, its child now
    assert until(lambda: "reapplied" in records(shop)["f1"], timeout=15)
    pids = delayline_pids(records(shop)["f1"])
    if not pids:
        pytest.skip("sch_netem is here: no delay line to start")
    daemon = processes.read_pid(shop.cluster)
    assert all((proc_state(p) or ("", 0))[1] == daemon for p in pids)
    shop.run("fault", "rm", "f1")
    assert until(lambda: all(proc_state(p) is None for p in pids), timeout=5), \
        [proc_state(p) for p in pids]
