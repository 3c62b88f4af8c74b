"""``podnet dns``: serve the cluster zone for real, ask it (or the model) a name, see what a pod's
libc does with it.

Commands and formats (part of the interface, documented in the README):

``podnet dns serve [-f PATH… | --cluster NAME] [--corefile FILE] [--listen ADDR:PORT] [--server-ip IP]…``
    A real DNS server (UDP and TCP, :mod:`podnet.servers.dns`). The Corefile is ``--corefile``,
    else the cluster's ``kube-system/coredns`` ConfigMap, else kubeadm's. ``--listen`` overrides
    the Corefile's port and ``bind``; port 0 picks a free one. Once it answers it prints exactly
    one line per address on stdout, ``listening on ADDR:PORT`` (then the ``log`` plugin's lines,
    if any); the HTTP endpoints print ``prometheus on ADDR:PORT`` (``health``, ``ready``) on
    stderr. ``--prometheus-listen``/``--health-listen``/``--ready-listen ADDR:PORT|off`` move or
    disable the endpoints the Corefile asks for. A stored cluster is followed: its state file is
    polled every 250 ms and the zone rebuilt (in a forked child, so the serving process never
    holds the whole cluster and never stalls) when it changes; so is the ``--corefile`` when it
    has ``reload``. SIGTERM/SIGINT: exit 0 (after ``health``'s ``lameduck``, if any). Files the
    Corefile names are read here: a hosts file as is, and ``/etc/resolv.conf`` (``forward .
    /etc/resolv.conf``) as the node's resolv.conf, ``kubelet.resolvConf`` of the cluster config —
    CoreDNS runs with ``dnsPolicy: Default``. ``--workers N`` runs N processes on the same
    address with SO_REUSEPORT (the kernel spreads clients over them, as CoreDNS's
    ``multisocket`` spreads them over sockets); the first one serves the HTTP endpoints with
    every worker's counters. With the ``loop`` plugin, once answering it sends CoreDNS's probe
    (``HINFO <random>.<random>.<zone>``) to itself; seen more than twice, it prints CoreDNS's
    ``[FATAL] plugin/loop: Loop (…) detected for zone …`` line and exits 1. Upstream connections
    (UDP and TCP) are reused and closed after ``expire`` idle, as CoreDNS's ``forward`` does.

``podnet dns query NAME [TYPE] [--from NS/POD] [--server ADDR:PORT] [-o json]``
    Without ``--from`` NAME is absolute (a trailing dot is optional) and asked once. With
    ``--from`` the pod's resolv.conf (as kubelet writes it) drives glibc's search walk and every
    name tried is shown with its rcode. Answers come from the model, or with ``--server`` from
    real queries (UDP, retried over TCP when truncated) to that server, which stands in for the
    pod's nameservers. The model never touches the network: a name the Corefile forwards comes
    back SERVFAIL with a note ``forwarded to …, not resolved in the model`` (stdout in text, stderr
    with ``-o json``); a nameserver of the pod that is not the cluster DNS (``dnsPolicy: Default``)
    is treated as not answering. Exit 0 whenever an answer came back, whatever its rcode; 1 when
    none could be had.

    Text: comment lines starting ``;;`` (the resolv.conf, each name tried with its rcode and
    why, the status line ``;; status: RCODE, flags: qr aa rd``) and the records as zone-file
    text ``owner TTL IN TYPE rdata``, under ``;; ANSWER SECTION:`` / ``AUTHORITY`` /
    ``ADDITIONAL`` headers (empty sections left out). ``-o json``::

        {"resolv_conf": {"nameservers": [...], "search": [...], "options": [...]} | null,
         "tried": [{"name": "svc1.testns.svc.cluster.local.", "rcode": "NOERROR"}, ...],
         "final": {"rcode": "NOERROR", "flags": ["qr", "aa", "rd"],
                   "answer": ["<owner> <ttl> IN <type> <rdata>", ...],
                   "authority": [...], "additional": [...]} | null}

    ``flags`` are lowercase, in header order ``qr aa tc rd ra ad cd`` (dnspython's order), only
    those set. ``final`` is the answer the walk ended with — the one used when it succeeded,
    else the reply to the last name tried — and null only when nothing answered. A try with no
    reply has rcode ``TIMEOUT``.

``podnet dns resolv-conf NS/POD [-o json]``
    The pod's /etc/resolv.conf text; ``-o json``: ``{"nameservers": [], "search": [], "options": []}``.
    kubelet's warnings (limits exceeded) go to stderr.

``podnet dns zone [-o json]``
    The cluster zone: every record an AXFR of it sends (SOA first and last), then the pods'
    records (when ``pods`` is not ``disabled``) and the reverse (PTR) records of Service and
    endpoint addresses. ``-o json``: ``{"zone": "cluster.local.", "records": [...],
    "pods": [...], "reverse": [...]}``, each record as zone-file text.

A pod is named ``NS/POD`` (or ``POD`` with ``-n``); a name that matches no pod but prefixes
pods' names (``frontend/web``) picks the first of them in name order.
"""

