"""``podnet ingress``: which backend a URL reaches through the Ingress controller, and a real
HTTP/HTTPS proxy that sends it there.

Commands and formats (part of the interface, documented in the README):

``podnet ingress route URL [--host HOST] [--sni NAME] [--client IP] [-H 'Name: value']… [--method M] [-o json]``
    The controller's verdict for one request, without sending anything. URL is ``http://`` or
    ``https://``; the Host header defaults to the URL's host (and port), ``--host`` replaces it;
    for https the SNI defaults to the URL's host, ``--sni ''`` sends none; ``--client`` is the
    client address (for ``allowlist-source-range``; default 203.0.113.10); ``-H`` adds request
    headers (canary by header or cookie). Redirects to HTTPS use port 443. ``-o json``::

        {"status": 200|308|404|503|…, "ingress": "NS/NAME"|null, "host": "rule host"|null,
         "path": "/foo"|null, "pathType": "Prefix"|"Exact"|"ImplementationSpecific"|null,
         "service": "NS/NAME"|null, "port": 80|null, "resource": {"apiGroup", "kind", "name"}|null,
         "tls_secret": "NS/NAME"|"controller-default"|null, "location": "https://…"|null,
         "upstream_path": "/…"|null, "reason": "…"}

    ``status`` is 200 when the request is proxied to a backend; ``port`` the Service port
    number (a named port resolved); ``tls_secret`` null for plain HTTP, ``controller-default``
    for the controller's self-signed certificate (CN "Kubernetes Ingress Controller Fake
    Certificate"); ``location`` the Location of a redirect; ``upstream_path`` the request target
    the backend receives (after ``rewrite-target``). The text form adds the endpoints and the
    certificate's names. Notes about the Ingresses involved (ignored Ingresses naming the host,
    conflicts, unusable Secrets) go to stderr. Exit 0 whenever a verdict was computed.

``podnet ingress serve [-f PATH… | --cluster NAME] [--listen ADDR:PORT] [--tls-listen ADDR:PORT|off] [--access-log PATH|-|off] [--seed N]``
    The controller for real (:mod:`podnet.servers.ingress`): HTTP on ``--listen`` (default
    127.0.0.1:8080), HTTPS on ``--tls-listen`` (default 127.0.0.1:8443); port 0 picks a free
    one. Every pod of a backend Service is emulated by an HTTP server on 127.0.0.1 answering
    with the JSON of :mod:`podnet.ingress.echo`. Once ready it prints one line per listener on
    stdout, ``listening on http://ADDR:PORT`` then ``listening on https://ADDR:PORT``; then the
    access log (ingress-nginx's ``upstreaminfo`` format) on stdout unless ``--access-log`` moves
    or disables it; errors on stderr. Redirects to HTTPS and ``X-Forwarded-Port`` carry the
    ports actually listened on. A stored cluster is followed: its state file is polled and the
    routes, backends and certificates are replaced when it changes. SIGTERM/SIGINT: exit 0.

``podnet ingress backends [-f PATH… | --cluster NAME] [--map-out FILE]``
    Only the emulated pods (for running another proxy, e.g. nginx in the benchmark, against
    the same backends). Writes the map ``{"NS/SVC ADDR:PORT": {"http": "127.0.0.1:P"}}`` to
    FILE (or stdout), then ``ready`` on stdout; SIGTERM/SIGINT: exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import click

from podnet.cli import store
from podnet.cli.context import CliError, Options, common_options, options, output_format, resolve
from podnet.cluster.state import ClusterState
from podnet.ingress.certs import FAKE_CERT_CN
from podnet.ingress.model import Endpoint, Request, Upstream, Verdict
from podnet.ingress.table import RouteTable
from podnet.ingress.uri import BadRequest, normalize_host

if TYPE_CHECKING:
    from podnet.servers.backend import EmulatedBackends

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
DEFAULT_CLIENT = "203.0.113.10"


@click.group("ingress", context_settings=CONTEXT_SETTINGS)
@common_options
def ingress_group() -> None:
    """Ingress: which backend a URL reaches (and why), and a real HTTP/HTTPS controller."""


# ------------------------------------------------------------------------------------ route


def _parse_url(url: str) -> tuple[str, str, str]:
    """(scheme, host[:port], target) of an http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f'error: "{url}" is not an http:// or https:// URL')
    netloc = parts.netloc.rsplit("@", 1)[-1]
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, netloc, target


