"""The compiled ruleset against kube-proxy's own golden rulesets (pkg/proxy/nftables/proxier_test.go).

The expected texts below are upstream's, transcribed: ``baseRules`` and the per-test additions of
``TestOverallNFTablesRules``, ``TestSyncProxyRulesRepeated`` and ``TestBadIPs``. They are compared
the way upstream compares them (``sortNFTablesTransaction``: by object type, then name; rules
keep their order within a chain). Every ruleset is also loaded with nft.
"""

from __future__ import annotations

import re

import pytest
from test_proxy_support import (
    CONFIG_V6,
    TEST_NODE,
    FakeTable,
    ep,
    eport,
    eslice,
    nft_load,
    node,
    plan,
    port,
    service,
    table_of,
)

from podnet.proxy.naming import (
    ServicePortName,
    endpoint_chain_base,
    hash_and_truncate,
    service_port_chain_base,
)
from podnet.proxy.nftables import compile_node, full_sync, partial_sync, sort_transaction
from podnet.proxy.service_map import ServicePlan

BASE_RULES = """
add table ip kube-proxy { comment "rules for kube-proxy" ; }

add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }

add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }

add chain ip kube-proxy cluster-ips-check
add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }
add chain ip kube-proxy filter-output-pre-dnat { type filter hook output priority -110 ; }
add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }
add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }
add chain ip kube-proxy filter-output { type filter hook output priority 0 ; }
add chain ip kube-proxy firewall-check
add chain ip kube-proxy mark-for-masquerade
add chain ip kube-proxy masquerading
add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ip kube-proxy nodeport-endpoints-check
add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
add chain ip kube-proxy services
add chain ip kube-proxy service-endpoints-check

add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
add rule ip kube-proxy cluster-ips-check ip daddr { 172.30.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"
add rule ip kube-proxy filter-prerouting-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-output ct state new jump cluster-ips-check
add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
add rule ip kube-proxy masquerading mark set mark xor 0x4000
add rule ip kube-proxy masquerading masquerade fully-random
add rule ip kube-proxy nat-output jump services
add rule ip kube-proxy nat-postrouting jump masquerading
add rule ip kube-proxy nat-prerouting jump services
add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
add rule ip kube-proxy reject-chain reject
add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports

add element ip kube-proxy nodeport-ips { 192.168.0.2 }
add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
"""

