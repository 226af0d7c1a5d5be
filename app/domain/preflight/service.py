"""The checks the AVS run-command package makes before it installs, enables or uninstalls
(reference/jetstream-domain.md §5.2): read live from vCenter, never changing anything."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.vcenter.errors import VCenterError
from app.adapters.vcenter.port import Endpoint, Inventory
from app.core.pagination import PageParams
from app.domain.inventory import repository as inventory_repository
from app.domain.inventory.models import Cluster
from app.domain.platform import Platform
from app.domain.plugin.package import PLUGIN_KEY
from app.domain.preflight.schemas import Check, InstallPreflight, PreflightResult
from app.domain.vcenters import repository as vcenters
from app.domain.vcenters.service import endpoint_of
from app.domain.vcenters.states import VCenterStatus

MINIMUM_HOSTS = 4


class _Checks:
    def __init__(self) -> None:
        self.items: list[Check] = []

    def add(self, name: str, ok: bool, passed: str, failed: str, *, warn: bool = False) -> None:
        status: Literal["passed", "failed", "warning"] = (
            "passed" if ok else ("warning" if warn else "failed")
        )
        self.items.append(Check(name=name, status=status, message=passed if ok else failed))

    def result(self) -> PreflightResult:
        return PreflightResult(
            passed=all(c.status != "failed" for c in self.items), checks=self.items
        )


class PreflightService:
    def __init__(self, session: AsyncSession, platform: Platform) -> None:
        self.session = session
        self.platform = platform

    async def _endpoint(self, spec: InstallPreflight | None) -> tuple[Endpoint | None, bool]:
        """vCenter to check, and whether this appliance is registered with it."""
        registered = [
            v for v in await vcenters.all_(self.session) if v.status == VCenterStatus.REGISTERED
        ]
        if spec is not None and spec.vcenter is not None:
            given = spec.vcenter
            endpoint = Endpoint(
                given.hostname, given.port, given.username, given.password.get_secret_value()
            )
            return endpoint, any(v.hostname == given.hostname for v in registered)
        if not registered:
            return None, False
        return endpoint_of(self.platform.secrets, registered[0]), True

    async def _read(
        self, checks: _Checks, endpoint: Endpoint | None, want_plugin: bool
    ) -> tuple[Inventory | None, bool]:
        if endpoint is None:
            checks.add(
                "vcenter_connection",
                False,
                "",
                "this appliance is not registered with a vCenter; pass vcenter credentials",
            )
            return None, False
        try:
            vc = await self.platform.vcenter.connect(endpoint)
            try:
                inventory = await vc.inventory()
                plugin = await vc.find_extension(PLUGIN_KEY) is not None if want_plugin else False
            finally:
                await vc.logout()
        except VCenterError as error:
            checks.add("vcenter_connection", False, "", f"{error.error_code}: {error.message}")
            return None, False
        checks.add("vcenter_connection", True, f"connected to {endpoint.hostname}", "")
        return inventory, plugin

    @staticmethod
    def _protected_cluster(checks: _Checks, inventory: Inventory, name: str) -> None:
        cluster = next((c for c in inventory.clusters if c.name == name), None)
        checks.add(
            "protected_cluster_exists",
            cluster is not None,
            f"cluster {name} exists",
            f"cluster {name} does not exist",
        )
        if cluster is None:
            return
        hosts = [h for h in inventory.hosts if h.cluster_moref == cluster.moref]
        checks.add(
            "protected_cluster_host_count",
            len(hosts) >= MINIMUM_HOSTS,
            f"cluster {name} has {len(hosts)} hosts",
            f"cluster {name} has {len(hosts)} hosts; at least {MINIMUM_HOSTS} are required",
        )
        builds = {(h.esxi_version, h.esxi_build) for h in hosts}
        checks.add(
            "protected_cluster_esxi_versions",
            len(builds) <= 1,
            "every host runs the same ESXi build",
            f"hosts of {name} run different ESXi builds: "
            + ", ".join(f"{h.name} {h.esxi_version} ({h.esxi_build})" for h in hosts),
        )
        unready = [h.name for h in hosts if not h.cim_enabled or h.connection_state != "connected"]
        checks.add(
            "protected_cluster_hosts_ready",
            not unready,
            "every host is connected with CIM enabled",
            f"hosts not connected or without CIM: {', '.join(unready)}",
            warn=True,
        )

    async def install(self, spec: InstallPreflight) -> PreflightResult:
        checks = _Checks()
        endpoint, _registered = await self._endpoint(spec)
        inventory, plugin = await self._read(checks, endpoint, want_plugin=True)
        if inventory is None:
            return checks.result()
        names = {c.name for c in inventory.clusters}
        checks.add(
            "cluster_exists",
            spec.cluster in names,
            f"cluster {spec.cluster} exists",
            f"cluster {spec.cluster} does not exist",
        )
        self._protected_cluster(checks, inventory, spec.protected_cluster)
        taken = any(vm.name == spec.vm_name for vm in inventory.vms)
        checks.add(
            "vm_name_unique",
            not taken,
            f"no VM is named {spec.vm_name}",
            f"a VM named {spec.vm_name} already exists",
        )
        checks.add(
            "plugin_not_registered",
            not plugin,
            "no jetdr plugin is registered in vCenter",
            f"a jetdr plugin ({PLUGIN_KEY}) is already registered in vCenter",
        )
        checks.add(
            "datastore_exists",
            any(d.name == spec.datastore for d in inventory.datastores),
            f"datastore {spec.datastore} exists",
            f"datastore {spec.datastore} does not exist",
        )
        checks.add(
            "network_exists",
            any(n.name == spec.network for n in inventory.networks),
            f"network {spec.network} exists",
            f"network {spec.network} does not exist",
        )
        return checks.result()

    async def uninstall(self, protected_cluster: str) -> PreflightResult:
        checks = _Checks()
        endpoint, registered = await self._endpoint(None)
        checks.add(
            "vcenter_registered",
            registered,
            "vCenter is registered with this appliance",
            "vCenter is not registered with this appliance",
        )
        inventory, _plugin = await self._read(checks, endpoint, want_plugin=False)
        if inventory is not None:
            self._protected_cluster(checks, inventory, protected_cluster)
        return checks.result()

    async def enable_cluster(self, protected_cluster: str) -> PreflightResult:
        result = await self.uninstall(protected_cluster)
        checks = _Checks()
        checks.items = list(result.checks)
        found = await inventory_repository.list_page(
            self.session, Cluster, PageParams(limit=1), name=protected_cluster
        )
        status = found.items[0].status if found.items else None
        checks.add(
            "protected_cluster_not_configured",
            status in (None, "unconfigured"),
            f"cluster {protected_cluster} is not configured for JetStream DR yet",
            f"cluster {protected_cluster} is already {status}",
        )
        return checks.result()
