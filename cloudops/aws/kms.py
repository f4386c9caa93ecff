"""The KMS adapter: a key's ARN and its policy."""

from __future__ import annotations

import json
from typing import Any

from cloudops.aws.errors import aws_call
from cloudops.aws.session import AccountSession


def key_policy(account: AccountSession, key: str) -> dict[str, Any]:
    """The policy of ``key`` (an id, ARN or alias) in ``account``."""
    kms = account.client("kms")
    with aws_call(f"KMS policy of key {key}"):
        key_id = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]
        document: dict[str, Any] = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    return document


def key_arn(account: AccountSession, key: str) -> str:
    """The ARN of ``key`` (an id, ARN or alias) in ``account``."""
    with aws_call(f"KMS lookup of key {key}"):
        return str(account.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"])
