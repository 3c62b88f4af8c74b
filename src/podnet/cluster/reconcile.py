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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from podnet.api.core import Namespace, Node, Pod, Service
from podnet.api.defaults import default_namespace
from podnet.api.discovery import EndpointSlice
from podnet.api.meta import ObjectMeta, ObjectRef, Resource
from podnet.api.networking import Ingress, IngressClass
from podnet.api.workloads import pod_template_of
from podnet.cluster import endpointslices, ingress_status, ipam, nodes, scheduler, services
from podnet.cluster import system, workloads
from podnet.cluster.config import ClusterConfig
from podnet.cluster.gcpause import paused_gc
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
    with paused_gc():
        return _reconcile(config, applied, previous)


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

    return ClusterState(
        config=config,
        objects=work.objects,
        applied=applied_refs,
        node_order=tuple(n.metadata.name for n in node_list),
    )


# ---------------------------------------------------------------------------- incremental

#: Kinds whose change can alter objects in every namespace: they take the full path.
_CLUSTER_WIDE_KINDS = frozenset({"Node", "Namespace", "IngressClass"})
#: Namespaces whose objects feed every other namespace (the ingress controller's address is
#: every Ingress's status; CoreDNS and the API server's endpoints are the system's own).
_CLUSTER_WIDE_NAMESPACES = frozenset({"", "kube-system", "ingress-nginx"})


def _declares_host_ports(obj: Resource) -> bool:
    template = pod_template_of(obj)
    return template is not None and any(p.host_port for p in template.spec.all_ports())


def reconcile_change(
    state: ClusterState,
    changed: Sequence[Resource],
    deleted: Sequence[ObjectRef] = (),
) -> ClusterState:
    """Converge ``state`` after the user applied ``changed`` and deleted ``deleted``.

    The same controllers as :func:`reconcile`, run only over the namespaces the change touches,
    with the rest of the cluster as context: node loads for the scheduler, the addresses in use
    on the nodes that receive new pods, every other Service's allocations. The result equals a
    full reconcile with ``previous=state`` (a test holds the two to it); changes with
    cluster-wide effects (nodes, namespaces, IngressClasses, the system namespaces, host ports)
    simply take the full path.
    """
    with paused_gc():
        return _reconcile_change(state, changed, deleted)


def _owned_closure(state: ClusterState, roots: Iterable[Resource]) -> list[Resource]:
    """``roots`` and everything they own, transitively (Deployment → ReplicaSet → Pod)."""
    by_owner: dict[str, list[Resource]] = {}
    for ns in {r.metadata.namespace for r in roots}:
        for obj in state.in_namespace(ns):
            owner = obj.metadata.controller_ref()
            if owner is not None and owner.uid:
                by_owner.setdefault(owner.uid, []).append(obj)
    out: list[Resource] = []
    todo = list(roots)
    seen: set[ObjectRef] = set()
    while todo:
        obj = todo.pop()
        if obj.ref in seen:
            continue
        seen.add(obj.ref)
        out.append(obj)
        todo.extend(by_owner.get(obj.metadata.uid, ()))
    return out


_MAKES_PODS = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController", "Pod"}
)


