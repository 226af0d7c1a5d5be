"""Errors every vCenter backend raises; faults of a real vCenter are translated here once.

VCenterError                 vcenter_error
├── VCenterUnreachable       vcenter_unreachable   (DNS, TCP, TLS, timeouts)
├── VCenterAuthFailed        vcenter_auth_failed   (bad user or password)
├── VCenterNotFound          vcenter_not_found     (a managed object or extension is gone)
└── VCenterConflict          vcenter_conflict      (already exists / in use)
"""

from __future__ import annotations


class VCenterError(Exception):
    error_code = "vcenter_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VCenterUnreachable(VCenterError):
    error_code = "vcenter_unreachable"


class VCenterAuthFailed(VCenterError):
    error_code = "vcenter_auth_failed"


class VCenterNotFound(VCenterError):
    error_code = "vcenter_not_found"


class VCenterConflict(VCenterError):
    error_code = "vcenter_conflict"
