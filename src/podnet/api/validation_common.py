"""Helpers shared by the validation modules (private to :mod:`podnet.api.validation`).

Everything here reproduces a piece of upstream behaviour that several kinds use: object
metadata as ``ValidateObjectMeta`` checks it (owner references and finalizers on top of what
:func:`podnet.api.names.validate_object_meta` covers), label selectors
(``k8s.io/apimachinery/pkg/apis/meta/v1/validation``), the "legacy" IP/CIDR fields of KEP-4858,
``ValidateNonSpecialIP``, and the renderings of Go values that the bad values in messages need
(JSON of v1 structs in field order, ``%#v`` of internal structs).

Sources (kubernetes/kubernetes, read for behaviour and wording):

* ``staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go``
* ``staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go``
* ``staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go`` (``LabelSelectorAsSelector``)
* ``staging/src/k8s.io/apimachinery/pkg/util/validation/{validation,ip}.go``
* ``pkg/apis/core/validation/validation.go`` (``validateKubeFinalizerName``,
  ``ValidateNonSpecialIP``, the legacy-field IP wrappers)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from podnet.api.errors import (
    ErrorType,
    FieldError,
    FieldPath,
    GoLiteral,
    GoRenderable,
    GoStruct,
    _go_json,
    _go_json_string,
)
from podnet.api.meta import ObjectMeta, OwnerReference
from podnet.api.names import (
    NameValidator,
    _parse_addr_strict,
    _parse_cidr_go,
    _parse_ip_sloppy,
    _strip_zeros,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_cidr_for_legacy_field,
    is_valid_ip_for_legacy_field,
    is_valid_label_value,
    regex_error,
    validate_labels,
    validate_object_meta,
)
from podnet.api.selectors import OPERATORS, LabelSelector, LabelSelectorRequirement
from podnet.cluster.naming import generate_name

Errs: TypeAlias = list[FieldError]

METADATA: Final = FieldPath.root("metadata")
SPEC: Final = FieldPath.root("spec")

#: KEP-4858 ``StrictIPCIDRValidation``: beta, on by default, since Kubernetes 1.36. The
#: "legacy" IP/CIDR fields (clusterIPs, externalIPs, podCIDRs, ipBlock, nameservers, ...) then
#: reject leading zeros, IPv4-mapped IPv6 and (CIDRs) bits set beyond the prefix length.
STRICT_IP_CIDR_VALIDATION: Final = True

# --------------------------------------------------------------------------------------------
# Rendering Go values


def _json(value: object) -> str:
    if isinstance(value, JSONStruct):
        return value.go_string()
    if isinstance(value, GoRenderable):
        return value.go_string()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_go_json_string(k)}:{_json(v)}" for k, v in items) + "}"
    return _go_json(value)


@dataclass(frozen=True, slots=True)
class JSONStruct:
    """A v1 API struct as ``json.Marshal`` writes it: fields in declaration order.

    ``fields`` are ``(jsonName, value)``; a value of ``None`` is left out (``omitempty`` on a
    nil pointer), as are empty strings, maps and lists unless listed in ``keep``.
    """

    fields: tuple[tuple[str, object], ...]
    keep: frozenset[str] = frozenset()

    def go_string(self) -> str:
        parts = []
        for key, value in self.fields:
            if key not in self.keep and (
                value is None or value == "" or value == () or value == {}
            ):
                continue
            parts.append(f"{_go_json_string(key)}:{_json(value)}")
        return "{" + ",".join(parts) + "}"


def json_literal(value: object) -> GoLiteral:
    """Any value (lists of :class:`JSONStruct` included) as its Go JSON text."""
    return GoLiteral(_json(value))


def selector_json(sel: LabelSelector | None) -> object:
    """A ``*metav1.LabelSelector`` as a bad value: ``null`` or its JSON."""
    if sel is None:
        return None
    exprs = tuple(
        JSONStruct((("key", e.key), ("operator", e.operator), ("values", tuple(e.values))))
        for e in sel.match_expressions
    )
    return JSONStruct(
        (
            ("matchLabels", dict(sel.match_labels) if sel.match_labels else None),
            ("matchExpressions", exprs or None),
        )
    )


def labels_value(labels: Mapping[str, str]) -> object:
    """A ``map[string]string`` as a bad value; an absent (empty) map is Go's nil: ``null``."""
    return dict(labels) if labels else None


def go_ptr_nil(type_name: str) -> GoLiteral:
    """A nil pointer field inside a ``%#v`` struct: ``(*string)(nil)``."""
    return GoLiteral(f"(*{type_name})(nil)")


