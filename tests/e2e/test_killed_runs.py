"""A `cloudops` command killed (SIGKILL) in the middle of its run: the runs it started show Crashed, never Running
for ever; the stage it held is freed; the same command run again converges, with nothing lost or duplicated."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterStartTime,
)
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL
from prefect.variables import Variable

from cli.release_command import AUTO_APPROVER
from cli.run_watchdog import TAG_PREFIX
from cloudops import audit
from cloudops.promotion import release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release
from cloudops.stage_slots import holder_variable
from flows.runtime.stage_slot import slot_taken
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource, git
from tests.ops_helpers import BUILD_BUCKET, OpsApp, reject_earlier
from tests.polling import eventually

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CLOUDOPS = str(Path(sys.executable).parent / "cloudops")
SLOW_STEP_SECONDS = 15


def command_env() -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def command_runs(since: datetime) -> list[FlowRun]:
    """The flow runs a `cloudops` command started since ``since`` (its watchdog's tag names them)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)), limit=200
        )
    return [run for run in runs if any(tag.startswith(TAG_PREFIX) for tag in run.tags)]


def reached(flow: str, since: datetime, state: str) -> Callable[[], FlowRun | None]:
    """A probe: the command's run of ``flow`` once its state is of type ``state`` (RUNNING, PAUSED)."""

    def probe() -> FlowRun | None:
        found = [r for r in command_runs(since) if flow_names([r]) == {flow}]
        return next((r for r in found if r.state is not None and r.state.type.value == state), None)

    return probe


def task_reached(flow: str, task: str, since: datetime) -> Callable[[], FlowRun | None]:
    """A probe: the command's run of ``flow`` once a task run of it named ``task``... is running."""

    def probe() -> FlowRun | None:
        runs = {r.id: r for r in command_runs(since) if flow_names([r]) == {flow}}
        if not runs:
            return None
        with get_client(sync_client=True) as client:
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(runs))))
        running = [t for t in tasks if t.name.startswith(task) and t.state is not None and t.state.is_running()]
        return runs[running[0].flow_run_id] if running and running[0].flow_run_id else None

    return probe


def kill_when(
    command: list[str], flow: str, log: Path, settle: float = 0.0, state: str = "RUNNING", task: str = ""
) -> datetime:
    """Start ``cloudops COMMAND``, SIGKILL it once its run of ``flow`` is in ``state`` (with ``task``: once a task run
    of it so named is running) and ``settle`` s more; the moment it started."""
    since = datetime.now(UTC)
    with log.open("w") as out:
        process = subprocess.Popen([CLOUDOPS, *command], env=command_env(), cwd=REPO, stdout=out, stderr=out)
    probe = task_reached(flow, task, since) if task else reached(flow, since, state)

    def running_still() -> FlowRun | None:
        assert process.poll() is None, f"cloudops {' '.join(command)} ended first:\n{log.read_text()[-3000:]}"
        return probe()

    try:
        eventually(f"cloudops {' '.join(command)}: its {flow} run {state.lower()}", running_still, bound=360)
        time.sleep(settle)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return since


def all_crashed(since: datetime, command: str) -> list[FlowRun]:
    """Every run the killed command left unfinished, once its watchdog has marked them Crashed."""

    def settled() -> list[FlowRun] | None:
        runs = command_runs(since)
        return runs if runs and all(r.state is not None and r.state.is_final() for r in runs) else None

    runs = eventually("the killed command's runs ended", settled, bound=60)
    crashed = [r for r in runs if r.state is not None and r.state.is_crashed()]
    assert crashed, [(r.name, r.state) for r in runs]
    assert all(f"`cloudops {command}` command" in (r.state.message or "") for r in crashed if r.state)
    return crashed


def flow_names(runs: list[FlowRun]) -> set[str]:
    with get_client(sync_client=True) as client:
        names = {f.id: f.name for f in client.read_flows()}
    return {names.get(r.flow_id, "?") for r in runs}


