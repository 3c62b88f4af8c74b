"""ServerConfig: what one listening DNS server answers with — its server blocks, its addresses,
and the contents of the files its Corefile names.

CoreDNS starts one server per port and gives it every server block on that port; a query goes to
the block whose zone is the longest suffix of the name. The Corefile says *which* files matter
(``hosts /etc/hosts``, ``forward . /etc/resolv.conf``); reading them is I/O, so the caller passes
their text in ``files`` and this value stays pure and comparable. ``server_ips`` are the
addresses CoreDNS calls its own (``localIPs``: the ``bind`` addresses or the interfaces'), which
it reports in the apex NS glue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from podnet.api.core import ConfigMap
from podnet.cluster.state import ClusterState
from podnet.dns.corefile import (
    Corefile,
    ForwardConfig,
    KubernetesConfig,
    ServerBlock,
    kubeadm_corefile,
    parse_corefile,
)
from podnet.dns.hostsfile import Hosts, build_hosts
from podnet.dns.names import normalize
from podnet.dns.resolvconf import parse_resolv_conf


class ConfigError(ValueError):
    """A server configuration that cannot serve (no block on the port, …)."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The blocks served on one port, with their runtime inputs (see module doc)."""

    blocks: tuple[ServerBlock, ...]
    server_ips: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    #: zone → block, for the longest-suffix walk that picks a block
    by_zone: dict[str, ServerBlock] = field(default_factory=dict, compare=False, repr=False)
    hosts: dict[int, Hosts] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_corefile(
        cls,
        corefile: Corefile | str,
        *,
        port: int | None = None,
        server_ips: tuple[str, ...] = (),
        files: Mapping[str, str] | None = None,
    ) -> ServerConfig:
        """The server for ``port`` (the Corefile's only port when None)."""
        cf = parse_corefile(corefile) if isinstance(corefile, str) else corefile
        ports = cf.ports()
        if port is None:
            if len(ports) != 1:
                raise ConfigError(f"the Corefile serves ports {list(ports)}: say which one")
            port = ports[0]
        blocks = cf.blocks_on(port)
        if not blocks:
            raise ConfigError(f"the Corefile has no server block on port {port}")
        files = dict(files or {})
        by_zone: dict[str, ServerBlock] = {}
        hosts: dict[int, Hosts] = {}
        for i, b in enumerate(blocks):
            for z in b.zones:
                by_zone.setdefault(z, b)
            if b.hosts is not None:
                texts = [files.get(b.hosts.path, "")]
                if b.hosts.inline:
                    texts.append("\n".join(b.hosts.inline))
                hosts[i] = build_hosts(texts, b.hosts.origins, b.hosts.auto_reverse)
        return cls(blocks, tuple(server_ips), files, by_zone, hosts)

    @classmethod
    def kubeadm(
        cls,
        cluster_domain: str = "cluster.local",
        *,
        server_ips: tuple[str, ...] = (),
        files: Mapping[str, str] | None = None,
    ) -> ServerConfig:
        """The server kubeadm's default Corefile describes."""
        return cls.from_corefile(kubeadm_corefile(cluster_domain), server_ips=server_ips, files=files)

    def block_for(self, qname: str) -> ServerBlock | None:
        """The block that serves ``qname``: longest zone suffix, then the root block."""
        name = normalize(qname)
        labels = name.rstrip(".").split(".") if name != "." else []
        for i in range(len(labels)):
            b = self.by_zone.get(".".join(labels[i:]) + ".")
            if b is not None:
                return b
        return self.by_zone.get(".")

    def hosts_of(self, block: ServerBlock) -> Hosts | None:
        for i, b in enumerate(self.blocks):
            if b is block:
                return self.hosts.get(i)
        return None

    def upstreams(self, fwd: ForwardConfig) -> tuple[str, ...]:
        """``forward``'s upstreams as ``host:port``: a path entry stands for the nameservers of
        that resolv.conf (from ``files``), as CoreDNS reads them; duplicates are dropped."""
        out: list[str] = []
        for entry in fwd.to:
            addr = entry.split("://", 1)[1] if "://" in entry else entry
            if addr.startswith("/"):
                text = self.files.get(addr)
                hosts = parse_resolv_conf(text).nameservers if text is not None else ()
            else:
                hosts = (addr,)
            for h in hosts:
                hp = _host_port(h)
                if hp not in out:
                    out.append(hp)
        return tuple(out)


def _host_port(h: str) -> str:
    if h.startswith("["):
        return h if "]:" in h else h + ":53"
    if h.count(":") > 1:
        return f"[{h.split('%', 1)[0]}]:53"
    return h if ":" in h else h + ":53"


def cluster_corefile(state: ClusterState) -> str:
    """The Corefile a cluster's CoreDNS runs: the ``kube-system/coredns`` ConfigMap's, else
    kubeadm's for the cluster domain. The model, the server and the real data plane all read
    it here, so that a customised ConfigMap changes every answer alike."""
    cm = state.get("ConfigMap", "kube-system", "coredns")
    if isinstance(cm, ConfigMap):
        text = cm.data.get("Corefile") if cm.data else None
        if text:
            return str(text)
    return kubeadm_corefile(state.config.cluster_domain)


def coredns_ips(state: ClusterState) -> tuple[str, ...]:
    """The CoreDNS pods' IPs (the addresses a cluster's CoreDNS calls its own)."""
    out: list[str] = []
    for p in state.pods("kube-system"):
        if p.metadata.labels.get("k8s-app") == "kube-dns" and p.status.pod_ip:
            out.append(p.status.pod_ip)
    return tuple(out)


def kubernetes_of(config: ServerConfig) -> KubernetesConfig | None:
    """The ``kubernetes`` plugin of the first block that has one."""
    for b in config.blocks:
        if b.kubernetes is not None:
            return b.kubernetes
    return None
