"""``podnet diff``: what a change to the manifests opens or breaks (:mod:`podnet.sim.diff`).

``podnet diff --base PATH… --head PATH… [-o text|json|markdown] [--fail-on-change]
[--as-enforced]``

Both versions are read like ``-f`` (files, folders, ``-`` once) with the shared config flags
(``--plugin``, ``--nodes``, ``--config``) and their own Cluster documents. The base is admitted
in full; the head is the base changed by what differs (only the changed objects are validated
again), so that everything the change does not touch stays as it was. When the two versions
carry different cluster configs the head is admitted in full instead.

Text output lists reachability gained and lost (grouped by destination workload, port and
protocol, with the deciding policy), new and removed workloads, DNS names added, removed or
re-pointed, Ingress URLs whose status, backend or certificate changes, and Services whose ready
endpoints change. ``-o markdown`` is for a pull request comment, ``-o json`` the same as data.
Exit 0, or 1 with ``--fail-on-change`` when anything changed (and on errors).
"""

from __future__ import annotations

import sys

import click

from podnet.api.loader import LoadResult, ManifestError, read_paths
from podnet.cli.context import CliError, apply_config_flags, common_options, options, output_format
from podnet.cli.printers import to_json
from podnet.cluster.admission import admit, check, config_from_documents, default_all
from podnet.cluster.config import DEFAULT, ClusterConfig
from podnet.cluster.gcpause import paused_gc
from podnet.cluster.reconcile import ReconcileError
from podnet.sim.diff import DiffReport, derive_head, diff_states

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
FORMATS = ("text", "json", "markdown")


def _read(paths: tuple[str, ...], stdin: str | None) -> LoadResult:
    result = read_paths(paths, stdin)
    if result.errors:
        raise ManifestError(result.errors)
    return result


def _diff(namespace: str, config: ClusterConfig, base_res: LoadResult, head_res: LoadResult,
          as_enforced: bool) -> DiffReport:
    """Admit the base, derive (or admit) the head, compare them."""
    admitted = admit(base_res, config, namespace=namespace)
    head_config, errors = config_from_documents(head_res.podnet_documents, config)
    if errors:
        raise ManifestError(errors)
    if head_config != admitted.state.config:
        head_state = admit(head_res, config, namespace=namespace).state
    else:
        loaded = default_all(head_res.objects, namespace)
        before = {o.ref: o for o in admitted.objects}
        changed = [item for item in loaded if before.get(item.obj.ref) != item.obj]
        errors = check(changed, head_config)
        if errors:
            raise ManifestError(errors)
        try:
            head_state = derive_head(admitted.state, admitted.objects, [i.obj for i in loaded])
        except ReconcileError as e:
            raise ManifestError([m if m.startswith("error:") else f"error: {m}" for m in e.errors]) from e
    return diff_states(admitted.state, head_state, as_enforced_by_plugin=as_enforced)


@click.command("diff", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--base", "base", multiple=True, required=True, metavar="PATH",
              help="The manifests before the change (file, folder or -); repeatable.")
@click.option("--head", "head", multiple=True, required=True, metavar="PATH",
              help="The manifests after the change; repeatable.")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when the behaviour changes.")
@click.option("--as-enforced", is_flag=True,
              help="Judge NetworkPolicy as the cluster's plugin enforces it (default: as the API specifies).")
@click.pass_context
def diff_cmd(ctx: click.Context, base: tuple[str, ...], head: tuple[str, ...], fail_on_change: bool,
             as_enforced: bool) -> None:
    """Show what changes between two versions of the manifests, in behaviour: reachability,
    DNS names, Ingress URLs, Service endpoints."""
    opts = options(ctx)
    fmt = output_format(opts.output, FORMATS, "text")
    if opts.filenames:
        raise CliError("error: diff reads --base and --head, not -f")
    stdin = sys.stdin.read() if "-" in base or "-" in head else None
    base_res = _read(base, stdin)
    head_res = _read(head, stdin)
    config = apply_config_flags(opts, DEFAULT)
    # Both versions' models live until the command ends: the cyclic collector would only walk
    # them (see podnet.cluster.gcpause).
    with paused_gc():
        report = _diff(opts.ns, config, base_res, head_res, as_enforced)
    if fmt == "json":
        click.echo(to_json(report.to_dict()), nl=False)
    elif fmt == "markdown":
        click.echo(report.to_markdown(), nl=False)
    else:
        click.echo(report.to_text(), nl=False)
    if fail_on_change and report.changed:
        ctx.exit(1)


__all__ = ["diff_cmd"]
