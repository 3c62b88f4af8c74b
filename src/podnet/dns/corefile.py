"""The Corefile: CoreDNS's configuration, parsed the way CoreDNS parses it, into typed values.

Theory of operation
-------------------
CoreDNS reads its Corefile with the Caddyfile lexer and parser (coredns/caddy ``caddyfile``):

* The lexer splits on whitespace; ``"..."`` quotes a token (``\\"`` escapes a quote); ``#``
  starts a comment that runs to the end of the line, wherever it appears.
* A server block is a line of addresses (``.:53``, ``cluster.local:53``, ``dns://.``,
  ``10.0.0.0/24``; a trailing comma continues the list on the next line) followed by ``{``;
  directives are lines inside it; a directive whose line ends in ``{`` owns the lines up to the
  matching ``}``. A Corefile with a single block may leave out the braces.
* A directive that is no plugin CoreDNS knows fails at parse time with CoreDNS's message:
  ``Corefile:3 - Error during parsing: Unknown directive 'xyz'``. A plugin's own setup errors
  are prefixed ``plugin/NAME:`` as CoreDNS prints them.
* Keys are normalised as ``core/dnsserver/register.go`` does: the transport prefix is removed,
  ``:PORT`` split off (default 53), names lowercased and made absolute, a CIDR turned into its
  reverse zones; the same zone and port twice is ``cannot serve dns://.:53 - it is already
  defined``.

Parsing is two steps: text → :class:`Directive` trees (generic, kept for display), then each
plugin's tree → its typed config (:class:`KubernetesConfig`, :class:`ForwardConfig`…), checked
with the rules of that plugin's ``setup.go``. Nothing here reads a file: ``import`` is refused,
and paths (a hosts file, ``forward . /etc/resolv.conf``) stay paths for the caller to read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from podnet.cluster.system import corefile
from podnet.dns.names import cidr_zones, is_domain_name, normalize

#: Every plugin CoreDNS compiles in, in plugin.cfg order (the order handlers run in).
PLUGIN_ORDER: tuple[str, ...] = (
    "root", "metadata", "geoip", "cancel", "proxyproto", "quic", "grpc_server", "https",
    "https3", "timeouts", "multisocket", "reload", "nsid", "bufsize", "bind", "debug", "trace",
    "ready", "health", "pprof", "shed", "prometheus", "errors", "log", "dnstap", "local",
    "dns64", "any", "chaos", "loadbalance", "tsig", "rewrite", "autopath", "acl", "cache",
    "header", "dnssec", "tls", "minimal", "template", "transfer", "hosts", "route53", "azure",
    "clouddns", "k8s_external", "kubernetes", "file", "auto", "secondary", "etcd", "loop",
    "forward", "grpc", "erratic", "whoami", "on", "sign", "view", "nomad",
)

#: The plugins podnet gives meaning to; any other known plugin is refused as unsupported.
SUPPORTED = frozenset({
    "errors", "health", "ready", "kubernetes", "forward", "cache", "loop", "reload",
    "loadbalance", "hosts", "log", "transfer", "bind", "prometheus",
})

DEFAULT_PORT = 53


class CorefileError(ValueError):
    """A Corefile CoreDNS would refuse to start with; the message is CoreDNS's."""


# ------------------------------------------------------------------------------ lexing


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    line: int
    quoted: bool = False


def tokenize(text: str) -> list[Token]:
    """The Caddyfile lexer: whitespace-separated tokens, quotes, ``#`` comments."""
    tokens: list[Token] = []
    line = 1
    val: list[str] = []
    start = 1
    comment = quoted = escaped = False
    if text.startswith("\ufeff"):
        text = text[1:]
    for ch in text:
        if quoted:
            if not escaped:
                if ch == "\\":
                    escaped = True
                    continue
                if ch == '"':
                    quoted = False
                    tokens.append(Token("".join(val), start, True))
                    val = []
                    continue
            if ch == "\n":
                line += 1
            if escaped and ch != '"':
                val.append("\\")
            val.append(ch)
            escaped = False
            continue
        if ch.isspace():
            if ch == "\r":
                continue
            if ch == "\n":
                line += 1
                comment = False
            if val:
                tokens.append(Token("".join(val), start))
                val = []
            continue
        if ch == "#":
            comment = True
        if comment:
            continue
        if not val:
            start = line
            if ch == '"':
                quoted = True
                continue
        val.append(ch)
    if val:
        tokens.append(Token("".join(val), start, quoted))
    return tokens


