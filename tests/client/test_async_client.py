"""`jetdr.AsyncClient` against an in-process appliance: tasks waited on with progress, pages,
typed models, the error envelope as exceptions, sessions."""

from __future__ import annotations

import httpx
import pytest

from jetdr import AsyncClient, JetdrError, TaskFailedError
from jetdr.models import Cluster, Task
from tests.conftest import ROOT_PASSWORD, VCENTER, Appliance


def client_of(appliance: Appliance) -> AsyncClient:
    transport = httpx.ASGITransport(app=appliance.app)
    return AsyncClient("https://msa.test", password=ROOT_PASSWORD, transport=transport)


async def test_tasks_pages_models_and_errors(appliance: Appliance) -> None:
    async with client_of(appliance) as msa:
        seen: list[Task] = []
        task = await msa.run("/api/v1/vcenters", VCENTER, poll=0.01, on_progress=seen.append)
        assert task.status == "succeeded" and task.done
        progress = [t.progress for t in seen]
        assert progress == sorted(progress) and progress[-1] == 100

        names = [vm["name"] async for vm in msa.pages("/api/v1/vms", page_size=7)]
        assert len(names) == 20 and len(set(names)) == 20
        clusters = await msa.items("clusters")
        assert isinstance(clusters[0], Cluster) and clusters[0].name == "Cluster-1"
        assert (await msa.find("clusters", "Cluster-1")).id == clusters[0].id

        with pytest.raises(JetdrError) as missing:
            await msa.get("/api/v1/clusters/cluster-nope")
        assert (missing.value.status, missing.value.error_code) == (404, "not_found")
        assert missing.value.op_id and missing.value.op_id.startswith("op-")
        with pytest.raises(JetdrError) as invalid:
            await msa.post("/api/v1/storage-sites", {"name": "x", "type": "tape"})
        assert invalid.value.status == 422

        await msa.add_fault(target="configure_cluster.install_filter", kind="error")
        with pytest.raises(TaskFailedError) as failed:
            await msa.run(f"/api/v1/clusters/{clusters[0].id}/actions/configure", poll=0.01)
        assert failed.value.error_code == "injected_fault"
        assert failed.value.task.status == "failed"


async def test_a_session_replaces_the_password(appliance: Appliance) -> None:
    async with client_of(appliance) as msa:
        session = await msa.login()
        assert session
        assert (await msa.get("/api/v1/status"))["status"] == "ready"
        assert (await msa.items("vcenters")) == []