def _reconcile_change(
    state: ClusterState, changed: Sequence[Resource], deleted: Sequence[ObjectRef]
) -> ClusterState:
    config = state.config
    scope = {o.metadata.namespace for o in changed} | {r.namespace for r in deleted}
    existing_ns = {ns.metadata.name for ns in state.namespaces}
    if (
        scope & _CLUSTER_WIDE_NAMESPACES
        or any(o.kind in _CLUSTER_WIDE_KINDS for o in changed)
        or any(r.kind in _CLUSTER_WIDE_KINDS for r in deleted)
        or any(_declares_host_ports(o) for o in changed)
        or not scope <= existing_ns
    ):
        applied: dict[ObjectRef, Resource] = {
            ref: state.objects[ref] for ref in state.applied if ref in state.objects
        }
        for ref in deleted:
            applied.pop(ref, None)
        for obj in changed:
            applied[obj.ref] = obj
        return reconcile(config, list(applied.values()), previous=state)

    changed_refs = {o.ref for o in changed}
    applied_refs = frozenset((state.applied - set(deleted)) | changed_refs)
    index = state.index
    objects = state.objects
    node_list = state.ordered_nodes()

    # What the change replaces: the old versions of changed and deleted objects, and everything
    # the old pod-making ones own.
    old_roots = [objects[r] for r in (*changed_refs, *deleted) if r in objects]
    old_owned = _owned_closure(state, [o for o in old_roots if o.kind in _MAKES_PODS])
    gone: dict[ObjectRef, Resource] = {o.ref: o for o in (*old_roots, *old_owned)}

    work = _Work()
    work.put(changed)
    makers = [o for o in changed if o.kind in _MAKES_PODS]
    if makers:
        work.put(workloads.expand(makers, node_list, state))

    # The scheduler weighs every node's other pods; only the change's pods are placed.
    preload = {node: len(pods) for node, pods in index.pods_by_node.items()}
    for old in gone.values():
        if isinstance(old, Pod) and old.spec.node_name in preload:
            preload[old.spec.node_name] -= 1
    pods = [o for o in work.objects.values() if isinstance(o, Pod)]
    if pods:
        pods = scheduler.schedule(pods, node_list, state, preload)
        # IPAM needs the addresses in use on the nodes where a new pod still needs one.
        needy = {p.spec.node_name for p in pods if p.spec.node_name and not p.ips}
        mine = {p.ref for p in pods}
        context = [
            p
            for node in sorted(needy)
            for p in index.pods_by_node.get(node, [])
            if p.ref not in mine and p.ref not in gone
        ]
        pods = ipam.assign(pods + context, node_list, config, state)[: len(pods)]
        work.put(pods)

    # Services: the changed ones are allocated; every other Service's allocations are held.
    changed_svcs = [o for o in work.objects.values() if isinstance(o, Service)]
    if changed_svcs:
        held = state.service_allocations(excluding=[o.ref for o in gone.values() if isinstance(o, Service)])
        allocated, errors = services.allocate(changed_svcs, config, node_list, state, applied_refs, held)
        if errors:
            raise ReconcileError(errors)
        work.put(allocated)

    # EndpointSlices of every Service whose pods may have changed, from the namespace's pods
    # after the change.
    touched_labels = [p.metadata.labels for p in (*gone.values(), *pods) if isinstance(p, Pod)]
    affected: dict[ObjectRef, Service] = {}
    for ns in sorted(scope):
        for svc in state.services(ns):
            if svc.ref in gone or svc.spec.selector is None:
                continue
            sel = svc.spec.selector
            if any(all(labels.get(k) == v for k, v in sel.items()) for labels in touched_labels):
                affected[svc.ref] = svc
    for o in work.objects.values():
        if isinstance(o, Service):
            affected[o.ref] = o
    if affected or any(isinstance(o, (EndpointSlice, Service)) for o in (*changed, *gone.values())):
        new_pods = {p.ref: p for p in pods}
        pods_after = [
            p for ns in sorted(scope) for p in index.pods_by_ns.get(ns, []) if p.ref not in gone and p.ref not in new_pods
        ]
        pods_after.extend(new_pods.values())
        svc_names = {(r.namespace, r.name) for r in affected} | {
            (o.metadata.namespace, o.metadata.name) for o in gone.values() if isinstance(o, Service)
        }
        old_slices = [
            sl for ns, name in sorted(svc_names) for sl in state.endpoint_slices(ns, name)
        ]
        given = [
            o for o in (*old_slices, *work.objects.values())
            if isinstance(o, EndpointSlice) and o.ref in applied_refs
        ]
        given_by_ref = {o.ref: o for o in given}
        for sl in old_slices:
            gone.setdefault(sl.ref, sl)
        for ref in given_by_ref:
            work.objects.pop(ref, None)
        work.put(endpointslices.build(list(affected.values()), pods_after, list(given_by_ref.values()), node_list))

    ingresses = [o for o in work.objects.values() if isinstance(o, Ingress)]
    if ingresses:
        context_objs: list[Resource] = [*state.typed(IngressClass), *state.services("ingress-nginx")]
        work.put(ingress_status.update(ingresses, context_objs, config))

    # Only what really changed goes into the new state: controllers hand back the very objects
    # they kept, so almost everything is shared with the state before.
    removed = [ref for ref in gone if ref not in work.objects]
    added = [o for ref, o in work.objects.items() if (prior := objects.get(ref)) is not o and prior != o]
    return state.evolve(removed, added, applied=applied_refs)
