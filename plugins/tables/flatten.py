"""Project -> tables: the rows of every table, typed, in model order, and the files they refer to.

Rows are lists in the order of their table's columns and are made lazily, table by table, so
a large project streams to disk. The files (plain texts, rich-text copies, media) are collected
while the document tables are made; a container writes them after the tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from qdaconv.model import Blob, Code, DocumentEntry, Project, guid_key, walk_codes, walk_documents

from .schema import CODE_PATH_SEPARATOR, TABLES, Table

FILES_FOLDER = "files"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,150}")


#: The table each document role's rows go to.
_ROLE_TABLES = {"note": "notes", "transcript": "transcripts"}


def _table_of(document: DocumentEntry) -> str:
    return _ROLE_TABLES.get(document.role, "sources")


class FileNames:
    """Relative paths for the project's files: the file's own name when it is plain and free."""

    def __init__(self) -> None:
        self.files: dict[str, Blob] = {}
        self._by_blob: dict[int, str] = {}
        self._taken: set[str] = set()

    def add(self, blob: Blob, owner_guid: str, default_suffix: str = "") -> str:
        if id(blob) in self._by_blob:
            return self._by_blob[id(blob)]
        name = PurePosixPath(blob.name.replace("\\", "/")).name
        if not _SAFE_NAME.fullmatch(name) or name.endswith((" ", ".")):
            suffix = PurePosixPath(name).suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", PurePosixPath(name).suffix) \
                else default_suffix
            name = f"{_safe_guid(owner_guid)}{suffix}"
        path = self._free(name)
        self.files[path] = blob
        self._by_blob[id(blob)] = path
        return path

    def _free(self, name: str) -> str:
        stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
        candidate, n = name, 1
        while candidate.lower() in self._taken:
            n += 1
            candidate = f"{stem}-{n}{suffix}"
        self._taken.add(candidate.lower())
        return f"{FILES_FOLDER}/{candidate}"


def _safe_guid(guid: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", guid) or "file"


class Flattener:
    """Makes the rows of each table for one project; `files` fills as the document tables are made."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.names = FileNames()
        self.code_paths = {guid_key(e.code.guid): CODE_PATH_SEPARATOR.join(e.path) for e in walk_codes(project)}
        self.doc_names: dict[str, str] = {}
        for document in walk_documents(project):
            self.doc_names.setdefault(guid_key(document.source.guid), document.source.name or "")
        self.case_names = {guid_key(c.guid): c.name for c in project.cases}
        self.variable_names = {guid_key(v.guid): v.name for v in project.variables}
        self.note_names = {guid_key(n.guid): n.name for n in project.notes}

    @property
    def files(self) -> dict[str, Blob]:
        return self.names.files

    def tables(self) -> Iterator[tuple[Table, Iterator[list[Any]]]]:
        """Each table with a lazy iterator of its rows, in the layout's order."""
        for table in TABLES:
            maker = getattr(self, f"_{table.name}")
            yield table, (_row(table.names, values) for values in maker())

    # ---------------------------------------------------------------- one generator per table

    def _project(self) -> Iterator[dict[str, Any]]:
        p = self.project
        yield {"name": p.name, "origin": p.origin, "description": p.description, "base_path": p.base_path,
               **_authorship(p)}

    def _users(self) -> Iterator[dict[str, Any]]:
        for user in self.project.users:
            yield {"guid": user.guid, "name": user.name, "id": user.id}

    def _codes(self) -> Iterator[dict[str, Any]]:
        for entry in walk_codes(self.project):
            code: Code = entry.code
            yield {"guid": code.guid, "name": code.name, "parent": entry.parent,
                   "path": CODE_PATH_SEPARATOR.join(entry.path), "codable": code.codable,
                   "color": code.color, "description": code.description}

    def _variables(self) -> Iterator[dict[str, Any]]:
        for variable in self.project.variables:
            yield {"guid": variable.guid, "name": variable.name, "type": variable.type,
                   "description": variable.description}

    def _cases(self) -> Iterator[dict[str, Any]]:
        for case in self.project.cases:
            yield {"guid": case.guid, "name": case.name, "description": case.description}

    def _case_members(self) -> Iterator[dict[str, Any]]:
        for case in self.project.cases:
            for kind, refs, names in (("code", case.code_refs, self.code_paths),
                                      ("source", case.source_refs, self.doc_names),
                                      ("selection", case.selection_refs, {})):
                for ref in refs:
                    yield {"case": case.guid, "kind": kind, "member": ref,
                           "member_name": names.get(guid_key(ref))}

    def _values(self) -> Iterator[dict[str, Any]]:
        owners = [("case", case) for case in self.project.cases]
        owners += [("source", d.source) for d in walk_documents(self.project)]
        for owner_type, owner in owners:
            for value in owner.variable_values:
                yield {"owner_type": owner_type, "owner": owner.guid, "owner_name": owner.name,
                       "variable": value.variable, "variable_name": self.variable_names.get(guid_key(value.variable)),
                       "type": value.type, "value": value.value}

    def _documents(self, table: str) -> Iterator[dict[str, Any]]:
        for document in walk_documents(self.project):
            if _table_of(document) == table:
                yield self._document_row(document)

    def _sources(self) -> Iterator[dict[str, Any]]:
        return self._documents("sources")

    def _notes(self) -> Iterator[dict[str, Any]]:
        return self._documents("notes")

    def _transcripts(self) -> Iterator[dict[str, Any]]:
        return self._documents("transcripts")

    def _document_row(self, document: DocumentEntry) -> dict[str, Any]:
        source = document.source
        text_file = None
        if source.plain_text is not None:
            inline = Blob(f"{_safe_guid(source.guid)}.txt", data=source.plain_text.encode("utf-8"))
            text_file = self.names.add(inline, source.guid, ".txt")
        elif source.plain_file is not None:
            text_file = self.names.add(source.plain_file, source.guid, ".txt")
        text = source.text
        return {
            "guid": source.guid, "kind": source.kind, "role": document.role, "name": source.name,
            "parent": document.parent, "selection": document.selection, "description": source.description,
            "text_file": text_file, "text_inline": source.plain_text is not None,
            "text_length": len(text) if text is not None else None,
            "plain_text_path": source.plain_text_path, "rich_text_path": source.rich_text_path,
            "rich_file": self.names.add(source.rich_file, source.guid, ".docx") if source.rich_file else None,
            "path": source.path, "current_path": source.current_path,
            "media_file": self.names.add(source.file, source.guid) if source.file else None,
            **_authorship(source),
        }

    def _sync_points(self) -> Iterator[dict[str, Any]]:
        for document in walk_documents(self.project):
            for point in document.source.sync_points:
                yield {"transcript": document.source.guid, "guid": point.guid, "position": point.position,
                       "timestamp": point.timestamp}

    def _segments(self) -> Iterator[dict[str, Any]]:
        for document in walk_documents(self.project):
            source = document.source
            if not source.selections:
                continue
            text = source.text
            for sel in source.selections:
                excerpt = None
                if sel.kind == "PlainText" and text is not None and sel.start is not None and sel.end is not None:
                    excerpt = text[sel.start:sel.end]
                yield {"guid": sel.guid, "source": source.guid, "source_name": source.name, "kind": sel.kind,
                       "name": sel.name, "description": sel.description, "start": sel.start, "end": sel.end,
                       "page": sel.page, "first_x": sel.first_x, "first_y": sel.first_y,
                       "second_x": sel.second_x, "second_y": sel.second_y, "from_sync": sel.from_sync,
                       "to_sync": sel.to_sync, "excerpt": excerpt, **_authorship(sel)}

    def _codings(self) -> Iterator[dict[str, Any]]:
        for document in walk_documents(self.project):
            source = document.source
            places = [(None, source.codings)] + [(sel.guid, sel.codings) for sel in source.selections]
            for selection, codings in places:
                for coding in codings:
                    yield {"guid": coding.guid, "source": source.guid, "selection": selection,
                           "code": coding.code, "code_path": self.code_paths.get(guid_key(coding.code)),
                           "coder": coding.creating_user, "created": coding.created}

    def _note_links(self) -> Iterator[dict[str, Any]]:
        for owner_type, owner, source, selection, refs in self._note_owners():
            for ref in refs:
                yield {"owner_type": owner_type, "owner": owner, "source": source, "selection": selection,
                       "note": ref, "note_name": self.note_names.get(guid_key(ref))}

    def _note_owners(self) -> Iterator[tuple[str, str | None, str | None, str | None, list[str]]]:
        yield "project", None, None, None, self.project.note_refs
        for entry in walk_codes(self.project):
            yield "code", entry.code.guid, None, None, entry.code.note_refs
        for document in walk_documents(self.project):
            source = document.source
            yield "source", source.guid, None, None, source.note_refs
            for coding in source.codings:
                yield "coding", coding.guid, source.guid, None, coding.note_refs
            for sel in source.selections:
                yield "selection", sel.guid, source.guid, None, sel.note_refs
                for coding in sel.codings:
                    yield "coding", coding.guid, source.guid, sel.guid, coding.note_refs
        for link in self.project.links:
            yield "link", link.guid, None, None, link.note_refs

    def _sets(self) -> Iterator[dict[str, Any]]:
        for group in self.project.sets:
            yield {"guid": group.guid, "name": group.name, "description": group.description}

    def _set_members(self) -> Iterator[dict[str, Any]]:
        for group in self.project.sets:
            for kind, refs, names in (("code", group.member_codes, self.code_paths),
                                      ("source", group.member_sources, self.doc_names),
                                      ("note", group.member_notes, self.note_names)):
                for ref in refs:
                    yield {"set": group.guid, "kind": kind, "member": ref, "member_name": names.get(guid_key(ref))}

    def _links(self) -> Iterator[dict[str, Any]]:
        for link in self.project.links:
            yield {"guid": link.guid, "name": link.name, "direction": link.direction, "color": link.color,
                   "origin": link.origin, "target": link.target}

    def _graphs(self) -> Iterator[dict[str, Any]]:
        for graph in self.project.graphs:
            yield {"guid": graph.guid, "name": graph.name}

    def _vertices(self) -> Iterator[dict[str, Any]]:
        for graph in self.project.graphs:
            for v in graph.vertices:
                yield {"graph": graph.guid, "guid": v.guid, "first_x": v.first_x, "first_y": v.first_y,
                       "second_x": v.second_x, "second_y": v.second_y, "represented": v.represented,
                       "name": v.name, "shape": v.shape, "color": v.color}

    def _edges(self) -> Iterator[dict[str, Any]]:
        for graph in self.project.graphs:
            for e in graph.edges:
                yield {"graph": graph.guid, "guid": e.guid, "source_vertex": e.source_vertex,
                       "target_vertex": e.target_vertex, "represented": e.represented, "name": e.name,
                       "color": e.color, "direction": e.direction, "line_style": e.line_style}


def _authorship(obj: Any) -> dict[str, Any]:
    return {"creating_user": obj.creating_user, "created": obj.created,
            "modifying_user": obj.modifying_user, "modified": obj.modified}


def _row(names: tuple[str, ...], values: dict[str, Any]) -> list[Any]:
    return [values.get(name) for name in names]

