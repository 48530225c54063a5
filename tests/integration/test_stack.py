"""The real local stack, as `hocba stack up` left it (conftest starts nothing).

A missing broker or database fails these tests: CI runs `hocba stack up` first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.messaging.topics import ALL_TOPICS
from services.stack.errors import ChecksumMismatchError, MigrationError
from services.stack.kafka_topics import topic_partitions
from services.stack.lifecycle import status
from services.stack.migrations import apply_migrations
from services.stack.postgres import quote_ident
from services.stack.settings import REPO_ROOT, StackSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings() -> StackSettings:
    return StackSettings.from_env()


def _hocba(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_status_healthy(settings: StackSettings) -> None:
    components = {component.name: component for component in await status(settings)}
    # (a local Prometheus is listed too after `stack up --with-monitoring`)
    assert set(components) >= {"kafka", "postgres"}
    assert all(c.healthy for c in components.values()), components


def test_status_command_json() -> None:
    result = _hocba("stack", "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["healthy"] is True
    assert [c["name"] for c in report["components"]][:2] == ["kafka", "postgres"]


def test_up_again_is_idempotent() -> None:
    result = _hocba("stack", "up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "topics created: 0" in result.stdout


async def test_every_topic_has_the_configured_partitions(settings: StackSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        partitions = await topic_partitions(admin)
    finally:
        await admin.close()
    expected = {topic.name: settings.topic_partitions for topic in ALL_TOPICS}
    assert {name: partitions.get(name) for name in expected} == expected


async def test_project_migrations_are_applied(settings: StackSettings) -> None:
    # `up` applied them; a second run has nothing to do.
    assert await apply_migrations(settings.pg_dsn, settings.migrations_dir) == []


@pytest.fixture
async def scratch_schema(settings: StackSettings) -> AsyncIterator[str]:
    """A throwaway schema, so the runner's tables stay out of ``public``."""
    schema = f"test_migrations_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(settings.pg_dsn)
    try:
        await connection.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        yield schema
    finally:
        await connection.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await connection.close()


async def _fetch(dsn: str, schema: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"SET search_path TO {quote_ident(schema)}")
        return list(await connection.fetch(query))
    finally:
        await connection.close()


async def test_migrations_apply_once_in_order(
    settings: StackSettings, scratch_schema: str, tmp_path: Path
) -> None:
    dsn = settings.pg_dsn
    (tmp_path / "0002_add_name.sql").write_text("ALTER TABLE school ADD COLUMN name text;\n")
    (tmp_path / "0001_create_school.sql").write_text(
        "CREATE TABLE school (code text PRIMARY KEY);\n"
    )
    assert await apply_migrations(dsn, tmp_path, schema=scratch_schema) == [
        "0001_create_school",
        "0002_add_name",
    ]
    assert await apply_migrations(dsn, tmp_path, schema=scratch_schema) == []

    (tmp_path / "0003_seed.sql").write_text("INSERT INTO school VALUES ('79000701', 'A');\n")
    assert await apply_migrations(dsn, tmp_path, schema=scratch_schema) == ["0003_seed"]

    rows = await _fetch(
        dsn,
        scratch_schema,
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
    )
    assert [(r["version"], r["name"]) for r in rows] == [
        (1, "create_school"),
        (2, "add_name"),
        (3, "seed"),
    ]
    assert all(len(r["checksum"]) == 64 and r["applied_at"] is not None for r in rows)
    schools = await _fetch(dsn, scratch_schema, "SELECT code, name FROM school")
    assert [(r["code"], r["name"]) for r in schools] == [("79000701", "A")]


async def test_changed_checksum_is_refused(
    settings: StackSettings, scratch_schema: str, tmp_path: Path
) -> None:
    migration = tmp_path / "0001_create_school.sql"
    migration.write_text("CREATE TABLE school (code text PRIMARY KEY);\n")
    await apply_migrations(settings.pg_dsn, tmp_path, schema=scratch_schema)
    migration.write_text("CREATE TABLE school (code text PRIMARY KEY, name text);\n")
    (tmp_path / "0002_later.sql").write_text("CREATE TABLE later (id int);\n")
    with pytest.raises(ChecksumMismatchError, match="0001_create_school"):
        await apply_migrations(settings.pg_dsn, tmp_path, schema=scratch_schema)
    # Refused before anything else ran.
    tables = await _fetch(
        settings.pg_dsn,
        scratch_schema,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = "
        f"'{scratch_schema}' ORDER BY 1",
    )
    assert [t["table_name"] for t in tables] == ["schema_migrations", "school"]


async def test_failed_migration_rolls_back(
    settings: StackSettings, scratch_schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);\n")
    (tmp_path / "0002_broken.sql").write_text(
        "CREATE TABLE half (id int);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    with pytest.raises(MigrationError, match=r"0002_broken\.sql failed .*42P01"):
        await apply_migrations(settings.pg_dsn, tmp_path, schema=scratch_schema)
    rows = await _fetch(settings.pg_dsn, scratch_schema, "SELECT version FROM schema_migrations")
    assert [r["version"] for r in rows] == [1]
    half = await _fetch(settings.pg_dsn, scratch_schema, "SELECT to_regclass('half') AS t")
    assert half[0]["t"] is None
