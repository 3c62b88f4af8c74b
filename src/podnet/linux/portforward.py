"""Port-forwards from the host's loopback into a pod, as ``kubectl port-forward`` does them.

The listening socket is the only thing podnet opens in the host's namespace, and it is bound to
a loopback address (127.0.0.0/8 or ::1) — never anything else. Each accepted connection is
relayed to ``127.0.0.1:<port>`` *inside the pod's namespace* (the connecting socket is created
there), which is exactly what kubelet's port-forward does: the pod sees a connection from its own
loopback, whatever Service or policy sits in front of it. Bytes are copied both ways until either
side closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

from podnet.linux import netns


class ForwardError(OSError):
    """A port-forward cannot be set up (not loopback, port in use)."""


@dataclass(frozen=True, slots=True)
class Forward:
    local_host: str
    local_port: int
    netns: str
    remote_port: int
    target: str  # what the user named: svc/NS/NAME, NS/POD

    def describe(self) -> str:
        return f"{self.local_host}:{self.local_port} -> {self.target}:{self.remote_port}"


def check_loopback(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError as e:
        raise ForwardError(f"port-forward listens on loopback only, not {host!r}") from e
    if not ip.is_loopback:
        raise ForwardError(f"port-forward listens on loopback only (127.0.0.0/8, ::1), not {host}")
    return host


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


class Forwarder:
    """One listening loopback socket relaying to a port inside a namespace."""

    def __init__(self, fwd: Forward, on_error: Callable[[str], None] | None = None) -> None:
        self.fwd = fwd
        self.server: asyncio.Server | None = None
        self.connections = 0
        self._on_error = on_error or (lambda _m: None)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        host = check_loopback(self.fwd.local_host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # Created by a thread in the host namespace: assert it, so a bug elsewhere can never
        # make this listen inside (or outside) something else.
        if not netns.in_host_ns():
            raise ForwardError("port-forward listeners must be opened from the host namespace")
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, self.fwd.local_port))
            s.listen(128)
            s.setblocking(False)
        except OSError as e:
            s.close()
            raise ForwardError(e.errno or 0, f"cannot listen on {host}:{self.fwd.local_port}: "
                               f"{e.strerror or e}") from None
        self.server = await asyncio.start_server(self._client, sock=s)

    @property
    def port(self) -> int:
        if self.server is None or not self.server.sockets:
            return self.fwd.local_port
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # type: ignore[arg-type]
        self.connections += 1
        try:
            s = netns.socket_in(self.fwd.netns, socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                await asyncio.wait_for(
                    asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", self.fwd.remote_port)),
                    5.0)
            except (OSError, asyncio.TimeoutError) as e:
                s.close()
                self._on_error(f"port-forward {self.fwd.describe()}: {e}")
                writer.close()
                return
            r2, w2 = await asyncio.open_connection(sock=s)
            await asyncio.gather(_pipe(reader, w2), _pipe(r2, writer))
            w2.close()
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            if task is not None:
                self._tasks.discard(task)  # type: ignore[arg-type]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1.0)
        for t in list(self._tasks):
            t.cancel()
