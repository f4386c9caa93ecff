"""RDS instances' databases in the sandbox: moto serves the RDS API, the sandbox's MariaDB holds the data.

The mapping: instance ``X`` is the MariaDB database ``rds_<X>`` (one database per instance, whatever
database name the application asks for; that name is kept as the database's comment); snapshot ``S`` (its
identifier, not its ARN) is a copy of it in ``rdssnap_<hash of S>``, comment included; restoring ``S`` into
instance ``Y`` copies it back into ``rds_<Y>``; deleting ``X`` drops ``rds_<X>``. Real RDS does the same
copying itself, and :class:`RdsInstanceDatabases` does nothing. An instance of a stage account (a deployed
environment's) is a MariaDB server of its own instead (sandbox/sandbox/rds_runtime/): restored from ``rdssnap_<hash>``,
it holds the database under the name the comment keeps, as RDS restores a MySQL snapshot's databases.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pymysql
from pydantic import SecretStr

from cloudops import datapop
from cloudops.aws.rds import DbInstance


def instance_database(instance: str) -> str:
    return "rds_" + re.sub(r"\W", "_", instance)[:56]


def snapshot_database(snapshot: str) -> str:
    return "rdssnap_" + hashlib.sha256(snapshot.encode()).hexdigest()[:32]


class MariaDbInstanceDatabases:
    """The sandbox's stand-in for the storage of RDS instances and snapshots."""

    def __init__(self, host: str, port: int, user: str, password: SecretStr) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password

    def target(self, instance: DbInstance, database: str, master_password: SecretStr) -> datapop.MySqlTarget:
        stand_in = instance_database(instance.identifier)
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS `{stand_in}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            cursor.execute(f"ALTER DATABASE `{stand_in}` COMMENT = %s", (database,))
        return datapop.MySqlTarget(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=instance_database(instance.identifier),
        )

    def snapshot_taken(self, instance: str, snapshot: str) -> None:
        self._copy(instance_database(instance), snapshot_database(snapshot))

    def restored(self, snapshot: str, instance: str) -> None:
        self._copy(snapshot_database(snapshot), instance_database(instance))

    def deleted(self, instance: str) -> None:
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{instance_database(instance)}`")

    def snapshot_database_name(self, snapshot: str) -> str:
        """The name the application gave the snapshot's database (empty for a snapshot taken before names were kept)."""
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT schema_comment FROM information_schema.schemata WHERE schema_name = %s",
                (snapshot_database(snapshot),),
            )
            row = cursor.fetchone()
        return str(row[0]) if row else ""

    def snapshot_exists(self, snapshot: str) -> bool:
        with self._connect() as connection, connection.cursor() as cursor:
            return bool(cursor.execute("SHOW DATABASES LIKE %s", (snapshot_database(snapshot),)))

    def _copy(self, source: str, destination: str) -> None:
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            cursor.execute("SELECT schema_comment FROM information_schema.schemata WHERE schema_name = %s", (source,))
            row = cursor.fetchone()
            cursor.execute(f"DROP DATABASE IF EXISTS `{destination}`")
            cursor.execute(
                f"CREATE DATABASE `{destination}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci COMMENT %s",
                (row[0] if row else "",),
            )
            cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                (source,),
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f"CREATE TABLE `{destination}`.`{table}` LIKE `{source}`.`{table}`")
                cursor.execute(f"INSERT INTO `{destination}`.`{table}` SELECT * FROM `{source}`.`{table}`")
            connection.commit()

    def _connect(self) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user, password=self.password.get_secret_value(), autocommit=True
        )
