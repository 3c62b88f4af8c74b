"""Admission: what the API server does between receiving objects and storing them.

Defaulting, validation, then the controllers — all or nothing: a set with any invalid object is
refused whole and every error is reported, each naming its file and document, so that a user fixes
everything in one pass and the stored cluster never holds half a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podnet.api.defaults import apply_defaults
from podnet.api.loader import Loaded, LoadResult, ManifestError, PodnetDocument
from podnet.api.meta import ObjectRef, Resource
from podnet.api.validation import validate
from podnet.cluster.config import KIND as CONFIG_KIND
from podnet.cluster.config import ClusterConfig, ConfigError, parse_config
from podnet.cluster.reconcile import ReconcileError, reconcile
from podnet.cluster.state import ClusterState


@dataclass(frozen=True, slots=True)
class Admitted:
    state: ClusterState
    #: The user's objects after defaulting, in the order given.
    objects: tuple[Resource, ...]


def config_from_documents(
    docs: Sequence[PodnetDocument], base: ClusterConfig
) -> tuple[ClusterConfig, list[str]]:
    """The config a set of inputs carries (its Cluster document, if any) over ``base``."""
    errors: list[str] = []
    config = base
    for doc in docs:
        if doc.kind != CONFIG_KIND:
            continue
        try:
            config = parse_config(doc.data, config)
        except ConfigError as e:
            errors.append(f"error: {doc.source}: {e}")
    return config, errors


def default_all(loaded: Sequence[Loaded], namespace: str = "default") -> list[Loaded]:
    return [Loaded(apply_defaults(item.obj, namespace), item.source) for item in loaded]


def check(loaded: Sequence[Loaded], config: ClusterConfig) -> list[str]:
    """Every validation error of every object, each prefixed with its source."""
    errors: list[str] = []
    for item in loaded:
        for message in validate(item.obj, config):
            errors.append(f"error: {item.source}: {message}")
    return errors


def admit(
    result: LoadResult,
    base: ClusterConfig,
    *,
    previous: ClusterState | None = None,
    keep: Sequence[Resource] = (),
    namespace: str = "default",
) -> Admitted:
    """Default, validate and reconcile ``result`` together with ``keep`` (objects already
    applied). Raises :class:`ManifestError` listing every error; nothing is half-done."""
    errors = list(result.errors)
    config, config_errors = config_from_documents(result.podnet_documents, base)
    errors.extend(config_errors)
    loaded = default_all(result.objects, namespace)
    errors.extend(check(loaded, config))
    if errors:
        raise ManifestError(errors)
    merged: dict[ObjectRef, Resource] = {o.ref: o for o in keep}
    for item in loaded:
        merged[item.obj.ref] = item.obj
    try:
        state = reconcile(config, list(merged.values()), previous)
    except ReconcileError as e:
        raise ManifestError([f"error: {m}" if not m.startswith("error:") else m for m in e.errors]) from e
    return Admitted(state, tuple(item.obj for item in loaded))
