"""``podnet fault``, for real: the nft tables and qdiscs of :mod:`podnet.sim.faults`, applied in
the cluster's namespaces, and the record that lets ``fault list``/``rm`` and ``trace`` find them.

The record
----------
``$PODNET_HOME/<cluster>/faults.json`` lists the faults of the *running* cluster: each fault as
:meth:`podnet.sim.faults.Fault.to_dict` has it, plus ``interfaces`` (``NETNS:DEV`` of the faulted
devices) and ``applied`` (every nft table and root qdisc it made, with its namespace), so that
removing a fault removes exactly what it made, whatever the cluster became since. The file also
names the daemon it belongs to (pid and start time from ``runtime.json``): faults die with the
namespaces they live in, so a record left by an earlier run (a ``kill -9`` of the daemon) is
stale and ignored. ``podnet down`` deletes it with the other runtime files.

Applying
--------
nft tables go in with one ``nft -f`` transaction per namespace and table (:mod:`podnet.linux.nft`,
which enters the namespace and refuses the host's); tc runs as ``tc`` inside the namespace the
same way. Everything is applied in order and, on any failure, what was applied is removed again:
a fault is in place whole or not at all. The daemon's live re-syncs replace only its own tables
(``kube-proxy``, ``podnet-masq``, the policy table), so the ``podnet-fault-<id>`` tables stay.
A pod the daemon re-wires (its address or node changed, or it was re-created at once) gets a
new namespace and veth, and the devices its faults were attached to go with the old ones: at the
end of the convergence the daemon calls :func:`reapply`, which removes what is left of each such
fault (a link's tables and delay lines on a node), applies it again to the pod as it is now (its
target resolved anew: new addresses, node, host veth) and rewrites its record (``reapplied``),
so ``fault list`` shows it ``applied`` again. A fault on a pod that left the network is removed
with its record (the daemon's log says so); one that cannot be applied again (a link whose pod
moved onto the other end's node refuses a delay) keeps its record with ``reapply_error`` and is
listed ``missing``.

Delay lines
-----------
Without sch_netem, ``--delay/--jitter/--corrupt`` are userspace delay lines
(:mod:`podnet.linux.delayline`; one for a node or pod, one per device a link leaves a node by):
each a process started here, inside the faulted device's namespace
(``ip netns exec``, a session of its own, detached from the command), before the nft chain that
forwards into its TAP is loaded (it says ``ready`` once the TAP is up). Their pids go in the
record (``applied["delayline"]``); ``fault rm`` removes the nft chain first, then stops it
(SIGTERM wakes it at once: it drops what it still holds, as netem's queue goes with its
qdisc, and exits; one this process started is reaped). It lives in one of the cluster's namespaces, so
``podnet down`` and the daemon's teardown kill it with every other process there
(:func:`podnet.linux.teardown.teardown`), and it exits by itself when its device or namespace
goes: it never keeps a namespace alive. Its stderr is ``logs/faults/<id>.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from podnet.cli import store
from podnet.linux import names, netns, nft, processes
from podnet.plugins.plan import NetworkPlan
from podnet.sim.faults import (
    NETEM_MISSING,
    DelayLineOp,
    Fault,
    FaultError,
    Place,
    Program,
    compile_fault,
    conflict,
    Redo,
    place_of,
    redo_after_rewire,
)

FAULTS_FILE = "faults.json"
FORMAT = "podnet.io/faults-v1"

_netem: dict[str, bool] = {}


class FaultIOError(RuntimeError):
    """Applying or removing a fault failed; the message is for the user."""


# ------------------------------------------------------------------------------- names


def faults_path(cluster: str) -> Path:
    return store.cluster_dir(cluster) / FAULTS_FILE


def netns_of(cluster: str, place: Place) -> str:
    """The namespace a :class:`Place` names in ``cluster``."""
    if place.role == "underlay":
        return names.underlay_ns(cluster)
    if place.role == "node":
        return names.node_ns(cluster, place.name)
    ns, _, pod = place.name.partition("/")
    return names.pod_ns(cluster, ns, pod)


def program_of(fault: Fault, netem: bool = True) -> Program:
    return compile_fault(fault, names.underlay_port, netem)


def program_of_record(r: dict[str, Any]) -> Program:
    """The program an existing record was applied with (a delay line where it has one)."""
    return program_of(Fault.from_dict(r), not (r.get("applied") or {}).get("delayline"))


def netem_for(cluster: str, fault: Fault) -> bool:
    """Whether ``fault`` gets netem: True when it needs none (nothing to decide), else whether
    the kernel has sch_netem (asked in the namespace of its first end)."""
    if not fault.impairment.needs_netem:
        return True
    return netem_supported(netns_of(cluster, place_of(fault.target.ends[0])))


def interfaces(cluster: str, program: Program) -> list[str]:
    return [f"{netns_of(cluster, p)}:{dev}" for p, dev in program.interfaces]


# ------------------------------------------------------------------------------- record


def _daemon_id(cluster: str) -> dict[str, Any] | None:
    rt = processes.read_runtime(cluster)
    if not rt or processes.running_daemon(cluster) is None:
        return None
    return {"pid": rt.get("pid"), "started": rt.get("started")}


def read_records(cluster: str) -> list[dict[str, Any]]:
    """The fault records of the running cluster (none when it is not up, or the file is an
    earlier run's)."""
    try:
        data = json.loads(faults_path(cluster).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return []
    if data.get("daemon") != _daemon_id(cluster):
        return []
    return [r for r in data.get("faults") or [] if isinstance(r, dict) and "id" in r]


def write_records(cluster: str, records: Sequence[dict[str, Any]]) -> None:
    """Store ``records`` (atomically); no records, no file."""
    path = faults_path(cluster)
    if not records:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    doc = {"format": FORMAT, "cluster": cluster, "daemon": _daemon_id(cluster),
           "faults": list(records)}
    store.write_atomic(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def load_faults(cluster: str) -> list[Fault]:
    """The faults in place in ``cluster`` (for ``trace``); unreadable records are skipped."""
    out = []
    for r in read_records(cluster):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            out.append(Fault.from_dict(r))
    return out


def record(cluster: str, fault: Fault, program: Program,
           applied: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    doc = fault.to_dict()
    doc["interfaces"] = interfaces(cluster, program)
    doc["direction"] = fault.direction
    doc["applied"] = applied
    return doc


# ------------------------------------------------------------------------------- tc


def tc_path() -> str:
    path = shutil.which("tc")
    if path is None:
        raise FaultIOError("error: the tc command (iproute2) is missing: apt-get install iproute2")
    return path


def tc(ns: str, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """``tc ARGS`` inside namespace ``ns`` (never the host's)."""
    exe = tc_path()
    with netns.enter(ns):
        netns.assert_not_host("run tc")
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30,
                              check=False)
    if check and proc.returncode != 0:
        raise FaultIOError(f"error: tc {' '.join(args)} in {ns} failed: "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def netem_supported(ns: str) -> bool:
    """Whether the kernel has sch_netem: a netem qdisc tried on ``lo`` of ``ns`` (one of the
    cluster's namespaces) and removed at once. Asked once per process."""
    if "netem" not in _netem:
        tc_path()
        if not netns.exists(ns):
            raise FaultIOError(f"error: no network namespace {ns}: is the cluster up?")
        got = tc(ns, ["qdisc", "add", "dev", "lo", "root", "handle", "ffff:", "netem",
                      "delay", "0ms"], check=False)
        ok = got.returncode == 0
        if ok:
            tc(ns, ["qdisc", "del", "dev", "lo", "root"], check=False)
        elif "unknown" not in got.stderr.lower() and "not found" not in got.stderr.lower():
            raise FaultIOError(f"error: cannot tell whether the kernel has sch_netem: tc in {ns}: "
                               f"{got.stderr.strip()}")
        _netem["netem"] = ok
    return _netem["netem"]


# ------------------------------------------------------------------------------- apply


# ------------------------------------------------------------------------------- delay lines

#: How long a delay line may take to say it is ready.
READY_TIMEOUT = 10.0
DELAYLINE_MODULE = "podnet.linux.delayline"


def fault_log_path(cluster: str, fault_id: str) -> Path:
    return processes.log_dir(cluster) / "faults" / f"{fault_id}.log"


def start_delayline(cluster: str, fault_id: str, op: DelayLineOp) -> dict[str, Any]:
    """Start the delay line of ``op`` in its namespace and wait until its TAP is up; its record
    entry. The process is detached (own session, stdin closed, stderr to the fault's log)."""
    ns = netns_of(cluster, op.place)
    ip = shutil.which("ip")
    if ip is None:
        raise FaultIOError("error: the ip command (iproute2) is missing: apt-get install iproute2")
    log = fault_log_path(cluster, fault_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab", buffering=0) as err:
        proc = subprocess.Popen(
            [ip, "netns", "exec", ns, sys.executable, "-m", DELAYLINE_MODULE, *op.argv(),
             "--netns", ns],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            start_new_session=True, close_fds=True)
    entry = {"netns": ns, "pid": proc.pid, "tap": op.tap, "dev": op.dev}
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
    line = proc.stdout.readline().decode("utf-8", "replace").strip() if ready else ""
    proc.stdout.close()
    if line != "ready":
        _stop_pids([(proc.pid, op.tap)], 1.0)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        tail = ""
        with contextlib.suppress(OSError):
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1]
        raise FaultIOError(f"error: the delay line of fault {fault_id} did not start in {ns}"
                           f"{': ' + tail if tail else ''} (log: {log})")
    _STARTED[proc.pid] = proc
    return entry


#: Delay lines this process started and has not seen end: a long-lived process (the daemon,
#: which re-applies faults) must collect them, including those another process stopped
#: (``podnet fault rm``), or each stays a zombie until its next subprocess call.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def reap_started() -> None:
    """Collect the exit status of every delay line this process started that has ended."""
    for pid, proc in list(_STARTED.items()):
        if proc.poll() is not None:
            del _STARTED[pid]


def _is_delayline(pid: int, tap: str) -> bool:
    """Whether ``pid`` is the delay line serving ``tap`` (not a recycled pid)."""
    argv = processes.cmdline(pid)
    return DELAYLINE_MODULE in argv and tap in argv and processes.alive(pid)


def _exiting(pid: int) -> bool:
    """Whether ``pid`` is on its way out: alive, but its memory gone already (an empty
    command line), closing its files — a delay line's TAP among them — before it is a zombie."""
    return processes.alive(pid) and not processes.cmdline(pid)


def _running(pid: int, tap: str) -> bool:
    """Whether the delay line ``pid`` (found serving ``tap``) has not exited yet: it runs or is
    exiting. Gone, a zombie, or a pid that now runs something else (recycled): it has."""
    return _is_delayline(pid, tap) or _exiting(pid)


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is a child of this process that has exited (a delay
    line the daemon started when it re-applied a fault), so that it leaves no zombie. One that
    is not our child is not ours to reap (ECHILD: a delay line ``fault add`` started went to
    init, or a subreaper, when that command exited); one still running is left alone
    (WNOHANG)."""
    if pid > 0:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _wait_gone(live: list[tuple[int, str]], until: float) -> list[tuple[int, str]]:
    """Wait until none of ``live`` (delay lines) runs, or ``until`` (monotonic): those still
    running. Each one that has exited is reaped if it is our child."""
    while True:
        still = []
        for pid, tap in live:
            if _running(pid, tap):
                still.append((pid, tap))
            else:
                _reap(pid)
        if not still or time.monotonic() >= until:
            return still
        live = still
        time.sleep(0.005)


def _stop_pids(lines: Sequence[tuple[int, str]], grace: float) -> None:
    """SIGTERM every (pid, TAP) delay line at once, then wait for them together (each exits
    within milliseconds: the signal wakes it), SIGKILL what is left after ``grace`` and wait a
    moment more for that. Waiting ends when a process is really gone (a zombie or reaped),
    not when its command line empties as it starts to exit: by then its TAP is gone too, so
    a delay line started again at once can make one of the same name. Every one that exits,
    and one found dead already but not reaped (its namespace went), is reaped if it is our
    child: none is left a zombie."""
    live, exiting = [], []
    for pid, tap in lines:
        if _is_delayline(pid, tap):
            live.append((pid, tap))
        elif pid > 0 and _exiting(pid):  # on its way out by itself: waited for, not signalled
            exiting.append((pid, tap))
        else:  # gone already, or exited by itself and not reaped yet
            _reap(pid)
    for pid, _tap in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    left = _wait_gone(live + exiting, time.monotonic() + grace)
    for pid, tap in left:
        if _is_delayline(pid, tap):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if left:
        _wait_gone(left, time.monotonic() + 1.0)


def stop_delaylines(entries: Sequence[dict[str, Any]], grace: float = 3.0) -> None:
    """Stop delay lines (SIGTERM: each exits at once, dropping what it still holds; SIGKILL
    after ``grace``), reaping those that are our children."""
    _stop_pids([(int(e.get("pid") or 0), str(e.get("tap") or "")) for e in entries], grace)


def delayline_running(entry: dict[str, Any]) -> bool:
    return _is_delayline(int(entry.get("pid") or 0), str(entry.get("tap") or ""))


# ------------------------------------------------------------------------------- apply


def apply(cluster: str, fault: Fault, program: Program) -> dict[str, list[dict[str, Any]]]:
    """Make ``fault`` real; what it made (for :func:`remove`). All or nothing. Order: qdiscs,
    delay lines (their TAPs must exist), then the nft tables (which forward into the TAPs)."""
    applied: dict[str, list[dict[str, Any]]] = {"nft": [], "tc": []}
    places = [op.place for op in program.nft] + [t.place for t in program.tc] + \
        [d.place for d in program.delaylines]
    for place in places:
        ns = netns_of(cluster, place)
        if not netns.exists(ns):
            raise FaultIOError(f'error: {place.label} of cluster "{cluster}" has no network '
                               f"namespace ({ns}): is the cluster up?")
    netem_tc = [t for t in program.tc if any("netem" in c for c in t.commands)]
    if program.tc:
        tc_path()
        if netem_tc and not netem_supported(netns_of(cluster, netem_tc[0].place)):
            raise FaultIOError(f"error: {NETEM_MISSING}")
    try:
        for t in program.tc:
            ns = netns_of(cluster, t.place)
            applied["tc"].append({"netns": ns, "dev": t.dev})
            for i, args in enumerate(t.commands):
                try:
                    tc(ns, args)
                except FaultIOError:
                    if i == 0:  # the root qdisc was not made: nothing of ours to delete there
                        applied["tc"].pop()
                    raise
        for d in program.delaylines:
            applied.setdefault("delayline", []).append(start_delayline(cluster, fault.id, d))
        for op in program.nft:
            ns = netns_of(cluster, op.place)
            try:
                nft.load(ns, op.text)
            except nft.NftError as e:
                raise FaultIOError(f"error: {e}") from e
            applied["nft"].append({"netns": ns, "family": op.family, "table": op.table})
    except BaseException:
        remove(applied)
        raise
    return applied


def remove(applied: dict[str, Any]) -> list[str]:
    """Remove what a fault made; what could not be removed (a namespace already gone is not a
    problem: what was in it went with it). The nft tables go first, so that nothing is
    forwarded into a delay line's TAP once it stops."""
    problems = []
    for t in applied.get("nft") or []:
        ns = str(t["netns"])
        if not netns.exists(ns):
            continue
        try:
            nft.run(ns, ["delete", "table", str(t["family"]), str(t["table"])])
        except nft.NftError as e:
            if "No such file" not in str(e):
                problems.append(str(e))
    for t in applied.get("tc") or []:
        ns = str(t["netns"])
        if not netns.exists(ns):
            continue
        got = tc(ns, ["qdisc", "del", "dev", str(t["dev"]), "root"], check=False)
        err = got.stderr.strip()
        if got.returncode != 0 and "Cannot find device" not in err and \
                "Cannot delete qdisc with handle of zero" not in err and \
                "No such file" not in err:
            problems.append(f"tc qdisc del dev {t['dev']} root in {ns}: {err}")
    lines = list(applied.get("delayline") or [])
    stop_delaylines(lines)
    for d in lines:
        if delayline_running(d):
            problems.append(f"the delay line of {d.get('tap')} (pid {d.get('pid')}) in "
                            f"{d.get('netns')} would not stop")
    return problems


def state(applied: dict[str, Any]) -> str:
    """``applied`` (everything the fault made is there), ``partial`` or ``missing`` (its
    namespace or device was re-made, e.g. a pod re-wired); ``unknown`` without root."""
    if os.geteuid() != 0:
        return "unknown"
    have = want = 0
    for t in applied.get("nft") or []:
        want += 1
        ns = str(t["netns"])
        if netns.exists(ns):
            with contextlib.suppress(nft.NftError):
                if f"{t['family']} {t['table']}" in nft.list_tables(ns):
                    have += 1
    for t in applied.get("tc") or []:
        want += 1
        ns = str(t["netns"])
        if netns.exists(ns):
            got = tc(ns, ["qdisc", "show", "dev", str(t["dev"]), "root"], check=False)
            if got.returncode == 0 and " 1: root" in got.stdout:
                have += 1
    for d in applied.get("delayline") or []:
        want += 1
        if delayline_running(d):
            have += 1
    if have == want:
        return "applied"
    return "missing" if have == 0 else "partial"


# ------------------------------------------------------------------------------- re-wired pods


def _redo_of(plan: NetworkPlan, r: dict[str, Any], changed: set[str]) -> Redo | None:
    """What record ``r`` needs now (:func:`podnet.sim.faults.redo_after_rewire`); None when
    nothing — an unreadable record is left as it is."""
    try:
        fault = Fault.from_dict(r)
    except (KeyError, TypeError, ValueError):
        return None
    return redo_after_rewire(plan, fault, changed)


def programs_of(records: Sequence[dict[str, Any]]) -> dict[str, Program]:
    """fault id → the program each readable record was applied with (for :func:`conflict`)."""
    out = {}
    for r in records:
        with contextlib.suppress(KeyError, TypeError, ValueError, FaultError):
            out[str(r["id"])] = program_of_record(r)
    return out


def _reason(e: Exception) -> str:
    """An error's message on one line, without its ``error:`` heads (it goes in a warning)."""
    lines = str(e).splitlines() or [type(e).__name__]
    return "; ".join(line.removeprefix("error: ") for line in lines)


def _apply_again(cluster: str, old: dict[str, Any], redo: Redo,
                 others: Mapping[str, Program]) -> tuple[dict[str, Any], str]:
    """Apply ``redo.fault`` to what its ends are now: its new record and the log line. On a
    failure the old record stays, with ``reapply_error`` — what it made is gone, so ``fault
    list`` shows it ``missing`` — for the user to see and ``fault rm``."""
    try:
        program = program_of(redo.fault, netem_for(cluster, redo.fault))
        other = conflict(program, others)
        if other is not None:
            raise FaultIOError(f"fault {other} already has a qdisc or a delay line on a device "
                               "it needs now")
        applied = apply(cluster, redo.fault, program)
    except Exception as e:  # noqa: BLE001 - reported; the other faults' records are still kept
        why = _reason(e)
        return ({**old, "reapply_error": why},
                f"warning: {redo.where}: could not be re-applied ({redo.cause}): {why}; "
                f"fault list shows it missing (podnet fault rm {redo.fault.id})")
    doc = {**record(cluster, redo.fault, program, applied), "reapplied": store.now_rfc3339()}
    return doc, f"{redo.where}: re-applied ({redo.cause}): {', '.join(doc['interfaces'])}"


def reapply(cluster: str, plan: NetworkPlan, pod_keys: Iterable[str]) -> list[str]:
    """After the daemon re-wired (or removed) ``pod_keys`` live, the network now ``plan``: the
    faults on them applied again, for real, and their records rewritten. A re-wired pod has a
    new namespace and veth, so its faults' qdiscs, netdev tables and delay-line steering went
    with the old ones, and a moved pod has new addresses for a link's rules to match. What is
    left of the old application is removed first (a link's tables, qdiscs and delay lines on
    a node; a delay line still running), so that nothing of it acts twice or holds a TAP name.

    A fault with an end that left the network (deleted, finished, now on the host network) is
    removed, record and all: a pod created later under the same name is another pod, and a
    record kept for it would block ``fault add`` on it and come back to life unasked.

    Returns the daemon's log lines (``warning:`` ones included). Runs under the cluster's lock,
    like ``fault add``/``rm``, so that it never races them."""
    changed = set(pod_keys)
    if not changed or not faults_path(cluster).exists():  # the usual case: no lock taken
        return []
    lines: list[str] = []
    with store.lock(cluster):
        records = read_records(cluster)
        redos = {}
        for r in records:
            redo = _redo_of(plan, r, changed)
            if redo is not None:
                redos[str(r["id"])] = redo
        if not redos:
            return []
        for r in records:
            if str(r["id"]) in redos:
                lines += [f"warning: {redos[str(r['id'])].where}: {p}"
                          for p in remove(r.get("applied") or {})]
        others = programs_of([r for r in records if str(r["id"]) not in redos])
        kept: list[dict[str, Any]] = []
        for r in records:
            redo = redos.get(str(r["id"]))
            if redo is None:
                kept.append(r)
            elif redo.gone is not None:
                lines.append(f"warning: {redo.where}: {redo.gone_sentence}; fault removed")
            else:
                doc, line = _apply_again(cluster, r, redo, others)
                kept.append(doc)
                lines.append(line)
                if "reapply_error" not in doc:
                    others = {**others, **programs_of([doc])}
        write_records(cluster, kept)
    return lines
