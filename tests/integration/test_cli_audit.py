"""``hocba access`` and ``hocba audit`` against the real PostgreSQL, in a schema of their own
(``--dsn``/``--schema``), through the commands' argument parsing and handlers as ``hocba``
runs them; output and exit codes as an operator sees them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.cli import _COMMAND_MODULES
from services.cli import access as access_cli
from services.cli import audit as audit_cli
from services.messaging.metrics import ServiceMetrics
from services.stack.migrations import apply_migrations
from services.storage.access import ClientKind, PgAccessStore, Requester, token_digest
from services.storage.admissions import PgAdmissionChecks, QueryKind, parse_query
from services.storage.lookup import Found, LookupLimits, RecordLookup
from services.storage.lookup_store import PgLookupStore
from services.storage.metrics import StorageMetrics
from services.storage.repository import PgRecordStore
from tests.ports import free_port
from tests.unit.test_storage_contract import delivery
from tests.unit.test_storage_fixtures import signed_record

pytestmark = pytest.mark.integration

DSN = os.environ.get("HOCBA_PG_DSN", "postgresql://hocba:hocba@127.0.0.1:5432/hocba")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
PURPOSE = "Tuyển sinh lớp 6 năm học 2025-2026"


def hocba(argv: Sequence[str]) -> int:
    """``hocba ARGV`` with the access and audit commands, as ``services.cli.main`` runs them
    (argparse errors exit 2)."""
    parser = argparse.ArgumentParser(prog="hocba")
    commands = parser.add_subparsers(dest="command")
    access_cli.register(commands)
    audit_cli.register(commands)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return int(args.handler(args))


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as a 250-column terminal shows them (rich folds cells at its 80 by default)."""
    monkeypatch.setenv("COLUMNS", "250")


def test_the_commands_are_registered_with_hocba() -> None:
    assert {"services.cli.access", "services.cli.audit"} <= set(_COMMAND_MODULES)


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"cli_audit_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(f"CREATE SCHEMA {name}")
        finally:
            await conn.close()
        await apply_migrations(DSN, MIGRATIONS, schema=name)

    async def drop() -> None:
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(f"DROP SCHEMA {name} CASCADE")
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield name
    finally:
        asyncio.run(drop())


def db(schema: str) -> list[str]:
    return ["--dsn", DSN, "--schema", schema]


async def _pool(schema: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        DSN, min_size=1, max_size=2, server_settings={"search_path": schema}
    )


