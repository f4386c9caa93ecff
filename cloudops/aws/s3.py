"""The S3 adapter: buckets and objects of one account."""

from __future__ import annotations

from botocore.exceptions import ClientError

from cloudops.aws.session import AccountSession
from cloudops.errors import AwsError


def ensure_bucket(account: AccountSession, bucket: str) -> bool:
    """Create ``bucket`` in the account's region unless the account has it; True when created."""
    s3 = account.client("s3")
    if bucket in list_buckets(account):
        return False
    kwargs: dict[str, object] = {"Bucket": bucket}
    if account.region != "us-east-1":  # us-east-1 refuses an explicit LocationConstraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": account.region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as error:
        code = error.response["Error"].get("Code")
        if code == "BucketAlreadyOwnedByYou":
            return False
        if code == "BucketAlreadyExists":
            raise AwsError(
                f"bucket {bucket} belongs to another AWS account; bucket names are global, "
                f"choose another name for stage account {account.account_id} in cloudops.toml"
            ) from None
        raise AwsError(f"cannot create bucket {bucket}: {code}: {error.response['Error'].get('Message')}") from None
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return True


def list_buckets(account: AccountSession) -> list[str]:
    """The names of the buckets the account owns."""
    return [b["Name"] for b in account.client("s3").list_buckets().get("Buckets", [])]


def object_exists(account: AccountSession, bucket: str, key: str) -> bool:
    try:
        account.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"].get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise AwsError(f"cannot read s3://{bucket}/{key}: {error.response['Error'].get('Code')}") from None
    return True


def put_object(account: AccountSession, bucket: str, key: str, body: bytes, content_type: str) -> None:
    account.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def get_object(account: AccountSession, bucket: str, key: str) -> bytes:
    try:
        body: bytes = account.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response["Error"].get("Code") in ("NoSuchKey", "404"):
            raise AwsError(
                f"s3://{bucket}/{key} does not exist in account {account.account_id}; "
                "initialise the account with `cloudops accounts init`"
            ) from None
        raise AwsError(f"cannot read s3://{bucket}/{key}: {error.response['Error'].get('Code')}") from None
    return body


def list_keys(account: AccountSession, bucket: str, prefix: str = "") -> list[str]:
    paginator = account.client("s3").get_paginator("list_objects_v2")
    try:
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
    except ClientError as error:
        if error.response["Error"].get("Code") == "NoSuchBucket":
            raise AwsError(
                f"bucket {bucket} does not exist in account {account.account_id}; "
                "initialise the account with `cloudops accounts init`"
            ) from None
        raise AwsError(f"cannot list s3://{bucket}/{prefix}: {error.response['Error'].get('Code')}") from None
