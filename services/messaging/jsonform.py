"""The JSON form of messages: what vendors write by hand and what HTTP carries.

Plain JSON objects with the field names of the Avro schema, so one definition
(``schemas/``) serves both encodings:

* ``date`` fields are ``"YYYY-MM-DD"``; ``timestamp-millis`` fields are ISO-8601
  strings with a zone (``"2025-05-20T08:00:00Z"``); ``bytes`` are base64;
* a nullable field is the value itself or ``null`` (absent: its default);
* a union of several records (``VendorEvent.payload``) is an object with one
  key, the record's name: ``{"StudentProfile": {...}}``.

Every problem is collected with its path, so a vendor sees them all at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.messaging.schemas import MessageSchema

__all__ = ["JsonFormError", "JsonProblem", "canonical_json", "from_json", "to_json"]

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)


@dataclass(frozen=True, slots=True)
class JsonProblem:
    """One place where a JSON document does not fit its schema."""

    path: str
    message: str


class JsonFormError(ValueError):
    """A JSON document does not fit its schema; ``problems`` lists every place."""

    def __init__(self, schema_name: str, problems: list[JsonProblem]) -> None:
        summary = "; ".join(f"{p.path or '(root)'}: {p.message}" for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{schema_name}: {summary}{more}")
        self.schema_name = schema_name
        self.problems = problems


def _join(path: str, part: str) -> str:
    if part.startswith("["):
        return f"{path}{part}"
    return f"{path}.{part}" if path else part


def _short(name: str) -> str:
    return name.rpartition(".")[2]


class _Reader:
    def __init__(self, schema: MessageSchema) -> None:
        self.named = schema.named
        self.problems: list[JsonProblem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(JsonProblem(path, message))

    def resolve(self, node: Any) -> Any:
        return self.named[node] if isinstance(node, str) and node in self.named else node

    def convert(self, node: Any, value: Any, path: str) -> Any:
        node = self.resolve(node)
        if isinstance(node, list):
            return self.union(node, value, path)
        kind = node if isinstance(node, str) else node["type"]
        if isinstance(kind, dict | list):
            return self.convert(kind, value, path)
        logical = node.get("logicalType") if isinstance(node, dict) else None
        if kind == "null":
            if value is not None:
                self.fail(path, "must be null")
            return None
        if kind == "boolean":
            if not isinstance(value, bool):
                self.fail(path, "must be true or false")
            return value
        if kind in ("int", "long"):
            return self.integer(kind, logical, value, path)
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(path, "must be a number")
            return value
        if kind == "string":
            if not isinstance(value, str):
                self.fail(path, "must be a string")
            return value
        if kind == "bytes":
            return self.base64(value, path)
        if kind == "enum":
            if value not in node["symbols"]:
                self.fail(path, f"must be one of {', '.join(node['symbols'])}")
            return value
        if kind == "array":
            if not isinstance(value, list):
                self.fail(path, "must be a list")
                return []
            return [
                self.convert(node["items"], v, _join(path, f"[{i}]")) for i, v in enumerate(value)
            ]
        if kind == "map":
            if not isinstance(value, dict):
                self.fail(path, "must be an object")
                return {}
            return {k: self.convert(node["values"], v, _join(path, k)) for k, v in value.items()}
        if kind == "record":
            return self.record(node, value, path)
        self.fail(path, f"unsupported schema type {kind!r}")
        return value

    def integer(self, kind: str, logical: str | None, value: Any, path: str) -> Any:
        if logical == "date":
            if not isinstance(value, str):
                self.fail(path, "must be a date 'YYYY-MM-DD'")
                return None
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                self.fail(path, f"not a valid date 'YYYY-MM-DD': {value!r}")
                return None
        if logical in ("timestamp-millis", "timestamp-micros"):
            if not isinstance(value, str):
                self.fail(path, "must be an ISO-8601 timestamp with a zone")
                return None
            try:
                stamp = dt.datetime.fromisoformat(value)
            except ValueError:
                self.fail(path, f"not a valid ISO-8601 timestamp: {value!r}")
                return None
            if stamp.tzinfo is None:
                self.fail(path, "timestamp needs a zone (e.g. 'Z' or '+07:00')")
                return None
            return stamp
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be a whole number")
            return value
        bits = 31 if kind == "int" else 63
        if not -(2**bits) <= value < 2**bits:
            self.fail(path, f"out of range for {kind}")
        return value

    def base64(self, value: Any, path: str) -> bytes:
        if not isinstance(value, str):
            self.fail(path, "must be base64 text")
            return b""
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            self.fail(path, "not valid base64")
            return b""

    def union(self, branches: list[Any], value: Any, path: str) -> Any:
        if value is None:
            if "null" not in branches:
                self.fail(path, "must not be null")
            return None
        others = [b for b in branches if b != "null"]
        if len(others) == 1:
            return self.convert(others[0], value, path)
        by_name = {}
        for branch in others:
            resolved = self.resolve(branch)
            if isinstance(resolved, dict) and "name" in resolved:
                by_name[resolved["name"]] = resolved
                by_name[_short(resolved["name"])] = resolved
        names = sorted({_short(n) for n in by_name})
        if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in by_name):
            self.fail(path, f"must be an object with one key naming its kind: {', '.join(names)}")
            return None
        name, inner = next(iter(value.items()))
        branch = by_name[name]
        return (branch["name"], self.convert(branch, inner, _join(path, name)))

    def record(self, node: Mapping[str, Any], value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return {}
        fields = {f["name"]: f for f in node["fields"]}
        for unknown in sorted(set(value) - set(fields)):
            self.fail(_join(path, unknown), "unknown field")
        out: dict[str, Any] = {}
        for name, fld in fields.items():
            sub = _join(path, name)
            if name in value:
                out[name] = self.convert(fld["type"], value[name], sub)
            elif "default" in fld:
                default = fld["default"]
                out[name] = (
                    list(default)
                    if isinstance(default, list)
                    else (dict(default) if isinstance(default, dict) else default)
                )
            else:
                self.fail(sub, "required field is missing")
        return out


def from_json(schema: MessageSchema, document: Any) -> dict[str, Any]:
    """Convert a JSON document into a datum of ``schema``; raise :class:`JsonFormError`."""
    reader = _Reader(schema)
    datum = reader.convert(dict(schema.expanded), document, "")
    if reader.problems:
        raise JsonFormError(schema.full_name, reader.problems)
    return dict(datum)


def _to_json(node: Any, value: Any, named: Mapping[str, Any]) -> Any:
    if isinstance(node, str) and node in named:
        node = named[node]
    if value is None:
        return None
    if isinstance(node, list):
        if isinstance(value, tuple):
            name, inner = value
            return {_short(name): _to_json(name, inner, named)}
        others = [b for b in node if b != "null"]
        return _to_json(others[0], value, named) if len(others) == 1 else value
    kind = node if isinstance(node, str) else node["type"]
    if isinstance(kind, dict | list):
        return _to_json(kind, value, named)
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=_UTC)
        return stamp.astimezone(_UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if kind == "array":
        return [_to_json(node["items"], v, named) for v in value]
    if kind == "map":
        return {k: _to_json(node["values"], v, named) for k, v in value.items()}
    if kind == "record":
        return {f["name"]: _to_json(f["type"], value.get(f["name"]), named) for f in node["fields"]}
    return value


def to_json(schema: MessageSchema, datum: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a datum of ``schema`` into its JSON form (dates and times as ISO text)."""
    named = schema.named
    return dict(_to_json(dict(schema.expanded), datum, named))


def canonical_json(schema: MessageSchema, datum: Mapping[str, Any]) -> bytes:
    """The one byte form of a message's JSON: keys sorted, no spaces, UTF-8 (not escaped).

    What is hashed, embedded in the record PDF and compared across services, so two
    equal records always give the same bytes.
    """
    return json.dumps(
        to_json(schema, datum), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
