"""Hypothesis strategies that draw valid datums for any Avro schema of ``schemas/``.

Datums take the shape the codec reads back: dates as ``datetime.date``,
timestamps as UTC ``datetime`` truncated to milliseconds, unions of several
records as ``(full name, record)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from services.messaging.schemas import MessageSchema

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_TIMESTAMPS = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000, fold=0))


def _strategy(node: Any, named: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(node, str) and node in named:
        node = named[node]
    if isinstance(node, list):
        others = [b for b in node if b != "null"]
        several_records = len(others) > 1
        options = [st.none()] if "null" in node else []
        for branch in others:
            inner = _strategy(branch, named)
            if several_records:
                name = branch if isinstance(branch, str) else branch["name"]
                inner = inner.map(lambda v, n=name: (n, v))
            options.append(inner)
        return st.one_of(options)
    kind = node if isinstance(node, str) else node["type"]
    if isinstance(kind, dict | list):
        return _strategy(kind, named)
    logical = node.get("logicalType") if isinstance(node, dict) else None
    if logical == "date":
        return st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1))
    if logical == "timestamp-millis":
        return _TIMESTAMPS
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": _INT32,
        "long": _INT64,
        "float": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False),
        "string": _TEXT,
        "bytes": st.binary(max_size=24),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(node["symbols"])
    if kind == "array":
        return st.lists(_strategy(node["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(_TEXT, _strategy(node["values"], named), max_size=3)
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: _strategy(f["type"], named) for f in node["fields"]}
        )
    raise ValueError(f"no strategy for {kind!r}")


def datums(schema: MessageSchema) -> st.SearchStrategy[dict[str, Any]]:
    """Valid datums of ``schema``."""
    return _strategy(dict(schema.expanded), schema.named)


def without_record_names(value: Any) -> Any:
    """The same datum with ``(name, record)`` unions unwrapped, as other libraries use it."""
    if isinstance(value, tuple):
        return without_record_names(value[1])
    if isinstance(value, dict):
        return {k: without_record_names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_record_names(v) for v in value]
    return value
