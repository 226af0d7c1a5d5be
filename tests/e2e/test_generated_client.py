"""A client generated from `/openapi.json` by a kept generator (openapi-python-client) works
against a served appliance, errors included (issue 13, item 8): the document is one people can
build on."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT_PASSWORD
from tests.e2e.conftest import ServedAppliance
from tests.peers import missing_peer

pytestmark = pytest.mark.e2e

PACKAGE = "jetdr_generated"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """`module(dotted)` imports from the generated package, which is removed afterwards."""
    yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not p.startswith(str(tmp_path))]


def _generate(document: bytes, where: Path) -> Path:
    binary = shutil.which("openapi-python-client") or str(
        Path(sys.executable).parent / "openapi-python-client"
    )
    if not Path(binary).exists():
        missing_peer("needs `pip install openapi-python-client` (a dev dependency)")
    spec = where / "openapi.json"
    spec.write_bytes(document)
    config = where / "generator.yaml"
    config.write_text(
        "post_hooks: []\nproject_name_override: jetdr-generated\n"
        f"package_name_override: {PACKAGE}\n"
    )
    outcome = subprocess.run(
        [
            binary,
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(where / "client"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert outcome.returncode == 0, outcome.stdout[-4000:] + outcome.stderr[-4000:]
    # A document the generator had to skip parts of would print warnings.
    assert "Warning" not in outcome.stdout + outcome.stderr, outcome.stdout + outcome.stderr
    return where / "client"


def test_a_generated_client_drives_the_appliance(
    serve: Callable[..., ServedAppliance], tmp_path: Path, generated: Callable[[str], Any]
) -> None:
    appliance = serve()
    appliance.start()
    document = appliance.client(auth=False).get("/openapi.json").content
    sys.path.insert(0, str(_generate(document, tmp_path)))

    client_module = generated("client")
    ca = appliance.tls_context()
    anonymous = client_module.Client(base_url=appliance.url, verify_ssl=ca)
    status = generated("api.appliance.get_status_api_v1_status_get").sync(client=anonymous)
    assert status.status.value == "ready"

    credentials = generated("models.credentials").Credentials(
        username="root", password=ROOT_PASSWORD
    )
    session = generated("api.session.create_session_api_v1_session_post").sync(
        client=anonymous, body=credentials
    )
    assert session.session_id
    root = client_module.AuthenticatedClient(
        base_url=appliance.url, token=session.session_id, verify_ssl=ca
    )

    role = generated("models.role").Role
    created = generated("api.users.create_user_api_v1_users_post").sync(
        client=root,
        body=generated("models.user_create").UserCreate(
            username="generated", role=role.OPERATOR, password="Gener4ted-pass"
        ),
    )
    assert (created.username, created.role) == ("generated", role.OPERATOR)

    sort = generated("models.list_users_api_v1_users_get_sort_by_type_0")
    listing = generated("api.users.list_users_api_v1_users_get").sync(
        client=root, limit=1, sort_by=sort.ListUsersApiV1UsersGetSortByType0.USERNAME
    )
    assert [user.username for user in listing.items] == ["generated"]
    assert (listing.field_meta.total, listing.field_meta.limit) == (2, 1)

    # Errors come back as the documented envelope, not as an unexpected status.
    envelope = generated("models.error_envelope").ErrorEnvelope
    missing = generated("api.users.get_user_api_v1_users_user_id_get").sync(
        client=root, user_id="user-nope"
    )
    assert isinstance(missing, envelope) and missing.error_code == "not_found"
    duplicate = generated("api.users.create_user_api_v1_users_post").sync(
        client=root,
        body=generated("models.user_create").UserCreate(
            username="generated", role=role.VIEWER, password="Gener4ted-pass"
        ),
    )
    assert isinstance(duplicate, envelope) and duplicate.error_code == "already_exists"
    denied = generated("api.users.list_users_api_v1_users_get").sync(
        client=client_module.AuthenticatedClient(
            base_url=appliance.url, token="not-a-session", verify_ssl=ca
        )
    )
    assert isinstance(denied, envelope) and denied.error_code == "session_expired"
