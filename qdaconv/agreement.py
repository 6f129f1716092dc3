"""How far two coders agree: character-level kappa, segment-level matching, Krippendorff's alpha.

Format-neutral: it works on the model, for the `agree` command, the report and anything else.
Two coders are compared over the text documents (text sources and transcripts) that both coded:

* **Characters**, as NVivo and QualCoder count: for each code, every character of every shared
  text is coded with the code by a coder when one of that coder's selections with the code covers
  it. That gives a 2x2 table (both, only the first, only the second, neither) per code and
  source; percent agreement is (both + neither) / characters, and Cohen's kappa is
  (p_o - p_e) / (1 - p_e) with p_e = p_1 p_2 + (1 - p_1)(1 - p_2), p_i the share of characters
  coder i coded. Per code the tables of all shared texts are summed; overall, the tables of every
  code are summed (a character counts once per code). Kappa is undefined (None) when p_e = 1.
* **Segments**, as MAXQDA counts: a segment is one selection coded with a code. A coder's segment
  matches when the other coder gave the same code, in the same text, to a span that overlaps it
  by at least `overlap` of the two spans together (intersection / union, MAXQDA's measure).
  Percent matched is given both ways and together: (m_1 + m_2) / (n_1 + n_2). There is no
  "neither coded" cell for segments, so the chance-corrected kappa is Brennan and Prediger's, as
  MAXQDA's: kappa = (p_o - p_c) / (1 - p_c) with p_o the share matched together and
  p_c = 1 / K, K the number of codes compared (undefined when K < 2).
* **Krippendorff's alpha**, nominal, characters as units, computed by the `krippendorff` package
  from the reliability data `value_counts` builds: per code with the values coded / not coded,
  and overall over every code's characters pooled (as ATLAS.ti's global binary alpha).

A coder is a user: the Coding's creating user, else its selection's. `agreement(project, coders)`
compares two users of one project; `agreement_between(a, b)` compares two files, each file being
one coder (its codings pooled, whoever made them).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qdaconv.errors import QdaconvError
from qdaconv.model import Project, Selection, Source, guid_key, walk_codes, walk_sources

#: Text documents whose characters are compared (notes, PDF representations and picture
#: descriptions are not coded data).
TEXT_DOCUMENTS = ("Text", "Transcript")


class AgreementError(QdaconvError):
    """Agreement could not be computed at all (fewer than two coders, nothing shared)."""


# ------------------------------------------------------------------------------ the figures


def cohen_kappa(both: int, only_a: int, only_b: int, neither: int) -> float | None:
    """Cohen's kappa of a 2x2 table; None when chance agreement is 1 (no variation to agree on)."""
    total = both + only_a + only_b + neither
    if total == 0:
        return None
    p_o = (both + neither) / total
    p_a, p_b = (both + only_a) / total, (both + only_b) / total
    p_e = p_a * p_b + (1 - p_a) * (1 - p_b)
    return None if p_e >= 1 else (p_o - p_e) / (1 - p_e)


@dataclass(slots=True)
class CharTable:
    """Characters coded with a code by both coders, by only the first, only the second, neither."""

    both: int = 0
    only_a: int = 0
    only_b: int = 0
    neither: int = 0

    @property
    def characters(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    @property
    def percent(self) -> float | None:
        return 100 * (self.both + self.neither) / self.characters if self.characters else None

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.both, self.only_a, self.only_b, self.neither)

    def add(self, other: CharTable) -> None:
        self.both += other.both
        self.only_a += other.only_a
        self.only_b += other.only_b
        self.neither += other.neither

    def as_dict(self) -> dict[str, Any]:
        return {"characters": self.characters, "both": self.both, "only_a": self.only_a, "only_b": self.only_b,
                "neither": self.neither, "percent": self.percent, "kappa": self.kappa}


#: Units of at most 2**26 coders keep every share of the coincidence matrix exact in float64.
_LARGEST_AGREEMENT = 2 ** 26
_LARGEST_PAIR = 2 ** 25


