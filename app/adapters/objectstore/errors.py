"""Errors every object-store backend raises; SDK faults are translated here once.

ObjectStoreError               storage_error
├── StorageUnreachable         storage_unreachable   (DNS, TCP, TLS, timeouts, outages)
├── StorageAuthFailed          storage_auth_failed   (bad key or account)
├── ObjectNotFound             not_found             (no such container or object)
└── StorageMisconfigured       storage_invalid       (settings the SDK refuses outright)
"""

from __future__ import annotations


class ObjectStoreError(Exception):
    error_code = "storage_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StorageUnreachable(ObjectStoreError):
    error_code = "storage_unreachable"


class StorageAuthFailed(ObjectStoreError):
    error_code = "storage_auth_failed"


class ObjectNotFound(ObjectStoreError):
    error_code = "not_found"


class StorageMisconfigured(ObjectStoreError):
    error_code = "storage_invalid"
