"""Conversion between Kubernetes JSON and podnet's typed, immutable structs, both ways.

Theory of operation
-------------------
Each Kubernetes struct podnet models is a frozen, slotted, keyword-only dataclass deriving from
:class:`Struct`. Its fields are the parts of the API that podnet gives meaning to; everything else
in the document is kept verbatim in ``extra`` so that ``get -o yaml`` writes back what the user
wrote (images, env, resources…) plus what the controllers computed.

The JSON name of a field is its Python name in lowerCamelCase unless the field says otherwise
(``field(metadata=json_name("podIP"))``). Decoding walks the document once, guided by a plan
computed once per class from its type hints, and reports a type mismatch the way the API server's
JSON decoder does (``cannot unmarshal string into Go struct field ServicePort.spec.ports.port of
type int32``). Encoding follows Go's ``omitempty``: ``None``, empty strings, empty collections and
``False`` are left out unless the field is marked ``always``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

from podnet.api.frozen import EMPTY, FrozenDict, freeze, thaw

S = TypeVar("S", bound="Struct")

IntOrString = int | str


class DecodeError(ValueError):
    """A value of the wrong JSON type, as the API server's decoder reports it."""

    def __init__(self, struct: str, path: str, got: str, want: str) -> None:
        self.struct = struct
        self.path = path
        self.got = got
        self.want = want
        super().__init__(
            f"json: cannot unmarshal {got} into Go struct field {struct}.{path} of type {want}"
        )


def json_name(name: str, *, go_type: str | None = None, always: bool = False) -> dict[str, Any]:
    """Field metadata: the field's JSON key (and, for errors, its Go type)."""
    meta: dict[str, Any] = {"json": name, "always": always}
    if go_type:
        meta["go_type"] = go_type
    return meta


def go_type(name: str) -> dict[str, Any]:
    """Field metadata naming only the Go type reported in decode errors."""
    return {"go_type": name}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _json_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class _Plan:
    attr: str
    key: str
    kind: str  # scalar-str|scalar-int|scalar-bool|scalar-float|intorstr|struct|tuple|map|any
    elem: Any  # struct class for struct/tuple-of-struct, scalar kind for tuple/map
    optional: bool
    always: bool
    go_type: str


_SCALARS: dict[Any, tuple[str, str]] = {
    str: ("str", "string"),
    int: ("int", "int32"),
    bool: ("bool", "bool"),
    float: ("float", "float64"),
}


def _plan_for(tp: Any) -> tuple[str, Any, bool]:
    """(kind, element, optional) for one annotated type."""
    optional = False
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        optional = len(args) != len(get_args(tp))
        if set(args) == {int, str}:
            return "intorstr", None, optional
        if len(args) == 1:
            kind, elem, _ = _plan_for(args[0])
            return kind, elem, optional
        return "any", None, optional
    if tp in _SCALARS:
        return "scalar-" + _SCALARS[tp][0], None, optional
    if tp is Any:
        return "any", None, optional
    if origin is tuple:
        inner = get_args(tp)[0]
        kind, elem, _ = _plan_for(inner)
        return "tuple", (kind, elem), optional
    if origin in (FrozenDict, Mapping, dict) or tp is FrozenDict:
        type_args = get_args(tp)
        inner = type_args[1] if len(type_args) == 2 else Any
        kind, elem, _ = _plan_for(inner)
        return "map", (kind, elem), optional
    if isinstance(tp, type) and issubclass(tp, Struct):
        return "struct", tp, optional
    raise TypeError(f"codec cannot handle type {tp!r}")


_PLANS: dict[type, tuple[_Plan, ...]] = {}


