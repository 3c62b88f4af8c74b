"""Address and port allocators: ClusterIPs, NodePorts, LoadBalancer IPs, node podCIDRs and pod IPs.

Each allocator is an immutable value built from its configured range. Allocation never mutates the
allocator: the caller passes the set of values already ``taken`` and gets back the one value to
hand out next, so a whole cluster can be replayed from its manifests and come out identical.

Upstream chooses dynamic ClusterIPs and NodePorts from a *random* starting point
(``math/rand`` seeded from the clock) and then scans forward for a free value. podnet keeps the
same shape -- same bands, same forward scan with wrap-around, same errors -- but derives the
starting point from a SHA-256 of a caller-supplied key (conventionally ``"namespace/name"``), so
the same service gets the same address on every machine and every run.

Behaviour reproduced from upstream (re-implemented, not copied):

* ``kubernetes/pkg/registry/core/service/ipallocator`` -- usable range excludes the network
  address, and for IPv4 the broadcast address; KEP-3070 static/dynamic bands with offset
  ``min(max(16, size/16), 256)`` (0 when the CIDR has 16 addresses or fewer); dynamic allocation
  tries the upper band first and falls back to the lower one.
* ``kubernetes/pkg/registry/core/service/portallocator`` -- ``apimachinery`` port-range parsing;
  KEP-3668 bands with offset ``min(max(16, size/32), 128)`` (0 when the range has 16 ports or
  fewer), so ``30000-32767`` (2768 ports) reserves the lowest 86 ports for static use.
* MetalLB's allocator -- pools are lists of CIDRs or ``start-end`` ranges (summarised into CIDRs),
  and a service gets the first free address in pool order.
* kube-controller-manager's ``cidrset`` -- node *i* gets block *i* of the cluster CIDR.
* CNI ``host-local`` IPAM -- the gateway (``.1``) is never handed out, pods start at ``.2``, the
  IPv4 broadcast address is excluded, and allocation continues round-robin after the last
  reserved address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final, Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = [
    "DEFAULT_LOADBALANCER_RANGE",
    "DEFAULT_NODE_PORT_RANGE",
    "AllocationError",
    "IPAddress",
    "IPNetwork",
    "LoadBalancerPool",
    "NodePortAllocator",
    "PodCIDRAllocator",
    "ServiceIPAllocator",
    "parse_cidrs",
]

DEFAULT_NODE_PORT_RANGE: Final = "30000-32767"
"""kube-apiserver's default ``--service-node-port-range``."""

DEFAULT_LOADBALANCER_RANGE: Final = "172.18.255.200-172.18.255.250"
"""The MetalLB pool kind's documentation suggests on the default ``kind`` docker network."""

# How many candidates the fast path probes one by one before switching to the exact gap search.
# Sparse ranges (the common case) never leave the fast path; dense ones pay one sort.
_FAST_PROBES: Final = 64


class AllocationError(ValueError):
    """An allocation that cannot be satisfied.

    ``str(error)`` is the message the user would see from the API server (or MetalLB / CNI);
    ``detail`` is the bare upstream allocator error inside it (``"range is full"``,
    ``"provided IP is already allocated"``, ...), so callers can branch without parsing text.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail: str = message if detail is None else detail


# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------


def _parse_cidr(text: str) -> IPNetwork:
    """One CIDR, with Go's ``net.ParseCIDR`` leniency: host bits are masked off.

    ``ipaddress.ip_network("10.0.0.1")`` would silently mean ``/32``; Go requires the slash,
    and so do we, because a missing prefix length is almost always a typo.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("invalid CIDR '': empty value (expected e.g. 10.96.0.0/12)")
    if "/" not in stripped:
        raise ValueError(
            f"invalid CIDR {stripped!r}: missing prefix length (expected e.g. 10.96.0.0/12)"
        )
    try:
        return ipaddress.ip_network(stripped, strict=False)
    except ValueError as exc:
        raise ValueError(f"invalid CIDR {stripped!r}: {exc}") from None


