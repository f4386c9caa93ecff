"""A stage account's config files, written the way CloudOps does once its bootstrap stack made the bucket
(cloudops/bootstrap.py), and the report of what bootstrapping an account created.

Run it twice and the second run creates nothing. Config files that exist are never overwritten, since the
account's operators edit them in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from string import Template

from cloudops import environment_kinds
from cloudops.aws import s3
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

    def note(self, what: str, created: bool) -> None:
        (self.created if created else self.existing).append(what)


def config_file_text(name: str, stage_name: str, stage: Stage) -> str:
    """The initial text of config file ``name`` for a stage, from the package's templates."""
    template = resources.files("cloudops.templates.config").joinpath(name).read_text(encoding="utf-8")
    return Template(template).substitute(stage=stage_name, account_id=stage.account_id, bucket=stage.bucket)


def write_config_files(account: AccountSession, stage_name: str, stage: Stage) -> list[tuple[str, bool]]:
    """Each config file the account lacks, written from the package's templates: (key, created) each. A file
    that exists is kept as the account's operators edited it."""
    written = []
    for name in CONFIG_FILES:
        key = CONFIG_PREFIX + name
        created = not s3.object_exists(account, stage.bucket, key)
        if created:
            body = config_file_text(name, stage_name, stage).encode()
            s3.put_object(account, stage.bucket, key, body, "text/plain; charset=utf-8")
        written.append((key, created))
    return written
