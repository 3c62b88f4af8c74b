"""The real data plane's commands: ``up``, ``down``, ``exec``, ``status``, ``port-forward``, ``logs``.

``podnet up [-f PATH…] [--config FILE] [--plugin NAME[:MODE]] [--nodes N] [--cluster NAME] [-d]``
    Applies PATH to the stored cluster (creating it; without -f the stored cluster as it is, or
    an empty one), then builds its network for real — namespaces, links, routes, nftables — and
    serves its pods. In the foreground until Ctrl-C, which tears everything down; with ``-d`` in
    the background (``podnet down`` ends it). A second ``up`` of a running cluster is an error.
    Needs Linux and root.

``podnet down [--cluster NAME]``
    Stops the cluster's daemon and removes exactly what podnet made for it: its network
    namespaces (``pn-<cluster>-…``), their ``/etc/netns`` folders, the processes in them, its pid
    and runtime files. Also what a crashed run left. Nothing to remove is not an error.

``podnet exec [NS/]POD -- CMD…`` (also ``node/NAME`` and ``outside``)
    Runs CMD inside the pod's network namespace (``ip netns exec``), with the pod's resolv.conf
    and hosts. A unique prefix of the pod name is enough (``shop/api`` for ``shop/api-6f4f…``).

``podnet status [--cluster NAME] [-o json]``
    Whether the cluster is up, its daemon, nodes, pods, port-forwards; leftovers if any.

``podnet port-forward (svc/NS/NAME | NS/POD) [LOCAL:]REMOTE…``
    Listens on 127.0.0.1:LOCAL and relays each connection to REMOTE inside the pod (for a
    Service: one ready endpoint pod, on the target port of the Service port REMOTE), until Ctrl-C.

``podnet logs [NS/POD] [--follow] [--tail N]``
    What the pod's server logged (one line per request) or its command printed; without a pod,
    the daemon's own log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from podnet.api.loader import LoadResult
from podnet.cli import store
from podnet.cli.context import (
    CliError,
    Options,
    apply_config_flags,
    common_options,
    config_flags_given,
    options,
)
from podnet.cli.mutate import apply as do_apply
from podnet.cli.progress import ProgressDisplay
from podnet.cluster.admission import admit
from podnet.cluster.config import DEFAULT
from podnet.cluster.state import ClusterState

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def _require_platform(what: str) -> None:
    from podnet.linux import preflight

    problems = preflight.platform_problems()
    if problems:
        raise CliError(*(f"error: {p}" for p in problems))


def summary_lines(rt: dict[str, Any]) -> list[str]:
    """The summary printed once a cluster is up (from its runtime.json)."""
    cluster = rt.get("cluster", "default")
    secs = sum(float(v) for v in (rt.get("seconds") or {}).values())
    nodes = rt.get("nodes") or []
    pods = rt.get("pods") or {}
    lines = [f'cluster "{cluster}" is up ({rt.get("plugin", "?")}) in {secs:.2f}s']
    lines.append("  nodes:   " + ", ".join(f"{n['name']} {n['ip']}" for n in nodes))
    lines.append(f"  pods:    {rt.get('ready_pods', 0)}/{len(pods)} serving")
    probed = rt.get("probes") or {}
    if probed.get("probed"):
        parts = [f"{probed['probed']} pod(s) watched by kubelet's probes"]
        if probed.get("not_ready"):
            parts.append("not ready: " + ", ".join(probed["not_ready"]))
        if probed.get("restarts"):
            parts.append("restarted: " + ", ".join(f"{k} ({n})"
                                                   for k, n in sorted(probed["restarts"].items())))
        lines.append("  probes:  " + "; ".join(parts))
    dns = rt.get("dns") or {}
    if dns.get("pods"):
        lines.append(f"  dns:     {dns.get('service')} (kube-dns, served by "
                     f"{len(dns['pods'])} CoreDNS pod(s))")
    outside = rt.get("outside") or {}
    if outside:
        lines.append(f"  outside: {outside.get('ip')} (podnet exec outside -- CMD)")
    if rt.get("unbuilt"):
        lines.append(f"  ipv6:    not built ({', '.join(rt['unbuilt'])}): the IPv6 half exists "
                     "in the model only (dual stack is wired under flannel)")
    elif "IPv6" in (rt.get("families") or []):
        lines.append("  ipv6:    dual stack (pods, nodes and Services have their IPv6 half)")
    for f in rt.get("forwards") or []:
        lines.append(f"  ingress: {f['url']}  ({f['target']} via pod {f['pod']}:{f['remote']})")
    some = sorted(pods)
    if some:
        lines.append(f"  try:     podnet exec {some[0]} -- ip route")
    lines.append(f"  stop:    podnet down{'' if cluster == 'default' else ' --cluster ' + cluster}")
    return lines


def _require_ipv4(cluster: str) -> None:
    """The real data plane is IPv4 (the IPv4 half of a dual-stack cluster): an IPv6-only cluster
    is refused before anything is built, in words rather than the plan layer's traceback."""
    stored = store.load_stored(cluster)
    if stored is None:
        return
    nets = stored.state.config.pod_networks()
    if nets and not any(n.version == 4 for n in nets):
        raise CliError(
            f'error: cluster "{cluster}" is IPv6-only (podSubnet '
            f"{', '.join(str(n) for n in nets)}): podnet up builds IPv4 and dual-stack clusters "
            "(the IPv4 half); its model is stored and answers trace, dns and policy without root"
        )


