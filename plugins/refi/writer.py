"""Writing the model as QDA-XML: project.qde streamed in the schema's order, and the .qdpx around it.

The XML is written with lxml's incremental `xmlfile`: the root carries the official namespace as
the default one and every item is built as a small subtree without a namespace, so it inherits
the default namespace when serialised and no prefixes or repeated declarations appear.
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
from pathlib import Path, PurePosixPath
from typing import IO

from lxml import etree
from qdaconv.plugins.refi import values
from qdaconv.plugins.refi.container import QDE_NAME, SOURCES_DIR, extension_of, split_path

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
    new_guid,
    walk_sources,
)
from qdaconv.positions import PositionMap

#: Files larger than this cannot sit inside a .qdpx (REFI-QDA §8.5); they go beside it.
MAX_INTERNAL_SIZE = 2**31 - 1
_CHUNK = 1024 * 1024
#: Already compressed files are stored as they are; deflating them again costs time for nothing.
_STORED = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp4", ".m4a", ".m4v", ".mp3", ".mov", ".avi",
           ".mkv", ".webm", ".ogg", ".oga", ".ogv", ".aac", ".wma", ".wmv", ".zip", ".docx", ".gz"}
_DEFAULT_EXT = {"Text": ".txt", "PDF": ".pdf", "Picture": ".jpg", "Audio": ".mp3", "Video": ".mp4"}
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
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
               text_files: bool = False, inline_text: bool = False) -> FilePlan:
    """Decide the files to write and the path attributes of every source.

    Texts stay as the model holds them (inline or in a file) unless `text_files` (every text
    in a file) or `inline_text` (every available text inline; other files then stay references).
    """
    plan = FilePlan()
    names = _Names(guids)
    for source in walk_sources(project):
        paths = Paths()
        if source.kind in TEXT_KINDS:
            paths.plain, paths.inline = _plan_plain(plan, names, source, text_files, inline_text)
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


def _plan_plain(plan: FilePlan, names: _Names, source: Source, text_files: bool, inline_text: bool
                ) -> tuple[str | None, bool]:
    """(plainTextPath, whether the text goes inline as PlainTextContent)."""
    if inline_text and (source.plain_text is not None or source.plain_file is not None):
        return None, True
    if source.plain_text is not None:
        if not text_files:
            return None, True
        name = names.name(source.guid, source.plain_text_path, ".txt")
        plan.members.append((f"{SOURCES_DIR}/{name}", Blob(name, data=source.plain_text.encode("utf-8"))))
        return f"internal://{name}", False
    return _plan_file(plan, names, source, source.plain_file, source.plain_text_path, ".txt",
                      MAX_INTERNAL_SIZE, "plain-text files"), False


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


class GuidMap:
    """GUIDs as read, and stable GUIDs in place of ids that are not GUIDs (the schema requires them)."""

    def __init__(self) -> None:
        self.replaced: dict[str, str] = {}

    def out(self, value: str) -> str:
        if values.is_guid(value):
            return value
        mapped = self.replaced.get(value)
        if mapped is None:
            mapped = self.replaced[value] = values.guid_for_id(value)
        return mapped

    def opt(self, value: str | None) -> str | None:
        return None if value is None else self.out(value)


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text) if _INVALID_XML.search(text) else text


def _sub(parent: etree._Element, tag: str, attrs: dict[str, str | None] | None = None,
         text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag, {k: v for k, v in (attrs or {}).items() if v is not None})
    if text is not None:
        element.text = _clean(text)
    return element


def _new(tag: str, attrs: dict[str, str | None]) -> etree._Element:
    return etree.Element(tag, {k: v for k, v in attrs.items() if v is not None})


def _str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _date(value) -> str | None:
    return None if value is None else values.format_datetime(value)


class ProjectWriter:
    """Writes one project as a QDA-XML Project document in the schema's element order."""

    def __init__(self, project: Project, plan: FilePlan, guids: GuidMap, *, unit: str = "codepoint",
                 origin: str | None = None, base_path: str | None = None) -> None:
        self.project = project
        self.plan = plan
        self.guids = guids
        self.unit = unit
        self.origin = origin
        self.base_path = base_path
        self.losses: Counter[str] = Counter()

    def write(self, stream: IO[bytes]) -> None:
        project = self.project
        attrs = {
            "name": _clean(project.name or ""), "origin": self.origin,
            "creatingUserGUID": self.guids.opt(project.creating_user), "creationDateTime": _date(project.created),
            "modifyingUserGUID": self.guids.opt(project.modifying_user),
            "modifiedDateTime": _date(project.modified), "basePath": self.base_path,
        }
        with etree.xmlfile(stream, encoding="utf-8") as xf:
            xf.write_declaration(standalone=True)
            with xf.element(f"{{{values.PROJECT_NS}}}Project", {k: v for k, v in attrs.items() if v is not None},
                            nsmap={None: values.PROJECT_NS}):
                xf.write("\n")
                self._list(xf, "Users", project.users, self._user)
                if project.codes:
                    codebook = _new("CodeBook", {})
                    codes = _sub(codebook, "Codes")
                    for code in project.codes:
                        self._code(codes, code)
                    self._put(xf, codebook)
                self._list(xf, "Variables", project.variables, self._variable)
                self._list(xf, "Cases", project.cases, self._case)
                self._list(xf, "Sources", project.sources, self._source)
                self._list(xf, "Notes", project.notes, lambda note: self._text_document("Note", note))
                self._list(xf, "Links", project.links, self._link)
                self._list(xf, "Sets", project.sets, self._set)
                self._list(xf, "Graphs", project.graphs, self._graph)
                if project.description is not None:
                    self._put(xf, _new("Description", {}), text=project.description)
                for ref in project.note_refs:
                    self._put(xf, _new("NoteRef", {"targetGUID": self.guids.out(ref)}))

    def _put(self, xf, element: etree._Element, text: str | None = None) -> None:
        if text is not None:
            element.text = _clean(text)
        xf.write(element, pretty_print=True)

    def _list(self, xf, container: str, items: Iterable, build) -> None:
        if not items:
            return
        with xf.element(container):
            xf.write("\n")
            for item in items:
                self._put(xf, build(item))
        xf.write("\n")

    # ------------------------------------------------------------------ small objects

    def _user(self, user: User) -> etree._Element:
        return _new("User", {"guid": self.guids.out(user.guid), "name": _opt(user.name), "id": _opt(user.id)})

    def _code(self, parent: etree._Element, code: Code) -> None:
        element = _sub(parent, "Code", {"guid": self.guids.out(code.guid), "name": _clean(code.name or ""),
                                        "isCodable": values.format_bool(code.codable),
                                        "color": self._color(code.color)})
        if code.description is not None:
            _sub(element, "Description", text=code.description)
        self._note_refs(element, code.note_refs)
        for child in code.children:
            self._code(element, child)

    def _color(self, color: str | None) -> str | None:
        normal, _note = values.normal_color(color)
        if color and normal is None:
            self.losses["unreadable colours left out"] += 1
        return normal

    def _note_refs(self, element: etree._Element, refs: list[str], tag: str = "NoteRef") -> None:
        for ref in refs:
            _sub(element, tag, {"targetGUID": self.guids.out(ref)})

    def _variable(self, variable: Variable) -> etree._Element:
        element = _new("Variable", {"guid": self.guids.out(variable.guid), "name": _clean(variable.name or ""),
                                    "typeOfVariable": variable.type if variable.type in values.ELEMENT_FOR_TYPE
                                    else "Text"})
        if variable.description is not None:
            _sub(element, "Description", text=variable.description)
        return element

    def _variable_value(self, parent: etree._Element, value: VariableValue) -> None:
        element = _sub(parent, "VariableValue")
        _sub(element, "VariableRef", {"targetGUID": self.guids.out(value.variable)})
        if value.value is None:
            return
        kind = value.type if value.type in values.ELEMENT_FOR_TYPE else "Text"
        if isinstance(value.value, str) and kind != "Text":
            try:
                values.parse_value(kind, value.value)
            except ValueError:
                self.losses[f"{kind} values that are not valid, written as TextValue"] += 1
                kind = "Text"
        _sub(element, values.ELEMENT_FOR_TYPE[kind], text=values.format_value(value.value))

    def _case(self, case: Case) -> etree._Element:
        element = _new("Case", {"guid": self.guids.out(case.guid), "name": _opt(case.name)})
        if case.description is not None:
            _sub(element, "Description", text=case.description)
        self._note_refs(element, case.code_refs, "CodeRef")
        for value in case.variable_values:
            self._variable_value(element, value)
        self._note_refs(element, case.source_refs, "SourceRef")
        self._note_refs(element, case.selection_refs, "SelectionRef")
        return element

    def _set(self, group: Set) -> etree._Element:
        element = _new("Set", {"guid": self.guids.out(group.guid), "name": _clean(group.name or "")})
        if group.description is not None:
            _sub(element, "Description", text=group.description)
        self._note_refs(element, group.member_codes, "MemberCode")
        self._note_refs(element, group.member_sources, "MemberSource")
        self._note_refs(element, group.member_notes, "MemberNote")
        return element

    def _link(self, link: Link) -> etree._Element:
        element = _new("Link", {"guid": self.guids.out(link.guid), "name": _opt(link.name),
                                "direction": link.direction, "color": self._color(link.color),
                                "originGUID": self.guids.opt(link.origin), "targetGUID": self.guids.opt(link.target)})
        self._note_refs(element, link.note_refs)
        return element

    def _graph(self, graph: Graph) -> etree._Element:
        element = _new("Graph", {"guid": self.guids.out(graph.guid), "name": _opt(graph.name)})
        for vertex in graph.vertices:
            _sub(element, "Vertex", {
                "guid": self.guids.out(vertex.guid), "representedGUID": self.guids.opt(vertex.represented),
                "name": _opt(vertex.name), "firstX": str(vertex.first_x), "firstY": str(vertex.first_y),
                "secondX": _str(vertex.second_x), "secondY": _str(vertex.second_y), "shape": vertex.shape,
                "color": self._color(vertex.color)})
        for edge in graph.edges:
            _sub(element, "Edge", {
                "guid": self.guids.out(edge.guid), "representedGUID": self.guids.opt(edge.represented),
                "name": _opt(edge.name), "sourceVertex": self.guids.out(edge.source_vertex),
                "targetVertex": self.guids.out(edge.target_vertex), "color": self._color(edge.color),
                "direction": edge.direction, "lineStyle": edge.line_style})
        return element

    # ------------------------------------------------------------------ sources

    def _authorship(self, obj: Source | Selection) -> dict[str, str | None]:
        return {"creatingUser": self.guids.opt(obj.creating_user), "creationDateTime": _date(obj.created),
                "modifyingUser": self.guids.opt(obj.modifying_user), "modifiedDateTime": _date(obj.modified)}

    def _source(self, source: Source) -> etree._Element:
        if source.kind in TEXT_KINDS:
            return self._text_document("TextSource", source)
        return self._media_source(source)

    def _text_document(self, tag: str, source: Source, parent: etree._Element | None = None) -> etree._Element:
        paths = self.plan.of(source)
        inline = source.text if paths.inline else None
        attrs = {"guid": self.guids.out(source.guid), "name": _opt(source.name), "richTextPath": paths.rich,
                 "plainTextPath": None if inline is not None else paths.plain, **self._authorship(source)}
        element = _sub(parent, tag, attrs) if parent is not None else _new(tag, attrs)
        if source.description is not None:
            _sub(element, "Description", text=source.description)
        if inline is not None:
            _sub(element, "PlainTextContent", text=inline)
        mapping = self._mapping(source)
        if tag == "Transcript":
            for point in source.sync_points:
                _sub(element, "SyncPoint", {"guid": self.guids.out(point.guid), "timeStamp": _str(point.timestamp),
                                            "position": _str(_to_unit(mapping, point.position))})
            for selection in source.selections:
                self._selection(element, selection, mapping)
            self._note_refs(element, source.note_refs)
            return element
        for selection in source.selections:
            self._selection(element, selection, mapping)
        self._tail(element, source)
        return element

    def _tail(self, element: etree._Element, source: Source) -> None:
        for coding in source.codings:
            self._coding(element, coding)
        self._note_refs(element, source.note_refs)
        for value in source.variable_values:
            self._variable_value(element, value)

    def _mapping(self, source: Source) -> PositionMap | None:
        if self.unit == "codepoint" or not (source.sync_points or source.selections):
            return None
        text = source.text
        if text is None:
            self.losses["texts missing, so their positions were written unconverted"] += 1
            return None
        return PositionMap(text, self.unit)

    def _media_source(self, source: Source) -> etree._Element:
        paths = self.plan.of(source)
        element = _new(_MEDIA_TAGS[source.kind], {
            "guid": self.guids.out(source.guid), "name": _opt(source.name), "path": paths.media,
            "currentPath": _opt(source.current_path), **self._authorship(source)})
        if source.description is not None:
            _sub(element, "Description", text=source.description)
        if source.kind == "Picture" and source.text_description is not None:
            self._text_document("TextDescription", source.text_description, element)
        if source.kind in ("Audio", "Video"):
            for transcript in source.transcripts:
                self._text_document("Transcript", transcript, element)
        for selection in source.selections:
            self._selection(element, selection, None)
        if source.kind == "PDF" and source.representation is not None:
            self._text_document("Representation", source.representation, element)
        self._tail(element, source)
        return element

    def _selection(self, parent: etree._Element, selection: Selection, mapping: PositionMap | None) -> None:
        attrs: dict[str, str | None] = {"guid": self.guids.out(selection.guid), "name": _opt(selection.name)}
        kind = selection.kind
        if kind == "PlainText":
            attrs["startPosition"] = str(_to_unit(mapping, selection.start) or 0)
            attrs["endPosition"] = str(_to_unit(mapping, selection.end) or 0)
        elif kind in ("Audio", "Video"):
            attrs["begin"] = str(selection.start or 0)
            attrs["end"] = str(selection.end or 0)
        elif kind == "Transcript":
            attrs["fromSyncPoint"] = self.guids.opt(selection.from_sync)
            attrs["toSyncPoint"] = self.guids.opt(selection.to_sync)
        else:
            if kind == "PDF":
                attrs["page"] = str(selection.page or 0)
            for name, value in (("firstX", selection.first_x), ("firstY", selection.first_y),
                                ("secondX", selection.second_x), ("secondY", selection.second_y)):
                attrs[name] = str(value or 0)
        attrs.update(self._authorship(selection))
        element = _sub(parent, _SELECTION_TAGS[kind], attrs)
        if selection.description is not None:
            _sub(element, "Description", text=selection.description)
        if kind == "PDF" and selection.representation is not None:
            self._text_document("Representation", selection.representation, element)
        for coding in selection.codings:
            self._coding(element, coding)
        self._note_refs(element, selection.note_refs)

    def _coding(self, parent: etree._Element, coding: Coding) -> None:
        element = _sub(parent, "Coding", {"guid": self.guids.out(coding.guid),
                                          "creatingUser": self.guids.opt(coding.creating_user),
                                          "creationDateTime": _date(coding.created)})
        _sub(element, "CodeRef", {"targetGUID": self.guids.out(coding.code)})
        self._note_refs(element, coding.note_refs)

    def loss_items(self) -> list[Loss]:
        items = [Loss(what, count) for what, count in {**self.plan.losses, **self.losses}.items()]
        if self.guids.replaced:
            example = next(iter(self.guids.replaced))
            items.append(Loss("ids that are not GUIDs, replaced by stable GUIDs", len(self.guids.replaced),
                              f"e.g. {example!r} -> {self.guids.replaced[example]}"))
        return items


