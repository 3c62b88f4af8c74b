"""What the server processes share at run time: their event loop and the HTTP ``Date`` value.

One copy of each, so that the DNS server, the ingress proxy and the emulated backends run on the
same loop implementation and stamp their answers the same way.
"""

from __future__ import annotations

import asyncio
import email.utils
import time

__all__ = ["HttpDate", "new_event_loop"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when uvloop is importable, else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class HttpDate:
    """The ``Date`` header value, recomputed once a second rather than for every response."""

    value = b""
    at = 0

    @classmethod
    def get(cls) -> bytes:
        now = int(time.time())
        if now != cls.at:
            cls.at = now
            cls.value = email.utils.formatdate(now, usegmt=True).encode()
        return cls.value
