"""The ``loop`` plugin and ``forward``'s connection reuse, against real sockets on 127.0.0.1.

Expectations come from CoreDNS's documentation and source: plugin/loop (the probe is ``HINFO
<random>.<random>.<zone>``, seen more than twice is a loop, CoreDNS halts with ``Loop (… -> …)
detected for zone …``) and plugin/forward + plugin/pkg/proxy (connections to an upstream are
kept and reused, one query at a time, FIFO; idle ones are closed after ``expire``, 10 s by
default; a cached connection the upstream closed is replaced without an error;
``coredns_proxy_conn_cache_hits_total``/``_misses_total``). Every upstream is a stub the test
runs itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from podnet.cluster.state import ClusterState
from podnet.dns.corefile import parse_corefile
from podnet.dns.loop import LoopProbe, probe_name
from podnet.servers.dns import DnsServer
from test_dns_server_cli import _env, _Lines
from test_dns_server_support import (
    EXAMPLE,
    LOOPBACK,
    ServerThread,
    StubUpstream,
    cluster_state,
    query,
    rdatas,
    snapshot,
)

FATAL = re.compile(
    r'\[FATAL\] plugin/loop: Loop \(127\.0\.0\.1:\d+ -> 127\.0\.0\.1:(\d+)\) detected for zone '
    r'"\.", see https://coredns\.io/plugins/loop#troubleshooting\. Query: "HINFO (\d+)\.(\d+)\."')


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> ClusterState:
    return cluster_state(tmp_path_factory.mktemp("loopfwd"))


def _probe_corefile(upstream: str, extra: str = "") -> str:
    return f".:53 {{\n    errors\n    loop\n    forward . {upstream} {{\n{extra}    }}\n}}\n"


def _start_probes(srv: ServerThread) -> threading.Event:
    """Start the loop plugin's probe as ``podnet dns serve`` does once it answers; the event is
    set when the server halts."""
    halted = threading.Event()

    def go() -> None:
        srv.server.on_halt = lambda line: halted.set()
        srv.server.start_loop_probes()

    srv.loop.call_soon_threadsafe(go)
    return halted


def _wait(cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return True
        time.sleep(0.02)
    return False


# ------------------------------------------------------------------------------ loop: pure


def test_probe_name_is_two_numbers_under_the_zone() -> None:
    assert probe_name(".", 4547991504243258144, 3688648895315093531) == \
        "4547991504243258144.3688648895315093531."
    assert probe_name("Cluster.Local.", 1, 2) == "1.2.cluster.local."


def test_loop_probe_counts_only_its_hinfo_and_stops_when_disabled() -> None:
    p = LoopProbe.new(".", 11, 22)
    hinfo = dns.rdatatype.HINFO
    p = p.observe("11.22.", dns.rdatatype.A).observe("12.22.", hinfo)
    assert p.seen == 0
    for _ in range(2):
        p = p.observe("11.22.", hinfo)
    assert not p.looping  # twice is not a loop
    p = p.observe("11.22.", hinfo)
    assert p.looping
    assert p.reset().seen == 0
    off = p.disabled()
    assert not off.looping and off.observe("11.22.", hinfo).seen == off.seen
    assert p.message("127.0.0.1:55953", ":1053") == (
        'Loop (127.0.0.1:55953 -> :1053) detected for zone ".", see '
        'https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO 11.22."')


# ------------------------------------------------------------------------------ loop: server


def test_loop_detected_when_the_upstream_forwards_back(state: ClusterState) -> None:
    with StubUpstream() as relay:
        snap = snapshot(state, _probe_corefile(relay.addr))
        with ServerThread(snap) as srv:
            relay.relay_to = (LOOPBACK, srv.port)
            halted = _start_probes(srv)
            assert halted.wait(10), f"no loop detected; log: {srv.lines}"
            line = srv.server.halted
            assert line is not None
            m = FATAL.fullmatch(line)
            assert m, line
            assert int(m.group(1)) == srv.port
            assert line in srv.lines
            name = f"{m.group(2)}.{m.group(3)}."
            # the probe went out through forward and came back more than twice
            assert relay.queries("HINFO").count(name) >= 2


def test_no_loop_the_probe_is_forwarded_once_and_the_server_keeps_answering(state: ClusterState) -> None:
    with StubUpstream() as up:
        snap = snapshot(state, _probe_corefile(up.addr))
        with ServerThread(snap) as srv:
            halted = _start_probes(srv)
            assert _wait(lambda: all(p.off for p in srv.server.loops) and srv.server.loops, 5)
            names = up.queries("HINFO")
            assert len(names) == 1 and re.fullmatch(r"\d+\.\d+\.", names[0]), names
            assert not halted.is_set() and srv.server.halted is None
            assert srv.alive()


def test_loop_probe_only_for_blocks_with_the_plugin(state: ClusterState) -> None:
    corefile = (".:53 {\n    forward . 127.0.0.1:9\n}\n"
                "example.org:53 {\n    loop\n    forward . 127.0.0.1:9\n}\n")
    srv = DnsServer(snapshot(state, corefile), host=LOOPBACK, port=0)
    assert srv.loop_zones() == ["example.org."]


def test_serve_exits_1_on_a_forwarding_loop(tmp_path: Path) -> None:
    corefile = tmp_path / "Corefile"
    # silent until it knows where to relay: a probe that came back answered would end probing
    with StubUpstream(silent=True) as relay:
        corefile.write_text(".:53 {\n    errors\n    kubernetes cluster.local\n    loop\n"
                            f"    forward . {relay.addr}\n}}\n")
        proc = subprocess.Popen(
            [sys.executable, "-m", "podnet.cli.main", "dns", "serve", "-f", str(EXAMPLE),
             "--corefile", str(corefile), "--listen", "127.0.0.1:0"],
            env=_env(tmp_path / "home"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        try:
            assert proc.stdout is not None and proc.stderr is not None
            out, err = _Lines(proc.stdout), _Lines(proc.stderr)
            m = out.wait_for(r"listening on 127\.0\.0\.1:(\d+)\n", 60)
            assert m, "".join(err.lines)
            # the first probe may have been dropped before the relay knew where to send it:
            # the plugin tries again a second later
            relay.relay_to = (LOOPBACK, int(m.group(1)))
            code = proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
        out.thread.join(5)
    assert code == 1
    fatal = [line.rstrip("\n") for line in out.lines if "[FATAL]" in line]
    assert len(fatal) == 1 and FATAL.fullmatch(fatal[0]), out.lines


# ------------------------------------------------------------------------------ forward: reuse


def _ext(i: int) -> str:
    return f"host{i}.example.org."


def _answers(n: int) -> dict[tuple[str, str], list[str]]:
    return {(_ext(i), "A"): [f"192.0.2.{i + 1}"] for i in range(n)}


def _metric(text: str, name: str, to: str, proto: str) -> int:
    m = re.search(rf'{name}\{{proto="{proto}",proxy_name="forward",to="{re.escape(to)}"\}} (\d+)', text)
    return int(m.group(1)) if m else 0


def test_forward_reuses_one_tcp_connection_and_closes_it_after_expire(state: ClusterState) -> None:
    with StubUpstream(_answers(5), tcp_keep=True) as up:
        snap = snapshot(state, _probe_corefile(up.addr, "        force_tcp\n        expire 1s\n")
                        .replace("    loop\n", ""))
        with ServerThread(snap) as srv:
            for i in range(5):
                r = srv.udp(query(_ext(i)))
                assert rdatas(r) == [f"192.0.2.{i + 1}"]
            last = time.monotonic()
            assert up.tcp_connections == 1
            assert len(up.queries("A")) == 5
            text = srv.metrics_text()
            assert _metric(text, "coredns_proxy_conn_cache_misses_total", up.addr, "tcp") == 1
            assert _metric(text, "coredns_proxy_conn_cache_hits_total", up.addr, "tcp") == 4
            # idle for expire: the server closes it
            assert _wait(lambda: up.tcp_hangups == 1, 5), "the idle connection was never closed"
            idle = up.hangup_times[0] - last
            assert 0.9 <= idle < 3.0, idle
            r = srv.udp(query(_ext(0)))
            assert r.rcode() == dns.rcode.NOERROR
            assert up.tcp_connections == 2


def test_forward_default_expire_keeps_the_connection(state: ClusterState) -> None:
    with StubUpstream(_answers(2), tcp_keep=True) as up:
        snap = snapshot(state, _probe_corefile(up.addr, "        force_tcp\n").replace("    loop\n", ""))
        with ServerThread(snap) as srv:
            srv.udp(query(_ext(0)))
            time.sleep(1.5)  # well below the default 10 s
            srv.udp(query(_ext(1)))
            assert up.tcp_connections == 1 and up.tcp_hangups == 0
        # the server closes its pooled connections when it stops
        assert _wait(lambda: up.tcp_hangups == 1, 5)


def test_forward_replaces_a_connection_the_upstream_closed(state: ClusterState) -> None:
    # the stub answers one query per connection, then hangs up
    with StubUpstream(_answers(4)) as up:
        snap = snapshot(state, _probe_corefile(up.addr, "        force_tcp\n").replace("    loop\n", ""))
        with ServerThread(snap) as srv:
            for i in range(4):
                r = srv.udp(query(_ext(i)))
                assert r.rcode() == dns.rcode.NOERROR, i
                assert rdatas(r) == [f"192.0.2.{i + 1}"]
                time.sleep(0.05)
            assert up.tcp_connections == 4
            assert not [line for line in srv.lines if "plugin/errors" in line]


def test_forward_reuses_the_udp_socket(state: ClusterState) -> None:
    with StubUpstream(_answers(5)) as up:
        snap = snapshot(state, _probe_corefile(up.addr).replace("    loop\n", ""))
        with ServerThread(snap) as srv:
            for i in range(5):
                assert rdatas(srv.udp(query(_ext(i)))) == [f"192.0.2.{i + 1}"]
            assert len(set(up.udp_sources)) == 1, up.udp_sources
            text = srv.metrics_text()
            assert _metric(text, "coredns_proxy_conn_cache_hits_total", up.addr, "udp") == 4
            assert _metric(text, "coredns_proxy_conn_cache_misses_total", up.addr, "udp") == 1


def test_prefer_udp_truncated_reply_retried_on_a_reused_tcp_connection(state: ClusterState) -> None:
    names = frozenset({_ext(0), _ext(1)})
    with StubUpstream(_answers(2), tcp_keep=True, truncate=names) as up:
        snap = snapshot(state, _probe_corefile(up.addr, "        prefer_udp\n").replace("    loop\n", ""))
        with ServerThread(snap) as srv:
            for i in range(2):
                r = srv.tcp(query(_ext(i)))
                assert rdatas(r) == [f"192.0.2.{i + 1}"]
            assert up.tcp_connections == 1
            assert len(up.queries("A")) == 4  # each: UDP (truncated), then TCP


def test_forward_max_idle_conns_and_max_age_parsed() -> None:
    cf = parse_corefile(".:53 {\n    forward . 127.0.0.1 {\n        expire 3s\n"
                        "        max_idle_conns 2\n        max_age 1m\n    }\n}\n")
    fwd = cf.blocks[0].forward[0]
    assert (fwd.expire, fwd.max_idle_conns, fwd.max_age) == (3.0, 2, 60.0)
    assert parse_corefile(".:53 {\n    forward . 127.0.0.1\n}\n").blocks[0].forward[0].expire == 10.0


# ------------------------------------------------------------------------------ loop: reload


def test_a_reloaded_corefile_probes_again_with_a_new_name(state: ClusterState) -> None:
    """CoreDNS sets a reloaded server up anew: loop's OnStartup sends a fresh HINFO probe (a
    new random name). Answering from a new zone alone (the same Corefile) probes nothing."""
    with StubUpstream() as up:
        snap = snapshot(state, _probe_corefile(up.addr))
        with ServerThread(snap) as srv:
            _start_probes(srv)
            assert _wait(lambda: len(up.queries("HINFO")) == 1, 5)
            first = up.queries("HINFO")[0]
            # the zone changes (the cluster's state), the Corefile does not: no new probe
            srv.loop.call_soon_threadsafe(srv.server.reload, snapshot(state, _probe_corefile(up.addr)))
            time.sleep(0.5)
            assert up.queries("HINFO") == [first]
            # the Corefile changes (another option of forward): a new probe, a new name
            changed = snapshot(state, _probe_corefile(up.addr, "        max_fails 3\n"))
            srv.loop.call_soon_threadsafe(srv.server.reload, changed)
            assert _wait(lambda: len(up.queries("HINFO")) == 2, 5), up.queries("HINFO")
            second = up.queries("HINFO")[1]
            assert second != first and re.fullmatch(r"\d+\.\d+\.", second)
            assert [p.qname for p in srv.server.loops] == [second]
            assert srv.server.halted is None and srv.alive()
