"""The session's real parts, started in the background while the tests that need no server run first.

The tests that use no server (no sandbox, Prefect harness or UI server, and not marked slow: those start servers
of their own) run first, in the order pytest-randomly gave them: about 200 tests and two minutes, mostly one core
waiting on subprocesses. Meanwhile the sandbox comes up on a thread of its own, then the session's release is
built as a person builds one, `cloudops build --ref main` in a process of its own against the session's Prefect
server; the first test that needs either waits for the rest of it. The build gets the environment as it was when
the session began, so no test's monkeypatched variable can reach it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cloudops.release import Release, load_release
from cloudops.settings import Settings
from sandbox.blocks import save_sandbox_blocks
from sandbox.sandbox import Sandbox
from tests.background import Background

TEST_PARTS = ("moto", "registries", "mariadb", "docker")
SERVER_FIXTURES = ("sandbox", "moto_sandbox", "prefect_harness", "ui_server")
BEYOND_MOTO = ("sandbox", "prefect_harness", "ui_server")
CLOUDOPS = str(Path(sys.executable).parent / "cloudops")
BUILD_TIMEOUT = 900
SANDBOX_START_TIMEOUT = 600


def needs_servers(item: pytest.Item) -> bool:
    """Whether ``item`` uses one of the session's servers, or starts its own (the slow tests)."""
    fixtures: list[str] = getattr(item, "fixturenames", [])
    return any(name in fixtures for name in SERVER_FIXTURES) or item.get_closest_marker("slow") is not None


def start_order(item: pytest.Item) -> tuple[bool, bool]:
    """The tests that need no server first, then those that need only moto, then the rest."""
    fixtures: list[str] = getattr(item, "fixturenames", [])
    beyond_moto = any(name in fixtures for name in BEYOND_MOTO) or item.get_closest_marker("slow") is not None
    return needs_servers(item), beyond_moto


def uses(item: pytest.Item, fixture: str) -> bool:
    return fixture in getattr(item, "fixturenames", [])


def start_sandbox(root: Path, settings: Settings) -> tuple[Sandbox, Background, Background]:
    """A sandbox of the test parts in ``root``, and its start under way: moto with the accounts bootstrapped
    first (the first background), then the other parts (the second; it ends when all are up)."""
    box = Sandbox(root, settings, auto_ports=True)

    def start_moto() -> Sandbox:
        box.up(("moto",), report=lambda line: None)
        box.initialise_accounts(report=lambda line: None)
        return box

    moto = Background(start_moto, timeout=SANDBOX_START_TIMEOUT)

    def start_the_rest() -> Sandbox:
        moto.join()
        box.up(TEST_PARTS, report=lambda line: None)  # moto answers already: the others start
        return box

    return box, moto, Background(start_the_rest, timeout=SANDBOX_START_TIMEOUT)


def build_release(sandbox: Background, config: Path, env: dict[str, str], build: bool) -> Background:
    """Once the sandbox is up: every stage's block saved in the session's server (as `cloudops sandbox up` saves
    them), then, if ``build``, the release of the session's application built by `cloudops build --ref main`
    with the environment ``env``; the blocks, and the release read back from its record."""

    def work() -> tuple[dict[str, str], Release | None]:
        box: Sandbox = sandbox.join()
        blocks = save_sandbox_blocks(box)
        if not build:
            return blocks, None
        run_env = {**env, "CLOUDOPS_CONFIG_FILE": str(config), "DOCKER_HOST": box.state.docker_host}
        done = subprocess.run(
            [CLOUDOPS, "build", "--ref", "main"],
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=BUILD_TIMEOUT,
        )
        built = re.search(r"^release (\S+)@(\S+) ", done.stdout, re.MULTILINE)
        if done.returncode != 0 or built is None:
            raise AssertionError(f"`cloudops build --ref main` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        settings = box.settings
        bucket = settings.stage(settings.build_stage).bucket
        return blocks, load_release(box.account(settings.build_stage), bucket, built.group(1), built.group(2))

    return Background(work, timeout=SANDBOX_START_TIMEOUT + BUILD_TIMEOUT)
