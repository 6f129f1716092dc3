"""De-identification: replace names and places in a whole study, keeping every coded excerpt in place.

`read_terms` reads a terms file (CSV with a `term` column and an optional `replacement`).
`Matcher` compiles all terms into one regular expression shaped as a trie, so 200 terms cost
little more than one: a term matches as a whole word or phrase, without regard to case or to
accents on Latin letters (`Jose`, `José` and `JOSÉ` in NFC or NFD are one term), with any
apostrophe, quote or hyphen standing for any other, and any run of white space (a line break
too) between the words of a phrase. At one place the longest term wins. In a long text a prefilter
(numpy) first finds the few places where a term can begin, and the expression is tried only there.

`redact_project` replaces the terms in every text a participant's words can be in, moves every
position into a text with `qdaconv.positions.remap_text_positions` (a boundary inside a replaced
term moves out to the edge of the replacement, so the excerpt still covers it), drops what
cannot be redacted (media, PDF and rich-text files) and says so as `Loss` items, and returns the
log of replacements. `find_terms` searches written output (a file, a folder, a zip, zips inside
zips) for any term left: the verification pass. The module knows no format.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import os
import re
import unicodedata
import zipfile
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import IO, Any, NamedTuple

from qdaconv.errors import LossError, ReadError, WriteError
from qdaconv.files import MEMBER_ERRORS
from qdaconv.formats import Loss, LossReport
from qdaconv.model import TEXT_KINDS, Blob, Project, Source, walk_codes, walk_sources
from qdaconv.positions import remap_text_positions

DEFAULT_PLACEHOLDER = "[REDACTED]"
#: How many places an error about terms left names.
SHOWN = 5


class TermsLeftError(WriteError):
    """A term is still in the output, or would be: a negative verdict (exit 1); nothing was written."""

    exit_code = 1


class CannotRedactError(LossError):
    """Under strict mode: the input holds what cannot be redacted (media, PDF, rich text); nothing was written."""

    def __init__(self, report: LossReport) -> None:
        WriteError.__init__(self, f"{report.target}: not written (strict mode): {report.summary()}")
        self.report = report


def terms_left_message(found: list[str], what: str) -> str:
    """`what`, then the first places where terms were found."""
    shown = "; ".join(found[:SHOWN]) + (f" (and {len(found) - SHOWN} more)" if len(found) > SHOWN else "")
    return f"{what}: {shown}"

#: Characters that stand for one another inside a term, by the one they are all folded to.
_APOSTROPHES = "'’‘ʼʹ`´′"
_QUOTES = '"“”„″«»'
_HYPHENS = "-‐‑‒–−"
_EQUIVALENT = {**dict.fromkeys(_APOSTROPHES, "'"), **dict.fromkeys(_QUOTES, '"'), **dict.fromkeys(_HYPHENS, "-")}
#: Combining marks (accents written as separate code points, as in NFD text), all folded to one.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_MARK = "\u0300"
#: A term begins and ends at a word boundary: not next to a letter or digit (an underscore separates,
#: as in file names such as Anna_interview1.txt).
_WORD_BEFORE = r"(?<![^\W_])"
_WORD_AFTER = rf"(?![^\W_]|{_MARK})"
_SPACES = re.compile(r"\s+")


def _fold_point(point: int) -> str:
    """What the character `point` folds to (itself where nothing changes): a combining mark to the one
    mark, an apostrophe, quote or hyphen to the ASCII one, a Latin letter with accents to its base
    letter in lower case, anything else to its lower case where that is one character. Only the
    Basic Multilingual Plane is folded, as ever; C1 controls and surrogates stay as they are."""
    char = chr(point)
    if 0x80 <= point < 0xA0 or 0xD800 <= point < 0xE000 or point >= 0x10000:
        return char
    decomposed = unicodedata.normalize("NFD", char)
    if _MARKS.fullmatch(char):
        return _MARK
    if char in _EQUIVALENT:
        return _EQUIVALENT[char]
    if len(decomposed) > 1 and decomposed[0].isascii() and decomposed[0].isalpha():
        return decomposed[0].lower()
    lower = char.lower()
    return lower if len(lower) == 1 else char


class _Lazy(dict):
    """A table filled as it is asked: folding all 63,000 characters up front cost every command 44 ms."""

    def __init__(self, compute: Callable[[Any], str]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: Any) -> str:
        value = self[key] = self.compute(key)
        return value


#: Code point to folded character, for `str.translate`.
_FOLD = _Lazy(_fold_point)


def _fold_lowered(point: int) -> str:
    """What a character folds to when its text is not lower-cased first (see `fold_text`)."""
    lower = chr(point).lower()
    return lower if lower.isascii() else _FOLD[ord(lower)]


_FOLD_LOWERED = _Lazy(_fold_lowered)
_ASCII = bytes(range(128))


def fold_text(text: str) -> str:
    """`text` with every character folded (no case, Latin letters without accents, one apostrophe, quote,
    hyphen and combining mark), one character for one, so positions in it are positions in `text`.

    A short text is translated character by character. A longer one is lower-cased, then each distinct
    non-ASCII character that folds (a few dozen in a transcript, found by deleting the ASCII bytes from
    its UTF-8) is replaced, several times faster than translating the text character by character.
    """
    if text.isascii():
        folded = text.lower()
    elif "\u0130" in text:  # İ, whose lower case is two characters: fold one by one
        return text.translate(_FOLD)
    elif len(text) < 32 and "\u03a3" not in text:  # Σ lower-cases by its place in the word (σ, ς): str.lower knows
        folded = text.translate(_FOLD_LOWERED)
    else:
        folded = text.lower()
        others = folded.encode("utf-8", "surrogatepass").translate(None, _ASCII).decode("utf-8", "surrogatepass")
        for char in set(others):
            if (replacement := _FOLD[ord(char)]) != char:
                folded = folded.replace(char, replacement)
    return folded.replace("`", "'") if "`" in folded else folded


# A long text is not searched by the regular expression alone: at ~28 ns a character it would be most
# of the command's time, because nearly every letter can begin some term and the regex engine starts
# an attempt at each. A prefilter in numpy first finds the places where a term can begin, judged by the
# character before (a word boundary) and the first three characters, and the regular expression is
# tried only there (`Matcher.spans`). The prefilter sees each character as a code: the ASCII character
# it folds to (white space as a space), or else `_OTHER`, which it lets stand for any character, so it
# never misses a place the regular expression would match.
_SPACE = 0x20
_OTHER = 0x3F  # "?": a character that does not fold to ASCII, and the question mark itself


def _code(char: str) -> int:
    """The prefilter's code of one folded character."""
    if not char.isascii():
        return _OTHER
    return _SPACE if char.isspace() else ord(char)