def test_access_add_list_revoke(schema: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "access",
        *db(schema),
        "add-client",
        "so-gddt-hcm",
        "--kind",
        "ADMISSIONS_OFFICE",
        "--name",
        "Sở GD&ĐT TP. Hồ Chí Minh",
        "--school",
        "79000701",
        "--school",
        "79000702",
    ]
    assert hocba(argv) == 0
    out, err = capsys.readouterr()
    (token,) = [line.split()[1] for line in out.splitlines() if line.startswith("token:")]
    assert token.startswith("hbt_") and "chỉ hiện một lần" in err

    async def stored() -> Any:
        pool = await _pool(schema)
        try:
            return await PgAccessStore(pool).client_by_token(token_digest(token))
        finally:
            await pool.close()

    client = asyncio.run(stored())
    assert client is not None and client.kind is ClientKind.ADMISSIONS_OFFICE
    assert client.school_codes == {"79000701", "79000702"}
    assert client.name == "Sở GD&ĐT TP. Hồ Chí Minh"

    assert hocba(argv) == 1  # the id exists: refused, no second token
    assert "already exists" in capsys.readouterr().err
    assert (
        hocba(["access", *db(schema), "add-client", "truong-a", "--kind", "SCHOOL", "--name", "A"])
        == 2
    )
    assert "--school" in capsys.readouterr().err
    assert (
        hocba(
            ["access", *db(schema), "add-client", "Bad Id", "--kind", "NATIONAL_DB", "--name", "x"]
        )
        == 2
    )
    assert hocba(["access", *db(schema), "add-client", "x", "--kind", "PARENT", "--name", "x"]) == 2
    capsys.readouterr()
    json_add = ["access", *db(schema), "add-client", "csdl-nganh", "--kind", "NATIONAL_DB"]
    assert hocba([*json_add, "--name", "CSDL ngành", "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["client_id"] == "csdl-nganh" and issued["token"].startswith("hbt_")

    assert hocba(["access", *db(schema), "list"]) == 0
    table = capsys.readouterr().out
    assert "so-gddt-hcm" in table and "ADMISSIONS_OFFICE" in table and token not in table

    assert hocba(["access", *db(schema), "revoke", "so-gddt-hcm"]) == 0
    capsys.readouterr()
    assert hocba(["access", *db(schema), "revoke", "so-gddt-hcm"]) == 1
    assert hocba(["access", *db(schema), "revoke", "nobody"]) == 1
    capsys.readouterr()
    assert hocba(["access", *db(schema), "list", "--json"]) == 0
    listed = {c["client_id"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(listed) == {"csdl-nganh", "so-gddt-hcm"}
    assert listed["so-gddt-hcm"]["revoked_at"] is not None
    assert listed["csdl-nganh"]["revoked_at"] is None
    assert listed["so-gddt-hcm"]["school_codes"] == ["79000701", "79000702"]
    assert asyncio.run(stored()) is not None  # revoked, kept: authenticate refuses it


def test_access_with_the_database_down_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    down = f"postgresql://hocba:hocba@127.0.0.1:{free_port()}/hocba"
    assert hocba(["access", "--dsn", down, "list"]) == 2
    assert hocba(["audit", "--dsn", down, "search"]) == 2
    assert "hocba" in capsys.readouterr().err


@pytest.fixture
def trail(schema: str) -> dict[str, Any]:
    """A stored record, a parent's lookup, an office's admission check, another client."""
    value = signed_record("HS-AUDIT", grade=5)

    async def build() -> dict[str, Any]:
        pool = await _pool(schema)
        try:
            shared = ServiceMetrics("storage")
            metrics = StorageMetrics(shared)
            store = PgRecordStore(pool, shared, actor="hocba-storage/test")
            (result,) = await store.store_batch([delivery(value)])
            assert result.outcome.refusal_code is None
            # A parent's lookup, as GET /v1/records/{code} makes it.
            lookup = RecordLookup(
                PgLookupStore(pool, metrics=shared),
                metrics,
                LookupLimits(min_seconds=0),
            )
            born = value["record"]["student"]["date_of_birth"].isoformat()
            found = await lookup.look_up(
                value["lookup_code"], born, Requester("10.0.0.9", "pytest")
            )
            assert isinstance(found, Found)
            access = PgAccessStore(pool)
            await access.add_client(
                "so-gddt-hcm", ClientKind.ADMISSIONS_OFFICE, "Sở GD&ĐT", ["79000701"]
            )
            (office,) = [c for c in await access.clients() if c.client_id == "so-gddt-hcm"]
            checks = PgAdmissionChecks(pool, metrics)
            entries = await checks.check(
                [parse_query(QueryKind.LOOKUP_CODE, value["lookup_code"])],
                kind=QueryKind.LOOKUP_CODE,
                requester=Requester("10.1.2.3", "pytest", office),
                client=office,
                purpose=PURPOSE,
                request_id="req-cli-1",
            )
            assert entries[0].status.value == "found"
            return {"value": value, "office": office}
        finally:
            await pool.close()

    return asyncio.run(build())


def test_audit_record_by_lookup_code_or_record_id(
    schema: str, trail: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    value = trail["value"]
    typed = value["lookup_code"].lower().replace("-", " ")
    assert hocba(["audit", *db(schema), "record", typed, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["action"] for r in rows] == ["VERSION_STORED", "READ", "READ"]
    stored, parent, office = rows
    assert stored["version"] == 1 and stored["vendor_id"] == "vendor-a"
    assert parent["actor"] == "http:10.0.0.9" and parent["client_id"] is None
    assert (office["client_id"], office["client_kind"], office["purpose"]) == (
        "so-gddt-hcm",
        "ADMISSIONS_OFFICE",
        PURPOSE,
    )
    assert office["detail"]["request_id"] == "req-cli-1"
    assert office["at"].endswith("Z") and stored["at"] <= parent["at"] <= office["at"]

    assert hocba(["audit", *db(schema), "record", value["record_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == rows

    assert hocba(["audit", *db(schema), "record", value["lookup_code"]]) == 0
    table = capsys.readouterr().out
    for text in ("VERSION_STORED", "so-gddt-hcm", "ADMISSIONS_OFFICE", "Tuyển sinh"):
        assert text in table

    unknown = "HB0000000000000009"
    assert hocba(["audit", *db(schema), "record", unknown]) == 1
    assert hocba(["audit", *db(schema), "record", "not-a-code"]) == 2


def test_audit_client_with_a_time_window(
    schema: str, trail: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hocba(["audit", *db(schema), "client", "so-gddt-hcm", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["action"], row["record_id"]) == ("READ", trail["value"]["record_id"])
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()
    window = ["--since", today.isoformat(), "--until", today.isoformat()]
    assert hocba(["audit", *db(schema), "client", "so-gddt-hcm", *window, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert hocba(["audit", *db(schema), "client", "so-gddt-hcm", "--since", tomorrow]) == 1
    assert (
        hocba(["audit", *db(schema), "client", "so-gddt-hcm", "--until", "2020-01-01T00:00Z"]) == 1
    )
    assert hocba(["audit", *db(schema), "client", "nobody"]) == 1
    assert hocba(["audit", *db(schema), "client", "x", "--since", "hôm qua"]) == 2
    assert (
        hocba(["audit", *db(schema), "client", "x", "--since", tomorrow, "--until", "2020-01-01"])
        == 2
    )


def test_audit_search_by_action_actor_and_limit(
    schema: str, trail: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert hocba(["audit", *db(schema), "search", "--action", "READ", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["actor"] for r in rows] == ["client:so-gddt-hcm", "http:10.0.0.9"]  # newest first
    assert hocba(["audit", *db(schema), "search", "--actor", "10.0.0", "--json"]) == 0
    assert [r["actor"] for r in json.loads(capsys.readouterr().out)] == ["http:10.0.0.9"]
    assert hocba(["audit", *db(schema), "search", "--limit", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert hocba(["audit", *db(schema), "search", "--action", "VERIFIED"]) == 1
    assert hocba(["audit", *db(schema), "search", "--action", "DELETED"]) == 2
    assert hocba(["audit", *db(schema), "search", "--limit", "0"]) == 2
    assert hocba(["audit", *db(schema), "search"]) == 0
    assert "READ" in capsys.readouterr().out
