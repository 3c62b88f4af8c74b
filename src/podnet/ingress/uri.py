"""Request hosts and paths as the controller sees them before it matches a rule.

Why: an Ingress rule is matched against the *normalised* request — ``Host: Shop.Example.com:8443``
is host ``shop.example.com``; ``/a//b/./c/../d%20e?x=1`` is path ``/a/b/d e`` with the query
ignored — and a request the controller cannot normalise is answered 400 before any rule is
consulted. Users who test with curl hit these cases constantly.

Behaviour reproduced (re-implemented, not copied) from nginx, which ingress-nginx runs:

* ``ngx_http_validate_host``: the host is lower-cased, a port is cut off (``[v6]:port`` keeps its
  brackets), one trailing dot is removed, and a host containing ``/``, ``\\``, NUL, white space
  or ``..`` is invalid (400);
* ``ngx_http_parse_complex_uri`` with ``merge_slashes on``: ``%XX`` escapes are decoded
  (a malformed escape or an encoded NUL is 400), runs of ``/`` become one, ``.`` and ``..``
  segments are resolved (``..`` above the root is 400), the query string (after ``?``) is kept
  aside;
* an absolute-form request target (``GET http://host/path``) names the host itself, and wins
  over the Host header.

The normalised path (nginx's ``$uri``) is what locations are matched against; the request
target as received (``$request_uri``) is what the backend gets unless a rewrite applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEX = "0123456789abcdefABCDEF"


class BadRequest(ValueError):
    """The request cannot be routed at all: nginx answers 400 Bad Request."""


@dataclass(frozen=True, slots=True)
class Target:
    """A request target split the way nginx splits it."""

    #: the decoded, normalised path ($uri)
    path: str
    #: the query string without the ``?`` ($args), "" when absent
    query: str
    #: the target as received, for the backend ($request_uri)
    raw: str
    #: the host of an absolute-form target, lower-cased, or None
    host: str | None = None


def split_host_port(value: str) -> tuple[str, str]:
    """``Host`` header value → (host, port); port "" when absent. Raises BadRequest."""
    v = value.strip()
    if v.startswith("["):
        end = v.find("]")
        if end < 0:
            raise BadRequest(f"invalid host {value!r}")
        host, rest = v[: end + 1], v[end + 1 :]
        if rest and not rest.startswith(":"):
            raise BadRequest(f"invalid host {value!r}")
        return host, rest[1:]
    host, sep, port = v.rpartition(":")
    if not sep:
        return v, ""
    if not port.isdigit() and port != "":
        raise BadRequest(f"invalid host {value!r}")
    return host, port


_PLAIN_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")


def normalize_host(value: str) -> str:
    """The host part of a Host header value, validated and lower-cased (nginx's ``$host``)."""
    if _PLAIN_HOST.fullmatch(value):
        return value
    host, _port = split_host_port(value)
    if host.endswith(".") and not host.startswith("["):
        host = host[:-1]
    if not host:
        if value.strip():
            raise BadRequest(f"invalid host {value!r}")
        return ""
    for ch in host:
        if ch in "/\\\x00" or ch.isspace():
            raise BadRequest(f"invalid host {value!r}")
    if ".." in host:
        raise BadRequest(f"invalid host {value!r}")
    return host.lower()


def _decode(path: str) -> str:
    if "%" not in path:
        return path
    out = bytearray()
    raw = path.encode("utf-8", "surrogateescape")
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # %
            h = raw[i + 1 : i + 3].decode("latin-1")
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise BadRequest(f"malformed %-escape in {path!r}")
            b = int(h, 16)
            if b == 0:
                raise BadRequest("encoded NUL in the request path")
            out.append(b)
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "surrogateescape")


def normalize_path(path: str) -> str:
    """Decode, merge slashes and resolve dot segments (nginx's ``$uri``). Raises BadRequest."""
    if not path.startswith("/"):
        raise BadRequest(f"request path {path!r} does not start with /")
    decoded = _decode(path)
    if "\x00" in decoded:
        raise BadRequest("NUL in the request path")
    if "//" not in decoded and "/." not in decoded:
        return decoded
    out: list[str] = []
    segments = decoded.split("/")
    last = len(segments) - 1
    for i, seg in enumerate(segments[1:], start=1):
        if seg == "" and i != last:
            continue  # merge_slashes
        if seg == ".":
            if i == last:
                out.append("")
            continue
        if seg == "..":
            if not out:
                raise BadRequest(f"request path {path!r} climbs above the root")
            out.pop()
            if i == last:
                out.append("")
            continue
        out.append(seg)
    return "/" + "/".join(out)


def parse_target(target: str) -> Target:
    """Split a request target; absolute-form targets yield their host. Raises BadRequest."""
    host: str | None = None
    rest = target
    if not target.startswith("/"):
        low = target[:8].lower()
        if low.startswith("http://") or low.startswith("https://"):
            after = target.split("://", 1)[1]
            slash = after.find("/")
            qmark = after.find("?")
            cut = min(x for x in (slash, qmark, len(after)) if x >= 0)
            authority = after[:cut]
            if "@" in authority:
                authority = authority.rsplit("@", 1)[1]
            host = normalize_host(authority)
            rest = after[cut:] or "/"
            if rest.startswith("?"):
                rest = "/" + rest
        elif target == "*":
            return Target(path="*", query="", raw="*")
        else:
            raise BadRequest(f"invalid request target {target!r}")
    path, _, query = rest.partition("?")
    if "#" in path:
        path = path.split("#", 1)[0]
    return Target(path=normalize_path(path), query=query, raw=rest, host=host)


# nginx's ngx_escape_uri(NGX_ESCAPE_URI) keeps these unescaped in a rewritten URI
_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"
)


def escape_path(path: str) -> str:
    """A decoded path made safe for a request line (what nginx sends after a rewrite)."""
    if all(ch in _SAFE for ch in path):
        return path
    out = []
    for ch in path:
        if ch in _SAFE:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
    return "".join(out)
