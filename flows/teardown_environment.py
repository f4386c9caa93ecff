"""teardown-environment: delete an environment's stacks in one stage, after an explicit confirmation."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from cloudops import audit, config_store, deploy
from cloudops.environment_kinds import KindName
from cloudops.settings import load_settings
from flows.runtime.actor import run_actor
from flows.runtime.notify import FAILURE_HOOKS
from flows.runtime.stage_slot import holds_stage
from tasks.deploy import clear_endpoints, delete_stack
from tasks.records import record
from tasks.stages import open_pipeline


@flow(name="teardown-environment", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
@holds_stage("stage")
def teardown_environment(stage: str, kind: KindName = "author-live", confirm: str = "") -> list[str]:
    """Delete the stacks of ``kind`` in ``stage``. The lookup service's prerequisites stack (environment file
    bucket, EFS with the data) stays for the next deploy.

    Args:
        stage: The stage to tear the environment down in.
        kind: The kind of environment to delete.
        confirm: Type "<stage>/<kind>" (for example qa/author-live) to confirm; prod needs teardown_allowed.
    """
    logger = get_run_logger()
    settings = load_settings()
    app, stage_config = settings.require_application(), settings.stage(stage)
    created = deploy.teardown_stacks(kind, app.name, stage)
    stacks = [stack for stack, _ in created]
    deploy.check_teardown(stage, kind, stage_config.teardown_allowed, confirm, stacks)
    pipeline = open_pipeline(stage, settings=settings)
    account = pipeline.stage(stage).account
    deleted = [stack for stack in stacks if delete_stack(account, stack)]
    clear_endpoints(account, [config_store.path(stage, app.name, env) for env in sorted({e for _, e in created})])
    logger.info("deleted %s", ", ".join(deleted) or "nothing (no stack existed)")
    record(pipeline.build, audit.teardown_entry(app.name, stage, kind, deleted, run_actor(), flow_run.get_id()))
    kept = sorted({stack for stack, _ in deploy.stacks(kind, app.name, stage)} - set(stacks))
    if kept:
        logger.info("kept %s with the environment's data; delete it by hand to remove the data too", ", ".join(kept))
    return deleted
