"""The credential block of one AWS account: one block per stage account.

It holds how to reach the account (static keys or a profile, an optional role to assume, an
endpoint override for the sandbox) and its registry login override for the sandbox. Secrets are
``SecretStr``: the Prefect UI shows them masked, and they never reach a log or a ``repr``.
"""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field, PrivateAttr, SecretStr

from blocks.run_root import root_run_id
from cloudops.aws import ecr
from cloudops.aws.session import AccountCredentials, AccountSession, open_account
from cloudops.registry import RegistryLogin


class AwsAccount(Block):
    """How to reach one stage's AWS account, checked at use to really be that account."""

    _block_type_name: ClassVar[str] = "CloudOps AWS Account"
    _block_type_slug: ClassVar[str] = "cloudops-aws-account"
    _description: ClassVar[str | None] = (
        "One AWS account of a cloudops-flows stage. Its session assumes the role when one is set, "
        "refreshes its credentials by itself, and is checked with sts:GetCallerIdentity to belong to "
        "the account id below."
    )

    account_id: str = Field(pattern=r"^\d{12}$", title="Account ID", description="The 12-digit AWS account id.")
    region: str = Field(min_length=1, description="The account's AWS region, e.g. eu-west-1.")
    aws_access_key_id: str | None = Field(default=None, title="AWS Access Key ID")
    aws_secret_access_key: SecretStr | None = Field(default=None, title="AWS Secret Access Key")
    aws_session_token: SecretStr | None = Field(default=None, title="AWS Session Token")
    profile_name: str | None = Field(default=None, description="An AWS CLI profile, instead of static keys.")
    role_arn: str | None = Field(default=None, title="Role ARN", description="A role in this account to assume.")
    external_id: SecretStr | None = Field(default=None, title="External ID", description="The role's external id.")
    role_session_name: str = Field(
        default="cloudops", description="The role session name's prefix; the flow run id is added to it."
    )
    endpoint_url: str | None = Field(
        default=None,
        title="Endpoint URL",
        description="An AWS endpoint override (the sandbox's moto server).",
    )
    registry_url: str | None = Field(
        default=None,
        title="Registry URL",
        description="A registry override (the sandbox's registry); else ECR.",
    )
    registry_username: str | None = Field(default=None, description="The registry override's user name.")
    registry_password: SecretStr | None = Field(default=None, description="The registry override's password.")

    _session: AccountSession | None = PrivateAttr(default=None)

    def credentials(self) -> AccountCredentials:
        return AccountCredentials(
            account_id=self.account_id,
            region=self.region,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            profile_name=self.profile_name,
            role_arn=self.role_arn,
            external_id=self.external_id,
            role_session_name=self.role_session_name,
            endpoint_url=self.endpoint_url,
        )

    def session(self) -> AccountSession:
        """A session in this account, verified once with sts:GetCallerIdentity, then reused.

        The role session is named after the run this process started (a release, not each of its
        subflows), and the subflows and tasks of that run share the session.
        """
        if self._session is None:
            name = self._block_document_name or f"account {self.account_id}"
            self._session = open_account(self.credentials(), where=f"block {name!r}", run_id=root_run_id())
        return self._session

    def registry_login(self) -> RegistryLogin:
        """The account's registry login: the override when set (sandbox), else from ECR."""
        if self.registry_url:
            return RegistryLogin(
                url=self.registry_url,
                username=self.registry_username or "AWS",
                password=self.registry_password or SecretStr(""),
            )
        return ecr.registry_login(self.session())
