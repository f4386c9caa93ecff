"""checkov on every CloudFormation template the pipeline deploys: the stack templates and each stage's bootstrap.

NOTE: moto's CloudFormation creates what a template says without judging it: a listener on plain HTTP, a database
without encryption or a bucket without access logs deploy in the sandbox as they would on AWS. checkov's rules (run
offline, `--skip-download`) judge them here. No check may fail; a check a template decides not to meet is an inline
skip in the resource's ``Metadata.checkov.skip`` with its reason, at most MAX_SKIPS in all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from cloudops.bootstrap_template import bootstrap_template
from cloudops.settings import load_settings
from tests.app_source import CONFIG_FILE
from tests.integration.policy_checks.offline_checkers import run_checker

STACKS = Path(__file__).resolve().parents[3] / "cloudops" / "templates" / "stacks"
MAX_SKIPS = 8
BROKEN = "broken"


def templates(folder: Path) -> Path:
    """The stack templates and each stage's bootstrap template (the build account's with the ECS pool's cluster),
    as files in ``folder``."""
    settings = load_settings(CONFIG_FILE)
    for template in STACKS.glob("*.yaml"):
        (folder / template.name).write_text(template.read_text())
    for stage in settings.stages:
        bootstrap = bootstrap_template(settings, stage, ecs_pool=stage == settings.build_stage)
        (folder / f"bootstrap-{stage}.json").write_text(json.dumps(bootstrap, indent=1))
    return folder


def checkov(folder: Path) -> dict[str, Any]:
    """checkov's CloudFormation report over ``folder``: its passed, failed and skipped checks."""
    result = run_checker(
        "checkov", "--skip-download", "--framework", "cloudformation", "--directory", str(folder), "--output", "json"
    )
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["check_type"] == "cloudformation", report
    return report["results"]  # type: ignore[no-any-return]


def described(check: dict[str, Any]) -> str:
    return f"{Path(check['file_path']).name} {check['resource']}: {check['check_id']} {check['check_name']}"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov run (it takes seconds to start) over the templates, and over a copy of author-live in
    ``broken/`` whose services admit SSH from anywhere."""
    folder = templates(tmp_path_factory.mktemp("templates"))
    decoded, problems = decode(str(STACKS / "author-live.yaml"))
    assert decoded is not None, problems
    broken = json.loads(json.dumps(decoded))
    broken["Resources"]["ServiceSecurityGroup"]["Properties"]["SecurityGroupIngress"].append(
        {"IpProtocol": "tcp", "Description": "SSH from anywhere", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
    )
    (folder / BROKEN).mkdir()
    (folder / BROKEN / "author-live.json").write_text(json.dumps(broken))
    return checkov(folder)


def of_templates(checks: list[dict[str, Any]], broken: bool = False) -> list[dict[str, Any]]:
    return [c for c in checks if (f"/{BROKEN}/" in c["file_path"]) == broken]


def test_no_check_fails_and_each_skip_has_its_reason(report: dict[str, Any]) -> None:
    results = {key: of_templates(report[key]) for key in ("passed_checks", "failed_checks", "skipped_checks")}
    assert len(results["passed_checks"]) > 100  # every template was read
    assert [described(c) for c in results["failed_checks"]] == []
    skipped = results["skipped_checks"]
    assert [described(c) for c in skipped if len(c["check_result"].get("suppress_comment", "")) < 20] == []
    # each skip as written: once per template (every stage's bootstrap comes from one), per check
    decisions = {(source(c), c["check_id"]) for c in skipped}
    assert len(decisions) <= MAX_SKIPS, sorted(decisions)


def source(check: dict[str, Any]) -> str:
    name = Path(check["file_path"]).name
    return "bootstrap" if name.startswith("bootstrap-") else name


def test_ssh_open_to_the_internet_is_caught(report: dict[str, Any]) -> None:
    # Given author-live whose services admit SSH from anywhere (broken/), checkov reports it, and nothing else
    failed = [(c["resource"], c["check_id"]) for c in of_templates(report["failed_checks"], broken=True)]
    assert failed == [("AWS::EC2::SecurityGroup.ServiceSecurityGroup", "CKV_AWS_24")]
