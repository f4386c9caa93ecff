"""The approval gate: the run pauses with a form; another process answers; the answer is in the audit trail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

from cloudops import audit
from cloudops.gates.verified import NotVerifiedError
from cloudops.release import Release, save_release
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.approvals import answer_from_another_process, paused_run
from tests.background import Background
from tests.ops_helpers import BUILD_BUCKET, verified
from tests.polling import eventually

pytestmark = pytest.mark.slow


def gate(**parameters: Any) -> Background:
    """await-approval in a thread, checking for the answer every second."""
    from flows.await_approval import await_approval

    return Background(await_approval, poll_interval=1, **parameters)


def trail(sandbox: Sandbox, release: Release) -> list[audit.AuditEntry]:
    return audit.entries(sandbox.account("build"), "cloudops-build-111111111111", "commerce", release.version)


def test_an_approval_from_another_process_is_recorded_and_announced(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    seen: set[str] = set()
    verified(sandbox, release, "staging")  # only a release its stage verified is asked about
    run = gate(version=release.version, stage="staging", started_by="alice")
    # alice started the release and staging forbids self-approval: the form is asked again
    answer_from_another_process(paused_run(seen), decision="approve", approver="alice", ticket="QA-1")
    answer_from_another_process(paused_run(seen), decision="approve", approver="bob", ticket="QA-7", comment="ok")
    entry = run.join()
    assert (entry.decision, entry.actor, entry.ticket, entry.stage) == ("approved", "bob", "QA-7", "staging")
    assert entry.digests == {n: i.digest for n, i in release.images.items() if n != "base"}
    assert trail(sandbox, release)[-1] == entry

    # The event travels through the client's events worker and the server's batched persister: polled
    api = str(PREFECT_API_URL.value())
    user, _, password = str(os.environ["PREFECT_API_AUTH_STRING"]).partition(":")  # the harness's login

    def bobs_staging_approval() -> dict[str, Any] | None:
        try:
            response = httpx.post(
                f"{api}/events/filter",
                json={
                    "filter": {
                        "event": {"name": ["cloudops.release.approved"]},
                        "resource": {"id": [f"cloudops.release.commerce.{release.version}"]},
                    }
                },
                timeout=30,
                auth=(user, password),
            )
        except httpx.TimeoutException:
            return None
        mine = (e for e in response.json().get("events", []) if e["payload"]["approver"] == "bob")
        return next((e for e in mine if e["payload"]["stage"] == "staging"), None)

    event = eventually("a cloudops.release.approved event for bob in staging", bobs_staging_approval, bound=90)
    assert event["payload"]["next_stages"] == ["prod"]


def test_a_release_its_stage_has_not_verified_gets_no_form(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.await_approval import await_approval

    fresh = release.model_copy(update={"version": f"{release.version}-unverified-{uuid.uuid4().hex[:6]}"})
    save_release(sandbox.account("build"), BUILD_BUCKET, fresh)
    with pytest.raises(NotVerifiedError, match=r"cannot be approved in qa: no deploy of kind author-live of it in qa"):
        await_approval(version=fresh.version, stage="qa", poll_interval=1)
    verified(sandbox, fresh, "qa", passed=False)
    with pytest.raises(NotVerifiedError, match=r"its last verification in qa \(author-live\) failed"):
        await_approval(version=fresh.version, stage="qa", poll_interval=1)
    assert [e.kind for e in trail(sandbox, fresh)] == ["verification"]  # no approval of any kind was recorded


def test_a_rejection_and_a_timeout_are_recorded(sandbox: Sandbox, release_env: ReleaseSource, release: Release) -> None:
    seen: set[str] = set()
    verified(sandbox, release, "prod")
    run = gate(version=release.version, stage="prod")
    answer_from_another_process(paused_run(seen), decision="reject", approver="carol", comment="not today")
    rejected = run.join()
    assert (rejected.decision, rejected.actor, rejected.comment) == ("rejected", "carol", "not today")

    timed_out = gate(version=release.version, stage="prod", timeout_seconds=2).join()
    assert timed_out.decision == "timed-out" and timed_out.actor == "(nobody)"
    decisions = [
        e.decision for e in trail(sandbox, release) if isinstance(e, audit.ApprovalEntry) and e.stage == "prod"
    ]
    assert decisions[-2:] == ["rejected", "timed-out"]


@pytest.mark.reliability(
    "input",
    "`cloudops approve` by the person who started the release, where the stage forbids it",
    "exit 1 with the run's reason; the form is asked again; another person's answer is accepted and recorded",
)
def test_cloudops_approve_answers_the_waiting_run(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    command = [
        str(Path(sys.executable).parent / "cloudops"),
        "approve",
        release.version,
        "--stage",
        "prod",
        "--approver",
        "dave",
        "--ticket",
        "CHG-9",
    ]
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    nameless = subprocess.run(
        [*command[:6], "", *command[7:]], capture_output=True, text=True, env=env, check=False
    )  # an empty --approver
    assert nameless.returncode == 1
    assert "the approval form refuses this answer (approver: String should have at least 1" in nameless.stderr
    nothing = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert nothing.returncode == 1
    assert f"no await-approval run is waiting for {release.version} in prod" in nothing.stderr

    # dave started the release, and staging forbids self-approval: the command says the run refused his answer
    verified(sandbox, release, "staging")
    run = gate(version=release.version, stage="staging", started_by="dave")
    seen: set[str] = set()
    paused_run(seen)
    in_staging = [*command[:4], "staging", *command[5:]]
    own = subprocess.run(in_staging, capture_output=True, text=True, env=env, check=False)
    assert own.returncode == 1, own.stdout
    assert "refused the answer: dave started this release and staging forbids self-approval: another person " in (
        own.stderr
    )
    assert "it asks again" in own.stderr and "Traceback" not in own.stderr

    # erin's answer to the form asked again is accepted, and the command says so once the run has recorded it
    paused_run(seen)
    erin = [*in_staging[:6], "erin", *in_staging[7:]]
    answered = subprocess.run(erin, capture_output=True, text=True, env=env, check=False)
    assert answered.returncode == 0, answered.stderr
    assert f"approved {release.version} in staging: accepted by the await-approval run " in answered.stdout
    assert "recorded in the audit trail" in answered.stdout
    entry = run.join()
    assert (entry.decision, entry.actor, entry.ticket) == ("approved", "erin", "CHG-9")
    assert trail(sandbox, release)[-1] == entry  # recorded before the command said so


@pytest.mark.reliability(
    "input",
    "an approval without a verified identity where the stage needs one (typed into the UI form, or a forged proof)",
    "refused with the reason and asked again; `cloudops approve`'s signed identity is accepted, its ARN recorded",
)
def test_a_stage_that_names_its_approvers_takes_only_their_signed_identity(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    qa = sandbox.account("qa")
    arn = qa.client("sts").get_caller_identity()["Arn"]  # the approver: whoever holds QA's role
    monkeypatch.setenv("CLOUDOPS_STAGES__STAGING__APPROVERS", json.dumps([arn.rsplit("/", 1)[0] + "/*"]))
    verified(sandbox, release, "staging")
    run = gate(version=release.version, stage="staging")
    seen: set[str] = set()

    # an answer typed into the UI's form carries no identity: refused, and the form asked again
    first = paused_run(seen)
    answer_from_another_process(first, decision="approve", approver="bob")
    # a proof meant for another host than STS is refused too, unsent
    forged = "http://127.0.0.1:9/?Action=GetCallerIdentity&X-Amz-Signature=0"
    answer_from_another_process(paused_run(seen), decision="approve", approver="bob", identity_proof=forged)

    # `cloudops approve` with QA's credentials signs the answer: accepted, and the verified ARN recorded
    paused_run(seen)
    held = qa.session.get_credentials()
    assert held is not None
    credentials = held.get_frozen_credentials()
    env: dict[str, str] = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "AWS_ACCESS_KEY_ID": str(credentials.access_key),
        "AWS_SECRET_ACCESS_KEY": str(credentials.secret_key),
        "AWS_SESSION_TOKEN": str(credentials.token or ""),
        "AWS_ENDPOINT_URL": sandbox.state.moto_url,
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    env.pop("AWS_PROFILE", None)
    command = [str(Path(sys.executable).parent / "cloudops"), "approve", release.version, "--stage", "staging"]
    answered = subprocess.run([*command, "--approver", "erin"], capture_output=True, text=True, env=env, check=False)
    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert "accepted by the await-approval run" in answered.stdout
    entry = run.join()
    assert (entry.decision, entry.actor, entry.identity) == ("approved", "erin", arn)

    with get_client(sync_client=True) as client:
        reasons = [json.loads(client.read_flow_run_input(UUID(first), f"approval-{n}-refused")) for n in (1, 2)]
    assert reasons[0].startswith("staging accepts only verified approvers: answer with `cloudops approve`")
    assert reasons[1].startswith("the identity proof is not a request to STS (127.0.0.1:9;")
