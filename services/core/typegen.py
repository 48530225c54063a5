"""Python typing of the Avro messages, generated from their schemas (pure: no file access).

The domain core works directly on Avro datums (the dicts fastavro reads and
writes) so that ``schemas/`` stays the only definition of a record. This module
turns the expanded schemas into ``TypedDict`` classes and ``Literal`` enums, which
give mypy the field names and types without a hand-written copy; the result is
``services/core/avro_types.py``, kept up to date by a unit test and rewritten by
``hocba generate --avro-types``.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["AVRO_TYPES_MESSAGES", "render_avro_types"]

#: The messages the core reads or builds; other messages are the other services' business.
AVRO_TYPES_MESSAGES: tuple[str, ...] = (
    "vn.edu.hocba.YearRecord",
    "vn.edu.hocba.VendorEvent",
    "vn.edu.hocba.ValidatedRecord",
    "vn.edu.hocba.InvalidRecord",
)

_PRIMITIVES = {
    "null": "None",
    "boolean": "bool",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "bytes": "bytes",
    "string": "str",
}
_LOGICAL = {"date": "dt.date", "timestamp-millis": "dt.datetime", "timestamp-micros": "dt.datetime"}


def _short(name: str) -> str:
    return name.rpartition(".")[2]


class _Renderer:
    def __init__(self) -> None:
        self.enums: dict[str, list[str]] = {}
        self.records: dict[str, list[tuple[str, str, str]]] = {}
        self.docs: dict[str, str] = {}

    def type_of(self, node: Any) -> str:
        if isinstance(node, str):
            return _PRIMITIVES.get(node) or _short(node)
        if isinstance(node, list):
            branches = [b for b in node if b != "null"]
            records = [b for b in branches if isinstance(b, dict) and b.get("type") == "record"]
            if len(branches) > 1 and len(records) == len(branches):
                # fastavro reads a union of several records as (full name, record).
                inner = " | ".join(self.type_of(b) for b in branches)
                text = f"tuple[str, {inner}]"
            else:
                text = " | ".join(self.type_of(b) for b in branches)
            return f"{text} | None" if "null" in node else text
        kind = node["type"]
        logical = node.get("logicalType")
        if logical in _LOGICAL:
            return _LOGICAL[logical]
        if kind == "array":
            return f"list[{self.type_of(node['items'])}]"
        if kind == "map":
            return f"dict[str, {self.type_of(node['values'])}]"
        if kind == "enum":
            name = _short(node["name"])
            if name not in self.enums:
                self.enums[name] = list(node["symbols"])
                self.docs[name] = str(node.get("doc", ""))
            return name
        if kind == "record":
            name = _short(node["name"])
            if name not in self.records:
                self.records[name] = []  # reserve the name before recursing
                self.docs[name] = str(node.get("doc", ""))
                self.records[name] = [
                    (f["name"], self.type_of(f["type"]), str(f.get("doc", "")))
                    for f in node["fields"]
                ]
                # Re-insert so that a record comes after every record it uses.
                self.records[name] = self.records.pop(name)
            return name
        return self.type_of(kind)


def _doc_line(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace('"""', "'''")


def render_avro_types(schemas: Sequence[Mapping[str, Any]]) -> str:
    """The source of ``avro_types.py`` for the given expanded message schemas."""
    renderer = _Renderer()
    for schema in schemas:
        renderer.type_of(dict(schema))
    names = sorted(renderer.enums) + list(renderer.records)
    lines = [
        '"""Typing of the Avro messages: GENERATED from schemas/ by services.core.typegen.',
        "",
        "Do not edit: run `hocba generate --avro-types` after changing a schema.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "# fmt: off",
        "# (generated text keeps the schemas' one-line docs; the formatter is not its author)",
        "",
        "from __future__ import annotations",
        "",
        "import datetime as dt",
        "from typing import Literal, TypedDict",
        "",
        "__all__ = [",
        *(f'    "{name}",' for name in sorted(names)),
        "]",
        "",
    ]
    for name in sorted(renderer.enums):
        symbols = ", ".join(f'"{s}"' for s in renderer.enums[name])
        lines += [f"#: {_doc_line(renderer.docs[name])}", f"{name} = Literal[{symbols}]", ""]
    for name, fields in renderer.records.items():
        lines += ["", ""]
        if any(keyword.iskeyword(f) for f, _, _ in fields):  # pragma: no cover - no such schema yet
            body = ", ".join(f'"{f}": "{t}"' for f, t, _ in fields)
            lines.append(f"{name} = TypedDict({name!r}, {{{body}}})")
            continue
        lines += [f"class {name}(TypedDict):", f'    """{_doc_line(renderer.docs[name])}"""', ""]
        for field_name, type_text, doc in fields:
            lines.append(f"    {field_name}: {type_text}")
            lines.append(f'    """{_doc_line(doc)}"""')
    return "\n".join(lines).rstrip() + "\n"
