"""Runbook scripts, run as steps of a recovery. Nothing is executed on this machine: the
emulator interprets `echo` (with `$VAR` / `${VAR}` from the recovery's variables), `sleep N`
(virtual seconds) and `exit N`; any other command is reported as not run, and the script goes
on, as a shell script without `set -e` would."""

from __future__ import annotations

import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_OUTPUT = 4096
MAX_SLEEP = 600.0
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class ScriptRun:
    exit_code: int
    output: str


async def run_script(
    body: str, variables: dict[str, str], sleep: Callable[[float], Awaitable[None]]
) -> ScriptRun:
    lines: list[str] = []
    slept = 0.0
    for raw in body.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        command, _, rest = line.partition(" ")
        if command == "echo":
            lines.append(_expand(rest.strip(), variables))
        elif command == "sleep":
            seconds = _number(rest)
            if seconds is None:
                return _end(lines, f"sleep: invalid time interval {rest.strip()!r}", 1)
            seconds = min(seconds, MAX_SLEEP - slept)
            await sleep(seconds)
            slept += seconds
        elif command == "exit":
            code = _number(rest or "0")
            return _end(lines, None, int(code) % 256 if code is not None else 2)
        else:
            lines.append(f"{command}: not run (the emulator runs echo, sleep and exit only)")
    return _end(lines, None, 0)


def _expand(text: str, variables: dict[str, str]) -> str:
    with_values = VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)
    try:
        return " ".join(shlex.split(with_values))
    except ValueError:  # an unbalanced quote: as written
        return with_values


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _end(lines: list[str], error: str | None, code: int) -> ScriptRun:
    if error is not None:
        lines.append(error)
    return ScriptRun(exit_code=code, output="\n".join(lines)[:MAX_OUTPUT])
