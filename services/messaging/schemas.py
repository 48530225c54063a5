"""The Avro schemas of ``schemas/``, loaded once: the only definition of every message.

Layout of the schema directory::

    schemas/types/*.avsc     named types shared by messages (enums, sub-records)
    schemas/*.avsc           one message type a file (what a topic or a file carries)
    schemas/history/<full name>/<fingerprint>.avsc
                             every released version of a message, expanded and frozen;
                             readers resolve old writers' data through these

A message's identity on the wire is the CRC-64-AVRO fingerprint of its Parsing
Canonical Form (Avro specification, "Single-object encoding"). The current
schema of each message must be frozen in ``history/`` (``hocba schemas freeze``)
and must be able to read every earlier version (checked by the test suite).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

__all__ = [
    "MessageSchema",
    "SchemaLoadError",
    "SchemaRegistry",
    "default_registry",
    "default_schema_dir",
    "named_types",
]

_FINGERPRINT_ALGORITHM = "CRC-64-AVRO"


class SchemaLoadError(Exception):
    """The schema directory is missing, unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class MessageSchema:
    """One version of one message type."""

    full_name: str
    #: fastavro's parsed form, ready for its readers and writers.
    parsed: Any = field(repr=False)
    #: The schema with every named type written out: standalone JSON any Avro library reads.
    expanded: Mapping[str, Any] = field(repr=False)
    canonical_form: str = field(repr=False)
    #: 8 bytes, little-endian CRC-64-AVRO, exactly as written after the single-object marker.
    fingerprint: bytes
    source: Path
    #: Every named type of the expanded schema by full name (each is written out once).
    named: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()

    @property
    def doc(self) -> str:
        return str(self.expanded.get("doc", ""))


def default_schema_dir() -> Path:
    """``$HOCBA_SCHEMA_DIR``, or ``schemas/`` at the root of this checkout."""
    configured = os.environ.get("HOCBA_SCHEMA_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "schemas"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaLoadError(f"{path}: cannot read schema: {exc}") from exc


def _full_name(schema: Mapping[str, Any], path: Path) -> str:
    name = schema.get("name")
    if not isinstance(name, str):
        raise SchemaLoadError(f"{path}: a schema file must define one named type")
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})


