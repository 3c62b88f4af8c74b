"""``podnet policy why|matrix|rules`` on the example app; the expected verdicts come from the
NetworkPolicy semantics of examples/shop/60-network-policies.yaml (per-namespace default-deny
for both directions, the DNS exception, web→api:8080, api→db:5432, web/assets open on http)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from podnet.cli.main import cli

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "shop")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> Result:
    r = run(*args)
    assert r.exit_code == 0, f"exit {r.exit_code}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


def first(pods: list[str], prefix: str) -> str:
    return next(p for p in pods if p.startswith(prefix))


# ------------------------------------------------------------------------------------ why


def test_why_denied_sentence_names_the_isolating_policy_and_the_note() -> None:
    r = ok("policy", "why", "shop/worker", "shop/api", "8080/TCP", "-f", EXAMPLE)
    lines = r.stdout.splitlines()
    assert " denied: " in lines[0] and "shop/default-deny" in lines[0]
    assert "isolated for egress" in lines[0]
    assert lines[1].startswith("note: flannel does not enforce NetworkPolicy")


def test_why_allowed_json_shape() -> None:
    r = ok("policy", "why", "frontend/web", "shop/api", "8080/tcp", "-f", EXAMPLE,
           "--plugin", "calico", "-o", "json")
    doc = json.loads(r.stdout)
    assert doc["allowed"] is True
    for half in ("egress", "ingress"):
        assert {"isolated", "allowed_by", "policies"} <= set(doc[half])
    assert doc["egress"]["allowed_by"] == [{"policy": "frontend/web-to-api", "rule": 0}]
    assert doc["ingress"]["allowed_by"] == [{"policy": "shop/api-from-web-and-ingress",
                                             "rule": 0}]
    assert "shop/default-deny" in doc["ingress"]["policies"]
    assert doc["note"] is None  # calico enforces the API as written


def test_why_named_port_and_default_protocol() -> None:
    r = ok("policy", "why", "frontend/web", "shop/api", "http", "-f", EXAMPLE, "-o", "json")
    doc = json.loads(r.stdout)
    assert doc["port"] == 8080 and doc["protocol"] == "TCP" and doc["allowed"] is True


def test_why_as_enforced_on_flannel_allows_everything() -> None:
    r = ok("policy", "why", "shop/worker", "shop/api", "8080", "--as-enforced", "-f", EXAMPLE,
           "-o", "json")
    assert json.loads(r.stdout)["allowed"] is True


@pytest.mark.parametrize("args,message", [
    (("shop/nope", "shop/api", "80"), 'pods "nope" not found'),
    (("shop/api", "shop/worker", "80/ICMP"), "unsupported protocol"),
    (("shop/api", "shop/worker", "grpc"), 'no TCP container port named "grpc"'),
])
def test_why_errors(args: tuple[str, ...], message: str) -> None:
    r = run("policy", "why", *args, "-f", EXAMPLE)
    assert r.exit_code == 1 and message in r.stderr


# ------------------------------------------------------------------------------------ matrix


def test_matrix_json_follows_the_policies() -> None:
    r = ok("policy", "matrix", "--port", "8080", "-f", EXAMPLE, "-o", "json")
    doc = json.loads(r.stdout)
    assert doc["port"] == 8080 and doc["protocol"] == "TCP"
    pods: list[str] = doc["pods"]
    m = doc["matrix"]
    assert set(m) == set(pods) and all(set(row) == set(pods) for row in m.values())
    web, web2 = [p for p in pods if p.startswith("frontend/web-")][:2]
    api = first(pods, "shop/api-")
    worker = first(pods, "shop/worker-")
    db = first(pods, "data/db-")
    nginx = first(pods, "ingress-nginx/")
    dns = first(pods, "kube-system/coredns-")
    assert all(m[p][p] for p in pods)        # loopback is never subject to policy
    assert m[web][api] is True               # web-to-api + api-from-web-and-ingress
    assert m[web][web2] is False             # web's egress only reaches api (and DNS)
    assert m[worker][api] is False           # default-deny egress, no exception
    assert m[nginx][web] is True             # nginx not isolated; web open on http
    assert m[nginx][api] is True             # namespaceSelector ingress-nginx
    assert m[dns][web] is True               # kube-system not isolated; web open on http
    assert m[dns][api] is False              # ipBlock excludes 10.244.0.0/16 (pods)
    assert m[web][dns] is False              # DNS exception is port 53 only
    assert m[api][db] is False               # api-to-db is port 5432, not 8080
    assert m[nginx][dns] is True             # nobody isolated on either side


def test_matrix_5432_between_api_and_db() -> None:
    r = ok("policy", "matrix", "--port", "5432", "-n", "shop", "-n", "data", "-f", EXAMPLE,
           "-o", "json")
    doc = json.loads(r.stdout)
    pods = doc["pods"]
    assert {p.split("/")[0] for p in pods} == {"shop", "data"}
    api = first(pods, "shop/api-")
    worker = first(pods, "shop/worker-")
    for db in (p for p in pods if p.startswith("data/db-")):
        assert doc["matrix"][api][db] is True
        assert doc["matrix"][worker][db] is False
        assert doc["matrix"][db][api] is False


def test_matrix_text_is_the_e2e_truth_table() -> None:
    r = ok("policy", "matrix", "-n", "frontend", "--port", "8080", "-f", EXAMPLE)
    lines = r.stdout.splitlines()
    header = lines[0].split("\t")
    assert header[0] == "-" and all(h.startswith("frontend/") for h in header[1:])
    n = len(header) - 1
    rows = lines[1:1 + n]
    for i, row in enumerate(rows):
        cells = row.split("\t")
        assert cells[0] == header[1 + i] and len(cells) == n + 1
        assert set(cells[1:]) <= {".", "X"} and cells[1 + i] == "."
    assert any(ln.startswith("note: flannel") for ln in lines)


def test_matrix_as_enforced_on_flannel_is_all_allowed() -> None:
    r = ok("policy", "matrix", "--as-enforced", "-n", "shop", "-f", EXAMPLE, "-o", "json")
    doc = json.loads(r.stdout)
    assert all(all(row.values()) for row in doc["matrix"].values())


def test_matrix_protocol_is_case_insensitive_and_checked() -> None:
    r = ok("policy", "matrix", "--protocol", "udp", "--port", "53", "-n", "kube-system",
           "-f", EXAMPLE, "-o", "json")
    assert json.loads(r.stdout)["protocol"] == "UDP"
    r = run("policy", "matrix", "--protocol", "gre", "-f", EXAMPLE)
    assert r.exit_code == 1 and "unsupported protocol" in r.stderr


HOSTNET = """\
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: default}
spec:
  hostNetwork: true
  containers: [{name: a, image: busybox}]
"""


def test_matrix_lists_host_network_pods_apart(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(HOSTNET)
    r = ok("policy", "matrix", "-f", EXAMPLE, "-f", str(tmp_path))
    assert "default/agent" not in r.stdout.splitlines()[0]
    assert "host-network pods" in r.stdout and "  default/agent" in r.stdout


# ------------------------------------------------------------------------------------ rules


def test_rules_for_a_node() -> None:
    r = ok("policy", "rules", "--node", "worker", "-f", EXAMPLE, "--plugin", "calico")
    assert "table inet podnet-policy" in r.stdout
    assert "hook forward" in r.stdout
    # the host-side interfaces are Calico's (cali + 11 hex), from the plugin's plan
    assert '"cali' in r.stdout
    r = run("policy", "rules", "--node", "nope", "-f", EXAMPLE)
    assert r.exit_code == 1 and 'nodes "nope" not found' in r.stderr
