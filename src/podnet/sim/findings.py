"""Findings: what ``podnet lint`` reports, one type for every rule (the sim's and the plugins').

A :class:`Finding` is a frozen value: the rule that found it, its severity, the object and the
field path in it (``spec.ports[0].targetPort``, as the manifest spells it), what happens at
runtime, and the fix. Where the object was read from a file, ``file`` and ``line`` point at the
field (or its nearest written ancestor) — :mod:`podnet.sim.locate` fills them in.

A :class:`Rule` describes a rule once (id, default severity, a one-line summary and the longer
help text SARIF shows); :data:`RULES` is the catalogue every rule module registers into, so that
``podnet lint --list-rules`` and SARIF's ``tool.driver.rules`` list exactly what can fire.

``from_any`` adopts findings of another layer (``podnet.plugins.lint``) when they are shaped the
same (attributes ``rule``, ``severity``, ``object``, ``field``, ``message``, ``fix``): the plugin
layer must not import the sim layer, so the two agree on the shape rather than on the class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from podnet.api.meta import Resource

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
#: Higher is worse: ``--fail-on warning`` fails on warnings and errors.
RANK: Mapping[str, int] = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True, slots=True, order=True)
class ObjectId:
    """The object a finding is about: ``{kind, namespace, name}`` (namespace "" when cluster-scoped)."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Resource) -> ObjectId:
        return cls(obj.kind, obj.metadata.namespace, obj.metadata.name)

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, slots=True)
class Finding:
    """One misconfiguration (see the module doc)."""

    rule: str
    severity: Severity
    object: ObjectId
    field: str
    message: str
    fix: str
    file: str | None = None
    line: int | None = None

    def at(self, file: str | None, line: int | None) -> Finding:
        return dataclasses.replace(self, file=file, line=line)

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.file or "~", self.line or 0, -RANK[self.severity], self.rule, self.object, self.field)

    def to_dict(self) -> dict[str, Any]:
        """The ``lint -o json`` shape of one finding."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "object": self.object.to_dict(),
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class Rule:
    """A lint rule: its id, default severity, one-line summary and help (why it matters)."""

    id: str
    severity: Severity
    summary: str
    help: str
    #: Which layer finds it: services, ingress, policy, dns, plugins.
    category: str

    def finding(
        self,
        obj: Resource | ObjectId,
        field: str,
        message: str,
        fix: str,
        severity: Severity | None = None,
    ) -> Finding:
        oid = obj if isinstance(obj, ObjectId) else ObjectId.of(obj)
        return Finding(self.id, severity or self.severity, oid, field, message, fix)


#: Every rule podnet knows, by id (filled by the rule modules as they are imported).
RULES: dict[str, Rule] = {}


def rule(id: str, severity: Severity, summary: str, help: str, category: str) -> Rule:
    """Declare (register) a rule."""
    r = Rule(id, severity, summary, help, category)
    existing = RULES.get(id)
    if existing is not None and existing != r:
        raise ValueError(f"lint rule {id!r} declared twice")
    RULES[id] = r
    return r


def _severity(value: Any) -> Severity:
    text = str(getattr(value, "value", value)).lower()
    if text in ("error", "warning", "info"):
        return text  # type: ignore[return-value]
    if text in ("warn",):
        return "warning"
    if text in ("note", "notice", "hint"):
        return "info"
    return "warning"


def _object_id(value: Any) -> ObjectId:
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, Resource):
        return ObjectId.of(value)
    if isinstance(value, Mapping):
        return ObjectId(str(value.get("kind", "")), str(value.get("namespace", "") or ""),
                        str(value.get("name", "")))
    kind = getattr(value, "kind", "")
    ns = getattr(value, "namespace", "") or ""
    name = getattr(value, "name", "")
    if kind or name:
        return ObjectId(str(kind), str(ns), str(name))
    # "Kind/ns/name" or "Kind/name"
    parts = str(value).split("/")
    if len(parts) == 3:
        return ObjectId(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return ObjectId(parts[0], "", parts[1])
    return ObjectId("", "", str(value))


def from_any(item: Any, category: str = "plugins") -> Finding:
    """A :class:`Finding` from a finding-shaped value of another layer (see the module doc).

    Its rule is registered on the way (with the finding's severity as the default and its
    message as the summary) when the catalogue does not know it yet.
    """
    if isinstance(item, Finding):
        return item
    get = item.get if isinstance(item, Mapping) else lambda k, d=None: getattr(item, k, d)
    rule_id = str(get("rule", "") or get("rule_id", "") or get("id", ""))
    sev = _severity(get("severity", "warning"))
    if rule_id not in RULES:
        summary = str(get("summary", "") or get("title", "") or get("message", ""))
        RULES[rule_id] = Rule(rule_id, sev, summary.split(". ")[0][:120], summary, category)
    line = get("line", None)
    return Finding(
        rule=rule_id,
        severity=sev,
        object=_object_id(get("object", None) or get("obj", "")),
        field=str(get("field", "") or ""),
        message=str(get("message", "")),
        fix=str(get("fix", "") or ""),
        file=get("file", None),
        line=int(line) if isinstance(line, int) else None,
    )


def worst(findings: Iterable[Finding]) -> Severity | None:
    best: Severity | None = None
    for f in findings:
        if best is None or RANK[f.severity] > RANK[best]:
            best = f.severity
    return best


__all__ = ["RANK", "RULES", "SEVERITIES", "Finding", "ObjectId", "Rule", "Severity", "from_any",
           "rule", "worst"]