from __future__ import annotations

import secrets
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from podnet.api.core import Pod
from podnet.cli import store
from podnet.cli.context import CliError, Options, common_options, options, output_format, resolve
from podnet.cli.printers import to_json
from podnet.cluster.state import ClusterState
from podnet.cluster.system import dns_ip
from podnet.dns.answer import resolve as model_resolve
from podnet.dns.config import ConfigError as DnsConfigError
from podnet.dns.config import ServerConfig, cluster_corefile, coredns_ips, kubernetes_of
from podnet.dns.corefile import Corefile, CorefileError, parse_corefile
from podnet.dns.names import reverse_pointer
from podnet.dns.resolvconf import ResolvConf, parse_resolv_conf, pod_resolv_conf
from podnet.dns.stub import Done, Options as StubOptions, StubWalk
from podnet.dns.xfr import transfer_records
from podnet.dns.zone import ZoneIndex, index_for

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
HOST_RESOLV_CONF = "/etc/resolv.conf"


# ------------------------------------------------------------------------------------ inputs


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CliError(f"error: cannot read {path}: {e.strerror or e}") from e


def corefile_of(state: ClusterState, corefile: str | None) -> tuple[str, str]:
    """(Corefile text, its name for error messages): ``--corefile``, else the cluster's
    ``kube-system/coredns`` ConfigMap, else kubeadm's for the cluster domain."""
    if corefile:
        text = _read(corefile)
        if text is None:
            raise CliError(f"error: open {corefile}: no such file or directory")
        return text, corefile
    return cluster_corefile(state), "Corefile"


def parse(text: str, filename: str) -> Corefile:
    try:
        return parse_corefile(text, filename)
    except CorefileError as e:
        raise CliError(f"error: {e}") from e


def host_path(state: ClusterState, path: str) -> str:
    """Where a path named in the Corefile is read on this machine: CoreDNS's /etc/resolv.conf
    is the node's (kubelet's resolvConf), everything else as is."""
    if path == HOST_RESOLV_CONF:
        return state.config.kubelet.resolv_conf or HOST_RESOLV_CONF
    return path


def corefile_paths(cf: Corefile) -> tuple[list[str], list[str]]:
    """(files the hosts plugin reads, resolv.conf files forward reads)."""
    hosts: list[str] = []
    resolv: list[str] = []
    for b in cf.blocks:
        if b.hosts is not None and b.hosts.path not in hosts:
            hosts.append(b.hosts.path)
        for fwd in b.forward:
            for entry in fwd.to:
                addr = entry.split("://", 1)[1] if "://" in entry else entry
                if addr.startswith("/") and addr not in resolv:
                    resolv.append(addr)
    return hosts, resolv


def corefile_files(state: ClusterState, cf: Corefile) -> tuple[dict[str, str], list[str]]:
    """The ``files`` a ServerConfig needs (path as written → text) and the host paths read."""
    hosts, resolv = corefile_paths(cf)
    files: dict[str, str] = {}
    read: list[str] = []
    for p in hosts:
        real = host_path(state, p)
        read.append(real)
        files[p] = _read(real) or ""
    for p in resolv:
        real = host_path(state, p)
        read.append(real)
        text = _read(real)
        if text is None:
            raise CliError(f"error: plugin/forward: open {real}: no such file or directory")
        files[p] = text
    return files, read


