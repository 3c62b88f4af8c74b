"""What the machine must have for the real data plane, checked before anything is built.

Each failure is a sentence naming what is missing and how to get it, never a traceback:
not Linux, not root, no ``ip`` (iproute2) or ``nft`` (nftables) command, or a kernel without
the link type a plugin needs (VXLAN for Flannel and Cilium, IPIP for Calico's default mode,
Geneve for Cilium's geneve mode).

Kernel support is probed for real, once per process, by creating the link in a throwaway
namespace ``pn-probe<pid>-underlay`` that is removed right after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
from collections.abc import Iterable

#: Kernel option behind each link kind, for the error message.
KERNEL_OPTION = {
    "vxlan": "CONFIG_VXLAN",
    "geneve": "CONFIG_GENEVE",
    "ipip": "CONFIG_NET_IPIP",
    "dummy": "CONFIG_DUMMY",
    "bridge": "CONFIG_BRIDGE",
    "veth": "CONFIG_VETH",
}

_kinds: dict[str, bool] = {}
_sctp: bool | None = None


class PreflightError(RuntimeError):
    """The machine cannot run the real data plane; the message says what is missing."""


def platform_problems() -> list[str]:
    problems = []
    if not sys.platform.startswith("linux"):
        return ["podnet up needs Linux: the real data plane is made of Linux network namespaces "
                "(the model commands — get, trace, policy, dns — work anywhere)"]
    if os.geteuid() != 0:
        problems.append("podnet up needs root: it creates network namespaces, links and "
                        "nftables rules (run it with sudo)")
    if shutil.which("ip") is None:
        problems.append("the ip command (iproute2) is missing: apt-get install iproute2")
    if shutil.which("nft") is None:
        problems.append("the nft command (nftables) is missing: apt-get install nftables")
    return problems


def check_platform() -> None:
    problems = platform_problems()
    if problems:
        raise PreflightError("\n".join(problems))


def _probe_ns() -> str:
    return f"pn-probe{os.getpid()}-underlay"


@contextlib.contextmanager
def _probe_namespace():  # type: ignore[no-untyped-def]
    from podnet.linux import netns
    from podnet.linux.netlink import Netlink

    name = _probe_ns()
    if netns.exists(name):
        netns.remove(name)
    netns.create(name)
    try:
        with Netlink(name) as nl:
            yield nl
    finally:
        netns.remove(name)


def link_kind_supported(kind: str) -> bool:
    got = _kinds.get(kind)
    if got is not None:
        return got
    _probe_kinds([kind])
    return _kinds[kind]


def _probe_kinds(kinds: Iterable[str]) -> None:
    todo = [k for k in kinds if k not in _kinds]
    if not todo:
        return
    with _probe_namespace() as nl:
        for kind in todo:
            name = f"probe{len(_kinds)}"
            try:
                if kind == "vxlan":
                    nl.add_vxlan(name, 42, 4789)
                elif kind == "geneve":
                    nl.add_geneve(name, 42, 6081, remote="192.0.2.1")
                elif kind == "ipip":
                    nl.add_ipip(name, remote="192.0.2.1", local="192.0.2.2")
                elif kind == "dummy":
                    nl.add_dummy(name)
                elif kind == "bridge":
                    nl.add_bridge(name)
                elif kind == "veth":
                    nl.add_veth(name, name + "p")
                else:
                    _kinds[kind] = False
                    continue
                _kinds[kind] = True
            except OSError:
                _kinds[kind] = False


def sctp_supported() -> bool:
    global _sctp
    if _sctp is None:
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
            s.close()
            _sctp = True
        except OSError:
            _sctp = False
    return _sctp


def check_link_kinds(kinds: Iterable[str], what: str) -> None:
    """Raise when the kernel cannot create one of ``kinds`` (needed by ``what``)."""
    wanted = sorted(set(kinds))
    _probe_kinds(wanted)
    missing = [k for k in wanted if not _kinds.get(k)]
    if missing:
        parts = ", ".join(f"{k} ({KERNEL_OPTION.get(k, 'kernel support')})" for k in missing)
        raise PreflightError(
            f"{what} needs link type(s) this kernel cannot create: {parts}; "
            f"load the module (modprobe) or choose another plugin mode"
        )