OVERALL = """
# svc1
add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }

add chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 ip saddr 10.180.0.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 meta l4proto tcp dnat to 10.180.0.1:80

add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }

# svc2
add chain ip kube-proxy service-42NFTM6N-ns2/svc2/tcp/p80
add rule ip kube-proxy service-42NFTM6N-ns2/svc2/tcp/p80 ip daddr 172.30.0.42 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-42NFTM6N-ns2/svc2/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80 }
add chain ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80
add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 ip saddr 10.0.0.0/8 goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit pod traffic"
add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"
add rule ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80 fib saddr type local goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit local traffic"
add chain ip kube-proxy endpoint-SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80
add rule ip kube-proxy endpoint-SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80 ip saddr 10.180.0.2 jump mark-for-masquerade
add rule ip kube-proxy endpoint-SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80 meta l4proto tcp dnat to 10.180.0.2:80

add element ip kube-proxy cluster-ips { 172.30.0.42 }
add element ip kube-proxy service-ips { 172.30.0.42 . tcp . 80 : goto service-42NFTM6N-ns2/svc2/tcp/p80 }
add element ip kube-proxy service-ips { 192.168.99.22 . tcp . 80 : goto external-42NFTM6N-ns2/svc2/tcp/p80 }
add element ip kube-proxy service-ips { 1.2.3.4 . tcp . 80 : goto external-42NFTM6N-ns2/svc2/tcp/p80 }
add element ip kube-proxy service-nodeports { tcp . 3001 : goto external-42NFTM6N-ns2/svc2/tcp/p80 }

add element ip kube-proxy no-endpoint-nodeports { tcp . 3001 comment "ns2/svc2:p80" : drop }
add element ip kube-proxy no-endpoint-services { 1.2.3.4 . tcp . 80 comment "ns2/svc2:p80" : drop }
add element ip kube-proxy no-endpoint-services { 192.168.99.22 . tcp . 80 comment "ns2/svc2:p80" : drop }

# svc3
add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-UEIP74TE-ns3/svc3/tcp/p80__10.180.0.3/80 }
add chain ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80
add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 jump mark-for-masquerade
add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 goto service-4AT6LBPK-ns3/svc3/tcp/p80
add chain ip kube-proxy endpoint-UEIP74TE-ns3/svc3/tcp/p80__10.180.0.3/80
add rule ip kube-proxy endpoint-UEIP74TE-ns3/svc3/tcp/p80__10.180.0.3/80 ip saddr 10.180.0.3 jump mark-for-masquerade
add rule ip kube-proxy endpoint-UEIP74TE-ns3/svc3/tcp/p80__10.180.0.3/80 meta l4proto tcp dnat to 10.180.0.3:80

add element ip kube-proxy cluster-ips { 172.30.0.43 }
add element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 }
add element ip kube-proxy service-nodeports { tcp . 3003 : goto external-4AT6LBPK-ns3/svc3/tcp/p80 }

# svc4
add chain ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80
add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 ip daddr 172.30.0.44 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80 , 1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 }
add chain ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80
add rule ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80 jump mark-for-masquerade
add rule ip kube-proxy external-LAUZTJTB-ns4/svc4/tcp/p80 goto service-LAUZTJTB-ns4/svc4/tcp/p80
add chain ip kube-proxy endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80
add rule ip kube-proxy endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 ip saddr 10.180.0.5 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 meta l4proto tcp dnat to 10.180.0.5:80
add chain ip kube-proxy endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80
add rule ip kube-proxy endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80 ip saddr 10.180.0.4 jump mark-for-masquerade
add rule ip kube-proxy endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80 meta l4proto tcp dnat to 10.180.0.4:80

add element ip kube-proxy cluster-ips { 172.30.0.44 }
add element ip kube-proxy service-ips { 172.30.0.44 . tcp . 80 : goto service-LAUZTJTB-ns4/svc4/tcp/p80 }
add element ip kube-proxy service-ips { 192.168.99.33 . tcp . 80 : goto external-LAUZTJTB-ns4/svc4/tcp/p80 }

# svc5
add set ip kube-proxy affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
add chain ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80
add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 ip daddr 172.30.0.45 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80
add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 }
add chain ip kube-proxy external-HVFWP5L3-ns5/svc5/tcp/p80
add rule ip kube-proxy external-HVFWP5L3-ns5/svc5/tcp/p80 jump mark-for-masquerade
add rule ip kube-proxy external-HVFWP5L3-ns5/svc5/tcp/p80 goto service-HVFWP5L3-ns5/svc5/tcp/p80

add chain ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80
add rule ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 ip saddr 10.180.0.3 jump mark-for-masquerade
add rule ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 update @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { ip saddr }
add rule ip kube-proxy endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 meta l4proto tcp dnat to 10.180.0.3:80

add chain ip kube-proxy firewall-HVFWP5L3-ns5/svc5/tcp/p80
add rule ip kube-proxy firewall-HVFWP5L3-ns5/svc5/tcp/p80 ip saddr != { 203.0.113.0/25 } drop

add element ip kube-proxy cluster-ips { 172.30.0.45 }
add element ip kube-proxy service-ips { 172.30.0.45 . tcp . 80 : goto service-HVFWP5L3-ns5/svc5/tcp/p80 }
add element ip kube-proxy service-ips { 5.6.7.8 . tcp . 80 : goto external-HVFWP5L3-ns5/svc5/tcp/p80 }
add element ip kube-proxy service-nodeports { tcp . 3002 : goto external-HVFWP5L3-ns5/svc5/tcp/p80 }
add element ip kube-proxy firewall-ips { 5.6.7.8 . tcp . 80 : goto firewall-HVFWP5L3-ns5/svc5/tcp/p80 }

# svc6
add element ip kube-proxy cluster-ips { 172.30.0.46 }
add element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain }
"""


