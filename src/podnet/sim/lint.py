"""``podnet lint``: networking misconfigurations, each with what happens at runtime and the fix.

Theory of operation
-------------------
The linter reads the same :class:`~podnet.cluster.state.ClusterState` every other command reads
(the manifests after admission: defaulted, expanded into pods, EndpointSlices computed), so a
rule asks the model what a real cluster would do — which pods a selector picks, which endpoints
a Service gets, what a NetworkPolicy verdict is — rather than pattern-matching YAML. Only the
objects the user gave are judged; system objects (CoreDNS, the ingress controller) are context.

Rules live in ``lint_rules_*`` modules, one per layer (services, ingress, policy, dns, plugins).
Each declares its rules in the :data:`~podnet.sim.findings.RULES` catalogue and registers
checkers — functions from a :class:`LintContext` to findings — with :func:`checker`. The
context computes what several rules share once, on first use (the policy index, pods by
workload, the Services selecting a pod, …).

After the checkers ran, :func:`lint` puts each finding on its file and line (via
:mod:`podnet.sim.locate`, from the :class:`~podnet.api.loader.Source` of its object) and drops the
silenced ones: ``# podnet:ignore=RULE`` comments, the ``podnet.io/lint-ignore`` annotation
(``"RULE[,RULE…]"`` or ``"all"``) and the ignore list (``RULE`` or ``RULE:Kind/ns/name``, globs
allowed), as linters do.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from podnet.api.core import Container, Namespace, Pod, PodSpec, Service
from podnet.api.loader import Source
from podnet.api.meta import ObjectRef, Resource
from podnet.api.selectors import Selector
from podnet.api.workloads import PodTemplate, pod_template_of
from podnet.cluster.state import ClusterState
from podnet.policy.index import PolicyIndex
from podnet.sim.findings import RANK, RULES, Finding, ObjectId, Rule, Severity
from podnet.sim.locate import SourceText

IGNORE_ANNOTATION = "podnet.io/lint-ignore"
#: Namespaces a cluster installer owns: their objects are context, not the user's to fix.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "ingress-nginx"})
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                  "ReplicationController", "Pod")
#: Labels the controllers add per pod or per revision; not part of what a workload "is".
_GENERATED_LABELS = frozenset({
    "pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index", "pod-template-generation", "batch.kubernetes.io/job-name",
    "job-name", "batch.kubernetes.io/controller-uid", "controller-uid",
})

Checker = Callable[["LintContext"], Iterable[Finding]]
_CHECKERS: list[tuple[str, Checker]] = []


def checker(category: str) -> Callable[[Checker], Checker]:
    """Register a checker function (used by the ``lint_rules_*`` modules)."""

    def register(fn: Checker) -> Checker:
        _CHECKERS.append((category, fn))
        return fn

    return register


def _load_rules() -> None:
    # Imported for their registrations; late so that the rule modules can import this one.
    from podnet.sim import (  # noqa: F401
        lint_rules_dns,
        lint_rules_ingress,
        lint_rules_plugins,
        lint_rules_policy,
        lint_rules_services,
    )


def all_rules() -> dict[str, Rule]:
    _load_rules()
    return dict(sorted(RULES.items()))


# ------------------------------------------------------------------------------------ context


class LintContext:
    """What the rules read, computed once on first use."""

    def __init__(
        self,
        state: ClusterState,
        *,
        now: datetime | None = None,
        sources: Mapping[ObjectRef, Source] | None = None,
    ) -> None:
        self.state = state
        self.now = now or datetime.now(timezone.utc)
        self.sources = dict(sources or {})
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ objects

    def applied(self, kind: str) -> list[Resource]:
        """The objects of ``kind`` the user gave, sorted by ref."""
        return [o for o in self.state.of_kind(kind) if o.ref in self.state.applied]

    def is_users(self, obj: Resource) -> bool:
        return obj.ref in self.state.applied

    @property
    def user_namespaces(self) -> list[str]:
        """Namespaces in which the user gave objects (system namespaces excluded)."""
        got = self._cache.get("user_ns")
        if got is None:
            names = {r.namespace for r in self.state.applied if r.namespace}
            names |= {r.name for r in self.state.applied if r.kind == "Namespace"}
            got = sorted(names - SYSTEM_NAMESPACES)
            self._cache["user_ns"] = got
        return list(got)

    def namespace(self, name: str) -> Namespace | None:
        obj = self.state.get("Namespace", "", name)
        return obj if isinstance(obj, Namespace) else None

    @property
    def policy_index(self) -> PolicyIndex:
        got = self._cache.get("policy_index")
        if got is None:
            got = PolicyIndex.of(self.state)
            self._cache["policy_index"] = got
        return got  # type: ignore[no-any-return]

    def live_pods(self, namespace: str | None = None) -> list[Pod]:
        return [p for p in self.state.pods(namespace) if not p.finished]

    def service_pods(self, svc: Service) -> list[Pod]:
        """The pods a Service's selector picks (none for selector-less Services)."""
        if not svc.spec.selector:
            return []
        sel = Selector.from_map(svc.spec.selector)
        return [p for p in self.state.select_pods(svc.metadata.namespace, sel) if not p.finished]

    # ------------------------------------------------------------------ workloads

    def owner(self, obj: Resource) -> Resource:
        """The top-level object that made ``obj`` (a Pod's Deployment, a Job's CronJob…)."""
        cache: dict[ObjectRef, Resource] = self._cache.setdefault("owner", {})
        got = cache.get(obj.ref)
        if got is not None:
            return got
        cur = obj
        for _ in range(4):
            ref = cur.metadata.controller_ref()
            if ref is None:
                break
            parent = self.state.get(ref.kind, cur.metadata.namespace, ref.name)
            if parent is None:
                break
            cur = parent
        cache[obj.ref] = cur
        return cur

    def workload_label(self, pods: Sequence[Pod]) -> str:
        """``web, assets (3 pods)``: the workloads of ``pods``, for messages."""
        names: dict[str, int] = {}
        for p in pods:
            o = self.owner(p)
            key = o.metadata.name if o.kind != "Pod" else f"pod {o.metadata.name}"
            names[key] = names.get(key, 0) + 1
        shown = ", ".join(list(names)[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"{shown} ({len(pods)} pod{'s' if len(pods) != 1 else ''})"

    def by_workload(self, pods: Iterable[Pod]) -> dict[ObjectRef, list[Pod]]:
        out: dict[ObjectRef, list[Pod]] = defaultdict(list)
        for p in pods:
            out[self.owner(p).ref].append(p)
        return dict(out)

    @staticmethod
    def template(obj: Resource) -> PodTemplate | None:
        """The pod template of a workload (or the spec of a bare Pod)."""
        return pod_template_of(obj)

    def container_path(self, obj: Resource, pod: Pod, container: Container) -> str:
        """The field path of ``container`` (one of ``pod``'s) in the workload ``obj``."""
        tpl = self.template(obj)
        prefix = tpl.path if tpl is not None else "spec"
        for i, c in enumerate(pod.spec.containers):
            if c is container or c.name == container.name:
                return f"{prefix}.containers[{i}]"
        for i, c in enumerate(pod.spec.init_containers):
            if c is container or c.name == container.name:
                return f"{prefix}.initContainers[{i}]"
        return prefix


def stable_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in _GENERATED_LABELS}


# ------------------------------------------------------------------------------------ ignores


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    """``RULE`` or ``RULE:Kind/ns/name`` (fnmatch globs in both parts)."""

    rule: str
    object: str = "*"

    @classmethod
    def parse(cls, text: str) -> IgnoreEntry:
        rule, sep, obj = text.strip().partition(":")
        return cls(rule.strip(), obj.strip() if sep and obj.strip() else "*")

    def matches(self, f: Finding) -> bool:
        if not fnmatch.fnmatchcase(f.rule, self.rule):
            return False
        if self.object == "*":
            return True
        return fnmatch.fnmatchcase(str(f.object), self.object) or fnmatch.fnmatchcase(
            str(f.object).lower(), self.object.lower()
        )


def parse_ignore_list(lines: Iterable[str]) -> list[IgnoreEntry]:
    """An ignore file's entries: one per line (``RULE`` or ``RULE:Kind/ns/name``), ``#`` comments;
    several may share a line separated by commas."""
    out: list[IgnoreEntry] = []
    for raw in lines:
        text = raw.split("#", 1)[0].strip()
        for part in text.replace(",", " ").split():
            out.append(IgnoreEntry.parse(part))
    return out


# ------------------------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class LintReport:
    findings: tuple[Finding, ...]
    #: How many findings ignore comments, annotations or the ignore list silenced.
    suppressed: int = 0
    rules: Mapping[str, Rule] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            out[f.severity] += 1
        return out

    def fails(self, fail_on: Severity) -> bool:
        """Whether a finding reaches ``fail_on``."""
        return any(RANK[f.severity] >= RANK[fail_on] for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings]}


