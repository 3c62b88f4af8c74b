"""The CoreDNS ``hosts`` plugin's table: /etc/hosts-format lines turned into lookups.

Parsing follows plugin/hosts/hostsfile.go: ``#`` starts a comment anywhere on a line, a line
needs an address and at least one name, an address may carry a ``%zone`` suffix (dropped), names
are lowercased and made absolute, names outside the plugin's origins are skipped, and a name
whose first label is ``*`` is a wildcard for exactly one label. Every name also gets a reverse
entry unless ``no_reverse`` is set. Inline entries in the Corefile and the file's entries are
two tables that are both consulted, file first.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from podnet.dns.names import longest_zone, normalize


@dataclass(frozen=True, slots=True)
class HostsTable:
    """One parsed table. Lookups are dict reads; values keep the order of the source."""

    v4: dict[str, tuple[str, ...]] = field(default_factory=dict)
    v6: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wild_v4: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wild_v6: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_addr: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def lookup(self, name: str, family: int) -> tuple[str, ...]:
        exact, wild = (self.v4, self.wild_v4) if family == 4 else (self.v6, self.wild_v6)
        name = normalize(name)
        if name in exact:
            return exact[name]
        pattern = _asterisk(name)
        if pattern and pattern in wild:
            return wild[pattern]
        return ()


def _asterisk(name: str) -> str:
    """``a.b.c.`` → ``*.b.c.`` (hosts wildcard.go); ``""`` for a single-label name."""
    head, sep, rest = name.partition(".")
    if not sep or not rest or rest == ".":
        return ""
    return "*." + rest


def parse_hosts(text: str, origins: Sequence[str], auto_reverse: bool = True) -> HostsTable:
    """Parse hosts-file text for a plugin whose origins (zones) are ``origins``."""
    v4: dict[str, list[str]] = defaultdict(list)
    v6: dict[str, list[str]] = defaultdict(list)
    w4: dict[str, list[str]] = defaultdict(list)
    w6: dict[str, list[str]] = defaultdict(list)
    rev: dict[str, list[str]] = defaultdict(list)
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        fields = line.split()
        if len(fields) < 2:
            continue
        addr_text = fields[0].split("%", 1)[0]
        try:
            addr = ipaddress.ip_address(addr_text)
        except ValueError:
            continue
        # Go's net.IP.To4 treats IPv4-mapped IPv6 as IPv4.
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        ip = str(addr)
        for name_text in fields[1:]:
            name = normalize(name_text)
            if not longest_zone(origins, name):
                continue
            if name.startswith("*."):
                (w4 if addr.version == 4 else w6)[name].append(ip)
                continue
            (v4 if addr.version == 4 else v6)[name].append(ip)
            if auto_reverse:
                rev[ip].append(name)
    return HostsTable(
        v4={k: tuple(v) for k, v in v4.items()},
        v6={k: tuple(v) for k, v in v6.items()},
        wild_v4={k: tuple(v) for k, v in w4.items()},
        wild_v6={k: tuple(v) for k, v in w6.items()},
        by_addr={k: tuple(v) for k, v in rev.items()},
    )


@dataclass(frozen=True, slots=True)
class Hosts:
    """The file table and the inline table of one ``hosts`` plugin, consulted file first."""

    tables: tuple[HostsTable, ...]

    def addresses(self, name: str, family: int) -> tuple[str, ...]:
        out: list[str] = []
        for t in self.tables:
            out.extend(t.lookup(name, family))
        return tuple(out)

    def names_of(self, ip: str) -> tuple[str, ...]:
        try:
            key = str(ipaddress.ip_address(ip))
        except ValueError:
            return ()
        out: list[str] = []
        for t in self.tables:
            out.extend(t.by_addr.get(key, ()))
        return tuple(out)

    def has_name(self, name: str) -> bool:
        return bool(self.addresses(name, 4) or self.addresses(name, 6))


def build_hosts(texts: Iterable[str], origins: Sequence[str], auto_reverse: bool) -> Hosts:
    return Hosts(tuple(parse_hosts(t, origins, auto_reverse) for t in texts))
