"""What each cmdlet of the run-command package does, through this appliance's own services and
vCenter (reference §5.2, §5.3). Every line a cmdlet writes goes to one of the execution's
streams; a `CmdletFailed` ends it as Failed."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.vcenter.errors import VCenterError
from app.adapters.vcenter.port import Endpoint
from app.core.errors import AppError
from app.core.pagination import PageParams
from app.domain.appliance.models import Appliance
from app.domain.appliance.service import ApplianceService
from app.domain.auth.service import AuthCache, AuthService
from app.domain.avs import msa_vm
from app.domain.avs.catalog import vcenter_address
from app.domain.avs.execution import CmdletFailed, Run
from app.domain.clusters.service import ClusterService
from app.domain.inventory import repository as inventory
from app.domain.inventory.models import Cluster, Host
from app.domain.preflight.schemas import InstallPreflight, PreflightResult, VCenterCredentials
from app.domain.preflight.service import PreflightService
from app.domain.vcenters import repository as vcenters
from app.domain.vcenters.models import VCenter
from app.domain.vcenters.schemas import RestUser, ServiceAccounts, VCenterCreate
from app.domain.vcenters.service import VCenterService
from app.tasks.models import Task

Handler = Callable[[Run], Awaitable[None]]
Model = TypeVar("Model", Cluster, Host)
HANDLERS: dict[str, Handler] = {}


def cmdlet(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name.lower()] = handler
        return handler

    return register


# -- what most cmdlets check first ------------------------------------------------------------


async def _appliance(run: Run) -> Appliance:
    async def load(session: AsyncSession) -> Appliance:
        appliance = await session.get(Appliance, 1)
        assert appliance is not None
        return appliance

    appliance: Appliance = await run.call(load)
    return appliance


async def check_msa(run: Run) -> Appliance:
    """The MSA root credential opens this appliance, and `MSIp` is its address."""
    username, password = run.credential()
    auth = AuthService(
        run.platform.sessionmaker, run.platform.worker(AuthCache), run.platform.clock
    )

    async def check(session: AsyncSession) -> None:
        await auth.check_password(session, username, password, address=None, via="run-command")

    try:
        await run.call(check)
    except CmdletFailed as failure:
        raise CmdletFailed(f"the MSA refused the credential of {username}: {failure}") from None
    appliance = await _appliance(run)
    given = run.optional("MSIp")
    if given is not None and not run.cmdlet.deploys_msa and given != appliance.ip:
        raise CmdletFailed(f"no MSA answers at {given}: this MSA's address is {appliance.ip}")
    await run.info(f"MSA {appliance.hostname} ({appliance.ip}) accepted the credential")
    return appliance


async def _endpoint(run: Run) -> Endpoint:
    """The private cloud's vCenter: the hidden parameters, else the one the MSA knows."""
    hostname = run.optional("VCenter")
    if hostname is not None:
        credential = run.optional("VCenterCredential")
        if credential is None:
            raise CmdletFailed("the hidden parameter VCenterCredential is missing")
        username, password = credential
        host, port = vcenter_address(str(hostname))
        return Endpoint(host, port, str(username), str(password))
    found = await run.call(lambda s: msa_vm.registered_endpoint(s, run.platform))
    if found is None:
        raise CmdletFailed(
            "no vCenter to act on: the MSA is not registered with one and the execution has no "
            "VCenter hidden parameters"
        )
    endpoint: Endpoint = found
    return endpoint


async def _registered(run: Run) -> VCenter:
    found = await run.call(vcenters.all_)
    if not found:
        raise CmdletFailed("the MSA is not registered with a vCenter")
    vcenter: VCenter = found[0]
    return vcenter


async def _named(run: Run, model: type[Model], name: str) -> Model:
    async def find(session: AsyncSession) -> Model | None:
        page = await inventory.list_page(session, model, PageParams(limit=100), name=name)
        return next((item for item in page.items if item.name == name), None)

    found = await run.call(find)
    if found is None:
        kind = "cluster" if model is Cluster else "host"
        raise CmdletFailed(f"no {kind} named {name} in the registered vCenter")
    item: Model = found
    return item


