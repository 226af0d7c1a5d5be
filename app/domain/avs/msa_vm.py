"""The MSA's own VM in vCenter: deployed by the install cmdlets, powered on, power-cycled and
resized by the day-2 ones, removed by Uninstall-JetDR. The emulated appliance keeps answering
while its VM is off: the VM is what vCenter shows, the appliance records what it was told."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.vcenter.errors import VCenterError, VCenterNotFound
from app.adapters.vcenter.port import Endpoint, VCenterSession, VmInfo, VmSpec
from app.core.errors import Conflict, ServiceUnavailable
from app.domain.appliance.models import Appliance
from app.domain.platform import Platform
from app.domain.vcenters import repository as vcenters
from app.domain.vcenters.service import endpoint_of

MIN_CPU, MAX_CPU = 4, 32
MIN_MEMORY_GB, MAX_MEMORY_GB = 8, 256


@dataclass(frozen=True)
class NetworkSettings:
    """Static settings; None everywhere is DHCP."""

    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    dns: str | None = None

    def guestinfo(self, hostname: str) -> tuple[tuple[str, str], ...]:
        keys = [("guestinfo.jetstream.hostname", hostname)]
        if self.ip is None:
            return (*keys, ("guestinfo.jetstream.mode", "dhcp"))
        return (
            *keys,
            ("guestinfo.jetstream.mode", "static"),
            ("guestinfo.jetstream.ip", self.ip),
            ("guestinfo.jetstream.netmask", self.netmask or ""),
            ("guestinfo.jetstream.gateway", self.gateway or ""),
            ("guestinfo.jetstream.dns", self.dns or ""),
        )


def static_settings(ip: str, netmask: str, gateway: str, dns: str) -> NetworkSettings:
    """Checked as the install cmdlet checks them; ValueError says which is wrong."""
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError as error:
        raise ValueError(f"MSIp {ip!r} is not an IPv4 address") from error
    mask = netmask.strip()
    if mask.isdigit():
        # The 2022 documentation asked for "22 or 24".
        if not 8 <= int(mask) <= 30:
            raise ValueError(f"Netmask {netmask!r} is not a prefix length from 8 to 30")
        mask = str(ipaddress.IPv4Network(f"0.0.0.0/{mask}").netmask)
    try:
        network = ipaddress.IPv4Network(f"{address}/{mask}", strict=False)
    except ValueError as error:
        raise ValueError(f"Netmask {netmask!r} is not a netmask (e.g. 255.255.255.0)") from error
    try:
        router = ipaddress.IPv4Address(gateway)
    except ValueError as error:
        raise ValueError(f"Gateway {gateway!r} is not an IPv4 address") from error
    if router not in network:
        raise ValueError(f"Gateway {gateway} is not in the MSA's network {network}")
    if router == address:
        raise ValueError("Gateway and MSIp are the same address")
    servers = [s.strip() for s in dns.split(",") if s.strip()]
    if not servers:
        raise ValueError("Dns is empty")
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError as error:
            raise ValueError(f"Dns {server!r} is not an IP address") from error
    return NetworkSettings(str(address), str(network.netmask), str(router), ",".join(servers))


async def registered_endpoint(session: AsyncSession, platform: Platform) -> Endpoint | None:
    registered = await vcenters.all_(session)
    return endpoint_of(platform.secrets, registered[0]) if registered else None


@contextlib.asynccontextmanager
async def connected(platform: Platform, endpoint: Endpoint) -> AsyncIterator[VCenterSession]:
    try:
        vc = await platform.vcenter.connect(endpoint)
    except VCenterError as error:
        raise ServiceUnavailable(
            f"cannot log in to vCenter {endpoint.hostname}: {error.message}",
            error_code="vcenter_unreachable",
        ) from error
    try:
        yield vc
    finally:
        await vc.logout()


async def deploy(
    vc: VCenterSession,
    *,
    name: str,
    cluster: str,
    datastore: str,
    network: str,
    hostname: str,
    settings: NetworkSettings,
    cpu: int,
    memory_gb: int,
) -> VmInfo:
    inventory = await vc.inventory()
    cluster_moref = next(c.moref for c in inventory.clusters if c.name == cluster)
    datastore_moref = next(d.moref for d in inventory.datastores if d.name == datastore)
    network_moref = next(n.moref for n in inventory.networks if n.name == network)
    vm = await vc.create_vm(
        VmSpec(
            name=name,
            cluster_moref=cluster_moref,
            datastore_moref=datastore_moref,
            network_moref=network_moref,
            cpu=cpu,
            memory_mb=memory_gb * 1024,
            extra_config=settings.guestinfo(hostname),
        )
    )
    await vc.power_on_vm(vm.moref)
    return await vc.get_vm(vm.moref)


async def remove(vc: VCenterSession, vm_moref: str) -> bool:
    """Powers off and deletes the VM; False when it is already gone."""
    try:
        await vc.destroy_vm(vm_moref)
    except VCenterNotFound:
        return False
    return True


async def power_on(vc: VCenterSession, vm_moref: str) -> bool:
    """False when it was already on."""
    vm = await vc.get_vm(vm_moref)
    if vm.power_state == "poweredOn":
        return False
    await vc.power_on_vm(vm_moref)
    return True


async def power_cycle(vc: VCenterSession, vm_moref: str) -> None:
    vm = await vc.get_vm(vm_moref)
    if vm.power_state == "poweredOn":
        await vc.power_off_vm(vm_moref)
    await vc.power_on_vm(vm_moref)


def check_size(cpu: int, memory_gb: int) -> None:
    if not MIN_CPU <= cpu <= MAX_CPU:
        raise ValueError(f"CpuCount {cpu} is outside {MIN_CPU} to {MAX_CPU}")
    if not MIN_MEMORY_GB <= memory_gb <= MAX_MEMORY_GB:
        raise ValueError(f"MemoryGB {memory_gb} is outside {MIN_MEMORY_GB} to {MAX_MEMORY_GB}")


async def resize(vc: VCenterSession, appliance: Appliance, cpu: int, memory_gb: int) -> VmInfo:
    """Powered off, reconfigured, powered on again; the appliance row records the new size."""
    if appliance.vm_moref is None:
        raise Conflict(
            "this appliance's VM is not known: it was not deployed by an install cmdlet",
            error_code="msa_vm_unknown",
        )
    vm = await vc.get_vm(appliance.vm_moref)
    if vm.power_state == "poweredOn":
        await vc.power_off_vm(vm.moref)
    resized = await vc.reconfigure_vm(vm.moref, cpu, memory_gb * 1024)
    await vc.power_on_vm(vm.moref)
    appliance.cpu_count, appliance.memory_gb = resized.cpu, resized.memory_mb // 1024
    return resized
