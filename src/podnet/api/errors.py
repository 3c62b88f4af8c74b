"""Field-level validation errors, rendered exactly as the Kubernetes API server renders them.

Users of podnet compare its output with what a real cluster prints, so every message here is
character-for-character what upstream produces. The behaviour (not the code) is taken from
k8s.io/apimachinery:

* ``pkg/util/validation/field/path.go`` — :class:`FieldPath` (``spec.ports[0].port``);
* ``pkg/util/validation/field/errors.go`` — :class:`FieldError` and how ``Error()`` renders a
  bad value of each Go type;
* ``pkg/util/errors/errors.go`` and ``pkg/api/errors/errors.go`` (``NewInvalid``) —
  :class:`InvalidObjectError`, the 422 ``Invalid`` status whose message is
  ``Service "web" is invalid: [a, b]``;
* kubectl's ``pkg/cmd/util/helpers.go`` (``checkErr``) —
  :meth:`InvalidObjectError.kubectl_message`, the differently shaped
  ``The Service "web" is invalid: ...`` text kubectl prints for the same error.

Go renders a bad value by its Go type; Python values are mapped onto the Go type they model:
``str`` → ``%q`` (``"Foo_bar"``), ``int`` → bare digits, ``bool`` → ``true``/``false``,
``float`` → ``%v``, ``None`` → ``null``, lists/tuples/dicts → compact JSON (as ``json.Marshal``
renders slices and maps), :class:`enum.Enum` → its value. Values that upstream prints with
``%#v`` (internal structs such as ``core.ServicePort`` in a ``Duplicate value`` error) are
described with :class:`GoStruct` / :class:`GoLiteral`, or by any object with a ``go_string()``
method (:class:`GoRenderable`). Anything else falls back to ``str(value)``.
"""

from __future__ import annotations

import decimal
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

__all__ = [
    "OMIT_VALUE",
    "ErrorType",
    "FieldError",
    "FieldPath",
    "GoLiteral",
    "GoRenderable",
    "GoStruct",
    "InvalidObjectError",
    "aggregate_message",
    "go_quote",
    "render_value",
]


# --------------------------------------------------------------------------------------------
# Paths


@dataclass(frozen=True, slots=True)
class FieldPath:
    """The path from an object's root to one field, e.g. ``spec.ports[0].port``.

    Immutable, so a validator can hand ``path.child("port")`` to a helper without the helper being
    able to change the caller's path. Each element is ``(name, subscript)``: a named field has a
    non-empty name; an index or map key has an empty name. As upstream, an element with an empty
    name is rendered as a subscript, so ``FieldPath.root("")`` renders ``[]``.
    """

    elements: tuple[tuple[str, str], ...]

    @classmethod
    def root(cls, name: str, *more: str) -> FieldPath:
        """A new path; ``root("metadata", "labels")`` is ``metadata.labels`` (upstream NewPath)."""
        return cls(tuple((n, "") for n in (name, *more)))

    def child(self, name: str, *more: str) -> FieldPath:
        """This path extended by one or more field names."""
        return FieldPath(self.elements + tuple((n, "") for n in (name, *more)))

    def index(self, index: int) -> FieldPath:
        """This path subscripted by a list index: ``spec.ports[0]``."""
        return FieldPath((*self.elements, ("", str(int(index)))))

    def key(self, key: str) -> FieldPath:
        """This path subscripted by a map key, unquoted as upstream: ``metadata.labels[foo]``."""
        return FieldPath((*self.elements, ("", key)))

    @property
    def parent(self) -> FieldPath | None:
        """The path one element up, or None at the root."""
        return FieldPath(self.elements[:-1]) if len(self.elements) > 1 else None

    def __str__(self) -> str:
        out: list[str] = []
        for i, (name, subscript) in enumerate(self.elements):
            if name:
                if i > 0:
                    out.append(".")
                out.append(name)
            else:
                out.append(f"[{subscript}]")
        return "".join(out)


# --------------------------------------------------------------------------------------------
# Error types


