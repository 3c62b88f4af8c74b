"""The progress display of ``podnet up``: the daemon's log lines, turned into bars.

The daemon (foreground or detached) reports its build as plain log lines — one per namespace,
per node's devices, per node's pods, then the rule load and ``ready in …``. Those lines are the
interface: they go to ``daemon.log`` and, when stderr is not a terminal (CI, pipes, tests),
unchanged to stderr. On a terminal the same lines drive a rich progress display instead, so a
1,000-pod build shows how far it got rather than a scrolling wall.

:class:`BuildProgress` is the pure part: a frozen record of what the lines have said so far,
advanced one line at a time (no terminal, no clock). :class:`ProgressDisplay` is the shell that
renders it with rich and falls back to plain lines.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

_BUILDING = re.compile(r"^building cluster \S+ \((?P<plugin>[^,]+), (?P<nodes>\d+) nodes?, (?P<pods>\d+) pods?\)")
_NODE_NS = re.compile(r"^node (?P<node>\S+): pn-\S+ \(")
_DEVICES = re.compile(r"^node (?P<node>\S+): devices$")
_WIRED = re.compile(r"^node (?P<node>\S+): (?P<n>\d+) pods? wired$")
_TABLES = re.compile(r"^nftables loaded on (?P<n>\d+) node")
_READY = re.compile(r"^ready in ")


@dataclass(frozen=True)
class BuildProgress:
    """How far a build has got, by what the daemon said. Totals come from its first line."""

    plugin: str = ""
    nodes: int = 0
    pods: int = 0
    namespaces_made: int = 0
    nodes_with_devices: int = 0
    pods_wired: int = 0
    tables_loaded: int = 0
    ready: bool = False
    failed: bool = False

    def advance(self, line: str) -> BuildProgress:
        """The progress after one more log line (lines it does not know leave it as it was)."""
        if m := _BUILDING.match(line):
            return dataclasses.replace(self, plugin=m["plugin"], nodes=int(m["nodes"]), pods=int(m["pods"]))
        if _NODE_NS.match(line):
            return dataclasses.replace(self, namespaces_made=self.namespaces_made + 1)
        if _DEVICES.match(line):
            return dataclasses.replace(self, nodes_with_devices=self.nodes_with_devices + 1)
        if m := _WIRED.match(line):
            return dataclasses.replace(self, pods_wired=self.pods_wired + int(m["n"]))
        if m := _TABLES.match(line):
            return dataclasses.replace(self, tables_loaded=int(m["n"]))
        if _READY.match(line):
            return dataclasses.replace(self, ready=True)
        if line.startswith("error:"):
            return dataclasses.replace(self, failed=True)
        return self

    def bars(self) -> list[tuple[str, int, int]]:
        """(label, done, total) per phase, in build order."""
        return [
            ("node namespaces", self.namespaces_made, self.nodes),
            ("node devices", self.nodes_with_devices, self.nodes),
            ("pods wired", self.pods_wired, self.pods),
            ("nftables per node", self.tables_loaded, self.nodes),
        ]


class ProgressDisplay:
    """Feeds the daemon's lines to a rich progress display on a terminal, or echoes them.

    Errors and warnings are always printed as lines (above the bars), so nothing the daemon
    says is lost when the display is on.
    """

    def __init__(self, stream: IO[str] | None = None, *, force_terminal: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.console = Console(file=self.stream, force_terminal=force_terminal, highlight=False)
        self.live = self.console.is_terminal
        self.state = BuildProgress()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def start(self) -> ProgressDisplay:
        """Show the bars (on a terminal); lines before this, and after :meth:`stop`, print as lines."""
        if self.live and self._progress is None:
            self._progress = Progress(
                TextColumn("  {task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=self.console, transient=False)
            self._progress.start()
        return self

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> ProgressDisplay:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __call__(self, message: str) -> None:
        self.state = self.state.advance(message)
        if self._progress is None:
            self.stream.write((message if message.startswith(("error:", "warning:")) else f"  {message}") + "\n")
            self.stream.flush()
            return
        if message.startswith(("error:", "warning:", "ready in ")):
            self._progress.console.print(message, markup=False, emoji=False, soft_wrap=True)
        for label, done, total in self.state.bars():
            if total == 0:
                continue
            if label not in self._tasks:
                self._tasks[label] = self._progress.add_task(label, total=total)
            self._progress.update(self._tasks[label], completed=done, total=total)


__all__ = ["BuildProgress", "ProgressDisplay"]
