"""Initialising a stage's AWS account the way CloudOps does: its bucket, its ECR repositories, its config files.

Every step converges: run it twice and the second run creates nothing. Config files that exist are
never overwritten, since the account's operators edit them in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from string import Template

from cloudops import environment_kinds
from cloudops.aws import ecr, s3
from cloudops.aws.session import AccountSession
from cloudops.settings import Stage

CONFIG_FILES = environment_kinds.CONFIG_FILES  # every kind's config files, each once
CONFIG_PREFIX = "config/"


@dataclass
class AccountInit:
    """What initialising one account created, and what it found already there."""

    stage: str
    account_id: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note(self, what: str, created: bool) -> None:
        (self.created if created else self.existing).append(what)


def config_file_text(name: str, stage_name: str, stage: Stage) -> str:
    """The initial text of config file ``name`` for a stage, from the package's templates."""
    template = resources.files("cloudops.templates.config").joinpath(name).read_text(encoding="utf-8")
    return Template(template).substitute(stage=stage_name, account_id=stage.account_id, bucket=stage.bucket)


def initialise_account(
    account: AccountSession, stage_name: str, stage: Stage, repositories: tuple[str, ...], holds_records: bool = False
) -> AccountInit:
    """Create what the account lacks of its bucket, ECR repositories and config files. The bucket that
    ``holds_records`` (the build stage's: release records and the audit trail) has versioning and S3 Object Lock,
    turned on for a bucket that existed without them when S3 allows it."""
    report = AccountInit(stage_name, stage.account_id)
    report.note(f"s3://{stage.bucket}", s3.ensure_bucket(account, stage.bucket, object_lock=holds_records))
    if holds_records and not s3.object_lock_enabled(account, stage.bucket):
        why = s3.enable_object_lock(account, stage.bucket)
        if why is None:
            report.note(f"s3://{stage.bucket} Object Lock", True)
        else:
            report.warnings.append(
                f"s3://{stage.bucket} holds the records but has no Object Lock ({why}): they can be overwritten or "
                "deleted; move them to a new bucket created with Object Lock"
            )
    for repository in repositories:
        report.note(f"ecr:{repository}", ecr.ensure_repository(account, repository))
    for name in CONFIG_FILES:
        key = CONFIG_PREFIX + name
        created = not s3.object_exists(account, stage.bucket, key)
        if created:
            body = config_file_text(name, stage_name, stage).encode()
            s3.put_object(account, stage.bucket, key, body, "text/plain; charset=utf-8")
        report.note(f"s3://{stage.bucket}/{key}", created)
    return report