def value_counts(tables: Iterable[CharTable]) -> np.ndarray:
    """Krippendorff reliability data for the characters of `tables`, as units x values (0, 1) counts.

    Every character is a unit that two coders valued 1 (coded) or 0. Alpha depends on the data
    only through the coincidence matrix: o_00 and o_11 are twice the characters the coders agree
    on (as not coded, as coded), o_01 = o_10 the characters they disagree on. Rather than one unit
    per character, a few units with the same coincidence matrix are built, so that memory does not
    grow with the characters. A unit with counts (n_0, n_1), m = n_0 + n_1, adds
    n_c (n_k - [c = k]) / (m - 1) to o_ck; so

    * (2k, 0) adds 2k to o_00, exactly as k agreeing characters, and (0, 2k) to o_11;
    * (2t - 1, 2t) adds t to o_01 and o_10, t - 1 to o_00 and t to o_11; (2t, 2t - 1) the mirror:
      two of them stand for 2t disagreeing characters when the agreements can give up the cells;
    * (1, 1), one disagreeing character, is left for what the agreements cannot cover (when the
      coders hardly ever agree on one of the values, every disagreement needs a unit of its own).

    No count exceeds 2**26, so that each unit's share of the matrix is an exact integer
    in floating point and alpha comes out exactly as from the character-by-character data.
    """
    agree_0 = agree_1 = disagree = 0
    for table in tables:
        agree_0 += table.neither
        agree_1 += table.both
        disagree += table.only_a + table.only_b
    left = [2 * agree_0, 2 * agree_1]  # what is left of o_00 and o_11, always even
    rows: list[tuple[int, int]] = []
    if disagree % 2:
        rows.append((1, 1))
        disagree -= 1
    while disagree:
        # t for a pair (2t - 1, 2t) and for a pair (2t, 2t - 1), as large as the cells left allow
        more_1 = min(disagree // 2, left[0] // 2 + 1, left[1] // 2, _LARGEST_PAIR)
        more_0 = min(disagree // 2, left[0] // 2, left[1] // 2 + 1, _LARGEST_PAIR)
        t = max(more_0, more_1)
        if t < 2:  # a pair of (1, 2) or (2, 1) is no smaller than two (1, 1)
            break
        row = (2 * t - 1, 2 * t) if more_1 >= more_0 else (2 * t, 2 * t - 1)
        rows += [row, row]
        left[0] -= 2 * (row[0] - t)
        left[1] -= 2 * (row[1] - t)
        disagree -= 2 * t
    for value, cells in enumerate(left):
        while cells:
            chunk = min(cells, _LARGEST_AGREEMENT)
            rows.append((chunk, 0) if value == 0 else (0, chunk))
            cells -= chunk
    return np.vstack([np.ones((disagree, 2)), np.array(rows, dtype=np.float64).reshape(-1, 2)])


def krippendorff_alpha(tables: Iterable[CharTable]) -> float | None:
    """Nominal alpha over the characters of `tables` (the `krippendorff` package); None if undefined."""
    import krippendorff

    counts = value_counts(tables)
    totals = counts.sum(axis=0)
    if counts.shape[0] == 0 or (totals > 0).sum() < 2:
        return None  # one value only: nothing to agree or disagree on
    return float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))


@dataclass(slots=True)
class SegmentCounts:
    """Segments of each coder with a code, and how many found a match in the other's."""

    segments_a: int = 0
    segments_b: int = 0
    matched_a: int = 0
    matched_b: int = 0

    def add(self, other: SegmentCounts) -> None:
        self.segments_a += other.segments_a
        self.segments_b += other.segments_b
        self.matched_a += other.matched_a
        self.matched_b += other.matched_b

    @property
    def percent(self) -> float | None:
        total = self.segments_a + self.segments_b
        return 100 * (self.matched_a + self.matched_b) / total if total else None

    def kappa(self, codes_compared: int) -> float | None:
        """Brennan and Prediger's kappa with chance 1 / codes_compared, as MAXQDA computes it."""
        total = self.segments_a + self.segments_b
        if not total or codes_compared < 2:
            return None
        chance = 1 / codes_compared
        return ((self.matched_a + self.matched_b) / total - chance) / (1 - chance)

    def as_dict(self, codes_compared: int) -> dict[str, Any]:
        total_a, total_b = self.segments_a, self.segments_b
        return {"segments_a": total_a, "segments_b": total_b, "matched_a": self.matched_a,
                "matched_b": self.matched_b,
                "percent_a": 100 * self.matched_a / total_a if total_a else None,
                "percent_b": 100 * self.matched_b / total_b if total_b else None,
                "percent": self.percent, "kappa": self.kappa(codes_compared)}