def _prepare_state(opts: Options) -> None:
    """``up -f …``: apply the inputs to the stored cluster (creating it); without inputs, make
    sure a stored cluster exists (an empty one with the config flags)."""
    cluster = opts.cluster_name
    if opts.filenames:
        result = do_apply(opts)
        for line in result.lines:
            click.echo(line)
        return
    stored = store.load_stored(cluster)
    if stored is not None and not config_flags_given(opts):
        return
    with store.lock(cluster):
        base = stored.state.config if stored is not None else DEFAULT
        config = apply_config_flags(opts, base)
        admitted = admit(LoadResult(), config, previous=stored.state if stored else None,
                         keep=stored.applied_objects if stored else ())
        state = store.stamp(admitted.state, stored.state if stored else None)
        store.save(state, cluster, dict(stored.last_applied) if stored else {})
    click.echo(f"cluster.podnet.io/{cluster} {'configured' if stored else 'created'}")


# ------------------------------------------------------------------------------------ up


@click.command("up", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("-d", "--detach", is_flag=True, help="Leave the cluster running in the background.")
@click.pass_context
def up_cmd(ctx: click.Context, detach: bool) -> None:
    """Build the cluster's network for real and serve its pods (Linux, root).

    -f PATH applies manifests first; --plugin NAME[:MODE], --nodes N, --config FILE set the
    cluster; --cluster NAME picks it. Foreground until Ctrl-C (which tears down), or -d.
    """
    from podnet.linux import daemon, processes

    opts = options(ctx)
    _require_platform("up")
    cluster = store.check_name(opts.cluster_name)
    pid = processes.running_daemon(cluster)
    if pid is not None:
        raise CliError(
            f'error: cluster "{cluster}" is already up (pid {pid}); '
            f"run podnet down{'' if cluster == 'default' else ' --cluster ' + cluster} first"
        )
    _prepare_state(opts)
    _require_ipv4(cluster)
    if detach:
        with ProgressDisplay() as show:
            code = daemon.start_background(cluster, show)
        rt = processes.read_runtime(cluster) or {}
        if code == 0:
            for line in summary_lines(rt):
                click.echo(line)
        ctx.exit(code)

    display = ProgressDisplay().start()

    def ready_echo(message: str) -> None:
        """Bars while building; at ``ready`` the summary, then the daemon's lines as they come."""
        display(message)
        if message.startswith("ready in "):
            display.stop()
            rt = processes.read_runtime(cluster) or {}
            for line in summary_lines(rt)[:-1]:
                click.echo(line)
            click.echo("  stop:    Ctrl-C (or podnet down from another terminal)")

    d = daemon.Daemon(cluster, echo=ready_echo)
    try:
        ctx.exit(d.run())
    finally:
        display.stop()


# ------------------------------------------------------------------------------------ down


@click.command("down", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the daemon.")
@click.pass_context
def down_cmd(ctx: click.Context, timeout: float) -> None:
    """Stop the cluster and remove exactly what podnet made for it (namespaces, /etc/netns
    folders, processes, pid files). Nothing to remove is not an error."""
    from podnet.linux import netns, processes, teardown

    opts = options(ctx)
    cluster = store.check_name(opts.cluster_name)
    start = time.monotonic()
    pid = processes.running_daemon(cluster)
    if pid is not None and pid != os.getpid():
        click.echo(f"stopping the daemon of cluster {cluster} (pid {pid})", err=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while processes.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if processes.alive(pid):
            click.echo(f"warning: pid {pid} did not stop in {timeout:.0f}s: killing it", err=True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    left = teardown.leftovers(cluster) if sys.platform.startswith("linux") else []
    if left:
        _require_platform("down")
        rep = teardown.teardown(cluster)
    else:
        rep = teardown.TeardownReport()
    files = processes.remove_runtime_files(cluster)
    if pid is None and rep.empty and not files:
        click.echo(f'cluster "{cluster}" is not up: nothing to remove')
        return
    parts = []
    if pid is not None:
        parts.append(f"daemon {pid} stopped")
    if rep.namespaces or rep.etc_dirs or rep.processes:
        parts.append(f"{len(rep.namespaces)} namespaces, {len(rep.etc_dirs)} /etc/netns folders "
                     f"and {len(rep.processes)} processes removed")
    if not parts:
        parts.append("its network was already removed")
    click.echo(f'cluster "{cluster}" down: {"; ".join(parts)} '
               f"({time.monotonic() - start:.2f}s)")
    remaining = [n for n in netns.list_names() if n.startswith(f"pn-{cluster}-")] \
        if sys.platform.startswith("linux") else []
    if remaining and teardown.leftovers(cluster):
        raise CliError(f"error: still present: {', '.join(teardown.leftovers(cluster))}")


# ------------------------------------------------------------------------------------ targets


def _load_state(cluster: str) -> ClusterState:
    stored = store.load_stored(cluster)
    if stored is None:
        raise CliError(f'error: cluster "{cluster}" does not exist')
    return stored.state


def _pod_keys(cluster: str, state: ClusterState) -> list[str]:
    from podnet.linux import processes

    rt = processes.read_runtime(cluster) or {}
    keys = set(rt.get("pods") or {})
    keys |= {f"{p.metadata.namespace}/{p.metadata.name}" for p in state.pods()}
    return sorted(keys)


def resolve_pod(cluster: str, state: ClusterState, target: str, namespace: str | None) -> str:
    """``NS/POD``, ``pod/NS/POD`` or ``POD`` (with -n) → the pod's key; a unique prefix of the
    name is enough."""
    t = target[4:] if target.startswith("pod/") else target
    for kind in ("deploy/", "deployment/", "sts/", "statefulset/", "ds/", "daemonset/"):
        # kubectl's `exec deploy/NAME`: the first pod of the workload
        head, sep, rest = t.partition(kind)
        if sep and (not head or head.endswith("/")) and "/" not in rest:
            ns = head.rstrip("/") or namespace or "default"
            keys = [k for k in _pod_keys(cluster, state)
                    if k.partition("/")[0] == ns and k.partition("/")[2].startswith(rest + "-")]
            if not keys:
                raise CliError(f'error: no pods of {kind}{rest} in namespace "{ns}"')
            return keys[0]
    if "/" in t:
        ns, _, name = t.partition("/")
    else:
        ns, name = namespace or "default", t
    keys = [k for k in _pod_keys(cluster, state) if k.partition("/")[0] == ns]
    if f"{ns}/{name}" in keys:
        return f"{ns}/{name}"
    matches = [k for k in keys if k.partition("/")[2].startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f'error: pods "{name}" not found in namespace "{ns}"')
    raise CliError(f'error: "{ns}/{name}" matches several pods: ' + ", ".join(matches))


def resolve_netns(cluster: str, target: str, namespace: str | None) -> tuple[str, str]:
    """(network namespace, what it is) for exec: a pod, ``node/NAME``, ``outside``."""
    from podnet.linux import names, netns
    from podnet.linux.cluster import pod_netns

    if target in ("outside", "underlay"):
        ns = names.outside_ns(cluster) if target == "outside" else names.underlay_ns(cluster)
        what = target
    elif target.startswith("node/"):
        ns, what = names.node_ns(cluster, target[5:]), target
    else:
        state = _load_state(cluster)
        key = resolve_pod(cluster, state, target, namespace)
        got = pod_netns(cluster, state, key)
        if got is None:
            raise CliError(f'error: pod "{key}" has no network namespace (not scheduled?)')
        ns, what = got, f"pod {key}"
    if not netns.exists(ns):
        raise CliError(f'error: {what} of cluster "{cluster}" is not running (no network namespace '
                       f"{ns}): podnet up first")
    return ns, what


# ------------------------------------------------------------------------------------ exec


@click.command("exec", context_settings={**CONTEXT_SETTINGS,
                                         "ignore_unknown_options": True})
@common_options
@click.argument("target")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def exec_cmd(ctx: click.Context, target: str, command: tuple[str, ...]) -> None:
    """Run a command inside a pod's network namespace: exec NS/POD -- CMD…

    Also NS/deploy/NAME (its first pod), node/NAME and outside. The pod's resolv.conf and hosts are in place.
    """
    opts = options(ctx)
    cmd = list(command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise CliError("error: you must specify at least one command for the container: "
                       "podnet exec NS/POD -- CMD…")
    _require_platform("exec")
    ns, _what = resolve_netns(opts.cluster_name, target, opts.namespace)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp("ip", ["ip", "netns", "exec", ns, *cmd])
    except OSError as e:
        raise CliError(f"error: cannot run ip netns exec: {e.strerror or e}") from e


# ------------------------------------------------------------------------------------ status


@click.command("status", context_settings=CONTEXT_SETTINGS)
@common_options
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """Whether the cluster is up: its daemon, nodes, pods, port-forwards, leftovers."""
    from podnet.linux import names, netns, processes

    opts = options(ctx)
    cluster = store.check_name(opts.cluster_name)
    pid = processes.running_daemon(cluster)
    rt = processes.read_runtime(cluster) or {}
    on_linux = sys.platform.startswith("linux")
    spaces = [n for n in netns.list_names() if names.role_of(cluster, n)] if on_linux else []
    state = "up" if pid is not None and rt.get("phase") == "ready" else (
        rt.get("phase", "down") if pid is not None else ("crashed" if spaces else "down"))
    if opts.output == "json":
        doc = {"cluster": cluster, "state": state, "pid": pid, "namespaces": len(spaces),
               "runtime": rt if pid is not None else None}
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    if state == "down":
        click.echo(f'cluster "{cluster}" is not up')
        return
    if state == "crashed":
        click.echo(f'cluster "{cluster}" is not up, but {len(spaces)} namespaces of an earlier run '
                   f"are left: podnet down{'' if cluster == 'default' else ' --cluster ' + cluster} "
                   "removes them")
        return
    click.echo(f'cluster "{cluster}": {state} (pid {pid}, since {rt.get("started", "?")}), '
               f"{len(spaces)} network namespaces")
    if state == "up":
        for line in summary_lines(rt)[1:]:
            click.echo(line)


# ------------------------------------------------------------------------------------ port-forward


def _parse_ports(specs: Sequence[str]) -> list[tuple[int, str]]:
    out = []
    for spec in specs:
        local, sep, remote = spec.rpartition(":")
        if not sep:
            local, remote = spec, spec
        try:
            lport = int(local) if local else 0
            rport: str | int = int(remote) if remote.isdigit() else remote
        except ValueError as e:
            raise CliError(f'error: invalid port "{spec}": use [LOCAL:]REMOTE') from e
        if not (0 <= lport <= 65535):
            raise CliError(f'error: invalid local port "{local}"')
        out.append((lport, str(rport)))
    return out


@click.command("port-forward", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("target")
@click.argument("ports", nargs=-1, required=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Loopback address to listen on (127.0.0.0/8 or ::1 only).")
@click.pass_context
def port_forward_cmd(ctx: click.Context, target: str, ports: tuple[str, ...], address: str) -> None:
    """Forward 127.0.0.1:LOCAL to REMOTE in a pod (or a Service's pod) until Ctrl-C:
    port-forward svc/NS/NAME 8080:80, port-forward NS/POD 5432."""
    from podnet.linux.cluster import pod_netns
    from podnet.linux.daemon import service_forward_target
    from podnet.linux.portforward import Forward, ForwardError, Forwarder, check_loopback

    opts = options(ctx)
    _require_platform("port-forward")
    cluster = store.check_name(opts.cluster_name)
    try:
        check_loopback(address)
    except ForwardError as e:
        raise CliError(f"error: {e}") from e
    state = _load_state(cluster)

    def netns_of(key: str) -> str | None:
        from podnet.linux import netns

        got = pod_netns(cluster, state, key)
        return got if got is not None and netns.exists(got) else None

    plans: list[Forward] = []
    for lport, remote in _parse_ports(ports):
        if target.startswith(("svc/", "service/", "services/")):
            rest = target.split("/", 1)[1]
            ns, _, name = rest.rpartition("/")
            ns = ns or opts.ns
            port: int | str = int(remote) if remote.isdigit() else remote
            got = service_forward_target(state, netns_of, ns, name, port)
            if got is None:
                raise CliError(f'error: service "{ns}/{name}" has no ready pod serving port {remote} '
                               "(or the cluster is not up)")
            key, tport = got
            label = f"svc/{ns}/{name}"
        else:
            key = resolve_pod(cluster, state, target, opts.namespace)
            if not remote.isdigit():
                raise CliError(f'error: give a port number for a pod, not "{remote}"')
            tport, label = int(remote), key
        ns_name = netns_of(key)
        if ns_name is None:
            raise CliError(f'error: pod "{key}" is not running: podnet up first')
        plans.append(Forward(address, lport or 0, ns_name, tport, label))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for s in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(s, stop.set)
        fws = []
        try:
            for f in plans:
                fw = Forwarder(f, lambda m: click.echo(m, err=True))
                await fw.start()
                fws.append(fw)
                click.echo(f"Forwarding from {f.local_host}:{fw.port} -> {f.remote_port} "
                           f"({f.target})")
            await stop.wait()
        finally:
            for fw in fws:
                await fw.close()

    try:
        asyncio.run(run())
    except ForwardError as e:
        raise CliError(f"error: {e}") from e


# ------------------------------------------------------------------------------------ logs


@click.command("logs", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("target", required=False)
@click.option("--follow", "-F", "follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=int, default=-1, help="Only the last N lines.")
@click.pass_context
def logs_cmd(ctx: click.Context, target: str | None, follow: bool, tail: int) -> None:
    """What a pod's server logged or its command printed (NS/POD); without a pod, the daemon's log."""
    from podnet.linux import processes

    opts = options(ctx)
    cluster = store.check_name(opts.cluster_name)
    if target:
        key = resolve_pod(cluster, _load_state(cluster), target, opts.namespace)
        path = processes.pod_log_path(cluster, key)
    else:
        path = processes.daemon_log_path(cluster)
    if not path.exists():
        raise CliError(f"error: no logs for {target or 'the daemon'} of cluster \"{cluster}\" "
                       f"({path} does not exist)")
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
        if tail >= 0:
            lines = lines[-tail:] if tail else []
        for line in lines:
            click.echo(line, nl=False)
        if not follow:
            return
        try:
            while True:
                line = f.readline()
                if line:
                    click.echo(line, nl=False)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return
