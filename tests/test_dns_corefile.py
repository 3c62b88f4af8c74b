"""The Corefile parser: kubeadm's Corefile, CoreDNS's error messages, the plugins' options."""

from __future__ import annotations

import pytest

from podnet.dns.corefile import CorefileError, kubeadm_corefile, parse_corefile, tokenize


def test_kubeadm_corefile_structure() -> None:
    """The ConfigMap kubeadm installs (cmd/kubeadm/app/phases/addons/dns/manifests.go)."""
    cf = parse_corefile(kubeadm_corefile("cluster.local"))
    assert len(cf.blocks) == 1
    b = cf.blocks[0]
    assert b.zones == (".",) and b.port == 53 and b.transport == "dns"
    k = b.kubernetes
    assert k is not None
    assert k.zones == ("cluster.local.", "in-addr.arpa.", "ip6.arpa.")
    assert k.primary_zone == "cluster.local."
    assert k.pods == "insecure" and k.ttl == 30
    assert k.fallthrough == ("in-addr.arpa.", "ip6.arpa.")
    assert [f.from_zone for f in b.forward] == ["."]
    assert b.forward[0].to == ("/etc/resolv.conf",) and b.forward[0].max_concurrent == 1000
    assert b.forward[0].policy == "random" and b.forward[0].max_fails == 2
    c = b.cache
    assert c is not None and c.success_ttl == 30 and c.denial_ttl == 30
    assert c.disable_success == ("cluster.local.",) and c.disable_denial == ("cluster.local.",)
    assert b.prometheus == ":9153" and b.health == ":8080" and b.health_lameduck == 5.0
    assert b.ready == ":8181" and b.errors and b.loop and b.reload == (30.0, 15.0)
    assert b.loadbalance is not None and b.loadbalance.policy == "round_robin"
    # handlers run in plugin.cfg order, not file order
    assert b.plugins == ("reload", "ready", "health", "prometheus", "errors", "loadbalance",
                         "cache", "kubernetes", "loop", "forward")


def test_unknown_directive_error_names_the_line() -> None:
    """caddyfile parse.go: ``Unknown directive '%s'`` via Dispenser.Errf (file:line)."""
    with pytest.raises(CorefileError) as e:
        parse_corefile(".:53 {\n    errors\n    xyz\n}\n")
    assert str(e.value) == "Corefile:3 - Error during parsing: Unknown directive 'xyz'"


def test_several_blocks_zones_ports_comments_and_quotes() -> None:
    text = """
# stub domain
example.local:1053 other.local:1053 {   # two zones
    forward . 10.100.0.10:53 "10.100.0.11" {
        policy sequential
        max_fails 3
        health_check 1s
        expire 20s
    }
}
cluster.local:1053 10.0.0.0/17:1053 {
    kubernetes {
        pods verified
        namespaces a b
        endpoint_pod_names
        noendpoints
        fallthrough
        ttl 0
    }
    hosts /etc/hosts.cluster {
        10.0.0.5 legacy.cluster.local
        ttl 60
        fallthrough
    }
    transfer {
        to 10.1.0.1 *
    }
    bind 127.0.0.1
}
"""
    cf = parse_corefile(text)
    a, b = cf.blocks
    assert a.zones == ("example.local.", "other.local.") and a.port == 1053
    f = a.forward[0]
    assert f.to == ("10.100.0.10:53", "10.100.0.11") and f.policy == "sequential"
    assert f.max_fails == 3 and f.health_check == 1.0 and f.expire == 20.0
    assert b.zones[0] == "cluster.local." and len(b.zones) == 1 + 128
    assert "0.0.10.in-addr.arpa." in b.zones and "127.0.10.in-addr.arpa." in b.zones
    k = b.kubernetes
    assert k is not None and k.pods == "verified" and k.namespaces == {"a", "b"}
    assert k.endpoint_pod_names and k.noendpoints and k.fallthrough == (".",) and k.ttl == 0
    h = b.hosts
    assert h is not None and h.path == "/etc/hosts.cluster" and h.inline == ("10.0.0.5 legacy.cluster.local",)
    assert h.ttl == 60 and h.fallthrough == (".",)
    assert b.transfer[0].to == ("10.1.0.1", "*") and b.bind == ("127.0.0.1",)


@pytest.mark.parametrize("text,msg", [
    (". {\n kubernetes {\n pods sometimes\n }\n}\n",
     "plugin/kubernetes: wrong value for pods: sometimes,  must be one of: disabled, verified, insecure"),
    (". {\n kubernetes {\n ttl 4000\n }\n}\n",
     "plugin/kubernetes: Corefile:3 - Error during parsing: ttl must be in range [0, 3600]: 4000"),
    (". {\n kubernetes {\n foo\n }\n}\n",
     "plugin/kubernetes: Corefile:3 - Error during parsing: unknown property 'foo'"),
    (". {\n forward .\n}\n",
     "plugin/forward: Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after '.'"),
    (". {\n forward . 1.1.1.1 {\n policy fastest\n }\n}\n",
     "plugin/forward: Corefile:3 - Error during parsing: unknown policy 'fastest'"),
    (". {\n cache 0\n}\n", "plugin/cache: cache TTL can not be zero or negative: 0"),
    (". {\n kubernetes in-addr.arpa\n}\n", "plugin/kubernetes: non-reverse zone name must be used"),
    (".:53 {\n whoami\n}\n.:53 {\n whoami\n}\n", None),
    (". {\n cache\n cache\n}\n", "plugin/cache: this plugin can only be used once per Server Block"),
    (".:53 {\n errors\n}\n.:53 {\n errors\n}\n", "cannot serve dns://.:53 - it is already defined"),
    (". {\n errors\n", "Corefile:2 - Error during parsing: Unexpected EOF"),
])
def test_errors(text: str, msg: str | None) -> None:
    with pytest.raises(CorefileError) as e:
        parse_corefile(text)
    if msg is not None:
        assert str(e.value) == msg


def test_lexer_comments_and_quotes() -> None:
    toks = [t.text for t in tokenize('a "b c" d#comment\n"e \\"f\\""')]
    assert toks == ["a", "b c", "d", 'e "f"']


def test_braceless_single_block() -> None:
    cf = parse_corefile(".:5300\nerrors\nforward . 8.8.8.8\n")
    assert cf.blocks[0].port == 5300 and cf.blocks[0].forward[0].to == ("8.8.8.8",)
