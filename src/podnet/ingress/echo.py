"""What an emulated pod answers: who it is and what it received.

Why: when ``curl https://shop.example.com/api`` comes back, the user wants to see which pod of
which Service got the request, on which port, with which path and headers after the controller
rewrote and annotated it (``X-Forwarded-For``, ``X-Request-ID``…). Every emulated backend of
``podnet ingress serve`` answers with this object, and so does the pods' built-in test server of
the real data plane, so that the two can be compared.

The object (``Content-Type: application/json``)::

    {"pod": "NS/NAME", "service": "NS/NAME", "port": 8080, "method": "GET",
     "path": "/v1/items?x=1", "headers": {"Host": "api.shop.example.com", …},
     "client_ip": "10.244.0.5", "protocol": "HTTP/1.1"}

``path`` is the request target exactly as received; ``headers`` holds each header under the name
as received, repeated headers joined with ", "; ``port`` is the port the pod received the request
on (the Service's targetPort); ``client_ip`` the address the connection came from (the ingress
controller, not the end user — who is in ``X-Forwarded-For`` / ``X-Real-IP``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

CONTENT_TYPE = "application/json"


def answer(
    *,
    pod: str | None,
    service: str | None,
    port: int,
    method: str,
    path: str,
    headers: Iterable[tuple[str, str]],
    client_ip: str,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """The answer object of an emulated pod."""
    merged: dict[str, str] = {}
    for name, value in headers:
        if name in merged:
            merged[name] = f"{merged[name]}, {value}"
        else:
            merged[name] = value
    return {
        "pod": pod,
        "service": service,
        "port": port,
        "method": method,
        "path": path,
        "headers": merged,
        "client_ip": client_ip,
        "protocol": protocol,
    }


def answer_body(**kwargs: Any) -> bytes:
    """:func:`answer` encoded as the response body (compact JSON, newline-terminated)."""
    return json.dumps(answer(**kwargs), separators=(",", ":")).encode() + b"\n"