class ErrorType(enum.Enum):
    """Why a field is invalid. Values are upstream's machine-readable CauseType strings."""

    NOT_FOUND = "FieldValueNotFound"
    REQUIRED = "FieldValueRequired"
    DUPLICATE = "FieldValueDuplicate"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    TOO_FEW = "FieldValueTooFew"
    TOO_SHORT = "FieldValueTooShort"
    INTERNAL = "InternalError"
    TYPE_INVALID = "FieldValueTypeInvalid"

    @property
    def text(self) -> str:
        """The human phrase upstream prints for this type (``ErrorType.String()``)."""
        return _TYPE_TEXT[self]


_TYPE_TEXT: Final[Mapping[ErrorType, str]] = {
    ErrorType.NOT_FOUND: "Not found",
    ErrorType.REQUIRED: "Required value",
    ErrorType.DUPLICATE: "Duplicate value",
    ErrorType.INVALID: "Invalid value",
    ErrorType.NOT_SUPPORTED: "Unsupported value",
    ErrorType.FORBIDDEN: "Forbidden",
    ErrorType.TOO_LONG: "Too long",
    ErrorType.TOO_MANY: "Too many",
    ErrorType.TOO_FEW: "Too few",
    ErrorType.TOO_SHORT: "Too short",
    ErrorType.INTERNAL: "Internal error",
    # Upstream prints a type mismatch exactly like an ordinary invalid value.
    ErrorType.TYPE_INVALID: "Invalid value",
}

# Types whose message never shows the bad value, whatever it is.
_VALUELESS: Final[frozenset[ErrorType]] = frozenset(
    {
        ErrorType.REQUIRED,
        ErrorType.FORBIDDEN,
        ErrorType.TOO_LONG,
        ErrorType.TOO_SHORT,
        ErrorType.INTERNAL,
    }
)


class _OmitValue:
    """Marker for "no value to show" (upstream's omitValue), e.g. TooMany with an unknown count."""

    __slots__ = ()
    _instance: ClassVar[_OmitValue | None] = None

    def __new__(cls) -> _OmitValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT_VALUE"

    def __reduce__(self) -> str:
        return "OMIT_VALUE"


OMIT_VALUE: Final = _OmitValue()


# --------------------------------------------------------------------------------------------
# Rendering values the way Go does


@runtime_checkable
class GoRenderable(Protocol):
    """A value that knows its own Go ``%#v`` text (what upstream shows for internal structs)."""

    def go_string(self) -> str: ...


@dataclass(frozen=True, slots=True)
class GoLiteral:
    """Text emitted verbatim, for Go renderings Python cannot infer, e.g. ``(*string)(nil)``."""

    text: str

    def go_string(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class GoStruct:
    """A Go struct rendered with ``%#v``: ``core.ServicePort{Name:"", Port:443}``.

    Upstream cannot JSON-encode internal API types, so a ``Duplicate value`` of, say, a service
    port falls back to Go syntax; this reproduces it. Field values are rendered with Go syntax too
    (strings quoted, ints bare, nested GoStructs, GoLiterals verbatim).
    """

    type_name: str
    fields: tuple[tuple[str, object], ...] = ()

    def go_string(self) -> str:
        inner = ", ".join(f"{name}:{_go_syntax(value)}" for name, value in self.fields)
        return f"{self.type_name}{{{inner}}}"


class _NotJSON(Exception):
    """A value json.Marshal would refuse; the caller falls back to another rendering."""


def go_quote(s: str) -> str:
    """``s`` quoted as Go's ``strconv.Quote`` (``%q``) does.

    Matters because upstream quotes bad string values and supported values with it, and Go's
    escapes differ from Python's ``repr`` (double quotes, ``\\x1b``, ``\\u00ad``).
    """
    out = ['"']
    for ch in s:
        r = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0xD800 <= r <= 0xDFFF:
            # A lone surrogate is invalid UTF-8 to Go, which escapes each byte.
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_SHORT_ESCAPES:
            out.append(_GO_SHORT_ESCAPES[ch])
        elif r < 0x20 or r == 0x7F:
            out.append(f"\\x{r:02x}")
        elif r < 0x10000:
            out.append(f"\\u{r:04x}")
        else:
            out.append(f"\\U{r:08x}")
    out.append('"')
    return "".join(out)


_GO_SHORT_ESCAPES: Final[Mapping[str, str]] = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(f)`` and the decimal point's position (Go's digs)."""
    d = decimal.Decimal(repr(abs(f))).normalize()
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    if text == "0":
        return "0", 1
    return text, len(text) + exponent


def _go_float_v(f: float) -> str:
    """``f`` as Go's ``%v`` prints a float64 (``strconv.FormatFloat(f, 'g', -1, 64)``)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    digits, dp = _shortest_digits(f)
    exp = dp - 1
    if exp < -4 or exp >= 6:  # Go uses precision 6 for this decision when printing shortest.
        return sign + _exp_form(digits, exp)
    return sign + _plain_form(digits, dp)