@dataclass(slots=True)
class SourceAgreement:
    guid: str
    name: str
    characters: CharTable


@dataclass(slots=True)
class CodeAgreement:
    """Every figure for one code (or, for `Agreement.overall`, for all codes together)."""

    guid: str | None
    name: str
    path: tuple[str, ...]
    characters: CharTable = field(default_factory=CharTable)
    segments: SegmentCounts = field(default_factory=SegmentCounts)
    alpha: float | None = None
    sources: list[SourceAgreement] = field(default_factory=list)

    def as_dict(self, codes_compared: int) -> dict[str, Any]:
        return {"guid": self.guid, "name": self.name, "path": " > ".join(self.path),
                "characters": self.characters.as_dict(), "segments": self.segments.as_dict(codes_compared),
                "alpha": self.alpha,
                "sources": [{"guid": s.guid, "name": s.name, **s.characters.as_dict()} for s in self.sources]}


@dataclass(slots=True)
class Agreement:
    """The comparison of two coders: per code, overall, and what was left out and why."""

    coders: tuple[str, str]
    overlap: float
    sources: list[tuple[str, str, int]]  # (guid, name, characters) of the shared texts
    codes: list[CodeAgreement]
    overall: CodeAgreement
    left_out: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        compared = len(self.codes)
        return {"coders": list(self.coders), "overlap": self.overlap,
                "sources": [{"guid": g, "name": n, "characters": c} for g, n, c in self.sources],
                "overall": {k: v for k, v in self.overall.as_dict(compared).items() if k not in ("guid", "sources")},
                "codes": [code.as_dict(compared) for code in self.codes],
                "left_out": list(self.left_out)}

    def by_kappa(self) -> list[CodeAgreement]:
        """Codes from the least agreed (lowest character kappa; undefined kappa last) to the most."""
        return sorted(self.codes, key=lambda c: (c.characters.kappa is None, c.characters.kappa or 0.0,
                                                 " > ".join(c.path)))


# ------------------------------------------------------------------------------ collecting spans


@dataclass(slots=True)
class _Text:
    guid: str
    name: str
    length: int
    digest: str


#: A code as `_compute` names it: (GUID, name, path) by guid_key.
_CodeInfo = tuple[str | None, str, tuple[str, ...]]


#: A coder's spans as rows (text number, code number, start, end), and the texts the coder coded in.
_Side = tuple[np.ndarray, set[int]]


@dataclass(slots=True)
class _Coded:
    """One coder's coded spans: (text number, code number, start, end), and the texts coded in."""

    spans: list[tuple[int, int, int, int]] = field(default_factory=list)
    texts: set[int] = field(default_factory=set)

    def side(self) -> _Side:
        return np.array(self.spans, dtype=np.int64).reshape(-1, 4), self.texts


