"""One change at a time per stage: a second deploy, teardown or promotion into a busy stage queues or is refused."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, LogFilter, LogFilterFlowRunId
from prefect.states import Running
from prefect.variables import Variable

from cloudops.stage_slots import StageBusyError, holder_variable, limit_name
from flows.runtime.stage_slot import stage_slot
from sandbox.sandbox import Sandbox
from tests.app_source import CONFIG_FILE
from tests.background import Background
from tests.polling import eventually
from tests.stage_holder import Holder


@pytest.fixture
def stage_env(sandbox: Sandbox, stage_blocks: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(CONFIG_FILE))
    yield


def teardown(stage: str) -> list[str]:
    """Tear down single-instance in ``stage``: a real change of the stage that finds nothing to delete."""
    from flows.teardown_environment import teardown_environment

    return teardown_environment(stage=stage, kind="single-instance", confirm=f"{stage}/single-instance")


def log_of_a_run(flow_name: str, text: str, run_id: UUID | None = None, bound: float = 60) -> UUID:
    """The id of a run of ``flow_name`` (``run_id`` if given) that logged ``text`` (polled: logs arrive in batches)."""
    with get_client(sync_client=True) as client:

        def run_that_logged() -> UUID | None:
            for run in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name]))):
                if run_id is not None and run.id != run_id:
                    continue
                logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
                if any(text in log.message for log in logs):
                    return run.id
            return None

        return eventually(f"a {flow_name} run that logged {text!r}", run_that_logged, bound=bound)


def a_dead_run_left_running(stage: str) -> str:
    """A run of ``stage`` whose process was killed: Running for ever, holding nothing. Returns its name."""

    @flow(name="killed-stage-change")
    def killed(stage: str) -> None: ...

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(killed, parameters={"stage": stage}, state=Running())
    return run.name


@pytest.mark.reliability(
    "input",
    "a deploy into a stage another run is changing (when_busy = refuse)",
    "refused at once naming the run in progress",
)
def test_a_busy_stage_refuses_a_second_run_naming_the_run_in_progress(
    stage_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDOPS_STAGES__QA__WHEN_BUSY", "refuse")
    dead = a_dead_run_left_running("qa")
    with Holder("qa") as holder:
        with pytest.raises(StageBusyError) as refused:
            teardown("qa")
        assert refused.value.holders == (f"flow run {holder.run_name!r} ({holder.run_id})",)  # only the holder
        assert dead not in str(refused.value)
        assert f"stage 'qa' is busy: flow run '{holder.run_name}'" in str(refused.value)
        assert limit_name("qa") in str(refused.value)
        # another stage is not held up by qa's run
        assert teardown("staging") == []
    assert teardown("qa") == []  # the slot is free again
    assert Variable.get(holder_variable("qa")) is None  # and no run is named as its holder


class ErrorsLogged(logging.Handler):
    """ERROR records of Prefect's loggers while in use (pytest's caplog misses those that do not propagate)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")

    LOGGERS = ("prefect", "prefect._internal")  # the second does not propagate to the first

    def __enter__(self) -> ErrorsLogged:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


def test_a_busy_stage_queues_a_second_run_until_the_first_ends(stage_env: None) -> None:
    with ErrorsLogged() as errors, Holder("qa"):
        queued = Background(teardown, stage="qa")
        waiting = log_of_a_run("teardown-environment", "stage qa is busy")
        # it cannot finish while the holder has the slot
        assert queued.thread.is_alive()
    assert queued.join() == []
    assert errors.messages == []  # waiting for a busy stage is not an error
    # the queued run went on to hold the slot itself (polled: its last logs may still be on their way)
    assert log_of_a_run("teardown-environment", "holding stage qa", run_id=waiting) == waiting


def test_a_flow_holding_the_stage_runs_its_subflow_for_the_same_stage(
    stage_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """promote holds the stage and deploys it as a subflow: the subflow must not wait for (or refuse) its parent."""
    monkeypatch.setenv("CLOUDOPS_STAGES__QA__WHEN_BUSY", "refuse")

    @flow(name="outer-stage-change")
    def outer() -> list[str]:
        with stage_slot("qa", "refuse"):
            return teardown("qa")

    assert outer() == []
