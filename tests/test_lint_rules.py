"""Every lint rule firing on a hand-made manifest whose problem is known, and not firing on the
clean version of it (``clean_app`` lints clean: see test_lint_support)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from podnet.sim.findings import Finding
from podnet.sim.lint import LintReport, all_rules
from test_lint_support import (
    DNS_EGRESS,
    NOW,
    clean_app,
    deployment,
    ingress,
    lint_docs,
    policy,
    rules_of,
    service,
    tls_secret,
)


def replace(docs: list[dict[str, Any]], kind: str, name: str, new: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            if new is not None:
                out.append(new)
        else:
            out.append(d)
    return out


def only(report: LintReport, rule: str) -> Finding:
    """The report holds findings of ``rule`` only; the first one."""
    assert rules_of(report) == [rule], [f.to_dict() for f in report.findings]
    return report.findings[0]


# ------------------------------------------------------------------------------------ services


def test_service_selects_no_pods() -> None:
    docs = replace(clean_app(), "Service", "web", service("app", "web", selector={"app": "wbe"}))
    report = lint_docs(docs)
    assert rules_of(report) == ["ingress-backend-no-endpoints", "service-selects-no-pods"]
    f = next(f for f in report.findings if f.rule == "service-selects-no-pods")
    assert (f.severity, f.object.kind, f.object.name, f.field) == ("error", "Service", "web", "spec.selector")
    assert "refused" in f.message and "app=web" in f.fix
    assert f.file == "app.yaml" and f.line is not None


def test_service_in_the_wrong_namespace_is_told_where_the_pods_are() -> None:
    docs = clean_app() + [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
                          service("other", "web", selector={"app": "web"})]
    report = lint_docs(docs)
    f = next(f for f in report.findings if f.rule == "service-selects-no-pods")
    assert f.object.namespace == "other" and "namespace app" in f.fix


def test_named_target_port_missing() -> None:
    svc = service("app", "web", selector={"app": "web"},
                  ports=[{"name": "http", "port": 80, "targetPort": "htpp"}])
    report = lint_docs(replace(clean_app(), "Service", "web", svc))
    assert rules_of(report) == ["ingress-backend-no-endpoints", "service-target-port-missing"]
    f = next(f for f in report.findings if f.rule == "service-target-port-missing")
    assert f.severity == "error" and f.field == "spec.ports[0].targetPort"
    assert 'did you mean "http"' in f.fix and "no endpoints" in f.message


def test_named_target_port_missing_in_one_workload_only_is_a_warning() -> None:
    docs = clean_app() + [deployment("app", "web-canary", labels={"app": "web", "track": "canary"},
                                     ports=[{"name": "web", "containerPort": 8080}])]
    report = lint_docs(docs)
    f = next(f for f in report.findings if f.rule == "service-target-port-missing")
    assert f.severity == "warning" and "web-canary" in f.message


def test_numeric_target_port_not_declared_is_a_warning() -> None:
    svc = service("app", "web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": 8081}])
    f = only(lint_docs(replace(clean_app(), "Service", "web", svc)), "service-target-port-missing")
    assert f.severity == "warning" and "8081" in f.message and "targetPort: http" in f.fix


def test_numeric_target_port_not_judged_when_pods_declare_no_ports() -> None:
    docs = replace(clean_app(), "Deployment", "web", deployment("app", "web", ports=[]))
    docs = replace(docs, "Service", "web", service("app", "web", selector={"app": "web"},
                                                   ports=[{"name": "http", "port": 80, "targetPort": 8081}]))
    docs = replace(docs, "Ingress", "web", None)
    docs = replace(docs, "NetworkPolicy", "web-from-ingress", None)
    assert "service-target-port-missing" not in rules_of(lint_docs(docs))


def test_protocol_mismatch_named() -> None:
    svc = service("app", "web", selector={"app": "web"},
                  ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "UDP"}])
    docs = replace(clean_app(), "Service", "web", svc)
    report = lint_docs(docs)
    f = next(f for f in report.findings if f.rule == "service-port-protocol-mismatch")
    assert f.severity == "error" and f.field == "spec.ports[0].protocol" and "TCP" in f.fix
    assert "service-target-port-missing" not in rules_of(report)


def test_protocol_mismatch_numeric() -> None:
    svc = service("app", "web", selector={"app": "web"},
                  ports=[{"name": "http", "port": 80, "targetPort": 8080, "protocol": "UDP"}])
    report = lint_docs(replace(clean_app(), "Service", "web", svc))
    f = next(f for f in report.findings if f.rule == "service-port-protocol-mismatch")
    assert f.severity == "warning"


def test_externalname_ip() -> None:
    docs = clean_app() + [service("app", "legacy", ports=[], type="ExternalName", externalName="10.0.0.5")]
    f = only(lint_docs(docs), "externalname-ip")
    assert f.field == "spec.externalName" and "CNAME" in f.message
    ok = clean_app() + [service("app", "legacy", ports=[], type="ExternalName", externalName="db.example.com")]
    assert lint_docs(ok).findings == ()


def test_publish_not_ready_on_probed_pods() -> None:
    probe = {"readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}}}
    docs = replace(clean_app(), "Deployment", "web", deployment("app", "web", extra=probe))
    docs = replace(docs, "Service", "web", service("app", "web", selector={"app": "web"},
                                                   publishNotReadyAddresses=True))
    f = only(lint_docs(docs), "service-publish-not-ready")
    assert f.field == "spec.publishNotReadyAddresses" and "readiness" in f.message
    # without readiness probes there is nothing to bypass
    docs = replace(clean_app(), "Service", "web", service("app", "web", selector={"app": "web"},
                                                          publishNotReadyAddresses=True))
    assert lint_docs(docs).findings == ()


def _statefulset(publish: bool) -> list[dict[str, Any]]:
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "app"},
        "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{
                     "name": "db", "image": "postgres:16", "ports": [{"name": "pg", "containerPort": 5432}],
                     "readinessProbe": {"tcpSocket": {"port": "pg"}}}]}}},
    }
    svc = service("app", "db", selector={"app": "db"}, ports=[{"name": "pg", "port": 5432}],
                  clusterIP="None", publishNotReadyAddresses=publish)
    return clean_app() + [sts, svc]


def test_statefulset_peer_dns_waits_for_ready() -> None:
    f = only(lint_docs(_statefulset(False)), "statefulset-peer-dns-waits-for-ready")
    assert f.severity == "info" and "db-0.db.app.svc.cluster.local" in f.message
    assert lint_docs(_statefulset(True)).findings == ()


# ------------------------------------------------------------------------------------ ingress


def test_ingress_backend_missing() -> None:
    docs = replace(clean_app(), "Ingress", "web", ingress("app", "web", "web.example.com", backend="wbe"))
    f = only(lint_docs(docs), "ingress-backend-missing")
    assert f.field == "spec.rules[0].http.paths[0].backend.service.name" and "503" in f.message
    assert 'did you mean "web"' in f.fix


def test_ingress_backend_port_missing() -> None:
    docs = replace(clean_app(), "Ingress", "web", ingress("app", "web", "web.example.com", port={"number": 8080}))
    f = only(lint_docs(docs), "ingress-backend-port-missing")
    assert f.field.endswith("backend.service.port.number")
    assert "targetPort" in f.message  # 8080 is the container's port, not the Service's


def test_ingress_backend_no_endpoints() -> None:
    docs = replace(clean_app(), "Service", "web", service("app", "web", selector={"app": "nothing"}))
    report = lint_docs(docs)
    assert rules_of(report) == ["ingress-backend-no-endpoints", "service-selects-no-pods"]


def test_tls_secret_missing() -> None:
    docs = replace(clean_app(), "Secret", "web-tls", None)
    f = only(lint_docs(docs), "ingress-tls-secret-missing")
    assert f.field == "spec.tls[0].secretName" and "Fake Certificate" in f.message


def test_tls_secret_malformed() -> None:
    broken = tls_secret("app", "web-tls", ["web.example.com"])
    broken["data"]["tls.key"] = tls_secret("app", "x", ["x"], key=__import__(
        "cryptography.hazmat.primitives.asymmetric.ec", fromlist=["ec"]).generate_private_key(
        __import__("cryptography.hazmat.primitives.asymmetric.ec", fromlist=["ec"]).SECP256R1()))["data"]["tls.key"]
    docs = replace(clean_app(), "Secret", "web-tls", broken)
    f = only(lint_docs(docs), "ingress-tls-secret-invalid")
    assert f.object.kind == "Secret" and "does not match" in f.message
    garbage = tls_secret("app", "web-tls", ["web.example.com"])
    garbage["data"]["tls.crt"] = "bm90IGEgY2VydA=="
    f = only(lint_docs(replace(clean_app(), "Secret", "web-tls", garbage)), "ingress-tls-secret-invalid")
    assert f.field == "data['tls.crt']"


def test_tls_cert_expired_and_expiring() -> None:
    old = tls_secret("app", "web-tls", ["web.example.com"], not_after=NOW - dt.timedelta(days=1))
    f = only(lint_docs(replace(clean_app(), "Secret", "web-tls", old)), "ingress-tls-cert-expired")
    assert f.severity == "error" and f.object.kind == "Secret"
    soon = tls_secret("app", "web-tls", ["web.example.com"], not_after=NOW + dt.timedelta(days=10))
    f = only(lint_docs(replace(clean_app(), "Secret", "web-tls", soon)), "ingress-tls-cert-expiring")
    assert f.severity == "warning" and "10 days" in f.message


def test_tls_host_mismatch() -> None:
    other = tls_secret("app", "web-tls", ["www.example.org"])
    f = only(lint_docs(replace(clean_app(), "Secret", "web-tls", other)), "ingress-tls-host-mismatch")
    assert f.field == "spec.tls[0].hosts[0]" and "www.example.org" in f.message
    wildcard = tls_secret("app", "web-tls", ["*.example.com"])
    assert lint_docs(replace(clean_app(), "Secret", "web-tls", wildcard)).findings == ()


def test_tls_host_not_listed() -> None:
    ing = ingress("app", "web", "web.example.com")
    ing["spec"]["rules"].append({"host": "shop.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}})
    f = only(lint_docs(replace(clean_app(), "Ingress", "web", ing)), "ingress-tls-host-not-listed")
    assert f.field == "spec.rules[1].host"


def test_tls_conflict_between_ingresses() -> None:
    second = ingress("app", "web2", "web.example.com", path="/two", tls="web-tls-2")
    docs = clean_app() + [tls_secret("app", "web-tls-2", ["web.example.com"]), second]
    report = lint_docs(docs)
    f = only(report, "ingress-tls-conflict")
    assert f.object.name in ("web", "web2")


def test_rule_conflict_different_backends_is_an_error() -> None:
    docs = clean_app() + [deployment("app", "v2"), service("app", "v2", selector={"app": "v2"}),
                          ingress("app", "web-v2", "web.example.com", backend="v2", tls=None)]
    docs[5]["spec"]["ingress"][0]["ports"] = [{"protocol": "TCP", "port": "http"}]
    docs[5]["spec"]["podSelector"] = {}
    report = lint_docs(docs)
    f = only(report, "ingress-rule-conflict")
    assert f.severity == "error" and "never receives" in f.message


def test_rule_conflict_same_backend_is_a_warning() -> None:
    docs = clean_app() + [ingress("app", "web-dup", "web.example.com", tls=None)]
    f = only(lint_docs(docs), "ingress-rule-conflict")
    assert f.severity == "warning" and "duplicate" in f.message


def test_paths_differing_by_a_trailing_slash_overlap() -> None:
    ing = ingress("app", "web", "web.example.com", path="/api")
    ing["spec"]["rules"][0]["http"]["paths"].append(
        {"path": "/api/", "pathType": "Prefix", "backend": {"service": {"name": "v2", "port": {"number": 80}}}})
    docs = replace(clean_app(), "Ingress", "web", ing) + [
        deployment("app", "v2"), service("app", "v2", selector={"app": "v2"})]
    docs[5]["spec"]["podSelector"] = {}
    report = lint_docs(docs)
    f = only(report, "ingress-rule-conflict")
    assert f.severity == "warning" and "trailing slash" in f.message


def test_regex_path_under_prefix() -> None:
    docs = replace(clean_app(), "Ingress", "web", ingress("app", "web", "web.example.com", path="/api/(.*)"))
    f = only(lint_docs(docs), "ingress-regex-path")
    assert f.severity == "error" and f.field.endswith(".pathType") and "literal" in f.message
    with_regex = ingress("app", "web", "web.example.com", path="/api/(.*)", path_type="ImplementationSpecific",
                         annotations={"nginx.ingress.kubernetes.io/use-regex": "true"})
    assert lint_docs(replace(clean_app(), "Ingress", "web", with_regex)).findings == ()
    without = ingress("app", "web", "web.example.com", path="/api/(.*)", path_type="ImplementationSpecific")
    f = only(lint_docs(replace(clean_app(), "Ingress", "web", without)), "ingress-regex-path")
    assert f.severity == "warning" and "use-regex" in f.fix


def test_ingress_class_unknown() -> None:
    ing = ingress("app", "web", "web.example.com")
    ing["spec"]["ingressClassName"] = "traefik"
    f = only(lint_docs(replace(clean_app(), "Ingress", "web", ing)), "ingress-class-unknown")
    assert f.field == "spec.ingressClassName" and "nginx" in f.fix


# ------------------------------------------------------------------------------------ policy


def test_namespace_not_isolated() -> None:
    docs = replace(clean_app(), "NetworkPolicy", "default-deny", None)
    docs = replace(docs, "NetworkPolicy", "web-from-ingress", None)
    f = only(lint_docs(docs), "namespace-not-isolated")
    assert (f.severity, f.object.kind, f.object.name, f.field) == ("warning", "Namespace", "app", "metadata.name")
    # every pod isolated one policy at a time: info only
    docs = replace(clean_app(), "NetworkPolicy", "default-deny", None)
    f = only(lint_docs(docs), "namespace-not-isolated")
    assert f.severity == "info"


def test_policy_selects_no_pods() -> None:
    docs = clean_app() + [policy("app", "db-only", {"podSelector": {"matchLabels": {"app": "db"}},
                                                    "ingress": [{}]})]
    f = only(lint_docs(docs), "policy-selects-no-pods")
    assert f.field == "spec.podSelector" and "app=web" in f.fix


def test_policy_peer_selects_nothing_with_the_name_label_mistake() -> None:
    docs = clean_app() + [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mon"}},
                          deployment("mon", "prom")]
    docs.append(policy("app", "from-mon", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "mon"}}}]}]}))
    report = lint_docs(docs)
    f = next(f for f in report.findings if f.rule == "policy-peer-selects-nothing")
    assert f.field == "spec.ingress[0].from[0]" and "kubernetes.io/metadata.name: mon" in f.fix
    assert "namespace-not-isolated" in rules_of(report)  # mon has no policy at all


def test_policy_port_name_unknown() -> None:
    docs = replace(clean_app(), "NetworkPolicy", "web-from-ingress", policy("app", "web-from-ingress", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"ports": [{"protocol": "TCP", "port": "htpp"}]}]}))
    f = only(lint_docs(docs), "policy-port-name-unknown")
    assert f.field == "spec.ingress[0].ports[0].port" and "http" in f.fix


def test_policy_rules_ignored() -> None:
    docs = clean_app() + [policy("app", "half", {
        "podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": 8080}]}], "egress": [{"ports": [{"port": 443}]}]})]
    f = only(lint_docs(docs), "policy-rules-ignored")
    assert f.field == "spec.policyTypes" and "Egress" in f.fix


def test_policy_blocks_dns_error_when_other_egress_is_allowed() -> None:
    docs = replace(clean_app(), "NetworkPolicy", "allow-dns", policy("app", "to-api", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"podSelector": {}}], "ports": [{"port": 8080}]}]}))
    f = only(lint_docs(docs), "policy-blocks-dns")
    assert f.severity == "error" and f.object.kind == "NetworkPolicy" and "53" in f.fix
    assert "times out" in f.message


def test_policy_blocks_dns_warning_when_all_egress_is_denied() -> None:
    docs = replace(clean_app(), "NetworkPolicy", "allow-dns", None)
    f = only(lint_docs(docs), "policy-blocks-dns")
    assert f.severity == "warning" and f.object.name == "default-deny"


def test_policy_blocks_dns_over_tcp_only() -> None:
    udp_only = dict(DNS_EGRESS, ports=[{"protocol": "UDP", "port": 53}])
    docs = replace(clean_app(), "NetworkPolicy", "allow-dns", policy("app", "allow-dns", {
        "podSelector": {}, "policyTypes": ["Egress"], "egress": [udp_only]}))
    f = only(lint_docs(docs), "policy-blocks-dns")
    assert f.severity == "warning" and "TCP" in f.message


# ------------------------------------------------------------------------------------ dns, plugins


def test_ndots_external_name() -> None:
    extra = {"args": ["--upstream=https://api.stripe.com/v1", "--db=db.app:5432"]}
    docs = replace(clean_app(), "Deployment", "web", deployment("app", "web", extra=extra))
    f = only(lint_docs(docs), "dns-ndots-external-name")
    assert f.severity == "info" and f.field == "spec.template.spec.containers[0].args[0]"
    assert "api.stripe.com.app.svc.cluster.local" in f.message and "api.stripe.com." in f.fix
    # a trailing dot, or enough ndots, and nothing to say
    ok = {"args": ["--upstream=https://api.stripe.com./v1"]}
    assert lint_docs(replace(clean_app(), "Deployment", "web", deployment("app", "web", extra=ok))).findings == ()


def test_policies_under_a_plugin_that_does_not_enforce_them() -> None:
    report = lint_docs(clean_app(), plugin="flannel")
    assert rules_of(report) == ["policy-not-enforced"]
    assert all(f.severity == "warning" for f in report.findings)
    assert "policy-not-enforced" not in rules_of(lint_docs(clean_app(), plugin="cilium"))


def test_plugin_layer_findings_point_into_the_cluster_document() -> None:
    cluster = {"apiVersion": "podnet.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "default"},
               "plugin": {"name": "calico", "mode": "vxlan", "mtu": 1500}}
    report = lint_docs([cluster] + clean_app())
    f = only(report, "overlay-mtu-too-large")
    assert f.object.kind == "Cluster" and f.field == "plugin.mtu"
    assert f.file == "app.yaml" and f.line is not None and f.line > 1


# ------------------------------------------------------------------------------------ catalogue


def test_every_rule_has_a_test_here() -> None:
    text = open(__file__, encoding="utf-8").read()
    mine = [r for r, rule in all_rules().items() if rule.category != "plugins"]
    missing = [r for r in mine if f'"{r}"' not in text]
    assert not missing, missing


@pytest.mark.parametrize("rule_id", sorted(all_rules()))
def test_rules_are_described(rule_id: str) -> None:
    r = all_rules()[rule_id]
    assert r.summary and r.help and r.severity in ("error", "warning", "info")