def run(*command: str) -> str:
    done = subprocess.run(
        [CLOUDOPS, *command], env=command_env(), cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def snapshots_of(sandbox: Sandbox, application: str) -> list[str]:
    found = sandbox.account("build").client("rds").describe_db_snapshots()["DBSnapshots"]
    return sorted(s["DBSnapshotIdentifier"] for s in found if s["DBSnapshotIdentifier"].startswith(f"{application}-"))


def slow_commit(repo: Path) -> str:
    """A branch of the application whose app image takes a while to build (a step that sleeps): a build to kill."""
    branch = f"killed-{uuid.uuid4().hex[:6]}"
    git(repo, "checkout", "-q", "-b", branch)
    try:
        dockerfile = repo / "docker" / "app" / "Dockerfile"
        text = dockerfile.read_text().replace("COPY app/", f"RUN sleep {SLOW_STEP_SECONDS}  # {branch}\nCOPY app/", 1)
        dockerfile.write_text(text)
        git(repo, "commit", "-q", "-am", f"A slow image build ({branch})")
    finally:
        git(repo, "checkout", "-q", "main")
    return branch


@pytest.mark.reliability(
    "fault", "`cloudops build` killed (SIGKILL) during its image build", "its runs show Crashed, naming the command"
)
@pytest.mark.reliability(
    "fault",
    "`cloudops build` run again after it was killed",
    "converges: one pair of snapshots for the version, one release record vouched for once; a third run builds nothing",
)
def test_a_killed_build_shows_crashed_and_its_rerun_converges(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release, tmp_path: Path
) -> None:
    branch = slow_commit(release_env.repo)
    since = kill_when(["build", "--ref", branch], "build-images", tmp_path / "build.log", settle=SLOW_STEP_SECONDS / 3)
    crashed = all_crashed(since, "build")
    assert {"build-release", "build-images"} <= flow_names(crashed)

    again = run("build", "--ref", branch)
    built = re.search(r"^release (\S+)@(\S+) ", again, re.MULTILINE)
    assert built, again
    version = built.group(2)
    third = run("build", "--ref", branch)
    assert third.count("unchanged") == len(release.images) + len(release.snapshots), third  # nothing built again
    slug = version.replace(".", "-")
    assert len([s for s in snapshots_of(sandbox, release.application) if s.endswith(slug)]) == 2
    trail = audit.entries(sandbox.account("build"), BUILD_BUCKET, release.application, version)
    assert [e.kind for e in trail] == ["release"]  # the record written once, vouched for once


@pytest.mark.reliability(
    "fault",
    "`cloudops promote --deploy` killed during its deploy",
    "its runs show Crashed; the stage's slot is released with them (not when its lease lapses)",
)
@pytest.mark.reliability(
    "fault",
    "`cloudops promote --deploy` run again after it was killed",
    "converges: nothing copied twice, one deploy and one verification recorded, the stage answers",
)
def test_a_killed_promotion_frees_its_stage_and_its_rerun_converges(app: OpsApp, tmp_path: Path) -> None:
    first = app.releases[0]
    command = ["promote", first.version, "--to", "qa", "--deploy", "author-live"]
    since = kill_when(command, "promote", tmp_path / "promote.log", settle=3, task="deploy-")
    all_crashed(since, "promote")
    # the watchdog released the slot's lease with the runs: the stage is free now, not when the lease lapses
    eventually("qa's slot released", lambda: True if not slot_taken("qa") else None, bound=15)
    assert Variable.get(holder_variable("qa"), default=None) is None

    run(*command)
    trail = app.trail()
    promotions = [e for e in trail if e.kind == "promotion"]
    assert [e.kind for e in trail if e.kind != "promotion"] == ["deploy", "verification"]
    assert isinstance(trail[-1], audit.VerificationEntry) and trail[-1].passed
    assert len(promotions) == 2  # the killed run's, recorded before it deployed, and the rerun's
    assert promotions[1].blobs_copied_total == 0  # every image was there already


@pytest.mark.reliability(
    "fault",
    "`cloudops release` killed while its approval waits for an answer",
    "its runs show Crashed, the paused await-approval run included; no approval is recorded, no stage slot held",
)
@pytest.mark.reliability(
    "fault",
    "`cloudops release` run again after it was killed at the approval wait",
    "converges: asks again, records the approval once, goes on to staging; nothing copied twice; a third run asks "
    "nothing and changes nothing",
)
def test_a_release_killed_at_its_approval_wait_asks_again_goes_on_and_then_changes_nothing(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release, tmp_path: Path
) -> None:
    def trail() -> list[audit.AuditEntry]:
        return audit.entries(sandbox.account("build"), BUILD_BUCKET, release.application, release.version)

    reject_earlier(sandbox, release, "qa")
    before = len(trail())
    command = ["release", "--ref", "main", "--to", "staging"]
    since = kill_when(command, "await-approval", tmp_path / "release.log", state="PAUSED")
    crashed = all_crashed(since, "release")
    assert {"release", "await-approval"} <= flow_names(crashed)
    for stage in ("qa", "staging"):
        assert Variable.get(holder_variable(stage), default=None) is None
    assert "approval" not in [e.kind for e in trail()[before:]]

    shown = run(*command, "--auto-approve")
    assert re.search(rf"^release \S+@{re.escape(release.version)} ", shown, re.MULTILINE), shown
    rerun = trail()[before:]
    approvals = [(e.stage, e.decision, e.actor) for e in rerun if e.kind == "approval"]
    # asked once more, answered once, recorded once; by the form's answer, not the command's starter
    assert approvals == [("qa", "approved", AUTO_APPROVER)]
    kinds = [(e.kind, e.stage) for e in rerun]
    assert kinds.index(("approval", "qa")) < kinds.index(("deploy", "staging"))  # staging only once QA approved
    starters = {e.actor for e in rerun if e.kind == "deploy"}
    assert len(starters) == 1 and AUTO_APPROVER not in starters  # each deploy names who ran the command
    for stage in ("qa", "staging"):
        promotions = [e for e in rerun if e.kind == "promotion" and e.stage == stage]
        assert all(e.blobs_copied_total == 0 for e in promotions[1:])  # copied at most once
        with RegistryClient(sandbox.state.registries[stage].login()) as registry:
            for name, digest in release_digests(release).items():
                assert registry.manifest_digest(name, digest) == digest
    with get_client(sync_client=True) as client:
        summary = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=["release-summary"]))
        )
    assert summary and "| staging |" in str(summary[0].data) and f"approved by {AUTO_APPROVER}" in str(summary[0].data)

    # Once more, as a person runs it, with nobody to approve: a pause would time out after 5 s and stop it
    promotions = [e for e in trail() if e.kind == "promotion"]
    lines = run(*command, "--approval-timeout", "5").splitlines()
    assert "  rebuilt: nothing (the package, images and snapshots were there)" in lines
    # Each stage still has the images and snapshots: not promoted again (no new promotion entry); no stack
    # changes; the approvals recorded before are not asked for again
    reused = "promoted before (nothing to copy); author-live: no changes"
    assert [line for line in lines if line.split(" ", 1)[0] in ("qa", "staging")] == [
        f"qa       {reused}; approved by {AUTO_APPROVER} (recorded before, not asked again)",
        f"staging  {reused}",
    ]
    assert [e for e in trail() if e.kind == "promotion"] == promotions
    # Where to look: the run, and each environment's endpoints read back from its stage's config store
    (run_line,) = [line for line in lines if line.startswith("release run:")]
    assert "/runs/flow-run/" in run_line
    staging_live = lines.index(f"  /cloudops/staging/{release.application}/live")
    app_line, broker_line, database_line = lines[staging_live + 1 : staging_live + 4]
    assert app_line.startswith("    app       http://") and broker_line.startswith("    broker    ")
    assert re.match(r"    database  \S+:3306$", database_line)
    assert "db-password" not in "\n".join(lines)  # the config store's secret is never printed
