"""The SSM Parameter Store adapter: parameters of one account, read by path or name, written, deleted."""

from __future__ import annotations

from botocore.exceptions import ClientError

from cloudops.aws.errors import aws_call, code
from cloudops.aws.session import AccountSession


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


def put_parameter(account: AccountSession, name: str, value: str) -> None:
    """Write ``value`` as String parameter ``name``, a new version when it exists."""
    with aws_call(f"writing SSM parameter {name} in account {account.account_id}"):
        account.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def create_secure_string(account: AccountSession, name: str, value: str) -> bool:
    """Create SecureString ``name`` unless it exists; True when created. An existing one is never overwritten."""
    with aws_call(f"creating SSM parameter {name} in account {account.account_id}"):
        try:
            account.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=False)
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
