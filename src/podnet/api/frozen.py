"""Immutable JSON-like values.

Every object podnet models is immutable so that controllers can share structure freely (150,000
pods stamped from one Deployment share one PodSpec) and so that no layer can change what another
layer computed. JSON-like data that podnet keeps but does not model (the parts of a manifest it
passes through untouched) is frozen with :func:`freeze` and turned back into plain ``dict``/``list``
with :func:`thaw` when it is written out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenDict(dict[K, V]):
    """A ``dict`` that refuses mutation and can be hashed.

    A dict subclass rather than a Mapping wrapper: lookups stay at C speed and ``json.dumps``
    serialises it without help.
    """

    __slots__ = ("_hash",)
    _hash: int

    def _immutable(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("FrozenDict is immutable")

    __setitem__ = _immutable
    __delitem__ = _immutable
    clear = _immutable
    pop = _immutable
    popitem = _immutable
    setdefault = _immutable
    update = _immutable
    __ior__ = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return int(self._hash)
        except AttributeError:
            h = hash(frozenset(self.items()))
            object.__setattr__(self, "_hash", h)
            return h

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def set(self, key: K, value: V) -> FrozenDict[K, V]:
        """A copy with ``key`` bound to ``value``."""
        d = dict(self)
        d[key] = value
        return FrozenDict(d)

    def without(self, key: K) -> FrozenDict[K, V]:
        """A copy without ``key``."""
        d = dict(self)
        d.pop(key, None)
        return FrozenDict(d)


EMPTY: FrozenDict[Any, Any] = FrozenDict()


def frozen_map(items: Mapping[K, V] | Iterable[tuple[K, V]] | None = None) -> FrozenDict[K, V]:
    """A FrozenDict from a mapping or pairs (``None`` gives the shared empty map)."""
    if not items:
        return EMPTY
    if isinstance(items, FrozenDict):
        return items
    return FrozenDict(items)


def freeze(value: Any) -> Any:
    """Deep-freeze JSON-like data: dicts become FrozenDict, lists become tuples."""
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, dict):
        return FrozenDict((k, freeze(v)) for k, v in value.items()) if value else EMPTY
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Deep-copy frozen data back into plain, mutable ``dict`` and ``list``."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value
