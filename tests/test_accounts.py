"""Initialising the stage accounts: bucket, ECR repositories and config files, idempotently."""

from __future__ import annotations

from cloudops.accounts import CONFIG_FILES, initialise_account
from cloudops.aws import ecr, s3
from sandbox.sandbox import Sandbox


def test_every_account_holds_its_bucket_repositories_and_config_files(sandbox: Sandbox) -> None:
    for stage in sandbox.settings.promotion_order():
        account = sandbox.account(stage)
        bucket = sandbox.settings.stage(stage).bucket
        assert bucket in s3.list_buckets(account)
        assert set(sandbox.settings.repositories) <= set(ecr.list_repositories(account))
        assert sorted(s3.list_keys(account, bucket, "config/")) == sorted(f"config/{n}" for n in CONFIG_FILES)
        author = s3.get_object(account, bucket, "config/author.env").decode()
        assert f"EP_STAGE={stage}" in author and "EP_ENVIRONMENT=author" in author
        repositories = account.client("ecr").describe_repositories(repositoryNames=list(sandbox.settings.repositories))
        assert {r["imageTagMutability"] for r in repositories["repositories"]} == {"IMMUTABLE"}


def test_initialising_again_creates_nothing_and_keeps_edited_config(sandbox: Sandbox) -> None:
    account = sandbox.account("qa")
    stage = sandbox.settings.stage("qa")
    original = s3.get_object(account, stage.bucket, "config/live.env")
    edited = original + b"EP_EDITED=yes\n"
    s3.put_object(account, stage.bucket, "config/live.env", edited, "text/plain")
    try:
        again = initialise_account(account, "qa", stage, sandbox.settings.repositories)
        assert again.created == []
        assert len(again.existing) == 1 + len(sandbox.settings.repositories) + len(CONFIG_FILES)
        assert s3.get_object(account, stage.bucket, "config/live.env") == edited
    finally:  # the session's sandbox is shared: the deploy tests read this file
        s3.put_object(account, stage.bucket, "config/live.env", original, "text/plain")
