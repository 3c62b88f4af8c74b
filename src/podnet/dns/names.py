"""Name arithmetic the cluster DNS needs, as CoreDNS does it.

Domain names here are plain ``str`` in presentation form, absolute (a trailing dot), the way
CoreDNS's ``request.Request.Name()`` hands them to plugins. Keeping strings instead of
``dns.name.Name`` objects makes the zone index a dict lookup on a lowercased string, which is
what keeps an answer cheap; conversion to dnspython objects happens only when records are built.

The functions reproduce CoreDNS helpers by behaviour (plugin/pkg/dnsutil, plugin/normalize.go,
plugin/pkg/cidr, plugin/kubernetes endpointHostname): their quirks are the point, because a
client sees them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IP4_ARPA = ".in-addr.arpa."
IP6_ARPA = ".ip6.arpa."


def fqdn(name: str) -> str:
    """``name`` with exactly one trailing dot (``""`` and ``"."`` are the root)."""
    if name in ("", "."):
        return "."
    return name if name.endswith(".") else name + "."


def normalize(name: str) -> str:
    """Lowercase and absolute: CoreDNS's ``plugin.Name(n).Normalize()``."""
    return fqdn(name).lower()


def labels(name: str) -> list[str]:
    """The labels of an absolute or relative name, root excluded (``dns.SplitDomainName``)."""
    name = name.rstrip(".")
    return name.split(".") if name else []


def is_subdomain(parent: str, child: str) -> bool:
    """True when ``child`` is ``parent`` or below it; case-insensitive (``dns.IsSubDomain``)."""
    parent, child = normalize(parent), normalize(child)
    if parent == ".":
        return True
    return child == parent or child.endswith("." + parent)


def longest_zone(zones: Iterable[str], qname: str) -> str:
    """The longest of ``zones`` that contains ``qname``, or ``""`` (``plugin.Zones.Matches``)."""
    best = ""
    for z in zones:
        if is_subdomain(z, qname) and len(z) > len(best):
            best = z
    return best


def trim_zone(name: str, zone: str) -> str:
    """``name`` without the labels of ``zone``, no trailing dot (``dnsutil.TrimZone``)."""
    n = labels(name)
    z = len(labels(zone))
    return ".".join(n[: len(n) - z]) if len(n) > z else ""


def dashed_ip(ip: str) -> str:
    """The endpoint name CoreDNS forms from an address: ``10-0-0-1``, ``fd00--1``, ``1--0``.

    A trailing ``-`` (an IPv6 address ending in ``::``) gets a ``0`` so the label stays valid.
    """
    if "." in ip:
        return ip.replace(".", "-")
    if ":" in ip:
        dashed = ip.replace(":", "-")
        return dashed + "0" if dashed.endswith("-") else dashed
    return ""


def ip_from_pod_label(label: str) -> str | None:
    """The address a ``pods insecure|verified`` label names, or None when it names none.

    CoreDNS reads ``a-b-c-d`` (exactly three dashes, no ``--``) as IPv4 and any other dashed
    form as IPv6 with ``-`` for ``:``; the result must parse as an address.
    """
    if label.count("-") == 3 and "--" not in label:
        text = label.replace("-", ".")
    else:
        text = label.replace("-", ":")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def address_from_reverse(name: str) -> str:
    """The address a PTR name encodes, or ``""`` (``dnsutil.ExtractAddressFromReverse``).

    IPv4 needs the four octets; IPv6 is read four nibbles at a time, so anything but 32 nibbles
    fails to parse, as in Go.
    """
    name = normalize(name)
    if name.endswith(IP4_ARPA):
        parts = name[: -len(IP4_ARPA)].split(".")
        parts.reverse()
        try:
            return str(ipaddress.IPv4Address(".".join(parts)))
        except ValueError:
            return ""
    if name.endswith(IP6_ARPA):
        parts = name[: -len(IP6_ARPA)].split(".")
        parts.reverse()
        groups = ["".join(parts[i * 4 : i * 4 + 4]) for i in range(len(parts) // 4)]
        try:
            return str(ipaddress.IPv6Address(":".join(groups)))
        except ValueError:
            return ""
    return ""


def is_reverse(name: str) -> bool:
    """True for names under ``in-addr.arpa.`` or ``ip6.arpa.`` (``dnsutil.IsReverse``)."""
    n = normalize(name)
    return n.endswith(IP4_ARPA) or n.endswith(IP6_ARPA)


def reverse_pointer(ip: str) -> str:
    """The PTR owner name of an address, absolute and lowercase."""
    return ipaddress.ip_address(ip).reverse_pointer + "."


def cidr_zones(cidr: str) -> list[str]:
    """The reverse zones a CIDR server-block key stands for (``plugin/pkg/cidr``).

    A prefix that is not on an octet (IPv4) or nibble (IPv6) boundary is split into the
    networks of the next boundary, each of which becomes its own zone: ``10.0.0.0/17`` is
    128 ``x.0.10.in-addr.arpa.`` zones.
    """
    net = ipaddress.ip_network(cidr, strict=False)
    boundary = 8 if net.version == 4 else 4
    ones = net.prefixlen
    bits = net.max_prefixlen
    new = -(-ones // boundary) * boundary
    subnets: list[tuple[str, int]] = [(str(net.network_address), net.prefixlen)]
    if ones % boundary:
        subnets = []
        for sub in net.subnets(new_prefix=new):
            assert isinstance(sub, (ipaddress.IPv4Network, ipaddress.IPv6Network))
            subnets.append((str(sub.network_address), sub.prefixlen))
    zones = []
    for address, prefixlen in subnets:
        rev = reverse_pointer(address)
        drop = (bits - prefixlen) // boundary
        zones.append(".".join(rev.split(".")[drop:]))
    return zones


def is_domain_name(name: str) -> bool:
    """Loose validity check in the spirit of ``dns.IsDomainName``: label and name lengths."""
    if name in (".", ""):
        return True
    text = name[:-1] if name.endswith(".") else name
    if len(text) > 253:
        return False
    return all(0 < len(lab) <= 63 for lab in text.split("."))
