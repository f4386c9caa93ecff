"""Fixtures for the real parts: started once per test session, on free ports, in a temporary folder.

Tests get fresh names (a repository, a bucket, a block) rather than fresh servers. The suite's
sandbox is separate from any demo sandbox that may be running, since its ports are picked free.
What the tests share besides fixtures lives in helper modules (tests/app_source.py, tests/ops_helpers.py ...):
no test module imports another test module or this one (tests/unit/test_layout.py checks it).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest

from cloudops.datapop import MySqlTarget
from cloudops.images import BuiltImage
from cloudops.release import Release
from cloudops.settings import Settings, load_settings
from sandbox import prefect_server
from sandbox.processes import stop, sweep, wait_until
from sandbox.sandbox import Sandbox
from sandbox.state import MYSQL_USER, new_prefect_login
from tests.app_source import CONFIG_FILE, ReleaseSource, make_app_repo, write_app_config
from tests.app_source import REPO as REPO_DIR
from tests.background import Background
from tests.ops_helpers import OpsApp, make_ops_app
from tests.reliability_table import ReliabilityTable
from tests.session_start import build_release, start_order, start_sandbox, uses
from tests.ui_servers import SERVER_START_TIMEOUT, UiServer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def pytest_configure(config: pytest.Config) -> None:
    """docs/RELIABILITY.md is written from the run (tests/reliability_table.py).

    pytest-randomly shuffles the tests (that is what it is here for) and by default also reseeds ``random``
    before each test. Prefect names flow runs with coolname, which draws from ``random``: reseeded, each test's
    runs would be named as the runs of the tests before it. Nothing here needs ``random`` replayed."""
    config.pluginmanager.register(ReliabilityTable(), "reliability-table")
    if config.pluginmanager.hasplugin("randomly"):
        config.option.randomly_reset_seed = False


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(CONFIG_FILE)


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which it keeps within each group
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need no server first, while the session's parts start, then those that need only moto
    (tests/session_start.py)."""
    items.sort(key=start_order)


@dataclass
class SessionStart:
    """What the session starts in the background: the sandbox, then the blocks and the session's release."""

    moto: Background
    sandbox: Background
    box: Sandbox
    release: Background | None = None


@pytest.fixture(scope="session", autouse=True)
def session_start(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SessionStart | None]:
    """From the session's first test on: the sandbox starting, when a test uses it; and when a test uses the stage
    blocks, the Prefect harness (here, before the first test), then the blocks and, when a test uses it, the
    session's release, built in the background as soon as the sandbox is up."""
    items = request.session.items
    if not any(uses(item, "sandbox") or uses(item, "moto_sandbox") for item in items):
        yield None
        return
    box, moto, started = start_sandbox(tmp_path_factory.mktemp("sandbox"), load_settings(CONFIG_FILE))
    start = SessionStart(moto, started, box)
    try:
        if any(uses(item, "stage_blocks") for item in items):
            from cloudops.settings import RDS_DATABASES_ENV
            from sandbox.blocks import SANDBOX_RDS_DATA

            request.getfixturevalue("prefect_harness")
            from prefect.settings import PREFECT_API_URL

            os.environ[RDS_DATABASES_ENV] = SANDBOX_RDS_DATA  # as the sandbox's environment names its RDS data block
            # the environment as the session began (no test's monkeypatch reaches the background build)
            env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
            wanted = any(uses(item, "release") or uses(item, "built_images") for item in items)
            source: ReleaseSource = request.getfixturevalue("release_source")
            start.release = build_release(started, source.config, env, build=wanted)
        yield start
    finally:
        if start.release is not None:
            start.release.wait()
        started.wait()
        box.down(keep_networks=False)  # a test session's sandbox does not come back: its bridges go too


@pytest.fixture(scope="session")
def sandbox(session_start: SessionStart | None) -> Sandbox:
    """moto server, a registry per stage, MariaDB and dockerd; the Prefect test harness is separate."""
    assert session_start is not None, "no test of the session was seen to use the sandbox"
    box: Sandbox = session_start.sandbox.join()
    return box


@pytest.fixture(scope="session")
def moto_sandbox(session_start: SessionStart | None) -> Sandbox:
    """The sandbox as soon as moto answers and the stage accounts are bootstrapped: for the tests that use only
    AWS's APIs (no registry, no MariaDB, no dockerd), which then need not wait for the other parts."""
    assert session_start is not None, "no test of the session was seen to use the sandbox"
    box: Sandbox = session_start.moto.join()
    return box


