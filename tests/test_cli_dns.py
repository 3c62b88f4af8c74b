"""``podnet dns query / resolv-conf / zone`` on the example app.

Expectations: kubelet's resolv.conf for ClusterFirst pods (search ``<ns>.svc.<domain>
svc.<domain> <domain>`` then the node's search domains, the kube-dns ClusterIP, ``ndots:5``;
Default pods get the node's file), glibc's search walk (fewer dots than ndots: the search list
first, then the name as is), CoreDNS's answers (NXDOMAIN for a name in no namespace, the
Service's ClusterIP, flags qr aa rd).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from podnet.cli.context import Options, compute
from podnet.cli.main import cli
from test_dns_server_support import (
    EXAMPLE,
    ServerThread,
    free_udp_port,
    snapshot,
)

NODE_RESOLV = "search corp.example\nnameserver 192.0.2.53\noptions timeout:2\n"
DEFAULT_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: hostdns, namespace: frontend}
spec:
  dnsPolicy: Default
  containers: [{name: c, image: busybox}]
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("clidns")
    resolv = d / "resolv.conf"
    resolv.write_text(NODE_RESOLV)
    cfg = d / "cluster.yaml"
    cfg.write_text("apiVersion: podnet.io/v1alpha1\nkind: Cluster\nname: shop\n"
                   f"kubelet:\n  resolvConf: {resolv}\n")
    pod = d / "hostdns.yaml"
    pod.write_text(DEFAULT_POD)
    return {"config": str(cfg), "pod": str(pod), "resolv": str(resolv)}


@pytest.fixture(scope="module")
def state_info(files: dict[str, str]) -> dict[str, Any]:
    # the same inputs as the commands get
    st = compute(Options(filenames=[str(EXAMPLE), files["pod"]], config=files["config"])).state
    web = next(p for p in st.pods("frontend") if p.metadata.name.startswith("web-"))
    api = st.service("shop", "api")
    kube_dns = st.service("kube-system", "kube-dns")
    assert api is not None and kube_dns is not None
    return {"web": web.metadata.name, "web_ip": web.status.pod_ip, "api_ip": api.spec.cluster_ip,
            "dns_ip": kube_dns.spec.cluster_ip, "state": st}


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The model must answer without a single packet."""

    class Guard(socket.socket):
        def sendto(self, *a: Any, **k: Any) -> int:
            raise AssertionError("the model sent a packet")

        def connect(self, *a: Any, **k: Any) -> None:
            raise AssertionError("the model opened a connection")

    monkeypatch.setattr(socket, "socket", Guard)
    yield


def run(*args: str, files: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, ["dns", *args, "-f", str(EXAMPLE), "-f", files["pod"],
                                    "--config", files["config"]])


def test_resolv_conf_cluster_first(files: dict[str, str], state_info: dict[str, Any]) -> None:
    r = run("resolv-conf", f"frontend/{state_info['web']}", files=files)
    assert r.exit_code == 0, r.output
    assert r.output == (
        "search frontend.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        f"nameserver {state_info['dns_ip']}\n"
        "options ndots:5\n"
    )
    r = run("resolv-conf", f"frontend/{state_info['web']}", "-o", "json", files=files)
    assert json.loads(r.output) == {
        "nameservers": [state_info["dns_ip"]],
        "search": ["frontend.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
        "options": ["ndots:5"],
    }


def test_resolv_conf_default_policy_is_the_nodes(files: dict[str, str]) -> None:
    r = run("resolv-conf", "frontend/hostdns", files=files)
    assert r.exit_code == 0, r.output
    assert r.output == NODE_RESOLV


def test_query_short_name_walks_the_search_list(files: dict[str, str], state_info: dict[str, Any],
                                                no_network: None) -> None:
    r = run("query", "api", "--from", f"frontend/{state_info['web']}", "-o", "json", files=files)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) == {"resolv_conf", "tried", "final"}
    assert doc["resolv_conf"]["search"][0] == "frontend.svc.cluster.local"
    assert doc["tried"][:3] == [
        {"name": "api.frontend.svc.cluster.local.", "rcode": "NXDOMAIN"},
        {"name": "api.svc.cluster.local.", "rcode": "NXDOMAIN"},
        {"name": "api.cluster.local.", "rcode": "NXDOMAIN"},
    ]
    # then the node's search domain and the name as is: both leave the cluster (forwarded)
    assert [t["name"] for t in doc["tried"][3:]] == ["api.corp.example.", "api."]
    assert all(t["rcode"] == "SERVFAIL" for t in doc["tried"][3:])
    assert doc["final"]["rcode"] == "SERVFAIL"
    assert "forwarded to 192.0.2.53:53, not resolved in the model" in r.stderr


