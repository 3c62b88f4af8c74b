"""``podnet policy``: NetworkPolicy verdicts, the reachability matrix, a node's policy ruleset.

``podnet policy why FROM TO PORT[/PROTO] [--as-enforced] [-o json]``
    May FROM open PORT/PROTO on TO (the destination pod's port, after DNAT), and which policies
    and rules decide. FROM/TO: ``NS/POD`` (``POD`` with ``-n``; a prefix of pod names picks the
    first pod), ``node/NAME`` or an IP address. PORT: a number or a container port name of TO;
    PROTO: TCP (default), UDP or SCTP, case-insensitive. Text: the verdict sentence, then the
    plugin's enforcement note when it does not enforce the API as written. ``-o json``:
    ``{"allowed": bool, "egress": {"isolated", "allowed_by": [{"policy", "rule"}], "policies"},
    "ingress": {...}, "from", "to", "port", "protocol", "reason", "mode", "plugin", "note"}``.

``podnet policy matrix [-n NS…] [--port P] [--protocol PROTO] [--as-enforced] [-o json|text]``
    The truth table of every pod pair, upstream's e2e style (``.`` allowed, ``X`` denied, rows
    are sources); host-network pods listed apart. ``-o json``: ``{"port", "protocol", "pods":
    [...], "matrix": {"src": {"dst": bool}}, "host_network_pods": [...], "mode", "note"}``.

``podnet policy rules --node NAME``
    The node's ``table inet podnet-policy`` as ``nft -f`` text; pods' host-side interfaces are
    the network plugin's when its plan names them.

``why`` and ``matrix`` answer what the API specifies; ``--as-enforced`` what the cluster's
plugin really lets through. Both exit 0 whatever the verdict, 1 on errors.
"""

from __future__ import annotations

from typing import Any

import click

from podnet.api.defaults import normalize_protocol
from podnet.cli.context import CliError, Options, common_options, options, output_format, resolve
from podnet.cli.printers import to_json
from podnet.cluster.state import ClusterState
from podnet.policy import (
    PolicyIndex,
    UnknownEndpoint,
    as_enforced,
    compile_node,
    enforcement_note,
    enforcement_of,
    reachability,
    verdict,
)
from podnet.policy.index import Endpoint
from podnet.sim.endpoints import TraceError, canonical_ip, lookup_pod, pod_port
from podnet.sim.plugin_plan import host_interfaces

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
_NS_KEY = "podnet.policy.namespaces"


@click.group("policy", context_settings=CONTEXT_SETTINGS)
@common_options
def policy_group() -> None:
    """NetworkPolicy: why a connection is allowed or denied, the reachability matrix, and a
    node's nftables ruleset."""


def _index(state: ClusterState, enforced: bool) -> PolicyIndex:
    index = PolicyIndex.build(state)
    return as_enforced(index) if enforced else index


def _endpoint(index: PolicyIndex, state: ClusterState, text: str, opts: Options) -> Endpoint:
    raw = text.strip()
    try:
        if raw.startswith("node/") or canonical_ip(raw) is not None:
            return index.endpoint(raw)
        ref = raw[4:] if raw.startswith("pod/") else raw
        if "/" not in ref:
            ref = f"{opts.ns}/{ref}"
        return index.endpoint(lookup_pod(state, ref))
    except TraceError as e:
        raise CliError(*e.errors) from e
    except UnknownEndpoint as e:
        msg = str(e).strip('"')
        if msg.startswith("node "):
            raise CliError(f'Error from server (NotFound): nodes "{raw[5:]}" not found') from e
        raise CliError(f"error: {msg}") from e


def _port(spec: str, dst: Endpoint, state: ClusterState) -> tuple[int, str]:
    port_text, _, proto_text = spec.partition("/")
    proto = normalize_protocol(proto_text)
    if proto not in ("TCP", "UDP", "SCTP"):
        raise CliError(f'error: unsupported protocol "{proto_text}": supported values: "TCP", '
                       '"UDP", "SCTP"')
    if port_text.isdigit():
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise CliError(f"error: port {port} must be between 1 and 65535, inclusive")
        return port, proto
    if not port_text:
        raise CliError(f'error: "{spec}": expected PORT/PROTO, e.g. 80/TCP')
    pod = state.pod(dst.namespace, dst.name) if dst.namespace else None
    number = pod_port(pod, port_text, proto) if pod is not None else None
    if number is None:
        raise CliError(f'error: {dst} has no {proto} container port named "{port_text}"')
    return number, proto


def _note(state: ClusterState, enforced: bool) -> str | None:
    plugin = state.config.plugin.name
    if enforced:
        e = enforcement_of(plugin)
        if not e.differs_from_api:
            return None
        if not e.enforces:
            return (f"--as-enforced: {plugin} does not enforce NetworkPolicy, so this is what it "
                    "lets through: everything")
        return (f"--as-enforced: answered as {plugin} enforces NetworkPolicy, not as the API "
                "specifies (an ipBlock never matches the addresses of pods or nodes)")
    return enforcement_note(plugin)