def overall_objects() -> list[object]:
    """TestOverallNFTablesRules' six Services and their slices."""
    return [
        service("ns1", "svc1", "172.30.0.41", [port("p80", 80)]),
        service("ns2", "svc2", "172.30.0.42", [port("p80", 80, node_port=3001)],
                type="LoadBalancer", etp="Local", lb_ips=["1.2.3.4"],
                external_ips=["192.168.99.22"], hc_port=30000),
        service("ns3", "svc3", "172.30.0.43", [port("p80", 80, node_port=3003)], type="NodePort"),
        service("ns4", "svc4", "172.30.0.44", [port("p80", 80, target_port=80)], type="NodePort",
                external_ips=["192.168.99.33"]),
        service("ns5", "svc5", "172.30.0.45", [port("p80", 80, node_port=3002)],
                type="LoadBalancer", etp="Cluster", lb_ips=["5.6.7.8"], hc_port=30000,
                source_ranges=[" 203.0.113.0/25"], affinity_timeout=10800),
        service("ns6", "svc6", "172.30.0.46", [port("p80", 80, target_port=80)]),
        eslice("ns1", "svc1", [ep("10.180.0.1")], [eport("p80", 80)]),
        # Not local (no nodeName), so ignored for eTP Local.
        eslice("ns2", "svc2", [ep("10.180.0.2")], [eport("p80", 80)]),
        eslice("ns3", "svc3", [ep("10.180.0.3")], [eport("p80", 80)]),
        eslice("ns4", "svc4", [ep("10.180.0.4"), ep("10.180.0.5", TEST_NODE)],
               [eport("p80", 80)]),
        eslice("ns5", "svc5", [ep("10.180.0.3")], [eport("p80", 80)]),
    ]


def assert_same(expected: str, got: str) -> None:
    exp = sort_transaction(expected)
    res = sort_transaction(got)
    if exp != res:
        missing = [ln for ln in exp if ln not in res]
        extra = [ln for ln in res if ln not in exp]
        pytest.fail("rulesets differ\nmissing:\n  " + "\n  ".join(missing) +
                    "\nunexpected:\n  " + "\n  ".join(extra) +
                    ("\n(order differs)" if not missing and not extra else ""))


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(("ns", "svc", "portname", "proto", "expected"), [
    ("testing", "service", "http", "TCP", "P4ZYZVCF-testing/service/tcp/http"),
    ("testing", "service", "https", "TCP", "LZBRENCP-testing/service/tcp/https"),
    ("very-long-namespace-name-abcdefghijklmnopqrstuvwxyz0123456789xx",
     "very-long-service-name-why-would-you-even-do-this-i-mean-really",
     "port-443-providing-the-hypertext-transmission-protocol-with-tls", "SCTP",
     "KR6NACJP-very-long-namespace-name-abcdefghijklmnopqrstuvwxyz0123456789xx/very-long-"
     "service-name-why-would-you-even-do-this-i-mean-really/sctp/port-443-providing-the-"
     "hypertext-transmission-protocol-with-tls"),
])
def test_service_port_chain_name_base(ns: str, svc: str, portname: str, proto: str,
                                      expected: str) -> None:
    """Upstream's Test_servicePortChainNameBase."""
    assert service_port_chain_base(ServicePortName(ns, svc, portname, proto)) == expected


LONG = ("very-long-namespace-name-abcdefghijklmnopqrstuvwxyz0123456789xx",
        "very-long-service-name-why-would-you-even-do-this-i-mean-really",
        "port-443-providing-the-hypertext-transmission-protocol-with-tls")
LONG_BASE = f"{LONG[0]}/{LONG[1]}/sctp/{LONG[2]}"


