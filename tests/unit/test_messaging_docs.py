"""The generated message catalogue matches the schemas, and the public surface is pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

import services.messaging.codec
import services.messaging.jsonform
import services.messaging.schemas
from services.messaging.catalog import render_message_catalog
from services.messaging.schemas import default_registry

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs" / "messages.md"


def test_docs_messages_md_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_message_catalog(default_registry()), (
        "docs/messages.md is stale: run `hocba schemas docs`"
    )


def test_every_field_of_every_schema_is_documented() -> None:
    missing = []
    for name in default_registry().names():
        stack = [default_registry().current(name).expanded]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                if node.get("type") in ("record", "enum") and not node.get("doc"):
                    missing.append(node["name"])
                for field in node.get("fields", []):
                    if not field.get("doc"):
                        missing.append(f"{node['name']}.{field['name']}")
                    stack.append(field["type"])
                for key in ("items", "values", "type"):
                    if isinstance(node.get(key), dict | list):
                        stack.append(node[key])
    assert missing == []


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            services.messaging.codec,
            {
                "AvroCodec",
                "Decoded",
                "DecodeFailure",
                "EncodeError",
                "HEADER_SIZE",
                "MARKER",
                "default_codec",
            },
        ),
        (
            services.messaging.schemas,
            {
                "MessageSchema",
                "SchemaLoadError",
                "SchemaRegistry",
                "named_types",
                "default_registry",
                "default_schema_dir",
            },
        ),
        (
            services.messaging.jsonform,
            {"JsonFormError", "JsonProblem", "canonical_json", "from_json", "to_json"},
        ),
    ],
)
def test_public_surface(module: object, names: set[str]) -> None:
    assert set(module.__all__) == names  # type: ignore[attr-defined]
    for name in names:
        assert hasattr(module, name)
