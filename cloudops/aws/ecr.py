"""The ECR adapter: repositories and registry credentials of one account."""

from __future__ import annotations

import base64

from botocore.exceptions import ClientError
from pydantic import SecretStr

from cloudops.aws.session import AccountSession
from cloudops.errors import AwsError
from cloudops.registry import RegistryLogin


def ensure_repository(account: AccountSession, name: str) -> bool:
    """Create repository ``name`` with immutable tags and scan-on-push; True when created."""
    ecr = account.client("ecr")
    try:
        ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
        )
    except ClientError as error:
        if error.response["Error"].get("Code") == "RepositoryAlreadyExistsException":
            ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE")
            return False
        raise AwsError(
            f"cannot create ECR repository {name} in account {account.account_id}: "
            f"{error.response['Error'].get('Message')}"
        ) from None
    return True


def list_repositories(account: AccountSession) -> list[str]:
    paginator = account.client("ecr").get_paginator("describe_repositories")
    return sorted(r["repositoryName"] for page in paginator.paginate() for r in page["repositories"])


def registry_login(account: AccountSession) -> RegistryLogin:
    """The account's registry and a 12-hour password from ``ecr:GetAuthorizationToken``."""
    try:
        data = account.client("ecr").get_authorization_token()["authorizationData"][0]
    except ClientError as error:
        raise AwsError(
            f"cannot get an ECR login for account {account.account_id}: {error.response['Error'].get('Message')}; "
            "the account's role needs ecr:GetAuthorizationToken"
        ) from None
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return RegistryLogin(url=data["proxyEndpoint"], username=user, password=SecretStr(password))
