"""parliament on every role's policy in every stage, its placeholders filled in as the roles get it.

NOTE: moto's IAM evaluator allows a statement whatever its action's resource types are, so the sandbox cannot see a
list action scoped to an ARN (`ecs:ListServices` on a cluster), or a restore whose option group is not among its
resources: AWS refuses both calls. parliament knows each action's resource types from AWS's service reference and
reports such a statement (RESOURCE_MISMATCH, MEDIUM). A HIGH or MEDIUM finding is allowed only with a written
reason in ACCEPTED; there is none today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cloudops.policies import DEPLOYER, policy_document, roles_of_stage
from cloudops.settings import Settings, load_settings
from tests.app_source import CONFIG_FILE
from tests.integration.policy_checks.offline_checkers import run_checker

# (role, issue) -> why it stays
ACCEPTED: dict[tuple[str, str], str] = {}


def rendered_policies(settings: Settings, folder: Path) -> Path:
    """Each role's policy of each stage as a file ``<stage>-<role>.json`` in ``folder``."""
    for stage in settings.stages:
        for role in roles_of_stage(settings, stage):
            (folder / f"{stage}-{role.name}.json").write_text(json.dumps(policy_document(settings, stage, role)))
    return folder


def serious_findings(folder: Path) -> list[dict[str, Any]]:
    """parliament's HIGH and MEDIUM findings over the policies in ``folder``."""
    result = run_checker("parliament", "--directory", str(folder), "--minimum_severity", "MEDIUM", "--json")
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode in (0, 1) and (result.returncode == 0) == (not findings), result.stdout + result.stderr
    return findings


def test_no_policy_has_a_high_or_medium_finding_without_a_reason(tmp_path: Path) -> None:
    settings = load_settings(CONFIG_FILE)
    folder = rendered_policies(settings, tmp_path)
    assert len(list(folder.iterdir())) >= len(settings.stages) * 4  # every stage's roles are checked

    unexplained = [
        f"{Path(f['location']['filepath']).name}: {f['severity']} {f['issue']} {f['detail']}"
        for f in serious_findings(folder)
        if (Path(f["location"]["filepath"]).stem.split("-", 1)[1], f["issue"]) not in ACCEPTED
    ]
    assert not unexplained, "\n".join(unexplained)


def test_parliament_catches_a_list_action_scoped_to_a_cluster(tmp_path: Path) -> None:
    # Given the deployer's policy with ecs:ListServices scoped to the stage's clusters (AWS authorises it only on *)
    settings = load_settings(CONFIG_FILE)
    document = policy_document(settings, "qa", DEPLOYER)
    document["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "ecs:ListServices",
            "Resource": f"arn:aws:ecs:{settings.stage('qa').region}:{settings.stage('qa').account_id}:cluster/*",
        }
    )
    (tmp_path / f"qa-{DEPLOYER.name}.json").write_text(json.dumps(document))

    # Then parliament reports it
    (finding,) = serious_findings(tmp_path)
    assert (finding["severity"], finding["issue"]) == ("MEDIUM", "RESOURCE_MISMATCH")
    assert "ecs:ListServices" in json.dumps(finding["detail"])
