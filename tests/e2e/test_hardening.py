"""The appliance as a hostile client meets it, over its own TLS socket (issue 14): oversize and
chunked bodies, form posts from another site, brute force, headers, files at rest, and a 500
that keeps the connection. Run on SQLite and on PostgreSQL like every e2e test."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import stat
import threading
import time
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance, process_status

pytestmark = pytest.mark.e2e

BASIC = b"Basic " + base64.b64encode(f"root:{ROOT_PASSWORD}".encode())
MIB = 1024 * 1024


def _tls(served: ServedAppliance) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(served.data_dir / "tls" / "cert.pem"))
    plain = socket.create_connection(("127.0.0.1", served.port), timeout=20)
    return context.wrap_socket(plain, server_hostname="127.0.0.1")


def _read_answer(tls: ssl.SSLSocket) -> tuple[int, dict[str, str], Any]:
    """One HTTP/1.1 answer with a Content-Length body, read off a socket kept open."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = tls.recv(1)
        if not chunk:
            raise ConnectionError(f"closed after {head!r}")
        head += chunk
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    body = b""
    while len(body) < int(headers.get("content-length", "0")):
        body += tls.recv(int(headers["content-length"]) - len(body))
    return int(lines[0].split(" ", 2)[1]), headers, json.loads(body) if body else None


def _rss_kib(served: ServedAppliance) -> int:
    assert served.process is not None
    # The entrypoint execs the server, so the process is the appliance itself.
    return int(process_status(served.process.pid)["VmRSS"].split()[0])


@pytest.fixture
def served(serve: Any) -> ServedAppliance:
    appliance: ServedAppliance = serve(
        JETDR_AUTH__FAILED_LOGINS_PER_USER="3",
        JETDR_AUTH__FAILED_LOGINS_PER_ADDRESS="12",
        JETDR_AUTH__FAILED_LOGIN_MAX_DELAY_SECONDS="2",
        JETDR_CLOCK__MODE="scaled",
        JETDR_CLOCK__SCALE="1000",
    )
    appliance.start()
    return appliance