#: The code of each Latin-1 character, for `bytes.translate` (text is encoded to Latin-1 with "?" for the
#: rest): as `fold_text` folds it, so that "é" is an "e" here too and places in "naïve" are not candidates.
_CODES = bytes(_code(fold_text(chr(point))) for point in range(256))
#: Texts shorter than this go to the regular expression alone: the prefilter's set-up costs more there.
_PREFILTER_FROM = 4096
#: The prefilter looks at a text in pieces of this many characters, so its arrays stay small: arrays of
#: megabytes are given back to the system when freed, and every page of the next one costs a page fault.
_PIECE = 1 << 16
#: Folding and matching a little text around one place costs about as much as folding this many characters.
_FOLD_EACH = 200


def _starts(units: list[_Unit]) -> set[tuple[int | None, ...]]:
    """Every way the first three characters of a match of `units` can look as codes (None: any code).

    After a unit's first character the unit may go on (marks after a letter, more white space: codes
    `_OTHER` and `_SPACE`) or the next unit begin; after the last unit the match may end. A character
    coded `_OTHER` can be anything, so what follows it is not looked at.
    """
    found: set[tuple[int | None, ...]] = set()

    def walk(index: int, codes: tuple[int | None, ...]) -> None:
        if len(codes) == 3:
            found.add(codes)
            return
        if not codes:
            options = [(code, 0) for code in units[0].first]
        else:
            going_on = (_SPACE, _OTHER) if units[index].key == " " else (_OTHER,)
            options = [(code, index) for code in going_on]
            if index + 1 < len(units):
                options += [(code, index + 1) for code in units[index + 1].first]
            else:
                found.add(codes + (None,) * (3 - len(codes)))
        for code, at in options:
            if code == _OTHER:
                found.add(codes + (_OTHER,) + (None,) * (2 - len(codes)))
            else:
                walk(at, codes + (code,))

    walk(0, ())
    return found


class _Unit(NamedTuple):
    """One character of a term: what its spellings fold to, the regex fragment over folded text that
    matches them all, and the prefilter codes (see `_code`) its first character can have."""

    key: str
    fragment: str
    first: frozenset[int]


def _units(term: str) -> list[_Unit]:
    """A term as matching units, one per character.

    The key is what every spelling of the unit folds to; the fragment matches every spelling: a
    Latin letter with any accents, white space as any run of it, a letter that has its accent
    as a separate mark (й and и + breve) in both forms.
    """
    units: list[_Unit] = []
    for char in unicodedata.normalize("NFC", term.strip()):
        folded = fold_text(char)
        if folded == _MARK:
            continue  # an accent on a Latin letter, which the letter's fragment allows
        if folded.isascii() and folded.isalpha():
            units.append(_Unit(folded, f"{folded}{_MARK}*", frozenset({_code(folded)})))
        elif char.isspace():
            if not units or units[-1].key != " ":
                units.append(_Unit(" ", r"\s+", frozenset({_SPACE, _OTHER})))
        elif len(decomposed := unicodedata.normalize("NFD", char)) > 1:
            base = fold_text(decomposed[0])
            units.append(_Unit(folded, f"(?:{re.escape(folded)}|{re.escape(base)}{_MARK}+)",
                               frozenset({_code(folded), _code(base)})))
        else:
            units.append(_Unit(folded, re.escape(folded), frozenset({_code(folded)})))
    return units


