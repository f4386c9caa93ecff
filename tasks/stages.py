"""Opening the pipeline in a flow: the configuration read once, each stage's account block loaded and verified
(sts:GetCallerIdentity) in a task of its own, under the retry policy, the stages concurrently.

A run's tree opens each stage once. The release flow passes what it opened to the work it does itself
(:mod:`flows.work`); its subflows that are deployments of their own as well (build-release and the build's
flows, await-approval) take names, and opening a stage their tree has opened already, with the same settings,
gets the same target back: neither loaded nor checked again. The targets are remembered per root run, so
another tree (another test in one process, another run of a worker's process) opens its own.
"""

from __future__ import annotations

import threading

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.pipeline import Pipeline, StageTarget, resolve_stage
from blocks.run_root import root_run_id
from cloudops.settings import Settings, load_settings
from tasks.aws_rate import hold_aws_rate
from tasks.retry import AWS_RETRIES

# (root run id, stage) -> the settings it was opened with, and the target; cleared when full
_opened: dict[tuple[str, str], tuple[Settings, StageTarget]] = {}
_opened_lock = threading.Lock()
REMEMBERED = 64


@task(name="open-stage", task_run_name="open-stage-{name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def open_stage(settings: Settings, name: str) -> StageTarget:
    return resolve_stage(settings, name)


def open_pipeline(*stages: str, settings: Settings | None = None) -> Pipeline:
    """The pipeline with the build stage and ``stages`` opened. Every name is checked before any is opened,
    so an unknown stage fails before anything is loaded."""
    settings = settings or load_settings()
    application = settings.require_application()
    if settings.limits.aws_requests_per_second is not None:  # every AWS request of the run keeps to the rate
        hold_aws_rate(settings.limits.aws_requests_per_second)
    names = list(dict.fromkeys([settings.build_stage, *stages]))
    for name in names:
        settings.stage(name)
    root = root_run_id()
    targets = {name: target for name in names if (target := opened_before(root, settings, name)) is not None}
    futures = {name: open_stage.submit(settings, name) for name in names if name not in targets}
    for name, future in futures.items():
        targets[name] = future.result()
        remember(root, settings, targets[name])
    return Pipeline(settings, application, {name: targets[name] for name in names})


def opened_before(root: str | None, settings: Settings, name: str) -> StageTarget | None:
    """The target of stage ``name`` that the run tree ``root`` opened with these settings, if it did."""
    with _opened_lock:
        found = _opened.get((root, name)) if root else None
    return found[1] if found is not None and found[0] == settings else None


def remember(root: str | None, settings: Settings, target: StageTarget) -> None:
    if root is None:
        return
    with _opened_lock:
        if len(_opened) >= REMEMBERED:
            _opened.clear()
        _opened[(root, target.name)] = (settings, target)
