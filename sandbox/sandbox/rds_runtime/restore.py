"""An RDS instance's server made what RDS makes of a restore: the snapshot's database under its own name, and the
instance's master user with its current password (the SQL side; no moto, no Docker).

A snapshot's data is the sandbox's MariaDB database ``rdssnap_<hash of its identifier>`` (sandbox.rds_databases),
whose comment keeps the name the snapshot flow populated it under (``<application>_<environment>``): on RDS a
MySQL snapshot restores every database of the instance under its own name, so the server gets it under that name.
"""

from __future__ import annotations

from typing import Any

import pymysql
from pydantic import SecretStr

from sandbox.ecs_runtime.config import MariaDbLogin
from sandbox.errors import SandboxError
from sandbox.rds_databases import MariaDbInstanceDatabases, snapshot_database
from sandbox.rds_runtime.servers import ADMIN_USER, PORT

BATCH = 500


def connect(host: str, user: str, password: SecretStr, port: int = PORT, timeout: int = 3) -> Any:
    return pymysql.connect(
        host=host,
        port=port,
        user=user,
        password=password.get_secret_value(),
        connect_timeout=timeout,
        autocommit=True,
    )


def answers(host: str, admin: SecretStr) -> bool:
    """Whether the server takes ``rdsadmin``'s login and a query."""
    try:
        with connect(host, ADMIN_USER, admin) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except pymysql.Error:
        return False


def restore(source: MariaDbLogin, snapshot: str, host: str, admin: SecretStr) -> str:
    """Copy snapshot ``snapshot``'s (an identifier) database into the server at ``host``; the database's name."""
    stored = MariaDbInstanceDatabases(source.host, source.port, source.user, source.password)
    if not stored.snapshot_exists(snapshot):
        raise SandboxError(
            f"snapshot {snapshot} has no data on the sandbox's MariaDB ({snapshot_database(snapshot)}); "
            "take it again with the snapshot flow"
        )
    name = stored.snapshot_database_name(snapshot)
    if not name:
        raise SandboxError(
            f"snapshot {snapshot}'s data does not say which database it holds (taken before the sandbox kept the "
            "name); take it again with the snapshot flow"
        )
    origin = snapshot_database(snapshot)
    with (
        connect(source.host, source.user, source.password, port=source.port, timeout=10) as reader,
        connect(host, ADMIN_USER, admin, timeout=10) as writer,
        reader.cursor() as read,
        writer.cursor() as write,
    ):
        read.execute(
            "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata "
            "WHERE schema_name = %s",
            (origin,),
        )
        charset, collation = read.fetchone()
        write.execute("SET FOREIGN_KEY_CHECKS = 0")
        write.execute(f"DROP DATABASE IF EXISTS `{name}`")
        write.execute(f"CREATE DATABASE `{name}` CHARACTER SET {charset} COLLATE {collation}")
        write.execute(f"USE `{name}`")
        read.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (origin,),
        )
        for (table,) in read.fetchall():
            read.execute(f"SHOW CREATE TABLE `{origin}`.`{table}`")
            write.execute(read.fetchone()[1])
            read.execute(f"SELECT * FROM `{origin}`.`{table}`")
            columns = len(read.description)
            insert = f"INSERT INTO `{table}` VALUES ({', '.join(['%s'] * columns)})"
            while rows := read.fetchmany(BATCH):
                write.executemany(insert, rows)
        write.execute("SET FOREIGN_KEY_CHECKS = 1")
    return name


def ensure_master(host: str, admin: SecretStr, user: str, password: SecretStr) -> None:
    """The master user exists, may do everything, and has ``password`` (what RDS's ModifyDBInstance sets)."""
    with connect(host, ADMIN_USER, admin) as connection, connection.cursor() as cursor:
        secret = password.get_secret_value()
        cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, secret))
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, secret))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (user,))
