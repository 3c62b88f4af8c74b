"""Reconciliation: from the objects a user applied to a complete ClusterState.

Theory of operation
-------------------
A real cluster reaches its state through many controllers reacting to each other. podnet runs the
same controllers, in dependency order, each a pure function:

    nodes ─► system objects ─► namespaces ─► workloads (ReplicaSets, Pods)
          ─► scheduler (nodeName) ─► pod IPAM (podIP, Ready) ─► Service allocation
          (clusterIP, nodePort, LoadBalancer) ─► EndpointSlices ─► Ingress status

``previous`` is the state before this change. Controllers consult it so that what exists keeps
its identity — a pod keeps its name and IP, a Service its ClusterIP and NodePorts — exactly as in
a cluster, where a status once written stays. Given the same inputs and the same previous state,
the result is the same on every machine.
"""

from __future__ import annotations

import gc

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from podnet.api.core import Namespace, Node, Pod, Service
from podnet.api.defaults import default_namespace
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import ObjectMeta, ObjectRef, Resource
from podnet.api.networking import Ingress
from podnet.cluster import endpointslices, ingress_status, ipam, nodes, scheduler, services
from podnet.cluster import system, workloads
from podnet.cluster.config import ClusterConfig
from podnet.cluster.state import ClusterState


class ReconcileError(ValueError):
    """Objects the API server would refuse given the rest of the cluster (an IP already
    allocated, a NodePort taken…). ``errors`` are complete messages naming the object."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(self.errors))


@dataclass(slots=True)
class _Work:
    objects: dict[ObjectRef, Resource] = field(default_factory=dict)

    def put(self, objs: Iterable[Resource]) -> None:
        for o in objs:
            self.objects[o.ref] = o

    def of(self, cls: type[Resource]) -> list[Resource]:
        return [o for o in self.objects.values() if type(o) is cls]


def reconcile(
    config: ClusterConfig,
    applied: Sequence[Resource],
    previous: ClusterState | None = None,
) -> ClusterState:
    """Run every controller; raises :class:`ReconcileError` on allocation conflicts.

    The cyclic garbage collector is paused while it runs: a build allocates hundreds of thousands
    of small immutable objects that are all still alive at the end, so every collection pass is
    pure overhead (40% of a 150,000-pod build).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _reconcile(config, applied, previous)
    finally:
        if was_enabled:
            gc.enable()


def _reconcile(
    config: ClusterConfig,
    applied: Sequence[Resource],
    previous: ClusterState | None,
) -> ClusterState:
    applied_refs = frozenset(o.ref for o in applied)
    given_nodes = [o for o in applied if isinstance(o, Node)]
    node_list = nodes.build_nodes(config, given_nodes, previous)

    work = _Work()
    work.put(node_list)
    if config.system_objects:
        work.put(system.system_objects(config, node_list))
    # What the user gave wins over a system object of the same name.
    work.put(o for o in applied if not isinstance(o, Node))

    # Namespaces that objects live in exist (as if created with `kubectl create namespace`).
    present = {o.metadata.name for o in work.objects.values() if isinstance(o, Namespace)}
    for ns in sorted({o.metadata.namespace for o in work.objects.values()} - present - {""}):
        implicit = default_namespace(Namespace(metadata=ObjectMeta(name=ns)))
        work.objects[implicit.ref] = implicit

    made = workloads.expand(list(work.objects.values()), node_list, previous)
    work.put(made)

    pods = [o for o in work.objects.values() if isinstance(o, Pod)]
    pods = scheduler.schedule(pods, node_list, previous)
    pods = ipam.assign(pods, node_list, config, previous)
    work.put(pods)

    svcs = [o for o in work.objects.values() if isinstance(o, Service)]
    allocated, errors = services.allocate(svcs, config, node_list, previous, applied_refs)
    if errors:
        raise ReconcileError(errors)
    work.put(allocated)

    given_slices = [o for o in work.objects.values() if isinstance(o, EndpointSlice)]
    # build() returns the complete set: the given slices it keeps plus the computed ones.
    slices = endpointslices.build(allocated, pods, given_slices, node_list)
    for s in given_slices:
        del work.objects[s.ref]
    work.put(slices)

    ingresses = [o for o in work.objects.values() if isinstance(o, Ingress)]
    work.put(ingress_status.update(ingresses, list(work.objects.values()), config))

    return ClusterState(config=config, objects=work.objects, applied=applied_refs)
