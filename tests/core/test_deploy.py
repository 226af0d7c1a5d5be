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


K8S = COMPOSE.parent / "k8s"


def test_the_kubernetes_manifests_run_several_replicas_on_one_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents = [
        document
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document and "kind" in document and document["kind"] != "Kustomization"
    ]
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    deployment = by_kind[("Deployment", "jetdr-msa")]
    assert deployment["spec"]["replicas"] >= 2
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/status"
    assert container["livenessProbe"]["httpGet"]["path"] == "/_emulator/health"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    service = by_kind[("Service", "jetdr-msa")]
    assert [p["port"] for p in service["spec"]["ports"]] == [443]
    secret = by_kind[("Secret", "jetdr-msa")]["stringData"]
    assert {"JETDR_DB__URL", "JETDR_SECRET_KEY", "JETDR_ROOT_PASSWORD"} <= set(secret)
    assert secret["JETDR_DB__URL"].startswith("postgresql://")
    # Every variable is one the appliance reads.
    for item in container["env"]:
        monkeypatch.setenv(item["name"], item.get("value", "pod-1"))
    for key, value in secret.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.node_id == "pod-1"
    assert settings.tasks.lease_seconds == 15
    assert settings.tls.certfile is not None and settings.secret_key is not None
    known = {f"JETDR_{name.upper()}" for name in Settings.model_fields}
    for item in container["env"]:
        assert item["name"].split("__")[0] in known, item["name"]
