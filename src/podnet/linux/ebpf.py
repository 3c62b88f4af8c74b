"""What Cilium's eBPF programs do, done with the kernel's own routing instead.

Cilium attaches BPF programs to every pod's ``lxc…`` veth and to its tunnel device; they answer
the pods' ARP for the router IP, deliver to local pods by redirecting to their veth, and pick the
remote node of a pod prefix from the BPF tunnel map (``cilium bpf tunnel list``), setting the
tunnel key on ``cilium_vxlan``/``cilium_geneve`` per packet. podnet loads no BPF; the same
forwarding decisions are made by plain kernel state, from the plan's own data:

* a local pod: ``<pod IP>/32 dev lxc… scope link`` (the redirect), and the router IP answered
  on the lxc side by the kernel since it is an address of ``cilium_host``;
* a tunnel-map entry ``<prefix> → <node IP>``: ``<prefix> via <remote router IP> dev
  cilium_vxlan onlink encap ip id <VNI> dst <node IP>`` — a lightweight-tunnel route through the
  collect-metadata device, which is how the kernel sets a tunnel key per destination without
  BPF (the VNI is the reserved ``world`` identity 2, as the per-packet source identity cannot be
  expressed per route), with the remote router IP resolved permanently to the remote tunnel
  device's MAC so the decapsulated frame is addressed to it.

The plan's routes stay what Cilium installs (``<podCIDR> via <router> dev cilium_host``); the
tunnel routes replace those for remote prefixes, as the BPF program overrides them.
"""

from __future__ import annotations

import subprocess

from podnet.linux.netlink import Netlink
from podnet.linux.topology import set_sysctls
from podnet.plugins.plan import NetworkPlan, NodePlan

TUNNEL_VNI = 2  # reserved identity "world"


def needs_emulation(plan: NetworkPlan) -> bool:
    return plan.plugin.name == "cilium"


def _tunnel_device(node: NodePlan) -> str | None:
    for link in node.links:
        if link.kind in ("vxlan", "geneve") and link.external:
            return link.name
    return None


def apply(nl: Netlink, plan: NetworkPlan, node: NodePlan) -> None:
    """The BPF datapath's forwarding on ``node``, as kernel routes."""
    sysctls: dict[str, str] = {}
    for pod in plan.pods_on(node.name):
        nl.route(f"{pod.ip}/32", dev=pod.host_if, scope="link")
        sysctls[f"net.ipv4.conf.{pod.host_if}.forwarding"] = "1"
        sysctls[f"net.ipv4.conf.{pod.host_if}.rp_filter"] = "0"
    if sysctls:
        set_sysctls(nl.ns, sysctls, optional=True)
    dev = _tunnel_device(node)
    if dev is None:
        return
    for entry in node.tunnel_map:
        remote = plan.node(entry.node)
        router = next((a.split("/")[0] for link in remote.links if link.name == "cilium_host"
                       for a in link.addresses), None)
        rdev = remote.link(dev)
        if router is None or rdev is None or not rdev.mac:
            continue
        # The inner frame needs a destination MAC the remote tunnel device takes as its own:
        # next hop = the remote router IP, resolved permanently to that device's MAC.
        nl.neigh(router, rdev.mac, dev)
        _ip(nl.ns, "route", "replace", entry.prefix, "via", router, "dev", dev, "onlink",
            "encap", "ip", "id", str(TUNNEL_VNI), "dst", entry.endpoint)


def _ip(ns: str, *args: str) -> None:
    proc = subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise OSError(f"ip {' '.join(args)} in netns {ns}: {proc.stderr.strip()}")
