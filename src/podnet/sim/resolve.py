"""``NAME:PORT`` in a trace: what FROM's libc resolves the name to, and every name it tried.

A pod resolves names the way glibc's ``getaddrinfo`` does: ``/etc/hosts`` first (kubelet writes
the pod's own name and its ``hostAliases`` there), then DNS with the pod's resolv.conf
(kubelet's, :func:`podnet.dns.resolvconf.pod_resolv_conf`: ``ClusterFirst`` gives the kube-dns
ClusterIP, the search list ``<ns>.svc.<domain> svc.<domain> <domain>`` and ``ndots:5``) walked
as glibc walks it (:func:`podnet.dns.stub.walk_model`) against the cluster DNS model (CoreDNS
with kubeadm's Corefile). Names CoreDNS forwards leave the cluster; the model has no Internet,
so they fail as with no upstream reachable.

Nodes and host-network pods with the ``ClusterFirst`` policy use the node's own resolv.conf,
which does not point at cluster DNS: a cluster name cannot be resolved from them (an error, as
``curl web.shop`` on a kind node is). A client outside the cluster has no resolv.conf of the
cluster at all: names are an error, addresses only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import dns.rdatatype

from podnet.cluster.state import ClusterState
from podnet.cluster.system import dns_ip
from podnet.dns.config import ConfigError as DnsConfigError
from podnet.dns.config import ServerConfig, cluster_corefile, coredns_ips
from podnet.dns.corefile import CorefileError
from podnet.dns.resolvconf import ResolvConf, pod_hosts_file, pod_resolv_conf
from podnet.dns.stub import walk_model
from podnet.dns.zone import ZoneIndex, index_for
from podnet.sim.endpoints import Source, TraceError

__all__ = ["Resolution", "cluster_dns_ips", "hosts_entry", "resolve_name", "server_config", "zone_of"]


@dataclass(frozen=True, slots=True)
class TriedName:
    name: str
    rcode: str
    answers: int
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rcode": self.rcode, "answers": self.answers, "why": self.why}


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the name resolved to, and how."""

    name: str
    #: ``hosts`` (the pod's /etc/hosts) or ``dns``.
    via: str
    rdtype: str
    addresses: tuple[str, ...]
    #: The CNAME chain followed (owner → target), as in the answer.
    cnames: tuple[tuple[str, str], ...]
    tried: tuple[TriedName, ...]
    h_errno: str
    nameserver: str
    resolv_conf: ResolvConf | None

    @property
    def answered_name(self) -> str:
        for t in self.tried:
            if t.rcode == "NOERROR" and t.answers:
                return t.name
        return self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "via": self.via,
            "type": self.rdtype,
            "nameserver": self.nameserver or None,
            "tried": [t.to_dict() for t in self.tried],
            "cnames": [{"name": a, "target": b} for a, b in self.cnames],
            "addresses": list(self.addresses),
            "h_errno": self.h_errno,
            "resolv_conf": self.resolv_conf.to_dict() if self.resolv_conf else None,
        }


def cluster_dns_ips(state: ClusterState) -> tuple[str, ...]:
    """kubelet's ``clusterDNS``: the configured addresses, or kube-dns's ClusterIP."""
    cfg = state.config
    return cfg.kubelet.cluster_dns or (dns_ip(cfg),)


def server_config(state: ClusterState) -> ServerConfig:
    """The cluster's DNS server as CoreDNS runs it: the ``kube-system/coredns`` Corefile (as
    ``podnet dns`` and the real data plane read it), kubeadm's when that one does not parse."""
    def build() -> ServerConfig:
        try:
            return ServerConfig.from_corefile(cluster_corefile(state), server_ips=coredns_ips(state))
        except (CorefileError, DnsConfigError):
            return ServerConfig.kubeadm(state.config.cluster_domain)

    return state.memo("dns-server-config", build)


def zone_of(state: ClusterState, config: ServerConfig) -> ZoneIndex:
    """The DNS zone index of ``state`` under ``config``'s kubernetes plugin, built once per
    state and plugin configuration."""
    kube = next((b.kubernetes for b in config.blocks if b.kubernetes is not None), None)
    return state.memo(("dns-zone", kube), lambda: index_for(state, kube))