async def _report(run: Run, what: str, result: PreflightResult) -> None:
    for check in result.checks:
        line = f"{check.name}: {check.message}"
        if check.status == "passed":
            await run.info(line)
        elif check.status == "warning":
            await run.warn(line)
        else:
            await run.error(line)
    if not result.passed:
        failed = [c.name for c in result.checks if c.status == "failed"]
        raise CmdletFailed(f"{what} failed: {', '.join(failed)}")
    await run.info(f"{what} passed")


def _vcenter_given(run: Run) -> VCenterCredentials | None:
    hostname, credential = run.optional("VCenter"), run.optional("VCenterCredential")
    if hostname is None or credential is None:
        return None
    username, password = credential
    host, port = vcenter_address(str(hostname))
    return VCenterCredentials(hostname=host, port=port, username=username, password=password)


async def _install_preflight(run: Run) -> None:
    spec = InstallPreflight(
        cluster=run.text("Cluster"),
        protected_cluster=run.text("ProtectedCluster"),
        vm_name=run.text("VMName"),
        datastore=run.text("Datastore"),
        network=run.text("Network"),
        vcenter=_vcenter_given(run),
    )
    result = await run.call(lambda s: PreflightService(s, run.platform).install(spec))
    await _report(run, "install preflight", result)


# -- install and uninstall --------------------------------------------------------------------


@cmdlet("Invoke-PreflightJetDRInstall")
async def preflight_install(run: Run) -> None:
    await _install_preflight(run)


async def _install(run: Run, settings: msa_vm.NetworkSettings) -> None:
    appliance = await check_msa(run)
    await _install_preflight(run)
    endpoint = await _endpoint(run)
    name, hostname = run.text("VMName"), run.text("HostName")
    await run.info(f"deploying the MSA VM {name} on {run.text('Cluster')}...")
    try:
        async with msa_vm.connected(run.platform, endpoint) as vc:
            vm = await msa_vm.deploy(
                vc,
                name=name,
                cluster=run.text("Cluster"),
                datastore=run.text("Datastore"),
                network=run.text("Network"),
                hostname=hostname,
                settings=settings,
                cpu=appliance.cpu_count,
                memory_gb=appliance.memory_gb,
            )
    except (VCenterError, AppError) as error:
        raise CmdletFailed(f"deploying the MSA VM failed: {_text(error)}") from error
    address = settings.ip or vm.ip or appliance.ip

    async def record(session: AsyncSession) -> None:
        row = await session.get(Appliance, 1)
        assert row is not None
        row.vm_moref, row.vm_name, row.hostname, row.ip = vm.moref, vm.name, hostname, address
        row.dns = [s for s in (settings.dns or "").split(",") if s]
        await session.commit()
        run.platform.state.ip_address = address

    await run.call(record)
    await run.info(f"MSA VM {vm.name} ({vm.moref}) is powered on at {address}")
    await run.output("msa_vm", vm.name)
    await run.output("msa_ip", address)
    await run.output("msa_hostname", hostname)
    await run.info("the MSA status API answers: ready")
    try:
        await _configure(run, endpoint)
    except (CmdletFailed, asyncio.CancelledError):
        # Also when stopped (its timeout, a cancel): the warning is written all the same.
        warning = f"the MSA VM {vm.name} stays deployed: Uninstall-JetDR removes it"
        await asyncio.shield(run.warn(warning))
        raise
    await run.info("JetStream DR is installed")


async def _configure(run: Run, endpoint: Endpoint) -> None:
    """What an install does once the MSA is up: vCenter, the protected cluster, the users."""
    vcenter = await _register_vcenter(run, endpoint)
    cluster = await _named(run, Cluster, run.text("ProtectedCluster"))
    if cluster.status != "configured":
        await run.task(
            f"configuring cluster {cluster.name} (JetStream VIB on every host)",
            lambda s: ClusterService(s, run.platform).configure(cluster.id, True, run.actor),
        )
    accounts = ServiceAccounts()
    await run.task(
        f"creating the elevated user {accounts.elevated_user} and the REST user "
        f"{accounts.rest_user}",
        lambda s: VCenterService(s, run.platform).service_accounts(
            vcenter.id, accounts, run.actor, create=True
        ),
    )


