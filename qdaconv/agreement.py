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
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qdaconv.errors import QdaconvError
from qdaconv.model import Coding, Project, Selection, Source, guid_key, walk_codes, walk_sources

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


def value_counts(tables: Iterable[CharTable]) -> np.ndarray:
    """Krippendorff reliability data for the characters of `tables`, as units x values (0, 1) counts.

    Every character is a unit that two coders valued 1 (coded) or 0. Units on which the coders
    disagree are rows (1, 1), one per character. Units on which they agree are gathered into one
    row per value: a unit where m coders give the same value adds m to that value's diagonal cell
    of the coincidence matrix, whatever m is, so one row (2k, 0) counts exactly as k rows (2, 0)
    and memory grows with the disagreements only.
    """
    agree_0 = agree_1 = disagree = 0
    for table in tables:
        agree_0 += table.neither
        agree_1 += table.both
        disagree += table.only_a + table.only_b
    rows = [row for row in ([2 * agree_0, 0], [0, 2 * agree_1]) if sum(row)]
    data = np.ones((disagree + len(rows), 2), dtype=np.float64)
    if rows:
        data[disagree:] = rows
    return data


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


@dataclass(slots=True)
class _Coded:
    """One coder's coded spans of one project, by (text key, code key)."""

    spans: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    texts: set[str] = field(default_factory=set)  # text keys this coder coded in


def coder_of(coding: Coding, selection: Selection | None) -> str | None:
    """The user a coding counts for: its creating user, else its selection's (as a guid_key)."""
    user = coding.creating_user or (selection.creating_user if selection is not None else None)
    return guid_key(user) if user else None


class _Reader:
    """Text documents of a project and the coded spans in them, for the coders `which` picks.

    `which(user)` gives a user's side (0 or 1) or None to leave the coding out; without it every
    coding counts for side 0. `digests` keeps a digest of each text, to match texts across files.
    """

    def __init__(self, project: Project, which: Callable[[str | None], int | None] | None, sides: int,
                 digests: bool = False) -> None:
        self.texts: dict[str, _Text] = {}
        self.coded = [_Coded() for _ in range(sides)]
        self.skipped: Counter[str] = Counter()
        self._which = which
        self._digests = digests
        self._keys: dict[str | None, str] = {}  # GUID as written -> guid_key, for codes and users
        self.users: set[str | None] = set()  # users whose codings were read (as written)
        for source in walk_sources(project):
            self._document(source)

    def _key(self, guid: str | None) -> str:
        key = self._keys.get(guid)
        if key is None:
            key = self._keys[guid] = guid_key(guid)
        return key

    def _side(self, coding: Coding, selection: Selection | None) -> int | None:
        user = coding.creating_user or (selection.creating_user if selection is not None else None)
        if self._which is None:
            self.users.add(user)
            return 0
        if not user:
            self.skipped["codings without a coder (no creating user)"] += 1
            return None
        return self._which(self._key(user))

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
        key, length = guid_key(source.guid), len(text)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest() if self._digests else ""
        self.texts[key] = _Text(source.guid, source.name or source.guid, length, digest)
        positions = {guid_key(p.guid): p.position for p in source.sync_points}
        spans = [coded.spans for coded in self.coded]
        used = [False] * len(self.coded)
        for coding in source.codings:  # a whole-text coding covers every character
            side = self._side(coding, None)
            if side is not None and length:
                spans[side][(key, self._key(coding.code))].append((0, length))
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
                side = self._side(coding, selection)
                if side is None:
                    continue
                if start >= end:
                    self.skipped["codings of empty or out-of-range spans"] += 1
                    continue
                spans[side][(key, self._key(coding.code))].append((start, end))
                used[side] = True
        for side, coded in enumerate(self.coded):
            if used[side]:
                coded.texts.add(key)


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


def _span_arrays(index: dict[tuple[str, str], int], coded: _Coded) -> np.ndarray:
    """One coder's spans as rows (unit, start, end), unit being the (text, code) key's number."""
    units: list[int] = []
    spans: list[tuple[int, int]] = []
    for key, found in coded.spans.items():
        unit = index.get(key)
        if unit is not None:
            units.extend([unit] * len(found))
            spans.extend(found)
    rows = np.empty((len(units), 3), dtype=np.int64)
    if units:
        rows[:, 0] = units
        rows[:, 1:] = spans
    return rows


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


