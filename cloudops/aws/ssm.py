"""The SSM Parameter Store adapter: parameters of one account, read by path or name, written, deleted."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, SecretStr

from cloudops.aws.errors import aws_call, code
from cloudops.aws.session import AccountSession
from cloudops.errors import AwsTransientError

PUT_ATTEMPTS = 5
PUT_BACKOFF_SECONDS = 0.5


def parameters_by_path(account: AccountSession, path: str, *, decrypt: bool = False) -> dict[str, str]:
    """Every parameter under ``path`` (recursively), by full name; SecureStrings decrypted only on request."""
    found: dict[str, str] = {}
    with aws_call(f"reading the SSM parameters under {path} in account {account.account_id}"):
        paginator = account.client("ssm").get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=path, Recursive=True, WithDecryption=decrypt):
            for parameter in page["Parameters"]:
                found[parameter["Name"]] = parameter["Value"]
    return found


def get_parameter(account: AccountSession, name: str, *, decrypt: bool = False) -> str | None:
    """The value of parameter ``name``; None when the account has no such parameter."""
    with aws_call(f"reading SSM parameter {name} in account {account.account_id}"):
        try:
            value: str = account.client("ssm").get_parameter(Name=name, WithDecryption=decrypt)["Parameter"]["Value"]
        except ClientError as error:
            if code(error) == "ParameterNotFound":
                return None
            raise
    return value


class Secret(BaseModel):
    """A SecureString's value, decrypted, and its version (a new one each time it is written)."""

    model_config = ConfigDict(frozen=True)

    value: SecretStr
    version: int


def get_secret(account: AccountSession, name: str) -> Secret | None:
    """SecureString ``name``, decrypted, with its version; None when the account has no such parameter."""
    with aws_call(f"reading SSM parameter {name} in account {account.account_id}"):
        try:
            found = account.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
        except ClientError as error:
            if code(error) == "ParameterNotFound":
                return None
            raise
    return Secret(value=SecretStr(found["Value"]), version=int(found["Version"]))


def put_parameter(account: AccountSession, name: str, value: str) -> None:
    """Write ``value`` as String parameter ``name``, a new version when it exists: one version for one write.

    Every write is a version (SSM keeps 100), so a write is not retried blindly: when one fails on the way (a
    throttle, a 5xx, a connection dropped, perhaps after SSM took it), the parameter is read, and written again
    only if it does not hold ``value`` yet."""
    once = account.client("ssm", retried=False)
    for attempt in range(1, PUT_ATTEMPTS + 1):
        try:
            with aws_call(f"writing SSM parameter {name} in account {account.account_id}"):
                once.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
            return
        except AwsTransientError:
            if attempt == PUT_ATTEMPTS:
                raise
            time.sleep(PUT_BACKOFF_SECONDS * 2 ** (attempt - 1))
            if get_parameter(account, name) == value:
                return  # the write went through; only its answer was lost


def create_secure_string(account: AccountSession, name: str, value: str, key_id: str) -> bool:
    """Create SecureString ``name``, encrypted with KMS key ``key_id``, unless it exists; True when created. An
    existing one is never overwritten."""
    with aws_call(f"creating SSM parameter {name} in account {account.account_id}"):
        try:
            account.client("ssm").put_parameter(
                Name=name, Value=value, Type="SecureString", KeyId=key_id, Overwrite=False
            )
        except ClientError as error:
            if code(error) == "ParameterAlreadyExists":
                return False
            raise
    return True


def delete_parameter(account: AccountSession, name: str) -> bool:
    """Delete parameter ``name``; False when there was none."""
    with aws_call(f"deleting SSM parameter {name} in account {account.account_id}"):
        try:
            account.client("ssm").delete_parameter(Name=name)
        except ClientError as error:
            if code(error) == "ParameterNotFound":
                return False
            raise
    return True
