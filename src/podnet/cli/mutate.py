"""``apply`` and ``delete`` on a stored cluster: all or nothing, under the cluster's lock.

apply: the inputs are defaulted, validated and reconciled together with every object applied
before (their last-applied form) and the stored state as ``previous``, so existing objects keep
their names and addresses. Any error — in any document — and nothing is stored. A Cluster document
(or ``--config``/``--plugin``/``--nodes``) sets the stored config, but a change that would
re-address what exists (pod or service subnets, the cluster domain, a node's pod CIDR) is refused.

delete: the named objects leave the applied set (a Namespace takes its objects with it), and the
state is reconciled again from the remaining applied objects, so what the deleted objects owned —
ReplicaSets, pods, EndpointSlices — disappears as the garbage collector would remove it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from podnet.api.loader import LoadResult, ManifestError
from podnet.api.meta import ObjectRef, Resource
from podnet.cli import store
from podnet.cli.context import (
    CliError,
    Options,
    apply_config_flags,
    config_flags_given,
    no_cluster,
    read_inputs,
)
from podnet.cli.kinds import ENDPOINTS, ResourceType, type_of
from podnet.cli.query import list_items, not_found, parse_args, selector_of
from podnet.cluster.admission import admit, default_all
from podnet.cluster.config import DEFAULT
from podnet.cluster.endpoints import controller_owns, given_endpoints
from podnet.cluster.state import ClusterState

#: Namespaces the API server refuses to delete.
UNDELETABLE_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


@dataclass(slots=True)
class Result:
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _normal(data: Any) -> Any:
    return json.loads(json.dumps(data, sort_keys=True))


def _namespace_errors(result: LoadResult, namespace: str | None) -> list[str]:
    """kubectl refuses objects naming another namespace than an explicit ``-n``."""
    if not namespace:
        return []
    errors = []
    for item in result.objects:
        ns = item.obj.metadata.namespace
        if item.obj.namespaced and ns and ns != namespace:
            errors.append(
                f'error: {item.source}: the namespace from the provided object "{ns}" does not '
                f'match the namespace "{namespace}". You must pass \'--namespace={ns}\' to '
                "perform this operation."
            )
    return errors


def _endpoints_targets(state: ClusterState, names: Sequence[str], namespace: str | None,
                       all_: bool, ignore_not_found: bool,
                       out: Result) -> list[tuple[ResourceType, Resource]]:
    """``delete endpoints``: the Endpoints objects the manifests gave (a selector-less Service's)
    are deleted like any object; those of a Service with a selector are the controller's — a
    real cluster's would write them again at once — so podnet says to delete the Service."""
    given = {o.name: o for o in given_endpoints(state, namespace)}
    if not names:
        if not all_:
            raise CliError("error: resource(s) were provided, but no name was specified")
        return [(ENDPOINTS, o) for _, o in sorted(given.items())]
    targets: list[tuple[ResourceType, Resource]] = []
    for name in names:
        if name in given:
            targets.append((ENDPOINTS, given[name]))
            continue
        svc = state.service(namespace or "default", name)
        if svc is not None and controller_owns(svc):
            raise CliError(
                f'error: the Endpoints "{name}" are the endpoints controller\'s (the Service has '
                "a selector): delete the Service (or its pods' workload) instead"
            )
        if not ignore_not_found:
            out.errors.append(not_found(ENDPOINTS, name))
    return targets


def readdress_errors(old: ClusterState, new: ClusterState, cluster: str) -> list[str]:
    """Why a config change may not be applied to a cluster that has objects."""
    a, b = old.config, new.config
    if a == b:
        return []
    hint = (
        f" (delete the cluster first: podnet config delete-cluster {cluster}; "
        "or apply to another --cluster)"
    )
    head = f'error: the Cluster "{cluster}" cannot be changed: '
    errors = []
    if a.effective_pod_subnets != b.effective_pod_subnets:
        errors.append(
            f"{head}networking.podSubnet: Forbidden: changing {','.join(a.effective_pod_subnets)} "
            f"to {','.join(b.effective_pod_subnets)} would re-address the existing pods{hint}"
        )
    if a.service_subnets != b.service_subnets:
        errors.append(
            f"{head}networking.serviceSubnet: Forbidden: changing {','.join(a.service_subnets)} "
            f"to {','.join(b.service_subnets)} would re-address the existing Services{hint}"
        )
    if a.cluster_domain != b.cluster_domain:
        errors.append(
            f"{head}networking.clusterDomain: Forbidden: changing {a.cluster_domain} to "
            f"{b.cluster_domain} would rename every existing Service and pod in DNS{hint}"
        )
    if not errors:
        for node in old.nodes:
            after = new.node(node.name)
            if after is not None and after.pod_cidrs != node.pod_cidrs:
                errors.append(
                    f'{head}nodes: Forbidden: node "{node.name}" would change its podCIDR from '
                    f"{','.join(node.pod_cidrs) or '<none>'} to "
                    f"{','.join(after.pod_cidrs) or '<none>'}, re-addressing its pods{hint}"
                )
    return errors


def apply(opts: Options, dry_run: bool = False) -> Result:
    if not opts.filenames:
        raise CliError("error: must specify one of -f and -k")
    result = read_inputs(opts.filenames)
    if not result.objects and not result.podnet_documents and not result.errors:
        raise CliError("error: no objects passed to apply")
    # kubectl apply needs the name to find the object it last applied: generateName alone is
    # refused (kubectl create takes such objects; podnet has no create)
    generated = [item.obj.metadata.generate_name for item in result.objects
                 if not item.obj.metadata.name and item.obj.metadata.generate_name]
    if generated:
        raise CliError(*(f"error: from {g}: cannot use generate name with apply" for g in generated))
    cluster = opts.cluster_name
    out = Result()
    with store.lock(cluster):
        stored = store.load_stored(cluster)
        previous = stored.state if stored is not None else None
        base = previous.config if previous is not None else DEFAULT
        ns_errors = _namespace_errors(result, opts.namespace)
        try:
            config = apply_config_flags(opts, base)
            admitted = admit(
                result,
                config,
                previous=previous,
                keep=stored.applied_objects if stored is not None else (),
                namespace=opts.ns,
            )
        except ManifestError as e:
            raise ManifestError([*e.errors, *ns_errors]) from e
        if ns_errors:
            raise ManifestError(ns_errors)
        if previous is not None:
            refused = readdress_errors(previous, admitted.state, cluster)
            if refused:
                raise CliError(*refused)
        last = dict(stored.last_applied) if stored is not None else {}
        new_config = admitted.state.config
        if result.podnet_documents or config_flags_given(opts):
            if previous is None:
                verb = "created"
            elif _normal(previous.config.to_dict()) == _normal(new_config.to_dict()):
                verb = "unchanged"
            else:
                verb = "configured"
            out.lines.append(f"cluster.podnet.io/{cluster} {verb}")
        for obj in admitted.objects:
            before = last.get(obj.ref)
            if before is not None:
                same = _normal(before.to_dict()) == _normal(obj.to_dict())
                verb = "unchanged" if same else "configured"
            elif previous is not None and obj.ref in previous.objects:
                verb = "configured"
            else:
                verb = "created"
            last[obj.ref] = obj
            name = f"{type_of(obj).qualified_singular}/{obj.name}"
            out.lines.append(f"{name} {verb}" if opts.output != "name" else name)
        if dry_run:
            out.lines = [f"{line} (dry run)" for line in out.lines]
            return out
        state = store.stamp(admitted.state, previous)
        store.save(state, cluster, last)
    return out


# ------------------------------------------------------------------------------------ delete


def _dependents(state: ClusterState, roots: Iterable[ObjectRef]) -> set[ObjectRef]:
    """``roots``, every object in a deleted Namespace, and what they own, transitively."""
    children: dict[tuple[str, str, str], list[Resource]] = defaultdict(list)
    by_ns: dict[str, list[Resource]] = defaultdict(list)
    for obj in state.objects.values():
        by_ns[obj.namespace].append(obj)
        for owner in obj.metadata.owner_references:
            children[(obj.namespace, owner.kind, owner.name)].append(obj)
    removed: set[ObjectRef] = set()
    stack = list(roots)
    while stack:
        ref = stack.pop()
        if ref in removed:
            continue
        removed.add(ref)
        found = state.find(ref)
        if found is None:
            continue
        if found.kind == "Namespace" and not found.namespaced:
            stack.extend(o.ref for o in by_ns.get(found.name, []))
        stack.extend(c.ref for c in children.get((found.namespace, found.kind, found.name), []))
    return removed


def delete(
    opts: Options,
    args: Sequence[str],
    *,
    all_: bool = False,
    ignore_not_found: bool = False,
) -> Result:
    cluster = opts.cluster_name
    out = Result()
    if not store.state_path(cluster).exists():  # no lock folder left behind for nothing
        raise no_cluster(cluster)
    with store.lock(cluster):
        stored = store.load_stored(cluster)
        if stored is None:
            raise no_cluster(cluster)
        state = stored.state
        targets: list[tuple[ResourceType, Resource]] = []
        if opts.filenames:
            if args:
                raise CliError(
                    "error: when paths, URLs, or stdin is provided as input, you may not specify "
                    "resource arguments as well"
                )
            result = read_inputs(opts.filenames)
            if result.errors:
                raise ManifestError(result.errors)
            for item in default_all(result.objects, opts.ns):
                rtype = type_of(item.obj)
                found = state.find(item.obj.ref)
                if found is not None:
                    targets.append((rtype, found))
                elif not ignore_not_found:
                    out.errors.append(
                        f'Error from server (NotFound): error when deleting "{item.source.path}": '
                        f'{rtype.qualified_plural} "{item.obj.name}" not found'
                    )
        else:
            if not args:
                raise CliError(
                    'error: you must specify the type of resource to delete. Use "podnet '
                    'api-resources" for a complete list of supported resources.'
                )
            requests, _several = parse_args(args, state, "delete")
            selector = selector_of(opts)
            namespace = None if opts.all_namespaces else opts.ns
            for req in requests:
                if req.rtype == ENDPOINTS:
                    targets += _endpoints_targets(state, req.names, namespace, all_,
                                                  ignore_not_found, out)
                    continue
                items = [
                    i
                    for i in list_items(state, req.rtype, namespace, selector if not req.names else None)
                    if isinstance(i, Resource)
                ]
                if req.names:
                    by_name = {i.name: i for i in items}
                    for name in req.names:
                        if name in by_name:
                            targets.append((req.rtype, by_name[name]))
                        elif not ignore_not_found:
                            out.errors.append(not_found(req.rtype, name))
                elif all_ or selector is not None:
                    targets.extend((req.rtype, i) for i in items)
                else:
                    raise CliError("error: resource(s) were provided, but no name was specified")
            if not targets and not out.errors and (all_ or selector is not None):
                out.errors.append("No resources found")
                return out
        kept: list[tuple[ResourceType, Resource]] = []
        for rtype, obj in targets:
            if obj.kind == "Namespace" and obj.name in UNDELETABLE_NAMESPACES:
                out.errors.append(
                    f'Error from server (Forbidden): namespaces "{obj.name}" is forbidden: '
                    "this namespace may not be deleted"
                )
            else:
                kept.append((rtype, obj))
        if not kept:
            return out
        removed = _dependents(state, (o.ref for _, o in kept))
        remaining = [o for o in stored.applied_objects if o.ref not in removed]
        pruned = ClusterState(
            config=state.config,
            objects={r: o for r, o in state.objects.items() if r not in removed},
            applied=frozenset(r for r in state.applied if r not in removed),
        )
        admitted = admit(LoadResult(), state.config, previous=pruned, keep=remaining)
        new_state = store.stamp(admitted.state, pruned)
        last = {r: o for r, o in stored.last_applied.items() if r not in removed}
        store.save(new_state, cluster, last)
        seen: set[ObjectRef] = set()
        for rtype, obj in kept:
            if obj.ref in seen:
                continue
            seen.add(obj.ref)
            if opts.output == "name":
                out.lines.append(f"{rtype.qualified_singular}/{obj.name}")
            else:
                out.lines.append(f'{rtype.qualified_singular} "{obj.name}" deleted')
    return out
