"""A MySQL server block: a MySQL-compatible server and an account on it (populate-data writes there)."""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class MySqlServer(Block):
    """A MySQL-compatible server and an account on it with the right to create databases."""

    _block_type_name: ClassVar[str] = "CloudOps MySQL Server"
    _block_type_slug: ClassVar[str] = "cloudops-mysql-server"
    _description: ClassVar[str | None] = (
        "A MySQL-compatible server and an account on it with the right to create databases "
        "(populate-data applies data sets there)."
    )

    host: str = Field(default="127.0.0.1")
    port: int = Field(default=3306, ge=1, le=65535)
    user: str
    password: SecretStr
