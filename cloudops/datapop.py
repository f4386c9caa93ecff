"""The Data Population tool: apply versioned data sets to a MySQL database.

A data-set folder holds ``common/``, ``author/`` and ``live/`` (any other folder is another
environment), each with files ``V<version>__<name>.sql``. An environment gets ``common`` plus its own, in
version order, so the versions of each such pair are unique; two environments may both have a version 3 (they
never meet in one database, as with Flyway's per-location sets). The versions used have no gap. Every error
names the file's path in the application's repository.

yoyo-migrations orders, locks, applies and records the sets: each set is one migration run in one
transaction, so a set whose data fails leaves the database as it was before it. (MariaDB commits DDL
implicitly: a schema statement that ran before a failure stays; the error says so.) Next to yoyo's
record, each set's SHA-256 is written in the same transaction as its data, and a set whose file
changed after it was applied is refused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import pymysql
from pydantic import BaseModel, ConfigDict, SecretStr
from yoyo import get_backend
from yoyo.backends import DatabaseBackend
from yoyo.migrations import Migration, MigrationList, StepCollector

from cloudops.errors import DatabaseUnavailableError, DataSetError
from cloudops.sql import split_statements

COMMON = "common"
FILE_NAME = re.compile(r"^V(?P<version>\d+)__(?P<name>[A-Za-z0-9_\-]+)\.sql$")
CHECKSUM_TABLE = "cloudops_data_set"
# PyMySQL's codes for a server that is gone: can't connect (2003), gone away (2006), lost during a query (2013),
# and the server shutting down (1053)
LOCK_TIMEOUT_SECONDS = 600
CONNECTION_LOST = frozenset({1053, 2003, 2006, 2013})
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)


class MySqlTarget(BaseModel):
    """A MySQL database to populate: an RDS instance's endpoint, a container, or the sandbox's MariaDB."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int = 3306
    user: str
    password: SecretStr
    database: str

    def uri(self) -> str:
        secret = quote(self.password.get_secret_value(), safe="")
        return f"mysql://{quote(self.user, safe='')}:{secret}@{self.host}:{self.port}/{self.database}"

    def __str__(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class DataSet:
    version: int
    name: str
    scope: str
    path: Path
    sha256: str
    source: str = ""  # its path in the application's repository, for messages

    @property
    def shown(self) -> str:
        return self.source or str(self.path)

    @property
    def id(self) -> str:
        return f"V{self.version:04d}__{self.scope}__{self.name}"


@dataclass
class PopulateReport:
    target: str
    environment: str
    applied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def discover(folder: Path, shown_as: str | None = None) -> list[DataSet]:
    """Every data set in ``folder``, checked: names well formed; the versions of common plus each environment
    unique; the versions used without a gap. ``shown_as``: the folder's path in the application's repository,
    which messages name (default: its last component, the repository's path when the data sets are at its top)."""
    shown = PurePosixPath(shown_as if shown_as is not None else folder.name)
    if not folder.is_dir():
        raise DataSetError(f"data-set folder {shown} does not exist; point the application's `datasets` at it")
    sets: list[DataSet] = []
    for path in sorted(folder.glob("*/*.sql")):
        source = str(shown / path.parent.name / path.name)
        match = FILE_NAME.match(path.name)
        if match is None:
            raise DataSetError(f"{source}: a data set's file name must look like V0003__what_it_does.sql; rename it")
        body = path.read_bytes()
        sets.append(
            DataSet(
                int(match["version"]), match["name"], path.parent.name, path, hashlib.sha256(body).hexdigest(), source
            )
        )
    if not sets:
        raise DataSetError(f"{shown} holds no data sets (expected {shown}/common/V0001__schema.sql and so on)")
    sets.sort(key=lambda s: s.version)
    for environment in sorted({s.scope for s in sets} - {COMMON}) or [COMMON]:
        _check_unique([s for s in sets if s.scope in (COMMON, environment)], environment)
    used = {s.version for s in sets}
    missing = sorted(set(range(1, max(used) + 1)) - used)
    if missing:
        raise DataSetError(
            f"data sets in {shown} have a gap: no data set has version {missing[0]}; number them 1, 2, 3 ... "
            "without a gap (a removed data set must be replaced, not skipped)"
        )
    return sets


def _check_unique(sets: list[DataSet], environment: str) -> None:
    """The sets one database gets (common plus ``environment``) use each version once."""
    seen: dict[int, DataSet] = {}
    for data_set in sets:
        if data_set.version in seen:
            raise DataSetError(
                f"version {data_set.version} is used twice for {environment}: {seen[data_set.version].source} and "
                f"{data_set.source}; give each its own version (common's data sets and each environment's run "
                "together in one database)"
            )
        seen[data_set.version] = data_set


def for_environment(sets: list[DataSet], environment: str) -> list[DataSet]:
    """The sets that apply to ``environment``: the common ones and its own, in version order."""
    scopes = {s.scope for s in sets}
    if environment == COMMON or environment not in scopes | {"author", "live"}:
        known = sorted((scopes | {"author", "live"}) - {COMMON})
        raise DataSetError(f"unknown environment {environment!r}; use one of {', '.join(known)}")
    return [s for s in sets if s.scope in (COMMON, environment)]


def versions(sets: list[DataSet]) -> dict[str, str]:
    """Data-set ids and their checksums, for manifests and release records."""
    return {s.id: s.sha256 for s in sets}


def create_database(target: MySqlTarget) -> bool:
    """Create the target database unless it exists; True when created."""
    try:
        connection = pymysql.connect(
            host=target.host, port=target.port, user=target.user, password=target.password.get_secret_value()
        )
    except pymysql.Error as error:
        why = error.args[-1] if error.args else error
        if lost_connection(error):
            raise DatabaseUnavailableError(f"cannot connect to {target}: {why}; run again once it answers") from None
        raise DataSetError(f"cannot connect to {target}: {why}") from None
    try:
        with connection.cursor() as cursor:
            exists = cursor.execute("SHOW DATABASES LIKE %s", (target.database,))
            if not exists:
                cursor.execute(f"CREATE DATABASE `{target.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return not exists
    finally:
        connection.close()


def populate(
    target: MySqlTarget, folder: Path, environment: str, *, create: bool = True, shown_as: str | None = None
) -> PopulateReport:
    """Apply what ``environment`` lacks of the data sets in ``folder`` to ``target`` (``shown_as``: see
    :func:`discover`)."""
    sets = for_environment(discover(folder, shown_as), environment)
    if create:
        create_database(target)
    report = PopulateReport(str(target), environment)
    try:
        with _backend(target) as backend, _exclusive(backend, target):
            _ensure_checksum_table(backend)
            recorded = _recorded_checksums(backend)
            _refuse_changed(sets, recorded)
            migrations = MigrationList([_DataSetMigration(s) for s in sets])
            # A set whose data and checksum committed but whose yoyo mark did not (a crash in between).
            unmarked = MigrationList([m for m in backend.to_apply(migrations) if m.id in recorded])
            if unmarked:
                backend.mark_migrations(unmarked)
            pending = backend.to_apply(migrations)
            pending_ids = {m.id for m in pending}
            report.already = [s.id for s in sets if s.id not in pending_ids]
            for migration in pending:
                _apply(backend, migration)
                report.applied.append(migration.id)
    except pymysql.Error as error:  # on the way out (yoyo releasing its lock) over a lost connection
        if (cause := first_data_set_error(error)) is not None:
            raise cause from None
        if lost_connection(error):
            raise DatabaseUnavailableError(
                f"lost the connection to {target} ({error}); run again once it answers"
            ) from None
        raise
    return report


@contextmanager
def _exclusive(backend: DatabaseBackend, target: MySqlTarget) -> Iterator[None]:
    """One population of a database at a time, with MariaDB's named lock: held by the connection, so a population
    whose process or server died holds it no longer. (yoyo's own lock is a row in a table, which outlives a
    server that went away and refuses every population after it until a person breaks it.)"""
    name = f"cloudops-datapop:{target.database}"[:64]
    cursor = backend.connection.cursor()
    cursor.execute("SELECT GET_LOCK(%s, %s)", (name, LOCK_TIMEOUT_SECONDS))
    if cursor.fetchone()[0] != 1:
        raise DataSetError(
            f"another population of {target} has held its lock for {LOCK_TIMEOUT_SECONDS} s; run again when it is done"
        )
    try:
        yield
    finally:
        with contextlib.suppress(pymysql.Error):  # a lost connection has released it already
            cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))


