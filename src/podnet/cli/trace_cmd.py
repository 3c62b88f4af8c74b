"""``podnet trace FROM TO``: one new connection, hop by hop (:mod:`podnet.sim.trace`).

``podnet trace FROM TO [--protocol TCP|UDP|SCTP] [--connections N] [--seed S] [--size BYTES]
[-o json|yaml]``

FROM: ``NS/POD`` (or ``pod/NS/POD``; ``POD`` with ``-n NS``; a prefix of pod names such as
``frontend/web`` picks the first matching pod), ``node/NAME``, an IP address (a pod's, a
node's, or a client outside the cluster) or ``outside``. TO: ``NS/POD:PORT``,
``svc/NS/NAME:PORT`` (the ClusterIP; PORT may be a port name), ``IP:PORT`` or ``NAME:PORT``
resolved from FROM's resolv.conf.

Text: a title line, one line per hop (``N  NODE  STAGE  DETAIL  [RULE]``), the verdict sentence
(``delivered|rejected|dropped: reason; …; the client sees: …``), the backends of the
connections when ``--connections`` > 1, and notes (a plugin that does not enforce policy).
``-o json``: the :meth:`podnet.sim.trace.Trace.to_dict` document. Exit 0 whatever the verdict;
1 on errors (unknown pod, unresolvable name, bad arguments), with kubectl-style messages.

Faults (``podnet fault``) of the running stored cluster are reflected: a ``↳ fault …`` line
under each hop that crosses a faulted interface (text), a ``faults`` list on those hops and at
the top level (json), a note per fault on the path, and a partition drops the request where it
is met (verdict ``dropped``, the client times out) — :func:`podnet.sim.faults.on_trace`. With
``-f`` (manifests alone) there are no faults.
"""

from __future__ import annotations

import click

from podnet.api.loader import dump_yaml
from podnet.cli.context import CliError, common_options, options, output_format, resolve
from podnet.cli.printers import to_json
from podnet.cluster.state import ClusterState
from podnet.sim.endpoints import TraceError
from podnet.sim.faults import Fault, FaultHit, on_trace, trace_doc, trace_text, trace_with_faults
from podnet.sim.trace import Trace, trace

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
FORMATS = ("", "text", "json", "yaml")


@click.command("trace", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("from_", metavar="FROM")
@click.argument("to", metavar="TO")
@click.option("--protocol", default="TCP", show_default=True, metavar="TCP|UDP|SCTP",
              help="The connection's protocol (case-insensitive).")
@click.option("--connections", default=1, show_default=True, type=int, metavar="N",
              help="How many successive new connections (session affinity honoured).")
@click.option("--seed", default=0, show_default=True, type=int, metavar="S",
              help="Seed of kube-proxy's random backend choice, for reproducible traces.")
@click.option("--size", default=None, type=int, metavar="BYTES",
              help="Packet size with DF set: a hop whose MTU is smaller drops it.")
@click.pass_context
def trace_cmd(ctx: click.Context, from_: str, to: str, protocol: str, connections: int,
              seed: int, size: int | None) -> None:
    """Trace a new connection from FROM to TO through DNS, kube-proxy, NetworkPolicy and the
    network plugin, hop by hop.

    \b
    FROM: NS/POD, pod/NS/POD, node/NAME, an IP address, or "outside".
    TO:   NS/POD:PORT, svc/NS/NAME:PORT, IP:PORT, or NAME:PORT (resolved from FROM).
    """
    opts = options(ctx)
    fmt = output_format(opts.output, FORMATS)
    target = resolve(opts)
    try:
        result = trace(target.state, from_, to, protocol, connections, seed, size,
                       namespace=opts.namespace)
    except TraceError as e:
        raise CliError(*e.errors) from e
    faults = _faults(target.cluster) if target.stored else []
    if not faults:
        if fmt == "json":
            click.echo(to_json(result.to_dict()), nl=False)
        elif fmt == "yaml":
            click.echo(dump_yaml(result.to_dict()), nl=False)
        else:
            click.echo(result.to_text(), nl=False)
        return
    result, hits = _with_faults(target.state, result, faults)
    if fmt in ("json", "yaml"):
        doc = trace_doc(result, hits)
        click.echo(to_json(doc) if fmt == "json" else dump_yaml(doc), nl=False)
    else:
        click.echo(trace_text(result, hits), nl=False)


def _faults(cluster: str) -> list[Fault]:
    """The faults in place in the running cluster (none when it is not up)."""
    from podnet.linux.fault import load_faults

    return load_faults(cluster)


def _with_faults(state: ClusterState, result: Trace,
                 faults: list[Fault]) -> tuple[Trace, list[FaultHit]]:
    nodes = [n.metadata.name for n in state.nodes]
    return trace_with_faults(result, on_trace(result, faults, nodes))
