"""ingress-nginx's annotations and its ConfigMap, parsed the way the controller parses them.

Why: what a request meets at the controller is decided as much by annotations
(``nginx.ingress.kubernetes.io/rewrite-target``, ``ssl-redirect``, ``canary-weight``…) and by
the controller's ConfigMap (``ingress-nginx/ingress-nginx-controller``) as by the Ingress spec.
Users copy these from the ingress-nginx docs; podnet must give them the same meaning.

Behaviour reproduced (re-implemented, not copied) from ingress-nginx
``internal/ingress/annotations`` (parser, rewrite, redirect, canary, ipallowlist,
backendprotocol, proxy, xforwardedprefix) and ``docs/user-guide/nginx-configuration``
(annotations.md, configmap.md):

* booleans are Go ``strconv.ParseBool`` (``1 t T TRUE true True 0 f F FALSE false False``);
  integers ``strconv.Atoi``; a value that does not parse is as if the annotation were absent
  (the parser logs and keeps the default);
* ``ssl-redirect``, ``force-ssl-redirect``, ``preserve-trailing-slash`` default to the
  ConfigMap's values (``ssl-redirect: "true"``, the others false);
* ``temporal-redirect`` wins over ``permanent-redirect``; codes outside 300..307 (temporal) or
  300..308 (permanent) fall back to 302 and 301; the URL must be http(s);
* ``app-root`` must be a path, not an absolute URL;
* ``allowlist-source-range`` (alias ``whitelist-source-range``) is a comma separated list of
  CIDRs or addresses; entries that do not parse are dropped, and when none parses the location
  is *denied* (answered 503) — ingress-nginx's ``LocationDeniedError``; without the annotation
  the ConfigMap's ``whitelist-source-range`` applies;
* canary annotations are read only with ``canary: "true"`` (otherwise they are a configuration
  error and ignored).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

PREFIX = "nginx.ingress.kubernetes.io/"

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_bool(value: str | None) -> bool | None:
    """Go's ``strconv.ParseBool``: None when absent or not a boolean."""
    if value is None:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_int(value: str | None) -> int | None:
    """Go's ``strconv.Atoi`` (optional sign, decimal digits)."""
    if value is None:
        return None
    text = value
    if text[:1] in ("+", "-"):
        text = text[1:]
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(value)


def parse_size(value: str | None) -> int | None:
    """An nginx size (``1m``, ``8k``, ``0`` = unlimited) in bytes; None when it does not parse."""
    if value is None:
        return None
    text = value.strip().lower()
    mult = 1
    if text[-1:] in ("k", "m", "g"):
        mult = {"k": 1024, "m": 1024**2, "g": 1024**3}[text[-1]]
        text = text[:-1]
    if not text.isdigit():
        return None
    return int(text) * mult


def parse_seconds(value: str | None) -> float | None:
    """A timeout: unitless seconds (annotations) or an nginx time (``60s``, ``1m``)."""
    if value is None:
        return None
    text = value.strip().lower()
    mult = 1.0
    if text.endswith("ms"):
        mult, text = 0.001, text[:-2]
    elif text[-1:] in ("s", "m", "h"):
        mult = {"s": 1.0, "m": 60.0, "h": 3600.0}[text[-1]]
        text = text[:-1]
    if not text.isdigit():
        return None
    return int(text) * mult


def parse_cidrs(value: str) -> tuple[tuple[IPNetwork, ...], list[str]]:
    """``allowlist-source-range``: networks that parse, and the entries that did not."""
    nets: list[IPNetwork] = []
    bad: list[str] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            bad.append(item)
    return tuple(sorted(set(nets), key=str)), bad


