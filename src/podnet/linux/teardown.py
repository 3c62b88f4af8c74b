"""Removing exactly what podnet made for a cluster, and nothing else.

What a cluster leaves on the machine, all of it found by the cluster's prefix ``pn-<cluster>-``:

* its network namespaces (``/run/netns/pn-<cluster>-…``), with every link, address, route and
  nftables table inside them (they die with the namespace);
* their ``/etc/netns/pn-<cluster>-…`` folders (resolv.conf, hosts);
* the processes living in those namespaces (pod commands, servers a user started with
  ``podnet exec``) — a namespace is only freed once no process holds it.

The daemon's own pid file and state are the daemon's business (:mod:`podnet.linux.daemon`).
:func:`teardown` is idempotent and is what both ``podnet down`` and the next ``podnet up`` after a
crash call: a second call finds nothing and says so.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from podnet.linux import names, netns, processes

Progress = Callable[[str], None]


@dataclass(slots=True)
class TeardownReport:
    namespaces: list[str] = field(default_factory=list)
    etc_dirs: list[str] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.namespaces or self.etc_dirs or self.processes)


def _marker_of(ns: str) -> str | None:
    """The ``lo`` alias of ``ns`` (podnet's ownership marker), None when unreadable."""
    from podnet.linux.netlink import Netlink

    try:
        with Netlink(ns) as nl:
            return nl.link_alias("lo")
    except OSError:
        return None


def is_owned(cluster: str, ns: str) -> bool:
    """Whether namespace ``ns`` is one ``cluster`` made (by name, and by marker if ambiguous)."""
    if names.role_of(cluster, ns) is None:
        return False
    if names.needs_marker_check(cluster, ns):
        mark = _marker_of(ns)
        if mark is not None and mark.startswith(names.MARKER):
            return mark == names.marker(cluster)
    return True


def owned_namespaces(cluster: str) -> list[str]:
    return [n for n in netns.list_names() if is_owned(cluster, n)]


def owned_etc_dirs(cluster: str) -> list[str]:
    try:
        entries = os.listdir(netns.ETC_NETNS)
    except FileNotFoundError:
        return []
    return sorted(e for e in entries if names.role_of(cluster, e) is not None
                  and os.path.isdir(os.path.join(netns.ETC_NETNS, e)))


def kill_processes(pids: list[int], grace: float = 1.0) -> list[int]:
    """SIGTERM, then SIGKILL whatever is still there after ``grace`` seconds."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if processes.alive(p)]
        if alive:
            time.sleep(0.02)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def teardown(cluster: str, progress: Progress | None = None) -> TeardownReport:
    """Remove every namespace, ``/etc/netns`` folder and process of ``cluster``."""
    say = progress or (lambda _m: None)
    start = time.monotonic()
    report = TeardownReport()
    spaces = owned_namespaces(cluster)
    ids = {i for i in (netns.ns_id(n) for n in spaces) if i is not None}
    if ids:
        pids = netns.pids_in(ids)
        if pids:
            say(f"stopping {len(pids)} process(es) in the cluster's namespaces")
            report.processes = kill_processes(pids)
    for ns in spaces:
        if netns.remove(ns):
            report.namespaces.append(ns)
    if spaces:
        say(f"removed {len(report.namespaces)} network namespace(s)")
    from podnet.linux.topology import remove_etc

    for d in owned_etc_dirs(cluster):
        if remove_etc(d):
            report.etc_dirs.append(d)
    report.seconds = time.monotonic() - start
    return report


def leftovers(cluster: str) -> list[str]:
    """What of ``cluster`` is still on the machine (namespaces and /etc/netns folders)."""
    return sorted(set(owned_namespaces(cluster)) | {
        f"{netns.ETC_NETNS}/{d}" for d in owned_etc_dirs(cluster)
    })
