"""Routing through ``podnet ingress serve`` against the Kubernetes specification.

Sources of every expectation:

* [K8S] kubernetes.io "Ingress" concept page: the "Examples" path-matching table, "Multiple
  matches" (longest path, then Exact over Prefix) and "Hostname wildcards".
* [CONF] kubernetes-sigs/ingress-controller-conformance ``features/path_rules.feature``,
  ``host_rules.feature``, ``default_backend.feature``, ``load_balancing.feature``,
  ``ingress_class.feature``.
* [NGINX] ingress-nginx: ``test/e2e/ingress/pathtype_exact.go`` (the older of two Ingresses
  with the same path keeps it), ``internal/ingress/controller/store/store.go``
  (``sortIngressSlice``, ``GetIngressClass``), ``controller.go`` (an Ingress's defaultBackend
  serves its hosts' unmatched paths; a missing Service or one without endpoints is answered 503),
  ``docs/user-guide/default-backend.md`` (404 for what no Ingress maps).

Every request is a real HTTP request to 127.0.0.1; backends are podnet's emulated pods, whose
JSON answer names the Service and pod that got the request.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ingress_support import (
    LOOPBACK,
    Served,
    app,
    ingress,
    namespace,
    podnet,
    raw_exchange,
    request,
    self_signed,
    serving,
    tls_secret,
    write_manifests,
)

NS = "conf"
#: [CONF] 'a self-signed TLS secret named "conformance-tls" for the "foo.bar.com" hostname'
CONF_CERT, CONF_KEY = self_signed(["foo.bar.com"])

# [K8S] the path-matching table, one host per row: (paths of the rule, request, expected path)
K8S_TABLE: list[tuple[list[tuple[str, str]], str, str | None]] = [
    ([("/", "Prefix")], "/anything/at/all", "/"),
    ([("/foo", "Exact")], "/foo", "/foo"),
    ([("/foo", "Exact")], "/bar", None),
    ([("/foo", "Exact")], "/foo/", None),
    ([("/foo/", "Exact")], "/foo", None),
    ([("/foo", "Prefix")], "/foo", "/foo"),
    ([("/foo", "Prefix")], "/foo/", "/foo"),
    ([("/foo/", "Prefix")], "/foo", "/foo/"),
    ([("/foo/", "Prefix")], "/foo/", "/foo/"),
    ([("/aaa/bb", "Prefix")], "/aaa/bbb", None),
    ([("/aaa/bbb", "Prefix")], "/aaa/bbb", "/aaa/bbb"),
    ([("/aaa/bbb/", "Prefix")], "/aaa/bbb", "/aaa/bbb/"),
    ([("/aaa/bbb", "Prefix")], "/aaa/bbb/", "/aaa/bbb"),
    ([("/aaa/bbb", "Prefix")], "/aaa/bbb/ccc", "/aaa/bbb"),
    ([("/aaa/bbb", "Prefix")], "/aaa/bbbxyz", None),
    ([("/", "Prefix"), ("/aaa", "Prefix")], "/aaa/ccc", "/aaa"),
    ([("/", "Prefix"), ("/aaa", "Prefix"), ("/aaa/bbb", "Prefix")], "/aaa/bbb", "/aaa/bbb"),
    ([("/", "Prefix"), ("/aaa", "Prefix"), ("/aaa/bbb", "Prefix")], "/ccc", "/"),
    ([("/aaa", "Prefix")], "/ccc", None),
    ([("/foo", "Prefix"), ("/foo", "Exact")], "/foo", "/foo@Exact"),
]


def _svc_name(path: str, ptype: str) -> str:
    slug = path.strip("/").replace("/", "-") or "root"
    if path.endswith("/") and path != "/":
        slug += "-slash"
    return f"t-{slug}-{ptype.lower()}"


def _docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [namespace(NS)]
    services: set[str] = set()
    for i, (paths, _, _) in enumerate(K8S_TABLE):
        for p, t in paths:
            services.add(_svc_name(p, t))
        docs.append(
            ingress(NS, f"table-{i}", [(f"row{i}.table", [(p, t, _svc_name(p, t), 80) for p, t in paths])])
        )
    # [CONF] path_rules.feature
    for s in ("foo-exact", "foo-prefix", "aaa-slash-bbb-prefix", "aaa-prefix", "aaa-slash-bbb-slash-prefix", "foo-slash-exact"):
        services.add(s)
    docs.append(
        ingress(
            NS,
            "path-rules",
            [
                ("exact-path-rules", [("/foo", "Exact", "foo-exact", 8080)]),
                (
                    "prefix-path-rules",
                    [
                        ("/foo", "Prefix", "foo-prefix", 8080),
                        ("/aaa/bbb", "Prefix", "aaa-slash-bbb-prefix", 8080),
                        ("/aaa", "Prefix", "aaa-prefix", 8080),
                    ],
                ),
                ("mixed-path-rules", [("/foo", "Prefix", "foo-prefix", 8080), ("/foo", "Exact", "foo-exact", 8080)]),
                (
                    "trailing-slash-path-rules",
                    [("/aaa/bbb/", "Prefix", "aaa-slash-bbb-slash-prefix", 8080), ("/foo/", "Exact", "foo-slash-exact", 8080)],
                ),
            ],
        )
    )
    # [CONF] host_rules.feature (TLS for foo.bar.com from a self-signed Secret)
    docs.append(tls_secret(NS, "conformance-tls", CONF_CERT, CONF_KEY))
    services.update({"wildcard-foo-com", "foo-bar-com"})
    docs.append(
        ingress(
            NS,
            "host-rules",
            [
                ("*.foo.com", [("/", "Prefix", "wildcard-foo-com", 8080)]),
                ("foo.bar.com", [("/", "Prefix", "foo-bar-com", "http")]),
            ],
            tls=[(["foo.bar.com"], "conformance-tls")],
        )
    )
    # [CONF] ingress_class.feature and [NGINX] GetIngressClass
    services.update({"ingress-class-prefix", "legacy", "other-class", "classless"})
    docs.append(
        ingress(NS, "test-ingress-class", [("ingress-class", [("/", "Prefix", "ingress-class-prefix", 8080)])],
                class_name="some-invalid-class-name")
    )
    docs.append(
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "traefik"},
         "spec": {"controller": "traefik.io/ingress-controller"}}
    )
    docs.append(ingress(NS, "other-controller", [("other.class", [("/", "Prefix", "other-class", 80)])], class_name="traefik"))
    docs.append(
        ingress(NS, "legacy-nginx", [("legacy.nginx", [("/", "Prefix", "legacy", 80)])], class_name=None,
                annotations={"kubernetes.io/ingress.class": "nginx"})
    )
    docs.append(
        ingress(NS, "legacy-other", [("legacy.other", [("/", "Prefix", "legacy", 80)])], class_name=None,
                annotations={"kubernetes.io/ingress.class": "gce"})
    )
    docs.append(ingress(NS, "no-class", [("no.class", [("/", "Prefix", "classless", 80)])], class_name=None))
    # [NGINX] merging: two Ingresses for one host, and a conflict (the older wins)
    services.update({"merge-a", "merge-b", "older", "newer", "tie-a", "tie-z"})
    docs.append(ingress(NS, "merge-a", [("merge.example", [("/a", "Prefix", "merge-a", 80)])]))
    docs.append(ingress(NS, "merge-b", [("merge.example", [("/b", "Prefix", "merge-b", 80)])]))
    docs.append(ingress(NS, "newer", [("conflict.example", [("/x", "Prefix", "newer", 80)])], created="2024-02-01T00:00:00Z"))
    docs.append(ingress(NS, "older", [("conflict.example", [("/x", "Prefix", "older", 80)])], created="2024-01-01T00:00:00Z"))
    docs.append(ingress(NS, "tie-a", [("tie.example", [("/x", "Prefix", "tie-a", 80)])], created="2024-01-01T00:00:00Z"))
    docs.append(ingress(NS, "tie-z", [("tie.example", [("/x", "Prefix", "tie-z", 80)])], created="2024-01-01T00:00:00Z"))
    # [NGINX] an Ingress's defaultBackend for its own hosts; Services missing or without endpoints
    services.update({"with-default-api", "with-default-fallback", "named-port"})
    docs.append(
        ingress(NS, "with-default", [("withdefault.example", [("/api", "Prefix", "with-default-api", 80)])],
                default_backend=("with-default-fallback", 80))
    )
    docs.append(ingress(NS, "missing", [("missing.example", [("/", "Prefix", "does-not-exist", 80)])]))
    docs.extend(app(NS, "scaled-to-zero", replicas=0))
    docs.append(ingress(NS, "no-endpoints", [("noendpoints.example", [("/", "Prefix", "scaled-to-zero", 80)])]))
    docs.append(ingress(NS, "bad-port", [("badport.example", [("/", "Prefix", "named-port", 9999)])]))
    docs.append(ingress(NS, "named", [("named.example", [("/", "Prefix", "named-port", "web")])]))
    # a rule without host serves every host no other rule names
    services.add("no-host")
    docs.append(ingress(NS, "no-host", [(None, [("/nohost", "Prefix", "no-host", 80)])]))
    for s in sorted(services):
        if s == "named-port":
            docs.extend(app(NS, s, port=80, target=9090, port_name="web"))
        elif s in ("foo-exact", "foo-prefix", "aaa-slash-bbb-prefix", "aaa-prefix", "aaa-slash-bbb-slash-prefix",
                   "foo-slash-exact", "wildcard-foo-com", "ingress-class-prefix"):
            docs.extend(app(NS, s, port=8080, target=8080))
        else:
            docs.extend(app(NS, s))
    return docs


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("conformance")
    with serving(tmp, _docs()) as s:
        yield s


def service_of(s: Served, host: str, path: str) -> tuple[int, str | None]:
    r = request(s.http_port, host, path)
    if r.status == 200:
        return 200, r.json["service"].split("/", 1)[1]
    return r.status, None


# ------------------------------------------------------------------------------------ [K8S] table


@pytest.mark.parametrize("row", range(len(K8S_TABLE)), ids=lambda i: f"{K8S_TABLE[i][0]}-{K8S_TABLE[i][1]}")
def test_kubernetes_path_matching_table(served: Served, row: int) -> None:
    paths, req_path, expected = K8S_TABLE[row]
    status, svc = service_of(served, f"row{row}.table", req_path)
    if expected is None:
        assert status == 404  # "No, uses default backend": nothing but the controller's 404
    else:
        path, _, ptype = expected.partition("@")
        if not ptype:
            ptype = next(t for p, t in paths if p == path)
        assert (status, svc) == (200, _svc_name(path, ptype))


# ------------------------------------------------------------------------------------ [CONF] paths


@pytest.mark.parametrize(
    "host,path,service",
    [
        ("exact-path-rules", "/foo", "foo-exact"),
        ("exact-path-rules", "/foo/", None),
        ("exact-path-rules", "/FOO", None),
        ("exact-path-rules", "/bar", None),
        ("prefix-path-rules", "/foo", "foo-prefix"),
        ("prefix-path-rules", "/foo/", "foo-prefix"),
        ("prefix-path-rules", "/FOO", None),
        ("prefix-path-rules", "/aaa/bbb", "aaa-slash-bbb-prefix"),
        ("prefix-path-rules", "/aaa/bbb/ccc", "aaa-slash-bbb-prefix"),
        ("prefix-path-rules", "/aaa/ccc", "aaa-prefix"),
        ("prefix-path-rules", "/aaaccc", None),
        ("mixed-path-rules", "/foo", "foo-exact"),
        ("trailing-slash-path-rules", "/aaa/bbb", "aaa-slash-bbb-slash-prefix"),
        ("trailing-slash-path-rules", "/aaa/bbb/", "aaa-slash-bbb-slash-prefix"),
        ("trailing-slash-path-rules", "/foo", None),
    ],
)
def test_conformance_path_rules(served: Served, host: str, path: str, service: str | None) -> None:
    status, svc = service_of(served, host, path)
    assert (status, svc) == ((200, service) if service else (404, None))


def test_query_string_is_not_part_of_the_path(served: Served) -> None:
    # [K8S] rules match the path; the query goes to the backend untouched
    r = request(served.http_port, "exact-path-rules", "/foo?x=1&y=/bar")
    assert r.status == 200 and r.json["service"] == f"{NS}/foo-exact"
    assert r.json["path"] == "/foo?x=1&y=/bar"


# ------------------------------------------------------------------------------------ [CONF] hosts


def test_conformance_host_rules_tls(served: Served) -> None:
    # "the secure connection must verify the foo.bar.com hostname": the Secret's certificate as
    # the only trust anchor, hostname checking on
    r = request(served.https_port, "foo.bar.com", "/", https=True, cafile=CONF_CERT, check_hostname=True)
    assert r.status == 200
    assert r.cert is not None and r.cert["sans"] == ["foo.bar.com"]
    assert r.json["service"] == f"{NS}/foo-bar-com"
    assert r.json["headers"]["Host"] == "foo.bar.com"


def test_conformance_host_rules_http_reaches_the_backend_through_the_https_redirect(served: Served) -> None:
    # [CONF] expects 200 from foo-bar-com over http://foo.bar.com (its Go client follows
    # redirects); ingress-nginx first redirects a TLS host to https (308, docs: "Server-side
    # HTTPS enforcement through redirect"). Both halves:
    r = request(served.http_port, "foo.bar.com", "/")
    assert r.status == 308
    assert r.header("Location") == f"https://foo.bar.com:{served.https_port}"
    r = request(served.https_port, "foo.bar.com", "/", https=True)
    assert r.status == 200 and r.json["service"] == f"{NS}/foo-bar-com"
    assert r.json["headers"]["Host"] == "foo.bar.com"


@pytest.mark.parametrize(
    "host,service",
    [
        ("subdomain.bar.com", None),
        ("bar.foo.com", "wildcard-foo-com"),
        ("baz.bar.foo.com", None),
        ("foo.com", None),
    ],
)
def test_conformance_host_rules(served: Served, host: str, service: str | None) -> None:
    r = request(served.http_port, host, "/")
    if service is None:
        assert r.status == 404
        return
    # the Ingress has a TLS section, so ingress-nginx gives every host of it a certificate (the
    # default one when none matches: controller.go createServers) and redirects to https first
    assert r.status == 308 and r.header("Location") == f"https://{host}:{served.https_port}"
    r = request(served.https_port, host, "/", https=True)
    assert r.status == 200 and r.json["service"] == f"{NS}/{service}"
    assert r.json["headers"]["Host"] == host


@pytest.mark.parametrize("host", ["FOO.BAR.COM", "foo.bar.com:8080", "Bar.Foo.Com:1234", "foo.bar.com."])
def test_host_header_is_case_insensitive_and_port_is_ignored(served: Served, host: str) -> None:
    # [K8S] hosts are DNS names: case-insensitive; the port in Host is not part of the name
    r = request(served.https_port, host, "/", https=True, sni=False)
    assert r.status == 200
    assert r.json["service"].endswith("-com")
    assert r.json["headers"]["Host"] == host  # passed on as sent


def test_rule_without_host_serves_hosts_no_rule_names(served: Served) -> None:
    # [K8S] "If no host is specified, the rule applies to all inbound HTTP traffic"
    for host in ("whatever.example", "10.1.2.3", None):
        if host is None:
            raw = raw_exchange(served.http_port, b"GET /nohost HTTP/1.0\r\n\r\n")
            assert raw.startswith(b"HTTP/1.1 200 ")
            continue
        status, svc = service_of(served, host, "/nohost")
        assert (status, svc) == (200, "no-host")
    # but a host that has its own rules does not fall back to the host-less ones (ingress-nginx:
    # one server per host, the catch-all only for unknown hosts)
    assert service_of(served, "exact-path-rules", "/nohost") == (404, None)


# ------------------------------------------------------------------------------------ classes


@pytest.mark.parametrize(
    "host,served_ok",
    [
        ("ingress-class", False),  # [CONF] an invalid class is not served
        ("other.class", False),  # another controller's IngressClass
        ("legacy.nginx", True),  # legacy annotation "nginx"
        ("legacy.other", False),  # legacy annotation of another controller
        ("no.class", True),  # no class: the default IngressClass (admission)
    ],
)
def test_ingress_class_selection(served: Served, host: str, served_ok: bool) -> None:
    r = request(served.http_port, host, "/")
    assert r.status == (200 if served_ok else 404)


def test_status_written_only_for_the_controllers_ingresses(tmp_path: Path) -> None:
    # [CONF] "The Ingress status should not contain the IP address or FQDN" for an invalid
    # class; the controller publishes its Service's address for its own Ingresses
    manifest = write_manifests(tmp_path / "m.yaml", _docs())
    r = podnet("get", "ingress", "-n", NS, "-f", str(manifest), "-o", "json", home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    items = {i["metadata"]["name"]: i for i in json.loads(r.stdout)["items"]}
    assert items["test-ingress-class"]["status"]["loadBalancer"] == {}
    assert items["other-controller"]["status"]["loadBalancer"] == {}
    assert items["path-rules"]["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert items["no-class"]["spec"]["ingressClassName"] == "nginx"  # defaulted by admission
    assert items["no-class"]["status"]["loadBalancer"]["ingress"][0]["ip"]


# ------------------------------------------------------------------------------------ merging


def test_ingresses_for_one_host_are_merged(served: Served) -> None:
    assert service_of(served, "merge.example", "/a/x") == (200, "merge-a")
    assert service_of(served, "merge.example", "/b/x") == (200, "merge-b")
    assert service_of(served, "merge.example", "/c") == (404, None)


def test_conflicting_path_goes_to_the_oldest_ingress(served: Served) -> None:
    # [NGINX] pathtype_exact.go: "duplicated-prefix" (created last) does not take /exact over
    assert service_of(served, "conflict.example", "/x") == (200, "older")


def test_conflict_tie_is_broken_by_namespace_and_name(served: Served) -> None:
    # [NGINX] sortIngressSlice: equal creationTimestamps are ordered by "ns/name" with `in > jn`,
    # i.e. descending — conf/tie-z is first and keeps the path
    assert service_of(served, "tie.example", "/x") == (200, "tie-z")


# ------------------------------------------------------------------------------------ backends


def test_ingress_default_backend_serves_its_hosts_unmatched_paths(served: Served) -> None:
    assert service_of(served, "withdefault.example", "/api/v1") == (200, "with-default-api")
    assert service_of(served, "withdefault.example", "/other") == (200, "with-default-fallback")


@pytest.mark.parametrize("host", ["missing.example", "noendpoints.example", "badport.example"])
def test_service_missing_or_without_endpoints_is_503(served: Served, host: str) -> None:
    r = request(served.http_port, host, "/")
    assert r.status == 503
    assert r.reason == "Service Temporarily Unavailable"


def test_named_service_port_reaches_the_target_port(served: Served) -> None:
    r = request(served.http_port, "named.example", "/")
    assert r.status == 200
    assert r.json["service"] == f"{NS}/named-port"
    assert r.json["port"] == 9090  # the pod's port behind the Service port named "web"


def test_no_rule_is_404_from_the_default_backend(served: Served) -> None:
    # [NGINX] docs/user-guide/default-backend.md: "/ that returns 404"
    r = request(served.http_port, "nobody.example", "/")
    assert r.status == 404 and r.reason == "Not Found"
    assert b"404 Not Found" in r.body


# ------------------------------------------------------------------------------------ [CONF] default backend


@pytest.fixture(scope="module")
def default_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("defaultbackend")
    docs = [namespace("dflt"), *app("dflt", "echo-service", replicas=10, port=8080, target=8080)]
    docs.append(ingress("dflt", "default-backend", default_backend=("echo-service", 8080)))
    with serving(tmp, docs) as s:
        yield s


@pytest.mark.parametrize(
    "method,host,path",
    [
        ("GET", "my-host", ""),
        ("GET", "my-host", "sub-path"),
        ("POST", "some-host", ""),
        ("PUT", "", "resource"),
        ("DELETE", "some-host", "resource"),
        ("PATCH", "my-host", "resource"),
    ],
)
def test_conformance_default_backend(default_served: Served, method: str, host: str, path: str) -> None:
    # an empty host in the feature means the controller's address is the Host (as Go sends it)
    host = host or f"{LOOPBACK}:{default_served.http_port}"
    r = request(default_served.http_port, host, "/" + path, method=method,
                headers={"User-Agent": "Go-http-client/1.1"}, body=b"" if method in ("POST", "PUT", "PATCH") else None)
    assert r.status == 200
    assert r.json["service"] == "dflt/echo-service"
    for h in ("Content-Length", "Content-Type", "Date", "Server"):
        assert r.header(h), h
    assert r.json["method"] == method
    assert r.json["path"] == "/" + path
    assert r.json["protocol"] == "HTTP/1.1"
    assert r.json["headers"]["User-Agent"] == "Go-http-client/1.1"


def test_conformance_load_balancing(default_served: Served) -> None:
    # [CONF] load_balancing.feature: 100 requests reach the 10 pods of the Service
    pods = set()
    conn = http.client.HTTPConnection(LOOPBACK, default_served.http_port, timeout=10)
    for _ in range(100):
        conn.request("GET", "/", headers={"Host": "load-balancing"})
        r = conn.getresponse()
        assert r.status == 200
        pods.add(json.loads(r.read())["pod"])
    conn.close()
    assert len(pods) == 10
