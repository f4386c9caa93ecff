"""The Prefect server with its UI (`prefect server start`) that the browser tests and the server's own tests use."""

from __future__ import annotations

from dataclasses import dataclass

# A fresh server's start took over 120 s here while the suite and others ran beside it (the sandbox allows 300 s too).
SERVER_START_TIMEOUT = 300.0


@dataclass(frozen=True)
class UiServer:
    api_url: str

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")
