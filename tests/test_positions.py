"""Position units: conversion both ways (property tests) and choosing the unit from coded spans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qdaconv.positions import (
    UNITS,
    PositionMap,
    Span,
    guess_unit,
    matches_name,
    on_word_boundaries,
    unit_for_origin,
)

texts = st.text(alphabet=st.sampled_from(list("ab \r\n\té😀𝄞")), max_size=40)


def reference_units(text: str, unit: str) -> list[int]:
    """The unit position of every code point position, counted the slow, obvious way."""
    positions = [0]
    for i, char in enumerate(text):
        if unit == "utf16":
            width = len(char.encode("utf-16-le")) // 2
        elif unit == "lf":
            width = 0 if char == "\r" and text[i + 1:i + 2] == "\n" else 1
        elif unit == "crlf":
            lone = (char == "\r" and text[i + 1:i + 2] != "\n") or (char == "\n" and text[i - 1:i] != "\r")
            width = 2 if lone else 1
        elif unit == "utf8":
            width = len(char.encode("utf-8"))
        else:
            width = 1
        positions.append(positions[-1] + width)
    return positions


@given(texts, st.sampled_from(UNITS))
def test_conversion_matches_counting(text, unit):
    mapping = PositionMap(text, unit)
    expected = reference_units(text, unit)
    assert [mapping.to_unit(i) for i in range(len(text) + 1)] == expected
    assert mapping.unit_length == expected[-1]
    for position in range(expected[-1] + 1):
        # a unit position maps to the first code point position at or after it
        assert mapping.to_codepoint(position) == next(i for i, u in enumerate(expected) if u >= position)


@given(texts, st.sampled_from(UNITS))
def test_round_trip_on_character_boundaries(text, unit):
    mapping = PositionMap(text, unit)
    for point in range(len(text) + 1):
        inside_crlf = unit == "lf" and 0 < point < len(text) and text[point - 1:point + 1] == "\r\n"
        if not inside_crlf:
            assert mapping.to_codepoint(mapping.to_unit(point)) == point


def test_examples():
    text = "Hi 😀\r\nyou"
    assert PositionMap(text, "utf16").to_codepoint(7) == 6  # "you" starts at code point 6
    assert PositionMap(text, "lf").to_unit(6) == 5
    assert PositionMap("a\nb", "crlf").to_unit(2) == 3
    assert PositionMap("ascii only", "utf16").identity
    with pytest.raises(ValueError):
        PositionMap("x", "bytes")


def test_origin_suggests_a_unit():
    assert unit_for_origin("NVivo for Windows 12.6") == "utf16"
    assert unit_for_origin("ATLAS.ti 8.4.0") == "lf"
    assert unit_for_origin("MAXQDA 24") == "codepoint"
    assert unit_for_origin(None) == "codepoint"


def test_boundaries_and_names():
    text = "Természetesen a transzhumanista"
    assert on_word_boundaries(text, 0, 13)
    assert not on_word_boundaries(text, 3, 13)
    assert not on_word_boundaries(text, 0, 99)
    assert matches_name(text, 0, 13, "Természetesen a…") is True
    assert matches_name(text, 0, 13, "transzhuman…") is False
    assert matches_name(text, 0, 13, "") is None and matches_name(text, 0, 13, "line:4") is None


def test_guess_prefers_what_explains_the_spans():
    text = "😀😀 Anna said: we built trust together. 😀 Neil agreed with the vision.\n" * 3
    words = ["Anna", "trust", "Neil", "vision", "together"]
    utf16 = PositionMap(text, "utf16")
    spans = []
    for word in words:
        start = text.index(word)
        spans.append(Span(text, utf16.to_unit(start), utf16.to_unit(start + len(word)), word))
    guess = guess_unit(spans, "codepoint")
    assert guess.unit == "utf16" and guess.changed
    assert guess_unit(spans, "utf16").unit == "utf16"
    ascii_text = "plain words only here"
    plain = [Span(ascii_text, 0, 5), Span(ascii_text, 6, 11)]
    assert guess_unit(plain, "lf").unit == "lf"  # all units agree: the preferred one stays
