"""Lint rules for DNS as pods use it: the cost of ``ndots:5`` for names outside the cluster.

kubelet gives a ClusterFirst pod ``search <ns>.svc.<domain> svc.<domain> <domain>`` and
``options ndots:5``: a name with fewer than five dots is tried with every search domain first
(glibc's walk, :func:`podnet.dns.stub.candidates`). For ``api.stripe.com`` that is three
NXDOMAIN round trips — six with A and AAAA — before the real question, on every lookup the
application does not cache. The names a workload will look up are read from what it is given:
URLs and ``host:port`` values in its containers' command, args and env.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from podnet.api.core import Container, Pod
from podnet.api.meta import ObjectMeta, Resource
from podnet.dns.resolvconf import pod_resolv_conf
from podnet.dns.stub import candidates
from podnet.sim.findings import Finding, rule
from podnet.sim.lint import WORKLOAD_KINDS, LintContext, checker

NDOTS_EXTERNAL = rule(
    "dns-ndots-external-name", "info",
    "An external name costs extra DNS queries under ndots:5",
    "With kubelet's ndots:5, a name with fewer than five dots is first tried with each of the pod's "
    "search domains; each try is a full round trip to cluster DNS answered NXDOMAIN (twice, for A "
    "and AAAA) before the name itself is asked. A trailing dot (api.example.com.) or a lower "
    "ndots in spec.dnsConfig avoids them.",
    "dns",
)

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://(?:[^@/\s]*@)?([A-Za-z0-9][A-Za-z0-9.\-]*)")
_HOSTPORT = re.compile(r"(?:^|[\s=,;\"'])([A-Za-z0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)+):\d{1,5}\b")
_TLD = re.compile(r"^[a-z]{2,63}$")


def external_names(text: str, cluster_domain: str) -> list[str]:
    """Host names in ``text`` (URLs, ``host:port``) that look like names outside the cluster."""
    found: list[str] = []
    for m in list(_URL.finditer(text)) + list(_HOSTPORT.finditer(text)):
        host = m.group(1).lower()
        if host.endswith("."):
            continue  # absolute already
        try:
            ipaddress.ip_address(host)
            continue
        except ValueError:
            pass
        labels = host.split(".")
        if len(labels) < 2 or not _TLD.match(labels[-1]):
            continue
        if host.endswith("." + cluster_domain) or labels[-1] in ("svc", "local", "internal", "cluster"):
            continue
        if host not in found:
            found.append(host)
    return found


def _texts(c: Container, prefix: str) -> Iterator[tuple[str, str]]:
    for i, a in enumerate(c.command):
        yield f"{prefix}.command[{i}]", a
    for i, a in enumerate(c.args):
        yield f"{prefix}.args[{i}]", a
    env: Any = c.extra.get("env") if c.extra else None
    if isinstance(env, (list, tuple)):
        for i, e in enumerate(env):
            value = e.get("value") if hasattr(e, "get") else None
            if isinstance(value, str):
                yield f"{prefix}.env[{i}].value", value


def _is_cluster_name(ctx: LintContext, host: str) -> bool:
    """``svc.ns`` / ``svc.ns.svc`` forms of a Service of the cluster (or a namespace)."""
    labels = host.split(".")
    if len(labels) >= 2 and ctx.state.service(labels[1], labels[0]) is not None:
        return True
    return ctx.namespace(labels[-1]) is not None


@checker("dns")
def check_ndots(ctx: LintContext) -> Iterator[Finding]:
    domain = ctx.state.config.cluster_domain
    for kind in WORKLOAD_KINDS:
        for obj in ctx.applied(kind):
            if kind == "Pod" and obj.metadata.controller_ref() is not None:
                continue
            yield from _workload(ctx, obj, domain)


def _workload(ctx: LintContext, obj: Resource, domain: str) -> Iterator[Finding]:
    tpl = ctx.template(obj)
    if tpl is None:
        return
    pod = Pod(metadata=ObjectMeta(name=obj.metadata.name, namespace=obj.metadata.namespace),
              spec=tpl.spec)
    policy = tpl.spec.dns_policy or "ClusterFirst"
    if tpl.spec.host_network and policy == "ClusterFirst" or policy in ("Default", "None"):
        return
    rc = pod_resolv_conf(pod, cluster_domain=domain, cluster_dns=["0.0.0.0"], host=None)
    seen: set[str] = set()
    containers = [(f"{tpl.path}.containers[{i}]", c) for i, c in enumerate(tpl.spec.containers)]
    for prefix, c in containers:
        for field, text in _texts(c, prefix):
            for host in external_names(text, domain):
                if host in seen or _is_cluster_name(ctx, host):
                    continue
                seen.add(host)
                names = candidates(host, rc)
                before = [n for n, why in names if why.startswith("search domain")
                          and n.rstrip(".") != host]
                if not before or any("as is first" in why for _, why in names):
                    continue
                shown = ", ".join(n.rstrip(".") for n in before[:4])
                yield NDOTS_EXTERNAL.finding(
                    obj, field,
                    f"{host} has {host.count('.')} dot{'s' if host.count('.') != 1 else ''}, fewer than "
                    f"ndots:{_ndots(rc)}: each lookup from {obj.kind} {obj.qualified_name} first asks "
                    f"{shown} (NXDOMAIN each) before {host} itself — {len(before)} extra queries per "
                    f"lookup, {2 * len(before)} with A and AAAA",
                    f'write the name with a trailing dot ("{host}.") where the application allows '
                    f"it, or set {tpl.path}.dnsConfig.options: [{{name: ndots, value: \"{max(1, host.count('.'))}\"}}]",
                )


def _ndots(rc: Any) -> int:
    for opt in rc.options:
        if opt.startswith("ndots:"):
            try:
                return int(opt.split(":", 1)[1])
            except ValueError:
                break
    return 1


__all__ = ["NDOTS_EXTERNAL", "external_names"]
