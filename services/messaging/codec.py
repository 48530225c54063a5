"""Avro single-object encoding of every message (Avro specification 1.12, "Single-object encoding").

Wire format: ``C3 01`` marker, the 8-byte little-endian CRC-64-AVRO fingerprint of
the writer schema's Parsing Canonical Form, then the Avro binary body. A reader
looks the writer's schema up by fingerprint and resolves it against its own
current version of the same message, so old messages stay readable after a
schema evolves.

Decoding never raises on bad input: it returns a :class:`DecodeFailure` with a
stable code, which services turn into a coded rejection.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError

from services.messaging.schemas import MessageSchema, SchemaRegistry, default_registry

__all__ = [
    "HEADER_SIZE",
    "MARKER",
    "AvroCodec",
    "DecodeFailure",
    "Decoded",
    "EncodeError",
    "default_codec",
]

MARKER: Final = b"\xc3\x01"
HEADER_SIZE: Final = len(MARKER) + 8
#: Kafka's default message.max.bytes; a record with its PDF is far below it.
DEFAULT_MAX_MESSAGE_BYTES: Final = 1_048_576

# What fastavro raises on malformed bodies; anything else is a bug, not bad input.
_BODY_ERRORS: Final = (
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    UnicodeDecodeError,
    struct.error,
    SchemaResolutionError,
    MemoryError,
)


class EncodeError(ValueError):
    """A datum does not match its schema (a programming error, never vendor input)."""

    def __init__(self, schema_name: str, detail: str) -> None:
        super().__init__(f"cannot encode {schema_name}: {detail}")
        self.schema_name = schema_name
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Decoded:
    """A successfully decoded message, resolved to the reader's current schema."""

    schema_name: str
    writer_fingerprint: bytes
    #: Unions of several records (VendorEvent.payload) read as ``(full name, record)``.
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Why bytes could not be read as a message. ``code`` is stable; see docs/errors.md."""

    code: str
    message_en: str
    message_vi: str
    writer_fingerprint: bytes | None = None


def _failure(code: str, en: str, vi: str, fp: bytes | None = None) -> DecodeFailure:
    return DecodeFailure(code=code, message_en=en, message_vi=vi, writer_fingerprint=fp)


class AvroCodec:
    """Encode and decode messages of a :class:`SchemaRegistry`."""

    def __init__(
        self, registry: SchemaRegistry, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> None:
        self.registry = registry
        self.max_message_bytes = max_message_bytes

    def encode(self, schema_name: str, datum: Mapping[str, Any]) -> bytes:
        """Single-object-encode ``datum`` with the current version of ``schema_name``."""
        schema = self.registry.current(schema_name)
        buffer = io.BytesIO()
        buffer.write(MARKER)
        buffer.write(schema.fingerprint)
        try:
            schemaless_writer(buffer, schema.parsed, datum)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(schema_name, str(exc)) from exc
        return buffer.getvalue()

    def writer_schema(self, data: bytes) -> MessageSchema | None:
        """The schema the bytes claim to be written with, if known."""
        if len(data) < HEADER_SIZE or data[:2] != MARKER:
            return None
        return self.registry.by_fingerprint(bytes(data[2:HEADER_SIZE]))

    def identify(self, data: bytes, expected: str | None = None) -> MessageSchema | DecodeFailure:
        """The writer schema named by the bytes' header, checked without decoding the body.

        ``expected`` names the message type the caller reads. Failures carry the same
        codes as :meth:`decode` (size, marker, unknown fingerprint, wrong type).
        """
        if len(data) > self.max_message_bytes:
            return _failure(
                "E_MESSAGE_TOO_LARGE",
                f"message of {len(data)} bytes exceeds the limit of {self.max_message_bytes}",
                f"thông điệp {len(data)} byte vượt giới hạn {self.max_message_bytes} byte",
            )
        if len(data) < HEADER_SIZE or data[:2] != MARKER:
            return _failure(
                "E_NOT_AVRO_SINGLE_OBJECT",
                "not an Avro single-object message (expected marker C3 01 and an 8-byte "
                "schema fingerprint)",
                "không phải thông điệp Avro single-object (thiếu dấu C3 01 và mã vân tay "
                "lược đồ 8 byte)",
            )
        fp = bytes(data[2:HEADER_SIZE])
        writer = self.registry.by_fingerprint(fp)
        if writer is None:
            return _failure(
                "E_UNKNOWN_SCHEMA_FINGERPRINT",
                f"schema fingerprint {fp.hex()} is not a released version of any message",
                f"mã vân tay lược đồ {fp.hex()} không thuộc phiên bản lược đồ nào đã công bố",
                fp,
            )
        if expected is not None and writer.full_name != expected:
            return _failure(
                "E_WRONG_MESSAGE_TYPE",
                f"expected a {expected} message, got {writer.full_name}",
                f"cần thông điệp {expected}, nhận được {writer.full_name}",
                fp,
            )
        return writer

    def decode(self, data: bytes, expected: str | None = None) -> Decoded | DecodeFailure:
        """Decode single-object bytes; ``expected`` names the message type the caller reads."""
        writer = self.identify(data, expected)
        if isinstance(writer, DecodeFailure):
            return writer
        fp = writer.fingerprint
        reader = self.registry.current(writer.full_name)
        body = io.BytesIO(data[HEADER_SIZE:])
        try:
            value = schemaless_reader(
                body,
                writer.parsed,
                None if reader is writer else reader.parsed,
                # A union of records reads as (full name, record), the form the writer takes.
                return_record_name=True,
                return_record_name_override=True,
            )
        except _BODY_ERRORS as exc:
            return _failure(
                "E_UNDECODABLE",
                f"body does not decode as {writer.full_name}: {type(exc).__name__}: {exc}"[:500],
                f"nội dung không giải mã được theo lược đồ {writer.full_name}",
                fp,
            )
        if body.tell() != len(data) - HEADER_SIZE:
            return _failure(
                "E_UNDECODABLE",
                f"{len(data) - HEADER_SIZE - body.tell()} unexpected bytes after the "
                f"{writer.full_name} body",
                f"có byte thừa sau nội dung {writer.full_name}",
                fp,
            )
        if not isinstance(value, dict):
            return _failure(
                "E_UNDECODABLE",
                f"{writer.full_name} did not decode to a record",
                f"{writer.full_name} không giải mã thành bản ghi",
                fp,
            )
        return Decoded(schema_name=writer.full_name, writer_fingerprint=fp, value=value)


_DEFAULT: AvroCodec | None = None


def default_codec() -> AvroCodec:
    """A codec over :func:`default_registry`, created once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = AvroCodec(default_registry())
    return _DEFAULT
