"""The per-node policy ruleset: its layout, that ``nft`` accepts it, and that it enforces the matrix.

Three levels:

1. the text: table/chain/set layout the module documents (no tools needed);
2. ``nft -c -f -`` on the ruleset of every node for every upstream e2e case (as root; without
   root inside a user+network namespace via ``unshare``; skipped only when neither works and
   nft is missing), and as root a real load into a throwaway network namespace;
3. as root, a differential test: the e2e pods become network namespaces wired to a node
   namespace with veths (Calico style: /32 addresses, 169.254.1.1 gateway), the ruleset is
   loaded in the node, every pod serves TCP 80 and 81, and every pair's real connection result
   must equal the reachability matrix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from podnet.api.networking import NetworkPolicy
from podnet.policy import PolicyIndex, compile_node, reachability, veth_name
from podnet.policy.nftables import PolicyRuleset

from test_policy_e2e import CASES
from test_policy_support import NODES, cluster, make_namespace, make_pod, pod_ip, policy

NFT = shutil.which("nft") or ("/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else None)
IS_ROOT = os.geteuid() == 0


# ---------------------------------------------------------------------------- running nft


def _nft_check_cmd() -> list[str] | None:
    """How to run ``nft -c``: directly as root, else in a user+network namespace."""
    if NFT is None:
        return None
    if IS_ROOT:
        return [NFT, "-c", "-f", "-"]
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run([unshare, "--user", "--map-root-user", "--net", NFT, "list", "ruleset"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    return [unshare, "--user", "--map-root-user", "--net", NFT, "-c", "-f", "-"]


CHECK = _nft_check_cmd()


def nft_check(text: str) -> None:
    if CHECK is None:
        if IS_ROOT:
            pytest.fail("nft is not installed: apt-get install nftables")
        pytest.skip("not root, and nft is missing or user namespaces are unavailable: cannot run nft -c")
    out = subprocess.run(CHECK, input=text, capture_output=True, text=True)
    numbered = "\n".join(f"{i + 1:4} {line}" for i, line in enumerate(text.splitlines()))
    assert out.returncode == 0, f"nft -c rejected the ruleset:\n{out.stderr}\n{numbered}"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _ns(name: str, *cmd: str, input_: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", name, *cmd], input=input_, capture_output=True, text=True,
                          check=check)


@contextmanager
def netns(*names: str) -> Iterator[None]:
    """Throwaway network namespaces, deleted whatever happens."""
    made: list[str] = []
    try:
        for n in names:
            _ip("netns", "add", n)
            made.append(n)
        yield
    finally:
        for n in reversed(made):
            _ip("netns", "del", n, check=False)


needs_root = pytest.mark.skipif(not IS_ROOT or NFT is None, reason="loading rulesets needs root and nft")


# ---------------------------------------------------------------------------- layout


POLICIES = [
    policy("x", "deny-all", {"podSelector": {}}),
    policy("x", "allow-y-81", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                     "ports": [{"port": 81, "protocol": "TCP"}, {"port": "serve-80-tcp"}]},
                    {"from": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24", "10.244.3.0/24"]}}],
                     "ports": [{"port": 8000, "endPort": 8080}]}]}),
    policy("y", "egress-to-x", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "x"}}, "podSelector": {"matchLabels": {"pod": "b"}}}],
                    "ports": [{"port": "serve-81-tcp"}]},
                   {"ports": [{"port": 53, "protocol": "UDP"}]}]}),
]


def _ruleset(node: str = "worker", policies: list[NetworkPolicy] | None = None) -> PolicyRuleset:
    return compile_node(PolicyIndex.build(cluster(POLICIES if policies is None else policies)), node)


def test_layout() -> None:
    rs = _ruleset()
    text = rs.text
    assert text.startswith("# NetworkPolicy ruleset of node worker")
    assert "table inet podnet-policy\ndelete table inet podnet-policy\ntable inet podnet-policy {" in text
    fwd = text[text.index("chain forward {"):]
    lines = [ln.strip() for ln in fwd.splitlines()[1:8]]
    assert lines[0] == "type filter hook forward priority filter; policy accept;"
    assert lines[1] == "ct state established,related accept"  # before any verdict
    assert lines[2:6] == ["iifname . ip saddr vmap @egress-v4", "iifname . ip6 saddr vmap @egress-v6",
                          "oifname . ip daddr vmap @ingress-v4", "oifname . ip6 daddr vmap @ingress-v6"]
    # worker hosts x/a, y/a, z/a: x/a is isolated for ingress, y/a for egress, z/a for nothing
    assert rs.chains == ("forward", "ingress-x/a", "egress-y/a")
    assert f'"{veth_name("x", "a")}" . {pod_ip("x", "a")} : jump ingress-x/a' in text
    assert f'"{veth_name("y", "a")}" . {pod_ip("y", "a")} : jump egress-y/a' in text
    assert f"# z/a ({veth_name('z', 'a')}): not isolated, no policy selects it" in text


def _chain_body(text: str, name: str) -> list[str]:
    start = text.index(f"\tchain {name} {{\n") + len(f"\tchain {name} {{\n")
    end = text.index("\n\t}", start)
    return [ln.strip() for ln in text[start:end].splitlines()]


def test_ingress_chain_rules() -> None:
    text = _ruleset().text
    body = _chain_body(text, "ingress-x/a")
    assert body[0] == f'ip saddr {pod_ip("x", "a")} accept comment "a pod talking to itself is never subject to policy"'
    assert "# x/deny-all: no ingress rules (allows no ingress)" in body
    peer = [ln for ln in body if "@peer-" in ln]
    assert len(peer) == 1
    # TCP 81 and the named port serve-80-tcp, resolved in x/a to 80, in one set
    assert peer[0].endswith('meta l4proto tcp th dport { 80, 81 } accept comment "x/allow-y-81 ingress rule 0"')
    assert ('ip saddr { 10.244.0.0/16 } ip saddr != { 10.244.2.0/24, 10.244.3.0/24 } meta l4proto tcp th dport 8000-8080 '
            'accept comment "x/allow-y-81 ingress rule 1"') in body
    assert body[-1] == 'counter drop comment "x/a is isolated for ingress by x/allow-y-81, x/deny-all"'
    # the set names every pod of namespace y, wherever it runs
    set_name = peer[0].split("@")[1].split()[0]
    block = text[text.index(f"set {set_name} {{"):]
    block = block[: block.index("\n\t}")]
    assert "type ipv4_addr" in block and 'comment "namespaceSelector {ns=y}"' in block
    assert f"elements = {{ {pod_ip('y', 'a')}, {pod_ip('y', 'b')}, {pod_ip('y', 'c')} }}" in block


def test_egress_chain_resolves_named_ports_per_destination() -> None:
    pods = [make_pod(ns, n) for ns in "xyz" for n in "abc"]
    pods[1] = make_pod("x", "b", ports=[("serve-81-tcp", 9000, "TCP")])  # x/b names another port 81
    rs = compile_node(PolicyIndex.build(cluster(POLICIES, pods=pods)), "worker")
    body = _chain_body(rs.text, "egress-y/a")
    assert body[0] == f'ip daddr {pod_ip("y", "a")} return comment "a pod talking to itself is never subject to policy"'
    rule0 = [ln for ln in body if "egress rule 0" in ln]
    # only x/b is a peer; its serve-81-tcp is 9000 — the other pods' 81 must not be allowed
    assert len(rule0) == 1
    assert rule0[0] == (f"ip daddr {{ {pod_ip('x', 'b')} }} meta l4proto tcp th dport 9000 return "
                        'comment "y/egress-to-x egress rule 0"')
    assert 'meta l4proto udp th dport 53 return comment "y/egress-to-x egress rule 1"' in body
    assert body[-1] == 'counter drop comment "y/a is isolated for egress by y/egress-to-x"'
    nft_check(rs.text)


def test_dual_stack_pods_get_both_families() -> None:
    pods = [make_pod("x", "a", ips=["10.244.1.11", "fd00:10:244:1::11"]),
            make_pod("y", "a", ips=["10.244.1.21", "fd00:10:244:1::21"])]
    pol = policy("x", "p", {"podSelector": {}, "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]},
        {"from": [{"ipBlock": {"cidr": "fd00:10::/32", "except": ["fd00:10:244:2::/64"]}}], "ports": [{"protocol": "SCTP"}]},
        {}]})
    rs = compile_node(PolicyIndex.build(cluster([pol], pods=pods, namespaces=[make_namespace("x"), make_namespace("y")])),
                      "worker", ifnames={"x/a": "cali1234abcd"})
    t = rs.text
    assert '"cali1234abcd" . fd00:10:244:1::11 : jump ingress-x/a' in t
    assert '"cali1234abcd" . 10.244.1.11 : jump ingress-x/a' in t
    assert "type ipv6_addr" in t and "elements = { fd00:10:244:1::21 }" in t
    assert ("ip6 saddr { fd00:10::/32 } ip6 saddr != { fd00:10:244:2::/64 } meta l4proto sctp accept "
            'comment "x/p ingress rule 1"') in t
    assert 'meta nfproto ipv6 accept comment "x/p ingress rule 2"' in t
    nft_check(t)


def test_cilium_ip_blocks_exclude_cluster_addresses() -> None:
    pol = policy("x", "p", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})
    idx = PolicyIndex.build(cluster([pol], plugin="cilium")).with_mode("cilium")
    t = compile_node(idx, "worker").text
    assert "ip saddr { 0.0.0.0/0 } ip saddr != @cluster-v4 accept" in t
    assert NODES["worker2"][0] in t[t.index("set cluster-v4"):]
    nft_check(t)


def test_plugins_without_enforcement_load_an_empty_table() -> None:
    idx = PolicyIndex.build(cluster(POLICIES, plugin="flannel")).with_mode("none")
    rs = compile_node(idx, "worker")
    assert rs.chains == ("forward",) and "does not enforce NetworkPolicy" in rs.text
    nft_check(rs.text)


def test_long_names_are_hashed() -> None:
    name = "p" * 250
    pods = [make_pod("x", name, labels={"pod": "a"})]
    rs = compile_node(PolicyIndex.build(cluster([policy("x", "deny", {"podSelector": {}})], pods=pods,
                                                namespaces=[make_namespace("x")])), "worker")
    assert all(len(c) <= 200 for c in rs.chains)
    nft_check(rs.text)


# ---------------------------------------------------------------------------- nft accepts them all


@pytest.mark.parametrize("node", sorted(NODES))
@pytest.mark.parametrize("case_", CASES, ids=[c.title for c in CASES])
def test_every_e2e_ruleset_passes_nft_check(case_: object, node: str) -> None:
    from test_policy_e2e import Case
    assert isinstance(case_, Case)
    for step in case_.steps:
        policies = step.policies if step.policies is not None else case_.policies
        state = step.state(policies) if step.state is not None else cluster(policies)
        nft_check(compile_node(PolicyIndex.build(state), node).text)


@needs_root
def test_rulesets_load_into_a_network_namespace() -> None:
    name = f"pn-test-{os.getpid()}-load"
    with netns(name):
        for case_ in CASES:
            for node in sorted(NODES):
                rs = compile_node(PolicyIndex.build(cluster(case_.policies)), node)
                out = _ns(name, NFT or "nft", "-f", "-", input_=rs.text, check=False)
                assert out.returncode == 0, f"{case_.title} / {node}: {out.stderr}"
        listed = _ns(name, NFT or "nft", "list", "table", "inet", "podnet-policy").stdout
        assert "chain forward" in listed and "hook forward priority filter" in listed
        # loading the same ruleset again replaces the table atomically
        rs = _ruleset()
        for _ in range(2):
            _ns(name, NFT or "nft", "-f", "-", input_=rs.text)
        listed = _ns(name, NFT or "nft", "list", "table", "inet", "podnet-policy").stdout
        assert listed.count("chain ingress-x/a {") == 1


# ---------------------------------------------------------------------------- real traffic


SERVER = textwrap.dedent("""
    import selectors, socket, sys
    sel = selectors.DefaultSelector()
    for port in (80, 81):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port)); s.listen(64); s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            c, _ = key.fileobj.accept(); c.close()
