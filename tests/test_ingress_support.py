"""Helpers for the Ingress tests: manifests, ``podnet ingress serve`` in a subprocess, HTTP(S)
clients that say which certificate they were shown, and raw backends the tests control.

Everything listens and connects on 127.0.0.1 only. Expectations in the tests come from the
Kubernetes Ingress documentation (path-matching table, host wildcards), the
kubernetes-sigs/ingress-controller-conformance features, and ingress-nginx's documentation and
e2e tests — each test cites its source — never from podnet's own output.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
FAKE_CN = "Kubernetes Ingress Controller Fake Certificate"


# ------------------------------------------------------------------------------------ manifests


def app(ns: str, name: str, replicas: int = 1, port: int = 80, target: int = 8080, port_name: str = "http") -> list[dict[str, Any]]:
    """A Deployment of ``replicas`` pods and its Service (port → named targetPort)."""
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "echo", "ports": [{"name": port_name, "containerPort": target}]}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"name": port_name, "port": port, "targetPort": port_name}]},
        },
    ]


def namespace(ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}


def backend(svc: str, port: int | str) -> dict[str, Any]:
    p = {"number": port} if isinstance(port, int) else {"name": port}
    return {"service": {"name": svc, "port": p}}


def ingress(
    ns: str,
    name: str,
    rules: list[tuple[str | None, list[tuple[str, str, str, int | str]]]] = (),  # type: ignore[assignment]
    *,
    tls: list[tuple[list[str], str]] = (),  # type: ignore[assignment]
    annotations: dict[str, str] | None = None,
    class_name: str | None = "nginx",
    default_backend: tuple[str, int | str] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """An Ingress: rules are (host or None, [(path, pathType, service, port)])."""
    spec: dict[str, Any] = {}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    if default_backend is not None:
        spec["defaultBackend"] = backend(*default_backend)
    if tls:
        spec["tls"] = [{"hosts": hosts, "secretName": secret} for hosts, secret in tls]
    if rules:
        spec["rules"] = []
        for host, paths in rules:
            rule: dict[str, Any] = {
                "http": {
                    "paths": [{"path": p, "pathType": t, "backend": backend(s, port)} for p, t, s, port in paths]
                }
            }
            if host:
                rule["host"] = host
            spec["rules"].append(rule)
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def tls_secret(ns: str, name: str, cert: bytes, key: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": ns},
        "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
    }


def self_signed(names: list[str], cn: str | None = None) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``names`` (the conformance suite's "self-signed TLS secret")."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or names[0])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def write_manifests(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------ serving


def podnet_cmd() -> list[str]:
    return [sys.executable, "-m", "podnet.cli.main"]


def env(home: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["PODNET_HOME"] = str(home)
    e["PYTHONUNBUFFERED"] = "1"
    src = str(ROOT / "src")
    e["PYTHONPATH"] = src + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def podnet(*args: str, home: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*podnet_cmd(), *args], capture_output=True, text=True, env=env(home), timeout=120, input=input)


class Lines:
    """Lines of a stream, collected by a thread."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str] | None:
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)


@dataclass
class Served:
    proc: subprocess.Popen[str]
    out: Lines
    err: Lines
    http_port: int
    https_port: int
    listening: list[str] = field(default_factory=list)

    def access_lines(self) -> list[str]:
        return [l for l in self.out.lines if not l.startswith("listening on")]


def start(manifest: Path, home: Path, *extra: str) -> Served:
    args = [*podnet_cmd(), "ingress", "serve", "-f", str(manifest), "--listen", f"{LOOPBACK}:0",
            "--tls-listen", f"{LOOPBACK}:0", "--seed", "7", *extra]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(home))
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    m1 = out.wait_for(r"^listening on http://127\.0\.0\.1:(\d+)$", 60)
    m2 = out.wait_for(r"^listening on https://127\.0\.0\.1:(\d+)$", 10)
    if m1 is None or m2 is None:
        proc.kill()
        raise AssertionError(f"serve did not start: {out.lines} {err.lines}")
    return Served(proc, out, err, int(m1.group(1)), int(m2.group(1)), out.lines[:2])


def stop(s: Served, sig: int = signal.SIGTERM) -> int:
    if s.proc.poll() is None:
        s.proc.send_signal(sig)
    try:
        return s.proc.wait(15)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        s.proc.wait()
        return -9


