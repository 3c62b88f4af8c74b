"""``podnet fault``: inject latency, loss, bandwidth limits and partitions into a running cluster.

``podnet fault add (node/NAME | NS/POD | link A B) [--delay MS] [--jitter MS] [--loss PCT]
[--corrupt PCT] [--rate RATE] [--partition]``
    Applies the fault for real (Linux, root, the cluster up): nftables drops for ``--loss`` and
    ``--partition``, tbf for ``--rate``, netem for ``--delay/--jitter/--corrupt`` — on a kernel
    without sch_netem, userspace delay lines (processes podnet starts and stops with the fault:
    one for a node or pod target, one per device a link's packets leave a node by); a link
    between a node and its own pod refuses them, naming why, and nothing is applied. Where and in which direction each acts: :mod:`podnet.sim.faults`. A target that already has a fault is
    an error (``fault rm`` it first): one fault per target keeps ``list`` and ``trace`` readable.
    Pods take a unique prefix of their name, as ``exec`` does.

``podnet fault list [-o json]``
    The faults in place: ID, TARGET, FAULT, INTERFACES, STATE (applied | partial | missing:
    what the fault made is gone — the daemon applies a re-wired pod's faults again, and
    drops those of a pod deleted for good), AGE.

``podnet fault rm (ID… | --all)``
    Removes exactly what the fault made. ``podnet down`` removes every fault with the cluster.

``podnet trace`` shows the faults a path crosses (see :mod:`podnet.cli.trace_cmd`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from podnet.cli import store
from podnet.cli.context import CliError, common_options, options, output_format
from podnet.cli.tabwriter import table
from podnet.sim.faults import (
    Fault,
    FaultError,
    compile_fault,
    conflict,
    next_id,
    parse_impairment,
    parse_target_args,
    resolve_target,
)

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def _running(cluster: str) -> None:
    from podnet.linux import processes

    rt = processes.read_runtime(cluster) or {}
    if processes.running_daemon(cluster) is None or rt.get("phase") != "ready":
        suffix = "" if cluster == "default" else f" --cluster {cluster}"
        raise CliError(f'error: cluster "{cluster}" is not up: podnet up{suffix} first')


def _age(created: str) -> str:
    try:
        then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return "<unknown>"
    secs = max(0, int((dt.datetime.now(dt.timezone.utc) - then).total_seconds()))
    if secs < 120:
        return f"{secs}s"
    if secs < 7200:
        return f"{secs // 60}m"
    return f"{secs // 3600}h"


@click.group("fault", context_settings=CONTEXT_SETTINGS)
@common_options
def fault_group() -> None:
    """Inject faults into the running cluster's real links: latency, loss, rate limits,
    partitions (add, list, rm)."""


@fault_group.command("add", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("target", nargs=-1, required=True)
@click.option("--delay", metavar="MS", help="Add MS milliseconds to what leaves (netem, or a "
              "userspace delay line without it).")
@click.option("--jitter", metavar="MS", help="Vary the delay by ±MS (needs --delay).")
@click.option("--loss", metavar="PCT", help="Drop PCT percent of the packets (0-100).")
@click.option("--corrupt", metavar="PCT", help="Corrupt PCT percent of the packets (flip a bit).")
@click.option("--rate", metavar="RATE", help="Limit the bandwidth (tc syntax: 1mbit, 500kbit…).")
@click.option("--partition", is_flag=True, help="Drop everything, both ways (pull the cable).")
@click.pass_context
def add_cmd(ctx: click.Context, target: tuple[str, ...], delay: str | None, jitter: str | None,
            loss: str | None, corrupt: str | None, rate: str | None, partition: bool) -> None:
    """Inject a fault: add node/NAME | NS/POD | link A B  [--delay MS] [--jitter MS]
    [--loss PCT] [--corrupt PCT] [--rate RATE] [--partition].

    \b
    node/NAME   the node's underlay interface (eth0): what the node sends
    NS/POD      the pod's eth0 (a unique name prefix is enough): what the pod sends
    link A B    the traffic between A and B (nodes or pods), both ways
    --partition drops everything both ways.
    """
    from podnet.cli.up_cmd import _require_platform, resolve_pod
    from podnet.linux import fault as fio
    from podnet.linux import names
    from podnet.plugins import build_plan

    opts = options(ctx)
    cluster = store.check_name(opts.cluster_name)
    try:
        imp = parse_impairment(delay=delay, jitter=jitter, loss=loss, corrupt=corrupt,
                               rate=rate, partition=partition)
        ends = parse_target_args(target)
    except FaultError as e:
        raise CliError(*e.errors) from e
    _require_platform("fault")
    _running(cluster)
    stored = store.load_stored(cluster)
    if stored is None:
        raise CliError(f'error: cluster "{cluster}" does not exist')
    state = stored.state
    keys = [e if e.startswith("node/") else resolve_pod(cluster, state, e, opts.namespace)
            for e in ends]
    try:
        resolved = resolve_target(build_plan(state), keys)
    except FaultError as e:
        raise CliError(*e.errors) from e
    with store.lock(cluster):
        records = fio.read_records(cluster)
        same = next((r for r in records if r.get("target") == resolved.text), None)
        if same is not None:
            raise CliError(f"error: {resolved.text} already has fault {same['id']} "
                           f"({same.get('summary', '')}): podnet fault rm {same['id']} first")
        fault = Fault(next_id(str(r["id"]) for r in records), resolved, imp, store.now_rfc3339())
        try:
            netem = fio.netem_for(cluster, fault)
        except fio.FaultIOError as e:
            raise CliError(str(e)) from e
        try:
            program = fio.program_of(fault, netem)
        except FaultError as e:
            raise CliError(*e.errors) from e
        other = conflict(program, fio.programs_of(records))
        if other is not None:
            raise CliError(f"error: fault {other} already has a qdisc or a delay line on a "
                           f"device this fault needs (a device has one root qdisc, and one "
                           f"delay line): podnet fault rm {other} first")
        try:
            applied = fio.apply(cluster, fault, program)
        except fio.FaultIOError as e:
            raise CliError(str(e)) from e
        doc = fio.record(cluster, fault, program, applied)
        fio.write_records(cluster, [*records, doc])
    if opts.output == "json":
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    dls = applied.get("delayline") or []
    how = ""
    if len(dls) == 1:
        how = f"; userspace delay line {dls[0]['tap']} (no sch_netem)"
    elif dls:
        how = "; userspace delay lines " + ", ".join(
            f"{d['tap']} on {d['netns']}:{d['dev']}" for d in dls) + " (no sch_netem)"
    click.echo(f"fault {fault.id} added: {fault.summary} on {resolved.text} "
               f"({', '.join(doc['interfaces'])}; {doc['direction']}{how})")


@fault_group.command("list", context_settings=CONTEXT_SETTINGS)
@common_options
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """The faults in place in the running cluster (-o json for the records)."""
    from podnet.linux import fault as fio

    opts = options(ctx)
    cluster = store.check_name(opts.cluster_name)
    fmt = output_format(opts.output, ("", "json", "wide"))
    records = fio.read_records(cluster)
    docs = []
    for r in records:
        docs.append({**r, "state": fio.state(r.get("applied") or {})})
    if fmt == "json":
        click.echo(json.dumps({"cluster": cluster, "faults": docs}, indent=2, sort_keys=True))
        return
    if not docs:
        click.echo(f'No faults in cluster "{cluster}".', err=True)
        return
    rows = [["ID", "TARGET", "FAULT", "INTERFACES", "STATE", "AGE"]]
    for d in docs:
        rows.append([str(d["id"]), str(d.get("target", "")), str(d.get("summary", "")),
                     ",".join(d.get("interfaces") or []), str(d["state"]),
                     _age(str(d.get("created", "")))])
    click.echo(table(rows), nl=False)


@fault_group.command("rm", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Remove every fault.")
@click.pass_context
def rm_cmd(ctx: click.Context, ids: tuple[str, ...], all_: bool) -> None:
    """Remove faults: rm ID… or rm --all (exactly what each made)."""
    from podnet.cli.up_cmd import _require_platform
    from podnet.linux import fault as fio

    opts = options(ctx)
    cluster = store.check_name(opts.cluster_name)
    if not ids and not all_:
        raise CliError("error: give fault IDs (podnet fault list) or --all")
    if ids and all_:
        raise CliError("error: give fault IDs or --all, not both")
    with store.lock(cluster):
        records = fio.read_records(cluster)
        wanted = set(ids) if ids else {str(r["id"]) for r in records}
        missing = sorted(wanted - {str(r["id"]) for r in records})
        gone = [r for r in records if str(r["id"]) in wanted]
        if gone:
            _require_platform("fault")
        problems: list[str] = []
        for r in gone:
            problems += fio.remove(r.get("applied") or {})
        fio.write_records(cluster, [r for r in records if str(r["id"]) not in wanted])
    for r in gone:
        click.echo(f"fault {r['id']} removed ({r.get('summary', '')} on {r.get('target', '')})")
    if all_ and not gone:
        click.echo(f'No faults in cluster "{cluster}".', err=True)
    errors = [f"warning: {p}" for p in problems] + \
        [f'Error from server (NotFound): faults "{m}" not found' for m in missing]
    for line in errors:
        click.echo(line, err=True)
    if missing:
        ctx.exit(1)
