"""Lint rules for Ingress: backends, TLS Secrets and certificates, conflicting rules, regex paths,
classes no controller serves.

Judged as ingress-nginx (the controller podnet runs, :mod:`podnet.ingress.table`) judges them:
it serves the Ingresses of its IngressClass (or the default one), merges them per host oldest
first — a path already served keeps its first owner — answers 503 for a backend Service that
does not exist or has no ready endpoint, and presents its self-signed "Kubernetes Ingress
Controller Fake Certificate" when a host's Secret is missing, unusable or for other names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from podnet.api.core import Secret, Service, ServicePort
from podnet.api.networking import Ingress, IngressBackend, IngressClass
from podnet.ingress import annotations as ann_mod
from podnet.ingress.certs import TLSCert, load_secret
from podnet.ingress.table import _default_class, ingress_class_of, sort_ingresses
from podnet.sim.findings import Finding, rule
from podnet.sim.lint import LintContext, checker

BACKEND_MISSING = rule(
    "ingress-backend-missing", "error",
    "An Ingress backend Service does not exist",
    "An Ingress routes to Services of its own namespace. A backend naming a Service that does not "
    "exist there gets no upstream: the controller answers 503 Service Temporarily Unavailable.",
    "ingress",
)
BACKEND_PORT_MISSING = rule(
    "ingress-backend-port-missing", "error",
    "An Ingress backend names a port its Service lacks",
    "backend.service.port is a port of the Service (spec.ports[].port by number, or its name), not "
    "the container's. A port the Service does not have resolves to no endpoint: 503.",
    "ingress",
)
BACKEND_NO_ENDPOINTS = rule(
    "ingress-backend-no-endpoints", "warning",
    "An Ingress backend Service has no ready endpoint",
    "The controller proxies to the ready endpoints of the backend Service port. With none, every "
    "request routed there is answered 503 Service Temporarily Unavailable.",
    "ingress",
)
TLS_SECRET_MISSING = rule(
    "ingress-tls-secret-missing", "error",
    "An Ingress TLS Secret does not exist",
    "spec.tls[].secretName names a Secret of the Ingress's namespace. When it is missing, the "
    "controller presents its self-signed \"Kubernetes Ingress Controller Fake Certificate\" for "
    "the hosts: browsers and HTTPS clients refuse the connection.",
    "ingress",
)
TLS_SECRET_INVALID = rule(
    "ingress-tls-secret-invalid", "error",
    "An Ingress TLS Secret is malformed",
    "The controller needs tls.crt (a PEM certificate) and tls.key (the matching unencrypted PEM "
    "private key). Anything else makes it present its fake certificate instead.",
    "ingress",
)
TLS_EXPIRED = rule(
    "ingress-tls-cert-expired", "error",
    "An Ingress TLS certificate has expired",
    "An expired certificate is still presented, and every client rejects it.",
    "ingress",
)
TLS_EXPIRING = rule(
    "ingress-tls-cert-expiring", "warning",
    "An Ingress TLS certificate expires within 30 days",
    "Renew it before clients start rejecting it.",
    "ingress",
)
TLS_HOST_MISMATCH = rule(
    "ingress-tls-host-mismatch", "error",
    "An Ingress TLS certificate does not cover a host it is used for",
    "The certificate must name the host (subjectAltName, a wildcard covering exactly one label). "
    "For a host it does not name, the controller presents its fake certificate and clients "
    "reject the connection.",
    "ingress",
)
TLS_HOST_NOT_LISTED = rule(
    "ingress-tls-host-not-listed", "warning",
    "An Ingress host is missing from its TLS section",
    "Only the hosts listed in spec.tls[].hosts get the Secret's certificate. A rule host left out "
    "of an Ingress that has a TLS section is served over HTTPS with the controller's fake "
    "certificate.",
    "ingress",
)
TLS_CONFLICT = rule(
    "ingress-tls-conflict", "warning",
    "Two Ingresses give one host different TLS Secrets",
    "ingress-nginx serves one certificate per host: the one of the oldest Ingress with a TLS "
    "section for it. The other Ingress's Secret is never presented for that host.",
    "ingress",
)
RULE_CONFLICT = rule(
    "ingress-rule-conflict", "error",
    "Two Ingress rules claim the same host and path",
    "ingress-nginx merges every Ingress of its class by host; a path (same pathType) already "
    "served by an older Ingress keeps that Ingress's backend, and the later rule never receives "
    "a request. Paths equal but for a trailing slash overlap the same way.",
    "ingress",
)
REGEX_PATH = rule(
    "ingress-regex-path", "error",
    "A regular-expression path is not matched as a regular expression",
    "Paths of pathType Exact and Prefix are literal: a path like /api/(.*) only matches a request "
    "for that literal text, i.e. never. Regular expressions need pathType ImplementationSpecific "
    "and the nginx.ingress.kubernetes.io/use-regex: \"true\" annotation (rewrite-target implies it).",
    "ingress",
)
CLASS_UNKNOWN = rule(
    "ingress-class-unknown", "warning",
    "No ingress controller serves this Ingress",
    "An Ingress is served by the controller of its IngressClass (spec.ingressClassName, the legacy "
    "kubernetes.io/ingress.class annotation, or the default class). When no controller claims it, "
    "its rules do nothing: requests for its hosts get the controller's 404.",
    "ingress",
)

_REGEX = re.compile(r"[\^$*+?()\[\]{}|\\]")
EXPIRY_WARNING = timedelta(days=30)


def _served(ctx: LintContext) -> tuple[list[Ingress], dict[str, str]]:
    """The Ingresses ingress-nginx serves (oldest first), and why each other one is ignored."""
    classes = {c.metadata.name: c for c in ctx.state.typed(IngressClass)}
    default = _default_class(classes.values())
    mine: list[Ingress] = []
    ignored: dict[str, str] = {}
    for ing in ctx.state.typed(Ingress):
        ok, why = ingress_class_of(ing, classes, default)
        if ok:
            mine.append(ing)
        else:
            ignored[ing.qualified_name] = why
    return sort_ingresses(mine), ignored


def _backends(ing: Ingress) -> Iterator[tuple[str, IngressBackend, str | None]]:
    """(field path of the backend, backend, host) for the default backend and every path."""
    if ing.spec.default_backend is not None:
        yield "spec.defaultBackend", ing.spec.default_backend, None
    for i, r in enumerate(ing.spec.rules):
        if r.http is None:
            continue
        for j, p in enumerate(r.http.paths):
            yield f"spec.rules[{i}].http.paths[{j}].backend", p.backend, r.host or None


def _url(host: str | None, path: str = "/") -> str:
    return f"http(s)://{host or '<any host>'}{path}"


# ------------------------------------------------------------------------------------ classes


@checker("ingress")
def check_class(ctx: LintContext) -> Iterator[Finding]:
    _, ignored = _served(ctx)
    for ing in ctx.applied("Ingress"):
        assert isinstance(ing, Ingress)
        why = ignored.get(ing.qualified_name)
        if why is None:
            continue
        classes = sorted(c.metadata.name for c in ctx.state.typed(IngressClass))
        field = "spec.ingressClassName" if ing.spec.ingress_class_name else "metadata"
        yield CLASS_UNKNOWN.finding(
            ing, field,
            f'Ingress "{ing.qualified_name}" is served by no controller ({why}): its rules do '
            "nothing, requests for its hosts get the controller's 404 (or another Ingress's answer)",
            f"set spec.ingressClassName to a class of a running controller ({', '.join(classes) or 'none exists'})",
        )


# ------------------------------------------------------------------------------------ backends


def _ready_endpoints(ctx: LintContext, svc: Service, port_name: str) -> int:
    n = 0
    for sl in ctx.state.endpoint_slices(svc.metadata.namespace, svc.metadata.name):
        if not any((p.name or "") == port_name for p in sl.ports):
            continue
        n += sum(1 for e in sl.endpoints if e.ready)
    return n


@checker("ingress")
def check_backends(ctx: LintContext) -> Iterator[Finding]:
    served, _ = _served(ctx)
    served_names = {i.qualified_name for i in served}
    for ing in ctx.applied("Ingress"):
        assert isinstance(ing, Ingress)
        if ing.qualified_name not in served_names:
            continue
        ns = ing.metadata.namespace
        for path, backend, host in _backends(ing):
            sb = backend.service
            if sb is None:
                continue
            where = "requests no rule matches" if host is None and path == "spec.defaultBackend" \
                else f"requests for {_url(host, _path_of(ing, path))}"
            svc = ctx.state.service(ns, sb.name)
            if svc is None:
                others = sorted(s.metadata.namespace for s in ctx.state.services() if s.metadata.name == sb.name)
                names = sorted(s.metadata.name for s in ctx.state.services(ns))
                close = difflib.get_close_matches(sb.name, names, n=1)
                if others:
                    fix = (f'a Service "{sb.name}" exists in namespace {", ".join(others)}, but an Ingress '
                           f"only reaches Services of its own namespace ({ns}): move the Ingress "
                           "there, or add a Service in this namespace")
                elif close:
                    fix = f'did you mean "{close[0]}"? Services in {ns}: {", ".join(names[:8])}'
                else:
                    fix = f"create the Service, or name one of {ns}'s: {', '.join(names[:8]) or 'none'}"
                yield BACKEND_MISSING.finding(
                    ing, f"{path}.service.name",
                    f'Ingress "{ing.qualified_name}" sends {where} to Service "{sb.name}", which does '
                    f"not exist in namespace {ns}: the controller answers 503",
                    fix,
                )
                continue
            if svc.spec.type == "ExternalName":
                continue
            port = sb.port
            sp = None
            if port is not None and port.number:
                sp = next((p for p in svc.spec.ports if p.port == port.number), None)
                ref, pfield = str(port.number), f"{path}.service.port.number"
            elif port is not None and port.name:
                sp = next((p for p in svc.spec.ports if p.name == port.name), None)
                ref, pfield = f'"{port.name}"', f"{path}.service.port.name"
            else:
                continue
            if sp is None:
                have = ", ".join(
                    f"{p.port}" + (f" ({p.name})" if p.name else "") for p in svc.spec.ports
                ) or "none"
                target_hint = ""
                if port is not None and port.number:
                    sp2 = _port_targeting(ctx, svc, port.number)
                    if sp2 is not None:
                        target_hint = (f" ({port.number} is the container port behind Service port "
                                       f"{sp2.port}: the Ingress names the Service's port, not the "
                                       "container's targetPort)")
                yield BACKEND_PORT_MISSING.finding(
                    ing, pfield,
                    f'Ingress "{ing.qualified_name}" sends {where} to port {ref} of Service '
                    f'"{svc.qualified_name}", which has no such port (it has {have}): the controller '
                    f"answers 503{target_hint}",
                    f"name a port the Service has: {have}",
                )
                continue
            if svc.spec.selector and _ready_endpoints(ctx, svc, sp.name) == 0:
                yield BACKEND_NO_ENDPOINTS.finding(
                    ing, f"{path}.service.name",
                    f'Ingress "{ing.qualified_name}" sends {where} to Service "{svc.qualified_name}" '
                    f"port {sp.port}, which has no ready endpoint: every such request is answered 503",
                    "make the Service select running pods that expose its targetPort (see the "
                    "service-* findings for this Service)",
                )


def _port_targeting(ctx: LintContext, svc: Service, number: int) -> ServicePort | None:
    """The Service port whose targetPort is container port ``number`` (by number or name)."""
    pods = ctx.service_pods(svc)
    for sp in svc.spec.ports:
        target = sp.target_port
        if target == number:
            return sp
        if isinstance(target, str) and any(
            cp.name == target and cp.container_port == number for p in pods[:1] for cp in p.spec.all_ports()
        ):
            return sp
    return None


def _path_of(ing: Ingress, field: str) -> str:
    m = re.match(r"spec\.rules\[(\d+)\]\.http\.paths\[(\d+)\]", field)
    if m is None:
        return "/"
    r = ing.spec.rules[int(m.group(1))]
    assert r.http is not None
    return r.http.paths[int(m.group(2))].path or "/"


# ------------------------------------------------------------------------------------ TLS


def _parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@checker("ingress")
def check_tls(ctx: LintContext) -> Iterator[Finding]:
    served, _ = _served(ctx)
    served_names = {i.qualified_name for i in served}
    reported_secrets: set[str] = set()
    tls_hosts: dict[str, list[tuple[Ingress, str]]] = {}
    for owner in served:
        for t in owner.spec.tls:
            for h in t.hosts:
                tls_hosts.setdefault(h.lower(), []).append((owner, t.secret_name))
    for ing in ctx.applied("Ingress"):
        assert isinstance(ing, Ingress)
        if ing.qualified_name not in served_names:
            continue
        ns = ing.metadata.namespace
        for i, t in enumerate(ing.spec.tls):
            if not t.secret_name:
                continue
            key = f"{ns}/{t.secret_name}"
            hosts = ", ".join(t.hosts) or "its hosts"
            sec = ctx.state.get("Secret", ns, t.secret_name)
            if not isinstance(sec, Secret):
                yield TLS_SECRET_MISSING.finding(
                    ing, f"spec.tls[{i}].secretName",
                    f'Ingress "{ing.qualified_name}" terminates TLS for {hosts} with Secret "{key}", '
                    "which does not exist: the controller presents its self-signed \"Kubernetes "
                    "Ingress Controller Fake Certificate\" and clients refuse the connection",
                    f"create the kubernetes.io/tls Secret {t.secret_name} in namespace {ns} "
                    f"(kubectl create secret tls {t.secret_name} -n {ns} --cert=… --key=…), or fix "
                    "the name",
                )
                continue
            cert, why = load_secret(sec)
            target = sec if ctx.is_users(sec) else ing
            if cert is None:
                if key in reported_secrets:
                    continue
                reported_secrets.add(key)
                field = "data" if target is sec else f"spec.tls[{i}].secretName"
                if target is sec and "tls.key" in why:
                    field = "data['tls.key']"
                elif target is sec and "tls.crt" in why:
                    field = "data['tls.crt']"
                yield TLS_SECRET_INVALID.finding(
                    target, field,
                    f"{why}: Ingress \"{ing.qualified_name}\" gets the controller's fake certificate "
                    f"for {hosts} instead, and clients refuse the connection",
                    "put a PEM certificate chain in tls.crt and its unencrypted PEM private key in "
                    "tls.key (kubectl create secret tls … --cert --key writes both)",
                )
                continue
            yield from _cert_findings(ctx, ing, i, sec, cert, reported_secrets)
            for k, h in enumerate(t.hosts):
                if not cert.valid_for(h):
                    names = ", ".join(cert.dns_names) or cert.common_name or "no names"
                    yield TLS_HOST_MISMATCH.finding(
                        ing, f"spec.tls[{i}].hosts[{k}]",
                        f'the certificate in Secret "{key}" is for {names}, not {h}: HTTPS to {h} is '
                        "served with the controller's fake certificate and clients refuse it",
                        f"issue a certificate that names {h} (or a wildcard covering it), or use a "
                        "Secret that has one",
                    )
        if ing.spec.tls:
            for i, r in enumerate(ing.spec.rules):
                if not r.host:
                    continue
                if r.host.lower() in tls_hosts:
                    continue
                yield TLS_HOST_NOT_LISTED.finding(
                    ing, f"spec.rules[{i}].host",
                    f'Ingress "{ing.qualified_name}" has a TLS section, but host {r.host} is not in any '
                    f"spec.tls[].hosts: https://{r.host}/ is served with the controller's fake "
                    "certificate",
                    f"add {r.host} to the hosts of a spec.tls entry whose certificate covers it",
                )
    # one host, two Secrets
    for host, owners in sorted(tls_hosts.items()):
        first_ing, first_secret = owners[0]
        for later, secret in owners[1:]:
            if later.qualified_name == first_ing.qualified_name:
                continue
            if (later.metadata.namespace, secret) == (first_ing.metadata.namespace, first_secret):
                continue
            if not ctx.is_users(later):
                continue
            idx = next(i for i, t in enumerate(later.spec.tls) if host in (h.lower() for h in t.hosts))
            yield TLS_CONFLICT.finding(
                later, f"spec.tls[{idx}].secretName",
                f'host {host} gets its certificate from Secret "{first_ing.metadata.namespace}/'
                f'{first_secret}" of the older Ingress "{first_ing.qualified_name}": Secret '
                f'"{later.metadata.namespace}/{secret}" of "{later.qualified_name}" is never presented for it',
                "use the same certificate for the host in both Ingresses, or list the host in the TLS "
                "section of one Ingress only",
            )


def _cert_findings(ctx: LintContext, ing: Ingress, i: int, sec: Secret, cert: TLSCert,
                   reported: set[str]) -> Iterator[Finding]:
    key = f"cert:{sec.qualified_name}"
    if key in reported:
        return
    reported.add(key)
    not_after = _parse_time(cert.not_after)
    if not_after is None:
        return
    target = sec if ctx.is_users(sec) else ing
    field = "data['tls.crt']" if target is sec else f"spec.tls[{i}].secretName"
    if not_after <= ctx.now:
        yield TLS_EXPIRED.finding(
            target, field,
            f'the certificate in Secret "{sec.qualified_name}" expired on {cert.not_after} '
            f'(used by Ingress "{ing.qualified_name}"): every client rejects it',
            "renew the certificate and update the Secret",
        )
    elif not_after - ctx.now <= EXPIRY_WARNING:
        days = (not_after - ctx.now).days
        yield TLS_EXPIRING.finding(
            target, field,
            f'the certificate in Secret "{sec.qualified_name}" expires on {cert.not_after}, in '
            f'{days} day{"s" if days != 1 else ""} (used by Ingress "{ing.qualified_name}")',
            "renew the certificate before it expires",
        )


# ------------------------------------------------------------------------------------ paths


def _norm_type(t: str | None) -> str:
    return "Exact" if t == "Exact" else "Prefix" if t == "Prefix" else "ImplementationSpecific"


@checker("ingress")
def check_conflicts(ctx: LintContext) -> Iterator[Finding]:
    served, _ = _served(ctx)
    owners: dict[tuple[str, str, str], tuple[Ingress, str, str]] = {}
    loose: dict[tuple[str, str, str], tuple[Ingress, str, str]] = {}
    for ing in served:
        for i, r in enumerate(ing.spec.rules):
            if r.http is None:
                continue
            host = (r.host or "").lower()
            for j, p in enumerate(r.http.paths):
                if p.backend.service is None:
                    continue
                path = p.path or "/"
                ptype = _norm_type(p.path_type)
                port = p.backend.service.port
                target = f"{ing.metadata.namespace}/{p.backend.service.name}:" + (
                    (str(port.number) if port.number else port.name) if port is not None else "")
                field = f"spec.rules[{i}].http.paths[{j}]"
                exact = (host, path, ptype)
                first = owners.get(exact)
                if first is None:
                    owners[exact] = (ing, target, field)
                    if ptype != "Exact" and len(path) > 1:
                        nkey = (host, path.rstrip("/") or "/", ptype)
                        other = loose.get(nkey)
                        if other is None:
                            loose[nkey] = (ing, target, field)
                        elif ctx.is_users(ing) and other[1] != target:
                            yield RULE_CONFLICT.finding(
                                ing, f"{field}.path",
                                f'{_url(r.host, path)} ({ptype}) and the path '
                                f'"{_path_of(other[0], other[2])}" of Ingress "{other[0].qualified_name}" '
                                "differ only by a trailing slash: they match the same requests, which "
                                f"go to {other[1]} or {target} depending on the exact path sent",
                                "keep one of the two paths",
                                severity="warning",
                            )
                    continue
                if not ctx.is_users(ing):
                    continue
                first_ing, first_target, _ = first
                same = first_target == target
                who = ("an earlier rule of this Ingress" if first_ing.qualified_name == ing.qualified_name
                       else f'the older Ingress "{first_ing.qualified_name}"')
                yield RULE_CONFLICT.finding(
                    ing, f"{field}.path",
                    f"{_url(r.host, path)} ({ptype}) is already claimed by {who}"
                    + (": this rule is a duplicate" if same else
                       f", whose backend {first_target} serves it: this rule's backend {target} never "
                       "receives a request"),
                    "remove the duplicate rule" if same else
                    "give the rules different hosts or paths, or remove the one that should not serve",
                    severity="warning" if same else "error",
                )


@checker("ingress")
def check_regex_paths(ctx: LintContext) -> Iterator[Finding]:
    for ing in ctx.applied("Ingress"):
        assert isinstance(ing, Ingress)
        settings = ann_mod.parse(ing.annotations, ann_mod.ControllerConfig())
        regex_on = settings.use_regex or bool(settings.rewrite_target)
        for i, r in enumerate(ing.spec.rules):
            if r.http is None:
                continue
            for j, p in enumerate(r.http.paths):
                path = p.path or "/"
                if not _REGEX.search(path):
                    continue
                ptype = p.path_type or "ImplementationSpecific"
                field = f"spec.rules[{i}].http.paths[{j}]"
                if ptype in ("Exact", "Prefix"):
                    yield REGEX_PATH.finding(
                        ing, f"{field}.pathType",
                        f'path "{path}" of host {r.host or "<any>"} looks like a regular expression but '
                        f"its pathType is {ptype}, which matches literally: it only matches a request "
                        f'for the literal path "{path}" — in practice never'
                        + (" (use-regex does not apply to Exact and Prefix paths)" if regex_on else ""),
                        'set pathType: ImplementationSpecific and the annotation '
                        'nginx.ingress.kubernetes.io/use-regex: "true" — or write a plain path',
                    )
                elif not regex_on:
                    yield REGEX_PATH.finding(
                        ing, f"{field}.path",
                        f'path "{path}" of host {r.host or "<any>"} looks like a regular expression, but '
                        "the Ingress has no nginx.ingress.kubernetes.io/use-regex (nor rewrite-target): "
                        "ingress-nginx matches it as a literal prefix, which no real request has",
                        'add the annotation nginx.ingress.kubernetes.io/use-regex: "true"',
                        severity="warning",
                    )



__all__ = [
    "BACKEND_MISSING",
    "BACKEND_NO_ENDPOINTS",
    "BACKEND_PORT_MISSING",
    "CLASS_UNKNOWN",
    "REGEX_PATH",
    "RULE_CONFLICT",
    "TLS_CONFLICT",
    "TLS_EXPIRED",
    "TLS_EXPIRING",
    "TLS_HOST_MISMATCH",
    "TLS_HOST_NOT_LISTED",
    "TLS_SECRET_INVALID",
    "TLS_SECRET_MISSING",
]
