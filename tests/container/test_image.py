"""The image, run as users run it (issue 15): a DR loop between two containerized appliances
on a shared storage site, port 443 as the image's non-root user, the HEALTHCHECK command, and
`jetdr-msa migrate` upgrading a volume an older release left."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import create_engine, text

from app.core.db import SCHEMA_HEAD, sync_url
from jetdr import Client
from tests.conftest import ROOT_PASSWORD
from tests.container.conftest import (
    APPLIANCE_UID,
    VCSIM_IMAGE,
    Serve,
    VcsimContainer,
    image_config,
)
from tests.core.test_migrations import alembic_config
from tests.e2e.conftest import free_port, process_status
from tests.e2e.dr_pair import (
    assert_recovered_equal_source,
    build_pair,
    import_at_recovery_site,
    report_of,
)
from tests.e2e.test_failover import fail_back
from tests.peers import objectstores
from tests.peers.objectstores import AzuritePeer

pytestmark = pytest.mark.container


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[AzuritePeer]:
    with objectstores.azurite(tmp_path / "azurite") as peer:
        yield peer


def test_fail_over_and_back_between_two_containers(serve: Serve, azurite: AzuritePeer) -> None:
    pair = build_pair(serve, azurite)
    a, b, domain_id = pair.a, pair.b, pair.domain_id
    import_at_recovery_site(pair)
    a.ships_again(domain_id)
    task = b.act(f"/api/v1/protection-domains/{domain_id}/actions/failover", {"type": "regular"})
    report = report_of(b, task)
    assert_recovered_equal_source(b, report, a, pair.source_ids)
    domain = b.get(f"/api/v1/protection-domains/{domain_id}")
    assert (domain["mode"], domain["owner_site_name"]) == ("running_in_failover", "recovery")
    b.ships_again(domain_id)
    fail_back(pair, {vm["name"]: vm["vm_id"] for vm in report["vms"]})


def test_port_443_as_the_image_user_and_the_healthcheck(serve: Serve) -> None:
    assert image_config("User") == "jetdr"
    assert "443/tcp" in image_config("ExposedPorts")
    appliance = serve(port=443)
    appliance.start()
    with appliance.client() as client:
        status = client.get("/api/v1/status").json()
        assert status["status"] == "ready"
    server = process_status(appliance.server_pid())
    assert server["Uid"].split()[:2] == [str(APPLIANCE_UID)] * 2, server["Uid"]
    # Only the one capability the Dockerfile grants: binding below 1024.
    assert int(server["CapEff"], 16) == 1 << 10, server["CapEff"]
    volume = appliance.data_dir
    assert volume.stat().st_uid == APPLIANCE_UID and oct(volume.stat().st_mode)[-3:] == "700"

    healthcheck = image_config("Healthcheck")["Test"]
    assert healthcheck[0] == "CMD"
    healthy = appliance.run(*healthcheck[1:])
    assert healthy.returncode == 0, healthy.stderr
    appliance.stop()
    unhealthy = appliance.run(*healthcheck[1:])
    assert unhealthy.returncode == 1 and "unhealthy" in unhealthy.stderr


def test_migrate_upgrades_a_volume_an_older_release_left(serve: Serve, tmp_path: Path) -> None:
    # The volume's own SQLite database, whichever database the other tests use.
    appliance = serve(name="old-volume", sqlite=True)
    appliance.data_dir.mkdir(parents=True)
    url = f"sqlite:///{appliance.data_dir / 'jetdr.db'}"
    command.upgrade(alembic_config(url), "0014")
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        now = "2026-11-01 10:00:00"
        connection.execute(
            text(
                "INSERT INTO appliance (id, hostname, ip, dns, ntp, local_site_id, installed_at,"
                " updated_at) VALUES (1, 'msa', '127.0.0.1', '[]', '[]', 'site-old', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO site (id, name, role, peer_site_id, created_at) VALUES"
                " ('site-old', 'protected', 'local', NULL, :now)"
            ),
            {"now": now},
        )
    engine.dispose()
    for path in [appliance.data_dir, *appliance.data_dir.rglob("*")]:
        os.chown(path, APPLIANCE_UID, APPLIANCE_UID)

    migrated = appliance.run("jetdr-msa", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "database at head" in migrated.stdout
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert revision == SCHEMA_HEAD

    appliance.start()
    with appliance.client() as client:
        status = client.get("/api/v1/status").json()
    assert (status["status"], status["site"]["id"]) == ("ready", "site-old")
    # The migration ran as the image's user: the files stay its own.
    assert (appliance.data_dir / "jetdr.db").stat().st_uid == APPLIANCE_UID
    with httpx.Client(verify=appliance.tls_context()) as anonymous:
        assert anonymous.get(f"{appliance.url}/api/v1/sites").status_code == 401


USERS_SUITE = """
VCENTER = {
    "hostname": "vcsa-01.protected.local",
    "username": "administrator@vsphere.local",
    "password": "VMware1!",
}


