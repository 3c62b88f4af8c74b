"""Helpers for the DNS server tests: a cluster of known objects, a server running in a thread, a
stub upstream the tests run themselves, and small raw-socket clients.

Everything listens and sends on 127.0.0.1 only. The expected values in the tests come from the
Kubernetes objects (the Service's ClusterIP, the pods' IPs) and from CoreDNS's documented
behaviour, never from the DNS layer's own output.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from podnet.api.core import Pod, Service
from podnet.cli.context import Options, compute
from podnet.cluster.state import ClusterState
from podnet.dns.config import ServerConfig
from podnet.dns.zone import index_for
from podnet.servers.dns import DnsServer, Snapshot, Tuning
from podnet.servers.dns_metrics import Metrics
from podnet.servers.runtime import new_event_loop

LOOPBACK = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "shop"

#: A small cluster: a ClusterIP Service, a dual-stack one, a headless StatefulSet Service with
#: a named port, a big headless Service (for truncation) and an ExternalName.
MANIFESTS = """\
apiVersion: podnet.io/v1alpha1
kind: Cluster
name: dnstest
networking:
  podSubnet: 10.244.0.0/16,fd00:10:244::/56
  serviceSubnet: 10.96.0.0/12,fd00:10:96::/112
---
apiVersion: v1
kind: Namespace
metadata: {name: testns}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: testns}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: agnhost
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: testns}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: testns}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: testns}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{name: http, containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: testns}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: many, namespace: testns}
spec:
  replicas: 60
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      containers:
      - {name: many, image: nginx, ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: many, namespace: testns}
spec:
  clusterIP: None
  ipFamilies: [IPv4]
  selector: {app: many}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: testns}
spec:
  type: ExternalName
  externalName: www.example.org
