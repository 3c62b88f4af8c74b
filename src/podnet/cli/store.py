"""Stored clusters: ``$PODNET_HOME/<cluster>/state.json`` (``~/.podnet`` by default).

Theory of operation
-------------------
One folder per cluster. ``state.json`` holds the cluster config and every object of the cluster
as the controllers completed it (pods with their IPs, Services with their ClusterIPs…), a flag on
the objects the user applied, and for those the object exactly as applied (defaulted, before any
controller touched it — kubectl's "last applied configuration"). Reading a cluster back needs no
controller: the stored objects already carry what was computed. Applying again reconciles the
last-applied objects with the stored state as ``previous``, so what exists keeps its identity.

Writes are atomic: the new state goes to a temporary file in the same folder, is flushed and
fsynced, then ``os.replace``\\ d over the old one, and the folder is fsynced; a crash leaves either
the old state or the new, never half of one. Writers hold ``fcntl.flock`` on the folder's lock
file for their whole read-modify-write, so two commands never interleave; readers need no lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podnet.api.meta import ObjectRef, Resource
from podnet.api.scheme import decode_object
from podnet.cluster.config import ClusterConfig, ConfigError, parse_config
from podnet.cluster.state import ClusterState

STATE_FILE = "state.json"
LOCK_FILE = ".lock"
FORMAT = "podnet.io/state-v1"
DEFAULT_CLUSTER = "default"
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


class StoreError(Exception):
    """The store cannot be read or written; the message is for the user as it stands."""


def home() -> Path:
    """``$PODNET_HOME``, or ``~/.podnet``."""
    env = os.environ.get("PODNET_HOME")
    return Path(env).expanduser() if env else Path.home() / ".podnet"


def check_name(cluster: str) -> str:
    if not _NAME.match(cluster) or cluster in (".", ".."):
        raise StoreError(
            f'error: invalid cluster name "{cluster}": use letters, digits, ".", "-" and "_" '
            "(at most 63 characters, starting and ending with a letter or digit)"
        )
    return cluster


def cluster_dir(cluster: str) -> Path:
    return home() / check_name(cluster)


def state_path(cluster: str) -> Path:
    return cluster_dir(cluster) / STATE_FILE


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored cluster: its state, and the user's objects as they applied them."""

    cluster: str
    state: ClusterState
    last_applied: Mapping[ObjectRef, Resource] = field(default_factory=dict)

    @property
    def applied_objects(self) -> list[Resource]:
        return [self.last_applied[r] for r in sorted(self.last_applied)]


def encode(
    state: ClusterState, cluster: str, last_applied: Mapping[ObjectRef, Resource] | None = None
) -> dict[str, Any]:
    """The persisted form (:meth:`ClusterState.to_dict` plus the last-applied objects)."""
    last = last_applied or {}
    objects: list[dict[str, Any]] = []
    for obj in state:
        entry: dict[str, Any] = {"applied": obj.ref in state.applied, "object": obj.to_dict()}
        given = last.get(obj.ref)
        if entry["applied"] and given is not None:
            entry["lastApplied"] = given.to_dict()
        objects.append(entry)
    return {
        "format": FORMAT,
        "cluster": cluster,
        "config": state.config.to_dict(),
        "objects": objects,
    }


def decode_config(data: Mapping[str, Any]) -> ClusterConfig:
    """A stored config back (the node list may be empty when Node objects define the nodes)."""
    doc = dict(data)
    nodes = doc.get("nodes")
    if nodes == []:
        del doc["nodes"]
    config = parse_config(doc, ClusterConfig())
    return config


def decode(data: Mapping[str, Any], cluster: str = DEFAULT_CLUSTER) -> Stored:
    """Rebuild a :class:`Stored` from its persisted form; raises StoreError when malformed."""
    if not isinstance(data, Mapping) or not isinstance(data.get("objects"), list):
        raise StoreError(f"error: the state of cluster \"{cluster}\" is not podnet state")
    try:
        config = decode_config(data.get("config") or {})
    except ConfigError as e:
        raise StoreError(f'error: the stored config of cluster "{cluster}" is invalid: {e}') from e
    objects: dict[ObjectRef, Resource] = {}
    applied: set[ObjectRef] = set()
    last: dict[ObjectRef, Resource] = {}
    try:
        for entry in data["objects"]:
            obj = decode_object(entry["object"])
            objects[obj.ref] = obj
            if entry.get("applied"):
                applied.add(obj.ref)
                given = entry.get("lastApplied")
                last[obj.ref] = decode_object(given) if given else obj
    except (KeyError, TypeError, ValueError) as e:
        raise StoreError(f'error: the state of cluster "{cluster}" is damaged: {e}') from e
    state = ClusterState(config=config, objects=objects, applied=frozenset(applied))
    return Stored(str(data.get("cluster") or cluster), state, last)


# ------------------------------------------------------------------------------------ files


def load_stored(cluster: str = DEFAULT_CLUSTER) -> Stored | None:
    """The stored cluster, or None when there is none."""
    path = state_path(cluster)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StoreError(f"error: cannot read {path}: {e.strerror or e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StoreError(f"error: {path} is not valid JSON ({e}); delete it to start over") from e
    return decode(data, cluster)


def load(cluster: str = DEFAULT_CLUSTER) -> ClusterState | None:
    stored = load_stored(cluster)
    return stored.state if stored is not None else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: temp file in the same folder, fsync, rename, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def save(
    state: ClusterState,
    cluster: str | None = None,
    last_applied: Mapping[ObjectRef, Resource] | None = None,
) -> Path:
    """Store ``state`` as cluster ``cluster`` (default: the config's name), atomically."""
    name = check_name(cluster or state.config.name or DEFAULT_CLUSTER)
    path = state_path(name)
    text = json.dumps(encode(state, name, last_applied), separators=(",", ":"), ensure_ascii=False)
    try:
        write_atomic(path, text + "\n")
    except OSError as e:
        raise StoreError(f"error: cannot write {path}: {e.strerror or e}") from e
    return path


def delete(cluster: str = DEFAULT_CLUSTER) -> bool:
    """Remove a stored cluster; False when there was none."""
    d = cluster_dir(cluster)
    if not (d / STATE_FILE).exists():
        return False
    with lock(cluster):
        (d / STATE_FILE).unlink(missing_ok=True)
    shutil.rmtree(d, ignore_errors=True)
    return True


def list_clusters() -> list[str]:
    root = home()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / STATE_FILE).is_file())


@contextlib.contextmanager
def lock(cluster: str = DEFAULT_CLUSTER) -> Iterator[None]:
    """Hold the cluster's exclusive lock (blocking) for a read-modify-write."""
    d = cluster_dir(cluster)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StoreError(f"error: cannot lock cluster \"{cluster}\" in {d}: {e.strerror or e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ------------------------------------------------------------------------------------ timestamps


def stamp(state: ClusterState, previous: ClusterState | None, now: str | None = None) -> ClusterState:
    """Give every object a creationTimestamp: the one it had before, or ``now`` when new.

    What a user's manifest carries is kept (a snapshot of a live cluster has its own).
    """
    when = now or now_rfc3339()
    objects: dict[ObjectRef, Resource] = {}
    changed = False
    for ref, obj in state.objects.items():
        if obj.metadata.creation_timestamp is None:
            before = previous.objects.get(ref) if previous is not None else None
            ts = before.metadata.creation_timestamp if before is not None else None
            obj = obj.with_meta(creation_timestamp=ts or when)
            changed = True
        objects[ref] = obj
    if not changed:
        return state
    return ClusterState(config=state.config, objects=objects, applied=state.applied)
