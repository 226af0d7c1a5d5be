"""Epochs: the time unit of the storage-site format. Segment and recovery-point keys name
epochs; the write generator completes one epoch's writes at its end."""

from __future__ import annotations

import math

EPOCH_SECONDS = 10
# The epoch a base (initial-sync) record carries: older than any write.
BASE_EPOCH = -1


def epoch_at(timestamp: float) -> int:
    """The first epoch not yet complete at `timestamp`."""
    return math.floor(timestamp / EPOCH_SECONDS)


def origin_epoch_at(timestamp: float) -> int:
    """The first epoch that starts at or after `timestamp`."""
    return math.ceil(timestamp / EPOCH_SECONDS)


def epoch_start(epoch: int) -> float:
    return float(epoch * EPOCH_SECONDS)
