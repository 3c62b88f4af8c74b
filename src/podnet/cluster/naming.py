"""Object names the way Kubernetes controllers and the API server make them.

Names are part of what users see (``kubectl get pods``), so podnet reproduces their *shape*
exactly: ``web-7d4b9c8f5d-x2k9p`` for a Deployment's pod, ``db-0`` for a StatefulSet's,
``hello-28948930`` for a CronJob's Job. Where upstream uses randomness (``generateName``) podnet
derives the "random" characters from a seed, so the same cluster description always yields the
same names.

Upstream references (behaviour reproduced, code not copied):

* ``k8s.io/apimachinery/pkg/util/rand`` -- the vowel-free alphabet, ``String`` and
  ``SafeEncodeString``;
* ``k8s.io/apiserver/pkg/storage/names`` -- ``generateName``: base truncated to 58 characters
  (63 minus the 5 random ones);
* ``pkg/controller/controller_utils.go`` -- ``ComputeHash`` (FNV-1a 32 + collision count) and the
  ``<controller>-`` pod name prefix;
* the Deployment, StatefulSet, Job and CronJob controllers for their naming rules.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Final

__all__ = [
    "ALPHANUMS",
    "MAX_GENERATED_NAME_LENGTH",
    "MAX_NAME_LENGTH",
    "RANDOM_LENGTH",
    "controller_pod_prefix",
    "cronjob_job_name",
    "daemonset_pod_name",
    "deployment_pod_name",
    "fnv1a_32",
    "generate_name",
    "job_pod_name",
    "pod_template_hash",
    "random_suffix",
    "replicaset_name",
    "safe_encode",
    "statefulset_pod_name",
]

ALPHANUMS: Final = "bcdfghjklmnpqrstvwxz2456789"
"""apimachinery's alphabet: no vowels (and no 0, 1, 3), so random names never spell words."""

MAX_NAME_LENGTH: Final = 63
RANDOM_LENGTH: Final = 5
MAX_GENERATED_NAME_LENGTH: Final = MAX_NAME_LENGTH - RANDOM_LENGTH
"""``names.MaxGeneratedNameLength``: how much of a ``generateName`` base survives (58)."""

_FNV32_OFFSET: Final = 0x811C9DC5
_FNV32_PRIME: Final = 0x01000193

# rand.String takes 5 bits per character from 63-bit random numbers and rejects indexes >= 27.
_IDX_BITS: Final = 5
_IDX_MASK: Final = (1 << _IDX_BITS) - 1
_CHARS_PER_INT63: Final = 63 // _IDX_BITS

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_SUBDOMAIN_MAX: Final = 253


