"""Names kube-proxy's nftables mode gives to the objects it creates.

Why a module of its own: ``podnet trace`` quotes chain names, ``podnet proxy rules`` prints them
and the real data plane loads them, so all three must spell them exactly as kube-proxy does — a
user who later runs ``nft list table ip kube-proxy`` on a real node should recognise every name.

Behaviour reproduced from ``pkg/proxy/nftables/proxier.go`` (``hashAndTruncate``,
``servicePortChainNameBase``, ``servicePortEndpointChainNameBase``), re-implemented:

* the *base* of a Service port's chains is ``<ns>/<svc>/<proto>/<port name>`` and of an
  endpoint's ``<ns>/<svc>/<proto>/<port name>__<ip>/<port>`` (an IPv6 address with its colons
  replaced by dots, since nftables names may not contain ``:``);
* the base is prefixed with the first 8 characters of the standard (padded, upper-case) base32
  encoding of its SHA-256 and a hyphen, so that names stay unique and visually distinct even
  when they must be truncated;
* a prefixed base longer than 240 characters (nftables' 256 minus the longest prefix, 16) is cut
  to 237 characters plus ``...``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import total_ordering

__all__ = [
    "AFFINITY_PREFIX",
    "CHAIN_NAME_BASE_MAX",
    "ENDPOINT_PREFIX",
    "EXTERNAL_PREFIX",
    "FIREWALL_PREFIX",
    "LOCAL_PREFIX",
    "SERVICE_PREFIX",
    "ServicePortName",
    "endpoint_chain_base",
    "endpoint_string",
    "hash_and_truncate",
    "service_port_chain_base",
]

#: knftables.NameLengthMax (256) minus the longest prefix including its hyphen (16).
CHAIN_NAME_BASE_MAX = 256 - 16

SERVICE_PREFIX = "service-"
LOCAL_PREFIX = "local-"
EXTERNAL_PREFIX = "external-"
ENDPOINT_PREFIX = "endpoint-"
AFFINITY_PREFIX = "affinity-"
FIREWALL_PREFIX = "firewall-"


@total_ordering
@dataclass(frozen=True, slots=True)
class ServicePortName:
    """kube-proxy's key for one port of one Service: namespace, name, port name and protocol.

    ``str()`` is kube-proxy's ``ServicePortName.String()`` — ``ns/svc:port`` or ``ns/svc`` for
    an unnamed port — which is also the comment it puts on ``no-endpoint-*`` map elements.
    """

    namespace: str
    name: str
    port: str
    protocol: str  # "TCP" | "UDP" | "SCTP"

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ServicePortName):
            return NotImplemented
        return (self.namespace, self.name, self.port, self.protocol) < (
            other.namespace,
            other.name,
            other.port,
            other.protocol,
        )

    @property
    def service(self) -> str:
        """``ns/name`` of the Service."""
        return f"{self.namespace}/{self.name}"

    @property
    def proto(self) -> str:
        """The protocol as nftables spells it (``tcp``, ``udp``, ``sctp``)."""
        return self.protocol.lower()


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def hash_and_truncate(name: str) -> str:
    """``<8 chars of base32(sha256(name))>-<name>``, truncated to 240 characters.

    The first 8 base32 characters encode exactly the first 40 bits (5 bytes) of the digest, so
    only those are encoded (``base64.b32encode`` of the whole digest is 10x slower and the
    compiler hashes one name per endpoint)."""
    head = int.from_bytes(hashlib.sha256(name.encode()).digest()[:5], "big")
    b32 = _B32
    out = (
        b32[head >> 35] + b32[(head >> 30) & 31] + b32[(head >> 25) & 31]
        + b32[(head >> 20) & 31] + b32[(head >> 15) & 31] + b32[(head >> 10) & 31]
        + b32[(head >> 5) & 31] + b32[head & 31] + "-" + name
    )
    if len(out) > CHAIN_NAME_BASE_MAX:
        out = out[: CHAIN_NAME_BASE_MAX - 3] + "..."
    return out


def service_port_chain_base(spn: ServicePortName) -> str:
    """The hashed base shared by ``service-``, ``local-``, ``external-`` and ``firewall-``."""
    return hash_and_truncate(f"{spn.namespace}/{spn.name}/{spn.proto}/{spn.port}")


def endpoint_string(ip: str, port: int) -> str:
    """``ip:port`` (``[ip]:port`` for IPv6), as Go's ``net.JoinHostPort`` writes it."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def endpoint_chain_base(spn: ServicePortName, ip: str, port: int) -> str:
    """The hashed base shared by an endpoint's ``endpoint-`` chain and ``affinity-`` set."""
    return hash_and_truncate(
        f"{spn.namespace}/{spn.name}/{spn.proto}/{spn.port}__{ip.replace(':', '.')}/{port}"
    )