"""

CLUSTER_ONLY_COREFILE = """\
.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }
    loadbalance
}
"""


def corefile_with_upstream(upstreams: str, *, cache: str = "", forward_opts: str = "",
                           extra: str = "") -> str:
    """kubeadm's Corefile shape with the upstreams replaced (never the host's resolver)."""
    return (
        ".:53 {\n"
        "    errors\n"
        f"{extra}"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n"
        "       pods insecure\n"
        "       fallthrough in-addr.arpa ip6.arpa\n"
        "       ttl 30\n"
        "    }\n"
        f"    forward . {upstreams} {{\n"
        "       max_concurrent 1000\n"
        f"{forward_opts}"
        "    }\n"
        f"{cache}"
        "    loadbalance\n"
        "}\n"
    )


KUBEADM_CACHE = "    cache 30 {\n       disable success cluster.local\n       disable denial cluster.local\n    }\n"


def cluster_state(tmp: Path, manifests: str = MANIFESTS) -> ClusterState:
    f = tmp / "cluster.yaml"
    f.write_text(manifests)
    return compute(Options(filenames=[str(f)])).state


def example_state() -> ClusterState:
    return compute(Options(filenames=[str(EXAMPLE)])).state


def snapshot(state: ClusterState, corefile: str, server_ips: tuple[str, ...] = (LOOPBACK,),
             files: dict[str, str] | None = None) -> Snapshot:
    cfg = ServerConfig.from_corefile(corefile, server_ips=server_ips, files=files or {})
    k = next((b.kubernetes for b in cfg.blocks if b.kubernetes is not None), None)
    return Snapshot(cfg, index_for(state, k))


def service(state: ClusterState, ns: str, name: str) -> Service:
    svc = state.service(ns, name)
    assert svc is not None, f"{ns}/{name}"
    return svc


def pods_of(state: ClusterState, ns: str, prefix: str) -> list[Pod]:
    return [p for p in state.pods(ns) if p.metadata.name.startswith(prefix)]


# ---------------------------------------------------------------------------- the server


class ServerThread:
    """A :class:`DnsServer` on its own event loop in a daemon thread."""

    def __init__(self, snap: Snapshot, tuning: Tuning = Tuning(),
                 log: Callable[[str], None] | None = None) -> None:
        self.loop = new_event_loop()
        self.metrics = Metrics()
        self.lines: list[str] = []
        self.server = DnsServer(snap, host=LOOPBACK, port=0, metrics=self.metrics, tuning=tuning,
                                log=log or self.lines.append)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def __enter__(self) -> ServerThread:
        self.thread.start()
        _, self.port = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def update(self, snap: Snapshot) -> None:
        done = threading.Event()

        def swap() -> None:
            self.server.update(snap)
            done.set()

        self.loop.call_soon_threadsafe(swap)
        assert done.wait(5)

    def metrics_text(self) -> str:
        async def render() -> str:
            return self.metrics.render()

        return asyncio.run_coroutine_threadsafe(render(), self.loop).result(5)

    # clients

    def udp(self, q: dns.message.Message, timeout: float = 3.0) -> dns.message.Message:
        return dns.query.udp(q, LOOPBACK, port=self.port, timeout=timeout)

    def tcp(self, q: dns.message.Message, timeout: float = 3.0) -> dns.message.Message:
        return dns.query.tcp(q, LOOPBACK, port=self.port, timeout=timeout)

    def raw_udp(self, payload: bytes, timeout: float = 0.3) -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(payload, (LOOPBACK, self.port))
            try:
                return s.recv(65535)
            except (TimeoutError, socket.timeout):
                return None

    def alive(self) -> bool:
        q = dns.message.make_query("svc1.testns.svc.cluster.local.", "A")
        try:
            r = self.udp(q, timeout=2.0)
        except Exception:
            return False
        return r.rcode() == dns.rcode.NOERROR or r.rcode() == dns.rcode.NXDOMAIN


def query(name: str, rdtype: str = "A", **kw: Any) -> dns.message.Message:
    return dns.message.make_query(name, rdtype, **kw)


def rdatas(msg: dns.message.Message, section: str = "answer", rdtype: str | None = None) -> list[str]:
    out: list[str] = []
    for rrset in getattr(msg, section):
        if rdtype is None or rrset.rdtype == dns.rdatatype.from_text(rdtype):
            out.extend(rd.to_text() for rd in rrset)
    return out


def owners(msg: dns.message.Message, section: str = "answer") -> list[str]:
    return [r.name.to_text() for r in getattr(msg, section)]


# ---------------------------------------------------------------------------- stub upstream


class StubUpstream:
    """A tiny authoritative server on 127.0.0.1 that the tests control: UDP and TCP.

    ``answers`` maps (lowercased name, type) → list of rdata text; a name it does not know gets
    NXDOMAIN. ``silent`` drops every query (a black hole). ``truncate`` names are answered over
    UDP with TC set and no records (the full answer comes over TCP). With ``tcp_keep`` a TCP
    connection serves query after query until the client closes it (else it is closed after one
    answer). ``relay_to`` makes it a forwarder instead: every UDP query is sent on to that
    address and the reply handed back (set it after start to point it at a server).
    Every query received is recorded; so are TCP connections opened and closed by the client.
    """

    def __init__(self, answers: dict[tuple[str, str], list[str]] | None = None, *,
                 silent: bool = False, ttl: int = 300, tcp_keep: bool = False,
                 truncate: frozenset[str] = frozenset(),
                 relay_to: tuple[str, int] | None = None) -> None:
        self.answers = answers or {}
        self.silent = silent
        self.ttl = ttl
        self.tcp_keep = tcp_keep
        self.truncate = truncate
        self.relay_to = relay_to
        self.seen: list[dns.message.Message] = []
        self.udp_sources: list[tuple[str, int]] = []
        self.tcp_connections = 0
        self.tcp_hangups = 0
        self.hangup_times: list[float] = []
        self._lock = threading.Lock()
        # A free UDP port may be taken for TCP (another process's connection): try again.
        for attempt in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind((LOOPBACK, 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind((LOOPBACK, self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
                if attempt == 49:
                    raise
        self.tcp.listen(16)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]

    @property
    def addr(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def __enter__(self) -> StubUpstream:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.udp.close()
        self.tcp.close()

    def queries(self, rdtype: str) -> list[str]:
        """The names of the queries of type ``rdtype`` received so far."""
        want = dns.rdatatype.from_text(rdtype)
        with self._lock:
            return [q.question[0].name.to_text() for q in self.seen
                    if q.question and q.question[0].rdtype == want]

    def reply(self, wire: bytes, udp: bool = False) -> bytes | None:
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        with self._lock:
            self.seen.append(q)
        if self.silent:
            return None
        r = dns.message.make_response(q)
        r.flags |= dns.flags.RA
        qq = q.question[0]
        key = (qq.name.to_text().lower(), dns.rdatatype.to_text(qq.rdtype))
        known = {n for n, _ in self.answers}
        if udp and key[0] in self.truncate:
            r.flags |= dns.flags.TC
        elif key in self.answers:
            r.answer.append(dns.rrset.from_text_list(qq.name, self.ttl, "IN", qq.rdtype,
                                                     self.answers[key]))
        elif qq.name.to_text().lower() in known or qq.rdtype == dns.rdatatype.NS:
            pass
        else:
            r.set_rcode(dns.rcode.NXDOMAIN)
        return r.to_wire()

    def _relay(self, data: bytes, addr: tuple[str, int], to: tuple[str, int]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            try:
                s.sendto(data, to)
                out = s.recv(65535)
                self.udp.sendto(out, addr)
            except OSError:
                return

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.udp.recvfrom(65535)
            except OSError:
                return
            with self._lock:
                self.udp_sources.append(addr)
            if self.relay_to is not None:
                with contextlib.suppress(Exception), self._lock:
                    self.seen.append(dns.message.from_wire(data))
                threading.Thread(target=self._relay, args=(data, addr, self.relay_to),
                                 daemon=True).start()
                continue
            out = self.reply(data, udp=True)
            if out is not None:
                try:
                    self.udp.sendto(out, addr)
                except OSError:
                    return

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with self._lock:
                self.tcp_connections += 1
            if self.tcp_keep:
                threading.Thread(target=self._serve_conn, args=(conn,), daemon=True).start()
                continue
            with conn:
                conn.settimeout(2)
                try:
                    n = struct.unpack("!H", _recv_exact(conn, 2))[0]
                    out = self.reply(_recv_exact(conn, n))
                    if out is not None:
                        conn.sendall(struct.pack("!H", len(out)) + out)
                except (OSError, struct.error, EOFError):
                    continue

    def _serve_conn(self, conn: socket.socket) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    n = struct.unpack("!H", _recv_exact(conn, 2))[0]
                    out = self.reply(_recv_exact(conn, n))
                    if out is not None:
                        conn.sendall(struct.pack("!H", len(out)) + out)
                except EOFError:  # the client closed the connection
                    with self._lock:
                        self.tcp_hangups += 1
                        self.hangup_times.append(time.monotonic())
                    return
                except (OSError, struct.error):
                    return


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def free_udp_port() -> int:
    """A loopback port nothing listens on (ICMP port unreachable → connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@contextmanager
def timed() -> Iterator[list[float]]:
    box = [0.0]
    t0 = time.monotonic()
    try:
        yield box
    finally:
        box[0] = time.monotonic() - t0
