"""The walls between accounts in the sandbox: QA's credentials can neither read nor write what prod's account holds.

Each stage's account is reached through its own assumed role (STS in moto), and moto keeps each account's
resources apart; for S3, where moto would otherwise serve any account's bucket to any credentials, the sandbox
starts moto with cross-account access off (sandbox/sandbox/moto_server.py), as AWS answers without a bucket policy.
Registries: sandbox/sandbox_tests/test_registries.py (each registry takes only its own account's password).
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from sandbox.sandbox import Sandbox

pytestmark = pytest.mark.slow

PROD_BUCKET = "cloudops-prod-444444444444"


def refused(call: object, *args: object, **kwargs: object) -> str:
    """The error code of an AWS call that must fail."""
    assert callable(call)
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    return str(error.value.response["Error"]["Code"])


@pytest.mark.reliability(
    "fault",
    "QA's credentials reading, listing or writing prod's bucket",
    "refused (AccessDenied), as AWS refuses another account without a bucket policy; prod's objects unchanged",
)
def test_qa_cannot_read_list_or_write_prods_bucket(moto_sandbox: Sandbox) -> None:
    prod, qa = moto_sandbox.account("prod").client("s3"), moto_sandbox.account("qa").client("s3")
    key = f"walls/{uuid.uuid4().hex[:8]}.txt"
    prod.put_object(Bucket=PROD_BUCKET, Key=key, Body=b"prod only")

    assert refused(qa.get_object, Bucket=PROD_BUCKET, Key=key) == "AccessDenied"
    assert refused(qa.list_objects_v2, Bucket=PROD_BUCKET) == "AccessDenied"
    assert refused(qa.put_object, Bucket=PROD_BUCKET, Key=key, Body=b"from qa") == "AccessDenied"
    assert refused(qa.delete_object, Bucket=PROD_BUCKET, Key=key) == "AccessDenied"
    assert PROD_BUCKET not in [b["Name"] for b in qa.list_buckets()["Buckets"]]
    assert prod.get_object(Bucket=PROD_BUCKET, Key=key)["Body"].read() == b"prod only"


@pytest.mark.reliability(
    "fault",
    "QA's credentials describing, changing or deleting a prod stack",
    "prod's stacks do not exist for QA; a delete from QA leaves prod's stack as it was",
)
def test_qa_cannot_see_or_touch_prods_stacks(moto_sandbox: Sandbox) -> None:
    prod = moto_sandbox.account("prod").client("cloudformation")
    qa = moto_sandbox.account("qa").client("cloudformation")
    name = f"walls-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    prod.create_stack(StackName=name, TemplateBody=json.dumps(template))
    try:
        assert refused(qa.describe_stacks, StackName=name) == "ValidationError"  # "Stack ... does not exist"
        assert name not in [s["StackName"] for s in qa.describe_stacks()["Stacks"]]
        qa.delete_stack(StackName=name)
        (stack,) = prod.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
    finally:
        prod.delete_stack(StackName=name)
