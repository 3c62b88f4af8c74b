"""The ``podnet`` command: click wiring only — parse, call the layers, write the result.

Errors follow kubectl: every message on stderr, exit status 1 (usage errors included, written
as ``error: …`` followed by where to find help).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from podnet.api.loader import ManifestError, dump_yaml
from podnet.cli import store
from podnet.cli.context import (
    CliError,
    Options,
    apply_config_flags,
    common_options,
    compute,
    config_flags_given,
    no_cluster,
    options,
    resolve,
)
from podnet.cli.kinds import BUILTIN, UnknownKind
from podnet.cli.mutate import apply as do_apply
from podnet.cli.mutate import delete as do_delete
from podnet.cli.printers import OutputError, check_output, to_json
from podnet.cli.query import Output, describe_cmd
from podnet.cli.query import get as do_get
from podnet.cli.tabwriter import table
from podnet.cluster.config import DEFAULT, ClusterConfig, ConfigError
from podnet.cluster.reconcile import ReconcileError

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def _fail(ctx: click.Context, errors: Sequence[str]) -> NoReturn:
    for line in errors:
        click.echo(line, err=True)
    ctx.exit(1)


class PodnetGroup(click.Group):
    """A group whose failures read like kubectl's and exit with status 1."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:
            setattr(e, "exit_code", 1)
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name]
            found = getattr(importlib.import_module(module), attr)
            assert isinstance(found, click.Command) and found.name == cmd_name
            self.add_command(found)
        return found

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(f'unknown command "{name}" for "{ctx.command_path}"', ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else "podnet"
            if isinstance(e, click.NoSuchOption):
                message = f"unknown flag: {e.option_name}"
            else:
                message = e.format_message()
            click.echo(f"error: {message}", err=True)
            click.echo(f"See '{where} --help' for usage.", err=True)
            ctx.exit(1)
        except ManifestError as e:
            _fail(ctx, e.errors)
        except ReconcileError as e:
            _fail(ctx, [m if m.startswith("error:") else f"error: {m}" for m in e.errors])
        except ConfigError as e:
            _fail(ctx, [f"error: {e}"])
        except CliError as e:
            _fail(ctx, e.errors)
        except (store.StoreError, OutputError, UnknownKind) as e:
            _fail(ctx, [str(e)])


def _emit(ctx: click.Context, out: Output) -> None:
    if out.stdout:
        click.echo(out.stdout, nl=not out.stdout.endswith("\n"))
    for line in out.stderr:
        click.echo(line, err=True)
    if out.code:
        ctx.exit(out.code)


@click.group("podnet", cls=PodnetGroup, context_settings=CONTEXT_SETTINGS)
@common_options
@click.version_option(package_name="podnet", prog_name="podnet")
def cli() -> None:
    """Kubernetes cluster networking, modelled: apply manifests, inspect what a cluster makes
    of them (pods, IPs, Services, EndpointSlices), kubectl-style."""


# ------------------------------------------------------------------------------------ apply


@cli.command(context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--dry-run", "dry_run", is_flag=True, help="Report what would change; store nothing.")
@click.pass_context
def apply(ctx: click.Context, dry_run: bool) -> None:
    """Create or update objects of the stored cluster from manifests (-f PATH…).

    Creates the cluster when it does not exist, with --config FILE, --plugin and --nodes, or the
    Cluster document among the manifests. All or nothing: any invalid object, nothing stored.
    """
    opts = options(ctx)
    result = do_apply(opts, dry_run=dry_run)
    for line in result.lines:
        click.echo(line)


# ------------------------------------------------------------------------------------ delete


@cli.command(context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("args", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Delete every object of the type(s).")
@click.option("--ignore-not-found", is_flag=True, help="Treat objects that do not exist as deleted.")
@click.pass_context
def delete(ctx: click.Context, args: tuple[str, ...], all_: bool, ignore_not_found: bool) -> None:
    """Delete objects: `delete -f PATH…`, `delete KIND NAME…`, `delete KIND/NAME`, `delete KIND -l SEL`.

    What the deleted objects owned (ReplicaSets, pods, EndpointSlices) goes with them.
    """
    opts = options(ctx)
    result = do_delete(opts, args, all_=all_, ignore_not_found=ignore_not_found)
    for line in result.lines:
        click.echo(line)
    if result.errors:
        for line in result.errors:
            click.echo(line, err=True)
        if any(not e.startswith("No resources found") for e in result.errors):
            ctx.exit(1)


# ------------------------------------------------------------------------------------ get


@cli.command(context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("args", nargs=-1)
@click.option("--show-labels", is_flag=True, help="Add a LABELS column.")
@click.option("--no-headers", is_flag=True, help="Leave out the header row.")
@click.pass_context
def get(ctx: click.Context, args: tuple[str, ...], show_labels: bool, no_headers: bool) -> None:
    """List objects: `get KIND[,KIND…] [NAME…]`, `get KIND/NAME`, `get all`.

    -n NS or -A, -l SELECTOR, -o wide|json|yaml|name. With -f PATH the state is computed from
    the manifests alone (nothing stored); without KIND it lists the objects of those manifests.
    """
    opts = options(ctx)
    check_output(opts.output)
    target = resolve(opts)
    _emit(ctx, do_get(target, args, opts, show_labels=show_labels, no_headers=no_headers))


# ------------------------------------------------------------------------------------ describe


@cli.command(context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("args", nargs=-1)
@click.pass_context
def describe(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Show an object in detail: `describe KIND [NAME_PREFIX]`, `describe KIND/NAME`."""
    opts = options(ctx)
    target = resolve(opts)
    _emit(ctx, describe_cmd(target, args, opts))


# ------------------------------------------------------------------------------------ api-resources


@cli.command("api-resources", context_settings=CONTEXT_SETTINGS)
@common_options
@click.pass_context
def api_resources(ctx: click.Context) -> None:
    """The resource types podnet knows, with their short names."""
    fmt = check_output(options(ctx).output)
    types = sorted(BUILTIN, key=lambda t: (t.group, t.plural))
    if fmt == "name":
        for t in types:
            click.echo(t.qualified_plural)
        return
    rows = [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]]
    for t in types:
        rows.append(
            [t.plural, ",".join(t.short_names), t.api_version, str(t.namespaced).lower(), t.kind]
        )
    click.echo(table(rows), nl=False)


# ------------------------------------------------------------------------------------ config


@cli.group("config", cls=PodnetGroup, context_settings=CONTEXT_SETTINGS)
@common_options
def config_group() -> None:
    """The cluster config and the stored clusters."""


@config_group.command("view", context_settings=CONTEXT_SETTINGS)
@common_options
@click.pass_context
def config_view(ctx: click.Context) -> None:
    """Print the effective cluster config (the stored cluster's, or of -f/--config/--plugin)."""
    opts = options(ctx)
    fmt = check_output(opts.output)
    config = _effective_config(opts)
    doc = config.to_dict()
    click.echo(to_json(doc) if fmt == "json" else dump_yaml(doc), nl=False)


def _effective_config(opts: Options) -> ClusterConfig:
    if opts.filenames:
        return compute(opts).state.config
    stored = store.load_stored(opts.cluster_name)
    if stored is not None:
        return stored.state.config
    if config_flags_given(opts):
        return apply_config_flags(opts, DEFAULT)
    if opts.cluster:
        raise no_cluster(opts.cluster_name)
    return DEFAULT


@config_group.command("get-clusters", context_settings=CONTEXT_SETTINGS)
@common_options
def config_get_clusters() -> None:
    """List the stored clusters."""
    click.echo("NAME")
    for name in store.list_clusters():
        click.echo(name)


@config_group.command("delete-cluster", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("name")
@click.pass_context
def config_delete_cluster(ctx: click.Context, name: str) -> None:
    """Forget a stored cluster (its state under $PODNET_HOME)."""
    if not store.delete(name):
        _fail(ctx, [f'error: cannot delete cluster {name}, not in {store.home()}'])
    click.echo(f"deleted cluster {name} from {store.home()}")


# The commands of the other layers live in their own modules; they are named here, in one
# place, so that `podnet --help` lists everything a user can type — and imported only when
# typed: `podnet apply` does not pay for the check engine, the tracer or the real data plane
# (the whole tree costs ~0.5 s of imports; a kubectl-like command should answer at once).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "dns": ("podnet.cli.dns_cmd", "dns_group"),
    "trace": ("podnet.cli.trace_cmd", "trace_cmd"),
    "policy": ("podnet.cli.policy_cmd", "policy_group"),
    "proxy": ("podnet.cli.proxy_cmd", "proxy_group"),
    "plan": ("podnet.cli.plan_cmd", "plan"),
    "ingress": ("podnet.cli.ingress_cmd", "ingress_group"),
    "lint": ("podnet.cli.lint_cmd", "lint_cmd"),
    "check": ("podnet.cli.check_cmd", "check_cmd"),
    "diff": ("podnet.cli.diff_cmd", "diff_cmd"),
    "up": ("podnet.cli.up_cmd", "up_cmd"),
    "down": ("podnet.cli.up_cmd", "down_cmd"),
    "exec": ("podnet.cli.up_cmd", "exec_cmd"),
    "status": ("podnet.cli.up_cmd", "status_cmd"),
    "port-forward": ("podnet.cli.up_cmd", "port_forward_cmd"),
    "logs": ("podnet.cli.up_cmd", "logs_cmd"),
    "fault": ("podnet.cli.fault_cmd", "fault_group"),
}


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="podnet")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
