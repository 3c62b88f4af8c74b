"""The /etc/resolv.conf kubelet gives each pod (pkg/kubelet/network/dns/dns.go), as a value.

kubelet reads the node's resolv.conf (``--resolv-conf``, /etc/resolv.conf by default), then by
the pod's ``dnsPolicy``:

* ``ClusterFirst`` (the default) and ``ClusterFirstWithHostNet``: the cluster DNS addresses are
  the only nameservers; the search list is ``<ns>.svc.<domain> svc.<domain> <domain>`` followed
  by the node's search domains (duplicates dropped); options are exactly ``ndots:5`` (the node's
  options are not kept). A ``hostNetwork`` pod with ``ClusterFirst`` falls back to ``Default``,
  as does any ClusterFirst pod when kubelet has no cluster DNS configured.
* ``Default``: the node's nameservers, search list and options, unchanged (with no node
  resolv.conf at all: ``127.0.0.1`` and search ``.``).
* ``None``: nothing but what ``dnsConfig`` gives.

``dnsConfig`` is then merged: its nameservers and searches are appended with duplicates dropped,
its options merged by name with the pod's value winning. Last, kubelet's limits: at most 3
nameservers (MaxDNSNameservers); search domains longer than 253 characters dropped, then at most
32 domains and 2048 characters (MaxDNSSearchPaths/MaxDNSSearchListChars, the ExpandedDNSConfig
limits, GA since Kubernetes 1.28), cutting from the end. Each cut is reported as kubelet's
``DNSConfigForming`` event text.

The file text is written the way containerd's CRI plugin writes it: ``search``, then one
``nameserver`` line per server, then ``options``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.api.core import Pod, PodDNSConfig

DEFAULT_OPTIONS = ("ndots:5",)
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_CHARS = 2048
MAX_DOMAIN_LENGTH = 253  # DNS1123SubdomainMaxLength


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    #: kubelet's warnings (limits exceeded), empty when none.
    events: tuple[str, ...] = field(default=(), compare=False)

    def option(self, name: str) -> str | None:
        """The value of option ``name`` (``""`` for a flag), the last occurrence winning."""
        found: str | None = None
        for o in self.options:
            key, sep, value = o.partition(":")
            if key == name:
                found = value if sep else ""
        return found

    @property
    def ndots(self) -> int:
        v = self.option("ndots")
        try:
            return min(int(v), 15) if v is not None else 1
        except ValueError:
            return 1

    def to_text(self) -> str:
        lines = []
        if self.search:
            lines.append("search " + " ".join(self.search))
        lines.extend(f"nameserver {ns}" for ns in self.nameservers)
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "".join(line + "\n" for line in lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nameservers": list(self.nameservers),
            "search": list(self.search),
            "options": list(self.options),
        }


def parse_resolv_conf(text: str) -> ResolvConf:
    """Parse resolv.conf text as kubelet does (``parseResolvConf``): ``nameserver`` lines
    accumulate, the last ``search`` and the last ``options`` line win, a trailing dot on a search
    domain is dropped, ``#`` lines are comments, a ``nameserver`` without address is an error
    (raised as ValueError)."""
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    errors: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("#"):
            continue
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "nameserver":
            if len(fields) >= 2:
                nameservers.append(fields[1])
            else:
                errors.append("nameserver list is empty ")
        if fields[0] == "search":
            search = [s[:-1] if s.endswith(".") else s for s in fields[1:]]
        if fields[0] == "options":
            options = fields[1:]
    if errors:
        raise ValueError(errors[0])
    return ResolvConf(tuple(nameservers), tuple(search), tuple(options))


def _dedup(items: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for s in items:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def merge_options(existing: Sequence[str], pod: PodDNSConfig | None) -> list[str]:
    """kubelet's ``mergeDNSOptions``: by option name, the pod's value winning.

    kubelet rebuilds the list from a Go map, so its order is unspecified; podnet keeps the
    existing options in place and appends new ones in the pod's order.
    """
    merged: dict[str, str] = {}
    for op in existing:
        name, sep, value = op.partition(":")
        merged[name] = value if sep else ""
    for o in pod.options if pod else ():
        merged[o.name] = o.value if o.value is not None else ""
    return [f"{k}:{v}" if v else k for k, v in merged.items()]


def fit_search(search: Sequence[str]) -> tuple[list[str], bool]:
    """kubelet's ``formDNSSearchFitsLimits``: the search list within limits, and whether cut."""
    out = list(search)
    exceeded = False
    if len(out) > MAX_SEARCH_PATHS:
        out = out[:MAX_SEARCH_PATHS]
        exceeded = True
    kept = [s for s in out if len(s) <= MAX_DOMAIN_LENGTH]
    exceeded = exceeded or len(kept) != len(out)
    out = kept
    length = len(" ".join(out))
    if length > MAX_SEARCH_CHARS:
        cut = cut_len = 0
        for s in reversed(out):
            cut_len += len(s) + 1
            cut += 1
            if length - cut_len <= MAX_SEARCH_CHARS:
                break
        out = out[: len(out) - cut]
        exceeded = True
    return out, exceeded