def safe_encode(s: str) -> str:
    """apimachinery's ``rand.SafeEncodeString``: each character mapped to ``ALPHANUMS[ord % 27]``.

    Used on decimal hashes so that they "appear consistent throughout the API": digits map onto
    ten letters/digits of the alphabet (``'0'`` -> ``'4'`` ... ``'9'`` -> ``'f'``), which is why every
    ``pod-template-hash`` only ever contains ``4-9`` and ``b c d f``.

    One output character per input character (code point). Released apimachinery versions sized
    the output by UTF-8 *bytes*, padding non-ASCII input with NUL characters; upstream's current
    test asserts one character per rune, which is what this does. For ASCII -- the only input
    Kubernetes itself ever passes -- both agree.
    """
    return "".join(ALPHANUMS[ord(ch) % len(ALPHANUMS)] for ch in s)


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash (Go's ``hash/fnv.New32a``)."""
    h = _FNV32_OFFSET
    for byte in data:
        h ^= byte
        h = (h * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def _json_default(value: object) -> object:
    """Serialise the non-JSON scalars YAML can produce (timestamps) deterministically."""
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    raise TypeError(
        f"pod template contains a {type(value).__name__} ({value!r}), which has no canonical "
        "JSON form"
    )


def pod_template_hash(template: Mapping[str, object], collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` label value for a Deployment's pod template.

    Upstream (``controller.ComputeHash``) feeds FNV-1a 32 with a deep print of the Go
    ``PodTemplateSpec`` struct (every field, defaulted values included), then, if
    ``status.collisionCount`` is set, the count as a little-endian uint32 padded to 8 bytes, and
    finally ``SafeEncodeString``s the decimal value of the hash. The Go struct print cannot be
    reproduced from a YAML manifest, so podnet hashes the canonical JSON of the template (sorted
    keys, no whitespace, UTF-8) instead: the *value* differs from what a real cluster would show
    for the same manifest, but its shape (1-10 characters of ``4-9bcdf``), its stability, and its
    sensitivity to every field and to the collision count are the same.
    """
    canonical = json.dumps(
        template,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    ).encode("utf-8")
    data = canonical
    if collision_count is not None:
        # Go: make([]byte, 8) then PutUint32 into the first four; all eight are hashed.
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv1a_32(data)))


def random_suffix(seed: str, n: int = RANDOM_LENGTH) -> str:
    """``n`` characters shaped like apimachinery's ``rand.String(n)``, derived from ``seed``.

    The algorithm is upstream's -- take 63-bit numbers, peel off 5 bits at a time, keep the
    index when it is below 27 -- but the 63-bit numbers come from SHA-256 of
    ``seed``/counter rather than a clock-seeded generator, so a seed always gives the same
    suffix on every machine.
    """
    if n < 0:
        raise ValueError(f"suffix length must not be negative, got {n}")
    out: list[str] = []
    counter = 0
    while len(out) < n:
        digest = hashlib.sha256(f"{seed}\x00{counter}".encode()).digest()
        counter += 1
        for chunk in range(0, len(digest), 8):
            value = int.from_bytes(digest[chunk : chunk + 8], "big") >> 1  # 63 bits
            for _ in range(_CHARS_PER_INT63):
                index = value & _IDX_MASK
                value >>= _IDX_BITS
                if index < len(ALPHANUMS):
                    out.append(ALPHANUMS[index])
                    if len(out) == n:
                        return "".join(out)
    return "".join(out)


def generate_name(base: str, seed: str) -> str:
    """The name the API server gives an object created with ``metadata.generateName: base``.

    The base is cut to 58 characters so that the name, with its 5 "random" characters, fits
    the 63-character limit; a longer base simply loses its tail (which can leave a trailing
    ``-`` cut off, exactly as upstream). The suffix is derived from both ``base`` and ``seed``,
    so two different controllers using the same seed still get different suffixes.
    """
    truncated = base[:MAX_GENERATED_NAME_LENGTH]
    return truncated + random_suffix(f"{base}/{seed}", RANDOM_LENGTH)


def _is_dns1123_subdomain_prefix(prefix: str) -> bool:
    """apimachinery's ``NameIsDNSSubdomain(prefix, true)``: a trailing ``-`` is allowed."""
    name = prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
    return len(name) <= _DNS1123_SUBDOMAIN_MAX and _DNS1123_SUBDOMAIN.fullmatch(name) is not None


def controller_pod_prefix(controller_name: str) -> str:
    """The ``generateName`` a controller gives its pods: ``<name>-``.

    Upstream drops the dash when ``<name>-`` would not be a valid name prefix (only possible for
    names at the 253-character limit).
    """
    prefix = f"{controller_name}-"
    if not _is_dns1123_subdomain_prefix(prefix):
        return controller_name
    return prefix


def replicaset_name(deploy_name: str, template_hash: str) -> str:
    """A Deployment's ReplicaSet: ``<deployment>-<pod-template-hash>`` (deterministic upstream)."""
    return f"{deploy_name}-{template_hash}"


def deployment_pod_name(deploy_name: str, template_hash: str, ordinal_seed: str | int) -> str:
    """A Deployment pod: ``<deployment>-<hash>-<5 chars>`` (the ReplicaSet's generateName).

    ``ordinal_seed`` distinguishes the ReplicaSet's pods (e.g. the replica number); the same
    seed always names the same pod.
    """
    rs_name = replicaset_name(deploy_name, template_hash)
    return generate_name(controller_pod_prefix(rs_name), str(ordinal_seed))


def statefulset_pod_name(set_name: str, ordinal: int) -> str:
    """A StatefulSet pod: ``<statefulset>-<ordinal>``, stable across restarts by design."""
    if ordinal < 0:
        raise ValueError(f"StatefulSet ordinal must not be negative, got {ordinal}")
    return f"{set_name}-{ordinal}"


def daemonset_pod_name(ds_name: str, seed: str | int) -> str:
    """A DaemonSet pod: ``<daemonset>-<5 chars>`` (``seed`` is usually the node name)."""
    return generate_name(controller_pod_prefix(ds_name), str(seed))


def job_pod_name(job_name: str, seed: str | int, completion_index: int | None = None) -> str:
    """A Job pod: ``<job>-<5 chars>``, or ``<job>-<index>-<5 chars>`` for Indexed Jobs.

    For Indexed Jobs upstream keeps the ``-<index>-`` part intact and shortens the job name so
    the prefix fits in 58 characters.
    """
    if completion_index is None:
        return generate_name(controller_pod_prefix(job_name), str(seed))
    if completion_index < 0:
        raise ValueError(f"completion index must not be negative, got {completion_index}")
    append_index = f"-{completion_index}-"
    prefix = job_name + append_index
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[: MAX_GENERATED_NAME_LENGTH - len(append_index)] + append_index
    return generate_name(prefix, str(seed))


def _unix_seconds(scheduled_time: _dt.datetime | int) -> int:
    """Go's ``time.Unix()``: whole seconds since the epoch, rounded towards minus infinity."""
    if isinstance(scheduled_time, _dt.datetime):
        if scheduled_time.tzinfo is None or scheduled_time.utcoffset() is None:
            # A naive datetime would be read in the machine's local time zone, and the name
            # would change from one machine to the next.
            raise ValueError(
                f"scheduled time {scheduled_time.isoformat()} has no time zone; "
                "pass an aware datetime (e.g. tzinfo=datetime.timezone.utc) or epoch seconds"
            )
        delta = scheduled_time - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return delta.days * 86400 + delta.seconds
    return int(scheduled_time)


def cronjob_job_name(cronjob_name: str, scheduled_time: _dt.datetime | int) -> str:
    """A CronJob's Job: ``<cronjob>-<minutes since the epoch of the scheduled time>``.

    Deterministic upstream too: a controller that restarts mid-schedule recreates the same
    name and gets "already exists" instead of a duplicate run. ``scheduled_time`` is an aware
    datetime or epoch seconds. (Validation caps CronJob names at 52 characters so this stays
    within 63.)
    """
    seconds = _unix_seconds(scheduled_time)
    # Go's integer division truncates towards zero (matters only before 1970).
    minutes = seconds // 60 if seconds >= 0 else -((-seconds) // 60)
    return f"{cronjob_name}-{minutes}"
