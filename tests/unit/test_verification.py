"""The rules of a deploy's verification, without any server: what an answer must hold (dotted JSON paths,
placeholders), when an ECS service is steady and its targets healthy, how the checks are configured, what the
audit trail and the report keep of a verification."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloudops import audit, environment_kinds, reports, smoke_checks
from cloudops.aws.elbv2 import TargetHealth
from cloudops.errors import ConfigurationError
from cloudops.gates.rollback import held_back_from_rollback
from cloudops.settings import load_settings
from cloudops.smoke_checks import SmokeCheck, TaskCheck, field_mismatches, lookup, substitute
from cloudops.trail import Trail
from cloudops.verification import (
    CheckResult,
    Verification,
    answer_problem,
    placeholder_values,
    steady_state,
    targets_state,
    verification_entry,
    worth_asking_again,
)
from tests.release_records import APP, BROKER, sample_release

AT = datetime(2026, 11, 27, 14, 28, 3, tzinfo=UTC)
GOOD = "arn:aws:ecs:eu-west-1:222222222222:task-definition/commerce-qa-author-app:7"
BROKER_DEFINITION = "arn:aws:ecs:eu-west-1:222222222222:task-definition/commerce-qa-author-broker:3"
OLD = "arn:aws:ecs:eu-west-1:222222222222:task-definition/commerce-qa-author-app:6"
BODY = {"status": "ok", "version": "1.0", "count": 2, "ready": True, "products": [{"sku": "DRAFT-1"}, {"sku": "MUG-1"}]}
VALUES = {"version": "1.0", "commit": "c" * 40}


def test_a_dotted_path_reads_objects_and_lists_and_says_when_a_field_is_missing() -> None:
    assert lookup(BODY, "products.0.sku") == "DRAFT-1"
    assert lookup(BODY, "products.-1.sku") == "MUG-1"
    assert lookup(BODY, "products.2.sku") is smoke_checks._MISSING
    assert lookup(BODY, "status.x") is smoke_checks._MISSING
    assert field_mismatches(BODY, {"version": "{version}", "products.1.sku": "MUG-1", "count": "2"}, VALUES) == []
    assert field_mismatches(BODY, {"ready": "true", "products": "*"}, VALUES) == []
    assert field_mismatches(BODY, {"version": "2.0", "commit": "*", "status": "{commit}"}, VALUES) == [
        "version is '1.0', expected '2.0'",
        "commit is missing",
        f"status is 'ok', expected '{'c' * 40}'",
    ]
    assert field_mismatches({"commit": ""}, {"commit": "*"}, VALUES) == ["commit is empty ()"]


def test_placeholders_take_the_release_stage_and_environment() -> None:
    values = placeholder_values(sample_release("2.1"), "qa", "author")
    assert values == {
        "version": "2.1",
        "commit": "c" * 40,
        "application": "commerce",
        "stage": "qa",
        "environment": "author",
    }
    assert substitute("{application}-{stage}-{environment}@{version}", values) == "commerce-qa-author@2.1"


def test_an_answer_is_compared_by_status_then_fields_and_the_detail_says_what_came_back() -> None:
    check = SmokeCheck.model_validate({"path": "/health", "json": {"version": "{version}"}})
    assert answer_problem(check, 200, '{"version": "1.0"}', VALUES) is None
    assert answer_problem(check, 503, "no healthy target " * 30, VALUES) == (
        f"expected status 200, got 503: {smoke_checks.trim('no healthy target ' * 30)}"
    )
    assert answer_problem(check, 200, "<html>", VALUES) == "expected a JSON body with version, got: <html>"
    assert answer_problem(check, 200, '{"version": "0.9"}', VALUES) == (
        """version is '0.9', expected '1.0' (body: {"version": "0.9"})"""
    )
    assert answer_problem(SmokeCheck(path="/", status=404), 404, "gone", VALUES) is None
    unanswered = answer_problem(check, 0, "no answer from http://127.0.0.9/health: ConnectError", VALUES)
    assert str(unanswered).startswith("expected status 200, got 0: no answer")


def service(**fields: Any) -> dict[str, Any]:
    primary = {
        "id": "ecs-svc/1",
        "status": "PRIMARY",
        "taskDefinition": GOOD,
        "rolloutState": "COMPLETED",
        "failedTasks": 0,
        **fields.pop("primary", {}),
    }
    return {
        "serviceName": "app",
        "status": "ACTIVE",
        "taskDefinition": GOOD,
        "desiredCount": 2,
        "runningCount": 2,
        "deployments": [primary, *fields.pop("others", [])],
        **fields,
    }


def test_only_an_answer_without_the_expected_status_is_asked_again() -> None:
    check = SmokeCheck.model_validate({"path": "/health", "json": {"status": "ok"}})
    assert worth_asking_again(check, 0)  # nothing answered (yet)
    assert worth_asking_again(check, 503)  # e.g. its database is still being restored
    assert not worth_asking_again(check, 200)  # the app answered, with other content: that is final


def test_a_service_is_steady_on_its_stacks_task_definition_with_one_completed_deployment() -> None:
    assert steady_state(service(), {GOOD}) == (
        True,
        "commerce-qa-author-app:7: 2 of 2 tasks running, rollout COMPLETED",
    )


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"primary": {"rolloutState": "IN_PROGRESS"}, "runningCount": 1}, "rollout IN_PROGRESS, 1 of 2 tasks running"),
        ({"others": [{"status": "ACTIVE", "taskDefinition": OLD}]}, "2 deployments: commerce-qa-author-app:6 still"),
        ({"runningCount": 1}, "1 of 2 tasks running"),
        ({"deployments": []}, "no PRIMARY deployment yet"),
    ],
)
def test_a_service_still_rolling_out_is_not_steady_yet(fields: dict[str, Any], why: str) -> None:
    state, text = steady_state(service(**fields), {GOOD})
    assert state is None and text.startswith(why)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (
            {
                "others": [
                    {
                        "id": "ecs-svc/0",
                        "taskDefinition": GOOD,
                        "rolloutState": "FAILED",
                        "status": "ACTIVE",
                        "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start.",
                    }
                ],
                "primary": {"taskDefinition": OLD, "rolloutState": "IN_PROGRESS"},
                "taskDefinition": OLD,
            },
            "deployment ecs-svc/0 of commerce-qa-author-app:7 FAILED: ECS deployment circuit breaker",
        ),
        (
            {"taskDefinition": OLD, "primary": {"taskDefinition": OLD}, "stack": {GOOD, BROKER_DEFINITION}},
            "the service runs commerce-qa-author-app:6, not its stack's commerce-qa-author-app:7: rolled back",
        ),
        ({"primary": {"failedTasks": 1}}, "deployment ecs-svc/1 completed, but 1 of its tasks failed"),
        ({"status": "DRAINING"}, "the service is DRAINING"),
    ],
)
def test_a_failed_or_rolled_back_service_fails_at_once(fields: dict[str, Any], why: str) -> None:
    stack = fields.pop("stack", {GOOD})
    state, text = steady_state(service(**fields), stack)
    assert state is False and text.startswith(why), text


def test_targets_are_healthy_when_enough_are_and_draining_ones_do_not_count() -> None:
    def target(n: int, state: str, reason: str = "") -> TargetHealth:
        return TargetHealth(target=f"10.0.0.{n}:8080", state=state, reason=reason, description="x" if reason else "")

    assert targets_state([target(1, "healthy"), target(2, "healthy"), target(3, "draining")], 2) == (
        True,
        "2 healthy targets",
    )
    assert targets_state([target(1, "healthy")], 2) == (None, "1 healthy targets of the 2 desired")
    assert targets_state([target(1, "healthy"), target(2, "unhealthy", "Target.FailedHealthChecks")], 2) == (
        None,
        "1 of 2 targets not healthy: 10.0.0.2:8080 unhealthy (Target.FailedHealthChecks: x)",
    )


STAGES = """
[stages.build]
account_id = "111111111111"
region = "eu-west-1"
credential_block = "aws-build"
bucket = "cloudops-build-bucket"

