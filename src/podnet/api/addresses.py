"""Address text, recognised and parsed cheaply: the hot paths (a trace, an index build over
150,000 pods, every proxied connection) meet the same few addresses and CIDRs again and again.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

__all__ = ["CANONICAL_V4", "network"]

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: An IPv4 address as ``ipaddress`` writes it (it refuses leading zeros, so a dotted quad it
#: accepts is already canonical): recognised without parsing (``CANONICAL_V4.fullmatch``).
CANONICAL_V4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


@lru_cache(maxsize=1024)
def network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """``ipaddress.ip_network(cidr, strict=False)``, parsed once per text."""
    return ipaddress.ip_network(cidr, strict=False)
