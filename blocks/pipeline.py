"""The pipeline as one run sees it: the settings, the application, and each stage it acts on, resolved once.

A flow takes stage names (its form in the UI shows names) and resolves them here, once, into
:class:`StageTarget` objects (the stage's settings and its verified account block) that it passes down
to its tasks; nothing below the flow looks a stage's name up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from blocks.aws_account import AwsAccount
from blocks.stage_accounts import load_stage_account
from cloudops.bootstrap import check_bootstrap
from cloudops.errors import CloudOpsError
from cloudops.settings import Application, RecordLock, Settings, Stage


@dataclass(frozen=True)
class StageTarget:
    """One stage, resolved: its name, its settings and its account block (verified against AWS)."""

    name: str
    config: Stage
    account: AwsAccount
    # Every stage's retention of its records (the build stage's target writes the records of all stages).
    record_locks: dict[str, RecordLock] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return self.config.bucket

    @property
    def account_id(self) -> str:
        return self.config.account_id


def resolve_stage(settings: Settings, name: str) -> StageTarget:
    """Stage ``name``'s settings and verified account (see :func:`load_stage_account` for the errors), its
    bootstrap checked first (:func:`check_bootstrap`: an account not bootstrapped, or bootstrapped by an older
    cloudops, is refused naming the command to run)."""
    account = load_stage_account(settings, name)
    check_bootstrap(account.session(), name)
    return StageTarget(
        name=name,
        config=settings.stage(name),
        account=account,
        record_locks={stage: config.record_lock for stage, config in settings.stages.items()},
    )


@dataclass(frozen=True)
class Pipeline:
    """The settings, the application and the stages a run opened (the build stage always among them)."""

    settings: Settings
    application: Application
    stages: dict[str, StageTarget] = field(default_factory=dict)

    @property
    def build(self) -> StageTarget:
        return self.stage(self.settings.build_stage)

    def stage(self, name: str) -> StageTarget:
        """A stage this run opened; a stage it did not open is a mistake in the flow, not in the input."""
        try:
            return self.stages[name]
        except KeyError:
            self.settings.stage(name)  # an unknown stage says so, with the stages there are
            raise CloudOpsError(f"stage {name!r} was not opened by this run; open it with the pipeline") from None