def model_config(state: ClusterState, corefile: str | None) -> tuple[ServerConfig, ZoneIndex]:
    """The cluster DNS as the model answers: the Corefile's server, the CoreDNS pods' IPs."""
    text, name = corefile_of(state, corefile)
    cf = parse(text, name)
    files, _ = corefile_files(state, cf)
    ports = cf.ports()
    port = 53 if 53 in ports else (ports[0] if ports else None)
    try:
        cfg = ServerConfig.from_corefile(cf, port=port, server_ips=coredns_ips(state), files=files)
    except DnsConfigError as e:
        raise CliError(f"error: {e}") from e
    return cfg, index_for(state, kubernetes_of(cfg))


def find_pod(state: ClusterState, spec: str, default_ns: str) -> Pod:
    """``NS/POD`` or ``POD`` (in ``default_ns``); a prefix picks the pod ``trace`` would pick
    (:func:`podnet.sim.endpoints.lookup_pod`), so every query command means the same pod."""
    from podnet.sim.endpoints import TraceError, lookup_pod

    ns, _, name = spec.rpartition("/")
    ns = ns or default_ns
    try:
        return lookup_pod(state, f"{ns}/{name}")
    except TraceError:
        raise CliError(f'error: pods "{name}" not found in namespace "{ns}"') from None


def pod_conf(state: ClusterState, pod: Pod) -> ResolvConf:
    """kubelet's resolv.conf for ``pod``; the node's file is ``kubelet.resolvConf`` (empty when
    it cannot be read)."""
    k = state.config.kubelet
    text = _read(k.resolv_conf) if k.resolv_conf else None
    host = parse_resolv_conf(text or "")
    cluster_dns = k.cluster_dns or (dns_ip(state.config),)
    return pod_resolv_conf(pod, cluster_domain=state.config.cluster_domain,
                           cluster_dns=cluster_dns, host=host)


def cluster_dns_of(state: ClusterState) -> tuple[str, ...]:
    return state.config.kubelet.cluster_dns or (dns_ip(state.config),)


def _output(opts: Options) -> str:
    return output_format(opts.output, ("", "json"))


# ------------------------------------------------------------------------------------ the group


@click.group("dns", context_settings=CONTEXT_SETTINGS)
@common_options
def dns_group() -> None:
    """Cluster DNS: a CoreDNS-compatible server, queries with the search walk, resolv.conf."""


# ------------------------------------------------------------------------------------ serve


def _hostport(text: str, what: str) -> tuple[str, int]:
    t = text.strip()
    try:
        if t.startswith("["):
            host, _, rest = t[1:].partition("]")
            return host, int(rest.lstrip(":"))
        host, _, port = t.rpartition(":")
        if not host and not port.isdigit():
            raise ValueError
        return (host or "0.0.0.0"), int(port)
    except ValueError:
        raise CliError(f'error: {what}: "{text}" is not ADDR:PORT') from None


