"""The QR code of the verification URL (ISO/IEC 18004): byte mode, error correction level M.

The smallest version (1–40) that holds the UTF-8 bytes is used, and of the eight masks
the one of lowest penalty (§ 7.8.3: runs, 2×2 blocks, finder-like patterns, dark/light
balance), the quiet zone counting as light.

Choosing the mask is most of the work of encoding a QR code; here it is done on whole
matrices at once. A matrix is one integer: module (x, y) is bit ``(y + 4) * stride + x``,
with ``stride`` = size + 4, so that four light bits separate the rows and four light rows
lie above and below, the quiet zone. A neighbour is then a shift by 1 (same row) or by
``stride`` (same column), and each penalty rule is a few shifts, ANDs and bit counts over
the whole matrix. What does not depend on the data (function patterns, the modules each
mask inverts, the format bits) is computed once per version.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Final

__all__ = ["qr_rows"]

#: Error correction level M, versions 1–40 (ISO/IEC 18004 Table 9): error correction
#: codewords per block, then (blocks, data codewords per block) of the one or two groups.
_BLOCKS_M: Final[tuple[tuple[int, tuple[tuple[int, int], ...]], ...]] = (
    (10, ((1, 16),)),
    (16, ((1, 28),)),
    (26, ((1, 44),)),
    (18, ((2, 32),)),
    (24, ((2, 43),)),
    (16, ((4, 27),)),
    (18, ((4, 31),)),
    (22, ((2, 38), (2, 39))),
    (22, ((3, 36), (2, 37))),
    (26, ((4, 43), (1, 44))),
    (30, ((1, 50), (4, 51))),
    (22, ((6, 36), (2, 37))),
    (22, ((8, 37), (1, 38))),
    (24, ((4, 40), (5, 41))),
    (24, ((5, 41), (5, 42))),
    (28, ((7, 45), (3, 46))),
    (28, ((10, 46), (1, 47))),
    (26, ((9, 43), (4, 44))),
    (26, ((3, 44), (11, 45))),
    (26, ((3, 41), (13, 42))),
    (26, ((17, 42),)),
    (28, ((17, 46),)),
    (28, ((4, 47), (14, 48))),
    (28, ((6, 45), (14, 46))),
    (28, ((8, 47), (13, 48))),
    (28, ((19, 46), (4, 47))),
    (28, ((22, 45), (3, 46))),
    (28, ((3, 45), (23, 46))),
    (28, ((21, 45), (7, 46))),
    (28, ((19, 47), (10, 48))),
    (28, ((2, 46), (29, 47))),
    (28, ((10, 46), (23, 47))),
    (28, ((14, 46), (21, 47))),
    (28, ((14, 46), (23, 47))),
    (28, ((12, 47), (26, 48))),
    (28, ((6, 47), (34, 48))),
    (28, ((29, 46), (14, 47))),
    (28, ((13, 46), (32, 47))),
    (28, ((40, 47), (7, 48))),
    (28, ((18, 47), (31, 48))),
)
_LEVEL_M: Final = 0b00  # the level's two bits in the format information
_QUIET: Final = 4
_SELECTORS: Final = bytes.maketrans(b"01", b"\0\1")

#: The mask patterns (x: column, y: row); a module is inverted where the pattern is true.
_MASKS: Final[tuple[Callable[[int, int], bool], ...]] = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)

# GF(256) with the QR code's polynomial x^8 + x^4 + x^3 + x^2 + 1: antilogarithms (twice over,
# so that sums of two logarithms need no reduction) and logarithms.
_EXP: Final = [0] * 510
_LOG: Final = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _EXP[_power + 255] = _value
    _LOG[_value] = _power
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D


@functools.lru_cache(maxsize=16)
def _remainder_table(degree: int) -> tuple[int, ...]:
    """For each codeword value f: f times the generator polynomial prod (x - a^i), i < degree,
    without its leading term, as an integer of ``degree`` bytes (highest power first)."""
    generator = [1]
    for i in range(degree):
        generator = [
            (generator[j] if j < len(generator) else 0)
            ^ (_EXP[_LOG[generator[j - 1]] + i] if j > 0 and generator[j - 1] else 0)
            for j in range(len(generator) + 1)
        ]
    logs = [_LOG[c] for c in generator[1:]]
    table = [0]
    for factor in range(1, 256):
        log = _LOG[factor]
        table.append(int.from_bytes(bytes(_EXP[g + log] for g in logs), "big"))
    return tuple(table)


def _error_correction(block: bytes, degree: int) -> bytes:
    """The Reed-Solomon codewords of ``block``: the remainder of its division by the generator,
    held in one integer of ``degree`` bytes."""
    table = _remainder_table(degree)
    top = 8 * (degree - 1)
    keep = (1 << top) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder & keep) << 8) ^ table[byte ^ (remainder >> top)]
    return remainder.to_bytes(degree, "big")


def _codewords(data: bytes) -> tuple[int, bytes]:
    """The version, and the data and error correction codewords in placement order."""
    for version, (_, groups) in enumerate(_BLOCKS_M, start=1):
        count_bits = 8 if version < 10 else 16
        capacity = sum(count * size for count, size in groups)
        length = 4 + count_bits + 8 * len(data)
        if length <= 8 * capacity:
            break
    else:
        raise ValueError(f"{len(data)} bytes do not fit in a QR code at level M")
    # Mode 0100 (bytes), the count, the bytes, a terminator of up to four 0 bits, 0 bits to
    # the byte boundary, then the pad codewords 11101100 and 00010001 in turn.
    bits = (0b0100 << count_bits | len(data)) << 8 * len(data) | int.from_bytes(data, "big")
    padding = min(4, 8 * capacity - length)
    padding += -(length + padding) % 8
    stream = (bits << padding).to_bytes((length + padding) // 8, "big")
    stream = (stream + b"\xec\x11" * capacity)[:capacity]
    degree = _BLOCKS_M[version - 1][0]
    blocks: list[bytes] = []
    for count, size in groups:
        for _ in range(count):
            start = sum(map(len, blocks))
            blocks.append(stream[start : start + size])
    corrections = [_error_correction(block, degree) for block in blocks]
    ordered = bytearray()
    for i in range(max(map(len, blocks))):
        ordered.extend(block[i] for block in blocks if i < len(block))
    for i in range(degree):
        ordered.extend(c[i] for c in corrections)
    return version, bytes(ordered)


def _format_bits(mask: int) -> int:
    """The 15 format bits: level and mask, BCH(15, 5) protected, XOR 101010000010010."""
    data = _LEVEL_M << 3 | mask
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | remainder) ^ 0x5412


def _format_places(size: int) -> list[list[tuple[int, int]]]:
    """The two copies of the format information: (x, y) of bit 0 (least significant) to 14."""
    first = [(8, i) for i in range(6)] + [(8, 7), (8, 8), (7, 8)]
    first += [(14 - i, 8) for i in range(9, 15)]
    second = [(size - 1 - i, 8) for i in range(8)] + [(8, size - 15 + i) for i in range(8, 15)]
    return [first, second]


def _version_bits(version: int) -> int:
    """The 18 version bits (versions 7 and up): BCH(18, 6) protected."""
    remainder = version
    for _ in range(12):
        remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25)
    return version << 12 | remainder


def _alignment_centres(version: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    size = 4 * version + 17
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    return [6] + [size - 7 - i * step for i in reversed(range(count - 1))]


def _function_modules(version: int) -> dict[tuple[int, int], bool]:
    """Every module that does not carry data, (x, y) -> dark; the format information light."""
    size = 4 * version + 17
    dark: dict[tuple[int, int], bool] = {}
    # Finder patterns with their light separators.
    for left, top in ((0, 0), (size - 7, 0), (0, size - 7)):
        for dy in range(-1, 8):
            for dx in range(-1, 8):
                if 0 <= left + dx < size and 0 <= top + dy < size:
                    dark[left + dx, top + dy] = max(abs(dx - 3), abs(dy - 3)) in (0, 1, 3)
    for i in range(size):  # timing patterns
        dark.setdefault((6, i), i % 2 == 0)
        dark.setdefault((i, 6), i % 2 == 0)
    centres = _alignment_centres(version)
    corners = {(0, 0), (0, len(centres) - 1), (len(centres) - 1, 0)}
    for a, cy in enumerate(centres):
        for b, cx in enumerate(centres):
            if (a, b) in corners:
                continue  # where the finder patterns are
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    dark[cx + dx, cy + dy] = max(abs(dx), abs(dy)) != 1
    dark[8, size - 8] = True  # the dark module
    for places in _format_places(size):
        for place in places:
            dark.setdefault(place, False)
    if version >= 7:
        bits = _version_bits(version)
        for i in range(18):
            a, b = size - 11 + i % 3, i // 3
            dark[a, b] = dark[b, a] = bool(bits >> i & 1)
    return dark


@dataclass(frozen=True, slots=True)
class _Grid:
    """What does not depend on the data, for one version, as packed matrices."""

    size: int
    stride: int
    #: Bits in the packed matrix, the quiet zone included.
    length: int
    #: Each data module, in placement order, as an index into the matrix's binary digits
    #: (most significant first).
    indexes: tuple[int, ...]
    #: The dark function modules, the format information left out.
    function: int
    #: Per mask: the data modules it inverts, and the dark modules of its format information.
    masks: tuple[int, ...]
    formats: tuple[int, ...]
    #: Every module of the symbol (the quiet zone left out).
    inside: int


@functools.lru_cache(maxsize=8)
def _grid(version: int) -> _Grid:
    size = 4 * version + 17
    stride = size + _QUIET
    length = (size + 2 * _QUIET) * stride

    def bit(x: int, y: int) -> int:
        return (y + _QUIET) * stride + x

    def packed(modules: Iterable[tuple[int, int]]) -> int:
        return sum(1 << bit(x, y) for x, y in modules)

    dark = _function_modules(version)
    data = [(x, y) for y in range(size) for x in range(size) if (x, y) not in dark]
    # Data modules are filled in two-module columns from the right, up then down in turn,
    # skipping the vertical timing pattern.
    order: list[tuple[int, int]] = []
    for pair in range(size - 1, 0, -2):
        right = pair - 1 if pair <= 6 else pair
        upward = (right + 1) & 2 == 0
        for vertical in range(size):
            y = size - 1 - vertical if upward else vertical
            order.extend((x, y) for x in (right, right - 1) if (x, y) not in dark)
    places = _format_places(size)
    return _Grid(
        size=size,
        stride=stride,
        length=length,
        indexes=tuple(length - 1 - bit(x, y) for x, y in order),
        function=packed(place for place, on in dark.items() if on),
        masks=tuple(packed((x, y) for x, y in data if pattern(x, y)) for pattern in _MASKS),
        formats=tuple(
            packed(
                place
                for copy in places
                for i, place in enumerate(copy)
                if _format_bits(mask) >> i & 1
            )
            for mask in range(8)
        ),
        inside=sum(((1 << size) - 1) << bit(0, y) for y in range(size)),
    )


def _runs(lit: int, step: int) -> int:
    """Rule 1 for one colour: 3 for five modules in a line, and 1 for each module beyond five."""
    window = lit & lit >> step & lit >> 2 * step & lit >> 3 * step & lit >> 4 * step
    starts = window & ~(window << step)
    return window.bit_count() + 2 * starts.bit_count()


def _finder_like(dark: int, light: int, step: int) -> int:
    """Rule 3: how many 1:1:3:1:1 patterns have four light modules before or after them."""
    core = (
        dark
        & light >> step
        & dark >> 2 * step
        & dark >> 3 * step
        & dark >> 4 * step
        & light >> 5 * step
        & dark >> 6 * step
    )
    four = light & light >> step & light >> 2 * step & light >> 3 * step
    return (core & four >> 7 * step).bit_count() + (four & core >> 4 * step).bit_count()


def _penalty(grid: _Grid, dark: int) -> int:
    light = ~dark & ((1 << grid.length) - 1)  # the quiet zone and the gaps are light
    inner = light & grid.inside
    stride = grid.stride
    runs = sum(_runs(lit, step) for lit in (dark, inner) for step in (1, stride))
    blocks = sum(
        (lit & lit >> 1 & lit >> stride & lit >> (stride + 1)).bit_count() for lit in (dark, inner)
    )
    finders = _finder_like(dark, light, 1) + _finder_like(dark, light, stride)
    total = grid.size * grid.size
    balance = abs(20 * dark.bit_count() - 10 * total) // total  # per 5 % away from half
    return runs + 3 * blocks + 40 * finders + 10 * balance


def qr_rows(payload: str) -> list[str]:
    """The QR code of ``payload``, top row first, each row a string of ``1`` (dark) and
    ``0`` (light) modules; the quiet zone is left to the caller.

    Error correction level M (15 % of the code may be damaged or covered); the mask is
    the one of lowest penalty, as ISO/IEC 18004 asks (the first of equals). Raises
    ``ValueError`` if ``payload`` is too long for any version.
    """
    version, codewords = _codewords(payload.encode("utf-8"))
    grid = _grid(version)
    # The codeword bits onto their modules: set the binary digits of the matrix, then read
    # them as one integer.
    digits = bytearray(b"0" * grid.length)
    stream = f"{int.from_bytes(codewords, 'big') | 1 << 8 * len(codewords):b}".encode()[1:]
    ones = compress(grid.indexes, stream.translate(_SELECTORS))
    deque(map(digits.__setitem__, ones, repeat(ord("1"))), maxlen=0)
    data = int(digits, 2)
    masked = [grid.function | grid.formats[m] | (data ^ grid.masks[m]) for m in range(8)]
    best = min(masked, key=lambda matrix: _penalty(grid, matrix))
    text = f"{best:0{grid.length}b}"[::-1]
    first = _QUIET * grid.stride
    return [
        text[at : at + grid.size]
        for at in range(first, first + grid.size * grid.stride, grid.stride)
    ]
