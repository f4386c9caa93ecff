"""`cloudops accounts doctor`, with the stages' blocks as a run uses them: green on the sandbox as `sandbox up` left
it; a missing repository, a subnet that does not exist, an older bootstrap, an execution role without one of its
policies (seen by IAM's policy simulator) and a build key that does not grant a stage each turn their check red,
with a line that names the fix, and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudops.aws import ssm
from cloudops.bootstrap_template import BOOTSTRAP_VERSION, VERSION_PARAMETER
from cloudops.config_store import ACCOUNT_KEY_ALIAS
from cloudops.policies import CLOUDFORMATION_EXECUTION
from sandbox.sandbox import Sandbox
from tests.app_source import CONFIG_FILE
from tests.ops_helpers import default_vpc

pytestmark = pytest.mark.slow
CHECKS = ("bootstrap", "bucket", "repositories", "network", "keys", "permissions")


def doctor(config: Path, *stages: str) -> tuple[int, list[str]]:
    from cli.main import app

    done = CliRunner().invoke(app, ["accounts", "doctor", *stages, "--config", str(config)])
    return done.exit_code, done.output.splitlines()


def lines_of(output: list[str], stage: str, check: str) -> list[str]:
    return [line for line in output if line.split()[:2] == [stage, check]]


def test_doctor_is_green_on_the_sandbox_and_names_each_problem_with_its_fix(
    sandbox: Sandbox, stage_blocks: dict[str, str], tmp_path: Path
) -> None:
    # Given the sandbox as `sandbox up` bootstrapped its accounts: every check of every stage passes
    code, output = doctor(CONFIG_FILE)
    assert code == 0, "\n".join(output)
    for stage in sandbox.settings.promotion_order():
        assert [line.split()[1:3] for line in output if line.split()[0] == stage] == [[c, "ok"] for c in CHECKS]
    assert "with Object Lock" in lines_of(output, "build", "bucket")[0]

    # When cloudops.toml names a repository the accounts do not have, each stage says which and how to fix it
    text = CONFIG_FILE.read_text()
    extra = tmp_path / "extra-repository.toml"
    extra.write_text(text.replace('repositories = ["base", ', 'repositories = ["doctor-missing", "base", '))
    code, output = doctor(extra, "qa")
    assert code == 1
    (line,) = lines_of(output, "qa", "repositories")
    assert "PROBLEM" in line and "has no repository doctor-missing: run `cloudops accounts bootstrap qa`" in line
    assert output[-1].startswith("1 problem(s)")

    # When QA's network names a subnet that does not exist
    network = default_vpc(sandbox.account("qa"))
    real = network.public_subnets
    table = (
        f'network = {{ vpc_id = "{network.vpc_id}", vpc_cidr = "{network.vpc_cidr}", '
        f'public_subnets = ["{real[0]}", "{real[1]}"], '
        'private_subnets = ["subnet-0d0c702d0c702d0c7", "subnet-0d0c702d0c702d0c8"] }'
    )
    wrong = tmp_path / "wrong-subnet.toml"
    wrong.write_text(text.replace("network = { default_vpc = true }  #", f"{table}  #", 1))
    code, output = doctor(wrong, "qa")
    (line,) = lines_of(output, "qa", "network")
    assert code == 1 and "PROBLEM subnet subnet-0d0c702d0c702d0c7" in line
    assert "does not exist in account 222222222222: fix [stages.qa.network] in cloudops.toml" in line

    # When staging's bootstrap is older than this cloudops needs
    admin = sandbox.account("staging")
    ssm.put_parameter(admin, VERSION_PARAMETER, str(BOOTSTRAP_VERSION - 1))
    try:
        code, output = doctor(CONFIG_FILE, "staging")
        (line,) = lines_of(output, "staging", "bootstrap")
        assert code == 1 and f"has bootstrap version {BOOTSTRAP_VERSION - 1}" in line
        assert "run `cloudops accounts bootstrap staging`" in line
    finally:
        ssm.put_parameter(admin, VERSION_PARAMETER, str(BOOTSTRAP_VERSION))
    assert doctor(CONFIG_FILE, "staging")[0] == 0


def test_doctor_sees_a_role_without_its_policy_and_a_key_that_does_not_grant_a_stage(
    sandbox: Sandbox, stage_blocks: dict[str, str]
) -> None:
    # When QA's CloudFormation execution role loses one of its managed policies (a hand edit, a broken bootstrap)
    iam = sandbox.account("qa").client("iam")
    role = CLOUDFORMATION_EXECUTION.name
    (first, *_) = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    iam.detach_role_policy(RoleName=role, PolicyArn=first["PolicyArn"])
    try:
        code, output = doctor(CONFIG_FILE, "qa")
        (line,) = lines_of(output, "qa", "permissions")
        # Then IAM's policy simulator denies an action the role needs, and the line says how to fix it
        assert code == 1 and f"IAM's policy simulator denies {role} " in line and "(implicitDeny)" in line
        assert "run `cloudops accounts bootstrap qa`" in line
    finally:
        iam.attach_role_policy(RoleName=role, PolicyArn=first["PolicyArn"])
    assert doctor(CONFIG_FILE, "qa")[0] == 0

    # When the build key's policy no longer lets prod use the snapshots the build shares
    kms = sandbox.account("build").client("kms")
    key = kms.describe_key(KeyId=ACCOUNT_KEY_ALIAS)["KeyMetadata"]["KeyId"]
    policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    document = json.loads(policy)
    for statement in document["Statement"]:
        if isinstance(statement.get("Principal", {}).get("AWS"), list):
            statement["Principal"]["AWS"] = [p for p in statement["Principal"]["AWS"] if "444444444444" not in p]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(document))
    try:
        code, output = doctor(CONFIG_FILE, "build")
        (line,) = lines_of(output, "build", "keys")
        assert code == 1 and "does not let account 444444444444 copy the snapshots" in line
        assert "run `cloudops accounts bootstrap build`" in line
    finally:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
