"""``podnet check``: connectivity assertions a team writes by hand, answered by the model.

A spec file holds any number of ``podnet.io/v1alpha1`` ``ConnectivityCheck`` documents, each with
a list of expectations (``expectations:`` at the top level, or under ``spec:``)::

    apiVersion: podnet.io/v1alpha1
    kind: ConnectivityCheck
    metadata: {name: shop}
    expectations:
    - name: web reaches the api              # optional; made up from the rest when absent
      from: deploy/frontend/web              # see FROM below
      to: http://api.shop:8080/health        # see TO below
      protocol: TCP                          # TCP (default), UDP or SCTP
      expect: allow                          # allow | deny
    - resolve: {name: api.shop, from: frontend/web, type: A}
      expect: {addresses: [10.96.0.20]}      # and/or rcode: NXDOMAIN, cname: NAME
    - url: https://shop.example.com/api/orders
      from: outside                          # optional (default outside)
      expect: {backend: svc/shop/api:8080, tls_secret: shop/shop-tls, status: 200}

FROM is ``NS/POD`` (``pod/NS/POD``); ``NS/NAME`` naming no pod but a workload means every pod of
that workload; ``deploy/NS/NAME`` (also ``sts/``, ``ds/``, ``rs/``, ``job/``, ``cronjob/`` and the
long kind names) every pod of a workload; a selector ``{namespace: NS, labels: {k: v}}`` every pod
it picks; ``node/NAME``; ``outside``; or an IP address. TO is what :mod:`podnet.sim.endpoints`
accepts (``svc/NS/NAME:PORT``, ``NS/POD:PORT``, ``NAME:PORT``, ``IP:PORT``, a URL) — and a URL
whose host is an Ingress host goes through the ingress controller: the connection to it, its
route (:mod:`podnet.ingress.table`), then the controller's connection to the backend pod.

An expectation with several source pods passes only when every one of them gets the expected
answer; the explanation lists each pod's verdict, with the hop-by-hop trace of those that did
not. ``allow`` means the connection is delivered to a backend (for a URL through an Ingress: to
a backend pod of the route); anything else — a policy drop, a refusal, a name that does not
resolve, DNS blocked — is ``deny``, with its reason.

Specs are validated whole before anything runs: every error (unknown pod, Service or port, bad
URL, unknown field, bad ``expect``) is reported with its file, line and field, and nothing is
half-run. Everything here is pure; the ``--live`` mode lives in the CLI.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import dns.rdatatype

from podnet.api.core import Pod, Service
from podnet.api.loader import PodnetDocument
from podnet.api.meta import OwnerReference
from podnet.api.selectors import Selector
from podnet.cluster.gcpause import paused_gc
from podnet.cluster.state import ClusterState
from podnet.cluster.system import INGRESS_NGINX_NAMESPACE, INGRESS_NGINX_SERVICE
from podnet.dns.config import ServerConfig
from podnet.dns.resolvconf import pod_resolv_conf
from podnet.dns.stub import walk_model
from podnet.dns.zone import ZoneIndex
from podnet.ingress.model import Request
from podnet.ingress.model import Verdict as RouteVerdict
from podnet.ingress.table import RouteTable
from podnet.policy import PolicyIndex
from podnet.proxy import ServicePlan
from podnet.sim.endpoints import OUTSIDE_IP, TraceError, parse_target
from podnet.sim.locate import SourceText
from podnet.sim.resolve import cluster_dns_ips, server_config, zone_of
from podnet.sim.trace import Trace, trace

API_VERSION = "podnet.io/v1alpha1"
KIND = "ConnectivityCheck"
PROTOCOLS = ("TCP", "UDP", "SCTP")
RCODES = ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT")

Kind = Literal["connect", "resolve", "url"]

#: ``deploy/NS/NAME`` prefixes → workload kind
WORKLOAD_PREFIXES: Mapping[str, str] = {
    "deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment",
    "sts": "StatefulSet", "statefulset": "StatefulSet", "statefulsets": "StatefulSet",
    "ds": "DaemonSet", "daemonset": "DaemonSet", "daemonsets": "DaemonSet",
    "rs": "ReplicaSet", "replicaset": "ReplicaSet", "replicasets": "ReplicaSet",
    "job": "Job", "jobs": "Job", "cj": "CronJob", "cronjob": "CronJob", "cronjobs": "CronJob",
}
_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
_CONNECT_KEYS = {"name", "from", "to", "protocol", "expect", "description"}
_RESOLVE_KEYS = {"name", "resolve", "expect", "description"}
_URL_KEYS = {"name", "url", "from", "expect", "description", "headers"}


# ------------------------------------------------------------------------------------ errors


@dataclass(frozen=True, slots=True)
class SpecError:
    """One thing wrong with a spec, where it is written."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"error: {where}: {self.field}: {self.message}" if self.field else f"error: {where}: {self.message}"


