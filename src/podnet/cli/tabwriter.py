"""Go's text/tabwriter, as kubectl uses it, so that tables and describe output line up the same.

Text is cells separated by tabs; a cell is tab-terminated, so the last cell of a line belongs to
no column. A column block is a run of consecutive lines that all have a cell in that column; its
width is the widest cell plus the padding (at least ``minwidth``). kubectl's tables use minwidth 6,
padding 3; ``kubectl describe`` uses minwidth 0, padding 2.
"""

from __future__ import annotations

from collections.abc import Sequence


def _format(
    lines: Sequence[list[str]],
    widths: list[int],
    line0: int,
    line1: int,
    minwidth: int,
    padding: int,
    out: list[str],
) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        _write(lines, widths, line0, this, out)
        line0 = this
        width = minwidth
        while this < line1 and column < len(lines[this]) - 1:
            w = len(lines[this][column]) + padding
            width = max(width, w)
            this += 1
        widths.append(width)
        _format(lines, widths, line0, this, minwidth, padding, out)
        widths.pop()
        line0 = this
    _write(lines, widths, line0, line1, out)


def _write(lines: Sequence[list[str]], widths: list[int], a: int, b: int, out: list[str]) -> None:
    for i in range(a, b):
        cells = lines[i]
        parts: list[str] = []
        for j, cell in enumerate(cells):
            if j < len(widths) and j < len(cells) - 1:
                parts.append(cell.ljust(widths[j]))
            else:
                parts.append(cell)
        out.append("".join(parts))


def tabulate_text(text: str, minwidth: int = 6, padding: int = 3) -> str:
    """Align tab-separated ``text`` the way Go's tabwriter does (padding with spaces)."""
    trailing_newline = text.endswith("\n")
    raw = text[:-1].split("\n") if trailing_newline else text.split("\n")
    lines = [line.split("\t") for line in raw]
    out: list[str] = []
    _format(lines, [], 0, len(lines), minwidth, padding, out)
    return "\n".join(out) + ("\n" if trailing_newline else "")


def table(rows: Sequence[Sequence[str]]) -> str:
    """A kubectl table (header row first): every column padded, the last one not."""
    text = "".join("\t".join(r) + "\n" for r in rows)
    return tabulate_text(text, minwidth=6, padding=3)
