"""podnet lint's faces: field paths on lines, ignore comments and lists, the JSON and SARIF
formats (SARIF validated against the official OASIS schema), exit codes, and the example."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from podnet.cli.main import cli
from podnet.sim.locate import SourceText, parse_path
from podnet.sim.sarif import to_sarif
from test_lint_sarif_schema import schema
from test_lint_support import clean_app, lint_text, service, to_yaml

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "examples" / "shop"

BROKEN = """\
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: agnhost
        ports:
        - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: htpp
---
apiVersion: v1
kind: Service
metadata:
  name: legacy
  namespace: app
spec:
  type: ExternalName
  externalName: 10.0.0.5
"""


# ------------------------------------------------------------------------------------ locate


def test_parse_path() -> None:
    assert parse_path("spec.rules[0].http.paths[12].backend") == ["spec", "rules", 0, "http", "paths", 12, "backend"]
    assert parse_path("metadata.annotations['a.b/c']") == ["metadata", "annotations", "a.b/c"]
    assert parse_path('data["tls.crt"]') == ["data", "tls.crt"]


def test_lines_of_fields_and_their_nearest_written_ancestor() -> None:
    text = SourceText("x.yaml", BROKEN)
    assert text.line(3, "spec.ports[0].targetPort") == 36
    assert text.line(3, "spec.ports[0]") == 34
    assert text.line(3, "spec.selector") == 31
    assert text.line(3, "spec.ports[0].protocol") == 34  # not written: the port item
    assert text.line(4, "spec.externalName") == 45
    assert text.line(2, "spec.template.spec.containers[0].ports[0]") == 23
    assert text.line(9, "spec") is None


def test_document_numbers_count_empty_documents_like_the_loader() -> None:
    text = "---\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  ports: []\n"
    assert SourceText("x", text).line(2, "spec.ports") == 8


def test_findings_carry_file_and_line() -> None:
    report = lint_text(BROKEN, path="x.yaml")
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["service-target-port-missing"].line == 36
    assert by_rule["externalname-ip"].line == 45
    assert {f.file for f in report.findings} == {"x.yaml"}


# ------------------------------------------------------------------------------------ ignores


def test_trailing_ignore_comment_silences_that_line() -> None:
    text = BROKEN.replace("targetPort: htpp", "targetPort: htpp  # podnet:ignore=service-target-port-missing")
    report = lint_text(text)
    assert "service-target-port-missing" not in {f.rule for f in report.findings}
    assert report.suppressed == 1


def test_ignore_comment_above_a_node_silences_its_subtree() -> None:
    text = BROKEN.replace("  ports:\n  - name: http\n    port: 80",
                          "  # podnet:ignore=service-target-port-missing\n  ports:\n  - name: http\n    port: 80")
    assert "service-target-port-missing" not in {f.rule for f in lint_text(text).findings}


def test_ignore_comment_in_a_document_header_silences_the_object() -> None:
    text = BROKEN.replace("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: legacy",
                          "---\n# podnet:ignore=all\napiVersion: v1\nkind: Service\nmetadata:\n  name: legacy")
    rules = {f.rule for f in lint_text(text).findings}
    assert "externalname-ip" not in rules and "service-target-port-missing" in rules


def test_ignore_comment_for_another_rule_changes_nothing() -> None:
    text = BROKEN.replace("targetPort: htpp", "targetPort: htpp  # podnet:ignore=externalname-ip")
    assert "service-target-port-missing" in {f.rule for f in lint_text(text).findings}


def test_ignore_annotation() -> None:
    docs = clean_app() + [service("app", "legacy", ports=[], type="ExternalName", externalName="10.0.0.5")]
    docs[-1]["metadata"]["annotations"] = {"podnet.io/lint-ignore": "externalname-ip"}
    report = lint_text(to_yaml(docs))
    assert report.findings == () and report.suppressed == 1


def test_ignore_list_by_rule_and_by_object() -> None:
    assert "externalname-ip" not in {f.rule for f in lint_text(BROKEN, ignore=["externalname-ip"]).findings}
    kept = lint_text(BROKEN, ignore=["externalname-ip:Service/other/*"]).findings
    assert "externalname-ip" in {f.rule for f in kept}
    gone = lint_text(BROKEN, ignore=["externalname-ip:Service/app/legacy"]).findings
    assert "externalname-ip" not in {f.rule for f in gone}


# ------------------------------------------------------------------------------------ formats


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "m.yaml"
    p.write_text(text)
    return str(p)


def test_json_format(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["lint", "-f", _write(tmp_path, BROKEN), "-o", "json", "--plugin", "calico"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    f = next(x for x in doc["findings"] if x["rule"] == "service-target-port-missing")
    assert set(f) == {"rule", "severity", "object", "field", "message", "fix", "file", "line"}
    assert f["object"] == {"kind": "Service", "namespace": "app", "name": "web"}
    assert f["field"] == "spec.ports[0].targetPort" and f["line"] == 36 and f["severity"] == "error"


def test_sarif_validates_against_the_official_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "m.yaml").write_text(BROKEN)
    r = CliRunner().invoke(cli, ["lint", "-f", "k8s", "-o", "sarif", "--plugin", "calico"])
    assert r.exit_code == 1
    log = json.loads(r.stdout)
    jsonschema.Draft4Validator(schema()).validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "podnet"
    rules = run["tool"]["driver"]["rules"]
    res = next(x for x in run["results"] if x["ruleId"] == "service-target-port-missing")
    assert rules[res["ruleIndex"]]["id"] == "service-target-port-missing"
    assert res["level"] == "error"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "k8s/m.yaml", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 36
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")


def test_sarif_of_every_rule_shape_validates() -> None:
    report = lint_text(BROKEN)
    jsonschema.Draft4Validator(schema()).validate(to_sarif(report.findings, report.rules, root=None))
    empty = to_sarif((), report.rules)
    jsonschema.Draft4Validator(schema()).validate(empty)
    assert empty["runs"][0]["results"] == []


def test_fail_on(tmp_path: Path) -> None:
    warn_only = BROKEN.replace("targetPort: htpp", "targetPort: http").replace("10.0.0.5", "db.example.com")
    path = _write(tmp_path, warn_only)
    r = CliRunner().invoke(cli, ["lint", "-f", path])  # flannel: policies unenforced → warnings
    assert r.exit_code == 0, r.output
    assert "namespace-not-isolated" in r.stdout
    r = CliRunner().invoke(cli, ["lint", "-f", path, "--fail-on", "warning"])
    assert r.exit_code == 1


def test_list_rules() -> None:
    r = CliRunner().invoke(cli, ["lint", "--list-rules", "-o", "json"])
    assert r.exit_code == 0
    ids = {x["id"] for x in json.loads(r.stdout)["rules"]}
    assert {"policy-blocks-dns", "ingress-regex-path", "overlay-mtu-too-large"} <= ids


def test_unknown_format() -> None:
    r = CliRunner().invoke(cli, ["lint", "-f", str(SHOP), "-o", "xml"])
    assert r.exit_code == 1 and "allowed formats are: text,json,sarif" in r.stderr


# ------------------------------------------------------------------------------------ example


def test_the_shop_lints_without_errors() -> None:
    for plugin in ("flannel", "calico"):
        r = CliRunner().invoke(cli, ["lint", "-f", str(SHOP), "-o", "json", "--plugin", plugin])
        assert r.exit_code == 0, r.output
        findings = json.loads(r.stdout)["findings"]
        assert not [f for f in findings if f["severity"] == "error"]
        rules = {f["rule"] for f in findings}
        # true warnings: the database's default-deny egress has no DNS rule
        assert "policy-blocks-dns" in rules
        assert ("policy-not-enforced" in rules) == (plugin == "flannel")