def test_query_namespace_qualified_name_resolves_via_search(
        files: dict[str, str], state_info: dict[str, Any], no_network: None) -> None:
    r = run("query", "api.shop", "--from", f"frontend/{state_info['web']}", "-o", "json", files=files)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["tried"] == [
        {"name": "api.shop.frontend.svc.cluster.local.", "rcode": "NXDOMAIN"},
        {"name": "api.shop.svc.cluster.local.", "rcode": "NOERROR"},
    ]
    assert doc["final"] == {
        "rcode": "NOERROR",
        "flags": ["qr", "aa", "rd"],
        "answer": [f"api.shop.svc.cluster.local. 30 IN A {state_info['api_ip']}"],
        "authority": [],
        "additional": [],
    }


def test_query_text_output(files: dict[str, str], state_info: dict[str, Any]) -> None:
    r = run("query", "api.shop", "--from", f"frontend/{state_info['web']}", files=files)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f";; /etc/resolv.conf of frontend/{state_info['web']}")
    assert "search frontend.svc.cluster.local svc.cluster.local cluster.local corp.example" in lines
    assert any(line.startswith(";;   api.shop.frontend.svc.cluster.local.") and "NXDOMAIN" in line
               for line in lines)
    assert any(line.startswith(";;   api.shop.svc.cluster.local.") and "NOERROR" in line
               for line in lines)
    assert ";; status: NOERROR, flags: qr aa rd" in lines
    assert f"api.shop.svc.cluster.local. 30 IN A {state_info['api_ip']}" in lines


def test_query_from_prefix_picks_a_pod(files: dict[str, str], state_info: dict[str, Any]) -> None:
    r = run("query", "web", "--from", "frontend/web", "-o", "json", files=files)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["tried"] == [{"name": "web.frontend.svc.cluster.local.", "rcode": "NOERROR"}]


def test_query_absolute_without_from(files: dict[str, str], state_info: dict[str, Any]) -> None:
    r = run("query", "api.shop.svc.cluster.local", "-o", "json", files=files)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["resolv_conf"] is None
    assert doc["tried"] == [{"name": "api.shop.svc.cluster.local.", "rcode": "NOERROR"}]
    assert doc["final"]["answer"] == [f"api.shop.svc.cluster.local. 30 IN A {state_info['api_ip']}"]
    # SRV with its glue, TYPE given
    r = run("query", "_http._tcp.api.shop.svc.cluster.local.", "SRV", "-o", "json", files=files)
    doc = json.loads(r.stdout)
    assert doc["final"]["answer"] == ["_http._tcp.api.shop.svc.cluster.local. 30 IN SRV 0 100 8080 api.shop.svc.cluster.local."]
    assert doc["final"]["additional"] == [f"api.shop.svc.cluster.local. 30 IN A {state_info['api_ip']}"]


def test_query_nxdomain_still_exits_zero(files: dict[str, str], no_network: None) -> None:
    r = run("query", "nosuch.shop.svc.cluster.local.", files=files)
    assert r.exit_code == 0
    assert ";; status: NXDOMAIN, flags: qr aa rd" in r.output
    assert ";; AUTHORITY SECTION:" in r.output


