"""Writing the model as QDA-XML: project.qde streamed in the schema's order, and the .qdpx around it.

The XML is streamed as text in chunks, with the official namespace as the default one.
Source files are copied into `sources/` in chunks, zip to zip, without loading media into memory.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from qdaconv.api import temporary_path
from qdaconv.errors import WriteError
from qdaconv.formats import Loss
from qdaconv.model import (
    TEXT_KINDS,
    Blob,
    Case,
    Code,
    Coding,
    Graph,
    Link,
    Project,
    Selection,
    Set,
    Source,
    User,
    Variable,
    VariableValue,
    decode_text,
    guid_key,
    new_guid,
    walk_sources,
)
from qdaconv.plugins.refi import values
from qdaconv.plugins.refi.container import QDE_NAME, SOURCES_DIR, Openers, extension_of, split_path
from qdaconv.positions import PositionMap

#: Files larger than this cannot sit inside a .qdpx (REFI-QDA §8.5); they go beside it.
MAX_INTERNAL_SIZE = 2**31 - 1
_CHUNK = 1024 * 1024
#: Every member gets the same timestamp and mode, so the same project always makes the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_MODE = 0o644 << 16
#: Already compressed files are stored as they are; deflating them again costs time for nothing.
_STORED = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp4", ".m4a", ".m4v", ".mp3", ".mov", ".avi",
           ".mkv", ".webm", ".ogg", ".oga", ".ogv", ".aac", ".wma", ".wmv", ".zip", ".docx", ".gz"}
UTF8_BOM = b"\xef\xbb\xbf"
BOM = "\ufeff"
_DEFAULT_EXT = {"Text": ".txt", "PDF": ".pdf", "Picture": ".jpg", "Audio": ".mp3", "Video": ".mp4"}
#: A file name kept as a tool wrote it: no folder, not hidden, no characters zip tools trip on.
_SAFE_NAME = re.compile(r"[^/\\:*?\"<>|\x00-\x1f.][^/\\:*?\"<>|\x00-\x1f]{0,200}")
_MEDIA_TAGS = {"Picture": "PictureSource", "PDF": "PDFSource", "Audio": "AudioSource", "Video": "VideoSource"}
_SELECTION_TAGS = {"PlainText": "PlainTextSelection", "Picture": "PictureSelection", "PDF": "PDFSelection",
                   "Audio": "AudioSelection", "Video": "VideoSelection", "Transcript": "TranscriptSelection"}


@dataclass(slots=True)
class Paths:
    """What one source's path attributes say in the output, and whether its text goes inline."""

    plain: str | None = None
    rich: str | None = None
    media: str | None = None
    inline: bool = False


@dataclass(slots=True)
class FilePlan:
    """Where each source's files go: zip members to write, files beside the zip, path attributes."""

    paths: dict[int, Paths] = field(default_factory=dict)
    members: list[tuple[str, Blob]] = field(default_factory=list)
    beside: list[tuple[str, Blob]] = field(default_factory=list)
    losses: Counter[str] = field(default_factory=Counter)

    def of(self, source: Source) -> Paths:
        return self.paths.get(id(source)) or Paths(source.plain_text_path, source.rich_text_path, source.path,
                                                   source.plain_text is not None)


def _is_internal(reference: str | None) -> bool:
    return reference is not None and split_path(reference)[0] in ("internal", None)


class _Names:
    """Unique member names in sources/, keeping a tool's GUID-shaped file names where they are free."""

    def __init__(self, guids: GuidMap) -> None:
        self.guids = guids
        self.used: set[str] = set()

    def name(self, owner_guid: str, original: str | None, ext: str) -> str:
        base = PurePosixPath(split_path(original)[1]).name if original else ""
        candidates = [base] if _SAFE_NAME.fullmatch(base) else []
        candidates.append(self.guids.out(owner_guid).strip("{}") + ext)
        for candidate in candidates:
            if candidate.lower() not in self.used:
                self.used.add(candidate.lower())
                return candidate
        fresh = new_guid() + ext
        self.used.add(fresh.lower())
        return fresh


