"""The vCenter port with `vcenter_fault` rules applied: a call whose operation a rule names
fails as vCenter would, with the rule's error code. Wraps either backend."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, cast

from app.adapters.vcenter.errors import VCenterError
from app.adapters.vcenter.port import Endpoint, VCenterPort, VCenterSession
from app.core.faults import FaultRegistry


class InjectedVCenterFault(VCenterError):
    error_code = "vcenter_fault"


class _FaultySession:
    def __init__(self, inner: VCenterSession, faults: FaultRegistry) -> None:
        self._inner = inner
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name == "logout" or not inspect.iscoroutinefunction(attribute):
            return attribute
        return self._guarded(name, attribute)

    def _guarded(self, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            rule = self._faults.vcenter_fault(operation)
            if rule is not None:
                error = InjectedVCenterFault(
                    f"vCenter refused {operation}: fault injected (rule {rule.id})"
                )
                error.error_code = rule.error_code
                raise error
            return await call(*args, **kwargs)

        return guarded


class FaultInjectingVCenter:
    def __init__(self, inner: VCenterPort, faults: FaultRegistry) -> None:
        self.inner = inner
        self._faults = faults

    async def connect(self, endpoint: Endpoint) -> VCenterSession:
        rule = self._faults.vcenter_fault("connect")
        if rule is not None:
            error = InjectedVCenterFault(f"cannot log in to vCenter: fault injected ({rule.id})")
            error.error_code = rule.error_code
            raise error
        return cast(
            VCenterSession, _FaultySession(await self.inner.connect(endpoint), self._faults)
        )

    async def reset(self) -> None:
        await self.inner.reset()
