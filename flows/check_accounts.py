"""check-accounts: load every stage's credential block, verify it reaches its account, and show what is there."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from cloudops.settings import load_settings
from tasks.accounts import describe_account
from tasks.stages import open_pipeline


@flow(name="check-accounts", log_prints=False)
def check_accounts() -> list[dict[str, str]]:
    """Every stage account, verified with STS through its own block; a table artifact of them."""
    settings = load_settings()
    logger = get_run_logger()
    pipeline = open_pipeline(*settings.promotion_order(), settings=settings)
    futures = []
    for target in pipeline.stages.values():
        logger.info(
            "stage %s: block %r verified for account %s",
            target.name,
            target.config.credential_block,
            target.account.account_id,
        )
        futures.append(describe_account.submit(target.name, target.config, target.account))
    rows = [future.result() for future in futures]
    create_table_artifact(key="stage-accounts", table=rows, description="The pipeline's stage accounts")
    return rows


if __name__ == "__main__":
    check_accounts()
