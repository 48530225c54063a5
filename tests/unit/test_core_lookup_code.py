"""Lookup codes (mã số tra cứu học bạ): format, normalisation and the guarantees of the check."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core import lookup_code
from services.core.lookup_code import (
    LOOKUP_CODE_BITS,
    format_lookup_code,
    new_lookup_code,
    parse_lookup_code,
)

pytestmark = pytest.mark.unit

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
CANONICAL = re.compile(r"([0-9A-HJKMNP-TV-Z]{4}-){4}[0-9A-HJKMNP-TV-Z*~$=U]")
# Codes whose check symbols cover digits, letters and the check-only symbols.
SAMPLE_VALUES = (0, 1, 31, 32, 36, 12345678901234567890, 2**80 - 1, 2**79 + 2**40 + 7)


def compact(code: str) -> str:
    return code.replace("-", "")


def decode(code: str) -> int:
    """The 80-bit number of a canonical code, written independently of the module."""
    return int("".join(f"{ALPHABET.index(c):05b}" for c in compact(code)[:16]), 2)


def test_public_surface() -> None:
    assert lookup_code.__all__ == [
        "LOOKUP_CODE_BITS",
        "format_lookup_code",
        "new_lookup_code",
        "parse_lookup_code",
    ]
    assert LOOKUP_CODE_BITS == 80


def test_canonical_form_groups_of_four_and_the_check_symbol_last() -> None:
    code = new_lookup_code()
    assert CANONICAL.fullmatch(code), code
    assert len(code) == 21


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0000-0000-0000-0000-0"),
        (1, "0000-0000-0000-0001-1"),
        (32, "0000-0000-0000-0010-*"),  # 32 mod 37 = 32: the first check-only symbol
        (36, "0000-0000-0000-0014-U"),
        (37, "0000-0000-0000-0015-0"),
        (2**80 - 1, "ZZZZ-ZZZZ-ZZZZ-ZZZZ-" + CHECK_ALPHABET[(2**80 - 1) % 37]),
    ],
)
def test_known_values(value: int, expected: str) -> None:
    assert format_lookup_code(value) == expected
    assert parse_lookup_code(expected) == expected


@pytest.mark.parametrize("value", [-1, 2**80])
def test_format_refuses_numbers_outside_80_bits(value: int) -> None:
    with pytest.raises(ValueError, match="80 bits"):
        format_lookup_code(value)


@given(st.integers(min_value=0, max_value=2**80 - 1))
def test_round_trip_of_every_80_bit_number(value: int) -> None:
    code = format_lookup_code(value)
    assert CANONICAL.fullmatch(code)
    assert parse_lookup_code(code) == code
    assert decode(code) == value
    assert CHECK_ALPHABET.index(code[-1]) == value % 37


@given(st.text(max_size=30))
def test_anything_parsed_is_canonical(text: str) -> None:
    parsed = parse_lookup_code(text)
    assert parsed is None or (CANONICAL.fullmatch(parsed) and parse_lookup_code(parsed) == parsed)


def test_normalisation_of_what_people_type() -> None:
    code = format_lookup_code(0x1F0E_D0C0_B0A0_9080_7060)
    bare = compact(code)
    typed = [
        bare,
        bare.lower(),
        f"  {code.lower()}  ",
        " ".join(bare[i : i + 4] for i in range(0, 16, 4)) + " " + bare[16],
        code.replace("-", "\u2013"),  # en dashes from a word processor
        "-".join(bare),
    ]
    for text in typed:
        assert parse_lookup_code(text) == code, text


def test_i_l_and_o_read_as_one_and_zero() -> None:
    code = format_lookup_code(int("10" * 40, 2))  # symbols with many 0s and 1s
    misread = compact(code)[:16].replace("1", "l").replace("0", "O")
    assert parse_lookup_code(misread + code[-1]) == code
    with_zero_check = format_lookup_code(37)  # check symbol 0
    assert parse_lookup_code(compact(with_zero_check)[:16] + "o") == with_zero_check
    with_one_check = format_lookup_code(38)
    assert parse_lookup_code(compact(with_one_check)[:16] + "I") == with_one_check


def test_u_and_check_only_symbols_are_refused_in_the_data() -> None:
    code = format_lookup_code(36)  # check symbol U
    assert parse_lookup_code(code.lower()) == code
    for symbol in "U*~$=":
        assert parse_lookup_code(symbol + compact(code)[1:]) is None


@pytest.mark.parametrize(
    "text",
    ["", "-", "0000-0000-0000-0000", "0000-0000-0000-0000-00", "0000-0000-0000-000Ö-0", "HB00"],
)
def test_malformed_text_is_refused(text: str) -> None:
    assert parse_lookup_code(text) is None


def test_wrong_length_is_refused() -> None:
    bare = compact(new_lookup_code())
    for cut in range(len(bare)):
        assert parse_lookup_code(bare[:cut] + bare[cut + 1 :]) is None  # one symbol lost
        assert parse_lookup_code(bare[:cut] + "7" + bare[cut:]) is None  # one symbol added


@pytest.mark.parametrize("value", SAMPLE_VALUES)
def test_every_single_substitution_is_rejected(value: int) -> None:
    """Exhaustive: every position, every other symbol (I, L, O read as 1, 0: not typos)."""
    bare = compact(format_lookup_code(value))
    for position, original in enumerate(bare):
        for typo in CHECK_ALPHABET + "ILO":
            if typo == original or (typo, original) in {("I", "1"), ("L", "1"), ("O", "0")}:
                continue
            mistyped = bare[:position] + typo + bare[position + 1 :]
            assert parse_lookup_code(mistyped) is None, (bare, position, typo)


def test_substitutions_on_random_codes() -> None:
    for _ in range(20):
        bare = compact(new_lookup_code())
        for position in range(17):
            for typo in CHECK_ALPHABET:
                if typo != bare[position]:
                    mistyped = bare[:position] + typo + bare[position + 1 :]
                    assert parse_lookup_code(mistyped) is None


@pytest.mark.parametrize("value", SAMPLE_VALUES)
def test_every_adjacent_transposition_is_rejected(value: int) -> None:
    """Swapping neighbours changes the number by (a-b)·31·32^k: never a multiple of 37.

    The swap of the last data symbol with the check symbol is caught too (it would need
    the two to be equal). Transpositions across a hyphen are neighbours in the code.
    """
    bare = compact(format_lookup_code(value))
    for position in range(16):
        a, b = bare[position], bare[position + 1]
        if a == b:
            continue
        swapped = bare[:position] + b + a + bare[position + 2 :]
        assert parse_lookup_code(swapped) is None, (bare, position)


def test_transpositions_on_random_codes_including_jumps_and_twins() -> None:
    """Adjacent swaps (31), jump swaps abc→cba (1023 = 3·11·31) and twins aa→bb (33): all caught."""
    for _ in range(200):
        bare = compact(new_lookup_code())
        for position in range(16):
            a, b = bare[position], bare[position + 1]
            if a != b:
                assert parse_lookup_code(bare[:position] + b + a + bare[position + 2 :]) is None
        for position in range(14):
            a, c = bare[position], bare[position + 2]
            if a != c:
                jumped = bare[:position] + c + bare[position + 1] + a + bare[position + 3 :]
                assert parse_lookup_code(jumped) is None
        for position in range(15):
            if bare[position] == bare[position + 1]:
                twin = ALPHABET[(ALPHABET.index(bare[position]) + 1) % 32]
                changed = bare[:position] + twin * 2 + bare[position + 2 :]
                assert parse_lookup_code(changed) is None


def test_fresh_codes_are_distinct_and_evenly_spread() -> None:
    codes = [new_lookup_code() for _ in range(4000)]
    assert len(set(codes)) == len(codes)
    counts = Counter(symbol for code in codes for symbol in compact(code)[:16])
    # 64,000 symbols over 32 values: 2,000 expected each, standard deviation about 44.
    assert set(counts) == set(ALPHABET)
    assert all(1_600 < n < 2_400 for n in counts.values()), counts
    checks = Counter(code[-1] for code in codes)
    assert set(checks) <= set(CHECK_ALPHABET)
    assert len(checks) == 37
