"""The per-account credential blocks, saved in a real Prefect server, used against moto server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler

from blocks.aws_account import AwsAccount
from blocks.loading import load_block
from blocks.register import block_for
from blocks.stage_accounts import load_stage_account
from cloudops.aws import ecr, s3
from cloudops.errors import AccountMismatchError, AwsError, MissingBlockError, UnknownStageError
from cloudops.settings import Settings
from sandbox.sandbox import Sandbox
from sandbox.state import SANDBOX_SECRET_ACCESS_KEY
from tests.app_source import CONFIG_FILE
from tests.polling import eventually


def test_what_the_qa_account_holds_the_prod_block_cannot_see(sandbox: Sandbox, stage_blocks: dict[str, str]) -> None:
    qa = load_stage_account(sandbox.settings, "qa").session()
    prod = load_stage_account(sandbox.settings, "prod").session()
    # made by QA's administrator: QA's block (its deployer role) may not create repositories or buckets
    admin = sandbox.account("qa")
    repository = f"only-in-qa-{uuid.uuid4().hex[:8]}"
    ecr.ensure_repository(admin, repository)
    bucket = f"qa-private-{uuid.uuid4().hex[:8]}"
    s3.ensure_bucket(admin, bucket)
    s3.put_object(admin, bucket, "secret-report.txt", b"qa only", "text/plain")

    assert repository in ecr.list_repositories(qa)
    assert repository not in ecr.list_repositories(prod)
    assert bucket in s3.list_buckets(admin)
    assert bucket not in s3.list_buckets(sandbox.account("prod"))
    # and prod cannot GET it by the bucket's name either (the sandbox starts moto with cross-account S3 off)
    with pytest.raises(AwsError, match="AccessDenied"):
        s3.get_object(prod, bucket, "secret-report.txt")


def test_a_block_whose_credentials_reach_another_account_fails_to_load(
    sandbox: Sandbox, stage_blocks: dict[str, str]
) -> None:
    # Given a block that claims the QA account while its role is in production
    wrong = sandbox.credentials("qa").model_copy(update={"role_arn": sandbox.state.role_arn("444444444444")})
    name = f"aws-qa-wrong-{uuid.uuid4().hex[:6]}"
    block_for(wrong).save(name)
    settings = sandbox.settings.model_copy(
        update={
            "stages": {
                **sandbox.settings.stages,
                "qa": sandbox.settings.stage("qa").model_copy(update={"credential_block": name}),
            }
        }
    )
    # When a flow loads it, then it fails naming both accounts
    with pytest.raises(
        AccountMismatchError,
        match="claims AWS account 222222222222 but its credentials belong to account 444444444444",
    ):
        load_stage_account(settings, "qa")


def test_a_block_of_another_stages_account_is_refused(sandbox: Sandbox, stage_blocks: dict[str, str]) -> None:
    settings = _with_block(sandbox.settings, "qa", stage_blocks["prod"])
    with pytest.raises(AccountMismatchError, match="block 'aws-prod' claims AWS account 222222222222 but"):
        load_stage_account(settings, "qa")


def test_a_missing_block_and_an_unknown_stage(sandbox: Sandbox, stage_blocks: dict[str, str]) -> None:
    settings = _with_block(sandbox.settings, "staging", "aws-never-saved")
    with pytest.raises(
        MissingBlockError,
        match="stage 'staging' has no account block 'aws-never-saved'; create it with `cloudops blocks register`",
    ):
        load_stage_account(settings, "staging")
    with pytest.raises(UnknownStageError, match="unknown stage 'production'"):
        load_stage_account(sandbox.settings, "production")


def test_secrets_never_reach_repr_logs_or_artifacts(sandbox: Sandbox, stage_blocks: dict[str, str]) -> None:
    registry_password = sandbox.state.registries["build"].password.get_secret_value()
    secrets = [SANDBOX_SECRET_ACCESS_KEY, registry_password]

    @flow
    def careless_flow() -> str:
        account = load_block(AwsAccount, stage_blocks["build"])
        logger = get_run_logger()
        logger.info("block: %r", account)
        logger.info("block as dict: %s", account.model_dump())
        logger.info("registry login: %s", account.registry_login())
        create_markdown_artifact(markdown=f"```\n{account!r}\n{account.registry_login()!r}\n```", key="block-dump")
        from prefect.runtime import flow_run

        return str(flow_run.get_id())

    run_id = careless_flow()
    APILogHandler().flush()  # logs travel to the server in batches; send them before reading them back
    block = load_block(AwsAccount, stage_blocks["build"])
    assert block.registry_login().password.get_secret_value() == registry_password  # the secret is there
    assert all(secret not in repr(block) and secret not in str(block) for secret in secrets)

    # Logs travel to the server in batches (the flush above gives up quietly after 5 s): polled until all three
    by_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(run_id)]))
    artifacts_of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(run_id)]))
    with get_client(sync_client=True) as client:

        def all_three_lines() -> list[str] | None:
            logs = [log.message for log in client.read_logs(log_filter=by_run)]
            starts = ("block:", "block as dict:", "registry login:")
            return logs if all(any(m.startswith(start) for m in logs) for start in starts) else None

        logs = eventually("the run's three log lines", all_three_lines, bound=60)
        artifacts = client.read_artifacts(artifact_filter=artifacts_of_run)
    assert artifacts
    text = "\n".join([*logs, *(str(a.data) for a in artifacts)])
    assert "**********" in text
    assert all(secret not in text for secret in secrets)


def _with_block(settings: Settings, stage: str, block: str) -> Settings:
    stages = {**settings.stages, stage: settings.stage(stage).model_copy(update={"credential_block": block})}
    return settings.model_copy(update={"stages": stages})


def test_a_flow_runs_calls_under_a_role_session_named_after_it(sandbox: Sandbox, stage_blocks: dict[str, str]) -> None:
    from prefect.runtime import flow_run

    @flow
    def who_am_i() -> tuple[str, str]:
        account = load_block(AwsAccount, stage_blocks["qa"])
        arn = account.session().client("sts").get_caller_identity()["Arn"]
        return arn, str(flow_run.get_id())

    arn, run_id = who_am_i()
    assert arn == f"arn:aws:sts::222222222222:assumed-role/cloudops-deployer/cloudops-sandbox-{run_id}"


def test_subflows_and_their_tasks_use_the_top_runs_role_session(sandbox: Sandbox, stage_blocks: dict[str, str]) -> None:
    """Two levels of subflows and a task in a thread: one account session, named after the run at the top."""
    from prefect import task
    from prefect.runtime import flow_run

    def caller_arn() -> str:
        account = load_block(AwsAccount, stage_blocks["qa"])
        return str(account.session().client("sts").get_caller_identity()["Arn"])

    @task
    def in_a_task() -> str:
        return caller_arn()

    @flow
    def grandchild() -> list[str]:
        return [caller_arn(), in_a_task.submit().result()]

    @flow
    def child() -> list[str]:
        return grandchild()

    @flow
    def top() -> tuple[list[str], str]:
        return child(), str(flow_run.get_id())

    arns, run_id = top()
    assert arns == [f"arn:aws:sts::222222222222:assumed-role/cloudops-deployer/cloudops-sandbox-{run_id}"] * 2


def test_a_run_loads_a_block_once_and_the_next_run_loads_it_again(
    sandbox: Sandbox, stage_blocks: dict[str, str]
) -> None:
    @flow
    def loads_twice() -> tuple[AwsAccount, AwsAccount]:
        return load_block(AwsAccount, stage_blocks["qa"]), load_block(AwsAccount, stage_blocks["qa"])

    first, again = loads_twice()
    assert first is again
    later, _ = loads_twice()
    assert later is not first  # an edited block counts from the next run
    assert load_block(AwsAccount, stage_blocks["qa"]) is not load_block(AwsAccount, stage_blocks["qa"])  # no run


def test_blocks_register_saves_a_block_per_stage_from_the_configuration(prefect_harness: None, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    config = tmp_path / "cloudops.toml"
    config.write_text(
        CONFIG_FILE.read_text()
        .replace('credential_block = "aws-', 'credential_block = "reg-')
        .replace(
            'bucket = "cloudops-prod-444444444444"',
            'bucket = "cloudops-prod-444444444444"\nprofile = "prod-admin"\n'
            'role_arn = "arn:aws:iam::444444444444:role/deployer"',
        )
    )
    command = [str(Path(sys.executable).parent / "cloudops"), "blocks", "register", "--config", str(config)]
    # the external id the roles were bootstrapped with, as `cloudops accounts bootstrap` reads it
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "CLOUDOPS_EXTERNAL_ID": "ext-id-42"}

    first = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert first.returncode == 0, first.stderr
    assert "prod: block 'reg-prod' saved" in first.stdout
    prod = load_block(AwsAccount, "reg-prod")
    assert (prod.account_id, prod.region, prod.profile_name, prod.role_arn) == (
        "444444444444",
        "eu-west-1",
        "prod-admin",
        "arn:aws:iam::444444444444:role/deployer",
    )
    assert prod.external_id is not None and prod.external_id.get_secret_value() == "ext-id-42"
    assert "ext-id-42" not in first.stdout + first.stderr
    qa = load_block(AwsAccount, "reg-qa")
    assert qa.account_id == "222222222222" and qa.external_id is None  # no role to give it to

    again = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert again.returncode == 1 and "pass --overwrite to replace the existing blocks" in again.stderr
    forced = subprocess.run([*command, "--overwrite"], capture_output=True, text=True, env=env, check=False)
    assert forced.returncode == 0, forced.stderr
