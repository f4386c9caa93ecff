"""Checks a command makes before it starts a run: a mistake is one line on the terminal, and no flow run is created.

The flows check the same things again (a run started from the UI or the API meets them there); these catch a
typo before Prefect has a run to fail.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudops.environment_kinds import kind as environment_kind
from cloudops.environment_kinds import require_images
from cloudops.release import require_release
from cloudops.settings import Settings, load_settings


def target_stages(names: Iterable[str], settings: Settings | None = None) -> Settings:
    """The settings, once every name in ``names`` is a stage a release can go to (UnknownStageError if not)."""
    settings = settings or load_settings()
    for name in names:
        settings.target_stage(name)
    return settings


def kinds(*names: str | None) -> None:
    """Every name given is a kind of environment (an error listing the kinds if not)."""
    for name in names:
        if name is not None:
            environment_kind(name)


def application_images(settings: Settings, kind: str) -> None:
    """The application builds an image for each role ``kind`` runs (an error naming the missing one if not)."""
    app = settings.require_application()
    require_images(environment_kind(kind), app.images, app.dockerfiles, "application.dockerfiles")


def existing_release(settings: Settings, version: str) -> None:
    """``version`` (or ``latest``) has a release record in the build account's bucket (an error naming some if not)."""
    from blocks.stage_accounts import load_stage_account

    build = load_stage_account(settings, settings.build_stage)
    bucket = settings.stage(settings.build_stage).bucket
    require_release(build.session(), bucket, settings.require_application().name, version)