[stages.qa]
account_id = "222222222222"
region = "eu-west-1"
credential_block = "aws-qa"
bucket = "cloudops-qa-bucket"
promotes_from = "build"
network = { default_vpc = true }
tls = false
soak_seconds = 120
soak_interval_seconds = 15

[application]
name = "commerce"
repository = "."
build_command = "true"

[application.dockerfiles]
app = "a"
broker = "b"
mysql = "m"
"""


def load(tmp_path: Path, checks: str) -> Any:
    path = tmp_path / "cloudops.toml"
    path.write_text(STAGES + checks)
    return load_settings(path)


def test_checks_and_soak_load_from_the_configuration(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[[application.checks.author-live]]
path = "/health"
json = { commit = "{commit}", "products.0.sku" = "*" }

[[application.checks.single-instance]]
task = { image = "database", command = ["mysqladmin", "ping"], timeout_seconds = 60 }
""",
    )
    checks = settings.application.checks
    assert checks["author-live"][0].name == "/health"
    assert checks["author-live"][0].json_fields == {"commit": "{commit}", "products.0.sku": "*"}
    assert checks["single-instance"][0].task == TaskCheck(
        image="database", command=("mysqladmin", "ping"), timeout_seconds=60
    )
    assert checks["single-instance"][0].name == "database: mysqladmin ping"
    qa = settings.stage("qa")
    assert (qa.soak_seconds, qa.soak_interval_seconds, qa.auto_rollback) == (120, 15, True)
    assert settings.stage("build").soak_seconds == 0
    # the repository's own configuration: the example app's checks
    assert [c.name for c in load_settings(Path("cloudops.toml")).application.checks["author-live"]] == [  # type: ignore[union-attr]
        "/health",
        "author products",
        "live products",
    ]
    assert {k.name: k.verify_timeout_seconds for k in environment_kinds.REGISTRY} == {
        "author-live": 600,
        "single-instance": 600,
        "lookup-service": 900,
    }


