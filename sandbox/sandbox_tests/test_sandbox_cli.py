"""`cloudops sandbox up|status|env|down` as a user runs them: a whole sandbox of its own, then nothing left."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import docker
import pytest

from cloudops.accounts import CONFIG_FILES
from cloudops.settings import Settings
from sandbox.ecs_runtime.networks import ensure_network
from sandbox.errors import PortInUseError
from sandbox.processes import processes_naming
from sandbox.sandbox import Sandbox
from sandbox.state import SandboxState
from tests.app_source import CONFIG_FILE

CLOUDOPS = str(Path(sys.executable).parent / "cloudops")


def without_prefect(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the test session's Prefect settings: what a new shell has."""
    return {k: v for k, v in env.items() if not k.startswith("PREFECT_")}


def cloudops(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = without_prefect(os.environ)
    env |= {"CLOUDOPS_SANDBOX_DIR": str(root), "CLOUDOPS_CONFIG_FILE": str(CONFIG_FILE)}
    return subprocess.run([CLOUDOPS, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


RUN_LABEL = "cloudops.test.run"


def bridges() -> set[str]:
    """This machine's bridge interfaces, from sysfs (no `ip`: iproute2 is not among the set-up's packages)."""
    return {device.name for device in Path("/sys/class/net").iterdir() if (device / "bridge").is_dir()}


@pytest.mark.slow
def test_up_status_env_up_again_and_down(tmp_path: Path) -> None:
    root = tmp_path / "box"
    bridge = ""
    try:
        # Given a sandbox started from the command line on free ports
        up = cloudops("sandbox", "up", "--auto-ports", root=root)
        assert up.returncode == 0, up.stdout + up.stderr
        assert (
            "blocks saved in Prefect: build=aws-build, qa=aws-qa, staging=aws-staging, prod=aws-prod, "
            "mysql=cloudops-mysql-server/sandbox-mariadb, rds=cloudops-sandbox-rds-data/sandbox-mariadb" in up.stdout
        )
        # its bootstrap stack (bucket, key, repositories, roles) and its config files
        assert f"account 444444444444 (prod): {1 + len(CONFIG_FILES)} created" in up.stdout
        state = SandboxState.load(root)
        assert state is not None

        # Then every part answers
        status = cloudops("sandbox", "status", root=root)
        assert status.returncode == 0, status.stdout
        assert status.stdout.count(" up ") == 9  # moto, 4 registries, mariadb, docker, prefect, worker

        # And env prints what a shell needs, without a password
        env = cloudops("sandbox", "env", root=root).stdout
        assert f"export AWS_ENDPOINT_URL={state.moto_url}" in env
        assert f"export DOCKER_HOST={state.docker_host}" in env
        assert f"export PREFECT_API_URL={state.prefect_api_url}" in env
        assert f"export CLOUDOPS_REGISTRY_QA={state.registries['qa'].address}" in env
        assert state.mariadb_password.get_secret_value() not in env
        assert all(r.password.get_secret_value() not in env for r in state.registries.values())

        # And a command from a shell that has not taken up that environment says how, instead of
        # starting a temporary Prefect server of its own that knows nothing of the sandbox
        unset = cloudops("status", root=root)
        assert unset.returncode == 1, unset.stdout + unset.stderr
        assert f"the sandbox's answers at {state.prefect_api_url}" in unset.stderr
        assert 'eval "$(uv run cloudops sandbox env)"' in unset.stderr
        assert "temporary server" not in unset.stdout + unset.stderr

        assert state.prefect_login.get_secret_value() not in env  # the line reads it from its file of mode 0600
        assert state.prefect_login_file.stat().st_mode & 0o777 == 0o600

        # And the blocks in the sandbox's Prefect server reach their accounts, from a shell that took up env
        shown = subprocess.run(
            ["bash", "-c", f'eval "$1"; exec {CLOUDOPS} accounts show --check', "-", env],
            capture_output=True,
            text=True,
            env={**without_prefect(os.environ), "CLOUDOPS_CONFIG_FILE": str(CONFIG_FILE)},
            check=False,
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert shown.stdout.count("verified") == 4

        # When it is started again, nothing restarts
        again = cloudops("sandbox", "up", root=root)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("already running") == 6
        assert "0 created" in again.stdout
        assert SandboxState.load(root).pids == state.pids  # type: ignore[union-attr]

        # And a network the sandbox made on its engine (as the ECS runtime makes one per cluster) has its bridge
        engine = docker.DockerClient(base_url=state.docker_host)
        network = engine.networks.get(ensure_network(engine, "cloudops-ecs-test-purge", {RUN_LABEL: "purge"}))
        bridge = f"br-{network.id[:12]}"
        assert bridge in bridges()
        engine.close()
    finally:
        down = cloudops("sandbox", "down", "--purge", root=root)
    # Then down leaves no process behind and status says so; purged, its networks' bridges are gone too (dockerd
    # would leave them in the kernel, each holding a /24 of the range)
    assert down.returncode == 0, down.stderr
    assert bridge not in bridges()
    assert processes_naming([root, state.runtime_dir]) == []
    stopped = cloudops("sandbox", "status", root=root)
    assert stopped.returncode == 1 and "DOWN" in stopped.stdout


def test_a_port_in_use_is_a_clear_error_and_starts_nothing(tmp_path: Path, settings: Settings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        box = Sandbox(tmp_path / "box", settings, auto_ports=True)
        box.state.moto_port = port
        with pytest.raises(
            PortInUseError, match=f"port {port} for the sandbox's moto server is in use by another process"
        ):
            box.up(["moto", "registries"], report=lambda line: None)
    assert box.state.pids == {}
    assert all(r.pid is None for r in box.state.registries.values())
    assert processes_naming([box.root]) == []


def test_an_unknown_part_is_refused(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(Exception, match="unknown sandbox part"):
        Sandbox(tmp_path / "box", settings, auto_ports=True).up(["mongo"], report=lambda line: None)


def test_a_configuration_error_from_the_command_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG_FILE.read_text().replace('promotes_from = "qa"', 'promotes_from = "qa-typo"'))
    result = subprocess.run([CLOUDOPS, "config", "--config", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "stages.staging.promotes_from: unknown stage 'qa-typo'" in result.stderr
    assert "Traceback" not in result.stderr
