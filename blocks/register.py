"""Registering the block type and saving one credential block per stage account."""

from __future__ import annotations

from collections.abc import Callable

from prefect.blocks.core import Block
from pydantic import SecretStr

from blocks.aws_account import AwsAccount
from blocks.mysql_server import MySqlServer
from cloudops.aws.session import AccountCredentials
from cloudops.registry import RegistryLogin
from cloudops.settings import Settings


def register_block_types() -> None:
    AwsAccount.register_type_and_schema()
    MySqlServer.register_type_and_schema()


def block_for(credentials: AccountCredentials, registry: RegistryLogin | None = None) -> AwsAccount:
    return AwsAccount(
        **credentials.model_dump(),
        registry_url=registry.url if registry else None,
        registry_username=registry.username if registry else None,
        registry_password=registry.password if registry else None,
    )


def save_stage_blocks(
    settings: Settings,
    credentials_for: Callable[[str], AccountCredentials],
    registry_for: Callable[[str], RegistryLogin | None] = lambda stage: None,
    *,
    overwrite: bool = True,
) -> dict[str, str]:
    """Save a block for every stage; the block names by stage."""
    register_block_types()
    saved = {}
    for stage in settings.promotion_order():
        name = settings.stage(stage).credential_block
        block = block_for(credentials_for(stage), registry_for(stage))
        if overwrite:
            save_unless_same(block, name)
        else:
            block.save(name, overwrite=False)
        saved[stage] = name
    return saved


def save_unless_same(block: Block, name: str) -> bool:
    """Save ``block`` as ``name`` unless a block of its type by that name holds the same values (secrets compared
    by value); True when saved. Saving again what is there costs 0.3 s a block and makes a new version of nothing."""
    try:
        current = type(block).load(name)
    except ValueError:  # no such block yet
        current = None
    fields = type(block).model_fields
    if current is not None and all(getattr(current, key) == getattr(block, key) for key in fields):
        return False
    block.save(name, overwrite=True)
    return True


def credentials_from_config(settings: Settings, stage: str, external_id: SecretStr | None = None) -> AccountCredentials:
    """A stage's credentials as cloudops.toml describes them (a profile and/or a role; no static keys), with the
    external id its role asks for (the one `cloudops accounts bootstrap --external-id` set), if any.

    Static keys belong in the Prefect UI's block form, where they are stored as secrets.
    """
    config = settings.stage(stage)
    return AccountCredentials(
        account_id=config.account_id,
        region=config.region,
        profile_name=config.profile,
        role_arn=config.role_arn,
        role_session_name=f"cloudops-{stage}",
        external_id=external_id if config.role_arn else None,
    )
