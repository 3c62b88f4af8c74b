"""Network plugins: Flannel, Calico, Cilium and the host-based model, as NetworkPlans.

Each plugin module turns a ClusterState into the interfaces, addresses, routes, neighbour and
FDB entries, sysctls and NAT rules the real plugin makes on each node and in each pod
(:func:`build_plan`). :mod:`podnet.plugins.path` walks a packet through a plan hop by hop;
:mod:`podnet.plugins.lint` finds what users get wrong with these plugins.

The plugins with their own IPAM (Calico's blocks, Cilium's cluster-pool, the host model's node
addresses) register it with the cluster layer here: :func:`register_ipams` runs when this package
is imported, and ``cluster.ipam.ipam_for`` imports it on first use.
"""

from __future__ import annotations

from podnet.cluster import ipam as _ipam
from podnet.plugins.build import build_plan, context_of, plugin_info, pod_cidrs_of
from podnet.plugins.calico import CalicoIPAM
from podnet.plugins.cilium import CiliumIPAM
from podnet.plugins.host import HostIPAM
from podnet.plugins.lint import Finding, lint_plugin
from podnet.plugins.path import PacketPath, Source, Translation, masquerade_address, packet_path, source_address
from podnet.plugins.plan import NetworkPlan, network_model

__all__ = [
    "Finding",
    "NetworkPlan",
    "PacketPath",
    "Source",
    "Translation",
    "build_plan",
    "context_of",
    "lint_plugin",
    "masquerade_address",
    "network_model",
    "packet_path",
    "plugin_info",
    "pod_cidrs_of",
    "register_ipams",
    "source_address",
]

_IPAMS: dict[str, _ipam.IPAMFactory] = {
    "calico": CalicoIPAM,
    "cilium": CiliumIPAM,
    "host": HostIPAM,
}


def register_ipams() -> None:
    """Register the plugins' IPAMs with the cluster layer (those not registered already)."""
    for name, factory in _IPAMS.items():
        if name not in _ipam._REGISTRY:
            _ipam.register_ipam(name, factory)


register_ipams()