@pytest.mark.parametrize(
    ("checks", "problem"),
    [
        (
            '[[application.checks.author-life]]\npath = "/health"\n',
            "application: application.checks: unknown kind of environment 'author-life'; use one of author-live, "
            "single-instance, lookup-service",
        ),
        (
            '[[application.checks.author-live]]\npath = "/health"\ntask = { image = "app", command = ["true"] }\n',
            "application.checks.author-live.0: a smoke check has either a path (an HTTP GET) or a task (a one-off "
            "ECS task): give one",
        ),
        (
            "[[application.checks.author-live]]\nstatus = 200\n",
            "application.checks.author-live.0: a smoke check has either",
        ),
        (
            '[[application.checks.author-live]]\npath = "health"\n',
            "application.checks.author-live.0.path: 'health' is not valid",
        ),
        (
            '[[application.checks.single-instance]]\npath = "/health"\n',
            "application: application.checks.single-instance.0 (/health): kind single-instance publishes no "
            "AppEndpoint to GET /health on; give it a task check instead",
        ),
        (
            '[[application.checks.author-live]]\npath = "/health"\nenvironment = "lookup"\n',
            "application: application.checks.author-live.0 (/health): kind author-live has no environment 'lookup'; "
            "use one of author, live",
        ),
        (
            '[[application.checks.author-live]]\npath = "/health"\njson = { version = "{release}" }\n',
            "application.checks.author-live.0: json.version: unknown placeholder {release}; use {version}",
        ),
        (
            '[[application.checks.author-live]]\ntask = { image = "redis", command = ["true"] }\n',
            "task image 'redis' is not an image of the release; use a role (app, broker, database) or an image name",
        ),
        ("[stages.qa.extra]\n", None),
    ],
)
def test_a_mistaken_check_fails_at_load_in_one_line(tmp_path: Path, checks: str, problem: str | None) -> None:
    if problem is None:  # soak bounds
        path = tmp_path / "cloudops.toml"
        path.write_text(STAGES.replace("soak_seconds = 120", "soak_seconds = 7200"))
        with pytest.raises(
            ConfigurationError, match=r"stages\.qa\.soak_seconds: Input should be less than or equal to 3600"
        ):
            load_settings(path)
        return
    with pytest.raises(ConfigurationError) as raised:
        load(tmp_path, checks)
    (line,) = [text for text in str(raised.value).splitlines() if text.startswith("  - ")]
    assert problem in line, line


