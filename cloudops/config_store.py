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
SECRET_KEYS = frozenset({"db-password"})  # an environment's SecureStrings: never shown, kept by a teardown


def path(stage: str, application: str, environment: str, key: str = "") -> str:
    base = f"{ROOT}/{stage}/{application}/{environment}"
    return f"{base}/{key}" if key else base


def is_secret(key: str) -> bool:
    """Whether ``key`` (a path relative to an application's, or an environment's) names a secret."""
    return key.rsplit("/", 1)[-1] in SECRET_KEYS


def endpoints(values: dict[str, str], not_endpoints: tuple[str, ...] = ()) -> dict[str, str]:
    """``values`` of an application's path (relative keys) without its secrets and without the environments named
    in ``not_endpoints`` (records kept beside the endpoints, as the lookup service's authorities)."""
    return {
        key: value
        for key, value in sorted(values.items())
        if not is_secret(key) and key.split("/", 1)[0] not in not_endpoints
    }


NOT_ENDPOINTS = frozenset({"stack", "cluster", "database_port"})  # published beside the endpoints, not ones


def environment_endpoints(values: dict[str, str]) -> dict[str, dict[str, str]]:
    """Published values by full parameter name, as each environment's endpoints by the environment's path: named
    without their ``_endpoint`` suffix, a database's with its port, what is not an endpoint left out."""
    environments: dict[str, dict[str, str]] = {}
    for name, value in values.items():
        path, _, key = name.rpartition("/")
        environments.setdefault(path, {})[key] = value
    found: dict[str, dict[str, str]] = {}
    for path, keys in environments.items():
        found[path] = {}
        for key, value in keys.items():
            if key in NOT_ENDPOINTS:
                continue
            if key == "database_endpoint" and "database_port" in keys:
                value = f"{value}:{keys['database_port']}"
            found[path][key.removesuffix("_endpoint")] = value
    return found


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
