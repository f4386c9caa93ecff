"""Opening the pipeline in a flow: the configuration read once, each stage's account block loaded and verified
(sts:GetCallerIdentity) in a task of its own, under the retry policy, the stages concurrently."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.pipeline import Pipeline, StageTarget, resolve_stage
from cloudops.settings import Settings, load_settings
from tasks.aws_rate import hold_aws_rate
from tasks.retry import AWS_RETRIES


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
    futures = {name: open_stage.submit(settings, name) for name in names}
    return Pipeline(settings, application, {name: future.result() for name, future in futures.items()})