""")

CLIENT = textwrap.dedent("""
    import json, socket, sys, concurrent.futures as cf
    targets = json.loads(sys.argv[1])
    def probe(t):
        try:
            socket.create_connection((t[0], t[1]), timeout=float(sys.argv[2])).close()
            return True
        except OSError:
            return False
    with cf.ThreadPoolExecutor(len(targets)) as ex:
        print(json.dumps(list(ex.map(probe, targets))))
""")


@needs_root
def test_loaded_ruleset_enforces_the_matrix_on_real_connections() -> None:
    """The differential test: real TCP through the compiled ruleset == the reachability matrix."""
    pid = os.getpid()
    names = [(ns, p) for ns in "xyz" for p in "abc"]
    pods = [make_pod(ns, p, node="worker", ips=[f"10.244.1.{10 * (i // 3 + 1) + i % 3 + 1}"])
            for i, (ns, p) in enumerate(names)]
    policies = [
        policy("x", "deny-ingress", {"podSelector": {}}),
        policy("x", "a-from-y-81", {"podSelector": {"matchLabels": {"pod": "a"}},
                                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                                                 "ports": [{"port": 81}]}]}),
        policy("x", "b-named-80", {"podSelector": {"matchLabels": {"pod": "b"}},
                                   "ingress": [{"ports": [{"port": "serve-80-tcp"}]}]}),
        policy("y", "c-egress-x", {"podSelector": {"matchLabels": {"pod": "c"}}, "policyTypes": ["Egress"],
                                   "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "x"}}}]}]}),
        policy("z", "a-cidr", {"podSelector": {"matchLabels": {"pod": "a"}},
                               "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.1.0/24",
                                                                  "except": ["10.244.1.22/32"]}}]}]}),
    ]
    index = PolicyIndex.build(cluster(policies, pods=pods))
    ruleset = compile_node(index, "worker")
    node = f"pn-test-{pid}-node"
    pod_ns = {f"{ns}/{p}": f"pn-test-{pid}-{ns}-{p}" for ns, p in names}
    ips = {p.qualified_name: p.ips[0] for p in pods}
    servers: list[subprocess.Popen[str]] = []
    with netns(node, *pod_ns.values()):
        try:
            _ns(node, "ip", "link", "set", "lo", "up")
            _ns(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            for key, ns_name in pod_ns.items():
                ns, p = key.split("/")
                veth = veth_name(ns, p)
                _ns(node, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns_name)
                _ns(node, "ip", "link", "set", veth, "up")
                _ns(node, "ip", "route", "add", f"{ips[key]}/32", "dev", veth)
                mac = _ns(node, "cat", f"/sys/class/net/{veth}/address").stdout.strip()
                for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "eth0", "up"],
                            ["ip", "addr", "add", f"{ips[key]}/32", "dev", "eth0"],
                            ["ip", "route", "add", "169.254.1.1", "dev", "eth0"],
                            ["ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0"],
                            ["ip", "neigh", "add", "169.254.1.1", "lladdr", mac, "dev", "eth0", "nud", "permanent"]):
                    _ns(ns_name, *cmd)
                srv = subprocess.Popen(["ip", "netns", "exec", ns_name, sys.executable, "-c", SERVER],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                servers.append(srv)
                assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
            loaded = _ns(node, NFT or "nft", "-f", "-", input_=ruleset.text, check=False)
            assert loaded.returncode == 0, loaded.stderr

            order = [f"{ns}/{p}" for ns, p in names]
            targets = [(ips[d], port) for port in (80, 81) for d in order]
            clients = {
                s: subprocess.Popen(["ip", "netns", "exec", pod_ns[s], sys.executable, "-c", CLIENT,
                                     json.dumps(targets), "1.0"], stdout=subprocess.PIPE, text=True)
                for s in order
            }
            observed: dict[int, dict[str, dict[str, bool]]] = {80: {}, 81: {}}
            for s, proc in clients.items():
                out, _ = proc.communicate(timeout=30)
                results = json.loads(out)
                for (ip, port), ok in zip(targets, results):
                    d = next(k for k, v in ips.items() if v == ip)
                    observed[port].setdefault(s, {})[d] = ok
            for port in (80, 81):
                m = reachability(index, port, "TCP")
                got = "\n".join(
                    "\t".join([s, *("." if observed[port][s][d] else "X" for d in m.pods)]) for s in m.pods)
                want = "\n".join(m.to_text().split("\n")[1:])
                assert got == want, f"port {port}\nmatrix:\n{m.to_text()}\nobserved:\n{got}"
            counters = _ns(node, NFT or "nft", "list", "chain", "inet", "podnet-policy", "ingress-x/a").stdout
            assert "counter packets 0 " not in counters  # denied SYNs were counted
        finally:
            for srv in servers:
                srv.kill()
                srv.wait(timeout=5)
            time.sleep(0)
