"""Building a Project from a folder of transcripts: sources, speaker turns, cases and variables.

Speaker turns are kept in a form every format carries: the text keeps its "Speaker: " prefixes,
a non-codable code "Speakers" holds one code per speaker, and each turn is a selection (a
PlainTextSelection, or a TranscriptSelection between two SyncPoints for a media transcript)
coded with its speaker's code. GUIDs are derived from the file names, so reading the same
folder twice gives the same project.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from qdaconv.errors import ReadError
from qdaconv.files import decode_guess
from qdaconv.issues import warning
from qdaconv.model import (
    Blob,
    Case,
    Code,
    Coding,
    Project,
    Selection,
    Source,
    SyncPoint,
    Value,
    Variable,
    VariableValue,
    stable_guid,
)
from qdaconv.plugins.transcripts.parse import Transcript, format_time, parse_file

TRANSCRIPT_SUFFIXES = (".txt", ".docx", ".vtt", ".srt")
AUDIO_SUFFIXES = (".mp3", ".m4a", ".wav", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wma")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".wmv", ".mpg", ".mpeg")
_FIELD = re.compile(r"\{([A-Za-z_]\w*)\}")
SPEAKERS_GROUP = "Speakers"


def folder_guid(*parts: str) -> str:
    """A GUID that depends only on `parts` (file names, speakers, cases), so a folder read twice
    keeps its identities (the core's stable GUIDs, in the namespace of transcript folders)."""
    return stable_guid("transcripts-folder", *parts)


def is_listed(path: Path) -> bool:
    """Files the reader considers: not hidden, not an editor's lock file."""
    return path.is_file() and not path.name.startswith((".", "~$"))


def transcript_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if is_listed(p) and p.suffix.lower() in TRANSCRIPT_SUFFIXES),
                  key=lambda p: p.name.lower())


def media_files(folder: Path) -> dict[str, Path]:
    """Audio and video files by lower-case stem."""
    found = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if is_listed(path) and path.suffix.lower() in AUDIO_SUFFIXES + VIDEO_SUFFIXES:
            found.setdefault(path.stem.lower(), path)
    return found


# ---------------------------------------------------------------- case patterns and typed values


@dataclass(slots=True)
class CasePattern:
    """A file-name pattern such as "{case}_interview{wave}"; {case} names the case, other fields are variables."""

    text: str
    regex: re.Pattern[str]
    fields: tuple[str, ...]

    @classmethod
    def compile(cls, text: str, folder: Path) -> CasePattern:
        fields = tuple(_FIELD.findall(text))
        if "case" not in fields:
            raise ReadError(folder, f"the case pattern {text!r} needs a {{case}} field",
                            hint='for example --case-pattern "{case}_interview{wave}"')
        if len(set(fields)) != len(fields):
            raise ReadError(folder, f"a field appears twice in the case pattern {text!r}")
        pieces, last = [], 0
        for found in _FIELD.finditer(text):
            pieces.append(re.escape(text[last:found.start()]))
            pieces.append(f"(?P<{found[1]}>.+?)")
            last = found.end()
        pieces.append(re.escape(text[last:]))
        return cls(text, re.compile("".join(pieces) + r"\Z", re.IGNORECASE), fields)

    def match(self, stem: str) -> dict[str, str] | None:
        found = self.regex.match(stem)
        return {name: value.strip() for name, value in found.groupdict().items()} if found else None


def infer_type(values: list[str]) -> str:
    """The narrowest REFI variable type that holds every non-empty value."""
    present = [v for v in values if v != ""]
    if not present:
        return "Text"
    if all(re.fullmatch(r"[+-]?\d+", v) for v in present):
        return "Integer"
    if all(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", v) for v in present):
        return "Float"
    if all(v.lower() in ("true", "false") for v in present):
        return "Boolean"
    if all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in present):
        try:
            for v in present:
                date.fromisoformat(v)
        except ValueError:
            return "Text"
        return "Date"
    return "Text"


def typed_value(value: str, kind: str) -> Value:
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            return Decimal(value)
    except (ValueError, InvalidOperation):
        return value
    if kind == "Boolean":
        return value.lower() == "true"
    if kind == "Date":
        return date.fromisoformat(value)
    return value


# ---------------------------------------------------------------- the builder


