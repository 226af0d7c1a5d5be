"""Failed logins slow down the next try, per username and per client address.

A username gets `free_attempts` wrong passwords in a row; each failure after that blocks it for
twice as long as the one before (1 s, 2 s, 4 s … up to `max_delay`). An address is treated the
same way with a larger allowance, so one client trying many usernames is slowed too. A blocked
try is refused (429 with `Retry-After`) before any password is hashed, so a flood costs no CPU.
A success clears the username's record; a record forgets itself once `max_delay` has passed
since its last failure. The records are this process's (wall clock, not the virtual clock):
each process of a scale-out throttles on its own.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import AppError

# Records kept per kind; beyond it the least recently failed are dropped (a flood of made-up
# usernames must not grow the process without bound).
MAX_RECORDS = 10_000


class LoginThrottled(AppError):
    status_code = 429
    error_code = "login_throttled"


@dataclass
class _Failures:
    count: int
    last_at: float
    blocked_until: float


class _Ledger:
    def __init__(self, free_attempts: int, max_delay: float, now: Callable[[], float]) -> None:
        self._free = free_attempts
        self._max_delay = max_delay
        self._now = now
        self._records: OrderedDict[str, _Failures] = OrderedDict()

    def _live(self, key: str) -> _Failures | None:
        record = self._records.get(key)
        if record is not None and self._now() - record.last_at > self._max_delay:
            del self._records[key]
            return None
        return record

    def wait(self, key: str) -> float:
        record = self._live(key)
        return max(record.blocked_until - self._now(), 0.0) if record else 0.0

    def fail(self, key: str) -> None:
        now = self._now()
        record = self._live(key) or _Failures(0, now, now)
        record.count += 1
        record.last_at = now
        beyond = record.count - self._free
        if beyond > 0:
            record.blocked_until = now + min(2.0 ** (beyond - 1), self._max_delay)
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > MAX_RECORDS:
            self._records.popitem(last=False)

    def forget(self, key: str) -> None:
        self._records.pop(key, None)

    def clear(self) -> None:
        self._records.clear()


class LoginThrottle:
    def __init__(
        self,
        *,
        user_free_attempts: int,
        address_free_attempts: int,
        max_delay_seconds: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = _Ledger(user_free_attempts, max_delay_seconds, now)
        self._addresses = _Ledger(address_free_attempts, max_delay_seconds, now)

    def check(self, username: str, address: str | None) -> None:
        """Raises `LoginThrottled` while this username or this address must wait."""
        wait = max(self._users.wait(username), self._addresses.wait(address or ""))
        if wait > 0:
            seconds = max(math.ceil(wait), 1)
            raise LoginThrottled(
                f"too many failed logins: try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    def failed(self, username: str, address: str | None) -> None:
        self._users.fail(username)
        self._addresses.fail(address or "")

    def succeeded(self, username: str) -> None:
        self._users.forget(username)

    def release(self, username: str) -> None:
        """An admin set a new password: its owner may try at once."""
        self._users.forget(username)

    def clear(self) -> None:
        self._users.clear()
        self._addresses.clear()
