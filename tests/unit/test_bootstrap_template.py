"""The bootstrap stack's template, a pure function of cloudops.toml: cfn-lint passes it for every stage, each role
gets exactly its policy, in managed policies within IAM's size limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cloudops import flow_run_cluster
from cloudops.bootstrap_template import (
    MANAGED_POLICY_LIMIT,
    bootstrap_parameters,
    bootstrap_template,
    policy_chunks,
)
from cloudops.policies import policy_document, roles_of_stage
from cloudops.settings import Settings, load_settings
from tests.app_source import CONFIG_FILE

CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")
# W3037 (an action IAM does not list): the execution role's policy copies the provider schemas' handler permissions
# as AWS publishes them, nine of which (s3:DeleteBucketCors, s3:PutBucketReplication, managed-fleets:*, ...) are
# not IAM action names; IAM accepts them in a policy and they grant nothing.
IGNORED = "W3037"
SETTINGS = load_settings(CONFIG_FILE)


def managed_policies(template: dict[str, object], role_logical_id: str) -> list[dict[str, object]]:
    resources = template["Resources"]
    assert isinstance(resources, dict)
    return [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and r["Properties"]["Roles"] == [{"Ref": role_logical_id}]
    ]


@pytest.mark.parametrize("stage", sorted(SETTINGS.stages))
def test_the_bootstrap_template_of_each_stage_passes_cfn_lint(stage: str, tmp_path: Path) -> None:
    path = tmp_path / f"bootstrap-{stage}.json"  # the build account's with the ECS pool's flow-run cluster too
    path.write_text(json.dumps(bootstrap_template(SETTINGS, stage, ecs_pool=True), indent=1))
    result = subprocess.run(
        [CFN_LINT, str(path), "--ignore-checks", IGNORED], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", sorted(SETTINGS.stages))
def test_each_role_gets_its_whole_policy_in_managed_policies_within_iams_limit(stage: str) -> None:
    template = bootstrap_template(SETTINGS, stage)
    roles = {
        r["Properties"]["RoleName"]: logical
        for logical, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and logical.startswith("Role")  # not the RDS monitoring role: AWS's
    }
    assert sorted(roles) == sorted(role.name for role in roles_of_stage(SETTINGS, stage))
    for role in roles_of_stage(SETTINGS, stage):
        attached = managed_policies(template, roles[role.name])
        statements = [s for p in attached for s in p["PolicyDocument"]["Statement"]]  # type: ignore[index]
        assert statements == policy_document(SETTINGS, stage, role)["Statement"]
        for policy in attached:
            assert len(json.dumps(policy["PolicyDocument"], separators=(",", ":"))) <= MANAGED_POLICY_LIMIT


def test_a_policy_over_the_limit_is_split_in_order_and_a_statement_too_big_is_refused() -> None:
    statements = [
        {"Sid": f"S{n}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "x" * 900} for n in range(9)
    ]
    chunks = policy_chunks({"Version": "2012-10-17", "Statement": statements}, limit=3000)
    assert len(chunks) == 3
    assert [s for c in chunks for s in c["Statement"]] == statements
    assert all(len(json.dumps(c, separators=(",", ":"))) <= 3000 for c in chunks)
    with pytest.raises(ValueError, match="S0 alone exceeds"):
        policy_chunks({"Version": "2012-10-17", "Statement": statements[:1]}, limit=500)


def test_the_build_key_lets_the_stages_use_what_it_shares_and_only_the_build_bucket_is_locked() -> None:
    settings: Settings = SETTINGS
    build = bootstrap_template(settings, settings.build_stage)
    grants = build["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]
    others = {f"arn:aws:iam::{s.account_id}:root" for n, s in settings.stages.items() if n != settings.build_stage}
    assert set(grants[-1]["Principal"]["AWS"]) == others and "kms:Decrypt" in grants[-1]["Action"]
    assert bootstrap_parameters(settings, settings.build_stage, "arn:aws:iam::1:user/u", None)["HoldsRecords"] == "true"
    qa = bootstrap_template(settings, "qa")
    statements = qa["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]
    assert [statement["Sid"] for statement in statements] == [  # no other account's use of a stage's key
        "TheAccountAdministersItThroughIam",
        "CloudWatchLogsEncryptsTheAccountsLogGroups",
    ]
    logs = statements[1]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]
    assert bootstrap_parameters(settings, "qa", "arn:aws:iam::1:user/u", None)["HoldsRecords"] == "false"


def test_the_ecs_pool_s_flow_run_cluster_is_the_build_account_s_only_when_asked_for() -> None:
    settings: Settings = SETTINGS
    build = settings.stage(settings.build_stage)
    plain = bootstrap_template(settings, settings.build_stage)
    pooled = bootstrap_template(settings, settings.build_stage, ecs_pool=True)
    added = set(pooled["Resources"]) - set(plain["Resources"])
    assert added == {
        "FlowRunCluster",
        "FlowRunnerExecutionRole",
        "FlowRunLogGroup",
        "FlowRunEventsQueue",
        "FlowRunEventsQueuePolicy",
        "FlowRunEventsRule",
    }
    rule = pooled["Resources"]["FlowRunEventsRule"]["Properties"]
    cluster_arn = f"arn:aws:ecs:{build.region}:{build.account_id}:cluster/{flow_run_cluster.CLUSTER}"
    assert rule["EventPattern"]["detail"]["clusterArn"] == [cluster_arn]
    (target,) = rule["Targets"]
    assert target["Arn"] == f"arn:aws:sqs:{build.region}:{build.account_id}:{flow_run_cluster.EVENTS_QUEUE}"
    (policy,) = pooled["Resources"]["FlowRunnerExecutionRole"]["Properties"]["Policies"]
    secret = [s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "secretsmanager:GetSecretValue"]
    assert [s["Resource"] for s in secret] == [
        f"arn:aws:secretsmanager:{build.region}:{build.account_id}:secret:{flow_run_cluster.AUTH_SECRET}-*"
    ]
    assert set(bootstrap_template(settings, "qa", ecs_pool=True)["Resources"]) == set(
        bootstrap_template(settings, "qa")["Resources"]
    )  # a stage account has no flow-run cluster, asked or not