def _segment_counts(units: int, rows_a: np.ndarray, rows_b: np.ndarray, overlap: float) -> np.ndarray:
    """(segments_a, segments_b, matched_a, matched_b) per unit.

    A segment is a distinct span of a coder in a unit; it matches when a segment of the other
    coder in the same unit overlaps it by at least `overlap` of the two together (intersection /
    union). Every pair of segments in a unit is looked at, all at once.
    """
    rows_a, rows_b = np.unique(rows_a, axis=0), np.unique(rows_b, axis=0)  # sorted by unit, distinct
    result = np.zeros((units, 4), dtype=np.int64)
    result[:, 0] = np.bincount(rows_a[:, 0], minlength=units)
    result[:, 1] = np.bincount(rows_b[:, 0], minlength=units)
    low = np.searchsorted(rows_b[:, 0], rows_a[:, 0], side="left")
    high = np.searchsorted(rows_b[:, 0], rows_a[:, 0], side="right")
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


def _compute(texts: dict[str, _Text], codes: dict[str, tuple[str | None, str, tuple[str, ...]]],
             coded_a: _Coded, coded_b: _Coded, coders: tuple[str, str], overlap: float,
             left_out: list[str]) -> Agreement:
    shared = sorted(coded_a.texts & coded_b.texts, key=lambda k: texts[k].name)
    only = (coded_a.texts | coded_b.texts) - set(shared)
    if only:
        names = sorted(texts[k].name for k in only)
        left_out.append(f"{len(only)} text(s) coded by only one of the coders: {_listing(names)}")
    if not shared:
        raise AgreementError(f"{coders[0]} and {coders[1]} coded no text in common, so there is nothing to "
                             "compare" + (f" ({'; '.join(left_out)})" if left_out else "")
                             + "; give two coders who coded the same texts")
    order = {text: number for number, text in enumerate(shared)}
    keys = sorted({key for coded in (coded_a, coded_b) for key in coded.spans if key[0] in order},
                  key=lambda key: (key[1], order[key[0]]))
    index = {key: number for number, key in enumerate(keys)}
    rows_a, rows_b = _span_arrays(index, coded_a), _span_arrays(index, coded_b)
    counts = np.hstack([_char_tables(len(keys), rows_a, rows_b),
                        _segment_counts(len(keys), rows_a, rows_b, overlap)]).tolist()
    characters = sum(texts[text].length for text in shared)
    entries: dict[str, CodeAgreement] = {}
    for (text, code), (both, only_a, only_b, seg_a, seg_b, match_a, match_b) in zip(keys, counts, strict=True):
        entry = entries.get(code)
        if entry is None:
            entry = entries[code] = CodeAgreement(*codes.get(code, (None, code, (code,))))
        table = CharTable(both, only_a, only_b, texts[text].length - both - only_a - only_b)
        entry.sources.append(SourceAgreement(texts[text].guid, texts[text].name, table))
        total, segments = entry.characters, entry.segments
        total.both, total.only_a, total.only_b = total.both + both, total.only_a + only_a, total.only_b + only_b
        segments.segments_a, segments.segments_b = segments.segments_a + seg_a, segments.segments_b + seg_b
        segments.matched_a, segments.matched_b = segments.matched_a + match_a, segments.matched_b + match_b
    results = sorted(entries.values(), key=lambda entry: (entry.path, entry.guid or ""))
    overall = CodeAgreement(None, "all codes", ("all codes",))
    for entry in results:
        table = entry.characters
        table.neither = characters - table.both - table.only_a - table.only_b
        entry.alpha = krippendorff_alpha([table])
        overall.characters.add(table)
        overall.segments.add(entry.segments)
    overall.alpha = krippendorff_alpha([entry.characters for entry in results])
    return Agreement(coders, overlap, [(texts[k].guid, texts[k].name, texts[k].length) for k in shared],
                     results, overall, left_out)