def fold(text: str) -> str:
    """The key terms are compared by: folded, without marks, white space runs as one space."""
    return _SPACES.sub(" ", fold_text(unicodedata.normalize("NFC", text.strip()))).replace(_MARK, "")


@dataclass(frozen=True, slots=True)
class Term:
    """One line of the terms file: the words to find and what replaces them."""

    term: str
    replacement: str
    line: int = 0


def read_terms(path: str | os.PathLike, placeholder: str = DEFAULT_PLACEHOLDER) -> list[Term]:
    """The terms of a CSV file with a header `term,replacement` (replacement optional, default `placeholder`).

    Raises ReadError, naming the file and the line, when the file is missing, empty, has no
    `term` column, or holds a term shorter than two characters, two spellings of one term with
    different replacements, or a replacement that contains a term.
    """
    path = Path(path)
    hint = "the terms file is a CSV with a header row `term,replacement`"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReadError(path, "no such terms file", hint="check the path") from None
    except IsADirectoryError:
        raise ReadError(path, "is a folder, not a terms file", hint=hint) from None
    except UnicodeDecodeError as exc:
        raise ReadError(path, f"not UTF-8 text (byte {exc.start})", hint="save the terms file as UTF-8 CSV") from None
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror}") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if not header or not any(cell.strip() for cell in header):
        raise ReadError(path, "the terms file is empty", hint=hint)
    columns = [cell.strip().lower() for cell in header]
    if "term" not in columns:
        raise ReadError(path, f"no `term` column in the header ({', '.join(header)})", location="line 1", hint=hint)
    term_at = columns.index("term")
    replacement_at = columns.index("replacement") if "replacement" in columns else None
    terms: list[Term] = []
    seen: dict[str, Term] = {}
    for row in rows:
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        term = row[term_at].strip() if term_at < len(row) else ""
        replacement = row[replacement_at].strip() if replacement_at is not None and replacement_at < len(row) else ""
        if len(fold(term)) < 2:
            raise ReadError(path, f"the term {term!r} is too short: a term needs at least two characters",
                            location=f"line {line}", hint="remove the line or write the whole word")
        entry = Term(term, replacement or placeholder, line)
        earlier = seen.get(fold(term))
        if earlier is not None:
            if earlier.replacement != entry.replacement:
                raise ReadError(path, f"{term!r} is the term {earlier.term!r} of line {earlier.line} (terms match "
                                      "without regard to case and accents) with another replacement",
                                location=f"line {line}", hint="keep one of the two lines")
            continue
        seen[fold(term)] = entry
        terms.append(entry)
    if not terms:
        raise ReadError(path, "the terms file has no terms", hint=hint)
    matcher = Matcher(terms)
    for entry in terms:
        found = matcher.search(entry.replacement)
        if found is not None:
            raise ReadError(path, f"the replacement {entry.replacement!r} contains the term {found.term.term!r}, "
                                  "so the output would still hold it", location=f"line {entry.line}",
                            hint="choose a replacement without any of the terms")
    return terms


class Match(NamedTuple):
    """A term found in a text: its span in code points and the term."""

    start: int
    end: int
    term: Term


