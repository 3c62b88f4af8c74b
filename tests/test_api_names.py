"""Name, label, port and address validators, checked against upstream's tests and messages.

Cases and expected strings are copied from (k8s.io/apimachinery unless noted):
  [val]     pkg/util/validation/validation_test.go (and messages in validation.go)
  [kube]    pkg/api/validate/content/kube_test.go  (messages in kube.go, errors.go)
  [ip]      pkg/util/validation/ip_test.go
  [generic] pkg/api/validation/generic_test.go
  [meta]    pkg/api/validation/objectmeta_test.go (messages in objectmeta.go)
  [core]    kubernetes pkg/apis/core/validation/validation.go (ValidateServiceName)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from podnet.api.errors import FieldError, FieldPath
from podnet.api.names import (
    TOTAL_ANNOTATION_SIZE_LIMIT_B,
    _mask_trailing_dash,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_in_range,
    is_qualified_name,
    is_valid_cidr,
    is_valid_cidr_for_legacy_field,
    is_valid_ip,
    is_valid_ip_for_legacy_field,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    name_is_dns1035_label,
    name_is_dns_subdomain,
    regex_error,
    validate_annotations,
    validate_cidr,
    validate_ip,
    validate_labels,
    validate_object_meta,
    validate_object_meta_of,
    validate_object_name,
    validate_port_name,
    validate_port_num,
)

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
# [val] TestIsDomainPrefixedKey expectations.
LABEL_KEY_NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_KEY_SLASHES_MSG = (
    "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
    "subdomain prefix and '/' (e.g. 'example.com/MyName')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


# ------------------------------------------------------------------------------ DNS names


@pytest.mark.parametrize(
    "value",
    ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2",
     "a" * 63],
)
def test_dns1123_label_good(value: str) -> None:  # [val] TestIsDNS1123Label
    assert is_dns1123_label(value) == []


@pytest.mark.parametrize(
    "value",
    ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a",
     "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a",
     "a b", "1 ", " 1", "1 2", "a" * 64, "a\n"],
)
def test_dns1123_label_bad(value: str) -> None:  # [val] TestIsDNS1123Label
    assert is_dns1123_label(value) != []


def test_dns1123_label_messages() -> None:
    assert is_dns1123_label("Foo_bar") == [DNS1123_LABEL_MSG]
    # A valid subdomain that is not a label is told about its dots, not the regex.
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]
    assert is_dns1123_label("A" * 64) == ["must be no more than 63 characters", DNS1123_LABEL_MSG]


@pytest.mark.parametrize(
    "value",
    ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2",
     "a.a", "ab.a", "abc.a", "a1.a", "a-1.a", "a--1--2--b.a", "a.1", "ab.1", "abc.1", "a1.1",
     "a-1.1", "a--1--2--b.1", "0.a", "01.a", "012.a", "1a.a", "1-a.a", "0.1", "01.1", "012.1",
     "1a.1", "1-a.1", "1--a--b--2.1", "a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5",
     "11.22.33.44.55", "a" * 253],
)
def test_dns1123_subdomain_good(value: str) -> None:  # [val] TestIsDNS1123Subdomain
    assert is_dns1123_subdomain(value) == []


@pytest.mark.parametrize(
    "value",
    ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a",
     "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a..b", "1.", ".1", "1..2", " ", "a ", " a",
     "a b", "1 ", " 1", "1 2", "A.a", "aB.a", "ab.A", "A1.a", "a1.A", "A.1", "aB.1", "A1.1",
     "1A.1", "0.A", "01.A", "012.A", "1A.a", "1a.A", "A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e",
     "aa.bB.cc.dd.ee", "a@b", "a,b", "a_b", "a;b", "a:b", "a%b", "a?b", "a$b", "a" * 254],
)
def test_dns1123_subdomain_bad(value: str) -> None:  # [val] TestIsDNS1123Subdomain
    assert is_dns1123_subdomain(value) != []


def test_dns1123_subdomain_messages() -> None:
    assert is_dns1123_subdomain("Foo") == [DNS1123_SUBDOMAIN_MSG]
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]


@pytest.mark.parametrize("value", ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "a" * 63])
def test_dns1035_label_good(value: str) -> None:  # [val] TestIsDNS1035Label
    assert is_dns1035_label(value) == []


@pytest.mark.parametrize(
    "value",
    ["0", "01", "012", "1a", "1-a", "1--a--b--2", "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-",
     "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b",
     "1.", ".1", "1.2", " ", "a ", " a", "a b", "1 ", " 1", "1 2", "a" * 64],
)
def test_dns1035_label_bad(value: str) -> None:  # [val] TestIsDNS1035Label
    assert is_dns1035_label(value) != []


def test_dns1035_label_message_keeps_upstream_double_space() -> None:
    assert is_dns1035_label("1abc") == [DNS1035_LABEL_MSG]
    assert "'my-name',  or 'abc-123'" in DNS1035_LABEL_MSG
    assert regex_error("m", "re") == "m (regex used for validation is 're')"


def test_service_names_are_dns1035_labels() -> None:
    # [core] ValidateServiceName = NameIsDNS1035Label: "123-abc" is a fine Pod name, not a Service.
    assert name_is_dns1035_label("123-abc", False) == [DNS1035_LABEL_MSG]
    assert name_is_dns_subdomain("123-abc", False) == []
    path = FieldPath.root("metadata", "name")
    errs = validate_object_name("Foo_bar", path, name_is_dns1035_label)
    assert [str(e) for e in errs] == [
        f'metadata.name: Invalid value: "Foo_bar": {DNS1035_LABEL_MSG}'
    ]


# --------------------------------------------------------------------------------- labels

GOOD_KEYS = [
    "simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple",
    "now-with-dashes/simple", "now-with-dashes/now-with-dashes", "now.with.dots/simple",
    "now-with.dashes-and.dots/simple", "1-num.2-num/3-num", "1234/5678", "1.2.3.4/5678",
    "Uppercase_Is_OK_123", "example.com/Uppercase_Is_OK_123", "requests.storage-foo", "a" * 63,
    "a" * 253 + "/" + "b" * 63,
]
BAD_KEYS = [
    "nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-", "only/one/slash",
    "Example.com/abc", "example_com/abc", "example.com/", "/simple", "a" * 64, "a" * 254 + "/abc",
]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_qualified_name_good(key: str) -> None:  # [kube] TestIsLabelKey
    assert is_qualified_name(key) == []


@pytest.mark.parametrize("key", BAD_KEYS)
def test_qualified_name_bad(key: str) -> None:  # [kube] TestIsLabelKey
    assert is_qualified_name(key) != []


def test_qualified_name_messages() -> None:
    assert is_qualified_name("example/foo/bar") == [LABEL_KEY_SLASHES_MSG]
    assert is_qualified_name("/example/foo") == [LABEL_KEY_SLASHES_MSG]
    for key in ("example.com/_e", "example.com/e_", "example.com/e?", "example.com/e_$"):
        assert is_qualified_name(key) == [LABEL_KEY_NAME_PART_MSG]
    # The label-key helpers count bytes (content/errors.go MaxLenError), unlike DNS names.
    assert is_qualified_name("a" * 64) == ["name part must be no more than 63 bytes"]
    assert is_qualified_name("example.com/") == [
        "name part must be non-empty",
        LABEL_KEY_NAME_PART_MSG,
    ]
    assert is_qualified_name("/simple") == ["prefix part must be non-empty"]
    assert is_qualified_name("Example.com/abc") == ["prefix part " + DNS1123_SUBDOMAIN_MSG]
    assert is_qualified_name("a" * 254 + "/abc") == ["prefix part must be no more than 253 bytes"]


@pytest.mark.parametrize(
    "value",
    ["simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", "a" * 63, ""],
)
def test_label_value_good(value: str) -> None:  # [kube] TestIsLabelValue
    assert is_valid_label_value(value) == []


@pytest.mark.parametrize(
    "value",
    ["nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun", "\\backslashes\\are\\bad",
     "-starts-with-dash", "ends-with-dash-", ".starts.with.dot", "ends.with.dot.", "a" * 64],
)
def test_label_value_bad(value: str) -> None:  # [kube] TestIsLabelValue
    assert is_valid_label_value(value) != []


def test_label_value_messages() -> None:
    assert is_valid_label_value("-x") == [LABEL_VALUE_MSG]
    assert is_valid_label_value("a" * 64) == ["must be no more than 63 bytes"]
    # 32 two-byte characters are 64 bytes: too long in Go's terms though only 32 characters.
    assert is_valid_label_value("ā" * 32)[0] == "must be no more than 63 bytes"


def test_validate_labels_reports_at_the_labels_path() -> None:
    path = FieldPath.root("metadata", "labels")
    assert validate_labels({"app": "web", "tier": ""}, path) == []
    errs = validate_labels({"bad key": "ok", "app": "-bad"}, path)
    assert [str(e) for e in errs] == [
        f'metadata.labels: Invalid value: "bad key": {LABEL_KEY_NAME_PART_MSG}',
        f'metadata.labels: Invalid value: "-bad": {LABEL_VALUE_MSG}',
    ]


# ------------------------------------------------------------------------------- ports


@pytest.mark.parametrize("port", [1, 2, 1000, 16384, 32768, 65535])
def test_port_num_good(port: int) -> None:  # [val] TestIsValidPortNum
    assert is_valid_port_num(port) == []


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_port_num_bad(port: int) -> None:  # [val] TestIsValidPortNum
    assert is_valid_port_num(port) == ["must be between 1 and 65535, inclusive"]


def test_in_range() -> None:  # [val] TestIsInRange
    for value, lo, hi in [(1, 0, 10), (5, 5, 20), (25, 10, 25)]:
        assert is_in_range(value, lo, hi) == []
    for value, lo, hi in [(1, 2, 10), (5, -4, 2), (25, 100, 120)]:
        assert is_in_range(value, lo, hi) == [f"must be between {lo} and {hi}, inclusive"]


@pytest.mark.parametrize(
    "name", ["telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c", "1-a-2-b-3"]
)
def test_port_name_good(name: str) -> None:  # [val] TestIsValidPortName
    assert is_valid_port_name(name) == []


@pytest.mark.parametrize(
    "name",
    ["longerthan15characters", "", "a" * 16, "12345", "1-2-3-4", "-begin", "end-",
     "two--hyphens", "whois++"],
)
def test_port_name_bad(name: str) -> None:  # [val] TestIsValidPortName
    assert is_valid_port_name(name) != []


def test_port_name_messages() -> None:
    assert is_valid_port_name("HTTP") == [
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        "must contain at least one letter (a-z)",
    ]
    assert is_valid_port_name("-") == [
        "must contain at least one letter (a-z)",
        "must not begin or end with a hyphen",
    ]
    assert is_valid_port_name("two--hyphens") == ["must not contain consecutive hyphens"]
    assert is_valid_port_name("a" * 16) == ["must be no more than 15 characters"]


def test_port_field_errors() -> None:
    p = FieldPath.root("spec", "ports").index(0)
    assert [str(e) for e in validate_port_num(70000, p.child("port"))] == [
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
    ]
    assert [str(e) for e in validate_port_name("http", p.child("name"))] == []
    assert [str(e) for e in validate_port_name("12345", p.child("name"))] == [
        'spec.ports[0].name: Invalid value: "12345": must contain at least one letter (a-z)'
    ]


# -------------------------------------------------------------------------- IPs and CIDRs

IP_INVALID = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
CIDR_INVALID = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"

# [ip] TestIsValidIP: (input, strict error, legacy non-strict error)
IP_CASES = [
    ("1.2.3.4", None, None),
    ("0.0.0.0", None, None),
    ("255.255.255.255", None, None),
    ("1234::abcd", None, None),
    ("::", None, None),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, None),
    ("0:0:0:0:0:0:0:0", 'must be in canonical form ("::")', None),
    ("0001:002:03:4::", 'must be in canonical form ("1:2:3:4::")', None),
    ("1234::ABCD", 'must be in canonical form ("1234::abcd")', None),
    ("1.1.1.01", "must not have leading 0s", None),
    ("::ffff:1.1.1.1", "must not be an IPv4-mapped IPv6 address", None),
    ("", IP_INVALID, IP_INVALID),
    ("aaaaaaa", IP_INVALID, IP_INVALID),
    ("myhost.mydomain", IP_INVALID, IP_INVALID),
    ("1.2.3.0/24", IP_INVALID, IP_INVALID),
    ("1.2.3.400", IP_INVALID, IP_INVALID),
    ("-1.0.0.0", IP_INVALID, IP_INVALID),
    ("2001:db8::10005", IP_INVALID, IP_INVALID),
    ("1.2.3.4:80", IP_INVALID, IP_INVALID),
    ("[2001:db8::1]", IP_INVALID, IP_INVALID),
    ("[2001:db8::1]:80", IP_INVALID, IP_INVALID),
    ("example.com:80", IP_INVALID, IP_INVALID),
    ("1234::abcd%eth0", IP_INVALID, IP_INVALID),
    ("169.254.0.0%eth0", IP_INVALID, IP_INVALID),
]


@pytest.mark.parametrize(("value", "err", "legacy_err"), IP_CASES)
def test_is_valid_ip(value: str, err: str | None, legacy_err: str | None) -> None:
    assert is_valid_ip(value) == ([err] if err else [])
    assert is_valid_ip_for_legacy_field(value, False) == ([legacy_err] if legacy_err else [])
    # Legacy fields with strict validation reject what strict IsValidIP rejects, bar canonical form.
    strict_legacy = is_valid_ip_for_legacy_field(value, True)
    assert strict_legacy == ([] if err is None or err.startswith("must be in canonical") else [err])
    assert is_valid_ip_for_legacy_field(value, True, [value]) == []


# [ip] TestIsValidCIDR: (input, strict error, legacy non-strict error)
CIDR_CASES = [
    ("1.0.0.0/8", None, None),
    ("0.0.0.0/0", None, None),
    ("1.1.1.1/32", None, None),
    ("2001:4860:4860::/48", None, None),
    ("::/0", None, None),
    ("::1/128", None, None),
    ("2a00:79e0:2:0::/64", 'must be in canonical form ("2a00:79e0:2::/64")', None),
    ("2001:DB8::/64", 'must be in canonical form ("2001:db8::/64")', None),
    ("1.1.01.0/24", "must not have leading 0s in IP or prefix length", None),
    ("::ffff:1.1.1.0/24", "must not have an IPv4-mapped IPv6 address", None),
    ("::ffff:1.1.1.0/120", "must not have an IPv4-mapped IPv6 address", None),
    ("1.2.3.4/24", "must not have bits set beyond the prefix length", None),
    ("2001:db8::1/64", "must not have bits set beyond the prefix length", None),
    ("192.168.0.0/016", "must not have leading 0s in IP or prefix length", None),
    ("", CIDR_INVALID, CIDR_INVALID),
    ("aaaaaaa", CIDR_INVALID, CIDR_INVALID),
    ("1.2.3.4", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.1/healthz", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.1/0/99", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.0/-16", CIDR_INVALID, CIDR_INVALID),
    ("192.168.0.0/+16", CIDR_INVALID, CIDR_INVALID),
    ("10.0.0.0/33", CIDR_INVALID, CIDR_INVALID),
]


@pytest.mark.parametrize(("value", "err", "legacy_err"), CIDR_CASES)
def test_is_valid_cidr(value: str, err: str | None, legacy_err: str | None) -> None:
    assert is_valid_cidr(value) == ([err] if err else [])
    assert is_valid_cidr_for_legacy_field(value, False) == ([legacy_err] if legacy_err else [])
    assert is_valid_cidr_for_legacy_field(value, True, [value]) == []


def test_ip_and_cidr_field_errors() -> None:
    path = FieldPath.root("spec", "clusterIPs").index(0)
    assert [str(e) for e in validate_ip("1.1.1.01", path)] == [
        'spec.clusterIPs[0]: Invalid value: "1.1.1.01": must not have leading 0s'
    ]
    src = FieldPath.root("spec", "loadBalancerSourceRanges").index(0)
    assert validate_cidr("10.0.0.0/8", src) == []
    assert [str(e) for e in validate_cidr("10.1.0.0/8", src)] == [
        'spec.loadBalancerSourceRanges[0]: Invalid value: "10.1.0.0/8": '
        "must not have bits set beyond the prefix length"
    ]


# ----------------------------------------------------------------------------- ObjectMeta


@pytest.mark.parametrize(
    ("before", "after"),
    [("", ""), ("-", "-"), ("-foo", "-foo"), ("-foo-", "-foa"), ("b-", "a"), ("ab", "ab")],
)
def test_mask_trailing_dash(before: str, after: str) -> None:  # [generic] TestMaskTrailingDash
    assert _mask_trailing_dash(before) == after


META = FieldPath.root("metadata")


def test_object_meta_valid_and_generate_name() -> None:
    assert validate_object_meta(
        name="web", namespace="default", namespaced=True, name_validator=name_is_dns1035_label
    ) == []
    # [meta] TestValidateObjectMetaTrimsTrailingDash
    assert validate_object_meta(
        name="test", generate_name="foo-", namespaced=False, name_validator=name_is_dns_subdomain
    ) == []


def test_object_meta_errors_in_upstream_order() -> None:
    errs = validate_object_meta(
        name="",
        namespace="foo.bar",
        generation=-1,
        labels={"app": "-x"},
        annotations={"-invalid": "val"},
        namespaced=True,
        name_validator=name_is_dns1035_label,
    )
    assert [str(e) for e in errs] == [
        "metadata.name: Required value: name or generateName is required",
        'metadata.namespace: Invalid value: "foo.bar": must not contain dots',
        "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
        f'metadata.labels: Invalid value: "-x": {LABEL_VALUE_MSG}',
        f'metadata.annotations: Invalid value: "-invalid": {LABEL_KEY_NAME_PART_MSG}',
    ]


def test_object_meta_namespace_rules() -> None:
    missing = validate_object_meta(
        name="web", namespaced=True, name_validator=name_is_dns_subdomain
    )
    assert [str(e) for e in missing] == ["metadata.namespace: Required value"]
    cluster = validate_object_meta(
        name="n1", namespace="default", namespaced=False, name_validator=name_is_dns_subdomain
    )
    assert [str(e) for e in cluster] == ["metadata.namespace: Forbidden: not allowed on this type"]
    # [meta] TestValidateObjectMetaNamespaces: a 64-character namespace gets two Invalid errors.
    long = validate_object_meta(
        name="test", namespace="A" * 64, namespaced=True, name_validator=name_is_dns_subdomain
    )
    assert len(long) == 2 and all("Invalid value" in str(e) for e in long)


def test_generate_name_is_checked_with_the_prefix_rule() -> None:
    errs = validate_object_meta(
        name="Bad", generate_name="Bad-", namespaced=False, name_validator=name_is_dns_subdomain
    )
    assert [e.field for e in errs] == ["metadata.generateName", "metadata.name"]
    assert errs[0] == FieldError.invalid(META.child("generateName"), "Bad-", DNS1123_SUBDOMAIN_MSG)


def test_annotations() -> None:  # [meta] TestValidateAnnotations
    path = FieldPath.root("field")
    good: list[Mapping[str, str]] = [
        {"simple": "bar"}, {"now-with-dashes": "bar"}, {"1-starts-with-num": "bar"},
        {"1234": "bar"},
        {"simple/simple": "bar"}, {"now-with-dashes/simple": "bar"},
        {"now-with-dashes/now-with-dashes": "bar"}, {"now.with.dots/simple": "bar"},
        {"now-with.dashes-and.dots/simple": "bar"}, {"1-num.2-num/3-num": "bar"},
        {"1234/5678": "bar"}, {"1.2.3.4/5678": "bar"}, {"UpperCase123": "bar"},
        {"a": "b" * (TOTAL_ANNOTATION_SIZE_LIMIT_B - 1)},
        {"a": "b" * (TOTAL_ANNOTATION_SIZE_LIMIT_B // 2 - 1),
         "c": "d" * (TOTAL_ANNOTATION_SIZE_LIMIT_B // 2 - 1)},
    ]
    for annotations in good:
        assert validate_annotations(annotations, path) == []
    for annotations, expect in [
        ({"nospecialchars^=@": "bar"}, "name part must consist of"),
        ({"cantendwithadash-": "bar"}, "name part must consist of"),
        ({"only/one/slash": "bar"}, "a valid label key must consist of"),
        ({"a" * 254: "bar"}, "must be no more than"),
    ]:
        errs = validate_annotations(annotations, path)
        assert len(errs) == 1 and expect in errs[0].detail
    for annotations in [
        {"a": "b" * TOTAL_ANNOTATION_SIZE_LIMIT_B},
        {"a": "b" * (TOTAL_ANNOTATION_SIZE_LIMIT_B // 2),
         "c": "d" * (TOTAL_ANNOTATION_SIZE_LIMIT_B // 2)},
    ]:
        errs = validate_annotations(annotations, path)
        assert [str(e) for e in errs] == ["field: Too long: may not be more than 262144 bytes"]


@dataclass(frozen=True, slots=True)
class _Meta:
    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    generation: int | None = None


def test_validate_object_meta_of_reads_a_metadata_object() -> None:
    meta = _Meta(name="Web", namespace="default", labels={"app": "web"})
    errs = validate_object_meta_of(meta, namespaced=True, name_validator=name_is_dns1035_label)
    assert [str(e) for e in errs] == [f'metadata.name: Invalid value: "Web": {DNS1035_LABEL_MSG}']
