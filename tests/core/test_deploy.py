"""The compose pair: every appliance service's environment is a valid configuration, and the
pair has what a DR drill needs (two appliances on separate databases, Azurite, vcsim)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"


def test_compose_describes_the_dr_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"postgres", "azurite", "vcsim", "msa-protected", "msa-recovery"} <= set(services)
    appliances = [services["msa-protected"], services["msa-recovery"]]
    urls = {service["environment"]["JETDR_DB__URL"] for service in appliances}
    assert len(urls) == 2
    initdb = "".join(p.read_text() for p in (COMPOSE.parent / "initdb").glob("*"))
    sites = set()
    for service in appliances:
        for key, value in service["environment"].items():
            monkeypatch.setenv(key, str(value).replace("${JETDR_ROOT_PASSWORD:-", "").rstrip("}"))
        settings = Settings()
        sites.add((settings.site_name, settings.topology))
        assert settings.database_url.rsplit("/", 1)[1] in initdb
    assert sites == {("protected", "protected"), ("recovery", "recovery")}