def applied(target: MySqlTarget) -> dict[str, str]:
    """The data sets applied to ``target`` and their checksums."""
    with _backend(target) as backend:
        _ensure_checksum_table(backend)
        return _recorded_checksums(backend)


class _DataSetMigration(Migration):  # type: ignore[misc]  # yoyo ships no type information
    """A yoyo migration whose one step runs a data set's statements and records its checksum."""

    def __init__(self, data_set: DataSet) -> None:
        super().__init__(data_set.id, str(data_set.path), str(data_set.path.parent))
        self.data_set = data_set

    def load(self) -> None:
        if self.loaded:
            return
        collector = StepCollector(migration=self)
        collector.add_step(functools.partial(_run_data_set, self.data_set))
        self.source = self.data_set.path.read_text(encoding="utf-8")
        self.module = types.ModuleType(self.id)
        self._depends: set[Migration] = set()
        self.use_transactions = True
        self.steps = collector.create_steps(True)


def _run_data_set(data_set: DataSet, connection: Any) -> None:
    statements = split_statements(data_set.path.read_text(encoding="utf-8"), source=data_set.shown)
    cursor = connection.cursor()
    done_ddl: list[str] = []
    for number, statement in enumerate(statements, start=1):
        try:
            cursor.execute(statement)
        except pymysql.Error as error:
            if lost_connection(error):
                raise unavailable(data_set, number, error, done_ddl) from None
            kept = (
                f" MariaDB commits DDL at once, so these statements of the set stay applied: "
                f"{'; '.join(done_ddl)[:500]}"
                if done_ddl
                else " Nothing of it was kept."
            )
            raise DataSetError(
                f"data set {data_set.id} failed at statement {number} ({statement[:120]!r}): "
                f"{error.args[-1] if error.args else error}.{kept} Fix the data set and run again."
            ) from None
        if DDL.match(statement):
            done_ddl.append(statement.split("(")[0].strip())
    cursor.execute(
        f"INSERT INTO {CHECKSUM_TABLE} (id, version, scope, sha256) VALUES (%s, %s, %s, %s)",
        (data_set.id, data_set.version, data_set.scope, data_set.sha256),
    )