def verification(passed: bool) -> Verification:
    checks = (
        CheckResult(name="steady: c/app", passed=True, detail="2 of 2 tasks running", at=AT),
        CheckResult(name="smoke author: /health", passed=passed, detail="ok" if passed else "status | 503", at=AT),
    )
    return Verification(
        stage="qa",
        kind="author-live",
        version="1.0",
        digests={"app": APP, "broker": BROKER},
        passed=passed,
        checks=checks,
        started_at=AT,
        finished_at=AT,
    )


def test_a_verification_says_in_one_line_whether_it_passed_and_its_first_failure() -> None:
    assert verification(True).failed is None
    assert verification(True).summary() == "verified: 2 checks passed"
    failed = verification(False)
    assert failed.failed is not None and failed.failed.name == "smoke author: /health"
    assert failed.summary() == "verification failed: smoke author: /health: status | 503"


def test_the_trail_keeps_a_verification_and_tells_whether_exactly_these_digests_passed() -> None:
    release = sample_release()
    kind = environment_kinds.kind("author-live")
    entry = verification_entry(release, "qa", kind, verification(True), "ops", "run-1")
    assert (entry.kind, entry.stage, entry.version, entry.digests) == (
        "verification",
        "qa",
        "1.0",
        {"app": APP, "broker": BROKER},
    )
    assert entry.outcome == "verified" and entry.passed and entry.deploy_kind == "author-live"
    assert [c.name for c in entry.checks] == ["steady: c/app", "smoke author: /health"]
    assert audit.ENTRY.validate_json(entry.model_dump_json()) == entry
    failed = verification_entry(release, "qa", kind, verification(False), "ops", "run-2")
    assert failed.outcome == "verification-failed" and failed.comment.startswith("verification failed:")
    trail = [entry, failed]
    assert Trail(trail).verification_of("1.0", "qa", "author-live") == failed
    assert Trail(trail).verification_of("1.0", "qa", "lookup-service") is None
    assert not audit.is_verified(failed, entry.digests)
    assert audit.is_verified(entry, {"app": APP, "broker": BROKER})
    assert not audit.is_verified(entry, {"app": BROKER, "broker": BROKER})
    assert not audit.is_verified(None, entry.digests)
    # an entry written before verifications existed still reads
    old = '{"kind":"deploy","application":"commerce","version":"0.9","stage":"qa","actor":"ops","digests":{}}'
    read = audit.ENTRY.validate_json(old)
    assert isinstance(read, audit.DeployEntry) and (read.version, read.deploy_kind, read.stacks) == ("0.9", "", {})


def test_the_report_lists_each_check_and_links_the_live_endpoints() -> None:
    kind = environment_kinds.kind("author-live")
    entry = verification_entry(sample_release(), "qa", kind, verification(False), "ops", "run-2")
    text = reports.verification_markdown(entry, {"author": "http://127.0.0.9", "live": "http://127.0.0.10"})
    assert "### Verification of 1.0 in qa (author-live): **failed**" in text
    assert "| smoke author: /health | **failed** | status \\| 503 | 14:28:03 |" in text
    assert "- author: [http://127.0.0.9](http://127.0.0.9)" in text


@pytest.mark.parametrize(
    ("asked", "stage_allows", "expected"),
    [
        (True, True, None),
        (False, True, "not rolled back (this deploy is a rollback's, or auto_rollback was turned off for it)"),
        (True, False, "not rolled back (qa has auto_rollback = false): it stays as it is"),
        (False, False, "not rolled back (this deploy is a rollback's, or auto_rollback was turned off for it)"),
    ],
)
def test_a_failed_verification_is_rolled_back_unless_the_deploy_or_its_stage_says_not(
    asked: bool, stage_allows: bool, expected: str | None
) -> None:
    assert held_back_from_rollback("qa", asked, stage_allows) == expected
