"""A flow that only waits: a run in flight for `cloudops sandbox down` to interrupt (test_sandbox_down.py)."""

from __future__ import annotations

import time

from prefect import flow


@flow(name="waits")
def waits(seconds: float = 600) -> None:
    print("waiting", flush=True)
    time.sleep(seconds)
