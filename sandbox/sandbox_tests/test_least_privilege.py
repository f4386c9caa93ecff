"""The pipeline's roles have exactly the policies of ``cloudops/templates/policies/``, and moto enforces them
(sandbox/sandbox/moto_iam_fixes.py).

Every call below is a real request to the sandbox's moto server, signed with the credentials of a role assumed
in a stage account; moto checks the signature and the role's policy. Where moto cannot check a policy's
resources (every service but S3, IAM and STS: it evaluates those calls against ``"*"``), the policy itself is
evaluated on the resources' ARNs with moto's own evaluator, as IAM would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from moto.iam.access_control import IAMPolicy, PermissionResult

from cloudops import config_store
from cloudops.aws import ssm
from cloudops.aws.session import AccountSession, open_account
from cloudops.policies import APPROVER, BUILD, DEPLOYER, ECS_WORKER, PROMOTION_SOURCE, STATUS_READER, policy_document
from cloudops.settings import Settings
from sandbox.sandbox import Sandbox
from sandbox.state import REGISTRY_USER, SANDBOX_ACCESS_KEY_ID

pytestmark = pytest.mark.slow

PROD_BUCKET = "cloudops-prod-444444444444"
QA_BUCKET = "cloudops-qa-222222222222"
BUILD_BUCKET = "cloudops-build-111111111111"


def as_role(sandbox: Sandbox, stage: str, role: str) -> AccountSession:
    return open_account(sandbox.credentials(stage, role), where=f"{role} in {stage}")


def code_of(call: Callable[..., Any], **kwargs: Any) -> str:
    """``OK`` when the call is answered, ``AccessDenied`` when IAM refused it, else its error code."""
    try:
        call(**kwargs)
    except ClientError as error:
        found = str(error.response["Error"]["Code"])
        # moto answers a JSON-protocol service's refusal with the XML error body of the query ones, which botocore
        # reads as the bare status
        return "AccessDenied" if found in ("403", "AccessDeniedException") else found
    return "OK"


@pytest.mark.reliability(
    "fault",
    "a pipeline role calling an API outside its policy (the deployer listing IAM roles or deleting a config file, "
    "the approver reading a bucket, the status reader writing a parameter, the build role deleting a record)",
    "refused (AccessDenied) by moto's IAM authorization; the calls the policy allows are answered",
)
def test_each_role_may_do_what_its_policy_allows_and_nothing_else(sandbox: Sandbox) -> None:
    key = f"least-privilege/{uuid.uuid4().hex[:8]}.txt"

    deployer = as_role(sandbox, "qa", DEPLOYER.name)
    s3, cfn = deployer.client("s3"), deployer.client("cloudformation")
    assert code_of(s3.put_object, Bucket=QA_BUCKET, Key=key, Body=b"qa") == "OK"
    assert code_of(cfn.describe_stacks) == "OK"
    assert code_of(deployer.client("ecs").list_clusters) == "AccessDenied"
    assert code_of(deployer.client("iam").list_roles) == "AccessDenied"
    assert code_of(s3.delete_object, Bucket=QA_BUCKET, Key=key) == "AccessDenied"
    assert code_of(deployer.client("ecr").create_repository, repositoryName="not-mine") == "AccessDenied"

    approver = as_role(sandbox, "qa", APPROVER.name)
    assert (
        approver.client("sts")
        .get_caller_identity()["Arn"]
        .startswith(f"arn:aws:sts::222222222222:assumed-role/{APPROVER.name}/")
    )
    assert code_of(approver.client("s3").get_object, Bucket=QA_BUCKET, Key=key) == "AccessDenied"
    assert code_of(approver.client("cloudformation").describe_stacks) == "AccessDenied"

    reader = as_role(sandbox, "qa", STATUS_READER.name)
    assert reader.client("s3").get_object(Bucket=QA_BUCKET, Key=key)["Body"].read() == b"qa"
    assert code_of(reader.client("cloudformation").describe_stacks) == "OK"
    assert code_of(reader.client("s3").put_object, Bucket=QA_BUCKET, Key=key, Body=b"x") == "AccessDenied"
    put = reader.client("ssm").put_parameter
    assert code_of(put, Name="/cloudops/x", Value="x", Type="String") == "AccessDenied"

    source = as_role(sandbox, "qa", PROMOTION_SOURCE.name)
    assert code_of(source.client("ecr").describe_repositories) == "OK"
    put_image = source.client("ecr").put_image
    assert code_of(put_image, repositoryName="app", imageManifest="{}", imageTag="x") == "AccessDenied"

    build = as_role(sandbox, "build", BUILD.name)
    assert code_of(build.client("s3").put_object, Bucket=BUILD_BUCKET, Key=key, Body=b"b") == "OK"
    assert code_of(build.client("s3").delete_object, Bucket=BUILD_BUCKET, Key=key) == "AccessDenied"
    assert code_of(build.client("cloudformation").describe_stacks) == "AccessDenied"  # only the stages deploy

    worker = as_role(sandbox, "build", ECS_WORKER.name)  # prefect-aws's ECS worker: flow-run tasks, nothing else
    assert code_of(worker.client("ecs").list_task_definitions) == "OK"
    assert code_of(worker.client("s3").get_object, Bucket=BUILD_BUCKET, Key=key) == "AccessDenied"
    assert code_of(worker.client("ecs").create_cluster, clusterName="not-mine") == "AccessDenied"
    assert code_of(worker.client("iam").list_roles) == "AccessDenied"

    denied = (sandbox.state.logs / "moto.log").read_text()
    assert f"cloudops-iam: denied arn:aws:sts::222222222222:assumed-role/{DEPLOYER.name}/" in denied
    assert "iam:ListRoles" in denied


@pytest.mark.reliability(
    "fault",
    "the status reader asking for a database password decrypted (prod's, a SecureString under the account's key)",
    "refused (AccessDenied: no kms:Decrypt on the account's key); the deployer that wrote it reads it, and the "
    "reader still sees that it exists",
)
def test_a_database_password_is_read_only_by_the_roles_granted_the_accounts_key(sandbox: Sandbox) -> None:
    # Given a database password written as a deploy writes it: by prod's deployer, under the account's key
    name = f"/cloudops/prod/least-privilege-{uuid.uuid4().hex[:6]}/author/db-password"
    deployer = as_role(sandbox, "prod", DEPLOYER.name)
    assert config_store.SsmConfigStore(deployer).ensure_secret(name) is True
    (described,) = (
        sandbox.account("prod")
        .client("ssm")
        .describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    )
    assert (described["Type"], described["KeyId"]) == ("SecureString", config_store.ACCOUNT_KEY_ALIAS)
    # Then the deployer reads it decrypted (it sets the database's password from it)
    secret = ssm.get_parameter(deployer, name, decrypt=True)
    assert secret is not None and len(secret) >= 24
    # And the status reader, allowed ssm:GetParameter, may see it exists but not read it: no kms:Decrypt
    reader = as_role(sandbox, "prod", STATUS_READER.name).client("ssm")
    # NOTE: moto keeps a SecureString's value behind a "kms:<key>:" prefix, not encrypted, and answers that
    # without decryption; AWS answers the ciphertext. What the sandbox shows is the refusal to decrypt.
    assert code_of(reader.get_parameter, Name=name) == "OK"
    assert code_of(reader.get_parameter, Name=name, WithDecryption=True) == "AccessDenied"
    path = name.rsplit("/", 1)[0]
    assert code_of(reader.get_parameters_by_path, Path=path, WithDecryption=True) == "AccessDenied"
    denied = (sandbox.state.logs / "moto.log").read_text()
    assert f"assumed-role/{STATUS_READER.name}/" in denied and "kms:Decrypt arn:aws:kms:" in denied


@pytest.mark.reliability(
    "fault",
    "QA's pipeline credentials reaching for prod: its bucket, its registry, its stacks",
    "refused: the bucket answers AccessDenied, prod's registry 401 to QA's login, prod's stacks do not exist for QA",
)
def test_qas_pipeline_credentials_reach_nothing_of_prods(sandbox: Sandbox) -> None:
    qa = open_account(sandbox.pipeline_credentials("qa"), where="qa's pipeline role")
    key = f"walls/{uuid.uuid4().hex[:8]}.txt"
    admin = sandbox.account("prod")
    admin.client("s3").put_object(Bucket=PROD_BUCKET, Key=key, Body=b"prod only")
    name = f"walls-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    admin.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    try:
        s3 = qa.client("s3")
        assert code_of(s3.get_object, Bucket=PROD_BUCKET, Key=key) == "AccessDenied"
        assert code_of(s3.put_object, Bucket=PROD_BUCKET, Key=key, Body=b"from qa") == "AccessDenied"
        assert code_of(qa.client("cloudformation").describe_stacks, StackName=name) == "ValidationError"
        assert code_of(qa.client("cloudformation").delete_stack, StackName=name) == "OK"  # of nothing in QA
        (stack,) = admin.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert admin.client("s3").get_object(Bucket=PROD_BUCKET, Key=key)["Body"].read() == b"prod only"
    finally:
        admin.client("cloudformation").delete_stack(StackName=name)

    # the registry login QA's block carries opens QA's registry only
    qa_login = sandbox.state.registries["qa"].login().password.get_secret_value()
    prod = sandbox.state.registries["prod"]
    with httpx.Client(base_url=f"http://{prod.address}", timeout=10) as http:
        assert http.get("/v2/_catalog", auth=(REGISTRY_USER, qa_login)).status_code == 401
        assert http.get("/v2/_catalog", auth=(REGISTRY_USER, prod.password.get_secret_value())).status_code == 200


def permitted(settings: Settings, stage: str, action: str, resource: str) -> bool:
    """Whether the deployer's policy of ``stage`` allows ``action`` on ``resource``, as IAM decides (moto's
    evaluator, not the sandbox's server: there it checks these services' actions only)."""
    document = policy_document(settings, stage, DEPLOYER)
    return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource) == PermissionResult.PERMITTED


@pytest.mark.reliability(
    "fault",
    "QA's deployer policy asked for prod's stacks, parameters, repositories, databases or snapshots",
    "not allowed: every ARN in it names QA's own account (but the build account's shared snapshots)",
)
def test_the_deployers_policy_names_its_own_accounts_resources_only(settings: Settings) -> None:
    # NOTE: moto's server checks ECS, RDS, SSM, ECR and CloudFormation calls by their action alone (it knows no
    # resource for them); what keeps QA's role to QA's resources is its policy's ARNs, evaluated here.
    region = settings.stage("qa").region
    own, prod, build = "222222222222", "444444444444", "111111111111"
    cases = [
        ("cloudformation:UpdateStack", "arn:aws:cloudformation:{region}:{account}:stack/app-qa-author/1"),
        ("ssm:PutParameter", "arn:aws:ssm:{region}:{account}:parameter/cloudops/app/endpoint"),
        ("ecr:PutImage", "arn:aws:ecr:{region}:{account}:repository/app"),
        ("rds:DeleteDBInstance", "arn:aws:rds:{region}:{account}:db:app-author"),
        ("ecs:RunTask", "arn:aws:ecs:{region}:{account}:task-definition/app:3"),
    ]
    for action, arn in cases:
        assert permitted(settings, "qa", action, arn.format(region=region, account=own)), action
        assert not permitted(settings, "qa", action, arn.format(region=region, account=prod)), action
    snapshot = "arn:aws:rds:{region}:{account}:snapshot:app-author-1"
    restore = "rds:RestoreDBInstanceFromDBSnapshot"
    assert permitted(settings, "qa", restore, snapshot.format(region=region, account=build))
    assert not permitted(settings, "qa", restore, snapshot.format(region=region, account=prod))
    assert not permitted(settings, "qa", "iam:CreateRole", f"arn:aws:iam::{own}:role/anything")


def test_moto_refuses_an_unknown_key_and_a_wrong_signature(sandbox: Sandbox) -> None:
    def sts(key: str, secret: str) -> Any:
        session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="eu-west-1")
        return session.client("sts", endpoint_url=sandbox.state.moto_url)

    role = sandbox.state.role_arn("222222222222", DEPLOYER.name)
    assume = sts("AKIAUNKNOWNKEY000000", "whatever").assume_role
    assert code_of(assume, RoleArn=role, RoleSessionName="faults") == "InvalidClientTokenId"
    assume = sts(SANDBOX_ACCESS_KEY_ID, "not-the-secret").assume_role
    assert code_of(assume, RoleArn=role, RoleSessionName="faults") == "SignatureDoesNotMatch"
