"""The ``loop`` plugin's rules (plugin/loop): detect a forwarding loop at start-up.

CoreDNS, once its server answers, sends one query to itself — ``HINFO
<random>.<random>.<zone>.``, ``zone`` being the first zone of the server block — and counts how
many times that name comes back through the plugin chain (``loop`` sits just before ``forward``,
so a name the cluster zone or a cache answers never reaches it). Seen more than twice means the
query went out through ``forward`` and came back: the upstreams forward to this server, every
query would circle until it times out, and CoreDNS halts with::

    [FATAL] plugin/loop: Loop (127.0.0.1:55953 -> :1053) detected for zone ".", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO 4547991504243258144.3688648895315093531."

The probe is tried for up to 30 seconds (1 s apart when no reply comes back, the count starting
again each time); once one reply has come back, or after the 30 seconds, the plugin disables
itself for good, so that a later query can never be a "query of death".

This module is the pure part: the probe's name and the count, as immutable values. Sending the
probe and halting are the server's (:mod:`podnet.servers.dns`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import dns.rdatatype

from podnet.dns.names import is_subdomain

#: plugin/loop's schedule: give up after 30 s, 1 s between failed tries
DEADLINE = 30.0
RETRY = 1.0
#: more sightings than this is a loop
SEEN_LIMIT = 2
TROUBLESHOOTING = "https://coredns.io/plugins/loop#troubleshooting"


def probe_name(zone: str, first: int, second: int) -> str:
    """``<first>.<second>.<zone>`` as an absolute, lowercase name (``dnsutil.Join``)."""
    zone = zone.lower()
    suffix = "" if zone in (".", "") else zone if zone.endswith(".") else zone + "."
    return f"{first}.{second}.{suffix}" if suffix else f"{first}.{second}."


@dataclass(frozen=True, slots=True)
class LoopProbe:
    """One server block's loop detector: its probe name and how often it was seen."""

    zone: str
    qname: str
    seen: int = 0
    off: bool = False

    @classmethod
    def new(cls, zone: str, first: int, second: int) -> LoopProbe:
        return cls(zone=zone, qname=probe_name(zone, first, second))

    def observe(self, qname: str, qtype: int) -> LoopProbe:
        """The detector after a query reached the plugin (``Loop.ServeDNS``): only an HINFO
        for the probe's own name counts, and nothing does once the plugin is disabled."""
        if self.off or qtype != dns.rdatatype.HINFO:
            return self
        name = qname.lower()
        if not is_subdomain(self.zone, name) or name != self.qname:
            return self
        return dataclasses.replace(self, seen=self.seen + 1)

    @property
    def looping(self) -> bool:
        return not self.off and self.seen > SEEN_LIMIT

    def reset(self) -> LoopProbe:
        """A try got no reply: count again from zero on the next one."""
        return dataclasses.replace(self, seen=0)

    def disabled(self) -> LoopProbe:
        return dataclasses.replace(self, off=True)

    def message(self, remote: str, local: str) -> str:
        """CoreDNS's fatal log line (without the ``[FATAL] plugin/loop:`` prefix)."""
        return (f'Loop ({remote} -> {local}) detected for zone "{self.zone}", see '
                f'{TROUBLESHOOTING}. Query: "HINFO {self.qname}"')
