"""What a format plugin declares (the Format base class, Feature flags) and how loss is counted."""

from __future__ import annotations

import difflib
import enum
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdaconv.errors import FormatError
from qdaconv.issues import Issue
from qdaconv.model import Project, walk_codes, walk_codings, walk_selections, walk_sources
from qdaconv.values import parse_bool


class Feature(enum.Enum):
    """Kinds of content a study can hold; a format's capabilities are the ones it can carry."""

    PROJECT_INFO = "project name, origin, description and dates"
    USERS = "users"
    CODES = "codes"
    CODE_TREE = "code hierarchy"
    CODE_COLORS = "code colours"
    DESCRIPTIONS = "descriptions"
    VARIABLES = "variables"
    CASES = "cases"
    TEXT_SOURCES = "text sources"
    RICH_TEXT = "rich-text (DOCX) copies of sources"
    PDF_SOURCES = "PDF sources"
    PICTURE_SOURCES = "picture sources"
    AUDIO_SOURCES = "audio sources"
    VIDEO_SOURCES = "video sources"
    TRANSCRIPTS = "transcripts of audio and video"
    TEXT_SELECTIONS = "coded text excerpts"
    MEDIA_SELECTIONS = "PDF, picture, audio and video selections"
    CODINGS = "codings"
    SOURCE_CODINGS = "whole-source codings"
    NOTES = "notes and microstories"
    NOTE_REFS = "note attachments"
    SETS = "sets"
    LINKS = "links"
    GRAPHS = "graphs"
    AUTHORSHIP = "creating and modifying users and dates"

    @property
    def label(self) -> str:
        return self.value


ALL_FEATURES: frozenset[Feature] = frozenset(Feature)
CODEBOOK_FEATURES: frozenset[Feature] = frozenset(
    {Feature.CODES, Feature.CODE_TREE, Feature.CODE_COLORS, Feature.DESCRIPTIONS}
)


@dataclass(frozen=True, slots=True)
class Option:
    """A reader or writer option a format understands (`--option NAME=VALUE`, or `read(..., name=value)`).

    `type` is str, int, float or bool (a bool option takes yes/no, true/false, 1/0); `choices`
    limits a str option to those values; `read` and `write` say whether the reader, the writer
    or both take it. The core checks options against these declarations before any work and
    passes each side only its own.
    """

    name: str
    help: str
    type: type = str
    default: Any = None
    choices: tuple[str, ...] = ()
    read: bool = True
    write: bool = False
    #: the command line offers it as a flag of its own, `--name-with-dashes` (else only as --option)
    flag: bool = False

    @property
    def type_name(self) -> str:
        return {str: "text", int: "integer", float: "number", bool: "yes/no"}.get(self.type, self.type.__name__)

    def convert(self, value: Any) -> Any:
        """`value` as this option's type; ValueError says what is expected."""
        if self.type is bool:
            parsed = parse_bool(value) if isinstance(value, str) else value
            if not isinstance(parsed, bool):
                raise ValueError("expected yes or no (true/false, 1/0)")
            return parsed
        if self.type in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(f"expected {'an integer' if self.type is int else 'a number'}")
            try:
                number = self.type(value.strip().replace("_", "") if isinstance(value, str) else value)
            except (ValueError, OverflowError):
                raise ValueError(f"expected {'an integer' if self.type is int else 'a number'}") from None
            if self.type is int and isinstance(value, float) and number != value:
                raise ValueError("expected an integer")
            return number
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if self.type is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # an id given as a number from Python (project=2) means its text
        if self.type is str and not isinstance(value, str):
            raise ValueError("expected text")
        if self.choices and value not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}")
        return value

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type_name, "default": self.default, "help": self.help,
                "choices": list(self.choices), "read": self.read, "write": self.write}


#: The limits on what a zip may unpack to, for every format that reads zips (see safety.ZipLimits).
ZIP_LIMIT_OPTIONS: tuple[Option, ...] = (
    Option("max_uncompressed", "most bytes all members of an input zip may unpack to", int, 32 * 1024**3),
    Option("max_member_size", "most bytes one member of an input zip may unpack to", int, 8 * 1024**3),
    Option("max_ratio", "highest compression ratio accepted for a large member of an input zip", float, 200.0),
)


def _listing(options: list[Option]) -> str:
    return ", ".join(f"{option.name} ({option.type_name})" for option in options) or "none"