@dataclass
class _ServeSetup:
    """How `dns serve` builds (and rebuilds) its servers' snapshots."""

    opts: Options
    corefile: str | None
    listen: tuple[str, int] | None
    server_ips: tuple[str, ...]
    #: (Corefile port, addresses) per server
    plan: list[tuple[int, str, int]] = field(default_factory=list)
    watch_paths: list[str] = field(default_factory=list)

    def load_state(self) -> ClusterState:
        if self.opts.filenames:
            return resolve(self.opts).state
        stored = store.load_stored(self.opts.cluster_name)
        if stored is None:
            raise CliError(f'error: cluster "{self.opts.cluster_name}" does not exist')
        return stored.state

    def build(self, state: ClusterState, first: bool) -> tuple[Corefile, list[Any]]:
        import time

        from podnet.servers.dns import Snapshot

        text, name = corefile_of(state, self.corefile)
        cf = parse(text, name)
        files, read = corefile_files(state, cf)
        if first:
            self._plan(cf)
        paths: list[str] = []
        if not self.opts.filenames:
            paths.append(str(store.state_path(self.opts.cluster_name)))
        if self.corefile and any(b.reload is not None for b in cf.blocks):
            paths.append(self.corefile)
        paths.extend(read)
        self.watch_paths = paths
        snaps: list[Any] = []
        zones: dict[Any, ZoneIndex] = {}
        serial = int(time.time())
        for cport, host, _ in self.plan:
            ips = self.server_ips or (_own_ip(host),)
            try:
                cfg = ServerConfig.from_corefile(cf, port=cport, server_ips=ips, files=files)
            except DnsConfigError as e:
                raise CliError(f"error: {e}") from e
            k = kubernetes_of(cfg)
            key = (bool(getattr(k, "endpoint_pod_names", False)), bool(getattr(k, "noendpoints", False)))
            if key not in zones:
                zones[key] = index_for(state, k, serial=serial)
            snaps.append(Snapshot(cfg, zones[key]))
        return cf, snaps

    def _plan(self, cf: Corefile) -> None:
        ports = cf.ports()
        if self.listen is not None:
            if len(ports) != 1:
                raise CliError(f"error: the Corefile serves ports {list(ports)}: --listen replaces "
                               "one; give a Corefile with a single port")
            self.plan = [(ports[0], self.listen[0], self.listen[1])]
            return
        for p in ports:
            binds: list[str] = []
            for b in cf.blocks_on(p):
                binds.extend(x for x in b.bind if x not in binds)
            for host in binds or ["0.0.0.0"]:
                try:
                    socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
                except OSError:
                    raise CliError(f'error: plugin/bind: "{host}": interface names are not '
                                   "supported by podnet, give an address") from None
                self.plan.append((p, host, p))