def lost_connection(error: pymysql.Error) -> bool:
    """A server that is gone; or a connection PyMySQL closed after losing it (``InterfaceError(0, '')``)."""
    if isinstance(error, pymysql.InterfaceError):
        return not error.args or error.args[0] == 0
    return isinstance(error, pymysql.OperationalError) and bool(error.args) and error.args[0] in CONNECTION_LOST


def first_data_set_error(error: BaseException) -> DataSetError | None:
    """The set's own error that ``error`` happened while handling (yoyo's rollback on a dead connection fails too)."""
    seen = error.__context__
    while seen is not None:
        if isinstance(seen, DataSetError):
            return seen
        seen = seen.__context__
    return None


def unavailable(data_set: DataSet, number: int, error: pymysql.Error, done_ddl: list[str]) -> DatabaseUnavailableError:
    kept = f"; its DDL stays applied: {'; '.join(done_ddl)[:300]}" if done_ddl else ""
    return DatabaseUnavailableError(
        f"the database server went away during data set {data_set.id}, at statement {number} "
        f"({error.args[-1] if error.args else error}): the set was not recorded as applied{kept}; "
        "run again once the server answers (the sets already applied are not applied twice)"
    )


def _apply(backend: DatabaseBackend, migration: _DataSetMigration) -> None:
    try:
        backend.apply_one(migration)
    except DataSetError:
        raise
    except pymysql.Error as error:
        if (cause := first_data_set_error(error)) is not None:
            raise cause from None
        if lost_connection(error):
            raise DatabaseUnavailableError(
                f"the database server went away while data set {migration.id} was recorded ({error}); "
                "run again once it answers (the sets already applied are not applied twice)"
            ) from None
        raise DataSetError(f"data set {migration.id} failed: {error}; fix it and run again") from None


def _refuse_changed(sets: list[DataSet], recorded: dict[str, str]) -> None:
    for data_set in sets:
        if data_set.id in recorded and recorded[data_set.id] != data_set.sha256:
            raise DataSetError(
                f"data set {data_set.id} changed after it was applied (applied sha256 {recorded[data_set.id][:12]}, "
                f"file now {data_set.sha256[:12]}); applied data sets are immutable: restore {data_set.shown} "
                "and put the change in a new version"
            )


def _ensure_checksum_table(backend: DatabaseBackend) -> None:
    with backend.transaction():
        backend.execute(
            f"CREATE TABLE IF NOT EXISTS {CHECKSUM_TABLE} ("
            "id VARCHAR(200) PRIMARY KEY, version INT NOT NULL, scope VARCHAR(64) NOT NULL, "
            "sha256 CHAR(64) NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB"
        )


def _recorded_checksums(backend: DatabaseBackend) -> dict[str, str]:
    cursor = backend.execute(f"SELECT id, sha256 FROM {CHECKSUM_TABLE}")
    return {row[0]: row[1] for row in cursor.fetchall()}


@contextmanager
def _backend(target: MySqlTarget) -> Iterator[DatabaseBackend]:
    try:
        backend = get_backend(target.uri())
    except pymysql.Error as error:
        why = error.args[-1] if error.args else error
        if lost_connection(error):
            raise DatabaseUnavailableError(f"cannot connect to {target}: {why}; run again once it answers") from None
        raise DataSetError(f"cannot connect to {target}: {why}") from None
    try:
        yield backend
    finally:
        backend.connection.close()
