"""The ECR adapter: repositories and registry credentials of one account."""

from __future__ import annotations

import base64

from botocore.exceptions import ClientError
from pydantic import SecretStr

from cloudops.aws.errors import aws_call, code
from cloudops.aws.session import AccountSession
from cloudops.registry import RegistryLogin


def ensure_repository(account: AccountSession, name: str) -> bool:
    """Create repository ``name`` with immutable tags and scan-on-push; True when created."""
    ecr = account.client("ecr")
    with aws_call(f"creating ECR repository {name} in account {account.account_id}"):
        try:
            ecr.create_repository(
                repositoryName=name,
                imageTagMutability="IMMUTABLE",
                imageScanningConfiguration={"scanOnPush": True},
            )
        except ClientError as error:
            if code(error) != "RepositoryAlreadyExistsException":
                raise
            ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE")
            return False
    return True


def list_repositories(account: AccountSession) -> list[str]:
    with aws_call(f"listing the ECR repositories of account {account.account_id}"):
        paginator = account.client("ecr").get_paginator("describe_repositories")
        return sorted(r["repositoryName"] for page in paginator.paginate() for r in page["repositories"])


def registry_login(account: AccountSession) -> RegistryLogin:
    """The account's registry and a 12-hour password from ``ecr:GetAuthorizationToken``."""
    with aws_call(
        f"getting an ECR login for account {account.account_id}",
        fix="the account's role needs ecr:GetAuthorizationToken",
    ):
        data = account.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return RegistryLogin(url=data["proxyEndpoint"], username=user, password=SecretStr(password))
