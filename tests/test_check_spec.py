"""podnet check: each expectation kind passing and failing, spec errors with file, line and field,
JUnit XML read back by a real JUnit reader (junitparser), --live without a cluster, and the
example's own spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from junitparser import Failure, JUnitXml

from podnet.api.loader import parse_text, read_paths
from podnet.cli.check_cmd import go_live
from podnet.cli.main import cli
from podnet.cluster.admission import admit
from podnet.cluster.config import DEFAULT
from podnet.cluster.state import ClusterState
from podnet.sim.check import CheckReport, Checker, SpecErrors, parse_specs
from podnet.sim.junit import to_junit

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "examples" / "shop"
SHOP_CHECKS = ROOT / "examples" / "shop-checks.yaml"

_STATES: dict[str, ClusterState] = {}


def shop(plugin: str = "calico") -> ClusterState:
    if plugin not in _STATES:
        _STATES[plugin] = admit(read_paths([str(SHOP)]), DEFAULT.with_plugin(plugin)).state
    return _STATES[plugin]


def spec(*expectations: dict[str, Any], name: str = "t") -> str:
    return yaml.safe_dump({"apiVersion": "podnet.io/v1alpha1", "kind": "ConnectivityCheck",
                           "metadata": {"name": name}, "expectations": list(expectations)}, sort_keys=False)


def run(text: str, plugin: str = "calico") -> CheckReport:
    result = parse_text(text, "spec.yaml")
    assert not result.errors
    exps = parse_specs(shop(plugin), result.podnet_documents, {"spec.yaml": text})
    return Checker(shop(plugin)).run(exps)


def one(e: dict[str, Any], plugin: str = "calico") -> tuple[bool, str, str]:
    r = run(spec(e), plugin).results[0]
    return r.passed, r.actual, r.explanation


def flip(e: dict[str, Any]) -> dict[str, Any]:
    return dict(e, expect="deny" if e["expect"] == "allow" else "allow")


# ------------------------------------------------------------------------------------ connect

ALLOWED = [
    {"from": "deploy/frontend/web", "to": "svc/shop/api:http"},               # workload → Service port name
    {"from": "frontend/web", "to": "svc/shop/api:8080"},                      # NS/NAME naming a workload
    {"from": "deploy/shop/api", "to": "db-0.db.data:5432"},                   # a pod's DNS name
    {"from": "frontend/web", "to": "http://api.shop:8080/health"},            # URL of a cluster name
    {"from": {"namespace": "frontend", "labels": {"app": "web"}}, "to": "api.shop:8080"},  # selector
    {"from": "outside", "to": "https://shop.example.com/"},                   # URL through the Ingress
    {"from": "outside", "to": "172.18.255.201:443"},                          # IP:port (LoadBalancer)
    {"from": "node/worker", "to": "svc/frontend/web:80"},                     # a node
]
DENIED = [
    {"from": "deploy/frontend/web", "to": "db.data:5432"},                    # egress policy
    {"from": "deploy/shop/worker", "to": "svc/shop/api:8080"},                # egress policy
    {"from": "sts/data/db", "to": "api.shop:8080"},                           # DNS blocked
    {"from": "deploy/frontend/web", "to": "svc/shop/api:metrics"},            # ingress port
]


@pytest.mark.parametrize("e", ALLOWED, ids=lambda e: f"{e['from']}->{e['to']}")
def test_connect_allowed_passes_and_its_opposite_fails(e: dict[str, Any]) -> None:
    ok, actual, _ = one(dict(e, expect="allow"))
    assert ok and actual == "allow"
    ok, actual, why = one(dict(e, expect="deny"))
    assert not ok and actual == "allow" and "delivered" in why


@pytest.mark.parametrize("e", DENIED, ids=lambda e: f"{e['from']}->{e['to']}")
def test_connect_denied_passes_and_its_opposite_fails(e: dict[str, Any]) -> None:
    ok, actual, _ = one(dict(e, expect="deny"))
    assert ok and actual == "deny"
    ok, _, why = one(dict(e, expect="allow"))
    assert not ok and "[FAIL]" in why


def test_a_failure_carries_the_hop_by_hop_trace() -> None:
    _, _, why = one({"from": "frontend/web", "to": "db.data:5432", "expect": "allow"})
    assert "policy-egress" in why and "frontend/web-to-api" in why


def test_dns_blocked_is_explained() -> None:
    _, _, why = one({"from": "data/db-0", "to": "api.shop:8080", "expect": "allow"})
    assert "53" in why and "data/default-deny" in why


def test_every_pod_of_a_workload_is_tried() -> None:
    r = run(spec({"from": "deploy/frontend/web", "to": "svc/shop/api:8080", "expect": "allow"})).results[0]
    assert len(r.outcomes) == 3 and all(o.source.startswith("frontend/web-") for o in r.outcomes)


def test_the_same_check_under_flannel_fails_with_the_reason() -> None:
    ok, actual, why = one({"from": "deploy/frontend/web", "to": "db.data:5432", "expect": "deny"}, "flannel")
    assert not ok and actual == "allow" and "flannel does not enforce" in why


# ------------------------------------------------------------------------------------ resolve


def test_resolve_addresses() -> None:
    api = shop().service("shop", "api")
    assert api is not None
    e = {"resolve": {"name": "api.shop", "from": "frontend/web"}, "expect": {"addresses": list(api.cluster_ips)}}
    assert one(e)[0]
    ok, actual, why = one(dict(e, expect={"addresses": ["10.0.0.1"]}))
    assert not ok and api.cluster_ips[0] in actual and "api.shop.frontend.svc.cluster.local" in why


def test_resolve_rcode_and_cname() -> None:
    assert one({"resolve": {"name": "nope.shop.svc.cluster.local", "from": "deploy/shop/api"},
                "expect": {"rcode": "NXDOMAIN"}})[0]
    assert not one({"resolve": {"name": "api.shop", "from": "deploy/shop/api"}, "expect": {"rcode": "NXDOMAIN"}})[0]
    assert one({"resolve": {"name": "payments", "from": "deploy/shop/worker"},
                "expect": {"cname": "payments.example.com"}})[0]
    assert not one({"resolve": {"name": "payments", "from": "deploy/shop/worker"},
                    "expect": {"cname": "stripe.com"}})[0]


def test_resolve_times_out_when_dns_is_blocked() -> None:
    ok, actual, why = one({"resolve": {"name": "api.shop", "from": "sts/data/db"}, "expect": {"rcode": "NOERROR"}})
    assert not ok and actual == "TIMEOUT" and "cannot reach 10.96.0.10:53/UDP" in why


# ------------------------------------------------------------------------------------ url


def test_url_backend_and_certificate() -> None:
    e = {"url": "https://api.shop.example.com/v1/orders",
         "expect": {"backend": "svc/shop/api:8080", "tls_secret": "shop/api-tls", "status": 200}}
    assert one(e)[0]
    assert one(dict(e, expect={"backend": "svc/shop/api:http"}))[0]  # a port name works too
    ok, actual, _ = one(dict(e, expect={"backend": "svc/frontend/web:80"}))
    assert not ok and "svc/shop/api:8080" in actual
    ok, _, _ = one(dict(e, expect={"tls_secret": "frontend/shop-tls"}))
    assert not ok


def test_url_status() -> None:
    assert one({"url": "http://shop.example.com/", "expect": {"status": 308}})[0]
    assert one({"url": "https://nowhere.example.com/", "expect": {"status": 404, "backend": None}})[0]
    assert not one({"url": "https://nowhere.example.com/", "expect": {"status": 200}})[0]


# ------------------------------------------------------------------------------------ errors


BAD = """\
apiVersion: podnet.io/v1alpha1
kind: ConnectivityCheck
metadata: {name: bad}
expectations:
- from: frontend/nobody
  to: svc/shop/api:8080
  expect: allow
