"""The local PostgreSQL: Debian's server binaries, a project-owned cluster under the state dir.

The server refuses to run as root, so when ``hocba`` runs as root every server-side
command (initdb, pg_ctl, the superuser psql) runs as the ``postgres`` OS user through
``runuser``; as any other user they run as that user.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import shutil
import subprocess
from pathlib import Path

import asyncpg
from rich.console import Console

from services.stack.errors import (
    DatabaseUnavailableError,
    DiskFullError,
    PostgresSetupError,
    StartTimeoutError,
)
from services.stack.processes import is_ours, read_pid
from services.stack.settings import PgTarget, StackSettings

__all__ = [
    "PgReady",
    "check_dsn",
    "ensure_cluster",
    "ensure_installed",
    "ensure_role_and_database",
    "find_bindir",
    "pg_isready",
    "postgres_pid",
    "quote_ident",
    "quote_literal",
    "render_hocba_conf",
    "render_role_sql",
    "start_cluster",
    "wait_for_postgres",
]

_SERVER_USER = "postgres"
# Debian's clusters put their sockets here; a reused server is reached through it.
_SYSTEM_SOCKET_DIR = Path("/var/run/postgresql")


class PgReady:
    """``pg_isready`` exit codes."""

    ACCEPTING = 0
    REJECTING = 1  # A PostgreSQL that is starting up or shutting down.
    NO_RESPONSE = 2
    NO_ATTEMPT = 3


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` that has ``initdb``."""
    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]

    def major(bindir: Path) -> int:
        name = bindir.parent.name
        return int(name) if name.isdigit() else 0

    return max(candidates, key=major) if candidates else None


def ensure_installed(settings: StackSettings, console: Console) -> Path:
    """Return the server's bin dir, installing Debian's ``postgresql`` package if absent."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0:
        raise PostgresSetupError(
            "PostgreSQL is not installed: run `sudo apt-get install -y postgresql` "
            "and `hocba stack up` again"
        )
    log_file = settings.state_dir / "apt-postgresql.log"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with console.status("Installing PostgreSQL (apt-get install postgresql)…"):
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        ):
            result = subprocess.run(
                command, capture_output=True, text=True, env=env, timeout=900, check=False
            )
            with log_file.open("a", encoding="utf-8") as log:
                log.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
            if result.returncode != 0:
                if "no space left on device" in (result.stdout + result.stderr).lower():
                    raise DiskFullError(
                        f"disk full while installing PostgreSQL; free space (see {log_file})"
                    )
                raise PostgresSetupError(
                    f"`{' '.join(command)}` failed (exit {result.returncode}); check the "
                    f"network and apt sources, see {log_file}"
                )
    bindir = find_bindir()
    if bindir is None:
        raise PostgresSetupError(
            f"apt-get installed postgresql but no initdb appeared; see {log_file}"
        )
    console.print(f"  installed PostgreSQL ({bindir.parent.name})")
    return bindir


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", _SERVER_USER, "--", *command]
    return command


def _superuser() -> str:
    # initdb names the bootstrap superuser after the OS user it runs as; peer auth
    # on the socket then admits exactly that user.
    return _SERVER_USER if os.geteuid() == 0 else getpass.getuser()


def _run(command: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def render_hocba_conf(settings: StackSettings) -> str:
    """Settings of the project's cluster, included from ``postgresql.conf``."""
    return "\n".join(
        [
            "# Rendered by `hocba stack up` on every start; edits here are overwritten.",
            # Loopback only: this is a development server with a well-known password.
            "listen_addresses = '127.0.0.1'",
            f"port = {settings.pg.port}",
            f"unix_socket_directories = '{settings.pg_socket_dir}'",
            "max_connections = 200",
            "",
        ]
    )


def _prepare_dir(settings: StackSettings) -> None:
    pg_dir = settings.pg_dir
    for directory in (pg_dir, settings.pg_socket_dir):
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory, _SERVER_USER, _SERVER_USER)
    pg_dir.chmod(0o755)
    if os.geteuid() == 0:
        probe = _run(["runuser", "-u", _SERVER_USER, "--", "test", "-w", str(pg_dir)])
        if probe.returncode != 0:
            raise PostgresSetupError(
                f"the postgres OS user cannot reach {pg_dir} (a parent directory is private); "
                "set HOCBA_STATE_DIR to a directory outside private home directories"
            )


