"""``podnet trace``: text and -o json, exit codes, errors, the stored cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from podnet.cli.main import cli

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "shop")
ISSUE_KEYS = {"from", "to", "protocol", "verdict", "reason", "backend", "client_ip_seen",
              "candidates", "connections", "hops", "client_sees"}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> Result:
    r = run(*args)
    assert r.exit_code == 0, f"exit {r.exit_code}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "podnet-home"
    monkeypatch.setenv("PODNET_HOME", str(h))
    return h


def test_text_is_one_line_per_hop_then_the_verdict() -> None:
    r = ok("trace", "frontend/web", "api.shop:8080", "-f", EXAMPLE)
    lines = r.stdout.rstrip("\n").splitlines()
    assert lines[0].startswith("trace frontend/web-") and "api.shop:8080 (TCP)" in lines[0]
    hops = [ln for ln in lines[1:] if ln[:4].strip().isdigit()]
    assert [int(ln.split()[0]) for ln in hops] == list(range(1, len(hops) + 1))
    stages = [ln.split()[2] for ln in hops]
    assert stages[0] == "dns" and "service" in stages and stages[-1] == "deliver"
    verdict = lines[1 + len(hops)]
    assert verdict.startswith("delivered: ") and "the client sees: connected" in verdict


def test_json_shape() -> None:
    r = ok("trace", "frontend/web", "svc/shop/api:http", "-f", EXAMPLE, "-o", "json",
           "--connections", "3", "--seed", "7")
    doc = json.loads(r.stdout)
    assert ISSUE_KEYS <= set(doc)
    assert doc["verdict"] == "delivered" and doc["client_sees"] == "connected"
    assert doc["to"]["service"] == "shop/api" and doc["to"]["port"] == 8080
    assert len(doc["connections"]) == 3
    assert {"pod", "ip", "port"} <= set(doc["backend"])
    assert all({"node", "stage", "detail", "rule"} <= set(h) for h in doc["hops"])


def test_denied_and_refused_still_exit_zero() -> None:
    r = ok("trace", "shop/worker", "api:8080", "-f", EXAMPLE, "--plugin", "calico")
    assert r.stdout.splitlines()[-1].startswith("dropped: ")
    r = ok("trace", "frontend/web", "svc/shop/api:1234", "-f", EXAMPLE, "-o", "json")
    assert json.loads(r.stdout)["client_sees"] == "connection refused"
    r = ok("trace", "frontend/web", "shop/worker:9999", "--protocol", "udp", "-f", EXAMPLE,
           "-o", "json")
    doc = json.loads(r.stdout)
    assert doc["protocol"] == "UDP" and doc["client_sees"] == "ICMP port unreachable"


def test_size_drop_names_the_hop() -> None:
    found = False
    for seed in range(20):
        r = ok("trace", "outside", "172.18.0.3:30080", "-f", EXAMPLE, "--size", "1472",
               "--seed", str(seed), "-o", "json")
        doc = json.loads(r.stdout)
        if doc["verdict"] == "dropped":
            assert doc["hops"][-1]["stage"] == "drop"
            assert doc["hops"][-1]["mtu"] == 1450
            found = True
            break
    assert found


@pytest.mark.parametrize("args,message", [
    (("shop/nope", "api:8080"), 'Error from server (NotFound): pods "nope" not found'),
    (("node/nope", "api:8080"), 'Error from server (NotFound): nodes "nope" not found'),
    (("frontend/web", "svc/shop/nope:80"),
     'Error from server (NotFound): services "nope" not found'),
    (("frontend/web", "api.shop"), "has no port"),
    (("frontend/web", "nope.shop:80"), 'could not resolve host "nope.shop"'),
    (("outside", "api.shop:8080"), "outside the cluster"),
    (("frontend/web", "api.shop:8080", "--protocol", "icmp"), "unsupported protocol"),
])
def test_errors_exit_one_with_kubectl_style_messages(args: tuple[str, ...], message: str) -> None:
    r = run("trace", *args, "-f", EXAMPLE)
    assert r.exit_code == 1
    assert message in r.stderr and r.stdout == ""


def test_bad_output_format() -> None:
    r = run("trace", "frontend/web", "api.shop:8080", "-f", EXAMPLE, "-o", "wide")
    assert r.exit_code == 1 and "output format" in r.stderr


def test_namespace_flag_for_a_bare_pod_name() -> None:
    r = ok("trace", "web", "api.shop:8080", "-n", "frontend", "-f", EXAMPLE, "-o", "json")
    assert json.loads(r.stdout)["from"]["pod"].startswith("frontend/web-")


def test_stored_cluster(home: Path) -> None:
    ok("apply", "-f", EXAMPLE)
    r = ok("trace", "frontend/web", "api.shop:8080", "-o", "json")
    assert json.loads(r.stdout)["verdict"] == "delivered"
