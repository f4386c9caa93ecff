"""The Prefect server with its UI (`prefect server start`) that the browser tests and the server's own tests use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

# A fresh server's start took over 120 s here while the suite and others ran beside it (the sandbox allows 300 s too).
SERVER_START_TIMEOUT = 300.0


@dataclass(frozen=True)
class UiServer:
    api_url: str
    login: SecretStr  # its basic-auth string, as the sandbox's server has one

    def client_settings(self) -> dict[Any, Any]:
        """Prefect's settings for a client of this server (for ``temporary_settings``)."""
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL

        return {PREFECT_API_URL: self.api_url, PREFECT_API_AUTH_STRING: self.login.get_secret_value()}

    def basic_auth(self) -> tuple[str, str]:
        """The login as httpx's ``auth=``: user and password (Prefect's server compares ``user:password``)."""
        user, _, password = self.login.get_secret_value().partition(":")
        return user, password

    def client_env(self) -> dict[str, str]:
        """The environment variables of a client of this server, in a process of its own."""
        return {"PREFECT_API_URL": self.api_url, "PREFECT_API_AUTH_STRING": self.login.get_secret_value()}

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")