class _Locator:
    """Puts findings on files and lines, and says which are silenced by comments."""

    def __init__(self, ctx: LintContext, texts: Mapping[str, str]) -> None:
        self.ctx = ctx
        self.texts = {p: SourceText(p, t) for p, t in texts.items()}
        self._first_in_ns: dict[str, Source] = {}
        for ref, src in sorted(ctx.sources.items(), key=lambda kv: (kv[1].path, kv[1].document)):
            if ref.namespace and ref.namespace not in self._first_in_ns:
                self._first_in_ns[ref.namespace] = src

    def source(self, oid: ObjectId) -> tuple[Source | None, bool]:
        """The object's source, and whether it is the object's own (not a stand-in)."""
        for ref, src in self._by_id().get(oid, []):
            return src, True
        if oid.kind == "Namespace":
            got = self._first_in_ns.get(oid.name)
            if got is not None:
                return got, False
        return None, False

    def _by_id(self) -> dict[ObjectId, list[tuple[ObjectRef, Source]]]:
        got: dict[ObjectId, list[tuple[ObjectRef, Source]]] | None = getattr(self, "_ids", None)
        if got is None:
            got = defaultdict(list)
            for ref, src in self.ctx.sources.items():
                got[ObjectId(ref.kind, ref.namespace, ref.name)].append((ref, src))
            self._ids = got
        return got

    def place(self, f: Finding) -> tuple[Finding, bool]:
        """The finding with file and line, and whether a comment silences it."""
        if f.file is not None:
            return f, False
        src, own = self.source(f.object)
        if src is None and f.object.kind == "Node" and f.field.startswith("nodes["):
            # a node's setting lives in the Cluster document (nodes[i].mtu, nodes[i].subnet)
            cluster = self.ctx.state.config.name
            src, own = self.source(ObjectId("Cluster", "", cluster))
        if src is None:
            return f, False
        text = self.texts.get(src.path)
        line: int | None = src.line
        silenced = False
        if text is not None and own:
            if f.field:
                line = text.line(src.document, f.field) or src.line
            silenced = text.ignored(f.rule, src.document, line)
        return f.at(src.path, line), silenced


