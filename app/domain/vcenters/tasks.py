"""Task types of the vCenter registration: each step is idempotent and reads fresh state."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app import PRODUCT_VERSION
from app.adapters.vcenter.errors import VCenterAuthFailed, VCenterNotFound, VCenterUnreachable
from app.adapters.vcenter.port import Extension, VCenterSession
from app.domain.appliance.models import Appliance
from app.domain.events import service as events
from app.domain.inventory import repository as inventory_repository
from app.domain.inventory.service import sync_inventory
from app.domain.plugin.package import PLUGIN_KEY
from app.domain.vcenters.models import VCenter
from app.domain.vcenters.service import endpoint_of, refresh_cors_origins
from app.domain.vcenters.states import VCenterStatus
from app.tasks.registry import Step, TaskContext, TaskDefinition, TaskFailed

MINIMUM_VERSION = (6, 7)
CLOCK_SKEW_LIMIT_SECONDS = 300.0
CLOCK_SKEW_WARNING_SECONDS = 30.0

# How long each vCenter round trip takes, in virtual seconds.
CONNECT_SECONDS = 2.0
ABOUT_SECONDS = 1.0
EXTENSION_SECONDS = 3.0
INVENTORY_SECONDS = 5.0


def parse_version(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


async def _vcenter_row(session: AsyncSession, ctx: TaskContext) -> VCenter:
    vcenter = await session.get(VCenter, ctx.entity_id)
    if vcenter is None:
        raise TaskFailed("not_found", f"vCenter {ctx.entity_id} is no longer registered")
    return vcenter


@contextlib.asynccontextmanager
async def connected(
    ctx: TaskContext, vcenter_id: str | None = None
) -> AsyncIterator[VCenterSession]:
    """A logged-in vCenter session for a task step (the task's own vCenter by default)."""
    async with ctx.sessionmaker() as session:
        vcenter = await session.get(VCenter, vcenter_id or ctx.entity_id)
        if vcenter is None:
            raise TaskFailed("not_found", "the vCenter is no longer registered")
        endpoint = endpoint_of(ctx.platform.secrets, vcenter)
    await ctx.clock.sleep(CONNECT_SECONDS)
    connection = await ctx.platform.vcenter.connect(endpoint)
    try:
        yield connection
    finally:
        await connection.logout()


async def connect(ctx: TaskContext) -> None:
    async with connected(ctx):
        pass


async def check_version(ctx: TaskContext) -> None:
    async with connected(ctx) as vc:
        await ctx.clock.sleep(ABOUT_SECONDS)
        about = await vc.about()
    if parse_version(about.version)[:2] < MINIMUM_VERSION:
        raise TaskFailed(
            "vcenter_version_unsupported",
            f"vCenter {about.version} (build {about.build}) is older than the required 6.7",
        )
    async with ctx.sessionmaker() as session:
        vcenter = await _vcenter_row(session, ctx)
        vcenter.version = about.version
        vcenter.build = about.build
        vcenter.instance_uuid = about.instance_uuid
        await session.commit()
    ctx.result["version"] = about.version
    ctx.result["build"] = about.build


async def check_clock_skew(ctx: TaskContext) -> None:
    async with connected(ctx) as vc:
        await ctx.clock.sleep(ABOUT_SECONDS)
        about = await vc.about()
    # Skew is between real clocks (the appliance host's and vCenter's), whatever the virtual
    # clock's mode: a scaled or manual emulator clock must not look like an NTP problem. The
    # appliance's clock is the host's shifted by its configured `time_skew_seconds`.
    async with ctx.sessionmaker() as session:
        appliance = await session.get(Appliance, 1)
        offset = (appliance.time_skew_seconds or 0.0) if appliance is not None else 0.0
    appliance_now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    skew = (about.server_time - appliance_now).total_seconds()
    ctx.result["time_skew_seconds"] = round(skew, 3)
    if abs(skew) > CLOCK_SKEW_LIMIT_SECONDS:
        raise TaskFailed(
            "clock_skew",
            f"the appliance clock is {skew:+.0f} s off vCenter's (limit "
            f"{CLOCK_SKEW_LIMIT_SECONDS:.0f} s); synchronise both with NTP",
        )
    if abs(skew) > CLOCK_SKEW_WARNING_SECONDS:
        await ctx.log(f"warning: clock skew with vCenter is {skew:+.1f} s")


async def _plugin_extension(ctx: TaskContext) -> Extension:
    async with ctx.sessionmaker() as session:
        appliance = await session.get(Appliance, 1)
        vcenter = await _vcenter_row(session, ctx)
        assert appliance is not None
    address = appliance.ip if vcenter.register_with_ip else appliance.hostname
    port = ctx.platform.settings.port
    authority = address if port == 443 else f"{address}:{port}"
    return Extension(
        key=PLUGIN_KEY,
        version=PRODUCT_VERSION,
        label="JetStream DR",
        summary="JetStream DR for vSphere: continuous data protection and recovery",
        company="JetStream Software",
        server_url=f"https://{authority}/plugin/plugin.json",
    )


async def register_plugin(ctx: TaskContext) -> None:
    extension = await _plugin_extension(ctx)
    async with connected(ctx) as vc:
        await ctx.clock.sleep(EXTENSION_SECONDS)
        existing = await vc.find_extension(PLUGIN_KEY)
        if existing is None:
            await vc.register_extension(extension)
            ctx.result["_plugin_registered_by_task"] = True
        elif existing != extension:
            await vc.update_extension(extension)
    async with ctx.sessionmaker() as session:
        vcenter = await _vcenter_row(session, ctx)
        vcenter.plugin_registered = True
        vcenter.plugin_version = extension.version
        await session.commit()
    ctx.result["plugin"] = {"key": extension.key, "url": extension.server_url}


async def unregister_plugin(ctx: TaskContext) -> None:
    try:
        async with connected(ctx) as vc:
            await ctx.clock.sleep(EXTENSION_SECONDS)
            with contextlib.suppress(VCenterNotFound):
                await vc.unregister_extension(PLUGIN_KEY)
    except (VCenterUnreachable, VCenterAuthFailed) as error:
        if not ctx.params.get("force"):
            raise
        await ctx.log(f"vCenter not reachable, plugin left registered there: {error.message}")
    async with ctx.sessionmaker() as session:
        vcenter = await _vcenter_row(session, ctx)
        vcenter.plugin_registered = False
        await session.commit()


def _principals(ctx: TaskContext) -> list[str]:
    """The elevated user (absent when only the REST user is meant) and the REST user."""
    return [p for p in (ctx.params.get("elevated_user"), ctx.params["rest_user"]) if p]


async def create_service_accounts(ctx: TaskContext) -> None:
    """The role (cloned from `clone_from`, or from `Admin` where there is no CloudAdmin, as on
    premises) and the two global permissions; what already exists is kept."""
    role, clone_from = ctx.params["role"], ctx.params["clone_from"]
    async with connected(ctx) as vc:
        roles = await vc.role_names()
        if role not in roles:
            source = clone_from if clone_from in roles else "Admin"
            await vc.create_role(role, source)
            ctx.result["role_created_from"] = source
        for principal in _principals(ctx):
            await vc.set_global_permission(principal, role)
    ctx.result["granted"] = _principals(ctx)


async def remove_service_accounts(ctx: TaskContext) -> None:
    async with connected(ctx) as vc:
        for principal in _principals(ctx):
            with contextlib.suppress(VCenterNotFound):
                await vc.remove_global_permission(principal)
        if ctx.params["role"] not in (await vc.global_permissions()).values():
            with contextlib.suppress(VCenterNotFound):
                await vc.delete_role(ctx.params["role"])


async def discover_inventory(ctx: TaskContext) -> None:
    async with connected(ctx) as vc:
        await ctx.clock.sleep(INVENTORY_SECONDS / 2)
        await ctx.report_progress(0.5)
        inventory = await vc.inventory()
        await ctx.clock.sleep(INVENTORY_SECONDS / 2)
    counts = await sync_inventory(ctx.platform, ctx.entity_id, inventory)
    async with ctx.sessionmaker() as session:
        vcenter = await _vcenter_row(session, ctx)
        vcenter.inventory_refreshed_at = ctx.clock.now()
        await session.commit()
    ctx.result["inventory"] = counts


async def mark_registered(ctx: TaskContext) -> None:
    async with ctx.sessionmaker() as session:
        vcenter = await _vcenter_row(session, ctx)
        was = vcenter.status
        vcenter.status = VCenterStatus.REGISTERED.value
        vcenter.active_task_id = None
        vcenter.last_error = None
        vcenter.updated_at = ctx.clock.now()
        await refresh_cors_origins(session, ctx.platform)
        if was == VCenterStatus.REGISTERING.value:
            events.record(
                session,
                at=ctx.clock.now(),
                actor=ctx.actor,
                action="vcenter.registered",
                message=f"registered with vCenter {vcenter.hostname} {vcenter.version}",
                entity=("vcenter", vcenter.id, vcenter.hostname),
                task_id=ctx.task_id,
            )
        await session.commit()


async def _forget(
    ctx: TaskContext,
    action: str,
    describe: Callable[[str], str],
    details: dict[str, str] | None = None,
) -> None:
    """Remove the vCenter and its inventory, in one transaction with the event saying why."""
    async with ctx.sessionmaker() as session:
        vcenter = await session.get(VCenter, ctx.entity_id)
        if vcenter is None:
            return
        await inventory_repository.delete_all(session, vcenter.id)
        await session.delete(vcenter)
        await session.flush()
        await refresh_cors_origins(session, ctx.platform)
        events.record(
            session,
            at=ctx.clock.now(),
            actor=ctx.actor,
            action=action,
            message=describe(vcenter.hostname),
            entity=("vcenter", vcenter.id, vcenter.hostname),
            task_id=ctx.task_id,
            details=details,
        )
        await session.commit()


async def forget_vcenter(ctx: TaskContext) -> None:
    await _forget(ctx, "vcenter.unregistered", lambda host: f"unregistered from vCenter {host}")


async def undo_registration(ctx: TaskContext) -> None:
    if ctx.result.get("_plugin_registered_by_task"):
        with contextlib.suppress(Exception):
            async with connected(ctx) as vc:
                await vc.unregister_extension(PLUGIN_KEY)
    code, message = ctx.failure or ("failed", "registration failed")
    await _forget(
        ctx,
        "vcenter.registration_failed",
        lambda host: f"registration with vCenter {host} failed: {message}",
        {"error_code": code},
    )


async def release_after_failure(ctx: TaskContext) -> None:
    """A failed action leaves the vCenter in `error` when vCenter itself was the problem."""
    code, message = ctx.failure or ("failed", "the task failed")
    async with ctx.sessionmaker() as session:
        vcenter = await session.get(VCenter, ctx.entity_id)
        if vcenter is None or vcenter.active_task_id != ctx.task_id:
            return
        vcenter.active_task_id = None
        if code.startswith("vcenter_") or vcenter.status == VCenterStatus.UNREGISTERING.value:
            vcenter.status = VCenterStatus.ERROR.value
            vcenter.last_error = f"{code}: {message}"
        vcenter.updated_at = ctx.clock.now()
        await session.commit()


REGISTER_VCENTER = TaskDefinition(
    type="register_vcenter",
    steps=(
        Step("connect", connect),
        Step("check_version", check_version),
        Step("check_clock_skew", check_clock_skew),
        Step("register_plugin", register_plugin, weight=2),
        Step("discover_inventory", discover_inventory, weight=3),
        Step("finalize", mark_registered, weight=0.5),
    ),
    compensate=undo_registration,
)

UNREGISTER_VCENTER = TaskDefinition(
    type="unregister_vcenter",
    steps=(
        Step("unregister_plugin", unregister_plugin, weight=2),
        Step("forget_vcenter", forget_vcenter),
    ),
    cancellable=False,
    compensate=release_after_failure,
)

REFRESH_INVENTORY = TaskDefinition(
    type="refresh_inventory",
    steps=(
        Step("connect", connect),
        Step("discover_inventory", discover_inventory, weight=3),
        Step("finalize", mark_registered, weight=0.5),
    ),
    compensate=release_after_failure,
)

REGISTER_PLUGIN = TaskDefinition(
    type="register_plugin",
    steps=(
        Step("connect", connect),
        Step("register_plugin", register_plugin, weight=2),
        Step("finalize", mark_registered, weight=0.5),
    ),
    compensate=release_after_failure,
)

UNREGISTER_PLUGIN = TaskDefinition(
    type="unregister_plugin",
    steps=(
        Step("unregister_plugin", unregister_plugin, weight=2),
        Step("finalize", mark_registered, weight=0.5),
    ),
    compensate=release_after_failure,
)

CREATE_SERVICE_ACCOUNTS = TaskDefinition(
    type="create_service_accounts",
    steps=(
        Step("grant", create_service_accounts, weight=2),
        Step("finalize", mark_registered, weight=0.5),
    ),
    compensate=release_after_failure,
)

REMOVE_SERVICE_ACCOUNTS = TaskDefinition(
    type="remove_service_accounts",
    steps=(
        Step("revoke", remove_service_accounts, weight=2),
        Step("finalize", mark_registered, weight=0.5),
    ),
    compensate=release_after_failure,
)

DEFINITIONS = (
    CREATE_SERVICE_ACCOUNTS,
    REMOVE_SERVICE_ACCOUNTS,
    REGISTER_VCENTER,
    UNREGISTER_VCENTER,
    REFRESH_INVENTORY,
    REGISTER_PLUGIN,
    UNREGISTER_PLUGIN,
)