class Matcher:
    """All terms compiled into one trie-shaped regular expression over folded text (see the module docstring)."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self.terms = {fold(term.term): term for term in terms}
        self._seen: dict[str, Term] = {}
        self._each: list[tuple[re.Pattern[str], Term]] = []
        self._prefilter: dict[bool, tuple[Any, Any, Any]] = {}
        word_start: dict[Any, Any] = {}
        other_start: dict[Any, Any] = {}
        #: The most units of any term, so the most characters other than white space and marks in a match.
        self.longest = 0
        for term in self.terms.values():
            text = term.term.strip()
            node = word_start if _is_word(text[0]) else other_start
            units = _units(text)
            self.longest = max(self.longest, len(units))
            for unit in units:
                node = node.setdefault(unit, {})
            node[None] = _WORD_AFTER if _is_word(text[-1]) else ""
        parts = []
        if word_start:
            parts.append(_emit(word_start, at_word_start=True))
        if other_start:
            parts.append(_emit(other_start))
        self.pattern = re.compile("|".join(parts))

    def finditer(self, text: str) -> Iterator[Match]:
        seen, term_of = self._seen.get, self._term_of
        for start, end in self.spans(fold_text(text)):
            matched = text[start:end]
            yield Match(start, end, seen(matched) or term_of(matched))

    def search(self, text: str) -> Match | None:
        for start, end in self.spans(fold_text(text)):
            return Match(start, end, self._term_of(text[start:end]))
        return None

    def spans(self, folded: str) -> list[tuple[int, int]]:
        """The (start, end) of each term in `folded` (a text passed through `fold_text`), as `re.finditer`
        finds them: the leftmost first, then on from its end."""
        if len(folded) < _PREFILTER_FROM:
            return [found.span() for found in self.pattern.finditer(folded)]
        match, end, spans = self.pattern.match, 0, []
        for start in self.candidates(folded):
            if start >= end and (found := match(folded, start)) is not None:
                end = found.end()
                spans.append((start, end))
        return spans

    def occurrences(self, text: str, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int]]:
        """The (start, end) of every place in `text` (not folded) where a term begins, from `start` to before
        `stop`, overlapping ones too (`spans` goes on after the end of each): what the verification asks.

        Where the prefilter leaves few places, as in a project.qde, only a little text around each is
        folded and matched; where it leaves many, as in a transcript, the whole text is folded.
        """
        stop = len(text) if stop is None else stop
        if len(text) < _PREFILTER_FROM:
            folded, search = fold_text(text), self.pattern.search
            while (found := search(folded, start)) is not None and found.start() < stop:
                yield found.span()
                start = found.start() + 1
            return
        places = self.candidates(text, start, stop, folded=False)
        match = self.pattern.match
        if len(places) * _FOLD_EACH > stop - start or "\u03a3" in text:  # Σ folds by its neighbours: fold all
            folded = fold_text(text)
            for at in places:
                if (found := match(folded, at)) is not None:
                    yield found.span()
            return
        for at in places:
            before = 1 if at else 0
            size = 4 * self.longest + _CONTEXT
            while True:  # enough text after the place that a term beginning there ends inside it
                folded = fold_text(text[at - before:at + size])
                if at + size >= len(text) or (len("".join(folded[before:].split())) - folded.count(_MARK, before)
                                              > self.longest):
                    break
                size *= 2
            if (found := match(folded, before)) is not None:
                yield at, at + found.end() - before

    def candidates(self, text: str, start: int = 0, stop: int | None = None, *, folded: bool = True) -> list[int]:
        """The places in `text` from `start` to before `stop` where a term can begin: a superset of those where
        one does. `text` is folded (`fold_text`) unless `folded` is false; then any character beyond Latin-1
        may begin a term, as it may fold to an ASCII letter."""
        import numpy as np  # loaded only for long texts: start-up stays light

        pairs, triples, word = self._tables(folded)
        stop = len(text) if stop is None else stop
        found: list[int] = []
        for low in range(start, stop, _PIECE):
            high = min(low + _PIECE, stop)
            # the character before each place and the three from it; a space stands for the text's ends
            data = (b"" if low else b" ") + text[max(low - 1, 0):high + 2].encode("latin-1", "replace")
            codes = np.frombuffer((data + b" " * (high - low + 3 - len(data))).translate(_CODES), dtype=np.uint8)
            pair = codes[1:-2].astype(np.uint16) << 7 | codes[2:-1]  # the first two characters
            at = np.flatnonzero(pairs[pair])
            if at.size:  # then the boundary before and the third character
                at = at[triples[(word[codes[at]] | pair[at]).astype(np.uint32) << 7 | codes[at + 3]]]
                found += (at + low).tolist()
        return found

    def _tables(self, folded: bool) -> tuple[Any, Any, Any]:
        """The prefilter's tables: which (code, code) pairs and (boundary, code, code, code) a term can begin with,
        and the boundary bit of each code (set where the character before allows a word to begin: not ASCII
        alphanumeric)."""
        if not self._prefilter:
            import numpy as np

            table = np.zeros((2, 128, 128, 128), dtype=bool)  # boundary before, first, second, third code
            for term in self.terms.values():
                text = term.term.strip()
                boundaries = [1] if _is_word(text[0]) else [0, 1]
                for codes in _starts(_units(text)):
                    table[(boundaries, *(slice(None) if code is None else code for code in codes))] = True
            word = np.array([0 if chr(point).isalnum() else 1 << 14 for point in range(128)] + [1 << 14] * 128,
                            dtype=np.uint16)
            self._prefilter[True] = (table.any(axis=(0, 3)).reshape(-1), table.reshape(-1), word)
            table[:, _OTHER] |= table.any(axis=1)  # a character not folded yet may fold to any first one
            self._prefilter[False] = (table.any(axis=(0, 3)).reshape(-1), table.reshape(-1), word)
        return self._prefilter[folded]

    def _term_of(self, matched: str) -> Term:
        term = self._seen.get(matched)
        if term is None:
            term = self.terms.get(fold(matched))
            if term is None:  # a letter with its accent as a separate mark (и + breve for й): ask each term
                if not self._each:
                    self._each = sorted(((re.compile("".join(u.fragment for u in _units(t.term)) + "$"), t)
                                         for t in self.terms.values()), key=lambda item: -len(item[1].term))
                folded = fold_text(matched)
                term = next((t for pattern, t in self._each if pattern.match(folded)), None)
                if term is None:  # cannot happen: the pattern is the union of these
                    raise ValueError(f"no term matches {matched!r}")
            self._seen[matched] = term
        return term


#: Scripts written without spaces between words (Chinese, Japanese, Thai, Lao): a term in them cannot
#: wait for a word boundary, so it matches wherever it occurs.
_NO_SPACES = re.compile("[\u0e00-\u0eff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _is_word(char: str) -> bool:
    """Whether a term that begins or ends with `char` must begin or end at a word boundary there."""
    return char.isalnum() and not _NO_SPACES.match(char)


def _emit(node: dict[Any, Any], at_word_start: bool = False) -> str:
    """The trie below `node` as a regex: children first (longer terms), then the term ending here.

    At a word start, a branch that begins with a letter checks the word boundary just after it
    (`a(?<![^\\W_].)`): branches that all begin with a literal let the regex engine skip ahead to the
    next possible first letter in C, a quarter faster than a boundary check at every position.
    """
    options = []
    for (key, fragment, _first), child in sorted(((k, v) for k, v in node.items() if k is not None),
                                                 key=lambda item: item[0][:2]):
        if at_word_start and fragment.startswith(key) and key.isascii() and key.isalpha():
            fragment = f"{key}(?<![^\\W_].){fragment[len(key):]}"
        elif at_word_start:
            fragment = _WORD_BEFORE + fragment
        options.append(fragment + _emit(child))
    if None in node:
        options.append(node[None])
    if len(options) == 1:
        return options[0]
    return "(?:" + "|".join(options) + ")"


# ---------------------------------------------------------------- redacting a project


@dataclass(slots=True)
class Replacement:
    """One replaced term: where (object kind, GUID, field), the span before and after, the term."""

    kind: str
    guid: str
    field: str
    start: int
    end: int
    out_start: int
    out_end: int
    term: str
    found: str
    replacement: str


@dataclass(slots=True)
class Redaction:
    """What `redact_project` did: every replacement, what it dropped, and terms left where it may not go."""

    replacements: list[Replacement] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def refuse(self, target: str, *, strict: bool = False) -> None:
        """Raise when the redacted project may not be written: terms left in codes; under `strict`, any loss."""
        if self.left:
            raise TermsLeftError(terms_left_message(
                self.left, f"{target}: not written: code names and descriptions are kept, and these hold terms "
                           "(pass --include codes to redact them too)"))
        if strict and self.losses:
            raise CannotRedactError(LossReport(target, list(self.losses)))

    def log_csv(self) -> str:
        """The replacements as CSV: the key to the identities, to be kept apart from the output."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["kind", "guid", "field", "start", "end", "out_start", "out_end", "term", "found",
                         "replacement"])
        writer.writerows((item.kind, item.guid, item.field, item.start, item.end, item.out_start, item.out_end,
                          item.term, item.found, item.replacement) for item in self.replacements)
        return out.getvalue()


