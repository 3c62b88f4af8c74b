"""The pod resolv.conf, against kubelet's own tests (pkg/kubelet/network/dns/dns_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from podnet.api.core import Pod
from podnet.dns.resolvconf import ResolvConf, fit_search, merge_options, parse_resolv_conf, pod_resolv_conf


@pytest.mark.parametrize("data,ns,search,opts", [
    # TestParseResolvConf
    ("", [], [], []), (" ", [], [], []), ("\n", [], [], []), ("#comment\n", [], [], []),
    ("#comment\nnameserver 1.2.3.4\nsearch", ["1.2.3.4"], [], []),
    ("nameserver\t1.2.3.4", ["1.2.3.4"], [], []),
    ("nameserver 1.2.3.4\nnameserver 5.6.7.8", ["1.2.3.4", "5.6.7.8"], [], []),
    ("nameserver 1.2.3.4 #comment", ["1.2.3.4"], [], []),
    ("search foo. bar", [], ["foo", "bar"], []),
    ("search foo\nsearch bar", [], ["bar"], []),
    ("nameserver 1.2.3.4\nsearch foo\nnameserver 5.6.7.8\nsearch bar", ["1.2.3.4", "5.6.7.8"], ["bar"], []),
    ("options ndots:5 attempts:2", [], [], ["ndots:5", "attempts:2"]),
    ("options ndots:1\noptions ndots:5 attempts:3", [], [], ["ndots:5", "attempts:3"]),
])
def test_parse_resolv_conf(data: str, ns: list[str], search: list[str], opts: list[str]) -> None:
    rc = parse_resolv_conf(data)
    assert list(rc.nameservers) == ns and list(rc.search) == search and list(rc.options) == opts


def test_parse_resolv_conf_empty_nameserver_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_resolv_conf("#comment\nnameserver")


def test_search_limits() -> None:
    """TestFormDNSSearchFitsLimits (ExpandedDNSConfig, GA in 1.28: 32 domains, 2048 chars)."""
    base = ["testNS.svc.TEST", "svc.TEST", "TEST"]
    assert fit_search([*base, "AAA", "B" * 256, "BBB"]) == ([*base, "AAA", "BBB"], True)
    l2048 = ["A" * 128] + ["A" * 127] * 15
    assert fit_search(l2048) == (l2048, False)
    assert fit_search([*l2048, "B"]) == (l2048, True)
    n32 = base + [str(i) for i in range(4, 33)]
    assert fit_search(n32) == (n32, False)
    assert fit_search([*n32, "33"]) == (n32, True)


def test_merge_options() -> None:
    """TestMergeDNSOptions (order is unspecified in kubelet: compared as sets)."""
    from podnet.api.core import PodDNSConfig

    cfg = PodDNSConfig.from_dict({"options": [{"name": "ndots", "value": "3"}, {"name": "debug"},
                                              {"name": "single-request"}, {"name": "attempts", "value": "3"}]})
    assert set(merge_options(["ndots:5", "debug"], cfg)) == {"ndots:3", "debug", "single-request", "attempts:3"}


def _pod(policy: str, host_network: bool = False, dns_config: dict[str, Any] | None = None) -> Pod:
    spec: dict[str, Any] = {"dnsPolicy": policy, "hostNetwork": host_network}
    if dns_config:
        spec["dnsConfig"] = dns_config
    return Pod.from_dict({"metadata": {"name": "test_pod", "namespace": "testNS"}, "spec": spec})


HOST = ResolvConf(("8.8.8.8",), ("host.domain",), ())
CUSTOM = {"nameservers": ["10.0.0.11"], "searches": ["my.domain"],
          "options": [{"name": "ndots", "value": "3"}, {"name": "debug"}]}


@pytest.mark.parametrize("policy,host_net,cfg,servers,search,opts", [
    # TestGetPodDNSCustom
    ("None", False, None, [], [], []),
    ("None", False, {"nameservers": ["203.0.113.1"], "searches": ["my.domain", "second.domain"],
                     "options": [{"name": "ndots", "value": "3"}, {"name": "debug"}]},
     ["203.0.113.1"], ["my.domain", "second.domain"], ["ndots:3", "debug"]),
    ("ClusterFirst", False, CUSTOM, ["10.0.0.10", "10.0.0.11"],
     ["testNS.svc.kubernetes.io", "svc.kubernetes.io", "kubernetes.io", "host.domain", "my.domain"],
     ["ndots:3", "debug"]),
    ("ClusterFirstWithHostNet", True, CUSTOM, ["10.0.0.10", "10.0.0.11"],
     ["testNS.svc.kubernetes.io", "svc.kubernetes.io", "kubernetes.io", "host.domain", "my.domain"],
     ["ndots:3", "debug"]),
    ("Default", False, CUSTOM, ["8.8.8.8", "10.0.0.11"], ["host.domain", "my.domain"], ["ndots:3", "debug"]),
])
def test_get_pod_dns_custom(policy: str, host_net: bool, cfg: dict[str, Any] | None,
                            servers: list[str], search: list[str], opts: list[str]) -> None:
    rc = pod_resolv_conf(_pod(policy, host_net, cfg), cluster_domain="kubernetes.io",
                         cluster_dns=["10.0.0.10"], host=HOST)
    assert list(rc.nameservers) == servers and list(rc.search) == search
    assert set(rc.options) == set(opts)


def test_host_network_cluster_first_falls_back_to_default() -> None:
    """TestGetPodDNSType: ClusterFirst with hostNetwork → the host's settings."""
    rc = pod_resolv_conf(_pod("ClusterFirst", True), cluster_domain="kubernetes.io",
                         cluster_dns=["10.0.0.10"], host=HOST)
    assert rc.nameservers == ("8.8.8.8",) and rc.search == ("host.domain",)
    # testGetPodDNS: with no resolv.conf, Default gives 127.0.0.1 and search "."
    rc = pod_resolv_conf(_pod("Default"), cluster_domain="kubernetes.io", cluster_dns=["10.0.0.10"], host=None)
    assert rc.nameservers == ("127.0.0.1",) and rc.search == (".",)


def test_cluster_first_file_text_and_json() -> None:
    rc = pod_resolv_conf(_pod("ClusterFirst"), cluster_domain="cluster.local", cluster_dns=["10.96.0.10"],
                         host=parse_resolv_conf("nameserver 1.1.1.1\nsearch corp.example\noptions edns0\n"))
    assert rc.to_text() == (
        "search testNS.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )
    assert rc.to_dict() == {"nameservers": ["10.96.0.10"],
                            "search": ["testNS.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
                            "options": ["ndots:5"]}


def test_nameserver_limit() -> None:
    """TestFormDNSNameserversFitsLimits: four nameservers are trimmed to three."""
    rc = pod_resolv_conf(_pod("None", dns_config={"nameservers": ["127.0.0.1", "10.0.0.10", "8.8.8.8", "1.2.3.4"]}),
                         cluster_domain="cluster.local", cluster_dns=[], host=None)
    assert rc.nameservers == ("127.0.0.1", "10.0.0.10", "8.8.8.8") and rc.events
