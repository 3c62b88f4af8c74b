"""The pods' built-in test server: one asyncio process serving every pod, on every port it declares.

In the spirit of Kubernetes' own e2e helper (agnhost ``netexec``): a pod of the real data plane
that runs no command of its own answers, on each of its containerPorts, with who it is and who
asked. One process serves every pod, because a socket opened inside a network namespace stays in
that namespace: :meth:`PodServer.add_pod` opens the pod's listening sockets from inside the pod's
namespace (:func:`podnet.linux.netns.socket_in`) and hands them to the event loop.

What a client gets
------------------
TCP, speaking HTTP/1.x (keep-alive supported):

* ``/hostname`` — the pod's hostname (its name, or ``spec.hostname``), as agnhost answers;
* ``/clientip`` — ``IP:PORT`` of the client as the pod sees it (after any NAT on the way);
* ``/echo?msg=TEXT`` — TEXT;
* any other path (``/``, ``/health``, ``/api/v1/…``) — the JSON identity answer shared with the
  Ingress emulated backends (:func:`podnet.ingress.echo.answer`): pod, Service, port, method,
  path, headers, client_ip, protocol.
* ``/healthz``, ``/readyz``, ``/livez`` — the same, unless the pod's directory (``state_dir``,
  ``$PODNET_HOME/<cluster>/pods/<ns>_<pod>/``) holds a file of that name whose first word is an
  HTTP status code: then that status (``echo 503 > …/readyz`` makes a readinessProbe on
  ``/readyz`` fail; removing the file mends it). This is how a probe failure is staged for a
  built-in server; the file is read, never run, and only root can write there.

TCP not speaking HTTP (or silent for 300 ms after connecting): one line naming the pod, then close.
UDP (and SCTP where the kernel has it): agnhost's ``hostname`` / ``echo TEXT`` / ``clientip``
commands, and one line naming the pod for anything else.

There is deliberately no path that runs a command (agnhost's ``/shell`` is absent).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from podnet.ingress.echo import CONTENT_TYPE, answer_body

IPPROTO_SCTP = 132
#: How long a TCP client may stay silent before the server speaks first (raw TCP).
SILENT_AFTER = 0.3
MAX_HEADER = 64 * 1024
MAX_BODY = 1024 * 1024
_METHODS = (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"CONNECT", b"TRACE")

SocketFactory = Callable[[str, int, int, int], socket.socket]


@dataclass(frozen=True, slots=True)
class PodIdentity:
    """Who a pod is, as its server reports it."""

    namespace: str
    name: str
    ip: str
    node: str
    hostname: str
    #: The network namespace its sockets live in.
    netns: str
    #: port → "NS/SERVICE" (the Service whose endpoints list the pod on that port).
    services: Mapping[int, str] = field(default_factory=dict)
    #: The address the sockets bind to in that namespace (every address by default).
    bind: str = "0.0.0.0"
    #: Whether the pod has an IPv6 address too (dual stack): every port is then also served
    #: on ``::``, in a socket of its own (IPv6 only, so the IPv4 one keeps its clients' plain
    #: addresses).
    dual_stack: bool = False
    #: The pod's directory, where health overrides are read ("" for none).
    state_dir: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def line(self, client: str) -> bytes:
        return (f"{self.key} ip={self.ip} node={self.node} client={client}\n").encode()


def _ip_of(peer: Any) -> tuple[str, int]:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        if host.startswith("::ffff:"):
            host = host[7:]
        return host, int(peer[1])
    return "", 0


#: Paths whose answer a file of the same name in the pod's directory may override.
HEALTH_PATHS = frozenset({"/healthz", "/readyz", "/livez"})
_HEALTH_PREFIXES = tuple(sorted(HEALTH_PATHS))
_PHRASES = {s.value: s.phrase for s in HTTPStatus}


def parse_override(text: str) -> int | None:
    """The status code a health override file asks for (its first word), None if it is not one."""
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    if word.isdigit() and 100 <= int(word) <= 599:
        return int(word)
    return None


def read_override(ident: PodIdentity, target: str) -> int | None:
    """The override for ``target`` from the pod's directory (see the module doc), if any."""
    if not ident.state_dir or not target.startswith(_HEALTH_PREFIXES):
        return None  # the common case costs no parsing and no file system access
    path = unquote(urlsplit(target).path)
    if path not in HEALTH_PATHS:
        return None
    try:
        with open(os.path.join(ident.state_dir, path[1:]), encoding="utf-8") as f:
            return parse_override(f.read(64))
    except (OSError, UnicodeDecodeError):
        return None


def reason_phrase(status: int) -> str:
    return _PHRASES.get(status, "Unknown")


