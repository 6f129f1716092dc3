"""Reading a Taguette database into the model: projects, documents, tags, highlights, members.

One project (the only one, or the one `project=ID or name` picks) becomes the study itself. A database
holding several projects (Taguette's own workspace file) becomes one study in which each Taguette
project is a set holding its documents and its tags; tags with the same path in several projects are
one code. Tag paths are split into a code tree at `separator` (` > ` by default, `none` keeps tags
flat); a parent that is not a tag of its own is a theme (not codable). Highlight offsets count UTF-8
bytes of the document's text and are mapped exactly to code points. Who added a highlight or a
document, and when, comes from Taguette's command history. GUIDs derive from Taguette's ids, so two
reads give the same GUIDs; the ids themselves are kept in `native`.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.issues import info, warning
from qdaconv.model import Blob, Code, Coding, Project, Selection, Set, Source, User, stable_guid
from qdaconv.positions import PositionMap
from qdaconv.sqlite import table_names

from .database import open_readonly
from .html import document_text, snippet_words

PROGRAM = "taguette"
DEFAULT_SEPARATOR = " > "
EXCERPT_WORDS = 6


def separator_of(value: Any) -> str | None:
    """The tag path separator an option names; None for flat tags."""
    if value is None:
        return DEFAULT_SEPARATOR
    text = str(value)
    return None if text.strip().lower() in ("", "none") else text


def split_path(path: str, separator: str | None) -> tuple[str, ...]:
    if separator is None:
        return (path.strip(),) if path.strip() else ()
    return tuple(part.strip() for part in path.split(separator) if part.strip())


def excerpt_name(text: str) -> str | None:
    """A highlight's name in the model: its first six words, with an ellipsis when there are more."""
    words = text.split()
    if not words:
        return None
    return " ".join(words[:EXCERPT_WORDS]) + ("…" if len(words) > EXCERPT_WORDS else "")


def parse_date(value: Any) -> datetime | None:
    """Taguette's dates: naive UTC text as SQLAlchemy stores it."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(slots=True)
class _TaguetteProject:
    id: int
    name: str
    description: str
    created: datetime | None

    @property
    def scope(self) -> tuple[Any, ...]:
        """What makes this project's ids unique, in GUIDs: its id and creation time."""
        return ("project", self.id, self.created.isoformat() if self.created else "")


@dataclass(slots=True)
class _Reading:
    path: Path
    separator: str | None
    project: Project = field(default_factory=Project)
    codes: dict[tuple[str, ...], Code] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def warn(self, rule: str, message: str, place: str | None = None, hint: str | None = None) -> None:
        self.project.warnings.append(warning(rule, message, place, hint, file=str(self.path)))

    def user(self, login: str | None) -> str | None:
        if not login:
            return None
        user = self.users.get(login)
        if user is None:
            user = self.users[login] = User(stable_guid(PROGRAM, "user", login), name=login, id=login)
            self.project.users.append(user)
        return user.guid

    def code(self, path: tuple[str, ...], guid: str) -> Code:
        code = self.codes.get(path)
        if code is None:
            siblings = self.project.codes if len(path) == 1 else self.code(
                path[:-1], stable_guid(PROGRAM, "path", *path[:-1])).children
            code = Code(guid, path[-1], codable=False)
            siblings.append(code)
            self.codes[path] = code
        return code


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def _pick(path: Path, projects: list[_TaguetteProject], wanted: Any) -> list[_TaguetteProject]:
    if wanted is None or str(wanted).strip() == "":
        return projects
    text = str(wanted).strip()
    chosen = [p for p in projects if text.isdigit() and p.id == int(text)] or [p for p in projects if p.name == text]
    chosen = chosen or [p for p in projects if p.name.casefold() == text.casefold()]
    if len(chosen) != 1:
        listing = "; ".join(f"{p.id}: {p.name}" for p in projects[:10]) or "none"
        what = "no project" if not chosen else f"{len(chosen)} projects"
        raise ReadError(path, f"{what} with the id or name {text!r} in the database (projects: {listing})",
                        hint="pass --option project=ID with one of the ids listed")
    return chosen


