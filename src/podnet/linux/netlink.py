"""Netlink in one namespace, through pyroute2: links, addresses, routes, neighbours, FDB.

:class:`Netlink` holds one rtnetlink socket opened *inside* a namespace podnet created (never the
host's — the constructor refuses it), so every request it sends configures that namespace and
nothing else, whichever thread sends it. Creating a veth whose peer belongs in another namespace
passes that namespace's fd with the peer (``IFLA_NET_NS_FD``): the pair is born with each end
where it belongs, and no link ever exists, even briefly, in the host's namespace.

The methods mirror the ``ip`` commands a reader would type (``link add … type vxlan id 1 dstport
8472``, ``route add … via … dev … onlink``, ``neigh add … nud permanent``, ``bridge fdb add …
dst …``), and their errors say which of those failed, in which namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from typing import Any

from pyroute2 import IPRoute  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from podnet.linux import netns
from podnet.linux.names import check_ifname

NUD_PERMANENT = 0x80
NTF_SELF = 0x02
NTF_PROXY = 0x08
RTNH_F_ONLINK = 4
SCOPE_LINK = 253
SCOPE_UNIVERSE = 0
RTPROT_STATIC = 4
RTPROT_BOOT = 3
RTPROT_KERNEL = 2
_PROTOS = {"kernel": 2, "boot": 3, "static": 4, "bird": 12, "bgp": 186}


class LinkError(OSError):
    """A netlink request failed; the message says which, in which namespace."""


def _mac_ok(mac: str | None) -> str | None:
    return mac.lower() if mac else None


def _split_cidr(cidr: str) -> tuple[str, int]:
    iface = ipaddress.ip_interface(cidr)
    return str(iface.ip), iface.network.prefixlen


class Netlink:
    """An rtnetlink socket bound to the namespace ``ns`` (by name)."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        with netns.enter(ns):
            netns.assert_not_host("open a netlink socket")
            self.ipr: Any = IPRoute()
        self._index: dict[str, int] = {}

    def close(self) -> None:
        self.ipr.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _err(self, what: str, e: Exception) -> LinkError:
        code = getattr(e, "code", 0) or errno.EIO
        text = e.args[1] if isinstance(e, NetlinkError) and len(e.args) > 1 else str(e)
        return LinkError(code, f"{what} in netns {self.ns}: {text}")

    def _do(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NetlinkError as e:
            raise self._err(what, e) from None

    def index(self, name: str) -> int:
        got = self._index.get(name)
        if got is None:
            found = self.ipr.link_lookup(ifname=name)
            if not found:
                raise LinkError(errno.ENODEV, f"no link {name} in netns {self.ns}")
            got = int(found[0])
            self._index[name] = got
        return got

    def has_link(self, name: str) -> bool:
        try:
            self.index(name)
            return True
        except LinkError:
            return False

    def forget(self, name: str) -> None:
        self._index.pop(name, None)

    # ------------------------------------------------------------------ links

    def _common(self, mtu: int | None, mac: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if mtu:
            out["mtu"] = mtu
        if mac:
            out["address"] = _mac_ok(mac)
        return out

    def add_veth(
        self,
        name: str,
        peer: str,
        peer_ns: str | None = None,
        *,
        mtu: int | None = None,
        mac: str | None = None,
        peer_mtu: int | None = None,
        peer_mac: str | None = None,
    ) -> None:
        """``ip link add NAME type veth peer name PEER netns PEER_NS`` (both ends down)."""
        check_ifname(name)
        check_ifname(peer)
        peer_attrs: dict[str, Any] = {"ifname": peer}
        if peer_mtu or mtu:
            peer_attrs["mtu"] = peer_mtu or mtu
        if peer_mac:
            peer_attrs["address"] = peer_mac.lower()
        fd = -1
        try:
            if peer_ns is not None:
                fd = netns.open_fd(peer_ns)
                peer_attrs["net_ns_fd"] = fd
            self._do(
                f"ip link add {name} type veth peer name {peer}"
                + (f" netns {peer_ns}" if peer_ns else ""),
                self.ipr.link, "add", ifname=name, kind="veth", peer=peer_attrs,
                **self._common(mtu, mac),
            )
        finally:
            if fd >= 0:
                os.close(fd)

    def add_bridge(self, name: str, *, mtu: int | None = None, mac: str | None = None,
                   stp: bool = False) -> None:
        check_ifname(name)
        kw = self._common(mtu, mac)
        self._do(f"ip link add {name} type bridge", self.ipr.link, "add", ifname=name,
                 kind="bridge", br_stp_state=1 if stp else 0, br_forward_delay=0, **kw)

    def add_dummy(self, name: str, *, mtu: int | None = None, mac: str | None = None) -> None:
        check_ifname(name)
        self._do(f"ip link add {name} type dummy", self.ipr.link, "add", ifname=name,
                 kind="dummy", **self._common(mtu, mac))

    def add_vxlan(
        self,
        name: str,
        vni: int,
        port: int,
        *,
        local: str | None = None,
        dev: str | None = None,
        mtu: int | None = None,
        mac: str | None = None,
        learning: bool = False,
        external: bool = False,
    ) -> None:
        """``ip link add NAME type vxlan id VNI dstport PORT local IP dev DEV nolearning``."""
        check_ifname(name)
        kw: dict[str, Any] = {"vxlan_port": port, "vxlan_learning": 1 if learning else 0}
        if external:
            kw["vxlan_collect_metadata"] = 1
        else:
            kw["vxlan_id"] = vni
        if local:
            kw["vxlan_local6" if ":" in local else "vxlan_local"] = local
        if dev:
            kw["vxlan_link"] = self.index(dev)
        kw.update(self._common(mtu, mac))
        self._do(f"ip link add {name} type vxlan id {vni} dstport {port}", self.ipr.link, "add",
                 ifname=name, kind="vxlan", **kw)

    def add_geneve(
        self, name: str, vni: int, port: int, *, remote: str | None = None,
        mtu: int | None = None, mac: str | None = None, external: bool = False,
    ) -> None:
        check_ifname(name)
        kw: dict[str, Any] = {"geneve_port": port}
        if external:
            kw["geneve_collect_metadata"] = True
        else:
            kw["geneve_id"] = vni
            if remote:
                kw["geneve_remote"] = remote
        kw.update(self._common(mtu, mac))
        self._do(f"ip link add {name} type geneve id {vni} dstport {port}", self.ipr.link, "add",
                 ifname=name, kind="geneve", **kw)

    def add_ipip(self, name: str, *, local: str | None = None, remote: str | None = None,
                 mtu: int | None = None, dev: str | None = None) -> None:
        """An IPIP device (``tunl0`` exists in every namespace once the module is loaded)."""
        check_ifname(name)
        if name == "tunl0":
            if self.has_link("tunl0"):
                if mtu:
                    self.set(name, mtu=mtu)
                return
        kw: dict[str, Any] = {}
        if local:
            kw["ipip_local"] = local
        if remote:
            kw["ipip_remote"] = remote
        if dev:
            kw["ipip_link"] = self.index(dev)
        if mtu:
            kw["mtu"] = mtu
        self._do(f"ip link add {name} type ipip", self.ipr.link, "add", ifname=name,
                 kind="ipip", **kw)

    def set(self, name: str, *, up: bool | None = None, mtu: int | None = None,
            mac: str | None = None, master: str | None = None, alias: str | None = None,
            nomaster: bool = False) -> None:
        """``ip link set NAME [up|down] [mtu N] [address MAC] [master BR] [alias TEXT]``."""
        kw: dict[str, Any] = {}
        if up is not None:
            kw["state"] = "up" if up else "down"
        if mtu:
            kw["mtu"] = mtu
        if mac:
            kw["address"] = mac.lower()
        if master:
            kw["master"] = self.index(master)
        if nomaster:
            kw["master"] = 0
        if alias is not None:
            kw["ifalias"] = alias
        if not kw:
            return
        words = " ".join(f"{k} {v}" for k, v in kw.items())
        self._do(f"ip link set {name} {words}", self.ipr.link, "set", index=self.index(name), **kw)

    def up(self, *names: str) -> None:
        for n in names:
            self.set(n, up=True)

    def hairpin(self, port: str, on: bool = True) -> None:
        """``bridge link set dev PORT hairpin on`` (the CNI bridge plugin's hairpinMode)."""
        self._do(f"bridge link set dev {port} hairpin {'on' if on else 'off'}",
                 self.ipr.brport, "set", index=self.index(port), mode=1 if on else 0)

    def delete_link(self, name: str) -> bool:
        try:
            idx = self.index(name)
        except LinkError:
            return False
        self._do(f"ip link del {name}", self.ipr.link, "del", index=idx)
        self.forget(name)
        return True

    def link_alias(self, name: str) -> str | None:
        msgs = self.ipr.get_links(self.index(name))
        for m in msgs:
            alias = m.get_attr("IFLA_IFALIAS")
            return str(alias) if alias is not None else None
        return None

    def links(self) -> list[dict[str, Any]]:
        out = []
        for m in self.ipr.get_links():
            info = m.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
            out.append({
                "name": m.get_attr("IFLA_IFNAME"),
                "index": m["index"],
                "kind": kind,
                "mtu": m.get_attr("IFLA_MTU"),
                "mac": m.get_attr("IFLA_ADDRESS"),
                "master": m.get_attr("IFLA_MASTER"),
                "up": bool(m["flags"] & 1),
            })
        return out

    # ------------------------------------------------------------------ addresses

    def add_addr(self, dev: str, cidr: str, *, noprefixroute: bool = False) -> None:
        """``ip addr add CIDR dev DEV``."""
        ip, plen = _split_cidr(cidr)
        kw: dict[str, Any] = {}
        flags = 0x200 if noprefixroute else 0  # IFA_F_NOPREFIXROUTE
        if ":" in ip:
            # IFA_F_NODAD: usable at once — duplicate address detection would hold a fresh
            # address "tentative" for a second or two, and nothing else claims it here
            flags |= 0x02
        if flags:
            kw["flags"] = flags
        try:
            self.ipr.addr("add", index=self.index(dev), address=ip, prefixlen=plen, **kw)
        except NetlinkError as e:
            if e.code == errno.EEXIST:
                return
            raise self._err(f"ip addr add {cidr} dev {dev}", e) from None

    def addrs(self, dev: str | None = None) -> list[str]:
        kw: dict[str, Any] = {}
        if dev is not None:
            kw["index"] = self.index(dev)
        out = []
        for m in self.ipr.get_addr(**kw):
            out.append(f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}")
        return out

    # ------------------------------------------------------------------ routes

    def route(
        self,
        dst: str,
        *,
        via: str | None = None,
        dev: str | None = None,
        onlink: bool = False,
        type_: str = "unicast",
        mtu: int | None = None,
        scope: str | int | None = None,
        src: str | None = None,
        proto: str | int | None = None,
        table: int | None = None,
        encap: dict[str, Any] | None = None,
    ) -> None:
        """``ip route replace DST [via GW] [dev DEV] [onlink] [mtu N] [scope S] [src IP]``."""
        kw: dict[str, Any] = {}
        net = ipaddress.ip_network(dst if dst != "default" else "0.0.0.0/0", strict=False)
        kw["dst"] = str(net.network_address)
        kw["dst_len"] = net.prefixlen
        kw["family"] = socket.AF_INET if net.version == 4 else socket.AF_INET6
        if type_ != "unicast":
            kw["type"] = type_
        if via:
            kw["gateway"] = via
        if dev:
            kw["oif"] = self.index(dev)
        if onlink:
            kw["flags"] = RTNH_F_ONLINK
        if mtu:
            kw["metrics"] = {"RTAX_MTU": mtu}
        if scope is not None:
            kw["scope"] = (SCOPE_LINK if scope == "link" else SCOPE_UNIVERSE) \
                if isinstance(scope, str) else scope
        elif dev and not via and type_ == "unicast":
            kw["scope"] = SCOPE_LINK
        if src:
            kw["prefsrc"] = src
        # What `ip route add` and the Go netlink library leave: RTPROT_BOOT, which `ip route`
        # does not print; a plugin's own protocol (bird, Felix's 80) when the plan names one.
        if proto is None:
            kw["proto"] = RTPROT_BOOT
        elif isinstance(proto, str):
            kw["proto"] = int(proto) if proto.isdigit() else _PROTOS.get(proto, RTPROT_BOOT)
        else:
            kw["proto"] = proto
        if table is not None:
            kw["table"] = table
        if encap:
            kw["encap"] = encap
        words = " ".join(
            w for w in (
                type_ if type_ != "unicast" else "", dst, f"via {via}" if via else "",
                f"dev {dev}" if dev else "", "onlink" if onlink else "",
                f"mtu {mtu}" if mtu else "",
            ) if w
        )
        self._do(f"ip route replace {words}", self.ipr.route, "replace", **kw)

    def del_route(self, dst: str, **kw: Any) -> bool:
        net = ipaddress.ip_network(dst if dst != "default" else "0.0.0.0/0", strict=False)
        try:
            self.ipr.route("del", dst=str(net.network_address), dst_len=net.prefixlen, **kw)
            return True
        except NetlinkError as e:
            if e.code in (errno.ESRCH, errno.ENOENT):
                return False
            raise self._err(f"ip route del {dst}", e) from None

    def routes(self) -> list[dict[str, Any]]:
        out = []
        for m in self.ipr.get_routes(family=socket.AF_INET, table=254):
            dst = m.get_attr("RTA_DST")
            out.append({
                "dst": f"{dst}/{m['dst_len']}" if dst else "default",
                "via": m.get_attr("RTA_GATEWAY"),
                "oif": m.get_attr("RTA_OIF"),
                "type": m["type"],
            })
        return out

    # ------------------------------------------------------------------ neighbours

    def neigh(self, ip: str, mac: str, dev: str, *, permanent: bool = True) -> None:
        """``ip neigh replace IP lladdr MAC dev DEV nud permanent``."""
        self._do(
            f"ip neigh replace {ip} lladdr {mac} dev {dev} nud permanent",
            self.ipr.neigh, "replace", dst=ip, lladdr=mac.lower(), ifindex=self.index(dev),
            state=NUD_PERMANENT if permanent else 0x02,
            family=socket.AF_INET if ipaddress.ip_address(ip).version == 4 else socket.AF_INET6,
        )

    def proxy_neigh(self, ip: str, dev: str) -> None:
        """``ip neigh add proxy IP dev DEV``: answer ARP for IP on DEV (MetalLB layer 2)."""
        try:
            self.ipr.neigh("add", dst=ip, ifindex=self.index(dev), flags=NTF_PROXY,
                           family=socket.AF_INET)
        except NetlinkError as e:
            if e.code != errno.EEXIST:
                raise self._err(f"ip neigh add proxy {ip} dev {dev}", e) from None

    def del_proxy_neigh(self, ip: str, dev: str) -> None:
        try:
            self.ipr.neigh("del", dst=ip, ifindex=self.index(dev), flags=NTF_PROXY,
                           family=socket.AF_INET)
        except NetlinkError:
            pass

    def fdb(self, mac: str, dev: str, dst: str | None = None) -> None:
        """``bridge fdb append MAC dev DEV dst IP self permanent`` (a VTEP entry)."""
        kw: dict[str, Any] = {"ifindex": self.index(dev), "lladdr": mac.lower()}
        if dst:
            kw["dst"] = dst
            if ":" in dst:
                kw["family"] = socket.AF_BRIDGE
        try:
            self.ipr.fdb("append", **kw)
        except NetlinkError as e:
            if e.code != errno.EEXIST:
                raise self._err(f"bridge fdb append {mac} dev {dev} dst {dst}", e) from None
