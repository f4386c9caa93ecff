"""The sandbox's RDS data block: the MariaDB where moto's RDS instances and snapshots keep their data.

moto serves the RDS API but runs no database. The snapshot flow takes this block by reference
(the configuration's ``rds_databases``, ``cloudops-sandbox-rds-data/<name>``, which the sandbox's environment
sets); Prefect finds the class through
the ``prefect.collections`` entry point in pyproject.toml, so the product never imports the sandbox.
"""

from __future__ import annotations

from typing import ClassVar

from blocks.mysql_server import MySqlServer
from sandbox.rds_databases import MariaDbInstanceDatabases
from sandbox.state import RDS_DATA_BLOCK_TYPE


class SandboxRdsData(MySqlServer):
    """The sandbox's MariaDB, holding one database per RDS instance and per snapshot."""

    _block_type_name: ClassVar[str] = "CloudOps Sandbox RDS Data"
    _block_type_slug: ClassVar[str] = RDS_DATA_BLOCK_TYPE
    _description: ClassVar[str | None] = (
        "The sandbox's MariaDB: the snapshot flow keeps the databases of moto's RDS instances and snapshots "
        "here, one database per instance."
    )

    def instance_databases(self) -> MariaDbInstanceDatabases:
        return MariaDbInstanceDatabases(self.host, self.port, self.user, self.password)
