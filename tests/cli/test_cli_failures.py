"""`jetdr`'s failure paths (issue 13, item 7): one clear line on stderr, no traceback, and an
exit status for each kind of failure."""

from __future__ import annotations

import socket

import pytest

from jetdr import Client
from jetdr.cli import (
    EXIT_API_ERROR,
    EXIT_AUTH,
    EXIT_TASK_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    main,
)
from jetdr.pytest_plugin import RunningAppliance
from tests.conftest import VCENTER


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return code, error


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_each_failure_has_its_own_exit_status(
    jetdr_msa: Client,
    jetdr_msa_appliance: RunningAppliance,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    appliance = jetdr_msa_appliance
    trusted = ["--url", appliance.url, "--ca-file", str(appliance.ca_file)]
    monkeypatch.delenv("JETDR_INSECURE", raising=False)

    code, error = _run(capsys, "--url", appliance.url, "status")
    assert code == EXIT_USAGE and "password is needed" in error

    code, error = _run(capsys, "--nonsense")
    assert code == EXIT_USAGE

    nobody = f"https://127.0.0.1:{_free_port()}"
    code, error = _run(capsys, "--url", nobody, "--password", "x", "status")
    assert code == EXIT_UNREACHABLE and "cannot reach the appliance" in error, error
    assert len(error.strip().splitlines()) == 1

    code, error = _run(capsys, "--url", appliance.url, "--password", appliance.password, "status")
    assert code == EXIT_UNREACHABLE and "not trusted" in error, error

    monkeypatch.setenv("JETDR_INSECURE", "1")
    code, error = _run(capsys, "--url", appliance.url, "--password", appliance.password, "status")
    assert code == 0, error
    monkeypatch.delenv("JETDR_INSECURE")

    code, error = _run(capsys, *trusted, "--password", "Not-The-Password-1", "vcenters")
    assert code == EXIT_AUTH and "wrong username or password" in error, error

    code, error = _run(capsys, *trusted, "--password", appliance.password, "wait", "task-nope")
    assert code == EXIT_API_ERROR and "not_found" in error, error

    jetdr_msa.add_fault(target="register_vcenter.connect", kind="error", error_code="injected")
    failing = jetdr_msa.post("/api/v1/vcenters", VCENTER)
    code, error = _run(
        capsys, *trusted, "--password", appliance.password, "wait", str(failing["id"])
    )
    assert code == EXIT_TASK_FAILED and "injected" in error, error
