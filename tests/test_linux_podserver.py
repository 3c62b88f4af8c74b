"""The pods' built-in test server, without root: its answers (pure) and its sockets on loopback."""

from __future__ import annotations

import asyncio
import json
import socket

from podnet.servers.podserver import PodIdentity, PodServer, http_answer, plain_socket, udp_answer

IDENT = PodIdentity("shop", "api-1", "10.244.1.5", "worker", "api-1", "unused",
                    {8080: "shop/api"}, bind="127.0.0.1")


def test_http_paths() -> None:
    client = ("10.244.2.3", 40000)
    assert http_answer(IDENT, 8080, "GET", "/hostname", [], client)[2] == b"api-1"
    assert http_answer(IDENT, 8080, "GET", "/clientip", [], client)[2] == b"10.244.2.3:40000"
    assert http_answer(IDENT, 8080, "GET", "/echo?msg=hi%20there", [], client)[2] == b"hi there"
    status, ctype, body = http_answer(IDENT, 8080, "POST", "/v1/items?x=1",
                                      [("Host", "api"), ("X-A", "1"), ("X-A", "2")], client)
    doc = json.loads(body)
    assert status == 200 and ctype == "application/json"
    assert doc == {"pod": "shop/api-1", "service": "shop/api", "port": 8080, "method": "POST",
                   "path": "/v1/items?x=1", "headers": {"Host": "api", "X-A": "1, 2"},
                   "client_ip": "10.244.2.3", "protocol": "HTTP/1.1"}
    # no command execution path
    assert json.loads(http_answer(IDENT, 8080, "GET", "/shell?cmd=id", [], client)[2])["path"] \
        == "/shell?cmd=id"


def test_udp_commands() -> None:
    c = ("10.0.0.1", 5)
    assert udp_answer(IDENT, b"hostname\n", c) == b"api-1"
    assert udp_answer(IDENT, b"echo abc", c) == b"abc"
    assert udp_answer(IDENT, b"clientip", c) == b"10.0.0.1:5"
    assert udp_answer(IDENT, b"?", c).startswith(b"shop/api-1 ip=10.244.1.5")


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serves_tcp_http_keepalive_raw_and_udp_on_loopback() -> None:
    port = _free()

    async def run() -> None:
        srv = PodServer(None, socket_factory=plain_socket)
        problems = await srv.add_pod(IDENT, [(port, "TCP"), (port, "UDP")])
        assert problems == []
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            for path in ("/hostname", "/echo?msg=x"):
                w.write(f"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n".encode())
                await w.drain()
                head = await r.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await r.readexactly(length)
                assert head.startswith(b"HTTP/1.1 200") and body in (b"api-1", b"x")
            w.close()
            r, w = await asyncio.open_connection("127.0.0.1", port)
            line = await asyncio.wait_for(r.readline(), 2)  # silent client: the server speaks
            assert line.startswith(b"shop/api-1 ip=10.244.1.5 node=worker client=127.0.0.1:")
            w.close()
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[bytes] = loop.create_future()

            class P(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: object) -> None:
                    fut.set_result(data)

            tr, _ = await loop.create_datagram_endpoint(P, remote_addr=("127.0.0.1", port))
            tr.sendto(b"hostname")
            assert await asyncio.wait_for(fut, 2) == b"api-1"
            tr.close()
            assert srv.requests == 2
            taken = await srv.add_pod(PodIdentity("x", "y", "1.1.1.1", "n", "y", "unused",
                                                  bind="127.0.0.1"), [(port, "TCP"), (1, "XYZ")])
            assert len(taken) == 2 and "cannot listen" in taken[0] and "unknown" in taken[1]
        finally:
            await srv.close()

    asyncio.run(run())


def test_sctp_is_served_where_the_kernel_has_it_and_named_where_it_does_not() -> None:
    """An SCTP containerPort: a real SCTP listener when the kernel has SCTP (a silent client gets
    the pod's line, as on TCP); otherwise one problem sentence naming the port, and the pod's
    other ports are served regardless."""
    from podnet.linux.preflight import sctp_supported

    sctp, tcp = _free(), _free()

    async def run() -> None:
        srv = PodServer(None, socket_factory=plain_socket)
        problems = await srv.add_pod(IDENT, [(sctp, "SCTP"), (tcp, "TCP")])
        try:
            if sctp_supported():
                assert problems == []
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
                s.setblocking(False)
                loop = asyncio.get_running_loop()
                await loop.sock_connect(s, ("127.0.0.1", sctp))
                line = await asyncio.wait_for(loop.sock_recv(s, 4096), 2)
                s.close()
                assert line.startswith(b"shop/api-1 ip=10.244.1.5")
            else:
                assert problems == [f"shop/api-1: cannot listen on {sctp}/SCTP: Protocol not supported"]
            r, w = await asyncio.open_connection("127.0.0.1", tcp)
            assert (await asyncio.wait_for(r.readline(), 2)).startswith(b"shop/api-1 ip=")
            w.close()
        finally:
            await srv.close()

    asyncio.run(run())
