"""A flow run of the test process that holds a stage's slot (flows/runtime/stage_slot.py) until the test lets it go."""

from __future__ import annotations

import threading

from prefect import flow
from prefect.runtime import flow_run

from flows.runtime.stage_slot import stage_slot

HOLD_AT_MOST = 900.0  # seconds: longer than any test that holds a stage waits for anything


class Holder:
    """A flow run in a thread that holds a stage's slot until the test lets it go."""

    def __init__(self, stage: str) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.run_name = ""
        self.run_id = ""

        @flow(name="hold-stage")
        def hold_stage(stage: str) -> None:
            with stage_slot(stage, "queue"):
                self.run_name = str(flow_run.get_name())
                self.run_id = str(flow_run.get_id())
                self.entered.set()
                # until the test lets go (its `with` ends, failed or not); the bound only ends a thread left behind
                self.release.wait(timeout=HOLD_AT_MOST)

        self.thread = threading.Thread(target=hold_stage, args=(stage,), daemon=True)
        self.thread.start()
        assert self.entered.wait(timeout=60), "the holder never got the stage's slot"

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
