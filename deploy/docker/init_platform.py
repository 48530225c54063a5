"""One-shot preparation of the platform in docker-compose.yml: topics, migrations, dev signing.

``python deploy/docker/init_platform.py topics``
    Creates every topic of ``services.messaging.topics.ALL_TOPICS`` on
    ``HOCBA_KAFKA_BOOTSTRAP`` with ``HOCBA_TOPIC_PARTITIONS`` partitions; existing topics
    keep their partitions and get the configuration the platform relies on.
``python deploy/docker/init_platform.py migrate``
    Applies ``services/storage/migrations`` to ``HOCBA_PG_DSN``.
``python deploy/docker/init_platform.py dev-signing DIR``
    Builds the development PKI, its signer registry and a record-id key into ``DIR`` (once:
    a later run keeps them, so record identifiers never change) and writes the two secrets
    the signing service needs, ``HOCBA_RECORD_ID_KEY`` and ``HOCBA_DEV_P12_PASSPHRASE``, as
    files of ``DIR/env/`` (``entrypoint.sh`` turns them into environment variables).

These are the steps of ``hocba stack up`` (the same functions: ``ensure_topics``,
``apply_migrations``) and of ``hocba run signing`` without configuration (``dev_signing``).
``stack up`` itself cannot run here: it starts a broker and a database of its own, or
refuses a broker it did not start. Exit status 0 on success, 1 with one line on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from aiokafka.errors import KafkaError

from services.cli.devsigning import dev_signing
from services.messaging.topics import ALL_TOPICS
from services.signing.errors import DevPkiError
from services.stack.errors import DatabaseUnavailableError, StackError, TopicError
from services.stack.kafka_topics import ensure_topics
from services.stack.migrations import apply_migrations
from services.stack.settings import StackSettings

__all__ = ["build_parser", "is_retriable", "main"]

_T = TypeVar("_T")
_RETRY_PAUSE_S = 2.0
#: The variables ``dev_signing`` provides that are secrets: written to DIR/env/, never
#: into the compose file. ``HOCBA_SIGNERS_FILE`` is a path, set in the compose file.
_SECRET_VARIABLES = ("HOCBA_RECORD_ID_KEY", "HOCBA_DEV_P12_PASSPHRASE")


def is_retriable(error: StackError) -> bool:
    """True when the broker or the database is not there yet (worth another try)."""
    if isinstance(error, DatabaseUnavailableError):
        return True
    cause = error.__cause__
    return isinstance(error, TopicError) and isinstance(cause, KafkaError) and cause.retriable


def _with_retries(step: Callable[[], _T], wait_s: float) -> _T:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return step()
        except StackError as error:
            if not is_retriable(error) or time.monotonic() >= deadline:
                raise
            print(f"not ready yet, retrying: {error}", file=sys.stderr, flush=True)
            time.sleep(_RETRY_PAUSE_S)


def _topics(settings: StackSettings, wait_s: float) -> None:
    # aiokafka logs every refused connection while the broker starts; our retry line
    # already says so.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    report = _with_retries(
        lambda: asyncio.run(
            ensure_topics(settings.kafka_bootstrap, ALL_TOPICS, settings.topic_partitions)
        ),
        wait_s,
    )
    print(
        f"topics on {settings.kafka_bootstrap}: created {len(report.created)} "
        f"({settings.topic_partitions} partitions each), already there {len(report.existing)}",
        flush=True,
    )
    for name, count in sorted(report.other_partitions.items()):
        print(f"  note: existing topic {name} has {count} partitions; left as is", flush=True)


def _migrate(settings: StackSettings, wait_s: float) -> None:
    applied = _with_retries(
        lambda: asyncio.run(apply_migrations(settings.pg_dsn, settings.migrations_dir)),
        wait_s,
    )
    print(
        f"migrations applied now: {', '.join(applied) if applied else 'none pending'}",
        flush=True,
    )


def _dev_signing(directory: Path, expected_registry: str | None) -> None:
    # An empty mapping, not os.environ: the compose file sets HOCBA_SIGNERS_FILE for the
    # check below, and dev_signing does nothing when it is set.
    with dev_signing(directory, {}) as provided:
        registry = provided["HOCBA_SIGNERS_FILE"]
        if expected_registry and Path(expected_registry) != Path(registry):
            raise DevPkiError(
                f"the dev signer registry is {registry}, but HOCBA_SIGNERS_FILE names "
                f"{expected_registry}: set HOCBA_SIGNERS_FILE={registry} in docker-compose.yml"
            )
        env_dir = directory / "env"
        env_dir.mkdir(mode=0o700, exist_ok=True)
        for name in _SECRET_VARIABLES:
            path = env_dir / name
            path.write_text(provided[name], encoding="utf-8")
            path.chmod(0o600)
    print(f"dev signing material in {directory}: registry {registry}, secrets in {env_dir}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="init_platform.py",
        description="Prepare the platform of docker-compose.yml (configured by HOCBA_*).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="STEP")
    for name, text in (
        ("topics", "create the platform's Kafka topics (HOCBA_KAFKA_BOOTSTRAP)"),
        ("migrate", "apply the database migrations (HOCBA_PG_DSN)"),
    ):
        step = commands.add_parser(name, help=text)
        step.add_argument(
            "--wait",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="how long to retry while the server is not reachable (default 60)",
        )
    signing = commands.add_parser(
        "dev-signing", help="build the development PKI, signer registry and record-id key"
    )
    signing.add_argument("directory", type=Path, help="where (a volume shared with signing)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "dev-signing":
            _dev_signing(args.directory, os.environ.get("HOCBA_SIGNERS_FILE"))
        elif args.command == "topics":
            _topics(StackSettings.from_env(), args.wait)
        else:
            _migrate(StackSettings.from_env(), args.wait)
    except (StackError, DevPkiError, OSError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
