"""`cloudops deployments create` again with nothing changed leaves the deployments as they are; one changed on the
server (as in the UI) is deployed again, from prefect.yaml."""

from __future__ import annotations

from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.settings import PREFECT_API_URL

from cloudops.settings import Settings
from deployments.project import create_deployments
from deployments.up_to_date import up_to_date
from tests.app_source import REPO as REPO_DIR


def test_deployments_created_from_this_checkout_are_not_deployed_again_until_one_changes(
    deployed: dict[str, UUID], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    stages = settings.target_stages()
    assert up_to_date(REPO_DIR, stages)
    assert up_to_date(REPO_DIR, stages[:-1]) is False  # the forms would offer other stages
    again = create_deployments(REPO_DIR)
    assert again[0].startswith(f"{len(deployed)} deployments up to date"), again
    with get_client(sync_client=True) as client:
        client.update_deployment(deployed["promote"], DeploymentUpdate(description="changed in the UI"))
    assert not up_to_date(REPO_DIR, stages)
    redeployed = create_deployments(REPO_DIR)
    assert "deployment promote/promote" in redeployed, redeployed
    with get_client(sync_client=True) as client:
        assert client.read_deployment(deployed["promote"]).description != "changed in the UI"
    assert up_to_date(REPO_DIR, stages)