def int_or_string_struct(value: int | str | None) -> GoStruct:
    """``intstr.IntOrString`` as ``%#v`` prints it."""
    if isinstance(value, str):
        return GoStruct("intstr.IntOrString", (("Type", 1), ("IntVal", 0), ("StrVal", value)))
    return GoStruct("intstr.IntOrString", (("Type", 0), ("IntVal", value or 0), ("StrVal", "")))


# --------------------------------------------------------------------------------------------
# Small validators with upstream wording


def dns1123_label(value: str, path: FieldPath) -> Errs:
    """``ValidateDNS1123Label``."""
    return [FieldError.invalid(path, value, m) for m in is_dns1123_label(value)]


def dns1123_subdomain(value: str, path: FieldPath) -> Errs:
    """``ValidateDNS1123Subdomain``."""
    return [FieldError.invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def qualified_name(value: str, path: FieldPath) -> Errs:
    """``ValidateQualifiedName`` / ``ValidateLabelName``."""
    return [FieldError.invalid(path, value, m) for m in is_qualified_name(value)]


def name_errors(value: str, path: FieldPath, name_fn: NameValidator) -> Errs:
    """``for _, msg := range nameFn(value, false) { field.Invalid(path, value, msg) }``."""
    return [FieldError.invalid(path, value, m) for m in name_fn(value, False)]


def nonnegative(value: int, path: FieldPath) -> Errs:
    """``ValidateNonnegativeField``."""
    return (
        [FieldError.invalid(path, value, "must be greater than or equal to 0")] if value < 0 else []
    )


def duplicate_with_detail(path: FieldPath, value: object, detail: str) -> FieldError:
    """``field.Duplicate`` whose ``Detail`` the caller then sets (node taints)."""
    return FieldError(ErrorType.DUPLICATE, str(path), value, detail)


_PERCENT_RE: Final = re.compile(r"[0-9]+%")


def is_valid_percent(value: str) -> list[str]:
    """``IsValidPercent``."""
    if _PERCENT_RE.fullmatch(value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            "[0-9]+%",
            "1%",
            "93%",
        )
    ]


_CONFIG_KEY_RE: Final = re.compile(r"[-._a-zA-Z0-9]+")


