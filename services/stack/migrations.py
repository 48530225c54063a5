"""Database migrations: ``NNNN_name.sql`` files applied once each, in order.

Each file runs in its own transaction together with its row in
``schema_migrations(version, name, checksum, applied_at)``, so a failed file leaves no
trace and is retried by the next run. A file already applied is skipped, unless its
content changed since: then the run stops (fix forward with a new file instead).
Statements that cannot run in a transaction (``CREATE INDEX CONCURRENTLY``) are
therefore not allowed in migrations.

The shortest use::

    applied = await apply_migrations(dsn, Path("services/storage/migrations"))
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.stack.errors import ChecksumMismatchError, DatabaseUnavailableError, MigrationError
from services.stack.postgres import quote_ident

__all__ = [
    "AppliedMigration",
    "Migration",
    "apply_migrations",
    "checksum",
    "load_migrations",
    "parse_migration_filename",
    "pending_migrations",
]

_FILENAME_RE = re.compile(r"^(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)\.sql$")
# One constant key: concurrent `stack up` runs (or test workers) take turns.
_ADVISORY_LOCK_KEY = 0x6863_6261_6D69_6772  # "hcbamigr"
_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str
    checksum: str

    @property
    def label(self) -> str:
        """``0001_create_records``: the file name without ``.sql``."""
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    checksum: str


def parse_migration_filename(filename: str) -> tuple[int, str] | None:
    """``"0001_create_records.sql"`` → ``(1, "create_records")``; ``None`` if not a migration."""
    match = _FILENAME_RE.match(filename)
    if match is None:
        return None
    return int(match["version"]), match["name"]


def checksum(sql: str) -> str:
    """SHA-256 of the file text with line endings normalised.

    A checkout that turns LF into CRLF has not changed the migration.
    """
    normalised = sql.replace("\r\n", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    """The migrations in ``directory``, by version; none when it is absent or empty.

    A ``.sql`` file with a malformed name is an error, not skipped: a typo must not
    silently leave a migration out.
    """
    if not directory.is_dir():
        return []
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        parsed = parse_migration_filename(path.name)
        if parsed is None:
            raise MigrationError(
                f"{path}: migration files are named NNNN_lowercase_name.sql "
                "(e.g. 0001_create_records.sql); rename it"
            )
        version, name = parsed
        if version in migrations:
            raise MigrationError(
                f"{path}: version {version:04d} is also used by "
                f"{migrations[version].label}.sql; give one of them the next free number"
            )
        sql = path.read_text(encoding="utf-8")
        migrations[version] = Migration(version, name, sql, checksum(sql))
    return [migrations[version] for version in sorted(migrations)]


def pending_migrations(
    available: Sequence[Migration], applied: Mapping[int, AppliedMigration]
) -> list[Migration]:
    """The migrations still to apply, in order; refuse edited or vanished applied ones."""
    by_version = {migration.version: migration for migration in available}
    for version, row in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"migration {version:04d}_{row.name} is recorded as applied but its file is "
                "missing; restore it (applied migrations are never deleted)"
            )
        if migration.checksum != row.checksum:
            raise ChecksumMismatchError(
                f"migration {migration.label}.sql changed after it was applied (checksum "
                f"{row.checksum[:12]}… → {migration.checksum[:12]}…); restore the applied "
                "text and put the change in a new migration file"
            )
    return [migration for migration in available if migration.version not in applied]


async def apply_migrations(dsn: str, directory: Path, *, schema: str | None = None) -> list[str]:
    """Apply the pending migrations of ``directory``; return their labels (``0001_x``).

    ``schema`` (it must exist) sets the ``search_path`` for the run, so the migrations and
    their ``schema_migrations`` table live there: tests use it to stay out of ``public``.
    """
    available = load_migrations(directory)
    try:
        connection = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailableError(
            f"cannot connect to apply migrations: {type(exc).__name__}: {exc}; "
            "run `hocba stack up` or fix HOCBA_PG_DSN"
        ) from exc
    try:
        return await _apply(connection, available, schema)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migration bookkeeping failed: {exc.sqlstate} {exc}") from exc
    finally:
        await connection.close()


async def _apply(
    connection: asyncpg.Connection, available: Sequence[Migration], schema: str | None
) -> list[str]:
    if schema is not None:
        await connection.execute(f"SET search_path TO {quote_ident(schema)}")
    await connection.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
    try:
        await connection.execute(_CREATE_TABLE)
        rows = await connection.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {
            int(row["version"]): AppliedMigration(
                int(row["version"]), str(row["name"]), str(row["checksum"])
            )
            for row in rows
        }
        done: list[str] = []
        for migration in pending_migrations(available, applied):
            try:
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"migration {migration.label}.sql failed and was rolled back: "
                    f"{exc.sqlstate} {exc}"
                ) from exc
            done.append(migration.label)
        return done
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