def _listing(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _code_table(project: Project) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
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
    names = {guid_key(u.guid): (u.guid, u.name or u.id or u.guid) for u in project.users}
    counts: Counter[str] = Counter()
    for source in walk_sources(project):
        for coding in source.codings:
            counts[coder_of(coding, None) or ""] += 1
        for selection in source.selections:
            for coding in selection.codings:
                counts[coder_of(coding, selection) or ""] += 1
    counts.pop("", None)
    return [CoderInfo(*names.get(key, (key, key)), count) for key, count in counts.most_common()]


def find_coder(project: Project, name: str) -> CoderInfo:
    """The coder named `name` (user name, id or GUID; case-insensitive)."""
    wanted = name.strip().casefold()
    found = [c for c in coders(project) if wanted in (c.name.casefold(), guid_key(c.guid))]
    if not found:
        ids = {guid_key(u.guid) for u in project.users if (u.id or "").casefold() == wanted}
        found = [c for c in coders(project) if guid_key(c.guid) in ids]
    if not found:
        known = ", ".join(c.name for c in coders(project)) or "none"
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
        chosen = [find_coder(project, name) for name in pair]
        if guid_key(chosen[0].guid) == guid_key(chosen[1].guid):
            raise AgreementError(f"{pair[0]!r} and {pair[1]!r} are the same coder; name two different coders")
        left_out = []
    sides = {guid_key(chosen[0].guid): 0, guid_key(chosen[1].guid): 1}
    reader = _Reader(project, lambda user: sides.get(user or ""), 2)
    left_out += _skipped_notes(reader.skipped)
    return _compute(reader.texts, _code_table(project), reader.coded[0], reader.coded[1],
                    (chosen[0].name, chosen[1].name), overlap, left_out)


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
    text_map = _match_texts(reader_a.texts, reader_b.texts, left_out, names)
    codes_a, codes_b = _code_table(a), _code_table(b)
    code_map = _match_codes(codes_a, codes_b)
    texts = dict(reader_a.texts)
    coded_b = _Coded()
    for (text, code), spans in reader_b.coded[0].spans.items():
        if text not in text_map:
            continue
        mapped_code = code_map.get(code, code)
        coded_b.spans[(text_map[text], mapped_code)].extend(spans)
        coded_b.texts.add(text_map[text])
        if mapped_code not in codes_a and code in codes_b:
            codes_a[mapped_code] = codes_b[code]
    for text, info in reader_b.texts.items():
        if text not in text_map:
            texts[f"b:{text}"] = info
            coded_b.texts.add(f"b:{text}")
    return _compute(texts, codes_a, reader_a.coded[0], coded_b, names, overlap, left_out)


def _match_texts(texts_a: dict[str, _Text], texts_b: dict[str, _Text], left_out: list[str],
                 names: tuple[str, str]) -> dict[str, str]:
    """B's text keys -> A's: by GUID when the text is the same, else by identical text."""
    by_digest = {text.digest: key for key, text in texts_a.items()}
    mapping: dict[str, str] = {}
    differ: list[str] = []
    for key, text in texts_b.items():
        if key in texts_a:
            if texts_a[key].digest == text.digest:
                mapping[key] = key
            else:
                differ.append(text.name)
        elif text.digest in by_digest:
            mapping[key] = by_digest[text.digest]
    if differ:
        left_out.append(f"{len(differ)} text(s) whose text differs between {names[0]} and {names[1]}: "
                        f"{_listing(sorted(differ))}")
    return mapping


def _match_codes(codes_a: dict[str, tuple[str | None, str, tuple[str, ...]]],
                 codes_b: dict[str, tuple[str | None, str, tuple[str, ...]]]) -> dict[str, str]:
    """B's code keys -> A's: by GUID, else by code path."""
    by_path = {path: key for key, (_guid, _name, path) in codes_a.items()}
    mapping = {}
    for key, (_guid, _name, path) in codes_b.items():
        if key in codes_a:
            mapping[key] = key
        elif path in by_path:
            mapping[key] = by_path[path]
    return mapping