def plan_files(project: Project, guids: GuidMap, *, max_internal: int = MAX_INTERNAL_SIZE,
               text_files: bool = False, inline_text: bool = False, without_bom: bool = False,
               inline_notes: frozenset[str] = frozenset()) -> FilePlan:
    """Decide the files to write and the path attributes of every source.

    Every text document that positions can point into (text sources, transcripts, PDF
    representations, picture descriptions) is a file in sources/, as the programs' own exports
    have them; one the project holds inline gets a file named by its GUID. Notes stay as the
    model holds them (inline or in a file) unless `text_files`, except those in `inline_notes`
    (GUIDs by `guid_key`), which are written inline. `inline_text` puts every available
    text inline instead (other files then stay references). `without_bom` writes text files that
    start with a UTF-8 byte order mark without it (their text, and so every position, is the same).
    """
    plan = FilePlan()
    names = _Names(guids)
    with Openers() as openers:
        for source in walk_sources(project):
            paths = Paths()
            if source.kind in TEXT_KINDS:
                inline = inline_text or (source.kind == "Note" and guid_key(source.guid) in inline_notes)
                paths.plain, paths.inline = _plan_plain(plan, names, source, text_files, inline,
                                                        openers if without_bom else None)
                paths.rich = (source.rich_text_path if inline_text else
                              _plan_file(plan, names, source, source.rich_file, source.rich_text_path, ".docx",
                                         max_internal, "rich-text files"))
            elif inline_text:
                paths.media = source.path
            else:
                ext = extension_of(source.path or (source.file.name if source.file else None),
                                   _DEFAULT_EXT[source.kind])
                paths.media = _plan_file(plan, names, source, source.file, source.path, ext, max_internal,
                                         "media files")
            plan.paths[id(source)] = paths
    return plan


def _plan_plain(plan: FilePlan, names: _Names, source: Source, text_files: bool, inline_text: bool,
                bom_remover: Openers | None) -> tuple[str | None, bool]:
    """(plainTextPath, whether the text goes inline as PlainTextContent)."""
    if inline_text and (source.plain_text is not None or source.plain_file is not None):
        return None, True
    if source.plain_text is not None:
        if source.kind == "Note" and not text_files:
            return None, True
        if source.plain_text.startswith(BOM):
            # in a file it would read as a byte order mark and be dropped, moving every position by one
            if text_files:
                plan.losses["texts that begin with U+FEFF, kept inline (a file would read it as a byte order "
                            "mark)"] += 1
            return None, True
        name = names.name(source.guid, source.plain_text_path, ".txt")
        plan.members.append((f"{SOURCES_DIR}/{name}", Blob(name, data=source.plain_text.encode("utf-8"))))
        return f"internal://{name}", False
    blob = source.plain_file
    if blob is not None and bom_remover is not None:
        blob = _without_bom(blob, bom_remover)
    return _plan_file(plan, names, source, blob, source.plain_text_path, ".txt",
                      MAX_INTERNAL_SIZE, "plain-text files"), False


def _without_bom(blob: Blob, openers: Openers) -> Blob:
    """The blob, or its bytes after a UTF-8 byte order mark when it starts with one."""
    with openers.open(blob) as stream:
        if stream.read(len(UTF8_BOM)) != UTF8_BOM:
            return blob
        return Blob(blob.name, data=stream.read())


def _plan_file(plan: FilePlan, names: _Names, source: Source, blob: Blob | None, reference: str | None,
               ext: str, max_internal: int, what: str) -> str | None:
    if blob is None:
        if _is_internal(reference):
            plan.losses[f"{what} missing from the input (their paths are kept)"] += 1
        return reference
    name = names.name(source.guid, reference or blob.name, ext)
    if _size(blob) > max_internal:
        plan.beside.append((name, blob))
        return f"relative:///{name}"
    plan.members.append((f"{SOURCES_DIR}/{name}", blob))
    return f"internal://{name}"


def _size(blob: Blob) -> int:
    if blob.size is not None:
        return blob.size
    if blob.data is not None:
        return len(blob.data)
    return os.path.getsize(blob.file) if blob.file else 0


