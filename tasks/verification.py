"""The task that verifies a deploy: its services steady, its targets healthy, its smoke checks passed."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.pipeline import StageTarget
from cloudops import verification
from cloudops.deploy import StackOutcome
from cloudops.environment_kinds import kind as kind_named
from cloudops.release import Release
from cloudops.smoke_checks import SmokeCheck


# No retries: the engine polls and retries transient AWS errors itself, and a failed check is a result (the
# Verification), not an exception.
@task(name="verify-deploy", task_run_name="verify-{target.name}-{kind_name}", cache_policy=NO_CACHE)
def verify_deploy(
    target: StageTarget,
    release: Release,
    kind_name: str,
    outcomes: list[StackOutcome],
    checks: list[SmokeCheck],
) -> verification.Verification:
    """The verification of ``release``'s deploy (``outcomes``) of a ``kind_name`` environment in ``target``."""
    return verification.verify(
        target.account.session(),
        release,
        target.config,
        target.name,
        kind_named(kind_name),
        outcomes,
        checks,
        log=get_run_logger().info,
    )