def http_answer(ident: PodIdentity, port: int, method: str, target: str,
                headers: Sequence[tuple[str, str]], client: tuple[str, int],
                version: str = "HTTP/1.1", override: int | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) for one HTTP request (pure); ``override`` is the status a
    health path was told to answer (:func:`read_override`)."""
    parts = urlsplit(target)
    path = unquote(parts.path)
    if override is not None and path in HEALTH_PATHS:
        text = f"{override} {reason_phrase(override)}\n"
        return override, "text/plain; charset=utf-8", text.encode()
    if path == "/hostname":
        return 200, "text/plain; charset=utf-8", ident.hostname.encode()
    if path == "/clientip":
        return 200, "text/plain; charset=utf-8", f"{client[0]}:{client[1]}".encode()
    if path == "/echo":
        msg = parse_qs(parts.query).get("msg", [""])[0]
        return 200, "text/plain; charset=utf-8", msg.encode()
    body = answer_body(pod=ident.key, service=ident.services.get(port), port=port, method=method,
                       path=target, headers=headers, client_ip=client[0], protocol=version)
    return 200, CONTENT_TYPE, body


def udp_answer(ident: PodIdentity, data: bytes, client: tuple[str, int]) -> bytes:
    """agnhost netexec's UDP commands (pure)."""
    text = data.decode("utf-8", "replace").strip()
    if text == "hostname":
        return ident.hostname.encode()
    if text == "clientip":
        return f"{client[0]}:{client[1]}".encode()
    if text.startswith("echo "):
        return text[5:].encode()
    return ident.line(f"{client[0]}:{client[1]}")