class SpecErrors(Exception):
    """Every error of a set of specs (nothing ran)."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in errors))


# ------------------------------------------------------------------------------------ specs


@dataclass(frozen=True, slots=True)
class Sources:
    """A resolved FROM: what to start connections from, and how to say it."""

    text: str
    #: FROM values for :func:`~podnet.sim.trace.trace`: ``NS/POD``, ``node/N``, ``outside``, IPs
    refs: tuple[str, ...]
    description: str
    pods: tuple[Pod, ...] = ()


@dataclass(frozen=True, slots=True)
class Expectation:
    """One expectation of a spec, validated against the cluster."""

    check: str
    index: int
    name: str
    kind: Kind
    file: str
    line: int | None
    sources: Sources | None = None
    to: str = ""
    protocol: str = "TCP"
    allow: bool = True
    dns_name: str = ""
    rdtype: str = "A"
    addresses: tuple[str, ...] | None = None
    rcode: str | None = None
    cname: str | None = None
    url: str = ""
    backend: str | None = None
    tls_secret: str | None = None
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def expected(self) -> str:
        if self.kind == "connect":
            return "allow" if self.allow else "deny"
        parts: list[str] = []
        if self.kind == "resolve":
            if self.addresses is not None:
                parts.append(f"addresses [{', '.join(self.addresses)}]")
            if self.rcode is not None:
                parts.append(f"rcode {self.rcode}")
            if self.cname is not None:
                parts.append(f"cname {self.cname}")
        else:
            if self.backend is not None:
                parts.append(f"backend {self.backend}")
            if self.tls_secret is not None:
                parts.append(f"tls_secret {self.tls_secret}")
            if self.status is not None:
                parts.append(f"status {self.status}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "check": self.check,
                               "file": self.file, "line": self.line}
        if self.sources is not None:
            out["from"] = self.sources.text
        if self.kind == "connect":
            out.update(to=self.to, protocol=self.protocol, expect=self.expected)
        elif self.kind == "resolve":
            exp: dict[str, Any] = {}
            if self.addresses is not None:
                exp["addresses"] = list(self.addresses)
            if self.rcode is not None:
                exp["rcode"] = self.rcode
            if self.cname is not None:
                exp["cname"] = self.cname
            out.update(resolve={"name": self.dns_name, "type": self.rdtype}, expect=exp)
        else:
            e: dict[str, Any] = {}
            if self.backend is not None:
                e["backend"] = self.backend
            if self.tls_secret is not None:
                e["tls_secret"] = self.tls_secret
            if self.status is not None:
                e["status"] = self.status
            out.update(url=self.url, expect=e)
        return out


class _Parser:
    """Validates the spec documents against the cluster, collecting every error."""

    def __init__(self, state: ClusterState, texts: Mapping[str, str]) -> None:
        self.state = state
        self.texts = {p: SourceText(p, t) for p, t in texts.items()}
        self.errors: list[SpecError] = []
        self._doc: PodnetDocument | None = None
        self._prefix = ""

    # ------------------------------------------------------------------ errors

    def error(self, path: str, message: str) -> None:
        doc = self._doc
        assert doc is not None
        full = f"{self._prefix}{path}" if path else self._prefix.rstrip(".")
        line = doc.source.line
        text = self.texts.get(doc.source.path)
        if text is not None and full:
            line = text.line(doc.source.document, full) or line
        self.errors.append(SpecError(doc.source.path, line, full, message))

    def line_of(self, path: str) -> int | None:
        doc = self._doc
        assert doc is not None
        text = self.texts.get(doc.source.path)
        full = f"{self._prefix}{path}".rstrip(".")
        if text is None:
            return doc.source.line
        return text.line(doc.source.document, full) or doc.source.line

    # ------------------------------------------------------------------ documents

    def parse(self, docs: Iterable[PodnetDocument]) -> list[Expectation]:
        out: list[Expectation] = []
        for doc in docs:
            self._doc = doc
            self._prefix = ""
            if doc.kind != KIND:
                if doc.kind == "Cluster":
                    continue
                self.error("kind", f'unknown kind "{doc.kind}" in a spec file: expected {KIND}')
                continue
            if doc.data.get("apiVersion") != API_VERSION:
                self.error("apiVersion", f'"{doc.data.get("apiVersion")}" is not supported: expected {API_VERSION}')
                continue
            meta = doc.data.get("metadata") or {}
            name = str(meta.get("name", "")) if isinstance(meta, Mapping) else ""
            if not name:
                name = f"{doc.source.path.rsplit('/', 1)[-1]}#{doc.source.document}"
            items: Any = doc.data.get("expectations")
            self._prefix = "expectations"
            spec = doc.data.get("spec")
            if items is None and isinstance(spec, Mapping):
                items = spec.get("expectations")
                self._prefix = "spec.expectations"
            if items is None:
                self._prefix = ""
                self.error("expectations", "required: a list of expectations")
                continue
            if not isinstance(items, list):
                pfx, self._prefix = self._prefix, ""
                self.error(pfx, "must be a list of expectations")
                continue
            base = self._prefix
            for i, item in enumerate(items):
                self._prefix = f"{base}[{i}]."
                got = self.expectation(name, i, item)
                if got is not None:
                    out.append(got)
        return out

    def expectation(self, check: str, i: int, item: Any) -> Expectation | None:
        if not isinstance(item, Mapping):
            self.error("", "an expectation must be a mapping with from/to/expect, resolve/expect or url/expect")
            return None
        kinds = [k for k in ("to", "resolve", "url") if k in item]
        if len(kinds) != 1:
            self.error("", "exactly one of to (with from), resolve or url is required"
                       if not kinds else f"only one of to, resolve and url may be given (got {', '.join(kinds)})")
            return None
        kind = kinds[0]
        allowed = {"to": _CONNECT_KEYS, "resolve": _RESOLVE_KEYS, "url": _URL_KEYS}[kind]
        for key in item:
            if key not in allowed:
                self.error(str(key), f'unknown field "{key}" (known: {", ".join(sorted(allowed))})')
        label = item.get("name")
        if label is not None and not isinstance(label, str):
            self.error("name", "must be a string")
            label = None
        file = self._doc.source.path if self._doc else ""
        line = self.line_of("")
        if kind == "to":
            return self.connect(check, i, item, label, file, line)
        if kind == "resolve":
            return self.resolve(check, i, item, label, file, line)
        return self.url(check, i, item, label, file, line)

    # ------------------------------------------------------------------ FROM

    def sources(self, value: Any, path: str, *, allow_outside: bool = True) -> Sources | None:
        st = self.state
        if isinstance(value, Mapping):
            ns = value.get("namespace")
            labels = value.get("labels", value.get("matchLabels"))
            extra = set(value) - {"namespace", "labels", "matchLabels"}
            if extra:
                self.error(f"{path}.{sorted(extra)[0]}", "unknown field: a selector has namespace and labels")
                return None
            if not isinstance(ns, str) or not ns:
                self.error(f"{path}.namespace", "required: the namespace of the pods")
                return None
            if labels is None:
                labels = {}
            if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
                self.error(f"{path}.labels", "must map label keys to string values")
                return None
            sel = Selector.from_map({str(k): str(v) for k, v in labels.items()})
            pods = tuple(p for p in st.select_pods(ns, sel) if not p.finished)
            text = f"{ns}/{{{sel}}}" if labels else f"{ns}/*"
            if not pods:
                self.error(path, f"the selector {{namespace: {ns}, labels: {sel}}} picks no pod")
                return None
            return Sources(text, tuple(p.qualified_name for p in pods),
                           f"every pod with {sel} in {ns} ({len(pods)})", pods)
        if not isinstance(value, str) or not value.strip():
            self.error(path, "required: a pod (NS/POD), a workload (deploy/NS/NAME), a selector "
                             "{namespace, labels}, node/NAME or outside")
            return None
        text = value.strip()
        if text == "outside":
            if not allow_outside:
                self.error(path, "cannot be outside here: a client outside the cluster has no cluster DNS")
                return None
            return Sources(text, ("outside",), f"a client outside the cluster ({OUTSIDE_IP})")
        if text.startswith("node/"):
            name = text[5:]
            if st.node(name) is None:
                nodes = ", ".join(n.metadata.name for n in st.nodes[:6])
                self.error(path, f'node "{name}" not found (nodes: {nodes})')
                return None
            return Sources(text, (text,), f"node {name}")
        try:
            ipaddress.ip_address(text)
            return Sources(text, (text,), f"address {text}")
        except ValueError:
            pass
        parts = text.split("/")
        if len(parts) == 3 and parts[0] in WORKLOAD_PREFIXES:
            kind = WORKLOAD_PREFIXES[parts[0]]
            return self._workload(kind, parts[1], parts[2], text, path)
        if len(parts) == 3 and parts[0] == "pod":
            parts = parts[1:]
        if len(parts) != 2 or not all(parts):
            self.error(path, f'"{text}": expected NS/POD, deploy/NS/NAME, node/NAME, outside, an IP '
                             "address or a selector {namespace, labels}")
            return None
        ns, name = parts
        pod = st.pod(ns, name)
        if pod is not None:
            return Sources(text, (pod.qualified_name,), f"pod {pod.qualified_name}", (pod,))
        for kind in _WORKLOADS:
            if st.get(kind, ns, name) is not None:
                return self._workload(kind, ns, name, text, path)
        if st.get("Namespace", "", ns) is None:
            self.error(path, f'namespace "{ns}" not found')
        else:
            self.error(path, f'no pod or workload "{name}" in namespace {ns}')
        return None

    def _workload(self, kind: str, ns: str, name: str, text: str, path: str) -> Sources | None:
        obj = self.state.get(kind, ns, name)
        if obj is None:
            self.error(path, f'{kind} "{ns}/{name}" not found')
            return None
        pods = _workload_pods(self.state, ns).get((obj.kind, obj.metadata.name), ())
        if not pods:
            self.error(path, f"{kind} {ns}/{name} has no pod (replicas: 0, or not scheduled)")
            return None
        return Sources(text, tuple(p.qualified_name for p in pods),
                       f"every pod of {kind} {ns}/{name} ({len(pods)})", pods)

    # ------------------------------------------------------------------ connect

    def _expect_word(self, value: Any) -> bool | None:
        if value in ("allow", "deny"):
            return bool(value == "allow")
        if value is True or value is False:  # YAML 1.1 "yes"/"no" spelled by mistake
            return bool(value)
        self.error("expect", f'must be allow or deny, not {value!r}')
        return None

    def connect(self, check: str, i: int, item: Mapping[str, Any], label: str | None,
                file: str, line: int | None) -> Expectation | None:
        ok = True
        srcs = self.sources(item.get("from"), "from")
        ok &= srcs is not None
        to = item.get("to")
        if not isinstance(to, str) or not to.strip():
            self.error("to", "required: svc/NS/NAME:PORT, NS/POD:PORT, NAME:PORT, IP:PORT or a URL")
            ok = False
        else:
            ok &= self._check_target(to.strip(), "to")
        proto = item.get("protocol", "TCP")
        if not isinstance(proto, str) or proto.upper() not in PROTOCOLS:
            self.error("protocol", f'unsupported protocol "{proto}": supported values: "TCP", "UDP", "SCTP"')
            ok = False
        allow = self._expect_word(item.get("expect"))
        ok &= allow is not None
        if not ok or srcs is None or allow is None:
            return None
        to = str(to).strip()
        name = label or f"{srcs.text} → {to} ({'allow' if allow else 'deny'})"
        return Expectation(check, i, name, "connect", file, line, srcs, to, str(proto).upper(), allow)

    def _check_target(self, to: str, path: str) -> bool:
        try:
            spec = parse_target(to)
        except TraceError as e:
            self.error(path, " ".join(e.errors).removeprefix("error: "))
            return False
        st = self.state
        if spec.kind == "service":
            ns, _, name = spec.ref.partition("/")
            svc = st.service(ns, name)
            if svc is None:
                self.error(path, f'service "{spec.ref}" not found')
                return False
            if isinstance(spec.port, str) and not any(p.name == spec.port for p in svc.spec.ports):
                names = ", ".join(p.name for p in svc.spec.ports if p.name) or "none"
                self.error(path, f'service "{spec.ref}" has no port named "{spec.port}" (named ports: {names})')
                return False
            if isinstance(spec.port, int) and svc.spec.ports and not any(p.port == spec.port for p in svc.spec.ports):
                ports = ", ".join(str(p.port) for p in svc.spec.ports)
                self.error(path, f'service "{spec.ref}" has no port {spec.port} (ports: {ports})')
                return False
            if svc.is_headless or svc.spec.type == "ExternalName":
                self.error(path, f'service "{spec.ref}" has no ClusterIP ({"headless" if svc.is_headless else "ExternalName"}): '
                                 "connect to its DNS name or to a pod instead")
                return False
        elif spec.kind == "pod":
            ns, _, name = spec.ref.partition("/")
            pod = st.pod(ns, name)
            if pod is None:
                self.error(path, f'pod "{spec.ref}" not found')
                return False
            if isinstance(spec.port, str) and not any(p.name == spec.port for p in pod.spec.all_ports()):
                self.error(path, f'pod "{spec.ref}" has no container port named "{spec.port}"')
                return False
        return True

    # ------------------------------------------------------------------ resolve

    def resolve(self, check: str, i: int, item: Mapping[str, Any], label: str | None,
                file: str, line: int | None) -> Expectation | None:
        spec = item.get("resolve")
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, Mapping):
            self.error("resolve", "must be {name, from[, type]}")
            return None
        ok = True
        for key in spec:
            if key not in ("name", "from", "type"):
                self.error(f"resolve.{key}", f'unknown field "{key}" (known: from, name, type)')
                ok = False
        dname = spec.get("name")
        if not isinstance(dname, str) or not dname.strip():
            self.error("resolve.name", "required: the name to look up")
            ok = False
        rdtype = str(spec.get("type", "A")).upper()
        if rdtype not in ("A", "AAAA"):
            self.error("resolve.type", f'must be A or AAAA, not "{rdtype}"')
            ok = False
        srcs = self.sources(spec.get("from", item.get("from")), "resolve.from", allow_outside=False)
        ok &= srcs is not None
        if srcs is not None and not srcs.pods:
            self.error("resolve.from", "must be pods (a pod, a workload or a selector): names are "
                                       "resolved with a pod's resolv.conf")
            ok = False
        exp = item.get("expect")
        addresses: tuple[str, ...] | None = None
        rcode: str | None = None
        cname: str | None = None
        if not isinstance(exp, Mapping) or not exp:
            self.error("expect", "required: {addresses: [IP…]}, {rcode: NXDOMAIN|…} and/or {cname: NAME}")
            ok = False
        else:
            for key in exp:
                if key not in ("addresses", "rcode", "cname"):
                    self.error(f"expect.{key}", f'unknown field "{key}" (known: addresses, cname, rcode)')
                    ok = False
            if "addresses" in exp:
                raw = exp["addresses"]
                if isinstance(raw, str):
                    raw = [raw]
                if not isinstance(raw, list):
                    self.error("expect.addresses", "must be a list of IP addresses")
                    ok = False
                else:
                    got: list[str] = []
                    for k, a in enumerate(raw):
                        try:
                            got.append(str(ipaddress.ip_address(str(a))))
                        except ValueError:
                            self.error(f"expect.addresses[{k}]", f'"{a}" is not an IP address')
                            ok = False
                    addresses = tuple(got)
            if "rcode" in exp:
                rc = str(exp["rcode"]).upper()
                if rc not in RCODES:
                    self.error("expect.rcode", f'must be one of {", ".join(RCODES)}, not "{exp["rcode"]}"')
                    ok = False
                rcode = rc
            if "cname" in exp:
                cname = str(exp["cname"]).rstrip(".").lower()
        if not ok or srcs is None or not isinstance(dname, str):
            return None
        dname = dname.strip()
        name = label or f"resolve {dname} from {srcs.text}"
        return Expectation(check, i, name, "resolve", file, line, srcs, dns_name=dname, rdtype=rdtype,
                           addresses=addresses, rcode=rcode, cname=cname)

    # ------------------------------------------------------------------ url

    def url(self, check: str, i: int, item: Mapping[str, Any], label: str | None,
            file: str, line: int | None) -> Expectation | None:
        ok = True
        url = item.get("url")
        if not isinstance(url, str) or not _valid_url(url):
            self.error("url", f"{url!r} is not an http:// or https:// URL with a host")
            ok = False
        srcs = self.sources(item.get("from", "outside"), "from")
        ok &= srcs is not None
        exp = item.get("expect")
        backend = tls = None
        status: int | None = None
        if not isinstance(exp, Mapping) or not exp:
            self.error("expect", "required: {backend: svc/NS/NAME:PORT, tls_secret: NS/NAME, status: N}")
            ok = False
        else:
            for key in exp:
                if key not in ("backend", "tls_secret", "status"):
                    self.error(f"expect.{key}", f'unknown field "{key}" (known: backend, status, tls_secret)')
                    ok = False
            if "backend" in exp:
                backend = str(exp["backend"]) if exp["backend"] is not None else "none"
                ok &= self._check_backend(backend)
            if "tls_secret" in exp:
                tls = str(exp["tls_secret"]) if exp["tls_secret"] is not None else "none"
            if "status" in exp:
                try:
                    status = int(exp["status"])
                except (TypeError, ValueError):
                    self.error("expect.status", f"must be an HTTP status code, not {exp['status']!r}")
                    ok = False
        headers = item.get("headers") or {}
        if not isinstance(headers, Mapping):
            self.error("headers", "must map header names to values")
            ok = False
        if not ok or srcs is None or not isinstance(url, str):
            return None
        name = label or f"{url} from {srcs.text}"
        return Expectation(check, i, name, "url", file, line, srcs, url=url.strip(), backend=backend,
                           tls_secret=tls, status=status,
                           headers={str(k).lower(): str(v) for k, v in dict(headers).items()})

    def _check_backend(self, text: str) -> bool:
        if text == "none":
            return True
        m = _BACKEND.match(text)
        if m is None:
            self.error("expect.backend", f'"{text}": expected svc/NS/NAME:PORT (PORT a number or a name)')
            return False
        ns, name, port = m.group("ns"), m.group("name"), m.group("port")
        svc = self.state.service(ns, name)
        if svc is None:
            self.error("expect.backend", f'service "{ns}/{name}" not found')
            return False
        if port and not any(str(p.port) == port or p.name == port for p in svc.spec.ports):
            self.error("expect.backend", f'service "{ns}/{name}" has no port {port}')
            return False
        return True


_BACKEND = re.compile(r"^(?:svc/|service/)?(?P<ns>[a-z0-9-]+)/(?P<name>[a-z0-9.-]+)(?::(?P<port>[A-Za-z0-9-]+))?$")


def _valid_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _owners(state: ClusterState, namespace: str, first: OwnerReference) -> frozenset[tuple[str, str]]:
    """(kind, name) of every controller up a chain that starts at a pod's controller ``first``
    (ReplicaSet, Deployment…), four levels at most, as far as the owners exist."""
    out: set[tuple[str, str]] = set()
    ref: OwnerReference | None = first
    for _ in range(4):
        if ref is None:
            break
        out.add((ref.kind, ref.name))
        parent = state.get(ref.kind, namespace, ref.name)
        if parent is None:
            break
        ref = parent.metadata.controller_ref()
    return frozenset(out)


def _workload_pods(state: ClusterState, ns: str) -> Mapping[tuple[str, str], tuple[Pod, ...]]:
    """The running pods of ``ns`` under each workload (kind, name) that owns them, by name.

    Built once per state and namespace, each owner chain walked once per ReplicaSet (not per
    pod): a spec naming a hundred workloads of a 150,000-pod cluster then costs a hundred
    lookups, not a hundred walks of a namespace."""
    def build() -> dict[tuple[str, str], tuple[Pod, ...]]:
        chains: dict[tuple[str, str], frozenset[tuple[str, str]]] = {}
        by_owner: dict[tuple[str, str], list[Pod]] = {}
        for pod in state.pods(ns):
            if pod.finished:
                continue
            ref = pod.metadata.controller_ref()
            if ref is None:
                continue
            chain = chains.get((ref.kind, ref.name))
            if chain is None:
                chain = chains[(ref.kind, ref.name)] = _owners(state, ns, ref)
            for key in chain:
                by_owner.setdefault(key, []).append(pod)
        return {k: tuple(v) for k, v in by_owner.items()}

    return state.memo(("check-workload-pods", ns), build)


def parse_specs(state: ClusterState, docs: Sequence[PodnetDocument],
                texts: Mapping[str, str] | None = None) -> list[Expectation]:
    """Every expectation of ``docs`` (``ConnectivityCheck`` documents), validated against
    ``state``; raises :class:`SpecErrors` with every error (nothing is half-checked)."""
    p = _Parser(state, texts or {})
    out = p.parse(docs)
    if not p.errors and not out:
        p.errors.append(SpecError(docs[0].source.path if docs else "-", None, "",
                                  f"no {KIND} expectations found"))
    if p.errors:
        raise SpecErrors(p.errors)
    return out


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one source got."""

    source: str
    ok: bool
    actual: str
    sentence: str
    trace: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Result:
    """One expectation, answered."""

    expectation: Expectation
    passed: bool
    actual: str
    summary: str
    outcomes: tuple[Outcome, ...] = ()
    #: Where the real network disagreed with the model (``--live``): a podnet bug.
    live_mismatch: str | None = None

    @property
    def explanation(self) -> str:
        e = self.expectation
        lines = [self.summary]
        if e.sources is not None and len(e.sources.refs) > 1:
            lines.append(f"from {e.sources.description}:")
        for o in self.outcomes:
            mark = "ok  " if o.ok else "FAIL"
            lines.append(f"  [{mark}] {o.source}: {o.sentence}")
        failing = [o for o in self.outcomes if not o.ok and o.trace]
        shown = failing[:3] if failing else ([self.outcomes[0]] if self.outcomes and self.outcomes[0].trace
                                            and len(self.outcomes) == 1 else [])
        for o in shown:
            lines.append("")
            lines.extend("  " + ln for ln in o.trace.rstrip("\n").splitlines())
        if len(failing) > 3:
            lines.append(f"  … and {len(failing) - 3} more failing sources")
        if self.live_mismatch:
            lines.append("")
            lines.append(f"PODNET BUG: {self.live_mismatch}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = self.expectation.to_dict()
        out.update(
            passed=self.passed,
            actual=self.actual,
            summary=self.summary,
            explanation=self.explanation,
            sources=[{"from": o.source, "ok": o.ok, "actual": o.actual, "reason": o.sentence,
                      **({"detail": dict(o.data)} if o.data else {})} for o in self.outcomes],
        )
        if self.live_mismatch is not None:
            out["live_mismatch"] = self.live_mismatch
        return out


@dataclass(frozen=True, slots=True)
class CheckReport:
    results: tuple[Result, ...]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed,
                "results": [r.to_dict() for r in self.results]}

    def to_text(self) -> str:
        out: list[str] = []
        for r in self.results:
            e = r.expectation
            where = f"{e.file}:{e.line}" if e.line else e.file
            out.append(f"{'PASS' if r.passed else 'FAIL'}  {e.name}  ({where})")
            if not r.passed:
                out.extend("      " + ln if ln else "" for ln in r.explanation.splitlines())
        out.append("")
        out.append(f"{self.passed} passed, {self.failed} failed, {len(self.results)} expectations")
        return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------ running


