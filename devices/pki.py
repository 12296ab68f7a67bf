"""The platform's private certificate authority: pure X.509 with ``cryptography``, no database.

One CA signs the broker's server certificate, the platform services' client certificates and
every paired device's client certificate, and the certificate revocation list (CRL) the broker
checks at each TLS handshake. Keys are ECDSA P-256 (small and fast on device microcontrollers);
a device certificate's subject common name is its device id, which the broker takes as the
MQTT username (``use_identity_as_username``), so the ACLs written for passwords apply unchanged.
See docs/security.md.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_NAME, CA_KEY_NAME = "ca.crt", "ca.key"
CA_DAYS, SERVER_DAYS, CLIENT_DAYS = 3650, 397, 825
CRL_DAYS = 7  # the broker refuses every certificate once its CRL is stale: rewritten daily
CLOCK_SKEW = dt.timedelta(minutes=5)


class CertificateRequestError(ValueError):
    """A device's certificate signing request that the platform will not sign."""


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | None  # None when the holder sent a CSR and kept its key

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        assert self.key is not None
        return key_pem(self.key)

    @property
    def serial_hex(self) -> str:
        return format(self.certificate.serial_number, "x")

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    encoding, private = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, private, serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Virtual ward"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def authority_create(common_name: str = "Virtual ward device CA", *, days: int = CA_DAYS) -> Authority:
    key = new_key()
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign only
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


def authority_save(authority: Authority, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CA_CERT_NAME).write_bytes(authority.pem)
    write_private(directory / CA_KEY_NAME, key_pem(authority.key))


def authority_load(cert_file: Path | str, key_file: Path | str) -> Authority:
    certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        raise ValueError(f"{key_file} is not the private key of the CA certificate {cert_file}")
    return Authority(certificate, key)


def write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only, created so from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _leaf(
    authority: Authority,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    common_name: str,
    *,
    usage: x509.ObjectIdentifier,
    not_before: dt.datetime,
    not_after: dt.datetime,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(authority.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.certificate.public_key()), critical=False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(authority.key, hashes.SHA256())


def server_certificate_issue(authority: Authority, hosts: list[str], *, days: int = SERVER_DAYS) -> Issued:
    """The broker's certificate, naming every host name and address clients use to reach it."""
    if not hosts:
        raise ValueError("a server certificate needs at least one host name or address")
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key, now = new_key(), _now()
    certificate = _leaf(
        authority,
        key.public_key(),
        hosts[0],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        not_before=now - CLOCK_SKEW,
        not_after=now + dt.timedelta(days=days),
        names=names,
    )
    return Issued(certificate, key)


def client_certificate_issue(
    authority: Authority,
    common_name: str,
    *,
    csr_pem: bytes | None = None,
    days: int = CLIENT_DAYS,
    not_before: dt.datetime | None = None,
) -> Issued:
    """A client certificate for ``common_name`` (a device id, or a platform service account).

    With ``csr_pem`` the holder's own key is certified (it never leaves the device) and the
    request's subject is ignored: the platform decides the identity. Without one, a key is made
    here (development, tests and the platform's own services).
    """
    start = not_before or _now() - CLOCK_SKEW
    if csr_pem is None:
        key: ec.EllipticCurvePrivateKey | None = new_key()
        public_key = key.public_key()  # type: ignore[union-attr]
    else:
        key, public_key = None, csr_public_key(csr_pem)
    certificate = _leaf(
        authority,
        public_key,
        common_name,
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        not_before=start,
        not_after=start + dt.timedelta(days=days),
    )
    return Issued(certificate, key)


def csr_public_key(csr_pem: bytes) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """The key a CSR asks to certify, once the request proves it holds the private half."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise CertificateRequestError("the certificate request is not a PEM-encoded PKCS#10 request") from exc
    if not csr.is_signature_valid:  # proof that the requester holds the private key
        raise CertificateRequestError("the certificate request's signature does not match its key")
    public_key = csr.public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.key_size < 256:
            raise CertificateRequestError("an elliptic-curve key must be at least 256 bits (P-256)")
        return public_key
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise CertificateRequestError("an RSA key must be at least 2048 bits")
        return public_key
    raise CertificateRequestError("the key must be ECDSA (P-256 or larger) or RSA (2048 bits or larger)")


def crl_build(
    authority: Authority, revoked: list[tuple[int, dt.datetime]], *, days: int = CRL_DAYS
) -> x509.CertificateRevocationList:
    """A CRL listing ``(serial number, revoked at)`` pairs, valid for ``days``."""
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now - CLOCK_SKEW)
        .next_update(now + dt.timedelta(days=days))
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(authority.key, hashes.SHA256())


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def issued_save(issued: Issued, directory: Path, name: str) -> tuple[Path, Path | None]:
    """Write ``name.crt`` (and ``name.key``, owner-only, when the key was made here)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.crt"
    cert_path.write_bytes(issued.pem)
    if issued.key is None:
        return cert_path, None
    key_path = directory / f"{name}.key"
    write_private(key_path, issued.key_pem)
    return cert_path, key_path
