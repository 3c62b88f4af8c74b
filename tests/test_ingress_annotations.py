"""ingress-nginx annotations through ``podnet ingress serve``, and the headers backends see.

Sources (kubernetes/ingress-nginx):

* [REWRITE] ``docs/examples/rewrite/README.md``: ``rewrite-target: /$2`` with
  ``/something(/|$)(.*)`` — ``/something`` → ``/``, ``/something/`` → ``/``, ``/something/new`` →
  ``/new``; ``app-root`` redirects ``/`` with 302 (``test/e2e/annotations/approot.go``: Location
  ``http://approot.bar.com/foo``).
* [REGEX] ``docs/user-guide/ingress-path-matching.md``: ``use-regex`` paths are case-insensitive
  regular expressions anchored at the start; with ``use-regex`` or ``rewrite-target`` on any
  Ingress of a host, every path of the host is a regex, tried longest first, first match wins
  (the documented "Warning" example); ``test/e2e/ingress/pathtype_prefix.go`` (``/id/[0-9]+``).
* [REDIRECT] ``annotations.md`` "Permanent Redirect" (301, ``permanent-redirect-code``),
  "Temporal Redirect" (302, ``temporal-redirect-code``); ``test/e2e/annotations/redirect.go``.
* [CANARY] ``annotations.md`` "Canary": by header (``always``/``never``, or
  ``canary-by-header-value``), by cookie, by weight; header → cookie → weight.
* [ALLOW] ``annotations.md`` "Whitelist source range" (``allowlist-source-range``, alias
  ``whitelist-source-range``): other clients get 403.
* [PROTO] ``annotations.md`` "Backend Protocol": ``HTTPS`` speaks TLS to the backend.
* [HEADERS] ``rootfs/etc/nginx/template/nginx.tmpl`` (``proxy_set_header`` of every location):
  ``X-Request-ID``, ``X-Real-IP``, ``X-Forwarded-For`` (the client; the client's own list goes to
  ``X-Original-Forwarded-For``), ``X-Forwarded-Host``/``-Port``/``-Proto``, ``X-Scheme``, Host as
  sent; ``test/e2e/annotations/xforwardedprefix.go`` for ``X-Forwarded-Prefix``;
  ``docs/user-guide/nginx-configuration/log-format.md`` for ``$req_id`` (passed through, or new).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from test_ingress_support import Served, app, ingress, namespace, request, serving

NS = "ann"
A = "nginx.ingress.kubernetes.io/"


def _docs() -> list[dict]:  # type: ignore[type-arg]
    docs = [namespace(NS)]
    for name in ("http-svc", "other", "primary", "canary", "service1", "service2", "service3", "test", "tlsbackend",
                 "grpc", "canary-c", "primary-c", "canary-w", "primary-w", "primary-v", "canary-v"):
        docs.extend(app(NS, name))
    docs.append(
        ingress(NS, "rewrite", [("rewrite.bar.com", [("/something(/|$)(.*)", "ImplementationSpecific", "http-svc", 80)])],
                annotations={A + "use-regex": "true", A + "rewrite-target": "/$2"})
    )
    docs.append(ingress(NS, "approot", [("approot.bar.com", [("/", "Prefix", "http-svc", 80)])],
                        annotations={A + "app-root": "/app1"}))
    docs.append(ingress(NS, "regex-id", [("echo.com.br", [("/id/[0-9]+", "ImplementationSpecific", "http-svc", 80)])],
                        annotations={A + "use-regex": "true"}))
    docs.append(ingress(NS, "regex-anchored", [("echo.regex.br", [("/id/[0-9]+$", "ImplementationSpecific", "http-svc", 80)])],
                        annotations={A + "use-regex": "true"}))
    # [REGEX] the documented "Path Priority" example (two Ingresses, one with rewrite-target)
    docs.append(ingress(NS, "test-ingress-1", [("test.com", [("/foo/bar", "Prefix", "service1", 80),
                                                             ("/foo/bar/", "Prefix", "service2", 80)])]))
    docs.append(ingress(NS, "test-ingress-2", [("test.com", [("/foo/bar/(.+)", "ImplementationSpecific", "service3", 80)])],
                        annotations={A + "rewrite-target": "/$1"}))
    # [REGEX] the documented "Warning" example
    docs.append(ingress(NS, "test-ingress-3", [("warning.com", [("/foo/bar/bar", "Prefix", "service1", 80),
                                                                ("/foo/bar/[A-Z0-9]{3}", "ImplementationSpecific", "test", 80)])],
                        annotations={A + "use-regex": "true"}))
    docs.append(ingress(NS, "implspecific", [("impl.example", [("/foo", "ImplementationSpecific", "http-svc", 80)])]))
    docs.append(ingress(NS, "perm", [("redirect", [("/something", "Prefix", "http-svc", 80)])],
                        annotations={A + "permanent-redirect": "http://redirect.example.com"}))
    docs.append(ingress(NS, "perm-code", [("redirect-code", [("/something", "Prefix", "http-svc", 80)])],
                        annotations={A + "permanent-redirect": "http://redirect.example.com", A + "permanent-redirect-code": "308"}))
    docs.append(ingress(NS, "temp", [("temporal", [("/", "Prefix", "http-svc", 80)])],
                        annotations={A + "temporal-redirect": "https://www.example.com/moved"}))
    docs.append(ingress(NS, "temp-code", [("temporal-code", [("/", "Prefix", "http-svc", 80)])],
                        annotations={A + "temporal-redirect": "https://www.example.com/moved", A + "temporal-redirect-code": "307"}))
    # canary by header
    docs.append(ingress(NS, "main", [("canary.example", [("/", "Prefix", "primary", 80)])]))
    docs.append(ingress(NS, "main-canary", [("canary.example", [("/", "Prefix", "canary", 80)])],
                        annotations={A + "canary": "true", A + "canary-by-header": "X-Canary"}))
    docs.append(ingress(NS, "main-v", [("canary-value.example", [("/", "Prefix", "primary-v", 80)])]))
    docs.append(ingress(NS, "main-v-canary", [("canary-value.example", [("/", "Prefix", "canary-v", 80)])],
                        annotations={A + "canary": "true", A + "canary-by-header": "X-Region", A + "canary-by-header-value": "eu",
                                     A + "canary-by-cookie": "beta"}))
    docs.append(ingress(NS, "main-c", [("canary-cookie.example", [("/", "Prefix", "primary-c", 80)])]))
    docs.append(ingress(NS, "main-c-canary", [("canary-cookie.example", [("/", "Prefix", "canary-c", 80)])],
                        annotations={A + "canary": "true", A + "canary-by-cookie": "beta", A + "canary-weight": "100"}))
    docs.append(ingress(NS, "main-w", [("canary-weight.example", [("/", "Prefix", "primary-w", 80)])]))
    docs.append(ingress(NS, "main-w-canary", [("canary-weight.example", [("/", "Prefix", "canary-w", 80)])],
                        annotations={A + "canary": "true", A + "canary-weight": "30"}))
    # allowlists
    docs.append(ingress(NS, "deny", [("deny.example", [("/", "Prefix", "http-svc", 80)])],
                        annotations={A + "whitelist-source-range": "18.0.0.0/8, 56.0.0.0/8"}))
    docs.append(ingress(NS, "allow", [("allow.example", [("/", "Prefix", "http-svc", 80)])],
                        annotations={A + "allowlist-source-range": "10.0.0.0/8,127.0.0.1/32"}))
    docs.append(ingress(NS, "broken-allow", [("brokenallow.example", [("/", "Prefix", "http-svc", 80)])],
                        annotations={A + "allowlist-source-range": "not-a-cidr"}))
    # backend protocols
    docs.append(ingress(NS, "https-backend", [("httpsbackend.example", [("/", "Prefix", "tlsbackend", 80)])],
                        annotations={A + "backend-protocol": "HTTPS"}))
    docs.append(ingress(NS, "grpc-backend", [("grpc.example", [("/", "Prefix", "grpc", 80)])],
                        annotations={A + "backend-protocol": "GRPC"}))
    docs.append(ingress(NS, "xfp", [("xfp.baz.com", [("/", "Prefix", "http-svc", 80)])],
                        annotations={A + "x-forwarded-prefix": "/test/value", A + "rewrite-target": "/foo"}))
    docs.append(ingress(NS, "plain", [("headers.example", [("/", "Prefix", "http-svc", 80)])]))
    return docs


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("annotations"), _docs()) as s:
        yield s


def get(s: Served, host: str, path: str, **kw: object) -> tuple[int, str | None, str | None]:
    """(status, service name, path the backend got)."""
    r = request(s.http_port, host, path, **kw)  # type: ignore[arg-type]
    if r.status != 200:
        return r.status, None, None
    return 200, r.json["service"].split("/")[1], r.json["path"]


# ------------------------------------------------------------------------------------ rewrite


@pytest.mark.parametrize(
    "path,upstream",
    [("/something", "/"), ("/something/", "/"), ("/something/new", "/new"), ("/something/new?q=1", "/new?q=1")],
)
def test_rewrite_target_with_capture_groups(served: Served, path: str, upstream: str) -> None:
    assert get(served, "rewrite.bar.com", path) == (200, "http-svc", upstream)


def test_rewrite_regex_is_case_insensitive(served: Served) -> None:
    assert get(served, "rewrite.bar.com", "/SOMETHING/New") == (200, "http-svc", "/New")


def test_app_root_redirects_root_only(served: Served) -> None:
    r = request(served.http_port, "approot.bar.com", "/")
    assert r.status == 302 and r.reason == "Moved Temporarily"
    assert r.header("Location") == "http://approot.bar.com/app1"
    assert get(served, "approot.bar.com", "/app1") == (200, "http-svc", "/app1")


@pytest.mark.parametrize(
    "host,path,status",
    [
        ("echo.com.br", "/id/1", 200),
        ("echo.com.br", "/id/123", 200),
        ("echo.com.br", "/id/aaa", 404),
        ("echo.com.br", "/id/123a", 200),
        ("echo.regex.br", "/id/1", 200),
        ("echo.regex.br", "/id/123a", 404),
    ],
)
def test_use_regex_paths(served: Served, host: str, path: str, status: int) -> None:
    assert get(served, host, path)[0] == status


@pytest.mark.parametrize(
    "path,service,upstream",
    [
        ("/foo/bar/1", "service3", "/1"),
        ("/foo/bar/", "service2", "/foo/bar/"),
        ("/foo/bar", "service1", "/foo/bar"),
    ],
)
def test_documented_path_priority_example(served: Served, path: str, service: str, upstream: str) -> None:
    assert get(served, "test.com", path) == (200, service, upstream)


def test_documented_regex_warning_example(served: Served) -> None:
    # "A request to test.com/foo/bar/bar would match the ^/foo/bar/[A-Z0-9]{3} location block
    # instead of the longest EXACT matching path."
    assert get(served, "warning.com", "/foo/bar/bar")[1] == "test"


def test_implementation_specific_without_regex_is_a_string_prefix(served: Served) -> None:
    # ingress-nginx writes `location /foo` for it: nginx prefix semantics, /foobar included
    assert get(served, "impl.example", "/foobar")[0] == 200
    assert get(served, "impl.example", "/fo")[0] == 404


# ------------------------------------------------------------------------------------ redirects


@pytest.mark.parametrize(
    "host,code,location",
    [
        ("redirect", 301, "http://redirect.example.com"),
        ("redirect-code", 308, "http://redirect.example.com"),
        ("temporal", 302, "https://www.example.com/moved"),
        ("temporal-code", 307, "https://www.example.com/moved"),
    ],
)
def test_redirect_annotations(served: Served, host: str, code: int, location: str) -> None:
    path = "/something" if host.startswith("redirect") else "/"
    r = request(served.http_port, host, path)
    assert r.status == code
    assert r.header("Location") == location


# ------------------------------------------------------------------------------------ canary


def test_canary_by_header(served: Served) -> None:
    assert get(served, "canary.example", "/", headers={"X-Canary": "always"})[1] == "canary"
    assert get(served, "canary.example", "/", headers={"X-Canary": "never"})[1] == "primary"
    assert get(served, "canary.example", "/", headers={"X-Canary": "maybe"})[1] == "primary"  # weight 0
    assert get(served, "canary.example", "/")[1] == "primary"


def test_canary_by_header_value_then_cookie(served: Served) -> None:
    assert get(served, "canary-value.example", "/", headers={"X-Region": "eu"})[1] == "canary-v"
    assert get(served, "canary-value.example", "/", headers={"X-Region": "us"})[1] == "primary-v"
    # header precedence first, then the cookie
    assert get(served, "canary-value.example", "/", headers={"X-Region": "us", "Cookie": "a=1; beta=always"})[1] == "canary-v"


def test_canary_by_cookie_overrides_weight(served: Served) -> None:
    assert get(served, "canary-cookie.example", "/", headers={"Cookie": "beta=never"})[1] == "primary-c"
    assert get(served, "canary-cookie.example", "/")[1] == "canary-c"  # weight 100


def test_canary_by_weight(served: Served) -> None:
    counts = Counter(get(served, "canary-weight.example", "/")[1] for _ in range(300))
    assert set(counts) == {"primary-w", "canary-w"}
    assert 50 <= counts["canary-w"] <= 130  # 30 % of 300, generously


# ------------------------------------------------------------------------------------ allowlists


def test_allowlist_source_range(served: Served) -> None:
    r = request(served.http_port, "deny.example", "/")
    assert r.status == 403 and r.reason == "Forbidden"
    assert get(served, "allow.example", "/")[0] == 200


def test_allowlist_without_a_valid_entry_denies_the_location(served: Served) -> None:
    # ipallowlist: no valid IP or network → LocationDeniedError → the location answers 503
    assert get(served, "brokenallow.example", "/")[0] == 503


# ------------------------------------------------------------------------------------ protocols


def test_backend_protocol_https(served: Served) -> None:
    r = request(served.http_port, "httpsbackend.example", "/x")
    assert r.status == 200
    assert r.header("X-Backend-Scheme") == "https"  # the emulated pod was reached over TLS
    assert r.json["service"] == f"{NS}/tlsbackend"


def test_backend_protocol_grpc_is_refused_honestly(served: Served) -> None:
    # podnet's proxy speaks HTTP/1.1 to backends only: 502 rather than a wrong answer
    assert request(served.http_port, "grpc.example", "/").status == 502


# ------------------------------------------------------------------------------------ headers


def test_headers_the_backend_sees(served: Served) -> None:
    r = request(served.http_port, "headers.example:8080", "/p?q=1", headers={"User-Agent": "t/1", "Proxy": "evil"})
    h = r.json["headers"]
    assert r.json["path"] == "/p?q=1"
    assert h["Host"] == "headers.example:8080"
    assert h["X-Forwarded-Host"] == "headers.example:8080"
    assert h["X-Real-IP"] == "127.0.0.1"
    assert h["X-Forwarded-For"] == "127.0.0.1"
    assert h["X-Forwarded-Port"] == str(served.http_port)
    assert h["X-Forwarded-Proto"] == "http"
    assert h["X-Forwarded-Scheme"] == "http"
    assert h["X-Scheme"] == "http"
    assert re.fullmatch(r"[0-9a-f]{32}", h["X-Request-ID"])
    assert h["User-Agent"] == "t/1"
    assert "Proxy" not in h  # httpoxy mitigation
    assert "Connection" not in h  # kept-alive upstream connection
    assert r.json["client_ip"] == "127.0.0.1"


def test_client_forwarded_for_is_replaced_and_kept_as_original(served: Served) -> None:
    r = request(served.http_port, "headers.example", "/", headers={"X-Forwarded-For": "1.2.3.4", "X-Request-ID": "abc-123"})
    h = r.json["headers"]
    assert h["X-Forwarded-For"] == "127.0.0.1"  # use-forwarded-headers is off by default
    assert h["X-Original-Forwarded-For"] == "1.2.3.4"
    assert h["X-Request-ID"] == "abc-123"


def test_x_forwarded_prefix(served: Served) -> None:
    r = request(served.http_port, "xfp.baz.com", "/")
    assert r.json["path"] == "/foo"
    assert r.json["headers"]["X-Forwarded-Prefix"] == "/test/value"


def test_request_ids_differ(served: Served) -> None:
    ids = {request(served.http_port, "headers.example", "/").json["headers"]["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
