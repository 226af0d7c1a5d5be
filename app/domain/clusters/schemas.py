from __future__ import annotations

from app.core.schemas import ApiModel, RequestModel


class ClusterAction(RequestModel):
    allow_maintenance_mode: bool = False


class HostIssue(ApiModel):
    host_id: str
    host: str
    iofilter_status: str
    issue: str


class ClusterIssues(ApiModel):
    cluster_id: str
    operation: str | None
    items: list[HostIssue]
