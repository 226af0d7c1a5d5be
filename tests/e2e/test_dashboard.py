"""The dashboard in headless Chromium (Debian's `chromium`, driven by Playwright) against the
appliance served as its own process over HTTPS."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ROOT_PASSWORD, VCENTER
from tests.e2e.conftest import ServedAppliance
from tests.peers import missing_peer

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        missing_peer("the dashboard test needs Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_peer("the dashboard test needs `pip install playwright`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def test_configure_a_cluster_from_the_dashboard(
    serve: Callable[..., ServedAppliance], browser: Any
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

    # The page ran under its content security policy without a violation.
    assert not [m for m in messages if "Content Security Policy" in m], messages
    page.locator("#logout").click()
    login.wait_for()
    assert page.evaluate("() => sessionStorage.getItem('jetdr-session')") is None
    with appliance.client(auth=False) as anonymous_client:
        ended = anonymous_client.get("/api/v1/sites", headers={"x-jetdr-session": token})
        assert ended.status_code == 401
    context.close()
