"""Migration files: naming, ordering and the checksum rule (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.stack.errors import ChecksumMismatchError, MigrationError
from services.stack.migrations import (
    AppliedMigration,
    checksum,
    load_migrations,
    parse_migration_filename,
    pending_migrations,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("filename", "parsed"),
    [
        ("0001_create_records.sql", (1, "create_records")),
        ("0120_add_index.sql", (120, "add_index")),
        ("1_create.sql", None),
        ("0001-create.sql", None),
        ("0001_Create.sql", None),
        ("0001_create.SQL", None),
        ("README.md", None),
    ],
)
def test_parse_migration_filename(filename: str, parsed: tuple[int, str] | None) -> None:
    assert parse_migration_filename(filename) == parsed


def test_missing_or_empty_directory_has_no_migrations(tmp_path: Path) -> None:
    assert load_migrations(tmp_path / "absent") == []
    assert load_migrations(tmp_path) == []


def test_loaded_in_version_order_not_name_order(tmp_path: Path) -> None:
    (tmp_path / "0010_last.sql").write_text("SELECT 10;")
    (tmp_path / "0002_middle.sql").write_text("SELECT 2;")
    (tmp_path / "0001_zeta.sql").write_text("SELECT 1;")
    (tmp_path / "notes.txt").write_text("ignored: not .sql")
    migrations = load_migrations(tmp_path)
    assert [m.label for m in migrations] == ["0001_zeta", "0002_middle", "0010_last"]
    assert migrations[0].sql == "SELECT 1;"
    assert migrations[0].checksum == checksum("SELECT 1;")


def test_malformed_sql_filename_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "create_records.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_lowercase_name\.sql"):
        load_migrations(tmp_path)


def test_duplicate_version_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="version 0001"):
        load_migrations(tmp_path)


def test_checksum_ignores_line_endings_only() -> None:
    assert checksum("SELECT 1;\nSELECT 2;\n") == checksum("SELECT 1;\r\nSELECT 2;\r\n")
    assert checksum("SELECT 1;") != checksum("SELECT 2;")


def _write(tmp_path: Path, files: dict[str, str]) -> None:
    for name, sql in files.items():
        (tmp_path / name).write_text(sql)


def test_pending_skips_applied(tmp_path: Path) -> None:
    _write(tmp_path, {"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"})
    available = load_migrations(tmp_path)
    applied = {1: AppliedMigration(1, "a", checksum("SELECT 1;"))}
    assert [m.label for m in pending_migrations(available, applied)] == ["0002_b"]
    assert [m.label for m in pending_migrations(available, {})] == ["0001_a", "0002_b"]


def test_changed_applied_file_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, {"0001_a.sql": "SELECT 'edited';"})
    applied = {1: AppliedMigration(1, "a", checksum("SELECT 1;"))}
    with pytest.raises(ChecksumMismatchError, match=r"0001_a\.sql changed after it was applied"):
        pending_migrations(load_migrations(tmp_path), applied)


def test_vanished_applied_file_is_refused(tmp_path: Path) -> None:
    applied = {3: AppliedMigration(3, "gone", checksum("SELECT 3;"))}
    with pytest.raises(MigrationError, match=r"0003_gone .*missing"):
        pending_migrations([], applied)
