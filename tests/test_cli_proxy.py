"""``podnet proxy rules``: kube-proxy's nftables transaction for a node."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from podnet.cli.main import cli

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "shop")
KPR = """\
apiVersion: podnet.io/v1alpha1
kind: Cluster
name: kpr
plugin: {name: cilium, kubeProxyReplacement: true}
"""


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_ipv4_ruleset_in_transaction_form() -> None:
    r = run("proxy", "rules", "--node", "worker", "-f", EXAMPLE)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == 'add table ip kube-proxy { comment "rules for kube-proxy" ; }'
    verbs = {ln.split()[0] + " " + ln.split()[1] for ln in lines if ln}
    assert verbs <= {"add table", "add chain", "add rule", "add set", "add map", "add element"}
    text = r.stdout
    # kube-proxy's layout: base chains, dispatch maps, per-Service chains, the NodePort
    for want in ("add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }",
                 "add map ip kube-proxy service-ips",
                 "add map ip kube-proxy service-nodeports",
                 "add chain ip kube-proxy mark-for-masquerade",
                 "add chain ip kube-proxy services"):
        assert want in text, want
    assert "tcp . 30080 : goto external-" in text
    assert re.search(r"add chain ip kube-proxy service-[A-Z2-7]{8}-shop/api/tcp/http\n", text)


def test_ipv6_family() -> None:
    r = run("proxy", "rules", "--node", "worker", "--family", "ipv6", "-f", EXAMPLE)
    assert r.exit_code == 0
    assert r.stdout.startswith("add table ip6 kube-proxy")
    assert " ip kube-proxy " not in r.stdout


def test_kube_proxy_replacement_prints_a_note() -> None:
    r = run("proxy", "rules", "--node", "worker", "-f", EXAMPLE, "-f", "-", input=KPR)
    assert r.exit_code == 0
    assert "kubeProxyReplacement" in r.stdout and "add table" not in r.stdout


def test_errors() -> None:
    r = run("proxy", "rules", "--node", "nope", "-f", EXAMPLE)
    assert r.exit_code == 1 and 'nodes "nope" not found' in r.stderr
    r = run("proxy", "rules", "--node", "worker", "--family", "ipv5", "-f", EXAMPLE)
    assert r.exit_code == 1 and "--family" in r.stderr
    r = run("proxy", "rules", "-f", EXAMPLE)
    assert r.exit_code == 1 and "--node" in r.stderr
