from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from app.core.security import SecretBox, hash_password, verify_password
from app.core.tls import ensure_self_signed, harden


def test_password_hash_verifies_only_the_right_password() -> None:
    encoded = hash_password("correct horse")
    assert "correct horse" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("wrong horse", encoded)
    assert not verify_password("correct horse", "garbage")


def test_two_hashes_of_one_password_differ() -> None:
    assert hash_password("same") != hash_password("same")


def test_secret_box_round_trips_and_keeps_its_key_private(tmp_path: Path) -> None:
    box = SecretBox.from_data_dir(tmp_path)
    token = box.encrypt("VMware1!")
    assert "VMware1!" not in token
    assert box.decrypt(token) == "VMware1!"
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert SecretBox.from_data_dir(tmp_path).decrypt(token) == "VMware1!"


def test_secret_from_another_appliance_is_refused(tmp_path: Path) -> None:
    token = SecretBox.from_data_dir(tmp_path / "a").encrypt("secret")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox.from_data_dir(tmp_path / "b").decrypt(token)


def test_self_signed_certificate_names_host_localhost_and_loopback(tmp_path: Path) -> None:
    pair = ensure_self_signed(tmp_path, "msa01.example.test")
    certificate = x509.load_pem_x509_certificate(pair.certfile.read_bytes())
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"msa01.example.test", "localhost"}
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert stat.S_IMODE(pair.keyfile.stat().st_mode) == 0o600
    again = ensure_self_signed(tmp_path, "msa01.example.test")
    assert again.certfile.read_bytes() == pair.certfile.read_bytes()


def test_hardened_context_refuses_below_tls_1_2() -> None:
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_the_generated_certificate_names_loopback_and_the_hosts_addresses(tmp_path: Path) -> None:
    import socket

    from cryptography import x509

    from app.core.tls import ensure_self_signed

    pair = ensure_self_signed(tmp_path, "msa.test")
    certificate = x509.load_pem_x509_certificate(pair.certfile.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = {str(address) for address in names.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "::1"} <= addresses
    own = {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    assert own <= addresses
    assert {"msa.test", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
