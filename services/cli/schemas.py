"""``hocba schemas``: list message schemas, freeze released versions, write the message docs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from services.messaging.catalog import render_message_catalog
from services.messaging.schemas import SchemaLoadError, SchemaRegistry, default_schema_dir
from services.messaging.topics import ALL_TOPICS

__all__ = ["register"]

_DOCS = Path(__file__).resolve().parents[2] / "docs" / "messages.md"


def _load(args: argparse.Namespace) -> SchemaRegistry:
    return SchemaRegistry.load(args.schema_dir)


def _list(args: argparse.Namespace) -> int:
    registry = _load(args)
    topics = {t.value_schema: t.name for t in ALL_TOPICS}
    rows: list[dict[str, Any]] = []
    for name in registry.names():
        schema = registry.current(name)
        rows.append(
            {
                "name": name,
                "fingerprint": schema.fingerprint_hex,
                "topic": topics.get(name),
                "versions": len(registry.versions(name)),
                "frozen": schema not in registry.unfrozen(),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            flag = "" if row["frozen"] else "  (not frozen: run `hocba schemas freeze`)"
            print(
                f"{row['name']:<34} {row['fingerprint']}  {row['topic'] or '-':<24}"
                f" versions={row['versions']}{flag}"
            )
    return 0


def _freeze(args: argparse.Namespace) -> int:
    written = _load(args).freeze()
    for path in written:
        print(f"froze {path}")
    if not written:
        print("every current schema is already frozen")
    return 0


def _docs(args: argparse.Namespace) -> int:
    text = render_message_catalog(_load(args))
    target: Path = args.output
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except SchemaLoadError as exc:
            print(f"hocba schemas: {exc}")
            return 2

    return run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("schemas", help="message schemas: list, freeze, docs")
    parser.add_argument(
        "--schema-dir",
        type=Path,
        default=None,
        help=f"schema directory (default: $HOCBA_SCHEMA_DIR or {default_schema_dir()})",
    )
    commands = parser.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="every message type, fingerprint and topic")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_guarded(_list))
    commands.add_parser(
        "freeze", help="record the current version of every changed schema in schemas/history/"
    ).set_defaults(handler=_guarded(_freeze))
    docs = commands.add_parser("docs", help="write the topic and message catalogue (markdown)")
    docs.add_argument("-o", "--output", type=Path, default=_DOCS, help=f"default: {_DOCS}")
    docs.set_defaults(handler=_guarded(_docs))