# ------------------------------------------------------------------------------ generic tree


@dataclass(frozen=True, slots=True)
class Directive:
    """One directive line: its name, its arguments and the lines of its ``{}`` block."""

    name: str
    args: tuple[str, ...] = ()
    block: tuple[Directive, ...] = ()
    line: int = 0

    def render(self, indent: str = "    ") -> str:
        head = " ".join((self.name, *(_quote(a) for a in self.args)))
        if not self.block:
            return head
        inner = "\n".join(indent + b.render(indent).replace("\n", "\n" + indent) for b in self.block)
        return f"{head} {{\n{inner}\n}}"


def _quote(s: str) -> str:
    return f'"{s}"' if (not s or any(c.isspace() for c in s) or "#" in s) else s


class _Parser:
    def __init__(self, tokens: list[Token], filename: str) -> None:
        self.t = tokens
        self.i = 0
        self.file = filename

    def err(self, line: int, msg: str) -> CorefileError:
        return CorefileError(f"{self.file}:{line} - Error during parsing: {msg}")

    def peek(self) -> Token | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def blocks(self) -> list[tuple[list[str], int, list[Directive]]]:
        out: list[tuple[list[str], int, list[Directive]]] = []
        while self.peek() is not None:
            keys, line = self.addresses()
            tok = self.peek()
            if tok is not None and tok.text == "{" and not tok.quoted:
                self.i += 1
                body = self.lines(top=True, closing=True)
            else:
                body = self.lines(top=True, closing=False)
            if keys:
                out.append((keys, line, body))
        return out

    def addresses(self) -> tuple[list[str], int]:
        keys: list[str] = []
        first = self.t[self.i]
        expecting = False
        line = first.line
        while True:
            tok = self.t[self.i]
            if tok.text == "import":
                raise self.err(tok.line, "import is not supported by podnet (give one self-contained Corefile)")
            if tok.text == "{" and not tok.quoted:
                if expecting:
                    raise self.err(tok.line, "Expected another address but had '{' - check for extra comma")
                break
            text = tok.text
            if text:
                if text.endswith(","):
                    text = text[:-1]
                    expecting = True
                else:
                    expecting = False
                if text.startswith("(") and text.endswith(")"):
                    raise self.err(tok.line, f"snippets are not supported by podnet: {text}")
                keys.append(text)
            self.i += 1
            nxt = self.peek()
            if nxt is None:
                if expecting:
                    raise self.err(tok.line, "Unexpected EOF")
                break
            if not expecting and nxt.line != line:
                break
            line = nxt.line if expecting else line
        return keys, first.line

    def lines(self, top: bool, closing: bool) -> list[Directive]:
        """Directive lines up to the matching ``}`` (or EOF for a brace-less block)."""
        out: list[Directive] = []
        while True:
            tok = self.peek()
            if tok is None:
                if closing:
                    last = self.t[-1].line if self.t else 1
                    raise self.err(last, "Unexpected EOF")
                return out
            if tok.text == "}" and not tok.quoted:
                self.i += 1
                if not closing:
                    raise self.err(tok.line, "Unexpected '}' because no matching opening brace")
                return out
            if tok.text == "import":
                raise self.err(tok.line, "import is not supported by podnet (give one self-contained Corefile)")
            if top and tok.text not in PLUGIN_ORDER:
                raise self.err(tok.line, f"Unknown directive '{tok.text}'")
            out.append(self.directive())

    def directive(self) -> Directive:
        head = self.t[self.i]
        self.i += 1
        args: list[str] = []
        block: list[Directive] = []
        while True:
            tok = self.peek()
            if tok is None or tok.line != head.line:
                break
            if tok.text == "{" and not tok.quoted:
                self.i += 1
                block = self.lines(top=False, closing=True)
                break
            if tok.text == "}" and not tok.quoted:
                break
            args.append(tok.text)
            self.i += 1
        return Directive(head.text, tuple(args), tuple(block), head.line)


