"""Shared fixtures for the proxy tests: upstream's fake cluster, and a packet tracer.

Conventions of kube-proxy's ``pkg/proxy/nftables/proxier_test.go`` (``NewFakeProxier``), so
that its expectations can be reused verbatim:

    Pod IPs 10.0.0.0/8, ClusterIPs 172.30.0.0/16, node "test-node" at 192.168.0.2 (alternate
    192.168.1.2), external IPs 192.168.99.0/24, LoadBalancer IPs 1.2.3.4, 5.6.7.8, 9.10.11.12,
    outside clients 203.0.113.0/24 (203.0.113.0/25 being a LoadBalancer source range).

The tracer is a re-implementation of upstream's ``helpers_test.go`` ``nftablesTracer``: it runs a
packet through the rules of a *text* ruleset (our compiler's dump, parsed back), recognising
exactly the rule shapes kube-proxy writes, and reports the endpoints it may reach, DROP, REJECT
or nothing, and whether it was marked for masquerade. It lives in the tests on purpose: it
checks the compiled rules independently of :mod:`podnet.proxy.connect`, which must agree.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from podnet.api.core import (
    ClientIPConfig,
    LoadBalancerIngress,
    LoadBalancerStatus,
    Node,
    NodeAddress,
    NodeStatus,
    Service,
    ServicePort,
    ServiceSpec,
    ServiceStatus,
    SessionAffinityConfig,
)
from podnet.api.discovery import (
    SERVICE_NAME_LABEL,
    Endpoint,
    EndpointConditions,
    EndpointHints,
    EndpointPort,
    EndpointSlice,
    ForZone,
    ObjectReference,
)
from podnet.api.frozen import FrozenDict
from podnet.api.meta import ObjectMeta, Resource
from podnet.cluster.config import ClusterConfig
from podnet.cluster.state import ClusterState
from podnet.proxy.service_map import ServicePlan

TEST_NODE = "test-node"
TEST_NODE_IP = "192.168.0.2"
TEST_NODE_IP_ALT = "192.168.1.2"
TEST_EXTERNAL_IP = "192.168.99.11"
TEST_NODE_IPV6 = "2001:db8::1"
TEST_NODE_IPV6_ALT = "2001:db8:1::2"
TEST_EXTERNAL_CLIENT = "203.0.113.2"
TEST_EXTERNAL_CLIENT_BLOCKED = "203.0.113.130"
#: Addresses "fib ... type local" treats as this node's (upstream's testNodeIPs).
TEST_NODE_IPS = (TEST_NODE_IP, TEST_NODE_IP_ALT, TEST_EXTERNAL_IP, TEST_NODE_IPV6,
                 TEST_NODE_IPV6_ALT)

CONFIG_V4 = ClusterConfig(pod_subnets=("10.0.0.0/8",), service_subnets=("172.30.0.0/16",))
CONFIG_V6 = ClusterConfig(pod_subnets=("fd00:10::/64",), service_subnets=("fd00:10:96::/112",))


# ---------------------------------------------------------------------------- object builders


def node(name: str = TEST_NODE, *ips: str, labels: dict[str, str] | None = None) -> Node:
    addrs = ips or ((TEST_NODE_IP, TEST_NODE_IPV6) if name == TEST_NODE else ())
    return Node(
        metadata=ObjectMeta(name=name, labels=FrozenDict(labels or {})),
        status=NodeStatus(addresses=tuple(NodeAddress(type="InternalIP", address=a)
                                          for a in addrs)),
    )


def port(name: str, port: int, protocol: str = "TCP", node_port: int = 0,
         target_port: int | str | None = None) -> ServicePort:
    return ServicePort(name=name, port=port, protocol=protocol, node_port=node_port,
                       target_port=target_port)


def service(
    ns: str,
    name: str,
    cluster_ip: str,
    ports: Iterable[ServicePort],
    *,
    type: str = "ClusterIP",
    external_ips: Iterable[str] = (),
    lb_ips: Iterable[str] = (),
    lb_ip_mode: str | None = None,
    etp: str = "",
    itp: str | None = None,
    hc_port: int = 0,
    source_ranges: Iterable[str] = (),
    affinity_timeout: int | None = None,
    traffic_distribution: str | None = None,
    external_name: str = "",
) -> Service:
    affinity = affinity_timeout is not None
    return Service(
        metadata=ObjectMeta(name=name, namespace=ns),
        spec=ServiceSpec(
            type=type,
            cluster_ip=cluster_ip,
            cluster_ips=(cluster_ip,) if cluster_ip and cluster_ip != "None" else (),
            ports=tuple(ports),
            external_ips=tuple(external_ips),
            external_traffic_policy=etp or ("Cluster" if type in ("NodePort", "LoadBalancer")
                                            else ""),
            internal_traffic_policy=itp,
            health_check_node_port=hc_port,
            load_balancer_source_ranges=tuple(source_ranges),
            session_affinity="ClientIP" if affinity else "None",
            session_affinity_config=SessionAffinityConfig(
                client_ip=ClientIPConfig(timeout_seconds=affinity_timeout)) if affinity else None,
            traffic_distribution=traffic_distribution,
            external_name=external_name,
        ),
        status=ServiceStatus(load_balancer=LoadBalancerStatus(
            ingress=tuple(LoadBalancerIngress(ip=ip, ip_mode=lb_ip_mode) for ip in lb_ips))),
    )


def ep(ip: str, node: str | None = None, *, ready: bool | None = None,
       serving: bool | None = None, terminating: bool | None = None,
       zone: str | None = None, hints: Iterable[str] | None = None,
       pod: str | None = None) -> Endpoint:
    ref = None
    if pod:
        pns, pname = pod.split("/")
        ref = ObjectReference(kind="Pod", namespace=pns, name=pname)
    return Endpoint(
        addresses=(ip,),
        conditions=EndpointConditions(ready=ready, serving=serving, terminating=terminating),
        node_name=node,
        zone=zone,
        hints=EndpointHints(for_zones=tuple(ForZone(name=z) for z in hints))
        if hints is not None else None,
        target_ref=ref,
    )


def eport(name: str, port: int, protocol: str = "TCP") -> EndpointPort:
    return EndpointPort(name=name, port=port, protocol=protocol)


def eslice(ns: str, svc: str, endpoints: Iterable[Endpoint], ports: Iterable[EndpointPort],
           n: int = 1, address_type: str = "IPv4") -> EndpointSlice:
    return EndpointSlice(
        metadata=ObjectMeta(name=f"{svc}-{n}", namespace=ns,
                            labels=FrozenDict({SERVICE_NAME_LABEL: svc})),
        address_type=address_type,
        endpoints=tuple(endpoints),
        ports=tuple(ports),
    )


def state(objs: Iterable[Resource], config: ClusterConfig = CONFIG_V4,
          nodes: Iterable[Node] | None = None) -> ClusterState:
    all_objs = list(objs) + list(nodes if nodes is not None else [node()])
    return ClusterState(config=config, objects={o.ref: o for o in all_objs})


def plan(objs: Iterable[Resource], config: ClusterConfig = CONFIG_V4,
         nodes: Iterable[Node] | None = None) -> ServicePlan:
    return ServicePlan.build(state(objs, config, nodes))


# ---------------------------------------------------------------------------- fake nft table


@dataclass
class FakeTable:
    """The objects of one table, built by applying transaction text (knftables' Fake, in
    small): enough to apply a full sync, a partial sync and its cleanup, and dump the result."""

    chains: dict[str, list[str]] = field(default_factory=dict)  # name -> rules
    chain_lines: dict[str, str] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)
    maps: dict[str, str] = field(default_factory=dict)
    elements: dict[str, dict[str, str]] = field(default_factory=dict)  # container -> key -> line
    table_line: str = ""

    def apply(self, text: str) -> None:
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            verb, what, fam, table, rest = line.split(" ", 4)
            prefix = f"{fam} {table}"
            if what == "table":
                self.table_line = line
                continue
            name = rest.split(" ", 1)[0]
            body = rest[len(name) + 1:]
            if what == "chain":
                if verb == "add":
                    if name not in self.chains:
                        self.chains[name] = []
                        self.chain_lines[name] = f"add chain {prefix} {rest}"
                elif verb == "flush":
                    self.chains[name] = []
                elif verb == "delete":
                    assert not any(f"goto {name}" in r or f"jump {name}" in r
                                   for rs in self.chains.values() for r in rs), name
                    del self.chains[name]
                    del self.chain_lines[name]
            elif what == "rule":
                assert verb == "add"
                assert body.split(" ")[0] != "" and name in self.chains, line
                self.chains[name].append(f"add rule {prefix} {name} {body}")
            elif what in ("set", "map"):
                store = self.sets if what == "set" else self.maps
                if verb == "add":
                    store.setdefault(name, f"add {what} {prefix} {rest}")
                    self.elements.setdefault(name, {})
                elif verb == "flush":
                    self.elements[name] = {}
                elif verb == "delete":
                    del store[name]
                    del self.elements[name]
            elif what == "element":
                inner = body.strip()[1:-1].strip()  # strip { }
                key = re.split(r' comment "| : ', inner)[0].strip()
                if verb == "add":
                    assert key not in self.elements[name], f"element exists: {line}"
                    self.elements[name][key] = f"add element {prefix} {name} {{ {inner} }}"
                elif verb == "delete":
                    del self.elements[name][key]
            else:  # pragma: no cover
                raise AssertionError(line)

    def dump(self) -> str:
        out = [self.table_line]
        out += [self.chain_lines[c] for c in sorted(self.chains)]
        out += [self.sets[s] for s in sorted(self.sets)]
        out += [self.maps[m] for m in sorted(self.maps)]
        for c in sorted(self.chains):
            out += self.chains[c]
        for s in sorted(self.sets):
            out += list(self.elements[s].values())
        for m in sorted(self.maps):
            out += list(self.elements[m].values())
        return "\n".join(out) + "\n"

    def rules(self, chain: str) -> list[str]:
        return [r.split(" ", 5)[5] for r in self.chains.get(chain, [])]

    def element_entries(self, container: str) -> list[tuple[list[str], str | None]]:
        """(key parts, value) of each element."""
        out: list[tuple[list[str], str | None]] = []
        for line in self.elements.get(container, {}).values():
            inner = line[line.index("{") + 1: line.rindex("}")].strip()
            value: str | None = None
            if " : " in inner:
                inner, value = inner.split(" : ", 1)
            inner = re.sub(r' comment "[^"]*"', "", inner)
            out.append(([k.strip() for k in inner.split(" . ")], value))
        return out


def table_of(text: str) -> FakeTable:
    t = FakeTable()
    t.apply(text)
    return t


# ---------------------------------------------------------------------------- tracer

_DEST_ADDR = re.compile(r"^ip6* daddr (!= )?(\S+)")
_DEST_ADDR_LOOKUP = re.compile(r"^ip6* daddr (!= )?\{([^}]*)\}")
_DEST_LOCAL = re.compile(r"^fib daddr type local")
_DEST_PORT = re.compile(r"^(tcp|udp|sctp) dport (\d+)")
_DEST_IP_ONLY_LOOKUP = re.compile(r"^ip6* daddr @(\S+)")
_DEST_LOOKUP = re.compile(r"^ip6* daddr \. meta l4proto \. th dport @(\S+)")
_DEST_PORT_LOOKUP = re.compile(r"^meta l4proto \. th dport @(\S+)")
_DEST_DISPATCH = re.compile(r"^ip6* daddr \. meta l4proto \. th dport vmap @(\S+)$")
_DEST_PORT_DISPATCH = re.compile(r"^meta l4proto \. th dport vmap @(\S+)$")
_SRC_ADDR = re.compile(r"^ip6* saddr (!= )?(\S+)")
_SRC_ADDR_LOOKUP = re.compile(r"^ip6* saddr (!= )?\{([^}]*)\}")
_SRC_SET_LOOKUP = re.compile(r"^ip6* saddr @(\S+)")
_SRC_LOCAL = re.compile(r"^fib saddr type local")
_VMAP = re.compile(r"^numgen random mod \d+ vmap \{(.*)\}$")
_VMAP_ENTRY = re.compile(r"\d+ : goto (\S+)")
_MASQ = re.compile(r"^jump mark-for-masquerade$")
_JUMP = re.compile(r"^(jump|goto) (\S+)$")
_RETURN = re.compile(r"^return$")
_VERDICT = re.compile(r"^(drop|reject)$")
_DNAT = re.compile(r"^meta l4proto (tcp|udp|sctp) dnat to (\S+)$")
_UPDATE = re.compile(r"^update @\S+ \{ ip6* saddr \}")
_IGNORED = re.compile(r' *comment "[^"]*"$|^ct state new')


def _addr_match(ip: str, want: bool, rule_addr: str) -> bool:
    a = ipaddress.ip_address(ip)
    if "/" in rule_addr:
        m = a in ipaddress.ip_network(rule_addr, strict=False)
    else:
        m = a == ipaddress.ip_address(rule_addr)
    return m == want


def _addr_match_set(ip: str, want: bool, rule_set: str) -> bool:
    """``{ a, b }``: member of any (want) / of none (``!=``)."""
    member = any(_addr_match(ip, True, a) for a in rule_set.replace(" ", "").split(","))
    return member == want


@dataclass
class Tracer:
    table: FakeTable
    node_ips: tuple[str, ...]
    matches: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    masq: bool = False

    def run(self, chain: str, src: str, proto: str, dst: str, dport: str) -> bool:
        assert chain in self.table.chains, f"unknown chain {chain}"
        for rule_obj in self.table.rules(chain):
            rule = _IGNORED.sub("", rule_obj)
            while rule:
                rule = rule.lstrip(" ")
                if m := _DEST_IP_ONLY_LOOKUP.match(rule):
                    rule = rule[m.end():]
                    if not any(k[0] == dst for k, _ in self.table.element_entries(m[1])):
                        rule = ""
                elif m := _DEST_LOOKUP.match(rule):
                    rule = rule[m.end():]
                    if not any(k == [dst, proto, dport]
                               for k, _ in self.table.element_entries(m[1])):
                        rule = ""
                elif m := _DEST_PORT_LOOKUP.match(rule):
                    rule = rule[m.end():]
                    if not any(k == [proto, dport] for k, _ in self.table.element_entries(m[1])):
                        rule = ""
                elif m := _DEST_DISPATCH.match(rule):
                    hit = [v for k, v in self.table.element_entries(m[1])
                           if k == [dst, proto, dport]]
                    rule = hit[0] or "" if hit else ""
                elif m := _DEST_PORT_DISPATCH.match(rule):
                    hit = [v for k, v in self.table.element_entries(m[1]) if k == [proto, dport]]
                    rule = hit[0] or "" if hit else ""
                elif m := _DEST_ADDR_LOOKUP.match(rule):
                    rule = rule[m.end():]
                    if not _addr_match_set(dst, m[1] != "!= ", m[2]):
                        rule = ""
                elif m := _DEST_ADDR.match(rule):
                    rule = rule[m.end():]
                    if not _addr_match(dst, m[1] != "!= ", m[2]):
                        rule = ""
                elif m := _DEST_LOCAL.match(rule):
                    rule = rule[m.end():]
                    if dst not in self.node_ips:
                        rule = ""
                elif m := _DEST_PORT.match(rule):
                    rule = rule[m.end():]
                    if (m[1], m[2]) != (proto, dport):
                        rule = ""
                elif m := _SRC_SET_LOOKUP.match(rule):
                    # Affinity sets start empty: a new client never matches.
                    rule = ""
                elif m := _SRC_ADDR_LOOKUP.match(rule):
                    rule = rule[m.end():]
                    if not _addr_match_set(src, m[1] != "!= ", m[2]):
                        rule = ""
                elif m := _SRC_ADDR.match(rule):
                    rule = rule[m.end():]
                    if not _addr_match(src, m[1] != "!= ", m[2]):
                        rule = ""
                elif m := _SRC_LOCAL.match(rule):
                    rule = rule[m.end():]
                    if src not in self.node_ips:
                        rule = ""
                elif _MASQ.match(rule):
                    rule = ""
                    self.matches.append(rule_obj)
                    self.masq = True
                elif m := _JUMP.match(rule):
                    rule = ""
                    self.matches.append(rule_obj)
                    if self.run(m[2], src, proto, dst, dport):
                        return True
                    if m[1] == "goto":
                        return False
                elif m := _VERDICT.match(rule):
                    self.matches.append(rule_obj)
                    self.outputs.append(m[1].upper())
                    return True
                elif _RETURN.match(rule):
                    self.matches.append(rule_obj)
                    return False
                elif m := _UPDATE.match(rule):
                    rule = rule[m.end():]
                elif m := _DNAT.match(rule):
                    self.matches.append(rule_obj)
                    self.outputs.append(m[2])
                    return True
                elif m := _VMAP.match(rule):
                    for target in _VMAP_ENTRY.findall(m[1]):
                        self.matches.append(rule_obj)
                        self.run(target, src, proto, dst, dport)
                    return True
                else:  # pragma: no cover - a rule shape kube-proxy does not write
                    raise AssertionError(f"unmatched rule: {rule_obj!r} at {rule!r}")
        return False


def trace_packet(table: FakeTable, src: str, proto: str, dst: str, dport: int,
                 node_ips: Iterable[str] = TEST_NODE_IPS) -> tuple[list[str], str, bool]:
    """Upstream's ``tracePacket``: filter-prerouting-pre-dnat, nat-prerouting, then (after the
    DNAT) filter-forward and filter-input. Returns (matched rules, output, masqueraded)."""
    t = Tracer(table, tuple(node_ips))
    p = proto.lower()
    sport = str(dport)
    if t.run("filter-prerouting-pre-dnat", src, p, dst, sport):
        return t.matches, ", ".join(t.outputs), t.masq
    t.run("nat-prerouting", src, p, dst, sport)
    if t.outputs:
        host = t.outputs[0]
        dst = host[1:host.index("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    if t.run("filter-forward", src, p, dst, sport):
        return t.matches, ", ".join(t.outputs), t.masq
    t.run("filter-input", src, p, dst, sport)
    return t.matches, ", ".join(t.outputs), t.masq


@dataclass(frozen=True)
class Flow:
    """One of upstream's ``packetFlowTest`` cases."""

    name: str
    source: str
    dest: str
    port: int
    output: str
    masq: bool = False
    protocol: str = "TCP"


