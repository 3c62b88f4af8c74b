"""What a command works on: the options every command shares, and the cluster state they select.

Every command accepts ``-f/--filename``, ``--config``, ``--cluster``, ``-n/--namespace``,
``-A/--all-namespaces``, ``-o/--output``, ``-l/--selector``, ``--plugin`` and ``--nodes``, before or
after its positional arguments (and before the command name too). They are collected into one
:class:`Options` per invocation through click callbacks writing to the context's shared ``meta``.

The state a query command reads is

* computed from the manifests alone when ``-f`` is given — nothing is stored, no root needed —
  with ``--config FILE``, ``--plugin NAME[:MODE]`` and ``--nodes N`` applied to the config;
* otherwise the stored cluster named by ``--cluster`` (default ``default``).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from podnet.api.loader import LoadResult, ManifestError, read_paths
from podnet.api.meta import Resource
from podnet.cli import store
from podnet.cluster.admission import admit, config_from_documents
from podnet.cluster.config import DEFAULT, ClusterConfig, ConfigError
from podnet.cluster.state import ClusterState

F = TypeVar("F", bound=Callable[..., Any])
_META_KEY = "podnet.options"


class CliError(Exception):
    """A failure to report on stderr, each line as given, with exit status 1."""

    def __init__(self, *errors: str) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(errors))


@dataclass(slots=True)
class Options:
    filenames: list[str] = dataclasses.field(default_factory=list)
    config: str | None = None
    cluster: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    output: str | None = None
    selector: str | None = None
    plugin: str | None = None
    nodes: int | None = None
    recursive: bool = False

    @property
    def cluster_name(self) -> str:
        return self.cluster or store.DEFAULT_CLUSTER

    @property
    def ns(self) -> str:
        return self.namespace or "default"


def options(ctx: click.Context) -> Options:
    opts = ctx.meta.get(_META_KEY)
    if not isinstance(opts, Options):
        opts = Options()
        ctx.meta[_META_KEY] = opts
    return opts


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if param.name is None or value is None or value == () or value is False:
        return value
    opts = options(ctx)
    if param.name == "filenames":
        opts.filenames.extend(value)
    else:
        setattr(opts, param.name, value)
    return value


def common_options(f: F) -> F:
    """Add the shared options to a command (or the group); values land in :func:`options`."""
    decorators = [
        click.option("-f", "--filename", "filenames", multiple=True, metavar="PATH",
                     help="Manifest file, folder (recursive) or - for stdin; repeatable.",
                     callback=_store, expose_value=False),
        click.option("--config", "config", metavar="FILE",
                     help="Cluster config file (podnet.io/v1alpha1 Cluster).",
                     callback=_store, expose_value=False),
        click.option("--cluster", "cluster", metavar="NAME",
                     help="Stored cluster to work on (default: default).",
                     callback=_store, expose_value=False),
        click.option("-n", "--namespace", "namespace", metavar="NS",
                     help="Namespace (default: default).", callback=_store, expose_value=False),
        click.option("-A", "--all-namespaces", "all_namespaces", is_flag=True, default=False,
                     help="List across all namespaces.", callback=_store, expose_value=False),
        click.option("-o", "--output", "output", metavar="FORMAT",
                     help="Output format: wide, json, yaml or name.",
                     callback=_store, expose_value=False),
        click.option("-l", "--selector", "selector", metavar="SELECTOR",
                     help="Label selector, e.g. app=web,tier!=db.",
                     callback=_store, expose_value=False),
        click.option("--plugin", "plugin", metavar="NAME[:MODE]",
                     help="Network plugin (flannel, calico, cilium, host) and mode.",
                     callback=_store, expose_value=False),
        click.option("--nodes", "nodes", type=int, metavar="N",
                     help="Number of nodes (one control-plane, N-1 workers).",
                     callback=_store, expose_value=False),
        click.option("-R", "--recursive", "recursive", is_flag=True, default=False, hidden=True,
                     help="Accepted for kubectl compatibility: folders are always recursive.",
                     callback=_store, expose_value=False),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def output_format(output: str | None, allowed: tuple[str, ...], default: str = "") -> str:
    """The ``-o`` value (``default`` when not given), or kubectl's error naming the formats the
    command prints; an ``""`` in ``allowed`` is its plain output and goes unnamed."""
    fmt = (output or default).strip()
    if fmt not in allowed:
        shown = ",".join(f for f in allowed if f)
        raise CliError(
            f'error: unable to match a printer suitable for the output format "{fmt}", '
            f"allowed formats are: {shown}"
        )
    return fmt


# ------------------------------------------------------------------------------------ inputs


def read_inputs(paths: Sequence[str]) -> LoadResult:
    stdin_text = sys.stdin.read() if "-" in paths else None
    return read_paths(paths, stdin_text)


def load_config_file(path: str, base: ClusterConfig) -> ClusterConfig:
    """``--config FILE``: the Cluster document in FILE over ``base``."""
    result = read_paths([path])
    if result.errors:
        raise ManifestError(result.errors)
    clusters = [d for d in result.podnet_documents if d.kind == "Cluster"]
    if not clusters:
        raise CliError(
            f"error: {path}: no Cluster document (apiVersion: podnet.io/v1alpha1, kind: Cluster)"
        )
    config, errors = config_from_documents(clusters, base)
    if errors:
        raise ManifestError(errors)
    return config


def apply_config_flags(opts: Options, base: ClusterConfig) -> ClusterConfig:
    """``--config``, then ``--plugin`` and ``--nodes``, over ``base``."""
    config = base
    try:
        if opts.config:
            config = load_config_file(opts.config, config)
        if opts.plugin:
            config = config.with_plugin(opts.plugin)
        if opts.nodes is not None:
            config = config.with_node_count(opts.nodes)
    except ConfigError as e:
        raise CliError(f"error: {e}") from e
    return config


def config_flags_given(opts: Options) -> bool:
    return bool(opts.config or opts.plugin or opts.nodes is not None)


# ------------------------------------------------------------------------------------ targets


@dataclass(frozen=True, slots=True)
class Target:
    state: ClusterState
    stored: bool
    cluster: str
    #: The objects the ``-f`` inputs named (manifests alone), in the order given.
    given: tuple[Resource, ...] = ()


def no_cluster(cluster: str) -> CliError:
    return CliError(
        f'error: cluster "{cluster}" does not exist: apply manifests first '
        "(podnet apply -f PATH) or pass -f PATH"
    )


def compute(opts: Options) -> Target:
    """The state of the ``-f`` manifests alone; nothing is stored."""
    result = read_inputs(opts.filenames)
    config = apply_config_flags(opts, DEFAULT)
    admitted = admit(result, config, namespace=opts.ns)
    return Target(admitted.state, False, admitted.state.config.name, admitted.objects)


def resolve(opts: Options) -> Target:
    """What a query command reads: the ``-f`` manifests alone, or the stored cluster."""
    if opts.filenames:
        return compute(opts)
    stored = store.load_stored(opts.cluster_name)
    if stored is None:
        raise no_cluster(opts.cluster_name)
    state = stored.state
    return Target(state, True, opts.cluster_name)
