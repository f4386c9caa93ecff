"""The S3 adapter: buckets and objects of one account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from botocore.exceptions import ClientError

from cloudops.aws.errors import aws_call, code
from cloudops.aws.session import AccountSession
from cloudops.errors import AwsError

NOT_FOUND = ("404", "NoSuchKey", "NotFound")
INIT_FIX = "initialise the account with `cloudops accounts init`"


@dataclass(frozen=True)
class ObjectLock:
    """The S3 Object Lock retention of one object: its mode and until when."""

    mode: Literal["GOVERNANCE", "COMPLIANCE"]
    until: datetime

    @classmethod
    def for_days(cls, mode: Literal["GOVERNANCE", "COMPLIANCE"], days: int) -> ObjectLock:
        return cls(mode, datetime.now(UTC) + timedelta(days=days))


def ensure_bucket(account: AccountSession, bucket: str, object_lock: bool = False) -> bool:
    """Create ``bucket`` in the account's region unless the account has it; True when created. With
    ``object_lock`` it is created with versioning and S3 Object Lock (an object locked can be neither deleted
    nor have its version replaced until its retention ends)."""
    s3 = account.client("s3")
    if bucket in list_buckets(account):
        return False
    kwargs: dict[str, object] = {"Bucket": bucket}
    if object_lock:
        kwargs["ObjectLockEnabledForBucket"] = True
    if account.region != "us-east-1":  # us-east-1 refuses an explicit LocationConstraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": account.region}
    with aws_call(f"creating bucket {bucket} in account {account.account_id}"):
        try:
            s3.create_bucket(**kwargs)
        except ClientError as error:
            if code(error) == "BucketAlreadyOwnedByYou":
                return False
            if code(error) == "BucketAlreadyExists":
                raise AwsError(
                    f"bucket {bucket} belongs to another AWS account; bucket names are global, "
                    f"choose another name for stage account {account.account_id} in cloudops.toml"
                ) from None
            raise
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


def object_lock_enabled(account: AccountSession, bucket: str) -> bool:
    """Whether ``bucket`` has S3 Object Lock on (asked once per bucket in a process: it is never turned off)."""
    if bucket in _locked_buckets:
        return True
    with aws_call(f"reading the Object Lock configuration of bucket {bucket}"):
        try:
            answer = account.client("s3").get_object_lock_configuration(Bucket=bucket)
        except ClientError as error:
            if code(error) == "ObjectLockConfigurationNotFoundError":
                return False
            raise
    enabled = bool(answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")
    if enabled:
        _locked_buckets.add(bucket)
    return enabled


_locked_buckets: set[str] = set()


@dataclass(frozen=True)
class KeyVersions:
    """What a versioned bucket holds under one key: its versions, oldest first, and whether it is deleted."""

    versions: tuple[str, ...]
    deleted: bool


def key_versions(account: AccountSession, bucket: str, prefix: str) -> dict[str, KeyVersions]:
    """Every key under ``prefix`` with its versions and delete markers (a key deleted has a delete marker)."""
    found: dict[str, list[tuple[datetime, str]]] = {}
    deleted: set[str] = set()
    paginator = account.client("s3").get_paginator("list_object_versions")
    with aws_call(f"listing the versions of s3://{bucket}/{prefix}"):
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Versions", []):
                    found.setdefault(item["Key"], []).append((item["LastModified"], item["VersionId"]))
                for marker in page.get("DeleteMarkers", []):
                    found.setdefault(marker["Key"], [])
                    if marker.get("IsLatest"):
                        deleted.add(marker["Key"])
        except ClientError as error:
            if code(error) == "NoSuchBucket":
                raise AwsError(f"bucket {bucket} does not exist in account {account.account_id}; {INIT_FIX}") from None
            raise
    return {key: KeyVersions(tuple(v for _, v in sorted(versions)), key in deleted) for key, versions in found.items()}


def list_buckets(account: AccountSession) -> list[str]:
    """The names of the buckets the account owns."""
    with aws_call(f"listing the buckets of account {account.account_id}"):
        return [b["Name"] for b in account.client("s3").list_buckets().get("Buckets", [])]


def bucket_exists(account: AccountSession, bucket: str) -> bool:
    """Whether the account has bucket ``bucket``: asked with s3:GetBucketLocation, which a role scoped to its own
    bucket may ask (listing every bucket, s3:ListAllMyBuckets, it may not)."""
    with aws_call(f"looking for s3://{bucket}"):
        try:
            account.client("s3").get_bucket_location(Bucket=bucket)
        except ClientError as error:
            if code(error) in NOT_FOUND or code(error) == "NoSuchBucket":
                return False
            raise
    return True


def object_exists(account: AccountSession, bucket: str, key: str) -> bool:
    with aws_call(f"reading s3://{bucket}/{key}"):
        try:
            account.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if code(error) in NOT_FOUND:
                return False
            raise
    return True


def put_object(account: AccountSession, bucket: str, key: str, body: bytes, content_type: str) -> None:
    with aws_call(f"writing s3://{bucket}/{key}"):
        account.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def put_new_object(
    account: AccountSession, bucket: str, key: str, body: bytes, content_type: str, lock: ObjectLock | None = None
) -> bool:
    """Write the object only if ``key`` does not exist (a conditional put), locked with ``lock`` when given;
    False when it existed."""
    extra: dict[str, object] = (
        {"ObjectLockMode": lock.mode, "ObjectLockRetainUntilDate": lock.until} if lock is not None else {}
    )
    with aws_call(f"writing s3://{bucket}/{key}"):
        try:
            account.client("s3").put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*", **extra
            )
        except ClientError as error:
            if code(error) in ("PreconditionFailed", "412"):
                return False
            raise
    return True


def get_object(account: AccountSession, bucket: str, key: str) -> bytes:
    with aws_call(f"reading s3://{bucket}/{key}"):
        try:
            body: bytes = account.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if code(error) in ("NoSuchKey", "404"):
                raise AwsError(
                    f"s3://{bucket}/{key} does not exist in account {account.account_id}; {INIT_FIX}"
                ) from None
            raise
    return body


def upload_file(
    account: AccountSession, source: Path, bucket: str, key: str, content_type: str, metadata: dict[str, str]
) -> None:
    """Upload the file ``source`` (in parts when it is large) to ``s3://bucket/key``."""
    with aws_call(f"uploading {source.name} to s3://{bucket}/{key}"):
        account.client("s3").upload_file(
            str(source), bucket, key, ExtraArgs={"ContentType": content_type, "Metadata": metadata}
        )


def download_file(account: AccountSession, bucket: str, key: str, destination: Path) -> None:
    """Download ``s3://bucket/key`` into the file ``destination``."""
    with aws_call(f"downloading s3://{bucket}/{key}"):
        try:
            account.client("s3").download_file(bucket, key, str(destination))
        except ClientError as error:
            if code(error) in NOT_FOUND:
                raise AwsError(
                    f"s3://{bucket}/{key} does not exist in account {account.account_id}; "
                    "upload it again (objects here are written once and never deleted by the pipeline)"
                ) from None
            raise


def list_keys(account: AccountSession, bucket: str, prefix: str = "") -> list[str]:
    paginator = account.client("s3").get_paginator("list_objects_v2")
    with aws_call(f"listing s3://{bucket}/{prefix}"):
        try:
            return [
                item["Key"]
                for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", [])
            ]
        except ClientError as error:
            if code(error) == "NoSuchBucket":
                raise AwsError(f"bucket {bucket} does not exist in account {account.account_id}; {INIT_FIX}") from None
            raise
