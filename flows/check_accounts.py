"""check-accounts: load every stage's credential block, verify it reaches its account, and show what is there."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from blocks.stage_accounts import load_stage_account
from cloudops.settings import load_settings
from tasks.accounts import describe_account


@flow(name="check-accounts", log_prints=False)
def check_accounts() -> list[dict[str, str]]:
    """Every stage account, verified with STS through its own block; a table artifact of them."""
    settings = load_settings()
    logger = get_run_logger()
    futures = []
    for stage in settings.promotion_order():
        account = load_stage_account(settings, stage)
        logger.info(
            "stage %s: block %r verified for account %s",
            stage,
            settings.stage(stage).credential_block,
            account.account_id,
        )
        futures.append(describe_account.submit(stage, settings.stage(stage), account))
    rows = [future.result() for future in futures]
    create_table_artifact(key="stage-accounts", table=rows, description="The pipeline's stage accounts")
    return rows


if __name__ == "__main__":
    check_accounts()
