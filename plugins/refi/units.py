"""Which unit a QDA-XML file counts text positions in, and converting a read project into code points.

The unit is chosen from `origin` (NVivo: UTF-16, ATLAS.ti: CRLF as one), confirmed on a sample
of coded spans (word boundaries, excerpt names), and can be forced by the reader option
`positions`. Files qdaconv writes in a unit their origin would not suggest say so in `origin`
(`qdaconv 0.1.0 (positions: utf16; from NVivo 14)`), which the reader honours and removes.
"""

from __future__ import annotations

import re
import zipfile
import zlib

from qdaconv import progress
from qdaconv.errors import FormatError, ReadError
from qdaconv.issues import Issue, info, warning
from qdaconv.model import Project, Source, decode_text, walk_sources
from qdaconv.plugins.refi.container import Openers
from qdaconv.positions import (
    UNITS,
    TextEvidence,
    UnitGuess,
    evidence_for,
    guess_on_texts,
    remap_text_positions,
    unit_for_origin,
)

#: Writer profiles and the unit each counts positions in.
PROFILES: dict[str, str] = {"standard": "codepoint", "nvivo": "utf16", "maxqda": "crlf", "atlasti": "lf",
                             "qualcoder": "codepoint"}
UNIT_NAMES = {"codepoint": "code points", "utf16": "UTF-16 code units", "lf": "code points with CRLF as one",
              "crlf": "code points with line ends as two", "utf8": "UTF-8 bytes"}

_MARKER = re.compile(r"^qdaconv (?P<version>\S+) \(positions: (?P<unit>\w+)(?:; from (?P<origin>.*))?\)$",
                     re.DOTALL)
_SAMPLE_SOURCES = 12
_SAMPLE_SPANS = 100
#: A source's own unit is judged on up to this many of its spans, and only when it has this many at least.
_SOURCE_SPANS = 24
_MIN_SOURCE_SPANS = 8


def parse_origin(origin: str | None) -> tuple[str | None, str | None]:
    """(the producing program's origin, the unit qdaconv recorded) from an origin attribute."""
    match = _MARKER.match(origin or "")
    if not match or match.group("unit") not in UNITS:
        return origin, None
    return match.group("origin"), match.group("unit")


def mark_origin(origin: str | None, unit: str, version: str) -> str | None:
    """The origin to write: unchanged when its program counts in `unit`, else marked with the unit."""
    if unit == unit_for_origin(origin):
        return origin
    return f"qdaconv {version} (positions: {unit}" + (f"; from {origin}" if origin else "") + ")"


def unit_for_profile(profile: str | None) -> str:
    name = (profile or "standard").lower().replace(".", "").replace("-", "")
    if name in PROFILES:
        return PROFILES[name]
    if name in UNITS:
        return name
    raise FormatError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")


def _text(source: Source, openers: Openers) -> str | None:
    """The source's text; a damaged file inside the archive is a ReadError naming it."""
    if source.plain_text is not None or source.plain_file is None:
        return source.plain_text
    try:
        return decode_text(openers.read(source.plain_file))
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        blob = source.plain_file
        raise ReadError(blob.zip_path if blob else "", f"the text file is damaged ({exc})",
                        location=blob.member if blob else None,
                        hint="the archive is corrupt; export it again") from None


def _has_positions(source: Source) -> bool:
    return bool(source.sync_points) or any(s.kind == "PlainText" for s in source.selections)


def _spans(source: Source, limit: int) -> list[tuple[int, int, str | None]]:
    spans = [(s.start, s.end, s.name) for s in source.selections
             if s.kind == "PlainText" and s.start is not None and s.end is not None]
    return spans[:limit]  # type: ignore[return-value]


class _Evidence:
    """Each text's evidence, read once and only for sources that have positions; kept only from the
    project's sample until its source is converted, so a large project's texts are never all held."""

    def __init__(self, openers: Openers) -> None:
        self.openers = openers
        self.kept: dict[int, TextEvidence | None] = {}

    def of(self, source: Source) -> TextEvidence | None:
        key = id(source)
        if key not in self.kept:
            self.kept[key] = self._read(source)
        return self.kept[key]

    def take(self, source: Source) -> TextEvidence | None:
        key = id(source)
        return self.kept.pop(key) if key in self.kept else self._read(source)

    def _read(self, source: Source) -> TextEvidence | None:
        text = _text(source, self.openers)
        return evidence_for(source, text) if text is not None else None


