"""TLS for the ingress proxy: the controller's fake certificate and certificate choice by SNI.

Why: HTTPS through an Ingress works only when the client's SNI finds the right Secret; otherwise
the controller presents its self-signed "Kubernetes Ingress Controller Fake Certificate" and the
client rejects it. The proxy must present exactly what ingress-nginx would, so that ``curl -v``
shows the same certificate (and the same mistake).

* :func:`fake_certificate` makes ingress-nginx's default certificate (``net/ssl.GetFakeSSLCert``):
  self-signed, RSA 2048, ``CN=Kubernetes Ingress Controller Fake Certificate, O=Acme Co``,
  subjectAltName ``ingress.local``, valid for a year; generated once at start, as the controller
  does.
* :class:`CertStore` holds one ``SSLContext`` per Secret the route table accepted and one for the
  default certificate; its SNI callback asks the route table which server a name belongs to
  (``certificate.lua``: exact name, then ``*.`` + the name less its first label) and switches the
  connection to that certificate. The name the client sent is remembered for the connection.

Python's ``ssl`` loads certificates only from files: each PEM pair is written to a private
temporary directory, loaded, and removed at once.
"""

from __future__ import annotations

import datetime as _dt
import os
import ssl
import tempfile
import weakref
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa as rsa_mod
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from podnet.ingress.certs import FAKE_CERT_CN, FAKE_CERT_HOST, TLSCert
from podnet.ingress.table import RouteTable


def self_signed(
    common_name: str,
    dns_names: tuple[str, ...],
    *,
    organization: str | None = None,
    rsa: bool = True,
    days: int = 365,
) -> tuple[bytes, bytes]:
    """A self-signed server certificate and its key, PEM."""
    key: rsa_mod.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if rsa:
        key = rsa_mod.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    attrs = []
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    name = x509.Name(attrs)
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=1))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=rsa,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def fake_certificate() -> tuple[bytes, bytes]:
    """ingress-nginx's generated default certificate."""
    return self_signed(FAKE_CERT_CN, (FAKE_CERT_HOST,), organization="Acme Co", rsa=True)


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A TLS server context for one certificate (HTTP/1.1 by ALPN, TLS 1.2+)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.options |= ssl.OP_NO_COMPRESSION
    with tempfile.TemporaryDirectory(prefix="podnet-tls-") as d:
        os.chmod(d, 0o700)
        cp, kp = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        with open(cp, "wb") as f:
            f.write(cert_pem)
        with open(os.open(kp, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(cp, kp)
    return ctx


class CertStore:
    """The certificates the proxy presents, switched per connection by SNI."""

    def __init__(self, default_pem: tuple[bytes, bytes] | None = None) -> None:
        cert, key = default_pem if default_pem is not None else fake_certificate()
        self.default_cert_pem = cert
        self.default = server_context(cert, key)
        self.default.sni_callback = self._on_sni
        self._by_secret: dict[str, ssl.SSLContext] = {}
        self._pems: dict[str, tuple[bytes, bytes]] = {}
        self.table: RouteTable | None = None
        self._names: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def update(self, table: RouteTable) -> None:
        """Load the certificates of a (new) route table; unchanged ones are kept."""
        fresh: dict[str, ssl.SSLContext] = {}
        pems: dict[str, tuple[bytes, bytes]] = {}
        for ref, cert in table.certs.items():
            pem = (cert.cert_pem, cert.key_pem)
            if self._pems.get(ref) == pem and ref in self._by_secret:
                fresh[ref] = self._by_secret[ref]
            else:
                fresh[ref] = self._context_for(cert)
            pems[ref] = pem
        self._by_secret, self._pems = fresh, pems
        self.table = table

    def _context_for(self, cert: TLSCert) -> ssl.SSLContext:
        ctx = server_context(cert.cert_pem, cert.key_pem)
        return ctx

    def _on_sni(self, sslobj: Any, name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if name:
            try:
                self._names[sslobj] = name
            except TypeError:
                pass
        table = self.table
        if table is None:
            return None
        server = table.cert_server(name)
        if server is not None and server.cert is not None:
            ctx = self._by_secret.get(server.cert.secret)
            if ctx is not None:
                sslobj.context = ctx
        return None

    def sni_of(self, sslobj: Any) -> str | None:
        """The server name a connection's client sent (None: no SNI)."""
        if sslobj is None:
            return None
        try:
            return self._names.pop(sslobj, None)
        except TypeError:
            return None