def test_oversize_bodies_are_413_before_they_are_read(served: ServedAppliance) -> None:
    # Declared too large, without credentials: refused from the header, the connection closed.
    with _tls(served) as tls:
        tls.sendall(
            b"POST /api/v1/vcenters HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"
        )
        status, headers, body = _read_answer(tls)
        assert status == 413 and body["error_code"] == "payload_too_large", body
        assert headers["connection"] == "close"
        assert body["op_id"].startswith("op-")

    # Chunked without credentials: 401 before a byte of it is read.
    with _tls(served) as tls:
        tls.sendall(
            b"POST /_emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"10\r\n" + b"x" * 16 + b"\r\n"
        )
        status, _headers, body = _read_answer(tls)
        assert status == 401, body

    # Chunked with credentials: read up to the limit, then 413.
    def chunked_flood() -> int:
        with _tls(served) as tls:
            tls.sendall(
                b"POST /api/v1/storage-sites HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: " + BASIC + b"\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"%x\r\n%s\r\n" % (MIB, b" " * MIB)
            try:
                for _ in range(40):
                    tls.sendall(chunk)
            except OSError:
                pass  # the appliance answered and closed while the flood went on
            status, _headers, body = _read_answer(tls)
            assert body["error_code"] == "payload_too_large", body
            return status

    before = _rss_kib(served)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(chunked_flood())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [413] * 4
    grown_mib = (_rss_kib(served) - before) / 1024
    # Four 40 MiB bodies: buffered whole they would add 160 MiB or more.
    assert grown_mib < 60, f"RSS grew by {grown_mib:.0f} MiB"

    # A body within the limit still works, and the limit is the setting's.
    with served.client() as client:
        small = client.post("/api/v1/users", json={"username": "x" * 20, "password": "y" * 300})
        assert small.status_code == 422  # validated, not refused for size
        big = client.post("/api/v1/users", content=b'{"a":"' + b"z" * (MIB + 1) + b'"}')
        assert big.status_code in (413, 415)
        big = client.post(
            "/api/v1/users",
            content=b'{"a":"' + b"z" * (MIB + 1) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413 and big.json()["error_code"] == "payload_too_large"


def test_a_cross_site_form_post_changes_nothing(served: ServedAppliance) -> None:
    with served.client() as client:
        created = client.post(
            "/api/v1/users", json={"username": "kept", "role": "viewer", "password": "x" * 12}
        )
        assert created.status_code == 201, created.text
        form = {"content-type": "application/x-www-form-urlencoded"}
        # What a hidden form on another site makes the browser send, with its cached Basic
        # credentials: no body, or a form body, or text.
        for headers, content in (
            (form, b""),
            (form, b"a=b"),
            ({"content-type": "text/plain"}, b"{}"),
            ({"content-type": "multipart/form-data; boundary=x"}, b"--x--"),
            ({}, b"{}"),  # a body without a media type
        ):
            reset = client.post(
                "/_emulator/reset",
                content=content,
                headers={**headers, "origin": "https://attacker.example"},
            )
            assert reset.status_code == 415, (headers, reset.text)
            assert reset.json()["error_code"] == "unsupported_media_type"
        # JSON from a foreign page authenticated by Basic: refused by its Origin.
        foreign = client.post(
            "/_emulator/reset", json={}, headers={"origin": "https://attacker.example"}
        )
        assert foreign.status_code == 403, foreign.text
        assert foreign.json()["error_code"] == "cross_origin_refused"
        refused = client.post(
            "/_emulator/reset", headers={"origin": "null", "content-type": "application/json"}
        )
        assert refused.status_code == 403
        names = [user["username"] for user in client.get("/api/v1/users").json()["items"]]
        assert "kept" in names  # no reset happened

        # The appliance's own pages and scripts without a page (no Origin) are served.
        own = client.post(
            "/api/v1/users",
            json={"username": "own-page", "role": "viewer", "password": "x" * 12},
            headers={"origin": served.url},
        )
        assert own.status_code == 201, own.text
        scripted = {"username": "script", "role": "viewer", "password": "x" * 12}
        assert client.post("/api/v1/users", json=scripted).status_code == 201

        # A session token is no browser-held credential: a script that has one may call from
        # anywhere CORS lets it.
        login = client.post("/api/v1/session", json={"username": "root", "password": ROOT_PASSWORD})
        token = login.json()["session_id"]
    with served.client(auth=False) as anonymous:
        with_token = anonymous.post(
            "/api/v1/users",
            json={"username": "tool", "role": "viewer", "password": "x" * 12},
            headers={"x-jetdr-session": token, "origin": "https://tool.example"},
        )
        assert with_token.status_code == 201, with_token.text


def test_brute_force_is_throttled_and_audited(served: ServedAppliance) -> None:
    with served.client(auth=False) as anonymous:
        statuses = [
            anonymous.post(
                "/api/v1/session", json={"username": "root", "password": f"guess-{n}"}
            ).status_code
            for n in range(4)
        ]
        assert statuses == [401, 401, 401, 401]
        throttled = anonymous.post("/api/v1/session", json={"username": "root", "password": "x"})
        assert throttled.status_code == 429, throttled.text
        assert throttled.json()["error_code"] == "login_throttled"
        assert int(throttled.headers["retry-after"]) >= 1
        # The right password waits too (it would otherwise tell a guesser it is right), on
        # every route that takes Basic credentials.
        right = anonymous.get("/api/v1/sites", auth=("root", ROOT_PASSWORD))
        assert right.status_code == 429 and "retry-after" in right.headers
        time.sleep(float(throttled.headers["retry-after"]) + 0.2)
        assert anonymous.get("/api/v1/sites", auth=("root", ROOT_PASSWORD)).status_code == 200

    with served.client() as client:
        failed = client.get("/api/v1/events", params={"action": "session.login_failed"}).json()
        assert failed["_meta"]["total"] == 4, failed
        event = failed["items"][0]
        assert event["actor"] == "root" and event["details"]["address"] == "127.0.0.1"
        assert "guess" not in json.dumps(failed)  # never the password

    # One address trying many usernames is slowed down as well.
    with served.client(auth=False) as anonymous:
        answers = [
            anonymous.post(
                "/api/v1/session", json={"username": f"user{n}", "password": "nope"}
            ).status_code
            for n in range(12)
        ]
        assert 429 in answers, answers
        assert set(answers) <= {401, 429}


def test_headers_docs_and_dashboard(served: ServedAppliance) -> None:
    with served.client() as client:
        status = client.get("/api/v1/status")
        assert status.headers["strict-transport-security"].startswith("max-age=")
        assert status.headers["x-content-type-options"] == "nosniff"
        registered = client.post("/api/v1/vcenters", json=VCENTER)
        assert served.wait_task(client, registered.json()["id"])["status"] == "succeeded"
    with served.client(auth=False) as anonymous:
        page = anonymous.get("/ui/")
        assert page.status_code == 200 and 'id="login"' in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert f"frame-ancestors 'self' https://{VCENTER['hostname']}" in policy
        docs = anonymous.get("/docs")
        assert docs.status_code == 200
        assert "cdn" not in docs.text.lower() and "/docs/assets/swagger-ui-bundle.js" in docs.text
        script = anonymous.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and "SwaggerUIBundle" in script.text
        assert anonymous.get("/docs/assets/swagger-ui.css").status_code == 200
        redoc = anonymous.get("/redoc")
        assert "/docs/assets/redoc.standalone.js" in redoc.text and "googleapis" not in redoc.text
        assert anonymous.get("/docs/assets/../../etc/passwd").status_code == 404
        # A session client is not challenged (the browser would pop up its Basic prompt).
        expired = anonymous.get("/api/v1/sites", headers={"x-jetdr-session": "gone"})
        assert expired.status_code == 401 and "www-authenticate" not in expired.headers
        assert "www-authenticate" in anonymous.get("/api/v1/sites").headers


def test_files_at_rest_are_private_and_hold_no_live_token(serve: Any) -> None:
    appliance: ServedAppliance = serve()
    appliance.data_dir.mkdir(parents=True)
    appliance.data_dir.chmod(0o755)
    appliance.start()
    with appliance.client() as client:
        login = client.post(
            "/api/v1/session",
            json={"username": "root", "password": ROOT_PASSWORD},
            headers={"Idempotency-Key": "login-1"},
        )
        token = login.json()["session_id"]
        second = {"username": "second", "role": "viewer", "password": "p" * 16}
        assert client.post("/api/v1/users", json=second).status_code == 201
        saved = client.post("/_emulator/state/save", json={"name": "scan"})
        assert saved.status_code == 201, saved.text
        # The token still opens a session: it is live while the files are scanned.
        assert client.get("/api/v1/session", headers={"x-jetdr-session": token}).status_code == 200

    assert stat.S_IMODE(appliance.data_dir.stat().st_mode) == 0o700
    private = [path for path in appliance.data_dir.rglob("*") if path.is_file()]
    database = [p for p in private if p.name.startswith("jetdr.db")]
    snapshots = list((appliance.data_dir / "snapshots").glob("*.json"))
    assert snapshots
    for path in [*database, *snapshots, appliance.data_dir / "secret.key"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((appliance.data_dir / "snapshots").stat().st_mode) == 0o700
    for path in [*database, *snapshots]:
        content = path.read_bytes()
        assert token.encode() not in content, path
        assert ROOT_PASSWORD.encode() not in content, path
        assert b"p" * 16 not in content, path


def test_a_500_keeps_the_connection(served: ServedAppliance) -> None:
    with served.client() as client:
        fault = client.post(
            "/_emulator/faults", json={"kind": "api_crash", "target": "/api/v1/sites*", "count": 1}
        )
        assert fault.status_code == 201, fault.text
        wrong = client.post("/_emulator/faults", json={"kind": "error", "target": "/api/v1/x"})
        assert wrong.status_code == 422
    with _tls(served) as tls:
        request = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + BASIC + b"\r\n\r\n"
        tls.sendall(request % b"/api/v1/sites")
        status, headers, body = _read_answer(tls)
        assert status == 500 and body["error_code"] == "internal_error", body
        assert headers.get("connection") != "close"
        tls.sendall(request % b"/api/v1/sites")  # the same connection, the fault spent
        status, _headers, body = _read_answer(tls)
        assert status == 200 and "items" in body


def test_login_page_opens_a_session(served: ServedAppliance) -> None:
    """The page's script logs in with JSON and keeps the token for the tab (the Chromium
    test drives it; here the calls it makes)."""
    with httpx.Client(base_url=served.url, verify=served.tls_context()) as browser:
        wrong = browser.post("/api/v1/session", json={"username": "root", "password": "no"})
        assert wrong.status_code == 401 and "www-authenticate" not in wrong.headers
        opened = browser.post(
            "/api/v1/session", json={"username": "root", "password": ROOT_PASSWORD}
        )
        token = opened.json()["session_id"]
        sites = browser.get("/api/v1/sites", headers={"x-jetdr-session": token})
        assert sites.status_code == 200
