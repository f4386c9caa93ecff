"""moto's RDS made to tell the sandbox's RDS runtime (rds_runtime/) what to run (moto runs no database).

Read in moto 5.2.5's source; each fix is pinned by sandbox/sandbox_tests/test_moto_rds_fixes.py:

1. An instance remembers the snapshot it was restored from (``sandbox_snapshot``, as given: an identifier or an
   ARN): ``DBInstance.create_from_cloudformation_json`` drops ``DBSnapshotIdentifier`` (it creates an empty
   instance), and ``restore_db_instance_from_db_snapshot`` keeps no trace of it.
2. An instance a stack restores from a snapshot, its own account's or one shared by ARN, has the snapshot's
   master user and password, as RDS gives it (moto's stack made one with neither).
3. An instance of an account whose instances the runtime runs is ``creating`` until the runtime has it
   answering (moto says ``available`` at once), and ``resetting-master-credentials`` after a new master
   password until the runtime has applied it; the runtime then sets ``available``.
4. Every create, modify and delete wakes the runtime; a deletion is remembered, so the runtime removes the
   instance's data as well as its container.

5. ``CopyDBSnapshot`` of a snapshot another account shares with this one (its ARN), as a stage copies the build's
   snapshot under its own key: the copy holds the source's data, encrypted with the key given (moto looked for the
   ARN's identifier among the copying account's own snapshots only). A snapshot not shared with the account is
   refused as RDS refuses it. (NOTE: the RDS runtime keeps a snapshot's data by identifier, and the deploy names the
   copy as its source, so a restore of the copy finds the source's data.)

What stays as moto has it: ``DeletionPolicy: Snapshot`` takes no final snapshot (moto's stack deletes the
instance as with ``Delete``); the API's restore finds only the account's own snapshots, not one shared by ARN.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.rds.exceptions import DBSnapshotAlreadyExistsError, DBSnapshotNotFoundFault
from moto.rds.models import DBInstance, DBSnapshot, RDSBackend, rds_backends

Key = tuple[str, str, str]  # (account, region, instance identifier)
_listeners: list[Callable[[], None]] = []
_deleted: set[Key] = set()
_deleted_lock = threading.Lock()


def _nobody(account: str) -> bool:
    return False


# Whether the runtime runs the instances of an account (set by the runtime when it starts; moto's own otherwise).
runs_instances: Callable[[str], bool] = _nobody


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` (it must return at once) after every create, modify or delete of an RDS instance."""
    _listeners.append(callback)


def changed() -> None:
    for callback in _listeners:
        callback()


def take_deleted() -> set[Key]:
    """The instances deleted since the last call."""
    with _deleted_lock:
        found = set(_deleted)
        _deleted.clear()
    return found


def find_snapshot(account: str, region: str, snapshot: str) -> Any | None:
    """The snapshot an instance names: an identifier of its own account's, or an ARN (of any account)."""
    if snapshot.startswith("arn:"):
        parts = snapshot.split(":")
        if len(parts) != 7 or parts[5] != "snapshot":
            return None
        region, account, snapshot = parts[3], parts[4], parts[6]
    backend = rds_backends[account][region]
    return backend.database_snapshots.get(snapshot.lower()) or backend.database_snapshots.get(snapshot)


def snapshot_identifier(snapshot: str) -> str:
    """The identifier of a snapshot named by identifier or ARN."""
    return snapshot.rsplit(":", 1)[-1] if snapshot.startswith("arn:") else snapshot


# The snapshot the instance being created restores from: create_db_instance runs inside the stack's create and the
# API's restore, and must know it before it wakes the runtime.
_restoring = threading.local()


def _restoring_from(snapshot: str | None) -> Any:
    previous = getattr(_restoring, "snapshot", None)
    _restoring.snapshot = snapshot
    return previous


_create_cfn = DBInstance.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def create_from_cloudformation(
    cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any
) -> Any:
    previous = _restoring_from(cloudformation_json["Properties"].get("DBSnapshotIdentifier"))
    try:
        return _create_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
    finally:
        _restoring_from(previous)


_restore = RDSBackend.restore_db_instance_from_db_snapshot


def restore_db_instance_from_db_snapshot(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
    previous = _restoring_from(from_snapshot_id)
    try:
        return _restore(self, from_snapshot_id, overrides)
    finally:
        _restoring_from(previous)


_create = RDSBackend.create_db_instance


def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
    snapshot = getattr(_restoring, "snapshot", None)
    found = find_snapshot(self.account_id, self.region_name, snapshot) if snapshot else None
    if found is not None and not db_kwargs.get("master_username"):  # a stack's restore: the source's master user
        db_kwargs = {**db_kwargs, "master_username": found.master_username}
        db_kwargs["master_user_password"] = getattr(found.database, "_master_user_password", None)
    database = _create(self, db_kwargs)
    database.sandbox_snapshot = snapshot  # type: ignore[attr-defined]  # the sandbox's own attribute
    if runs_instances(self.account_id):
        database.status = "creating"
    changed()
    return database


_modify = RDSBackend.modify_db_instance


def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
    database = _modify(self, db_instance_identifier, db_kwargs)
    if db_kwargs.get("master_user_password") and runs_instances(self.account_id) and database.status == "available":
        database.status = "resetting-master-credentials"
    changed()
    return database


_delete = RDSBackend.delete_db_instance


def delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
    database = _delete(self, db_instance_identifier, *args, **kwargs)
    with _deleted_lock:
        _deleted.add((self.account_id, self.region_name, database.db_instance_identifier))
    changed()
    return database


_copy_snapshot = RDSBackend.copy_db_snapshot


def copy_db_snapshot(
    self: Any, source_db_snapshot_identifier: str, target_db_snapshot_identifier: str, **kwargs: Any
) -> Any:
    source = source_db_snapshot_identifier
    owner = source.split(":")[4] if source.startswith("arn:") and source.count(":") == 6 else self.account_id
    if owner == self.account_id:
        return _copy_snapshot(self, source, target_db_snapshot_identifier, **kwargs)
    found = find_snapshot(self.account_id, self.region_name, source)
    if found is None or self.account_id not in found.attributes.get("restore", []):
        raise DBSnapshotNotFoundFault(source)
    if target_db_snapshot_identifier in self.database_snapshots:
        raise DBSnapshotAlreadyExistsError(target_db_snapshot_identifier)
    key = kwargs.get("kms_key_id")
    copied = DBSnapshot(
        self,
        found.database,
        target_db_snapshot_identifier,
        tags=kwargs.get("tags") or [],
        kms_key_id=self._validate_kms_key(key) if key else None,
        original_created_at=found.original_snapshot_create_time,
    )
    self.database_snapshots[target_db_snapshot_identifier] = copied
    return copied


PATCHES: list[tuple[type, str, object]] = [
    (DBInstance, "create_from_cloudformation_json", classmethod(create_from_cloudformation)),
    (RDSBackend, "restore_db_instance_from_db_snapshot", restore_db_instance_from_db_snapshot),
    (RDSBackend, "create_db_instance", create_db_instance),
    (RDSBackend, "modify_db_instance", modify_db_instance),
    (RDSBackend, "delete_db_instance", delete_db_instance),
    (RDSBackend, "copy_db_snapshot", copy_db_snapshot),
]


def apply() -> None:
    for owner, name, fixed in PATCHES:
        setattr(owner, name, fixed)
