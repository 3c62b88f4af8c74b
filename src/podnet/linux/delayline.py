"""A userspace delay line: ``--delay``, ``--jitter`` and ``--corrupt`` on a kernel without
sch_netem (see :mod:`podnet.sim.faults` for where it sits and why).

``python -m podnet.linux.delayline --dev eth0 --tap pnd-f1 --delay 100 [--jitter 20]
[--corrupt 1] --mark N [--netns NAME]``, started by ``podnet fault add`` inside the faulted
device's namespace (``ip netns exec``), in a session of its own:

* creates TAP ``--tap`` (no IPv6, so the kernel sends nothing of its own into it) and brings it
  up; the fault's nft ``netdev egress`` chain on ``--dev`` forwards every frame leaving the
  device into it, whole, Ethernet header included (routing and neighbour resolution are done);
* holds each frame ``delay ± jitter`` ms (uniform, as netem without a distribution table),
  flips one random bit of it with probability ``corrupt`` % (netem's corrupt), then sends it
  out of ``--dev`` with an ``AF_PACKET`` socket whose ``SO_MARK`` is ``--mark``, which the nft
  chain lets through. Frames leave in the order of their send time: without jitter that is the
  order they came in; with jitter a later frame may overtake an earlier one, as under netem.
  With ``--priority N`` its frames also carry ``skb->priority`` N (``SO_PRIORITY``): a link's
  htb class, when the link has a ``--rate`` too;
* writes ``ready`` on its stdout once the TAP is up (the caller waits for it before loading the
  nft chain that needs the TAP), then closes stdout; problems go to stderr (a log file).

Why it never outlives what it serves: a process in a namespace keeps the namespace alive. It
exits when its device goes (a pod re-wired or deleted), when the namespace is no longer mounted
at ``/run/netns/NAME`` (``podnet down``, which also kills every process of the cluster's
namespaces) — both checked every :data:`WATCH_EVERY` — or at once on SIGTERM (``fault rm``) or
SIGINT: a signal wakes its wait (:func:`signal.set_wakeup_fd` on a pipe in its ``select``), so
it is gone within milliseconds. The frames it still holds then are dropped, never sent early,
as netem's queue goes with its qdisc (``fault rm`` removes the nft chain first, so nothing new
comes in; the log's last line counts them). The TAP is not persistent: it goes with the process.

Only ARP-free IP frames are corrupted: the bit is flipped from the IP header on, so the frame
still reaches the peer and the receiver's checksums (IP header, TCP/UDP/ICMP) throw it away, as
netem's corruption is meant to be caught. ARP carries no checksum; a flipped bit there would
poison a neighbour table, which a real wire's FCS prevents, so ARP is delayed, never corrupted.

The queue and the per-frame decisions (:class:`DelayQueue`, :func:`hold_ms`, :func:`corrupt`)
are pure; :func:`run` is the I/O shell. A few ten thousand frames per second is its ceiling.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence

ETH_HEADER = 14
_IP_TYPES = (0x0800, 0x86DD)
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
#: How often the loop checks that its device and namespace still exist (seconds).
WATCH_EVERY = 1.0
#: Frames read per wake-up at most, so that sending is never starved.
READ_BATCH = 256


# ------------------------------------------------------------------------------- pure


def hold_ms(delay_ms: float, jitter_ms: float, rng: random.Random) -> float:
    """How long one frame is held: ``delay ± jitter``, uniform, never negative."""
    if jitter_ms <= 0:
        return max(0.0, delay_ms)
    return max(0.0, delay_ms + rng.uniform(-jitter_ms, jitter_ms))


def corrupt(frame: bytes, pct: float, rng: random.Random) -> bytes:
    """``frame`` with one random bit flipped, with probability ``pct`` %, if it is an IP frame
    (from its IP header on; see the module doc); else ``frame`` itself."""
    if pct <= 0 or len(frame) <= ETH_HEADER or rng.random() * 100 >= pct:
        return frame
    if struct.unpack_from("!H", frame, 12)[0] not in _IP_TYPES:
        return frame
    at = rng.randrange(ETH_HEADER, len(frame))
    out = bytearray(frame)
    out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


class DelayQueue:
    """Frames waiting for their send time: a heap by (time, arrival), so equal holds keep the
    arrival order and jitter may reorder, as netem's tfifo does."""

    def __init__(self, delay_ms: float, jitter_ms: float = 0.0, corrupt_pct: float = 0.0,
                 rng: random.Random | None = None) -> None:
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.corrupt_pct = corrupt_pct
        self.rng = rng or random.Random()
        self._heap: list[tuple[float, int, bytes]] = []
        self._seq = 0
        self.corrupted = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, now: float, frame: bytes) -> float:
        """Queue a frame that arrived at ``now`` (seconds); its send time."""
        out = corrupt(frame, self.corrupt_pct, self.rng)
        if out is not frame:
            self.corrupted += 1
        at = now + hold_ms(self.delay_ms, self.jitter_ms, self.rng) / 1000
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, out))
        return at

    def due(self, now: float) -> list[bytes]:
        """The frames whose time has come, in send order."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def next_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None


# ------------------------------------------------------------------------------- I/O


def open_tap(name: str) -> int:
    """Create TAP ``name`` (not persistent: it goes with this process), IPv6 off, up."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    try:  # no link-local address, router solicitations or MLD of the kernel's own
        with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "w", encoding="ascii") as f:
            f.write("1")
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH", name.encode(), 0)
        flags = struct.unpack_from("H", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req), 16)[0]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH", name.encode(), flags | IFF_UP))
    return fd