class Checker:
    """Answers expectations against one state; the plans and indexes are built once."""

    #: Above this many nodes the packet's path between nodes is summarised from the cluster
    #: config instead of walked through the plugin's NetworkPlan (whose per-node plans grow with
    #: the node count): verdicts come from the same kube-proxy and policy decisions.
    PLUGIN_PATH_MAX_NODES = 200

    def __init__(self, state: ClusterState, *, plugin_path: bool | None = None) -> None:
        self.state = state
        n = len(state.node_order) or len(state.nodes)
        self.plugin_path = plugin_path if plugin_path is not None else n <= self.PLUGIN_PATH_MAX_NODES
        self._plan: ServicePlan | None = None
        self._index: PolicyIndex | None = None
        self._routes: RouteTable | None = None
        self._dns: tuple[ServerConfig, ZoneIndex] | None = None

    @property
    def plan(self) -> ServicePlan:
        if self._plan is None:
            self._plan = ServicePlan.build(self.state)
        return self._plan

    @property
    def index(self) -> PolicyIndex:
        if self._index is None:
            self._index = PolicyIndex.of(self.state)
        return self._index

    @property
    def routes(self) -> RouteTable:
        if self._routes is None:
            self._routes = RouteTable.build(self.state)
        return self._routes

    @property
    def dns(self) -> tuple[ServerConfig, ZoneIndex]:
        """The cluster DNS server's configuration and zone: the same ones every trace of this
        state resolves names with (both built once per state)."""
        if self._dns is None:
            cfg = server_config(self.state)
            self._dns = (cfg, zone_of(self.state, cfg))
        return self._dns

    def trace(self, src: str, to: str, protocol: str = "TCP") -> Trace:
        return trace(self.state, src, to, protocol, plan=self.plan, index=self.index,
                     plugin_path=self.plugin_path)

    def run(self, expectations: Iterable[Expectation]) -> CheckReport:
        """Every expectation, answered.

        The cyclic garbage collector is paused meanwhile: a run allocates many small objects
        (traces, hops, the indexes built on the way) and frees few, so its scans are overhead."""
        with paused_gc():
            return CheckReport(tuple(self.check(e) for e in expectations))

    def check(self, e: Expectation) -> Result:
        if e.kind == "connect":
            return self._connect(e)
        if e.kind == "resolve":
            return self._resolve(e)
        return self._url(e)

    # ------------------------------------------------------------------ connect

    def _connect(self, e: Expectation) -> Result:
        assert e.sources is not None
        outcomes = [self.connect_one(ref, e.to, e.protocol, e.allow) for ref in e.sources.refs]
        passed = all(o.ok for o in outcomes)
        allowed = [o for o in outcomes if o.actual == "allow"]
        actual = ("allow" if len(allowed) == len(outcomes) else
                  "deny" if not allowed else f"allow from {len(allowed)} of {len(outcomes)}")
        word = "allow" if e.allow else "deny"
        if passed:
            summary = f"expected {word}: {outcomes[0].sentence}" if len(outcomes) == 1 else \
                f"expected {word}, and every one of {len(outcomes)} sources got {word}"
        else:
            bad = [o for o in outcomes if not o.ok]
            summary = (f"expected {word}, got {actual}: {bad[0].sentence}" if len(outcomes) == 1 else
                       f"expected {word}, got {actual}; first failing source {bad[0].source}: {bad[0].sentence}")
        return Result(e, passed, actual, summary, tuple(outcomes))

    def connect_one(self, src: str, to: str, protocol: str, allow: bool) -> Outcome:
        via = self._ingress_host(to)
        if via is not None:
            return self._through_ingress(src, to, protocol, allow, via)
        try:
            t = self.trace(src, to, protocol)
        except TraceError as err:
            text = " ".join(err.errors).removeprefix("error: ")
            return Outcome(src, not allow, "deny", text, "", {"error": text})
        got = t.verdict == "delivered"
        return Outcome(src, got == allow, "allow" if got else "deny", t.sentence, t.to_text(),
                       {"verdict": t.verdict, "reason": t.reason, "backend": t.backend,
                        "target": {"ip": t.target.get("ip"), "port": t.target.get("port")},
                        "hops": len(t.hops)})

    def _ingress_host(self, to: str) -> tuple[str, str, int, str] | None:
        """(scheme, host, port, target) when ``to`` is a URL whose host an Ingress serves."""
        if "://" not in to:
            return None
        try:
            parts = urlsplit(to)
        except ValueError:
            return None
        host = (parts.hostname or "").lower()
        if not host or parts.scheme not in ("http", "https"):
            return None
        try:
            ipaddress.ip_address(host)
            return None
        except ValueError:
            pass
        server = self.routes.server_for(host)
        if server.hostname == "_":
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return parts.scheme, host, port, target

    def _controller_entry(self, src: str, scheme: str) -> str | None:
        svc = self.state.service(INGRESS_NGINX_NAMESPACE, INGRESS_NGINX_SERVICE)
        if not isinstance(svc, Service):
            return None
        want = 443 if scheme == "https" else 80
        sp = next((p for p in svc.spec.ports if p.port == want), None)
        if sp is None:
            return None
        lb = [i.ip for i in svc.status.load_balancer.ingress if i.ip]
        if lb:
            return f"{lb[0]}:{sp.port}"
        if src == "outside" and sp.node_port and self.state.nodes:
            ips = self.state.ordered_nodes()[0].internal_ips
            if ips:
                return f"{ips[0]}:{sp.node_port}"
        if src == "outside":
            return None
        return f"svc/{INGRESS_NGINX_NAMESPACE}/{INGRESS_NGINX_SERVICE}:{sp.port}"

    def route(self, url: str, client_ip: str, headers: Mapping[str, str] | None = None, *,
              follow: bool = True) -> tuple[RouteVerdict, list[str]]:
        """The ingress controller's answer for ``url``; with ``follow``, after a same-host
        redirect to HTTPS (as a browser, or ``curl -L``, goes on)."""
        notes: list[str] = []
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for _ in range(2):
            hostname = host.rpartition(":")[0] if host.count(":") == 1 else host
            req = Request(scheme=scheme, host=host, target=target,
                          sni=hostname if scheme == "https" else None,
                          client_ip=client_ip, headers=dict(headers or {}))
            v = self.routes.route(req)
            if follow and v.status in (301, 302, 307, 308) and v.location and scheme == "http":
                loc = urlsplit(v.location)
                if loc.scheme == "https" and (loc.hostname or "") == hostname.lower():
                    notes.append(f"the controller answered {v.status} → {v.location}; followed")
                    scheme, host = "https", loc.netloc
                    target = (loc.path or "/") + (f"?{loc.query}" if loc.query else "")
                    continue
            return v, notes
        return v, notes

    def _through_ingress(self, src: str, to: str, protocol: str, allow: bool,
                         via: tuple[str, str, int, str]) -> Outcome:
        scheme, host, _port, _target = via
        entry = self._controller_entry(src, scheme)
        if entry is None:
            text = f"no way in to the ingress controller for {scheme} from {src}"
            return Outcome(src, not allow, "deny", text)
        try:
            leg1 = self.trace(src, entry, "TCP")
        except TraceError as err:
            text = " ".join(err.errors).removeprefix("error: ")
            return Outcome(src, not allow, "deny", text)
        if leg1.verdict != "delivered" or leg1.backend is None:
            text = f"to the ingress controller ({entry}): {leg1.sentence}"
            return Outcome(src, not allow, "deny", text, leg1.to_text(), {"ingress_entry": entry})
        client = leg1.client_ip_seen or OUTSIDE_IP
        entry_ip, entry_port = leg1.target.get("ip"), leg1.target.get("port")
        v, notes = self.route(to, client)
        controller = str(leg1.backend.get("pod") or "")
        data: dict[str, Any] = {"ingress_entry": entry, "controller": controller, "route": v.to_json(),
                                "target": {"ip": entry_ip, "port": entry_port}, "via_ingress": True}
        if not v.proxied or not v.endpoints:
            text = f"the ingress controller answers {v.status}: {v.reason}"
            return Outcome(src, not allow, "deny", "; ".join(notes + [text]), leg1.to_text(), data)
        ep = v.endpoints[0]
        dest = f"{ep.pod}:{ep.port}" if ep.pod else (
            f"[{ep.address}]:{ep.port}" if ":" in ep.address else f"{ep.address}:{ep.port}")
        try:
            leg2 = self.trace(controller, dest, "TCP")
        except TraceError as err:
            text = " ".join(err.errors).removeprefix("error: ")
            return Outcome(src, not allow, "deny", text, leg1.to_text(), data)
        got = leg2.verdict == "delivered"
        route_text = (f"routed by Ingress {v.ingress} ({v.host or '*'} {v.path} {v.path_type}) to "
                      f"{v.service}:{v.port}")
        sentence = "; ".join(notes + [
            f"into the ingress controller {controller} via {entry}", route_text,
            f"controller → {dest}: {leg2.sentence}"])
        data["backend"] = leg2.backend
        return Outcome(src, got == allow, "allow" if got else "deny", sentence,
                       leg1.to_text() + leg2.to_text(), data)

    # ------------------------------------------------------------------ resolve

    def _resolve(self, e: Expectation) -> Result:
        assert e.sources is not None
        outcomes: list[Outcome] = []
        # pods of one namespace, DNS settings and egress policies resolve alike
        seen: dict[tuple[str, str, str, str], Outcome] = {}
        for pod in e.sources.pods:
            ip = self.index.by_key.get(pod.qualified_name)
            key = (pod.metadata.namespace, pod.spec.dns_policy or "", repr(pod.spec.dns_config),
                   repr(ip.egress_policies if ip is not None else None))
            prior = seen.get(key)
            if prior is not None and not pod.spec.host_network:
                outcomes.append(Outcome(pod.qualified_name, prior.ok, prior.actual, prior.sentence,
                                        "", prior.data))
                continue
            o = self.resolve_one(pod, e)
            seen[key] = o
            outcomes.append(o)
        passed = all(o.ok for o in outcomes)
        actual = outcomes[0].actual if outcomes else ""
        if passed:
            summary = f"expected {e.expected}: got {actual}"
        else:
            bad = next(o for o in outcomes if not o.ok)
            summary = f"expected {e.expected}, got {bad.actual} from {bad.source}: {bad.sentence}"
        return Result(e, passed, actual, summary, tuple(outcomes))

    def resolve_one(self, pod: Pod, e: Expectation) -> Outcome:
        src = pod.qualified_name
        policy = pod.spec.dns_policy or "ClusterFirst"
        if pod.spec.host_network and policy == "ClusterFirst":
            text = ("it is a host-network pod with dnsPolicy ClusterFirst: it uses the node's "
                    "resolv.conf, which does not point at cluster DNS")
            return self._judge_resolve(e, src, "SERVFAIL", (), None, text, "")
        servers = list(cluster_dns_ips(self.state))
        rc = pod_resolv_conf(pod, cluster_domain=self.state.config.cluster_domain,
                             cluster_dns=servers, host=None)
        walk_text = (f"resolv.conf: nameserver {' '.join(rc.nameservers) or '-'}; search "
                     f"{' '.join(rc.search) or '-'}; options {' '.join(rc.options) or '-'}")
        if rc.nameservers and rc.nameservers[0] in servers:
            server = rc.nameservers[0]
            q: Trace | None
            try:
                q = self.trace(src, f"{server}:53", "UDP")
            except TraceError as err:
                q = None
                blocked = " ".join(err.errors)
            else:
                blocked = "" if q is None or q.verdict == "delivered" else q.sentence
            if blocked:
                text = f"the DNS query cannot reach {server}:53/UDP: {blocked}"
                return self._judge_resolve(e, src, "TIMEOUT", (), None, text,
                                           q.to_text() if q is not None else "")
        cfg, zone = self.dns
        done = walk_model(e.dns_name, e.rdtype, rc, zone, cfg, None)
        tried = "; ".join(f"{t.name} {t.rcode}" for t in done.tried)
        want = dns.rdatatype.RdataType.make(e.rdtype)
        addresses: list[str] = []
        cname: str | None = None
        rcode = "NOERROR"
        if done.response is not None:
            for rrset in done.response.answer:
                for rd in rrset:
                    if rrset.rdtype == want:
                        addresses.append(str(ipaddress.ip_address(rd.to_text())))
                    elif rrset.rdtype == dns.rdatatype.CNAME and cname is None:
                        cname = rd.to_text().rstrip(".").lower()
        else:
            last = done.tried[-1].rcode if done.tried else "SERVFAIL"
            rcode = {"HOST_NOT_FOUND": "NXDOMAIN", "NO_DATA": "NOERROR"}.get(done.h_errno, last)
            if rcode not in RCODES:
                rcode = "SERVFAIL"
        detail = f"tried {tried or 'nothing'} ({walk_text})"
        return self._judge_resolve(e, src, rcode, tuple(addresses), cname, detail, "")

    @staticmethod
    def _judge_resolve(e: Expectation, src: str, rcode: str, addresses: tuple[str, ...],
                       cname: str | None, detail: str, trace_text: str) -> Outcome:
        ok = True
        if e.rcode is not None and e.rcode != rcode:
            ok = False
        if e.addresses is not None and sorted(e.addresses) != sorted(addresses):
            ok = False
        if e.cname is not None and e.cname != (cname or ""):
            ok = False
        actual = rcode
        if addresses:
            actual += f" [{', '.join(addresses)}]"
        elif rcode == "NOERROR":
            actual += " (no address)"
        if cname:
            actual += f" via CNAME {cname}"
        sentence = f"{e.dns_name} → {actual}: {detail}"
        return Outcome(src, ok, actual, sentence, trace_text,
                       {"rcode": rcode, "addresses": list(addresses), "cname": cname})

    # ------------------------------------------------------------------ url

    def _url(self, e: Expectation) -> Result:
        assert e.sources is not None
        outcomes: list[Outcome] = []
        for ref in e.sources.refs:
            client = OUTSIDE_IP if ref == "outside" else _ip_of(self.state, ref) or OUTSIDE_IP
            v, notes = self.route(e.url, client, e.headers, follow=False)
            outcomes.append(self._judge_url(e, ref, v, notes))
        passed = all(o.ok for o in outcomes)
        first = outcomes[0]
        summary = (f"expected {e.expected}: got {first.actual}" if passed else
                   f"expected {e.expected}, got {next(o for o in outcomes if not o.ok).actual}: "
                   f"{next(o for o in outcomes if not o.ok).sentence}")
        return Result(e, passed, first.actual, summary, tuple(outcomes))

    def _judge_url(self, e: Expectation, src: str, v: RouteVerdict, notes: list[str]) -> Outcome:
        ok = True
        got_backend = "none"
        if v.service:
            got_backend = f"svc/{v.service}:{v.port}" if v.port else f"svc/{v.service}"
        if e.backend is not None:
            ok &= _backend_matches(self.state, e.backend, v)
        got_tls = v.tls_secret or "none"
        if e.tls_secret is not None:
            ok &= e.tls_secret == got_tls
        if e.status is not None:
            ok &= e.status == v.status
        actual = f"status {v.status}, backend {got_backend}, tls_secret {got_tls}"
        sentence = "; ".join(notes + [v.reason])
        return Outcome(src, ok, actual, sentence, "", {"route": v.to_json()})


