"""Tests for podnet.cluster.allocators, with expectations taken from upstream behaviour."""

from __future__ import annotations

import ipaddress
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podnet.cluster.allocators import (
    AllocationError,
    IPAddress,
    LoadBalancerPool,
    NodePortAllocator,
    PodCIDRAllocator,
    ServiceIPAllocator,
    parse_cidrs,
)

ip = ipaddress.ip_address
net = ipaddress.ip_network


# ---------------------------------------------------------------------------------------------
# parse_cidrs
# ---------------------------------------------------------------------------------------------


def test_parse_cidrs_kind_dual_stack_string() -> None:
    assert parse_cidrs("10.244.0.0/16,fd00:10:244::/56") == (
        net("10.244.0.0/16"),
        net("fd00:10:244::/56"),
    )


def test_parse_cidrs_list_and_whitespace() -> None:
    assert parse_cidrs(["10.96.0.0/12", " fd00:10:96::/112 "]) == (
        net("10.96.0.0/12"),
        net("fd00:10:96::/112"),
    )


def test_parse_cidrs_masks_host_bits_like_go() -> None:
    assert parse_cidrs("10.96.0.1/12") == (net("10.96.0.0/12"),)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "no CIDRs"),
        ([], "no CIDRs"),
        ("10.0.0.1", "missing prefix length"),
        ("10.0.0.0/33", "invalid CIDR '10.0.0.0/33'"),
        ("banana/8", "invalid CIDR 'banana/8'"),
        ("10.0.0.0/8,", "empty value"),
        ("10.0.0.0/8,10.0.0.0/8", "duplicate CIDR"),
        ([42], "invalid CIDR 42"),
    ],
)
def test_parse_cidrs_rejects_bad_input(value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_cidrs(value)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# ServiceIPAllocator
# ---------------------------------------------------------------------------------------------


def test_kubeadm_well_known_service_ips() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/12")
    assert alloc.first_address() == ip("10.96.0.1")  # default/kubernetes
    assert alloc.nth(10) == ip("10.96.0.10")  # kube-system/kube-dns


def test_kind_ipv6_service_ips() -> None:
    alloc = ServiceIPAllocator("fd00:10:96::/112")
    assert alloc.first_address() == ip("fd00:10:96::1")
    assert alloc.nth(10) == ip("fd00:10:96::a")


def test_reserved_addresses_ipv4() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/12")
    assert alloc.is_reserved("10.96.0.0")
    assert alloc.is_reserved("10.111.255.255")
    assert not alloc.is_reserved("10.96.0.1")
    assert not alloc.is_reserved("10.111.255.254")
    assert alloc.contains("10.111.255.255")
    assert not alloc.is_allocatable("10.111.255.255")
    assert not alloc.contains("10.0.0.1")
    assert not alloc.contains("fd00::1")


def test_ipv6_has_no_broadcast_reservation() -> None:
    alloc = ServiceIPAllocator("fd00::/112")
    assert alloc.is_reserved("fd00::")
    assert not alloc.is_reserved("fd00::ffff")
    assert alloc.is_allocatable("fd00::ffff")
    assert alloc.size == 65535


def test_sizes_match_upstream_host_counts() -> None:
    assert ServiceIPAllocator("10.96.0.0/12").size == (1 << 20) - 2
    assert ServiceIPAllocator("10.0.0.0/24").size == 254
    assert ServiceIPAllocator("10.0.0.0/31").size == 0
    assert ServiceIPAllocator("10.0.0.0/32").size == 0


@pytest.mark.parametrize(
    ("cidr", "offset"),
    [
        # min(max(16, size/16), 256), and 0 for 16 addresses or fewer (KEP-3070)
        ("10.96.0.0/12", 256),
        ("10.96.0.0/16", 256),
        ("10.0.0.0/20", 256),  # 4096/16 = 256
        ("10.0.0.0/21", 128),
        ("10.0.0.0/24", 16),
        ("10.0.0.0/27", 16),
        ("10.0.0.0/28", 0),
        ("10.0.0.0/29", 0),
        ("fd00::/64", 256),
        ("fd00::/120", 16),
    ],
)
def test_kep3070_static_band_size(cidr: str, offset: int) -> None:
    assert ServiceIPAllocator(cidr).static_band_size == offset


def test_bands_for_default_range() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/12")
    assert alloc.static_band == (ip("10.96.0.1"), ip("10.96.1.0"))
    assert alloc.dynamic_band == (ip("10.96.1.1"), ip("10.111.255.254"))
    assert alloc.in_static_band("10.96.0.10")
    assert not alloc.in_static_band("10.96.1.1")


def test_ipv6_service_cidr_wider_than_64_rejected() -> None:
    with pytest.raises(ValueError, match="shortest allowed prefix length for service CIDR is 64, got 48"):
        ServiceIPAllocator("fd00::/48")


def test_nth_rejects_reserved_and_out_of_range() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/28")
    with pytest.raises(ValueError, match="subnet too small"):
        alloc.nth(16)
    with pytest.raises(ValueError, match="reserved"):
        alloc.nth(15)  # broadcast
    with pytest.raises(ValueError, match="reserved"):
        alloc.nth(0)


def test_dynamic_allocation_is_deterministic_and_in_upper_band() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/12")
    first = alloc.allocate("default/web")
    assert first == ServiceIPAllocator("10.96.0.0/12").allocate("default/web")
    assert alloc.is_allocatable(first)
    assert not alloc.in_static_band(first)
    assert alloc.allocate("default/web") != alloc.allocate("default/api")


def test_dynamic_allocation_probes_forward_on_collision() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/12")
    first = alloc.allocate("default/web")
    second = alloc.allocate("default/web", frozenset({first}))
    assert int(second) == int(first) + 1 or second == alloc.dynamic_band[0]  # type: ignore[index]
    third = alloc.allocate("default/web", frozenset({first, second}))
    assert int(third) == int(second) + 1 or third == alloc.dynamic_band[0]  # type: ignore[index]


def test_dynamic_allocation_wraps_within_upper_band() -> None:
    alloc = ServiceIPAllocator("10.0.0.0/24")  # static 10.0.0.1-16, dynamic 10.0.0.17-254
    key = "ns/wrap"
    start = alloc.allocate(key)
    assert int(start) > int(ip("10.0.0.17"))
    # everything from the start to the top of the band is taken: the scan wraps to .17,
    # it does not spill into the static band while the dynamic band still has room
    taken = frozenset(ipaddress.IPv4Address(v) for v in range(int(start), int(ip("10.0.0.254")) + 1))
    assert alloc.allocate(key, taken) == ip("10.0.0.17")


def test_dynamic_allocation_falls_back_to_static_band_then_exhausts() -> None:
    alloc = ServiceIPAllocator("10.0.0.0/24")
    upper = frozenset(ip(f"10.0.0.{i}") for i in range(17, 255))
    got = alloc.allocate("ns/x", upper)
    assert alloc.in_static_band(got)
    everything = upper | frozenset(ip(f"10.0.0.{i}") for i in range(1, 17))
    with pytest.raises(AllocationError, match="range is full") as info:
        alloc.allocate("ns/x", everything)
    assert info.value.detail == "range is full"
    assert str(info.value) == "failed to allocate a serviceIP: range is full"


def test_dense_range_uses_exact_search() -> None:
    # More than the fast-probe window taken in a row: the slow path must find the single gap.
    alloc = ServiceIPAllocator("10.0.0.0/22")
    lo, hi = alloc.dynamic_band  # type: ignore[misc]
    hole = ip("10.0.2.77")
    taken = frozenset(
        ipaddress.IPv4Address(v) for v in range(int(lo), int(hi) + 1) if v != int(hole)
    )
    assert alloc.allocate("ns/dense", taken) == hole


def test_tiny_ranges() -> None:
    assert ServiceIPAllocator("10.0.0.0/30").allocate("a") in {ip("10.0.0.1"), ip("10.0.0.2")}
    with pytest.raises(AllocationError, match="range is full"):
        ServiceIPAllocator("10.0.0.0/31").allocate("a")


def test_ten_thousand_allocations_in_a_slash_12_are_fast_and_unique() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/12")
    taken: set[IPAddress] = set()
    began = time.perf_counter()
    for i in range(10_000):
        taken.add(alloc.allocate(f"ns-{i % 7}/svc-{i}", taken))
    elapsed = time.perf_counter() - began
    assert len(taken) == 10_000
    assert all(not alloc.in_static_band(a) for a in taken)
    assert elapsed < 5.0


def test_allocation_sequence_is_reproducible() -> None:
    def run() -> list[IPAddress]:
        alloc = ServiceIPAllocator("10.96.0.0/16")
        taken: set[IPAddress] = set()
        out = []
        for i in range(200):
            got = alloc.allocate(f"default/s{i}", taken)
            taken.add(got)
            out.append(got)
        return out

    assert run() == run()


def test_static_allocation_errors_use_upstream_wording() -> None:
    alloc = ServiceIPAllocator("10.96.0.0/12")
    with pytest.raises(AllocationError) as info:
        alloc.allocate_static("10.0.0.1")
    assert str(info.value) == (
        "failed to allocate IP 10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. "
        "The range of valid IPs is 10.96.0.0/12"
    )
    # network and broadcast addresses are outside the allocator's range, not "allocated"
    with pytest.raises(AllocationError, match="not in the valid range"):
        alloc.allocate_static("10.96.0.0")
    with pytest.raises(AllocationError, match="not in the valid range"):
        alloc.allocate_static("10.111.255.255")
    with pytest.raises(AllocationError) as info:
        alloc.allocate_static("10.96.0.10", frozenset({ip("10.96.0.10")}))
    assert str(info.value) == "failed to allocate IP 10.96.0.10: provided IP is already allocated"
    assert info.value.detail == "provided IP is already allocated"
    assert alloc.allocate_static("10.96.0.10") == ip("10.96.0.10")


def test_allocation_error_is_a_value_error() -> None:
    assert issubclass(AllocationError, ValueError)


def test_allocator_is_an_immutable_value() -> None:
    a = ServiceIPAllocator("10.96.0.0/12")
    assert a == ServiceIPAllocator(net("10.96.0.0/12"))
    assert hash(a) == hash(ServiceIPAllocator("10.96.0.0/12"))
    with pytest.raises(AttributeError):
        a.cidr = net("10.0.0.0/8")  # type: ignore[misc]


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.integers(min_value=20, max_value=30),
    keys=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=30, unique=True),
)
def test_property_allocations_are_unique_and_allocatable(prefix: int, keys: list[str]) -> None:
    alloc = ServiceIPAllocator(f"10.96.0.0/{prefix}")
    taken: set[IPAddress] = set()
    for key in keys:
        if len(taken) == alloc.size:
            with pytest.raises(AllocationError):
                alloc.allocate(key, taken)
            continue
        got = alloc.allocate(key, taken)
        assert alloc.is_allocatable(got)
        assert got not in taken
        # the static band is only used once the dynamic band is exhausted
        if alloc.in_static_band(got):
            lo, hi = alloc.dynamic_band  # type: ignore[misc]
            assert all(ipaddress.IPv4Address(v) in taken for v in range(int(lo), int(hi) + 1))
        taken.add(got)


