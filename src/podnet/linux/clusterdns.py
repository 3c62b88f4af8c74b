"""Cluster DNS inside the CoreDNS pods, and the "internet" the outside namespace plays.

CoreDNS pods
------------
Each ``kube-system`` pod labelled ``k8s-app=kube-dns`` runs :class:`podnet.servers.dns.DnsServer`
on its port 53 (UDP and TCP) with the cluster's Corefile (its ``kube-system/coredns`` ConfigMap,
else kubeadm's) and the zone of the cluster. Pods reach it through the kube-dns ClusterIP
(10.96.0.10) by kube-proxy's rules, as in a real cluster. The listening sockets are opened
inside the pod's namespace; so are the sockets CoreDNS forwards with (its pooled upstream
connections and health checks): its ``/etc/resolv.conf`` is its node's (``dnsPolicy:
Default``), ``nameserver <underlay gateway>`` — the outside. Once it answers, the ``loop``
plugin's probe goes from the pod to itself (and out through ``forward``, to the outside's
server, which answers it): a forwarding loop stops that pod's server, as CoreDNS exits.

The internet
------------
Nothing ever leaves the machine: names outside the cluster are answered by a small
authoritative server in the outside namespace (on the underlay gateway, 172.18.0.1:53), from the
cluster config::

    outside:
      dns:                          # name → address(es): what the internet resolves
        payments.example.com: 203.0.113.10
      hosts:                        # servers on the internet, played by the built-in server
      - {name: payments.example.com, ip: 203.0.113.10, ports: [443, 80]}

Every other name is NXDOMAIN at once (so a pod's search walk ends fast, as it does when the real
upstream says so). The hosts' addresses are put on the outside's ``lo``, so a pod's traffic to
them — routed by its node to the underlay gateway and masqueraded on the way — ends there.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from podnet.cluster.state import ClusterState
from podnet.linux import netns

OUTSIDE_DNS_PORT = 53
TTL = 30


# ------------------------------------------------------------------------------ the internet


@dataclass(frozen=True, slots=True)
class ExternalHost:
    name: str
    ip: str
    ports: tuple[tuple[int, str], ...] = ((80, "TCP"), (443, "TCP"))


@dataclass(frozen=True, slots=True)
class Internet:
    """What the outside plays: the names it resolves, the servers it hosts."""

    records: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hosts: tuple[ExternalHost, ...] = ()

    @classmethod
    def of(cls, outside: Mapping[str, Any]) -> Internet:
        records: dict[str, list[str]] = {}
        dns_map = outside.get("dns") or {}
        if isinstance(dns_map, Mapping):
            for name, value in dns_map.items():
                values = value if isinstance(value, (list, tuple)) else [value]
                for v in values:
                    ipaddress.ip_address(str(v))
                    records.setdefault(_fqdn(str(name)), []).append(str(v))
        hosts = []
        for h in outside.get("hosts") or []:
            if not isinstance(h, Mapping) or "ip" not in h:
                continue
            ip = str(ipaddress.ip_address(str(h["ip"])))
            ports = []
            for p in h.get("ports") or [80, 443]:
                if isinstance(p, Mapping):
                    ports.append((int(p.get("port", 0)), str(p.get("protocol", "TCP")).upper()))
                else:
                    ports.append((int(p), "TCP"))
            name = str(h.get("name") or ip)
            hosts.append(ExternalHost(name, ip, tuple(ports)))
            if h.get("name"):
                records.setdefault(_fqdn(name), [])
                if ip not in records[_fqdn(name)]:
                    records[_fqdn(name)].append(ip)
        return cls({k: tuple(v) for k, v in records.items()}, tuple(hosts))

    def answer(self, wire: bytes) -> bytes | None:
        """The reply to one query (pure): A/AAAA from :attr:`records`, NXDOMAIN otherwise."""
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - malformed: no answer, as a real server
            return None
        if q.flags & dns.flags.QR or not q.question:
            return None
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.flags &= ~dns.flags.RA
        question = q.question[0]
        name = question.name.to_text().lower()
        addrs = self.records.get(name)
        if addrs is None:
            r.set_rcode(dns.rcode.NXDOMAIN)
            return bytes(r.to_wire())
        want = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(question.rdtype)
        matching = [a for a in addrs if want and ipaddress.ip_address(a).version == want]
        if matching:
            r.answer.append(dns.rrset.from_text_list(question.name, TTL, dns.rdataclass.IN,
                                                     question.rdtype, matching))
        return bytes(r.to_wire())


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


class _StubUdp(asyncio.DatagramProtocol):
    def __init__(self, internet: Internet) -> None:
        self.internet = internet
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = self.internet.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class InternetDns:
    """The internet's DNS server, in the outside namespace."""

    def __init__(self, internet: Internet, ns: str, host: str, port: int = OUTSIDE_DNS_PORT) -> None:
        self.internet, self.ns, self.host, self.port = internet, ns, host, port
        self._closers: list[Any] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        u = netns.socket_in(self.ns, socket.AF_INET, socket.SOCK_DGRAM)
        t = netns.socket_in(self.ns, socket.AF_INET, socket.SOCK_STREAM)
        for s in (u, t):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, self.port))
            s.setblocking(False)
        t.listen(64)
        tr, _ = await loop.create_datagram_endpoint(lambda: _StubUdp(self.internet), sock=u)
        srv = await asyncio.start_server(self._tcp, sock=t)
        self._closers += [tr, srv]

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.internet.answer(await reader.readexactly(n))
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def close(self) -> None:
        for c in self._closers:
            c.close()