def _backend_matches(state: ClusterState, want: str, v: RouteVerdict) -> bool:
    if want == "none":
        return v.service is None
    m = _BACKEND.match(want)
    if m is None or v.service != f"{m.group('ns')}/{m.group('name')}":
        return False
    port = m.group("port")
    if not port:
        return True
    if port.isdigit():
        return v.port == int(port)
    svc = state.service(m.group("ns"), m.group("name"))
    if svc is None:
        return False
    sp = next((p for p in svc.spec.ports if p.name == port), None)
    return sp is not None and sp.port == v.port


def _ip_of(state: ClusterState, ref: str) -> str | None:
    if ref.startswith("node/"):
        node = state.node(ref[5:])
        return node.internal_ips[0] if node is not None and node.internal_ips else None
    ns, sep, name = ref.partition("/")
    if sep:
        pod = state.pod(ns, name)
        if pod is not None and pod.ips:
            return pod.ips[0]
    try:
        return str(ipaddress.ip_address(ref))
    except ValueError:
        return None


def run_checks(state: ClusterState, docs: Sequence[PodnetDocument],
               texts: Mapping[str, str] | None = None) -> CheckReport:
    """Validate ``docs`` whole (raising :class:`SpecErrors`), then answer every expectation."""
    expectations = parse_specs(state, docs, texts)
    return Checker(state).run(expectations)


__all__ = [
    "API_VERSION",
    "KIND",
    "CheckReport",
    "Checker",
    "Expectation",
    "Outcome",
    "Result",
    "SpecError",
    "SpecErrors",
    "Sources",
    "parse_specs",
    "run_checks",
]