async def _register_vcenter(run: Run, endpoint: Endpoint) -> VCenter:
    found = await run.call(vcenters.all_)
    if found:
        await run.info(f"vCenter {found[0].hostname} is already registered with the MSA")
        vcenter: VCenter = found[0]
        return vcenter
    spec = VCenterCreate(
        hostname=endpoint.hostname,
        port=endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        register_with_ip=run.flag("RegisterWithIp"),
    )
    await run.task(
        f"registering vCenter {endpoint.hostname} with the MSA",
        lambda s: VCenterService(s, run.platform).register(spec, run.actor),
    )
    return await _registered(run)


@cmdlet("Install-JetDRWithStaticIP")
async def install_static(run: Run) -> None:
    try:
        settings = msa_vm.static_settings(
            run.text("MSIp"), run.text("Netmask"), run.text("Gateway"), run.text("Dns")
        )
    except ValueError as error:
        raise CmdletFailed(str(error)) from error
    await _install(run, settings)


@cmdlet("Install-JetDRWithDHCP")
async def install_dhcp(run: Run) -> None:
    await _install(run, msa_vm.NetworkSettings())


@cmdlet("Invoke-PreflightJetDRUninstall")
async def preflight_uninstall(run: Run) -> None:
    await check_msa(run)
    name = run.text("ProtectedCluster")
    result = await run.call(lambda s: PreflightService(s, run.platform).uninstall(name))
    await _report(run, "uninstall preflight", result)


@cmdlet("Uninstall-JetDR")
async def uninstall(run: Run) -> None:
    await preflight_uninstall(run)
    appliance = await _appliance(run)
    endpoint = await _endpoint(run)
    vcenter = await _registered(run)
    cluster = await _named(run, Cluster, run.text("ProtectedCluster"))
    if cluster.status != "unconfigured":
        await _unconfigure(run, cluster)
    accounts = ServiceAccounts()
    await run.task(
        "removing the elevated user and the REST user",
        lambda s: VCenterService(s, run.platform).service_accounts(
            vcenter.id, accounts, run.actor, create=False
        ),
    )
    await run.task(
        f"unregistering vCenter {vcenter.hostname} (and the plugin)",
        lambda s: VCenterService(s, run.platform).unregister(vcenter.id, False, run.actor),
    )
    if appliance.vm_moref is None:
        await run.warn("the MSA VM was not deployed by an install cmdlet: it is left in place")
    else:
        async with msa_vm.connected(run.platform, endpoint) as vc:
            removed = await msa_vm.remove(vc, appliance.vm_moref)
        await run.info(
            f"MSA VM {appliance.vm_name} " + ("deleted" if removed else "was already gone")
        )

        async def forget(session: AsyncSession) -> None:
            row = await session.get(Appliance, 1)
            assert row is not None
            row.vm_moref = row.vm_name = None
            await session.commit()

        await run.call(forget)
    await run.info("JetStream DR is uninstalled")


# -- clusters and hosts -----------------------------------------------------------------------


async def _unconfigure(run: Run, cluster: Cluster) -> None:
    await run.task(
        f"unconfiguring cluster {cluster.name} (removing the IO filter)",
        lambda s: ClusterService(s, run.platform).unconfigure(cluster.id, True, run.actor),
    )


@cmdlet("Enable-JetDRForCluster")
async def enable_cluster(run: Run) -> None:
    await check_msa(run)
    name = run.text("ProtectedCluster")
    result = await run.call(lambda s: PreflightService(s, run.platform).enable_cluster(name))
    await _report(run, "enable-cluster preflight", result)
    cluster = await _named(run, Cluster, name)
    await run.task(
        f"configuring cluster {name}",
        lambda s: ClusterService(s, run.platform).configure(cluster.id, True, run.actor),
    )


@cmdlet("Disable-JetDRForCluster")
async def disable_cluster(run: Run) -> None:
    await check_msa(run)
    cluster = await _named(run, Cluster, run.text("ProtectedCluster"))
    if cluster.status == "unconfigured":
        raise CmdletFailed(f"cluster {cluster.name} is not configured for JetStream DR")
    await _unconfigure(run, cluster)