def _opt(text: str | None) -> str | None:
    return None if text is None else _clean(text)


def _to_unit(mapping: PositionMap | None, position: int | None) -> int | None:
    if mapping is None or position is None:
        return position
    return mapping.to_unit(position)


# ---------------------------------------------------------------------- the container


class _Openers:
    """Opens blob streams, keeping each input zip open once for all its members."""

    def __init__(self) -> None:
        self.archives: dict[str, zipfile.ZipFile] = {}

    def open(self, blob: Blob) -> IO[bytes]:
        if blob.data is None and blob.zip_path is not None and blob.member is not None:
            archive = self.archives.get(blob.zip_path)
            if archive is None:
                archive = self.archives[blob.zip_path] = zipfile.ZipFile(blob.zip_path)
            return archive.open(blob.member)
        return blob.open()

    def close(self) -> None:
        for archive in self.archives.values():
            archive.close()


def write_qdpx(project: Project, path: Path, writer: ProjectWriter, compresslevel: int = 6) -> None:
    """The .qdpx: project.qde first, then every planned source file, copied in chunks."""
    openers = _Openers()
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
            with archive.open(QDE_NAME, "w", force_zip64=True) as stream:
                writer.write(stream)
            for member, blob in writer.plan.members:
                info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = (zipfile.ZIP_STORED if PurePosixPath(member).suffix.lower() in _STORED
                                      else zipfile.ZIP_DEFLATED)
                info.external_attr = 0o644 << 16
                with openers.open(blob) as source, archive.open(info, "w", force_zip64=True) as target:
                    shutil.copyfileobj(source, target, _CHUNK)
    finally:
        openers.close()
    write_beside(FilePlan(beside=writer.plan.beside), path.parent)


def write_beside(plan: FilePlan, folder: Path) -> None:
    """Write the planned source files into `folder` (a .qde's sources/ and large files beside a .qdpx)."""
    openers = _Openers()
    try:
        for name, blob in [*plan.members, *plan.beside]:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with openers.open(blob) as source, open(target, "wb") as stream:
                shutil.copyfileobj(source, stream, _CHUNK)
    finally:
        openers.close()
