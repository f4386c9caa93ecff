"""The sandbox's blocks: every account's credential block (with its registry login), its MariaDB as a MySQL
server block (populate-data) and as the RDS data block (snapshots)."""

from __future__ import annotations

from blocks.mysql_server import MySqlServer
from blocks.register import save_stage_blocks, save_unless_same
from sandbox.rds_data_block import SandboxRdsData
from sandbox.sandbox import Sandbox
from sandbox.state import MYSQL_USER, SANDBOX_MYSQL_BLOCK, SANDBOX_RDS_DATA

__all__ = ["SANDBOX_MYSQL_BLOCK", "SANDBOX_RDS_DATA", "save_sandbox_blocks"]


def save_sandbox_blocks(sandbox: Sandbox) -> dict[str, str]:
    """Every sandbox account's block (its pipeline role: cloudops/policies.py) and the MariaDB's two blocks, in the
    current server."""
    registries = sandbox.state.registries
    saved = save_stage_blocks(sandbox.settings, sandbox.pipeline_credentials, lambda stage: registries[stage].login())
    login = {
        "host": "127.0.0.1",
        "port": sandbox.state.mariadb_port,
        "user": MYSQL_USER,
        "password": sandbox.state.mariadb_password,
    }
    for block_type in (MySqlServer, SandboxRdsData):
        block_type.register_type_and_schema()
        save_unless_same(block_type(**login), SANDBOX_MYSQL_BLOCK)
    saved["mysql"] = f"{MySqlServer.get_block_type_slug()}/{SANDBOX_MYSQL_BLOCK}"
    saved["rds"] = SANDBOX_RDS_DATA
    return saved
