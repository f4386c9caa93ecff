"""The account's config store: where deploys publish endpoints, and where the application and
`cloudops status` find them. The seeds used consul; consul cannot run here, so it is SSM Parameter
Store behind this small interface.

Path layout: ``/cloudops/<stage>/<application>/<environment>/<key>``, e.g.
``/cloudops/qa/commerce/author/database_endpoint``.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from cloudops.aws import ssm
from cloudops.aws.session import AccountSession

ROOT = "/cloudops"
ACCOUNT_KEY_ALIAS = "alias/cloudops"  # the account's KMS key (cloudops/templates/bootstrap/account.yaml)


def path(stage: str, application: str, environment: str, key: str = "") -> str:
    base = f"{ROOT}/{stage}/{application}/{environment}"
    return f"{base}/{key}" if key else base


class ConfigStore(Protocol):
    def put(self, prefix: str, values: dict[str, str]) -> None: ...

    def get(self, prefix: str) -> dict[str, str]: ...


class SsmConfigStore:
    """SSM Parameter Store of one account (through the adapter ``cloudops.aws.ssm``)."""

    def __init__(self, account: AccountSession) -> None:
        self.account = account

    def put(self, prefix: str, values: dict[str, str]) -> None:
        """Write the values under ``prefix`` that differ from what is there: every write is a new version of
        the parameter (SSM keeps 100), and a redeploy that changes nothing should not look like a change."""
        current = self.get(prefix)
        for key, value in sorted(values.items()):
            if current.get(key) != value:
                ssm.put_parameter(self.account, f"{prefix}/{key}", value)

    def get(self, prefix: str) -> dict[str, str]:
        """The values under ``prefix``, by their names relative to it."""
        found = ssm.parameters_by_path(self.account, prefix)
        return {name.removeprefix(prefix + "/"): value for name, value in found.items()}

    def clear(self, prefix: str, keep: frozenset[str] = frozenset()) -> list[str]:
        """Delete the parameters under ``prefix`` except those named in ``keep``; the keys deleted."""
        deleted = [key for key in self.get(prefix) if key not in keep]
        for key in deleted:
            ssm.delete_parameter(self.account, f"{prefix}/{key}")
        return deleted

    def ensure_secret(self, name: str) -> bool:
        """Create a SecureString with a random value unless it exists; True when created. Never overwrites.

        It is encrypted with the account's own key (the bootstrap's ``alias/cloudops``), not SSM's default key,
        which every principal of the account with ``ssm:GetParameter`` may decrypt through SSM: only a role granted
        ``kms:Decrypt`` on the account's key (the deployer, the environments' task execution roles) reads it."""
        return ssm.create_secure_string(self.account, name, secrets.token_urlsafe(24), ACCOUNT_KEY_ALIAS)