# ------------------------------------------------------------------------------------ why


@policy_group.command("why", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("from_", metavar="FROM")
@click.argument("to", metavar="TO")
@click.argument("port", metavar="PORT/PROTO")
@click.option("--as-enforced", "as_enforced_", is_flag=True,
              help="Answer with what the cluster's network plugin really enforces.")
@click.pass_context
def why(ctx: click.Context, from_: str, to: str, port: str, as_enforced_: bool) -> None:
    """Whether FROM may open PORT/PROTO on TO, and the policies and rules that decide.

    PORT is the destination pod's port (after DNAT); PROTO defaults to TCP.
    """
    opts = options(ctx)
    fmt = output_format(opts.output, ("", "text", "json"))
    state = resolve(opts).state
    index = _index(state, as_enforced_)
    src = _endpoint(index, state, from_, opts)
    dst = _endpoint(index, state, to, opts)
    number, proto = _port(port, dst, state)
    v = verdict(index, src, dst, number, proto)
    note = _note(state, as_enforced_)
    if fmt == "json":
        doc: dict[str, Any] = v.to_dict()
        doc.update(mode=index.mode, plugin=state.config.plugin.name,
                   enforced=enforcement_of(state.config.plugin.name).enforces, note=note)
        click.echo(to_json(doc), nl=False)
        return
    click.echo(v.sentence)
    if note:
        click.echo(f"note: {note}")


# ------------------------------------------------------------------------------------ matrix


def _store_namespaces(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value:
        found: list[str] = ctx.meta.setdefault(_NS_KEY, [])
        found.extend(value)
        options(ctx).namespace = value[-1]
    return value


@policy_group.command("matrix", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--port", default=80, show_default=True, type=int, metavar="P",
              help="The destination pods' port (after DNAT).")
@click.option("--protocol", default="TCP", show_default=True, metavar="PROTO",
              help="TCP, UDP or SCTP (case-insensitive).")
@click.option("--as-enforced", "as_enforced_", is_flag=True,
              help="Answer with what the cluster's network plugin really enforces.")
@click.pass_context
def matrix(ctx: click.Context, port: int, protocol: str, as_enforced_: bool) -> None:
    """The reachability truth table of every pod pair (rows: sources; "." allowed, "X"
    denied), as the upstream NetworkPolicy e2e suite prints it. -n NS (repeatable) limits it
    to the pods of those namespaces."""
    opts = options(ctx)
    fmt = output_format(opts.output, ("", "text", "json"))
    proto = normalize_protocol(protocol)
    if proto not in ("TCP", "UDP", "SCTP"):
        raise CliError(f'error: unsupported protocol "{protocol}": supported values: "TCP", '
                       '"UDP", "SCTP"')
    if not 1 <= port <= 65535:
        raise CliError(f"error: port {port} must be between 1 and 65535, inclusive")
    state = resolve(opts).state
    namespaces: list[str] | None = list(ctx.meta.get(_NS_KEY, [])) or (
        [opts.namespace] if opts.namespace else None)
    if opts.all_namespaces:
        namespaces = None
    index = _index(state, as_enforced_)
    m = reachability(index, port, proto, namespaces)
    note = _note(state, as_enforced_)
    if fmt == "json":
        doc = m.to_dict()
        doc.update(mode=index.mode, plugin=state.config.plugin.name, note=note)
        click.echo(to_json(doc), nl=False)
        return
    if m.pods:
        click.echo(m.to_text())
    else:
        where = f" in namespace(s) {', '.join(namespaces)}" if namespaces else ""
        click.echo(f"No pods with an address{where}.")
    if m.host_network_pods:
        click.echo("")
        click.echo("host-network pods (never selected by a NetworkPolicy; as peers they are "
                   "their node's address):")
        for p in m.host_network_pods:
            click.echo(f"  {p}")
    if note:
        click.echo("")
        click.echo(f"note: {note}")


for _p in matrix.params:
    if _p.name == "namespace":
        matrix.params[matrix.params.index(_p)] = click.Option(
            ["-n", "--namespace", "namespace"], multiple=True, metavar="NS",
            help="Only the pods of this namespace; repeatable.",
            callback=_store_namespaces, expose_value=False)
        break


# ------------------------------------------------------------------------------------ rules


@policy_group.command("rules", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--node", "node", required=True, metavar="NAME", help="The node.")
@click.pass_context
def rules(ctx: click.Context, node: str) -> None:
    """The node's NetworkPolicy ruleset (table inet podnet-policy) as nft -f text."""
    opts = options(ctx)
    state = resolve(opts).state
    if state.node(node) is None:
        raise CliError(f'Error from server (NotFound): nodes "{node}" not found')
    index = PolicyIndex.build(state)
    ruleset = compile_node(index, node, ifnames=host_interfaces(state, node))
    text = ruleset.text
    click.echo(text, nl=not text.endswith("\n"))
    note = enforcement_note(state.config.plugin.name)
    e = enforcement_of(state.config.plugin.name)
    if not e.enforces and note:
        click.echo(f"# note: {note}", err=True)