@pytest.mark.parametrize(("spn", "ip", "eport_", "expected"), [
    (ServicePortName("testing", "service", "http", "TCP"), "10.180.0.1", 80,
     "JO2XBXZR-testing/service/tcp/http__10.180.0.1/80"),
    (ServicePortName("testing", "service", "http", "TCP"), "10.180.0.2", 80,
     "5S6H3H22-testing/service/tcp/http__10.180.0.2/80"),
    (ServicePortName("testing", "service", "http", "TCP"), "fd80:abcd:12::a1b2:c3d4:e5f6:9999", 80,
     "U7E2ET36-testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80"),
    (ServicePortName(*LONG, "SCTP"), "1234:5678:9abc:def0::abc:1234", 443,
     f"5YS7AFEA-{LONG_BASE}__1234.5678.9abc.def0..abc.1234/443"),
    (ServicePortName(*LONG, "SCTP"), "1234:5678:9abc:def0::abcd:1234:5678", 443,
     f"CI6C53Q3-{LONG_BASE}__1234.5678.9abc.def0..abcd.1234..."),
    (ServicePortName(*LONG, "SCTP"), "1234:5678:9abc:def0::abcd:1234:8765", 443,
     f"2FLXFK6X-{LONG_BASE}__1234.5678.9abc.def0..abcd.1234..."),
])
def test_endpoint_chain_name_base(spn: ServicePortName, ip: str, eport_: int,
                                  expected: str) -> None:
    """Upstream's Test_servicePortEndpointChainNameBase (truncation included)."""
    got = endpoint_chain_base(spn, ip, eport_)
    assert got == expected
    assert len(got) <= 240


def test_hash_is_base32_of_sha256() -> None:
    assert hash_and_truncate("ns1/svc1/tcp/p80") == "ULMVA6XW-ns1/svc1/tcp/p80"


# ----------------------------------------------------------------------------- full rulesets


def test_overall_ruleset_matches_upstream_golden() -> None:
    """TestOverallNFTablesRules: six Services of every kind, rule by rule."""
    rs = compile_node(plan(overall_objects()), TEST_NODE)
    assert_same(BASE_RULES + OVERALL, rs.dump())


def test_transaction_builds_the_dumped_table() -> None:
    """Applying the full-sync transaction (adds, flushes, base-chain recreation) yields
    exactly the dump."""
    rs = compile_node(plan(overall_objects()), TEST_NODE)
    table = table_of(rs.transaction())
    assert sort_transaction(table.dump()) == sort_transaction(rs.dump())
    # The transaction is add-then-flush for every chain, as kube-proxy's ensureChain.
    tx = rs.transaction().splitlines()
    i = tx.index("add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80")
    assert tx[i + 1] == "flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert "delete chain ip kube-proxy filter-input" in tx  # first sync recreates base chains
    assert "delete chain ip kube-proxy filter-input" not in \
        rs.transaction(first_sync=False).splitlines()


def test_bad_ips_are_normalised() -> None:
    """TestBadIPs: leading zeros and whitespace are rewritten to canonical addresses."""
    objs = [
        service("ns1", "svc1", "172.30.0.041", [port("p80", 80, node_port=3001)],
                type="LoadBalancer", lb_ips=["1.2.3.004"], external_ips=["192.168.099.022"],
                source_ranges=["203.0.113.000/025"]),
        eslice("ns1", "svc1", [ep("10.180.00.001")], [eport("p80", 80)]),
    ]
    expected = """
add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }
add chain ip kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 jump mark-for-masquerade
add rule ip kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 goto service-ULMVA6XW-ns1/svc1/tcp/p80
add chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 ip saddr 10.180.0.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 meta l4proto tcp dnat to 10.180.0.1:80
add chain ip kube-proxy firewall-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy firewall-ULMVA6XW-ns1/svc1/tcp/p80 ip saddr != { 203.0.113.0/25 } drop
add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy service-ips { 192.168.99.22 . tcp . 80 : goto external-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy service-ips { 1.2.3.4 . tcp . 80 : goto external-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy service-nodeports { tcp . 3001 : goto external-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy firewall-ips { 1.2.3.4 . tcp . 80 : goto firewall-ULMVA6XW-ns1/svc1/tcp/p80 }
"""
    assert_same(BASE_RULES + expected, compile_node(plan(objs), TEST_NODE).dump())


def test_firewall_allows_lb_ips_when_a_range_contains_the_node() -> None:
    """TestLoadBalancer's ranges include the node IP: the VIPs are allowed too (a node
    connecting to a locally bound VIP arrives with the VIP as its source)."""
    objs = [
        service("ns1", "svc1", "172.30.0.41", [port("p80", 80, node_port=3001)],
                type="LoadBalancer", lb_ips=["1.2.3.4", "5.6.7.8"],
                source_ranges=["192.168.0.0/24", " 203.0.113.0/25"]),
        eslice("ns1", "svc1", [ep("10.180.0.1")], [eport("p80", 80)]),
    ]
    t = table_of(compile_node(plan(objs), TEST_NODE).dump())
    base = service_port_chain_base(ServicePortName("ns1", "svc1", "p80", "TCP"))
    assert t.rules(f"firewall-{base}") == [
        "ip saddr != { 192.168.0.0/24 , 203.0.113.0/25 , 1.2.3.4 , 5.6.7.8 } drop"]


