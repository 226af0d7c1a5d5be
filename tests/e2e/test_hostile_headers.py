"""Credentials that are not even text, sent as raw bytes over a TLS socket to a served
appliance: 401 in the envelope, never a 500 (issue 14, item 2)."""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

MALFORMED = [
    b"Basic \xff\xfe\xfd",  # not ASCII
    b"Basic \xc3\xa9t\xc3\xa9",  # UTF-8, but not base64
    b"Basic //79",  # base64 of bytes that are not UTF-8
    b"Basic cm9vdA==",  # "root": no colon
    b"Basic !!!",
]


def _raw(served: Any, method: str, path: str, authorization: bytes, extra: bytes = b"") -> Any:
    context = ssl.create_default_context(cafile=str(served.data_dir / "tls" / "cert.pem"))
    with (
        socket.create_connection(("127.0.0.1", served.port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
            + b"Authorization: "
            + authorization
            + b"\r\n"
            + extra
            + b"Content-Length: 0\r\n\r\n"
        )
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def test_malformed_basic_credentials_are_401(serve: Any) -> None:
    served = serve()
    served.start()
    for authorization in MALFORMED:
        for method, path, extra in (
            ("GET", "/api/v1/sites", b""),
            ("POST", "/api/v1/session", b""),
            ("POST", "/api/v1/vcenters", b"Idempotency-Key: k\r\n"),
        ):
            status, body = _raw(served, method, path, authorization, extra)
            assert status == 401, (authorization, path, status, body)
            assert body["error_code"] in ("not_authenticated", "invalid_credentials"), body
    assert "unhandled error" not in served.log.read_text()
