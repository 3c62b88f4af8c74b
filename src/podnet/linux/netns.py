"""Network namespaces: create, enter, list, remove — in-process, the way ``ip netns`` does it.

A named namespace is a bind mount of a ``/proc/…/ns/net`` file on ``/run/netns/<name>``
(iproute2's convention, so ``ip netns``, ``ip -n`` and ``ip netns exec`` see podnet's namespaces).
Creating one costs a few syscalls: ``unshare(CLONE_NEWNET)`` on the calling *thread*, the bind
mount of ``/proc/thread-self/ns/net``, and ``setns`` back. Namespaces are per thread, so every
function here changes only the calling thread, and always returns it to where it was: the
thread's network namespace is the same after any call as before, even when the call fails.

A socket (netlink or IP) keeps the namespace it was created in for its whole life: a netlink
socket opened inside a node's namespace configures that node; a listening socket opened inside a
pod's namespace serves that pod from any thread of the process.

Safety: :func:`enter` refuses nothing by itself, but :func:`assert_not_host` is called by every
writer (netlink, sysctl, nftables) so that nothing is ever configured in the namespace the
process started in — the host's.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import socket
import threading
from collections.abc import Iterator

NETNS_RUN_DIR = "/run/netns"
ETC_NETNS = "/etc/netns"

CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc: ctypes.CDLL | None = None
_run_dir_ready = False
_lock = threading.Lock()


class NetnsError(OSError):
    """A namespace operation failed; the message names the namespace and the operation."""


def libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def _fail(what: str, name: str) -> NetnsError:
    err = ctypes.get_errno()
    return NetnsError(err, f"{what} {name}: {os.strerror(err)}")


def _self_ns_path() -> str:
    return "/proc/thread-self/ns/net"


def _setns(fd: int, name: str) -> None:
    if libc().setns(fd, CLONE_NEWNET) != 0:
        raise _fail("cannot enter network namespace", name)


#: The inode of the namespace the process started in: the host's (read at import, on the
#: importing thread, which has not entered anything yet).
HOST_NS: tuple[int, int] = (0, 0)


def _ns_id(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


try:
    HOST_NS = _ns_id("/proc/self/ns/net")
except OSError:  # pragma: no cover - not Linux
    pass


def current_ns_id() -> tuple[int, int]:
    """The (device, inode) of the calling thread's network namespace."""
    return _ns_id(_self_ns_path())


def in_host_ns() -> bool:
    return current_ns_id() == HOST_NS


def assert_not_host(what: str) -> None:
    """Raise when the calling thread is in the host's namespace: podnet never configures it."""
    if in_host_ns():
        raise NetnsError(errno.EPERM, f"refusing to {what} in the host's network namespace")


def path(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise NetnsError(errno.EINVAL, f"invalid network namespace name {name!r}")
    return os.path.join(NETNS_RUN_DIR, name)


def ns_id(name: str) -> tuple[int, int] | None:
    """The (device, inode) of namespace ``name``, None if it does not exist (or is not mounted)."""
    try:
        st = os.stat(path(name))
    except OSError:
        return None
    if st.st_ino == 0:
        return None
    return (st.st_dev, st.st_ino)


def exists(name: str) -> bool:
    return os.path.exists(path(name))


def list_names() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def _ensure_run_dir() -> None:
    """Make /run/netns a shared mount point, as ``ip netns add`` does, so that the namespaces
    mounted there are seen from every mount namespace (``ip netns exec`` makes a new one)."""
    global _run_dir_ready
    if _run_dir_ready:
        return
    os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
    c = libc()
    target = NETNS_RUN_DIR.encode()
    if c.mount(b"none", target, b"none", MS_SHARED | MS_REC, None) != 0:
        if ctypes.get_errno() != errno.EINVAL:
            raise _fail("cannot share", NETNS_RUN_DIR)
        if c.mount(target, target, b"none", MS_BIND | MS_REC, None) != 0:
            raise _fail("cannot bind-mount", NETNS_RUN_DIR)
        if c.mount(b"none", target, b"none", MS_SHARED | MS_REC, None) != 0:
            raise _fail("cannot share", NETNS_RUN_DIR)
    _run_dir_ready = True


def create(name: str) -> None:
    """Create the named namespace; EEXIST when it exists. The calling thread stays where it is."""
    p = path(name)
    with _lock:
        _ensure_run_dir()
    fd = os.open(p, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    home = os.open(_self_ns_path(), os.O_RDONLY)
    try:
        if libc().unshare(CLONE_NEWNET) != 0:
            err = _fail("cannot create network namespace", name)
            os.unlink(p)
            raise err
        try:
            if libc().mount(_self_ns_path().encode(), p.encode(), b"none", MS_BIND, None) != 0:
                err = _fail("cannot mount network namespace", name)
                raise err
        finally:
            _setns(home, "(back to the previous namespace)")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(p)
        raise
    finally:
        os.close(home)


def remove(name: str) -> bool:
    """Unmount and delete the named namespace (its links go with it once no process or socket
    holds it). False when there was none."""
    p = path(name)
    if not os.path.lexists(p):
        return False
    libc().umount2(p.encode(), MNT_DETACH)
    try:
        os.unlink(p)
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def enter(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside namespace ``name``; always come back."""
    fd = os.open(path(name), os.O_RDONLY)
    home = os.open(_self_ns_path(), os.O_RDONLY)
    try:
        _setns(fd, name)
        try:
            yield
        finally:
            _setns(home, "(back to the previous namespace)")
    finally:
        os.close(fd)
        os.close(home)


def open_fd(name: str) -> int:
    """An fd of namespace ``name`` (for IFLA_NET_NS_FD); the caller closes it."""
    return os.open(path(name), os.O_RDONLY)


def socket_in(
    name: str, family: int = socket.AF_INET, type_: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    """A socket living in namespace ``name`` (it stays there whichever thread uses it)."""
    with enter(name):
        return socket.socket(family, type_, proto)


def pids_in(ids: set[tuple[int, int]]) -> list[int]:
    """The processes whose network namespace is one of ``ids`` (this process excluded)."""
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in ids:
            out.append(int(entry))
    return out


def write_sysctl(key: str, value: str | int) -> None:
    """Write a ``net.*`` sysctl of the calling thread's namespace (never the host's)."""
    assert_not_host(f"set {key}")
    if not key.startswith("net."):
        raise NetnsError(errno.EINVAL, f"only net.* sysctls are per namespace, not {key}")
    # Interface names may hold dots (flannel.1): net.ipv4.conf.flannel/1.x is how sysctl(8)
    # spells them; accept both spellings.
    with open(os.path.join("/proc/sys", _sysctl_path(key)), "w", encoding="ascii") as f:
        f.write(str(value))


def _sysctl_path(key: str) -> str:
    """``net.ipv4.conf.flannel.1.rp_filter`` → ``net/ipv4/conf/flannel.1/rp_filter``: the part
    between ``conf``/``neigh`` and the last key is an interface name, dots included."""
    parts = key.split(".")
    if len(parts) > 4 and parts[2] in ("conf", "neigh"):
        dev = ".".join(parts[3:-1]).replace("/", ".")
        return "/".join([*parts[:3], dev, parts[-1]])
    return "/".join(p.replace("/", ".") for p in parts)


def read_sysctl(key: str) -> str:
    with open(os.path.join("/proc/sys", _sysctl_path(key)), encoding="ascii") as f:
        return f.read().strip()