def test_ipv6_table() -> None:
    """The ip6 table: ip6 keywords, ipv6_addr sets, bracketed DNAT targets."""
    objs = [
        service("ns1", "svc1", "fd00:172:30::41", [port("p80", 80, node_port=3001)],
                type="NodePort"),
        eslice("ns1", "svc1", [ep("fd00:10:180::1"), ep("fd00:10:180::2:1", TEST_NODE)],
               [eport("p80", 80)], address_type="IPv6"),
    ]
    rs = compile_node(plan(objs, CONFIG_V6), TEST_NODE, 6)
    dump = rs.dump()
    assert 'add table ip6 kube-proxy { comment "rules for kube-proxy" ; }' in dump
    assert "add element ip6 kube-proxy nodeport-ips { 2001:db8::1 }" in dump
    assert ("add rule ip6 kube-proxy cluster-ips-check ip6 daddr { fd00:10:96::/112 } drop "
            'comment "Drop traffic to unallocated ClusterIPs"') in dump
    base = service_port_chain_base(ServicePortName("ns1", "svc1", "p80", "TCP"))
    t = table_of(dump)
    assert t.rules(f"service-{base}")[0] == (
        "ip6 daddr fd00:172:30::41 ip6 saddr != fd00:10::/64 jump mark-for-masquerade")
    epc = "endpoint-" + endpoint_chain_base(
        ServicePortName("ns1", "svc1", "p80", "TCP"), "fd00:10:180::1", 80)
    assert t.rules(epc) == ["ip6 saddr fd00:10:180::1 jump mark-for-masquerade",
                            "meta l4proto tcp dnat to [fd00:10:180::1]:80"]
    nft_load(rs.transaction())


def test_dual_stack_service_is_in_both_tables() -> None:
    """kube-proxy runs one proxier per family: a dual-stack Service gets the ClusterIP and
    endpoints of each family in that family's table."""
    import dataclasses

    from podnet.cluster.config import ClusterConfig

    cfg = ClusterConfig(pod_subnets=("10.0.0.0/8", "fd00:10::/64"),
                        service_subnets=("172.30.0.0/16", "fd00:10:96::/112"))
    svc = service("ns1", "svc1", "172.30.0.41", [port("p80", 80)])
    svc = dataclasses.replace(svc, spec=dataclasses.replace(
        svc.spec, cluster_ips=("172.30.0.41", "fd00:10:96::41"), ip_families=("IPv4", "IPv6")))
    objs = [svc,
            eslice("ns1", "svc1", [ep("10.180.0.1")], [eport("p80", 80)]),
            eslice("ns1", "svc1", [ep("fd00:10:180::1")], [eport("p80", 80)], n=2,
                   address_type="IPv6")]
    p = plan(objs, cfg)
    v4, v6 = compile_node(p, TEST_NODE, 4).dump(), compile_node(p, TEST_NODE, 6).dump()
    assert "add element ip kube-proxy cluster-ips { 172.30.0.41 }" in v4
    assert "dnat to 10.180.0.1:80" in v4 and "fd00" not in v4.replace("fd00:10::", "")
    assert "add element ip6 kube-proxy cluster-ips { fd00:10:96::41 }" in v6
    assert "meta l4proto tcp dnat to [fd00:10:180::1]:80" in v6 and "10.180.0.1" not in v6
    nft_load(compile_node(p, TEST_NODE, 4).transaction(),
             compile_node(p, TEST_NODE, 6).transaction())


def test_no_ipv4_services_in_ipv6_table() -> None:
    rs = compile_node(plan(overall_objects()), TEST_NODE, 6)
    assert not rs.ports
    assert "service-ips {" not in rs.dump().split("add map")[0]


# ----------------------------------------------------------------------------- partial syncs


