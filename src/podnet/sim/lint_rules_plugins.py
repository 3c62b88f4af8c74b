"""The plugin layer's findings (CIDR overlaps, MTU, host-gw across subnets, policies a plugin does
not enforce, address capacity), adopted into ``podnet lint``.

They are computed by :mod:`podnet.plugins.lint` from the NetworkPlan; this module only calls it
and converts what it returns to :class:`~podnet.sim.findings.Finding` (the plugin layer cannot
import the sim layer, so both agree on the shape, see :func:`~podnet.sim.findings.from_any`).
When the plugin layer offers no lint, the one plugin finding computable without a plan —
NetworkPolicies under a plugin that does not enforce them — is made here.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from podnet.policy.enforcement import enforcement_of
from podnet.sim.findings import Finding, from_any, rule
from podnet.sim.lint import LintContext, checker

NOT_ENFORCED = rule(
    "policy-not-enforced", "warning",
    "NetworkPolicies in a cluster whose plugin does not enforce them",
    "The API server accepts NetworkPolicies whatever the network plugin; only a plugin that "
    "enforces them (Calico, Cilium) makes them do anything. Under flannel or the host plugin every "
    "connection is allowed, whatever the policies say.",
    "plugins",
)

# The plugin layer's rules (podnet.plugins.lint), declared here so that the catalogue (and
# SARIF's rule list) describes them even when they do not fire.
for _id, _sev, _summary, _help in (
    ("pod-network-overlaps-nodes", "error", "The pod network covers the nodes' own network",
     "Routes to the pod CIDRs capture traffic meant for nodes (Cilium's default 10.0.0.0/8 "
     "swallows a 10.x node network): nodes become unreachable from pods and each other."),
    ("pod-network-overlaps-services", "error", "The pod network and the Service network overlap",
     "A ClusterIP that is also a pod address is ambiguous: kube-proxy DNATs traffic meant for the "
     "pod (Cilium's 10.0.0.0/8 contains kubeadm's 10.96.0.0/12)."),
    ("overlay-mtu-too-large", "error", "The overlay MTU leaves no room for encapsulation",
     "plugin.mtu plus the tunnel header exceeds the smallest node NIC MTU: full-size packets "
     "between nodes are dropped (small requests work, large responses hang)."),
    ("node-mtu-mismatch", "warning", "Nodes of an overlay have different NIC MTUs",
     "A pod MTU computed on one node is too large for another: full-size packets to pods on the "
     "smaller node are dropped."),
    ("host-gw-across-subnets", "error", "flannel host-gw between nodes on different subnets",
     "host-gw routes pod CIDRs via the peer node's address, which must be on the same L2 segment; "
     "the router between subnets knows no pod routes and drops the traffic."),
    ("bgp-across-subnets", "error", "Calico BGP without encapsulation across subnets",
     "Unencapsulated pod traffic to a node behind a router needs the router to know pod routes; "
     "use ipipMode/vxlanMode CrossSubnet."),
    ("native-routing-unreachable", "error", "Cilium native routing without a route to the peer",
     "Native routing needs the underlay (or autoDirectNodeRoutes on one L2 segment) to carry pod "
     "routes; otherwise traffic between nodes' pods is dropped."),
    ("ipblock-matches-cluster", "warning", "A Cilium ipBlock covers cluster addresses",
     "Cilium matches pods and nodes by identity, never by ipBlock: an ipBlock covering pod or node "
     "addresses only selects addresses outside the cluster."),
    ("pods-beyond-address-capacity", "error", "More pods on a node than it has addresses for",
     "The plugin's IPAM runs out of addresses on the node: the extra pods stay Pending."),
    ("max-pods-above-address-capacity", "warning", "kubelet would schedule more pods than addresses",
     "The node's maxPods exceeds the addresses its IPAM can hand out: pods beyond that stay "
     "ContainerCreating."),
):
    rule(_id, _sev, _summary, _help, "plugins")  # type: ignore[arg-type]

_ENTRY_POINTS = ("lint", "lint_state", "findings", "check")


def plugin_lint() -> Callable[..., Any] | None:
    """The plugin layer's lint function, when it has one."""
    try:
        mod = importlib.import_module("podnet.plugins.lint")
    except ImportError:
        return None
    for name in _ENTRY_POINTS:
        fn = getattr(mod, name, None)
        if callable(fn) and not inspect.isclass(fn):
            return fn  # type: ignore[no-any-return]
    return None


def _call(fn: Callable[..., Any], ctx: LintContext) -> Any:
    try:
        return fn(ctx.state)
    except TypeError:
        plan_mod = importlib.import_module("podnet.plugins")
        build = getattr(plan_mod, "build_plan", None) or getattr(plan_mod, "plan_for", None)
        if build is None:
            raise
        return fn(build(ctx.state))


@checker("plugins")
def check_plugins(ctx: LintContext) -> Iterator[Finding]:
    fn = plugin_lint()
    produced: list[Finding] = []
    if fn is not None:
        for item in _call(fn, ctx) or ():
            produced.append(from_any(item, "plugins"))
        yield from produced
    if any(f.rule in ("policy-not-enforced", "plugin-policy-not-enforced")
           or "enforce" in f.rule for f in produced):
        return
    yield from _not_enforced(ctx)


def _not_enforced(ctx: LintContext) -> Iterator[Finding]:
    plugin = ctx.state.config.plugin.name
    e = enforcement_of(plugin)
    if e.enforces:
        return
    policies = ctx.applied("NetworkPolicy")
    if not policies:
        return
    first = policies[0]
    yield NOT_ENFORCED.finding(
        first, "metadata.name",
        f"the cluster's plugin ({plugin}) does not enforce NetworkPolicy: these {len(policies)} "
        f"polic{'ies' if len(policies) != 1 else 'y'} (from {first.qualified_name}) are accepted and "
        "have no effect — every connection they deny is allowed",
        "run a plugin that enforces NetworkPolicy (--plugin calico or --plugin cilium; with flannel, "
        "Calico for policy as in Canal)",
    )



__all__ = ["NOT_ENFORCED", "plugin_lint"]