def _hosts_file(src: Source, name: str, family: int, domain: str) -> str | None:
    """The address the pod's /etc/hosts gives ``name``: kubelet's managed hosts file, the same
    text the real data plane writes (``pod_hosts_file``), looked up as glibc reads it."""
    pod = src.pod
    if pod is None or pod.spec.host_network:
        return None
    bare = name.rstrip(".").lower()
    for line in pod_hosts_file(pod, src.ip_for(family) or "", domain).splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or bare not in (f.lower() for f in fields[1:]):
            continue
        try:
            if ipaddress.ip_address(fields[0]).version == family:
                return fields[0]
        except ValueError:
            continue
    return None


def hosts_entry(src: Source, name: str, domain: str = "cluster.local") -> Resolution | None:
    """The answer of FROM's /etc/hosts for ``name`` (looked up before DNS), or None."""
    family = ipaddress.ip_address(src.ip).version
    hosts = _hosts_file(src, name, family, domain)
    if hosts is None:
        return None
    return Resolution(name, "hosts", "A" if family == 4 else "AAAA", (hosts,), (), (),
                      "NETDB_SUCCESS", "", None)


def resolve_name(
    state: ClusterState,
    src: Source,
    name: str,
    *,
    zone: ZoneIndex | None = None,
    config: ServerConfig | None = None,
) -> Resolution:
    """Resolve ``name`` as FROM's libc does; raise :class:`TraceError` when it cannot."""
    family = ipaddress.ip_address(src.ip).version
    rdtype = "A" if family == 4 else "AAAA"
    if src.kind == "external":
        raise TraceError(
            f'error: cannot resolve "{name}" from outside the cluster: a client outside has no '
            "cluster DNS; give an address (a node IP with a NodePort, a LoadBalancer IP, …)"
        )
    found = hosts_entry(src, name, state.config.cluster_domain)
    if found is not None:
        return found
    if src.pod is None or (src.pod.spec.host_network and
                           (src.pod.spec.dns_policy or "ClusterFirst") == "ClusterFirst"):
        who = f"node {src.node}" if src.pod is None else f"host-network pod {src.key}"
        raise TraceError(
            f'error: cannot resolve "{name}" from {who}: it uses the node\'s own resolv.conf, '
            "which does not point at cluster DNS (a host-network pod needs dnsPolicy: "
            "ClusterFirstWithHostNet); give an address or svc/NS/NAME:PORT"
        )
    servers = cluster_dns_ips(state)
    rc = pod_resolv_conf(src.pod, cluster_domain=state.config.cluster_domain,
                         cluster_dns=list(servers), host=None)
    cfg = config or server_config(state)
    zi = zone or zone_of(state, cfg)
    done = walk_model(name, rdtype, rc, zi, cfg, None)
    tried = tuple(TriedName(t.name, t.rcode, t.answers, t.why) for t in done.tried)
    nameserver = rc.nameservers[0] if rc.nameservers else ""
    if done.response is None:
        names = ", ".join(f"{t.name} {t.rcode}" for t in tried) or "nothing"
        raise TraceError(
            f'error: could not resolve host "{name}" from {src.key} ({done.h_errno}): tried '
            f"{names} (resolv.conf: search {' '.join(rc.search) or '-'}; "
            f"nameserver {nameserver or '-'}; options {' '.join(rc.options) or '-'})"
        )
    want = dns.rdatatype.RdataType.make(rdtype)
    addresses: list[str] = []
    cnames: list[tuple[str, str]] = []
    for rrset in done.response.answer:
        for rd in rrset:
            if rrset.rdtype == want:
                addresses.append(str(ipaddress.ip_address(rd.to_text())))
            elif rrset.rdtype == dns.rdatatype.CNAME:
                cnames.append((rrset.name.to_text(), rd.to_text()))
    if not addresses:
        target = cnames[-1][1] if cnames else "?"
        raise TraceError(
            f'error: "{name}" resolves from {src.key} to CNAME {target} (an ExternalName '
            "Service?): a name outside the cluster, which the model cannot reach; trace an "
            "address instead"
        )
    return Resolution(name, "dns", rdtype, tuple(addresses), tuple(cnames), tried,
                      done.h_errno, nameserver, rc)
