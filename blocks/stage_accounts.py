"""Loading the credential block of a stage: the one way flows reach an account."""

from __future__ import annotations

from blocks.aws_account import AwsAccount
from blocks.loading import load_block
from cloudops.errors import AccountMismatchError, MissingBlockError
from cloudops.settings import Settings


def load_stage_account(settings: Settings, stage: str) -> AwsAccount:
    """Load stage ``stage``'s block and check it against the configuration and against AWS.

    Raises :class:`UnknownStageError` for a stage the configuration lacks, :class:`MissingBlockError`
    when its block was never saved, and :class:`AccountMismatchError` when the block's credentials
    reach another account than the stage's, so the QA block can never act on production.
    """
    config = settings.stage(stage)
    try:
        account = load_block(AwsAccount, config.credential_block)
    except MissingBlockError:
        raise MissingBlockError(
            f"stage {stage!r} has no account block {config.credential_block!r}; create it with "
            "`cloudops blocks register` (or `cloudops sandbox up` for the sandbox), or in the Prefect UI "
            "under Blocks > CloudOps AWS Account"
        ) from None
    if account.account_id != config.account_id:
        raise AccountMismatchError(config.account_id, account.account_id, f"block {config.credential_block!r}")
    account.session()
    return account
