"""StackSettings.from_env: defaults, overrides and the errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.stack.errors import ConfigError
from services.stack.settings import StackSettings, parse_pg_dsn

pytestmark = pytest.mark.unit


def test_defaults(tmp_path: Path) -> None:
    settings = StackSettings.from_env({}, repo_root=tmp_path)
    assert settings.state_dir == (tmp_path / ".state").resolve()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.kafka_controller_port == 9093
    assert settings.kafka_heap == "512m"
    assert settings.pg_dsn == "postgresql://hocba:hocba@127.0.0.1:5432/hocba"
    assert (settings.pg.host, settings.pg.port) == ("127.0.0.1", 5432)
    assert (settings.pg.user, settings.pg.password, settings.pg.database) == (
        "hocba",
        "hocba",
        "hocba",
    )
    assert settings.pg.is_loopback
    assert settings.topic_partitions == 12
    assert settings.pom_file == tmp_path / "deploy" / "local" / "pom.xml"
    assert settings.migrations_dir == tmp_path / "services" / "storage" / "migrations"


def test_overrides(tmp_path: Path) -> None:
    settings = StackSettings.from_env(
        {
            "HOCBA_STATE_DIR": str(tmp_path / "st"),
            "HOCBA_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
            "HOCBA_KAFKA_HEAP": "1g",
            "HOCBA_PG_DSN": "postgresql://app:p%40ss@localhost:15432/records",
            "HOCBA_TOPIC_PARTITIONS": "3",
        },
        repo_root=tmp_path,
    )
    assert settings.state_dir == (tmp_path / "st").resolve()
    assert settings.kafka_dir == settings.state_dir / "kafka"
    assert (settings.kafka_port, settings.kafka_controller_port) == (19092, 19093)
    assert settings.kafka_heap == "1g"
    assert settings.pg.password == "p@ss"
    assert (settings.pg.host, settings.pg.port, settings.pg.database) == (
        "localhost",
        15432,
        "records",
    )
    assert settings.topic_partitions == 3


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = StackSettings.from_env({}, repo_root=tmp_path)
    with pytest.raises(AttributeError):
        settings.kafka_heap = "1g"  # type: ignore[misc]


def test_with_partitions_validates(tmp_path: Path) -> None:
    settings = StackSettings.from_env({}, repo_root=tmp_path)
    assert settings.with_partitions(4).topic_partitions == 4
    with pytest.raises(ConfigError, match="--partitions"):
        settings.with_partitions(0)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("HOCBA_KAFKA_HEAP", "lots", "HOCBA_KAFKA_HEAP"),
        ("HOCBA_KAFKA_HEAP", "0m", "HOCBA_KAFKA_HEAP"),
        ("HOCBA_TOPIC_PARTITIONS", "zero", "HOCBA_TOPIC_PARTITIONS"),
        ("HOCBA_TOPIC_PARTITIONS", "0", "HOCBA_TOPIC_PARTITIONS"),
        ("HOCBA_KAFKA_BOOTSTRAP", "127.0.0.1", "host:port"),
        ("HOCBA_KAFKA_BOOTSTRAP", "a:1,b:2", "host:port"),
        ("HOCBA_KAFKA_BOOTSTRAP", "127.0.0.1:99999", "TCP port"),
        ("HOCBA_KAFKA_BOOTSTRAP", "127.0.0.1:65535", "controller"),
        ("HOCBA_PG_DSN", "mysql://a:b@h/db", "postgresql://"),
        ("HOCBA_PG_DSN", "postgresql://127.0.0.1:5432/hocba", "user"),
        ("HOCBA_PG_DSN", "postgresql://u:p@127.0.0.1:5432/", "database"),
        ("HOCBA_PG_DSN", "postgresql://u:p@127.0.0.1:99999/db", "port"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        StackSettings.from_env({name: value}, repo_root=tmp_path)


def test_remote_dsn_is_not_loopback() -> None:
    target = parse_pg_dsn("postgresql://hocba@db.example.vn/hocba")
    assert not target.is_loopback
    assert target.password is None
    assert target.port == 5432