class _Reader:
    """Text documents of a project and the coded spans in them, for the coders `which` picks.

    `which(user)` gives a user's side (0 or 1) or None to leave the coding out; without it every
    coding counts for side 0. Texts are numbered in `texts` (one number per guid_key) and codes in
    `codes` (their guid_keys). `digests` keeps a digest of each text, to match texts across files.
    """

    def __init__(self, project: Project, which: Callable[[str | None], int | None] | None, sides: int,
                 digests: bool = False) -> None:
        self.texts: list[_Text] = []
        self.text_keys: list[str] = []
        self.codes: list[str] = []
        self.coded = [_Coded() for _ in range(sides)]
        self.skipped: Counter[str] = Counter()
        self._which = which
        self._digests = digests
        self._text_numbers: dict[str, int] = {}
        self._code_numbers: dict[str, int] = {}  # by guid_key
        self._written_codes: dict[str | None, int] = {}  # by the GUID as written
        self._sides: dict[str | None, int | None] = {}  # by the user as written
        for source in walk_sources(project):
            self._document(source)

    @property
    def users(self) -> set[str | None]:
        """The users whose codings were read (as written)."""
        return set(self._sides)

    def _code(self, guid: str | None) -> int:
        number = self._written_codes.get(guid)
        if number is None:
            key = guid_key(guid)
            number = self._code_numbers.get(key)
            if number is None:
                number = self._code_numbers[key] = len(self.codes)
                self.codes.append(key)
            self._written_codes[guid] = number
        return number

    def _side(self, user: str | None) -> int | None:
        """The side a user's codings count for (None: left out), worked out once per user."""
        if self._which is None:
            side: int | None = 0
        else:
            side = self._which(guid_key(user)) if user else None
        self._sides[user] = side
        return side

    def _text(self, key: str, text: _Text) -> int:
        """The text's number; a second document with the same GUID takes the first one's number."""
        number = self._text_numbers.get(key)
        if number is None:
            number = self._text_numbers[key] = len(self.texts)
            self.texts.append(text)
            self.text_keys.append(key)
        else:
            self.texts[number] = text
        return number

    def _document(self, source: Source) -> None:
        count = len(source.codings) + sum(len(sel.codings) for sel in source.selections)
        if not count:
            return
        if source.kind not in TEXT_DOCUMENTS:
            self.skipped[f"codings on {source.kind} sources"] += count
            return
        text = source.text
        if text is None:
            self.skipped["codings on texts that could not be read"] += count
            return
        length = len(text)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest() if self._digests else ""
        number = self._text(guid_key(source.guid), _Text(source.guid, source.name or source.guid, length, digest))
        positions = {guid_key(p.guid): p.position for p in source.sync_points}
        spans = [coded.spans for coded in self.coded]
        used = [False] * len(self.coded)
        sides, codes = self._sides, self._written_codes  # looked up once per coding: the loop is hot
        without_coder = 0
        for coding in source.codings:  # a whole-text coding covers every character
            user = coding.creating_user
            side = sides[user] if user in sides else self._side(user)
            if side is None:
                without_coder += not user
            elif length:
                spans[side].append((number, self._code(coding.code), 0, length))
                used[side] = True
        for selection in source.selections:
            if selection.kind == "PlainText" and selection.start is not None and selection.end is not None:
                start, end = selection.start, selection.end
            else:
                span = _span(selection, positions)
                if span is None:
                    self.skipped[f"codings of {selection.kind} selections without a text span"] += \
                        len(selection.codings)
                    continue
                start, end = span
            start, end = max(0, start), min(end, length)
            for coding in selection.codings:
                user = coding.creating_user or selection.creating_user
                side = sides[user] if user in sides else self._side(user)
                if side is None:
                    without_coder += not user
                    continue
                if start >= end:
                    self.skipped["codings of empty or out-of-range spans"] += 1
                    continue
                code = codes.get(coding.code)
                spans[side].append((number, self._code(coding.code) if code is None else code, start, end))
                used[side] = True
        if without_coder:
            self.skipped["codings without a coder (no creating user)"] += without_coder
        for side, coded in enumerate(self.coded):
            if used[side]:
                coded.texts.add(number)


def _span(selection: Selection, positions: dict[str, int | None]) -> tuple[int, int] | None:
    if selection.kind == "PlainText":
        if selection.start is None or selection.end is None:
            return None
        return selection.start, selection.end
    if selection.kind == "Transcript":
        start = positions.get(guid_key(selection.from_sync))
        end = positions.get(guid_key(selection.to_sync))
        return (start, end) if start is not None and end is not None else None
    return None


# ------------------------------------------------------------------------------ computing


