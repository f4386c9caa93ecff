"""The account's config store: where deploys publish endpoints, and where the application and
`cloudops status` find them. The seeds used consul; consul cannot run here, so it is SSM Parameter
Store behind this small interface.

Path layout: ``/cloudops/<stage>/<application>/<environment>/<key>``, e.g.
``/cloudops/qa/commerce/author/database_endpoint``.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from botocore.exceptions import ClientError

from cloudops.aws.session import AccountSession

ROOT = "/cloudops"


def path(stage: str, application: str, environment: str, key: str = "") -> str:
    base = f"{ROOT}/{stage}/{application}/{environment}"
    return f"{base}/{key}" if key else base


class ConfigStore(Protocol):
    def put(self, prefix: str, values: dict[str, str]) -> None: ...

    def get(self, prefix: str) -> dict[str, str]: ...


class SsmConfigStore:
    """SSM Parameter Store of one account."""

    def __init__(self, account: AccountSession) -> None:
        self.ssm = account.client("ssm")

    def put(self, prefix: str, values: dict[str, str]) -> None:
        """Write the values under ``prefix`` that differ from what is there: every write is a new version of
        the parameter (SSM keeps 100), and a redeploy that changes nothing should not look like a change."""
        current = self.get(prefix)
        for key, value in sorted(values.items()):
            if current.get(key) != value:
                self.ssm.put_parameter(Name=f"{prefix}/{key}", Value=value, Type="String", Overwrite=True)

    def get(self, prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        paginator = self.ssm.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=prefix, Recursive=True):
            for parameter in page["Parameters"]:
                found[parameter["Name"].removeprefix(prefix + "/")] = parameter["Value"]
        return found

    def clear(self, prefix: str, keep: frozenset[str] = frozenset()) -> list[str]:
        """Delete the parameters under ``prefix`` except those named in ``keep``; the keys deleted."""
        deleted = [key for key in self.get(prefix) if key not in keep]
        for key in deleted:
            self.ssm.delete_parameter(Name=f"{prefix}/{key}")
        return deleted

    def ensure_secret(self, name: str) -> bool:
        """Create a SecureString with a random value unless it exists; True when created. Never overwrites."""
        try:
            self.ssm.put_parameter(Name=name, Value=secrets.token_urlsafe(24), Type="SecureString", Overwrite=False)
        except ClientError as error:
            if error.response["Error"].get("Code") == "ParameterAlreadyExists":
                return False
            raise
        return True
