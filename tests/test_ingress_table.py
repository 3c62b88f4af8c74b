"""The pure Ingress layer in isolation: request normalisation, annotations, certificates, the
access-log line, the emulated pod's answer — and that ``podnet.ingress`` stays free of I/O.

Sources: nginx (``ngx_http_parse_complex_uri`` with ``merge_slashes on``,
``ngx_http_validate_host``), Go's ``strconv.ParseBool`` and ``crypto/x509``
``Certificate.VerifyHostname`` (one leftmost wildcard label), ingress-nginx ``redirect.go``
(code ranges 300–307 / 300–308 with 302 / 301 as fallbacks), ``store.go`` ``sortIngressSlice``
and ``log-format.md``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from podnet.api.networking import Ingress
from podnet.ingress import accesslog, annotations, echo
from podnet.ingress.certs import verify_hostname
from podnet.ingress.model import Verdict
from podnet.ingress.table import sort_ingresses
from podnet.ingress.uri import BadRequest, normalize_host, normalize_path, parse_target

SRC = Path(__file__).resolve().parents[1] / "src" / "podnet" / "ingress"


@pytest.mark.parametrize(
    "raw,norm",
    [
        ("/", "/"),
        ("/a//b", "/a/b"),
        ("//a///", "/a/"),
        ("/a/./b", "/a/b"),
        ("/a/b/../c", "/a/c"),
        ("/a/..", "/"),
        ("/a/.", "/a/"),
        ("/%41%2f", "/A/"),
        ("/caf%C3%A9", "/café"),
        ("/a%20b", "/a b"),
    ],
)
def test_normalize_path_like_nginx(raw: str, norm: str) -> None:
    assert normalize_path(raw) == norm


@pytest.mark.parametrize("raw", ["/..", "/a/../..", "/%zz", "/%4", "/a%00b", "relative"])
def test_bad_paths(raw: str) -> None:
    with pytest.raises(BadRequest):
        normalize_path(raw)


@pytest.mark.parametrize(
    "raw,host",
    [("Example.COM", "example.com"), ("example.com:8080", "example.com"), ("example.com.", "example.com"),
     ("[::1]:80", "[::1]"), ("10.0.0.1:80", "10.0.0.1"), ("", "")],
)
def test_normalize_host(raw: str, host: str) -> None:
    assert normalize_host(raw) == host


@pytest.mark.parametrize("raw", ["a..b", "a/b", "a b", "x:port"])
def test_bad_hosts(raw: str) -> None:
    with pytest.raises(BadRequest):
        normalize_host(raw)


def test_absolute_form_target_names_the_host() -> None:
    t = parse_target("http://Shop.Example.com:80/a//b?x=1")
    assert (t.host, t.path, t.query, t.raw) == ("shop.example.com", "/a/b", "x=1", "/a//b?x=1")


@pytest.mark.parametrize(
    "value,parsed",
    [("true", True), ("True", True), ("TRUE", True), ("1", True), ("t", True), ("false", False), ("0", False),
     ("F", False), ("yes", None), ("", None), (None, None)],
)
def test_parse_bool_is_go_parsebool(value: str | None, parsed: bool | None) -> None:
    assert annotations.parse_bool(value) is parsed


def test_redirect_codes_fall_back_outside_their_ranges() -> None:
    p = annotations.PREFIX
    cfg = annotations.ControllerConfig()
    r = annotations.parse({p + "permanent-redirect": "https://x", p + "permanent-redirect-code": "309"}, cfg).redirect
    assert r is not None and r.code == 301
    r = annotations.parse({p + "temporal-redirect": "https://x", p + "temporal-redirect-code": "308"}, cfg).redirect
    assert r is not None and r.code == 302
    both = annotations.parse({p + "temporal-redirect": "https://t", p + "permanent-redirect": "https://p"}, cfg)
    assert both.redirect is not None and both.redirect.url == "https://t"  # temporal wins
    assert annotations.parse({p + "permanent-redirect": "/relative"}, cfg).redirect is None


def test_canary_annotations_need_canary_true() -> None:
    p = annotations.PREFIX
    a = annotations.parse({p + "canary-weight": "50"}, annotations.ControllerConfig())
    assert not a.canary.enabled


def test_configmap_defaults_and_overrides() -> None:
    cfg = annotations.ControllerConfig.from_data({"ssl-redirect": "false", "proxy-body-size": "8m", "keep-alive": "10s",
                                                  "whitelist-source-range": "10.0.0.0/8", "http-redirect-code": "nope"})
    assert cfg.ssl_redirect is False and cfg.proxy_body_size == 8 * 1024 * 1024 and cfg.keep_alive == 10
    assert [str(n) for n in cfg.allowlist] == ["10.0.0.0/8"]
    assert cfg.http_redirect_code == 308 and cfg.problems
    a = annotations.parse({}, cfg)
    assert a.ssl_redirect is False and [str(n) for n in a.allowlist] == ["10.0.0.0/8"]


def test_sort_ingresses_oldest_first_ties_by_name_descending() -> None:
    def ing(ns: str, name: str, ts: str | None) -> Ingress:
        return Ingress.from_dict({"metadata": {"namespace": ns, "name": name, "creationTimestamp": ts}})

    order = sort_ingresses([ing("a", "x", "2024-01-02T00:00:00Z"), ing("a", "y", "2024-01-01T00:00:00Z"),
                            ing("a", "z", "2024-01-01T00:00:00Z"), ing("b", "a", "2024-01-01T00:00:00Z")])
    assert [i.qualified_name for i in order] == ["b/a", "a/z", "a/y", "a/x"]


@pytest.mark.parametrize(
    "names,cn,host,ok",
    [
        (("*.foo.com",), "", "bar.foo.com", True),
        (("*.foo.com",), "", "baz.bar.foo.com", False),
        (("*.foo.com",), "", "foo.com", False),
        (("Shop.Example.com",), "", "shop.example.COM", True),
        ((), "legacy.example.com", "legacy.example.com", True),  # ingress-nginx still checks the CN
        (("a.example.com",), "", "b.example.com", False),
    ],
)
def test_verify_hostname(names: tuple[str, ...], cn: str, host: str, ok: bool) -> None:
    assert verify_hostname(host, names, cn) is ok


def test_access_log_line_format() -> None:
    line = accesslog.line(
        remote_addr="203.0.113.9", started=0.0, request_line='GET /a"b HTTP/1.1', status=200, body_bytes_sent=12,
        referer="", user_agent="curl/8", request_length=80, request_time=0.0123, upstream_name="ns-svc-80",
        alternative_name="", attempts=[accesslog.Attempt("10.0.0.1:8080", "502", 0, 0.001),
                                       accesslog.Attempt("10.0.0.2:8080", "200", 12, 0.002)],
        request_id="abc")
    after_time = line.split("] ", 1)[1]
    assert after_time == ('"GET /a\\x22b HTTP/1.1" 200 12 "-" "curl/8" 80 0.012 [ns-svc-80] [] '
                          "10.0.0.1:8080, 10.0.0.2:8080 0, 12 0.001, 0.002 502, 200 abc")


def test_echo_answer_merges_repeated_headers() -> None:
    a = echo.answer(pod="ns/p", service="ns/s", port=8080, method="GET", path="/x?y",
                    headers=[("Accept", "a"), ("Accept", "b")], client_ip="127.0.0.1")
    assert a == {"pod": "ns/p", "service": "ns/s", "port": 8080, "method": "GET", "path": "/x?y",
                 "headers": {"Accept": "a, b"}, "client_ip": "127.0.0.1", "protocol": "HTTP/1.1"}


def test_verdict_json_keys() -> None:
    assert list(Verdict(404, "r").to_json()) == [
        "status", "ingress", "host", "path", "pathType", "service", "port", "resource", "tls_secret", "location",
        "upstream_path", "reason"]


FORBIDDEN = ("asyncio", "socket", "ssl", "selectors", "subprocess", "http", "urllib.request", "uvloop", "httptools",
             "threading", "podnet.servers", "podnet.cli", "podnet.linux")


@pytest.mark.parametrize("path", sorted(SRC.glob("*.py")), ids=lambda p: p.name)
def test_ingress_package_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    bad = [n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}"