REPEATED_1 = """
add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy cluster-ips { 172.30.0.42 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
add element ip kube-proxy service-ips { 172.30.0.42 . tcp . 8080 : goto service-MHHHYRWA-ns2/svc2/tcp/p8080 }

add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 }
add chain ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80
add rule ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 ip saddr 10.0.1.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 meta l4proto tcp dnat to 10.0.1.1:80

add chain ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080
add rule ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080 ip daddr 172.30.0.42 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080 numgen random mod 1 vmap { 0 : goto endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080 }
add chain ip kube-proxy endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080
add rule ip kube-proxy endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080 ip saddr 10.0.2.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080 meta l4proto tcp dnat to 10.0.2.1:8080
"""

SVC1 = """
add element ip kube-proxy cluster-ips { 172.30.0.41 }
add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 }
add chain ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80
add rule ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 ip saddr 10.0.1.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 meta l4proto tcp dnat to 10.0.1.1:80
"""

SVC3_1 = """
add element ip kube-proxy cluster-ips { 172.30.0.43 }
add element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 }
add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80 }
add chain ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80
add rule ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80 ip saddr 10.0.3.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80 meta l4proto tcp dnat to 10.0.3.1:80
"""

SVC4 = """
add element ip kube-proxy cluster-ips { 172.30.0.44 }
add element ip kube-proxy service-ips { 172.30.0.44 . tcp . 80 : goto service-LAUZTJTB-ns4/svc4/tcp/p80 }
add chain ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80
add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 ip daddr 172.30.0.44 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-WAHRBT2B-ns4/svc4/tcp/p80__10.0.4.1/80 }
add chain ip kube-proxy endpoint-WAHRBT2B-ns4/svc4/tcp/p80__10.0.4.1/80
add rule ip kube-proxy endpoint-WAHRBT2B-ns4/svc4/tcp/p80__10.0.4.1/80 ip saddr 10.0.4.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-WAHRBT2B-ns4/svc4/tcp/p80__10.0.4.1/80 meta l4proto tcp dnat to 10.0.4.1:80
"""

SVC3_2 = """
add element ip kube-proxy cluster-ips { 172.30.0.43 }
add element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 }
add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80 , 1 : goto endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80 }
add chain ip kube-proxy endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80
add rule ip kube-proxy endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80 ip saddr 10.0.3.2 jump mark-for-masquerade
add rule ip kube-proxy endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80 meta l4proto tcp dnat to 10.0.3.2:80
add chain ip kube-proxy endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80
add rule ip kube-proxy endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80 ip saddr 10.0.3.3 jump mark-for-masquerade
add rule ip kube-proxy endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80 meta l4proto tcp dnat to 10.0.3.3:80
"""


def _svc(ns: str, name: str, ip: str, pname: str, pnum: int) -> object:
    return service(ns, name, ip, [port(pname, pnum)])


def _slice(ns: str, name: str, ips: list[str], pname: str, pnum: int) -> object:
    return eslice(ns, name, [ep(i) for i in ips], [eport(pname, pnum)])


def _ops(text: str) -> int:
    return len([ln for ln in text.splitlines() if ln.strip()])


