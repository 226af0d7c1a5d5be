"""The jetdr-msa client: `Client` / `AsyncClient` over the REST API, the `jetdr` CLI, and a
pytest plugin (`jetdr_msa` fixture) for integration tests against an emulated appliance."""

from jetdr.client import AsyncClient, Client
from jetdr.errors import JetdrError, TaskFailedError, TaskTimeout

__all__ = ["AsyncClient", "Client", "JetdrError", "TaskFailedError", "TaskTimeout"]