def name_sources(project: Project) -> tuple[dict[int, str], list[Loss]]:
    """Names for the sources and notes that have none: their file's name, else their kind and number.

    QualCoder's REFI export stops on a source without a name, so a project that went through it
    could not leave QualCoder again. Names are unique among the project's sources and notes
    (QualCoder requires that too); the Loss item says which were given.
    """
    everything = [*project.sources, *project.notes]
    taken = {source.name.strip().casefold() for source in everything if source.name and source.name.strip()}
    given: dict[int, str] = {}
    numbers: Counter[str] = Counter()
    for source in everything:
        numbers[source.kind] += 1
        if source.name and source.name.strip():
            continue
        base = _file_stem(source) or f"{source.kind} {numbers[source.kind]}"
        name, number = base, 2
        while name.casefold() in taken:
            name, number = f"{base} ({number})", number + 1
        taken.add(name.casefold())
        given[id(source)] = name
    if not given:
        return given, []
    shown = [repr(name) for name in given.values()]
    detail = ", ".join(shown[:10]) + (f" and {len(shown) - 10} more" if len(shown) > 10 else "")
    return given, [Loss("sources and notes without a name, named after their file, else their kind and number",
                        len(given), detail)]


def _file_stem(source: Source) -> str | None:
    """The name of a source's file without its extension, unless that is only a GUID."""
    blobs = (source.plain_file, source.file, source.rich_file)
    for reference in (source.plain_text_path, source.path, source.rich_text_path, *(b.name for b in blobs if b)):
        if reference:
            stem = PurePosixPath(split_path(reference)[1]).stem.strip()
            if stem and not _ANY_GUID.fullmatch(stem):
                return stem
    return None


#: A GUID, bare or in braces, as `values.is_guid` accepts it, in one match for speed.
_ANY_GUID = re.compile(f"{values.GUID.pattern}|{values.BRACED_GUID.pattern}")
#: How many recurring references (users, codes) GuidMap.ref remembers.
_REFS_KEPT = 65536


class GuidMap:
    """GUIDs as read, and stable GUIDs in place of ids that are not GUIDs (the schema requires them)."""

    def __init__(self) -> None:
        self.replaced: dict[str, str] = {}
        self.refs: dict[str, str] = {}

    def ref(self, value: str) -> str:
        """`out` for values that recur (users, codes), remembered: a look-up is cheaper than the match."""
        written = self.refs.get(value)
        if written is None:
            written = self.out(value)
            if len(self.refs) < _REFS_KEPT:
                self.refs[value] = written
        return written

    def out(self, value: str) -> str:
        if _ANY_GUID.fullmatch(value):
            return value
        mapped = self.replaced.get(value)
        if mapped is None:
            mapped = self.replaced[value] = values.guid_for_id(value)
        return mapped

    def opt(self, value: str | None) -> str | None:
        return None if value is None else self.out(value)


_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;",
                               "\n": "&#10;", "\t": "&#9;"})


_NEEDS_ESCAPE = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def _str(value: int | None) -> str | None:
    return None if value is None else str(value)


_DATES: dict[datetime, str] = {}
_DATES_KEPT = 4096


def _date(value: datetime | None) -> str | None:
    """The written form of a dateTime, remembered: codings made in one session share their times."""
    if value is None:
        return None
    if type(value) is not datetime or value.tzinfo is not UTC:  # the usual case only: no subclass, no zone rules
        return values.format_datetime(value)
    text = _DATES.get(value)
    if text is None:
        if len(_DATES) >= _DATES_KEPT:
            _DATES.clear()
        text = _DATES[value] = values.format_datetime(value)
    return text