def _exp_form(digits: str, exp: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _plain_form(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _go_json_float(f: float) -> str:
    """``f`` as Go's encoding/json writes a float64."""
    if math.isnan(f) or math.isinf(f):
        raise _NotJSON
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    digits, dp = _shortest_digits(f)
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        exp = dp - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        # Go writes e-7, not e-07 (it trims one leading zero off a negative exponent).
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}".replace("e-0", "e-")
    return sign + _plain_form(digits, dp)


_JSON_SHORT_ESCAPES: Final[Mapping[str, str]] = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _go_json_string(s: str) -> str:
    """``s`` as a JSON string the way Go's encoding/json writes it (HTML-safe escaping on)."""
    out = ['"']
    for ch in s:
        r = ord(ch)
        if ch in _JSON_SHORT_ESCAPES:
            out.append(_JSON_SHORT_ESCAPES[ch])
        elif r < 0x20 or ch in "<>&" or r in (0x2028, 0x2029):
            out.append(f"\\u{r:04x}")
        elif 0xD800 <= r <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_json(value: object) -> str:
    """``value`` as Go's ``json.Marshal`` would encode the equivalent Go value."""
    if isinstance(value, enum.Enum):
        return _go_json(value.value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        return _go_json_string(str.__str__(value))
    if isinstance(value, Mapping):
        items: list[tuple[str, object]] = []
        for k, v in value.items():
            if isinstance(k, enum.Enum):
                k = k.value
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise _NotJSON
            items.append((str(k), v))
        items.sort(key=lambda kv: kv[0])  # Go sorts map keys
        return "{" + ",".join(f"{_go_json_string(k)}:{_go_json(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    raise _NotJSON


def _go_syntax(value: object) -> str:
    """``value`` as a field inside a ``%#v`` struct."""
    if isinstance(value, GoRenderable):
        return value.go_string()
    if isinstance(value, enum.Enum):
        return _go_syntax(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _go_float_v(value)
    if isinstance(value, str):
        return go_quote(str.__str__(value))
    if value is None:
        return "<nil>"
    return str(value)


def render_value(value: object) -> str | None:
    """The bad value as upstream's ``ErrorBody`` shows it, or None when it is omitted.

    Mirrors the type switch in apimachinery's errors.go: simple scalars with ``%v``, strings
    with ``%q``, everything else through ``json.Marshal``, falling back to a Stringer.
    """
    if value is OMIT_VALUE:
        return None
    if isinstance(value, GoRenderable):
        return value.go_string()
    if isinstance(value, enum.Enum):
        return render_value(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _go_float_v(value)
    if isinstance(value, str):
        return go_quote(str.__str__(value))
    try:
        return _go_json(value)
    except _NotJSON:
        return str(value)


# --------------------------------------------------------------------------------------------
# Field errors


def _path_text(path: FieldPath | str) -> str:
    return path if isinstance(path, str) else str(path)


def _count_noun(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with one field: upstream's ``field.Error``.

    ``str(err)`` is exactly upstream's ``Error()``, e.g.
    ``spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive``.
    Build instances with the named constructors, which fill ``bad_value`` and ``detail`` the way
    upstream's do (so, e.g., ``too_long`` never leaks the long value into the message).
    """

    type: ErrorType
    field: str
    bad_value: object
    detail: str

    def error_body(self) -> str:
        """The message without the field path (what a Status cause's ``message`` holds)."""
        text = self.type.text
        if self.type not in _VALUELESS:
            rendered = render_value(self.bad_value)
            if rendered is not None:
                text = f"{text}: {rendered}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.error_body()}"

    # -- constructors, one per upstream helper -------------------------------------------------

    @classmethod
    def invalid(cls, path: FieldPath | str, value: object, detail: str) -> FieldError:
        """A malformed value (failed regex, out of range, ...)."""
        return cls(ErrorType.INVALID, _path_text(path), value, detail)

    @classmethod
    def type_invalid(cls, path: FieldPath | str, value: object, detail: str) -> FieldError:
        """A value of the wrong schema type; printed like ``invalid``."""
        return cls(ErrorType.TYPE_INVALID, _path_text(path), value, detail)

    @classmethod
    def not_found(cls, path: FieldPath | str, value: object) -> FieldError:
        """A value that refers to something that does not exist."""
        return cls(ErrorType.NOT_FOUND, _path_text(path), value, "")

    @classmethod
    def required(cls, path: FieldPath | str, detail: str = "") -> FieldError:
        """A value that must be given and was not (``Required value``)."""
        return cls(ErrorType.REQUIRED, _path_text(path), "", detail)

    @classmethod
    def duplicate(cls, path: FieldPath | str, value: object) -> FieldError:
        """A value that must be unique and is not."""
        return cls(ErrorType.DUPLICATE, _path_text(path), value, "")

    @classmethod
    def not_supported(
        cls, path: FieldPath | str, value: object, valid_values: Iterable[object]
    ) -> FieldError:
        """A value outside an enumeration; ``valid_values`` are listed quoted, in the order given.

        Upstream does not sort: callers pass a sorted list when they want one (Service ``type``
        passes its set's sorted list, so ``"ClusterIP", "ExternalName", ...``).
        """
        quoted = [
            go_quote(str(v.value) if isinstance(v, enum.Enum) else str(v)) for v in valid_values
        ]
        detail = "supported values: " + ", ".join(quoted) if quoted else ""
        return cls(ErrorType.NOT_SUPPORTED, _path_text(path), value, detail)

    @classmethod
    def forbidden(cls, path: FieldPath | str, detail: str) -> FieldError:
        """A well-formed value that is not allowed here (policy, type, feature)."""
        return cls(ErrorType.FORBIDDEN, _path_text(path), "", detail)

    @classmethod
    def too_long(cls, path: FieldPath | str, value: object, max_length: int) -> FieldError:
        """A value over ``max_length`` bytes; the value itself is never shown.

        A negative ``max_length`` gives the unquantified ``value is too long``.
        """
        del value  # unused, exactly as upstream: a too-long value would swamp the message
        if max_length >= 0:
            detail = f"may not be more than {max_length} {_count_noun(max_length, 'byte', 'bytes')}"
        else:
            detail = "value is too long"
        return cls(ErrorType.TOO_LONG, _path_text(path), "<value omitted>", detail)

    @classmethod
    def too_long_characters(
        cls, path: FieldPath | str, value: object, max_length: int
    ) -> FieldError:
        """As :meth:`too_long`, but counting characters (upstream TooLongCharacters)."""
        del value
        if max_length >= 0:
            noun = _count_noun(max_length, "character", "characters")
            detail = f"may not be more than {max_length} {noun}"
        else:
            detail = "value is too long"
        return cls(ErrorType.TOO_LONG, _path_text(path), "<value omitted>", detail)

    @classmethod
    def too_short(cls, path: FieldPath | str, value: str, min_length: int) -> FieldError:
        """A string under ``min_length`` characters; printed without the value."""
        if min_length >= 0:
            noun = _count_noun(min_length, "character", "characters")
            detail = f"must be at least {min_length} {noun}"
        else:
            detail = "value is too short"
        return cls(ErrorType.TOO_SHORT, _path_text(path), value, detail)

    @classmethod
    def too_many(
        cls, path: FieldPath | str, actual_quantity: int, max_quantity: int
    ) -> FieldError:
        """A list with too many items. A negative ``actual_quantity`` omits the count."""
        if max_quantity >= 0:
            noun = _count_noun(max_quantity, "item", "items")
            detail = f"must have at most {max_quantity} {noun}"
        else:
            detail = "has too many items"
        actual: object = actual_quantity if actual_quantity >= 0 else OMIT_VALUE
        return cls(ErrorType.TOO_MANY, _path_text(path), actual, detail)

    @classmethod
    def too_few(cls, path: FieldPath | str, actual_quantity: int, min_quantity: int) -> FieldError:
        """A list with too few items (the count is always shown, as upstream)."""
        if min_quantity >= 0:
            noun = _count_noun(min_quantity, "item", "items")
            detail = f"must have at least {min_quantity} {noun}"
        else:
            detail = "has too few items"
        return cls(ErrorType.TOO_FEW, _path_text(path), actual_quantity, detail)

    @classmethod
    def internal(cls, path: FieldPath | str, err: BaseException | str) -> FieldError:
        """A failure not caused by the user's input; the detail is the error's text."""
        return cls(ErrorType.INTERNAL, _path_text(path), err, str(err))


# --------------------------------------------------------------------------------------------
# Aggregates and the Invalid status error


def _dedupe(messages: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for m in messages:
        if m not in seen:
            seen.add(m)
            out.append(m)
    return out


def aggregate_message(errors: Iterable[FieldError]) -> str:
    """Several errors as one message, as ``ErrorList.ToAggregate().Error()`` renders them.

    Repeated messages are dropped (first kept); one message stands alone; two or more are
    joined with ``", "`` inside brackets: ``[a, b]``. No errors gives ``""``.
    """
    messages = _dedupe(str(e) for e in errors)
    if len(messages) <= 1:
        return messages[0] if messages else ""
    return "[" + ", ".join(messages) + "]"


class InvalidObjectError(Exception):
    """An object failed validation: the API server's 422 ``Invalid`` StatusError.

    ``str(err)`` is the Status ``message`` upstream's ``errors.NewInvalid`` builds —
    ``Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: ...`` or, for
    several errors, ``Service "web" is invalid: [first, second]``. The ``The ...`` wording users
    see on a terminal is kubectl's own re-rendering; see :meth:`kubectl_message`.

    Not a dataclass: exceptions get attributes set on them by Python and by test tools
    (``__traceback__``, ``__notes__``), which a frozen dataclass would refuse.
    """

    code: ClassVar[int] = 422
    reason: ClassVar[str] = "Invalid"

    def __init__(
        self,
        kind: str,
        name: str,
        errors: Iterable[FieldError],
        *,
        group: str = "",
    ) -> None:
        self.kind: Final = kind
        self.name: Final = name
        self.group: Final = group
        self.errors: Final[tuple[FieldError, ...]] = tuple(errors)
        super().__init__(self.message)

    @property
    def qualified_kind(self) -> str:
        """``Kind`` for the core group, ``Kind.group`` otherwise (upstream GroupKind.String)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def message(self) -> str:
        """The Status message the API server returns."""
        head = f"{self.qualified_kind} {go_quote(self.name)} is invalid"
        agg = aggregate_message(self.errors)
        return f"{head}: {agg}" if agg else head

    @property
    def causes(self) -> tuple[tuple[str, str, str], ...]:
        """The Status details' causes: ``(type, message, field)`` per error, not de-duplicated."""
        return tuple((e.type.value, e.error_body(), e.field) for e in self.errors)

    def kubectl_message(self) -> str:
        """What ``kubectl apply``/``create`` prints for this error (without the final newline).

        kubectl ignores the Status message and rebuilds one from the details: the bare kind
        (no group) after ``The``, then one cause inline or several as ``* `` lines.
        """
        head = f"The {self.kind} {go_quote(self.name)} is invalid"
        causes = _dedupe(f"{f}: {m}" for _, m, f in self.causes)
        if not causes:
            return head
        if len(causes) == 1:
            return f"{head}: {causes[0]}"
        return f"{head}: \n" + "\n".join(f"* {c}" for c in causes)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_invalid, (self.kind, self.name, self.errors, self.group))


def _rebuild_invalid(
    kind: str, name: str, errors: Sequence[FieldError], group: str
) -> InvalidObjectError:
    return InvalidObjectError(kind, name, errors, group=group)
