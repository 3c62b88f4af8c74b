"""Name, label, port and address validators with the API server's exact wording.

A user who mistypes a Service name should read in podnet the very sentence a real cluster would
print, so messages and regexes here reproduce upstream's behaviour and text (not its code):

* k8s.io/apimachinery ``pkg/util/validation/validation.go`` — DNS names, ports, ranges;
* ``pkg/api/validate/content/kube.go`` and ``dns.go`` — label keys and values (note these say
  ``bytes`` where the older helpers say ``characters``; see :func:`is_qualified_name`);
* ``pkg/util/validation/ip.go`` (with k8s.io/utils ``net/parse.go``) — IPs and CIDRs;
* ``pkg/api/validation/generic.go`` and ``objectmeta.go`` — object names and metadata.

The ``is_*`` functions return a list of messages, empty when the value is valid, as upstream's
do; the ``validate_*`` helpers wrap them into :class:`~podnet.api.errors.FieldError` at a path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Protocol, TypeAlias

from podnet.api.errors import FieldError, FieldPath

__all__ = [
    "DNS1035_LABEL_MAX_LENGTH",
    "DNS1123_LABEL_MAX_LENGTH",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "IS_NEGATIVE_ERROR_MSG",
    "LABEL_VALUE_MAX_LENGTH",
    "TOTAL_ANNOTATION_SIZE_LIMIT_B",
    "NameValidator",
    "ObjectMetaLike",
    "empty_error",
    "inclusive_range_error",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_in_range",
    "is_qualified_name",
    "is_valid_cidr",
    "is_valid_cidr_for_legacy_field",
    "is_valid_ip",
    "is_valid_ip_for_legacy_field",
    "is_valid_label_value",
    "is_valid_port_name",
    "is_valid_port_num",
    "max_len_error",
    "name_is_dns1035_label",
    "name_is_dns_label",
    "name_is_dns_subdomain",
    "regex_error",
    "validate_annotations",
    "validate_cidr",
    "validate_ip",
    "validate_label_name",
    "validate_labels",
    "validate_namespace_name",
    "validate_nonnegative_field",
    "validate_object_meta",
    "validate_object_meta_of",
    "validate_object_name",
    "validate_port_name",
    "validate_port_num",
]

# --------------------------------------------------------------------------------------------
# Message builders (upstream's MaxLenError, RegexError, ...)

DNS1123_LABEL_MAX_LENGTH: Final = 63
DNS1123_SUBDOMAIN_MAX_LENGTH: Final = 253
DNS1035_LABEL_MAX_LENGTH: Final = 63
LABEL_VALUE_MAX_LENGTH: Final = 63
_LABEL_KEY_NAME_MAX_LENGTH: Final = 63
_PORT_NAME_MAX_LENGTH: Final = 15
#: Total bytes of all annotation keys and values (256 KiB).
TOTAL_ANNOTATION_SIZE_LIMIT_B: Final = 256 * (1 << 10)
IS_NEGATIVE_ERROR_MSG: Final = "must be greater than or equal to 0"


def max_len_error(length: int) -> str:
    """Over-length message of the DNS-name and port-name validators (counts ``characters``)."""
    return f"must be no more than {length} characters"


def _max_len_bytes_error(length: int) -> str:
    """Over-length message of the label key/value validators, which say ``bytes``."""
    return f"must be no more than {length} bytes"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """A regex-failure message with examples.

    Upstream ends every example with ``', '`` and puts ``' or '`` before the next, hence the
    double space in ``'my-name',  or '123-abc'``: that spacing is upstream's and kept.
    """
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {listed}regex used for validation is '{fmt}')"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _byte_len(value: str) -> int:
    """Go's ``len`` of a string: its UTF-8 byte count, which is what the limits are in."""
    return len(value.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------------------------
# DNS names

_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_ERR: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT: Final = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_ERR: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_ERR: Final = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)

# fullmatch, not match-with-$: Python's $ also matches before a trailing newline, Go's does not.
_DNS1123_LABEL_RE: Final = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE: Final = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE: Final = re.compile(_DNS1035_LABEL_FMT)


def is_dns1123_label(value: str) -> list[str]:
    """RFC 1123 label (namespace names, most label-like names): at most 63 characters."""
    errs: list[str] = []
    if _byte_len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # A valid subdomain that is not a label: with length already checked, it has dots.
            errs.append("must not contain dots")
        else:
            errs.append(
                regex_error(_DNS1123_LABEL_ERR, _DNS1123_LABEL_FMT, "my-name", "123-abc")
            )
    return errs


