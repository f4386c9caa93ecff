"""Commands that run flows in their own process: no heartbeat thread, unless the environment asks for one."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

from cli.in_process import HEARTBEAT_VARIABLE, runs_flows


@runs_flows
def heartbeat_seen() -> int | None:
    return get_current_settings().flows.heartbeat_frequency


def test_a_command_runs_its_flows_without_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HEARTBEAT_VARIABLE, raising=False)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):  # Prefect's default
        assert heartbeat_seen() is None
        assert get_current_settings().flows.heartbeat_frequency == 180  # only inside the command


def test_a_heartbeat_frequency_set_by_the_user_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEARTBEAT_VARIABLE, "45")
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 45}):  # as Prefect read it at start
        assert heartbeat_seen() == 45