# ------------------------------------------------------------------------------ helpers


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` in seconds: ``5s``, ``1m30s``, ``500ms``, ``0``."""
    s = text
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def _transport(key: str) -> tuple[str, str]:
    for t in ("tls", "dns", "quic", "grpc", "https3", "https", "unix"):
        if key.startswith(t + "://"):
            return t, key[len(t) + 3:]
    return "dns", key


_DEFAULT_PORTS = {"dns": 53, "tls": 853, "quic": 853, "grpc": 443, "https": 443, "https3": 443}


def split_host_port(s: str) -> tuple[list[str], str]:
    """``plugin.SplitHostPort``: zone(s) and port of a key; a CIDR gives its reverse zones."""
    port = ""
    colon = s.rfind(":")
    if colon == len(s) - 1:
        raise ValueError(f'expecting data after last colon: "{s}"')
    if colon != -1 and s[colon + 1:].isdigit():
        port = str(int(s[colon + 1:]))
        s = s[:colon]
    if len(s) > 255:
        raise ValueError(f"specified zone is too long: {len(s)} > 255")
    if "/" in s:
        try:
            ipaddress.ip_network(s, strict=False)
        except ValueError:
            pass
        else:
            if s[0] == ":" or (s[0] == "0" and ":" in s):
                raise ValueError(f"invalid CIDR {s}")
            return cidr_zones(s), port
    if not is_domain_name(s):
        raise ValueError(f"zone is not a valid domain name: {s}")
    return [s], port


def normalize_zones(args: Sequence[str]) -> tuple[str, ...]:
    """``plugin.Host(x).NormalizeExact()`` over ``args``: CIDRs expand, errors are dropped."""
    out: list[str] = []
    for a in args:
        _, rest = _transport(a)
        try:
            hosts, _ = split_host_port(rest)
        except ValueError:
            continue
        out.extend(normalize(h) for h in hosts)
    return tuple(out)


class _Stanza:
    """Reading one directive the way a plugin's setup reads it with caddy's Controller."""

    def __init__(self, d: Directive, file: str) -> None:
        self.d = d
        self.file = file

    def err(self, msg: str, line: int | None = None) -> CorefileError:
        return CorefileError(
            f"plugin/{self.d.name}: {self.file}:{line or self.d.line} - Error during parsing: {msg}"
        )

    def plain(self, msg: str) -> CorefileError:
        return CorefileError(f"plugin/{self.d.name}: {msg}")

    def arg_err(self, sub: Directive | None = None) -> CorefileError:
        last = sub.args[-1] if sub and sub.args else (sub.name if sub else (self.d.args[-1] if self.d.args else self.d.name))
        return self.err(
            f"Wrong argument count or unexpected line ending after '{last}'", sub.line if sub else None
        )

    def unknown(self, sub: Directive) -> CorefileError:
        return self.err(f"unknown property '{sub.name}'", sub.line)

    def int_arg(self, sub: Directive, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise self.plain(f'strconv.Atoi: parsing "{text}": invalid syntax') from None

    def duration(self, text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as e:
            raise self.plain(str(e)) from None


# ------------------------------------------------------------------------------ typed plugins


@dataclass(frozen=True, slots=True)
class KubernetesConfig:
    """The kubernetes plugin's options (plugin/kubernetes/setup.go)."""

    zones: tuple[str, ...]
    primary_zone: str
    pods: str = "disabled"
    namespaces: frozenset[str] = frozenset()
    fallthrough: tuple[str, ...] | None = None
    ttl: int = 5
    endpoint_pod_names: bool = False
    ignore_empty_service: bool = False
    noendpoints: bool = False


@dataclass(frozen=True, slots=True)
class ForwardConfig:
    """The forward plugin (plugin/forward/setup.go). ``to`` keeps the entries as written;
    :meth:`ServerConfig.upstreams` turns ``/etc/resolv.conf``-style paths into addresses."""

    from_zone: str
    to: tuple[str, ...]
    except_zones: tuple[str, ...] = ()
    policy: str = "random"
    max_fails: int = 2
    health_check: float = 0.5
    health_check_domain: str = "."
    #: idle upstream connections are closed after ``expire`` seconds; every connection after
    #: ``max_age`` (0: never); at most ``max_idle_conns`` idle ones kept per protocol (0: no limit)
    expire: float = 10.0
    max_age: float = 0.0
    max_idle_conns: int = 0
    max_concurrent: int = 0
    force_tcp: bool = False
    prefer_udp: bool = False
    next_rcodes: tuple[str, ...] = ()
    timeout: float = 5.0

    def matches(self, qname: str) -> bool:
        """``Forward.match``: in ``from`` and not in an ``except`` zone (``from`` itself always)."""
        from podnet.dns.names import is_subdomain

        name = normalize(qname)
        if not is_subdomain(self.from_zone, name):
            return False
        if name == self.from_zone:
            return True
        return not any(is_subdomain(z, name) for z in self.except_zones)


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """The cache plugin (plugin/cache/setup.go); TTLs in seconds."""

    zones: tuple[str, ...]
    success_ttl: int = 3600
    success_capacity: int = 10000
    success_min_ttl: int = 5
    denial_ttl: int = 1800
    denial_capacity: int = 10000
    denial_min_ttl: int = 5
    servfail_ttl: float = 5.0
    prefetch: int = 0
    prefetch_duration: float = 60.0
    prefetch_percentage: int = 10
    serve_stale: float | None = None
    serve_stale_mode: str = "immediate"
    disable_success: tuple[str, ...] = ()
    disable_denial: tuple[str, ...] = ()
    keepttl: bool = False


@dataclass(frozen=True, slots=True)
class HostsConfig:
    """The hosts plugin (plugin/hosts/setup.go)."""

    origins: tuple[str, ...]
    path: str = "/etc/hosts"
    inline: tuple[str, ...] = ()
    fallthrough: tuple[str, ...] | None = None
    fallthrough_unsupported: bool = False
    ttl: int = 3600
    reload: float = 5.0
    auto_reverse: bool = True


@dataclass(frozen=True, slots=True)
class LoadbalanceConfig:
    policy: str = "round_robin"
    prefer: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransferConfig:
    zones: tuple[str, ...]
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServerBlock:
    """One server block: its keys, zones, port and the typed config of every plugin in it."""

    keys: tuple[str, ...]
    zones: tuple[str, ...]
    port: int
    transport: str
    directives: tuple[Directive, ...]
    line: int = 0
    kubernetes: KubernetesConfig | None = None
    forward: tuple[ForwardConfig, ...] = ()
    cache: CacheConfig | None = None
    hosts: HostsConfig | None = None
    loadbalance: LoadbalanceConfig | None = None
    transfer: tuple[TransferConfig, ...] = ()
    bind: tuple[str, ...] = ()
    bind_except: tuple[str, ...] = ()
    prometheus: str | None = None
    health: str | None = None
    health_lameduck: float = 0.0
    ready: str | None = None
    errors: bool = False
    log: bool = False
    loop: bool = False
    reload: tuple[float, float] | None = None

    @property
    def plugins(self) -> tuple[str, ...]:
        """The block's plugins in the order CoreDNS chains them (plugin.cfg), not file order."""
        present = {d.name for d in self.directives}
        return tuple(p for p in PLUGIN_ORDER if p in present)


@dataclass(frozen=True, slots=True)
class Corefile:
    blocks: tuple[ServerBlock, ...]
    text: str = field(default="", compare=False, repr=False)

    def ports(self) -> tuple[int, ...]:
        return tuple(sorted({b.port for b in self.blocks}))

    def blocks_on(self, port: int) -> tuple[ServerBlock, ...]:
        return tuple(b for b in self.blocks if b.port == port)


# ------------------------------------------------------------------------------ plugin setup


def _fallthrough(args: Sequence[str]) -> tuple[str, ...]:
    return normalize_zones(args) if args else (".",)


def _origins(args: Sequence[str], keys: tuple[str, ...]) -> tuple[str, ...]:
    return normalize_zones(args) if args else keys


def _kubernetes(st: _Stanza, keys: tuple[str, ...]) -> KubernetesConfig:
    d = st.d
    zones = _origins(d.args, keys)
    primary = next((z for z in zones if not (z.endswith(".in-addr.arpa.") or z.endswith(".ip6.arpa.")
                                             or z in ("in-addr.arpa.", "ip6.arpa."))), None)
    if primary is None:
        raise st.plain("non-reverse zone name must be used")
    pods = "disabled"
    namespaces: set[str] = set()
    fall: tuple[str, ...] | None = None
    ttl = 5
    epn = ignore = noep = False
    for sub in d.block:
        a = sub.args
        match sub.name:
            case "endpoint_pod_names":
                if a:
                    raise st.arg_err(sub)
                epn = True
            case "pods":
                if len(a) != 1:
                    raise st.arg_err(sub)
                if a[0] not in ("disabled", "insecure", "verified"):
                    raise st.plain(f"wrong value for pods: {a[0]},  must be one of: disabled, verified, insecure")
                pods = a[0]
            case "namespaces":
                if not a:
                    raise st.arg_err(sub)
                namespaces.update(a)
            case "fallthrough":
                fall = _fallthrough(a)
            case "ttl":
                if len(a) != 1:
                    raise st.arg_err(sub)
                t = st.int_arg(sub, a[0])
                if not 0 <= t <= 3600:
                    raise st.err(f"ttl must be in range [0, 3600]: {t}", sub.line)
                ttl = t
            case "noendpoints":
                if a:
                    raise st.arg_err(sub)
                noep = True
            case "ignore":
                if len(a) != 1 or a[0] != "empty_service":
                    raise st.plain(f"unable to parse ignore value: '{' '.join(a)}'")
                ignore = True
            case ("endpoint" | "tls" | "kubeconfig" | "startup_timeout" | "apiserver_qps"
                  | "apiserver_burst" | "apiserver_max_inflight"):
                pass  # how CoreDNS reaches the API server; podnet reads the cluster model
            case "labels" | "namespace_labels" | "multicluster" | "zonal":
                raise st.err(f"option '{sub.name}' is not supported by podnet", sub.line)
            case _:
                raise st.unknown(sub)
    return KubernetesConfig(
        zones=zones, primary_zone=primary, pods=pods, namespaces=frozenset(namespaces),
        fallthrough=fall, ttl=ttl, endpoint_pod_names=epn, ignore_empty_service=ignore,
        noendpoints=noep,
    )


def _upstream_ok(addr: str) -> bool:
    _, rest = _transport(addr)
    if rest.startswith("/"):
        return True
    host = rest
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.split("%", 1)[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _forward(st: _Stanza) -> ForwardConfig:
    d = st.d
    if not d.args:
        raise st.arg_err()
    zones = normalize_zones([d.args[0]])
    if not zones:
        raise st.plain(f"unable to normalize '{d.args[0]}'")
    to = d.args[1:]
    if not to:
        raise st.arg_err()
    for addr in to:
        if not _upstream_ok(addr):
            raise st.plain(f"not an IP address or file: {addr!r}")
    kw: dict[str, object] = {}
    for sub in d.block:
        a = sub.args
        match sub.name:
            case "except":
                if not a:
                    raise st.arg_err(sub)
                kw["except_zones"] = normalize_zones(a)
            case "max_fails" | "max_concurrent" | "max_connect_attempts" | "max_idle_conns":
                if len(a) < 1:
                    raise st.arg_err(sub)
                n = st.int_arg(sub, a[0])
                if n < 0:
                    raise st.plain(f"{sub.name} can't be negative: {n}")
                if sub.name in ("max_fails", "max_concurrent", "max_idle_conns"):
                    kw[sub.name] = n
            case "health_check":
                if not a:
                    raise st.arg_err(sub)
                kw["health_check"] = st.duration(a[0])
                rest = list(a[1:])
                while rest:
                    opt = rest.pop(0)
                    if opt == "no_rec":
                        continue
                    if opt == "domain" and rest:
                        kw["health_check_domain"] = normalize(rest.pop(0))
                        continue
                    raise st.plain(f"health_check: unknown option {opt}")
            case "expire" | "max_age" | "read_timeout":
                if not a:
                    raise st.arg_err(sub)
                dur = st.duration(a[0])
                if dur < 0:
                    raise st.plain(f"{sub.name} can't be negative: {a[0]}")
                if sub.name in ("expire", "max_age"):
                    kw[sub.name] = dur
                if sub.name == "read_timeout":
                    kw["timeout"] = dur
            case "force_tcp" | "prefer_udp" | "next_on_nodata" | "failfast_all_unhealthy_upstreams":
                if a:
                    raise st.arg_err(sub)
                if sub.name in ("force_tcp", "prefer_udp"):
                    kw[sub.name] = True
            case "policy":
                if not a:
                    raise st.arg_err(sub)
                if a[0] not in ("random", "round_robin", "sequential"):
                    raise st.err(f"unknown policy '{a[0]}'", sub.line)
                kw["policy"] = a[0]
            case "next":
                if not a:
                    raise st.arg_err(sub)
                kw["next_rcodes"] = tuple(x.upper() for x in a)
            case "tls" | "tls_servername" | "doh_method" | "source_address":
                pass
            case _:
                raise st.unknown(sub)
    return ForwardConfig(from_zone=zones[0], to=tuple(to), **kw)  # type: ignore[arg-type]


def _cache(st: _Stanza, keys: tuple[str, ...]) -> CacheConfig:
    d = st.d
    args = list(d.args)
    kw: dict[str, object] = {}
    if args and args[0].lstrip("-").isdigit():
        ttl = int(args.pop(0))
        if ttl <= 0:
            raise st.plain(f"cache TTL can not be zero or negative: {ttl}")
        kw["success_ttl"] = kw["denial_ttl"] = ttl
    zones = _origins(args, keys)
    for sub in d.block:
        a = sub.args
        match sub.name:
            case "success" | "denial":
                if not a:
                    raise st.arg_err(sub)
                kw[f"{sub.name}_capacity"] = st.int_arg(sub, a[0])
                if len(a) > 1:
                    t = st.int_arg(sub, a[1])
                    if t <= 0:
                        raise st.plain(f"cache TTL can not be zero or negative: {t}")
                    kw[f"{sub.name}_ttl"] = t
                if len(a) > 2:
                    m = st.int_arg(sub, a[2])
                    if m < 0:
                        raise st.plain(f"cache min TTL can not be negative: {m}")
                    kw[f"{sub.name}_min_ttl"] = m
            case "prefetch":
                if not 1 <= len(a) <= 3:
                    raise st.arg_err(sub)
                kw["prefetch"] = st.int_arg(sub, a[0])
                if len(a) > 1:
                    kw["prefetch_duration"] = st.duration(a[1])
                if len(a) > 2:
                    if not a[2].endswith("%"):
                        raise st.plain(f"last character of percentage should be `%`, but is: '{a[2][-1]}'")
                    pct = st.int_arg(sub, a[2][:-1])
                    if not 10 <= pct <= 90:
                        raise st.plain(f"percentage should fall in range [10, 90]: {pct}")
                    kw["prefetch_percentage"] = pct
            case "serve_stale":
                if len(a) > 5:
                    raise st.arg_err(sub)
                kw["serve_stale"] = st.duration(a[0]) if a else 3600.0
                if len(a) > 1:
                    mode = a[1].lower()
                    if mode not in ("immediate", "verify"):
                        raise st.plain(f"invalid value for serve_stale refresh mode: {mode}")
                    kw["serve_stale_mode"] = mode
            case "servfail":
                if len(a) != 1:
                    raise st.arg_err(sub)
                dur = st.duration(a[0])
                if dur < 0:
                    raise st.plain("invalid negative ttl for servfail")
                if dur > 300:
                    raise st.plain("caching SERVFAIL responses over 5 minutes is not permitted")
                kw["servfail_ttl"] = dur
            case "disable":
                if not a:
                    raise st.arg_err(sub)
                zs = tuple(normalize(z) for z in a[1:]) or (".",)
                if a[0] not in ("success", "denial"):
                    raise st.plain('cache type for disable must be "success" or "denial"')
                kw[f"disable_{a[0]}"] = zs
            case "keepttl":
                if a:
                    raise st.arg_err(sub)
                kw["keepttl"] = True
            case "serve_stale_policy":
                pass
            case _:
                raise st.arg_err(sub)
    return CacheConfig(zones=zones, **kw)  # type: ignore[arg-type]


def _hosts(st: _Stanza, keys: tuple[str, ...]) -> HostsConfig:
    d = st.d
    args = list(d.args)
    path = "/etc/hosts"
    if args:
        path = args.pop(0)
    origins = _origins(args, keys)
    inline: list[str] = []
    kw: dict[str, object] = {}
    fall: tuple[str, ...] | None = None
    for sub in d.block:
        a = sub.args
        match sub.name:
            case "fallthrough":
                fall = _fallthrough(a)
            case "fallthrough_unsupported":
                if a:
                    raise st.arg_err(sub)
                kw["fallthrough_unsupported"] = True
            case "no_reverse":
                kw["auto_reverse"] = False
            case "ttl":
                if not a:
                    raise st.err("ttl needs a time in second", sub.line)
                try:
                    ttl = int(a[0])
                except ValueError:
                    raise st.err("ttl needs a number of second", sub.line) from None
                if not 0 < ttl <= 65535:
                    raise st.err("ttl provided is invalid", sub.line)
                kw["ttl"] = ttl
            case "reload":
                if len(a) != 1:
                    raise st.err("reload needs a duration (zero seconds to disable)", sub.line)
                try:
                    kw["reload"] = parse_duration(a[0])
                except ValueError:
                    raise st.err(f"invalid duration for reload '{a[0]}'", sub.line) from None
            case _:
                if fall is None:
                    inline.append(" ".join((sub.name, *a)))
                    continue
                raise st.unknown(sub)
    if kw.get("fallthrough_unsupported") and fall is None:
        raise st.err("fallthrough_unsupported requires fallthrough")
    return HostsConfig(origins=origins, path=path, inline=tuple(inline), fallthrough=fall, **kw)  # type: ignore[arg-type]


def _loadbalance(st: _Stanza) -> LoadbalanceConfig:
    d = st.d
    policy = "round_robin"
    if d.args:
        if d.args[0] == "round_robin":
            if len(d.args) > 1:
                raise st.err(f"unknown property for {d.args[0]}")
        elif d.args[0] == "weighted":
            raise st.err("policy 'weighted' is not supported by podnet")
        else:
            raise st.plain(f"unknown policy: {d.args[0]}")
    prefer: list[str] = []
    for sub in d.block:
        if sub.name != "prefer":
            raise st.unknown(sub)
        for c in sub.args:
            try:
                prefer.append(str(ipaddress.ip_network(c, strict=False)))
            except ValueError:
                raise st.err(f'invalid CIDR "{c}"', sub.line) from None
    return LoadbalanceConfig(policy=policy, prefer=tuple(prefer))


def _transfer(st: _Stanza, keys: tuple[str, ...]) -> TransferConfig:
    d = st.d
    to: list[str] = []
    for sub in d.block:
        if sub.name == "to":
            if not sub.args:
                raise st.arg_err(sub)
            to.extend(sub.args)
        elif sub.name == "source":
            if len(sub.args) != 1:
                raise st.arg_err(sub)
        else:
            raise st.err(f'unknown property "{sub.name}"', sub.line)
    if not to:
        raise st.err("'to' is required")
    return TransferConfig(zones=_origins(d.args, keys), to=tuple(to))


def _address(arg: str | None, default: str) -> str:
    return arg if arg else default


def _block(keys_raw: list[str], line: int, body: list[Directive], file: str) -> list[ServerBlock]:
    """Expand one parsed block into a ServerBlock per port (keys of one block share plugins)."""
    zones: list[str] = []
    ports: set[int] = set()
    transport = "dns"
    for k in keys_raw:
        transport, rest = _transport(k)
        try:
            hosts, port_text = split_host_port(rest)
        except ValueError as e:
            raise CorefileError(str(e)) from None
        ports.add(int(port_text) if port_text else _DEFAULT_PORTS.get(transport, DEFAULT_PORT))
        zones.extend(normalize(h) for h in hosts)
    if len(ports) != 1:
        raise CorefileError(f"{file}:{line} - Error during parsing: one port per server block in podnet")
    port = ports.pop()
    if transport not in ("dns",):
        raise CorefileError(f"{file}:{line} - Error during parsing: transport {transport}:// is not supported by podnet")
    keys = tuple(zones)
    seen: dict[str, int] = {}
    for d in body:
        seen[d.name] = seen.get(d.name, 0) + 1
    kw: dict[str, object] = {}
    forwards: list[ForwardConfig] = []
    transfers: list[TransferConfig] = []
    for d in body:
        st = _Stanza(d, file)
        if d.name not in SUPPORTED:
            raise st.err(f"plugin '{d.name}' is not supported by podnet")
        if seen[d.name] > 1 and d.name not in ("forward", "transfer", "log", "errors"):
            raise st.plain("this plugin can only be used once per Server Block")
        match d.name:
            case "kubernetes":
                kw["kubernetes"] = _kubernetes(st, keys)
            case "forward":
                forwards.append(_forward(st))
            case "cache":
                kw["cache"] = _cache(st, keys)
            case "hosts":
                kw["hosts"] = _hosts(st, keys)
            case "loadbalance":
                kw["loadbalance"] = _loadbalance(st)
            case "transfer":
                transfers.append(_transfer(st, keys))
            case "bind":
                if not d.args:
                    raise st.plain("at least one address or interface name is expected")
                kw["bind"] = d.args
                for sub in d.block:
                    if sub.name != "except":
                        raise st.plain(f'invalid option "{sub.name}"')
                    kw["bind_except"] = sub.args
            case "prometheus":
                if len(d.args) > 1:
                    raise st.arg_err()
                kw["prometheus"] = _address(d.args[0] if d.args else None, "localhost:9153")
            case "health":
                if len(d.args) > 1:
                    raise st.arg_err()
                kw["health"] = _address(d.args[0] if d.args else None, ":8080")
                for sub in d.block:
                    if sub.name != "lameduck" or len(sub.args) != 1:
                        raise st.unknown(sub)
                    kw["health_lameduck"] = st.duration(sub.args[0])
            case "ready":
                if len(d.args) > 1:
                    raise st.arg_err()
                kw["ready"] = _address(d.args[0] if d.args else None, ":8181")
            case "errors":
                kw["errors"] = True
            case "log":
                kw["log"] = True
            case "loop":
                if d.args:
                    raise st.arg_err()
                kw["loop"] = True
            case "reload":
                interval = st.duration(d.args[0]) if d.args else 30.0
                jitter = st.duration(d.args[1]) if len(d.args) > 1 else 15.0
                if interval < 2:
                    raise st.plain(f"interval value must be greater or equal to 2s, was {d.args[0]}")
                kw["reload"] = (interval, jitter)
    return [
        ServerBlock(
            keys=tuple(keys_raw), zones=keys, port=port, transport=transport,
            directives=tuple(body), line=line, forward=tuple(forwards),
            transfer=tuple(transfers), **kw,  # type: ignore[arg-type]
        )
    ]


def parse_corefile(text: str, filename: str = "Corefile") -> Corefile:
    """Parse and check a Corefile; raises :class:`CorefileError` with CoreDNS's message."""
    p = _Parser(tokenize(text), filename)
    blocks: list[ServerBlock] = []
    for keys, line, body in p.blocks():
        blocks.extend(_block(keys, line, body, filename))
    seen: set[tuple[str, int]] = set()
    for b in blocks:
        for z in b.zones:
            if (z, b.port) in seen:
                raise CorefileError(f"cannot serve dns://{z}:{b.port} - it is already defined")
            seen.add((z, b.port))
    return Corefile(tuple(blocks), text)


def kubeadm_corefile(cluster_domain: str = "cluster.local") -> str:
    """The Corefile ``kubeadm init`` installs (cmd/kubeadm/app/phases/addons/dns/manifests.go):
    the text of the ``kube-system/coredns`` ConfigMap the cluster layer creates."""
    return corefile(cluster_domain)


def iter_directives(block: ServerBlock) -> Iterator[Directive]:
    yield from block.directives