def _own_ip(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _http_specs(cf: Corefile, overrides: dict[str, str | None]) -> tuple[list[Any], float, list[str]]:
    from podnet.servers.dns import HttpSpec
    from podnet.servers.dns_http import parse_http_address

    defaults = {"prometheus": 9153, "health": 8080, "ready": 8181}
    specs: list[Any] = []
    warnings: list[str] = []
    lameduck = 0.0
    seen: set[tuple[str, str, int]] = set()
    for kind in ("prometheus", "health", "ready"):
        addrs = [getattr(b, kind) for b in cf.blocks if getattr(b, kind)]
        override = overrides.get(kind)
        if override is not None and not addrs:
            warnings.append(f"warning: the Corefile has no {kind} plugin: --{kind}-listen ignored")
            continue
        if override == "off":
            continue
        if override is not None:
            addrs = [override]
        elif kind == "health":
            lameduck = max([b.health_lameduck for b in cf.blocks if b.health] or [0.0])
        for a in addrs:
            host, port = parse_http_address(a, defaults[kind])
            if host == "localhost":
                host = "127.0.0.1"
            key = (kind, host, port)
            if key not in seen:
                seen.add(key)
                specs.append(HttpSpec(kind, host or "0.0.0.0", port))
        if override is not None and kind == "health":
            lameduck = max([b.health_lameduck for b in cf.blocks if b.health] or [0.0])
    return specs, lameduck, warnings


@dns_group.command("serve", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--corefile", metavar="FILE", help="Corefile to serve with (default: the cluster's coredns ConfigMap).")
@click.option("--listen", metavar="ADDR:PORT", help="Address to answer on; overrides the Corefile's port and bind (port 0: any free port).")
@click.option("--server-ip", "server_ips", multiple=True, metavar="IP", help="An address the server reports as its own (apex NS glue); repeatable. Default: the listen address.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Processes answering on the same address (SO_REUSEPORT), like CoreDNS's multisocket.")
@click.option("--prometheus-listen", metavar="ADDR:PORT|off", help="Where the prometheus plugin serves /metrics (overrides the Corefile; off disables).")
@click.option("--health-listen", metavar="ADDR:PORT|off", help="Where the health plugin serves /health (off disables it and its lameduck).")
@click.option("--ready-listen", metavar="ADDR:PORT|off", help="Where the ready plugin serves /ready (off disables).")
@click.option("--poll", type=float, default=0.25, show_default=True, hidden=True, help="Seconds between checks of the stored cluster for changes.")
@click.option("--forward-deadline", type=float, default=5.0, hidden=True, help="Overall time limit of one forwarded query, seconds.")
@click.pass_context
def serve_cmd(ctx: click.Context, corefile: str | None, listen: str | None, server_ips: tuple[str, ...],
              workers: int, prometheus_listen: str | None, health_listen: str | None,
              ready_listen: str | None, poll: float, forward_deadline: float) -> None:
    """Serve the cluster zone over real UDP and TCP, as CoreDNS with the cluster's Corefile.

    Prints `listening on ADDR:PORT` once it answers; follows a stored cluster's changes; exits 0
    on SIGTERM/SIGINT.
    """
    import gc

    from podnet.servers.dns import (
        ChildError,
        DnsServer,
        Runner,
        Tuning,
        fork_call,
        reserve_port,
        run_forever,
        run_workers,
    )
    from podnet.servers.dns_forward import Forwarder
    from podnet.servers.dns_metrics import Metrics

    opts = options(ctx)
    for ip in server_ips:
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)
        except OSError:
            raise CliError(f'error: --server-ip: "{ip}" is not an IP address') from None
    setup = _ServeSetup(opts, corefile, _hostport(listen, "--listen") if listen else None,
                        tuple(server_ips))

    def first() -> tuple[Corefile, list[Any], list[tuple[int, str, int]], list[str]]:
        cf, snaps = setup.build(setup.load_state(), first=True)
        return cf, snaps, setup.plan, setup.watch_paths

    def reload() -> tuple[Sequence[Any], Sequence[str]]:
        _, snaps = setup.build(setup.load_state(), first=False)
        return snaps, setup.watch_paths

    # the cluster state is loaded and indexed in a child process: only the zone comes back
    try:
        cf, snaps, setup.plan, setup.watch_paths = fork_call(first)
    except ChildError as e:
        if e.kind in ("CliError", "ManifestError") and e.lines:
            raise CliError(*e.lines) from None
        text = str(e)
        raise CliError(text if text.startswith("error:") else f"error: {text}") from None
    overrides = {"prometheus": prometheus_listen, "health": health_listen, "ready": ready_listen}
    specs, lameduck, warnings = _http_specs(cf, overrides)
    for w in warnings:
        click.echo(w, err=True)
    tuning = Tuning(forward_deadline=forward_deadline, reuse_port=workers > 1)
    if workers > 1:
        try:
            setup.plan = [(cp, host, port or reserve_port(host)) for cp, host, port in setup.plan]
        except OSError as e:
            raise CliError(f"error: listen: {e.strerror or e}") from e

    def log(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    # the loop plugin's probe names, drawn once: every worker counts the same probe
    loop_seeds = [{b.zones[0]: (secrets.randbelow(1 << 62), secrets.randbelow(1 << 62))
                   for b in snap.config.blocks if b.loop and b.zones} for snap in snaps]

    def make(index: int) -> Runner:
        metrics = Metrics()
        forwarder = Forwarder(metrics, deadline=forward_deadline)
        servers = [DnsServer(snap, host=host, port=port, metrics=metrics, forwarder=forwarder,
                             tuning=tuning, log=log)
                   for (_, host, port), snap in zip(setup.plan, snaps)]
        return Runner(servers, specs if index == 0 else (), reload=reload,
                      watch=setup.watch_paths, poll=poll,
                      lameduck=lameduck if index == 0 else 0.0, metrics=metrics,
                      loop_seeds=loop_seeds, send_probes=index == 0)

    try:
        if workers > 1:
            code = run_workers(make, workers)
        else:
            gc.collect()
            gc.freeze()
            code = run_forever(make(0))
    except OSError as e:
        raise CliError(f"error: listen: {e.strerror or e}") from e
    ctx.exit(code)


# ------------------------------------------------------------------------------------ query


@dataclass
class _Asked:
    """What a query command learned along the way (for the notes)."""

    forwarded: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    not_cluster: list[str] = field(default_factory=list)
    replies: dict[str, dns.message.Message] = field(default_factory=dict)
    last: dns.message.Message | None = None


def _real_query(server: tuple[str, int], timeout: float) -> Callable[[dns.message.Message], dns.message.Message | None]:
    host, port = server

    def send(q: dns.message.Message) -> dns.message.Message | None:
        try:
            r = dns.query.udp(q, host, port=port, timeout=timeout, ignore_unexpected=True)
            if r.flags & dns.flags.TC:
                r = dns.query.tcp(q, host, port=port, timeout=timeout)
            return r
        except (dns.exception.DNSException, OSError, struct.error, EOFError):
            return None

    return send


def _rr_lines(section: Sequence[dns.rrset.RRset]) -> list[str]:
    out: list[str] = []
    for rrset in section:
        out.extend(rrset.to_text().split("\n"))
    return out


def flag_list(msg: dns.message.Message) -> list[str]:
    """Header flags set, lowercase, in dnspython's (header) order qr aa tc rd ra ad cd."""
    text = dns.flags.to_text(msg.flags)
    return [f.lower() for f in text.split()] if text else []


def final_doc(msg: dns.message.Message | None) -> dict[str, Any] | None:
    if msg is None:
        return None
    return {
        "rcode": dns.rcode.to_text(msg.rcode()),
        "flags": flag_list(msg),
        "answer": _rr_lines(msg.answer),
        "authority": _rr_lines(msg.authority),
        "additional": _rr_lines(msg.additional),
    }


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


@dns_group.command("query", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("name")
@click.argument("rdtype", required=False, default="A", metavar="[TYPE]")
@click.option("--from", "from_", metavar="NS/POD", help="Resolve as this pod does: its resolv.conf and glibc's search walk.")
@click.option("--server", metavar="ADDR:PORT", help="Ask this DNS server for real instead of the model.")
@click.option("--corefile", metavar="FILE", help="The Corefile the model answers with (default: the cluster's).")
@click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds to wait for each reply from --server.")
@click.pass_context
def query_cmd(ctx: click.Context, name: str, rdtype: str, from_: str | None, server: str | None,
              corefile: str | None, timeout: float) -> None:
    """Resolve NAME (TYPE, default A): absolute, or from a pod along its search list."""
    opts = options(ctx)
    fmt = _output(opts)
    try:
        qtype = dns.rdatatype.from_text(rdtype.upper())
    except dns.exception.DNSException:
        raise CliError(f'error: unknown record type "{rdtype}"') from None
    target = resolve(opts)
    state = target.state
    asked = _Asked()
    real = _real_query(_hostport(server, "--server"), timeout) if server else None
    cluster_dns = cluster_dns_of(state)
    model: tuple[ServerConfig, ZoneIndex] | None = None if real else model_config(state, corefile)

    def upstream(q: dns.message.Message, ups: tuple[str, ...]) -> dns.message.Message | None:
        asked.forwarded.append((q.question[0].name.to_text(), ups))
        return None

    def ask(q: dns.message.Message, nameserver: str | None) -> dns.message.Message | None:
        if real is not None:
            r = real(q)
        elif nameserver is not None and nameserver not in cluster_dns:
            asked.not_cluster.append(nameserver)
            r = None
        else:
            assert model is not None
            r = model_resolve(q, model[1], model[0], upstream)
        if r is not None:
            asked.last = r
        return r

    lines: list[str] = []
    rc: ResolvConf | None = None
    tried: list[dict[str, str]] = []
    final: dns.message.Message | None
    if from_:
        pod = find_pod(state, from_, opts.ns)
        rc = pod_conf(state, pod)
        done = _walk(name, int(qtype), rc, ask)
        tried = [{"name": t.name, "rcode": t.rcode} for t in done.tried]
        final = done.response if done.response is not None else asked.last
        lines.extend(_walk_text(pod, rc, name, rdtype.upper(), done))
    else:
        absolute = _absolute(name)
        try:
            q = dns.message.make_query(absolute, qtype)
        except dns.exception.DNSException as e:
            raise CliError(f'error: "{name}" is not a valid domain name: {e}') from None
        final = ask(q, None)
        tried = [{"name": q.question[0].name.to_text(),
                  "rcode": dns.rcode.to_text(final.rcode()) if final is not None else "TIMEOUT"}]
        lines.append(f";; {q.question[0].name.to_text()} {dns.rdatatype.to_text(qtype)}")
    notes = _notes(asked, cluster_dns)
    if fmt == "json":
        doc = {"resolv_conf": rc.to_dict() if rc is not None else None, "tried": tried,
               "final": final_doc(final)}
        click.echo(to_json(doc), nl=False)
        for n in notes:
            click.echo(f";; note: {n}", err=True)
    else:
        lines.extend(_final_text(final))
        lines.extend(f";; note: {n}" for n in notes)
        click.echo("\n".join(lines))
    if final is None:
        where = f" from {server}" if server else ""
        click.echo(f"error: no answer{where}", err=True)
        ctx.exit(1)


def _walk(name: str, qtype: int, rc: ResolvConf,
          ask: Callable[[dns.message.Message, str | None], dns.message.Message | None]) -> Done:
    w = StubWalk(name, qtype, rc)
    while True:
        step = w.next()
        if isinstance(step, Done):
            return step
        q = dns.message.make_query(step.name, dns.rdatatype.RdataType.make(step.rdtype))
        w.feed(ask(q, step.server))


def _walk_text(pod: Pod, rc: ResolvConf, name: str, rdtype: str, done: Done) -> list[str]:
    policy = pod.spec.dns_policy or "ClusterFirst"
    out = [f";; /etc/resolv.conf of {pod.metadata.namespace}/{pod.metadata.name} (dnsPolicy {policy}):"]
    out.extend(rc.to_text().rstrip("\n").split("\n") if rc.to_text() else [])
    opts = StubOptions.of(rc)
    dots = name.rstrip(".").count(".")
    if name.endswith("."):
        how = "trailing dot: the name as is, no search"
    elif dots >= opts.ndots:
        how = f"{dots} dot{'s' if dots != 1 else ''} >= ndots:{opts.ndots}: as is first, then the search list"
    else:
        how = f"{dots} dot{'s' if dots != 1 else ''} < ndots:{opts.ndots}: the search list first"
    out.append(f';; search walk for "{name}" {rdtype} ({how}):')
    width = max([len(t.name) for t in done.tried] or [0])
    rwidth = max([len(t.rcode) for t in done.tried] or [0])
    for t in done.tried:
        extra = f", {t.answers} answer{'s' if t.answers != 1 else ''}" if t.answers else ""
        out.append(f";;   {t.name.ljust(width)}  {t.rcode.ljust(rwidth)}  {t.why}{extra}")
    out.append(f";; result: {done.h_errno}")
    return out


def _final_text(final: dns.message.Message | None) -> list[str]:
    if final is None:
        return [";; no answer"]
    out = [f";; status: {dns.rcode.to_text(final.rcode())}, flags: {' '.join(flag_list(final))}"]
    for title, section in (("ANSWER", final.answer), ("AUTHORITY", final.authority),
                           ("ADDITIONAL", final.additional)):
        rrs = _rr_lines(section)
        if rrs:
            out.append(f";; {title} SECTION:")
            out.extend(rrs)
    return out


def _notes(asked: _Asked, cluster_dns: Sequence[str]) -> list[str]:
    notes: list[str] = []
    seen: set[str] = set()
    for name, ups in asked.forwarded:
        text = (f"{name} is forwarded to {', '.join(ups) or 'no upstream'}, "
                "not resolved in the model (SERVFAIL)")
        if text not in seen:
            seen.add(text)
            notes.append(text)
    for ns in dict.fromkeys(asked.not_cluster):
        notes.append(f"nameserver {ns} is not the cluster DNS ({', '.join(cluster_dns)}): "
                     "the model does not answer for it")
    return notes


# ------------------------------------------------------------------------------------ resolv-conf


@dns_group.command("resolv-conf", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("pod")
@click.pass_context
def resolv_conf_cmd(ctx: click.Context, pod: str) -> None:
    """The /etc/resolv.conf kubelet writes for POD (NS/POD)."""
    opts = options(ctx)
    fmt = _output(opts)
    state = resolve(opts).state
    p = find_pod(state, pod, opts.ns)
    rc = pod_conf(state, p)
    for ev in rc.events:
        click.echo(f"warning: {ev}", err=True)
    if fmt == "json":
        click.echo(to_json(rc.to_dict()), nl=False)
    else:
        click.echo(rc.to_text(), nl=False)


# ------------------------------------------------------------------------------------ zone


def zone_listing(state: ClusterState, corefile: str | None) -> dict[str, Any]:
    cfg, zi = model_config(state, corefile)
    k = kubernetes_of(cfg)
    if k is None:
        raise CliError("error: the Corefile has no kubernetes plugin: no cluster zone to list")
    zone = k.primary_zone
    records = [rr.to_text() for rr in transfer_records(zi, k, zone, cfg.server_ips)]

    def ask(name: str, qtype: dns.rdatatype.RdataType) -> list[str]:
        q = dns.message.make_query(name, qtype)
        r = model_resolve(q, zi, cfg, None)
        return _rr_lines(r.answer) if r is not None and r.rcode() == dns.rcode.NOERROR else []

    pods: list[str] = []
    if k.pods != "disabled":
        for p in state.pods():
            ip = p.status.pod_ip if p.status else ""
            if not ip or p.spec.host_network:
                continue
            dashed = ip.replace(".", "-") if ":" not in ip else ip.replace(":", "-")
            qtype = dns.rdatatype.AAAA if ":" in ip else dns.rdatatype.A
            pods.extend(ask(f"{dashed}.{p.metadata.namespace}.pod.{zone}", qtype))
    reverse: list[str] = []
    ips = sorted(set(zi.service_by_ip) | set(zi.endpoints_by_ip), key=_ip_key)
    for ip in ips:
        if not ip:
            continue
        try:
            ptr = reverse_pointer(ip)
        except ValueError:
            continue
        reverse.extend(ask(ptr, dns.rdatatype.PTR))
    return {"zone": zone, "pods_mode": k.pods, "records": records, "pods": pods, "reverse": reverse}


def _ip_key(ip: str) -> tuple[int, int]:
    import ipaddress

    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0)
    return (a.version, int(a))


@dns_group.command("zone", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--corefile", metavar="FILE", help="The Corefile to read the zone's options from.")
@click.pass_context
def zone_cmd(ctx: click.Context, corefile: str | None) -> None:
    """Every record of the cluster zone: the AXFR, the pods' records, the reverse records."""
    opts = options(ctx)
    fmt = _output(opts)
    state = resolve(opts).state
    z = zone_listing(state, corefile)
    if fmt == "json":
        doc = {"zone": z["zone"], "records": z["records"], "pods": z["pods"], "reverse": z["reverse"]}
        click.echo(to_json(doc), nl=False)
        return
    out = [f"; zone {z['zone']} as an AXFR sends it: SOA, NS and the server's address, then per "
           "Service (sorted by name) its A/AAAA, SRV and CNAME records, SOA again"]
    out.extend(z["records"])
    if z["pods_mode"] == "disabled":
        out.append("; pods: disabled (no <a-b-c-d>.<namespace>.pod records)")
    else:
        out.append(f"; pods ({z['pods_mode']}): the A/AAAA record of each pod's dashed address")
        out.extend(z["pods"])
    out.append("; reverse: PTR records of Service ClusterIPs and endpoint addresses")
    out.extend(z["reverse"])
    click.echo("\n".join(out))