def test_sync_proxy_rules_repeated() -> None:
    """TestSyncProxyRulesRepeated: a sequence of partial syncs. After each, the table (previous
    table + partial transaction) equals upstream's expected table, and the transaction has
    upstream's number of operations."""
    svc1 = _svc("ns1", "svc1", "172.30.0.41", "p80", 80)
    svc2 = _svc("ns2", "svc2", "172.30.0.42", "p8080", 8080)
    svc3 = _svc("ns3", "svc3", "172.30.0.43", "p80", 80)
    svc4 = _svc("ns4", "svc4", "172.30.0.44", "p80", 80)
    eps1 = _slice("ns1", "svc1", ["10.0.1.1"], "p80", 80)
    eps2 = _slice("ns2", "svc2", ["10.0.2.1"], "p8080", 8080)
    eps3 = _slice("ns3", "svc3", ["10.0.3.1"], "p80", 80)
    eps4 = _slice("ns4", "svc4", ["10.0.4.1"], "p80", 80)

    p1 = plan([svc1, svc2, eps1, eps2])
    table = FakeTable()
    table.apply(full_sync(p1, TEST_NODE))
    assert_same(BASE_RULES + REPEATED_1, table.dump())
    loads = [full_sync(p1, TEST_NODE)]

    def step(prev: ServicePlan, cur: ServicePlan, expected: str, ops: int) -> None:
        r = partial_sync(prev, cur, TEST_NODE)
        assert not r.full
        table.apply(r.transaction)
        assert_same(BASE_RULES + expected, table.dump())
        assert r.operations == ops, r.transaction
        loads.append(r.transaction)

    # Add a new service and its endpoints: 2 elements + 2 chains (add+flush) with 2 rules each.
    p2 = plan([svc1, svc2, svc3, eps1, eps2, eps3])
    step(p1, p2, REPEATED_1 + SVC3_1, 10)

    # Delete a service: its chains are flushed, not deleted; 2 elements removed.
    p3 = plan([svc1, svc3, eps1, eps3])
    r = partial_sync(p2, p3, TEST_NODE)
    table.apply(r.transaction)
    expected_3 = SVC1 + SVC3_1 + """
add chain ip kube-proxy service-MHHHYRWA-ns2/svc2/tcp/p8080
add chain ip kube-proxy endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080
"""
    assert_same(BASE_RULES + expected_3, table.dump())
    assert r.operations == 4
    assert set(r.stale_chains) == {"service-MHHHYRWA-ns2/svc2/tcp/p8080",
                                   "endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080"}
    # ... and deleted by the later cleanup transaction.
    table.apply(r.cleanup)
    assert_same(BASE_RULES + SVC1 + SVC3_1, table.dump())
    loads += [r.transaction, r.cleanup]

    # Add a service, sync, then add its endpoints.
    p4 = plan([svc1, svc3, svc4, eps1, eps3])
    step(p3, p4, SVC1 + SVC3_1 + """
add element ip kube-proxy cluster-ips { 172.30.0.44 }
add element ip kube-proxy no-endpoint-services { 172.30.0.44 . tcp . 80 comment "ns4/svc4:p80" : goto reject-chain }
""", 2)
    p5 = plan([svc1, svc3, svc4, eps1, eps3, eps4])
    step(p4, p5, SVC1 + SVC3_1 + SVC4, 10)

    # Change an endpoint of an existing service: the old endpoint chain is flushed only.
    eps3b = _slice("ns3", "svc3", ["10.0.3.2"], "p80", 80)
    p6 = plan([svc1, svc3, svc4, eps1, eps3b, eps4])
    r = partial_sync(p5, p6, TEST_NODE)
    table.apply(r.transaction)
    svc3_b = """
add element ip kube-proxy cluster-ips { 172.30.0.43 }
add element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 : goto service-4AT6LBPK-ns3/svc3/tcp/p80 }
add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 ip daddr 172.30.0.43 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80 }
add chain ip kube-proxy endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80
add chain ip kube-proxy endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80
add rule ip kube-proxy endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80 ip saddr 10.0.3.2 jump mark-for-masquerade
add rule ip kube-proxy endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80 meta l4proto tcp dnat to 10.0.3.2:80
"""
    assert_same(BASE_RULES + SVC1 + svc3_b + SVC4, table.dump())
    assert r.operations == 9
    table.apply(r.cleanup)
    loads += [r.transaction, r.cleanup]

    # Add an endpoint to a service: 3 chains with 2 rules each.
    eps3c = _slice("ns3", "svc3", ["10.0.3.2", "10.0.3.3"], "p80", 80)
    p7 = plan([svc1, svc3, svc4, eps1, eps3c, eps4])
    step(p6, p7, SVC1 + SVC3_2 + SVC4, 12)

    # Empty a service's endpoints: its chains are flushed; reject instead of dispatch.
    eps3d = _slice("ns3", "svc3", [], "p80", 80)
    p8 = plan([svc1, svc3, svc4, eps1, eps3d, eps4])
    r = partial_sync(p7, p8, TEST_NODE)
    table.apply(r.transaction)
    assert_same(BASE_RULES + SVC1 + SVC4 + """
add element ip kube-proxy cluster-ips { 172.30.0.43 }
add element ip kube-proxy no-endpoint-services { 172.30.0.43 . tcp . 80 comment "ns3/svc3:p80" : goto reject-chain }
add chain ip kube-proxy service-4AT6LBPK-ns3/svc3/tcp/p80
add chain ip kube-proxy endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80
add chain ip kube-proxy endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80
""", table.dump())
    assert r.operations == 5
    assert set(r.stale_chains) == {"service-4AT6LBPK-ns3/svc3/tcp/p80",
                                   "endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80",
                                   "endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80"}
    loads.append(r.transaction)

    # Restore the endpoints before the cleanup ran: the chains are simply refilled.
    step(p8, p7, SVC1 + SVC3_2 + SVC4, 14)

    # Nothing changed: nothing to do.
    r = partial_sync(p7, p7, TEST_NODE)
    assert r.transaction == "" and r.operations == 0
    nft_load(*loads)


