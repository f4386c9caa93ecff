"""The check-accounts flow against the sandbox accounts and a real Prefect server."""

from __future__ import annotations

import pytest

from flows.check_accounts import check_accounts
from sandbox.sandbox import Sandbox
from tests.app_source import CONFIG_FILE


def test_every_stage_is_verified_and_described(
    sandbox: Sandbox, stage_blocks: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(CONFIG_FILE))
    rows = check_accounts()
    assert [row["stage"] for row in rows] == ["build", "qa", "staging", "prod"]
    for row in rows:
        stage = sandbox.settings.stage(row["stage"])
        assert row["account"] == stage.account_id
        assert row["bucket"] == stage.bucket
        assert {"app", "base", "broker", "mysql"} <= set(row["repositories"].split(", "))
        assert row["registry"] == sandbox.state.registries[row["stage"]].address
