"""Text positions in the units QDA programs count, converted to and from Unicode code points.

The model counts code points into the text as stored (BOM removed, line endings kept). Tools
count otherwise: NVivo in UTF-16 code units, ATLAS.ti with CRLF as one character, MAXQDA with
every line end as two. A `PositionMap` converts both ways for one text; `guess_unit` scores
candidate units on coded spans (word boundaries, excerpt names) to confirm or correct a guess.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qdaconv.model import Source

#: Units a text position can be counted in.
#: codepoint: Unicode code points (the REFI-QDA rule and the model's unit);
#: utf16: UTF-16 code units (a character outside the BMP counts two);
#: lf: code points with CRLF counted as one (ATLAS.ti);
#: crlf: code points with every line end counted as two (a bare LF or CR as two, CRLF as two);
#: utf8: UTF-8 bytes.
UNITS: tuple[str, ...] = ("codepoint", "utf16", "lf", "crlf", "utf8")
#: The units `guess_unit` tries unless told otherwise (byte counting is not seen in the wild).
GUESS_UNITS: tuple[str, ...] = ("codepoint", "utf16", "lf", "crlf")

# For each unit, the characters whose width differs from one code point.
_SPECIAL = {
    "utf16": re.compile("[\U00010000-\U0010ffff]"),
    "lf": re.compile(r"\r(?=\n)"),
    "crlf": re.compile(r"\r(?!\n)|(?<!\r)\n"),
    "utf8": re.compile("[^\x00-\x7f]"),
}


def _width(unit: str, char: str) -> int:
    if unit == "utf16":
        return 2
    if unit == "lf":
        return 0  # the CR of a CRLF pair; its LF carries the one unit
    if unit == "crlf":
        return 2
    return len(char.encode("utf-8"))


class PositionMap:
    """Converts positions in one text between code points and `unit`, in O(log n) per position."""

    __slots__ = ("unit", "length", "_points", "_ends", "_extra")

    def __init__(self, text: str, unit: str) -> None:
        if unit not in UNITS:
            raise ValueError(f"unknown position unit {unit!r}; known: {', '.join(UNITS)}")
        self.unit = unit
        self.length = len(text)
        self._points: list[int] = []  # code point index of each special character
        self._ends: list[int] = []  # unit position just after it
        self._extra: list[int] = [0]  # total extra width of the first k special characters
        if unit == "codepoint":
            return
        extra = 0
        for match in _SPECIAL[unit].finditer(text):
            index = match.start()
            width = _width(unit, match.group())
            self._points.append(index)
            self._ends.append(index + extra + width)
            extra += width - 1
            self._extra.append(extra)

    @property
    def identity(self) -> bool:
        return not self._points

    @property
    def unit_length(self) -> int:
        return self.length + self._extra[-1]

    def to_unit(self, point: int) -> int:
        """The position in `unit` of code point position `point`."""
        return point + self._extra[bisect.bisect_left(self._points, point)]

    def to_codepoint(self, position: int) -> int:
        """The code point position of `position` in `unit` (rounded forward inside a wide character)."""
        k = bisect.bisect_left(self._ends, position)
        point = position - self._extra[k]
        if k < len(self._points) and point > self._points[k]:
            point = self._points[k] + 1
        return point


def unit_for_origin(origin: str | None) -> str:
    """The unit a producing program is known to count in, judged by the `origin` it wrote."""
    name = (origin or "").strip().lower()
    if name.startswith("nvivo"):
        return "utf16"
    if name.startswith("atlas.ti") or name.startswith("atlasti"):
        return "lf"
    return "codepoint"


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def on_word_boundaries(text: str, start: int, end: int) -> bool:
    """True when [start, end) lies inside the text and neither end cuts a word in two."""
    if not 0 <= start <= end <= len(text):
        return False
    for at in (start, end):
        if 0 < at < len(text) and _is_word(text[at - 1]) and _is_word(text[at]):
            return False
    return True


_SPACE = re.compile(r"\s+")


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def matches_name(text: str, start: int, end: int, name: str | None) -> bool | None:
    """Whether the span's text begins like `name` when the name is an excerpt; None if it is not one."""
    if not name:
        return None
    excerpt = _normal(name.rstrip("…").removesuffix("...").strip("\"'“”"))
    if len(excerpt) < 4 or excerpt.startswith("line:"):
        return None
    found = _normal(text[start:end])
    return found.startswith(excerpt[: len(found)]) if found else False


@dataclass(slots=True)
class Span:
    """A coded span to score: its source's text, its raw start and end, and the selection's name."""

    text: str
    start: int
    end: int
    name: str | None = None


@dataclass(slots=True)
class UnitGuess:
    unit: str
    scores: dict[str, int]
    tested: int
    changed: bool


def score_unit(spans: Iterable[Span], unit: str) -> int:
    """How many spans, read in `unit`, fall on word boundaries (and match their excerpt name)."""
    maps: dict[int, PositionMap] = {}
    score = 0
    for span in spans:
        mapping = maps.get(id(span.text))
        if mapping is None:
            mapping = maps[id(span.text)] = PositionMap(span.text, unit)
        start, end = mapping.to_codepoint(span.start), mapping.to_codepoint(span.end)
        if not on_word_boundaries(span.text, start, end):
            continue
        named = matches_name(span.text, start, end, span.name)
        score += 2 if named else (0 if named is False else 1)
    return score


def guess_unit(spans: Sequence[Span], preferred: str = "codepoint",
               candidates: Sequence[str] = GUESS_UNITS) -> UnitGuess:
    """Confirm `preferred` on `spans`, or pick a candidate that explains them clearly better.

    Another unit wins only when it scores higher than the preferred one by a margin (5% of the
    spans, at least 3), so ASCII texts, where all units agree, keep the preferred unit, and two
    spans that happen to end at punctuation do not overrule it.
    """
    scores = {unit: score_unit(spans, unit) for unit in dict.fromkeys([preferred, *candidates])}
    best = max(scores, key=lambda unit: (scores[unit], unit == preferred))
    margin = max(3, len(spans) // 20)
    if best != preferred and scores[best] >= scores[preferred] + margin:
        return UnitGuess(best, scores, len(spans), True)
    return UnitGuess(preferred, scores, len(spans), False)


def remap_text_positions(source: Source, start: Callable[[int], int], end: Callable[[int], int] | None = None) -> None:
    """Move everything that points into `source`'s own text through the given functions.

    `start` maps selection starts and sync point positions, `end` (default: `start`) selection
    ends, so a caller can move a start and an end that fall inside a changed stretch outwards.
    Text selections and sync points are all that point into a text; nested documents
    (representations, transcripts) have their own text and are remapped on their own.
    """
    end = end or start
    for selection in source.selections:
        if selection.kind == "PlainText":
            if selection.start is not None:
                selection.start = start(selection.start)
            if selection.end is not None:
                selection.end = end(selection.end)
    for point in source.sync_points:
        if point.position is not None:
            point.position = start(point.position)
