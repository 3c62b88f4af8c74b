"""TLS Secrets as the ingress controller judges them: usable or not, and for which names.

Why: whether ``https://shop.example.com`` is served with the Ingress's certificate or with the
controller's self-signed "Kubernetes Ingress Controller Fake Certificate" depends on the Secret
holding a certificate and matching key, and on the certificate naming the host — a mistake
every Ingress user makes once, and that ``podnet ingress route`` must be able to point at.

Behaviour reproduced (re-implemented, not copied) from ingress-nginx:

* ``store/backend_ssl.go`` + ``net/ssl``: a Secret is usable when ``tls.crt`` holds a PEM
  certificate and ``tls.key`` the matching private key (Go's ``tls.X509KeyPair``);
* ``controller.go createServers``: the certificate must be valid for the server's host —
  Go's ``Certificate.VerifyHostname`` (subjectAltName DNS names, ``*`` standing for exactly one
  leftmost label, case-insensitive), then, as ingress-nginx still does, the Common Name.

Parsing with ``cryptography`` is pure computation; no file or socket is touched here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from podnet.api.core import Secret

#: The Common Name of ingress-nginx's generated default certificate.
FAKE_CERT_CN = "Kubernetes Ingress Controller Fake Certificate"
#: The DNS name that certificate carries (``ssl.GetFakeSSLCert`` uses "ingress.local").
FAKE_CERT_HOST = "ingress.local"


@dataclass(frozen=True, slots=True)
class TLSCert:
    """A usable certificate from a Secret."""

    secret: str  # "ns/name"
    cert_pem: bytes
    key_pem: bytes
    common_name: str
    dns_names: tuple[str, ...]
    not_after: str

    def valid_for(self, host: str) -> bool:
        return verify_hostname(host, self.dns_names, self.common_name)


def _match(pattern: str, host: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if not pattern or not host:
        return False
    if pattern == host:
        return True
    p_labels = pattern.split(".")
    h_labels = host.split(".")
    if len(p_labels) != len(h_labels):
        return False
    for i, (p, h) in enumerate(zip(p_labels, h_labels)):
        if i == 0 and p == "*":
            continue
        if p != h:
            return False
    return True


def verify_hostname(host: str, dns_names: tuple[str, ...], common_name: str) -> bool:
    """Whether a certificate with these names is valid for ``host`` (SANs, then the CN)."""
    if any(_match(n, host) for n in dns_names):
        return True
    return bool(common_name) and _match(common_name, host)


def load_secret(secret: Secret) -> tuple[TLSCert | None, str]:
    """The certificate a Secret holds, or None and why it cannot be used."""
    ref = secret.qualified_name
    crt = secret.value("tls.crt")
    key = secret.value("tls.key")
    if not crt:
        return None, f'Secret "{ref}" has no tls.crt'
    if not key:
        return None, f'Secret "{ref}" has no tls.key'
    try:
        certs = x509.load_pem_x509_certificates(crt)
    except ValueError:
        return None, f'Secret "{ref}": tls.crt is not a PEM certificate'
    if not certs:
        return None, f'Secret "{ref}": tls.crt is not a PEM certificate'
    leaf = certs[0]
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError):
        return None, f'Secret "{ref}": tls.key is not an unencrypted PEM private key'
    pub_der = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if private.public_key().public_bytes(enc, pub_der) != leaf.public_key().public_bytes(enc, pub_der):
        return None, f'Secret "{ref}": tls.key does not match the certificate in tls.crt'
    cn = ""
    attrs = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if attrs:
        value = attrs[0].value
        cn = value if isinstance(value, str) else value.decode("utf-8", "replace")
    names: list[str] = []
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    return (
        TLSCert(
            secret=ref,
            cert_pem=crt,
            key_pem=key,
            common_name=cn,
            dns_names=tuple(names),
            not_after=leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
        "",
    )