def _qualify(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _namespace_of(full_name: str) -> str | None:
    return full_name.rpartition(".")[0] or None


def _collect_definitions(
    node: Any, namespace: str | None, into: dict[str, Any], path: Path
) -> None:
    """Register every named type defined anywhere in ``node`` under its full name."""
    if isinstance(node, list):
        for item in node:
            _collect_definitions(item, namespace, into, path)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in _NAMED_KINDS:
        full = _qualify(str(node["name"]), node.get("namespace", namespace))
        if full in into:
            raise SchemaLoadError(f"{path}: {full} is defined more than once")
        into[full] = (node, path)
        namespace = _namespace_of(full)
        for fld in node.get("fields", []):
            _collect_definitions(fld.get("type"), namespace, into, path)
    elif kind == "array":
        _collect_definitions(node.get("items"), namespace, into, path)
    elif kind == "map":
        _collect_definitions(node.get("values"), namespace, into, path)
    elif isinstance(kind, dict | list):
        _collect_definitions(kind, namespace, into, path)


def _expand(node: Any, namespace: str | None, named: Mapping[str, Any], seen: set[str]) -> Any:
    """Write out every named type at its first use, as a standalone schema needs.

    (fastavro's own ``expand=True`` leaves names nested inside an inlined type as
    references, which other Avro libraries cannot resolve.)
    """
    if isinstance(node, str):
        if node in _PRIMITIVES:
            return node
        full = _qualify(node, namespace)
        if full in seen:
            return full
        if full not in named:
            raise SchemaLoadError(f"unknown type {full!r}")
        definition, _ = named[full]
        return _expand(definition, _namespace_of(full), named, seen)
    if isinstance(node, list):
        return [_expand(item, namespace, named, seen) for item in node]
    if not isinstance(node, dict):
        raise SchemaLoadError(f"not an Avro schema: {node!r}")
    kind = node.get("type")
    out = dict(node)
    if kind in _NAMED_KINDS:
        full = _qualify(str(node["name"]), node.get("namespace", namespace))
        seen.add(full)
        out.pop("namespace", None)
        out["name"] = full
        if "fields" in node:
            inner = _namespace_of(full)
            out["fields"] = [
                {**fld, "type": _expand(fld["type"], inner, named, seen)} for fld in node["fields"]
            ]
    elif kind == "array":
        out["items"] = _expand(node["items"], namespace, named, seen)
    elif kind == "map":
        out["values"] = _expand(node["values"], namespace, named, seen)
    elif isinstance(kind, dict | list) or (isinstance(kind, str) and kind not in _PRIMITIVES):
        out["type"] = _expand(kind, namespace, named, seen)
    return out


def _standalone(raw: Any, named: Mapping[str, Any], path: Path) -> tuple[Any, dict[str, Any]]:
    try:
        expanded = _expand(raw, None, named, set())
        parsed = fastavro.parse_schema(expanded, named_schemas={})
    except (ValueError, TypeError, KeyError) as exc:
        raise SchemaLoadError(f"{path}: invalid Avro schema: {exc}") from exc
    return parsed, expanded


def named_types(node: Any, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every named type (record, enum, fixed) defined in an expanded schema, by full name."""
    into = {} if into is None else into
    if isinstance(node, list):
        for item in node:
            named_types(item, into)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in _NAMED_KINDS:
            into.setdefault(str(node["name"]), node)
            for fld in node.get("fields", []):
                named_types(fld["type"], into)
        elif kind == "array":
            named_types(node["items"], into)
        elif kind == "map":
            named_types(node["values"], into)
        elif isinstance(kind, dict | list):
            named_types(kind, into)
    return into


def _message_schema(parsed: Any, expanded: dict[str, Any], source: Path) -> MessageSchema:
    canonical = to_parsing_canonical_form(expanded)
    return MessageSchema(
        full_name=_full_name(expanded, source),
        parsed=parsed,
        expanded=expanded,
        canonical_form=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, _FINGERPRINT_ALGORITHM)),
        source=source,
        named=named_types(expanded),
    )


class SchemaRegistry:
    """Current schemas by full name, and every known version by fingerprint."""

    def __init__(
        self,
        current: Mapping[str, MessageSchema],
        history: Iterable[MessageSchema] = (),
    ) -> None:
        self._current = dict(current)
        self._by_fingerprint: dict[bytes, MessageSchema] = {}
        for schema in (*history, *self._current.values()):
            # A frozen copy of the current version has the same fingerprint: keep the current one.
            self._by_fingerprint[schema.fingerprint] = schema

    @classmethod
    def load(cls, directory: Path | None = None) -> SchemaRegistry:
        root = directory or default_schema_dir()
        if not root.is_dir():
            raise SchemaLoadError(f"schema directory not found: {root}")
        named: dict[str, Any] = {}
        raw_messages: dict[Path, Any] = {}
        for path in sorted((root / "types").glob("*.avsc")):
            _collect_definitions(_read_json(path), None, named, path)
        for path in sorted(root.glob("*.avsc")):
            raw_messages[path] = _read_json(path)
            _collect_definitions(raw_messages[path], None, named, path)
        current: dict[str, MessageSchema] = {}
        for path, raw in raw_messages.items():
            schema = _message_schema(*_standalone(raw, named, path), path)
            current[schema.full_name] = schema
        history = [cls._load_frozen(path) for path in sorted(root.glob("history/*/*.avsc"))]
        return cls(current, history)

    @staticmethod
    def _load_frozen(path: Path) -> MessageSchema:
        raw = _read_json(path)
        named: dict[str, Any] = {}
        _collect_definitions(raw, None, named, path)
        parsed, expanded = _standalone(raw, named, path)
        schema = _message_schema(parsed, expanded, path)
        if path.stem != schema.fingerprint_hex or path.parent.name != schema.full_name:
            raise SchemaLoadError(
                f"{path}: a frozen schema must live at history/{schema.full_name}/"
                f"{schema.fingerprint_hex}.avsc; it was edited after freezing"
            )
        return schema

    def current(self, full_name: str) -> MessageSchema:
        """The current version of a message type; ``KeyError`` when there is none."""
        return self._current[full_name]

    def by_fingerprint(self, fp: bytes) -> MessageSchema | None:
        """The version a writer used, or ``None`` for a fingerprint never released."""
        return self._by_fingerprint.get(fp)

    def names(self) -> list[str]:
        return sorted(self._current)

    def versions(self, full_name: str) -> list[MessageSchema]:
        """Every known version of a message type (history and current)."""
        return [s for s in self._by_fingerprint.values() if s.full_name == full_name]

    def unfrozen(self) -> list[MessageSchema]:
        """Current schemas whose exact version is not yet in ``history/``."""
        return [
            s
            for s in self._current.values()
            if s.source.parent.name != "history" and not self._is_frozen(s)
        ]

    def _is_frozen(self, schema: MessageSchema) -> bool:
        return (
            schema.source.parent / "history" / schema.full_name / f"{schema.fingerprint_hex}.avsc"
        ).is_file()

    def freeze(self) -> list[Path]:
        """Write every unfrozen current schema into ``history/``; return the files written."""
        written: list[Path] = []
        for schema in self.unfrozen():
            target = (
                schema.source.parent
                / "history"
                / schema.full_name
                / f"{schema.fingerprint_hex}.avsc"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                json.dumps(schema.expanded, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            written.append(target)
        return written


@lru_cache(maxsize=1)
def default_registry() -> SchemaRegistry:
    """The registry of ``default_schema_dir()``, loaded once per process."""
    return SchemaRegistry.load()
