"""``podnet fault``, the pure part (:mod:`podnet.sim.faults`): options, targets, what a fault
compiles to (nft tables, tc command lines, in which namespace and on which device), and how a
trace shows the faults it crosses. No root needed; the real thing is tests/test_linux_fault.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from podnet.cli.context import Options, compute
from podnet.cluster.state import ClusterState
from podnet.linux.names import underlay_port
from podnet.plugins import build_plan
from podnet.plugins.plan import NetworkPlan
from podnet.sim import faults as F
from podnet.sim.trace import trace

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "shop")


@pytest.fixture(scope="module")
def shop() -> tuple[ClusterState, NetworkPlan]:
    state = compute(Options(filenames=[EXAMPLE])).state
    return state, build_plan(state)


def pod(state: ClusterState, prefix: str) -> str:
    keys = sorted(f"{p.metadata.namespace}/{p.metadata.name}" for p in state.pods()
                  if f"{p.metadata.namespace}/{p.metadata.name}".startswith(prefix))
    assert keys, prefix
    return keys[0]


def fault(plan: NetworkPlan, ends: list[str], fid: str = "f1", **opts: Any) -> F.Fault:
    return F.Fault(fid, F.resolve_target(plan, ends), F.parse_impairment(**opts), "2025-01-01T00:00:00Z")


def errors(fn: Any, *a: Any, **kw: Any) -> tuple[str, ...]:
    with pytest.raises(F.FaultError) as e:
        fn(*a, **kw)
    return e.value.errors


# ----------------------------------------------------------------------------- options


def test_rates_in_tc_syntax() -> None:
    assert F.parse_rate("1mbit") == 1_000_000
    assert F.parse_rate("500kbit") == 500_000
    assert F.parse_rate("10mbps") == 80_000_000  # tc: bps is bytes per second
    assert F.parse_rate("2Kibit") == 2048
    assert F.parse_rate("1.5gbit") == 1_500_000_000
    assert F.parse_rate("64000") == 64_000  # a bare number: bits per second
    assert F.format_rate(1_000_000) == "1mbit" and F.format_rate(1_500_000_000) == "1500mbit"
    assert F.format_rate(2048) == "2048bit"
    assert "percentage" in errors(F.parse_rate, "10%")[0]
    assert errors(F.parse_rate, "fast")[0].startswith('error: invalid argument "fast" for '
                                                      '"--rate" flag')
    assert "unknown unit" in errors(F.parse_rate, "3furlong")[0]
    assert "at least 8bit" in errors(F.parse_rate, "0")[0]


def test_impairment_options() -> None:
    imp = F.parse_impairment(delay="100ms", jitter="10", loss="30", rate="1mbit")
    assert imp == F.Impairment(100.0, 10.0, 30.0, None, 1_000_000, False)
    assert imp.needs_netem and imp.needs_tc and imp.drops
    assert imp.summary() == "delay 100ms ±10ms, loss 30%, rate 1mbit"
    assert imp.netem_args() == ["netem", "delay", "100ms", "10ms"]
    assert F.Impairment.from_dict(imp.to_dict()) == imp
    assert F.parse_impairment(loss="0.5").loss_pct == 0.5
    assert F.parse_impairment(delay="1.5s").delay_ms == 1500
    part = F.parse_impairment(partition=True)
    assert part.summary() == "partition" and not part.needs_tc and part.drops
    lossy = F.parse_impairment(loss="30", rate="1mbit")
    assert not lossy.needs_netem and lossy.needs_tc


def test_impairment_errors_all_at_once() -> None:
    errs = errors(F.parse_impairment, loss="120", corrupt="-1", jitter="5", rate="1furlong")
    assert errs == (
        'error: invalid argument "120" for "--loss" flag: must be between 0 and 100, inclusive',
        'error: invalid argument "-1" for "--corrupt" flag: a percentage between 0 and 100, '
        "e.g. 30",
        'error: invalid argument "1furlong" for "--rate" flag: unknown unit "furlong": use bit, '
        "kbit, mbit, gbit, bps, kbps, mbps, gbps (or kibit, mibit…)",
        "error: --jitter varies a delay: give --delay too (netem's delay TIME JITTER)",
    )
    assert errors(F.parse_impairment, partition=True, loss="3") == (
        "error: --partition drops every packet: it cannot be combined with --loss",)
    assert "nothing to inject" in errors(F.parse_impairment)[0]
    assert "milliseconds" in errors(F.parse_impairment, delay="soon")[0]


def test_target_syntax() -> None:
    assert F.parse_target_args(["node/worker"]) == ("node/worker",)
    assert F.parse_target_args(["link", "node/a", "shop/api"]) == ("node/a", "shop/api")
    assert "two ends" in errors(F.parse_target_args, ["link", "node/a"])[0]
    assert "two different ends" in errors(F.parse_target_args, ["link", "node/a", "node/a"])[0]
    assert "one target" in errors(F.parse_target_args, ["node/a", "node/b"])[0]
    assert "required" in errors(F.parse_target_args, [])[0]


def test_targets_resolve_against_the_plan(shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    node = F.endpoint(plan, "node/worker")
    assert node.kind == "node" and node.addrs[0] == "172.18.0.3"
    assert "10.244.1.0/24" in node.addrs and node.index == 1
    db0 = pod(state, "data/db-0")
    e = F.endpoint(plan, db0)
    assert e.kind == "pod" and e.node == "worker" and e.addrs == ("10.244.1.6",)
    assert e.host_if == plan.pod(db0).host_if and e.covers("10.244.1.6")
    assert node.covers("10.244.1.6") and not node.covers("10.244.2.6")
    assert errors(F.endpoint, plan, "node/nope") == (
        'Error from server (NotFound): nodes "nope" not found',)
    assert "no network interface of its own" in errors(F.endpoint, plan, "data/nothing")[0]
    t = F.resolve_target(plan, ["node/worker", db0])
    assert t.kind == "link" and t.text == f"link node/worker {db0}"
    assert F.Target.from_dict(t.to_dict()) == t
    f = fault(plan, [db0], loss="30")
    assert F.Fault.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    assert F.next_id([]) == "f1" and F.next_id(["f1", "f7", "x"]) == "f8"


# ----------------------------------------------------------------------------- compiling


def test_node_loss_drops_at_the_underlay_port(shop: tuple[ClusterState, NetworkPlan]) -> None:
    _, plan = shop
    prog = F.compile_fault(fault(plan, ["node/worker"], loss="30"), underlay_port)
    assert prog.tc == () and len(prog.nft) == 1
    op = prog.nft[0]
    assert op.place == F.Place("underlay") and op.family == "netdev"
    assert op.table == "podnet-fault-f1"
    assert 'hook ingress device "n1-worker"' in op.text
    assert "numgen random mod 10000 < 3000 drop" in op.text
    assert op.text.startswith("add table netdev podnet-fault-f1\n"
                              "delete table netdev podnet-fault-f1\n")
    assert prog.interfaces == ((F.Place("node", "worker"), "eth0"),)
    total = F.compile_fault(fault(plan, ["node/worker"], loss="100"), underlay_port)
    assert "numgen" not in total.nft[0].text and total.nft[0].text.rstrip().endswith("drop")


def test_partition_drops_both_ways(shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    db0 = pod(state, "data/db-0")
    prog = F.compile_fault(fault(plan, [db0], partition=True), underlay_port)
    places = {op.place: op for op in prog.nft}
    host_if = plan.pod(db0).host_if
    assert set(places) == {F.Place("node", "worker"), F.Place("pod", db0)}
    assert f'hook ingress device "{host_if}"' in places[F.Place("node", "worker")].text
    assert 'hook ingress device "eth0"' in places[F.Place("pod", db0)].text


def test_rate_and_netem_on_a_device(shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    db0 = pod(state, "data/db-0")
    rate = F.compile_fault(fault(plan, [db0], rate="1mbit"), underlay_port)
    assert rate.nft == ()
    (op,) = rate.tc
    assert op.place == F.Place("pod", db0) and op.dev == "eth0"
    assert op.commands == (("qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf", "rate",
                            "1mbit", "burst", "5000", "latency", "100ms"),)
    both = F.compile_fault(fault(plan, ["node/worker"], delay="100", jitter="10", corrupt="1",
                                 rate="100mbit"), underlay_port)
    (op,) = both.tc
    assert op.commands[0] == ("qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem",
                              "delay", "100ms", "10ms", "corrupt", "1%")
    assert op.commands[1][:8] == ("qdisc", "add", "dev", "eth0", "parent", "1:1", "handle", "10:")
    assert op.commands[1][8:12] == ("tbf", "rate", "100mbit", "burst")


def test_without_netem_a_node_or_pod_gets_a_delay_line(
        shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    db0 = pod(state, "data/db-0")
    prog = F.compile_fault(fault(plan, [db0], delay="100", jitter="20", corrupt="1", loss="5"),
                           underlay_port, netem=False)
    assert prog.tc == ()  # no netem; the loss stays an nft drop at the peer
    (line,) = prog.delaylines
    assert line == F.DelayLineOp(F.Place("pod", db0), "eth0", "pnd-f1", 100.0, 20.0, 1.0)
    assert line.argv() == ("--dev", "eth0", "--tap", "pnd-f1", "--delay", "100", "--jitter",
                           "20", "--corrupt", "1", "--mark", str(F.DELAYLINE_MARK))
    by = {op.place: op for op in prog.nft}
    steer = by[F.Place("pod", db0)].text
    assert 'add chain netdev podnet-fault-f1 delay-eth0 { type filter hook egress device "eth0"' \
        in steer
    assert f'meta mark != {F.DELAYLINE_MARK:#x} fwd to "pnd-f1"' in steer
    assert "numgen random" in by[F.Place("node", "worker")].text
    # with --rate, the tbf stays on the device: the frames the delay line sends go through it
    node = F.compile_fault(fault(plan, ["node/worker"], delay="50", rate="1mbit", fid="f12"),
                           underlay_port, netem=False)
    assert [d.tap for d in node.delaylines] == ["pnd-f12"]
    (op,) = node.tc
    assert op.commands[0][4:8] == ("root", "handle", "1:", "tbf")
    # no delay option, no delay line, netem or not
    assert F.compile_fault(fault(plan, [db0], loss="5"), underlay_port, netem=False) == \
        F.compile_fault(fault(plan, [db0], loss="5"), underlay_port)
    assert F.delayline_dev("f123456789012345") == "pnd-f1234567890"


def test_without_netem_a_link_gets_delay_lines(shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    db0, db1 = pod(state, "data/db-0"), pod(state, "data/db-1")
    w, w2 = F.Place("node", "worker"), F.Place("node", "worker2")
    # between nodes: on each node's eth0, by destination (the peer's InternalIP / pod CIDR)
    prog = F.compile_fault(fault(plan, ["node/worker", "node/worker2"], delay="50"),
                           underlay_port, netem=False)
    assert prog.tc == ()
    assert [(d.place, d.dev, d.tap, d.delay_ms, d.priority) for d in prog.delaylines] == \
        [(w, "eth0", "pnd-f1", 50.0, 0), (w2, "eth0", "pnd-f1", 50.0, 0)]
    by = {op.place: op.text for op in prog.nft}
    assert 'hook egress device "eth0"' in by[w]
    assert (f"meta mark != {F.DELAYLINE_MARK:#x} ip daddr {{ 172.18.0.4, 10.244.2.0/24 }} "
            f'fwd to "pnd-f1"') in by[w]
    assert "ip daddr { 172.18.0.3, 10.244.1.0/24 }" in by[w2]
    # with --rate: htb without netem; the priority is set before the frame is stolen, and
    # again when the delay line sends it back out
    both = F.compile_fault(fault(plan, ["node/worker", "node/worker2"], delay="50",
                                 rate="1mbit"), underlay_port, netem=False)
    assert [c[-1] for c in both.tc[0].commands][:1] == ["htb"] and len(both.tc[0].commands) == 2
    text = {op.place: op.text for op in both.nft}[w]
    assert text.index("meta priority set 1:1") < text.index("fwd to")
    # a pod end: picked after DNAT on the sender's node by a priority of the fault's own,
    # stolen on the device it leaves the node by
    pl = F.compile_fault(fault(plan, [db0, db1], delay="50", jitter="5", fid="f7"),
                         underlay_port, netem=False)
    assert {(d.place, d.dev, d.tap) for d in pl.delaylines} == {(w, "eth0", "pnd-f7"),
                                                                (w2, "eth0", "pnd-f7")}
    inet = {op.place: op.text for op in pl.nft if op.family == "inet"}
    netdev = {op.place: op.text for op in pl.nft if op.family == "netdev"}
    assert "ip saddr 10.244.1.6 ip daddr 10.244.2.6 meta priority set 706e:7" in inet[w]
    assert (f'meta mark != {F.DELAYLINE_MARK:#x} meta priority 706e:7 fwd to "pnd-f7"'
            in netdev[w])
    assert F.delayline_priority("f7") == 0x706E0007
    rated = F.compile_fault(fault(plan, [db0, db1], delay="50", rate="1mbit"), underlay_port,
                            netem=False)
    assert {d.priority for d in rated.delaylines} == {0x10001}  # back into the htb class
    assert rated.delaylines[0].argv()[-2:] == ("--priority", str(0x10001))
    # two pods of one node: one delay line per host veth, two TAPs in the node's namespace
    same = pod(state, "frontend/assets")
    local = F.compile_fault(fault(plan, [db0, same], delay="10"), underlay_port, netem=False)
    assert sorted((d.dev, d.tap) for d in local.delaylines) == sorted(
        [(plan.pod(same).host_if, "pnd-f1"), (plan.pod(db0).host_if, "pnd-f1-2")])
    # a node and its own pod: nothing leaves the node, nothing to delay
    (msg,) = errors(F.compile_fault, fault(plan, ["node/worker", db0], delay="10"),
                    underlay_port, netem=False)
    assert "never leaves the node" in msg
    assert F.compile_fault(fault(plan, [db0, db1], loss="10"), underlay_port, netem=False).nft
    # one delay line per device: a second fault's on the same device is a conflict
    node = F.compile_fault(fault(plan, ["node/worker"], delay="5", fid="f2"), underlay_port,
                           netem=False)
    assert F.conflict(prog, {"f2": node}) == "f2"
    assert F.conflict(prog, {"f2": F.compile_fault(fault(plan, ["node/control-plane"],
                                                         delay="5", fid="f2"),
                                                   underlay_port, netem=False)}) is None


def test_the_delay_line_queue_holds_reorders_and_corrupts() -> None:
    import random

    from podnet.linux import delayline as D

    rng = random.Random(7)
    q = D.DelayQueue(100, rng=rng)
    for i in range(5):
        assert q.push(10.0 + i / 1000, bytes([i])) == pytest.approx(10.1 + i / 1000)
    assert q.due(10.0999) == [] and len(q) == 5
    assert q.due(10.2) == [bytes([i]) for i in range(5)]  # no jitter: arrival order
    holds = [D.hold_ms(100, 20, rng) for _ in range(2000)]
    assert 80 <= min(holds) < 82 and 118 < max(holds) <= 120  # uniform, ±jitter
    assert D.hold_ms(5, 20, rng) >= 0
    jq = D.DelayQueue(100, 20, rng=rng)
    for i in range(200):
        jq.push(i / 10000, i.to_bytes(2, "big"))
    order = [int.from_bytes(f, "big") for f in jq.due(1.0)]
    assert sorted(order) == list(range(200)) and order != list(range(200))  # jitter reorders
    ip = bytes(12) + b"\x08\x00" + bytes(range(40))
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    flipped = D.corrupt(ip, 100, rng)
    diff = [(a ^ b) for a, b in zip(ip, flipped, strict=True)]
    assert sum(bin(d).count("1") for d in diff) == 1 and not any(diff[:14])
    assert D.corrupt(arp, 100, rng) is arp and D.corrupt(ip, 0, rng) is ip
    cq = D.DelayQueue(0, corrupt_pct=30, rng=random.Random(1))
    for _ in range(1000):
        cq.push(0.0, ip)
    assert 250 <= cq.corrupted <= 350


def test_a_link_between_nodes_is_picked_on_the_wire(shop: tuple[ClusterState, NetworkPlan]) -> None:
    _, plan = shop
    prog = F.compile_fault(fault(plan, ["node/worker", "node/worker2"], loss="10",
                                 rate="5mbit"), underlay_port)
    by = {op.place: op for op in prog.nft}
    under = by[F.Place("underlay")].text
    assert 'device "n1-worker"' in under and 'device "n2-worker2"' in under
    assert ("ip daddr { 172.18.0.4, 10.244.2.0/24 } numgen random mod 10000 < 1000 drop"
            in under)
    steer = by[F.Place("node", "worker")].text
    assert 'hook egress device "eth0"' in steer
    assert "ip daddr { 172.18.0.4, 10.244.2.0/24 } meta priority set 1:1" in steer
    assert [(op.place.name, op.dev) for op in prog.tc] == [("worker", "eth0"), ("worker2", "eth0")]
    assert prog.tc[0].commands[0][-1] == "htb"
    assert prog.tc[0].commands[1][-8:-4] == ("rate", "5mbit", "ceil", "5mbit")


def test_a_link_with_a_pod_is_picked_on_the_senders_node(
        shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    db0, db1 = pod(state, "data/db-0"), pod(state, "data/db-1")
    prog = F.compile_fault(fault(plan, [db0, db1], partition=True), underlay_port)
    by = {op.place: op for op in prog.nft}
    assert set(by) == {F.Place("node", "worker"), F.Place("node", "worker2")}
    w = by[F.Place("node", "worker")].text
    assert "hook postrouting priority srcnat - 10" in w and "hook input" in w
    assert "ip saddr 10.244.1.6 ip daddr 10.244.2.6 drop" in w
    assert "ip saddr 10.244.2.6 ip daddr 10.244.1.6 drop" in by[F.Place("node", "worker2")].text
    # shaping: on the device the packets leave the node by
    shaped = F.compile_fault(fault(plan, [db0, db1], rate="1mbit"), underlay_port)
    assert {(op.place.name, op.dev) for op in shaped.tc} == {("worker", "eth0"),
                                                             ("worker2", "eth0")}
    same = pod(state, "frontend/assets")  # also on worker
    local = F.compile_fault(fault(plan, [db0, same], rate="1mbit"), underlay_port)
    assert {op.dev for op in local.tc} == {plan.pod(db0).host_if, plan.pod(same).host_if}
    # a node and its own pod: the traffic never leaves the node, no device to shape it on
    errs = errors(F.compile_fault, fault(plan, ["node/worker", db0], rate="1mbit"), underlay_port)
    assert "never leaves the node" in errs[0]
    assert F.compile_fault(fault(plan, ["node/worker", db0], loss="5"), underlay_port).nft


def test_two_tc_faults_cannot_share_a_device(shop: tuple[ClusterState, NetworkPlan]) -> None:
    _, plan = shop
    a = F.compile_fault(fault(plan, ["node/worker"], rate="1mbit"), underlay_port)
    b = F.compile_fault(fault(plan, ["node/worker", "node/worker2"], rate="1mbit", fid="f2"),
                        underlay_port)
    c = F.compile_fault(fault(plan, ["node/worker2"], loss="3", fid="f3"), underlay_port)
    assert F.conflict(b, {"f1": a}) == "f1"
    assert F.conflict(c, {"f1": a, "f2": b}) is None


# ----------------------------------------------------------------------------- trace


def _trace(state: ClusterState, plan: NetworkPlan, frm: str, to: str,
           faults: list[F.Fault]) -> tuple[Any, list[F.FaultHit]]:
    t = trace(state, frm, to)
    hits = F.on_trace(t, faults, plan.node_names)
    return F.trace_with_faults(t, hits)


def test_trace_shows_loss_on_the_hops_it_crosses(shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    db0, db1 = pod(state, "data/db-0"), pod(state, "data/db-1")
    before = trace(state, db0, f"{db1}:5432")
    faults = [fault(plan, ["node/worker"], loss="30"), fault(plan, [db1], delay="50", fid="f2"),
              fault(plan, ["node/control-plane"], rate="1mbit", fid="f3")]
    t, hits = _trace(state, plan, db0, f"{db1}:5432", faults)
    assert t.verdict == "delivered" and t.hops == before.hops
    assert [(h.fault.id, t.hops[h.hop].stage, h.direction) for h in hits] == [
        ("f1", "underlay", "request"), ("f2", "deliver", "reply")]
    assert any("fault f1 (node/worker): loss 30% on worker eth0, on the way there" in n
               for n in t.notes)
    assert any("the round trip takes 50ms more" in n for n in t.notes)
    doc = F.trace_doc(t, hits)
    assert set(before.to_dict()) <= set(doc)  # nothing renamed
    assert [f["id"] for f in doc["faults"]] == ["f1", "f2"]
    under = next(h for h in doc["hops"] if h["stage"] == "underlay")
    assert under["faults"][0]["effect"] == "loss 30% (the request leaves through it)"
    text = F.trace_text(t, hits)
    lines = text.splitlines()
    i = next(n for n, ln in enumerate(lines) if " underlay " in ln)
    assert lines[i + 1].strip() == ("↳ fault f1 (node/worker): loss 30% (the request leaves "
                                    "through it) on worker eth0")


def test_trace_partition_drops_where_it_is_met(shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    db0, db1 = pod(state, "data/db-0"), pod(state, "data/db-1")
    # the backend pod partitioned: the request is dropped entering it
    t, hits = _trace(state, plan, db0, f"{db1}:5432", [fault(plan, [db1], partition=True)])
    assert t.verdict == "dropped" and t.client_sees == "timeout"
    assert t.reason == f"partitioned by fault f1 ({db1}): {db1} eth0 drops every packet"
    assert t.hops[-1].stage == "drop" and t.hops[-1].node == "worker2"
    assert "deliver" not in [h.stage for h in t.hops]
    assert hits[-1].hop == len(t.hops) - 1
    # a node partitioned: dropped on the wire into it
    t, _ = _trace(state, plan, db0, f"{db1}:5432", [fault(plan, ["node/worker2"], partition=True)])
    assert [h.stage for h in t.hops][-2:] == ["underlay", "drop"]
    # a link between the pods, reached through a Service: picked after DNAT, on the sender's node
    worker = pod(state, "shop/worker")
    via = trace(state, worker, "svc/shop/api:8080")
    assert via.backend is not None
    other = next(k for k in (pod(state, "shop/api-6f4fc6b765-8mmls"),
                             pod(state, "shop/api-6f4fc6b765-lzf8n"))
                 if k != via.backend["pod"])
    t, hits = _trace(state, plan, worker, "svc/shop/api:8080",
                     [fault(plan, [other, worker], partition=True)])
    assert t.verdict == "delivered" and hits == []  # the other backend's link: not on the path
    t, _ = _trace(state, plan, worker, "svc/shop/api:8080",
                  [fault(plan, [via.backend["pod"], worker], partition=True)])
    assert t.verdict == "dropped" and t.hops[-1].stage == "drop"
    assert t.hops[-2].stage == "route" and t.hops[-1].node == "worker2"  # before encap
    assert "link" in t.reason
    # total loss on the way back: delivered there, but nothing comes back
    t, _ = _trace(state, plan, db0, f"{db1}:5432", [fault(plan, [db1], loss="100")])
    assert t.verdict == "dropped" and t.reason.startswith("the replies are lost: fault f1")
    assert t.hops[-1].stage == "deliver"


def test_trace_link_between_nodes_and_outside_traffic(
        shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    link = fault(plan, ["node/worker", "node/worker2"], loss="20")
    t, hits = _trace(state, plan, pod(state, "data/db-0"), f"{pod(state, 'data/db-1')}:5432",
                     [link])
    assert [h.direction for h in hits] == ["both"]
    assert any("get through 64% of the time" in n for n in t.notes)
    # NodePort from outside: the node's egress is crossed by the replies (to the router) and,
    # when the backend is elsewhere, by the request
    t = trace(state, "outside", "172.18.0.3:30080")
    hits = F.on_trace(t, [fault(plan, ["node/worker"], loss="10")], plan.node_names)
    dirs = {h.direction for h in hits}
    assert "reply" in dirs
    if t.backend and t.backend.get("node") != "worker":
        assert dirs == {"request", "reply"}


def test_trace_cli_shows_faults_of_the_stored_cluster(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        shop: tuple[ClusterState, NetworkPlan]) -> None:
    from podnet.cli.main import cli
    from podnet.linux import fault as fio

    state, plan = shop
    monkeypatch.setenv("PODNET_HOME", str(tmp_path))
    r = CliRunner().invoke(cli, ["apply", "-f", EXAMPLE])
    assert r.exit_code == 0, r.output
    db1 = pod(state, "data/db-1")
    monkeypatch.setattr(fio, "load_faults",
                        lambda cluster: [fault(plan, [db1], partition=True)])
    r = CliRunner().invoke(cli, ["trace", "data/db-0", "data/db-1:5432", "-o", "json"])
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "dropped" and doc["faults"][0]["id"] == "f1"
    assert doc["hops"][-1]["stage"] == "drop" and doc["hops"][-1]["faults"][0]["drops"]
    r = CliRunner().invoke(cli, ["trace", "data/db-0", "data/db-1:5432"])
    assert "↳ fault f1 (data/db-1): partitioned" in r.stdout
    # manifests alone: no faults
    r = CliRunner().invoke(cli, ["trace", "data/db-0", "data/db-1:5432", "-f", EXAMPLE])
    assert "↳ fault" not in r.stdout and "\ndelivered: " in r.stdout


def test_fault_commands_without_a_running_cluster(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from podnet.cli.main import cli

    monkeypatch.setenv("PODNET_HOME", str(tmp_path))
    r = CliRunner().invoke(cli, ["fault", "add", "node/worker", "--loss", "120"])
    assert r.exit_code == 1
    assert 'invalid argument "120" for "--loss" flag' in r.stderr
    r = CliRunner().invoke(cli, ["fault", "list", "-o", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == {"cluster": "default", "faults": []}
    r = CliRunner().invoke(cli, ["fault", "rm", "f1"])
    assert r.exit_code == 1 and 'faults "f1" not found' in r.stderr
    r = CliRunner().invoke(cli, ["fault", "rm"])
    assert r.exit_code == 1 and "--all" in r.stderr


def test_trace_marks_the_dns_query_not_the_verdict(shop: tuple[ClusterState, NetworkPlan]) -> None:
    state, plan = shop
    worker = pod(state, "shop/worker")  # on worker2; CoreDNS runs on control-plane
    t, hits = _trace(state, plan, worker, "api:8080",
                     [fault(plan, ["node/control-plane"], partition=True)])
    assert t.verdict == "delivered"  # kube-dns has other endpoints; the resolver retries
    assert [(h.hop, h.dns, t.hops[h.hop].stage) for h in hits] == [(0, True, "dns")]
    assert any("partitions the DNS query's path (control-plane eth0)" in n for n in t.notes)
    assert "the DNS query is dropped" in F.trace_text(t, hits)
