"""Twenty parallel DELETEs of one resource over HTTPS: exactly one wins (issue 13, item 4)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import CLOCK, Site

pytestmark = pytest.mark.e2e

PARALLEL = 20


def _at_once(
    served: ServedAppliance, request: Callable[[httpx.Client], httpx.Response]
) -> Counter[int]:
    clients = [served.client() for _ in range(PARALLEL)]
    for client in clients:  # connected before the burst, so the requests really overlap
        client.get("/api/v1/status")
    start = threading.Barrier(PARALLEL)

    def one(client: httpx.Client) -> httpx.Response:
        start.wait()
        return request(client)

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(one, clients))
    for answer in answers:
        if answer.status_code >= 400:
            assert {"error_code", "message"} <= answer.json().keys(), answer.text
    return Counter(answer.status_code for answer in answers)


def _delete(client: httpx.Client, path: str) -> httpx.Response:
    return client.delete(path)


def _events(site: Site, action: str) -> int:
    return int(site.get("/api/v1/events", action=action, limit=1000)["_meta"]["total"])


def test_every_delete_has_exactly_one_winner(serve: Any, tmp_path: Path) -> None:
    served = serve(**CLOCK)
    peer = serve(name="peer", JETDR_SITE_NAME="peer", JETDR_TOPOLOGY="recovery")
    served.start()
    peer.start()
    site = Site(served)
    client = site.client

    user = client.post(
        "/api/v1/users", json={"username": "gone", "role": "viewer", "password": "Passw0rd!x"}
    ).json()["id"]
    outcome = _at_once(served, lambda c: c.delete(f"/api/v1/users/{user}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})
    assert _events(site, "user.deleted") == 1

    (tmp_path / "store").mkdir()
    store = client.post(
        "/api/v1/storage-sites",
        json={"name": "gone", "type": "local", "path": str(tmp_path / "store")},
    ).json()["id"]
    outcome = _at_once(served, lambda c: c.delete(f"/api/v1/storage-sites/{store}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})
    assert _events(site, "storage_site.deleted") == 1

    added = client.post(
        "/api/v1/sites",
        json={
            "url": peer.url,
            "username": "root",
            "password": ROOT_PASSWORD,
            "certificate_sha256": Site(peer).certificate_sha256(),
        },
    )
    assert added.status_code == 201, added.text
    outcome = _at_once(served, lambda c: c.delete(f"/api/v1/sites/{added.json()['id']}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})
    assert _events(site, "site.peer_removed") == 1

    saved = client.post("/_emulator/state/save", json={"name": "gone"})
    assert saved.status_code in (200, 201), saved.text
    outcome = _at_once(served, lambda c: c.delete("/_emulator/state/snapshots/gone"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})

    fault = client.post("/_emulator/faults", json={"target": "x.y", "kind": "hang"}).json()["id"]
    outcome = _at_once(served, lambda c: c.delete(f"/_emulator/faults/{fault}"))
    assert outcome == Counter({204: 1, 404: PARALLEL - 1})

    token = client.post("/api/v1/session").json()["session_id"]
    outcome = _at_once(
        served,
        lambda c: c.delete("/api/v1/session", headers={"x-jetdr-session": token}),
    )
    assert outcome == Counter({204: 1, 401: PARALLEL - 1})

    # Deletes that run as tasks: one task starts, the others see it under way (409). The
    # clock stands still meanwhile, so no winner's task finishes during a burst.
    vcenter = site.act("/api/v1/vcenters", VCENTER)["entity"]["id"]
    ids = _domain_with_spares(site, tmp_path)
    site.client.put("/_emulator/clock", json={"mode": "manual"})
    for path in (
        f"/api/v1/protection-domains/{ids['domain']}/vms/{ids['vm']}",
        f"/api/v1/drvas/{ids['spare_drva']}",
        f"/api/v1/drvas/{ids['drva']}/replication-log-volumes/{ids['spare_volume']}",
    ):
        _one_task(_at_once(served, partial(_delete, path=path)), path)
    # The domain waits for its VM's removal: let that finish, then race the domain's delete.
    site.client.post("/_emulator/clock/advance", json={"seconds": 600})
    site.until(
        lambda: not site.get(f"/api/v1/protection-domains/{ids['domain']}")["active_task_id"]
    )
    domain = f"/api/v1/protection-domains/{ids['domain']}"
    _one_task(_at_once(served, partial(_delete, path=domain)), domain)
    vcenter_path = f"/api/v1/vcenters/{vcenter}?force=true"
    _one_task(_at_once(served, partial(_delete, path=vcenter_path)), vcenter_path)


def _one_task(outcome: Counter[int], path: str) -> None:
    """One task started; the others found it under way (409) or, once done, nothing (404)."""
    assert outcome[202] == 1 and set(outcome) <= {202, 404, 409}, (path, outcome)


def _domain_with_spares(site: Site, tmp_path: Path) -> dict[str, str]:
    """A domain with one VM on a DRVA's log volume, plus a DRVA and a volume nothing uses."""
    cluster = site.get("/api/v1/clusters")["items"][0]["id"]
    site.act(f"/api/v1/clusters/{cluster}/actions/configure")
    datastore = site.named("datastores", "vsanDatastore")["id"]
    network = site.named("networks", "dhcp-segment")["id"]
    drvas = []
    for name in ("drva-a", "drva-b"):
        task = site.act(
            "/api/v1/drvas",
            {"name": name, "cluster_id": cluster, "datastore_id": datastore, "network_id": network},
        )
        drvas.append(task["entity"]["id"])
    volumes = [
        site.act(
            f"/api/v1/drvas/{drvas[0]}/replication-log-volumes",
            {"type": "vmdk", "size_gb": 10, "datastore_id": datastore},
        )["result"]["volume_id"]
        for _ in range(2)
    ]
    (tmp_path / "domain-store").mkdir()
    store = site.client.post(
        "/api/v1/storage-sites",
        json={"name": "domains", "type": "local", "path": str(tmp_path / "domain-store")},
    ).json()["id"]
    domain = site.act(
        "/api/v1/protection-domains",
        {
            "name": "erp",
            "storage_site_id": store,
            "drva_id": drvas[0],
            "replication_log_volume_id": volumes[0],
        },
    )["entity"]["id"]
    vm = site.named("vms", "web-01")["id"]
    site.act(f"/api/v1/protection-domains/{domain}/vms", {"vm_ids": [vm]})
    return {
        "domain": domain,
        "vm": vm,
        "drva": drvas[0],
        "spare_drva": drvas[1],
        "spare_volume": volumes[1],
    }
