"""Two appliances as separate processes over HTTPS — the protected site A and the recovery site
B, each with its own simulated vCenter — sharing an Azurite storage site: the plumbing of the
failover and failback tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.peers.objectstores import AzuritePeer

TERMINAL = {"succeeded", "failed", "cancelled"}
PROTECTED_VMS = ["app-01", "app-03", "web-01", "web-02", "cache-01"]
RECOVERY_VCENTER = {**VCENTER, "hostname": "vcsa-01.recovery.local"}
CLOCK = {"JETDR_CLOCK__MODE": "scaled", "JETDR_CLOCK__SCALE": "1000"}
FAST = {"JETDR_REPLICATION__DRVA_BANDWIDTH_MBPS": "20000"}


@dataclass
class Site:
    served: ServedAppliance
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.served.client()
        self.client.timeout = httpx.Timeout(30)

    def reconnect(self) -> None:
        self.client.close()
        self.__post_init__()

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params or None)
        assert response.status_code == 200, response.text
        return response.json()

    def start(self, path: str, body: dict[str, Any] | None = None) -> str:
        response = self.client.post(path, json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait(self, task_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task: dict[str, Any] = self.get(f"/api/v1/tasks/{task_id}")
            if task["status"] in TERMINAL:
                return task
            time.sleep(0.1)
        raise AssertionError(f"task {task_id} did not finish: {task}")

    def act(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        task = self.wait(self.start(path, body))
        assert task["status"] == "succeeded", task
        return task

    def kill_during(
        self, task_type: str, step: str, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        """Start the task with `step` held (a `hang` fault), SIGKILL the appliance while it is
        held, restart it, and follow the task to its end (it succeeds, or fails with a
        reason)."""
        rule = self.client.post(
            "/_emulator/faults", json={"target": f"{task_type}.{step}", "kind": "hang"}
        )
        assert rule.status_code == 201, rule.text
        started = self.client.request(method, path, json=body)
        assert started.status_code == 202, started.text
        task_id = str(started.json()["id"])

        def held() -> bool:
            steps = {s["name"]: s["status"] for s in self.get(f"/api/v1/tasks/{task_id}")["steps"]}
            return bool(steps[step] == "running")

        # The steps before it may wait on the peer (a failback's handover): on a loaded 2-core
        # CI machine that took more than 30 s of real time once.
        self.until(held, timeout=120, every=0.02)
        self.served.kill()
        self.served.start()
        self.reconnect()
        task = self.wait(task_id)
        assert task["status"] in TERMINAL
        assert task["status"] == "succeeded" or task["error"]["message"], task
        return task

    def named(self, kind: str, name: str) -> dict[str, Any]:
        items: list[dict[str, Any]] = self.get(f"/api/v1/{kind}", name=name, limit=1000)["items"]
        assert items, f"no {kind} named {name}"
        return items[0]

    def until(self, what: Callable[[], bool], timeout: float = 120.0, every: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            time.sleep(every)
        raise AssertionError(f"condition not reached in {timeout}s")

    def ships_again(self, domain_id: str) -> None:
        """Waits for a recovery point taken after this moment of virtual time: the site protects
        the domain. (An RPO bound would instead measure how far the engine lags a 1000x clock on
        a loaded machine: 0.3 s of real lag is already 300 s of RPO.)"""
        now = dt.datetime.fromisoformat(self.get("/_emulator/clock")["now"])

        def newer() -> bool:
            point = self.get(f"/api/v1/protection-domains/{domain_id}")["last_recovery_point_at"]
            return point is not None and dt.datetime.fromisoformat(point) > now

        self.until(newer)

    def digest(self, vm_id: str, at: str) -> str:
        return str(self.get(f"/_emulator/vms/{vm_id}/disk-digest", at=at)["digest"])

    def certificate_sha256(self) -> str:
        pem = (self.served.data_dir / "tls" / "cert.pem").read_text()
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def prepare(site: Site, vcenter: dict[str, str], azurite: AzuritePeer) -> dict[str, Any]:
    """vCenter registered, its cluster configured, a DRVA with a log volume, the shared storage
    site. Returns the ids."""
    site.act("/api/v1/vcenters", vcenter)
    cluster = site.get("/api/v1/clusters")["items"][0]
    site.act(f"/api/v1/clusters/{cluster['id']}/actions/configure")
    datastore = site.named("datastores", "vsanDatastore")
    network = site.named("networks", "dhcp-segment")
    site.act(
        "/api/v1/drvas",
        {
            "name": "drva",
            "cluster_id": cluster["id"],
            "datastore_id": datastore["id"],
            "network_id": network["id"],
        },
    )
    drva = site.get("/api/v1/drvas")["items"][0]
    volume = site.act(
        f"/api/v1/drvas/{drva['id']}/replication-log-volumes",
        {"type": "vmdk", "size_gb": 200, "datastore_id": datastore["id"]},
    )["result"]["volume_id"]
    storage = site.client.post(
        "/api/v1/storage-sites",
        json={
            "name": "blob",
            "type": "azure_blob",
            "endpoint": azurite.endpoint,
            "account_name": azurite.account,
            "access_key": azurite.key,
        },
    )
    assert storage.status_code == 201, storage.text
    settings = site.client.put(
        "/api/v1/recovery-settings",
        json={
            "cluster_id": cluster["id"],
            "datastore_id": datastore["id"],
            "network_id": network["id"],
        },
    )
    assert settings.status_code == 200, settings.text
    return {
        "cluster_id": cluster["id"],
        "drva_id": drva["id"],
        "volume_id": volume,
        "storage_site_id": storage.json()["id"],
        "network_id": network["id"],
    }


def pair_peers(a: Site, b: Site) -> None:
    for site, other in ((a, b), (b, a)):
        added = site.client.post(
            "/api/v1/sites",
            json={
                "url": other.served.url,
                "username": "root",
                "password": ROOT_PASSWORD,
                "certificate_sha256": other.certificate_sha256(),
            },
        )
        assert added.status_code == 201, added.text


@dataclass
class Pair:
    a: Site
    b: Site
    domain_id: str
    source_ids: dict[str, str]
    a_ids: dict[str, Any]
    b_ids: dict[str, Any]


def build_pair(
    serve: Callable[..., ServedAppliance],
    azurite: AzuritePeer,
    *,
    pitr: bool = False,
    pitr_iops: int | None = None,
) -> Pair:
    served_a = serve(name="site-a", JETDR_SITE_NAME="protected", **CLOCK, **FAST)
    served_b = serve(
        name="site-b", JETDR_TOPOLOGY="recovery", JETDR_SITE_NAME="recovery", **CLOCK, **FAST
    )
    served_a.start()
    served_b.start()
    a, b = Site(served_a), Site(served_b)
    a_ids = prepare(a, VCENTER, azurite)
    b_ids = prepare(b, RECOVERY_VCENTER, azurite)
    pair_peers(a, b)

    created = a.act(
        "/api/v1/protection-domains",
        {
            "name": "erp",
            "storage_site_id": a_ids["storage_site_id"],
            "drva_id": a_ids["drva_id"],
            "replication_log_volume_id": a_ids["volume_id"],
            "pitr": {"enabled": pitr, "window_days": 1, "estimated_data_rate_iops": pitr_iops},
        },
    )
    domain_id = created["entity"]["id"]
    source_ids = {name: a.named("vms", name)["id"] for name in PROTECTED_VMS}
    a.act(f"/api/v1/protection-domains/{domain_id}/vms", {"vm_ids": list(source_ids.values())})
    a.act(f"/api/v1/protection-domains/{domain_id}/actions/start-protection")
    a.until(lambda: all_protected(a, domain_id))
    return Pair(a, b, domain_id, source_ids, a_ids, b_ids)


def all_protected(site: Site, domain_id: str) -> bool:
    vms = site.get(f"/api/v1/protection-domains/{domain_id}/vms")["items"]
    domain = site.get(f"/api/v1/protection-domains/{domain_id}")
    return (
        bool(vms)
        and all(vm["status"] == "protected" for vm in vms)
        and bool(domain["last_recovery_point_at"])
    )


def import_at_recovery_site(pair: Pair, *, killed: bool = False) -> dict[str, Any]:
    """Scan and import at B; `killed`: B is SIGKILLed while the import reads the container."""
    b, domain_id = pair.b, pair.domain_id
    scan = b.act(f"/api/v1/storage-sites/{pair.b_ids['storage_site_id']}/actions/scan-domains")
    found = {d["domain_id"]: d for d in scan["result"]["domains"]}
    a_site = pair.a.get("/api/v1/status")["site"]["id"]
    assert found[domain_id]["importable"] and found[domain_id]["owner_site"] == a_site
    assert found[domain_id]["owner_site_name"] == pair.a.get("/api/v1/status")["site"]["name"]
    path = f"/api/v1/protection-domains/{domain_id}/actions/import"
    body = {"storage_site_id": pair.b_ids["storage_site_id"], "domain_id": domain_id}
    if killed:
        task = b.kill_during("import_domain", "read_container", "POST", path, body)
        assert task["status"] == "succeeded", task
    else:
        b.act(path, body)
    domain: dict[str, Any] = b.get(f"/api/v1/protection-domains/{domain_id}")
    assert (domain["mode"], domain["owner_site"], domain["vms"]) == ("imported", a_site, 5)
    return domain


def report_of(site: Site, task: dict[str, Any]) -> dict[str, Any]:
    reports = site.get("/api/v1/recovery-reports", domain_id=task["entity"]["id"])["items"]
    found: dict[str, Any] = next(r for r in reports if r["task_id"] == task["id"])
    return found


def assert_recovered_equal_source(
    recovered_site: Site, report: dict[str, Any], source_site: Site, source_ids: dict[str, str]
) -> None:
    """Every recovered VM's disks, as they came up, equal its source at the point used."""
    assert report["status"] == "succeeded", report
    assert {vm["name"] for vm in report["vms"] if vm["outcome"] == "recovered"} == set(source_ids)
    at = report["recovery_point_at"]
    for vm in report["vms"]:
        recovered = recovered_site.get(f"/api/v1/vms/{vm['vm_id']}")
        assert recovered["power_state"] == "poweredOn", recovered
        started = recovered_site.get(
            f"/_emulator/vms/{vm['vm_id']}/disk-digest", at=vm["recovered_at"]
        )
        source = source_site.digest(source_ids[vm["name"]], at)
        assert started["digest"] == source, vm["name"]