def _history(connection: sqlite3.Connection, tables: set[str], project_ids: list[int]
             ) -> tuple[dict[int, tuple[str, datetime | None]], dict[int, tuple[str, datetime | None]]]:
    """Who added each highlight and each document, and when (the last such command wins)."""
    highlights: dict[int, tuple[str, datetime | None]] = {}
    documents: dict[int, tuple[str, datetime | None]] = {}
    if "commands" not in tables or not {"payload", "user_login", "date"} <= _columns(connection, "commands"):
        return highlights, documents
    marks = ",".join("?" * len(project_ids))
    rows = connection.execute(f"SELECT date, user_login, document_id, payload FROM commands "
                              f"WHERE project_id IN ({marks}) ORDER BY id", project_ids)
    for date, login, document_id, payload in rows:
        try:
            data = json.loads(payload)
        except (TypeError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        if data.get("type") == "highlight_add" and isinstance(data.get("highlight_id"), int):
            highlights[data["highlight_id"]] = (login, parse_date(date))
        elif data.get("type") == "document_add" and isinstance(document_id, int):
            documents[document_id] = (login, parse_date(date))
    return highlights, documents


def read_database(path: Path, project: Any = None, separator: Any = DEFAULT_SEPARATOR) -> Project:
    """The Taguette database at `path` as a Project (see the module's docstring)."""
    path = Path(path)
    reading = _Reading(path, separator_of(separator))
    with open_readonly(path) as connection:
        try:
            _read(connection, reading, project)
        except sqlite3.Error as exc:
            raise ReadError(path, f"the database could not be read ({exc})",
                            hint="export the project again from Taguette") from None
    return reading.project


def _read(connection: sqlite3.Connection, reading: _Reading, wanted: Any) -> None:
    tables = table_names(connection)
    path = reading.path
    projects = [_TaguetteProject(row[0], row[1] or "", row[2] or "", parse_date(row[3]))
                for row in connection.execute("SELECT id, name, description, created FROM projects ORDER BY id")]
    if not projects:
        raise ReadError(path, "the Taguette database holds no project", hint="export a project from Taguette")
    chosen = _pick(path, projects, wanted)
    revision = None
    if "alembic_version" in tables:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    model = reading.project
    model.origin = "Taguette" + (f" (database revision {revision})" if revision else "")
    if len(chosen) == 1:
        model.name = chosen[0].name or path.stem
        model.description = chosen[0].description or None
        model.created = chosen[0].created
    else:
        model.name = path.stem
        model.warnings.append(info("TAGUETTE-PROJECTS", f"{len(chosen)} Taguette projects read together, each as a "
                                   "set of its documents and tags", hint="pass --option project=ID to read one project",
                                   file=str(path)))
    model.native = {"program": PROGRAM, "revision": revision, "projects": [p.id for p in chosen]}
    ids = [p.id for p in chosen]
    marks = ",".join("?" * len(ids))
    if "project_members" in tables:
        for project_id, login, privileges in connection.execute(
                f"SELECT project_id, user_login, privileges FROM project_members WHERE project_id IN ({marks}) "
                "ORDER BY project_id, user_login", ids):
            guid = reading.user(login)
            user = next(u for u in model.users if u.guid == guid)
            user.native = (user.native or {"program": PROGRAM, "privileges": {}})
            user.native["privileges"][project_id] = privileges
    highlight_history, document_history = _history(connection, tables, ids)
    by_id = {p.id: p for p in chosen}
    groups = {p.id: Set(stable_guid(PROGRAM, *p.scope), p.name or f"project {p.id}", p.description or None,
                        native={"program": PROGRAM, "project_id": p.id}) for p in chosen}
    tag_codes = _read_tags(connection, reading, by_id, groups, marks, ids)
    documents = _read_documents(connection, reading, by_id, groups, marks, ids, document_history)
    _read_highlights(connection, reading, documents, tag_codes, highlight_history)
    if len(chosen) > 1:
        model.sets.extend(groups.values())


def _read_tags(connection: sqlite3.Connection, reading: _Reading, projects: dict[int, _TaguetteProject],
               groups: dict[int, Set], marks: str, ids: list[int]) -> dict[int, Code]:
    tag_codes: dict[int, Code] = {}
    merged = 0
    for tag_id, project_id, tag_path, description in connection.execute(
            f"SELECT id, project_id, path, description FROM tags WHERE project_id IN ({marks}) ORDER BY id", ids):
        parts = split_path(tag_path or "", reading.separator) or (f"tag {tag_id}",)
        code = reading.code(parts, stable_guid(PROGRAM, *projects[project_id].scope, "tag", tag_id))
        if code.native is not None:
            merged += 1
        code.codable = True
        if description and not code.description:
            code.description = description
        native = code.native or {"program": PROGRAM, "tags": []}
        native["tags"].append({"project_id": project_id, "tag_id": tag_id, "path": tag_path})
        code.native = native
        tag_codes[tag_id] = code
        if code.guid not in groups[project_id].member_codes:
            groups[project_id].member_codes.append(code.guid)
    if merged and len(projects) == 1:
        reading.warn("TAGUETTE-TAG-MERGED", f"{merged} tag(s) have the same path as another once split at "
                     f"{reading.separator!r}; each pair is one code", hint="pass --option separator=none for flat tags")
    return tag_codes


@dataclass(slots=True)
class _Document:
    source: Source
    text: str
    offsets: PositionMap  # code points <-> UTF-8 bytes


def _read_documents(connection: sqlite3.Connection, reading: _Reading, projects: dict[int, _TaguetteProject],
                    groups: dict[int, Set], marks: str, ids: list[int],
                    history: dict[int, tuple[str, datetime | None]]) -> dict[int, _Document]:
    direction = "text_direction" if "text_direction" in _columns(connection, "documents") else "NULL"
    documents: dict[int, _Document] = {}
    rows = connection.execute(
        f"SELECT id, project_id, name, description, filename, created, {direction}, contents FROM documents "
        f"WHERE project_id IN ({marks}) ORDER BY project_id, id", ids)
    for document_id, project_id, name, description, filename, created, text_direction, contents in rows:
        text = document_text(contents or "")
        login, added = history.get(document_id, (None, None))
        guid = stable_guid(PROGRAM, *projects[project_id].scope, "document", document_id)
        source = Source(guid, "Text", name=name or f"document {document_id}", description=description or None,
                        creating_user=reading.user(login), created=parse_date(created) or added)
        if text.startswith("\ufeff"):  # a text file's BOM would be dropped; keep the character
            source.plain_text = text
        else:  # the text as a UTF-8 file, as text sources are held in a project
            source.plain_text_path = f"internal://{guid}.txt"
            source.plain_file = Blob(f"{guid}.txt", data=text.encode("utf-8"))
        source.native = {"program": PROGRAM, "project_id": project_id, "document_id": document_id,
                         "filename": filename, "text_direction": text_direction or "LEFT_TO_RIGHT"}
        reading.project.sources.append(source)
        groups[project_id].member_sources.append(source.guid)
        documents[document_id] = _Document(source, text, PositionMap(text, "utf8"))
    return documents


def _read_highlights(connection: sqlite3.Connection, reading: _Reading, documents: dict[int, _Document],
                     tag_codes: dict[int, Code], history: dict[int, tuple[str, datetime | None]]) -> None:
    tags_of: dict[int, list[int]] = defaultdict(list)
    for highlight_id, tag_id in connection.execute("SELECT highlight_id, tag_id FROM highlight_tags "
                                                   "ORDER BY highlight_id, tag_id"):
        tags_of[highlight_id].append(tag_id)
    outside = mismatched = 0
    first_mismatch = None
    rows = connection.execute("SELECT id, document_id, start_offset, end_offset, snippet FROM highlights "
                              "ORDER BY document_id, start_offset, id")
    for highlight_id, document_id, start_offset, end_offset, snippet in rows:
        document = documents.get(document_id)
        if document is None:
            continue
        source, offsets = document.source, document.offsets
        start_offset, end_offset = int(start_offset or 0), int(end_offset or 0)
        if not 0 <= start_offset <= end_offset <= offsets.unit_length:
            outside += 1
        # inside a character, a position moves past it (as Taguette's split_utf8 does)
        start, end = (offsets.to_codepoint(max(0, min(offset, offsets.unit_length)))
                      for offset in (start_offset, end_offset))
        start, end = min(start, end), max(start, end)
        text = document.text[start:end]
        if snippet and snippet_words(snippet) != "".join(text.split()):
            mismatched += 1
            first_mismatch = first_mismatch or f"highlight {highlight_id} in {source.name!r}"
        login, added = history.get(highlight_id, (None, None))
        user = reading.user(login)
        scope = source.guid
        selection = Selection(stable_guid(PROGRAM, scope, "highlight", highlight_id), "PlainText",
                              name=excerpt_name(text), start=start, end=end, creating_user=user, created=added)
        selection.native = {"program": PROGRAM, "highlight_id": highlight_id, "start_offset": start_offset,
                            "end_offset": end_offset}
        for tag_id in tags_of.get(highlight_id, []):
            code = tag_codes.get(tag_id)
            if code is not None:
                selection.codings.append(Coding(stable_guid(PROGRAM, scope, "highlight", highlight_id, "tag", tag_id),
                                                code.guid, user, added))
        source.selections.append(selection)
    if outside:
        reading.warn("TAGUETTE-OFFSET", f"{outside} highlight(s) reach past the end of their document's text; "
                     "they are cut at its end", hint="the document was changed after it was highlighted")
    if mismatched:
        reading.warn("TAGUETTE-SNIPPET", f"{mismatched} highlight(s) store a snippet that is not the text at their "
                     f"offsets (first: {first_mismatch}); the offsets are used",
                     hint="check these highlights in Taguette")
