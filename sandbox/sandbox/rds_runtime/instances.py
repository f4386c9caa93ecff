"""What moto's RDS holds, in moto's own process: the instances to run (with the snapshot each restores from and
its master login), the ECS clusters of their accounts, and, back, each instance's status."""

from __future__ import annotations

from dataclasses import dataclass

from moto.ecs.models import ecs_backends
from moto.rds.models import rds_backends
from pydantic import SecretStr

from sandbox.ecs_runtime.moto_view import backends


@dataclass(frozen=True)
class InstanceView:
    account: str
    region: str
    identifier: str
    address: str
    status: str
    master_user: str
    master_password: SecretStr | None
    snapshot: str | None  # an identifier or an ARN, as the stack or the restore named it

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}/{self.identifier}"


def instances(accounts: set[str]) -> list[InstanceView]:
    """Every instance of ``accounts`` (not a deleted one)."""
    found = []
    for account, region, backend in backends(rds_backends):
        if account not in accounts:
            continue
        for database in list(backend.databases.values()):
            if database.status in ("deleting", "deleted"):
                continue
            password = getattr(database, "_master_user_password", None)
            found.append(
                InstanceView(
                    account=account,
                    region=region,
                    identifier=str(database.db_instance_identifier),
                    address=str(database.address),
                    status=str(database.status),
                    master_user=str(database.master_username or ""),
                    master_password=SecretStr(password) if password else None,
                    snapshot=getattr(database, "sandbox_snapshot", None),
                )
            )
    return found


def clusters(account: str, region: str) -> list[str]:
    """The names of the account's ACTIVE ECS clusters in ``region``."""
    backend = ecs_backends[account][region]
    return sorted(c.name for c in list(backend.clusters.values()) if c.status == "ACTIVE")


def set_status(view: InstanceView, status: str) -> None:
    database = rds_backends[view.account][view.region].databases.get(view.identifier)
    if database is not None:
        database.status = status


def set_available(view: InstanceView) -> None:
    """``available``, unless the instance changed since ``view`` was read (a new password still to apply)."""
    database = rds_backends[view.account][view.region].databases.get(view.identifier)
    if database is None or database.status not in ("creating", "resetting-master-credentials"):
        return
    password = getattr(database, "_master_user_password", None)
    if password == (view.master_password.get_secret_value() if view.master_password else None):
        database.status = "available"
