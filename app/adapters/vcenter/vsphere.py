"""The `vsphere` backend: a real vCenter through pyVmomi.

This module is the only place that imports pyVmomi/pyVim. Every SDK call is blocking, so each
runs in a worker thread under this backend's own capacity limiter; vmodl faults and transport
errors are translated here, once, into the adapter's error tree.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from app.adapters.vcenter.errors import (
    VCenterAuthFailed,
    VCenterConflict,
    VCenterError,
    VCenterNotFound,
    VCenterUnreachable,
)
from app.adapters.vcenter.port import (
    About,
    ClusterFilter,
    ClusterInfo,
    DatastoreInfo,
    DiskInfo,
    Endpoint,
    Extension,
    HostFilterState,
    HostInfo,
    Inventory,
    NetworkInfo,
    VmInfo,
    VmSpec,
)

T = TypeVar("T")
TASK_POLL_SECONDS = 0.2
TASK_TIMEOUT_SECONDS = 3600.0
UNKNOWN_PROFILE: dict[str, float | str] = {"name": "unknown", "write_iops": 0.0, "write_kb": 4.0}


def translate(error: BaseException) -> VCenterError:
    """One place where what vCenter (or the network) says becomes the adapter's error tree."""
    if isinstance(error, VCenterError):
        return error
    message = str(getattr(error, "msg", "") or error) or type(error).__name__
    if isinstance(error, vim.fault.InvalidLogin | vim.fault.NotAuthenticated):
        return VCenterAuthFailed(message)
    if isinstance(
        error, vim.fault.NotFound | vmodl.fault.ManagedObjectNotFound | vim.fault.FileNotFound
    ):
        return VCenterNotFound(message)
    if isinstance(
        error, vim.fault.AlreadyExists | vim.fault.InvalidState | vim.fault.DuplicateName
    ):
        return VCenterConflict(message)
    if isinstance(error, ssl.SSLError | socket.gaierror | ConnectionError | TimeoutError | OSError):
        return VCenterUnreachable(f"cannot reach vCenter: {message}")
    return VCenterError(message)


def _fault_text(fault: Any) -> str:
    """pyVmomi hands back the fault of a LocalizedMethodFault; its text sits in one of these."""
    for attribute in ("localizedMessage", "msg", "reason"):
        text = getattr(fault, attribute, None)
        if text:
            return str(text)
    return type(fault).__name__


class VSphereVCenter:
    """`VCenterPort` over pyVmomi."""

    def __init__(
        self,
        *,
        verify_tls: bool = True,
        ca_file: str | None = None,
        thumbprint: str | None = None,
        max_threads: int = 8,
    ) -> None:
        self._verify_tls = verify_tls
        self._ca_file = ca_file
        self._thumbprint = thumbprint
        self._limiter = anyio.CapacityLimiter(max_threads)

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(call, *args), limiter=self._limiter
            )
        except BaseException as error:  # every fault is translated here
            if isinstance(error, anyio.get_cancelled_exc_class()):
                raise
            raise translate(error) from error

    def _ssl_context(self) -> ssl.SSLContext:
        if self._thumbprint or not self._verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self._ca_file)

    def _check_pin(self, endpoint: Endpoint) -> None:
        """With a pinned thumbprint, the certificate must be exactly that one."""
        if not self._thumbprint:
            return
        pem = ssl.get_server_certificate((endpoint.hostname, endpoint.port), timeout=15)
        der = ssl.PEM_cert_to_DER_cert(pem)
        pinned = self._thumbprint.replace(":", "").lower()
        digests = {hashlib.new(name, der).hexdigest() for name in ("sha1", "sha256", "sha512")}
        if pinned not in digests:
            raise VCenterUnreachable(
                f"the certificate of {endpoint.hostname} does not match the pinned thumbprint"
            )

    def _login(self, endpoint: Endpoint) -> Any:
        self._check_pin(endpoint)
        return SmartConnect(
            host=endpoint.hostname,
            port=endpoint.port,
            user=endpoint.username,
            pwd=endpoint.password,
            sslContext=self._ssl_context(),
            thumbprint=self._thumbprint,
            httpConnectionTimeout=15,
        )

    def ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context()

    async def connect(self, endpoint: Endpoint) -> VSphereSession:
        instance = await self._run(self._login, endpoint)
        return VSphereSession(self, instance)

    async def reset(self) -> None:
        """A real vCenter keeps its state; the emulator's reset does not touch it."""


