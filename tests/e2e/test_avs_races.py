"""Run-command submissions raced through a served appliance over HTTPS: a name runs once
however many clients submit it at the same moment, and the losers of a race for a name learn
who won (the same request: 200 with that execution; another: 409), never a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.e2e.dr_pair import CLOCK, Site

pytestmark = pytest.mark.e2e

CLIENTS = 8


def sshd(cmdlet: str, ip: str) -> dict[str, Any]:
    return {
        "script_cmdlet_id": cmdlet,
        "parameters": [
            {
                "type": "Credential",
                "name": "Credential",
                "username": "root",
                "password": ROOT_PASSWORD,
            },
            {"type": "Value", "name": "MSIp", "value": ip},
        ],
    }


def at_once(served: ServedAppliance, path: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """PUTs each body from its own connection, all released together."""
    clients = [served.client() for _ in bodies]
    for client in clients:
        client.get("/api/v1/status").raise_for_status()  # connected and authenticated
    start = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)

    def put(index: int) -> None:
        start.wait()
        answers[index] = clients[index].put(path, json=bodies[index], timeout=60)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return answers


def finished(client: httpx.Client, name: str) -> dict[str, Any]:
    for _ in range(600):
        found: dict[str, Any] = client.get(f"/api/v1/avs/script-executions/{name}").json()
        if found["exit_code"] is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"execution {name} never finished: {found}")


def test_a_name_submitted_at_once_runs_once(serve: Callable[..., ServedAppliance]) -> None:
    served = serve()
    served.start()
    with served.client() as client:
        ip = client.get("/api/v1/appliance").json()["ip"]
        path = "/api/v1/avs/script-executions/sshd-on"

        same = at_once(served, path, [sshd("Enable-JetDRSshd", ip)] * CLIENTS)
        codes = sorted(answer.status_code for answer in same)
        assert codes == [200] * (CLIENTS - 1) + [201], [a.text for a in same]
        assert len({answer.json()["task_id"] for answer in same}) == 1
        done = finished(client, "sshd-on")
        assert (done["provisioning_state"], done["exit_code"]) == ("Succeeded", 0)
        tasks = client.get("/api/v1/tasks", params={"type": "avs_script_execution"}).json()
        assert [task["entity"]["id"] for task in tasks["items"]] == ["sshd-on"]
        assert client.get("/api/v1/appliance").json()["sshd_enabled"] is True
        # A retry after the end still answers the execution it ran.
        late = client.put(path, json=sshd("Enable-JetDRSshd", ip))
        assert (late.status_code, late.json()["task_id"]) == (200, done["task_id"])

        contested = "/api/v1/avs/script-executions/sshd-toggle"
        bodies = [
            sshd("Disable-JetDRSshd" if index % 2 else "Enable-JetDRSshd", ip)
            for index in range(CLIENTS)
        ]
        answers = at_once(served, contested, bodies)
        assert all(a.status_code in (200, 201, 409) for a in answers), [a.text for a in answers]
        assert [a.status_code for a in answers].count(201) == 1
        winner = next(a.json() for a in answers if a.status_code == 201)
        for body, answer in zip(bodies, answers, strict=True):
            same_as_winner = winner["script_cmdlet_id"].endswith(
                "/" + body["script_cmdlet_id"].lower()
            )
            if answer.status_code == 409:
                assert not same_as_winner
                assert answer.json()["error_code"] == "execution_name_taken"
            else:
                assert same_as_winner, answer.text
                assert answer.json()["task_id"] == winner["task_id"]
            assert ROOT_PASSWORD not in answer.text
        done = finished(client, "sshd-toggle")
        assert done["exit_code"] == 0
        expected = winner["script_cmdlet_id"].endswith("/enable-jetdrsshd")
        assert client.get("/api/v1/appliance").json()["sshd_enabled"] is expected
        names = client.get("/api/v1/avs/script-executions").json()["items"]
        assert sorted(e["name"] for e in names) == ["sshd-on", "sshd-toggle"]


def test_an_execution_cut_off_by_a_sigkill_fails_and_the_one_queued_behind_runs(
    serve: Callable[..., ServedAppliance],
) -> None:
    """A cmdlet is not run again half-way after a restart: its execution is Failed and can be
    deleted. The execution queued behind it had not begun: it runs once the first has ended."""
    served = serve(**CLOCK)
    served.start()
    with served.client() as client:
        site = Site(served)
        site.act("/api/v1/vcenters", VCENTER)
        site.client.close()
        ip = client.get("/api/v1/appliance").json()["ip"]
        held = client.post(
            "/_emulator/faults", json={"target": "create_service_accounts.grant", "kind": "hang"}
        )
        assert held.status_code == 201, held.text
        first = client.put(
            "/api/v1/avs/script-executions/cut",
            json=sshd("Enable-JetStreamRESTUser", ip),
        )
        assert first.status_code == 201, first.text
        queued = client.put(
            "/api/v1/avs/script-executions/behind", json=sshd("Enable-JetDRSshd", ip)
        )
        assert queued.status_code == 201, queued.text
        for _ in range(300):
            cut = client.get("/api/v1/avs/script-executions/cut").json()
            if cut["provisioning_state"] == "Running" and cut["information"]:
                break
            time.sleep(0.05)
        assert cut["provisioning_state"] == "Running", cut
        assert (
            client.get("/api/v1/avs/script-executions/behind").json()["provisioning_state"]
            == "Pending"
        )
    served.kill()
    served.start()
    with served.client() as client:
        cut = finished(client, "cut")
        assert (cut["provisioning_state"], cut["exit_code"]) == ("Failed", 1), cut
        assert "not run again half-way" in cut["failure_reason"], cut["failure_reason"]
        behind = finished(client, "behind")
        assert (behind["provisioning_state"], behind["exit_code"]) == ("Succeeded", 0), (
            behind["failure_reason"],
            behind["errors"],
        )
        assert client.get("/api/v1/appliance").json()["sshd_enabled"] is True
        deleted = client.delete("/api/v1/avs/script-executions/cut")
        assert deleted.status_code == 204, deleted.text
        assert client.get("/api/v1/avs/script-executions/cut").status_code == 404
