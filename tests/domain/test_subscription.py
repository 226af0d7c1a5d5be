"""The AVS subscription on the virtual clock: validity, the 14-day grace (a warning alarm), the
lapse (a critical alarm, new writes kept in bitmaps only) and reinstating it (resync from the
bitmaps, both alarms cleared)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from app.domain.appliance.subscription import LAPSED
from tests.conftest import Appliance, add_user
from tests.domain.test_auth import anonymous
from tests.domain.test_replication import (
    advance,
    assert_replica_matches_source,
    create_domain,
    domain_of,
    local_site,
    protect,
    statistics,
)

SUBSCRIPTION = "jsdr-7f3c2a10-avs"


async def now_of(client: httpx.AsyncClient) -> dt.datetime:
    return dt.datetime.fromisoformat((await client.get("/_emulator/clock")).json()["now"])


async def report_expiry(client: httpx.AsyncClient, expires_at: dt.datetime | None) -> Any:
    body = {"expires_at": None if expires_at is None else expires_at.isoformat()}
    response = await client.put("/_emulator/subscription", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def subscription_alarms(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Every subscription alarm ever raised, by type (at most one of each here)."""
    found: dict[str, dict[str, Any]] = {}
    for kind in ("subscription_grace", "subscription_expired"):
        items = (await client.get("/api/v1/alarms", params={"type": kind})).json()["items"]
        assert len(items) <= 1, items
        if items:
            found[kind] = items[0]
    return found