#: Joins short texts to be searched at once: no term can match it, hold it or cross it, and it separates
#: words as the ends of a text do (see `_Redactor.prepare`).
_JOIN = "\x00"


class _Redactor:
    def __init__(self, matcher: Matcher, result: Redaction) -> None:
        self.matcher = matcher
        self.result = result
        self.search = matcher.search
        self.found: dict[str, list[tuple[int, int]]] = {}

    def prepare(self, values: Iterable[str | None]) -> None:
        """Find the terms in many short texts at once (a hundred thousand excerpt names), joined by `_JOIN`:
        one pass of the prefilter instead of a fold and a regex search for each. Each text's terms are the
        same as when searched alone: `_JOIN` is a word boundary like the ends of a text, and it stops a
        lower-cased Σ from looking past it as they do. A text with İ (folded otherwise) or `_JOIN` is left
        out, and so is everything when a term holds `_JOIN`."""
        if any(_JOIN in term for term in self.matcher.terms):
            return
        texts = list(dict.fromkeys(value for value in values
                                   if value and _JOIN not in value and "\u0130" not in value))
        if not texts:
            return
        starts = list(accumulate((len(text) + 1 for text in texts), initial=0))
        spans: list[list[tuple[int, int]]] = [[] for _text in texts]
        for start, end in self.matcher.spans(fold_text(_JOIN.join(texts))):
            index = bisect_right(starts, start) - 1
            spans[index].append((start - starts[index], end - starts[index]))
        self.found = dict(zip(texts, spans, strict=True))

    def text(self, value: str, kind: str, guid: str, name: str) -> tuple[str, list[tuple[int, int, int, int]]]:
        """`value` with every term replaced, and the (start, end, out_start, out_end) of each replacement."""
        if not value:
            return value, []
        found = self.found.get(value)
        if found is None:
            found = self.matcher.spans(fold_text(value))
        if not found:
            return value, []
        pieces: list[str] = []
        spans: list[tuple[int, int, int, int]] = []
        log = self.result.replacements
        seen, term_of = self.matcher._seen.get, self.matcher._term_of
        done = shift = 0
        for start, end in found:
            matched = value[start:end]
            term = seen(matched) or term_of(matched)
            replacement = term.replacement
            pieces += (value[done:start], replacement)
            out_start = start + shift
            out_end = out_start + len(replacement)
            spans.append((start, end, out_start, out_end))
            log.append(Replacement(kind, guid, name, start, end, out_start, out_end, term.term, matched, replacement))
            shift += out_end - out_start - (end - start)
            done = end
        pieces.append(value[done:])
        return "".join(pieces), spans

    def field(self, obj: Any, attribute: str, kind: str, guid: str) -> None:
        value = getattr(obj, attribute)
        if isinstance(value, str):
            setattr(obj, attribute, self.text(value, kind, guid, attribute)[0])

    def native(self, obj: Any, kind: str, guid: str) -> None:
        if obj.native:
            obj.native = self._nested(obj.native, kind, guid, "native")

    def _nested(self, value: Any, kind: str, guid: str, where: str) -> Any:
        """Strings anywhere in a program's own data (its memos may be there), keys included."""
        if isinstance(value, str):
            return self.text(value, kind, guid, where)[0]
        if isinstance(value, dict):
            return {self._nested(k, kind, guid, f"{where}.{k}"): self._nested(v, kind, guid, f"{where}.{k}")
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._nested(item, kind, guid, where) for item in value)
        return value