def test_register_a_vcenter(jetdr_msa):
    jetdr_msa.run("/api/v1/vcenters", VCENTER)
    assert [v["hostname"] for v in jetdr_msa.get("/api/v1/vcenters")["items"]] == [
        VCENTER["hostname"]
    ]


def test_each_test_starts_from_the_seeded_state(jetdr_msa):
    assert jetdr_msa.get("/api/v1/vcenters")["items"] == []
"""


def test_a_users_suite_runs_unchanged_against_the_container(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    appliance = serve(name="for-a-suite")
    appliance.start()
    suite = tmp_path / "users-suite"
    suite.mkdir()
    (suite / "test_against_msa.py").write_text(USERS_SUITE)
    environment = {
        **os.environ,
        "JETDR_MSA_URL": appliance.url,
        "JETDR_PASSWORD": ROOT_PASSWORD,
        "JETDR_CA_FILE": str(appliance.data_dir / "tls" / "cert.pem"),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    # The client reads the same variables.
    monkeypatch.setenv("JETDR_MSA_URL", appliance.url)
    monkeypatch.setenv("JETDR_PASSWORD", ROOT_PASSWORD)
    with Client.from_env(verify=environment["JETDR_CA_FILE"]) as client:
        assert client.get("/api/v1/status")["status"] == "ready"


def test_the_vsphere_backend_against_the_vcsim_image(serve: Serve, tmp_path: Path) -> None:
    """What compose wires: an appliance container on its `vsphere` backend, registered with
    the project's vcsim running from its own image, configures a cluster's IO filter."""
    vcsim = VcsimContainer(VCSIM_IMAGE, free_port())
    try:
        appliance = serve(
            name="vsphere",
            sqlite=True,
            JETDR_VCENTER__BACKEND="vsphere",
            JETDR_VCENTER__VERIFY_TLS="false",
            JETDR_HOSTNAME="127.0.0.1",
            JETDR_CLOCK__MODE="scaled",
            JETDR_CLOCK__SCALE="1000",
        )
        appliance.start()
        with appliance.client() as client:
            registered = client.post(
                "/api/v1/vcenters",
                json={
                    "hostname": "127.0.0.1",
                    "port": vcsim.port,
                    "username": "administrator@vsphere.local",
                    "password": "VMware1!",
                },
            )
            task = appliance.wait_task(client, registered.json()["id"])
            assert task["status"] == "succeeded", task
            [cluster] = client.get("/api/v1/clusters").json()["items"]
            assert cluster["host_count"] == 4
            configure = client.post(f"/api/v1/clusters/{cluster['id']}/actions/configure")
            configured = appliance.wait_task(client, configure.json()["id"])
            assert configured["result"]["status"] == "configured", configured
            hosts = client.get(f"/api/v1/clusters/{cluster['id']}").json()["hosts"]
            assert {host["iofilter_status"] for host in hosts} == {"installed"}
    finally:
        vcsim.remove()
