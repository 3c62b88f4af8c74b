"""``podnet proxy rules --node NAME [--family ipv4|ipv6]``: a node's kube-proxy ruleset.

The ``ip kube-proxy`` (``ip6 kube-proxy``) table as ``nft -f`` text in kube-proxy's own
transaction form — ``add table …``, ``add chain …``, ``add rule …``, ``add set/map …``,
``add element …`` — laid out as kube-proxy's nftables mode lays it out
(:func:`podnet.proxy.compile_node`, :meth:`~podnet.proxy.NodeRuleset.dump`). ``--family``
defaults to ipv4. A cluster whose plugin replaces kube-proxy (Cilium with
``kubeProxyReplacement``) has no such table: the command says so on stdout and exits 0.
"""

from __future__ import annotations

import click

from podnet.cli.context import CliError, common_options, options, resolve
from podnet.proxy import ServicePlan, compile_node
from podnet.sim.trace import kube_proxy_replaced

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group("proxy", context_settings=CONTEXT_SETTINGS)
@common_options
def proxy_group() -> None:
    """kube-proxy (nftables mode): the rules each node programs for Services."""


@proxy_group.command("rules", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--node", "node", required=True, metavar="NAME", help="The node.")
@click.option("--family", default="ipv4", show_default=True, metavar="ipv4|ipv6",
              help="The IP family: table ip kube-proxy or ip6 kube-proxy.")
@click.pass_context
def rules(ctx: click.Context, node: str, family: str) -> None:
    """The node's kube-proxy ruleset as nft -f text (kube-proxy's transaction form)."""
    fam_text = family.strip().lower()
    if fam_text not in ("ipv4", "ipv6", "4", "6"):
        raise CliError(f'error: invalid --family "{family}": supported values: "ipv4", "ipv6"')
    fam = 6 if fam_text in ("ipv6", "6") else 4
    opts = options(ctx)
    state = resolve(opts).state
    if state.node(node) is None:
        raise CliError(f'Error from server (NotFound): nodes "{node}" not found')
    if kube_proxy_replaced(state):
        p = state.config.plugin
        click.echo(f"# {p.name} runs with kubeProxyReplacement: there is no kube-proxy on "
                   f"{node}, so no ip/ip6 kube-proxy table. Services are balanced by Cilium's "
                   "eBPF programs (socket LB at connect(), NodePort/LoadBalancer on the "
                   "devices); see `podnet trace` for what a connection gets.")
        return
    plan = ServicePlan.build(state)
    text = compile_node(plan, node, 6 if fam == 6 else 4).dump()
    click.echo(text, nl=not text.endswith("\n"))
