"""Pure parts of the PostgreSQL setup: quoting, the role script, the cluster settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.stack.postgres import (
    quote_ident,
    quote_literal,
    render_hocba_conf,
    render_role_sql,
)
from services.stack.settings import StackSettings, parse_pg_dsn

pytestmark = pytest.mark.unit


def test_quoting() -> None:
    assert quote_ident("hocba") == '"hocba"'
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_literal("it's") == "'it''s'"


def test_role_sql_creates_or_updates_role_and_database() -> None:
    sql = render_role_sql(parse_pg_dsn("postgresql://hocba:s3cr%27t@127.0.0.1:5432/records"))
    assert "CREATE ROLE \"hocba\" LOGIN PASSWORD ''s3cr''''t''" in sql
    assert 'ALTER ROLE "hocba" LOGIN PASSWORD' in sql
    assert 'CREATE DATABASE "records" OWNER "hocba"' in sql
    assert "WHERE datname = 'records'" in sql
    assert sql.count("\\gexec") == 2


def test_role_sql_without_password() -> None:
    sql = render_role_sql(parse_pg_dsn("postgresql://hocba@127.0.0.1/hocba"))
    assert "PASSWORD" not in sql


def test_cluster_listens_on_loopback_only(tmp_path: Path) -> None:
    settings = StackSettings.from_env(
        {"HOCBA_STATE_DIR": str(tmp_path), "HOCBA_PG_DSN": "postgresql://a:b@127.0.0.1:6543/d"},
        repo_root=tmp_path,
    )
    conf = render_hocba_conf(settings)
    assert "listen_addresses = '127.0.0.1'" in conf
    assert "port = 6543" in conf
    assert f"unix_socket_directories = '{tmp_path / 'postgres' / 'run'}'" in conf