def redact_project(project: Project, matcher: Matcher, *, include_codes: bool = False) -> Redaction:
    """Replace every term in `project`, in place, keeping coded excerpts on their text; see the module docstring.

    Code names and descriptions are analysis and stay unless `include_codes`; terms found there
    are listed in `Redaction.left`, and the caller should refuse to write such a project.
    """
    result = Redaction()
    red = _Redactor(matcher, result)
    red.prepare(text for source in walk_sources(project) for selection in source.selections
                for text in (selection.name, selection.description))
    for name in ("name", "description", "base_path"):
        red.field(project, name, "project", "")
    red.native(project, "project", "")
    for user in project.users:
        red.field(user, "name", "user", user.guid)
        red.field(user, "id", "user", user.guid)
        red.native(user, "user", user.guid)
    for entry in walk_codes(project):
        code = entry.code
        if include_codes:
            red.field(code, "name", "code", code.guid)
            red.field(code, "description", "code", code.guid)
            red.native(code, "code", code.guid)
        else:
            for name in ("name", "description"):
                found = matcher.search(getattr(code, name) or "")
                if found:
                    result.left.append(f"code {' > '.join(entry.path)!r} ({name}): {found.term.term!r}")
    for variable in project.variables:
        for name in ("name", "description"):
            red.field(variable, name, "variable", variable.guid)
        red.native(variable, "variable", variable.guid)
    for case in project.cases:
        red.field(case, "name", "case", case.guid)
        red.field(case, "description", "case", case.guid)
        _values(red, case.variable_values, "case", case.guid)
        red.native(case, "case", case.guid)
    dropped: dict[str, int] = {}
    for source in walk_sources(project):
        _source(red, source, dropped)
    for group in project.sets:
        red.field(group, "name", "set", group.guid)
        red.field(group, "description", "set", group.guid)
        red.native(group, "set", group.guid)
    for link in project.links:
        red.field(link, "name", "link", link.guid)
        red.native(link, "link", link.guid)
    for graph in project.graphs:
        red.field(graph, "name", "graph", graph.guid)
        red.native(graph, "graph", graph.guid)
        for vertex in graph.vertices:
            red.field(vertex, "name", "vertex", vertex.guid)
        for edge in graph.edges:
            red.field(edge, "name", "edge", edge.guid)
    result.losses = [Loss(what, count) for what, count in dropped.items()]
    return result


_DROPPED = {
    "PDF": "PDF files removed: their content cannot be redacted (their text representations are redacted "
           "and kept)",
    "Picture": "picture files removed: pictures cannot be redacted (their text descriptions are redacted and kept)",
    "Audio": "audio files removed: recordings cannot be redacted (their transcripts are redacted and kept)",
    "Video": "video files removed: recordings cannot be redacted (their transcripts are redacted and kept)",
    "rich": "rich-text (DOCX) copies removed: they cannot be redacted (the redacted plain text is kept)",
}


