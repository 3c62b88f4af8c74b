"""The proxy as an HTTP server: keep-alive, streaming, chunked, WebSocket, bad requests, slow
clients, dead and slow backends — through ``podnet ingress serve``.

Sources: RFC 9112 (HTTP/1.1 message framing, persistent connections, pipelining), RFC 6455
(WebSocket handshake: ``Sec-WebSocket-Accept``), and nginx/ingress-nginx behaviour:
``docs/user-guide/nginx-configuration/configmap.md`` (``client-header-timeout``,
``proxy-body-size`` 1m → 413, ``proxy-read-timeout``, ``proxy-next-upstream-tries``),
``annotations.md`` "Custom timeouts" and "Custom max body size", nginx's 400 for a request it
cannot parse and for an HTTP/1.1 request without Host, 414 for an overlong request line, 502
when no upstream can be connected to (after trying the next one), 504 when an upstream times out,
and the ``upstreaminfo`` access-log format (``log-format.md``).

Backends the tests need to misbehave are the tests' own raw sockets on 127.0.0.1, put in place
of pods with ``serve --backend-map`` (the map ``podnet ingress backends`` writes).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ingress_support import (
    LOOPBACK,
    RawBackend,
    Served,
    app,
    closed_port,
    endpoints,
    ingress,
    namespace,
    raw_exchange,
    read_request,
    request,
    serving,
    start,
    stop,
    write_manifests,
)

NS = "px"
A = "nginx.ingress.kubernetes.io/"


def _emulated_docs() -> list[dict]:  # type: ignore[type-arg]
    docs = [namespace(NS), *app(NS, "web", replicas=2), *app(NS, "big")]
    docs.append(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
         "data": {"client-header-timeout": "2", "client-body-timeout": "2"}}
    )
    docs.append(ingress(NS, "web", [("web.example", [("/", "Prefix", "web", 80)])]))
    docs.append(ingress(NS, "big", [("big.example", [("/", "Prefix", "big", 80)])], annotations={A + "proxy-body-size": "0"}))
    return docs


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("proxy"), _emulated_docs()) as s:
        yield s


# ------------------------------------------------------------------------------------ connections


def test_listening_lines_and_keep_alive(served: Served) -> None:
    assert served.listening == [f"listening on http://{LOOPBACK}:{served.http_port}",
                                f"listening on https://{LOOPBACK}:{served.https_port}"]
    conn = http.client.HTTPConnection(LOOPBACK, served.http_port, timeout=5)
    pods = set()
    local = None
    for _ in range(4):
        conn.request("GET", "/", headers={"Host": "web.example"})
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 200 and r.getheader("Connection") == "keep-alive"
        pods.add(body["pod"])
        assert conn.sock is not None
        name = conn.sock.getsockname()
        assert local in (None, name)  # one TCP connection for all four requests
        local = name
    conn.close()
    assert len(pods) == 2  # round-robin over the two ready pods


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    data = b"".join(f"GET /{i} HTTP/1.1\r\nHost: web.example\r\n\r\n".encode() for i in range(3))
    data += b"GET /last HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n"
    out = raw_exchange(served.http_port, data)
    paths = re.findall(rb'"path":"(/[^"]*)"', out)
    assert paths == [b"/0", b"/1", b"/2", b"/last"]
    assert out.count(b"HTTP/1.1 200 OK") == 4


def test_http10_closes_and_http10_keepalive_keeps(served: Served) -> None:
    out = raw_exchange(served.http_port, b"GET / HTTP/1.0\r\nHost: web.example\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in out
    with socket.create_connection((LOOPBACK, served.http_port), 5) as s:
        for _ in range(2):
            s.sendall(b"GET / HTTP/1.0\r\nHost: web.example\r\nConnection: keep-alive\r\n\r\n")
            head = s.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 ") and b"Connection: keep-alive" in head


def test_head_has_no_body(served: Served) -> None:
    r = request(served.http_port, "web.example", "/", method="HEAD")
    assert r.status == 200 and r.body == b"" and int(r.header("Content-Length") or 0) > 0
    # and the connection is still in sync for the next request
    with socket.create_connection((LOOPBACK, served.http_port), 5) as s:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: web.example\r\n\r\nGET /after HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    assert out.count(b"HTTP/1.1 200 OK") == 2 and b'"path":"/after"' in out


# ------------------------------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    "raw,status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.1\r\nHost: web.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        (b"GET /%zz HTTP/1.1\r\nHost: web.example\r\n\r\n", 400),
        (b"GET /../etc/passwd HTTP/1.1\r\nHost: web.example\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: web.example\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: web.example\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 400),
    ],
)
def test_malformed_requests_get_an_error_and_the_proxy_lives_on(served: Served, raw: bytes, status: int) -> None:
    out = raw_exchange(served.http_port, raw)
    assert out.startswith(f"HTTP/1.1 {status} ".encode()), out[:80]
    assert request(served.http_port, "web.example", "/").status == 200


def test_slow_client_gets_408_and_does_not_hold_others_up(served: Served) -> None:
    # client-header-timeout "2" in the controller's ConfigMap
    with socket.create_connection((LOOPBACK, served.http_port), 5) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: web.exa")
        t0 = time.time()
        assert request(served.http_port, "web.example", "/").status == 200
        assert time.time() - t0 < 1.5  # answered while the slow head is still pending
        slow.settimeout(8)
        out = slow.recv(65536)
        waited = time.time() - t0
    assert out.startswith(b"HTTP/1.1 408 Request Time-out")
    assert 1.5 <= waited <= 6


def test_many_idle_connections_do_not_block_the_proxy(served: Served) -> None:
    idle = [socket.create_connection((LOOPBACK, served.http_port), 5) for _ in range(200)]
    try:
        t0 = time.time()
        for _ in range(20):
            assert request(served.http_port, "web.example", "/").status == 200
        assert time.time() - t0 < 5
    finally:
        for s in idle:
            s.close()


def test_client_gone_mid_body(served: Served) -> None:
    with socket.create_connection((LOOPBACK, served.http_port), 5) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: big.example\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
    time.sleep(0.1)
    assert request(served.http_port, "web.example", "/").status == 200


# ------------------------------------------------------------------------------------ bodies


def test_body_size_limit_413(served: Served) -> None:
    # proxy-body-size defaults to 1m: a declared 2 MiB body is refused before it is read
    with socket.create_connection((LOOPBACK, served.http_port), 5) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: web.example\r\nContent-Length: 2097152\r\n\r\n")
        out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 413 Request Entity Too Large")


def test_chunked_upload_over_the_limit_is_413(served: Served) -> None:
    chunk = b"x" * 65536
    with socket.create_connection((LOOPBACK, served.http_port), 5) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: web.example\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(20):
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        s.settimeout(5)
        out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("chunked", [False, True])
def test_large_upload_passes_with_unlimited_body_size(served: Served, chunked: bool) -> None:
    body = b"y" * (8 * 1024 * 1024)
    conn = http.client.HTTPConnection(LOOPBACK, served.http_port, timeout=20)
    if chunked:
        conn.request("PUT", "/upload", body=iter([body[i:i + 1 << 20] for i in range(0, len(body), 1 << 20)]),
                     headers={"Host": "big.example"}, encode_chunked=True)
    else:
        conn.request("PUT", "/upload", body=body, headers={"Host": "big.example"})
    r = conn.getresponse()
    data = json.loads(r.read())
    conn.close()
    assert r.status == 200 and data["method"] == "PUT"
    if chunked:
        assert data["headers"]["Transfer-Encoding"] == "chunked"
    else:
        assert data["headers"]["Content-Length"] == str(len(body))


def test_expect_100_continue(served: Served) -> None:
    with socket.create_connection((LOOPBACK, served.http_port), 5) as s:
        s.sendall(b"POST /e HTTP/1.1\r\nHost: web.example\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"abcd")
        out = first
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    assert b"HTTP/1.1 200 OK" in out and b'"path":"/e"' in out


# ------------------------------------------------------------------------------------ websocket


def test_websocket_upgrade_is_passed_through(served: Served) -> None:
    key = base64.b64encode(b"0123456789abcdef").decode()
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    with socket.create_connection((LOOPBACK, served.http_port), 5) as s:
        s.sendall(
            (f"GET /ws HTTP/1.1\r\nHost: web.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert f"Sec-WebSocket-Accept: {accept}".encode() in head
        frame = b"\x81\x85\x01\x02\x03\x04" + bytes(b ^ m for b, m in zip(b"hello", b"\x01\x02\x03\x04\x01"))
        s.sendall(frame)
        got = b""
        while len(got) < len(frame):
            got += s.recv(4096)
        assert got == frame  # the emulated pod echoes what it receives, untouched by the proxy


# ------------------------------------------------------------------------------------ the access log


def test_access_log_upstreaminfo_format(served: Served) -> None:
    request(served.http_port, "web.example", "/logged?x=1", headers={"User-Agent": "tester/1", "Referer": "http://r/"})
    rx = re.compile(
        r'^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /logged\?x=1 HTTP/1\.1" 200 \d+ '
        r'"http://r/" "tester/1" \d+ \d+\.\d{3} \[px-web-80\] \[\] 10\.[\d.]+:8080 \d+ \d+\.\d{3} 200 [0-9a-f]{32}$'
    )
    assert served.out.wait_for(rx.pattern, 5) is not None, served.access_lines()[-3:]


# ------------------------------------------------------------------------------------ backends the tests control


def _mapped_docs() -> list[dict]:  # type: ignore[type-arg]
    docs = [namespace(NS)]
    for name, replicas in (("chunky", 1), ("dead", 2), ("half", 2), ("slow", 1), ("crash", 1), ("streamy", 1)):
        docs.extend(app(NS, name, replicas=replicas))
        ann = {A + "proxy-read-timeout": "1"} if name == "slow" else {A + "proxy-body-size": "0"}
        docs.append(ingress(NS, name, [(f"{name}.example", [("/", "Prefix", name, 80)])], annotations=ann))
    return docs


class Mapped:
    def __init__(self, served: Served, backends: dict[str, RawBackend], events: dict[str, threading.Event]) -> None:
        self.served = served
        self.backends = backends
        self.events = events


def _respond(conn: socket.socket, body: bytes = b"ok") -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mapped]:
    tmp = tmp_path_factory.mktemp("mapped")
    manifest = write_manifests(tmp / "m.yaml", _mapped_docs())
    home = tmp / "home"
    events = {k: threading.Event() for k in ("first-part", "rest-sent", "chunk1-read", "slow-release")}

    def chunky(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Pad: hidden\r\nServer: raw\r\n\r\n"
                     b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        read_request(conn, 2)

    def ok(conn: socket.socket) -> None:
        while True:
            head = read_request(conn, 10)
            if not head:
                return
            _respond(conn, b"alive")

    def slow(conn: socket.socket) -> None:
        read_request(conn)
        events["slow-release"].wait(10)

    def crash(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
        conn.shutdown(socket.SHUT_RDWR)

    def streamy(conn: socket.socket) -> None:
        head = read_request(conn)
        if b"POST" in head.split(b" ", 1)[0]:
            # the body's first part arrives while the client still holds the rest back
            got = head.split(b"\r\n\r\n", 1)[1]
            while b"part1" not in got:
                got += conn.recv(65536)
            events["first-part"].set()
            events["rest-sent"].wait(10)
            while b"part2" not in got:
                got += conn.recv(65536)
            _respond(conn, b"got both")
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nchunk1\r\n")
        events["chunk1-read"].wait(10)
        conn.sendall(b"6\r\nchunk2\r\n0\r\n\r\n")

    raw = {"chunky": RawBackend(chunky), "ok": RawBackend(ok), "slow": RawBackend(slow), "crash": RawBackend(crash),
           "streamy": RawBackend(streamy)}
    mapping: dict[str, dict[str, str]] = {}
    dead_port = closed_port()
    eps = endpoints(manifest, home, NS)
    for svc in ("chunky", "dead", "half", "slow", "crash", "streamy"):
        for i, (addr, port, _) in enumerate(eps[svc]):
            if svc == "dead" or (svc == "half" and i == 0):
                target = dead_port
            elif svc == "half":
                target = raw["ok"].port
            else:
                target = raw[svc].port
            mapping[f"{NS}/{svc} {addr}:{port}"] = {"http": f"{LOOPBACK}:{target}"}
    (tmp / "map.json").write_text(json.dumps(mapping))
    s = start(manifest, home, "--backend-map", str(tmp / "map.json"))
    try:
        yield Mapped(s, raw, events)
    finally:
        events["slow-release"].set()
        assert stop(s) == 0
        for b in raw.values():
            b.close()


def test_chunked_response_is_passed_on_and_hidden_headers_dropped(mapped: Mapped) -> None:
    r = request(mapped.served.http_port, "chunky.example", "/")
    assert r.status == 200 and r.body == b"hello world"
    assert r.header("Transfer-Encoding") == "chunked"
    assert r.header("X-Pad") is None and r.header("Server") == "nginx"


def test_response_is_streamed_not_buffered(mapped: Mapped) -> None:
    with socket.create_connection((LOOPBACK, mapped.served.http_port), 5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: streamy.example\r\n\r\n")
        s.settimeout(5)
        got = b""
        while b"chunk1" not in got:
            got += s.recv(65536)  # arrives while the backend still holds chunk2 back
        mapped.events["chunk1-read"].set()
        while b"0\r\n\r\n" not in got:
            got += s.recv(65536)
    assert b"chunk2" in got


def test_request_body_is_streamed_not_buffered(mapped: Mapped) -> None:
    with socket.create_connection((LOOPBACK, mapped.served.http_port), 5) as s:
        s.sendall(b"POST /up HTTP/1.1\r\nHost: streamy.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\npart1\r\n")
        assert mapped.events["first-part"].wait(5)  # the backend has it before the rest is sent
        s.sendall(b"5\r\npart2\r\n0\r\n\r\n")
        mapped.events["rest-sent"].set()
        s.settimeout(5)
        out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 200 ") and b"got both" in out


def test_no_backend_answering_is_502(mapped: Mapped) -> None:
    r = request(mapped.served.http_port, "dead.example", "/")
    assert r.status == 502 and r.reason == "Bad Gateway"
    # both endpoints were tried (proxy-next-upstream-tries 3 ≥ 2 endpoints)
    line = mapped.served.out.wait_for(r'"GET / HTTP/1\.1" 502 .* \[px-dead-80\] \[\] [\d.]+:8080, [\d.]+:8080 ', 5)
    assert line is not None


def test_connect_failure_moves_on_to_the_next_endpoint(mapped: Mapped) -> None:
    for _ in range(6):
        r = request(mapped.served.http_port, "half.example", "/")
        assert r.status == 200 and r.body == b"alive"


def test_silent_backend_is_504_after_proxy_read_timeout(mapped: Mapped) -> None:
    t0 = time.time()
    r = request(mapped.served.http_port, "slow.example", "/")
    assert r.status == 504 and r.reason == "Gateway Time-out"
    assert 0.9 <= time.time() - t0 < 4


def test_backend_dying_mid_response_does_not_take_the_proxy_down(mapped: Mapped) -> None:
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        request(mapped.served.http_port, "crash.example", "/")
    r = request(mapped.served.http_port, "chunky.example", "/")
    assert r.status == 200


def test_serve_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal

    docs = [namespace(NS), *app(NS, "web")]
    manifest = write_manifests(tmp_path / "m.yaml", docs)
    s = start(manifest, tmp_path / "home")
    assert request(s.http_port, "x", "/").status == 404
    assert stop(s, signal.SIGTERM) == 0
    s = start(manifest, tmp_path / "home")
    assert stop(s, signal.SIGINT) == 0


def test_serve_rejects_a_bad_listen_address(tmp_path: Path) -> None:
    from test_ingress_support import podnet

    manifest = write_manifests(tmp_path / "m.yaml", [namespace(NS)])
    r = podnet("ingress", "serve", "-f", str(manifest), "--listen", "nonsense", home=tmp_path / "home")
    assert r.returncode == 1 and "--listen" in r.stderr


def test_serving_is_idempotent_across_runs(served: Served) -> None:
    # a final sanity check after everything above: the shared server still answers
    assert request(served.http_port, "web.example", "/").status == 200


def test_serve_follows_a_stored_cluster(tmp_path: Path) -> None:
    import subprocess
    import sys

    from test_ingress_support import Lines, env, podnet

    home = tmp_path / "home"
    first = write_manifests(tmp_path / "a.yaml", [namespace(NS), *app(NS, "web"),
                                                  ingress(NS, "web", [("web.example", [("/", "Prefix", "web", 80)])])])
    assert podnet("apply", "-f", str(first), "--cluster", "live", home=home).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "podnet.cli.main", "ingress", "serve", "--cluster", "live",
                             "--listen", f"{LOOPBACK}:0", "--tls-listen", "off"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(home))
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        m = out.wait_for(r"^listening on http://127\.0\.0\.1:(\d+)$", 60)
        assert m is not None, err.lines
        port = int(m.group(1))
        assert request(port, "new.example", "/").status == 404
        second = write_manifests(tmp_path / "b.yaml", [*app(NS, "fresh"),
                                                       ingress(NS, "fresh", [("new.example", [("/", "Prefix", "fresh", 80)])])])
        assert podnet("apply", "-f", str(second), "--cluster", "live", home=home).returncode == 0
        assert err.wait_for("routes reloaded", 10) is not None, err.lines
        r = request(port, "new.example", "/")
        assert r.status == 200 and r.json["service"] == f"{NS}/fresh"
        assert request(port, "web.example", "/").status == 200
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
