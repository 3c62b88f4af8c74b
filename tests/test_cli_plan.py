"""``podnet plan`` and ``podnet plan bgp``: -o json shape (the issue's), text, --node, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from podnet.cli.main import cli
from test_plugins_support import APP

PLUGIN_KEYS = {"name", "mode", "model", "enforces_policy", "service_proxy"}
NODE_KEYS = {"name", "internal_ip", "pod_cidrs", "links", "routes", "neighbours", "fdb", "sysctls"}
LINK_KEYS = {"name", "kind", "mtu", "addresses", "vni", "port", "mac", "master"}
ROUTE_KEYS = {"dst", "via", "dev", "onlink", "type", "mtu", "proto"}
POD_KEYS = {"name", "node", "ip", "eth0", "host_if", "routes"}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "podnet-home"
    monkeypatch.setenv("PODNET_HOME", str(h))
    return h


@pytest.fixture()
def app(tmp_path: Path) -> str:
    f = tmp_path / "app.yaml"
    f.write_text(APP)
    return str(f)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> Result:
    r = run(*args)
    assert r.exit_code == 0, f"exit {r.exit_code}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


def test_json_shape(home: Path, app: str) -> None:
    doc = json.loads(ok("plan", "-f", app, "-o", "json").stdout)
    assert PLUGIN_KEYS <= set(doc["plugin"])
    assert doc["plugin"] == {**doc["plugin"], "name": "flannel", "mode": "vxlan", "model": "overlay",
                             "enforces_policy": False, "service_proxy": "kube-proxy"}
    assert [n["name"] for n in doc["nodes"]] == ["control-plane", "worker", "worker2"]
    for node in doc["nodes"]:
        assert NODE_KEYS <= set(node)
        for link in node["links"]:
            assert LINK_KEYS <= set(link)
            assert link["kind"] in ("vxlan", "bridge", "veth", "ipip", "geneve", "dummy")
        for route in node["routes"]:
            assert ROUTE_KEYS <= set(route) and route["type"] in ("unicast", "blackhole")
        for n in node["neighbours"]:
            assert set(n) == {"ip", "mac", "dev", "permanent"}
        for f in node["fdb"]:
            assert set(f) == {"mac", "dst", "dev"}
    worker = doc["nodes"][1]
    flannel1 = next(link for link in worker["links"] if link["name"] == "flannel.1")
    assert (flannel1["kind"], flannel1["mtu"], flannel1["addresses"], flannel1["vni"], flannel1["port"]) == (
        "vxlan", 1450, ["10.244.1.0/32"], 1, 8472)
    r = next(r for r in worker["routes"] if r["dst"] == "10.244.2.0/24")
    assert (r["via"], r["dev"], r["onlink"], r["type"]) == ("10.244.2.0", "flannel.1", True, "unicast")
    for p in doc["pods"]:
        assert POD_KEYS <= set(p) and set(p["eth0"]) == {"addresses", "mtu", "mac"}
        assert p["name"].count("/") == 1


def test_node_filter(home: Path, app: str) -> None:
    doc = json.loads(ok("plan", "-f", app, "--node", "worker2", "-o", "json").stdout)
    assert [n["name"] for n in doc["nodes"]] == ["worker2"]
    assert doc["pods"] and {p["node"] for p in doc["pods"]} == {"worker2"}


def test_calico_host_if_names(home: Path, app: str) -> None:
    doc = json.loads(ok("plan", "-f", app, "--plugin", "calico", "-o", "json").stdout)
    assert doc["plugin"]["enforces_policy"] is True
    for p in doc["pods"]:
        assert p["host_if"].startswith("cali") and len(p["host_if"]) == 15
    kinds = {link["kind"] for n in doc["nodes"] for link in n["links"]}
    assert "ipip" in kinds


def test_text_reads_like_the_tools(home: Path, app: str) -> None:
    out = ok("plan", "-f", app, "--node", "worker").stdout
    assert out.startswith("plugin: flannel (mode vxlan) — overlay model")
    for section in ("$ ip -d addr", "$ ip route", "$ ip neigh show nud permanent", "$ bridge fdb show",
                    "$ sysctl", "$ iptables -t nat -S"):
        assert section in out
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" in out
    assert "vxlan id 1 local 172.18.0.3 dev eth0 srcport 0 0 dstport 8472 nolearning" in out
    assert "dst 172.18.0.4 self permanent" in out and "PERMANENT" in out
    assert "=== node worker2" not in out


def test_bgp(home: Path, app: str) -> None:
    doc = json.loads(ok("plan", "bgp", "-f", app, "--plugin", "calico:bgp", "-o", "json").stdout)
    assert doc["as"] == 64512 and doc["port"] == 179 and doc["node_to_node_mesh"] is True
    worker = next(n for n in doc["nodes"] if n["name"] == "worker")
    assert worker["advertises"] == ["192.168.0.64/26"]
    assert [p["address"] for p in worker["peers"]] == ["172.18.0.2", "172.18.0.4"]
    text = ok("plan", "bgp", "-f", app, "--plugin", "calico", "--node", "worker").stdout
    assert "IPv4 BGP status" in text and "node-to-node mesh" in text and "Established" in text
    assert "=== node worker (172.18.0.3)" in text and "=== node worker2" not in text


def test_bgp_needs_calico(home: Path, app: str) -> None:
    r = run("plan", "bgp", "-f", app)
    assert r.exit_code == 1 and "BGP is Calico's" in r.stderr
    r = run("plan", "bgp", "-f", app, "--plugin", "calico:vxlan")
    assert r.exit_code == 1 and "without BGP" in r.stderr


def test_errors(home: Path, app: str) -> None:
    r = run("plan", "-f", app, "--node", "nope")
    assert r.exit_code == 1 and 'nodes "nope" not found' in r.stderr
    r = run("plan", "-f", app, "-o", "yaml")
    assert r.exit_code == 1 and "allowed formats are: json,text" in r.stderr
    r = run("plan")
    assert r.exit_code == 1 and 'cluster "default" does not exist' in r.stderr


def test_stored_cluster_and_config_options(home: Path, app: str, tmp_path: Path) -> None:
    cfg = tmp_path / "cluster.yaml"
    cfg.write_text("apiVersion: podnet.io/v1alpha1\nkind: Cluster\nplugin: {name: cilium, kubeProxyReplacement: true}\n")
    ok("apply", "-f", app, "--config", str(cfg))
    doc = json.loads(ok("plan", "-o", "json").stdout)
    assert doc["plugin"]["name"] == "cilium" and doc["plugin"]["service_proxy"] == "socket-lb"
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: podnet.io/v1alpha1\nkind: Cluster\nplugin: {name: calico, crossSubnet: maybe}\n")
    r = run("plan", "-f", app, "--config", str(bad))
    assert r.exit_code == 1 and "plugin.crossSubnet: Invalid value" in r.stderr