def _ns_inode(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def run(dev: str, tap: str, delay_ms: float, jitter_ms: float, corrupt_pct: float, mark: int,
        netns_name: str | None = None, priority: int = 0) -> int:
    """The delay line's loop (see the module doc); the exit status."""
    me = _ns_inode("/proc/self/ns/net")
    if me is not None and me == _ns_inode("/proc/1/ns/net"):
        print("delayline: refusing to run in the host's network namespace", file=sys.stderr)
        return 2
    ifindex = socket.if_nametoindex(dev)
    out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    out.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    if priority:  # a link's htb class (--rate next to the delay line)
        out.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, priority)
    out.bind((dev, 0))
    fd = open_tap(tap)
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # A signal must wake the select at once: Python retries a select a signal interrupted
    # (PEP 475) after running the handler, so a flag alone waits for the timeout. The C-level
    # handler writes the signal's number into this pipe, which the select watches too; a signal
    # that comes between the flag's test and the select leaves its byte there, so none is lost.
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    queue = DelayQueue(delay_ms, jitter_ms, corrupt_pct)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sent = dropped = 0
    next_watch = time.monotonic() + WATCH_EVERY
    while not stopping:
        now = time.monotonic()
        if now >= next_watch:
            next_watch = now + WATCH_EVERY
            try:
                gone = socket.if_nametoindex(dev) != ifindex
            except OSError:
                gone = True
            if netns_name and _ns_inode(f"/run/netns/{netns_name}") != me:
                gone = True
            if gone:
                print(f"delayline {tap}: {dev} or its namespace is gone: exiting",
                      file=sys.stderr)
                break
        at = queue.next_at()
        wait = min(next_watch - now, max(0.0, at - now) if at is not None else WATCH_EVERY)
        try:
            ready, _, _ = select.select([fd, wake_r], [], [], max(0.0, wait))
        except InterruptedError:
            continue
        if wake_r in ready:
            with contextlib.suppress(OSError):
                while os.read(wake_r, 64):
                    pass
        if stopping:
            break
        if fd in ready:
            for _ in range(READ_BATCH):
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError as e:
                    print(f"delayline {tap}: reading the TAP: {e}", file=sys.stderr)
                    stopping = True
                    break
                queue.push(time.monotonic(), frame)
        for frame in queue.due(time.monotonic()):
            try:
                out.send(frame)
                sent += 1
            except OSError as e:
                if e.errno in (errno.ENXIO, errno.ENODEV, errno.ENETDOWN):
                    stopping = True
                    break
                dropped += 1  # ENOBUFS, EMSGSIZE…: lost, as on a full queue
    print(f"delayline {tap}: sent {sent} frames ({queue.corrupted} corrupted), dropped "
          f"{dropped}, {len(queue)} still held on exit (dropped)", file=sys.stderr)
    signal.set_wakeup_fd(-1)
    os.close(wake_w)
    os.close(wake_r)
    os.close(fd)
    out.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m podnet.linux.delayline",
                                 description="podnet's userspace delay line (podnet fault)")
    ap.add_argument("--dev", required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--corrupt", type=float, default=0.0)
    ap.add_argument("--mark", type=int, required=True)
    ap.add_argument("--netns", default=None)
    ap.add_argument("--priority", type=int, default=0)
    ns = ap.parse_args(argv)
    return run(ns.dev, ns.tap, ns.delay, ns.jitter, ns.corrupt, ns.mark, ns.netns, ns.priority)


if __name__ == "__main__":
    sys.exit(main())