def ensure_cluster(settings: StackSettings, bindir: Path, console: Console) -> bool:
    """initdb the project's cluster once, and (re)write its settings. True if created."""
    _prepare_dir(settings)
    data = settings.pg_data_dir
    created = False
    if not (data / "PG_VERSION").is_file():
        command = _as_server_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                _superuser(),
                "--encoding=UTF8",
                # C.UTF-8 exists on every Debian; collation-sensitive code must not
                # depend on the machine's locale anyway.
                "--locale=C.UTF-8",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "--no-instructions",
            ]
        )
        with console.status("Initialising the PostgreSQL cluster (first run only)…"):
            result = _run(command, timeout=120)
        if result.returncode != 0:
            output = result.stdout + result.stderr
            if "no space left on device" in output.lower():
                raise DiskFullError(f"disk full initialising PostgreSQL in {data}; free space")
            raise PostgresSetupError(
                f"initdb failed (exit {result.returncode}): {_last_line(output)}"
            )
        created = True
        console.print(f"  initialised PostgreSQL cluster in {data}")
    conf = data / "postgresql.conf"
    include = "include = 'hocba.conf'"
    text = conf.read_text(encoding="utf-8")
    if include not in text:
        conf.write_text(text + f"\n# Added by hocba stack up.\n{include}\n", encoding="utf-8")
    (data / "hocba.conf").write_text(render_hocba_conf(settings), encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(data / "hocba.conf", _SERVER_USER, _SERVER_USER)
    return created


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def postgres_pid(settings: StackSettings) -> int | None:
    """Pid of the project's postmaster, if it is running."""
    pid = read_pid(settings.pg_data_dir / "postmaster.pid")
    return pid if is_ours(pid, str(settings.pg_data_dir)) else None


def start_cluster(settings: StackSettings, bindir: Path) -> None:
    """Ask pg_ctl to start the cluster without waiting (we poll with our own bound)."""
    if os.geteuid() == 0 and not settings.pg_log_file.exists():
        # The server (as postgres) appends to it; root made the directory.
        settings.pg_log_file.touch()
        shutil.chown(settings.pg_log_file, _SERVER_USER, _SERVER_USER)
    command = _as_server_user(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(settings.pg_data_dir),
            "-l",
            str(settings.pg_log_file),
            "-W",
            "-s",
            "start",
        ]
    )
    result = _run(command)
    if result.returncode != 0:
        raise PostgresSetupError(
            f"pg_ctl start failed (exit {result.returncode}): "
            f"{_last_line(result.stdout + result.stderr)}; see {settings.pg_log_file}"
        )


def pg_isready(bindir: Path, host: str, port: int, timeout: int = 2) -> int:
    """``pg_isready`` exit code (see :class:`PgReady`); it needs no role or password."""
    result = _run(
        [str(bindir / "pg_isready"), "-q", "-h", host, "-p", str(port), "-t", str(timeout)],
        timeout=timeout + 5,
    )
    return result.returncode


async def wait_for_postgres(
    settings: StackSettings, bindir: Path, console: Console, timeout: float = 30.0
) -> None:
    """Wait until the server accepts connections; raise :class:`StartTimeoutError`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pg = settings.pg
    with console.status(f"Waiting for PostgreSQL on {pg.host}:{pg.port}…"):
        while loop.time() < deadline:
            if pg_isready(bindir, pg.host, pg.port, timeout=1) == PgReady.ACCEPTING:
                return
            await asyncio.sleep(0.2)
    raise StartTimeoutError(
        f"PostgreSQL did not accept connections on {pg.host}:{pg.port} within "
        f"{timeout:.0f} s; see {settings.pg_log_file}"
    )


def quote_ident(name: str) -> str:
    """SQL identifier quoting (``"a""b"``)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """SQL string literal quoting (standard_conforming_strings is on since PostgreSQL 9.1)."""
    return "'" + value.replace("'", "''") + "'"


def render_role_sql(target: PgTarget) -> str:
    """psql script: the login role (password kept in step with the DSN) and its database."""
    role = quote_ident(target.user)
    password = f" PASSWORD {quote_literal(target.password)}" if target.password else ""
    role_literal = quote_literal(target.user)
    db_literal = quote_literal(target.database)
    db = quote_ident(target.database)
    # The role statements go through \gexec: psql does not interpolate inside DO bodies,
    # and CREATE DATABASE cannot run inside one anyway.
    return "\n".join(
        [
            f"SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = {role_literal})",
            f"  THEN {quote_literal(f'ALTER ROLE {role} LOGIN{password}')}",
            f"  ELSE {quote_literal(f'CREATE ROLE {role} LOGIN{password}')} END",
            "\\gexec",
            f"SELECT {quote_literal(f'CREATE DATABASE {db} OWNER {role}')}",
            f"  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {db_literal})",
            "\\gexec",
            "",
        ]
    )


def ensure_role_and_database(settings: StackSettings, bindir: Path, *, own: bool) -> None:
    """Create (or refresh) the DSN's role and database, as the server's superuser."""
    socket_dir = settings.pg_socket_dir if own else _SYSTEM_SOCKET_DIR
    port = settings.pg.port
    if not own and not (socket_dir / f".s.PGSQL.{port}").exists():
        raise PostgresSetupError(
            f"a PostgreSQL answers on 127.0.0.1:{port} but has no socket in {socket_dir} to "
            f"create role {settings.pg.user!r}: create it and database {settings.pg.database!r} "
            "yourself, or stop that server so `hocba stack up` runs its own"
        )
    command = _as_server_user(
        [
            str(bindir / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(socket_dir),
            "-p",
            str(port),
            "-U",
            _superuser(),
            "-d",
            "postgres",
        ]
    )
    result = subprocess.run(
        command,
        input=render_role_sql(settings.pg),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        where = "the project's cluster" if own else f"the PostgreSQL on 127.0.0.1:{port}"
        raise PostgresSetupError(
            f"could not create role {settings.pg.user!r} / database {settings.pg.database!r} in "
            f"{where}: {_last_line(result.stdout + result.stderr)}"
        )


_VERSION_RE = re.compile(r"PostgreSQL (\S+)")


async def check_dsn(dsn: str, timeout: float = 5.0) -> str:
    """Connect with ``dsn`` and return the server version; raise on any failure."""
    try:
        connection = await asyncpg.connect(dsn, timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailableError(
            f"cannot connect with HOCBA_PG_DSN: {type(exc).__name__}: {exc}; run "
            "`hocba stack up` (or fix HOCBA_PG_DSN)"
        ) from exc
    try:
        version = str(await connection.fetchval("SELECT version()"))
    finally:
        await connection.close()
    match = _VERSION_RE.search(version)
    return match.group(1) if match else version
