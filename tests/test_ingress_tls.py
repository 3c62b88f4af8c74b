"""TLS through ``podnet ingress serve``: which certificate each SNI gets, and HTTP → HTTPS.

Sources:

* [K8S] kubernetes.io "Ingress" concept page, TLS: hosts of ``spec.tls`` are served with the
  Secret's ``tls.crt``/``tls.key``, multiplexed on one port by SNI.
* [NGINX-TLS] ingress-nginx ``docs/user-guide/tls.md`` and ``test/e2e/defaultbackend/ssl.go``: a
  name no Ingress has a certificate for, and a client without SNI, get the controller's
  self-signed certificate, issuer CN "Kubernetes Ingress Controller Fake Certificate".
* [NGINX-CTRL] ingress-nginx ``controller.go`` ``createServers``/``extractTLSSecretName``: a
  wildcard TLS host's certificate serves the one-label subdomains it covers; a Secret that is
  missing or whose certificate does not name the host leaves the host on the default certificate.
* [NGINX-REDIR] ingress-nginx ``docs/user-guide/nginx-configuration/annotations.md``
  ("Server-side HTTPS enforcement through redirect"): 308 to https for hosts with TLS,
  ``ssl-redirect: "false"`` turns it off, ``force-ssl-redirect: "true"`` forces it without TLS;
  ``test/e2e/annotations/forcesslredirect.go`` and ``preservetrailingslash.go`` for the Location
  (trailing slash dropped unless ``preserve-trailing-slash``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_ingress_support import (
    FAKE_CN,
    Served,
    app,
    ingress,
    namespace,
    request,
    self_signed,
    serving,
    tls_secret,
)

NS = "tls"
SHOP_CERT, SHOP_KEY = self_signed(["shop.example.com", "static.shop.example.com"])
WILD_CERT, WILD_KEY = self_signed(["*.wild.example.com"])
OTHER_CERT, OTHER_KEY = self_signed(["unrelated.example.org"])


def _docs() -> list[dict]:  # type: ignore[type-arg]
    docs = [namespace(NS), *app(NS, "web"), *app(NS, "static")]
    docs.append(tls_secret(NS, "shop-tls", SHOP_CERT, SHOP_KEY))
    docs.append(tls_secret(NS, "wild-tls", WILD_CERT, WILD_KEY))
    docs.append(tls_secret(NS, "other-tls", OTHER_CERT, OTHER_KEY))
    docs.append(
        ingress(
            NS,
            "shop",
            [("shop.example.com", [("/", "Prefix", "web", 80)]), ("static.shop.example.com", [("/", "Prefix", "static", 80)])],
            tls=[(["shop.example.com", "static.shop.example.com"], "shop-tls")],
        )
    )
    docs.append(
        ingress(NS, "wild", [("*.wild.example.com", [("/", "Prefix", "web", 80)])], tls=[(["*.wild.example.com"], "wild-tls")])
    )
    # a rule host covered by a wildcard TLS host's certificate
    docs.append(
        ingress(NS, "covered", [("a.wild.example.com", [("/", "Prefix", "static", 80)])], tls=[(["*.wild.example.com"], "wild-tls")])
    )
    docs.append(ingress(NS, "missing-secret", [("nosecret.example.com", [("/", "Prefix", "web", 80)])],
                        tls=[(["nosecret.example.com"], "does-not-exist")]))
    docs.append(ingress(NS, "wrong-cert", [("wrong.example.com", [("/", "Prefix", "web", 80)])],
                        tls=[(["wrong.example.com"], "other-tls")]))
    docs.append(ingress(NS, "plain", [("plain.example.com", [("/", "Prefix", "web", 80)])]))
    docs.append(
        ingress(NS, "no-redirect", [("noredirect.example.com", [("/", "Prefix", "web", 80)])],
                tls=[(["noredirect.example.com"], "shop-tls")], annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "false"})
    )
    docs.append(
        ingress(NS, "forced", [("forced.example.com", [("/", "Prefix", "web", 80)])],
                annotations={"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"})
    )
    docs.append(
        ingress(NS, "keep-slash", [("keepslash.example.com", [("/", "Prefix", "web", 80)])],
                tls=[(["keepslash.example.com"], "shop-tls")],
                annotations={"nginx.ingress.kubernetes.io/preserve-trailing-slash": "true"})
    )
    return docs


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("tls"), _docs()) as s:
        yield s


def test_sni_selects_the_secret_certificate_and_it_verifies(served: Served) -> None:
    # [K8S] two hosts of one Secret on one port, told apart by SNI; the chain verifies against the
    # Secret's certificate with hostname checking on
    for host, svc in (("shop.example.com", "web"), ("static.shop.example.com", "static")):
        r = request(served.https_port, host, "/", https=True, cafile=SHOP_CERT, check_hostname=True)
        assert r.status == 200
        assert r.cert is not None and r.cert["sans"] == ["shop.example.com", "static.shop.example.com"]
        assert r.json["service"] == f"{NS}/{svc}"


def test_sni_is_case_insensitive(served: Served) -> None:
    r = request(served.https_port, "shop.example.com", "/", https=True, sni="SHOP.Example.COM")
    assert r.cert is not None and "shop.example.com" in r.cert["sans"]


def test_wildcard_tls_host(served: Served) -> None:
    # [NGINX-CTRL] a wildcard rule host with a wildcard TLS host; and a plain rule host whose
    # name the wildcard certificate covers
    for host, svc in (("x.wild.example.com", "web"), ("a.wild.example.com", "static")):
        r = request(served.https_port, host, "/", https=True, cafile=WILD_CERT, check_hostname=True)
        assert r.status == 200 and r.json["service"] == f"{NS}/{svc}"
        assert r.cert is not None and r.cert["sans"] == ["*.wild.example.com"]


def test_wildcard_covers_one_label_only(served: Served) -> None:
    # [K8S] "*.foo.com" does not cover "baz.bar.foo.com": no Ingress certificate for that name
    r = request(served.https_port, "b.c.wild.example.com", "/", https=True)
    assert r.cert is not None and r.cert["cn"] == FAKE_CN
    assert r.status == 404


@pytest.mark.parametrize("sni", ["unknown.example.net", None, "127.0.0.1"])
def test_default_certificate_for_unknown_or_absent_sni(served: Served, sni: str | None) -> None:
    # [NGINX-TLS] the controller's fake certificate; the request is still routed by Host
    r = request(served.https_port, "shop.example.com", "/", https=True, sni=sni)
    assert r.cert is not None
    assert r.cert["cn"] == FAKE_CN
    assert r.status == 200 and r.json["service"] == f"{NS}/web"


@pytest.mark.parametrize("host", ["nosecret.example.com", "wrong.example.com"])
def test_unusable_secret_falls_back_to_default_certificate(served: Served, host: str) -> None:
    # [NGINX-CTRL] "Error getting SSL certificate … Using default certificate"
    r = request(served.https_port, host, "/", https=True)
    assert r.cert is not None and r.cert["cn"] == FAKE_CN
    assert r.status == 200


def test_fake_certificate_looks_like_ingress_nginx(served: Served) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    r = request(served.https_port, "x.invalid", "/", https=True)
    assert r.cert is not None
    c = x509.load_der_x509_certificate(r.cert["der"])
    assert c.issuer == c.subject  # self-signed
    assert isinstance(c.public_key(), rsa.RSAPublicKey) and c.public_key().key_size == 2048
    orgs = [a.value for a in c.subject if a.oid == x509.oid.NameOID.ORGANIZATION_NAME]
    assert orgs == ["Acme Co"]
    assert r.cert["sans"] == ["ingress.local"]


def test_http_to_https_308_with_the_tls_port(served: Served) -> None:
    # [NGINX-REDIR] 308 for TLS hosts; the Location carries the port HTTPS is served on
    r = request(served.http_port, "shop.example.com", "/cart/items?x=1")
    assert r.status == 308 and r.reason == "Permanent Redirect"
    assert r.header("Location") == f"https://shop.example.com:{served.https_port}/cart/items?x=1"


def test_redirect_drops_the_trailing_slash_unless_preserved(served: Served) -> None:
    # [NGINX-REDIR] forcesslredirect.go: GET / → "https://forcesslredirect.bar.com";
    # preservetrailingslash.go: → "https://forcesslredirect.bar.com/"
    r = request(served.http_port, "shop.example.com", "/")
    assert r.header("Location") == f"https://shop.example.com:{served.https_port}"
    r = request(served.http_port, "keepslash.example.com", "/")
    assert r.header("Location") == f"https://keepslash.example.com:{served.https_port}/"


def test_host_with_default_certificate_is_redirected_too(served: Served) -> None:
    # [NGINX-CTRL] a TLS host without a usable Secret still has a certificate (the default one)
    r = request(served.http_port, "nosecret.example.com", "/")
    assert r.status == 308


def test_no_redirect_without_tls_or_with_ssl_redirect_false(served: Served) -> None:
    assert request(served.http_port, "plain.example.com", "/").status == 200
    r = request(served.http_port, "noredirect.example.com", "/x")
    assert r.status == 200 and r.json["headers"]["X-Forwarded-Proto"] == "http"


def test_force_ssl_redirect_without_tls(served: Served) -> None:
    r = request(served.http_port, "forced.example.com", "/")
    assert r.status == 308
    assert r.header("Location") == f"https://forced.example.com:{served.https_port}"
    # and over https the request is served (no loop)
    r = request(served.https_port, "forced.example.com", "/", https=True)
    assert r.status == 200


def test_backend_sees_https_and_the_listener_port(served: Served) -> None:
    r = request(served.https_port, "shop.example.com", "/a", https=True)
    h = r.json["headers"]
    assert h["X-Forwarded-Proto"] == "https"
    assert h["X-Forwarded-Port"] == str(served.https_port)
    assert h["X-Scheme"] == "https"
