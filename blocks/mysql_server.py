"""A MySQL server block: in the sandbox, where RDS instances' databases really are (moto has no database)."""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from cloudops.sandbox.rds_databases import MariaDbInstanceDatabases


class MySqlServer(Block):
    """A MySQL-compatible server and an account on it with the right to create databases."""

    _block_type_name: ClassVar[str] = "CloudOps MySQL Server"
    _block_type_slug: ClassVar[str] = "cloudops-mysql-server"
    _description: ClassVar[str | None] = (
        "A MySQL-compatible server. In the sandbox, the snapshot flow keeps the databases of moto's RDS "
        "instances and snapshots here, one database per instance."
    )

    host: str = Field(default="127.0.0.1")
    port: int = Field(default=3306, ge=1, le=65535)
    user: str
    password: SecretStr

    def instance_databases(self) -> MariaDbInstanceDatabases:
        return MariaDbInstanceDatabases(self.host, self.port, self.user, self.password)
