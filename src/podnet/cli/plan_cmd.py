"""``podnet plan``: the network plugin's NetworkPlan; ``podnet plan bgp``: Calico's BGP view.

Both work on the stored cluster or on manifests alone (``-f PATH``, ``--plugin NAME[:MODE]``).
``-o json`` prints the documented JSON; the default text is what ``ip -d addr``, ``ip route``,
``ip neigh``, ``bridge fdb``, ``sysctl`` and ``iptables -t nat -S`` would show on each node.
"""

from __future__ import annotations

import json
from typing import Any

import click

from podnet.cli.context import CliError, Options, common_options, options, output_format, resolve
from podnet.plugins import build_plan, context_of
from podnet.plugins.calico import bgp_view
from podnet.plugins.plan import NetworkPlan
from podnet.plugins.render import render_bgp, render_plan

__all__ = ["plan"]

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
_FORMATS = ("json", "text")
_NODE_KEY = "podnet.plan.node"


def _format(output: str | None) -> str:
    return output_format(output, _FORMATS, "text")


def _build(opts: Options) -> NetworkPlan:
    try:
        return build_plan(resolve(opts).state)
    except NotImplementedError as e:
        raise CliError(f"error: {e}") from e


def _nodes(plan: NetworkPlan, node: str | None) -> list[str] | None:
    if not node:
        return None
    if node not in plan.node_names:
        raise CliError(f'Error from server (NotFound): nodes "{node}" not found')
    return [node]


def _remember_node(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.meta[_NODE_KEY] = value
    return value


_node_option = click.option("--node", "node", metavar="NAME", callback=_remember_node, expose_value=False,
                            help="Only this node (and its pods).")


@click.group("plan", invoke_without_command=True, context_settings=CONTEXT_SETTINGS)
@common_options
@_node_option
@click.pass_context
def plan(ctx: click.Context) -> None:
    """The network plugin's plan: links, addresses, routes, ARP/FDB entries, sysctls and NAT per
    node, eth0 and routes per pod (-o json|text; --node NAME).

    The plugin comes from the cluster config or --plugin NAME[:MODE] (flannel:vxlan by default).
    """
    if ctx.invoked_subcommand is not None:
        return
    opts = options(ctx)
    fmt = _format(opts.output)
    network = _build(opts)
    nodes = _nodes(network, ctx.meta.get(_NODE_KEY))
    if fmt == "json":
        click.echo(json.dumps(network.to_dict(nodes), indent=4, ensure_ascii=False))
    else:
        click.echo(render_plan(network, nodes), nl=False)


@plan.command("bgp", context_settings=CONTEXT_SETTINGS)
@common_options
@_node_option
@click.pass_context
def bgp(ctx: click.Context) -> None:
    """Calico's BGP: the node-to-node mesh (AS 64512, TCP 179), the blocks each node advertises
    and the routes it installs for what it learns (-o json|text; --node NAME)."""
    opts = options(ctx)
    fmt = _format(opts.output)
    network = _build(opts)
    if network.plugin.name != "calico":
        raise CliError(
            f"error: the cluster's plugin is {network.plugin.name}, which does not speak BGP; "
            "BGP is Calico's (--plugin calico[:ipip|vxlan|bgp])"
        )
    if network.plugin.mode == "vxlan":
        raise CliError(
            "error: calico in vxlan mode runs without BGP (calico_backend: vxlan): Felix programs the "
            "routes to every block itself; see `podnet plan` (BGP runs in the ipip and bgp modes)"
        )
    nodes = _nodes(network, ctx.meta.get(_NODE_KEY))
    view = bgp_view(context_of(network), nodes)
    if fmt == "json":
        click.echo(json.dumps(view.to_dict(), indent=4, ensure_ascii=False))
    else:
        click.echo(render_bgp(view), nl=False)