# ------------------------------------------------------------------------------------ ConfigMap


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """The keys of the ingress-nginx ConfigMap podnet honours, with ingress-nginx's defaults."""

    ssl_redirect: bool = True
    force_ssl_redirect: bool = False
    preserve_trailing_slash: bool = False
    http_redirect_code: int = 308
    use_forwarded_headers: bool = False
    compute_full_forwarded_for: bool = False
    generate_request_id: bool = True
    allowlist: tuple[IPNetwork, ...] = ()
    proxy_body_size: int = 1024 * 1024
    proxy_connect_timeout: float = 5.0
    proxy_read_timeout: float = 60.0
    proxy_send_timeout: float = 60.0
    proxy_next_upstream_tries: int = 3
    client_header_timeout: float = 60.0
    client_body_timeout: float = 60.0
    keep_alive: float = 75.0
    keep_alive_requests: int = 1000
    upstream_keepalive_timeout: float = 60.0
    upstream_keepalive_requests: int = 10000
    #: ConfigMap keys that did not parse (reported by ``ingress route``).
    problems: tuple[str, ...] = ()

    @staticmethod
    def from_data(data: Mapping[str, str]) -> ControllerConfig:
        problems: list[str] = []
        kw: dict[str, object] = {}

        def boolean(key: str, attr: str) -> None:
            if key in data:
                b = parse_bool(data[key])
                if b is None:
                    problems.append(f"{key}: {data[key]!r} is not a boolean")
                else:
                    kw[attr] = b

        def seconds(key: str, attr: str) -> None:
            if key in data:
                s = parse_seconds(data[key])
                if s is None:
                    problems.append(f"{key}: {data[key]!r} is not a duration")
                else:
                    kw[attr] = s

        def integer(key: str, attr: str) -> None:
            if key in data:
                i = parse_int(data[key])
                if i is None:
                    problems.append(f"{key}: {data[key]!r} is not an integer")
                else:
                    kw[attr] = i

        boolean("ssl-redirect", "ssl_redirect")
        boolean("force-ssl-redirect", "force_ssl_redirect")
        boolean("preserve-trailing-slash", "preserve_trailing_slash")
        boolean("use-forwarded-headers", "use_forwarded_headers")
        boolean("compute-full-forwarded-for", "compute_full_forwarded_for")
        boolean("generate-request-id", "generate_request_id")
        integer("http-redirect-code", "http_redirect_code")
        if kw.get("http_redirect_code") not in (None, 301, 302, 307, 308):
            problems.append("http-redirect-code: must be 301, 302, 307 or 308")
            kw.pop("http_redirect_code")
        seconds("proxy-connect-timeout", "proxy_connect_timeout")
        seconds("proxy-read-timeout", "proxy_read_timeout")
        seconds("proxy-send-timeout", "proxy_send_timeout")
        seconds("client-header-timeout", "client_header_timeout")
        seconds("client-body-timeout", "client_body_timeout")
        seconds("keep-alive", "keep_alive")
        seconds("upstream-keepalive-timeout", "upstream_keepalive_timeout")
        integer("keep-alive-requests", "keep_alive_requests")
        integer("upstream-keepalive-requests", "upstream_keepalive_requests")
        integer("proxy-next-upstream-tries", "proxy_next_upstream_tries")
        if "proxy-body-size" in data:
            size = parse_size(data["proxy-body-size"])
            if size is None:
                problems.append(f"proxy-body-size: {data['proxy-body-size']!r} is not a size")
            else:
                kw["proxy_body_size"] = size
        if "whitelist-source-range" in data:
            nets, bad = parse_cidrs(data["whitelist-source-range"])
            kw["allowlist"] = nets
            problems.extend(f"whitelist-source-range: {b!r} is not a CIDR" for b in bad)
        return ControllerConfig(problems=tuple(problems), **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ Ingress


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    code: int
    #: which annotation asked for it: "permanent-redirect" or "temporal-redirect"
    kind: str


@dataclass(frozen=True, slots=True)
class Canary:
    enabled: bool = False
    header: str = ""
    header_value: str = ""
    header_pattern: str = ""
    cookie: str = ""
    weight: int = 0
    weight_total: int = 100


@dataclass(frozen=True, slots=True)
class IngressAnnotations:
    """The annotations of one Ingress that change routing, as ingress-nginx reads them."""

    rewrite_target: str = ""
    use_regex: bool = False
    app_root: str = ""
    ssl_redirect: bool = True
    force_ssl_redirect: bool = False
    preserve_trailing_slash: bool = False
    redirect: Redirect | None = None
    canary: Canary = Canary()
    allowlist: tuple[IPNetwork, ...] = ()
    #: why the location is denied (answered 503), or "" — a broken allowlist
    denied: str = ""
    backend_protocol: str = "HTTP"
    x_forwarded_prefix: str = ""
    proxy_body_size: int = 1024 * 1024
    proxy_connect_timeout: float = 5.0
    proxy_read_timeout: float = 60.0
    proxy_send_timeout: float = 60.0
    proxy_next_upstream_tries: int = 3
    upstream_vhost: str = ""
    #: annotations whose value did not parse (kept for ``ingress route`` to show)
    problems: tuple[str, ...] = field(default=(), compare=False)


BACKEND_PROTOCOLS = ("HTTP", "HTTPS", "AUTO_HTTP", "GRPC", "GRPCS", "FCGI")


def for_location_without_ingress(cfg: ControllerConfig) -> IngressAnnotations:
    """The controller's own catch-all location: no annotations at all (ssl-redirect off)."""
    return IngressAnnotations(
        ssl_redirect=False,
        allowlist=(),
        proxy_body_size=cfg.proxy_body_size,
        proxy_connect_timeout=cfg.proxy_connect_timeout,
        proxy_read_timeout=cfg.proxy_read_timeout,
        proxy_send_timeout=cfg.proxy_send_timeout,
        proxy_next_upstream_tries=cfg.proxy_next_upstream_tries,
    )


def parse(annotations: Mapping[str, str], cfg: ControllerConfig) -> IngressAnnotations:
    """The routing-relevant annotations of an Ingress, defaults from the ConfigMap."""
    problems: list[str] = []

    def get(name: str) -> str | None:
        return annotations.get(PREFIX + name)

    def boolean(name: str, default: bool) -> bool:
        raw = get(name)
        b = parse_bool(raw)
        if raw is not None and b is None:
            problems.append(f"{PREFIX}{name}: {raw!r} is not a boolean")
        return default if b is None else b

    def integer(name: str, default: int) -> int:
        raw = get(name)
        i = parse_int(raw)
        if raw is not None and i is None:
            problems.append(f"{PREFIX}{name}: {raw!r} is not an integer")
        return default if i is None else i

    def seconds(name: str, default: float) -> float:
        raw = get(name)
        s = parse_seconds(raw)
        if raw is not None and s is None:
            problems.append(f"{PREFIX}{name}: {raw!r} is not a number of seconds")
        return default if s is None else s

    rewrite_target = (get("rewrite-target") or "").strip()
    app_root = (get("app-root") or "").strip()
    if app_root and ("://" in app_root or not app_root.startswith("/")):
        problems.append(f"{PREFIX}app-root: {app_root!r} must be a path, not an absolute URL")
        app_root = ""

    redirect: Redirect | None = None
    temporal = (get("temporal-redirect") or "").strip()
    permanent = (get("permanent-redirect") or "").strip()
    if temporal:
        code = integer("temporal-redirect-code", 302)
        if code < 300 or code > 307:
            code = 302
        if _http_url(temporal):
            redirect = Redirect(temporal, code, "temporal-redirect")
        else:
            problems.append(f"{PREFIX}temporal-redirect: only http and https URLs are valid")
    elif permanent:
        code = integer("permanent-redirect-code", 301)
        if code < 300 or code > 308:
            code = 301
        if _http_url(permanent):
            redirect = Redirect(permanent, code, "permanent-redirect")
        else:
            problems.append(f"{PREFIX}permanent-redirect: only http and https URLs are valid")

    canary_on = boolean("canary", False)
    canary = Canary()
    if canary_on:
        canary = Canary(
            enabled=True,
            header=(get("canary-by-header") or "").strip(),
            header_value=(get("canary-by-header-value") or "").strip(),
            header_pattern=(get("canary-by-header-pattern") or "").strip(),
            cookie=(get("canary-by-cookie") or "").strip(),
            weight=integer("canary-weight", 0),
            weight_total=integer("canary-weight-total", 100),
        )

    allowlist = cfg.allowlist
    denied = ""
    raw_allow = get("allowlist-source-range")
    if raw_allow is None:
        raw_allow = get("whitelist-source-range")
    if raw_allow is not None:
        nets, bad = parse_cidrs(raw_allow)
        if nets:
            allowlist = nets
            problems.extend(f"allowlist-source-range: {b!r} is not a CIDR (ignored)" for b in bad)
        else:
            denied = (
                "the annotation does not contain a valid IP address or network: "
                f"{raw_allow!r}"
            )

    proto = (get("backend-protocol") or "HTTP").strip().upper()
    if proto not in BACKEND_PROTOCOLS:
        problems.append(f"{PREFIX}backend-protocol: {proto!r} is not one of {', '.join(BACKEND_PROTOCOLS)}")
        proto = "HTTP"

    body_size = cfg.proxy_body_size
    raw_size = get("proxy-body-size")
    if raw_size is not None:
        size = parse_size(raw_size)
        if size is None:
            problems.append(f"{PREFIX}proxy-body-size: {raw_size!r} is not a size")
        else:
            body_size = size

    return IngressAnnotations(
        rewrite_target=rewrite_target,
        use_regex=boolean("use-regex", False),
        app_root=app_root,
        ssl_redirect=boolean("ssl-redirect", cfg.ssl_redirect),
        force_ssl_redirect=boolean("force-ssl-redirect", cfg.force_ssl_redirect),
        preserve_trailing_slash=boolean("preserve-trailing-slash", cfg.preserve_trailing_slash),
        redirect=redirect,
        canary=canary,
        allowlist=allowlist,
        denied=denied,
        backend_protocol=proto,
        x_forwarded_prefix=(get("x-forwarded-prefix") or "").strip(),
        proxy_body_size=body_size,
        proxy_connect_timeout=seconds("proxy-connect-timeout", cfg.proxy_connect_timeout),
        proxy_read_timeout=seconds("proxy-read-timeout", cfg.proxy_read_timeout),
        proxy_send_timeout=seconds("proxy-send-timeout", cfg.proxy_send_timeout),
        proxy_next_upstream_tries=integer("proxy-next-upstream-tries", cfg.proxy_next_upstream_tries),
        upstream_vhost=(get("upstream-vhost") or "").strip(),
        problems=tuple(problems),
    )


def _http_url(url: str) -> bool:
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower().startswith("http")