def _is_dns1123_subdomain(value: str, too_long: Callable[[int], str]) -> list[str]:
    errs: list[str] = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(too_long(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_ERR, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain (most object names): dot-separated labels, at most 253 characters."""
    return _is_dns1123_subdomain(value, max_len_error)


def is_dns1035_label(value: str) -> list[str]:
    """RFC 1035 label: like a 1123 label but must start with a letter. Service names use it."""
    errs: list[str] = []
    if _byte_len(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_ERR, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


# --------------------------------------------------------------------------------------------
# Labels

_LABEL_KEY_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_ERR: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_KEY_RE: Final = re.compile(_LABEL_KEY_FMT)
_LABEL_VALUE_FMT: Final = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_VALUE_ERR: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_RE: Final = re.compile(_LABEL_VALUE_FMT)


def is_qualified_name(value: str) -> list[str]:
    """A label key (also annotation keys, finalizers): ``[prefix/]name``.

    The optional prefix is a DNS subdomain; the name is at most 63 bytes of alphanumerics,
    ``-``, ``_``, ``.``. Since Kubernetes 1.35 the length messages here say ``bytes`` (the
    ``content`` package), unlike :func:`is_dns1123_label`'s ``characters``.
    """
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend(
                "prefix part " + m for m in _is_dns1123_subdomain(prefix, _max_len_bytes_error)
            )
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_ERR, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif _byte_len(name) > _LABEL_KEY_NAME_MAX_LENGTH:
        errs.append("name part " + _max_len_bytes_error(_LABEL_KEY_NAME_MAX_LENGTH))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append(
            "name part "
            + regex_error(_LABEL_KEY_ERR, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """A label value: empty, or up to 63 bytes shaped like a label key's name part."""
    errs: list[str] = []
    if _byte_len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(_max_len_bytes_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_ERR, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# --------------------------------------------------------------------------------------------
# Ports and ranges

_PORT_NAME_CHARSET_RE: Final = re.compile("[-a-z0-9]+")
_PORT_NAME_ONE_LETTER_RE: Final = re.compile("[a-z]")


def is_valid_port_num(port: int) -> list[str]:
    """A TCP/UDP/SCTP port number: 1–65535 (0 is not a port you can name)."""
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_in_range(value: int, lo: int, hi: int) -> list[str]:
    """``lo <= value <= hi``."""
    return [] if lo <= value <= hi else [inclusive_range_error(lo, hi)]


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME (RFC 6335), lower-case only: what ``targetPort: http`` refers to.

    Every failed rule is reported, in upstream's order, so ``"-"`` gets three messages.
    """
    errs: list[str] = []
    if _byte_len(port) > _PORT_NAME_MAX_LENGTH:
        errs.append(max_len_error(_PORT_NAME_MAX_LENGTH))
    if not _PORT_NAME_CHARSET_RE.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_ONE_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


# --------------------------------------------------------------------------------------------
# IP addresses and CIDRs
#
# Upstream first parses "sloppily" (Go's net.ParseIP, retried with leading zeros stripped from
# an IPv4 part, as k8s.io/utils ParseIPSloppy does) and then strictly (netip.ParseAddr), so a
# value with leading zeros is *recognised* as an IP and gets a specific message.

_IP_INVALID: Final = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_CIDR_INVALID: Final = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"

# Strips leading zeros from a trailing dotted-quad (and an optional prefix length).
_MATCH_ZEROS: Final = re.compile(
    r"(^|:)0*(0|[1-9][0-9]*)\.0*(0|[1-9][0-9]*)\.0*(0|[1-9][0-9]*)\.0*(0|[1-9][0-9]*)"
    r"((/)0*(0|[1-9][0-9]*))?\Z"
)

_Addr: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def _strip_zeros(value: str) -> str:
    return _MATCH_ZEROS.sub(r"\1\2.\3.\4.\5\7\8", value)


def _parse_addr_strict(value: str) -> _Addr | None:
    """Go's netip.ParseAddr without zones (as net.ParseIP): no leading zeros, no ``%eth0``."""
    if "%" in value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _parse_ip_sloppy(value: str) -> _Addr | None:
    return _parse_addr_strict(value) or _parse_addr_strict(_strip_zeros(value))


def _is_4in6(addr: _Addr) -> bool:
    return isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None


def _go_ip_string(addr: _Addr) -> str:
    """Go's net.IP.String(): IPv4-mapped addresses print as plain IPv4."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _ip_messages(value: str, strict: bool) -> tuple[_Addr | None, list[str]]:
    addr = _parse_ip_sloppy(value)
    if addr is None:
        return None, [_IP_INVALID]
    errs: list[str] = []
    if strict:
        exact = _parse_addr_strict(value)
        if exact is None:
            # The sloppy parse only succeeded after stripping zeros.
            errs.append("must not have leading 0s")
        elif _is_4in6(exact):
            errs.append("must not be an IPv4-mapped IPv6 address")
    return addr, errs


def is_valid_ip(value: str) -> list[str]:
    """An IP address in canonical form (upstream IsValidIP; used for new fields).

    Upstream returns these as Invalid field errors at the field; see :func:`validate_ip`.
    """
    addr, errs = _ip_messages(value, strict=True)
    if errs or addr is None:
        return errs
    canonical = _go_ip_string(addr)
    if value != canonical:
        return [f'must be in canonical form ("{canonical}")']
    return []


def is_valid_ip_for_legacy_field(
    value: str, strict_validation: bool = True, valid_old_ips: Iterable[str] = ()
) -> list[str]:
    """An IP for fields older than strict IP validation (e.g. Service ``clusterIP``).

    Non-canonical IPv6 is accepted; with ``strict_validation`` off, so are leading zeros and
    IPv4-mapped IPv6. Values listed in ``valid_old_ips`` (from the object being updated) pass.
    """
    if value in valid_old_ips:
        return []
    return _ip_messages(value, strict_validation)[1]


def _parse_cidr_go(value: str) -> tuple[_Addr, int] | None:
    """Go's net.ParseCIDR: address, first '/', then decimal bits within the family's width."""
    addr_text, slash, bits_text = value.partition("/")
    if not slash:
        return None
    addr = _parse_addr_strict(addr_text)
    if addr is None or not bits_text or not bits_text.isascii() or not bits_text.isdigit():
        return None
    bits = int(bits_text)
    if bits > addr.max_prefixlen:
        return None
    return addr, bits


def _cidr_messages(value: str, strict: bool) -> tuple[tuple[_Addr, int] | None, list[str]]:
    parsed = _parse_cidr_go(value) or _parse_cidr_go(_strip_zeros(value))
    if parsed is None:
        return None, [_CIDR_INVALID]
    errs: list[str] = []
    if strict:
        exact = _parse_cidr_go(value)
        addr_text, _, bits_text = value.partition("/")
        if exact is None or (len(bits_text) > 1 and bits_text[0] == "0"):
            errs.append("must not have leading 0s in IP or prefix length")
        elif _is_4in6(exact[0]):
            errs.append("must not have an IPv4-mapped IPv6 address")
        elif int(exact[0]) & ((1 << (exact[0].max_prefixlen - exact[1])) - 1):
            errs.append("must not have bits set beyond the prefix length")
    return parsed, errs


def _go_ipnet_string(addr: _Addr, bits: int) -> str:
    """Go's IPNet.String() for the network ParseCIDR returns (host bits cleared)."""
    network = ipaddress.ip_network(f"{addr}/{bits}", strict=False)
    return f"{_go_ip_string(network.network_address)}/{bits}"


def is_valid_cidr(value: str) -> list[str]:
    """A subnet in canonical form such as ``10.0.0.0/8`` (upstream IsValidCIDR).

    Host bits must be zero: ``10.1.2.3/8`` is an interface address, not a subnet.
    """
    parsed, errs = _cidr_messages(value, strict=True)
    if errs or parsed is None:
        return errs
    canonical = _go_ipnet_string(*parsed)
    if value != canonical:
        return [f'must be in canonical form ("{canonical}")']
    return []


def is_valid_cidr_for_legacy_field(
    value: str, strict_validation: bool = True, valid_old_cidrs: Iterable[str] = ()
) -> list[str]:
    """A CIDR for fields older than strict validation (e.g. ``loadBalancerSourceRanges``)."""
    if value in valid_old_cidrs:
        return []
    return _cidr_messages(value, strict_validation)[1]


# --------------------------------------------------------------------------------------------
# Object names

#: ``(name, prefix) -> messages``; ``prefix`` is true when validating a ``generateName``.
NameValidator = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    """Make a generateName ending in '-' validate, as upstream's maskTrailingDash does.

    Upstream replaces the last *two* characters with ``a`` (``"b-"`` → ``"a"``), which makes
    the checked name one shorter than the one given; kept because length limits depend on it.
    """
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    """Names that must be DNS subdomains (Pods, ConfigMaps, most kinds)."""
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    """Names that must be DNS labels (Namespaces)."""
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    """Names that must be DNS-1035 labels: Services (upstream ValidateServiceName)."""
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


#: Namespace names are DNS labels.
validate_namespace_name: Final[NameValidator] = name_is_dns_label


def validate_object_name(
    name: str, path: FieldPath, validator: NameValidator, *, prefix: bool = False
) -> list[FieldError]:
    """One Invalid error at ``path`` per message ``validator`` returns for ``name``."""
    return [FieldError.invalid(path, name, msg) for msg in validator(name, prefix)]


# --------------------------------------------------------------------------------------------
# Field-error wrappers


def _invalid_each(path: FieldPath, value: object, messages: Iterable[str]) -> list[FieldError]:
    return [FieldError.invalid(path, value, m) for m in messages]


def validate_port_num(port: int, path: FieldPath) -> list[FieldError]:
    return _invalid_each(path, port, is_valid_port_num(port))


def validate_port_name(name: str, path: FieldPath) -> list[FieldError]:
    return _invalid_each(path, name, is_valid_port_name(name))


def validate_ip(value: str, path: FieldPath) -> list[FieldError]:
    return _invalid_each(path, value, is_valid_ip(value))


def validate_cidr(value: str, path: FieldPath) -> list[FieldError]:
    return _invalid_each(path, value, is_valid_cidr(value))


def validate_nonnegative_field(value: int, path: FieldPath) -> list[FieldError]:
    return [FieldError.invalid(path, value, IS_NEGATIVE_ERROR_MSG)] if value < 0 else []


def validate_label_name(name: str, path: FieldPath) -> list[FieldError]:
    return _invalid_each(path, name, is_qualified_name(name))


def validate_labels(labels: Mapping[str, str], path: FieldPath) -> list[FieldError]:
    """Every key and value of ``labels``.

    Errors are reported at ``path`` itself (``metadata.labels``), not at ``path.key(k)``:
    upstream does so, and the message already quotes the offending key or value.
    """
    errs: list[FieldError] = []
    for key, value in labels.items():
        errs.extend(validate_label_name(key, path))
        errs.extend(_invalid_each(path, value, is_valid_label_value(value)))
    return errs


def validate_annotations(annotations: Mapping[str, str], path: FieldPath) -> list[FieldError]:
    """Annotation keys (label-key rules, but any case) and the 256 KiB total size."""
    errs: list[FieldError] = []
    for key in annotations:
        errs.extend(_invalid_each(path, key, is_qualified_name(key.lower())))
    total = sum(_byte_len(k) + _byte_len(v) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_B:
        errs.append(FieldError.too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT_B))
    return errs


_METADATA: Final = FieldPath.root("metadata")


def validate_object_meta(
    *,
    name: str,
    namespaced: bool,
    name_validator: NameValidator,
    generate_name: str = "",
    namespace: str = "",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    generation: int | None = None,
    path: FieldPath = _METADATA,
) -> list[FieldError]:
    """An object's metadata on create, in upstream's order (ValidateObjectMetaAccessor).

    generateName, then name (``name or generateName is required`` when empty — by the time
    validation runs, a generateName has been expanded into a name), then namespace (required
    for namespaced kinds, forbidden otherwise), generation, labels, annotations.
    """
    errs: list[FieldError] = []
    if generate_name:
        errs.extend(
            validate_object_name(
                generate_name, path.child("generateName"), name_validator, prefix=True
            )
        )
    if not name:
        errs.append(FieldError.required(path.child("name"), "name or generateName is required"))
    else:
        errs.extend(validate_object_name(name, path.child("name"), name_validator))
    if namespaced:
        if not namespace:
            errs.append(FieldError.required(path.child("namespace")))
        else:
            errs.extend(
                validate_object_name(namespace, path.child("namespace"), validate_namespace_name)
            )
    elif namespace:
        errs.append(FieldError.forbidden(path.child("namespace"), "not allowed on this type"))
    errs.extend(validate_nonnegative_field(generation or 0, path.child("generation")))
    errs.extend(validate_labels(labels or {}, path.child("labels")))
    errs.extend(validate_annotations(annotations or {}, path.child("annotations")))
    return errs


class ObjectMetaLike(Protocol):
    """The metadata fields :func:`validate_object_meta_of` reads (podnet's ObjectMeta fits)."""

    @property
    def name(self) -> str: ...
    @property
    def generate_name(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def annotations(self) -> Mapping[str, str]: ...
    @property
    def generation(self) -> int | None: ...


def validate_object_meta_of(
    meta: ObjectMetaLike,
    *,
    namespaced: bool,
    name_validator: NameValidator,
    path: FieldPath = _METADATA,
) -> list[FieldError]:
    """:func:`validate_object_meta` reading the fields off a metadata object."""
    return validate_object_meta(
        name=meta.name,
        generate_name=meta.generate_name,
        namespace=meta.namespace,
        labels=meta.labels,
        annotations=meta.annotations,
        generation=meta.generation,
        namespaced=namespaced,
        name_validator=name_validator,
        path=path,
    )