class PodLog:
    """Appends request lines to ``<dir>/<ns>_<pod>.log`` (what ``podnet logs`` shows)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self._files: dict[str, TextIO] = {}
        if directory:
            os.makedirs(directory, exist_ok=True)

    def path(self, key: str) -> str | None:
        if not self.directory:
            return None
        return os.path.join(self.directory, key.replace("/", "_") + ".log")

    def write(self, key: str, line: str) -> None:
        p = self.path(key)
        if p is None:
            return
        f = self._files.get(key)
        if f is None:
            f = open(p, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            self._files[key] = f
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        f.write(f"{stamp} {line}\n")

    def close(self, key: str | None = None) -> None:
        keys = [key] if key else list(self._files)
        for k in keys:
            f = self._files.pop(k, None)
            if f is not None:
                f.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: PodServer, ident: PodIdentity, port: int, proto: str) -> None:
        self.server, self.ident, self.port, self.proto = server, ident, port, proto
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = _ip_of(addr)
        reply = udp_answer(self.ident, data, client)
        if self.transport is not None:
            self.transport.sendto(reply, addr)
        self.server.log.write(self.ident.key, f"{self.proto} {self.port} from {client[0]}:{client[1]}")


class PodServer:
    """Serves every pod given to :meth:`add_pod`, from one event loop."""

    def __init__(self, log_dir: str | None = None,
                 socket_factory: SocketFactory | None = None) -> None:
        self.log = PodLog(log_dir)
        self._factory = socket_factory or _netns_socket
        self._servers: dict[str, list[asyncio.AbstractServer]] = {}
        self._transports: dict[str, list[asyncio.BaseTransport]] = {}
        self._conns: dict[str, set[asyncio.Task[Any]]] = {}
        self.idents: dict[str, PodIdentity] = {}
        self.requests = 0

    # ------------------------------------------------------------------ lifecycle

    def _sock(self, netns: str, family: int, type_: int, proto: int, port: int,
              bind: str = "0.0.0.0") -> socket.socket:
        s = self._factory(netns, family, type_, proto)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # IPv6 only: IPv4 has a socket of its own
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((bind, port))
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        return s

    async def add_pod(self, ident: PodIdentity, ports: Sequence[tuple[int, str]]) -> list[str]:
        """Listen on ``ports`` ((port, "TCP"|"UDP"|"SCTP")) in the pod's namespace.

        Returns the problems (a port in use, SCTP unsupported), one sentence each; the other
        ports are served regardless."""
        await self.remove_pod(ident.key)
        self.idents[ident.key] = ident
        servers: list[asyncio.AbstractServer] = []
        transports: list[asyncio.BaseTransport] = []
        problems: list[str] = []
        loop = asyncio.get_running_loop()
        binds = [(socket.AF_INET, ident.bind)]
        if ident.dual_stack and ident.bind == "0.0.0.0":
            binds.append((socket.AF_INET6, "::"))
        for port, proto in ports:
            for family, address in binds:
                try:
                    if proto in ("TCP", "SCTP"):
                        sproto = IPPROTO_SCTP if proto == "SCTP" else 0
                        s = self._sock(ident.netns, family, socket.SOCK_STREAM, sproto, port,
                                       address)
                        s.listen(512)

                        def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                                    _port: int = port, _proto: str = proto) -> Any:
                            return self._serve_stream(ident, _port, _proto, r, w)

                        servers.append(await asyncio.start_server(handler, sock=s))
                    elif proto == "UDP":
                        s = self._sock(ident.netns, family, socket.SOCK_DGRAM, 0, port, address)

                        def udp(_p: int = port) -> _Udp:
                            return _Udp(self, ident, _p, "UDP")

                        tr, _ = await loop.create_datagram_endpoint(udp, sock=s)
                        transports.append(tr)
                    else:
                        problems.append(f"{ident.key}: port {port}/{proto}: unknown protocol")
                        break
                except OSError as e:
                    problems.append(f"{ident.key}: cannot listen on {port}/{proto}"
                                    f"{' (IPv6)' if family == socket.AF_INET6 else ''}: "
                                    f"{e.strerror or e}")
        self._servers[ident.key] = servers
        self._transports[ident.key] = transports
        self.log.write(ident.key, "serving " + (", ".join(f"{p}/{t}" for p, t in ports) or
                                                 "no declared port"))
        return problems

    async def remove_pod(self, key: str) -> None:
        for srv in self._servers.pop(key, []):
            srv.close()
        for tr in self._transports.pop(key, []):
            tr.close()
        for task in self._conns.pop(key, set()):
            task.cancel()
        self.idents.pop(key, None)
        self.log.close(key)

    async def close(self) -> None:
        for key in list(self.idents):
            await self.remove_pod(key)
        self.log.close()

    @property
    def pods(self) -> list[str]:
        return sorted(self.idents)

    # ------------------------------------------------------------------ TCP / HTTP

    async def _serve_stream(self, ident: PodIdentity, port: int, proto: str,
                            reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        conns = self._conns.setdefault(ident.key, set())
        if task is not None:
            conns.add(task)
        client = _ip_of(writer.get_extra_info("peername"))
        try:
            try:
                first = await asyncio.wait_for(reader.readline(), SILENT_AFTER)
            except asyncio.TimeoutError:
                first = b""
            if first.split(b" ", 1)[0] in _METHODS and b"HTTP/" in first:
                await self._http(ident, port, reader, writer, client, first)
            else:
                writer.write(ident.line(f"{client[0]}:{client[1]}"))
                await writer.drain()
                self.log.write(ident.key, f"{proto} {port} from {client[0]}:{client[1]} (raw)")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            pass
        finally:
            if task is not None:
                conns.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _http(self, ident: PodIdentity, port: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, client: tuple[str, int], first: bytes) -> None:
        line = first
        while line:
            try:
                method_b, target_b, version_b = line.rstrip(b"\r\n").split(b" ", 2)
            except ValueError:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                await writer.drain()
                return
            method = method_b.decode("latin-1")
            target = target_b.decode("latin-1")
            version = version_b.decode("latin-1")
            headers: list[tuple[str, str]] = []
            size = 0
            while True:
                h = await reader.readline()
                size += len(h)
                if size > MAX_HEADER:
                    return
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                headers.append((name.strip(), value.strip()))
            lower = {k.lower(): v for k, v in headers}
            length = int(lower.get("content-length", "0") or 0)
            if length:
                await reader.readexactly(min(length, MAX_BODY))
            override = read_override(ident, target)
            status, ctype, body = http_answer(ident, port, method, target, headers, client, version,
                                              override)
            keep = version == "HTTP/1.1" and lower.get("connection", "").lower() != "close"
            if version == "HTTP/1.0" and lower.get("connection", "").lower() == "keep-alive":
                keep = True
            head = (f"{version if version.startswith('HTTP/1') else 'HTTP/1.1'} {status} "
                    f"{reason_phrase(status)}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    f"X-Podnet-Pod: {ident.key}\r\n"
                    f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n")
            writer.write(head.encode("latin-1") + (body if method != "HEAD" else b""))
            await writer.drain()
            self.requests += 1
            self.log.write(ident.key, f'{client[0]}:{client[1]} "{method} {target} {version}" '
                                      f"{status} {len(body)} port={port}")
            if not keep:
                return
            line = await reader.readline()


def _netns_socket(netns: str, family: int, type_: int, proto: int) -> socket.socket:
    from podnet.linux import netns as _netns

    return _netns.socket_in(netns, family, type_, proto)


def plain_socket(_netns: str, family: int, type_: int, proto: int) -> socket.socket:
    """A socket factory ignoring namespaces (tests without root, on loopback)."""
    return socket.socket(family, type_, proto)