@cmdlet("Update-JetDR")
async def update(run: Run) -> None:
    await check_msa(run)
    vcenter = await _registered(run)
    await run.task(
        "updating the vCenter plugin",
        lambda s: VCenterService(s, run.platform).register_plugin(vcenter.id, run.actor),
    )
    only = run.optional("ProtectedCluster")
    if only is not None:
        clusters: list[Cluster] = [await _named(run, Cluster, str(only))]
    else:
        clusters = list(await run.call(lambda s: inventory.configured_clusters(s, vcenter.id)))
    for cluster in clusters:
        upgrade = functools.partial(_upgrade, run, cluster.id)
        try:
            await run.task(f"upgrading the host package on {cluster.name}", upgrade)
        except CmdletFailed as failure:
            if "already_current" not in failure.message:
                raise
            await run.info(f"cluster {cluster.name} already runs the MSA's host package")


async def _upgrade(run: Run, cluster_id: str, session: AsyncSession) -> Task:
    return await ClusterService(session, run.platform).upgrade(cluster_id, True, run.actor)


@cmdlet("Resolve-HostIssue")
async def resolve_host_issue(run: Run) -> None:
    await check_msa(run)
    host = await _named(run, Host, run.text("HostName"))
    await run.task(
        f"resolving the issue of host {host.name}",
        lambda s: ClusterService(s, run.platform).resolve_host_issue(host.id, run.actor),
    )


@cmdlet("Resolve-ClusterIssue")
async def resolve_cluster_issue(run: Run) -> None:
    await check_msa(run)
    cluster = await _named(run, Cluster, run.text("ProtectedCluster"))
    await run.task(
        f"resolving the issues of cluster {cluster.name}",
        lambda s: ClusterService(s, run.platform).resolve_issues(cluster.id, run.actor),
    )


@cmdlet("Repair-Cluster")
async def repair_cluster(run: Run) -> None:
    await check_msa(run)
    cluster = await _named(run, Cluster, run.text("ProtectedCluster"))
    await run.task(
        f"repairing cluster {cluster.name}",
        lambda s: ClusterService(s, run.platform).repair(cluster.id, run.actor),
    )


# -- plugin, users, daemons -------------------------------------------------------------------


@cmdlet("Register-JetDRPlugin")
async def register_plugin(run: Run) -> None:
    await check_msa(run)
    vcenter = await _registered(run)
    if run.optional("RegisterWithIp") is not None:

        async def address_by(session: AsyncSession) -> None:
            row = await vcenters.get(session, vcenter.id)
            assert row is not None
            row.register_with_ip = run.flag("RegisterWithIp")
            await session.commit()

        await run.call(address_by)
    await run.task(
        "registering the JetStream DR plugin",
        lambda s: VCenterService(s, run.platform).register_plugin(vcenter.id, run.actor),
    )


@cmdlet("Unregister-JetDRPlugin")
async def unregister_plugin(run: Run) -> None:
    await check_msa(run)
    vcenter = await _registered(run)
    await run.task(
        "unregistering the JetStream DR plugin",
        lambda s: VCenterService(s, run.platform).unregister_plugin(vcenter.id, run.actor),
    )


async def _rest_user(run: Run, create: bool) -> None:
    await check_msa(run)
    vcenter = await _registered(run)
    given = run.optional("RESTUserName")
    user = RestUser(rest_user=given) if given else RestUser()
    await run.task(
        f"{'granting' if create else 'revoking'} the global permission of {user.rest_user}",
        lambda s: VCenterService(s, run.platform).service_accounts(
            vcenter.id, user.accounts(), run.actor, create=create
        ),
    )


@cmdlet("Enable-JetStreamRESTUser")
async def enable_rest_user(run: Run) -> None:
    await _rest_user(run, create=True)


@cmdlet("Disable-JetStreamRESTUser")
async def disable_rest_user(run: Run) -> None:
    await _rest_user(run, create=False)


