"""DER encoding of the few CMS structures signing builds per signature, straight to bytes.

asn1crypto re-encodes a whole structure when a parsed certificate or token is placed inside a
new one (≈ 18 ms for one SignedData with four certificates and a timestamp token, profiled):
the parts that vary per signature are small, so they are framed here around DER that is
already encoded (certificates, tokens, algorithm identifiers), which is copied, not re-encoded.
"""

from __future__ import annotations

__all__ = ["CONTEXT_0", "CONTEXT_1", "OCTET_STRING", "SEQUENCE", "SET", "element"]

SEQUENCE, SET, OCTET_STRING, CONTEXT_0, CONTEXT_1 = 0x30, 0x31, 0x04, 0xA0, 0xA1


def element(tag: int, *parts: bytes) -> bytes:
    """One DER element: the one-byte identifier ``tag``, the definite length, then ``parts``."""
    content = b"".join(parts)
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content