def test_partial_sync_equals_full_sync_of_the_new_plan() -> None:
    """Previous full sync + partial sync + cleanup == full sync of the new plan, for changes of
    every kind (policy, affinity, source ranges, node ports, deletion, addition)."""
    objs = overall_objects()
    p1 = plan(objs)
    changed = list(objs)
    changed[1] = service("ns2", "svc2", "172.30.0.42", [port("p80", 80, node_port=3001)],
                         type="LoadBalancer", etp="Cluster", lb_ips=["1.2.3.4"])
    changed[4] = service("ns5", "svc5", "172.30.0.45", [port("p80", 80, node_port=3002)],
                         type="LoadBalancer", lb_ips=["5.6.7.8"],
                         source_ranges=["203.0.113.0/25", "192.168.0.0/16"])
    del changed[5]  # svc6
    changed.append(service("ns7", "svc7", "172.30.0.47", [port("dns", 53, "UDP")],
                           affinity_timeout=60))
    changed.append(eslice("ns7", "svc7", [ep("10.180.7.1"), ep("10.180.7.2")],
                          [eport("dns", 53, "UDP")]))
    p2 = plan(changed)
    r = partial_sync(p1, p2, TEST_NODE)
    assert set(r.updated) == {"ns2/svc2", "ns5/svc5", "ns6/svc6", "ns7/svc7"}
    table = table_of(full_sync(p1, TEST_NODE))
    table.apply(r.transaction)
    table.apply(r.cleanup)
    assert sort_transaction(table.dump()) == sort_transaction(compile_node(p2, TEST_NODE).dump())
    nft_load(full_sync(p1, TEST_NODE), r.transaction, r.cleanup)


def test_partial_sync_falls_back_to_full_when_the_node_changes() -> None:
    p1 = plan(overall_objects())
    p2 = plan(overall_objects(), nodes=[node(TEST_NODE, "192.168.0.9")])
    r = partial_sync(p1, p2, TEST_NODE)
    assert r.full
    assert "add element ip kube-proxy nodeport-ips { 192.168.0.9 }" in r.transaction


def test_with_service_shares_unchanged_entries() -> None:
    p1 = plan(overall_objects())
    p2 = p1.with_service(("ns1", "svc1"), service("ns1", "svc1", "172.30.0.41",
                                                  [port("p80", 80)]), [])
    assert p2.services[("ns3", "svc3")] is p1.services[("ns3", "svc3")]
    r = partial_sync(p1, p2, TEST_NODE)
    assert r.updated == ("ns1/svc1",)
    assert "add element ip kube-proxy no-endpoint-services { 172.30.0.41 . tcp . 80 comment " \
           '"ns1/svc1:p80" : goto reject-chain }' in r.transaction


# ----------------------------------------------------------------------------- loading


def test_overall_ruleset_loads_with_nft() -> None:
    rs = compile_node(plan(overall_objects()), TEST_NODE)
    listing = nft_load(rs.transaction())
    if listing:  # really loaded (root): the kernel's view has our objects
        assert "table ip kube-proxy" in listing
        assert "chain filter-prerouting-pre-dnat" in listing
        assert re.search(r"type filter hook prerouting priority (dstnat - 10|-110)", listing)
        assert "numgen random mod 2" in listing
    nft_load(rs.dump())
    # A second full sync on top of the first (kube-proxy restart) loads too.
    nft_load(rs.transaction(), rs.transaction())
    # The unprivileged loader (a user+net namespace of our own) works as well.
    assert "numgen random mod 2" in nft_load(rs.transaction(), userns=True)