def is_config_map_key(value: str) -> list[str]:
    """``IsConfigMapKey``: Secret and ConfigMap data keys."""
    errs: list[str] = []
    if len(value.encode("utf-8", "surrogatepass")) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.fullmatch(value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                "[-._a-zA-Z0-9]+",
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


_HTTP_PATH_RE: Final = re.compile(r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+")


def is_domain_prefixed_path(path: FieldPath, value: str) -> Errs:
    """``IsDomainPrefixedPath`` (IngressClass controller, Job managedBy)."""
    if not value:
        return [FieldError.required(path)]
    host, slash, rest = value.partition("/")
    if not slash or not host or not rest:
        return [
            FieldError.invalid(
                path, value, 'must be a domain-prefixed path (such as "acme.io/foo")'
            )
        ]
    errs = [FieldError.invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.fullmatch(rest):
        errs.append(
            FieldError.invalid(
                path, rest, regex_error("Invalid path", r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+")
            )
        )
    return errs


def is_path_segment_name(value: str) -> list[str]:
    """``content.IsPathSegmentName``."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


# --------------------------------------------------------------------------------------------
# Metadata

def effective_name(meta: ObjectMeta) -> str:
    """``metadata.name`` as validation sees it: the API server expands a generateName first,
    with the generator the controllers' objects are named by (derived from the uid, so the same
    input gives the same message)."""
    if not meta.name and meta.generate_name:
        return generate_name(meta.generate_name, meta.uid)
    return meta.name


def _parse_group_version(api_version: str) -> tuple[str, str]:
    """``schema.ParseGroupVersion`` as ``FromAPIVersionAndKind`` uses it (errors: no version)."""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", ""


_STANDARD_FINALIZERS: Final = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def _owner_references(refs: Sequence[OwnerReference], path: FieldPath) -> Errs:
    """``ValidateOwnerReferences``: every error is reported at ``metadata.ownerReferences``."""
    errs: Errs = []
    first_controller = ""
    for ref in refs:
        group, version = _parse_group_version(ref.api_version)
        if not version:
            errs.append(
                FieldError.invalid(
                    path.child("apiVersion"), ref.api_version, "version must not be empty"
                )
            )
        if not ref.kind:
            errs.append(FieldError.invalid(path.child("kind"), ref.kind, "must not be empty"))
        if not ref.name:
            errs.append(FieldError.invalid(path.child("name"), ref.name, "must not be empty"))
        if not ref.uid:
            errs.append(FieldError.invalid(path.child("uid"), ref.uid, "must not be empty"))
        if group == "" and version == "v1" and ref.kind == "Event":
            errs.append(
                FieldError.invalid(
                    path,
                    JSONStruct(
                        (
                            ("apiVersion", ref.api_version),
                            ("kind", ref.kind),
                            ("name", ref.name),
                            ("uid", ref.uid),
                            ("controller", ref.controller),
                            ("blockOwnerDeletion", ref.block_owner_deletion),
                        ),
                        keep=frozenset({"apiVersion", "kind", "name", "uid"}),
                    ),
                    "/v1, Kind=Event is disallowed from being an owner",
                )
            )
        if ref.controller:
            current = f"{ref.kind}/{ref.name}"
            if first_controller:
                errs.append(
                    FieldError.invalid(
                        path,
                        json_literal(
                            [
                                JSONStruct(
                                    (
                                        ("apiVersion", r.api_version),
                                        ("kind", r.kind),
                                        ("name", r.name),
                                        ("uid", r.uid),
                                        ("controller", r.controller),
                                        ("blockOwnerDeletion", r.block_owner_deletion),
                                    ),
                                    keep=frozenset({"apiVersion", "kind", "name", "uid"}),
                                )
                                for r in refs
                            ]
                        ),
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def _finalizers(meta: ObjectMeta, path: FieldPath) -> tuple[Errs, Errs]:
    """apimachinery's ``ValidateFinalizers`` and core's per-index kube finalizer check."""
    raw = meta.extra.get("finalizers")
    if not isinstance(raw, (list, tuple)):
        return [], []
    finalizers = [f for f in raw if isinstance(f, str)]
    common: Errs = []
    for f in finalizers:
        common.extend(qualified_name(f, path))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        common.append(
            FieldError.invalid(
                path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"
            )
        )
    kube: Errs = []
    for i, f in enumerate(finalizers):
        if "/" not in f and f not in _STANDARD_FINALIZERS:
            kube.append(
                FieldError.invalid(
                    path.index(i),
                    f,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return common, kube


def object_meta(
    meta: ObjectMeta, *, namespaced: bool, name_fn: NameValidator, path: FieldPath = METADATA
) -> Errs:
    """Core's ``ValidateObjectMeta`` on create.

    A cluster-scoped object's namespace is cleared by the API server before validation
    (``EnsureObjectNamespaceMatchesRequestNamespace``), so it is never an error here.
    """
    errs = validate_object_meta(
        name=effective_name(meta),
        generate_name=meta.generate_name,
        namespace=meta.namespace if namespaced else "",
        labels=meta.labels,
        annotations=meta.annotations,
        generation=meta.generation,
        namespaced=namespaced,
        name_validator=name_fn,
        path=path,
    )
    errs.extend(_owner_references(meta.owner_references, path.child("ownerReferences")))
    common, kube = _finalizers(meta, path.child("finalizers"))
    errs.extend(common)
    errs.extend(kube)
    return errs


# --------------------------------------------------------------------------------------------
# Label selectors


def label_selector_requirement(req: LabelSelectorRequirement, path: FieldPath) -> Errs:
    """``ValidateLabelSelectorRequirement`` (invalid label values not allowed)."""
    errs: Errs = []
    if req.operator in ("In", "NotIn"):
        if not req.values:
            errs.append(
                FieldError.required(
                    path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
            )
    elif req.operator in ("Exists", "DoesNotExist"):
        if req.values:
            errs.append(
                FieldError.forbidden(
                    path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    else:
        errs.append(
            FieldError.invalid(
                path.child("operator"), req.operator, "not a valid selector operator"
            )
        )
    errs.extend(qualified_name(req.key, path.child("key")))
    for i, value in enumerate(req.values):
        errs.extend(
            FieldError.invalid(path.child("values").index(i), value, m)
            for m in is_valid_label_value(value)
        )
    return errs


def label_selector(sel: LabelSelector | None, path: FieldPath) -> Errs:
    """``ValidateLabelSelector``: nothing for a nil selector."""
    if sel is None:
        return []
    errs = validate_labels(sel.match_labels, path.child("matchLabels"))
    for i, req in enumerate(sel.match_expressions):
        errs.extend(label_selector_requirement(req, path.child("matchExpressions").index(i)))
    return errs


class _Nothing:
    """``labels.Nothing()``: what a nil ``*LabelSelector`` converts to."""


NOTHING: Final = _Nothing()


def selector_as_selector(sel: LabelSelector | None) -> LabelSelector | _Nothing | None:
    """``metav1.LabelSelectorAsSelector``: the selector, NOTHING for nil, None on error.

    The conversion fails on an unknown operator, an invalid key or value, values for
    Exists/DoesNotExist, or none for In/NotIn — exactly what ``labels.NewRequirement`` rejects.
    """
    if sel is None:
        return NOTHING
    for req in sel.match_expressions:
        if req.operator not in OPERATORS:
            return None
        if is_qualified_name(req.key):
            return None
        if req.operator in ("In", "NotIn") and not req.values:
            return None
        if req.operator in ("Exists", "DoesNotExist") and req.values:
            return None
        if any(is_valid_label_value(v) for v in req.values):
            return None
    for key, value in sel.match_labels.items():
        if is_qualified_name(key) or is_valid_label_value(value):
            return None
    return sel


def selector_is_empty(sel: LabelSelector | _Nothing) -> bool:
    """``Selector.Empty()``: true only for a selector that selects everything."""
    return isinstance(sel, LabelSelector) and sel.is_empty()


def selector_matches(sel: LabelSelector | _Nothing, labels: Mapping[str, str]) -> bool:
    if isinstance(sel, _Nothing):
        return False
    return sel.compile().matches(labels)


# --------------------------------------------------------------------------------------------
# IPs and CIDRs


def legacy_ip(value: str, path: FieldPath) -> Errs:
    """Core's ``IsValidIPForLegacyField`` wrapper (KEP-4858; no canonical-form rule)."""
    return [
        FieldError.invalid(path, value, m)
        for m in is_valid_ip_for_legacy_field(value, STRICT_IP_CIDR_VALIDATION)
    ]


def legacy_cidr(value: str, path: FieldPath) -> Errs:
    """Core's ``IsValidCIDRForLegacyField`` wrapper."""
    return [
        FieldError.invalid(path, value, m)
        for m in is_valid_cidr_for_legacy_field(value, STRICT_IP_CIDR_VALIDATION)
    ]


Addr: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip_sloppy(value: str) -> Addr | None:
    """``netutils.ParseIPSloppy``; IPv4-mapped IPv6 comes back as the IPv4 address (``To4``)."""
    addr = _parse_ip_sloppy(value)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def parse_cidr_sloppy(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """``netutils.ParseCIDRSloppy``: the network (host bits cleared), or None."""
    parsed = _parse_cidr_go(value) or _parse_cidr_go(_strip_zeros(value))
    if parsed is None:
        return None
    addr, bits = parsed
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None and bits >= 96:
        return ipaddress.ip_network(f"{addr.ipv4_mapped}/{bits - 96}", strict=False)
    return ipaddress.ip_network(f"{addr}/{bits}", strict=False)


def is_ipv6_string(value: str) -> bool:
    """``netutils.IsIPv6String``."""
    addr = parse_ip_sloppy(value)
    return isinstance(addr, ipaddress.IPv6Address)


def non_special_ip(value: str, path: FieldPath) -> Errs:
    """``ValidateNonSpecialIP`` / ``ValidateEndpointIP``."""
    addr = parse_ip_sloppy(value)
    if addr is None:
        return [FieldError.invalid(path, value, "must be a valid IP address")]
    errs: Errs = []
    if addr.is_unspecified:
        errs.append(FieldError.invalid(path, value, f"may not be unspecified ({value})"))
    if addr.is_loopback:
        errs.append(
            FieldError.invalid(
                path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"
            )
        )
    if addr in _LINK_LOCAL_V4 or addr in _LINK_LOCAL_V6:
        errs.append(
            FieldError.invalid(
                path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
            )
        )
    if _is_link_local_multicast(addr):
        errs.append(
            FieldError.invalid(
                path,
                value,
                "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
            )
        )
    return errs


_LINK_LOCAL_V4: Final = ipaddress.ip_network("169.254.0.0/16")
_LINK_LOCAL_V6: Final = ipaddress.ip_network("fe80::/10")


def _is_link_local_multicast(addr: Addr) -> bool:
    """Go's ``IsLinkLocalMulticast``: 224.0.0.0/24, or ff02::/16 ignoring the flag nibble."""
    if isinstance(addr, ipaddress.IPv4Address):
        return addr in ipaddress.ip_network("224.0.0.0/24")
    packed = addr.packed
    return packed[0] == 0xFF and packed[1] & 0x0F == 0x02


def strict_addr(value: str) -> Addr | None:
    """``netip.ParseAddr`` without zones (for family checks on already-valid values)."""
    return _parse_addr_strict(value)


def ips_dual_stack(values: Iterable[str]) -> bool:
    """``netutils.IsDualStackIPStrings``: at least one IPv4 and one IPv6."""
    v4 = v6 = False
    for v in values:
        addr = parse_ip_sloppy(v)
        if addr is None:
            continue
        if isinstance(addr, ipaddress.IPv4Address):
            v4 = True
        else:
            v6 = True
    return v4 and v6


def cidrs_dual_stack(values: Iterable[str]) -> bool:
    """``netutils.IsDualStackCIDRStrings``."""
    v4 = v6 = False
    for v in values:
        net = parse_cidr_sloppy(v)
        if net is None:
            continue
        if isinstance(net, ipaddress.IPv4Network):
            v4 = True
        else:
            v6 = True
    return v4 and v6
