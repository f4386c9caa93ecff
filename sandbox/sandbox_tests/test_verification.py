"""A deploy's verification against what really runs: author-live deployed to QA, its services steady, its targets
healthy, the configured smoke checks answered by each environment's own data; a check expecting another version
fails naming both; a one-off task check passes on exit 0 and fails on another code. (What a failed verification
leads to, the automatic rollback: test_auto_rollback.py.)"""

from __future__ import annotations

import time

import pytest

from cloudops import audit, verification
from cloudops.environment_kinds import KINDS
from cloudops.smoke_checks import SmokeCheck, TaskCheck
from sandbox.sandbox import Sandbox
from tests.ops_helpers import OpsApp

pytestmark = pytest.mark.slow
KIND = KINDS["author-live"]


def test_a_deploy_is_verified_with_its_checks_and_a_check_or_task_that_fails_says_why(
    sandbox: Sandbox, app: OpsApp
) -> None:
    from flows.deploy_and_rollback import deploy_environment

    qa = sandbox.account("qa")
    stage = app.settings.stage("qa")
    checks = app.settings.require_application().checks["author-live"]
    release = app.releases[0]
    app.copy_images(release, "qa", ["app", "broker"])
    # Given a fresh deploy, verified by deploy-environment itself and recorded for its digests
    started = time.monotonic()
    outcomes = deploy_environment(stage="qa", version=release.version, kind="author-live")
    print(f"fresh deploy, verified: {time.monotonic() - started:.1f} s")
    (entry,) = [e for e in app.trail() if e.kind == "verification"]
    assert isinstance(entry, audit.VerificationEntry)
    assert (entry.stage, entry.version, entry.outcome) == ("qa", release.version, "verified")
    assert entry.comment == "verified: 10 checks passed" and len(entry.checks) == 10
    lines: list[str] = []

    # When it is verified again with the configured checks, then every check passes
    started = time.monotonic()
    verified = verification.verify(qa, release, stage, "qa", KIND, outcomes, checks, log=lines.append)
    took = time.monotonic() - started
    assert verified.passed, verified.summary()
    author, live = f"{app.name}-qa-author", f"{app.name}-qa-live"
    assert [c.name for c in verified.checks] == [
        f"steady: {author}/app",
        f"steady: {author}/broker",
        f"steady: {live}/app",
        f"steady: {live}/broker",
        f"targets: {author}/app",
        f"targets: {live}/app",
        "smoke author: /health",
        "smoke live: /health",
        "smoke author: author products",
        "smoke live: live products",
    ], verified.checks
    assert verified.summary() == "verified: 10 checks passed"
    assert verified.digests == {"app": release.images["app"].digest, "broker": release.images["broker"].digest}
    by_name = {c.name: c for c in verified.checks}
    assert "2 healthy targets" in by_name[f"targets: {author}/app"].detail
    # ... each environment's /products answered from its own database: the draft product is Author's only
    endpoints = {o.environment: o.outputs["AppEndpoint"] for o in outcomes}
    assert by_name["smoke author: author products"].detail.startswith(f"GET {endpoints['author']}/products: 200")
    assert by_name["smoke live: live products"].detail.startswith(f"GET {endpoints['live']}/products: 200")
    assert any("passed steady" in line for line in lines) and lines[-1] == verified.summary()
    print(f"verification of a fresh deploy: {took:.1f} s")

    # When a check expects the release's version (the test release reuses an image built for another version),
    # then it fails, saying what it expected and what came back
    expecting = [SmokeCheck.model_validate({"path": "/health", "json": {"version": "{version}"}})]
    wrong = verification.verify(qa, release, stage, "qa", KIND, outcomes, expecting, http_retry_seconds=2)
    assert not wrong.passed and wrong.failed is not None
    assert wrong.failed.name == "smoke author: /health"
    assert f"version is {app.built.version!r}, expected {release.version!r}" in wrong.failed.detail
    assert wrong.summary().startswith("verification failed: smoke author: /health: GET http://127.")

    # A task check runs the release's app image by digest in the environment's cluster: exit 0 passes,
    # another exit code fails naming it
    tasks = [
        SmokeCheck(
            name="build info",
            environment="author",
            task=TaskCheck(image="app", command=("test", "-s", "/opt/commerce/BUILD-INFO.json")),
        ),
        SmokeCheck(name="exits 3", environment="author", task=TaskCheck(image="app", command=("sh", "-c", "exit 3"))),
    ]
    started = time.monotonic()
    ran = verification.verify(qa, release, stage, "qa", KIND, outcomes, tasks)
    print(f"two task checks: {time.monotonic() - started:.1f} s")
    assert [(c.name, c.passed) for c in ran.checks[-2:]] == [
        ("task author: build info", True),
        ("task author: exits 3", False),
    ], [(c.name, c.detail) for c in ran.checks[-2:]]
    assert "exited 3" in ran.checks[-1].detail
    definition = qa.client("ecs").describe_task_definition(taskDefinition=f"{app.name}-qa-check")["taskDefinition"]
    assert definition["containerDefinitions"][0]["image"].endswith(f"/app@{release.images['app'].digest}")
