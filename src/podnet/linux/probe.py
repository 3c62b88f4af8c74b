"""Real traffic from inside a namespace: ping, TCP, UDP and HTTP, with sockets opened there.

Used by the tests and by live checks: a socket created inside a pod's namespace sends from that
pod, through its eth0, routes, node, rules and tunnels — the real path. No external tool needed.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass

from podnet.linux import netns


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(ns: str, dst: str, timeout: float = 1.0, count: int = 3) -> float | None:
    """ICMP echo from ``ns`` to ``dst``: up to ``count`` echoes, ``timeout`` seconds each; the
    round-trip time of the first reply, None if none. More than one echo because the first can
    be spent on ARP resolution of a freshly built path on a busy machine."""
    sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        ident = os.getpid() & 0xFFFF
        for seq in range(1, count + 1):
            payload = b"podnet-ping" + struct.pack("!d", time.monotonic())
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
            start = time.monotonic()
            sock.sendto(packet, (dst, 0))
            deadline = start + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    data, addr = sock.recvfrom(2048)
                except (socket.timeout, TimeoutError):
                    break
                ihl = (data[0] & 0x0F) * 4
                typ, _code, _ck, rid, rseq = struct.unpack("!BBHHH", data[ihl: ihl + 8])
                if typ == 0 and rid == ident and rseq == seq and addr[0] == dst:
                    return time.monotonic() - start
        return None
    finally:
        sock.close()


@dataclass(frozen=True, slots=True)
class Reply:
    ok: bool
    data: bytes = b""
    error: str = ""
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def tcp(ns: str, host: str, port: int, send: bytes = b"", timeout: float = 2.0) -> Reply:
    """Connect from ``ns`` to ``host:port``, send ``send``, read the answer (until EOF)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    start = time.monotonic()
    sock = netns.socket_in(ns, family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
            if send:
                sock.sendall(send)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as e:
            return Reply(False, b"", e.strerror or str(e) or type(e).__name__,
                         time.monotonic() - start)
        return Reply(True, b"".join(chunks), "", time.monotonic() - start)
    finally:
        sock.close()


def connect(ns: str, host: str, port: int, timeout: float = 2.0) -> Reply:
    """Whether a TCP handshake from ``ns`` to ``host:port`` completes — what "connected" means
    for reachability. Nothing is read: a TLS server or any protocol where the client speaks first
    stays silent after the handshake, and waiting for its first byte would call it unreachable."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    start = time.monotonic()
    sock = netns.socket_in(ns, family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except OSError as e:
            return Reply(False, b"", e.strerror or str(e) or type(e).__name__,
                         time.monotonic() - start)
        return Reply(True, b"", "", time.monotonic() - start)
    finally:
        sock.close()


def udp(ns: str, host: str, port: int, send: bytes = b"hello\n", timeout: float = 2.0) -> Reply:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    start = time.monotonic()
    sock = netns.socket_in(ns, family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.sendto(send, (host, port))
            data, _ = sock.recvfrom(65536)
        except OSError as e:
            return Reply(False, b"", e.strerror or str(e) or type(e).__name__,
                         time.monotonic() - start)
        return Reply(True, data, "", time.monotonic() - start)
    finally:
        sock.close()


def http_get(ns: str, host: str, port: int, path: str = "/", timeout: float = 2.0,
             headers: dict[str, str] | None = None) -> tuple[int, bytes] | None:
    """A plain HTTP/1.1 GET from ``ns``; (status, body) or None when no answer."""
    head = {"Host": f"{host}:{port}", "Connection": "close", "User-Agent": "podnet-probe"}
    head.update(headers or {})
    req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
    r = tcp(ns, host, port, req.encode(), timeout)
    if not r.ok or not r.data:
        return None
    head_b, _, body = r.data.partition(b"\r\n\r\n")
    try:
        status = int(head_b.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None
    if b"transfer-encoding: chunked" in head_b.lower():
        body = _unchunk(body)
    return status, body


def _unchunk(body: bytes) -> bytes:
    out = []
    while body:
        size_s, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_s.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out.append(rest[:size])
        body = rest[size + 2:]
    return b"".join(out)
