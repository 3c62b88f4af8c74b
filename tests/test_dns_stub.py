"""The glibc search walk (resolv/res_query.c __res_context_search), driven by the model."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rrset

from podnet.api.core import Pod
from podnet.dns.config import ServerConfig
from podnet.dns.resolvconf import ResolvConf, parse_resolv_conf, pod_resolv_conf
from podnet.dns.stub import Done, Send, StubWalk, candidates, walk, walk_model
from test_dns_fixtures import HTTP, ns, svc, zone_of

ZI = zone_of([ns("default"), svc("default", "web", ips=["10.96.100.1"], ports=[HTTP])])
CFG = ServerConfig.kubeadm(files={"/etc/resolv.conf": "nameserver 192.0.2.1\n"})
POD = Pod.from_dict({"metadata": {"name": "client", "namespace": "default"}})
RC = pod_resolv_conf(POD, cluster_domain="cluster.local", cluster_dns=["10.96.0.10"],
                     host=parse_resolv_conf("nameserver 192.0.2.1\nsearch corp.example\n"))


def internet(q: dns.message.Message, ups: tuple[str, ...]) -> dns.message.Message:
    """The outside world: only api.github.com. exists."""
    r = dns.message.make_response(q)
    if q.question[0].name.to_text() == "api.github.com.":
        r.answer.append(dns.rrset.from_text("api.github.com.", 60, "IN", "A", "140.82.112.6"))
    else:
        r.set_rcode(dns.rcode.NXDOMAIN)
    return r


def test_api_github_com_costs_five_queries() -> None:
    """2 dots < ndots:5: every search domain first (three cluster ones, then the node's), then
    the name as is — glibc's order in __res_context_search."""
    done = walk_model("api.github.com", "A", RC, ZI, CFG, internet)
    assert [t.name for t in done.tried] == [
        "api.github.com.default.svc.cluster.local.",
        "api.github.com.svc.cluster.local.",
        "api.github.com.cluster.local.",
        "api.github.com.corp.example.",
        "api.github.com.",
    ]
    assert [t.rcode for t in done.tried] == ["NXDOMAIN"] * 4 + ["NOERROR"]
    assert done.h_errno == "NETDB_SUCCESS" and done.response is not None


def test_short_name_stops_at_first_answer() -> None:
    done = walk_model("web", "A", RC, ZI, CFG, internet)
    assert [t.name for t in done.tried] == ["web.default.svc.cluster.local."]
    assert done.response is not None and done.response.answer


def test_trailing_dot_is_absolute_only() -> None:
    done = walk_model("web.default.svc.cluster.local.", "A", RC, ZI, CFG, internet)
    assert [t.name for t in done.tried] == ["web.default.svc.cluster.local."]
    done = walk_model("nothing.example.", "A", RC, ZI, CFG, internet)
    assert [t.name for t in done.tried] == ["nothing.example."] and done.h_errno == "HOST_NOT_FOUND"


def test_enough_dots_try_as_is_first() -> None:
    rc = ResolvConf(("10.96.0.10",), ("default.svc.cluster.local",), ("ndots:2",))
    assert [n for n, _ in candidates("a.b.c", rc)] == ["a.b.c.", "a.b.c.default.svc.cluster.local."]
    assert [n for n, _ in candidates("a", rc)] == ["a.default.svc.cluster.local.", "a."]


def test_nodata_goes_on_and_is_the_verdict() -> None:
    """NO_DATA keeps searching (a wildcard of another type must not stop the walk)."""
    done = walk_model("web", "AAAA", RC, ZI, CFG, internet)
    assert done.tried[0].rcode == "NOERROR" and len(done.tried) == 5
    assert done.h_errno == "NO_DATA"


def test_servfail_tries_next_server_then_next_domain_refused_stops_search() -> None:
    rc = ResolvConf(("10.0.0.1", "10.0.0.2"), ("a.example", "b.example"), ("attempts:1",))
    sent: list[tuple[str, str]] = []

    def servfail(q: dns.message.Message, server: str) -> dns.message.Message:
        sent.append((q.question[0].name.to_text(), server))
        r = dns.message.make_response(q)
        r.set_rcode(dns.rcode.SERVFAIL)
        return r

    done = walk("x", "A", rc, servfail)
    assert sent[:2] == [("x.a.example.", "10.0.0.1"), ("x.a.example.", "10.0.0.2")]
    assert [t.name for t in done.tried] == ["x.a.example.", "x.b.example.", "x."]
    assert done.h_errno == "TRY_AGAIN"

    def refused(q: dns.message.Message, server: str) -> dns.message.Message:
        r = dns.message.make_response(q)
        r.set_rcode(dns.rcode.REFUSED)
        return r

    done = walk("x", "A", rc, refused)
    assert [t.name for t in done.tried] == ["x.a.example.", "x."]


def test_state_machine_timeouts_use_attempts_and_servers() -> None:
    rc = ResolvConf(("10.0.0.1", "10.0.0.2"), (), ("attempts:2", "timeout:1"))
    w = StubWalk("host.example.", 1, rc)
    steps = []
    while True:
        s = w.next()
        if isinstance(s, Done):
            break
        assert isinstance(s, Send) and s.timeout == 1.0
        steps.append((s.server, s.attempt))
        w.feed(None)
    assert steps == [("10.0.0.1", 0), ("10.0.0.2", 0), ("10.0.0.1", 1), ("10.0.0.2", 1)]
    assert s.h_errno == "TRY_AGAIN" and s.tried[0].rcode == "TIMEOUT"