def check_options(options: dict[str, Any], reader: Format | None = None, writer: Format | None = None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(reader options, writer options): `options` checked against the formats' declarations.

    Each option goes to the side (or sides) that declares it, converted to its type. An option
    neither side declares, or a value of the wrong type, is a FormatError that lists the valid
    options. Pass only `reader` for a read, only `writer` for a write; then an option the format
    declares for its other side only is left out.
    """
    sides = [(fmt, side) for fmt, side in ((reader, "read"), (writer, "write")) if fmt is not None]
    declared = {side: {o.name: o for o in fmt.options if getattr(o, side)} for fmt, side in sides}
    checked: dict[str, dict[str, Any]] = {"read": {}, "write": {}}
    for name, value in options.items():
        takers = [(fmt, side) for fmt, side in sides if name in declared[side]]
        if not takers and len(sides) == 1 and any(o.name == name for o in sides[0][0].options):
            continue  # the format's option for the other side (a writer's profile given to a read)
        if not takers:
            raise FormatError(_unknown(name, sides, declared))
        for fmt, side in takers:
            option = declared[side][name]
            try:
                checked[side][name] = option.convert(value)
            except ValueError as exc:
                raise FormatError(f"option {name}={value!r} of {fmt.name}: {exc} "
                                  f"({option.help})") from None
    return checked["read"], checked["write"]


def _unknown(name: str, sides: list[tuple[Format, str]], declared: dict[str, dict[str, Option]]) -> str:
    valid = [n for side in declared.values() for n in side]
    close = difflib.get_close_matches(name, valid, n=1)
    what = " or ".join(f"{'reader' if side == 'read' else 'writer'} {fmt.name}" for fmt, side in sides)
    text = f"unknown option {name!r} for {what}"
    if close:
        text += f"; did you mean {close[0]!r}?"
    listed = "; ".join(f"{'reader' if side == 'read' else 'writer'} {fmt.name} takes: "
                       f"{_listing(list(declared[side].values()))}" for fmt, side in sides)
    return f"{text} ({listed}; see `qdaconv formats --json`)"


class Format:
    """A file format a plugin provides. Subclass it and override what the format can do.

    - `name`: stable kebab-case id (`refi-qdpx`); `title`: a readable name;
      `extensions`: file name endings with the dot (`.qdpx`, `.csv.zip`); `folder`: True when
      the format is a directory rather than a file.
    - `capabilities`: the Features the format can carry; everything else is reported as loss.
    - `sniff(path)`: 0.0 (not mine) to 1.0 (certain). It must never raise.
    - `read(path, **options)` returns a Project; `write(project, path, **options)` writes one
      to `path`, which the core has made a temporary name in the target folder; it may return
      a list of `Loss` items for things it could not carry beyond its declared capabilities.
    - `check(path, **options)`: issues found in the file itself that reading into the model
      cannot show (container layout, schema); the validator calls it. Optional.
    - `options`: the reader and writer options the format understands, as `Option`s.
    - `side_files`: True when `write` puts files beside its main output (a .qde's sources/). The core
      then gives it a path inside a hidden staging folder and moves everything into place at once.
    - `rules`: the validation rules only this format knows (its reader's warnings), as
      `qdaconv.validation.Rule`s; `qdaconv.validation.catalogue()` is the core's and these.
    - `primary`: True for the format written by default when several share an extension.
    - `keeps_guids`: False when the format has nowhere to keep GUIDs, so objects read back get
      new ones (compare such round trips with `diff(match="content")`).
    - `to_frames(project)` / `from_frames(frames)`: the project as pandas DataFrames and back, for a
      format whose layout is tables (`qdaconv.to_frames` uses it). Optional.
    """

    name: str = ""
    title: str = ""
    extensions: tuple[str, ...] = ()
    folder: bool = False
    primary: bool = False
    side_files: bool = False
    keeps_guids: bool = True
    capabilities: frozenset[Feature] = frozenset()
    options: tuple[Option, ...] = ()
    rules: tuple[Any, ...] = ()
    plugin: str = ""
    version: str = ""

    @property
    def can_read(self) -> bool:
        return type(self).read is not Format.read

    @property
    def can_write(self) -> bool:
        return type(self).write is not Format.write

    @property
    def can_frame(self) -> bool:
        return type(self).to_frames is not Format.to_frames

    def sniff(self, path: Path) -> float:
        return 0.0

    def read(self, path: Path, **options: Any) -> Project:
        raise NotImplementedError

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss] | None:
        raise NotImplementedError

    def check(self, path: Path, **options: Any) -> list[Issue]:
        return []

    def to_frames(self, project: Project) -> dict[str, Any]:
        raise NotImplementedError

    def from_frames(self, frames: Any) -> Project:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Format {self.name}>"


@dataclass(slots=True)
class Loss:
    """Something the target could not carry: what (a Feature's label or a free text) and how many."""

    what: str
    count: int
    detail: str = ""


@dataclass(slots=True)
class LossReport:
    """What a write left out. Empty when the target holds everything the project uses."""

    target: str
    items: list[Loss] = field(default_factory=list)

    @property
    def lossless(self) -> bool:
        return not self.items

    def summary(self) -> str:
        if not self.items:
            return "nothing lost"
        return "; ".join(f"{item.count} {item.what}" + (f" ({item.detail})" if item.detail else "")
                         for item in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "lossless": self.lossless,
            "lost": [{"what": i.what, "count": i.count, "detail": i.detail} for i in self.items],
        }


def _has_authorship(obj: Any) -> bool:
    return (obj.creating_user is not None or obj.created is not None
            or getattr(obj, "modifying_user", None) is not None or getattr(obj, "modified", None) is not None)


_SOURCE_KIND_FEATURE = {"Text": Feature.TEXT_SOURCES, "PDF": Feature.PDF_SOURCES,
                        "Picture": Feature.PICTURE_SOURCES, "Audio": Feature.AUDIO_SOURCES,
                        "Video": Feature.VIDEO_SOURCES, "Transcript": Feature.TRANSCRIPTS}


def features_used(project: Project) -> Counter[Feature]:
    """How many objects of the project use each Feature (0-count features are absent).

    Counted in local integers and put into the Counter at the end: hashing an Enum member per
    object costs more than all the rest on a project of 100,000 codings.
    """
    used: Counter[Feature] = Counter()
    codes = tree = colours = descriptions = note_refs = authorship = 0
    for entry in walk_codes(project):
        codes += 1
        tree += entry.parent is not None
        colours += entry.code.color is not None
        descriptions += bool(entry.code.description)
        note_refs += len(entry.code.note_refs)
    descriptions += sum(bool(case.description) for case in project.cases)
    descriptions += sum(bool(variable.description) for variable in project.variables)
    descriptions += sum(bool(group.description) for group in project.sets)
    note_refs += sum(len(link.note_refs) for link in project.links)
    values = 0
    for source in walk_sources(project):
        if source.kind in _SOURCE_KIND_FEATURE:
            used[_SOURCE_KIND_FEATURE[source.kind]] += 1
        used[Feature.RICH_TEXT] += source.rich_text_path is not None
        values += len(source.variable_values)
        note_refs += len(source.note_refs)
        descriptions += bool(source.description)
        authorship += _has_authorship(source)
    text_selections = media_selections = codings = source_codings = 0
    for _source, selection in walk_selections(project):
        if selection.kind == "PlainText":
            text_selections += 1
        else:
            media_selections += 1
        note_refs += len(selection.note_refs)
        descriptions += bool(selection.description)
        authorship += _has_authorship(selection)
    for _source, selection, coding in walk_codings(project):
        codings += 1
        source_codings += selection is None
        note_refs += len(coding.note_refs)
        authorship += coding.creating_user is not None or coding.created is not None
    project_info = bool(project.origin or project.description or project.base_path
                        or _has_authorship(project) or project.name not in ("", "Untitled"))
    used.update({
        Feature.PROJECT_INFO: int(project_info), Feature.USERS: len(project.users), Feature.CODES: codes,
        Feature.CODE_TREE: tree, Feature.CODE_COLORS: colours, Feature.DESCRIPTIONS: descriptions,
        Feature.VARIABLES: len(project.variables) + values, Feature.CASES: len(project.cases),
        Feature.SETS: len(project.sets), Feature.LINKS: len(project.links), Feature.GRAPHS: len(project.graphs),
        Feature.NOTES: len(project.notes), Feature.NOTE_REFS: note_refs + len(project.note_refs),
        Feature.AUTHORSHIP: authorship, Feature.TEXT_SELECTIONS: text_selections,
        Feature.MEDIA_SELECTIONS: media_selections, Feature.CODINGS: codings, Feature.SOURCE_CODINGS: source_codings,
    })
    return +used


def loss_for(project: Project, fmt: Format) -> LossReport:
    """The features `project` uses that `fmt` cannot carry, with counts, in Feature order."""
    if fmt.capabilities.issuperset(Feature):  # a format that carries everything loses nothing: no need to count
        return LossReport(fmt.name, [])
    used = features_used(project)
    items = [Loss(feature.label, used[feature]) for feature in Feature
             if used[feature] and feature not in fmt.capabilities]
    return LossReport(fmt.name, items)
