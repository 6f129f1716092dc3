"""Text positions in the units QDA programs count, converted to and from Unicode code points.

The model counts code points into the text as stored (BOM removed, line endings kept). Tools
count otherwise: NVivo in UTF-16 code units, ATLAS.ti with CRLF as one character, MAXQDA with
every line end as two. A `PositionMap` converts both ways for one text; `guess_unit` scores
candidate units on coded spans (word boundaries, excerpt names) to confirm or correct a guess.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
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


#: Units in which every special character has one width: utf16 (2), lf (the CR of a CRLF: 0), crlf (2).
_CONSTANT_WIDTH = {"utf16": 2, "lf": 0, "crlf": 2}


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
        if unit == "codepoint":
            self._points: list[int] = []  # code point index of each special character
            self._ends: list[int] = []  # unit position just after it
            self._extra: list[int] = [0]  # total extra width of the first k special characters
            return
        if unit in _CONSTANT_WIDTH:  # every special character has the same width: no Python loop
            width = _CONSTANT_WIDTH[unit]
            self._points = [match.start() for match in _SPECIAL[unit].finditer(text)]
            self._extra = list(range(0, (len(self._points) + 1) * (width - 1), width - 1))
            self._ends = [point + extra + width for point, extra in zip(self._points, self._extra, strict=False)]
            return
        self._points, self._ends, self._extra = [], [], [0]
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


def on_word_boundaries(text: str, start: int, end: int) -> bool:
    """True when [start, end) lies inside the text and neither end cuts a word in two (word characters:
    letters, digits and the underscore)."""
    if not 0 <= start <= end <= len(text):
        return False
    for at in (start, end):
        if 0 < at < len(text):
            before, after = text[at - 1], text[at]
            if (before.isalnum() or before == "_") and (after.isalnum() or after == "_"):
                return False
    return True


def _normal(text: str) -> str:
    """White space runs made one space, the ends trimmed, lower case (`str.split` splits where `\\s` matches)."""
    return " ".join(text.split()).lower()


_QUOTES = "\"'“”"


def _cut(name: str) -> str:
    """A name without the ellipsis that ends a shortened one."""
    return name.rstrip("…").removesuffix("...")


@lru_cache(maxsize=4096)  # a name is asked about by the unit decision and by the validation rules;
# emptied when a project's evidence is let go (`sharing_evidence`)
def _name_forms(name: str | None) -> tuple[str, str] | None:
    """(the name without the ellipsis that ends a shortened one, that normalised without quotation marks) when
    the name can be the start of an excerpt; None when it is empty, too short or a line label."""
    if not name:
        return None
    cut = _cut(name)
    excerpt = _normal(cut.strip(_QUOTES))
    if len(excerpt) < 4 or excerpt.startswith("line:"):
        return None
    return cut, excerpt


def is_excerpt_name(name: str | None) -> bool:
    """Whether a selection name can be the start of an excerpt (not empty, not too short, not a line label)."""
    return _name_forms(name) is not None


def matches_name(text: str, start: int, end: int, name: str | None) -> bool | None:
    """Whether the span's text begins like `name` when the name is an excerpt; None if it is not one.

    Programs name a selection after the start of its excerpt, some cut short with an ellipsis and
    some in quotation marks; a name that is the excerpt's start exactly, quotation marks of the
    text included, matches too.
    """
    forms = _name_forms(name)
    if forms is None:
        return None
    cut, excerpt = forms
    if text.startswith(cut, start, end):  # the name as written: the usual case
        return True
    found = _normal(text[start:end])
    if not found:
        return False
    if found.startswith(excerpt[: len(found)]):
        return True
    exact = _normal(cut)  # quotation marks kept, as some texts have them
    return exact != excerpt and found.startswith(exact[: len(found)])


class TextEvidence:
    """What one text says about position units, built lazily and once, shared by every rule that asks.

    For each unit: whether it counts this text differently from code points (a regular-expression
    search, no table), and the `PositionMap` that converts it (built the first time a position is
    converted, then kept). A span is judged by whether it keeps words whole and matches its name.
    """

    __slots__ = ("text", "_maps", "_differs", "_whole", "_judged")

    def __init__(self, text: str) -> None:
        self.text = text
        self._maps: dict[str, PositionMap] = {}
        self._differs: dict[str, bool] = {}
        self._whole: dict[tuple[int, int], bool] = {}  # spans in code points: keeps words whole
        self._judged: dict[tuple[int, int, str | None], tuple[bool, bool | None]] = {}  # spans in code points

    def differs(self, unit: str) -> bool:
        """Whether positions in `unit` differ from code points anywhere in this text."""
        if unit == "codepoint":
            return False
        if unit not in self._differs:
            mapping = self._maps.get(unit)
            self._differs[unit] = (not mapping.identity if mapping is not None
                                   else _SPECIAL[unit].search(self.text) is not None)
        return self._differs[unit]

    def map(self, unit: str) -> PositionMap:
        mapping = self._maps.get(unit)
        if mapping is None:
            mapping = self._maps[unit] = PositionMap(self.text, unit)
        return mapping

    def in_codepoints(self, start: int, end: int, unit: str) -> tuple[int, int]:
        if not self.differs(unit):
            return start, end
        mapping = self.map(unit)
        return mapping.to_codepoint(start), mapping.to_codepoint(end)

    def judge(self, start: int, end: int, name: str | None, unit: str = "codepoint") -> tuple[bool, bool | None]:
        """(keeps words whole, matches its name: None when the name is no excerpt) for a span read in `unit`."""
        if unit != "codepoint":
            start, end = self.in_codepoints(start, end, unit)
        key = (start, end, name)
        verdict = self._judged.get(key)
        if verdict is None:  # the reader and the validation rules ask about the same spans
            verdict = self._judged[key] = (self._keeps_words(start, end), matches_name(self.text, start, end, name))
        return verdict

    def _keeps_words(self, start: int, end: int) -> bool:
        """`on_word_boundaries` of a span in code points, worked out once whoever asks first."""
        whole = self._whole.get((start, end))
        if whole is None:
            whole = self._whole[(start, end)] = on_word_boundaries(self.text, start, end)
        return whole

    def whole(self, spans: Sequence[tuple[int, int, str | None]], unit: str) -> bool:
        """Whether every span, read in `unit`, keeps words whole (names are not looked at)."""
        for start, end, _name in spans:
            if unit != "codepoint":
                start, end = self.in_codepoints(start, end, unit)
            if not self._keeps_words(start, end):
                return False
        return True

    def score(self, spans: Sequence[tuple[int, int, str | None]], unit: str) -> int:
        """`score_unit` on this text: 2 for a span on word boundaries matching its excerpt name, 1 without a
        name, 0 otherwise."""
        total = 0
        for start, end, name in spans:
            whole, named = self.judge(start, end, name, unit)
            if whole:
                total += 2 if named else (0 if named is False else 1)
        return total

    def guess(self, spans: Sequence[tuple[int, int, str | None]], preferred: str = "codepoint",
              candidates: Sequence[str] = GUESS_UNITS) -> UnitGuess:
        """`guess_unit` on this text's spans (see `guess_on_texts`)."""
        return guess_on_texts([(self, spans)], preferred, candidates)


