"""Batched UDP for the DNS server's hot path: ``recvmmsg(2)`` and ``sendmmsg(2)`` through ctypes.

Why: a cached answer costs the server almost nothing in Python (one dict lookup), so what is
left is the kernel — two system calls per query with ``recvfrom``/``sendto`` — and the event
loop's per-datagram machinery (an address tuple, a callback, a transport call). Under load,
reading every datagram that is waiting with one ``recvmmsg`` and writing all their replies with
one ``sendmmsg`` spreads those costs over the batch; the client, woken once for many replies,
gets cheaper too. With nothing waiting the batch is one datagram and the latency is that of a
plain ``recvfrom``/``sendto``.

:class:`Batch` owns fixed buffers, allocated once per socket and reused for every batch:

* ``slots`` receive buffers of :data:`SLOT` bytes (a whole UDP datagram always fits, so nothing
  is ever truncated), a ``sockaddr`` area per slot, and the ``mmsghdr`` array pointing at them;
* a send ``mmsghdr`` array whose slot ``j`` has two iovecs: the first 2 bytes of a receive
  buffer (the client's own ID, never copied) and the cached reply after its ID (a ``bytes``
  object the caller keeps alive in :attr:`Batch.keep` until the batch is sent).

The server reads and writes the headers through flat ``memoryview``\\ s (:attr:`Batch.rwords`,
:attr:`Batch.iov`, :attr:`Batch.sptrs`) at the offsets given here, which is much cheaper than
ctypes attribute access per datagram. Send slot ``j`` is wired to receive slot ``j`` (its
address, its ID); the address lengths never change (a socket of one family), so serving a hit
is three stores: the reply object kept alive, its address and its length. Nothing here decides
anything about DNS.

:func:`available` says whether the platform has the calls (Linux with glibc or musl); the
server falls back to asyncio's datagram transport where it does not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import socket
import struct
import sys
from typing import Any

#: bytes per receive slot: the largest UDP payload (65,507 over IPv4, 65,527 over IPv6) fits
SLOT = 65536
#: bytes per ``sockaddr`` slot (``sockaddr_in6`` is 28)
NAME = 32
MSG_DONTWAIT = 0x40


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


_WORD = 4
_PTR = ctypes.sizeof(ctypes.c_void_p)
#: stride of one mmsghdr in 32-bit words and pointer-sized words
MSG_WORDS = ctypes.sizeof(_Mmsghdr) // _WORD
MSG_PTRS = ctypes.sizeof(_Mmsghdr) // _PTR
#: word offsets inside one mmsghdr
LEN_WORD = _Mmsghdr.len.offset // _WORD
NAME_PTR = _Msghdr.name.offset // _PTR

_libc: Any = None
_funcs: tuple[Any, Any] | None = None


def _load() -> tuple[Any, Any] | None:
    global _libc, _funcs
    if _funcs is not None or _libc is False:
        return _funcs
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_void_p) != ctypes.sizeof(ctypes.c_size_t):
        _libc = False
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        recv = libc.recvmmsg
        send = libc.sendmmsg
    except (OSError, AttributeError):
        _libc = False
        return None
    recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
    recv.restype = ctypes.c_int
    send.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    send.restype = ctypes.c_int
    _libc = libc
    _funcs = (recv, send)
    return _funcs


def available() -> bool:
    """Whether ``recvmmsg``/``sendmmsg`` can be called on this platform."""
    return _load() is not None


def address_of(data: bytes) -> int:
    """Where the contents of ``data`` live (valid while ``data`` is alive; bytes never move)."""
    value = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    return int(value or 0)


class Batch:
    """Receive and send buffers for one non-blocking UDP socket (see the module doc)."""

    def __init__(self, sock: socket.socket, slots: int = 64) -> None:
        funcs = _load()
        if funcs is None:
            raise OSError(errno.ENOSYS, "recvmmsg/sendmmsg are not available")
        self._recv, self._send = funcs
        self.sock = sock
        self.fd = sock.fileno()
        self.family = sock.family
        self.slots = slots
        self._rbuf = (ctypes.c_char * (slots * SLOT))()
        self._names = (ctypes.c_char * (slots * NAME))()
        self._riov = (_Iovec * slots)()
        self._rmsg = (_Mmsghdr * slots)()
        self._siov = (_Iovec * (2 * slots))()
        self._smsg = (_Mmsghdr * slots)()
        #: the address length of every sender (the socket's family decides it)
        namelen = 28 if sock.family == socket.AF_INET6 else 16
        self.rbase = ctypes.addressof(self._rbuf)
        self.nbase = ctypes.addressof(self._names)
        for i in range(slots):
            self._riov[i].base = self.rbase + i * SLOT
            self._riov[i].len = SLOT
            h = self._rmsg[i].hdr
            h.name = self.nbase + i * NAME
            h.namelen = NAME
            h.iov = ctypes.addressof(self._riov[i])
            h.iovlen = 1
            s = self._smsg[i].hdr
            s.name = self.nbase + i * NAME
            s.namelen = namelen
            s.iov = ctypes.addressof(self._siov[2 * i])
            s.iovlen = 2
            self._siov[2 * i].base = self.rbase + i * SLOT
            self._siov[2 * i].len = 2
        self._raddr = ctypes.addressof(self._rmsg)
        self._saddr = ctypes.addressof(self._smsg)
        #: the received packets (slot i at ``i * SLOT``)
        self.data = memoryview(self._rbuf).cast("B")
        #: receive headers as 32-bit words: length at ``i * MSG_WORDS + LEN_WORD``
        self.rwords = memoryview(self._rmsg).cast("B").cast("I")
        #: send headers as pointers (name)
        self.sptrs = memoryview(self._smsg).cast("B").cast("P")
        #: send iovecs as pointer-sized words: slot j's ID at ``4j``/``4j+1``, reply at ``4j+2``/``4j+3``
        self.iov = memoryview(self._siov).cast("B").cast("P")
        #: the reply objects of the batch being assembled (kept alive until sent; a slot is
        #: only overwritten by a later batch)
        self.keep: list[bytes | None] = [None] * slots

    def receive(self) -> int:
        """Read the datagrams waiting into the slots: how many (0 when none is waiting, or on
        an error, which UDP has nothing to do about). The senders' address lengths the kernel
        writes back need no resetting: a socket of one family always gets the same length."""
        while True:
            n: int = self._recv(self.fd, self._raddr, self.slots, MSG_DONTWAIT, None)
            if n >= 0:
                return n
            if ctypes.get_errno() != errno.EINTR:
                return 0

    def send(self, count: int) -> int:
        """Send the first ``count`` prepared replies; how many went (the rest are dropped, as a
        full socket buffer drops datagrams)."""
        sent = 0
        while sent < count:
            n: int = self._send(self.fd, self._saddr + sent * ctypes.sizeof(_Mmsghdr),
                                count - sent, MSG_DONTWAIT)
            if n < 0:
                err = ctypes.get_errno()
                if err == errno.EINTR:
                    continue
                # EAGAIN or an error about one destination: skip that datagram
                sent += 1
                continue
            if n == 0:
                break
            sent += n
        return sent

    def point(self, j: int, i: int) -> None:
        """Make send slot ``j`` answer the datagram in receive slot ``i`` (address and ID)."""
        self.sptrs[j * MSG_PTRS + NAME_PTR] = self.nbase + i * NAME
        self.iov[4 * j] = self.rbase + i * SLOT

    def packet(self, i: int) -> bytes:
        """The datagram in slot ``i``."""
        n = self.rwords[i * MSG_WORDS + LEN_WORD]
        off = i * SLOT
        return bytes(self.data[off:off + n])

    def address(self, i: int) -> tuple[Any, ...]:
        """The sender of slot ``i`` as Python's socket module writes it: ``(host, port)`` or
        ``(host, port, flowinfo, scope_id)``."""
        off = i * NAME
        raw = ctypes.string_at(self.nbase + off, NAME)
        family = int.from_bytes(raw[0:2], sys.byteorder)
        port = struct.unpack_from("!H", raw, 2)[0]
        if family == socket.AF_INET6:
            flow = struct.unpack_from("!I", raw, 4)[0]
            host = socket.inet_ntop(socket.AF_INET6, raw[8:24])
            scope = int.from_bytes(raw[24:28], sys.byteorder)
            return (host, port, flow, scope)
        return (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