# ------------------------------------------------------------------------------ CoreDNS pods


def coredns_pods(state: ClusterState) -> list[tuple[str, str]]:
    """(pod key, pod IP) of the pods CoreDNS runs as (``k8s-app=kube-dns`` in kube-system)."""
    out = []
    for p in state.pods("kube-system"):
        if p.metadata.labels.get("k8s-app") == "kube-dns" and p.ips and not p.finished:
            out.append((f"kube-system/{p.metadata.name}", p.ips[0]))
    return out


def snapshot(state: ClusterState, pod_ip: str, resolv_conf: str) -> Any:
    """The DNS server's snapshot for one CoreDNS pod: the cluster's Corefile, its zone, and
    ``/etc/resolv.conf`` as the pod sees it (its node's)."""
    from podnet.cli.dns_cmd import corefile_paths, parse
    from podnet.dns.config import ServerConfig, cluster_corefile, kubernetes_of
    from podnet.dns.zone import index_for
    from podnet.servers.dns import Snapshot

    cf = parse(cluster_corefile(state), "Corefile")
    hosts, resolv = corefile_paths(cf)
    files: dict[str, str] = {p: "" for p in hosts}
    for p in resolv:
        files[p] = resolv_conf
    ports = cf.ports()
    port = 53 if 53 in ports else (ports[0] if ports else None)
    cfg = ServerConfig.from_corefile(cf, port=port, server_ips=(pod_ip,), files=files)
    return Snapshot(cfg, index_for(state, kubernetes_of(cfg)))


def netns_dns_server(ns: str, snap: Any, port: int, log: Any) -> Any:
    """A :class:`podnet.servers.dns.DnsServer` whose sockets — listening, forwarding (pooled
    upstream connections and health checks) and the ``loop`` plugin's probe — are opened inside
    ``ns``."""
    from podnet.servers import dns as dns_server
    from podnet.servers import dns_forward

    install_forwarding()

    class NetnsForwarder(dns_forward.Forwarder):  # type: ignore[misc]
        """Forwards with sockets made in the pod's namespace, never the host's."""

        def udp_socket(self, family: int) -> socket.socket:
            return netns.socket_in(ns, family, socket.SOCK_DGRAM)

        def tcp_socket(self, family: int) -> socket.socket:
            return netns.socket_in(ns, family, socket.SOCK_STREAM)

    class NetnsDnsServer(dns_server.DnsServer):  # type: ignore[misc]
        def _udp_socket(self, family: int, port: int) -> socket.socket:
            with netns.enter(ns):
                return super()._udp_socket(family, port)  # type: ignore[no-any-return]

        def _tcp_socket(self, family: int, port: int) -> socket.socket:
            with netns.enter(ns):
                return super()._tcp_socket(family, port)  # type: ignore[no-any-return]

        def probe_socket(self, family: int) -> socket.socket:
            return netns.socket_in(ns, family, socket.SOCK_DGRAM)

        async def start(self) -> tuple[str, int]:
            """Answer, then probe for a forwarding loop as CoreDNS does once it is up (a loop
            found stops this pod's server, as CoreDNS exits)."""
            bound: tuple[str, int] = await super().start()
            self.start_loop_probes()
            return bound

    metrics = dns_server.Metrics() if hasattr(dns_server, "Metrics") else None
    fwd = NetnsForwarder(metrics) if metrics is not None else None
    return NetnsDnsServer(snap, host="0.0.0.0", port=port, metrics=metrics, forwarder=fwd, log=log)


def install_forwarding() -> None:
    """Forbid the plain forwarder to open sockets in this process's (the host's) namespace:
    the CoreDNS pods forward through :func:`netns_dns_server`'s forwarder, whose sockets are
    made in the pod's namespace, and nothing else in the daemon may send a query."""
    from podnet.servers import dns_forward

    dns_forward.host_sockets_allowed = False