def pod_resolv_conf(
    pod: Pod,
    *,
    cluster_domain: str,
    cluster_dns: Sequence[str],
    host: ResolvConf | None,
) -> ResolvConf:
    """The resolv.conf of ``pod`` (kubelet ``GetPodDNS``). ``host`` is the node's parsed
    resolv.conf, or None when kubelet's ``--resolv-conf`` is empty."""
    base = host or ResolvConf()
    policy = pod.spec.dns_policy or "ClusterFirst"
    events: list[str] = []
    kind = {
        "None": "none",
        "ClusterFirstWithHostNet": "cluster",
        "ClusterFirst": "host" if pod.spec.host_network else "cluster",
        "Default": "host",
    }.get(policy, "cluster")
    servers: list[str] = list(base.nameservers)
    search: list[str] = list(base.search)
    options: list[str] = list(base.options)
    if kind == "none":
        servers, search, options = [], [], []
    elif kind == "cluster" and cluster_dns:
        servers = list(cluster_dns)
        if cluster_domain:
            ns = pod.metadata.namespace or "default"
            search = _dedup(
                [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *search]
            )
        options = list(DEFAULT_OPTIONS)
    else:
        if kind == "cluster":
            events.append(
                'kubelet does not have ClusterDNS IP configured and cannot create Pod using '
                '"ClusterFirst" policy. Falling back to "Default" policy.'
            )
        if host is None:
            servers = ["127.0.0.1"]
            search = ["."]
    cfg = pod.spec.dns_config
    if cfg is not None:
        servers = _dedup([*servers, *cfg.nameservers])
        search = _dedup([*search, *cfg.searches])
        options = merge_options(options, cfg)
    if len(servers) > MAX_NAMESERVERS:
        servers = servers[:MAX_NAMESERVERS]
        events.append(
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
            "nameserver line is: " + " ".join(servers)
        )
    search, cut = fit_search(search)
    if cut:
        events.append(
            "Search Line limits were exceeded, some search paths have been omitted, the applied "
            "search line is: " + " ".join(search)
        )
    return ResolvConf(tuple(servers), tuple(search), tuple(options), tuple(events))


def pod_hosts_file(pod: Pod, ip: str, domain: str) -> str:
    """kubelet's managed /etc/hosts for a pod (``managedHostsFileContent``): what the real data
    plane writes and what the model's lookups read, so both find the same names."""
    hostname = pod.spec.hostname or pod.metadata.name
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    if pod.spec.subdomain:
        fqdn = f"{hostname}.{pod.spec.subdomain}.{pod.metadata.namespace}.svc.{domain}"
        lines.append(f"{ip}\t{fqdn}\t{hostname}")
    else:
        lines.append(f"{ip}\t{hostname}")
    if pod.spec.host_aliases:
        lines.append("")
        lines.append("# Entries added by HostAliases.")
        for alias in pod.spec.host_aliases:
            lines.append(f"{alias.ip}\t" + "\t".join(alias.hostnames))
    return "\n".join(lines) + "\n"
