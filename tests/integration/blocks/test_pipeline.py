"""Opening a run's stages: every name checked before any account is opened, each stage resolved once."""

from __future__ import annotations

import pytest

from blocks.pipeline import Pipeline
from cloudops.errors import CloudOpsError, UnknownStageError
from cloudops.settings import Settings
from tasks.stages import open_pipeline


def test_an_unknown_stage_fails_before_any_account_is_opened(settings: Settings) -> None:
    # No Prefect server and no block exist here: reaching either would fail with another error.
    with pytest.raises(UnknownStageError, match="unknown stage 'qa-typo'; use one of build, prod, qa, staging"):
        open_pipeline("qa", "qa-typo", settings=settings)


def test_a_stage_the_run_did_not_open_is_a_mistake_of_the_flow_and_an_unknown_one_says_so(settings: Settings) -> None:
    pipeline = Pipeline(settings, settings.require_application(), {})
    with pytest.raises(CloudOpsError, match="stage 'qa' was not opened by this run"):
        pipeline.stage("qa")
    with pytest.raises(UnknownStageError, match="unknown stage 'nowhere'"):
        pipeline.stage("nowhere")


def test_the_opened_stages_are_the_build_stage_and_the_ones_asked_for_each_once(
    settings: Settings, stage_blocks: dict[str, str]
) -> None:
    from prefect import flow

    @flow
    def opens() -> Pipeline:  # a run's stages are opened in tasks of its own, concurrently
        return open_pipeline("qa", "staging", "qa", settings=settings)

    pipeline = opens()
    assert list(pipeline.stages) == ["build", "qa", "staging"]
    assert pipeline.build.account.account_id == settings.stage("build").account_id
    assert pipeline.stage("staging").bucket == settings.stage("staging").bucket
