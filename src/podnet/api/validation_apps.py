"""Workload validation: apps/v1 and batch/v1 (private to :mod:`podnet.api.validation`).

Behaviour and wording from kubernetes/kubernetes ``pkg/apis/apps/validation/validation.go``
(``ValidateDeployment``, ``ValidateReplicaSet``, ``ValidateStatefulSet``, ``ValidateDaemonSet``
and their spec/strategy helpers) and ``pkg/apis/batch/validation/validation.go``
(``ValidateJob``, ``validateGeneratedSelector``, ``validateJobSpec``, ``ValidateCronJobCreate``,
``ValidateJobTemplateSpec``); CronJob schedules are parsed as ``github.com/robfig/cron/v3``
``ParseStandard`` parses them (its error texts are what the API server reports), durations as
Go's ``time.ParseDuration``.

Strategy fields that podnet keeps unmodelled (``updateStrategy``, ``revisionHistoryLimit``,
``progressDeadlineSeconds``, ...) are read from ``extra`` and defaulted the way apps/v1 and
batch/v1 defaulting would have before validation.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any, Final

from podnet.api.core import PodTemplateSpec
from podnet.api.errors import FieldError, FieldPath, GoLiteral, GoStruct, go_quote
from podnet.api.meta import ObjectMeta
from podnet.api.names import (
    is_dns1123_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    validate_annotations,
    validate_labels,
)
from podnet.api.selectors import LabelSelector
from podnet.api.validation_common import (
    METADATA,
    SPEC,
    Errs,
    is_domain_prefixed_path,
    is_valid_percent,
    label_selector,
    labels_value,
    nonnegative,
    object_meta,
    selector_as_selector,
    selector_is_empty,
    selector_json,
    selector_matches,
)
from podnet.api.validation_pod import pod_specific_annotations, pod_template_spec
from podnet.api.workloads import (
    CronJob,
    DaemonSet,
    Deployment,
    Job,
    JobSpec,
    ReplicaSet,
    StatefulSet,
)

_MAX_PARALLELISM_INDEXED: Final = 100000


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _extra_int(obj: Any, key: str) -> int | None:
    extra: Mapping[str, Any] = getattr(obj, "extra", {}) or {}
    return _int(extra.get(key))


# --------------------------------------------------------------------------------------------
# Shared pieces


def _selector_and_template(
    selector: LabelSelector | None,
    template: PodTemplateSpec,
    kind_word: str,
    path: FieldPath,
    *,
    stateful: bool = False,
) -> Errs:
    """Selector required/valid/non-empty, then the template against it (Deployment, RS, STS)."""
    errs: Errs = []
    sel_path = path.child("selector")
    if selector is None:
        errs.append(FieldError.required(sel_path))
    else:
        errs.extend(label_selector(selector, sel_path))
        if selector.is_empty():
            errs.append(
                FieldError.invalid(
                    sel_path, selector_json(selector), f"empty selector is invalid for {kind_word}"
                )
            )
    converted = selector_as_selector(selector)
    tpath = path.child("template")
    if converted is None:
        detail = "" if stateful else "invalid label selector"
        errs.append(FieldError.invalid(sel_path, selector_json(selector), detail))
        return errs
    if not selector_is_empty(converted) and not selector_matches(
        converted, template.metadata.labels
    ):
        errs.append(
            FieldError.invalid(
                tpath.child("metadata", "labels"),
                labels_value(template.metadata.labels),
                "`selector` does not match template `labels`",
            )
        )
    if stateful:
        # StatefulSets validate only the template's labels and annotations (upstream TODO).
        meta = template.metadata
        errs.extend(validate_labels(meta.labels, tpath.child("labels")))
        errs.extend(validate_annotations(meta.annotations, tpath.child("annotations")))
        errs.extend(
            pod_specific_annotations(meta.annotations, template.spec, tpath.child("annotations"))
        )
    else:
        errs.extend(pod_template_spec(template, tpath))
    return errs


def _restart_always(
    template: PodTemplateSpec, path: FieldPath, kind_word: str, forbidden: bool = True
) -> Errs:
    errs: Errs = []
    spec = template.spec
    if spec.restart_policy != "Always":
        errs.append(
            FieldError.not_supported(
                path.child("spec", "restartPolicy"), spec.restart_policy, ("Always",)
            )
        )
    if spec.extra.get("activeDeadlineSeconds") is not None:
        errs.append(
            FieldError.forbidden(
                path.child("spec", "activeDeadlineSeconds"),
                f"activeDeadlineSeconds in {kind_word} is not Supported",
            )
        )
    return errs


def _int_or_string(value: Any) -> int | str:
    if isinstance(value, str):
        return value
    return _int(value) or 0


def _or_default(value: Any, default: int | str) -> Any:
    """apps/v1 defaulting of a nil ``*intstr.IntOrString``."""
    return default if value is None else value


def _positive_int_or_percent(value: int | str, path: FieldPath) -> Errs:
    """``ValidatePositiveIntOrPercent``."""
    if isinstance(value, str):
        return [FieldError.invalid(path, value, m) for m in is_valid_percent(value)]
    return nonnegative(value, path)


def _percent_value(value: int | str) -> int | None:
    if isinstance(value, str) and not is_valid_percent(value):
        return int(value[:-1])
    return None


def _int_or_percent_value(value: int | str) -> int:
    pct = _percent_value(value)
    if pct is not None:
        return pct
    if isinstance(value, str):
        return int(value) if re.fullmatch(r"[+-]?[0-9]+", value) else 0
    return value


def _not_more_than_100(value: int | str, path: FieldPath) -> Errs:
    pct = _percent_value(value)
    if pct is None or pct <= 100:
        return []
    return [FieldError.invalid(path, value, "must not be greater than 100%")]


def _go_ptr(type_name: str, present: bool) -> GoLiteral:
    # A non-nil pointer prints its address in %#v; podnet cannot know it, so it prints a
    # fixed placeholder address.
    return GoLiteral(f"(*{type_name})(0xc000000000)" if present else f"(*{type_name})(nil)")


# --------------------------------------------------------------------------------------------
# Deployment and ReplicaSet


def _deployment_strategy(strategy: Mapping[str, Any] | None, path: FieldPath) -> Errs:
    """``ValidateDeploymentStrategy`` after apps/v1 defaulting."""
    strategy = strategy or {}
    stype = strategy.get("type") or "RollingUpdate"
    rolling = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if rolling is not None:
            return [
                FieldError.forbidden(
                    path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if stype == "RollingUpdate":
        ru: Mapping[str, Any] = rolling if isinstance(rolling, Mapping) else {}
        max_unavailable = _int_or_string(_or_default(ru.get("maxUnavailable"), "25%"))
        max_surge = _int_or_string(_or_default(ru.get("maxSurge"), "25%"))
        rpath = path.child("rollingUpdate")
        errs = _positive_int_or_percent(max_unavailable, rpath.child("maxUnavailable"))
        errs.extend(_positive_int_or_percent(max_surge, rpath.child("maxSurge")))
        if _int_or_percent_value(max_unavailable) == 0 and _int_or_percent_value(max_surge) == 0:
            errs.append(
                FieldError.invalid(
                    rpath.child("maxUnavailable"),
                    max_unavailable,
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        errs.extend(_not_more_than_100(max_unavailable, rpath.child("maxUnavailable")))
        return errs
    value = GoStruct(
        "apps.DeploymentStrategy",
        (
            ("Type", str(stype)),
            ("RollingUpdate", _go_ptr("apps.RollingUpdateDeployment", rolling is not None)),
        ),
    )
    return [FieldError.not_supported(path, value, ("Recreate", "RollingUpdate"))]


def validate_deployment(d: Deployment) -> Errs:
    """``ValidateDeployment``."""
    spec = d.spec
    errs = object_meta(d.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    errs.extend(nonnegative(spec.replicas or 0, SPEC.child("replicas")))
    errs.extend(_selector_and_template(spec.selector, spec.template, "deployment", SPEC))
    if selector_as_selector(spec.selector) is not None:
        errs.extend(_restart_always(spec.template, SPEC.child("template"), "ReplicaSet"))
    errs.extend(_deployment_strategy(spec.strategy, SPEC.child("strategy")))
    errs.extend(nonnegative(spec.min_ready_seconds, SPEC.child("minReadySeconds")))
    history = _extra_int(spec, "revisionHistoryLimit")
    if history is not None:
        errs.extend(nonnegative(history, SPEC.child("revisionHistoryLimit")))
    deadline = _extra_int(spec, "progressDeadlineSeconds")
    if deadline is not None:
        errs.extend(nonnegative(deadline, SPEC.child("progressDeadlineSeconds")))
        if deadline <= spec.min_ready_seconds:
            errs.append(
                FieldError.invalid(
                    SPEC.child("progressDeadlineSeconds"),
                    deadline,
                    "must be greater than minReadySeconds",
                )
            )
    return errs


def validate_replica_set(rs: ReplicaSet) -> Errs:
    """``ValidateReplicaSet`` (whose empty-selector message says "deployment", as upstream's)."""
    spec = rs.spec
    errs = object_meta(rs.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    errs.extend(nonnegative(spec.replicas or 0, SPEC.child("replicas")))
    errs.extend(nonnegative(spec.min_ready_seconds, SPEC.child("minReadySeconds")))
    errs.extend(_selector_and_template(spec.selector, spec.template, "deployment", SPEC))
    if selector_as_selector(spec.selector) is not None:
        errs.extend(_restart_always(spec.template, SPEC.child("template"), "ReplicaSet"))
    return errs


# --------------------------------------------------------------------------------------------
# StatefulSet and DaemonSet


def validate_stateful_set(sts: StatefulSet) -> Errs:
    """``ValidateStatefulSet`` (its pod template spec is not validated upstream)."""
    spec = sts.spec
    extra = spec.extra
    errs = object_meta(sts.metadata, namespaced=True, name_fn=name_is_dns_label)
    policy = spec.pod_management_policy
    if not policy:
        errs.append(FieldError.required(SPEC.child("podManagementPolicy")))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(
            FieldError.invalid(
                SPEC.child("podManagementPolicy"), policy, "must be 'OrderedReady' or 'Parallel'"
            )
        )
    strategy = extra.get("updateStrategy")
    if isinstance(strategy, Mapping):
        spath = SPEC.child("updateStrategy")
        stype = strategy.get("type") or "RollingUpdate"
        rolling = strategy.get("rollingUpdate")
        if stype == "OnDelete":
            if rolling is not None:
                ru: Mapping[str, Any] = rolling if isinstance(rolling, Mapping) else {}
                errs.append(
                    FieldError.invalid(
                        spath.child("rollingUpdate"),
                        GoStruct(
                            "apps.RollingUpdateStatefulSetStrategy",
                            (
                                ("Partition", _int(ru.get("partition")) or 0),
                                (
                                    "MaxUnavailable",
                                    _go_ptr(
                                        "intstr.IntOrString", ru.get("maxUnavailable") is not None
                                    ),
                                ),
                            ),
                        ),
                        "only allowed for updateStrategy 'RollingUpdate'",
                    )
                )
        elif stype == "RollingUpdate":
            if isinstance(rolling, Mapping):
                rpath = spath.child("rollingUpdate")
                errs.extend(
                    nonnegative(_int(rolling.get("partition")) or 0, rpath.child("partition"))
                )
                if rolling.get("maxUnavailable") is not None:
                    mu = _int_or_string(rolling.get("maxUnavailable"))
                    errs.extend(_positive_int_or_percent(mu, rpath.child("maxUnavailable")))
                    if _int_or_percent_value(mu) == 0:
                        errs.append(
                            FieldError.invalid(rpath.child("maxUnavailable"), mu, "cannot be 0")
                        )
                    errs.extend(_not_more_than_100(mu, rpath.child("maxUnavailable")))
        else:
            errs.append(
                FieldError.invalid(
                    spath,
                    GoStruct(
                        "apps.StatefulSetUpdateStrategy",
                        (
                            ("Type", str(stype)),
                            (
                                "RollingUpdate",
                                _go_ptr(
                                    "apps.RollingUpdateStatefulSetStrategy", rolling is not None
                                ),
                            ),
                        ),
                    ),
                    "must be 'RollingUpdate' or 'OnDelete'",
                )
            )
    retention = extra.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, Mapping):
        rpath = SPEC.child("persistentVolumeClaimRetentionPolicy")
        for key in ("whenDeleted", "whenScaled"):
            value = retention.get(key) or "Retain"
            if value not in ("Retain", "Delete"):
                errs.append(FieldError.not_supported(rpath.child(key), value, ("Retain", "Delete")))
    errs.extend(nonnegative(spec.replicas or 0, SPEC.child("replicas")))
    min_ready = _int(extra.get("minReadySeconds"))
    if min_ready is not None:
        errs.extend(nonnegative(min_ready, SPEC.child("minReadySeconds")))
    if spec.ordinals is not None:
        errs.extend(nonnegative(spec.ordinals.start, SPEC.child("ordinals.start")))
    errs.extend(
        _selector_and_template(spec.selector, spec.template, "statefulset", SPEC, stateful=True)
    )
    errs.extend(_restart_always(spec.template, SPEC.child("template"), "StatefulSet"))
    return errs


def _daemon_set_strategy(strategy: Mapping[str, Any] | None, path: FieldPath) -> Errs:
    """``ValidateDaemonSetUpdateStrategy`` after apps/v1 defaulting."""
    strategy = strategy or {}
    stype = strategy.get("type") or "RollingUpdate"
    if stype == "OnDelete":
        return []
    rolling = strategy.get("rollingUpdate")
    if stype != "RollingUpdate":
        value = GoStruct(
            "apps.DaemonSetUpdateStrategy",
            (
                ("Type", str(stype)),
                ("RollingUpdate", _go_ptr("apps.RollingUpdateDaemonSet", rolling is not None)),
            ),
        )
        return [FieldError.not_supported(path, value, ("RollingUpdate", "OnDelete"))]
    ru: Mapping[str, Any] = rolling if isinstance(rolling, Mapping) else {}
    max_unavailable = _int_or_string(_or_default(ru.get("maxUnavailable"), 1))
    max_surge = _int_or_string(_or_default(ru.get("maxSurge"), 0))
    rpath = path.child("rollingUpdate")
    errs = _positive_int_or_percent(max_unavailable, rpath.child("maxUnavailable"))
    errs.extend(_positive_int_or_percent(max_surge, rpath.child("maxSurge")))
    errs.extend(_not_more_than_100(max_unavailable, rpath.child("maxUnavailable")))
    errs.extend(_not_more_than_100(max_surge, rpath.child("maxSurge")))
    has_unavailable = _int_or_percent_value(max_unavailable) != 0
    has_surge = _int_or_percent_value(max_surge) != 0
    if has_unavailable and has_surge:
        errs.append(
            FieldError.invalid(
                rpath.child("maxSurge"), max_surge, "may not be set when maxUnavailable is non-zero"
            )
        )
    elif not has_unavailable and not has_surge:
        errs.append(
            FieldError.required(rpath.child("maxUnavailable"), "cannot be 0 when maxSurge is 0")
        )
    return errs


def validate_daemon_set(ds: DaemonSet) -> Errs:
    """``ValidateDaemonSet``: a nil selector fails only as "does not match" (upstream)."""
    spec = ds.spec
    errs = object_meta(ds.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    sel_path = SPEC.child("selector")
    errs.extend(label_selector(spec.selector, sel_path))
    converted = selector_as_selector(spec.selector)
    if converted is not None and not selector_matches(converted, spec.template.metadata.labels):
        errs.append(
            FieldError.invalid(
                SPEC.child("template", "metadata", "labels"),
                labels_value(spec.template.metadata.labels),
                "`selector` does not match template `labels`",
            )
        )
    if spec.selector is not None and spec.selector.is_empty():
        errs.append(
            FieldError.invalid(
                sel_path, selector_json(spec.selector), "empty selector is invalid for daemonset"
            )
        )
    errs.extend(pod_template_spec(spec.template, SPEC.child("template")))
    errs.extend(_restart_always(spec.template, SPEC.child("template"), "DaemonSet"))
    min_ready = _extra_int(spec, "minReadySeconds")
    if min_ready is not None:
        errs.extend(nonnegative(min_ready, SPEC.child("minReadySeconds")))
    generation = _extra_int(spec, "templateGeneration")
    if generation is not None:
        errs.extend(nonnegative(generation, SPEC.child("templateGeneration")))
    errs.extend(_daemon_set_strategy(spec.update_strategy, SPEC.child("updateStrategy")))
    history = _extra_int(spec, "revisionHistoryLimit")
    if history is not None:
        errs.extend(nonnegative(history, SPEC.child("revisionHistoryLimit")))
    return errs


# --------------------------------------------------------------------------------------------
# Job and CronJob

_LEGACY_UID_LABEL: Final = "controller-uid"
_LEGACY_NAME_LABEL: Final = "job-name"
_UID_LABEL: Final = "batch.kubernetes.io/controller-uid"
_NAME_LABEL: Final = "batch.kubernetes.io/job-name"


def _has_label(meta: ObjectMeta, path: FieldPath, key: str, expected: str) -> Errs:
    """``ValidateHasLabel``."""
    if key not in meta.labels:
        return [FieldError.required(path.child("labels").key(key), f"must be '{expected}'")]
    if meta.labels[key] != expected:
        return [
            FieldError.invalid(
                path.child("labels").key(key), dict(meta.labels), f"must be '{expected}'"
            )
        ]
    return []


def _generated_selector(job: Job) -> Errs:
    """``validateGeneratedSelector`` (prefixed labels required, as on create)."""
    spec = job.spec
    if spec.manual_selector or spec.selector is None:
        return []
    errs: Errs = []
    if not job.metadata.uid:
        errs.append(FieldError.required(METADATA.child("uid")))
    tmeta = spec.template.metadata
    tpath = SPEC.child("template", "metadata")
    uid, name = job.metadata.uid, job.metadata.name
    errs.extend(_has_label(tmeta, tpath, _LEGACY_UID_LABEL, uid))
    errs.extend(_has_label(tmeta, tpath, _LEGACY_NAME_LABEL, name))
    errs.extend(_has_label(tmeta, tpath, _UID_LABEL, uid))
    errs.extend(_has_label(tmeta, tpath, _NAME_LABEL, name))
    expected = {
        _UID_LABEL: uid,
        _NAME_LABEL: name,
        _LEGACY_UID_LABEL: uid,
        _LEGACY_NAME_LABEL: name,
    }
    converted = selector_as_selector(spec.selector)
    if converted is not None and not selector_matches(converted, expected):
        errs.append(
            FieldError.invalid(
                SPEC.child("selector"),
                selector_json(spec.selector),
                "`selector` not auto-generated",
            )
        )
    return errs


def _job_spec_common(spec: JobSpec, path: FieldPath) -> Errs:
    """``validateJobSpec`` (pod failure, success and replacement policies are not modelled)."""
    extra = spec.extra
    errs: Errs = []
    if spec.parallelism is not None:
        errs.extend(nonnegative(spec.parallelism, path.child("parallelism")))
    if spec.completions is not None:
        errs.extend(nonnegative(spec.completions, path.child("completions")))
    for key in ("activeDeadlineSeconds",):
        value = _int(extra.get(key))
        if value is not None:
            errs.extend(nonnegative(value, path.child(key)))
    if spec.backoff_limit is not None:
        errs.extend(nonnegative(spec.backoff_limit, path.child("backoffLimit")))
    ttl = _int(extra.get("ttlSecondsAfterFinished"))
    if ttl is not None:
        errs.extend(nonnegative(ttl, path.child("ttlSecondsAfterFinished")))
    per_index = _int(extra.get("backoffLimitPerIndex"))
    if per_index is not None:
        errs.extend(nonnegative(per_index, path.child("backoffLimitPerIndex")))
    max_failed = _int(extra.get("maxFailedIndexes"))
    if max_failed is not None:
        errs.extend(nonnegative(max_failed, path.child("maxFailedIndexes")))
        if per_index is None:
            errs.append(
                FieldError.required(
                    path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"
                )
            )
    managed_by = extra.get("managedBy")
    if isinstance(managed_by, str):
        errs.extend(is_domain_prefixed_path(path.child("managedBy"), managed_by))
        if len(managed_by.encode()) > 63:
            errs.append(FieldError.too_long(path.child("managedBy"), "", 63))
    mode = spec.completion_mode
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(
                FieldError.not_supported(
                    path.child("completionMode"), mode, ("NonIndexed", "Indexed")
                )
            )
        if mode == "Indexed":
            if spec.completions is None:
                errs.append(
                    FieldError.required(
                        path.child("completions"), "when completion mode is Indexed"
                    )
                )
            if spec.parallelism is not None and spec.parallelism > _MAX_PARALLELISM_INDEXED:
                errs.append(
                    FieldError.invalid(
                        path.child("parallelism"),
                        spec.parallelism,
                        f"must be less than or equal to {_MAX_PARALLELISM_INDEXED} when completion mode is Indexed",
                    )
                )
            if (
                spec.completions is not None
                and max_failed is not None
                and max_failed > spec.completions
            ):
                errs.append(
                    FieldError.invalid(
                        path.child("maxFailedIndexes"),
                        max_failed,
                        "must be less than or equal to completions",
                    )
                )
    if mode is None or mode == "NonIndexed":
        if per_index is not None:
            errs.append(
                FieldError.invalid(
                    path.child("backoffLimitPerIndex"),
                    per_index,
                    "requires indexed completion mode",
                )
            )
        if max_failed is not None:
            errs.append(
                FieldError.invalid(
                    path.child("maxFailedIndexes"), max_failed, "requires indexed completion mode"
                )
            )
    tpath = path.child("template")
    errs.extend(pod_template_spec(spec.template, tpath))
    restart = spec.template.spec.restart_policy
    rpath = tpath.child("spec", "restartPolicy")
    if restart in ("Always", ""):
        errs.append(FieldError.required(rpath, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(FieldError.not_supported(rpath, restart, ("OnFailure", "Never")))
    elif extra.get("podFailurePolicy") is not None and restart != "Never":
        errs.append(
            FieldError.invalid(
                rpath, restart, 'only "Never" is supported when podFailurePolicy is specified'
            )
        )
    return errs


def validate_job(job: Job) -> Errs:
    """``ValidateJob``."""
    spec = job.spec
    errs = object_meta(job.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    errs.extend(_generated_selector(job))
    errs.extend(_job_spec_common(spec, SPEC))
    if spec.selector is None:
        errs.append(FieldError.required(SPEC.child("selector")))
    else:
        errs.extend(label_selector(spec.selector, SPEC.child("selector")))
    converted = selector_as_selector(spec.selector)
    if converted is not None and not selector_matches(converted, spec.template.metadata.labels):
        errs.append(
            FieldError.invalid(
                SPEC.child("template", "metadata", "labels"),
                labels_value(spec.template.metadata.labels),
                "`selector` does not match template `labels`",
            )
        )
    if spec.completion_mode == "Indexed" and spec.completions is not None and spec.completions > 0:
        hostname = f"{job.metadata.name}-{spec.completions - 1}"
        if is_dns1123_label(hostname):
            errs.append(
                FieldError.invalid(
                    METADATA.child("name"),
                    job.metadata.name,
                    f"will not able to create pod with invalid DNS label: {hostname}",
                )
            )
    return errs


def validate_cron_job(cj: CronJob) -> Errs:
    """``ValidateCronJobCreate``."""
    spec = cj.spec
    extra = spec.extra
    errs = object_meta(cj.metadata, namespaced=True, name_fn=name_is_dns_subdomain)
    spath = SPEC.child("schedule")
    if not spec.schedule:
        errs.append(FieldError.required(spath))
    else:
        problem = cron_parse_error(spec.schedule)
        if problem:
            errs.append(FieldError.invalid(spath, spec.schedule, problem))
        if "TZ" in spec.schedule:
            errs.append(
                FieldError.invalid(
                    spath,
                    spec.schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    deadline = _int(extra.get("startingDeadlineSeconds"))
    if deadline is not None:
        errs.extend(nonnegative(deadline, SPEC.child("startingDeadlineSeconds")))
    errs.extend(_time_zone(spec.time_zone, SPEC.child("timeZone")))
    policies = ("Allow", "Forbid", "Replace")
    if not spec.concurrency_policy:
        errs.append(FieldError.required(SPEC.child("concurrencyPolicy")))
    elif spec.concurrency_policy not in policies:
        errs.append(
            FieldError.not_supported(
                SPEC.child("concurrencyPolicy"), spec.concurrency_policy, policies
            )
        )
    jpath = SPEC.child("jobTemplate")
    job_spec = spec.job_template.spec
    errs.extend(_job_spec_common(job_spec, jpath.child("spec")))
    if job_spec.selector is not None:
        errs.append(
            FieldError.invalid(
                jpath.child("spec", "selector"),
                selector_json(job_spec.selector),
                "`selector` will be auto-generated",
            )
        )
    if job_spec.manual_selector:
        errs.append(
            FieldError.not_supported(jpath.child("spec", "manualSelector"), True, ("nil", "false"))
        )
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        value = _int(extra.get(key))
        if value is not None:
            errs.extend(nonnegative(value, SPEC.child(key)))
    if len(cj.metadata.name) > 52:
        errs.append(
            FieldError.invalid(
                METADATA.child("name"), cj.metadata.name, "must be no more than 52 characters"
            )
        )
    return errs


_TZ_PART_RE: Final = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


@functools.cache
def _have_tz_database() -> bool:
    # kube-apiserver embeds Go's tz database (time/tzdata); without one here, podnet cannot
    # tell a real zone from a made-up one and accepts the name rather than reject every zone.
    return bool(zoneinfo.available_timezones())


def _load_location_error(name: str) -> str | None:
    """Go's ``time.LoadLocation`` failure for ``name``, if any."""
    if name in ("", "UTC", "Local") or not _have_tz_database():
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name}"
    return None


def _time_zone(tz: str | None, path: FieldPath) -> Errs:
    """``validateTimeZone``."""
    if tz is None:
        return []
    if not tz:
        return [FieldError.invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART_RE.fullmatch(part):
            return [FieldError.invalid(path, tz, f"unknown time zone {tz}")]
    errs: Errs = []
    if tz.lower() == "local":
        errs.append(
            FieldError.invalid(
                path,
                tz,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        )
    problem = _load_location_error(tz)
    if problem:
        errs.append(FieldError.invalid(path, tz, problem))
    return errs


# --------------------------------------------------------------------------------------------
# robfig/cron/v3 ParseStandard, for its error texts


def _atoi(expr: str) -> tuple[int | None, str | None]:
    """``strconv.Atoi``: the value, or robfig's "failed to parse int" message."""
    if re.fullmatch(r"[+-]?[0-9]+", expr):
        value = int(expr)
        if -(2**63) <= value < 2**63:
            return value, None
        reason = "value out of range"
    else:
        reason = "invalid syntax"
    return (
        None,
        f"failed to parse int from {expr}: strconv.Atoi: parsing {go_quote(expr)}: {reason}",
    )


def _must_parse_int(expr: str) -> tuple[int | None, str | None]:
    value, err = _atoi(expr)
    if err is not None or value is None:
        return None, err
    if value < 0:
        return None, f"negative number ({value}) not allowed: {expr}"
    return value, None


_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DOWS: Final = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_BOUNDS: Final[tuple[tuple[int, int, Mapping[str, int] | None], ...]] = (
    (0, 59, None),  # minutes
    (0, 23, None),  # hours
    (1, 31, None),  # day of month
    (1, 12, _MONTHS),
    (0, 6, _DOWS),
)


def _range_error(expr: str, lo: int, hi: int, names: Mapping[str, int] | None) -> str | None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:

        def int_or_name(text: str) -> tuple[int | None, str | None]:
            if names is not None and text.lower() in names:
                return names[text.lower()], None
            return _must_parse_int(text)

        start_v, err = int_or_name(low_high[0])
        if err is not None or start_v is None:
            return err
        start = end = start_v
        if len(low_high) == 2:
            end_v, err = int_or_name(low_high[1])
            if err is not None or end_v is None:
                return err
            end = end_v
        elif len(low_high) > 2:
            return f"too many hyphens: {expr}"
    step = 1
    if len(range_and_step) == 2:
        step_v, err = _must_parse_int(range_and_step[1])
        if err is not None or step_v is None:
            return err
        step = step_v
        if single:
            end = hi
    elif len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    if start < lo:
        return f"beginning of range ({start}) below minimum ({lo}): {expr}"
    if end > hi:
        return f"end of range ({end}) above maximum ({hi}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return None


_DURATION_UNITS: Final = frozenset({"ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h"})


def _time_quote(s: str) -> str:
    """Go's ``time`` package ``quote``: non-ASCII and control bytes as ``\\xNN``."""
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ord(ch) < 0x20:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            if ch in ('"', "\\"):
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def _parse_duration_error(orig: str) -> str | None:
    """Go's ``time.ParseDuration`` error text, or None when it parses."""
    s = orig
    invalid = f"time: invalid duration {_time_quote(orig)}"
    if s and s[0] in "+-":
        s = s[1:]
    if s == "0":
        return None
    if not s:
        return invalid
    while s:
        if not (s[0] == "." or s[0].isdigit() and s[0].isascii()):
            return invalid
        m = re.match(r"[0-9]*", s)
        assert m is not None
        pre = bool(m.group())
        s = s[m.end() :]
        post = False
        if s.startswith("."):
            s = s[1:]
            m = re.match(r"[0-9]*", s)
            assert m is not None
            post = bool(m.group())
            s = s[m.end() :]
        if not pre and not post:
            return invalid
        i = 0
        while i < len(s) and not (s[i] == "." or ("0" <= s[i] <= "9")):
            i += 1
        if i == 0:
            return f"time: missing unit in duration {_time_quote(orig)}"
        unit, s = s[:i], s[i:]
        if unit not in _DURATION_UNITS:
            return f"time: unknown unit {_time_quote(unit)} in duration {_time_quote(orig)}"
    return None


def cron_parse_error(schedule: str) -> str | None:
    """robfig/cron/v3 ``ParseStandard(schedule)``'s error text, or None when it parses."""
    spec = schedule
    if not spec:
        return "empty spec string"
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        space = spec.find(" ")
        eq = spec.find("=")
        location = spec[eq + 1 : space] if space >= 0 else spec[eq + 1 :]
        problem = _load_location_error(location)
        if problem:
            return f"provided bad location {location}: {problem}"
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        if spec in (
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ):
            return None
        if spec.startswith("@every "):
            problem = _parse_duration_error(spec[len("@every ") :])
            return f"failed to parse duration {spec}: {problem}" if problem else None
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for field_text, (lo, hi, names) in zip(fields, _BOUNDS, strict=True):
        for expr in (part for part in field_text.split(",") if part):
            problem = _range_error(expr, lo, hi, names)
            if problem:
                return problem
    return None


__all__ = [
    "cron_parse_error",
    "validate_cron_job",
    "validate_daemon_set",
    "validate_deployment",
    "validate_job",
    "validate_replica_set",
    "validate_stateful_set",
]