@pytest.fixture(scope="session")
def prefect_harness(settings: Settings) -> Iterator[None]:
    """A Prefect server for the whole session, without the 1 s heartbeat wait at each flow's exit.

    Its API asks for a login, as the sandbox's server does: the tests' clients, and the processes they start
    (the command line, a worker: from this environment), sign in with it."""
    from prefect.settings import (
        PREFECT_API_AUTH_STRING,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_API_AUTH_STRING,
        temporary_settings,
    )

    from tests.prefect_harness import harness

    login = new_prefect_login().get_secret_value()
    os.environ["PREFECT_API_AUTH_STRING"] = login
    with (
        temporary_settings(updates={PREFECT_SERVER_API_AUTH_STRING: login, PREFECT_API_AUTH_STRING: login}),
        harness(settings, startup_timeout=180),  # on the database CLOUDOPS_TEST_PREFECT_DATABASE names
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture(scope="session")
def stage_blocks(sandbox: Sandbox, prefect_harness: None, session_start: SessionStart | None) -> dict[str, str]:
    """Every stage's credential block, saved in the harness's server as `cloudops sandbox up` does; and, as the
    sandbox's environment does, the configuration's ``rds_databases`` naming its RDS data block."""
    assert session_start is not None and session_start.release is not None
    started: tuple[dict[str, str], Release | None] = session_start.release.join()
    return started[0]


@pytest.fixture
def mysql_target(sandbox: Sandbox, request: pytest.FixtureRequest) -> MySqlTarget:
    """A fresh database name on the sandbox's MariaDB (created by whoever populates it)."""
    name = re.sub(r"\W", "_", request.node.name)[:40] + "_" + uuid.uuid4().hex[:6]
    return MySqlTarget(
        host="127.0.0.1",
        port=sandbox.state.mariadb_port,
        user=MYSQL_USER,
        password=sandbox.state.mariadb_password,
        database=name,
    )


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    return make_app_repo(tmp_path / "commerce-src")


@pytest.fixture
def app_config(tmp_path: Path, app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """cloudops.toml with the application pointed at ``app_repo``; CLOUDOPS_CONFIG_FILE names it."""
    path = write_app_config(tmp_path, app_repo)
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(path))
    return load_settings(path)


@pytest.fixture(scope="session")
def release_source(tmp_path_factory: pytest.TempPathFactory) -> ReleaseSource:
    folder = tmp_path_factory.mktemp("release")
    repo = make_app_repo(folder / "commerce-src")
    config = write_app_config(folder, repo)
    return ReleaseSource(repo, config, load_settings(config))


@pytest.fixture
def release_env(
    release_source: ReleaseSource, sandbox: Sandbox, stage_blocks: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ReleaseSource:
    """The environment a flow of the release needs: the configuration file and the Docker engine."""
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(release_source.config))
    monkeypatch.setenv("DOCKER_HOST", sandbox.state.docker_host)
    return release_source


@pytest.fixture(scope="session")
def release(
    release_source: ReleaseSource, sandbox: Sandbox, stage_blocks: dict[str, str], session_start: SessionStart | None
) -> Release:
    """The session's release of the example application, built once by `cloudops build --ref main`."""
    assert session_start is not None and session_start.release is not None
    started: tuple[dict[str, str], Release | None] = session_start.release.join()
    built = started[1]
    assert built is not None, "no test of the session was seen to use the release"
    return built


@pytest.fixture(scope="session")
def built_images(release: Release) -> dict[str, BuiltImage]:
    """The release's images, built once per session (the base image too)."""
    return dict(release.images)


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[UiServer]:
    """`prefect server start` with its UI on 127.0.0.1, as the sandbox starts it, on a free port (browser tests)."""
    root = tmp_path_factory.mktemp("prefect-ui")
    state = Sandbox(root, settings, auto_ports=True).state
    state.logs.mkdir(parents=True, exist_ok=True)
    pid = prefect_server.start(state)
    try:
        wait_until(
            lambda: prefect_server.answers(state),
            part="Prefect server",
            pid=pid,
            log=state.logs / "prefect-server.log",
            timeout=SERVER_START_TIMEOUT,
        )
        yield UiServer(state.prefect_api_url, state.prefect_login)
    finally:
        stop(pid)
        sweep([root])


@pytest.fixture(scope="session")
def second_app(sandbox: Sandbox, release: Release) -> BuiltImage:
    """Another build of the session's app image (it works, and answers /health with another version), made once."""
    from tests.app_variants import app_variant

    return app_variant(sandbox, release, f"{release.version}-second")


@pytest.fixture
def app(
    sandbox: Sandbox,
    release_env: ReleaseSource,
    release: Release,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    second_app: BuiltImage,
) -> Iterator[OpsApp]:
    """An application of its own (the session's images under another name), with two releases: its stacks, config
    store entries and trail start empty, whatever other tests deployed of the session's application before. Its
    stacks are deleted afterwards: its running environments would load the machine for the rest of the session."""
    ops = make_ops_app(sandbox, release_env, release, monkeypatch, tmp_path, second_app)
    yield ops
    ops.remove_stacks()


@pytest.fixture(scope="module")
def deployed(prefect_harness: None) -> Iterator[dict[str, UUID]]:
    """Every deployment of prefect.yaml, its forms and the automations, created as `cloudops deployments create`
    creates them (`prefect deploy --all`, then the stage choices and the automations)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from deployments.project import create_deployments

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
        create_deployments(REPO_DIR)
    with get_client(sync_client=True) as client:
        deployments = {d.name: d.id for d in client.read_deployments()}
        automations = {a.name: a.id for a in client.read_automations()}
    try:
        yield deployments
    finally:
        with get_client(sync_client=True) as client:  # as they are now (a test may have created them again)
            for automation in client.read_automations():
                if automation.name in automations:
                    client.delete_automation(automation.id)
            for deployment_id in deployments.values():
                client.delete_deployment(deployment_id)
