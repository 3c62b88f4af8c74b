"""Validation as the API server validates, with its messages.

:func:`validate` takes one API-defaulted object and returns one complete message per field
error, in kubectl's phrasing with the bare kind::

    The Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive

so that every error stands on its own line (admission prefixes each with the file and document).
Errors come in upstream's order; messages that are identical are reported once, as kubectl does.

What runs for each kind reproduces kubernetes/kubernetes (behaviour and wording, not code):

* core/v1 — ``pkg/apis/core/validation/validation.go``: see :mod:`podnet.api.validation_pod`
  (Pod) and :mod:`podnet.api.validation_core` (Service, Namespace, Node, Secret, ConfigMap,
  ReplicationController);
* apps/v1 and batch/v1 — ``pkg/apis/apps/validation``, ``pkg/apis/batch/validation``: see
  :mod:`podnet.api.validation_apps`;
* networking.k8s.io/v1 and discovery.k8s.io/v1 — ``pkg/apis/networking/validation``,
  ``pkg/apis/discovery/validation``: see :mod:`podnet.api.validation_net`;
* object metadata and label selectors — k8s.io/apimachinery: see
  :mod:`podnet.api.validation_common` and :mod:`podnet.api.names`.

A few failures happen before validation in a real API server and are reported as it reports
them: a Secret's ``data`` or a ConfigMap's ``binaryData`` that is not base64 fails in the
decoder (``Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input
byte 4``), and a Service whose clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy are wrong is
refused by the IP allocator's pre-check with those errors alone. Checks that need the rest of
the cluster — a clusterIP inside the service CIDR or already allocated, nodePort range and
collisions — belong to allocation in ``cluster/``. Kinds podnet does not model are not
validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from podnet.api.core import ConfigMap, Namespace, Node, Pod, ReplicationController, Secret, Service
from podnet.api.discovery import EndpointSlice
from podnet.api.errors import FieldError, InvalidObjectError
from podnet.api.meta import Resource
from podnet.api.networking import Ingress, IngressClass, NetworkPolicy
from podnet.api.validation_apps import (
    validate_cron_job,
    validate_daemon_set,
    validate_deployment,
    validate_job,
    validate_replica_set,
    validate_stateful_set,
)
from podnet.api.validation_common import effective_name
from podnet.api.validation_core import (
    base64_decode_error,
    validate_config_map,
    validate_namespace,
    validate_node,
    validate_replication_controller,
    validate_secret,
    validate_service,
)
from podnet.api.validation_net import (
    validate_endpoint_slice,
    validate_ingress,
    validate_ingress_class,
    validate_network_policy,
)
from podnet.api.validation_pod import validate_pod
from podnet.api.workloads import CronJob, DaemonSet, Deployment, Job, ReplicaSet, StatefulSet

if TYPE_CHECKING:
    from podnet.cluster.config import ClusterConfig

__all__ = ["decode_error", "field_errors", "validate"]

_Validator = Callable[[Resource], list[FieldError]]

_VALIDATORS: Final[dict[type[Resource], _Validator]] = {
    Pod: validate_pod,  # type: ignore[dict-item]
    Service: validate_service,  # type: ignore[dict-item]
    Namespace: validate_namespace,  # type: ignore[dict-item]
    Node: validate_node,  # type: ignore[dict-item]
    Secret: validate_secret,  # type: ignore[dict-item]
    ConfigMap: validate_config_map,  # type: ignore[dict-item]
    ReplicationController: validate_replication_controller,  # type: ignore[dict-item]
    Deployment: validate_deployment,  # type: ignore[dict-item]
    ReplicaSet: validate_replica_set,  # type: ignore[dict-item]
    StatefulSet: validate_stateful_set,  # type: ignore[dict-item]
    DaemonSet: validate_daemon_set,  # type: ignore[dict-item]
    Job: validate_job,  # type: ignore[dict-item]
    CronJob: validate_cron_job,  # type: ignore[dict-item]
    Ingress: validate_ingress,  # type: ignore[dict-item]
    IngressClass: validate_ingress_class,  # type: ignore[dict-item]
    NetworkPolicy: validate_network_policy,  # type: ignore[dict-item]
    EndpointSlice: validate_endpoint_slice,  # type: ignore[dict-item]
}


def field_errors(obj: Resource) -> list[FieldError]:
    """Every field error of ``obj`` in upstream's order (empty for kinds podnet does not model)."""
    validator = _VALIDATORS.get(type(obj))
    return validator(obj) if validator is not None else []


def decode_error(obj: Resource) -> str | None:
    """The API server's decoder failure for ``obj`` (undecodable base64), if any."""
    if isinstance(obj, Secret):
        return base64_decode_error("Secret", obj.data)
    if isinstance(obj, ConfigMap):
        return base64_decode_error("ConfigMap", obj.binary_data)
    return None


def validate(obj: Resource, config: ClusterConfig | None = None) -> list[str]:
    """Complete messages (``The Service "web" is invalid: …``), one per error; empty when valid.

    ``config`` is accepted for the admission interface; nothing in API validation depends on
    the cluster (allocation checks live in ``cluster/``).
    """
    del config
    problem = decode_error(obj)
    if problem is not None:
        return [problem]
    messages: list[str] = []
    seen: set[str] = set()
    name = effective_name(obj.metadata)
    for err in field_errors(obj):
        message = InvalidObjectError(obj.kind, name, [err]).kubectl_message()
        if message not in seen:
            seen.add(message)
            messages.append(message)
    return messages
