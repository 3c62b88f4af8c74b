"""Reading manifests: multi-document YAML and JSON from files, folders and stdin.

Parsing is separated from reading so that the parse — the part with Kubernetes semantics — is a
pure function of text. Every object keeps its :class:`Source` (file, document, line) so that an
error, a lint finding or a check failure can point a person at the right place.

YAML is read as Kubernetes reads it (YAML 1.1 via sigs.k8s.io/yaml) except that timestamps stay
strings: the API carries them as RFC 3339 strings, and PyYAML would otherwise turn
``creationTimestamp`` into a ``datetime``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from podnet.api.codec import DecodeError
from podnet.api.meta import Resource
from podnet.api.scheme import decode_object

try:  # the C parser is ten times faster; fall back where libyaml is missing
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader


class _KubeLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader without the timestamp resolver."""


_KubeLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
#: apiVersion group of podnet's own documents (Cluster, ConnectivityCheck…).
PODNET_GROUP = "podnet.io"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a document came from: ``path`` (``-`` for stdin), 1-based document and line."""

    path: str
    document: int
    line: int = 1

    def __str__(self) -> str:
        return f"{self.path} (document {self.document})"


@dataclass(frozen=True, slots=True)
class Loaded:
    """A decoded Kubernetes object and where it came from."""

    obj: Resource
    source: Source


@dataclass(frozen=True, slots=True)
class PodnetDocument:
    """A document of podnet's own API group (``podnet.io/…``), handed over undecoded."""

    data: Mapping[str, Any]
    source: Source

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))


@dataclass(slots=True)
class LoadResult:
    """Everything read from a set of inputs, and every error met on the way."""

    objects: list[Loaded] = field(default_factory=list)
    podnet_documents: list[PodnetDocument] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.objects.extend(other.objects)
        self.podnet_documents.extend(other.podnet_documents)
        self.errors.extend(other.errors)


class ManifestError(Exception):
    """One or more inputs are invalid; ``errors`` holds every message, each naming its source."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(self.errors))


def _yaml_documents(text: str, path: str) -> Iterator[tuple[int, Any]]:
    """(line, data) for each document; raises yaml.YAMLError with its mark."""
    loader = _KubeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 1
            yield line, loader.construct_document(node)
    finally:
        loader.dispose()


def _describe_yaml_error(err: yaml.YAMLError, path: str) -> str:
    """kubectl's wording (``error converting YAML to JSON: yaml: line N: …``) plus the column."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"error: error parsing {path}: error converting YAML to JSON: yaml: {where}{problem.strip()}"


def parse_text(text: str, path: str) -> LoadResult:
    """Parse one input's text: YAML (possibly multi-document) or JSON."""
    result = LoadResult()
    raw_docs: list[tuple[int, Any]] = []
    stripped = text.lstrip()
    if path.endswith(".json") or (stripped.startswith("{") and path == "-"):
        try:
            raw_docs.append((1, json.loads(text)))
        except json.JSONDecodeError as e:
            result.errors.append(
                f"error: error parsing {path}: invalid JSON: line {e.lineno}, column {e.colno}: {e.msg}"
            )
            return result
    else:
        try:
            raw_docs = list(_yaml_documents(text, path))
        except yaml.YAMLError as e:
            result.errors.append(_describe_yaml_error(e, path))
            return result
    index = 0
    for line, data in raw_docs:
        index += 1
        if data is None:  # an empty document (``---`` with nothing after it)
            continue
        _add_document(data, Source(path, index, line), result)
    return result


def _add_document(data: Any, source: Source, result: LoadResult) -> None:
    if not isinstance(data, dict):
        result.errors.append(
            f"error: {source}: error validating data: expected an object, got "
            f"{type(data).__name__}"
        )
        return
    missing = [f"{k} not set" for k in ("apiVersion", "kind") if not data.get(k)]
    if missing:
        result.errors.append(f"error: {source}: error validating data: [{', '.join(missing)}]")
        return
    api_version, kind = data["apiVersion"], data["kind"]
    if not isinstance(api_version, str) or not isinstance(kind, str):
        result.errors.append(f"error: {source}: error validating data: apiVersion and kind must be strings")
        return
    if kind == "List" or (kind.endswith("List") and isinstance(data.get("items"), list)):
        for item in data.get("items") or []:
            _add_document(item, source, result)
        return
    if api_version.split("/")[0] == PODNET_GROUP:
        result.podnet_documents.append(PodnetDocument(data, source))
        return
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        result.errors.append(
            f"error: {source}: {kind} in version \"{api_version.rpartition('/')[2]}\" cannot be "
            f"handled as a {kind}: json: cannot unmarshal {type(metadata).__name__} into Go "
            f"struct field {kind}.metadata of type v1.ObjectMeta"
        )
        return
    try:
        obj = decode_object(data)
    except DecodeError as e:
        version = api_version.rpartition("/")[2]
        result.errors.append(
            f"error: {source}: {kind} in version \"{version}\" cannot be handled as a {kind}: {e}"
        )
        return
    result.objects.append(Loaded(obj, source))


def iter_manifest_files(path: Path) -> Iterator[Path]:
    """Files of a folder, recursively, in a stable order (kubectl -R walks it the same way)."""
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(MANIFEST_SUFFIXES):
                yield Path(root) / name


def read_paths(paths: Iterable[str], stdin_text: str | None = None) -> LoadResult:
    """Read ``-f`` arguments: files, folders (recursive) and ``-`` (the given stdin text)."""
    result = LoadResult()
    for arg in paths:
        if arg == "-":
            result.extend(parse_text(stdin_text or "", "-"))
            continue
        p = Path(arg)
        if p.is_dir():
            files = list(iter_manifest_files(p))
            if not files:
                result.errors.append(f"error: no objects passed to apply: {arg} holds no manifests")
            for f in files:
                result.extend(_read_file(f))
        elif p.exists():
            result.extend(_read_file(p))
        else:
            result.errors.append(f'error: the path "{arg}" does not exist')
    return result


def _read_file(path: Path) -> LoadResult:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        r = LoadResult()
        r.errors.append(f"error: cannot read {path}: {e}")
        return r
    return parse_text(text, str(path))


def dump_yaml(data: Any) -> str:
    """YAML as kubectl writes it: block style, keys in the given order."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(
        yaml.dump(data, Dumper=dumper, default_flow_style=False, sort_keys=False, allow_unicode=True)
    )