class _Out:
    """Buffered UTF-8 output of XML text; the writer builds markup as strings for speed."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        self.stream.write("".join(self.parts).encode("utf-8"))
        self.parts.clear()
        self.size = 0


class ProjectWriter:
    """Writes one project as a QDA-XML Project document in the schema's element order.

    Markup is built as strings (GUIDs written are GUID-shaped, numbers are numbers; everything
    else is escaped), which is several times faster than building lxml elements.
    """

    def __init__(self, project: Project, plan: FilePlan, guids: GuidMap, *, unit: str = "codepoint",
                 origin: str | None = None, base_path: str | None = None, names: dict[int, str] | None = None
                 ) -> None:
        self.project = project
        self.names = names or {}
        self.plan = plan
        self.guids = guids
        self.unit = unit
        self.origin = origin
        self.base_path = base_path
        self.losses: Counter[str] = Counter()
        self.out: _Out | None = None
        self.texts = Openers()

    def _clean(self, text: str) -> str:
        if values.INVALID_XML.search(text):
            self.losses["characters XML cannot hold, replaced by U+FFFD"] += len(values.INVALID_XML.findall(text))
            return values.INVALID_XML.sub("\ufffd", text)
        return text

    def _text(self, text: str) -> str:
        """Element content, escaped; CR as a reference so that parsers do not fold CRLF into LF."""
        return self._clean(text).translate(_TEXT_ESCAPES)

    def _attrs(self, pairs: Iterable[tuple[str, str | None]]) -> str:
        """Attributes from (name, value) pairs, those with value None left out; values are escaped."""
        search = _NEEDS_ESCAPE.search
        return "".join(f' {name}="{self._clean(value).translate(_ATTR_ESCAPES) if search(value) else value}"'
                       for name, value in pairs if value is not None)

    def _attr(self, name: str, value: str | None) -> str:
        """One attribute, escaped, or nothing for None: `_attrs` for a single pair, without the tuples."""
        if value is None:
            return ""
        if _NEEDS_ESCAPE.search(value):
            value = self._clean(value).translate(_ATTR_ESCAPES)
        return f' {name}="{value}"'

    def write(self, stream: IO[bytes]) -> None:
        self.out = _Out(stream)
        try:
            self._write()
            self.out.flush()
        finally:
            self.texts.close()

    def _text_of(self, source: Source) -> str | None:
        """`source.text`, with texts in one input zip read through one open archive."""
        if source.plain_text is not None or source.plain_file is None:
            return source.plain_text
        return decode_text(self.texts.read(source.plain_file))

    def _write(self) -> None:
        project = self.project
        g = self.guids.opt
        out = self.out
        out.add('<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n')
        out.add(f'<Project xmlns="{values.PROJECT_NS}"' + self._attrs((
            ("name", project.name or ""), ("origin", self.origin),
            ("creatingUserGUID", g(project.creating_user)), ("creationDateTime", _date(project.created)),
            ("modifyingUserGUID", g(project.modifying_user)), ("modifiedDateTime", _date(project.modified)),
            ("basePath", self.base_path))) + ">\n")
        self._list("Users", project.users, self._user)
        if project.codes:
            out.add("<CodeBook>\n<Codes>\n")
            for code in project.codes:
                self._code(code)
            out.add("</Codes>\n</CodeBook>\n")
        self._list("Variables", project.variables, self._variable)
        self._list("Cases", project.cases, self._case)
        self._list("Sources", project.sources, self._source)
        self._list("Notes", project.notes, lambda note: self._text_document("Note", note))
        self._list("Links", project.links, self._link)
        self._list("Sets", project.sets, self._set)
        self._list("Graphs", project.graphs, self._graph)
        if project.description is not None:
            out.add(f"<Description>{self._text(project.description)}</Description>\n")
        self._refs("NoteRef", project.note_refs)
        out.add("</Project>\n")

    def _list(self, container: str, items: list, build) -> None:
        if not items:
            return
        self.out.add(f"<{container}>\n")
        for item in items:
            build(item)
        self.out.add(f"</{container}>\n")

    def _refs(self, tag: str, refs: list[str]) -> None:
        out = self.guids.out
        for ref in refs:
            self.out.add(f'<{tag} targetGUID="{out(ref)}"/>\n')

    def _description(self, text: str | None) -> None:
        if text is not None:
            self.out.add(f"<Description>{self._text(text)}</Description>\n")

    # ------------------------------------------------------------------ small objects

    def _user(self, user: User) -> None:
        self.out.add("<User" + self._attrs((("guid", self.guids.out(user.guid)), ("name", user.name), ("id", user.id)))
                     + "/>\n")

    def _code(self, code: Code) -> None:
        self.out.add("<Code" + self._attrs((("guid", self.guids.out(code.guid)), ("name", code.name or ""),
                                       ("isCodable", values.format_bool(code.codable)),
                                       ("color", self._color(code.color)))) + ">\n")
        self._description(code.description)
        self._refs("NoteRef", code.note_refs)
        for child in code.children:
            self._code(child)
        self.out.add("</Code>\n")

    def _color(self, color: str | None) -> str | None:
        normal, _note = values.normal_color(color)
        if color and normal is None:
            self.losses["unreadable colours left out"] += 1
        return normal

    def _variable(self, variable: Variable) -> None:
        kind = variable.type if variable.type in values.ELEMENT_FOR_TYPE else "Text"
        self.out.add("<Variable" + self._attrs((("guid", self.guids.out(variable.guid)), ("name", variable.name or ""),
                                           ("typeOfVariable", kind))) + ">\n")
        self._description(variable.description)
        self.out.add("</Variable>\n")

    def _variable_value(self, value: VariableValue) -> None:
        self.out.add(f'<VariableValue>\n<VariableRef targetGUID="{self.guids.out(value.variable)}"/>\n')
        if value.value is not None:
            kind = value.type if value.type in values.ELEMENT_FOR_TYPE else "Text"
            if isinstance(value.value, str) and kind != "Text":
                try:
                    values.parse_variable_value(kind, value.value)
                except ValueError:
                    self.losses[f"{kind} values that are not valid, written as TextValue"] += 1
                    kind = "Text"
            tag = values.ELEMENT_FOR_TYPE[kind]
            self.out.add(f"<{tag}>{self._text(values.format_value(value.value))}</{tag}>\n")
        self.out.add("</VariableValue>\n")

    def _case(self, case: Case) -> None:
        self.out.add("<Case" + self._attrs((("guid", self.guids.out(case.guid)), ("name", case.name))) + ">\n")
        self._description(case.description)
        self._refs("CodeRef", case.code_refs)
        for value in case.variable_values:
            self._variable_value(value)
        self._refs("SourceRef", case.source_refs)
        self._refs("SelectionRef", case.selection_refs)
        self.out.add("</Case>\n")

    def _set(self, group: Set) -> None:
        self.out.add("<Set" + self._attrs((("guid", self.guids.out(group.guid)), ("name", group.name or ""))) + ">\n")
        self._description(group.description)
        self._refs("MemberCode", group.member_codes)
        self._refs("MemberSource", group.member_sources)
        self._refs("MemberNote", group.member_notes)
        self.out.add("</Set>\n")

    def _link(self, link: Link) -> None:
        self.out.add("<Link" + self._attrs((
            ("guid", self.guids.out(link.guid)), ("name", link.name), ("direction", link.direction),
            ("color", self._color(link.color)), ("originGUID", self.guids.opt(link.origin)),
            ("targetGUID", self.guids.opt(link.target)))) + ">\n")
        self._refs("NoteRef", link.note_refs)
        self.out.add("</Link>\n")

    def _graph(self, graph: Graph) -> None:
        g = self.guids
        self.out.add("<Graph" + self._attrs((("guid", g.out(graph.guid)), ("name", graph.name))) + ">\n")
        for vertex in graph.vertices:
            self.out.add("<Vertex" + self._attrs((
                ("guid", g.out(vertex.guid)), ("representedGUID", g.opt(vertex.represented)),
                ("name", vertex.name), ("firstX", str(vertex.first_x)), ("firstY", str(vertex.first_y)),
                ("secondX", _str(vertex.second_x)), ("secondY", _str(vertex.second_y)), ("shape", vertex.shape),
                ("color", self._color(vertex.color)))) + "/>\n")
        for edge in graph.edges:
            self.out.add("<Edge" + self._attrs((
                ("guid", g.out(edge.guid)), ("representedGUID", g.opt(edge.represented)), ("name", edge.name),
                ("sourceVertex", g.out(edge.source_vertex)), ("targetVertex", g.out(edge.target_vertex)),
                ("color", self._color(edge.color)), ("direction", edge.direction),
                ("lineStyle", edge.line_style))) + "/>\n")
        self.out.add("</Graph>\n")

    # ------------------------------------------------------------------ sources

    def _authorship(self, obj: Source | Selection) -> tuple[tuple[str, str | None], ...]:
        g = self.guids.opt
        return (("creatingUser", g(obj.creating_user)), ("creationDateTime", _date(obj.created)),
                ("modifyingUser", g(obj.modifying_user)), ("modifiedDateTime", _date(obj.modified)))

    def _authorship_attrs(self, obj: Source | Selection) -> str:
        """`_authorship` as markup; GUIDs and dates never need escaping."""
        out = self.guids.ref
        text = ""
        if obj.creating_user is not None:
            text = f' creatingUser="{out(obj.creating_user)}"'
        if obj.created is not None:
            text += f' creationDateTime="{_date(obj.created)}"'
        if obj.modifying_user is not None:
            text += f' modifyingUser="{out(obj.modifying_user)}"'
        if obj.modified is not None:
            text += f' modifiedDateTime="{_date(obj.modified)}"'
        return text

    def _source(self, source: Source) -> None:
        if source.kind in TEXT_KINDS:
            self._text_document("TextSource", source)
        else:
            self._media_source(source)

    def _text_document(self, tag: str, source: Source) -> None:
        paths = self.plan.of(source)
        inline = self._text_of(source) if paths.inline else None
        self.out.add(f"<{tag}" + self._attrs((
            ("guid", self.guids.out(source.guid)), ("name", self.names.get(id(source), source.name)),
            ("richTextPath", paths.rich),
            ("plainTextPath", None if inline is not None else paths.plain), *self._authorship(source))) + ">\n")
        self._description(source.description)
        if inline is not None:
            self.out.add(f"<PlainTextContent>{self._text(inline)}</PlainTextContent>\n")
        mapping = self._mapping(source)
        if tag == "Transcript":
            for point in source.sync_points:
                self.out.add("<SyncPoint" + self._attrs((
                    ("guid", self.guids.out(point.guid)), ("timeStamp", _str(point.timestamp)),
                    ("position", _str(_to_unit(mapping, point.position))))) + "/>\n")
        for selection in source.selections:
            self._selection(selection, mapping)
        if tag != "Transcript":
            for coding in source.codings:
                self._coding(coding)
        self._refs("NoteRef", source.note_refs)
        if tag != "Transcript":
            for value in source.variable_values:
                self._variable_value(value)
        self.out.add(f"</{tag}>\n")

    def _mapping(self, source: Source) -> PositionMap | None:
        if self.unit == "codepoint" or not (source.sync_points or source.selections):
            return None
        text = self._text_of(source)
        if text is None:
            self.losses["texts missing, so their positions were written unconverted"] += 1
            return None
        return PositionMap(text, self.unit)

    def _media_source(self, source: Source) -> None:
        tag = _MEDIA_TAGS[source.kind]
        paths = self.plan.of(source)
        self.out.add(f"<{tag}" + self._attrs((
            ("guid", self.guids.out(source.guid)), ("name", self.names.get(id(source), source.name)),
            ("path", paths.media),
            ("currentPath", source.current_path), *self._authorship(source))) + ">\n")
        self._description(source.description)
        if source.kind == "Picture" and source.text_description is not None:
            self._text_document("TextDescription", source.text_description)
        if source.kind in ("Audio", "Video"):
            for transcript in source.transcripts:
                self._text_document("Transcript", transcript)
        for selection in source.selections:
            self._selection(selection, None)
        if source.kind == "PDF" and source.representation is not None:
            self._text_document("Representation", source.representation)
        for coding in source.codings:
            self._coding(coding)
        self._refs("NoteRef", source.note_refs)
        for value in source.variable_values:
            self._variable_value(value)
        self.out.add(f"</{tag}>\n")

    def _selection(self, selection: Selection, mapping: PositionMap | None) -> None:
        """One selection; the markup of a selection with its codings is built as one string (the hot path)."""
        kind = selection.kind
        if kind == "PlainText":
            where = (f' startPosition="{_to_unit(mapping, selection.start) or 0}"'
                     f' endPosition="{_to_unit(mapping, selection.end) or 0}"')
        elif kind in ("Audio", "Video"):
            where = f' begin="{selection.start or 0}" end="{selection.end or 0}"'
        elif kind == "Transcript":
            where = (self._attr("fromSyncPoint", self.guids.opt(selection.from_sync))
                     + self._attr("toSyncPoint", self.guids.opt(selection.to_sync)))
        else:
            where = (f' firstX="{selection.first_x or 0}" firstY="{selection.first_y or 0}"'
                     f' secondX="{selection.second_x or 0}" secondY="{selection.second_y or 0}"')
            if kind == "PDF":
                where = f' page="{selection.page or 0}"' + where
        tag = _SELECTION_TAGS[kind]
        parts = [f'<{tag} guid="{self.guids.out(selection.guid)}"', self._attr("name", selection.name), where,
                 self._authorship_attrs(selection), ">\n"]
        if selection.description is not None:
            parts.append(f"<Description>{self._text(selection.description)}</Description>\n")
        if kind == "PDF" and selection.representation is not None:
            self.out.add("".join(parts))
            parts.clear()
            self._text_document("Representation", selection.representation)
        parts += [self._coding_markup(coding) for coding in selection.codings]
        parts += [f'<NoteRef targetGUID="{self.guids.out(ref)}"/>\n' for ref in selection.note_refs]
        parts.append(f"</{tag}>\n")
        self.out.add("".join(parts))

    def _coding(self, coding: Coding) -> None:
        self.out.add(self._coding_markup(coding))

    def _coding_markup(self, coding: Coding) -> str:
        g = self.guids
        created = f' creationDateTime="{_date(coding.created)}"' if coding.created else ""
        user = f' creatingUser="{g.ref(coding.creating_user)}"' if coding.creating_user is not None else ""
        notes = "".join([f'<NoteRef targetGUID="{g.out(ref)}"/>\n' for ref in coding.note_refs])
        return (f'<Coding guid="{g.out(coding.guid)}"{user}{created}>\n'
                f'<CodeRef targetGUID="{g.ref(coding.code)}"/>\n{notes}</Coding>\n')

    def loss_items(self) -> list[Loss]:
        items = [Loss(what, count) for what, count in {**self.plan.losses, **self.losses}.items()]
        if self.guids.replaced:
            example = next(iter(self.guids.replaced))
            items.append(Loss("ids that are not GUIDs, replaced by stable GUIDs", len(self.guids.replaced),
                              f"e.g. {example!r} -> {self.guids.replaced[example]}"))
        return items


def _to_unit(mapping: PositionMap | None, position: int | None) -> int | None:
    if mapping is None or position is None:
        return position
    return mapping.to_unit(position)


# ---------------------------------------------------------------------- the container


def _open_member(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    """A member opened for streaming into, dated 1980-01-01 so that the same project makes the same bytes.

    Already compressed files are stored. Others are opened by name, which deflates them at the
    archive's `compresslevel` (a ZipInfo would be deflated at level 6: only Python 3.13 lets a
    ZipInfo carry a level in public); a member opened by name is dated 1980-01-01 as well.
    """
    if PurePosixPath(name).suffix.lower() in _STORED:
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED
        return archive.open(info, "w", force_zip64=True)
    return archive.open(name, "w", force_zip64=True)


def write_qdpx(project: Project, path: Path, writer: ProjectWriter, compresslevel: int = 1) -> None:
    """The .qdpx: project.qde first, then every planned source file, streamed in chunks.

    Only zipfile's public API is used: members of an input zip are inflated and deflated again
    (at the fastest level) rather than copied as they are stored, and stored media are copied as they are.
    """
    openers = Openers()
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
            with _open_member(archive, QDE_NAME) as stream:
                writer.write(stream)
            for member, blob in writer.plan.members:
                with openers.open(blob) as source, _open_member(archive, member) as target:
                    shutil.copyfileobj(source, target, _CHUNK)
            for info in archive.infolist():  # written with the directory when the archive closes
                info.external_attr = _MODE
    finally:
        openers.close()
    write_beside(FilePlan(beside=writer.plan.beside), path.parent)


def write_beside(plan: FilePlan, folder: Path) -> None:
    """Write the planned source files into `folder` (a .qde's sources/ and large files beside a .qdpx).

    A file already there with the same bytes is left alone (it may be the very file being copied,
    as when a .qde is written beside its input); one with other bytes is never replaced. Each file
    is written to a temporary name and renamed, and on failure the files written so far are removed.
    """
    openers = Openers()
    created: list[Path] = []
    try:
        for name, blob in [*plan.members, *plan.beside]:
            target = folder / name
            if target.exists():
                if _same_bytes(openers, blob, target):
                    continue
                raise WriteError(f"{target}: already exists with other content; write into an empty folder, "
                                 "or use --option inline_text=1 for a single self-contained file")
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = temporary_path(target)
            try:
                with openers.open(blob) as source, open(temporary, "wb") as stream:
                    shutil.copyfileobj(source, stream, _CHUNK)
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
            created.append(target)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    finally:
        openers.close()


def _same_bytes(openers: Openers, blob: Blob, target: Path) -> bool:
    if blob.size is not None and blob.size != target.stat().st_size:
        return False
    with openers.open(blob) as source, open(target, "rb") as existing:
        while True:
            left, right = source.read(_CHUNK), existing.read(_CHUNK)
            if left != right:
                return False
            if not left:
                return True