def parse_cidrs(value: str | Sequence[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDRs as kind and kubeadm write them: ``"10.244.0.0/16,fd00:10:244::/56"`` or a list.

    Host bits are masked (``10.96.0.1/12`` means ``10.96.0.0/12``) because Go's parser, which
    kubeadm and the API server use, does the same. Order is preserved: for dual-stack clusters
    the first CIDR decides the primary family.

    Raises ``ValueError`` naming the offending entry when anything is malformed, empty or repeated.
    """
    items: list[str] = []
    if isinstance(value, str):
        items.extend(value.split(","))
    elif isinstance(value, Sequence):
        for entry in value:
            if not isinstance(entry, str):
                raise ValueError(
                    f"invalid CIDR {entry!r}: expected a string such as '10.96.0.0/12'"
                )
            items.extend(entry.split(","))
    else:
        raise ValueError(
            f"invalid CIDRs {value!r}: expected a comma-separated string or a list of strings"
        )
    if not items or all(not item.strip() for item in items):
        raise ValueError("no CIDRs given (expected e.g. '10.96.0.0/12' or '10.244.0.0/16,fd00::/56')")
    networks: list[IPNetwork] = []
    for item in items:
        network = _parse_cidr(item)
        if network in networks:
            raise ValueError(f"duplicate CIDR {str(network)!r} in {value!r}")
        networks.append(network)
    return tuple(networks)


def _coerce_network(value: str | IPNetwork) -> IPNetwork:
    """Exactly one network from a string or an ``ipaddress`` network."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    networks = parse_cidrs(value)
    if len(networks) != 1:
        raise ValueError(f"expected exactly one CIDR, got {len(networks)} in {value!r}")
    return networks[0]


def _coerce_address(value: str | IPAddress) -> IPAddress:
    """An ``ipaddress`` address from a string or an address, with a clear error."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError(f"invalid IP address {value!r}") from None


def _address(value: int, version: int) -> IPAddress:
    """The address with integer ``value`` in family ``version``."""
    if version == 4:
        return ipaddress.IPv4Address(value)
    return ipaddress.IPv6Address(value)


def _key_hash(key: str) -> int:
    """A stable 256-bit integer for ``key``.

    SHA-256 rather than ``hash()``: Python salts ``str`` hashes per process, which would make
    allocations differ between runs.
    """
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest(), "big")


def _first_free(
    lo: int,
    hi: int,
    start: int,
    occupied: Sequence[int],
    excluded: Callable[[int], bool] | None = None,
) -> int | None:
    """The first value in ``[start, hi]`` then ``[lo, start)`` that is not ``occupied``.

    ``occupied`` is sorted. Runs of occupied values are skipped by walking the sorted list, so
    the cost is bounded by how many values are taken, not by the size of the range.
    """

    def scan(begin: int, end: int) -> int | None:
        index = bisect_left(occupied, begin)
        candidate = begin
        while candidate <= end:
            if index < len(occupied) and occupied[index] == candidate:
                candidate += 1
                index += 1
                continue
            if excluded is not None and excluded(candidate):
                candidate += 1
                continue
            return candidate
        return None

    found = scan(start, hi)
    if found is None and start > lo:
        found = scan(lo, start - 1)
    return found


def _probe(
    lo: int,
    hi: int,
    start_offset: int,
    taken: AbstractSet[IPAddress],
    version: int,
) -> IPAddress | None:
    """Scan ``[lo, hi]`` forward from ``lo + start_offset``, wrapping, for an address not taken.

    This is upstream's random-scan strategy with a deterministic start. The first few candidates
    are checked directly against ``taken`` (cheap when the range is sparse); if they are all
    taken, the exact answer is found from a sorted list of the taken addresses in range, which
    keeps a nearly full /12 from costing a million membership tests.
    """
    size = hi - lo + 1
    if size <= 0:
        return None
    start = lo + start_offset % size
    for step in range(min(size, _FAST_PROBES)):
        candidate = _address(lo + (start - lo + step) % size, version)
        if candidate not in taken:
            return candidate
    if size <= _FAST_PROBES:
        return None
    occupied = sorted(
        {int(a) for a in taken if a.version == version and lo <= int(a) <= hi}
    )
    if len(occupied) >= size:
        return None
    found = _first_free(lo, hi, start, occupied)
    return None if found is None else _address(found, version)


def _clamped_offset(size: int, minimum: int, maximum: int, step: int) -> int:
    """KEP-3070/KEP-3668's ``min(max(minimum, size/step), maximum)``, or 0 for tiny ranges.

    Upstream returns 0 when the range has ``minimum`` values or fewer, so that very small ranges
    are not split at all.
    """
    if size <= minimum:
        return 0
    return min(max(minimum, size // step), maximum)


# --------------------------------------------------------------------------------------------
# ClusterIP
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class ServiceIPAllocator:
    """ClusterIP allocation for one service CIDR (one IP family).

    The usable range starts one past the network address and ends one before the broadcast
    address for IPv4 (IPv6 has no broadcast, so its last address is usable). KEP-3070 splits that
    range: the lowest ``static_band_size`` addresses are where users and installers pick fixed
    IPs (kubeadm puts ``default/kubernetes`` on the first and kube-dns on the tenth), and dynamic
    allocation avoids them until the upper band is exhausted, so a fixed IP chosen later is
    unlikely to have been taken already.
    """

    cidr: IPNetwork

    def __init__(self, cidr: str | IPNetwork) -> None:
        network = _coerce_network(cidr)
        if network.version == 6 and network.prefixlen < 64:
            # The IPAddress-object allocator (the default since ServiceCIDRs went GA) refuses
            # anything wider; the old bitmap allocator capped IPv6 ranges at 65536 instead.
            raise ValueError(
                f"shortest allowed prefix length for service CIDR is 64, got {network.prefixlen}"
            )
        object.__setattr__(self, "cidr", network)

    # -- shape of the range ------------------------------------------------------------------

    @property
    def version(self) -> int:
        """4 or 6."""
        return self.cidr.version

    @property
    def size(self) -> int:
        """How many addresses can be allocated (hosts: 2^n - 2 for IPv4, 2^n - 1 for IPv6)."""
        host_bits = self.cidr.max_prefixlen - self.cidr.prefixlen
        reserved = 2 if self.version == 4 else 1
        return max(0, (1 << host_bits) - reserved)

    @property
    def _first_int(self) -> int:
        return int(self.cidr.network_address) + 1

    @property
    def _last_int(self) -> int:
        return self._first_int + self.size - 1

    @property
    def static_band_size(self) -> int:
        """KEP-3070 offset: ``min(max(16, cidr_size/16), 256)``; 0 for a /28 or smaller.

        ``cidr_size`` counts every address of the CIDR (network and broadcast included), and is
        0 for an IPv4 /31 or /32 and an IPv6 /127 or /128, as in ``k8s.io/utils/net.RangeSize``.
        """
        host_bits = self.cidr.max_prefixlen - self.cidr.prefixlen
        cidr_size = 0 if host_bits <= 1 else 1 << host_bits
        return _clamped_offset(cidr_size, 16, 256, 16)

    @property
    def static_band(self) -> tuple[IPAddress, IPAddress] | None:
        """First and last address of the lower (static) band, or ``None`` when it is empty."""
        offset = self.static_band_size
        if offset == 0:
            return None
        return (
            _address(self._first_int, self.version),
            _address(self._first_int + offset - 1, self.version),
        )

    @property
    def dynamic_band(self) -> tuple[IPAddress, IPAddress] | None:
        """First and last address of the upper (dynamic) band, or ``None`` for an empty range."""
        if self.size == 0:
            return None
        return (
            _address(self._first_int + self.static_band_size, self.version),
            _address(self._last_int, self.version),
        )

    # -- queries -----------------------------------------------------------------------------

    def first_address(self) -> IPAddress:
        """The first allocatable address: kubeadm's ClusterIP for ``default/kubernetes``."""
        return self.nth(1)

    def nth(self, n: int) -> IPAddress:
        """The address ``n`` past the network address, as kubeadm's ``GetIndexedIP`` computes it.

        ``nth(1)`` is the API server's service IP and ``nth(10)`` is kube-dns's (10.96.0.10 for
        10.96.0.0/12). Unlike ``GetIndexedIP`` this refuses the network and IPv4 broadcast
        addresses, because a service could never actually hold them.
        """
        value = int(self.cidr.network_address) + n
        if n < 0 or value > int(self.cidr.broadcast_address):
            raise ValueError(
                f"can't generate IP with index {n} from subnet. subnet too small. "
                f'subnet: "{self.cidr}"'
            )
        address = _address(value, self.version)
        if self.is_reserved(address):
            raise ValueError(
                f"index {n} of {self.cidr} is {address}, which is reserved "
                f"(network or broadcast address) and cannot be a ClusterIP"
            )
        return address

    def contains(self, ip: str | IPAddress) -> bool:
        """Whether ``ip`` lies inside the CIDR at all (reserved addresses included)."""
        address = _coerce_address(ip)
        return address.version == self.version and address in self.cidr

    def is_reserved(self, ip: str | IPAddress) -> bool:
        """Whether ``ip`` is the network address, or the IPv4 broadcast address, of the CIDR.

        Upstream never allocates these: they are outside the allocator's range, so asking for
        one fails with "not in the valid range" rather than "already allocated".
        """
        address = _coerce_address(ip)
        if not self.contains(address):
            return False
        if address == self.cidr.network_address:
            return True
        return self.version == 4 and address == self.cidr.broadcast_address

    def is_allocatable(self, ip: str | IPAddress) -> bool:
        """Whether ``ip`` could ever be a ClusterIP from this range."""
        return self.contains(ip) and not self.is_reserved(ip)

    def in_static_band(self, ip: str | IPAddress) -> bool:
        """Whether ``ip`` is allocatable and in the lower, static band."""
        if not self.is_allocatable(ip):
            return False
        return int(_coerce_address(ip)) < self._first_int + self.static_band_size

    # -- allocation --------------------------------------------------------------------------

    def allocate(self, key: str, taken: AbstractSet[IPAddress] = frozenset()) -> IPAddress:
        """A free ClusterIP for the service ``key`` (conventionally ``"namespace/name"``).

        Like upstream: start somewhere in the upper band, scan forward (wrapping within the band)
        for a free address; if the upper band is full, do the same in the lower band. The start
        comes from SHA-256 of ``key`` instead of a clock-seeded random number.
        """
        offset = self.static_band_size
        upper_size = self.size - offset
        if upper_size <= 0:
            raise AllocationError(
                "failed to allocate a serviceIP: range is full", detail="range is full"
            )
        digest = _key_hash(key)
        first = self._first_int
        found = _probe(first + offset, self._last_int, digest % upper_size, taken, self.version)
        if found is None and offset > 0:
            found = _probe(first, first + offset - 1, (digest >> 128) % offset, taken, self.version)
        if found is None:
            raise AllocationError(
                "failed to allocate a serviceIP: range is full", detail="range is full"
            )
        return found

    def allocate_static(
        self, ip: str | IPAddress, taken: AbstractSet[IPAddress] = frozenset()
    ) -> IPAddress:
        """Check a user-chosen ``spec.clusterIP`` and return it as an address.

        Errors carry the API server's wording, e.g. ``failed to allocate IP 10.0.0.1: the
        provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is
        10.96.0.0/12``.
        """
        address = _coerce_address(ip)
        if not self.is_allocatable(address):
            detail = (
                f"the provided IP ({address}) is not in the valid range. "
                f"The range of valid IPs is {self.cidr}"
            )
            raise AllocationError(f"failed to allocate IP {address}: {detail}", detail=detail)
        if address in taken:
            detail = "provided IP is already allocated"
            raise AllocationError(f"failed to allocate IP {address}: {detail}", detail=detail)
        return address


# --------------------------------------------------------------------------------------------
# NodePort
# --------------------------------------------------------------------------------------------

_GO_ATOI = re.compile(r"[+-]?[0-9]+")


def _atoi(text: str, value: str) -> int:
    """Go's ``strconv.Atoi`` (no whitespace, no underscores), with apimachinery's error text."""
    if not _GO_ATOI.fullmatch(text):
        raise ValueError(
            f'unable to parse port range: {value}: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    return int(text)


def _parse_port_range(value: str) -> tuple[int, int]:
    """``(base, size)`` from ``"30000-32767"`` or a single port, as apimachinery's PortRange.Set."""
    value = value.strip()
    if not value:
        raise ValueError("empty port range (expected e.g. '30000-32767')")
    if "-" not in value:
        if not _GO_ATOI.fullmatch(value):
            raise ValueError(
                f"unable to parse port range: {value}: strconv.Atoi: parsing \"{value}\": "
                "invalid syntax, expected hyphen in port range or a single port number"
            )
        port = int(value)
        if not 0 <= port <= 65535:
            raise ValueError("the port range should between 0 and 65535")
        return port, 1
    low_text, high_text = value.split("-", 1)
    low = _atoi(low_text, value)
    high = _atoi(high_text, value)
    if low > 65535 or high > 65535:
        raise ValueError(f"the port range cannot be greater than 65535: {value}")
    if high < low:
        raise ValueError(f"end port cannot be less than start port: {value}")
    return low, high - low + 1


@dataclass(frozen=True, slots=True, init=False)
class NodePortAllocator:
    """NodePort allocation from ``--service-node-port-range`` with KEP-3668 bands.

    The lowest ``static_band_size`` ports are left for users who pick a nodePort by hand; dynamic
    allocation takes them only once the upper band is exhausted.
    """

    base: int
    size: int

    def __init__(self, range_str: str = DEFAULT_NODE_PORT_RANGE) -> None:
        base, size = _parse_port_range(range_str)
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "size", size)

    @property
    def first(self) -> int:
        """Lowest port of the range."""
        return self.base

    @property
    def last(self) -> int:
        """Highest port of the range."""
        return self.base + self.size - 1

    @property
    def range_str(self) -> str:
        """The range as upstream prints it (``"30000-32767"``), also used in error messages."""
        return f"{self.first}-{self.last}"

    @property
    def static_band_size(self) -> int:
        """KEP-3668 offset ``min(max(16, size/32), 128)``; 0 for ranges of 16 ports or fewer."""
        return _clamped_offset(self.size, 16, 128, 32)

    def contains(self, port: int) -> bool:
        """Whether ``port`` is in the configured range."""
        return self.base <= port <= self.last

    def in_static_band(self, port: int) -> bool:
        """Whether ``port`` is in the lower band reserved for user-chosen nodePorts."""
        return self.base <= port < self.base + self.static_band_size

    def allocate(self, key: str, taken: AbstractSet[int] = frozenset()) -> int:
        """A free nodePort for ``key`` (e.g. ``"namespace/name:portname"``).

        Upstream's strategy with a hashed start: scan the upper band forward from the start,
        wrapping; then the lower band. Raises ``AllocationError`` when every port is taken.
        """
        offset = self.static_band_size
        upper = self.size - offset
        digest = _key_hash(key)
        bands = ((self.base + offset, upper, digest), (self.base, offset, digest >> 128))
        for band_base, band_size, seed in bands:
            if band_size <= 0:
                continue
            start = seed % band_size
            for step in range(band_size):
                port = band_base + (start + step) % band_size
                if port not in taken:
                    return port
        raise AllocationError(
            "failed to allocate a nodePort: range is full", detail="range is full"
        )

    def allocate_static(self, port: int, taken: AbstractSet[int] = frozenset()) -> int:
        """Check a user-chosen nodePort; errors use the API server's field-error text."""
        if not self.contains(port):
            raise AllocationError(
                "provided port is not in the valid range. "
                f"The range of valid ports is {self.range_str}"
            )
        if port in taken:
            raise AllocationError("provided port is already allocated")
        return port


# --------------------------------------------------------------------------------------------
# LoadBalancer (MetalLB-style pool)
# --------------------------------------------------------------------------------------------


def _parse_pool_entry(entry: str) -> list[IPNetwork]:
    """A MetalLB ``addresses`` entry: a CIDR, or ``start-end`` summarised into CIDRs."""
    text = entry.strip()
    if "-" not in text:
        try:
            return [_parse_cidr(text)]
        except ValueError as exc:
            raise ValueError(f"invalid CIDR {text!r} in LoadBalancer pool: {exc}") from None
    start_text, end_text = (part.strip() for part in text.split("-", 1))
    try:
        start = ipaddress.ip_address(start_text)
    except ValueError:
        raise ValueError(f"invalid IP range {text!r}: invalid start IP {start_text!r}") from None
    try:
        end = ipaddress.ip_address(end_text)
    except ValueError:
        raise ValueError(f"invalid IP range {text!r}: invalid end IP {end_text!r}") from None
    if start.version != end.version:
        raise ValueError(f"invalid IP range {text!r}: start and end are different IP families")
    if int(start) > int(end):
        raise ValueError(
            f"invalid IP range {text!r}: start IP {str(start)!r} is after the end IP {str(end)!r}"
        )
    # summarize_address_range yields the minimal covering CIDRs in ascending order, like
    # the ipaddr.Summarize MetalLB uses; the mixed-family case was rejected above.
    return list(ipaddress.summarize_address_range(start, end))


def _is_buggy(value: int, version: int) -> bool:
    """MetalLB's ``avoidBuggyIPs``: IPv4 addresses ending in .0 or .255 confuse some CPE gear."""
    return version == 4 and (value & 0xFF) in (0, 255)


@dataclass(frozen=True, slots=True, init=False)
class LoadBalancerPool:
    """A MetalLB ``IPAddressPool``: addresses handed to ``type: LoadBalancer`` services.

    MetalLB walks the pool's CIDRs in order and gives a service the first address not in use, so
    the first LoadBalancer service on a fresh kind cluster gets ``172.18.255.200``.
    """

    networks: tuple[IPNetwork, ...]
    avoid_buggy_ips: bool

    def __init__(
        self,
        addresses: str | Sequence[str] = DEFAULT_LOADBALANCER_RANGE,
        *,
        avoid_buggy_ips: bool = False,
    ) -> None:
        entries: list[str] = []
        if isinstance(addresses, str):
            entries.extend(addresses.split(","))
        else:
            for entry in addresses:
                if not isinstance(entry, str):
                    raise ValueError(f"invalid LoadBalancer pool entry {entry!r}")
                entries.extend(entry.split(","))
        entries = [entry for entry in entries if entry.strip()]
        if not entries:
            raise ValueError("pool has no prefixes defined")
        networks: list[IPNetwork] = []
        for entry in entries:
            for network in _parse_pool_entry(entry):
                for existing in networks:
                    if existing.version == network.version and existing.overlaps(network):
                        raise ValueError(
                            f"CIDR {str(network)!r} in LoadBalancer pool overlaps with "
                            f"already defined CIDR {str(existing)!r}"
                        )
                networks.append(network)
        object.__setattr__(self, "networks", tuple(networks))
        object.__setattr__(self, "avoid_buggy_ips", avoid_buggy_ips)

    @property
    def size(self) -> int:
        """How many addresses the pool can hand out."""
        total = 0
        for network in self.networks:
            total += network.num_addresses
            if self.avoid_buggy_ips and network.version == 4:
                if network.prefixlen <= 24:
                    total -= 2 << (24 - network.prefixlen)
                else:
                    total -= _is_buggy(int(network.network_address), 4)
                    total -= _is_buggy(int(network.broadcast_address), 4)
        return total

    def contains(self, ip: str | IPAddress) -> bool:
        """Whether ``ip`` is one of the pool's usable addresses."""
        address = _coerce_address(ip)
        if self.avoid_buggy_ips and _is_buggy(int(address), address.version):
            return False
        return any(
            network.version == address.version and address in network
            for network in self.networks
        )

    def allocate(
        self,
        key: str,
        taken: AbstractSet[IPAddress] = frozenset(),
        family: Literal[4, 6] | None = None,
    ) -> IPAddress:
        """The lowest free address in pool order for the service ``key``.

        ``family`` restricts the choice to IPv4 or IPv6 (a single-stack service); ``None``
        takes the first free address of either family in pool order.
        """
        for network in self.networks:
            if family is not None and network.version != family:
                continue
            lo = int(network.network_address)
            hi = int(network.broadcast_address)
            version = network.version
            occupied = sorted(
                {int(a) for a in taken if a.version == version and lo <= int(a) <= hi}
            )
            excluded = (lambda v: _is_buggy(v, 4)) if self.avoid_buggy_ips else None
            found = _first_free(lo, hi, lo, occupied, excluded)
            if found is not None:
                return _address(found, version)
        raise AllocationError(
            f'Failed to allocate IP for "{key}": no available IPs', detail="no available IPs"
        )


# --------------------------------------------------------------------------------------------
# Node podCIDRs and pod IPs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class PodCIDRAllocator:
    """Node podCIDRs as kube-controller-manager's range allocator assigns them, plus pod IPs.

    Node *i* (0-based, in the order nodes registered) gets block *i* of each cluster CIDR: with
    kind's ``10.244.0.0/16`` and /24 blocks, the control-plane node gets ``10.244.0.0/24`` and
    the first worker ``10.244.1.0/24``. Dual-stack clusters give every node one block per family,
    in the order the cluster CIDRs were listed.
    """

    cluster_cidrs: tuple[IPNetwork, ...]
    node_mask_v4: int
    node_mask_v6: int

    def __init__(
        self,
        cluster_cidrs: str | Sequence[str] | IPNetwork | Sequence[IPNetwork],
        node_mask_v4: int = 24,
        node_mask_v6: int = 64,
    ) -> None:
        networks: tuple[IPNetwork, ...]
        if isinstance(cluster_cidrs, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            networks = (cluster_cidrs,)
        elif isinstance(cluster_cidrs, str):
            networks = parse_cidrs(cluster_cidrs)
        else:
            networks = tuple(_coerce_network(c) for c in cluster_cidrs)
            if not networks:
                raise ValueError("no cluster CIDRs given")
        if len(networks) > 2:
            raise ValueError(
                f"at most two cluster CIDRs (one per IP family) are supported, got {len(networks)}"
            )
        if len(networks) == 2 and networks[0].version == networks[1].version:
            raise ValueError(
                "two cluster CIDRs must be dual-stack (one IPv4 and one IPv6), got "
                f"{networks[0]} and {networks[1]}"
            )
        for network in networks:
            mask = node_mask_v4 if network.version == 4 else node_mask_v6
            if not network.prefixlen <= mask <= network.max_prefixlen:
                raise ValueError(
                    f"node CIDR mask /{mask} must be between the cluster CIDR's "
                    f"/{network.prefixlen} and /{network.max_prefixlen} for {network}"
                )
            if network.version == 6 and mask - network.prefixlen > 16:
                # cidrset keeps an uncompressed bitmap, so upstream caps IPv6 at 2^16 blocks.
                raise ValueError(
                    "New CIDR set failed; the node CIDR size is too big "
                    f"(/{mask} blocks of {network}: more than 16 bits apart)"
                )
        object.__setattr__(self, "cluster_cidrs", networks)
        object.__setattr__(self, "node_mask_v4", node_mask_v4)
        object.__setattr__(self, "node_mask_v6", node_mask_v6)

    def _mask(self, network: IPNetwork) -> int:
        return self.node_mask_v4 if network.version == 4 else self.node_mask_v6

    @property
    def max_nodes(self) -> int:
        """How many nodes can get a podCIDR (the smallest family decides)."""
        return min(1 << (self._mask(n) - n.prefixlen) for n in self.cluster_cidrs)

    def node_cidrs(self, index: int) -> tuple[IPNetwork, ...]:
        """Block ``index`` of every cluster CIDR: the node's ``spec.podCIDRs``."""
        if not 0 <= index < self.max_nodes:
            raise AllocationError(
                "CIDR allocation failed; there are no remaining CIDRs left to allocate in the "
                f"accepted range (node index {index}, capacity {self.max_nodes})",
                detail="CIDR allocation failed; there are no remaining CIDRs left to allocate "
                "in the accepted range",
            )
        blocks: list[IPNetwork] = []
        for network in self.cluster_cidrs:
            mask = self._mask(network)
            value = int(network.network_address) | (index << (network.max_prefixlen - mask))
            blocks.append(ipaddress.ip_network((_address(value, network.version), mask)))
        return tuple(blocks)

    def node_cidr(self, index: int) -> IPNetwork:
        """The node's primary ``spec.podCIDR`` (block ``index`` of the first cluster CIDR)."""
        return self.node_cidrs(index)[0]

    def next_node_cidrs(
        self, taken: AbstractSet[IPNetwork] = frozenset(), start: int = 0
    ) -> tuple[IPNetwork, ...]:
        """The podCIDRs the controller would give the next node.

        ``taken`` holds podCIDRs already assigned; ``start`` is the controller's round-robin
        cursor (upstream resumes after the last block it handed out rather than reusing the
        lowest free one), 0 for a freshly started controller.
        """
        capacity = self.max_nodes
        for step in range(capacity):
            index = (start + step) % capacity
            blocks = self.node_cidrs(index)
            if not any(block in taken for block in blocks):
                return blocks
        return self.node_cidrs(capacity)  # raises the upstream "no remaining CIDRs" error

    # -- pod IPs (host-local IPAM on the node's podCIDR) -------------------------------------

    @staticmethod
    def _pod_range(pod_cidr: str | IPNetwork) -> tuple[IPNetwork, int, int]:
        """The podCIDR and the first/last integers host-local hands to pods (.2 .. last)."""
        network = _coerce_network(pod_cidr)
        first = int(network.network_address) + 2
        last = int(network.broadcast_address) - (1 if network.version == 4 else 0)
        return network, first, last

    @staticmethod
    def gateway(pod_cidr: str | IPNetwork) -> IPAddress:
        """The bridge/gateway address (``.1``): cni0 for flannel and the bridge plugin."""
        network = _coerce_network(pod_cidr)
        return _address(int(network.network_address) + 1, network.version)

    @staticmethod
    def pod_address(pod_cidr: str | IPNetwork, index: int) -> IPAddress:
        """The ``index``-th pod address of a node (0 -> ``.2``, 1 -> ``.3``, ...).

        ``.0`` is the network and ``.1`` the gateway, so they are skipped, as is the IPv4
        broadcast address at the top.
        """
        network, first, last = PodCIDRAllocator._pod_range(pod_cidr)
        value = first + index
        if index < 0 or value > last:
            raise ValueError(
                f"pod index {index} is outside {network} "
                f"(which holds {max(0, last - first + 1)} pod addresses)"
            )
        return _address(value, network.version)

    @staticmethod
    def allocate(
        pod_cidr: str | IPNetwork,
        key: str,
        taken: AbstractSet[IPAddress] = frozenset(),
        last_reserved: IPAddress | None = None,
    ) -> IPAddress:
        """The address host-local IPAM would give the pod ``key`` next.

        host-local is sequential, not hashed: it continues round-robin from the address after
        the last one it reserved (``last_reserved``), wrapping, skipping addresses in use; on a
        fresh node that is simply the lowest free address from ``.2``. ``key`` only names the
        pod in the error.
        """
        network, first, last = PodCIDRAllocator._pod_range(pod_cidr)
        version = network.version
        if last < first:
            raise AllocationError(
                f"failed to allocate for pod {key}: {network} has no room for pod addresses",
                detail="no IP addresses available",
            )
        start = first
        if last_reserved is not None and last_reserved.version == version:
            reserved = int(last_reserved)
            if first <= reserved <= last:
                start = first if reserved == last else reserved + 1
        occupied = sorted(
            {int(a) for a in taken if a.version == version and first <= int(a) <= last}
        )
        found = _first_free(first, last, start, occupied)
        if found is None:
            range_set = (
                f"{_address(int(network.network_address) + 1, version)}-{_address(last, version)}"
            )
            detail = f"no IP addresses available in range set: {range_set}"
            raise AllocationError(
                f"failed to allocate for range 0: {detail} (pod {key})", detail=detail
            )
        return _address(found, version)