def _values(red: _Redactor, values: list, kind: str, guid: str) -> None:
    for value in values:
        if isinstance(value.value, str):
            value.value = red.text(value.value, kind, guid, f"value {value.variable}")[0]


def _source(red: _Redactor, source: Source, dropped: dict[str, int]) -> None:
    kind = "note" if source.kind == "Note" else "source"
    guid = source.guid
    red.field(source, "name", kind, guid)
    red.field(source, "description", kind, guid)
    red.native(source, kind, guid)
    _values(red, source.variable_values, kind, guid)
    for selection in source.selections:
        red.field(selection, "name", "selection", selection.guid)
        red.field(selection, "description", "selection", selection.guid)
        red.native(selection, "selection", selection.guid)
        for coding in selection.codings:
            red.native(coding, "coding", coding.guid)
    for coding in source.codings:
        red.native(coding, "coding", coding.guid)
    if source.kind in TEXT_KINDS:
        _text_document(red, source, kind)
        if source.rich_file is not None or source.rich_text_path is not None:
            dropped[_DROPPED["rich"]] = dropped.get(_DROPPED["rich"], 0) + 1
            source.rich_file = source.rich_text_path = None
    elif source.file is not None or source.path is not None or source.current_path is not None:
        what = _DROPPED[source.kind]
        dropped[what] = dropped.get(what, 0) + 1
        source.file = source.path = source.current_path = None


def _text_document(red: _Redactor, source: Source, kind: str) -> None:
    """Redact a text document's own text and move everything that points into it."""
    text = source.text
    if text is None:
        return
    redacted, spans = red.text(text, kind, source.guid, "text")
    if source.plain_text is not None:
        source.plain_text = redacted
    if source.plain_file is not None:
        # always the redacted text, re-encoded: the original bytes never reach the output
        name = source.plain_file.name
        if red.search(source.plain_text_path or "") or red.search(name):
            source.plain_text_path, name = None, f"{source.guid.strip('{}')}.txt"
        data = redacted.encode("utf-8")
        source.plain_file = Blob(name, data=data, size=len(data))
    elif source.plain_text_path is not None and red.search(source.plain_text_path):
        source.plain_text_path = None
    if spans:
        start, end = _position_maps(spans)
        remap_text_positions(source, start, end)


def _position_maps(spans: list[tuple[int, int, int, int]]) -> tuple[Callable[[int], int], Callable[[int], int]]:
    """Functions moving a start and an end through the replacements; inside one, out to its edges."""
    ends = [end for _start, end, _out_start, _out_end in spans]
    shifts = [0]
    for start, end, out_start, out_end in spans:
        shifts.append(shifts[-1] + (out_end - out_start) - (end - start))
    count = len(spans)

    def move(position: int, edge: int) -> int:
        done = bisect_right(ends, position)  # replacements that end at or before the position
        if done < count and spans[done][0] < position:  # inside a replaced term: to the edge of its replacement
            return spans[done][edge]
        return position + shifts[done]

    return (lambda position: move(position, 2)), (lambda position: move(position, 3))


# ---------------------------------------------------------------- the log and the verification


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies inside it (after resolving links)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def check_log_path(log: Path, apart_from: Iterable[Path], *, force: bool = False) -> None:
    """Refuse a log path inside the output, the input or the terms file, or one that exists without `force`.

    The log is the key to the identities, so it must never travel with the de-identified copy.
    """
    if any(is_inside(log, other) for other in apart_from):
        raise WriteError(f"{log}: the log must be kept apart from the output, the input and the terms file "
                         "(it is the key to the identities); choose another path")
    if log.exists() and not force:
        raise WriteError(f"{log}: already exists; pass --force to replace it")
    if not log.parent.is_dir():
        raise WriteError(f"{log}: the folder {log.parent} does not exist; create it first")



#: How deep zips inside zips are opened.
_MAX_DEPTH = 4
#: Text is searched in pieces of this many bytes, so memory stays small on a project.qde of a hundred
#: megabytes (and small enough to be reused rather than given back, see `_PIECE`). Each piece is searched
#: with the end of the one before (see `_carry`), so a term across two pieces is still found, however much
#: white space it spans.
_CHUNK = 1 << 18
_OVERLAP = 2048
#: Characters kept before the part searched again, so that a GUID around a term found there is seen whole.
_CONTEXT = 64
_SPACES_OR_MARKS = re.compile(rf"(?:\s|{_MARKS.pattern})+")


