"""A query of the tests against a MySqlTarget: its rows, on a connection of its own."""

from __future__ import annotations

from typing import Any

import pymysql

from cloudops.datapop import MySqlTarget


def query(target: MySqlTarget, sql: str) -> list[tuple[Any, ...]]:
    connection = pymysql.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password.get_secret_value(),
        database=target.database,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()