async def _sshd(run: Run, enabled: bool) -> None:
    await check_msa(run)
    await run.call(lambda s: ApplianceService(s, run.platform).set_sshd(enabled, run.actor))
    await run.info(f"sshd is {'running' if enabled else 'stopped'} on the MSA")


@cmdlet("Enable-JetDRSshd")
async def enable_sshd(run: Run) -> None:
    await _sshd(run, True)


@cmdlet("Disable-JetDRSshd")
async def disable_sshd(run: Run) -> None:
    await _sshd(run, False)


@cmdlet("Restart-JetDRDaemon")
async def restart_daemon(run: Run) -> None:
    await check_msa(run)
    name = run.optional("DaemonName")
    read = await run.call(
        lambda s: ApplianceService(s, run.platform).restart_daemons(name, run.actor)
    )
    for daemon in read.daemons:
        if name is None or daemon.name == name:
            await run.info(f"{daemon.name} restarted, {daemon.status}")


# -- the MSA VM -------------------------------------------------------------------------------


@cmdlet("Test-JetDRApplianceConnection")
async def test_connection(run: Run) -> None:
    appliance = await check_msa(run)
    await run.info(f"the MSA status API answers at {appliance.ip}: ready")
    found = await run.call(vcenters.all_)
    if not found:
        await run.warn("the MSA is not registered with a vCenter")
    else:
        await run.info(f"the MSA is registered with vCenter {found[0].hostname}")
    endpoint = await _endpoint(run)
    try:
        async with msa_vm.connected(run.platform, endpoint) as vc:
            about = await vc.about()
    except AppError as error:
        raise CmdletFailed(_text(error)) from error
    await run.info(f"vCenter {endpoint.hostname} answers ({about.version})")
    await run.output("connected", True)


async def _known_vm(run: Run) -> tuple[Appliance, str]:
    appliance = await check_msa(run)
    if appliance.vm_moref is None:
        raise CmdletFailed("this MSA's VM is not known: it was not deployed by an install cmdlet")
    return appliance, appliance.vm_moref


@cmdlet("Start-MSA")
async def start_msa(run: Run) -> None:
    appliance, moref = await _known_vm(run)
    async with msa_vm.connected(run.platform, await _endpoint(run)) as vc:
        started = await _vcenter(msa_vm.power_on(vc, moref))
    await run.info(
        f"MSA VM {appliance.vm_name} " + ("powered on" if started else "was already powered on")
    )
    await run.info("the MSA status API answers: ready")


@cmdlet("Restart-MSA")
async def restart_msa(run: Run) -> None:
    appliance, moref = await _known_vm(run)
    async with msa_vm.connected(run.platform, await _endpoint(run)) as vc:
        await _vcenter(msa_vm.power_cycle(vc, moref))
    await run.info(f"MSA VM {appliance.vm_name} restarted")
    await run.info("the MSA status API answers: ready")


@cmdlet("Resize-JetDRMSAResources")
async def resize_msa(run: Run) -> None:
    cpu, memory_gb = run.number("CpuCount"), run.number("MemoryGB")
    try:
        msa_vm.check_size(cpu, memory_gb)
    except ValueError as error:
        raise CmdletFailed(str(error)) from error
    appliance, _moref = await _known_vm(run)
    endpoint = await _endpoint(run)
    await run.info(f"powering off MSA VM {appliance.vm_name} to resize it...")

    async def change(session: AsyncSession) -> Any:
        row = await session.get(Appliance, 1)
        assert row is not None
        async with msa_vm.connected(run.platform, endpoint) as vc:
            resized = await _vcenter(msa_vm.resize(vc, row, cpu, memory_gb))
        await session.commit()
        return resized

    resized = await run.call(change)
    await run.info(
        f"MSA VM {resized.name} has {resized.cpu} vCPUs and {resized.memory_mb // 1024} GB and "
        "is powered on"
    )


T = TypeVar("T")


async def _vcenter(call: Awaitable[T]) -> T:
    try:
        return await call
    except VCenterError as error:
        raise CmdletFailed(f"vCenter refused it: {error.message}") from error


def _text(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    return f"{getattr(error, 'error_code', type(error).__name__)}: {message}"
