"""The dashboard in headless Chromium (Debian's `chromium`, driven by Playwright) against the
appliance served as its own process over HTTPS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance, artifacts_dir

pytestmark = pytest.mark.e2e


def protect_a_domain(appliance: ServedAppliance, client: httpx.Client, store: Path) -> None:
    """A DRVA with a log volume, a local storage site and a domain of two VMs, protected."""

    def task(method: str, path: str, body: Any = None) -> dict[str, Any]:
        started = client.request(method, path, json=body)
        assert started.status_code == 202, started.text
        done: dict[str, Any] = appliance.wait_task(client, started.json()["id"])
        assert done["status"] == "succeeded", done
        return done

    cluster = client.get("/api/v1/clusters").json()["items"][0]
    datastore = client.get("/api/v1/datastores", params={"name": "vsanDatastore"}).json()
    network = client.get("/api/v1/networks", params={"name": "dhcp-segment"}).json()
    drva = task(
        "POST",
        "/api/v1/drvas",
        {
            "name": "drva-dashboard",
            "cluster_id": cluster["id"],
            "datastore_id": datastore["items"][0]["id"],
            "network_id": network["items"][0]["id"],
        },
    )["entity"]["id"]
    volume = task(
        "POST",
        f"/api/v1/drvas/{drva}/replication-log-volumes",
        {"type": "vmdk", "size_gb": 100, "datastore_id": datastore["items"][0]["id"]},
    )["result"]["volume_id"]
    site = client.post(
        "/api/v1/storage-sites", json={"name": "local-store", "type": "local", "path": str(store)}
    )
    assert site.status_code == 201, site.text
    domain = task(
        "POST",
        "/api/v1/protection-domains",
        {
            "name": "dashboard-domain",
            "storage_site_id": site.json()["id"],
            "drva_id": drva,
            "replication_log_volume_id": volume,
        },
    )["entity"]["id"]
    vms = client.get("/api/v1/vms", params={"cluster_id": cluster["id"], "limit": 2}).json()
    task(
        "POST",
        f"/api/v1/protection-domains/{domain}/vms",
        {"vm_ids": [v["id"] for v in vms["items"]]},
    )
    task("POST", f"/api/v1/protection-domains/{domain}/actions/start-protection")


def test_configure_a_cluster_from_the_dashboard(
    serve: Callable[..., ServedAppliance], browser: Any, tmp_path: Path
) -> None:
    appliance = serve(JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="200")
    appliance.start()
    with appliance.client() as client:
        registered = client.post("/api/v1/vcenters", json=VCENTER)
        assert appliance.wait_task(client, registered.json()["id"])["status"] == "succeeded"

    # The page is public like any login page; the data behind it is not.
    anonymous = browser.new_context(ignore_https_errors=True)
    assert anonymous.request.get(f"{appliance.url}/api/v1/clusters").status == 401
    anonymous.close()

    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    assert page.goto(f"{appliance.url}/ui/").status == 200
    assert page.title().startswith("JetStream DR")
    login = page.locator("form#login")
    login.wait_for()
    assert page.locator("#dashboard").is_hidden()
    login.locator("input[name=username]").fill("root")
    login.locator("input[name=password]").fill("not-the-password")
    login.locator("button[type=submit]").click()
    page.wait_for_selector("#login-error:has-text('wrong username or password')")
    login.locator("input[name=password]").fill(ROOT_PASSWORD)
    login.locator("button[type=submit]").click()
    token = page.wait_for_function("() => sessionStorage.getItem('jetdr-session')").json_value()
    assert token and not context.cookies()  # the session lives in the tab, not in a cookie
    page.wait_for_selector("#appliance:has-text('ready')")
    page.wait_for_selector("#vcenters td:has-text('vcsa-01.protected.local')")
    page.wait_for_selector("#sites td:has-text('protected')")
    cluster = page.locator("#clusters tbody tr", has_text="Cluster-1")
    cluster.locator("button[data-action=configure]").click()

    task = page.locator(".task", has_text="configure_cluster")
    task.wait_for()
    page.wait_for_selector(
        ".task[data-status='succeeded']:has-text('configure_cluster') .percent:has-text('100 %')",
        timeout=30_000,
    )
    width = task.locator(".bar > div").evaluate("node => node.style.width")
    assert width == "100%"
    page.wait_for_selector("#clusters tbody tr:has-text('Cluster-1') td.state-configured")
    hosts = cluster.locator(".host").all_inner_texts()
    assert len(hosts) == 4 and all(text.endswith("installed") for text in hosts), hosts

    # An alarm names its entity: a host of the configured cluster stops responding.
    with appliance.client() as client:
        down = {"kind": "host_unreachable", "target": "esx-02"}
        assert client.post("/_emulator/faults", json=down).status_code == 201
        vcenter = client.get("/api/v1/vcenters").json()["items"][0]
        refresh = client.post(f"/api/v1/vcenters/{vcenter['id']}/actions/refresh-inventory")
        assert appliance.wait_task(client, refresh.json()["id"])["status"] == "succeeded"
    alarm = page.locator("#alarms tbody tr", has_text="host_issue")
    alarm.wait_for(timeout=30_000)
    assert "host esx-02" in alarm.inner_text()

    # The subscription expired yesterday: the header says it is in its grace, with an alarm.
    with appliance.client() as client:
        assert client.put("/api/v1/subscription", json={"subscription_id": "jsdr-1"}).is_success
        now = dt.datetime.fromisoformat(client.get("/_emulator/clock").json()["now"])
        expiry = {"expires_at": (now - dt.timedelta(days=1)).isoformat()}
        assert client.put("/_emulator/subscription", json=expiry).json()["status"] == "grace"
    page.wait_for_selector("#appliance:has-text('subscription grace, grace ends')")
    grace = page.locator("#alarms tbody tr", has_text="subscription_grace")
    grace.wait_for(timeout=30_000)
    assert "subscription jsdr-1" in grace.inner_text() and "warning" in grace.inner_text()

    # A protected domain plots its last hour (RPO and incoming MB/s, inline SVG); the storage
    # site it uses is listed; no recovery has run here, so the reports table says so.
    with appliance.client() as client:
        protect_a_domain(appliance, client, tmp_path / "store")
    page.wait_for_selector("#storage-sites td:has-text('local-store')")
    plotted = page.locator("#domains tbody tr", has_text="dashboard-domain")
    plotted.locator("svg.spark[data-label='RPO'] polyline").wait_for(timeout=60_000)
    incoming = plotted.locator("svg.spark[data-label='incoming'] polyline")
    incoming.wait_for(timeout=30_000)
    assert len(incoming.get_attribute("points").split()) >= 2
    assert "MB/s" in plotted.locator("svg.spark[data-label='incoming'] title").text_content()
    assert page.locator("#reports td.empty").inner_text() == "none"
    artifacts = artifacts_dir()
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    assert (artifacts / "dashboard.png").stat().st_size > 10_000

    # The page ran under its content security policy without a violation.
    assert not [m for m in messages if "Content Security Policy" in m], messages
    page.locator("#logout").click()
    login.wait_for()
    assert page.evaluate("() => sessionStorage.getItem('jetdr-session')") is None
    with appliance.client(auth=False) as anonymous_client:
        ended = anonymous_client.get("/api/v1/sites", headers={"x-jetdr-session": token})
        assert ended.status_code == 401
    context.close()
