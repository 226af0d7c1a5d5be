"""What the API served: request counts and latencies per route (for `/metrics`), and the bounded
journal of recent requests (for `/_emulator/requests`)."""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

# Latency histogram buckets, seconds (Prometheus' defaults, trimmed).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class JournalEntry:
    at: dt.datetime
    method: str
    path: str
    query: str
    route: str
    status: int
    duration_ms: float
    op_id: str


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.total += seconds
        self.count += 1
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[index] += 1


class RequestObserver:
    def __init__(self, journal_size: int) -> None:
        self.journal: deque[JournalEntry] = deque(maxlen=journal_size)
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[tuple[str, str], _Histogram] = {}

    def record(self, entry: JournalEntry) -> None:
        self.journal.append(entry)
        key = (entry.method, entry.route, entry.status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.setdefault((entry.method, entry.route), _Histogram())
        histogram.observe(entry.duration_ms / 1000)

    def clear_journal(self) -> None:
        self.journal.clear()

    def exposition(self) -> list[str]:
        lines = [
            "# HELP jetdr_http_requests_total Requests served, by method, route and status.",
            "# TYPE jetdr_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(self.requests.items()):
            labels = f'method="{method}",route="{escape_label(route)}",status="{status}"'
            lines.append(f"jetdr_http_requests_total{{{labels}}} {count}")
        lines += [
            "# HELP jetdr_http_request_duration_seconds Time to answer, by method and route.",
            "# TYPE jetdr_http_request_duration_seconds histogram",
        ]
        for (method, route), histogram in sorted(self.latency.items()):
            labels = f'method="{method}",route="{escape_label(route)}"'
            for bound, count in zip(BUCKETS, histogram.counts, strict=True):
                lines.append(
                    f'jetdr_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count}'
                )
            lines.append(
                f'jetdr_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} '
                f"{histogram.count}"
            )
            lines.append(f"jetdr_http_request_duration_seconds_sum{{{labels}}} {histogram.total}")
            lines.append(f"jetdr_http_request_duration_seconds_count{{{labels}}} {histogram.count}")
        return lines


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
