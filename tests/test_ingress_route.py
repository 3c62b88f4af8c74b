"""``podnet ingress route``: the verdict without sending anything, in its documented JSON, on the
example app (examples/shop) and on small cases.

Expectations: examples/shop/50-ingress.yaml (hosts, paths, Services, TLS Secrets) and its
Services (10-frontend.yaml, 20-shop.yaml: ``web`` port ``http`` = 80, ``api`` port ``http`` =
8080); ingress-nginx's behaviour as cited in the other test_ingress_* files; the JSON keys of
issue 6.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_ingress_support import ROOT, app, ingress, namespace, podnet, write_manifests

SHOP = str(ROOT / "examples" / "shop")
KEYS = ["status", "ingress", "host", "path", "pathType", "service", "port", "resource", "tls_secret", "location",
        "upstream_path", "reason"]


def route(tmp: Path, *args: str, files: tuple[str, ...] = (SHOP,)) -> dict[str, Any]:
    fargs = [a for f in files for a in ("-f", f)]
    r = podnet("ingress", "route", *args, *fargs, "-o", "json", home=tmp / "home")
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    assert list(data) == KEYS
    return data


def test_https_to_the_api(tmp_path: Path) -> None:
    v = route(tmp_path, "https://api.shop.example.com/v1/items?id=3")
    assert v["status"] == 200
    assert (v["ingress"], v["host"], v["path"], v["pathType"]) == ("shop/api", "api.shop.example.com", "/v1", "Prefix")
    assert (v["service"], v["port"]) == ("shop/api", 8080)  # named port "http" resolved
    assert v["tls_secret"] == "shop/api-tls"
    assert v["upstream_path"] == "/v1/items?id=3"
    assert v["location"] is None and v["resource"] is None


def test_http_is_redirected(tmp_path: Path) -> None:
    v = route(tmp_path, "http://shop.example.com/cart")
    assert v["status"] == 308
    assert v["location"] == "https://shop.example.com/cart"
    assert v["tls_secret"] is None


def test_unknown_sni_gets_the_controller_certificate(tmp_path: Path) -> None:
    v = route(tmp_path, "https://shop.example.com/", "--sni", "nope.example.com")
    assert v["status"] == 200 and v["tls_secret"] == "controller-default"
    v = route(tmp_path, "https://shop.example.com/", "--sni", "")
    assert v["tls_secret"] == "controller-default"


def test_host_override_and_404(tmp_path: Path) -> None:
    v = route(tmp_path, "https://203.0.113.7/", "--host", "unknown.example")
    assert v["status"] == 404 and v["ingress"] is None and v["service"] is None
    v = route(tmp_path, "https://static.shop.example.com/other")
    assert v["status"] == 404 and v["host"] == "static.shop.example.com"


def test_text_output_names_the_endpoints_and_certificate(tmp_path: Path) -> None:
    r = podnet("ingress", "route", "https://api.shop.example.com/v1", "-f", SHOP, home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert "status:" in r.stdout and "shop/api" in r.stdout
    assert "endpoints:" in r.stdout and ":8080 (shop/api-" in r.stdout
    assert "certificate:" in r.stdout and "api.shop.example.com" in r.stdout


def test_resource_backend_is_reported(tmp_path: Path) -> None:
    # Kubernetes: a Resource backend (e.g. a storage bucket); ingress-nginx does not serve them
    # (getBackendServers skips non-Service backends), so the request meets the default backend
    doc = ingress("res", "assets", [("res.example", [("/static", "Prefix", "x", 80)])])
    doc["spec"]["rules"][0]["http"]["paths"][0]["backend"] = {
        "resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets"}
    }
    m = write_manifests(tmp_path / "m.yaml", [namespace("res"), doc])
    v = route(tmp_path, "http://res.example/static/logo.png", files=(str(m),))
    assert v["status"] == 404
    assert v["resource"] == {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets"}


def test_canary_weight_is_seeded(tmp_path: Path) -> None:
    a = "nginx.ingress.kubernetes.io/"
    docs = [namespace("c"), *app("c", "prod"), *app("c", "next"),
            ingress("c", "prod", [("c.example", [("/", "Prefix", "prod", 80)])]),
            ingress("c", "next", [("c.example", [("/", "Prefix", "next", 80)])],
                    annotations={a + "canary": "true", a + "canary-weight": "50"})]
    m = str(write_manifests(tmp_path / "m.yaml", docs))
    seen = {route(tmp_path, "http://c.example/", "--seed", str(i), files=(m,))["service"] for i in range(8)}
    assert seen == {"c/prod", "c/next"}
    one = route(tmp_path, "http://c.example/", "--seed", "3", files=(m,))
    assert one == route(tmp_path, "http://c.example/", "--seed", "3", files=(m,))
    v = route(tmp_path, "http://c.example/", "-H", "X-Ignored: 1", files=(m,))
    assert v["service"] in ("c/prod", "c/next")


def test_client_address_and_allowlist(tmp_path: Path) -> None:
    a = "nginx.ingress.kubernetes.io/"
    docs = [namespace("w"), *app("w", "svc"),
            ingress("w", "w", [("w.example", [("/", "Prefix", "svc", 80)])],
                    annotations={a + "whitelist-source-range": "192.0.2.0/24"})]
    m = str(write_manifests(tmp_path / "m.yaml", docs))
    assert route(tmp_path, "http://w.example/", "--client", "192.0.2.9", files=(m,))["status"] == 200
    assert route(tmp_path, "http://w.example/", files=(m,))["status"] == 403


def test_ignored_ingress_is_noted(tmp_path: Path) -> None:
    docs = [namespace("n"), *app("n", "svc"),
            ingress("n", "gce", [("n.example", [("/", "Prefix", "svc", 80)])], class_name=None,
                    annotations={"kubernetes.io/ingress.class": "gce"})]
    m = write_manifests(tmp_path / "m.yaml", docs)
    r = podnet("ingress", "route", "http://n.example/", "-f", str(m), home=tmp_path / "home")
    assert r.returncode == 0
    assert "Ingress n/gce" in r.stderr and "ignored" in r.stderr


@pytest.mark.parametrize("url", ["ftp://x/", "not a url"])
def test_bad_url_is_an_error(tmp_path: Path, url: str) -> None:
    r = podnet("ingress", "route", url, "-f", SHOP, home=tmp_path / "home")
    assert r.returncode == 1 and "http://" in r.stderr


def test_stored_cluster(tmp_path: Path) -> None:
    r = podnet("apply", "-f", SHOP, "--cluster", "shop", home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    r = podnet("ingress", "route", "https://api.shop.example.com/v1", "--cluster", "shop", "-o", "json", home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["service"] == "shop/api"


def test_get_ingress_wide_columns(tmp_path: Path) -> None:
    # kubectl's Ingress columns: NAME CLASS HOSTS ADDRESS PORTS AGE (no extra wide ones)
    r = podnet("get", "ingress", "-A", "-o", "wide", "-f", SHOP, home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    head, *rows = r.stdout.splitlines()
    assert head.split() == ["NAMESPACE", "NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    shop = next(l for l in rows if l.split()[1] == "shop").split()
    assert shop[2] == "nginx" and shop[3] == "shop.example.com,static.shop.example.com"
    assert shop[5:7] == ["80,", "443"]


def test_invalid_ingress_is_reported_with_the_api_server_message(tmp_path: Path) -> None:
    doc = ingress("v", "bad", [("v.example", [("/x", "Prefix", "svc", 80)])])
    del doc["spec"]["rules"][0]["http"]["paths"][0]["pathType"]
    m = write_manifests(tmp_path / "m.yaml", [namespace("v"), doc])
    r = podnet("ingress", "route", "http://v.example/x", "-f", str(m), home=tmp_path / "home")
    assert r.returncode == 1
    assert 'The Ingress "bad" is invalid: spec.rules[0].http.paths[0].pathType: Required value' in r.stderr