def find_terms(path: str | os.PathLike, matcher: Matcher) -> list[str]:
    """Where any term occurs in written output: `path` a file, a folder or a zip (zips inside opened too).

    File and member names are searched as well as contents; contents are decoded as UTF-8 (UTF-16
    with a BOM), and XML and HTML entities are resolved before searching. Each finding is
    `place: 'term'`.
    """
    path = Path(path)
    found: list[str] = []
    if path.is_dir():
        for folder, _dirs, files in os.walk(path):
            for name in sorted(files):
                file = Path(folder) / name
                relative = file.relative_to(path).as_posix()
                _check_name(relative, matcher, found)
                _check_file(relative, file, matcher, found)
    else:
        _check_name(path.name, matcher, found)
        _check_file(path.name, path, matcher, found)
    return found


def _check_file(place: str, file: Path, matcher: Matcher, found: list[str]) -> None:
    with open(file, "rb") as stream:
        _check_stream(place, stream, matcher, found, 0)


def _check_stream(place: str, stream: IO[bytes], matcher: Matcher, found: list[str], depth: int) -> None:
    head = stream.read(4)
    if head == b"PK\x03\x04":
        # A zip's compressed members cannot be searched as bytes: one that cannot be opened (damaged,
        # encrypted, an unknown compression) or nested too deep is a finding, so nothing unsearched passes.
        if depth >= _MAX_DEPTH:
            found.append(f"{place}: not searched (a zip nested more than {_MAX_DEPTH} deep)")
            return
        # a file on disk is opened where it is; a zip inside a zip is read into memory to be opened
        data: IO[bytes] = stream if depth == 0 else io.BytesIO(head + stream.read())
        data.seek(0)
        try:
            with zipfile.ZipFile(data) as archive:
                for info in archive.infolist():
                    if not info.is_dir():
                        _check_name(info.filename, matcher, found)
                        with archive.open(info) as member:
                            _check_stream(f"{place}!{info.filename}", member, matcher, found, depth + 1)
        except (*MEMBER_ERRORS, ValueError) as exc:
            found.append(f"{place}: not searched (a zip that cannot be opened: {exc})")
        return
    encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    need = matcher.longest + _CONTEXT
    text = pending = ""  # pending: decoded, held back as it may be the start of an entity
    judged, chunk = 0, head  # judged: places at the start of `text` searched with the piece before
    while True:
        more = stream.read(_CHUNK)
        decoded = pending + decoder.decode(chunk + more, final=not more)
        pending = ""
        if more and (amp := decoded.rfind("&")) >= 0 and _PARTIAL_ENTITY.fullmatch(decoded, amp):
            decoded, pending = decoded[:amp], decoded[amp:]
        if "&" in decoded:  # XML and HTML: a character written as an entity (O&apos;Brien) is searched as itself
            decoded = _ENTITY.sub(_unescape, decoded)
        text += decoded
        stop = _carry(text, need) if more else len(text)
        hit = _first_term(text, matcher, judged, stop)
        if hit is not None:
            found.append(f"{place}: {hit.term.term!r}")
            return
        if not more:
            return
        keep = max(stop - _CONTEXT, 0)
        text, judged, chunk = text[keep:], stop - keep, b""


def _carry(text: str, need: int) -> int:
    """Where the part of `text` to search again with the next piece begins: at least `_OVERLAP` characters
    before the end, and early enough that at least `need` of the characters after it are neither white
    space nor marks. A term has at most `matcher.longest` such characters, so one that begins before
    this place ends at least `_CONTEXT` characters before the end of the piece, and is judged whole here."""
    cut = max(len(text) - _OVERLAP, 0)
    while cut and len(text) - cut - sum(map(len, _SPACES_OR_MARKS.findall(text, cut))) < need:
        cut = max(2 * cut - len(text), 0)  # twice as much: white space this long is rare
    return cut


_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _first_term(text: str, matcher: Matcher, start: int = 0, stop: int | None = None) -> Match | None:
    """The first term beginning in `text` from `start` to before `stop` that is not part of a GUID (a term such
    as "Cafe" or "Abba" can be a group of hex digits in one; GUIDs identify no one, and redaction never
    changes them). Overlapping places are all tried, so a term inside a GUID cannot hide one that begins
    inside it and goes on beyond."""
    for begin, end in matcher.occurrences(text, start, stop):
        if not any(guid.start() <= begin and end <= guid.end()
                   for guid in _GUID.finditer(text, max(begin - 36, 0), end + 36)):
            return Match(begin, end, matcher._term_of(text[begin:end]))
    return None


def _check_name(place: str, matcher: Matcher, found: list[str]) -> None:
    hit = _first_term(place, matcher)
    if hit:
        found.append(f"{place} (its name): {hit.term.term!r}")


_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")
#: The start of an entity, cut off at the end of a piece.
_PARTIAL_ENTITY = re.compile(r"&(?:#[0-9]*|#[xX][0-9a-fA-F]*|[A-Za-z][A-Za-z0-9]{0,31})?")


_UNESCAPED = _Lazy(html.unescape)  # a project.qde holds the same few entities thousands of times


def _unescape(entity: re.Match[str]) -> str:
    return _UNESCAPED[entity.group()]