def _annotation_ignores(ctx: LintContext, f: Finding) -> bool:
    obj = ctx.state.get(f.object.kind, f.object.namespace, f.object.name)
    if obj is None:
        return False
    value = obj.metadata.annotations.get(IGNORE_ANNOTATION, "")
    rules = {r.strip() for r in value.replace(" ", ",").split(",") if r.strip()}
    return bool(rules) and (f.rule in rules or "all" in rules or "*" in rules)


def run_checkers(ctx: LintContext, categories: Iterable[str] | None = None) -> Iterator[Finding]:
    _load_rules()
    wanted = set(categories) if categories is not None else None
    for category, fn in _CHECKERS:
        if wanted is not None and category not in wanted:
            continue
        yield from fn(ctx)


def lint(
    ctx: LintContext,
    *,
    texts: Mapping[str, str] | None = None,
    ignore: Sequence[IgnoreEntry] = (),
    only: Iterable[str] | None = None,
) -> LintReport:
    """Run every rule over ``ctx``; ``texts`` (path → file text) give lines and ignore comments;
    ``only`` keeps the rules whose id matches one of these globs."""
    locator = _Locator(ctx, texts or {})
    patterns = list(only) if only is not None else None
    seen: set[tuple[Any, ...]] = set()
    kept: list[Finding] = []
    suppressed = 0
    for raw in run_checkers(ctx):
        if patterns is not None and not any(fnmatch.fnmatchcase(raw.rule, p) for p in patterns):
            continue
        key = (raw.rule, raw.object, raw.field, raw.message)
        if key in seen:
            continue
        seen.add(key)
        f, silenced = locator.place(raw)
        if silenced or _annotation_ignores(ctx, f) or any(e.matches(f) for e in ignore):
            suppressed += 1
            continue
        kept.append(f)
    kept.sort(key=lambda f: f.sort_key)
    return LintReport(tuple(kept), suppressed, all_rules())


# ------------------------------------------------------------------------------------ text


def to_text(report: LintReport) -> str:
    """One block per finding, compiler style (``file:line: severity: message [rule]``)."""
    out: list[str] = []
    for f in report.findings:
        where = f"{f.file}:{f.line}" if f.file else str(f.object)
        out.append(f"{where}: {f.severity}: {f.message} [{f.rule}]")
        if f.file:
            out.append(f"  object: {f.object}  field: {f.field}")
        elif f.field:
            out.append(f"  field: {f.field}")
        if f.fix:
            out.append(f"  fix: {f.fix}")
    c = report.counts()
    summary = f"{c['error']} error{'s' if c['error'] != 1 else ''}, " \
              f"{c['warning']} warning{'s' if c['warning'] != 1 else ''}, {c['info']} info"
    if report.suppressed:
        summary += f" ({report.suppressed} ignored)"
    if out:
        out.append("")
    out.append(summary)
    return "\n".join(out) + "\n"


__all__ = [
    "IGNORE_ANNOTATION",
    "IgnoreEntry",
    "LintContext",
    "LintReport",
    "PodTemplate",
    "all_rules",
    "checker",
    "lint",
    "parse_ignore_list",
    "run_checkers",
    "stable_labels",
    "to_text",
]


def context_from(result: Any, config: Any, *, namespace: str = "default",
                 now: datetime | None = None) -> LintContext:
    """Admit a :class:`~podnet.api.loader.LoadResult` and keep each object's source.

    Raises :class:`~podnet.api.loader.ManifestError` as admission does (invalid objects)."""
    from podnet.cluster.admission import admit

    admitted = admit(result, config, namespace=namespace)
    sources = {obj.ref: item.source for obj, item in zip(admitted.objects, result.objects)}
    for doc in result.podnet_documents:
        if doc.kind == "Cluster":  # the plugin layer's findings point into the cluster config
            sources[ObjectRef("podnet.io", "Cluster", "", admitted.state.config.name)] = doc.source
    return LintContext(admitted.state, now=now, sources=sources)
