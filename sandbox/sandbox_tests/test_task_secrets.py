"""A task's secrets, resolved as ECS resolves them, from moto's backends in this process: Secrets Manager (the
whole secret or one JSON key of it) and the parameter store (a SecureString decrypted)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from sandbox.ecs_runtime import moto_view

ACCOUNT, REGION = "123456789012", "eu-west-1"  # moto's default account in-process


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_a_secrets_manager_secret_whole_or_one_json_key(aws: None) -> None:
    manager = boto3.client("secretsmanager", region_name=REGION)
    arn = manager.create_secret(Name="db", SecretString=json.dumps({"password": "s3cret", "user": "app"}))["ARN"]
    assert json.loads(moto_view.secret(ACCOUNT, REGION, arn)) == {"password": "s3cret", "user": "app"}
    assert moto_view.secret(ACCOUNT, REGION, f"{arn}:password::") == "s3cret"
    with pytest.raises(LookupError, match="has no JSON key 'nothing'"):
        moto_view.secret(ACCOUNT, REGION, f"{arn}:nothing::")
    gone = arn.replace(":secret:db", ":secret:gone")
    with pytest.raises(LookupError, match=f"secret {gone} is not in account {ACCOUNT}'s Secrets Manager"):
        moto_view.secret(ACCOUNT, REGION, gone)


def test_a_parameter_store_secret_by_arn_or_name_decrypted(aws: None) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/app/password", Value="s3cret", Type="SecureString")
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/password"
    assert moto_view.secret(ACCOUNT, REGION, arn) == moto_view.secret(ACCOUNT, REGION, "/app/password") == "s3cret"
    with pytest.raises(LookupError, match="is not in account"):
        moto_view.secret(ACCOUNT, REGION, "/app/none")
