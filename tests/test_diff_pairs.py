"""podnet diff on hand-made pairs of manifests whose behavioural difference is known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from podnet.api.loader import parse_text
from podnet.cli.main import cli
from podnet.cluster.admission import admit, default_all
from podnet.cluster.config import DEFAULT
from podnet.sim.diff import DiffReport, derive_head, diff_states
from test_lint_support import clean_app, deployment, ingress, policy, service, to_yaml


def diff(base: list[dict[str, Any]], head: list[dict[str, Any]], plugin: str = "calico") -> DiffReport:
    cfg = DEFAULT.with_plugin(plugin)
    b = admit(parse_text(to_yaml(base), "base.yaml"), cfg)
    h_objs = [i.obj for i in default_all(parse_text(to_yaml(head), "head.yaml").objects)]
    head_state = derive_head(b.state, b.objects, h_objs)
    return diff_states(b.state, head_state)


def two_apps() -> list[dict[str, Any]]:
    """app (isolated: only the ingress controller may reach web) and client (open)."""
    return clean_app() + [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "client"}},
        deployment("client", "curl", ports=[]),
        deployment("client", "api", ports=[{"name": "http", "containerPort": 9000}]),
        service("client", "api", selector={"app": "api"}),
    ]


def without(docs: list[dict[str, Any]], kind: str, name: str, ns: str = "app") -> list[dict[str, Any]]:
    return [d for d in docs if not (d["kind"] == kind and d["metadata"]["name"] == name
                                    and d["metadata"].get("namespace", "") == ns)]


def _k(keys: tuple[tuple[str, str, str], ...]) -> tuple[str, ...]:
    return tuple(f"{k[0]}/{k[2]}" if k[0] else k[2] for k in keys)


def lines(r: DiffReport) -> list[tuple[str, tuple[str, ...], int, str, tuple[str, ...]]]:
    """(change, destinations, port, protocol, sources) of every group."""
    return [(g.change, _k(g.destinations), g.port, g.protocol, _k(g.sources)) for g in r.reachability]


def test_no_change_is_no_change() -> None:
    r = diff(two_apps(), two_apps())
    assert not r.changed and r.to_text().startswith("no behavioural change")


def test_removing_the_dns_allowance_loses_dns_for_every_workload_of_the_namespace() -> None:
    r = diff(two_apps(), without(two_apps(), "NetworkPolicy", "allow-dns"))
    assert lines(r) == [
        ("lost", ("kube-system/coredns",), 53, "TCP", ("app/web",)),
        ("lost", ("kube-system/coredns",), 53, "UDP", ("app/web",)),
    ]
    assert "app/default-deny" in r.reachability[0].reason
    assert not r.dns and not r.endpoints and not r.ingress


def test_opening_a_port_to_a_namespace() -> None:
    head = two_apps() + [policy("app", "web-from-client", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "client"}}}],
                     "ports": [{"port": 8080}]}]})]
    r = diff(two_apps(), head)
    assert lines(r) == [("gained", ("app/web",), 8080, "TCP", ("client/api", "client/curl"))]
    assert "app/web-from-client" in r.reachability[0].reason


def test_isolating_an_open_namespace() -> None:
    head = two_apps() + [policy("client", "default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]})]
    r = diff(two_apps(), head)
    assert lines(r) == [("lost", ("client/api",), 9000, "TCP", (
        "outside the cluster", "client/curl", "ingress-nginx/ingress-nginx-controller", "kube-system/coredns"))]
    assert "client/default-deny" in r.reachability[0].reason


def test_relabelling_a_workload_out_of_a_policy() -> None:
    head = [d for d in two_apps() if not (d["kind"] == "Deployment" and d["metadata"]["name"] == "web")]
    head.append(deployment("app", "web", labels={"app": "web2"}))
    r = diff(two_apps(), head)
    # the Service and the policy no longer select it: its endpoints go, the controller loses it
    assert [e.service for e in r.endpoints] == ["app/web"] and r.endpoints[0].after == ()
    assert ("lost", ("app/web",), 8080, "TCP", ("ingress-nginx/ingress-nginx-controller",)) in lines(r)
    assert any(u.url == "https://web.example.com/" and u.after is not None and u.after["status"] == 503
               for u in r.ingress)


def test_dns_names_added_removed_repointed() -> None:
    base = two_apps() + [service("app", "pay", ports=[], type="ExternalName", externalName="pay.example.com")]
    head = without(base, "Service", "pay") + [
        service("app", "pay", ports=[], type="ExternalName", externalName="pay.example.net"),
        service("app", "web-internal", selector={"app": "web"}),
    ]
    head = without(head, "Service", "api", ns="client")
    r = diff(base, head)
    changes = {(c.name, c.change) for c in r.dns}
    assert ("pay.app.svc.cluster.local", "re-pointed") in changes
    assert ("web-internal.app.svc.cluster.local", "added") in changes
    assert ("api.client.svc.cluster.local", "removed") in changes
    pay = next(c for c in r.dns if c.name.startswith("pay."))
    assert pay.before == "CNAME pay.example.com" and pay.after == "CNAME pay.example.net"


def test_ingress_backend_and_certificate_changes() -> None:
    base = two_apps()
    head = without(base, "Ingress", "web") + [ingress("app", "web", "web.example.com", backend="missing", tls=None)]
    r = diff(base, head)
    got = {u.url: (u.before, u.after) for u in r.ingress}
    http_before, http_after = got["http://web.example.com/"]
    https_before, https_after = got["https://web.example.com/"]
    assert http_before is not None and http_before["status"] == 308  # was redirected to HTTPS
    assert http_after is not None and http_after["status"] == 503  # now proxied to nothing
    assert https_before is not None and https_before["tls_secret"] == "app/web-tls"
    assert https_after is not None and https_after["tls_secret"] == "controller-default"
    head2 = without(base, "Ingress", "web") + [ingress("app", "web", "web.example.com", backend="missing")]
    (u,) = diff(base, head2).ingress
    assert u.before is not None and u.after is not None
    assert (u.before["status"], u.after["status"]) == (200, 503)


def test_scaling_changes_endpoints_only() -> None:
    head = without(two_apps(), "Deployment", "web") + [deployment("app", "web", replicas=3)]
    r = diff(two_apps(), head)
    assert not r.reachability and not r.dns and not r.ingress
    (e,) = r.endpoints
    assert (len(e.before), len(e.after), len(e.added), len(e.removed)) == (2, 3, 1, 0)


def test_new_and_removed_workloads() -> None:
    head = without(two_apps(), "Deployment", "curl", ns="client") + [deployment("client", "wget", ports=[])]
    r = diff(two_apps(), head)
    assert [w[2] for w in r.workloads_added] == ["wget"] and [w[2] for w in r.workloads_removed] == ["curl"]


def test_policy_change_under_flannel_is_noted() -> None:
    r = diff(two_apps(), without(two_apps(), "NetworkPolicy", "allow-dns"), plugin="flannel")
    assert r.reachability and any("does not enforce" in n for n in r.notes)


def test_cli_formats_and_fail_on_change(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(to_yaml(two_apps()))
    (tmp_path / "head.yaml").write_text(to_yaml(without(two_apps(), "NetworkPolicy", "allow-dns")))
    args = ["diff", "--base", str(tmp_path / "base.yaml"), "--head", str(tmp_path / "head.yaml"), "--plugin", "calico"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "lost   app/web → kube-system/coredns 53/UDP" in r.stdout
    r = CliRunner().invoke(cli, args + ["-o", "json"])
    doc = json.loads(r.stdout)
    assert doc["changed"] and len(doc["reachability"]["lost"]) == 2 and doc["reachability"]["gained"] == []
    assert doc["reachability"]["lost"][0]["from"] == ["app/web"] and doc["reachability"]["lost"][0]["pairs"] == 1
    r = CliRunner().invoke(cli, args + ["-o", "markdown", "--fail-on-change"])
    assert r.exit_code == 1 and "| 🔴 closed | app/web | kube-system/coredns | 53/UDP |" in r.stdout
    same = ["diff", "--base", str(tmp_path / "base.yaml"), "--head", str(tmp_path / "base.yaml"), "--fail-on-change"]
    assert CliRunner().invoke(cli, same).exit_code == 0


def test_cli_head_is_validated(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(to_yaml(two_apps()))
    bad = two_apps() + [service("app", "broken", selector={"app": "x"}, ports=[{"port": 70000}])]
    (tmp_path / "head.yaml").write_text(to_yaml(bad))
    r = CliRunner().invoke(cli, ["diff", "--base", str(tmp_path / "base.yaml"), "--head", str(tmp_path / "head.yaml")])
    assert r.exit_code == 1 and "70000" in r.stderr


