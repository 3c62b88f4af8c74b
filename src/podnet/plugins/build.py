"""From a ClusterState to its NetworkPlan: pick the plugin module, index the addresses."""

from __future__ import annotations

from collections.abc import Callable

from podnet.api.core import Pod
from podnet.cluster.state import ClusterState
from podnet.plugins import calico, cilium, flannel, host
from podnet.plugins.context import PlanContext
from podnet.plugins.plan import NetworkPlan, NodePlan, PluginInfo, PodPlan, network_model
from podnet.policy.enforcement import enforcement_of

__all__ = ["build_plan", "context_of", "plugin_info", "pod_cidrs_of"]

NodeBuilder = Callable[[PlanContext, str], NodePlan]
PodBuilder = Callable[[PlanContext, Pod], PodPlan]

_BUILDERS: dict[str, tuple[NodeBuilder, PodBuilder]] = {
    "flannel": (flannel.node_plan, flannel.pod_plan),
    "calico": (calico.node_plan, calico.pod_plan),
    "cilium": (cilium.node_plan, cilium.pod_plan),
    "host": (host.node_plan, host.pod_plan),
}


def plugin_info(ctx: PlanContext) -> PluginInfo:
    plugin = ctx.config.plugin
    mode = plugin.effective_mode
    socket_lb = plugin.name == "cilium" and bool(plugin.option("kubeProxyReplacement"))
    return PluginInfo(
        name=plugin.name,
        mode=mode,
        model=network_model(plugin.name, mode),
        enforces_policy=enforcement_of(plugin.name).enforces,
        service_proxy="socket-lb" if socket_lb else "kube-proxy",
        options=ctx.options(),
    )


def pod_cidrs_of(plan: NetworkPlan, node: str) -> tuple[str, ...]:
    """What the plugin allocates ``node``'s pod addresses from (the node plan's ``pod_cidrs``),
    without building the node's whole plan."""
    ctx = context_of(plan)
    name = ctx.config.plugin.name
    if name == "calico":
        return tuple(str(b) for b in calico.blocks_in_use(ctx, node))
    if name == "host":
        block = host.block_of(ctx, node)
        return (str(block),) if block is not None else ()
    return tuple(c for c in ctx.nodes[node].pod_cidrs if ":" not in c)[:1]


def context_of(plan: NetworkPlan) -> PlanContext:
    """The context a plan was built from (for the plugin modules' own questions)."""
    ctx = plan._cache.get("context")
    assert isinstance(ctx, PlanContext)
    return ctx


def build_plan(state: ClusterState) -> NetworkPlan:
    """The cluster's NetworkPlan for its configured plugin and mode."""
    ctx = PlanContext.of(state)
    node_fn, pod_fn = _BUILDERS[ctx.config.plugin.name]
    index: dict[str, tuple[str, str]] = {}
    for name in ctx.order:
        for ip in ctx.nodes[name].internal_ips:
            index[ip] = ("node", name)
    for key, p in ctx.pods.items():
        for ip in p.ips:
            index.setdefault(ip, ("pod", key))

    def build_node(name: str) -> NodePlan:
        return node_fn(ctx, name)

    def build_pod(key: str) -> PodPlan:
        pod = ctx.pods.get(key)
        if pod is None:
            raise KeyError(f'pod "{key}" has no network namespace of its own with an address')
        return pod_fn(ctx, pod)

    plan = NetworkPlan(
        plugin=plugin_info(ctx),
        cluster=ctx.config.name,
        node_names=ctx.order,
        pod_keys=tuple(ctx.pods),
        underlay=ctx.underlay,
        pod_networks=tuple(str(n) for n in ctx.config.pod_networks()),
        service_networks=tuple(str(n) for n in ctx.config.service_networks()),
        _node_builder=build_node,
        _pod_builder=build_pod,
        _ip_index=index,
        _node_pods={n: tuple(sorted(ctx.pod_key(p) for p in pods)) for n, pods in ctx.pods_by_node.items()},
        ipv6=ctx.dual_stack,
        ipv6_unplanned=ctx.ipv6_unplanned,
    )
    plan._cache["context"] = ctx
    return plan