def guess_on_texts(samples: Sequence[tuple[TextEvidence, Sequence[tuple[int, int, str | None]]]],
                   preferred: str = "codepoint", candidates: Sequence[str] = GUESS_UNITS) -> UnitGuess:
    """`guess_unit` on the spans of several texts, each with its evidence: the same verdict, less work.

    A unit that counts none of the texts differently from the preferred one is not tried, and when
    the preferred unit explains every span no other is tried at all (none could beat it).
    """
    tested = sum(len(spans) for _evidence, spans in samples)
    score = sum(evidence.score(spans, preferred) for evidence, spans in samples)
    perfect = sum(2 if is_excerpt_name(name) else 1 for _evidence, spans in samples for _s, _e, name in spans)
    scores = {preferred: score}
    if score < perfect:
        for unit in dict.fromkeys(candidates):
            if unit != preferred and any(e.differs(unit) or e.differs(preferred) for e, _spans in samples):
                scores[unit] = sum(evidence.score(spans, unit) for evidence, spans in samples)
    return _decide(scores, preferred, tested)


#: Below this many coded spans, another unit's better score is guesswork: the preferred unit stays.
MIN_GUESS_SPANS = 4


def _decide(scores: dict[str, int], preferred: str, tested: int) -> UnitGuess:
    """Another unit wins only when it scores higher than the preferred one by a margin (5% of the
    spans, at least 3) on at least MIN_GUESS_SPANS spans, so texts where the units agree, projects
    with a handful of excerpts, and two spans that happen to end inside a word next to a lone line
    end keep the preferred unit."""
    best = max(scores, key=lambda unit: (scores[unit], unit == preferred))
    margin = max(3, tested // 20)
    if best != preferred and tested >= MIN_GUESS_SPANS and scores[best] >= scores[preferred] + margin:
        return UnitGuess(best, scores, tested, True)
    return UnitGuess(preferred, scores, tested, False)


class EvidenceCache:
    """Texts' evidence kept from a reader's unit decision for the validation rules, when they all fit a budget.

    Keyed by the source object's id (stable while the project is alive). Sharing pays on a project
    of a few dozen texts, where it spares reading and judging each again; a project whose texts do
    not fit within `budget` characters is large, so none of them is kept (a share of them would save
    little and hold memory through the whole validation): each is read again when its turn comes.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._kept: dict[int, TextEvidence] = {}
        self._overflowed = False

    def put(self, key: int, evidence: TextEvidence) -> None:
        if self._overflowed:
            return
        if len(evidence.text) > self.budget:
            self._overflowed = True
            self._kept.clear()
            return
        self.budget -= len(evidence.text)
        self._kept[key] = evidence

    def take(self, key: int) -> TextEvidence | None:
        evidence = self._kept.pop(key, None)
        if evidence is not None:
            self.budget += len(evidence.text)
        return evidence


_shared: ContextVar[EvidenceCache | None] = ContextVar("qdaconv_position_evidence", default=None)
#: Characters of text kept between reading and validating (at most 4 MB of text; a study's texts fit).
SHARED_BUDGET = 1_000_000


@contextmanager
def sharing_evidence(budget: int = SHARED_BUDGET) -> Iterator[EvidenceCache]:
    """Within the block, the evidence readers build is kept for `shared_evidence` (validation uses it)."""
    cache = EvidenceCache(budget)
    token = _shared.set(cache)
    try:
        yield cache
    finally:
        _shared.reset(token)
        _name_forms.cache_clear()  # names are one project's: a batch does not carry them to the next file


def evidence_for(source: object, text: str) -> TextEvidence:
    """A text's evidence, kept for the validation rules when someone shares (see `sharing_evidence`)."""
    evidence = TextEvidence(text)
    cache = _shared.get()
    if cache is not None:
        cache.put(id(source), evidence)
    return evidence


def shared_evidence(source: object) -> TextEvidence | None:
    """The evidence a reader built for this source's text, if it was kept; taken out of the cache."""
    cache = _shared.get()
    return cache.take(id(source)) if cache is not None else None


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

    Another unit wins only as `_decide` allows: by a margin, on enough spans, so ASCII texts, where
    all units agree, keep the preferred unit, and two spans that happen to end at punctuation do
    not overrule it.
    """
    scores = {unit: score_unit(spans, unit) for unit in dict.fromkeys([preferred, *candidates])}
    return _decide(scores, preferred, len(spans))


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