- from: deploy/frontend/web
  to: svc/shop/nothing:80
  expect: maybe
- url: ftp://x
  expect: {backend: svc/shop/api:8080}
- resolve: {name: api.shop, from: outside}
  expect: {rcode: WHATEVER}
- from: frontend/web
  to: "api.shop:99999"
  expect: allow
  colour: blue
"""


def test_spec_errors_name_file_line_and_field() -> None:
    result = parse_text(BAD, "bad.yaml")
    with pytest.raises(SpecErrors) as info:
        parse_specs(shop(), result.podnet_documents, {"bad.yaml": BAD})
    got = [(e.line, e.field) for e in info.value.errors]
    assert (5, "expectations[0].from") in got
    assert (9, "expectations[1].to") in got
    assert (10, "expectations[1].expect") in got
    assert (11, "expectations[2].url") in got
    assert (13, "expectations[3].resolve.from") in got
    assert (14, "expectations[3].expect.rcode") in got
    assert (16, "expectations[4].to") in got
    assert (18, "expectations[4].colour") in got
    text = str(info.value.errors[0])
    assert text.startswith("error: bad.yaml:5: expectations[0].from:") and "nobody" in text


def test_cli_reports_spec_errors_and_runs_nothing(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(BAD)
    junit = tmp_path / "report.xml"
    r = CliRunner().invoke(cli, ["check", str(p), "-f", str(SHOP), "--junit", str(junit)])
    assert r.exit_code == 1
    assert f"{p}:5: expectations[0].from" in r.stderr and "PASS" not in r.stdout
    assert not junit.exists()


# ------------------------------------------------------------------------------------ JUnit


def test_junit_is_read_back_by_a_junit_reader(tmp_path: Path) -> None:
    text = spec(
        {"name": "web reaches api", "from": "frontend/web", "to": "svc/shop/api:8080", "expect": "allow"},
        {"name": "web reaches db", "from": "frontend/web", "to": "db.data:5432", "expect": "allow"},
        name="suite-a",
    ) + "---\n" + spec({"url": "https://shop.example.com/", "expect": {"status": 200}}, name="suite-b")
    report = run(text)
    path = tmp_path / "junit.xml"
    path.write_text(to_junit(report))
    xml = JUnitXml.fromfile(str(path))
    assert xml.tests == 3 and xml.failures == 1
    suites = {s.name: s for s in xml}
    assert set(suites) == {"suite-a", "suite-b"}
    cases = {c.name: c for c in suites["suite-a"]}
    assert cases["web reaches api"].is_passed
    failed = cases["web reaches db"]
    assert not failed.is_passed
    (failure,) = [r for r in failed.result if isinstance(r, Failure)]
    assert "expected allow, got deny" in (failure.message or "")
    assert "policy-egress" in (failure.text or "")  # the trace is in the failure's body
    assert failed.classname == "suite-a"


def test_cli_exit_codes_json_and_junit(tmp_path: Path) -> None:
    junit = tmp_path / "r.xml"
    r = CliRunner().invoke(cli, ["check", str(SHOP_CHECKS), "-f", str(SHOP), "--plugin", "calico",
                                 "--junit", str(junit), "-o", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["failed"] == 0 and doc["passed"] == len(doc["results"]) > 20
    xml = JUnitXml.fromfile(str(junit))
    assert xml.tests == doc["passed"] and xml.failures == 0
    r = CliRunner().invoke(cli, ["check", str(SHOP_CHECKS), "-f", str(SHOP)])  # flannel enforces nothing
    assert r.exit_code == 1 and "FAIL" in r.stdout


# ------------------------------------------------------------------------------------ live


def test_live_without_a_running_cluster_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODNET_HOME", str(tmp_path))
    r = CliRunner().invoke(cli, ["apply", "-f", str(SHOP)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["check", str(SHOP_CHECKS), "--live"])
    assert r.exit_code == 1
    assert 'no running cluster "default"' in r.stderr and "podnet up" in r.stderr


def test_live_results_decide_and_disagreements_are_labelled() -> None:
    report = run(spec({"from": "frontend/web", "to": "svc/shop/api:8080", "expect": "allow"},
                      {"from": "frontend/web", "to": "db.data:5432", "expect": "deny"}))
    probes: list[tuple[str, str, int, str]] = []

    def probe(ns: str, ip: str, port: int, proto: str) -> tuple[bool, str]:
        probes.append((ns, ip, port, proto))
        return True, "connected"  # the "real" network lets everything through

    live = go_live(report, lambda ref: f"ns-{ref}", probe)
    first, second = live.results
    assert first.passed and first.live_mismatch is None
    assert not second.passed and second.live_mismatch is not None
    assert "PODNET BUG" in second.explanation and "model says deny" in second.explanation
    assert probes[0][0].startswith("ns-frontend/web-") and probes[0][2] == 8080
