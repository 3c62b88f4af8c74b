"""Field paths, field errors and the Invalid status error, checked against upstream's own tests.

Expected strings are copied from (k8s.io/apimachinery unless noted):
  [path]    pkg/util/validation/field/path_test.go
  [errors]  pkg/util/validation/field/errors_test.go  (TestErrorFormatting)
  [invalid] pkg/api/errors/errors_test.go              (TestNewInvalid)
  [agg]     pkg/util/errors/errors_test.go
  [kubectl] kubernetes staging/src/k8s.io/kubectl/pkg/cmd/util/helpers.go (checkErr, MultilineError)
  [quote]   golang/go src/strconv/quote_test.go      (quotetests)
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

from podnet.api.errors import (
    OMIT_VALUE,
    ErrorType,
    FieldError,
    FieldPath,
    GoLiteral,
    GoStruct,
    InvalidObjectError,
    aggregate_message,
    go_quote,
)

# ---------------------------------------------------------------------------------- FieldPath


def _up(q: FieldPath) -> FieldPath:
    parent = q.parent
    assert parent is not None
    return parent


def test_path_builds_like_upstream() -> None:
    # [path] TestPath: each step applied to the previous step's path.
    steps: list[tuple[Callable[[FieldPath], FieldPath], str]] = [
        (lambda q: q, "root"),
        (lambda q: q.child("first"), "root.first"),
        (lambda q: q.child("second"), "root.first.second"),
        (lambda q: q.index(0), "root.first.second[0]"),
        (lambda q: q.child("third"), "root.first.second[0].third"),
        (lambda q: q.index(93), "root.first.second[0].third[93]"),
        (_up, "root.first.second[0].third"),
        (_up, "root.first.second[0]"),
        (lambda q: q.key("key"), "root.first.second[0][key]"),
    ]
    p = FieldPath.root("root")
    for op, expected in steps:
        p = op(p)
        assert str(p) == expected


def test_path_multi_arg() -> None:
    # [path] TestPathMultiArg
    p = FieldPath.root("root", "first")
    assert str(p) == "root.first"
    p = p.child("second", "third")
    assert str(p) == "root.first.second.third"
    assert str(p.index(0)) == "root.first.second.third[0]"


def test_path_examples_and_immutability() -> None:
    spec = FieldPath.root("spec")
    port = spec.child("ports").index(0).child("port")
    assert str(port) == "spec.ports[0].port"
    assert str(spec) == "spec"  # building on a path never changes it
    assert str(FieldPath.root("metadata").child("labels").key("foo")) == "metadata.labels[foo]"
    assert FieldPath.root("a").parent is None
    assert port == FieldPath.root("spec").child("ports").index(0).child("port")
    assert hash(port) == hash(FieldPath.root("spec", "ports").index(0).child("port"))


def test_path_empty_name_renders_as_subscript() -> None:
    # An element with an empty name is a subscript upstream, so NewPath("") prints "[]".
    assert str(FieldPath.root("")) == "[]"
    assert str(FieldPath.root("").child("x")) == "[].x"


# ------------------------------------------------------------------------------- FieldError

F = "path.to.field"


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        # [errors] TestErrorFormatting — raw structs
        (FieldError(ErrorType.REQUIRED, F, "the value", "the details"),
         "path.to.field: Required value: the details"),
        (FieldError(ErrorType.FORBIDDEN, F, "the value", "the details"),
         "path.to.field: Forbidden: the details"),
        (FieldError(ErrorType.TOO_LONG, F, "the value", "the details"),
         "path.to.field: Too long: the details"),
        (FieldError(ErrorType.TOO_MANY, F, "the value", "the details"),
         'path.to.field: Too many: "the value": the details'),
        (FieldError(ErrorType.INTERNAL, F, "the value", "the details"),
         "path.to.field: Internal error: the details"),
        (FieldError(ErrorType.INVALID, F, "the value", "the details"),
         'path.to.field: Invalid value: "the value": the details'),
        (FieldError(ErrorType.INVALID, F, -42, "the details"),
         "path.to.field: Invalid value: -42: the details"),
        (FieldError(ErrorType.INVALID, F, True, "the details"),
         "path.to.field: Invalid value: true: the details"),
        (FieldError(ErrorType.INVALID, F, ["one", "two", "three"], "the details"),
         'path.to.field: Invalid value: ["one","two","three"]: the details'),
        (FieldError(ErrorType.INVALID, F, {"one": 1, "two": 2, "three": 3}, "the details"),
         'path.to.field: Invalid value: {"one":1,"three":3,"two":2}: the details'),
        (FieldError(ErrorType.INVALID, F, OMIT_VALUE, "the details"),
         "path.to.field: Invalid value: the details"),
        (FieldError(ErrorType.INVALID, F, None, "the details"),
         "path.to.field: Invalid value: null: the details"),
        (FieldError(ErrorType.NOT_FOUND, F, "the value", "the details"),
         'path.to.field: Not found: "the value": the details'),
        (FieldError(ErrorType.NOT_SUPPORTED, F, "the value", "the details"),
         'path.to.field: Unsupported value: "the value": the details'),
        (FieldError(ErrorType.DUPLICATE, F, "the value", "the details"),
         'path.to.field: Duplicate value: "the value": the details'),
        (FieldError(ErrorType.TYPE_INVALID, F, "the value", "the details"),
         'path.to.field: Invalid value: "the value": the details'),
        # [errors] TestErrorFormatting — constructor functions
        (FieldError.required(FieldPath.root(F), "the details"),
         "path.to.field: Required value: the details"),
        (FieldError.forbidden(FieldPath.root(F), "the details"),
         "path.to.field: Forbidden: the details"),
        (FieldError.too_long(FieldPath.root(F), "the value", 1),
         "path.to.field: Too long: may not be more than 1 byte"),
        (FieldError.too_long(FieldPath.root(F), "the value", 2),
         "path.to.field: Too long: may not be more than 2 bytes"),
        (FieldError.too_long(FieldPath.root(F), "the value", -1),
         "path.to.field: Too long: value is too long"),
        (FieldError.too_many(FieldPath.root(F), 2, 1),
         "path.to.field: Too many: 2: must have at most 1 item"),
        (FieldError.too_many(FieldPath.root(F), 3, 2),
         "path.to.field: Too many: 3: must have at most 2 items"),
        (FieldError.too_many(FieldPath.root(F), 2, -1),
         "path.to.field: Too many: 2: has too many items"),
        (FieldError.too_many(FieldPath.root(F), -1, 1),
         "path.to.field: Too many: must have at most 1 item"),
        (FieldError.internal(FieldPath.root(F), RuntimeError("the error")),
         "path.to.field: Internal error: the error"),
        (FieldError.invalid(FieldPath.root(F), "the value", "the details"),
         'path.to.field: Invalid value: "the value": the details'),
        (FieldError.not_supported(FieldPath.root(F), "the value", ["val1", "val2"]),
         'path.to.field: Unsupported value: "the value": supported values: "val1", "val2"'),
        (FieldError.duplicate(FieldPath.root(F), "the value"),
         'path.to.field: Duplicate value: "the value"'),
        (FieldError.type_invalid(FieldPath.root(F), "the value", "the details"),
         'path.to.field: Invalid value: "the value": the details'),
    ],
)
def test_error_formatting_matches_upstream(err: FieldError, expected: str) -> None:
    assert str(err) == expected


META_NAME = FieldPath.root("metadata", "name")


def test_brief_examples() -> None:
    port = FieldPath.root("spec").child("ports").index(0).child("port")
    # Message text from pkg/util/validation/validation.go InclusiveRangeError(1, 65535).
    assert (
        str(FieldError.invalid(port, 70000, "must be between 1 and 65535, inclusive"))
        == "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
    )
    # The sorted supported-types list pkg/apis/core/validation ValidateService passes.
    types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    assert (
        str(FieldError.not_supported(FieldPath.root("spec", "type"), "Foo", types))
        == 'spec.type: Unsupported value: "Foo": supported values: '
        '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'
    )
    # pkg/api/validation/objectmeta.go ValidateObjectMetaAccessor.
    assert (
        str(FieldError.required(META_NAME, "name or generateName is required"))
        == "metadata.name: Required value: name or generateName is required"
    )


def test_not_supported_without_values_and_with_enums() -> None:
    import enum

    class Proto(str, enum.Enum):
        TCP = "TCP"
        UDP = "UDP"

    # [invalid] NotSupported with a nil list prints no detail.
    assert str(FieldError.not_supported("f", "bar", [])) == 'f: Unsupported value: "bar"'
    # A str-valued enum is a Go string type: rendered as its value ([errors] "invalid string type").
    assert (
        str(FieldError.not_supported("p", Proto.TCP, [Proto.TCP, Proto.UDP]))
        == 'p: Unsupported value: "TCP": supported values: "TCP", "UDP"'
    )


def test_required_and_forbidden_never_show_a_value() -> None:
    assert str(FieldError.required("metadata.namespace")) == "metadata.namespace: Required value"
    assert FieldError.required("x").bad_value == ""


def test_too_long_hides_the_value_and_other_constructors() -> None:
    err = FieldError.too_long("metadata.annotations", "x" * 300000, 262144)
    assert str(err) == "metadata.annotations: Too long: may not be more than 262144 bytes"
    assert err.bad_value == "<value omitted>"
    assert (
        str(FieldError.too_long_characters("f", "abc", 1))
        == "f: Too long: may not be more than 1 character"
    )
    assert str(FieldError.too_short("f", "ab", 3)) == "f: Too short: must be at least 3 characters"
    assert str(FieldError.too_few("f", 0, 1)) == "f: Too few: 0: must have at least 1 item"
    assert str(FieldError.not_found("f", "bar")) == 'f: Not found: "bar"'


def test_value_rendering_of_python_types() -> None:
    def body(v: object) -> str:
        return FieldError.invalid("f", v, "").error_body()

    assert body("Foo_bar") == 'Invalid value: "Foo_bar"'
    assert body(80) == "Invalid value: 80"
    assert body(False) == "Invalid value: false"
    assert body(None) == "Invalid value: null"
    assert body(("a", 1, None)) == 'Invalid value: ["a",1,null]'
    assert body([]) == "Invalid value: []"
    assert body({}) == "Invalid value: {}"
    # Go's %v for float64 and encoding/json's HTML-safe escaping.
    assert body(0.5) == "Invalid value: 0.5"
    assert body(3.0) == "Invalid value: 3"
    assert body(1e6) == "Invalid value: 1e+06"
    assert body(["<a&b>"]) == 'Invalid value: ["\\u003ca\\u0026b\\u003e"]'
    assert body([1e21, 1e-7, 2.5]) == "Invalid value: [1e+21,1e-7,2.5]"


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        # [quote] quotetests (Quote column)
        ("\a\b\f\r\n\t\v", '"\\a\\b\\f\\r\\n\\t\\v"'),
        ("\\", '"\\\\"'),
        ("\u263a", '"☺"'),
        ("\U0010ffff", '"\\U0010ffff"'),
        ("\x04", '"\\x04"'),
        ("!\u00a0!\u2000!\u3000!", '"!\\u00a0!\\u2000!\\u3000!"'),
        ("\x7f", '"\\x7f"'),
        ('say "hi"', '"say \\"hi\\""'),
    ],
)
def test_go_quote(raw: str, quoted: str) -> None:
    assert go_quote(raw) == quoted


INT_OR_STRING = GoStruct("intstr.IntOrString", (("Type", 0), ("IntVal", 0), ("StrVal", "")))


def test_duplicate_of_internal_struct_renders_as_go_syntax() -> None:
    # Internal API types cannot be JSON-marshalled, so errors.go falls back to %#v; this is
    # the Duplicate error the API server returns for two ports 443/TCP.
    port = GoStruct(
        "core.ServicePort",
        (
            ("Name", ""),
            ("Protocol", "TCP"),
            ("AppProtocol", GoLiteral("(*string)(nil)")),
            ("Port", 443),
            ("TargetPort", INT_OR_STRING),
            ("NodePort", 0),
        ),
    )
    assert str(FieldError.duplicate(FieldPath.root("spec", "ports").index(2), port)) == (
        'spec.ports[2]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
        "AppProtocol:(*string)(nil), Port:443, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
        'StrVal:""}, NodePort:0}'
    )


def test_field_error_is_frozen_and_comparable() -> None:
    a = FieldError.invalid("f", "v", "d")
    assert a == FieldError.invalid(FieldPath.root("f"), "v", "d")
    with pytest.raises(AttributeError):
        a.detail = "x"  # type: ignore[misc]
    assert a.type is ErrorType.INVALID and a.type.value == "FieldValueInvalid"


# ------------------------------------------------------------------- aggregate and NewInvalid


def test_aggregate_message() -> None:
    a = FieldError.invalid("a", 1, "x")
    b = FieldError.invalid("b", 2, "y")
    assert aggregate_message([]) == ""
    assert aggregate_message([a]) == "a: Invalid value: 1: x"
    # [agg] two errors -> "[abc, 123]"; duplicates dropped, first kept.
    assert aggregate_message([a, b]) == "[a: Invalid value: 1: x, b: Invalid value: 2: y]"
    assert aggregate_message([a, a, b]) == "[a: Invalid value: 1: x, b: Invalid value: 2: y]"
    assert aggregate_message([a, a]) == "a: Invalid value: 1: x"


@pytest.mark.parametrize(
    ("err", "message"),
    [
        # [invalid] TestNewInvalid
        (FieldError.duplicate(FieldPath.root("field[0].name"), "bar"),
         'Kind "name" is invalid: field[0].name: Duplicate value: "bar"'),
        (FieldError.invalid(FieldPath.root("field[0].name"), "bar", "detail"),
         'Kind "name" is invalid: field[0].name: Invalid value: "bar": detail'),
        (FieldError.not_found(FieldPath.root("field[0].name"), "bar"),
         'Kind "name" is invalid: field[0].name: Not found: "bar"'),
        (FieldError.not_supported(FieldPath.root("field[0].name"), "bar", []),
         'Kind "name" is invalid: field[0].name: Unsupported value: "bar"'),
        (FieldError.required(FieldPath.root("field[0].name"), ""),
         'Kind "name" is invalid: field[0].name: Required value'),
        (None, 'Kind "name" is invalid'),
    ],
)
def test_new_invalid_message(err: FieldError | None, message: str) -> None:
    e = InvalidObjectError("Kind", "name", [err] if err else [])
    assert str(e) == message == e.message
    assert e.code == 422 and e.reason == "Invalid"
    if err:
        assert e.causes == ((err.type.value, err.error_body(), "field[0].name"),)


def test_invalid_service_single_and_several() -> None:
    port = FieldError.invalid(
        FieldPath.root("spec", "ports").index(0).child("port"),
        70000,
        "must be between 1 and 65535, inclusive",
    )
    typ = FieldError.not_supported(FieldPath.root("spec", "type"), "Foo", ["ClusterIP"])
    one = InvalidObjectError("Service", "web", [port])
    assert str(one) == (
        'Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: '
        "must be between 1 and 65535, inclusive"
    )
    two = InvalidObjectError("Service", "web", (port, typ))
    assert str(two) == (
        'Service "web" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between '
        '1 and 65535, inclusive, spec.type: Unsupported value: "Foo": '
        'supported values: "ClusterIP"]'
    )
    # [kubectl] kubectl prints "The <Kind> ...", one cause inline, several as "* " lines.
    assert one.kubectl_message() == "The " + str(one)
    assert two.kubectl_message() == (
        'The Service "web" is invalid: \n'
        "* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n"
        '* spec.type: Unsupported value: "Foo": supported values: "ClusterIP"'
    )
    none = InvalidObjectError("Service", "web", [])
    assert none.kubectl_message() == 'The Service "web" is invalid'


def test_invalid_group_kind_and_pickling() -> None:
    err = FieldError.invalid("spec.replicas", -1, "must be greater than or equal to 0")
    e = InvalidObjectError("Deployment", "web", [err], group="apps")
    # GroupKind.String() in the status message; kubectl uses the bare kind.
    assert str(e).startswith('Deployment.apps "web" is invalid: ')
    assert e.kubectl_message().startswith('The Deployment "web" is invalid: ')
    back = pickle.loads(pickle.dumps(e))
    assert isinstance(back, InvalidObjectError)
    assert (back.kind, back.name, back.group, back.errors, str(back)) == (
        e.kind, e.name, e.group, e.errors, str(e),
    )
    with pytest.raises(InvalidObjectError, match=r"is invalid"):
        raise e
