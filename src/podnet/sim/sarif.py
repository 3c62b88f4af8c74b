"""``podnet lint -o sarif``: findings as a SARIF 2.1.0 log, for GitHub code scanning and friends.

One run of one tool (``podnet``), whose ``tool.driver.rules`` is the whole rule catalogue (each
with its summary, help and default level, so that a viewer can explain a rule without podnet).
A finding becomes a ``result``: ``ruleId``/``ruleIndex``, ``level`` (error, warning; info is
SARIF's ``note``), the message with the fix appended, a physical location (the manifest, relative
to ``%SRCROOT%`` when inside it, and the line) — GitHub shows the finding on that YAML line — and a
logical location naming the object and field. ``partialFingerprints`` make a finding keep its
identity across commits that move lines.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from podnet.sim.findings import Finding, Rule

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/podnet/podnet"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str, root: str | None) -> tuple[str, bool]:
    """A URI reference for ``path``: relative to ``root`` (``%SRCROOT%``) when inside it."""
    p = path.replace(os.sep, "/")
    if root is not None:
        r = root.replace(os.sep, "/").rstrip("/")
        if p.startswith(r + "/"):
            return _escape(p[len(r) + 1:]), True
        if not p.startswith("/"):
            return _escape(str(PurePosixPath(p))), True
    if p.startswith("/"):
        return "file://" + _escape(p), False
    return _escape(str(PurePosixPath(p))), True


def _escape(p: str) -> str:
    return "".join(c if c.isalnum() or c in "/._-~" else f"%{ord(c):02X}" for c in p)


def _rule_descriptor(r: Rule) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": "".join(part.capitalize() for part in r.id.split("-")),
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.help},
        "help": {"text": r.help},
        "defaultConfiguration": {"level": _LEVEL[r.severity]},
        "properties": {"tags": ["networking", "kubernetes", r.category]},
    }


def _fingerprint(f: Finding) -> str:
    key = f"{f.rule}|{f.object}|{f.field}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def to_sarif(
    findings: Sequence[Finding],
    rules: Mapping[str, Rule],
    *,
    version: str = "0.0.0",
    root: str | None = None,
) -> dict[str, Any]:
    """The SARIF log of ``findings``; ``root`` is the directory file paths are relative to
    (given as ``%SRCROOT%`` in ``originalUriBaseIds`` when it is absolute)."""
    catalogue = dict(rules)
    for f in findings:  # a finding from a layer whose rule is not in the catalogue
        if f.rule not in catalogue:
            catalogue[f.rule] = Rule(f.rule, f.severity, f.message[:120], f.message, "plugins")
    ids = sorted(catalogue)
    index = {rid: i for i, rid in enumerate(ids)}
    results: list[dict[str, Any]] = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _LEVEL[f.severity],
            "message": {"text": f"{f.message}. Fix: {f.fix}" if f.fix else f.message},
            "partialFingerprints": {"podnetFinding/v1": _fingerprint(f)},
            "properties": {"object": f.object.to_dict(), "field": f.field, "fix": f.fix,
                           "severity": f.severity},
        }
        location: dict[str, Any] = {
            "logicalLocations": [{
                "name": f.object.name,
                "fullyQualifiedName": f"{f.object}" + (f":{f.field}" if f.field else ""),
                "kind": "object",
            }],
        }
        if f.file:
            uri, relative = _uri(f.file, root)
            artifact: dict[str, Any] = {"uri": uri}
            if relative:
                artifact["uriBaseId"] = "%SRCROOT%"
            physical: dict[str, Any] = {"artifactLocation": artifact}
            if f.line:
                physical["region"] = {"startLine": int(f.line)}
            location["physicalLocation"] = physical
        result["locations"] = [location]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "podnet",
                "informationUri": INFORMATION_URI,
                "version": version,
                "semanticVersion": version,
                "rules": [_rule_descriptor(catalogue[rid]) for rid in ids],
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if root is not None and root.startswith("/"):
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": "file://" + _escape(root.rstrip("/") + "/")}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "to_sarif"]
