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
    """Text documents of a project and the coded spans in them, for the coders `which` picks."""

    def __init__(self, project: Project, which: Callable[[str | None], int | None], sides: int) -> None:
        self.texts: dict[str, _Text] = {}
        self.coded = [_Coded() for _ in range(sides)]
        self.skipped: Counter[str] = Counter()
        for source in walk_sources(project):
            self._document(source, which)

    def _document(self, source: Source, which: Callable[[str | None], int | None]) -> None:
        has_codings = source.codings or any(sel.codings for sel in source.selections)
        if not has_codings:
            return
        if source.kind not in TEXT_DOCUMENTS:
            count = len(source.codings) + sum(len(sel.codings) for sel in source.selections)
            self.skipped[f"codings on {source.kind} sources"] += count
            return
        text = source.text
        if text is None:
            self.skipped["codings on texts that could not be read"] += len(source.codings) + sum(
                len(sel.codings) for sel in source.selections)
            return
        key = guid_key(source.guid)
        self.texts[key] = _Text(source.guid, source.name or source.guid, len(text),
                                hashlib.sha256(text.encode("utf-8")).hexdigest())
        positions = {guid_key(p.guid): p.position for p in source.sync_points}
        for coding in source.codings:  # a whole-text coding covers every character
            self._add(which(coder_of(coding, None)), key, coding, 0, len(text))
        for selection in source.selections:
            span = _span(selection, positions)
            for coding in selection.codings:
                if span is None:
                    self.skipped[f"codings of {selection.kind} selections without a text span"] += 1
                else:
                    self._add(which(coder_of(coding, selection)), key, coding, *span)

    def _add(self, side: int | None, text: str, coding: Coding, start: int, end: int) -> None:
        if side is None:
            return
        length = self.texts[text].length
        start, end = max(0, start), min(end, length)
        if start >= end:
            self.skipped["codings of empty or out-of-range spans"] += 1
            return
        coded = self.coded[side]
        coded.spans[(text, guid_key(coding.code))].append((start, end))
        coded.texts.add(text)


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


def _char_tables(keys: list[tuple[str, str]], coded_a: _Coded, coded_b: _Coded) -> np.ndarray:
    """(both, only_a, only_b) characters per (text, code) key, by a sweep over span boundaries.

    Every span gives a +1 event at its start and -1 at its end for its coder; sorted by key and
    position, the running sums say who covers each stretch between two events, and the stretch's
    length goes to that cell. Spans of one coder that overlap each other count once.
    """
    index = {key: i for i, key in enumerate(keys)}
    units, positions, deltas_a, deltas_b = [], [], [], []
    for side, coded in ((0, coded_a), (1, coded_b)):
        for key, spans in coded.spans.items():
            unit = index.get(key)
            if unit is None:
                continue
            for start, end in spans:
                units += (unit, unit)
                positions += (start, end)
                if side == 0:
                    deltas_a += (1, -1)
                    deltas_b += (0, 0)
                else:
                    deltas_a += (0, 0)
                    deltas_b += (1, -1)
    result = np.zeros((len(keys), 3), dtype=np.int64)
    if not units:
        return result
    unit_arr = np.asarray(units, dtype=np.int64)
    pos_arr = np.asarray(positions, dtype=np.int64)
    order = np.lexsort((pos_arr, unit_arr))
    unit_arr, pos_arr = unit_arr[order], pos_arr[order]
    cover_a = np.cumsum(np.asarray(deltas_a, dtype=np.int64)[order]) > 0
    cover_b = np.cumsum(np.asarray(deltas_b, dtype=np.int64)[order]) > 0
    lengths_between = np.diff(pos_arr)
    same_unit = unit_arr[1:] == unit_arr[:-1]
    stretch = np.where(same_unit, lengths_between, 0)
    unit_of = unit_arr[:-1]
    a, b = cover_a[:-1], cover_b[:-1]
    for column, mask in enumerate((a & b, a & ~b, ~a & b)):
        result[:, column] = np.bincount(unit_of, weights=stretch * mask, minlength=len(keys)).astype(np.int64)
    return result


def _iou_matches(mine: list[tuple[int, int]], theirs: list[tuple[int, int]], overlap: float) -> int:
    """How many of `mine` overlap some span of `theirs` by at least `overlap` (intersection / union)."""
    if not theirs:
        return 0
    ends = sorted(theirs)
    matched = 0
    for start, end in mine:
        for other_start, other_end in ends:
            if other_start >= end:
                break
            common = min(end, other_end) - max(start, other_start)
            if common > 0 and common / (max(end, other_end) - min(start, other_start)) >= overlap - 1e-12:
                matched += 1
                break
    return matched


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
    shared_set = set(shared)
    code_keys = sorted({code for coded in (coded_a, coded_b) for (text, code) in coded.spans if text in shared_set},
                       key=lambda k: (codes.get(k, (None, k, (k,)))[2], k))
    keys = [(text, code) for code in code_keys for text in shared]
    counts = _char_tables(keys, coded_a, coded_b)
    results: list[CodeAgreement] = []
    overall = CodeAgreement(None, "all codes", ("all codes",))
    row = 0
    for code in code_keys:
        guid, name, path = codes.get(code, (None, code, (code,)))
        entry = CodeAgreement(guid, name, path)
        for text in shared:
            both, only_a, only_b = (int(v) for v in counts[row])
            row += 1
            neither = texts[text].length - both - only_a - only_b
            table = CharTable(both, only_a, only_b, neither)
            entry.characters.add(table)
            if both or only_a or only_b:
                entry.sources.append(SourceAgreement(texts[text].guid, texts[text].name, table))
            spans_a = coded_a.spans.get((text, code), [])
            spans_b = coded_b.spans.get((text, code), [])
            segments_a, segments_b = sorted(set(spans_a)), sorted(set(spans_b))
            entry.segments.add(SegmentCounts(len(segments_a), len(segments_b),
                                             _iou_matches(segments_a, segments_b, overlap),
                                             _iou_matches(segments_b, segments_a, overlap)))
        entry.alpha = krippendorff_alpha([entry.characters])
        overall.characters.add(entry.characters)
        overall.segments.add(entry.segments)
        results.append(entry)
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
        reader = _Reader(project, lambda user: 0, 1)
        users = coders(project)
        if len(users) > 1:
            left_out.append(f"{name} holds codings by {len(users)} users ({_listing([u.name for u in users])}); "
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
