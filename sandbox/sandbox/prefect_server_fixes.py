"""``prefect server start`` with one fix to its SQLite database: write transactions take the write lock first.

Prefect 3.9's server begins every write transaction on SQLite as ``BEGIN DEFERRED`` (``IMMEDIATE`` only for
``with_for_update``). A deferred transaction that has read and then writes, while another connection wrote in
between, gets ``SQLITE_BUSY`` at once: SQLite cannot move a reader's old snapshot forward, so it does not
call the busy handler (https://www.sqlite.org/c3ref/busy_handler.html). The server answers 503, and the
client waits 2 s before it asks again. It happens all the time on a running flow: the server's task-run
recorder writes the task runs it hears of through events while the flow creates the tracking task run of
its next subflow through the API (measured: 2-3 s before most subflows that follow tasks; Prefect issue
#18934 shows the same errors). ``BEGIN IMMEDIATE`` takes the write lock at the start, so a second writer waits
for it (the busy timeout is 30 s) and nothing is refused. SQLite has one writer at a time either way.

The sandbox runs ``python -m sandbox.prefect_server_fixes server start ...`` (the arguments of the
``prefect`` command); the API is served in this process (one worker), so the fix applies to it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from prefect.server.database.configurations import SQLITE_BEGIN_MODE, AioSqliteConfiguration
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction


@asynccontextmanager
async def begin_transaction(
    self: AioSqliteConfiguration, session: AsyncSession, with_for_update: bool = False
) -> AsyncGenerator[AsyncSessionTransaction, None]:
    """A write transaction that holds SQLite's write lock from its BEGIN (Prefect's own, with IMMEDIATE always)."""
    token = SQLITE_BEGIN_MODE.set("IMMEDIATE")
    try:
        async with session.begin() as transaction:
            yield transaction
    finally:
        SQLITE_BEGIN_MODE.reset(token)


def apply() -> None:
    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]  # the fix


if __name__ == "__main__":
    apply()
    from prefect.cli import app

    sys.argv[0] = "prefect"  # the command's own arguments follow
    app()
