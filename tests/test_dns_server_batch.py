"""The batched UDP path (recvmmsg/sendmmsg, :mod:`podnet.servers.dns_udp`) against real sockets:
the same bytes as asyncio's datagram transport, each reply with its query's ID to the socket that
asked, IPv6 as well as IPv4, and the counters of both families.
"""

from __future__ import annotations

import re
import socket

import dns.message
import dns.query
import dns.rcode
import pytest

from podnet.cluster.state import ClusterState
from podnet.servers import dns_udp
from podnet.servers.dns import DnsServer, Tuning
from podnet.servers.runtime import new_event_loop
from test_dns_server_support import (
    CLUSTER_ONLY_COREFILE,
    LOOPBACK,
    ServerThread,
    cluster_state,
    query,
    rdatas,
    service,
    snapshot,
)

pytestmark = pytest.mark.skipif(not dns_udp.available(), reason="no recvmmsg/sendmmsg here")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> ClusterState:
    return cluster_state(tmp_path_factory.mktemp("batch"))


def test_batched_and_plain_udp_answer_alike(state: ClusterState) -> None:
    """The recvmmsg/sendmmsg path and asyncio's datagram transport give the same bytes."""
    snap = snapshot(state, CLUSTER_ONLY_COREFILE)
    q = query("SVC1.testns.svc.cluster.local.", "A", use_edns=0, payload=1232)
    got = []
    for batch in (True, False):
        with ServerThread(snap, Tuning(batch=batch)) as srv:
            first = srv.raw_udp(q.to_wire())
            second = srv.raw_udp(q.to_wire())  # a wire-cache hit
            assert first is not None and second is not None
            assert first == second
            got.append(first)
    assert got[0] == got[1]


def test_batch_of_many_clients_each_gets_its_own_id(state: ClusterState) -> None:
    """Many queries in flight at once (one recvmmsg batch): every reply carries its query's
    ID and goes back to the socket that asked."""
    snap = snapshot(state, CLUSTER_ONLY_COREFILE)
    with ServerThread(snap) as srv:
        srv.udp(query("svc1.testns.svc.cluster.local."))  # cached
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
        try:
            sent: dict[int, tuple[socket.socket, int]] = {}
            for k, s in enumerate(socks):
                for j in range(10):
                    q = query("svc1.testns.svc.cluster.local." if j % 2 else "missing.testns.svc.cluster.local.")
                    q.id = k * 100 + j
                    s.sendto(q.to_wire(), (LOOPBACK, srv.port))
                    sent[q.id] = (s, j)
            for s in socks:
                s.settimeout(3)
                for _ in range(10):
                    r = dns.message.from_wire(s.recv(4096))
                    owner, j = sent.pop(r.id)
                    assert owner is s
                    assert r.rcode() == (dns.rcode.NOERROR if j % 2 else dns.rcode.NXDOMAIN)
            assert not sent
        finally:
            for s in socks:
                s.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_batched_udp_over_ipv6(state: ClusterState) -> None:
    import asyncio
    import threading

    loop = new_event_loop()
    srv = DnsServer(snapshot(state, CLUSTER_ONLY_COREFILE), host="::1", port=0)
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    try:
        _, port = asyncio.run_coroutine_threadsafe(srv.start(), loop).result(10)
        ip = service(state, "testns", "svc1").spec.cluster_ip
        for i in range(3):  # a miss, then hits from the batch path
            q = query("svc1.testns.svc.cluster.local.")
            r = dns.query.udp(q, "::1", port=port, timeout=3)
            assert r.id == q.id and rdatas(r) == [ip], i
        text = asyncio.run_coroutine_threadsafe(_render(srv), loop).result(5)
        m = re.search(r'coredns_dns_requests_total\{family="2",proto="udp",[^}]*type="A"[^}]*\} (\d+)', text)
        assert m and int(m.group(1)) == 3, text
    finally:
        asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        loop.close()


async def _render(srv: DnsServer) -> str:
    return srv.metrics.render()


def test_batched_udp_counts_every_hit(state: ClusterState) -> None:
    snap = snapshot(state, CLUSTER_ONLY_COREFILE)
    with ServerThread(snap) as srv:
        for _ in range(25):
            assert srv.udp(query("svc1.testns.svc.cluster.local.")).rcode() == dns.rcode.NOERROR
        text = srv.metrics_text()
        m = re.search(r'coredns_dns_requests_total\{family="1",proto="udp",[^}]*type="A"[^}]*\} (\d+)', text)
        assert m and int(m.group(1)) == 25, text
        assert "podnet_dns_wire_cache_hits_total 24" in text
        assert re.search(r'coredns_dns_request_duration_seconds_count\{[^}]*type="A"[^}]*\} 25', text)
