"""A peer appliance, served as its own process over HTTPS, registered as the other site."""

from __future__ import annotations

import hashlib
import ssl
from typing import Any

import pytest

from tests.conftest import ROOT_PASSWORD, Appliance
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e


def certificate_sha256(served: Any) -> str:
    pem = (served.data_dir / "tls" / "cert.pem").read_text()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


async def test_register_check_and_remove_a_peer(appliance: Appliance, serve: Any) -> None:
    peer = serve(JETDR_TOPOLOGY="recovery", JETDR_SITE_NAME="recovery")
    peer.start()
    client = appliance.client
    pin = certificate_sha256(peer)
    body = {"url": peer.url, "username": "root", "password": ROOT_PASSWORD}

    untrusted = await client.post("/api/v1/sites", json=body)
    assert untrusted.status_code == 422
    assert untrusted.json()["error_code"] == "peer_certificate_mismatch"
    assert "not trusted" in untrusted.json()["message"]
    wrong_pin = await client.post("/api/v1/sites", json={**body, "certificate_sha256": "ab" * 32})
    assert wrong_pin.status_code == 422
    assert wrong_pin.json()["error_code"] == "peer_certificate_mismatch"
    wrong_password = await client.post(
        "/api/v1/sites",
        json={**body, "password": "Not-The-Password-1", "certificate_sha256": pin},
    )
    assert wrong_password.status_code == 422
    assert wrong_password.json()["error_code"] == "peer_auth_failed"
    nobody = await client.post(
        "/api/v1/sites",
        json={**body, "url": f"https://127.0.0.1:{free_port()}", "certificate_sha256": pin},
    )
    assert nobody.status_code == 422
    assert nobody.json()["error_code"] == "peer_unreachable"
    assert (await client.get("/api/v1/sites")).json()["_meta"]["total"] == 1

    added = await client.post("/api/v1/sites", json={**body, "certificate_sha256": pin})
    assert added.status_code == 201, added.text
    site = added.json()
    assert (site["name"], site["role"], site["reachable"]) == ("recovery", "remote", True)
    assert site["certificate_sha256"] == pin
    assert ROOT_PASSWORD not in added.text
    listed = (await client.get("/api/v1/sites")).json()["items"]
    assert {s["name"] for s in listed} == {"protected", "recovery"}
    assert ROOT_PASSWORD not in (await client.get(f"/api/v1/sites/{site['id']}")).text
    again = await client.post("/api/v1/sites", json={**body, "certificate_sha256": pin})
    assert again.status_code == 409

    peer.stop()
    down = await client.post(f"/api/v1/sites/{site['id']}/actions/check")
    assert down.status_code == 200
    assert (down.json()["reachable"], bool(down.json()["last_error"])) == (False, True)
    peer.start()
    up = await client.post(f"/api/v1/sites/{site['id']}/actions/check")
    assert (up.json()["reachable"], up.json()["last_error"]) == (True, None)

    # API.md's `name` is a label: the peer keeps its own id, whatever it is called here.
    assert (await client.delete(f"/api/v1/sites/{site['id']}")).status_code == 204
    labelled = await client.post(
        "/api/v1/sites", json={**body, "certificate_sha256": pin, "name": "dr-west"}
    )
    assert labelled.status_code == 201, labelled.text
    assert (labelled.json()["name"], labelled.json()["peer_site_id"]) == (
        "dr-west",
        site["peer_site_id"],
    )
    site = labelled.json()

    local = next(s for s in listed if s["role"] == "local")
    assert (await client.delete(f"/api/v1/sites/{local['id']}")).status_code == 409
    assert (await client.delete(f"/api/v1/sites/{site['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/sites/{site['id']}")).status_code == 404