# ---------------------------------------------------------------------------------------------
# NodePortAllocator
# ---------------------------------------------------------------------------------------------


def test_default_node_port_range_and_kep3668_band() -> None:
    alloc = NodePortAllocator()
    assert (alloc.first, alloc.last, alloc.size) == (30000, 32767, 2768)
    assert alloc.range_str == "30000-32767"
    assert alloc.static_band_size == 86  # min(max(16, 2768/32), 128)
    assert alloc.in_static_band(30085)
    assert not alloc.in_static_band(30086)


@pytest.mark.parametrize(
    ("spec", "offset"),
    [
        ("30000-32767", 86),
        ("30000-30015", 0),  # 16 ports: not split
        ("30000-30016", 16),  # 17 ports: minimum 16
        ("30000-30511", 16),  # 512/32 = 16
        ("30000-34095", 128),  # 4096/32 = 128
        ("1-65535", 128),
        ("30000", 0),
    ],
)
def test_kep3668_static_band_size(spec: str, offset: int) -> None:
    assert NodePortAllocator(spec).static_band_size == offset


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty port range"),
        ("abc", "unable to parse port range: abc"),
        ("30000-abc", 'parsing "abc": invalid syntax'),
        ("30000- 32767", 'parsing " 32767": invalid syntax'),
        ("30000-70000", "the port range cannot be greater than 65535: 30000-70000"),
        ("32767-30000", "end port cannot be less than start port: 32767-30000"),
        ("70000", "the port range should between 0 and 65535"),
    ],
)
def test_node_port_range_parse_errors(spec: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        NodePortAllocator(spec)


def test_node_port_dynamic_prefers_upper_band_and_is_deterministic() -> None:
    alloc = NodePortAllocator()
    port = alloc.allocate("default/web:http")
    assert port == NodePortAllocator().allocate("default/web:http")
    assert alloc.contains(port) and not alloc.in_static_band(port)


def test_node_port_probes_and_falls_back_and_exhausts() -> None:
    alloc = NodePortAllocator("30000-30099")  # 100 ports: static band 16
    first = alloc.allocate("k")
    nxt = alloc.allocate("k", frozenset({first}))
    assert nxt == (first + 1 if first < 30099 else 30016)
    upper = frozenset(range(30016, 30100))
    assert alloc.in_static_band(alloc.allocate("k", upper))
    with pytest.raises(AllocationError, match="failed to allocate a nodePort: range is full") as info:
        alloc.allocate("k", frozenset(range(30000, 30100)))
    assert info.value.detail == "range is full"


def test_node_port_static_errors_use_upstream_wording() -> None:
    alloc = NodePortAllocator()
    with pytest.raises(AllocationError) as info:
        alloc.allocate_static(80)
    assert str(info.value) == (
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
    )
    with pytest.raises(AllocationError) as info:
        alloc.allocate_static(30080, frozenset({30080}))
    assert str(info.value) == "provided port is already allocated"
    assert alloc.allocate_static(30080) == 30080


# ---------------------------------------------------------------------------------------------
# LoadBalancerPool
# ---------------------------------------------------------------------------------------------


def test_default_pool_is_kind_metallb_range() -> None:
    pool = LoadBalancerPool()
    assert pool.size == 51
    assert pool.contains("172.18.255.200") and pool.contains("172.18.255.250")
    assert not pool.contains("172.18.255.251")
    assert pool.allocate("default/web") == ip("172.18.255.200")


def test_pool_hands_out_lowest_free_in_order() -> None:
    pool = LoadBalancerPool()
    taken = frozenset({ip("172.18.255.200"), ip("172.18.255.201"), ip("172.18.255.203")})
    assert pool.allocate("x", taken) == ip("172.18.255.202")
    # the key does not influence the choice (MetalLB is first-free), only error messages
    assert pool.allocate("other", taken) == ip("172.18.255.202")


def test_pool_from_list_keeps_order_and_mixes_families() -> None:
    pool = LoadBalancerPool(["192.168.10.0/30", "10.0.0.5-10.0.0.6", "fd00::/127"])
    assert pool.size == 4 + 2 + 2
    assert pool.allocate("x") == ip("192.168.10.0")  # a CIDR's network address is usable
    full_v4 = frozenset(ip(f"192.168.10.{i}") for i in range(4))
    assert pool.allocate("x", full_v4) == ip("10.0.0.5")
    assert pool.allocate("x", family=6) == ip("fd00::")


def test_pool_avoid_buggy_ips() -> None:
    pool = LoadBalancerPool("10.0.0.0/24", avoid_buggy_ips=True)
    assert pool.size == 254
    assert pool.allocate("x") == ip("10.0.0.1")
    assert not pool.contains("10.0.0.255")


def test_pool_exhaustion() -> None:
    pool = LoadBalancerPool("10.0.0.5-10.0.0.6")
    with pytest.raises(AllocationError, match="no available IPs") as info:
        pool.allocate("default/web", frozenset({ip("10.0.0.5"), ip("10.0.0.6")}))
    assert str(info.value) == 'Failed to allocate IP for "default/web": no available IPs'


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "pool has no prefixes defined"),
        ("10.0.0.9-10.0.0.1", "is after the end IP"),
        ("10.0.0.1-fd00::1", "different IP families"),
        ("10.0.0.x-10.0.0.9", "invalid start IP"),
        ("10.0.0.1-nope", "invalid end IP"),
        ("10.0.0.0/24,10.0.0.128/25", "overlaps"),
        ("not-a-cidr/8", "invalid"),
    ],
)
def test_pool_parse_errors(spec: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        LoadBalancerPool(spec)


# ---------------------------------------------------------------------------------------------
# PodCIDRAllocator
# ---------------------------------------------------------------------------------------------


def test_node_pod_cidrs_like_range_allocator() -> None:
    pods = PodCIDRAllocator("10.244.0.0/16")
    assert pods.node_cidr(0) == net("10.244.0.0/24")  # kind control-plane
    assert pods.node_cidr(1) == net("10.244.1.0/24")
    assert pods.node_cidr(255) == net("10.244.255.0/24")
    assert pods.max_nodes == 256
    with pytest.raises(AllocationError, match="no remaining CIDRs"):
        pods.node_cidr(256)


def test_dual_stack_node_cidrs() -> None:
    pods = PodCIDRAllocator(["10.244.0.0/16", "fd00:10:244::/56"])
    assert pods.node_cidrs(2) == (net("10.244.2.0/24"), net("fd00:10:244:2::/64"))


def test_next_node_cidrs_lowest_free_or_round_robin() -> None:
    pods = PodCIDRAllocator("10.244.0.0/16")
    taken = frozenset({net("10.244.0.0/24"), net("10.244.1.0/24")})
    assert pods.next_node_cidrs(taken) == (net("10.244.2.0/24"),)
    assert pods.next_node_cidrs(frozenset({net("10.244.0.0/24")}), start=5) == (
        net("10.244.5.0/24"),
    )
    small = PodCIDRAllocator("10.0.0.0/23")
    with pytest.raises(AllocationError, match="no remaining CIDRs"):
        small.next_node_cidrs(frozenset({net("10.0.0.0/24"), net("10.0.1.0/24")}))


@pytest.mark.parametrize(
    ("cidrs", "kwargs", "fragment"),
    [
        ("10.244.0.0/16", {"node_mask_v4": 8}, "node CIDR mask /8"),
        ("10.0.0.0/8,10.1.0.0/16", {}, "dual-stack"),
        ("10.0.0.0/8,fd00::/48,fd01::/48", {}, "at most two"),
        ("fd00::/32", {}, "node CIDR size is too big"),
    ],
)
def test_pod_cidr_allocator_validation(
    cidrs: str, kwargs: dict[str, int], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        PodCIDRAllocator(cidrs, **kwargs)


def test_pod_addresses_skip_network_and_gateway() -> None:
    cidr = net("10.244.1.0/24")
    assert PodCIDRAllocator.gateway(cidr) == ip("10.244.1.1")
    assert PodCIDRAllocator.pod_address(cidr, 0) == ip("10.244.1.2")
    assert PodCIDRAllocator.pod_address(cidr, 1) == ip("10.244.1.3")
    assert PodCIDRAllocator.pod_address(cidr, 252) == ip("10.244.1.254")
    with pytest.raises(ValueError, match="outside"):
        PodCIDRAllocator.pod_address(cidr, 253)  # would be the broadcast address
    assert PodCIDRAllocator.pod_address("fd00:10:244::/64", 0) == ip("fd00:10:244::2")


def test_pod_allocate_sequential_like_host_local() -> None:
    cidr = "10.244.0.0/24"
    assert PodCIDRAllocator.allocate(cidr, "kube-system/coredns-a") == ip("10.244.0.2")
    taken = frozenset({ip("10.244.0.2"), ip("10.244.0.3"), ip("10.244.0.5")})
    assert PodCIDRAllocator.allocate(cidr, "p", taken) == ip("10.244.0.4")
    # round-robin: continue after the last reserved address even if lower ones are free
    assert PodCIDRAllocator.allocate(cidr, "p", taken, last_reserved=ip("10.244.0.5")) == ip(
        "10.244.0.6"
    )
    # wrap around at the top
    assert PodCIDRAllocator.allocate(cidr, "p", taken, last_reserved=ip("10.244.0.254")) == ip(
        "10.244.0.4"
    )


def test_pod_allocate_exhaustion_message() -> None:
    cidr = net("10.244.0.0/29")  # pods .2-.6
    taken = frozenset(ip(f"10.244.0.{i}") for i in range(2, 7))
    with pytest.raises(AllocationError) as info:
        PodCIDRAllocator.allocate(cidr, "default/p", taken)
    assert info.value.detail == (
        "no IP addresses available in range set: 10.244.0.1-10.244.0.6"
    )
