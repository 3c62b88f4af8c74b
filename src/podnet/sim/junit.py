"""``podnet check --junit FILE``: the results as JUnit XML, the format CI systems render.

The layout is the common denominator that GitHub Actions test reporters, GitLab (``artifacts:
reports: junit``) and Jenkins (the JUnit plugin) read: a ``<testsuites>`` root with totals, one
``<testsuite>`` per ConnectivityCheck, one ``<testcase>`` per expectation (``classname`` the check,
``name`` the expectation, ``file`` and ``line`` where it is written). A failed expectation has a
``<failure message="…" type="…">`` whose message is the one-line summary and whose text is the
whole explanation (each source's verdict, the hop-by-hop trace of what failed); a passing one
carries its explanation in ``<system-out>``. Pure: the XML is returned as text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from podnet.sim.check import CheckReport, Result

_TYPES = {"connect": "ConnectivityMismatch", "resolve": "DNSMismatch", "url": "IngressRouteMismatch"}


def _clean(text: str) -> str:
    """Text XML 1.0 can carry (control characters other than tab and newlines dropped)."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def _suite(name: str, results: Sequence[Result], timestamp: str | None) -> ET.Element:
    failures = sum(1 for r in results if not r.passed)
    suite = ET.Element("testsuite", {
        "name": name,
        "tests": str(len(results)),
        "failures": str(failures),
        "errors": "0",
        "skipped": "0",
        "time": "0",
    })
    if timestamp:
        suite.set("timestamp", timestamp)
    files = sorted({r.expectation.file for r in results})
    if len(files) == 1:
        suite.set("file", files[0])
    for r in results:
        e = r.expectation
        case = ET.SubElement(suite, "testcase", {"classname": name, "name": _clean(e.name), "time": "0"})
        case.set("file", e.file)
        if e.line:
            case.set("line", str(e.line))
        if r.passed:
            out = ET.SubElement(case, "system-out")
            out.text = _clean(r.explanation)
        else:
            fail = ET.SubElement(case, "failure", {
                "message": _clean(r.summary),
                "type": "PodnetBug" if r.live_mismatch else _TYPES[e.kind],
            })
            fail.text = _clean(r.explanation)
    return suite


def to_junit(report: CheckReport, *, name: str = "podnet check", timestamp: str | None = None) -> str:
    """The JUnit XML document of ``report`` (one testsuite per ConnectivityCheck)."""
    by_check: dict[str, list[Result]] = {}
    for r in report.results:
        by_check.setdefault(r.expectation.check, []).append(r)
    root = ET.Element("testsuites", {
        "name": name,
        "tests": str(len(report.results)),
        "failures": str(report.failed),
        "errors": "0",
        "time": "0",
    })
    for check, results in by_check.items():
        root.append(_suite(check, results, timestamp))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


__all__ = ["to_junit"]