def test_query_outside_the_cluster_is_not_resolved_by_the_model(files: dict[str, str],
                                                                 no_network: None) -> None:
    r = run("query", "example.com", files=files)
    assert r.exit_code == 0
    assert ";; status: SERVFAIL" in r.output
    assert ";; note: example.com. is forwarded to 192.0.2.53:53, not resolved in the model" in r.output


def test_query_from_default_policy_pod_has_no_cluster_answer(files: dict[str, str],
                                                             no_network: None) -> None:
    r = run("query", "api.shop.svc.cluster.local", "--from", "frontend/hostdns", files=files)
    assert r.exit_code == 1
    assert "nameserver 192.0.2.53 is not the cluster DNS" in r.output


def test_query_against_a_real_server(files: dict[str, str], state_info: dict[str, Any]) -> None:
    corefile = ("cluster.local:53 {\n    kubernetes cluster.local {\n       pods insecure\n"
                "       ttl 30\n    }\n}\n")
    with ServerThread(snapshot(state_info["state"], corefile)) as s:
        r = run("query", "api.shop", "--from", f"frontend/{state_info['web']}", "--server",
                f"127.0.0.1:{s.port}", "-o", "json", files=files)
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout)
        assert doc["tried"][-1] == {"name": "api.shop.svc.cluster.local.", "rcode": "NOERROR"}
        assert doc["final"]["answer"] == [f"api.shop.svc.cluster.local. 30 IN A {state_info['api_ip']}"]
        # a name in no server block: REFUSED (CoreDNS's server, no zone matches)
        r = run("query", "example.com", "--server", f"127.0.0.1:{s.port}", "-o", "json", files=files)
        assert r.exit_code == 0
        assert json.loads(r.stdout)["final"]["rcode"] == "REFUSED"


def test_query_no_answer_exits_one(files: dict[str, str]) -> None:
    r = run("query", "api.shop.svc.cluster.local", "--server", f"127.0.0.1:{free_udp_port()}",
            "--timeout", "0.5", "-o", "json", files=files)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["final"] is None and doc["tried"][0]["rcode"] == "TIMEOUT"


def test_zone_listing(files: dict[str, str], state_info: dict[str, Any]) -> None:
    r = run("zone", "-o", "json", files=files)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) == {"zone", "records", "pods", "reverse"}
    assert doc["zone"] == "cluster.local."
    assert " IN SOA ns.dns.cluster.local. hostmaster.cluster.local. " in doc["records"][0]
    assert doc["records"][0] == doc["records"][-1]
    assert f"api.shop.svc.cluster.local. 30 IN A {state_info['api_ip']}" in doc["records"]
    assert "_http._tcp.api.shop.svc.cluster.local. 30 IN SRV 0 100 8080 api.shop.svc.cluster.local." in doc["records"]
    dashed = state_info["web_ip"].replace(".", "-")
    assert f"{dashed}.frontend.pod.cluster.local. 30 IN A {state_info['web_ip']}" in doc["pods"]
    rev = ".".join(reversed(state_info["api_ip"].split("."))) + ".in-addr.arpa."
    assert f"{rev} 30 IN PTR api.shop.svc.cluster.local." in doc["reverse"]
    text = run("zone", files=files)
    assert text.exit_code == 0
    assert f"api.shop.svc.cluster.local. 30 IN A {state_info['api_ip']}" in text.output.splitlines()


def test_bad_output_format(files: dict[str, str]) -> None:
    r = run("zone", "-o", "yaml", files=files)
    assert r.exit_code == 1
    assert "output format" in r.output


def test_unknown_pod(files: dict[str, str]) -> None:
    r = run("resolv-conf", "frontend/nosuch", files=files)
    assert r.exit_code == 1
    assert 'pods "nosuch" not found' in r.output
