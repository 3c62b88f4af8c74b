"""Helpers for the lint, check and diff tests: hand-made manifests whose problems are known.

:func:`clean_app` is a namespace that lints clean under an enforcing plugin (deny by default,
DNS allowed, a Deployment behind a Service, an Ingress with a valid certificate); each lint test
breaks exactly one thing in it and expects exactly the rule about that thing.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from podnet.api.loader import parse_text
from podnet.cluster.config import DEFAULT
from podnet.sim.lint import IgnoreEntry, LintReport, context_from, lint

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
PATH = "app.yaml"

_KEY = ec.generate_private_key(ec.SECP256R1())


def cert_pem(names: Sequence[str], *, not_after: dt.datetime | None = None,
             key: ec.EllipticCurvePrivateKey | None = None) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``names`` and its key, as PEM."""
    k = key or _KEY
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    end = not_after or NOW + dt.timedelta(days=365)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(k.public_key())
        .serial_number(1000)
        .not_valid_before(end - dt.timedelta(days=800))
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(k, hashes.SHA256())
    )
    key_pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def tls_secret(ns: str, name: str, names: Sequence[str], **kw: Any) -> dict[str, Any]:
    crt, key = cert_pem(names, **kw)
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": ns},
        "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode()},
    }


def deployment(ns: str, name: str, *, labels: dict[str, str] | None = None,
               ports: list[dict[str, Any]] | None = None, replicas: int = 2,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    container: dict[str, Any] = {"name": name, "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                                 "ports": ports if ports is not None else [{"name": "http", "containerPort": 8080}]}
    if extra:
        container.update(extra)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}},
    }


def service(ns: str, name: str, *, selector: dict[str, str] | None = None,
            ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": "http"}]}
    if selector is not None:
        body["selector"] = selector
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": body}


def policy(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


DNS_EGRESS = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def ingress(ns: str, name: str, host: str, backend: str = "web", *, port: Any = None,
            path: str = "/", path_type: str = "Prefix", tls: str | None = "web-tls",
            annotations: dict[str, str] | None = None) -> dict[str, Any]:
    port = port if port is not None else {"name": "http"}
    spec: dict[str, Any] = {
        "ingressClassName": "nginx",
        "rules": [{"host": host, "http": {"paths": [
            {"path": path, "pathType": path_type,
             "backend": {"service": {"name": backend, "port": port}}}]}}],
    }
    if tls is not None:
        spec["tls"] = [{"hosts": [host], "secretName": tls}]
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def clean_app(ns: str = "app") -> list[dict[str, Any]]:
    """A namespace that lints clean under calico."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        deployment(ns, "web"),
        service(ns, "web", selector={"app": "web"}),
        policy(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy(ns, "allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [DNS_EGRESS]}),
        policy(ns, "web-from-ingress", {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "ingress-nginx"}}}],
                "ports": [{"protocol": "TCP", "port": "http"}]}],
        }),
        tls_secret(ns, "web-tls", ["web.example.com"]),
        ingress(ns, "web", "web.example.com"),
    ]


def to_yaml(docs: Sequence[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def lint_text(text: str, *, plugin: str = "calico", now: dt.datetime = NOW,
              ignore: Sequence[str] = (), path: str = PATH) -> LintReport:
    result = parse_text(text, path)
    assert not result.errors, result.errors
    ctx = context_from(result, DEFAULT.with_plugin(plugin), now=now)
    return lint(ctx, texts={path: text}, ignore=[IgnoreEntry.parse(i) for i in ignore])


def lint_docs(docs: Sequence[dict[str, Any]], **kw: Any) -> LintReport:
    return lint_text(to_yaml(docs), **kw)


def rules_of(report: LintReport) -> list[str]:
    return sorted({f.rule for f in report.findings})


def test_clean_app_is_clean() -> None:
    report = lint_docs(clean_app())
    assert report.findings == (), [f.to_dict() for f in report.findings]