def _char_tables(units: int, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """(both, only_a, only_b) characters per unit, by a sweep over span boundaries.

    Every span gives a +1 event at its start and -1 at its end for its coder; sorted by unit and
    position, the running sums say who covers each stretch between two events, and the stretch's
    length goes to that cell. Spans of one coder that overlap each other count once.
    """
    result = np.zeros((units, 3), dtype=np.int64)
    if not len(rows_a) and not len(rows_b):
        return result
    rows = np.concatenate([rows_a, rows_b])
    second = np.concatenate([np.zeros(len(rows_a), dtype=bool), np.ones(len(rows_b), dtype=bool)])
    unit = np.concatenate([rows[:, 0], rows[:, 0]])
    position = np.concatenate([rows[:, 1], rows[:, 2]])
    delta = np.concatenate([np.ones(len(rows), dtype=np.int64), -np.ones(len(rows), dtype=np.int64)])
    second = np.concatenate([second, second])
    order = np.lexsort((position, unit))
    unit, position, delta, second = unit[order], position[order], delta[order], second[order]
    cover_a = (np.cumsum(np.where(second, 0, delta)) > 0)[:-1]
    cover_b = (np.cumsum(np.where(second, delta, 0)) > 0)[:-1]
    stretch = np.where(unit[1:] == unit[:-1], np.diff(position), 0)
    for column, mask in enumerate((cover_a & cover_b, cover_a & ~cover_b, ~cover_a & cover_b)):
        result[:, column] = np.bincount(unit[:-1], weights=stretch * mask, minlength=units).astype(np.int64)
    return result


def _distinct(rows: np.ndarray) -> np.ndarray:
    """The rows (unit, start, end) sorted, each once."""
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    return rows[keep]


def _segment_counts(units: int, rows_a: np.ndarray, rows_b: np.ndarray, overlap: float) -> np.ndarray:
    """(segments_a, segments_b, matched_a, matched_b) per unit.

    A segment is a distinct span of a coder in a unit; it matches when a segment of the other
    coder in the same unit overlaps it by at least `overlap` of the two together (intersection /
    union). Only pairs that can match are looked at, all at once: since union - common is at
    least the distance between the two starts, and union at most common / overlap, a segment of
    A can only match a segment of B that starts within (1 - overlap) / overlap of A's length of it.
    """
    rows_a, rows_b = _distinct(rows_a), _distinct(rows_b)
    result = np.zeros((units, 4), dtype=np.int64)
    result[:, 0] = np.bincount(rows_a[:, 0], minlength=units)
    result[:, 1] = np.bincount(rows_b[:, 0], minlength=units)
    if not len(rows_a) or not len(rows_b):
        return result
    stride = int(max(rows_a[:, 2].max(), rows_b[:, 2].max())) + 1  # one unit's positions, in one sorted key
    keys_b = rows_b[:, 0] * stride + rows_b[:, 1]
    loose = overlap - 1e-9  # looser than the test below, so that no pair it would match is missed
    ratio = (1 - loose) / loose if loose > 0 else float(stride)
    reach = np.minimum(np.ceil((rows_a[:, 2] - rows_a[:, 1]) * ratio) + 1, stride).astype(np.int64)
    base = rows_a[:, 0] * stride
    low = np.searchsorted(keys_b, base + np.maximum(rows_a[:, 1] - reach, 0), side="left")
    high = np.searchsorted(keys_b, base + np.minimum(rows_a[:, 1] + reach, stride - 1), side="right")
    pairs = high - low
    first = np.repeat(np.arange(len(rows_a)), pairs)
    offsets = np.cumsum(pairs) - pairs
    other = low[first] + np.arange(len(first)) - offsets[first]
    start_a, end_a = rows_a[first, 1], rows_a[first, 2]
    start_b, end_b = rows_b[other, 1], rows_b[other, 2]
    common = np.minimum(end_a, end_b) - np.maximum(start_a, start_b)
    union = np.maximum(end_a, end_b) - np.minimum(start_a, start_b)
    match = (common > 0) & (common >= (overlap - 1e-12) * union)
    matched_a = np.bincount(first[match], minlength=len(rows_a)) > 0
    matched_b = np.bincount(other[match], minlength=len(rows_b)) > 0
    result[:, 2] = np.bincount(rows_a[:, 0], weights=matched_a, minlength=units)
    result[:, 3] = np.bincount(rows_b[:, 0], weights=matched_b, minlength=units)
    return result


def _compute(texts: list[_Text], codes: list[str], table: dict[str, _CodeInfo], side_a: _Side, side_b: _Side,
             coders: tuple[str, str], overlap: float, left_out: list[str]) -> Agreement:
    """The figures; the sides number texts as `texts` and codes as `codes` (guid_keys)."""
    (spans_a, texts_a), (spans_b, texts_b) = side_a, side_b
    shared = sorted(texts_a & texts_b, key=lambda number: (texts[number].name, number))
    only = (texts_a | texts_b) - set(shared)
    if only:
        names = sorted(texts[number].name for number in only)
        left_out.append(f"{len(only)} text(s) coded by only one of the coders: {_listing(names)}")
    if not shared:
        raise AgreementError(f"{coders[0]} and {coders[1]} coded no text in common, so there is nothing to "
                             "compare" + (f" ({'; '.join(left_out)})" if left_out else "")
                             + "; give two coders who coded the same texts")
    # a unit is one code in one shared text, numbered by code (in guid_key order), then text (in `shared` order)
    text_rank = np.full(len(texts), -1, dtype=np.int64)
    text_rank[shared] = np.arange(len(shared))
    code_rank = np.empty(len(codes), dtype=np.int64)
    code_rank[sorted(range(len(codes)), key=codes.__getitem__)] = np.arange(len(codes))
    spans = []
    for rows in (spans_a, spans_b):
        rows = rows[text_rank[rows[:, 0]] >= 0]
        spans.append((code_rank[rows[:, 1]] * len(shared) + text_rank[rows[:, 0]], rows[:, 2:]))
    keys = np.unique(np.concatenate([key for key, _ in spans]))
    rows_a, rows_b = (np.column_stack([np.searchsorted(keys, key), ends]) for key, ends in spans)
    counts = np.hstack([_char_tables(len(keys), rows_a, rows_b), _segment_counts(len(keys), rows_a, rows_b, overlap)])
    code_of_unit, text_of_unit = np.divmod(keys, len(shared))
    # per code, the units' counts summed (units of one code are consecutive)
    first = np.r_[True, code_of_unit[1:] != code_of_unit[:-1]]
    starts = np.flatnonzero(first)
    totals = np.add.reduceat(counts, starts, axis=0).tolist()
    by_rank = np.argsort(code_rank)
    shared_texts = [texts[number] for number in shared]
    characters = sum(text.length for text in shared_texts)
    entries = []
    for rank, (both, only_a, only_b, seg_a, seg_b, match_a, match_b) in zip(code_of_unit[starts].tolist(), totals,
                                                                             strict=True):
        code = codes[by_rank[rank]]
        entry = CodeAgreement(*table.get(code, (None, code, (code,))))
        entry.characters = CharTable(both, only_a, only_b, characters - both - only_a - only_b)
        entry.segments = SegmentCounts(seg_a, seg_b, match_a, match_b)
        entries.append(entry)
    entry_of_unit = (np.cumsum(first) - 1).tolist()
    for number, text_number, both, only_a, only_b in zip(entry_of_unit, text_of_unit.tolist(),
                                                         *counts[:, :3].T.tolist(), strict=True):
        text = shared_texts[text_number]
        entries[number].sources.append(SourceAgreement(text.guid, text.name, CharTable(
            both, only_a, only_b, text.length - both - only_a - only_b)))
    results = sorted(entries, key=lambda entry: (entry.path, entry.guid or ""))
    overall = CodeAgreement(None, "all codes", ("all codes",))
    for entry in results:
        entry.alpha = krippendorff_alpha([entry.characters])
        overall.characters.add(entry.characters)
        overall.segments.add(entry.segments)
    overall.alpha = krippendorff_alpha([entry.characters for entry in results])
    return Agreement(coders, overlap, [(text.guid, text.name, text.length) for text in shared_texts],
                     results, overall, left_out)


def _listing(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _code_table(project: Project) -> dict[str, _CodeInfo]:
    return {guid_key(e.code.guid): (e.code.guid, e.code.name, e.path) for e in walk_codes(project)}


def _skipped_notes(skipped: Counter[str], where: str = "") -> list[str]:
    return [f"{count} {what}{where} (left out)" for what, count in sorted(skipped.items())]


def _check_overlap(overlap: float) -> None:
    if not 0 < overlap <= 1:
        raise AgreementError(f"the overlap must be above 0 and at most 1 (100%), not {overlap}")


# ------------------------------------------------------------------------------ public entry points


@dataclass(slots=True)
class CoderInfo:
    guid: str
    name: str
    codings: int


def coders(project: Project) -> list[CoderInfo]:
    """The users who made codings, with how many, most codings first (codings without a user are left out)."""
    written: Counter[str | None] = Counter()  # by the user as written: guid_key once per user, not per coding
    for source in walk_sources(project):
        for coding in source.codings:
            written[coding.creating_user] += 1
        for selection in source.selections:
            for coding in selection.codings:
                written[coding.creating_user or selection.creating_user] += 1
    counts: Counter[str] = Counter()
    for user, count in written.items():
        counts[guid_key(user) if user else ""] += count
    counts.pop("", None)
    names = {guid_key(u.guid): (u.guid, u.name or u.id or u.guid) for u in project.users}
    return [CoderInfo(*names.get(key, (key, key)), count) for key, count in counts.most_common()]


def find_coder(project: Project, name: str) -> CoderInfo:
    """The coder named `name` (user name, id or GUID; case-insensitive)."""
    return _find_coder(project, coders(project), name)


def _find_coder(project: Project, everyone: list[CoderInfo], name: str) -> CoderInfo:
    wanted = name.strip().casefold()
    found = [c for c in everyone if wanted in (c.name.casefold(), guid_key(c.guid))]
    if not found:
        ids = {guid_key(u.guid) for u in project.users if (u.id or "").casefold() == wanted}
        found = [c for c in everyone if guid_key(c.guid) in ids]
    if not found:
        known = ", ".join(c.name for c in everyone) or "none"
        raise AgreementError(f"no coder named {name!r} made codings in the project (coders: {known})")
    return found[0]


def agreement(project: Project, pair: tuple[str, str] | None = None, overlap: float = 0.9) -> Agreement:
    """Agreement of two users of one project; `pair` names them, else the two with most codings.

    Raises AgreementError when there are fewer than two coders or they coded no text in common.
    """
    _check_overlap(overlap)
    everyone = coders(project)
    if pair is None:
        if len(everyone) < 2:
            found = ", ".join(c.name for c in everyone) or "no coder"
            raise AgreementError(f"the project has codings by {found}: agreement needs two coders "
                                 "(a coder is the user who made a coding)")
        chosen = everyone[:2]
        left_out = [f"coder {c.name} ({c.codings} codings) not compared; name the pair with --coders"
                    for c in everyone[2:]]
    else:
        chosen = [_find_coder(project, everyone, name) for name in pair]
        if guid_key(chosen[0].guid) == guid_key(chosen[1].guid):
            raise AgreementError(f"{pair[0]!r} and {pair[1]!r} are the same coder; name two different coders")
        left_out = []
    sides = {guid_key(chosen[0].guid): 0, guid_key(chosen[1].guid): 1}
    reader = _Reader(project, lambda user: sides.get(user or ""), 2)
    left_out += _skipped_notes(reader.skipped)
    return _compute(reader.texts, reader.codes, _code_table(project), reader.coded[0].side(),
                    reader.coded[1].side(), (chosen[0].name, chosen[1].name), overlap, left_out)


def agreement_between(a: Project, b: Project, names: tuple[str, str] = ("A", "B"),
                      overlap: float = 0.9) -> Agreement:
    """Agreement of two files, each one coder: all the codings in a file count for that file's coder.

    Texts are matched by GUID, else by identical text; codes by GUID, else by code path. A text
    whose GUID matches but whose text differs is left out, and said so.
    """
    _check_overlap(overlap)
    left_out: list[str] = []
    readers = []
    for project, name in ((a, names[0]), (b, names[1])):
        reader = _Reader(project, None, 1, digests=True)
        users = {u.guid: u.name or u.id or u.guid for u in project.users}
        found = sorted({users.get(user, user or "no user") for user in reader.users})
        if len(found) > 1:
            left_out.append(f"{name} holds codings by {len(found)} users ({_listing(found)}); "
                            "they count together as one coder")
        left_out += _skipped_notes(reader.skipped, f" in {name}")
        readers.append(reader)
    reader_a, reader_b = readers
    if not reader_a.coded[0].spans or not reader_b.coded[0].spans:
        empty = names[0] if not reader_a.coded[0].spans else names[1]
        raise AgreementError(f"{empty} holds no codings of text: agreement needs two coders' work"
                             + (f" ({'; '.join(left_out)})" if left_out else ""))
    # B's texts and codes take A's numbers where they match; the others are numbered after A's
    text_map = _match_texts(reader_a, reader_b, left_out, names)
    table_a, table_b = _code_table(a), _code_table(b)
    code_map = _match_codes(table_a, table_b)
    texts = list(reader_a.texts)
    text_numbers = np.full(len(reader_b.texts), -1, dtype=np.int64)
    texts_b: set[int] = set()
    for number, text in enumerate(reader_b.texts):
        if number in text_map:
            text_numbers[number] = text_map[number]
        else:  # unmatched: coded by B only
            texts_b.add(len(texts))
            texts.append(text)
    codes = list(reader_a.codes)
    code_numbers = {key: number for number, key in enumerate(codes)}
    for key in reader_b.codes:
        mapped = code_map.get(key, key)
        if mapped not in code_numbers:
            code_numbers[mapped] = len(codes)
            codes.append(mapped)
        if mapped not in table_a and key in table_b:
            table_a[mapped] = table_b[key]
    rows, _texts = reader_b.coded[0].side()
    rows = rows[text_numbers[rows[:, 0]] >= 0]
    rows[:, 0] = text_numbers[rows[:, 0]]
    renumber = np.array([code_numbers[code_map.get(key, key)] for key in reader_b.codes], dtype=np.int64)
    rows[:, 1] = renumber[rows[:, 1]]
    texts_b.update(np.unique(rows[:, 0]).tolist())
    return _compute(texts, codes, table_a, reader_a.coded[0].side(), (rows, texts_b), names, overlap, left_out)


def _match_texts(reader_a: _Reader, reader_b: _Reader, left_out: list[str], names: tuple[str, str]) -> dict[int, int]:
    """B's text numbers -> A's: by GUID when the text is the same, else by identical text."""
    by_key = dict(zip(reader_a.text_keys, reader_a.texts, strict=True))
    numbers = {key: number for number, key in enumerate(reader_a.text_keys)}
    by_digest = {text.digest: number for number, text in enumerate(reader_a.texts)}
    mapping: dict[int, int] = {}
    differ: list[str] = []
    for number, (key, text) in enumerate(zip(reader_b.text_keys, reader_b.texts, strict=True)):
        if key in by_key:
            if by_key[key].digest == text.digest:
                mapping[number] = numbers[key]
            else:
                differ.append(text.name)
        elif text.digest in by_digest:
            mapping[number] = by_digest[text.digest]
    if differ:
        left_out.append(f"{len(differ)} text(s) whose text differs between {names[0]} and {names[1]}: "
                        f"{_listing(sorted(differ))}")
    return mapping


def _match_codes(codes_a: dict[str, _CodeInfo], codes_b: dict[str, _CodeInfo]) -> dict[str, str]:
    """B's code keys -> A's: by GUID, else by code path."""
    by_path = {path: key for key, (_guid, _name, path) in codes_a.items()}
    mapping = {}
    for key, (_guid, _name, path) in codes_b.items():
        if key in codes_a:
            mapping[key] = key
        elif path in by_path:
            mapping[key] = by_path[path]
    return mapping
