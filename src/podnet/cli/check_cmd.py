"""``podnet check``: connectivity assertions (:mod:`podnet.sim.check`), for CI.

``podnet check SPEC… [-f PATH…] [--live] [--junit FILE] [-o text|json]``

SPEC files hold ``podnet.io/v1alpha1`` ``ConnectivityCheck`` documents. The cluster is the one of
``-f`` (manifests alone: no root, no cluster) or the stored cluster. Every spec is validated
before anything runs: errors name the file, line and field, exit 1, nothing half-run. Then every
expectation is answered; text output lists PASS/FAIL with the explanation of each failure,
``-o json`` is ``{"passed", "failed", "results": […]}``, ``--junit FILE`` writes JUnit XML (one
testcase per expectation). Exit 0 only when every expectation passes.

``--live`` answers connection expectations for real on the running cluster (``podnet up``):
from inside each source's network namespace, a TCP connect (a UDP exchange) to the address the
model resolved. The real answer decides; where it differs from the model's, the result says so
(a podnet bug, labelled ``PODNET BUG``). DNS and Ingress-route expectations are answered by the
model even then (the result says so).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import click

from podnet.api.loader import ManifestError, read_paths
from podnet.cli import store
from podnet.cli.context import CliError, common_options, no_cluster, options, output_format, resolve
from podnet.cli.lint_cmd import read_texts
from podnet.cli.printers import to_json
from podnet.cluster.gcpause import paused_gc
from podnet.cluster.state import ClusterState
from podnet.sim.check import KIND, CheckReport, Checker, Outcome, Result, SpecErrors, parse_specs
from podnet.sim.junit import to_junit

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
FORMATS = ("text", "json")

#: Probe(netns, ip, port, protocol) → (connected, detail)
Probe = Callable[[str, str, int, str], tuple[bool, str]]


# ------------------------------------------------------------------------------------ live


def no_running_cluster(cluster: str, why: str = "") -> CliError:
    return CliError(
        f'error: --live: no running cluster "{cluster}"{": " + why if why else ""}; start it with '
        f"podnet up (or check the model alone, without --live)"
    )


def live_netns(cluster: str, state: ClusterState) -> Callable[[str], str | None]:
    """The network namespace each FROM value starts in, on the running cluster."""
    from podnet.linux import names
    from podnet.linux.cluster import pod_netns

    def netns_of(ref: str) -> str | None:
        if ref == "outside":
            return names.outside_ns(cluster)
        if ref.startswith("node/"):
            return names.node_ns(cluster, ref[5:])
        if "/" in ref:
            return pod_netns(cluster, state, ref)
        return None

    return netns_of


def real_probe(netns: str, ip: str, port: int, protocol: str) -> tuple[bool, str]:
    from podnet.linux import probe

    if protocol == "UDP":
        r = probe.udp(netns, ip, port)
    else:
        r = probe.connect(netns, ip, port, timeout=2.0)
    if r.ok:
        return True, f"connected to {ip}:{port}/{protocol} from {netns} ({r.seconds * 1000:.0f} ms)"
    return False, f"{ip}:{port}/{protocol} from {netns}: {r.error or 'no answer'}"


def go_live(report: CheckReport, netns_of: Callable[[str], str | None], probe: Probe) -> CheckReport:
    """Answer connection expectations for real; keep the model's answer for the explanation and
    flag every disagreement."""
    out: list[Result] = []
    for r in report.results:
        e = r.expectation
        if e.kind != "connect":
            note = "not probed live (DNS and Ingress routes are answered by the model)"
            out.append(dataclasses.replace(r, summary=f"{r.summary} [{note}]"))
            continue
        outcomes: list[Outcome] = []
        disagree: list[str] = []
        for o in r.outcomes:
            target = o.data.get("target") if o.data else None
            ns = netns_of(o.source)
            if not isinstance(target, dict) or not target.get("ip") or ns is None:
                outcomes.append(dataclasses.replace(o, sentence=o.sentence + " [not probed live: "
                                                    "no address to probe]"))
                continue
            ok, detail = probe(ns, str(target["ip"]), int(target["port"]), e.protocol)
            actual = "allow" if ok else "deny"
            if actual != o.actual:
                disagree.append(f"{o.source}: the model says {o.actual} ({o.sentence}) but the real "
                                f"network says {actual} ({detail})")
            outcomes.append(dataclasses.replace(
                o, ok=(actual == "allow") == e.allow, actual=actual,
                sentence=f"live: {detail}; model: {o.actual}: {o.sentence}"))
        passed = all(o.ok for o in outcomes)
        actual = "allow" if all(o.actual == "allow" for o in outcomes) else (
            "deny" if all(o.actual != "allow" for o in outcomes) else "mixed")
        word = e.expected
        summary = (f"expected {word}, got {actual} (live)" if passed else
                   f"expected {word}, got {actual} (live): "
                   + next(o.sentence for o in outcomes if not o.ok))
        mismatch = ("the real network and the model disagree — " + "; ".join(disagree)) if disagree else None
        out.append(Result(e, passed, actual, summary, tuple(outcomes), mismatch))
    return CheckReport(tuple(out))


# ------------------------------------------------------------------------------------ command


@click.command("check", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("specs", nargs=-1, required=True, metavar="SPEC…")
@click.option("--live", is_flag=True, help="Try every connection for real on the running cluster.")
@click.option("--junit", "junit", metavar="FILE", help="Write the results as JUnit XML to FILE.")
@click.pass_context
def check_cmd(ctx: click.Context, specs: tuple[str, ...], live: bool, junit: str | None) -> None:
    """Check connectivity expectations (ConnectivityCheck specs) against the manifests (-f) or
    the stored cluster; with --live, on the running cluster. Exit 0 only if all pass."""
    opts = options(ctx)
    fmt = output_format(opts.output, FORMATS, "text")
    stdin_text = sys.stdin.read() if "-" in specs else None
    loaded = read_paths(specs, stdin_text)
    if loaded.errors:
        raise ManifestError(loaded.errors)
    docs = [d for d in loaded.podnet_documents if d.kind != "Cluster"]
    if loaded.objects:
        first = loaded.objects[0]
        raise CliError(f"error: {first.source}: a spec file holds {KIND} documents; "
                       f"{first.obj.kind} {first.obj.qualified_name} belongs to the manifests (-f)")
    if not docs:
        raise CliError(f"error: {', '.join(specs)}: no {KIND} document "
                       "(apiVersion: podnet.io/v1alpha1, kind: ConnectivityCheck)")
    if live and opts.filenames:
        raise CliError("error: --live checks the running cluster: leave out -f (the running "
                       "cluster's own manifests are used)")
    # The model's work (build, validate, answer) makes objects that live until the command ends:
    # the cyclic collector would only walk them (see podnet.cluster.gcpause).
    with paused_gc():
        state = _running_state(opts.cluster_name) if live else resolve(opts).state
        texts = read_texts(list(specs), stdin_text)
        try:
            expectations = parse_specs(state, docs, texts)
        except SpecErrors as e:
            raise CliError(*(str(x) for x in e.errors)) from e
        report = Checker(state).run(expectations)
    if live:
        report = go_live(report, live_netns(opts.cluster_name, state), real_probe)
    if junit:
        try:
            Path(junit).write_text(to_junit(report), encoding="utf-8")
        except OSError as e:
            raise CliError(f"error: cannot write {junit}: {e.strerror or e}") from e
    if fmt == "json":
        click.echo(to_json(report.to_dict()), nl=False)
    else:
        click.echo(report.to_text(), nl=False)
    if not report.ok:
        ctx.exit(1)


def _running_state(cluster: str) -> ClusterState:
    if not sys.platform.startswith("linux"):
        raise no_running_cluster(cluster, "the real data plane needs Linux")
    try:
        from podnet.linux import processes
    except ImportError as e:  # pragma: no cover - the data plane is not installed
        raise no_running_cluster(cluster, f"the real data plane is not available ({e})") from e
    stored = store.load_stored(cluster)
    if stored is None:
        raise no_cluster(cluster)
    if processes.running_daemon(cluster) is None:
        raise no_running_cluster(cluster)
    return stored.state


__all__ = ["check_cmd", "go_live", "live_netns", "real_probe"]