def _header_args(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in values:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise CliError(f'error: -H "{h}": expected "Name: value"')
        out.setdefault(name.strip().lower(), value.strip())
    return out


def _text(v: Verdict, table: RouteTable, req: Request) -> str:
    lines: list[tuple[str, str]] = []
    kind = {200: "proxied to a backend"}.get(v.status, "")
    if v.location:
        kind = f"redirect to {v.location}"
    elif v.status == 404:
        kind = "the controller's default backend"
    elif v.status >= 500:
        kind = "answered by the controller"
    elif v.status == 403:
        kind = "denied"
    lines.append(("status", f"{v.status}" + (f" ({kind})" if kind else "")))
    lines.append(("ingress", v.ingress or "-"))
    rule = "-"
    if v.path is not None:
        rule = f"host {v.host or '*'}, path {v.path} ({v.path_type})"
    elif v.host is not None or v.ingress is not None:
        rule = f"host {v.host or '*'}, no path matched"
    lines.append(("rule", rule))
    if v.service is not None:
        lines.append(("service", f"{v.service} port {v.port if v.port is not None else '?'}"))
    if v.resource is not None:
        r = v.resource
        lines.append(("resource", f"{r.get('kind')} {r.get('name')} (apiGroup {r.get('apiGroup') or '-'})"))
    if v.upstream is not None:
        eps = ", ".join(f"{e.hostport}" + (f" ({e.pod})" if e.pod else "") for e in v.upstream.endpoints)
        lines.append(("endpoints", eps or "none ready"))
    if req.scheme == "https":
        cert, why = table.certificate(req.sni)
        if cert is None:
            names = f'CN "{FAKE_CERT_CN}"'
        else:
            names = ", ".join(cert.dns_names) or f'CN "{cert.common_name}"'
        sni = f"SNI {req.sni}" if req.sni else "no SNI"
        lines.append(("certificate", f"{v.tls_secret} ({names}; {sni})"))
    if v.upstream_path is not None:
        lines.append(("upstream", f"{req.method} {v.upstream_path}  Host: {v.upstream_host or req.host}"))
    lines.append(("reason", v.reason))
    width = max(len(k) for k, _ in lines) + 2
    return "\n".join(f"{k + ':':<{width}}{val}" for k, val in lines) + "\n"


def _notes(table: RouteTable, v: Verdict, host: str) -> list[str]:
    """Notes on the Ingresses behind a verdict: their problems, and ignored ones naming the host."""
    out: list[str] = []
    if v.ingress:
        out.extend(f"note: Ingress {n.ingress}: {n.message}" for n in table.notes if n.ingress == v.ingress)
    for n in table.ignored:
        if host in n.hosts or "" in n.hosts:
            out.append(f"note: Ingress {n.ingress} also has a rule for this host but is ignored: {n.message}")
    return out


@ingress_group.command("route", context_settings=CONTEXT_SETTINGS)
@common_options
@click.argument("url")
@click.option("--host", "host", metavar="HOST", help="Host header (default: the URL's host and port).")
@click.option("--sni", "sni", metavar="NAME", help="TLS server name (default: the URL's host; '' for none).")
@click.option("--client", "client", metavar="IP", default=DEFAULT_CLIENT, show_default=True, help="Client address.")
@click.option("-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="A request header; repeatable.")
@click.option("--method", "method", default="GET", show_default=True, help="Request method.")
@click.option("--seed", "seed", type=int, default=0, show_default=True, help="Seed of the canary-weight draw.")
@click.pass_context
def route_cmd(
    ctx: click.Context,
    url: str,
    host: str | None,
    sni: str | None,
    client: str,
    headers: tuple[str, ...],
    method: str,
    seed: int,
) -> None:
    """Which Ingress, rule, Service and certificate a request meets — nothing is sent."""
    import random

    opts = options(ctx)
    fmt = output_format(opts.output, ("", "json"))
    scheme, netloc, target = _parse_url(url)
    host_header = host if host is not None else netloc
    if scheme == "https":
        if sni is None:
            try:
                sni = normalize_host(netloc) or None
            except BadRequest:
                sni = None
        elif sni == "":
            sni = None
    else:
        sni = None
    port = urlsplit(url).port
    state = resolve(opts).state
    table = RouteTable.build(state)
    req = Request(
        scheme=scheme,
        host=host_header,
        target=target,
        method=method.upper(),
        sni=sni,
        client_ip=client,
        headers=_header_args(headers),
        server_port=port,
    )
    rng = random.Random(seed)
    v = table.route(req, lambda n: rng.randint(1, n))
    if fmt == "json":
        click.echo(json.dumps(v.to_json(), indent=2))
    else:
        click.echo(_text(v, table, req), nl=False)
    try:
        h = normalize_host(host_header)
    except BadRequest:
        h = ""
    for line in _notes(table, v, h):
        click.echo(line, err=True)


# ------------------------------------------------------------------------------------ serve


def _listen(value: str | None, what: str) -> tuple[str, int] | None:
    from podnet.servers.ingress import parse_listen

    if value is None or value.lower() == "off":
        return None
    try:
        return parse_listen(value, what)
    except ValueError as e:
        raise CliError(f"error: {e}") from None


class _Setup:
    """How serve (re)builds its route table from -f or a stored cluster."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts

    def load(self) -> ClusterState:
        if self.opts.filenames:
            return resolve(self.opts).state
        stored = store.load_stored(self.opts.cluster_name)
        if stored is None:
            raise CliError(
                f'error: cluster "{self.opts.cluster_name}" does not exist: apply manifests first '
                "(podnet apply -f PATH) or pass -f PATH"
            )
        return stored.state

    def watch_path(self) -> str | None:
        if self.opts.filenames:
            return None
        return str(store.state_path(self.opts.cluster_name))


def _stamp(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _load_map(path: str) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CliError(f"error: --backend-map {path}: {e}") from None
    if not isinstance(data, dict):
        raise CliError(f"error: --backend-map {path}: not a JSON object")
    return data


def _map_resolver(mapping: dict[str, dict[str, str]]) -> Callable[[Upstream, Endpoint, bool], tuple[str, int] | None]:
    from podnet.servers.ingress import parse_listen

    parsed: dict[tuple[str, str, int, bool], tuple[str, int]] = {}
    for key, entry in mapping.items():
        service, _, hostport = key.partition(" ")
        addr_part, _, port_part = hostport.rpartition(":")
        address = addr_part[1:-1] if addr_part.startswith("[") else addr_part
        if not port_part.isdigit():
            raise CliError(f"error: --backend-map: bad key {key!r}")
        for scheme, addr in entry.items():
            try:
                host, port = parse_listen(addr, "--backend-map")
            except ValueError as e:
                raise CliError(f"error: {e}") from None
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise CliError(f"error: --backend-map: {addr} is not a loopback address")
            parsed[(service, address, int(port_part), scheme == "https")] = (host, port)

    def resolve_ep(ups: Upstream, ep: Endpoint, tls: bool) -> tuple[str, int] | None:
        ref = ups.service_ref
        if ref is None:
            return None
        return parsed.get((ref, ep.address, ep.port, tls))

    return resolve_ep


@ingress_group.command("serve", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--listen", "listen", default="127.0.0.1:8080", show_default=True, metavar="ADDR:PORT", help="HTTP listener (port 0: any free port; off: none).")
@click.option("--tls-listen", "tls_listen", default="127.0.0.1:8443", show_default=True, metavar="ADDR:PORT", help="HTTPS listener (port 0: any free port; off: none).")
@click.option("--access-log", "access_log", default="-", show_default=True, metavar="PATH|-|off", help="Where the access log goes (-: stdout).")
@click.option("--seed", "seed", type=int, default=None, help="Seed for canary weights and request ids (default: random).")
@click.option("--backend-map", "backend_map", metavar="FILE", hidden=True, help="Use backends already running (a map written by `ingress backends`).")
@click.option("--poll", type=float, default=0.5, show_default=True, hidden=True, help="Seconds between checks of the stored cluster for changes.")
@click.pass_context
def serve_cmd(
    ctx: click.Context,
    listen: str,
    tls_listen: str,
    access_log: str,
    seed: int | None,
    backend_map: str | None,
    poll: float,
) -> None:
    """Run the Ingress controller for real: HTTP and HTTPS, each pod emulated on 127.0.0.1.

    Prints `listening on http://ADDR:PORT` and `listening on https://ADDR:PORT` once ready,
    then the access log; exits 0 on SIGTERM/SIGINT.
    """
    opts = options(ctx)
    http_addr = _listen(listen, "--listen")
    tls_addr = _listen(tls_listen, "--tls-listen")
    if http_addr is None and tls_addr is None:
        raise CliError("error: --listen and --tls-listen are both off: nothing to serve")
    setup = _Setup(opts)
    state = setup.load()
    table = RouteTable.build(state)
    for n in table.notes:
        click.echo(f"[warn] Ingress {n.ingress}: {n.message}", err=True)
    mapping = _load_map(backend_map) if backend_map else None
    log_file: TextIO | None
    close_log = False
    if access_log == "off":
        log_file = None
    elif access_log == "-":
        log_file = sys.stdout
    else:
        log_file = open(access_log, "a", buffering=1 << 16)  # noqa: SIM115
        close_log = True
    try:
        code = _run_serve(setup, table, http_addr, tls_addr, log_file, seed, mapping, poll)
    except OSError as e:
        raise CliError(f"error: listen: {e.strerror or e}") from e
    finally:
        if close_log and log_file is not None:
            log_file.close()
    ctx.exit(code)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_event(loop: asyncio.AbstractEventLoop) -> asyncio.Event:
    """An event SIGTERM and SIGINT set, so that the command stops its servers cleanly on either;
    where the loop cannot handle signals (not the main thread), none is installed."""
    stop = asyncio.Event()
    for sig in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def _run_serve(
    setup: _Setup,
    table: RouteTable,
    http_addr: tuple[str, int] | None,
    tls_addr: tuple[str, int] | None,
    log_file: TextIO | None,
    seed: int | None,
    mapping: dict[str, dict[str, str]] | None,
    poll: float,
) -> int:
    from podnet.servers.backend import EmulatedBackends, specs_for
    from podnet.servers.ingress import IngressProxy, addr_text
    from podnet.servers.ingress_tls import CertStore
    from podnet.servers.runtime import new_event_loop

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = _stop_event(loop)
        backends = EmulatedBackends()
        if mapping is not None:
            resolver = _map_resolver(mapping)
        else:
            await backends.start(specs_for(table))
            resolver = _backends_resolver(backends)
        certs = CertStore() if tls_addr is not None else None
        proxy = IngressProxy(table, resolver, certs=certs, access_log=log_file, seed=seed)
        try:
            bound = await proxy.start(http_addr, tls_addr)
            for scheme, host, port in bound:
                print(f"listening on {scheme}://{addr_text(host, port)}", flush=True)
            watch = setup.watch_path()
            last = _stamp(watch)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)
                if watch is None or stop.is_set():
                    continue
                cur = _stamp(watch)
                if cur == last:
                    continue
                last = cur
                try:
                    new_state = await asyncio.to_thread(setup.load)
                    new_table = RouteTable.build(new_state)
                    if mapping is None:
                        await backends.start(specs_for(new_table))
                    proxy.update(new_table)
                    print("[INFO] podnet: routes reloaded", file=sys.stderr, flush=True)
                except Exception as e:  # keep serving what we had
                    print(f"[ERROR] podnet: reload: {e}", file=sys.stderr, flush=True)
            return 0
        finally:
            await proxy.stop()
            await backends.stop()
            for sig in _STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main())


def _backends_resolver(backends: EmulatedBackends) -> Callable[[Upstream, Endpoint, bool], tuple[str, int] | None]:
    from podnet.servers.backend import BackendKey

    def resolve_ep(ups: Upstream, ep: Endpoint, tls: bool) -> tuple[str, int] | None:
        ref = ups.service_ref
        if ref is None:
            return None
        key = BackendKey(ref, ep.address, ep.port)
        return (backends.secure if tls else backends.plain).get(key)

    return resolve_ep


# ------------------------------------------------------------------------------------ backends


@ingress_group.command("backends", context_settings=CONTEXT_SETTINGS)
@common_options
@click.option("--map-out", "map_out", metavar="FILE", help="Write the backend map here (default: stdout).")
@click.pass_context
def backends_cmd(ctx: click.Context, map_out: str | None) -> None:
    """Run only the emulated pods of the Ingress backends (e.g. for another proxy to use)."""
    from podnet.servers.backend import EmulatedBackends, specs_for
    from podnet.servers.runtime import new_event_loop

    opts = options(ctx)
    table = RouteTable.build(_Setup(opts).load())

    async def main() -> int:
        stop = _stop_event(asyncio.get_running_loop())
        backends = EmulatedBackends()
        try:
            await backends.start(specs_for(table))
            text = json.dumps(backends.to_map(), indent=1, sort_keys=True)
            if map_out:
                Path(map_out).write_text(text + "\n")
            else:
                print(text, flush=True)
            print("ready", flush=True)
            await stop.wait()
            return 0
        finally:
            await backends.stop()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        code = runner.run(main())
    ctx.exit(code)
