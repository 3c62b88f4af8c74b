"""Label selectors: the one implementation every layer uses.

Kubernetes has two selector forms: the structured ``LabelSelector`` (matchLabels +
matchExpressions) of Deployments, NetworkPolicies and EndpointSlice-less APIs, and the plain
``map[string]string`` of Services and ReplicationControllers (equality only). Both compile to a
:class:`Selector` — a tuple of requirements — and so does kubectl's ``-l`` string syntax
(``app=web,tier!=db,env in (a,b),!legacy``). An empty selector matches everything; a ``None``
selector (where the API distinguishes it) matches nothing, which callers handle explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from podnet.api.codec import Struct
from podnet.api.frozen import EMPTY, FrozenDict

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelectorRequirement(Struct):
    key: str = ""
    operator: str = ""
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelector(Struct):
    match_labels: FrozenDict[str, str] = EMPTY
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def compile(self) -> Selector:
        return Selector.from_label_selector(self)

    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


@dataclass(frozen=True, slots=True)
class Requirement:
    """One compiled requirement. ``op`` is one of In, NotIn, Exists, DoesNotExist."""

    key: str
    op: str
    values: frozenset[str] = field(default_factory=frozenset)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "In":
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op == "NotIn":
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        return False

    def __str__(self) -> str:
        if self.op == "Exists":
            return self.key
        if self.op == "DoesNotExist":
            return "!" + self.key
        vals = sorted(self.values)
        if self.op == "In" and len(vals) == 1:
            return f"{self.key}={vals[0]}"
        if self.op == "NotIn" and len(vals) == 1:
            return f"{self.key}!={vals[0]}"
        word = "in" if self.op == "In" else "notin"
        return f"{self.key} {word} ({','.join(vals)})"


@dataclass(frozen=True, slots=True)
class Selector:
    """A compiled selector: every requirement must hold (AND)."""

    requirements: tuple[Requirement, ...] = ()

    @staticmethod
    def everything() -> Selector:
        return _EVERYTHING

    @staticmethod
    def from_map(labels: Mapping[str, str]) -> Selector:
        """A Service/ReplicationController equality selector."""
        return Selector(
            tuple(Requirement(k, "In", frozenset((v,))) for k, v in sorted(labels.items()))
        )

    @staticmethod
    def from_label_selector(sel: LabelSelector) -> Selector:
        reqs = [Requirement(k, "In", frozenset((v,))) for k, v in sorted(sel.match_labels.items())]
        for e in sel.match_expressions:
            reqs.append(Requirement(e.key, e.operator, frozenset(e.values)))
        return Selector(tuple(reqs))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for r in self.requirements:
            if not r.matches(labels):
                return False
        return True

    def is_empty(self) -> bool:
        return not self.requirements

    def equality_map(self) -> dict[str, str] | None:
        """The ``{key: value}`` map when every requirement is a single-valued ``In``, else None.

        The index of pods by label uses it to look candidates up instead of scanning.
        """
        out: dict[str, str] = {}
        for r in self.requirements:
            if r.op != "In" or len(r.values) != 1:
                return None
            (out[r.key],) = r.values
        return out

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements) or "<none>"


_EVERYTHING = Selector(())

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<notexists>!\s*(?P<nkey>[^\s,=!()]+))
    | (?P<key>[^\s,=!()]+)\s*(?:
          (?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)
        | (?P<setop>in|notin)\s*\((?P<values>[^)]*)\)
      )?
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def parse_selector(text: str) -> Selector:
    """Parse kubectl's ``-l`` syntax; raises ValueError with kubectl's style of message."""
    text = text.strip()
    if not text:
        return _EVERYTHING
    reqs: list[Requirement] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unable to parse requirement: found '{text[pos:]}'")
        pos = m.end()
        if m.group("notexists"):
            reqs.append(Requirement(m.group("nkey"), "DoesNotExist"))
        elif m.group("op"):
            op = "NotIn" if m.group("op") == "!=" else "In"
            reqs.append(Requirement(m.group("key"), op, frozenset((m.group("value"),))))
        elif m.group("setop"):
            values = frozenset(v.strip() for v in m.group("values").split(",") if v.strip())
            op = "In" if m.group("setop") == "in" else "NotIn"
            reqs.append(Requirement(m.group("key"), op, values))
        else:
            reqs.append(Requirement(m.group("key"), "Exists"))
    return Selector(tuple(reqs))
