"""Schema-driven fuzzing (schemathesis) of every operation in the OpenAPI document, against the
appliance served as its own process over HTTPS, with every check on: no 5xx, and every answer,
status code, header and body as the document says (schemathesis.toml beside this file says the
one setting that differs from schemathesis' defaults, and why). CI runs a bounded version
(`JETDR_FUZZ_EXAMPLES`, default 5 per operation; the reliability suite runs 50)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT_PASSWORD
from tests.e2e.conftest import ServedAppliance
from tests.peers import missing_peer

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def test_every_operation_answers_as_the_document_says(
    serve: Callable[..., ServedAppliance], tmp_path: Path
) -> None:
    binary = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    if not Path(binary).exists():
        missing_peer("fuzzing needs `pip install schemathesis` (a dev dependency)")
    appliance = serve(JETDR_CLOCK__MODE="scaled", JETDR_CLOCK__SCALE="1000")
    appliance.start()
    token = base64.b64encode(f"root:{ROOT_PASSWORD}".encode()).decode()
    examples = os.environ.get("JETDR_FUZZ_EXAMPLES", "5")
    outcome = subprocess.run(
        [
            binary,
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{appliance.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Basic {token}",
            "--tls-verify",
            str(appliance.data_dir / "tls" / "cert.pem"),
            "--max-examples",
            examples,
            "--seed",
            os.environ.get("JETDR_FUZZ_SEED", "1"),
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert outcome.returncode == 0, outcome.stdout[-8000:] + outcome.stderr[-2000:]
    assert "Tested: " in outcome.stdout
    server_log = appliance.log.read_text()
    assert "unhandled error" not in server_log, server_log[-4000:]
    # Nothing the run did locked root out (it may not change root's password without the
    # current one).
    assert appliance.client().get("/api/v1/users").status_code == 200