def at(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


async def test_subscription_requests_are_checked(appliance: Appliance) -> None:
    client = appliance.client
    blank = (await client.get("/api/v1/subscription")).json()
    assert blank == {
        "subscription_id": None,
        "status": "none",
        "expires_at": None,
        "grace_ends_at": None,
    }
    for body in ({}, {"subscription_id": ""}, {"subscription_id": "has space"}, {"x": 1}):
        refused = await client.put("/api/v1/subscription", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error_code"] == "validation_error"
    viewer = await add_user(client, "viewer", "viewer")
    async with anonymous(appliance) as stranger:
        assert (await stranger.get("/api/v1/subscription")).status_code == 401
        assert (await stranger.get("/api/v1/subscription", auth=viewer)).status_code == 200
        forbidden = await stranger.put(
            "/api/v1/subscription", json={"subscription_id": SUBSCRIPTION}, auth=viewer
        )
        assert forbidden.status_code == 403
    for expires in ("2027-01-01T00:00:00", "1900-01-01T00:00:00Z", "soon"):
        bad = await client.put("/_emulator/subscription", json={"expires_at": expires})
        assert bad.status_code == 422, (expires, bad.text)
    # Nothing was written by the refused requests.
    assert (await client.get("/api/v1/subscription")).json() == blank

    # An expiry without a subscription id expires nothing: not an AVS deployment.
    past = await now_of(client) - dt.timedelta(days=30)
    reported = await report_expiry(client, past)
    assert reported["status"] == "none" and at(reported["grace_ends_at"]) == past + dt.timedelta(
        days=14
    )
    assert await subscription_alarms(client) == {}
    # The id through the appliance settings and through the subscription are one.
    patched = await client.patch("/api/v1/appliance", json={"subscription_id": SUBSCRIPTION})
    assert patched.status_code == 200
    assert (await client.get("/api/v1/subscription")).json()["status"] == "expired"
    assert set(await subscription_alarms(client)) == {"subscription_expired"}
    cleared = await client.put("/api/v1/subscription", json={"subscription_id": None})
    assert cleared.json()["status"] == "none"
    assert (await client.get("/api/v1/appliance")).json()["subscription_id"] is None
    alarms = await subscription_alarms(client)
    assert alarms["subscription_expired"]["cleared_at"] is not None
    events = (await client.get("/api/v1/events", params={"action": "subscription.changed"})).json()
    assert events["items"][0]["actor"] == "root"


async def test_a_lapsed_subscription_keeps_writes_in_bitmaps_until_reinstated(
    registered: Appliance, tmp_path: Any
) -> None:
    client = registered.client
    prepared, site_id, _spec = await local_site(registered, tmp_path)
    domain_id = (await create_domain(registered, prepared, site_id))["id"]
    ids = await protect(registered, domain_id, ["web-01", "web-02"])
    changed = await client.put("/api/v1/subscription", json={"subscription_id": SUBSCRIPTION})
    assert changed.status_code == 200 and changed.json()["status"] == "active"
    expires = (await now_of(client)) + dt.timedelta(hours=1)
    reported = await report_expiry(client, expires)
    grace_end = expires + dt.timedelta(days=14)
    assert (reported["status"], at(reported["grace_ends_at"])) == ("active", grace_end)
    for _ in range(6):
        await advance(client, 600)
    assert (await domain_of(client, domain_id))["health"] == "ok"

    # Expired: 14 days of grace, a warning raised at the expiry itself; replication goes on.
    await advance(client, 3600)
    assert (await client.get("/api/v1/subscription")).json()["status"] == "grace"
    grace = (await subscription_alarms(client))["subscription_grace"]
    assert (grace["severity"], at(grace["raised_at"]), grace["cleared_at"]) == (
        "warning",
        expires,
        None,
    )
    assert grace["entity"] == {"type": "subscription", "id": SUBSCRIPTION, "name": SUBSCRIPTION}
    before = await now_of(client)
    await advance(client, 600)
    assert at((await domain_of(client, domain_id))["last_recovery_point_at"]) > before  # type: ignore[operator]
    assert (await statistics(client, domain_id))["replication_state"] == "replicating"

    # The grace ends: bitmap mode from that moment, a critical alarm; the grace alarm ends.
    await advance(client, 14 * 86400)
    assert (await client.get("/api/v1/subscription")).json()["status"] == "expired"
    alarms = await subscription_alarms(client)
    assert at(alarms["subscription_grace"]["cleared_at"]) == grace_end
    lapsed = alarms["subscription_expired"]
    assert (lapsed["severity"], at(lapsed["raised_at"]), lapsed["cleared_at"]) == (
        "critical",
        grace_end,
        None,
    )
    stats = await statistics(client, domain_id)
    assert (stats["replication_state"], stats["last_error"]) == ("bitmap", LAPSED)
    last_point = at((await domain_of(client, domain_id))["last_recovery_point_at"])
    assert last_point is not None and grace_end - dt.timedelta(minutes=5) < last_point <= grace_end
    await advance(client, 1800)
    # The guests still write (into bitmaps); nothing is shipped and no point is taken.
    recent = (await statistics(client, domain_id))["samples"][-20:]
    assert all(
        s["bitmap"] and s["incoming_mbps"] > 0 and s["outgoing_mbps"] == 0 for s in recent
    ), recent
    domain = await domain_of(client, domain_id)
    assert at(domain["last_recovery_point_at"]) == last_point
    assert domain["health"] == "bitmap"
    active = {
        a["type"]
        for a in (
            await client.get("/api/v1/alarms", params={"active": "true", "entity_id": domain_id})
        ).json()["items"]
    }
    assert "bitmap" in active

    # Reinstated: a later expiry; both alarms cleared at once, the bitmaps resynced.
    reinstated_at = await now_of(client)
    reinstated = await report_expiry(client, reinstated_at + dt.timedelta(days=365))
    assert reinstated["status"] == "active"
    alarms = await subscription_alarms(client)
    assert at(alarms["subscription_expired"]["cleared_at"]) == reinstated_at
    for _ in range(3):
        await advance(client, 300)
    stats = await statistics(client, domain_id)
    assert (stats["replication_state"], stats["last_error"]) == ("replicating", None)
    domain = await domain_of(client, domain_id)
    assert at(domain["last_recovery_point_at"]) > reinstated_at  # type: ignore[operator]
    assert domain["health"] == "ok", domain
    # What the guests wrote while lapsed is in the store: the replica equals the source.
    await assert_replica_matches_source(client, ids)
    active_alarms = (await client.get("/api/v1/alarms", params={"active": "true"})).json()["items"]
    assert active_alarms == [], active_alarms