def _plans(cls: type[Struct]) -> tuple[_Plan, ...]:
    cached = _PLANS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    plans = []
    for f in dataclasses.fields(cls):
        if f.name == "extra" or f.metadata.get("skip"):
            continue
        kind, elem, optional = _plan_for(hints[f.name])
        default_go = {
            "scalar-str": "string",
            "scalar-int": "int32",
            "scalar-bool": "bool",
            "scalar-float": "float64",
            "intorstr": "intstr.IntOrString",
            "tuple": "[]",
            "map": "map[string]string",
            "struct": getattr(elem, "__name__", "struct"),
            "any": "interface {}",
        }[kind]
        plans.append(
            _Plan(
                attr=f.name,
                key=f.metadata.get("json", _camel(f.name)),
                kind=kind,
                elem=elem,
                optional=optional,
                always=bool(f.metadata.get("always", False)),
                go_type=f.metadata.get("go_type", default_go),
            )
        )
    result = tuple(plans)
    _PLANS[cls] = result
    return result


def _decode_value(kind: str, elem: Any, value: Any, struct: str, path: str, want: str) -> Any:
    if kind == "scalar-str":
        if not isinstance(value, str):
            raise DecodeError(struct, path, _json_type_name(value), want)
        return value
    if kind == "scalar-int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise DecodeError(struct, path, _json_type_name(value), want)
        return value
    if kind == "scalar-bool":
        if not isinstance(value, bool):
            raise DecodeError(struct, path, _json_type_name(value), want)
        return value
    if kind == "scalar-float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DecodeError(struct, path, _json_type_name(value), want)
        return float(value)
    if kind == "intorstr":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise DecodeError(struct, path, _json_type_name(value), want)
        return value
    if kind == "struct":
        if not isinstance(value, Mapping):
            raise DecodeError(struct, path, _json_type_name(value), elem.__name__)
        return elem._decode(value, path)
    if kind == "tuple":
        if not isinstance(value, (list, tuple)):
            raise DecodeError(struct, path, _json_type_name(value), want)
        ikind, ielem = elem
        return tuple(
            _decode_value(ikind, ielem, v, struct, path, want.removeprefix("[]")) for v in value
        )
    if kind == "map":
        if not isinstance(value, Mapping):
            raise DecodeError(struct, path, _json_type_name(value), want)
        ikind, ielem = elem
        if ikind == "scalar-str":
            for k, v in value.items():
                if not isinstance(v, str):
                    raise DecodeError(struct, f"{path}", _json_type_name(v), "string")
            return FrozenDict(value) if value else EMPTY
        return FrozenDict(
            (k, _decode_value(ikind, ielem, v, struct, path, want)) for k, v in value.items()
        )
    return freeze(value)


def _is_empty(value: Any, optional: bool) -> bool:
    """Go's omitempty: a pointer (optional) field is empty only when nil."""
    if value is None:
        return True
    if optional:
        return False
    if isinstance(value, (tuple, dict, str)):
        return not value
    return value is False or (isinstance(value, int) and value == 0)


def _encode_value(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_value(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Struct:
    """Base of every modelled Kubernetes struct: typed fields plus the unmodelled rest."""

    extra: FrozenDict[str, Any] = field(default=EMPTY, repr=False, compare=False)

    GO_NAME: ClassVar[str] = ""

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any], path: str = "") -> S:
        """Decode a JSON-like mapping; raises :class:`DecodeError` on a type mismatch."""
        return cls._decode(data, path)

    @classmethod
    def _decode(cls: type[S], data: Mapping[str, Any], path: str) -> S:
        kwargs: dict[str, Any] = {}
        known: set[str] = set()
        struct = cls.GO_NAME or cls.__name__
        for p in _plans(cls):
            known.add(p.key)
            if p.key not in data:
                continue
            value = data[p.key]
            if value is None:
                continue
            sub = f"{path}.{p.key}" if path else p.key
            kwargs[p.attr] = _decode_value(p.kind, p.elem, value, struct, sub, p.go_type)
        extra = {k: v for k, v in data.items() if k not in known}
        if extra:
            kwargs["extra"] = freeze(extra)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Encode as plain JSON-like data: modelled fields in API order, then the unmodelled rest."""
        out: dict[str, Any] = {}
        for p in _plans(type(self)):
            value = getattr(self, p.attr)
            if value is None or (not p.always and _is_empty(value, p.optional)):
                continue
            out[p.key] = _encode_value(value)
        if self.extra:
            for k, v in self.extra.items():
                if k not in out:
                    out[k] = thaw(v)
        return out
