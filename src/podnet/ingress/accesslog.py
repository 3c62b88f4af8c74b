"""The access log line, in ingress-nginx's default ``upstreaminfo`` format.

ingress-nginx ``docs/user-guide/nginx-configuration/log-format.md``::

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
    [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
    $upstream_response_time $upstream_status $req_id

Empty values are ``-`` (nginx's rule); when several upstream addresses were tried (a connect
failure retried on the next endpoint) their addresses, lengths, times and statuses are listed
comma-separated, as nginx lists them. Strings are escaped as nginx escapes them (``"``, ``\\``
and bytes outside printable ASCII as ``\\xHH``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _esc(value: str) -> str:
    if not value:
        return "-"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    out = []
    for b in value.encode("utf-8", "surrogateescape"):
        if b < 0x20 or b > 0x7E or b in (0x22, 0x5C):
            out.append(f"\\x{b:02X}")
        else:
            out.append(chr(b))
    return "".join(out)


def time_local(epoch: float) -> str:
    """``10/Oct/2000:13:55:36 +0000`` in the local time zone."""
    t = time.localtime(epoch)
    off = t.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:"
        f"{t.tm_sec:02d} {sign}{off // 3600:02d}{(off % 3600) // 60:02d}"
    )


@dataclass(slots=True)
class Attempt:
    """One upstream tried for a request."""

    addr: str
    status: str = "-"
    length: int | None = None
    seconds: float | None = None


def line(
    *,
    remote_addr: str,
    started: float,
    request_line: str,
    status: int,
    body_bytes_sent: int,
    referer: str,
    user_agent: str,
    request_length: int,
    request_time: float,
    upstream_name: str,
    alternative_name: str,
    attempts: Sequence[Attempt],
    request_id: str,
    remote_user: str = "",
) -> str:
    if attempts:
        addrs = ", ".join(a.addr for a in attempts)
        lengths = ", ".join("-" if a.length is None else str(a.length) for a in attempts)
        times = ", ".join("-" if a.seconds is None else f"{a.seconds:.3f}" for a in attempts)
        statuses = ", ".join(a.status for a in attempts)
    else:
        addrs = lengths = times = statuses = "-"
    return (
        f"{remote_addr or '-'} - {_esc(remote_user)} [{time_local(started)}] \"{_esc(request_line)}\" "
        f"{status} {body_bytes_sent} \"{_esc(referer)}\" \"{_esc(user_agent)}\" {request_length} "
        f"{request_time:.3f} [{upstream_name}] [{alternative_name}] {addrs} {lengths} {times} "
        f"{statuses} {request_id or '-'}"
    )
