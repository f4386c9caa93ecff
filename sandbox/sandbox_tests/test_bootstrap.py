"""Each account bootstrapped by its stack cloudops-bootstrap, as `cloudops accounts bootstrap` makes it on AWS: the
session's sandbox made them so at its start, through the same function; run again, the command changes nothing;
a changed trust, role policy or key policy is applied (the moto fixes of sandbox/sandbox/moto_bootstrap_fixes.py); an
older bootstrap is refused in one line naming the command."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cloudops.accounts import CONFIG_FILES
from cloudops.aws import cloudformation, ecr, s3, ssm
from cloudops.bootstrap import NotBootstrappedError, Trust, bootstrap_account, check_bootstrap
from cloudops.bootstrap_template import (
    BOOTSTRAP_STACK,
    BOOTSTRAP_VERSION,
    VERSION_PARAMETER,
    bootstrap_parameters,
    bootstrap_template,
)
from cloudops.policies import BUILD, policy_document, roles_of_stage
from cloudops.stacks import Action
from sandbox.sandbox import Sandbox
from sandbox.state import SANDBOX_ACCESS_KEY_ID, SANDBOX_BASE_USER_ARN, SANDBOX_ROLE_NAME, SANDBOX_SECRET_ACCESS_KEY
from tests.app_source import CONFIG_FILE

CLOUDOPS = str(Path(sys.executable).parent / "cloudops")


def attached_documents(moto_sandbox: Sandbox, stage: str, role: str) -> list[dict[str, Any]]:
    iam = moto_sandbox.account(stage).client("iam")
    documents = []
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        document = version["PolicyVersion"]["Document"]
        documents.append(json.loads(document) if isinstance(document, str) else document)
    return documents


def test_every_account_holds_its_bootstrap_stack_bucket_repositories_roles_and_config_files(
    moto_sandbox: Sandbox,
) -> None:
    settings = moto_sandbox.settings
    for stage in settings.promotion_order():
        account = moto_sandbox.account(stage)
        bucket = settings.stage(stage).bucket
        stack = cloudformation.describe(account, BOOTSTRAP_STACK)
        assert stack is not None and stack.outputs["BootstrapVersion"] == str(BOOTSTRAP_VERSION)
        check_bootstrap(account, stage)
        client = account.client("s3")
        assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
        assert s3.object_lock_enabled(account, bucket) == (stage == settings.build_stage)
        repositories = account.client("ecr").describe_repositories(repositoryNames=list(settings.repositories))
        assert {r["imageTagMutability"] for r in repositories["repositories"]} == {"IMMUTABLE"}
        assert set(settings.repositories) <= set(ecr.list_repositories(account))
        for role in roles_of_stage(settings, stage):
            statements = [s for d in attached_documents(moto_sandbox, stage, role.name) for s in d["Statement"]]
            assert sorted(json.dumps(s, sort_keys=True) for s in statements) == sorted(
                json.dumps(s, sort_keys=True) for s in policy_document(settings, stage, role)["Statement"]
            )
        assert sorted(s3.list_keys(account, bucket, "config/")) == sorted(f"config/{n}" for n in CONFIG_FILES)
        author = s3.get_object(account, bucket, "config/author.env").decode()
        assert f"EP_STAGE={stage}" in author and "EP_ENVIRONMENT=author" in author


def test_the_command_again_changes_nothing_and_keeps_edited_config(moto_sandbox: Sandbox) -> None:
    account = moto_sandbox.account("qa")
    stage = moto_sandbox.settings.stage("qa")
    original = s3.get_object(account, stage.bucket, "config/live.env")
    edited = original + b"EP_EDITED=yes\n"
    s3.put_object(account, stage.bucket, "config/live.env", edited, "text/plain")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ENDPOINT_URL": moto_sandbox.state.moto_url,
        "AWS_ACCESS_KEY_ID": SANDBOX_ACCESS_KEY_ID,  # the sandbox's base user, as a management account's user
        "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET_ACCESS_KEY,
        "CLOUDOPS_CONFIG_FILE": str(CONFIG_FILE),
    }
    try:
        args = ["accounts", "bootstrap", "qa", "--principal", SANDBOX_BASE_USER_ARN, "--via-role", SANDBOX_ROLE_NAME]
        done = subprocess.run([CLOUDOPS, *args], capture_output=True, text=True, env=env, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines() == [f"qa         account {stage.account_id}: nothing changed"]
        assert s3.get_object(account, stage.bucket, "config/live.env") == edited
        wrong = subprocess.run(
            [CLOUDOPS, "accounts", "bootstrap", "qa-typo", "--principal", SANDBOX_BASE_USER_ARN],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert wrong.returncode != 0 and "qa-typo" in wrong.stderr and "staging" in wrong.stderr
    finally:  # the session's sandbox is shared: the deploy tests read this file
        s3.put_object(account, stage.bucket, "config/live.env", original, "text/plain")


STAGES_STATEMENT = "TheStagesUseTheSnapshotsItShares"


def key_statements(moto_sandbox: Sandbox, stage: str) -> list[str]:
    """The Sids of the policy of ``stage``'s account key, as KMS answers it."""
    kms = moto_sandbox.account(stage).client("kms")
    key = kms.describe_key(KeyId="alias/cloudops")["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    return [statement.get("Sid", "") for statement in policy["Statement"]]


def test_an_update_applies_a_changed_trust_and_replaces_a_changed_policy(moto_sandbox: Sandbox) -> None:
    settings = moto_sandbox.settings
    build = settings.build_stage
    admin = moto_sandbox.account(build)
    iam = admin.client("iam")
    other = "arn:aws:iam::123456789012:role/another-worker"
    try:
        bootstrap_account(admin, settings, build, Trust(other))
        trust = iam.get_role(RoleName=BUILD.name)["Role"]["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"]["AWS"] == other
        # the build role's policy without its last statement: a new managed policy replaces the old one
        template = bootstrap_template(settings, build)
        changed = copy.deepcopy(template)
        logical, resource = next(
            (k, v) for k, v in changed["Resources"].items() if k.startswith("PolicyCloudopsBuild1x")
        )
        resource["Properties"]["PolicyDocument"]["Statement"].pop()
        del changed["Resources"][logical]
        changed["Resources"]["PolicyCloudopsBuild1xchanged"] = resource
        resource["Properties"]["ManagedPolicyName"] = "cloudops-build-1-changed"
        # and the key's policy without the stages' use of the shared snapshots: the key keeps it, changed in place
        key_policy = changed["Resources"]["Key"]["Properties"]["KeyPolicy"]
        key_policy["Statement"] = [s for s in key_policy["Statement"] if s.get("Sid") != STAGES_STATEMENT]
        parameters = bootstrap_parameters(settings, build, SANDBOX_BASE_USER_ARN, None)
        change_set = cloudformation.create_change_set(
            admin, BOOTSTRAP_STACK, json.dumps(changed), parameters, {}, Action.UPDATE, None
        )
        assert change_set is not None
        cloudformation.execute(admin, change_set)
        names = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=BUILD.name)["AttachedPolicies"]]
        assert names == ["cloudops-build-1-changed"]
        assert STAGES_STATEMENT not in key_statements(moto_sandbox, build)
        assert not [
            p
            for p in iam.list_policies(Scope="Local")["Policies"]
            if p["PolicyName"].startswith("cloudops-build-1-") and p["PolicyName"] != "cloudops-build-1-changed"
        ]
    finally:
        bootstrap_account(admin, settings, build, Trust(SANDBOX_BASE_USER_ARN))
    trust = iam.get_role(RoleName=BUILD.name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"]["AWS"] == SANDBOX_BASE_USER_ARN
    assert attached_documents(moto_sandbox, build, BUILD.name) == [
        {"Version": "2012-10-17", "Statement": policy_document(settings, build, BUILD)["Statement"]}
    ]
    assert STAGES_STATEMENT in key_statements(moto_sandbox, build)


@pytest.mark.reliability(
    "input",
    "a stage account bootstrapped by an older cloudops (its version parameter below this cloudops's)",
    "every run refuses it in one line naming `cloudops accounts bootstrap STAGE`, before anything changes",
)
def test_an_older_bootstrap_is_refused_in_one_line_naming_the_command(moto_sandbox: Sandbox) -> None:
    admin = moto_sandbox.account("qa")
    admin.client("ssm").put_parameter(Name=VERSION_PARAMETER, Value="0", Type="String", Overwrite=True)
    try:
        with pytest.raises(NotBootstrappedError) as refused:
            check_bootstrap(moto_sandbox.account("qa"), "qa")
        message = str(refused.value)
        assert "\n" not in message and "has bootstrap version 0" in message
        assert "`cloudops accounts bootstrap qa`" in message
    finally:
        admin.client("ssm").put_parameter(
            Name=VERSION_PARAMETER, Value=str(BOOTSTRAP_VERSION), Type="String", Overwrite=True
        )
    assert ssm.get_parameter(admin, VERSION_PARAMETER) == str(BOOTSTRAP_VERSION)