class FolderBuilder:
    """Turns the files of one folder into a Project."""

    def __init__(self, folder: Path, pattern: CasePattern | None, speakers: frozenset[str] | None) -> None:
        self.folder = folder
        self.pattern = pattern
        self.speakers = speakers
        self.project = Project(name=folder.resolve().name or "Transcripts", origin="qdaconv transcripts")
        self.speaker_codes: dict[str, Code] = {}
        self.fields_by_source: dict[str, dict[str, str]] = {}
        self.case_by_name: dict[str, Case] = {}
        self.variables: dict[str, Variable] = {}

    def build(self, case_variables: Path | None) -> Project:
        media = media_files(self.folder)
        used_media: set[str] = set()
        files = transcript_files(self.folder)
        stems = [p.stem.lower() for p in files]
        for path in files:
            unique = stems.count(path.stem.lower()) == 1
            medium = media.get(path.stem.lower()) if unique else None
            if medium is not None:
                used_media.add(path.stem.lower())
            self._add_file(path, medium, display=path.stem if unique else path.name)
        for stem, medium in media.items():
            if stem not in used_media:
                self._add_media(medium)
        self._add_speaker_codes()
        self._add_cases()
        if case_variables is not None:
            self._join_case_variables(case_variables)
        self.project.variables = list(self.variables.values())
        return self.project

    # ---- sources

    def _add_file(self, path: Path, medium: Path | None, display: str) -> None:
        transcript = parse_file(path, self.speakers)
        if medium is None:
            source = self._text_source(path, transcript, display)
        else:
            source = self._media_source(medium, display)
            source.transcripts.append(self._transcript(path, transcript, display))
        if path.suffix.lower() == ".docx":
            text_doc = source.transcripts[0] if source.transcripts else source
            text_doc.rich_file = Blob(path.name, file=str(path), size=path.stat().st_size)
            text_doc.rich_text_path = f"internal://{text_doc.guid}.docx"
        self.project.sources.append(source)
        self._note_case(source, path)

    def _text_source(self, path: Path, transcript: Transcript, display: str) -> Source:
        source = Source(folder_guid("source", path.name), "Text", display, plain_text=transcript.text)
        for index, turn in enumerate(transcript.turns):
            selection = Selection(folder_guid("turn", path.name, str(index)), "PlainText",
                                  name=_turn_name(turn.speaker, turn.start_ms), start=turn.start, end=turn.end)
            selection.codings.append(self._speaker_coding(path, index, turn.speaker))
            source.selections.append(selection)
        return source

    def _media_source(self, medium: Path, display: str) -> Source:
        kind = "Video" if medium.suffix.lower() in VIDEO_SUFFIXES else "Audio"
        guid = folder_guid("source", medium.name)
        return Source(guid, kind, display, path=f"internal://{guid}{medium.suffix.lower()}",
                      file=Blob(medium.name, file=str(medium), size=medium.stat().st_size))

    def _transcript(self, path: Path, transcript: Transcript, display: str) -> Source:
        """A media transcript: sync points at every timing and turn boundary, turns between them."""
        document = Source(folder_guid("transcript", path.name), "Transcript", display, plain_text=transcript.text)
        times: dict[int, int | None] = {}
        for position, ms in transcript.timings:
            times.setdefault(position, ms)
        for turn in transcript.turns:
            times.setdefault(turn.start, turn.start_ms)
            times.setdefault(turn.end, turn.end_ms)
        sync = {position: SyncPoint(folder_guid("sync", path.name, str(position)), position, ms)
                for position, ms in sorted(times.items())}
        document.sync_points = list(sync.values())
        for index, turn in enumerate(transcript.turns):
            selection = Selection(folder_guid("turn", path.name, str(index)), "Transcript",
                                  name=_turn_name(turn.speaker, turn.start_ms),
                                  from_sync=sync[turn.start].guid, to_sync=sync[turn.end].guid)
            selection.codings.append(self._speaker_coding(path, index, turn.speaker))
            document.selections.append(selection)
        return document

    def _add_media(self, medium: Path) -> None:
        source = self._media_source(medium, medium.stem)
        self.project.sources.append(source)
        self._note_case(source, medium)

    def _speaker_coding(self, path: Path, index: int, speaker: str) -> Coding:
        code = self.speaker_codes.get(speaker)
        if code is None:
            code = Code(folder_guid("speaker", speaker), speaker)
            self.speaker_codes[speaker] = code
        return Coding(folder_guid("coding", path.name, str(index)), code.guid)

    def _add_speaker_codes(self) -> None:
        if not self.speaker_codes:
            return
        children = sorted(self.speaker_codes.values(), key=lambda c: c.name.lower())
        self.project.codes.append(Code(
            folder_guid("code-group", SPEAKERS_GROUP), SPEAKERS_GROUP, codable=False,
            description="Speaker turns recognised in the transcripts: each turn is a selection "
                        "coded with its speaker's code.",
            children=children))

    # ---- cases and variables

    def _note_case(self, source: Source, path: Path) -> None:
        if self.pattern is None:
            return
        fields = self.pattern.match(path.stem)
        if fields is None or not fields["case"]:
            self.project.warnings.append(warning(
                "TRANSCRIPTS-NO-CASE", f"{path.name} does not match the case pattern {self.pattern.text!r}",
                place=path.name, hint="rename the file or adjust --case-pattern; it belongs to no case"))
            return
        self.fields_by_source[source.guid] = fields
        case = self.case_by_name.get(fields["case"])
        if case is None:
            case = Case(folder_guid("case", fields["case"]), fields["case"])
            self.case_by_name[fields["case"]] = case
        case.source_refs.append(source.guid)

    def _variable(self, name: str, kind: str) -> Variable:
        variable = self.variables.get(name)
        if variable is None:
            variable = Variable(folder_guid("variable", name), name, kind)
            self.variables[name] = variable
        elif variable.type != kind:
            variable.type = "Text"
        return variable

    def _add_cases(self) -> None:
        """Pattern fields that are constant within each case describe the case, others the source."""
        if self.pattern is None:
            return
        sources = {s.guid: s for s in self.project.sources}
        for name in (f for f in self.pattern.fields if f != "case"):
            values = [fields[name] for fields in self.fields_by_source.values()]
            variable = self._variable(name, infer_type(values))
            per_case: dict[str, set[str]] = {}
            for fields in self.fields_by_source.values():
                per_case.setdefault(fields["case"], set()).add(fields[name])
            on_case = all(len(found) == 1 for found in per_case.values())
            for guid, fields in self.fields_by_source.items():
                holder = self.case_by_name[fields["case"]] if on_case else sources[guid]
                if on_case and any(v.variable == variable.guid for v in holder.variable_values):
                    continue
                holder.variable_values.append(
                    VariableValue(variable.guid, variable.type, typed_value(fields[name], variable.type)))
        self.project.cases = sorted(self.case_by_name.values(), key=lambda c: (c.name or "").lower())

    def _join_case_variables(self, path: Path) -> None:
        header, rows = read_case_table(path)
        key, columns = header[0], header[1:]
        for column_index, column in enumerate(columns, start=1):
            values = [row[column_index] for row in rows]
            variable = self._variable(column, infer_type(values))
            for row in rows:
                case = self._case_for_row(path, key, row[0])
                if row[column_index] != "":
                    case.variable_values.append(VariableValue(
                        variable.guid, variable.type, typed_value(row[column_index], variable.type)))
        self.project.cases.sort(key=lambda c: (c.name or "").lower())

    def _case_for_row(self, path: Path, key: str, name: str) -> Case:
        case = self.case_by_name.get(name)
        if case is None:
            case = Case(folder_guid("case", name), name)
            self.case_by_name[name] = case
            self.project.cases.append(case)
            self.project.warnings.append(warning(
                "TRANSCRIPTS-CASE-WITHOUT-SOURCE", f"case {name!r} of {path.name} has no transcript",
                place=f"{path.name}, column {key}", hint="the case is kept, with its variables"))
        return case


def _turn_name(speaker: str, start_ms: int | None) -> str:
    return speaker if start_ms is None else f"{speaker} {format_time(start_ms)}"


def read_case_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV of case variables; the first column names the case."""
    try:
        text = decode_guess(path.read_bytes(), fallback=None)[0]
    except FileNotFoundError:
        raise ReadError(path, "the case variables file does not exist", hint="check --case-variables") from None
    except UnicodeDecodeError:
        raise ReadError(path, "the case variables file is not UTF-8", hint="save it as UTF-8 CSV") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines(), dialect) if any(row)]
    if len(rows) < 1 or len(rows[0]) < 2:
        raise ReadError(path, "the case variables file needs a header row: the case column, then variables",
                        location="line 1", hint="for example: case,role,pair")
    header = rows[0]
    if len(set(header)) != len(header) or "" in header:
        raise ReadError(path, "the header row has an empty or repeated column name", location="line 1")
    width = len(header)
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise ReadError(path, f"the row has {len(row)} cells, the header {width}", location=f"line {number}")
        if not row[0]:
            raise ReadError(path, "the case name (first column) is empty", location=f"line {number}")
    return header, rows[1:]
