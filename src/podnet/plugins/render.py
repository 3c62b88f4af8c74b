"""A plan as a user would read it on the machines: ``ip -d link``, ``ip route``, ``ip neigh``,
``bridge fdb``, ``sysctl`` and ``iptables -t nat -S`` per node, ``ip addr``/``ip route`` per pod;
and Calico's BGP view as ``calicoctl node status`` and ``birdc show route`` print it."""

from __future__ import annotations

from collections.abc import Sequence

from podnet.plugins.calico import BgpView
from podnet.plugins.plan import Link, NetworkPlan, NodePlan, PodPlan

__all__ = ["render_bgp", "render_link", "render_node", "render_plan", "render_pod"]


def render_link(link: Link) -> list[str]:
    """One interface as ``ip -d addr show`` prints it (without indexes and counters)."""
    name = link.name
    flags = "BROADCAST,MULTICAST,UP,LOWER_UP"
    if link.kind == "ipip":
        name, flags = f"{name}@NONE", "NOARP,UP,LOWER_UP"
    head = f"{name}: <{flags}> mtu {link.mtu}"
    if link.master:
        head += f" master {link.master}"
    head += " state UP" if link.kind in ("veth", "bridge") else " state UNKNOWN"
    lines = [head]
    if link.kind == "ipip":
        lines.append("    link/ipip 0.0.0.0 brd 0.0.0.0")
        lines.append("    ipip any remote any local any ttl inherit nopmtudisc")
    else:
        lines.append(f"    link/ether {link.mac or '00:00:00:00:00:00'} brd ff:ff:ff:ff:ff:ff")
    if link.kind == "vxlan":
        if link.external:
            lines.append(f"    vxlan external id 0 srcport 0 0 dstport {link.port} nolearning")
        else:
            lines.append(f"    vxlan id {link.vni} local {link.local} dev eth0 srcport 0 0 dstport {link.port} nolearning")
    elif link.kind == "geneve":
        lines.append(f"    geneve external id 0 dstport {link.port}")
    elif link.kind == "bridge":
        lines.append("    bridge")
    elif link.kind == "veth":
        peer = f" (peer: {link.peer})" if link.peer else ""
        lines.append(f"    veth{peer}")
        if link.master:
            lines.append("    bridge_slave hairpin on")
    for a in link.addresses:
        lines.append(f"    {'inet6' if ':' in a else 'inet'} {a} scope global {link.name}")
    return lines


def render_node(plan: NetworkPlan, node: NodePlan, with_pods: bool = True) -> str:
    out: list[str] = [f"=== node {node.name} ({node.internal_ip} on {node.subnet}, pod CIDRs: "
                      f"{', '.join(node.pod_cidrs) or '<none>'})", ""]
    out.append("$ ip -d addr")
    for link in node.links:
        out.extend(render_link(link))
    out += ["", "$ ip route"]
    out += [r.text() for r in node.routes if r.version == 4]
    if any(r.version == 6 for r in node.routes):
        out += ["", "$ ip -6 route"]
        out += [r.text() for r in node.routes if r.version == 6]
    out += ["", "$ ip neigh show nud permanent"]
    out += [n.text() for n in node.neighbours] or ["(none)"]
    out += ["", "$ bridge fdb show | grep dst"]
    out += [f.text() for f in node.fdb] or ["(none)"]
    if node.tunnel_map:
        out += ["", "$ cilium bpf tunnel list"]
        out += [f"{t.prefix:<20} {t.endpoint}" for t in node.tunnel_map]
    out += ["", "$ sysctl"]
    out += [f"{k} = {v}" for k, v in node.sysctls.items()]
    out += ["", "$ iptables -t nat -S  (the plugin's masquerade)"]
    out += list(node.nat) or ["(none)"]
    if node.warnings:
        out += ["", "agent log:"]
        out += [f"  {w}" for w in node.warnings]
    if with_pods:
        pods = list(plan.pods_on(node.name))
        if pods:
            out += ["", f"pods on {node.name}:"]
            for p in pods:
                out += ["  " + line for line in render_pod(p).splitlines()]
    return "\n".join(out) + "\n"


def render_pod(pod: PodPlan) -> str:
    lines = [f"{pod.name}  (host side: {pod.host_if})"
             + (f"  identity {pod.identity}" if pod.identity is not None else "")]
    lines.append(f"  eth0: mtu {pod.eth0.mtu} link/ether {pod.eth0.mac}")
    lines += [f"    {'inet6' if ':' in a else 'inet'} {a}" for a in pod.eth0.addresses]
    lines += [f"  {r.text()}" for r in pod.routes]
    lines += [f"  {n.text()}" for n in pod.neighbours]
    return "\n".join(lines)


def render_plan(plan: NetworkPlan, nodes: Sequence[str] | None = None) -> str:
    info = plan.plugin
    policy = "enforced" if info.enforces_policy else "NOT enforced"
    head = [
        f"plugin: {info.name} (mode {info.mode}) — {info.model} model; NetworkPolicy {policy}; "
        f"Services: {info.service_proxy}",
        f"pod network: {', '.join(plan.pod_networks)}   service network: {', '.join(plan.service_networks)}",
    ]
    u = plan.underlay
    segs = "; ".join(f"{s} ({', '.join(n)})" for s, n in u.segments.items())
    router = ", ".join(f"{i.address}{' ' + i.address6 if i.address6 else ''} on {i.name}"
                       for i in u.interfaces)
    head.append(f"underlay: {segs}; router {router}" + (" — nodes on different subnets reach each other "
                                                         "only through it" if u.routed else ""))
    if plan.ipv6_unplanned:
        head.append(f"IPv6: not wired — {plan.ipv6_unplanned}; the IPv6 half is the model's only")
    names = list(plan.node_names) if nodes is None else list(nodes)
    parts = ["\n".join(head) + "\n"]
    parts += [render_node(plan, plan.node(n)) for n in names]
    return "\n".join(parts)


def render_bgp(view: BgpView) -> str:
    out: list[str] = [f"BGP: AS {view.asn}, node-to-node mesh, TCP 179 (pool mode: {view.mode})", ""]
    for node in view.nodes:
        out.append(f"=== node {node.name} ({node.address}), router ID {node.router_id}")
        out.append("$ calicoctl node status")
        out.append("Calico process is running.")
        out.append("")
        out.append("IPv4 BGP status")
        rows = [("PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO")]
        rows += [(p.address, p.type, p.state, "00:00:00", p.info) for p in node.peers]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        out.append(sep)
        for i, r in enumerate(rows):
            out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
            if i == 0:
                out.append(sep)
        out.append(sep)
        out.append("")
        out.append(f"advertises: {', '.join(node.advertises) or '(nothing)'}")
        out.append("$ birdc show route")
        for p in node.peers:
            for block in p.received:
                installed = next((r for r in p.installed if r.startswith(block + " ")), "(not installed)")
                out.append(f"{block:<18} via {p.address} [Mesh_{p.address.replace('.', '_')}] * (100/0) [i]")
                out.append(f"{'':<18}   kernel: {installed}")
        out.append("")
    return "\n".join(out)
