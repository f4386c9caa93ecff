"""Where the data of RDS instances lives: on RDS itself, or in a block that keeps it elsewhere (the sandbox's)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from prefect.blocks.core import Block

from cloudops.errors import MissingBlockError
from cloudops.snapshots import InstanceDatabases, RdsInstanceDatabases


@runtime_checkable
class KeepsInstanceDatabases(Protocol):
    """A block that says where RDS instances' data lives (the sandbox's MySQL server block is one)."""

    def instance_databases(self) -> InstanceDatabases: ...


def load_instance_databases(reference: str | None) -> InstanceDatabases:
    """RDS itself when ``reference`` is empty; else the block it names, as ``<block type slug>/<block name>``."""
    if not reference:
        return RdsInstanceDatabases()
    if reference.count("/") != 1 or not all(reference.split("/")):
        raise MissingBlockError(
            f"rds_databases {reference!r} must name a block as '<block type slug>/<block name>' "
            "(the sandbox's is cloudops-mysql-server/sandbox-mariadb); leave it empty on AWS"
        )
    try:
        block = Block.load(reference)
    except (ValueError, KeyError):
        raise MissingBlockError(
            f"there is no block {reference!r} to keep RDS instances' data; check the name under Blocks in the "
            "Prefect UI (the sandbox saves cloudops-mysql-server/sandbox-mariadb), or leave it empty on AWS"
        ) from None
    if not isinstance(block, KeepsInstanceDatabases):
        raise MissingBlockError(f"block {reference!r} does not say where RDS instances' data lives; name another")
    return block.instance_databases()
