"""What every part of a vSphere session shares: the SDK calls run in the backend's worker
threads, property collection, and lookups by managed-object reference."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pyVmomi import vim, vmodl

from app.adapters.vcenter.errors import (
    VCenterAuthFailed,
    VCenterConflict,
    VCenterError,
    VCenterNotFound,
    VCenterUnreachable,
)
from app.adapters.vcenter.port import (
    DiskInfo,
    VmInfo,
)

Runner = Callable[..., Awaitable[Any]]
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


def fault_text(fault: Any) -> str:
    """pyVmomi hands back the fault of a LocalizedMethodFault; its text sits in one of these."""
    for attribute in ("localizedMessage", "msg", "reason"):
        text = getattr(fault, attribute, None)
        if text:
            return str(text)
    return type(fault).__name__


class SessionBase:
    def __init__(self, run: Runner, instance: Any, tls: ssl.SSLContext) -> None:
        self._runner = run
        # How the datastore file transfers (HTTPS, outside the SDK) trust vCenter.
        self._tls = tls
        self._si = instance
        self._content = instance.RetrieveContent()

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        result: T = await self._runner(call, *args)
        return result

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

    def _datacenter_of(self, entity: Any) -> str:
        parent = entity.parent
        while parent is not None and not isinstance(parent, vim.Datacenter):
            parent = parent.parent
        return str(parent.name) if parent is not None else ""

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

    def _vm(self, vm_moref: str) -> Any:
        vm = vim.VirtualMachine(vm_moref, self._si._stub)
        vm.name  # noqa: B018 - fails with ManagedObjectNotFound for an unknown VM
        return vm

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
