"""Which of an application's images plays each role the environments' templates have: its app, its message broker,
its database server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ImageRole = Literal["app", "broker", "database"]
RepositoryName = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$", max_length=256)]


class ImageRoles(BaseModel):
    """Which of the application's images plays each role the environments' templates have."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app: RepositoryName = Field(default="app", description="The application's own service (the AppImage parameter).")
    broker: RepositoryName = Field(default="broker", description="The message broker (the BrokerImage parameter).")
    database: RepositoryName = Field(
        default="mysql",
        description="The database server; its image gets the author data sets baked in (the MysqlImage parameter).",
    )

    def image(self, role: ImageRole) -> str:
        """The name of the image that plays ``role``."""
        return {"app": self.app, "broker": self.broker, "database": self.database}[role]