@contextmanager
def serving(tmp: Path, docs: list[dict[str, Any]], *extra: str) -> Iterator[Served]:
    manifest = write_manifests(tmp / "manifests.yaml", docs)
    s = start(manifest, tmp / "home", *extra)
    try:
        yield s
    finally:
        code = stop(s)
        assert code == 0, f"serve exited {code}: {s.err.lines[-20:]}"


# ------------------------------------------------------------------------------------ clients


@dataclass
class Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    cert: dict[str, Any] | None = None

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def _tls_context(cafile: bytes | None = None, check_hostname: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is not None:
        ctx.load_verify_locations(cadata=cafile.decode())
        ctx.check_hostname = check_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cert_info(der: bytes) -> dict[str, Any]:
    c = x509.load_der_x509_certificate(der)
    cn = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        sans = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    return {"cn": str(cn[0].value) if cn else "", "sans": list(sans), "der": der}


class HTTPSConnectionSNI(http.client.HTTPSConnection):
    """An HTTPS connection to 127.0.0.1 with a chosen SNI (None: no SNI at all)."""

    def __init__(self, port: int, sni: str | None, context: ssl.SSLContext, timeout: float = 10.0) -> None:
        super().__init__(LOOPBACK, port, timeout=timeout, context=context)
        self._sni = sni
        self._ctx = context

    def connect(self) -> None:
        raw = socket.create_connection((LOOPBACK, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(raw, server_hostname=self._sni)


def request(
    port: int,
    host: str | None,
    path: str = "/",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    https: bool = False,
    sni: str | None | bool = True,
    cafile: bytes | None = None,
    check_hostname: bool = False,
    timeout: float = 10.0,
) -> Response:
    """One request on a fresh connection. ``sni=True``: the Host's name; a string; None: no SNI."""
    conn: http.client.HTTPConnection
    if https:
        name = (host or "").split(":")[0] if sni is True else (None if sni is False else sni)
        conn = HTTPSConnectionSNI(port, name if isinstance(name, str) or name is None else None,
                                  _tls_context(cafile, check_hostname), timeout)
    else:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        cert = None
        if https and conn.sock is not None:
            der = conn.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
            cert = cert_info(der) if der else None
        return Response(r.status, r.reason, r.headers, data, cert)
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes, *, timeout: float = 5.0, read_until_close: bool = True) -> bytes:
    """Send raw bytes, read what comes back until the server closes (or the timeout)."""
    with socket.create_connection((LOOPBACK, port), timeout) as s:
        s.sendall(data)
        chunks = []
        s.settimeout(timeout)
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                if not read_until_close:
                    break
        except (TimeoutError, socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks)


# ------------------------------------------------------------------------------------ endpoints


def endpoints(manifest: Path, home: Path, ns: str) -> dict[str, list[tuple[str, int, str]]]:
    """Service name → (pod IP, targetPort, pod name), from `podnet get endpointslices -o json`."""
    r = podnet("get", "endpointslices", "-n", ns, "-f", str(manifest), "-o", "json", home=home)
    assert r.returncode == 0, r.stderr
    out: dict[str, list[tuple[str, int, str]]] = {}
    for sl in json.loads(r.stdout)["items"]:
        svc = sl["metadata"].get("labels", {}).get("kubernetes.io/service-name", "")
        ports = [p["port"] for p in sl.get("ports") or []]
        for ep in sl.get("endpoints") or []:
            for addr in ep["addresses"]:
                for port in ports:
                    out.setdefault(svc, []).append((addr, port, ep.get("targetRef", {}).get("name", "")))
    return out


class RawBackend:
    """A backend the test scripts: each accepted connection is handed to ``handler(sock)``."""

    def __init__(self, handler: Any) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.handler = handler
        self.accepted = 0
        self._stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def read_request(conn: socket.socket, timeout: float = 10.0) -> bytes:
    """The head of one request (and whatever body bytes came with it)."""
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        b = conn.recv(65536)
        if not b:
            break
        data += b
    return data


def closed_port() -> int:
    """A loopback port nothing listens on."""
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


# ------------------------------------------------------------------------------------ self-tests


def test_self_signed_names() -> None:
    cert, _ = self_signed(["a.example.com", "*.b.example.com"])
    info = cert_info(x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER))
    assert info["cn"] == "a.example.com"
    assert info["sans"] == ["a.example.com", "*.b.example.com"]


def test_ingress_builder_shapes_a_valid_ingress() -> None:
    ing = ingress("ns", "x", [("h.example.com", [("/a", "Prefix", "svc", "http")])], class_name=None)
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {"service": {"name": "svc", "port": {"name": "http"}}}
    assert "ingressClassName" not in ing["spec"]