def _project_guess(sources: list[Source], evidence: _Evidence, preferred: str) -> UnitGuess:
    """The unit of the whole project, judged on a sample of its coded spans (the texts that can tell)."""
    samples: list[tuple[TextEvidence, list[tuple[int, int, str | None]]]] = []
    for source in sources:
        if len(samples) >= _SAMPLE_SOURCES:
            break
        if not any(s.kind == "PlainText" for s in source.selections):
            continue
        found = evidence.of(source)
        if found is None or not found.text or not any(found.differs(unit) for unit in UNITS):
            continue
        samples.append((found, _spans(source, _SAMPLE_SPANS)))
    return guess_on_texts(samples, preferred)


def read_positions(project: Project, option: str | None) -> list[Issue]:
    """Convert the project's text positions into code points, each source by its own evidence;
    return what was noticed.

    The project's unit comes from `option`, from what qdaconv recorded in `origin`, or from the
    origin checked on a sample of coded spans. A source whose own spans clearly fit another unit
    (a merged project holds sources from several programs) is converted by that unit instead.
    """
    origin, recorded = parse_origin(project.origin)
    project.origin = origin
    issues: list[Issue] = []
    preferred = unit_for_origin(origin)
    sources = [source for source in walk_sources(project) if _has_positions(source)]
    with Openers() as openers:
        evidence = _Evidence(openers)
        if option and option != "auto":
            if option not in UNITS:
                raise FormatError(f"unknown position unit {option!r}; choose auto or one of {', '.join(UNITS)}")
            unit = option
        elif recorded:
            unit = recorded
        else:
            guess = _project_guess(sources, evidence, preferred)
            unit = guess.unit
            if guess.changed:
                told_by = f"the origin {origin!r}" if origin else "a project without an origin"
                issues.append(warning(
                    "REFI-POSITIONS", f"text positions read as {UNIT_NAMES[unit]}, not {UNIT_NAMES[preferred]} "
                    f"as {told_by} suggests: more coded spans then fall on word boundaries "
                    f"({guess.scores[unit]} against {guess.scores[preferred]}, {guess.tested} spans tested)",
                    hint="force the unit with --positions if this is wrong"))
        judge = not (option and option != "auto") and not recorded
        converted, missing, own = _convert(sources, unit, evidence, judge)
    if converted and not recorded:
        issues.append(info("REFI-POSITIONS", f"text positions converted from {UNIT_NAMES[unit]} into code "
                           f"points in {converted} text(s)", hint="force the unit with --positions"))
    if own:
        counts = ", ".join(f"{count} in {UNIT_NAMES[other]}" for other, count in own.items())
        issues.append(warning("REFI-POSITIONS", f"text positions of some sources read in another unit than "
                              f"the project's {UNIT_NAMES[unit]}, as their own coded spans show: {counts}",
                              hint="a merged project holds sources from several programs; force one unit "
                                   "with --positions if this is wrong"))
    if missing:
        issues.append(warning("REFI-POSITIONS", f"positions in {missing} text(s) whose text is missing were "
                              f"kept as read ({UNIT_NAMES[unit]})"))
    return issues


def _source_unit(source: Source, found: TextEvidence, unit: str) -> str:
    """The project's unit, unless this source's own spans clearly fit another one better.

    When every sampled span keeps words whole in the project's unit, that settles it cheaply (a
    source counted in another unit has spans shifted into words); otherwise the units are scored.
    """
    spans = _spans(source, _SOURCE_SPANS)
    if len(spans) < _MIN_SOURCE_SPANS or found.whole(spans, unit):
        return unit
    return found.guess(spans, unit).unit


def _convert(sources: list[Source], unit: str, evidence: _Evidence, judge: bool) -> tuple[int, int, dict[str, int]]:
    """Convert every source with positions; `judge`: let each source's own evidence overrule `unit`."""
    converted = missing = 0
    own: dict[str, int] = {}
    for number, source in enumerate(sources, 1):
        progress.advance("converting positions", number, len(sources))
        if unit == "codepoint" and not judge:
            continue
        found = evidence.take(source)
        if found is None:
            missing += unit != "codepoint"
            continue
        source_unit = _source_unit(source, found, unit) if judge else unit
        if source_unit != unit:
            own[source_unit] = own.get(source_unit, 0) + 1
        if not found.differs(source_unit):
            continue
        converted += source_unit == unit
        mapping = found.map(source_unit)
        remap_text_positions(source, mapping.to_codepoint)
    return converted, missing, own