class VSphereSession:
    def __init__(self, backend: VSphereVCenter, instance: Any) -> None:
        self._backend = backend
        self._si = instance
        self._content = instance.RetrieveContent()

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        return await self._backend._run(call, *args)

    # -- reading -------------------------------------------------------------------------

    def _collect(self, kind: Any, paths: list[str]) -> list[tuple[str, dict[str, Any]]]:
        view = self._content.viewManager.CreateContainerView(self._content.rootFolder, [kind], True)
        try:
            traversal = vmodl.query.PropertyCollector.TraversalSpec(
                name="view", path="view", skip=False, type=vim.view.ContainerView
            )
            spec = vmodl.query.PropertyCollector.FilterSpec(
                objectSet=[
                    vmodl.query.PropertyCollector.ObjectSpec(
                        obj=view, skip=True, selectSet=[traversal]
                    )
                ],
                propSet=[vmodl.query.PropertyCollector.PropertySpec(type=kind, pathSet=paths)],
            )
            collector = self._content.propertyCollector
            result = collector.RetrievePropertiesEx(
                [spec], vmodl.query.PropertyCollector.RetrieveOptions()
            )
            objects = list(result.objects) if result else []
            while result and result.token:
                result = collector.ContinueRetrievePropertiesEx(result.token)
                objects.extend(result.objects)
        finally:
            view.Destroy()
        return [
            (obj.obj._moId, {prop.name: prop.val for prop in obj.propSet or []}) for obj in objects
        ]

    def _about(self) -> About:
        about = self._content.about
        server_time = self._si.CurrentTime()
        return About(
            version=about.version,
            build=about.build,
            api_version=about.apiVersion,
            instance_uuid=about.instanceUuid or "",
            server_time=server_time.astimezone(dt.UTC),
        )

    async def about(self) -> About:
        return await self._run(self._about)

    def _datacenter_of(self, entity: Any) -> str:
        parent = entity.parent
        while parent is not None and not isinstance(parent, vim.Datacenter):
            parent = parent.parent
        return str(parent.name) if parent is not None else ""

    def _inventory(self) -> Inventory:
        clusters = []
        for moref, props in self._collect(vim.ClusterComputeResource, ["name"]):
            cluster = vim.ClusterComputeResource(moref, self._si._stub)
            clusters.append(ClusterInfo(moref, props["name"], self._datacenter_of(cluster)))
        cluster_ids = {c.moref for c in clusters}
        hosts = []
        host_cluster: dict[str, str | None] = {}
        for moref, props in self._collect(
            vim.HostSystem,
            [
                "name",
                "parent",
                "summary.config.product",
                "runtime.connectionState",
                "runtime.inMaintenanceMode",
            ],
        ):
            parent = props.get("parent")
            cluster_moref = (
                parent._moId if parent is not None and parent._moId in cluster_ids else None
            )
            host_cluster[moref] = cluster_moref
            product = props.get("summary.config.product")
            hosts.append(
                HostInfo(
                    moref=moref,
                    name=props["name"],
                    cluster_moref=cluster_moref,
                    esxi_version=getattr(product, "version", "") or "",
                    esxi_build=getattr(product, "build", "") or "",
                    # vSphere exposes no CIM flag on the host object; CIM is on by default.
                    cim_enabled=True,
                    in_maintenance=bool(props.get("runtime.inMaintenanceMode")),
                    connection_state=str(props.get("runtime.connectionState", "connected")),
                )
            )
        datastores = []
        for moref, props in self._collect(
            vim.Datastore, ["name", "summary.type", "summary.capacity", "summary.freeSpace", "host"]
        ):
            mounted = {host_cluster.get(mount.key._moId) for mount in props.get("host") or []}
            datastores.append(
                DatastoreInfo(
                    moref=moref,
                    name=props["name"],
                    type=str(props.get("summary.type", "")).lower(),
                    capacity_bytes=int(props.get("summary.capacity") or 0),
                    free_bytes=int(props.get("summary.freeSpace") or 0),
                    cluster_morefs=tuple(sorted(c for c in mounted if c)),
                )
            )
        networks = [
            # vSphere does not know which segment serves DHCP; by convention its name says so.
            NetworkInfo(moref=moref, name=props["name"], dhcp="dhcp" in props["name"].lower())
            for moref, props in self._collect(vim.Network, ["name"])
        ]
        vms = []
        for moref, props in self._collect(
            vim.VirtualMachine,
            [
                "name",
                "runtime.host",
                "runtime.powerState",
                "config.hardware.numCPU",
                "config.hardware.memoryMB",
                "config.hardware.device",
                "config.guestId",
                "guest.ipAddress",
            ],
        ):
            host = props.get("runtime.host")
            host_moref = host._moId if host is not None else None
            disks = tuple(
                DiskInfo(
                    key=device.key,
                    label=device.deviceInfo.label if device.deviceInfo else f"disk {device.key}",
                    capacity_bytes=int(device.capacityInBytes or device.capacityInKB * 1024),
                    datastore_moref=getattr(
                        getattr(device.backing, "datastore", None), "_moId", ""
                    ),
                    write_profile=dict(UNKNOWN_PROFILE),
                )
                for device in props.get("config.hardware.device") or []
                if isinstance(device, vim.vm.device.VirtualDisk)
            )
            isos = [
                getattr(device.backing, "fileName", None)
                for device in props.get("config.hardware.device") or []
                if isinstance(device, vim.vm.device.VirtualCdrom)
            ]
            vms.append(
                VmInfo(
                    moref=moref,
                    name=props["name"],
                    iso_path=next((iso for iso in isos if iso), None),
                    cluster_moref=host_cluster.get(host_moref or ""),
                    host_moref=host_moref,
                    power_state=str(props.get("runtime.powerState", "poweredOff")),
                    cpu=int(props.get("config.hardware.numCPU") or 1),
                    memory_mb=int(props.get("config.hardware.memoryMB") or 0),
                    guest_os=str(props.get("config.guestId") or "otherGuest"),
                    ip=props.get("guest.ipAddress"),
                    disks=disks,
                )
            )
        return Inventory(
            tuple(clusters), tuple(hosts), tuple(datastores), tuple(networks), tuple(vms)
        )

    async def inventory(self) -> Inventory:
        return await self._run(self._inventory)

    # -- plugin extension ------------------------------------------------------------------

    @staticmethod
    def _extension_from(found: Any) -> Extension:
        server = found.server[0] if found.server else None
        return Extension(
            key=found.key,
            version=found.version or "",
            label=found.description.label if found.description else "",
            summary=found.description.summary if found.description else "",
            company=found.company or "",
            server_url=server.url if server else "",
            server_thumbprint=(server.serverThumbprint or None) if server else None,
        )

    @staticmethod
    def _extension_to(extension: Extension) -> Any:
        description = vim.Description(label=extension.label, summary=extension.summary)
        return vim.Extension(
            key=extension.key,
            version=extension.version,
            company=extension.company,
            description=description,
            type="com.vmware.vim.viclient:remote-plugin",
            lastHeartbeatTime=dt.datetime.now(dt.UTC),
            server=[
                vim.Extension.ServerInfo(
                    url=extension.server_url,
                    description=description,
                    company=extension.company,
                    type="HTTPS",
                    adminEmail=["admin@jetstream.local"],
                    serverThumbprint=extension.server_thumbprint or "",
                )
            ],
            client=[
                vim.Extension.ClientInfo(
                    version=extension.version,
                    description=description,
                    company=extension.company,
                    type="vsphere-client-remote",
                    url=extension.server_url,
                )
            ],
        )

    async def find_extension(self, key: str) -> Extension | None:
        found = await self._run(self._content.extensionManager.FindExtension, key)
        return self._extension_from(found) if found is not None else None

    async def register_extension(self, extension: Extension) -> None:
        await self._run(
            self._content.extensionManager.RegisterExtension, self._extension_to(extension)
        )

    async def update_extension(self, extension: Extension) -> None:
        await self._run(
            self._content.extensionManager.UpdateExtension, self._extension_to(extension)
        )

    async def unregister_extension(self, key: str) -> None:
        await self._run(self._content.extensionManager.UnregisterExtension, key)

    # -- IO filters ------------------------------------------------------------------------

    def _cluster(self, moref: str) -> Any:
        return vim.ClusterComputeResource(moref, self._si._stub)

    @staticmethod
    def _wait(task: Any) -> Any:
        deadline = time.monotonic() + TASK_TIMEOUT_SECONDS
        while task.info.state in (vim.TaskInfo.State.queued, vim.TaskInfo.State.running):
            if time.monotonic() > deadline:
                raise VCenterError(f"vCenter task {task._moId} did not finish")
            time.sleep(TASK_POLL_SECONDS)
        if task.info.state == vim.TaskInfo.State.error:
            raise task.info.error
        return task.info.result

    def _filter_state(
        self, cluster_moref: str, filter_id: str | None = None
    ) -> ClusterFilter | None:
        manager = self._content.ioFilterManager
        cluster = self._cluster(cluster_moref)
        infos = list(manager.QueryIoFilterInfo(compRes=cluster) or [])
        info = next((i for i in infos if filter_id in (None, i.id)), None)
        if info is None:
            return None
        issues: dict[str, str] = {}
        result = manager.QueryIoFilterIssues(filterId=info.id, compRes=cluster)
        for host_issue in result.hostIssue or []:
            messages = [_fault_text(fault) for fault in host_issue.issue]
            issues[host_issue.host._moId] = "; ".join(messages)
        hosts = []
        for host in cluster.host:
            mounted = (
                [f for f in (host.config.ioFilterInfo or []) if f.id == info.id]
                if host.config
                else []
            )
            hosts.append(
                HostFilterState(
                    host_moref=host._moId,
                    installed=bool(mounted),
                    version=mounted[0].version if mounted else None,
                    issue=issues.get(host._moId),
                )
            )
        return ClusterFilter(
            filter_id=info.id,
            name=info.name,
            vendor=info.vendor,
            version=info.version,
            op_type=info.opType,
            vib_url=info.vibUrl or "",
            hosts=tuple(hosts),
        )

    def _install(self, cluster_moref: str, vib_url: str) -> ClusterFilter:
        manager = self._content.ioFilterManager
        self._wait(
            manager.InstallIoFilter_Task(vibUrl=vib_url, compRes=self._cluster(cluster_moref))
        )
        state = self._filter_state(cluster_moref)
        if state is None:
            raise VCenterError("the IO filter is not on the cluster after its installation")
        return state

    async def install_iofilter(self, cluster_moref: str, vib_url: str) -> ClusterFilter:
        return await self._run(self._install, cluster_moref, vib_url)

    def _upgrade(self, cluster_moref: str, filter_id: str, vib_url: str) -> ClusterFilter:
        manager = self._content.ioFilterManager
        cluster = self._cluster(cluster_moref)
        self._wait(
            manager.UpgradeIoFilter_Task(filterId=filter_id, compRes=cluster, vibUrl=vib_url)
        )
        state = self._filter_state(cluster_moref)
        if state is None:
            raise VCenterError("the IO filter is not on the cluster after its upgrade")
        return state

    async def upgrade_iofilter(
        self, cluster_moref: str, filter_id: str, vib_url: str
    ) -> ClusterFilter:
        return await self._run(self._upgrade, cluster_moref, filter_id, vib_url)

    def _uninstall(self, cluster_moref: str, filter_id: str) -> ClusterFilter | None:
        manager = self._content.ioFilterManager
        self._wait(
            manager.UninstallIoFilter_Task(filterId=filter_id, compRes=self._cluster(cluster_moref))
        )
        return self._filter_state(cluster_moref, filter_id)

    async def uninstall_iofilter(self, cluster_moref: str, filter_id: str) -> ClusterFilter | None:
        return await self._run(self._uninstall, cluster_moref, filter_id)

    def _resolve(self, cluster_moref: str, filter_id: str) -> ClusterFilter:
        manager = self._content.ioFilterManager
        self._wait(
            manager.ResolveInstallationErrorsOnCluster_Task(
                filterId=filter_id, cluster=self._cluster(cluster_moref)
            )
        )
        state = self._filter_state(cluster_moref, filter_id)
        return state or ClusterFilter(filter_id, "", "", "", "uninstall", "", ())

    async def resolve_iofilter_errors(self, cluster_moref: str, filter_id: str) -> ClusterFilter:
        return await self._run(self._resolve, cluster_moref, filter_id)

    def _filters(self, cluster_moref: str) -> tuple[ClusterFilter, ...]:
        manager = self._content.ioFilterManager
        infos = manager.QueryIoFilterInfo(compRes=self._cluster(cluster_moref)) or []
        states = (self._filter_state(cluster_moref, info.id) for info in infos)
        return tuple(state for state in states if state is not None)

    async def query_iofilters(self, cluster_moref: str) -> tuple[ClusterFilter, ...]:
        return await self._run(self._filters, cluster_moref)

    # -- roles and permissions -------------------------------------------------------------

    def _role(self, name: str) -> Any:
        for role in self._content.authorizationManager.roleList:
            if role.name == name:
                return role
        raise VCenterNotFound(f"role {name} does not exist")

    def _create_role(self, name: str, clone_from: str) -> None:
        manager = self._content.authorizationManager
        if any(role.name == name for role in manager.roleList):
            raise VCenterConflict(f"role {name} already exists")
        # AddAuthorizationRole's answer is not a usable id on every vCenter: roles go by name.
        manager.AddAuthorizationRole(name=name, privIds=list(self._role(clone_from).privilege))

    async def create_role(self, name: str, clone_from: str) -> None:
        await self._run(self._create_role, name, clone_from)

    def _delete_role(self, name: str) -> None:
        role = self._role(name)
        self._content.authorizationManager.RemoveAuthorizationRole(
            roleId=role.roleId, failIfUsed=True
        )

    async def delete_role(self, name: str) -> None:
        await self._run(self._delete_role, name)

    async def role_names(self) -> tuple[str, ...]:
        roles = await self._run(lambda: list(self._content.authorizationManager.roleList))
        return tuple(sorted(role.name for role in roles))

    def _set_permission(self, principal: str, role: str) -> None:
        permission = vim.AuthorizationManager.Permission(
            principal=principal, group=False, roleId=self._role(role).roleId, propagate=True
        )
        self._content.authorizationManager.SetEntityPermissions(
            entity=self._content.rootFolder, permission=[permission]
        )

    async def set_global_permission(self, principal: str, role: str) -> None:
        await self._run(self._set_permission, principal, role)

    def _remove_permission(self, principal: str) -> None:
        self._content.authorizationManager.RemoveEntityPermission(
            entity=self._content.rootFolder, user=principal, isGroup=False
        )

    async def remove_global_permission(self, principal: str) -> None:
        await self._run(self._remove_permission, principal)

    def _permissions(self) -> dict[str, str]:
        manager = self._content.authorizationManager
        names = {role.roleId: role.name for role in manager.roleList}
        granted = manager.RetrieveEntityPermissions(
            entity=self._content.rootFolder, inherited=False
        )
        return {p.principal: names.get(p.roleId, str(p.roleId)) for p in granted or []}

    async def global_permissions(self) -> dict[str, str]:
        return await self._run(self._permissions)

    # -- files and VMs --------------------------------------------------------------------

    def _upload(self, datastore_moref: str, path: str, content: bytes) -> str:
        response, where = self._folder_request("PUT", datastore_moref, path, content)
        if response.status_code not in (200, 201, 204):
            raise VCenterError(f"upload to {where} failed: HTTP {response.status_code}")
        return where

    async def upload_file(self, datastore_moref: str, path: str, content: bytes) -> str:
        return await self._run(self._upload, datastore_moref, path, content)

    def _vm_info(self, vm: Any) -> VmInfo:
        host = vm.runtime.host
        parent = host.parent if host is not None else None
        cluster = parent._moId if isinstance(parent, vim.ClusterComputeResource) else None
        hardware = vm.config.hardware if vm.config else None
        disks = tuple(
            DiskInfo(
                key=device.key,
                label=device.deviceInfo.label if device.deviceInfo else f"disk {device.key}",
                capacity_bytes=int(device.capacityInBytes or device.capacityInKB * 1024),
                datastore_moref=getattr(getattr(device.backing, "datastore", None), "_moId", ""),
                write_profile=dict(UNKNOWN_PROFILE),
            )
            for device in (hardware.device if hardware else [])
            if isinstance(device, vim.vm.device.VirtualDisk)
        )
        isos = [
            getattr(device.backing, "fileName", None)
            for device in (hardware.device if hardware else [])
            if isinstance(device, vim.vm.device.VirtualCdrom)
        ]
        return VmInfo(
            moref=vm._moId,
            name=vm.name,
            iso_path=next((iso for iso in isos if iso), None),
            cluster_moref=cluster,
            host_moref=host._moId if host is not None else None,
            power_state=str(vm.runtime.powerState),
            cpu=int(hardware.numCPU) if hardware else 1,
            memory_mb=int(hardware.memoryMB) if hardware else 0,
            guest_os=str(vm.config.guestId) if vm.config else "otherGuest",
            ip=vm.guest.ipAddress if vm.guest else None,
            disks=disks,
        )

    def _network(self, moref: str) -> Any:
        """The network object with its real type (a portgroup of a distributed switch is one)."""
        view = self._content.viewManager.CreateContainerView(
            self._content.rootFolder, [vim.Network], True
        )
        try:
            for network in view.view:
                if network._moId == moref:
                    return network
        finally:
            view.Destroy()
        raise VCenterNotFound(f"network {moref} does not exist")

    @staticmethod
    def _nic_backing(network: Any) -> Any:
        if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
            switch = network.config.distributedVirtualSwitch
            if switch is None:
                raise VCenterError(f"portgroup {network.name} belongs to no switch")
            return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
                port=vim.dvs.PortConnection(
                    switchUuid=switch.uuid,
                    portgroupKey=network.key,
                )
            )
        return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
            deviceName=network.name, network=network
        )

    def _devices(self, spec: VmSpec, datastore: Any, network: Any) -> list[Any]:
        add = vim.vm.device.VirtualDeviceSpec.Operation.add
        devices = [
            vim.vm.device.VirtualDeviceSpec(
                operation=add,
                device=vim.vm.device.ParaVirtualSCSIController(
                    key=1000, busNumber=0, sharedBus="noSharing"
                ),
            ),
            vim.vm.device.VirtualDeviceSpec(
                operation=add,
                device=vim.vm.device.VirtualVmxnet3(
                    key=4000,
                    backing=self._nic_backing(network),
                    connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                        startConnected=True, connected=True, allowGuestControl=True
                    ),
                ),
            ),
        ]
        for unit, size_gb in enumerate(spec.disks_gb):
            devices.append(
                vim.vm.device.VirtualDeviceSpec(
                    operation=add,
                    fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.create,
                    device=vim.vm.device.VirtualDisk(
                        key=2000 + unit,
                        controllerKey=1000,
                        unitNumber=unit,
                        capacityInKB=size_gb * 1024 * 1024,
                        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                            diskMode="persistent", thinProvisioned=True, datastore=datastore
                        ),
                    ),
                )
            )
        if spec.iso_path is not None:
            devices.append(
                vim.vm.device.VirtualDeviceSpec(
                    operation=add, device=vim.vm.device.VirtualIDEController(key=200, busNumber=0)
                )
            )
            devices.append(
                vim.vm.device.VirtualDeviceSpec(
                    operation=add,
                    device=vim.vm.device.VirtualCdrom(
                        key=3000,
                        controllerKey=200,
                        unitNumber=0,
                        backing=vim.vm.device.VirtualCdrom.IsoBackingInfo(
                            fileName=spec.iso_path, datastore=datastore
                        ),
                        connectable=vim.vm.device.VirtualDevice.ConnectInfo(
                            startConnected=True, connected=True, allowGuestControl=False
                        ),
                    ),
                )
            )
        return devices

    def _create_vm(self, spec: VmSpec) -> VmInfo:
        stub = self._si._stub
        cluster = self._cluster(spec.cluster_moref)
        datastore = vim.Datastore(spec.datastore_moref, stub)
        network = self._network(spec.network_moref)
        datacenter = cluster.parent
        while datacenter is not None and not isinstance(datacenter, vim.Datacenter):
            datacenter = datacenter.parent
        if datacenter is None:
            raise VCenterNotFound(f"cluster {spec.cluster_moref} is in no datacenter")
        config = vim.vm.ConfigSpec(
            name=spec.name,
            numCPUs=spec.cpu,
            memoryMB=spec.memory_mb,
            guestId=spec.guest_os,
            files=vim.vm.FileInfo(vmPathName=f"[{datastore.name}]"),
            deviceChange=self._devices(spec, datastore, network),
            extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in spec.extra_config],
        )
        host = vim.HostSystem(spec.host_moref, stub) if spec.host_moref else None
        vm = self._wait(
            datacenter.vmFolder.CreateVM_Task(config=config, pool=cluster.resourcePool, host=host)
        )
        return self._vm_info(vm)

    async def create_vm(self, spec: VmSpec) -> VmInfo:
        return await self._run(self._create_vm, spec)

    def _folder_request(
        self, method: str, datastore_moref: str, path: str, content: bytes | None = None
    ) -> tuple[httpx.Response, str]:
        """vCenter's datastore HTTP interface (/folder), authenticated by the SOAP session."""
        datastore = vim.Datastore(datastore_moref, self._si._stub)
        name = datastore.name
        relative = path.lstrip("/")
        stub = self._si._stub
        response = httpx.request(
            method,
            f"https://{stub.host}/folder/{quote(relative)}",
            params={"dcPath": self._datacenter_of(datastore), "dsName": name},
            content=content,
            headers={
                "Cookie": stub.cookie.split(";", 1)[0],
                "Content-Type": "application/octet-stream",
            },
            verify=self._backend.ssl_context(),
            timeout=300,
        )
        return response, f"[{name}] {relative}"

    def _delete_file(self, datastore_moref: str, path: str) -> None:
        response, where = self._folder_request("DELETE", datastore_moref, path)
        if response.status_code == 404:
            raise VCenterNotFound(f"file {where} was not found")
        if response.status_code not in (200, 204):
            raise VCenterError(f"deleting {where} failed: HTTP {response.status_code}")

    async def delete_file(self, datastore_moref: str, path: str) -> None:
        await self._run(self._delete_file, datastore_moref, path)

    def _add_disk(self, vm_moref: str, datastore_moref: str, size_gb: int) -> DiskInfo:
        vm = self._vm(vm_moref)
        devices = list(vm.config.hardware.device)
        controller = next(d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController))
        used = {d.unitNumber for d in devices if d.controllerKey == controller.key}
        unit = next(u for u in range(16) if u != 7 and u not in used)
        disk = vim.vm.device.VirtualDisk(
            key=-1,
            controllerKey=controller.key,
            unitNumber=unit,
            capacityInKB=size_gb * 1024 * 1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                diskMode="persistent",
                thinProvisioned=True,
                datastore=vim.Datastore(datastore_moref, self._si._stub),
            ),
        )
        change = vim.vm.device.VirtualDeviceSpec(
            operation=vim.vm.device.VirtualDeviceSpec.Operation.add,
            fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.create,
            device=disk,
        )
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[change])))
        before = {d.key for d in devices}
        added = [d for d in self._vm_info(vm).disks if d.key not in before]
        if not added:
            raise VCenterError(f"the new disk does not show on VM {vm.name}")
        return added[0]

    async def add_disk(self, vm_moref: str, datastore_moref: str, size_gb: int) -> DiskInfo:
        return await self._run(self._add_disk, vm_moref, datastore_moref, size_gb)

    def _remove_disk(self, vm_moref: str, disk_key: int) -> None:
        vm = self._vm(vm_moref)
        disk = next(
            (
                d
                for d in vm.config.hardware.device
                if isinstance(d, vim.vm.device.VirtualDisk) and d.key == disk_key
            ),
            None,
        )
        if disk is None:
            raise VCenterNotFound(f"VM {vm.name} has no disk {disk_key}")
        change = vim.vm.device.VirtualDeviceSpec(
            operation=vim.vm.device.VirtualDeviceSpec.Operation.remove,
            fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.destroy,
            device=disk,
        )
        self._wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[change])))

    async def remove_disk(self, vm_moref: str, disk_key: int) -> None:
        await self._run(self._remove_disk, vm_moref, disk_key)

    def _vm(self, vm_moref: str) -> Any:
        vm = vim.VirtualMachine(vm_moref, self._si._stub)
        vm.name  # noqa: B018 - fails with ManagedObjectNotFound for an unknown VM
        return vm

    async def get_vm(self, vm_moref: str) -> VmInfo:
        return await self._run(lambda: self._vm_info(self._vm(vm_moref)))

    async def power_on_vm(self, vm_moref: str) -> None:
        await self._run(lambda: self._wait(self._vm(vm_moref).PowerOnVM_Task()))

    async def power_off_vm(self, vm_moref: str) -> None:
        await self._run(lambda: self._wait(self._vm(vm_moref).PowerOffVM_Task()))

    def _destroy(self, vm_moref: str) -> None:
        vm = self._vm(vm_moref)
        if vm.runtime.powerState == "poweredOn":
            self._wait(vm.PowerOffVM_Task())
        self._wait(vm.Destroy_Task())

    async def destroy_vm(self, vm_moref: str) -> None:
        await self._run(self._destroy, vm_moref)

    async def logout(self) -> None:
        await self._run(Disconnect, self._si)
