"""teardown-environment: delete an environment's stacks in one stage, after an explicit confirmation."""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger

from blocks.stage_accounts import load_stage_account
from cloudops import config_store, deploy
from cloudops.errors import CloudOpsError
from cloudops.settings import load_settings
from flows.package import application_of
from tasks.deploy import delete_stack

Kind = Literal["author-live", "single-instance", "lookup-service"]
KIND_ENVIRONMENTS = {
    "author-live": ["author", "live"],
    "single-instance": ["single-instance"],
    "lookup-service": ["lookup"],
}


def stacks_of(kind: str, application: str, stage: str) -> list[str]:
    """The stacks of ``kind`` in the order they are deleted (the reverse of their creation)."""
    deploy.check_kind(kind)
    if kind == "author-live":
        return [f"{application}-{stage}-author", f"{application}-{stage}-live"]
    if kind == "single-instance":
        return [f"{application}-{stage}-single-instance"]
    return [f"lookup-{stage}", f"lookup-{stage}-prerequisites"]


@flow(name="teardown-environment", log_prints=False)
def teardown_environment(stage: str, kind: Kind = "author-live", confirm: str = "") -> list[str]:
    """Delete the stacks of ``kind`` in ``stage``; ``confirm`` must be "<stage>/<kind>"."""
    logger = get_run_logger()
    settings = load_settings()
    stage_config = settings.stage(stage)
    app = application_of(settings)
    stacks = stacks_of(kind, app.name, stage)
    if not stage_config.teardown_allowed:
        raise CloudOpsError(
            f"teardown of stage {stage!r} is not allowed by its configuration (teardown_allowed = false in "
            "cloudops.toml); nothing was deleted"
        )
    if confirm != f"{stage}/{kind}":
        raise CloudOpsError(f"to delete {', '.join(stacks)}, pass confirm={stage}/{kind!s}; nothing was deleted")
    account = load_stage_account(settings, stage)
    deleted = [stack for stack in stacks if delete_stack(account, stack)]
    store = config_store.SsmConfigStore(account.session())
    ssm = account.session().client("ssm")
    for environment in KIND_ENVIRONMENTS[kind]:
        for key in store.get(config_store.path(stage, app.name, environment)):
            if key != "db-password":
                ssm.delete_parameter(Name=f"{config_store.path(stage, app.name, environment)}/{key}")
    logger.info("deleted %s", ", ".join(deleted) or "nothing (no stack existed)")
    return deleted
