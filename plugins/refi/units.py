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

from qdaconv.errors import FormatError, ReadError
from qdaconv.issues import Issue, info, warning
from qdaconv.model import Project, Source, decode_text, walk_sources
from qdaconv.plugins.refi.container import Openers
from qdaconv.positions import UNITS, PositionMap, Span, guess_unit, remap_text_positions, unit_for_origin

#: Writer profiles and the unit each counts positions in.
PROFILES: dict[str, str] = {"standard": "codepoint", "nvivo": "utf16", "maxqda": "crlf", "atlasti": "lf",
                             "qualcoder": "codepoint"}
UNIT_NAMES = {"codepoint": "code points", "utf16": "UTF-16 code units", "lf": "code points with CRLF as one",
              "crlf": "code points with line ends as two", "utf8": "UTF-8 bytes"}

_MARKER = re.compile(r"^qdaconv (?P<version>\S+) \(positions: (?P<unit>\w+)(?:; from (?P<origin>.*))?\)$",
                     re.DOTALL)
_SAMPLE_SOURCES = 12
_SAMPLE_SPANS = 100


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


def _sample(project: Project, openers: Openers) -> list[Span]:
    spans: list[Span] = []
    used = 0
    for source in walk_sources(project):
        if used >= _SAMPLE_SOURCES:
            break
        if not any(s.kind == "PlainText" for s in source.selections):
            continue
        text = _text(source, openers)
        if not text or (text.isascii() and "\n" not in text and "\r" not in text):
            continue
        used += 1
        for selection in source.selections[:_SAMPLE_SPANS]:
            if selection.kind == "PlainText" and selection.start is not None and selection.end is not None:
                spans.append(Span(text, selection.start, selection.end, selection.name))
    return spans


def read_positions(project: Project, option: str | None) -> list[Issue]:
    """Convert the project's text positions into code points; return what was noticed."""
    origin, recorded = parse_origin(project.origin)
    project.origin = origin
    issues: list[Issue] = []
    preferred = unit_for_origin(origin)
    if option and option != "auto":
        if option not in UNITS:
            raise FormatError(f"unknown position unit {option!r}; choose auto or one of {', '.join(UNITS)}")
        unit = option
    elif recorded:
        unit = recorded
    else:
        with Openers() as openers:
            guess = guess_unit(_sample(project, openers), preferred)
        unit = guess.unit
        if guess.changed:
            issues.append(warning(
                "REFI-POSITIONS", f"text positions read as {UNIT_NAMES[unit]}, not {UNIT_NAMES[preferred]} as "
                f"the origin {origin!r} suggests: more coded spans then fall on word boundaries "
                f"({guess.scores[unit]} against {guess.scores[preferred]}, {guess.tested} spans tested)",
                hint="force the unit with --positions if this is wrong"))
    if unit == "codepoint":
        return issues
    with Openers() as openers:
        converted, missing = _convert(project, unit, openers)
    if converted and not recorded:
        issues.append(info("REFI-POSITIONS", f"text positions converted from {UNIT_NAMES[unit]} into code "
                           f"points in {converted} text(s)", hint="force the unit with --positions"))
    if missing:
        issues.append(warning("REFI-POSITIONS", f"positions in {missing} text(s) whose text is missing were "
                              f"kept as read ({UNIT_NAMES[unit]})"))
    return issues


def _convert(project: Project, unit: str, openers: Openers) -> tuple[int, int]:
    converted = missing = 0
    for source in walk_sources(project):
        if not _has_positions(source):
            continue
        text = _text(source, openers)
        if text is None:
            missing += 1
            continue
        mapping = PositionMap(text, unit)
        if mapping.identity:
            continue
        converted += 1
        remap_text_positions(source, mapping.to_codepoint)
    return converted, missing
