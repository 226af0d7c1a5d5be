"""TLS material: a self-signed certificate with the right SANs when none is configured."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from app.core.security import write_private_file


@dataclass(frozen=True)
class CertificatePair:
    certfile: Path
    keyfile: Path


def _addresses(hostname: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Loopback and every address this host's names resolve to: a vCenter registered with
    `register_with_ip` reaches the appliance by address, and must find it in the certificate."""
    found = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    for name in {hostname, socket.gethostname()}:
        try:
            infos = socket.getaddrinfo(name, None)
        except (OSError, UnicodeError):
            continue
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            found.add(address)
    return sorted(found, key=lambda address: (address.version, int(address)))


def ensure_self_signed(directory: Path, hostname: str) -> CertificatePair:
    pair = CertificatePair(directory / "cert.pem", directory / "key.pem")
    if pair.certfile.exists() and pair.keyfile.exists():
        return pair
    # Imported here: generating a certificate is a first-boot cost, not every start's.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names = sorted({hostname, "localhost"})
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName(name) for name in names]
        + [x509.IPAddress(address) for address in _addresses(hostname)]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private_file(pair.keyfile, key_pem.decode())
    # Whole or not at all: whoever finds cert.pem (a client pinning it) reads a certificate.
    partial = pair.certfile.with_suffix(".pem.tmp")
    partial.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    os.replace(partial, pair.certfile)
    return pair


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
