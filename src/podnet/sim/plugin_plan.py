"""The network plugin's plan, when :mod:`podnet.plugins` provides one (imported lazily, so
that the sim works — with its own summaries — whatever the state of the plugin layer).

What the sim takes from it: the host-side interface of each pod (for the policy ruleset of a
node), whether the plugin enforces NetworkPolicy and who balances Services.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from podnet.cluster.state import ClusterState

__all__ = ["host_interfaces", "network_plan"]

_BUILDERS = ("build_plan", "network_plan", "plan_for", "build")


def network_plan(state: ClusterState) -> Any | None:
    """The cluster's NetworkPlan (``podnet.plugins``), or None when the layer has none yet;
    built once per state."""
    return state.memo("network-plan", lambda: _build_network_plan(state))


def _build_network_plan(state: ClusterState) -> Any | None:
    try:
        mod = importlib.import_module("podnet.plugins")
    except ImportError:
        return None
    for name in _BUILDERS:
        fn: Callable[..., Any] | None = getattr(mod, name, None)
        if callable(fn):
            try:
                return fn(state)
            except (NotImplementedError, KeyError):
                return None
    return None


def host_interfaces(state: ClusterState, node: str) -> dict[str, str] | None:
    """``NS/NAME`` → the host end of the pod's veth on ``node``, from the plugin's plan."""
    plan = network_plan(state)
    if plan is None:
        return None
    pods_on = getattr(plan, "pods_on", None)
    if not callable(pods_on):
        return None
    out: dict[str, str] = {}
    for p in pods_on(node):
        name = getattr(p, "name", None)
        host_if = getattr(p, "host_if", None)
        if isinstance(name, str) and isinstance(host_if, str) and host_if:
            out[name] = host_if
    return out
