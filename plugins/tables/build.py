"""Tables -> project: rows become model objects, references are resolved, hand edits are understood.

References are kept exactly as written when they name an object by its GUID (letter case and
braces survive). Where people edit the tables, a reference may instead be a name or a code path,
which resolves to that object's GUID; a row with no GUID gets a new one. A GUID-shaped reference
to nothing is kept (the validator reports it); anything else that resolves to nothing is a
ReadError naming the table, row and column.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.model import (
    Case,
    Code,
    Coding,
    Edge,
    Graph,
    Link,
    Project,
    Selection,
    Set,
    Source,
    SyncPoint,
    User,
    Variable,
    VariableValue,
    Vertex,
    guid_key,
    new_guid,
    walk_codes,
)

from .cells import is_guid, parse_cell_value
from .rows import Row, TableReader
from .schema import CODE_PATH_SEPARATOR, DOCUMENT_TABLES, TABLE_BY_NAME

_DEFAULT_ROLE = {"sources": "source", "notes": "note", "transcripts": "transcript"}
_DEFAULT_KIND = {"sources": "Text", "notes": "Note", "transcripts": "Transcript"}
_ROLES = ("source", "note", "representation", "text_description", "transcript", "selection_representation")


class Index:
    """Objects of one kind by GUID key and by name, to resolve what a cell refers to."""

    def __init__(self, what: str, by: str = "GUID or name") -> None:
        self.what = what
        self.by = by
        self.by_guid: dict[str, Any] = {}
        self.by_name: dict[str, list[Any]] = defaultdict(list)

    def add(self, guid: str, obj: Any, *names: str | None) -> None:
        self.by_guid.setdefault(guid_key(guid), obj)
        for name in dict.fromkeys(n for n in names if n):
            same_name = self.by_name[name]
            if not any(other is obj for other in same_name):
                same_name.append(obj)

    def guid(self, text: str) -> Any:
        return self.by_guid.get(guid_key(text))

    def named(self, text: str) -> list[Any]:
        return self.by_name.get(text, [])


class Builder:
    """Builds one Project from a TableReader."""

    def __init__(self, reader: TableReader) -> None:
        self.reader = reader
        self.project = Project()
        self.users = Index("user")
        self.codes = Index("code", "GUID, path or name")
        self.variables = Index("variable")
        self.cases = Index("case")
        self.documents = Index("source or note")
        self.selections: dict[tuple[int, str], Selection] = {}
        self.any_selection = Index("selection")
        self.codings: dict[tuple[int, str, str], Coding] = {}
        self.any_coding = Index("coding")
        self.sets = Index("set")
        self.links = Index("link")
        self.graphs = Index("graph")
        self.pending: list[tuple[Source, str, Row]] = []

    def build(self) -> Project:
        for step in (self._users, self._project, self._codes, self._variables, self._cases, self._documents,
                     self._sync_points, self._segments, self._nested, self._codings, self._case_members,
                     self._values, self._sets, self._set_members, self._links, self._graphs, self._vertices,
                     self._edges, self._note_links):
            step()
        return self.project

    def _rows(self, table: str):
        return self.reader.rows(TABLE_BY_NAME[table])

    def _fail(self, row: Row, column: str, message: str, hint: str | None = None) -> ReadError:
        return self.reader.error(row, column, message, hint)

    # ---------------------------------------------------------------- references

    def ref(self, row: Row, column: str, index: Index, required: bool = False, dangling: bool = True) -> str | None:
        """The reference to store for a cell: as written when it is a known GUID, else the GUID it names."""
        text = row[column]
        if text is None:
            if required:
                raise self._fail(row, column, f"a {index.what} is needed here")
            return None
        if index.guid(text) is not None:
            return text
        named = index.named(text.strip())
        if len(named) == 1:
            return named[0].guid
        if len(named) > 1:
            raise self._fail(row, column, f"{len(named)} {index.what}s are named {text!r}",
                             hint="use the GUID to say which one")
        if dangling and is_guid(text):
            return text
        raise self._fail(row, column, f"no {index.what} has the {index.by} {text!r}",
                         hint=f"check the {index.what}'s {index.by}")

    def obj(self, row: Row, column: str, index: Index) -> Any:
        """The object a cell must refer to."""
        return index.guid(self.ref(row, column, index, required=True, dangling=False))

    def user(self, row: Row, column: str) -> str | None:
        return self.ref(row, column, self.users)

    def authorship(self, row: Row) -> dict[str, Any]:
        return {"creating_user": self.user(row, "creating_user"), "created": row["created"],
                "modifying_user": self.user(row, "modifying_user"), "modified": row["modified"]}

    def required(self, row: Row, column: str) -> Any:
        value = row[column]
        if value is None:
            raise self._fail(row, column, f"the {column} is missing")
        return value

    # ---------------------------------------------------------------- the tables

    def _users(self) -> None:
        for row in self._rows("users"):
            user = User(_guid(row), row["name"], row["id"])
            self.project.users.append(user)
            self.users.add(user.guid, user, user.name, user.id)

    def _project(self) -> None:
        rows = list(self._rows("project"))
        if len(rows) > 1:
            raise self._fail(rows[1], "name", "the project table has more than one row")
        if rows:
            row = rows[0]
            p = self.project
            p.name = row["name"] if row["name"] is not None else p.name
            p.origin, p.description, p.base_path = row["origin"], row["description"], row["base_path"]
            for field, value in self.authorship(row).items():
                setattr(p, field, value)

    def _codes(self) -> None:
        rows = list(self._rows("codes"))
        codes = [Code(_guid(row), self.required(row, "name"),
                      row["codable"] if row["codable"] is not None else True, row["color"], row["description"])
                 for row in rows]
        parents = self._code_parents(rows, codes)
        for code, parent in zip(codes, parents, strict=True):
            (self.project.codes if parent is None else codes[parent].children).append(code)
        for row, code in zip(rows, codes, strict=True):
            if row["path"]:
                self.codes.add(code.guid, code, row["path"])
        for entry in walk_codes(self.project):
            self.codes.add(entry.code.guid, entry.code, CODE_PATH_SEPARATOR.join(entry.path), entry.code.name)

    def _code_parents(self, rows: list[Row], codes: list[Code]) -> list[int | None]:
        """Each code's parent row: by GUID (the nearest row above when GUIDs repeat), path or name."""
        by_guid: dict[str, list[int]] = defaultdict(list)
        by_label: dict[str, list[int]] = defaultdict(list)
        for i, (row, code) in enumerate(zip(rows, codes, strict=True)):
            by_guid[guid_key(code.guid)].append(i)
            for label in dict.fromkeys(filter(None, (row["path"], code.name))):
                by_label[label].append(i)
        parents: list[int | None] = []
        for i, (row, code) in enumerate(zip(rows, codes, strict=True)):
            column, text = "parent", row["parent"]
            if text is None and row["path"] and row["path"].endswith(CODE_PATH_SEPARATOR + code.name):
                column, text = "path", row["path"][: -len(CODE_PATH_SEPARATOR + code.name)]
            if text is None:
                parents.append(None)
                continue
            same = [j for j in by_guid.get(guid_key(text), []) if j != i]
            labelled = [j for j in by_label.get(text.strip(), []) if j != i]
            if same:
                parents.append(max((j for j in same if j < i), default=same[0]))
            elif len(labelled) == 1:
                parents.append(labelled[0])
            elif labelled:
                raise self._fail(row, column, f"{len(labelled)} codes are named {text!r}",
                                 hint="give the parent's GUID or full path")
            else:
                raise self._fail(row, column, f"no code has the GUID, path or name {text!r}",
                                 hint="the parent must be a code in this table")
        for i, row in enumerate(rows):
            seen, j = {i}, parents[i]
            while j is not None:
                if j in seen:
                    raise self._fail(row, "parent", "the code is its own ancestor (the parents form a loop)")
                seen.add(j)
                j = parents[j]
        return parents

    def _variables(self) -> None:
        for row in self._rows("variables"):
            variable = Variable(_guid(row), self.required(row, "name"), row["type"] or "Text",
                                row["description"])
            self.project.variables.append(variable)
            self.variables.add(variable.guid, variable, variable.name)

    def _cases(self) -> None:
        for row in self._rows("cases"):
            case = Case(_guid(row), row["name"], row["description"])
            self.project.cases.append(case)
            self.cases.add(case.guid, case, case.name)

    def _documents(self) -> None:
        for table in DOCUMENT_TABLES:
            for row in self._rows(table):
                source = self._document(row, table)
                self.documents.add(source.guid, source, source.name)
                role = row["role"] or _DEFAULT_ROLE[table]
                if role not in _ROLES:
                    raise self._fail(row, "role", f"unknown role {role!r}", hint="one of " + ", ".join(_ROLES))
                if role == "source":
                    self.project.sources.append(source)
                elif role == "note":
                    self.project.notes.append(source)
                else:
                    self.pending.append((source, role, row))

    def _document(self, row: Row, table: str) -> Source:
        source = Source(_guid(row), row["kind"] or _DEFAULT_KIND[table], row["name"],
                        row["description"], plain_text_path=row["plain_text_path"],
                        rich_text_path=row["rich_text_path"], path=row["path"], current_path=row["current_path"],
                        **self.authorship(row))
        if row["text_file"] is not None:
            blob = self._file(row, "text_file")
            if row["text_inline"]:
                try:
                    source.plain_text = blob.read_bytes().decode("utf-8")
                except UnicodeDecodeError:
                    raise self._fail(row, "text_file", "the inline text's file is not UTF-8") from None
            else:
                source.plain_file = blob
        if row["rich_file"] is not None:
            source.rich_file = self._file(row, "rich_file")
        if row["media_file"] is not None:
            source.file = self._file(row, "media_file")
        return source

    def _file(self, row: Row, column: str):
        blob = self.reader.blob(row[column])
        if blob is None:
            raise self._fail(row, column, f"the file {row[column]!r} is not there",
                             hint="files are referred to by their path relative to the tables")
        return blob

    def _sync_points(self) -> None:
        for row in self._rows("sync_points"):
            transcript = self.obj(row, "transcript", self.documents)
            transcript.sync_points.append(SyncPoint(_guid(row), row["position"], row["timestamp"]))

    def _segments(self) -> None:
        for row in self._rows("segments"):
            source = self.obj(row, "source", self.documents)
            selection = Selection(
                _guid(row), row["kind"] or "PlainText", row["name"], row["description"],
                row["start"], row["end"], row["page"], row["first_x"], row["first_y"], row["second_x"],
                row["second_y"], row["from_sync"], row["to_sync"], **self.authorship(row))
            source.selections.append(selection)
            self.selections.setdefault((id(source), guid_key(selection.guid)), selection)
            self.any_selection.add(selection.guid, selection)

    def _nested(self) -> None:
        """Representations, text descriptions and transcripts go into their parents, in row order."""
        for source, role, row in self.pending:
            parent = self.obj(row, "parent", self.documents)
            if parent is source:
                raise self._fail(row, "parent", "a document cannot be nested in itself")
            if role == "representation":
                parent.representation = source
            elif role == "text_description":
                parent.text_description = source
            elif role == "transcript":
                parent.transcripts.append(source)
            else:
                self._selection_of(row, "selection", parent).representation = source

    def _selection_of(self, row: Row, column: str, source: Source | None) -> Selection:
        text = self.required(row, column)
        found = self.selections.get((id(source), guid_key(text))) or self.any_selection.guid(text)
        if found is None:
            raise self._fail(row, column, f"no selection has the GUID {text!r}",
                             hint="selections are the rows of the segments table")
        return found

    def _codings(self) -> None:
        for row in self._rows("codings"):
            source = self.obj(row, "source", self.documents)
            code = self.ref(row, "code", self.codes)
            if code is None:
                code = self.ref(row, "code_path", self.codes, required=True)
            coding = Coding(_guid(row), code, self.user(row, "coder"), row["created"])
            if row["selection"] is None:
                source.codings.append(coding)
            else:
                self._selection_of(row, "selection", source).codings.append(coding)
            self.codings.setdefault((id(source), guid_key(row["selection"]), guid_key(coding.guid)), coding)
            self.any_coding.add(coding.guid, coding)

    def _member(self, row: Row, kinds: dict[str, Index | None]) -> tuple[str, str]:
        kind = self.required(row, "kind")
        if kind not in kinds:
            raise self._fail(row, "kind", f"unknown kind {kind!r}", hint="one of " + ", ".join(kinds))
        index = kinds[kind]
        if index is None:  # selections are referred to by GUID only
            member = self.required(row, "member")
            if self.any_selection.guid(member) is None and not is_guid(member):
                raise self._fail(row, "member", f"no selection has the GUID {member!r}")
        else:
            member = self.ref(row, "member", index, required=True)
        return kind, member

    def _case_members(self) -> None:
        for row in self._rows("case_members"):
            case = self.obj(row, "case", self.cases)
            kind, member = self._member(row, {"code": self.codes, "source": self.documents, "selection": None})
            {"code": case.code_refs, "source": case.source_refs, "selection": case.selection_refs}[kind].append(member)

    def _values(self) -> None:
        owners = {"case": self.cases, "source": self.documents}
        for row in self._rows("values"):
            owner_type = row["owner_type"] or "case"
            if owner_type not in owners:
                raise self._fail(row, "owner_type", f"unknown owner type {owner_type!r}", hint="case or source")
            owner = self.obj(row, "owner", owners[owner_type])
            variable = self.ref(row, "variable", self.variables, required=True)
            known = self.variables.guid(variable)
            type_ = row["type"] or (known.type if known else "Text")
            owner.variable_values.append(VariableValue(variable, type_, parse_cell_value(type_, row["value"])))

    def _sets(self) -> None:
        for row in self._rows("sets"):
            group = Set(_guid(row), self.required(row, "name"), row["description"])
            self.project.sets.append(group)
            self.sets.add(group.guid, group, group.name)

    def _set_members(self) -> None:
        for row in self._rows("set_members"):
            group = self.obj(row, "set", self.sets)
            kind, member = self._member(row, {"code": self.codes, "source": self.documents, "note": self.documents})
            members = {"code": group.member_codes, "source": group.member_sources, "note": group.member_notes}
            members[kind].append(member)

    def _links(self) -> None:
        for row in self._rows("links"):
            link = Link(_guid(row), row["name"], row["direction"], row["color"], row["origin"],
                        row["target"])
            self.project.links.append(link)
            self.links.add(link.guid, link)

    def _graphs(self) -> None:
        for row in self._rows("graphs"):
            graph = Graph(_guid(row), row["name"])
            self.project.graphs.append(graph)
            self.graphs.add(graph.guid, graph, graph.name)

    def _vertices(self) -> None:
        for row in self._rows("vertices"):
            graph = self.obj(row, "graph", self.graphs)
            graph.vertices.append(Vertex(
                _guid(row), row["first_x"] or 0, row["first_y"] or 0, row["second_x"],
                row["second_y"], row["represented"], row["name"], row["shape"], row["color"]))

    def _edges(self) -> None:
        for row in self._rows("edges"):
            graph = self.obj(row, "graph", self.graphs)
            graph.edges.append(Edge(
                _guid(row), self.required(row, "source_vertex"), self.required(row, "target_vertex"),
                row["represented"], row["name"], row["color"], row["direction"], row["line_style"]))

    def _note_links(self) -> None:
        notes = Index("note")
        for note in self.project.notes:
            notes.add(note.guid, note, note.name)
        for row in self._rows("note_links"):
            owner = self._note_owner(row)
            owner.note_refs.append(self.ref(row, "note", notes, required=True))

    def _note_owner(self, row: Row) -> Any:
        owner_type = row["owner_type"] or "project"
        if owner_type == "project":
            return self.project
        simple = {"code": self.codes, "source": self.documents, "link": self.links}
        if owner_type in simple:
            return self.obj(row, "owner", simple[owner_type])
        source = self.obj(row, "source", self.documents) if row["source"] is not None else None
        if owner_type == "selection":
            return self._selection_of(row, "owner", source)
        if owner_type == "coding":
            text = self.required(row, "owner")
            found = (self.codings.get((id(source), guid_key(row["selection"]), guid_key(text)))
                     or self.any_coding.guid(text))
            if found is None:
                raise self._fail(row, "owner", f"no coding has the GUID {text!r}")
            return found
        raise self._fail(row, "owner_type", f"unknown owner type {owner_type!r}",
                         hint="project, code, source, selection, coding or link")


def _guid(row: Row) -> str:
    """The row's GUID, or a new one for a row added without."""
    guid = row["guid"]
    return guid if guid is not None else new_guid()


def build_project(reader: TableReader) -> Project:
    """The project the reader's tables describe."""
    return Builder(reader).build()
