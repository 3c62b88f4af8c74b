"""One hop of a traced packet: where it was, what looked at it, what that decided, by which rule.

The JSON shape is part of ``podnet trace -o json``: ``{"node", "stage", "detail", "rule"}`` and,
where they apply, extra fields (``dev``, ``mtu``, ``outer``, ``vni``, ``names``, ``verdict``…).
Stages: ``dns``, ``pod-egress``, ``veth``, ``bridge``, ``route``, ``service``,
``policy-egress``, ``policy-ingress``, ``encap``, ``underlay``, ``decap``, ``deliver``, ``drop``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Hop", "STAGES", "hop_from"]

STAGES = (
    "dns", "pod-egress", "veth", "bridge", "route", "service", "policy-egress",
    "policy-ingress", "encap", "underlay", "decap", "deliver", "drop",
)

_CORE = ("node", "stage", "detail", "rule")


@dataclass(frozen=True, slots=True)
class Hop:
    node: str
    stage: str
    detail: str
    rule: str = ""
    #: Extra JSON fields, in order (``dev``, ``mtu``, ``outer``, ``vni``, …).
    extra: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.extra:
            if k == key:
                return v
        return default

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"node": self.node, "stage": self.stage, "detail": self.detail,
                               "rule": self.rule}
        for k, v in self.extra:
            if k not in out:
                out[k] = v
        return out

    @classmethod
    def make(cls, node: str | None, stage: str, detail: str, rule: str = "",
             **extra: Any) -> Hop:
        return cls(node or "", stage, detail, rule or "",
                   tuple((k, v) for k, v in extra.items() if v is not None))


def hop_from(obj: Any) -> Hop:
    """A :class:`Hop` from another module's hop: a Hop, a mapping with the hop keys, or an
    object with ``to_dict()`` or with ``node``/``stage``/``detail``/``rule`` attributes."""
    if isinstance(obj, Hop):
        return obj
    data: Mapping[str, Any]
    if isinstance(obj, Mapping):
        data = obj
    elif callable(getattr(obj, "to_dict", None)):
        data = obj.to_dict()
    else:
        data = {k: getattr(obj, k) for k in dir(obj)
                if not k.startswith("_") and not callable(getattr(obj, k))}
    extra: Iterable[tuple[str, Any]] = ((k, v) for k, v in data.items()
                                        if k not in _CORE and v is not None)
    return Hop(str(data.get("node") or ""), str(data.get("stage") or ""),
               str(data.get("detail") or ""), str(data.get("rule") or ""), tuple(extra))
