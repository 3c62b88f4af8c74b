"""The Ingress controller running inside its pods.

Each pod of ingress-nginx's controller (``ingress-nginx`` namespace,
``app.kubernetes.io/component=controller``) runs :class:`podnet.servers.ingress.IngressProxy` on
its ports 80 and 443, with the cluster's route table and certificates. Its backends are the real
pods: an endpoint ``10.244.2.4:8080`` is connected to at that address, from the controller pod,
through the plugin's path and the NetworkPolicy rules — as ingress-nginx connects to endpoint
addresses, bypassing the Service's ClusterIP.

Each controller runs on an event loop of its own, in a thread that has entered the pod's network
namespace for its whole life: every socket the proxy opens — its listeners and its upstream
connections — is the pod's. Clients outside reach it through the controller's Service
(NodePort/LoadBalancer) or the daemon's loopback port-forwards (127.0.0.1:8080/8443).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from podnet.cluster.state import ClusterState
from podnet.linux import netns

NAMESPACE = "ingress-nginx"
COMPONENT = ("app.kubernetes.io/component", "controller")
HTTP_PORT, HTTPS_PORT = 80, 443


def controller_pods(state: ClusterState) -> list[str]:
    out = []
    for p in state.pods(NAMESPACE):
        if p.metadata.labels.get(COMPONENT[0]) == COMPONENT[1] and p.ips and not p.finished:
            out.append(f"{NAMESPACE}/{p.metadata.name}")
    return out


def real_resolver() -> Callable[[Any, Any, bool], tuple[str, int] | None]:
    """Endpoints are reached at their own address (the pod's IP and target port)."""

    def resolve(_ups: Any, ep: Any, _tls: bool) -> tuple[str, int] | None:
        return (str(ep.address), int(ep.port))

    return resolve


class IngressInPod:
    """One controller pod's proxy, on its own loop in a thread inside the pod's namespace."""

    def __init__(self, state: ClusterState, key: str, ns: str, log_path: str | None) -> None:
        self.state, self.key, self.ns, self.log_path = state, key, ns, log_path
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.proxy: Any = None
        self.bound: list[tuple[str, str, int]] = []
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._log: Any = None

    def start(self, timeout: float = 30.0) -> list[tuple[str, str, int]]:
        self.thread = threading.Thread(target=self._run, name=f"ingress {self.key}", daemon=True)
        self.thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the Ingress controller in {self.key} did not start")
        if self.error is not None:
            raise self.error
        return self.bound

    def _run(self) -> None:
        try:
            fd = netns.open_fd(self.ns)
            try:
                if netns.libc().setns(fd, netns.CLONE_NEWNET) != 0:
                    raise OSError(f"cannot enter {self.ns}")
            finally:
                import os

                os.close(fd)
            netns.assert_not_host("run the Ingress controller")
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(self._start())
        except BaseException as e:  # reported to start()
            self.error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self._stop())
            self.loop.close()
            if self._log is not None:
                self._log.close()
        # the thread ends here, still inside the pod's namespace: nothing runs on it any more

    async def _start(self) -> None:
        from podnet.ingress.table import RouteTable
        from podnet.servers.ingress import IngressProxy
        from podnet.servers.ingress_tls import CertStore

        table = RouteTable.build(self.state)
        if self.log_path:
            self._log = open(self.log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.proxy = IngressProxy(table, real_resolver(), certs=CertStore(),
                                  access_log=self._log, error_log=self._log)
        self.bound = await self.proxy.start(("0.0.0.0", HTTP_PORT), ("0.0.0.0", HTTPS_PORT))

    async def _stop(self) -> None:
        if self.proxy is not None:
            for name in ("stop", "close"):
                fn = getattr(self.proxy, name, None)
                if fn is not None:
                    res = fn()
                    if asyncio.iscoroutine(res):
                        await res
                    break
            for srv in getattr(self.proxy, "servers", []):
                srv.close()

    def update(self, state: ClusterState) -> None:
        """Switch the proxy to ``state``'s routes (requests in flight finish as they were)."""
        from podnet.ingress.table import RouteTable

        self.state = state
        if self.loop is None or self.proxy is None:
            return
        table = RouteTable.build(state)
        self.loop.call_soon_threadsafe(self.proxy.update, table)

    def stop(self) -> None:
        if self.loop is not None and self.thread is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
