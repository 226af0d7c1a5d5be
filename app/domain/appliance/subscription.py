"""The AVS subscription: its validity, the 14-day grace after it expires, and what a lapsed
subscription does (new writes are kept in bitmaps only, the JetStream DR 5.0.4 behaviour).

The subscription server's answer is the expiry (`PUT /_emulator/subscription` plays that
server); the appliance holds the subscription id. Without an id (not an AVS deployment) nothing
expires."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.alarms import repository as alarms
from app.domain.alarms.service import AlarmType, clear_alarm, raise_alarm
from app.domain.appliance import repository

GRACE = dt.timedelta(days=14)
ENTITY_TYPE = "subscription"
LAPSED = "the subscription lapsed: new writes are kept in bitmaps only until it is reinstated"


class SubscriptionStatus(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    GRACE = "grace"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Subscription:
    subscription_id: str | None
    expires_at: dt.datetime | None

    @property
    def grace_ends_at(self) -> dt.datetime | None:
        return None if self.expires_at is None else self.expires_at + GRACE

    def status(self, now: dt.datetime) -> SubscriptionStatus:
        if self.subscription_id is None:
            return SubscriptionStatus.NONE
        if self.expires_at is None or now < self.expires_at:
            return SubscriptionStatus.ACTIVE
        assert self.grace_ends_at is not None
        if now < self.grace_ends_at:
            return SubscriptionStatus.GRACE
        return SubscriptionStatus.EXPIRED

    def bitmap_only_from(self) -> float | None:
        """The moment from which protected domains keep new writes in bitmaps only (None:
        never, as things stand)."""
        if self.subscription_id is None or self.grace_ends_at is None:
            return None
        return self.grace_ends_at.timestamp()


async def current(session: AsyncSession) -> Subscription:
    appliance = await repository.appliance_row(session)
    return Subscription(appliance.subscription_id, appliance.subscription_expires_at)


async def reconcile_alarms(
    session: AsyncSession, subscription: Subscription, now: dt.datetime
) -> None:
    """The grace alarm while in grace, the expired alarm once expired, neither otherwise; each
    raised at the moment its period began (not when it was noticed), the grace alarm cleared
    when the grace ended. Adds to the caller's transaction."""
    status = subscription.status(now)
    wanted = {
        AlarmType.SUBSCRIPTION_GRACE: status == SubscriptionStatus.GRACE,
        AlarmType.SUBSCRIPTION_EXPIRED: status == SubscriptionStatus.EXPIRED,
    }
    entity_id = subscription.subscription_id
    for alarm_type, want in wanted.items():
        for alarm in await alarms.active_of_type(session, alarm_type.value):
            if want and alarm.entity_id == entity_id:
                continue
            ended = (
                subscription.grace_ends_at
                if alarm_type == AlarmType.SUBSCRIPTION_GRACE
                and status == SubscriptionStatus.EXPIRED
                else now
            )
            await clear_alarm(
                session, alarm_type=alarm_type, entity_id=alarm.entity_id, at=ended or now
            )
        if not want or entity_id is None:
            continue
        await raise_alarm(
            session,
            alarm_type=alarm_type,
            entity=(ENTITY_TYPE, entity_id, entity_id),
            message=_message(subscription, status),
            at=_began(subscription, status) or now,
        )


def _began(subscription: Subscription, status: SubscriptionStatus) -> dt.datetime | None:
    return (
        subscription.expires_at
        if status == SubscriptionStatus.GRACE
        else subscription.grace_ends_at
    )


def _message(subscription: Subscription, status: SubscriptionStatus) -> str:
    assert subscription.expires_at is not None and subscription.grace_ends_at is not None
    expired = subscription.expires_at.isoformat()
    grace_end = subscription.grace_ends_at.isoformat()
    if status == SubscriptionStatus.GRACE:
        return (
            f"subscription {subscription.subscription_id} expired at {expired}; its grace period "
            f"ends at {grace_end}, after which protected domains keep new writes in bitmaps only"
        )
    return (
        f"subscription {subscription.subscription_id} expired at {expired} and its grace period "
        f"ended at {grace_end}: protected domains keep new writes in bitmaps only until it is "
        "reinstated"
    )
