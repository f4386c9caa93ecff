"""Work called on a thread of the test process: a flow while the test answers it (from another process, or the
UI), or the session's parts starting while the tests that need none run."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any


class Background:
    """``fn(**parameters)`` on a thread of its own, in a copy of the caller's context (the Prefect settings a
    harness entered); its result, or its error, is handed over by ``join``."""

    def __init__(self, fn: Callable[..., Any], timeout: float = 120, **parameters: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.timeout = timeout

        def run() -> None:
            try:
                self.result = fn(**parameters)
            except BaseException as error:  # handed to the test
                self.error = error

        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(run,), name=getattr(fn, "__name__", None), daemon=True)
        self.thread.start()

    def wait(self) -> None:
        """Until it ended (or its timeout passed), whatever its outcome."""
        self.thread.join(timeout=self.timeout)

    def join(self) -> Any:
        self.wait()
        assert not self.thread.is_alive(), f"{self.thread.name} did not finish within {self.timeout:.0f} s"
        if self.error:
            raise self.error
        return self.result
