"""End to end over HTTPS against `jetdr-msa serve` in its own process."""

from __future__ import annotations

import socket
import ssl
import time
import warnings
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.core.db import sync_url
from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance

pytestmark = pytest.mark.e2e


def test_register_vcenter_over_https(serve: Callable[..., ServedAppliance]) -> None:
    appliance = serve(JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="1000")
    appliance.start()
    with appliance.client(auth=False) as anonymous:
        login = anonymous.post("/api/v1/session", auth=("root", "wrong-password"))
        assert login.status_code == 401
        login = anonymous.post(
            "/api/v1/session", json={"username": "root", "password": ROOT_PASSWORD}
        )
        assert login.status_code == 201
        token = login.json()["session_id"]
        headers = {"x-jetdr-session": token}
        accepted = anonymous.post("/api/v1/vcenters", json=VCENTER, headers=headers)
        assert accepted.status_code == 202
        assert accepted.headers["location"] == f"/api/v1/tasks/{accepted.json()['id']}"
        for _ in range(600):
            task = anonymous.get(accepted.headers["location"], headers=headers).json()
            if task["status"] in {"succeeded", "failed"}:
                break
            time.sleep(0.05)
        assert task["status"] == "succeeded", task
        clusters = anonymous.get("/api/v1/clusters", headers=headers).json()
        assert [c["name"] for c in clusters["items"]] == ["Cluster-1"]
        assert clusters["items"][0]["host_count"] == 4
        vms = anonymous.get("/api/v1/vms", headers=headers, params={"limit": 1000}).json()
        assert vms["_meta"]["total"] == 20
        assert {"app-01", "db-01"} <= {vm["name"] for vm in vms["items"]}


@pytest.mark.reliability
def test_tls_is_1_2_or_newer(serve: Callable[..., ServedAppliance]) -> None:
    appliance = serve()
    appliance.start()
    modern = appliance.tls_context()
    with (
        socket.create_connection(("127.0.0.1", appliance.port)) as raw,
        modern.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
    old = appliance.tls_context()
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # a client that would accept TLS 1.0/1.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        httpx.Client(base_url=appliance.url, verify=old) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("/api/v1/about")


def test_sigkill_during_a_task_then_restart(serve: Callable[..., ServedAppliance]) -> None:
    appliance = serve(JETDR_CLOCK__MODE="manual")
    appliance.start()
    with appliance.client() as client:
        task = client.post("/api/v1/vcenters", json=VCENTER).json()
        for _ in range(400):
            current = client.get(f"/api/v1/tasks/{task['id']}").json()
            if any(
                s["name"] == "register_plugin" and s["status"] == "running"
                for s in current["steps"]
            ):
                break
            client.post("/_emulator/clock/advance", json={"seconds": 0.5})
            time.sleep(0.02)
        else:
            raise AssertionError(f"register_plugin never started: {current}")
    appliance.kill()

    appliance.start()
    with appliance.client() as client:
        client.put("/_emulator/clock", json={"mode": "scaled", "scale": 1000})
        done = appliance.wait_task(client, task["id"])
        assert done["status"] == "succeeded" or done["error"]["error_code"] == "interrupted"
        assert (
            client.get("/api/v1/tasks", params={"status": "running"}).json()["_meta"]["total"] == 0
        )
        vcenters = client.get("/api/v1/vcenters").json()["items"]
        if done["status"] == "succeeded":
            assert [v["status"] for v in vcenters] == ["registered"]
            assert client.get("/api/v1/vms").json()["_meta"]["total"] == 20
        else:
            assert vcenters == []
    url = appliance.env.get("JETDR_DB__URL") or f"sqlite:///{appliance.data_dir / 'jetdr.db'}"
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        integrity = connection.execute(
            text("SELECT count(*) FROM vcenter WHERE active_task_id IS NOT NULL")
        ).scalar_one()
        orphans = connection.execute(
            text("SELECT count(*) FROM vm WHERE vcenter_id NOT IN (SELECT id FROM vcenter)")
        ).scalar_one()
    engine.dispose()
    assert integrity == 0
    assert orphans == 0
