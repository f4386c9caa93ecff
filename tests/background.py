"""A flow called in a thread of the test process, while the test answers it (from another process, or the UI)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Background:
    """``fn(**parameters)`` in a thread; its result, or its error, is handed to the test by ``join``."""

    def __init__(self, fn: Callable[..., Any], timeout: float = 120, **parameters: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.timeout = timeout

        def run() -> None:
            try:
                self.result = fn(**parameters)
            except BaseException as error:  # handed to the test
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> Any:
        self.thread.join(timeout=self.timeout)
        assert not self.thread.is_alive(), "the flow did not finish"
        if self.error:
            raise self.error
        return self.result