# ---------------------------------------------------------------------------- nft loading


def nft_binary() -> str:
    """The nft binary; installed with apt-get when missing and root; else a clear skip."""
    path = shutil.which("nft") or (os.path.exists("/usr/sbin/nft") and "/usr/sbin/nft") or None
    if path:
        return str(path)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "nftables"], check=False,
                       capture_output=True, timeout=600)
        path = shutil.which("nft") or (os.path.exists("/usr/sbin/nft") and "/usr/sbin/nft")
        if path:
            return str(path)
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "nftables"], check=False,
                       capture_output=True, timeout=600)
        path = shutil.which("nft") or (os.path.exists("/usr/sbin/nft") and "/usr/sbin/nft")
        if path:
            return str(path)
        pytest.fail("nft is missing and `apt-get install -y nftables` did not provide it")
    pytest.skip("nft is not installed and we are not root to install it "
                "(run scripts/setup.sh as root, or apt-get install nftables)")


def _ip_binary() -> str | None:
    return shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else None)


def nft_load(*transactions: str, userns: bool = False) -> str:
    """Load the transactions, in order, with ``nft -f`` into a throwaway network namespace, and
    return ``nft list ruleset`` of it. Fails the test with nft's error when one does not load.

    As root: a namespace made with ``ip netns add pn-test-…``, deleted in a finally. Otherwise:
    a user+network namespace of our own (``unshare --user --map-root-user --net``), which needs
    no privilege; where user namespaces are disabled, ``nft -c -f`` (check mode) of the whole
    sequence, and a skip saying why when even that is not permitted. ``userns=True`` takes the
    unprivileged path even as root (to test it).
    """
    nft = nft_binary()
    ipb = _ip_binary()
    if os.geteuid() == 0 and ipb and not userns:
        ns = f"pn-test-{uuid.uuid4().hex[:10]}"
        add = subprocess.run([ipb, "netns", "add", ns], capture_output=True, text=True)
        if add.returncode != 0:
            pytest.fail(f"ip netns add {ns} failed: {add.stderr}")
        try:
            for i, tx in enumerate(transactions):
                r = subprocess.run([ipb, "netns", "exec", ns, nft, "-f", "-"], input=tx,
                                   capture_output=True, text=True, timeout=600)
                if r.returncode != 0:
                    pytest.fail(f"nft -f of transaction {i} failed in netns {ns}:\n"
                                f"{r.stderr[:4000]}")
            r = subprocess.run([ipb, "netns", "exec", ns, nft, "list", "ruleset"],
                               capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, r.stderr
            return r.stdout
        finally:
            subprocess.run([ipb, "netns", "delete", ns], capture_output=True)
    unshare = shutil.which("unshare")
    flags = ["--user", "--map-root-user", "--net"]
    if unshare and subprocess.run([unshare, *flags, "true"], capture_output=True).returncode == 0:
        with tempfile.TemporaryDirectory(prefix="pn-test-") as d:
            files = []
            for i, tx in enumerate(transactions):
                f = os.path.join(d, f"{i}.nft")
                with open(f, "w", encoding="utf-8") as fh:
                    fh.write(tx)
                files.append(f)
            script = "".join(f'"{nft}" -f "{f}" || {{ echo "transaction {i} failed" >&2; '
                             "exit 1; }; " for i, f in enumerate(files))
            r = subprocess.run([unshare, *flags, "sh", "-c", script + f'"{nft}" list ruleset'],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                pytest.fail(f"nft -f in a user namespace failed:\n{r.stderr[:4000]}")
            return r.stdout
    r = subprocess.run([nft, "-c", "-f", "-"], input="".join(transactions),
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        if "Operation not permitted" in r.stderr:
            pytest.skip("cannot load nft rules: not root, and user namespaces are unavailable "
                        "(CI runs the tests as root)")
        pytest.fail(f"nft -c -f failed:\n{r.stderr[:4000]}")
    return ""
